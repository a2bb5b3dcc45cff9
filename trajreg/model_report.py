"""The regularity report for one model: the paper's analysis pages run on it, built into a small site.

``trajreg report --pipeline PATH`` (or ``--model NAME``) executes the five analysis notebooks of
``PAGES`` with papermill, the model passed as their model parameter ("pipeline:<path>" for a
diffusers folder, ``trajreg.runs.load_model``), into ``DIR/notebooks/``, and builds them with a
Jupyter Book of their own (``DIR/_config.yml``, ``DIR/_toc.yml``, ``DIR/index.md``) into
``DIR/_build/html``. Each page's numbers and verdicts are recorded in ``DIR/checked/<page>.json``
(``trajreg.report.checked``), the index rows in ``DIR/verdicts.json``.

On a model other than the paper's, a verdict is a *companion* finding about that model: the paper's
claim tested on it with the registry's rule (``trajreg.paper``), labelled with the model's name,
never a reproduction of the paper. The pages' prose paragraphs that quote the main book's numbers
(those with ``{glue:text}`` roles) are left out of the report; the rest of each page, its figures,
tables and verdict box, is computed on the model.

``compare_with_book`` checks that a report on the embedded model reproduces the main book: every
number and verdict its pages record equals the committed ledger (``notebooks/checked``) within the
ledger's tolerance.
"""

from __future__ import annotations

import ast
import datetime
import html
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["BOOK_ONLY", "MARKER", "PAGES", "SMALL", "ReportError", "book_defaults", "build", "check_out",
           "compare_with_book", "execute", "index_md", "index_rows", "notebooks_dir", "parameters", "prepare",
           "run"]

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("fig02_one_dim_projection", "fig03_multidim_projection", "fig04_3d_projection",
         "fig_curvature_torsion", "gits_method")
# The notebooks' parameter naming the model: a list of names, or one name (gits_method).
MODEL_LIST = ("fig02_one_dim_projection", "fig03_multidim_projection", "fig04_3d_projection",
              "fig_curvature_torsion")
# --small: sizes for a quick report (the book's defaults otherwise). fig02-04 share one set of
# trajectories (same seeds, NFE and count), as in the book.
SMALL: dict[str, dict[str, Any]] = {
    "fig02_one_dim_projection": {"n_traj": 32, "batch_size": 32, "nfe": 50, "n_boot": 500},
    "fig03_multidim_projection": {"n_traj": 32, "batch_size": 32, "nfe": 50, "n_show": 8},
    "fig04_3d_projection": {"n_traj": 16, "n_sampled": 32, "batch_size": 32, "nfe": 50},
    "fig_curvature_torsion": {"n_traj": 8, "batch_size": 8, "nfe": 200, "window": 21},
    "gits_method": {"n_warmup": 32, "grid_size": 21, "n_boot": 50, "n_premise": 32, "premise_K": [5, 10],
                    "ref_steps": 40, "n_diag": 4, "batch_size": 32},
}
# Sizes that set how many samples one denoiser call takes: multiples of the prompt count (sample b
# uses prompt b mod P).
BATCHED = {"fig02_one_dim_projection": ("n_traj", "batch_size"),
           "fig03_multidim_projection": ("n_traj", "batch_size"),
           "fig04_3d_projection": ("n_sampled", "batch_size"),
           "fig_curvature_torsion": ("n_traj", "batch_size"),
           "gits_method": ("n_warmup", "n_premise", "n_diag", "batch_size")}
# Numbers and verdicts of the book that need the exact (KDE) denoiser of the training set, which a
# report does not run (its rows, the distances to the nearest training image, the network / KDE cost
# ratios): compare_with_book expects them absent from a report.
BOOK_ONLY = re.compile(r"kde|KDE|_gap_(median|max)$|^gm_hi_ratio")
MARKER = ".trajreg-report"          # marks a folder as a report, so a rerun may overwrite it
GLUE_TEXT = re.compile(r"\{glue:(text|md)\}")
NB_LINK = re.compile(r"\[([^\]]+)\]\(([\w.-]+)\.ipynb\)")


class ReportError(RuntimeError):
    """A notebook or the site build failed (not a user error): one line, exit status 1."""


