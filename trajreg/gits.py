"""Geometry-Inspired Time Scheduling (GITS; Chen et al., ICML 2024, Sec. 4.3 and Algorithm 1).

Three pieces, each testable on its own, then a one-call convenience:

1. ``warmup``: teacher trajectories on a fine grid Gamma_g (default: the 61-point polynomial
   rho = 7 grid over [0.002, 80], iPNDM order 4, as the authors' code), recorded as a
   ``Trajectory`` (states x_i and denoiser outputs; derivatives d_i = (x_i - D(x_i, t_i)) / t_i).
2. ``cost_matrix``: the cost of ONE Euler jump x_i + (t_j - t_i) d_i from teacher state i to grid
   point j: by default the official code's "dev" (change of the distance to the trajectory's
   chord), or the paper's written "l2" = E || x_i + (t_j - t_i) d_i - x_j || (or "l1").
3. ``optimal_path``: the dynamic programme min over 0 = i_0 < ... < i_K = N-1 of
   sum_m gamma^m c[i_m, i_{m+1}]; ``optimal_paths`` gives every K up to a maximum from one table.

``schedule`` chains them and returns sigmas; ``as_list``, ``as_diffusers`` and ``as_k_diffusion``
export a schedule. Example (any denoiser ``D(x, sigma)``, here with 256 warm-up noises)::

    from trajreg import data, gits
    noise = data.noise(range(256), (1, 28, 28))          # float64 states, any network dtype
    sigmas = gits.schedule(D, noise, n_steps=5)          # 6 sigmas: 80.0, ..., 0.002
    gits.as_list(sigmas)                                 # plain floats, e.g. for --t_steps=
    pipe(prompt, sigmas=gits.as_diffusers(sigmas))       # diffusers: last sigma set to 0
    k_diffusion.sampling.sample_euler(model, x, gits.as_k_diffusion(sigmas))

The DP is cheap (about 0.3 ms for 61 grid points and K = 10); the warm-up, 256 x 60 denoiser
evaluations, is almost all of the cost.

The schedule depends on the model, the teacher and the grid only: the cost uses Euler jumps
whatever solver will later run on the schedule (as in the paper's code).
"""

from __future__ import annotations

import math
from numbers import Integral
from typing import Any

import numpy as np
import torch

from trajreg import _validate, schedules, trajectory
from trajreg.denoisers import Denoiser
from trajreg.schedules import SIGMA_MAX, SIGMA_MIN
from trajreg.trajectory import Trajectory

__all__ = ["GAMMA", "METRIC", "METRICS", "N_GRID", "N_WARMUP", "TEACHERS", "as_diffusers", "as_k_diffusion",
           "as_list", "cost_matrix", "default_grid", "optimal_path", "optimal_paths", "path_cost",
           "schedule", "warmup"]

N_GRID = 61            # |Gamma_g| of the official code (--num_steps_tea=61)
N_WARMUP = 256         # warm-up samples (--num_warmup)
GAMMA = 1.15           # DP discount of the official code for EDM models (--coeff)
METRICS = ("l2", "l1", "dev")
METRIC = "dev"         # cost of the official code (--metric), with which gamma 1.15 was chosen
# Solvers whose callback reports D at the teacher state itself (UniPC reports it at the predicted
# point, and the official code does not allow it as a teacher either).
TEACHERS = ("ipndm", "euler", "heun", "dpm2", "dpmpp_2m", "dpmpp_3m", "deis", "dpm_2m_eps")


def default_grid(n: int = N_GRID, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX,
                 rho: float = 7.0) -> torch.Tensor:
    """The fine grid Gamma_g: EDM polynomial schedule, n points (paper Sec. 4.3; code default)."""
    return schedules.polynomial(n, sigma_min, sigma_max, rho)


