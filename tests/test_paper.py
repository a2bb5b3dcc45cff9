"""trajreg.paper: every rule gives every answer on the right side of its threshold; every claim
is complete and can fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from trajreg import paper
from trajreg.paper import Above, Below, DirectionAndSize, Illustration, OneSided, Primary, Within
from trajreg.stats import Estimate

ROOT = Path(__file__).resolve().parents[1]
PAGES = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}


def est(lo: float, hi: float) -> Estimate:
    return Estimate((lo + hi) / 2, lo, hi, 64)


@pytest.mark.parametrize(("rule", "interval", "word"), [
    (Below(0.0), (-2, -1), "reproduces"), (Below(0.0), (1, 2), "does not reproduce"),
    (Below(0.0), (-1, 1), "inconclusive"), (Below(1.0), (0.5, 0.9), "reproduces"),
    (Above(0.9), (0.95, 0.99), "reproduces"), (Above(0.9), (0.5, 0.8), "does not reproduce"),
    (Above(0.9), (0.85, 0.95), "inconclusive"),
    (Within(10, 2), (6, 15), "reproduces"), (Within(10, 2), (25, 30), "does not reproduce"),
    (Within(10, 2), (1, 4), "does not reproduce"), (Within(10, 2), (15, 25), "inconclusive"),
    # complement: 0.99 explained leaves 0.01 outside, against the paper's 0.15 -> outside the band
    (Within(0.85, 2, complement=True), (0.98, 0.995), "does not reproduce"),
    (Within(0.85, 2, complement=True), (0.8, 0.88), "reproduces"),
    (Within(0.85, 2, complement=True), (0.88, 0.95), "inconclusive"),
    (DirectionAndSize(-1, 0.6, 2, ref=1.0), (0.5, 0.7), "reproduces"),
    (DirectionAndSize(-1, 0.6, 2, ref=1.0), (0.9, 0.95), "weaker than the paper"),
    (DirectionAndSize(-1, 0.9, 2, ref=1.0), (0.5, 0.6), "stronger than the paper"),
    (DirectionAndSize(-1, 0.6, 2, ref=1.0), (0.9, 1.1), "inconclusive"),
    (DirectionAndSize(-1, 0.6, 2, ref=1.0), (1.1, 1.3), "does not reproduce"),
    (DirectionAndSize(1, 5.0, 2), (3, 8), "reproduces"),
    (DirectionAndSize(1, 5.0, 2), (20, 30), "stronger than the paper"),
    (DirectionAndSize(1, 5.0, 2), (1, 2), "weaker than the paper"),
    # one-sided, on a share's complement (0.85 explained: the band edge is 1 - 0.15 * 2 = 0.70)
    (OneSided(0.85, 2, complement=True), (0.98, 0.995), "stronger than the paper"),
    (OneSided(0.85, 2, complement=True), (0.75, 0.84), "reproduces"),
    (OneSided(0.85, 2, complement=True), (0.5, 0.65), "does not reproduce"),
    (OneSided(0.85, 2, complement=True), (0.65, 0.75), "inconclusive"),
    (OneSided(10.0, 2, sign=-1), (1, 4), "stronger than the paper"),
    (OneSided(10.0, 2, sign=-1), (12, 18), "reproduces"),
    (OneSided(10.0, 2, sign=-1), (25, 30), "does not reproduce"),
    (DirectionAndSize(1, 5.0, 2), (-3, -1), "does not reproduce"),
    (Illustration(), (0, 1), "illustration"),
])
def test_rules_decide_on_both_sides(rule, interval, word):
    assert rule.decide(est(*interval)) == word
    assert word in paper.VERDICTS
    assert isinstance(rule.describe(), str) and rule.describe()


def test_rule_arguments_are_checked():
    with pytest.raises(ValueError, match="factor"):
        Within(1.0, 0.5)
    with pytest.raises(ValueError, match="target complement must be > 0"):
        Within(1.0, 2, complement=True)
    with pytest.raises(ValueError, match="sign"):
        DirectionAndSize(0, 1.0, 2)
    with pytest.raises(ValueError, match="side"):
        DirectionAndSize(-1, 1.2, 2, ref=1.0)
    with pytest.raises(ValueError, match="not registered"):
        paper.claim("no.such.claim")
    with pytest.raises(ValueError, match="sign"):
        OneSided(0.5, 2, sign=0)


def test_a_question_of_ours_answers_holds_or_does_not_hold():
    q = paper.claim("why.gits_ode.nfe5")
    assert q.ours and q.decide(est(0.5, 0.8)) == "holds" and q.decide(est(1.1, 1.3)) == "does not hold"
    assert q.decide(est(0.9, 1.1)) == "inconclusive"
    assert not paper.claim("fig03.outside_2pcs").ours


def test_primary_matches_metric_cost_model_tier_and_n():
    p = Primary(metric="Inception FID", cost="dev", tier="large", n=10_000)
    row = {"metric": "Inception FID", "budget": "NFE 8, dev cost", "model": "learned", "tier": "large",
           "n": 10_000}
    assert p.matches(row)
    for change in ({"metric": "classifier FID"}, {"budget": "NFE 8, l2 cost"}, {"tier": "partial"},
                   {"n": 6_000}, {"tier": "fast"}):
        assert not p.matches({**row, **change}), change
    assert Primary(model="learned").matches(row) and not Primary(model="KDE").matches(row)
    assert "Inception FID" in p.describe() and "n >= 10,000" in p.describe()


@pytest.mark.parametrize("c", list(paper.CLAIMS.values()), ids=list(paper.CLAIMS))
def test_every_claim_is_complete(c):
    assert c.source and c.statement and c.paper_model
    assert c.known in paper.KNOWN
    assert c.page in PAGES or (c.page == "" and c.needs), (c.id, c.page)
    if c.page:
        assert c.id.split(".")[0], c.id
    assert c.rule.describe()


@pytest.mark.parametrize("c", [c for c in paper.CLAIMS.values() if not isinstance(c.rule, Illustration)],
                         ids=[k for k, c in paper.CLAIMS.items() if not isinstance(c.rule, Illustration)])
def test_no_claim_passes_whatever_the_data(c):
    """Far below and far above: a one-sided rule answers differently; a band rule refuses both.
    And some data make every claim reproduce, other data make it fail."""
    far_below, far_above = Estimate(-1e6, -1e6 - 1, -1e6 + 1, 64), Estimate(1e6, 1e6 - 1, 1e6 + 1, 64)
    r = c.rule
    if isinstance(r, Below | Above):
        assert c.decide(far_below) != c.decide(far_above), c.id
        step = 1e-3 * (1 + abs(r.threshold))
        inside = r.threshold - step if isinstance(r, Below) else r.threshold + step
    elif isinstance(r, OneSided):
        inside = r.edge() + 1e-9 * r.sign
    else:
        inside = r.target
    words = {c.decide(far_below), c.decide(far_above), c.decide(Estimate.exact(inside))}
    wanted = {"holds", "does not hold"} if c.ours else {"reproduces", "does not reproduce"}
    assert wanted <= words, (c.id, words)


def test_every_budget_and_helpers():
    for n in paper.NFES:
        for name in ("ipndm_gits_fid", "ipndm_gits_fid_ratio", "ddim_gits_fid", "ipndm_gits_ode"):
            assert f"tab01.{name}.nfe{n}" in paper.CLAIMS
        for s in ("uniform", "logsnr"):
            assert f"tab03.ipndm_gits_vs_{s}_fid.nfe{n}" in paper.CLAIMS
    assert paper.claim("tab01.ipndm_gits_fid.nfe5").paper == pytest.approx(8.38 - 13.59)
    assert all(not c.page for c in paper.not_run())
    assert {c.id.split(".")[0] for c in paper.not_run()} >= {"tab02", "sec7", "tab05", "propA14", "tab04"}
    assert [c.id for c in paper.claims_for("fig03_multidim_projection")] == ["fig03.outside_2pcs"]
    assert paper.claim("tab01.ipndm_gits_fid.nfe5").paper_text() == "-5.21 (printed)"
    assert paper.claim("fig01.picture").decide(None) == "illustration"
    with pytest.raises(ValueError, match="needs an Estimate"):
        paper.claim("fig03.outside_2pcs").decide(None)
