"""No broken internal links: every href/src of every built page resolves to a file of the site,
and every #fragment to an element id (or anchor name) of its target page.

Offline and fast (a second for the whole site), unlike ``--builder linkcheck``, which also
checks external URLs and cannot tell an anchor that Sphinx made from one a script adds.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from site_toc import toc_files

# (tag, attribute) pairs that load or link a resource.
LINK_ATTRS = {("a", "href"), ("link", "href"), ("img", "src"), ("script", "src"), ("iframe", "src"),
              ("source", "src"), ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data")}


class PageParser(HTMLParser):
    """Collects a page's element ids / anchor names and its (tag, url) links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value)
            if (tag, name) in LINK_ATTRS:
                self.links.append((tag, value))


def parse(path: Path) -> PageParser:
    parser = PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def is_internal(url: str) -> bool:
    """True for a relative URL or a bare #fragment; False for schemes (http:, mailto:, data:...)."""
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc


def broken_links(site: Path) -> list[str]:
    """'page: url (why)' for every internal link of the site that does not resolve."""
    pages = {p: parse(p) for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts}
    problems = []
    for page, parsed in sorted(pages.items()):
        for tag, url in parsed.links:
            if not url.strip() or not is_internal(url):
                continue
            parts = urlsplit(url)
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            name = f"{page.relative_to(site)}: <{tag}> {url}"
            if not target.is_relative_to(site):
                problems.append(f"{name} (points outside the site)")
            elif target.is_dir():
                if not (target / "index.html").is_file():
                    problems.append(f"{name} (folder without index.html)")
            elif not target.is_file():
                problems.append(f"{name} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else parse(target).ids
                if unquote(parts.fragment) not in ids:
                    problems.append(f"{name} (no id '{unquote(parts.fragment)}' in {target.name})")
    return problems


def test_every_toc_page_is_built(site: Path) -> None:
    missing = [f for f in toc_files() if not (site / f"{f}.html").is_file()]
    assert not missing, f"pages of _toc.yml missing from the site: {missing}"


def test_no_broken_internal_links(site: Path) -> None:
    problems = broken_links(site)
    assert not problems, f"{len(problems)} broken internal links:\n" + "\n".join(problems)


def test_checker_finds_a_broken_link_and_anchor(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text('<h1 id="top">x</h1><a href="#top">ok</a>'
                                         '<a href="b.html#nope">bad anchor</a><img src="_images/x.png">'
                                         '<a href="https://example.org/missing">external</a>')
    (tmp_path / "b.html").write_text('<p id="here">b</p><a href="index.html#top">ok</a>')
    problems = broken_links(tmp_path)
    assert len(problems) == 2, problems
    assert "no id 'nope'" in problems[0] or "no id 'nope'" in problems[1]
    assert any("_images/x.png (no such file)" in p for p in problems)

