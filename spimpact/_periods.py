"""Mapping a user's time column to ordered integer periods, and back.

Time values may be integers or floats, dates (``datetime64``), pandas
``Period`` values (months, quarters, years), ordered categoricals, or strings
that pandas can read as periods (``"2019Q3"``, ``"2019-07"``). Internally every
period is an integer code ``0..T-1`` in time order; outputs use the labels.
"""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
import pandas as pd

from ._validate import show
from .errors import PanelError

__all__ = ["encode_periods", "encode_cohorts", "encode_factorized_cohorts", "to_period_scale"]


def _as_orderable(values: pd.Series, column: str, role: str) -> pd.Series:
    """Return ``values`` in a dtype whose natural order is time order."""
    dtype = values.dtype
    if isinstance(dtype, pd.PeriodDtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return values
    if isinstance(dtype, pd.CategoricalDtype):
        if not dtype.ordered:
            raise PanelError(
                f"{role} column {column!r} is an unordered categorical, so its periods "
                f"cannot be ordered; make it ordered "
                f"(data[{column!r}].cat.as_ordered()) or use integers, dates or pandas Periods."
            )
        return values
    if pd.api.types.is_bool_dtype(dtype):
        raise PanelError(
            f"{role} column {column!r} is boolean; periods must be integers, dates or "
            f"pandas Periods."
        )
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return values  # plain integers: always finite, never missing
    if pd.api.types.is_numeric_dtype(dtype):
        bad = ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan)) & values.notna()
        if bad.any():
            raise PanelError(
                f"{role} column {column!r} holds non-finite values (e.g. "
                f"{values[bad].iloc[0]!r} in row {values.index[bad][0]!r}); periods must be finite."
            )
        return values
    # strings or mixed objects: dates, pandas Periods, or numbers stored as text
    uniques = pd.unique(values.dropna())
    if len(uniques) and all(isinstance(u, (datetime.date, np.datetime64)) for u in uniques):
        return pd.Series(pd.to_datetime(values), index=values.index)  # datetime.date objects
    try:
        parsed = {u: pd.Period(u) for u in uniques}
    except (ValueError, TypeError) as exc:
        numbers = pd.to_numeric(values, errors="coerce")
        if len(uniques) and numbers.notna().all():
            return numbers  # e.g. "1", "2", "10": ordered as numbers, not as text
        example = next((u for u in uniques if not _parses(u)), uniques[0] if len(uniques) else None)
        raise PanelError(
            f"{role} column {column!r} holds values that cannot be ordered as periods "
            f"(e.g. {example!r}); convert it to integers, dates or pandas Periods "
            f"(pd.PeriodIndex(..., freq='Q'))."
        ) from exc
    freqs = {p.freqstr for p in parsed.values()}
    if len(freqs) > 1:
        raise PanelError(
            f"{role} column {column!r} mixes period frequencies {sorted(freqs)}; "
            f"convert it to one frequency, e.g. pd.PeriodIndex(data[{column!r}], freq='Q')."
        )
    return values.map(parsed).astype(f"period[{freqs.pop()}]") if parsed else values


def _parses(value: object) -> bool:
    try:
        pd.Period(value)
    except (ValueError, TypeError):
        return False
    return True


def encode_periods(values: pd.Series, column: str) -> tuple[np.ndarray, pd.Index]:
    """Integer period codes (in time order) and the ordered period labels.

    Parameters
    ----------
    values : pandas.Series
        The time column, one value per row.
    column : str
        Its name, for error messages.

    Returns
    -------
    codes : numpy.ndarray of intp, shape (n_rows,)
    labels : pandas.Index, shape (n_periods,)

    Examples
    --------
    >>> import pandas as pd
    >>> codes, labels = encode_periods(pd.Series([2005, 2003, 2004, 2003]), "year")
    >>> codes.tolist(), labels.tolist()
    ([2, 0, 1, 0], [2003, 2004, 2005])
    """
    if values.isna().any():
        rows = values.index[values.isna()]
        raise PanelError(
            f"time column {column!r} is missing in {len(rows)} rows (e.g. row {rows[0]!r}); "
            f"every row needs a period: fill or drop those rows first."
        )
    ordered = _as_orderable(values, column, "time")
    try:
        codes, labels = pd.factorize(ordered)
        rank = np.asarray(pd.Index(labels).argsort())  # in the dtype's own order
    except TypeError as exc:
        raise PanelError(
            f"time column {column!r} mixes values of different types that cannot be "
            f"ordered; convert it to one type (integers, dates or pandas Periods)."
        ) from exc
    codes = codes.astype(np.intp, copy=False)
    if np.any(rank != np.arange(len(rank))):  # periods first seen out of order: renumber
        new = np.empty(len(rank), dtype=np.intp)
        new[rank] = np.arange(len(rank))
        codes = new[codes]
        labels = labels[rank]
    return codes, pd.Index(labels, name=column)


