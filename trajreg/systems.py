"""The paper's other systems on our model (issue 23): the stored rows of ``benchmarks/systems.py``
(AMED-Solver, AMED-Plugin, RES(M), AYS and OSS beside iPNDM + GITS and the polynomial schedule) as
tables, the ``sys.*`` verdicts, and each system's gap to the exhaustive optimum.

The primary metric of every ``sys.*`` claim is the Inception FID at the stored n, paired over
resampled index sets shared by all systems (declared in ``trajreg.paper`` before the run); the
classifier FID is secondary evidence and the ODE error is reported beside them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from trajreg import paper as _paper
from trajreg.stats import Estimate, interval
from trajreg.tables import fmt

__all__ = ["LABELS", "amed_training", "costs", "fid_table", "gap_numbers", "headline_numbers", "ode_table",
           "optimality_gap", "verdicts"]

LABELS = {
    "polynomial": "iPNDM, polynomial",
    "gits-dev": "iPNDM + GITS",
    "oss": "iPNDM + OSS",
    "ays": "iPNDM + AYS",
    "res_m": "RES(M), polynomial",
    "amed_plugin": "AMED-Plugin (iPNDM)",
    "amed_solver": "AMED-Solver",
    "amed_plugin_r_half": "AMED-Plugin at r = 1/2 (diagnostic)",
}
DPMPP_LABELS = {"gits-dev": "GITS", "ays": "AYS", "uniform": "uniform (VP time)", "polynomial": "polynomial"}
METRICS = {"fid_inception": "Inception FID", "fid_classifier": "classifier FID"}
DIFFS = (("fid_inception_diff", "Inception FID"), ("fid_classifier_diff", "classifier FID"))


def _label(r: dict) -> str:
    if r["solver"] == "dpmpp_2m":
        return f"DPM-Solver++(2M) + {DPMPP_LABELS.get(r['system'], r['system'])}"
    return LABELS.get(r["system"], r["system"])


def fid_table(rows: Sequence[dict], metric: str = "fid_inception") -> pd.DataFrame:
    """One row per system, one column per NFE: the stored FID estimates (``metric``:
    "fid_inception" or "fid_classifier"); "-" where a set has none (the diagnostic has no Inception)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    out: dict[str, dict[str, object]] = {}
    for r in rows:
        out.setdefault(_label(r), {})[f"NFE {r['nfe']}"] = r.get(metric, "-")
    cols = sorted({c for v in out.values() for c in v}, key=lambda c: int(c.split()[1]))
    return pd.DataFrame(out).T.reindex(columns=cols).fillna("-")


def ode_table(rows: Sequence[dict]) -> pd.DataFrame:
    """Mean ODE error (against 100-step iPNDM) of each system and NFE, with its interval."""
    out: dict[str, dict[str, object]] = {}
    for r in rows:
        out.setdefault(_label(r), {})[f"NFE {r['nfe']}"] = r["ode_error"]["mean"]
    cols = sorted({c for v in out.values() for c in v}, key=lambda c: int(c.split()[1]))
    return pd.DataFrame(out).T.reindex(columns=cols).fillna("-")


def costs(rows: Sequence[dict]) -> pd.DataFrame:
    """Each method's search or training cost: model evaluations (summed over the samples it ran
    on) and wall seconds; AMED per NFE (one predictor each), the searches once for all NFE."""
    seen: dict[tuple, dict] = {}
    for r in rows:
        c = r["cost"]
        if not c.get("nfe"):
            continue
        per_nfe = r["system"].startswith("amed")
        key = (_label(r), r["nfe"] if per_nfe else "all")
        seen[key] = {"method": key[0], "NFE budget": key[1], "model evaluations": c["nfe"],
                     "seconds": c["seconds"]}
    return pd.DataFrame(list(seen.values())).set_index(["method", "NFE budget"])


def _claim_estimate(claim_id: str, gits_minus_this: Estimate) -> Estimate:
    """The claim's difference: GITS - other, or other - GITS where the claim says the other wins."""
    if "than iPNDM + GITS" in _paper.claim(claim_id).statement:
        e = gits_minus_this
        return Estimate(-e.value, -e.hi, -e.lo, e.n, e.label)
    return gits_minus_this


def verdicts(rows: Sequence[dict], record: Callable[..., dict], model: str) -> int:
    """Record the sys.* verdicts of the stored rows with ``record`` (``report.verdict``): per claim
    the Inception FID difference (primary) and the classifier FID difference (secondary), both
    paired on the same noises; the number of rows recorded."""
    n_rec = 0
    by = {(r["system"], r["solver"], r["nfe"]): r for r in rows}
    runs = []
    for m in ("amed_plugin", "amed_solver", "res_m"):
        for (s, _, k), r in by.items():
            if s == m and "gits_minus_this" in r:
                runs.append((f"sys.{m}.nfe{k}", r["gits_minus_this"], f"NFE {k}", True))
    for a_, b_ in (("gits", "ays"), ("ays", "uniform"), ("gits", "uniform")):
        r = by.get(({"ays": "ays", "uniform": "uniform"}[b_], "dpmpp_2m", 10))
        if r is not None and f"{a_}_minus_this" in r:
            runs.append((f"sys.ays.{a_}_vs_{b_}.k10", r[f"{a_}_minus_this"], "DPM-Solver++(2M), K 10", False))
    for cid, diff, budget, flip in runs:
        if cid not in _paper.CLAIMS:
            continue
        for key, metric in DIFFS:
            if key not in diff:
                continue
            est = _claim_estimate(cid, diff[key]) if flip else diff[key]
            record(cid, est, model=model, tier="large", budget=budget, metric=metric,
                   note=f"n = {est.n}; paired on the same noises")
            n_rec += 1
    return n_rec


