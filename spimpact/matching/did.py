"""Matched difference-in-differences: from a raw patient panel to an event study.

One documented path (see the user guide, "Matched DiD"):

1. :func:`match_cohort` takes a longitudinal panel (patients by month, with
   the referral month as ``cohort``; never-referred patients have none). For
   every referral month ``g`` it forms the patients referred in ``g`` and, as
   candidate controls, the never-referred patients observed in every month of
   the window ``[g - pre_periods, g + post_periods)``. Each candidate carries
   its covariates in month ``g - 1``, its outcomes in the ``lags`` months
   before ``g`` and its mean outcome over the ``pre_periods`` months before
   ``g``. Referred patients are matched to candidates with
   :class:`~spimpact.matching.PropensityScoreMatching`: exactly on the index
   month, and without replacement *across* index months (a patient is a
   control at most once).
2. The returned :class:`MatchedCohort` holds the matching result (balance
   table, love plot, overlap plot) and the matched patients' rows in their
   window, re-indexed in event time (``event_time`` = months since the
   matched set's index month) as a :class:`~spimpact.Panel`: referred
   patients form one cohort treated from event time 0, matched controls are
   never treated, weights are the matching weights, clusters the matched sets.
3. :meth:`MatchedCohort.event_study` hands that panel to a staggered-DiD
   estimator of :mod:`spimpact.did` (default: Callaway & Sant'Anna with the
   never-treated comparison and a universal base period, event time -1) and
   returns its event-study aggregation. Because every control enters in the
   calendar months of its own matched set, seasonality and secular trends are
   differenced out set by set, and matching on pre-period outcomes does not
   misalign controls matched at different index months.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._formula import covariate_formula
from .._sample import refuse_dose, refuse_general_treatment
from .._warn import warn
from ..errors import DataWarning, EstimationError, OptionError
from ..panel import Panel
from .psm import PropensityScoreMatching
from .results import MatchingResult

__all__ = ["match_cohort", "MatchedCohort"]

_ADDED = ("match_id", "weight", "event_time", "index_period", "index_cohort", "stack_unit")


@dataclass(frozen=True)
class _Windows:
    """Candidate (unit, index period) pairs and the panel rows of their windows."""

    units: np.ndarray  # (n,) unit codes
    index: np.ndarray  # (n,) index period positions
    treated: np.ndarray  # (n,) 0/1
    rows: np.ndarray  # (n, pre + post) panel row of each window month
    notes: list[str]


def _window_rows(keys: np.ndarray, n_periods: int, units: np.ndarray, index: np.ndarray,
                 pre: int, post: int) -> np.ndarray:
    """Row of each (unit, index + offset) for offsets ``-pre .. post-1``; ``-1``
    where that month is not observed. ``keys`` = unit * n_periods + period of
    every row, sorted (a Panel's row order)."""
    offsets = np.arange(-pre, post)
    t = index[:, None] + offsets[None, :]
    q = units[:, None].astype(np.int64) * n_periods + t
    pos = np.searchsorted(keys, q)
    hit = (t >= 0) & (t < n_periods) & (pos < len(keys))
    hit &= keys[np.clip(pos, 0, len(keys) - 1)] == q
    return np.where(hit, pos, -1)


def _control_index(panel: Panel, column: str) -> np.ndarray:
    """Period position of each unit's own index date in ``column`` (``-1`` when
    missing or outside the panel's periods)."""
    values = panel.frame[column]
    per_unit = pd.Series(panel.unit_values(values.to_numpy()))
    back = per_unit.to_numpy()[panel.unit_codes]
    same = (pd.Series(back) == values.reset_index(drop=True)) | values.isna().to_numpy()
    if not same.all():
        raise OptionError(f"control_index column {column!r} must be constant within each unit "
                          f"(each comparison unit's own index period).")
    periods = pd.Index(panel.periods)
    pos = periods.get_indexer(pd.Index(per_unit))
    if (pos < 0).all() and per_unit.notna().any():  # e.g. strings against Periods
        pos = pd.Index(periods.astype(str)).get_indexer(pd.Index(per_unit.astype(str)))
    return np.where(per_unit.isna().to_numpy(), -1, pos)


def _windows(panel: Panel, pre: int, post: int, control_index: str | None,
             controls: str = "never") -> _Windows:
    """Referred units with a full window, and never-referred candidates for each
    of their index periods (one loop over index periods, vectorised over units);
    with ``controls="not_yet"`` also units first treated after the window."""
    T = panel.n_periods
    keys = panel.unit_codes.astype(np.int64) * T + panel.time_codes
    us = panel.unit_sample()  # late cohorts: not referred in the window; early: set aside
    c = np.full(panel.n_units, np.nan)
    c[us.unit_codes] = us.unit_cohort
    notes: list[str] = list(us.notes)
    treated = np.isfinite(c)
    tu = np.flatnonzero(treated)
    tg = c[tu].astype(np.intp)
    rows = _window_rows(keys, T, tu, tg, pre, post)
    full = (rows >= 0).all(axis=1)
    dropped = int(treated.sum()) - int(full.sum())
    if dropped:
        notes.append(
            f"{dropped} of {int(treated.sum())} treated units are not observed in every period "
            f"of their window ({pre} periods before to {post - 1} after the index period, "
            f"inside the data) and were left out; shorten pre_periods/post_periods to keep "
            f"them."
        )
    tu, tg, rows = tu[full], tg[full], rows[full]
    if len(tu) == 0:
        raise EstimationError(
            f"no treated unit is observed over its whole window ({pre} periods before its "
            f"index period to {post - 1} after); lower pre_periods or post_periods."
        )
    never = np.flatnonzero(np.isposinf(c))
    later = np.flatnonzero(treated)  # first treated inside the data: not yet at earlier indexes
    if len(never) == 0 and (controls == "never" or len(later) == 0):
        raise EstimationError(
            "match_cohort needs never-treated units (a missing cohort) as controls, and the "
            "panel has none; with controls='not_yet' units treated after a window are "
            "candidates too."
        )
    parts_u, parts_g, parts_r = [tu], [tg], [rows]
    own = None if control_index is None else _control_index(panel, control_index)[never]
    for g in np.unique(tg):  # one pass per index period
        pool = never if own is None else never[own == g]
        if controls == "not_yet":  # untreated over the whole window [g - pre, g + post)
            pool = np.r_[pool, later[c[later] >= g + post]]
        r = _window_rows(keys, T, pool, np.full(len(pool), g), pre, post)
        ok = (r >= 0).all(axis=1)
        parts_u.append(pool[ok])
        parts_g.append(np.full(int(ok.sum()), g, dtype=np.intp))
        parts_r.append(r[ok])
    d = np.r_[np.ones(len(tu), np.int8), np.zeros(sum(len(u) for u in parts_u[1:]), np.int8)]
    return _Windows(np.concatenate(parts_u), np.concatenate(parts_g), d,
                    np.concatenate(parts_r), notes)


def _stacked_frame(panel: Panel, win: _Windows, pre: int, lags: int,
                   covariates: tuple[str, ...]) -> tuple[pd.DataFrame, list[str]]:
    """One row per candidate: covariates at index - 1, lagged and mean pre-period
    outcomes, the mean outcome over the post window, the index period."""
    y = np.asarray(panel.y)
    before = win.rows[:, pre - 1]  # the row of month index - 1
    frame = panel.frame
    out = frame.iloc[before][list(covariates)].reset_index(drop=True)
    Y = y[win.rows]
    names = [f"{panel.outcome}_lag{j}" for j in range(1, lags + 1)]
    for j, name in enumerate(names, start=1):
        out[name] = Y[:, pre - j]
    mean_name = f"{panel.outcome}_pre_mean"
    out[mean_name] = Y[:, :pre].mean(axis=1)
    clash = [c for c in [*names, mean_name] if c in covariates]
    if clash:
        raise OptionError(f"covariate {clash[0]!r} clashes with the pre-period outcome "
                          f"columns match_cohort adds; rename it.")
    out["post_mean"] = Y[:, pre:].mean(axis=1)
    out["index_period"] = np.asarray([str(p) for p in panel.periods], dtype=object)[win.index]
    out["index_treated"] = win.treated.astype(int)
    if panel.weights is not None:
        out["_weight"] = np.asarray(panel.w)[before]
    return out, [*names, mean_name]


@dataclass(frozen=True)
class MatchedCohort:
    """A matched longitudinal cohort (see :func:`match_cohort`).

    Attributes
    ----------
    matching : MatchingResult
        The matching at the index period, one row per referred unit or
        candidate control and index period: balance table, love plot, overlap
        plot. Its ``overall`` compares mean outcomes over the post window
        (a matched cross-sectional contrast, before any differencing).
    data : DataFrame
        The matched units' rows in their windows, with ``match_id``,
        ``weight``, ``index_period``, ``event_time`` (periods since the
        matched set's index period) and ``index_cohort`` (0 for treated units,
        missing for matched controls).
    panel : Panel
        ``data`` as a Panel in event time (time ``event_time``, cohort
        ``index_cohort``, weights ``weight``, cluster ``match_id`` or the
        panel's cluster), ready for :mod:`spimpact.did`.
    pre_periods, post_periods : int
    notes : tuple of str
        Units left out and why.
    """

    matching: MatchingResult
    data: pd.DataFrame
    panel: Panel
    pre_periods: int
    post_periods: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    def event_study(
        self, estimator: Any = None, *, min_event: int | None = None,
        max_event: int | None = None,
    ) -> Any:
        """Effects by period since the index, from a :mod:`spimpact.did` estimator.

        Parameters
        ----------
        estimator : spimpact.did estimator, optional
            Default ``CallawaySantAnna(control_group="never_treated",
            base_period="universal", covariates=())``: each event time compared
            with event time -1, treated units against their weighted matched
            controls. Any estimator whose result has ``aggregate("event")``
            (``SunAbraham``, ``Imputation``, ``TwoStage``) can be passed.
        min_event, max_event : int, optional
            Event times to report (default: the whole window).

        Returns
        -------
        AggregateResult
            ``.estimates`` by ``event_time``, ``.overall`` (average effect over
            the event times from 0 on), ``.plot()``.

        Examples
        --------
        >>> from spimpact.simulate import patient_cohort
        >>> sim = patient_cohort(n_patients=3000, n_practices=10, random_state=1)
        >>> mc = match_cohort(sim.long_panel(), pre_periods=6, post_periods=6, lags=2)
        >>> es = mc.event_study()
        >>> int(es.estimates["event_time"].min()), int(es.estimates["event_time"].max())
        (-6, 5)
        """
        if estimator is None:
            from ..did import CallawaySantAnna

            estimator = CallawaySantAnna(control_group="never_treated",
                                         base_period="universal", covariates=())
        if not hasattr(estimator, "fit"):
            raise OptionError(f"estimator must be a spimpact.did estimator such as "
                              f"CallawaySantAnna(), not {type(estimator).__name__}.")
        fit = estimator.fit(self.panel)
        if not hasattr(fit, "aggregate"):
            raise OptionError(f"{type(estimator).__name__} gives no event-study aggregation; "
                              f"use CallawaySantAnna, SunAbraham, Imputation or TwoStage.")
        return fit.aggregate("event", min_event=min_event, max_event=max_event)


def _check_args(panel: Panel, matcher: Any, pre: Any, post: Any, lags: Any,
                cluster: Any) -> PropensityScoreMatching:
    matcher = PropensityScoreMatching() if matcher is None else matcher
    if not isinstance(matcher, PropensityScoreMatching):
        raise OptionError("matcher must be a PropensityScoreMatching instance.")
    if matcher.estimand != "ATT" or matcher.replace:
        raise OptionError(
            "match_cohort matches each treated unit to never-treated ones without "
            "replacement (so every control has one index period): use estimand='ATT' and "
            "replace=False."
        )
    for name, v, low in (("pre_periods", pre, 1), ("post_periods", post, 1), ("lags", lags, 0)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise OptionError(f"{name} must be an integer >= {low}, not {v!r}.")
    if lags > pre:
        raise OptionError(f"lags={lags} cannot exceed pre_periods={pre}.")
    if cluster not in ("match_id", "panel"):
        raise OptionError(f"cluster must be 'match_id' or 'panel', not {cluster!r}.")
    if cluster == "panel" and panel.cluster is None:
        raise OptionError("cluster='panel' needs a Panel built with cluster=...")
    if isinstance(panel, Panel):
        refuse_general_treatment(panel, "match_cohort")
    if not isinstance(panel, Panel) or panel.kind != "panel" or not panel.has_cohorts:
        raise EstimationError(
            "match_cohort needs a unit-by-period Panel with cohort= (the index period) or "
            "treatment=; for one row per unit use PropensityScoreMatching directly."
        )
    refuse_dose(panel, "match_cohort")
    clash = [c for c in (*_ADDED, "post_mean", "index_treated", "_weight")
             if c in panel.frame.columns]
    if clash:
        raise EstimationError(f"the panel has a column {clash[0]!r}, which the matched data "
                              f"adds; rename it.")
    return matcher


def match_cohort(
    panel: Panel,
    matcher: PropensityScoreMatching | None = None,
    *,
    pre_periods: int = 12,
    post_periods: int = 12,
    lags: int = 3,
    covariates: Sequence[str] | None = None,
    control_index: str | None = None,
    cluster: Literal["match_id", "panel"] = "match_id",
    controls: Literal["never", "not_yet"] = "never",
) -> MatchedCohort:
    """Match treated units to never-treated (or not-yet-treated) ones at each
    index period.

    Parameters
    ----------
    panel : Panel
        Unit-by-period panel with ``cohort=`` (the index period, e.g. the
        referral month; missing for never-treated units) or ``treatment=``.
    matcher : PropensityScoreMatching, optional
        Matching settings (default ``PropensityScoreMatching()``: 1:1, caliper
        0.2 SD); must target the ATT without replacement. ``index_period`` is
        added to its exact-matching columns. Without ``ps_formula`` the
        propensity model has main effects of the covariates, the ``lags``
        lagged outcomes and the pre-period mean outcome.
    pre_periods : int
        Periods before the index that every unit must be observed in, over
        which the pre-period mean is taken (and the event study starts).
    post_periods : int
        Periods from the index on that every unit must be observed in.
    lags : int
        Individual lagged outcomes (periods ``index - 1`` ... ``index - lags``)
        to match on, besides the pre-period mean.
    covariates : sequence of str, optional
        Covariates, taken in period ``index - 1``; default the panel's (less
        ``control_index``).
    control_index : str, optional
        A panel covariate holding each never-treated unit's own index period
        (e.g. a pseudo-index date drawn for comparison patients, as in cohort
        studies on primary-care records); each is then a candidate only at
        that period. By default every never-treated unit observed over the
        window is a candidate at every index period (and used at most once).
        Use it when "never treated" was decided over a unit's own window: a
        control compared at another period carries outcomes selected by that
        decision into the comparison (see the user guide).
    cluster : {"match_id", "panel"}
        Clusters of the event-study panel: the matched sets (default), or the
        panel's own cluster column (e.g. practices).
    controls : {"never", "not_yet"}
        Candidate controls at index period ``g``: never-treated units
        (default), or also units first treated at ``g + post_periods`` or
        later, i.e. untreated over the whole window (later-referred patients).
        A unit can then be a control at one index period and treated at its
        own; the matched panel's unit is then ``stack_unit`` (the unit and its
        index period), so its two windows are separate units. Each unit is a
        control at most once.

    Returns
    -------
    MatchedCohort

    Examples
    --------
    >>> from spimpact.simulate import patient_cohort
    >>> sim = patient_cohort(n_patients=3000, n_practices=10, random_state=2)
    >>> mc = match_cohort(sim.long_panel(), pre_periods=6, post_periods=6, lags=2)
    >>> mc.panel.kind, bool(mc.data["match_id"].nunique() > 100)
    ('panel', True)
    """
    matcher = _check_args(panel, matcher, pre_periods, post_periods, lags, cluster)
    if controls not in ("never", "not_yet"):
        raise OptionError(f"controls must be 'never' or 'not_yet', not {controls!r}.")
    pre, post = int(pre_periods), int(post_periods)
    if control_index is not None and control_index not in panel.covariates:
        raise OptionError(f"control_index={control_index!r} must be one of the panel's "
                          f"covariates {list(panel.covariates)}; add it to "
                          f"Panel(covariates=[...]).")
    covs = tuple(c for c in (panel.covariates if covariates is None else covariates)
                 if c != control_index)
    missing = [c for c in covs if c not in panel.frame.columns]
    if missing:
        raise OptionError(f"covariate {missing[0]!r} is not a column of the panel; add it to "
                          f"Panel(covariates=[...]).")
    win = _windows(panel, pre, post, control_index, controls)
    stacked, outcome_covs = _stacked_frame(panel, win, pre, int(lags), covs)
    sp = Panel(stacked, outcome="post_mean", treatment="index_treated",
               covariates=[*covs, *outcome_covs, "index_period"],
               weights="_weight" if panel.weights is not None else None)
    exact = [matcher.exact] if isinstance(matcher.exact, str) else list(matcher.exact or [])
    settings = matcher.get_params(deep=False)
    settings["exact"] = list(dict.fromkeys([*exact, "index_period"]))
    if settings["ps_formula"] is None:
        settings["ps_formula"] = covariate_formula(stacked, [*covs, *outcome_covs])
    for note in win.notes:  # units set aside are counted, never dropped silently
        warn(note, DataWarning)
    result = PropensityScoreMatching(**settings)._fit(sp, group=win.units)
    return _assemble(panel, result, win, pre, post, cluster, covs, controls == "not_yet")


def _assemble(panel: Panel, result: MatchingResult, win: _Windows, pre: int, post: int,
              cluster: str, covariates: tuple[str, ...], stack: bool = False) -> MatchedCohort:
    """The matched units' window rows in event time, and their Panel."""
    w = result.weights.to_numpy()  # one per candidate row (index = stacked row number)
    cand = np.flatnonzero(w > 0)
    matched = result.matched  # without replacement: each candidate row at most once
    set_of = pd.Series(matched["match_id"].to_numpy(), index=matched.index)
    rows = win.rows[cand]  # (m, pre + post)
    data = panel.frame.iloc[rows.ravel()].copy()
    k = pre + post
    data["match_id"] = np.repeat(set_of.loc[cand].to_numpy(), k)
    data["weight"] = np.repeat(w[cand], k)
    data["index_period"] = np.repeat(np.asarray(panel.periods, dtype=object)[win.index[cand]], k)
    data["event_time"] = np.tile(np.arange(-pre, post), len(cand))
    data["index_cohort"] = np.repeat(np.where(win.treated[cand] == 1, 0.0, np.nan), k)
    unit = panel.unit
    if stack:  # a unit may be a control at one index period and treated at its own
        data["stack_unit"] = (data[panel.unit].astype(str) + "@"
                              + data["index_period"].astype(str))
        unit = "stack_unit"
    mp = Panel(
        data, outcome=panel.outcome, unit=unit, time="event_time", cohort="index_cohort",
        covariates=covariates, weights="weight", exposure=panel.exposure,
        cluster="match_id" if cluster == "match_id" else panel.cluster,
    )
    return MatchedCohort(result, data, mp, pre, post, tuple(win.notes))
