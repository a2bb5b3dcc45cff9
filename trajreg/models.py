"""Model registry: name -> denoiser D(x, sigma), with checksum-verified weights."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from trajreg import _validate, files, official
from trajreg.schedules import SIGMA_MAX, SIGMA_MIN

__all__ = ["MODELS", "ModelInfo", "NoGrad", "WEIGHTS", "card", "info", "load", "load_edm"]

WEIGHTS = Path(__file__).parent / "weights"


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about a model: how to build it and what it is."""

    name: str
    description: str
    build: Callable[..., Callable]
    data_shape: tuple[int, ...]
    sigma_min: float = SIGMA_MIN
    sigma_max: float = SIGMA_MAX
    data_range: tuple[float, float] | None = (-1.0, 1.0)   # pixels in [-1, 1]: thresholding on


def card(name: str = "fmnist-edm") -> dict:
    """Provenance of shipped weights (architecture, sha256, training run) from their JSON card."""
    path = WEIGHTS / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no model card {path}; shipped cards: "
                                f"{sorted(p.stem for p in WEIGHTS.glob('*.json'))}")
    return json.loads(path.read_text())


def load_edm(name: str = "fmnist-edm", device: str | torch.device = "cpu",
             weights: str | Path | None = None) -> torch.nn.Module:
    """Our EDM-preconditioned UNet with its shipped EMA weights, checksum-verified (safetensors)."""
    from safetensors.torch import load_file

    from trajreg.networks import EDMDenoiser, UNet, UNetConfig

    meta = card(name)
    path = files.verify(weights or WEIGHTS / f"{name}.safetensors", meta["sha256"],
                        source=f"the card {name}.json")
    D = EDMDenoiser(UNet(UNetConfig.from_dict(meta["net"])), meta["sigma_data"])
    D.load_state_dict(load_file(str(path)))
    return D.eval().requires_grad_(False).to(device)


class NoGrad(torch.nn.Module):
    """Wrap a network denoiser so calls run under ``torch.inference_mode``."""

    def __init__(self, D: torch.nn.Module):
        super().__init__()
        self.D = D

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        with torch.inference_mode():
            return self.D(x, sigma)


def _fmnist_edm(device="cpu", **kw):
    return NoGrad(load_edm("fmnist-edm", device, **kw))


def _kde_fmnist(device="cpu", dtype=torch.float32, **kw):
    from trajreg.data import fashion_mnist
    from trajreg.denoisers import KDEDenoiser

    return KDEDenoiser(fashion_mnist("train"), device=device, dtype=dtype, **kw)


def _kde_cifar10(device="cpu", dtype=torch.float32, **kw):
    from trajreg.data import cifar10
    from trajreg.denoisers import KDEDenoiser

    return KDEDenoiser(cifar10("train"), device=device, dtype=dtype, **kw)


def _official(name: str) -> Callable[..., Callable]:
    return lambda device="cpu", **kw: official.load_network(name, device, **kw)


def _registry() -> dict[str, ModelInfo]:
    """Shipped models, then the official checkpoints of ``official.CHECKPOINTS`` and the CIFAR-10 KDE."""
    entries = [
        ModelInfo("fmnist-edm", "our EDM UNet trained on Fashion-MNIST (shipped weights)",
                  _fmnist_edm, (1, 28, 28)),
        ModelInfo("kde-fmnist", "exact KDE optimal denoiser over the 60k Fashion-MNIST training "
                  "images", _kde_fmnist, (1, 28, 28)),
        *(ModelInfo(c.name, c.description, _official(c.name), c.data_shape, SIGMA_MIN,
                    SIGMA_MAX) for c in official.CHECKPOINTS.values()),
        ModelInfo("kde-cifar10", "exact KDE optimal denoiser over the 50k CIFAR-10 training images",
                  _kde_cifar10, (3, 32, 32)),
    ]
    return {m.name: m for m in entries}


MODELS: dict[str, ModelInfo] = _registry()


def info(name: str) -> ModelInfo:
    """Registry entry of ``name``."""
    return MODELS[_validate.choice("name", name, MODELS)]


def load(name: str, device: str | torch.device = "cpu", **kw) -> Callable:
    """Return the denoiser ``D(x, sigma)`` registered as ``name`` (see ``MODELS``), carrying the
    model's ``data_range`` (which sets the default of dynamic thresholding, ``solvers.thresholds``)."""
    m = info(name)
    D = m.build(device=device, **kw)
    D.data_range = m.data_range
    return D
