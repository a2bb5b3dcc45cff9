"""The rules decide on values their quantities really take: trajectories of closed-form denoisers
that make regular paths and of ones that do not give opposite verdicts (issue 22). A rule that
passes on every denoiser here could not fail on real data."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch

from trajreg import (
    diagnose,
    evaluate,
    frenet,
    geometry,
    gits,
    magnitudes,
    paper,
    projection,
    schedules,
    stats,
)
from trajreg.denoisers import GaussianDenoiser, GaussianMixtureDenoiser, KDEDenoiser
from trajreg.trajectory import Trajectory, sample

D_DIM, B = 32, 24


def noise(seed: int = 0, n: int = B) -> torch.Tensor:
    return torch.randn(n, D_DIM, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


class Wandering:
    """A denoiser whose output jumps between K orthogonal targets as sigma falls: the sampling
    path chases each in turn and spans K directions (a legitimate, if unnatural, D(x, sigma))."""

    def __init__(self, K: int = 8):
        self.targets = 3.0 * torch.eye(D_DIM, dtype=torch.float64)[:K]
        self.edges = torch.logspace(torch.log10(torch.tensor(60.0)), torch.log10(torch.tensor(0.01)), K - 1)

    def __call__(self, x: torch.Tensor, sigma) -> torch.Tensor:
        k = int((self.edges > float(sigma)).sum())
        return self.targets[k].expand_as(x).to(x.dtype)


def anisotropic_gaussian() -> GaussianDenoiser:
    """N(mu, diag(4, ..., 4, 0.01, ..., 0.01)): every path lies in a plane, bending once."""
    var = torch.cat([torch.full((D_DIM // 2,), 4.0), torch.full((D_DIM // 2,), 0.01)]).double()
    return GaussianDenoiser(torch.ones(D_DIM, dtype=torch.float64), torch.diag(var))


def outside_2pcs(denoiser) -> stats.Estimate:
    t = sample(denoiser, noise(), schedules.polynomial(101), "euler", store_dtype=torch.float64)
    return stats.mean_ci(projection.explained_variance(t.x, 4)[:, 1].numpy())


def test_fig03_rule_tells_a_planar_path_from_a_wandering_one():
    c = paper.claim("fig03.outside_2pcs")
    regular, wandering = outside_2pcs(anisotropic_gaussian()), outside_2pcs(Wandering())
    assert regular.lo > 0.99 and c.decide(regular) == "stronger than the paper"
    assert wandering.hi < 0.6 and c.decide(wandering) == "does not reproduce"


def test_fig10_rule_tells_a_near_optimal_denoiser_from_a_poor_one():
    c = paper.claim("fig10.ratio_below_one")
    data = torch.randn(64, D_DIM, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    kde = KDEDenoiser(data, dtype=torch.float64)
    cov = torch.cov(data.T) + 1e-3 * torch.eye(D_DIM, dtype=torch.float64)
    poor = GaussianDenoiser(data.mean(0) + 3.0, cov)      # a badly fitted model: its mean is off

    def share_below(learned) -> stats.Estimate:
        t = sample(learned, noise(2), schedules.polynomial(41), "euler", store_dtype=torch.float64)
        ratio = magnitudes.optimal_gap(t, kde)["ratio"]
        return stats.share_ci((ratio < 1).numpy())

    near = KDEDenoiser(data + 1e-3 * torch.randn_like(data), dtype=torch.float64)  # almost the optimum
    assert c.decide(share_below(near)) == "reproduces"
    assert c.decide(share_below(poor)) == "does not reproduce"


def layered(*variances: float, dim: int = D_DIM) -> GaussianDenoiser:
    """N(1, diag(v_1, ..., v_k)): the coordinates in k equal groups, one variance per group."""
    k = len(variances)
    var = torch.cat([torch.full((dim // k + (i < dim % k),), float(v), dtype=torch.float64)
                     for i, v in enumerate(variances)])
    return GaussianDenoiser(torch.ones(dim, dtype=torch.float64), torch.diag(var))


# --- Fig. 2: sigma at the largest mean deviation from the chord (notebook: curve_peak) -------------
def peak_sigma(denoiser, n_boot: int = 2000) -> stats.Estimate:
    """The notebook's curve_peak: sigma of the maximum of the mean deviation curve, with a 95 %
    percentile bootstrap over trajectories."""
    t = sample(denoiser, noise(), schedules.polynomial(101), "euler", store_dtype=torch.float64)
    d, s = geometry.sampling_deviation(t).numpy(), t.sigmas.numpy()
    rng = np.random.default_rng(0)
    w = np.stack([np.bincount(rng.integers(0, B, B), minlength=B) for _ in range(n_boot)]) / B
    value = float(s[int(d.mean(1).argmax())])
    lo, hi = np.percentile(s[(d @ w.T).argmax(0)], [2.5, 97.5])
    return stats.Estimate(value, min(lo, value), max(hi, value), B)


def test_fig02_rule_tells_a_bend_near_sigma_10_from_one_elsewhere():
    """Stds 2 and 0.1 (image-like) bend at sigma 9.3: reproduces; 64 memorised points uniform in [-1, 1]^d
    (no dominant direction) at sigma 3.3: does not (the peak follows the data's largest scale)."""
    c = paper.claim("fig02.peak_sigma")
    data = torch.rand(64, D_DIM, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2 - 1
    regular, flat = peak_sigma(anisotropic_gaussian()), peak_sigma(KDEDenoiser(data))
    assert regular.lo > 5 and regular.hi < 20 and c.decide(regular) == "reproduces"
    assert flat.hi < 5 and c.decide(flat) == "does not reproduce"


# --- Fig. 11: new samples, and slight deviations from the optimal sampler -------------------------
def fig11_estimates(learned, train: torch.Tensor, test: torch.Tensor, n: int, seed: int = 3):
    """The notebook's "new" (share of learned samples farther from the training set than the 5th
    percentile of test images) and "slight" (median |x_0 - x*_0| / median distance of two training
    images), on n same-noise pairs of the learned denoiser and the KDE of the training set."""
    star = KDEDenoiser(train, dtype=torch.float64)
    z = torch.randn(n, train.shape[1], generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    sigmas = schedules.polynomial(101)
    x0 = sample(learned, z, sigmas, "euler", store_dtype=torch.float64).final
    x0_star = sample(star, z, sigmas, "euler", store_dtype=torch.float64).final
    learned_nn = (x0 - star.nearest(x0)).norm(dim=1).numpy()
    idx = torch.randint(0, len(train), (2, 2000), generator=torch.Generator().manual_seed(0))
    pair_median = float((train[idx[0]] - train[idx[1]]).norm(dim=1).median())
    test_nn = (test - star.nearest(test)).norm(dim=1).numpy()
    new = stats.share_ci(learned_nn > float(np.quantile(test_nn, 0.05)))
    slight = stats.median_ci((x0 - x0_star).norm(dim=1).numpy() / pair_median)
    return new, slight


def gaussian_data(scale: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, len(scale), generator=g, dtype=torch.float64) * scale


def test_fig11_new_rule_tells_a_model_of_the_distribution_from_a_memorising_one():
    """The exact denoiser of the data's distribution ends as far from the 64 training points as test
    images do (share 0.94, n = 1024): reproduces; their KDE replays them (share 0): does not."""
    c = paper.claim("fig11.learned_new")
    # such a model's share is 0.95 by the threshold's construction; Wilson's lower bound needs n > 32 to
    # pass at all, and at the notebook's n = 128 it passes only about half the time
    scale = torch.logspace(0, -2, D_DIM, dtype=torch.float64)
    train, test = gaussian_data(scale, 64, 10), gaussian_data(scale, 4096, 20)
    model = GaussianDenoiser(torch.zeros(D_DIM, dtype=torch.float64), torch.diag(scale ** 2))
    new, _ = fig11_estimates(model, train, test, 1024)
    replay, _ = fig11_estimates(KDEDenoiser(train, dtype=torch.float64), train, test, 1024)
    assert new.lo > 0.9 and c.decide(new) == "reproduces"
    assert replay.hi < 0.01 and c.decide(replay) == "does not reproduce"


def test_fig11_slight_rule_tells_shared_coarse_content_from_none():
    """The exact denoiser of the data's distribution shares the KDE sample's two dominant directions
    (gap 0.32 of two training points' distance): reproduces; on isotropic data (0.78): does not."""
    c = paper.claim("fig11.slight_deviation")
    low = torch.cat([torch.ones(2), torch.full((D_DIM - 2,), 0.05)]).double()
    iso = torch.ones(D_DIM, dtype=torch.float64)
    gaps = {}
    for name, scale in (("low", low), ("iso", iso)):
        model = GaussianDenoiser(torch.zeros(D_DIM, dtype=torch.float64), torch.diag(scale ** 2))
        train, test = gaussian_data(scale, 64, 10), gaussian_data(scale, 512, 20)
        _, gaps[name] = fig11_estimates(model, train, test, 128)
    assert gaps["low"].hi < 0.45 and c.decide(gaps["low"]) == "reproduces"
    assert gaps["iso"].lo > 0.6 and c.decide(gaps["iso"]) == "does not reproduce"


# --- JSTAT Fig. 6: where curvature rises and torsion peaks, along the arc length -------------------
@functools.cache
def bend_position(variances: tuple[float, ...]) -> tuple[stats.Estimate, stats.Estimate]:
    """The notebook's rise_frac and peak_frac: Euler 1000 NFE on the uniform sigma grid, the curve
    in its own axes (chord + 2 PCs), window 101; 16 trajectories."""
    n = 16
    t = sample(layered(*variances), noise(0, n), schedules.polynomial(1001, rho=1.0), "euler",
               store_dtype=torch.float64)
    r = projection.coordinates(t.x, 2)
    kappa, tau = frenet.curvature_torsion(r, 101)
    s, b = frenet.arc_length(r), torch.arange(n)
    rise, peak = frenet.rise(kappa, 0.1), frenet.peak(tau, frenet.rise(kappa, 0.02))
    return stats.mean_ci(s[rise, b] / s[-1]), stats.mean_ci(s[peak, b] / s[-1])


IMAGE_LIKE, LARGE = (2500.0, 25.0, 0.25), (3600.0, 900.0, 100.0)  # principal stds 50/5/0.5, 60/30/10


def test_ct_rise_rule_tells_a_late_bend_from_an_early_one():
    """Principal stds 50, 5, 0.5: curvature rises only in the last 6 % of the arc (stronger than the
    paper); stds 60, 30, 10, near sigma_max: from half-way, 0.51 (does not reproduce)."""
    c = paper.claim("ct.rise_frac")
    late, early = bend_position(IMAGE_LIKE)[0], bend_position(LARGE)[0]
    assert late.lo > 0.9 and c.decide(late) == "stronger than the paper"
    assert early.hi < 0.578 and c.decide(early) == "does not reproduce"


def test_ct_torsion_rule_tells_a_peak_near_the_end_from_an_early_one():
    """Principal stds 50, 5, 0.5: torsion peaks at 0.91 of the arc (sigma 9; band 0.86-0.97):
    reproduces; stds 60, 30, 10: at 0.81 (sigma 24): does not reproduce."""
    c = paper.claim("ct.torsion_peak_frac")
    near, early = bend_position(IMAGE_LIKE)[1], bend_position(LARGE)[1]
    assert near.lo > 0.87 and near.hi < 0.95 and c.decide(near) == "reproduces"
    assert early.hi < 0.85 and c.decide(early) == "does not reproduce"


# --- App. A.3.3: |eps| / sqrt(d) at the last step ---------------------------------------------
def eps_last(denoiser) -> stats.Estimate:
    t = sample(denoiser, noise(), schedules.polynomial(21), "euler", store_dtype=torch.float64)
    return stats.mean_ci(magnitudes.norms(t)["eps"][-1] / math.sqrt(t.dim))


def test_mag_rule_tells_a_partial_last_step_drop_from_none_and_from_a_full_one():
    """|eps| at the last call (sigma 0.0063) keeps the directions thinner than sigma: half of them
    (std 0.001): 0.69, reproduces; memorised points (KDE): 1.1, and none (std >= 0.1): 0.04, do not."""
    c = paper.claim("mag.eps_last")
    data = torch.rand(64, D_DIM, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2 - 1
    thin, thick = eps_last(layered(4.0, 1e-6)), eps_last(layered(4.0, 0.01))
    memorised = eps_last(KDEDenoiser(data))
    assert thin.lo > 0.6 and thin.hi < 0.8 and c.decide(thin) == "reproduces"
    assert memorised.lo > 1.0 and c.decide(memorised) == "does not reproduce"
    assert thick.hi < 0.1 and c.decide(thick) == "does not reproduce"


# --- GITS: the 6-step schedule's first stop --------------------------------------------------
def gits_first_stop(denoiser, metric: str, n_boot: int = 200) -> stats.Estimate:
    """The notebook's first stop (K = 6, gamma 1.15, iPNDM teacher on the 61-point grid) with its
    bootstrap over the 32 warm-up samples (diagnose.choice_frequency)."""
    warm = gits.warmup(denoiser, noise(4, 32), 61, "ipndm")
    grid = warm.sigmas
    value = float(grid[gits.optimal_paths(gits.cost_matrix(warm, metric), 6, gits.GAMMA)[6][1]])
    counts = diagnose.choice_frequency(diagnose.per_sample_costs(warm, metric), metric, gits.GAMMA, K=6,
                                       n_boot=n_boot, seed=0)
    stops = np.repeat([float(grid[p[1]]) for p in counts], list(counts.values()))
    lo, hi = np.percentile(stops, [2.5, 97.5])
    return stats.Estimate(value, min(lo, value), max(hi, value), warm.n_samples)


def test_gits_rule_tells_a_long_first_jump_from_a_short_one():
    """Stds 2 and 0.1 (image-like): straight down to sigma 5.1, GITS's first stop (< 30.2): reproduces;
    stds 50, 5, 0.5 bend at sigma ~ 50, where GITS stops (45-50): does not; dev and L2 costs."""
    c = paper.claim("gits.first_stop_k6")
    for metric in ("dev", "l2"):
        long_jump, short_jump = gits_first_stop(anisotropic_gaussian(), metric), gits_first_stop(
            layered(*IMAGE_LIKE), metric)
        assert long_jump.hi < 10 and c.decide(long_jump) == "reproduces", metric
        assert short_jump.lo > 40 and c.decide(short_jump) == "does not reproduce", metric


# --- Table 6: spread of the GITS schedule's ODE error over disjoint warm-up subsets ----------------
# The notebook's sizes; 16 disjoint subsets per size (the notebook: at most 6, 8 at paper scale, where both
# denoisers below mostly give "inconclusive": the bootstrap over so few subsets is wide).
SIZES, SUBSETS, N_ODE = (4, 8, 16, 32, 64), 16, 32


@functools.cache
def spread_slopes(name: str) -> dict[int, stats.Estimate]:
    """The notebook's spread_slope: slope of log(std over disjoint warm-up subsets of the mean
    iPNDM ODE error on the subset's GITS schedule, dev cost) against log(subset size), with its
    bootstrap over evaluation noises and subsets; {nfe: Estimate} for NFE 5 and 8."""
    dim = 16
    denoiser = TAB06_DENOISERS[name]()
    gen = torch.Generator().manual_seed(1)
    warm = gits.warmup(denoiser, torch.randn(SUBSETS * SIZES[-1], dim, generator=gen, dtype=torch.float64),
                       61, "ipndm")
    z = torch.randn(N_ODE, dim, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    x_ref = evaluate.final_samples(denoiser, z, schedules.polynomial(61), "ipndm")
    runs = {}                                   # schedule -> ODE errors (the notebook's cached_run)

    def ode_errors(path: torch.Tensor) -> list[float]:
        key = tuple(path.tolist())
        if key not in runs:
            runs[key] = evaluate.evaluate(denoiser, z, warm.sigmas[path], "ipndm", x_ref=x_ref,
                                          compute_fid=False).ode_errors
        return runs[key]

    errors = {}                                 # (nfe, size) -> (subsets, N_ODE) ODE errors
    for n in SIZES:
        parts = [slice(k * n, (k + 1) * n) for k in range(SUBSETS)]
        costs = [gits.cost_matrix(Trajectory(warm.sigmas, warm.x[:, p], warm.denoised[:, p]), "dev")
                 for p in parts]
        for nfe in (5, 8):
            K = evaluate.n_steps("ipndm", nfe)
            errors[(nfe, n)] = np.array([ode_errors(gits.optimal_path(c, K, gits.GAMMA)) for c in costs])

    def slope(nfe: int, rng=None) -> float:
        idx = np.arange(N_ODE) if rng is None else rng.integers(0, N_ODE, N_ODE)
        xs, ys = [], []
        for n in SIZES:
            ks = np.arange(SUBSETS) if rng is None else rng.choice(SUBSETS, SUBSETS)
            sd = np.std(errors[(nfe, n)][ks][:, idx].mean(1), ddof=1)
            if sd > 0:
                xs.append(np.log(n))
                ys.append(np.log(sd))
        return np.polyfit(xs, ys, 1)[0] if len(xs) >= 2 else np.nan

    out, rng = {}, np.random.default_rng(0)
    for nfe in (5, 8):
        value = slope(nfe)
        boots = np.array([slope(nfe, rng) for _ in range(1000)])
        lo, hi = np.percentile(boots[np.isfinite(boots)], [2.5, 97.5])
        out[nfe] = stats.Estimate(value, min(lo, value), max(hi, value), len(SIZES) * SUBSETS)
    return out


def rare_class(dim: int = 16) -> GaussianMixtureDenoiser:
    """Data with a rare far-away class: 1 sample in 128 lies at distance 60 from the rest."""
    var = torch.cat([torch.full((dim // 2,), 4.0), torch.full((dim // 2,), 0.01)]).double()
    common = GaussianDenoiser(torch.zeros(dim, dtype=torch.float64), torch.diag(var))
    far = torch.zeros(dim, dtype=torch.float64)
    far[0] = 60.0
    return GaussianMixtureDenoiser([127, 1], [common, GaussianDenoiser(far, 0.01 * torch.eye(dim).double())])


def mixed_scales(dim: int = 16) -> GaussianMixtureDenoiser:
    """Four equally likely classes of random covariance, spreads 0.05, 0.3, 1 and 3 (means of scale 1)."""
    g = torch.Generator().manual_seed(0)
    means = torch.randn(4, dim, generator=g, dtype=torch.float64)
    covs = []
    for spread in (0.05, 0.3, 1.0, 3.0):
        A = torch.randn(dim, dim, generator=g, dtype=torch.float64)
        covs.append(A @ A.T / dim * spread ** 2 + 1e-3 * torch.eye(dim, dtype=torch.float64))
    return GaussianMixtureDenoiser.from_covs(torch.ones(4), means, torch.stack(covs), dtype=torch.float64)


TAB06_DENOISERS = {"mixed scales": mixed_scales, "rare class": rare_class}


@pytest.mark.parametrize("nfe", [5, 8])
def test_tab06_rule_tells_a_shrinking_spread_from_a_growing_one(nfe):
    """Classes of mixed spreads: larger subsets agree more (slope -0.35, -0.50): reproduces; a rare far
    class stops a subset that draws it at sigma 11-22, and larger subsets draw it more (+0.35): does not."""
    c = paper.claim(f"tab06.warmup_spread.nfe{nfe}")
    shrinking, growing = spread_slopes("mixed scales")[nfe], spread_slopes("rare class")[nfe]
    assert shrinking.hi < 0 and c.decide(shrinking) == "reproduces"
    assert growing.lo > 0 and c.decide(growing) == "does not reproduce"
