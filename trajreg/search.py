"""Schedule search: every method behind one call, ``search(method, D, noise, K, solver) -> result``.

A method turns a denoiser, a set of search noises and a step budget K into K+1 descending sigmas
from sigma_max (80) to sigma_min (0.002), and records what the search cost (denoiser evaluations
counted per sample, wall time):

- "polynomial" (EDM rho = 7), "logsnr", "uniform" (VP time-uniform): fixed formulas, no search.
- "dmn", "hso": schedules optimised without model calls (``trajreg.model_free``): DMN (Xue et al.
  2024), a bound on a multistep exponential solver's error, and HSO (Zhu et al. 2026), a midpoint
  error proxy under a search over rho. Solver-agnostic; NFE 0, their optimisation's seconds charged.
- "gits-l2", "gits-dev": GITS (Chen et al., ICML 2024, Alg. 1) with the paper's or the official
  code's cost (``trajreg.gits``).
- "gits-propagated": the GITS DP with c[i, j] the error at sigma_min after the teacher continues
  from the jumped state, E || Phi_j(x_hat_ij) - Phi_j(x_j) || (cf. ``evaluate.propagated_error``).
- "oss": OSS (Pei, Hu, Gu 2025, ``search_OSS``): a DP over the teacher grid that evaluates the
  model at the student's own best k-step state at each grid point and keeps, per point, the
  predecessor whose next step lands closest to the teacher (mean squared distance over the batch).
- "learned": LD3-like (Tong et al. 2025): the K log-sigma gaps (softmax of K logits times
  log(sigma_max / sigma_min), so the ends are fixed and the schedule monotone) optimised by Adam
  through the solver against reference solutions of the search noises.
- "exhaustive": every K-step schedule on a coarse grid, evaluated on a prefix tree (each shared
  prefix solved once); the true optimum of the mean ODE error on the search noises over that grid.
- "refined": the exhaustive optimum, then compass search over its log-sigmas through the solver
  (``trajreg.refine``); "refined-multistart": its start may also be OSS or a fixed formula.

"oss", "learned" and "exhaustive" step with the solver itself ("euler" = DDIM or "ipndm"); the GITS
variants price Euler jumps whatever the solver, as the paper. Export with ``as_list``,
``as_diffusers``, ``as_k_diffusion`` (those of ``trajreg.gits``). Example::

    res = search.search("oss", D, noise, 6, solver="ipndm")
    res.sigmas, res.nfe, res.seconds

Every method has the same signature, ``method(D, noise, K, solver, o: Options) -> dict`` (the dict
holds "sigmas" and what else the method reports), and reads the options it needs from ``o``; the
caller passes the same keyword arguments (the fields of :class:`Options`) to every method. A
method owns its cost: ``search`` counts every denoiser evaluation it makes, and work it takes from
``o.shared`` (a :class:`Shared` teacher warm-up or reference solution, computed once for several
searches on the same noises) is charged at what computing it cost, NFE and seconds. ``search``
checks every denoiser output (shape and finiteness) and shows a progress bar of the evaluations.

Adding a method is one entry in ``METHODS``: a function of that signature (see README, "How to
add a search method").
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, fields, replace
from numbers import Integral
from typing import Any

import torch
from tqdm import tqdm

from trajreg import _validate, gits, model_free, refine, schedules, solvers
from trajreg.denoisers import Counted, Denoiser
from trajreg.schedules import SIGMA_MAX, SIGMA_MIN
from trajreg.trajectory import Trajectory

__all__ = ["FIXED", "METHODS", "MODEL_FREE", "STEPPERS", "Options", "SearchResult", "Shared", "as_diffusers",
           "as_k_diffusion", "as_list", "coarse_grid", "ode_errors", "oss_nfe", "propagated_cost",
           "reference", "schedule", "search"]

STEPPERS = ("euler", "ipndm")             # solvers the solver-aware searches step with themselves
SOLVERS = STEPPERS                        # old name, kept for trajreg.cli until it moves to STEPPERS
N_REFERENCE = 100                         # steps of the reference solutions (iPNDM, polynomial)
FIXED = ("polynomial", "logsnr", "uniform")
MODEL_FREE = (*FIXED, "dmn", "hso")       # methods that never call the model (search NFE 0)
N_PROPAGATED = 21                         # default grid of "gits-propagated" (cost ~ B N^3 / 6)
N_COARSE = 16                             # default grid of "exhaustive"
as_list, as_diffusers, as_k_diffusion = gits.as_list, gits.as_diffusers, gits.as_k_diffusion
AB = solvers.AB


@dataclass
class SearchResult:
    """A searched schedule and what finding it cost (NFE per sample summed over the batch)."""

    method: str
    sigmas: torch.Tensor
    nfe: int
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)


class Shared:
    """Work several searches on one noise set share: teacher warm-ups and reference solutions,
    each computed once (on first use) and charged in full, NFE and seconds, to every search that
    uses it. Pass one ``Shared`` per (denoiser, noise set) as ``search(..., shared=...)``."""

    def __init__(self) -> None:
        self._memo: dict[Hashable, tuple[Any, int, float]] = {}
        self.charged: list[tuple[int, float, bool]] = []   # (nfe, seconds, computed now) per use

    def get(self, key: Hashable, D: Denoiser, compute: Callable[[Denoiser], Any]) -> Any:
        """compute(D) the first time ``key`` is asked for, else the stored value; records the use."""
        fresh = key not in self._memo
        if fresh:
            counted, start = Counted(D), time.perf_counter()
            value = compute(counted)
            self._memo[key] = (value, counted.samples, time.perf_counter() - start)
        value, nfe, seconds = self._memo[key]
        self.charged.append((nfe, seconds, fresh))
        return value

    def warmup(self, D: Denoiser, noise: torch.Tensor, grid: torch.Tensor, teacher: str) -> Trajectory:
        """The teacher trajectory of ``noise`` on ``grid`` (``gits.warmup``)."""
        key = ("warmup", _noise_key(noise), tuple(grid.tolist()), teacher)
        return self.get(key, D, lambda d: gits.warmup(d, noise, grid, teacher))

    def reference(self, D: Denoiser, noise: torch.Tensor, sigma_min: float = SIGMA_MIN,
                  sigma_max: float = SIGMA_MAX) -> torch.Tensor:
        """The reference solutions of ``noise`` (:func:`reference`)."""
        key = ("reference", _noise_key(noise), sigma_min, sigma_max)
        return self.get(key, D, lambda d: reference(d, noise, sigma_min=sigma_min, sigma_max=sigma_max))


def _noise_key(noise: torch.Tensor) -> tuple:
    return (noise.data_ptr(), tuple(noise.shape), noise.dtype, noise._version)


@dataclass(frozen=True)
class Options:
    """The options of every search method (each reads those it needs).

    grid: the method's grid: sigmas or a size (default per method: ``GRIDS``); teacher: the solver
    of the warm-up (GITS, OSS); gamma: the DP discount (default per method: ``GAMMAS``); warm: a
    teacher trajectory on the grid to reuse; x_ref: reference solutions of the noises to reuse
    (learned, exhaustive); shared: a :class:`Shared` for warm-ups and references; iters, lr, init:
    the learned schedule's Adam steps, rate and start; all_steps: OSS keeps every path K' <= K;
    batch_size: states per denoiser call; sigma_min, sigma_max: the schedule's ends; progress: a
    progress bar of the evaluations (None: when on a terminal); x0, n_mc: AYS's real data samples
    and Monte Carlo draws per bound estimate.
    """

    grid: torch.Tensor | int | None = None
    teacher: str = "ipndm"
    gamma: float | None = None
    warm: Trajectory | None = None
    x_ref: torch.Tensor | None = None
    shared: Shared | None = None
    iters: int = 20
    lr: float = 0.1
    init: str | torch.Tensor = "polynomial"
    all_steps: bool = False
    batch_size: int = 1024
    sigma_min: float = SIGMA_MIN
    sigma_max: float = SIGMA_MAX
    progress: bool | None = None
    x0: torch.Tensor | None = None
    n_mc: int = 64


# --- shared pieces ------------------------------------------------------------------------------


def coarse_grid(n: int = N_COARSE, sigma_min: float = SIGMA_MIN,
                sigma_max: float = SIGMA_MAX) -> torch.Tensor:
    """The grid the exhaustive search enumerates: n polynomial rho = 7 points."""
    return schedules.polynomial(n, sigma_min, sigma_max)


def _grid(grid: torch.Tensor | int | None, default: int, sigma_min: float,
          sigma_max: float) -> torch.Tensor:
    """A grid argument (None, a size, or sigmas) as descending float64 sigmas ending above 0."""
    if grid is None:
        grid = default
    if isinstance(grid, Integral) and not isinstance(grid, bool):
        return schedules.polynomial(int(grid), sigma_min, sigma_max)
    grid = _validate.sigmas(grid, "grid").detach().to("cpu", torch.float64)
    if not grid[-1] > 0:
        raise ValueError("grid must end at a sigma > 0")
    return grid


def _check_K(k: int, n_grid: int | None = None) -> None:
    """K steps: an integer >= 1, at most n_grid - 1 on an n_grid-point grid."""
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise ValueError(f"K must be an integer number of steps >= 1, got {k!r}")
    if n_grid is not None and k >= n_grid:
        raise ValueError(f"K must lie in 1..{n_grid - 1} for a {n_grid}-point grid, got {k}")


def _step(solver: str, x: torch.Tensor, hist: list[torch.Tensor], t: Any, t_next: Any,
          denoised: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One step of Euler or iPNDM (as ``solvers.euler`` / ``solvers.ipndm``, max_order 4) from a
    state with its slope history; t, t_next floats or tensors broadcastable to x."""
    ds = [(x - denoised) / t, *hist] if solver == "ipndm" else [(x - denoised) / t]
    x_next = x + (t_next - t) * sum(c * d for c, d in zip(AB[len(ds)], ds, strict=True))
    return x_next, ds[:3] if solver == "ipndm" else []


