"""Bayesian multilevel models that sample: radon reference, calibration, checks.

References: the Minnesota radon varying-intercept model of Gelman & Hill
(2007, p. 258), with the values of shared/reference/bayes/README.md; and
simulation-based calibration (Talts et al. 2018) of a small hierarchical model.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import spimpact as sp
from spimpact.bayes import MultilevelModel, Priors

pytestmark = pytest.mark.bayes

DATA = Path(__file__).parent / "data" / "radon_mn.csv"

#: Agreement required with the reference posterior means (the acceptance
#: criterion of the radon reference: Monte Carlo error of 4,000 draws is
#: below 0.005 for every term, so 0.03 leaves room only for prior differences).
RADON_TOL = 0.03
#: Reference posterior means (Bayesian fit with weakly informative priors).
RADON_BAYES = {"Intercept": 1.462, "x": -0.693, "sd(Intercept | county)": 0.333,
               "sigma": 0.757}
#: REML values that must lie inside the 90% credible intervals.
RADON_REML = {"Intercept": 1.462, "x": -0.693, "sd(Intercept | county)": 0.328,
              "sigma": 0.756}
RADON_U_REML = {"Intercept": 1.466, "x": -0.669, "u": 0.719}


@pytest.fixture(scope="module")
def radon_panel() -> sp.Panel:
    df = pd.read_csv(DATA)
    return sp.Panel(df, outcome="y", covariates=["x", "u"], levels=["county"])


def test_radon_reference(radon_panel: sp.Panel) -> None:
    """One fit (the radon model compiles once per process) checked four ways."""
    fit = MultilevelModel("y ~ x + (1 | county)", random_state=2019).fit(radon_panel)
    est = fit.estimates.set_index("term")
    # 1. posterior means within RADON_TOL of the reference Bayesian fit
    assert list(est.index) == ["Intercept", "x", "sd(Intercept | county)", "sigma"]
    for term, ref in RADON_BAYES.items():
        assert abs(est.loc[term, "estimate"] - ref) < RADON_TOL, term
    # 2. clean diagnostics, overall and per row
    d = fit.diagnostics
    assert d["max_rhat"] < 1.01
    assert d["min_ess_bulk"] > 400 and d["min_ess_tail"] > 400
    assert d["divergences"] == 0 and d["min_bfmi"] > 0.3
    assert fit.warnings == () and fit.converged
    assert (est["rhat"] < 1.01).all() and (est["ess_bulk"] > 400).all()
    # 3. REML values inside the 90% credible intervals; SDs near the REML SEs
    res90 = MultilevelModel("y ~ x + (1 | county)", random_state=2019,
                            confidence=0.90).fit(radon_panel)  # reuses the compiled model
    e90 = res90.estimates.set_index("term")
    for term, ref in RADON_REML.items():
        assert e90.loc[term, "ci_lower"] < ref < e90.loc[term, "ci_upper"], term
    assert est.loc["Intercept", "std_error"] == pytest.approx(0.052, abs=0.01)
    assert est.loc["x", "std_error"] == pytest.approx(0.071, abs=0.01)
    # 4. partial pooling: county effects shrink towards 0, more for small counties
    ge = fit.group_effects("county")
    assert len(ge) == 85 and set(ge["term"]) == {"Intercept"}
    df = radon_panel.frame
    n = df.groupby("county").size()
    raw = (df["y"] - est.loc["x", "estimate"] * df["x"]).groupby(df["county"]).mean() \
        - est.loc["Intercept", "estimate"]
    shrink = (ge.set_index("county")["estimate"] / raw).loc[n.index]
    assert shrink[n <= 3].median() < shrink[n >= 20].median() < 1.0
    with pytest.raises(sp.OptionError, match="grouping factors"):
        fit.group_effects("state")


@pytest.mark.slow
def test_radon_with_uranium_and_varying_slope(radon_panel: sp.Panel) -> None:
    res = MultilevelModel("y ~ x + u + (1 + x | county)", random_state=3, draws=500,
                          tune=500).fit(radon_panel)
    est = res.estimates.set_index("term")
    assert "cor(Intercept, x | county)" in est.index
    for term, ref in RADON_U_REML.items():
        assert est.loc[term, "ci_lower"] < ref < est.loc[term, "ci_upper"], term


def test_prior_predictive_check(radon_panel: sp.Panel) -> None:
    pp = MultilevelModel("y ~ x + (1 | county)", random_state=1).prior_predictive(radon_panel, 300)
    tab = pp.summary.set_index("statistic")
    # weakly informative: the observed statistics sit well inside the prior predictive range
    assert ((tab["percentile"] > 1) & (tab["percentile"] < 99)).all()
    assert tab.loc["mean", "prior_q95"] - tab.loc["mean", "prior_q05"] < 50  # not absurd


# ---------------------------------------------------------------- calibration
#: SBC settings: simulations, retained posterior draws per simulation (thinned
#: to reduce autocorrelation) and rank bins; the uniformity test fails below
#: SBC_ALPHA (Bonferroni over the three parameters at a 1% family-wise level).
SBC_SIMS = 100
SBC_DRAWS = 99
SBC_BINS = 10
SBC_ALPHA = 0.01 / 3
SBC_PRIORS = Priors(intercept=(0.0, 1.0), group_sd=1.0, sigma=1.0)


def _sbc_ranks(n_sims: int, seed: int) -> dict[str, np.ndarray]:
    """Ranks of prior draws among posterior draws of ``y ~ 1 + (1 | g)``."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(6), 4)
    ranks: dict[str, list[int]] = {"Intercept": [], "sd": [], "sigma": []}
    for i in range(n_sims):
        mu, tau, sigma = rng.normal(0, 1), abs(rng.normal(0, 1)), rng.exponential(1.0)
        y = mu + tau * rng.normal(size=6)[g] + sigma * rng.normal(size=len(g))
        panel = sp.Panel(pd.DataFrame({"y": y, "g": g}), outcome="y", levels=["g"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = MultilevelModel("y ~ 1 + (1 | g)", priors=SBC_PRIORS, chains=2, draws=396,
                                  tune=300, random_state=seed + i,
                                  target_accept=0.95).fit(panel)
        post = res.idata.posterior
        for key, var, truth in (("Intercept", "Intercept_c", mu), ("sd", "sd_g", tau),
                                ("sigma", "sigma", sigma)):
            draws = np.asarray(post[var]).reshape(-1)[:: 8][:SBC_DRAWS]
            ranks[key].append(int((draws < truth).sum()))
    return {k: np.asarray(v) for k, v in ranks.items()}


def _uniform_p(ranks: np.ndarray) -> float:
    counts = np.bincount(ranks * SBC_BINS // (SBC_DRAWS + 1), minlength=SBC_BINS)
    return float(stats.chisquare(counts).pvalue)


def test_simulation_based_calibration() -> None:
    ranks = _sbc_ranks(SBC_SIMS, seed=11)
    for name, r in ranks.items():
        assert _uniform_p(r) > SBC_ALPHA, name
    # the test has power: ranks against a shifted truth are far from uniform
    shifted = np.clip(ranks["Intercept"] + SBC_DRAWS // 3, 0, SBC_DRAWS)
    assert _uniform_p(shifted) < SBC_ALPHA
