"""Numbers, dates and tables formatted for people: the one place the report,
the terminal and :func:`spimpact.compare` turn values into text.

Numbers get thousands separators (from five digits on, so years stay years) and
about four significant digits, p-values
three decimals (``<0.001`` below), missing values a dash; timestamps at
midnight print as dates and pandas Periods as their labels (``2019Q3``).
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["fmt", "fmt_p", "fmt_interval", "format_frame", "MISSING"]

#: What a missing or undefined value prints as.
MISSING = "–"

#: Columns whose values are p-values (printed with :func:`fmt_p`).
P_COLUMNS = frozenset({"p_value", "p-value", "p", "pvalue", "p_value_uniform"})


def fmt(value: Any, digits: int = 4) -> str:
    """One value as text for a reader.

    Parameters
    ----------
    value : object
        A number, date, period, string or missing value.
    digits : int
        Significant digits of non-integer numbers (integers are printed whole).

    Examples
    --------
    >>> fmt(1720383719.0), fmt(896.2236585952709), fmt(-0.0123456), fmt(float("nan"))
    ('1,720,383,719', '896.2', '-0.01235', '–')
    >>> fmt(pd.Timestamp("1983-02-01")), fmt(pd.Period("2019Q3", "Q")), fmt(True)
    ('1983-02-01', '2019Q3', 'yes')
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return _fmt_int(int(value))
    if isinstance(value, (float, np.floating)):
        return _fmt_float(float(value), digits)
    if isinstance(value, pd.Timestamp) or isinstance(value, _dt.datetime):
        ts = pd.Timestamp(value)
        if ts == ts.normalize():
            return ts.strftime("%Y-%m-%d")
        return ts.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, pd.Period):
        return str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v, digits) for v in value)
    return str(value)


def _fmt_int(n: int) -> str:
    # four-digit numbers (years, most counts) read better without a separator
    return str(n) if abs(n) < 10_000 else f"{n:,}"


def _fmt_float(x: float, digits: int) -> str:
    if math.isnan(x):
        return MISSING
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) < 1e15:
        return _fmt_int(int(x))
    magnitude = math.floor(math.log10(abs(x)))
    if magnitude < -4:
        return f"{x:.{max(digits - 1, 1)}e}"
    decimals = max(0, digits - 1 - magnitude)
    sep = "," if abs(x) >= 10_000 else ""
    return f"{x:{sep}.{decimals}f}"


def fmt_p(p: Any) -> str:
    """A p-value: three decimals, ``<0.001`` below that.

    Examples
    --------
    >>> fmt_p(0.04551), fmt_p(2e-9), fmt_p(float("nan"))
    ('0.046', '<0.001', '–')
    """
    if p is None or (isinstance(p, (float, np.floating)) and math.isnan(p)):
        return MISSING
    p = float(p)
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_interval(lower: Any, upper: Any, digits: int = 4) -> str:
    """An interval as ``[lower, upper]``.

    Examples
    --------
    >>> fmt_interval(0.0213, 0.1987)
    '[0.02130, 0.1987]'
    """
    if lower is None or upper is None or (pd.isna(lower) and pd.isna(upper)):
        return MISSING
    return f"[{fmt(lower, digits)}, {fmt(upper, digits)}]"


def _monthly(column: pd.Series) -> bool:
    """Whether ``column`` holds dates at midnight on the first of their months."""
    if pd.api.types.is_datetime64_any_dtype(column):
        stamps = pd.DatetimeIndex(column.dropna())
    elif column.dtype == object and len(column.dropna()) and all(
            isinstance(v, (pd.Timestamp, _dt.datetime)) for v in column.dropna()):
        stamps = pd.DatetimeIndex(pd.to_datetime(column.dropna()))
    else:
        return False
    return bool(len(stamps)) and bool(((stamps.day == 1) & (stamps == stamps.normalize())).all())


def format_frame(frame: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """A copy of ``frame`` with every cell formatted by :func:`fmt` (p-value
    columns by :func:`fmt_p`), for display. A column of dates that all fall on
    the first of a month is monthly data and prints as months (``1983-02``).

    Examples
    --------
    >>> t = pd.DataFrame({"time": pd.to_datetime(["1983-02-01", "1983-03-01"]),
    ...                   "estimate": [0.123456, 2.0], "p_value": [0.0004, 0.5]})
    >>> format_frame(t).iloc[0].tolist()
    ['1983-02', '0.1235', '<0.001']
    """
    out = {}
    for col in frame.columns:
        values = frame[col].tolist()
        if str(col) in P_COLUMNS:
            out[col] = [fmt_p(v) for v in values]
        elif _monthly(frame[col]):
            out[col] = [MISSING if pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m")
                        for v in values]
        else:
            out[col] = [fmt(v, digits) for v in values]
    return pd.DataFrame(out, index=frame.index, columns=frame.columns, dtype=object)
