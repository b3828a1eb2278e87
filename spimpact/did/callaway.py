"""Callaway & Sant'Anna (2021) group-time average treatment effects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._estimator import Estimator, check_confidence
from .._formula import column_list, design_matrix
from .._logit import check_rank
from .._sample import (
    refuse_dose,
    refuse_exposure,
    refuse_general_treatment,
    require_panel,
    small_cohort_note,
)
from ..errors import EstimationError, OptionError
from ..inference import RandomState, validate_choice
from ..inference_cluster import DEFAULT_INFERENCE, check_inference, few_clusters_note, small_sample
from ..inference_roles import RowBlockLeverage, cluster_support, leverage_adjusted
from ..panel import Panel
from ._cells import plan_cells
from ._cluster_checks import cluster_notes
from ._cs_engine import CellData, estimate_cells
from .results import (
    GroupTimeResult,
    InfluenceData,
    aggregate_cells,
    assemble_group_time,
    with_bootstrap,
)

__all__ = ["CallawaySantAnna"]

ControlGroup = Literal["never_treated", "not_yet_treated"]
Method = Literal["dr", "ipw", "reg"]
BasePeriod = Literal["varying", "universal"]
WeightsAt = Literal["pair_start", "base_period", "first_period", "varying"]


@dataclass(frozen=True)
class _Sample:
    """The estimation sample: cell data plus per-unit facts for inference."""

    data: CellData
    groups: np.ndarray
    unit_w: np.ndarray
    cluster: np.ndarray | None
    n_clusters: int | None
    notes: list[str]
    unit_codes: np.ndarray


class CallawaySantAnna(Estimator):
    """Group-time ATTs for staggered adoption (Callaway & Sant'Anna 2021).

    Each ATT(g,t) compares cohort ``g`` with a comparison group between period
    ``t`` and a base period, by outcome regression, inverse-probability
    weighting or the doubly robust estimator of Sant'Anna & Zhao (2020). The
    estimates agree with R's ``did::att_gt`` (see the tests).

    Parameters
    ----------
    control_group : {"never_treated", "not_yet_treated"}
    method : {"dr", "ipw", "reg"}
    base_period : {"varying", "universal"}
    anticipation : int
        Periods of anticipation before the cohort's first treated period.
    covariates : sequence of str or str, optional
        Covariate columns (names, not a formula). ``None`` uses the
        panel's covariates; ``()`` uses none.
    bootstrap : int, optional
        Number of multiplier-bootstrap draws (e.g. 999) for SEs and uniform
        bands; ``None`` gives analytic SEs.
    confidence : float
    random_state : int, Generator or None
        Seeds the bootstrap.
    weights_at : {"pair_start", "base_period", "first_period", "varying"}
        With weights that change over time in a panel, which period's weight a
        unit carries in each 2x2 comparison: the earlier period of the pair
        (default, as R's ``did``), the cohort's base period, the first period,
        or each period its own (``"varying"``: every observation keeps its own
        weight and the cell is estimated as repeated cross-sections with
        unit-level inference). These match R ``did``'s ``fix_weights`` options.
    multiplier : {"mammen", "rademacher"}
        Bootstrap multipliers.
    inference : {"cv3", "cluster_t", "cr2", "analytic"}
        Small-sample inference (see :mod:`spimpact.inference_cluster`):
        ``"cv3"`` (default) the cluster jackknife: each cluster's treated and
        comparison influence divided by one minus its leverage, ``(G-1)/G``,
        t critical values on ``G-1`` degrees of freedom (``G`` clusters, or
        units); ``"cluster_t"`` the variance times ``G/(G-1)`` with t(G-1);
        ``"cr2"`` Bell-McCaffrey leverage; ``"analytic"`` R ``did``'s standard
        errors (no small-sample factor, normal critical values). Bootstrap SEs,
        uniform bands and aggregations use the same choice. The default differs
        from R's: it covers at nominal rates with clustered shocks and 10 to 42
        clusters where R's does not (``docs/bench_results.md``).

    Examples
    --------
    >>> from spimpact.simulate import pcn_rollout
    >>> from spimpact.did import CallawaySantAnna
    >>> panel = pcn_rollout(n_pcns=80, random_state=3).panel("wellbeing", covariates=())
    >>> res = CallawaySantAnna(control_group="not_yet_treated").fit(panel)
    >>> sorted(res.estimates.columns)[:3]
    ['ci_lower', 'ci_upper', 'estimate']
    """

    def __init__(
        self,
        control_group: ControlGroup = "never_treated",
        method: Method = "dr",
        base_period: BasePeriod = "varying",
        anticipation: int = 0,
        covariates: Sequence[str] | str | None = None,
        bootstrap: int | None = None,
        confidence: float = 0.95,
        random_state: RandomState = None,
        weights_at: WeightsAt = "pair_start",
        multiplier: str = "rademacher",
        inference: str = DEFAULT_INFERENCE,
    ) -> None:
        self.control_group = control_group
        self.method = method
        self.base_period = base_period
        self.anticipation = anticipation
        self.covariates = covariates
        self.bootstrap = bootstrap
        self.confidence = confidence
        self.random_state = random_state
        self.weights_at = weights_at
        self.multiplier = multiplier
        self.inference = inference

    def _validate(self) -> None:
        check_confidence(self.confidence)
        validate_choice("control_group", self.control_group, ("never_treated", "not_yet_treated"))
        validate_choice("method", self.method, ("dr", "ipw", "reg"))
        validate_choice("base_period", self.base_period, ("varying", "universal"))
        validate_choice("weights_at", self.weights_at,
                        ("pair_start", "base_period", "first_period", "varying"))
        validate_choice("multiplier", self.multiplier, ("mammen", "rademacher"))
        check_inference(self.inference)
        if not isinstance(self.anticipation, (int, np.integer)) or self.anticipation < 0:
            raise OptionError(f"anticipation must be a non-negative integer, not {self.anticipation!r}.")
        if self.bootstrap is not None and (
            not isinstance(self.bootstrap, (int, np.integer)) or self.bootstrap < 2
        ):
            raise OptionError(f"bootstrap must be None or an integer >= 2 (e.g. 999), not {self.bootstrap!r}.")

    # ------------------------------------------------------------------ fit
    def fit(self, panel: Panel, *, by: str | None = None) -> GroupTimeResult:
        """Estimate ATT(g,t) on ``panel`` (optionally by a unit-level subgroup).

        With ``by``, see :func:`spimpact.did.by_subgroup`.
        """
        from ..dask_panel import DaskPanel

        if isinstance(panel, DaskPanel):
            if by is not None:
                raise OptionError(f"by={by!r} on a Dask panel: subgroups are not supported there; "
                                  f"filter the Dask frame to each subgroup and fit each.")
            self._validate()
            from ._cs_dask import fit_dask

            return fit_dask(self, panel)
        if by is not None:
            from .subgroups import by_subgroup

            return by_subgroup(self, panel, by)  # type: ignore[return-value]
        self._validate()
        sample = self._sample(panel)
        plan, dropped = plan_cells(sample.groups, panel.n_periods, self.base_period,
                                   self.anticipation)
        notes = list(sample.notes)
        if dropped:
            notes.append(
                f"cohort(s) {[str(panel.periods[g]) for g in dropped]} have no pre-treatment "
                f"period (given anticipation={self.anticipation}) and were left out."
            )
        if len(plan) == 0:
            raise EstimationError(
                "no group-time effect can be estimated: every cohort lacks a pre-treatment "
                "period or a comparison group."
            )
        labels = [f"group {panel.periods[g]}, time {panel.periods[t]}"
                  for g, t in zip(plan.g, plan.t, strict=True)]
        # support counts and cv3/cr2 leverage block by block as the cells are estimated
        # (balanced panels): the dense influence matrix is then not read again
        ss = small_sample(self.inference, sample.n_clusters, len(sample.data.unit_cohort))
        inline = RowBlockLeverage(len(plan), sample.cluster, sample.unit_w,
                                  ss.kind if ss.adjusts_leverage else None)
        cells = estimate_cells(sample.data, plan, self.control_group, self.method,
                               self.anticipation, labels, on_block=inline,
                               unit_w=sample.unit_w)
        notes += cells.messages
        return self._result(panel, sample, plan, cells.att, cells.psi, notes,
                            inline if cells.blocks_seen else None)

    def _covariate_spec(self, panel: Panel) -> Sequence[str] | str:
        return panel.covariates if self.covariates is None else column_list(self.covariates)

    def _sample(self, panel: Panel) -> _Sample:
        require_panel(panel, "CallawaySantAnna.fit", "outcome=..., unit=..., time=..., cohort=...")
        refuse_exposure(panel, "CallawaySantAnna")
        refuse_dose(panel, "CallawaySantAnna")
        refuse_general_treatment(panel, "CallawaySantAnna")
        if not panel.has_cohorts:
            raise EstimationError(
                "CallawaySantAnna needs cohorts: build the Panel with cohort= (first treated "
                "period) or treatment= (0/1 indicator)."
            )
        if panel.kind not in ("panel", "repeated_cross_section"):
            raise EstimationError(
                f"CallawaySantAnna needs a panel or repeated cross-sections, not a {panel.kind}."
            )
        T = panel.n_periods
        rcs = panel.kind == "repeated_cross_section"
        us = panel.unit_sample(anticipation=self.anticipation)
        notes = list(us.notes)
        unit_cohort, sample_unit, time = us.unit_cohort, us.unit, us.rows(panel.time_codes)
        n_u = us.n_units
        if self.control_group == "never_treated" and np.isfinite(unit_cohort).all():
            raise EstimationError(
                "control_group='never_treated' but no unit is untreated throughout the data; "
                "use control_group='not_yet_treated'."
            )
        groups = us.groups
        if rcs:
            balanced = False
        elif us.all_rows:
            balanced = panel.is_balanced
        else:
            balanced = bool((np.bincount(sample_unit, minlength=n_u) == T).all())
        wide_panel = balanced and self.weights_at != "varying" and not rcs
        spec = self._covariate_spec(panel)
        x_per_unit = False
        if spec is None or (not isinstance(spec, str) and len(spec) == 0):
            X = np.broadcast_to(1.0, (len(time), 1))  # intercept only, no memory
        else:
            # the panel's own rows, read only (``panel.frame`` would copy every column)
            frame = panel._df if us.all_rows else panel._df.loc[us.row_keep]
            w_rows = us.rows(panel.w)
            first = (_unit_constant_first_rows(frame, spec, n_u, T)
                     if wide_panel and not isinstance(spec, str) else None)
            if first is not None:  # one design row per unit, not per row
                X, x_names = design_matrix(frame.iloc[first], spec)
                x_per_unit = True
                # each unit's total weight (T rows each when there are no weights)
                w_rank = (np.full(n_u, float(T)) if panel.weights is None
                          else np.bincount(sample_unit, weights=w_rows, minlength=n_u))
            else:
                X, x_names = design_matrix(frame, spec)
                w_rank = w_rows
            # collinear in every row is collinear in every cell: an error naming the term
            check_rank((X * w_rank[:, None]).T @ X, x_names, model="covariate",
                       fix="covariates=", error=EstimationError)
        small = small_cohort_note(us, panel, X.shape[1] - 1)
        if small:
            notes.append(small)
        row_cohort = None if wide_panel else us.row_cohort  # cells on rows need row cohorts
        if not rcs and not balanced and self.weights_at != "varying":
            notes.append(
                "the panel is unbalanced: each ATT(g,t) uses every unit observed in the two "
                "periods it compares (repeated cross-section estimators, unit-level inference)."
            )
        data = CellData(
            y=us.rows(panel.y), time=time, sample_unit=sample_unit,
            unit_cohort=unit_cohort, row_cohort=row_cohort, X=X, w=us.rows(panel.w),
            n_periods=T, balanced_panel=wide_panel,
            weights_at=self.weights_at, constant_weights=panel.weights is None,
            unit_time_order=not rcs,  # a Panel keeps its rows sorted by unit, then period
            x_per_unit=x_per_unit,
        )
        msg = few_clusters_note(self.inference, us.n_clusters, panel.cluster)
        if msg:
            notes.append(msg)
        return _Sample(data, groups, us.unit_w, us.cluster, us.n_clusters, notes, us.unit_codes)

    def _result(
        self, panel: Panel, s: _Sample, plan: Any, att: np.ndarray, psi: Any,
        notes: list[str], inline: RowBlockLeverage | None = None,
    ) -> GroupTimeResult:
        n = psi.shape[0]
        uc = s.data.unit_cohort
        gi_of = {g: i for i, g in enumerate(s.groups)}
        pg_group = np.array([np.sum(s.unit_w * (uc == g)) / n for g in s.groups])
        cells = pd.DataFrame({
            "g": plan.g, "t": plan.t, "base": plan.base, "post": plan.post,
            "reference": plan.reference, "gi": [gi_of[g] for g in plan.g],
        })
        cells["pg"] = pg_group[cells["gi"].to_numpy()]
        unit_group = _group_index(uc, s.groups)
        # small-sample hook: the choice of inference=, leverage-adjusted influence
        # functions for cv3/cr2 (used for SEs, bootstrap and aggregations alike)
        ss = small_sample(self.inference, s.n_clusters, n)
        # the support counts come from the unadjusted influence functions; a dense
        # matrix (built by the fit, referenced nowhere else) is then adjusted in place
        if inline is not None:  # counted and adjusted while the cells were estimated
            support, psi_inf = inline.support(), psi
        else:
            support = cluster_support(psi, s.cluster, unit_group, cells["gi"].to_numpy())
            psi_inf = (leverage_adjusted(psi, s.cluster, unit_group, s.unit_w,
                                         cells["gi"].to_numpy(), ss.kind, overwrite=True)
                       if ss.adjusts_leverage else psi)
        inf = with_bootstrap(InfluenceData(psi_inf, s.cluster, unit_group, s.unit_w,
                                           s.unit_codes, small_sample=ss),
                             self.bootstrap, multiplier=self.multiplier,
                             random_state=self.random_state)
        method = (f"Callaway-Sant'Anna ({self.method}, {self.control_group.replace('_', ' ')} "
                  f"controls, {self.base_period} base period"
                  + (f", anticipation {self.anticipation}" if self.anticipation else "") + ")")
        parts = assemble_group_time(cells, att, inf, panel.periods, confidence=self.confidence,
                                    notes=notes,
                                    info={"bootstrap": self.bootstrap or "none (analytic SEs)",
                                          "inference": ss.describe()})
        # cluster diagnostics hook: few clusters per cohort, thin comparisons, level
        parts["warnings"] = list(dict.fromkeys([*parts["warnings"], *cluster_notes(
            panel, psi, s.cluster, unit_group, s.unit_codes, cells,
            lambda: aggregate_cells(cells, att, inf, panel.periods, self.confidence,
                                    "event").psi,
            control_group=self.control_group, support=support)]))
        return GroupTimeResult(base_method=method, method=method, n_obs=len(s.data.y),
                               n_units=n, n_clusters=s.n_clusters, **parts)


def _unit_constant_first_rows(frame: pd.DataFrame, columns: Sequence[str], n_units: int,
                              T: int) -> np.ndarray | None:
    """Positions of each unit's first row when every covariate column is numeric
    and constant within units of a balanced panel kept in unit-then-period
    order (then the design needs one row per unit); ``None`` otherwise."""
    if len(frame) != n_units * T:
        return None
    for c in columns:
        if c not in frame.columns:
            return None  # design_matrix names the missing column
        v = frame[c].to_numpy()
        if not (np.issubdtype(v.dtype, np.number) or v.dtype == bool):
            return None
        v = v.reshape(n_units, T)
        if not (v == v[:, :1]).all():
            return None
    return np.arange(n_units) * T


def _group_index(unit_cohort: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Index of each unit's cohort in ``groups`` (-1 when never treated)."""
    out = np.full(len(unit_cohort), -1, dtype=np.intp)
    fin = np.isfinite(unit_cohort)
    out[fin] = np.searchsorted(groups, unit_cohort[fin].astype(int))
    return out
