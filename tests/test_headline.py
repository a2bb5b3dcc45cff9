"""trajreg.headline: the direction marks and the grid read from stored results."""

from __future__ import annotations

import json

import pytest

from trajreg import headline
from trajreg.stats import Estimate


def test_marks_follow_the_interval():
    assert headline.mark(Estimate(-2, -3, -1, 10)) == "lower"
    assert headline.mark(Estimate(2, 1, 3, 10)) == "higher"
    assert headline.mark(Estimate(0.1, -1, 1, 10)) == "tie"
    assert headline.cell(Estimate(-42.2, -43.1, -41.4, 10), 1) == "▼ -42.2 [-43.1, -41.4]"


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_grid_reads_every_metric_and_the_anchor(tmp_path):
    est = lambda v: {"value": v, "lo": v - 1, "hi": v + 1, "n": 10}   # noqa: E731
    _write(tmp_path / "inception_headline.jsonl",
           [{"schedule": "gits-dev", "nfe": 8, "fid_diff_vs_polynomial": est(-15.0)},
            {"schedule": "gits-l2", "nfe": 8, "fid_diff_vs_polynomial": est(5.0)}])
    _write(tmp_path / "table1_large.jsonl",
           [{"schedule": "gits-dev", "nfe": 8, "vs_polynomial": {"fid_diff": est(0.1),
                                                                 "ode_error_diff": est(2.0)}}])
    g = headline.grid(tmp_path, nfes=(8,))
    assert g.loc["NFE 8", "Inception FID (primary)"].startswith("▼")
    assert g.loc["NFE 8", "classifier FID"].startswith("≈") and g.loc["NFE 8", "ODE error"].startswith("▲")
    l2 = headline.grid(tmp_path, cost="l2", nfes=(8,))
    assert l2.loc["NFE 8", "Inception FID (primary)"].startswith("▲")
    _write(tmp_path / "fid_anchor.jsonl", [{"gate": [{"metric": "inception", "nfe": 8,
                                                      "diff_vs_converged": est(-3.0)}]}])
    assert headline.grid(tmp_path, nfes=(8,)).iloc[0, -1].startswith("▼")
    with pytest.raises(ValueError, match="cost"):
        headline.grid(tmp_path, cost="L2")
    with pytest.raises(FileNotFoundError):
        headline.grid(tmp_path / "empty")
