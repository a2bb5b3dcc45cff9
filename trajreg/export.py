"""Exports of a schedule (K+1 descending EDM sigmas) that the target steps through exactly.

One exporter per target; each is proved by a round trip through the real scheduler in
``tests/test_export.py`` (the levels it steps through and its K model calls):

=====================  ======================================================================
``euler_discrete``     diffusers ``EulerDiscreteScheduler``: ``set_timesteps(sigmas=...)``, K+1
                       levels verbatim (the last one the level the final step lands on)
``edm_euler``          diffusers ``EDMEulerScheduler``: its ``sigmas`` argument is a 0-1 ramp pushed
                       through the rho formula, then 0 appended; the export inverts that formula
``flow_match_euler``   diffusers ``FlowMatchEulerDiscreteScheduler`` (flow models): t = sigma / (1 +
                       sigma), shift set to 1 so the scheduler does not move them, 0 appended
``dpm_solver``         diffusers ``DPMSolverMultistepScheduler``: integer ``timesteps`` only, so only a
                       schedule on the model's table (e.g. a VP grid search) can be exported
``k_diffusion``        k-diffusion / ComfyUI SIGMAS tensor (K+1 levels, last 0)
``comfyui``            the string of ComfyUI's ManualSigmas node: plain decimals, ending "0.0"
``to_json``            a JSON record: sigmas, K, the final level, and any metadata
=====================  ======================================================================

``final``: "zero" (default) replaces sigma_min by 0, same K steps and model calls (the last step
lands on the denoised output, as the GITS authors' ComfyUI node); "keep" ends at sigma_min, as
the paper's sampler, where the target can.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from trajreg import _validate
from trajreg.gits import as_list

__all__ = ["DIFFUSERS", "FINALS", "DiffusersExport", "as_list", "comfyui", "dpm_solver", "edm_euler",
           "euler_discrete", "flow_match_euler", "k_diffusion", "to_json"]

FINALS = ("zero", "keep")
# Scheduler options that would move a custom schedule: each export turns them off.
_NO_RESHAPING = {"use_karras_sigmas": False, "use_exponential_sigmas": False, "use_beta_sigmas": False}


@dataclass
class DiffusersExport:
    """A diffusers scheduler class, the config flags it needs and the ``set_timesteps`` arguments.

    ``build(config)`` makes the scheduler from a pipeline's scheduler config with these flags and
    sets the schedule: ``pipe.scheduler = exp.build(pipe.scheduler.config)``; then call the pipeline
    with ``**exp.pipeline_kwargs`` (or run ``scheduler.step`` yourself).
    """

    scheduler: str
    config: dict[str, Any]
    set_timesteps: dict[str, Any]
    nfe: int
    pipeline_kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self, config: dict[str, Any] | None = None) -> Any:
        """The scheduler from ``config`` (or its defaults) with ``self.config``, schedule set."""
        import diffusers

        cls = getattr(diffusers, self.scheduler)
        sched = cls.from_config({**(config or {}), **self.config})
        sched.set_timesteps(**self.set_timesteps)
        return sched


def _sigmas(sigmas: Any, final: str) -> torch.Tensor:
    """The schedule as float64 on the CPU, its last level replaced by 0 for final="zero"."""
    _validate.choice("final", final, FINALS)
    s = _validate.sigmas(torch.as_tensor(sigmas, dtype=torch.float64)).detach().cpu().clone()
    if final == "zero":
        s[-1] = 0.0
    elif not s[-1] > 0:
        raise ValueError("final='keep' needs a schedule that ends at a sigma > 0")
    return s


def euler_discrete(sigmas: Any, final: str = "zero") -> DiffusersExport:
    """``EulerDiscreteScheduler.set_timesteps(sigmas=K+1 levels)``: K steps, K model calls.

    The scheduler keeps float32 levels and gives the UNet the fractional timestep that
    interpolates log sigma over its table (trajreg's VP adapter interpolates log alpha: the two
    differ by under a thousandth of a timestep between table entries, and agree on them).
    """
    s = _sigmas(sigmas, final)
    return DiffusersExport("EulerDiscreteScheduler", dict(_NO_RESHAPING), {"sigmas": s.tolist()}, len(s) - 1,
                           {"sigmas": s.tolist()})


def edm_euler(sigmas: Any, rho: float = 7.0) -> DiffusersExport:
    """``EDMEulerScheduler``: the ramp r_i that its karras formula maps onto our levels.

    The scheduler computes sigma(r) = (max^(1/rho) + r (min^(1/rho) - max^(1/rho)))^rho from
    ``set_timesteps(sigmas=r)`` and appends 0 (final_sigmas_type "zero"); with sigma_max = s_0 and
    sigma_min = s_{K-1} in its config, r_i = (s_i^(1/rho) - max^(1/rho)) / (min^(1/rho) - max^(1/rho))
    reproduces s_0..s_{K-1} and the K-th level is 0. Only final="zero" exists: its other option
    repeats the last level, a zero-length step that costs one more model call.
    """
    _validate.positive("rho", rho)
    s = _sigmas(sigmas, "zero")
    levels = s[:-1]
    if len(levels) < 2:
        raise ValueError("EDMEulerScheduler needs K >= 2 steps (its ramp has two ends)")
    hi, lo = levels[0] ** (1 / rho), levels[-1] ** (1 / rho)
    ramp = (levels ** (1 / rho) - hi) / (lo - hi)
    config = {"sigma_schedule": "karras", "final_sigmas_type": "zero", "rho": rho,
              "sigma_max": float(levels[0]), "sigma_min": float(levels[-1])}
    return DiffusersExport("EDMEulerScheduler", config, {"sigmas": ramp}, len(levels))


def flow_match_euler(sigmas: Any) -> DiffusersExport:
    """``FlowMatchEulerDiscreteScheduler``: flow times t_i = s_i / (1 + s_i) (``trajreg.adapters``).

    The scheduler shifts custom sigmas (t -> shift t / (1 + (shift - 1) t)) and appends 0: the
    export sets shift 1 and static shifting, and passes the K levels t_0..t_{K-1}; the last step
    lands on t = 0 (x0), so only final="zero" exists.
    """
    s = _sigmas(sigmas, "zero")
    t = (s[:-1] / (1 + s[:-1])).tolist()
    config = {**_NO_RESHAPING, "shift": 1.0, "use_dynamic_shifting": False, "shift_terminal": None,
              "invert_sigmas": False}
    return DiffusersExport("FlowMatchEulerDiscreteScheduler", config, {"sigmas": t}, len(t),
                           {"sigmas": t})


def dpm_solver(sigmas: Any, alphas_cumprod: Any, final: str = "zero", rtol: float = 1e-6) -> DiffusersExport:
    """``DPMSolverMultistepScheduler.set_timesteps(timesteps=[k_0, ..., k_{K-1}])`` (integers only).

    Each level s_i, i < K, must be the model's table level sigma_k = sqrt(1/alphas_cumprod[k] - 1)
    of an integer k (to ``rtol``), else ValueError: the scheduler cannot take it (search on the
    model's integer grid, ``adapters.Adapted.grid``, or use ``trajreg.sd.SigmaDPMSolverMultistepScheduler``).
    final "zero" appends 0; "keep" needs s_K = the table's smallest level (final_sigmas_type "sigma_min").
    """
    s = _sigmas(sigmas, final)
    ac = torch.as_tensor(alphas_cumprod, dtype=torch.float64).detach().cpu()
    table = (1 / ac - 1).sqrt()
    ks = []
    for v in s[:-1].tolist():
        k = int((table - v).abs().argmin())
        if abs(table[k] - v) > rtol * v:
            raise ValueError(
                f"DPMSolverMultistepScheduler takes integer timesteps only, and sigma {v:.6g} lies between "
                f"its table levels (nearest: timestep {k}, sigma {float(table[k]):.6g}); search on the "
                "model's integer grid or use trajreg.sd.SigmaDPMSolverMultistepScheduler")
        ks.append(k)
    if final == "keep" and abs(float(s[-1]) - float(table[0])) > rtol * float(table[0]):
        raise ValueError(f"final='keep': DPMSolverMultistepScheduler ends at its smallest level "
                         f"{float(table[0]):.6g}, not at {float(s[-1]):.6g}")
    config = {**_NO_RESHAPING, "use_lu_lambdas": False, "use_flow_sigmas": False,
              "final_sigmas_type": "zero" if final == "zero" else "sigma_min"}
    return DiffusersExport("DPMSolverMultistepScheduler", config, {"timesteps": ks}, len(ks),
                           {"timesteps": ks})


def k_diffusion(sigmas: Any, final: str = "zero", device: str | torch.device = "cpu",
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The sigma tensor k-diffusion samplers ``sample_*(model, x, sigmas)`` and ComfyUI take:
    K+1 levels, K steps (final "zero": last level 0, k-diffusion's own convention)."""
    return _sigmas(sigmas, final).to(device, dtype)



def _decimal(v: float) -> str:
    """v in plain positional decimals (no exponent), the shortest digits that round-trip float64."""
    return np.format_float_positional(float(v), unique=True, trim="0")


def comfyui(sigmas: Any, final: str = "zero") -> str:
    """The ``sigmas`` string of ComfyUI's ManualSigmas node, e.g. "80.0, 2.5, 0.0025, 0.0".

    That node keeps the matches of the regex [-+]?(?:\\d*\\.*\\d+) and makes float32 of them, so an
    exponent would split (``"2.5e-3"`` -> 2.5, -3.0): the levels are written in plain decimals.
    """
    return ", ".join(_decimal(v) for v in _sigmas(sigmas, final).tolist())


def to_json(sigmas: Any, final: str = "keep", **meta: Any) -> str:
    """A JSON object {"sigmas": [...], "steps": K, "final": ..., **meta}; floats round-trip exactly."""
    s = _sigmas(sigmas, final)
    return json.dumps({"sigmas": s.tolist(), "steps": len(s) - 1, "final": final, **meta})


DIFFUSERS = {"EulerDiscreteScheduler": euler_discrete, "EDMEulerScheduler": edm_euler,
             "FlowMatchEulerDiscreteScheduler": flow_match_euler, "DPMSolverMultistepScheduler": dpm_solver}
