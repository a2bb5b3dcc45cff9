"""trajreg.report: glued numbers, verdicts and status rows survive a real kernel run and reach the
page; checked() records and checks every number with its tolerance, and prints no float digits."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from trajreg import report
from trajreg.stats import Estimate

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("ours", "paper", "word"), [
    (1.0, 1.0, "agrees"), (1.2, 1.0, "agrees"), (0.81, 1.0, "agrees"), (1.3, 1.0, "close"),
    (0.55, 1.0, "close"), (3.0, 1.0, "same order"), (0.2, 1.0, "same order"), (11.0, 1.0, "differs"),
    (-1.0, 1.0, "differs"), (0.0, 1.0, "differs"), (math.nan, 1.0, "differs")])
def test_agreement_words(ours, paper, word):
    assert report.agreement(ours, paper) == word


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="must be finite"):
        report.number("x", math.inf)
    with pytest.raises(ValueError, match="agreement_word is required"):
        report.status("Fig. 1", "shape", model="m", ours="boomerang", paper="boomerang",
                      paper_model="EDM")
    with pytest.raises(ValueError, match="item must be a non-empty string"):
        report.status("", "q", model="m", ours=1.0, paper=1.0, paper_model="EDM")
    with pytest.raises(ValueError, match="page must be a notebook name"):
        report.rerun_command("notebooks/fig02.ipynb")


def _executed_notebook(tmp_path: Path) -> Path:
    nb = new_notebook(cells=[
        new_markdown_cell("# Figure 0"),
        new_code_cell("from trajreg import report\n"
                      "from trajreg.stats import Estimate\n"
                      "report.number('fig00_peak', 9.25)\n"
                      "report.verdict('fig03.outside_2pcs', Estimate(0.86, 0.84, 0.88, 12), model='toy',\n"
                      "               budget='NFE 100')\n"
                      "report.verdict('fig03.outside_2pcs', Estimate(0.99, 0.985, 0.995, 12), model='toy',\n"
                      "               budget='NFE 100', tier='large')\n"
                      "report.glue_box('fig03_multidim_projection')\n"
                      "report.status('Fig. 0', 'peak height', model='toy', ours=9.25, paper=10.0,\n"
                      "              paper_model='EDM CIFAR-10')\n"
                      "report.status('Fig. 0', 'shape', model='toy', ours='boomerang',\n"
                      "              paper='boomerang', paper_model='EDM', agreement_word='holds')"),
        new_markdown_cell("## What we found\nA peak of {glue:text}`fig00_peak:.1f`.\n\n"
                          "```{glue:} fig03_multidim_projection_box\n```"),
    ])
    path = tmp_path / "notebooks" / "fig00_toy.ipynb"
    path.parent.mkdir(parents=True)
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    nbformat.write(nb, path)
    return path


def test_glued_values_read_back_from_an_executed_notebook(tmp_path):
    path = _executed_notebook(tmp_path)
    assert report.read_numbers(path) == {"fig00_peak": 9.25}
    rows = report.read_status(path)
    assert [r["agreement"] for r in rows] == ["agrees", "holds"]
    assert rows[0]["ours"] == "9.25" and rows[0]["paper"] == "10" and rows[0]["page"] == "fig00_toy"
    verdicts = report.read_verdicts(path)
    assert [(v["claim"], v["tier"], v["verdict"]) for v in verdicts] == [
        ("fig03.outside_2pcs", "fast", "reproduces"), ("fig03.outside_2pcs", "large", "does not reproduce")]
    nb = nbformat.read(path, as_version=4)
    boxes = [o for c in nb.cells for o in c.get("outputs", [])
             if o.get("metadata", {}).get("scrapbook", {}).get("name") == "fig03_multidim_projection_box"]
    html = [v for k, v in boxes[0]["data"].items() if k.endswith("text/html")]   # glue's papermill prefix
    assert len(boxes) == 1 and len(html) == 1 and "reproduces" in "".join(html[0])

    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nparts:\n"
                                       "  - caption: P\n    chapters:\n      - file: notebooks/fig00_toy\n"
                                       "      - file: notebooks/fig99_silent\n")
    silent = nbformat.v4.new_notebook(cells=[new_markdown_cell("# Silent")])
    nbformat.write(silent, tmp_path / "notebooks" / "fig99_silent.ipynb")
    # the verdicts count on the page named in the registry: put the toy page under that name
    nbs = tmp_path / "notebooks"
    (nbs / "fig00_toy.ipynb").rename(nbs / "fig03_multidim_projection.ipynb")
    toc = (tmp_path / "_toc.yml").read_text().replace("fig00_toy", "fig03_multidim_projection")
    (tmp_path / "_toc.yml").write_text(toc)
    page = report.status_page(tmp_path)
    assert "| Fig. 0 | peak height | toy | 9.25 | 10 | EDM CIFAR-10 | agrees |" in page
    assert "**2 legacy rows on 1 pages:** 1 agrees, 1 holds." in page
    assert "**[Figure 0](../notebooks/fig03_multidim_projection.ipynb)**" in page
    assert "[Silent](../notebooks/fig99_silent.ipynb)." in page
    claims = page[page.index("## Claims"):page.index("## Legacy rows")]
    fig03 = [line for line in claims.splitlines() if "fig03.outside_2pcs" in line]
    assert [line.split(" | ")[0] for line in fig03] == ["| **reproduces**", "| **does not reproduce**"]
    assert "0.860 [0.840, 0.880] | 12 |" in fig03[0] and fig03[1].endswith("| large |")
    assert "NFE 100; toy" in fig03[0]
    surprises = page[page.index("## Surprises"):page.index("## Claims")]
    assert "**does not reproduce**: fig03.outside_2pcs" in surprises
    assert "tab02.sd_gits_fid.nfe10" in claims and "| **not run here** |" in claims
    # one foldable table per verdict word, folded (the surprises above are the open view)
    assert "````{dropdown} does not reproduce: 1 row\n\n|" in claims
    assert "````{dropdown} reproduces: 1 row\n\n|" in claims


def test_committed_status_page_is_up_to_date():
    committed = (ROOT / "book" / "status.md").read_text()
    assert committed == report.status_page(ROOT), (
        "book/status.md is out of date with the notebooks' recorded results: run "
        "`.venv/bin/python -m trajreg.report book/status.md` and commit it")


@pytest.fixture
def ledger(monkeypatch, tmp_path):
    """An empty ledger for this kernel, TRAJREG_CHECKED_DIR in tmp_path, neither mode set."""
    monkeypatch.setattr(report, "_LEDGER", {"numbers": {}, "verdicts": {}})
    monkeypatch.setenv("TRAJREG_CHECKED_DIR", str(tmp_path / "checked"))
    monkeypatch.delenv("TRAJREG_RECORD", raising=False)
    monkeypatch.delenv("TRAJREG_CHECK", raising=False)
    return tmp_path / "checked" / "tab01_fid_nfe.json"


def _page(diff=-3.0, peak=9.25, extra=False):
    report.number("t1_peak", peak, rtol=1e-3)
    report.number("t1_seconds", 12.0, check=False)
    report.verdict("tab01.ipndm_gits_fid.nfe5", Estimate(diff, diff - 1, diff + 1, 64),
                   model="fmnist-edm", budget="NFE 5")
    if extra:
        report.number("t1_new", 1.0)


def test_checked_records_then_checks(ledger, monkeypatch, capsys):
    _page()
    report.checked("tab01_fid_nfe")
    plain = capsys.readouterr().out
    monkeypatch.setenv("TRAJREG_RECORD", "1")
    report.checked("tab01_fid_nfe")
    assert capsys.readouterr().out == plain     # the checked cell prints the same in every mode
    saved = json.loads(ledger.read_text())
    assert set(saved["numbers"]) == {"t1_peak"}   # check=False numbers are not recorded
    (key, v), = saved["verdicts"].items()
    assert key == "tab01.ipndm_gits_fid.nfe5 | fast | NFE 5 | fmnist-edm"
    assert (v["value"], v["lo"], v["hi"], v["n"], v["verdict"]) == (-3.0, -4.0, -2.0, 64, "reproduces")
    assert v["atol"] == pytest.approx(0.02)     # 1 % of the interval's width

    monkeypatch.delenv("TRAJREG_RECORD")
    monkeypatch.setenv("TRAJREG_CHECK", "1")
    _page(diff=-3.01, peak=9.25 * (1 + 5e-4))   # within tolerance
    report.checked("tab01_fid_nfe")
    assert capsys.readouterr().out == plain

    _page(diff=-2.5, peak=9.4, extra=True)    # drifted beyond tolerance, and a new number
    with pytest.raises(AssertionError) as err:
        report.checked("tab01_fid_nfe")
    msg = str(err.value)
    assert "'t1_peak' value: recorded 9.25, now 9.4" in msg and "'t1_new' appeared" in msg
    assert "tab01.ipndm_gits_fid.nfe5 | fast | NFE 5 | fmnist-edm' value" in msg

    report._LEDGER["numbers"].pop("t1_new")
    report._LEDGER["numbers"].pop("t1_peak")
    _page(diff=5.0)                            # the verdict flips; t1_peak re-added
    report._LEDGER["numbers"].pop("t1_peak")
    with pytest.raises(AssertionError, match="(?s)vanished.*verdict: recorded 'reproduces', now 'does not"):
        report.checked("tab01_fid_nfe")


def test_unchecked_verdicts_compare_only_words(ledger, monkeypatch):
    def timing(seconds):
        report.verdict("tab04.dp_share", Estimate(seconds, seconds / 2, seconds * 2, 5), model="cpu",
                       check=False)
    timing(1e-4)
    monkeypatch.setenv("TRAJREG_RECORD", "1")
    report.checked("tab04_time_cost")
    monkeypatch.delenv("TRAJREG_RECORD")
    monkeypatch.setenv("TRAJREG_CHECK", "1")
    timing(3e-4)                               # another machine: passes
    report.checked("tab04_time_cost")
    timing(0.5)                                # the verdict flips: fails
    with pytest.raises(AssertionError, match="verdict: recorded 'reproduces'"):
        report.checked("tab04_time_cost")


def test_checked_prints_no_float_digits(ledger, capsys):
    _page(diff=-3.14159)
    report.verdict("tab01.ipndm_gits_fid_ratio.nfe5", Estimate(0.62, 0.5, 0.75, 250), model="fmnist-edm",
                   budget="NFE 5", tier="large")
    report.checked("tab01_fid_nfe")
    out = capsys.readouterr().out
    assert not re.search(r"\d\.\d", out), out
    assert "reproduces" in out and "tab01.ipndm_gits_fid_ratio.nfe5" in out and "250" in out
    assert not ledger.exists()                 # neither mode: nothing written


def test_checked_without_a_record_fails_and_modes_exclude_each_other(ledger, monkeypatch):
    monkeypatch.setenv("TRAJREG_CHECK", "1")
    with pytest.raises(AssertionError, match="TRAJREG_RECORD=1"):
        report.checked("tab01_fid_nfe")
    monkeypatch.setenv("TRAJREG_RECORD", "1")
    with pytest.raises(ValueError, match="only one"):
        report.checked("tab01_fid_nfe")


def test_verdict_refuses_bad_input(ledger):
    with pytest.raises(ValueError, match="not registered"):
        report.verdict("tab99.nothing", Estimate.exact(1.0), model="m")
    with pytest.raises(ValueError, match="tier="):
        report.verdict("fig03.outside_2pcs", Estimate.exact(0.9), model="m", tier="medium")
    with pytest.raises(ValueError, match="budget must hold no decimal"):
        report.verdict("fig03.outside_2pcs", Estimate.exact(0.9), model="m", budget="gamma 1.15")
    with pytest.raises(ValueError, match="needs an Estimate"):
        report.verdict("fig03.outside_2pcs", None, model="m")
    assert report.verdict("fig01.picture", None, model="m")["verdict"] == "illustration"


def test_the_strongest_tier_of_a_claim_decides_it():
    row = lambda claim, tier: {"claim": claim, "tier": tier}   # noqa: E731
    rows = [row("a", "fast"), row("a", "partial"), row("b", "fast"), row("b", "large"),
            row("b", "partial"), row("c", "fast"), row("d", "-")]
    assert report.decisive(rows) == [row("a", "partial"), row("b", "large"), row("c", "fast"),
                                     row("d", "-")]
    assert report.verdict("fig03.outside_2pcs", Estimate.exact(0.9), model="m", tier="partial")["tier"] \
        == "partial"


def test_a_stored_run_is_large_only_from_its_full_sample_count():
    assert report.tier_of(10_000) == "large" and report.tier_of(12_000) == "large"
    assert report.tier_of(9_999) == "partial" and report.tier_of(3_500) == "partial"
    assert report.tier_of(500, full=500) == "large"
    with pytest.raises(ValueError, match="n and full"):
        report.tier_of(0)
