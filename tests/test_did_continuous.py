"""Continuous-dose DiD (Callaway, Goodman-Bacon & Sant'Anna 2024) and the Panel
``dose=`` role.

References (tests/data/did/README.md):
* point estimates: moderndid 0.2.0 ``cont_did`` (a port of the authors' R
  ``contdid``, checked by moderndid against it) on its own simulated data, to
  1e-6 (they agree to ~1e-15);
* standard errors: moderndid 0.2.0 reports bootstrap SEs built on influence
  functions that differ from the authors' (see the README), so the analytic SEs
  are checked against (a) spimpact's Callaway-Sant'Anna, itself validated against
  R ``did``: the overall ATT is CS's "group" aggregate and the event-study ATT is
  CS's "dynamic" aggregate, estimates and SEs to 1e-10; (b) in one 2x2 cell,
  statsmodels' HC0 sandwich of the regression behind ATT(d) and ACRT(d), to 1e-8
  relative;
* the event study of the average causal response: moderndid 0.2.0's point
  estimates to 1e-6; its level event study is CS's dynamic aggregation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import spimpact as sp
from spimpact.did import CallawaySantAnna, ContinuousDiD
from spimpact.did.continuous import _spline
from spimpact.errors import EstimationError, OptionError, PanelError

DATA = Path(__file__).parent / "data" / "did"
CG = {"notyettreated": "not_yet_treated", "nevertreated": "never_treated"}


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    return pd.read_csv(DATA / "cont_did_sim.csv")


@pytest.fixture(scope="module")
def panel(sim: pd.DataFrame) -> sp.Panel:
    return sp.Panel(sim, outcome="Y", unit="id", time="time_period", cohort="G",
                    never_treated=0, dose="D")


@pytest.mark.parametrize("cg", ["notyettreated", "nevertreated"])
@pytest.mark.parametrize(("degree", "num_knots"), [(3, 0), (2, 1)])
def test_matches_moderndid_estimates(panel, cg, degree, num_knots):
    ref = pd.read_csv(DATA / "moderndid_cont_did.csv")
    ref = ref[(ref.control_group == cg) & (ref.degree == degree) & (ref.num_knots == num_knots)]
    res = ContinuousDiD(degree=degree, num_knots=num_knots, control_group=CG[cg]).fit(panel)
    est = res.estimates
    for target in ("att_d", "acrt_d"):
        mine, theirs = est[est.target == target], ref[ref.target == target]
        np.testing.assert_allclose(mine["dose"], theirs["dose"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(mine["estimate"], theirs["estimate"], rtol=0, atol=1e-6)
    overall = ref.set_index("target")["estimate"]
    assert res.overall.estimate == pytest.approx(overall["overall_att"], abs=1e-6)
    assert res.overall_acrt.estimate == pytest.approx(overall["overall_acrt"], abs=1e-6)


@pytest.mark.parametrize("inference", ["analytic", "cv3", "cr2", "cluster_t"])
@pytest.mark.parametrize("cg", ["not_yet_treated", "never_treated"])
def test_overall_att_and_event_study_equal_callaway_santanna(panel, cg, inference):
    """ATT^o and the event study's ATT are CS's group and dynamic aggregations,
    with the same standard errors under every inference= choice (the cv3/cr2
    leverage of each cell's treated and comparison units is CS's)."""
    res = ContinuousDiD(control_group=cg, inference=inference).fit(panel)
    cs = CallawaySantAnna(control_group=cg, inference=inference).fit(panel.replace(dose=None))
    group = cs.aggregate("group").overall
    assert res.overall.estimate == pytest.approx(group.estimate, abs=1e-10)
    assert res.overall.std_error == pytest.approx(group.std_error, rel=1e-10)
    dyn = cs.aggregate("dynamic").estimates
    es = res.event_study.estimates
    es = es[es.target == "att"].reset_index(drop=True)
    np.testing.assert_allclose(es["event_time"], dyn["event_time"])
    np.testing.assert_allclose(es["estimate"], dyn["estimate"], atol=1e-10)
    np.testing.assert_allclose(es["std_error"], dyn["std_error"], rtol=1e-10)


def test_one_cell_standard_errors_equal_hc0_sandwich(sim):
    # periods 1-2, cohort 2 against never-treated units: one cell, one cohort
    df = sim[(sim.time_period <= 2) & sim.G.isin([0, 2])]
    p = sp.Panel(df, outcome="Y", unit="id", time="time_period", cohort="G",
                 never_treated=0, dose="D")
    res = ContinuousDiD(degree=2, num_knots=1, control_group="never_treated",
                        inference="analytic").fit(p)
    wide = df.pivot(index="id", columns="time_period", values="Y")
    unit = df.drop_duplicates("id").set_index("id").loc[wide.index]
    dy = (wide[2] - wide[1]).to_numpy()
    d, tr = unit["D"].to_numpy(), unit["G"].to_numpy() == 2
    knots = np.quantile(d[tr], [0.5])
    Xt, _ = _spline(d[tr], d[tr].min(), d[tr].max(), knots, 2)
    X = np.zeros((len(dy), 1 + Xt.shape[1]))
    X[~tr, 0] = 1.0
    X[tr, 1:] = Xt
    fit = sm.OLS(dy, X).fit(cov_type="HC0")
    grid = res.estimates.query("target == 'att_d'")["dose"].to_numpy()
    Xg, dXg = _spline(grid, d[tr].min(), d[tr].max(), knots, 2)
    for target, L in (("att_d", np.hstack([-np.ones((len(grid), 1)), Xg])),
                      ("acrt_d", np.hstack([np.zeros((len(grid), 1)), dXg]))):
        mine = res.estimates[res.estimates["target"] == target]
        np.testing.assert_allclose(mine["estimate"], L @ fit.params, atol=1e-10)
        se = np.sqrt(np.einsum("ij,jk,ik->i", L, fit.cov_params(), L))
        np.testing.assert_allclose(mine["std_error"], se, rtol=1e-8)


def test_result_protocol_and_plot(panel):
    import matplotlib

    matplotlib.use("Agg")
    res = ContinuousDiD(doses=[0.25, 0.5, 0.75]).fit(panel)
    est = res.estimates
    assert est.columns.tolist()[:3] == ["target", "dose", "estimate"]
    assert len(est) == 6 and set(est.target) == {"att_d", "acrt_d"}
    assert (est.ci_lower < est.estimate).all() and (est.estimate < est.ci_upper).all()
    assert res.influence["att_d"].shape == (panel.n_units, 3)
    ax = res.plot(target="acrt_d")
    assert ax.get_ylabel() == "ACRT(d)"
    with pytest.raises(OptionError, match="target"):
        res.plot(target="att")


def test_options_and_panel_refused(panel):
    with pytest.raises(OptionError, match="degree"):
        ContinuousDiD(degree=0).fit(panel)
    with pytest.raises(OptionError, match="control_group"):
        ContinuousDiD(control_group="notyet").fit(panel)
    with pytest.raises(EstimationError, match="dose="):
        ContinuousDiD().fit(panel.replace(dose=None))


def test_clustered_standard_errors_sum_within_clusters(sim):
    df = sim.assign(cl=sim["id"] % 50)
    p = sp.Panel(df, outcome="Y", unit="id", time="time_period", cohort="G",
                 never_treated=0, dose="D", cluster="cl")
    cl = df.drop_duplicates("id").sort_values("id")["cl"].to_numpy()
    for inference, factor in (("analytic", 1.0), ("cv3", np.sqrt(49 / 50))):
        res = ContinuousDiD(inference=inference).fit(p)
        inf = res.influence["overall_acrt"]
        by = pd.Series(inf).groupby(cl).sum().to_numpy()
        assert res.overall_acrt.std_error == pytest.approx(
            factor * np.sqrt((by ** 2).sum()) / len(inf))
    # cv3: t(G-1) critical values and leverage-adjusted influence, wider than analytic
    a = ContinuousDiD(inference="analytic").fit(p).overall_acrt
    c = res.overall_acrt
    assert (c.ci_upper - c.estimate) / c.std_error == pytest.approx(2.009575, rel=1e-5)
    assert c.std_error > a.std_error


# --------------------------------------------------------------- Panel dose=
def _panel(df: pd.DataFrame, **kw) -> sp.Panel:
    return sp.Panel(df, outcome="Y", unit="id", time="time_period", cohort="G",
                    never_treated=0, dose="D", **kw)


def test_panel_dose_values(panel, sim):
    first = sim.sort_values(["id", "time_period"]).drop_duplicates("id")
    np.testing.assert_array_equal(panel.unit_doses, first["D"].to_numpy())
    assert len(panel.dose_values) == panel.n_obs
    assert panel.replace(dose=None).dose is None
    assert panel.balanced().dose == "D"
    assert "dose of treated units" in panel.describe().index


@pytest.mark.parametrize(("change", "match"), [
    (lambda d: d.assign(D=np.where(d.index == 0, 9.0, d.D)), "varies within units"),
    (lambda d: d.assign(D=np.where(d.G == 0, 0.5, d.D)), "never-treated units have a dose"),
    (lambda d: d.assign(D=np.where(d.G == 2, 0.0, d.D)), "units with a cohort have a dose of 0"),
    (lambda d: d.assign(D=np.where(d.G == 2, -1.0, d.D)), "'D'"),
    (lambda d: d.assign(D=np.where(d.G == 2, np.inf, d.D)), "'D'"),
    (lambda d: d.assign(D="high"), "'D'"),
])
def test_panel_dose_errors(sim, change, match):
    with pytest.raises(PanelError, match=match):
        _panel(change(sim.copy()))


def test_dose_needs_a_cohort(sim):
    with pytest.raises(PanelError, match="cohort= or treatment="):
        sp.Panel(sim, outcome="Y", unit="id", time="time_period", dose="D")


def test_binary_estimators_refuse_a_dose(panel):
    estimators = (CallawaySantAnna(), sp.did.TWFE(), sp.did.SunAbraham(), sp.did.Imputation(),
                  sp.did.TwoStage(), sp.did.ETWFE(), sp.did.ETWFE(family="poisson"))
    for est in estimators:
        with pytest.raises(EstimationError, match="ContinuousDiD"):
            est.fit(panel)
    with pytest.raises(EstimationError, match="ContinuousDiD"):
        sp.did.bacon_decomposition(panel)


def test_other_families_refuse_a_dose(panel):
    """ITS, the Bayesian models and matched cohorts estimate 0/1 effects too: a
    dose= role is refused before any fitting, never ignored."""
    from spimpact.bayes import MultilevelDiD, MultilevelITS
    from spimpact.its import MultiSiteITS
    from spimpact.matching import PropensityScoreMatching, match_cohort

    fits = [lambda: MultiSiteITS().fit(panel),
            lambda: MultilevelDiD(draws=10, tune=10).fit(panel),
            lambda: MultilevelITS(draws=10, tune=10).fit(panel),
            lambda: match_cohort(panel, PropensityScoreMatching(), pre_periods=1, post_periods=1, lags=1)]
    for fit in fits:
        with pytest.raises(EstimationError, match="does not use the panel's dose='D'"):
            fit()


def test_aggregate_refuses_a_dose_varying_within_new_units(sim):
    df = sim.assign(pcn=(sim["id"] - 1) // 2)
    df = df[df.groupby("pcn")["G"].transform("nunique") == 1]
    p = _panel(df, levels=["id", "pcn"])
    with pytest.raises(PanelError, match="'D' varies within a 'pcn' group"):
        p.aggregate(to="pcn")


def test_uniform_band_is_wider_than_pointwise_and_reproducible(panel):
    res = ContinuousDiD().fit(panel)
    band = res.uniform_band("acrt_d", n_boot=2000, random_state=3)
    pointwise = res.estimates.query("target == 'acrt_d'").reset_index(drop=True)
    assert 1.96 < band["crit"].iloc[0] < 4.0
    assert (band["ci_lower"] < pointwise["ci_lower"]).all()
    pd.testing.assert_frame_equal(band, res.uniform_band("acrt_d", n_boot=2000, random_state=3))
    with pytest.raises(OptionError, match="n_boot"):
        res.uniform_band(n_boot=10)


@pytest.mark.parametrize("cg", ["notyettreated", "nevertreated"])
def test_event_study_acrt_matches_moderndid(panel, cg):
    ref = pd.read_csv(DATA / "moderndid_cont_did_es.csv").query("control_group == @cg")
    es = ContinuousDiD(control_group=CG[cg]).fit(panel).event_study.estimates
    es = es[es.target == "acrt"].reset_index(drop=True)
    np.testing.assert_array_equal(es["event_time"], ref["event_time"])
    np.testing.assert_allclose(es["estimate"], ref["estimate"], rtol=0, atol=1e-6)


def _dose_panel(n: int, rng: np.random.Generator) -> sp.Panel:
    """Cohorts 2-4 and never-treated units, dose ~ U(0, 1), effect 0.5 d + 0.3 d^2 from
    the start, unit effects and a common trend: ATT^o = 0.35, ACRT^o = 0.8,
    ATT(d) = 0.5 d + 0.3 d^2, ACRT(d) = 0.5 + 0.6 d."""
    T = 4
    g = rng.choice([0, 2, 3, 4], size=n)
    d = np.where(g > 0, rng.uniform(0, 1, n), 0.0)
    t = np.tile(np.arange(1, T + 1), n)
    G, D = np.repeat(g, T), np.repeat(d, T)
    effect = np.where((G > 0) & (t >= G), 0.5 * D + 0.3 * D**2, 0.0)
    y = np.repeat(rng.normal(size=n), T) + 0.1 * t + effect + rng.normal(size=n * T)
    df = pd.DataFrame({"id": np.repeat(np.arange(n), T), "t": t, "G": G, "D": D, "y": y})
    return sp.Panel(df, outcome="y", unit="id", time="t", cohort="G", never_treated=0,
                    dose="D")


@pytest.mark.slow
def test_monte_carlo_unbiased_with_nominal_coverage():
    # 400 samples of 1,000 units: bias within 3 Monte Carlo SEs of 0 and 95% interval
    # coverage within 3 MCSEs of 0.95, for ATT^o, ACRT^o and ATT(d), ACRT(d) at 3 doses
    rng = np.random.default_rng(2026)
    doses = np.array([0.25, 0.5, 0.75])
    truth = np.r_[0.35, 0.8, 0.5 * doses + 0.3 * doses**2, 0.5 + 0.6 * doses]
    est, cover = [], []
    for _ in range(400):
        res = ContinuousDiD(degree=2, doses=doses).fit(_dose_panel(1000, rng))
        tab = res.estimates
        rows = [res.overall, res.overall_acrt]
        e = np.r_[[r.estimate for r in rows], tab["estimate"]]
        lo = np.r_[[r.ci_lower for r in rows], tab["ci_lower"]]
        hi = np.r_[[r.ci_upper for r in rows], tab["ci_upper"]]
        est.append(e)
        cover.append((lo <= truth) & (truth <= hi))
    est, cover = np.array(est), np.array(cover)
    bias, mcse = est.mean(0) - truth, est.std(0, ddof=1) / np.sqrt(len(est))
    assert (np.abs(bias) < 3 * mcse).all(), (bias, mcse)
    cov_mcse = np.sqrt(0.95 * 0.05 / len(est))
    assert (np.abs(cover.mean(0) - 0.95) < 3 * cov_mcse).all(), cover.mean(0)


def test_a_cohort_with_too_few_distinct_doses_is_a_clear_error(sim):
    """Two doses in a cohort cannot carry a quadratic spline (three coefficients):
    an EstimationError naming the count and the fix, not a singular-matrix error."""
    g = sim["G"].replace(0, np.nan).dropna().unique()[0]
    two = sim["D"].where(sim["G"] != g, np.where(sim["id"] % 2 == 0, 1.0, 2.0))
    p = _panel(sim.assign(D=two))
    with pytest.raises(EstimationError, match="2 distinct doses, too few for a spline with 3"):
        ContinuousDiD(degree=2, num_knots=0).fit(p)
    ContinuousDiD(degree=1, num_knots=0).fit(p)  # a line needs two
