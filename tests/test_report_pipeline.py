"""``trajreg report``: the paper's analysis pages on one model, built into a small site.

Argument errors (one line, exit status 2, nothing run); the end-to-end report of a tiny random
diffusers pipeline (tests/_tiny.py) at the --small sizes; pipeline models' cache keys; and, slow
and long, the check that the report on the embedded model reproduces the main book's numbers.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

import _tiny  # noqa: E402

from trajreg import cli, model_report, paper, runs  # noqa: E402


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("report-pipelines")
    return {"pixel": _tiny.pixel(root / "pixel"), "pixel-b": _tiny.pixel(root / "pixel-b", seed=1),
            "latent": _tiny.latent(root / "latent"), "prompts": _tiny.prompts_file(root)}


@pytest.fixture
def nothing_runs(monkeypatch):
    """Fail the test if any notebook would be executed."""
    def boom(*a, **k):
        raise AssertionError("a notebook was executed despite a user error")

    monkeypatch.setattr(model_report, "execute", boom)


def _error(capsys, argv) -> str:
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line]
    return lines[-1]


@pytest.mark.parametrize("argv, message", [
    ([], "give the model: --pipeline PATH"),
    (["--pipeline", "{pixel}", "--model", "fmnist-edm"], "not both"),
    (["--model", "no-such-model"], "'no-such-model' is not registered"),
    (["--pipeline", "{missing}"], "is not a diffusers pipeline folder (no model_index.json)"),
    (["--model", "fmnist-edm", "--prompts", "{prompts}"], "--prompts goes with a text-conditioned"),
    (["--pipeline", "{latent}", "--prompts", "{missing}"], "does not exist"),
    (["--pipeline", "{pixel}", "--prompts", "{prompts}"], "is unconditional: it takes no prompts"),
    (["--pipeline", "{latent}"], "is text-conditioned (vp-latent): pass prompts"),
    (["--model", "fmnist-edm", "--device", "tpu:0"], "is not a device; use cpu or cuda"),
    (["--model", "fmnist-edm", "--out", "{file}"], "is a file, not a folder"),
    (["--model", "fmnist-edm", "--out", "{full}"], "is not empty and holds no earlier report"),
    (["--model", "fmnist-edm", "--small", "--steps", "3"], "unrecognized arguments: --steps 3"),
])
def test_argument_errors_are_one_line_before_any_notebook_runs(capsys, tmp_path, folders, nothing_runs,
                                                               argv, message):
    (tmp_path / "file").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep me")
    paths = {"pixel": folders["pixel"], "latent": folders["latent"], "prompts": folders["prompts"],
             "missing": tmp_path / "missing", "file": tmp_path / "file", "full": tmp_path / "full"}
    argv = [a.format(**paths) for a in argv]
    out = [] if "--out" in argv else ["--out", str(tmp_path / "report")]
    line = _error(capsys, ["report", *argv, *out])
    assert message in line and line.startswith("trajreg") and "error:" in line
    assert (tmp_path / "full" / "mine.txt").read_text() == "keep me"
    assert not (tmp_path / "report").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here")
def test_cuda_without_a_gpu_is_a_user_error(capsys, tmp_path, folders, nothing_runs):
    line = _error(capsys, ["report", "--pipeline", str(folders["pixel"]), "--device", "cuda",
                           "--out", str(tmp_path / "r")])
    assert "no CUDA device is available here; use --device cpu" in line


def test_missing_book_tools_are_named(capsys, tmp_path, monkeypatch, nothing_runs):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jupyter_book"
                        else real(name, *a))
    line = _error(capsys, ["report", "--model", "fmnist-edm", "--out", str(tmp_path / "r")])
    assert "needs jupyter_book: pip install 'trajreg[book]'" in line


def test_a_failing_page_is_one_line_and_exit_status_1(capsys, tmp_path, monkeypatch, folders):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    def fail(*a, **k):
        raise PapermillExecutionError(cell_index=3, exec_count=4, source="", ename="ValueError",
                                      evalue="boom", traceback=[])

    monkeypatch.setattr(papermill, "execute_notebook", fail)
    with pytest.raises(SystemExit) as e:
        cli.main(["report", "--pipeline", str(folders["pixel"]), "--small", "--out", str(tmp_path / "r")])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("trajreg report: error: fig02_one_dim_projection failed "
                                                   "in cell [4]: ValueError: boom (the partly executed")


def test_pipeline_cache_key_follows_the_weights_not_the_path(tmp_path, folders):
    a, b = runs.pipeline_key(folders["pixel"]), runs.pipeline_key(folders["pixel-b"])
    assert a.startswith("pipeline@") and a != b                       # other weights: another key
    copy = shutil.copytree(folders["pixel"], tmp_path / "elsewhere")
    assert runs.pipeline_key(copy) == a                               # same files anywhere: same key
    weights = next(copy.rglob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    assert runs.pipeline_key(copy) != a
    p = runs.pipeline_key(folders["latent"], ["a cat"])
    assert p != runs.pipeline_key(folders["latent"], ["a dog"])       # prompts and guidance count
    assert p != runs.pipeline_key(folders["latent"], ["a cat"], guidance_scale=2.0)


def test_pipeline_models_load_and_cache_apart(tmp_path, monkeypatch, folders):
    monkeypatch.setenv("TRAJREG_CACHE", str(tmp_path))
    m = {k: runs.load_model(runs.PIPELINE + str(folders[k])) for k in ("pixel", "pixel-b")}
    assert m["pixel"].key == runs.pipeline_key(folders["pixel"]) != m["pixel-b"].key
    assert m["pixel"].shape == (3, 8, 8) and m["pixel"].sigma_min < 0.02 and m["pixel"].sigma_max > 100
    sigmas = m["pixel"].polynomial(4)
    t = {k: runs.cached_trajectories(v, range(2), "euler", sigmas) for k, v in m.items()}
    assert not torch.equal(t["pixel"].x[-1], t["pixel-b"].x[-1])
    assert len(list((tmp_path / "results").glob("trajectories-*.pt"))) == 2
    latent = runs.load_model(runs.PIPELINE + str(folders["latent"]), prompts=str(folders["prompts"]))
    assert latent.key == runs.pipeline_key(folders["latent"], _tiny.PROMPTS)
    with pytest.raises(ValueError, match="not to the registered model 'fmnist-edm'"):
        runs.load_model("fmnist-edm", prompts=str(folders["prompts"]))
    with pytest.raises(ValueError, match="names no folder"):
        runs.load_model(runs.PIPELINE)


def test_parameters_replace_the_model_and_round_sizes_to_the_prompts():
    p = model_report.parameters("fig02_one_dim_projection", "pipeline:/x", small=True)
    assert p["model_names"] == ["pipeline:/x"] and p["n_traj"] == model_report.SMALL[
        "fig02_one_dim_projection"]["n_traj"]
    g = model_report.parameters("gits_method", "fmnist-edm", prompts="/p.txt", n_prompts=3)
    assert g["model"] == "fmnist-edm" and g["kde_model"] == "" and g["prompts"] == "/p.txt"
    assert (g["n_warmup"], g["n_premise"], g["n_diag"], g["batch_size"]) == (258, 66, 9, 66)
    assert model_report.parameters("fig_curvature_torsion", "fmnist-edm") == {
        "device": "cpu", "model_names": ["fmnist-edm"]}               # the book's sizes otherwise
    for page in model_report.PAGES:                                   # every size named is a parameter
        assert set(model_report.SMALL[page]) <= set(model_report.book_defaults(page))
        assert set(model_report.BATCHED[page]) <= set(model_report.book_defaults(page))


def test_compare_with_book_tolerates_only_the_kde_rows(tmp_path):
    book, mine = tmp_path / "book", tmp_path / "report" / "checked"
    book.mkdir()
    mine.mkdir(parents=True)
    for page in model_report.PAGES:
        entry = {"value": 1.0, "rtol": 1e-3, "atol": 0.0}
        numbers = {"a": entry, "fig02_kde_fmnist_ratio": entry, "fig02_fmnist_edm_gap_max": entry}
        (book / f"{page}.json").write_text(json.dumps({"numbers": numbers, "verdicts": {}}))
        (mine / f"{page}.json").write_text(json.dumps({"numbers": {"a": {**entry, "value": 1.0005}},
                                                       "verdicts": {}}))
    assert model_report.compare_with_book(tmp_path / "report", book) == []
    (mine / "gits_method.json").write_text(json.dumps({"numbers": {"a": {"value": 1.01, "rtol": 1e-3,
                                                                         "atol": 0.0}}, "verdicts": {}}))
    problems = model_report.compare_with_book(tmp_path / "report", book)
    assert len(problems) == 1 and problems[0].startswith("gits_method: number 'a' value")


@pytest.mark.slow
def test_report_on_a_tiny_pipeline_end_to_end(capsys, tmp_path, monkeypatch, folders):
    monkeypatch.setenv("TRAJREG_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "report"
    start = time.perf_counter()
    cli.main(["report", "--pipeline", str(folders["pixel"]), "--small", "--out", str(out), "--device", "cpu"])
    seconds = time.perf_counter() - start
    std = capsys.readouterr()
    index = out / "_build" / "html" / "index.html"
    assert std.out.strip() == str(index) and index.is_file() and (out / "index.html").is_file()
    for i, page in enumerate(model_report.PAGES, 1):
        assert f"[{i}/5] {page} done in" in std.err
    assert "Traceback" not in std.err and "WARNING" not in std.err
    site = index.read_text()
    assert "companion findings about this model, not reproductions of the paper" in site
    assert "your learned model (pixel)" in site
    rows = json.loads((out / "verdicts.json").read_text())["claims"]
    for page in model_report.PAGES:
        assert f'href="notebooks/{page}.html"' in site
        assert (out / "_build" / "html" / "notebooks" / f"{page}.html").is_file()
        assert json.loads((out / "checked" / f"{page}.json").read_text())["numbers"]
        for c in paper.claims_for(page):
            row = next(r for r in rows if r["claim"] == c.id)
            if c.id == "gits.first_stop_k6":     # its threshold is the EDM range's polynomial stop
                assert row["verdict"] is None and c.id in site
                continue
            assert row["verdict"] in paper.VERDICTS and "your learned model (pixel)" in row["model"]
            assert c.id in site and f">{row['verdict']}</span>" in site
    gits = (out / "_build/html/notebooks/gits_method.html").read_text()
    assert "Report on your learned model (pixel)" in gits and "What we found" not in gits
    print(f"end-to-end report on the tiny pipeline: {seconds:.0f} s")
    # a second run into the same folder replaces the first
    assert (out / model_report.MARKER).is_file()
    model_report.check_out(out)


@pytest.mark.slow
def test_report_on_the_embedded_model_reproduces_the_book(tmp_path):
    """The report on fmnist-edm at the book's sizes records the committed ledger's numbers and verdicts
    (notebooks/checked) within their tolerances; TRAJREG_REPORT_DIR reuses a report made before with
    ``trajreg report --model fmnist-edm --out DIR``. Long (the five pages at the book's sizes), so it runs
    only with TRAJREG_LONG_TESTS=1 or TRAJREG_REPORT_DIR set."""
    given = os.environ.get("TRAJREG_REPORT_DIR")
    if not given and not os.environ.get("TRAJREG_LONG_TESTS"):
        pytest.skip("about 7 CPU-minutes: set TRAJREG_LONG_TESTS=1 (or TRAJREG_REPORT_DIR to a report "
                    "made by `trajreg report --model fmnist-edm --out DIR`); CI's nbval checks cover "
                    "these pages")
    out = Path(given) if given else tmp_path / "embedded"
    if not given:
        cli.main(["report", "--model", "fmnist-edm", "--out", str(out), "--device", "cpu"])
    problems = model_report.compare_with_book(out)
    assert not problems, "\n".join(problems)
