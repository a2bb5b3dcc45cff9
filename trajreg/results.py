"""Stored results: one provenance record, one writer, one reader (results/<cpu|gpu>/*.jsonl).

A results file holds one JSON object per line. Every row carries its ``provenance`` (the record
:func:`provenance` builds; fields in ``PROVENANCE``) beside what was measured; an estimate is stored
as ``Estimate.to_dict()`` and comes back from :func:`read` as a :class:`trajreg.stats.Estimate`.

    prov = results.provenance("python benchmarks/x.py --n 10", "fmnist-edm", n=10, seeds="0-9")
    results.write_row(path, {"provenance": prov, "nfe": 5, "fid": est.to_dict()}, key=("nfe",))
    rows = results.read(path, model="fmnist-edm")      # rows[0]["fid"] is an Estimate
"""

from __future__ import annotations

import datetime
import functools
import json
import platform
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from trajreg import files, models
from trajreg.stats import Estimate

__all__ = ["OPTIONAL", "PROVENANCE", "ROOT", "command", "git_state", "hardware", "precision", "provenance",
           "read", "seed_range", "validate", "write_row", "write_rows"]

ROOT = Path(__file__).resolve().parents[1]
# field -> allowed types of the provenance record (None: unknown, for rows written before it existed)
PROVENANCE: dict[str, tuple[type, ...]] = {
    "command": (str,), "commit": (str,), "dirty": (bool, type(None)), "model": (str,),
    "model_sha256": (str, type(None)), "hardware": (str,), "threads": (int, type(None)),
    "precision": (dict, type(None)), "n": (int, dict), "seeds": (str, dict, type(None)),
    "date": (str, type(None))}
# further fields a record may carry
OPTIONAL = {"torch": (str,), "device": (str,), "model_sha256_unrecorded": (str,),
            "model_sha256_source": (str,)}
_ESTIMATE = {"value", "lo", "hi", "n"}


def git_state(root: Path = ROOT) -> tuple[str, bool | None]:
    """(HEAD commit, whether trajreg/ or benchmarks/ differ from it); ("unknown", None) outside git."""
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "trajreg",
                                "benchmarks"], capture_output=True, text=True).stdout.strip()
        return commit, bool(dirty)
    except (OSError, subprocess.CalledProcessError):
        return "unknown", None


def hardware(device: str = "cpu") -> str:
    """The GPU's name on CUDA, else the CPU's model name."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu


def precision() -> dict:
    """Fix and return the float settings (TF32 off: full float32 convolutions and matmuls)."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    return {"cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "noise_dtype": "float64", "network_dtype": "float32"}


def command(script: str, argv: list[str] | None = None) -> str:
    """The command as typed: ``python <script> <args>`` (argv None: this process's arguments)."""
    return " ".join(["python", script, *(sys.argv[1:] if argv is None else argv)])


def seed_range(start: int, n: int) -> str:
    """Seeds start..start+n-1 as the string "start-last"."""
    return f"{start}-{start + n - 1}"


def provenance(command: str, model: str, *, n: int | dict, seeds: str | dict,
               device: str = "cpu", fixed_precision: bool = True) -> dict:
    """The provenance record of a run now: ``command`` as typed, the commit and whether the tree
    was clean, the model's sha256 (or why it has none), hardware, torch threads, float precision
    (fixed by :func:`precision` unless ``fixed_precision`` is False), sizes, seeds and the date."""
    commit, dirty = git_state()
    try:
        weights: dict[str, Any] = {"model_sha256": models.card(model)["sha256"]}
    except FileNotFoundError:   # a closed-form denoiser (the KDE): no weights to check
        weights = {"model_sha256": None, "model_sha256_unrecorded":
                   f"{model} has no weights file (closed-form denoiser over its dataset)"}
    return {"command": command, "commit": commit, "dirty": dirty, "model": model, **weights,
            "hardware": hardware(device), "threads": torch.get_num_threads(),
            "precision": precision() if fixed_precision else None, "n": n, "seeds": seeds,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "torch": torch.__version__, "device": device}


