"""Diagnostics for GITS schedules: why a schedule helps at one budget and not at another.

Each function isolates one ingredient of a GITS schedule (Chen et al., ICML 2024, Sec. 4.3):

- the first jump: ``oracle_first_jump`` (replace the state it lands on by the exact one),
  ``forced_first_jump`` (merge a schedule's first steps into one jump), ``first_stop_sweep``
  (move the first stop at fixed NFE), ``teacher_state`` (the exact state at a noise level);
- the warm-up draw: ``per_sample_costs`` and ``choice_frequency`` (bootstrap over warm-up samples);
- error propagation: ``propagation`` (a jump's error where it lands and at the end of sampling)
  and ``expansion_factor`` (largest singular value of the flow map's Jacobian, by power
  iteration with Jacobian-vector products);
- the model: ``hybrid_denoiser`` (exact denoiser at high noise, network below).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from trajreg import _validate, evaluate, gits, schedules, solvers
from trajreg.denoisers import Denoiser
from trajreg.trajectory import Trajectory

__all__ = ["choice_frequency", "expansion_factor", "first_stop_sweep", "forced_first_jump",
           "hybrid_denoiser", "oracle_first_jump", "per_sample_costs", "propagation",
           "teacher_state"]


def teacher_state(denoiser: Denoiser, noise: torch.Tensor, sigma: float, n_steps: int = 40,
                  solver: str = "ipndm") -> torch.Tensor:
    """The PF-ODE state at ``sigma`` from x_T = 80-scaled noise: ``solver`` with ``n_steps`` on
    the polynomial rho = 7 schedule over [sigma, 80] (the 'exact' state for ``oracle_first_jump``)."""
    _validate.positive("sigma", sigma)
    grid = schedules.polynomial(n_steps + 1, sigma_min=float(sigma), sigma_max=schedules.SIGMA_MAX)
    return solvers.get(solver)(denoiser, schedules.SIGMA_MAX * noise, grid)


def oracle_first_jump(denoiser: Denoiser, noise: torch.Tensor, sigmas: torch.Tensor,
                      solver: str, x_ref_at: torch.Tensor | None = None,
                      **solver_kw: Any) -> torch.Tensor:
    """Solve on ``sigmas`` with the state after the first jump replaced by ``x_ref_at`` (the exact
    state at sigmas[1], e.g. from ``teacher_state``); the solver restarts there (a multistep
    solver forgets its history). x_ref_at=None is the control: restart from the solver's own
    Euler first jump, so that (oracle - control) isolates the first jump's error.
    """
    sigmas = _validate.sigmas(sigmas)
    x0 = float(sigmas[0]) * noise
    if x_ref_at is None:
        step = solvers.get("euler")
        x_ref_at = step(denoiser, x0, sigmas[:2])
    _validate.same_shape("x_ref_at", x_ref_at, "noise", noise)
    return solvers.get(solver)(denoiser, x_ref_at.to(noise), sigmas[1:], **solver_kw)


def forced_first_jump(sigmas: torch.Tensor, sigma_stop: float) -> torch.Tensor:
    """``sigmas`` with every stop above ``sigma_stop`` (except sigmas[0]) removed: the first steps
    become one jump from sigmas[0] to the first stop <= sigma_stop. NFE falls by the number of
    stops removed (say so wherever it is compared at equal NFE)."""
    s = _validate.sigmas(sigmas).to(torch.float64)
    keep = s[1:] <= sigma_stop * (1 + 1e-9)
    if not keep.any():
        raise ValueError(f"sigma_stop={sigma_stop} lies below every stop of the schedule")
    return torch.cat([s[:1], s[1:][keep]])


def first_stop_sweep(gits_sigmas: torch.Tensor, stops: Sequence[float]) -> dict[float, torch.Tensor]:
    """For each stop: ``gits_sigmas`` with ``stop`` inserted and the lowest interior stop dropped,
    so NFE is unchanged; {stop: sigmas}. Stops already in the schedule or outside (sigma_min,
    sigma_max) are left out."""
    s = _validate.sigmas(gits_sigmas).to(torch.float64)
    if len(s) < 3:
        raise ValueError("gits_sigmas needs an interior stop to drop (at least 3 sigmas)")
    interior = s[1:-1].tolist()
    out = {}
    for stop in stops:
        if not s[-1] < stop < s[0] or any(abs(stop - v) <= 1e-9 * stop for v in interior):
            continue
        new = sorted([*interior[:-1], float(stop)], reverse=True)
        out[float(stop)] = torch.tensor([float(s[0]), *new, float(s[-1])], dtype=torch.float64)
    return out


def per_sample_costs(warm: Trajectory, metric: str = "l2") -> torch.Tensor:
    """Per-sample terms of ``gits.cost_matrix``: (N, N, B) float64 whose mean over the last axis is
    the cost matrix (+inf on and below the diagonal). "dev" uses each sample's own chord."""
    _validate.choice("metric", metric, ("l2", "l1", "dev"))
    t, x, d = gits._check_warmup(warm)
    N, B, _ = x.shape
    C = torch.full((N, N, B), float("inf"), dtype=torch.float64)
    if metric == "dev":
        start, chord = x[0], x[-1] - x[0]
        u = chord / chord.norm(dim=-1, keepdim=True)
        dev = gits._chord_distance(x, start, u)             # (N, B)
        dev[0] = dev[-1] = 0.0
    for i in range(N - 1):
        h = (t[i + 1:] - t[i]).to(x)[:, None, None]
        x_hat = x[i] + h * d[i]                             # (N-i-1, B, D)
        if metric == "l2":
            c = (x_hat - x[i + 1:]).norm(dim=-1)
        elif metric == "l1":
            c = (x_hat - x[i + 1:]).abs().sum(-1)
        else:
            c = gits._chord_distance(x_hat, start, u) - dev[i + 1:]
        C[i, i + 1:] = c.cpu()
    return C


