import math

import pytest
import torch

from trajreg import geometry
from trajreg.trajectory import Trajectory


def line(ts, start, end):
    """Points start + t (end - start) for each t, shaped (T, 1, D)."""
    return torch.stack([start + t * (end - start) for t in ts])[:, None]


def test_straight_line_has_zero_deviation():
    g = torch.Generator().manual_seed(0)
    start, end = torch.randn(2, 50, generator=g, dtype=torch.float64)
    ts = [0.0, 0.01, 0.3, 0.31, 0.9, 1.4, -0.2, 1.0]      # arbitrary spacing, even off the segment
    dev = geometry.deviation(line(ts, start, end))
    assert dev.shape == (len(ts), 1)
    torch.testing.assert_close(dev, torch.zeros_like(dev), rtol=0, atol=1e-12)


def test_right_angle_polyline_exact_values():
    # (0,0) -> (a,0) -> (a,b): distances of the corner to the chord from (0,0) to (a,b)
    a, b = 3.0, 4.0
    pts = torch.tensor([[0, 0], [a / 2, 0], [a, 0], [a, b / 2], [a, b]], dtype=torch.float64)
    dev = geometry.deviation(pts[:, None])[:, 0]
    sin = b / math.hypot(a, b)
    cos = a / math.hypot(a, b)
    expected = torch.tensor([0, a / 2 * sin, a * b / math.hypot(a, b), b / 2 * cos, 0],
                            dtype=torch.float64)
    torch.testing.assert_close(dev, expected)
    assert dev[2] == pytest.approx(2.4)


def test_bent_curve_positive_deviation_and_per_sample_chords():
    # two samples: an arc (bent) and a straight line in another direction
    theta = torch.linspace(0, math.pi / 2, 11, dtype=torch.float64)
    arc = torch.stack([torch.cos(theta), torch.sin(theta), 0 * theta], 1)
    straight = torch.stack([theta, 2 * theta, -theta], 1)
    dev = geometry.deviation(torch.stack([arc, straight], 1))
    assert (dev[1:-1, 0] > 0).all() and dev[0, 0] == 0 and dev[-1, 0] == 0
    torch.testing.assert_close(dev[:, 1], torch.zeros(11, dtype=torch.float64), rtol=0, atol=1e-12)
    # the midpoint of a quarter arc of the unit circle is 1 - cos(pi/4) from the chord
    assert dev[5, 0] == pytest.approx(1 - math.cos(math.pi / 4))


def test_final_distance_exact():
    pts = torch.tensor([[[3.0, 4.0]], [[0.0, 1.0]], [[0.0, 0.0]]])
    torch.testing.assert_close(geometry.final_distance(pts)[:, 0],
                               torch.tensor([5.0, 1.0, 0.0], dtype=torch.float64))


def test_image_shaped_points_and_trajectory_helpers():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 3, 1, 2, 2, generator=g)
    traj = Trajectory(sigmas=torch.linspace(5, 0, 6, dtype=torch.float64), x=x, denoised=x[1:])
    flat = x.reshape(6, 3, 4)
    torch.testing.assert_close(geometry.sampling_deviation(traj), geometry.deviation(flat))
    torch.testing.assert_close(geometry.denoising_deviation(traj), geometry.deviation(flat[1:]))
    assert geometry.sampling_deviation(traj).dtype == torch.float64


def test_summary_mean_std():
    values = torch.tensor([[1.0, 3.0], [2.0, 2.0]], dtype=torch.float64)
    s = geometry.summary(values, torch.tensor([2.0, 1.0]))
    torch.testing.assert_close(s["mean"], torch.tensor([2.0, 2.0], dtype=torch.float64))
    torch.testing.assert_close(s["std"], torch.tensor([math.sqrt(2), 0.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="values"):
        geometry.summary(values, torch.tensor([3.0, 2.0, 1.0]))


def test_bad_points_raise():
    with pytest.raises(ValueError, match="points"):
        geometry.deviation(torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="points"):
        geometry.deviation(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="chord"):
        geometry.deviation(torch.zeros(3, 1, 2))
    with pytest.raises(ValueError, match="points contains"):
        geometry.final_distance(torch.full((3, 1, 2), float("nan")))
