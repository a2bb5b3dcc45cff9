"""Inception FID and KID of Table 1's headline (iPNDM, polynomial vs GITS dev) at a small n.

    OMP_NUM_THREADS=1 python benchmarks/inception_headline.py --n 500 --nfes 5 8

The 2015-12-05 Inception network that FID is defined with (``trajreg.fid.inception_features``,
clean-fid's resize; optional extra ``inception``) costs 0.4-2.7 CPU-seconds per image on this
project's machines (measured 2026-11-30: 64 images in 173 CPU-s on a loaded core), so the
10,000-sample headline (about 45,000 images with references) needs a GPU (``--device cuda``); on
the CPU this measures it at n samples per set: FID is biased upwards at small n
(the floor row says by how much: real test images against the same reference), KID is unbiased;
the paired FID difference uses the same noises and resampled indices for both schedules. The
schedules are the stored ones of results/cpu/table1_large.jsonl (same seeds 0..n-1 as there).
One JSON line per (NFE, schedule), plus a floor row; the file is rewritten.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import torch
from table1_large import git_commit, hardware, precision, sample

from trajreg import data, fid, models, stats

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=500, help="samples per set")
    p.add_argument("--n-ref", type=int, default=1000, help="training images of the reference")
    p.add_argument("--nfes", type=int, nargs="+", default=[5, 8])
    p.add_argument("--schedules", default="results/cpu/table1_large.jsonl")
    p.add_argument("--n-boot", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", help="default results/<cpu|gpu>/inception_headline.jsonl")
    a = p.parse_args(argv)
    if a.n < 16 or a.n_ref < 16:
        p.error("--n and --n-ref must be at least 16")
    t_start = time.perf_counter()
    prec = precision()
    stored = {(r["schedule"], r["nfe"]): r["sigmas"] for r in map(json.loads, (ROOT / a.schedules)
              .read_text().splitlines()) if r["schedule"] in ("polynomial", "gits-dev")}
    missing = [(s, k) for k in a.nfes for s in ("polynomial", "gits-dev") if (s, k) not in stored]
    if missing:
        raise SystemExit(f"{a.schedules} has no schedule for {missing}: run table1_large.py first")
    dev = a.device
    D, info = models.load("fmnist-edm", device=dev), models.info("fmnist-edm")
    noise = data.noise(range(a.seed, a.seed + a.n), info.data_shape).to(dev)
    ref_feat = fid.inception_features(data.fashion_mnist("train")[: a.n_ref], device=dev)
    ref = fid.statistics(ref_feat)
    common = {"model": "fmnist-edm", "model_sha256": models.card("fmnist-edm")["sha256"],
              "solver": "ipndm", "n": a.n, "n_ref": a.n_ref, "seeds": f"{a.seed}-{a.seed + a.n - 1}",
              "features": "Inception 2015-12-05 pool3 (2048-d), clean-fid resize; reference: first "
                          f"{a.n_ref} training images", "schedules_from": a.schedules,
              "command": " ".join(["python", "benchmarks/inception_headline.py",
                                   *(sys.argv[1:] if argv is None else argv)]),
              "git_commit": git_commit(), "hardware": hardware(dev), "device": dev,
              "torch": torch.__version__, "precision": prec}
    out = ROOT / (a.out or f"results/{'gpu' if dev.startswith('cuda') else 'cpu'}/inception_headline.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []

    def score(feat) -> dict:
        return {"fid": stats.fid_ci(feat, *ref, seed=a.seed, n_resamples=a.n_boot).to_dict(),
                "kid": stats.kid(feat, ref_feat, seed=a.seed).to_dict()}

    floor = fid.inception_features(data.fashion_mnist("test")[: a.n], device=dev)
    rows.append({"schedule": "real test images", "nfe": 0, **common, **score(floor)})
    for K in a.nfes:
        base = None
        for name in ("polynomial", "gits-dev"):
            t0 = time.perf_counter()
            sig = torch.tensor(stored[name, K], dtype=torch.float64)
            feat = fid.inception_features(sample(D, noise, sig, 100, f"NFE {K} {name}"), device=dev)
            row = {"schedule": name, "nfe": K, "sigmas": stored[name, K], **common, **score(feat)}
            if base is None:
                base = feat
            else:
                row["fid_diff_vs_polynomial"] = stats.fid_diff_ci(
                    base, feat, *ref, seed=a.seed, n_resamples=a.n_boot).to_dict()
            row.update(row_wall_s=round(time.perf_counter() - t0, 1),
                       date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
            rows.append(row)
            print(f"NFE {K} {name}: Inception FID {stats.Estimate.from_dict(row['fid']).fmt('.1f')}",
                  file=sys.stderr, flush=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {out} in {time.perf_counter() - t_start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
