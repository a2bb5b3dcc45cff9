"""Every schedule-search method of ``trajreg.search`` on one model: searched on one noise set,
judged on another (the large tier of notebooks/beyond_optimality_gap.ipynb).

    OMP_NUM_THREADS=1 python benchmarks/beyond_large.py --model fmnist-edm --out results/cpu/beyond.jsonl

Writes one JSON line per (solver, K, method): the schedule, its search cost (NFE per sample summed
over the search batch, wall seconds), the per-sample ODE errors on the held-out noises and the mean
on the search noises, with provenance (command, commit, model sha256, hardware, date, seeds).
Shared work is computed once and its cost charged to every method that needs it: the 61-point
warm-up (GITS, OSS), the 16-point propagated cost matrix (every K and solver), one OSS run per
solver for all K (each K charged its single-K cost, ``search.oss_nfe``, time pro rata).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from trajreg import data, gits, models, runs, search

ROOT = Path(__file__).resolve().parents[1]


def provenance(a: argparse.Namespace) -> dict:
    """Command, commit, model checksum, hardware, date, sizes and seeds of this run."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "trajreg", "benchmarks"],
                                    cwd=ROOT, capture_output=True, text=True).stdout.strip())
    except OSError:
        commit, dirty = "", True
    try:
        weights = {"model_sha256": models.card(a.model)["sha256"]}
    except FileNotFoundError:   # a closed-form denoiser (the KDE): no weights to check
        weights = {"model_sha256_unrecorded": f"{a.model} has no weights file (closed-form "
                                              "denoiser over its dataset)"}
    return {"command": " ".join(["python", *sys.argv]), "commit": commit, "dirty": dirty,
            "model": a.model, **weights, "hardware": f"{platform.machine()} "
            f"{platform.processor() or platform.platform()}, torch threads "
            f"{torch.get_num_threads()}", "date": datetime.date.today().isoformat(),
            "n_search": a.n_search, "n_eval": a.n_eval,
            "search_seeds": [runs.WARMUP_SEED + a.seed, runs.WARMUP_SEED + a.seed + a.n_search],
            "eval_seeds": [a.seed, a.seed + a.n_eval]}


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="fmnist-edm", choices=sorted(models.MODELS))
    p.add_argument("--n-search", type=int, default=32)
    p.add_argument("--n-eval", type=int, default=64)
    p.add_argument("--ks", type=int, nargs="+", default=[4, 5, 6, 8, 10])
    p.add_argument("--exhaustive-ks", type=int, nargs="+", default=[4, 5, 6])
    p.add_argument("--coarse", type=int, default=12, help="grid points of the exhaustive search")
    p.add_argument("--prop-grid", type=int, default=16, help="grid points of gits-propagated")
    p.add_argument("--solvers", nargs="+", default=list(search.SOLVERS))
    p.add_argument("--methods", nargs="+", default=list(search.METHODS), choices=list(search.METHODS),
                   help="methods to run (polynomial always runs: the gap table needs it)")
    p.add_argument("--learned-iters", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/cpu/beyond.jsonl")
    a = p.parse_args(argv)
    torch.set_num_threads(int(__import__("os").environ.get("OMP_NUM_THREADS", "1")))
    prov = provenance(a)
    D, shape = models.load(a.model), models.info(a.model).data_shape
    noise_s = data.noise(range(runs.WARMUP_SEED + a.seed,
                               runs.WARMUP_SEED + a.seed + a.n_search), shape, torch.float32)
    noise_e = data.noise(range(a.seed, a.seed + a.n_eval), shape, torch.float32)
    ref_s, t_ref = timed(lambda: search.reference(D, noise_s))
    ref_e, _ = timed(lambda: search.reference(D, noise_e))
    warm, t_warm = timed(lambda: gits.warmup(D, noise_s, gits.N_GRID))
    run = set(a.methods) | {"polynomial"}
    if "gits-propagated" in run:
        warm21, t_w21 = timed(lambda: gits.warmup(D, noise_s, a.prop_grid))
        cost, t_cost = timed(lambda: search.propagated_cost(D, warm21))
    else:
        t_w21 = t_cost = 0.0
    B, ref_nfe = a.n_search, a.n_search * 100
    prop_nfe = B * (a.prop_grid - 1) + sum(
        B * (j + 1) * (a.prop_grid - 1 - j) for j in range(1, a.prop_grid - 1))
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    f = out.open("w")
    print(f"references {t_ref:.0f} s, warm-up {t_warm:.0f} s, propagated cost {t_w21 + t_cost:.0f} s",
          flush=True)

    def record(solver: str, K: int, method: str, sigmas, nfe: int, seconds: float) -> None:
        errs = search.ode_errors(D, noise_e, sigmas, solver, ref_e)
        on_search = search.ode_errors(D, noise_s, sigmas, solver, ref_s)
        row = {**prov, "solver": solver, "K": K, "method": method,
               "sigmas": [round(float(s), 6) for s in sigmas], "search_nfe": int(nfe),
               "search_seconds": round(seconds, 2), "search_error": float(on_search.mean()),
               "errors": [round(float(e), 6) for e in errs], "error_mean": float(errs.mean())}
        f.write(json.dumps(row) + "\n")
        f.flush()
        print(f"{solver:6s} K={K:2d} {method:16s} err {row['error_mean']:.4f} "
              f"search {row['search_error']:.4f} nfe {nfe} {seconds:.1f} s", flush=True)

    for solver in a.solvers:
        if "oss" in run:
            oss = search.search("oss", D, noise_s, max(a.ks), solver, warm=warm, all_steps=True)
        for K in a.ks:
            for m in search.FIXED:
                if m in run:
                    record(solver, K, m, search.schedule(m, D, noise_s, K), 0, 0.0)
            for m in ("gits-l2", "gits-dev"):
                if m in run:
                    r = search.search(m, D, noise_s, K, solver, warm=warm)
                    record(solver, K, m, r.sigmas, r.nfe, t_warm + r.seconds)
            if "gits-propagated" in run:
                record(solver, K, "gits-propagated", warm21.sigmas[gits.optimal_path(cost, K, 1.0)],
                       prop_nfe, t_w21 + t_cost)
            if "oss" in run:
                single = search.oss_nfe(gits.N_GRID, K, B)
                share = (single - warm.x.shape[1] * 60) / max(1, oss.nfe - warm.x.shape[1] * 60)
                record(solver, K, "oss", oss.info["paths"][K], single, t_warm + share * oss.seconds)
            if "learned" in run:
                r = search.search("learned", D, noise_s, K, solver, x_ref=ref_s,
                                  iters=a.learned_iters)
                record(solver, K, "learned", r.sigmas, r.nfe, t_ref + r.seconds)
            if K in a.exhaustive_ks and "exhaustive" in run:
                r = search.search("exhaustive", D, noise_s, K, solver, x_ref=ref_s,
                                  grid=a.coarse)
                record(solver, K, "exhaustive", r.sigmas, r.nfe, t_ref + r.seconds)
    f.close()
    print(f"wrote {out} (reference solutions: {ref_nfe} NFE charged to learned and exhaustive)")


if __name__ == "__main__":
    main()
