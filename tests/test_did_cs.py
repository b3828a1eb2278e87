"""Callaway-Sant'Anna beyond the R reference values: bootstrap, unbalanced
panels, subgroups, bad inputs. Each check is against an independent
computation or a known answer, at a stated tolerance."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spimpact import EstimationError, OptionError, Panel, StatisticalWarning
from spimpact.did import CallawaySantAnna, _drdid

REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "did"
DATA = Path(__file__).parent / "data"
ROLES = dict(outcome="lemp", unit="countyreal", time="year", cohort="first.treat",
             never_treated=0)


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    path = REF / "mpdta_extra.csv"
    if not path.exists():
        path = DATA / "mpdta_extra.csv"
    return pd.read_csv(path)


def quiet_fit(est, panel, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(panel, **kw)


def test_bootstrap_se_agrees_with_analytic(mpdta):
    """Multiplier-bootstrap SEs estimate the analytic SEs: with B=4000 the IQR-based
    SE has a Monte Carlo relative error of about 1.7/sqrt(B) ~ 3%; allow 10%."""
    panel = Panel(mpdta, **ROLES)
    ana = CallawaySantAnna().fit(panel).aggregate("event")
    boot = CallawaySantAnna(bootstrap=4000, random_state=7).fit(panel).aggregate("event")
    ratio = boot.estimates["std_error"] / ana.estimates["std_error"]
    assert np.all(np.abs(ratio - 1) < 0.10)
    np.testing.assert_allclose(boot.estimates["estimate"], ana.estimates["estimate"])
    # the simultaneous band is wider than the pointwise one
    band = boot.uniform_band
    assert boot.crit_uniform > 1.96
    assert np.all(band["ci_upper"] - band["ci_lower"] > boot.estimates["ci_upper"]
                  - boot.estimates["ci_lower"])


def test_bootstrap_is_reproducible(mpdta):
    panel = Panel(mpdta, **ROLES)
    a = CallawaySantAnna(bootstrap=199, random_state=11).fit(panel).aggregate("event")
    b = CallawaySantAnna(bootstrap=199, random_state=11).fit(panel).aggregate("event")
    c = CallawaySantAnna(bootstrap=199, random_state=12).fit(panel).aggregate("event")
    pd.testing.assert_frame_equal(a.estimates, b.estimates)
    assert not np.allclose(a.estimates["std_error"], c.estimates["std_error"])


def _slow_rc_att(df: pd.DataFrame, g: int, t: int, base: int) -> float:
    """Transparent 2x2 DiD in means on whatever rows are observed (never-treated
    comparisons), the estimand of the unbalanced-panel path without covariates."""
    def mean(cond, period):
        return df.loc[cond & (df["year"] == period), "lemp"].mean()
    tr, co = df["first.treat"] == g, df["first.treat"] == 0
    return (mean(tr, t) - mean(tr, base)) - (mean(co, t) - mean(co, base))


def test_unbalanced_panel_keeps_every_unit(mpdta):
    rng = np.random.default_rng(3)
    drop = rng.random(len(mpdta)) < 0.1
    df = mpdta.loc[~drop].reset_index(drop=True)
    panel = Panel(df, **ROLES)
    assert not panel.is_balanced
    res = quiet_fit(CallawaySantAnna(method="reg"), panel)
    assert res.n_units == panel.n_units  # nobody thrown away
    assert any("unbalanced" in w for w in res.warnings)
    est = res.estimates
    for _, row in est.iterrows():
        g, t = int(row["group"]), int(row["time"])
        base = g - 1 if t >= g else t - 1
        assert row["estimate"] == pytest.approx(_slow_rc_att(df, g, t, base), abs=1e-10)


def test_subgroup_differences_use_joint_variance(mpdta):
    df = mpdta.assign(big=(mpdta["lpop"] > mpdta["lpop"].median()).astype(int))
    panel = Panel(df, covariates=["big"], **ROLES)
    res = quiet_fit(CallawaySantAnna(covariates=()), panel, by="big")
    # each subgroup equals a fit on that subgroup alone
    alone = quiet_fit(CallawaySantAnna(covariates=()),
                      Panel(df[df["big"] == 1], **ROLES)).overall
    row = res.estimates.set_index("subgroup").loc[1]
    assert row["estimate"] == pytest.approx(alone.estimate, abs=1e-12)
    assert row["std_error"] == pytest.approx(alone.std_error, rel=1e-12)
    # units are the clusters and subgroups are disjoint: SE of the difference is
    # the root sum of squares (independent computation), to rounding
    se = res.estimates["std_error"].to_numpy()
    diff = res.differences.iloc[0]
    assert diff["std_error"] == pytest.approx(np.sqrt((se**2).sum()), rel=1e-10)
    assert res.equality_test.df == 1
    ev = res.aggregate("event").estimates
    assert set(ev["subgroup"]) == {0, 1}


def test_fit_leaves_inputs_unchanged(mpdta):
    before = mpdta.copy(deep=True)
    panel = Panel(mpdta, **ROLES)
    est = CallawaySantAnna(bootstrap=99, random_state=1)
    settings = dict(vars(est))
    est.fit(panel)
    pd.testing.assert_frame_equal(mpdta, before)
    assert vars(est) == settings
    with pytest.raises(AttributeError):
        est.fit(panel).overall = None  # results are immutable


def test_options_are_validated():
    for kw in (dict(control_group="nevertreated"), dict(method="ols"), dict(anticipation=-1),
               dict(base_period="fixed"), dict(bootstrap=1)):
        with pytest.raises(OptionError, match=next(iter(kw))):
            CallawaySantAnna(**kw)._validate()


def test_panel_without_cohorts_is_an_error(mpdta):
    panel = Panel(mpdta, outcome="lemp", unit="countyreal", time="year")
    with pytest.raises(EstimationError, match="cohort="):
        CallawaySantAnna().fit(panel)


def test_no_never_treated_units_is_an_error(mpdta):
    df = mpdta[mpdta["first.treat"] > 0]
    with pytest.raises(EstimationError, match="not_yet_treated"):
        CallawaySantAnna().fit(Panel(df, **ROLES))
    # the not-yet-treated design still works, and cells without comparisons are
    # reported on the result rather than silently missing
    res = quiet_fit(CallawaySantAnna(control_group="not_yet_treated"), Panel(df, **ROLES))
    assert res.estimates["estimate"].isna().any()
    assert any("not estimated" in w for w in res.warnings)


def test_collinear_covariates_are_flagged(mpdta):
    # collinear in every row: an error naming the term (every ATT(g,t) would be lost)
    df = mpdta.assign(lpop2=2 * mpdta["lpop"])
    panel = Panel(df, covariates=["lpop", "lpop2"], **ROLES)
    with pytest.raises(EstimationError, match="'lpop2' is constant or a linear combination"):
        CallawaySantAnna(method="reg").fit(panel)


def test_too_few_pre_periods_for_the_pretest(mpdta):
    df = mpdta[mpdta["year"] >= 2005]
    df = df[df["first.treat"].isin([0, 2006])]
    res = quiet_fit(CallawaySantAnna(), Panel(df, **ROLES))
    assert res.pretest is None
    assert "no pre-treatment" in res.summary()


@pytest.mark.parametrize("drop_rows", [0, 7])
def test_units_treated_before_the_panel_are_reported(mpdta, drop_rows):
    """Units treated at or before the first period are left out (as R's did
    does), with a note: the result equals the fit without them, to 1e-12
    (balanced, and unbalanced after dropping some rows)."""
    df = mpdta.drop(index=mpdta.index[1:1 + drop_rows * 3:3]).reset_index(drop=True)
    early = df["countyreal"].isin(df["countyreal"].unique()[[0, 5]])
    df.loc[early, "first.treat"] = 2003
    with pytest.warns(StatisticalWarning, match=f"2 units treated by the first period 2003 "
                                                f"\\({int(early.sum())} rows\\) were left out"):
        res = CallawaySantAnna().fit(Panel(df, **ROLES))
    ref = quiet_fit(CallawaySantAnna(), Panel(df[~early], **ROLES))
    assert res.n_units == ref.n_units == df["countyreal"].nunique() - 2
    for a, b in ((res, ref), (res.aggregate("event"), ref.aggregate("event"))):
        np.testing.assert_allclose(a.estimates[["estimate", "std_error"]],
                                   b.estimates[["estimate", "std_error"]], rtol=1e-12)


def test_result_protocol_and_labels(mpdta):
    df = mpdta.assign(q=pd.PeriodIndex([f"{y}Q1" for y in mpdta["year"]], freq="Q"),
                      c=pd.PeriodIndex([f"{y}Q1" if y else None for y in mpdta["first.treat"]],
                                       freq="Q"))
    panel = Panel(df, outcome="lemp", unit="countyreal", time="q", cohort="c")
    res = CallawaySantAnna().fit(panel)
    numeric = CallawaySantAnna().fit(Panel(mpdta, **ROLES))
    assert list(res.estimates.columns) == ["group", "time", "estimate", "std_error", "ci_lower",
                                           "ci_upper", "p_value"]
    assert str(res.estimates["group"].iloc[0]) == "2004Q1"
    np.testing.assert_allclose(res.estimates["estimate"], numeric.estimates["estimate"])
    cal = res.aggregate("calendar").estimates
    assert str(cal["time"].iloc[0]) == "2004Q1"
    assert "Callaway" in res.summary()
    assert "<table" in res._repr_html_()
    ax = res.plot()
    assert ax.get_xlabel()


@pytest.mark.parametrize("options", [
    dict(),
    dict(control_group="not_yet_treated"),
    dict(base_period="universal"),
    dict(anticipation=1, control_group="not_yet_treated"),
])
def test_closed_form_equals_cell_by_cell(mpdta, options):
    """The no-covariate closed form (factored influence functions) against the
    general cell-by-cell DR estimator: estimates and every influence value to 1e-10."""
    from spimpact.did import _cs_engine
    from spimpact.did._cells import plan_cells

    est = CallawaySantAnna(**options)
    panel = Panel(mpdta, weights="wt", cluster="clust", **ROLES)
    sample = est._sample(panel)
    plan, _ = plan_cells(sample.groups, panel.n_periods, est.base_period, est.anticipation)
    labels = [str(j) for j in range(len(plan))]
    args = (sample.data, plan, est.control_group, "dr", est.anticipation, labels)
    fast = _cs_engine.estimate_cells(*args)
    slow = _cs_engine.estimate_cells(*args, closed_form=False)
    assert _cs_engine.fast_path_applies(sample.data)
    np.testing.assert_allclose(fast.att, slow.att, atol=1e-10, rtol=0)
    np.testing.assert_allclose(fast.psi.dense(), slow.psi.dense(), atol=1e-10, rtol=0)
    from spimpact.inference import influence_se
    np.testing.assert_allclose(influence_se(fast.psi, sample.cluster),
                               influence_se(slow.psi, sample.cluster), rtol=1e-10)


@pytest.mark.parametrize("kind", ["simple", "group", "event", "calendar"])
def test_factored_aggregation_equals_dense_aggregation(mpdta, kind):
    """Aggregations of factored cells stay factored (shares' influence as
    coefficients on the cohort basis): against the dense engine on the same
    cells, estimates and every influence value agree to 1e-10."""
    from dataclasses import replace

    from spimpact.aggregation import UnitBasis, aggregation_weights, apply_aggregation
    from spimpact.inference import FactoredInfluence

    # (cluster_t: cv3's leverage with unequal weights needs the dense matrix)
    res = CallawaySantAnna(control_group="not_yet_treated", inference="cluster_t").fit(
        Panel(mpdta, weights="wt", **ROLES))
    inf, cells = res._inf, res._cells
    assert isinstance(inf.psi, FactoredInfluence)
    estimated = ~cells["reference"].to_numpy()
    agg = aggregation_weights(cells.loc[estimated].reset_index(drop=True), kind)
    W = np.zeros((agg.weights.shape[0], len(cells)))  # zero weight on reference cells
    W[:, estimated] = agg.weights
    agg, att = replace(agg, weights=W), np.nan_to_num(res._att)
    pg, gi = cells["pg"].to_numpy(), cells["gi"].to_numpy()
    f = apply_aggregation(agg, att, inf.psi, pg, gi, inf.unit_basis())
    d = apply_aggregation(agg, att, inf.psi.dense(), pg, gi,
                          UnitBasis(inf.unit_group, inf.unit_w, inf.n_groups))
    assert isinstance(f[1], FactoredInfluence) and isinstance(f[3], FactoredInfluence)
    np.testing.assert_allclose(f[0], d[0], atol=1e-12)
    assert f[2] == pytest.approx(d[2], abs=1e-12)
    np.testing.assert_allclose(f[1].dense(), d[1], atol=1e-10, rtol=0)
    np.testing.assert_allclose(f[3].dense(), d[3], atol=1e-10, rtol=0)


def test_factored_bootstrap_draws_of_shares_equal_dense_ones(mpdta):
    """With factored cells, the bootstrap draws of the weighted cohort
    indicators come from the same basis; they equal the draws of the dense
    indicators on the same multipliers (to 1e-10)."""
    from spimpact.inference import multiplier_bootstrap

    # analytic: factored cells (cv3 with unequal weights is dense) and unscaled draws
    res = CallawaySantAnna(bootstrap=200, random_state=5, inference="analytic").fit(
        Panel(mpdta, weights="wt", **ROLES))
    inf = res._inf
    z = np.zeros((inf.n, inf.n_groups))
    has = inf.unit_group >= 0
    z[np.flatnonzero(has), inf.unit_group[has]] = inf.unit_w[has]
    cells, groups = multiplier_bootstrap([inf.psi, z], 200, random_state=5)
    np.testing.assert_allclose(inf.draws.cells, cells, atol=1e-10)
    np.testing.assert_allclose(inf.draws.groups, groups, atol=1e-10)


def test_comparison_units_beyond_the_trim_level_get_no_weight(monkeypatch):
    """R's DRDID (called by R's did) gives comparison units with a propensity
    score >= 0.995 no weight: the IPW estimate must not move when such a unit's
    outcome does, and must move once the trim is lifted (so the test can fail)."""
    from spimpact.did import _drdid

    rng = np.random.default_rng(3)
    n = 400
    x = rng.normal(size=n)
    d = (x + rng.normal(scale=0.5, size=n) > 1.0).astype(float)
    x[0], d[0] = 6.0, 0.0  # a comparison unit deep inside the treated region
    X = np.column_stack([np.ones(n), x])
    dy = 0.5 * d + 0.3 * x + rng.normal(size=n)
    w = np.ones(n)
    ps, _ = _drdid.logit_fit(d, X, w)
    assert ps[0] >= _drdid.PS_TRIM
    wild = dy.copy()
    wild[0] += 1e4
    a = _drdid.did_panel(dy, d, X, w, "ipw")
    b = _drdid.did_panel(wild, d, X, w, "ipw")
    assert a.att == pytest.approx(b.att, abs=1e-9)
    np.testing.assert_allclose(a.psi, b.psi, atol=1e-9)
    monkeypatch.setattr(_drdid, "PS_TRIM", 1.1)
    lifted = _drdid.did_panel(wild, d, X, w, "ipw").att
    assert abs(lifted - a.att) > 1.0


@pytest.mark.parametrize("method", ["dr", "reg", "ipw"])
def test_many_outcome_changes_at_once_equal_one_at_a_time(method):
    """did_panel_many (cells sharing units, covariates and weights estimated
    together) equals did_panel column by column: ATT to 1e-12 relative, the
    influence functions to 1e-11 (the same formulas, summed in another order)."""
    rng = np.random.default_rng(21)
    n = 800
    X = np.c_[np.ones(n), rng.normal(size=(n, 2))]
    d = (rng.random(n) < 1 / (1 + np.exp(-X[:, 1]))).astype(float)
    w = rng.uniform(0.5, 2.0, n)
    DY = rng.normal(size=(n, 6)) + X[:, 1:2] + 0.4 * d[:, None]
    att, psi = _drdid.did_panel_many(DY, d, X, w, method)
    for j in range(DY.shape[1]):
        one = _drdid.did_panel(DY[:, j], d, X, w, method)
        assert att[j] == pytest.approx(one.att, rel=1e-12)
        np.testing.assert_allclose(psi[:, j], one.psi, rtol=0, atol=1e-11)


@pytest.mark.parametrize("method", ["dr", "reg", "ipw"])
def test_outcome_changes_from_periods_equal_the_changes_given(method, monkeypatch):
    """did_panel_many with the outcomes by period and a +1/-1 change matrix
    (the changes formed a chunk of rows at a time; chunks of 97 rows here, so
    that they straddle) equals did_panel_many on the changes themselves."""
    rng = np.random.default_rng(22)
    n, T = 800, 5
    X = np.c_[np.ones(n), rng.normal(size=(n, 2))]
    d = (rng.random(n) < 1 / (1 + np.exp(-X[:, 1]))).astype(float)
    w = rng.uniform(0.5, 2.0, n)
    Y = rng.normal(size=(n, T)) + X[:, 1:2] * np.arange(T) + 0.4 * d[:, None] * (np.arange(T) > 2)
    from spimpact.did._cs_engine import _change_matrix

    D = _change_matrix(T, np.array([1, 2, 3, 4, 4, 0]), np.array([0, 1, 2, 2, 0, 2]))
    monkeypatch.setattr(_drdid, "ROWS", 97)
    att, psi = _drdid.did_panel_many(Y, d, X, w, method, D=D)
    want_att, want_psi = _drdid.did_panel_many(Y @ D, d, X, w, method)
    np.testing.assert_allclose(att, want_att, rtol=1e-12, atol=0)
    np.testing.assert_allclose(psi, want_psi, rtol=0, atol=1e-11)
    one = _drdid.did_panel((Y[:, 3] - Y[:, 2]), d, X, w, method)  # column 2 from its definition
    assert att[2] == pytest.approx(one.att, rel=1e-12)


def test_comparison_units_with_zero_weight_do_not_count_for_the_rank_check(mpdta):
    """With weights leaving a single never-treated unit, the outcome regression
    on the comparison units is not identified: each cell is reported as not
    estimated (covariates collinear or too few), not a linear-algebra crash."""
    df = mpdta.copy()
    never = df.loc[df["first.treat"] == 0, "countyreal"].unique()
    df["w"] = np.where(df["countyreal"].isin(never[1:]), 0.0, 1.0)
    panel = Panel(df, **{**ROLES, "covariates": ["lpop"]}, weights="w")
    res = quiet_fit(CallawaySantAnna(method="reg"), panel)
    assert res.estimates["estimate"].isna().all()
    assert any("collinear (or too few) among the comparison units" in n for n in res.warnings)


def test_unit_level_covariates_equal_row_level_design(mpdta, monkeypatch):
    """Covariates constant within units are built once per unit; the estimates
    and influence functions equal those of the design built on every row."""
    from spimpact.did import callaway

    panel = Panel(mpdta, **{**ROLES, "covariates": ["lpop"]})
    fast = quiet_fit(CallawaySantAnna(inference="analytic"), panel)
    monkeypatch.setattr(callaway, "_unit_constant_first_rows", lambda *a: None)
    slow = quiet_fit(CallawaySantAnna(inference="analytic"), panel)
    np.testing.assert_allclose(fast.estimates["estimate"], slow.estimates["estimate"],
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fast.influence, slow.influence, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("control_group", ["never_treated", "not_yet_treated"])
@pytest.mark.parametrize("varying", ["none", "covariate", "weights"])
def test_shared_propensity_fits_equal_cell_by_cell_fits(mpdta, control_group, varying):
    """Cells that share their units, covariate rows and weights share one
    propensity fit; each ATT(g,t) and influence function equals a fresh
    did_panel on the cell's own 2x2 subsample (slow, transparent), to 1e-10,
    also when the covariate or the weights change over time (no sharing)."""
    from spimpact.did._drdid import did_panel

    rng = np.random.default_rng(3)
    df = mpdta.copy()
    df["x"] = df["lpop"] + (rng.normal(0, 0.1, len(df)) if varying == "covariate" else 0.0)
    df["w"] = rng.uniform(0.5, 2, len(df)) if varying == "weights" else 1.0
    if varying == "none":  # per-unit weights, constant over time
        df["w"] = df.groupby("countyreal")["lpop"].transform("first").rank(pct=True) + 0.5
    panel = Panel(df, **{**ROLES, "covariates": ["x"]}, weights="w")
    # the influence functions themselves (no leverage adjustment): inference="analytic"
    res = quiet_fit(CallawaySantAnna(control_group=control_group, inference="analytic"), panel)
    wide = df.pivot(index="countyreal", columns="year", values=["lemp", "x", "w"])
    g_of = df.groupby("countyreal")["first.treat"].first().to_numpy()
    years = sorted(df["year"].unique())
    psi, checked = res.influence, 0
    for j, row in res.estimates.reset_index(drop=True).iterrows():
        g, t = int(row["group"]), int(row["time"])
        base = t - 1 if t < g else g - 1  # varying base period
        if t == base or base < years[0] or not np.isfinite(row["std_error"]):
            continue
        later = max(t, base)
        ctrl = (g_of == 0) if control_group == "never_treated" else (
            (g_of == 0) | ((g_of > later) & (g_of != g)))
        sel = (g_of == g) | ctrl
        dy = (wide["lemp"][t] - wide["lemp"][base]).to_numpy()[sel]
        x = wide["x"][min(t, base)].to_numpy()[sel]
        w = wide["w"][min(t, base)].to_numpy()[sel]
        fit = did_panel(dy, (g_of[sel] == g).astype(float), np.c_[np.ones(sel.sum()), x], w, "dr")
        assert row["estimate"] == pytest.approx(fit.att, abs=1e-10)
        np.testing.assert_allclose(psi[sel, j], fit.psi * len(g_of) / sel.sum(), atol=1e-10)
        checked += 1
    assert checked == 12


@pytest.mark.parametrize("roles", [{}, {"cluster": "c"}, {"cluster": "c", "weights": "w"},
                                   {"weights": "w"}])
@pytest.mark.parametrize("kind", ["cv3", "cr2", None])
@pytest.mark.parametrize("control_group", ["never_treated", "not_yet_treated"])
def test_block_by_block_leverage_equals_the_whole_matrix(roles, kind, control_group):
    """The support counts and cv3/cr2 leverage applied to each block of the
    influence matrix as the cells are estimated (RowBlockLeverage) equal
    cluster_support and leverage_adjusted on the finished matrix (the counts
    exactly; the factors up to the order of the weight sums: 1e-14)."""
    from spimpact.did._cells import plan_cells
    from spimpact.did._cs_engine import estimate_cells
    from spimpact.did.callaway import _group_index
    from spimpact.inference_cluster import RowBlockLeverage, cluster_support, leverage_adjusted

    rng = np.random.default_rng(3)
    n, T = 400, 6
    u = np.repeat(np.arange(n), T)
    g = rng.choice([0, 3, 4, 5], size=n)
    df = pd.DataFrame({"id": u, "t": np.tile(np.arange(1, T + 1), n), "G": g[u],
                       "x": rng.normal(size=n)[u], "c": (np.arange(n) // 20)[u],
                       "w": rng.uniform(0.5, 2, size=n)[u]})
    df["y"] = rng.normal(size=len(df)) + df["x"] + (df["G"] > 0) * (df["t"] >= df["G"])
    panel = Panel(df, outcome="y", unit="id", time="t", cohort="G", never_treated=0,
                  covariates=["x"], **roles)
    est = CallawaySantAnna(control_group=control_group)
    s = est._sample(panel)
    plan, _ = plan_cells(s.groups, panel.n_periods, "varying", 0)
    labels = [str(j) for j in range(len(plan))]
    plain = estimate_cells(s.data, plan, control_group, "dr", 0, labels)
    inline = RowBlockLeverage(len(plan), s.cluster, s.unit_w, kind)
    blocked = estimate_cells(s.data, plan, control_group, "dr", 0, labels, on_block=inline)
    assert blocked.blocks_seen
    ug = _group_index(s.data.unit_cohort, s.groups)
    gi = np.searchsorted(s.groups, plan.g)
    dense = plain.psi.dense()  # the reference: the column-chunk paths on the dense matrix
    pd.testing.assert_frame_equal(inline.support(), cluster_support(dense, s.cluster, ug, gi))
    expected = (dense if kind is None
                else leverage_adjusted(dense, s.cluster, ug, s.unit_w, gi, kind))
    np.testing.assert_allclose(blocked.psi.dense(), expected, rtol=1e-14, atol=0)
