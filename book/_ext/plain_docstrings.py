"""Sphinx extension: show trajreg's plain-text docstrings as written on the API pages.

trajreg's docstrings write math the way the code reads: ``|x|`` is a norm, ``(B, *dims)`` a shape.
In reStructuredText ``|`` opens a substitution and ``*`` emphasis, so autodoc would garble them and
warn. This extension escapes those two characters before autodoc parses a docstring, except inside
inline literals, roles and interpreted text, literal blocks (after ``::``) and doctests, so the rest
of reStructuredText (``code``, :func:`name`, literal blocks) keeps working. It also keeps the
summaries of the API index from ending at "Fig." or "Eq.".
"""

from __future__ import annotations

import re
from typing import Any

# Spans left alone: ``literal``, :role:`target`, `interpreted text` (with an optional link suffix).
_PROTECTED = re.compile(r"``.+?``|:[\w:.+-]+:`[^`]*`|`[^`]*`_{0,2}")
_SPECIAL = re.compile(r"(?<!\\)([|*])")


def escape_line(line: str) -> str:
    """Escape ``|`` and ``*`` in one line of text outside protected spans."""
    out, pos = [], 0
    for m in _PROTECTED.finditer(line):
        out += [_SPECIAL.sub(r"\\\1", line[pos:m.start()]), m.group()]
        pos = m.end()
    out.append(_SPECIAL.sub(r"\\\1", line[pos:]))
    return "".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def escape_lines(lines: list[str]) -> None:
    """Escape a docstring's lines in place, skipping literal blocks and doctest blocks."""
    opener = None   # indent of a line ending in '::' whose literal block may follow
    block = None    # indent of the paragraph that opened the literal block we are in
    doctest = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if block is not None:
            if not stripped or _indent(line) > block:
                continue
            block = None
        if opener is not None and stripped:
            if _indent(line) > opener:
                block, opener = opener, None
                continue
            opener = None
        if doctest or stripped.startswith(">>>"):
            doctest = bool(stripped)
            continue
        lines[i] = escape_line(line)
        if stripped.endswith("::"):
            opener = _indent(line)


def _process(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    if name.startswith("trajreg"):
        escape_lines(lines)


# Abbreviations after which autosummary's first-sentence summary must not stop ("ICML Fig. 2").
ABBREVIATIONS = ("Fig.", "Figs.", "Eq.", "Eqs.", "Sec.", "App.", "Alg.", "Tab.")


def setup(app: Any) -> dict[str, Any]:
    """Run before napoleon (priority 500), so escaped text passes through it unchanged."""
    app.connect("autodoc-process-docstring", _process, priority=400)
    from sphinx.ext import autosummary  # its list knows only 'et al.', 'e.g.' and 'i.e.'

    autosummary.WELL_KNOWN_ABBREVIATIONS = tuple(dict.fromkeys(
        autosummary.WELL_KNOWN_ABBREVIATIONS + ABBREVIATIONS))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
