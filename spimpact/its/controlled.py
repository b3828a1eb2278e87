"""Controlled (comparative) interrupted time series: a treated series against
one or more comparison series that did not get the intervention."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._estimator import Estimator
from .._sample import refuse_general_treatment, require_panel
from ..errors import EstimationError, OptionError
from ..panel import Panel
from ._common import (
    Context,
    assemble,
    check_segments,
    cov_spec,
    covariate_columns,
    fit_design,
    inside_series,
    interruption_position,
    method_label,
    outcome_arrays,
    refuse_cluster,
)
from ._design import controlled_design
from ._options import Autocorrelation, Family, Fourier, ITSOptions, validate_options
from ._timeaxis import resolve_extra, time_index
from .results import ITSResult

__all__ = ["ControlledITS"]


class ControlledITS(Estimator):
    """Comparative interrupted time series: the change at the interruption in a
    treated series minus the change in comparison series.

    The model (log link for counts, identity for Gaussian), with ``z = 1`` for
    the treated series, ``post = 1[t >= t0]`` and ``s = post (t - t0 +
    slope_origin)``::

        g(E[y_it]) = log(exposure_it) + a_i + b1 (t - t0) + b2 z (t - t0)
                     + c1 post + c2 s          (changes in the comparison series)
                     + d1 z post + d2 z s      (level_change, slope_change)
                     + extra interruptions + Fourier terms + covariates

    Every series has its own intercept ``a_i``; ``level_change`` (``d1``) and
    ``slope_change`` (``d2``) are the differences between the treated and the
    comparison series' changes (a ratio of rate ratios for counts), so a shock
    at the interruption that hits every series alike is removed. Shocks at other
    times (COVID-19) enter as ``extra_interruptions`` common to all series, or,
    with ``period_effects=True``, every period gets its own effect shared by all
    series: then any shock that hits the series alike, whatever its shape, is
    absorbed (and the trend, seasonality and extra interruptions with it).

    Parameters
    ----------
    interruption : period, optional
        First period of the intervention; ``None`` takes the treated series'
        cohort from the panel.
    family, seasonality, slope_change, extra_interruptions, confidence, \
