"""Arrays of the Bayesian staggered DiD: cells, the cell of each row, nesting.

Pure functions on the panel's integer codes. A cohort ``g`` is the position
of its first treated period; cell ``(g, t)`` carries the effect of cohort
``g`` in period ``t``. Period ``g - 1`` is each cohort's reference (effect 0
by construction, as a universal base period); with ``leads``, every other
pre-treatment period gets a cell too (placebo effects, the pre-trends of the
event study).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._sample import refuse_general_treatment
from ..errors import EstimationError, OptionError
from ..panel import Panel
from ._design import group_index, offset_of

__all__ = ["DiDDesign", "build_did_design"]


@dataclass(frozen=True)
class DiDDesign:
    """Everything the DiD model and its summaries need.

    Attributes
    ----------
    y, unit, time, offset : per-row outcome, unit code, period code, log exposure
    keep : bool per panel row (rows of units treated from the first period are out)
    cells : DataFrame ``g, t, e, post, reference, gi, pg`` (one row per cell,
        reference cells included); ``e_index`` the event-time pool of each cell.
    row_cell : per-row index into the non-reference cells (``n_cells`` = none)
    post : per-row 0/1, treated period of a treated unit
    levels : per level above the unit: (name, code of each unit, labels)
    effect_level : (name, code of each unit, labels) of the level whose effects vary, or None
    balanced : every unit observed in every period
    unit_cohort_index : each unit's cohort (index into the cohorts; never treated last)
    X, x_names : standardised time-varying covariates (may have no columns)
    """

    y: np.ndarray
    unit: np.ndarray
    time: np.ndarray
    offset: np.ndarray | None
    keep: np.ndarray
    cells: pd.DataFrame
    est_cells: np.ndarray
    e_values: np.ndarray
    e_index: np.ndarray
    row_cell: np.ndarray
    post: np.ndarray
    n_units: int
    n_periods: int
    levels: tuple[tuple[str, np.ndarray, pd.Index], ...]
    effect_level: tuple[str, np.ndarray, pd.Index] | None
    X: np.ndarray
    x_names: tuple[str, ...]
    unit_labels: pd.Index
    notes: tuple[str, ...]
    unit_cohort_index: np.ndarray
    balanced: bool

    def dense(self, values: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Per-row values laid out as ``(n_units, n_periods)`` (``fill`` where unobserved)."""
        values = np.asarray(values)
        out = np.full(self.n_units * self.n_periods, fill, dtype=values.dtype)
        out[self.flat] = values
        return out.reshape(self.n_units, self.n_periods)

    @property
    def flat(self) -> np.ndarray:
        """Position of each row in the ``(n_units, n_periods)`` layout, flattened."""
        return self.unit * self.n_periods + self.time


def _cells(groups: np.ndarray, T: int, leads: bool) -> pd.DataFrame:
    g = np.repeat(groups, T)
    t = np.tile(np.arange(T), len(groups))
    keep = (t >= g - 1) if not leads else np.ones(len(g), dtype=bool)
    g, t = g[keep], t[keep]
    out = pd.DataFrame({"g": g, "t": t, "e": t - g, "post": t >= g, "reference": t == g - 1})
    out["gi"] = np.searchsorted(groups, out["g"].to_numpy())
    return out


def _sample(panel: Panel) -> tuple[np.ndarray, np.ndarray, list[str]]:
    us = panel.unit_sample()
    notes = list(us.notes)
    keep = np.ones(panel.n_obs, dtype=bool) if us.row_keep is None else us.row_keep.copy()
    cohort = np.full(panel.n_obs, np.inf)
    cohort[keep] = us.row_cohort
    if not (~np.isfinite(cohort[keep])).any() and keep.any():
        last = int(cohort[keep].max())
        late = keep & (np.asarray(panel.time_codes) >= last)
        if late.any():
            notes.append(f"no unit stays untreated: the {int(late.sum())} rows from "
                         f"{panel.periods[last]} on (when every unit is treated) were left out, "
                         f"as their period effects cannot be told apart from treatment effects.")
            keep &= ~late
    return keep, cohort, notes


