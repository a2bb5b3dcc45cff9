"""Trajectory geometry: deviation from the chord, distance to the final point (ICML Fig. 2)."""

from __future__ import annotations

import torch

from trajreg import _validate
from trajreg.trajectory import Trajectory

__all__ = ["denoising_deviation", "deviation", "final_distance", "sampling_deviation", "summary"]


def _flat(points: torch.Tensor) -> torch.Tensor:
    """Check points is (T, B, *dims) with T >= 2 and finite; view it as (T, B, D)."""
    if not isinstance(points, torch.Tensor) or points.ndim < 3 or points.shape[0] < 2:
        shape = tuple(points.shape) if isinstance(points, torch.Tensor) else type(points).__name__
        raise ValueError(f"points must have shape (T >= 2, B, *dims), got {shape}")
    _validate.finite("points", points)
    return points.reshape(points.shape[0], points.shape[1], -1)


def deviation(points: torch.Tensor) -> torch.Tensor:
    """Distance of each point to the chord through the first and last points (JSTAT 3, d_td).

    With u = (p_0 - p_last) / |p_0 - p_last| and a = p_t - p_last: d_td = |a - <a, u> u|,
    set to exactly 0 at both endpoints. points: (T, B, *dims) -> (T, B) float64.
    """
    p = _flat(points)
    last = p[-1].to(torch.float64)
    v = p[0].to(torch.float64) - last
    norm = v.norm(dim=-1, keepdim=True)
    if (norm == 0).any():
        raise ValueError("points: the first and last points coincide for some sample, so the chord "
                         "has no direction")
    u = v / norm
    out = torch.zeros(p.shape[:2], dtype=torch.float64)
    for t in range(1, p.shape[0] - 1):              # one time step at a time bounds the memory
        a = p[t].to(torch.float64) - last
        out[t] = (a - (a * u).sum(-1, keepdim=True) * u).norm(dim=-1).cpu()
    return out


def final_distance(points: torch.Tensor) -> torch.Tensor:
    """Distance of each point to the last one, d_fsd = |p_t - p_last| (JSTAT 3); (T, B) float64."""
    p = _flat(points)
    last = p[-1].to(torch.float64)
    return torch.stack([(p[t].to(torch.float64) - last).norm(dim=-1).cpu()
                        for t in range(p.shape[0])])


def sampling_deviation(traj: Trajectory) -> torch.Tensor:
    """Deviation of the sampling trajectory x_t from the chord x_{t_N} -> x_{t_0}; (T, B)."""
    return deviation(traj.x)


def denoising_deviation(traj: Trajectory) -> torch.Tensor:
    """Deviation of D(x_t) from its chord D(x_{t_N}) -> D(x_{t_1}) (ICML Fig. 2); (T-1, B)."""
    return deviation(traj.denoised)


def summary(values: torch.Tensor, sigmas: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean and std over samples of a (T, B) statistic, with its sigmas; each entry (T,)."""
    if values.ndim != 2 or values.shape[0] != len(sigmas):
        raise ValueError(f"values must have shape (T={len(sigmas)}, B), got {tuple(values.shape)}")
    std = values.std(1, correction=1 if values.shape[1] > 1 else 0)
    return {"sigma": sigmas.to(torch.float64), "mean": values.mean(1), "std": std}
