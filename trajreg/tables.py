"""Tables a reader can read: ours and the paper's side by side, intervals as "a [b, c]", the better
entry in bold only where intervals separate it, as HTML for the book (pandas Styler, no text dumps).

Every number on the site goes through one formatter, :func:`fmt` (and :func:`fmt_interval` for an
interval): significant digits written out as a decimal (never E notation such as ``1e+04``),
integers with thousands separators, powers of ten only where a decimal would need more than four
zeros, written ``6.91 × 10⁻⁶``.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from trajreg import _numfmt
from trajreg.stats import Estimate

__all__ = ["cell", "fmt", "fmt_interval", "html", "p_value", "records", "separated_best", "side_by_side",
           "significant"]

def fmt(x: Any, digits: int = 3) -> str:
    """One number as a reader reads it.

    - an integer (Python or NumPy) in full with thousands separators: ``10000 -> "10,000"``;
    - a float to ``digits`` significant digits written out: ``0.000123456 -> "0.000123"``,
      ``10000.0 -> "10,000"``, ``1.0 -> "1.00"``; a power of ten only below 0.0001 or from 10⁹ on:
      ``0.00000691 -> "6.91 × 10⁻⁶"``; infinities as ``"∞"``;
    - an :class:`~trajreg.stats.Estimate` as :func:`fmt_interval` writes it;
    - None or NaN as "–", text as is, a boolean as "yes" / "no".

    Raises ValueError for ``digits`` that is not a positive int and TypeError for anything else
    that is not a number.
    """
    if isinstance(x, Estimate):
        return fmt_interval(x, digits)
    return _numfmt.number(x, digits)


def fmt_interval(est: Estimate, digits: int = 3, *, n: bool = False) -> str:
    """An interval as "value [lo, hi]", all three with the same decimal places (those that give the
    largest of them ``digits`` significant digits): ``0.15 [0.14, 0.161] -> "0.150 [0.140, 0.161]"``.

    A bound that is zero to within 10⁻⁹ of the largest magnitude is written 0 (a lower bound of
    3.47 × 10⁻¹⁸ beside an upper one of 0.0566 gives ``"0 [0, 0.0566]"``); one that would round to 0
    but is not negligible keeps its own significant digits. Where rounding would make distinct
    numbers look equal (``0.99996 [0.99991, 0.99999]``), up to four more places are shown. Below
    0.0001 or from 10⁹ on, the three share one power of ten: ``"6.91 [3.95, 18.3] × 10⁻⁶"``.
    ``n=True`` appends " (n = 1,000)". Raises TypeError for anything but an Estimate and
    ValueError for ``digits`` that is not a positive int.
    """
    if not isinstance(est, Estimate):
        raise TypeError(f"fmt_interval takes an Estimate, got {type(est).__name__}: {est!r}")
    text = _numfmt.interval(est.value, est.lo, est.hi, digits)
    return text + (f" (n = {est.n:,})" if n else "")


def separated_best(entries: Sequence[Any], best: str = "min") -> list[bool]:
    """Which entry to print in bold: the best one by point value (``best`` "min" or "max"), and only
    where its 95 % interval lies entirely on the better side of every other entry's interval.

    Entries are Estimates, plain numbers (which have no interval, so nothing among them is ever
    separated) or empty (None/NaN, ignored). Returns one flag per entry, at most one True; all False
    with fewer than two non-empty entries, or where any non-empty entry lacks an interval.
    """
    if best not in ("min", "max"):
        raise ValueError(f"best must be 'min' or 'max', got {best!r}")
    flags = [False] * len(entries)
    present = [(i, e) for i, e in enumerate(entries) if not _numfmt.is_empty(e)]
    if len(present) < 2 or not all(isinstance(e, Estimate) for _, e in present):
        return flags
    sign = 1.0 if best == "min" else -1.0
    i, top = min(present, key=lambda p: sign * p[1].value)
    rivals = [e for j, e in present if j != i]
    flags[i] = all(top.hi < e.lo if best == "min" else top.lo > e.hi for e in rivals)
    return flags


def _spec_digits(spec: str) -> int | None:
    """The significant digits of a "g" format spec (".3g", "#.4g"), None for any other spec."""
    m = re.fullmatch(r"#?\.(\d+)g", spec)
    return int(m.group(1)) if m else None


def cell(v: Any, spec: str = ".3g") -> str:
    """One table entry: a "g" spec (".3g": 3 significant digits) goes through :func:`fmt`, any other
    format spec (".1f") through ``format``; an Estimate as "a [b, c]", empty as "–", text and
    anything else that is not a number as ``str`` gives it."""
    digits = _spec_digits(spec)
    if digits is not None:
        is_number = isinstance(v, numbers.Real | np.bool_ | Estimate | str) or v is None
        return fmt(v, digits) if is_number else str(v)
    if isinstance(v, Estimate):
        return v.fmt(spec)
    if _numfmt.is_empty(v):
        return _numfmt.EMPTY
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        return format(v, spec)
    return str(v)


def _best_mask(df: pd.DataFrame, best: str | None) -> pd.DataFrame:
    """True where an entry is the best of its column ("min" or "max") and its interval separates it
    from every other entry of the column (:func:`separated_best`); None: no bold."""
    if best is None:
        return pd.DataFrame(False, index=df.index, columns=df.columns)
    if best not in ("min", "max"):
        raise ValueError(f"best must be 'min', 'max' or None, got {best!r}")
    return pd.DataFrame({c: separated_best(list(df[c]), best) for c in df.columns},
                        index=df.index).set_axis(df.columns, axis=1)


_INTERVAL = re.compile(r"^(.*?) (\[[^\[\]]*\])(.*)$", re.S)


def _keep_interval_together(text: Any) -> Any:
    """"a [b, c]" as "a <span class="trajreg-iv">[b, c]</span>": a narrow cell may break between
    the value and its interval, never inside the interval (book/_static/trajreg.css)."""
    if not isinstance(text, str) or "trajreg-iv" in text:
        return text
    return _INTERVAL.sub(r'\1 <span class="trajreg-iv">\2</span>\3', text)


def html(df: pd.DataFrame, *, best: str | None = None, spec: str = ".3g", caption: str = "",
         bold: pd.DataFrame | None = None, formatter: Callable[[Any], str] | None = None):
    """An HTML table (IPython display object) of ``df``: Estimates as "a [b, c]", numbers with
    ``spec`` (a "g" spec through :func:`fmt`), the best entry of each column in bold where intervals
    separate it (``best`` "min"/"max") or where ``bold``. The table has class ``trajreg-table`` inside
    a ``div.table-wrap`` (the site's CSS: small type, headers that wrap, no interval split)."""
    from IPython.display import HTML

    mask = bold if bold is not None else _best_mask(df, best)
    write = formatter or (lambda v: cell(v, spec))
    body = df.map(lambda v: _keep_interval_together(write(v)))
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
    """One entry to ``digits`` significant digits through :func:`fmt`, or formatted by ``digits``
    when it is a format spec (".1f"); an Estimate as "a [b, c]", empty as "–", text as is."""
    if isinstance(digits, str):
        return cell(v, digits)
    return fmt(v, digits)


def p_value(p: float) -> str:
    """A p-value to two significant digits, "< 0.001" below that (HTML-escaped)."""
    return "&lt; 0.001" if p < 1e-3 else significant(p, 2)


def _label(v: Any) -> Any:
    """A row label: a whole float as an integer ("10,000", not "1e+04"), other numbers by fmt."""
    if isinstance(v, numbers.Real) and not isinstance(v, bool | numbers.Integral) and float(v).is_integer():
        return fmt(int(v))
    return fmt(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) else v


def records(rows: list[dict], index: list[str], *, caption: str = "", lowest: tuple = (),
            within: tuple = (), digits: dict | None = None):
    """``rows`` (dicts; keys starting with "_" left out) as an HTML table labelled by the ``index``
    keys; in each column of ``lowest``, the lowest entry among rows that share the ``within`` keys
    in bold where its interval separates it from the others (:func:`separated_best`). ``digits``:
    significant digits (or a format spec) by column, default 3."""
    df = pd.DataFrame(rows)
    df = df[[c for c in df.columns if not c.startswith("_")]]
    missing = [c for c in (*index, *lowest, *within) if c not in df.columns]
    if missing:
        raise ValueError(f"index, lowest and within must name columns of rows; unknown: {missing}")
    bold = pd.DataFrame(False, index=df.index, columns=df.columns)
    groups = [list(g) for g in df.groupby([df[k] for k in within]).indices.values()] if within \
        else [list(range(len(df)))]
    for col in lowest:
        for g in groups:
            bold.iloc[g, df.columns.get_loc(col)] = separated_best(list(df[col].iloc[g]), "min")
    body = pd.DataFrame({c: df[c].map(_label) if c in index
                         else df[c].map(lambda v, c=c: significant(v, (digits or {}).get(c, 3)))
                         for c in df.columns}).set_index(index)
    bold = bold.drop(columns=list(index)).set_axis(body.index)
    return html(body, bold=bold, caption=caption)
