"""Schedules optimised without model calls: DMN and HSO, two baselines that minimise a closed-form
error proxy of the schedule alone (no denoiser evaluation, seconds on a CPU).

Both work in lambda = -ln sigma (EDM sigma), which is the VP half-log-SNR ln(alpha / sigma_VP) with
alpha = 1 / sqrt(1 + sigma^2) and sigma_VP = sigma / sqrt(1 + sigma^2). The end points lambda_T =
-ln sigma_max and lambda_eps = -ln sigma_min stay fixed; the K - 1 interior lambdas are optimised.

DMN (Xue et al., CVPR 2024; code scxue/DM-NonUniform, ``step_optim.py``): a bound on the global
error of a multistep data-prediction exponential solver (DPM-Solver++ / UniPC type) whose step s
goes from lambda_s to lambda_s+1 with k = min(order, s + 1, K - s) nodes (orders 1, 2, 3, ..., 3, 2, 1
for order 3). In x / sigma_VP the step adds int e^lambda x0_hat(lambda) d lambda, x0_hat the
Lagrange polynomial through the data predictions at the k nodes, so the data-prediction error at
node j enters with the weight::

    J_sj = int_{lambda_s}^{lambda_s+1} e^lambda l_j(lambda) d lambda
         = e^{lambda_s} sum_m c_jm H_m(h_s),    H_m(h) = int_0^h e^u u^m du,

c_jm the coefficients of the Lagrange basis l_j in u = lambda - lambda_s. Node j's error is taken to
be the proxy e_j = sigma_VP / alpha (= sigma; the maintainer's choice for pixel and EDM models) or
sigma_VP^2 / alpha (the code's default). The first ``trunc`` steps (default 3 for K <= 7, else 0,
the code's comment) and the one-node steps add sqrt(sum_j (e_j J_sj)^2); the others add e_j J_sj
signed into one coefficient per node, whose absolute values are summed.
Minimised by scipy's trust-constr under the linear constraints lambda_T <= lambda_1 <= ... <=
lambda_eps, from a uniform-lambda start, as the authors'.

HSO (Zhu et al., AAAI 2026, arXiv 2511.11688; code chappy0/HSO, ``stages_step_optim.py``): the
Midpoint Error Proxy MEP = sum_i eps(lambda_mid_i) (e^{lambda_i+1} - e^{lambda_i}), eps = sigma_VP^p
/ alpha, lambda_mid_i the interval midpoints, minimised over the interior lambdas by trust-constr
(80 iterations from an EDM-rho schedule; the objective sorts its argument, and a run that does not
converge falls back to its start, as the authors'), under a differential evolution over rho in
[3, 16] (the authors' settings: 60 generations, population 20, tol 0.01, fixed seed) whose fitness
adds the spacing penalty 10^9 sum_i max(0, d_min - (t_i - t_i+1))^2 to the MEP of the lower level's
result, d_min going linearly from 0.15 at K = 4 to 0.01 at K = 20 (clipped).

What we had to choose for HSO (the authors do not say how to move off Stable Diffusion 2.1):

- Time of the spacing penalty. The authors' t is SD2.1's discrete VP time (n + 1) / 1000 in
  [0.001, 1]. Here t is trajreg's VP time in [0.001, 1] (``schedules.vp_fit`` with eps_s = 0.001
  through sigma_min and sigma_max, the map of the "uniform" schedule): the same interval end to end,
  so the thresholds are used unchanged.
- End points. The authors' upper level also searches the ends, eps in [0.01, 0.03] and t_max in
  [0.96, 1] (VP time). They stay at sigma_min and sigma_max here. A trajreg schedule runs from
  sigma_max to sigma_min (the sample is the state at sigma_min), and the MEP measures the
  discretisation inside [sigma_eps, sigma_T] only: it has no term for the error of starting below
  sigma_max or stopping above sigma_min, so it cannot weigh where to start or stop. Through the VP
  time above, the authors' bounds would start at sigma 57 to 80 and stop at sigma 0.029 to 0.088
  (14 to 44 times sigma_min). So the upper level searches rho alone. With the ends fixed, the lower
  level reaches the same MEP minimum (to 0.00003 in lambda) from every rho in [3, 16] it converges
  from (all but a few at K = 12, in our checks over K = 3 to 12), so rho only decides among runs
  that agree to the optimiser's tolerance and avoids those that fall back to their start.
- Gradient. The lower level's gradient is exact (``_mep_grad``), where the authors take finite
  differences; the minimum is the same.
"""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
import torch
from scipy.optimize import LinearConstraint, differential_evolution, minimize

