"""Uncertainty for every compared number: 95 % intervals, paired comparisons, FID/KID, histograms.

Every function returns an :class:`Estimate` (value, 95 % interval, n) in Python floats and is
deterministic for a given ``seed``. Bootstrap intervals use ``scipy.stats.bootstrap`` (Efron &
Tibshirani 1993): BCa for means and ratios, percentile where BCa is undefined (ties, medians).
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as _st

from trajreg import _numfmt

__all__ = ["Estimate", "LEVEL", "class_flip_share", "class_histogram", "class_weights", "fid_ci",
           "fid_diff_ci", "fid_matched_resamples", "fid_ratio_ci", "fid_resamples", "fid_resamples_at",
           "fid_resamples_many", "hist_chi2", "hist_distance", "interval", "kid", "mean_ci", "median_ci",
           "ode_error_summary", "paired_diff", "paired_ratio", "precision_recall", "share_ci", "sign_test",
           "with_extra_spread"]

LEVEL = 0.95
_Z = float(_st.norm.ppf(0.5 + LEVEL / 2))  # 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    """A number with its 95 % interval [lo, hi] and the sample size n it came from."""

    value: float
    lo: float
    hi: float
    n: int
    label: str = ""

    def __post_init__(self):
        for k in ("value", "lo", "hi"):
            object.__setattr__(self, k, float(getattr(self, k)))
        object.__setattr__(self, "n", int(self.n))
        if not (math.isfinite(self.value) and math.isfinite(self.lo) and math.isfinite(self.hi)):
            raise ValueError(f"Estimate value/lo/hi must be finite, got {self.value}, {self.lo}, {self.hi}")
        if self.lo > self.hi:
            raise ValueError(f"Estimate needs lo <= hi, got lo={self.lo}, hi={self.hi}")

    def __str__(self) -> str:
        return f"{self.fmt()} (n={self.n})"

    def fmt(self, spec: str = ".3g") -> str:
        """'value [lo, hi]': a "g" spec (".3g", significant digits) through the site's one number
        formatter (:func:`trajreg.tables.fmt_interval`); any other spec (".2f") applied to each number."""
        m = re.fullmatch(r"#?\.(\d+)g", spec)
        if m:
            return _numfmt.interval(self.value, self.lo, self.hi, int(m.group(1)))

        def f(v: float) -> str:
            return format(v, spec).rstrip(".") if "#" in spec else format(v, spec)
        return f"{f(self.value)} [{f(self.lo)}, {f(self.hi)}]"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Estimate:
        return cls(**{k: d[k] for k in ("value", "lo", "hi", "n", "label") if k in d})

    @classmethod
    def exact(cls, value: float, n: int = 1, label: str = "") -> Estimate:
        """A number without sampling uncertainty (an interval of zero width)."""
        return cls(value, value, value, n, label)


def _vector(name: str, x, min_n: int = 1) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).ravel()
    if a.size < min_n:
        raise ValueError(f"{name} needs at least {min_n} values, got {a.size}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite entries")
    return a


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = _vector("a", a, 2), _vector("b", b, 2)
    if a.shape != b.shape:
        raise ValueError(f"a and b must be paired (same length), got {a.size} and {b.size}")
    return a, b


def _boot(data: tuple, statistic, *, seed: int, n_resamples: int, paired: bool,
          method: str = "BCa") -> tuple[float, float]:
    """95 % bootstrap interval of ``statistic`` (vectorised over ``axis``); BCa falls back to
    percentile when it is undefined (e.g. constant data)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = _st.bootstrap(data, statistic, n_resamples=n_resamples, paired=paired, vectorized=True,
                          confidence_level=LEVEL, method=method, random_state=np.random.default_rng(seed))
    lo, hi = float(r.confidence_interval.low), float(r.confidence_interval.high)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        if method != "percentile":
            return _boot(data, statistic, seed=seed, n_resamples=n_resamples, paired=paired,
                         method="percentile")
        v = float(statistic(*data, axis=-1))
        return v, v
    return lo, hi


def _contain(value: float, lo: float, hi: float) -> tuple[float, float]:
    return min(lo, value), max(hi, value)