def notebooks_dir() -> Path:
    """The analysis notebooks of a source checkout (notebooks/ beside the trajreg package)."""
    folder = ROOT / "notebooks"
    missing = [p for p in PAGES if not (folder / f"{p}.ipynb").is_file()]
    if missing:
        raise ValueError(f"trajreg report runs the analysis notebooks of a source checkout; {folder} lacks "
                         f"{', '.join(missing)} (clone the repository and install it with pip install -e .)")
    return folder


def book_defaults(page: str, folder: Path | None = None) -> dict[str, Any]:
    """The literal defaults of a notebook's ``parameters`` cell, by name."""
    nb = json.loads(((folder or notebooks_dir()) / f"{page}.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    out = {}
    for node in ast.parse("".join(cell["source"])).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            out[target.id] = ast.literal_eval(node.value)
    return out


def _multiple(n: int, P: int) -> int:
    return int(math.ceil(n / P) * P)


def parameters(page: str, model: str, *, prompts: str = "", device: str = "cpu", small: bool = False,
               n_prompts: int = 1) -> dict[str, Any]:
    """Papermill parameters of ``page`` for a report on ``model`` (a registered name or
    "pipeline:<path>"): the model alone (no KDE comparison), the device, the prompts file, the --small
    sizes if asked, and every batch-setting size rounded up to a multiple of the prompt count."""
    p: dict[str, Any] = {"device": device}
    if page in MODEL_LIST:
        p["model_names"] = [model]
    else:
        p.update(model=model, kde_model="")
    if prompts:
        p["prompts"] = prompts
    if small:
        p.update(SMALL[page])
    if n_prompts > 1:
        defaults = book_defaults(page)
        for k in BATCHED[page]:
            p[k] = _multiple(int(p.get(k, defaults[k])), n_prompts)
    return p


def _companion(model: str) -> bool:
    """Whether verdicts on ``model`` are companion findings (a user's pipeline, not a registered model)."""
    return model.startswith("pipeline:")


def _note(label: str, model: str, params: dict[str, Any]) -> str:
    skip = ("model_names", "model", "prompts", "kde_model", "device")
    sizes = ", ".join(f"{k} = {v}" for k, v in params.items() if k not in skip)
    what = ("A verdict here is a companion finding about this model, decided by the paper's rule: it "
            "neither reproduces nor refutes the paper." if _companion(model) else
            "Its verdicts are decided as in the main book, by the paper's rules on this model.")
    return (f"```{{admonition}} Report on {label}\n:class: note\n"
            f"Every figure, table and verdict on this page is computed on **{label}** (`{model}`), with "
            f"{sizes + ' and the other sizes' if sizes else 'the sizes'} as in the main book. The text "
            "describes the paper's experiment and the main book's setting; the paragraphs quoting the main "
            f"book's numbers are left out. {what}\n```\n")


def prepare(page: str, label: str, model: str, params: dict[str, Any], folder: Path | None = None) -> Any:
    """The notebook of ``page`` as the report runs it: prose quoting the book's numbers dropped, links to
    pages outside the report turned into plain text, a note naming the model after the title."""
    import nbformat

    nb = nbformat.read(str((folder or notebooks_dir()) / f"{page}.ipynb"), as_version=4)
    cells = []
    for i, c in enumerate(nb.cells):
        if c.cell_type == "markdown":
            if i > 0 and GLUE_TEXT.search(c.source):
                continue
            c.source = NB_LINK.sub(lambda m: m.group(0) if m.group(2) in PAGES else m.group(1), c.source)
            if i == 0:
                title, _, rest = c.source.partition("\n")
                c.source = f"{title}\n\n{_note(label, model, params)}{rest}"
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
        cells.append(c)
    nb.cells = cells
    nb.metadata.pop("trajreg", None)           # the main book's code stamp does not apply
    return nb


@contextmanager
def _env(**values: str | None) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def _quiet() -> Iterator[None]:
    """papermill's warnings (e.g. comments it cannot parse in a parameters cell) off the terminal."""
    import logging

    logger = logging.getLogger("papermill")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _stderr_to(log_file: Path) -> Iterator[None]:
    """File descriptor 2 appended to ``log_file``: a kernel started inside writes its own warnings
    there, not between the report's progress lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    with log_file.open("ab") as f:
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _failure(page: str, path: Path, e: BaseException) -> ReportError:
    where = getattr(e, "exec_count", None)
    what = f"{getattr(e, 'ename', type(e).__name__)}: {getattr(e, 'evalue', e)}"
    cell = f" in cell [{where}]" if where is not None else ""
    return ReportError(f"{page} failed{cell}: {what} (the partly executed notebook: {path})")


def execute(out: Path, pages: dict[str, tuple[Any, dict[str, Any]]], log: Callable[[str], None]) -> dict:
    """Run each prepared notebook with papermill into out/notebooks (kernel python3, cwd there),
    recording its ledger in out/checked; {page: seconds}."""
    import nbformat
    import papermill

    nbdir, checked = out / "notebooks", out / "checked"
    nbdir.mkdir(parents=True, exist_ok=True)
    seconds = {}
    with _env(TRAJREG_RECORD="1", TRAJREG_CHECK=None, TRAJREG_CHECKED_DIR=str(checked),
              JUPYTER_PREFER_ENV_PATH="1", PYDEVD_DISABLE_FILE_VALIDATION="1"), _quiet():
        for i, (page, (nb, params)) in enumerate(pages.items(), 1):
            path = nbdir / f"{page}.ipynb"
            nbformat.write(nb, str(path))
            log(f"[{i}/{len(pages)}] {page} ...")
            start = time.perf_counter()
            try:
                with _stderr_to(nbdir / "kernels.log"):
                    papermill.execute_notebook(str(path), str(path), parameters=params, cwd=str(nbdir),
                                               kernel_name="python3", progress_bar=False, log_output=False)
            except Exception as e:      # papermill's execution error, a dead kernel, ...
                raise _failure(page, path, e) from None
            seconds[page] = time.perf_counter() - start
            done = nbformat.read(str(path), as_version=4)
            for c in done.cells:        # the parameters papermill injected: shown folded, as the book's
                tags = c.metadata.get("tags", [])
                if "injected-parameters" in tags and "hide-input" not in tags:
                    c.metadata["tags"] = [*tags, "hide-input"]
            nbformat.write(done, str(path))
            log(f"[{i}/{len(pages)}] {page} done in {seconds[page]:.0f} s")
    return seconds


def index_rows(out: Path) -> list[dict[str, Any]]:
    """One row per claim registered for the report's pages: its verdict on the report's model as the
    page's verdict box gives it (``verdicts.rollup_claim``: the claim's primary row), page, claim,
    measured value, paper's value, rule; claims the pages do not decide on the model get verdict None."""
    from trajreg import paper, report, verdicts

    rows = []
    for page in PAGES:
        path = out / "notebooks" / f"{page}.ipynb"
        got = report.read_verdicts(path) if path.is_file() else []
        for c in paper.claims_for(page):
            mine = [r for r in got if r["claim"] == c.id]
            res = verdicts.rollup_claim(c, mine, {c.id: mine})
            d = res.deciding
            rows.append({"page": page, "claim": c.id, "name": c.name or c.statement,
                         "verdict": res.verdict if mine else None, "mixed": res.mixed,
                         "model": d["model"] if d else "", "budget": d["budget"] if d else "",
                         "ours": d["ours"] if d else "-", "n": d["n"] if d else None,
                         "rows": len(mine), "paper": c.paper_text(), "paper_model": c.paper_model,
                         "rule": c.rule.describe(), "reason": res.reason if mine else ""})
    return rows


def _cell(text: Any) -> str:
    return html.escape(str(text), quote=False).replace("|", "&#124;").replace("\n", " ")


def _title(path: Path, page: str) -> str:
    from trajreg import report

    return report.page_title(path) if path.is_file() else page


def _claims_html(rows: list[dict], label: str, titles: dict[str, str]) -> str:
    """The verdicts as one HTML table (class trajreg-claims: the main book's style), one row a claim."""
    from trajreg.status import COLOURS

    e = html.escape
    head = (f"verdict on {label}", "claim", f"measured on {label}", "paper", "page")
    out = ['<table class="trajreg-claims"><thead><tr>' + "".join(f"<th>{e(h)}</th>" for h in head)
           + "</tr></thead><tbody>"]
    for r in rows:
        ours = ", ".join(x for x in (r["ours"], "" if r["n"] is None else f"n = {r['n']}", r["budget"]) if x)
        more = f" ({r['rows'] - 1} more rows on the page)" if r["rows"] > 1 else ""
        why = f"<br><small>{e(r['reason'])}</small>" if r["reason"] else ""
        cells = (f'<span style="color:{COLOURS.get(r["verdict"], "#57606a")}">{e(r["verdict"])}</span>'
                 + (" (mixed)" if r["mixed"] else "") + why,
                 f"{e(r['name'])}<br><small><code>{r['claim']}</code>; test: {e(r['rule'])}</small>",
                 f"{e(ours)}{e(more)}<br><small>{e(r['model'] or label)}</small>",
                 f"{e(r['paper'])}<br><small>{e(r['paper_model'])}</small>",
                 f'<a href="notebooks/{r["page"]}.html">{e(titles[r["page"]].split(":")[0])}</a>')
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "".join(out) + "</tbody></table>"


def index_md(out: Path, rows: list[dict], *, label: str, model: str, about: dict[str, str],
             seconds: dict[str, float]) -> str:
    """The report's landing page: what ran on which model, then one verdict per claim."""
    titles = {p: _title(out / "notebooks" / f"{p}.ipynb", p) for p in PAGES}
    decided = [r for r in rows if r["verdict"]]
    kind = ("**companion findings about this model, not reproductions of the paper**" if _companion(model)
            else "decided as in the main book")
    lines = [f"# Regularity report: {label}", "",
             f"The analysis pages of *On the Trajectory Regularity of ODE-based Diffusion Sampling* "
             f"(Chen et al., ICML 2024) run on **{label}** (`{model}`). The verdicts below are {kind}: each "
             f"applies a claim of the paper, with the decision rule fixed in trajreg's claim registry, to "
             f"what was measured on {label}. *reproduces* (or *holds*) reads: on {label}, the paper's claim "
             f"holds within the rule's tolerance; *does not reproduce*: it does not; *inconclusive*: the "
             f"interval straddles the rule's boundary; *illustration*: shown, not tested.", "",
             "| | |", "|---|---|"]
    lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in about.items()]
    lines += ["", f"## Verdicts on {label}", "", _claims_html(decided, label, titles)]
    skipped = [r for r in rows if not r["verdict"]]
    if skipped:
        lines += ["", f"Claims of these pages not decided on {label} (their rule is tied to the paper's "
                  f"setting, e.g. the sigma range [0.002, 80] of EDM models): "
                  + "; ".join(f"`{r['claim']}` ({_cell(r['name'])})" for r in skipped) + "."]
    lines += ["", "## Pages", ""]
    for page in PAGES:
        n = sum(r["page"] == page and bool(r["verdict"]) for r in rows)
        t = seconds.get(page)
        lines.append(f"- [{titles[page]}](notebooks/{page}.ipynb): {n} claim{'' if n == 1 else 's'} decided"
                     + (f", executed in {t:.0f} s" if t is not None else ""))
    lines += ["", "## References", "", "```{bibliography}", "```", ""]
    return "\n".join(lines)


