"""Sun & Abraham (2021) interaction-weighted event study.

One regression with unit and period effects and a full set of cohort x period
interactions for the treated cohorts (all periods but each cohort's reference
period ``g - 1 - anticipation``), with the never-treated (or the last-treated)
units as the control cohort. Each interaction coefficient is the cohort's
effect in that period relative to its reference period: ATT(g,t) with a
universal base period. Without covariates on a balanced panel these equal
Callaway-Sant'Anna's outcome-regression cells with never-treated controls and
a universal base period.

The interaction-weighted event study averages the coefficients over cohorts
with their sample shares, which is the engine's ``"event"`` aggregation;
Sun & Abraham's variance includes the estimation of those shares
(``fixed_shares=False``, the default). Influence functions are the per-unit
OLS scores ``n * M^-1 sum_t w_it r_it e_it``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse

from .._estimator import Estimator
from ..errors import EstimationError
from ..inference import FactoredInfluence, RandomState, validate_choice
from ..inference_cluster import DEFAULT_INFERENCE
from ..panel import Panel
from ._fe import (
    FESample,
    InferenceOptions,
    dummies,
    fe_sample,
    group_time_result,
    unit_means,
    within_ols,
)
from ._fe_blocks import cell_regression
from .imputation import validate_common
from .results import GroupTimeResult

__all__ = ["SunAbraham", "sun_abraham_cells"]

ControlGroup = Literal["never_treated", "last_treated"]


def _control_window(s: FESample, control_group: str, anticipation: int,
                    labels: pd.Index) -> tuple[np.ndarray, list[str]]:
    """Rows used (the control cohort's cohort is set to ``inf`` by the callers)."""
    keep = np.ones(len(s.y), dtype=bool)
    notes: list[str] = []
    never = ~np.isfinite(s.unit_cohort)
    if control_group == "never_treated":
        if not never.any():
            raise EstimationError(
                "control_group='never_treated' but every unit is treated within the panel; "
                "use control_group='last_treated' (the last cohort as controls)."
            )
        return keep, notes
    groups = s.groups
    if len(groups) < 2 and not never.any():
        raise EstimationError(
            "control_group='last_treated' needs at least two treated cohorts (one as controls)."
        )
    last = int(groups[-1])
    keep = s.time < last - anticipation
    notes.append(
        f"the last-treated cohort ({labels[last]!s}) serves as the control group: periods from "
        f"{labels[last - anticipation]!s} on ({int((~keep).sum())} rows) were left out."
    )
    return keep, notes


def _cell_frame(g: np.ndarray, t: np.ndarray, anticipation: int
                ) -> tuple[pd.DataFrame, np.ndarray, int]:
    """The cells ``(g, t)`` plus each cohort's reference cell, sorted by
    ``(g, t)``; the sort order (estimated cells first) and the number of
    reference cells."""
    groups = np.unique(g)
    ref_g = groups[groups - 1 - anticipation >= 0]
    cells = pd.DataFrame({
        "g": np.r_[g, ref_g], "t": np.r_[t, ref_g - 1 - anticipation],
        "reference": np.r_[np.zeros(len(g), bool), np.ones(len(ref_g), bool)],
    })
    cells["base"] = cells["g"] - 1 - anticipation
    cells["post"] = cells["t"] >= cells["g"]
    order = np.lexsort((cells["t"].to_numpy(), cells["g"].to_numpy()))
    cells = cells.iloc[order][["g", "t", "base", "post", "reference"]].reset_index(drop=True)
    return cells, order, len(ref_g)


def _cells_by_blocks(
    s: FESample, keep: np.ndarray, control_group: str, anticipation: int, labels: pd.Index,
) -> tuple[pd.DataFrame, np.ndarray, FactoredInfluence, int] | None:
    """The Sun-Abraham regression of a balanced panel without covariates from
    cohort x period sums, its influence functions factored on the cohort blocks
    (:mod:`spimpact.did._fe_blocks`); ``None`` when that does not apply."""
    T = s.n_periods
    uc = s.unit_cohort.copy()
    Tw = T
    if control_group == "last_treated":
        last = int(s.groups[-1])
        uc[uc == last] = np.inf
        Tw = last - anticipation
    groups = np.unique(uc[np.isfinite(uc)]).astype(int)
    base = groups - 1 - anticipation
    cg = np.repeat(groups, max(Tw, 0))
    ct = np.tile(np.arange(max(Tw, 0)), len(groups))
    in_cell = ct != np.repeat(base, max(Tw, 0))
    cg, ct = cg[in_cell], ct[in_cell]
    cells, order, n_ref = _cell_frame(cg, ct, anticipation)
    fit = cell_regression(s, uc, cg, ct, Tw, labels, "the Sun-Abraham regression", order,
                          n_ref)
    if fit is None:
        return None
    return cells, fit[0], fit[1], int(keep.sum())


def sun_abraham_cells(
    s: FESample, control_group: str, anticipation: int, labels: pd.Index, *,
    factored: bool = True,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | FactoredInfluence, int, list[str]]:
    """Cells, coefficients ``(k,)``, influence functions ``(n_units, k)``, the
    number of rows used and notes. Reference cells are included with 0.

    A balanced panel without covariates is fitted by cohort blocks and its
    influence functions stay factored (``factored=False`` forces the row-level
    sparse regression, the reference the block formulas are tested against)."""
    keep, notes = _control_window(s, control_group, anticipation, labels)
    fast = _cells_by_blocks(s, keep, control_group, anticipation, labels) if factored else None
    if fast is not None:
        return (*fast, notes)
    rc = s.row_cohort.copy()
    if control_group == "last_treated":
        rc[rc == s.groups[-1]] = np.inf
    T = s.n_periods
    rows = np.flatnonzero(keep)
    time, unit, w, y = s.time[rows], s.unit[rows], s.w[rows], s.y[rows]
    rc = rc[rows]
    treated_cohort = np.isfinite(rc)
    if not treated_cohort.any():
        raise EstimationError("no treated cohort is left besides the control cohort.")
    base = np.where(treated_cohort, rc - 1 - anticipation, -1)
    inter = treated_cohort & (time != base)
    code = np.where(inter, np.where(treated_cohort, rc, 0).astype(int) * T + time, -1)
    cell_codes = np.unique(code[inter])
    periods = np.unique(time)
    X = s.X[rows]
    Xd = X - unit_means(X, unit, w, s.n_units)[unit]  # slopes unchanged, better conditioned
    R = sparse.hstack([dummies(time, periods[1:]), dummies(code, cell_codes),
                       sparse.csr_matrix(Xd)]).tocsr()
    n_t, K = len(periods) - 1, len(cell_codes)
    names = ([f"period {labels[p]!s}" for p in periods[1:]]
             + [f"cohort {labels[c // T]!s} x period {labels[c % T]!s}" for c in cell_codes]
             + list(s.x_names))
    fit = within_ols(y, R, unit, w, s.n_units, names, "the Sun-Abraham regression")
    cols = np.arange(n_t, n_t + K)
    cells, order, n_ref = _cell_frame(cell_codes // T, cell_codes % T, anticipation)
    att = np.r_[fit.coef[cols], np.zeros(n_ref)]
    psi = np.hstack([fit.influence(cols), np.zeros((s.n_units, n_ref))])
    return cells, att[order], psi[:, order], len(rows), notes


class SunAbraham(Estimator):
    """Interaction-weighted event study (Sun & Abraham 2021).

    Parameters
    ----------
    control_group : {"never_treated", "last_treated"}
        The control cohort: units never treated in the panel, or the
        last-treated cohort (then periods from its start on are left out).
    anticipation : int
        Periods of anticipation: each cohort's reference period is
        ``g - 1 - anticipation``.
    covariates : sequence of str or str
        Time-varying covariates (unit-constant ones are absorbed by the unit
        effects and left out with a note). Default: none.
    fixed_shares : bool
        ``False`` (default, Sun & Abraham's variance): aggregations include the
        influence of the estimated cohort shares; ``True`` treats them as fixed.
    bootstrap : int, optional
        Multiplier-bootstrap draws; ``None``: analytic SEs.
    confidence : float
    random_state : int, Generator or None
    multiplier : {"mammen", "rademacher"}
    inference : {"cv3", "cluster_t", "cr2", "analytic"}
        Small-sample inference (see :mod:`spimpact.inference_cluster`):
        ``"cv3"`` (default) the cluster jackknife's leverage correction of the
        influence functions with ``(G-1)/G`` and t critical values on ``G-1``
        degrees of freedom; ``"cluster_t"`` the variance times ``G/(G-1)`` with
        t(G-1); ``"cr2"`` Bell-McCaffrey leverage; ``"analytic"`` no
        small-sample factor, normal critical values.

    Examples
    --------
    >>> from spimpact.simulate import pcn_rollout
    >>> from spimpact.did import SunAbraham
    >>> panel = pcn_rollout(n_pcns=60, covid=False, random_state=3).panel("wellbeing")
    >>> ev = SunAbraham().fit(panel).aggregate("event")
    >>> bool((ev.estimates["event_time"] < -1).any())
    True
    """

    def __init__(
        self,
        control_group: ControlGroup = "never_treated",
        anticipation: int = 0,
        covariates: Sequence[str] | str = (),
        fixed_shares: bool = False,
        bootstrap: int | None = None,
        confidence: float = 0.95,
        random_state: RandomState = None,
        multiplier: str = "rademacher",
        inference: str = DEFAULT_INFERENCE,
    ) -> None:
        self.control_group = control_group
        self.anticipation = anticipation
        self.covariates = covariates
        self.fixed_shares = fixed_shares
        self.bootstrap = bootstrap
        self.confidence = confidence
        self.random_state = random_state
        self.multiplier = multiplier
        self.inference = inference

    def _validate(self) -> None:
        validate_choice("control_group", self.control_group, ("never_treated", "last_treated"))
        validate_common(self)

    def fit(self, panel: Panel, *, by: str | None = None) -> GroupTimeResult:
        """Estimate the cohort x period interactions (optionally by a unit-level
        subgroup, see :func:`spimpact.did.by_subgroup`)."""
        if by is not None:
            from .subgroups import by_subgroup

            return by_subgroup(self, panel, by)  # type: ignore[return-value]
        self._validate()
        s = fe_sample(panel, self.covariates, "SunAbraham", anticipation=self.anticipation,
                      inference=self.inference)
        if len(s.groups) == 0:
            raise EstimationError("SunAbraham: no unit is treated within the panel's periods.")
        cells, att, psi, n_obs, notes = sun_abraham_cells(s, self.control_group,
                                                          self.anticipation, panel.periods)
        notes = [*s.notes, *notes]
        opts = InferenceOptions(self.confidence, self.bootstrap, self.random_state,
                                self.multiplier, share_influence=not self.fixed_shares,
                                inference=self.inference)
        method = (f"Sun-Abraham ({self.control_group.replace('_', ' ')} controls"
                  + (f", anticipation {self.anticipation}" if self.anticipation else "") + ")")
        return group_time_result(panel, s, cells, att, psi, opts, method=method, n_obs=n_obs,
                                 notes=notes)