def mean_ci(x, *, seed: int = 0, n_resamples: int = 2000) -> Estimate:
    """Mean with a BCa bootstrap 95 % interval."""
    x = _vector("x", x, 2)
    v = float(x.mean())
    if np.ptp(x) == 0:
        return Estimate.exact(v, x.size)
    lo, hi = _boot((x,), np.mean, seed=seed, n_resamples=n_resamples, paired=False)
    return Estimate(v, *_contain(v, lo, hi), x.size)


def median_ci(x, *, seed: int = 0) -> Estimate:
    """Median with the distribution-free order-statistic 95 % interval (binomial, >= 95 %)."""
    del seed  # exact: no resampling
    x = np.sort(_vector("x", x, 1))
    n = x.size
    j = int(_st.binom.ppf((1 - LEVEL) / 2, n, 0.5))  # lower order statistic (1-based j)
    while j > 0 and _st.binom.cdf(j - 1, n, 0.5) * 2 > 1 - LEVEL:
        j -= 1
    j = max(j, 1)
    lo, hi = x[j - 1], x[n - j]
    return Estimate(float(np.median(x)), float(lo), float(hi), n)


def share_ci(flags) -> Estimate:
    """Share of true flags with the Wilson score 95 % interval (Wilson 1927)."""
    f = np.asarray(flags).ravel()
    if f.size == 0:
        raise ValueError("flags needs at least 1 value, got 0")
    k, n = int(np.count_nonzero(f)), f.size
    p, z2 = k / n, _Z ** 2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n)


def paired_diff(a, b, *, stat: str = "mean", seed: int = 0, n_resamples: int = 2000) -> Estimate:
    """b - a on paired samples (same noise): mean (BCa) or median (percentile) of the differences."""
    a, b = _pair(a, b)
    d = b - a
    if stat == "mean":
        return mean_ci(d, seed=seed, n_resamples=n_resamples)
    if stat == "median":
        v = float(np.median(d))
        if np.ptp(d) == 0:
            return Estimate.exact(v, d.size)
        lo, hi = _boot((d,), np.median, seed=seed, n_resamples=n_resamples, paired=False,
                       method="percentile")
        return Estimate(v, *_contain(v, lo, hi), d.size)
    raise ValueError(f"stat={stat!r} is not allowed; choose one of ['mean', 'median']")


def paired_ratio(a, b, *, seed: int = 0, n_resamples: int = 2000) -> Estimate:
    """mean(b) / mean(a) on paired samples, with a paired BCa bootstrap interval."""
    a, b = _pair(a, b)
    if a.mean() <= 0:
        raise ValueError(f"paired_ratio needs mean(a) > 0, got {a.mean()}")
    v = float(b.mean() / a.mean())

    def ratio(x, y, axis=-1):
        return y.mean(axis=axis) / x.mean(axis=axis)

    lo, hi = _boot((a, b), ratio, seed=seed, n_resamples=n_resamples, paired=True)
    return Estimate(v, *_contain(v, lo, hi), a.size)


def sign_test(a, b) -> tuple[int, int, float]:
    """(#pairs with b < a, #pairs that differ, exact two-sided binomial p) for paired samples."""
    a, b = _pair(a, b)
    below, n = int((b < a).sum()), int((b != a).sum())
    p = 1.0 if n == 0 else float(_st.binomtest(below, n, 0.5).pvalue)
    return below, n, p


# ----------------------------------------------------------------------------------------------
# FID and KID with intervals.


