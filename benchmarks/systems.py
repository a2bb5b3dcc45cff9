"""The paper's other systems on our model (issue 23): Table 1's AMED-Solver, AMED-Plugin and RES(M)
against iPNDM + GITS, and Sec. 7's Align Your Steps against GITS and uniform with DPM-Solver++(2M).

    OMP_NUM_THREADS=1 python benchmarks/systems.py --n 400 --n-ode 200

On the same N evaluation noises (seeds 0..N-1), at NFE 5/6/8/10:

* iPNDM on polynomial rho 7, iPNDM + GITS (dev cost, gamma 1.15, iPNDM teacher, 61-point grid, 256
  warm-up noises), iPNDM + OSS (searched on 24 of those warm-up noises, all step counts at once),
  iPNDM + AYS (trajreg.ays on 8192 training images: 10 steps from EDM rho 7, 2 sweeps, then 20
  steps (new points, at most 2 sweeps), log-linear interpolation to 5/6/8), RES(M) on polynomial rho 7;
* AMED-Plugin on iPNDM (polynomial) and AMED-Solver (VP time-uniform), each with its own predictor
  per NFE, trained data-free on ``--amed-train`` noises against the authors' teachers (iPNDM M = 2,
  Heun M = 1); odd NFE uses the analytical first step (the authors' 2K - 1 count);
* with DPM-Solver++(2M) at 10 steps: VP time-uniform ("uniform"), polynomial, AYS (its 10-step
  schedule), GITS (dev, DPM-Solver++(2M) as warm-up teacher, 128 noises).

Per row: classifier FID with its 95 % bootstrap interval, ODE error of the first M samples against
a 100-step iPNDM solution (mean, median, tail share), the paired FID and ODE-error differences to
the row it is compared with (GITS - other, as the sys.* claims in trajreg.paper put them), and the
method's search / training cost (NFE summed over the samples it ran on, wall seconds). Rows go to
results/cpu/systems.jsonl with provenance, one per (system, solver, nfe, n), written as completed.

The committed rows come from a smaller run than the defaults, sized to the CPU share available
(about a quarter of one core): ``--n 200 --n-ode 100 --warmup 128 --oss-noises 16 --ays-mc 16
--ays-sweeps 2 --ays-sweeps-fine 1 --amed-train 64 --amed-epochs 2`` (each row records its command).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from trajreg import amed, ays, data, evaluate, fid, gits, models, results, schedules, search, solvers, stats
from trajreg.runs import WARMUP_SEED
from trajreg.trajectory import Trajectory

ROOT = Path(__file__).resolve().parents[1]
AMED_SEED = 2_000_000           # AMED training noises: AMED_SEED + i (never evaluation or warm-up seeds)
IPNDM_SYSTEMS = ("polynomial", "gits-dev", "oss", "ays", "res_m", "amed_plugin", "amed_solver")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="fmnist-edm")
    p.add_argument("--n", type=int, default=400, help="evaluation noises per FID")
    p.add_argument("--n-ode", type=int, default=200, help="first M samples scored by ODE error")
    p.add_argument("--nfes", type=int, nargs="+", default=[5, 6, 8, 10])
    p.add_argument("--warmup", type=int, default=gits.N_WARMUP)
    p.add_argument("--oss-noises", type=int, default=24)
    p.add_argument("--ays-data", type=int, default=8192)
    p.add_argument("--ays-mc", type=int, default=32)
    p.add_argument("--ays-sweeps", type=int, default=2, help="stage-1 sweeps (the early stopping)")
    p.add_argument("--ays-sweeps-fine", type=int, default=2, help="max sweeps after a subdivision")
    p.add_argument("--amed-train", type=int, default=128)
    p.add_argument("--amed-epochs", type=int, default=2)
    p.add_argument("--amed-lr", type=float, default=1e-2)
    p.add_argument("--n-boot", type=int, default=200)
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="JSON-lines file (default results/cpu/systems.jsonl)")
    a = p.parse_args(argv)
    if a.n < 16 or not 2 <= a.n_ode <= a.n:
        p.error("need --n >= 16 and 2 <= --n-ode <= --n")
    return a


def hardware() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {torch.get_num_threads()} torch thread(s)"


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "trajreg", "benchmarks"],
                               capture_output=True, text=True).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


PROVENANCE_FIELDS = ("command", "git_commit", "model", "model_sha256", "hardware", "threads", "n", "seeds",
                     "date", "torch", "noise_dtype", "network_dtype")


def nest(row: dict) -> dict:
    """``row`` in the results schema (trajreg.results): its run's fields moved into ``provenance``."""
    out = {k: v for k, v in row.items() if k not in PROVENANCE_FIELDS}
    commit = row["git_commit"]
    out["provenance"] = {
        "command": row["command"], "commit": commit.removesuffix("+dirty"),
        "dirty": commit.endswith("+dirty"),
        "model": row["model"], "model_sha256": row["model_sha256"], "hardware": row["hardware"],
        "threads": row["threads"], "precision": {"noise_dtype": row["noise_dtype"],
                                                 "network_dtype": row["network_dtype"]},
        "n": row["n"], "seeds": row["seeds"], "date": row["date"], "torch": row["torch"]}
    return out


