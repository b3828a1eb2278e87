"""Cohorts from a 0/1 treatment indicator, for :class:`spimpact.Panel`.

Functions of the panel being built (its roles, encoded periods and units, and
the rows set aside for a missing outcome): each unit's cohort is its first
period with a 1, found on every row with a treatment value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._periods import encode_cohorts, encode_periods
from ._validate import first_treated, numeric_column, row_examples, show
from ._warn import warn
from .errors import DataWarning, PanelError

if TYPE_CHECKING:
    from .panel import Panel

__all__ = ["treatment_values", "cohort_from_treatment"]


def treatment_values(p: Panel, df: pd.DataFrame, *, allow_missing: bool) -> np.ndarray:
    """The 0/1 treatment column as floats (an error naming the rows otherwise)."""
    col = str(p.treatment)
    d = numeric_column(df, p.treatment, "treatment", allow_missing=allow_missing)
    bad = ~np.isin(d, (0.0, 1.0)) & ~np.isnan(d)
    if bad.any():
        raise PanelError(
            f"treatment column {col!r} must be 0/1, but holds {show(d[bad][0])} in "
            f"{int(bad.sum())} rows (rows {row_examples(df.index[bad])}); recode it to 0/1."
        )
    return d


def cohort_from_treatment(
    p: Panel, df: pd.DataFrame, ucode: np.ndarray, tcode: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cohort positions from the 0/1 indicator: each unit's first period with a 1.

    The first treated period is found on every row with a treatment value,
    including rows set aside for a missing outcome, so a missing outcome in
    the first treated period does not delay the cohort.
    """
    d = treatment_values(p, df, allow_missing=False)
    if p._kind in ("cross_section", "repeated_cross_section"):
        # rows are individuals: the indicator marks the treated ones, no adoption date
        return np.where(d == 1, 0.0, np.inf), np.zeros(len(d), dtype=bool)
    unit_name = str(p.unit or "unit")
    if len(p._dropped) == 0:
        first, entered = first_treated(ucode, tcode, d, p.n_units, p._units,
                                       str(p.treatment), unit_name)
        _note_entered_treated(p, entered, p._units)
        row_first = first[ucode]
        return np.where(row_first >= 0, row_first, np.inf), np.zeros(len(d), dtype=bool)
    full = pd.concat([df, p._dropped])
    d_full = treatment_values(p, full, allow_missing=True)
    t_full, t_labels = encode_periods(full[p.time], p.time)
    if p.unit is None:
        u_full, u_labels = np.zeros(len(full), dtype=np.intp), pd.Index(["series"])
    else:
        codes, uniques = pd.factorize(full[p.unit], sort=True)
        u_full, u_labels = codes.astype(np.intp), pd.Index(uniques)
    first, entered = first_treated(u_full, t_full, d_full, len(u_labels), u_labels,
                                   str(p.treatment), unit_name)
    _note_entered_treated(p, entered, u_labels)
    # each period of the full data on the Panel's axis (first observed on or after it)
    t_pos, t_between = encode_cohorts(pd.Series(t_labels), p._periods,
                                      np.zeros(len(t_labels), dtype=bool), str(p.time))
    unit_first = first[u_labels.get_indexer(p._units)] if p.unit else first
    row_first = unit_first[ucode]
    treated = row_first >= 0
    safe = np.where(treated, row_first, 0)
    return np.where(treated, t_pos[safe], np.inf), treated & t_between[safe]


def _note_entered_treated(p: Panel, entered: np.ndarray, labels: pd.Index) -> None:
    if not entered.any():
        return
    note = (
        f"{int(entered.sum())} units are already treated ({p.treatment!r} = 1) in their "
        f"first observed period, after the data's first period (e.g. "
        f"{p.unit or 'unit'}={row_examples(pd.Index(labels[entered]))}); their cohort is "
        f"taken as that period, though treatment may have started earlier: give the start "
        f"with cohort= if it is known."
    )
    p._notes.append(note)
    warn(note, DataWarning)
