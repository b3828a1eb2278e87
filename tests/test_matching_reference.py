"""Matching and weighting against other implementations and a known answer.

* Matched pairs against pymatchit-causal (a Python port of R's MatchIt),
  eight configurations on ``tests/data/matching_sim.csv``: identical pairs.
* The NSW experiment (LaLonde 1986; Dehejia & Wahba 1999): the NSW treated
  against CPS controls (``causaldata``'s ``nsw_mixtape`` and ``cps_mixtape``)
  with the Dehejia-Wahba propensity specification, against the experimental
  ATT of $1,794.
* IPW and AIPW against statsmodels' ``TreatmentEffect`` (GMM), against the
  doubly robust ATT of :mod:`spimpact.did._drdid` (Sant'Anna & Zhao's
  estimator, itself checked against R's DRDID), and against a numerically
  differentiated sandwich.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spimpact import EstimationError, OptionError, Panel, StatisticalWarning
from spimpact.matching import AugmentedIPW, InverseProbabilityWeighting, PropensityScoreMatching

DATA = Path(__file__).parent / "data"

#: Propensity scores against pymatchit's statsmodels GLM: both are the ML logit.
PS_ATOL = 1e-8
#: Estimates of the weighting estimators against another implementation of the
#: same closed form.
EST_RTOL = 1e-9
#: Standard errors against statsmodels, whose GMM sandwich differentiates the
#: moment conditions numerically.
SM_SE_RTOL = 1e-6
#: Standard errors against the analytic influence functions of spimpact.did.
DR_SE_RTOL = 1e-9
#: Against our own central-difference Jacobian (step 1e-6: error ~1e-9 relative).
NUM_SE_RTOL = 1e-5

#: The experimental benchmark (NSW treated minus NSW controls, earnings in 1978).
EXPERIMENTAL_ATT = 1794.34
#: An observational estimate is asked to land inside the experiment's own 95%
#: confidence interval: 1.96 x the experiment's SE (671), i.e. within $1,315 --
#: no sharper than the experiment itself knows the answer. The naive CPS
#: comparison (-$8,498) is far outside.
LALONDE_TOL = 1.96 * 671.0
#: Dehejia & Wahba's propensity specification for the CPS comparison.
DW_FORMULA = ("age + I(age**2) + I(age**3) + educ + I(educ**2) + marr + nodegree + black + "
              "hisp + re74 + re75 + u74 + u75 + educ:re74")
LALONDE_COVARIATES = ["age", "educ", "black", "hisp", "marr", "nodegree", "re74", "re75",
                      "u74", "u75"]


def _quiet(est, panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        return est.fit(panel)


# --------------------------------------------------------------- pymatchit
CONFIGS = {  # as in tests/data/make_matching_reference.py
    "r1_norep_nocal_largest": dict(ratio=1, replace=False, caliper=None, order="largest"),
    "r1_norep_cal02_largest": dict(ratio=1, replace=False, caliper=0.2, order="largest"),
    "r2_norep_cal02_largest": dict(ratio=2, replace=False, caliper=0.2, order="largest"),
    "r1_norep_cal01_smallest": dict(ratio=1, replace=False, caliper=0.1, order="smallest"),
    "r1_rep_nocal": dict(ratio=1, replace=True, caliper=None),
    "r3_rep_cal02": dict(ratio=3, replace=True, caliper=0.2),
    "r1_norep_cal02_exact": dict(ratio=1, replace=False, caliper=0.2, exact="stratum"),
    "atc_r1_norep_cal02_smallest": dict(ratio=1, replace=False, caliper=0.2,
                                        order="smallest", estimand="ATC"),
}


@pytest.fixture(scope="module")
def sim_panel():
    df = pd.read_csv(DATA / "matching_sim.csv")
    return Panel(df, outcome="y", treatment="d", covariates=["x1", "x2", "x3", "x4", "stratum"])


@pytest.mark.parametrize("name", list(CONFIGS))
def test_matched_pairs_equal_pymatchit(name, sim_panel):
    ref = pd.read_csv(DATA / "matching_pymatchit.csv").query("config == @name")
    kw = CONFIGS[name]
    res = _quiet(PropensityScoreMatching(ps_formula="x1 + x2 + x3 + x4", **kw), sim_panel)
    focal = 1 if kw.get("estimand", "ATT") == "ATT" else 0
    m = res.matched
    f = m.loc[m["treated"] == focal, ["match_id"]].rename_axis("focal").reset_index()
    o = m.loc[m["treated"] != focal, ["match_id"]].rename_axis("match").reset_index()
    ours = {tuple(r) for r in f.merge(o, on="match_id")[["focal", "match"]].to_numpy()}
    theirs = {tuple(r) for r in ref[["focal", "match"]].to_numpy()}
    assert ours == theirs


def test_propensity_score_equals_pymatchit(sim_panel):
    dist = pd.read_csv(DATA / "matching_pymatchit_distance.csv")["distance"].to_numpy()
    res = _quiet(PropensityScoreMatching(ps_formula="x1 + x2 + x3 + x4"), sim_panel)
    np.testing.assert_allclose(res.propensity_score, 1 / (1 + np.exp(-dist)), atol=PS_ATOL)


# ------------------------------------------------------------------ Lalonde
@pytest.fixture(scope="module")
def lalonde():
    cd = pytest.importorskip("causaldata")
    nsw = cd.nsw_mixtape.load_pandas().data
    cps = cd.cps_mixtape.load_pandas().data
    exp = nsw.groupby("treat")["re78"].mean()
    df = pd.concat([nsw[nsw["treat"] == 1], cps], ignore_index=True).drop(columns="data_id")
    df = df.astype(float)
    df["u74"] = (df["re74"] == 0).astype(float)
    df["u75"] = (df["re75"] == 0).astype(float)
    panel = Panel(df, outcome="re78", treatment="treat", covariates=LALONDE_COVARIATES)
    return float(exp[1] - exp[0]), df, panel


def test_lalonde_data_reproduce_the_experiment(lalonde):
    exp_att, df, _ = lalonde
    assert exp_att == pytest.approx(EXPERIMENTAL_ATT, abs=0.01)
    naive = df.loc[df.treat == 1, "re78"].mean() - df.loc[df.treat == 0, "re78"].mean()
    assert abs(naive - EXPERIMENTAL_ATT) > 5 * LALONDE_TOL  # the bias matching must remove


@pytest.mark.parametrize("kwargs", [
    dict(),  # the defaults: 1:1 greedy, caliper 0.2 SD, without replacement
    dict(replace=True, caliper=None),  # Dehejia & Wahba's nearest neighbour with replacement
    dict(replace=True, caliper=None, ratio=5),
], ids=["defaults", "dw_1nn_replacement", "5nn_replacement"])
def test_lalonde_matching_recovers_the_experimental_att(lalonde, kwargs):
    _, _, panel = lalonde
    res = _quiet(PropensityScoreMatching(ps_formula=DW_FORMULA, **kwargs), panel)
    est = res.overall
    assert abs(est.estimate - EXPERIMENTAL_ATT) < LALONDE_TOL
    assert est.ci_lower < EXPERIMENTAL_ATT < est.ci_upper
    bal = res.balance.set_index("covariate").drop("propensity_score")
    assert bal["smd_before"].abs().max() > 2.0  # CPS controls are very different
    assert bal["smd_after"].abs().max() < 0.25  # Stuart's bound for adequate balance


def test_lalonde_weighting_recovers_the_experimental_att(lalonde):
    _, _, panel = lalonde
    for cls in (InverseProbabilityWeighting, AugmentedIPW):
        res = _quiet(cls(ps_formula=DW_FORMULA, estimand="ATT"), panel)
        assert abs(res.overall.estimate - EXPERIMENTAL_ATT) < LALONDE_TOL
        ws = res.weight_summary.set_index("group")
        assert ws.loc["control", "ess"] < 0.05 * ws.loc["control", "n"]  # few CPS look treated


def test_lalonde_weighting_equals_drdid_att(lalonde):
    """The IPW and DR ATT equal Sant'Anna & Zhao's estimators with y_pre = 0."""
    from formulaic import model_matrix

    from spimpact.did._drdid import did_panel

    _, df, panel = lalonde
    X = np.asarray(model_matrix(DW_FORMULA, df), dtype=float)
    y, d = df["re78"].to_numpy(), df["treat"].to_numpy()
    for method, cls in (("ipw", InverseProbabilityWeighting), ("dr", AugmentedIPW)):
        kw = dict(outcome_formula=DW_FORMULA) if cls is AugmentedIPW else {}
        ours = _quiet(cls(ps_formula=DW_FORMULA, estimand="ATT", **kw), panel).overall
        ref = did_panel(y, d, X, np.ones(len(y)), method)
        assert ours.estimate == pytest.approx(ref.att, rel=EST_RTOL)
        assert ours.std_error == pytest.approx(np.sqrt(np.sum(ref.psi**2)) / len(y),
                                               rel=DR_SE_RTOL)


# ------------------------------------------------------ weighting references
def _weighting_data(n: int = 3000, seed: int = 5, strength: float = 0.5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.binomial(1, 0.4, n).astype(float)
    d = (rng.random(n) < 1 / (1 + np.exp(-(strength * x1 - 0.7 * x2 + 0.2)))).astype(int)
    y = 1 + 2 * d + x1 + 0.5 * x2 + 0.5 * d * x1 + rng.normal(size=n)
    return pd.DataFrame({"x1": x1, "x2": x2, "d": d, "y": y})


@pytest.mark.parametrize("estimand,group", [("ATE", "all"), ("ATT", 1), ("ATC", 0)])
def test_ipw_equals_statsmodels(estimand, group):
    sm = pytest.importorskip("statsmodels.api")
    from statsmodels.treatment.treatment_effects import TreatmentEffect

    df = _weighting_data()
    X = sm.add_constant(df[["x1", "x2"]].to_numpy())
    y, d = df["y"].to_numpy(), df["d"].to_numpy()
    te = TreatmentEffect(sm.OLS(y, X), d, results_select=sm.Logit(d, X).fit(disp=0, tol=1e-12))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = te.ipw(effect_group=group)
    panel = Panel(df, outcome="y", treatment="d", covariates=["x1", "x2"])
    ours = _quiet(InverseProbabilityWeighting(estimand=estimand), panel)
    assert ours.overall.estimate == pytest.approx(ref.effect[0], rel=EST_RTOL)
    assert ours.overall.std_error == pytest.approx(ref.sd[0], rel=SM_SE_RTOL)
    # statsmodels' potential-outcome means: POM0 and ATE + POM0
    est = ours.estimates.set_index("term")["estimate"]
    assert est["mean Y(0)"] == pytest.approx(ref.effect[1], rel=EST_RTOL)


def test_aipw_ate_equals_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    from statsmodels.treatment.treatment_effects import TreatmentEffect

    df = _weighting_data(seed=6)
    X = sm.add_constant(df[["x1", "x2"]].to_numpy())
    y, d = df["y"].to_numpy(), df["d"].to_numpy()
    te = TreatmentEffect(sm.OLS(y, X), d, results_select=sm.Logit(d, X).fit(disp=0, tol=1e-12))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = te.aipw()
    panel = Panel(df, outcome="y", treatment="d", covariates=["x1", "x2"])
    ours = _quiet(AugmentedIPW(estimand="ATE"), panel).overall
    assert ours.estimate == pytest.approx(ref.effect[0], rel=EST_RTOL)
    assert ours.std_error == pytest.approx(ref.sd[0], rel=SM_SE_RTOL)


def _numeric_sandwich_se(df: pd.DataFrame, estimand: str, trim: float | None,
                         s: np.ndarray) -> float:
    """SE of normalised IPW by M-estimation with a finite-difference Jacobian."""
    X = np.column_stack([np.ones(len(df)), df[["x1", "x2"]].to_numpy()])
    y, d = df["y"].to_numpy(), df["d"].to_numpy().astype(float)

    def e_of(b):
        return 1 / (1 + np.exp(-X @ b))

    def weights(e):
        w1 = {"ATE": 1 / e, "ATT": np.ones_like(e), "ATC": (1 - e) / e}[estimand]
        w0 = {"ATE": 1 / (1 - e), "ATT": e / (1 - e), "ATC": np.ones_like(e)}[estimand]
        return w1, w0

    import statsmodels.api as sm

    b_hat = np.asarray(sm.GLM(d, X, family=sm.families.Binomial(), var_weights=s)
                       .fit(tol=1e-13).params)
    e_hat = e_of(b_hat)
    keep = np.ones(len(y), bool) if trim is None else (e_hat >= trim) & (e_hat <= 1 - trim)

    def moments(theta):
        b, mu1, mu0 = theta[:3], theta[3], theta[4]
        e = e_of(b)
        w1, w0 = weights(e)
        g = [s[:, None] * (d - e)[:, None] * X,
             (keep * d * s * w1 * (y - mu1))[:, None],
             (keep * (1 - d) * s * w0 * (y - mu0))[:, None]]
        return np.column_stack(g)

    w1, w0 = weights(e_hat)
    a1, a0 = keep * d * s * w1, keep * (1 - d) * s * w0
    theta = np.r_[b_hat, a1 @ y / a1.sum(), a0 @ y / a0.sum()]
    n, h = len(y), 1e-6
    J = np.column_stack([(moments(theta + h * np.eye(5)[k]).mean(0)
                          - moments(theta - h * np.eye(5)[k]).mean(0)) / (2 * h)
                         for k in range(5)])
    psi = moments(theta)
    inf = -np.linalg.solve(J, psi.T).T
    g = np.array([0, 0, 0, 1.0, -1.0])
    return float(np.sqrt(np.sum((inf @ g) ** 2)) / n)


@pytest.mark.parametrize("estimand,trim", [("ATE", 0.05), ("ATT", None), ("ATC", 0.1)])
def test_ipw_sandwich_equals_numerical_jacobian(estimand, trim):
    """Sampling weights and trimming, which statsmodels does not offer."""
    df = _weighting_data(1500, seed=7, strength=1.5)
    df["s"] = np.random.default_rng(8).uniform(0.5, 2.0, len(df))
    panel = Panel(df, outcome="y", treatment="d", covariates=["x1", "x2"], weights="s")
    ours = _quiet(InverseProbabilityWeighting(estimand=estimand, trim=trim), panel)
    ref = _numeric_sandwich_se(df, estimand, trim, df["s"].to_numpy())
    assert ours.overall.std_error == pytest.approx(ref, rel=NUM_SE_RTOL)
    if trim is not None:
        assert ours.info["trimmed"] > 0
        assert any(f"trim={trim}" in w for w in ours.warnings)


def test_weighting_result_diagnostics_and_balance():
    df = _weighting_data(seed=9)
    panel = Panel(df, outcome="y", treatment="d", covariates=["x1", "x2"])
    res = _quiet(InverseProbabilityWeighting(estimand="ATE", stabilized=True), panel)
    ws = res.weight_summary.set_index("group")
    w = res.weights.to_numpy()
    d = df["d"].to_numpy()
    for name, g in (("treated", d == 1), ("control", d == 0)):
        assert ws.loc[name, "ess"] == pytest.approx(w[g].sum() ** 2 / (w[g] ** 2).sum())
    # stabilised ATE weights average about one in each group
    assert w[d == 1].mean() == pytest.approx(1.0, abs=0.1)
    bal = res.balance.set_index("covariate")
    assert bal.loc["x1", "smd_before"] > 0.2 and abs(bal.loc["x1", "smd_after"]) < 0.05
    assert res.influence.shape == (len(df),)


def test_extreme_weights_are_flagged():
    rng = np.random.default_rng(10)
    n = 2000
    x = rng.normal(size=n) * 2.5
    d = (rng.random(n) < 1 / (1 + np.exp(-2 * x))).astype(int)
    df = pd.DataFrame({"x": x, "d": d, "y": x + d + rng.normal(size=n)})
    panel = Panel(df, outcome="y", treatment="d", covariates=["x"])
    with pytest.warns(StatisticalWarning, match="extreme"):
        res = InverseProbabilityWeighting(estimand="ATE").fit(panel)
    assert any("extreme" in w for w in res.warnings)


def test_weighting_bad_inputs():
    df = _weighting_data(400)
    panel = Panel(df, outcome="y", treatment="d", covariates=["x1", "x2"])
    with pytest.raises(OptionError, match="trim"):
        InverseProbabilityWeighting(trim=0.7).fit(panel)
    with pytest.raises(OptionError, match="estimand"):
        AugmentedIPW(estimand="ATX").fit(panel)
    with pytest.raises(EstimationError, match="no control units"):
        InverseProbabilityWeighting().fit(Panel(df.assign(d=1), outcome="y", treatment="d",
                                                covariates=["x1"]))


@pytest.mark.parametrize("cls", [InverseProbabilityWeighting, AugmentedIPW])
def test_atc_is_the_att_with_the_groups_swapped(cls):
    """E[Y1 - Y0 | D=0] is minus the ATT of the flipped treatment; the logit is
    symmetric in the labels, so the estimators agree exactly (the ATT path is
    checked against spimpact.did above)."""
    df = _weighting_data(1200, seed=11)
    atc = _quiet(cls(estimand="ATC"), Panel(df, outcome="y", treatment="d",
                                            covariates=["x1", "x2"])).overall
    flipped = df.assign(d=1 - df["d"])
    att = _quiet(cls(estimand="ATT"), Panel(flipped, outcome="y", treatment="d",
                                            covariates=["x1", "x2"])).overall
    assert atc.estimate == pytest.approx(-att.estimate, rel=EST_RTOL)
    assert atc.std_error == pytest.approx(att.std_error, rel=DR_SE_RTOL)