def _gaps(system_rows: Sequence[dict], beyond_rows: Sequence[dict], solver: str, n_resamples: int,
          seed: int) -> dict[tuple[str, int], tuple[dict, Estimate]]:
    """{(system, nfe): (row, paired ratio of mean ODE errors to the exhaustive optimum's)}; every
    cell is resampled with the same index sets (common random numbers across systems)."""
    opt = {r["K"]: np.asarray(r["errors"], dtype=np.float64) for r in beyond_rows
           if r["method"] == "exhaustive" and r["solver"] == solver}
    idx = {n: np.random.default_rng(seed).integers(0, n, (n_resamples, n))
           for n in {len(e) for e in opt.values()}}
    out = {}
    for r in system_rows:
        k = r["nfe"]
        if k not in opt or "ode_errors" not in r or r["solver"] == "dpmpp_2m":
            continue
        e_opt = opt[k]
        n = len(e_opt)
        e = np.asarray(r["ode_errors"][:n], dtype=np.float64)
        if len(e) < n:
            continue
        boots = e[idx[n]].mean(1) / e_opt[idx[n]].mean(1)
        out[r["system"], k] = (r, interval(float(e.mean() / e_opt.mean()), boots, n))
    return out


def optimality_gap(system_rows: Sequence[dict], beyond_rows: Sequence[dict], *, solver: str = "ipndm",
                   n_resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Each system's mean ODE error over the exhaustive search's held-out noises divided by the
    exhaustive optimum's (``solver``, same NFE; benchmarks/beyond_large.py), with a paired bootstrap
    interval: the noises are seeds 0..n-1 in both runs, so sample i is the same noise."""
    out: dict[str, dict[str, object]] = {}
    for (_, k), (r, est) in _gaps(system_rows, beyond_rows, solver, n_resamples, seed).items():
        out.setdefault(_label(r), {})[f"NFE {k}"] = est
    cols = sorted({c for v in out.values() for c in v}, key=lambda c: int(c.split()[1]))
    return pd.DataFrame(out).T.reindex(columns=cols).fillna("-")


def gap_numbers(system_rows: Sequence[dict], beyond_rows: Sequence[dict], prefix: str = "beyond_sys", *,
                solver: str = "ipndm", n_resamples: int = 2000, seed: int = 0) -> dict[str, float]:
    """:func:`optimality_gap`'s ratios by name, ``{prefix}_{system}_{nfe}``, for a page's prose."""
    return {f"{prefix}_{s.replace('-', '_')}_{k}": est.value
            for (s, k), (_, est) in _gaps(system_rows, beyond_rows, solver, n_resamples, seed).items()}


def amed_training(rows: Sequence[dict]) -> pd.DataFrame:
    """AMED's predictors: training size and cost, and the held-out teacher-matching loss (the
    quantity training lowers) of the initial predictor, the trained one and r fixed at 1/2."""
    out = []
    for r in rows:
        c = r["cost"]
        if r["system"] not in ("amed_plugin", "amed_solver") or "held_out_loss" not in c:
            continue
        loss = c["held_out_loss"]
        out.append({"method": _label(r), "NFE": r["nfe"], "AFS": r.get("afs"),
                    "training noises x epochs": f"{c['n_train']} x {c['epochs']}",
                    "Adam steps": c["backward_passes"], "seconds": c["seconds"],
                    "loss, initial": loss["initial"], "loss, trained": loss["trained"],
                    "loss, r = 1/2": loss["r_half"]})
        steps = c.get("held_out_loss_per_step")
        if steps:
            for name in ("trained", "r_half"):
                col = "per step, " + ("trained" if name == "trained" else "r = 1/2")
                out[-1][col] = ", ".join(fmt(v) for v in steps[name])
    return pd.DataFrame(out).set_index(["method", "NFE"]) if out else pd.DataFrame()


def headline_numbers(rows: Sequence[dict], prefix: str = "t1_sys") -> dict[str, str]:
    """The numbers a page's prose quotes, by name: ``{prefix}_{system}_{nfe}`` the Inception FID
    difference GITS - system (iPNDM family, paired), ``{prefix}_dpmpp_{system}`` GITS - system with
    DPM-Solver++(2M) at 10 steps, ``{prefix}_dpmpp_ays_uniform`` AYS - uniform there, and
    ``{prefix}_ode_{system}_{nfe}`` the system's mean ODE error."""
    out = {}
    for r in rows:
        cmp = r.get("gits_minus_this", {})
        name = r["system"].replace("-", "_")
        if r["solver"] == "dpmpp_2m":
            if "fid_inception_diff" in cmp:
                out[f"{prefix}_dpmpp_{name}"] = cmp["fid_inception_diff"].fmt()
            ays = r.get("ays_minus_this", {})
            if "fid_inception_diff" in ays:
                out[f"{prefix}_dpmpp_ays_{name}"] = ays["fid_inception_diff"].fmt()
            continue
        if "fid_inception_diff" in cmp:
            out[f"{prefix}_{name}_{r['nfe']}"] = cmp["fid_inception_diff"].fmt()
        out[f"{prefix}_ode_{name}_{r['nfe']}"] = format(r["ode_error"]["mean"].value, ".3g")
    return out
