"""Single-series segmented regression: the Sicily tutorial, inference options,
diagnostics and bad inputs."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import spimpact as sp
from spimpact import Panel
from spimpact.its import Fourier, SegmentedRegression, load_sicily
from spimpact.simulate import interrupted_series

DATA = Path(__file__).parent / "data"

#: The tutorial reports rate ratios and dispersions to 3 decimals: agreement to
#: half a unit in the third decimal is agreement with the published numbers.
PUBLISHED_DECIMALS = 0.0005 + 1e-12
#: Independent computations in double precision (statsmodels calls, closed forms).
NUMERIC = 1e-8


@pytest.fixture(scope="module")
def sicily() -> Panel:
    df = pd.read_csv(DATA / "sicily.csv")
    return Panel(df, outcome="aces", time="time", exposure="stdpop")


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small dense problems: one BLAS thread is many times faster on a shared machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def _fit(panel: Panel, **kw) -> sp.its.ITSResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.StatisticalWarning)
        return SegmentedRegression(37, **kw).fit(panel)


def _rr(res, term: str = "level_change") -> tuple[float, float, float]:
    row = res.rate_ratios().set_index("term").loc[term]
    return float(row["rate_ratio"]), float(row["ci_lower"]), float(row["ci_upper"])


# ------------------------------------------------------------------ Sicily
# Published values: Lopez Bernal, Cummins & Gasparrini (2017), reproduced in
# shared/reference/its/README.md (copied with the data to tests/data/).
SICILY = [
    ({"family": "poisson"}, (0.894, 0.865, 0.925), 1.0),
    ({"family": "quasipoisson"}, (0.894, 0.839, 0.953), 3.559),
    ({"family": "quasipoisson", "seasonality": Fourier(12, 2)}, (0.885, 0.839, 0.933), 2.262),
    ({"family": "quasipoisson", "seasonality": Fourier(12, 2), "slope_change": True,
      "slope_origin": 1}, (0.876, 0.827, 0.929), 2.275),
    ({"family": "quasipoisson", "seasonality": Fourier(12, 2), "slope_change": True},
     (0.878, 0.829, 0.929), 2.275),
]


@pytest.mark.parametrize(("options", "expected", "dispersion"), SICILY)
def test_sicily_level_change(sicily, options, expected, dispersion):
    res = _fit(sicily, **options)
    np.testing.assert_allclose(_rr(res), expected, atol=PUBLISHED_DECIMALS)
    assert abs(res.dispersion - dispersion) <= PUBLISHED_DECIMALS


def test_sicily_slope_and_trend(sicily):
    res = _fit(sicily, family="quasipoisson", seasonality=Fourier(12, 2), slope_change=True,
               slope_origin=1)
    assert abs(_rr(res, "slope_change")[0] - 1.0015) <= 0.00005 + 1e-12  # published to 4 dp
    seasonal = _fit(sicily, family="quasipoisson", seasonality=Fourier(12, 2))
    trend = seasonal.estimates.set_index("term").loc["trend", "estimate"]
    assert abs(np.exp(12 * trend) - 1.067) <= PUBLISHED_DECIMALS


def test_sicily_matches_direct_statsmodels_glm(sicily):
    """The package's terms equal a hand-built statsmodels GLM (independent design)."""
    import statsmodels.api as sm

    df = load_sicily()
    k = np.arange(1, 3)
    ang = 2 * np.pi * np.outer(df["time"], k) / 12
    X = np.column_stack([np.ones(59), df["smokban"], df["time"] - 37, np.sin(ang), np.cos(ang)])
    ref = sm.GLM(df["aces"], X, family=sm.families.Poisson(),
                 offset=np.log(df["stdpop"])).fit(scale="X2")
    res = _fit(sicily, family="quasipoisson", seasonality=Fourier(12, 2)).estimates
    got = res.set_index("term").loc[["intercept", "level_change", "trend"]]
    np.testing.assert_allclose(got["estimate"], ref.params[:3], rtol=NUMERIC)
    np.testing.assert_allclose(got["std_error"], ref.bse[:3], rtol=NUMERIC)


