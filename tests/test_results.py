"""Stored results (results/**/*.jsonl) belong to the shipped model; the large-tier script runs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from trajreg import models

ROOT = Path(__file__).resolve().parents[1]
RESULTS = sorted((ROOT / "results").rglob("*.jsonl"))


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _model_sha(row: dict) -> str | None:
    """The sha256 a row records for its model: ``model_sha256`` or the ``name@sha256`` model key."""
    if "model_sha256" in row:
        return row["model_sha256"]
    key = row.get("model_key") or row.get("model", "")
    return key.split("@", 1)[1] if "@" in key else None


@pytest.mark.parametrize("path", RESULTS, ids=[str(p.relative_to(ROOT)) for p in RESULTS])
def test_stored_results_are_of_the_shipped_model(path):
    """Every row names the weights it came from: the shipped model's sha256, or (for a network
    that has no weights file, such as a randomly initialised one timed for its size) the reason.
    A retrained model then makes every row it invalidates fail here instead of going stale."""
    shipped = models.card("fmnist-edm")["sha256"]
    for i, row in enumerate(_rows(path)):
        sha = _model_sha(row)
        if sha is None:
            assert row.get("model_sha256_unrecorded"), (
                f"{path.name} row {i + 1}: no model sha256 recorded (add model_sha256, or say why "
                "the row has none in model_sha256_unrecorded)")
            assert not str(row.get("model", "")).startswith("fmnist-edm"), (
                f"{path.name} row {i + 1}: a row of the shipped model must record its sha256")
            continue
        assert sha == shipped, f"{path.name} row {i + 1}: model sha256 {sha} is not the shipped {shipped}"


def test_sha_check_accepts_both_record_styles():
    assert _model_sha({"model_sha256": "ab"}) == "ab"
    assert _model_sha({"model": "fmnist-edm@cd"}) == "cd"
    assert _model_sha({"model_key": "fmnist-edm@ef", "model": "fmnist-edm"}) == "ef"
    assert _model_sha({"model": "fmnist-edm"}) is None


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
        assert r["model_sha256"] == shipped and r["n"] == 16 and r["seeds"] == "0-15"
        assert r["fid"]["lo"] <= r["fid"]["value"] <= r["fid"]["hi"]
        assert sum(r["class_histogram"]) == 16 and len(r["class_histogram"]) == 10
        assert set(r["ode_error"]) == {"mean", "median", "far_share"}
        assert r["ode_error"]["mean"]["n"] == 8 and r["floor"]["n"] == 16
        assert r["precision"]["cudnn_allow_tf32"] is False and r["sigmas"][0] == 80.0
        assert len(r["sigmas"]) == 4 and r["command"].endswith(str(out))
    assert "vs_polynomial" not in rows[0]
    assert {"fid_diff", "ode_error_diff", "sign_test", "class_flip_share"} <= set(rows[1]["vs_polynomial"])
    _script("table1_large").main(args)                # a rerun replaces its rows, adds none
    assert len(_rows(out)) == 3


def test_write_row_replaces_by_the_callers_key(tmp_path):
    write_row = _script("table1_large").write_row
    out = tmp_path / "r.jsonl"
    write_row(out, {"schedule": "gits-dev", "nfe": 5, "n": 8, "v": 1})
    write_row(out, {"schedule": "polynomial", "nfe": 5, "n": 8, "v": 2})
    write_row(out, {"schedule": "gits-dev", "nfe": 5, "n": 8, "v": 3})      # same key: replaced
    assert [(r["schedule"], r["v"]) for r in _rows(out)] == [("polynomial", 2), ("gits-dev", 3)]
    key = ("solver", "K", "method", "n")
    write_row(out, {"solver": "euler", "K": 5, "method": "oss", "n": 8, "nfe": 5, "v": 4}, key=key)
    write_row(out, {"solver": "ipndm", "K": 5, "method": "oss", "n": 8, "nfe": 5, "v": 5}, key=key)
    write_row(out, {"solver": "euler", "K": 5, "method": "oss", "n": 8, "nfe": 5, "v": 6}, key=key)
    assert [r["v"] for r in _rows(out)] == [2, 3, 5, 6]
