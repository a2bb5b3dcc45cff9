"""Sphinx extension: write each inline <script> once per page.

Sphinx 7.4 registers an inline script that an extension adds after the builder starts (sphinx-thebe
and sphinx-togglebutton do) twice: once with filename None, and again as '' when it collects late
assets (``StandaloneHTMLBuilder.prepare_writing``). The page then declares ``const THEBE_JS_URL``
twice, and every page logs "Identifier 'THEBE_JS_URL' has already been declared". This drops the
second copy; scripts loaded from files are not touched.
"""

from __future__ import annotations

from typing import Any


def _dedupe(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    seen, kept = set(), []
    for script in context.get("script_files", []):
        filename = getattr(script, "filename", script) or ""
        key = (filename, tuple(sorted(getattr(script, "attributes", {}).items())))
        if filename or key not in seen:
            kept.append(script)
            seen.add(key)
    context["script_files"] = kept


def setup(app: Any) -> dict[str, Any]:
    """Runs after the other html-page-context handlers (priority 900), so it sees their scripts."""
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
