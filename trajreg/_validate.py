"""Input checks shared by the package: each raises a clear error naming the parameter."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch


def choice(name: str, value: Any, allowed: Iterable[Any] | Mapping[str, Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise naming ``name`` and the options."""
    options = list(allowed)
    if value not in options:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of {sorted(map(str, options))}")
    return value


def at_least(name: str, value: int | float, minimum: int | float) -> None:
    """Raise unless ``value >= minimum``."""
    if not value >= minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")


def positive(name: str, value: float) -> None:
    """Raise unless ``value`` is a finite number > 0."""
    if not (value > 0 and value < float("inf")):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def finite(name: str, x: torch.Tensor) -> None:
    """Raise if ``x`` holds NaN or infinite entries."""
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite entries")


def sigmas(s: torch.Tensor, name: str = "sigmas") -> torch.Tensor:
    """Check a schedule: 1-D, at least 2 entries, finite, strictly descending, last one >= 0."""
    if not isinstance(s, torch.Tensor):
        s = torch.as_tensor(s, dtype=torch.float64)
    if s.ndim != 1 or s.numel() < 2:
        raise ValueError(f"{name} must be a 1-D tensor with at least 2 entries, got shape {tuple(s.shape)}")
    finite(name, s)
    if not (s[1:] < s[:-1]).all():
        raise ValueError(f"{name} must be strictly descending (sigma_max first), got {s.tolist()}")
    if s[-1] < 0:
        raise ValueError(f"{name} must end at a sigma >= 0, got {float(s[-1])}")
    return s


def same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    """Raise if the two tensors differ in shape."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} has shape {tuple(a.shape)} but {name_b} has shape {tuple(b.shape)}")


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
    from trajreg.models import NoGrad

    if isinstance(denoiser, NoGrad):
        r = data_range if data_range is not None else getattr(denoiser, "data_range", None)
        return NoGrad(checked(denoiser.D, r, on_call))
    return Checked(denoiser, data_range, on_call)
