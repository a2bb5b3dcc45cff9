"""Record sampling trajectories {x_t} and denoising trajectories {D(x_t, t)} of an ODE solver."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from tqdm import tqdm

from trajreg import _validate, solvers
from trajreg.denoisers import Denoiser

__all__ = ["Trajectory", "sample"]


@dataclass
class Trajectory:
    """Sampling and denoising trajectories of B samples on one schedule (ICML Fig. 1).

    sigmas: (T,) float64 schedule, sigma_max first.
    x: (T, B, *dims) sampling states x_{sigma_i}, noise first, final samples last.
    denoised: (T-1, B, *dims) denoiser outputs D(x_i, sigma_i), i < T-1 (denoising trajectory).
    """

    sigmas: torch.Tensor
    x: torch.Tensor
    denoised: torch.Tensor

    @property
    def final(self) -> torch.Tensor:
        """Final samples x_{sigma_min}; (B, *dims)."""
        return self.x[-1]

    @property
    def n_samples(self) -> int:
        return self.x.shape[1]

    @property
    def dim(self) -> int:
        """Data dimension d = prod(dims)."""
        return math.prod(self.x.shape[2:])


def sample(denoiser: Denoiser, noise: torch.Tensor, sigmas: torch.Tensor,
           solver: str | Callable[..., torch.Tensor] = "euler", *,
           batch_size: int | None = None, progress: bool = False,
           store_dtype: torch.dtype = torch.float32, store_device: str | torch.device = "cpu",
           **solver_kw) -> Trajectory:
    """Solve the PF-ODE from x = sigmas[0] * noise and record every state and denoiser output.

    noise: (B, *dims) standard normal; the solver math runs in its dtype and on its device.
    solver: a ``solvers.SOLVERS`` name, or any function with the solvers' signature and callback.
    States are stored as ``store_dtype`` on ``store_device`` to bound memory.
    """
    sigmas = _validate.sigmas(sigmas)
    step = solver if callable(solver) else solvers.get(solver)
    if not isinstance(noise, torch.Tensor) or noise.ndim < 2:
        raise ValueError("noise must be a tensor of shape (B, *dims)")
    _validate.finite("noise", noise)
    B, T = noise.shape[0], len(sigmas)
    batch_size = B if batch_size is None else batch_size
    _validate.at_least("batch_size", batch_size, 1)
    x = torch.empty((T, *noise.shape), dtype=store_dtype, device=store_device)
    denoised = torch.empty((T - 1, *noise.shape), dtype=store_dtype, device=store_device)
    bar = tqdm(total=math.ceil(B / batch_size) * (T - 1), disable=not progress, unit="step")
    for start in range(0, B, batch_size):
        b = slice(start, start + batch_size)

        def record(info: dict, b: slice = b) -> None:
            x[info["i"], b] = info["x"].to(store_device, store_dtype)
            denoised[info["i"], b] = info["denoised"].to(store_device, store_dtype)
            bar.update(1)

        x[-1, b] = step(denoiser, float(sigmas[0]) * noise[b], sigmas, callback=record,
                        **solver_kw).to(store_device, store_dtype)
    bar.close()
    return Trajectory(sigmas=sigmas.to(torch.float64).cpu(), x=x, denoised=denoised)
