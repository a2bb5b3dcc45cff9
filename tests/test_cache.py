"""The result cache: keyed by kind, key and the package's code; written atomically."""

from __future__ import annotations

import torch

from trajreg import cache


def test_cached_stores_by_key_and_source(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": torch.arange(3)}

    a = cache.cached("t", {"n": 1, "seeds": range(4)}, compute, folder=tmp_path)
    b = cache.cached("t", {"n": 1, "seeds": range(4)}, compute, folder=tmp_path)
    assert len(calls) == 1 and torch.equal(a["x"], b["x"])
    cache.cached("t", {"n": 2, "seeds": range(4)}, compute, folder=tmp_path)
    cache.cached("t", {"n": 1, "seeds": range(5)}, compute, folder=tmp_path)
    assert len(calls) == 3
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".pt"] * 3     # no temporary file left
    assert len(cache.source_hash()) == 64


def test_source_hash_covers_every_module_but_the_presentation_ones():
    names = {p.stem for p in cache.sources()}
    every = {p.stem for p in cache.PACKAGE.glob("*.py")}
    assert names == every - cache.PRESENTATION
    # the modules the old hand-kept list missed, and the cache layer itself, count
    assert {"official", "files", "cache", "runs", "evaluate", "models", "fid"} <= names
    assert not names & {"report", "plotting", "cli"}


def test_source_hash_changes_with_any_counted_module(tmp_path, monkeypatch):
    for name in ("solvers.py", "official.py", "report.py"):
        (tmp_path / name).write_text("x = 1\n")
    monkeypatch.setattr(cache, "PACKAGE", tmp_path)
    before = cache.source_hash()
    (tmp_path / "report.py").write_text("x = 2\n")           # presentation only: same hash
    assert cache.source_hash() == before
    (tmp_path / "official.py").write_text("x = 2\n")
    assert cache.source_hash() != before


def test_model_key_follows_the_card():
    assert cache.model_key("no-such-model") == "no-such-model"
    key = cache.model_key("fmnist-edm")
    assert key.startswith("fmnist-edm@") and len(key.split("@")[1]) == 64
