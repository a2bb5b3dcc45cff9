"""The paper's other systems on our model (issue 23): Table 1's AMED-Solver, AMED-Plugin and RES(M)
against iPNDM + GITS, and Sec. 7's Align Your Steps against GITS and uniform with DPM-Solver++(2M).

    OMP_NUM_THREADS=1 python benchmarks/systems.py            # ~1.5 h on one CPU thread

On the same N evaluation noises (seeds 0..N-1, the Table 1 headline's first N), at NFE 5/6/8/10:

* iPNDM on polynomial rho 7, iPNDM + GITS (dev cost, gamma 1.15, iPNDM teacher, 61-point grid, the
  headline's 256 warm-up noises: its schedules equal the headline's), iPNDM + OSS (searched on 24 of
  those warm-up noises, all step counts at once), iPNDM + AYS (trajreg.ays on 8192 training images:
  10 steps from EDM rho 7, 2 sweeps, then 20 steps (new points, at most 1 sweep), log-linear
  interpolation to 5/6/8), RES(M) on polynomial rho 7;
* AMED-Plugin on iPNDM (polynomial) and AMED-Solver (VP time-uniform), each with its own predictor
  per NFE, trained data-free on ``--amed-train`` noises for ``--amed-epochs`` epochs (Adam, the
  authors' lr 5e-3) against the authors' teachers (iPNDM M = 2, Heun M = 1); odd NFE uses the
  analytical first step (the authors' 2K - 1 count); plus the plugin with the predictor fixed at
  r = 1/2 (a diagnostic: what training starts from, not a system);
* with DPM-Solver++(2M) at 10 steps: VP time-uniform ("uniform"), polynomial, AYS (its 10-step
  schedule), GITS (dev, DPM-Solver++(2M) as warm-up teacher, 128 noises).

Per set: the **Inception FID** (the primary metric of the sys.* claims, declared before this run)
against the first 10,000 training images with ``--n-boot`` resampled index sets shared by every set,
so every difference is paired; the classifier FID (secondary); the ODE error of the first M samples
against a 100-step iPNDM solution, per sample (the first 64 pair with the exhaustive optimum of
benchmarks/beyond_large.py, whose held-out noises are seeds 0..63); the paired differences to the
row each is compared with (GITS - other, as the sys.* claims put them); and the method's search or
training cost. Inception features are kept per chunk in the feature cache shared with
warmup_draws.py (the polynomial and GITS sets are already there), so a stopped run resumes.
Rows go to results/cpu/systems.jsonl, one per (system, solver, nfe), with provenance.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from trajreg import amed, ays, data, evaluate, fid, gits, models, results, schedules, search, solvers, stats
from trajreg.feature_store import FeatureStore, chunks
from trajreg.runs import WARMUP_SEED
from trajreg.trajectory import Trajectory

ROOT = results.ROOT
MODEL = "fmnist-edm"
AMED_SEED = 2_000_000           # AMED training noises: AMED_SEED + i (never evaluation or warm-up seeds)
IPNDM_SYSTEMS = ("polynomial", "gits-dev", "oss", "ays", "res_m", "amed_plugin", "amed_solver")
DPMPP_SYSTEMS = ("gits-dev", "ays", "uniform", "polynomial")
SOLVER_OF = {"res_m": "res_m", "amed_plugin": "amed", "amed_solver": "amed"}   # the others: iPNDM
REF_DEF = {"kind": "ref", "images": "fashion-mnist train", "first": 0}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=500, help="evaluation noises per FID")
    p.add_argument("--n-ode", type=int, default=200, help="first M samples scored by ODE error")
    p.add_argument("--n-ref", type=int, default=10_000, help="training images of the Inception reference")
    p.add_argument("--nfes", type=int, nargs="+", default=[5, 6, 8, 10])
    p.add_argument("--warmup", type=int, default=gits.N_WARMUP)
    p.add_argument("--oss-noises", type=int, default=24)
    p.add_argument("--ays-data", type=int, default=8192)
    p.add_argument("--ays-mc", type=int, default=16)
    p.add_argument("--ays-sweeps", type=int, default=2, help="stage-1 sweeps (the early stopping)")
    p.add_argument("--ays-sweeps-fine", type=int, default=1, help="max sweeps after a subdivision")
    p.add_argument("--amed-train", type=int, default=512)
    p.add_argument("--amed-epochs", type=int, default=4)
    p.add_argument("--amed-lr", type=float, default=5e-3, help="Adam learning rate (the authors' 5e-3)")
    p.add_argument("--n-boot", type=int, default=1000, help="paired bootstrap resamples")
    p.add_argument("--chunk", type=int, default=250)
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--features", help="feature cache (default $TRAJREG_CACHE/inception_headline)")
    p.add_argument("--out", help="JSON-lines file (default results/cpu/systems.jsonl)")
    a = p.parse_args(argv)
    if a.n < 16 or not 2 <= a.n_ode <= a.n or a.n_ref < a.n or a.n_boot < 10:
        p.error("need --n >= 16, 2 <= --n-ode <= --n, --n-ref >= --n and --n-boot >= 10")
    if not all(1 <= K <= 60 for K in a.nfes):
        p.error(f"--nfes must lie in 1..60 (the 61-point GITS grid), got {a.nfes}")
    return a


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def rounded(sigmas) -> list[float]:
    return [round(float(v), 6) for v in sigmas]


def searches(D, a: argparse.Namespace, shape) -> tuple[dict, dict]:
    """Schedules {(system, solver, K): sigmas (rounded)} and costs {system: {"nfe", "seconds"}}."""
    sig, cost = {}, {}
    warm_noise = data.noise(range(WARMUP_SEED + a.seed, WARMUP_SEED + a.seed + a.warmup), shape)
    # GITS (iPNDM teacher): one warm-up, one cost matrix, a DP per K
    t0 = time.perf_counter()
    warm = gits.warmup(D, warm_noise, gits.N_GRID, "ipndm", batch_size=a.batch)
    C = gits.cost_matrix(warm, "dev")
    for K in a.nfes:
        sig["gits-dev", "ipndm", K] = warm.sigmas[gits.search(C, K, gits.GAMMA)]
    cost["gits-dev"] = {"nfe": a.warmup * (gits.N_GRID - 1), "seconds": time.perf_counter() - t0}
    log(f"GITS {cost['gits-dev']}")
    # OSS on the first oss_noises warm-up trajectories (their warm-up counted), all K at once
    m = a.oss_noises
    w_m = Trajectory(warm.sigmas, warm.x[:, :m], warm.denoised[:, :m])
    r = search.search("oss", D, warm_noise[:m], max(a.nfes), "ipndm", warm=w_m, all_steps=True,
                      batch_size=a.batch)
    for K in a.nfes:
        sig["oss", "ipndm", K] = r.info["paths"][K].to(torch.float64)
    cost["oss"] = {"nfe": r.nfe, "seconds": r.seconds, "n_search": m}
    log(f"OSS {cost['oss']}")
    # AYS: 10 steps, then 20, interpolated to the other step counts
    x0 = data.fashion_mnist("train")[: a.ays_data].to(torch.float64)
    t0 = time.perf_counter()
    s20, info = ays.ays(D, x0, 20, base=10, levels=1, sweeps=a.ays_sweeps,
                        sweeps_fine=a.ays_sweeps_fine, n_mc=a.ays_mc, seed=a.seed,
                        batch_size=a.batch)
    levels = {int(k): torch.tensor(v, dtype=torch.float64) for k, v in info["levels"].items()}
    for K in a.nfes:
        sig["ays", "ipndm", K] = levels[K] if K in levels else ays.loglinear_interp(s20, K + 1)
    sig["ays", "dpmpp_2m", 10] = levels[10]
    cost["ays"] = {"nfe": info["nfe"], "seconds": time.perf_counter() - t0, "n_mc": a.ays_mc,
                   "sweeps_stage1": a.ays_sweeps, "sweeps_fine_max": a.ays_sweeps_fine,
                   "levels": info["levels"]}
    log(f"AYS nfe {info['nfe']} {cost['ays']['seconds']:.0f} s")
    # GITS for DPM-Solver++(2M), warm-up with DPM-Solver++(2M) as teacher
    t0 = time.perf_counter()
    n2 = a.warmup // 2
    w2 = gits.warmup(D, warm_noise[:n2], gits.N_GRID, "dpmpp_2m", batch_size=a.batch)
    sig["gits-dev", "dpmpp_2m", 10] = w2.sigmas[gits.search(gits.cost_matrix(w2, "dev"), 10, gits.GAMMA)]
    cost["gits-dev/dpmpp_2m"] = {"nfe": n2 * (gits.N_GRID - 1), "seconds": time.perf_counter() - t0}
    for K in a.nfes:
        sig["polynomial", "ipndm", K] = sig["res_m", "res_m", K] = evaluate.baseline("ipndm", K)
    sig["polynomial", "dpmpp_2m", 10] = schedules.polynomial(11)
    sig["uniform", "dpmpp_2m", 10] = schedules.time_uniform(11)
    return {k: rounded(v) for k, v in sig.items()}, cost


def predictor_sha(P: torch.nn.Module) -> str:
    """sha256 over a predictor's parameters (names and float64 bytes): names its sample sets."""
    h = hashlib.sha256()
    for name, v in sorted(P.state_dict().items()):
        h.update(name.encode())
        h.update(v.detach().to(torch.float64).contiguous().numpy().tobytes())
    return h.hexdigest()