def build_did_design(
    panel: Panel, family: str, *, leads: bool, unit_levels: Sequence[str] | None,
    effect_level: str | None, covariates: str | Sequence[str] | None,
) -> DiDDesign:
    """The DiD arrays of ``panel`` (validated: cohorts, levels, covariates)."""
    refuse_general_treatment(panel, "MultilevelDiD")
    if panel.kind != "panel" or not panel.has_cohorts:
        raise EstimationError("MultilevelDiD needs a panel (unit= and time=) with cohort= or "
                              "treatment=.")
    keep, cohort, notes = _sample(panel)
    T = panel.n_periods
    cohort = cohort[keep]
    ucode, labels = pd.factorize(panel.unit_codes[keep], sort=True)
    unit_labels = panel.units[labels]
    time = np.asarray(panel.time_codes)[keep]
    groups = np.unique(cohort[np.isfinite(cohort)]).astype(int)
    if len(groups) == 0:
        raise EstimationError("no cohort is treated inside the panel's window (after its first "
                              "period), so there is no effect to estimate.")
    if np.isfinite(cohort).all() and len(groups) == 1:
        raise EstimationError("every unit starts treatment in the same period and none is "
                              "untreated: period and treatment effects are not identified.")
    cells = _cells(groups, T, leads)
    treated = np.isfinite(cohort)
    gi_row = np.where(treated, np.searchsorted(groups, np.nan_to_num(cohort, posinf=0)), 0)
    has = np.zeros((len(groups), T), dtype=bool)
    has[gi_row[treated], time[treated]] = True
    observed = has[cells["gi"].to_numpy(), cells["t"].to_numpy()]
    cells = cells.loc[observed | cells["reference"].to_numpy()].reset_index(drop=True)
    est_cells = np.flatnonzero(~cells["reference"].to_numpy())
    lookup = np.full((len(groups), T), len(est_cells), dtype=np.intp)
    lookup[cells["gi"].to_numpy()[est_cells], cells["t"].to_numpy()[est_cells]] = \
        np.arange(len(est_cells))
    row_cell = np.where(treated, lookup[gi_row, time], len(est_cells))
    post = (treated & (time >= np.nan_to_num(cohort, posinf=T + 1))).astype(float)
    n_u = int(ucode.max()) + 1
    unit_cohort = np.full(n_u, np.inf)
    unit_cohort[ucode] = cohort
    gvals, gcounts = np.unique(unit_cohort[np.isfinite(unit_cohort)], return_counts=True)
    cells["pg"] = gcounts[np.searchsorted(gvals, cells["g"].to_numpy())] / n_u
    e_values, e_index = np.unique(cells["e"].to_numpy()[est_cells], return_inverse=True)
    frame = panel.frame.loc[keep] if not keep.all() else panel.frame
    lev = _levels(panel, frame, ucode, unit_levels)
    eff = _effect_level(panel, frame, ucode, effect_level)
    X, names = _covariates(frame, covariates)
    y = np.asarray(panel.y)[keep]
    off = offset_of(panel, family)
    return DiDDesign(
        y=y, unit=ucode.astype(np.intp), time=time.astype(np.intp),
        offset=None if off is None else off[keep], keep=keep, cells=cells,
        est_cells=est_cells, e_values=e_values, e_index=e_index.astype(np.intp),
        row_cell=row_cell.astype(np.intp), post=post, n_units=n_u, n_periods=T,
        levels=lev, effect_level=eff, X=X, x_names=names, unit_labels=unit_labels,
        notes=tuple(notes),
        unit_cohort_index=np.where(np.isfinite(unit_cohort),
                                   np.searchsorted(groups, np.nan_to_num(unit_cohort)),
                                   len(groups)).astype(np.intp),
        balanced=len(y) == n_u * T,
    )


