import math

import pytest
import torch

from trajreg import frenet


def helix(a: float, b: float, t: torch.Tensor) -> torch.Tensor:
    """Points (a cos t, a sin t, b t) as a (T, 1, 3) float64 curve."""
    return torch.stack([a * torch.cos(t), a * torch.sin(t), b * t], -1)[:, None].double()


def test_arc_length_of_polyline():
    r = torch.tensor([[0.0, 0, 0], [3, 4, 0], [3, 4, 12]])[:, None]
    assert frenet.arc_length(r)[:, 0].tolist() == [0.0, 5.0, 17.0]


def test_reflect_index_mirrors_both_ends():
    idx = frenet.reflect_index(5, 5)
    assert idx[0].tolist() == [2, 1, 0, 1, 2]
    assert idx[4].tolist() == [2, 3, 4, 3, 2]
    assert idx[2].tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("radius", [0.5, 3.0])
def test_circle_constant_curvature_zero_torsion(radius):
    t = torch.linspace(0, 1.5 * math.pi, 400, dtype=torch.float64)
    kappa, tau = frenet.curvature_torsion(helix(radius, 0.0, t), window=21)
    torch.testing.assert_close(kappa, torch.full_like(kappa, 1 / radius), rtol=2e-3, atol=0)
    assert tau.abs().max() < 1e-6


def test_helix_textbook_curvature_and_torsion():
    a, b = 2.0, 0.5
    t = torch.linspace(0, 4 * math.pi, 600, dtype=torch.float64)
    kappa, tau = frenet.curvature_torsion(helix(a, b, t), window=15)
    c = a ** 2 + b ** 2
    for got, want in ((kappa, a / c), (tau, b / c)):
        torch.testing.assert_close(got[7:-7], torch.full_like(got[7:-7], want), rtol=3e-3, atol=0)
        torch.testing.assert_close(got, torch.full_like(got, want), rtol=1e-2, atol=0)  # ends


def test_wider_window_is_biased_by_the_fourth_order_term():
    """The cubic fit misses r'''' ds^4: error grows with the window's turning angle squared."""
    t = torch.linspace(0, 4 * math.pi, 600, dtype=torch.float64)
    errors = [(frenet.curvature_torsion(helix(2.0, 0.5, t), window=w)[0][100:-100] / (2 / 4.25)
               - 1).abs().max() for w in (15, 31)]
    assert errors[0] < errors[1] < 5 * errors[0]


def test_left_handed_helix_has_negative_torsion():
    t = torch.linspace(0, 2 * math.pi, 300, dtype=torch.float64)
    _, tau = frenet.curvature_torsion(helix(1.0, -0.5, t), window=21)
    assert (tau < 0).all()


def test_straight_line_has_zero_curvature():
    s = torch.linspace(0, 10, 200, dtype=torch.float64)
    r = (s[:, None] * torch.tensor([1.0, 2.0, -2.0], dtype=torch.float64) / 3)[:, None]
    kappa, tau = frenet.curvature_torsion(r, window=15)
    assert kappa.max() < 1e-8
    assert torch.isfinite(tau).all()


def test_derivatives_are_arc_length_derivatives():
    """r' is the unit tangent regardless of how fast the curve is sampled."""
    t = torch.linspace(0, 1, 300, dtype=torch.float64) ** 2 * 3   # uneven spacing
    d1, _, _ = frenet.derivatives(helix(1.0, 1.0, t), window=21)
    torch.testing.assert_close(d1.norm(dim=-1), torch.ones(300, 1, dtype=torch.float64),
                               rtol=1e-4, atol=0)


def test_batched_curves_are_independent():
    t = torch.linspace(0, math.pi, 200, dtype=torch.float64)
    r = torch.cat([helix(1.0, 0.0, t), helix(2.0, 1.0, t)], dim=1)
    kappa, tau = frenet.curvature_torsion(r, window=11)
    assert kappa.shape == tau.shape == (200, 2)
    torch.testing.assert_close(kappa[:, 0], torch.ones(200, dtype=torch.float64), rtol=2e-3, atol=0)
    torch.testing.assert_close(tau[:, 1], torch.full((200,), 0.2, dtype=torch.float64),
                               rtol=2e-3, atol=0)


@pytest.mark.parametrize("window", [6, 8, 5, 401])
def test_bad_window_is_rejected(window):
    with pytest.raises(ValueError, match="window"):
        frenet.derivatives(helix(1.0, 1.0, torch.linspace(0, 1, 200)), window=window)


def test_bad_shape_is_rejected():
    with pytest.raises(ValueError, match="curve"):
        frenet.curvature_torsion(torch.zeros(10, 2), window=7)


def test_rise_finds_the_first_index_above_a_fraction_of_the_maximum():
    k = torch.tensor([[0.0, 0.5], [0.05, -0.5], [0.2, 0.5], [1.0, -10.0], [0.5, 1.0]])
    assert frenet.rise(k, 0.1).tolist() == [2, 3]
    with pytest.raises(ValueError, match="fraction"):
        frenet.rise(k, 0.0)


def test_peak_ignores_values_before_start():
    tau = torch.tensor([[9.0, -9.0], [0.0, 0.0], [2.0, -3.0], [1.0, 1.0]])
    assert frenet.peak(tau).tolist() == [0, 0]
    assert frenet.peak(tau, torch.tensor([1, 2])).tolist() == [2, 2]