def to_period_scale(values: pd.Series, labels: pd.Index, column: str) -> pd.Series:
    """Convert cohort values to the type of the period labels so they compare."""
    if isinstance(labels.dtype, pd.PeriodDtype):
        if isinstance(values.dtype, pd.PeriodDtype):
            return values.dt.asfreq(labels.dtype.freq) if values.dtype != labels.dtype else values
        try:
            if pd.api.types.is_datetime64_any_dtype(values.dtype):
                return values.dt.to_period(labels.dtype.freq)
            return pd.Series(
                pd.PeriodIndex(values.astype(object), freq=labels.dtype.freq), index=values.index
            )
        except (ValueError, TypeError) as exc:
            raise PanelError(
                f"cohort column {column!r} cannot be read as periods of the time column "
                f"({labels.dtype}); give it the same type as the time column."
            ) from exc
    if pd.api.types.is_datetime64_any_dtype(labels.dtype):
        return _to_dates(values, labels, column)
    if isinstance(labels.dtype, pd.CategoricalDtype):
        unknown = values.notna() & ~values.isin(labels.dtype.categories)
        if unknown.any():
            raise PanelError(
                f"cohort column {column!r} holds {values[unknown].iloc[0]!r}, which is not a "
                f"category of the time column; use one of its categories or mark "
                f"never-treated units."
            )
        return pd.Series(
            pd.Categorical(values, categories=labels.dtype.categories, ordered=True),
            index=values.index,
        )
    if pd.api.types.is_numeric_dtype(labels.dtype):
        if not pd.api.types.is_numeric_dtype(values.dtype):
            numbers = pd.to_numeric(values, errors="coerce")
            if not (numbers.isna() & values.notna()).any():
                return numbers  # numbers stored as objects or text
            raise PanelError(
                f"cohort column {column!r} has dtype {values.dtype} but the time column is "
                f"numeric; give the cohort as the (numeric) period of first treatment."
            )
        return values
    return values


