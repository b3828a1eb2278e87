"""Matching with replacement on an estimated propensity score: the Abadie &
Imbens (2016, Econometrica 84:781) variance, and matching on the probability
scale.

References
----------
* Stata 18 ``teffects psmatch`` on Stata's ``cattaneo2`` data (logit model
  ``mbsmoke mmarried mage fage medu prenatal1``, one match with replacement,
  ties kept, matching on the estimated probability), as printed in the batch
  log github.com/cmg777/starter-academic-v501,
  ``content/post/stata_matching/analysis.log``:

  - ``atet``: ATET -224.5927, AI robust SE 30.55147;
  - default (ATE): ATE -229.4492, AI robust SE 25.88746.

  The point estimates are reproduced to the 4 printed decimals (the ATE as
  the treated-share-weighted mean of our ATT and ATC, which is how Stata's
  ATE averages the imputed effects of all units). The standard errors are
  *not* reproduced: ours is 29.59 for the ATT (3.2% below Stata's), and on
  these discrete covariates both 2016 terms are small (units with equal
  scores have equal covariates, so the within-score covariances vanish), so
  the gap is in the base Abadie-Imbens variance (how the conditional
  variances are estimated among units with tied scores), which Stata does
  not document in enough detail to reproduce. The test pins the 3.2% with a
  4% tolerance, stated, not as agreement.
* The 2016 terms against an independent slow implementation of the paper's
  estimator written here with loops over units (1e-10).
* Monte Carlo: where the outcome depends on a covariate that the score does
  not, the unadjusted standard error overstates the sampling SD of the ATT by
  about 30%; the adjusted one agrees with it within 3 Monte Carlo SEs.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spimpact import OptionError, Panel
from spimpact.matching import PropensityScoreMatching
from spimpact.matching._ai2016 import estimated_score_adjustment
from spimpact.matching.propensity import fit_propensity

DATA = Path(__file__).parent / "data"
COVS = ["mmarried", "mage", "fage", "medu", "prenatal1"]

#: Stata prints 4 decimals.
STATA_EST_ATOL = 5e-5
STATA_ATT, STATA_ATT_SE = -224.5927, 30.55147
STATA_ATE = -229.4492
#: The unexplained gap to Stata's ATT standard error (see the module docstring).
STATA_SE_RTOL = 0.04
#: Slow implementation against the vectorised one.
SLOW_RTOL = 1e-10


def _fit(panel, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PropensityScoreMatching(replace=True, caliper=None, **kw).fit(panel)


@pytest.fixture(scope="module")
def cattaneo():
    df = pd.read_csv(DATA / "cattaneo2_psm.csv").astype(float)
    return df


def _panel(df):
    return Panel(df, outcome="bweight", treatment="mbsmoke", covariates=COVS)


def test_stata_teffects_psmatch_point_estimates(cattaneo):
    panel = _panel(cattaneo)
    att = _fit(panel, distance="probability")
    atc = _fit(panel, distance="probability", estimand="ATC")
    assert abs(att.overall.estimate - STATA_ATT) < STATA_EST_ATOL
    n1 = cattaneo["mbsmoke"].sum()
    ate = (n1 * att.overall.estimate + (len(cattaneo) - n1) * atc.overall.estimate) / len(cattaneo)
    assert abs(ate - STATA_ATE) < STATA_EST_ATOL
    assert "Abadie & Imbens 2016" in att.info["standard errors"]
    assert att.overall.std_error == pytest.approx(STATA_ATT_SE, rel=STATA_SE_RTOL)
    # matching on the logit is a different matching (different neighbours)
    assert abs(_fit(panel).overall.estimate - STATA_ATT) > 1.0


def test_row_order_does_not_change_the_adjusted_se(cattaneo):
    """Discrete covariates: many tied scores, in the matching and in the
    within-group neighbours of the 2016 terms."""
    a = _fit(_panel(cattaneo), distance="probability")
    shuffled = cattaneo.sample(frac=1.0, random_state=3).reset_index(drop=True)
    b = _fit(_panel(shuffled), distance="probability")
    assert a.overall.estimate == pytest.approx(b.overall.estimate, rel=1e-12)
    assert a.overall.std_error == pytest.approx(b.overall.std_error, rel=1e-12)


def _slow_terms(y, d, X, p, s, focal_arm, tau, L):
    """The paper's estimator with loops: for every unit, its L nearest units of
    each group on the score (itself excluded), their mean outcome and the
    sample covariance of each covariate with the outcome."""
    n = len(y)
    own = d == focal_arm
    p_a = p if focal_arm == 1 else 1 - p
    f = p * (1 - p)
    info = sum(f[i] * np.outer(X[i], X[i]) for i in range(n)) / n
    c = np.zeros(X.shape[1])
    g = np.zeros(X.shape[1])
    for i in range(n):
        parts = {}
        for name, grp in (("own", own), ("other", ~own)):
            idx = [j for j in np.flatnonzero(grp) if j != i]
            idx = sorted(idx, key=lambda j: abs(s[j] - s[i]))[:L]
            Xi, yi = X[idx], y[idx]
            cov = ((Xi - Xi.mean(0)) * (yi - yi.mean())[:, None]).sum(0) / (L - 1)
            parts[name] = (yi.mean(), cov)
        g += X[i] * f[i] * (parts["own"][0] - parts["other"][0] - tau)
        c += (parts["own"][1] + p_a[i] / (1 - p_a[i]) * parts["other"][1]) * f[i]
    n_focal = own.sum()
    g /= n_focal
    c = g + c / n_focal
    inv = np.linalg.inv(info)
    return c @ inv @ c / n, g @ inv @ g / n


@pytest.mark.parametrize("focal_arm", [1, 0])
def test_terms_against_a_slow_implementation(focal_arm):
    rng = np.random.default_rng(11)
    n = 300
    x = rng.normal(size=(n, 2))
    X = np.c_[np.ones(n), x]
    d = (rng.random(n) < 1 / (1 + np.exp(-(-0.4 + x[:, 0])))).astype(float)
    y = x[:, 0] + 2 * x[:, 1] + d * (1 + x[:, 0]) + rng.normal(size=n)
    ps = fit_propensity(X, d)
    tau = 0.7
    fast = estimated_score_adjustment(y, d, X, ps.score, ps.linear, focal_arm, tau,
                                      n_neighbours=4)
    slow = _slow_terms(y, d, X, ps.score, ps.linear, focal_arm, tau, 4)
    np.testing.assert_allclose(fast, slow, rtol=SLOW_RTOL)


def test_estimator_se_is_the_adjusted_variance():
    rng = np.random.default_rng(2)
    n = 400
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    d = (rng.random(n) < 1 / (1 + np.exp(-(-0.5 + x1)))).astype(int)
    df = pd.DataFrame({"x1": x1, "x2": x2, "d": d,
                       "y": x1 + 2 * x2 + d + rng.normal(size=n)})
    panel = Panel(df, outcome="y", treatment="d", covariates=["x1", "x2"])
    adj, known = _fit(panel), _fit(panel, score_variance="known")
    assert adj.overall.estimate == known.overall.estimate
    X = np.c_[np.ones(n), x1, x2]
    ps = fit_propensity(X, d.astype(float))
    minus, plus = estimated_score_adjustment(df["y"].to_numpy(), d, X, ps.score,
                                             np.round(ps.linear, 10), 1,
                                             adj.overall.estimate)
    assert adj.overall.std_error**2 == pytest.approx(
        known.overall.std_error**2 - minus + plus, rel=1e-10)
    assert "treated as known (score_variance='known')" in known.info["standard errors"]
    # a binding caliper: the 2016 result does not cover it, and the SE says so
    cal = PropensityScoreMatching(replace=True, caliper=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cal.fit(panel)
    if res.info["unmatched focal units"]:
        assert "caliper left focal units unmatched" in res.info["standard errors"]


def test_options_are_checked():
    with pytest.raises(OptionError, match="distance"):
        PropensityScoreMatching(distance="linear")._validate()
    with pytest.raises(OptionError, match="score_variance"):
        PropensityScoreMatching(score_variance="adjusted")._validate()


#: Monte Carlo: replications and the sample size (about 20 s on one core).
MC_REPS, MC_N = 300, 800


def test_monte_carlo_adjusted_se_tracks_the_sampling_sd():
    """The score depends on x1 only, the outcome on x2 as well: matching on the
    estimated score is more precise than the known-score variance says
    (Abadie & Imbens 2016, Section 3). The SD of the MC estimates has a
    relative Monte Carlo SE of about 1 / sqrt(2 R) = 4.1%."""
    rng = np.random.default_rng(20160781)
    est, se_adj, se_known = [], [], []
    for _ in range(MC_REPS):
        x1, x2 = rng.normal(size=MC_N), rng.normal(size=MC_N)
        d = (rng.random(MC_N) < 1 / (1 + np.exp(-(-0.5 + x1)))).astype(int)
        y = x1 + 2 * x2 + d + rng.normal(size=MC_N)
        panel = Panel(pd.DataFrame({"x1": x1, "x2": x2, "d": d, "y": y}), outcome="y",
                      treatment="d", covariates=["x1", "x2"])
        a = _fit(panel)
        est.append(a.overall.estimate)
        se_adj.append(a.overall.std_error)
        se_known.append(_fit(panel, score_variance="known").overall.std_error)
    sd = np.std(est, ddof=1)
    mcse = 1 / np.sqrt(2 * (MC_REPS - 1))
    assert abs(np.mean(est) - 1.0) < 3 * sd / np.sqrt(MC_REPS)
    assert abs(np.mean(se_adj) / sd - 1) < 3 * mcse
    assert np.mean(se_known) / sd > 1 + 3 * mcse  # the known-score SE is conservative here