def warmup(denoiser: Denoiser, noise: torch.Tensor, grid: torch.Tensor | int | None = None,
           teacher: str = "ipndm", *, batch_size: int | None = None, progress: bool = False,
           **teacher_kw: Any) -> Trajectory:
    """Teacher trajectories on the fine grid (the warm-up of Algorithm 1).

    noise: (B, *dims) standard normal, x_T = grid[0] * noise (the paper uses B = 256).
    grid: the fine grid (descending sigmas), an int n for ``default_grid(n)``, or None (61 points).
    teacher: a solver name in ``TEACHERS`` (default iPNDM, max_order 4 as in the official code).
    Returns a ``Trajectory`` with x (N, B, *dims) and denoised (N-1, B, *dims), stored in the dtype
    of ``noise``; the teacher derivative at state i is d_i = (x_i - denoised_i) / grid[i].
    """
    _validate.choice("teacher", teacher, TEACHERS)
    if grid is None:
        grid = default_grid()
    elif isinstance(grid, Integral) and not isinstance(grid, bool):
        grid = default_grid(int(grid))
    grid = _validate.sigmas(grid, "grid")
    if not grid[-1] > 0:
        raise ValueError("grid must end at a sigma > 0 (the derivative is undefined at sigma = 0)")
    if not isinstance(noise, torch.Tensor) or not noise.is_floating_point() or noise.ndim < 2:
        raise ValueError("noise must be a floating-point tensor of shape (B, *dims)")
    return trajectory.sample(denoiser, noise, grid, solver=teacher, batch_size=batch_size,
                             progress=progress, store_dtype=noise.dtype, **teacher_kw)


