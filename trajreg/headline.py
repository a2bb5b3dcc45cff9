"""Table 1's headline across metrics: one grid from the stored large-tier results.

iPNDM + GITS (the authors' dev cost) against the polynomial schedule on the same noises, at each
NFE: the paired difference GITS - polynomial in Inception FID (the paper's metric, primary), in
the classifier FID and in the ODE error (distance to the exact solution), each with its 95 %
interval and a direction mark; and, where the FID anchor has been run, whether the metric is a
test of solving at that budget (no few-step set scores better than the converged ODE solution).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from trajreg import experiments
from trajreg import results as _results
from trajreg.stats import Estimate

__all__ = ["MARKS", "mark", "cell", "grid"]

# GITS lower than polynomial (better), higher (worse), the interval spans 0.
MARKS = {"lower": "▼", "higher": "▲", "tie": "≈"}


def mark(est: Estimate) -> str:
    """The direction of a paired difference GITS - polynomial: lower, higher or tie."""
    if est.hi < 0:
        return "lower"
    return "higher" if est.lo > 0 else "tie"


def cell(est: Estimate, digits: int = 2) -> str:
    """'▼ -42.2 [-43.1, -41.4]': mark, value and interval with ``digits`` significant decimals."""
    f = f"{{:.{digits}f}}" if abs(est.value) >= 1 else f"{{:.{digits + 2}f}}"
    return f"{MARKS[mark(est)]} {f.format(est.value)} [{f.format(est.lo)}, {f.format(est.hi)}]"


def _rows(path: Path) -> list[dict]:
    return _results.read(path)


def grid(results: str | Path, cost: str = "dev", nfes: tuple[int, ...] = (5, 6, 8, 10)) -> pd.DataFrame:
    """NFE x {Inception FID (primary), classifier FID, ODE error[, anchor]} from ``results``
    (a folder holding table1_large.jsonl, inception_headline.jsonl and, if run, fid_anchor.jsonl and
    warmup_draws.jsonl: then the primary column has the warm-up draw in its interval)."""
    if cost not in ("dev", "l2"):
        raise ValueError(f"cost must be 'dev' or 'l2', got {cost!r}")
    results = Path(results)
    name = f"gits-{cost}"
    inc = {r["nfe"]: r for r in _rows(results / "inception_headline.jsonl") if r["schedule"] == name}
    clf = {r["nfe"]: r for r in _rows(results / "table1_large.jsonl") if r["schedule"] == name}
    if not inc and not clf:
        raise FileNotFoundError(f"no Table 1 large-tier results for {name} under {results}")
    draws = ({r["nfe"]: r for r in _rows(results / "warmup_draws.jsonl")}
             if cost == "dev" and (results / "warmup_draws.jsonl").is_file() else {})
    anchor = {g["nfe"]: g for a in _rows(results / "fid_anchor.jsonl") for g in a["gate"]
              if g["metric"] == "inception"}
    out = {}
    for n in nfes:
        row = {}
        if n in inc and n in draws:
            row["Inception FID (primary: with the warm-up draw)"] = cell(
                experiments.with_warmup_draw(inc[n]["fid_diff_vs_polynomial"], draws[n]), 1)
            row["Inception FID, one warm-up draw"] = cell(inc[n]["fid_diff_vs_polynomial"], 1)
        elif n in inc:
            row["Inception FID (primary)"] = cell(inc[n]["fid_diff_vs_polynomial"], 1)
        if n in clf:
            vs = clf[n]["vs_polynomial"]
            row["classifier FID"] = cell(vs["fid_diff"], 2)
            row["ODE error"] = cell(vs["ode_error_diff"], 3)
        if n in anchor:
            row["best few-step − converged (Inception FID)"] = cell(anchor[n]["diff_vs_converged"], 1)
        out[f"NFE {n}"] = row
    return pd.DataFrame(out).T