slope_origin, covariates
        As in :class:`~spimpact.its.SegmentedRegression`.
    autocorrelation : {None, "newey-west"}
        ``"newey-west"``: Driscoll-Kraay standard errors (Newey-West on the
        scores summed across the series of each period), robust to
        autocorrelation and to correlation between the series in a period.
    maxlags : int, optional
        Lags of the Driscoll-Kraay estimator (default ``floor(4 (T/100)^(2/9))``
        for ``T`` periods).
    treated : label or sequence of labels, optional
        The treated series (values of the panel's ``unit``). ``None``: the
        series with a cohort in the panel; the others are the comparisons.
    period_effects : bool
        Replace the common trend, seasonality and extra interruptions by one
        effect per period shared by all series.
    small_sample : bool
        With ``autocorrelation="newey-west"``: the Lazarus-Lewis-Stock-Watson
        bandwidth ``S = 1.3 sqrt(T)`` for ``T`` periods (unless ``maxlags``)
        and fixed-b critical values and p-values for the Driscoll-Kraay t
        statistics, exact for the design under independent Gaussian errors
        (see :class:`~spimpact.its.SegmentedRegression`). Without
        ``autocorrelation`` it changes nothing.

    Examples
    --------
    >>> from spimpact import Panel
    >>> from spimpact.simulate import interrupted_series
    >>> sim = interrupted_series(n_control=2, shock="2020-04", random_state=3)
    >>> panel = Panel(sim.data, outcome="count", unit="series", time="month",
    ...               exposure="population")
    >>> res = ControlledITS("2019-07", family="quasipoisson", treated="treated1",
    ...                     seasonality=Fourier(12, 1), extra_interruptions=["2020-04"],
    ...                     autocorrelation="newey-west").fit(panel)
    >>> rr = res.overall.exp()  # the true rate ratio is 0.9
    >>> bool(rr.ci_lower < 0.9 < rr.ci_upper)
    True
    """

    def __init__(
        self,
        interruption: Any = None,
        family: Family = "gaussian",
        seasonality: Fourier | None = None,
        slope_change: bool = False,
        autocorrelation: Autocorrelation | None = None,
        maxlags: int | None = None,
        extra_interruptions: Sequence[Any] = (),
        confidence: float = 0.95,
        *,
        treated: Any = None,
        period_effects: bool = False,
        slope_origin: int = 0,
        covariates: Sequence[str] | str | None = None,
        small_sample: bool = False,
    ) -> None:
        self.interruption = interruption
        self.family = family
        self.seasonality = seasonality
        self.slope_change = slope_change
        self.autocorrelation = autocorrelation
        self.maxlags = maxlags
        self.extra_interruptions = extra_interruptions
        self.confidence = confidence
        self.treated = treated
        self.period_effects = period_effects
        self.slope_origin = slope_origin
        self.covariates = covariates
        self.small_sample = small_sample

    def _validate(self) -> ITSOptions:
        opts = validate_options(
            family=self.family,
            seasonality=self.seasonality,
            slope_change=self.slope_change,
            autocorrelation=self.autocorrelation,
            maxlags=self.maxlags,
            extra_interruptions=self.extra_interruptions,
            confidence=self.confidence,
            slope_origin=self.slope_origin,
            arma_order=(1, 0),
            covariates=self.covariates,
            small_sample=self.small_sample,
            allowed_autocorrelation=(None, "newey-west"),
        )
        if not isinstance(self.period_effects, (bool, np.bool_)):
            raise OptionError(f"period_effects must be True or False, not {self.period_effects!r}.")
        if self.period_effects and (opts.seasonality is not None or opts.extra_interruptions):
            raise OptionError(
                "period_effects=True gives every period its own effect, which absorbs "
                "seasonality and extra interruptions; drop seasonality= and "
                "extra_interruptions=, or use period_effects=False."
            )
        return opts

    def fit(self, panel: Panel) -> ITSResult:
        """Fit the comparative segmented regression.

        Parameters
        ----------
        panel : Panel
            Several series: ``unit`` (the series) and ``time`` given.

        Returns
        -------
        ITSResult
            ``level_change`` and ``slope_change`` are the differences between
            the treated and the comparison series' changes.
        """
        opts = self._validate()
        _check_panel(panel)
        y, offset, notes = outcome_arrays(panel, opts, "ControlledITS")
        z_unit = _treated_units(self.treated, panel)
        p0 = _interruption(self.interruption, panel, z_unit)
        extras = resolve_extra(opts.extra_interruptions, panel.periods)
        t_of_pos = time_index(panel.periods)
        pos, unit = np.asarray(panel.time_codes), np.asarray(panel.unit_codes)
        z = z_unit[unit].astype(float)
        cov_X, cov_names = covariate_columns(panel, opts.covariates)
        design = controlled_design(
            t_of_pos[pos],
            pos,
            t_of_pos,
            t_of_pos[p0],
            unit,
            [str(u) for u in panel.units],
            z,
            slope_change=opts.slope_change,
            origin=opts.slope_origin,
            extras=extras,
            season=opts.seasonality,
            covariates=cov_X,
            covariate_names=cov_names,
            period_effects=bool(self.period_effects),
            n_periods=panel.n_periods,
            period_labels=[str(p) for p in panel.periods],
        )
        n_pre, n_post, few = check_segments(
            pos[z == 1] if z_unit.sum() == 1 else np.unique(pos[z == 1]),
            p0,
            panel.periods,
            opts,
            extras,
            design.X.shape[1],
            len(y),
        )
        _check_comparisons(pos[z == 0], p0, panel.periods[p0])
        cov = cov_spec(opts, panel.n_periods, pos)
        fit = fit_design(y, design, offset, opts, cov)
        rows = pd.DataFrame(
            {
                "unit": panel.units[unit].astype(str),
                "time": panel.periods[pos],
                "observed": y,
                "exposure": np.nan if panel.exposure_values is None else panel.exposure_values,
                "treated": z.astype(int),
                "post": pos >= p0,
            }
        )
        kind = "Controlled ITS" + (" with period effects" if self.period_effects else "")
        ctx = Context(
            panel,
            design,
            y,
            offset,
            rows,
            unit,
            p0,
            extras,
            n_pre,
            n_post,
            notes + few,
            method_label(kind, opts, cov),
        )
        return assemble(fit, ctx, opts)


def _check_panel(panel: Panel) -> None:
    require_panel(panel, "ControlledITS.fit")
    if panel.kind != "panel" or panel.n_units < 2:
        raise EstimationError(
            "ControlledITS needs several series: build the Panel with unit= (the series) and "
            "time=; for a single series use SegmentedRegression."
        )
    refuse_cluster(panel, "ControlledITS")


def _treated_units(treated: Any, panel: Panel) -> np.ndarray:
    """0/1 per unit: the treated series."""
    units = panel.units
    refuse_general_treatment(panel, "ControlledITS")
    if treated is None:
        if not panel.has_cohorts:
            raise OptionError(
                f"ControlledITS needs to know the treated series: pass treated= (one of "
                f"{list(units[:5])}...) or build the Panel with cohort= or treatment=."
            )
        z = np.isfinite(panel.unit_cohort_codes) & (panel.unit_cohort_codes < panel.n_periods)
    else:
        labels = (
            [treated]
            if isinstance(treated, (str, int, np.integer)) or not isinstance(treated, Sequence)
            else list(treated)
        )
        missing = [v for v in labels if v not in set(units)]
        if missing:
            raise OptionError(
                f"treated={missing[0]!r} is not a series of the panel's unit column "
                f"{panel.unit!r} (e.g. {list(units[:5])})."
            )
        z = np.asarray(units.isin(labels))
    if z.all() or not z.any():
        what = "every" if z.all() else "no"
        raise OptionError(
            f"{what} series is treated, so there is no comparison: ControlledITS needs at least "
            f"one treated and one comparison series (use SegmentedRegression for one series)."
        )
    return z.astype(np.int8)


def _interruption(value: Any, panel: Panel, z_unit: np.ndarray) -> int:
    if value is not None or not panel.has_cohorts:
        return interruption_position(value, panel, "ControlledITS")
    codes = panel.unit_cohort_codes[z_unit == 1]
    starts = np.unique(codes[np.isfinite(codes)])
    if len(starts) != 1:
        raise OptionError(
            f"the treated series start at {len(starts)} different periods in the panel's cohort "
            f"column; ControlledITS needs one interruption: pass interruption=, or use "
            f"MultiSiteITS for staggered starts."
        )
    return inside_series(int(starts[0]), panel.periods, panel.cohort_label(starts[0]))


def _check_comparisons(pos: np.ndarray, p0: int, label: Any) -> None:
    pre, post = int((pos < p0).sum()), int((pos >= p0).sum())
    if pre == 0 or post == 0:
        side = "before" if pre == 0 else "from"
        raise EstimationError(
            f"the comparison series have no period {side} the interruption {label}, so their "
            f"change at it cannot be estimated; give comparison series covering both sides."
        )
