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


def gaussian_problem(seed: int, B: int, dim: int = 6):
    """A closed-form test problem: (Gaussian denoiser, B noises, the exact solutions at sigma_min
    0.002 of the probability-flow ODE from x_T = 80 * noise) for a random covariance."""
    import torch

    from trajreg.denoisers import GaussianDenoiser

    g = torch.Generator().manual_seed(seed)
    A = torch.randn(dim, dim, generator=g, dtype=torch.float64)
    cov = A @ A.T / dim * 0.3 + 0.01 * torch.eye(dim, dtype=torch.float64)
    mu = torch.full((dim,), 0.1, dtype=torch.float64)
    D = GaussianDenoiser(mu, cov, dtype=torch.float64)
    noise = torch.randn(B, dim, generator=g, dtype=torch.float64)
    lam, U = torch.linalg.eigh(cov)
    f = ((lam + 0.002**2) / (lam + 80.0**2)).sqrt()
    return D, noise, mu + ((80.0 * noise - mu) @ U * f) @ U.T
