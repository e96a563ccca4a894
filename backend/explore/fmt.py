"""Numbers as people read them, made once for every page and the story's sentences: FLOPs as "1.7×10¹⁴", counts as
"12M", shares as "45.9%", a missing value as "—" (never "None", "nan" or "null")."""
from __future__ import annotations

import math
import re

__all__ = ["MISSING", "flops", "count", "pct", "points", "ci_points", "ratio", "missing", "numbers"]

MISSING = "—"  # what a table or sentence shows where a value does not exist
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def missing(x) -> bool:
    """None, NaN, pandas' NA or an infinite number: nothing to show."""
    if x is None:
        return True
    try:
        return not math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def flops(x, digits: int = 2) -> str:
    """FLOPs in scientific notation with a superscript exponent: 1.7×10¹⁴ (below 10⁴ as a plain number)."""
    if missing(x):
        return MISSING
    x = float(x)
    if abs(x) < 1e4:
        return f"{x:.0f}" if abs(x) >= 10 ** digits else f"{x:.{digits}g}"
    e = int(math.floor(math.log10(abs(x))))
    m = round(x / 10 ** e, digits - 1)
    if abs(m) >= 10:  # 9.96e14 rounds to 10.0: carry into the exponent
        m, e = m / 10, e + 1
    mant = f"{m:.{digits - 1}f}".rstrip("0").rstrip(".")
    return f"{mant}×10{str(e).translate(_SUPERSCRIPT)}"


def count(x, digits: int = 2) -> str:
    """A count with an SI suffix: 950, 12k, 3.2M, 1.7B, 6T (parameters, tokens, samples)."""
    if missing(x):
        return MISSING
    x = float(x)
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div * 0.9995:  # 999,600 reads as 1M, not 1000k
            v = x / div
            return f"{v:.{digits}g}{suffix}" if abs(v) < 10 ** digits else f"{v:.0f}{suffix}"
    return f"{x:.{digits}g}" if x != int(x) else f"{int(x)}"


def pct(x, digits: int = 1, signed: bool = False) -> str:
    """A share in [0, 1] as a percentage: 45.9% (signed: +4.5%)."""
    if missing(x):
        return MISSING
    return f"{float(x) * 100:{'+' if signed else ''}.{digits}f}%"


def points(x, digits: int = 1) -> str:
    """A difference of two accuracies in percentage points, signed: +4.5 points."""
    if missing(x):
        return MISSING
    return f"{float(x) * 100:+.{digits}f} points"


def ci_points(effect, lo, hi, digits: int = 1) -> str:
    """An effect and its 95% CI in percentage points: "+4.5 points (95% CI +2.1 to +6.9)"."""
    if missing(effect):
        return MISSING
    p = lambda v: f"{float(v) * 100:+.{digits}f}"
    return f"{p(effect)} points (95% CI {p(lo)} to {p(hi)})" if not (missing(lo) or missing(hi)) else \
        f"{p(effect)} points"


def ratio(x) -> str:
    """A multiple: 0.9×, 8.2×, 31×."""
    if missing(x):
        return MISSING
    x = float(x)
    return f"{x:.2g}×" if x < 100 else f"{x:,.0f}×"


_E_NOTATION = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)[eE]([+-]?\d+)(?![\w.])")


def numbers(text: str) -> str:
    """Text written elsewhere (e.g. the claims report's sentences) with its e-notation numbers made readable:
    "6.14e+07 FLOPs" → "6.1×10⁷ FLOPs"."""
    return _E_NOTATION.sub(lambda m: flops(float(m.group(0))), str(text))
