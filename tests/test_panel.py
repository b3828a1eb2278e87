"""Tests of :class:`spimpact.Panel`: every kind of data, every type of time
column, cohorts from a column or a treatment indicator, the derived views,
aggregation and balancing, and the warnings. (The Panel vignette,
``vignettes/00_panel.py``, runs in ``test_vignettes.py``.)

Expected values are worked out by hand from the small frames in each test
(or by plain pandas group-bys), never read back from the Panel itself.
"""

from __future__ import annotations

import datetime as dt
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spimpact import DataWarning, Panel, PanelError


def _small() -> pd.DataFrame:
    """Four practices in two PCNs, three quarters; PCN x starts in 2019Q2."""
    return pd.DataFrame({
        "practice": np.repeat(["a", "b", "c", "d"], 3),
        "pcn": np.repeat(["x", "x", "y", "y"], 3),
        "icb": "I1",
        "quarter": pd.PeriodIndex(["2019Q1", "2019Q2", "2019Q3"] * 4, freq="Q"),
        "start": pd.PeriodIndex(["2019Q2"] * 6 + [None] * 6, freq="Q"),
        "visits": [10, 12, 14, 20, 22, 24, 5, 6, 7, 8, 9, 10],
        "pop": [100, 100, 100, 200, 200, 200, 50, 50, 50, 60, 60, 60],
        "imd": np.repeat([10.0, 20.0, 30.0, 40.0], 3),
    })


def _panel(**kw) -> Panel:
    args = dict(outcome="visits", unit="practice", time="quarter", cohort="start",
                exposure="pop", levels=["practice", "pcn", "icb"], covariates=["imd"])
    args.update(kw)
    return Panel(_small(), **args)


# ------------------------------------------------------------------ kinds
def test_panel_kind_sizes_and_codes():
    p = _panel()
    assert p.kind == "panel" and (p.n_obs, p.n_units, p.n_periods) == (12, 4, 3)
    assert p.is_balanced
    assert [str(q) for q in p.periods] == ["2019Q1", "2019Q2", "2019Q3"]
    assert p.units.tolist() == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(p.unit_codes, np.repeat([0, 1, 2, 3], 3))
    np.testing.assert_array_equal(p.time_codes, np.tile([0, 1, 2], 4))
    np.testing.assert_array_equal(p.y, _small()["visits"].to_numpy(float))
    np.testing.assert_array_equal(p.exposure_values, _small()["pop"].to_numpy(float))
    np.testing.assert_array_equal(p.w, np.ones(12))
    np.testing.assert_array_equal(p.unit_cohort_codes, [1, 1, np.inf, np.inf])


def test_arrays_are_read_only_and_panel_immutable():
    p = _panel()
    for arr in (p.y, p.w, p.unit_codes, p.time_codes, p.cohort_codes, p.exposure_values):
        with pytest.raises(ValueError):
            arr[0] = 0
    with pytest.raises(AttributeError, match="immutable"):
        p.outcome = "pop"
    f = p.frame
    f.loc[f.index[0], "visits"] = -1  # a copy: the panel is unchanged
    assert p.y[0] == 10 and p.frame["visits"].iloc[0] == 10


def test_repeated_cross_section():
    df = pd.DataFrame({"year": [2019, 2019, 2020, 2020, 2020],
                       "y": [1.0, 2.0, 3.0, 4.0, 5.0], "g": [2020, np.nan, 2020, np.nan, np.nan]})
    p = Panel(df, outcome="y", time="year", cohort="g")
    assert p.kind == "repeated_cross_section"
    assert (p.n_obs, p.n_units, p.n_periods) == (5, 5, 2)
    np.testing.assert_array_equal(p.treated, [0, 0, 1, 0, 0])
    c = p.cohorts
    assert c["n_units"].tolist() == [2, 3] and c["never_treated"].tolist() == [False, True]
    with pytest.raises(PanelError, match="balanced"):
        p.balanced()


