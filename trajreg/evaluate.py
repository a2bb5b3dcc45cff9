"""Evaluate a (solver, schedule) pair: final samples, FID, ODE-solution error, timing, caching.

The ODE error of a sample is its distance to a high-accuracy solution of the same PF-ODE from the
same noise, ||x - x_ref||_2 / sqrt(d) (root-mean-square per pixel, data in [-1, 1]): unlike FID it
needs no large sample, since both solutions share the noise and differ only by discretisation.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from scipy.linalg import LinAlgWarning

from trajreg import _validate, data, schedules, solvers
from trajreg.denoisers import Denoiser

__all__ = ["WARMUP_SEED", "Model", "Result", "baseline", "cached", "evaluate", "final_samples",
           "load", "model_key", "n_steps", "ode_error", "propagated_error", "reference", "run",
           "seeds", "source_hash", "time_denoiser", "warmup"]

T = TypeVar("T")
PACKAGE = Path(__file__).parent
# Modules whose code a cached result depends on (sampling, models, data, FID).
SOURCES = ("_validate", "data", "denoisers", "evaluate", "fid", "gits", "models", "networks",
           "schedules", "solvers", "trajectory")
WARMUP_SEED = 1_000_000     # warm-up noises are seeds WARMUP_SEED + seed + i: never evaluation ones


def n_steps(solver: str, nfe: int) -> int | None:
    """Steps K whose schedule (K+1 sigmas, ending above 0) costs ``solver`` exactly ``nfe``
    evaluations, or None where that NFE is not reachable (odd NFE for Heun, DPM-Solver-2)."""
    _validate.at_least("nfe", nfe, 1)
    per_step = solvers.nfe(solver, 2)
    return nfe // per_step if nfe % per_step == 0 else None


def baseline(solver: str, K: int, sigma_min: float = 0.002,
             sigma_max: float = 80.0) -> torch.Tensor:
    """The solver's recommended schedule with K steps (``schedules.RECOMMENDED``)."""
    name, kw = schedules.RECOMMENDED[_validate.choice("solver", solver, schedules.RECOMMENDED)]
    return schedules.get(name, K + 1, sigma_min=sigma_min, sigma_max=sigma_max, **kw)


def final_samples(denoiser: Denoiser, noise: torch.Tensor, sigmas: torch.Tensor,
                  solver: str = "euler", *, batch_size: int = 500,
                  **solver_kw: Any) -> torch.Tensor:
    """Solve the PF-ODE from x = sigmas[0] * noise to sigmas[-1]; (B, *dims) in noise's dtype.

    Batches of ``batch_size``; each sample depends only on its own noise, not on the batching.
    """
    step = solvers.get(solver)
    _validate.at_least("batch_size", batch_size, 1)
    sigmas = _validate.sigmas(sigmas)
    return torch.cat([step(denoiser, float(sigmas[0]) * z, sigmas, **solver_kw)
                      for z in noise.split(batch_size)])


def ode_error(x: torch.Tensor, x_ref: torch.Tensor) -> torch.Tensor:
    """Per-sample ||x - x_ref||_2 / sqrt(d) (RMS per coordinate), float64 (B,)."""
    _validate.same_shape("x", x, "x_ref", x_ref)
    diff = (x.to(torch.float64) - x_ref.to(torch.float64)).flatten(1)
    return diff.norm(dim=1) / math.sqrt(diff.shape[1])


@dataclass
class Result:
    """One evaluated (solver, schedule): NFE, FID (None if not computed), mean ODE error (None
    without a reference), sampling time."""

    solver: str
    schedule: str
    nfe: int
    sigmas: list[float]
    fid: float | None
    ode_error: float | None
    seconds: float
    ode_errors: list[float]       # per sample, for paired comparisons


