"""Exhaustive-then-refine schedule search (method "refined" of ``trajreg.search``).

1. Start: the exhaustive optimum on a coarse grid (``search`` method "exhaustive": every K-step
   path through G polynomial points, mean ODE error on the search noises against reference
   solutions).
2. Refine: coordinate pattern search (compass search; Kolda, Lewis & Torczon, SIAM Review 45,
   2003, Sec. 3) over the K-1 interior log-sigmas, judged through the solver itself. A trial moves
   one log-sigma a fraction h of the way towards a neighbour, u_i -> u_i + h (u_{i-1} - u_i) or
   u_i - h (u_i - u_{i+1}), so the schedule stays strictly descending with its ends fixed; the
   better trial is kept if it lowers the mean error by more than ``rtol`` and raises the mean error
   of none of ``folds`` interleaved groups of the search noises (a move must help broadly, not a
   few noises: on 32 noises of a mixture, single-noise gains do not carry over to held-out
   noises). A sweep visits i = 1..K-1; a sweep that keeps nothing halves h; the search stops
   when h < ``min_frac`` or after ``max_sweeps`` sweeps. Errors on the search noises never rise
   (the start is a trial too), and nothing is random.

Both trials of a coordinate share the cached state, denoiser output and slope history at
sigma_{i-1} (the prefix before the moved sigma does not change), so a trial of coordinate i costs
K - i evaluations per sample, and the two trials run in one denoiser call per step.

    res = search.search("refined", D, noise, 8, solver="ipndm", x_ref=ref)

"refined-multistart" lets OSS and the fixed formulas compete for the start by the same rule.
Measured (benchmarks/recommend.py, results/cpu/recommend.jsonl): within 2 % of the exhaustive
optimum's held-out error in all 30 cells (network, KDE, mixture; DDIM and iPNDM; K 4-10). Known
limit: with 8 folds of 4 noises the rule is strict; it kept the exhaustive start where OSS was 17 %
(network, DDIM K 10) and 26 % (KDE, iPNDM K 5) better on the search noises, and the refinement
rarely moves on the network with iPNDM.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from trajreg import _validate, solvers
from trajreg.denoisers import Denoiser
from trajreg.schedules import SIGMA_MAX, SIGMA_MIN

__all__ = ["MAX_SWEEPS", "MIN_FRAC", "MULTISTART", "SOLVERS", "STEP_FRAC", "refine", "refined"]

SOLVERS = ("euler", "ipndm")
STEP_FRAC = 0.5           # first trial step: half the way to a neighbour (in log-sigma)
MIN_FRAC = 1 / 16         # stop when the step has been halved below this
MAX_SWEEPS = 4            # at most this many sweeps over the interior sigmas
MULTISTART = ("oss", "polynomial", "uniform", "logsnr")   # the starts "refined-multistart" adds
RTOL = 1e-4               # a trial must lower the mean error by this fraction to be kept
FOLDS = 8                 # ... and must not raise the mean error of any of these interleaved
                          # folds of the search noises (default: min(FOLDS, B))


@dataclass
class _Path:
    """The solver's run on one schedule: states x[0..K], outputs den[0..K-1], slope histories
    hist[0..K-1] (before each step), per-sample errors (B,)."""

    x: list[torch.Tensor]
    den: list[torch.Tensor]
    hist: list[list[torch.Tensor]]
    errors: torch.Tensor


def _step(solver: str, x: torch.Tensor, hist: list[torch.Tensor], t: torch.Tensor,
          t_next: torch.Tensor, den: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One Euler (DDIM) or iPNDM step (``solvers.euler`` / ``solvers.ipndm``, order 4):
    x' = x + (t' - t) sum_k AB_k d_k, d = (x - D) / t; t, t' broadcast to x."""
    ds = [(x - den) / t, *hist] if solver == "ipndm" else [(x - den) / t]
    x_next = x + (t_next - t) * sum(c * d for c, d in zip(solvers.AB[len(ds)], ds, strict=True))
    return x_next, ds[:3] if solver == "ipndm" else []


