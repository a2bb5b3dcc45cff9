"""Multi-dimensional projection of trajectories: chord plus principal components (ICML Figs. 3-4).

A trajectory is a stack of points (T, B, *dims): T time steps, B trajectories, first point the
noise x_{t_N}, last point the sample x_{t_0}. The basis of one trajectory is the unit chord
u = (x_{t_N} - x_{t_0}) / |x_{t_N} - x_{t_0}| followed by the top principal components of the
trajectory projected onto the orthogonal complement of u (JSTAT 3.2). All math is float64.
"""

from __future__ import annotations

import torch

from trajreg import _validate

__all__ = ["basis", "calibrate", "chord", "coordinates", "explained_variance", "procrustes", "project",
           "spread", "subspace_variance"]


def _flat(points: torch.Tensor, name: str = "points") -> torch.Tensor:
    """Check points is (T >= 2, B, *dims) and finite; return a float64 (T, B, D) view."""
    if not isinstance(points, torch.Tensor) or points.ndim < 3 or points.shape[0] < 2:
        shape = tuple(points.shape) if isinstance(points, torch.Tensor) else type(points).__name__
        raise ValueError(f"{name} must have shape (T >= 2, B, *dims), got {shape}")
    _validate.finite(name, points)
    return points.reshape(points.shape[0], points.shape[1], -1).to(torch.float64)


def chord(points: torch.Tensor) -> torch.Tensor:
    """Unit chord u = (p_first - p_last) / |p_first - p_last| of each trajectory; (B, D)."""
    p = _flat(points)
    v = p[0] - p[-1]
    norm = v.norm(dim=-1, keepdim=True)
    if (norm == 0).any():
        raise ValueError("points: first and last points coincide for some trajectory")
    return v / norm


