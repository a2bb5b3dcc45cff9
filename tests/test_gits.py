"""GITS: search against brute force, cost matrix against closed forms on Gaussian data, exports."""

from __future__ import annotations

import itertools
import math
import time

import pytest
import torch

from trajreg import gits, schedules
from trajreg.denoisers import GaussianDenoiser
from trajreg.trajectory import Trajectory

# --- search: the dynamic programme --------------------------------------------------------------


def brute_force(cost: torch.Tensor, K: int, gamma: float) -> tuple[tuple[int, ...], float, int]:
    """Lexicographically first path among those of minimal sum_m gamma^m c[i_m, i_{m+1}], that
    minimum, and how many paths attain it exactly."""
    N, c = cost.shape[0], cost.tolist()
    best, best_val, n_best = None, math.inf, 0
    for inner in itertools.combinations(range(1, N - 1), K - 1):   # lexicographic order
        path = (0, *inner, N - 1)
        val = sum(gamma**m * c[a][b] for m, (a, b) in enumerate(itertools.pairwise(path)))
        if val < best_val:
            best, best_val, n_best = path, val, 1
        elif val == best_val:
            n_best += 1
    return best, best_val, n_best


@pytest.mark.parametrize("gamma", [0.8, 1.0, 1.15, 1.5])
@pytest.mark.parametrize("N", [3, 5, 8, 11])
def test_search_equals_brute_force_on_random_matrices(N, gamma):
    for seed in range(12):
        g = torch.Generator().manual_seed(seed)
        cost = torch.rand(N, N, generator=g, dtype=torch.float64)
        for K in range(1, N):
            path, val, _ = brute_force(cost, K, gamma)
            got = gits.optimal_path(cost, K, gamma)
            assert tuple(got.tolist()) == path, (seed, K)
            assert gits.path_cost(cost, got, gamma) == pytest.approx(val, rel=1e-12)


@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("N", [4, 6, 9])
def test_search_breaks_ties_toward_smaller_indices(N, gamma):
    """Small integer costs and gamma a power of two: exact arithmetic, many exact ties."""
    n_ties = 0
    for seed in range(15):
        g = torch.Generator().manual_seed(100 + seed)
        cost = torch.randint(0, 3, (N, N), generator=g).to(torch.float64)
        for K in range(1, N):
            path, val, n_best = brute_force(cost, K, gamma)
            assert tuple(gits.optimal_path(cost, K, gamma).tolist()) == path, (seed, K)
            n_ties += n_best > 1
    assert n_ties >= 3                      # the test did exercise ties