def choice_frequency(warm: Trajectory | torch.Tensor, metric: str = "l2",
                     gamma: float = gits.GAMMA, K: int = 5, n_boot: int = 50,
                     seed: int = 0) -> dict[tuple[int, ...], int]:
    """How often each K-step GITS schedule (tuple of grid indices) is chosen when the warm-up
    samples are resampled with replacement (``n_boot`` bootstrap sets of the same size).

    ``warm``: a warm-up ``Trajectory`` or its ``per_sample_costs`` (to reuse them across K).
    Returns {path: count}, most frequent first; counts sum to n_boot.
    """
    _validate.at_least("n_boot", n_boot, 1)
    per = per_sample_costs(warm, metric) if isinstance(warm, Trajectory) else warm
    B = per.shape[-1]
    finite = torch.isfinite(per[..., 0])
    body = torch.where(finite[..., None], per, torch.zeros(()))
    rng = np.random.default_rng(seed)
    counts: Counter = Counter()
    for _ in range(n_boot):
        w = torch.from_numpy(np.bincount(rng.integers(0, B, B), minlength=B) / B)
        cost = torch.where(finite, body @ w, torch.tensor(float("inf"), dtype=torch.float64))
        counts[tuple(gits.optimal_path(cost, K, gamma).tolist())] += 1
    return dict(counts.most_common())


def propagation(denoiser: Denoiser, warm: Trajectory, jumps: Sequence[tuple[int, int]],
                teacher: str = "ipndm") -> list[dict[str, Any]]:
    """For each grid jump (i, j) of a schedule, the per-sample error where it lands and at the end
    of sampling (``evaluate.propagated_errors`` on every warm-up sample, on the warm-up's device)."""
    return evaluate.propagated_errors(denoiser, warm, jumps, teacher=teacher, device=warm.x.device)


def _differentiable(denoiser: Denoiser) -> Denoiser:
    """The denoiser without an inference-mode wrapper (``models.NoGrad``), so autograd sees it."""
    inner = getattr(denoiser, "D", None)
    return inner if isinstance(inner, torch.nn.Module) else denoiser


def expansion_factor(denoiser: Denoiser, x: torch.Tensor, sigma_from: float, sigma_to: float,
                     teacher: str = "ipndm", n_iter: int = 10, n_steps: int = 20,
                     seed: int = 0) -> torch.Tensor:
    """Largest singular value of d Phi / d x per sample, Phi the flow map from ``sigma_from`` to
    ``sigma_to`` (``teacher``, ``n_steps`` on the polynomial grid between them), by ``n_iter``
    power iterations on J^T J with torch.func.jvp / vjp; x (B, *dims) at sigma_from -> (B,).

    Samples do not interact, so J is block-diagonal and one batched iteration serves all of them.
    """
    _validate.at_least("n_iter", n_iter, 1)
    if not sigma_from > sigma_to > 0:
        raise ValueError(f"need sigma_from > sigma_to > 0, got {sigma_from}, {sigma_to}")
    D = _differentiable(denoiser)
    grid = schedules.polynomial(n_steps + 1, sigma_min=float(sigma_to), sigma_max=float(sigma_from))
    step = solvers.get(teacher)

    def phi(y: torch.Tensor) -> torch.Tensor:
        return step(D, y, grid)

    g = torch.Generator().manual_seed(seed)
    v = torch.randn(x.shape, generator=g, dtype=torch.float64).to(x)
    sig = torch.zeros(x.shape[0], dtype=torch.float64)
    for _ in range(n_iter):
        v = v / v.flatten(1).norm(dim=1).reshape(-1, *[1] * (x.ndim - 1))
        _, jv = torch.func.jvp(phi, (x,), (v,))
        sig = jv.flatten(1).norm(dim=1).to(torch.float64).cpu()
        v = torch.func.vjp(phi, x)[1](jv)[0]
    return sig


def hybrid_denoiser(exact: Denoiser, network: Denoiser, sigma_switch: float) -> Denoiser:
    """D(x, sigma) = exact(x, sigma) where sigma > sigma_switch, network(x, sigma) elsewhere
    (a network with a perfect high-noise regime; sigma a scalar or one per sample)."""
    _validate.positive("sigma_switch", sigma_switch)

    def D(x: torch.Tensor, sigma: Any) -> torch.Tensor:
        s = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1)
        high = s > sigma_switch
        if bool(high.all()):
            return exact(x, sigma)
        if not bool(high.any()):
            return network(x, sigma)
        mask = high.to(x.device).reshape(-1, *[1] * (x.ndim - 1))
        return torch.where(mask, exact(x, sigma), network(x, sigma))

    return D
