"""The chunked feature cache: named by definition, filled in order, resumable, deadline-aware."""

from __future__ import annotations

import time

import numpy as np

from trajreg.feature_store import FeatureStore, chunks


def _images(d, s, e):
    return np.arange(s, e, dtype=np.float64)[:, None] * d["scale"]


def test_chunks_cover_every_row_once():
    assert chunks(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert chunks(8, 4) == [(0, 4), (4, 8)]


def test_fill_computes_only_missing_chunks_and_get_concatenates(tmp_path):
    store = FeatureStore(tmp_path, "toy")
    a, b = {"kind": "sample", "scale": 1.0}, {"kind": "sample", "scale": 2.0}
    calls = []

    def feats(x):
        calls.append(len(x))
        return np.concatenate([x, x ** 2], 1)

    todo = [(d, s, e) for d in (a, b) for s, e in chunks(10, 4)]
    assert store.fill(todo, _images, feats, {"git_commit": "x"}, log=lambda m: None) == 0
    assert calls == [4, 4, 2, 4, 4, 2]
    f, meta = store.get(b, chunks(10, 4))
    np.testing.assert_allclose(f[:, 0], 2.0 * np.arange(10))
    assert all(m["git_commit"] == "x" and m["definition"] == b and "seconds" in m for m in meta)
    # a second fill finds everything; another extractor or definition is another set
    assert store.fill(todo, _images, feats, {}, log=lambda m: None) == 0 and len(calls) == 6
    assert store.path(a, 0, 4) != FeatureStore(tmp_path, "other").path(a, 0, 4)
    assert store.path(a, 0, 4) != store.path({**a, "scale": 3.0}, 0, 4)


def test_fill_stops_before_the_deadline_and_resumes(tmp_path):
    store = FeatureStore(tmp_path, "toy")
    d = {"kind": "sample", "scale": 1.0}
    todo = [(d, s, e) for s, e in chunks(12, 4)]

    def slow(x):
        time.sleep(0.05)
        return x

    left = store.fill(todo, _images, slow, {}, deadline=time.time() - 1, log=lambda m: None)
    assert left == 3 and not any(store.has(*t) for t in todo)
    assert store.fill(todo[:1], _images, slow, {}, log=lambda m: None) == 0
    assert store.fill(todo, _images, slow, {}, log=lambda m: None) == 0
    assert all(store.has(*t) for t in todo)
