"""The simulators' returned truths against the simulated effects themselves.

Each simulator draws potential outcomes with common random numbers: the same
seed with no effect gives the untreated outcomes ``Y(0)`` of the same units.
The realised individual effects ``Y(1) - Y(0)``, averaged over a large draw
exactly as an estimand averages them, must then equal the returned truth
within Monte Carlo error. The averages here are written from the estimands'
definitions with plain pandas group-bys (not the simulators' own code).

These complement ``test_simulate.py`` (overall effect of a constant-effect
Poisson rollout; the patient ATT) with dynamic, cohort-varying effects, the
negative binomial family, unbalanced panels, event-time and cohort
aggregations, and the interrupted series.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spimpact.simulate import interrupted_series, patient_cohort, pcn_rollout

#: |realised - truth| must stay below this many Monte Carlo standard errors (the
#: seeds are fixed, so the tests are deterministic; 4 SEs fail by chance ~1 in 16,000).
MC_SES = 4.0
#: Identities between the same numbers hold to rounding error.
EXACT = 1e-10


def _check(est: float, se: float, truth: float, what: object) -> None:
    assert abs(est - truth) < MC_SES * se, (what, est, truth, se)


def _weighted(rows: pd.DataFrame, weight: pd.Series) -> tuple[float, float]:
    """``sum w D`` and its Monte Carlo SE ``sqrt(sum w^2 (D - delta)^2)``: given the
    expected outcomes, the deviations ``D - delta`` are independent with mean zero."""
    w = weight.to_numpy(float)
    return (float(np.sum(w * rows["D"])),
            float(np.sqrt(np.sum(w**2 * (rows["D"] - rows["delta"]) ** 2))))


@pytest.fixture(scope="module")
def rollout_pair():
    opts = {"random_state": 31, "n_pcns": 500, "effect": "heterogeneous_dynamic",
            "family": "negbin", "dispersion": 15.0, "unbalanced": True}
    sim1 = pcn_rollout(**opts)
    sim0 = pcn_rollout(**{**opts, "effect": "none"})
    return sim1, sim0


def _effects(sim1, sim0, outcome: str) -> pd.DataFrame:
    d = sim1.data
    out = pd.DataFrame({
        "practice": d["practice"], "g": d["cohort"], "t": d["quarter"],
        "q": d["deprivation_quintile"],
        "D": (sim1.data[outcome] - sim0.data[outcome]).astype(float),
        "delta": sim1.expected[f"{outcome}_mu1"] - sim1.expected[f"{outcome}_mu0"],
    })
    out = out[out["g"].notna()].copy()
    out["e"] = (out["t"] - out["g"]).apply(lambda x: x.n)
    return out


def test_untreated_outcomes_are_common_random_numbers(rollout_pair):
    sim1, sim0 = rollout_pair
    assert sim1.data["practice"].equals(sim0.data["practice"])
    untreated = sim1.data["treated"] == 0
    for o in ("gp_consultations", "ae_attendances", "wellbeing"):
        pd.testing.assert_series_equal(sim1.data.loc[untreated, o], sim0.data.loc[untreated, o])


@pytest.mark.parametrize("outcome", ["ae_attendances", "emergency_admissions", "wellbeing"])
def test_event_time_truth_is_the_averaged_realised_effect(rollout_pair, outcome):
    sim1, sim0 = rollout_pair
    df = _effects(sim1, sim0, outcome)
    n_g = df.groupby("g")["practice"].nunique()
    truth = sim1.true_effect(outcome, "event").set_index("event_time")["value"]
    for e in (-3, 0, 2, 6, 12):
        rows = df[df["e"] == e]
        n_cell = rows.groupby("g")["D"].transform("size")
        cohorts = rows["g"].unique()
        w = rows["g"].map(n_g) / n_g.loc[cohorts].sum() / n_cell
        est, se = _weighted(rows, w)
        if outcome == "wellbeing" or e < 0:  # no noise in the effect, or no effect before
            assert abs(est - truth[e]) < 1e-8, (e, est, truth[e])
        else:
            _check(est, se, truth[e], e)


def test_group_and_subgroup_truths_are_averaged_realised_effects(rollout_pair):
    sim1, sim0 = rollout_pair
    df = _effects(sim1, sim0, "ae_attendances")
    post = df[df["t"] >= df["g"]]
    grp = sim1.true_effect("ae_attendances", "group").set_index("group")["value"]
    for g in list(grp.index)[::4]:
        rows = post[post["g"] == g]
        n_cell = rows.groupby("t")["D"].transform("size")
        w = 1.0 / n_cell / rows["t"].nunique()  # unweighted mean over the cohort's cells
        _check(*_weighted(rows, w), grp[g], g)
    sub = sim1.true_effect("ae_attendances", "subgroup").set_index("subgroup")["value"]
    for q in (1, 5):
        rows = post[post["q"] == q]
        n_gq = df[df["q"] == q].groupby("g")["practice"].nunique()
        n_cell = rows.groupby(["g", "t"])["D"].transform("size")
        cells = rows.groupby(["g", "t"]).size().reset_index()
        w = rows["g"].map(n_gq) / cells["g"].map(n_gq).sum() / n_cell
        _check(*_weighted(rows, w), sub[f"deprivation_quintile={q}"], q)


def test_patient_event_truth_with_a_growing_effect():
    opts = {"n_patients": 20000, "n_practices": 20, "effect": -0.1, "effect_growth": -0.02,
            "referral_share": 0.3, "random_state": 5}
    sim1 = patient_cohort(**opts)
    sim0 = patient_cohort(**{**opts, "effect": 0.0, "effect_growth": 0.0})
    d1, d0 = sim1.panel_data, sim0.panel_data
    pd.testing.assert_series_equal(d1["rel_month"], d0["rel_month"])
    ref = d1["referred"] == 1
    D = (d1["gp_consultations"] - d0["gp_consultations"])[ref]
    rel = d1.loc[ref, "rel_month"]
    truth = sim1.truth
    ev = truth[(truth.outcome == "gp_consultations") & (truth.target == "event")]
    ev = ev.set_index("event_time")["value"]
    for e in (-1, 0, 5, 11):
        de = D[rel == e]
        if e < 0:
            assert (de == 0).all() and ev[e] == 0
        else:
            se = de.std() / np.sqrt(len(de))
            _check(de.mean(), se, ev[e], e)
    assert ev[11] < ev[0] < 0  # the effect grows


def test_series_truth_is_the_simulated_change():
    opts = {"n_series": 3, "n_control": 2, "stagger": 6, "level_change": [-0.1, -0.2, 0.05],
            "slope_change": [0.0, -0.004, 0.002], "shock": "2020-04", "shock_months": 6,
            "random_state": 17}
    sim1 = interrupted_series(**opts)
    sim0 = interrupted_series(**{**opts, "level_change": 0.0, "slope_change": 0.0})
    d1, d0 = sim1.data, sim0.data
    truth = sim1.truth.set_index(["series", "term"])["value"]
    # the Gaussian outcome is the log rate plus noise from its own stream: differences are exact
    for k, name in enumerate(["treated1", "treated2", "treated3"]):
        rows = (d1["series"] == name).to_numpy()
        post = d1.loc[rows, "post"].to_numpy() == 1
        t = d1.loc[rows, "time"].to_numpy()
        t0 = t[post][0]
        diff = (d1.loc[rows, "y"] - d0.loc[rows, "y"]).to_numpy()
        expected = truth[(name, "level_change")] + truth[(name, "slope_change")] * (t - t0)
        np.testing.assert_allclose(diff[post], expected[post], atol=EXACT)
        np.testing.assert_allclose(diff[~post], 0.0, atol=EXACT)
        assert truth[(name, "level_change")] == opts["level_change"][k]
    controls = d1["treated_series"] == 0
    np.testing.assert_allclose(d1.loc[controls, "y"], d0.loc[controls, "y"], atol=EXACT)
    assert truth[("pooled", "level_change")] == pytest.approx(np.mean(opts["level_change"]))


def test_series_counts_average_to_the_true_rate_ratio():
    """Over many treated series the post-interruption counts with and without the
    effect differ by the true rate ratio, exp(level_change)."""
    opts = {"n_series": 200, "level_change": np.log(0.85), "random_state": 23,
            "start": "2018-01", "end": "2020-12", "interruption": "2019-07"}
    sim1 = interrupted_series(**opts)
    sim0 = interrupted_series(**{**opts, "level_change": 0.0})
    post = sim1.data["post"] == 1
    c1, c0 = sim1.data.loc[post, "count"].sum(), sim0.data.loc[post, "count"].sum()
    log_ratio = np.log(c1 / c0)
    se = np.sqrt(1 / c1 + 1 / c0)  # Poisson counts, delta method on the log ratio
    rr = sim1.truth.set_index(["series", "term"]).loc[("pooled", "level_change"), "rate_ratio"]
    _check(log_ratio, se, np.log(rr), "rate ratio")
    pre = ~post
    pd.testing.assert_series_equal(sim1.data.loc[pre, "population"],
                                   sim0.data.loc[pre, "population"])
