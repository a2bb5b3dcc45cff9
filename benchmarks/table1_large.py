"""Large tier of ICML Table 1 on the shipped model: iPNDM on the polynomial schedule vs GITS.

    OMP_NUM_THREADS=1 python benchmarks/table1_large.py --n 10000 --n-ode 1000

For iPNDM (max order 4) at each NFE, three schedules on the same N evaluation noises (seeds
0..N-1, ``trajreg.runs`` convention): the polynomial rho = 7 schedule, GITS with the official
cost "dev" and GITS with the paper's written cost "l2" (both: gamma 1.15, iPNDM teacher on the
61-point grid, 256 warm-up noises of seeds WARMUP_SEED + 0..255). Per (schedule, NFE), one JSON
line with:

* classifier FID against the training set, 95 % bootstrap interval (``trajreg.stats.fid_ci``), and
  the floor: real test images at the same n; KID (against n training images);
* for GITS rows, the paired FID difference to the polynomial row (same noises, same bootstrap
  indices), the paired ODE-error difference and the share of samples whose class flips;
* ODE error of the first M samples against a 100-step iPNDM solution of the same noises: mean,
  median, share farther than 0.3 (RMS per pixel), with intervals;
* the predicted-class histogram (argmax of the FID classifier) of the sample set;
* optionally Inception FID (``trajreg.fid``'s 2015-12-05 network) of the first ``--n-inception``
  samples against as many training images (about 2-3 images/s on one CPU thread);
* provenance (``trajreg.results``): command, commit, clean tree, model sha256, hardware, threads,
  float precision, n, seeds, date; beside it the GITS sigmas and wall times.

The GITS schedules and the paired comparison are those of notebooks/tab01_fid_nfe.ipynb
(``trajreg.experiments.gits_schedules`` and ``paired_comparison``). Rows go to
results/cpu/table1_large.jsonl (results/gpu/ on CUDA) through ``trajreg.results.write_row``,
replacing rows of the same (schedule, NFE, n); each row is written as soon as it is complete.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from trajreg import data, evaluate, experiments, fid, gits, models, results, schedules, stats
from trajreg.runs import WARMUP_SEED

ROOT = results.ROOT
SCHEDULES = ("polynomial", "gits-dev", "gits-l2")
SOLVER = "ipndm"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="fmnist-edm")
    p.add_argument("--n", type=int, default=10_000, help="evaluation noises per FID")
    p.add_argument("--n-ode", type=int, default=1_000, help="first M samples scored by ODE error")
    p.add_argument("--nfes", type=int, nargs="+", default=[5, 6, 8, 10])
    p.add_argument("--warmup", type=int, default=gits.N_WARMUP)
    p.add_argument("--gamma", type=float, default=gits.GAMMA)
    p.add_argument("--ref-steps", type=int, default=100)
    p.add_argument("--n-inception", type=int, default=0, help="Inception FID on this many (0: off)")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap resamples per FID interval")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", help="JSON-lines file (default results/<cpu|gpu>/table1_large.jsonl)")
    a = p.parse_args(argv)
    if a.n < 16 or not 2 <= a.n_ode <= a.n or a.n_inception < 0:
        p.error("need --n >= 16, 2 <= --n-ode <= --n and --n-inception >= 0")
    return a


def sample(D, noise: torch.Tensor, sigmas: torch.Tensor, batch: int, desc: str) -> torch.Tensor:
    """Final iPNDM samples from ``noise`` on ``sigmas``, batch by batch, with a progress bar."""
    return evaluate.sample_in_batches(D, noise, sigmas, SOLVER, batch_size=batch, desc=desc)


def inception_fid(x: torch.Tensor, ref: fid.FIDStats, seed: int, n_boot: int, device: str) -> dict:
    feat = fid.inception_features(x, device=device)
    return stats.fid_ci(feat, *ref, seed=seed, n_resamples=n_boot).to_dict()


def gits_schedules(D, a: argparse.Namespace, shape) -> tuple[dict, float]:
    """{("gits-dev"|"gits-l2", K): sigmas} from one warm-up; seconds taken."""
    start = time.perf_counter()
    noise = data.noise(range(WARMUP_SEED + a.seed, WARMUP_SEED + a.seed + a.warmup), shape,
                       device=a.device)
    warm = gits.warmup(D, noise, gits.N_GRID, "ipndm", batch_size=a.batch, progress=True)
    paths = experiments.gits_schedules(warm, ("dev", "l2"), max(a.nfes), a.gamma)
    out = {(f"gits-{m}", K): paths[m][K] for m in paths for K in a.nfes}
    return out, time.perf_counter() - start


def order(row: dict) -> tuple:
    """Rows by NFE, then by schedule (stable, so other scripts' rows keep their order)."""
    return (row.get("nfe", 0), SCHEDULES.index(row["schedule"]) if row.get("schedule") in SCHEDULES else 9)


def write_row(path: Path, row: dict) -> None:
    """Add ``row`` to the file, replacing the row of the same (schedule, NFE, n)."""
    results.write_row(path, row, key=("schedule", "nfe", "n"), order=order)


def compare(base: dict, feat: np.ndarray, err: np.ndarray, lab: np.ndarray, scorer: experiments.Scorer,
            a: argparse.Namespace) -> dict:
    """Paired comparison of a GITS row with the polynomial row of the same NFE (b - a), as stored."""
    d = experiments.paired_comparison(base["feat"], feat, base["err"], err, base["lab"], lab,
                                      scorer.ref, seed=a.seed, n_resamples=a.n_boot)
    below, n_nt, p = d["sign"]
    return {"fid_diff": d["fid"].to_dict(), "fid_ratio": d["ratio"].to_dict(),
            "ode_error_diff": d["ode"].to_dict(), "ode_error_median_diff": d["ode_median"].to_dict(),
            "sign_test": {"closer": below, "non_ties": n_nt, "p": p},
            "class_flip_share": d["flip"].to_dict()}


def main(argv: list[str] | None = None) -> None:
    a = parse(argv)
    t_start = time.perf_counter()
    out = Path(a.out) if a.out else (ROOT / "results" / ("gpu" if a.device.startswith("cuda")
                                                          else "cpu") / "table1_large.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    command = results.command("benchmarks/table1_large.py", argv)
    prov = results.provenance(command, a.model, n=a.n, seeds=results.seed_range(a.seed, a.n),
                              device=a.device)          # fixes the float precision first
    info = models.info(a.model)
    D = models.load(a.model, device=a.device)
    seeds = range(a.seed, a.seed + a.n)
    noise = data.noise(seeds, info.data_shape)
    gits_sigmas, t_warm = gits_schedules(D, a, info.data_shape)
    print(f"GITS warm-up and cost matrices: {t_warm:.0f} s", file=sys.stderr, flush=True)
    ref_sigmas = schedules.polynomial(a.ref_steps + 1, info.sigma_min, info.sigma_max)
    x_ref = sample(D, noise[: a.n_ode].to(a.device), ref_sigmas, a.batch, "ODE reference")
    scorer = experiments.Scorer(a.n, a.device)
    real = data.fashion_mnist("test")[: a.n]
    floor_feat = scorer.features(real)
    floor = {**scorer.summary(floor_feat, a.seed, a.n_boot), "n": len(real)}
    inc_ref = None
    if a.n_inception:
        inc_ref = fid.statistics(fid.inception_features(data.fashion_mnist("train")[: a.n_inception],
                                                        device=a.device))
        floor["inception_fid"] = inception_fid(real[: a.n_inception], inc_ref, a.seed, a.n_boot,
                                               a.device)
    common = {"provenance": prov, "solver": SOLVER, "n_ode": a.n_ode,
              "ode_reference": f"{SOLVER}, {a.ref_steps} steps, polynomial rho 7",
              "gits": {"gamma": a.gamma, "teacher": "ipndm", "grid": gits.N_GRID,
                       "n_warmup": a.warmup, "warmup_seeds":
                       f"{WARMUP_SEED + a.seed}-{WARMUP_SEED + a.seed + a.warmup - 1}",
                       "warmup_and_cost_s": round(t_warm, 1)},
              "fid_features": "fmnist classifier (128-d), reference fmnist-train",
              "floor": floor}
    for K in a.nfes:
        base = None
        for name in SCHEDULES:
            t0 = time.perf_counter()
            sigmas = (evaluate.baseline(SOLVER, K, info.sigma_min, info.sigma_max)
                      if name == "polynomial" else gits_sigmas[name, K])
            x = sample(D, noise.to(a.device), sigmas, a.batch, f"NFE {K} {name}")
            t_sample = time.perf_counter() - t0
            feat = scorer.features(x)
            err = evaluate.ode_error(x[: a.n_ode], x_ref).numpy()
            lab = scorer.labels(feat)
            row = {"schedule": name, "nfe": K, "sigmas": [round(float(s), 6) for s in sigmas],
                   **common, **scorer.summary(feat, a.seed, a.n_boot),
                   "ode_error": {k: v.to_dict() for k, v in stats.ode_error_summary(err).items()}}
            if inc_ref is not None:
                row["inception_fid"] = inception_fid(x[: a.n_inception], inc_ref, a.seed,
                                                     a.n_boot, a.device)
            if base is None:
                base = {"feat": feat, "err": err, "lab": lab}
            else:
                row["vs_polynomial"] = compare(base, feat, err, lab, scorer, a)
            row.update(sampling_s=round(t_sample, 1), row_wall_s=round(time.perf_counter() - t0, 1),
                       total_wall_s=round(time.perf_counter() - t_start, 1))
            write_row(out, row)
            fid_ = stats.Estimate.from_dict(row["fid"])
            print(f"NFE {K} {name:10s} FID {fid_.fmt('.2f')}  ODE error mean "
                  f"{row['ode_error']['mean']['value']:.4f}  ({row['row_wall_s']:.0f} s)",
                  file=sys.stderr, flush=True)
    print(f"wrote {out} in {time.perf_counter() - t_start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
