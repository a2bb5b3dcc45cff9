"""Shared figure style: one look for every notebook of the companion."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
import numpy as np
import torch
from matplotlib.axes import Axes

__all__ = ["CONTENT_PX", "DPI", "MODEL_LABELS", "RC", "SMALLEST_FONT_PT", "SOLVER_LABELS", "STYLE_MARK",
           "band", "sig3", "sigma_axis", "style", "use_style"]


class _ModelLabels(dict):
    """Labels of registered models; ``get`` names a "pipeline:<path>" model "your learned model
    (<folder>)" (a network: the claims whose primary row is the learned model's apply to it)."""

    def get(self, name, default=None):
        if isinstance(name, str) and name.startswith("pipeline:") and name not in self:
            return f"your learned model ({Path(name[len('pipeline:'):]).name or name})"
        return super().get(name, default)


# Names the pages print for registered models and solvers (a name not listed prints as itself; a
# diffusers folder given as "pipeline:<path>" prints as "your learned model (<folder name>)").
MODEL_LABELS = _ModelLabels({"fmnist-edm": "learned (EDM UNet, Fashion-MNIST)",
                             "kde-fmnist": "KDE optimal (60k Fashion-MNIST)"})
SOLVER_LABELS = {"euler": "DDIM (Euler)", "ipndm": "iPNDM", "dpmpp_3m": "DPM-Solver++(3M)",
                 "unipc": "UniPC", "deis": "DEIS-tAB3", "dpm2": "DPM-Solver-2", "heun": "Heun (EDM)"}

# Sizes for the book: pages show figures at most ~740 CSS px wide (the theme's content column). A
# figure is drawn at DPI px per inch, so its text of F points is F * DPI / 72 px at natural size;
# any figure up to CONTENT_PX / DPI = 7.4 in wide is shown unscaled, and the smallest text
# (SMALLEST_FONT_PT = 10 pt at 100 dpi = 13.9 px) stays >= 10 px up to 10.3 in wide.
DPI = 100
CONTENT_PX = 740
SMALLEST_FONT_PT = 10
RC = {
    "figure.dpi": DPI,
    "savefig.dpi": 2 * DPI,
    "savefig.bbox": "tight",
    "figure.figsize": (CONTENT_PX / DPI, 4.4),
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "figure.titlesize": 12,
    "legend.fontsize": SMALLEST_FONT_PT,
    "legend.title_fontsize": SMALLEST_FONT_PT,
    "xtick.labelsize": SMALLEST_FONT_PT,
    "ytick.labelsize": SMALLEST_FONT_PT,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "legend.frameon": False,
}
# Written into every PNG the notebooks show (a tEXt chunk), so the site test knows a figure's
# smallest font: tests/site/test_figures.py.
STYLE_MARK = "trajreg:smallest_font_pt"


@contextmanager
def style() -> Iterator[None]:
    """Context manager applying the companion's matplotlib rcParams."""
    with mpl.rc_context(RC):
        yield


def use_style() -> None:
    """Apply the companion's rcParams globally (for a whole notebook).

    In IPython, figures are also shown as 2x ("retina") PNGs at their logical size, stamped with
    ``STYLE_MARK``: sharp on high-density screens, and their text has the size set above.
    """
    mpl.rcParams.update(RC)
    _inline_retina()


def _inline_retina() -> None:
    """Retina PNG output of the inline backend, when running in IPython (no-op elsewhere)."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is None:
        return
    set_matplotlib_formats("retina", bbox_inches="tight",
                           metadata={STYLE_MARK: str(SMALLEST_FONT_PT)})


def sig3(v) -> str:
    """``v`` rounded to 3 significant digits, printed without trailing zeros (1234.5 -> "1230")."""
    return f"{float(f'{float(v):.3g}'):g}"


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
