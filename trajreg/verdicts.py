"""One verdict per claim: the roll-up of the rows a page records (``trajreg.report.verdict``).

A claim of the registry (``trajreg.paper``) is decided by its **primary** row (``Claim.primary``,
declared before the run): the row matching the declared metric, model, GITS cost and tier, the
strongest tier first. The other rows are secondary evidence; a weaker-tier row of a measurement
that also has a stronger one is *superseded*. Where secondary evidence disagrees with the primary
verdict the claim is *mixed* and must carry a reason (``Claim.mixed_reason``). A primary metric
with an anchor gate (``Primary.gate``) decides only when its gate holds: a few-step sampler that
scores better than the converged ODE solution says the metric is no test of solving at that
budget, and the claim is *inconclusive*.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trajreg import paper as _paper

__all__ = ["TIERS", "Result", "rollup", "rollup_claim", "rank", "disagrees"]

TIERS = ("fast", "partial", "large")


@dataclass
class Result:
    """A claim's one verdict, the row that decides it, and the rest of its evidence."""

    claim: _paper.Claim
    verdict: str
    deciding: dict | None = None
    secondary: list[dict] = field(default_factory=list)
    superseded: list[dict] = field(default_factory=list)
    mixed: bool = False
    reason: str = ""
    ambiguous: bool = False


def rank(row: dict) -> int:
    return TIERS.index(row["tier"]) if row.get("tier") in TIERS else -1


def _key(row: dict) -> tuple:
    return row.get("metric", ""), row.get("budget", ""), row.get("model", "")


def _superseded(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(kept, superseded): a row is superseded by a stronger-tier row of the same metric and budget."""
    best: dict[tuple, int] = {}
    for r in rows:
        k = (r.get("metric", ""), r.get("budget", ""))
        best[k] = max(best.get(k, -1), rank(r))
    kept = [r for r in rows if rank(r) == best[(r.get("metric", ""), r.get("budget", ""))]]
    return kept, [r for r in rows if r not in kept]


def _cls(word: str) -> int:
    return 1 if word in _paper.POSITIVE else -1 if word in _paper.NEGATIVE else 0


def _gate(c: _paper.Claim, by_claim: dict[str, list[dict]]) -> str:
    """Why the primary metric may not decide (its anchor gate failed or was not run), or ""."""
    gate = c.primary.gate
    if not gate:
        return ""
    rows = by_claim.get(gate, [])
    if not rows:
        return f"its metric is not anchored yet ({gate} not run): no verdict on an unvalidated metric"
    g = max(rows, key=rank)
    if g["verdict"] == "does not hold":
        return (f"its metric fails the anchor at this budget ({gate}: a few-step set scores "
                f"{g['ours']} better than the converged ODE solution): here it is no test of solving")
    return ""


def rollup_claim(c: _paper.Claim, rows: list[dict], by_claim: dict[str, list[dict]]) -> Result:
    if not rows:
        if isinstance(c.rule, _paper.Illustration) and c.page:
            return Result(c, "illustration")
        return Result(c, "not run here", reason=c.needs or f"{c.page} does not decide it yet")
    kept, superseded = _superseded(rows)
    if isinstance(c.rule, _paper.Illustration):
        return Result(c, "illustration", kept[0], kept[1:], superseded)
    primary = [r for r in rows if c.primary.matches(r)]
    if not primary:
        return Result(c, "not run here", None, kept, superseded,
                      reason=f"its primary measurement ({c.primary.describe()}) is not run here yet; "
                             "the rows below are secondary evidence")
    top = max(rank(r) for r in primary)
    deciding = [r for r in primary if rank(r) == top]
    d = deciding[0]
    secondary = [r for r in kept if r is not d]
    word, reason = d["verdict"], _gate(c, by_claim)
    if reason:
        word = "inconclusive"
    clash = [r for r in secondary if _cls(r["verdict"]) * _cls(word) < 0]
    if clash and not reason:
        reason = c.mixed_reason
    return Result(c, word, d, secondary, [r for r in superseded if r is not d], mixed=bool(clash),
                  reason=reason, ambiguous=len(deciding) > 1)


def rollup(rows: list[dict], claims: list[_paper.Claim] | None = None) -> list[Result]:
    """One :class:`Result` per claim of ``claims`` (default: every registered claim, in registry
    order) from ``rows``, the rows of every page (a gate may live on another claim)."""
    by_claim: dict[str, list[dict]] = {}
    for r in rows:
        by_claim.setdefault(r["claim"], []).append(r)
    unknown = sorted(set(by_claim) - set(_paper.CLAIMS))
    if unknown:
        raise ValueError(f"rows for unregistered claims: {unknown}")
    claims = list(_paper.CLAIMS.values()) if claims is None else claims
    return [rollup_claim(c, by_claim.get(c.id, []), by_claim) for c in claims]




def disagrees(row: dict, word: str) -> bool:
    """Whether ``row``'s verdict is definite and opposite to ``word``."""
    return _cls(row["verdict"]) * _cls(word) < 0