def test_sicily_periods_time_axis_gives_same_effect(sicily):
    """Monthly Periods instead of 1..59: Fourier phase differs, effects do not."""
    df = load_sicily().assign(month=lambda d: pd.PeriodIndex(
        pd.to_datetime(dict(year=d["year"], month=d["month"], day=1)), freq="M"))
    panel = Panel(df, outcome="aces", time="month", exposure="stdpop")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.StatisticalWarning)
        res = SegmentedRegression("2005-01", family="quasipoisson",
                                  seasonality=Fourier(12, 2)).fit(panel)
    ref = _fit(sicily, family="quasipoisson", seasonality=Fourier(12, 2))
    np.testing.assert_allclose(_rr(res), _rr(ref), rtol=NUMERIC)


def test_sicily_result_views(sicily):
    res = _fit(sicily, family="quasipoisson", seasonality=Fourier(12, 2))
    assert res.estimates["term"].tolist()[:2] == ["level_change", "trend"]
    assert {"sin1", "cos1", "sin2", "cos2"} <= set(res.estimates["term"])
    cf = res.counterfactual()
    post = cf["post"].to_numpy()
    # before the interruption the counterfactual is the fitted model; after, the
    # ratio fitted / counterfactual is the level change's rate ratio
    np.testing.assert_allclose(cf.loc[~post, "effect"], 0.0, atol=1e-9)
    np.testing.assert_allclose(cf.loc[post, "fitted"] / cf.loc[post, "counterfactual"],
                               _rr(res)[0], rtol=NUMERIC)
    assert (cf["counterfactual_lower"] <= cf["counterfactual"]).all()
    rates = res.counterfactual(per=100_000)
    np.testing.assert_allclose(rates["observed"], load_sicily()["aces"] / load_sicily()[
        "stdpop"] * 1e5, rtol=NUMERIC)
    cum = res.cumulative_effect()
    assert cum.estimate == pytest.approx(cf.loc[post, "effect"].sum(), rel=NUMERIC)
    assert set(res.diagnostics["test"]) == {"ljung_box", "breusch_godfrey", "durbin_watson"}
    import matplotlib

    matplotlib.use("Agg")
    ax = res.plot()
    assert ax.get_legend() is not None
    with pytest.raises(AttributeError):
        res.foo = 1  # results are immutable


# ------------------------------------------------------- inference options
def test_newey_west_equals_statsmodels_ols_hac():
    """Gaussian + Newey-West: the GLM route equals OLS with HAC (another statsmodels path)."""
    import statsmodels.api as sm

    sim = interrupted_series(random_state=1)
    panel = Panel(sim.data, outcome="y", time="month")
    res = SegmentedRegression("2019-07", autocorrelation="newey-west", maxlags=5).fit(panel)
    t = np.arange(108.0)
    X = np.column_stack([np.ones(108), t - 54, (t >= 54).astype(float)])
    ref = sm.OLS(sim.data["y"].to_numpy(), X).fit(cov_type="HAC", cov_kwds={"maxlags": 5})
    got = res.estimates.set_index("term").loc[["intercept", "trend", "level_change"]]
    np.testing.assert_allclose(got["estimate"], ref.params, rtol=NUMERIC)
    np.testing.assert_allclose(got["std_error"], ref.bse, rtol=1e-6)
    assert "Newey-West" in res.method


@pytest.mark.parametrize("small_sample", [False, True])  # ML (SARIMAX) and REML
def test_arma_errors_recover_ar_coefficient(small_sample):
    """ARMA(1,0) errors on a Gaussian series whose noise is AR(1) with phi = 0.6
    (noise_sd dominant over the measurement noise): phi is recovered."""
    sim = interrupted_series(random_state=4, ar=0.6, noise_sd=0.05, y_sd=0.001)
    panel = Panel(sim.data, outcome="y", time="month")
    res = SegmentedRegression("2019-07", autocorrelation="arma", seasonality=Fourier(12, 1),
                              small_sample=small_sample).fit(panel)
    tab = res.estimates.set_index("term")
    ar1 = tab.loc["ar1"]
    assert ar1["ci_lower"] <= 0.6 <= ar1["ci_upper"]
    lvl = tab.loc["level_change"]
    assert lvl["ci_lower"] <= np.log(0.9) <= lvl["ci_upper"]