def train_amed(D, a: argparse.Namespace, shape) -> tuple[dict, dict]:
    """AMED predictors {(kind, nfe): (predictor, sigmas, afs)} and their training costs, with the
    held-out teacher-matching loss of the initial predictor, of the trained one and of r = 1/2."""
    out, cost = {}, {}
    noise = data.noise(range(AMED_SEED, AMED_SEED + a.amed_train), shape)
    held = data.noise(range(AMED_SEED + 100_000, AMED_SEED + 100_032), shape)
    for kind in amed.KINDS:
        for nfe in a.nfes:
            K, afs = amed.steps_for_nfe(nfe)
            s = schedules.get(amed.SCHEDULE[kind], K + 1)
            P, info = amed.train(D, kind, s, noise, afs=afs, epochs=a.amed_epochs, batch_size=32,
                                 lr=a.amed_lr, seed=a.seed)
            tg = amed.teacher_targets(D, 80.0 * held, s, kind)
            torch.manual_seed(a.seed)
            P0 = amed.Predictor(P.feat_dim)          # the initial predictor train() started from
            per_step = {name: amed.teacher_losses(D, p, kind, s, tg, afs)
                        for name, p in (("initial", P0), ("trained", P), ("r_half", amed.FixedPredictor()))}
            loss = {name: sum(v) for name, v in per_step.items()}
            out[kind, nfe] = (P, s, afs)
            cost[kind, nfe] = {"nfe": info["teacher_nfe"] + info["student_nfe"],
                               "teacher_nfe": info["teacher_nfe"], "student_nfe": info["student_nfe"],
                               "backward_passes": info["backward_passes"], "seconds": info["seconds"],
                               "held_out_loss": loss, "held_out_loss_per_step": per_step,
                               "n_train": a.amed_train, "epochs": a.amed_epochs,
                               "lr": a.amed_lr, "batch": 32}
            log(f"AMED {kind} NFE {nfe}: held-out loss {loss}, {info['seconds']:.0f} s")
    return out, cost


