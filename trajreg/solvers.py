"""ODE solvers for the probability-flow ODE dx/dsigma = (x - D(x, sigma)) / sigma.

Every solver has the shape ``solver(denoiser, x, sigmas, *, callback=None) -> x`` (k-diffusion
style): x (B, *dims) starts at sigmas[0] scale and the state at sigmas[-1] is returned. The
denoiser is called with sigma as a 0-d tensor of the dtype and device of x. Before step i the
callback receives ``{"i", "sigma", "sigma_next", "x", "denoised"}``: the state x_i at sigmas[i] and
the denoiser output used for the step, as the denoiser returned it (before the dynamic
thresholding that ``dpmpp_3m`` and ``unipc`` apply, as the GITS authors' code does, to models
whose data lie in [-1, 1]: ``thresholds``).
Step coefficients are computed in float64 from the schedule; the stepping math runs in the dtype
of x.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from trajreg import _validate, schedules

__all__ = ["SOLVERS", "THRESHOLD_MAX", "THRESHOLD_RATIO", "Callback", "Denoiser", "data_range", "deis",
           "deis_coefficients", "dpm2", "dpm_2m_eps", "dpmpp_2m", "dpmpp_3m", "dynamic_threshold",
           "euler", "get", "heun", "ipndm", "nfe", "res_m", "thresholds", "to_d", "unipc",
           "without_thresholding"]

Denoiser = Callable[[torch.Tensor, Any], torch.Tensor]
Callback = Callable[[dict[str, Any]], None]

# Adams-Bashforth coefficients for equal steps, newest derivative first (iPNDM).
AB = {1: (1.0,), 2: (3 / 2, -1 / 2), 3: (23 / 12, -16 / 12, 5 / 12),
      4: (55 / 24, -59 / 24, 37 / 24, -9 / 24)}
# Dynamic thresholding of the authors' code (``solver_utils.dynamic_thresholding_fn``, from
# DPM-Solver): the 99.5 % quantile of |D| per sample, floored at 1.
THRESHOLD_RATIO = 0.995
THRESHOLD_MAX = 1.0


def to_d(x: torch.Tensor, sigma: Any, denoised: torch.Tensor) -> torch.Tensor:
    """The PF-ODE field d = (x - D(x, sigma)) / sigma (EDM eq. 3 with s(t) = 1, sigma(t) = t)."""
    return (x - denoised) / sigma


def dynamic_threshold(denoised: torch.Tensor, ratio: float = THRESHOLD_RATIO,
                      max_val: float = THRESHOLD_MAX) -> torch.Tensor:
    """Dynamic thresholding (Saharia et al., 2022) as in the GITS authors' code: per sample,
    s = max(quantile(|D|, ratio), max_val) over all coordinates, D -> clamp(D, -s, s) / s.

    A no-op for samples with |D| <= max_val everywhere (s = max_val = 1); otherwise values are
    clipped at s and the whole sample is scaled by 1 / s. torch.quantile's linear interpolation.
    """
    flat = denoised.abs().reshape(denoised.shape[0], -1)
    s = torch.quantile(flat, ratio, dim=1).clamp_min(max_val)
    s = s.reshape(-1, *([1] * (denoised.ndim - 1)))
    return torch.maximum(torch.minimum(denoised, s), -s) / s


def data_range(denoiser: Any) -> tuple[float, float] | None:
    """The (min, max) of the data a denoiser declares in its ``data_range`` attribute, looking
    through wrappers (``.denoiser``, ``.D``); None if none declares one."""
    for _ in range(16):
        r = getattr(denoiser, "data_range", None)
        if r is not None:
            return (float(r[0]), float(r[1]))
        inner = getattr(denoiser, "denoiser", None)
        inner = getattr(denoiser, "D", None) if inner is None else inner
        if inner is None or not callable(inner):
            return None
        denoiser = inner
    return None


def thresholds(denoiser: Any) -> bool:
    """Default of dynamic thresholding: on iff the denoiser's data lie in [-1, 1] (the pixel models
    the authors threshold); off for latents, flow models, unbounded or undeclared data."""
    r = data_range(denoiser)
    return r is not None and r[0] >= -1.0 and r[1] <= 1.0


def _prepare(x: torch.Tensor, sigmas: Any) -> tuple[torch.Tensor, list[float], torch.Tensor]:
    """Validate inputs; return (float64 schedule, its entries as floats, schedule in x's dtype)."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point torch.Tensor, got {type(x).__name__}"
                        + (f" of dtype {x.dtype}" if isinstance(x, torch.Tensor) else ""))
    _validate.finite("x", x)
    sigmas = _validate.sigmas(sigmas).detach().to("cpu", torch.float64)
    return sigmas, sigmas.tolist(), sigmas.to(x.device, x.dtype)


