"""Column checks shared by :class:`spimpact.Panel` and the estimators.

Each check raises :class:`~spimpact.errors.PanelError` naming the column, the
offending value or rows, and what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .errors import PanelError

__all__ = [
    "require_columns",
    "numeric_column",
    "no_missing",
    "row_examples",
    "check_nested",
    "constant_within",
]


def row_examples(index: pd.Index, k: int = 3) -> str:
    """A short list of row labels for messages."""
    shown = ", ".join(repr(i) for i in index[:k])
    return shown + (", ..." if len(index) > k else "")


def require_columns(data: pd.DataFrame, columns: dict[str, Sequence[str]]) -> None:
    """Raise if a named role points at a column that is not in ``data``."""
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


def no_missing(data: pd.DataFrame, col: str, role: str) -> None:
    """Raise if column ``col`` has missing values."""
    miss = data[col].isna()
    if miss.any():
        raise PanelError(
            f"{role} column {col!r} is missing in {int(miss.sum())} rows "
            f"(rows {row_examples(data.index[miss])}); fill or drop them before building the Panel."
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
        raise PanelError(
            f"{role} column {col!r} is not numeric (dtype {s.dtype}); e.g. "
            f"{s[bad].iloc[0] if bad.any() else s.iloc[0]!r} in row "
            f"{s.index[bad][0] if bad.any() else s.index[0]!r}. Convert it to numbers"
            + (" or declare it categorical." if role == "covariate" else ".")
        )
    values = s.to_numpy(dtype=float, na_value=np.nan)
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
    if min_value is not None:
        low = (values <= min_value) if strict_min else (values < min_value)
        low &= ~missing
        if low.any():
            word = "positive" if strict_min and min_value == 0 else f">= {min_value}"
            raise PanelError(
                f"{role} column {col!r} must be {word}, but holds {values[low][0]!r} "
                f"in {int(low.sum())} rows (rows {row_examples(s.index[low])}); "
                f"correct or drop those rows."
            )
    return values


def constant_within(
    codes: np.ndarray, values: np.ndarray, labels: pd.Index, col: str, what: str, fix: str
) -> None:
    """Raise if ``values`` varies within any group of integer ``codes``.

    Compares neighbours after a stable sort by code (no sort when the codes are
    already grouped), so it is linear on sorted panels.
    """
    codes = np.asarray(codes)
    values = np.asarray(values)
    if len(codes) < 2:
        return
    if not np.all(codes[1:] >= codes[:-1]):
        order = np.argsort(codes, kind="stable")
        codes, values = codes[order], values[order]
    same = codes[1:] == codes[:-1]
    a, b = values[1:], values[:-1]
    differ = a != b
    if values.dtype.kind == "f":
        differ &= ~(np.isnan(a) & np.isnan(b))
    bad = np.unique(codes[1:][same & differ])
    if len(bad):
        names = labels[bad.astype(np.intp)] if len(labels) else pd.Index(bad)
        raise PanelError(
            f"{col!r} varies within {what} for {len(bad)} of them "
            f"(e.g. {row_examples(pd.Index(names))}); {fix}"
        )


def check_nested(data: pd.DataFrame, levels: Sequence[str]) -> None:
    """Raise unless each level is nested in the next (e.g. practice in pcn in icb)."""
    for lower, upper in zip(levels[:-1], levels[1:], strict=True):
        n_up = data.groupby(lower, sort=False, observed=True)[upper].nunique()
        bad = n_up.index[n_up.to_numpy() > 1]
        if len(bad):
            raise PanelError(
                f"levels are not nested: {lower!r} {bad[0]!r} belongs to "
                f"{int(n_up.iloc[list(n_up.index).index(bad[0])])} different {upper!r} values "
                f"({len(bad)} such {lower!r} values in all); levels must run from the lowest "
                f"to the highest level, each {lower!r} inside exactly one {upper!r}."
            )
