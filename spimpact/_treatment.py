"""The treatment role of :class:`spimpact.Panel`.

Functions of the panel being built (its roles, encoded periods and units, and
the rows set aside for a missing outcome). A 0/1 absorbing treatment
(``treatment_kind="absorbing"``) gives cohorts: each unit's cohort is its
first period with a 1, found on every row with a treatment value. A
``treatment_kind="general"`` treatment (any value, up and down) is checked
and kept per row; :func:`treatment_grid` lays it out for
:class:`spimpact.did.ChaisemartinDHaultfoeuille`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._periods import encode_cohorts, encode_periods
from ._validate import first_treated, numeric_column, row_examples, show
from ._warn import warn
from .errors import DataWarning, PanelError

if TYPE_CHECKING:
    from .panel import Panel

__all__ = ["treatment_values", "cohort_from_treatment", "TREATMENT_KINDS", "check_treatment_kind",
           "general_treatment", "TreatmentGrid", "treatment_grid"]


def treatment_values(p: Panel, df: pd.DataFrame, *, allow_missing: bool) -> np.ndarray:
    """The 0/1 treatment column as floats (an error naming the rows otherwise)."""
    col = str(p.treatment)
    d = numeric_column(df, p.treatment, "treatment", allow_missing=allow_missing)
    bad = ~np.isin(d, (0.0, 1.0)) & ~np.isnan(d)
    if bad.any():
        raise PanelError(
            f"treatment column {col!r} must be 0/1, but holds {show(d[bad][0])} in "
            f"{int(bad.sum())} rows (rows {row_examples(df.index[bad])}); recode it to 0/1, "
            f"or, for a treatment that takes other values, build the Panel with "
            f"treatment_kind='general' and use spimpact.did.ChaisemartinDHaultfoeuille."
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


TREATMENT_KINDS = ("absorbing", "general")


def check_treatment_kind(kind: object, treatment: object, dose: object) -> None:
    """The ``treatment_kind=`` role: one of :data:`TREATMENT_KINDS`; ``"general"``
    needs ``treatment=`` and excludes ``dose=``."""
    if kind not in TREATMENT_KINDS:
        raise PanelError(
            f"treatment_kind must be 'absorbing' (a 0/1 treatment that stays on) or "
            f"'general' (any numeric treatment, which may go up and down); got {kind!r}."
        )
    if kind == "general" and treatment is None:
        raise PanelError(
            "treatment_kind='general' describes the treatment= column, but no treatment= "
            "was given; name the column with the treatment of each unit and period."
        )
    if kind == "general" and dose is not None:
        raise PanelError(
            f"dose={dose!r} is ContinuousDiD's once-per-unit intensity; with "
            f"treatment_kind='general' the treatment column {treatment!r} itself carries the "
            f"intensity of each unit and period: drop dose=."
        )


def general_treatment(p: Panel, df: pd.DataFrame) -> np.ndarray:
    """The ``treatment_kind="general"`` treatment of the panel's rows, checked:
    a unit-by-period panel, numeric, finite and given in every row (also the
    rows set aside for a missing outcome)."""
    col = str(p.treatment)
    if p._kind != "panel":
        raise PanelError(
            f"treatment_kind='general' needs a panel of units over periods (unit= and time=); "
            f"this is a {p._kind.replace('_', ' ')}."
        )
    for frame in (df, p._dropped):
        if len(frame) == 0:
            continue
        d = numeric_column(frame, col, "treatment", allow_missing=True)
        bad = ~np.isfinite(d)
        if bad.any():
            what = "missing" if np.isnan(d[bad]).all() else "not finite"
            raise PanelError(
                f"treatment column {col!r} is {what} in {int(bad.sum())} rows (rows "
                f"{row_examples(frame.index[bad])}); treatment_kind='general' needs the "
                f"treatment of every unit and period in the data: fill it in, or drop "
                f"those rows."
            )
    return df[col].to_numpy(dtype=float)


@dataclass(frozen=True)
class TreatmentGrid:
    """A ``treatment_kind="general"`` panel on a dense ``(units, periods)`` grid.

    Attributes
    ----------
    y, d, w : ndarray (n_units, n_periods)
        Outcome (NaN where missing or absent), treatment (NaN where the unit has
        no row) and row weights (ones without ``weights=``; 0 where absent).
    periods : pandas.Index
        The grid's periods in order: the panel's periods plus any period seen
        only in rows set aside for a missing outcome.
    units : pandas.Index
        The panel's units (rows of the grid).
    cluster : ndarray (n_units,) of int, or None
        Each unit's cluster code.
    """

    y: np.ndarray
    d: np.ndarray
    w: np.ndarray
    periods: pd.Index
    units: pd.Index
    cluster: np.ndarray | None


def treatment_grid(p: Panel) -> TreatmentGrid:
    """The dense grid of a ``treatment_kind="general"`` panel (see :class:`TreatmentGrid`)."""
    if p.treatment_kind != "general":
        raise PanelError(
            "treatment_grid() is for panels built with treatment_kind='general'; this panel's "
            "treatment is a 0/1 absorbing indicator (or cohorts): use unit_sample()."
        )
    assert p._treat is not None
    extra = p._dropped
    if len(extra):
        extra = extra.loc[extra[p.unit].isin(p._units)]
    n_u = len(p._units)
    if len(extra):
        t_all, periods = encode_periods(pd.concat([p._df[p.time], extra[p.time]]), str(p.time))
        t_kept, t_extra = t_all[:len(p._df)], t_all[len(p._df):]
        u_extra = p._units.get_indexer(extra[p.unit])
    else:
        t_kept, periods = np.asarray(p._tcode), p._periods
    T = len(periods)
    y = np.full((n_u, T), np.nan)
    d = np.full((n_u, T), np.nan)
    w = np.zeros((n_u, T))
    y[p._ucode, t_kept] = p._y
    d[p._ucode, t_kept] = p._treat
    w[p._ucode, t_kept] = p._w
    if len(extra):
        d[u_extra, t_extra] = extra[p.treatment].to_numpy(dtype=float)
    cl = None if p._cl is None else np.asarray(p.unit_values(p._cl))
    return TreatmentGrid(y=y, d=d, w=w, periods=periods, units=p._units, cluster=cl)
