"""Align Your Steps (trajreg.ays): the KLUB estimator, its Gaussian closed form, the search."""

import math

import numpy as np
import pytest
import torch

from trajreg import ays, schedules

C, DIM = ays.C, 16


def gaussian_D(x, sigma):
    """Exact denoiser of N(0, c^2 I): D = c^2 / (c^2 + sigma^2) x; sigma scalar or (B,)."""
    s = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, *[1] * (x.ndim - 1))
    return C**2 / (C**2 + s**2) * x


def gaussian_x0(n=4096, seed=0):
    return C * torch.randn(n, DIM, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def closed_mass(a, b, c=C):
    """Z(a, b) from the antiderivatives: int dt/(t^3 (t^2+c^2)) and int dt/t^3."""
    F = lambda t: -1 / (2 * c**2 * t**2) - math.log(t) / c**4 + math.log(t**2 + c**2) / (2 * c**4)  # noqa: E731
    return (F(b) - F(a)) - (1 / (2 * a**2) - 1 / (2 * b**2)) / (b**2 + c**2)


@pytest.mark.parametrize("a,b", [(0.002, 0.01), (0.1, 0.9), (0.5, 3.0), (10.0, 80.0)])
def test_proposal_mass_matches_closed_form(a, b):
    assert ays.pi_mass(a, b) == pytest.approx(closed_mass(a, b), rel=1e-5)


def test_gaussian_lemma_estimator_is_exact_up_to_monte_carlo():
    """Lemma 3.3: for N(0, c^2 I) the ratio's expectation is c^4 d, so the estimate is c^4 d Z."""
    x0 = gaussian_x0()
    g = torch.Generator().manual_seed(1)
    M = 4096
    eps, eps2 = (torch.randn(M, DIM, generator=g, dtype=torch.float64) for _ in range(2))
    q = torch.rand(M, generator=g, dtype=torch.float64).numpy()
    for lo, mid, up in [(0.05, 0.3, 1.0), (0.5, 2.0, 10.0)]:
        est = ays.klub_interval(gaussian_D, x0[:M], lo, mid, up, eps, eps2, q)
        exact = C**4 * DIM * (ays.pi_mass(lo, mid) + ays.pi_mass(mid, up))
        assert est == pytest.approx(exact, rel=0.05)


def test_closed_form_optimum_is_the_minimum_of_the_gaussian_klub():
    for a, b in [(0.002, 80.0), (0.1, 2.0), (1.0, 30.0)]:
        t = ays.klub_optimal_gaussian(a, b)
        def f(m, a=a, b=b):
            return ays.pi_mass(a, m) + ays.pi_mass(m, b)
        grid = np.exp(np.linspace(math.log(a), math.log(b), 401)[1:-1])
        best = grid[np.argmin([f(m) for m in grid])]
        assert a < t < b
        assert f(t) <= f(best) * (1 + 1e-6)
        assert abs(math.log(best / t)) < 2 * math.log(b / a) / 400


def test_search_on_gaussian_data_lowers_the_exact_klub_towards_the_closed_form():
    x0 = gaussian_x0()
    s0 = schedules.polynomial(4, 0.002, 80.0)
    s, info = ays.optimise(gaussian_D, x0, s0, sweeps=6, n_mc=256, seed=0)
    assert ays.klub_gaussian(s, dim=DIM) < 0.7 * ays.klub_gaussian(s0, dim=DIM)
    assert info["nfe"] == 2 * 256 * ays.N_CANDIDATES * sum(1 for _ in range(info["sweeps"])) * 2
    # each interior point sits near the Gaussian optimum given its neighbours (one candidate step)
    for i in (1, 2):
        t = ays.klub_optimal_gaussian(float(s[i + 1]), float(s[i - 1]))
        width = math.log(float(s[i - 1]) / float(s[i + 1]))
        assert abs(math.log(float(s[i]) / t)) < 0.25 * width


def test_subdivide_and_loglinear_interp():
    s = schedules.polynomial(11)
    d = ays.subdivide(s)
    assert len(d) == 21 and torch.equal(d[0::2], s)
    torch.testing.assert_close(d[1::2], (s[:-1] * s[1:]).sqrt())
    torch.testing.assert_close(ays.loglinear_interp(s, 11), s)
    torch.testing.assert_close(ays.loglinear_interp(d, 11), s)      # the even points are the old ones
    r = ays.loglinear_interp(torch.tensor(ays.SD15_SIGMAS, dtype=torch.float64), 6)
    assert r[0] == 14.615 and r[-1] == 0.029 and bool((r[:-1] > r[1:]).all())
    # halfway between two published points in the index lies their geometric mean
    torch.testing.assert_close(ays.loglinear_interp(torch.tensor([8.0, 2.0]), 3)[1],
                               torch.tensor(4.0, dtype=torch.float64))


def test_optimise_keeps_frozen_points_and_ends():
    x0 = gaussian_x0(512)
    s0 = ays.subdivide(schedules.polynomial(4))
    s, _ = ays.optimise(gaussian_D, x0, s0, free=[1, 3, 5], sweeps=2, n_mc=32)
    assert torch.equal(s[0::2], s0[0::2])
    assert bool((s[:-1] > s[1:]).all())


def test_bad_inputs_raise():
    x0 = gaussian_x0(64)
    s0 = schedules.polynomial(4)
    with pytest.raises(ValueError, match="free"):
        ays.optimise(gaussian_D, x0, s0, free=[0])
    with pytest.raises(ValueError, match="n_mc"):
        ays.optimise(gaussian_D, x0, s0, n_mc=1)
    with pytest.raises(ValueError, match="sigma > 0"):
        ays.optimise(gaussian_D, x0, torch.cat([s0, torch.zeros(1, dtype=torch.float64)]))
    with pytest.raises(ValueError, match="n must be"):
        ays.loglinear_interp(s0, 1)


def test_registered_search_method_counts_its_evaluations():
    from trajreg import search

    x0 = gaussian_x0(256)
    noise = torch.randn(4, DIM, dtype=torch.float64)
    r = search.search("ays", gaussian_D, noise, 5, "ipndm", x0=x0, n_mc=4, progress=False)
    assert len(r.sigmas) == 6 and r.nfe == r.info["nfe"] > 0
    assert set(r.info["levels"]) == {10, 20}          # search's AYS: 10 steps, then 20 (the paper's)
    torch.testing.assert_close(r.sigmas, ays.loglinear_interp(torch.tensor(r.info["levels"][20]), 6))
    with pytest.raises(ValueError, match="x0"):
        search.search("ays", gaussian_D, noise, 5, "ipndm")
