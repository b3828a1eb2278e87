"""The scenarios' documented expectations, checked with many replications
(``@pytest.mark.slow``: run by ``make bench``, not by the default suite).

Each check compares estimates with each replication's simulated truth: a
method "passes" when |bias| is within 3 Monte Carlo SEs and coverage within 3
Monte Carlo SEs of 95% (:func:`spimpact.bench.result.checks`), and is
"biased" when its bias exceeds 5 Monte Carlo SEs. The seeds differ from those
of the standard suites (``spimpact/bench/standard_suites``), so these are independent
confirmations of the results page.
"""

from __future__ import annotations

import numpy as np
import pytest

from spimpact import bench
from spimpact.bench.estimators import build_estimator
from spimpact.errors import DependencyError
from spimpact.results import Estimate

pytestmark = pytest.mark.slow

REPS = 200
#: Far outside Monte Carlo noise: the bias is real.
BIASED_MCSE = 5.0
#: Coverage this far below 95% is a failure of the intervals, not Monte Carlo noise
#: (more than 5 Monte Carlo SEs of a 95% coverage over 200 replications).
UNDERCOVERS = 0.95 - 5 * np.sqrt(0.95 * 0.05 / REPS)
MODERN = ["callaway_santanna", "sun_abraham", "imputation", "two_stage"]
DID = [*MODERN, "twfe"]


def _run(scenario, estimators, reps=REPS, seed=31, **kw):
    return bench.run(scenario, estimators, reps=reps, random_state=seed, progress=False,
                     **kw).checks().set_index("estimator")


def _passes(row):
    return bool(row["bias_ok"] and row["coverage_ok"] and row["n_failed"] == 0)


def _biased(row):
    return abs(row["bias"]) > BIASED_MCSE * row["mcse_bias"]


def _needs(name):
    try:
        build_estimator(name)
    except DependencyError as exc:
        pytest.skip(f"{name} not available: {exc}")


def test_homogeneous_every_did_estimator_passes():
    t = _run("homogeneous", DID)
    for e in DID:
        assert _passes(t.loc[e]), t.loc[e]


def test_null_size_is_nominal():
    """No effect: each test rejects in 5% of replications, within 3 Monte Carlo SEs."""
    t = _run("null", DID)
    mc = np.sqrt(0.05 * 0.95 / REPS)
    for e in DID:
        assert abs(t.loc[e, "rejection_rate"] - 0.05) <= 3 * mc, t.loc[e]
        assert t.loc[e, "bias_ok"], t.loc[e]


def test_heterogeneous_dynamic_modern_estimators_pass_twfe_fails():
    t = _run("heterogeneous_dynamic", DID, seed=32)
    for e in MODERN:
        assert t.loc[e, "bias_ok"], t.loc[e]
    assert _passes(t.loc["callaway_santanna"])
    assert _biased(t.loc["twfe"])


@pytest.fixture(scope="module")
def selection_on_need():
    return _run("selection_on_need", ["callaway_santanna", "callaway_santanna[method='reg']",
                                      "imputation", "twfe"])


def test_selection_on_need_needs_covariates(selection_on_need):
    """Parallel trends hold given the covariates: the covariate-adjusted estimators are
    unbiased (and outcome regression has nominal coverage); the others are biased."""
    t = selection_on_need
    assert t.loc["callaway_santanna", "bias_ok"], t.loc["callaway_santanna"]
    assert _passes(t.loc["callaway_santanna[method='reg']"]), t.loc[
        "callaway_santanna[method='reg']"]
    assert _biased(t.loc["imputation"]) and _biased(t.loc["twfe"])


@pytest.mark.xfail(strict=True, reason=(
    "known: with covariates and poor overlap (propensity scores near 1), the doubly robust "
    "Callaway-Sant'Anna SE is about 25% below the empirical SE and its 95% intervals cover "
    "82-84% (seeds 31 and 20240604); outcome regression is nominal"))
def test_selection_on_need_doubly_robust_coverage(selection_on_need):
    assert _passes(selection_on_need.loc["callaway_santanna"]), selection_on_need.loc[
        "callaway_santanna"]


