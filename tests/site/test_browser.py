"""Every page of the table of contents in headless Chromium: it loads, shows its title, its figures
and its typeset math, and logs no console error; and it fits a phone's screen.

MathJax 3 is served by the site itself (``_static/mathjax``, see book/_ext/site_assets.py), so the
math is typeset offline; any request that leaves the site fails the page (conftest.py).
Screenshots of the introduction and of Figure 2 land in ``$TRAJREG_SCREENSHOTS``
(default ``_build/screenshots``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import PageVisit
from site_toc import ROOT, toc_files

SCREENSHOTS = {"book/intro": "intro", "notebooks/fig02_one_dim_projection": "fig02",
               "book/status": "status", "notebooks/tab01_fid_nfe": "tab01",
               "notebooks/tab03_schedules": "tab03", "notebooks/fig04_3d_projection": "fig04"}
PHONE = (390, 844)   # an iPhone 12-15's CSS viewport


def notebook_images(doc: str) -> int:
    """Image outputs a notebook page shows: those of cells not tagged remove-*, glue data aside."""
    nb = json.loads((ROOT / f"{doc}.ipynb").read_text())
    count = 0
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] != "code" or {"remove-cell", "remove-output"} & set(tags):
            continue
        for out in cell.get("outputs", []):
            shown = "scrapbook" not in out.get("metadata", {})
            count += shown and any(k.startswith("image/") for k in out.get("data", {}))
    return count


# Resolves, for every <img> (lazy ones forced to load), to [src, naturalWidth, in a cell output?].
IMAGES_JS = """async () => Promise.all(Array.from(document.images).map(async (img) => {
  img.loading = 'eager';
  try { await img.decode(); } catch (e) {}
  return [img.getAttribute('src'), img.naturalWidth, !!img.closest('.cell_output')];
}))"""

# Waits for MathJax to typeset; resolves to [math elements, typeset ones, TeX errors]. MathJax
# shows a TeX error as <mjx-merror>, an undefined macro as its name in red.
MATH_JS = """async () => {
  const math = document.querySelectorAll('article .math').length;
  if (math && window.MathJax && MathJax.startup) { await MathJax.startup.promise; }
  return [math, document.querySelectorAll('article mjx-container').length,
          document.querySelectorAll('article mjx-merror, article mjx-mtext[style*="color: red"]').length];
}"""


def page_problems(visit: PageVisit, doc: str) -> list[str]:
    """What is wrong with one loaded page, as sentences ([] if nothing)."""
    page, problems = visit.page, []
    if visit.response is None or not visit.response.ok:
        return [f"HTTP {visit.response.status if visit.response else 'no response'}"]
    heading = page.locator("article h1").first.inner_text().rstrip("#").strip()
    if not heading:
        problems.append("no <h1> title")
    elif not page.title().startswith(heading):
        problems.append(f"<title> {page.title()!r} does not start with the heading {heading!r}")

    images = page.evaluate(IMAGES_JS)
    problems += [f"image did not load: {src}" for src, width, _ in images if width == 0]
    if (ROOT / f"{doc}.ipynb").is_file():
        shown, expected = sum(in_output for _, _, in_output in images), notebook_images(doc)
        if shown != expected:
            problems.append(f"{shown} figures on the page, {expected} in the notebook's outputs")

    math, typeset, failed = page.evaluate(MATH_JS)
    if typeset < math or failed:
        problems.append(f"{math} math elements, {typeset} typeset by MathJax; {failed} TeX error marks")
    return problems + visit.errors


@pytest.mark.parametrize("doc", toc_files())
def test_page_in_chromium(doc: str, site: Path, visit, screenshots: Path) -> None:
    page = visit(doc)
    try:
        problems = page_problems(page, doc)
        if doc in SCREENSHOTS:
            page.page.screenshot(path=screenshots / f"{SCREENSHOTS[doc]}.png")
            page.page.screenshot(path=screenshots / f"{SCREENSHOTS[doc]}-full.png", full_page=True)
    finally:
        page.close()
    assert not problems, f"{doc}:\n" + "\n".join(problems)


# [page width, the element that widens it]: the widest element whose right edge lies within the
# page's width (an off-canvas drawer, fixed and out of the flow, lies beyond it and does not count).
WIDEST_JS = """() => {
  const limit = document.documentElement.clientWidth, width = document.documentElement.scrollWidth;
  let worst = null;
  for (const el of document.querySelectorAll('body *')) {
    const right = Math.round(el.getBoundingClientRect().right);
    if (right > limit + 1 && right <= width + 1 && (!worst || right > worst[1])) {
      const cls = typeof el.className === 'string' ? el.className.trim().split(/\\s+/).join('.') : '';
      worst = [el.tagName.toLowerCase() + (cls ? '.' + cls : ''), right];
    }
  }
  return [width, worst];
}"""


@pytest.mark.parametrize("doc", toc_files())
def test_page_fits_a_phone(doc: str, site: Path, visit, screenshots: Path) -> None:
    """At 390 px the page itself never scrolls sideways: scrollWidth <= viewport + 1 px."""
    page = visit(doc, *PHONE)
    try:
        width, widest = page.page.evaluate(WIDEST_JS)
        if doc in SCREENSHOTS:
            page.page.screenshot(path=screenshots / f"{SCREENSHOTS[doc]}-phone.png")
    finally:
        page.close()
    assert width <= PHONE[0] + 1, f"{doc} is {width} px wide at {PHONE[0]} px; widest element: {widest}"