class _FrechetToRef:
    """FID of many covariance estimates against one reference, via
    Tr sqrt(S R) = sum sqrt(eig(R^1/2 S R^1/2)) (R^1/2 computed once)."""

    def __init__(self, ref_mu, ref_sigma):
        self.mu = np.asarray(ref_mu, dtype=np.float64)
        r = np.atleast_2d(np.asarray(ref_sigma, dtype=np.float64))
        w, v = np.linalg.eigh((r + r.T) / 2)
        self.root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
        self.trace_ref = float(np.trace(r))

    def __call__(self, feat: np.ndarray) -> float:
        return float(self.resamples(feat, [np.arange(len(feat))])[0])   # all rows: the Gram route if n < d

    def resamples(self, feat: np.ndarray, rows, weights=None) -> np.ndarray:
        """FID of ``feat[i]`` for each index array i of ``rows``. R^1/2 S R^1/2 is the covariance
        of feat R^1/2, so one product per set replaces two d x d products per resample.
        ``weights``: a function of i giving frequency weights summing to len(i) (mean and
        covariance weighted; integer weights equal repeating rows)."""
        y = feat @ self.root
        out = []
        for i in rows:
            f, g = feat[i], y[i]
            w = np.ones(len(f)) if weights is None else weights(i)
            mu = w @ f / len(f)
            fc, gc = f - mu, g - w @ g / len(f)
            tr = (w @ fc ** 2).sum() / (len(f) - 1)
            ev = self._cov_eigenvalues(np.asarray(i), gc, w, len(f))
            out.append(((mu - self.mu) ** 2).sum() + tr + self.trace_ref
                       - 2 * np.sqrt(np.clip(ev, 0, None)).sum())
        return np.array(out, dtype=np.float64)


    @staticmethod
    def _cov_eigenvalues(i: np.ndarray, gc: np.ndarray, w: np.ndarray, n: int) -> np.ndarray:
        """Eigenvalues of sum_r w_r gc_r gc_r^T / (n - 1). With fewer distinct rows m than
        features d (a bootstrap draws about 0.63 n distinct rows), its non-zero eigenvalues are
        those of the m x m Gram matrix A A^T, A = sqrt(summed weights / (n - 1)) gc over distinct
        rows: exact, and (m / d)^3 of the work."""
        d = gc.shape[1]
        if i.dtype.kind in "iu" and i.ndim == 1:
            uniq, first, inv = np.unique(i, return_index=True, return_inverse=True)
            if len(uniq) < d:
                weight = np.bincount(inv, weights=w, minlength=len(uniq))
                A = gc[first] * np.sqrt(weight / (n - 1))[:, None]
                return np.linalg.eigvalsh(A @ A.T)
        return np.linalg.eigvalsh(np.atleast_2d((gc * w[:, None]).T @ gc / (n - 1)))


