"""The site's number formatter, on plain numbers (no trajreg imports, so that both
:mod:`trajreg.stats` and :mod:`trajreg.tables` can use it). The public API is
:func:`trajreg.tables.fmt` and :func:`trajreg.tables.fmt_interval`; this module does the writing.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

# Decimals are written out for magnitudes in [DECIMAL_MIN, DECIMAL_MAX); outside, a power of ten.
DECIMAL_MIN, DECIMAL_MAX = 1e-4, 1e9
# In an interval, a bound this much smaller than the interval's largest magnitude is written 0.
ZERO_RELATIVE = 1e-9
EMPTY = "–"
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def check_digits(digits: int) -> int:
    """``digits`` as an int, or ValueError if it is not a positive int."""
    if isinstance(digits, bool) or not isinstance(digits, numbers.Integral) or digits < 1:
        raise ValueError(f"digits must be a positive int (significant digits), got {digits!r}")
    return int(digits)


def is_empty(x: Any) -> bool:
    """True for None and NaN (an empty table entry)."""
    return x is None or (isinstance(x, numbers.Real) and not isinstance(x, numbers.Integral)
                         and math.isnan(x))


def _exponent(x: float, digits: int) -> int:
    """floor(log10|x|) after rounding x to ``digits`` significant digits (999.6 -> 3 at 3 digits)."""
    return int(f"{x:.{digits - 1}e}".split("e")[1])


def _places(x: float, digits: int) -> int:
    """Decimal places that show x to ``digits`` significant digits (0 for large numbers)."""
    return max(0, digits - 1 - _exponent(x, digits))


def _fixed(x: float, places: int) -> str:
    """x with ``places`` decimals and thousands separators; a rounded -0 is written 0."""
    s = f"{x:,.{places}f}"
    return s[1:] if s.startswith("-") and not s.strip("-0.,") else s


def _power(mantissa: str, exponent: int) -> str:
    return f"{mantissa} × 10{str(exponent).translate(_SUPERSCRIPT)}"


def number(x: Any, digits: int = 3) -> str:
    """A plain number, text or None as :func:`trajreg.tables.fmt` writes it (see there)."""
    digits = check_digits(digits)
    if isinstance(x, str):
        return x
    if is_empty(x):
        return EMPTY
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, numbers.Integral):
        return f"{int(x):,}"
    if not isinstance(x, numbers.Real):
        raise TypeError(f"fmt formats numbers, Estimates, text or None; got {type(x).__name__}: {x!r}")
    x = float(x)
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == 0:
        return "0"
    if not DECIMAL_MIN <= abs(x) < DECIMAL_MAX:
        mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
        return _power(mantissa, int(exponent))
    return _fixed(x, _places(x, digits))


def interval(value: float, lo: float, hi: float, digits: int = 3) -> str:
    """"value [lo, hi]" as :func:`trajreg.tables.fmt_interval` writes it (see there)."""
    digits = check_digits(digits)
    vals = (float(value), float(lo), float(hi))
    if not all(math.isfinite(v) for v in vals):
        raise ValueError(f"an interval needs finite numbers, got {vals}")
    scale = max(abs(v) for v in vals)
    if scale == 0:
        return "0 [0, 0]"
    zero = scale * ZERO_RELATIVE
    power = 0
    if not DECIMAL_MIN <= scale < DECIMAL_MAX:
        power = _exponent(vals[0] if abs(vals[0]) > zero else scale, digits)
        vals = tuple(v / 10.0 ** power for v in vals)
        scale, zero = scale / 10.0 ** power, zero / 10.0 ** power

    def write(v: float, places: int) -> str:
        if abs(v) <= zero:
            return "0"
        s = _fixed(v, places)
        return number(v, digits) if not power and not s.strip("-0.,") else s

    places = _places(scale, digits)
    for extra in range(max(1, 7 - digits)):     # at most 6 significant digits
        out = [write(v, places + extra) for v in vals]
        exact = [0.0 if abs(v) <= zero else v for v in vals]
        clash = any(out[i] == out[j] and exact[i] != exact[j] for i, j in ((0, 1), (0, 2), (1, 2)))
        if not clash:
            break
    text = f"{out[0]} [{out[1]}, {out[2]}]"
    return _power(text, power) if power else text
