"""Stable Diffusion v1.5 with GITS (paper Table 2) through diffusers.

The pieces, each tested on a tiny randomly initialised pipeline (``tests/test_sd.py``):

* ``DiscreteVP``: the pipeline's discrete VP schedule (alphas_cumprod) in EDM's sigma space,
  sigma_k = sqrt(1 / alphas_cumprod[k] - 1), with the official code's continuous timestep:
  c_noise = 1000 t - 1 = M t - 1, t from piecewise-linear interpolation of log alpha (its
  ``CFGPrecond``; for sigma on the table c_noise is the integer index k). ``grid`` is its
  ``discrete`` schedule (rho = 1: uniform in t, 61 points from sigma_max 14.6146 to sigma_min 0.0292).
* ``CFGDenoiser``: D(x, sigma) = x - sigma * eps_cfg(x / sqrt(1 + sigma^2), c_noise) for the VE-scale
  latent x (x = VP latent / alpha), eps_cfg = eps_u + w (eps_c - eps_u), w = 7.5, one UNet call on
  the doubled batch [uncond, cond] (uncond = the empty prompt's embedding).
* ``warmup`` / ``search`` / ``schedule``: GITS on the pipeline's own UNet: warm-up trajectories of
  prompts on the 61-point grid with the official SD teacher (``dpm_2m_eps`` of ``trajreg.solvers``:
  multistep DPM-Solver, order 2, noise prediction, lower order at the end = ``--solver_tea=dpmpp --max_order=2
  --predict_x0=False``), then ``trajreg.gits.cost_matrix`` (metric "dev" as the official SD command)
  and the DP with gamma 1.20: K+1 sigmas from sigma_max to sigma_min.
* ``SigmaDPMSolverMultistepScheduler``: diffusers' ``DPMSolverMultistepScheduler`` takes only integer
  ``timesteps``; this subclass also takes ``sigmas`` (as ``EulerDiscreteScheduler`` does: the list
  is used verbatim, K+1 levels for K steps, the last one the level the final step lands on) and
  gives the UNet the same fractional c_noise as ``CFGDenoiser``. ``generate`` samples with it:
  ``pipe(prompt, sigmas=gits.as_diffusers(sigmas))``.
* ``nfe`` / ``steps`` / ``count_unet_calls``: NFE as the paper counts it for Stable Diffusion, 1 step
  = 2 NFE with classifier-free guidance (the authors' solver-toolbox README: "for Stable Diffusion,
  1 step = 2 NFE due to the classifier-free guidance"; their ``sample.py`` doubles the NFE for SD
  runs; every column of Table 2 is even). Read that way, Table 2's NFE 10/12/14/16 are 5/6/7/8 steps
  (``TABLE2_STEPS``) and with Sec. 7's 10-step comparison form one falling sequence (uniform 17.16,
  15.76, 15.06, 14.72, 14.28; GITS 15.53, 13.29, 12.44, 12.26, 12.02). ``steps`` counts UNet calls on
  the doubled batch, one per step.
* ``ays_sigmas``: the published 10-step Align Your Steps schedule for SD 1.5 (Sabour et al. 2024,
  Table 3), log-linearly interpolated to other step counts, for Sec. 7's AYS row.

Paper scale (NOT run here: these machines can neither download the 4 GB model nor use a GPU)::

    import random, torch
    from diffusers import StableDiffusionPipeline
    from trajreg import fid, sd

    pipe = StableDiffusionPipeline.from_pretrained(
        sd.MODEL_ID, torch_dtype=torch.float16, safety_checker=None).to("cuda")  # runwayml/...-v1-5
    captions = sd.read_captions("MS-COCO_val2014_30k_captions.csv")   # text2image-benchmark release v0.0.1
    warm = sd.warmup(pipe, random.Random(0).sample(captions, 256), batch_size=16)   # 61-pt grid, CFG 7.5
    table = sd.search(warm, [*sd.TABLE2_STEPS.values(), 10], gamma=1.20)  # {K: K+1 sigmas}: 5-8, 10 steps
    sigmas = table[sd.TABLE2_STEPS[10]]                      # Table 2's NFE 10: sd.nfe(sigmas) == 10
    # Sec. 7 (10 steps): table[10] beside sd.ays_sigmas(10, sd.DiscreteVP(pipe.scheduler)) and uniform
    for i in range(0, 30_000, 16):                                     # seed k <-> caption k
        out = sd.generate(pipe, captions[i:i + 16], sigmas,            # DPM-Solver++(2M), CFG 7.5
                          generator=[torch.Generator("cuda").manual_seed(k) for k in range(i, i + 16)])
        for k, image in zip(range(i, i + 16), out.images):
            image.save(f"samples/{k:05d}.png")
    score = fid.fid_from_folder("samples", "coco-val2014-30k.npz", "inception", device="cuda")

FID-30k thus goes through clean-fid's Inception features (``trajreg.fid``; reading 30k 512x512
PNGs takes about 24 GB of memory). ``coco-val2014-30k.npz`` stands for the reference statistics
of the MS-COCO val2014 images behind those captions, made once with ``fid.inception_features``,
``fid.statistics`` and ``fid.save_stats``. The warm-up costs 256 x 60 UNet calls (doubled batch),
once per model. The official code's student solver uses noise prediction (``--predict_x0=False``):
``generate(..., algorithm_type="dpmsolver", final="keep")`` is that variant (diffusers marks
``"dpmsolver"`` deprecated); the default is diffusers' DPM-Solver++(2M) (data prediction), the
name of Table 2. One difference to the official sampler remains: the pipeline starts from
x_T = sqrt(1 + sigma_max^2) z in this VE scale, the official code from sigma_max z (14.65 vs 14.61).
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterable, Iterator, Sequence
from numbers import Integral
from pathlib import Path
from typing import Any

import torch

try:
    from diffusers import DPMSolverMultistepScheduler
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError("trajreg.sd needs diffusers and transformers: pip install 'trajreg[sd]'") from e

from trajreg import _validate, gits
from trajreg.trajectory import Trajectory

__all__ = ["AYS_SD15", "GAMMA", "GUIDANCE", "METRIC", "MODEL_ID", "N_GRID", "TABLE2_STEPS", "TEACHERS",
           "CFGDenoiser", "DiscreteVP", "SigmaDPMSolverMultistepScheduler", "ays_sigmas",
           "count_unet_calls", "generate", "nfe", "read_captions", "schedule", "search", "set_scheduler",
           "steps", "warmup"]

MODEL_ID = "runwayml/stable-diffusion-v1-5"
GUIDANCE = 7.5          # --guidance_rate of the official SD command
GAMMA = 1.20            # --coeff of the official SD command
METRIC = "dev"          # --metric of the official SD command
N_GRID = 61             # --num_steps_tea
TEACHERS = gits.TEACHERS     # "dpm_2m_eps" (trajreg.solvers) is the official SD teacher
ALGORITHMS = ("dpmsolver++", "dpmsolver")
TABLE2_STEPS = {10: 5, 12: 6, 14: 7, 16: 8}     # Table 2's NFE -> DPM-Solver++(2M) steps (1 step = 2 NFE)
# The published 10-step AYS schedule for SD 1.5 (AYS paper Table 3), sigma_max first; its ends are
# SD 1.5's sigma_max 14.6146 and sigma_min 0.0292 rounded to three decimals.
AYS_SD15 = (14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029)


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear f(x) through (xp, fp), xp increasing, extended linearly beyond the ends."""
    i = torch.searchsorted(xp, x).clamp(1, len(xp) - 1)
    x0, x1, f0, f1 = xp[i - 1], xp[i], fp[i - 1], fp[i]
    return f0 + (x - x0) * (f1 - f0) / (x1 - x0)


