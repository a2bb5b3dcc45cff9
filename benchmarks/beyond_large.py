"""Every schedule-search method of ``trajreg.search`` on one model: searched on one noise set,
judged on another (the large tier of notebooks/beyond_optimality_gap.ipynb, which calls the same
``trajreg.experiments.compare_methods`` small).

    OMP_NUM_THREADS=1 python benchmarks/beyond_large.py --model fmnist-edm --out results/cpu/beyond.jsonl

Writes one JSON line per (solver, K, method): the schedule, its search cost (NFE per sample summed
over the search batch, wall seconds; the method's own accounting, shared warm-ups and reference
solutions charged in full to every method that uses them), the per-sample ODE errors on the held-out
noises and the mean on the search noises, with the provenance record of ``trajreg.results``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from trajreg import data, experiments, models, results, runs, search


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
    p.add_argument("--solvers", nargs="+", default=list(search.STEPPERS))
    p.add_argument("--methods", nargs="+", default=list(search.METHODS), choices=list(search.METHODS),
                   help="methods to run (polynomial always runs: the gap table needs it)")
    p.add_argument("--learned-iters", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/cpu/beyond.jsonl")
    a = p.parse_args(argv)
    command = results.command("benchmarks/beyond_large.py", argv)
    search_seeds = (runs.WARMUP_SEED + a.seed, a.n_search)
    prov = results.provenance(command, a.model, n={"search": a.n_search, "eval": a.n_eval},
                              seeds={"search": results.seed_range(*search_seeds),
                                     "eval": results.seed_range(a.seed, a.n_eval)})
    D, shape = models.load(a.model), models.info(a.model).data_shape
    noise_s = data.noise(range(search_seeds[0], search_seeds[0] + a.n_search), shape, torch.float32)
    noise_e = data.noise(range(a.seed, a.seed + a.n_eval), shape, torch.float32)
    out, rows = Path(a.out), []

    def record(row: dict) -> None:
        rows.append({"provenance": prov, **row, "sigmas": [round(float(s), 6) for s in row["sigmas"]],
                     "search_seconds": round(row["search_seconds"], 2),
                     "errors": [round(float(e), 6) for e in row["errors"]],
                     "error_mean": float(torch.tensor(row["errors"], dtype=torch.float64).mean())})
        results.write_rows(out, rows)
        r = rows[-1]
        print(f"{r['solver']:6s} K={r['K']:2d} {r['method']:16s} err {r['error_mean']:.4f} search "
              f"{r['search_error']:.4f} nfe {r['search_nfe']} {r['search_seconds']:.1f} s", flush=True)

    methods = ["polynomial", *(m for m in a.methods if m != "polynomial")]
    experiments.compare_methods(D, noise_s, noise_e, a.ks, a.solvers, grid_ex=a.coarse,
                                grid_prop=a.prop_grid, iters=a.learned_iters, methods=methods,
                                exhaustive_ks=a.exhaustive_ks, on_row=record)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
