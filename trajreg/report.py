"""Numbers a page reports: glued into the executed notebook, read back by the status page.

A notebook calls :func:`number` for each figure its prose quotes (the prose shows it with
``{glue:text}`name:.3g```) and :func:`status` once per paper claim it checks. Both store the
value in the notebook's own outputs (myst-nb's glue), so the reproduction status page is built
from the executed notebooks and nothing on it is typed by hand.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

STATUS_KEY = "trajreg_status"
WORDS = ("agrees", "close", "same order", "differs")  # |log ratio| within 1.25x, 2x, 10x, beyond


def _glue(name: str, value: Any) -> None:
    from myst_nb import glue

    glue(name, value, display=False)


def number(name: str, value: float) -> float:
    """Glue ``value`` as ``name`` for the page's prose ({glue:text}`name:.3g`) and return it."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"number {name!r} must be finite, got {value}")
    _glue(name, value)
    return value


def agreement(ours: float, paper: float) -> str:
    """One word for how close ``ours`` is to ``paper`` (same sign): see ``WORDS``."""
    ours, paper = float(ours), float(paper)
    if not (math.isfinite(ours) and math.isfinite(paper)) or ours * paper <= 0:
        return "differs"
    r = abs(math.log(ours / paper))
    for word, limit in zip(WORDS, (1.25, 2.0, 10.0), strict=False):
        if r <= math.log(limit):
            return word
    return WORDS[-1]