from trajreg import _validate, schedules
from trajreg.schedules import SIGMA_MAX, SIGMA_MIN

__all__ = ["DMN_INITS", "PROXIES", "dmn", "dmn_objective", "hso", "hso_fitness", "mep",
           "spacing_penalty"]

PROXIES = ("sigma/alpha", "sigma^2/alpha")
DMN_INITS = {"unif": ("logsnr", {}), "unif_t": ("time_uniform", {}),
             "edm": ("polynomial", {"rho": 7.0}), "quad": ("time_uniform", {"rho": 2.0})}
HSO_RHO = (3.0, 16.0)          # the upper level's bounds on rho
HSO_EPS_S = 1e-3               # VP time of sigma_min in the spacing penalty (SD2.1: t = 1/1000)


def _check(K: int, sigma_min: float, sigma_max: float) -> None:
    if isinstance(K, bool) or not isinstance(K, Integral) or K < 1:
        raise ValueError(f"K must be an integer number of steps >= 1, got {K!r}")
    schedules.check_range(sigma_min, sigma_max)


def _sigmas(lam: np.ndarray, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Ascending lambdas (K + 1) -> descending float64 sigmas with the exact end points."""
    s = torch.from_numpy(np.exp(-np.asarray(lam, dtype=np.float64)))
    s[0], s[-1] = sigma_max, sigma_min
    if not bool((s[1:] < s[:-1]).all()):
        raise RuntimeError(f"the optimised schedule is not strictly decreasing: {s.tolist()}")
    return s


def _weights(lam: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """(W, k): W[s, j] = J of node s - 2 + j in step s (0 where unused), k[s] the step's nodes.

    With H_m = int_0^h e^u u^m du and the nodes at u = a, b, 0 (a = lambda_s-2 - lambda_s,
    b = lambda_s-1 - lambda_s), the Lagrange bases integrate to: one node, H_0; two nodes,
    H_1 / b and H_0 - H_1 / b; three, (H_2 - b H_1) / (a (a - b)), (H_2 - a H_1) / (b (b - a)) and
    (a b H_0 - (a + b) H_1 + H_2) / (a b); each times e^{lambda_s}.
    """
    K = len(lam) - 1
    h = np.diff(lam)
    H0 = np.expm1(h)
    H1 = np.exp(h) * h - H0
    H2 = np.exp(h) * h * h - 2 * H1
    k = np.minimum(np.minimum(order, np.arange(1, K + 1)), np.arange(K, 0, -1))
    b = -np.concatenate([[1.0], h[:-1]])                 # placeholders where a step has no such node
    a = b - np.concatenate([[1.0, 1.0], h[:-2]])[:K]
    W = np.zeros((K, 3))
    W[:, 2] = np.where(k == 1, H0, np.where(k == 2, H0 - H1 / b, (a * b * H0 - (a + b) * H1 + H2) / (a * b)))
    W[:, 1] = np.where(k == 2, H1 / b, np.where(k == 3, (H2 - a * H1) / (b * (b - a)), 0.0))
    W[:, 0] = np.where(k == 3, (H2 - b * H1) / (a * (a - b)), 0.0)
    return W * np.exp(lam[:-1])[:, None], k


def _proxy(lam: np.ndarray, p: float) -> np.ndarray:
    """sigma_VP^p / alpha at lambda = -ln sigma: sigma^p (1 + sigma^2)^((1 - p) / 2)."""
    sigma = np.exp(-lam)
    return sigma**p * (1 + sigma**2) ** ((1 - p) / 2)


def _dmn_args(K: int, order: int, proxy: str, trunc: int | None) -> tuple[int, int]:
    """Checked DMN options: (proxy's power of sigma_VP, trunc with its default)."""
    _validate.choice("order", order, (1, 2, 3))
    _validate.choice("proxy", proxy, PROXIES)
    if trunc is None:
        trunc = 3 if K <= 7 else 0            # the authors' comment: 3 for NFE <= 7, else 0
    if isinstance(trunc, bool) or not isinstance(trunc, Integral) or trunc < 0:
        raise ValueError(f"trunc must be an integer >= 0 (steps with root-sum-square terms), got {trunc!r}")
    return PROXIES.index(proxy) + 1, int(trunc)


def dmn_objective(sigmas: torch.Tensor, *, order: int = 3, proxy: str = "sigma/alpha",
                  trunc: int | None = None) -> float:
    """DMN's error bound (Xue et al., CVPR 2024; ``sel_lambdas_lof_obj``) of K + 1 descending sigmas."""
    s = _validate.sigmas(sigmas).to(torch.float64)
    if not s[-1] > 0:
        raise ValueError("sigmas must end at a sigma > 0")
    p, trunc = _dmn_args(len(s) - 1, order, proxy, trunc)
    return _dmn_bound(-np.log(s.numpy()), order, p, trunc)


def _dmn_bound(lam: np.ndarray, order: int, p: int, trunc: int) -> float:
    K = len(lam) - 1
    W, k = _weights(lam, order)
    err = np.concatenate([[0.0, 0.0], _proxy(lam[:-1], p)])
    T = W * np.stack([err[:-2], err[1:-1], err[2:]], axis=1)          # T[s, j]: node s - 2 + j
    alone = (k == 1) | (np.arange(K) < trunc)    # one-node steps: |e J| on their own, as the authors'
    S = np.where(alone[:, None], 0.0, T)
    c = np.zeros(K + 2)
    c[:-2] += S[:, 0]
    c[1:-1] += S[:, 1]
    c[2:] += S[:, 2]
    return float(np.sqrt((T[alone] ** 2).sum(axis=1)).sum() + np.abs(c).sum())


def dmn(K: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX, *, order: int = 3,
        proxy: str = "sigma/alpha", trunc: int | None = None, init: str = "unif") -> torch.Tensor:
    """DMN schedule (Xue et al., CVPR 2024): K + 1 sigmas minimising ``dmn_objective`` (module doc)."""
    _check(K, sigma_min, sigma_max)
    p, trunc = _dmn_args(K, order, proxy, trunc)
    _validate.choice("init", init, DMN_INITS)
    name, kw = DMN_INITS[init]
    lam0 = -np.log(schedules.get(name, K + 1, sigma_min=sigma_min, sigma_max=sigma_max, **kw).numpy())
    if K == 1:
        return _sigmas(lam0, sigma_min, sigma_max)
    lo, hi = lam0[0], lam0[-1]

    def f(x: np.ndarray) -> float:
        return _dmn_bound(np.concatenate([[lo], x, [hi]]), order, p, trunc)

    # rows: x_0 >= lo, x_i - x_i-1 >= 0, -x_K-2 >= -hi
    A = np.eye(K, K - 1) - np.eye(K, K - 1, k=-1)
    b = np.zeros(K)
    b[0], b[-1] = lo, -hi
    with warnings.catch_warnings():          # BFGS skips an update where the bound is flat: harmless
        warnings.filterwarnings("ignore", "delta_grad == 0.0", UserWarning)
        res = minimize(f, lam0[1:-1], method="trust-constr", constraints=[LinearConstraint(A, b, np.inf)])
    return _sigmas(np.concatenate([[lo], res.x, [hi]]), sigma_min, sigma_max)


def mep(sigmas: torch.Tensor, p: float = 2.0) -> float:
    """HSO's Midpoint Error Proxy (Zhu et al., AAAI 2026): sum_i eps(mid_i) (e^lambda_i+1 - e^lambda_i)."""
    s = _validate.sigmas(sigmas).to(torch.float64)
    if not s[-1] > 0:
        raise ValueError("sigmas must end at a sigma > 0")
    return _mep(np.sort(-np.log(s.numpy())), p)


def _mep(lam: np.ndarray, p: float) -> float:
    return float(np.sum(_proxy((lam[1:] + lam[:-1]) / 2, p) * np.diff(np.exp(lam))))


def _mep_grad(lam: np.ndarray, p: float) -> np.ndarray:
    """d MEP / d lambda (ascending lambdas); d ln eps / d lambda = -p + (p - 1) sigma^2 / (1 + sigma^2)."""
    mid = (lam[1:] + lam[:-1]) / 2
    s2 = np.exp(-2 * mid)
    eps = _proxy(mid, p)
    deps = eps * (-p + (p - 1) * s2 / (1 + s2))
    e = np.exp(lam)
    de = np.diff(e)
    G = np.zeros_like(lam)
    G[1:] += deps / 2 * de + eps * e[1:]
    G[:-1] += deps / 2 * de - eps * e[:-1]
    return G


def _d_min(K: int) -> float:
    """HSO's minimum spacing in VP time: 0.15 at K = 4 down to 0.01 at K = 20, clipped."""
    return float(np.clip(0.15 + (0.01 - 0.15) / 16 * (K - 4), 0.01, 0.15))


def spacing_penalty(sigmas: torch.Tensor) -> float:
    """HSO's spacing penalty 10^9 sum_i max(0, d_min(K) - (t_i - t_i+1))^2, t the VP time (module doc)."""
    s = _validate.sigmas(sigmas).to(torch.float64)
    t = schedules.vp_t(s, *schedules.vp_fit(float(s[-1]), float(s[0]), HSO_EPS_S))
    gaps = (t[:-1] - t[1:]).numpy()
    return float(1e9 * np.sum(np.maximum(0.0, _d_min(len(s) - 1) - gaps) ** 2))


def hso_fitness(sigmas: torch.Tensor, p: float = 2.0) -> float:
    """HSO's Spacing-Penalized Fitness of a schedule: ``mep`` + ``spacing_penalty``."""
    return mep(sigmas, p) + spacing_penalty(sigmas)


def _hso_lower(K: int, rho: float, sigma_min: float, sigma_max: float, p: float) -> np.ndarray:
    """HSO's lower level: trust-constr on the MEP from the EDM-rho schedule; ascending lambdas."""
    lam0 = -np.log(schedules.polynomial(K + 1, sigma_min, sigma_max, rho).numpy())
    if K == 1:
        return lam0
    lo, hi = lam0[0], lam0[-1]

    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        full = np.concatenate([[lo], x, [hi]])
        order = np.argsort(full)               # the authors' objective sorts its argument
        lam = full[order]
        if np.any(np.diff(lam) <= 0):
            return 1e12, np.zeros_like(x)      # coincident points, as the authors'
        G = np.empty_like(full)
        G[order] = _mep_grad(lam, p)
        return _mep(lam, p), G[1:-1]

    # the exact gradient where the authors take finite differences (relative step 1e-7)
    res = minimize(f, lam0[1:-1], jac=True, method="trust-constr",
                   options={"maxiter": 80, "xtol": 1e-6, "gtol": 1e-6})
    x = res.x if res.success else lam0[1:-1]
    return np.sort(np.concatenate([[lo], x, [hi]]))


def hso(K: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX, *, p: float = 2.0,
        seed: int = 0) -> torch.Tensor:
    """HSO schedule (Zhu et al., AAAI 2026): the bi-level MEP search with the ends fixed (module doc)."""
    _check(K, sigma_min, sigma_max)
    _validate.positive("p", p)
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    schedules.vp_fit(sigma_min, sigma_max, HSO_EPS_S)      # the spacing penalty's time map exists

    def fitness(x: np.ndarray) -> float:
        lam = _hso_lower(K, float(x[0]), sigma_min, sigma_max, p)
        if np.any(np.diff(lam) <= 0):
            return 1e12
        return hso_fitness(_sigmas(lam, sigma_min, sigma_max), p)

    best = differential_evolution(fitness, [HSO_RHO], maxiter=60, popsize=20, tol=0.01,
                                  updating="deferred", rng=seed)
    return _sigmas(_hso_lower(K, float(best.x[0]), sigma_min, sigma_max, p), sigma_min, sigma_max)
