"""The FID anchor of Table 1's headline: FIDs of the model's converged ODE solution, resumable.

    OMP_NUM_THREADS=2 python benchmarks/fid_anchor.py --n 10000 --deadline-min 80
    python benchmarks/fid_anchor.py --device cuda --n 10000         # a GPU: minutes

A few-step sampler approximates the ODE solution from its noise; a metric that scores the
approximation better than the solution itself rewards something other than solving. This script
samples the converged solution (iPNDM, ``--steps`` steps on the polynomial schedule, seeds
0..n-1: the noises of Table 1's headline sets), scores it with the Inception FID (the paper's
metric, the headline's reference: the first 10,000 training images), the classifier FID and KID,
and decides the registered gate ``anchor.<metric>.nfe<K>`` against the stored headline rows
(results/cpu/inception_headline.jsonl, results/cpu/table1_large.jsonl). Convergence: on the first
``--n-conv`` noises, the distance of the ``--steps`` solution to a ``2 * --steps`` one, beside the
distance of the few-step sets to it.

Features are computed ``--chunk`` seeds at a time and kept (with the samples, as uint8) under
``--features`` (default $TRAJREG_CACHE/inception_headline/, shared with inception_headline.py:
the reference features are the same files), so a stopped run resumes.
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

from trajreg import data, evaluate, fid, models, results, schedules, stats
from trajreg.feature_store import FeatureStore, chunks

ROOT = results.ROOT
NFES = (5, 6, 8, 10)
FEW_STEP = ("polynomial", "gits-dev", "gits-l2")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=10_000, help="samples of the converged solution")
    p.add_argument("--n-ref", type=int, default=10_000, help="training images of the reference")
    p.add_argument("--steps", type=int, default=50, help="iPNDM steps of the converged solution")
    p.add_argument("--n-conv", type=int, default=500, help="noises of the convergence check")
    p.add_argument("--conv-few-step", action="store_true",
                   help="also measure each few-step set's distance to the 2N-step solution (slow on a CPU; "
                        "results/cpu/table1_large.jsonl has their ODE errors against 100 steps)")
    p.add_argument("--chunk", type=int, default=500)
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples per FID interval")
    p.add_argument("--deadline-min", type=float, default=None)
    p.add_argument("--score-only", action="store_true")
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--features", help="feature cache (default $TRAJREG_CACHE/inception_headline)")
    p.add_argument("--out", help="default results/<cpu|gpu>/fid_anchor.jsonl")
    a = p.parse_args(argv)
    if a.n < 16 or a.n_ref < 16 or a.steps < 2 or a.chunk < 1 or a.n_boot < 10 or a.n_conv < 2:
        p.error("need --n, --n-ref >= 16, --steps >= 2, --chunk >= 1, --n-boot >= 10, --n-conv >= 2")
    if a.deadline_min is not None and a.deadline_min <= 0:
        p.error(f"--deadline-min must be positive, got {a.deadline_min}")
    return a


def sample(D, noise: torch.Tensor, sigmas: torch.Tensor, batch: int, desc: str) -> torch.Tensor:
    """Final iPNDM samples, batch by batch, with a progress bar."""
    return evaluate.sample_in_batches(D, noise, sigmas, "ipndm", batch_size=batch, desc=desc)


def stored_rows() -> tuple[dict, dict]:
    """{(schedule, nfe): row} of the Inception headline and of the classifier-FID large tier
    (estimates as ``stats.Estimate``)."""
    def read(name: str) -> dict:
        return {(r["schedule"], r["nfe"]): r for r in results.read(ROOT / "results/cpu" / name)
                if r.get("schedule") in FEW_STEP}
    return read("inception_headline.jsonl"), read("table1_large.jsonl")


def convergence(a, D, shape, stored: dict) -> dict:
    """Mean |x - x_2N| / sqrt(d) over the first ``n_conv`` noises, for the N-step solution and
    for each few-step set (its ODE error against the same 2N-step solution)."""
    noise = data.noise(range(a.seed, a.seed + a.n_conv), shape).to(a.device)
    fine = sample(D, noise, schedules.polynomial(2 * a.steps + 1), a.batch, "2N-step solution")
    out = {"n": a.n_conv, "fine_steps": 2 * a.steps}
    x = sample(D, noise, schedules.polynomial(a.steps + 1), a.batch, "N-step solution")
    out["converged"] = stats.mean_ci(evaluate.ode_error(x, fine).numpy()).to_dict()
    for (name, K), row in sorted(stored.items()) if a.conv_few_step else ():
        x = sample(D, noise, torch.tensor(row["sigmas"], dtype=torch.float64), a.batch, f"{name} {K}")
        out[f"{name}.nfe{K}"] = stats.mean_ci(evaluate.ode_error(x, fine).numpy()).to_dict()
    return out


def extract(a, store, extractor, D, shape, ref_def, anchor_def, deadline, commit) -> None:
    todo = [(ref_def, s, e) for s, e in chunks(a.n_ref, a.chunk)]
    todo += [(anchor_def, s, e) for s, e in chunks(a.n, a.chunk)]
    todo = [t for t in todo if not store.has(*t)]
    print(f"{len(todo)} chunks to compute", file=sys.stderr, flush=True)
    last = {}
    sig = schedules.polynomial(a.steps + 1)
    for d, s, e in todo:
        if deadline is not None and time.time() + 1.1 * last.get(d["kind"], 0.0) > deadline:
            print(f"deadline: stopping before {d['kind']} {s}-{e}", file=sys.stderr, flush=True)
            return
        t0 = time.perf_counter()
        if d["kind"] == "ref":
            x = data.fashion_mnist("train")[s:e]
        else:
            noise = data.noise(range(a.seed + s, a.seed + e), shape).to(a.device)
            x = sample(D, noise, sig, a.batch, f"converged {s}-{e}")
            np.save(store.path(d, s, e).with_suffix(".u8.npy"), fid.to_uint8(x).numpy())
        feat = fid.inception_features(x, device=a.device, extractor=extractor)
        last[d["kind"]] = time.perf_counter() - t0
        store.put(d, s, e, feat, {
            "git_commit": commit, "hardware": results.hardware(a.device), "device": a.device,
            "torch": torch.__version__, "seconds": round(last[d["kind"]], 1),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
        print(f"{d['kind']} {s}-{e}: {last[d['kind']]:.0f} s", file=sys.stderr, flush=True)


def difference(f: stats.Estimate, conv: stats.Estimate) -> stats.Estimate:
    """FID(few-step) - FID(converged): independent estimates, half-widths added in quadrature."""
    v = f.value - conv.value
    lo = v - float(np.hypot(f.value - f.lo, conv.hi - conv.value))
    hi = v + float(np.hypot(f.hi - f.value, conv.value - conv.lo))
    return stats.Estimate(v, lo, hi, min(f.n, conv.n))


def at_full_n(feat, ref, boot: np.ndarray, n: int, full: int, seed: int) -> tuple[stats.Estimate, dict]:
    """The FID of ``feat`` (n rows) carried to ``full`` samples: FID is biased by about b / n, so
    with FIDs of the first n/4, n/2 and n rows fitted as a + b / m, FID(full) = FID(n) - b (1/n -
    1/full); the interval is the bootstrap's at n, shifted by the same amount (fixed before the run
    in case the run stops short of ``full``)."""
    sizes = [n // 4, n // 2, n]
    fids = [fid.frechet_distance(*fid.statistics(feat[:m]), *ref) for m in sizes]
    b, a = np.polyfit([1 / m for m in sizes], fids, 1)
    shift = -b * (1 / n - 1 / full)
    est = stats.interval(fids[-1] + shift, boot + shift, n)
    return est, {"sizes": sizes, "fids": fids, "a": float(a), "b": float(b), "shift": float(shift)}


def gate_rows(inc: stats.Estimate, clf: stats.Estimate, inception: dict, table1: dict) -> list[dict]:
    """One row per (metric, NFE): the best few-step set's FID minus the converged one's."""
    rows = []
    for metric, conv, stored, key in (("inception", inc, inception, "fid"), ("clf", clf, table1, "fid")):
        for K in NFES:
            cands = {s: stored[s, K][key] for s in FEW_STEP if (s, K) in stored}
            best = min(cands, key=lambda s: cands[s].value)
            rows.append({"claim": f"anchor.{metric}.nfe{K}", "metric": metric, "nfe": K,
                         "best_schedule": best, "best_fid": cands[best].to_dict(),
                         "diff_vs_converged": difference(cands[best], conv).to_dict()})
    return rows


def main(argv: list[str] | None = None) -> None:
    a = parse(argv)
    t_start = time.time()
    deadline = None if a.deadline_min is None else t_start + 60 * a.deadline_min
    command = results.command("benchmarks/fid_anchor.py", argv)
    prov = results.provenance(command, "fmnist-edm", n=a.n, seeds=results.seed_range(a.seed, a.n),
                              device=a.device)     # n and seeds: the scored n, set below
    commit = prov["commit"] + ("+dirty" if prov["dirty"] else "")     # the feature chunks' form
    model_sha = prov["model_sha256"]
    extractor_id = f"inception-2015-12-05:{fid.HELPER_INCEPTION_SHA256[:16]}:clean-resize"
    store = FeatureStore(Path(a.features) if a.features else data.cache_dir() / "inception_headline",
                         extractor_id)
    ref_def = {"kind": "ref", "images": "fashion-mnist train", "first": 0}
    anchor_def = {"kind": "sample", "model_sha256": model_sha, "solver": "ipndm",
                  "sigmas": [round(float(s), 6) for s in schedules.polynomial(a.steps + 1)],
                  "first_seed": a.seed, "noise": "float64"}
    inception, table1 = stored_rows()
    D = models.load("fmnist-edm", device=a.device)
    shape = models.info("fmnist-edm").data_shape
    conv_path = store.folder / f"anchor-convergence-{a.steps}-{a.n_conv}.json"
    if not conv_path.is_file() and not a.score_only:
        t0 = time.perf_counter()
        conv = {**convergence(a, D, shape, table1), "seconds": round(time.perf_counter() - t0)}
        store.folder.mkdir(parents=True, exist_ok=True)
        conv_path.write_text(json.dumps(conv))
    if not a.score_only:
        extract(a, store, fid._inception(a.device, "fid-helper"), D, shape, ref_def, anchor_def,
                deadline, commit)
    ref_chunks = chunks(a.n_ref, a.chunk)
    n = 0
    for s, e in chunks(a.n, a.chunk):
        if not store.has(anchor_def, s, e):
            break
        n = e
    if n < 16 or not all(store.has(ref_def, s, e) for s, e in ref_chunks):
        raise SystemExit(f"not enough features to score (converged n = {n}): run longer")
    t0 = time.perf_counter()
    ref_feat, _ = store.get(ref_def, ref_chunks)
    feat, metas = store.get(anchor_def, chunks(n, a.chunk))
    ref = fid.statistics(ref_feat)
    value, boot = stats.fid_resamples(feat, *ref, seed=a.seed, n_resamples=a.n_boot)
    inc, extrapolation = stats.interval(value, boot, n), None
    if n < a.n:      # partial: carry the FID to the headline's n before the gate compares them
        inc_at_n = inc
        inc, extrapolation = at_full_n(feat, ref, boot, n, a.n, a.seed)
        extrapolation["fid_at_n"] = inc_at_n.to_dict()
    x = torch.from_numpy(np.concatenate([np.load(store.path(anchor_def, s, e).with_suffix(".u8.npy"))
                                         for s, e in chunks(n, a.chunk)]))
    clf_feat = fid.features(x, "fmnist", device=a.device)
    clf_ref = fid.reference_stats("fmnist-train", device=a.device)
    cvalue, cboot = stats.fid_resamples(clf_feat, *clf_ref, seed=a.seed, n_resamples=a.n_boot)
    clf = stats.interval(cvalue, cboot, n)
    if n < a.n:
        clf, _ = at_full_n(clf_feat, clf_ref, cboot, n, a.n, a.seed)
    row = {"schedule": "converged", "solver": "ipndm", "steps": a.steps, "sigmas": anchor_def["sigmas"],
           "inception_fid": inc.to_dict(), "inception_fid_extrapolated_to_n": extrapolation,
           "inception_fid_resamples": [round(float(b), 4) for b in boot],
           "inception_kid": stats.kid(feat, ref_feat, seed=a.seed).to_dict(),
           "classifier_fid": clf.to_dict(), "classifier_fid_resamples": [round(float(b), 4) for b in cboot],
           "convergence": json.loads(conv_path.read_text()) if conv_path.is_file() else None,
           "gate": gate_rows(inc, clf, inception, table1),
           "provenance": {**prov, "n": n, "seeds": results.seed_range(a.seed, n)},
           "n_ref": a.n_ref, "n_boot": a.n_boot, "features": extractor_id,
           "reference": f"first {a.n_ref} Fashion-MNIST training images",
           "extraction": {"chunks": len(metas), "seconds": round(sum(m["seconds"] for m in metas)),
                          "git_commits": sorted({m["git_commit"] for m in metas})},
           "score_s": round(time.perf_counter() - t0, 1)}
    out = ROOT / (a.out or f"results/{'gpu' if a.device.startswith('cuda') else 'cpu'}/fid_anchor.jsonl")
    results.write_rows(out, [row])
    print(f"converged: Inception FID {inc.fmt('.2f')}, classifier FID {clf.fmt('.2f')} (n = {n})",
          file=sys.stderr)
    for g in row["gate"]:
        print(g["claim"], g["best_schedule"], stats.Estimate.from_dict(g["diff_vs_converged"]).fmt(".2f"),
              file=sys.stderr)


if __name__ == "__main__":
    main()
