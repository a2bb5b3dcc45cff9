"""Numbers a page reports: glued into the executed notebook, read back by the status page.

A notebook calls :func:`number` for each figure its prose quotes (the prose shows it with
``{glue:text}`name:.3g```) and :func:`verdict` once per registered claim it checks
(``trajreg.paper``: the rule decides, the page only measures). Both store the value in the
notebook's own outputs (myst-nb's glue), so the reproduction status page is built from the
executed notebooks and nothing on it is typed by hand. :func:`glue_box` glues the page's verdict
box for its first markdown cell; :func:`checked`, in the last cell, prints the verdicts as words
and records (``TRAJREG_RECORD=1``) or checks (``TRAJREG_CHECK=1``) every number against
``checked/<page>.json`` with its tolerance. The status page and the landing page's results box
are built from these rows by :mod:`trajreg.status` (one verdict per claim).
"""

from __future__ import annotations

import ast
import hashlib
import html
import json
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trajreg import paper as _paper
from trajreg import verdicts as _verdicts
from trajreg.stats import Estimate

VERDICT_KEY = "trajreg_verdict"
# Evidence tiers, weakest first: "fast" (what CI re-executes), "partial" (a stored run of a
# large-tier script that has not reached its full sample count yet), "large" (a stored benchmark
# result). A claim is decided by its rows of the strongest tier it has (:func:`decisive`).
TIERS = ("fast", "partial", "large")
LARGE_N = 10_000    # samples per FID of a large-tier headline comparison


def tier_of(n: int, full: int = LARGE_N) -> str:
    """The tier of a stored run with ``n`` samples per FID: "large" from ``full`` on, else "partial"."""
    if n < 1 or full < 1:
        raise ValueError(f"n and full must be positive, got n={n}, full={full}")
    return "large" if n >= full else "partial"
FLOAT_DIGITS = re.compile(r"\d\.\d")
# This kernel's numbers and verdicts, for checked(): name -> {value(s), tolerance}.
_LEDGER: dict[str, dict[str, dict]] = {"numbers": {}, "verdicts": {}}


def _glue(name: str, value: Any) -> None:
    from myst_nb import glue

    glue(name, value, display=False)