def test_single_series_sorted_by_time():
    df = pd.DataFrame({"month": pd.PeriodIndex(["2020-03", "2020-01", "2020-02"], freq="M"),
                       "y": [3.0, 1.0, 2.0], "d": [1, 0, 0]})
    p = Panel(df, outcome="y", time="month", treatment="d")
    assert p.kind == "series" and p.n_units == 1 and p.is_balanced
    np.testing.assert_array_equal(p.y, [1.0, 2.0, 3.0])
    assert p.frame.index.tolist() == [1, 2, 0]  # positions in the data as given
    assert str(p.cohorts["cohort"].iloc[0]) == "2020-03"


def test_cross_section_with_treatment():
    df = pd.DataFrame({"id": [3, 1, 2, 4], "y": [1.0, 2.0, 3.0, 4.0], "d": [1, 0, 1, 0],
                       "age": [50.0, 60.0, 70.0, 80.0], "sex": ["f", "m", "f", "m"]})
    p = Panel(df, outcome="y", unit="id", treatment="d", covariates=["age", "sex"])
    assert p.kind == "cross_section" and p.n_units == 4 and p.n_periods == 1
    assert p.units.tolist() == [1, 2, 3, 4]
    np.testing.assert_array_equal(p.treated, [0, 1, 1, 0])  # ids 1, 2, 3, 4
    c = p.cohorts.set_index("never_treated")
    assert c.loc[False, "cohort"] == "treated" and c.loc[False, "n_units"] == 2
    assert p.covariate_frame().columns.tolist() == ["age", "sex"]


def test_cross_section_without_unit():
    p = Panel(pd.DataFrame({"y": [1.0, 2.0, 3.0]}), outcome="y")
    assert p.kind == "cross_section" and p.n_units == 3 and not p.has_cohorts
    with pytest.raises(PanelError, match="no cohort"):
        _ = p.cohorts


# ------------------------------------------------------------ polars input
def test_polars_input_equals_pandas_input():
    pl = pytest.importorskip("polars")
    df = _small().assign(quarter=lambda d: d["quarter"].dt.start_time,
                         start=lambda d: d["start"].dt.start_time)
    a = Panel(df, outcome="visits", unit="practice", time="quarter", cohort="start")
    b = Panel(pl.from_pandas(df), outcome="visits", unit="practice", time="quarter",
              cohort="start")
    c = Panel(pl.from_pandas(df).lazy(), outcome="visits", unit="practice", time="quarter",
              cohort="start")
    for other in (b, c):
        assert other.kind == "panel"
        np.testing.assert_array_equal(a.y, other.y)
        np.testing.assert_array_equal(a.cohort_codes, other.cohort_codes)
        assert list(a.periods) == list(other.periods)


def test_polars_date_columns():
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"u": [1, 1, 2, 2], "t": [dt.date(2019, 1, 1), dt.date(2019, 2, 1)] * 2,
                       "y": [1.0, 2.0, 3.0, 4.0], "s": [dt.date(2019, 2, 1)] * 2 + [None] * 2})
    p = Panel(df, outcome="y", unit="u", time="t", cohort="s")
    assert [str(t.date()) for t in p.periods] == ["2019-01-01", "2019-02-01"]
    np.testing.assert_array_equal(p.unit_cohort_codes, [1, np.inf])


def test_csv_and_parquet_paths(tmp_path):
    df = _small().assign(quarter=lambda d: d["quarter"].astype(str),
                         start=lambda d: d["start"].astype(str).replace("NaT", None))
    ref = Panel(df, outcome="visits", unit="practice", time="quarter", cohort="start")
    df.to_csv(tmp_path / "extract.csv", index=False)
    paths = [tmp_path / "extract.csv"]
    if pytest.importorskip("pyarrow"):
        df.to_parquet(tmp_path / "extract.parquet")
        paths.append(tmp_path / "extract.parquet")
    for path in paths:
        p = Panel(str(path), outcome="visits", unit="practice", time="quarter", cohort="start")
        np.testing.assert_array_equal(p.y, ref.y)
        np.testing.assert_array_equal(p.cohort_codes, ref.cohort_codes)
        assert [str(q) for q in p.periods] == ["2019Q1", "2019Q2", "2019Q3"]


