"""How portable is a searched schedule? (the large tier of notebooks/beyond_portability.ipynb)

    OMP_NUM_THREADS=1 python benchmarks/portability.py

Two experiments on the shipped model, judged by per-sample ODE error on the 64 held-out noises of
``benchmarks/beyond_large.py`` (seeds 0..63, against the same 100-step iPNDM reference):

* ``cross-solver``: every schedule of results/cpu/beyond.jsonl, searched for DDIM ("euler") or
  iPNDM, run with each of DDIM, iPNDM, DPM-Solver++(2M) and UniPC (no dynamic thresholding: the
  error is against the ODE's own solution, which thresholding would change); the polynomial and
  GITS schedules, the same for every solver, once (source "-");
* ``search-size``: GITS (dev), OSS and the learned schedule for iPNDM searched on the first 16, 64
  and 256 of the search noises (seeds WARMUP_SEED + 0..255; prefixes of one set, one warm-up), at
  K = 5 and 10; each row also records its search NFE and wall time.

One JSON line per (experiment, method, source solver or search size, target solver, K), with the
per-sample errors and provenance. The file is rewritten.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from beyond_large import provenance
from tqdm import tqdm

from trajreg import data, gits, models, runs, search
from trajreg.trajectory import Trajectory

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("polynomial", "uniform", "gits-dev", "oss", "learned", "exhaustive")
TARGETS = ("euler", "ipndm", "dpmpp_2m", "unipc")
NO_THRESHOLD = {"unipc": {"thresholding": False}, "dpmpp_2m": {"thresholding": False}}
# schedules that do not depend on the solver they are stored "for" (GITS prices Euler jumps)
SOLVER_FREE = ("polynomial", "gits-dev")


def stored(path: Path, model: str) -> dict:
    """{(source solver, K, method): sigmas} of results/cpu/beyond.jsonl for ``model``."""
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return {(r["solver"], r["K"], r["method"]): torch.tensor(r["sigmas"], dtype=torch.float64)
            for r in rows if r["model"] == model and r["method"] in METHODS}


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
    a.n_search = max(a.sizes)
    prov = provenance(a)
    D, shape = models.load(a.model), models.info(a.model).data_shape
    noise_e = data.noise(range(a.seed, a.seed + a.n_eval), shape, torch.float32)
    ref_e = search.reference(D, noise_e)
    out = ROOT / a.out
    out.parent.mkdir(parents=True, exist_ok=True)
    f = out.open("w")

    def record(**row) -> None:
        sig = row.pop("sigmas")
        solver = row["target"]
        errs = search.ode_errors(D, noise_e, sig, solver, ref_e, **NO_THRESHOLD.get(solver, {}))
        row = {**prov, **row, "sigmas": [round(float(s), 6) for s in sig],
               "errors": [round(float(e), 6) for e in errs], "error_mean": float(errs.mean())}
        f.write(json.dumps(row) + "\n")
        f.flush()

    scheds = stored(ROOT / a.schedules, a.model)
    for (src, K, method), sig in tqdm(sorted(scheds.items()), desc="cross-solver", mininterval=30):
        if method in SOLVER_FREE and src != "euler":
            continue                      # the same schedule for every solver: judged once
        for target in TARGETS:
            record(experiment="cross-solver", method=method, target=target, K=K, sigmas=sig,
                   source="-" if method in SOLVER_FREE else src)

    noise_s = data.noise(range(runs.WARMUP_SEED + a.seed, runs.WARMUP_SEED + a.seed + a.n_search),
                         shape, torch.float32)
    start = time.perf_counter()
    warm = gits.warmup(D, noise_s, gits.N_GRID)
    t_warm = time.perf_counter() - start
    for size in tqdm(a.sizes, desc="search sizes"):
        sub = noise_s[:size]
        w = Trajectory(warm.sigmas, warm.x[:, :size], warm.denoised[:, :size])
        t_w = t_warm * size / a.n_search
        start = time.perf_counter()
        ref_s = search.reference(D, sub)
        t_ref = time.perf_counter() - start
        oss = (search.search("oss", D, sub, max(a.ks), "ipndm", warm=w, all_steps=True)
               if size <= a.oss_max_size else None)
        for K in a.ks:
            r = search.search("gits-dev", D, sub, K, "ipndm", warm=w)
            record(experiment="search-size", method="gits-dev", size=size, source="ipndm",
                   target="ipndm", K=K, sigmas=r.sigmas, search_nfe=r.nfe,
                   search_seconds=round(t_w + r.seconds, 2))
            r = search.search("learned", D, sub, K, "ipndm", x_ref=ref_s, iters=a.learned_iters)
            record(experiment="search-size", method="learned", size=size, source="ipndm",
                   target="ipndm", K=K, sigmas=r.sigmas, search_nfe=r.nfe,
                   search_seconds=round(t_ref + r.seconds, 2))
            if oss is not None:
                single = search.oss_nfe(gits.N_GRID, K, size)
                record(experiment="search-size", method="oss", size=size, source="ipndm",
                       target="ipndm", K=K, sigmas=oss.info["paths"][K], search_nfe=single,
                       search_seconds=round(t_w + oss.seconds, 2))
    f.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