def test_negbin_recovers_level_change():
    sim = interrupted_series(random_state=2, ar=0.0, noise_sd=0.04)
    panel = Panel(sim.data, outcome="count", time="month", exposure="population")
    res = SegmentedRegression("2019-07", family="negbin", seasonality=Fourier(12, 2)).fit(panel)
    row = res.estimates.set_index("term").loc["level_change"]
    assert row["ci_lower"] <= np.log(0.9) <= row["ci_upper"]
    assert res.info["alpha"] > 0


def test_diagnostics_match_statsmodels_ljung_box_and_breusch_godfrey():
    import statsmodels.api as sm
    from statsmodels.stats.diagnostic import acorr_breusch_godfrey, acorr_ljungbox

    sim = interrupted_series(random_state=3)
    panel = Panel(sim.data, outcome="y", time="month")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.StatisticalWarning)
        res = SegmentedRegression("2019-07").fit(panel)
    t = np.arange(108.0)
    X = np.column_stack([np.ones(108), t - 54, (t >= 54).astype(float)])
    ols = sm.OLS(sim.data["y"].to_numpy(), X).fit()
    diag = res.diagnostics.set_index("test")
    lags = int(diag.loc["ljung_box", "lags"])
    lb = acorr_ljungbox(ols.resid, lags=[lags])
    assert diag.loc["ljung_box", "statistic"] == pytest.approx(lb["lb_stat"].iloc[0], rel=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        bg = acorr_breusch_godfrey(ols, nlags=lags)
    assert diag.loc["breusch_godfrey", "statistic"] == pytest.approx(bg[0], rel=1e-6)
    # autocorrelated residuals without a correction are flagged on the result
    assert any("autocorrelated" in w for w in res.warnings)


def test_extra_interruption_stays_in_counterfactual():
    sim = interrupted_series(random_state=6, shock="2020-04", shock_months=12)
    panel = Panel(sim.data, outcome="count", time="month", exposure="population")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.StatisticalWarning)
        res = SegmentedRegression("2019-07", family="quasipoisson", seasonality=Fourier(12, 2),
                                  extra_interruptions=[("2020-04", "2021-03")]).fit(panel)
    tab = res.estimates.set_index("term")
    shock = tab.loc["level_change[2020-04..2021-03]"]
    assert shock["ci_lower"] <= np.log(0.75) <= shock["ci_upper"]
    cf = res.counterfactual()
    inside = cf["month"].between(pd.Period("2020-04", "M"), pd.Period("2021-03", "M"))
    ratio = cf["fitted"] / cf["counterfactual"]
    np.testing.assert_allclose(ratio[inside], np.exp(tab.loc["level_change", "estimate"]),
                               rtol=NUMERIC)


# --------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def series() -> pd.DataFrame:
    return interrupted_series(random_state=0).data


def test_interruption_outside_series(series):
    panel = Panel(series, outcome="count", time="month", exposure="population")
    for bad in ("2030-01", "2010-01", "2015-01"):
        with pytest.raises(sp.OptionError, match="interruption"):
            SegmentedRegression(bad, family="poisson").fit(panel)
    with pytest.raises(sp.OptionError, match="cannot be placed"):
        SegmentedRegression("not a month", family="poisson").fit(panel)
    num = Panel(load_sicily(), outcome="aces", time="time", exposure="stdpop")
    with pytest.raises(sp.OptionError, match="after the last"):
        SegmentedRegression(60, family="poisson").fit(num)