def _report(callback: Callback | None, i: int, sigmas: torch.Tensor, x: torch.Tensor,
            denoised: torch.Tensor) -> None:
    if callback is not None:
        callback({"i": i, "sigma": sigmas[i], "sigma_next": sigmas[i + 1], "x": x,
                  "denoised": denoised})


def _order(i: int, n_steps: int, max_order: int, lower_order_final: bool, t_next: float) -> int:
    """Multistep order at step i: warm up with i+1, optionally lower towards the end, 1 into 0."""
    order = min(max_order, i + 1)
    if lower_order_final:
        order = min(order, n_steps - i)
    return 1 if t_next == 0 else order


def euler(denoiser: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, *,
          callback: Callback | None = None) -> torch.Tensor:
    """Euler's method in sigma = deterministic DDIM (Karras et al., 2022, sec. 3)."""
    sigmas, t, s = _prepare(x, sigmas)
    for i in range(len(t) - 1):
        denoised = denoiser(x, s[i])
        _report(callback, i, sigmas, x, denoised)
        x = x + (t[i + 1] - t[i]) * to_d(x, s[i], denoised)
    return x


def heun(denoiser: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, *,
         callback: Callback | None = None) -> torch.Tensor:
    """Heun's 2nd-order method, Algorithm 1 of Karras et al. (2022); Euler into sigma = 0."""
    sigmas, t, s = _prepare(x, sigmas)
    for i in range(len(t) - 1):
        denoised = denoiser(x, s[i])
        _report(callback, i, sigmas, x, denoised)
        # Euler step
        d_cur = to_d(x, s[i], denoised)
        x_next = x + (t[i + 1] - t[i]) * d_cur
        # Apply 2nd order correction
        if t[i + 1] > 0:
            d_prime = to_d(x_next, s[i + 1], denoiser(x_next, s[i + 1]))
            x_next = x + (t[i + 1] - t[i]) * (0.5 * d_cur + 0.5 * d_prime)
        x = x_next
    return x


def dpm2(denoiser: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, *, r: float = 0.5,
         callback: Callback | None = None) -> torch.Tensor:
    """DPM-Solver-2 (Lu et al., 2022, Algorithm 1) in sigma, midpoint sigma_i^(1-r) sigma_i+1^r."""
    if not 0 < r <= 1:
        raise ValueError(f"r must lie in (0, 1], got {r!r}")
    sigmas, t, s = _prepare(x, sigmas)
    for i in range(len(t) - 1):
        denoised = denoiser(x, s[i])
        _report(callback, i, sigmas, x, denoised)
        d_cur = to_d(x, s[i], denoised)
        if t[i + 1] == 0:  # Euler step into sigma = 0
            x = x + (t[i + 1] - t[i]) * d_cur
            continue
        # Euler step to the intermediate sigma, then the full step with its slope
        t_mid = t[i] ** (1 - r) * t[i + 1] ** r
        s_mid = s.new_tensor(t_mid)
        x_mid = x + (t_mid - t[i]) * d_cur
        d_mid = to_d(x_mid, s_mid, denoiser(x_mid, s_mid))
        x = x + (t[i + 1] - t[i]) * ((1 / (2 * r)) * d_mid + (1 - 1 / (2 * r)) * d_cur)
    return x


