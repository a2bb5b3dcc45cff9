"""Every notebook in notebooks/ is committed executed, at default parameters, in the house layout.

The book shows the committed outputs (it does not execute), so a notebook saved unexecuted,
half-run, run with injected parameters or stopped by an error would publish stale or missing
figures. nbval (``make test``) then re-executes the notebooks and compares the checked cells.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from trajreg import paper

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CHECK = "# NBVAL_CHECK_OUTPUT"
CHECK_TAG = "nbval-check-output"


def tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def code_cells(nb) -> list:
    """Code cells with source (Jupyter does not execute empty cells)."""
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


def execution_problems(nb) -> list[str]:
    """Why ``nb`` is not one clean top-to-bottom run at default parameters ([] if it is)."""
    problems = []
    counts = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        if cell.get("execution_count") is None:
            problems.append(f"cell {i} was not executed")
        else:
            counts.append(cell.execution_count)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                problems.append(f"cell {i} raised {out.get('ename')}: {out.get('evalue')}")
        if "injected-parameters" in tags(cell):
            problems.append(f"cell {i} holds parameters injected by papermill (not the defaults)")
    if counts != sorted(set(counts)):
        problems.append(f"cells ran out of order or more than once: execution counts {counts}")
    if nb.metadata.get("papermill", {}).get("exception"):
        problems.append("papermill recorded an exception")
    return problems


def parameter_problems(source: str) -> list[str]:
    """The parameters cell holds only ``name = literal`` lines, including device="cpu", seed=0."""
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        return [f"the parameters cell does not parse: {e}"]
    problems, values = [], {}
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        simple = isinstance(node, ast.Assign) and len(node.targets) == 1
        simple = simple or (isinstance(node, ast.AnnAssign) and node.value is not None)
        if not (simple and isinstance(target, ast.Name)):
            problems.append(f"line {node.lineno} of the parameters cell is not `name = literal`")
            continue
        try:
            values[target.id] = ast.literal_eval(node.value)
        except ValueError:
            problems.append(f"parameter {target.id!r} is not a plain literal")
    for name, default in (("device", "cpu"), ("seed", 0)):
        if name not in values or values[name] != default:
            problems.append(f"the parameters cell must set {name} = {default!r}")
    return problems


FLOAT = re.compile(r"\d\.\d")


def convention_problems(nb, page: str = "fig00_test") -> list[str]:
    """Deviations from the page layout ([] if none): a '# ' title cell that shows the verdict box
    (pages with registered claims), one parameters cell, nbval markers as tags (never visible in
    the code), and a last code cell tagged nbval-check-output that calls report.checked(page)
    and prints no float digits (so another CPU cannot change it: numbers are checked with
    tolerances by report.checked instead)."""
    problems = []
    cells = nb.cells
    first = cells[0] if cells else None
    if first is None or first.cell_type != "markdown" or not first.source.startswith("# "):
        problems.append("the first cell is not markdown starting with a '# ' title")
    elif paper.claims_for(page) and f"{page}_box" not in first.source:
        problems.append(f"the first cell does not show the verdict box ({{glue:}} {page}_box)")
    params = [c for c in cells if c.cell_type == "code" and "parameters" in tags(c)]
    if len(params) == 1:
        problems += parameter_problems(params[0].source)
    else:
        problems.append(f"expected one code cell tagged 'parameters', found {len(params)}")
    problems += [f"a code cell shows the marker {CHECK.split()[-1][:6]}..." for c in code_cells(nb)
                 if "NBVAL_" in c.source]
    checked = [c for c in code_cells(nb) if CHECK_TAG in tags(c)]
    problems += [f"a {CHECK_TAG} cell has no output" for c in checked if not c.get("outputs")]
    for c in checked:
        text = "".join(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
                       for o in c.get("outputs", []))
        if FLOAT.search(text):
            problems.append(f"a {CHECK_TAG} cell prints float digits: {FLOAT.search(text).group()!r}")
    last = code_cells(nb)[-1] if code_cells(nb) else None
    named = f'report.checked("{page}")' in (last.source if last else "") or (
        last is not None and "report.checked(PAGE)" in last.source
        and any(f'PAGE = "{page}"' in c.source for c in code_cells(nb)))
    if last is None or CHECK_TAG not in tags(last) or not named:
        problems.append(f'the last code cell is not report.checked("{page}") tagged {CHECK_TAG}')
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_follows_conventions(path):
    problems = convention_problems(nbformat.read(path, as_version=4), path.stem)
    assert not problems, "\n".join(problems)


def _notebook(*, executed: bool):
    """A minimal notebook in the house layout, executed or not."""
    cells = [
        new_markdown_cell("# Figure 0: a test"),
        new_code_cell('device = "cpu"\nseed = 0\nn: int = 3', metadata={"tags": ["parameters"]}),
        new_code_cell('print(n)\nreport.checked("fig00_test")', metadata={"tags": [CHECK_TAG]}),
        new_markdown_cell("## What we found\nThree."),
    ]
    if executed:
        for count, cell in enumerate(cells[1:3], start=1):
            cell.execution_count = count
        cells[2].outputs = [new_output("stream", name="stdout", text="3\n")]
    return new_notebook(cells=cells)


def test_checks_pass_on_a_good_notebook():
    nb = _notebook(executed=True)
    assert execution_problems(nb) == []
    assert convention_problems(nb) == []


def test_checks_flag_an_unexecuted_notebook():
    problems = execution_problems(_notebook(executed=False))
    assert problems == ["cell 1 was not executed", "cell 2 was not executed"]


def test_checks_flag_errors_reruns_and_injected_parameters():
    nb = _notebook(executed=True)
    nb.cells[1].execution_count = 5
    nb.cells[2].outputs.append(new_output("error", ename="ValueError", evalue="boom", traceback=[]))
    nb.cells.insert(2, new_code_cell("seed = 1", metadata={"tags": ["injected-parameters"]},
                                     execution_count=2))
    problems = execution_problems(nb)
    assert any("ValueError: boom" in p for p in problems)
    assert any("out of order" in p for p in problems)
    assert any("injected by papermill" in p for p in problems)


def test_checks_flag_layout_mistakes():
    nb = _notebook(executed=True)
    nb.cells[0].source = "Figure without a title"
    nb.cells[1].source = 'device = "cuda"\nseed = 0\nn = int("3")'
    nb.cells[2].source = f"{CHECK}\nprint(n)"
    nb.cells[2].outputs = [new_output("stream", name="stdout", text="0.923\n")]
    problems = convention_problems(nb)
    assert len(problems) == 6, problems
    assert "the parameters cell must set device = 'cpu'" in problems
    assert "parameter 'n' is not a plain literal" in problems
    assert any("float digits" in p for p in problems)
    assert any("marker" in p for p in problems)
    nb.cells[1].metadata["tags"] = []
    assert "expected one code cell tagged 'parameters', found 0" in convention_problems(nb)


def test_result_pages_must_show_their_verdict_box():
    nb = _notebook(executed=True)
    nb.cells[2].source = 'report.checked("tab01_fid_nfe")'
    assert any("verdict box" in p for p in convention_problems(nb, "tab01_fid_nfe"))
    nb.cells[0].source += "\n\n```{glue:} tab01_fid_nfe_box\n```"
    assert convention_problems(nb, "tab01_fid_nfe") == []


def _stamp_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("stamp_notebooks", ROOT / "scripts" / "stamp_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def stale_problem(nb, rel: str) -> str | None:
    """A message if the notebook's code changed after its outputs were made (None if not)."""
    stamp = _stamp_module()
    recorded = nb.metadata.get(stamp.KEY, {}).get("code_sha256")
    if recorded == stamp.code_sha256(nb):
        return None
    why = "has no record of the code its outputs came from" if recorded is None else \
        "had its code edited after its outputs were made"
    return (f"{rel} {why}: its committed outputs are stale. Regenerate them with "
            f"`.venv/bin/python scripts/run_notebooks.py execute {rel}` (or `make execute`) and commit.")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_outputs_match_its_code(path):
    problem = stale_problem(nbformat.read(path, as_version=4), f"notebooks/{path.name}")
    assert problem is None, problem


def test_stale_check_flags_edited_code_but_not_prose():
    stamp = _stamp_module()
    nb = _notebook(executed=True)
    nb.metadata[stamp.KEY] = {"code_sha256": stamp.code_sha256(nb)}
    assert stale_problem(nb, "x.ipynb") is None
    nb.cells[-1].source += "\nMore prose."
    assert stale_problem(nb, "x.ipynb") is None
    nb.cells[2].source = f"{CHECK}\nprint(n + 1)"
    assert "edited after its outputs were made" in stale_problem(nb, "x.ipynb")
    del nb.metadata[stamp.KEY]
    assert "has no record" in stale_problem(nb, "x.ipynb")
