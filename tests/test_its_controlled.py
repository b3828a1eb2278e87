"""Controlled (comparative) ITS against simulated truth, and its inference."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import spimpact as sp
from spimpact import Panel
from spimpact.its import ControlledITS, Fourier, SegmentedRegression
from spimpact.simulate import interrupted_series

#: A correct estimator misses the truth by more than 4 standard errors with
#: probability 6e-5; each test uses one fixed seed, so this never flakes.
Z_TOL = 4.0
#: Double-precision agreement with an independent computation.
NUMERIC = 1e-8
TRUE_LEVEL = math.log(0.9)


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


def _row(res, term="level_change"):
    return res.estimates.set_index("term").loc[term]


@pytest.fixture(scope="module")
def shocked():
    """A shock (rate ratio 0.8) hits every series in the interruption month."""
    sim = interrupted_series(n_control=2, shock="2019-07", shock_level_change=math.log(0.8),
                             random_state=11)
    return sim, Panel(sim.data, outcome="count", unit="series", time="month",
                      exposure="population")


def test_controlled_removes_a_shock_at_the_interruption(shocked):
    sim, panel = shocked
    res = _quiet(ControlledITS("2019-07", family="quasipoisson", treated="treated1",
                               seasonality=Fourier(12, 2), autocorrelation="newey-west"), panel)
    row = _row(res)
    assert abs(row["estimate"] - TRUE_LEVEL) < Z_TOL * row["std_error"]
    # the comparison series' change is the shock
    ctrl = _row(res, "control_level_change")
    assert abs(ctrl["estimate"] - math.log(0.8)) < Z_TOL * ctrl["std_error"]
    # a single-series ITS of the treated series confounds the two
    one = Panel(sim.data.query("series == 'treated1'"), outcome="count", time="month",
                exposure="population")
    single = _row(_quiet(SegmentedRegression("2019-07", family="quasipoisson",
                                             seasonality=Fourier(12, 2),
                                             autocorrelation="newey-west"), one))
    assert single["ci_upper"] < TRUE_LEVEL
    assert abs(single["estimate"] - (TRUE_LEVEL + math.log(0.8))) < Z_TOL * single["std_error"]


@pytest.mark.parametrize("period_effects", [False, True])
def test_controlled_with_covid_shock_recovers_level_and_slope(period_effects):
    sim = interrupted_series(n_control=1, shock="2020-04", shock_months=9, slope_change=0.003,
                             random_state=21)
    panel = Panel(sim.data, outcome="count", unit="series", time="month",
                  cohort="interruption", exposure="population")
    extra = {} if period_effects else {"seasonality": Fourier(12, 2),
                                       "extra_interruptions": [("2020-04", "2020-12")]}
    res = _quiet(ControlledITS(family="quasipoisson", slope_change=True,
                               autocorrelation="newey-west", period_effects=period_effects,
                               **extra), panel)
    assert res.interruption == sim.params.interruptions[0]
    for term, truth in (("level_change", TRUE_LEVEL), ("slope_change", 0.003)):
        row = _row(res, term)
        assert abs(row["estimate"] - truth) < Z_TOL * row["std_error"], term
    cf = res.counterfactual()
    assert set(cf["unit"]) == {"treated1", "control1"}
    treated_post = cf[(cf["treated"] == 1) & cf["post"]]
    k = np.arange(len(treated_post))  # months since the interruption
    expected = np.exp(_row(res)["estimate"] + _row(res, "slope_change")["estimate"] * k)
    np.testing.assert_allclose(treated_post["fitted"] / treated_post["counterfactual"],
                               expected, rtol=NUMERIC)
    control = cf[cf["treated"] == 0]
    np.testing.assert_allclose(control["effect"], 0.0, atol=1e-9)


def test_driscoll_kraay_matches_manual_computation(shocked):
    """Scores summed over series per period, Bartlett weights, no correction."""
    _, panel = shocked
    res = _quiet(ControlledITS("2019-07", family="poisson", treated="treated1",
                               autocorrelation="newey-west", maxlags=3), panel)
    d = res._data
    mu = np.exp(d.X @ d.params + d.offset)
    y = d.rows["observed"].to_numpy()
    scores = d.X * (y - mu)[:, None]
    codes = d.rows["time"].factorize(sort=True)[0]
    S = np.zeros((codes.max() + 1, d.X.shape[1]))
    np.add.at(S, codes, scores)
    meat = S.T @ S
    for lag in range(1, 4):
        w = 1 - lag / 4
        g = S[lag:].T @ S[:-lag]
        meat += w * (g + g.T)
    bread = np.linalg.inv(d.X.T @ (mu[:, None] * d.X))
    np.testing.assert_allclose(d.vcov, bread @ meat @ bread, rtol=1e-7, atol=1e-14)
    assert "Driscoll-Kraay" in res.method


def test_controlled_gaussian_matches_ols():
    import statsmodels.api as sm

    sim = interrupted_series(n_control=1, random_state=2)
    panel = Panel(sim.data, outcome="y", unit="series", time="month")
    res = _quiet(ControlledITS("2019-07", treated="treated1"), panel)
    d = sim.data
    t = d["time"].to_numpy() - 55.0
    z = (d["series"] == "treated1").to_numpy(float)
    post = (t >= 0).astype(float)
    X = np.column_stack([1 - z, z, t, z * t, post, z * post])
    ols = sm.OLS(d["y"].to_numpy(), X).fit()
    row = _row(res)
    assert row["estimate"] == pytest.approx(ols.params[5], rel=NUMERIC)
    assert row["std_error"] == pytest.approx(ols.bse[5], rel=NUMERIC)


def test_controlled_bad_input():
    sim = interrupted_series(n_series=2, n_control=1, stagger=3, random_state=0)
    panel = Panel(sim.data, outcome="count", unit="series", time="month",
                  cohort="interruption", exposure="population")
    with pytest.raises(sp.OptionError, match="different periods"):
        ControlledITS(family="poisson").fit(panel)
    with pytest.raises(sp.OptionError, match="not a series"):
        ControlledITS("2019-07", family="poisson", treated="nope").fit(panel)
    with pytest.raises(sp.OptionError, match="every series"):
        ControlledITS("2019-07", family="poisson",
                      treated=["treated1", "treated2", "control1"]).fit(panel)
    with pytest.raises(sp.OptionError, match="autocorrelation"):
        ControlledITS("2019-07", treated="treated1", autocorrelation="arma").fit(panel)
    with pytest.raises(sp.OptionError, match="period_effects"):
        ControlledITS("2019-07", treated="treated1", period_effects=True,
                      seasonality=Fourier(12, 1)).fit(panel)
    with pytest.raises(sp.OptionError, match="after the last"):
        ControlledITS("2025-01", treated="treated1").fit(panel)
    one = Panel(sim.data.query("series == 'treated1'"), outcome="y", time="month")
    with pytest.raises(sp.EstimationError, match="several series"):
        ControlledITS("2019-07").fit(one)