def _alphas_cumprod(source: Any) -> torch.Tensor:
    """alphas_cumprod of a tensor, a scheduler or a pipeline (its scheduler), as float64."""
    source = getattr(source, "scheduler", source)
    ac = getattr(source, "alphas_cumprod", source)
    if not isinstance(ac, torch.Tensor):
        raise TypeError(f"expected alphas_cumprod, a scheduler or a pipeline, got {type(source).__name__}")
    ac = ac.detach().to("cpu", torch.float64)
    if ac.ndim != 1 or len(ac) < 2 or not ((ac > 0) & (ac < 1)).all() or not (ac[1:] < ac[:-1]).all():
        raise ValueError("alphas_cumprod must be a 1-D, strictly decreasing tensor in (0, 1)")
    return ac


class DiscreteVP:
    """A discrete VP schedule in EDM's sigma space, as the official ``CFGPrecond`` (GITS code).

    alphas_cumprod: the M = 1000 values of the pipeline's scheduler (or the scheduler/pipeline).
    Timestep k in [0, M-1] <-> continuous time t = (k + 1) / M <-> sigma, with log alpha linear in
    k between table entries (and beyond them). c_noise = M t - 1 = k is what the UNet receives.
    """

    def __init__(self, alphas_cumprod: Any):
        ac = _alphas_cumprod(alphas_cumprod)
        self.M = len(ac)
        self.log_alpha = 0.5 * ac.log()                          # decreasing in k
        self.sigmas = (1 / ac - 1).sqrt()                         # sigma_k, increasing in k
        self._k = torch.arange(self.M, dtype=torch.float64)

    @property
    def sigma_min(self) -> float:
        return float(self.sigmas[0])

    @property
    def sigma_max(self) -> float:
        return float(self.sigmas[-1])

    def timestep(self, sigma: float | torch.Tensor) -> torch.Tensor:
        """c_noise = M sigma_inv(sigma) - 1 (official ``CFGPrecond``), float64 on the CPU."""
        s = torch.as_tensor(sigma).detach().to("cpu", torch.float64)
        if not ((s > 0) & torch.isfinite(s)).all():
            raise ValueError(f"sigma must be finite and > 0, got {s.tolist()}")
        log_alpha = -0.5 * torch.log1p(s * s)
        return _interp(log_alpha, self.log_alpha.flip(0), self._k.flip(0))

    def sigma(self, timestep: float | torch.Tensor) -> torch.Tensor:
        """sigma at a (fractional) timestep k: sqrt(alpha^-2 - 1), log alpha interpolated in k."""
        k = torch.as_tensor(timestep).detach().to("cpu", torch.float64)
        return torch.expm1(-2 * _interp(k, self._k, self.log_alpha)).sqrt()

    def grid(self, n: int = N_GRID, rho: float = 1.0) -> torch.Tensor:
        """The official ``discrete`` schedule: t_i = (1 + i/(n-1) (t_min^(1/rho) - 1))^rho, t_min = 1/M.

        rho = 1 (the SD setting) is uniform in the timestep, from k = M-1 (sigma_max) to 0 (sigma_min).
        """
        _validate.at_least("n", n, 2)
        _validate.positive("rho", rho)
        i = torch.arange(n, dtype=torch.float64)
        t = (1 + i / (n - 1) * ((1 / self.M) ** (1 / rho) - 1)) ** rho
        s = self.sigma(self.M * t - 1)
        s[0], s[-1] = self.sigma_max, self.sigma_min             # exact table ends
        return s


