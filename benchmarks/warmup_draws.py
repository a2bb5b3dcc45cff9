"""Table 1's headline with the warm-up draw in its interval (issue 22), resumable.

    OMP_NUM_THREADS=2 python benchmarks/warmup_draws.py --draws 10 --n 1000
    python benchmarks/warmup_draws.py --device cuda --draws 50 --n 10000        # a GPU

GITS searches its schedule on 256 warm-up noises; another 256 noises can give another schedule.
This script searches GITS (iPNDM teacher, 61-point grid, the authors' dev cost, gamma 1.15) on
``--draws`` independent warm-up sets (``trajreg.experiments.warmup_draws``; draw 0 is the
headline's own warm-up set), then samples the polynomial schedule and every distinct GITS schedule
on the same ``--n`` evaluation noises (seeds 0..n-1, the headline's first n) and scores them with
the Inception FID against the headline's reference (first 10,000 training images), paired:
``--n-boot`` resampled index sets shared by all sets of an NFE. Per NFE one row with

* each distinct schedule: the draws that chose it, its FID with interval and stored resamples,
  precision / recall / density / coverage (Kynkaenniemi et al. 2019; Naeem et al. 2020; ``prdc``;
  ``trajreg.stats.precision_recall``, with intervals) against as many reference images
  (``--prdc-only`` recomputes just these from the cached features);
* the headline draw's paired difference GITS - polynomial (evaluation noises only);
* the method's difference with the warm-up draw in it: in resample b a draw w_b is picked at
  random, and GITS(w_b) - polynomial is scored on index set b; its value is the mean over draws;
* the warm-up part alone: GITS(w_b) - GITS(draw 0) on index set b (what a 10,000-sample
  headline's interval lacks; the Table 1 page adds it to that interval).

Features are kept per chunk under ``--features`` (default $TRAJREG_CACHE/inception_headline/,
the reference shared with inception_headline.py and fid_anchor.py), the draws' schedules beside
them, so a stopped run resumes. Rows go to results/<cpu|gpu>/warmup_draws.jsonl.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from trajreg import data, evaluate, experiments, fid, models, results, stats
from trajreg.feature_store import FeatureStore, chunks

ROOT = results.ROOT
MODEL = "fmnist-edm"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--draws", type=int, default=10, help="independent warm-up sets (draw 0: the headline's)")
    p.add_argument("--warmup", type=int, default=256, help="noises per warm-up set (paper: 256)")
    p.add_argument("--n", type=int, default=1000, help="evaluation noises per set")
    p.add_argument("--n-ref", type=int, default=10_000, help="training images of the FID reference")
    p.add_argument("--nfes", type=int, nargs="+", default=[5, 6, 8, 10])
    p.add_argument("--gamma", type=float, default=1.15)
    p.add_argument("--n-boot", type=int, default=1000, help="paired bootstrap resamples")
    p.add_argument("--k", type=int, default=5, help="nearest neighbours of precision/recall")
    p.add_argument("--chunk", type=int, default=250)
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--deadline-min", type=float, default=None)
    p.add_argument("--prdc-only", action="store_true",
                   help="recompute only precision/recall of the stored rows (features cached)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--features", help="feature cache (default $TRAJREG_CACHE/inception_headline)")
    p.add_argument("--out", help="default results/<cpu|gpu>/warmup_draws.jsonl")
    a = p.parse_args(argv)
    if a.draws < 2 or a.warmup < 2 or a.n < 16 or a.n_ref < a.n or a.n_boot < 10 or a.k < 1:
        p.error("need --draws >= 2, --warmup >= 2, --n >= 16, --n-ref >= --n, --n-boot >= 10, --k >= 1")
    if not all(1 <= K <= 60 for K in a.nfes):
        p.error(f"--nfes must lie in 1..60 (the 61-point grid), got {a.nfes}")
    return a


def draw_schedules(a, D, shape, store: FeatureStore, model_sha: str) -> list[dict[int, list[float]]]:
    """{K: sigmas} of each draw, searched once and kept beside the features."""
    out = []
    for d in range(a.draws):
        path = store.folder / f"warmup-draw-{model_sha[:12]}-g{a.gamma}-s{a.seed}-w{a.warmup}-{d}.json"
        if not path.is_file():
            t0 = time.perf_counter()
            (sched,) = experiments.warmup_draws(D, shape, 1, a.warmup, max(a.nfes), gamma=a.gamma,
                                                seed=a.seed + d * a.warmup, batch_size=a.batch,
                                                device=a.device)
            store.folder.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({str(K): [round(float(s), 6) for s in v] for K, v in sched.items()}))
            print(f"draw {d}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        out.append({int(K): v for K, v in json.loads(path.read_text()).items()})
    return out


def set_def(model_sha: str, sigmas: list[float], seed: int) -> dict:
    """The feature-store definition of iPNDM samples on ``sigmas`` from seeds seed, seed + 1, ..."""
    return {"kind": "sample", "model_sha256": model_sha, "solver": "ipndm", "sigmas": sigmas,
            "first_seed": seed, "noise": "float64"}


def extract(a, store, extractor, D, shape, defs: list[dict], deadline, commit: str) -> bool:
    """Compute the missing chunks (reference first) with ``FeatureStore.fill``; False if the
    deadline stopped it."""
    ref_def = {"kind": "ref", "images": "fashion-mnist train", "first": 0}
    todo = [(ref_def, s, e) for s, e in chunks(a.n_ref, a.chunk)]
    todo += [(d, s, e) for d in defs for s, e in chunks(a.n, a.chunk)]

    def images(d: dict, s: int, e: int) -> torch.Tensor:
        if d["kind"] == "ref":
            return data.fashion_mnist("train")[s:e]
        noise = data.noise(range(d["first_seed"] + s, d["first_seed"] + e), shape).to(a.device)
        sig = torch.tensor(d["sigmas"], dtype=torch.float64)
        return evaluate.sample_in_batches(D, noise, sig, "ipndm", batch_size=a.batch,
                                          desc=f"NFE {len(sig) - 1} {s}-{e}")

    return store.fill(todo, images, lambda x: fid.inception_features(x, device=a.device, extractor=extractor),
                      {"git_commit": commit, "hardware": results.hardware(a.device), "device": a.device,
                       "torch": torch.__version__}, deadline=deadline,
                      log=lambda m: print(m, file=sys.stderr, flush=True)) == 0


def prdc(ref_feat, feat, k: int) -> dict:
    """Precision, recall, density, coverage (stored estimates) against as many reference images."""
    pr = stats.precision_recall(ref_feat[: len(feat)], feat, k=k)
    return {key: est.to_dict() for key, est in pr.items()}


def rescore_prdc(a, out: Path, store: FeatureStore, ref_feat, model_sha: str, command: str,
                 commit: str) -> None:
    """Recompute only the precision/recall fields of the stored rows from the cached features."""
    text = out.read_text() if out.is_file() else ""
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not rows:
        raise SystemExit(f"--prdc-only: no rows in {out}")
    for row in rows:
        n = row["provenance"]["n"]
        for s in [row["polynomial"], *row["schedules"]]:
            feat, _ = store.get(set_def(model_sha, s["sigmas"], a.seed), chunks(n, a.chunk))
            s["prdc"] = prdc(ref_feat, feat, a.k)
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        row["prdc_rescored"] = {"command": command, "commit": commit, "k": a.k, "date": now}
    results.write_rows(out, rows)
    print(f"rescored precision/recall of {len(rows)} rows in {out}", file=sys.stderr)


def score_nfe(a, K: int, draws: list[dict], store, ref, ref_feat, rows, model_sha: str) -> dict:
    """The row of one NFE (see the module docstring)."""
    poly_sig = [round(float(s), 6) for s in evaluate.baseline("ipndm", K)]
    distinct = sorted({tuple(d[K]) for d in draws}, key=lambda s: [tuple(d[K]) for d in draws].index(s))
    chosen = [distinct.index(tuple(d[K])) for d in draws]
    sets = [poly_sig] + [list(s) for s in distinct]
    scores, metas = [], []
    for sig in sets:
        feat, meta = store.get(set_def(model_sha, sig, a.seed), chunks(a.n, a.chunk))
        value, boots = stats.fid_resamples_at(feat, *ref, rows)
        scores.append((value, boots, prdc(ref_feat, feat, a.k)))
        metas += meta
    (p_val, p_boot, p_pr), gits_sets = scores[0], scores[1:]
    rng = np.random.default_rng(a.seed + 1)
    pick = np.array(chosen)[rng.integers(0, len(draws), len(rows))]      # w_b -> its schedule
    g_boot = np.array([gits_sets[j][1][b] for b, j in enumerate(pick)])
    g0_boot = gits_sets[chosen[0]][1]
    mean_g = float(np.mean([gits_sets[j][0] for j in chosen]))
    n = a.n
    return {
        "nfe": K, "solver": "ipndm", "cost": "dev", "gamma": a.gamma, "draws": len(draws),
        "warmup": a.warmup, "n_boot": len(rows),
        "polynomial": {"sigmas": poly_sig, "fid": stats.interval(p_val, p_boot, n).to_dict(),
                       "prdc": p_pr, "fid_resamples": [round(float(b), 4) for b in p_boot]},
        "schedules": [{"sigmas": sets[1 + j], "draws": [d for d, c in enumerate(chosen) if c == j],
                       "fid": stats.interval(v, bt, n).to_dict(), "prdc": pr,
                       "fid_resamples": [round(float(b), 4) for b in bt]}
                      for j, (v, bt, pr) in enumerate(gits_sets)],
        "headline_draw": {"schedule": chosen[0], "diff": stats.interval(
            gits_sets[chosen[0]][0] - p_val, g0_boot - p_boot, n).to_dict()},
        "with_warmup_draw": {"diff": stats.interval(mean_g - p_val, g_boot - p_boot, n).to_dict(),
                             "ratio": stats.interval(mean_g / p_val, g_boot / p_boot, n).to_dict()},
        "warmup_part": {"value": mean_g - gits_sets[chosen[0]][0],
                        "resamples": [round(float(b), 4) for b in g_boot - g0_boot]},
        "extraction": {"chunks": len(metas), "seconds": round(sum(m["seconds"] for m in metas)),
                       "git_commits": sorted({m["git_commit"] for m in metas})},
    }


def main(argv: list[str] | None = None) -> None:
    a = parse(argv)
    t_start = time.time()
    deadline = None if a.deadline_min is None else t_start + 60 * a.deadline_min
    command = results.command("benchmarks/warmup_draws.py", argv)
    prov = results.provenance(command, MODEL, n=a.n, seeds=results.seed_range(a.seed, a.n), device=a.device)
    commit = prov["commit"] + ("+dirty" if prov["dirty"] else "")
    extractor_id = f"inception-2015-12-05:{fid.HELPER_INCEPTION_SHA256[:16]}:clean-resize"
    store = FeatureStore(Path(a.features) if a.features else data.cache_dir() / "inception_headline",
                         extractor_id)
    out = ROOT / (a.out or f"results/{'gpu' if a.device.startswith('cuda') else 'cpu'}/warmup_draws.jsonl")
    ref_def = {"kind": "ref", "images": "fashion-mnist train", "first": 0}
    if a.prdc_only:
        ref_feat, _ = store.get(ref_def, chunks(a.n_ref, a.chunk))
        return rescore_prdc(a, out, store, ref_feat, prov["model_sha256"], command, commit)
    D = models.load(MODEL, device=a.device)
    shape = models.info(MODEL).data_shape
    draws = draw_schedules(a, D, shape, store, prov["model_sha256"])
    defs = [set_def(prov["model_sha256"], [round(float(s), 6) for s in evaluate.baseline("ipndm", K)], a.seed)
            for K in a.nfes]
    defs += [set_def(prov["model_sha256"], list(s), a.seed)
             for K in a.nfes for s in sorted({tuple(d[K]) for d in draws})]
    print(f"{len(defs)} sample sets ({len(a.nfes)} polynomial)", file=sys.stderr, flush=True)
    if not extract(a, store, fid._inception(a.device, "fid-helper"), D, shape, defs, deadline, commit):
        raise SystemExit("stopped by the deadline: run again to resume")
    t0 = time.perf_counter()
    ref_feat, _ = store.get(ref_def, chunks(a.n_ref, a.chunk))
    ref = fid.statistics(ref_feat)
    rng = np.random.default_rng(a.seed)
    rows = [rng.integers(0, a.n, a.n) for _ in range(a.n_boot)]
    out_rows = []
    for K in a.nfes:
        row = score_nfe(a, K, draws, store, ref, ref_feat, rows, prov["model_sha256"])
        row.update({"provenance": prov, "n_ref": a.n_ref, "features": extractor_id,
                    "reference": f"first {a.n_ref} Fashion-MNIST training images",
                    "score_s": round(time.perf_counter() - t0, 1)})
        out_rows.append(row)
        d = stats.Estimate.from_dict(row["with_warmup_draw"]["diff"])
        h = stats.Estimate.from_dict(row["headline_draw"]["diff"])
        print(f"NFE {K}: {len(row['schedules'])} distinct schedule(s); GITS - polynomial, draw 0 "
              f"{h.fmt('.2f')}, with the warm-up draw {d.fmt('.2f')}", file=sys.stderr, flush=True)
    results.write_rows(out, out_rows)
    print(f"wrote {out} in {time.time() - t_start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