def _check_warmup(traj: Trajectory) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validate a warm-up; return float64 sigmas (N,), states (N, B, D), derivatives (N-1, B, D)."""
    if not isinstance(traj, Trajectory):
        raise TypeError(f"expected the Trajectory returned by warmup(), got {type(traj).__name__}")
    t = _validate.sigmas(traj.sigmas, "warm-up sigmas").to(torch.float64)
    N = len(t)
    if traj.x.shape[0] != N or traj.denoised.shape[0] != N - 1:
        raise ValueError(f"warm-up: x must hold {N} states and denoised {N - 1}, got "
                         f"{traj.x.shape[0]} and {traj.denoised.shape[0]}")
    if not t[-1] > 0:
        raise ValueError("warm-up sigmas must end at a sigma > 0")
    x = traj.x.reshape(N, traj.x.shape[1], -1).to(torch.float64)
    den = traj.denoised.reshape(N - 1, traj.x.shape[1], -1).to(torch.float64)
    d = (x[:-1] - den) / t[:-1, None, None].to(x.device)
    return t, x, d


def _chord_distance(y: torch.Tensor, start: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """|| (y - start) - <y - start, u> u || for y (..., B, D), start (B, D), unit u (B, D)."""
    a = y - start
    return (a - (a * u).sum(-1, keepdim=True) * u).norm(dim=-1)


def cost_matrix(warm: Trajectory, metric: str = METRIC, *, chunk: int = 1 << 22) -> torch.Tensor:
    """Cost c[i, j] of one Euler jump from teacher state i to grid point j (paper Sec. 4.3).

    x_hat_ij = x_i + (t_j - t_i) d_i, averaged over the B warm-up samples::

      "dev": c_ij = E dev(x_hat_ij) - E dev(x_j), dev(y) = distance of y to the chord through the
             teacher's x_0 and x_{N-1} (the official code's default, and ours; signed, can be
             negative).
      "l2":  c_ij = E || x_hat_ij - x_j ||_2          (the cost the paper writes, Sec. 4.3)
      "l1":  c_ij = E || x_hat_ij - x_j ||_1

    Returns an (N, N) float64 tensor; entries with i >= j are +inf (no such jump). ``chunk``
    bounds the number of elements of the temporary jumped states.
    """
    _validate.choice("metric", metric, METRICS)
    t, x, d = _check_warmup(warm)
    N, B, D = x.shape
    C = torch.full((N, N), math.inf, dtype=torch.float64)
    if metric == "dev":
        start, chord = x[0], x[-1] - x[0]
        norm = chord.norm(dim=-1, keepdim=True)
        if (norm == 0).any():
            raise ValueError("warm-up: a trajectory ends where it starts, so 'dev' is undefined")
        u = chord / norm
        dev = _chord_distance(x, start, u).mean(-1)             # (N,)
        dev[0] = dev[-1] = 0.0
    step = max(1, chunk // max(1, B * D))
    for i in range(N - 1):
        for lo in range(i + 1, N, step):
            j = torch.arange(lo, min(lo + step, N))
            h = (t[j] - t[i]).to(x)[:, None, None]
            x_hat = x[i] + h * d[i]                             # (len(j), B, D)
            if metric == "l2":
                c = (x_hat - x[j]).norm(dim=-1).mean(-1)
            elif metric == "l1":
                c = (x_hat - x[j]).abs().sum(-1).mean(-1)
            else:
                c = _chord_distance(x_hat, start, u).mean(-1) - dev[j]
            C[i, j] = c.cpu()
    return C


def _check_cost(cost: torch.Tensor, n_steps: int, gamma: float) -> np.ndarray:
    """Validate (cost, K, gamma); return the float64 strict upper triangle, +inf elsewhere."""
    c = (cost.detach().to("cpu", torch.float64).numpy() if isinstance(cost, torch.Tensor)
         else np.array(cost, dtype=np.float64))
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"cost must be a square (N, N) matrix, got shape {c.shape}")
    N = c.shape[0]
    _validate.at_least("N (the cost matrix size)", N, 2)
    if isinstance(n_steps, bool) or not isinstance(n_steps, Integral):
        raise ValueError(f"n_steps must be an integer number of steps, got {n_steps!r}")
    if not 1 <= n_steps <= N - 1:
        raise ValueError(f"n_steps must lie in 1..N-1 = 1..{N - 1} for a {N}-point grid "
                         f"(K steps need K+1 distinct grid points), got {n_steps}")
    _validate.positive("gamma", gamma)
    upper = np.triu(np.ones((N, N), dtype=bool), 1)
    bad = upper & (np.isnan(c) | (c == -np.inf))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"cost has {int(bad.sum())} NaN or -inf entries above the diagonal, "
                         f"e.g. cost[{i}, {j}] = {c[i, j]}")
    return np.where(upper, c, np.inf)


def _dp(c: np.ndarray, K: int, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """Value V[j, k] (best k-step cost from j to N-1, first step weighted 1) and argmin table.

    V[j, 1] = c[j, N-1]; V[j, k] = min_{j<i<N-1} c[j, i] + gamma V[i, k-1] (official ``dp``).
    argmin returns the first minimum, i.e. the smallest index among exact ties, which is what the
    official backtracking (smallest j with V[w, k] == c[w, j] + gamma V[j, k-1]) picks. numpy, not
    torch: on a busy CPU torch's threaded kernels cost milliseconds for these tiny arrays.
    """
    N = c.shape[0]
    V = np.full((N, K + 1), np.inf)
    arg = np.full((N, K + 1), N - 1, dtype=np.int64)
    V[:, 1] = c[:, N - 1]
    inner = c[:, : N - 1]                                       # next point i < N-1
    for k in range(2, K + 1):
        total = inner + gamma * V[: N - 1, k - 1]
        arg[:, k] = total.argmin(1)
        V[:, k] = total[np.arange(N), arg[:, k]]
    return V, arg


def _backtrack(arg: np.ndarray, K: int) -> torch.Tensor:
    """Grid indices [0, i_1, ..., N-1] of the K-step optimum from the argmin table."""
    path = [0]
    for k in range(K, 1, -1):
        path.append(int(arg[path[-1], k]))
    path.append(arg.shape[0] - 1)
    return torch.tensor(path, dtype=torch.long)


def optimal_path(cost: torch.Tensor, n_steps: int, gamma: float = GAMMA) -> torch.Tensor:
    """Optimal K-step path through the grid: argmin over 0 = i_0 < ... < i_K = N-1 of
    sum_m gamma^m c[i_m, i_{m+1}] (paper Algorithm 1; official ``dp`` with its tie-break).

    cost: (N, N), only entries above the diagonal are read (+inf forbids a jump; NaN raises).
    n_steps: K in 1..N-1. gamma > 1 weights later (low-sigma) jumps more, pushing points toward
    sigma_min. Returns the K+1 grid indices (long tensor), 0 first and N-1 last; ties go to the
    smaller index. Time O(K N^2), vectorised over the grid: about 0.3 ms for N = 61, K = 10 on
    one CPU core (the paper: 0.015 s).
    """
    c = _check_cost(cost, n_steps, gamma)
    V, arg = _dp(c, n_steps, gamma)
    if not math.isfinite(V[0, n_steps]):
        raise ValueError(f"no {n_steps}-step path of finite cost through the grid")
    return _backtrack(arg, n_steps)


def optimal_paths(cost: torch.Tensor, max_steps: int, gamma: float = GAMMA) -> dict[int, torch.Tensor]:
    """``optimal_path`` for every K = 1..max_steps from one DP table: {K: (K+1,) grid indices}.

    The table does not depend on K (the weight of a jump depends on its rank from the start), so
    this costs no more than ``optimal_path(cost, max_steps, gamma)``. K with no finite path is left out.
    """
    c = _check_cost(cost, max_steps, gamma)
    V, arg = _dp(c, max_steps, gamma)
    return {K: _backtrack(arg, K) for K in range(1, max_steps + 1) if math.isfinite(V[0, K])}


# Old names of optimal_path / optimal_paths, kept for trajreg.distributed (another branch) until
# it moves; not in __all__.
search, search_all = optimal_path, optimal_paths


def path_cost(cost: torch.Tensor, path: torch.Tensor, gamma: float = GAMMA) -> float:
    """The DP objective sum_m gamma^m c[i_m, i_{m+1}] of a path of grid indices."""
    path = torch.as_tensor(path, dtype=torch.long)
    c = torch.as_tensor(cost, dtype=torch.float64)
    jumps = c[path[:-1], path[1:]]
    return float((gamma ** torch.arange(len(jumps), dtype=torch.float64) * jumps).sum())


def schedule(denoiser: Denoiser, noise: torch.Tensor, n_steps: int, *,
             grid: torch.Tensor | int | None = None, teacher: str = "ipndm", metric: str = METRIC,
             gamma: float = GAMMA, **warmup_kw: Any) -> torch.Tensor:
    """GITS in one call: warm-up, cost matrix, optimal path; returns the K+1 sigmas (float64).

    n_steps is the number of solver steps K (NFE = K for one-evaluation solvers such as Euler/DDIM
    or iPNDM, 2K for Heun and DPM-Solver-2). The defaults are the official code's, which produced
    the paper's tables: teacher iPNDM, a 61-point grid, gamma 1.15 and metric "dev" (pass 256
    warm-up noises, its --num_warmup); the paper writes the "l2" cost.
    """
    warm = warmup(denoiser, noise, grid, teacher, **warmup_kw)
    return warm.sigmas[optimal_path(cost_matrix(warm, metric), n_steps, gamma)]


def _with_final(sigmas: torch.Tensor, final: str) -> torch.Tensor:
    """The schedule with its last sigma replaced by 0 ("zero"), 0 appended ("append") or as is."""
    _validate.choice("final", final, ("zero", "append", "keep"))
    s = _validate.sigmas(sigmas).detach().to("cpu", torch.float64).clone()
    if final == "zero":
        s[-1] = 0.0
    elif final == "append" and s[-1] > 0:
        s = torch.cat([s, s.new_zeros(1)])
    return s


def as_list(sigmas: torch.Tensor) -> list[float]:
    """Plain Python floats, sigma_max first, e.g. for the official code's ``--t_steps=[...]``."""
    return _validate.sigmas(sigmas).detach().to("cpu", torch.float64).tolist()