def ipndm(denoiser: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, *, max_order: int = 4,
          callback: Callback | None = None) -> torch.Tensor:
    """iPNDM (Zhang & Chen, 2023): fixed Adams-Bashforth steps in sigma, lower-order warm start."""
    _validate.choice("max_order", max_order, AB)
    sigmas, t, s = _prepare(x, sigmas)
    history: list[torch.Tensor] = []  # previous slopes, newest first
    for i in range(len(t) - 1):
        denoised = denoiser(x, s[i])
        _report(callback, i, sigmas, x, denoised)
        ds = [to_d(x, s[i], denoised), *history]
        x = x + (t[i + 1] - t[i]) * sum(c * d for c, d in zip(AB[len(ds)], ds, strict=True))
        history = ds[: max_order - 1]
    return x


def _dpmpp_multistep(denoiser: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, max_order: int,
                     lower_order_final: bool, callback: Callback | None,
                     thresholding: bool = False) -> torch.Tensor:
    """DPM-Solver++(2M/3M) with data prediction in lambda = -log sigma (Lu et al., 2023, Alg. 2)."""
    sigmas, t, s = _prepare(x, sigmas)
    lam = [-math.log(ti) if ti > 0 else math.inf for ti in t]
    n_steps, Ds = len(t) - 1, []  # Ds: previous (thresholded) denoiser outputs, newest first
    for i in range(n_steps):
        denoised = denoiser(x, s[i])
        _report(callback, i, sigmas, x, denoised)
        Ds = [dynamic_threshold(denoised) if thresholding else denoised, *Ds][:max_order]
        order = _order(i, n_steps, max_order, lower_order_final, t[i + 1])
        h = lam[i + 1] - lam[i]
        phi_1 = math.expm1(-h)
        # 1st order (= DDIM): x_t = (sigma_t / sigma_s) x - phi_1 D_0
        x_next = (t[i + 1] / t[i]) * x - phi_1 * Ds[0]
        if order >= 2:
            r0 = (lam[i] - lam[i - 1]) / h
            D1_0 = (Ds[0] - Ds[1]) / r0
        if order == 2:
            x_next = x_next - 0.5 * phi_1 * D1_0
        elif order == 3:
            r1 = (lam[i - 1] - lam[i - 2]) / h
            D1_1 = (Ds[1] - Ds[2]) / r1
            D1 = D1_0 + (r0 / (r0 + r1)) * (D1_0 - D1_1)
            D2 = (D1_0 - D1_1) / (r0 + r1)
            phi_2 = phi_1 / h + 1
            phi_3 = phi_2 / h - 0.5
            x_next = x_next + phi_2 * D1 - phi_3 * D2
        x = x_next
    return x


def dpmpp_2m(denoiser: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, *,
             lower_order_final: bool = True, thresholding: bool = False,
             callback: Callback | None = None) -> torch.Tensor:
    """DPM-Solver++(2M), Algorithm 2 of Lu et al. (2023), data prediction.

    thresholding: pass every D through ``dynamic_threshold`` (off by default: this is diffusers'
    DPM-Solver++(2M), which the Stable Diffusion pages compare against; the authors' code would
    threshold it, as it does ``dpmpp_3m``).
    """
    return _dpmpp_multistep(denoiser, x, sigmas, 2, lower_order_final, callback, thresholding)


def dpmpp_3m(denoiser: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, *,
             lower_order_final: bool = True, thresholding: bool | None = None,
             callback: Callback | None = None) -> torch.Tensor:
    """DPM-Solver++(3M), the multistep update of Lu et al. (2023)'s code, data prediction.

    As in that code (and k-diffusion, diffusers, the GITS repository), the second difference D2 is
    weighted by phi_3 where a Taylor-exact third-order step needs 2 phi_3, so it converges at second
    order (measured in tests/test_solvers.py), with a smaller error constant than 2M.
    thresholding (default on, as the GITS authors' ``dpm_pp_sampler``): every data prediction D
    passes through ``dynamic_threshold`` before it enters the update.
    """
    if thresholding is None:
        thresholding = thresholds(denoiser)
    return _dpmpp_multistep(denoiser, x, sigmas, 3, lower_order_final, callback, thresholding)


