"""The "refined" search (exhaustive optimum on a coarse grid, then compass search through the solver;
``trajreg.refine``) measured as notebooks/beyond_optimality_gap.ipynb measures every method.

    OMP_NUM_THREADS=1 python benchmarks/recommend.py --model fmnist-edm --stored results/cpu/beyond.jsonl
    OMP_NUM_THREADS=1 python benchmarks/recommend.py --model kde-fmnist --stored results/cpu/beyond_kde.jsonl
    OMP_NUM_THREADS=1 python benchmarks/recommend.py --model gmm

Same noises, reference and held-out split as ``benchmarks/beyond_large.py`` (search noises seeds
WARMUP_SEED + 0..n_search-1, held-out seeds 0..n_eval-1, reference iPNDM on 100 polynomial steps).
For a registered model the start is the stored exhaustive optimum of ``--stored`` (same noises, same
12-point grid; checked: its held-out errors are recomputed once and compared), charged at its stored
NFE and seconds; its other rows are not rewritten. For "gmm" (the notebook's mixture: 32 search
noises, 128 held-out, 16-point exhaustive grid, 21-point propagated GITS, 30 learned iterations)
every method runs here, as the notebook runs them. One JSON line per (solver, K, method) in
beyond.jsonl's format, plus the refinement's own record; appended to ``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from trajreg import data, models, refine, results, runs, search, stats
from trajreg.denoisers import Counted, GaussianMixtureDenoiser

ROOT = Path(__file__).resolve().parents[1]
GMM = {"n_search": 32, "n_eval": 128, "coarse": 16, "prop_grid": 21, "learned_iters": 30}


def provenance(a: argparse.Namespace) -> dict:
    """Command, commit (and whether the package or benchmarks were dirty), model checksum,
    hardware, threads, date, sizes and seeds of this run."""
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run([*git, "status", "--porcelain", "trajreg", "benchmarks"],
                                capture_output=True, text=True).stdout.strip())
    try:
        weights = {"model_sha256": models.card(a.model)["sha256"]}
    except (FileNotFoundError, ValueError):   # the KDE and the mixture: closed forms, no weights
        weights = {"model_sha256_unrecorded": f"{a.model} has no weights file (closed-form denoiser)"}
    return {"command": " ".join(["python", *sys.argv]), "commit": commit, "dirty": dirty,
            "model": a.model, **weights, "hardware": f"{platform.machine()} "
            f"{platform.processor() or platform.platform()}, torch threads {torch.get_num_threads()}",
            "date": datetime.date.today().isoformat(), "n_search": a.n_search, "n_eval": a.n_eval,
            "search_seeds": [runs.WARMUP_SEED + a.seed, runs.WARMUP_SEED + a.seed + a.n_search],
            "eval_seeds": [a.seed, a.seed + a.n_eval], "max_sweeps": a.max_sweeps,
            "refine_methods": a.methods}



def flat(r: dict) -> dict:
    """A stored row (results schema: the run's fields nested in ``provenance``) in the flat form
    this script works with; a flat row is returned as it is."""
    if "provenance" not in r:
        return r
    p = r["provenance"]
    out = {k: v for k, v in r.items() if k != "provenance"}
    out.update({k: p[k] for k in ("command", "commit", "dirty", "model", "hardware", "date")})
    sha = {"model_sha256": p["model_sha256"]} if p.get("model_sha256") else \
        {"model_sha256_unrecorded": p.get("model_sha256_unrecorded", "")}
    out.update(sha)
    out["n_search"], out["n_eval"] = p["n"]["search"], p["n"]["eval"]
    for name in ("search", "eval"):
        lo, hi = (int(x) for x in p["seeds"][name].split("-"))
        out[f"{name}_seeds"] = [lo, hi + 1]
    return out


def nest(r: dict) -> dict:
    """A flat row of this script in the results schema (``trajreg.results``)."""
    run = ("command", "commit", "dirty", "model", "model_sha256", "model_sha256_unrecorded", "hardware",
           "date")
    out = {k: v for k, v in r.items() if k not in run}
    threads = r["hardware"].rsplit("torch threads", 1)[-1].strip()
    prov = {"command": r["command"], "commit": r["commit"], "dirty": r["dirty"], "model": r["model"],
            "model_sha256": r.get("model_sha256"), "hardware": r["hardware"],
            "threads": int(threads) if threads.isdigit() else None, "precision": None,
            "n": {"search": r["n_search"], "eval": r["n_eval"]},
            "seeds": {name: f"{r[f'{name}_seeds'][0]}-{r[f'{name}_seeds'][1] - 1}"
                      for name in ("search", "eval")},
            "date": r["date"]}
    if prov["model_sha256"] is None:
        prov["model_sha256_unrecorded"] = r.get("model_sha256_unrecorded",
                                                f"{r['model']} has no weights file")
    return {**out, "provenance": prov}

def stored_rows(path: str, prov: dict) -> dict[tuple[str, int, str], dict]:
    """Rows of a beyond_large.py result keyed (solver, K, method), checked to share our model (its
    weights' sha256 too), sizes and seeds; rows from a modified tree or other weights are refused
    by ``results.read``."""
    rows = [flat(r) for r in results.read(path)]
    n_lines = sum(1 for line in Path(path).read_text().splitlines() if line.strip())
    if len(rows) != n_lines:
        raise ValueError(f"--stored {path}: {n_lines - len(rows)} of {n_lines} rows were made from a "
                         "modified tree or with other weights (see the warning); rerun beyond_large.py first")
    for r in rows:
        for key in ("model", "model_sha256", "n_search", "n_eval", "search_seeds", "eval_seeds"):
            if r.get(key) != prov.get(key):
                raise ValueError(f"--stored {path} has {key}={r.get(key)!r}, this run {prov.get(key)!r}")
    return {(r["solver"], r["K"], r["method"]): r for r in rows}


def on_grid(sigmas: list[float], n: int) -> bool:
    """Whether every sigma is a point of the n-point exhaustive grid (to the stored 6 digits)."""
    g = search.coarse_grid(n)
    return all(float((g - s).abs().min()) <= 1e-6 * max(1.0, s) for s in sigmas)


def row(prov: dict, D, noise_s, noise_e, ref_s, ref_e, solver: str, K: int, method: str,
        sigmas: torch.Tensor, nfe: int, seconds: float, **extra) -> dict:
    """One result line: schedule, cost, per-sample held-out errors, mean on the search noises."""
    errs = search.ode_errors(D, noise_e, sigmas, solver, ref_e)
    on_search = search.ode_errors(D, noise_s, sigmas, solver, ref_s)
    return {**prov, "solver": solver, "K": K, "method": method,
            "sigmas": [round(float(s), 6) for s in sigmas], "search_nfe": int(nfe),
            "search_seconds": round(seconds, 2), "search_error": float(on_search.mean()),
            "errors": [round(float(e), 6) for e in errs], "error_mean": float(errs.mean()), **extra}


def gmm_rows(a, prov, D, noise_s, noise_e, ref_s, ref_e, solver: str, K: int) -> list[dict]:
    """Every method of the notebook's mixture run (its ``run_all`` arguments) at (solver, K)."""
    out = []
    # every method but the refined ones (this script's subject) and AYS (it needs real data samples)
    for m in [m for m in search.METHODS if not m.startswith("refined") and m != "ays"]:
        kw = {"x_ref": ref_s, "iters": a.learned_iters} if m == "learned" else {}
        kw = {"x_ref": ref_s, "grid": a.coarse} if m == "exhaustive" else kw
        kw = {"grid": a.prop_grid} if m == "gits-propagated" else kw
        r = search.search(m, D, noise_s, K, solver, **kw)
        out.append(row(prov, D, noise_s, noise_e, ref_s, ref_e, solver, K, m, r.sigmas, r.nfe,
                       r.seconds))
    return out


def start_of(a, stored, D, noise_s, ref_s, solver: str, K: int) -> tuple[torch.Tensor, int, float, str]:
    """The exhaustive optimum at (solver, K): stored if present (checked on the grid), else run."""
    r = stored.get((solver, K, "exhaustive"))
    if r is not None:
        if not on_grid(r["sigmas"], a.coarse):
            raise ValueError(f"stored exhaustive schedule {r['sigmas']} is not on the {a.coarse}-point grid")
        src = f"{a.stored} (commit {r['commit'][:8]})" if a.stored else "this run (its exhaustive row)"
        return torch.tensor(r["sigmas"], dtype=torch.float64), r["search_nfe"], r["search_seconds"], src
    ex = search.search("exhaustive", D, noise_s, K, solver, x_ref=ref_s, grid=a.coarse)
    return ex.sigmas, ex.nfe, ex.seconds, "this run"


def candidates_of(a, stored, solver: str, K: int) -> tuple[list[str], list[torch.Tensor], int, float]:
    """The MULTISTART schedules at (solver, K): OSS from ``stored`` (its NFE and seconds charged),
    the fixed formulas computed (free)."""
    names, sig, nfe, sec = [], [], 0, 0.0
    for m in refine.MULTISTART:
        r = stored.get((solver, K, m))
        if m in search.FIXED:
            sig.append(search.schedule(m, None, torch.zeros(1, 1), K))
        elif r is not None:
            sig.append(torch.tensor(r["sigmas"], dtype=torch.float64))
            nfe, sec = nfe + r["search_nfe"], sec + r["search_seconds"]
        else:
            raise ValueError(f"no stored {m} row at {solver} K={K}: run it first")
        names.append(m)
    return names, sig, nfe, sec


def refined_row(a, prov, stored, D, noise_s, noise_e, ref_s, ref_e, solver: str, K: int,
                method: str, done: dict) -> dict:
    """Refine the exhaustive optimum (or, for refined-multistart, the start chosen among it and
    MULTISTART); cost = the starts' (incl. the reference) + the refinement's. A refined-multistart
    that keeps the exhaustive start reuses the refined row of ``done`` (same deterministic
    computation) and is charged its refinement plus the selection."""
    s0, nfe0, sec0, source = start_of(a, stored, D, noise_s, ref_s, solver, K)
    names, starts = ["exhaustive"], [s0]
    if method == "refined-multistart":
        more, sig, nfe1, sec1 = candidates_of(a, stored, solver, K)
        names, starts, nfe0, sec0 = names + more, starts + sig, nfe0 + nfe1, sec0 + sec1
    c = Counted(D)
    t = time.perf_counter()
    pick = refine.refine(c, noise_s, starts, solver, ref_s, max_sweeps=0) if len(starts) > 1 else None
    prev = done.get((solver, K))
    if pick is not None and pick["start_index"] == 0 and prev is not None \
            and prev["start"]["sigmas"] == [round(float(x), 6) for x in s0]:
        r = {"sigmas": torch.tensor(prev["sigmas"], dtype=torch.float64), **prev["refine"],
             "start_index": 0, "start_errors": pick["start_errors"], "reused": "the refined row"}
        nfe_r, sec_r = c.samples + prev["refine"]["nfe"], time.perf_counter() - t + prev["refine"]["seconds"]
    else:
        first = pick["start_index"] if pick is not None else 0
        r = refine.refine(c, noise_s, starts[first], solver, ref_s, max_sweeps=a.max_sweeps)
        r |= {"start_index": first, "start_errors": pick["start_errors"] if pick else [r["start_error"]]}
        nfe_r, sec_r = c.samples, time.perf_counter() - t
    first = r["start_index"]
    info = {"start": {"method": names[first], "grid": a.coarse, "source": source,
                      "sigmas": [round(float(x), 6) for x in s0], "search_nfe": nfe0,
                      "search_seconds": sec0,
                      "candidates": dict(zip(names, r["start_errors"], strict=True))},
            "refine": {"nfe": nfe_r, "seconds": round(sec_r, 2), "history": r["history"],
                       "sweeps": r["sweeps"], "accepted": r["accepted"], "step_frac": r["step_frac"],
                       **({"reused": r["reused"]} if "reused" in r else {})}}
    return row(prov, D, noise_s, noise_e, ref_s, ref_e, solver, K, method, r["sigmas"],
               nfe0 + nfe_r, sec0 + sec_r, **info)


def gap_table(rows: list[dict]) -> list[str]:
    """Per (solver, K): every method's held-out mean error / the exhaustive optimum's (paired
    bootstrap interval), as printable lines."""
    by = {}
    for r in rows:
        by.setdefault((r["solver"], r["K"]), {})[r["method"]] = r
    lines = []
    for (sv, k), grp in sorted(by.items()):
        if "exhaustive" not in grp:
            continue
        best = grp["exhaustive"]["errors"]
        cells = [f"{m} {stats.paired_ratio(best, r['errors']).fmt('.3f')}" for m, r in grp.items()]
        lines.append(f"{sv:6s} K={k:2d}  " + "; ".join(cells))
    return lines


def markdown(paths: list[str], model: str) -> str:
    """Gap table of every row of ``paths`` for ``model``: method x (solver, K) cells "ratio [lo, hi]"
    of held-out mean error to the exhaustive optimum's (paired bootstrap), then each method's
    search NFE and seconds; the last rows are the ratio to the best method at each (solver, K)."""
    rows = [r for p in paths for r in (flat(json.loads(x)) for x in Path(p).read_text().splitlines())
            if r["model"] == model]
    cols = sorted({(r["solver"], r["K"]) for r in rows})
    cell = {(r["method"], r["solver"], r["K"]): r for r in rows}
    methods = list(dict.fromkeys(r["method"] for r in rows))
    head = "| method | " + " | ".join(f"{'DDIM' if s == 'euler' else 'iPNDM'} K {k}" for s, k in cols) + " |"
    out = [head, "|" + "---|" * (len(cols) + 1)]
    for m in methods:
        vals = []
        for s, k in cols:
            r, ex = cell.get((m, s, k)), cell.get(("exhaustive", s, k))
            vals.append(stats.paired_ratio(ex["errors"], r["errors"]).fmt(".2f") if r and ex else "-")
        out.append(f"| {m} | " + " | ".join(vals) + " |")
    out += ["", "| method | " + " | ".join(f"{s} K {k}: NFE / s" for s, k in cols) + " |",
            "|" + "---|" * (len(cols) + 1)]
    for m in methods:
        vals = [f"{cell[m, s, k]['search_nfe']} / {cell[m, s, k]['search_seconds']:.0f}"
                if (m, s, k) in cell else "-" for s, k in cols]
        out.append(f"| {m} | " + " | ".join(vals) + " |")
    best = {c: min(r["error_mean"] for (m, s, k), r in cell.items() if (s, k) == c) for c in cols}
    out += ["", "| method / best | " + " | ".join(f"{s} K {k}" for s, k in cols) + " |",
            "|" + "---|" * (len(cols) + 1)]
    for m in methods:
        vals = [f"{cell[m, s, k]['error_mean'] / best[s, k]:.2f}" if (m, s, k) in cell else "-"
                for s, k in cols]
        out.append(f"| {m} | " + " | ".join(vals) + " |")
    return "\n".join(out)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="fmnist-edm", choices=[*sorted(models.MODELS), "gmm"])
    p.add_argument("--stored", default=None, help="beyond_large.py results holding the exhaustive starts")
    p.add_argument("--ks", type=int, nargs="+", default=[5, 10, 4, 6, 8])
    p.add_argument("--solvers", nargs="+", default=list(search.SOLVERS))
    p.add_argument("--n-search", type=int, default=32)
    p.add_argument("--n-eval", type=int, default=64)
    p.add_argument("--coarse", type=int, default=12, help="grid points of the exhaustive start")
    p.add_argument("--max-sweeps", type=int, default=refine.MAX_SWEEPS)
    p.add_argument("--methods", nargs="+", default=["refined"], choices=["refined", "refined-multistart"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--table", nargs="+", default=None, metavar="JSONL",
                   help="only print the markdown gap table of these result files for --model")
    p.add_argument("--out", default="results/cpu/recommend.jsonl")
    a = p.parse_args(argv)
    if a.model == "gmm":
        for k, v in GMM.items():
            setattr(a, k, v)
    return a


def main(argv: list[str] | None = None) -> None:
    a = parse(argv)
    if a.table:
        print(markdown(a.table, a.model))
        return
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    prov = provenance(a)
    if a.model == "gmm":
        D, shape, dtype = GaussianMixtureDenoiser.example(), (16,), torch.float64
    else:
        D, shape, dtype = models.load(a.model), models.info(a.model).data_shape, torch.float32
    stored = stored_rows(a.stored, prov) if a.stored else {}
    out = Path(a.out)
    done = {(r["solver"], r["K"]): r for r in (flat(json.loads(x)) for x in out.read_text().splitlines())
            if r["method"] == "refined" and r["model"] == a.model and r["max_sweeps"] == a.max_sweeps
            } if out.is_file() else {}
    noise_s = data.noise(range(runs.WARMUP_SEED + a.seed, runs.WARMUP_SEED + a.seed + a.n_search),
                         shape, dtype)
    noise_e = data.noise(range(a.seed, a.seed + a.n_eval), shape, dtype)
    t = time.perf_counter()
    ref_s, ref_e = search.reference(D, noise_s), search.reference(D, noise_e)
    print(f"references {time.perf_counter() - t:.0f} s", flush=True)
    rows, checked = [], False
    with out.open("a") as f:
        for K in a.ks:
            for sv in a.solvers:
                new = gmm_rows(a, prov, D, noise_s, noise_e, ref_s, ref_e, sv, K) if a.model == "gmm" else []
                starts = stored | {(sv, K, r["method"]): r for r in new}   # the mixture: this run's
                for m in a.methods:
                    new.append(refined_row(a, prov, starts, D, noise_s, noise_e, ref_s, ref_e, sv, K, m,
                                           done))
                    done |= {(sv, K): new[-1]} if m == "refined" else {}
                st = stored.get((sv, K, "exhaustive"))
                if st is not None and not checked:   # the measurement is the stored one
                    e = search.ode_errors(D, noise_e, torch.tensor(st["sigmas"], dtype=torch.float64),
                                          sv, ref_e)
                    diff = float((e - torch.tensor(st["errors"], dtype=torch.float64)).abs().max())
                    new[-1]["start"]["check_max_abs_diff"] = diff
                    print(f"stored exhaustive {sv} K={K}: held-out errors recomputed, max |diff| {diff:.2e}")
                    checked = True
                for r in new:
                    f.write(json.dumps(nest(r)) + "\n")
                f.flush()
                rows += new + [st] if st is not None else new
                for r in new[len(new) - len(a.methods):]:
                    ex = st["error_mean"] if st else float("nan")
                    print(f"{sv:6s} K={K:2d} {r['method']} ({r['start']['method']} start) err "
                          f"{r['error_mean']:.4f} (exhaustive {ex:.4f}) "
                          f"search {r['search_error']:.4f} nfe {r['search_nfe']} (+{r['refine']['nfe']}) "
                          f"{r['search_seconds']:.0f} s (+{r['refine']['seconds']:.0f} s)", flush=True)
    print("\n".join(gap_table(rows)))
    print(f"appended to {a.out}")


if __name__ == "__main__":
    main()
