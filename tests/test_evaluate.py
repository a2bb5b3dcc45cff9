"""Evaluation helpers: NFE bookkeeping, batch-independent sampling, ODE error, result caching."""

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


def test_cached_stores_by_key_and_source(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": torch.arange(3)}

    a = evaluate.cached("t", {"n": 1, "seeds": range(4)}, compute, folder=tmp_path)
    b = evaluate.cached("t", {"n": 1, "seeds": range(4)}, compute, folder=tmp_path)
    assert len(calls) == 1 and torch.equal(a["x"], b["x"])
    evaluate.cached("t", {"n": 2, "seeds": range(4)}, compute, folder=tmp_path)
    evaluate.cached("t", {"n": 1, "seeds": range(5)}, compute, folder=tmp_path)
    assert len(calls) == 3
    assert len(list(tmp_path.glob("t-*.pt"))) == 3
    assert len(evaluate.source_hash()) == 64


def test_seeds_are_disjoint_across_repeats():
    assert evaluate.seeds(0, 4, 0) == range(0, 4)
    assert evaluate.seeds(10, 4, 2) == range(18, 22)
    assert evaluate.WARMUP_SEED > 100_000


def test_run_and_reference_on_a_registered_style_model(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAJREG_CACHE", str(tmp_path))
    D, mu = point_mass()
    model = evaluate.Model("point", "point", D, tuple(mu.shape))
    ref = evaluate.reference(model, range(3), n_steps=20)
    assert torch.allclose(ref, exact(mu, data.noise(range(3), mu.shape)), atol=1e-10)
    r = evaluate.run(model, "euler", schedules.polynomial(4), range(3), schedule="p",
                     x_ref=ref, compute_fid=False)
    assert r.nfe == 3 and r.ode_error < 1e-10
    warm, seconds = evaluate.warmup(model, 2, grid=11)
    assert warm.x.shape == (11, 2, *mu.shape) and seconds > 0
    assert len(list((tmp_path / "results").glob("*.pt"))) == 3


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
