"""trajreg.report: glued numbers and status rows survive a real kernel run and reach the page."""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from trajreg import report

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
                      "report.number('fig00_peak', 9.25)\n"
                      "report.status('Fig. 0', 'peak height', model='toy', ours=9.25, paper=10.0,\n"
                      "              paper_model='EDM CIFAR-10')\n"
                      "report.status('Fig. 0', 'shape', model='toy', ours='boomerang',\n"
                      "              paper='boomerang', paper_model='EDM', agreement_word='holds')"),
        new_markdown_cell("## What we found\nA peak of {glue:text}`fig00_peak:.1f`."),
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

    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nparts:\n"
                                       "  - caption: P\n    chapters:\n      - file: notebooks/fig00_toy\n"
                                       "      - file: notebooks/fig99_silent\n")
    silent = nbformat.v4.new_notebook(cells=[new_markdown_cell("# Silent")])
    nbformat.write(silent, tmp_path / "notebooks" / "fig99_silent.ipynb")
    page = report.status_page(tmp_path)
    assert "| Fig. 0 | peak height | toy | 9.25 | 10 | EDM CIFAR-10 | agrees |" in page
    assert "**2 checks on 1 pages:** 1 agrees, 1 holds." in page
    assert "## [Figure 0](../notebooks/fig00_toy.ipynb)" in page
    assert "printed number of the paper: [Silent](../notebooks/fig99_silent.ipynb)." in page


def test_committed_status_page_is_up_to_date():
    committed = (ROOT / "book" / "status.md").read_text()
    assert committed == report.status_page(ROOT), (
        "book/status.md is out of date with the notebooks' recorded results: run "
        "`.venv/bin/python -m trajreg.report book/status.md` and commit it")
