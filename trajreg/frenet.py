"""Curvature and torsion of 3-D curves along arc length (JSTAT 3.3, Eqs. 14-15).

A curve is (T, B, 3): T points of B curves. Derivatives with respect to arc length s come from a
windowed least-squares fit of r(s_k) - r(s_i) = r' ds + r'' ds^2 / 2 + r''' ds^3 / 6 over the W
points centred at i. Near the ends the window is padded by reflection (mirrored indices, the end
point itself not repeated), so each end window uses the points that exist. All math is float64.
"""

from __future__ import annotations

import torch

from trajreg import _validate

__all__ = ["arc_length", "curvature_torsion", "derivatives", "peak", "reflect_index", "rise"]


def _curve(r: torch.Tensor) -> torch.Tensor:
    """Check r is a finite (T >= 2, B, 3) tensor; return it as float64."""
    if not isinstance(r, torch.Tensor) or r.ndim != 3 or r.shape[0] < 2 or r.shape[2] != 3:
        shape = tuple(r.shape) if isinstance(r, torch.Tensor) else type(r).__name__
        raise ValueError(f"curve must have shape (T >= 2, B, 3), got {shape}")
    _validate.finite("curve", r)
    return r.to(torch.float64)


def arc_length(r: torch.Tensor) -> torch.Tensor:
    """Cumulative polyline length s_i = sum_{j<i} |r_{j+1} - r_j|, s_0 = 0; (T, B, D) -> (T, B)."""
    steps = (r[1:] - r[:-1]).to(torch.float64).norm(dim=-1)
    return torch.cat([torch.zeros_like(steps[:1]), steps.cumsum(0)])


def reflect_index(T: int, W: int) -> torch.Tensor:
    """Indices (T, W) of the window i - W//2 ... i + W//2 around each i, reflected at the ends."""
    offsets = torch.arange(W) - W // 2
    idx = torch.arange(T)[:, None] + offsets
    idx = idx.abs()                                      # reflect at 0: -j -> j
    return (T - 1) - ((T - 1) - idx).abs()               # reflect at T-1: T-1+j -> T-1-j


def derivatives(r: torch.Tensor, window: int = 101) -> torch.Tensor:
    """r', r'', r''' with respect to arc length by windowed cubic least squares; (3, T, B, 3).

    r: (T, B, 3). window: odd number of points W with 7 <= W <= 2T - 1.
    """
    r = _curve(r)
    T = r.shape[0]
    _validate.at_least("window", window, 7)
    if window % 2 == 0 or window > 2 * T - 1:
        raise ValueError(f"window must be odd and <= 2T - 1 = {2 * T - 1}, got {window}")
    s = arc_length(r)                                    # (T, B)
    idx = reflect_index(T, window)                       # (T, W)
    ds = s[idx] - s[:, None]                             # (T, W, B)
    dr = r[idx] - r[:, None]                             # (T, W, B, 3)
    h = ds.abs().amax(1, keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)
    z = ds / h                                           # scaled steps in [-1, 1]
    A = torch.stack([z, z ** 2 / 2, z ** 3 / 6], dim=-1)  # (T, W, B, 3)
    A, dr = A.permute(0, 2, 1, 3), dr.permute(0, 2, 1, 3)  # (T, B, W, 3)
    c = torch.linalg.lstsq(A, dr).solution               # (T, B, 3 orders, 3 coords)
    scale = h[:, 0, :, None] ** torch.arange(1, 4, dtype=torch.float64)  # (T, B, 3)
    return (c / scale[..., None]).permute(2, 0, 1, 3)


def curvature_torsion(r: torch.Tensor, window: int = 101) -> tuple[torch.Tensor, torch.Tensor]:
    """kappa = |r' x r''| / |r'|^3 and tau = (r' x r'') . r''' / |r' x r''|^2 (JSTAT Eqs. 14-15).

    r: (T, B, 3) -> kappa (T, B), tau (T, B). Where r' x r'' is exactly 0 (torsion undefined) tau
    is set to 0.
    """
    d1, d2, d3 = derivatives(r, window)
    b = torch.linalg.cross(d1, d2)
    b2 = (b ** 2).sum(-1)
    kappa = b2.sqrt() / d1.norm(dim=-1) ** 3
    tau = torch.where(b2 > 0, (b * d3).sum(-1) / torch.where(b2 > 0, b2, 1.0), 0.0)
    return kappa, tau


def rise(values: torch.Tensor, fraction: float = 0.1) -> torch.Tensor:
    """First index at which |values| reaches ``fraction`` of its maximum, per curve; (T, B) -> (B,).

    Used to locate where curvature "starts rising" along the arc length (JSTAT Fig. 6).
    """
    _validate.positive("fraction", fraction)
    a = values.abs()
    return (a >= fraction * a.amax(0, keepdim=True)).to(torch.int8).argmax(0)


def peak(values: torch.Tensor, start: torch.Tensor | None = None) -> torch.Tensor:
    """Index of the largest |values| at or after index ``start`` (B,), per curve; (T, B) -> (B,).

    Torsion is ill-conditioned where the curve is straight (r' x r'' ~ 0), so its peak is sought
    only from where the curvature has risen (``start = rise(kappa)``).
    """
    a = values.abs()
    if start is not None:
        before = torch.arange(a.shape[0], device=a.device)[:, None] < start
        a = a.masked_fill(before, -1.0)
    return a.argmax(0)
