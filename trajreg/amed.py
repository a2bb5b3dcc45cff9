"""AMED-Solver and AMED-Plugin (Zhou, Chen, Wang, Chen; CVPR 2024): a learned intermediate time per step.

A step sigma_i -> sigma_i+1 evaluates D at x_i (whose UNet bottleneck feeds a small predictor) and
at an intermediate sigma_mid = sigma_i+1^r sigma_i^(1 - r), r in (0, 1) predicted per sample:

- AMED-Solver (the "approximate mean direction", eq. 9): x_mid = x_i + (sigma_mid - sigma_i) d_i,
  d_mid = (x_mid - D(x_mid, a sigma_mid)) / sigma_mid, x_i+1 = x_i + c (sigma_i+1 - sigma_i) d_mid.
  With r = 1/2, c = a = 1 it is DPM-Solver-2.
- AMED-Plugin on iPNDM: the step becomes two Adams-Bashforth sub-steps sigma_i -> sigma_mid ->
  sigma_i+1 sharing one slope history (d_i and d_mid both pushed), the second scaled by c.

c = 1 + s_dir (2 sigmoid - 1) and a = 1 + s_time (2 sigmoid - 1) are optional scale heads. NFE is
counted as the authors count it: 2 per step, 2K - 1 with the analytical first step (AFS: the first
slope is x / sqrt(1 + sigma^2), no model call), so odd budgets use AFS (``steps_for_nfe``).
The predictor is trained data-free against a teacher run on the same schedule family with M extra
points per interval (``train``): Heun M = 1 for the solver, iPNDM M = 2 for the plugin.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from trajreg import _validate, schedules, solvers
from trajreg.denoisers import Denoiser

__all__ = ["KINDS", "FixedPredictor", "Predictor", "amed_plugin", "amed_solver", "bottleneck",
           "nfe", "steps_for_nfe", "teacher_targets", "teacher_loss", "teacher_losses", "train"]

KINDS = ("solver", "plugin")
TEACHER = {"solver": ("heun", 1), "plugin": ("ipndm", 2)}     # launch.sh's teacher and M
SCHEDULE = {"solver": "time_uniform", "plugin": "polynomial"}  # launch.sh's schedules
Predict = Callable[[torch.Tensor, float, float], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


def nfe(n_steps: int, afs: bool) -> int:
    """Model evaluations of K AMED steps: 2 K, less one with the analytical first step."""
    _validate.at_least("n_steps", n_steps, 1)
    return 2 * n_steps - int(bool(afs))


def steps_for_nfe(budget: int) -> tuple[int, bool]:
    """(steps K, afs) spending exactly ``budget`` evaluations: even -> K = budget / 2 without AFS,
    odd -> K = (budget + 1) / 2 with AFS (the authors' odd NFE 3/5/7/9)."""
    _validate.at_least("budget", budget, 2)
    return (budget + 1) // 2, budget % 2 == 1


def _embed(t: float, n: int = 8, max_positions: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of a raw sigma, n channels, endpoint frequencies, [sin, cos]."""
    freqs = (1 / max_positions) ** (torch.arange(n // 2, dtype=torch.float32) / (n // 2 - 1))
    x = t * freqs
    return torch.cat([x.sin(), x.cos()])


class Predictor(nn.Module):
    """The AMED predictor (about 9k parameters): bottleneck features (B, F) and the step's
    (sigma_i, sigma_i+1) -> (r, c, a), each (B,); F = 0 is the bottleneck-free variant."""

    def __init__(self, feat_dim: int = 49, scale_dir: float = 0.01, scale_time: float = 0.0):
        super().__init__()
        _validate.at_least("feat_dim", feat_dim, 0)
        for name, v in (("scale_dir", scale_dir), ("scale_time", scale_time)):
            if not 0 <= v < 1:
                raise ValueError(f"{name} must lie in [0, 1), got {v!r}")
        self.feat_dim, self.scale_dir, self.scale_time = feat_dim, scale_dir, scale_time
        self.time = nn.Linear(8, 8)
        self.trunk = (nn.Sequential(nn.Linear(feat_dim, 128), nn.SiLU(), nn.Linear(128, 4)) if feat_dim
                      else None)
        n_in = 16 + (4 if feat_dim else 0)
        self.head_r = nn.Linear(n_in, 1)
        self.head_c = nn.Linear(n_in, 1) if scale_dir > 0 else None
        self.head_a = nn.Linear(n_in, 1) if scale_time > 0 else None
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=math.sqrt(1 / m.in_features))
                nn.init.zeros_(m.bias)
        nn.init.xavier_uniform_(self.time.weight)

    def forward(self, feat: torch.Tensor, t_cur: float, t_next: float
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B = feat.shape[0]
        emb = torch.cat([nn.functional.silu(self.time(_embed(t))) for t in (t_cur, t_next)])
        h = emb.to(feat.device).expand(B, -1)
        if self.trunk is not None:
            h = torch.cat([self.trunk(feat.to(torch.float32)), h], 1)
        r = torch.sigmoid(self.head_r(h)).squeeze(1)
        c = self._scale(self.head_c, self.scale_dir, h, r)
        return r, c, self._scale(self.head_a, self.scale_time, h, r)

    @staticmethod
    def _scale(head: nn.Linear | None, scale: float, h: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """1 + scale (2 sigmoid(head(h)) - 1), in (1 - scale, 1 + scale); ones without the head."""
        if head is None:
            return torch.ones_like(like)
        return 1 + scale * (2 * torch.sigmoid(head(h)).squeeze(1) - 1)


class FixedPredictor:
    """A constant (r, c, a) for every sample and step: the classical step AMED reduces to."""

    def __init__(self, r: float = 0.5, c: float = 1.0, a: float = 1.0):
        if not 0 < r < 1:
            raise ValueError(f"r must lie in (0, 1), got {r!r}")
        self.r, self.c, self.a = r, c, a

    def __call__(self, feat: torch.Tensor, t_cur: float, t_next: float):
        one = torch.ones(feat.shape[0], dtype=torch.float64, device=feat.device)
        return self.r * one, self.c * one, self.a * one


class bottleneck:  # noqa: N801 - a context manager used like a function
    """Context that records the channel mean of the UNet's last middle block (7x7 on our model,
    flattened to 49 features) at every call of ``denoiser``; ``.features`` holds the latest (B, F).
    Denoisers without an EDM UNet (``.net.mid``) give F = 0 features (the bottleneck-free variant)."""

    def __init__(self, denoiser: Any):
        inner = denoiser
        for _ in range(4):                     # look through Counted (.denoiser) and NoGrad (.D)
            inner = getattr(inner, "denoiser", None) or getattr(inner, "D", None) or inner
        mid = getattr(getattr(inner, "net", None), "mid", None)
        last = mid[-1] if mid is not None else None
        self.module = last[-1] if isinstance(last, nn.ModuleList) else last   # the block's last layer
        self.features: torch.Tensor | None = None
        self._handle = None

    def _hook(self, module, inputs, output):
        self.features = output.detach().mean(1).flatten(1)

    def __enter__(self) -> bottleneck:
        if self.module is not None:
            self._handle = self.module.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.remove()

    def take(self, B: int, like: torch.Tensor) -> torch.Tensor:
        """The features of the latest call as a normal (autograd-safe) tensor, or (B, 0)."""
        if self.module is None or self.features is None:
            return like.new_zeros(B, 0, dtype=torch.float32)
        return self.features.clone().to(torch.float32)


def _afs_slope(x: torch.Tensor, t: float) -> torch.Tensor:
    """The analytical first step's slope: x normalised to unit variance taken as the noise."""
    return x / math.sqrt(1 + t * t)


def _col(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return v.to(x.dtype).reshape(-1, *[1] * (x.ndim - 1))


def _features(rec: bottleneck, x: torch.Tensor, zero: bool, predictor: Any) -> torch.Tensor:
    """The step's bottleneck features; zeros of the predictor's width on an AFS step (no model call)."""
    if zero:
        return x.new_zeros(x.shape[0], getattr(predictor, "feat_dim", 0), dtype=torch.float32)
    return rec.take(x.shape[0], x)


def _slope_and_prediction(denoiser: Denoiser, predictor: Predict, rec: Any, x: torch.Tensor,
                          sigmas: torch.Tensor, t: torch.Tensor, s: torch.Tensor, i: int, afs: bool,
                          callback: solvers.Callback | None) -> tuple:
    """Step i's slope d(x, t_i) (the analytical first step when ``afs`` and i = 0) and the
    predictor's (r, c, a) from the bottleneck features of that evaluation."""
    first_afs = afs and i == 0
    if first_afs:
        d_cur = _afs_slope(x, t[0])
        rec.features = None
    else:
        denoised = denoiser(x, s[i])
        solvers._report(callback, i, sigmas, x, denoised)
        d_cur = solvers.to_d(x, s[i], denoised)
    return (d_cur, *predictor(_features(rec, x, first_afs, predictor), t[i], t[i + 1]))


def amed_solver(denoiser: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, predictor: Predict, *,
                afs: bool = False, callback: solvers.Callback | None = None,
                grad_denoiser: Denoiser | None = None) -> torch.Tensor:
    """AMED-Solver (Zhou et al. 2024, eq. 9; 2 NFE a step, 2K - 1 with ``afs``).

    grad_denoiser: the same D with autograd (training); used at sigma_mid only.
    """
    sigmas, t, s = solvers._prepare(x, sigmas)
    D_mid = grad_denoiser or denoiser
    with bottleneck(denoiser) as rec:
        for i in range(len(t) - 1):
            d_cur, r, c, a = _slope_and_prediction(denoiser, predictor, rec, x, sigmas, t, s, i, afs,
                                                   callback)
            # intermediate time, geometric in sigma, and Euler step to it
            t_mid = t[i + 1] ** r.to(torch.float64) * t[i] ** (1 - r.to(torch.float64))
            tm = _col(t_mid, x)
            x_mid = x + (tm - t[i]) * d_cur
            # the approximate mean direction at sigma_mid, then the full step
            d_mid = (x_mid - D_mid(x_mid, (a.to(torch.float64) * t_mid).to(x.dtype))) / tm
            x = x + _col(c, x) * (t[i + 1] - t[i]) * d_mid
    return x


def amed_plugin(denoiser: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, predictor: Predict, *,
                max_order: int = 4, afs: bool = False, callback: solvers.Callback | None = None,
                grad_denoiser: Denoiser | None = None) -> torch.Tensor:
    """AMED-Plugin on iPNDM (Zhou et al. 2024): each step two fixed Adams-Bashforth sub-steps
    sigma_i -> sigma_mid -> sigma_i+1 over one slope history, the second scaled by c."""
    _validate.choice("max_order", max_order, solvers.AB)
    sigmas, t, s = solvers._prepare(x, sigmas)
    D_mid = grad_denoiser or denoiser
    history: list[torch.Tensor] = []          # previous slopes, newest first

    def ab(x: torch.Tensor, d: torch.Tensor, h: Any) -> torch.Tensor:
        nonlocal history
        ds = [d, *history]
        history = ds[: max_order - 1]
        return x + h * sum(cf * dd for cf, dd in zip(solvers.AB[len(ds)], ds, strict=True))

    with bottleneck(denoiser) as rec:
        for i in range(len(t) - 1):
            d_cur, r, c, a = _slope_and_prediction(denoiser, predictor, rec, x, sigmas, t, s, i, afs,
                                                   callback)
            t_mid = t[i + 1] ** r.to(torch.float64) * t[i] ** (1 - r.to(torch.float64))
            tm = _col(t_mid, x)
            x_mid = ab(x, d_cur, tm - t[i])
            d_mid = (x_mid - D_mid(x_mid, (a.to(torch.float64) * t_mid).to(x.dtype))) / tm
            x = ab(x_mid, d_mid, _col(c, x) * (t[i + 1] - tm))
    return x


SAMPLERS = {"solver": amed_solver, "plugin": amed_plugin}


def teacher_targets(denoiser: Denoiser, x_T: torch.Tensor, sigmas: torch.Tensor, kind: str,
                    schedule: str | None = None) -> torch.Tensor:
    """Teacher states (N, B, *dims) at the student's N sigmas: the teacher of ``kind`` (``TEACHER``)
    on the schedule family with M points inserted per interval ((M + 1)(N - 1) + 1 sigmas)."""
    _validate.choice("kind", kind, KINDS)
    teacher, M = TEACHER[kind]
    fam = schedule or SCHEDULE[kind]
    s = _validate.sigmas(sigmas).to(torch.float64)
    N = len(s)
    fine = schedules.get(fam, (M + 1) * (N - 1) + 1, sigma_min=float(s[-1]), sigma_max=float(s[0]))
    if not torch.allclose(fine[:: M + 1], s, rtol=1e-9):
        raise ValueError(f"sigmas must be the {fam!r} schedule the teacher refines (schedule={fam!r})")
    states: list[torch.Tensor] = []
    x_end = solvers.get(teacher)(denoiser, x_T, fine, callback=lambda info: states.append(info["x"]))
    states.append(x_end)
    return torch.stack(states[:: M + 1])


def _student_loss(denoiser: Denoiser, grad_D: Denoiser, predictor: Predict, kind: str, x: torch.Tensor,
                  t2: torch.Tensor, target: torch.Tensor, afs: bool, hist: list[torch.Tensor] | None
                  ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor] | None]:
    """One student step from x over t2 = (sigma_k, sigma_k+1); mean over samples of ||x' - target||^2.
    For the plugin, hist is the slope history carried in (detached) and returned updated."""
    if kind == "solver":
        out = amed_solver(denoiser, x, t2, predictor, afs=afs, grad_denoiser=grad_D)
        new_hist = None
    else:
        slopes: list[torch.Tensor] = []
        out = _plugin_step(denoiser, grad_D, predictor, x, t2, afs, hist or [], slopes)
        new_hist = [d.detach() for d in slopes]
    loss = (out - target).flatten(1).pow(2).sum(1).mean()
    return loss, out, new_hist


def _plugin_step(denoiser, grad_D, predictor, x, t2, afs, hist, slopes_out, max_order=4):
    """One AMED-Plugin step with a given slope history (as ``amed_plugin``'s loop body)."""
    t = t2.tolist()
    history = list(hist)

    def ab(x, d, h):
        nonlocal history
        ds = [d, *history]
        history = ds[: max_order - 1]
        return x + h * sum(cf * dd for cf, dd in zip(solvers.AB[len(ds)], ds, strict=True))

    with bottleneck(denoiser) as rec:
        d_cur = (_afs_slope(x, t[0]) if afs
                 else solvers.to_d(x, t[0], denoiser(x, x.new_tensor(t[0]))))
        r, c, a = predictor(_features(rec, x, afs, predictor), t[0], t[1])
    t_mid = t[1] ** r.to(torch.float64) * t[0] ** (1 - r.to(torch.float64))
    tm = _col(t_mid, x)
    x_mid = ab(x, d_cur, tm - t[0])
    d_mid = (x_mid - grad_D(x_mid, (a.to(torch.float64) * t_mid).to(x.dtype))) / tm
    out = ab(x_mid, d_mid, _col(c, x) * (t[1] - tm))
    slopes_out.extend(history)
    return out


def _with_grad(D: Any) -> Denoiser:
    """The network inside ``models.NoGrad`` (which runs under inference mode), else D itself."""
    inner = getattr(D, "D", None)
    return inner if isinstance(D, nn.Module) and isinstance(inner, nn.Module) else D


def teacher_losses(denoiser: Denoiser, predictor: Predict, kind: str, sigmas: torch.Tensor,
                   targets: torch.Tensor, afs: bool = False) -> list[float]:
    """Held-out teacher-matching loss of each student step, the per-step losses ``train`` minimises
    (teacher forcing for the solver, the student's own states for the plugin), no gradients."""
    _validate.choice("kind", kind, KINDS)
    s = _validate.sigmas(sigmas).to(torch.float64)
    out, x, hist = [], targets[0], []
    with torch.no_grad():
        for k in range(len(s) - 1):
            loss, step_out, hist = _student_loss(denoiser, denoiser, predictor, kind, x, s[k:k + 2],
                                                 targets[k + 1], afs and k == 0, hist)
            out.append(float(loss))
            x = targets[k + 1] if kind == "solver" else step_out
    return out


def teacher_loss(denoiser: Denoiser, predictor: Predict, kind: str, sigmas: torch.Tensor,
                 targets: torch.Tensor, afs: bool = False) -> float:
    """Held-out teacher-matching loss: the sum over steps of :func:`teacher_losses`."""
    return sum(teacher_losses(denoiser, predictor, kind, sigmas, targets, afs))


def train(denoiser: Denoiser, kind: str, sigmas: torch.Tensor, noise: torch.Tensor, *,
          afs: bool = False, predictor: Predictor | None = None, epochs: int = 1, batch_size: int = 32,
          lr: float = 5e-3, targets: torch.Tensor | None = None, schedule: str | None = None,
          seed: int = 0) -> tuple[Predictor, dict]:
    """Train an AMED predictor against teacher trajectories from ``noise`` (B, *dims) (Sec. 4.1).

    Per batch, one Adam step per student step k on that step's loss (the mean over samples of
    ||student(x_k) - teacher_k+1||^2), gradients through the frozen D at sigma_mid; the next input
    is the teacher state (solver) or the student's own detached output and history (plugin).
    NaN gradients are zeroed, +-inf set to +-100,000. Returns (predictor, info) with the loss history,
    teacher and student evaluations (per sample, summed) and wall seconds.
    """
    _validate.choice("kind", kind, KINDS)
    _validate.at_least("epochs", epochs, 1)
    _validate.at_least("batch_size", batch_size, 1)
    _validate.positive("lr", lr)
    start = time.perf_counter()
    s = _validate.sigmas(sigmas).to(torch.float64)
    torch.manual_seed(seed)
    if predictor is None:
        with bottleneck(denoiser) as rec:
            denoiser(noise[:1] * float(s[0]), noise.new_tensor(float(s[0])))
            feat_dim = rec.take(1, noise).shape[1]
        predictor = Predictor(feat_dim)
    if targets is None:
        with torch.no_grad():
            targets = torch.cat([teacher_targets(denoiser, float(s[0]) * z, s, kind, schedule)
                                 for z in noise.split(256)], 1)
    teacher, M = TEACHER[kind]
    teacher_nfe = noise.shape[0] * solvers.nfe(teacher, (M + 1) * (len(s) - 1) + 1)
    opt = torch.optim.Adam(predictor.parameters(), lr=lr)
    grad_D = _with_grad(denoiser)
    g = torch.Generator().manual_seed(seed)
    losses, student_nfe = [], 0
    with torch.enable_grad():
        for _ in range(epochs):
            for idx in torch.randperm(noise.shape[0], generator=g).split(batch_size):
                x, hist = targets[0, idx], []
                for k in range(len(s) - 1):
                    loss, out, hist = _student_loss(denoiser, grad_D, predictor, kind, x, s[k:k + 2],
                                                    targets[k + 1, idx], afs and k == 0, hist)
                    opt.zero_grad()
                    loss.backward()
                    for p in predictor.parameters():
                        if p.grad is not None:
                            torch.nan_to_num_(p.grad, nan=0.0, posinf=1e5, neginf=-1e5)
                    opt.step()
                    losses.append(float(loss.detach()))
                    student_nfe += len(idx) * (1 if afs and k == 0 else 2)
                    x = targets[k + 1, idx] if kind == "solver" else out.detach()
    info = {"losses": losses, "teacher_nfe": teacher_nfe, "student_nfe": student_nfe,
            "backward_passes": len(losses), "seconds": time.perf_counter() - start}
    return predictor.eval().requires_grad_(False), info
