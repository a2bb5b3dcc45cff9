"""Sphinx extension: the site works offline and ships only what a reader needs.

- MathJax 3 is served from the site: after the build, the files that ``tex-mml-chtml.js`` loads
  (the combined script, its CommonHTML fonts and the TeX extensions it autoloads) are copied from
  the installed ``django-static-mathjax`` package into ``_static/mathjax``; ``mathjax_path`` in
  ``_config.yml`` points there.
- Plotly's JavaScript (from the installed ``plotly`` package) and ``explorer.js`` are copied into
  ``_static`` and loaded only on pages that hold an interactive figure (``EXPLORER_PAGES``).
- No source maps: the theme's ``*.map`` files are deleted from ``_static`` and the
  ``sourceMappingURL`` comments that name them are dropped, so no request fails in a browser's
  developer tools either.
- The repository and launch buttons are shown only when ``repository.url`` in ``_config.yml`` is
  set; without an address the theme shows neither (and links nowhere). The MyST substitution
  ``{{ colab_install }}`` (book/intro.md) is the first cell a Colab session needs, for that address.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

EXPLORER_PAGES = re.compile(r"^notebooks/explore_")
MATHJAX_PARTS = ("tex-mml-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions")
SOURCE_MAP = re.compile(rb"\n?(//|/\*)# sourceMappingURL=[^\s*]+\.map( ?\*/)?[ \t]*(?=\n|$)")


def colab_install(url: str, branch: str = "main") -> str:
    """Markdown for the install cell of a notebook opened in Colab, or how to do without one."""
    if url:
        return f'`%pip install "trajreg[book] @ git+{url.rstrip("/")}@{branch}"`'
    return ("`%pip install trajreg-*.whl` after uploading the wheel that `pip wheel --no-deps . -w dist` "
            "writes in your clone (the repository has no public address yet)")


def _buttons(app: Any, config: Any) -> None:
    """Without a repository address, switch the repository, issues and launch buttons off."""
    options = config.html_theme_options
    config.myst_substitutions = {**config.myst_substitutions, "colab_install": colab_install(
        options.get("repository_url", ""), options.get("repository_branch", "main"))}
    if not options.get("repository_url"):
        for key in ("use_repository_button", "use_issues_button", "use_edit_page_button",
                    "use_source_button"):
            options[key] = False
        options["launch_buttons"] = {}


def _page_scripts(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Plotly and the explorer's script, on the pages that draw interactive figures only."""
    if EXPLORER_PAGES.match(pagename):
        app.add_js_file("plotly.min.js", priority=400)
        app.add_js_file("explorer.js", priority=410)


def mathjax_root() -> Path:
    """The es5 folder of MathJax 3 in the installed django-static-mathjax package."""
    import mathjax

    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def copy_mathjax(static: Path) -> None:
    src, dest = mathjax_root(), static / "mathjax"
    for part in MATHJAX_PARTS:
        if (src / part).is_dir():
            shutil.copytree(src / part, dest / part, dirs_exist_ok=True)
        else:
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / part, dest / part)
    for extra in dest.rglob("*.map"):
        extra.unlink()


def copy_plotly(static: Path) -> None:
    import plotly

    shutil.copyfile(Path(plotly.__file__).parent / "package_data" / "plotly.min.js",
                    static / "plotly.min.js")


def drop_source_maps(static: Path) -> None:
    """Delete *.map files and the comments that point to them (JS and CSS of the theme)."""
    for path in static.rglob("*.map"):
        path.unlink()
    for path in [*static.rglob("*.js"), *static.rglob("*.css")]:
        text = path.read_bytes()
        if b"sourceMappingURL" in text:
            path.write_bytes(SOURCE_MAP.sub(b"", text))


def _finish(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    copy_mathjax(static)
    copy_plotly(static)
    drop_source_maps(static)


def setup(app: Any) -> dict[str, Any]:
    app.connect("config-inited", _buttons)
    app.connect("html-page-context", _page_scripts)
    app.connect("build-finished", _finish)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
