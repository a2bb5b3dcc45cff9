import math

import pytest
import torch

from trajreg import projection

ONE3 = torch.ones(3, dtype=torch.float64)


def embedded(T: int = 60, B: int = 3, D: int = 50, seed: int = 0):
    """Curves in a random 3-D subspace of R^D, plus that subspace's basis (B, 3, D)."""
    g = torch.Generator().manual_seed(seed)
    Q = torch.linalg.qr(torch.randn(B, D, 3, generator=g, dtype=torch.float64)).Q.transpose(1, 2)
    t = torch.linspace(0, 1, T, dtype=torch.float64)
    c = torch.stack([10 * (1 - t), torch.sin(math.pi * t) * (1 + t), t ** 2 * (1 - t)], -1)
    pts = torch.einsum("tk,bkd->tbd", c, Q) + torch.randn(B, D, generator=g, dtype=torch.float64)
    return pts, Q


def test_chord_is_unit_and_points_from_last_to_first():
    pts, _ = embedded()
    u = projection.chord(pts)
    torch.testing.assert_close(u.norm(dim=-1), ONE3)
    v = pts[0] - pts[-1]
    torch.testing.assert_close((v * u).sum(-1), v.norm(dim=-1))


def test_three_dimensional_subspace_is_explained_completely():
    pts, Q = embedded()
    ev = projection.explained_variance(pts, k_max=5)
    assert ev.shape == (3, 5)
    torch.testing.assert_close(ev[:, 1:], torch.ones(3, 4, dtype=torch.float64))
    assert (ev[:, 0] < 0.999).all()
    torch.testing.assert_close(projection.subspace_variance(pts, 2), ONE3)


def test_basis_is_orthonormal_and_spans_the_subspace():
    pts, Q = embedded()
    E = projection.basis(pts, k=2)
    eye = torch.eye(3, dtype=torch.float64).expand(3, 3, 3)
    torch.testing.assert_close(E @ E.transpose(1, 2), eye)
    # every axis lies in the curve's subspace: projecting onto Q keeps its length
    torch.testing.assert_close((E @ Q.transpose(1, 2)).norm(dim=-1), ONE3.expand(3, 3))
    torch.testing.assert_close(E[:, 0], projection.chord(pts))


def test_coordinates_reconstruct_the_curve_and_end_at_origin():
    pts, _ = embedded()
    xyz = projection.coordinates(pts, k=2)
    assert xyz.shape == (60, 3, 3)
    torch.testing.assert_close(xyz[-1], torch.zeros(3, 3, dtype=torch.float64))
    torch.testing.assert_close(xyz[0, :, 0], (pts[0] - pts[-1]).norm(dim=-1))
    # pairwise distances are preserved because the curve lies in the 3-D span
    d_full = torch.cdist(pts.transpose(0, 1), pts.transpose(0, 1))
    d_proj = torch.cdist(xyz.transpose(0, 1), xyz.transpose(0, 1))
    torch.testing.assert_close(d_proj, d_full, rtol=0, atol=1e-6)
    assert (xyz[..., 1:].mean(0) >= 0).all()        # deterministic display sign


def test_sign_convention_is_invariant_to_flipping_the_data():
    pts, _ = embedded()
    a = projection.coordinates(pts, k=2)
    b = projection.coordinates(2 * pts[-1] - pts, k=2)   # point reflection of the curve
    torch.testing.assert_close(a, b)


def test_procrustes_recovers_a_known_rotation():
    g = torch.Generator().manual_seed(1)
    A = torch.randn(40, 2, generator=g, dtype=torch.float64)
    theta = 0.7
    R = torch.tensor([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]],
                     dtype=torch.float64)
    O = projection.procrustes(A, A @ R)
    torch.testing.assert_close(O, R)


def test_calibrate_aligns_rotated_copies_and_keeps_the_chord_column():
    pts, _ = embedded(B=1)
    xyz = projection.coordinates(pts, k=2)[:, 0]             # (T, 3)
    angles = torch.tensor([0.0, 1.0, -2.5], dtype=torch.float64)
    c, s = torch.cos(angles), torch.sin(angles)
    R = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # (3, 2, 2)
    pcs = torch.einsum("tk,bkj->tbj", xyz[:, 1:], R)
    coords = torch.cat([xyz[:, None, :1].expand(-1, 3, -1), pcs], -1)
    out = projection.calibrate(coords, reference=0)
    torch.testing.assert_close(out, xyz[:, None].expand(-1, 3, -1))


def test_project_other_points_into_a_trajectory_basis():
    pts, Q = embedded()
    E = projection.basis(pts, k=2)
    other = pts[::2] + 0.0
    torch.testing.assert_close(projection.project(other, E, pts[-1]),
                               projection.coordinates(pts, k=2)[::2])


def test_validation():
    with pytest.raises(ValueError, match="points"):
        projection.chord(torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="coincide"):
        projection.chord(torch.zeros(4, 2, 3))
    with pytest.raises(ValueError, match="k must be"):
        projection.basis(embedded(T=3)[0], k=5)
    with pytest.raises(ValueError, match="reference"):
        projection.calibrate(torch.zeros(5, 2, 3), reference=2)


def test_spread_is_zero_for_identical_shapes_and_shrinks_after_calibration():
    pts, _ = embedded(B=1)
    xyz = projection.coordinates(pts, k=2)[:, 0]
    same = xyz[:, None].expand(-1, 4, -1)
    assert projection.spread(same) == 0
    c, s = math.cos(2.0), math.sin(2.0)
    rotated = same.clone()
    rotated[:, 1, 1:] = xyz[:, 1:] @ torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    assert projection.spread(rotated) > 0.1
    assert projection.spread(projection.calibrate(rotated)) < 1e-10
