"""Why GITS helps at NFE 5-6 and not at 8-10 on our model: the experiments of notebooks/gits_why.

    OMP_NUM_THREADS=1 python benchmarks/gits_why_large.py --n 256 --json results/cpu/gits_why.jsonl

Writes one JSON line per evaluated (experiment, solver, schedule) with the per-sample ODE errors
(RMS per pixel against a 100-step iPNDM reference from the same noise, rounded to 4 significant
digits) so that the page can form paired comparisons and intervals; the first line holds the
provenance (command, commit, model checksum, hardware, date, sizes, seeds). Experiments (issue 13):
config (metric x gamma x NFE), oracle (exact state after the first jump), forced (one first jump
on the polynomial schedule), sweep (first stop at fixed NFE), model (KDE/hybrid schedules),
propagation (landing vs final error per jump; expansion factor), choice (bootstrap frequency).
About 300k network evaluations at the defaults: ~35-50 min on one CPU thread.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from trajreg import data, diagnose, evaluate, gits, results, runs, schedules

NFES = (5, 6, 8, 10)
GAMMAS = (1.0, 1.15, 1.3)
STOPS = (7.5, 10.0, 15.0, 20.0, 30.0)
EXPANSION_AT = (0, 14, 19, 25, 33, 42)     # grid indices (sigma 80, 19.6, 11, 5.1, 1.6, 0.32)


def provenance(a: argparse.Namespace, argv: list[str] | None) -> dict:
    """The ``trajreg.results`` provenance record of this run (sizes and seeds of each experiment)."""
    command = results.command("benchmarks/gits_why_large.py", argv)
    return results.provenance(
        command, a.model, n={"eval": a.n, "warmup": a.warmup, "kde": a.kde_n, "hybrid": a.n_hybrid,
                             "prop": a.n_prop, "expansion": a.n_expansion},
        seeds={"eval": results.seed_range(0, a.n), "warmup": results.seed_range(runs.WARMUP_SEED, a.warmup)})


class Writer:
    """Append rows, each with the run's provenance record, to the JSON-lines file (and stderr)."""

    def __init__(self, path: str | None, prov: dict):
        self.path, self.prov = (Path(path) if path else None), prov
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("")

    def __call__(self, row: dict) -> None:
        row = {"provenance": self.prov, **row}
        results.validate(row)
        if self.path:
            with self.path.open("a") as f:
                f.write(json.dumps(row) + "\n")
        short = {k: v for k, v in row.items()
                 if k not in ("provenance", "errors", "landing", "final", "sigma_max_sv")}
        print(json.dumps(short), file=sys.stderr, flush=True)