def _config(label: str) -> str:
    """_config.yml: the main book's look (its CSS and scripts) and offline MathJax (book/_ext)."""
    title = json.dumps(f"Regularity report: {label}")        # a JSON string is a YAML string
    return "\n".join([
        "# Written by trajreg report (trajreg.model_report): a Jupyter Book 1.x of the executed pages.",
        f"title: {title}", "author: trajreg report", "only_build_toc_files: true",
        "exclude_patterns: [_build, checked, \"**.ipynb_checkpoints\"]",
        "execute:", "  execute_notebooks: \"off\"",
        "parse:", "  myst_enable_extensions: [dollarmath, amsmath]",
        "bibtex_bibfiles: [references.bib]",
        "sphinx:",
        "  local_extensions:", f"    site_assets: {json.dumps(str(ROOT / 'book' / '_ext'))}",
        "  recursive_update: true",
        "  config:",
        "    bibtex_reference_style: author_year",
        "    mathjax_path: mathjax/tex-mml-chtml.js",
        f"    html_static_path: [{json.dumps(str(ROOT / 'book' / '_static'))}]",
        "    html_css_files: [trajreg.css]",
        "    html_js_files: [zoom.js, verdicts.js, tables.js]",
        "    nb_output_stderr: remove",
        "html:", "  home_page_in_navbar: true", ""])


