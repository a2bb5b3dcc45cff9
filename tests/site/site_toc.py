"""The pages of the book, read from _toc.yml (``trajreg.report.toc_files``)."""

from __future__ import annotations

from pathlib import Path

from trajreg import report

ROOT = Path(__file__).resolve().parents[2]


def toc_files(toc_path: Path = ROOT / "_toc.yml") -> list[str]:
    """Every document of the table of contents (root first, then in reading order), no suffix."""
    return report.toc_files(toc_path)