class CFGDenoiser:
    """D(x, sigma) of an eps-prediction UNet with classifier-free guidance (official ``CFGPrecond``).

    x is the VE-scale latent (VP latent / alpha); D = x - sigma eps_cfg with
    eps_cfg = eps(x_u) + w (eps(x_c) - eps(x_u)), evaluated in one UNet call on [uncond, cond] at
    c_in x = x / sqrt(1 + sigma^2) and timestep c_noise = ``DiscreteVP.timestep(sigma)``.
    cond: (B or 1, L, C) prompt embeddings; uncond: the same for the negative (empty) prompt.
    guidance_scale 1 or uncond None: a single conditional evaluation.
    """

    def __init__(self, unet: torch.nn.Module, vp: DiscreteVP | Any, cond: torch.Tensor,
                 uncond: torch.Tensor | None = None, guidance_scale: float = GUIDANCE):
        self.unet = unet
        self.vp = vp if isinstance(vp, DiscreteVP) else DiscreteVP(vp)
        _validate.positive("guidance_scale", guidance_scale)
        if uncond is not None and uncond.shape[1:] != cond.shape[1:]:
            raise ValueError(f"uncond has shape {tuple(uncond.shape)} but cond has {tuple(cond.shape)}")
        self.cond, self.uncond, self.guidance_scale = cond, uncond, float(guidance_scale)

    @property
    def guided(self) -> bool:
        return self.uncond is not None and self.guidance_scale != 1.0

    def eps(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        """The guided noise prediction eps_cfg at VE-scale x and sigma (float32 or x's dtype)."""
        B = x.shape[0]
        s = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1).expand(B)
        k = self.vp.timestep(s)
        dtype = next(self.unet.parameters()).dtype
        x_in = (x / torch.sqrt(1 + s * s).to(x).reshape(-1, *([1] * (x.ndim - 1)))).to(dtype)
        k = k.to(x.device, torch.float32)
        cond = self.cond.to(x.device, dtype).expand(B, -1, -1)
        if not self.guided:
            return self.unet(x_in, k, encoder_hidden_states=cond, return_dict=False)[0].to(x.dtype)
        uncond = self.uncond.to(x.device, dtype).expand(B, -1, -1)
        out = self.unet(torch.cat([x_in, x_in]), torch.cat([k, k]),
                        encoder_hidden_states=torch.cat([uncond, cond]), return_dict=False)[0]
        eps_u, eps_c = out.to(x.dtype).chunk(2)
        return eps_u + self.guidance_scale * (eps_c - eps_u)

    def __call__(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        """D(x, sigma) = x - sigma eps_cfg (EDM's preconditioning of an eps-prediction model)."""
        s = torch.as_tensor(sigma).to(x).reshape(-1, *([1] * (x.ndim - 1)))
        return x - s * self.eps(x, sigma)


def _latent_shape(pipe: Any, height: int | None, width: int | None) -> tuple[int, int, int]:
    """(C, h, w) of the pipeline's latents for an image of height x width (default: its own size)."""
    f = pipe.vae_scale_factor
    size = pipe.unet.config.sample_size * f
    height, width = height or size, width or size
    if height % f or width % f:
        raise ValueError(f"height and width must be multiples of {f}, got {height} x {width}")
    return pipe.unet.config.in_channels, height // f, width // f


def _check_eps(pipe: Any) -> None:
    pred = pipe.scheduler.config.get("prediction_type", "epsilon")
    if pred != "epsilon":
        raise ValueError(f"the pipeline's model predicts {pred!r}; trajreg.sd supports 'epsilon' (SD 1.x)")


def warmup(pipe: Any, prompts: Sequence[str], *, n_grid: int = N_GRID, rho: float = 1.0,
           teacher: str = "dpm_2m_eps", guidance_scale: float = GUIDANCE,
           negative_prompt: str | None = None, height: int | None = None, width: int | None = None,
           seed: int = 0, batch_size: int = 16, progress: bool = False) -> Trajectory:
    """GITS warm-up on a diffusers pipeline's UNet: one teacher trajectory per prompt.

    Teacher on ``DiscreteVP(pipe).grid(n_grid, rho)`` from x_T = sigma_max z, z ~ N(0, I) drawn
    from ``seed`` (float32, CPU generator, in prompt order), CFG with the empty (or negative)
    prompt. teacher: "dpm_2m_eps" (the official SD teacher) or a ``trajreg.gits.TEACHERS`` name.
    Returns the ``Trajectory`` (states and denoiser outputs, float32 on the CPU) that
    ``trajreg.gits.cost_matrix`` takes. Costs len(prompts) x (n_grid - 1) guided UNet evaluations.
    """
    _validate.choice("teacher", teacher, TEACHERS)
    _validate.at_least("batch_size", batch_size, 1)
    if isinstance(prompts, str) or not prompts:
        raise ValueError("prompts must be a non-empty list of strings")
    _check_eps(pipe)
    vp = DiscreteVP(pipe.scheduler.alphas_cumprod)
    grid = vp.grid(n_grid, rho)
    device = pipe._execution_device
    shape = _latent_shape(pipe, height, width)
    noise = torch.randn((len(prompts), *shape), generator=torch.Generator().manual_seed(seed))
    guided = guidance_scale != 1.0
    parts = []
    with torch.no_grad():
        for start in range(0, len(prompts), batch_size):
            chunk = list(prompts[start:start + batch_size])
            neg = None if negative_prompt is None else [negative_prompt] * len(chunk)
            cond, uncond = pipe.encode_prompt(chunk, device, 1, guided, neg)
            D = CFGDenoiser(pipe.unet, vp, cond, uncond, guidance_scale)
            z = noise[start:start + len(chunk)].to(device)
            parts.append(gits.warmup(D, z, grid, teacher))
            if progress:
                print(f"warm-up: {start + len(chunk)}/{len(prompts)} prompts", flush=True)
    return Trajectory(sigmas=grid, x=torch.cat([p.x.float().cpu() for p in parts], 1),
                      denoised=torch.cat([p.denoised.float().cpu() for p in parts], 1))


def search(warm: Trajectory, n_steps: int | Iterable[int], gamma: float = GAMMA,
           metric: str = METRIC) -> torch.Tensor | dict[int, torch.Tensor]:
    """GITS schedules from a warm-up: cost matrix and the DP of ``trajreg.gits`` (Algorithm 1).

    n_steps: K (returns the K+1 sigmas, float64, sigma_max to sigma_min) or several K (returns
    {K: sigmas}, all from one DP table, e.g. TABLE2_STEPS.values() (5-8 steps) for Table 2's NFE 10-16).
    """
    cost = gits.cost_matrix(warm, metric)
    if isinstance(n_steps, Integral) and not isinstance(n_steps, bool):
        return warm.sigmas[gits.optimal_path(cost, int(n_steps), gamma)]
    steps = sorted({int(k) for k in n_steps})
    if not steps:
        raise ValueError("n_steps must be an integer or a non-empty collection of integers")
    paths = gits.optimal_paths(cost, steps[-1], gamma)
    missing = [k for k in steps if k not in paths or k < 1]
    if missing:
        raise ValueError(f"no finite {missing}-step path through the {len(warm.sigmas)}-point grid")
    return {k: warm.sigmas[paths[k]] for k in steps}


def schedule(pipe: Any, prompts: Sequence[str], n_steps: int, *, gamma: float = GAMMA,
             metric: str = METRIC, **warmup_kw: Any) -> torch.Tensor:
    """GITS for a pipeline in one call: ``warmup`` then ``search``; K+1 sigmas (float64)."""
    return search(warmup(pipe, prompts, **warmup_kw), n_steps, gamma, metric)


class SigmaDPMSolverMultistepScheduler(DPMSolverMultistepScheduler):
    """diffusers' DPM-Solver multistep scheduler that also accepts a custom ``sigmas`` schedule.

    ``set_timesteps(sigmas=[s_0, ..., s_K])`` runs K steps on exactly these levels (float32): the
    model is evaluated at s_0..s_{K-1} with the fractional timestep ``DiscreteVP.timestep(s)``
    (the official code's c_noise) and the last step lands on s_K (0 or sigma_min).
    Without ``sigmas`` it is the parent scheduler.
    """

    def set_timesteps(self, num_inference_steps: int | None = None, device: str | torch.device | None = None,
                      timesteps: list[int] | None = None, sigmas: Sequence[float] | None = None,
                      **kwargs: Any) -> None:
        """Set the schedule: the parent's, or ``sigmas`` verbatim (K+1 levels for K steps)."""
        if sigmas is None:
            return super().set_timesteps(num_inference_steps=num_inference_steps, device=device,
                                         timesteps=timesteps, **kwargs)
        if num_inference_steps is not None or timesteps is not None:
            raise ValueError("pass sigmas alone, without num_inference_steps or timesteps")
        flags = [f for f in ("use_karras_sigmas", "use_lu_lambdas", "use_exponential_sigmas",
                             "use_beta_sigmas", "use_flow_sigmas") if self.config.get(f)]
        if flags:
            raise ValueError(f"custom sigmas cannot be combined with the scheduler options {flags}")
        s = _validate.sigmas(torch.as_tensor(list(sigmas), dtype=torch.float64))
        if s[-1] == 0 and self.config.algorithm_type not in ("dpmsolver++", "sde-dpmsolver++"):
            raise ValueError(f"algorithm_type={self.config.algorithm_type!r} cannot step into sigma = 0; "
                             "end the schedule at sigma_min (gits.as_diffusers(sigmas, final='keep'))")
        self.sigmas = s.to(torch.float32)
        self.timesteps = DiscreteVP(self.alphas_cumprod).timestep(s[:-1]).to(device, torch.float32)
        self.num_inference_steps = len(self.timesteps)
        self.model_outputs = [None] * self.config.solver_order
        self.lower_order_nums = 0
        self._step_index = None
        self._begin_index = None


def set_scheduler(pipe: Any, algorithm_type: str = "dpmsolver++") -> SigmaDPMSolverMultistepScheduler:
    """Give the pipeline a sigma-aware DPM-Solver(++)(2M) scheduler built from its own config.

    Order 2, midpoint form, first order on the last step (the official ``lower_order_final``).
    algorithm_type: "dpmsolver++" (DPM-Solver++(2M), data prediction) or "dpmsolver" (noise
    prediction, as the official code's ``--predict_x0=False``). Returns the new scheduler.
    """
    _validate.choice("algorithm_type", algorithm_type, ALGORITHMS)
    _check_eps(pipe)
    pipe.scheduler = SigmaDPMSolverMultistepScheduler.from_config(
        pipe.scheduler.config, algorithm_type=algorithm_type, solver_order=2, solver_type="midpoint",
        lower_order_final=True, euler_at_final=True, thresholding=False, use_karras_sigmas=False,
        use_lu_lambdas=False, use_exponential_sigmas=False, use_beta_sigmas=False,
        use_flow_sigmas=False, final_sigmas_type="zero" if algorithm_type == "dpmsolver++" else "sigma_min")
    return pipe.scheduler


def generate(pipe: Any, prompt: str | list[str], sigmas: torch.Tensor, *, final: str = "zero",
             guidance_scale: float = GUIDANCE, algorithm_type: str = "dpmsolver++", **pipe_kw: Any) -> Any:
    """Sample with the pipeline on a sigma schedule (e.g. GITS): DPM-Solver++(2M), CFG 7.5.

    Swaps in ``set_scheduler(pipe, algorithm_type)`` unless the pipeline already has that one,
    then calls ``pipe(prompt, sigmas=gits.as_diffusers(sigmas, final), guidance_scale=...)``.
    final: "zero" (default: the last step lands on the denoised latent, as ComfyUI's GITS node),
    "keep" (ends at sigma_min as the official sampler; needed for "dpmsolver") or "append".
    NFE = ``nfe(sigmas, final)``.
    """
    _validate.choice("algorithm_type", algorithm_type, ALGORITHMS)
    if not (isinstance(pipe.scheduler, SigmaDPMSolverMultistepScheduler)
            and pipe.scheduler.config.algorithm_type == algorithm_type):
        set_scheduler(pipe, algorithm_type)
    return pipe(prompt, sigmas=gits.as_diffusers(sigmas, final), guidance_scale=guidance_scale, **pipe_kw)


def steps(sigmas: torch.Tensor, final: str = "zero") -> int:
    """Steps of ``generate`` on a schedule = UNet calls (one on the CFG-doubled batch per step)."""
    return len(gits.as_diffusers(sigmas, final)) - 1


def nfe(sigmas: torch.Tensor, final: str = "zero", guidance_scale: float = GUIDANCE) -> int:
    """NFE of ``generate`` as the paper counts it for Stable Diffusion: 2 per step with
    classifier-free guidance (guidance_scale != 1: conditional and unconditional evaluations),
    1 per step without; Table 2's NFE 10/12/14/16 are 5/6/7/8 steps (``TABLE2_STEPS``)."""
    return steps(sigmas, final) * (1 if guidance_scale == 1 else 2)


def ays_sigmas(n_steps: int = 10, vp: DiscreteVP | None = None) -> torch.Tensor:
    """The published AYS schedule for SD 1.5 (10 steps; other counts by ``ays.loglinear_interp``,
    as the AYS authors' quickstart), n_steps + 1 descending float64 sigmas. With ``vp`` the ends are
    set to the pipeline's exact sigma_max and sigma_min (the table rounds them to 3 decimals), so the
    schedule stays inside the model's range; give it to ``generate`` like a GITS schedule."""
    from trajreg import ays

    if isinstance(n_steps, bool) or not isinstance(n_steps, Integral) or n_steps < 1:
        raise ValueError(f"n_steps must be an integer >= 1, got {n_steps!r}")
    s = ays.loglinear_interp(torch.tensor(AYS_SD15, dtype=torch.float64), n_steps + 1)
    if vp is not None:
        if abs(vp.sigma_max / AYS_SD15[0] - 1) > 1e-3 or abs(vp.sigma_min / AYS_SD15[-1] - 1) > 0.01:
            raise ValueError(f"vp spans sigma {vp.sigma_min:.4g}..{vp.sigma_max:.4g}, not SD 1.5's "
                             f"{AYS_SD15[-1]}..{AYS_SD15[0]}: the published AYS schedule is for SD 1.5")
        s[0], s[-1] = vp.sigma_max, vp.sigma_min
    return s


class _Calls:
    """Holds the number of forward calls seen by ``count_unet_calls``."""

    def __init__(self) -> None:
        self.calls = 0


@contextlib.contextmanager
def count_unet_calls(unet: torch.nn.Module) -> Iterator[_Calls]:
    """Count forward calls of a module inside a ``with`` block (``.calls``), via a forward hook."""
    counter = _Calls()

    def hook(*_: Any) -> None:
        counter.calls += 1

    handle = unet.register_forward_hook(hook)
    try:
        yield counter
    finally:
        handle.remove()


def read_captions(path: str | Path, column: str = "text") -> list[str]:
    """Captions from a CSV such as MS-COCO_val2014_30k_captions.csv (column "text"; row k <-> seed k)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or column not in reader.fieldnames:
            raise ValueError(f"{path} has no column {column!r}; columns: {reader.fieldnames}")
        return [row[column] for row in reader]
