"""The book's experiments, each written once with its size as a parameter: a notebook calls it
small (the fast tier, re-executed by ``make test``), a command under ``benchmarks/`` calls it large
(the large tier, stored under ``results/``). Both therefore compute a headline number through the
same code; ``tests/test_experiments.py`` checks that they call these functions.

- Table 1 (``tab01_fid_nfe``, ``benchmarks/table1_large.py``): :func:`gits_schedules`, the GITS
  schedules of every cost and K from one warm-up, and :func:`paired_comparison`, a schedule's sample
  set against the polynomial one on the same noises.
- Beyond the optimality gap (``beyond_optimality_gap``, ``benchmarks/beyond_large.py``):
  :func:`compare_methods`, every search method at every (solver, K).
- Portability (``beyond_portability``, ``benchmarks/portability.py``): :func:`portable_schedules`
  and :func:`cross_solver` (a schedule searched for one solver, used with another), and
  :func:`by_size` (how the search set's size changes a method's schedule).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from trajreg import classifier, data, evaluate, fid, gits, search, solvers, stats
from trajreg.denoisers import Denoiser
from trajreg.trajectory import Trajectory

__all__ = ["FLOOR", "HEADLINE", "SIZE_METHODS", "SOLVER_FREE", "TARGETS", "Scorer", "by_size",
           "compare_methods", "cross_solver", "gits_schedules", "image_sets", "paired_comparison",
           "plain_errors", "portable_schedules", "set_images", "warmup_draws", "with_warmup_draw"]

TARGETS = ("euler", "ipndm", "dpmpp_2m", "unipc")     # solvers a schedule is carried to
# schedules that do not depend on the solver they are searched "for" (GITS prices Euler jumps)
SOLVER_FREE = ("polynomial", "gits-dev")
SIZE_METHODS = ("gits-dev", "oss", "learned")         # the methods of the search-size experiment
Row = dict[str, Any]


# --- Table 1 ------------------------------------------------------------------------------------


def gits_schedules(warm: Trajectory, metrics: Sequence[str], max_steps: int,
                   gamma: float = gits.GAMMA) -> dict[str, dict[int, torch.Tensor]]:
    """{metric: {K: K+1 sigmas}} of GITS for every K <= max_steps, from one warm-up."""
    return {m: {K: warm.sigmas[path] for K, path in
                gits.optimal_paths(gits.cost_matrix(warm, m), max_steps, gamma).items()}
            for m in metrics}


def warmup_draws(D: Denoiser, shape: tuple, draws: int, warmup: int, max_steps: int, *,
                 metric: str = "dev", gamma: float = gits.GAMMA, seed: int = 0, batch_size: int = 100,
                 device: str = "cpu", progress: bool = False) -> list[dict[int, torch.Tensor]]:
    """GITS schedules {K: K+1 sigmas} (K <= max_steps) from ``draws`` independent warm-up sets of
    ``warmup`` noises: draw d uses seeds WARMUP_SEED + seed + d * warmup + (0..warmup-1), so
    draw 0 is the warm-up set of Table 1's headline and no draw shares a noise with another."""
    from trajreg.runs import WARMUP_SEED

    if draws < 1 or warmup < 2 or max_steps < 1:
        raise ValueError(f"need draws >= 1, warmup >= 2, max_steps >= 1; got draws={draws}, "
                         f"warmup={warmup}, max_steps={max_steps}")
    out = []
    for d in range(draws):
        first = WARMUP_SEED + seed + d * warmup
        noise = data.noise(range(first, first + warmup), shape, device=device)
        warm = gits.warmup(D, noise, gits.N_GRID, "ipndm", batch_size=batch_size, progress=progress)
        out.append(gits_schedules(warm, (metric,), max_steps, gamma)[metric])
    return out


def with_warmup_draw(diff: stats.Estimate, warmup_row: dict, *, seed: int = 0) -> stats.Estimate:
    """A headline difference GITS - polynomial (its interval over evaluation noises only) with the
    warm-up draw added: shifted by the mean over draws of GITS(draw) - GITS(draw 0) and widened by
    its paired resamples (a row of benchmarks/warmup_draws.py, ``warmup_part``)."""
    part = warmup_row["warmup_part"]
    return stats.with_extra_spread(diff, np.asarray(part["resamples"]), shift=part["value"], seed=seed)


