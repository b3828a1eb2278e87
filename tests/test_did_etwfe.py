"""Extended TWFE (Wooldridge): against R's etwfe on mpdta, against the
imputation estimator, against statsmodels' Poisson GLM on the rows, and on a
simulated Poisson rollout with list-size exposure."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import spimpact as sp
from spimpact.did import ETWFE, Imputation

DATA = Path(__file__).parent / "data" / "did"
ROLES = dict(unit="countyreal", time="year", cohort="first.treat", never_treated=0,
             cluster="countyreal")
#: mpdta: 500 counties (clusters) x 5 years
G, N = 500, 2500


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    df = pd.read_csv(DATA / "mpdta.csv")
    return df.assign(emp=np.exp(df["lemp"]))


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    """R etwfe's own test values (inst/tinytest/test_etwfe.R and test_emfx.R,
    models m1, m2, m3 and m3p on did::mpdta); see tests/data/did/README.md."""
    return pd.read_csv(DATA / "r_etwfe.csv")


def _fit(est, panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(panel)


def _fixest_factor(K: int) -> float:
    """fixest's small-sample factor for clustered SEs, sqrt(G/(G-1) (N-1)/(N-K)),
    with K the regression's parameters: R's etwfe uses cohort effects (4,
    not nested in the county clusters), year effects (4) and its terms."""
    return float(np.sqrt(G / (G - 1) * (N - 1) / (N - K)))


@pytest.mark.parametrize(("model", "options", "K"), [
    ("m1", {}, 8 + 7),
    ("m2", {"control_group": "never_treated"}, 8 + 12),
    ("m3", {"covariates": ["lpop"]}, 8 + 22),
])
def test_linear_cells_match_r_etwfe(mpdta, ref, model, options, K):
    """Cell coefficients to 1e-10; clustered SEs to 1e-8 after fixest's
    small-sample factor (the influence-function SEs have none)."""
    panel = sp.Panel(mpdta, outcome="lemp", covariates=["lpop"], **ROLES)
    tab = _fit(ETWFE(inference="analytic", **options), panel).estimates
    tab = tab[tab["std_error"].notna()].reset_index(drop=True)
    r = ref[(ref["model"] == model) & (ref["target"] == "cell")].reset_index(drop=True)
    assert tab[["group", "time"]].astype(int).values.tolist() == \
        r[["group", "time"]].astype(int).values.tolist()
    np.testing.assert_allclose(tab["estimate"], r["estimate"], atol=1e-10)
    np.testing.assert_allclose(tab["std_error"] * _fixest_factor(K), r["std_error"], rtol=1e-8)


def test_aggregations_match_r_emfx(mpdta, ref):
    """emfx's simple, calendar, group and event summaries of m3 (shares fixed,
    as emfx takes them): estimates to 1e-9, SEs to 1e-6 (emfx's delta method
    uses numerical derivatives)."""
    panel = sp.Panel(mpdta, outcome="lemp", covariates=["lpop"], **ROLES)
    res = _fit(ETWFE(inference="analytic", covariates=["lpop"], fixed_shares=True), panel)
    f = _fixest_factor(8 + 22)
    simple = ref[(ref["model"] == "m3") & (ref["target"] == "simple")].iloc[0]
    assert res.overall.estimate == pytest.approx(simple["estimate"], abs=1e-9)
    assert res.overall.std_error * f == pytest.approx(simple["std_error"], rel=1e-6)
    for kind, col, rcol in (("calendar", "time", "time"), ("group", "group", "group"),
                            ("event", "event_time", "group")):
        tab = res.aggregate(kind).estimates
        r = ref[(ref["model"] == "m3") & (ref["target"] == kind)]
        assert len(tab) == len(r) > 2
        assert tab[col].astype(int).tolist() == r[rcol].astype(int).tolist()
        np.testing.assert_allclose(tab["estimate"], r["estimate"], atol=1e-9)
        np.testing.assert_allclose(tab["std_error"] * f, r["std_error"], rtol=1e-6)


def test_poisson_matches_r_etwfe(mpdta, ref):
    """m3p (Poisson, emp ~ lpop): cell coefficients to 1e-8, event summaries
    on the link and the count scale (emfx predict='link' and 'response').
    SEs to 5e-5: fixest stops its Poisson iterations at a relative deviance
    change of 1e-8, which leaves differences of about 1e-5 in the SEs."""
    panel = sp.Panel(mpdta, outcome="emp", covariates=["lpop"], **ROLES)
    f = _fixest_factor(30)  # m3p estimates all 30 terms itself (no absorbed effects)
    link = _fit(ETWFE(inference="analytic", family="poisson", covariates=["lpop"], scale="link", fixed_shares=True),
                panel)
    r = ref[(ref["model"] == "m3p") & (ref["target"] == "cell")]
    np.testing.assert_allclose(link.estimates["estimate"], r["estimate"], atol=1e-8)
    np.testing.assert_allclose(link.estimates["std_error"] * f, r["std_error"], rtol=5e-5)
    resp = _fit(ETWFE(inference="analytic", family="poisson", covariates=["lpop"], fixed_shares=True), panel)
    for res, target in ((link, "event_link"), (resp, "event_response")):
        ev = res.aggregate("event").estimates
        r = ref[(ref["model"] == "m3p") & (ref["target"] == target)]
        np.testing.assert_allclose(ev["estimate"], r["estimate"], rtol=1e-6)
        np.testing.assert_allclose(ev["std_error"] * f, r["std_error"], rtol=5e-5)


def test_linear_equals_imputation_without_covariates(mpdta):
    """With not-yet-treated controls and no covariates, ETWFE's cells are the
    imputation estimator's (Wooldridge 2021; Borusyak et al. 2024), to 1e-10."""
    panel = sp.Panel(mpdta, outcome="lemp", **ROLES)
    a = _fit(ETWFE(inference="analytic"), panel).estimates
    b = _fit(Imputation(), panel).estimates
    b = b[b["time"] >= b["group"]].reset_index(drop=True)
    np.testing.assert_allclose(a["estimate"], b["estimate"], atol=1e-10)


