"""Schedule-search methods on a Gaussian, where the PF-ODE solution is known in closed form:
x(s) - mu = (Sigma + s^2 I)^{1/2} (Sigma + t^2 I)^{-1/2} (x(t) - mu)."""

import itertools

import pytest
import torch
from _problems import gaussian_problem  # noqa: E402

from trajreg import gits, models, schedules, search, solvers
from trajreg.denoisers import GaussianDenoiser

DIM, B = 6, 8


@pytest.fixture(scope="module")
def gauss():
    """(denoiser, search noise, exact solutions at sigma_min of x_T = 80 noise)."""
    return gaussian_problem(0, B, DIM)


def err(gauss, sigmas, solver):
    D, noise, x_ref = gauss
    return float(search.ode_errors(D, noise, sigmas, solver, x_ref).mean())


def kw(method, gauss, **extra):
    return (({"x_ref": gauss[2]} if method in ("learned", "exhaustive") else {})
            | ({"x0": gauss[2], "n_mc": 16} if method == "ays" else {}) | extra)


def test_reference_solver_matches_the_closed_form(gauss):
    D, noise, x_ref = gauss
    assert float((search.reference(D, noise) - x_ref).abs().max()) < 1e-3


@pytest.mark.parametrize("solver", search.STEPPERS)
@pytest.mark.parametrize("method", list(search.METHODS))
def test_every_method_gives_a_valid_schedule_no_worse_than_twice_polynomial(gauss, method,
                                                                             solver):
    D, noise, _ = gauss
    r = search.search(method, D, noise, 4, solver, **kw(method, gauss))
    s = r.sigmas
    assert s.dtype == torch.float64 and len(s) == 5
    assert float(s[0]) == 80.0 and float(s[-1]) == pytest.approx(0.002)
    assert (s[1:] < s[:-1]).all()
    assert r.method == method and r.seconds >= 0 and r.nfe >= 0
    assert (r.nfe == 0) == (method in search.MODEL_FREE)
    assert err(gauss, s, solver) <= 2 * err(gauss, schedules.polynomial(5), solver)
    assert search.as_diffusers(s)[-1] == 0.0 and len(search.as_list(s)) == 5


@pytest.mark.parametrize("solver", search.STEPPERS)
def test_stepper_matches_the_package_solvers(gauss, solver):
    D, noise, _ = gauss
    s = schedules.polynomial(6)
    ours = search._solve(D, 80.0 * noise, s, solver)
    theirs = solvers.get(solver)(D, 80.0 * noise, s)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("solver", search.STEPPERS)
def test_exhaustive_equals_brute_force(gauss, solver):
    D, noise, x_ref = gauss
    grid, K = search.coarse_grid(7), 3
    r = search.search("exhaustive", D, noise, K, solver, grid=grid, x_ref=x_ref)
    brute = {(0, *mid, 6): err(gauss, grid[[0, *mid, 6]], solver)
             for mid in itertools.combinations(range(1, 6), K - 1)}
    assert set(r.info["errors"]) == set(brute)
    for path, e in brute.items():
        assert r.info["errors"][path] == pytest.approx(e, rel=1e-9)
    assert tuple(r.info["path"]) == min(brute, key=brute.get)
    # one evaluation per prefix and sample: 1 + 5 + 10 prefixes of length 1, 2, 3 ending < 6
    assert r.nfe == B * (1 + 4 + sum(range(1, 5))) + B * 100


@pytest.mark.parametrize("solver", search.STEPPERS)
def test_exhaustive_optimum_beats_every_method_on_its_grid(gauss, solver):
    D, noise, x_ref = gauss
    grid, K = search.coarse_grid(7), 3
    best = search.search("exhaustive", D, noise, K, solver, grid=grid, x_ref=x_ref).info["error"]
    on_grid = [search.schedule(m, D, noise, K, solver, grid=grid)
               for m in ("gits-l2", "gits-dev", "gits-propagated", "oss")]
    on_grid.append(schedules.polynomial(K + 1))           # = grid[::2]
    for s in on_grid:
        assert all(torch.isclose(grid, v).any() for v in s)
        assert best <= err(gauss, s, solver) + 1e-12


@pytest.mark.parametrize("method", ["gits-l2", "gits-dev", "gits-propagated", "oss",
                                    "exhaustive"])
def test_full_budget_returns_the_full_grid(gauss, method):
    D, noise, _ = gauss
    grid = search.coarse_grid(6)
    s = search.schedule(method, D, noise, 5, "ipndm", **kw(method, gauss, grid=grid))
    torch.testing.assert_close(s, grid)


def test_one_step_is_the_jump_to_sigma_min(gauss):
    D, noise, _ = gauss
    for method in ("gits-l2", "gits-propagated", "oss", "exhaustive"):
        s = search.schedule(method, D, noise, 1, "euler", **kw(method, gauss, grid=8))
        assert s.tolist() == [80.0, pytest.approx(0.002)]


def test_propagated_cost_lands_on_the_l2_cost_at_sigma_min(gauss):
    D, noise, _ = gauss
    warm = gits.warmup(D, noise, 9)
    C, L2 = search.propagated_cost(D, warm), gits.cost_matrix(warm, "l2")
    torch.testing.assert_close(C[:-1, -1], L2[:-1, -1])
    assert torch.isinf(C.tril()).sum() == 9 * 10 // 2
    # a jump to the next grid point costs less at the end than a long one from the start
    assert float(C[0, 1]) < float(C[0, 7])


