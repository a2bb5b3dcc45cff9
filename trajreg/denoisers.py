"""Closed-form denoisers D(x, sigma) = E[x0 | x_sigma = x]: KDE (finite data), Gaussian, mixture.

Every denoiser takes x of shape (B, *dims) and sigma as a float, a 0-d tensor or a (B,) tensor, and
returns a tensor of the shape, dtype and device of x. The math runs in the dtype of the stored
parameters (``dtype=`` at construction) on their device.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from trajreg import _validate

__all__ = ["Counted", "Denoiser", "GaussianDenoiser", "GaussianMixtureDenoiser", "KDEDenoiser", "as_sigma"]

Denoiser = Callable[[torch.Tensor, "float | torch.Tensor"], torch.Tensor]


def as_sigma(sigma: float | torch.Tensor, B: int, like: torch.Tensor) -> torch.Tensor:
    """Sigma as a (B,) tensor of the dtype/device of ``like``; each entry finite and > 0."""
    s = torch.as_tensor(sigma, dtype=like.dtype, device=like.device)
    if s.ndim == 0:
        s = s.expand(B)
    elif s.shape != (B,):
        raise ValueError(f"sigma must be a scalar or have shape ({B},), got {tuple(s.shape)}")
    if not (torch.isfinite(s).all() and (s > 0).all()):
        raise ValueError(f"sigma must be finite and > 0, got {s.tolist()}")
    return s


def _flat_x(x: torch.Tensor, dims: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """Check x is (B, *dims) and finite; return it as (B, D) in the dtype/device of ``like``."""
    if not isinstance(x, torch.Tensor) or tuple(x.shape[1:]) != dims or x.ndim != len(dims) + 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must have shape (B, {', '.join(map(str, dims))}), got {shape}")
    _validate.finite("x", x)
    return x.reshape(x.shape[0], -1).to(like.device, like.dtype)


class KDEDenoiser:
    """Optimal denoiser of finite data (ICML Eq. 8): D(x, s) = sum_i softmax_i(-|x-y_i|^2/2s^2) y_i.

    data: (N, *dims). The softmax is accumulated over chunks of ``chunk_size`` data points with a
    running maximum (log-sum-exp), so memory is O(B * chunk_size + B * D) for any N. Distances use
    |x - y|^2 = |x|^2 - 2 x.y + |y|^2 on data centred at their mean (the softmax is unchanged by a
    common shift, and centring reduces cancellation in float32).
    """

    def __init__(self, data: torch.Tensor, *, device: str | torch.device = "cpu",
                 dtype: torch.dtype | None = None, chunk_size: int = 8192):
        if not isinstance(data, torch.Tensor) or data.ndim < 2 or data.shape[0] < 1:
            raise ValueError("data must be a tensor of shape (N, *dims) with N >= 1")
        _validate.finite("data", data)
        _validate.at_least("chunk_size", chunk_size, 1)
        dtype = dtype or (data.dtype if data.is_floating_point() else torch.float32)
        y = data.reshape(data.shape[0], -1).to(device, dtype)
        self.dims = tuple(data.shape[1:])
        self.data_range = (float(data.min()), float(data.max()))   # sets solvers.thresholds
        self.chunk_size = int(chunk_size)
        self.mean = y.mean(0)
        self.y = y - self.mean                       # (N, D), centred
        self.y2 = (self.y ** 2).sum(1)               # (N,)

    @property
    def n_data(self) -> int:
        return self.y.shape[0]

    def __call__(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        """Posterior mean under the empirical data distribution; x (B, *dims) -> (B, *dims)."""
        xf = _flat_x(x, self.dims, self.y) - self.mean
        s = as_sigma(sigma, x.shape[0], self.y)
        x2 = (xf ** 2).sum(1, keepdim=True)
        inv = 1 / (2 * s[:, None] ** 2)
        m = torch.full((xf.shape[0],), -math.inf, dtype=xf.dtype, device=xf.device)
        w = torch.zeros_like(m)                      # running sum of exp(logit - m)
        acc = torch.zeros_like(xf)                   # running sum of exp(logit - m) * y
        for start in range(0, self.n_data, self.chunk_size):
            y, y2 = self.y[start:start + self.chunk_size], self.y2[start:start + self.chunk_size]
            d2 = (x2 - 2 * xf @ y.T + y2).clamp_min_(0)
            logit = -d2 * inv
            # Rescale the running sums to the new maximum, then add this chunk
            m_new = torch.maximum(m, logit.amax(1))
            scale = torch.exp(m - m_new)
            p = torch.exp(logit - m_new[:, None])
            w = w * scale + p.sum(1)
            # Data points whose weight underflowed to 0 for every row add exactly nothing (and stay
            # at 0, as m only grows): at small sigma skip them in the second matmul
            keep = (p > 0).any(0).nonzero()[:, 0]
            if len(keep) < len(y) // 4:
                p, y = p[:, keep], y[keep]
            acc = acc * scale[:, None] + p @ y
            m = m_new
        out = acc / w[:, None] + self.mean
        return out.reshape(x.shape).to(x)

    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        """The data point closest to each row of x (the sigma -> 0 limit of D); (B, *dims)."""
        xf = _flat_x(x, self.dims, self.y) - self.mean
        best = torch.full((xf.shape[0],), math.inf, dtype=xf.dtype, device=xf.device)
        idx = torch.zeros(xf.shape[0], dtype=torch.long, device=xf.device)
        for start in range(0, self.n_data, self.chunk_size):
            y, y2 = self.y[start:start + self.chunk_size], self.y2[start:start + self.chunk_size]
            d2 = y2 - 2 * xf @ y.T                   # |x|^2 omitted: same for every data point
            val, j = d2.min(1)
            better = val < best
            best = torch.where(better, val, best)
            idx = torch.where(better, j + start, idx)
        return (self.y[idx] + self.mean).reshape(x.shape).to(x)


class GaussianDenoiser:
    """Denoiser of N(mu, Sigma) (JSTAT 4.3): D(x, s) = mu + Sigma (Sigma + s^2 I)^-1 (x - mu).

    Sigma = U diag(lam) U^T + floor (I - U U^T) with orthonormal U (D, k); k = D for a full
    covariance, k < D for a low-rank one (the complement has variance ``floor``).
    """

    def __init__(self, mean: torch.Tensor, cov: torch.Tensor, *, device: str | torch.device = "cpu",
                 dtype: torch.dtype | None = None):
        D = mean.numel()
        if cov.shape != (D, D):
            raise ValueError(f"cov must have shape ({D}, {D}) like mean, got {tuple(cov.shape)}")
        _validate.finite("cov", cov)
        if not torch.allclose(cov, cov.T, rtol=1e-6, atol=1e-8 * float(cov.abs().max())):
            raise ValueError("cov must be symmetric")
        lam, U = torch.linalg.eigh(cov.to(torch.float64))
        if lam[0] < -1e-8 * max(float(lam[-1]), 1e-300):
            raise ValueError(f"cov must be positive semi-definite, min eigenvalue {float(lam[0])}")
        lam = lam.clamp_min(0)                       # round-off only: the check above bounds it
        self._init(mean, lam, U, 0.0, device, dtype)

    @classmethod
    def from_eig(cls, mean: torch.Tensor, eigvals: torch.Tensor, eigvecs: torch.Tensor,
                 floor: float = 0.0, *, device: str | torch.device = "cpu",
                 dtype: torch.dtype | None = None) -> GaussianDenoiser:
        """Covariance U diag(eigvals) U^T + floor (I - U U^T); eigvecs U (D, k) orthonormal."""
        D = mean.numel()
        if eigvecs.ndim != 2 or eigvecs.shape[0] != D or eigvals.shape != (eigvecs.shape[1],):
            raise ValueError(f"eigvecs must be (D={D}, k) and eigvals (k,), got "
                             f"{tuple(eigvecs.shape)} and {tuple(eigvals.shape)}")
        _validate.finite("eigvals", eigvals)
        _validate.finite("eigvecs", eigvecs)
        if (eigvals < 0).any() or floor < 0:
            raise ValueError("eigvals and floor must be >= 0")
        self = cls.__new__(cls)
        self._init(mean, eigvals, eigvecs, floor, device, dtype)
        return self

    @classmethod
    def isotropic(cls, mean: torch.Tensor, var: float = 1.0, *, device: str | torch.device = "cpu",
                  dtype: torch.dtype | None = None) -> GaussianDenoiser:
        """N(mu, var I): D(x, s) = (s^2 mu + var x) / (var + s^2)."""
        _validate.positive("var", var)
        empty = torch.zeros(mean.numel(), 0, dtype=torch.float64)
        return cls.from_eig(mean, torch.zeros(0), empty, var, device=device, dtype=dtype)

    def _init(self, mean, lam, U, floor, device, dtype) -> None:
        _validate.finite("mean", mean)
        dtype = dtype or (mean.dtype if mean.is_floating_point() else torch.float64)
        self.dims = tuple(mean.shape)
        self.mu = mean.reshape(-1).to(device, dtype)
        self.U = U.to(device, dtype)
        self.lam = lam.to(device, dtype)
        self.floor = float(floor)

    @property
    def dim(self) -> int:
        return self.mu.numel()

    def _split(self, x: torch.Tensor):
        """(x - mu) as coordinates c = U^T (x - mu) (B, k) and the residual in the complement."""
        r = _flat_x(x, self.dims, self.mu) - self.mu
        c = r @ self.U
        return c, r - c @ self.U.T

    def _denoise(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        """mu + U diag(lam/(lam+s^2)) c + floor/(floor+s^2) r_perp, flat (B, D), parameter dtype."""
        s2 = as_sigma(sigma, x.shape[0], self.mu)[:, None] ** 2
        c, r_perp = self._split(x)
        out = self.mu + (self.lam / (self.lam + s2) * c) @ self.U.T
        if self.lam.numel() < self.dim:
            out = out + self.floor / (self.floor + s2) * r_perp
        return out

    def __call__(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        """Posterior mean E[x0 | x_sigma = x]; (B, *dims)."""
        return self._denoise(x, sigma).reshape(x.shape).to(x)

    def log_prob(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        """log N(x; mu, Sigma + s^2 I) of the noisy marginal, in the eigenbasis; (B,)."""
        s2 = as_sigma(sigma, x.shape[0], self.mu)[:, None] ** 2
        c, r_perp = self._split(x)
        var = self.lam + s2                          # (B, k)
        var_perp = self.floor + s2[:, 0]             # (B,)
        quad, logdet = (c ** 2 / var).sum(1), var.log().sum(1)
        if self.lam.numel() < self.dim:              # the complement of U, variance floor + s^2
            quad = quad + (r_perp ** 2).sum(1) / var_perp
            logdet = logdet + (self.dim - self.lam.numel()) * var_perp.log()
        return -0.5 * (quad + logdet + self.dim * math.log(2 * math.pi))


class GaussianMixtureDenoiser:
    """Denoiser of sum_k pi_k N(mu_k, Sigma_k) (JSTAT 4.3): D = sum_k w_k(x) D_k(x), with
    w_k = softmax_k(log pi_k + log N(x; mu_k, Sigma_k + s^2 I)).

    weights (K,) positive (normalised here); components: K GaussianDenoisers of equal dims.
    """

    def __init__(self, weights: torch.Tensor | Sequence[float],
                 components: Sequence[GaussianDenoiser]):
        weights = torch.as_tensor(weights, dtype=torch.float64)
        if weights.ndim != 1 or weights.numel() != len(components) or len(components) == 0:
            raise ValueError(f"weights must have shape ({len(components)},), one per component, "
                             f"got {tuple(weights.shape)}")
        if not (torch.isfinite(weights).all() and (weights > 0).all()):
            raise ValueError(f"weights must be finite and > 0, got {weights.tolist()}")
        if len({c.dims for c in components}) != 1:
            raise ValueError("components must all have the same dims")
        self.components = list(components)
        self.dims = components[0].dims
        like = components[0].mu
        self.log_pi = (weights / weights.sum()).log().to(like.device, like.dtype)

    @classmethod
    def from_covs(cls, weights: torch.Tensor | Sequence[float], means: torch.Tensor,
                  covs: torch.Tensor, **kw) -> GaussianMixtureDenoiser:
        """Mixture from means (K, *dims) and dense covariances (K, D, D)."""
        comps = [GaussianDenoiser(m, c, **kw) for m, c in zip(means, covs, strict=True)]
        return cls(weights, comps)

    @classmethod
    def example(cls, dim: int = 16, n_comp: int = 4, seed: int = 0) -> GaussianMixtureDenoiser:
        """The book's test mixture: ``n_comp`` equal-weight components in ``dim`` dimensions with
        means of scale 0.6 and random anisotropic covariances A A^T / dim * 0.05 + 0.001 I (float64)."""
        if dim < 1 or n_comp < 1:
            raise ValueError(f"dim and n_comp must be >= 1, got {dim} and {n_comp}")
        g = torch.Generator().manual_seed(seed)
        means = torch.randn(n_comp, dim, generator=g, dtype=torch.float64) * 0.6
        A = torch.randn(n_comp, dim, dim, generator=g, dtype=torch.float64)
        covs = A @ A.transpose(1, 2) / dim * 0.05 + 1e-3 * torch.eye(dim, dtype=torch.float64)
        return cls.from_covs(torch.ones(n_comp), means, covs, dtype=torch.float64)

    def responsibilities(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        """Posterior component probabilities w_k(x) under the noisy marginal; (B, K)."""
        logits = torch.stack([c.log_prob(x, sigma) for c in self.components], 1) + self.log_pi
        return logits.softmax(1)

    def __call__(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        """sum_k w_k(x) D_k(x, sigma); (B, *dims)."""
        w = self.responsibilities(x, sigma)
        out = sum(w[:, k, None] * c._denoise(x, sigma) for k, c in enumerate(self.components))
        return out.reshape(x.shape).to(x)


class Counted:
    """Wrap a denoiser and count its calls (NFE) and the samples it evaluated."""

    def __init__(self, denoiser: Denoiser):
        self.denoiser = denoiser
        self.calls = 0
        self.samples = 0

    def __call__(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.samples += x.shape[0]
        return self.denoiser(x, sigma)
