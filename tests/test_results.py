"""Stored results (results/**/*.jsonl): one schema (``trajreg.results``), rows of the shipped model;
the writer replaces by key, the reader returns estimates; the large-tier script runs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from trajreg import models, results
from trajreg.stats import Estimate

ROOT = Path(__file__).resolve().parents[1]
RESULTS = sorted((ROOT / "results").rglob("*.jsonl"))


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("path", RESULTS, ids=[str(p.relative_to(ROOT)) for p in RESULTS])
def test_every_stored_row_has_one_provenance_record(path):
    """The schema: every row carries the fields of ``results.PROVENANCE`` with their types."""
    for i, row in enumerate(_rows(path)):
        try:
            results.validate(row)
        except ValueError as e:
            raise AssertionError(f"{path.name} row {i + 1}: {e}") from None


@pytest.mark.parametrize("path", RESULTS, ids=[str(p.relative_to(ROOT)) for p in RESULTS])
def test_no_stored_row_comes_from_a_modified_tree(path):
    """A committed result names a commit that holds the code that made it (clean tree)."""
    dirty = [i + 1 for i, row in enumerate(_rows(path)) if row["provenance"].get("dirty") is True]
    assert not dirty, f"{path.name} rows {dirty[:5]}... were made from a tree with uncommitted changes"


@pytest.mark.parametrize("path", RESULTS, ids=[str(p.relative_to(ROOT)) for p in RESULTS])
def test_stored_results_are_of_the_shipped_model(path):
    """Every row names the weights it came from: the shipped model's sha256, or (for a network
    that has no weights file, such as a randomly initialised one timed for its size) the reason.
    A retrained model then makes every row it invalidates fail here instead of going stale."""
    shipped = models.card("fmnist-edm")["sha256"]
    for i, row in enumerate(_rows(path)):
        prov = row["provenance"]
        if prov["model_sha256"] is None:
            assert prov.get("model_sha256_unrecorded"), f"{path.name} row {i + 1}: say why no sha256"
            assert not prov["model"].startswith("fmnist-edm"), (
                f"{path.name} row {i + 1}: a row of the shipped model must record its sha256")
            continue
        assert prov["model_sha256"] == shipped, f"{path.name} row {i + 1}: not the shipped model"


def test_validate_names_what_is_missing_or_wrong():
    prov = results.provenance("python x.py", "fmnist-edm", n=4, seeds="0-3")
    results.validate({"provenance": prov})
    with pytest.raises(ValueError, match="no provenance"):
        results.validate({"git_commit": "abc"})
    with pytest.raises(ValueError, match="missing \\['hardware'\\]"):
        results.validate({"provenance": {k: v for k, v in prov.items() if k != "hardware"}})
    with pytest.raises(ValueError, match="unknown \\['git_commit'\\]"):
        results.validate({"provenance": {**prov, "git_commit": "abc"}})
    with pytest.raises(ValueError, match="threads"):
        results.validate({"provenance": {**prov, "threads": "1"}})
    assert prov["model_sha256"] == models.card("fmnist-edm")["sha256"] and prov["threads"] >= 1


def test_write_row_replaces_by_the_callers_key_and_read_returns_estimates(tmp_path):
    prov = {**results.provenance("python x.py", "fmnist-edm", n=8, seeds="0-7"), "dirty": False}
    out = tmp_path / "r.jsonl"
    est = Estimate(1.0, 0.5, 1.5, 8, "mean").to_dict()
    order = lambda r: r["nfe"]  # noqa: E731
    results.write_row(out, {"provenance": prov, "schedule": "gits-dev", "nfe": 6, "v": 1, "e": est},
                      key=("schedule", "nfe", "n"), order=order)
    results.write_row(out, {"provenance": prov, "schedule": "polynomial", "nfe": 5, "v": 2},
                      key=("schedule", "nfe", "n"), order=order)
    results.write_row(out, {"provenance": prov, "schedule": "gits-dev", "nfe": 6, "v": 3, "e": est},
                      key=("schedule", "nfe", "n"), order=order)          # same key: replaced
    assert [(r["schedule"], r["v"]) for r in _rows(out)] == [("polynomial", 2), ("gits-dev", 3)]
    rows = results.read(out, schedule="gits-dev", model="fmnist-edm")
    assert len(rows) == 1 and rows[0]["e"] == Estimate(1.0, 0.5, 1.5, 8, "mean")
    assert results.read(tmp_path / "none.jsonl") == []
    with pytest.raises(ValueError, match="provenance"):
        results.write_row(out, {"schedule": "x", "nfe": 1}, key=("schedule",))


def test_reader_leaves_out_rows_from_a_dirty_tree(tmp_path):
    prov = results.provenance("python x.py", "fmnist-edm", n=8, seeds="0-7")
    out = tmp_path / "r.jsonl"
    results.write_rows(out, [{"provenance": {**prov, "dirty": False}, "v": 1},
                             {"provenance": {**prov, "dirty": True}, "v": 2},
                             {"provenance": {**prov, "dirty": None}, "v": 3}])   # not a git checkout
    with pytest.warns(UserWarning, match="1 row.*uncommitted changes"):
        rows = results.read(out)
    assert [r["v"] for r in rows] == [1, 3]


def test_reader_leaves_out_rows_made_with_other_weights(tmp_path):
    prov = {**results.provenance("python x.py", "fmnist-edm", n=8, seeds="0-7"), "dirty": False}
    kde = {**results.provenance("python x.py", "kde-fmnist", n=8, seeds="0-7"), "dirty": False}
    out = tmp_path / "r.jsonl"
    results.write_rows(out, [{"provenance": prov, "v": 1},
                             {"provenance": {**prov, "model_sha256": "0" * 64}, "v": 2},   # retrained since
                             {"provenance": {**prov, "model_sha256": None,
                                             "model_sha256_unrecorded": "lost"}, "v": 3},
                             {"provenance": kde, "v": 4}])                              # no weights to match
    with pytest.warns(UserWarning, match="not the shipped weights") as caught:
        rows = results.read(out)
    assert [r["v"] for r in rows] == [1, 4]
    said = " ".join(str(w.message) for w in caught)
    assert "sha256 000000000000" in said and "no weights sha256 recorded" in said


def test_reader_returns_every_stored_estimate_as_an_estimate():
    row = results.read(ROOT / "results/cpu/table1_large.jsonl", schedule="gits-dev", nfe=5)[0]
    assert isinstance(row["fid"], Estimate) and isinstance(row["vs_polynomial"]["fid_diff"], Estimate)
    assert isinstance(row["ode_error"]["mean"], Estimate) and row["provenance"]["n"] == 10_000


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_table1_large_smoke(tmp_path):
    out = tmp_path / "t1.jsonl"
    args = ["--n", "16", "--n-ode", "8", "--nfes", "3", "--warmup", "4", "--ref-steps", "6",
            "--n-boot", "8", "--batch", "16", "--device", "cpu", "--out", str(out)]
    _script("table1_large").main(args)
    rows = _rows(out)
    assert [(r["schedule"], r["nfe"]) for r in rows] == [
        ("polynomial", 3), ("gits-dev", 3), ("gits-l2", 3)]
    shipped = models.card("fmnist-edm")["sha256"]
    for r in rows:
        results.validate(r)
        prov = r["provenance"]
        assert prov["model_sha256"] == shipped and prov["n"] == 16 and prov["seeds"] == "0-15"
        assert r["fid"]["lo"] <= r["fid"]["value"] <= r["fid"]["hi"]
        assert sum(r["class_histogram"]) == 16 and len(r["class_histogram"]) == 10
        assert set(r["ode_error"]) == {"mean", "median", "far_share"}
        assert r["ode_error"]["mean"]["n"] == 8 and r["floor"]["n"] == 16
        assert prov["precision"]["cudnn_allow_tf32"] is False and r["sigmas"][0] == 80.0
        assert len(r["sigmas"]) == 4 and prov["command"].endswith(str(out))
    assert "vs_polynomial" not in rows[0]
    assert {"fid_diff", "ode_error_diff", "sign_test", "class_flip_share"} <= set(rows[1]["vs_polynomial"])
    _script("table1_large").main(args)                # a rerun replaces its rows, adds none
    assert len(_rows(out)) == 3