def status(item: str, quantity: str, *, model: str, ours: float | str, paper: float | str,
           paper_model: str, agreement_word: str | None = None, page: str = "",
           fmt: str = ".3g") -> dict:
    """Record one row of the reproduction status page and return it.

    ``item`` names the paper's figure/table ("Fig. 2"), ``quantity`` what is compared, ``model``
    what we ran it on, ``paper_model`` what the paper ran it on. Numeric ``ours`` and ``paper``
    get :func:`agreement` unless ``agreement_word`` (for qualitative claims: "holds",
    "does not hold", ...) is given.
    """
    for name, value in (("item", item), ("quantity", quantity), ("model", model),
                        ("paper_model", paper_model)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    numeric = all(isinstance(v, int | float) for v in (ours, paper))
    if agreement_word is None:
        if not numeric:
            raise ValueError("agreement_word is required when ours or paper is not a number")
        agreement_word = agreement(ours, paper)
    row = {"item": item, "quantity": quantity, "model": model, "paper_model": paper_model,
           "ours": format(ours, fmt) if isinstance(ours, int | float) else ours,
           "paper": format(paper, fmt) if isinstance(paper, int | float) else paper,
           "agreement": agreement_word, "page": page}
    key = hashlib.sha256(f"{item}|{quantity}|{model}".encode()).hexdigest()[:10]
    _glue(f"{STATUS_KEY}_{key}", json.dumps(row))
    return row


def _glued(notebook: str | Path) -> Iterator[tuple[str, str]]:
    """(name, text/plain) of every value glued in an executed notebook, in order."""
    nb = json.loads(Path(notebook).read_text())
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name", "")
            text = next((v for k, v in out.get("data", {}).items() if k.endswith("text/plain")), None)
            if name and text is not None:
                yield name, "".join(text) if isinstance(text, list) else text


def read_status(notebook: str | Path) -> list[dict]:
    """The status rows glued in an executed notebook, in order; each gets ``page`` = its stem."""
    rows = []
    for name, text in _glued(notebook):
        if name.startswith(STATUS_KEY):
            row = json.loads(ast.literal_eval(text))
            row["page"] = row.get("page") or Path(notebook).stem
            rows.append(row)
    return rows


def read_numbers(notebook: str | Path) -> dict[str, float]:
    """The numbers glued with :func:`number` in an executed notebook."""
    return {name: float(text) for name, text in _glued(notebook) if not name.startswith(STATUS_KEY)}


def rerun_command(page: str) -> str:
    """The command, run from the repository root, that re-executes ``page`` at paper scale."""
    if not page or "/" in page or page.endswith(".ipynb"):
        raise ValueError(f"page must be a notebook name without folder or suffix, got {page!r}")
    return (f"papermill notebooks/{page}.ipynb runs/{page}.ipynb --cwd notebooks "
            f"-f params/paper/{page}.yaml")


def toc_files(toc: str | Path) -> list[str]:
    """Every document of a Jupyter Book ``_toc.yml`` (no suffix): the root, then reading order."""
    import yaml

    def files(entry) -> list[str]:
        if isinstance(entry, dict):
            own = [str(entry[k]) for k in ("root", "file") if k in entry]
            return own + [f for k, v in entry.items() if k not in ("root", "file") for f in files(v)]
        if isinstance(entry, list):
            return [f for v in entry for f in files(v)]
        return []

    return files(yaml.safe_load(Path(toc).read_text()))


def toc_pages(toc: str | Path) -> list[str]:
    """Notebook pages (``notebooks/<name>``) named in a Jupyter Book ``_toc.yml``, in order."""
    return [f for f in toc_files(toc) if f.startswith("notebooks/")]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def page_title(notebook: str | Path) -> str:
    """The '# title' of a notebook's first markdown cell (its file name if there is none)."""
    nb = json.loads(Path(notebook).read_text())
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            first = "".join(cell.get("source", "")).lstrip().splitlines()
            if first and first[0].startswith("# "):
                return first[0][2:].strip()
            break
    return Path(notebook).stem


def status_page(root: str | Path = ".") -> str:
    """Markdown of the reproduction status page: the rows glued in the executed notebooks, one
    table per page in table-of-contents order, with the command that reruns it at paper scale."""
    root = Path(root)
    pages = toc_pages(root / "_toc.yml")
    found = {page: read_status(root / f"{page}.ipynb") for page in pages}
    rows = [r for page in pages for r in found[page]]
    silent = [page.split("/")[-1] for page in pages if not found[page]]
    counts = {w: sum(r["agreement"] == w for r in rows) for w in dict.fromkeys(r["agreement"] for r in rows)}
    lines = [
        "# Reproduction status",
        "",
        "Generated by `python -m trajreg.report book/status.md` from the rows that the executed",
        "notebooks record with `trajreg.report.status` (nothing here is typed by hand). *Ours* is",
        "measured at the default scale of this site, on the model named; *paper* is the paper's",
        "printed number, on the paper's model. Agreement is one word: for two numbers, *agrees*",
        "(within a factor 1.25), *close* (2), *same order* (10) or *differs*; for a qualitative",
        "claim, the page's own verdict. Each page's command reruns it at paper scale from the",
        "repository root on a GPU machine ([Rerun at paper scale](paper_scale.md) lists the",
        "downloads, disk and GPU hours).",
        "",
        f"**{len(rows)} checks on {len(pages) - len(silent)} pages:** "
        + ", ".join(f"{n} {w}" for w, n in counts.items()) + ".",
    ]
    for page in pages:
        if not found[page]:
            continue
        name = page.split("/")[-1]
        lines += ["", f"## [{page_title(root / f'{page}.ipynb')}](../{page}.ipynb)", "",
                  "| paper item | what is compared | our model | ours | paper | paper's model | agreement |",
                  "|---|---|---|---|---|---|---|"]
        lines += ["| " + " | ".join(_cell(r[k]) for k in ("item", "quantity", "model", "ours", "paper",
                                                        "paper_model", "agreement")) + " |"
                  for r in found[page]]
        if (root / "params" / "paper" / f"{name}.yaml").is_file():
            lines += ["", f"Rerun at paper scale: `{rerun_command(name)}`"]
    if silent:
        lines += ["", "## Pages without a check", "",
                  "These pages record no comparison with a printed number of the paper: "
                  + ", ".join(f"[{page_title(root / f'{p}.ipynb')}](../{p}.ipynb)"
                              for p in pages if not found[p]) + "."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """``python -m trajreg.report OUT.md``: write the reproduction status page."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m trajreg.report", description=main.__doc__)
    p.add_argument("out", help="markdown file to write, e.g. book/status.md")
    p.add_argument("--root", default=".", help="repository root (holds _toc.yml, notebooks/)")
    a = p.parse_args(argv)
    Path(a.out).write_text(status_page(a.root))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
