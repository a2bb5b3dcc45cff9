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
* provenance: command, git commit, model sha256, hardware, torch version, date, n, seeds, the
  GITS sigmas, float precision settings, wall times.

Rows go to results/cpu/table1_large.jsonl (results/gpu/ on CUDA), replacing rows of the same
(schedule, NFE, n); each row is written as soon as it is complete.
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

import numpy as np
import torch
from tqdm import tqdm

from trajreg import classifier, data, evaluate, fid, gits, models, schedules, stats

ROOT = Path(__file__).resolve().parents[1]
try:
    from trajreg.runs import WARMUP_SEED
except ImportError:  # pragma: no cover - before the cached runs moved to trajreg.runs
    from trajreg.evaluate import WARMUP_SEED
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


def precision() -> dict:
    """Fix and return the float settings (TF32 off: full float32 convolutions and matmuls)."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    return {"cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "noise_dtype": "float64", "network_dtype": "float32"}


def hardware(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
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
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "trajreg",
                                "benchmarks"], capture_output=True, text=True).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def sample(D, noise: torch.Tensor, sigmas: torch.Tensor, batch: int, desc: str,
           solver: str = SOLVER) -> torch.Tensor:
    """Final samples of ``solver`` (iPNDM) from ``noise`` on ``sigmas``, batch by batch, with a
    progress bar."""
    parts = [evaluate.final_samples(D, z, sigmas, solver, batch_size=batch).cpu()
             for z in tqdm(noise.split(batch), desc=desc, mininterval=30)]
    return torch.cat(parts)


class Scorer:
    """Classifier features, labels and the reference statistics and features."""

    def __init__(self, n: int, device: str):
        self.device = device
        self.clf = classifier.load_classifier(device=device)
        self.ref = fid.reference_stats("fmnist-train", device=device)
        self.train_feat = self.features(data.fashion_mnist("train")[:n])

    def features(self, x: torch.Tensor) -> np.ndarray:
        return fid.features(x, "fmnist", batch_size=500, device=self.device)

    def labels(self, feat: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits = self.clf.head(torch.from_numpy(feat).float().to(self.device))
        return logits.argmax(1).cpu().numpy()

    def summary(self, feat: np.ndarray, seed: int, n_boot: int) -> dict:
        return {"fid": stats.fid_ci(feat, *self.ref, seed=seed, n_resamples=n_boot).to_dict(),
                "kid": stats.kid(feat, self.train_feat, seed=seed).to_dict(),
                "class_histogram": stats.class_histogram(self.labels(feat), 10).tolist()}


def inception_fid(x: torch.Tensor, ref: fid.FIDStats, seed: int, n_boot: int, device: str) -> dict:
    feat = fid.inception_features(x, device=device)
    return stats.fid_ci(feat, *ref, seed=seed, n_resamples=n_boot).to_dict()


def gits_schedules(D, a: argparse.Namespace, shape) -> tuple[dict, float]:
    """{("gits-dev"|"gits-l2", K): sigmas} from one warm-up; seconds taken."""
    start = time.perf_counter()
    noise = data.noise(range(WARMUP_SEED + a.seed, WARMUP_SEED + a.seed + a.warmup), shape,
                       device=a.device)
    warm = gits.warmup(D, noise, gits.N_GRID, "ipndm", batch_size=a.batch, progress=True)
    out = {}
    for metric in ("dev", "l2"):
        cost = gits.cost_matrix(warm, metric)
        for K in a.nfes:
            out[f"gits-{metric}", K] = warm.sigmas[gits.optimal_path(cost, K, a.gamma)]
    return out, time.perf_counter() - start


def write_row(path: Path, row: dict, key: tuple[str, ...] = ("schedule", "nfe", "n")) -> None:
    """Add ``row`` to the JSON-lines file, replacing a row with the same values of ``key``; rows
    ordered by NFE, then by schedule (stable, so other scripts' rows keep their order)."""
    same = tuple(row.get(k) for k in key)
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.is_file() else []
    rows = [r for r in rows if tuple(r.get(k) for k in key) != same] + [row]
    rows.sort(key=lambda r: (r.get("nfe", 0), SCHEDULES.index(r["schedule"])
                             if r.get("schedule") in SCHEDULES else 9))
    tmp = path.with_name(path.name + ".part")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tmp.replace(path)


def compare(base: dict, feat: np.ndarray, err: np.ndarray, lab: np.ndarray, scorer: Scorer,
            a: argparse.Namespace) -> dict:
    """Paired comparison of a GITS row with the polynomial row of the same NFE (b - a)."""
    below, n_nt, p = stats.sign_test(base["err"], err)
    return {"fid_diff": stats.fid_diff_ci(base["feat"], feat, *scorer.ref, seed=a.seed,
                                          n_resamples=a.n_boot).to_dict(),
            "ode_error_diff": stats.paired_diff(base["err"], err, seed=a.seed).to_dict(),
            "ode_error_median_diff": stats.paired_diff(base["err"], err, stat="median",
                                                       seed=a.seed).to_dict(),
            "sign_test": {"closer": below, "non_ties": n_nt, "p": p},
            "class_flip_share": stats.class_flip_share(base["lab"], lab).to_dict()}


def main(argv: list[str] | None = None) -> None:
    a = parse(argv)
    t_start = time.perf_counter()
    prec = precision()
    out = Path(a.out) if a.out else (ROOT / "results" / ("gpu" if a.device.startswith("cuda")
                                                          else "cpu") / "table1_large.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    info, card = models.info(a.model), models.card(a.model)
    D = models.load(a.model, device=a.device)
    seeds = range(a.seed, a.seed + a.n)
    noise = data.noise(seeds, info.data_shape)
    gits_sigmas, t_warm = gits_schedules(D, a, info.data_shape)
    print(f"GITS warm-up and cost matrices: {t_warm:.0f} s", file=sys.stderr, flush=True)
    ref_sigmas = schedules.polynomial(a.ref_steps + 1, info.sigma_min, info.sigma_max)
    x_ref = sample(D, noise[: a.n_ode].to(a.device), ref_sigmas, a.batch, "ODE reference")
    scorer = Scorer(a.n, a.device)
    real = data.fashion_mnist("test")[: a.n]
    floor_feat = scorer.features(real)
    floor = {**scorer.summary(floor_feat, a.seed, a.n_boot), "n": len(real)}
    inc_ref = None
    if a.n_inception:
        inc_ref = fid.statistics(fid.inception_features(data.fashion_mnist("train")[: a.n_inception],
                                                        device=a.device))
        floor["inception_fid"] = inception_fid(real[: a.n_inception], inc_ref, a.seed, a.n_boot,
                                               a.device)
    common = {"model": a.model, "model_sha256": card["sha256"], "solver": SOLVER, "n": a.n,
              "seeds": f"{seeds.start}-{seeds.stop - 1}", "n_ode": a.n_ode,
              "ode_reference": f"{SOLVER}, {a.ref_steps} steps, polynomial rho 7",
              "gits": {"gamma": a.gamma, "teacher": "ipndm", "grid": gits.N_GRID,
                       "n_warmup": a.warmup, "warmup_seeds":
                       f"{WARMUP_SEED + a.seed}-{WARMUP_SEED + a.seed + a.warmup - 1}",
                       "warmup_and_cost_s": round(t_warm, 1)},
              "fid_features": "fmnist classifier (128-d), reference fmnist-train",
              "floor": floor, "command": " ".join(["python", "benchmarks/table1_large.py",
                                                   *(sys.argv[1:] if argv is None else argv)]),
              "git_commit": git_commit(), "hardware": hardware(a.device),
              "torch": torch.__version__, "precision": prec, "device": a.device}
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
                       total_wall_s=round(time.perf_counter() - t_start, 1),
                       date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
            write_row(out, row)
            fid_ = stats.Estimate.from_dict(row["fid"])
            print(f"NFE {K} {name:10s} FID {fid_.fmt('.2f')}  ODE error mean "
                  f"{row['ode_error']['mean']['value']:.4f}  ({row['row_wall_s']:.0f} s)",
                  file=sys.stderr, flush=True)
    print(f"wrote {out} in {time.perf_counter() - t_start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