def test_search_all_gives_every_K_from_one_table():
    cost = torch.rand(21, 21, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    every = gits.optimal_paths(cost, 12, 1.15)
    assert sorted(every) == list(range(1, 13))
    for K, path in every.items():
        assert torch.equal(path, gits.optimal_path(cost, K, 1.15))
        assert len(path) == K + 1 and path[0] == 0 and path[-1] == 20
        assert (path.diff() > 0).all()


def test_search_reads_only_the_upper_triangle_and_inf_forbids_jumps():
    g = torch.Generator().manual_seed(7)
    cost = torch.rand(9, 9, generator=g, dtype=torch.float64)
    official = cost.triu(1)                 # the authors' matrix: zeros on and below the diagonal
    scrambled = cost.triu(1) + (-5 * torch.ones(9, 9)).tril()
    for K in range(1, 9):
        assert torch.equal(gits.optimal_path(official, K), gits.optimal_path(scrambled, K))
    forbidden = cost.clone()
    forbidden[0, 1:5] = math.inf            # the first jump must reach index >= 5
    for K in range(1, 5):
        path, *_ = brute_force(forbidden, K, 1.15)
        assert tuple(gits.optimal_path(forbidden, K).tolist()) == path
        assert gits.optimal_path(forbidden, K)[1] >= 5 or K == 1
    with pytest.raises(ValueError, match="no 5-step path"):
        gits.optimal_path(forbidden, 5)           # needs a first jump to <= 4
    assert 5 not in gits.optimal_paths(forbidden, 6) and 4 in gits.optimal_paths(forbidden, 6)


def test_gamma_above_one_pushes_points_toward_the_end():
    """With a constant cost every path costs the same at gamma = 1; gamma > 1 makes later
    jumps dearer, so the optimum takes its first jump as long as possible (and vice versa)."""
    cost = torch.ones(11, 11, dtype=torch.float64)
    assert gits.optimal_path(cost, 3, 1.0).tolist() == [0, 1, 2, 10]      # tie -> smallest indices
    assert gits.optimal_path(cost, 3, 0.9).tolist() == [0, 1, 2, 10]
    # length-dependent cost: a jump over n grid points costs n^2
    idx = torch.arange(11, dtype=torch.float64)
    cost = (idx[None, :] - idx[:, None]) ** 2
    even = gits.optimal_path(cost, 2, 1.0).tolist()
    assert even == [0, 5, 10]
    assert gits.optimal_path(cost, 2, 1.5).tolist()[1] > 5               # later jump shortened
    assert gits.optimal_path(cost, 2, 0.7).tolist()[1] < 5


def test_search_is_fast():
    """Paper Table 4: the DP takes about 0.015 s. Ours: O(K N^2), vectorised over the grid."""
    cost = torch.rand(61, 61, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    gits.optimal_path(cost, 10)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        gits.optimal_path(cost, 10)
        times.append(time.perf_counter() - start)
    assert min(times) < 0.05, times
    start = time.perf_counter()
    gits.optimal_paths(torch.rand(121, 121, dtype=torch.float64), 40)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"cost": torch.zeros(5, 4), "n_steps": 2}, "square"),
    ({"cost": torch.zeros(5), "n_steps": 2}, "square"),
    ({"cost": torch.zeros(5, 5), "n_steps": 5}, r"n_steps must lie in 1..N-1 = 1..4"),
    ({"cost": torch.zeros(5, 5), "n_steps": 0}, "n_steps must lie"),
    ({"cost": torch.zeros(5, 5), "n_steps": 2.0}, "integer"),
    ({"cost": torch.zeros(5, 5), "n_steps": 2, "gamma": 0.0}, "gamma"),
    ({"cost": torch.zeros(5, 5), "n_steps": 2, "gamma": -1.0}, "gamma"),
    ({"cost": torch.zeros(5, 5).fill_diagonal_(float("nan")).roll(1, 1), "n_steps": 2}, "NaN"),
])
def test_search_rejects_bad_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gits.optimal_path(**kwargs)


# --- warm-up and cost matrix on Gaussian data (closed-form PF-ODE) --------------------------------
#
# For data N(mu, U diag(lam) U^T) (zero variance off span U) the PF-ODE dx/dsigma =
# (x - D(x, sigma)) / sigma moves each eigen-coordinate c = u^T (x - mu) as
# c(sigma) = c_T sqrt((lam + sigma^2) / (lam + sigma_T^2)). One Euler jump from sigma_i to sigma_j
# multiplies c_i by (lam + sigma_i sigma_j) / (lam + sigma_i^2) instead of
# sqrt((lam + sigma_j^2) / (lam + sigma_i^2)): the two agree for every jump iff lam = 0
# (c linear in sigma), and for lam > 0 only as sigma_i, sigma_j >> sqrt(lam). So directions of zero
# variance (and a point mass, entirely) have exact Euler jumps and zero cost.