def _levels(panel: Panel, frame: pd.DataFrame, unit: np.ndarray,
            unit_levels: Sequence[str] | None) -> tuple[tuple[str, np.ndarray, pd.Index], ...]:
    """Levels above the unit, each with its code per unit (not per row)."""
    first = np.r_[True, unit[1:] != unit[:-1]]
    if unit_levels is None:
        unit_levels = [c for c in panel.levels if c != panel.unit]
    if isinstance(unit_levels, str):
        unit_levels = [unit_levels]
    out = []
    for col in unit_levels:
        if col not in panel.levels:
            raise OptionError(f"unit_levels names {col!r}, which is not one of the panel's levels "
                              f"{list(panel.levels)}; build the Panel with levels=[..., {col!r}].")
        if col == panel.unit:
            continue
        codes, labels = group_index(frame, [col])
        per_unit = codes[first]
        if (per_unit[unit] != codes).any():
            raise OptionError(f"level {col!r} varies within units ({panel.unit!r}); unit effects "
                              f"can only be nested in levels constant within each unit.")
        out.append((col, per_unit, labels))
    return tuple(out)


def _effect_level(panel: Panel, frame: pd.DataFrame, unit: np.ndarray, level: str | None
                  ) -> tuple[str, np.ndarray, pd.Index] | None:
    if level is None:
        return None
    allowed = list(dict.fromkeys([*panel.levels, *([panel.unit] if panel.unit else [])]))
    if level not in allowed:
        raise OptionError(f"effect_level={level!r} is not one of the panel's levels {allowed}; "
                          f"build the Panel with levels=[..., {level!r}].")
    codes, labels = group_index(frame, [level])
    first = np.r_[True, unit[1:] != unit[:-1]]
    per_unit = codes[first]
    if (per_unit[unit] != codes).any():
        raise OptionError(f"effect_level={level!r} varies within units ({panel.unit!r}); effects "
                          f"can vary by a level that contains whole units.")
    return (level, per_unit, labels)


def _covariates(frame: pd.DataFrame, spec: str | Sequence[str] | None
                ) -> tuple[np.ndarray, tuple[str, ...]]:
    from .._formula import column_list, design_matrix

    spec = column_list(spec)
    if spec is None or (not isinstance(spec, str) and len(spec) == 0):
        return np.zeros((len(frame), 0)), ()
    X, names = design_matrix(frame, spec, intercept=False)
    sd = X.std(axis=0)
    varies = sd > 0
    X = (X[:, varies] - X[:, varies].mean(axis=0)) / sd[varies]  # centred and standardised
    return np.ascontiguousarray(X), tuple(n for n, v in zip(names, varies, strict=True) if v)


def cell_level_means(d: DiDDesign) -> np.ndarray:
    """``(n_est_cells, n_levels)``: each post cell's share of rows in each effect level."""
    assert d.effect_level is not None
    _, unit_codes, labels = d.effect_level
    codes = unit_codes[d.unit]
    n_c = len(d.est_cells)
    on = (d.row_cell < n_c) & (d.post > 0)
    M = np.zeros((n_c, len(labels)))
    np.add.at(M, (d.row_cell[on], codes[on]), 1.0)
    tot = M.sum(axis=1, keepdims=True)
    return np.divide(M, tot, out=np.zeros_like(M), where=tot > 0)


def level_cell_shares(d: DiDDesign) -> np.ndarray:
    """``(n_levels, n_est_cells)``: each effect level's post rows spread over the cells."""
    assert d.effect_level is not None
    _, unit_codes, labels = d.effect_level
    codes = unit_codes[d.unit]
    n_c = len(d.est_cells)
    on = (d.row_cell < n_c) & (d.post > 0)
    A = np.zeros((len(labels), n_c))
    np.add.at(A, (codes[on], d.row_cell[on]), 1.0)
    tot = A.sum(axis=1, keepdims=True)
    return np.divide(A, tot, out=np.zeros_like(A), where=tot > 0)
