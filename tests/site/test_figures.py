"""Every figure of a notebook page is readable at the size the page shows it: its smallest text is
at least 9 CSS px on a 1280 px wide screen.

A figure drawn after ``trajreg.plotting.use_style()`` is a PNG that carries its smallest font size
in points (the tEXt chunk ``plotting.STYLE_MARK``) and its resolution in pixels per inch (pHYs).
That text is then ``pt * dpi / 72`` pixels tall in the image, and the browser shows the image at
``rendered width / natural width`` of its pixels, so at display size it is
``pt * dpi / 72 * rendered width / natural width`` CSS px. For the book's style (10 pt, 2 x 100 dpi
retina PNGs) a figure up to 10.3 in wide keeps 10 px in the 740 px content column; a 12 in one
falls to 8.6 px and fails. A matplotlib PNG without the mark was not drawn with the book's style
(or before it had one) and fails too: its font size is unknown. Text drawn with an explicit
smaller ``fontsize=`` escapes the check; images that are not matplotlib figures are not checked,
nor outputs folded away (they have no size until opened).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from PIL import Image
from site_toc import ROOT, toc_files

from trajreg import plotting

MIN_PX = 9.0

# [src, naturalWidth, rendered width] of each image in a notebook output, once loaded.
IMAGES_JS = """async () => Promise.all(Array.from(document.querySelectorAll('article .cell_output img'))
  .map(async (img) => {
    img.loading = 'eager';
    try { await img.decode(); } catch (e) {}
    return [img.src, img.naturalWidth, img.getBoundingClientRect().width];
  }))"""


def notebook_pages() -> list[str]:
    return [doc for doc in toc_files() if (ROOT / f"{doc}.ipynb").is_file()]


def smallest_text_px(png: Path, natural: float, rendered: float) -> float | None:
    """CSS px of the figure's smallest text as shown; None if the PNG is not a matplotlib figure."""
    with Image.open(png) as im:
        info = dict(im.info)
    if "matplotlib" not in str(info.get("Software", "")).lower():
        return None
    if plotting.STYLE_MARK not in info:
        return 0.0
    dpi = float(info.get("dpi", (72.0, 72.0))[0])
    return float(info[plotting.STYLE_MARK]) * dpi / 72 * rendered / natural


@pytest.mark.parametrize("doc", notebook_pages())
def test_figure_text_readable(doc: str, site: Path, server: str, visit) -> None:
    page = visit(doc)
    try:
        images = page.page.evaluate(IMAGES_JS)
    finally:
        page.close()
    problems = []
    for src, natural, rendered in images:
        if not natural or not rendered:
            continue
        path = site / unquote(urlsplit(urljoin(server + doc + ".html", src)).path).lstrip("/")
        px = smallest_text_px(path, natural, rendered)
        if px == 0.0:
            problems.append(f"{path.name}: not drawn with plotting.use_style() (no {plotting.STYLE_MARK})")
        elif px is not None and px < MIN_PX:
            problems.append(f"{path.name}: smallest text {px:.1f} px (shown at {rendered:.0f} of "
                            f"{natural} px)")
    assert not problems, f"{doc}: {len(problems)} figures too small to read:\n" + "\n".join(problems)