def test_too_few_points(series):
    panel = Panel(series, outcome="y", time="month")
    with pytest.raises(sp.EstimationError, match="before the interruption"):
        SegmentedRegression("2015-03").fit(panel)
    with pytest.raises(sp.EstimationError, match="slope change"):
        SegmentedRegression("2023-11", slope_change=True).fit(panel)
    SegmentedRegression("2023-11").fit(panel)  # a level change alone is fine with 2


def test_count_family_needs_counts(series):
    bad = series.assign(count=series["y"])  # log rates: not whole numbers
    panel = Panel(bad, outcome="count", time="month", exposure="population")
    with pytest.raises(sp.EstimationError, match="needs counts.*not a whole number"):
        SegmentedRegression("2019-07", family="quasipoisson").fit(panel)
    negative = series.assign(count=series["count"] - 10_000)
    # without an exposure the Panel takes any number; the count family refuses
    panel = Panel(negative, outcome="count", time="month")
    with pytest.raises(sp.EstimationError, match="needs counts.*negative"):
        SegmentedRegression("2019-07", family="poisson").fit(panel)
    # with an exposure the Panel itself refuses negative counts, naming the column
    with pytest.raises(sp.SpimpactError, match="'count'"):
        Panel(negative, outcome="count", time="month", exposure="population")


def test_bad_exposure(series):
    for value in (0.0, np.nan, -5.0):
        bad = series.copy()
        bad.loc[3, "population"] = value
        with pytest.raises(sp.PanelError, match="population"):
            Panel(bad, outcome="count", time="month", exposure="population")
    assert series["population"].notna().all()  # the user's frame is untouched


def test_bad_options(series):
    panel = Panel(series, outcome="count", time="month", exposure="population")
    with pytest.raises(sp.OptionError, match="arma"):
        SegmentedRegression("2019-07", family="poisson", autocorrelation="arma").fit(panel)
    with pytest.raises(sp.OptionError, match="maxlags"):
        SegmentedRegression("2019-07", maxlags=3).fit(panel)
    with pytest.raises(sp.OptionError, match="family"):
        SegmentedRegression("2019-07", family="binomial").fit(panel)
    with pytest.raises(sp.OptionError, match="order"):
        Fourier(12, 6)
    with pytest.raises(sp.OptionError, match="seasonality"):
        SegmentedRegression("2019-07", seasonality=12).fit(panel)
    with pytest.raises(sp.OptionError, match="extra_interruptions"):
        SegmentedRegression("2019-07", extra_interruptions=["2031-01"]).fit(panel)


def test_several_series_rejected():
    sim = interrupted_series(n_series=2, random_state=0)
    panel = Panel(sim.data, outcome="y", unit="series", time="month")
    with pytest.raises(sp.EstimationError, match="ControlledITS"):
        SegmentedRegression("2019-07").fit(panel)


def test_fit_leaves_inputs_unchanged(series):
    before = series.copy()
    panel = Panel(series, outcome="count", time="month", exposure="population")
    est = SegmentedRegression("2019-07", family="poisson")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.StatisticalWarning)
        est.fit(panel)
    pd.testing.assert_frame_equal(series, before)
    assert est.interruption == "2019-07" and not hasattr(est, "result_")


def test_series_estimators_refuse_an_unused_cluster_role():
    """SegmentedRegression and ControlledITS model the series' autocorrelation and
    would not use cluster=: refused with the fix, never ignored."""
    from spimpact.its import ControlledITS

    rng = np.random.default_rng(0)
    months = pd.period_range("2016-01", periods=48, freq="M")
    one = pd.DataFrame({"month": months, "y": rng.normal(size=48), "area": "a"})
    with pytest.raises(sp.EstimationError, match="does not use the panel's cluster='area'"):
        SegmentedRegression("2018-01").fit(Panel(one, outcome="y", time="month",
                                                 cluster="area"))
    two = pd.concat([one.assign(series=s) for s in "ab"], ignore_index=True)
    with pytest.raises(sp.EstimationError, match="MultiSiteITS"):
        ControlledITS("2018-01", treated="a").fit(
            Panel(two, outcome="y", unit="series", time="month", cluster="area"))
