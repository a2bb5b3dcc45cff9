"""Cached runs on a registered model: GITS warm-ups, reference solutions, trajectories, evaluations.

Each ``cached_*`` function computes its result once and stores it with ``trajreg.cache.cached``,
keyed by the model's weights (``cache.model_key``), the seeds and every setting it depends on.
The algorithms themselves live elsewhere (``gits.warmup``, ``trajectory.sample``,
``evaluate.evaluate``); these wrappers only draw the per-seed noises, time and cache them.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import torch

from trajreg import _validate, classifier, data, evaluate, gits, models, schedules, trajectory
from trajreg.cache import cached, model_key
from trajreg.denoisers import Denoiser
from trajreg.schedules import SIGMA_MAX, SIGMA_MIN

__all__ = ["WARMUP_SEED", "Model", "cached_reference", "cached_run", "cached_trajectories",
           "cached_warmup", "eval_seeds", "load_model"]

WARMUP_SEED = 1_000_000     # warm-up noises are seeds WARMUP_SEED + seed + i: never evaluation ones


@dataclass(frozen=True)
class Model:
    """A registered model: name, a key that changes with its weights, D(x, sigma), data shape."""

    name: str
    key: str
    denoiser: Denoiser
    shape: tuple[int, ...]
    device: str = "cpu"         # where the denoiser runs; noises are drawn (on the CPU) and moved
    sigma_min: float = SIGMA_MIN
    sigma_max: float = SIGMA_MAX

    def polynomial(self, nfe: int, rho: float = 7.0) -> torch.Tensor:
        """EDM's polynomial schedule with ``nfe`` steps over the model's sigma range."""
        return schedules.polynomial(nfe + 1, self.sigma_min, self.sigma_max, rho=rho)


def load_model(name: str, device: str | torch.device = "cpu") -> Model:
    """``models.load(name)`` with the key used to cache results computed with it."""
    info = models.info(name)
    return Model(name, model_key(name), models.load(name, device), info.data_shape, str(device),
                 info.sigma_min, info.sigma_max)


def eval_seeds(seed: int, n: int, repeat: int = 0) -> range:
    """Evaluation seeds of noise set ``repeat``: n consecutive seeds, disjoint across repeats."""
    _validate.at_least("n", n, 1)
    return range(seed + repeat * n, seed + (repeat + 1) * n)


def cached_warmup(model: Model, n: int, *, seed: int = 0, grid: int = 61, teacher: str = "ipndm",
                  batch_size: int = 256) -> tuple[Any, float]:
    """``gits.warmup`` on noises WARMUP_SEED + seed + (0..n-1), cached; (Trajectory, seconds taken
    when it was computed)."""
    def compute():
        noise = data.noise(range(WARMUP_SEED + seed, WARMUP_SEED + seed + n), model.shape,
                           device=model.device)
        start = time.perf_counter()
        warm = gits.warmup(model.denoiser, noise, grid, teacher, batch_size=batch_size)
        return warm, time.perf_counter() - start

    key = {"model": model.key, "n": n, "seed": seed, "grid": grid, "teacher": teacher}
    return cached("warmup", key, compute)


def cached_reference(model: Model, seeds: range, n_steps: int = 100, solver: str = "ipndm",
                     batch_size: int = 500) -> torch.Tensor:
    """High-accuracy PF-ODE solutions (``solver`` on the n_steps polynomial rho=7 schedule over
    [0.002, 80]) from the noises of ``seeds``, cached; float64 (len(seeds), *shape)."""
    def compute():
        noise = data.noise(seeds, model.shape, device=model.device)
        return evaluate.final_samples(model.denoiser, noise, schedules.polynomial(n_steps + 1),
                                      solver, batch_size=batch_size).cpu()

    key = {"model": model.key, "seeds": seeds, "n_steps": n_steps, "solver": solver}
    return cached("reference", key, compute)


def cached_trajectories(model: Model, seeds: range, solver: str, sigmas: torch.Tensor, *,
                        batch_size: int | None = None,
                        dtype: torch.dtype = torch.float32) -> trajectory.Trajectory:
    """``trajectory.sample`` (sampling and denoising trajectories) from the noises of ``seeds``,
    drawn in ``dtype``, cached."""
    def compute():
        noise = data.noise(seeds, model.shape, dtype=dtype, device=model.device)
        return trajectory.sample(model.denoiser, noise, sigmas, solver, batch_size=batch_size)

    key = {"model": model.key, "seeds": seeds, "solver": solver, "sigmas": sigmas,
           "dtype": str(dtype)}
    return cached("trajectories", key, compute)


def _features_key(extractor: str) -> str:
    """The checksum of the classifier behind the "fmnist" FID features ("" for others)."""
    return classifier.classifier_card()["sha256"] if extractor == "fmnist" else ""


def cached_run(model: Model, solver: str, sigmas: torch.Tensor, seeds: range, *,
               schedule: str = "", x_ref: torch.Tensor | None = None, compute_fid: bool = True,
               fid_ref: Any = "fmnist-train", fid_extractor: str = "fmnist",
               batch_size: int = 500) -> evaluate.Result:
    """``evaluate.evaluate`` on the noises of ``seeds``, cached by (model, solver, sigmas, seeds,
    x_ref, FID reference and features)."""
    def compute():
        noise = data.noise(seeds, model.shape, device=model.device)
        ref = None if x_ref is None else x_ref.to(model.device)
        return evaluate.evaluate(model.denoiser, noise, sigmas, solver, schedule=schedule, x_ref=ref,
                                 fid_ref=fid_ref, fid_extractor=fid_extractor,
                                 compute_fid=compute_fid, batch_size=batch_size)

    ref = (None if x_ref is None
           else hashlib.sha256(x_ref.double().cpu().numpy().tobytes()).hexdigest())
    key = {"model": model.key, "solver": solver, "sigmas": sigmas, "seeds": seeds, "ref": ref,
           "fid": [fid_ref, fid_extractor, _features_key(fid_extractor)] if compute_fid else None}
    result = cached("run", key, compute)
    result.schedule = schedule
    return result
