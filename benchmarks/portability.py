"""How portable is a searched schedule? (the large tier of notebooks/beyond_portability.ipynb,
which calls the same ``trajreg.experiments.cross_solver`` and ``by_size`` small)

    OMP_NUM_THREADS=1 python benchmarks/portability.py

Two experiments on the shipped model, judged by per-sample ODE error on the 64 held-out noises of
``benchmarks/beyond_large.py`` (seeds 0..63, against the same 100-step iPNDM reference):

* ``cross-solver``: every schedule of results/cpu/beyond.jsonl, searched for DDIM ("euler") or
  iPNDM, run with each of DDIM, iPNDM, DPM-Solver++(2M) and UniPC (no dynamic thresholding: the
  error is against the ODE's own solution, which thresholding would change); the polynomial and
  GITS schedules, the same for every solver, once (source "-");
* ``search-size``: GITS (dev), OSS and the learned schedule for iPNDM searched on the first 16, 64
  and 256 of the search noises (seeds WARMUP_SEED + 0..255), at K = 5 and 10; each row also records
  its search NFE and wall time (the method's own accounting).

One JSON line per (experiment, method, source solver or search size, target solver, K), with the
per-sample errors and the provenance record of ``trajreg.results``. The file is rewritten.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from trajreg import data, experiments, models, results, runs

METHODS = ("polynomial", "uniform", "gits-dev", "oss", "learned", "exhaustive")


def stored(path: Path, model: str) -> dict:
    """{(method, source solver or "-", K): sigmas} of results/cpu/beyond.jsonl for ``model``; the
    solver-free schedules (``experiments.SOLVER_FREE``) once, from their DDIM rows."""
    out = {}
    for r in sorted(results.read(path, model=model), key=lambda r: (r["solver"], r["K"], r["method"])):
        free = r["method"] in experiments.SOLVER_FREE
        if r["method"] in METHODS and not (free and r["solver"] != "euler"):
            out[r["method"], "-" if free else r["solver"], r["K"]] = torch.tensor(r["sigmas"],
                                                                                  dtype=torch.float64)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="fmnist-edm", choices=sorted(models.MODELS))
    p.add_argument("--schedules", default="results/cpu/beyond.jsonl")
    p.add_argument("--n-eval", type=int, default=64)
    p.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 256])
    p.add_argument("--ks", type=int, nargs="+", default=[5, 10])
    p.add_argument("--oss-max-size", type=int, default=64,
                   help="largest search size OSS runs on (its cost grows with it)")
    p.add_argument("--learned-iters", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/cpu/portability.jsonl")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    n_search = max(a.sizes)
    command = results.command("benchmarks/portability.py", argv)
    prov = results.provenance(command, a.model, n={"search": n_search, "eval": a.n_eval},
                              seeds={"search": results.seed_range(runs.WARMUP_SEED + a.seed, n_search),
                                     "eval": results.seed_range(a.seed, a.n_eval)})
    D, shape = models.load(a.model), models.info(a.model).data_shape
    noise_e = data.noise(range(a.seed, a.seed + a.n_eval), shape, torch.float32)
    out, rows = results.ROOT / a.out, []

    def record(experiment: str, row: dict) -> None:
        extra = {"target": "ipndm", "source": "ipndm"} if experiment == "search-size" else {}
        rows.append({"provenance": prov, "experiment": experiment, **extra, **row,
                     "sigmas": [round(float(s), 6) for s in row["sigmas"]],
                     "errors": [round(float(e), 6) for e in row["errors"]],
                     "error_mean": float(row["errors"].mean())})
        if "search_seconds" in row:
            rows[-1]["search_seconds"] = round(row["search_seconds"], 2)
        results.write_rows(out, rows)

    experiments.cross_solver(D, noise_e, stored(results.ROOT / a.schedules, a.model),
                             on_row=lambda r: record("cross-solver", r))
    pool = data.noise(range(runs.WARMUP_SEED + a.seed, runs.WARMUP_SEED + a.seed + n_search), shape,
                      torch.float32)
    experiments.by_size(D, pool, noise_e, a.sizes, a.ks, a.learned_iters, oss_max_size=a.oss_max_size,
                        on_row=lambda r: record("search-size", r))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
