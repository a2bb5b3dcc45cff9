"""Sigma grids for sampling: descending float64 tensors from sigma_max to sigma_min (both included).

Each schedule is a pure function ``schedule(n, sigma_min, sigma_max, ...) -> (n,) float64 tensor``
with the end points set exactly. ``SCHEDULES`` maps names to them; ``RECOMMENDED`` gives the
baseline schedule each solver is usually run with (the DPM-Solver-v3 / diff-solvers convention).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral
from typing import Any

import torch

from trajreg import _validate

__all__ = ["RECOMMENDED", "SCHEDULES", "SIGMA_MAX", "SIGMA_MIN", "check_range", "get", "logsnr", "polynomial",
           "time_uniform", "vp_fit", "vp_sigma", "vp_t"]

# The sigma range of EDM models (Karras et al. 2022), the one home of these two numbers.
SIGMA_MIN, SIGMA_MAX = 0.002, 80.0


def _check(n: int, sigma_min: float, sigma_max: float) -> None:
    """Shared checks: integer n >= 2 and 0 < sigma_min < sigma_max < inf."""
    if isinstance(n, bool) or not isinstance(n, Integral):
        raise ValueError(f"n must be an integer number of sigmas, got {n!r}")
    _validate.at_least("n", n, 2)
    check_range(sigma_min, sigma_max)


def check_range(sigma_min: float, sigma_max: float) -> None:
    """ValueError unless 0 < sigma_min < sigma_max (the noise range every schedule spans)."""
    _validate.positive("sigma_min", sigma_min)
    _validate.positive("sigma_max", sigma_max)
    if not sigma_min < sigma_max:
        raise ValueError(f"sigma_min must be < sigma_max, got sigma_min={sigma_min!r}, "
                         f"sigma_max={sigma_max!r}")


def _pin_ends(sigmas: torch.Tensor, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Set the end points exactly (the formulas reproduce them only up to rounding)."""
    sigmas[0], sigmas[-1] = sigma_max, sigma_min
    return sigmas


def polynomial(n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX,
               rho: float = 7.0) -> torch.Tensor:
    """EDM schedule, eq. 5 of Karras et al. (2022): uniform steps in sigma^(1/rho),
    sigma_i = (smax^(1/rho) + i/(n-1) (smin^(1/rho) - smax^(1/rho)))^rho."""
    _check(n, sigma_min, sigma_max)
    _validate.positive("rho", rho)
    ramp = torch.linspace(0, 1, n, dtype=torch.float64)
    a, b = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return _pin_ends((a + ramp * (b - a)) ** rho, sigma_min, sigma_max)


def logsnr(n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX) -> torch.Tensor:
    """Uniform steps in lambda = -log sigma (half the log-SNR), as in Lu et al. (2022)."""
    _check(n, sigma_min, sigma_max)
    log_sigma = torch.linspace(math.log(sigma_max), math.log(sigma_min), n, dtype=torch.float64)
    return _pin_ends(log_sigma.exp(), sigma_min, sigma_max)


def vp_fit(sigma_min: float, sigma_max: float, eps_s: float = 1e-3) -> tuple[float, float]:
    """(beta_d, beta_min) of the VP map sigma(t)^2 = exp(beta_d t^2 / 2 + beta_min t) - 1 with
    sigma(eps_s) = sigma_min and sigma(1) = sigma_max (Song et al., 2021b; EDM Table 1).

    Raises unless sigma(t) is increasing on [eps_s, 1], i.e. d/dt (beta_d t^2/2 + beta_min t) > 0 at
    t = 1, which holds iff log(1 + sigma_min^2) < eps_s (2 - eps_s) log(1 + sigma_max^2).
    """
    if not 0 < eps_s < 0.5:
        raise ValueError(f"eps_s must lie in (0, 0.5), got {eps_s!r}")
    L_min, L_max = math.log1p(sigma_min**2), math.log1p(sigma_max**2)
    if not L_min / eps_s < (2 - eps_s) * L_max:
        raise ValueError(
            f"sigma_min={sigma_min!r} is too close to sigma_max={sigma_max!r} for a monotone VP "
            f"time map with eps_s={eps_s!r}: need log(1+sigma_min^2) < eps_s (2-eps_s) "
            "log(1+sigma_max^2)")
    beta_d = 2 * (L_min / eps_s - L_max) / (eps_s - 1)
    return beta_d, L_max - beta_d / 2


def vp_sigma(t: torch.Tensor, beta_d: float, beta_min: float) -> torch.Tensor:
    """sigma(t) = sqrt(exp(beta_d t^2 / 2 + beta_min t) - 1) of the VP SDE in EDM form."""
    return torch.expm1(0.5 * beta_d * t**2 + beta_min * t).sqrt()


def vp_t(sigma: torch.Tensor, beta_d: float, beta_min: float) -> torch.Tensor:
    """Inverse of ``vp_sigma``: the root t of beta_d t^2/2 + beta_min t = L = log(1 + sigma^2) on
    the increasing branch, in the form free of cancellation for the sign of beta_min."""
    L = torch.log1p(sigma**2)
    root = (beta_min**2 + 2 * beta_d * L).sqrt()
    if beta_min >= 0:  # also covers beta_d -> 0
        return 2 * L / (beta_min + root)
    return (root - beta_min) / beta_d  # beta_min < 0 implies beta_d > 0


def time_uniform(n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX, rho: float = 1.0,
                 eps_s: float = 1e-3) -> torch.Tensor:
    """Uniform (rho=1) or time-quadratic (rho=2) steps in VP time t in [eps_s, 1] mapped to sigma,
    t_i = (1 + i/(n-1) (eps_s^(1/rho) - 1))^rho (DPM-Solver's 'time_uniform'; DEIS's quadratic)."""
    _check(n, sigma_min, sigma_max)
    _validate.positive("rho", rho)
    beta_d, beta_min = vp_fit(sigma_min, sigma_max, eps_s)
    ramp = torch.linspace(0, 1, n, dtype=torch.float64)
    t = (1 + ramp * (eps_s ** (1 / rho) - 1)) ** rho
    return _pin_ends(vp_sigma(t, beta_d, beta_min), sigma_min, sigma_max)


SCHEDULES: dict[str, Callable[..., torch.Tensor]] = {
    "polynomial": polynomial,
    "logsnr": logsnr,
    "time_uniform": time_uniform,
}

# Baseline schedule per solver name (diff-solvers README, official-code notes section 3).
RECOMMENDED: dict[str, tuple[str, dict[str, Any]]] = {
    "euler": ("polynomial", {"rho": 7.0}),
    "heun": ("polynomial", {"rho": 7.0}),
    "dpm2": ("polynomial", {"rho": 7.0}),
    "ipndm": ("polynomial", {"rho": 7.0}),
    "dpmpp_2m": ("logsnr", {}),
    "dpm_2m_eps": ("logsnr", {}),
    "dpmpp_3m": ("logsnr", {}),
    "unipc": ("logsnr", {}),
    "deis": ("time_uniform", {"rho": 2.0}),
    "res_m": ("polynomial", {"rho": 7.0}),      # as benchmarks/systems.py runs it (no paper convention)
}


def get(name: str, n: int, **kw: Any) -> torch.Tensor:
    """Schedule ``name`` (a key of ``SCHEDULES``) with n sigmas; ``kw`` go to the schedule."""
    _validate.choice("name", name, SCHEDULES)
    return SCHEDULES[name](n, **kw)
