"""trajreg.status: one verdict per claim from its primary row, mixed claims with reasons, the
anchor gate, superseded rows, and the committed notebooks giving every paper claim one answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from trajreg import paper, status

ROOT = Path(__file__).resolve().parents[1]


def row(claim: str, verdict: str, *, tier: str = "large", metric: str = "", budget: str = "",
        model: str = "learned (EDM UNet)", value: float = -1.0, n: int = 10_000) -> dict:
    return {"claim": claim, "verdict": verdict, "tier": tier, "metric": metric, "budget": budget,
            "model": model, "value": value, "lo": value - 0.5, "hi": value + 0.5, "n": n, "note": "",
            "ours": f"{value}", "page": paper.claim(claim).page}


def result(rows: list[dict], claim: str) -> status.Result:
    return next(r for r in status.rollup(rows) if r.claim.id == claim)


FID8 = "tab01.ipndm_gits_fid.nfe8"


def anchor(word: str) -> dict:
    return row("anchor.inception.nfe8", word, metric="Inception FID", budget="NFE 8")


def test_the_primary_row_decides_and_disagreeing_secondary_rows_make_it_mixed():
    rows = [row(FID8, "reproduces", metric="Inception FID", budget="NFE 8, dev cost, with the warm-up draw"),
            row(FID8, "does not reproduce", metric="classifier FID", budget="NFE 8, dev cost", value=2.0),
            row(FID8, "inconclusive", metric="classifier FID", budget="NFE 8, dev cost", tier="fast"),
            anchor("holds")]
    r = result(rows, FID8)
    assert r.verdict == "reproduces" and r.deciding is rows[0] and r.mixed
    assert r.reason == paper.claim(FID8).mixed_reason and r.reason
    assert rows[2] in r.superseded and rows[1] in r.secondary


def test_a_failed_or_missing_anchor_makes_the_primary_metric_undecided():
    primary = row(FID8, "reproduces", metric="Inception FID", budget="NFE 8, dev cost, with the warm-up draw")
    failed = result([primary, anchor("does not hold")], FID8)
    assert failed.verdict == "inconclusive" and "no test of solving" in failed.reason
    assert not failed.mixed
    missing = result([primary], FID8)
    assert missing.verdict == "inconclusive" and "not anchored" in missing.reason


def test_without_its_primary_measurement_a_claim_is_not_run():
    rows = [row(FID8, "does not reproduce", metric="classifier FID", budget="NFE 8, dev cost"),
            row(FID8, "reproduces", metric="Inception FID", budget="NFE 8, l2 cost"),
            row(FID8, "reproduces", metric="Inception FID", budget="NFE 8, dev cost, with the warm-up draw",
                tier="partial", n=6_000)]
    r = result(rows, FID8)
    assert r.verdict == "not run here" and "primary measurement" in r.reason and r.deciding is None


def test_the_strongest_tier_of_the_primary_decides():
    rows = [row("fig03.outside_2pcs", "does not reproduce", tier="fast"),
            row("fig03.outside_2pcs", "reproduces", tier="large"),
            row("fig03.outside_2pcs", "reproduces", tier="fast", model="KDE optimal")]
    r = result(rows, "fig03.outside_2pcs")
    assert r.verdict == "reproduces" and r.deciding is rows[1] and rows[0] in r.superseded


def test_rows_of_unregistered_claims_are_refused():
    with pytest.raises(ValueError, match="unregistered"):
        status.rollup([{**row(FID8, "reproduces"), "claim": "tab99.nothing"}])


def test_every_paper_claim_of_the_committed_notebooks_has_one_verdict_and_mixed_ones_a_reason():
    results = status.rollup(status.rows_from_notebooks(ROOT))
    assert len(results) == len(paper.CLAIMS)
    assert not [r.claim.id for r in results if r.ambiguous], "a claim has several primary rows: declare one"
    assert not [r.claim.id for r in results if r.mixed and not r.reason]
    assert all(r.verdict in paper.VERDICTS for r in results)
    ours = {"holds", "does not hold"}
    assert not [r.claim.id for r in results if not r.claim.ours and r.verdict in ours]


def test_the_results_box_replaces_only_its_own_text(tmp_path):
    intro = tmp_path / "intro.md"
    intro.write_text(f"# Intro\n\nbefore\n{status.BOX_START}\nold\n{status.BOX_END}\nafter\n")
    status.write_box(intro, f"{status.BOX_START}\nnew\n{status.BOX_END}")
    assert intro.read_text() == f"# Intro\n\nbefore\n{status.BOX_START}\nnew\n{status.BOX_END}\nafter\n"
    (tmp_path / "plain.md").write_text("# no markers\n")
    with pytest.raises(ValueError, match="markers"):
        status.write_box(tmp_path / "plain.md", "x")


def test_the_headline_names_what_decided_and_what_disagrees():
    rows = [row(FID8, "reproduces", metric="Inception FID", budget="NFE 8, dev cost, with the warm-up draw"),
            row(FID8, "does not reproduce", metric="classifier FID", budget="NFE 8, dev cost", value=2.0),
            anchor("holds")]
    text = status.headline([r for r in status.rollup(rows) if not r.claim.ours])
    assert "GITS lowers iPNDM's FID on our model at NFE 8" in text and "disagrees at NFE 8" in text
    failed = status.headline([r for r in status.rollup(rows[:2] + [anchor("does not hold")])
                              if not r.claim.ours])
    assert "decides no budget yet" in failed and "no test of solving" in failed


def test_the_anchor_box_of_the_fid_page_shows_the_stored_anchor_and_each_gate(tmp_path):
    """book/fid.md's anchor box comes from results/cpu/fid_anchor.jsonl (stored numbers, one line
    per gate); without the file it says how to run it; write_box refuses a page without markers."""
    from trajreg import results, status

    box = status.anchor_box(tmp_path)
    assert "not been run" in box and box.startswith(status.ANCHOR_START)
    stored = results.read(results.ROOT / "results" / "cpu" / "fid_anchor.jsonl")
    if stored:
        box = status.anchor_box(results.ROOT)
        assert f"{stored[0]['inception_fid'].value:.3g}"[:3] in box
        assert box.count("| `anchor.") == len(stored[0]["gate"])
    page = tmp_path / "fid.md"
    page.write_text("no markers")
    with pytest.raises(ValueError, match="anchor-box"):
        status.write_box(page, box, (status.ANCHOR_START, status.ANCHOR_END))