def _features(name: str, feat) -> np.ndarray:
    f = np.asarray(feat, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2 or not np.isfinite(f).all():
        raise ValueError(f"{name} must be a finite (N, F) array with N >= 2, got shape {f.shape}")
    return f


def _centred(value: float, boots: np.ndarray, n: int) -> Estimate:
    """Interval of the bootstrap spread, centred on ``value``: [v - (m - q2.5), v + (q97.5 - m)]
    with m the bootstrap median (FID's small-n bias is shared by all resamples; the floor at the
    same n, not this interval, speaks to the bias)."""
    q_lo, m, q_hi = np.quantile(boots, [(1 - LEVEL) / 2, 0.5, (1 + LEVEL) / 2])
    return Estimate(value, value - (m - q_lo), value + (q_hi - m), n)


def fid_resamples(feat, ref_mu, ref_sigma, *, seed: int = 0,
                  n_resamples: int = 200) -> tuple[float, np.ndarray]:
    """FID of ``feat`` and of ``n_resamples`` bootstrap resamples of its rows. The resampled
    indices depend only on ``seed`` and N, so sets from the same noises scored with the same seed
    are paired: their resamples subtract (:func:`interval`) into a paired difference."""
    from trajreg.fid import frechet_distance, statistics

    feat = _features("feat", feat)
    value = frechet_distance(*statistics(feat), ref_mu, ref_sigma)
    rng, n = np.random.default_rng(seed), feat.shape[0]
    rows = [rng.integers(0, n, n) for _ in range(n_resamples)]
    return value, _FrechetToRef(ref_mu, ref_sigma).resamples(feat, rows)


def fid_resamples_at(feat, ref_mu, ref_sigma, rows) -> tuple[float, np.ndarray]:
    """FID of ``feat`` and of ``feat[i]`` for each index array i of ``rows``: the resamples of
    :func:`fid_resamples` with index sets chosen by the caller (shared by sets that are paired)."""
    return fid_resamples_many({"feat": feat}, ref_mu, ref_sigma, rows)["feat"]


def fid_resamples_many(feats: dict, ref_mu, ref_sigma, rows) -> dict:
    """:func:`fid_resamples_at` of every set of ``feats`` ({key: (N, F) features}, all N rows
    indexed by ``rows``), the reference's square root computed once: {key: (value, resamples)}."""
    to_ref = _FrechetToRef(ref_mu, ref_sigma)
    out = {}
    for key, feat in feats.items():
        f = _features("feat" if key == "feat" else f"feats[{key!r}]", feat)
        for i in rows:
            if np.min(i) < 0 or np.max(i) >= len(f):
                raise ValueError(f"rows must index 0..{len(f) - 1} of feat, got indices "
                                 f"{int(np.min(i))}..{int(np.max(i))}")
        out[key] = (to_ref(f), to_ref.resamples(f, rows))
    return out


def precision_recall(real, fake, k: int = 5) -> dict[str, Estimate]:
    """Precision, recall (Kynkaenniemi et al. 2019), density and coverage (Naeem et al. 2020) of
    ``fake`` features against ``real`` ones with k nearest neighbours, from the per-sample tests of
    the ``prdc`` package (precision, density: one per fake sample; recall, coverage: one per real
    sample), each with its 95 % interval over those samples (the other set's k-NN balls held fixed)."""
    try:
        from prdc import prdc as _prdc
    except ImportError as e:
        raise ImportError("precision_recall needs the prdc package: pip install 'trajreg[inception]'") from e
    r, f = _features("real", real), _features("fake", fake)
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"real and fake must have the same feature size, got {r.shape[1]} and {f.shape[1]}")
    if not 1 <= k < min(len(r), len(f)):
        raise ValueError(f"k must be in 1..{min(len(r), len(f)) - 1}, got {k}")
    r_radii = _prdc.compute_nearest_neighbour_distances(r, k)
    f_radii = _prdc.compute_nearest_neighbour_distances(f, k)
    d = _prdc.compute_pairwise_distance(r, f)                       # (real, fake)
    inside_real = d < r_radii[:, None]                              # fake j inside real i's ball
    return {"precision": share_ci(inside_real.any(axis=0)),
            "recall": share_ci((d < f_radii[None, :]).any(axis=1)),
            "density": mean_ci(inside_real.sum(axis=0) / k),
            "coverage": share_ci(d.min(axis=1) < r_radii)}


