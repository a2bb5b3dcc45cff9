"""Evaluation helpers: NFE bookkeeping, batch-independent sampling, ODE error, propagated error."""

from __future__ import annotations

import math

import pytest
import torch

from trajreg import data, evaluate, schedules
from trajreg.denoisers import GaussianDenoiser


def point_mass(shape=(1, 4, 4)):
    """Data at one point mu: from x_T = 80 z the PF-ODE is x(sigma) = mu + sigma (z - mu / 80),
    a straight line in sigma, solved exactly by every solver."""
    mu = torch.linspace(-1, 1, math.prod(shape), dtype=torch.float64).reshape(shape)
    return GaussianDenoiser(mu, torch.zeros(mu.numel(), mu.numel(), dtype=torch.float64)), mu


def exact(mu, noise, sigma=0.002):
    return mu + sigma * (noise - mu / 80)


def test_n_steps_inverts_the_nfe_of_each_solver():
    assert evaluate.n_steps("ipndm", 5) == 5
    assert evaluate.n_steps("euler", 7) == 7
    assert evaluate.n_steps("heun", 6) == 3
    assert evaluate.n_steps("dpm2", 10) == 5
    assert evaluate.n_steps("heun", 5) is None
    with pytest.raises(ValueError, match="solver"):
        evaluate.n_steps("rk45", 5)


def test_baseline_uses_the_recommended_schedule():
    assert torch.equal(evaluate.baseline("ipndm", 5), schedules.polynomial(6, rho=7.0))
    assert torch.equal(evaluate.baseline("unipc", 4), schedules.logsnr(5))
    assert torch.equal(evaluate.baseline("deis", 6), schedules.time_uniform(7, rho=2.0))


def test_final_samples_do_not_depend_on_batching_and_are_exact_for_a_point_mass():
    D, mu = point_mass()
    noise = data.noise(range(7), mu.shape)
    sigmas = schedules.polynomial(6)
    a = evaluate.final_samples(D, noise, sigmas, "ipndm", batch_size=7)
    b = evaluate.final_samples(D, noise, sigmas, "ipndm", batch_size=3)
    assert torch.allclose(a, b, rtol=0, atol=1e-12)
    assert torch.allclose(a, exact(mu, noise), atol=1e-10)


def test_ode_error_is_the_rms_distance_per_coordinate():
    x = torch.zeros(3, 1, 2, 2)
    ref = torch.ones(3, 1, 2, 2)
    ref[1] *= 3
    assert torch.allclose(evaluate.ode_error(x, ref), torch.tensor([1.0, 3.0, 1.0],
                                                                   dtype=torch.float64))
    with pytest.raises(ValueError, match="shape"):
        evaluate.ode_error(x, ref[:2])


def test_evaluate_reports_nfe_and_error():
    D, mu = point_mass()
    noise = data.noise(range(4), mu.shape)
    ref = exact(mu, noise)
    r = evaluate.evaluate(D, noise, evaluate.baseline("heun", 3), "heun", schedule="poly",
                          x_ref=ref[:2], compute_fid=False)
    assert (r.solver, r.schedule, r.nfe, r.fid) == ("heun", "poly", 6, None)
    assert r.ode_error < 1e-10 and len(r.sigmas) == 4 and r.seconds >= 0


def test_propagated_error_is_zero_where_jumps_are_exact_and_bounded_by_the_local_one():
    from trajreg import gits

    D, mu = point_mass()
    warm = gits.warmup(D, data.noise(range(3), mu.shape), 11)
    out = evaluate.propagated_error(D, warm, [(0, 5), (2, 10), (4, 7)], n=3)
    assert [(r["i"], r["j"]) for r in out] == [(0, 5), (2, 10), (4, 7)]
    assert all(r["local"] < 1e-12 and r["propagated"] < 1e-12 for r in out)
    # a Gaussian with variance: the last jump's propagated error is its local one
    G = GaussianDenoiser.isotropic(mu, 0.25)
    warm = gits.warmup(G, data.noise(range(4), mu.shape), 11)
    last, mid = evaluate.propagated_error(G, warm, [(6, 10), (3, 6)], n=4)
    assert last["propagated"] == pytest.approx(last["local"], rel=1e-12)
    assert mid["local"] > 0 and mid["propagated"] > 0
