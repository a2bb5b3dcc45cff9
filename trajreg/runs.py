"""Cached runs on a model: GITS warm-ups, reference solutions, trajectories, evaluations.

A model is a registered name (``trajreg.models.MODELS``) or ``"pipeline:<path>"``, a local diffusers
pipeline folder loaded through ``trajreg.adapters`` (a notebook takes either as its ``model``
parameter; ``trajreg report`` passes the second). Each ``cached_*`` function computes its result once
and stores it with ``trajreg.cache.cached``, keyed by the model's weights (``cache.model_key``, or
:func:`pipeline_key` for a folder: a sha256 of its files), the seeds and every setting it depends on.
The algorithms themselves live elsewhere (``gits.warmup``, ``trajectory.sample``,
``evaluate.evaluate``); these wrappers only draw the per-seed noises, time and cache them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trajreg import _validate, classifier, data, evaluate, gits, models, schedules, trajectory
from trajreg.cache import cached, model_key
from trajreg.denoisers import Denoiser
from trajreg.schedules import SIGMA_MAX, SIGMA_MIN

__all__ = ["PIPELINE", "WARMUP_SEED", "Model", "cached_reference", "cached_run", "cached_trajectories",
           "cached_warmup", "eval_seeds", "load_model", "pipeline_key"]

WARMUP_SEED = 1_000_000     # warm-up noises are seeds WARMUP_SEED + seed + i: never evaluation ones
PIPELINE = "pipeline:"      # model names "pipeline:<path>" are diffusers folders (trajreg.adapters)


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


def load_model(name: str, device: str | torch.device = "cpu", prompts: str = "") -> Model:
    """``models.load(name)`` with the key used to cache results computed with it.

    ``name`` "pipeline:<path>": the diffusers pipeline folder at path (``adapters.load``, classifier-free
    guidance ``adapters.GUIDANCE``), with its own sigma range and sample shape, keyed by
    :func:`pipeline_key`; ``prompts``: a prompts file (one per line) for a text-conditioned pipeline,
    "" for an unconditional one. Registered models take no prompts.
    """
    if name.startswith(PIPELINE):
        return _load_pipeline(name, str(device), prompts)
    if prompts:
        raise ValueError(f"prompts apply to a pipeline model ('{PIPELINE}<path>'), not to the registered "
                         f"model {name!r}")
    info = models.info(name)
    return Model(name, model_key(name), models.load(name, device), info.data_shape, str(device),
                 info.sigma_min, info.sigma_max)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pipeline_key(path: str | Path, prompts: Sequence[str] | None = None,
                 guidance_scale: float | None = None) -> str:
    """"pipeline@<sha256>" over every file of a pipeline folder (relative path and sha256 of its bytes:
    weights, configs, tokenizer; hidden files skipped), the prompts and the guidance scale (default
    ``adapters.GUIDANCE``): results of two folders share cache entries only if every file is the same."""
    if guidance_scale is None:
        from trajreg import adapters

        guidance_scale = adapters.GUIDANCE
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"pipeline folder {str(folder)!r} does not exist")
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()
                    and not any(part.startswith(".") for part in p.relative_to(folder).parts)):
        h.update(f"{f.relative_to(folder).as_posix()}\0{_sha256_file(f)}\n".encode())
    if prompts:
        h.update(("prompts\0" + "\n".join(prompts) + f"\0guidance {float(guidance_scale)!r}").encode())
    return f"pipeline@{h.hexdigest()}"


def _load_pipeline(name: str, device: str, prompts: str) -> Model:
    """A "pipeline:<path>" model: ``adapters.load`` on the folder, keyed by :func:`pipeline_key`."""
    from trajreg import adapters

    path = name[len(PIPELINE):]
    if not path:
        raise ValueError(f"model {name!r} names no folder; write '{PIPELINE}<path>'")
    plist = adapters.read_prompts(prompts) if prompts else None
    m = adapters.load(path, plist, device=device)
    return Model(name, pipeline_key(path, plist), m.denoiser, m.shape, device, m.sigma_min, m.sigma_max)


def eval_seeds(seed: int, n: int, repeat: int = 0) -> range:
    """Evaluation seeds of noise set ``repeat``: n consecutive seeds, disjoint across repeats."""
    _validate.at_least("n", n, 1)
    return range(seed + repeat * n, seed + (repeat + 1) * n)


def cached_warmup(model: Model, n: int, *, seed: int = 0, grid: int = 61, teacher: str = "ipndm",
                  batch_size: int = 256) -> tuple[Any, float]:
    """``gits.warmup`` on noises WARMUP_SEED + seed + (0..n-1) over a ``grid``-point polynomial (rho 7)
    grid of the model's sigma range, cached; (Trajectory, seconds taken when it was computed)."""
    def compute():
        noise = data.noise(range(WARMUP_SEED + seed, WARMUP_SEED + seed + n), model.shape,
                           device=model.device)
        start = time.perf_counter()
        warm = gits.warmup(model.denoiser, noise, model.polynomial(grid - 1), teacher,
                           batch_size=batch_size)
        return warm, time.perf_counter() - start

    key = {"model": model.key, "n": n, "seed": seed, "grid": grid, "teacher": teacher}
    return cached("warmup", key, compute)


def cached_reference(model: Model, seeds: range, n_steps: int = 100, solver: str = "ipndm",
                     batch_size: int = 500) -> torch.Tensor:
    """High-accuracy PF-ODE solutions (``solver`` on the n_steps polynomial rho=7 schedule over the
    model's sigma range, [0.002, 80] for EDM models) from the noises of ``seeds``, cached; float64
    (len(seeds), *shape)."""
    def compute():
        noise = data.noise(seeds, model.shape, device=model.device)
        return evaluate.final_samples(model.denoiser, noise, model.polynomial(n_steps),
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
