"""The built site: tests here read ``$TRAJREG_SITE`` (``make test-site`` builds it and sets it).

Without the variable these tests are skipped, so that ``pytest tests`` does not check a stale
``_build/html``; with it, a missing or empty folder fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def site() -> Path:
    """The folder of the built HTML site, from ``$TRAJREG_SITE``."""
    value = os.environ.get("TRAJREG_SITE")
    if not value:
        pytest.skip("set TRAJREG_SITE to a built site (make test-site builds one and sets it)")
    path = Path(value).resolve()
    if not (path / "index.html").is_file():
        pytest.fail(f"TRAJREG_SITE={value} holds no index.html: build the book first (make test-site)")
    return path
