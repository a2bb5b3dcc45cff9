"""The built site: tests here read ``$TRAJREG_SITE`` (``make test-site`` builds it and sets it).

Without the variable these tests are skipped, so that ``pytest tests`` does not check a stale
``_build/html``; with it, a missing or empty folder fails.

The browser tests share one loopback HTTP server (the site as GitHub Pages would serve it) and one
headless system Chromium, driven by Playwright (which downloads nothing). No host resolves but
loopback, so any request that leaves the site fails, and fails the page: the site must work offline.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from site_toc import ROOT


@pytest.fixture(scope="session")
def site() -> Path:
    """The folder of the built HTML site, from ``$TRAJREG_SITE``."""
    value = os.environ.get("TRAJREG_SITE")
    if not value:
        pytest.skip("set TRAJREG_SITE to a built site (make test-site builds one and sets it)")
    path = Path(value).resolve()
    if not (path / "index.html").is_file():
        pytest.fail(f"TRAJREG_SITE={value} holds no index.html: build the book first (make test-site)")
    return path


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where screenshots go: ``$TRAJREG_SCREENSHOTS``, default ``_build/screenshots``."""
    folder = Path(os.environ.get("TRAJREG_SCREENSHOTS", ROOT / "_build" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def chromium() -> str:
    for name in (os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser"):
        if name and (path := shutil.which(name)):
            return path
    pytest.fail("no Chromium found: `make browser` installs Debian's chromium (or set $CHROMIUM)")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
        pass


@pytest.fixture(scope="session")
def server(site: Path) -> Iterator[str]:
    """Base URL of the site served over HTTP on loopback."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    thread.join()


@pytest.fixture(scope="session")
def chromium_browser(site: Path) -> Iterator[object]:
    """The system Chromium, headless; WebGL (Plotly's 3-D plots) runs on SwiftShader, on the CPU."""
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="pip install -e '.[test]' installs playwright")
    args = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--enable-unsafe-swiftshader", "--use-angle=swiftshader"]
    args += ["--no-sandbox"] if os.geteuid() == 0 else []   # Chromium's sandbox refuses root
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=args)
        yield browser
        browser.close()


class PageVisit:
    """One page opened in a new tab of ``context``, with the errors it logged and requests that failed."""

    def __init__(self, context, base: str, doc: str) -> None:
        self.errors: list[str] = []
        self.page = context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url} ({r.failure})"))
        self.response = self.page.goto(base + f"{doc}.html", wait_until="load")

    def close(self) -> None:
        self.page.close()


@pytest.fixture(scope="session")
def visit(chromium_browser, server: str):
    """``visit(doc, width=1280, height=900)``: open a page in a fresh context of that viewport."""
    contexts: dict[tuple[int, int], object] = {}

    def open_page(doc: str, width: int = 1280, height: int = 900) -> PageVisit:
        if (width, height) not in contexts:
            viewport = {"width": width, "height": height}
            contexts[width, height] = chromium_browser.new_context(viewport=viewport)
        return PageVisit(contexts[width, height], server, doc)

    yield open_page
    for context in contexts.values():
        context.close()
