"""FID of the searched schedules of results/cpu/beyond.jsonl (the large tier of the "Beyond the
paper" pages): every (solver, K, method) schedule sampled on the same N held-out noises.

    OMP_NUM_THREADS=1 python benchmarks/beyond_fid.py --n 1000

The schedules are read, not searched again, from the file ``benchmarks/beyond_large.py`` wrote
(searched on the seeds WARMUP_SEED + 0..31; the noises here are seeds 0..N-1, disjoint from them).
Per (solver, K, method), one JSON line with the classifier FID against the training set and its
95 % bootstrap interval, KID, the predicted-class histogram, and for every method but the
polynomial schedule the paired FID difference to the polynomial schedule of the same solver and K
(same noises, same bootstrap indices) and the share of samples whose class flips. The floor (real
test images at the same n) is stored on every row. K runs in the order 5, 10, 4, 6, 8 so the
head-to-head budgets come first. Rows replace earlier rows of the same (solver, K, method, n)
(``trajreg.results.write_row``; the file ends up ordered by NFE).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from trajreg import data, evaluate, experiments, models, results, solvers, stats

ROOT = results.ROOT
METHODS = ("polynomial", "uniform", "gits-dev", "oss", "learned", "exhaustive")
K_ORDER = (5, 10, 4, 6, 8)


def schedules(path: Path, model: str, methods: tuple[str, ...]) -> dict:
    """{(solver, K, method): sigmas} of the searched schedules stored for ``model``."""
    out = {(r["solver"], r["K"], r["method"]): torch.tensor(r["sigmas"], dtype=torch.float64)
           for r in results.read(path, model=model) if r["method"] in methods}
    if not out:
        raise SystemExit(f"{path}: no schedules of model {model!r} for methods {methods}")
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="fmnist-edm")
    p.add_argument("--n", type=int, default=1_000, help="held-out noises per FID")
    p.add_argument("--schedules", default="results/cpu/beyond.jsonl")
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    p.add_argument("--ks", type=int, nargs="+", default=list(K_ORDER))
    p.add_argument("--solvers", nargs="+", default=["euler", "ipndm"])
    p.add_argument("--n-boot", type=int, default=200)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/cpu/beyond_fid.jsonl")
    a = p.parse_args(argv)
    if a.n < 16:
        p.error("--n must be at least 16")
    if "polynomial" not in a.methods:
        p.error("--methods must include 'polynomial' (every difference is taken against it)")
    t_start = time.perf_counter()
    command = results.command("benchmarks/beyond_fid.py", argv)
    prov = results.provenance(command, a.model, n=a.n, seeds=results.seed_range(a.seed, a.n))
    scheds = schedules(ROOT / a.schedules, a.model, tuple(a.methods))
    D, info = models.load(a.model), models.info(a.model)
    noise = data.noise(range(a.seed, a.seed + a.n), info.data_shape)
    scorer = experiments.Scorer(a.n, "cpu")
    floor = {**scorer.summary(scorer.features(data.fashion_mnist("test")[: a.n]), a.seed,
                              a.n_boot), "n": a.n}
    common = {"provenance": prov, "schedules_from": a.schedules,
              "fid_features": "fmnist classifier (128-d), reference fmnist-train", "floor": floor}
    out = ROOT / a.out
    out.parent.mkdir(parents=True, exist_ok=True)
    methods = ["polynomial", *(m for m in a.methods if m != "polynomial")]
    jobs = [(s, K, m) for K in a.ks for s in a.solvers for m in methods if (s, K, m) in scheds]
    for solver, K, method in tqdm(jobs, desc="schedules", mininterval=60):
        t0 = time.perf_counter()
        x = evaluate.sample_in_batches(D, noise, scheds[solver, K, method], solver, batch_size=a.batch,
                                       desc=f"{solver} K={K} {method}")
        feat = scorer.features(x)
        lab = scorer.labels(feat)
        row = {"solver": solver, "K": K, "method": method,
               "nfe": solvers.nfe(solver, scheds[solver, K, method]),
               "sigmas": [round(float(s), 6) for s in scheds[solver, K, method]], **common,
               **scorer.summary(feat, a.seed, a.n_boot)}
        if method == "polynomial":
            base = {"feat": feat, "lab": lab, "key": (solver, K)}
        elif base["key"] == (solver, K):
            row["vs_polynomial"] = {
                "fid_diff": stats.fid_diff_ci(base["feat"], feat, *scorer.ref, seed=a.seed,
                                              n_resamples=a.n_boot).to_dict(),
                "class_flip_share": stats.class_flip_share(base["lab"], lab).to_dict()}
        row.update(row_wall_s=round(time.perf_counter() - t0, 1))
        results.write_row(out, row, key=("solver", "K", "method", "n"),
                          order=lambda r: (r.get("nfe", 0),))
        fid_ = stats.Estimate.from_dict(row["fid"])
        print(f"{solver:6s} K={K:2d} {method:12s} FID {fid_.fmt('.2f')} ({row['row_wall_s']:.0f} s)",
              file=sys.stderr, flush=True)
    print(f"wrote {out} in {time.perf_counter() - t_start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
