"""The benchmark scripts still run (tiny sizes, CPU): they print ratios, so only their output
format is checked, never their speed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_sampling_throughput_reports_overhead(tmp_path):
    out = tmp_path / "bench.jsonl"
    _script("sampling_throughput").main(["--n", "4", "--batch", "2", "--steps", "3", "--solver", "euler",
                                         "--device", "cpu", "--json", str(out)])
    row = json.loads(out.read_text())
    assert row["nfe"] == 2 and row["n"] == 4 and row["images_per_s"] > 0
    assert row["overhead"] > 0 and row["denoiser_call_s"] > 0, row   # a ratio, not a timed bound


def test_sampling_throughput_rejects_bad_sizes():
    with pytest.raises(SystemExit):
        _script("sampling_throughput").main(["--n", "0", "--device", "cpu"])


@pytest.mark.slow
def test_gits_large_sample_compares_both_schedules(tmp_path):
    # with an empty cache this first computes the FID reference statistics (~40 s on one thread),
    # which the notebooks then reuse
    out = tmp_path / "gits.jsonl"
    _script("gits_large_sample").main(["--n", "4", "--nfe", "3", "--warmup", "2", "--batch", "4",
                                       "--device", "cpu", "--json", str(out)])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["solver"], r["schedule"], r["nfe"]) for r in rows] == [
        ("heun", "polynomial", 34), ("ipndm", "polynomial", 3), ("ipndm", "gits", 3)]
    assert all(r["ode_error"] >= 0 and r["sigmas"][0] == 80.0 for r in rows)
    assert rows[2]["sigmas"] != rows[1]["sigmas"]
