"""The "refined" search (``trajreg.refine``) on a Gaussian, whose PF-ODE solution is known in closed
form: x(s) - mu = (Sigma + s^2 I)^{1/2} (Sigma + t^2 I)^{-1/2} (x(t) - mu)."""

import pytest
import torch
from _problems import gaussian_problem  # noqa: E402

from trajreg import refine, schedules, search
from trajreg.denoisers import Counted

DIM, B = 6, 16


@pytest.fixture(scope="module")
def gauss():
    """(denoiser, search noise, exact solutions at sigma_min of x_T = 80 noise)."""
    return gaussian_problem(1, B, DIM)


def err(gauss, sigmas, solver):
    D, noise, x_ref = gauss
    return float(search.ode_errors(D, noise, sigmas, solver, x_ref).mean())


@pytest.mark.parametrize("solver", refine.SOLVERS)
@pytest.mark.parametrize("K", [3, 5])
def test_refined_is_no_worse_than_its_exhaustive_start_and_keeps_the_ends(gauss, solver, K):
    D, noise, x_ref = gauss
    ex = search.search("exhaustive", D, noise, K, solver, x_ref=x_ref, grid=8)
    r = search.search("refined", D, noise, K, solver, x_ref=x_ref, grid=8)
    s = r.sigmas
    assert len(s) == K + 1 and (s[1:] < s[:-1]).all()
    assert float(s[0]) == 80.0 and float(s[-1]) == pytest.approx(0.002)
    assert torch.equal(r.info["start"], ex.sigmas)
    assert r.info["start_error"] == pytest.approx(ex.info["error"], rel=1e-9)
    # the reported error is the solver's own (search.ode_errors), and never above the start's
    assert r.info["error"] == pytest.approx(err(gauss, s, solver), rel=1e-9)
    assert err(gauss, s, solver) <= err(gauss, ex.sigmas, solver)
    assert r.nfe > ex.nfe and r.info["history"] == sorted(r.info["history"], reverse=True)


@pytest.mark.parametrize("solver", refine.SOLVERS)
def test_refine_improves_a_poor_start_substantially(gauss, solver):
    D, noise, x_ref = gauss
    start = schedules.time_uniform(6)      # far from good for this Gaussian
    r = refine.refine(D, noise, start, solver, x_ref, max_sweeps=8, folds=1)
    assert r["accepted"] > 0
    assert err(gauss, r["sigmas"], solver) < 0.8 * err(gauss, start, solver)


def test_refine_is_deterministic(gauss):
    D, noise, x_ref = gauss
    a = search.search("refined", D, noise, 4, "ipndm", x_ref=x_ref, grid=8)
    b = search.search("refined", D, noise, 4, "ipndm", x_ref=x_ref, grid=8)
    assert torch.equal(a.sigmas, b.sigmas) and a.nfe == b.nfe


def test_refine_costs_what_the_prefix_cache_predicts(gauss):
    """Per sweep, coordinate i costs K - i evaluations per sample per trial (2 trials); plus the
    first solve of the start (K per sample)."""
    D, noise, x_ref = gauss
    K = 5
    c = Counted(D)
    r = refine.refine(c, noise, schedules.polynomial(K + 1), "euler", x_ref, max_sweeps=2)
    assert r["sweeps"] == 2
    assert c.samples == B * K + r["sweeps"] * B * 2 * sum(K - i for i in range(1, K))


def test_no_fold_may_get_worse(gauss):
    """With one fold per noise, a kept move lowers no noise's error."""
    D, noise, x_ref = gauss
    start = schedules.time_uniform(5)
    r = refine.refine(D, noise, start, "ipndm", x_ref, folds=B, max_sweeps=3)
    e0 = search.ode_errors(D, noise, start, "ipndm", x_ref)
    e1 = search.ode_errors(D, noise, r["sigmas"], "ipndm", x_ref)
    assert (e1 <= e0 + 1e-12).all()


def test_zero_sweeps_returns_the_start(gauss):
    D, noise, x_ref = gauss
    start = schedules.polynomial(5)
    r = refine.refine(D, noise, start, "euler", x_ref, max_sweeps=0)
    assert torch.equal(r["sigmas"], start) and r["sweeps"] == 0