def as_diffusers(sigmas: torch.Tensor, final: str = "zero") -> list[float]:
    """A list for diffusers' ``pipe(..., sigmas=...)`` / ``scheduler.set_timesteps(sigmas=...)``.

    diffusers' EulerDiscreteScheduler uses a custom list verbatim: len(sigmas) - 1 steps, the model
    evaluated at sigmas[:-1], so the list must include the final level, which its own schedules
    set to 0. final="zero" (default) replaces sigma_min by 0: same number of steps and NFE, the
    last step lands on the denoised output, as the GITS authors' ComfyUI node does. "append" adds
    a 0 after sigma_min (one more step and NFE); "keep" ends at sigma_min as the paper's code.
    Only schedulers whose ``set_timesteps`` takes ``sigmas`` accept it, and the sigmas should lie
    in the model's range (compute the schedule on that model's grid, e.g. 0.0292-14.61 for SD 1.5).
    """
    return _with_final(sigmas, final).tolist()


def as_k_diffusion(sigmas: torch.Tensor, final: str = "zero", device: str | torch.device = "cpu",
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A sigma tensor for k-diffusion samplers ``sample_*(model, x, sigmas)`` (and ComfyUI).

    k-diffusion schedules end with an appended 0 (``get_sigmas_karras``); samplers take
    len(sigmas) - 1 steps. ``final`` as in ``as_diffusers``: "zero" keeps the NFE of the GITS
    schedule (ComfyUI's GITS node), "append" is k-diffusion's convention of one step more.
    """
    return _with_final(sigmas, final).to(device, dtype)

