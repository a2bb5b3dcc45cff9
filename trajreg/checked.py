"""Output checks for a denoiser during a search: shape and finiteness of every D(x, sigma)."""

from __future__ import annotations

from typing import Any

import torch

from trajreg.models import NoGrad

__all__ = ["Checked", "checked"]


class Checked(torch.nn.Module):
    """A denoiser D(x, sigma) whose every output must have x's shape and be finite, else ValueError.

    on_call(n) is told the batch size of each call (a progress bar); data_range is the range of
    the model's data (see ``solvers.data_range``), None when unknown or unbounded.
    """

    def __init__(self, denoiser: Any, data_range: tuple[float, float] | None = None,
                 on_call: Any = None):
        super().__init__()
        self.denoiser, self.on_call = denoiser, on_call
        if data_range is not None:
            self.data_range = tuple(float(v) for v in data_range)

    def forward(self, x: torch.Tensor, sigma: Any) -> torch.Tensor:
        out = self.denoiser(x, sigma)
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"the denoiser returned shape {got} for an input of shape {tuple(x.shape)}; "
                             "D(x, sigma) must return a tensor of x's shape")
        if not torch.isfinite(out).all():
            bad = int((~torch.isfinite(out)).sum())
            s = torch.as_tensor(sigma).detach().reshape(-1)[:1].tolist()
            raise ValueError(f"the denoiser returned {bad} NaN or infinite values at sigma = {s[0]:.6g}")
        if self.on_call is not None:
            self.on_call(x.shape[0])
        return out


def checked(denoiser: Any, data_range: tuple[float, float] | None = None, on_call: Any = None) -> Any:
    """``Checked(denoiser)``; a ``models.NoGrad`` stays outermost (so searches that need gradients,
    which unwrap it, still run the checks)."""
    if isinstance(denoiser, NoGrad):
        r = data_range if data_range is not None else getattr(denoiser, "data_range", None)
        return NoGrad(checked(denoiser.D, r, on_call))
    return Checked(denoiser, data_range, on_call)