def _eval(D: Denoiser, X: torch.Tensor, sig: torch.Tensor, batch_size: int) -> torch.Tensor:
    """D on M stacked batches X (M, B, *dims) at per-batch sigmas sig (M,), chunked."""
    M, B = X.shape[:2]
    flat = X.reshape(M * B, *X.shape[2:])
    s = sig.to(X.dtype).repeat_interleave(B)
    out = [D(flat[a:a + batch_size], s[a:a + batch_size]) for a in range(0, M * B, batch_size)]
    return torch.cat(out).reshape(X.shape)


def _rms(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Per-sample RMS distance over the trailing data dims of x (..., B, *dims) and ref (B, *dims)."""
    n = ref[0].numel()
    diff = (x - ref).reshape(*x.shape[: x.ndim - ref.ndim + 1], n)
    return diff.norm(dim=-1) / math.sqrt(n)


def ode_errors(denoiser: Denoiser, noise: torch.Tensor, sigmas: torch.Tensor, solver: str,
               x_ref: torch.Tensor, batch_size: int = 500, **solver_kw: Any) -> torch.Tensor:
    """Per-sample ODE error ||x - x_ref|| / sqrt(d) of ``solver`` on ``sigmas``; float64 (B,).
    ``solver_kw`` go to the solver (e.g. ``thresholding=False`` for UniPC)."""
    step = solvers.get(solver)
    s = _validate.sigmas(sigmas)
    x = torch.cat([step(denoiser, float(s[0]) * z, s, **solver_kw) for z in noise.split(batch_size)])
    return _rms(x.to(torch.float64), x_ref.to(torch.float64))


def reference(denoiser: Denoiser, noise: torch.Tensor, n_steps: int = N_REFERENCE, solver: str = "ipndm",
              sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX) -> torch.Tensor:
    """High-accuracy solutions: ``solver`` on the n_steps polynomial schedule (as
    ``evaluate.reference``), in noise's dtype."""
    s = schedules.polynomial(n_steps + 1, sigma_min, sigma_max)
    return solvers.get(solver)(denoiser, float(s[0]) * noise, s)


def _ref(D: Denoiser, noise: torch.Tensor, o: Options) -> torch.Tensor:
    """Reference solutions of the noises: ``o.x_ref`` (charged N_REFERENCE NFE per sample), else
    from ``o.shared``."""
    if o.x_ref is None:
        return o.shared.reference(D, noise, o.sigma_min, o.sigma_max)
    _validate.same_shape("x_ref", o.x_ref, "noise", noise)
    o.shared.charged.append((noise.shape[0] * N_REFERENCE, 0.0, False))
    return o.x_ref.to(noise)


# --- fixed schedules and GITS --------------------------------------------------------------------


def _fixed(name: str) -> Callable[..., dict]:
    def method(D: Denoiser, noise: torch.Tensor, K: int, solver: str, o: Options) -> dict:
        _check_K(K)
        fn = {"polynomial": schedules.polynomial, "logsnr": schedules.logsnr,
              "uniform": schedules.time_uniform}[name]
        return {"sigmas": fn(K + 1, o.sigma_min, o.sigma_max)}
    method.__doc__ = f"The {name} schedule with K steps (no search)."
    return method


def _method_grid(method: str, o: Options) -> torch.Tensor:
    """The grid of a grid method: ``o.grid``, else the reused warm-up's, else its default size."""
    grid = o.warm.sigmas if o.grid is None and o.warm is not None else o.grid
    return _grid(grid, GRIDS.get(method, gits.N_GRID), o.sigma_min, o.sigma_max)


def _warm(D: Denoiser, noise: torch.Tensor, grid: torch.Tensor, o: Options) -> Trajectory:
    """The teacher trajectory on ``grid``: ``o.warm`` (checked to lie on it; charged B (N-1) NFE),
    else from ``o.shared``."""
    if o.warm is None:
        return o.shared.warmup(D, noise, grid, o.teacher)
    if len(o.warm.sigmas) != len(grid) or not torch.allclose(o.warm.sigmas, grid):
        raise ValueError("warm must be a warm-up on the method's grid; pass grid=warm.sigmas")
    o.shared.charged.append((noise.shape[0] * (len(grid) - 1), 0.0, False))
    return o.warm


def _gits(metric: str) -> Callable[..., dict]:
    def method(D: Denoiser, noise: torch.Tensor, K: int, solver: str, o: Options) -> dict:
        g = _method_grid(f"gits-{metric}", o)
        _check_K(K, len(g))
        w = _warm(D, noise, g, o)
        gamma = gits.GAMMA if o.gamma is None else o.gamma
        path = gits.optimal_path(gits.cost_matrix(w, metric), K, gamma)
        return {"sigmas": g[path], "reused_warmup": o.warm is not None, "path": path.tolist()}
    method.__doc__ = f"GITS with the {metric!r} cost (trajreg.gits; paper Alg. 1)."
    return method


def propagated_cost(D: Denoiser, w: Trajectory, teacher: str = "ipndm",
                    batch_size: int = 1024) -> torch.Tensor:
    """c[i, j] = E || Phi_j(x_i + (t_j - t_i) d_i) - Phi_j(x_j) ||, Phi_j the teacher from t_j to
    t_{N-1} on the grid; c[i, N-1] is the landing (l2) cost. Jumps into one j run as one batch."""
    t, step = w.sigmas, solvers.get(teacher)
    x = w.x.to(torch.float64)
    d = (x[:-1] - w.denoised.to(torch.float64)) / t[:-1].reshape(-1, *[1] * (x.ndim - 1))
    N, B = x.shape[:2]
    C = torch.full((N, N), math.inf, dtype=torch.float64)
    for j in range(1, N):
        h = (t[j] - t[:j]).reshape(-1, *[1] * (x.ndim - 1))
        starts = torch.cat([x[:j] + h * d[:j], x[j:j + 1]])          # (j + 1, B, *dims)
        if j < N - 1:
            flat = starts.reshape(-1, *x.shape[2:]).to(w.x.dtype)
            ends = torch.cat([step(D, z, t[j:]) for z in flat.split(batch_size)])
            starts = ends.to(torch.float64).reshape(starts.shape)
        C[:j, j] = (starts[:j] - starts[j]).flatten(2).norm(dim=-1).mean(-1)
    return C


def _gits_propagated(D: Denoiser, noise: torch.Tensor, K: int, solver: str, o: Options) -> dict:
    """GITS DP over the propagated cost (``propagated_cost``); gamma 1 by default (the cost
    already carries the growth of an early error)."""
    g = _method_grid("gits-propagated", o)
    _check_K(K, len(g))
    w = _warm(D, noise, g, o)
    gamma = 1.0 if o.gamma is None else o.gamma
    path = gits.optimal_path(propagated_cost(D, w, o.teacher, o.batch_size), K, gamma)
    return {"sigmas": g[path], "reused_warmup": o.warm is not None, "path": path.tolist()}


# --- OSS ------------------------------------------------------------------------------------------


def oss_nfe(n_grid: int, K: int, batch: int) -> int:
    """Evaluations of a single-K OSS search: the teacher (N-1) plus one per reachable state,
    1 at step 1 and N-K at each later step (indices k-1 .. N-1-(K-k+1)), per sample."""
    return batch * (n_grid - 1 + 1 + (K - 1) * (n_grid - K))


def _oss(D: Denoiser, noise: torch.Tensor, K: int, solver: str, o: Options) -> dict:
    """OSS (Pei et al. 2025, ``search_OSS``) over the teacher grid, one schedule for the batch.

    z[k][j]: the student's best k-step state at grid point j (with its slope history for iPNDM).
    Step k evaluates D once at every z[k-1][i], steps with ``solver`` to every later j and keeps,
    per j, the i minimising mean_b ||z - x_j||^2 (x_j the teacher); backtrack from N-1.
    all_steps=True keeps every state at every step (no pruning by the steps left), which costs
    more than one K but gives the paths for every K' <= K at once (info["paths"]); the best
    state at (k, j) does not depend on K, so each path equals its single-K search.
    """
    _validate.choice("solver", solver, STEPPERS)
    all_steps, batch_size = o.all_steps, o.batch_size
    g = _method_grid("oss", o)
    N = len(g)
    _check_K(K, N)
    w = _warm(D, noise, g, o)
    ref = w.x.to(noise)
    shape = (-1, *[1] * noise.ndim)
    cur = {0: (ref[0], [])}                   # i -> (state, slope history)
    trace: list[dict[int, int]] = []
    for k in range(1, K + 1):
        room = 0 if all_steps else K - k      # steps that must follow this one
        idx = sorted(i for i in cur if i < N - 1 - room)
        den = _eval(D, torch.stack([cur[i][0] for i in idx]), g[idx], batch_size)
        best: dict[int, tuple[float, int, Any]] = {}
        for m, i in enumerate(idx):
            js = list(range(i + 1, N - room)) if k < K or all_steps else [N - 1]
            x, hist = cur[i]
            xs, new_hist = _step(solver, x, hist, float(g[i]), g[js].to(noise).reshape(shape),
                                 den[m])
            err = (xs - ref[js]).flatten(2).pow(2).sum(-1).mean(-1)
            for n, j in enumerate(js):
                if j not in best or float(err[n]) < best[j][0]:
                    best[j] = (float(err[n]), i, (xs[n], new_hist))
        trace.append({j: b[1] for j, b in best.items()})
        cur = {j: b[2] for j, b in best.items() if j < N - 1}
    paths = {}
    for k_end in range(1, K + 1) if all_steps else [K]:
        path = [N - 1]
        for k in range(k_end, 0, -1):
            path.append(trace[k - 1][path[-1]])
        paths[k_end] = path[::-1]
    return {"sigmas": g[paths[K]], "reused_warmup": o.warm is not None, "path": paths[K],
            "paths": {k: g[p] for k, p in paths.items()},
            "single_k_nfe": oss_nfe(N, K, noise.shape[0])}


# --- learned (LD3-like) --------------------------------------------------------------------------


def _with_grad(D: Denoiser) -> Denoiser:
    """The network inside ``models.NoGrad`` (which runs under inference mode), else D itself;
    through ``Counted`` and ``_Checked`` wrappers, still counting and checking."""
    if isinstance(D, _Checked):
        return _Checked(_with_grad(D.denoiser), D.bar)
    if isinstance(D, Counted):
        inner_fn = _with_grad(D.denoiser)

        def counted(x: torch.Tensor, sigma: Any) -> torch.Tensor:
            D.calls, D.samples = D.calls + 1, D.samples + x.shape[0]
            return inner_fn(x, sigma)
        return counted
    inner = getattr(D, "D", None)
    return inner if isinstance(D, torch.nn.Module) and isinstance(inner, torch.nn.Module) else D


def _sigmas_from(theta: torch.Tensor, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Descending sigmas with fixed ends: log-gaps = softmax(theta) * log(sigma_max / sigma_min)."""
    gaps = torch.softmax(theta, 0) * math.log(sigma_max / sigma_min)
    logs = math.log(sigma_max) - torch.cat([theta.new_zeros(1), gaps.cumsum(0)])
    s = logs.exp()
    return torch.cat([s.new_full((1,), sigma_max), s[1:-1], s.new_full((1,), sigma_min)])


def _solve(D: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, solver: str) -> torch.Tensor:
    """Euler / iPNDM through a schedule that may carry gradients (``solvers`` detaches it)."""
    hist: list[torch.Tensor] = []
    for i in range(len(sigmas) - 1):
        t = sigmas[i].to(x.dtype)
        x, hist = _step(solver, x, hist, t, sigmas[i + 1].to(x.dtype), D(x, t))
    return x


def _learned(D: Denoiser, noise: torch.Tensor, K: int, solver: str, o: Options) -> dict:
    """Adam on the K log-gap logits, loss = mean ODE error (RMS) on the search noises; returns
    the best iterate seen (so never worse than ``init`` on the search set)."""
    _validate.choice("solver", solver, STEPPERS)
    _check_K(K)
    _validate.at_least("iters", o.iters, 0)
    init, iters, sigma_min, sigma_max = o.init, o.iters, o.sigma_min, o.sigma_max
    ref = _ref(D, noise, o).to(noise)
    s0 = (schedules.get("time_uniform" if init == "uniform" else init, K + 1,
                        sigma_min=sigma_min, sigma_max=sigma_max)
          if isinstance(init, str) else _validate.sigmas(init, "init").to(torch.float64))
    if len(s0) != K + 1:
        raise ValueError(f"init must have K + 1 = {K + 1} sigmas, got {len(s0)}")
    theta = (s0[:-1].log() - s0[1:].log()).log().clone().requires_grad_(True)
    opt = torch.optim.Adam([theta], lr=o.lr)
    Dg, x0 = _with_grad(D), sigma_max * noise
    best, history = (math.inf, s0), []
    with torch.enable_grad():
        for _ in range(iters + 1):
            sig = _sigmas_from(theta, sigma_min, sigma_max)
            loss = _rms(_solve(Dg, x0, sig, solver), ref).mean()
            history.append(float(loss.detach()))
            if history[-1] < best[0]:
                best = (history[-1], sig.detach().clone())
            if len(history) > iters:
                break
            opt.zero_grad()
            loss.backward()
            opt.step()
    return {"sigmas": best[1], "loss_history": history, "backward_passes": iters}


# --- exhaustive -----------------------------------------------------------------------------------


def _exhaustive(D: Denoiser, noise: torch.Tensor, K: int, solver: str, o: Options) -> dict:
    """Every path 0 = i_0 < ... < i_K = G-1 through the grid, solved on a prefix tree.

    Siblings (the states after one more step from a shared prefix) are evaluated in one denoiser
    call, so each prefix costs one evaluation per sample. info["errors"] maps each path (tuple of
    grid indices) to its mean ODE error.
    """
    _validate.choice("solver", solver, STEPPERS)
    batch_size = o.batch_size
    g = _grid(o.grid, GRIDS["exhaustive"], o.sigma_min, o.sigma_max)
    G = len(g)
    _check_K(K, G)
    ref = _ref(D, noise, o)
    errors: dict[tuple[int, ...], float] = {}
    tdims = (-1, *[1] * noise.ndim)

    def expand(prefix: tuple[int, ...], js: list[int], X: torch.Tensor,
               hist: list[torch.Tensor]) -> None:
        """X (M, B, *dims): the states at grid points js after prefix + (j,), not yet evaluated;
        hist: the slope history they share (from the prefix)."""
        den = _eval(D, X, g[js], batch_size)
        left = K - len(prefix)                # steps after reaching j
        for m, j in enumerate(js):
            nxt = list(range(j + 1, G - left + 1)) if left > 1 else [G - 1]
            xs, new_hist = _step(solver, X[m], hist, float(g[j]), g[nxt].to(X).reshape(tdims),
                                 den[m])
            path = (*prefix, j)
            if left == 1:
                errors[(*path, G - 1)] = float(_rms(xs[0], ref).mean())
                continue
            expand(path, nxt, xs, new_hist)

    if K == 1:
        errors[(0, G - 1)] = float(ode_errors(D, noise, g[[0, G - 1]], solver, ref).mean())
    else:
        expand((), [0], (float(g[0]) * noise)[None], [])
    best = min(errors, key=errors.__getitem__)
    return {"sigmas": g[list(best)], "path": list(best), "error": errors[best], "errors": errors}


def _refined(D: Denoiser, noise: torch.Tensor, K: int, solver: str, o: Options,
             candidates: tuple[str, ...] = ()) -> dict:
    """The exhaustive optimum, then compass search through the solver (``refine.refined``). The
    reference is charged once: the inner exhaustive search gets it through a throwaway ``Shared``."""
    ref = _ref(D, noise, o)
    inner = replace(o, x_ref=ref, shared=Shared())

    def method(name: str) -> Callable[..., dict]:
        def call(D_: Denoiser, noise_: torch.Tensor, K_: int, solver_: str, **kw: Any) -> dict:
            base = inner if name == "exhaustive" else replace(o, grid=None)
            return METHODS[name](D_, noise_, K_, solver_, replace(base, **kw))
        return call

    methods = {m: method(m) for m in METHODS if not m.startswith("refined")}
    return refine.refined(D, noise, K, solver, methods=methods, reference=lambda *_: ref, grid=o.grid,
                          batch_size=o.batch_size, candidates=candidates, sigma_min=o.sigma_min,
                          sigma_max=o.sigma_max)


def _refined_multistart(D: Denoiser, noise: torch.Tensor, K: int, solver: str, o: Options) -> dict:
    """"refined" whose start may also be one of ``refine.MULTISTART`` (better on every fold)."""
    return _refined(D, noise, K, solver, o, candidates=refine.MULTISTART)


Method = Callable[[Denoiser, torch.Tensor, int, str, Options], dict]
METHODS: dict[str, Method] = {
    "polynomial": _fixed("polynomial"),
    "logsnr": _fixed("logsnr"),
    "uniform": _fixed("uniform"),
    "gits-l2": _gits("l2"),
    "gits-dev": _gits("dev"),
    "gits-propagated": _gits_propagated,
    "oss": _oss,
    "learned": _learned,
    "exhaustive": _exhaustive,
    "refined": _refined,
    "refined-multistart": _refined_multistart,
}
# default grid size of each grid method (OSS and GITS share the warm-up grid of the official code)
GRIDS = {"gits-l2": gits.N_GRID, "gits-dev": gits.N_GRID, "gits-propagated": N_PROPAGATED,
         "oss": gits.N_GRID, "exhaustive": N_COARSE}


class _Checked:
    """A denoiser whose every output is checked (the input's shape, finite values) and counted on
    a progress bar."""

    def __init__(self, denoiser: Denoiser, bar: tqdm):
        self.denoiser, self.bar = denoiser, bar

    def __call__(self, x: torch.Tensor, sigma: Any) -> torch.Tensor:
        out = self.denoiser(x, sigma)
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            raise ValueError(f"the denoiser returned {getattr(out, 'shape', type(out).__name__)} for "
                             f"input of shape {tuple(x.shape)}; it must return the input's shape")
        if not bool(torch.isfinite(out).all()):
            s = sigma if isinstance(sigma, float) else torch.as_tensor(sigma).flatten()[:1].tolist()
            raise ValueError(f"the denoiser returned non-finite values (NaN or inf) at sigma {s}")
        self.bar.update(x.shape[0])
        return out


# --- AYS (issue 23; the algorithm is trajreg.ays) -------------------------------------------------


def _ays(D: Denoiser, noise: torch.Tensor, K: int, solver: str, o: Options) -> dict:
    """Align Your Steps (Sabour et al. 2024; ``trajreg.ays.ays``): the KLUB search on real data
    ``o.x0`` (required; noise is not used), then log-linear interpolation to K steps; solver-agnostic."""
    from trajreg import ays

    x0 = o.x0
    if not isinstance(x0, torch.Tensor) or x0.ndim != noise.ndim or x0.shape[1:] != noise.shape[1:]:
        raise ValueError("x0 (real data samples shaped like noise, e.g. 8192 training images) is required "
                         "for method 'ays'")
    sig, info = ays.ays(D, x0.to(noise), K, n_mc=o.n_mc, sigma_min=o.sigma_min, sigma_max=o.sigma_max,
                        batch_size=o.batch_size)
    return {"sigmas": sig, **info}


METHODS["ays"] = _ays


# --- schedules optimised without model calls (issue 23; the algorithms are trajreg.model_free) ----


def _model_free(name: str) -> Callable[..., dict]:
    fn = {"dmn": model_free.dmn, "hso": model_free.hso}[name]

    def method(D: Denoiser, noise: torch.Tensor, K: int, solver: str, o: Options) -> dict:
        _check_K(K)
        key = (name, K, o.sigma_min, o.sigma_max)
        return {"sigmas": o.shared.get(key, D, lambda _: fn(K, o.sigma_min, o.sigma_max)).clone()}
    method.__doc__ = (f"``model_free.{name}`` with K steps between o.sigma_max and o.sigma_min (no model "
                      "calls; computed once per ``Shared`` and charged its seconds on reuse).")
    return method


METHODS["dmn"] = _model_free("dmn")
METHODS["hso"] = _model_free("hso")


def search(method: str, denoiser: Denoiser, noise: torch.Tensor, K: int, solver: str = "ipndm",
           **options: Any) -> SearchResult:
    """Schedule of ``method`` (a key of ``METHODS``) for K steps of ``solver``, searched on the
    noises (B, *dims) of ``noise``; ``options`` are fields of :class:`Options`, the same for every
    method. nfe counts denoiser evaluations per sample summed over the batch, and seconds the wall
    time, including shared or reused work (a warm-up, reference solutions) at what it cost."""
    _validate.choice("method", method, METHODS)
    _validate.choice("solver", solver, solvers.SOLVERS)
    if not isinstance(noise, torch.Tensor) or not noise.is_floating_point() or noise.ndim < 2:
        raise ValueError("noise must be a floating-point tensor of shape (B, *dims)")
    unknown = sorted(set(options) - {f.name for f in fields(Options)})
    if unknown:
        raise ValueError(f"unknown search option(s) {unknown}; the options are the fields of "
                         f"search.Options: {sorted(f.name for f in fields(Options))}")
    o = Options(**options)
    shared = o.shared if o.shared is not None else Shared()
    shared.charged = []
    bar = tqdm(desc=f"search {method}", unit="eval", leave=False,
               disable=None if o.progress is None else not o.progress)
    counted = Counted(_Checked(denoiser, bar))
    start = time.perf_counter()
    try:
        out = METHODS[method](counted, noise, K, solver, Options(**{**options, "shared": shared}))
    finally:
        bar.close()
    reused = [(n, s) for n, s, fresh in shared.charged if not fresh]
    nfe = counted.samples + sum(n for n, _ in reused)
    seconds = time.perf_counter() - start + sum(s for _, s in reused)
    sigmas = _validate.sigmas(out.pop("sigmas")).detach().to("cpu", torch.float64)
    return SearchResult(method, sigmas, int(nfe), seconds, out)


def schedule(method: str, denoiser: Denoiser, noise: torch.Tensor, K: int,
             solver: str = "ipndm", **options: Any) -> torch.Tensor:
    """Just the sigmas of ``search``: K+1 descending float64 values, sigma_max first."""
    return search(method, denoiser, noise, K, solver, **options).sigmas
