"""Parallel-trends sensitivity on fitted event studies.

Any result whose ``.estimates`` has an ``event_time`` column and which
exposes the covariance of those rows as ``.vcov`` (an ``(m, m)`` array in row
order) gets :meth:`EventStudySensitivity.honest_bounds` and
:meth:`EventStudySensitivity.pretrend_power` by inheriting the mixin; results
that estimate group-time effects first (``GroupTimeResult``: Callaway-Sant'Anna,
Sun-Abraham, imputation, two-stage, ETWFE) provide their event aggregation
through ``_event_study_result()``.

The event study must measure every coefficient against one reference period
just before treatment (Callaway-Sant'Anna with ``base_period="universal"``,
Sun-Abraham, a TWFE event study): that period is the one event time without
an estimate (or with zero variance) inside the window. Coefficients before
it are the pre-periods; those after it (including any anticipation periods)
the post-periods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from ..errors import EstimationError, OptionError
from .honest import HonestBounds, Restriction, honest_bounds, posterior_bounds
from .pretrends import PretrendPower, pretrend_power

__all__ = ["EventStudy", "event_study_of", "EventStudySensitivity"]


@dataclass(frozen=True)
class EventStudy:
    """Event-study coefficients relative to one reference period: ``event_time``
    (``m``), ``estimate`` (``m``), ``vcov`` (``m x m``), the ``reference``
    event time and the numbers of pre and post coefficients."""

    event_time: np.ndarray
    estimate: np.ndarray
    vcov: np.ndarray
    reference: int
    num_pre: int
    num_post: int
    #: posterior draws of the coefficients ``(n_draws, m)`` for Bayesian results
    draws: np.ndarray | None = None


def event_study_of(result: Any, window: tuple[int, int] | None = None) -> EventStudy:
    """The event study of a fitted result, checked to have one reference period.

    ``window=(first, last)`` keeps the event times in that range.
    """
    source = result._event_study_result() if hasattr(result, "_event_study_result") else result
    tab = source.estimates
    name = getattr(source, "method", type(source).__name__)
    if "event_time" not in tab.columns:
        raise EstimationError(f"{name}: sensitivity analysis needs an event study (an "
                              f"event_time column); use .aggregate('event') first.")
    if "subgroup" in tab.columns:
        raise EstimationError(f"{name}: the event study is by subgroup; fit each subgroup's "
                              f"panel separately for its sensitivity analysis.")
    V = getattr(source, "vcov", None)
    post = getattr(source, "posterior_draws", None)  # Bayesian: (chain, draw, rows)
    D = None
    if post is not None and not callable(post):
        D = np.asarray(post, dtype=float).reshape(-1, len(tab))
        if V is None:
            V = np.cov(D, rowvar=False).reshape(len(tab), len(tab))
    if V is None:
        raise EstimationError(f"{name}: this result does not carry the covariance of its "
                              f"event-time estimates (.vcov), which the bounds need.")
    V = np.asarray(V, dtype=float)
    e = tab["event_time"].to_numpy()
    est = tab["estimate"].to_numpy(dtype=float)
    var = np.diag(V)
    keep = np.isfinite(est) & np.isfinite(var) & (var > 0)
    if window is not None:
        lo, hi = window
        keep &= (e >= lo) & (e <= hi)
    e_k = e[keep].astype(int)
    order = np.argsort(e_k, kind="stable")
    idx = np.flatnonzero(keep)[order]
    e_k = e_k[order]
    if len(e_k) == 0:
        raise EstimationError(f"{name}: no event-time estimates with a positive variance.")
    if len(np.unique(e_k)) != len(e_k):
        raise EstimationError(f"{name}: event times repeat in the event study.")
    full = np.arange(e_k.min(), e_k.max() + 1)
    missing = np.setdiff1d(full, e_k)
    if len(missing) == 0 and not (e_k < 0).any():
        raise EstimationError(
            f"{name}: the event study has no pre-period coefficients, so pre-trends cannot "
            f"bound the violations of parallel trends. Imputation-type event studies "
            f"(Imputation, TwoStage, ETWFE with not-yet-treated controls, MultilevelDiD "
            f"without leads) measure effects against the average of all untreated periods, "
            f"not one reference period; use CallawaySantAnna(base_period='universal'), "
            f"SunAbraham, ETWFE(control_group='never_treated') or MultilevelDiD(leads=True) "
            f"for this analysis.")
    if len(missing) == 0:
        raise EstimationError(
            f"{name}: every event time from {e_k.min()} to {e_k.max()} has an estimate, so the "
            f"coefficients are not measured against one reference period (a varying base "
            f"period compares each pre-period with the one before it). Refit with "
            f"CallawaySantAnna(base_period='universal'), or use SunAbraham.")
    if len(missing) > 1:
        raise EstimationError(
            f"{name}: event times {missing.tolist()} have no estimate; the bounds need "
            f"consecutive event times around one reference period. Narrow the window "
            f"(window=(first, last)).")
    ref = int(missing[0])
    n_pre = int((e_k < ref).sum())
    return EventStudy(e_k, est[idx], V[np.ix_(idx, idx)], ref, n_pre, len(e_k) - n_pre,
                      None if D is None else D[:, idx])


class EventStudySensitivity:
    """Adds parallel-trends sensitivity analyses to an event-study result."""

    def honest_bounds(
        self,
        method: str = "relative_magnitudes",
        grid: Any = None,
        *,
        l_vec: Any = None,
        alpha: float | None = None,
        window: tuple[int, int] | None = None,
        **kwargs: Any,
    ) -> HonestBounds:
        """Rambachan-Roth robust intervals for the event study's post-period
        effects (see :func:`spimpact.did.honest_bounds`).

        Uses the result's own event-time estimates and their covariance (from
        the influence functions, clustered as in the fit). For a Bayesian
        result with posterior draws, the intervals are robust credible
        intervals from the draws (:func:`spimpact.did.honest.posterior_bounds`).
        ``alpha`` defaults
        to one minus the result's confidence level; ``window=(first, last)``
        restricts the event times used; other keywords (``inference``,
        ``bias``, ``monotone``, ``grid_points``, ``random_state``) pass through.

        Examples
        --------
        >>> from spimpact.did import CallawaySantAnna
        >>> from spimpact.simulate import pcn_rollout
        >>> panel = pcn_rollout(n_pcns=60, never_share=0.15, random_state=1).panel("wellbeing")
        >>> res = CallawaySantAnna(base_period="universal").fit(panel)
        >>> hb = res.honest_bounds("smoothness", grid=[0, 0.05], window=(-4, 3))
        >>> list(hb.estimates["M"])
        [0.0, 0.05]
        """
        es = event_study_of(self, window)
        if alpha is None:
            alpha = 1 - float(getattr(self, "confidence", 0.95))
        if es.draws is not None:
            if kwargs:
                raise OptionError(f"{sorted(kwargs)} do not apply to posterior draws (the "
                                  f"credible intervals need no test inversion).")
            return posterior_bounds(es.draws, num_pre=es.num_pre, num_post=es.num_post,
                                    method=cast(Restriction, method), grid=grid, l_vec=l_vec,
                                    alpha=alpha)
        return honest_bounds(es.estimate, es.vcov, num_pre=es.num_pre, num_post=es.num_post,
                             method=cast(Restriction, method), grid=grid, l_vec=l_vec,
                             alpha=alpha, **kwargs)

    def pretrend_power(
        self, power: float = 0.8, *, alpha: float | None = None,
        window: tuple[int, int] | None = None, **kwargs: Any,
    ) -> PretrendPower:
        """Roth's (2022) pre-test power for this event study: the linear trend
        its pre-period coefficients detect with probability ``power`` and the
        bias it implies for each post-period estimate (see
        :func:`spimpact.did.pretrend_power`)."""
        es = event_study_of(self, window)
        if alpha is None:
            alpha = 1 - float(getattr(self, "confidence", 0.95))
        if not isinstance(power, (int, float)):
            raise OptionError(f"power must be a number in (alpha, 1), not {power!r}.")
        K = es.num_pre
        return pretrend_power(es.vcov[:K, :K], power, alpha=alpha,
                              pre_times=es.event_time[:K] - es.reference,
                              post_times=es.event_time[K:] - es.reference, sigma=es.vcov,
                              **kwargs)


#: Options of a ``[analysis.sensitivity]`` table in ``spimpact run`` specs.
RUN_OPTIONS = ("method", "grid", "l_vec", "window", "power", "alpha")


def run_extension(result: Any, options: dict[str, Any], section: Any, folder: Any) -> list[str]:
    """The ``[analysis.sensitivity]`` table of ``spimpact run``: robust intervals
    (``method``, ``grid``, ``l_vec``, ``window = [first, last]``, ``alpha``) and
    the pre-test power (``power``, default 0.8) of the analysis's event study,
    added to its report section; writes ``sensitivity.csv`` (prefixed by the
    section's analysis) and returns the file names."""
    from pathlib import Path

    unknown = sorted(set(options) - set(RUN_OPTIONS))
    if unknown:
        raise OptionError(f"unknown option(s) {unknown} in [analysis.sensitivity]; use "
                          f"{list(RUN_OPTIONS)}.")
    window = options.get("window")
    if window is not None:
        if not (isinstance(window, list) and len(window) == 2
                and all(isinstance(w, int) for w in window)):
            raise OptionError(f"window = {window!r}: give [first, last] event times, e.g. "
                              f"window = [-5, 4].")
        window = (int(window[0]), int(window[1]))
    hb = result.honest_bounds(options.get("method", "relative_magnitudes"), options.get("grid"),
                              l_vec=options.get("l_vec"), alpha=options.get("alpha"),
                              window=window)
    pp = result.pretrend_power(float(options.get("power", 0.8)), window=window)
    b = hb.breakdown
    section.text(
        f"Sensitivity to violations of parallel trends ({hb.restriction.replace('_', ' ')}, "
        f"Rambachan and Roth 2023): robust intervals by {hb.parameter}; breakdown value "
        + (f"{hb.parameter} = {b:g}." if np.isfinite(b) else "beyond the grid (every "
           "interval excludes 0).")
        + f" The pre-test detects a linear pre-trend of {pp.slope:.4g} per period with "
        f"probability {pp.power:g} (Roth 2022); such a trend would bias the first "
        f"post-period estimate by {pp.bias['bias'].iloc[0]:.4g}.")
    table = hb.to_frame()
    title = getattr(section, "title", "analysis").split(":")[0].strip() or "analysis"
    name = f"{title}_sensitivity.csv"
    table.to_csv(Path(folder) / name, index=False)
    section.table(table, f"Robust intervals (first row: the original interval); in {name}.")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    hb.plot(ax=ax)
    section.figure(fig, "Robust intervals against the restriction; the original at the left.")
    return [name]
