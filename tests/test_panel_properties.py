"""Property-based tests of :class:`spimpact.Panel` (hypothesis).

* Row order does not matter: any permutation of the rows gives the same panel
  (the same arrays, labels, cohorts and derived views).
* The input is never modified, whether the Panel builds or raises; and bad
  data raises :class:`~spimpact.PanelError`, never another exception.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spimpact import Panel, PanelError

#: Enough examples to cover every time type and both cohort roles, few enough for seconds.
EXAMPLES = 40
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
TIME_TYPES = ("int", "period", "date", "text")


def _times(kind: str, codes: np.ndarray) -> pd.Series:
    """Period codes 0..T-1 as a time column of the given type (codes may be past T)."""
    if kind == "int":
        return pd.Series(2010 + codes)
    periods = pd.Period("2019Q1", freq="Q") + codes
    if kind == "period":
        return pd.Series(pd.PeriodIndex(periods, freq="Q"))
    if kind == "date":
        return pd.Series(pd.PeriodIndex(periods, freq="Q").start_time)
    return pd.Series(pd.PeriodIndex(periods, freq="Q").astype(str))


@st.composite
def panels(draw: st.DrawFn) -> tuple[pd.DataFrame, dict]:
    n_units = draw(st.integers(1, 7))
    n_periods = draw(st.integers(1, 5))
    present = draw(st.lists(st.booleans(), min_size=n_units * n_periods,
                            max_size=n_units * n_periods))
    present = np.array(present)
    present[0] = True
    unit = np.repeat(np.arange(n_units), n_periods)[present]
    tcode = np.tile(np.arange(n_periods), n_units)[present]
    # cohort per unit: never (-1) or a period code, possibly before or after the window
    cohort_code = np.array(draw(st.lists(st.integers(-2, n_periods + 1), min_size=n_units,
                                         max_size=n_units)))
    never = cohort_code < 0
    kind = draw(st.sampled_from(TIME_TYPES))
    n = len(unit)
    y = np.array(draw(st.lists(st.floats(-1e6, 1e6), min_size=n, max_size=n)))
    if draw(st.booleans()) and n > 1:
        y[draw(st.integers(0, n - 1))] = np.nan  # a missing outcome, set aside with a note
    df = pd.DataFrame({
        "unit": pd.Series([f"u{u}" for u in unit]),
        "time": _times(kind, tcode),
        "y": y,
        "x": np.array(draw(st.lists(st.floats(-10, 10), min_size=n, max_size=n))),
        "w": np.array(draw(st.lists(st.floats(0.5, 3.0), min_size=n, max_size=n))),
        "pcn": pd.Series([f"p{u // 2}" for u in unit]),
    })
    starts = _times(kind, np.maximum(cohort_code, 0))
    starts[never] = None
    df["cohort"] = starts.iloc[unit].to_numpy()
    if kind == "int":
        df["cohort"] = df["cohort"].astype(float)
    d = (tcode >= np.where(never, 10**6, cohort_code)[unit]).astype(int)
    df["d"] = d
    use_treatment = draw(st.booleans())
    roles = dict(outcome="y", unit="unit", time="time", covariates=["x"], weights="w",
                 levels=["unit", "pcn"], cluster="pcn")
    roles.update({"treatment": "d"} if use_treatment else {"cohort": "cohort"})
    return df, roles


def _build(df: pd.DataFrame, roles: dict) -> Panel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Panel(df, **roles)


def _assert_same_panel(a: Panel, b: Panel) -> None:
    assert (a.kind, a.n_obs, a.n_units, a.n_periods) == (b.kind, b.n_obs, b.n_units, b.n_periods)
    assert a.periods.equals(b.periods) and a.units.equals(b.units)
    for name in ("unit_codes", "time_codes", "y", "w", "cohort_codes", "treated",
                 "cluster_codes", "unit_cohort_codes"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(a.event_time.to_numpy(), b.event_time.to_numpy())
    pd.testing.assert_frame_equal(a.frame.reset_index(drop=True), b.frame.reset_index(drop=True))
    pd.testing.assert_frame_equal(a.cohorts, b.cohorts)
    assert a.is_balanced == b.is_balanced and len(a.notes) == len(b.notes)
    da, db = a.describe(), b.describe()
    assert da.drop("notes", errors="ignore").astype(str).equals(
        db.drop("notes", errors="ignore").astype(str))


@SETTINGS
@given(data=panels(), seed=st.integers(0, 2**32 - 1))
def test_row_order_does_not_change_the_panel(data, seed):
    df, roles = data
    shuffled = df.sample(frac=1.0, random_state=np.random.RandomState(seed))
    try:
        a = _build(df, roles)
    except PanelError:
        with pytest.raises(PanelError):
            _build(shuffled, roles)
        return
    b = _build(shuffled, roles)
    _assert_same_panel(a, b)
    if a.kind == "panel" and not a.is_balanced and a.n_obs > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ba, bb = a.balanced(), b.balanced()
            except PanelError:
                return
        _assert_same_panel(ba, bb)


@SETTINGS
@given(data=panels(), seed=st.integers(0, 2**32 - 1))
def test_aggregate_does_not_depend_on_row_order(data, seed):
    df, roles = data
    roles = {**roles, "cluster": None}
    shuffled = df.sample(frac=1.0, random_state=np.random.RandomState(seed))
    try:
        a = _build(df, roles).aggregate("pcn")
    except PanelError:
        return  # e.g. the cohort varies within a PCN: refused either way
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = _build(shuffled, roles).aggregate("pcn")
    np.testing.assert_allclose(a.y, b.y, rtol=1e-12)
    np.testing.assert_array_equal(a.cohort_codes, b.cohort_codes)


#: Ways to spoil a frame: each should give a PanelError or a valid Panel, never another error.
SPOILERS = {
    "nan covariate": lambda d, i: d.assign(x=d["x"].where(d.index != i)),
    "inf weight": lambda d, i: d.assign(w=d["w"].where(d.index != i, np.inf)),
    "negative weight": lambda d, i: d.assign(w=d["w"].where(d.index != i, -1.0)),
    "duplicate row": lambda d, i: pd.concat([d, d.iloc[[i]]]),
    "text outcome": lambda d, i: d.assign(y=d["y"].astype(object).where(d.index != i, "x")),
    "missing unit": lambda d, i: d.assign(unit=d["unit"].where(d.index != i)),
    "missing time": lambda d, i: d.assign(time=d["time"].where(d.index != i)),
    "switch off": lambda d, i: d.assign(d=1 - d["d"]),
    "pcn moves": lambda d, i: d.assign(pcn=d["pcn"].where(d.index != i, "elsewhere")),
    "nothing": lambda d, i: d,
}


@SETTINGS
@given(data=panels(), spoil=st.sampled_from(sorted(SPOILERS)), where=st.integers(0, 10**6))
def test_input_is_never_modified_and_errors_are_panel_errors(data, spoil, where):
    df, roles = data
    bad = SPOILERS[spoil](df, where % len(df))
    before = bad.copy(deep=True)
    try:
        p = _build(bad, roles)
    except PanelError:
        pass
    else:
        assert p.n_obs <= len(bad)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for view in (p.describe, p.balanced if p.kind == "panel" else p.describe):
                try:
                    view()
                except PanelError:
                    pass
    pd.testing.assert_frame_equal(bad, before)


@SETTINGS
@given(data=panels(), seed=st.integers(0, 2**32 - 1))
def test_row_order_does_not_change_repeated_cross_sections(data, seed):
    df, roles = data
    roles = {k: v for k, v in roles.items() if k not in ("unit", "cluster", "levels")}
    if "treatment" in roles:  # rows are individuals: the indicator marks treated rows
        roles = {**{k: v for k, v in roles.items() if k != "treatment"}, "cohort": "cohort"}
    shuffled = df.sample(frac=1.0, random_state=np.random.RandomState(seed))
    try:
        a = _build(df, roles)
    except PanelError:  # one row per period: a series, whose cohort must be constant
        with pytest.raises(PanelError):
            _build(shuffled, roles)
        return
    b = _build(shuffled, roles)
    assert a.kind == b.kind and a.periods.equals(b.periods)

    def rows(p: Panel) -> np.ndarray:
        m = np.column_stack([p.time_codes, p.y, p.w, p.cohort_codes, p.treated])
        return m[np.lexsort(m.T[::-1])]

    np.testing.assert_array_equal(rows(a), rows(b))
    pd.testing.assert_frame_equal(a.cohorts, b.cohorts)
