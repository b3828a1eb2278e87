"""Results of the staggered DiD estimators.

:class:`GroupTimeResult` holds ATT(g,t) with their influence functions;
:meth:`GroupTimeResult.aggregate` applies the one aggregation engine and
returns an :class:`AggregateResult`. Estimators that estimate event-time
effects directly return an :class:`AggregateResult` too, so every DiD result
aggregates, summarises and plots the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from ..aggregation import (
    AggregationKind,
    DrawBasis,
    FactoredBasis,
    UnitBasis,
    aggregation_weights,
    apply_aggregation,
    check_kind,
    row_labels,
)
from ..errors import EstimationError, OptionError
from ..inference import (
    FactoredInfluence,
    MultiplierKind,
    bootstrap_summary,
    influence_se,
    multiplier_bootstrap,
    select_columns,
    wald_test,
)
from ..plotting import event_study_plot
from ..results import Estimate, Result, estimate_table
from .sensitivity import EventStudySensitivity

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "InfluenceData", "BootDraws", "with_bootstrap", "Aggregated", "aggregate_cells",
    "assemble_group_time", "GroupTimeResult", "AggregateResult", "PreTest",
]


@dataclass(frozen=True)
class PreTest:
    """Wald pre-test of parallel trends: all pre-treatment ATT(g,t) are zero."""

    statistic: float
    df: int
    p_value: float
    #: which hypothesis: the pre-treatment "group-time" cells are zero (R's
    #: pre-test), the pre-treatment "event-time" aggregates are zero, or (for
    #: subgroups) all subgroup effects are "equality"
    kind: str = "group-time"

    def __str__(self) -> str:
        what = "test of equal effects" if self.kind == "equality" else f"{self.kind} pre-test"
        return f"W = {self.statistic:.4g} on {self.df} df, p = {self.p_value:.4g} ({what})"


@dataclass(frozen=True)
class BootDraws:
    """Multiplier-bootstrap draws of the cells ``(n_boot, k)`` and of the
    weighted cohort indicators ``(n_boot, n_groups)``, with the same
    multipliers: every aggregation's draws follow linearly."""

    cells: np.ndarray
    groups: np.ndarray


@dataclass(frozen=True)
class InfluenceData:
    """What inference needs beyond the estimates: the influence functions of the
    estimated cells ``(n, k)`` and, for each sampling unit, its cluster, cohort
    index and weight; ``n`` is the number of sampling units. ``draws`` holds
    the multiplier-bootstrap draws when the estimator drew them
    (:func:`with_bootstrap`)."""

    psi: np.ndarray | FactoredInfluence
    cluster: np.ndarray | None
    unit_group: np.ndarray
    unit_w: np.ndarray
    #: position of each sampling unit among ``panel.units`` (rows for repeated
    #: cross-sections); ``None`` means all units, in order.
    unit_codes: np.ndarray | None = None
    #: whether aggregations add the influence of estimated cohort shares
    share_influence: bool = True
    #: small-sample adjustment (:class:`spimpact.inference_cluster.SmallSample`);
    #: ``None``: analytic SEs with normal critical values (R did)
    small_sample: Any = None
    draws: BootDraws | None = None
    #: units behind the rows when ``psi``'s rows are not units but sums of them
    #: (fits of Dask panels: one row per cluster and cohort); ``None``: the rows
    n_independent: int | None = None

    @property
    def n(self) -> int:
        return self.psi.shape[0]

    @property
    def n_groups(self) -> int:
        """Number of treated cohorts."""
        return max(int(self.unit_group.max()) + 1, 0) if len(self.unit_group) else 0

    def _factored_shares(self) -> bool:
        """Whether the cells are factored on cohort blocks with a weight
        column, so that share influences stay factored too."""
        f = self.psi
        return (isinstance(f, FactoredInfluence) and f.weight_col is not None
                and f.n_blocks == self.n_groups + 1)

    def unit_basis(self) -> UnitBasis | FactoredBasis:
        if self._factored_shares():
            return FactoredBasis(cast(FactoredInfluence, self.psi), self.n_groups)
        return UnitBasis(self.unit_group, self.unit_w, self.n_groups)

    def draw_basis(self) -> DrawBasis:
        assert self.draws is not None
        return DrawBasis(self.draws.groups, self.n_groups)


