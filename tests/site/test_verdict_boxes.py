"""Every result page opens with its verdict box, and the box lists each claim the page decides.

A result page is a notebook with claims in the registry (``trajreg.paper.claims_for``). The box is
glued at the end of the notebook and shown by the first markdown cell, so it must appear in the
built HTML before the first figure, with one row per decided claim and no "no claims decided".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from site_toc import ROOT, toc_files

from trajreg import paper


def result_pages() -> list[str]:
    return [doc for doc in toc_files()
            if (ROOT / f"{doc}.ipynb").is_file() and paper.claims_for(Path(doc).name)]


def test_there_are_result_pages() -> None:
    assert len(result_pages()) >= 15


@pytest.mark.parametrize("doc", result_pages())
def test_page_opens_with_its_verdict_box(doc: str, site: Path) -> None:
    html = (site / f"{doc}.html").read_text(encoding="utf-8")
    box = html.find('class="trajreg-verdicts"')
    assert box >= 0, f"{doc} shows no verdict box"
    first_figure = html.find("<img", html.find('<main'))
    assert first_figure < 0 or box < first_figure, f"{doc}: the verdict box comes after a figure"
    assert "no claims decided" not in html[box:box + 2000], f"{doc}: the verdict box is empty"
    rows = html[box:html.find("</table>", box)].count("<tr") - 1
    assert rows >= 1, f"{doc}: the verdict box has no rows"


def test_a_long_box_folds_and_unfolds(visit) -> None:
    """Table 1's box shows one row per decided paper claim (its deciding row) and folds the rest
    (secondary evidence, illustrations, claims not run here, the companion's questions)."""
    page = visit("notebooks/tab01_fid_nfe")
    try:
        box = page.page.locator(".trajreg-verdicts").first
        total = box.locator("tbody > tr").count()
        deciding = box.locator("tbody > tr.trajreg-deciding")
        claims = [c.strip() for c in deciding.locator("code").all_inner_texts()]
        assert len(claims) == len(set(claims)), "a claim has two deciding rows"
        visible = box.locator("tbody > tr:visible")
        shown = [c.strip() for c in visible.locator("code").all_inner_texts()]
        assert 1 <= len(shown) < deciding.count() and all(c.startswith("tab01.") for c in shown), shown
        box.locator("button.trajreg-verdicts-more").click()
        assert box.locator("tbody > tr:visible").count() == total
        assert not page.errors, "\n".join(page.errors)
    finally:
        page.close()