def number(name: str, value: float, *, rtol: float = 1e-3, atol: float = 0.0,
           check: bool = True) -> float:
    """Glue ``value`` as ``name`` for the page's prose ({glue:text}`name:.3g`) and return it.

    With ``check``, :func:`checked` compares it with the recorded value: it passes while
    ``|new - old| <= atol + rtol * |old|`` (set the tolerance the computation's float precision
    justifies; ``check=False`` for timings and other machine-dependent numbers)."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"number {name!r} must be finite, got {value}")
    if not (rtol >= 0 and atol >= 0):
        raise ValueError(f"rtol and atol must be >= 0, got {rtol}, {atol}")
    _glue(name, value)
    if check:
        _LEDGER["numbers"][name] = {"value": value, "rtol": rtol, "atol": atol}
    else:
        _LEDGER["numbers"].pop(name, None)
    return value


def verdict(claim_id: str, est: Estimate | None, *, model: str, tier: str = "fast",
            budget: str = "", metric: str = "", note: str = "", rtol: float = 1e-2,
            atol: float | None = None, check: bool = True) -> dict:
    """Decide registered claim ``claim_id`` on ``est`` with its rule, glue the row and return it.

    ``est`` is None only for Illustration claims. ``model``: what we ran it on; ``tier``: "fast"
    (what CI re-executes), "large" (a stored benchmark result) or "partial" (a stored run of a
    large-tier script short of its full sample count); ``budget``: e.g. "NFE 5" (words
    and integers: it is printed in the checked cell); ``metric``: what was measured when a claim
    has several measurements (e.g. "Inception FID", "classifier FID", "ODE error"): the claim's
    declared primary (``Claim.primary``) picks its deciding row by it. :func:`checked` compares
    value, lo and hi within ``atol + rtol * |old|``; ``atol`` defaults to 1 % of the interval's width.
    ``check=False`` (timings): only n and the verdict word are checked."""
    c = _paper.claim(claim_id)
    _validate_choice("tier", tier, TIERS)
    if not isinstance(model, str) or not model:
        raise ValueError(f"model must be a non-empty string, got {model!r}")
    if FLOAT_DIGITS.search(budget):
        raise ValueError(f"budget must hold no decimal numbers (a checked cell prints it), got {budget!r}")
    if est is not None and not isinstance(est, Estimate):
        raise ValueError(f"est must be a trajreg.stats.Estimate or None, got {type(est).__name__}")
    word = c.decide(est)
    row = {"claim": c.id, "source": c.source, "statement": c.statement, "paper": c.paper_text(),
           "paper_model": c.paper_model, "criterion": c.rule.describe(),
           "ours": "-" if est is None else est.fmt(), "n": None if est is None else est.n,
           "value": None if est is None else est.value, "lo": None if est is None else est.lo,
           "hi": None if est is None else est.hi, "tier": tier, "budget": budget, "model": model,
           "metric": metric, "verdict": word, "note": note, "page": c.page}
    key = _verdict_key(c.id, tier, budget, model, metric)
    _glue(f"{VERDICT_KEY}_{hashlib.sha256(key.encode()).hexdigest()[:10]}", json.dumps(row))
    width = 0.0 if est is None else est.hi - est.lo
    _LEDGER["verdicts"][key] = {**row, "rtol": rtol, "atol": 0.01 * width if atol is None else atol,
                                "check": check}
    return row


def _verdict_key(claim_id: str, tier: str, budget: str, model: str, metric: str = "") -> str:
    return " | ".join((claim_id, tier, budget or "-", model) + ((metric,) if metric else ()))


def _validate_choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of {sorted(allowed)}")


def _rows_of(page: str) -> list[dict]:
    return [r for r in _LEDGER["verdicts"].values() if r["page"] == page]


def checked_path(page: str) -> Path:
    """Where :func:`checked` records a page's numbers: ``$TRAJREG_CHECKED_DIR/<page>.json``
    (default ``checked/``, relative to the kernel's folder, which is notebooks/)."""
    return Path(os.environ.get("TRAJREG_CHECKED_DIR", "checked")) / f"{page}.json"


def _snapshot() -> dict:
    numbers = {k: dict(v) for k, v in sorted(_LEDGER["numbers"].items())}
    verdicts = {k: {f: v[f] for f in ("value", "lo", "hi", "n", "verdict", "rtol", "atol", "check")}
                for k, v in sorted(_LEDGER["verdicts"].items())}
    return {"numbers": numbers, "verdicts": verdicts}


def _close(old: float | None, new: float | None, rtol: float, atol: float) -> bool:
    if old is None or new is None:
        return old is new
    return abs(new - old) <= atol + rtol * abs(old)


def compare(recorded: dict, current: dict) -> list[str]:
    """Every difference between two snapshots beyond tolerance (the current one's), as lines."""
    problems = []
    for kind in ("numbers", "verdicts"):
        old, new = recorded.get(kind, {}), current.get(kind, {})
        problems += [f"{kind[:-1]} {k!r} vanished" for k in old if k not in new]
        problems += [f"{kind[:-1]} {k!r} appeared" for k in new if k not in old]
        for k in [k for k in new if k in old]:
            o, n = old[k], new[k]
            for f in ("value", "lo", "hi") if n.get("check", True) else ():
                if f in n and not _close(o.get(f), n[f], n["rtol"], n["atol"]):
                    problems.append(f"{kind[:-1]} {k!r} {f}: recorded {o.get(f)!r}, now {n[f]!r} "
                                    f"(rtol {n['rtol']}, atol {n['atol']})")
            for f in ("n", "verdict"):
                if f in n and o.get(f) != n[f]:
                    problems.append(f"{kind[:-1]} {k!r} {f}: recorded {o.get(f)!r}, now {n[f]!r}")
    return problems


def checked(page: str) -> None:
    """Last cell of a page (``# NBVAL_CHECK_OUTPUT``): print its verdicts as words, and record
    (``TRAJREG_RECORD=1``) or check (``TRAJREG_CHECK=1``) this kernel's numbers and verdicts
    against ``checked/<page>.json``; a check raises AssertionError listing every value that
    drifted beyond its tolerance, appeared or vanished. The printed text is the same in every
    mode (nbval compares it between the recording run and the checking one)."""
    record, check = os.environ.get("TRAJREG_RECORD") == "1", os.environ.get("TRAJREG_CHECK") == "1"
    if record and check:
        raise ValueError("set only one of TRAJREG_RECORD=1 and TRAJREG_CHECK=1")
    rows = _rows_of(page)
    cols = [(r["verdict"], r["claim"], r["budget"] or "-", r["metric"] or "-", r["tier"],
             "-" if r["n"] is None else str(r["n"])) for r in rows]
    head = ("verdict", "claim", "budget", "metric", "tier", "n")
    widths = [max(len(x) for x in col) for col in zip(head, *cols, strict=False)]
    lines = [f"{page}: {len(rows)} verdicts, {len(_LEDGER['numbers'])} checked numbers"]
    lines += ["  ".join(x.ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
              for line in (head, *cols)]
    missing = [c.id for c in _paper.claims_for(page) if c.id not in {r["claim"] for r in rows}]
    if missing:
        lines.append("registered for this page, not decided here: " + ", ".join(missing))
    print("\n".join(lines))
    path, snap = checked_path(page), _snapshot()
    if record:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(snap, indent=1, sort_keys=True) + "\n")
    elif check:
        if not path.is_file():
            raise AssertionError(f"{path} does not exist: run the page once with TRAJREG_RECORD=1")
        problems = compare(json.loads(path.read_text()), snap)
        if problems:
            raise AssertionError(f"{page}: {len(problems)} values differ from {path}:\n"
                                 + "\n".join(problems))


_ARXIV = {"ICML": "https://arxiv.org/abs/2405.11326", "JSTAT": "https://arxiv.org/abs/2506.10177"}
_COLOURS = {"reproduces": "#1a7f37", "stronger than the paper": "#1a7f37",
            "weaker than the paper": "#9a6700", "does not reproduce": "#cf222e", "inconclusive": "#57606a",
            "not run here": "#57606a", "illustration": "#57606a", "holds": "#0550ae",
            "does not hold": "#0550ae"}


def _source_link(source: str) -> str:
    url = next((u for k, u in _ARXIV.items() if source.startswith(k)), None)
    text = html.escape(source)
    return f'<a href="{url}">{text}</a>' if url else text


def _n_text(row: dict) -> str:
    return "" if row["n"] is None else f" (n={row['n']})"


def _box_row(r: dict, word: str, cls: str, mixed: bool = False, reason: str = "") -> str:
    why = f"<br><small>{html.escape(reason)}</small>" if reason else ""
    tag = ' <span class="trajreg-mixed">mixed</span>' if mixed else ""
    return (f'<tr class="{cls}"><td style="color:{_COLOURS[word]};font-weight:bold">{html.escape(word)}'
            f'{tag}{why}</td>'
            f'<td>{html.escape(r["statement"])}<br><small><code>{r["claim"]}</code>; '
            f'{_source_link(r["source"])}; test: {html.escape(r["criterion"])}</small></td>'
            f'<td>{html.escape(r["paper"])}<br><small>{html.escape(r["paper_model"])}</small></td>'
            f'<td>{html.escape(r["ours"])}{_n_text(r)}<br><small>'
            f'{html.escape(r["metric"]) + ", " if r.get("metric") else ""}'
            f'{html.escape(r["model"])}{", " + html.escape(r["budget"]) if r["budget"] else ""}, '
            f'{r["tier"]} tier</small></td></tr>')


def verdict_box(page: str):
    """An HTML box of the page's claims decided so far in this kernel, one verdict per claim
    (:mod:`trajreg.verdicts`): each claim's deciding row first (the claim's verdict, mixed where
    secondary evidence disagrees), then the secondary rows (IPython.display.HTML)."""
    from IPython.display import HTML

    rows = _rows_of(page)
    claims = [_paper.claim(i) for i in dict.fromkeys(r["claim"] for r in rows)]
    results = _verdicts.rollup(list(_LEDGER["verdicts"].values()), claims)
    counts = {w: sum(res.verdict == w for res in results) for w in _paper.VERDICTS}
    summary = ", ".join(f"{n} {w}" for w, n in counts.items() if n) or "no claims decided"
    first = [_box_row(res.deciding or next(r for r in rows if r["claim"] == res.claim.id), res.verdict,
                      "trajreg-deciding", res.mixed, res.reason) for res in results]
    rest = [_box_row(r, r["verdict"], "trajreg-secondary") for res in results
            for r in res.secondary + res.superseded if r is not res.deciding]
    return HTML('<div class="trajreg-verdicts" style="border:1px solid #d0d7de;border-radius:6px;'
                f'padding:0.5em 1em;margin:1em 0"><p><b>Verdicts on this page</b> (one per claim, '
                f'decided by its primary measurement): {summary}.</p>'
                '<table><thead><tr><th>verdict</th><th>claim</th><th>paper</th><th>ours</th></tr>'
                f'</thead><tbody>{"".join(first + rest)}</tbody></table></div>')


def glue_box(page: str):
    """Glue :func:`verdict_box` as ``<page>_box`` and return it; the page's first markdown cell
    shows it with a ``glue`` directive naming ``<page>_box``."""
    box = verdict_box(page)
    _glue(f"{page}_box", box)
    return box


def _glued(notebook: str | Path) -> Iterator[tuple[str, str]]:
    """(name, text/plain) of every value glued in an executed notebook, in order."""
    nb = json.loads(Path(notebook).read_text())
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name", "")
            text = next((v for k, v in out.get("data", {}).items() if k.endswith("text/plain")), None)
            if name and text is not None:
                yield name, "".join(text) if isinstance(text, list) else text


def read_verdicts(notebook: str | Path) -> list[dict]:
    """The verdict rows glued with :func:`verdict` in an executed notebook, in order."""
    return [json.loads(ast.literal_eval(text)) for name, text in _glued(notebook)
            if name.startswith(VERDICT_KEY)]


def read_numbers(notebook: str | Path) -> dict[str, float]:
    """The numbers glued with :func:`number` in an executed notebook."""
    return {name: float(text) for name, text in _glued(notebook)
            if not name.startswith(VERDICT_KEY) and not name.endswith("_box")}


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
