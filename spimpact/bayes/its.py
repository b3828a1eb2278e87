"""Multi-site interrupted time series as a hierarchical model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._estimator import Estimator, check_confidence
from .._sample import refuse_dose, refuse_general_treatment, require_panel
from ..errors import EstimationError, OptionError
from ..inference import RandomState, validate_choice
from ..its import Fourier, fourier_terms, time_index
from ..panel import Panel
from ._design import GroupDesign, check_family, offset_of
from ._model import (
    GroupVars,
    add_group,
    add_likelihood,
    family_vars,
    standardised_effects,
    var_name,
)
from ._sampling import check_sampling_options, diagnose, gate_warnings, sample, summarise_draws
from .priors import Priors, ResolvedPriors, as_priors, prior_table, resolve
from .results import BayesResult

__all__ = ["MultilevelITS", "MultilevelITSResult"]


@dataclass(frozen=True)
class _ITSData:
    y: np.ndarray
    site: np.ndarray
    treated_site: np.ndarray
    sites: pd.Index
    treated_labels: pd.Index
    post: np.ndarray
    since: np.ndarray
    tc: np.ndarray
    t_mean: float
    t_sd: float
    S: np.ndarray
    s_names: tuple[str, ...]
    s_mean: np.ndarray
    offset: np.ndarray | None
    notes: tuple[str, ...] = ()


def _its_data(panel: Panel, family: str, seasonality: Fourier | None) -> _ITSData:
    """Rows, effects and terms of the model. Time is the ITS family's calendar
    axis (:func:`spimpact.its.time_index`, from the first period): the trend,
    the time since interruption and the Fourier terms are those of
    :class:`~spimpact.its.MultiSiteITS`."""
    refuse_general_treatment(panel, "MultilevelITS")
    if panel.kind != "panel" or not panel.has_cohorts:
        raise EstimationError("MultilevelITS needs a panel of sites (unit=) over periods (time=) "
                              "with each site's interruption as cohort= (missing for controls).")
    # the sample every staggered design uses: sites interrupted at or before the
    # first period are set aside (with a note), interruptions after the window
    # make a site a comparison
    refuse_dose(panel, "MultilevelITS")
    us = panel.unit_sample()
    y = us.rows(panel.y).astype(float)
    check_family(y, family, panel.outcome)
    t = us.rows(panel.time_codes)
    t0 = us.row_cohort
    treated = np.isfinite(t0)
    if not treated.any():
        raise EstimationError("no site is interrupted inside the panel's window (every "
                              "interruption is missing, before the first period or after "
                              "the last).")
    post = (treated & (t >= np.where(treated, t0, 0))).astype(float)
    t_of_pos = time_index(panel.periods)
    tt = t_of_pos[t] - t_of_pos[0]  # calendar time, as MultiSiteITS's trend
    t0_cal = t_of_pos[np.where(treated, t0, 0).astype(np.intp)] - t_of_pos[0]
    since = np.where(post > 0, tt - t0_cal, 0.0)
    site = us.unit
    sites = panel.units[us.unit_codes]
    tr_codes, tr_labels = pd.factorize(np.where(treated, site, -1), sort=True)
    if (~treated).any():  # -1 sorts first: controls
        tr_codes, tr_labels = tr_codes - 1, tr_labels[1:]
    if seasonality is None:
        S, names = np.zeros((len(y), 0)), tuple[str, ...]()
    else:
        S, names = fourier_terms(t_of_pos[t], seasonality), seasonality.names
    s_mean = S.mean(axis=0)
    return _ITSData(
        y=y, site=site, treated_site=np.maximum(tr_codes, 0).astype(np.intp), sites=sites,
        treated_labels=sites[np.asarray(tr_labels, dtype=int)], post=post, since=since,
        tc=(tt - tt.mean()) / max(float(tt.std()), 1e-9), t_mean=float(tt.mean()),
        t_sd=max(float(tt.std()), 1e-9), S=S - s_mean, s_names=names,
        s_mean=s_mean, offset=None if (off := offset_of(panel, family)) is None else us.rows(off),
        notes=tuple(us.notes),
    )


class MultilevelITS(Estimator):
    """Multi-site interrupted time series with partially pooled effects.

    For site ``s`` in period ``t`` (interruption ``t0_s``, the site's cohort)::

        eta_st = a + a_s + (b + b_s) t + seasonality_t
                 + post_st (L + l_s) + post_st (t - t0_s) (S + s_s)
                 [+ log exposure for counts]

    ``t`` is the ITS family's calendar time index (:func:`spimpact.its.time_index`:
    months for monthly periods, the values of a numeric time column, so gaps
    count), from the first period, as in :class:`~spimpact.its.MultiSiteITS`;
    ``trend`` and ``slope_change`` are per unit of it. Sites' baseline levels
    ``a_s`` vary (and, with ``site_trends``, their trends ``b_s``);
    level changes ``L + l_s`` and slope changes ``S + s_s`` are partially
    pooled across the interrupted sites (``l_s ~ N(0, sd_level)``,
    ``s_s ~ N(0, sd_slope)``). Sites without an interruption are controls:
    they inform the trend and seasonality. Effects are in outcome units
    (Gaussian) or log rate ratios (counts).

    Parameters
    ----------
    family : {"gaussian", "poisson", "negbin"}
    seasonality : Fourier, optional
        Fourier terms of the time index, as in the frequentist ITS family
        (e.g. ``Fourier(12, 1)`` for one harmonic of the annual cycle of
        monthly data): the same columns as
        :class:`~spimpact.its.MultiSiteITS`'s.
    priors : Priors or dict, optional
        ``effect_sd`` sets the prior SD of the pooled level change (the slope
        change's is scaled by the spread of time since interruption).
    chains, draws, tune, sampler, random_state, confidence, progress
        As in :class:`~spimpact.bayes.MultilevelModel`.
    target_accept : float
        NUTS target acceptance rate; 0.9 by default, as the SDs of site trends
        and effects are often near zero, where smaller steps avoid divergences.
    site_trends : bool
        Let each site's trend deviate from the common trend (partially pooled).
        Off by default: a spread of trends near zero slows sampling, and the
        site level with the common trend usually suffices.
    centred : sequence of {"level_change", "slope_change"}
        Site-level effects parameterised centred; the others are non-centred.
        Centre an effect that clearly varies between sites and that each
        site's long series pins down (default: the level change); keep
        non-centred one whose spread is near zero (default: the slope change).

    Examples
    --------
    >>> import spimpact as sp
    >>> from spimpact.simulate import interrupted_series
    >>> sim = interrupted_series(n_series=4, stagger=3, noise_sd=0.0, random_state=1)
    >>> panel = sp.Panel(sim.data, outcome="count", unit="series", time="month",
    ...                  cohort="interruption", exposure="population")
    >>> from spimpact.its import Fourier
    >>> its = MultilevelITS(family="poisson", seasonality=Fourier(12, 1), random_state=1)
    >>> res = its.fit(panel)  # doctest: +SKIP
    >>> res.estimates.term.iloc[0]  # doctest: +SKIP
    'level_change'
    """

    def __init__(
        self,
        family: Literal["gaussian", "poisson", "negbin"] = "gaussian",
        seasonality: Fourier | None = None,
        priors: Priors | Mapping[str, Any] | None = None,
        chains: int = 4,
        draws: int = 1000,
        tune: int = 1000,
        sampler: Literal["nutpie", "pymc"] = "nutpie",
        random_state: RandomState = None,
        confidence: float = 0.95,
        target_accept: float = 0.9,
        progress: bool = False,
        site_trends: bool = False,
        centred: Sequence[str] = ("level_change",),
    ) -> None:
        self.family = family
        self.seasonality = seasonality
        self.site_trends = site_trends
        self.centred = centred
        self.priors = priors
        self.chains = chains
        self.draws = draws
        self.tune = tune
        self.sampler = sampler
        self.random_state = random_state
        self.confidence = confidence
        self.target_accept = target_accept
        self.progress = progress

    def _validate(self) -> None:
        check_confidence(self.confidence)
        validate_choice("family", self.family, ("gaussian", "poisson", "negbin"))
        check_sampling_options(self.sampler, self.chains, self.draws, self.tune)
        bad = set(self.centred) - {"level_change", "slope_change"}
        if isinstance(self.centred, str) or bad:
            raise OptionError(f"centred must list 'level_change' and/or 'slope_change', not "
                              f"{self.centred!r}.")
        if not isinstance(self.site_trends, bool):
            raise OptionError(f"site_trends must be True or False, not {self.site_trends!r}.")
        if self.seasonality is not None and not isinstance(self.seasonality, Fourier):
            raise OptionError(f"seasonality must be None or Fourier(period, order), as in "
                              f"spimpact.its (e.g. Fourier(12, 1) for one harmonic of a monthly "
                              f"cycle), not {self.seasonality!r}.")

    def fit(self, panel: Panel) -> MultilevelITSResult:
        """Sample the posterior on ``panel`` (sites x periods)."""
        self._validate()
        require_panel(panel, "MultilevelITS.fit", error=OptionError)
        if panel.weights is not None:
            raise OptionError(f"the panel has sampling weights ({panel.weights!r}), which "
                              f"MultilevelITS does not use; build the Panel without weights=.")
        d = _its_data(panel, self.family, self.seasonality)
        X = np.column_stack([d.tc, d.S])
        pr = resolve(as_priors(self.priors), d.y, self.family, X=X,
                     names=("trend", *d.s_names),
                     exposure=None if d.offset is None else np.exp(d.offset))
        slope_scale = float(np.std(d.since[d.post > 0])) or 1.0
        model, data, key, groups = _build(d, self.family, pr, str(panel.unit), slope_scale,
                                          self.site_trends, tuple(self.centred))
        idata, used = sample(model, data, key, sampler=self.sampler, chains=self.chains,
                             draws=self.draws, tune=self.tune, random_state=self.random_state,
                             target_accept=self.target_accept, progress=self.progress)
        diag = diagnose(idata, [v.name for v in model.free_RVs])
        table, row_draws = _its_table(idata.posterior, d, self.family, str(panel.unit),
                                      self.confidence, slope_scale)
        extra = {"level change L (log scale for counts)": f"Normal(0, {pr.effect_sd:.4g})",
                 "slope change S": f"Normal(0, {pr.effect_sd / slope_scale:.4g})",
                 "sd of site level / slope changes":
                     f"HalfNormal({pr.effect_sd / 2:.4g}) / HalfNormal("
                     f"{pr.effect_sd / slope_scale / 2:.4g})"}
        info = {"family": self.family, "sampler": used,
                "draws": f"{self.chains} chains x {self.draws} (tune {self.tune})",
                "interrupted sites": len(d.treated_labels),
                "control sites": len(d.sites) - len(d.treated_labels),
                "max R-hat": diag["max_rhat"], "min bulk ESS": diag["min_ess_bulk"],
                "divergences": diag["divergences"],
                "intervals": f"equal-tailed {100 * self.confidence:g}% credible"}
        return MultilevelITSResult(
            table, treated_sites=d.treated_labels, slope_scale=slope_scale, idata=idata,
            diagnostics=diag, row_draws=row_draws,
            priors=prior_table(pr, self.family, ("trend", *d.s_names), True, extra),
            groups=groups, model=model, method=f"Bayesian multi-site ITS ({self.family})",
            confidence=self.confidence, n_obs=len(d.y), n_units=len(d.sites),
            warnings=[*d.notes, *gate_warnings(diag)], info=info,
        )


def _build(d: _ITSData, family: str, pr: ResolvedPriors, site_name: str, slope_scale: float,
           site_trends: bool, centred: Sequence[str] = ("level_change",),
           ) -> tuple[Any, dict[str, np.ndarray], tuple, list[Any]]:
    """The PyMC model; time (``tc``) and time since interruption are standardised,
    the slope change sampled per ``slope_scale`` periods. Site levels are centred
    on the intercept; site level and slope changes as ``centred`` says; site
    trends non-centred."""
    from ._deps import pymc

    pm = pymc()
    n_tr = len(d.treated_labels)
    X = np.column_stack([d.tc, d.S])
    data = {"d_y": d.y, "d_site": d.site, "d_tsite": d.treated_site, "d_post": d.post,
            "d_since": d.since / slope_scale, "d_X": X}
    with pm.Model() as model:
        y = pm.Data("d_y", d.y)
        a = pm.Normal("Intercept_c", pr.intercept[0], pr.intercept[1])
        site = pm.Data("d_site", d.site)
        # site levels centred on the intercept (hierarchical centring)
        sd_site = pm.HalfNormal(var_name("sd", site_name), pr.group_sd)
        level = pm.Normal(f"level_{var_name('', site_name)[1:]}", a, sd_site, shape=len(d.sites))
        pm.Deterministic(var_name("z", site_name), level - a)
        groups = [GroupVars(site_name, d.sites, ("Intercept",), "centred", var_name("z", site_name),
                            var_name("sd", site_name))]
        eta = level[site] + standardised_effects(pm, "d_X", X, np.asarray(pr.coef_sd))
        if site_trends:
            data["d_Z"] = d.tc[:, None]
            gd = GroupDesign(site_name, d.site, d.sites, d.tc[:, None], ("trend",), False)
            contrib, gv = add_group(gd, site, pm.Data("d_Z", data["d_Z"]), pr, prefix="trend_")
            eta, groups = eta + contrib, [*groups, gv]
        ts = pm.Data("d_tsite", d.treated_site)
        effects = []
        for term, centre in (("level_change", "level_change" in centred),
                             ("slope_change_std", "slope_change" in centred)):
            mean = pm.Normal(term, 0.0, pr.effect_sd)
            sd = pm.HalfNormal(f"sd_{term}", pr.effect_sd / 2)
            if centre:
                eff = pm.Normal(f"site_{term}", mean, sd, shape=n_tr)
                pm.Deterministic(f"z_{term}", (eff - mean) / sd)
            else:
                eff = mean + sd * pm.Normal(f"z_{term}", 0.0, 1.0, shape=n_tr)
            effects.append(eff)
        eta = eta + pm.Data("d_post", d.post) * effects[0][ts] \
            + pm.Data("d_since", data["d_since"]) * effects[1][ts]
        if d.offset is not None:
            data["d_off"] = d.offset
            eta = eta + pm.Data("d_off", d.offset)
        add_likelihood(family, eta, y, pr)
    key = ("its", family, len(d.sites), n_tr, X.shape[1], d.offset is not None, site_trends,
           tuple(centred), pr.key())
    return model, data, key, groups


def _site_draws(post: Any, term: str, scale: float = 1.0) -> np.ndarray:
    """Each interrupted site's effect ``(chain, draw, sites)`` (divided by ``scale``)."""
    return (np.asarray(post[term])[..., None]
            + np.asarray(post[f"sd_{term}"])[..., None] * np.asarray(post[f"z_{term}"])) / scale


def _its_table(post: Any, d: _ITSData, family: str, site: str, confidence: float,
               slope_scale: float) -> tuple[pd.DataFrame, np.ndarray]:
    """Pooled effects, their spread, the common terms and the site SDs (per period),
    and the draws they summarise ``(chain, draw, rows)``."""
    beta = np.asarray(post["beta_std"])
    trend = beta[..., 0] / d.t_sd
    intercept = np.asarray(post["Intercept_c"]) - trend * d.t_mean
    if d.S.shape[1]:
        intercept = intercept - beta[..., 1:] @ d.s_mean
    cols = [np.asarray(post["level_change"]), np.asarray(post["slope_change_std"]) / slope_scale,
            np.asarray(post["sd_level_change"]),
            np.asarray(post["sd_slope_change_std"]) / slope_scale,
            intercept, trend, *[beta[..., 1 + j] for j in range(d.S.shape[1])]]
    names = ["level_change", "slope_change", f"sd(level_change | {site})",
             f"sd(slope_change | {site})", "Intercept", "trend", *d.s_names]
    for prefix, label in (("", "Intercept"), ("trend_", "trend")):
        name = var_name("sd", prefix + site)
        if name in post:
            scale = d.t_sd if label == "trend" else 1.0
            cols.append(np.asarray(post[name]) / scale)
            names.append(f"sd({label} | {site})")
    for label, var in family_vars(family):
        cols.append(np.asarray(post[var]))
        names.append(label)
    draws = np.stack(cols, axis=-1)
    return summarise_draws(draws, {"term": names}, confidence), draws


class MultilevelITSResult(BayesResult):
    """Pooled level and slope changes (``.estimates``) and each site's own
    (:meth:`site_effects`), with the posterior."""

    def __init__(self, estimates: pd.DataFrame, *, treated_sites: Sequence[Any],
                 slope_scale: float = 1.0, **kwargs: Any) -> None:
        self._treated = pd.Index(treated_sites)
        self._slope_scale = slope_scale
        super().__init__(estimates, **kwargs)

    def site_effects(self) -> pd.DataFrame:
        """Each interrupted site's level and slope change, partially pooled."""
        post = self._idata.posterior
        lev = _site_draws(post, "level_change")
        slo = _site_draws(post, "slope_change_std", self._slope_scale)
        c, d, k = lev.shape
        draws = np.concatenate([lev, slo], axis=-1)
        index = {"site": np.r_[np.asarray(self._treated, dtype=object),
                               np.asarray(self._treated, dtype=object)],
                 "term": ["level_change"] * k + ["slope_change"] * k}
        return summarise_draws(draws, index, self.confidence).drop(columns="p_value")
