"""Model registry: name -> denoiser D(x, sigma), with checksum-verified weights."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from trajreg import _validate
from trajreg.data import sha256

WEIGHTS = Path(__file__).parent / "weights"


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about a model: how to build it and what it is."""

    name: str
    description: str
    build: Callable[..., Callable]
    data_shape: tuple[int, ...]
    sigma_min: float = 0.002
    sigma_max: float = 80.0


def verify(path: str | Path, expected_sha256: str) -> Path:
    """Return ``path`` if its sha256 equals ``expected_sha256``; refuse it otherwise."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    got = sha256(path)
    if got != expected_sha256:
        raise ValueError(f"checksum mismatch for {path}: expected sha256 {expected_sha256}, "
                         f"got {got}; the file is corrupt or not the one the registry describes")
    return path


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
    path = verify(weights or WEIGHTS / f"{name}.safetensors", meta["sha256"])
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


MODELS: dict[str, ModelInfo] = {
    "fmnist-edm": ModelInfo("fmnist-edm", "our EDM UNet trained on Fashion-MNIST (shipped weights)",
                            _fmnist_edm, (1, 28, 28)),
    "kde-fmnist": ModelInfo("kde-fmnist", "exact KDE optimal denoiser over the 60k Fashion-MNIST "
                            "training images", _kde_fmnist, (1, 28, 28)),
}


def _register_official() -> None:
    """Add the paper-scale models of ``trajreg.official`` (EDM checkpoints, CIFAR-10 KDE)."""
    from trajreg import official

    for entry in official.model_infos():
        MODELS.setdefault(entry.name, entry)


_register_official()


def info(name: str) -> ModelInfo:
    """Registry entry of ``name``."""
    return MODELS[_validate.choice("name", name, MODELS)]


def load(name: str, device: str | torch.device = "cpu", **kw) -> Callable:
    """Return the denoiser ``D(x, sigma)`` registered as ``name`` (see ``MODELS``)."""
    return info(name).build(device=device, **kw)