def _positions(vals: pd.Series, labels: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Positions of cohort values (already on the period scale) and whether each
    falls strictly between two observed periods."""
    if isinstance(labels.dtype, pd.CategoricalDtype):
        return vals.cat.codes.to_numpy().astype(float), np.zeros(len(vals), dtype=bool)
    # Periods stay a PeriodArray (boxing each to an object is ~100x slower)
    extension = isinstance(vals.dtype, (pd.PeriodDtype, pd.DatetimeTZDtype))
    raw = vals.array if extension else vals.to_numpy()
    idx = np.asarray(labels.searchsorted(raw))
    p = idx.astype(float)
    p[np.asarray(raw < labels[0])] = -1.0
    inside = (p >= 0) & (p < len(labels))
    hit = np.zeros(len(p), dtype=bool)
    hit[inside] = np.asarray(labels[idx[inside]] == raw[inside])
    return p, inside & ~hit


def _to_dates(values: pd.Series, labels: pd.Index, column: str) -> pd.Series:
    """Cohort values as dates comparable with datetime period labels (same time zone).

    pandas Periods become their start time (a cohort ``2019-07`` starts on 1 July).
    """
    try:
        if isinstance(values.dtype, pd.PeriodDtype):
            out = values.dt.start_time
        else:
            out = pd.to_datetime(values)
    except (ValueError, TypeError) as exc:
        raise PanelError(
            f"cohort column {column!r} cannot be read as dates like the time column; "
            f"give it the same type as the time column."
        ) from exc
    tz = getattr(labels.dtype, "tz", None)
    have = getattr(out.dtype, "tz", None)
    if tz is not None and have is None:
        out = out.dt.tz_localize(tz)
    elif tz is None and have is not None:
        out = out.dt.tz_localize(None)
    elif tz is not None and have is not None and str(tz) != str(have):
        out = out.dt.tz_convert(tz)
    return out.astype(labels.dtype)


def encode_cohorts(
    cohort: pd.Series, labels: pd.Index, never: np.ndarray, column: str
) -> tuple[np.ndarray, np.ndarray]:
    """Position of each row's cohort on the period axis.

    A cohort maps to the first observed period on or after it (its first
    treated period in the data). Never-treated rows (``never``) get ``inf``; a
    cohort after the last period gets ``n_periods`` (not yet treated throughout
    the window); a cohort before the first period gets ``-1`` (always treated).

    Returns
    -------
    positions : numpy.ndarray of float, shape (n_rows,)
    between : numpy.ndarray of bool, shape (n_rows,)
        Rows whose cohort falls strictly between two observed periods (placed on
        the later one), so that the shown cohort label differs from the data's.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> pos, between = encode_cohorts(pd.Series([2005, 2004, 2010, 2001]),
    ...                               pd.Index([2003, 2004, 2006]), np.zeros(4, bool), "g")
    >>> pos.tolist(), between.tolist()
    ([2.0, 1.0, 3.0, -1.0], [True, False, False, False])
    """
    codes, uniques = pd.factorize(cohort)
    never_u = np.zeros(len(uniques), dtype=bool)
    never_u[codes[never & (codes >= 0)]] = True  # never-treated codes are values
    return encode_factorized_cohorts(codes, pd.Series(uniques), never_u, labels, column)


def encode_factorized_cohorts(
    codes: np.ndarray, uniques: pd.Series, never: np.ndarray, labels: pd.Index, column: str
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`encode_cohorts` on a factorized cohort column.

    ``codes`` (rows, -1 for missing) index ``uniques``; ``never`` flags the
    uniques that mean never treated. The work is on the few distinct cohorts;
    the rows only gather the result.
    """
    keep = np.flatnonzero(~never)
    pos_u = np.full(len(uniques) + 1, np.inf)  # the last slot: missing (code -1)
    between_u = np.zeros(len(uniques) + 1, dtype=bool)
    if len(keep):
        vals = to_period_scale(uniques.iloc[keep].reset_index(drop=True), labels, column)
        pos_u[keep], between_u[keep] = _positions(vals, labels)
    return pos_u[codes], between_u[codes]


#: Text that marks a missing value in exported extracts (compared stripped, lower case).
NA_MARKERS = frozenset({"", "na", "n/a", "nan", "nat", "none", "null", ".", "-"})


def cohort_values(
    c: pd.Series, full: pd.Series, never_treated: Any, periods: pd.Index, column: Any,
) -> tuple[np.ndarray, pd.Series, np.ndarray]:
    """Factorized cohort values and which distinct values mean never treated;
    ``full`` is the whole column (for messages)."""
    # Cohorts take few distinct values: classify those, not the rows.
    codes, uniques = pd.factorize(c)  # missing: code -1
    u = pd.Series(uniques)
    never_u = np.zeros(len(u), dtype=bool)
    if never_treated is not None:
        never_u |= (u == never_treated).to_numpy(dtype=bool, na_value=False)
    marker = u.map(lambda v: isinstance(v, str) and v.strip().lower() in NA_MARKERS).to_numpy(
        dtype=bool) & ~never_u
    if marker.any():
        value = u[marker].iloc[0]
        rows = int((full == value).sum())
        raise PanelError(
            f"cohort column {column!r} holds {value!r} in {rows} rows, a marker of a missing "
            f"value rather than a period; if it means never treated, pass "
            f"never_treated={value!r} (or set those cells to missing); otherwise correct them."
        )
    if pd.api.types.is_numeric_dtype(c.dtype) and not pd.api.types.is_bool_dtype(c.dtype):
        never_u |= np.isposinf(u.to_numpy(dtype=float, na_value=np.nan))  # Inf: never
        if never_treated is None and pd.api.types.is_numeric_dtype(periods.dtype):
            zero = (u == 0).to_numpy(dtype=bool, na_value=False) & (periods[0] > 0)
            if zero.any():
                rows = int((full == 0).sum())
                raise PanelError(
                    f"cohort column {column!r} holds 0 in {rows} rows, "
                    f"before the first period {show(periods[0])}; if 0 marks "
                    f"never-treated units (as in R's did), pass never_treated=0."
                )
    return codes, u, never_u
