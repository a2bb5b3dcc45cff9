import math

import pytest
import torch

from trajreg import magnitudes
from trajreg.trajectory import Trajectory

C2 = 0.25          # data variance c^2 of the isotropic Gaussian N(mu, c^2 I)


def gaussian_D(mu: torch.Tensor):
    """Exact denoiser of N(mu, c^2 I): D(x, s) = mu + c^2 / (c^2 + s^2) (x - mu)."""
    return lambda x, s: mu + C2 / (C2 + float(s) ** 2) * (x - mu)


def exact_trajectory(B: int = 4, d: int = 3000, T: int = 30, seed: int = 0):
    """Exact PF-ODE path for N(mu, c^2 I): x_s - mu = sqrt((c^2+s^2) / (c^2+s_max^2)) (x_T - mu)."""
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(d, generator=g, dtype=torch.float64) * 0.1
    sigmas = torch.linspace(80, 0.002, T, dtype=torch.float64)
    xT = mu + 80 * torch.randn(B, d, generator=g, dtype=torch.float64)
    scale = ((C2 + sigmas ** 2) / (C2 + 80.0 ** 2)).sqrt()
    x = mu + scale[:, None, None] * (xT - mu)
    D = gaussian_D(mu)
    denoised = torch.stack([D(x[i], sigmas[i]) for i in range(T - 1)])
    return Trajectory(sigmas=sigmas, x=x, denoised=denoised), mu, xT


def test_eps_norm_matches_the_gaussian_closed_form():
    traj, mu, xT = exact_trajectory()
    n = magnitudes.norms(traj)
    s = traj.sigmas[:-1, None]
    want = s / (C2 + s ** 2).sqrt() * (xT - mu).norm(dim=-1) / math.sqrt(C2 + 80.0 ** 2)
    torch.testing.assert_close(n["eps"], want)
    assert n["x"].shape == n["denoised"].shape == (29, 4) and n["x_all"].shape == (30, 4)
    torch.testing.assert_close(n["x_all"][:-1], n["x"])
    # |eps| is sqrt(d) up to sampling noise while sigma >> c
    assert ((n["eps"][:10] / math.sqrt(3000) - 1).abs() < 0.05).all()


def test_eps_field_is_x_minus_d_over_sigma():
    x = torch.ones(2, 3, 4)
    e = magnitudes.eps(x, torch.zeros_like(x), torch.tensor([2.0, 4.0]))
    torch.testing.assert_close(e, torch.stack([x[0] / 2, x[1] / 4]).double())
    with pytest.raises(ValueError, match="sigma"):
        magnitudes.eps(x, x, torch.tensor([1.0, 0.0]))


def test_straight_trajectory_length_equals_chord():
    traj, mu, xT = exact_trajectory()
    L, C = magnitudes.sampling_length(traj), magnitudes.chord_length(traj)
    want = (xT - mu).norm(dim=-1) * (1 - math.sqrt((C2 + 0.002 ** 2) / (C2 + 80.0 ** 2)))
    torch.testing.assert_close(L, want)
    torch.testing.assert_close(C, want)
    table = magnitudes.length_table(traj)
    assert table["length/chord"] == pytest.approx(1.0, abs=1e-12)
    assert table["sigma_max_sqrt_d"] == pytest.approx(80 * math.sqrt(3000))
    assert table["length/sigma_max_sqrt_d"] == pytest.approx(1.0, abs=0.03)


def test_bent_path_is_longer_than_its_chord():
    x = torch.tensor([[0.0, 0.0], [3.0, 0.0], [3.0, 4.0]], dtype=torch.float64)[:, None]
    traj = Trajectory(sigmas=torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64), x=x,
                      denoised=torch.zeros(2, 1, 2, dtype=torch.float64))
    assert magnitudes.sampling_length(traj).item() == pytest.approx(7.0)
    assert magnitudes.chord_length(traj).item() == pytest.approx(5.0)


def test_euler_length_is_the_sigma_weighted_sum_of_eps_norms():
    """ICML Eq. 48: L = sum_n (sigma_n - sigma_{n+1}) |eps(x_n)| for Euler steps."""
    g = torch.Generator().manual_seed(3)
    mu = torch.randn(50, generator=g, dtype=torch.float64)
    D = gaussian_D(mu)
    sigmas = torch.tensor([80.0, 20.0, 5.0, 1.0, 0.1], dtype=torch.float64)
    xs, ds = [80 * torch.randn(2, 50, generator=g, dtype=torch.float64)], []
    for s, s_next in zip(sigmas[:-1], sigmas[1:], strict=True):
        ds.append(D(xs[-1], s))
        xs.append(xs[-1] + (s_next - s) * (xs[-1] - ds[-1]) / s)
    traj = Trajectory(sigmas=sigmas, x=torch.stack(xs), denoised=torch.stack(ds))
    e = magnitudes.norms(traj)["eps"]
    want = ((sigmas[:-1] - sigmas[1:])[:, None] * e).sum(0)
    torch.testing.assert_close(magnitudes.sampling_length(traj), want)


def test_optimal_gap_is_zero_for_the_optimal_denoiser_itself():
    traj, mu, _ = exact_trajectory(T=10)
    gap = magnitudes.optimal_gap(traj, gaussian_D(mu), batch_size=3)
    assert gap["d1"].abs().max() < 1e-9
    torch.testing.assert_close(gap["d2"], magnitudes.norms(traj)["eps"] * traj.sigmas[:-1, None])


def test_optimal_gap_against_a_shifted_denoiser():
    traj, mu, _ = exact_trajectory(T=10)
    shift = torch.zeros_like(mu)
    shift[0] = 2.0
    gap = magnitudes.optimal_gap(traj, gaussian_D(mu + shift))
    s2 = traj.sigmas[:-1, None] ** 2
    # D_shifted - D = shift * (1 - c^2/(c^2 + s^2)) = shift * s^2 / (c^2 + s^2)
    torch.testing.assert_close(gap["d1"], (2.0 * s2 / (C2 + s2)).expand(-1, 4))
    torch.testing.assert_close(gap["ratio"], gap["d1"] / gap["d2"])


def test_denoise_states_keeps_shape_and_dtype():
    traj, mu, _ = exact_trajectory(T=5)
    traj = Trajectory(sigmas=traj.sigmas, x=traj.x.float(), denoised=traj.denoised.float())
    out = magnitudes.denoise_states(lambda x, s: 2 * x, traj, batch_size=3)
    assert out.shape == traj.denoised.shape and out.dtype == torch.float32
    torch.testing.assert_close(out, 2 * traj.x[:-1])


def test_distances_to_one_point_and_between_stacks():
    a = torch.zeros(2, 3, 4)
    a[1] = 1.0
    torch.testing.assert_close(magnitudes.distances(a, torch.ones(4)),
                               torch.tensor([[2.0] * 3, [0.0] * 3], dtype=torch.float64))
    torch.testing.assert_close(magnitudes.distances(a, a), torch.zeros(2, 3, dtype=torch.float64))
    assert magnitudes.distances(a)[1].tolist() == [2.0, 2.0, 2.0]
