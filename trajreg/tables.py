"""Tables a reader can read: ours and the paper's side by side, intervals as "a [b, c]", the better
entry in bold, as HTML for the book (pandas Styler, no text dumps)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from trajreg.stats import Estimate

__all__ = ["cell", "html", "side_by_side"]


def _value(v: Any) -> float:
    """The number a cell is ranked by (an Estimate's point value); NaN for empty cells."""
    if isinstance(v, Estimate):
        return v.value
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def cell(v: Any, spec: str = ".3g") -> str:
    """One table entry: an Estimate as "a [b, c]", a number with ``spec``, empty as "–"."""
    if isinstance(v, Estimate):
        return v.fmt(spec)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, int | float):
        return format(v, spec)
    return str(v)


def _best_mask(df: pd.DataFrame, best: str | None) -> pd.DataFrame:
    """True where an entry is the best of its column ("min" or "max"; None: no bold)."""
    if best is None:
        return pd.DataFrame(False, index=df.index, columns=df.columns)
    if best not in ("min", "max"):
        raise ValueError(f"best must be 'min', 'max' or None, got {best!r}")
    vals = df.map(_value)
    target = vals.min() if best == "min" else vals.max()
    return vals.eq(target, axis="columns") & vals.notna()


def html(df: pd.DataFrame, *, best: str | None = None, spec: str = ".3g", caption: str = "",
         bold: pd.DataFrame | None = None, formatter: Callable[[Any], str] | None = None):
    """An HTML table (IPython display object) of ``df``: Estimates as "a [b, c]", numbers with
    ``spec``, the best entry of each column in bold (``best`` "min"/"max") or where ``bold``."""
    from IPython.display import HTML

    mask = bold if bold is not None else _best_mask(df, best)
    fmt = formatter or (lambda v: cell(v, spec))
    body = df.map(fmt)
    body = body.where(~mask.reindex_like(body).fillna(False).astype(bool), "<b>" + body + "</b>")
    styler = body.style.set_table_attributes('class="trajreg-table"')
    if caption:
        styler = styler.set_caption(caption)
    return HTML(f'<div class="table-wrap">{styler.to_html(escape=False)}</div>')


def side_by_side(ours: pd.DataFrame, paper: pd.DataFrame, *, ours_label: str = "ours",
                 paper_label: str = "paper", best: str | None = "min", spec: str = ".3g",
                 caption: str = ""):
    """One table with, for each column of ``ours``, our entry next to the paper's (same row
    labels; rows missing on one side show "–"); the best entry of each side's column in bold."""
    rows = list(dict.fromkeys([*ours.index, *paper.index]))
    cols = list(dict.fromkeys([*ours.columns, *paper.columns]))
    o, p = ours.reindex(index=rows, columns=cols), paper.reindex(index=rows, columns=cols)
    parts, masks = {}, {}
    for c in cols:
        for label, side in ((ours_label, o), (paper_label, p)):
            parts[(c, label)] = side[c]
    df = pd.DataFrame(parts, index=rows)
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    for c in cols:
        for label, side in ((ours_label, o), (paper_label, p)):
            masks[(c, label)] = _best_mask(side[[c]], best)[c]
    mask = pd.DataFrame(masks, index=rows)
    mask.columns = df.columns
    return html(df, spec=spec, caption=caption, bold=mask)