def paired_comparison(feat_a: np.ndarray, feat_b: np.ndarray, err_a: np.ndarray, err_b: np.ndarray,
                      cls_a: np.ndarray, cls_b: np.ndarray, ref: tuple[np.ndarray, np.ndarray], *,
                      seed: int = 0, n_resamples: int = 200) -> dict[str, Any]:
    """Set b against set a on the same noises (b - a): FID difference and ratio (classifier
    features; same bootstrap indices), mean and median ODE-error differences, the sign test
    (b closer to the reference than a), and the share of samples whose predicted class flips.
    ``feat_a``, ``feat_b``: (n, F) features; ``err_a``, ``err_b``: (m,) per-sample ODE errors;
    ``cls_a``, ``cls_b``: (n,) predicted classes."""
    return {"fid": stats.fid_diff_ci(feat_a, feat_b, *ref, seed=seed, n_resamples=n_resamples),
            "ratio": stats.fid_ratio_ci(feat_a, feat_b, *ref, seed=seed, n_resamples=n_resamples),
            "ode": stats.paired_diff(err_a, err_b, seed=seed),
            "ode_median": stats.paired_diff(err_a, err_b, stat="median", seed=seed),
            "sign": stats.sign_test(err_a, err_b),
            "flip": stats.class_flip_share(cls_a, cls_b)}


class Scorer:
    """A sample set's classifier FID (with its interval), KID and class histogram: the classifier,
    the reference statistics (fmnist-train) and the features of the first n training images."""

    def __init__(self, n: int, device: str):
        self.device = device
        self.clf = classifier.load_classifier(device=device)
        self.ref = fid.reference_stats("fmnist-train", device=device)
        self.train_feat = self.features(data.fashion_mnist("train")[:n])

    def features(self, x: torch.Tensor) -> np.ndarray:
        """Classifier features (n, 128) of images x."""
        return fid.features(x, "fmnist", batch_size=500, device=self.device)

    def labels(self, feat: np.ndarray) -> np.ndarray:
        """Predicted classes (n,) from features (the classifier's last layer)."""
        with torch.no_grad():
            logits = self.clf.head(torch.from_numpy(feat).float().to(self.device))
        return logits.argmax(1).cpu().numpy()

    def summary(self, feat: np.ndarray, seed: int, n_boot: int) -> dict:
        """FID and KID (as stored dicts) and the class histogram of a feature set."""
        return {"fid": stats.fid_ci(feat, *self.ref, seed=seed, n_resamples=n_boot).to_dict(),
                "kid": stats.kid(feat, self.train_feat, seed=seed).to_dict(),
                "class_histogram": stats.class_histogram(self.labels(feat), 10).tolist()}


HEADLINE = ("polynomial", "gits-dev", "gits-l2")      # Table 1's large-tier schedules
FLOOR = "real test images"


def image_sets(nfes: Sequence[int], sigmas: dict, model_sha: str, seed: int) -> dict:
    """{set name: definition} of Table 1's large-tier image sets (``feature_store`` keys): the
    reference, the floor, and one sample set per (schedule, NFE) of ``HEADLINE``."""
    out = {"reference": {"kind": "ref", "images": "fashion-mnist train", "first": 0},
           FLOOR: {"kind": "floor", "images": "fashion-mnist test", "first": 0}}
    for K in nfes:
        for name in HEADLINE:
            out[name, K] = {"kind": "sample", "model_sha256": model_sha, "solver": "ipndm",
                            "sigmas": sigmas[name, K], "first_seed": seed, "noise": "float64"}
    return out


def set_images(name: Any, start: int, stop: int, defs: dict, D: Denoiser, shape: tuple, *, seed: int,
               device: str, batch: int) -> torch.Tensor:
    """Images start..stop-1 of a set of :func:`image_sets` (samples: seeds seed + start ...)."""
    if name == "reference":
        return data.fashion_mnist("train")[start:stop]
    if name == FLOOR:
        return data.fashion_mnist("test")[start:stop]
    noise = data.noise(range(seed + start, seed + stop), shape).to(device)
    sig = torch.tensor(defs[name]["sigmas"], dtype=torch.float64)
    return evaluate.sample_in_batches(D, noise, sig, "ipndm", batch_size=batch,
                                      desc=f"NFE {name[1]} {name[0]} {start}-{stop}")


# --- every search method --------------------------------------------------------------------------