def _toc() -> str:
    return "\n".join(["format: jb-book", "root: index", "chapters:"]
                     + [f"  - file: notebooks/{p}" for p in PAGES] + [""])


def build(out: Path, log: Callable[[str], None]) -> float:
    """``jupyter-book build out`` (the site in out/_build/html); seconds."""
    log("building the site (jupyter-book) ...")
    start = time.perf_counter()
    cmd = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
           "build", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not (out / "_build" / "html" / "index.html").is_file():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise ReportError("jupyter-book build failed:\n" + "\n".join(tail))
    (out / "index.html").write_text('<!DOCTYPE html><meta charset="utf-8"><title>report</title>'
                                    '<meta http-equiv="refresh" content="0; url=_build/html/index.html">'
                                    '<a href="_build/html/index.html">the report</a>\n')
    return time.perf_counter() - start


def check_out(out: Path) -> None:
    """A folder the report may write: new, empty, or an earlier report (ValueError otherwise)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ValueError(f"--out {str(out)!r} is not empty and holds no earlier report; choose a new folder")
    parent = out if out.is_dir() else next((p for p in out.parents if p.exists()), Path("."))
    if not os.access(parent, os.W_OK):
        raise ValueError(f"--out {str(out)!r}: cannot write in {str(parent)!r}")


def run(model: str, out: str | Path, *, prompts: str = "", device: str = "cpu", small: bool = False,
        n_prompts: int = 1, label: str = "", about: dict[str, str] | None = None, site: bool = True,
        log: Callable[[str], None] = print) -> Path:
    """Execute the report's pages on ``model`` into ``out`` and build its site; the site's index
    (``out/_build/html/index.html``, or ``out/index.md`` with ``site=False``). Arguments are checked
    by the caller (``trajreg.cli``); a failing notebook or build raises :class:`ReportError`."""
    from trajreg import plotting

    out = Path(out).resolve()
    check_out(out)
    label = label or plotting.MODEL_LABELS.get(model, model)
    for stale in ("notebooks", "checked", "_build"):
        shutil.rmtree(out / stale, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(model + "\n")
    pages = {}
    for page in PAGES:
        params = parameters(page, model, prompts=prompts, device=device, small=small, n_prompts=n_prompts)
        pages[page] = (prepare(page, label, model, params), params)
    seconds = execute(out, pages, log)
    rows = index_rows(out)
    shutil.copy(ROOT / "book" / "references.bib", out / "references.bib")
    (out / "_config.yml").write_text(_config(label))
    (out / "_toc.yml").write_text(_toc())
    info = {"model": model, **(about or {}), "sizes": "small (--small)" if small else "the book's defaults",
            "device": device, "made": datetime.datetime.now().isoformat(timespec="seconds")}
    (out / "index.md").write_text(index_md(out, rows, label=label, model=model, about=info, seconds=seconds))
    (out / "verdicts.json").write_text(json.dumps({"model": model, "label": label, "about": info,
                                                   "seconds": seconds, "claims": rows}, indent=1) + "\n")
    if not site:
        return out / "index.md"
    build(out, log)
    return out / "_build" / "html" / "index.html"


def compare_with_book(report_dir: str | Path, book_checked: str | Path | None = None) -> list[str]:
    """Every difference between a report's recorded ledger (``report_dir/checked/<page>.json``) and the
    main book's (``notebooks/checked/<page>.json``) beyond the ledger's tolerances, as lines ([]: the
    report reproduces the book). Book entries that need the KDE comparison (``BOOK_ONLY``) may be
    absent from the report; every other entry must be present on both sides."""
    from trajreg import report

    book_dir = Path(book_checked) if book_checked is not None else ROOT / "notebooks" / "checked"
    problems = []
    for page in PAGES:
        mine_path, book_path = Path(report_dir) / "checked" / f"{page}.json", book_dir / f"{page}.json"
        if not mine_path.is_file():
            problems.append(f"{page}: the report recorded no ledger ({mine_path})")
            continue
        mine, book = json.loads(mine_path.read_text()), json.loads(book_path.read_text())
        kept = {kind: {k: v for k, v in book.get(kind, {}).items()
                       if not BOOK_ONLY.search(k) or k in mine.get(kind, {})}
                for kind in ("numbers", "verdicts")}
        problems += [f"{page}: {p}" for p in report.compare(kept, mine)]
    return problems
