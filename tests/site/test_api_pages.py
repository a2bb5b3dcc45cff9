"""The API reference covers every public module of trajreg, and shows plain-text docstrings as written.

The first test runs without a built site: a new module fails it until it has its page.
"""

from __future__ import annotations

import pkgutil
import sys

import pytest
from site_toc import ROOT, toc_files

import trajreg

sys.path.insert(0, str(ROOT / "book" / "_ext"))
from plain_docstrings import escape_line, escape_lines  # noqa: E402


def public_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(trajreg.__path__) if not m.name.startswith("_"))


@pytest.mark.parametrize("module", public_modules())
def test_every_public_module_has_an_api_page(module: str) -> None:
    page = ROOT / "book" / "api" / f"{module}.md"
    assert page.is_file(), f"add book/api/{module}.md (copy book/api/schedules.md) and list it in _toc.yml"
    assert f".. automodule:: trajreg.{module}\n" in page.read_text()
    assert f"book/api/{module}" in toc_files(), f"list book/api/{module} under book/api/index in _toc.yml"
    assert f"trajreg.{module}\n" in (ROOT / "book" / "api" / "index.md").read_text(), \
        f"add trajreg.{module} to an autosummary table of book/api/index.md"


@pytest.mark.parametrize(("line", "expected"), [
    ("norm |x - y| of (B, *dims)", r"norm \|x - y\| of (B, \*dims)"),
    ("``|x|*2`` and :func:`a*b` and `c|d`", "``|x|*2`` and :func:`a*b` and `c|d`"),
    (r"already \*escaped\|", r"already \*escaped\|"),
    ("**kwargs", r"\*\*kwargs"),
])
def test_escape_line(line: str, expected: str) -> None:
    assert escape_line(line) == expected


def test_escape_lines_leaves_literal_blocks_and_doctests() -> None:
    lines = ["Example::", "", "    y = a * |b|", "", "after |x|", ">>> 2 * 3", "6", "", "then *a"]
    escape_lines(lines)
    assert lines == ["Example::", "", "    y = a * |b|", "", r"after \|x\|", ">>> 2 * 3", "6", "",
                     r"then \*a"]