# -------------------------------------------------------- time column types
@pytest.mark.parametrize(("times", "cohorts", "shown"), [
    ([2003, 2004, 2005], [2004, None], [2003, 2004, 2005]),
    ([2003.0, 2004.0, 2005.0], [2004.0, np.inf], [2003.0, 2004.0, 2005.0]),
    (pd.to_datetime(["2019-01-01", "2019-02-01", "2019-03-01"]),
     pd.to_datetime(["2019-02-01", None]), ["2019-01-01", "2019-02-01", "2019-03-01"]),
    ([dt.date(2019, 1, 1), dt.date(2019, 2, 1), dt.date(2019, 3, 1)],
     pd.to_datetime(["2019-02-01", None]), ["2019-01-01", "2019-02-01", "2019-03-01"]),
    (pd.PeriodIndex(["2019Q3", "2019Q4", "2020Q1"], freq="Q"),
     pd.PeriodIndex(["2019Q4", None], freq="Q"), ["2019Q3", "2019Q4", "2020Q1"]),
    (["2019Q3", "2019Q4", "2020Q1"], ["2019Q4", None], ["2019Q3", "2019Q4", "2020Q1"]),
    (["2019-11", "2019-12", "2020-01"], ["2019-12", None], ["2019-11", "2019-12", "2020-01"]),
    (pd.Categorical(["pre", "mid", "post"], categories=["pre", "mid", "post"], ordered=True),
     ["mid", None], ["pre", "mid", "post"]),
])
def test_time_types_keep_labels_and_order(times, cohorts, shown):
    t = list(times)
    df = pd.DataFrame({
        "u": np.repeat([1, 2], 3),
        # rows given in reverse time order: periods must still come out ordered
        "t": pd.Series(t[::-1] + t[::-1], dtype=getattr(times, "dtype", None)),
        "y": np.arange(6.0),
        "g": pd.Series(np.repeat(list(cohorts), 3), dtype=getattr(cohorts, "dtype", None)),
    })
    p = Panel(df, outcome="y", unit="u", time="t", cohort="g")
    labels = [str(x.date()) if isinstance(x, pd.Timestamp) else x for x in p.periods]
    assert [str(x) for x in labels] == [str(x) for x in shown]
    np.testing.assert_array_equal(p.time_codes, [0, 1, 2, 0, 1, 2])
    np.testing.assert_array_equal(p.y, [2.0, 1.0, 0.0, 5.0, 4.0, 3.0])
    np.testing.assert_array_equal(p.unit_cohort_codes, [1, np.inf])
    assert str(p.cohort_label(1)) == str(p.periods[1])
    np.testing.assert_array_equal(p.event_time.to_numpy()[:3], [-1, 0, 1])


def test_monthly_cohort_on_quarterly_time_and_dates_on_periods():
    df = _small().assign(start=lambda d: np.where(d["start"].isna(), None, "2019-05-17"))
    p = Panel(df, outcome="visits", unit="practice", time="quarter", cohort="start")
    np.testing.assert_array_equal(p.unit_cohort_codes, [1, 1, np.inf, np.inf])  # May in Q2


def test_period_cohort_on_datetime_time_uses_period_start():
    df = pd.DataFrame({"u": [1, 1, 2, 2], "t": pd.to_datetime(["2019-01-01", "2019-02-01"] * 2),
                       "y": [1.0, 2.0, 3.0, 4.0],
                       "s": pd.PeriodIndex(["2019-02"] * 2 + [None] * 2, freq="M")})
    p = Panel(df, outcome="y", unit="u", time="t", cohort="s")
    np.testing.assert_array_equal(p.unit_cohort_codes, [1, np.inf])


def test_timezone_aware_time_with_naive_cohort():
    t = pd.to_datetime(["2019-01-01", "2019-02-01"]).tz_localize("Europe/London")
    df = pd.DataFrame({"u": [1, 1, 2, 2], "t": list(t) * 2, "y": [1.0, 2.0, 3.0, 4.0],
                       "s": ["2019-02-01"] * 2 + [None] * 2})
    p = Panel(df, outcome="y", unit="u", time="t", cohort="s")
    np.testing.assert_array_equal(p.unit_cohort_codes, [1, np.inf])


