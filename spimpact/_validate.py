"""Column checks shared by :class:`spimpact.Panel` and the estimators.

Each check raises :class:`~spimpact.errors.PanelError` naming the column, the
offending value or rows, and what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import PanelError

#: Largest magnitude accepted in a numeric role column: squares and sums of
#: squares of larger numbers (and of weights below its inverse) overflow or
#: vanish in float64, so standard errors would come out inf, NaN or 0.
MAX_MAGNITUDE = 1e100

__all__ = [
    "require_columns",
    "column_names",
    "check_roles",
    "numeric_column",
    "check_weight_scale",
    "no_missing",
    "row_examples",
    "check_nested",
    "constant_within",
    "varying_groups",
    "first_treated",
    "show",
]


def show(value: object) -> str:
    """A value for messages: ``repr``, but numpy scalars as plain numbers and
    periods and dates as their text (``2019Q3``)."""
    if isinstance(value, (pd.Period, pd.Timestamp)):
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def row_examples(index: pd.Index, k: int = 3) -> str:
    """A short list of row labels for messages."""
    shown = ", ".join(repr(i) for i in index[:k])
    return shown + (", ..." if len(index) > k else "")


def _is_name(value: object) -> bool:
    return isinstance(value, (str, int, np.integer)) and not isinstance(value, bool) and value != ""


def column_names(value: Any, role: str) -> tuple[Any, ...]:
    """A role that takes several columns (``covariates``, ``levels``) as a tuple of names.

    ``None`` means none; one name may be given on its own.
    """
    if value is None:
        return ()
    if _is_name(value):
        return (value,)
    try:
        names: tuple[Any, ...] = tuple(value)
    except TypeError:
        names = (value,)
    bad = [v for v in names if not _is_name(v)]
    if bad:
        raise PanelError(
            f"{role}= takes column names (e.g. {role}=['imd_score', 'rural']), but holds "
            f"{bad[0]!r}."
        )
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise PanelError(f"{role}= lists the column {twice!r} twice: {list(names)}.")
    return names


def check_roles(single: dict[str, object], covariates: Sequence[object],
                levels: Sequence[object]) -> None:
    """Raise if a role is not one column name, or one column plays roles that exclude
    each other: the outcome, the time, the cohort or the treatment as anything
    else, or the unit as anything but the cluster or a level.
    """
    for role, col in single.items():
        if col is not None and not _is_name(col):
            raise PanelError(
                f"{role}= must be one column name, not {col!r}"
                + (" (covariates= and levels= take several)." if role != "outcome" else ".")
            )
    uses: dict[object, list[str]] = {}
    for role, col in single.items():
        if col is not None:
            uses.setdefault(col, []).append(role)
    for col in covariates:
        uses.setdefault(col, []).append("covariates")
    for col in levels:
        uses.setdefault(col, []).append("levels")
    for col, roles in uses.items():
        kinds = set(roles)
        clash = len(roles) > 1 and (
            bool(kinds & {"outcome", "time", "cohort", "treatment"})
            or ("unit" in kinds and not kinds <= {"unit", "cluster", "levels"})
        )
        if clash:
            raise PanelError(
                f"column {col!r} is given as {' and '.join(f'{r}=' for r in roles)}; one "
                f"column cannot play these roles together: name a different column for one "
                f"of them."
            )


def require_columns(data: pd.DataFrame, columns: dict[str, Sequence[object]]) -> None:
    """Raise if a named role points at a column that is not in ``data``, or at a
    column name the data holds more than once."""
    available = list(map(str, data.columns))
    for role, cols in columns.items():
        for col in cols:
            if col not in data.columns:
                close = [c for c in available if c.lower() == str(col).lower()]
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise PanelError(
                    f"{role}={col!r} is not a column of the data (columns: "
                    f"{', '.join(available[:12])}{', ...' if len(available) > 12 else ''}).{hint}"
                )
            if int((data.columns == col).sum()) > 1:
                raise PanelError(
                    f"the data has {int((data.columns == col).sum())} columns named {col!r} "
                    f"({role}=); rename or drop the duplicates so each name is unique."
                )


def no_missing(data: pd.DataFrame, col: str, role: str, *, blank: bool = False) -> None:
    """Raise if column ``col`` has missing values (or, with ``blank``, blank
    strings, which would silently form one more group: for grouping columns)."""
    miss = data[col].isna()
    if miss.any():
        raise PanelError(
            f"{role} column {col!r} is missing in {int(miss.sum())} rows "
            f"(rows {row_examples(data.index[miss])}); fill or drop them before building the Panel."
        )
    s = data[col]
    if not blank or not (pd.api.types.is_object_dtype(s.dtype)
                         or pd.api.types.is_string_dtype(s.dtype)):
        return
    labels = pd.Series(pd.unique(s), dtype=object)
    try:
        blank_labels = labels[labels.str.strip().eq("").to_numpy(dtype=bool, na_value=False)]
    except AttributeError:  # no strings among the labels
        return
    if len(blank_labels):  # few distinct labels: the rows are only counted
        hit = s.isin(blank_labels).to_numpy(dtype=bool)
        raise PanelError(
            f"{role} column {col!r} holds a blank string ({show(blank_labels.iloc[0])}) in "
            f"{int(hit.sum())} rows (rows {row_examples(data.index[hit])}), which would "
            f"count as one more group; give those rows their label, or drop them."
        )


def numeric_column(
    data: pd.DataFrame,
    col: str,
    role: str,
    *,
    allow_missing: bool = False,
    min_value: float | None = None,
    strict_min: bool = False,
) -> np.ndarray:
    """Return ``data[col]`` as a float array, raising on anything unusable."""
    s = data[col]
    if pd.api.types.is_bool_dtype(s.dtype):
        s = s.astype(float)
    if not pd.api.types.is_numeric_dtype(s.dtype):
        coerced = pd.to_numeric(s, errors="coerce")
        bad = coerced.isna() & s.notna()
        if not bad.any():
            raise PanelError(
                f"{role} column {col!r} holds numbers stored as dtype {s.dtype}; convert it "
                f"with pd.to_numeric(data[{col!r}]) before building the Panel."
            )
        raise PanelError(
            f"{role} column {col!r} is not numeric (dtype {s.dtype}): it holds "
            f"{show(s[bad].iloc[0])} in row {show(s.index[bad][0])} ({int(bad.sum())} such rows). "
            f"Convert it to numbers"
            + (" or, for a categorical covariate, to strings." if role == "covariate" else ".")
        )
    values = s.to_numpy(dtype=float, na_value=np.nan)
    # the usual case in two reductions, without temporaries: every value finite
    # and of a usable size (a NaN makes max and min NaN, which compare false)
    if len(values) and values.max() <= MAX_MAGNITUDE and values.min() >= -MAX_MAGNITUDE:
        if min_value is not None:
            low = (values <= min_value) if strict_min else (values < min_value)
            if low.any():
                _below(values, low, s, col, role, min_value, strict_min)
        return values
    missing = np.isnan(values)
    if missing.any() and not allow_missing:
        raise PanelError(
            f"{role} column {col!r} is missing in {int(missing.sum())} rows "
            f"(rows {row_examples(s.index[missing])}); fill or drop them before building the Panel."
        )
    inf = np.isinf(values)
    if inf.any():
        raise PanelError(
            f"{role} column {col!r} holds infinite values in {int(inf.sum())} rows "
            f"(rows {row_examples(s.index[inf])}); replace them with finite numbers or drop the rows."
        )
    huge = np.abs(values) > MAX_MAGNITUDE
    if huge.any():
        raise PanelError(
            f"{role} column {col!r} holds values as large as {show(values[huge][0])} in "
            f"{int(huge.sum())} rows (rows {row_examples(s.index[huge])}); beyond "
            f"{MAX_MAGNITUDE:.0e} their squares overflow in the standard errors. Rescale the "
            f"column (e.g. divide it by 1e6): the estimates scale with it."
        )
    if min_value is not None:
        low = (values <= min_value) if strict_min else (values < min_value)
        low &= ~missing
        if low.any():
            _below(values, low, s, col, role, min_value, strict_min)
    return values


def _below(values: np.ndarray, low: np.ndarray, s: pd.Series, col: str, role: str,
           min_value: float, strict_min: bool) -> None:
    word = "positive" if strict_min and min_value == 0 else f">= {min_value:g}"
    raise PanelError(
        f"{role} column {col!r} must be {word}, but holds {show(values[low][0])} "
        f"in {int(low.sum())} rows (rows {row_examples(s.index[low])}); "
        f"correct or drop those rows."
    )


def check_weight_scale(w: np.ndarray, col: str, index: pd.Index) -> None:
    """Refuse positive weights so small that their squares underflow to 0 (the
    estimates do not depend on the weights' scale, so rescaling loses nothing)."""
    tiny = (w > 0) & (w < 1.0 / MAX_MAGNITUDE)
    if tiny.any():
        raise PanelError(
            f"weights column {col!r} holds weights as small as {show(w[tiny].min())} in "
            f"{int(tiny.sum())} rows (rows {row_examples(index[tiny])}); below "
            f"{1.0 / MAX_MAGNITUDE:.0e} their squares vanish in the standard errors. Divide "
            f"the weights by their mean (df[{col!r}] / df[{col!r}].mean()): the estimates do "
            f"not depend on their scale."
        )


def varying_groups(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The integer ``codes`` whose rows do not all share one value of ``values``
    (missing values equal each other).

    Compares neighbours after a stable sort by code (no sort when the codes are
    already grouped), so it is linear on sorted panels.

    Examples
    --------
    >>> import numpy as np
    >>> varying_groups(np.array([0, 0, 1, 1]), np.array([1.0, 1.0, 2.0, np.nan])).tolist()
    [1]
    """
    codes = np.asarray(codes)
    values = np.asarray(values)
    if len(codes) < 2:
        return codes[:0]
    if not np.all(codes[1:] >= codes[:-1]):
        order = np.argsort(codes, kind="stable")
        codes, values = codes[order], values[order]
    same = codes[1:] == codes[:-1]
    a, b = values[1:], values[:-1]
    differ = a != b
    if values.dtype.kind == "f":
        differ &= ~(np.isnan(a) & np.isnan(b))
    return np.unique(codes[1:][same & differ])


def constant_within(
    codes: np.ndarray, values: np.ndarray, labels: pd.Index, col: str, what: str, fix: str
) -> None:
    """Raise if ``values`` varies within any group of integer ``codes``
    (:func:`varying_groups`), naming the groups by ``labels``."""
    bad = varying_groups(codes, values)
    if len(bad):
        names = labels[bad.astype(np.intp)] if len(labels) else pd.Index(bad)
        raise PanelError(
            f"{col!r} varies within {what} for {len(bad)} of them "
            f"(e.g. {row_examples(pd.Index(names))}); {fix}"
        )


def check_nested(data: pd.DataFrame, levels: Sequence[object]) -> None:
    """Raise unless each level is nested in the next (e.g. practice in pcn in icb).

    Works on integer codes: one factorisation per level, one stable sort per
    pair, neighbours compared (linear on data sorted by the lower level).
    """
    codes = {lvl: pd.factorize(data[lvl])[0] for lvl in levels}
    for lower, upper in zip(levels[:-1], levels[1:], strict=True):
        lo, up = codes[lower], codes[upper]
        if not np.all(lo[1:] >= lo[:-1]):
            order = np.argsort(lo, kind="stable")
            lo, up = lo[order], up[order]
        bad = np.unique(lo[1:][(lo[1:] == lo[:-1]) & (up[1:] != up[:-1])])
        if len(bad):
            rows = codes[lower] == bad[0]
            example = data[lower].to_numpy()[rows][0]
            n_up = len(np.unique(codes[upper][rows]))
            raise PanelError(
                f"levels are not nested: {lower!r} {show(example)} belongs to {n_up} different "
                f"{upper!r} values ({len(bad)} such {lower!r} values in all); levels must run "
                f"from the lowest to the highest level, each {lower!r} inside exactly one "
                f"{upper!r}."
            )


def first_treated(
    units: np.ndarray, times: np.ndarray, d: np.ndarray, n_units: int, unit_labels: pd.Index,
    col: str, unit_name: str,
) -> tuple[np.ndarray, np.ndarray]:
    """First period code with ``d == 1`` in each unit (``-1``: never treated).

    Rows with a missing ``d`` (NaN) are ignored. Raises when the indicator
    switches back from 1 to 0 within a unit, naming the units.

    Parameters
    ----------
    units, times : ndarray of int, shape (n,)
        Unit and period codes of each row (any order).
    d : ndarray of float, shape (n,)
        The 0/1 indicator (NaN where unknown).
    n_units : int
    unit_labels : pandas.Index
        Labels of the unit codes, for the message.
    col, unit_name : str
        The treatment and unit columns, for the message.

    Returns
    -------
    first : ndarray of intp, shape (n_units,)
    entered_treated : ndarray of bool, shape (n_units,)
        Units already treated in their first observed period, when that is not
        the first period of the data: their true start may be earlier.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> first, entered = first_treated(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]),
    ...     np.array([0.0, 1.0, 0.0, 0.0]), 2, pd.Index(["a", "b"]), "d", "u")
    >>> first.tolist(), entered.tolist()
    ([1, -1], [False, False])
    """
    ok = ~np.isnan(d)
    u, t, dv = (units, times, d) if ok.all() else (units[ok], times[ok], d[ok])
    key = u.astype(np.int64) * (int(t.max(initial=0)) + 1) + t
    if not np.all(key[1:] > key[:-1]):  # sorted panels (the usual case) skip the sort
        order = np.lexsort((dv, t, u))  # by unit, then period; ties put 0 before 1
        u, t, dv = u[order], t[order], dv[order]
    same_unit = np.r_[False, u[1:] == u[:-1]]
    off = same_unit & (np.r_[0.0, dv[:-1]] == 1) & (dv == 0)
    if off.any():
        bad = pd.Index(pd.unique(unit_labels[u[off]]))
        raise PanelError(
            f"treatment column {col!r} switches back from 1 to 0 for {len(bad)} units "
            f"(e.g. {unit_name}={row_examples(bad)}); spimpact's designs need a treatment "
            f"that stays on once started: fix the indicator, or give the first treated "
            f"period with cohort=; for a treatment that switches off, build the Panel with "
            f"treatment_kind='general' and use spimpact.did.ChaisemartinDHaultfoeuille."
        )
    first = np.full(n_units, -1, dtype=np.intp)
    on = np.flatnonzero(dv == 1)
    units_on, at = np.unique(u[on], return_index=True)  # each unit's first 1 (rows sorted)
    first[units_on] = t[on[at]]
    seen = np.full(n_units, -1, dtype=np.intp)
    starts = ~same_unit  # first row of each unit in the sorted order
    seen[u[starts]] = t[starts]
    entered = (first >= 0) & (first == seen) & (seen > 0)
    return first, entered


def check_dose(panel: Any, df: pd.DataFrame) -> np.ndarray:
    """The dose column of a panel as floats, checked: numeric, finite, ``>= 0``,
    constant within each unit, 0 exactly for never-treated units."""
    col = panel.dose
    if panel.kind != "panel":
        raise PanelError(
            f"dose={col!r} is a unit's treatment intensity and needs a panel (unit= and "
            f"time=); this is a {panel.kind}."
        )
    if not panel.has_cohorts:
        raise PanelError(
            f"dose={col!r} needs cohort= or treatment= (when each unit starts); a dose "
            f"alone does not say when treatment begins."
        )
    d = numeric_column(df, col, "dose", min_value=0.0)
    if not np.isfinite(d).all():
        rows = df.index[~np.isfinite(d)]
        raise PanelError(
            f"dose column {col!r} is not finite in rows {row_examples(rows)}; give each "
            f"unit a finite intensity (0 for never-treated units)."
        )
    constant_within(panel._ucode, d, panel.units, col, f"units ({panel.unit!r})",
                    "a unit's dose is its intensity from its start and must be the same in "
                    "every row; summarise it per unit (e.g. its mean after the start).")
    first = np.r_[True, panel._ucode[1:] != panel._ucode[:-1]]
    ud, upos = d[first], panel.unit_cohort_codes
    never = ~np.isfinite(upos)
    for bad, what, fix in (
        (never & (ud != 0), "never-treated units have a dose > 0",
         "set their dose to 0, or give them a cohort"),
        (~never & (ud <= 0), "units with a cohort have a dose of 0",
         "give treated units a positive dose, or mark them never treated"),
    ):
        if bad.any():
            raise PanelError(
                f"dose column {col!r}: {int(bad.sum())} {what} (e.g. "
                f"{row_examples(panel.units[bad])}); {fix}."
            )
    return d