def sample_sets(D, a, shape, sig, cost, predictors, amed_cost, model_sha) -> dict:
    """Every set: {(system, solver, K): {"x", "def", "cost", "extra"}} on the evaluation noises."""
    noise = data.noise(range(a.seed, a.seed + a.n), shape)
    keys = [(m, SOLVER_OF.get(m, "ipndm"), K) for K in a.nfes for m in IPNDM_SYSTEMS]
    keys += [(m, "dpmpp_2m", 10) for m in DPMPP_SYSTEMS]
    keys += [("amed_plugin_r_half", "amed", K) for K in a.nfes]      # the diagnostic
    sets = {}
    for system, solver, K in keys:
        t0 = time.perf_counter()
        if system.startswith("amed"):
            kind = system.split("_")[1]
            P, s, afs = predictors[kind, K]
            if system.endswith("r_half"):
                P = amed.FixedPredictor()
            with torch.no_grad():
                x = torch.cat([amed.SAMPLERS[kind](D, float(s[0]) * z, s, P, afs=afs)
                               for z in noise.split(a.batch)])
            s = rounded(s)
            extra = {"afs": afs, "steps": len(s) - 1, "schedule": amed.SCHEDULE[kind]}
            c = amed_cost[kind, K] if not system.endswith("r_half") else {"nfe": 0, "seconds": 0.0}
            d = {"kind": "sample", "model_sha256": model_sha, "solver": f"amed-{kind}", "sigmas": s,
                 "afs": afs, "first_seed": a.seed, "noise": "float64",
                 "predictor": "r = 1/2" if system.endswith("r_half") else predictor_sha(P)}
        else:
            s = sig[system, solver, K]
            if solvers.nfe(solver, torch.tensor(s)) != K:
                raise RuntimeError(f"{system} {solver}: {solvers.nfe(solver, torch.tensor(s))} NFE, not {K}")
            x = evaluate.final_samples(D, noise, torch.tensor(s, dtype=torch.float64), solver,
                                       batch_size=a.batch)
            extra = {"steps": len(s) - 1}
            own = "gits-dev/dpmpp_2m" if (system, solver) == ("gits-dev", "dpmpp_2m") else system
            c = cost.get(own, {"nfe": 0, "seconds": 0.0})
            d = {"kind": "sample", "model_sha256": model_sha, "solver": solver, "sigmas": s,
                 "first_seed": a.seed, "noise": "float64"}
        sets[system, solver, K] = {"x": x, "def": d, "sigmas": s, "extra": extra, "cost": c,
                                   "sampling_s": round(time.perf_counter() - t0, 1)}
        log(f"sampled {system} {solver} NFE {K} ({sets[system, solver, K]['sampling_s']} s)")
    return sets


