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
