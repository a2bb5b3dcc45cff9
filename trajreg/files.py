"""Files: checksums, downloads that refuse a wrong checksum, and writes that never leave half a file.

Every file the package trusts (datasets, weights, FID statistics, official checkpoints) is checked
with :func:`verify`, and every mismatch raises the one exception :class:`ChecksumError`. Every file
the package writes goes through :func:`atomic`: a temporary file in the same folder, renamed over
the target only once it is complete, so a crash or a concurrent reader never sees a partial file.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

__all__ = ["ChecksumError", "atomic", "download", "md5", "sha256", "stream", "verify",
           "write_json", "write_text"]

BLOCK = 1 << 20


class ChecksumError(ValueError):
    """A file's checksum differs from the expected value: the file is refused."""


def _digest(h: Any, path: str | Path, gunzip: bool) -> str:
    with (gzip.open if gunzip else open)(path, "rb") as f:
        for block in iter(lambda: f.read(BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def sha256(path: str | Path, *, gunzip: bool = False) -> str:
    """Hex sha256 of a file (of its decompressed content if ``gunzip``), read in 1 MiB blocks."""
    return _digest(hashlib.sha256(), path, gunzip)


def md5(path: str | Path) -> str:
    """Hex md5 of a file, read in 1 MiB blocks (only to compare with a published md5)."""
    return _digest(hashlib.md5(usedforsecurity=False), path, False)


DIGESTS = {"sha256": sha256, "md5": md5}


def verify(path: str | Path, expected: str, *, algorithm: str = "sha256", gunzip: bool = False,
           source: str = "", hint: str = "", remove: bool = False) -> Path:
    """Return ``path`` if its ``algorithm`` digest equals ``expected``; else raise ChecksumError.

    ``source`` says where the expected value came from, ``hint`` what to do; ``remove`` deletes the
    refused file (a fresh download nobody should open).
    """
    path = Path(path)
    if algorithm not in DIGESTS:
        raise ValueError(f"algorithm must be one of {sorted(DIGESTS)}, got {algorithm!r}")
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    got = (sha256(path, gunzip=gunzip) if algorithm == "sha256" else md5(path))
    if got != expected.strip().lower():
        if remove:
            path.unlink()
        where = f" from {source}" if source else ""
        raise ChecksumError(f"checksum mismatch for {path}: expected {algorithm} {expected}{where}, "
                            f"got {got}. {hint or 'The file is corrupt or not the one expected.'}")
    return path


@contextlib.contextmanager
def atomic(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``, else delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | Path, value: Any, *, indent: int = 1, sort_keys: bool = False) -> Path:
    """Write ``value`` as JSON (and a final newline) to ``path`` atomically."""
    return write_text(path, json.dumps(value, indent=indent, sort_keys=sort_keys) + "\n")


def stream(url: str, dest: str | Path) -> Path:
    """Write ``url`` to ``dest`` with a progress bar (no checksum: callers verify it)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url) as r, open(dest, "wb") as f:
        total = int(r.headers.get("Content-Length", 0)) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
            for block in iter(lambda: r.read(BLOCK), b""):
                f.write(block)
                bar.update(len(block))
    return dest


def download(url: str, dest: str | Path, expected_sha256: str, *, gunzip: bool = False) -> Path:
    """Download ``url`` to ``dest``; a file whose sha256 differs is deleted and refused."""
    with atomic(dest) as tmp:
        verify(stream(url, tmp), expected_sha256, gunzip=gunzip, source=url,
               hint="The download is corrupt or the file changed at its source.")
    return Path(dest)