@pytest.mark.parametrize("kw, match", [
    ({"solver": "heun"}, "solver"),
    ({"sigmas": torch.tensor([80.0, 1.0, 2.0, 0.002], dtype=torch.float64)}, "descending"),
    ({"sigmas": torch.tensor([80.0, 1.0, 0.0], dtype=torch.float64)}, "sigma > 0"),
    ({"x_ref": torch.zeros(B, DIM + 1, dtype=torch.float64)}, "x_ref"),
    ({"x_ref": None}, "x_ref"),
    ({"step_frac": 1.0}, "step_frac"),
    ({"min_frac": 0.0}, "min_frac"),
    ({"max_sweeps": -1}, "max_sweeps"),
    ({"max_sweeps": 2.5}, "max_sweeps"),
    ({"rtol": 1.0}, "rtol"),
    ({"folds": 0}, "folds"),
    ({"folds": B + 1}, "folds"),
])
def test_bad_input_names_the_parameter(gauss, kw, match):
    D, noise, x_ref = gauss
    args = {"solver": "euler", "sigmas": schedules.polynomial(5), "x_ref": x_ref} | kw
    sig, solver, ref = args.pop("sigmas"), args.pop("solver"), args.pop("x_ref")
    with pytest.raises(ValueError, match=match):
        refine.refine(D, noise, sig, solver, ref, **args)


@pytest.mark.parametrize("bad, match", [
    (lambda x, s: x[:, :-1], "shape"),
    (lambda x, s: torch.full_like(x, float("nan")), "NaN"),
])
def test_a_broken_denoiser_raises_instead_of_returning_a_schedule(gauss, bad, match):
    _, noise, x_ref = gauss
    with pytest.raises(ValueError, match=match):
        refine.refine(bad, noise, schedules.polynomial(5), "ipndm", x_ref)


def test_registered_and_rejects_unknown_solver(gauss):
    D, noise, x_ref = gauss
    assert "refined" in search.METHODS
    with pytest.raises(ValueError, match="solver"):
        search.search("refined", D, noise, 4, "heun", x_ref=x_ref, grid=8)


def test_a_better_start_on_every_fold_replaces_the_first_and_a_worse_one_does_not(gauss):
    D, noise, x_ref = gauss
    poor, good = schedules.time_uniform(5), schedules.polynomial(5)
    assert err(gauss, good, "ipndm") < 0.8 * err(gauss, poor, "ipndm")
    r = refine.refine(D, noise, [poor, good], "ipndm", x_ref, max_sweeps=0, folds=2)
    assert r["start_index"] == 1 and torch.equal(r["sigmas"], good)
    assert r["start_errors"] == pytest.approx([err(gauss, poor, "ipndm"), err(gauss, good, "ipndm")])
    r = refine.refine(D, noise, [good, poor], "ipndm", x_ref, max_sweeps=0, folds=2)
    assert r["start_index"] == 0 and torch.equal(r["sigmas"], good)


def test_multistart_is_registered_and_no_worse_than_refined(gauss):
    D, noise, x_ref = gauss
    a = search.search("refined", D, noise, 4, "euler", x_ref=x_ref, grid=8)
    b = search.search("refined-multistart", D, noise, 4, "euler", x_ref=x_ref, grid=8)
    assert set(b.info["candidates"]) == {"exhaustive", *refine.MULTISTART}
    assert b.info["start_method"] in b.info["candidates"]
    assert b.info["start_error"] <= a.info["start_error"] and b.nfe > a.nfe
    with pytest.raises(ValueError, match="candidates"):
        search.search("refined", D, noise, 4, "euler", x_ref=x_ref, grid=8, candidates=("bogus",))


def test_starts_of_different_lengths_are_refused(gauss):
    D, noise, x_ref = gauss
    with pytest.raises(ValueError, match=r"sigmas\[1\]"):
        refine.refine(D, noise, [schedules.polynomial(5), schedules.polynomial(6)], "euler", x_ref)
    with pytest.raises(ValueError, match="non-empty"):
        refine.refine(D, noise, [], "euler", x_ref)