def evaluate(denoiser: Denoiser, noise: torch.Tensor, sigmas: torch.Tensor, solver: str, *,
             schedule: str = "", x_ref: torch.Tensor | None = None, fid_ref: Any = "fmnist-train",
             fid_extractor: str = "fmnist", compute_fid: bool = True,
             batch_size: int = 500) -> Result:
    """Sample ``noise`` with ``solver`` on ``sigmas``; FID against ``fid_ref`` (see ``fid.fid``)
    and the ODE error of the first len(x_ref) samples against ``x_ref`` (reference solutions of
    the same noises)."""
    from trajreg import fid

    start = time.perf_counter()
    x = final_samples(denoiser, noise, sigmas, solver, batch_size=batch_size)
    _sync(x)
    seconds = time.perf_counter() - start
    errs = [] if x_ref is None else ode_error(x[: len(x_ref)], x_ref).tolist()
    score = None
    if compute_fid:
        with warnings.catch_warnings():  # few samples, dead ReLU features: singular covariances
            warnings.filterwarnings("ignore", "Matrix is singular", LinAlgWarning)
            # scored as 8-bit images, as fid.features does; a diverged sample may leave [-1, 1]
            score = fid.fid(fid.to_uint8(x.float()), fid_ref, fid_extractor)
    return Result(solver, schedule, solvers.nfe(solver, sigmas), [float(s) for s in sigmas],
                  score, sum(errs) / len(errs) if errs else None, seconds, errs)


def propagated_error(denoiser: Denoiser, warm: Any, pairs: Sequence[tuple[int, int]],
                     n: int = 16, teacher: str = "ipndm",
                     device: str | torch.device = "cpu") -> list[dict[str, float]]:
    """What one Euler jump of a GITS cost matrix costs at the end of sampling.

    For each grid pair (i, j): the jump x_hat = x_i + (t_j - t_i) d_i from the first n warm-up
    states (as in ``gits.cost_matrix``), then both x_hat and the teacher's own x_j are solved
    on to grid[-1] with ``teacher`` on the fine grid grid[j:]. Returns, per pair, the local error
    E||x_hat - x_j|| (the l2 cost) and the propagated one E||Phi(x_hat) - Phi(x_j)||, both as
    RMS per coordinate. The states are moved to ``device``, where the denoiser runs.
    """
    t = warm.sigmas
    x = warm.x[:, :n].to(device, torch.float64)
    den = warm.denoised[:, :n].to(device, torch.float64)
    d = (x[:-1] - den) / t[:-1].to(device).reshape(-1, *[1] * (x.ndim - 1))
    step = solvers.get(teacher)
    ends: dict[int, torch.Tensor] = {}
    out = []
    for i, j in pairs:
        x_hat = x[i] + float(t[j] - t[i]) * d[i]
        if j == len(t) - 1:
            end_hat, end = x_hat, x[j]
        else:
            if j not in ends:
                ends[j] = step(denoiser, x[j], t[j:])
            end_hat, end = step(denoiser, x_hat, t[j:]), ends[j]
        out.append({"i": i, "j": j, "local": float(ode_error(x_hat, x[j]).mean()),
                    "propagated": float(ode_error(end_hat, end).mean())})
    return out


def _sync(x: torch.Tensor) -> None:
    """Wait for the GPU work behind x (timings of CUDA calls are otherwise only launch times)."""
    if x.is_cuda:
        torch.cuda.synchronize(x.device)


def time_denoiser(denoiser: Denoiser, x: torch.Tensor, sigma: float = 1.0,
                  repeats: int = 3) -> float:
    """Median wall time (s) of one denoiser call on the batch x."""
    _sync(denoiser(x, sigma))                                 # warm-up call
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _sync(denoiser(x, sigma))
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


# --- caching expensive results between notebooks ------------------------------------------------


def source_hash() -> str:
    """sha256 of the package modules results depend on: a change there invalidates the cache."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE / f"{name}.py" for name in SOURCES):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def model_key(name: str) -> str:
    """A name that changes with the model's weights: ``name`` plus the sha256 on its card."""
    from trajreg import models

    try:
        return f"{name}@{models.card(name)['sha256']}"
    except FileNotFoundError:
        return name


def _json(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, range):
        return [value.start, value.stop, value.step]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    return value if isinstance(value, (int, float, str, bool, type(None))) else repr(value)


def _features_key(extractor: str) -> str:
    """The checksum of the classifier behind the "fmnist" FID features ("" for others)."""
    from trajreg import fid

    return fid.classifier_card()["sha256"] if extractor == "fmnist" else ""