def with_extra_spread(est: Estimate, extra: np.ndarray, *, shift: float = 0.0, seed: int = 0) -> Estimate:
    """``est`` (a bootstrap interval whose resamples were not kept) with an independent source of
    spread added: est.value + shift + e_b + extra_b, e_b normal with the sd of est's interval
    (half-width / z), percentile interval over the resamples ``extra``."""
    extra = np.asarray(extra, dtype=np.float64).ravel()
    if extra.size < 10 or not np.isfinite(extra).all():
        raise ValueError(f"extra must hold at least 10 finite resamples, got {extra.size}")
    sd = (est.hi - est.lo) / (2 * _Z)
    e = np.random.default_rng(seed).normal(0.0, sd, extra.size)
    total = est.value + shift + e + (extra - np.median(extra))
    lo, hi = np.quantile(total, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return Estimate(est.value + shift, float(lo), float(hi), est.n)


def class_weights(labels, target) -> np.ndarray:
    """Frequency weights (summing to N) that give ``labels`` the class proportions ``target``:
    w_i = target[c_i] / share of c_i. ``target``: counts or shares per class, any scale."""
    lab = np.asarray(labels).ravel()
    t = np.asarray(target, dtype=np.float64).ravel()
    if t.ndim != 1 or t.size < 1 or (t < 0).any() or not t.sum() > 0:
        raise ValueError(f"target must be non-negative counts or shares with a positive sum, got {t}")
    counts = class_histogram(lab, t.size)
    missing = np.flatnonzero((t > 0) & (counts == 0))
    if missing.size:
        raise ValueError(f"labels have no sample of class(es) {missing.tolist()}, which target needs")
    per_class = np.divide(t / t.sum() * lab.size, counts, out=np.zeros_like(t), where=counts > 0)
    return per_class[lab]


def fid_matched_resamples(feat, labels, target, ref_mu, ref_sigma, *, seed: int = 0,
                          n_resamples: int = 200) -> tuple[float, np.ndarray]:
    """:func:`fid_resamples` with the rows reweighted to the class proportions ``target``
    (:func:`class_weights`, recomputed within each resample). Same seed and N: the resampled
    indices are those of :func:`fid_resamples`, so sets from the same noises pair up."""
    feat, lab = _features("feat", feat), np.asarray(labels).ravel()
    if lab.shape != (feat.shape[0],):
        raise ValueError(f"labels must have one entry per row of feat ({feat.shape[0]}), got {lab.shape}")
    rng, n = np.random.default_rng(seed), feat.shape[0]
    rows = [rng.integers(0, n, n) for _ in range(n_resamples)]
    frechet = _FrechetToRef(ref_mu, ref_sigma)
    weights = lambda i: class_weights(lab[i], target)  # noqa: E731
    value = float(frechet.resamples(feat, [np.arange(n)], weights)[0])
    return value, frechet.resamples(feat, rows, weights)


def interval(value: float, resamples: np.ndarray, n: int) -> Estimate:
    """The bootstrap interval of ``value`` from its resamples (centred as :func:`fid_ci`'s)."""
    return _centred(float(value), np.asarray(resamples, dtype=np.float64), n)


def fid_ci(feat, ref_mu, ref_sigma, *, seed: int = 0, n_resamples: int = 200) -> Estimate:
    """FID (trajreg.fid.frechet_distance) with the spread of a bootstrap over samples."""
    value, boots = fid_resamples(feat, ref_mu, ref_sigma, seed=seed, n_resamples=n_resamples)
    return _centred(value, boots, len(feat))


def _fid_pair(feat_a, feat_b, ref_mu, ref_sigma, combine, *, seed: int, n_resamples: int) -> Estimate:
    a, b = _features("feat_a", feat_a), _features("feat_b", feat_b)
    if a.shape != b.shape:
        raise ValueError(f"feat_a and feat_b must be paired (same shape), got {a.shape} and {b.shape}")
    va, ba = fid_resamples(a, ref_mu, ref_sigma, seed=seed, n_resamples=n_resamples)
    vb, bb = fid_resamples(b, ref_mu, ref_sigma, seed=seed, n_resamples=n_resamples)
    return _centred(float(combine(va, vb)), combine(ba, bb), a.shape[0])


def fid_diff_ci(feat_a, feat_b, ref_mu, ref_sigma, *, seed: int = 0, n_resamples: int = 200) -> Estimate:
    """FID(b) - FID(a) for sample sets from the same noises, paired bootstrap over sample indices."""
    return _fid_pair(feat_a, feat_b, ref_mu, ref_sigma, lambda fa, fb: fb - fa, seed=seed,
                     n_resamples=n_resamples)


def fid_ratio_ci(feat_a, feat_b, ref_mu, ref_sigma, *, seed: int = 0, n_resamples: int = 200) -> Estimate:
    """FID(b) / FID(a) for sample sets from the same noises, paired bootstrap over sample indices."""
    return _fid_pair(feat_a, feat_b, ref_mu, ref_sigma, lambda fa, fb: fb / fa, seed=seed,
                     n_resamples=n_resamples)


def _mmd2_poly(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3 (Binkowski et al. 2018, KID)."""
    d, m = x.shape[1], x.shape[0]
    kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(sxx + syy - 2 * kxy.mean())


def kid(feat, ref_feat, *, subsets: int = 50, subset_size: int | None = None, seed: int = 0) -> Estimate:
    """Kernel Inception Distance: mean unbiased MMD^2 over random subsets; the interval is the
    2.5-97.5 % range of the subset values (the spread of one subset-size estimate: conservative).
    Default subset size: min(1000, half of either set), so subsets differ and the interval has width."""
    x, y = _features("feat", feat), _features("ref_feat", ref_feat)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feat and ref_feat need the same feature size, got {x.shape[1]} and {y.shape[1]}")
    m = min(x.shape[0] // 2, y.shape[0] // 2, 1000) if subset_size is None else int(subset_size)
    if not 2 <= m <= min(x.shape[0], y.shape[0]):
        raise ValueError(f"subset_size must be in [2, {min(x.shape[0], y.shape[0])}], got {m}")
    rng = np.random.default_rng(seed)
    vals = np.array([_mmd2_poly(x[rng.choice(x.shape[0], m, replace=False)],
                                y[rng.choice(y.shape[0], m, replace=False)]) for _ in range(subsets)])
    lo, hi = np.quantile(vals, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    v = float(vals.mean())
    return Estimate(v, *_contain(v, float(lo), float(hi)), x.shape[0])


# ----------------------------------------------------------------------------------------------
# ODE error and what the samples are.


def ode_error_summary(errs, far: float = 0.3) -> dict[str, Estimate]:
    """ODE error per sample -> mean (bootstrap), median (order statistics), share farther than
    ``far`` (Wilson)."""
    e = _vector("errs", errs, 2)
    return {"mean": mean_ci(e), "median": median_ci(e), "far_share": share_ci(e > far)}


def class_histogram(labels, n_classes: int) -> np.ndarray:
    """Counts of each predicted class 0..n_classes-1."""
    lab = np.asarray(labels).ravel()
    if lab.size and (lab.min() < 0 or lab.max() >= n_classes or not np.issubdtype(lab.dtype, np.integer)):
        raise ValueError(f"labels must be integers in [0, {n_classes}), got range "
                         f"[{lab.min()}, {lab.max()}] of dtype {lab.dtype}")
    return np.bincount(lab, minlength=n_classes)


def _tv(a: np.ndarray, b: np.ndarray, k: int) -> float:
    return 0.5 * float(np.abs(class_histogram(a, k) / a.size - class_histogram(b, k) / b.size).sum())


def hist_distance(a_labels, b_labels, *, n_classes: int | None = None, seed: int = 0,
                  n_resamples: int = 1000) -> Estimate:
    """Total-variation distance between two class histograms, percentile bootstrap interval
    (paired over indices when the two sets have the same length, i.e. come from the same noise).
    The plug-in TV is biased upwards at small n; :func:`hist_chi2` tests equality."""
    a, b = np.asarray(a_labels).ravel(), np.asarray(b_labels).ravel()
    if a.size < 2 or b.size < 2:
        raise ValueError(f"a_labels and b_labels need at least 2 labels each, got {a.size} and {b.size}")
    k = int(max(a.max(), b.max()) + 1) if n_classes is None else n_classes
    rng, paired = np.random.default_rng(seed), a.size == b.size
    boots = []
    for _ in range(n_resamples):
        i = rng.integers(0, a.size, a.size)
        j = i if paired else rng.integers(0, b.size, b.size)
        boots.append(_tv(a[i], b[j], k))
    v = _tv(a, b, k)
    lo, hi = np.quantile(boots, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return Estimate(v, *_contain(v, float(lo), float(hi)), min(a.size, b.size))


def hist_chi2(a_labels, b_labels, n_classes: int | None = None) -> tuple[float, float]:
    """(chi-square statistic, p) of the test that two label sets share one class distribution."""
    a, b = np.asarray(a_labels).ravel(), np.asarray(b_labels).ravel()
    k = int(max(a.max(), b.max()) + 1) if n_classes is None else n_classes
    table = np.stack([class_histogram(a, k), class_histogram(b, k)])
    table = table[:, table.sum(0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    r = _st.chi2_contingency(table)
    return float(r.statistic), float(r.pvalue)


def class_flip_share(a_labels, b_labels) -> Estimate:
    """Share of paired samples (same noise) whose predicted class differs, Wilson interval."""
    a, b = np.asarray(a_labels).ravel(), np.asarray(b_labels).ravel()
    if a.shape != b.shape:
        raise ValueError(f"a_labels and b_labels must be paired (same length), got {a.size} and {b.size}")
    return share_ci(a != b)