def write_row(path: Path, row: dict, key: tuple[str, ...] = ("system", "solver", "nfe", "n")) -> None:
    """Add ``row`` (in the results schema) to the JSON-lines file, replacing the row with the same
    ``key`` values."""
    results.write_row(path, nest(row), key)


def log(msg: str) -> None:
    print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def searches(D, a: argparse.Namespace, shape) -> tuple[dict, dict]:
    """Schedules {(system, solver, K): sigmas} and costs {system: {"nfe", "seconds"}}."""
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
                   "sweeps_stage1": a.ays_sweeps,
                   "sweeps_fine_max": a.ays_sweeps_fine, "levels": info["levels"]}
    log(f"AYS nfe {info['nfe']} {cost['ays']['seconds']:.0f} s")
    # GITS for DPM-Solver++(2M), warm-up with DPM-Solver++(2M) as teacher
    t0 = time.perf_counter()
    n2 = a.warmup // 2
    w2 = gits.warmup(D, warm_noise[:n2], gits.N_GRID, "dpmpp_2m", batch_size=a.batch)
    sig["gits-dev", "dpmpp_2m", 10] = w2.sigmas[gits.search(gits.cost_matrix(w2, "dev"), 10, gits.GAMMA)]
    cost["gits-dev/dpmpp_2m"] = {"nfe": n2 * (gits.N_GRID - 1), "seconds": time.perf_counter() - t0}
    for K in a.nfes:
        sig["polynomial", "ipndm", K] = sig["res_m", "res_m", K] = schedules.polynomial(K + 1)
    sig["polynomial", "dpmpp_2m", 10] = schedules.polynomial(11)
    sig["uniform", "dpmpp_2m", 10] = schedules.time_uniform(11)
    return sig, cost


def train_amed(D, a: argparse.Namespace, shape) -> tuple[dict, dict]:
    """AMED predictors {(kind, K_nfe): (predictor, sigmas, afs)} and their training costs."""
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
            before = amed.teacher_loss(D, P0, kind, s, tg, afs)
            after = amed.teacher_loss(D, P, kind, s, tg, afs)
            out[kind, nfe] = (P, s, afs)
            cost[kind, nfe] = {"nfe": info["teacher_nfe"] + info["student_nfe"],
                               "teacher_nfe": info["teacher_nfe"], "student_nfe": info["student_nfe"],
                               "backward_passes": info["backward_passes"], "seconds": info["seconds"],
                               "held_out_loss_before": before, "held_out_loss_after": after,
                               "n_train": a.amed_train, "epochs": a.amed_epochs, "lr": a.amed_lr}
            log(f"AMED {kind} NFE {nfe}: loss {before:.3f} -> {after:.3f}, {info['seconds']:.0f} s")
    return out, cost