def test_poisson_totals_equal_a_row_level_glm(mpdta):
    """Without covariates the fit on cohort x period totals equals statsmodels'
    Poisson GLM on every row with cohort, year and cell dummies (coefficients to
    1e-8; cluster-robust SEs to 1e-6 with statsmodels' small-sample factor)."""
    import statsmodels.api as sm

    df = mpdta.assign(pop=np.exp(mpdta["lpop"]))
    panel = sp.Panel(df, outcome="emp", exposure="pop", **ROLES)
    res = _fit(ETWFE(inference="analytic", family="poisson", scale="link"), panel)
    g, t = df["first.treat"], df["year"]
    cell = np.where((g > 0) & (t >= g), g.astype(str) + "_" + t.astype(str), "none")
    X = pd.concat([pd.get_dummies(g, prefix="g", drop_first=True),
                   pd.get_dummies(t, prefix="t", drop_first=True),
                   pd.get_dummies(pd.Series(cell), prefix="c").drop(columns="c_none")],
                  axis=1).astype(float)
    X.insert(0, "const", 1.0)
    fit = sm.GLM(df["emp"], X, family=sm.families.Poisson(), offset=np.log(df["pop"])).fit(
        cov_type="cluster", cov_kwds={"groups": df["countyreal"]})
    cells = [c for c in X.columns if c.startswith("c_")]
    np.testing.assert_allclose(res.estimates["estimate"], fit.params[cells], atol=1e-8)
    k = X.shape[1]
    factor = np.sqrt(G / (G - 1) * (N - 1) / (N - k))
    np.testing.assert_allclose(res.estimates["std_error"] * factor, fit.bse[cells], rtol=1e-6)


def _poisson_rollout(seed: int) -> tuple[pd.DataFrame, float]:
    """Counts over list sizes; the treated cells' rate is 0.9 times the
    counterfactual (independent of the package's simulator)."""
    rng = np.random.default_rng(seed)
    n, T = 600, 10
    size = rng.integers(1500, 40000, n)
    cohort = rng.choice([4, 6, 8, 0], n, p=[0.3, 0.3, 0.2, 0.2])
    unit_eff = rng.normal(0, 0.2, n)
    rows = pd.DataFrame({"u": np.repeat(np.arange(n), T), "t": np.tile(np.arange(T), n)})
    rows["g"] = cohort[rows["u"]]
    rows["size"] = size[rows["u"]]
    treated = (rows["g"] > 0) & (rows["t"] >= rows["g"])
    log_rate = np.log(0.05) + 0.03 * rows["t"] + 0.05 * (rows["g"] == 4) + unit_eff[rows["u"]]
    rows["y"] = rng.poisson(rows["size"] * np.exp(log_rate + np.log(0.9) * treated))
    return rows, float(np.log(0.9))


