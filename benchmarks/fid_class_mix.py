"""Why the classifier FID and the Inception FID disagree at NFE 8-10 (gits_why, hypothesis H5).

    OMP_NUM_THREADS=1 python benchmarks/fid_class_mix.py --n 3500

For Table 1's headline sets (iPNDM on the polynomial and the GITS dev/L2 schedules of
results/cpu/table1_large.jsonl, NFE 5/6/8/10, noises of seeds 0..n-1) whose Inception features
benchmarks/inception_headline.py has stored, this regenerates the samples, takes their classifier
features and predicted classes (kept beside the Inception features), and scores both feature
spaces against one reference, the first ``--n-ref`` training images:

- raw: FID; for GITS the paired difference to the polynomial schedule (same noises and resamples);
- matched: both sets reweighted to the reference's predicted-class proportions
  (``stats.fid_matched_resamples``): what is left when the garment mix is equalised;
- mix: the real test images (the floor) reweighted to a set's predicted-class proportions, i.e.
  a pure change of garment mix on real images; GITS's mix minus the polynomial's (paired over the
  test images), and that as a share of the metric's polynomial-to-floor gap.

The predictions were registered before the first run (trajreg.paper: why.h5_matched_*,
why.h5_mix_sensitivity.*). Output: results/cpu/fid_class_mix.jsonl, rewritten, with provenance.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from trajreg import classifier, data, experiments, fid, models, results, stats
from trajreg.experiments import FLOOR
from trajreg.feature_store import FeatureStore, chunks

ROOT = results.ROOT
INCEPTION_ID = f"inception-2015-12-05:{fid.HELPER_INCEPTION_SHA256[:16]}:clean-resize"
METRICS = ("clf", "inception")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=3500, help="samples per set (Inception features stored)")
    p.add_argument("--n-ref", type=int, default=10_000, help="training images of the reference")
    p.add_argument("--chunk", type=int, default=500, help="the feature store's chunk (as stored)")
    p.add_argument("--nfes", type=int, nargs="+", default=[5, 6, 8, 10])
    p.add_argument("--schedules", default="results/cpu/table1_large.jsonl")
    p.add_argument("--n-boot", type=int, default=50, help="bootstrap resamples per interval")
    p.add_argument("--batch", type=int, default=100, help="sampling batch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--features", help="Inception store (default $TRAJREG_CACHE/inception_headline)")
    p.add_argument("--clf-features", help="classifier store (default $TRAJREG_CACHE/fid_class_mix)")
    p.add_argument("--out", default="results/cpu/fid_class_mix.jsonl")
    a = p.parse_args(argv)
    if a.n < 16 or a.n % a.chunk or a.n_ref % a.chunk:
        p.error(f"--n (>= 16) and --n-ref must be multiples of --chunk {a.chunk}, got {a.n}, {a.n_ref}")
    if a.n_boot < 10:
        p.error(f"--n-boot must be >= 10, got {a.n_boot}")
    return a


def classifier_columns(x: torch.Tensor, device: str) -> np.ndarray:
    """(N, 129): the classifier's 128-d features and its predicted class in the last column."""
    return np.concatenate([fid.features(x, "fmnist", device=device),
                           fid.classify(x, device=device)[:, None].astype(np.float64)], axis=1)