def validate(row: dict) -> None:
    """Raise ValueError unless ``row`` carries a complete provenance record of the right types."""
    prov = row.get("provenance")
    if not isinstance(prov, dict):
        raise ValueError("row has no provenance record")
    missing = set(PROVENANCE) - set(prov)
    unknown = set(prov) - set(PROVENANCE) - set(OPTIONAL)
    if missing or unknown:
        raise ValueError(f"provenance: missing {sorted(missing)}, unknown {sorted(unknown)}")
    for k, v in prov.items():
        if not isinstance(v, {**PROVENANCE, **OPTIONAL}[k]):
            raise ValueError(f"provenance[{k!r}] = {v!r} is not of type {PROVENANCE.get(k, OPTIONAL.get(k))}")
    if prov["model_sha256"] is None and "model_sha256_unrecorded" not in prov:
        raise ValueError("provenance: no model_sha256 and no model_sha256_unrecorded saying why")


def _field(row: dict, name: str) -> Any:
    """A row's field, looked up in its provenance when the row itself has no such field."""
    return row[name] if name in row else row.get("provenance", {}).get(name)


def write_rows(path: str | Path, rows: Iterable[dict]) -> None:
    """Rewrite ``path`` with one JSON line per row (each validated), atomically."""
    rows = list(rows)
    for r in rows:
        validate(r)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with files.atomic(path) as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))


def write_row(path: str | Path, row: dict, key: Sequence[str],
              order: Callable[[dict], Any] | None = None) -> None:
    """Add ``row`` to the file, replacing the row with the same values of ``key`` (a field of the
    row or of its provenance); then sort stably by ``order`` if given."""
    path = Path(path)
    same = tuple(_field(row, k) for k in key)
    rows = [r for r in _load(path) if tuple(_field(r, k) for k in key) != same] + [row]
    write_rows(path, sorted(rows, key=order) if order else rows)


def _load(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.is_file() else []


def _estimates(value: Any) -> Any:
    """Every stored estimate (a dict with value, lo, hi, n) inside ``value`` as an Estimate."""
    if isinstance(value, dict):
        if set(value) >= _ESTIMATE and set(value) <= _ESTIMATE | {"label"}:
            return Estimate.from_dict(value)
        return {k: _estimates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_estimates(v) for v in value]
    return value


@functools.cache
def _current_sha256(model: str) -> str | None:
    """sha256 of the shipped weights of ``model`` (its card), None for a model without a card."""
    try:
        return models.card(model)["sha256"]
    except FileNotFoundError:
        return None


def _refused(row: dict) -> str:
    """Why a stored row may not be shown ("" if it may): made from a modified tree, or made with
    weights other than the shipped ones (a retrained model would otherwise leave it silently stale)."""
    prov = row.get("provenance") or {}
    if prov.get("dirty") is True:
        return "made from a tree with uncommitted changes; rerun their command from a clean checkout"
    current = _current_sha256(prov["model"]) if isinstance(prov.get("model"), str) else None
    if current is not None and prov.get("model_sha256") != current:
        got = prov.get("model_sha256")
        made = f"weights of sha256 {got[:12]}" if got else "no weights sha256 recorded"
        return (f"{prov['model']} rows with {made}, not the shipped weights ({current[:12]}); "
                "rerun their command")
    return ""


def read(*paths: str | Path, **where: Any) -> list[dict]:
    """The rows of the files that exist among ``paths`` whose fields (or provenance fields) equal
    ``where``, stored estimates as :class:`~trajreg.stats.Estimate`; [] when none exists.

    Rows no page may show are left out with a warning: those made from a tree with uncommitted
    changes (``provenance.dirty``), whose code no commit names, and those whose ``model_sha256`` is
    not the shipped weights' sha256 (stale after a retraining)."""
    rows, refused = [], {}
    for p in paths:
        for r in _load(Path(p)):
            why = _refused(r)
            if why:
                refused[str(p), why] = refused.get((str(p), why), 0) + 1
            else:
                rows.append(r)
    for (p, why), n in refused.items():
        warnings.warn(f"{p}: {n} row(s) left out: {why}", stacklevel=2)
    return [_estimates(r) for r in rows if all(_field(r, k) == v for k, v in where.items())]
