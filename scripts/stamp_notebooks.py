"""Record in each executed notebook the hash of the code its outputs came from.

``scripts/run_notebooks.py execute`` runs this after papermill; ``tests/test_notebooks_fresh.py``
fails for a notebook whose code cells no longer match the hash, i.e. whose code was edited after
its committed outputs were made. Markdown edits do not count.
Usage: python scripts/stamp_notebooks.py NOTEBOOK...
"""

from __future__ import annotations

import hashlib
import sys

import nbformat

KEY = "trajreg"


def code_sha256(nb) -> str:
    """sha256 of the notebook's non-empty code cells, stripped, in order."""
    sources = [c.source.strip() for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    return hashlib.sha256("\0".join(sources).encode()).hexdigest()


def stamp(path: str) -> str:
    """Write the code hash into the notebook's metadata; return it."""
    nb = nbformat.read(path, as_version=4)
    digest = code_sha256(nb)
    nb.metadata.setdefault(KEY, {})["code_sha256"] = digest
    nbformat.write(nb, path)
    return digest


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(f"{p}: code {stamp(p)[:12]}")
