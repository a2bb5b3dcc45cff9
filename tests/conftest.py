"""Shared pytest setup: headless matplotlib and a report header naming the torch build.

Tests that take more than a few seconds carry ``@pytest.mark.slow``; ``pytest -m "not slow"``
skips them for a quick run (``make test`` runs everything).
"""

import matplotlib

# Set here, not through MPLBACKEND: that variable would reach notebook kernels started by
# nbval or papermill and stop them from embedding figures.
matplotlib.use("Agg")


def pytest_report_header(config):
    import torch

    return f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