def r4(x) -> list[float]:
    return [float(f"{float(v):.4g}") for v in torch.as_tensor(x).flatten().tolist()]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="fmnist-edm")
    p.add_argument("--n", type=int, default=256, help="held-out evaluation noises (seeds 0..n-1)")
    p.add_argument("--warmup", type=int, default=256)
    p.add_argument("--kde-n", type=int, default=32)
    p.add_argument("--n-hybrid", type=int, default=128)
    p.add_argument("--n-prop", type=int, default=64)
    p.add_argument("--n-expansion", type=int, default=8)
    p.add_argument("--n-boot", type=int, default=50)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--only", nargs="*", default=None, help="experiments to run (default all)")
    p.add_argument("--json", help="write the rows to this JSON-lines file (overwritten)")
    a = p.parse_args(argv)
    todo = set(a.only or ["config", "oracle", "sweep", "propagation", "choice", "model"])
    out = Writer(a.json, provenance(a, argv))
    out({"exp": "provenance", "reference": "ipndm, 100 steps, polynomial rho 7"})
    model = runs.load_model(a.model)
    seeds = runs.eval_seeds(0, a.n)
    noise = data.noise(seeds, model.shape)
    t0 = time.perf_counter()
    warm, _ = runs.cached_warmup(model, a.warmup, batch_size=a.batch)
    x_ref = runs.cached_reference(model, seeds, 100, batch_size=a.batch)
    out({"exp": "setup", "seconds": round(time.perf_counter() - t0, 1)})
    grid = warm.sigmas
    costs = {m: gits.cost_matrix(warm, m) for m in ("l2", "dev")}
    paths = {(m, g): gits.optimal_paths(costs[m], max(NFES), g) for m in costs for g in GAMMAS}
    done: dict = {}

    def run(exp, solver, label, sigmas, *, den=None, ref=None, z=None, **extra):
        """Evaluate (solver, sigmas) on the held-out noises (memoised per denoiser) and record."""
        den = model.denoiser if den is None else den
        ref, z = x_ref if ref is None else ref, noise if z is None else z
        key = (id(den), len(z), solver, tuple(round(float(s), 6) for s in sigmas))
        start = time.perf_counter()
        if key not in done:
            x = evaluate.final_samples(den, z, sigmas, solver, batch_size=a.batch)
            done[key] = evaluate.ode_error(x, ref)
        out({"exp": exp, "solver": solver, "label": label, "nfe": len(sigmas) - 1, "n": len(z),
             "sigmas": r4(sigmas), **extra, "seconds": round(time.perf_counter() - start, 1),
             "errors": r4(done[key])})
        return done[key]

    solvers_ = ("ipndm", "euler")
    if "config" in todo:
        for solver in solvers_:
            for nfe in NFES:
                run("config", solver, "polynomial", evaluate.baseline(solver, nfe))
                for m in ("l2", "dev"):
                    for g in GAMMAS if solver == "ipndm" else (gits.GAMMA,):
                        run("config", solver, f"gits-{m}-{g}", grid[paths[m, g][nfe]],
                            metric=m, gamma=g)
    if "oracle" in todo:
        exact = {}
        for m in ("l2", "dev"):
            for nfe in (5, 8, 10):
                s = grid[paths[m, gits.GAMMA][nfe]]
                stop = float(s[1])
                if stop not in exact:
                    exact[stop] = torch.cat([diagnose.teacher_state(model.denoiser, z, stop, 40)
                                             for z in noise.split(a.batch)])
                for solver in solvers_:
                    for label, x_at in (("oracle", exact[stop]), ("control", None)):
                        key = ("oracle", solver, label, tuple(s.tolist()))
                        start = time.perf_counter()
                        x = done[key] if key in done else torch.cat([diagnose.oracle_first_jump(
                            model.denoiser, z, s, solver, None if x_at is None else x_at[b:b + a.batch])
                            for b, z in zip(range(0, a.n, a.batch), noise.split(a.batch), strict=True)])
                        done[key] = x if x.ndim == 1 else evaluate.ode_error(x, x_ref)
                        out({"exp": "oracle", "solver": solver, "label": label, "metric": m,
                             "nfe": nfe, "n": a.n, "sigmas": r4(s), "stop": round(stop, 4),
                             "seconds": round(time.perf_counter() - start, 1),
                             "errors": r4(done[key])})
        for solver in solvers_:
            for nfe in (8, 10):
                poly = evaluate.baseline(solver, nfe)
                for stop in (6.0, 4.5):
                    f = diagnose.forced_first_jump(poly, stop)
                    run("forced", solver, f"polynomial-{nfe}-forced-{stop}", f, base_nfe=nfe, stop=stop)
    if "sweep" in todo:
        for solver in solvers_:
            for nfe in (5, 8):
                for stop, s in diagnose.first_stop_sweep(grid[paths["l2", gits.GAMMA][nfe]], STOPS).items():
                    run("sweep", solver, f"gits-l2-stop-{stop}", s, metric="l2", stop=stop)
    if "propagation" in todo:
        z = noise[: a.n_prop]
        start = time.perf_counter()
        held = gits.warmup(model.denoiser, z, grid, "ipndm", batch_size=a.batch)
        out({"exp": "heldout-teacher", "n": a.n_prop, "seconds": round(time.perf_counter() - start, 1)})
        poly_on_grid = {5: torch.arange(0, 61, 12), 10: torch.arange(0, 61, 6)}
        for label, path in [("gits-l2-5", paths["l2", gits.GAMMA][5]),
                            ("gits-l2-8", paths["l2", gits.GAMMA][8]),
                            ("gits-dev-8", paths["dev", gits.GAMMA][8]),
                            ("polynomial-5", poly_on_grid[5]), ("polynomial-10", poly_on_grid[10])]:
            jumps = list(zip(path[:-1].tolist(), path[1:].tolist(), strict=True))
            start = time.perf_counter()
            for r in diagnose.propagation(model.denoiser, held, jumps):
                out({"exp": "propagation", "label": label, "i": r["i"], "j": r["j"],
                     "sigma_from": r["sigma_from"], "sigma_to": r["sigma_to"], "n": a.n_prop,
                     "seconds": round(time.perf_counter() - start, 1),
                     "landing": r4(r["landing"]), "final": r4(r["final"])})
                start = time.perf_counter()
        xs = held.x[:, : a.n_expansion].to(torch.float32)
        for i in EXPANSION_AT:
            start = time.perf_counter()
            sv = diagnose.expansion_factor(model.denoiser, xs[i], float(grid[i]), float(grid[-1]),
                                           n_iter=5, n_steps=8)
            out({"exp": "expansion", "i": i, "sigma": float(grid[i]), "n": a.n_expansion,
                 "n_iter": 5, "n_steps": 8, "seconds": round(time.perf_counter() - start, 1),
                 "sigma_max_sv": r4(sv)})
    if "choice" in todo:
        for m in ("l2", "dev"):
            per = diagnose.per_sample_costs(warm, m)
            for nfe in (5, 8):
                freq = diagnose.choice_frequency(per, m, gits.GAMMA, nfe, a.n_boot, seed=0)
                out({"exp": "choice", "metric": m, "nfe": nfe, "n_boot": a.n_boot,
                     "paths": [list(k) for k in freq], "counts": list(freq.values()),
                     "sigmas": [r4(grid[list(k)]) for k in freq]})
                for k in freq:
                    run("choice-eval", "ipndm", f"gits-{m}-boot", grid[list(k)], metric=m,
                        path=list(k), count=freq[k])
    if "model" in todo:
        kde = runs.load_model("kde-fmnist")
        kde_warm, _ = runs.cached_warmup(kde, a.kde_n, batch_size=a.kde_n)
        kde_paths = gits.optimal_paths(gits.cost_matrix(kde_warm, "l2"), max(NFES), gits.GAMMA)
        kz = noise[: a.kde_n]
        kde_ref = runs.cached_reference(kde, seeds[: a.kde_n], 100, batch_size=a.kde_n)
        for solver in solvers_:
            for nfe in NFES:
                run("model", solver, "kde-schedule-on-network", grid[kde_paths[nfe]], metric="l2")
                for label, s in (("polynomial", evaluate.baseline(solver, nfe)),
                                 ("network-schedule-on-kde", grid[paths["l2", gits.GAMMA][nfe]]),
                                 ("kde-schedule-on-kde", grid[kde_paths[nfe]])):
                    run("model-kde", solver, label, s, den=kde.denoiser, ref=kde_ref, z=kz)
        hyb = diagnose.hybrid_denoiser(kde.denoiser, model.denoiser, 20.0)
        hz = noise[: a.n_hybrid]
        start = time.perf_counter()
        hwarm = gits.warmup(hyb, data.noise(range(runs.WARMUP_SEED, runs.WARMUP_SEED + a.n_hybrid),
                                            model.shape), grid, batch_size=a.batch)
        href = evaluate.final_samples(hyb, hz, schedules.polynomial(101), "ipndm", batch_size=a.batch)
        hpaths = gits.optimal_paths(gits.cost_matrix(hwarm, "l2"), max(NFES), gits.GAMMA)
        out({"exp": "hybrid-setup", "n": a.n_hybrid, "seconds": round(time.perf_counter() - start, 1),
             "first_stops": {k: float(grid[v[1]]) for k, v in hpaths.items() if k in NFES}})
        for solver in solvers_:
            for nfe in (5, 8):
                for label, s in (("polynomial", evaluate.baseline(solver, nfe)),
                                 ("network-schedule", grid[paths["l2", gits.GAMMA][nfe]]),
                                 ("hybrid-schedule", grid[hpaths[nfe]])):
                    run("hybrid", solver, label, s, den=hyb, ref=href, z=hz)
    out({"exp": "done", "seconds": round(time.perf_counter() - t0, 1)})


if __name__ == "__main__":
    main()
