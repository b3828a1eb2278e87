"""The time axis of a series: a numeric time index per period, and where the
interruptions fall on it.

The trend, the slope change and the Fourier terms are functions of a numeric
time index ``t``: the values themselves for a numeric time column (so gaps
count), the period number for pandas Periods (months since 1970-01 for
monthly data, so ``t mod 12`` is the month of the year minus one), months
since 1970-01 for dates that fall one per month, days since 1970-01-01 for
other dates, and the position for ordered categories.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import OptionError

__all__ = ["time_index", "locate", "Interruption", "resolve_extra", "time_unit"]


def time_index(periods: pd.Index) -> np.ndarray:
    """Numeric time index of each period label (float array, increasing).

    Examples
    --------
    >>> import pandas as pd
    >>> time_index(pd.Index([1, 2, 4])).tolist()
    [1.0, 2.0, 4.0]
    >>> time_index(pd.period_range("1970-01", periods=3, freq="M")).tolist()
    [0.0, 1.0, 2.0]
    """
    dtype = periods.dtype
    if isinstance(dtype, pd.PeriodDtype):
        return np.asarray(periods.asi8, dtype=float)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        stamps = pd.DatetimeIndex(periods)
        months = (stamps.year - 1970) * 12 + stamps.month - 1
        if len(np.unique(months)) == len(months):
            return np.asarray(months, dtype=float)
        return np.asarray((stamps - pd.Timestamp("1970-01-01")).days, dtype=float)
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return np.asarray(periods, dtype=float)
    return np.arange(len(periods), dtype=float)


def time_unit(periods: pd.Index) -> str:
    """What one unit of :func:`time_index` is, for labels and docs."""
    dtype = periods.dtype
    if isinstance(dtype, pd.PeriodDtype):
        return {"M": "month", "Q": "quarter", "Y": "year", "W": "week", "D": "day"}.get(
            dtype.freq.name[0], "period"
        )
    if pd.api.types.is_datetime64_any_dtype(dtype):
        t = time_index(periods)
        return (
            "month"
            if np.allclose(np.diff(t), np.round(np.diff(t)))
            and len(pd.DatetimeIndex(periods).to_period("M").unique()) == len(periods)
            else "day"
        )
    return "time unit"


def _on_axis(value: Any, periods: pd.Index) -> Any:
    """``value`` converted to the type of the period labels (raises on failure)."""
    dtype = periods.dtype
    if isinstance(dtype, pd.PeriodDtype):
        if isinstance(value, pd.Period):
            return value.asfreq(dtype.freq) if value.freq != dtype.freq else value
        return pd.Period(value, freq=dtype.freq)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        stamp = pd.Timestamp(value)
        return stamp.tz_localize(None) if stamp.tz is not None and periods.tz is None else stamp
    if isinstance(dtype, pd.CategoricalDtype):
        if value not in list(dtype.categories):
            raise ValueError("not a category")
        return value
    if pd.api.types.is_numeric_dtype(dtype):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            raise TypeError("not a number")
        if not np.isfinite(value):
            raise ValueError("not finite")
        return value
    return value


def locate(value: Any, periods: pd.Index, name: str) -> int:
    """Position of ``value`` on the period axis: the first period on or after it.

    Returns -1 when it falls before the first period and ``len(periods)`` after
    the last. Raises :class:`OptionError` when it cannot be compared with the
    time column's values.

    Examples
    --------
    >>> import pandas as pd
    >>> locate(37, pd.Index(range(1, 60)), "interruption")
    36
    >>> locate("2019-07-15", pd.period_range("2019-01", periods=12, freq="M"), "interruption")
    6
    """
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        raise OptionError(f"{name} is missing; give a value of the panel's time column.")
    try:
        v = _on_axis(value, periods)
        if isinstance(periods.dtype, pd.CategoricalDtype):
            return list(periods.dtype.categories).index(v) - list(periods.dtype.categories).index(
                periods[0]
            )
        if v < periods[0]:
            return -1
        return int(periods.searchsorted(v, side="left"))
    except (TypeError, ValueError, OverflowError) as exc:
        raise OptionError(
            f"{name}={value!r} cannot be placed on the time axis ({periods.dtype}, "
            f"{periods[0]} to {periods[-1]}); give a value of the same type as the time "
            f"column, e.g. {periods[len(periods) // 2]!r}."
        ) from exc


@dataclass(frozen=True)
class Interruption:
    """An interruption on the period axis.

    ``start`` is the first affected period position; ``end`` the last one of
    a temporary shock (``None``: permanent). ``label`` names its terms.
    """

    start: int
    end: int | None
    label: str


def _inside(pos: int, periods: pd.Index, value: Any, name: str) -> int:
    if pos <= 0 or pos >= len(periods):
        where = "before or at the first" if pos <= 0 else "after the last"
        raise OptionError(
            f"{name}={value!r} falls {where} period of the series ({periods[0]} to "
            f"{periods[-1]}): an interruption needs observed periods before and after it. "
            f"Give a period between {periods[1]} and {periods[-1]}."
        )
    return pos


def resolve_extra(values: tuple[Any, ...], periods: pd.Index) -> list[Interruption]:
    """Place each extra interruption (a period, or a ``(start, end)`` pair for a
    temporary shock whose effect ends after ``end``) on the period axis.

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.period_range("2019-01", periods=24, freq="M")
    >>> [i.label for i in resolve_extra(("2020-03", ("2020-03", "2020-06")), p)]
    ['2020-03', '2020-03..2020-06']
    """
    out: list[Interruption] = []
    for v in values:
        if isinstance(v, tuple):
            start = _inside(
                locate(v[0], periods, "extra_interruptions"),
                periods,
                v[0],
                "extra_interruptions start",
            )
            end_pos = locate(v[1], periods, "extra_interruptions")
            # the last period on or before `end`
            end = (
                end_pos if end_pos < len(periods) and _same(periods[end_pos], v[1]) else end_pos - 1
            )
            if end < start:
                raise OptionError(
                    f"temporary interruption {v!r} ends before it starts; give "
                    f"(start, end) with end on or after start."
                )
            out.append(
                Interruption(
                    start,
                    end if end < len(periods) - 1 else None,
                    f"{periods[start]}..{periods[min(end, len(periods) - 1)]}",
                )
            )
        else:
            pos = _inside(
                locate(v, periods, "extra_interruptions"), periods, v, "extra_interruptions"
            )
            out.append(Interruption(pos, None, str(periods[pos])))
    labels = [i.label for i in out]
    if len(set(labels)) != len(labels):
        raise OptionError(f"extra_interruptions lists the same interruption twice: {labels}.")
    return out


def _same(label: Any, value: Any) -> bool:
    try:
        if isinstance(label, pd.Period):
            return bool(label == pd.Period(value, freq=label.freq))
        return bool(label == value)
    except (ValueError, TypeError):
        return False
