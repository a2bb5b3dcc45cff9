"""Tables a reader can read: ours and the paper's side by side, intervals as "a [b, c]", the better
entry in bold, as HTML for the book (pandas Styler, no text dumps)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from trajreg.stats import Estimate

__all__ = ["cell", "html", "p_value", "records", "side_by_side", "significant"]


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


def significant(v: Any, digits: int | str = 3) -> str:
    """One entry to ``digits`` significant digits, written out (no exponent), or formatted by
    ``digits`` when it is a format spec; an Estimate as "a [b, c]", empty as "–", text as is."""
    if isinstance(v, Estimate):
        return f"{significant(v.value, digits)} [{significant(v.lo, digits)}, {significant(v.hi, digits)}]"
    if isinstance(v, str):
        return v
    if v is None or (isinstance(v, float | np.floating) and math.isnan(v)):
        return "–"
    if isinstance(v, int | np.integer):
        return str(v)
    if isinstance(digits, str):
        return format(v, digits)
    if not isinstance(digits, int) or digits < 1:
        raise ValueError(f"digits must be a positive int or a format spec, got {digits!r}")
    if v == 0:
        return "0"
    r = float(f"{v:.{digits - 1}e}")     # rounded to `digits` significant digits, then written out
    return f"{r:.{max(0, digits - 1 - math.floor(math.log10(abs(r))))}f}"


def p_value(p: float) -> str:
    """A p-value to two significant digits, "< 0.001" below that (HTML-escaped)."""
    return "&lt; 0.001" if p < 1e-3 else significant(p, 2)


def records(rows: list[dict], index: list[str], *, caption: str = "", lowest: tuple = (),
            within: tuple = (), digits: dict | None = None):
    """``rows`` (dicts; keys starting with "_" left out) as an HTML table labelled by the ``index``
    keys; in each column of ``lowest``, the lowest entry among rows that share the ``within`` keys
    in bold. ``digits``: significant digits (or a format spec) by column, default 3."""
    df = pd.DataFrame(rows)
    df = df[[c for c in df.columns if not c.startswith("_")]]
    missing = [c for c in (*index, *lowest, *within) if c not in df.columns]
    if missing:
        raise ValueError(f"index, lowest and within must name columns of rows; unknown: {missing}")
    values = df.map(_value)
    bold = pd.DataFrame(False, index=df.index, columns=df.columns)
    for col in lowest:
        x = values[col]
        low = x.groupby([df[k] for k in within]).transform("min") if within else x.min()
        bold[col] = x.eq(low) & x.notna()
    body = pd.DataFrame({c: df[c].map(lambda v: f"{v:g}" if isinstance(v, float) else v) if c in index
                         else df[c].map(lambda v, c=c: significant(v, (digits or {}).get(c, 3)))
                         for c in df.columns}).set_index(index)
    bold = bold.drop(columns=list(index)).set_axis(body.index)
    return html(body, bold=bold, caption=caption)
