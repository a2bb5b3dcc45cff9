"""Every page of the table of contents in headless Chromium: it loads, shows its title, its figures
and its typeset math, and logs no console error.

The site is served over HTTP on loopback, like GitHub Pages serves it. The browser is the system
Chromium (``make browser`` installs Debian's ``chromium``), driven by Playwright, which downloads
nothing. The pages load MathJax 3 from a CDN; offline, the request is answered with the same
MathJax 3 release from the ``django-static-mathjax`` package (files only), so the math is really
typeset and checked. Any other request that leaves the site fails, and fails the page.
Screenshots of the introduction and of Figure 2 land in ``$TRAJREG_SCREENSHOTS``
(default ``_build/screenshots``).
"""

from __future__ import annotations

import functools
import json
import mimetypes
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from site_toc import ROOT, toc_files

playwright = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' installs playwright")

SCREENSHOTS = {"book/intro": "intro", "notebooks/fig02_one_dim_projection": "fig02"}
MATHJAX_PATH = "/mathjax@3/es5/"   # the part of the CDN URL Sphinx uses that names the release


def chromium() -> str:
    for name in (os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser"):
        if name and (path := shutil.which(name)):
            return path
    pytest.fail("no Chromium found: `make browser` installs Debian's chromium (or set $CHROMIUM)")


def mathjax_es5() -> Path:
    import mathjax  # from django-static-mathjax: MathJax 3 under static/mathjax

    folder = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    assert (folder / "tex-mml-chtml.js").is_file(), folder
    return folder


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
        pass


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A browser context (one window) of the system Chromium, 1280 x 900."""
    # No host resolves but loopback, so a request that leaves the site fails (and fails the page).
    args = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
    args += ["--no-sandbox"] if os.geteuid() == 0 else []   # Chromium's sandbox refuses root
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=args)
        yield b.new_context(viewport={"width": 1280, "height": 900})
        b.close()


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


class PageVisit:
    """One page opened in a new tab, with what it logged and requested."""

    def __init__(self, context, base: str, doc: str) -> None:
        self.errors: list[str] = []
        self.page = context.new_page()
        self.page.route(f"**{MATHJAX_PATH}**", self._mathjax)
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url} ({r.failure})"))
        self.response = self.page.goto(base + f"{doc}.html", wait_until="load")

    def _mathjax(self, route, request) -> None:
        path = mathjax_es5() / urlsplit(request.url).path.split(MATHJAX_PATH, 1)[1]
        if path.is_file():
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            route.fulfill(status=200, body=path.read_bytes(), content_type=mime)
        else:
            route.abort()

    def close(self) -> None:
        self.page.close()


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
def test_page_in_chromium(doc: str, site: Path, server: str, browser) -> None:
    visit = PageVisit(browser, server, doc)
    try:
        problems = page_problems(visit, doc)
        if doc in SCREENSHOTS:
            folder = Path(os.environ.get("TRAJREG_SCREENSHOTS", ROOT / "_build" / "screenshots"))
            folder.mkdir(parents=True, exist_ok=True)
            visit.page.screenshot(path=folder / f"{SCREENSHOTS[doc]}.png")
            visit.page.screenshot(path=folder / f"{SCREENSHOTS[doc]}-full.png", full_page=True)
    finally:
        visit.close()
    assert not problems, f"{doc}:\n" + "\n".join(problems)