def _unipc_rhos(h: float, rks: list[float], order: int) -> tuple[np.ndarray, np.ndarray]:
    """UniPC-p / UniC weights for B(h) = expm1(-h) (bh2), Zhao et al. (2023), Algorithms 2-3.

    rks: r_k = (lambda_{i-k} - lambda_i) / h, k = 1..order-1. Solves R a = g with R_pk = r_k^(p-1)
    (r_order = 1 for the corrector's new point) and g_p = hh phi_{p+1}(hh) p! / B(h), hh = -h.
    """
    hh = -h
    B_h = math.expm1(hh)
    r = np.array([*rks, 1.0])
    R = np.stack([r**p for p in range(order)])
    g, psi, fact = [], math.expm1(hh) / hh - 1, 1  # psi_p = hh phi_{p+1}(hh)
    for p in range(1, order + 1):
        g.append(psi * fact / B_h)
        fact *= p + 1
        psi = psi / hh - 1 / fact
    g = np.array(g)
    # UniPC's simplified predictor weight 1/2 at order 2; no predictor term at order 1
    rhos_p = np.full(order - 1, 0.5) if order <= 2 else np.linalg.solve(R[:-1, :-1], g[:-1])
    rhos_c = np.array([0.5]) if order == 1 else np.linalg.solve(R, g)
    return rhos_p, rhos_c


def dpm_2m_eps(denoiser: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, *,
               lower_order_final: bool = True, callback: Callback | None = None) -> torch.Tensor:
    """Multistep DPM-Solver of order 2 with noise prediction (Lu et al., 2022), VE form.

    The GITS authors' Stable Diffusion teacher (``dpm_pp`` with ``predict_x0=False``, no
    thresholding): eps_i = (x_i - D_i) / t_i, x_{i+1} = x_i - (t_i - t_{i+1}) (eps_i + (eps_i -
    eps_{i-1}) / (2 r_0)), r_0 = h_{i-1} / h_i, h = log(t_i / t_{i+1}); first order (DDIM) at the
    first and, with lower_order_final, the last step (t phi_1 = t expm1(h) = t_i - t_{i+1}, so a
    step into sigma = 0 is defined).
    """
    sigmas, t, s = _prepare(x, sigmas)
    n_steps, eps_prev = len(t) - 1, None
    for i in range(n_steps):
        denoised = denoiser(x, s[i])
        _report(callback, i, sigmas, x, denoised)
        eps = (x - denoised) / s[i]
        direction = eps
        if _order(i, n_steps, 2, lower_order_final, t[i + 1]) == 2:
            r0 = math.log(t[i - 1] / t[i]) / math.log(t[i] / t[i + 1])
            direction = eps + (eps - eps_prev) / (2 * r0)
        x = x - (t[i] - t[i + 1]) * direction
        eps_prev = eps
    return x


