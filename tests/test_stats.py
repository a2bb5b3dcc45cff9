"""trajreg.stats on synthetic data where the answer is known."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from scipy import stats as st

from trajreg import fid, stats
from trajreg.fid import frechet_distance, statistics
from trajreg.stats import Estimate


def test_estimate_formats_and_round_trips():
    e = Estimate(0.15, 0.14, 0.161, 64)
    assert str(e) == "0.150 [0.140, 0.161] (n=64)"
    assert e.fmt() == "0.150 [0.140, 0.161]" and e.fmt(".2f") == "0.15 [0.14, 0.16]"
    assert Estimate.from_dict(e.to_dict()) == e
    assert Estimate.exact(2.0).lo == 2.0
    with pytest.raises(ValueError, match="lo <= hi"):
        Estimate(1.0, 2.0, 0.0, 3)
    with pytest.raises(ValueError, match="finite"):
        Estimate(float("nan"), 0.0, 1.0, 3)


def test_mean_ci_covers_the_true_mean_about_95_percent():
    rng = np.random.default_rng(0)
    hits = []
    for i in range(200):
        e = stats.mean_ci(rng.normal(1.0, 2.0, 40), seed=i, n_resamples=999)
        hits.append(e.lo <= 1.0 <= e.hi)
        assert e.lo <= e.value <= e.hi and e.n == 40
    assert 0.89 <= np.mean(hits) <= 0.99


def test_mean_ci_is_deterministic_and_handles_constant_data():
    x = np.random.default_rng(1).normal(size=30)
    assert stats.mean_ci(x, seed=3) == stats.mean_ci(x, seed=3)
    assert stats.mean_ci(np.full(10, 2.5)) == Estimate(2.5, 2.5, 2.5, 10)
    with pytest.raises(ValueError, match="at least 2"):
        stats.mean_ci([1.0])


def test_median_ci_is_the_order_statistic_interval():
    x = np.arange(1.0, 101.0)   # n = 100: the 95 % interval is x_(40), x_(61)
    e = stats.median_ci(x)
    assert (e.value, e.lo, e.hi, e.n) == (50.5, 40.0, 61.0, 100)
    rng = np.random.default_rng(2)
    hits = []
    for _ in range(300):   # exponential(1): median log 2
        e = stats.median_ci(rng.exponential(size=31))
        hits.append(e.lo <= np.log(2) <= e.hi)
    assert np.mean(hits) >= 0.92


@pytest.mark.parametrize(("k", "n", "lo", "hi"), [(5, 10, 0.2366, 0.7634), (0, 10, 0.0, 0.2775),
                                                  (10, 10, 0.7225, 1.0), (44, 64, 0.5661, 0.7877)])
def test_wilson_interval_known_values(k, n, lo, hi):
    e = stats.share_ci([True] * k + [False] * (n - k))
    assert e.value == pytest.approx(k / n)
    assert (e.lo, e.hi) == pytest.approx((lo, hi), abs=1e-4)
    ref = st.binomtest(k, n).proportion_ci(method="wilson")
    assert (e.lo, e.hi) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_paired_diff_detects_a_shift_and_not_noise():
    rng = np.random.default_rng(3)
    a = rng.normal(size=64)
    shifted = a + 0.3 + 0.1 * rng.normal(size=64)
    e = stats.paired_diff(a, shifted)
    assert e.lo > 0 and e.value == pytest.approx(np.mean(shifted - a))
    same = a + 0.1 * rng.normal(size=64)
    e = stats.paired_diff(a, same)
    assert e.lo < 0 < e.hi
    m = stats.paired_diff(a, shifted, stat="median")
    assert m.lo > 0 and m.value == pytest.approx(np.median(shifted - a))
    with pytest.raises(ValueError, match="stat="):
        stats.paired_diff(a, shifted, stat="mode")
    with pytest.raises(ValueError, match="paired"):
        stats.paired_diff(a, shifted[:10])


def test_paired_ratio():
    rng = np.random.default_rng(4)
    a = rng.uniform(1, 2, 100)
    e = stats.paired_ratio(a, 0.5 * a * rng.uniform(0.9, 1.1, 100))
    assert e.hi < 0.6 and e.lo > 0.4 and e.lo <= e.value <= e.hi


def test_sign_test_exact_p_values():
    a = np.zeros(10)
    assert stats.sign_test(a, -np.ones(10)) == (10, 10, pytest.approx(2 * 0.5 ** 10))
    b = np.array([-1] * 8 + [1] * 2 + [0] * 3, dtype=float)
    below, n, p = stats.sign_test(np.zeros(13), b)
    assert (below, n) == (8, 10) and p == pytest.approx(112 / 1024)   # 2 * P(X >= 8), X ~ Bin(10, 1/2)
    assert stats.sign_test(a, a) == (0, 0, 1.0)


def _gauss(n, d, shift, seed):
    return np.random.default_rng(seed).normal(shift, 1.0, (n, d))


def test_fid_ci_contains_the_full_sample_fid_and_matches_frechet_distance():
    ref = statistics(_gauss(4000, 8, 0.0, 10))
    feat = _gauss(300, 8, 0.5, 11)
    e = stats.fid_ci(feat, *ref, n_resamples=100)
    assert e.value == pytest.approx(frechet_distance(*statistics(feat), *ref))
    assert e.lo < e.value < e.hi and e.n == 300
    to_ref = stats._FrechetToRef(*ref)
    assert to_ref(feat) == pytest.approx(e.value, rel=1e-6)
    assert e.lo > 8 * 0.25 * 0.5   # the true FID is 8 * 0.5^2 = 2


def test_fid_diff_ci_pairs_the_sample_indices():
    ref = statistics(_gauss(4000, 6, 0.0, 12))
    a = _gauss(300, 6, 0.0, 13)
    worse = a + 0.5                                      # same "noise", shifted output
    e = stats.fid_diff_ci(a, worse, *ref, n_resamples=100)
    assert e.lo > 0
    same = a + 0.01 * _gauss(300, 6, 0.0, 14)
    e = stats.fid_diff_ci(a, same, *ref, n_resamples=100)
    assert e.lo < 0 < e.hi and abs(e.hi - e.lo) < 0.1    # pairing cancels the shared noise
    r = stats.fid_ratio_ci(a, worse, *ref, n_resamples=100)
    assert r.lo > 1


def test_kid_is_about_zero_for_equal_and_positive_for_shifted():
    ref = _gauss(400, 16, 0.0, 15)
    e = stats.kid(_gauss(300, 16, 0.0, 16), ref, subsets=30, subset_size=200)
    assert e.lo < 0 < e.hi and abs(e.value) < 0.05
    e = stats.kid(_gauss(300, 16, 0.5, 17), ref, subsets=30, subset_size=200)
    assert e.lo > 0
    with pytest.raises(ValueError, match="subset_size"):
        stats.kid(ref, ref, subset_size=1000)


def test_kid_default_subsets_differ_so_the_interval_has_width():
    # with subsets as large as the sample set every subset is the whole set: a zero-width interval
    e = stats.kid(_gauss(300, 16, 0.3, 18), _gauss(400, 16, 0.0, 15), subsets=20)
    assert e.hi - e.lo > 1e-4 * max(1.0, abs(e.value))


def test_ode_error_summary():
    errs = np.r_[np.full(30, 0.1), np.full(10, 0.5)]
    s = stats.ode_error_summary(errs, far=0.3)
    assert s["mean"].value == pytest.approx(0.2) and s["median"].value == pytest.approx(0.1)
    assert s["far_share"].value == pytest.approx(0.25) and s["far_share"].n == 40


def test_class_histograms():
    assert stats.class_histogram([0, 2, 2, 9], 10).tolist() == [1, 0, 2, 0, 0, 0, 0, 0, 0, 1]
    with pytest.raises(ValueError, match="labels must be integers"):
        stats.class_histogram([0, 10], 10)
    rng = np.random.default_rng(18)
    a = rng.integers(0, 10, 500)
    flipped = np.where(rng.random(500) < 0.3, (a + 1) % 10, a)
    assert stats.class_flip_share(a, flipped).lo > 0.2
    same = stats.hist_distance(a, a)
    assert same.value == 0 and same.hi == 0
    skew = np.where(a < 5, a, 0)                          # half the classes collapse onto class 0
    d = stats.hist_distance(a, skew)
    assert d.lo > 0.3
    assert stats.hist_chi2(a, skew)[1] < 1e-6
    assert stats.hist_chi2(a, rng.integers(0, 10, 500))[1] > 1e-3


def test_class_weights_give_the_target_proportions():
    lab = np.array([0, 0, 1, 1, 1, 1])
    w = stats.class_weights(lab, [1, 1])
    assert w.tolist() == pytest.approx([1.5, 1.5, 0.75, 0.75, 0.75, 0.75])
    assert w.sum() == pytest.approx(lab.size)
    assert stats.class_weights(lab, [10, 30, 0]) == pytest.approx([0.75, 0.75, 1.125, 1.125, 1.125, 1.125])
    with pytest.raises(ValueError, match=r"no sample of class\(es\) \[2\]"):
        stats.class_weights(lab, [1, 1, 1])
    with pytest.raises(ValueError, match="target must be non-negative"):
        stats.class_weights(lab, [1, -1])


def test_weighted_fid_equals_the_fid_of_repeated_rows():
    rng = np.random.default_rng(5)
    ref = rng.standard_normal((300, 5))
    f = rng.standard_normal((60, 5)) + 0.3
    lab = (np.arange(60) < 20).astype(int)                # 20 of class 1, 40 of class 0
    mu, sigma = fid.statistics(ref)
    # target 1:1 -> class 1 rows weigh 1.5, class 0 rows 0.75: scale by 4 to get integers 6 and 3
    value, boots = stats.fid_matched_resamples(f, lab, [1, 1], mu, sigma, seed=2, n_resamples=5)
    rep = np.repeat(f, np.where(lab == 1, 6, 3), axis=0)
    direct = fid.frechet_distance(rep.mean(0), np.cov(rep, rowvar=False) * (len(rep) - 1) / len(rep)
                                  * len(f) / (len(f) - 1), mu, sigma)
    assert value == pytest.approx(direct, rel=1e-9)
    # matched to its own proportions: the unweighted FID; each resample is matched again
    v0, b0 = stats.fid_resamples(f, mu, sigma, seed=2, n_resamples=5)
    v1, b1 = stats.fid_matched_resamples(f, lab, [40, 20], mu, sigma, seed=2, n_resamples=5)
    assert v1 == pytest.approx(v0, rel=1e-9)
    i = np.random.default_rng(2).integers(0, 60, 60)   # resample 0, matched as a set of its own
    assert b1[0] == pytest.approx(stats.fid_matched_resamples(f[i], lab[i], [40, 20], mu, sigma,
                                                              n_resamples=1)[0], rel=1e-9)
    with pytest.raises(ValueError, match="one entry per row"):
        stats.fid_matched_resamples(f, lab[:10], [1, 1], mu, sigma)


def test_class_matching_removes_a_pure_class_mix_shift():
    rng = np.random.default_rng(6)
    centres = np.array([[3.0, 0, 0, 0], [-3.0, 0, 0, 0]])
    ref_lab = np.arange(2000) % 2                         # balanced reference
    ref = centres[ref_lab] + rng.standard_normal((2000, 4))
    lab = (rng.random(1000) < 0.8).astype(int)            # same classes, mix 20:80
    f = centres[lab] + rng.standard_normal((1000, 4))
    mu, sigma = fid.statistics(ref)
    raw, _ = stats.fid_resamples(f, mu, sigma, seed=0, n_resamples=10)
    matched, _ = stats.fid_matched_resamples(f, lab, [1, 1], mu, sigma, seed=0, n_resamples=10)
    assert raw > 3 and matched < 0.1   # mean shift alone: (0.6 * 3)^2 = 3.24


def test_fid_resamples_pair_up_into_the_paired_difference():
    rng = np.random.default_rng(3)
    ref = rng.standard_normal((400, 6))
    a = rng.standard_normal((80, 6)) + 0.5
    b = a + 0.3 * rng.standard_normal(a.shape)
    mu, sigma = fid.statistics(ref)
    va, ba = stats.fid_resamples(a, mu, sigma, seed=4, n_resamples=50)
    vb, bb = stats.fid_resamples(b, mu, sigma, seed=4, n_resamples=50)
    assert va == pytest.approx(fid.frechet_distance(*fid.statistics(a), mu, sigma))
    # each resample is the FID of a resampled set, computed the direct way
    i = np.random.default_rng(4).integers(0, 80, 80)
    assert ba[0] == pytest.approx(fid.frechet_distance(*fid.statistics(a[i]), mu, sigma), rel=1e-6)
    diff = stats.fid_diff_ci(a, b, mu, sigma, seed=4, n_resamples=50)
    assert stats.interval(vb - va, bb - ba, 80) == diff
    assert stats.interval(va, ba, 80) == stats.fid_ci(a, mu, sigma, seed=4, n_resamples=50)


def test_fid_resamples_at_gram_route_equals_the_covariance_route():
    """Fewer distinct rows than features: the m x m Gram route gives the d x d route's FIDs."""
    rng = np.random.default_rng(0)
    feat, ref = rng.normal(size=(40, 64)), rng.normal(size=(200, 64)) * 1.3 + 0.2
    mu, sigma = ref.mean(0), np.cov(ref, rowvar=False)
    rows = [rng.integers(0, 40, 40) for _ in range(5)]
    value, boots = stats.fid_resamples_at(feat, mu, sigma, rows)
    from trajreg.fid import frechet_distance, statistics
    assert value == pytest.approx(frechet_distance(*statistics(feat), mu, sigma), rel=1e-6)
    for i, b in zip(rows, boots, strict=True):
        assert b == pytest.approx(frechet_distance(*statistics(feat[i]), mu, sigma), rel=1e-6)
    with pytest.raises(ValueError, match="rows must index"):
        stats.fid_resamples_at(feat, mu, sigma, [np.array([0, 40])])