def classifier_set(name, a, defs, store: FeatureStore, D, shape) -> tuple[np.ndarray, np.ndarray]:
    """Classifier features and labels of set ``name`` at seeds 0..n-1, chunk by chunk (stored)."""
    for s, e in chunks(a.n, a.chunk):
        if not store.has(defs[name], s, e):
            t0 = time.perf_counter()
            x = experiments.set_images(name, s, e, defs, D, shape, seed=a.seed, device=a.device,
                                       batch=a.batch)
            cols = classifier_columns(x, a.device)
            store.put(defs[name], s, e, cols, {"git_commit": a.commit, "hardware": results.hardware(a.device),
                                               "seconds": round(time.perf_counter() - t0, 1)})
            print(f"{name} {s}-{e}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    cols = store.get(defs[name], chunks(a.n, a.chunk))[0]
    return cols[:, :-1], cols[:, -1].astype(int)


def est(value: float, boots: np.ndarray, n: int) -> dict:
    return stats.interval(value, boots, n).to_dict()


def score_metric(feat: dict, labels: dict, ref_feat: np.ndarray, ref_labels: np.ndarray,
                 a: argparse.Namespace) -> dict:
    """{set: {raw, matched, mix, diffs...}} in one feature space (see the module docstring)."""
    ref = fid.statistics(ref_feat)
    target = stats.class_histogram(ref_labels, 10)
    kw = {"seed": a.seed, "n_resamples": a.n_boot}
    out, boot = {}, {}
    fv, fb = stats.fid_resamples(feat[FLOOR], *ref, **kw)
    out[FLOOR] = {"raw": est(fv, fb, a.n)}
    for name in feat:
        if name == FLOOR:
            continue
        t0 = time.perf_counter()
        raw = stats.fid_resamples(feat[name], *ref, **kw)
        matched = stats.fid_matched_resamples(feat[name], labels[name], target, *ref, **kw)
        mix = stats.fid_matched_resamples(feat[FLOOR], labels[FLOOR],
                                          stats.class_histogram(labels[name], 10), *ref, **kw)
        boot[name] = {"raw": raw, "matched": matched, "mix": mix}
        row = {k: est(v, b, a.n) for k, (v, b) in boot[name].items()}
        if name[0] != "polynomial":
            base = boot["polynomial", name[1]]
            for k in ("raw", "matched", "mix"):
                row[f"{k}_diff"] = est(boot[name][k][0] - base[k][0], boot[name][k][1] - base[k][1], a.n)
            gap = base["raw"][0] - fv      # the polynomial schedule's FID above the floor, fixed
            row["mix_share"] = est((mix[0] - base["mix"][0]) / gap, (mix[1] - base["mix"][1]) / gap, a.n)
            row["_share_boots"] = ((mix[1] - base["mix"][1]) / gap).tolist()
        out[name] = row
        print(f"{name}: {stats.Estimate.from_dict(row['raw']).fmt('.1f')} raw, "
              f"{stats.Estimate.from_dict(row['matched']).fmt('.1f')} matched "
              f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None, extractor_id: str = INCEPTION_ID) -> None:
    a = parse(argv)
    t_start = time.time()
    command = results.command("benchmarks/fid_class_mix.py", argv)
    prov = results.provenance(command, "fmnist-edm", n=a.n, seeds=results.seed_range(a.seed, a.n),
                              device=a.device)
    a.commit = prov["commit"] + ("+dirty" if prov["dirty"] else "")     # the feature chunks' form
    stored = {(r["schedule"], r["nfe"]): r["sigmas"] for r in results.read(ROOT / a.schedules)
              if r.get("schedule") in experiments.HEADLINE}
    defs = experiments.image_sets(a.nfes, stored, prov["model_sha256"], a.seed)
    inc_store = FeatureStore(Path(a.features) if a.features else data.cache_dir() / "inception_headline",
                             extractor_id)
    clf_id = f"fmnist-classifier:{classifier.classifier_card()['sha256'][:16]}:embed+label"
    clf_store = FeatureStore(Path(a.clf_features) if a.clf_features
                             else data.cache_dir() / "fid_class_mix", clf_id)
    missing = [(name, s) for name in defs for s, e in chunks(a.n_ref if name == "reference" else a.n,
                                                             a.chunk) if not inc_store.has(defs[name], s, e)]
    if missing:
        raise SystemExit(f"{len(missing)} Inception chunks are missing (first {missing[0]}): run "
                         f"benchmarks/inception_headline.py --n {a.n} first")
    D = models.load("fmnist-edm", device=a.device)
    shape = models.info("fmnist-edm").data_shape
    inc, clf, labels, metas = {}, {}, {}, []
    for name in defs:
        n = a.n_ref if name == "reference" else a.n
        inc[name], meta = inc_store.get(defs[name], chunks(n, a.chunk))
        metas += meta
        if name == "reference":
            x = data.fashion_mnist("train")[:n]
            clf[name], labels[name] = fid.features(x, "fmnist"), fid.classify(x)
        elif name == FLOOR:
            x = data.fashion_mnist("test")[:n]
            clf[name], labels[name] = fid.features(x, "fmnist"), fid.classify(x)
        else:
            clf[name], labels[name] = classifier_set(name, a, defs, clf_store, D, shape)
    sets = [name for name in defs if name != "reference"]
    scores = {m: score_metric({k: f[k] for k in sets}, labels, f["reference"], labels["reference"], a)
              for m, f in (("clf", clf), ("inception", inc))}
    common = {"provenance": prov, "solver": "ipndm", "n_ref": a.n_ref, "n_boot": a.n_boot,
              "reference": f"first {a.n_ref} Fashion-MNIST training images (both metrics)",
              "features": {"clf": clf_id, "inception": extractor_id},
              "reference_class_histogram": stats.class_histogram(labels["reference"], 10).tolist(),
              "inception_chunks_from": sorted({m["git_commit"] for m in metas})}
    rows = []
    for name in sets:
        row = {"schedule": FLOOR if name == FLOOR else name[0], "nfe": 0 if name == FLOOR else name[1],
               "class_histogram": stats.class_histogram(labels[name], 10).tolist()}
        for m in METRICS:
            row[m] = {k: v for k, v in scores[m][name].items() if not k.startswith("_")}
        if name != FLOOR and name[0] != "polynomial":
            c, i = scores["clf"][name], scores["inception"][name]   # same test rows: paired
            row["mix_sensitivity"] = est(c["mix_share"]["value"] - i["mix_share"]["value"],
                                         np.array(c["_share_boots"]) - np.array(i["_share_boots"]), a.n)
        rows.append({**row, **common})
    out = ROOT / a.out
    results.write_rows(out, rows)
    print(f"wrote {out} (n = {a.n}) in {time.time() - t_start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