def main(argv: list[str] | None = None) -> None:
    a = parse(argv)
    t_start = time.perf_counter()
    torch.set_float32_matmul_precision("highest")
    out = Path(a.out) if a.out else ROOT / "results" / "cpu" / "systems.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    info, card = models.info(a.model), models.card(a.model)
    D = models.load(a.model)
    shape = info.data_shape
    seeds = range(a.seed, a.seed + a.n)
    noise = data.noise(seeds, shape)
    x_ref = evaluate.final_samples(D, noise[: a.n_ode], schedules.polynomial(101), "ipndm",
                                   batch_size=a.batch)
    log(f"reference done ({time.perf_counter() - t_start:.0f} s)")
    sig, cost = searches(D, a, shape)
    predictors, amed_cost = train_amed(D, a, shape)
    ref_stats = fid.reference_stats("fmnist-train")
    common = {"model": a.model, "model_sha256": card["sha256"], "n": a.n, "n_ode": a.n_ode,
              "seeds": f"{seeds.start}-{seeds.stop - 1}",
              "ode_reference": "ipndm, 100 steps, polynomial rho 7",
              "fid_features": "fmnist classifier (128-d), reference fmnist-train",
              "command": " ".join(["python", "benchmarks/systems.py",
                                   *(sys.argv[1:] if argv is None else argv)]),
              "git_commit": git_commit(), "hardware": hardware(), "threads": torch.get_num_threads(),
              "torch": torch.__version__, "noise_dtype": "float64", "network_dtype": "float32",
              "warmup_seeds": f"{WARMUP_SEED + a.seed}-{WARMUP_SEED + a.seed + a.warmup - 1}",
              "amed_seeds": f"{AMED_SEED}-{AMED_SEED + a.amed_train - 1} (held-out {AMED_SEED + 100_000}+32)"}
    results: dict = {}

    def run(system: str, solver: str, K: int) -> None:
        t0 = time.perf_counter()
        if system.startswith("amed"):
            kind = system.split("_")[1]
            P, s, afs = predictors[kind, K]
            with torch.no_grad():
                x = torch.cat([amed.SAMPLERS[kind](D, float(s[0]) * z, s, P, afs=afs)
                               for z in noise.split(a.batch)])
            c = amed_cost[kind, K]
            extra = {"afs": afs, "steps": len(s) - 1, "schedule": amed.SCHEDULE[kind]}
        else:
            s = sig[system, solver, K]
            x = evaluate.final_samples(D, noise, s, solver, batch_size=a.batch)
            c = cost.get(system if solver == "ipndm" or system != "gits-dev" else "gits-dev/dpmpp_2m",
                         {"nfe": 0, "seconds": 0.0})
            extra = {"steps": len(s) - 1}
            assert solvers.nfe(solver, s) == K
        feat = fid.features(x, "fmnist")
        err = evaluate.ode_error(x[: a.n_ode], x_ref).numpy()
        results[system, solver, K] = (feat, err)
        row = {"system": system, "solver": "amed" if system.startswith("amed") else solver, "nfe": K,
               "sigmas": [round(float(v), 6) for v in s], **extra, **common,
               "fid": stats.fid_ci(feat, *ref_stats, seed=a.seed, n_resamples=a.n_boot).to_dict(),
               "ode_error": {k: v.to_dict() for k, v in stats.ode_error_summary(err).items()},
               "cost": {k: (round(v, 2) if isinstance(v, float) else v) for k, v in c.items()},
               "sampling_s": round(time.perf_counter() - t0, 1)}
        base = ("gits-dev", "ipndm", K) if solver in ("ipndm", "res_m", "amed") else None
        pairs = {}
        if base and system != "gits-dev":
            pairs["gits_minus_this"] = base
        if solver == "dpmpp_2m":
            pairs = {"gits_minus_this": ("gits-dev", "dpmpp_2m", 10)} if system != "gits-dev" else {}
            if system == "uniform":
                pairs["ays_minus_this"] = ("ays", "dpmpp_2m", 10)
        for name, key in pairs.items():
            fb, eb = results[key]
            row[name] = {"fid_diff": stats.fid_diff_ci(feat, fb, *ref_stats, seed=a.seed,
                                                       n_resamples=a.n_boot).to_dict(),
                         "ode_error_diff": stats.paired_diff(err, eb, seed=a.seed).to_dict()}
        row.update(total_wall_s=round(time.perf_counter() - t_start, 1),
                   date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        write_row(out, row)
        f = stats.Estimate.from_dict(row["fid"])
        log(f"{system:12s} {solver:9s} NFE {K:2d}  FID {f.fmt('.2f')}  ODE {np.mean(err):.4f}")

    for K in a.nfes:
        run("gits-dev", "ipndm", K)
        for system in IPNDM_SYSTEMS[:4]:
            if system != "gits-dev":
                run(system, "ipndm", K)
        run("res_m", "res_m", K)
        run("amed_plugin", "amed", K)
        run("amed_solver", "amed", K)
    for system in ("gits-dev", "ays", "uniform", "polynomial"):
        run(system, "dpmpp_2m", 10)
    log(f"wrote {out} in {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
