"""One estimation sample for every family: the same panel gives the same kept
units and the same note in Callaway-Sant'Anna, the fixed-effects estimators,
the multi-site ITS, matched DiD and the Bayesian DiD design."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import spimpact as sp
from spimpact.did import CallawaySantAnna, Imputation, SunAbraham, TwoStage
from spimpact.errors import EstimationError, OptionError
from spimpact.its import MultiSiteITS


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """12 units over 8 periods: cohorts 3 and 5, never treated, one unit treated
    from the first period, one treated before the data and one after them."""
    rng = np.random.default_rng(7)
    cohort = [3, 3, 3, 5, 5, 5, np.nan, np.nan, np.nan, 1, -4, 40]
    rows = [(u, t, cohort[u]) for u in range(12) for t in range(1, 9)]
    df = pd.DataFrame(rows, columns=["unit", "t", "g"])
    df["y"] = rng.normal(size=len(df)) + 0.5 * (df["t"] >= df["g"])
    return df


def _fit(est, panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(panel)


def test_unit_sample_rule(frame):
    panel = sp.Panel(frame, outcome="y", unit="unit", time="t", cohort="g")
    s = panel.unit_sample()
    assert s.n_units == 10  # units 9 (cohort 1) and 10 (before the data) are out
    assert list(s.unit_codes) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 11]
    assert np.isinf(s.unit_cohort[-1])  # cohort 40 is after the window: untreated
    assert list(s.groups) == [2, 4]  # positions of periods 3 and 5
    assert s.notes == ["2 units treated by the first period 1 (16 rows) were left out: they "
                       "have no untreated period.",
                       "1 units have a cohort after the last period 8 (e.g. g=40.0): they count "
                       "as not treated inside the window. Check the cohort column if that is a "
                       "typo."]
    assert s.n_rows == 80 and (s.rows(panel.unit_codes) != 9).all()
    # anticipation moves the line: cohort 3 with two anticipation periods is out too
    s2 = panel.unit_sample(anticipation=2)
    assert s2.n_units == 7 and "allowing 2 anticipation periods" in s2.notes[0]
    kept = panel.unit_sample(drop_always_treated=False)
    assert kept.n_units == 12 and sorted(kept.unit_cohort[9:11]) == [-1.0, -1.0]
    with pytest.raises(OptionError, match="anticipation"):
        panel.unit_sample(anticipation=-1)


def test_every_family_keeps_the_same_units(frame):
    panel = sp.Panel(frame, outcome="y", unit="unit", time="t", cohort="g")
    note = panel.unit_sample().notes[0]
    results = [
        _fit(CallawaySantAnna(control_group="not_yet_treated"), panel),
        _fit(SunAbraham(), panel), _fit(Imputation(), panel), _fit(TwoStage(), panel),
        _fit(MultiSiteITS(), panel),
    ]
    for res in results:
        assert res.n_units == 10, res.method
        assert note in res.warnings, res.method
    from spimpact.bayes._did_design import build_did_design

    d = build_did_design(panel, "gaussian", leads=False, unit_levels=None, effect_level=None,
                         covariates=None)
    assert d.n_units == 10 and note in d.notes
    from spimpact.bayes.its import _its_data  # the Bayesian ITS design (no sampling here)
    from spimpact.did import ContinuousDiD

    dosed = sp.Panel(frame.assign(d=np.where(frame["g"].notna(), 1.0 + frame["unit"] % 3, 0.0)),
                     outcome="y", unit="unit", time="t", cohort="g", dose="d")
    cont = _fit(ContinuousDiD(degree=1), dosed)
    assert cont.n_units == 10 and note in cont.warnings
    its = _its_data(panel, "gaussian", None)
    assert len(its.sites) == 10 and note in its.notes
    assert list(its.sites) == list(panel.units[panel.unit_sample().unit_codes])


def test_no_untreated_unit_is_an_error(frame):
    df = frame.assign(g=1)
    panel = sp.Panel(df, outcome="y", unit="unit", time="t", cohort="g")
    with pytest.raises(EstimationError, match="every unit is treated by the first period"):
        panel.unit_sample()
    with pytest.raises(EstimationError, match="SunAbraham: no untreated observations"):
        SunAbraham().fit(panel)


def test_repeated_cross_sections_sample_rows(frame):
    df = frame.drop(columns="unit")
    panel = sp.Panel(df, outcome="y", time="t", cohort="g")
    s = panel.unit_sample()
    assert s.n_units == s.n_rows == 80 and (s.unit == np.arange(80)).all()
    assert "16 rows treated by the first period" in s.notes[0]