def with_bootstrap(
    inf: InfluenceData, n_boot: int | None, *, multiplier: str = "rademacher",
    random_state: Any = None,
) -> InfluenceData:
    """``inf`` with ``n_boot`` multiplier-bootstrap draws of the cells and of the
    weighted cohort indicators, drawn with the same multipliers so that every
    aggregation's draws follow linearly (unchanged when ``n_boot`` is None)."""
    if n_boot is None:
        return inf
    z: np.ndarray | FactoredInfluence
    G = inf.n_groups
    if inf._factored_shares():
        # the weighted cohort indicators are columns of the same basis
        f = cast(FactoredInfluence, inf.psi)
        z = f.with_coef(np.zeros((f.basis_width, G)))
        z.coef[f.weight_columns(np.arange(G)), np.arange(G)] = 1.0
    else:
        z = np.zeros((inf.n, G))
        has = inf.unit_group >= 0
        z[np.flatnonzero(has), inf.unit_group[has]] = inf.unit_w[has]
    psi = inf.psi if isinstance(inf.psi, FactoredInfluence) else _finite(inf.psi)
    cells, groups = multiplier_bootstrap(
        [psi, z], n_boot, cluster=inf.cluster, kind=cast(MultiplierKind, multiplier),
        random_state=random_state, single_precision=inf.n * inf.psi.shape[1] > 2_000_000,
    )
    # small-sample hook: draws carry the SE factor, so their spread is the reported SE
    factor = 1.0 if inf.small_sample is None else inf.small_sample.se_factor
    if factor != 1.0:
        cells, groups = cells * factor, groups * factor
    return replace(inf, draws=BootDraws(cells, groups))


def _inference_table(
    est: np.ndarray, psi: np.ndarray | FactoredInfluence, inf: InfluenceData,
    confidence: float, index: dict,
    draws: np.ndarray | None = None,
) -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray] | None, float | None]:
    """Tidy table (pointwise intervals) plus the uniform band when bootstrapped
    (``draws``: the bootstrap draws of these estimates)."""
    ss = inf.small_sample  # small-sample hook: SE factor, t df, t-scale sup-t value
    factor, df = (1.0, None) if ss is None else (ss.se_factor, ss.df)
    if draws is None:
        return estimate_table(est, factor * influence_se(psi, inf.cluster), confidence, df=df,
                              index=index), None, None
    summ = bootstrap_summary(draws, confidence)  # draws carry the factor (with_bootstrap)
    se = np.where(np.isfinite(summ.std_error) & (summ.std_error > 0), summ.std_error, np.nan)
    table = estimate_table(est, se, confidence, df=df, index=index)
    crit = summ.crit_uniform if ss is None else ss.uniform_critical_value(summ.crit_uniform)
    band = (est - crit * se, est + crit * se)
    return table, band, crit


_BAND_DOC = "The simultaneous band (``ci_lower``/``ci_upper`` columns), if bootstrapped."
_CRIT_DOC = "Sup-t critical value of the simultaneous band, if bootstrapped."


def _band_frame(result: Result, band: tuple[np.ndarray, np.ndarray] | None
                ) -> pd.DataFrame | None:
    """A result's simultaneous band as ``ci_lower``/``ci_upper`` columns."""
    if band is None:
        return None
    out = result.estimates[result.id_columns]
    out["ci_lower"], out["ci_upper"] = band
    return out


