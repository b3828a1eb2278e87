"""Steps shared by the single-series and controlled segmented regressions:
checking the outcome, resolving the interruption, fitting, and assembling the
result. The estimators call these in order; each step is a plain function."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from .._formula import column_list, design_matrix
from .._sample import refuse_general_treatment
from .._validate import row_examples
from ..errors import EstimationError, OptionError
from ..panel import Panel
from ..results import estimate_table
from ._design import Design, check_rank
from ._diagnostics import ALPHA, autocorrelation_tests, diagnostic_lags
from ._fit import CovSpec, FitOutput, fit_arma, fit_arma_reml, fit_glm, fit_negbin
from ._options import ITSOptions, newey_west_lags
from ._result_base import FAMILY_LABEL, order_terms
from ._small import fixed_b, llsw_bandwidth
from ._timeaxis import Interruption, locate
from .results import FitData, ITSResult

__all__ = [
    "outcome_arrays",
    "covariate_columns",
    "interruption_position",
    "inside_series",
    "check_segments",
    "fit_design",
    "assemble",
]

#: Fewer points than this on either side of the interruption draws a warning.
FEW_POINTS = 8
#: Periods needed before an interruption: intercept and trend, plus one so the
#: pre-interruption segment is not fitted exactly.
MIN_PRE = 3
#: A Pearson dispersion above this in a Poisson fit draws an overdispersion warning.
OVERDISPERSED = 1.5
#: Single series shorter than this, with Newey-West or ARMA maximum-likelihood
#: intervals (no small-sample correction), draw an under-coverage warning: the
#: coverage of their 95% intervals was measured at 0.78-0.90 on 108 monthly points
#: with AR(1) errors (docs/guide/its.md, spimpact/bench/standard_suites/its_small.toml).
SHORT_SERIES = 120



def outcome_arrays(
    panel: Panel, opts: ITSOptions, who: str
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """The outcome, the log-exposure offset (count families) and warnings.

    Raises :class:`EstimationError` for weights and a dose (not used by ITS) and
    for count families on outcomes that are negative or not whole numbers.
    """
    if panel.dose is not None:
        raise EstimationError(
            f"{who} estimates the effect of an interruption and does not use the panel's "
            f"dose={panel.dose!r}; for effects along the dose use spimpact.did.ContinuousDiD, "
            f"or build the Panel without it (panel.replace(dose=None))."
        )
    if panel.weights is not None:
        raise EstimationError(
            f"{who} does not use weights (weights={panel.weights!r}); for rates give the "
            f"population as exposure= (the offset of count models), or build the Panel "
            f"without weights."
        )
    y = np.asarray(panel.y, dtype=float)
    notes: list[str] = []
    if not opts.is_count:
        if panel.exposure is not None:
            notes.append(
                f"exposure {panel.exposure!r} is not used by family='gaussian' (it is the "
                f"offset of the count families); model the rate as the outcome or use "
                f"family='quasipoisson'."
            )
        return y, None, notes
    bad = (y < 0) | (y != np.round(y))
    if bad.any():
        rows = panel.frame.index[bad]
        raise EstimationError(
            f"family={opts.family!r} needs counts, but outcome {panel.outcome!r} holds "
            f"{y[bad][0]:g} ({'negative' if y[bad][0] < 0 else 'not a whole number'}) in "
            f"{int(bad.sum())} rows (rows "
            f"{row_examples(rows)}); give the counts with the population as exposure=, or use "
            f"family='gaussian' for a continuous outcome."
        )
    if y.sum() == 0:
        raise EstimationError(
            f"outcome {panel.outcome!r} is zero in every row; a count model has nothing to fit."
        )
    offset = None if panel.exposure_values is None else np.log(panel.exposure_values)
    return y, offset, notes


def covariate_columns(
    panel: Panel, spec: Sequence[str] | str | None
) -> tuple[np.ndarray | None, list[str]]:
    """The covariate matrix (no intercept) and its names; ``None`` uses the
    panel's covariates, ``()`` none."""
    spec = panel.covariates if spec is None else column_list(spec)
    if not spec:
        return None, []
    X, names = design_matrix(panel.frame, spec, intercept=False)
    return X, names


