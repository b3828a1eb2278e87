"""The bad-input catalogue of :class:`spimpact.Panel`.

Every case checks three things: the error is a :class:`~spimpact.PanelError`
(so also a ``SpimpactError`` and a ``ValueError``), its message names the
column and the offending value or rows (and says what to do), and the user's
DataFrame is exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from spimpact import DataWarning, Panel, PanelError, SpimpactError


def _base() -> pd.DataFrame:
    """Three practices (a, b in PCN x; c in PCN y), quarters 2019Q1-2019Q3."""
    return pd.DataFrame({
        "practice": np.repeat(["a", "b", "c"], 3),
        "pcn": np.repeat(["x", "x", "y"], 3),
        "icb": "I1",
        "quarter": ["2019Q1", "2019Q2", "2019Q3"] * 3,
        "start": ["2019Q2"] * 6 + [None] * 3,
        "d": [0, 1, 1, 0, 1, 1, 0, 0, 0],
        "visits": [10.0, 12.0, 14.0, 20.0, 22.0, 24.0, 5.0, 6.0, 7.0],
        "pop": [100.0] * 3 + [200.0] * 3 + [50.0] * 3,
        "imd": np.repeat([10.0, 20.0, 30.0], 3),
        "w": 1.0,
        "cl": np.repeat([1, 1, 2], 3),
    })


ROLES = {"outcome": "visits", "unit": "practice", "time": "quarter"}


def _set(col: str, rows: Any, value: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        if df[col].dtype.kind in "fiu" and not isinstance(value, (int, float)):
            df[col] = df[col].astype(object)
        df.loc[rows, col] = value
        return df
    return edit


def _same(df: pd.DataFrame) -> pd.DataFrame:
    return df


# (case id, edit of the base frame, Panel arguments beyond ROLES, patterns the message must hold)
CASES: list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame], dict[str, Any], list[str]]] = [
    ("outcome column missing", _same, {"outcome": "Visits"},
     ["outcome='Visits' is not a column", "Did you mean 'visits'"]),
    ("covariate column missing", _same, {"covariates": ["imd", "ethnicity"]},
     ["covariates='ethnicity' is not a column"]),
    ("duplicate unit-period rows", lambda d: pd.concat([d, d.iloc[[4]]], ignore_index=True), {},
     ["2 rows share a \\('practice', 'quarter'\\) pair", "practice=b", "quarter=2019Q2",
      "keep one row per unit and period"]),
    ("cohort varies within a unit", _set("start", 4, "2019Q3"), {"cohort": "start"},
     ["'start' varies within units", "'b'", "must be the same in every row"]),
    # numeric cohorts on sorted rows take the per-unit path, which must refuse alike
    ("numeric cohort varies within a unit",
     lambda d: d.assign(quarter=np.tile([2019, 2020, 2021], 3),
                        start=[2020.0, 2020.0, 2020.0, 2020.0, 2021.0, 2020.0] + [np.nan] * 3),
     {"cohort": "start"}, ["'start' varies within units", "'b'", "must be the same"]),
    ("numeric cohort missing in one row of a unit",
     lambda d: d.assign(quarter=np.tile([2019, 2020, 2021], 3),
                        start=[2020.0, np.nan, 2020.0] + [2020.0] * 3 + [np.nan] * 3),
     {"cohort": "start"}, ["'start' varies within units", "'a'", "must be the same"]),
    ("outcome not numeric", _set("visits", 3, "n/a"), {},
     ["outcome column 'visits' is not numeric", "'n/a' in row 3"]),
    ("outcome numbers stored as text", lambda d: d.assign(visits=d["visits"].astype(str)), {},
     ["outcome column 'visits' holds numbers stored as", "pd.to_numeric"]),
    ("outcome infinite", _set("visits", [2, 5], np.inf), {},
     ["outcome column 'visits' holds infinite values in 2 rows", "rows 2, 5"]),
    ("covariate infinite", _set("imd", 7, -np.inf), {"covariates": ["imd"]},
     ["covariate column 'imd' holds infinite values", "rows 7"]),
    ("covariate missing", _set("imd", 0, np.nan), {"covariates": ["imd"]},
     ["covariate column 'imd' is missing in 1 rows", "rows 0"]),
    ("weights not numeric", _set("w", 1, "heavy"), {"weights": "w"},
     ["weights column 'w' is not numeric", "'heavy' in row 1"]),
    ("weights negative", _set("w", 6, -1.0), {"weights": "w"},
     ["weights column 'w' must be >= 0, but holds -1.0", "rows 6"]),
    ("weights all zero", lambda d: d.assign(w=0.0), {"weights": "w"},
     ["weights column 'w' is zero in every row"]),
    ("exposure negative", _set("pop", 8, -5.0), {"exposure": "pop"},
     ["exposure column 'pop' must be positive, but holds -5.0", "rows 8"]),
    ("exposure zero", _set("pop", 0, 0.0), {"exposure": "pop"},
     ["exposure column 'pop' must be positive, but holds 0.0"]),
    ("exposure missing", _set("pop", 4, np.nan), {"exposure": "pop"},
     ["exposure column 'pop' is missing in 1 rows", "rows 4"]),
    ("negative count with an exposure", _set("visits", 2, -3.0), {"exposure": "pop"},
     ["outcome \\(a count, as exposure= is given\\) column 'visits' must be >= 0",
      "holds -3.0", "rows 2"]),
    ("never_treated without a cohort", _same, {"treatment": "d", "never_treated": 0},
     ["never_treated=0 is a code of the cohort column, but no cohort= was given"]),
    ("empty data", lambda d: d.iloc[:0], {}, ["data has no rows"]),
    ("periods that cannot be ordered", _set("quarter", 2, "spring"), {},
     ["time column 'quarter'", "cannot be ordered", "'spring'"]),
    ("mixed period frequencies", _set("quarter", 2, "2019-08"), {},
     ["time column 'quarter' mixes period frequencies", "freq='Q'"]),
    ("unordered categorical time",
     lambda d: d.assign(quarter=pd.Categorical(d["quarter"])), {},
     ["time column 'quarter' is an unordered categorical", "as_ordered"]),
    ("boolean time", lambda d: d.assign(quarter=d["d"].astype(bool)), {},
     ["time column 'quarter' is boolean"]),
    ("time missing", _set("quarter", 5, None), {},
     ["time column 'quarter' is missing in 1 rows", "row 5"]),
    ("unit missing", _set("practice", 1, None), {},
     ["unit column 'practice' is missing in 1 rows", "rows 1"]),
    ("levels not nested", _set("pcn", 4, "y"), {"levels": ["practice", "pcn", "icb"]},
     ["levels are not nested", "'practice' 'b' belongs to 2 different 'pcn'"]),
    ("unit not nested in a level", _set("pcn", 0, "y"), {"levels": ["pcn", "icb"]},
     ["levels are not nested", "'practice' 'a' belongs to 2 different 'pcn'"]),
    ("treatment switches off", _set("d", 2, 0), {"treatment": "d"},
     ["treatment column 'd' switches back from 1 to 0 for 1 units", "practice='a'",
      "cohort="]),
    ("treatment not 0/1", _set("d", 7, 2), {"treatment": "d"},
     ["treatment column 'd' must be 0/1, but holds 2.0", "rows 7"]),
    ("treatment missing", _set("d", 3, np.nan), {"treatment": "d"},
     ["treatment column 'd' is missing in 1 rows", "rows 3"]),
    ("cohort and treatment both", _same, {"cohort": "start", "treatment": "d"},
     ["either cohort= \\('start'\\) or treatment= \\('d'\\)"]),
    ("cohort 0 without never_treated",
     lambda d: d.assign(quarter=np.tile([2019, 2020, 2021], 3), start=np.repeat([2020, 2020, 0], 3)),
     {"cohort": "start"}, ["cohort column 'start' holds 0 in 3 rows", "never_treated=0"]),
    ("cohort of another type than time",
     lambda d: d.assign(quarter=np.tile([2019, 2020, 2021], 3)), {"cohort": "start"},
     ["cohort column 'start'", "time column is numeric"]),
    ("cohort not a category of the time column",
     lambda d: d.assign(quarter=pd.Categorical(d["quarter"], ordered=True), start="2020Q4"),
     {"cohort": "start"}, ["cohort column 'start' holds '2020Q4'", "not a category"]),
    ("cohort without time", lambda d: d.drop_duplicates("practice"),
     {"time": None, "cohort": "start"}, ["cohort='start' needs time="]),
    ("unit repeats in a cross-section", _same, {"time": None},
     ["unit 'practice' repeats in rows 0, 1, 2", "pass time="]),
    ("cluster varies within a unit", _set("cl", 1, 3), {"cluster": "cl"},
     ["'cl' varies within units \\('practice'\\)", "'a'", "cluster on a coarser level"]),
    ("cluster missing", _set("cl", 1, None), {"cluster": "cl"},
     ["cluster column 'cl' is missing in 1 rows"]),
    ("outcome missing everywhere", lambda d: d.assign(visits=np.nan), {},
     ["outcome column 'visits' is missing in every row"]),
    ("duplicate column names",
     lambda d: pd.concat([d, d[["visits"]]], axis=1), {},
     ["the data has 2 columns named 'visits'"]),
    ("outcome also a covariate", _same, {"covariates": ["imd", "visits"]},
     ["column 'visits' is given as outcome= and covariates="]),
    ("unit also the time", _same, {"time": "practice"},
     ["column 'practice' is given as unit= and time="]),
    ("treatment also a covariate", _same, {"treatment": "d", "covariates": ["d"]},
     ["column 'd' is given as treatment= and covariates="]),
    ("covariate listed twice", _same, {"covariates": ["imd", "imd"]},
     ["covariates= lists the column 'imd' twice"]),
    ("role given several columns", _same, {"cluster": ["pcn", "icb"]},
     ["cluster= must be one column name", "\\['pcn', 'icb'\\]"]),
]


@pytest.mark.parametrize(("edit", "kwargs", "patterns"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_raises_panel_error_naming_it(edit, kwargs, patterns):
    bad = edit(_base())
    before = bad.copy(deep=True)
    args = {**ROLES, **kwargs}
    with pytest.raises(PanelError) as info:
        Panel(bad, **args)
    message = str(info.value)
    for pattern in patterns:
        assert pd.Series([message]).str.contains(pattern).iloc[0], (pattern, message)
    assert isinstance(info.value, SpimpactError) and isinstance(info.value, ValueError)
    pd.testing.assert_frame_equal(bad, before)


def test_catalogue_is_large():
    assert len(CASES) >= 20


def test_not_a_data_frame():
    with pytest.raises(PanelError, match="must be a pandas or polars DataFrame.*not list"):
        Panel([[1, 2]], outcome="y")
    with pytest.raises(PanelError, match="cannot read 'data.xlsx'"):
        Panel("data.xlsx", outcome="y")


def test_missing_outcome_is_a_counted_warning_and_input_unchanged():
    df = _base()
    df.loc[[0, 4], "visits"] = np.nan
    before = df.copy(deep=True)
    with pytest.warns(DataWarning, match=r"2 rows with a missing outcome 'visits'.*rows 0, 4"):
        p = Panel(df, **ROLES)
    assert p.n_obs == 7 and "2 rows" in p.notes[0]
    pd.testing.assert_frame_equal(df, before)


def test_method_errors_name_the_problem_and_leave_the_input_alone():
    df = _base()
    before = df.copy(deep=True)
    p = Panel(df, **ROLES, cohort="start", levels=["practice", "pcn"])
    with pytest.raises(PanelError, match=r"aggregate\(to='icb'\): 'icb' is not one of levels"):
        p.aggregate("icb")
    q = Panel(df.assign(sex=np.repeat(["f", "m", "f"], 3)), **ROLES, covariates=["sex"],
              levels=["practice", "pcn"])
    with pytest.raises(PanelError, match=r"'sex' varies within a 'pcn' group \(pcn='x'"):
        q.aggregate("pcn")
    rcs = Panel(df, outcome="visits", time="quarter")
    with pytest.raises(PanelError, match="balanced\\(\\) needs a panel.*repeated_cross_section"):
        rcs.balanced()
    with pytest.raises(PanelError, match="no cohort= or treatment="):
        _ = Panel(df, **ROLES).cohorts
    with pytest.raises(PanelError, match="no unit is observed in all 3 periods"):
        Panel(df.iloc[[0, 4, 8]].assign(quarter=["2019Q1", "2019Q2", "2019Q3"]),
              **ROLES).balanced()
    pd.testing.assert_frame_equal(df, before)