def test_anticipation_must_be_declared():
    t = _run("anticipation", ["callaway_santanna", "callaway_santanna[anticipation=1]"])
    assert _biased(t.loc["callaway_santanna"])
    assert _passes(t.loc["callaway_santanna[anticipation=1]"])


def test_unbalanced_panels():
    t = _run("unbalanced", ["callaway_santanna", "imputation"])
    for e in t.index:
        assert _passes(t.loc[e]), t.loc[e]


def test_power_grows_with_the_number_of_pcns():
    """A 1% fall in A&E attendances: power with 80 PCNs exceeds power with 20 by far
    more than Monte Carlo error, and the effect-free rejection rate is the size."""
    pw = bench.power("ae_attendances", "callaway_santanna", effects=[0.0, np.log(0.99)],
                     reps=REPS, random_state=5, design={"n_pcns": [20, 80]},
                     params={"n_icbs": 4}, progress=False)
    t = pw.table.set_index(["n_pcns", "effect"])["rejection_rate"]
    se = np.sqrt(2 * 0.25 / REPS)  # largest MCSE of a difference of two rates
    assert t.loc[(80, np.log(0.99))] - t.loc[(20, np.log(0.99))] > 4 * se
    for n in (20, 80):
        assert abs(t.loc[(n, 0.0)] - 0.05) <= 3 * np.sqrt(0.05 * 0.95 / REPS)


class NaiveDifference:
    """Referred minus not referred, Welch SE: ignores the confounding on purpose."""

    def fit(self, panel):
        y, d = panel.y, panel.treated.astype(bool)
        diff = y[d].mean() - y[~d].mean()
        se = np.sqrt(y[d].var(ddof=1) / d.sum() + y[~d].var(ddof=1) / (~d).sum())
        return type("Naive", (), {"overall": Estimate.from_se(diff, se),
                                  "warnings": ()})()


def test_patient_confounding_needs_adjustment():
    _needs("aipw")
    t = _run("patient_confounding", {"naive": NaiveDifference(), "ipw": "ipw", "aipw": "aipw",
                                     "psm[caliper=None]": "psm[caliper=None]"})
    assert _biased(t.loc["naive"]) and t.loc["naive", "coverage"] == 0.0
    assert _passes(t.loc["aipw"]), t.loc["aipw"]
    assert t.loc["ipw", "bias_ok"], t.loc["ipw"]
    assert _biased(t.loc["psm[caliper=None]"])


def test_patient_confounding_bias_corrected_full_matching():
    """The configuration the matching guide recommends: bias under a tenth of the
    effect (|bias| + 2 MCSE < 0.1 |ATT|, so the bound is not Monte Carlo luck)."""
    full_bc = "psm[method=full, caliper=None, bias_correction=True]"
    t = _run("patient_confounding", [full_bc, "psm"])
    row = t.loc[full_bc]
    assert abs(row["bias"]) + 2 * row["mcse_bias"] < 0.1 * abs(row["truth"]), row
    assert row["n_failed"] == 0


def test_its_ols_intervals_ignore_autocorrelation():
    _needs("its")
    t = _run("its_autocorrelated", ["its[autocorrelation=None]", "its"])
    for e in t.index:
        assert t.loc[e, "bias_ok"], t.loc[e]
    ols, hac = t.loc["its[autocorrelation=None]"], t.loc["its"]
    assert ols["coverage"] < UNDERCOVERS, ols
    assert ols["mean_se"] < 0.7 * ols["emp_se"], ols  # model SEs far below the true SE
    assert hac["coverage"] > ols["coverage"] + 4 * hac["mcse_coverage"], (hac, ols)


@pytest.mark.bayes
def test_bayes_did_adapter_runs_end_to_end():
    """MCMC in every replication: two replications of a tiny rollout, every fit reported
    (its Monte Carlo performance is on the results page, from the bayes suite)."""
    _needs("bayes_did")
    t = _run("homogeneous", ["bayes_did[chains=2, draws=200, tune=200]"], reps=2,
             params={"n_pcns": 30, "n_icbs": 3})
    row = t.iloc[0]
    assert row["reps"] == 2 and row["n_failed"] == 0, row
    assert np.isfinite(row["bias"]) and row["mean_se"] > 0, row
