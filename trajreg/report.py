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
from collections.abc import Iterable
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


def read_status(notebook: str | Path) -> list[dict]:
    """The status rows glued in an executed notebook, in order; each gets ``page`` = its stem."""
    nb = json.loads(Path(notebook).read_text())
    rows = []
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name", "")
            if not name.startswith(STATUS_KEY):
                continue
            text = next(v for k, v in out["data"].items() if k.endswith("text/plain"))
            row = json.loads(ast.literal_eval("".join(text) if isinstance(text, list) else text))
            row["page"] = row.get("page") or Path(notebook).stem
            rows.append(row)
    return rows


def read_numbers(notebook: str | Path) -> dict[str, float]:
    """The numbers glued with :func:`number` in an executed notebook."""
    nb = json.loads(Path(notebook).read_text())
    found = {}
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name", "")
            if name and not name.startswith(STATUS_KEY):
                text = next((v for k, v in out.get("data", {}).items() if k.endswith("text/plain")),
                            None)
                if text is not None:
                    try:
                        found[name] = float("".join(text) if isinstance(text, list) else text)
                    except ValueError:
                        continue
    return found


def collect(notebooks: Iterable[str | Path]) -> list[dict]:
    """Status rows of several notebooks, in the given order."""
    return [row for nb in notebooks for row in read_status(nb)]


def rerun_command(page: str) -> str:
    """The command, run from the repository root, that re-executes ``page`` at paper scale."""
    if not page or "/" in page or page.endswith(".ipynb"):
        raise ValueError(f"page must be a notebook name without folder or suffix, got {page!r}")
    return (f"papermill notebooks/{page}.ipynb runs/{page}.ipynb --cwd notebooks "
            f"-f params/paper/{page}.yaml")