def interruption_position(value: Any, panel: Panel, who: str) -> int:
    """The interruption's period position: ``value`` placed on the time axis, or
    the cohort of the panel's treated series when ``value`` is ``None``."""
    refuse_general_treatment(panel, who)
    periods = panel.periods
    if value is None:
        if not panel.has_cohorts:
            raise OptionError(
                f"{who} needs the interruption: pass interruption= (a value of the time "
                f"column {panel.time!r}, e.g. {periods[len(periods) // 2]!r}) or build the "
                f"Panel with cohort= or treatment=."
            )
        codes = panel.unit_cohort_codes
        treated = np.unique(codes[np.isfinite(codes)])
        if len(treated) == 0:
            raise OptionError(
                f"the panel's cohort column {panel.cohort or panel.treatment!r} "
                f"marks no series as interrupted; pass interruption=."
            )
        if len(treated) > 1:
            raise OptionError(
                f"the treated series start at {len(treated)} different periods; {who} needs one "
                f"interruption. Use MultiSiteITS for staggered starts, or pass interruption=."
            )
        pos, shown = int(treated[0]), panel.cohort_label(treated[0])
    else:
        pos, shown = locate(value, periods, "interruption"), value
    return inside_series(pos, periods, shown)


def inside_series(pos: int, periods: pd.Index, shown: Any) -> int:
    """``pos`` when it leaves periods on both sides; else an :class:`OptionError`."""
    if shown is None:
        shown = "before first period" if pos < 0 else "after last period"
    if pos <= 0 or pos >= len(periods):
        where = "at or before the first" if pos <= 0 else "after the last"
        raise OptionError(
            f"interruption {shown!r} falls {where} period of the series ({periods[0]} to "
            f"{periods[-1]}), so there is no period on one side of it; give an interruption "
            f"between {periods[1]} and {periods[-1]}."
        )
    return pos


def check_segments(
    pos: np.ndarray,
    p0: int,
    periods: pd.Index,
    opts: ITSOptions,
    extras: Sequence[Interruption],
    n_terms: int,
    n_obs: int,
) -> tuple[int, int, list[str]]:
    """Raise :class:`EstimationError` when a segment has too few periods for the
    terms asked for; return the periods before and from the interruption, and
    warnings.

    ``pos`` holds the period positions of the (treated) series. A segment needs
    one period more than the terms it alone identifies: ``MIN_PRE`` before the
    interruption (intercept and trend), two from it on for a level change only
    or three with a slope change (so neither is fitted exactly).
    """
    n_pre, n_post = int((pos < p0).sum()), int((pos >= p0).sum())
    need_post = 1 + (2 if opts.slope_change else 1)
    label = periods[p0]
    if n_pre < MIN_PRE:
        raise EstimationError(
            f"only {n_pre} period(s) before the interruption {label}: the pre-interruption "
            f"intercept and trend need at least {MIN_PRE}. Give a longer series before {label} "
            f"or a later interruption."
        )
    if n_post < need_post:
        what = "a level and a slope change need" if opts.slope_change else "a level change needs"
        raise EstimationError(
            f"only {n_post} period(s) from the interruption {label} on: {what} at least "
            f"{need_post}. Give a longer series after {label}"
            + (", or use slope_change=False." if opts.slope_change else ".")
        )
    for e in extras:
        inside = int(((pos >= e.start) & ((pos <= e.end) if e.end is not None else True)).sum())
        need = 1 + (2 if (opts.slope_change and e.end is None) else 1)
        if inside < need:
            raise EstimationError(
                f"extra interruption {e.label} covers {inside} period(s) of the series; its "
                f"terms need at least {need}. Move or drop it."
            )
    if n_obs - n_terms < 1:
        raise EstimationError(
            f"{n_terms} terms for {n_obs} observations leave no residual degrees of freedom; "
            f"drop terms (seasonality, slope_change, extra interruptions, covariates)."
        )
    notes = []
    if min(n_pre, n_post) < FEW_POINTS:
        notes.append(
            f"few points on one side of the interruption ({n_pre} before, {n_post} from it on): "
            f"with fewer than {FEW_POINTS}, the trend and the effects are poorly determined and "
            f"autocorrelation cannot be checked well."
        )
    return n_pre, n_post, notes


def cov_spec(opts: ITSOptions, n_periods: int, time: np.ndarray | None = None) -> CovSpec:
    """The covariance the options ask for: Newey-West on one series,
    Driscoll-Kraay on several (``time``: the period position of each row).

    With ``small_sample`` the default lags are those of the Lazarus-Lewis-Stock-
    Watson bandwidth ``S = 1.3 sqrt(T)`` (``S - 1`` lags) and the intervals use
    fixed-b critical values; else Newey & West's ``floor(4 (T/100)^(2/9))``.
    """
    if opts.autocorrelation != "newey-west":
        return CovSpec("model")
    if opts.maxlags is not None:
        lags = opts.maxlags
    elif opts.small_sample:
        lags = llsw_bandwidth(n_periods) - 1
    else:
        lags = newey_west_lags(n_periods)
    if lags >= n_periods:
        raise OptionError(f"maxlags={lags} must be below the number of periods {n_periods}.")
    fb = opts.small_sample
    if time is None:
        return CovSpec("hac", lags, fixed_b=fb)
    return CovSpec("driscoll-kraay", lags, time=np.asarray(time, dtype=np.intp), fixed_b=fb)


