"""Multi-site interrupted time series: one series per site (practice or PCN),
each interrupted at its own period, pooled into one level and slope change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._estimator import Estimator
from .._sample import refuse_general_treatment, require_panel
from .._warn import warn
from ..errors import DataWarning, EstimationError, OptionError
from ..inference import few_clusters_message
from ..panel import Panel
from ..results import Estimate, estimate_table
from ._common import MIN_PRE, covariate_columns, outcome_arrays
from ._design import segment_terms, shared_terms
from ._diagnostics import autocorrelation_tests, diagnostic_lags
from ._options import Family, Fourier, ITSOptions, validate_options
from ._result_base import FAMILY_LABEL, order_terms
from ._sites import SiteFit, cluster_vcov, fit_sites, site_vcov
from ._timeaxis import resolve_extra, time_index
from .multisite_results import MultiSiteData, MultiSiteResult

__all__ = ["MultiSiteITS"]

_EFFECTS = ("level_change", "slope_change")


class MultiSiteITS(Estimator):
    """Pooled segmented regression of many series, each with its own interruption.

    Every site (the panel's ``unit``: a practice, a PCN) is interrupted at its
    own cohort (the panel's ``cohort=`` or ``treatment=``); sites never
    interrupted in the window are comparisons. The model (log link for counts,
    identity for Gaussian) is::

        g(E[y_it]) = log(exposure_it) + a_i [+ c_i t] + b1 t
                     + b2 post_it + b3 post_it (t - t0_i + slope_origin)
                     + extra interruptions + Fourier terms + covariates

    with site effects ``a_i`` (and site trends ``c_i`` with ``site_trends``,
    which then replace the common trend ``b1``). ``level_change`` (``b2``) and
    ``slope_change`` (``b3``) are pooled over sites. Site effects are absorbed
    (never formed as columns), so thousands of sites fit in seconds.

    Inference is cluster-robust (CR1, Student t with ``G - 1`` df) by the
    panel's ``cluster`` (e.g. PCN) or else by site, which is robust to any
    autocorrelation within a site's series.

    Parameters
    ----------
    family : {"gaussian", "poisson", "quasipoisson"}
        Count families use the panel's ``exposure`` as the offset. Poisson and
        quasi-Poisson give the same estimates and cluster-robust SEs;
        :attr:`MultiSiteResult.dispersion` reports the Pearson dispersion.
    seasonality : Fourier, optional
    slope_change : bool
    extra_interruptions : sequence
        Calendar interruptions common to all sites (e.g. COVID-19), as in
        :class:`~spimpact.its.SegmentedRegression`.
    confidence : float
    site_trends : bool
        Give every site its own trend.
    site_estimates : bool
        Also estimate each interrupted site's own level (and slope) change,
        sharing the trend, seasonality and extra interruptions with the other
        sites; see :attr:`MultiSiteResult.site_estimates`.
    slope_origin : {0, 1}
    covariates : sequence of str or str, optional
        Time-varying covariate columns (names, not a formula); ``None`` uses
        the panel's covariates, ``()`` none.

    Examples
    --------
    >>> from spimpact.simulate import interrupted_series
    >>> from spimpact import Panel
    >>> sim = interrupted_series(n_series=12, stagger=2, random_state=5)
    >>> panel = Panel(sim.data, outcome="count", unit="series", time="month",
    ...               cohort="interruption", exposure="population")
    >>> res = MultiSiteITS(family="quasipoisson", seasonality=Fourier(12, 1)).fit(panel)
    >>> rr = res.overall.exp()  # the true rate ratio is 0.9
    >>> bool(rr.ci_lower < 0.9 < rr.ci_upper)
    True
    """

    def __init__(
        self,
        family: Family = "gaussian",
        seasonality: Fourier | None = None,
        slope_change: bool = False,
        extra_interruptions: Sequence[Any] = (),
        confidence: float = 0.95,
        *,
        site_trends: bool = False,
        site_estimates: bool = False,
        slope_origin: int = 0,
        covariates: Sequence[str] | str | None = None,
    ) -> None:
        self.family = family
        self.seasonality = seasonality
        self.slope_change = slope_change
        self.extra_interruptions = extra_interruptions
        self.confidence = confidence
        self.site_trends = site_trends
        self.site_estimates = site_estimates
        self.slope_origin = slope_origin
        self.covariates = covariates

    def _validate(self) -> ITSOptions:
        if self.family == "negbin":
            raise OptionError(
                "MultiSiteITS does not fit family='negbin' (site effects in a negative binomial "
                "model are not consistently estimated); use family='quasipoisson', whose "
                "cluster-robust SEs allow any overdispersion."
            )
        for name in ("site_trends", "site_estimates"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise OptionError(f"{name} must be True or False, not {getattr(self, name)!r}.")
        return validate_options(
            family=self.family,
            seasonality=self.seasonality,
            slope_change=self.slope_change,
            autocorrelation=None,
            maxlags=None,
            extra_interruptions=self.extra_interruptions,
            confidence=self.confidence,
            slope_origin=self.slope_origin,
            arma_order=(1, 0),
            covariates=self.covariates,
            allowed_families=("gaussian", "poisson", "quasipoisson"),
        )

    def fit(self, panel: Panel) -> MultiSiteResult:
        """Fit the pooled model (and, if asked, the site-level one).

        Parameters
        ----------
        panel : Panel
            ``unit`` (the sites), ``time`` and ``cohort`` (or ``treatment``) given.

        Returns
        -------
        MultiSiteResult
        """
        opts = self._validate()
        _check_panel(panel)
        y, offset, notes = outcome_arrays(panel, opts, "MultiSiteITS")
        sample = _sample(panel, notes)
        terms = _terms(panel, sample, opts, bool(self.site_trends))
        y, off = y[sample.keep], None if offset is None else offset[sample.keep]
        fam = "gaussian" if opts.family == "gaussian" else "poisson"
        fit = fit_sites(y, terms.X, terms.B, sample.site, off, fam)
        if not fit.converged:
            notes.append(
                "the pooled model did not converge in the IRLS iterations; check the "
                "counts (e.g. sites with all-zero outcomes)."
            )
        cluster = (
            sample.site
            if panel.cluster_codes is None
            else np.asarray(panel.cluster_codes)[sample.keep]
        )
        vcov, G = cluster_vcov(fit, y, cluster)
        msg = few_clusters_message(G)
        if msg:
            notes.append(msg)
        table = order_terms(
            estimate_table(
                fit.beta,
                np.sqrt(np.maximum(np.diag(vcov), 0)),
                opts.confidence,
                df=G - 1,
                index={"term": terms.names},
            )
        )
        phi = _dispersion(y, fit, opts.family, len(terms.names) + sample.n_sites * terms.B.shape[1])
        site_tab = None
        if self.site_estimates:
            site_tab = _site_level(y, off, fam, 1.0, panel, sample, terms, opts, notes)
        data = _data(y, fit, sample, terms, vcov, opts, G, panel)
        diag = _diagnostics(y, fit, fam, sample, opts)
        info = {
            "family": opts.family,
            "sites": sample.n_sites,
            "interrupted sites": sample.n_treated,
            "dispersion": phi,
            "IRLS iterations": fit.n_iter,
        }
        overall = Estimate.from_row(table.iloc[0], opts.confidence, label="level_change")
        return MultiSiteResult(
            table,
            data=data,
            diagnostics=diag,
            dispersion=phi,
            site_table=site_tab,
            overall=overall,
            method=_method(opts, bool(self.site_trends), panel),
            confidence=opts.confidence,
            n_obs=len(y),
            n_units=sample.n_sites,
            n_clusters=G,
            warnings=notes,
            info=info,
        )


def _check_panel(panel: Panel) -> None:
    require_panel(panel, "MultiSiteITS.fit")
    if panel.kind != "panel" or panel.n_units < 2:
        raise EstimationError(
            "MultiSiteITS needs one series per site: build the Panel with "
            "unit= (the site) and time=; for one series use "
            "SegmentedRegression."
        )
    refuse_general_treatment(panel, "MultiSiteITS")
    if not panel.has_cohorts:
        raise OptionError(
            "MultiSiteITS takes each site's interruption from the panel: build "
            "the Panel with cohort= (first period of the intervention in each "
            "site) or treatment=."
        )


@dataclass(frozen=True)
class _Sample:
    keep: np.ndarray  # rows used (bool, panel order)
    site: np.ndarray  # site code of each kept row, 0..S-1, sorted
    site_pos: np.ndarray  # cohort position of each kept site (inf: comparison)
    site_labels: pd.Index
    rows: pd.DataFrame  # unit, time, event_time, exposure, treated, post

    @property
    def n_sites(self) -> int:
        return len(self.site_labels)

    @property
    def n_treated(self) -> int:
        return int(np.isfinite(self.site_pos).sum())


def _sample(panel: Panel, notes: list[str]) -> _Sample:
    """Sites interrupted inside the window, plus comparisons; sites already
    interrupted at the first period have no pre-interruption data and are set
    aside (counted in a warning)."""
    us = panel.unit_sample()
    for note in us.notes:
        notes.append(note)
        warn(note, DataWarning)
    kept_units = us.unit_codes
    if not np.isfinite(us.unit_cohort).any():
        raise EstimationError(
            "no site is interrupted inside the panel's window (every cohort "
            "is missing, before the first period or after the last)."
        )
    keep = np.ones(panel.n_obs, dtype=bool) if us.row_keep is None else us.row_keep
    site = us.unit
    site_pos = us.unit_cohort
    pos = np.asarray(panel.time_codes)[keep]
    row_pos = site_pos[site]
    rows = pd.DataFrame(
        {
            "unit": panel.units[kept_units][site],
            "time": panel.periods[pos],
            "event_time": np.where(
                np.isfinite(row_pos), pos - np.where(np.isfinite(row_pos), row_pos, 0), np.nan
            ),
            "exposure": np.nan if panel.exposure_values is None else panel.exposure_values[keep],
            "treated": np.isfinite(row_pos).astype(int),
            "post": pos >= row_pos,
            "_pos": pos,
        }
    )
    return _Sample(keep, site, site_pos, panel.units[kept_units], rows)


@dataclass(frozen=True)
class _Terms:
    X: np.ndarray
    names: list[str]
    B: np.ndarray
    effects: tuple[int, ...]
    extras: list[Any]
    level: np.ndarray
    slope: np.ndarray


def _terms(panel: Panel, s: _Sample, opts: ITSOptions, site_trends: bool) -> _Terms:
    """Shared columns ``X`` (pooled effects first) and the site basis ``B``."""
    t_of_pos = time_index(panel.periods)
    pos = s.rows["_pos"].to_numpy()
    t = t_of_pos[pos]
    t0 = np.where(
        np.isfinite(s.site_pos),
        t_of_pos[np.clip(np.nan_to_num(s.site_pos, posinf=0), 0, None).astype(int)],
        np.inf,
    )[s.site]
    level, slope = segment_terms(t, t0, opts.slope_origin)
    cols, names = [level], ["level_change"]
    if opts.slope_change:
        cols.append(slope)
        names.append("slope_change")
    tc = t - t_of_pos[0]
    if not site_trends:
        cols.append(tc)
        names.append("trend")
    extras = resolve_extra(opts.extra_interruptions, panel.periods)
    scols, snames = shared_terms(t, pos, t_of_pos, extras, opts.slope_change, opts.slope_origin,
                                 opts.seasonality)
    cols += scols
    names += snames
    cov_X, cov_names = covariate_columns(panel, opts.covariates)
    if cov_X is not None:
        cols += list(cov_X[s.keep].T)
        names += cov_names
    B = np.column_stack([np.ones(len(t)), tc]) if site_trends else np.ones((len(t), 1))
    effects = tuple(range(2 if opts.slope_change else 1))
    return _Terms(np.column_stack(cols), names, B, effects, extras, level, slope)


def _data(
    y: np.ndarray,
    fit: SiteFit,
    sample: _Sample,
    terms: _Terms,
    vcov: np.ndarray,
    opts: ITSOptions,
    G: int,
    panel: Panel,
) -> MultiSiteData:
    return MultiSiteData(
        rows=sample.rows.assign(observed=y, fitted=fit.mu),
        X=terms.X,
        Xt=fit.Xt,
        effects=terms.effects,
        names=tuple(terms.names),
        beta=fit.beta,
        vcov=vcov,
        family=opts.family,
        crit=_crit(opts.confidence, G - 1),
        time_column=panel.time or "time",
        extra_labels=tuple(panel.periods[e.start] for e in terms.extras),
    )


def _diagnostics(
    y: np.ndarray, fit: SiteFit, fam: str, sample: _Sample, opts: ITSOptions
) -> pd.DataFrame:
    """Autocorrelation tests on the Pearson residuals, lags within sites."""
    lags = diagnostic_lags(
        int(np.median(np.bincount(sample.site))),
        None if opts.seasonality is None else opts.seasonality.period,
    )
    resid = (y - fit.mu) / np.sqrt(fit.mu if fam == "poisson" else np.ones(len(y)))
    return autocorrelation_tests(
        resid, np.column_stack([fit.Xt, np.ones(len(y))]), lags, sample.site
    )


def _dispersion(y: np.ndarray, fit: SiteFit, family: str, n_params: int) -> float:
    df = len(y) - n_params
    if family == "poisson" or df <= 0:
        return 1.0 if family == "poisson" else float("nan")
    var = fit.mu if family == "quasipoisson" else np.ones(len(y))
    return float(np.sum((y - fit.mu) ** 2 / var) / df)


def _crit(confidence: float, df: float) -> float:
    from scipy.special import stdtrit

    return float(stdtrit(df, 0.5 + confidence / 2)) if df >= 1 else float("nan")


def _method(opts: ITSOptions, site_trends: bool, panel: Panel) -> str:
    bits = [FAMILY_LABEL[opts.family], "site trends" if site_trends else "site effects"]
    if opts.seasonality is not None:
        bits.append(f"Fourier({opts.seasonality.period:g}, {opts.seasonality.order})")
    bits.append(f"SEs clustered by {panel.cluster or 'site'}")
    return f"Multi-site ITS ({', '.join(bits)})"


def _site_level(
    y: np.ndarray,
    off: np.ndarray | None,
    fam: str,
    phi: float,
    panel: Panel,
    s: _Sample,
    terms: _Terms,
    opts: ITSOptions,
    notes: list[str],
) -> pd.DataFrame:
    """Each interrupted site's own level (and slope) change, sharing the other terms."""
    pos = s.rows["_pos"].to_numpy()
    row_pos = s.site_pos[s.site]
    pre = np.bincount(s.site, weights=(pos < row_pos), minlength=s.n_sites)
    post = np.bincount(s.site, weights=(pos >= row_pos), minlength=s.n_sites)
    need = 1 + (2 if opts.slope_change else 1)
    thin = np.isfinite(s.site_pos) & ((pre < MIN_PRE) | (post < need))
    if thin.any():
        notes.append(
            f"{int(thin.sum())} interrupted site(s) have fewer than {MIN_PRE} periods "
            f"before or {need} from their interruption; they have no site-level "
            f"estimate and were left out of the site-level model."
        )
    rows = ~thin[s.site]
    site = np.searchsorted(np.flatnonzero(~thin), s.site[rows])
    k_eff = len(terms.effects)
    eff_cols = np.column_stack([terms.level, terms.slope][:k_eff])[rows]
    B = np.column_stack([terms.B[rows], eff_cols])
    X = np.delete(terms.X, list(terms.effects), axis=1)[rows]
    fit = fit_sites(y[rows], X, B, site, None if off is None else off[rows], fam)
    d0 = terms.B.shape[1]
    kept = np.flatnonzero(~thin)
    if opts.family != "poisson":  # the site-level model's own Pearson dispersion
        n_site_terms = d0 * len(kept) + k_eff * int(np.isfinite(s.site_pos[kept]).sum())
        phi = _dispersion(y[rows], fit, opts.family, X.shape[1] + n_site_terms)
    V = site_vcov(fit, phi)
    kept = np.flatnonzero(~thin)
    treated = np.isfinite(s.site_pos[kept])
    idx = np.flatnonzero(treated)
    names = ["level_change", "slope_change"][:k_eff]
    est = fit.alpha[idx][:, d0 : d0 + k_eff]
    se = np.sqrt(np.maximum(np.diagonal(V[idx][:, d0:, d0:], axis1=1, axis2=2), 0))
    label = s.site_labels[kept][idx]
    periods = panel.periods[s.site_pos[kept][idx].astype(int)]
    index = pd.DataFrame(
        {
            "unit": np.repeat(label, k_eff),
            "interruption": np.repeat(periods, k_eff),
            "term": np.tile(names, len(idx)),
            "n_pre": np.repeat(pre[kept][idx].astype(int), k_eff),
            "n_post": np.repeat(post[kept][idx].astype(int), k_eff),
        }
    )
    df = (
        None if opts.family != "gaussian" else int(rows.sum()) - X.shape[1] - B.shape[1] * len(kept)
    )
    return estimate_table(est.ravel(), se.ravel(), opts.confidence, df=df, index=index)