def cached(kind: str, key: dict, compute: Callable[[], T], *,
           folder: str | Path | None = None) -> T:
    """Return ``compute()``, stored under ``folder`` (default $TRAJREG_CACHE/results) by a hash
    of ``kind``, ``key`` and the package sources; later calls with the same key load it.

    ``key`` must name everything the result depends on (model_key, seeds, solver, sigmas, ...).
    """
    folder = Path(folder) if folder is not None else data.cache_dir() / "results"
    blob = json.dumps({"kind": kind, "key": _json(key), "source": source_hash()}, sort_keys=True)
    path = folder / f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}.pt"
    if path.is_file():
        stored = torch.load(path, weights_only=False)
        if stored.get("key") == blob:
            return stored["value"]
    value = compute()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    torch.save({"key": blob, "value": value}, tmp)
    tmp.replace(path)
    return value


# --- cached runs on a registered model ---------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """A registered model: name, a key that changes with its weights, D(x, sigma), data shape."""

    name: str
    key: str
    denoiser: Denoiser
    shape: tuple[int, ...]
    device: str = "cpu"         # where the denoiser runs; noises are drawn (on the CPU) and moved


def load(name: str, device: str | torch.device = "cpu") -> Model:
    """``models.load(name)`` with the key used to cache results computed with it."""
    from trajreg import models

    return Model(name, model_key(name), models.load(name, device), models.info(name).data_shape,
                 str(device))


def seeds(seed: int, n: int, repeat: int = 0) -> range:
    """Evaluation seeds of noise set ``repeat``: n consecutive seeds, disjoint across repeats."""
    _validate.at_least("n", n, 1)
    return range(seed + repeat * n, seed + (repeat + 1) * n)


def warmup(model: Model, n: int, *, seed: int = 0, grid: int = 61, teacher: str = "ipndm",
           batch_size: int = 256) -> tuple[Any, float]:
    """GITS warm-up on noises WARMUP_SEED + seed + (0..n-1), cached; (Trajectory, seconds taken
    when it was computed)."""
    from trajreg import gits

    def compute():
        noise = data.noise(range(WARMUP_SEED + seed, WARMUP_SEED + seed + n), model.shape,
                           device=model.device)
        start = time.perf_counter()
        warm = gits.warmup(model.denoiser, noise, grid, teacher, batch_size=batch_size)
        return warm, time.perf_counter() - start

    key = {"model": model.key, "n": n, "seed": seed, "grid": grid, "teacher": teacher}
    return cached("warmup", key, compute)


def reference(model: Model, seeds: range, n_steps: int = 100, solver: str = "ipndm",
              batch_size: int = 500) -> torch.Tensor:
    """High-accuracy PF-ODE solutions (``solver`` on the n_steps polynomial rho=7 schedule over
    [0.002, 80]) from the noises of ``seeds``, cached; float64 (len(seeds), *shape)."""
    def compute():
        noise = data.noise(seeds, model.shape, device=model.device)
        return final_samples(model.denoiser, noise, schedules.polynomial(n_steps + 1), solver,
                             batch_size=batch_size).cpu()

    key = {"model": model.key, "seeds": seeds, "n_steps": n_steps, "solver": solver}
    return cached("reference", key, compute)


def run(model: Model, solver: str, sigmas: torch.Tensor, seeds: range, *, schedule: str = "",
        x_ref: torch.Tensor | None = None, compute_fid: bool = True,
        fid_ref: Any = "fmnist-train", fid_extractor: str = "fmnist",
        batch_size: int = 500) -> Result:
    """``evaluate`` on the noises of ``seeds``, cached by (model, solver, sigmas, seeds, x_ref,
    FID reference and features)."""
    def compute():
        noise = data.noise(seeds, model.shape, device=model.device)
        ref = None if x_ref is None else x_ref.to(model.device)
        return evaluate(model.denoiser, noise, sigmas, solver, schedule=schedule, x_ref=ref,
                        fid_ref=fid_ref, fid_extractor=fid_extractor, compute_fid=compute_fid,
                        batch_size=batch_size)

    ref = (None if x_ref is None
           else hashlib.sha256(x_ref.double().cpu().numpy().tobytes()).hexdigest())
    key = {"model": model.key, "solver": solver, "sigmas": sigmas, "seeds": seeds, "ref": ref,
           "fid": [fid_ref, fid_extractor, _features_key(fid_extractor)] if compute_fid else None}
    result = cached("run", key, compute)
    result.schedule = schedule
    return result
