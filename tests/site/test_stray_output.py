"""No stray output on a built page: what a notebook printed for its author, not for the reader.

Scans the output areas (``div.cell_output``) of every notebook page of the built site, scripts
and styles aside, folded outputs included, for three kinds of plumbing:

- a bare Python dict repr: an output block (one ``<pre>``) that is nothing but a dict literal, such
  as the return value of a call left as a cell's last line;
- an unformatted float: a number with a decimal point and more than 6 significant digits
  (0.6724089980707504), which no table or sentence of the book means to show;
- a hash: 64 hexadecimal digits (a sha256), which belongs on a model card's file, not on a page.

Runs on the HTML files, without a browser (a second for the whole site).
"""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from site_toc import ROOT, toc_files

NUMBER = re.compile(r"(?<![\w.])[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?(?![\w.])")
HASH = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")
DICT_START = re.compile(r"^\{\s*(['\"][^'\"]*['\"]|\d+)\s*:")
MAX_DIGITS = 6
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class OutputText(HTMLParser):
    """Collects, per output area, its whole text and the text of each <pre> block in it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.areas: list[str] = []
        self.blocks: list[str] = []
        self._depth = 0           # open elements; the output area starts at _area, a <pre> at _pre
        self._area = self._pre = self._skip = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._area is not None:
            self.areas[-1] += "\n"      # elements separate words: <td>1</td><td>2</td> is not "12"
        if tag in VOID:
            return
        self._depth += 1
        classes = (dict(attrs).get("class") or "").split()
        if self._area is None and "cell_output" in classes:
            self._area = self._depth
            self.areas.append("")
        elif self._area is not None and tag == "pre" and self._pre is None:
            self._pre = self._depth
            self.blocks.append("")
        elif self._area is not None and tag in {"script", "style"} and self._skip is None:
            self._skip = self._depth

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        for name in ("_skip", "_pre", "_area"):
            if getattr(self, name) == self._depth:
                setattr(self, name, None)
        self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._area is None or self._skip is not None:
            return
        self.areas[-1] += data
        if self._pre is not None:
            self.blocks[-1] += data


def significant_digits(number: str) -> int:
    """Significant digits of a decimal literal's mantissa: 0.00123 -> 3, 12.50 -> 4."""
    mantissa = re.split(r"[eE]", number.lstrip("+-"))[0].replace(".", "")
    return len(mantissa.lstrip("0")) or 1


def is_dict_repr(block: str) -> bool:
    text = block.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return False
    try:
        return isinstance(ast.literal_eval(text), dict)
    except (ValueError, SyntaxError):
        return bool(DICT_START.match(text))   # a dict of objects without a literal repr


def stray(html: str) -> list[str]:
    """What a page's output areas show that they should not, one line each."""
    parser = OutputText()
    parser.feed(html)
    found = [f"dict repr: {b.strip()[:80]!r}" for b in parser.blocks if is_dict_repr(b)]
    for text in parser.areas:
        found += [f"float with {significant_digits(m.group())} significant digits: {m.group()}"
                  for m in NUMBER.finditer(text) if significant_digits(m.group()) > MAX_DIGITS]
        found += [f"64-hex hash: {m.group()[:16]}..." for m in HASH.finditer(text)]
    return found


def notebook_pages() -> list[str]:
    return [doc for doc in toc_files() if (ROOT / f"{doc}.ipynb").is_file()]


@pytest.mark.parametrize("doc", notebook_pages())
def test_no_stray_output(doc: str, site: Path) -> None:
    problems = stray((site / f"{doc}.html").read_text(encoding="utf-8"))
    assert not problems, f"{doc} shows {len(problems)} stray outputs:\n" + "\n".join(problems)


def test_detector() -> None:
    page = ('<p>0.6724089980707504 in prose is fine</p>'
            '<div class="cell_output"><div class="output"><pre>{&#x27;a&#x27;: 1, &#x27;b&#x27;: 0.5}</pre>'
            '</div><div><pre>FID 12.5 [11.9, 13.2] (n=64), 1051297 parameters</pre>'
            '<pre>0.6724089980707504</pre><script>var x = 0.12345678901;</script>'
            f'<pre>sha256 {"ab" * 32}</pre><img src="x.png"><pre>{{0: array([1, 2])}}</pre></div></div>'
            '<p>3.14159265358979</p>')
    found = stray(page)
    assert len(found) == 4, found
    assert sum(f.startswith("dict repr") for f in found) == 2
    assert any("0.6724089980707504" in f for f in found)
    assert any(f.startswith("64-hex hash") for f in found)
    assert significant_digits("0.00123") == 3 and significant_digits("-1.250e-3") == 4
