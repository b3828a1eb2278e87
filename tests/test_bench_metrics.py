"""Performance measures against independent, plain computations (loops and the
standard library) and against a distribution with known properties."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from spimpact.bench import metrics
from spimpact.bench.power import minimum_detectable_effect
from spimpact.bench.result import checks

#: The measures are a few sums: they must agree with plain loops to rounding.
RTOL = 1e-12


@pytest.fixture(scope="module")
def draws():
    rng = np.random.default_rng(0)
    n = 57
    truth = rng.normal(1.0, 0.1, n)
    est = truth + rng.normal(0.2, 0.5, n)
    se = rng.uniform(0.3, 0.7, n)
    return est, truth, se, est - 1.96 * se, est + 1.96 * se


def test_point_measures_match_plain_loops(draws):
    est, truth, se, lo, hi = draws
    n = len(est)
    errs = [e - t for e, t in zip(est, truth, strict=True)]
    assert metrics.bias(est, truth) == pytest.approx(sum(errs) / n, rel=RTOL)
    assert metrics.rmse(est, truth) == pytest.approx(math.sqrt(sum(e * e for e in errs) / n),
                                                     rel=RTOL)
    assert metrics.emp_se(est) == pytest.approx(statistics.stdev(est), rel=RTOL)
    assert metrics.mean_se(se) == pytest.approx(math.sqrt(statistics.fmean(v * v for v in se)),
                                                rel=RTOL)
    covered = sum(a <= t <= b for a, t, b in zip(lo, truth, hi, strict=True))
    assert metrics.coverage(lo, hi, truth) == pytest.approx(covered / n, rel=RTOL)
    assert metrics.ci_width(lo, hi) == pytest.approx(statistics.fmean(hi - lo), rel=RTOL)
    rejected = sum(a > 0 or b < 0 for a, b in zip(lo, hi, strict=True))
    assert metrics.rejection_rate(lo, hi) == pytest.approx(rejected / n, rel=RTOL)


def test_monte_carlo_ses_follow_morris_white_crowther(draws):
    """Table 6 of Morris, White & Crowther (2019), written out term by term."""
    est, truth, _, lo, hi = draws
    n = len(est)
    errs = [e - t for e, t in zip(est, truth, strict=True)]
    mean_e = sum(errs) / n
    assert metrics.mcse_bias(est, truth) == pytest.approx(
        math.sqrt(sum((e - mean_e) ** 2 for e in errs) / (n * (n - 1))), rel=RTOL)
    assert metrics.mcse_emp_se(est) == pytest.approx(
        statistics.stdev(est) / math.sqrt(2 * (n - 1)), rel=RTOL)
    mse = sum(e * e for e in errs) / n
    se_mse = math.sqrt(sum((e * e - mse) ** 2 for e in errs) / (n * (n - 1)))
    assert metrics.mcse_rmse(est, truth) == pytest.approx(se_mse / (2 * math.sqrt(mse)), rel=RTOL)
    var = [v * v for v in draws[2]]
    mean_var = sum(var) / n
    var_var = sum((v - mean_var) ** 2 for v in var) / (n - 1)
    assert metrics.mcse_mean_se(draws[2]) == pytest.approx(
        math.sqrt(var_var / (4 * n * mean_var)), rel=RTOL)
    c = metrics.coverage(lo, hi, truth)
    assert metrics.mcse_proportion(c, n) == pytest.approx(math.sqrt(c * (1 - c) / n), rel=RTOL)


def test_known_distribution():
    """Estimates N(theta, 1) with SE 1: bias 0, emp_se 1, coverage 0.95 up to MC error.
    Tolerance: 4 Monte Carlo SEs of each measure with n = 40,000."""
    rng = np.random.default_rng(1)
    n, theta = 40_000, 2.0
    est = theta + rng.normal(size=n)
    lo, hi = est - 1.959964, est + 1.959964
    assert abs(metrics.bias(est, theta)) < 4 * metrics.mcse_bias(est, theta)
    assert abs(metrics.emp_se(est) - 1) < 4 * metrics.mcse_emp_se(est)
    se = rng.uniform(0.5, 1.5, n)  # model SEs with mean variance 13/12
    assert abs(metrics.mean_se(se) - math.sqrt(13 / 12)) < 4 * metrics.mcse_mean_se(se)
    cov = metrics.coverage(lo, hi, theta)
    assert abs(cov - 0.95) < 4 * metrics.mcse_proportion(0.95, n)
    power = metrics.rejection_rate(lo, hi)  # P(|Z + 2| > 1.96) = 0.516...
    exact = 1 - (statistics.NormalDist().cdf(1.959964 - theta)
                 - statistics.NormalDist().cdf(-1.959964 - theta))
    assert abs(power - exact) < 4 * metrics.mcse_proportion(exact, n)


def test_summarise_orders_rows_and_counts_failures():
    rec = pd.DataFrame({
        "rep": [0, 0, 1, 1, 2, 2], "estimator": ["b", "a"] * 3, "target": "overall",
        "truth": 1.0, "estimate": [1.0, 2.0, np.nan, 2.5, 1.2, 1.5], "std_error": 0.1,
        "ci_lower": [0.8, 1.8, np.nan, 2.3, 1.0, 1.3], "ci_upper": [1.2, 2.2, np.nan, 2.7, 1.4, 1.7],
        "confidence": 0.95, "seconds": 0.5,
        "error": [None, None, "EstimationError: no controls", None, None, None],
    })
    tab = metrics.summarise(rec, estimators=["a", "b"])
    assert tab["estimator"].tolist() == ["a", "b"]
    a, b = tab.iloc[0], tab.iloc[1]
    assert (a["reps"], a["n_failed"], b["reps"], b["n_failed"]) == (3, 0, 2, 1)
    assert b["bias"] == pytest.approx(0.1, rel=RTOL)
    assert a["coverage"] == 0.0 and b["coverage"] == 1.0
    assert list(tab.columns) == list(metrics.METRIC_COLUMNS)
    # the truth shown is that of the replications measured: bias = mean_estimate - truth
    rec.loc[2, "truth"] = 9.0  # the failed replication of "b"
    b = metrics.summarise(rec, estimators=["a", "b"]).iloc[1]
    assert b["truth"] == 1.0 and b["bias"] == pytest.approx(b["mean_estimate"] - 1.0, rel=RTOL)


def test_missing_intervals_leave_the_interval_measures_only():
    rec = pd.DataFrame({
        "rep": [0, 1, 2], "estimator": "a", "target": "overall", "truth": 0.0,
        "estimate": [0.1, -0.1, 0.3], "std_error": [0.1, np.nan, 0.1],
        "ci_lower": [-0.1, np.nan, 0.1], "ci_upper": [0.3, np.nan, 0.5], "confidence": 0.95,
        "seconds": 0.1, "error": None,
    })
    row = metrics.summarise(rec).iloc[0]
    assert row["reps"] == 3 and row["bias"] == pytest.approx(0.1, rel=RTOL)
    assert row["coverage"] == 0.5 and row["mcse_coverage"] == pytest.approx(0.5 / math.sqrt(2))
    assert row["mean_se"] == pytest.approx(0.1, rel=RTOL)


def test_checks_flags():
    t = pd.DataFrame({"bias": [0.0, 0.04, 0.0], "mcse_bias": [0.01, 0.01, 0.01],
                      "coverage": [0.95, 0.95, 0.85], "confidence": 0.95, "reps": 200})
    out = checks(t)
    assert out["bias_ok"].tolist() == [True, False, True]
    # 3 MCSE of 95% coverage over 200 reps is 0.046: 0.85 is out
    assert out["coverage_ok"].tolist() == [True, True, False]


def test_minimum_detectable_effect_interpolates():
    # power 0.6 at |e| = 0.02 and 0.9 at 0.03: 0.8 is 2/3 of the way
    mde, note = minimum_detectable_effect([0.0, -0.01, -0.02, -0.03], [0.05, 0.2, 0.6, 0.9])
    assert mde == pytest.approx(-0.02 - (0.2 / 0.3) * 0.01, rel=RTOL) and note == ""
    mde, note = minimum_detectable_effect([0.1, 0.2], [0.9, 0.95])
    assert math.isnan(mde) and "smallest" in note
