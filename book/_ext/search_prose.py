"""Sphinx extension: the site search indexes what a reader reads, not the notebooks' code.

Sphinx's search index takes every word of a page, including the source of each code cell that
myst-nb renders (hidden behind a "Show source" toggle or not). On a page such as *Why GITS* the
code then outweighs the prose: a query such as "GITS NFE 8" ranks pages by how often their code
names those words. This extension leaves notebook cell inputs (myst-nb containers with the class
``cell_input``) and anything marked with the class ``no-search`` out of the index; the pages
themselves are unchanged. Prose, headings, captions and the text of outputs (tables) stay indexed.

Sphinx 7.4 has no option for this, so the extension wraps ``sphinx.search.IndexBuilder.feed``: the
index is fed a copy of each page's doctree without those nodes. It checks that the method exists and
fails the build with a clear message otherwise.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes

SKIPPED_CLASSES = frozenset({"cell_input", "no-search"})


def _skipped(node: nodes.Node) -> bool:
    """True for a node the search index leaves out (a code cell's source, or class no-search)."""
    return isinstance(node, nodes.Element) and not SKIPPED_CLASSES.isdisjoint(node.get("classes", ()))


def prose_only(doctree: nodes.document) -> nodes.document:
    """A copy of ``doctree`` without the nodes the search index leaves out."""
    pruned = doctree.deepcopy()
    for node in list(pruned.findall(_skipped)):
        if node.parent is not None:
            node.parent.remove(node)
    return pruned


def setup(app: Any) -> dict[str, Any]:
    from sphinx.search import IndexBuilder

    original = getattr(IndexBuilder, "feed", None)
    if original is None:
        raise RuntimeError("search_prose: sphinx.search.IndexBuilder.feed not found (Sphinx changed); "
                           "update book/_ext/search_prose.py")
    if not getattr(original, "_trajreg_prose_only", False):
        def feed(self, docname: str, filename: str, title: str, doctree: nodes.document) -> None:
            original(self, docname, filename, title, prose_only(doctree))

        feed._trajreg_prose_only = True  # type: ignore[attr-defined]
        IndexBuilder.feed = feed
    return {"parallel_read_safe": True, "parallel_write_safe": True}