def test_oss_paths_for_every_K_equal_single_K_searches(gauss):
    D, noise, _ = gauss
    r = search.search("oss", D, noise, 5, "ipndm", grid=15, all_steps=True)
    for K in range(1, 6):
        single = search.search("oss", D, noise, K, "ipndm", grid=15)
        torch.testing.assert_close(r.info["paths"][K], single.sigmas)
        assert single.nfe == search.oss_nfe(15, K, B)


def test_gits_wrappers_equal_gits_schedule_and_count_the_warmup(gauss):
    D, noise, _ = gauss
    r = search.search("gits-l2", D, noise, 4, grid=21)
    torch.testing.assert_close(r.sigmas, gits.schedule(D, noise, 4, grid=21, metric="l2"))
    assert r.nfe == B * 20
    warm = gits.warmup(D, noise, 21)
    again = search.search("gits-l2", D, noise, 4, warm=warm)
    torch.testing.assert_close(again.sigmas, r.sigmas)
    assert again.nfe == r.nfe and again.info["reused_warmup"]


@pytest.mark.parametrize("solver", search.STEPPERS)
def test_learned_improves_on_its_initialisation(gauss, solver):
    D, noise, x_ref = gauss
    r = search.search("learned", D, noise, 4, solver, x_ref=x_ref, iters=15)
    hist = r.info["loss_history"]
    assert hist[0] == pytest.approx(err(gauss, schedules.polynomial(5), solver))
    assert err(gauss, r.sigmas, solver) == pytest.approx(min(hist))
    assert min(hist) < 0.9 * hist[0]


def test_learned_differentiates_through_a_network_under_inference_mode(gauss):
    _, noise, _ = gauss

    class Unit(torch.nn.Module):                    # denoiser of N(0, I): D = x / (1 + s^2)
        def forward(self, x, sigma):
            return x / (1 + torch.as_tensor(sigma, dtype=x.dtype) ** 2)

    D = models.NoGrad(Unit())
    x_ref = 80.0 * noise * ((1 + 0.002**2) / (1 + 80.0**2)) ** 0.5
    r = search.search("learned", D, noise, 3, "euler", x_ref=x_ref, iters=10)
    assert min(r.info["loss_history"]) < r.info["loss_history"][0]


def test_bad_input_names_the_parameter(gauss):
    D, noise, _ = gauss
    with pytest.raises(ValueError, match="method"):
        search.search("magic", D, noise, 4)
    with pytest.raises(ValueError, match="solver"):
        search.search("oss", D, noise, 4, "dpmpp_2m")
    with pytest.raises(ValueError, match="solver"):
        search.search("polynomial", D, noise, 4, "rk45")
    with pytest.raises(ValueError, match="K must"):
        search.search("polynomial", D, noise, 0)
    with pytest.raises(ValueError, match="K must lie in 1..5"):
        search.search("exhaustive", D, noise, 6, grid=6, x_ref=gauss[2])
    with pytest.raises(ValueError, match="x_ref"):
        search.search("learned", D, noise, 3, x_ref=noise[:2])
    with pytest.raises(ValueError, match="noise"):
        search.search("oss", D, noise[0], 3)


def test_ode_errors_passes_solver_options():
    # the thresholding switch reaches the solver (on is wrong for this Gaussian, off its default)
    D = GaussianDenoiser(torch.zeros(4), 4.0 * torch.eye(4), dtype=torch.float64)
    noise = torch.randn(8, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    s = schedules.polynomial(6, 0.002, 80.0)
    ref = search.reference(D, noise)
    on = search.ode_errors(D, noise, s, "unipc", ref, thresholding=True)
    off = search.ode_errors(D, noise, s, "unipc", ref)
    assert not torch.allclose(on, off)
    assert off.mean() < on.mean()


@pytest.mark.parametrize("method", list(search.METHODS))
def test_every_method_takes_the_same_options(gauss, method):
    """One set of keyword arguments serves every method (each reads what it needs)."""
    D, noise, x_ref = gauss
    r = search.search(method, D, noise, 3, "euler", grid=search.coarse_grid(9), x_ref=x_ref, iters=2,
                      gamma=1.1, progress=False, x0=x_ref, n_mc=16)
    assert len(r.sigmas) == 4


@pytest.mark.parametrize("method", [m for m in search.METHODS if m not in search.MODEL_FREE])
@pytest.mark.parametrize("bad", ["shape", "nan"])
def test_a_broken_denoiser_raises_instead_of_yielding_a_schedule(gauss, method, bad):
    D, noise, _ = gauss

    def broken(x, sigma):
        out = D(x, sigma)
        return out[:, :-1] if bad == "shape" else out * float("nan")

    with pytest.raises(ValueError, match="input's shape" if bad == "shape" else "non-finite"):
        search.search(method, broken, noise, 3, "euler", grid=9, iters=1, x0=noise, n_mc=4)


def test_shared_work_is_computed_once_and_charged_to_every_use(gauss):
    D, noise, _ = gauss
    shared = search.Shared()
    first = search.search("gits-dev", D, noise, 4, grid=21, shared=shared)
    again = search.search("oss", D, noise, 4, grid=21, shared=shared)
    alone = search.search("oss", D, noise, 4, grid=21)
    assert first.nfe == B * 20 and again.nfe == alone.nfe == search.oss_nfe(21, 4, B)
    assert again.seconds >= shared._memo[next(iter(shared._memo))][2]
    ref = shared.reference(D, noise)
    learned = search.search("learned", D, noise, 3, "euler", iters=2, shared=shared)
    own = search.search("learned", D, noise, 3, "euler", iters=2)
    assert learned.nfe == own.nfe and torch.equal(learned.sigmas, own.sigmas)
    torch.testing.assert_close(ref, search.reference(D, noise))
