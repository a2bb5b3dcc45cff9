"""Features of fixed image sets on disk, one chunk of rows per file, so that a long extraction
(Inception features of 10,000 samples on a CPU) can stop and resume.

A set is named by a hash of everything its images depend on (its ``definition``: for samples the
model's sha256, solver, sigmas and seeds) and of the feature extractor; each chunk is a float32
``.npy`` with a ``.json`` of its provenance beside it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from trajreg import files

__all__ = ["FeatureStore", "chunks"]


def chunks(n: int, size: int) -> list[tuple[int, int]]:
    """(start, stop) of consecutive chunks of at most ``size`` rows covering 0..n-1."""
    return [(s, min(s + size, n)) for s in range(0, n, size)]


class FeatureStore:
    """Features of fixed image sets, one .npy (float32) per chunk of rows, each with a .json of its
    provenance; a set is named by a hash of everything its images depend on."""

    def __init__(self, folder: Path, extractor_id: str):
        self.folder, self.extractor_id = Path(folder), extractor_id

    def path(self, definition: dict, start: int, stop: int) -> Path:
        """The .npy of rows start..stop-1 of the set ``definition``."""
        blob = json.dumps({**definition, "extractor": self.extractor_id}, sort_keys=True)
        name = f"{definition['kind']}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"
        return self.folder / f"{name}-{start:05d}-{stop:05d}.npy"

    def has(self, definition: dict, start: int, stop: int) -> bool:
        return self.path(definition, start, stop).is_file()

    def put(self, definition: dict, start: int, stop: int, feat: np.ndarray, meta: dict) -> None:
        """Store a chunk's features (as float32) and its provenance ``meta``, atomically."""
        path = self.path(definition, start, stop)
        with files.atomic(path.with_suffix(".json")) as tmp:
            tmp.write_text(json.dumps({**meta, "definition": definition}))
        with files.atomic(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, feat.astype(np.float32))

    def get(self, definition: dict, chunks: list[tuple[int, int]]) -> tuple[np.ndarray, list[dict]]:
        """The features (float64) of the given chunks, concatenated, and their provenance."""
        paths = [self.path(definition, s, e) for s, e in chunks]
        return (np.concatenate([np.load(p) for p in paths]).astype(np.float64),
                [json.loads(p.with_suffix(".json").read_text()) for p in paths])

    def fill(self, todo: list[tuple[dict, int, int]], images: Callable[[dict, int, int], Any],
             features: Callable[[Any], np.ndarray], meta: dict, *, deadline: float | None = None,
             log: Callable[[str], None] = print) -> int:
        """Compute and store the missing chunks of ``todo`` ((definition, start, stop), in order):
        ``features(images(definition, start, stop))``, each with ``meta`` plus its seconds and date.
        Stops before a chunk that would pass ``deadline`` (a time.time() value, judged by the last
        chunk of the same kind); returns the number of chunks still missing."""
        missing = [t for t in todo if not self.has(*t)]
        log(f"{len(missing)} of {len(todo)} chunks to compute")
        last: dict[str, float] = {}
        for i, (d, s, e) in enumerate(missing):
            if deadline is not None and time.time() + 1.1 * last.get(d["kind"], 0.0) > deadline:
                log(f"deadline: stopping before {d['kind']} {s}-{e}")
                return len(missing) - i
            t0 = time.perf_counter()
            feat = features(images(d, s, e))
            last[d["kind"]] = time.perf_counter() - t0
            now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            self.put(d, s, e, feat, {**meta, "seconds": round(last[d["kind"]], 1), "date": now})
            log(f"{d['kind']} {s}-{e}: {last[d['kind']]:.0f} s")
        return 0