def randn(B: int, dims=(2, 3, 3), seed: int = 0) -> torch.Tensor:
    return torch.randn(B, *dims, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def gaussian(dims=(2, 3, 3), lam=(4.0, 1.0, 0.25), seed=0):
    """A low-rank Gaussian denoiser with known spectrum, its mean and eigenvectors."""
    g = torch.Generator().manual_seed(seed)
    D = math.prod(dims)
    mu = torch.randn(dims, generator=g, dtype=torch.float64)
    U, _ = torch.linalg.qr(torch.randn(D, len(lam), generator=g, dtype=torch.float64))
    lam = torch.tensor(lam, dtype=torch.float64)
    return GaussianDenoiser.from_eig(mu, lam, U), mu, U, lam


def exact_trajectory(denoiser, mu, U, lam, noise, sigmas) -> Trajectory:
    """Closed-form PF-ODE states from x_T = sigma_T * noise, and D at those states."""
    B = noise.shape[0]
    r_T = (sigmas[0] * noise - mu).reshape(B, -1)
    c_T, perp_T = r_T @ U, r_T - (r_T @ U) @ U.T
    xs = []
    for s in sigmas:
        scale = ((lam + s**2) / (lam + sigmas[0] ** 2)).sqrt()
        xs.append((mu.reshape(-1) + (c_T * scale) @ U.T + perp_T * s / sigmas[0])
                  .reshape(noise.shape))
    x = torch.stack(xs)
    den = torch.stack([denoiser(x[i], sigmas[i]) for i in range(len(sigmas) - 1)])
    return Trajectory(sigmas=sigmas, x=x, denoised=den)


def closed_form_l2(mu, U, lam, noise, sigmas) -> torch.Tensor:
    """E || Euler jump - exact || for every i < j from the formula in the comment above."""
    B, N = noise.shape[0], len(sigmas)
    c_T = (sigmas[0] * noise - mu).reshape(B, -1) @ U
    C = torch.full((N, N), math.inf, dtype=torch.float64)
    for i in range(N - 1):
        si = sigmas[i]
        c_i = c_T * ((lam + si**2) / (lam + sigmas[0] ** 2)).sqrt()
        for j in range(i + 1, N):
            sj = sigmas[j]
            g = (lam + si * sj) / (lam + si**2) - ((lam + sj**2) / (lam + si**2)).sqrt()
            C[i, j] = (c_i * g).norm(dim=-1).mean()
    return C


def test_cost_matrix_equals_the_closed_form_on_exact_gaussian_trajectories():
    D, mu, U, lam = gaussian()
    noise = randn(6, seed=1)
    sigmas = gits.default_grid(15)
    C = gits.cost_matrix(exact_trajectory(D, mu, U, lam, noise, sigmas), "l2")
    expected = closed_form_l2(mu, U, lam, noise, sigmas)
    upper = torch.ones(15, 15, dtype=torch.bool).triu(1)
    assert torch.allclose(C[upper], expected[upper], rtol=1e-9, atol=1e-9)
    assert torch.isinf(C[~upper]).all()


def test_euler_jumps_are_exact_for_a_point_mass_and_zero_variance_directions():
    D, mu, U, lam = gaussian(lam=(0.0, 0.0, 0.0))   # all variance zero: a point mass at mu
    noise = randn(5, seed=2)
    for teacher in ("ipndm", "euler", "heun"):
        warm = gits.warmup(D, noise, 21, teacher)
        for metric in gits.METRICS:
            C = gits.cost_matrix(warm, metric)
            upper = C.triu(1)[torch.ones(21, 21, dtype=torch.bool).triu(1)]
            assert upper.abs().max() < 1e-9 * 80, (teacher, metric)
    # lam > 0 in span U only: the error of every jump lies in span U
    D, mu, U, lam = gaussian()
    warm = gits.warmup(D, noise, 21)
    t, x, d = gits._check_warmup(warm)
    x_hat = x[3] + (t[9] - t[3]) * d[3]
    err = x_hat - x[9]
    assert (err - (err @ U) @ U.T).norm() < 1e-9 * err.norm()


def test_warmup_on_a_gaussian_follows_the_exact_ode_and_gives_its_cost():
    D, mu, U, lam = gaussian(lam=(9.0, 1.0, 0.09))
    noise = randn(8, seed=3)
    warm = gits.warmup(D, noise)                    # defaults: iPNDM-4 on the 61-point grid
    assert warm.x.shape == (61, 8, 2, 3, 3) and warm.denoised.shape == (60, 8, 2, 3, 3)
    assert torch.equal(warm.sigmas, schedules.polynomial(61, 0.002, 80.0, 7.0))
    exact = exact_trajectory(D, mu, U, lam, noise, warm.sigmas)
    assert (warm.x - exact.x).norm() < 1e-3 * exact.x.norm()
    C = gits.cost_matrix(warm, "l2")
    expected = closed_form_l2(mu, U, lam, noise, warm.sigmas)
    upper = torch.ones(61, 61, dtype=torch.bool).triu(1)
    jump = torch.stack([(exact.x[j] - exact.x[i]).flatten(1).norm(dim=1).mean()
                        for i, j in upper.nonzero()])
    assert ((C[upper] - expected[upper]).abs() / jump).max() < 1e-3
    # relative to its length, a jump between sigmas >= 10 sqrt(lam_max) is nearly exact ...
    high = warm.sigmas >= 30
    hi_pairs = (upper & high[None, :] & high[:, None])[upper]
    assert (C[upper][hi_pairs] / jump[hi_pairs]).max() < 1e-3
    assert (C[upper] / jump).max() > 0.05           # ... and a jump into low noise is not


def test_dev_metric_is_the_signed_deviation_difference():
    D, mu, U, lam = gaussian()
    noise = randn(4, seed=4)
    warm = gits.warmup(D, noise, 11)
    C = gits.cost_matrix(warm, "dev")
    x = warm.x.flatten(2)
    u = (x[-1] - x[0]) / (x[-1] - x[0]).norm(dim=-1, keepdim=True)

    def dev(y):
        a = y - x[0]
        return (a - (a * u).sum(-1, keepdim=True) * u).norm(dim=-1).mean()

    i, j = 2, 7
    d_i = (x[i] - warm.denoised[i].flatten(1)) / warm.sigmas[i]
    expected = dev(x[i] + (warm.sigmas[j] - warm.sigmas[i]) * d_i) - dev(x[j])
    assert float(C[i, j]) == pytest.approx(float(expected), rel=1e-10)
    assert (C.triu(1) < 0).any() or (C.triu(1) > 0).any()


def test_cost_matrix_l1_and_chunking():
    D, mu, U, lam = gaussian()
    noise = randn(3, seed=5)
    warm = gits.warmup(D, noise, 9)
    l1, l2 = gits.cost_matrix(warm, "l1"), gits.cost_matrix(warm, "l2")
    upper = torch.ones(9, 9, dtype=torch.bool).triu(1)
    assert (l1[upper] >= l2[upper] - 1e-12).all()
    assert (l1[upper] <= math.sqrt(18) * l2[upper] + 1e-12).all()
    for metric in gits.METRICS:
        assert torch.allclose(gits.cost_matrix(warm, metric, chunk=1),
                              gits.cost_matrix(warm, metric), rtol=1e-12, atol=0)


def test_warmup_and_cost_matrix_reject_bad_inputs():
    D, *_ = gaussian()
    noise = torch.randn(2, 2, 3, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="teacher"):
        gits.warmup(D, noise, 5, "unipc")
    with pytest.raises(ValueError, match="sigma > 0"):
        gits.warmup(D, noise, torch.tensor([80.0, 1.0, 0.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="descending"):
        gits.warmup(D, noise, torch.tensor([1.0, 80.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="noise"):
        gits.warmup(D, torch.zeros(4, dtype=torch.int64), 5)
    warm = gits.warmup(D, noise, 5)
    with pytest.raises(ValueError, match="metric"):
        gits.cost_matrix(warm, "l3")
    with pytest.raises(TypeError, match="Trajectory"):
        gits.cost_matrix(warm.x, "l2")


def test_schedule_is_a_subset_of_the_grid_and_exports():
    D, *_ = gaussian()
    noise = randn(16, seed=6)
    grid = gits.default_grid(31)
    sigmas = gits.schedule(D, noise, 5, grid=grid)
    assert sigmas.dtype == torch.float64 and len(sigmas) == 6
    assert sigmas[0] == 80.0 and sigmas[-1] == 0.002 and (sigmas.diff() < 0).all()
    assert all(bool((grid == s).any()) for s in sigmas)
    assert gits.as_list(sigmas) == sigmas.tolist()
    assert all(type(v) is float for v in gits.as_list(sigmas))
    dif = gits.as_diffusers(sigmas)
    assert len(dif) == 6 and dif[-1] == 0.0 and dif[:-1] == sigmas[:-1].tolist()
    assert gits.as_diffusers(sigmas, "append") == [*sigmas.tolist(), 0.0]
    assert gits.as_diffusers(sigmas, "keep") == sigmas.tolist()
    kd = gits.as_k_diffusion(sigmas)
    assert kd.dtype == torch.float32 and kd[-1] == 0 and len(kd) == 6
    assert len(gits.as_k_diffusion(sigmas, "append")) == 7
    with pytest.raises(ValueError, match="final"):
        gits.as_diffusers(sigmas, "drop")


def test_defaults_are_the_official_codes():
    """gits-main/sample.py: --metric dev, --coeff 1.15, --solver_tea ipndm, --num_steps_tea 61,
    --num_warmup 256; the one-call schedule and the cost matrix default to them."""
    import inspect

    assert (gits.METRIC, gits.GAMMA, gits.N_GRID, gits.N_WARMUP) == ("dev", 1.15, 61, 256)
    sched = inspect.signature(gits.schedule).parameters
    assert (sched["metric"].default, sched["gamma"].default, sched["teacher"].default) == (
        "dev", 1.15, "ipndm")
    assert inspect.signature(gits.cost_matrix).parameters["metric"].default == "dev"
    assert len(gits.default_grid()) == 61
    D, *_ = gaussian()
    noise = randn(8, seed=7)
    warm = gits.warmup(D, noise, 21)
    assert torch.equal(gits.schedule(D, noise, 4, grid=21),
                       warm.sigmas[gits.optimal_path(gits.cost_matrix(warm, "dev"), 4, 1.15)])