def test_poisson_recovers_a_rate_ratio_with_exposure():
    rows, truth = _poisson_rollout(11)
    panel = sp.Panel(rows, outcome="y", unit="u", time="t", cohort="g", never_treated=0,
                     exposure="size")
    res = _fit(ETWFE(inference="analytic", family="poisson", scale="link"), panel)
    o = res.overall
    assert abs(o.estimate - truth) < 4 * o.std_error
    assert o.std_error < 0.02
    # the count-scale effect: about 10% of the treated rows' counterfactual counts
    resp = _fit(ETWFE(inference="analytic", family="poisson"), panel).overall
    tr = (rows["g"] > 0) & (rows["t"] >= rows["g"])
    assert resp.estimate == pytest.approx(-rows.loc[tr, "y"].mean() / 9, rel=0.25)


def test_rate_ratios_exponentiate_the_link_scale_fit():
    """.rate_ratios() of a count-scale fit equals exp of the log-rate-ratio fit's
    cells and aggregations (estimates and interval limits)."""
    rows, truth = _poisson_rollout(12)
    panel = sp.Panel(rows, outcome="y", unit="u", time="t", cohort="g", never_treated=0,
                     exposure="size")
    counts = _fit(ETWFE(family="poisson"), panel)
    link = _fit(ETWFE(family="poisson", scale="link"), panel)
    rr = counts.rate_ratios()
    np.testing.assert_allclose(rr["rate_ratio"], np.exp(link.estimates["estimate"]), rtol=1e-12)
    np.testing.assert_allclose(rr["ci_lower"], np.exp(link.estimates["ci_lower"]), rtol=1e-12)
    assert rr[["group", "time"]].equals(link.estimates[["group", "time"]])
    simple = counts.rate_ratios("simple").iloc[0]
    assert simple["rate_ratio"] == pytest.approx(np.exp(link.overall.estimate), rel=1e-12)
    assert simple["ci_lower"] < np.exp(truth) < simple["ci_upper"]
    ev = counts.rate_ratios("event")
    np.testing.assert_allclose(ev["rate_ratio"],
                               np.exp(link.aggregate("event").estimates["estimate"]), rtol=1e-12)
    assert link.rate_ratios().equals(rr)
    with pytest.raises(sp.OptionError, match="family='poisson'"):
        _fit(ETWFE(), sp.Panel(rows, outcome="y", unit="u", time="t", cohort="g",
                               never_treated=0)).rate_ratios()


def test_exposure_is_used_or_refused(mpdta):
    df = mpdta.assign(pop=np.exp(mpdta["lpop"]))
    panel = sp.Panel(df, outcome="emp", exposure="pop", **ROLES)
    with pytest.raises(sp.EstimationError, match="exposure='pop'.*family='poisson'"):
        ETWFE().fit(panel)
    # a common rescaling of the exposure changes neither rate ratios nor counts
    a = _fit(ETWFE(family="poisson"), panel).estimates
    b = _fit(ETWFE(family="poisson"), sp.Panel(df.assign(pop=df["pop"] * 7), outcome="emp",
                                               exposure="pop", **ROLES)).estimates
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-8)
    np.testing.assert_allclose(a["std_error"], b["std_error"], rtol=1e-6)


def test_bad_input(mpdta):
    panel = sp.Panel(mpdta, outcome="lemp", **ROLES)
    with pytest.raises(sp.OptionError, match="family"):
        ETWFE(family="logit").fit(panel)
    with pytest.raises(sp.EstimationError, match="non-negative counts"):
        ETWFE(family="poisson").fit(sp.Panel(mpdta.assign(z=mpdta["lemp"] - 9), outcome="z",
                                             **ROLES))
    with pytest.raises(sp.EstimationError, match="needs a spimpact.Panel"):
        ETWFE().fit(mpdta)
