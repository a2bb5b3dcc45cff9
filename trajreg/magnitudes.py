"""Magnitudes along a trajectory: |x|, |D(x)|, |eps|, sampling length, learned-vs-optimal gap.

ICML Sec. 4.2 and App. A.3.3: the field eps = (x - D(x, sigma)) / sigma has norm close to sqrt(d)
almost everywhere, so the sampling length is close to sigma_max * sqrt(d), which is also the chord.
ICML App. A.3.4 / Fig. 10: d1 = |D_theta(x) - D*(x)| against d2 = |D*(x) - x|. All math is float64.
"""

from __future__ import annotations

import math

import torch

from trajreg import _validate
from trajreg.denoisers import Denoiser
from trajreg.trajectory import Trajectory

__all__ = ["chord_length", "denoise_states", "distances", "eps", "length_table", "norms", "optimal_gap",
           "sampling_length"]


def distances(a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample |a - b| (or |a|) for (T, B, *dims) stacks, one step at a time; (T, B) float64.

    b: (T, B, *dims) like a, or one point (*dims) for all. Never materialises a float64 stack.
    """
    def row(t: int) -> torch.Tensor:
        other = 0 if b is None else (b[t] if b.ndim == a.ndim else b).to(torch.float64)
        return (a[t].to(torch.float64) - other).reshape(a.shape[1], -1).norm(dim=-1).cpu()
    return torch.stack([row(t) for t in range(a.shape[0])])


def eps(x: torch.Tensor, denoised: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """The normalised field eps = (x - D(x, sigma)) / sigma (ICML Eq. 5); (T, B, *dims) float64.

    x and denoised: (T, B, *dims); sigma: (T,) all > 0.
    """
    _validate.same_shape("x", x, "denoised", denoised)
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    if sigma.shape != x.shape[:1] or not (sigma > 0).all():
        raise ValueError(f"sigma must have shape ({x.shape[0]},) with entries > 0")
    s = sigma.reshape(-1, *([1] * (x.ndim - 1)))
    return (x.to(torch.float64) - denoised.to(torch.float64)) / s


def norms(traj: Trajectory) -> dict[str, torch.Tensor]:
    """|x_t|, |D(x_t)|, |eps(x_t)| at the steps where D was evaluated; each (T-1, B), plus sigma.

    The sampling state x includes the final sample too: ``x_all`` is (T, B).
    """
    n = traj.denoised.shape[0]
    x = traj.x[:n]
    return {"sigma": traj.sigmas[:n].to(torch.float64),
            "x": distances(x), "x_all": distances(traj.x), "denoised": distances(traj.denoised),
            "eps": distances(x, traj.denoised) / traj.sigmas[:n, None].to(torch.float64)}


def sampling_length(traj: Trajectory) -> torch.Tensor:
    """Polyline length sum_n |x_{n+1} - x_n| of each sampling trajectory (ICML Eq. 48); (B,).

    For Euler this equals sum_n (sigma_n - sigma_{n+1}) |eps(x_n)|.
    """
    return distances(traj.x[1:], traj.x[:-1]).sum(0)


def chord_length(traj: Trajectory) -> torch.Tensor:
    """Distance |x_{t_N} - x_{t_0}| from the initial noise to the final sample; (B,)."""
    return distances(traj.x[:1], traj.x[-1:])[0]


def length_table(traj: Trajectory) -> dict[str, float]:
    """Mean length L, chord C, sigma_max sqrt(d), ratios L/C and L/(sigma_max sqrt(d)) (Eq. 49)."""
    L, C = sampling_length(traj), chord_length(traj)
    ref = float(traj.sigmas[0]) * math.sqrt(traj.dim)
    return {"length": float(L.mean()), "chord": float(C.mean()), "sigma_max_sqrt_d": ref,
            "length/chord": float((L / C).mean()), "length/sigma_max_sqrt_d": float(L.mean()) / ref}


def denoise_states(denoiser: Denoiser, traj: Trajectory, *,
                   batch_size: int | None = None) -> torch.Tensor:
    """Apply another denoiser to the recorded states: D(x_{t_n}, sigma_n), n < T-1 (ICML Fig. 11).

    Returns (T-1, B, *dims) in the dtype of ``traj.x``.
    """
    n, B = traj.denoised.shape[:2]
    batch_size = B if batch_size is None else batch_size
    _validate.at_least("batch_size", batch_size, 1)
    out = torch.empty_like(traj.denoised)
    for i in range(n):
        for b in range(0, B, batch_size):
            out[i, b:b + batch_size] = denoiser(traj.x[i, b:b + batch_size], float(traj.sigmas[i]))
    return out


def optimal_gap(traj: Trajectory, optimal: Denoiser, *, batch_size: int | None = None
                ) -> dict[str, torch.Tensor]:
    """d1 = |D_theta(x_t) - D*(x_t)| and d2 = |D*(x_t) - x_t| along traj (ICML Fig. 10).

    traj: a trajectory of the learned denoiser (its ``denoised`` are D_theta(x_t)); optimal: the
    optimal (KDE) denoiser D*, evaluated here on every recorded state x_t. Returns sigma (T-1,)
    and d1, d2, ratio = d1 / d2, each (T-1, B).
    """
    star = denoise_states(optimal, traj, batch_size=batch_size)
    n = star.shape[0]
    d1, d2 = distances(traj.denoised, star), distances(star, traj.x[:n])
    return {"sigma": traj.sigmas[:n].to(torch.float64), "d1": d1, "d2": d2, "ratio": d1 / d2}
