"""Any diffusers model folder as a denoiser D(x, sigma) in EDM's sigma space (x = x0 + sigma eps).

``load(path)`` reads a local pipeline folder (``from_pretrained``, nothing downloaded) and returns an
``Adapted`` model: the checked denoiser, the shape of one sample, its sigma range, the grid the
searches use and the data range (which turns dynamic thresholding on or off, ``solvers``).

Three kinds, each mapped into the same D(x, sigma):

* "vp-pixel": an unconditional ``UNet2DModel`` on a discrete VP schedule (DDPM/DDIM, or any
  scheduler with ``alphas_cumprod``); data in [-1, 1].
* "vp-latent": a text-conditioned ``UNet2DConditionModel`` (Stable Diffusion style) with
  classifier-free guidance; prompts from a file, sample b conditioned on prompt b mod P.
* "flow": a rectified-flow transformer (``SD3Transformer2DModel`` on
  ``FlowMatchEulerDiscreteScheduler``).

VP (Ho et al. 2020; Karras et al. 2022, Table 1): x_vp = alpha x0 + s_vp eps, alpha = 1/sqrt(1+sigma^2),
s_vp = sigma alpha, so x = x_vp / alpha and the network sees x_vp at the fractional timestep
``sd.DiscreteVP.timestep(sigma)``. Its output gives D by prediction type:
epsilon D = x - sigma eps; v_prediction (v = alpha eps - s_vp x0) D = alpha x_vp - s_vp v;
sample D = output.

Flow (Liu et al. 2023; Esser et al. 2024): x_t = (1 - t) x0 + t eps and the network predicts
v = eps - x0 at timestep 1000 t. Dividing by 1 - t gives x = x_t / (1 - t) = x0 + sigma eps with

    sigma = t / (1 - t),   t = sigma / (1 + sigma),   D = x_t - t v.

The flow's t = 1 is sigma = inf: the model's range ends at sigma_max = (N - 1) (t = 1 - 1/N, N the
scheduler's num_train_timesteps), where x = sigma_max z is pure noise up to a factor 1 - 1/N.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trajreg import _validate, checked, schedules
from trajreg.models import NoGrad
from trajreg.sd import DiscreteVP

__all__ = ["GUIDANCE", "KINDS", "PREDICTIONS", "Adapted", "FlowDenoiser", "VPDenoiser", "load",
           "read_prompts"]

KINDS = ("vp-pixel", "vp-latent", "flow")
PREDICTIONS = ("epsilon", "v_prediction", "sample")
GUIDANCE = 7.5
FLOW_SCHEDULERS = ("FlowMatchEulerDiscreteScheduler",)


@dataclass
class Adapted:
    """A diffusers pipeline as a trajreg model: denoiser D(x, sigma), sample shape, sigma range."""

    kind: str
    denoiser: Callable[[torch.Tensor, Any], torch.Tensor]
    shape: tuple[int, ...]
    sigma_min: float
    sigma_max: float
    pipe: Any
    n_prompts: int = 1
    data_range: tuple[float, float] | None = None

    def grid(self, n: int) -> torch.Tensor:
        """n descending sigmas for the grid searches: integer timesteps uniform in k (VP, so any
        discrete scheduler can take them) or EDM's rho = 7 polynomial (flow)."""
        _validate.at_least("grid", n, 2)
        if self.kind == "flow":
            return schedules.polynomial(n, self.sigma_min, self.sigma_max)
        vp = DiscreteVP(self.pipe.scheduler.alphas_cumprod)
        if n > vp.M:
            raise ValueError(f"grid must be at most {vp.M} (the model's timesteps), got {n}")
        k = torch.linspace(vp.M - 1, 0, n, dtype=torch.float64).round()
        return vp.sigmas[k.long()].clone()


