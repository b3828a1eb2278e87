"""Multi-site ITS: the absorbed-site-effects engine against statsmodels with
site dummies, recovery of simulated truth, site-level estimates, bad input."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import spimpact as sp
from spimpact import Panel
from spimpact.its import Fourier, MultiSiteITS
from spimpact.simulate import interrupted_series, pcn_rollout

#: Double-precision agreement with statsmodels fits of the same model with
#: explicit site dummies (IRLS to a 1e-10 relative deviance change).
NUMERIC = 1e-7
#: A correct estimator misses the truth by more than 4 standard errors with
#: probability 6e-5; each test uses one fixed seed, so this never flakes.
Z_TOL = 4.0


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small dense problems: one BLAS thread is many times faster on a shared machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def _quiet(est, panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.StatisticalWarning)
        return est.fit(panel)


@pytest.fixture(scope="module")
def staggered():
    sim = interrupted_series(n_series=8, n_control=2, stagger=4, slope_change=0.002,
                             random_state=7)
    panel = Panel(sim.data, outcome="count", unit="series", time="month",
                  cohort="interruption", exposure="population")
    return sim, panel


def _dummy_design(sim, site_level: bool):
    """Explicit design: site dummies, trend, level and slope (pooled or per site), Fourier."""
    d = sim.data
    site = pd.factorize(d["series"], sort=True)[0]
    D = (site[:, None] == np.arange(site.max() + 1)).astype(float)
    t = d["time"].to_numpy(float) - 1
    t0 = (d["interruption"] - pd.Period("2015-01", "M")).map(
        lambda x: x.n if x is not pd.NaT else np.nan).to_numpy(float)
    post = np.where(np.isnan(t0), 0.0, (t >= t0)).astype(float)
    slope = np.where(post > 0, t - np.nan_to_num(t0), 0.0)
    angle = 2 * np.pi * np.asarray(d["month"].dt.month - 1 + 2015 * 12 - 1970 * 12,
                                   dtype=float) / 12
    season = np.column_stack([np.sin(angle), np.cos(angle)])
    treated = ~np.isnan(t0)
    if site_level:
        tr = np.flatnonzero(np.bincount(site, weights=treated) > 0)
        eff = np.column_stack([D[:, tr] * post[:, None], D[:, tr] * slope[:, None]])
    else:
        eff = np.column_stack([post, slope])
    return np.column_stack([eff, t, season, D]), site


def test_pooled_matches_statsmodels_with_site_dummies(staggered):
    import statsmodels.api as sm

    sim, panel = staggered
    res = _quiet(MultiSiteITS(family="quasipoisson", seasonality=Fourier(12, 1),
                              slope_change=True), panel)
    X, site = _dummy_design(sim, site_level=False)
    ref = sm.GLM(sim.data["count"].to_numpy(float), X, family=sm.families.Poisson(),
                 offset=np.log(sim.data["population"].to_numpy(float))).fit(
        tol=1e-13, cov_type="cluster", cov_kwds={"groups": site, "use_correction": False})
    tab = res.estimates.set_index("term")
    n, k, G = len(site), 5, site.max() + 1
    factor = G / (G - 1) * (n - 1) / (n - k)  # CR1, site terms nested in clusters
    for j, term in enumerate(("level_change", "slope_change", "trend", "sin1", "cos1")):
        assert tab.loc[term, "estimate"] == pytest.approx(ref.params[j], rel=NUMERIC, abs=1e-12)
        assert tab.loc[term, "std_error"] == pytest.approx(
            math.sqrt(ref.cov_params()[j, j] * factor), rel=NUMERIC)
    assert res.n_clusters == G
    assert "t" or True
    # Student t with G - 1 df
    from scipy import stats

    row = tab.loc["level_change"]
    half = stats.t.ppf(0.975, G - 1) * row["std_error"]
    assert row["ci_upper"] - row["estimate"] == pytest.approx(half, rel=1e-12)


def test_site_level_matches_statsmodels_interactions(staggered):
    import statsmodels.api as sm

    sim, panel = staggered
    res = _quiet(MultiSiteITS(family="quasipoisson", seasonality=Fourier(12, 1),
                              slope_change=True, site_estimates=True), panel)
    X, _ = _dummy_design(sim, site_level=True)
    ref = sm.GLM(sim.data["count"].to_numpy(float), X, family=sm.families.Poisson(),
                 offset=np.log(sim.data["population"].to_numpy(float))).fit(tol=1e-13,
                                                                            scale="X2")
    tab = res.site_estimates
    assert tab["unit"].nunique() == 8 and set(tab["term"]) == {"level_change", "slope_change"}
    lv = tab[tab["term"] == "level_change"]
    np.testing.assert_allclose(lv["estimate"], ref.params[:8], rtol=NUMERIC)
    np.testing.assert_allclose(lv["std_error"], ref.bse[:8], rtol=NUMERIC)
    sl = tab[tab["term"] == "slope_change"]
    np.testing.assert_allclose(sl["estimate"], ref.params[8:16], rtol=1e-6)
    assert (lv["interruption"].to_numpy() == np.array(sim.params.interruptions)).all()


def test_gaussian_matches_ols_with_dummies(staggered):
    import statsmodels.api as sm

    sim, _ = staggered
    panel = Panel(sim.data, outcome="y", unit="series", time="month", cohort="interruption")
    res = _quiet(MultiSiteITS(seasonality=Fourier(12, 1), slope_change=True), panel)
    X, site = _dummy_design(sim, site_level=False)
    ref = sm.OLS(sim.data["y"].to_numpy(), X).fit()
    tab = res.estimates.set_index("term")
    np.testing.assert_allclose(tab.loc[["level_change", "slope_change", "trend"], "estimate"],
                               ref.params[:3], rtol=NUMERIC)


def test_recovers_pooled_effects_from_many_sites():
    sim = interrupted_series(n_series=40, stagger=1, interruption="2018-01",
                             slope_change=0.002, random_state=17)
    panel = Panel(sim.data, outcome="count", unit="series", time="month",
                  cohort="interruption", exposure="population")
    res = _quiet(MultiSiteITS(family="quasipoisson", seasonality=Fourier(12, 2),
                              slope_change=True), panel)
    tab = res.estimates.set_index("term")
    for term, truth in (("level_change", math.log(0.9)), ("slope_change", 0.002)):
        assert abs(tab.loc[term, "estimate"] - truth) < Z_TOL * tab.loc[term, "std_error"]
    assert not any("clusters" in w for w in res.warnings)  # 40 clusters
    cf = res.counterfactual(by="event_time", per=1000)
    post = cf[cf["event_time"] >= 0]
    assert (post["effect_lower"] <= post["effect"]).all()
    pre = cf[cf["event_time"] < 0]
    np.testing.assert_allclose(pre["effect"], 0.0, atol=1e-9)


def test_practice_level_rollout_with_covid():
    """Practices interrupted at their PCN's link-worker start, COVID-19 as a
    temporary calendar interruption, inference clustered by PCN."""
    sim = pcn_rollout(n_pcns=120, n_icbs=6, effect="constant", covid_deprivation=0.0,
                      random_state=3)
    panel = sim.panel("ae_attendances", covariates=())
    res = _quiet(MultiSiteITS(family="quasipoisson", seasonality=Fourier(4, 1),
                              extra_interruptions=[("2020Q2", "2021Q1")]), panel)
    truth = sim.params.effect_size["ae_attendances"]
    row = res.estimates.set_index("term").loc["level_change"]
    assert abs(row["estimate"] - truth) < Z_TOL * row["std_error"]
    assert res.n_clusters == 120 and "pcn" in res.method


def test_sites_interrupted_at_first_period_are_set_aside():
    sim = interrupted_series(n_series=3, n_control=1, interruption=["2016-01", "2019-01",
                                                                      "2020-01"],
                             random_state=1)
    sim_data = sim.data.copy()
    sim_data.loc[sim_data["series"] == "treated1", "interruption"] = pd.Period("2014-06", "M")
    panel = Panel(sim_data, outcome="y", unit="series", time="month", cohort="interruption")
    note = "1 units treated by the first period 2015-01 (108 rows) were left out"
    with pytest.warns(sp.DataWarning, match=re.escape(note)):
        res = _quiet(MultiSiteITS(), panel)
    assert res.n_units == 3 and any(note in w for w in res.warnings)


def test_multisite_bad_input(staggered):
    sim, panel = staggered
    with pytest.raises(sp.OptionError, match="negbin"):
        MultiSiteITS(family="negbin").fit(panel)
    no_cohort = Panel(sim.data, outcome="count", unit="series", time="month")
    with pytest.raises(sp.OptionError, match="cohort"):
        MultiSiteITS(family="poisson").fit(no_cohort)
    with pytest.raises(sp.OptionError, match="site_estimates"):
        MultiSiteITS(site_estimates="yes").fit(panel)
    res = _quiet(MultiSiteITS(family="poisson"), panel)
    with pytest.raises(sp.OptionError, match="site_estimates=True"):
        res.site_estimates  # noqa: B018
    with pytest.raises(sp.OptionError, match="by must be"):
        res.counterfactual(by="week")
    bad = sim.data.assign(count=sim.data["count"] + 0.5)
    with pytest.raises(sp.EstimationError, match="needs counts"):
        MultiSiteITS(family="poisson").fit(Panel(bad, outcome="count", unit="series",
                                                 time="month", cohort="interruption"))