def _denoise(D: Denoiser, X: torch.Tensor, sig: torch.Tensor, batch_size: int) -> torch.Tensor:
    """D on M stacked batches X (M, B, *dims), batch m at sigma sig[m]; checked shape and finite."""
    M, B = X.shape[:2]
    flat = X.reshape(M * B, *X.shape[2:])
    s = sig.to(X).repeat_interleave(B)
    out = []
    for a in range(0, M * B, batch_size):
        y = D(flat[a:a + batch_size], s[a:a + batch_size])
        if not isinstance(y, torch.Tensor) or y.shape != flat[a:a + batch_size].shape:
            raise ValueError(f"denoiser must return a tensor of the input's shape "
                             f"{tuple(flat[a:a + batch_size].shape)}, got "
                             f"{tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__}")
        _validate.finite("denoiser output", y)
        out.append(y.to(X))
    return torch.cat(out).reshape(X.shape)


def _rms(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Per-sample RMS distance ||x - ref|| / sqrt(d) over the data dims; x (..., B, *dims)."""
    diff = (x.to(torch.float64) - ref.to(torch.float64)).flatten(x.ndim - ref.ndim + 1)
    return diff.norm(dim=-1) / math.sqrt(ref[0].numel())


def _run(D: Denoiser, solver: str, S: torch.Tensor, start: int, x: torch.Tensor,
         hist: list[torch.Tensor], ref: torch.Tensor, batch_size: int,
         den0: torch.Tensor | None = None) -> _Path:
    """Solve M schedules S (M, K+1) from their shared state x (B, *dims) at index ``start`` with
    slope history ``hist`` (and D(x, S[:, start]) = den0 if known); S[:, :start+1] must agree.
    Returns the path stacked over M."""
    M, K = S.shape[0], S.shape[1] - 1
    shape = (M, *[1] * x.ndim)
    X = x.expand(M, *x.shape).clone()
    H = [h.expand(M, *h.shape).clone() for h in hist]
    xs, dens, hists = [X], [], [H]
    for i in range(start, K):
        if i == start and den0 is not None:
            den = den0.expand(M, *den0.shape).clone()
        else:
            den = _denoise(D, X, S[:, i], batch_size)
        X, H = _step(solver, X, H, S[:, i].to(x).reshape(shape), S[:, i + 1].to(x).reshape(shape),
                     den)
        xs.append(X)
        dens.append(den)
        hists.append(H)
    return _Path(xs, dens, hists[:-1], _rms(X, ref))


def _pick(p: _Path, m: int) -> _Path:
    """Trial m of a stacked path."""
    return _Path([x[m] for x in p.x], [d[m] for d in p.den], [[h[m] for h in H] for H in p.hist],
                 p.errors[m])


def _splice(cur: _Path, new: _Path, i: int) -> _Path:
    """cur up to state index i-1, then new (which starts at state i-1)."""
    return _Path(cur.x[:i - 1] + new.x, cur.den[:i - 1] + new.den, cur.hist[:i - 1] + new.hist,
                 new.errors)


def _trials(s: torch.Tensor, i: int, h: float) -> torch.Tensor:
    """Two schedules (2, K+1): s with log s_i moved a fraction h of the way towards log s_{i-1}
    (up) and towards log s_{i+1} (down); every other entry exactly as in s."""
    u = s[i - 1:i + 2].log()
    S = s.repeat(2, 1)
    S[0, i] = (u[1] + h * (u[0] - u[1])).exp()
    S[1, i] = (u[1] - h * (u[1] - u[2])).exp()
    return S


def _better(trial: torch.Tensor, cur: torch.Tensor, err: float, fold: torch.Tensor,
            rtol: float) -> int | None:
    """Index of the trial (rows of trial (M, B)) with the lowest mean error if that mean is below
    err (1 - rtol) and no fold's mean error rises above the current one's; else None."""
    means = trial.mean(-1)
    m = int(means.argmin())
    n = torch.bincount(fold).to(trial)
    per_fold = torch.zeros(int(fold.max()) + 1, dtype=trial.dtype)
    ok_folds = (per_fold.index_add(0, fold, trial[m] - cur) / n <= 0).all()
    return m if float(means[m]) < err * (1 - rtol) and bool(ok_folds) else None


def _starts(sigmas: Any) -> list[torch.Tensor]:
    """One schedule or a sequence of candidate schedules as float64 CPU sigmas of one length."""
    many = isinstance(sigmas, (list, tuple))
    if many and not sigmas:
        raise ValueError("sigmas must be a schedule or a non-empty sequence of schedules")
    out = []
    for n, s in enumerate(sigmas if many else [sigmas]):
        name = f"sigmas[{n}]" if many else "sigmas"
        s = _validate.sigmas(s, name).detach().to("cpu", torch.float64)
        if not s[-1] > 0:
            raise ValueError(f"{name} must end at a sigma > 0 (log-sigmas are refined), got {float(s[-1])}")
        if len(s) != len(out[0] if out else s):
            raise ValueError(f"{name} has {len(s)} sigmas, sigmas[0] {len(out[0])}: all starts need K + 1")
        out.append(s)
    return out


def _check(solver: str, noise: torch.Tensor, sigmas: Any, x_ref: torch.Tensor,
           step_frac: float, min_frac: float, max_sweeps: int, rtol: float,
           folds: int | None) -> list[torch.Tensor]:
    """Validate the arguments of ``refine``; return the starts as float64 CPU sigmas."""
    _validate.choice("solver", solver, SOLVERS)
    if not isinstance(noise, torch.Tensor) or not noise.is_floating_point() or noise.ndim < 2:
        raise ValueError("noise must be a floating-point tensor of shape (B, *dims)")
    s = _starts(sigmas)
    if not isinstance(x_ref, torch.Tensor):
        raise ValueError("x_ref must be a tensor of reference solutions shaped like noise")
    _validate.same_shape("x_ref", x_ref, "noise", noise)
    _validate.finite("x_ref", x_ref)
    if not 0 < step_frac < 1:
        raise ValueError(f"step_frac must lie in (0, 1), got {step_frac!r}")
    if not 0 < min_frac <= step_frac:
        raise ValueError(f"min_frac must lie in (0, step_frac], got {min_frac!r}")
    if isinstance(max_sweeps, bool) or not isinstance(max_sweeps, int) or max_sweeps < 0:
        raise ValueError(f"max_sweeps must be an integer >= 0, got {max_sweeps!r}")
    if not 0 <= rtol < 1:
        raise ValueError(f"rtol must lie in [0, 1), got {rtol!r}")
    if folds is None:
        return s
    if isinstance(folds, bool) or not isinstance(folds, int) or not 1 <= folds <= noise.shape[0]:
        raise ValueError(f"folds must be an integer in 1..{noise.shape[0]} (the search noises), "
                         f"got {folds!r}")
    return s


def _select(D: Denoiser, solver: str, starts: list[torch.Tensor], noise: torch.Tensor,
            ref: torch.Tensor, fold: torch.Tensor, rtol: float,
            batch_size: int) -> tuple[int, _Path, list[float]]:
    """The incumbent starts[0], replaced in turn by each later start that ``_better`` accepts
    (lower mean by rtol, no fold worse); its path, and every start's mean error."""
    best, cur, means = 0, None, []
    for n, s in enumerate(starts):
        p = _pick(_run(D, solver, s[None], 0, float(s[0]) * noise, [], ref, batch_size), 0)
        means.append(float(p.errors.mean()))
        if cur is None or _better(p.errors[None], cur.errors, float(cur.errors.mean()), fold,
                                  rtol) is not None:
            best, cur = n, p
    return best, cur, means


def refine(D: Denoiser, noise: torch.Tensor, sigmas: Any, solver: str, x_ref: torch.Tensor,
           *, step_frac: float = STEP_FRAC, min_frac: float = MIN_FRAC, max_sweeps: int = MAX_SWEEPS,
           rtol: float = RTOL, folds: int | None = None, batch_size: int = 1024) -> dict[str, Any]:
    """Compass search over the interior log-sigmas of ``sigmas`` (K+1, descending, ends kept) that
    lowers the mean ODE error ||x_K - x_ref|| / sqrt(d) of ``solver`` from x_0 = sigmas[0] * noise.
    ``sigmas`` may be a list of candidate starts: the first is kept unless a later one is better
    by the same rule as a move (``_better``); each costs K evaluations per sample.

    Returns {"sigmas", "error" (mean on the search noises), "start_error", "start_index",
    "start_errors" (each candidate's mean), "history" (error after each sweep), "sweeps",
    "step_frac" (final h), "accepted" (moves kept)}.
    """
    starts = _check(solver, noise, sigmas, x_ref, step_frac, min_frac, max_sweeps, rtol, folds)
    K, ref = len(starts[0]) - 1, x_ref.to(noise)
    fold = torch.arange(noise.shape[0]) % (min(FOLDS, noise.shape[0]) if folds is None else folds)
    first, cur, start_errors = _select(D, solver, starts, noise, ref, fold, rtol, batch_size)
    s, err = starts[first], float(cur.errors.mean())
    start_err, history, h, sweeps, accepted = err, [err], step_frac, 0, 0
    while K > 1 and sweeps < max_sweeps and h >= min_frac:
        kept = 0
        for i in range(1, K):
            S = _trials(s, i, h)
            trial = _run(D, solver, S, i - 1, cur.x[i - 1], cur.hist[i - 1], ref, batch_size,
                         cur.den[i - 1])
            m = _better(trial.errors, cur.errors, err, fold, rtol)
            if m is not None:
                s, err = S[m].clone(), float(trial.errors[m].mean())
                cur = _splice(cur, _pick(trial, m), i)
                kept += 1
        sweeps, accepted = sweeps + 1, accepted + kept
        history.append(err)
        h = h if kept else h / 2
    return {"sigmas": s, "error": err, "start_error": start_err, "start_index": first,
            "start_errors": start_errors, "history": history, "sweeps": sweeps, "step_frac": h,
            "accepted": accepted}


def refined(D: Denoiser, noise: torch.Tensor, K: int, solver: str, *,
            methods: Mapping[str, Callable[..., dict]], reference: Callable[..., torch.Tensor],
            grid: Any = None, x_ref: torch.Tensor | None = None, step_frac: float = STEP_FRAC,
            min_frac: float = MIN_FRAC, max_sweeps: int = MAX_SWEEPS, rtol: float = RTOL,
            folds: int | None = None, batch_size: int = 1024, candidates: tuple[str, ...] = (),
            sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX) -> dict[str, Any]:
    """The "refined" search method: the exhaustive optimum on the coarse ``grid`` (``methods``
    ["exhaustive"], ``search``'s registry), then ``refine`` from it on the same noises and
    reference solutions (``reference(D, noise, x_ref, sigma_min, sigma_max)``); with
    ``candidates`` (names in ``methods``, e.g. MULTISTART), their schedules compete for the start."""
    _validate.choice("solver", solver, SOLVERS)
    for c in candidates:
        _validate.choice("candidates", c, [m for m in methods if not m.startswith("refined")])
    bounds = {"sigma_min": sigma_min, "sigma_max": sigma_max}
    ref = reference(D, noise, x_ref, sigma_min, sigma_max)
    ex = methods["exhaustive"](D, noise, K, solver, grid=grid, x_ref=ref, batch_size=batch_size,
                               **bounds)
    starts = [ex["sigmas"], *(methods[c](D, noise, K, solver, **bounds)["sigmas"] for c in candidates)]
    r = refine(D, noise, starts, solver, ref, step_frac=step_frac, min_frac=min_frac,
               max_sweeps=max_sweeps, rtol=rtol, folds=folds, batch_size=batch_size)
    names = ["exhaustive", *candidates]
    return {**r, "start": starts[r["start_index"]], "start_method": names[r["start_index"]],
            "candidates": dict(zip(names, r["start_errors"], strict=True))}