def compare_methods(D: Denoiser, noise_s: torch.Tensor, noise_e: torch.Tensor, ks: Sequence[int],
                    solvers_: Sequence[str], *, grid_ex: torch.Tensor | int, grid_prop: torch.Tensor | int,
                    iters: int, methods: Sequence[str] | None = None,
                    exhaustive_ks: Sequence[int] | None = None,
                    on_row: Callable[[Row], None] | None = None) -> list[Row]:
    """Every method at every (solver, K), searched on noise_s and judged on noise_e: rows of
    solver, K, method, sigmas, search_nfe, search_seconds (the method's own cost, shared work
    charged in full), search_error (mean ODE error on noise_s) and errors (per held-out noise).
    grid_ex / grid_prop: the grids of "exhaustive" / "gits-propagated"; methods: default every
    method of ``search.METHODS`` but AYS, which searches on real data samples instead of noises;
    exhaustive_ks: the K "exhaustive" runs at (None: all); on_row: called with each row as it is made."""
    if methods is None:
        methods = [m for m in search.METHODS if m != "ays"]
    shared = search.Shared()
    ref_s, ref_e = shared.reference(D, noise_s), search.reference(D, noise_e)
    grids = {"exhaustive": grid_ex, "gits-propagated": grid_prop}
    rows = []
    for sv in solvers_:
        for k in ks:
            for m in methods:
                if m == "exhaustive" and exhaustive_ks is not None and k not in exhaustive_ks:
                    continue
                r = search.search(m, D, noise_s, k, sv, grid=grids.get(m), iters=iters, shared=shared)
                rows.append({"solver": sv, "K": k, "method": m, "sigmas": r.sigmas.tolist(),
                             "search_nfe": r.nfe, "search_seconds": r.seconds,
                             "search_error": float(search.ode_errors(D, noise_s, r.sigmas, sv,
                                                                     ref_s).mean()),
                             "errors": search.ode_errors(D, noise_e, r.sigmas, sv, ref_e).tolist()})
                if on_row:
                    on_row(rows[-1])
    return rows


# --- portability ----------------------------------------------------------------------------------


def plain_errors(D: Denoiser, noise: torch.Tensor, sigmas: torch.Tensor, target: str,
                 ref: torch.Tensor) -> np.ndarray:
    """Per-sample ODE errors of ``target`` on ``sigmas`` without dynamic thresholding (the error
    is against the ODE's own solution, which thresholding would change)."""
    return search.ode_errors(D, noise, sigmas, target, ref, **solvers.without_thresholding(target)).numpy()


def portable_schedules(D: Denoiser, noise_s: torch.Tensor, ks: Sequence[int], methods: Sequence[str],
                       *, coarse: torch.Tensor | int, iters: int,
                       max_exhaustive_k: int = 6) -> dict[tuple[str, str, int], torch.Tensor]:
    """{(method, source solver, K): sigmas}: each method searched for each solver it steps with
    (``search.STEPPERS``); the polynomial schedule and GITS once, source "-"."""
    shared = search.Shared()
    out = {}
    for k in ks:
        out["polynomial", "-", k] = search.schedule("polynomial", D, noise_s, k, shared=shared)
        for m in methods:
            if m == "exhaustive" and k > max_exhaustive_k:
                continue
            for src in ("-",) if m in SOLVER_FREE else search.STEPPERS:
                out[m, src, k] = search.schedule(m, D, noise_s, k, "ipndm" if src == "-" else src,
                                                 grid=coarse if m == "exhaustive" else None,
                                                 iters=iters, shared=shared)
    return out


def cross_solver(D: Denoiser, noise_e: torch.Tensor, schedules: dict[tuple[str, str, int], torch.Tensor],
                 targets: Sequence[str] = TARGETS, *,
                 on_row: Callable[[Row], None] | None = None) -> list[Row]:
    """Rows (method, source, target, K, sigmas, errors): every schedule of
    :func:`portable_schedules` (or as stored) used with every target solver, judged on noise_e."""
    ref_e = search.reference(D, noise_e)
    rows = []
    for (m, src, k), sig in schedules.items():
        for t in targets:
            rows.append(dict(method=m, source=src, target=t, K=k, sigmas=sig,
                             errors=plain_errors(D, noise_e, sig, t, ref_e)))
            if on_row:
                on_row(rows[-1])
    return rows


def by_size(D: Denoiser, pool: torch.Tensor, noise_e: torch.Tensor, sizes: Sequence[int],
            ks: Sequence[int], iters: int, *, oss_max_size: int | None = None,
            on_row: Callable[[Row], None] | None = None) -> list[Row]:
    """Rows (method, size, K, sigmas, search_nfe, search_seconds, errors): ``SIZE_METHODS``
    searched for iPNDM on the first n noises of pool for each n in sizes; OSS only up to
    oss_max_size noises (None: every size)."""
    ref_e = search.reference(D, noise_e)
    rows = []
    for n in sizes:
        sub, shared = pool[:n], search.Shared()
        for k in ks:
            for m in SIZE_METHODS:
                if m == "oss" and oss_max_size is not None and n > oss_max_size:
                    continue
                r = search.search(m, D, sub, k, "ipndm", iters=iters, shared=shared)
                rows.append(dict(method=m, size=n, K=k, sigmas=r.sigmas, search_nfe=r.nfe,
                                 search_seconds=r.seconds,
                                 errors=plain_errors(D, noise_e, r.sigmas, "ipndm", ref_e)))
                if on_row:
                    on_row(rows[-1])
    return rows