def unipc(denoiser: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, *, max_order: int = 3,
          lower_order_final: bool = True, thresholding: bool | None = None,
          callback: Callback | None = None) -> torch.Tensor:
    """UniPC (Zhao et al., 2023): UniP-p predictor + UniC corrector, bh2, data prediction.

    The corrector reuses the model evaluation at the predicted point, which also serves as the
    next step's D_0 (so the callback's ``denoised`` is taken there); none after the final step.
    thresholding: every data prediction D passes through ``dynamic_threshold`` before it enters the
    update (the GITS authors' ``unipc_sampler`` on pixel data); None (default) follows the model's
    data range (``thresholds``).
    """
    _validate.choice("max_order", max_order, (1, 2, 3))
    if thresholding is None:
        thresholding = thresholds(denoiser)
    sigmas, t, s = _prepare(x, sigmas)
    lam = [-math.log(ti) if ti > 0 else math.inf for ti in t]
    clip = dynamic_threshold if thresholding else (lambda d: d)
    raw = denoiser(x, s[0])                        # the last denoiser output, as the callback sees it
    n_steps, Ds = len(t) - 1, [clip(raw)]          # Ds: (thresholded) outputs, newest first
    for i in range(n_steps):
        _report(callback, i, sigmas, x, raw)
        order = _order(i, n_steps, max_order, lower_order_final, t[i + 1])
        h = lam[i + 1] - lam[i]
        B_h = math.expm1(-h)
        x_base = (t[i + 1] / t[i]) * x - B_h * Ds[0]  # DDIM step; expm1(-h) = B(h) for bh2
        if order == 1 and i == n_steps - 1:
            x = x_base
            break
        rks = [(lam[i - k] - lam[i]) / h for k in range(1, order)]
        D1s = [(Ds[k] - Ds[0]) / rk for k, rk in enumerate(rks, start=1)]
        rhos_p, rhos_c = _unipc_rhos(h, rks, order)
        # Predictor UniP-p
        x_pred = x_base - B_h * sum(float(a) * D for a, D in zip(rhos_p, D1s, strict=True))
        if i == n_steps - 1:
            x = x_pred
            break
        # Corrector UniC with the model evaluated at the predicted point
        raw = denoiser(x_pred, s[i + 1])
        D_new = clip(raw)
        corr = sum(float(a) * D for a, D in zip(rhos_c[:-1], D1s, strict=True))
        x = x_base - B_h * (corr + float(rhos_c[-1]) * (D_new - Ds[0]))
        Ds = [D_new, *Ds][:max_order]
    return x


def deis_coefficients(sigmas: torch.Tensor, max_order: int = 4, eps_s: float = 1e-3,
                      n_quad: int = 64) -> list[list[float]]:
    """DEIS-tAB step weights C_ij = int_{t_i}^{t_{i+1}} (dsigma/dtau) l_j(tau) dtau (Zhang & Chen,
    2023, eq. 14), l_j the Lagrange basis over t_i, t_{i-1}, ..., t_{i-order+1}, order = min(i+1,
    max_order); t is the VP time with sigma(eps_s) = sigmas[-1] and sigma(1) = sigmas[0].

    Evaluated as int_{sigma_i}^{sigma_{i+1}} l_j(t(sigma)) dsigma (the same integral, substituted),
    by ``n_quad``-point Gauss-Legendre: the integrand is smooth in sigma, whereas dsigma/dtau is
    singular where sigma -> 0. Row i lists the weights of d_i, d_{i-1}, ... .
    """
    sigmas = _validate.sigmas(sigmas).detach().to("cpu", torch.float64)
    beta_d, beta_min = schedules.vp_fit(float(sigmas[-1]), float(sigmas[0]), eps_s)
    t = schedules.vp_t(sigmas, beta_d, beta_min).numpy()
    sig = sigmas.numpy()
    nodes, weights = np.polynomial.legendre.leggauss(n_quad)
    C = []
    for i in range(len(sig) - 1):
        half = 0.5 * (sig[i + 1] - sig[i])
        s_q = sig[i] + half * (nodes + 1)
        tau = schedules.vp_t(torch.from_numpy(s_q), beta_d, beta_min).numpy()
        prev = t[i - np.arange(min(i + 1, max_order))]
        row = []
        for j in range(len(prev)):
            ell = np.prod([(tau - prev[k]) / (prev[j] - prev[k])
                           for k in range(len(prev)) if k != j], axis=0)
            row.append(float(half * np.sum(weights * ell)))
        C.append(row)
    return C


def deis(denoiser: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, *, max_order: int = 4,
         eps_s: float = 1e-3, callback: Callback | None = None) -> torch.Tensor:
    """DEIS-tAB (Zhang & Chen, 2023, eq. 14) in VP time; max_order=4 is 'DEIS-tAB3' (cubic).

    The step weights come from ``deis_coefficients`` (64-point Gauss-Legendre in sigma), which is
    more accurate than the authors' code (``get_deis_coeff_list``: a 10,000-point Riemann sum in
    VP time, whose integrand dsigma/dtau grows like 1 / sigma near sigma_min): a deliberate
    difference, measured against an adaptive quadrature in tests/test_solvers.py.
    """
    _validate.choice("max_order", max_order, (1, 2, 3, 4))
    sigmas, t, s = _prepare(x, sigmas)
    C = deis_coefficients(sigmas, max_order, eps_s)
    history: list[torch.Tensor] = []  # previous slopes, newest first
    for i in range(len(t) - 1):
        denoised = denoiser(x, s[i])
        _report(callback, i, sigmas, x, denoised)
        ds = [to_d(x, s[i], denoised), *history]
        x = x + sum(c * d for c, d in zip(C[i], ds, strict=True))
        history = ds[: max_order - 1]
    return x