def json_key(d: dict) -> str:
    return json.dumps(d, sort_keys=True)


def comparisons(system: str, solver: str, K: int) -> dict[str, tuple[str, str, int]]:
    """The rows a set is compared with: {field: key}, as the sys.* claims put them."""
    if solver == "dpmpp_2m":
        out = {} if system == "gits-dev" else {"gits_minus_this": ("gits-dev", "dpmpp_2m", 10)}
        if system == "uniform":
            out["ays_minus_this"] = ("ays", "dpmpp_2m", 10)
        return out
    if system == "gits-dev":
        return {}
    return {"gits_minus_this": ("gits-dev", "ipndm", K)}


def main(argv: list[str] | None = None, extractor: Callable | None = None) -> None:
    """Run every system (see the module docstring); ``extractor``: a stand-in for Inception (tests)."""
    a = parse(argv)
    t_start = time.perf_counter()
    torch.set_float32_matmul_precision("highest")
    command = results.command("benchmarks/systems.py", argv)
    prov = results.provenance(command, MODEL, n={"fid": a.n, "ode": a.n_ode, "ref": a.n_ref},
                              seeds={"eval": results.seed_range(a.seed, a.n),
                                     "warmup": results.seed_range(WARMUP_SEED + a.seed, a.warmup),
                                     "amed": results.seed_range(AMED_SEED, a.amed_train)})
    commit = prov["commit"] + ("+dirty" if prov["dirty"] else "")
    out = ROOT / (a.out or "results/cpu/systems.jsonl")
    if extractor is None:
        extractor_id = f"inception-2015-12-05:{fid.HELPER_INCEPTION_SHA256[:16]}:clean-resize"
        extractor = fid._inception("cpu", "fid-helper")
    else:
        extractor_id = f"custom:{getattr(extractor, '__name__', type(extractor).__name__)}"
    store = FeatureStore(Path(a.features) if a.features else data.cache_dir() / "inception_headline",
                         extractor_id)
    D, shape = models.load(MODEL), models.info(MODEL).data_shape
    x_ref = evaluate.final_samples(D, data.noise(range(a.seed, a.seed + a.n_ode), shape),
                                   schedules.polynomial(101), "ipndm", batch_size=a.batch)
    log(f"ODE reference done ({time.perf_counter() - t_start:.0f} s)")
    sig, cost = searches(D, a, shape)
    predictors, amed_cost = train_amed(D, a, shape)
    sets = sample_sets(D, a, shape, sig, cost, predictors, amed_cost, prov["model_sha256"])
    # Inception features of every set but the diagnostic (cached chunks are reused)
    scored = {k: v for k, v in sets.items() if not k[0].endswith("r_half")}
    by_def = {json_key(v["def"]): v["x"] for v in scored.values()}
    todo = [(REF_DEF, s, e) for s, e in chunks(a.n_ref, a.chunk)]
    todo += [(v["def"], s, e) for v in scored.values() for s, e in chunks(a.n, a.chunk)]

    def images(d: dict, s: int, e: int) -> torch.Tensor:
        return data.fashion_mnist("train")[s:e] if d["kind"] == "ref" else by_def[json_key(d)][s:e]

    store.fill(todo, images, lambda x: fid.inception_features(x, extractor=extractor),
               {"git_commit": commit, "hardware": results.hardware("cpu"), "device": "cpu",
                "torch": torch.__version__}, log=log)
    ref_feat, _ = store.get(REF_DEF, chunks(a.n_ref, a.chunk))
    ref_inc, ref_clf = fid.statistics(ref_feat), fid.reference_stats("fmnist-train")
    rng = np.random.default_rng(a.seed)
    rows = [rng.integers(0, a.n, a.n) for _ in range(a.n_boot)]
    t0 = time.perf_counter()
    clf_all = stats.fid_resamples_many({k: fid.features(v["x"], "fmnist") for k, v in sets.items()},
                                       *ref_clf, rows)
    inc_all = stats.fid_resamples_many({k: store.get(v["def"], chunks(a.n, a.chunk))[0]
                                        for k, v in scored.items()}, *ref_inc, rows)
    score = {k: (inc_all.get(k), clf_all[k], evaluate.ode_error(v["x"][: a.n_ode], x_ref).numpy())
             for k, v in sets.items()}
    log(f"scored {len(sets)} sets in {time.perf_counter() - t0:.0f} s")
    out_rows = []
    for (system, solver, K), v in sets.items():
        inc, clf, err = score[system, solver, K]
        row = {"system": system, "solver": solver, "nfe": K, "sigmas": v["sigmas"], **v["extra"],
               "fid_classifier": stats.interval(clf[0], clf[1], a.n).to_dict(),
               "ode_error": {k: e.to_dict() for k, e in stats.ode_error_summary(err).items()},
               "ode_errors": [round(float(e), 6) for e in err],
               "cost": {k: (round(x, 2) if isinstance(x, float) else x) for k, x in v["cost"].items()},
               "sampling_s": v["sampling_s"]}
        if inc is not None:
            row["fid_inception"] = stats.interval(inc[0], inc[1], a.n).to_dict()
            row["fid_inception_resamples"] = [round(float(b), 4) for b in inc[1]]
        for field, other in comparisons(system, solver, K).items():
            inc_o, clf_o, err_o = score[other]
            cmp = {"fid_classifier_diff": stats.interval(clf_o[0] - clf[0], clf_o[1] - clf[1], a.n).to_dict(),
                   "ode_error_diff": stats.paired_diff(err_o, err, seed=a.seed).to_dict()}
            if inc is not None:
                cmp["fid_inception_diff"] = stats.interval(inc_o[0] - inc[0], inc_o[1] - inc[1],
                                                           a.n).to_dict()
            row[field] = cmp
        row.update({"provenance": prov, "n_ref": a.n_ref, "features": extractor_id,
                    "reference": f"first {a.n_ref} Fashion-MNIST training images (Inception); "
                                 "fmnist-train (classifier)",
                    "ode_reference": "ipndm, 100 steps, polynomial rho 7",
                    "total_wall_s": round(time.perf_counter() - t_start, 1)})
        out_rows.append(row)
        f = stats.Estimate.from_dict(row.get("fid_inception", row["fid_classifier"]))
        log(f"{system:18s} {solver:9s} NFE {K:2d}  FID {f.fmt('.2f')}  ODE {np.mean(err):.4f}")
    results.write_rows(out, out_rows)
    log(f"wrote {out} in {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