def fit_design(
    y: np.ndarray, design: Design, offset: np.ndarray | None, opts: ITSOptions, cov: CovSpec
) -> FitOutput:
    """Fit the design with the back-end the family and options call for; with
    ``cov.fixed_b``, add the fixed-b critical values and p-values of the
    Newey-West t statistics."""
    check_rank(design.X, design.names)
    if opts.autocorrelation == "arma":
        if opts.small_sample:
            return fit_arma_reml(y, design.X, opts.arma_order)
        return fit_arma(y, design.X, opts.arma_order)
    if opts.family == "negbin":
        fit = fit_negbin(y, design.X, offset, cov)
    else:
        fit = fit_glm(y, design.X, offset, opts.family, cov)
    if not cov.fixed_b:
        return fit
    assert fit.weights is not None and cov.maxlags is not None
    se = np.sqrt(np.maximum(np.diag(fit.vcov), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        tstat = np.where(se > 0, fit.params / se, 0.0)
    fb = fixed_b(
        np.sqrt(fit.weights)[:, None] * design.X, tstat, cov.maxlags + 1, opts.confidence, cov.time
    )
    extra = {**fit.extra, "newey-west bandwidth": float(fb.bandwidth)}
    return replace(fit, crit=fb.crit, p_value=fb.p_value, extra=extra)


def method_label(kind: str, opts: ITSOptions, cov: CovSpec) -> str:
    """E.g. ``"Segmented regression (quasi-Poisson, Fourier(12, 2), Newey-West SEs (3 lags))"``."""
    bits = [FAMILY_LABEL[opts.family]]
    if opts.seasonality is not None:
        bits.append(f"Fourier({opts.seasonality.period:g}, {opts.seasonality.order})")
    if opts.autocorrelation == "arma":
        how = " by REML, Satterthwaite df" if opts.small_sample else ""
        bits.append(f"ARMA{opts.arma_order} errors{how}")
    else:
        bits.append(cov.describe())
    return f"{kind} ({', '.join(bits)})"


@dataclass(frozen=True)
class Context:
    """What :func:`assemble` needs besides the fit."""

    panel: Panel
    design: Design
    y: np.ndarray
    offset: np.ndarray | None
    rows: pd.DataFrame
    groups: np.ndarray | None
    p0: int
    extras: Sequence[Interruption]
    n_pre: int
    n_post: int
    notes: list[str]
    method: str


def _table(fit: FitOutput, design: Design, opts: ITSOptions) -> pd.DataFrame:
    se = np.sqrt(np.maximum(np.diag(fit.vcov), 0.0))
    tab = estimate_table(
        fit.params,
        se,
        opts.confidence,
        df=fit.df,
        crit=fit.crit,
        index={"term": list(design.names)},
    )
    if fit.p_value is not None:
        tab["p_value"] = fit.p_value
    arma = [k for k in fit.extra_se if k.startswith(("ar", "ma"))]
    if arma:
        extra = estimate_table(
            [fit.extra[k] for k in arma],
            [fit.extra_se[k] for k in arma],
            opts.confidence,
            index={"term": arma},
        )
        tab = pd.concat([tab, extra], ignore_index=True)
    return order_terms(tab)


def _fit_notes(fit: FitOutput, ctx: Context, opts: ITSOptions, diag: pd.DataFrame,
               lags: int, n_series: int) -> list[str]:
    """Statistical red flags of a fit: autocorrelated residuals, classical
    corrections on a short series, overdispersed counts."""
    notes = list(ctx.notes) + list(fit.notes)
    lb = float(diag["p_value"].iloc[0])
    if opts.autocorrelation is None and lb < ALPHA:
        notes.append(
            f"the residuals are autocorrelated (Ljung-Box p = {lb:.3g} at {lags} lags), so the "
            f"model-based standard errors are likely too small; use "
            f"autocorrelation='newey-west'" + (" or 'arma'." if opts.family == "gaussian" else ".")
        )
    n_periods = len(ctx.y) // n_series
    if (
        opts.autocorrelation is not None
        and not opts.small_sample
        and ctx.groups is None
        and n_periods < SHORT_SERIES
    ):
        what = "Newey-West" if opts.autocorrelation == "newey-west" else "ARMA maximum-likelihood"
        notes.append(
            f"{what} intervals under-cover on short series ({n_periods} periods; 0.78-0.90 "
            f"for a 95% interval at 108 monthly points with AR(1) errors): use "
            f"small_sample=True (see the ITS guide's coverage table)."
        )
    sep = _separation_note(ctx, opts)
    if sep:
        notes.append(sep)
    if opts.family == "poisson" and fit.pearson_dispersion > OVERDISPERSED:
        notes.append(
            f"the counts are overdispersed (Pearson dispersion {fit.pearson_dispersion:.3g}): "
            f"Poisson standard errors are too small; use family='quasipoisson' or 'negbin'."
        )
    return notes


def _separation_note(ctx: Context, opts: ITSOptions) -> str | None:
    """Count models: every count of the treated series zero on one side of the
    interruption separates the data, so the level change runs off towards
    minus or plus infinity (its estimate and standard error mean nothing)."""
    if opts.family == "gaussian":
        return None
    rows = ctx.rows
    treated = rows["treated"].to_numpy() == 1
    post = rows["post"].to_numpy(dtype=bool)
    observed = rows["observed"].to_numpy(dtype=float)
    for side, mask in (("from the interruption on", treated & post),
                       ("before the interruption", treated & ~post)):
        if mask.any() and not (observed[mask] > 0).any():
            return (
                f"every count of the treated series {side} is 0 ({int(mask.sum())} periods): "
                f"the {opts.family} level change is not identified (separation; its estimate "
                f"runs off towards infinity and its standard error is meaningless). Report the "
                f"counts directly, or model a longer period or a coarser series."
            )
    return None


def assemble(fit: FitOutput, ctx: Context, opts: ITSOptions) -> ITSResult:
    """The :class:`ITSResult` of a fit: table, diagnostics, warnings, stored data."""
    from scipy.special import ndtri, stdtrit

    panel, design = ctx.panel, ctx.design
    n_series = 1 if ctx.groups is None else int(ctx.groups.max()) + 1
    lags = diagnostic_lags(
        len(ctx.y) // n_series, None if opts.seasonality is None else opts.seasonality.period
    )
    diag = autocorrelation_tests(fit.residuals, design.X, lags, ctx.groups)
    notes = _fit_notes(fit, ctx, opts, diag, lags, n_series)
    level = 0.5 + opts.confidence / 2
    j = design.names.index("level_change")  # per-coefficient df or crit: the level change's
    if fit.crit is not None:
        crit = float(fit.crit[j])
    elif fit.df is None:
        crit = float(ndtri(level))
    else:
        crit = float(stdtrit(np.broadcast_to(fit.df, design.X.shape[1:])[j], level))
    data = FitData(
        rows=ctx.rows,
        X=design.X,
        X_cf=design.counterfactual(),
        names=design.names,
        params=fit.params,
        vcov=fit.vcov,
        offset=ctx.offset,
        family=opts.family,
        crit=crit,
        residuals=fit.residuals,
        groups=ctx.groups,
        interruption=panel.periods[ctx.p0],
        extra_labels=tuple(panel.periods[e.start] for e in ctx.extras),
        time_column=panel.time or "time",
    )
    tab = _table(fit, design, opts)
    info: dict[str, Any] = {
        "family": opts.family,
        "interruption": str(panel.periods[ctx.p0]),
        "periods before": ctx.n_pre,
        "periods from interruption": ctx.n_post,
        "dispersion": fit.dispersion,
        "pearson dispersion": fit.pearson_dispersion,
    }
    info.update({k: v for k, v in fit.extra.items() if not k.startswith(("ar", "ma"))})
    if opts.small_sample and opts.autocorrelation is not None:
        info["small sample"] = (
            f"REML, Satterthwaite df {np.atleast_1d(np.asarray(fit.df))[j]:.3g} for level_change"
            if fit.crit is None
            else f"fixed-b critical value {crit:.3g} for level_change"
        )
    from ..results import Estimate

    overall = Estimate.from_row(
        tab.loc[tab["term"] == "level_change"].iloc[0], opts.confidence, label="level_change"
    )
    return ITSResult(
        tab,
        data=data,
        diagnostics=diag,
        dispersion=fit.dispersion,
        overall=overall,
        method=ctx.method,
        confidence=opts.confidence,
        n_obs=len(ctx.y),
        n_units=n_series,
        warnings=notes,
        info=info,
    )


def refuse_cluster(panel: Panel, who: str) -> None:
    """Refuse a panel ``cluster=`` that ``who`` would not use: its standard errors
    come from the series' own autocorrelation structure, not from clusters."""
    if panel.cluster is not None:
        raise EstimationError(
            f"{who} does not use the panel's cluster={panel.cluster!r}: its standard errors "
            f"model the series' autocorrelation (autocorrelation=). Build the Panel without "
            f"cluster=, or use MultiSiteITS for cluster-robust inference across sites."
        )
