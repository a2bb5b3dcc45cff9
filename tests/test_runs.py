"""Cached runs on a model: seeds, reference solutions, evaluations, warm-ups, trajectories."""

from __future__ import annotations

import math

import torch

from trajreg import data, runs, schedules, trajectory
from trajreg.denoisers import GaussianDenoiser


def point_mass(shape=(1, 4, 4)):
    """Data at one point mu: the PF-ODE from x_T = 80 z is a straight line, solved exactly."""
    mu = torch.linspace(-1, 1, math.prod(shape), dtype=torch.float64).reshape(shape)
    return GaussianDenoiser(mu, torch.zeros(mu.numel(), mu.numel(), dtype=torch.float64)), mu


def exact(mu, noise, sigma=0.002):
    return mu + sigma * (noise - mu / 80)


def test_eval_seeds_are_disjoint_across_repeats():
    assert runs.eval_seeds(0, 4, 0) == range(0, 4)
    assert runs.eval_seeds(10, 4, 2) == range(18, 22)
    assert runs.WARMUP_SEED > 100_000


def test_cached_run_reference_and_warmup_on_a_registered_style_model(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAJREG_CACHE", str(tmp_path))
    D, mu = point_mass()
    model = runs.Model("point", "point", D, tuple(mu.shape))
    ref = runs.cached_reference(model, range(3), n_steps=20)
    assert torch.allclose(ref, exact(mu, data.noise(range(3), mu.shape)), atol=1e-10)
    r = runs.cached_run(model, "euler", schedules.polynomial(4), range(3), schedule="p",
                        x_ref=ref, compute_fid=False)
    assert r.nfe == 3 and r.ode_error < 1e-10 and r.schedule == "p"
    warm, seconds = runs.cached_warmup(model, 2, grid=11)
    assert warm.x.shape == (11, 2, *mu.shape) and seconds > 0
    assert len(list((tmp_path / "results").glob("*.pt"))) == 3
    again, _ = runs.cached_warmup(model, 2, grid=11)                  # loaded, not recomputed
    assert torch.equal(again.x, warm.x)


def test_cached_trajectories_equal_trajectory_sample(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAJREG_CACHE", str(tmp_path))
    G = GaussianDenoiser.isotropic(torch.zeros(1, 4, 4, dtype=torch.float64), 0.25)
    model = runs.Model("gauss", "gauss", G, (1, 4, 4))
    sigmas = model.polynomial(5)
    assert torch.equal(sigmas, schedules.polynomial(6, 0.002, 80.0, rho=7.0))
    got = runs.cached_trajectories(model, range(3), "euler", sigmas, batch_size=2)
    want = trajectory.sample(G, data.noise(range(3), (1, 4, 4), dtype=torch.float32), sigmas, "euler")
    assert torch.equal(got.x, want.x) and torch.equal(got.denoised, want.denoised)
    assert len(list((tmp_path / "results").glob("trajectories-*.pt"))) == 1
    again = runs.cached_trajectories(model, range(3), "euler", sigmas, batch_size=2)
    assert torch.equal(again.x, got.x)


def test_load_model_carries_the_registry_entry():
    m = runs.load_model("fmnist-edm")
    assert m.key.startswith("fmnist-edm@") and m.shape == (1, 28, 28)
    assert (m.sigma_min, m.sigma_max) == (0.002, 80.0)


def test_plotting_helpers_the_pages_share():
    from trajreg import plotting

    assert plotting.sig3(1234.5) == "1230" and plotting.sig3(0.000123456) == "0.000123"
    assert plotting.sig3(2.0) == "2"
    assert set(plotting.SOLVER_LABELS) <= set(schedules.RECOMMENDED) | {"euler"}
    assert set(plotting.MODEL_LABELS) == {"fmnist-edm", "kde-fmnist"}