def res_m(denoiser: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, *,
          callback: Callback | None = None) -> torch.Tensor:
    """RES(M), the multistep refined exponential solver (Zhang, Song, Chen 2023, "2ab"), data prediction.

    With h = log(sigma_i / sigma_i+1), r = h_prev / h: x_i+1 = (sigma_i+1 / sigma_i) x_i + h phi_1(-h) D_i
    + h phi_2(-h) (D_i - D_i-1) / r, i.e. b1 + b2 = phi_1 and b2 c2 = phi_2 (c2 = -r) hold exactly where
    DPM-Solver++(2M) has phi_1 / 2 for phi_2. First step DDIM; a step into sigma = 0 is Euler; 1 NFE a step.
    """
    sigmas, t, s = _prepare(x, sigmas)
    D_prev = None
    for i in range(len(t) - 1):
        denoised = denoiser(x, s[i])
        _report(callback, i, sigmas, x, denoised)
        if t[i + 1] == 0:  # Euler step into sigma = 0
            x = denoised
            continue
        h = math.log(t[i] / t[i + 1])
        # 1st order (= DDIM): h phi_1(-h) = 1 - e^-h
        x_next = (t[i + 1] / t[i]) * x - math.expm1(-h) * denoised
        if D_prev is not None:
            r = math.log(t[i - 1] / t[i]) / h
            h_phi_2 = 1 + math.expm1(-h) / h          # h phi_2(-h) = 1 - (1 - e^-h) / h
            x_next = x_next + (h_phi_2 / r) * (denoised - D_prev)
        x, D_prev = x_next, denoised
    return x


SOLVERS: dict[str, Callable[..., torch.Tensor]] = {
    "euler": euler,
    "heun": heun,
    "dpm2": dpm2,
    "ipndm": ipndm,
    "dpmpp_2m": dpmpp_2m,
    "dpm_2m_eps": dpm_2m_eps,
    "dpmpp_3m": dpmpp_3m,
    "unipc": unipc,
    "deis": deis,
    "res_m": res_m,
}


def get(name: str) -> Callable[..., torch.Tensor]:
    """The solver registered as ``name`` in ``SOLVERS``."""
    _validate.choice("solver", name, SOLVERS)
    return SOLVERS[name]


def without_thresholding(name: str) -> dict[str, bool]:
    """Keyword arguments that run solver ``name`` without dynamic thresholding (``{}`` for a
    solver that has none): the plain ODE solver, whose error against the ODE's own solution
    means what it says."""
    return {"thresholding": False} if "thresholding" in inspect.signature(get(name)).parameters else {}


def nfe(solver_name: str, sigmas: int | torch.Tensor) -> int:
    """Denoiser evaluations a solver spends on a schedule (``sigmas``: the tensor or its length).

    n - 1 for single-evaluation solvers; 2(n - 1) for heun and dpm2, less one when the schedule
    ends at sigma = 0 (their last step is then a plain Euler step). An int means a final sigma > 0.
    """
    _validate.choice("solver", solver_name, SOLVERS)
    if isinstance(sigmas, int) and not isinstance(sigmas, bool):
        _validate.at_least("sigmas", sigmas, 2)
        n, ends_at_zero = sigmas, False
    else:
        sigmas = _validate.sigmas(sigmas)
        n, ends_at_zero = len(sigmas), bool(sigmas[-1] == 0)
    if solver_name in ("heun", "dpm2"):
        return 2 * (n - 1) - int(ends_at_zero)
    return n - 1
