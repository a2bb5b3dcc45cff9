"""Align Your Steps (Sabour, Fidler, Kreis; ICML 2024): schedules that minimise a KL upper bound.

The bound (KLUB, Sec. 3.1, Eq. 8-12) for the first-order stochastic DDIM solver on a schedule
t_0 < ... < t_n is a sum over intervals, each a function of its two ends:

    KLUB = sum_i int_{t_i-1}^{t_i} (1 / t^3) E || D(x_t, t) - D(x_{t_i}, t_i) ||^2 dt,

with x_t = x0 + t eps, x_{t_i} = x_t + sqrt(t_i^2 - t^2) eps' (forward process; a constant factor
dropped). It is estimated by importance sampling (Alg. 2) from pi(t) ~ (1 / t^3) (1 / (t^2 + c^2)
- 1 / (t_up^2 + c^2)), c = 0.5, which is exact for Gaussian data N(0, c^2 I) (Lemma 3.3:
E||.||^2 = c^4 d (1 / (t^2 + c^2) - 1 / (t_up^2 + c^2))). The estimate multiplies the mean ratio by
pi's mass Z, which depends on the candidate point (Alg. 2 drops it as "a constant"; it is not one
across candidates). Here the two sub-intervals around a candidate are sampled in equal halves
(stratified) with common random numbers across candidates: the same expectation as Alg. 2's mixture,
with less variance.

The search (Alg. 1) sweeps the interior points, each over 11 candidates (the current one and 10
log-spaced points strictly between its neighbours), keeping the lowest estimate; stage 1 runs a
fixed number of sweeps (the paper's early stopping), ``subdivide`` inserts geometric means and
optimises only the new points, and ``loglinear_interp`` resamples to any other step count. A
schedule here is, as everywhere in trajreg, descending sigmas from sigma_max to sigma_min.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from trajreg import _validate, schedules
from trajreg.denoisers import Denoiser

__all__ = ["C", "N_CANDIDATES", "SD15_SIGMAS", "ays", "klub_gaussian", "klub_interval",
           "klub_optimal_gaussian", "loglinear_interp", "optimise", "pi_mass", "subdivide"]

C = 0.5                 # the proposal's data scale (the paper's c; EDM's sigma_data)
N_CANDIDATES = 11       # per point and sweep, the current value included (Alg. 1)
N_TAB = 2049            # points of the tabulated proposal CDF per sub-interval
# Table 3 of the AYS paper: the published 10-step schedule for Stable Diffusion 1.5 (sigma_max first).
SD15_SIGMAS = (14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029)


def _density(t: np.ndarray, t_up: float, c: float) -> np.ndarray:
    """Unnormalised proposal pi(t) on a sub-interval ending at t_up (Sec. 3.2)."""
    return (1 / t**3) * (1 / (t**2 + c**2) - 1 / (t_up**2 + c**2))


def _table(lo: float, up: float, c: float) -> tuple[np.ndarray, np.ndarray]:
    """(log t grid, cumulative mass) of pi on [lo, up] by the trapezoid rule in log t."""
    u = np.linspace(math.log(lo), math.log(up), N_TAB)
    t = np.exp(u)
    f = _density(t, up, c) * t                   # dt = t du
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(u))])
    return u, cum


def pi_mass(lo: float, up: float, c: float = C) -> float:
    """Z(lo, up) = int_lo^up pi(t) dt: the Gaussian KLUB of the interval [lo, up] per c^4 d."""
    return float(_table(lo, up, c)[1][-1])


def klub_gaussian(sigmas: torch.Tensor, c: float = C, dim: int = 1) -> float:
    """The exact KLUB of a schedule for N(0, c^2 I_dim) data (Lemma 3.3): c^4 dim sum_i Z(t_i-1, t_i)."""
    t = np.sort(_validate.sigmas(sigmas).to(torch.float64).numpy())
    return c**4 * dim * sum(pi_mass(float(a), float(b), c) for a, b in zip(t[:-1], t[1:], strict=True))


def klub_optimal_gaussian(a: float, b: float, c: float = C) -> float:
    """The point t in (a, b) minimising Z(a, t) + Z(t, b) (stationarity of the Gaussian KLUB; our
    derivation, App. A.3's printed form is garbled): t^2 = sqrt(AB) (sqrt(AB) + sqrt((A + c^2)
    (B + c^2))) / (A + B + c^2), A = a^2, B = b^2."""
    A, B = a * a, b * b
    g = math.sqrt(A * B)
    return math.sqrt(g * (g + math.sqrt((A + c * c) * (B + c * c))) / (A + B + c * c))


def _sample_t(lo: float, up: float, q: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    """Inverse-CDF draws t ~ pi on [lo, up] at quantiles q in (0, 1), and the mass Z."""
    u, cum = _table(lo, up, c)
    return np.exp(np.interp(q * cum[-1], cum, u)), float(cum[-1])


def klub_interval(denoiser: Denoiser, x0: torch.Tensor, lo: float, mid: float, up: float,
                  eps: torch.Tensor, eps2: torch.Tensor, q: np.ndarray, c: float = C,
                  batch_size: int = 512) -> float:
    """Estimated KLUB over [lo, up] with interior point mid (Alg. 2 times Z, stratified).

    x0 (M, *dims) real data, eps / eps2 standard normals like x0, q (M,) quantiles in (0, 1); the
    first half of the M draws fall in [lo, mid] (t_up = mid), the second in [mid, up] (t_up = up).
    Costs 2 M denoiser evaluations.
    """
    M = x0.shape[0]
    halves = [(lo, mid, slice(0, M // 2)), (mid, up, slice(M // 2, M))]
    t_all, t_up, weight = np.empty(M), np.empty(M), np.empty(M)
    for a, b, sl in halves:
        n = sl.stop - sl.start
        t_all[sl], Z = _sample_t(a, b, q[sl], c)
        t_up[sl], weight[sl] = b, Z / n
    t = torch.from_numpy(t_all).to(x0)
    tu = torch.from_numpy(t_up).to(x0)
    shape = (-1, *[1] * (x0.ndim - 1))
    x_t = x0 + t.reshape(shape) * eps
    x_up = x_t + (tu**2 - t**2).clamp_min(0).sqrt().reshape(shape) * eps2
    X, S = torch.cat([x_t, x_up]), torch.cat([t, tu])
    out = torch.cat([denoiser(X[i:i + batch_size], S[i:i + batch_size])
                     for i in range(0, 2 * M, batch_size)])
    sq = (out[:M] - out[M:]).to(torch.float64).flatten(1).pow(2).sum(1)
    ratio = sq / torch.from_numpy(1 / (t_all**2 + c**2) - 1 / (t_up**2 + c**2))
    return float((torch.from_numpy(weight) * ratio).sum())


def _candidates(lo: float, cur: float, up: float, n: int) -> list[float]:
    """The current point and n - 1 log-spaced points strictly inside (lo, up)."""
    inner = np.exp(np.linspace(math.log(lo), math.log(up), n + 1)[1:-1]).tolist()
    return [cur, *inner]


def optimise(denoiser: Denoiser, x0: torch.Tensor, sigmas: torch.Tensor, *, free: list[int] | None = None,
             sweeps: int = 2, n_mc: int = 64, c: float = C, seed: int = 0,
             n_candidates: int = N_CANDIDATES, batch_size: int = 512) -> tuple[torch.Tensor, dict]:
    """Coordinate-wise candidate search of Alg. 1 on the KLUB; returns (sigmas, info).

    free: indices (into the descending sigmas) that may move, default every interior one; each
    sweep visits them in turn with n_candidates candidates, each estimated on n_mc draws of x0
    from ``x0`` with noises and quantiles shared across the candidates (common random numbers,
    fresh per point and sweep). ``sweeps`` fixed = the early stopping of stage 1; the search also
    stops when a sweep moves nothing. info: "nfe" (per search, summed), "sweeps", "moves".
    """
    s = _validate.sigmas(sigmas).detach().to("cpu", torch.float64).clone()
    n = len(s)
    free = list(range(1, n - 1)) if free is None else sorted(free)
    if any(not 0 < i < n - 1 for i in free):
        raise ValueError(f"free must list interior indices 1..{n - 2}, got {free}")
    _validate.at_least("sweeps", sweeps, 0)
    _validate.at_least("n_mc", n_mc, 2)
    _validate.at_least("n_candidates", n_candidates, 2)
    if not s[-1] > 0:
        raise ValueError("sigmas must end at a sigma > 0 (the KLUB weight 1/t^3 diverges at 0)")
    g = torch.Generator().manual_seed(seed)
    nfe, moves, done = 0, [], 0
    for _ in range(sweeps):
        moved = 0
        for i in free:
            up, cur, lo = float(s[i - 1]), float(s[i]), float(s[i + 1])
            idx = torch.randint(0, x0.shape[0], (n_mc,), generator=g)
            eps = torch.randn((n_mc, *x0.shape[1:]), generator=g, dtype=torch.float64).to(x0)
            eps2 = torch.randn((n_mc, *x0.shape[1:]), generator=g, dtype=torch.float64).to(x0)
            q = (torch.rand(n_mc, generator=g, dtype=torch.float64).numpy() + 1e-12) * (1 - 2e-12)
            cands = _candidates(lo, cur, up, n_candidates)
            est = [klub_interval(denoiser, x0[idx], lo, m, up, eps, eps2, q, c, batch_size)
                   for m in cands]
            nfe += 2 * n_mc * len(cands)
            best = int(np.argmin(est))
            if best != 0:
                s[i], moved = cands[best], moved + 1
        moves.append(moved)
        done += 1
        if moved == 0:
            break
    return s, {"nfe": nfe, "sweeps": done, "moves": moves}


def subdivide(sigmas: torch.Tensor) -> torch.Tensor:
    """Double the steps: keep every point, insert the geometric mean between neighbours (Sec. 3.3)."""
    s = _validate.sigmas(sigmas).detach().to("cpu", torch.float64)
    out = torch.empty(2 * len(s) - 1, dtype=torch.float64)
    out[0::2], out[1::2] = s, (s[:-1] * s[1:]).sqrt()
    return out


def loglinear_interp(sigmas: Any, n: int) -> torch.Tensor:
    """Resample a schedule to n sigmas: log sigma piecewise linear in the normalised index (AYS-H)."""
    s = _validate.sigmas(torch.as_tensor(sigmas, dtype=torch.float64))
    _validate.at_least("n", n, 2)
    xs = np.linspace(0, 1, len(s))
    out = np.exp(np.interp(np.linspace(0, 1, n), xs, np.log(s.numpy())))
    out[0], out[-1] = float(s[0]), float(s[-1])
    return torch.from_numpy(out)


def ays(denoiser: Denoiser, x0: torch.Tensor, K: int, *, base: int = 10, levels: int = 1,
        sweeps: int = 2, sweeps_fine: int = 4, n_mc: int = 64, c: float = C, seed: int = 0,
        sigma_min: float = schedules.SIGMA_MIN, sigma_max: float = schedules.SIGMA_MAX,
        batch_size: int = 512) -> tuple[torch.Tensor, dict]:
    """The AYS hierarchy (Sec. 3.3): stage 1 on ``base`` steps from EDM rho = 7 (``sweeps`` sweeps),
    then ``levels`` subdivisions (10 -> 20 -> 40), each optimising only the new points until a sweep
    moves nothing (at most ``sweeps_fine`` sweeps), then ``loglinear_interp`` from the finest
    schedule to K steps (exact if K is one of the levels' step counts). x0 (N, *dims): real data.
    Returns (K + 1 sigmas, info)."""
    _validate.at_least("K", K, 1)
    _validate.at_least("base", base, 1)
    _validate.at_least("levels", levels, 0)
    s = schedules.polynomial(base + 1, sigma_min, sigma_max)
    s, info = optimise(denoiser, x0, s, sweeps=sweeps, n_mc=n_mc, c=c, seed=seed,
                       batch_size=batch_size)
    found, nfe = {base: s}, info["nfe"]
    for lvl in range(1, levels + 1):
        s = subdivide(s)
        s, info = optimise(denoiser, x0, s, free=list(range(1, len(s) - 1, 2)), sweeps=sweeps_fine,
                           n_mc=n_mc,
                           c=c, seed=seed + lvl, batch_size=batch_size)
        found[base * 2**lvl], nfe = s, nfe + info["nfe"]
    out = found[K] if K in found else loglinear_interp(s, K + 1)
    return out, {"nfe": nfe, "levels": {k: v.tolist() for k, v in found.items()}}
