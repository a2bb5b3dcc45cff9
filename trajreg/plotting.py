"""Shared figure style: one look for every notebook of the companion."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib as mpl
import numpy as np
import torch
from matplotlib.axes import Axes

RC = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "legend.frameon": False,
}


@contextmanager
def style() -> Iterator[None]:
    """Context manager applying the companion's matplotlib rcParams."""
    with mpl.rc_context(RC):
        yield


def use_style() -> None:
    """Apply the companion's rcParams globally (for a whole notebook)."""
    mpl.rcParams.update(RC)


def _np(a) -> np.ndarray:
    return a.detach().cpu().double().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def band(ax: Axes, x, mean, std, label: str | None = None, *, color=None, alpha: float = 0.25,
         **plot_kw):
    """Plot mean as a line with a shaded mean +- std band; returns the line."""
    x, mean, std = _np(x), _np(mean), _np(std)
    (line,) = ax.plot(x, mean, label=label, color=color, **plot_kw)
    ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=alpha, linewidth=0)
    return line


def sigma_axis(ax: Axes, sigma_max: float | None = None, sigma_min: float | None = None) -> Axes:
    """Log sigma axis running from sigma_max (noise, left) to sigma_min (data, right).

    Major ticks at the two ends and at the powers of ten between them, labelled as plain numbers.
    """
    ax.set_xscale("log")
    lo, hi = sorted(ax.dataLim.intervalx)        # the plotted data, without autoscale margins
    sigma_max, sigma_min = float(sigma_max or hi), float(sigma_min or lo)
    ax.set_xlim(sigma_max, sigma_min)
    inner = [10.0 ** k for k in range(math.ceil(math.log10(sigma_min)),
                                      math.floor(math.log10(sigma_max)) + 1)]
    ticks = sorted({sigma_min, sigma_max, *(t for t in inner
                                            if 1.5 * sigma_min < t < sigma_max / 1.5)})
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xlabel(r"$\sigma$ (= t)")
    return ax