def test_fid_resamples_at_matches_fid_resamples_with_the_same_indices():
    rng = np.random.default_rng(1)
    feat = rng.normal(size=(30, 8))
    mu, sigma = np.zeros(8), np.eye(8)
    v1, b1 = stats.fid_resamples(feat, mu, sigma, seed=3, n_resamples=20)
    r = np.random.default_rng(3)
    v2, b2 = stats.fid_resamples_at(feat, mu, sigma, [r.integers(0, 30, 30) for _ in range(20)])
    assert v1 == pytest.approx(v2) and np.allclose(b1, b2)


def test_precision_recall_separates_a_collapsed_set_from_a_faithful_one():
    pytest.importorskip("prdc")
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 8))
    faithful = rng.normal(size=(300, 8))
    collapsed = rng.normal(size=(300, 8)) * 0.2          # inside the real support, little spread
    off = rng.normal(size=(300, 8)) + 6.0                  # outside it
    f, c, o = ({k: v.value for k, v in stats.precision_recall(real, x, k=5).items()}
               for x in (faithful, collapsed, off))
    assert f["precision"] > 0.8 and f["recall"] > 0.8
    assert c["precision"] > 0.9 and c["recall"] < 0.3
    assert o["precision"] < 0.05
    with pytest.raises(ValueError, match="k must be"):
        stats.precision_recall(real, faithful, k=0)


