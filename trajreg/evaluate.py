"""Evaluate a (solver, schedule) pair: final samples, FID, ODE-solution error, timing.

The ODE error of a sample is its distance to a high-accuracy solution of the same PF-ODE from the
same noise, ||x - x_ref||_2 / sqrt(d) (root-mean-square per pixel, data in [-1, 1]): unlike FID it
needs no large sample, since both solutions share the noise and differ only by discretisation.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.linalg import LinAlgWarning
from tqdm import tqdm

from trajreg import _validate, fid, schedules, solvers
from trajreg.denoisers import Denoiser
from trajreg.schedules import SIGMA_MAX, SIGMA_MIN

__all__ = ["Result", "baseline", "evaluate", "final_samples", "n_steps", "ode_error", "sample_in_batches",
           "propagated_error", "propagated_errors", "time_denoiser"]


def n_steps(solver: str, nfe: int) -> int | None:
    """Steps K whose schedule (K+1 sigmas, ending above 0) costs ``solver`` exactly ``nfe``
    evaluations, or None where that NFE is not reachable (odd NFE for Heun, DPM-Solver-2)."""
    _validate.at_least("nfe", nfe, 1)
    per_step = solvers.nfe(solver, 2)
    return nfe // per_step if nfe % per_step == 0 else None


def baseline(solver: str, K: int, sigma_min: float = SIGMA_MIN,
             sigma_max: float = SIGMA_MAX) -> torch.Tensor:
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


def sample_in_batches(denoiser: Denoiser, noise: torch.Tensor, sigmas: torch.Tensor,
                      solver: str = "ipndm", *, batch_size: int = 500, desc: str = "sampling",
                      **solver_kw: Any) -> torch.Tensor:
    """``final_samples`` batch by batch with a progress bar (every 30 s at most), each
    batch moved to the CPU: large sample sets on a GPU."""
    parts = [final_samples(denoiser, z, sigmas, solver, batch_size=batch_size, **solver_kw).cpu()
             for z in tqdm(noise.split(batch_size), desc=desc, mininterval=30)]
    return torch.cat(parts)


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
    features: np.ndarray | None = None    # FID features (N, F) of the samples, for intervals
    classes: np.ndarray | None = None     # predicted class (N,) ("fmnist" features only)


def evaluate(denoiser: Denoiser, noise: torch.Tensor, sigmas: torch.Tensor, solver: str, *,
             schedule: str = "", x_ref: torch.Tensor | None = None, fid_ref: Any = "fmnist-train",
             fid_extractor: str = "fmnist", compute_fid: bool = True,
             batch_size: int = 500) -> Result:
    """Sample ``noise`` with ``solver`` on ``sigmas``; FID against ``fid_ref`` (see ``fid.fid``)
    and the ODE error of the first len(x_ref) samples against ``x_ref`` (reference solutions of
    the same noises)."""
    start = time.perf_counter()
    x = final_samples(denoiser, noise, sigmas, solver, batch_size=batch_size)
    _sync(x)
    seconds = time.perf_counter() - start
    errs = [] if x_ref is None else ode_error(x[: len(x_ref)], x_ref).tolist()
    score = feats = classes = None
    if compute_fid:
        # scored as 8-bit images, as fid.features does; a diverged sample may leave [-1, 1]
        u = fid.to_uint8(x.float().cpu())
        feats = fid.features(u, fid_extractor)
        with warnings.catch_warnings():  # few samples, dead ReLU features: singular covariances
            warnings.filterwarnings("ignore", "Matrix is singular", LinAlgWarning)
            score = fid.frechet_distance(*fid.statistics(feats), *fid.as_stats(fid_ref))
        classes = fid.classify(u) if fid_extractor == "fmnist" else None
    return Result(solver, schedule, solvers.nfe(solver, sigmas), [float(s) for s in sigmas],
                  score, sum(errs) / len(errs) if errs else None, seconds, errs, feats, classes)


def propagated_errors(denoiser: Denoiser, warm: Any, pairs: Sequence[tuple[int, int]],
                      n: int | None = None, teacher: str = "ipndm",
                      device: str | torch.device = "cpu") -> list[dict[str, Any]]:
    """What one Euler jump of a GITS cost matrix costs where it lands and at the end, per sample.

    For each grid pair (i, j): the jump x_hat = x_i + (t_j - t_i) d_i from the first n warm-up
    states (all if n is None), as in ``gits.cost_matrix``; then x_hat and the teacher's own x_j
    are solved on to grid[-1] with ``teacher`` on the fine grid grid[j:]. Returns, per pair, i, j,
    sigma_from, sigma_to and the per-sample errors (B,) float64 as RMS per coordinate: "landing",
    ||x_hat - x_j||, and "final", ||Phi(x_hat) - Phi(x_j)||. The denoiser runs on ``device``.
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
        out.append({"i": i, "j": j, "sigma_from": float(t[i]), "sigma_to": float(t[j]),
                    "landing": ode_error(x_hat, x[j]), "final": ode_error(end_hat, end)})
    return out


def propagated_error(denoiser: Denoiser, warm: Any, pairs: Sequence[tuple[int, int]],
                     n: int = 16, teacher: str = "ipndm",
                     device: str | torch.device = "cpu") -> list[dict[str, float]]:
    """Means over samples of :func:`propagated_errors`: per pair, the local error E||x_hat - x_j||
    (the l2 cost) and the propagated one E||Phi(x_hat) - Phi(x_j)||."""
    return [{"i": r["i"], "j": r["j"], "local": float(r["landing"].mean()),
             "propagated": float(r["final"].mean())}
            for r in propagated_errors(denoiser, warm, pairs, n, teacher, device)]


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
