"""Matched difference-in-differences: the path from a raw patient panel to an
event study, against a hand computation and the simulator's known truth."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from spimpact import DataWarning, EstimationError, OptionError, Panel, StatisticalWarning
from spimpact.matching import PropensityScoreMatching, match_cohort
from spimpact.matching.demo import patient_panel
from spimpact.simulate import patient_cohort

#: The event study from spimpact.did against the weighted DiD computed by hand
#: from the matched rows: the same arithmetic, so to rounding.
HAND_ATOL = 1e-10
#: Against the simulated truth: within this many standard errors (seeded data,
#: so deterministic; a correct estimator fails it with probability ~0.3%).
TRUTH_SE = 3.0


@pytest.fixture(scope="module")
def cohort():
    sim = patient_cohort(n_patients=5000, n_practices=10, random_state=7)
    panel = patient_panel(sim)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        mc = match_cohort(panel, pre_periods=12, post_periods=6, lags=3,
                          control_index="index_month")
    return sim, panel, mc


def test_matched_sets_are_aligned_and_controls_used_once(cohort):
    _, panel, mc = cohort
    data = mc.data
    per_unit = data.groupby(panel.unit).agg(sets=("match_id", "nunique"),
                                            rows=("event_time", "size"),
                                            treated=("index_cohort", lambda s: s.notna().all()))
    assert (per_unit["sets"] == 1).all()  # every patient in one matched set
    assert (per_unit["rows"] == 18).all()  # the whole window, 12 before to 5 after
    sets = data.groupby("match_id").agg(n_index=("index_period", "nunique"))
    assert (sets["n_index"] == 1).all()  # exact matching on the index month
    # each control at its own pseudo-index month
    own = data.loc[data["index_cohort"].isna()]
    assert (own["index_month"].astype(str) == own["index_period"].astype(str)).all()
    months = data.loc[data["event_time"] == 0]
    assert (months["month"].astype(str) == months["index_period"].astype(str)).all()


def test_event_study_equals_weighted_did_by_hand(cohort):
    _, panel, mc = cohort
    es = mc.event_study()
    d = mc.data
    y = panel.outcome
    wide = d.pivot_table(index=panel.unit, columns="event_time", values=y)
    unit = d.drop_duplicates(panel.unit).set_index(panel.unit)
    treated = unit["index_cohort"].notna().reindex(wide.index).to_numpy()
    w = unit["weight"].reindex(wide.index).to_numpy()
    change = wide.sub(wide[-1], axis=0)
    t_mean = change[treated].mean()
    c_mean = change[~treated].mul(w[~treated], axis=0).sum() / w[~treated].sum()
    hand = (t_mean - c_mean).drop(-1)
    got = es.estimates.set_index("event_time")["estimate"]
    np.testing.assert_allclose(got.loc[hand.index], hand.to_numpy(), atol=HAND_ATOL)
    assert es.overall.estimate == pytest.approx(hand.loc[0:].mean(), abs=HAND_ATOL)


def test_event_study_recovers_the_truth(cohort):
    sim, _, mc = cohort
    es = mc.event_study()
    truth = sim.truth.query("outcome == 'gp_consultations' and target == 'event'")
    tv = truth.set_index("event_time")["value"]
    o = es.overall
    assert abs(o.estimate - tv.loc[0:5].mean()) < TRUTH_SE * o.std_error
    pre = es.estimates.query("event_time < -1")
    # no effect before referral: the pre-period estimates' average is near zero
    assert abs(pre["estimate"].mean()) < TRUTH_SE * pre["std_error"].mean()
    assert mc.matching.balance.query("covariate == 'gp_consultations_pre_mean'")[
        "smd_after"].abs().item() < 0.1


def test_other_did_estimators_accept_the_matched_panel(cohort):
    from spimpact.did import Imputation

    _, _, mc = cohort
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = mc.event_study(Imputation(), min_event=0, max_event=5)
    assert set(es.estimates["event_time"]) == set(range(6))


def test_match_cohort_leaves_the_panel_alone(cohort):
    _, panel, _ = cohort
    before = panel.frame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        match_cohort(panel, pre_periods=6, post_periods=3, lags=1, control_index="index_month")
    pd.testing.assert_frame_equal(panel.frame, before)


def test_bad_arguments(cohort):
    _, panel, _ = cohort
    with pytest.raises(OptionError, match="replace=False"):
        match_cohort(panel, PropensityScoreMatching(replace=True))
    with pytest.raises(OptionError, match="lags"):
        match_cohort(panel, pre_periods=2, lags=3)
    with pytest.raises(OptionError, match="control_index"):
        match_cohort(panel, control_index="not_a_column")
    with pytest.raises(EstimationError, match="whole window"):
        match_cohort(panel, pre_periods=30, post_periods=30)
    xs = Panel(pd.DataFrame({"y": [1.0, 2.0], "d": [0, 1]}), outcome="y", treatment="d")
    with pytest.raises(EstimationError, match="unit-by-period"):
        match_cohort(xs)


def test_no_never_treated_units():
    df = pd.DataFrame({"u": np.repeat([1, 2], 6), "t": np.tile(np.arange(6), 2),
                       "g": np.repeat([3, 4], 6), "y": np.arange(12.0)})
    p = Panel(df, outcome="y", unit="u", time="t", cohort="g")
    with pytest.raises(EstimationError, match="never-treated"):
        match_cohort(p, pre_periods=2, post_periods=1, lags=1)


def test_demo_section_quick():
    import matplotlib

    matplotlib.use("Agg")
    from spimpact.matching.demo import demo
    from spimpact.report import Section, render_html

    sec = demo(random_state=3, quick=True)
    assert isinstance(sec, Section)
    kinds = [k for k, _ in sec.blocks]
    assert kinds.count("figure") == 2 and kinds.count("table") >= 3
    tables = [o for k, o in sec.blocks if k == "table"]
    effects = next(t for t in tables if "estimator" in t.columns)
    assert {"naive difference", "IPW (ATT)"} <= set(effects["estimator"])
    assert "truth" in effects.columns
    assert "<img" in render_html("demo", [sec])


def test_treated_without_a_full_window_are_counted():
    sim = patient_cohort(n_patients=1500, n_practices=5, random_state=4)
    referred = sim.patients.loc[sim.patients["referred"] == 1, "patient_id"].iloc[:7]
    gap = sim.panel_data["patient_id"].isin(referred) & (sim.panel_data["rel_month"] == -2)
    sim = type(sim)(sim.patients, sim.panel_data.loc[~gap], sim.truth, sim.params)
    with pytest.warns(DataWarning, match=r"7 of \d+ treated units are not observed"):
        mc = match_cohort(patient_panel(sim), pre_periods=6, post_periods=3, lags=1,
                          control_index="index_month")
    assert any("left out" in n for n in mc.notes)
    assert not mc.data["patient_id"].isin(referred).any()


@pytest.mark.parametrize("method", ["nearest", "optimal"])
def test_not_yet_treated_controls_and_methods(cohort, method):
    """controls='not_yet': later-referred patients are candidates at index months
    before their window; each control is untreated over its whole matched window,
    used once, and a patient may be treated in its own window as well."""
    _, panel, _ = cohort
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        # the simulator observes each patient from 12 months before their own index,
        # so a later-referred patient covers a 6-month look-back of an earlier index
        mc = match_cohort(panel, PropensityScoreMatching(method=method), pre_periods=6,
                          post_periods=6, lags=3, controls="not_yet")
    data = mc.data
    first = panel.frame.groupby(panel.unit)[panel.cohort].first()
    ctrl = data.loc[data["index_cohort"].isna()]
    periods = list(panel.periods)
    pos = {str(p): i for i, p in enumerate(periods)}
    ctrl_first = first.reindex(ctrl[panel.unit]).to_numpy()
    later = pd.notna(ctrl_first)
    assert later.any()  # some later-referred patients serve as controls
    idx = ctrl["index_period"].astype(str).map(pos).to_numpy()
    ref = np.array([pos[str(v)] if pd.notna(v) else np.inf for v in ctrl_first])
    assert (ref >= idx + 6).all()  # untreated over the whole window
    per_ctrl = ctrl.groupby(panel.unit)["match_id"].nunique()
    assert (per_ctrl == 1).all()  # a control at most once
    assert mc.panel.unit == "stack_unit"
    es = mc.event_study()
    assert np.isfinite(es.overall.estimate)


def test_full_matching_is_refused_by_match_cohort(cohort):
    _, panel, _ = cohort
    with pytest.raises(OptionError, match="full"):
        match_cohort(panel, PropensityScoreMatching(method="full"), pre_periods=12,
                     post_periods=6, lags=3)