def test_precision_recall_values_are_prdcs_and_carry_intervals():
    """The per-sample tests average to prdc's own compute_prdc; each value has a 95 % interval."""
    prdc = pytest.importorskip("prdc")
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(200, 6)), rng.normal(size=(150, 6)) * 1.2 + 0.3
    ours = stats.precision_recall(real, fake, k=4)
    with contextlib.redirect_stdout(io.StringIO()):
        theirs = prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=4)
    for key in ("precision", "recall", "density", "coverage"):
        assert ours[key].value == pytest.approx(float(theirs[key]), abs=1e-12)
        assert ours[key].lo < ours[key].value < ours[key].hi
    assert ours["precision"].n == 150 and ours["recall"].n == 200


def test_with_extra_spread_widens_and_shifts():
    est = stats.Estimate(-10.0, -11.0, -9.0, 10_000)
    zero = stats.with_extra_spread(est, np.zeros(4000), seed=0)
    assert zero.lo == pytest.approx(-11.0, abs=0.1) and zero.hi == pytest.approx(-9.0, abs=0.1)
    wide = stats.with_extra_spread(est, np.random.default_rng(0).normal(0, 3, 4000), shift=2.0)
    assert wide.value == -8.0 and wide.hi - wide.lo > 2 * 1.96 * 3 and wide.lo < -8.0 < wide.hi
    with pytest.raises(ValueError, match="extra"):
        stats.with_extra_spread(est, np.zeros(3))