def _sigma_col(sigma: Any, x: torch.Tensor) -> torch.Tensor:
    """sigma as a float64 (B,) tensor on the CPU, each entry finite and > 0."""
    s = torch.as_tensor(sigma).detach().to("cpu", torch.float64).reshape(-1).expand(x.shape[0])
    if not (torch.isfinite(s).all() and (s > 0).all()):
        raise ValueError(f"sigma must be finite and > 0, got {s.tolist()}")
    return s


def _bcast(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return v.to(x.device, x.dtype).reshape(-1, *[1] * (x.ndim - 1))


class _Guided(torch.nn.Module):
    """net(x, t, **cond) with classifier-free guidance: out_u + w (out_c - out_u) in one doubled call.

    cond / uncond: keyword tensors with P rows (one per prompt); sample b gets row b mod P.
    """

    def __init__(self, net: torch.nn.Module, cond: dict[str, torch.Tensor] | None,
                 uncond: dict[str, torch.Tensor] | None, guidance_scale: float):
        super().__init__()
        self.net, self.cond, self.uncond = net, cond or {}, uncond
        self.guidance_scale = float(guidance_scale)
        self.P = next(iter(self.cond.values())).shape[0] if self.cond else 1

    def _rows(self, kw: dict[str, torch.Tensor], B: int, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if B % self.P:
            raise ValueError(f"a batch of {B} samples does not divide into the {self.P} prompts "
                             "(sample b uses prompt b mod P); use a multiple of the prompt count")
        dtype = next(self.net.parameters()).dtype
        return {k: v.to(x.device, dtype).repeat(B // self.P, *[1] * (v.ndim - 1)) for k, v in kw.items()}

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        B = x.shape[0]
        dtype = next(self.net.parameters()).dtype
        x, t = x.to(dtype), t.to(x.device, torch.float32)
        if self.uncond is None or self.guidance_scale == 1.0:
            return self.net(x, t, **self._rows(self.cond, B, x), return_dict=False)[0]
        c, u = self._rows(self.cond, B, x), self._rows(self.uncond, B, x)
        both = {k: torch.cat([u[k], c[k]]) for k in c}
        out_u, out_c = self.net(torch.cat([x, x]), torch.cat([t, t]), **both, return_dict=False)[0].chunk(2)
        return out_u + self.guidance_scale * (out_c - out_u)


class VPDenoiser(torch.nn.Module):
    """D(x, sigma) of a discrete-VP network (module docstring): x_vp = x / sqrt(1 + sigma^2)."""

    def __init__(self, net: torch.nn.Module, alphas_cumprod: Any, prediction_type: str = "epsilon"):
        super().__init__()
        self.net, self.vp = net, DiscreteVP(alphas_cumprod)
        self.prediction_type = _validate.choice("prediction_type", prediction_type, PREDICTIONS)

    def forward(self, x: torch.Tensor, sigma: Any) -> torch.Tensor:
        s = _sigma_col(sigma, x)
        alpha = 1 / torch.sqrt(1 + s * s)
        x_vp = x * _bcast(alpha, x)
        out = self.net(x_vp, self.vp.timestep(s)).to(x.dtype)
        if self.prediction_type == "epsilon":
            return x - _bcast(s, x) * out
        if self.prediction_type == "v_prediction":
            return _bcast(alpha, x) * x_vp - _bcast(s * alpha, x) * out
        return out


class FlowDenoiser(torch.nn.Module):
    """D(x, sigma) = x_t - t v(x_t, 1000 t), t = sigma / (1 + sigma), x_t = x / (1 + sigma)."""

    def __init__(self, net: torch.nn.Module, num_train_timesteps: int = 1000):
        super().__init__()
        self.net, self.N = net, int(num_train_timesteps)

    def forward(self, x: torch.Tensor, sigma: Any) -> torch.Tensor:
        s = _sigma_col(sigma, x)
        t = s / (1 + s)
        x_t = x / _bcast(1 + s, x)
        v = self.net(x_t, t * self.N).to(x.dtype)
        return x_t - _bcast(t, x) * v


class _Plain(torch.nn.Module):
    """net(x, t).sample as (x, t) -> tensor for an unconditional UNet2DModel."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        dtype = next(self.net.parameters()).dtype
        return self.net(x.to(dtype), t.to(x.device, torch.float32), return_dict=False)[0]


class _SD3(torch.nn.Module):
    """SD3Transformer2DModel called as net(x_t, timestep, **conditioning)."""

    def __init__(self, transformer: torch.nn.Module):
        super().__init__()
        self.tr = transformer

    def forward(self, x: torch.Tensor, t: torch.Tensor, return_dict: bool = False, **kw: Any) -> Any:
        return self.tr(hidden_states=x, timestep=t, return_dict=False, **kw)


def read_prompts(path: str | Path) -> list[str]:
    """Prompts from a text file, one per non-empty line."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"prompts file {str(p)!r} does not exist")
    prompts = [line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not prompts:
        raise ValueError(f"prompts file {str(p)!r} holds no prompt (one per line)")
    return prompts


def _open(path: str | Path, device: str, dtype: torch.dtype) -> Any:
    """The pipeline in a local diffusers folder (model_index.json), loaded without any download."""
    folder = Path(path)
    if not (folder / "model_index.json").is_file():
        raise ValueError(f"--pipeline {str(folder)!r} is not a diffusers pipeline folder "
                         "(no model_index.json); save one with pipe.save_pretrained(folder)")
    import json

    from diffusers import DiffusionPipeline
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    for log in (dlog, tlog):                   # a CLI's stderr carries its own progress bar
        log.disable_progress_bar()
        log.set_verbosity_error()
    index = json.loads((folder / "model_index.json").read_text())
    absent = {k: None for k, v in index.items() if isinstance(v, list) and v[0] is None}   # saved as None
    pipe = DiffusionPipeline.from_pretrained(str(folder), local_files_only=True, **absent)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device=device, dtype=dtype)


def _kind(pipe: Any) -> str:
    """Which of KINDS a pipeline is, or a ValueError naming the supported ones."""
    sched = type(pipe.scheduler).__name__
    net = getattr(pipe, "transformer", None) or getattr(pipe, "unet", None)
    name = type(net).__name__
    if name == "SD3Transformer2DModel" and sched in FLOW_SCHEDULERS:
        return "flow"
    if name in ("UNet2DModel", "UNet2DConditionModel"):
        extra = [k for k in ("num_class_embeds", "class_embed_type", "addition_embed_type")
                 if net.config.get(k) is not None]
        if extra:
            raise ValueError(f"{name} with {', '.join(extra)} needs class labels or added conditioning "
                             "(e.g. SDXL), which trajreg.adapters does not supply; supported: unconditional "
                             "UNet2DModel, text-only UNet2DConditionModel, SD3Transformer2DModel")
        if not hasattr(pipe.scheduler, "alphas_cumprod"):
            raise ValueError(f"scheduler {sched} has no discrete VP schedule (alphas_cumprod); supported: "
                             "DDPM/DDIM-family schedulers for UNets, FlowMatchEulerDiscreteScheduler for "
                             "SD3 transformers")
        pred = pipe.scheduler.config.get("prediction_type", "epsilon")
        _validate.choice("prediction_type", pred, PREDICTIONS)
        return "vp-pixel" if name == "UNet2DModel" else "vp-latent"
    raise ValueError(f"unsupported model {name} with scheduler {sched}; supported: UNet2DModel or "
                     "UNet2DConditionModel on a discrete VP scheduler (prediction epsilon, v_prediction, "
                     "sample), SD3Transformer2DModel on FlowMatchEulerDiscreteScheduler")


def _sd_embeddings(pipe: Any, prompts: Sequence[str], guided: bool) -> tuple[dict, dict | None]:
    with torch.no_grad():
        cond, uncond = pipe.encode_prompt(list(prompts), pipe.device, 1, guided)
    return {"encoder_hidden_states": cond}, ({"encoder_hidden_states": uncond} if guided else None)


def _sd3_embeddings(pipe: Any, prompts: Sequence[str], guided: bool) -> tuple[dict, dict | None]:
    with torch.no_grad():
        c, u, pc, pu = pipe.encode_prompt(list(prompts), None, None, pipe.device, 1, guided)
    return ({"encoder_hidden_states": c, "pooled_projections": pc},
            {"encoder_hidden_states": u, "pooled_projections": pu} if guided else None)


def _flow_net(pipe: Any, prompts: Sequence[str], guidance_scale: float) -> torch.nn.Module:
    """The SD3 transformer as (x_t, timestep) -> v, with prompts and guidance bound."""
    guided = guidance_scale != 1.0
    cond, uncond = _sd3_embeddings(pipe, prompts, guided)
    return _Guided(_SD3(pipe.transformer), cond, uncond, guidance_scale)


def _flow(pipe: Any, prompts: Sequence[str], w: float) -> tuple[torch.nn.Module, tuple, float, float]:
    """(D, sample shape, sigma_min, sigma_max) of an SD3-style flow pipeline: sigma = t / (1 - t),
    t from the scheduler's smallest (shifted) time to 1 - 1/N."""
    cfg, N = pipe.transformer.config, pipe.scheduler.config.num_train_timesteps
    t = pipe.scheduler.sigmas.to(torch.float64)
    t_min = float(t[t > 0].min())
    D = FlowDenoiser(_flow_net(pipe, prompts, w), N)
    return D, (cfg.in_channels, cfg.sample_size, cfg.sample_size), t_min / (1 - t_min), float(N - 1)


def _vp(pipe: Any, prompts: Sequence[str] | None, w: float) -> tuple[torch.nn.Module, tuple, float, float]:
    """(D, sample shape, sigma_min, sigma_max) of a discrete-VP UNet pipeline (text-conditioned if
    prompts), its sigma range the ends of its table."""
    cfg = pipe.unet.config
    if prompts:
        cond, uncond = _sd_embeddings(pipe, prompts, w != 1.0)
        net: torch.nn.Module = _Guided(pipe.unet, cond, uncond, w)
    else:
        net = _Plain(pipe.unet)
    pred = pipe.scheduler.config.get("prediction_type", "epsilon")
    D = VPDenoiser(net, pipe.scheduler.alphas_cumprod, pred)
    size = cfg.sample_size if isinstance(cfg.sample_size, int) else cfg.sample_size[0]
    return D, (cfg.in_channels, size, size), D.vp.sigma_min, D.vp.sigma_max


def load(path: str | Path, prompts: Sequence[str] | None = None, *, guidance_scale: float = GUIDANCE,
         device: str = "cpu", dtype: torch.dtype = torch.float32) -> Adapted:
    """The diffusers pipeline folder ``path`` as an ``Adapted`` model (see the module docstring).

    prompts: required for text-conditioned pipelines (vp-latent, flow), refused for unconditional
    ones. The denoiser runs without gradients (``models.NoGrad``) and checks every output's shape
    and finiteness (``checked.checked``).
    """
    _validate.positive("guidance_scale", guidance_scale)
    pipe = _open(path, device, dtype)
    kind = _kind(pipe)
    conditional = kind != "vp-pixel"
    if conditional and not prompts:
        raise ValueError(f"the pipeline at {str(path)!r} is text-conditioned ({kind}): pass prompts "
                         "(--prompts FILE, one per line)")
    if not conditional and prompts:
        raise ValueError(f"the pipeline at {str(path)!r} is unconditional: it takes no prompts")
    build = _flow if kind == "flow" else _vp
    D, shape, sigma_min, sigma_max = build(pipe, prompts if conditional else None, guidance_scale)
    data_range = (-1.0, 1.0) if kind == "vp-pixel" else None       # latents and flows: unbounded
    denoiser = checked.checked(NoGrad(D), data_range=data_range)
    n_prompts = len(prompts) if conditional else 1
    return Adapted(kind, denoiser, shape, float(sigma_min), float(sigma_max), pipe, n_prompts, data_range)

