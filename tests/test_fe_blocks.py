"""Cohort-block fits of balanced panels without covariates
(:mod:`spimpact.did._fe_blocks`: Sun-Abraham, imputation, two-stage, linear
ETWFE, TWFE).

Reference: the row-level regressions of the same estimators (the sparse
within-unit OLS of :func:`spimpact.did._fe.within_ols` with explicit period
and cell dummies and dense per-unit influence functions), forced with
``factored=False``; those are themselves tested against pyfixest and slow
computations in ``tests/test_did_estimators.py``. Cells, standard errors under
every ``inference=`` choice (cv3 and cr2 include the leverage of each unit's
role, which depends on which units influence which cell), aggregations, the
pre-tests and the warnings must agree: estimates to 1e-9 absolute, standard
errors and Wald statistics to 1e-8 relative, the per-unit influence functions
to 1e-8 of their largest value.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from spimpact import Panel
from spimpact.did import ETWFE, TWFE, Imputation, SunAbraham, TwoStage
from spimpact.did import etwfe as etwfe_module
from spimpact.did import imputation as imputation_module
from spimpact.did import sun_abraham as sun_abraham_module
from spimpact.did import twfe as twfe_module
from spimpact.inference import FactoredInfluence

EST_TOL, SE_TOL = 1e-9, 1e-8


def _frame(seed=3, n=240, T=8, cohorts=(1, 3, 4, 6, 0), unbalanced=False):
    """Staggered panel; cohort 1 has a single pre-treatment period (its units'
    first-step imputation residuals are zero: the structural-zero rule)."""
    rng = np.random.default_rng(seed)
    g = rng.choice(cohorts, size=n)
    t = np.tile(np.arange(T), n)
    G = np.repeat(g, T)
    eff = np.where((G > 0) & (t >= G), 1.0 + 0.2 * (t - G), 0.0)
    y = np.repeat(rng.normal(size=n), T) + 0.1 * t + eff + rng.normal(size=n * T)
    df = pd.DataFrame({"id": np.repeat(np.arange(n), T), "period": t, "G": G, "y": y,
                       "wt": np.repeat(rng.uniform(0.5, 2.0, n), T),
                       "cl": np.repeat(np.arange(n) // 6, T)})
    if unbalanced:
        df = df.drop(index=rng.choice(len(df), 30, replace=False))
    return df.sample(frac=1.0, random_state=seed)  # row order must not matter


def _panel(df, **kw):
    return Panel(df, outcome="y", unit="id", time="period", cohort="G", never_treated=0, **kw)


def _fit(est, panel, factored):
    """Fit with the block path (default) or the row-level path."""
    saved = (sun_abraham_module.sun_abraham_cells, imputation_module.imputation_cells,
             imputation_module.bjs_pretrend_test, etwfe_module._linear, etwfe_module._poisson)
    if not factored:
        etwfe_module._linear = lambda *a, **k: saved[3](*a, **{**k, "factored": False})
        etwfe_module._poisson = lambda *a, **k: saved[4](*a, **{**k, "factored": False})
        sun_abraham_module.sun_abraham_cells = (
            lambda *a, **k: saved[0](*a, **{**k, "factored": False}))
        imputation_module.imputation_cells = (
            lambda *a, **k: saved[1](*a, **{**k, "factored": False}))
        imputation_module.bjs_pretrend_test = (
            lambda *a, **k: saved[2](*a, **{**k, "factored": False}))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return est.fit(panel)
    finally:
        (sun_abraham_module.sun_abraham_cells, imputation_module.imputation_cells,
         imputation_module.bjs_pretrend_test, etwfe_module._linear, etwfe_module._poisson) = saved


def _factored(res, roles, inference):
    """The block path was taken: the influence functions stay factored (the
    leverage adjustment of weighted or clustered units, cv3/cr2, expands them)."""
    dense = bool(roles) and inference in ("cv3", "cr2")
    assert isinstance(res._inf.psi, FactoredInfluence) is not dense


def _same(a, b):
    ea, eb = a.estimates, b.estimates
    np.testing.assert_allclose(ea["estimate"], eb["estimate"], atol=EST_TOL, rtol=0)
    np.testing.assert_allclose(ea["std_error"], eb["std_error"], rtol=SE_TOL, atol=1e-14)
    for kind in ("event", "group", "simple"):
        xa, xb = a.aggregate(kind), b.aggregate(kind)
        assert xa.overall.estimate == pytest.approx(xb.overall.estimate, abs=EST_TOL)
        assert xa.overall.std_error == pytest.approx(xb.overall.std_error, rel=SE_TOL)
        if kind != "simple":
            np.testing.assert_allclose(xa.estimates["std_error"], xb.estimates["std_error"],
                                       rtol=SE_TOL, atol=1e-14)
    if a.pretest is None:
        assert b.pretest is None
    else:
        assert a.pretest.statistic == pytest.approx(b.pretest.statistic, rel=SE_TOL)
        assert a.pretest.df == b.pretest.df
    assert a.warnings == b.warnings
    assert a.info == b.info
    psi_a, psi_b = a.influence, b.influence  # per unit, leverage-adjusted as used
    np.testing.assert_allclose(psi_a, psi_b, rtol=0, atol=SE_TOL * np.abs(psi_b).max())


ROLES = [{}, {"weights": "wt"}, {"cluster": "cl"}]
INFERENCE = ["cv3", "cr2", "cluster_t", "analytic"]


@pytest.mark.parametrize("roles", ROLES)
@pytest.mark.parametrize("inference", INFERENCE)
@pytest.mark.parametrize("opts", [{}, {"control_group": "last_treated"}, {"anticipation": 1}])
def test_sun_abraham_blocks_match_row_level_regression(roles, inference, opts):
    panel = _panel(_frame(cohorts=(2, 3, 4, 6, 0)), **roles)
    est = SunAbraham(inference=inference, **opts)
    fast = _fit(est, panel, True)
    _factored(fast, roles, inference)
    _same(fast, _fit(est, panel, False))


@pytest.mark.parametrize("roles", ROLES)
@pytest.mark.parametrize("inference", INFERENCE)
@pytest.mark.parametrize("opts", [{}, {"anticipation": 1, "pretrend_periods": 2},
                                  {"fixed_shares": False}])
def test_imputation_blocks_match_row_level_regression(roles, inference, opts):
    panel = _panel(_frame(), **roles)
    est = Imputation(inference=inference, **opts)
    fast = _fit(est, panel, True)
    _factored(fast, roles, inference)
    slow = _fit(est, panel, False)
    _same(fast, slow)
    pa, pb = fast.pretrend_estimates, slow.pretrend_estimates
    np.testing.assert_allclose(pa["estimate"], pb["estimate"], atol=EST_TOL, rtol=0)
    np.testing.assert_allclose(pa["std_error"], pb["std_error"], rtol=SE_TOL)


@pytest.mark.parametrize("roles", ROLES)
def test_two_stage_blocks_match_row_level_regression(roles):
    panel = _panel(_frame(), **roles)
    est = TwoStage()
    fast = _fit(est, panel, True)
    _factored(fast, roles, "cv3")
    _same(fast, _fit(est, panel, False))


@pytest.mark.parametrize("roles", ROLES)
@pytest.mark.parametrize("inference", INFERENCE)
@pytest.mark.parametrize("control_group", ["not_yet_treated", "never_treated"])
def test_linear_etwfe_blocks_match_row_level_regression(roles, inference, control_group):
    panel = _panel(_frame(cohorts=(2, 3, 4, 6, 0)), **roles)
    est = ETWFE(inference=inference, control_group=control_group)
    fast = _fit(est, panel, True)
    _factored(fast, roles, inference)
    _same(fast, _fit(est, panel, False))


def _twfe(est, panel, factored):
    """TWFE by cohort blocks (linearmodels' row-level fit refused) or row by row."""
    static, dynamic, fit = TWFE._static, TWFE._dynamic, twfe_module.twfe_fit

    def refuse(*a, **k):
        raise AssertionError("the row-level regression was used")

    TWFE._static = lambda self, *a, **k: static(self, *a, factored=factored)
    TWFE._dynamic = lambda self, *a, **k: dynamic(self, *a, factored=factored)
    if factored:
        twfe_module.twfe_fit = refuse
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return est.fit(panel)
    finally:
        TWFE._static, TWFE._dynamic, twfe_module.twfe_fit = static, dynamic, fit


def _same_twfe(est, panel):
    """TWFE by cohort blocks and row by row: coefficients, standard errors, the
    overall and what the result reports about its sample."""
    a, b = _twfe(est, panel, True), _twfe(est, panel, False)
    np.testing.assert_allclose(a.estimates["estimate"], b.estimates["estimate"], atol=EST_TOL,
                               rtol=0)
    np.testing.assert_allclose(a.estimates["std_error"], b.estimates["std_error"], rtol=SE_TOL)
    assert a.overall.std_error == pytest.approx(b.overall.std_error, rel=SE_TOL)
    assert (a.n_obs, a.n_units, a.n_clusters, a.warnings, a.info) == (
        b.n_obs, b.n_units, b.n_clusters, b.warnings, b.info)


@pytest.mark.parametrize("roles", [*ROLES, {"weights": "wt", "cluster": "cl"}])
@pytest.mark.parametrize("inference", INFERENCE)
@pytest.mark.parametrize("opts", [{}, {"event_study": True},
                                  {"event_study": True, "window": (-3, 2)}])
def test_twfe_blocks_match_row_level_regression(roles, inference, opts):
    """Coefficients and every ``inference=``'s standard errors (cv3 the exact
    cluster jackknife, cr2, the plain sandwich) as linearmodels' fit with
    ``fe_leverage_vcov`` (itself tested against refits in test_fe_leverage.py)."""
    df = _frame(cohorts=(1, 2, 3, 4, 6, 0))
    df["period"] += 1  # cohort 1 is treated from the first period (static TWFE keeps it)
    panel = _panel(df, **roles)
    est = TWFE(inference=inference, **opts)
    _same_twfe(est, panel)


def test_twfe_blocks_refuse_an_unidentified_event_study_as_the_rows_do():
    from spimpact.errors import EstimationError

    panel = _panel(_frame(cohorts=(2, 4, 6)))
    for factored in (True, False):
        with pytest.raises(EstimationError, match=r"not identified.*window=\(lo, hi\)"):
            _twfe(TWFE(event_study=True), panel, factored)


@pytest.mark.parametrize("roles", [*ROLES, {"weights": "wt", "cluster": "cl"}])
@pytest.mark.parametrize("inference", INFERENCE)
@pytest.mark.parametrize("event_study", [False, True])
def test_twfe_blocks_with_covariates_match_row_level_regression(roles, inference, event_study):
    """Time-varying covariates (one correlated with treatment timing) on the
    block path: each unit's own hat block (units as clusters) or the clusters'
    sums (clusters of six units)."""
    df = _frame(cohorts=(1, 2, 3, 4, 6, 0))
    rng = np.random.default_rng(2)
    df["x1"] = rng.normal(size=len(df)) + 0.1 * df["period"] * (df["G"] > 0)
    df["x2"] = rng.poisson(2.0, size=len(df)).astype(float)
    df["y"] += 0.5 * df["x1"] - 0.2 * df["x2"]
    panel = _panel(df, covariates=["x1", "x2"], **roles)
    est = TWFE(inference=inference, event_study=event_study, covariates=["x1", "x2"])
    _same_twfe(est, panel)


@pytest.mark.parametrize("roles", [*ROLES, {"weights": "wt", "cluster": "cl"}])
@pytest.mark.parametrize("inference", INFERENCE)
@pytest.mark.parametrize("opts", [{}, {"event_study": True}, {"covariates": ["x1"]},
                                  {"event_study": True, "window": (-3, 2)}])
def test_twfe_unbalanced_blocks_match_row_level_regression(roles, inference, opts):
    """Units missing periods (each unit demeaned over its own periods; the
    cohort's design rows masked) on the block path, with and without a
    covariate."""
    df = _frame(unbalanced=True, cohorts=(1, 2, 3, 4, 6, 0))
    df["period"] += 1
    df["x1"] = np.random.default_rng(5).normal(size=len(df))
    panel = _panel(df, covariates=["x1"], **roles)
    est = TWFE(inference=inference, **opts)
    _same_twfe(est, panel)


def test_twfe_unbalanced_falls_back_to_the_rows_when_a_period_is_absorbed():
    """A period observed only by units seen in no other period: its dummy is
    absorbed by their unit effects; the row-level fit drops it."""
    df = _frame()
    extra = pd.DataFrame({"id": [1000, 1001], "period": [8, 8], "G": [0, 0], "y": [0.3, -0.1],
                          "wt": [1.0, 1.0], "cl": [500, 500]})
    panel = _panel(pd.concat([df, extra], ignore_index=True))
    with pytest.raises(AssertionError, match="row-level"):
        _twfe(TWFE(event_study=True), panel, True)


def test_no_never_treated_matches():
    """Without never-treated units the last periods are not imputable (a note)."""
    panel = _panel(_frame(cohorts=(3, 4, 6)))
    for est in (Imputation(), TwoStage(), SunAbraham(control_group="last_treated")):
        _same(_fit(est, panel, True), _fit(est, panel, False))


def _counts(unbalanced=False, cohorts=(2, 3, 4, 6, 0)):
    """Counts over a list size (exposure) for the Poisson ETWFE."""
    df = _frame(cohorts=cohorts, unbalanced=unbalanced)
    rng = np.random.default_rng(4)
    df["list"] = rng.uniform(500, 3000, len(df)).round()
    rate = np.exp(-3 + 0.02 * df["period"] + 0.15 * ((df["G"] > 0) & (df["period"] >= df["G"])))
    df["y"] = rng.poisson(df["list"] * rate).astype(float)
    return df


@pytest.mark.parametrize("roles", [*ROLES, {"weights": "wt", "cluster": "cl"}])
@pytest.mark.parametrize("inference", ["cv3", "cluster_t"])
@pytest.mark.parametrize("opts", [{}, {"scale": "link"}, {"control_group": "never_treated"}])
@pytest.mark.parametrize("unbalanced", [False, True])
def test_poisson_etwfe_by_cohorts_matches_row_level(roles, inference, opts, unbalanced):
    """Without covariates the Poisson ETWFE's influence functions are factored on
    the cohorts (unbalanced panels too: a missing row adds no score): cells,
    SEs, aggregations, rate ratios as the row-level sparse computation."""
    panel = _panel(_counts(unbalanced), exposure="list", **roles)
    est = ETWFE(family="poisson", inference=inference, **opts)
    fast = _fit(est, panel, True)
    slow = _fit(est, panel, False)
    assert isinstance(fast._inf.psi, FactoredInfluence) is (
        not roles or inference != "cv3")
    _same(fast, slow)
    if opts.get("scale") != "link":
        ra, rb = fast.rate_ratios(), slow.rate_ratios()
        pd.testing.assert_frame_equal(ra, rb, check_exact=False, rtol=SE_TOL, atol=1e-12)


def test_linear_etwfe_without_never_treated_fails_alike():
    """Without never-treated units the last cohort's cells are collinear with the
    period effects once every unit is treated: both paths refuse, naming the cell."""
    from spimpact.errors import EstimationError

    panel = _panel(_frame(cohorts=(3, 4, 6)))
    msgs = []
    for factored in (True, False):
        with pytest.raises(EstimationError, match="collinear") as err:
            _fit(ETWFE(), panel, factored)
        msgs.append(str(err.value))
    assert msgs[0] == msgs[1]


@pytest.mark.parametrize("est", [Imputation, SunAbraham])
def test_bootstrap_on_blocks_agrees_with_analytic(est):
    """The multiplier bootstrap draws units in block order on the factored path
    (other draws than the row-level path's for one seed): its SEs agree with the
    analytic ones up to simulation noise (999 draws: about 2.5%; 10% allowed)."""
    panel = _panel(_frame(n=400))
    boot = _fit(est(bootstrap=999, random_state=5, inference="analytic"), panel, True)
    ana = _fit(est(inference="analytic"), panel, True)
    for kind in ("simple", "event"):
        b, a = boot.aggregate(kind), ana.aggregate(kind)
        assert b.overall.std_error == pytest.approx(a.overall.std_error, rel=0.10)


def test_unbalanced_panel_uses_the_row_level_regression():
    panel = _panel(_frame(unbalanced=True))
    for est in (SunAbraham(), Imputation(), ETWFE()):
        assert not isinstance(_fit(est, panel, True)._inf.psi, FactoredInfluence)


def test_wide_panel_does_not_depend_on_row_order():
    """Rows not sorted by unit and period (the scatter branch) give the same
    wide outcomes as the sorted rows (the reshape branch)."""
    from dataclasses import replace

    from spimpact.did._fe import fe_sample
    from spimpact.did._fe_blocks import wide_panel

    s = fe_sample(_panel(_frame()), (), "test")
    block = np.where(np.isfinite(s.unit_cohort), s.unit_cohort, 9).astype(int)
    a = wide_panel(s, block, 10)
    perm = np.random.default_rng(0).permutation(len(s.y))
    s2 = replace(s, y=s.y[perm], w=s.w[perm], unit=s.unit[perm], time=s.time[perm])
    b = wide_panel(s2, block, 10)
    assert a is not None and b is not None
    np.testing.assert_array_equal(a.Y[a.take], b.Y[b.take])
    np.testing.assert_array_equal(a.order, b.order)


def test_poisson_etwfe_never_treated_is_the_log_ratio_of_rates():
    """With never-treated controls and no covariates the Poisson ETWFE is
    saturated (every cohort x period has its own parameter), so each cell's log
    rate ratio is the closed-form double difference of log rates from the
    totals: log(Y/E)[g, t] - log(Y/E)[g, g-1] - (the same for the never
    treated). statsmodels reports such an exact fit as perfect prediction; it
    is not a failure."""
    df = _counts()
    est = ETWFE(family="poisson", control_group="never_treated", scale="link")
    res = _fit(est, _panel(df, exposure="list"), True)
    tot = df.groupby(["G", "period"])[["y", "list"]].sum()
    log_rate = np.log(tot["y"] / tot["list"])
    cells = res.estimates
    for g, t, est_gt in cells[["group", "time", "estimate"]].itertuples(index=False):
        want = (log_rate[(g, t)] - log_rate[(g, g - 1)]
                - (log_rate[(0, t)] - log_rate[(0, g - 1)]))
        assert est_gt == pytest.approx(want, abs=1e-8)


@pytest.mark.parametrize("roles", [{"weights": "wt"}, {"cluster": "cl"}])
@pytest.mark.parametrize("inference", ["cv3", "cr2"])
def test_twfe_block_chunks_do_not_matter(roles, inference, monkeypatch):
    """Units and clusters in many small chunks give the one-chunk numbers."""
    import spimpact.did._fe_leverage as fl

    df = _frame()
    df["x1"] = np.random.default_rng(3).normal(size=len(df))
    panel = _panel(df, covariates=["x1"], **roles)
    for covariates in ((), ("x1",)):
        est = TWFE(inference=inference, event_study=True, covariates=covariates)
        one = _twfe(est, panel, True)
        with monkeypatch.context() as m:
            m.setattr(fl, "_UNIT_CHUNK", 24)  # 3 units per chunk with covariates
            m.setattr(fl, "_CLUSTER_FLOATS", 100)
            many = _twfe(est, panel, True)
        np.testing.assert_allclose(many.estimates["std_error"], one.estimates["std_error"],
                                   rtol=1e-12)


def test_poisson_etwfe_zero_events():
    """A treated cohort's pre-treatment quarter without events is data (not a
    parameter of its own with not-yet-treated controls): both paths fit it
    alike. A treated cell without events has no finite effect: both refuse."""
    from spimpact.errors import EstimationError

    df = _counts()
    pre = (df["G"] == 4) & (df["period"] == 1)
    df.loc[pre, "y"] = 0.0
    panel = _panel(df, exposure="list")
    _same(_fit(ETWFE(family="poisson"), panel, True), _fit(ETWFE(family="poisson"), panel, False))
    df.loc[(df["G"] == 4) & (df["period"] == 5), "y"] = 0.0
    panel = _panel(df, exposure="list")
    for factored in (True, False):
        with pytest.raises(EstimationError, match="cell with no events"):
            _fit(ETWFE(family="poisson"), panel, factored)
        with pytest.raises(EstimationError, match="cell with no events"):
            _fit(ETWFE(family="poisson", control_group="never_treated"), panel, factored)