def _residual(p: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Remove the component along u: p (T, B, D), u (B, D) -> p (I - u u^T), (T, B, D)."""
    return p - (p * u).sum(-1, keepdim=True) * u


def _centred_residual(p: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Residual of each trajectory off its chord, centred over time; (B, T, D)."""
    q = _residual(p, u).transpose(0, 1)
    return q - q.mean(1, keepdim=True)


def _principal(p: torch.Tensor, u: torch.Tensor, k: int) -> torch.Tensor:
    """Top-k principal directions of the chord-complement residual; (B, k, D)."""
    _, _, Vh = torch.linalg.svd(_centred_residual(p, u), full_matrices=False)
    return Vh[:, :k]


def basis(points: torch.Tensor, k: int = 2) -> torch.Tensor:
    """Orthonormal projection axes [u, v_1, ..., v_k] of each trajectory; (B, k + 1, D).

    v_j is the j-th principal component of the trajectory in the orthogonal complement of the chord
    u, re-orthogonalised against u, with its sign chosen so that the mean coordinate
    <p_t - p_last, v_j> over the trajectory is >= 0 (a deterministic sign for display).
    """
    p = _flat(points)
    _validate.at_least("k", k, 0)
    if k > min(p.shape[0], p.shape[2]) - 1:
        raise ValueError(f"k must be <= min(T, D) - 1 = {min(p.shape[0], p.shape[2]) - 1}, got {k}")
    u = chord(points)
    E = torch.cat([u[:, None], _principal(p, u, k)], dim=1)     # (B, k + 1, D)
    E = torch.linalg.qr(E.transpose(1, 2)).Q.transpose(1, 2)     # Gram-Schmidt; row 0 is +-u
    mean = (p - p[-1]).mean(0)[:, None].expand(-1, k, -1)        # (B, k, D)
    ref = torch.cat([u[:, None], mean], dim=1)
    sign = torch.where((E * ref).sum(-1) >= 0, 1.0, -1.0).to(p.dtype)
    return E * sign[..., None]


def project(points: torch.Tensor, E: torch.Tensor, origin: torch.Tensor) -> torch.Tensor:
    """Coordinates <p - origin, e_j> of points (T, B, *dims) in axes E (B, m, D); (T, B, m)."""
    p = _flat(points)
    o = origin.reshape(origin.shape[0], -1).to(torch.float64)
    return torch.einsum("tbd,bmd->tbm", p - o, E.to(torch.float64))


def coordinates(points: torch.Tensor, k: int = 2) -> torch.Tensor:
    """Trajectory in its own axes, relative to the final point (ICML Fig. 4); (T, B, k + 1).

    Column 0 runs from |x_{t_N} - x_{t_0}| at the first point to 0 at the last; columns 1..k are
    the principal-component coordinates.
    """
    E = basis(points, k)
    return project(points, E, points[-1])


def explained_variance(points: torch.Tensor, k_max: int = 10) -> torch.Tensor:
    """Cumulative explained-variance ratio of the chord-complement PCA (ICML Fig. 3d); (B, k_max).

    Entry [b, k-1] = (lambda_1 + ... + lambda_k) / sum_j lambda_j for trajectory b, where lambda_j
    are the PCA variances of the trajectory projected onto the orthogonal complement of its chord.
    """
    p = _flat(points)
    _validate.at_least("k_max", k_max, 1)
    lam = torch.linalg.svdvals(_centred_residual(p, chord(points))) ** 2
    total = lam.sum(-1, keepdim=True)
    if (total == 0).any():
        raise ValueError("points: some trajectory is exactly straight (no residual variance)")
    ratio = lam.cumsum(-1) / total
    if k_max > ratio.shape[1]:
        ratio = torch.cat([ratio, ratio[:, -1:].expand(-1, k_max - ratio.shape[1])], dim=1)
    return ratio[:, :k_max]


def subspace_variance(points: torch.Tensor, k: int = 2) -> torch.Tensor:
    """Share of the trajectory's total variance inside span(u, v_1..v_k): 1 - |X - X_k|^2/|X - X̄|^2.

    Returns (B,). Unlike ``explained_variance`` this counts the chord direction too.
    """
    p = _flat(points)
    E = basis(points, k)
    c = p - p.mean(0)
    inside = torch.einsum("tbd,bmd->tbm", c, E)
    return (inside ** 2).sum((0, 2)) / (c ** 2).sum((0, 2))


def procrustes(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Orthogonal O minimising |A O - B|_F: O = U V^T with U S V^T = svd(A^T B) (JSTAT Eq. 13).

    A: (..., T, m), B: (T, m) or (..., T, m) -> O: (..., m, m). O may include a reflection.
    """
    M = A.to(torch.float64).transpose(-1, -2) @ B.to(torch.float64)
    U, _, Vh = torch.linalg.svd(M)
    return U @ Vh


def calibrate(coords: torch.Tensor, reference: int = 0) -> torch.Tensor:
    """Rotate each trajectory's PC coordinates onto a reference trajectory (JSTAT Fig. 5).

    coords: (T, B, 1 + k) from ``coordinates``; the chord column stays, the PC columns 1..k of
    trajectory b are multiplied by the Procrustes solution aligning them to trajectory
    ``reference``. Returns (T, B, 1 + k).
    """
    if coords.ndim != 3 or coords.shape[2] < 2:
        raise ValueError(f"coords must have shape (T, B, 1 + k >= 2), got {tuple(coords.shape)}")
    _validate.choice("reference", reference, range(-coords.shape[1], coords.shape[1]))
    pcs = coords[..., 1:].to(torch.float64).transpose(0, 1)          # (B, T, k)
    O = procrustes(pcs, pcs[reference])                              # (B, k, k)
    return torch.cat([coords[..., :1].to(torch.float64), (pcs @ O).transpose(0, 1)], dim=-1)


def spread(coords: torch.Tensor) -> torch.Tensor:
    """RMS distance of each trajectory's PC coordinates to their mean over trajectories; scalar.

    coords: (T, B, 1 + k). Measures how similar the shapes are in the PC plane (JSTAT Fig. 5):
    calibration should shrink it.
    """
    pcs = coords[..., 1:].to(torch.float64)
    return ((pcs - pcs.mean(1, keepdim=True)) ** 2).sum(-1).mean().sqrt()
