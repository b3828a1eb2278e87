"""Tests of the results protocol (:mod:`spimpact.results`).

Intervals and p-values are checked against ``scipy.stats`` (normal and
Student t) computed independently here.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from spimpact import Estimate, OptionError, Result, StatisticalWarning
from spimpact.results import ESTIMATE_COLUMNS, estimate_table

#: scipy.special and scipy.stats share their algorithms; agreement is to rounding.
EXACT = 1e-12


def _table() -> pd.DataFrame:
    return estimate_table([0.5, -0.2, 0.0], [0.1, 0.2, 0.3],
                          index={"group": [1, 2, 3], "time": ["2019Q3", "2019Q4", "2020Q1"]})


# ------------------------------------------------------------- estimate_table
@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
def test_normal_intervals_and_p_values_match_scipy(confidence):
    est = np.array([0.5, -1.3, 0.0, 2.2])
    se = np.array([0.2, 0.5, 1.0, 0.7])
    t = estimate_table(est, se, confidence)
    q = stats.norm.ppf(0.5 + confidence / 2)
    np.testing.assert_allclose(t["ci_lower"], est - q * se, rtol=EXACT)
    np.testing.assert_allclose(t["ci_upper"], est + q * se, rtol=EXACT)
    np.testing.assert_allclose(t["p_value"], 2 * stats.norm.sf(np.abs(est / se)), rtol=1e-10)
    assert list(t.columns) == list(ESTIMATE_COLUMNS)


def test_student_t_intervals_match_scipy():
    est, se, df = np.array([0.5, -1.3]), np.array([0.2, 0.5]), 7.0
    t = estimate_table(est, se, 0.95, df=df)
    q = stats.t.ppf(0.975, df)
    np.testing.assert_allclose(t["ci_lower"], est - q * se, rtol=EXACT)
    np.testing.assert_allclose(t["p_value"], 2 * stats.t.sf(np.abs(est / se), df), rtol=1e-10)


def test_per_row_critical_values_and_degenerate_standard_errors():
    t = estimate_table([1.0, 1.0, 1.0], [0.5, 0.0, np.nan], crit=np.array([2.5, 2.5, 2.5]))
    np.testing.assert_allclose(t["ci_lower"].iloc[0], 1.0 - 2.5 * 0.5)
    assert np.isnan(t["p_value"].iloc[1]) and np.isnan(t["p_value"].iloc[2])
    # the band's critical value does not change the (pointwise) p-value
    assert t["p_value"].iloc[0] == pytest.approx(2 * stats.norm.sf(2.0), rel=1e-10)


def test_identifying_columns_come_first():
    t = _table()
    assert list(t.columns) == ["group", "time", *ESTIMATE_COLUMNS]
    idx = pd.DataFrame({"term": ["a", "b"]}, index=[10, 20])
    assert estimate_table([1.0, 2.0], [1.0, 1.0], index=idx).index.tolist() == [0, 1]


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, "95%", None])
def test_confidence_must_be_a_level(bad):
    with pytest.raises(OptionError, match="confidence must be in \\(0, 1\\)"):
        estimate_table([1.0], [1.0], bad)


# ------------------------------------------------------------------- Estimate
def test_estimate_from_se_matches_scipy():
    e = Estimate.from_se(0.3, 0.1, 0.9, label="ATT")
    q = stats.norm.ppf(0.95)
    assert e.ci_lower == pytest.approx(0.3 - q * 0.1, rel=EXACT)
    assert e.ci_upper == pytest.approx(0.3 + q * 0.1, rel=EXACT)
    assert e.p_value == pytest.approx(2 * stats.norm.sf(3.0), rel=1e-10)
    assert e.confidence == 0.9 and e.label == "ATT"
    t = Estimate.from_se(0.3, 0.1, df=5)
    assert t.ci_upper == pytest.approx(0.3 + stats.t.ppf(0.975, 5) * 0.1, rel=EXACT)


def test_estimate_is_frozen_and_prints():
    e = Estimate.from_se(0.1, 0.05)
    with pytest.raises(AttributeError):
        e.estimate = 1.0  # type: ignore[misc]
    assert str(e) == "0.1 (SE 0.05; 95% CI 0.002002 to 0.198; p = 0.0455)"
    assert set(e.to_dict()) == {*ESTIMATE_COLUMNS, "confidence"}


def test_estimate_exp_uses_the_delta_method():
    e = Estimate.from_se(np.log(0.9), 0.02)
    r = e.exp()
    assert r.estimate == pytest.approx(0.9, rel=EXACT)
    assert r.std_error == pytest.approx(0.9 * 0.02, rel=EXACT)  # d/dx exp(x) = exp(x)
    assert r.ci_lower == pytest.approx(np.exp(e.ci_lower), rel=EXACT)
    assert r.ci_upper == pytest.approx(np.exp(e.ci_upper), rel=EXACT)
    assert r.p_value == e.p_value


def test_estimate_from_row():
    row = _table().iloc[1]
    e = Estimate.from_row(row, 0.95, "g2")
    assert (e.estimate, e.std_error, e.label) == (-0.2, 0.2, "g2")


# --------------------------------------------------------------------- Result
def _result(**kw) -> Result:
    args = dict(overall=Estimate.from_se(0.1, 0.05), method="Demo estimator", n_obs=1200,
                n_units=100, n_clusters=20, info={"pre-test p": 0.4312, "control": "never"})
    args.update(kw)
    return Result(_table(), **args)


def test_result_fields():
    r = _result()
    assert r.method == "Demo estimator" and r.confidence == 0.95
    assert (r.n_obs, r.n_units, r.n_clusters) == (1200, 100, 20)
    assert r.id_columns == ["group", "time"]
    assert r.overall.estimate == 0.1 and r.info["control"] == "never"
    pd.testing.assert_frame_equal(r.estimates, _table())


def test_result_is_immutable():
    tab = _table()
    r = Result(tab, method="m")
    tab.loc[0, "estimate"] = 99.0  # changing the table given does not change the result
    assert r.estimates["estimate"].iloc[0] == 0.5
    handed = r.estimates
    handed.loc[0, "estimate"] = 99.0  # nor does changing the copy handed out
    assert r.estimates["estimate"].iloc[0] == 0.5
    with pytest.raises(AttributeError, match="immutable"):
        r.method = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        r._estimates = tab
    info = _result().info
    info["control"] = "changed"
    assert _result().info["control"] == "never"


def test_result_rejects_a_table_without_the_protocol_columns():
    with pytest.raises(OptionError, match="lacks the columns \\['std_error'"):
        Result(pd.DataFrame({"estimate": [1.0]}), method="m")
    with pytest.raises(OptionError, match="must be a pandas DataFrame"):
        Result([1.0, 2.0], method="m")  # type: ignore[arg-type]


def test_warnings_are_kept_and_emitted_once():
    with pytest.warns(StatisticalWarning) as rec:
        r = Result(_table(), method="m", warnings=["only 5 clusters", "only 5 clusters",
                                                   "extreme weights"])
    assert r.warnings == ("only 5 clusters", "extreme weights")
    assert [str(w.message) for w in rec] == ["only 5 clusters", "extreme weights"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = Result(_table(), method="m", warnings=["x"], emit=False)
    assert quiet.warnings == ("x",)


def test_summary_repr_and_html():
    with pytest.warns(StatisticalWarning):
        r = _result(warnings=["only 20 clusters <b>"])
    s = r.summary()
    assert s.splitlines()[0] == "Result"
    for text in ("Demo estimator", "95%", "1,200", "0.4312", "never", "2019Q4",
                 "Warning: only 20 clusters"):
        assert text in s, text
    assert repr(r) == ("<Result: Demo estimator, 3 estimates, overall 0.1 (SE 0.05), "
                       "1 warning(s)>")
    html = r._repr_html_()
    assert "<table" in html and "Demo estimator" in html and "2019Q4" in html
    assert "&lt;b&gt;" in html and "<b>" not in html  # text is escaped


def test_summary_shortens_long_tables():
    n = 100
    r = Result(estimate_table(np.arange(n, dtype=float), np.ones(n),
                              index={"event_time": np.arange(n)}), method="m")
    s = r.summary(max_rows=10)
    assert "100 rows in all" in s and " 99 " in s and " 50 " not in s


def test_to_frame_adds_method_and_confidence():
    f = _result(confidence=0.9).to_frame()
    assert f["method"].unique().tolist() == ["Demo estimator"]
    assert f["confidence"].unique().tolist() == [0.9]
    assert len(f) == 3


def test_plot_draws_one_point_and_interval_per_row():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = _result()
    fig, ax = plt.subplots()
    out = r.plot(ax=ax)
    assert out is ax
    ticks = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True)}
    assert ticks == {"1, 2019Q3": 2, "2, 2019Q4": 1, "3, 2020Q1": 0}  # first row on top
    np.testing.assert_allclose(ax.lines[0].get_xdata(), _table()["estimate"])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [2, 1, 0])
    assert ax.get_title() == "Demo estimator"
    plt.close("all")


def test_rich_rendering():
    pytest.importorskip("rich")
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(_result())
    text = console.export_text()
    assert "Demo estimator" in text and "2019Q4" in text
