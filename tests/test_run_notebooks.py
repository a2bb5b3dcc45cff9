"""scripts/run_notebooks.py: order from recorded times, one real execute and check of a tiny notebook."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import run_notebooks  # noqa: E402


def test_unknown_notebooks_first_then_longest_first():
    times = {"a": 10, "b": 300, "c": 50}
    got = run_notebooks.order(["x/a.ipynb", "x/new.ipynb", "x/b.ipynb", "x/c.ipynb"], times)
    assert got == ["x/new.ipynb", "x/b.ipynb", "x/c.ipynb", "x/a.ipynb"]


def test_record_merges_successful_runs(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"a": 5, "b": 7}))
    run_notebooks.record([("n/a.ipynb", True, 12.4, ""), ("n/b.ipynb", False, 1.0, "boom"),
                          ("n/c.ipynb", True, 3.0, "")], path)
    assert json.loads(path.read_text()) == {"a": 12, "b": 7, "c": 3}


def test_the_committed_times_name_existing_notebooks():
    times = run_notebooks.read_times()
    names = {p.stem for p in (run_notebooks.ROOT / "notebooks").glob("*.ipynb")}
    assert times and set(times) <= names


def test_threads_reach_the_notebook_environment_and_are_checked():
    assert run_notebooks.command("check", Path("n.ipynb"))[1]["OMP_NUM_THREADS"] == "1"
    assert run_notebooks.command("execute", Path("n.ipynb"), 2)[1]["OMP_NUM_THREADS"] == "2"
    with pytest.raises(SystemExit):
        run_notebooks.main(["check", "--threads", "0", "n.ipynb"])


@pytest.mark.slow
def test_execute_then_check_a_tiny_notebook(tmp_path, capsys):
    code = ("# NBVAL_CHECK_OUTPUT\nimport os\n"
            "print(os.environ.get('TRAJREG_RECORD'), os.environ.get('TRAJREG_CHECK'))")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    times = tmp_path / "times.json"
    assert run_notebooks.main(["execute", str(path)], times) == 0
    out = nbformat.read(path, as_version=4)
    assert out.cells[0].outputs[0]["text"] == "1 None\n"
    assert "code_sha256" in out.metadata["trajreg"] and "tiny" in json.loads(times.read_text())
    # the check re-executes with TRAJREG_CHECK=1: the printed line differs, so nbval fails
    assert run_notebooks.main(["check", "--jobs", "1", str(path)], times) == 1
    assert "FAILED" in capsys.readouterr().out
