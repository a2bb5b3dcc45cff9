"""Disk cache of expensive results, keyed by what they depend on and by the package's own code.

A result is stored under a hash of its kind, its key (model weights, seeds, solver, sigmas, ...) and
:func:`source_hash`, the sha256 of every module of the package except the presentation-only ones
(``PRESENTATION``): any change to code a result could depend on makes a new entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch

from trajreg import data, files, models

__all__ = ["PRESENTATION", "cached", "model_key", "source_hash", "sources"]

T = TypeVar("T")
PACKAGE = Path(__file__).parent
# Modules that only present results (text, tables, figures, the command line, the report site, the claim
# registry and the statistics of reported numbers): a cached result never depends on them.
PRESENTATION = frozenset({"cli", "model_report", "paper", "plotting", "report", "results", "stats", "tables"})


def sources() -> list[Path]:
    """The package's modules a cached result may depend on: every trajreg/*.py but PRESENTATION."""
    return sorted(p for p in PACKAGE.glob("*.py") if p.stem not in PRESENTATION)


def source_hash() -> str:
    """sha256 over the names and contents of :func:`sources`: a change there invalidates the cache."""
    h = hashlib.sha256()
    for path in sources():
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def model_key(name: str) -> str:
    """A name that changes with the model's weights: ``name`` plus the sha256 on its card."""
    try:
        return f"{name}@{models.card(name)['sha256']}"
    except FileNotFoundError:
        return name


def _json(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, range):
        return [value.start, value.stop, value.step]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    return value if isinstance(value, (int, float, str, bool, type(None))) else repr(value)


def cached(kind: str, key: dict, compute: Callable[[], T], *,
           folder: str | Path | None = None) -> T:
    """Return ``compute()``, stored under ``folder`` (default $TRAJREG_CACHE/results) by a hash
    of ``kind``, ``key`` and the package sources; later calls with the same key load it.

    ``key`` must name everything the result depends on (model_key, seeds, solver, sigmas, ...).
    """
    folder = Path(folder) if folder is not None else data.cache_dir() / "results"
    blob = json.dumps({"kind": kind, "key": _json(key), "source": source_hash()}, sort_keys=True)
    path = folder / f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}.pt"
    if path.is_file():
        stored = torch.load(path, weights_only=False)
        if stored.get("key") == blob:
            return stored["value"]
    value = compute()
    with files.atomic(path) as tmp:
        torch.save({"key": blob, "value": value}, tmp)
    return value