def test_numbers_stored_as_text_order_as_numbers():
    p = Panel(pd.DataFrame({"t": ["1", "10", "2"], "y": [1.0, 10.0, 2.0]}), outcome="y", time="t")
    assert p.periods.tolist() == [1, 2, 10]
    np.testing.assert_array_equal(p.y, [1.0, 2.0, 10.0])


# ------------------------------------------------------------ cohort rules
def test_cohort_outside_and_between_observed_periods():
    q = pd.PeriodIndex(["2019Q1", "2019Q3", "2019Q4"], freq="Q")  # 2019Q2 never observed
    df = pd.DataFrame({"u": np.repeat([1, 2, 3, 4], 3), "t": np.tile(q, 4), "y": np.arange(12.0),
                       "g": pd.PeriodIndex(np.repeat(["2019Q2", "2018Q4", "2020Q2", None], 3),
                                           freq="Q")})
    with pytest.warns(DataWarning, match=r"not an observed period \(e.g. 2019Q2"):
        p = Panel(df, outcome="y", unit="u", time="t", cohort="g")
    np.testing.assert_array_equal(p.unit_cohort_codes, [1, -1, 3, np.inf])
    assert p.cohort_label(-1) == "before first period"
    assert p.cohort_label(3) == "after last period"
    assert any("2019Q2" in n for n in p.notes)
    np.testing.assert_array_equal(p.treated, np.r_[0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    assert p.event_time.isna().sum() == 9  # only unit 1 has an event time in the window


def test_numeric_cohort_between_periods_on_the_per_unit_path():
    """Sorted integer periods with one unobserved (2020): the per-unit cohort
    path places the 2020 cohort on 2021 with the same note, and its rows'
    cohorts (gathered on first use) equal those of the row path (shuffled)."""
    df = pd.DataFrame({"u": np.repeat([1, 2, 3, 4], 3), "t": np.tile([2019, 2021, 2022], 4),
                       "y": np.arange(12.0),
                       "g": np.repeat([2020.0, 2018.0, 2024.0, np.nan], 3)})
    with pytest.warns(DataWarning, match=r"1 units have a cohort .* \(e.g. 2020.0 in row 0\);.*"
                                         r"\(here 2021\)"):
        p = Panel(df, outcome="y", unit="u", time="t", cohort="g")
    assert p._cohort_pos is None  # not gathered yet
    np.testing.assert_array_equal(p.unit_cohort_codes, [1, -1, 3, np.inf])
    np.testing.assert_array_equal(p.treated, np.r_[0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    with pytest.warns(DataWarning):
        rows = Panel(df.iloc[::-1], outcome="y", unit="u", time="t", cohort="g")
    np.testing.assert_array_equal(p.cohort_codes, rows.cohort_codes)
    assert not p.cohort_codes.flags.writeable


def test_never_treated_code_and_infinite_cohort():
    df = pd.DataFrame({"u": np.repeat([1, 2, 3], 2), "t": [2004, 2005] * 3,
                       "y": np.arange(6.0), "g": np.repeat([2005, 0, 0], 2)})
    with pytest.raises(PanelError, match="never_treated=0"):
        Panel(df, outcome="y", unit="u", time="t", cohort="g")
    p = Panel(df, outcome="y", unit="u", time="t", cohort="g", never_treated=0)
    assert p.never_treated_units.tolist() == [2, 3]
    inf = Panel(df.assign(g=np.repeat([2005.0, np.inf, np.nan], 2)), outcome="y", unit="u",
                time="t", cohort="g")
    assert inf.never_treated_units.tolist() == [2, 3]
    text = df.assign(t=df["t"].astype(str), g=np.repeat(["2005", "never", "never"], 2))
    q = Panel(text, outcome="y", unit="u", time="t", cohort="g", never_treated="never")
    assert q.never_treated_units.tolist() == [2, 3]
    assert str(q.cohort_label(q.unit_cohort_codes[0])) == "2005"


def test_treatment_gives_the_same_cohorts_as_the_cohort_column():
    df = _small()
    treated = (df["quarter"] >= df["start"]).astype(int)  # NaT compares False
    a = _panel()
    b = Panel(df.assign(d=treated), outcome="visits", unit="practice", time="quarter",
              treatment="d")
    np.testing.assert_array_equal(a.cohort_codes, b.cohort_codes)
    np.testing.assert_array_equal(a.treated, b.treated)
    np.testing.assert_array_equal(b.treated, treated.to_numpy())
    pd.testing.assert_frame_equal(a.cohorts, b.cohorts)


def test_treatment_start_survives_a_missing_outcome_in_its_first_period():
    df = pd.DataFrame({"u": np.repeat([1, 2, 3], 4), "t": [1, 2, 3, 4] * 3,
                       "d": [0, 0, 1, 1] + [0] * 8,
                       "y": [1.0, 2.0, np.nan, 4.0] + [1.0, 2.0, 3.0, 4.0] * 2,
                       "z": np.arange(12.0)})
    with pytest.warns(DataWarning, match="1 rows with a missing outcome"):
        p = Panel(df, outcome="y", unit="u", time="t", treatment="d", covariates=["z"])
    assert p.n_obs == 11
    assert p.cohort_label(p.unit_cohort_codes[0]) == 3  # not 4, the next observed row
    # a sub-panel of some units (as subgroup analyses build) keeps the same cohort
    sub = p._derive(p.frame.loc[p.frame["u"] <= 2])
    assert sub.n_units == 2 and sub.cohort_label(sub.unit_cohort_codes[0]) == 3
    assert sub.notes == p.notes
    z = p.replace(outcome="z", covariates=())  # observed everywhere: every row is back
    assert z.n_obs == 12 and z.notes == ()


def test_replace_swaps_roles():
    p = _panel()
    q = p.replace(cohort=None, treatment=None)
    assert not q.has_cohorts and np.isinf(q.cohort_codes).all()
    with pytest.raises(PanelError, match="unknown Panel role"):
        p.replace(colour="red")


# ------------------------------------------------------------ derived views
def test_cohorts_table_and_event_time():
    p = _panel()
    c = p.cohorts
    assert [str(x) for x in c["cohort"]] == ["2019Q2", "None"]
    assert c["n_units"].tolist() == [2, 2] and c["n_rows"].tolist() == [6, 6]
    assert c["never_treated"].tolist() == [False, True]
    assert p.never_treated_units.tolist() == ["c", "d"]
    et = p.event_time
    np.testing.assert_array_equal(et.to_numpy()[:6], [-1, 0, 1] * 2)
    assert et.iloc[6:].isna().all() and et.index.equals(p.frame.index)


def test_describe_counts():
    d = _panel().describe()
    assert d["kind"] == "panel" and d["rows"] == 12 and d["units"] == 4 and d["periods"] == 3
    assert str(d["first period"]) == "2019Q1" and str(d["last period"]) == "2019Q3"
    assert bool(d["balanced"])
    assert d["cohorts (treated)"] == 1 and d["treated units"] == 2
    assert d["never-treated units"] == 2
    assert d["pcn (level)"] == 2 and d["icb (level)"] == 1
    assert d["exposure total"] == 1230.0
    assert d["outcome mean"] == pytest.approx(_small()["visits"].mean())


def test_plot_rollout_draws_status_by_unit_and_period():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = _panel()
    ax = p.plot_rollout()
    img = ax.get_images()[0].get_array()
    assert img.shape == (4, 3)
    # treated units first (sorted by cohort): not yet, treated, treated; never-treated: 2
    np.testing.assert_array_equal(np.asarray(img[0]), [0, 1, 1])
    np.testing.assert_array_equal(np.asarray(img[3]), [2, 2, 2])
    plt.close("all")
    with pytest.raises(PanelError, match="plot_rollout"):
        Panel(_small(), outcome="visits", unit="practice", time="quarter").plot_rollout()


def test_repr_and_pickle():
    p = _panel()
    assert repr(p) == "Panel(panel, outcome='visits', 12 rows, 4 units x 3 periods, 1 cohorts)"
    q = pickle.loads(pickle.dumps(p))
    np.testing.assert_array_equal(q.y, p.y)
    assert q.describe().equals(p.describe())


# ------------------------------------------------------------------ aggregate
def test_aggregate_sums_counts_and_exposure_weights_means():
    df = _small()
    agg = _panel().aggregate("pcn")
    assert agg.unit == "pcn" and agg.levels == ("pcn", "icb") and agg.n_units == 2
    g = df.groupby(["pcn", "quarter"])
    np.testing.assert_allclose(agg.y, g["visits"].sum().to_numpy())
    np.testing.assert_allclose(agg.exposure_values, g["pop"].sum().to_numpy())
    imd = (df["imd"] * df["pop"]).groupby([df["pcn"], df["quarter"]]).sum() / g["pop"].sum()
    np.testing.assert_allclose(agg.frame["imd"].to_numpy(), imd.to_numpy())
    # by hand: PCN x, 2019Q1: imd (10*100 + 20*200) / 300
    assert agg.frame["imd"].iloc[0] == pytest.approx(5000 / 300)
    np.testing.assert_array_equal(agg.unit_cohort_codes, [1, np.inf])
    assert any("aggregated 12 rows to 6 rows of 'pcn'" in n for n in agg.notes)


def test_aggregate_without_exposure_takes_weighted_means():
    df = _small().assign(score=np.arange(12.0), w=np.repeat([1.0, 3.0, 1.0, 1.0], 3))
    p = Panel(df, outcome="score", unit="practice", time="quarter", weights="w",
              levels=["practice", "pcn"], cluster="practice")
    agg = p.aggregate("pcn")
    # PCN x, 2019Q1: practices a (score 0, w 1) and b (score 3, w 3): (0 + 9) / 4
    assert agg.y[0] == pytest.approx(9 / 4)
    assert agg.w[0] == pytest.approx(4.0)  # weights are summed
    assert agg.cluster is None  # clustered below the new unit: the new units are the clusters


def test_aggregate_refuses_columns_that_vary_within_the_group():
    df = _small().assign(sex=["f", "m"] * 6)
    p = Panel(df, outcome="visits", unit="practice", time="quarter", covariates=["sex"],
              levels=["practice", "pcn"])
    with pytest.raises(PanelError, match=r"'sex' varies within a 'pcn' group \(pcn='x', quarter"):
        p.aggregate("pcn")
    with pytest.raises(PanelError, match="not one of levels"):
        p.aggregate("icb")


def test_aggregate_unbalanced_counts_incomplete_groups():
    df = _small().drop(index=[2])  # practice a missing in 2019Q3
    p = Panel(df, outcome="visits", unit="practice", time="quarter", exposure="pop",
              levels=["practice", "pcn"])
    agg = p.aggregate("pcn")
    assert agg.y[2] == 24.0 and agg.exposure_values[2] == 200.0
    assert any("1 'pcn'-periods miss some of their 'practice' units" in n for n in agg.notes)


def test_aggregate_patients_to_practices():
    pts = pd.DataFrame({"practice": ["p", "p", "q", "q", "q"], "month": [1, 2, 1, 1, 2],
                        "gp": [2.0, 4.0, 1.0, 3.0, 5.0]})
    p = Panel(pts, outcome="gp", time="month", levels=["practice"])
    assert p.kind == "repeated_cross_section"
    agg = p.aggregate("practice")
    assert agg.kind == "panel"
    np.testing.assert_allclose(agg.y, [2.0, 4.0, 2.0, 5.0])


# ------------------------------------------------------------------- balanced
def test_balanced_drops_incomplete_units_and_reports_them():
    df = _small().drop(index=[4])  # practice b misses 2019Q2
    p = Panel(df, outcome="visits", unit="practice", time="quarter", cohort="start")
    assert not p.is_balanced
    with pytest.warns(DataWarning, match=r"dropped 1 of 4 units \(2 rows\)"):
        b = p.balanced()
    assert b.is_balanced and b.units.tolist() == ["a", "c", "d"] and b.n_obs == 9
    assert any("dropped 1 of 4 units" in n for n in b.notes)
    # row positions in the data as given (practice b's rows were 3 and 4)
    assert b.frame.index.tolist() == [0, 1, 2, 5, 6, 7, 8, 9, 10]
    full = _panel()
    assert full.balanced() is full


def test_missing_outcome_is_set_aside_with_a_warning_that_counts():
    df = _small()
    df.loc[[1, 5], "visits"] = np.nan
    with pytest.warns(DataWarning, match=r"2 rows with a missing outcome 'visits'.*rows 1, 5"):
        p = Panel(df, outcome="visits", unit="practice", time="quarter")
    assert p.n_obs == 10 and len(p.notes) == 1 and not p.is_balanced
    assert "notes" in p.describe().index


# --------------------------------------------------------------------- warnings
def test_no_warning_on_clean_data():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _panel()


def test_warnings_point_at_the_caller_and_late_entrants_are_flagged():
    df = pd.DataFrame({"u": np.repeat([1, 2, 3], 3)[1:], "t": [2, 3, 1, 2, 3, 1, 2, 3],
                       "d": [1, 1, 0, 1, 1, 0, 0, 0], "y": [1.0, np.nan, 3, 4, 5, 6, 7, 8]})
    with pytest.warns(DataWarning) as rec:
        p = Panel(df, outcome="y", unit="u", time="t", treatment="d")
    messages = [str(w.message) for w in rec]
    assert any("1 rows with a missing outcome" in m for m in messages)
    # unit 1 is first seen in period 2, already treated: its start may be earlier
    assert any("1 units are already treated ('d' = 1) in their first observed period" in m
               and "u=1" in m for m in messages)
    assert {Path(w.filename).name for w in rec} == {"test_panel.py"}
    np.testing.assert_array_equal(p.unit_cohort_codes, [1, 1, np.inf])
    with pytest.warns(DataWarning, match="missing outcome") as rec:
        p.replace(treatment=None)  # the rows set aside are checked (and reported) again
    assert {Path(w.filename).name for w in rec} == {"test_panel.py"}


def test_never_treated_code_and_missing_mix_within_a_unit():
    """0 (with never_treated=0) and a missing cohort both mean never treated, so
    a unit may mix them; the per-unit path of sorted numeric cohorts agrees with
    the row path of shuffled rows."""
    df = pd.DataFrame({"u": np.repeat([1, 2, 3], 3), "t": np.tile([1, 2, 3], 3),
                       "y": np.arange(9.0), "g": [0, np.nan, 0, 2, 2, 2, 3, 3, 3]})
    sorted_ = Panel(df, outcome="y", unit="u", time="t", cohort="g", never_treated=0)
    shuffled = Panel(df.iloc[::-1], outcome="y", unit="u", time="t", cohort="g",
                     never_treated=0)
    np.testing.assert_array_equal(sorted_.unit_cohort_codes, [np.inf, 1.0, 2.0])
    np.testing.assert_array_equal(shuffled.cohort_codes, sorted_.cohort_codes)


@pytest.mark.parametrize("intercept", [True, False])
def test_numeric_covariate_matrix_without_formula_equals_formulaic(intercept):
    """design_matrix's direct path for numeric columns gives formulaic's matrix
    and names (reference: formulaic.model_matrix on the same main effects)."""
    from formulaic import model_matrix

    from spimpact._formula import _numeric_columns, covariate_formula, design_matrix

    rng = np.random.default_rng(0)
    f = pd.DataFrame({"a": rng.normal(size=50), "b": rng.integers(0, 5, 50),
                      "c": rng.integers(0, 2, 50).astype(np.int8), "d": rng.normal(size=50)})
    cols = ["d", "b", "a", "c"]
    X, names = design_matrix(f, cols, intercept=intercept)
    assert _numeric_columns(f, cols, intercept) is not None  # the direct path ran
    rhs = covariate_formula(f, cols)
    mm = model_matrix(rhs if intercept else f"{rhs} - 1", f)
    np.testing.assert_array_equal(X, np.asarray(mm, dtype=float))
    assert names == [str(c) for c in mm.columns]
    # booleans and strings go through formulaic (categorical terms)
    assert _numeric_columns(f.assign(e=f["a"] > 0), ["a", "e"], True) is None
