import pytest
import torch

from trajreg import data, geometry
from trajreg.denoisers import Counted, GaussianDenoiser, KDEDenoiser
from trajreg.trajectory import Trajectory, sample

SIGMAS = torch.tensor([80.0, 20.0, 5.0, 1.0, 0.2, 0.002], dtype=torch.float64)


def test_point_mass_gives_straight_exact_trajectory():
    # D(x, sigma) = y for all x: from x_80 = 80 noise the PF-ODE solution is the straight line
    # x_sigma = y + (sigma / 80) (x_80 - y), on which Euler is exact
    y = torch.tensor([[[0.5, -1.0], [2.0, 0.0]]], dtype=torch.float64)
    noise = data.noise(range(3), (2, 2))
    traj = sample(KDEDenoiser(y), noise, SIGMAS, store_dtype=torch.float64)
    expected = y + (SIGMAS / 80)[:, None, None, None] * (80 * noise - y)
    torch.testing.assert_close(traj.x, expected)
    torch.testing.assert_close(traj.denoised, y.expand(5, 3, 2, 2))
    dev = geometry.sampling_deviation(traj)
    torch.testing.assert_close(dev, torch.zeros_like(dev), rtol=0, atol=1e-10)


def test_records_states_and_denoiser_outputs():
    mu = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    D = GaussianDenoiser.isotropic(mu, 0.3)
    noise = data.noise(range(4), (3,))
    traj = sample(D, noise, SIGMAS, store_dtype=torch.float64)
    assert isinstance(traj, Trajectory)
    assert traj.x.shape == (6, 4, 3) and traj.denoised.shape == (5, 4, 3)
    assert (traj.n_samples, traj.dim) == (4, 3)
    torch.testing.assert_close(traj.x[0], 80 * noise)
    torch.testing.assert_close(traj.final, traj.x[-1])
    for i in range(5):
        torch.testing.assert_close(traj.denoised[i], D(traj.x[i], SIGMAS[i]))
        # Euler: x_{i+1} = x_i + (sigma_{i+1} - sigma_i) (x_i - D_i) / sigma_i
        step = (SIGMAS[i + 1] - SIGMAS[i]) * (traj.x[i] - traj.denoised[i]) / SIGMAS[i]
        torch.testing.assert_close(traj.x[i + 1], traj.x[i] + step)
    assert traj.sigmas.dtype == torch.float64


def test_batches_do_not_change_results_and_count_nfe():
    g = torch.Generator().manual_seed(0)
    D = Counted(KDEDenoiser(torch.randn(40, 1, 3, 3, generator=g, dtype=torch.float64)))
    noise = data.noise(range(7), (1, 3, 3))
    whole = sample(D, noise, SIGMAS, store_dtype=torch.float64)
    assert D.calls == 5 and D.samples == 35
    parts = sample(D, noise, SIGMAS, batch_size=3, progress=True, store_dtype=torch.float64)
    assert D.calls == 5 + 3 * 5
    torch.testing.assert_close(parts.x, whole.x, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(parts.denoised, whole.denoised, rtol=1e-12, atol=1e-12)


def test_default_storage_is_float32_cpu():
    D = GaussianDenoiser.isotropic(torch.zeros(2, dtype=torch.float64))
    traj = sample(D, data.noise([0, 1], (2,)), SIGMAS)
    assert traj.x.dtype == torch.float32 and traj.denoised.dtype == torch.float32
    assert traj.x.device.type == "cpu"


def test_bad_inputs_raise():
    D = GaussianDenoiser.isotropic(torch.zeros(2, dtype=torch.float64))
    noise = data.noise([0], (2,))
    with pytest.raises(ValueError, match="sigmas"):
        sample(D, noise, torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="noise"):
        sample(D, torch.zeros(2), SIGMAS)
    with pytest.raises(ValueError, match="noise"):
        sample(D, torch.full((1, 2), float("nan")), SIGMAS)
    with pytest.raises(ValueError, match="batch_size"):
        sample(D, noise, SIGMAS, batch_size=-1)
    with pytest.raises(ValueError, match="euler"):
        sample(D, noise, SIGMAS, solver="no-such-solver")


def test_a_solver_function_works_like_its_name():
    from trajreg import solvers

    D = GaussianDenoiser.isotropic(torch.tensor([1.0, -2.0], dtype=torch.float64), 0.3)
    noise = data.noise(range(3), (2,))
    by_name = sample(D, noise, SIGMAS, "heun", store_dtype=torch.float64)
    by_function = sample(D, noise, SIGMAS, solvers.heun, store_dtype=torch.float64)
    torch.testing.assert_close(by_function.x, by_name.x, rtol=0, atol=0)
    torch.testing.assert_close(by_function.denoised, by_name.denoised, rtol=0, atol=0)