class AggregateResult(EventStudySensitivity, Result):
    """An aggregation of group-time effects (or an estimator's own event study).

    ``.estimates`` is indexed by ``group``, ``event_time`` or ``time``
    (with ``subgroup`` first when estimated by subgroup); ``.overall`` is the
    summary (R's ``overall.att``). When bootstrapped, ``.uniform_band`` holds the
    simultaneous band and ``.crit_uniform`` its critical value.
    """

    def __init__(
        self,
        estimates: pd.DataFrame,
        *,
        kind: str,
        psi: np.ndarray | FactoredInfluence | None = None,
        uniform_band: tuple[np.ndarray, np.ndarray] | None = None,
        crit_uniform: float | None = None,
        boot_draws: tuple[np.ndarray, np.ndarray] | None = None,
        cluster: np.ndarray | None = None,
        vcov_scale: float = 1.0,
        **kwargs: Any,
    ) -> None:
        self._kind = kind
        self._psi = psi
        self._cluster = cluster
        self._vcov_scale = vcov_scale  # the small-sample factor on the variances
        self._band = uniform_band
        self._crit = crit_uniform
        #: bootstrap draws of ``theta* - theta_hat``: rows ``(n_boot, m)``, overall ``(n_boot,)``
        self._boot = boot_draws
        super().__init__(estimates, **kwargs)

    def draws(self, target: Any = "overall", *, n_draws: int = 4000,
              random_state: Any = None) -> np.ndarray:
        """Bootstrap draws of the overall effect or of one row (e.g. an event
        time): ``estimate + (theta* - theta_hat)`` from the fit's multiplier
        bootstrap, so their interquartile range gives the reported SE. Without
        a bootstrap, parametric normal draws (see :meth:`Result.draws`)."""
        if self._boot is None:
            return super().draws(target, n_draws=n_draws, random_state=random_state)
        rows, overall = self._boot
        if isinstance(target, str) and target == "overall":
            if self._overall is None:
                raise OptionError("this aggregation has no overall estimate.")
            return self._overall.estimate + np.asarray(overall, dtype=float).reshape(-1)
        i = self._target_row(target)
        return float(self._estimates["estimate"].iloc[i]) + np.asarray(rows)[:, i].astype(float)

    @property
    def kind(self) -> str:
        """``"simple"``, ``"group"``, ``"event"`` or ``"calendar"``."""
        return self._kind

    uniform_band = property(lambda self: _band_frame(self, self._band),
                            doc=_BAND_DOC)
    crit_uniform = property(lambda self: self._crit, doc=_CRIT_DOC)

    @property
    def influence(self) -> np.ndarray | None:
        """Influence functions of the rows of ``.estimates`` (``(n_units, m)``)."""
        if self._psi is None:
            return None
        return self._psi.dense() if isinstance(self._psi, FactoredInfluence) else self._psi.copy()

    @property
    def vcov(self) -> np.ndarray | None:
        """Covariance of the rows of ``.estimates`` from their influence functions
        (clustered as in the fit; analytic even when the intervals are
        bootstrapped). Used by :meth:`honest_bounds` and :meth:`pretrend_power`."""
        if self._psi is None:
            return None
        from ..inference import influence_vcov

        # factored too; with the fit's small-sample factor, so that the diagonal
        # gives the reported standard errors
        return self._vcov_scale * influence_vcov(cast(np.ndarray, self._psi), self._cluster)

    def plot(self, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Event-study plot (event time) or point-and-interval plot (others),
        with the uniform band shaded when bootstrapped."""
        if "event_time" not in self._estimates.columns:
            return super().plot(ax=ax, **kwargs)
        kwargs.setdefault("title", self.method)
        tab = self._estimates
        if "subgroup" in tab.columns:
            from ..plotting import get_ax

            ax = get_ax(ax)
            levels = list(dict.fromkeys(tab["subgroup"]))
            for i, lev in enumerate(levels):
                sub = tab[tab["subgroup"] == lev]
                event_study_plot(sub, ax=ax, label=str(lev), offset=0.1 * (i - len(levels) / 2),
                                 color=f"C{i}", title=kwargs.get("title", ""))
            return ax
        return event_study_plot(tab, ax=ax, uniform=self._band, **kwargs)


@dataclass(frozen=True)
class Aggregated:
    """One aggregation of the cells: its table, uniform band, overall summary
    and the influence functions of its rows."""

    table: pd.DataFrame
    band: tuple[np.ndarray, np.ndarray] | None
    crit: float | None
    overall: Estimate
    psi: np.ndarray | FactoredInfluence
    #: bootstrap draws of ``theta* - theta_hat`` of the rows and of the overall
    draws: tuple[np.ndarray, np.ndarray] | None = None


def aggregate_cells(
    cells: pd.DataFrame, att: np.ndarray, inf: InfluenceData, periods: pd.Index,
    confidence: float, kind: str, *, min_event: int | None = None,
    max_event: int | None = None, balance_event: int | None = None,
) -> Aggregated:
    """Summarise ATT(g,t) by the weights of :func:`spimpact.aggregation.aggregation_weights`,
    applied to the estimates, the influence functions and the bootstrap draws."""
    kind = check_kind(kind)
    ok = np.isfinite(att) & ~cells["reference"].to_numpy()
    agg = aggregation_weights(cells.loc[ok].reset_index(drop=True), cast(AggregationKind, kind),
                              min_event=min_event, max_event=max_event,
                              balance_event=balance_event, n_periods=len(periods))
    # weights over every cell (zero where not estimated): no copy of psi
    W = np.zeros((agg.weights.shape[0], len(ok)))
    W[:, ok] = agg.weights
    agg = replace(agg, weights=W)
    if not inf.share_influence:
        agg = replace(agg, shares=np.zeros_like(agg.shares), overall_shares=False)
    att = np.where(ok, att, 0.0)
    pg, gi = cells["pg"].to_numpy(), cells["gi"].to_numpy()
    est, psi_rows, overall, psi_overall = apply_aggregation(agg, att, inf.psi, pg, gi,
                                                            inf.unit_basis())
    d_rows = d_overall = None
    if inf.draws is not None:
        _, d_rows, _, d_overall = apply_aggregation(agg, att, inf.draws.cells, pg, gi,
                                                    inf.draw_basis())
    table, band, crit = _inference_table(est, psi_rows, inf, confidence,
                                         row_labels(agg.labels, periods), d_rows)
    if kind == "simple":
        table, band = table.iloc[:0], None
    o_tab, _, _ = _inference_table(np.array([overall]), psi_overall, inf, confidence, {},
                                   d_overall)
    over = Estimate.from_row(o_tab.iloc[0], confidence, label=f"overall ({kind})")
    boot = None if d_rows is None else (np.asarray(d_rows), np.asarray(d_overall))
    return Aggregated(table, band, crit, over, psi_rows, boot)


def _finite(psi: np.ndarray) -> np.ndarray:
    """``psi`` with non-finite entries as zeros; ``psi`` itself (no copy of a
    units x cells matrix) when every entry is finite, checked a few columns at
    a time."""
    psi = np.asarray(psi)
    if psi.ndim == 2 and all(np.isfinite(psi[:, c : c + 16]).all()
                             for c in range(0, psi.shape[1], 16)):
        return psi
    return np.nan_to_num(psi)


def assemble_group_time(
    cells: pd.DataFrame, att: np.ndarray, inf: InfluenceData, periods: pd.Index, *,
    confidence: float, notes: list[str], pretest: PreTest | None | str = "cells",
    pretest_text: str | None = None, info: dict | None = None,
) -> dict[str, Any]:
    """Everything a :class:`GroupTimeResult` holds, computed once: the table of
    ATT(g,t) (NaN where a cell could not be estimated, 0 at reference cells),
    the uniform band, the overall (simple) summary and the pre-test.

    ``pretest="cells"`` computes the Wald pre-test of the pre-treatment cells
    (with the event-time fallback of :func:`pretest_from`); otherwise the
    given test (or ``None``) is kept, described by ``pretest_text``.
    Returns the result's keyword arguments.
    """
    ref = cells["reference"].to_numpy(dtype=bool)
    est = np.where(ref, np.nan, att)
    psi = inf.psi if isinstance(inf.psi, FactoredInfluence) else _finite(inf.psi)
    index = {"group": [periods[g] for g in cells["g"]],
             "time": [periods[t] for t in cells["t"]]}
    table, band, crit = _inference_table(np.nan_to_num(est), psi, inf, confidence, index,
                                         None if inf.draws is None else inf.draws.cells)
    table.loc[~np.isfinite(est), ["estimate", "std_error", "ci_lower", "ci_upper",
                                  "p_value"]] = np.nan
    table.loc[ref, "estimate"] = 0.0
    try:
        overall: Estimate | None = aggregate_cells(cells, att, inf, periods, confidence,
                                                   "simple").overall
    except EstimationError:
        overall = None
    notes = list(notes)
    if isinstance(pretest, str):
        pre = ~cells["post"].to_numpy(dtype=bool) & ~ref
        pretest, note = pretest_from(
            est, inf.psi, pre, inf.cluster,
            fallback=lambda: aggregate_cells(cells, att, inf, periods, confidence, "event"),
            n_units=inf.n_independent)
        if note:
            notes.append(note)
    info = dict(info or {})
    info["pre-test"] = pretest_text or (str(pretest) if pretest else "none")
    return dict(estimates=table, cells=cells, att=att, influence=inf, periods=periods,
                pretest=pretest, overall=overall, uniform_band=band, crit_uniform=crit,
                confidence=confidence, warnings=notes, info=info)


class GroupTimeResult(EventStudySensitivity, Result):
    """Group-time average treatment effects ATT(g,t) with influence functions.

    ``.estimates`` has ``group, time, estimate, std_error, ci_lower, ci_upper,
    p_value`` in the panel's own labels; ``.pretest`` is the Wald pre-test of
    parallel trends; ``.aggregate(kind)`` summarises. ``.overall`` is the
    simple aggregation. Built from :func:`assemble_group_time`.
    """

    def __init__(
        self,
        estimates: pd.DataFrame,
        *,
        cells: pd.DataFrame,
        att: np.ndarray,
        influence: InfluenceData,
        periods: pd.Index,
        pretest: PreTest | None,
        base_method: str,
        uniform_band: tuple[np.ndarray, np.ndarray] | None = None,
        crit_uniform: float | None = None,
        **kwargs: Any,
    ) -> None:
        self._cells = cells.reset_index(drop=True)
        self._att = np.asarray(att, dtype=float)
        self._inf = influence
        self._periods = periods
        self._pretest = pretest
        self._base_method = base_method
        self._band = uniform_band
        self._crit = crit_uniform
        super().__init__(estimates, **kwargs)

    @property
    def pretest(self) -> PreTest | None:
        """Wald pre-test of parallel trends (``None`` without pre-periods)."""
        return self._pretest

    uniform_band = property(lambda self: _band_frame(self, self._band),
                            doc=_BAND_DOC)
    crit_uniform = property(lambda self: self._crit, doc=_CRIT_DOC)

    @property
    def influence(self) -> np.ndarray:
        """Influence functions of the estimated cells (``(n_units, k)``; with
        ``inference="cv3"`` or ``"cr2"``, leverage-adjusted as used for inference).
        Fits of Dask panels keep them on the workers: an
        :class:`~spimpact.errors.EstimationError` there."""
        psi = self._inf.psi
        if self._inf.n_independent is not None:
            raise EstimationError(
                "this fit of a Dask panel holds sums of the units' influence functions (by "
                "cluster and cohort), not each unit's: fit an in-memory Panel for them.")
        return psi.dense() if isinstance(psi, FactoredInfluence) else psi.copy()

    def aggregate(
        self,
        kind: str = "event",
        *,
        min_event: int | None = None,
        max_event: int | None = None,
        balance_event: int | None = None,
    ) -> AggregateResult:
        """Summarise ATT(g,t) by weights: ``"simple"``, ``"group"``, ``"event"``
        or ``"calendar"`` (R ``did::aggte`` types ``simple``, ``group``,
        ``dynamic``, ``calendar``).

        Examples
        --------
        >>> import spimpact as sp
        >>> from spimpact.did import CallawaySantAnna
        >>> from spimpact.simulate import pcn_rollout
        >>> panel = pcn_rollout(n_pcns=60, never_share=0.15, random_state=1).panel("wellbeing")
        >>> ev = CallawaySantAnna().fit(panel).aggregate("event")
        >>> "event_time" in ev.estimates.columns
        True
        """
        kind = check_kind(kind)
        a = aggregate_cells(self._cells, self._att, self._inf, self._periods, self.confidence,
                            kind, min_event=min_event, max_event=max_event,
                            balance_event=balance_event)
        return AggregateResult(
            kind=kind, psi=a.psi, uniform_band=a.band, crit_uniform=a.crit, boot_draws=a.draws,
            cluster=self._inf.cluster,
            vcov_scale=1.0 if self._inf.small_sample is None
            else self._inf.small_sample.se_factor ** 2,
            **self._replace(estimates=a.table, overall=a.overall,
                            method=f"{self._base_method}, {kind} aggregation"),
        )

    def draws(self, target: Any = "overall", *, n_draws: int = 4000,
              random_state: Any = None) -> np.ndarray:
        """Bootstrap draws (with ``bootstrap=``) of the overall ATT
        (``"overall"``, the simple aggregation), of one ATT(g,t)
        (``(group, time)``) or of an event-time effect (an integer event time).
        Without a bootstrap, parametric normal draws (see :meth:`Result.draws`).

        Examples
        --------
        >>> from spimpact.did import CallawaySantAnna
        >>> from spimpact.simulate import pcn_rollout
        >>> panel = pcn_rollout(n_pcns=60, random_state=1).panel("wellbeing", covariates=())
        >>> res = CallawaySantAnna(bootstrap=199, random_state=0).fit(panel)
        >>> res.draws().shape, res.draws(0).shape
        ((199,), (199,))
        """
        if isinstance(target, str) and target == "overall":
            return self.aggregate("simple").draws("overall", n_draws=n_draws,
                                                  random_state=random_state)
        if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
            return self.aggregate("event").draws(int(target), n_draws=n_draws,
                                                 random_state=random_state)
        if self._inf.draws is None:
            return super().draws(target, n_draws=n_draws, random_state=random_state)
        i = self._target_row(target)
        return float(self._estimates["estimate"].iloc[i]) + \
            np.asarray(self._inf.draws.cells)[:, i].astype(float)

    def _event_study_result(self) -> AggregateResult:
        """The event study used by the sensitivity analyses."""
        return self.aggregate("event")

    def plot(self, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """The event study (``.aggregate("event").plot()``)."""
        return self.aggregate("event").plot(ax=ax, **kwargs)


#: The group-time Wald pre-test is used while its variance matrix is this well
#: conditioned and it has at most one cell per this many clusters (or units);
#: otherwise the pre-treatment event-time estimates are tested instead.
PRETEST_MIN_RCOND = 1e-8
PRETEST_UNITS_PER_CELL = 10


def pretest_from(
    att: np.ndarray, psi: np.ndarray | FactoredInfluence, pre: np.ndarray, cluster: Any,
    fallback: Any = None, n_units: int | None = None,
) -> tuple[PreTest | None, str | None]:
    """Wald pre-test that every pre-treatment ATT(g,t) is zero.

    With many pre-treatment cells relative to the number of clusters, their
    estimated variance matrix is near-singular and the test is meaningless
    (its statistic explodes); then ``fallback`` (a callable returning the
    event-time aggregation) supplies the pre-treatment event-time estimates,
    which are tested instead, and a note says so. ``n_units``: the units
    behind an unclustered ``psi`` whose rows are sums of units.
    """
    from ..inference import influence_vcov

    sel = pre & np.isfinite(att)
    if not sel.any():
        return None, ("no pre-treatment periods: the parallel-trends pre-test cannot be "
                      "computed (add earlier periods to test it).")
    V = influence_vcov(psi, cluster, columns=sel)
    n_indep = ((n_units or psi.shape[0]) if cluster is None else int(np.max(cluster)) + 1)
    ok_diag = np.diag(V) > 0
    Vs = V[np.ix_(ok_diag, ok_diag)]
    rcond = 1.0 / np.linalg.cond(Vs) if Vs.size else 0.0
    if (rcond >= PRETEST_MIN_RCOND and sel.sum() * PRETEST_UNITS_PER_CELL <= n_indep) or (
        fallback is None
    ):
        stat, df, p = wald_test(att[sel], V)
        return PreTest(stat, df, p), None
    ev = fallback()
    tab = ev.table
    pre_e = (tab["event_time"] < 0).to_numpy() & tab["std_error"].notna().to_numpy()
    if not pre_e.any():
        return None, "no pre-treatment event times to test."
    stat, df, p = wald_test(tab["estimate"].to_numpy()[pre_e],
                            influence_vcov(select_columns(ev.psi, pre_e), cluster))
    note = (f"{int(sel.sum())} pre-treatment ATT(g,t) cells are too many for "
            f"{n_indep} {'clusters' if cluster is not None else 'units'} (their variance "
            f"matrix is near-singular): the pre-test uses the pre-treatment event-time "
            f"estimates instead.")
    return PreTest(stat, df, p, kind="event-time"), note
