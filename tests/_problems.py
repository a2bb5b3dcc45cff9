"""Closed-form test problems shared by several test modules (imported as a plain module: a
``conftest`` import would resolve to tests/site/conftest.py when the whole suite runs)."""


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
