"""iPNDM on the polynomial schedule vs on GITS at a few NFE, with many samples (a GPU-sized check).

    python benchmarks/gits_large_sample.py --n 10000 --nfe 5 6 8 --device cuda --json out.jsonl

Prints, per NFE, the FID (our Fashion-MNIST classifier features, against the training set) and
the ODE error against a 100-step iPNDM reference from the same noises, for both schedules, plus
the FID of a 35-NFE Heun run for scale. Seeds and warm-up follow ``trajreg.runs``.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from trajreg import data, evaluate, gits, results, runs, schedules


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="fmnist-edm")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--nfe", type=int, nargs="+", default=[5, 6])
    p.add_argument("--warmup", type=int, default=256)
    p.add_argument("--gamma", type=float, default=gits.GAMMA)
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--json", help="add each result to this JSON-lines file (``trajreg.results``; a row of "
                   "the same model, n, solver, schedule and NFE is replaced)")
    a = p.parse_args(argv)
    if a.n < 2:
        p.error(f"--n must be >= 2, got {a.n}")
    command = results.command("benchmarks/gits_large_sample.py", argv)
    prov = results.provenance(command, a.model, n=a.n, seeds=results.seed_range(0, a.n), device=a.device)
    model = runs.load_model(a.model, a.device)
    seeds = runs.eval_seeds(0, a.n)
    noise = data.noise(seeds, model.shape, device=a.device)
    warm, t_warm = runs.cached_warmup(model, a.warmup, batch_size=a.batch)     # cached, as on the pages
    start = time.perf_counter()
    cost = gits.cost_matrix(warm, "l2")
    t_warm += time.perf_counter() - start
    x_ref = runs.cached_reference(model, seeds, 100, batch_size=a.batch).to(a.device)
    rows = []

    def record(solver, schedule, sigmas):
        r = evaluate.evaluate(model.denoiser, noise, sigmas, solver, schedule=schedule, x_ref=x_ref,
                              batch_size=a.batch)
        row = {"provenance": prov, "solver": solver, "schedule": schedule, "nfe": r.nfe,
               "fid": round(r.fid, 3), "ode_error": round(r.ode_error, 5),
               "sigmas": [round(s, 4) for s in r.sigmas], "sampling_s": round(r.seconds, 2)}
        rows.append(row)
        print(f"{solver:6s} {schedule:10s} NFE {r.nfe:3d}: FID {r.fid:8.2f}  ODE error "
              f"{r.ode_error:.4f}  sigmas {row['sigmas']}", file=sys.stderr)

    record("heun", "polynomial", schedules.polynomial(18))
    for nfe in a.nfe:
        record("ipndm", "polynomial", evaluate.baseline("ipndm", nfe))
        record("ipndm", "gits", warm.sigmas[gits.optimal_path(cost, nfe, a.gamma)])
    print(f"warm-up ({a.warmup} x 60 NFE) + cost matrix: {t_warm:.2f} s", file=sys.stderr)
    if a.json:
        for row in rows:
            results.write_row(a.json, row, key=("model", "n", "solver", "schedule", "nfe"))


if __name__ == "__main__":
    main()
