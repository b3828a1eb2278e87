"""Tests of the simulators in :mod:`spimpact.simulate`: structure, reproducibility, truth.

The truths are checked against the simulation itself: the generators draw the
potential outcomes with common random numbers (same seed, ``effect="none"``
gives ``Y(0)``), so the realised ``Y(1) - Y(0)`` averaged like the estimand
must match the returned truth within Monte Carlo error.
"""

from __future__ import annotations

import math
import pickle
import time

import numpy as np
import pandas as pd
import pytest

from spimpact.errors import OptionError
from spimpact.simulate import (
    CohortParams,
    RolloutParams,
    SeriesParams,
    aggregate_truth,
    group_time_truth,
    interrupted_series,
    patient_cohort,
    pcn_rollout,
)

#: Monte Carlo tolerance: |estimate - truth| must stay below this many standard errors.
#: With the seeds fixed the tests are deterministic; 4 SEs leaves room for any seed.
MC_SES = 4.0
#: Exact identities (weighted means of the same numbers) hold to rounding error.
EXACT = 1e-10
COUNTS = ("gp_consultations", "ae_attendances", "emergency_admissions")
SMALL = {"n_pcns": 60, "n_icbs": 5}


@pytest.fixture(scope="module")
def england() -> pd.DataFrame:
    return pcn_rollout(random_state=11)


def _qpos(s: pd.Series) -> np.ndarray:
    """Quarter ordinals (NaN for NaT)."""
    return np.where(s.isna(), np.nan, s.array.asi8.astype(float))


# ---------------------------------------------------------------- reproducibility
@pytest.mark.parametrize("make", [
    lambda rs: pcn_rollout(random_state=rs, unbalanced=True, family="negbin", **SMALL).data,
    lambda rs: patient_cohort(n_patients=300, n_practices=4, random_state=rs).panel_data,
    lambda rs: interrupted_series(n_series=2, n_control=1, random_state=rs).data,
])
def test_same_seed_same_output_different_seed_different(make):
    pd.testing.assert_frame_equal(make(3), make(3))
    pd.testing.assert_frame_equal(make(np.random.default_rng(5)), make(np.random.default_rng(5)))
    assert not make(3).equals(make(4))


def test_truth_reproducible():
    a = pcn_rollout(random_state=2, effect="heterogeneous_dynamic", **SMALL)
    b = pcn_rollout(random_state=2, effect="heterogeneous_dynamic", **SMALL)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    pd.testing.assert_frame_equal(a.expected, b.expected)


# ---------------------------------------------------------------- England structure
def test_england_default_sizes(england):
    d, p = england.data, england.params
    n_prac = d["practice"].nunique()
    assert d["pcn"].nunique() == 1250 and d["icb"].nunique() == 42
    assert abs(n_prac - 6500) <= 650
    per_pcn = d.groupby("pcn")["practice"].nunique()
    assert per_pcn.between(2, 10).all() and 4.8 < per_pcn.mean() < 5.6
    assert d["quarter"].nunique() == 28 and len(d) == n_prac * 28
    assert str(d["quarter"].min()) == "2018Q1" and str(d["quarter"].max()) == "2024Q4"
    starts = d.drop_duplicates("pcn")["cohort"]
    assert starts.dropna().between(pd.Period("2019Q3"), pd.Period("2023Q4")).all()
    assert abs(starts.isna().mean() - p.never_share) < 0.01
    assert isinstance(d["quarter"].dtype, pd.PeriodDtype) and isinstance(
        d["cohort"].dtype, pd.PeriodDtype)
    assert d["practice"].iloc[0] == "P00001" and d["pcn"].iloc[0] == "PCN0001"
    assert d["icb"].iloc[0] == "ICB01"


def test_england_nesting_cohorts_and_covariates(england):
    d = england.data
    assert (d.groupby("practice")["pcn"].nunique() == 1).all()
    assert (d.groupby("pcn")["icb"].nunique() == 1).all()
    assert (d.groupby("pcn")["cohort"].nunique(dropna=False) == 1).all()
    treated = (_qpos(d["quarter"]) >= _qpos(d["cohort"])).astype(int)
    np.testing.assert_array_equal(d["treated"].to_numpy(), treated)
    lists = d.drop_duplicates("practice")["list_size"]
    assert 6500 < lists.median() < 10000 and lists.min() >= 1500 and lists.max() <= 45000
    assert set(d["deprivation_quintile"].unique()) == {1, 2, 3, 4, 5}
    assert d.groupby("deprivation_quintile")["imd_score"].mean().is_monotonic_increasing
    assert d["ethnic_minority_share"].between(0, 1).all() and set(d["rural"].unique()) == {0, 1}
    assert not d.isna().drop(columns="cohort").any().any()


def test_baseline_rates_are_realistic(england):
    d = england.data
    pre = d[(d["quarter"] < pd.Period("2019Q3"))]
    per_1000 = pre[list(COUNTS)].sum() / pre["list_size"].sum() * 1000
    assert 900 < per_1000["gp_consultations"] < 2000
    assert 60 < per_1000["ae_attendances"] < 150
    assert 15 < per_1000["emergency_admissions"] < 40
    assert 6.0 < pre["wellbeing"].mean() < 8.0


def test_selection_on_need_later_and_less(england):
    prac = england.data.drop_duplicates("practice")
    by_q = prac.groupby("deprivation_quintile")
    never = by_q["cohort"].apply(lambda s: s.isna().mean())
    start = by_q["cohort"].apply(lambda s: np.nanmean(_qpos(s)))
    assert start[5] > start[1] + 2 and never[5] > 2 * never[1]
    rnd = pcn_rollout(random_state=11, selection_on_need=0.0).data.drop_duplicates("practice")
    start0 = rnd.groupby("deprivation_quintile")["cohort"].apply(lambda s: np.nanmean(_qpos(s)))
    assert abs(start0[5] - start0[1]) < (start[5] - start[1]) / 2


def test_covid_hits_deprived_harder():
    d = pcn_rollout(random_state=4, effect="none", n_pcns=400).data
    rate = d.groupby(["deprivation_quintile", "quarter"])["ae_attendances"].sum() / d.groupby(
        ["deprivation_quintile", "quarter"])["list_size"].sum()
    drop = rate.xs(pd.Period("2020Q3"), level="quarter") / rate.xs(pd.Period("2019Q3"),
                                                                  level="quarter")
    assert drop.max() < 0.9 and drop[5] < drop[1] - 0.1


def test_negbin_is_overdispersed():
    pois = pcn_rollout(random_state=8, n_pcns=200, covid=False)
    nb = pcn_rollout(random_state=8, n_pcns=200, covid=False, family="negbin", dispersion=20.0)
    for sim in (pois, nb):
        mu = sim.expected["ae_attendances_mu1"]
        sim_ratio = ((sim.data["ae_attendances"] - mu) ** 2 / mu).mean()
        if sim is pois:
            assert 0.9 < sim_ratio < 1.1
        else:
            assert sim_ratio > 10


def test_unbalanced_removes_rows_never_fills_nan():
    sim = pcn_rollout(random_state=6, unbalanced=True, exit_share=0.1, entry_share=0.05, **SMALL)
    d = sim.data
    rows = d.groupby("practice").size()
    assert (rows < 28).sum() > 0 and len(d) < d["practice"].nunique() * 28
    assert not d[list(COUNTS) + ["wellbeing"]].isna().any().any()
    first = d.groupby("practice")["quarter"].min()
    assert (first > pd.Period("2018Q1")).any()
    att = sim.true_effect("wellbeing", "att_gt")
    counts = d[d["cohort"].notna()].groupby(["cohort", "quarter"]).size()
    np.testing.assert_array_equal(att["n_units"].to_numpy(),
                                  counts.loc[list(zip(att["group"], att["time"], strict=True))])


def test_panel_method_fills_roles():
    sim = pcn_rollout(random_state=1, **SMALL)
    p = sim.panel("ae_attendances")
    assert p.kind == "panel" and p.exposure == "list_size" and p.cluster == "pcn"
    assert sim.panel("wellbeing").exposure is None
    with pytest.raises(OptionError, match="outcome"):
        sim.panel("visits")


def test_large_panels_are_fast():
    t0 = time.perf_counter()
    pcn_rollout(random_state=12)
    assert time.perf_counter() - t0 < 4.0  # ~0.4 s on a laptop; generous for CI


@pytest.mark.slow
def test_hundred_thousand_units():
    sim = pcn_rollout(n_pcns=19_250, start="2018Q1", end="2022Q4", first_start="2019Q1",
                      last_start="2022Q4", random_state=1)
    assert sim.data["practice"].nunique() > 95_000 and sim.data["quarter"].nunique() == 20


# ---------------------------------------------------------------- rollout truth
def _realised_overall(sim1, sim0, outcome: str) -> tuple[float, float]:
    """Cohort-size-weighted mean of realised Y(1) - Y(0) over post cells, and its MC SE."""
    d = sim1.data
    post = (d["treated"] == 1).to_numpy()
    df = pd.DataFrame({"practice": d["practice"], "g": d["cohort"].astype(str),
                       "t": d["quarter"].astype(str),
                       "D": sim1.data[outcome] - sim0.data[outcome],
                       "delta": sim1.expected[f"{outcome}_mu1"] - sim1.expected[f"{outcome}_mu0"]})
    df = df[post]
    n_g = d[d["cohort"].notna()].groupby(d["cohort"].astype(str))["practice"].nunique()
    n_cell = df.groupby(["g", "t"])["D"].transform("size")
    cells = df.groupby(["g", "t"]).size().reset_index()
    w = df["g"].map(n_g) / cells["g"].map(n_g).sum() / n_cell
    return float((w * df["D"]).sum()), float(np.sqrt((w**2 * (df["D"] - df["delta"]) ** 2).sum()))


def test_truth_matches_realised_effect_with_common_random_numbers():
    opts = {"covid": False, "random_state": 21, "n_pcns": 600}
    sim1 = pcn_rollout(effect="constant", **opts)
    sim0 = pcn_rollout(effect="none", **opts)
    untreated = sim1.data["treated"] == 0
    for o in (*COUNTS, "wellbeing"):
        pd.testing.assert_series_equal(sim1.data.loc[untreated, o], sim0.data.loc[untreated, o])
        est, se = _realised_overall(sim1, sim0, o)
        truth = sim1.true_effect(o, "overall")["value"].iloc[0]
        if o == "wellbeing":
            assert abs(est - truth) < EXACT and abs(truth - 0.3) < EXACT
        else:
            assert truth < 0 and abs(est - truth) < MC_SES * se, (o, est, truth, se)


def _post_weighted(att: pd.DataFrame, n_g: pd.Series) -> float:
    post = att[att["time"] >= att["group"]]
    w = post["group"].map(n_g).to_numpy(float)
    return float(np.sum(w * post["value"]) / np.sum(w))


@pytest.mark.parametrize("effect", ["constant", "heterogeneous_dynamic"])
def test_aggregations_are_cohort_weighted_means_of_att_gt(effect):
    sim = pcn_rollout(random_state=9, effect=effect, unbalanced=True, anticipation=1, **SMALL)
    d = sim.data
    n_g = d[d["cohort"].notna()].groupby("cohort")["practice"].nunique()
    for o in ("ae_attendances", "wellbeing"):
        att = sim.true_effect(o, "att_gt")
        assert abs(sim.true_effect(o, "overall")["value"].iloc[0] - _post_weighted(att, n_g)) < EXACT
        ev = sim.true_effect(o, "event").set_index("event_time")["value"]
        for e in (-2, 0, 5):
            cells = att[att["event_time"] == e]
            w = cells["group"].map(n_g).to_numpy(float)
            assert abs(ev[e] - np.sum(w * cells["value"]) / w.sum()) < EXACT
        grp = sim.true_effect(o, "group").set_index("group")["value"]
        post = att[att["time"] >= att["group"]]
        pd.testing.assert_series_equal(grp, post.groupby("group")["value"].mean(),
                                       check_names=False, rtol=EXACT)
        cal = sim.true_effect(o, "calendar").set_index("time")["value"]
        t = cal.index[3]
        cells = post[post["time"] == t]
        w = cells["group"].map(n_g).to_numpy(float)
        assert abs(cal[t] - np.sum(w * cells["value"]) / w.sum()) < EXACT


def test_effect_none_gives_zero_truth():
    sim = pcn_rollout(random_state=3, effect="none", **SMALL)
    assert (sim.truth["value"] == 0).all()
    assert set(sim.truth["target"]) == {"att_gt", "event", "overall", "group", "calendar",
                                        "subgroup"}


def test_dynamic_effect_grows_with_event_time():
    sim = pcn_rollout(random_state=3, effect="dynamic", ramp=6, **SMALL)
    ev = sim.true_effect("wellbeing", "event").set_index("event_time")["value"]
    expected = 0.3 * np.minimum(np.arange(8) + 1, 6) / 6
    np.testing.assert_allclose(ev.loc[0:7].to_numpy(), expected, atol=EXACT)
    assert (ev.loc[:-1] == 0).all()
    ae = sim.true_effect("ae_attendances", "event").set_index("event_time")["value"]
    assert ae.loc[5] < 4 * ae.loc[0] < 0


def test_heterogeneous_effect_differs_by_cohort_and_deprivation():
    sim = pcn_rollout(random_state=3, effect="heterogeneous", **SMALL)
    grp = sim.true_effect("wellbeing", "group")["value"].to_numpy()
    assert grp[0] > grp[-1] > 0
    sub = sim.true_effect("wellbeing", "subgroup").set_index("subgroup")["value"]
    assert sub["deprivation_quintile=5"] > sub["deprivation_quintile=1"]
    assert sub.index.str.startswith("deprivation_quintile=").sum() == 5


def test_anticipation_starts_effect_early():
    sim = pcn_rollout(random_state=3, anticipation=2, **SMALL)
    ev = sim.true_effect("wellbeing", "event").set_index("event_time")["value"]
    assert ev[-3] == 0 and abs(ev[-2] - 0.3) < EXACT and abs(ev[-1] - 0.3) < EXACT


def test_truth_functions_on_a_hand_example():
    # cohort 1 (2 units) observed t=0..2, cohort 2 (1 unit) observed t=0..2, effects known
    unit = np.repeat([0, 1, 2, 3], 3)
    group = np.repeat([1.0, 1.0, 2.0, np.inf], 3)
    time_ = np.tile([0, 1, 2], 4)
    delta = np.array([0, 1, 2, 0, 3, 4, 0, 0, 6, 0, 0, 0], dtype=float)
    cells, n_g = group_time_truth(unit, group, time_, delta)
    assert n_g.to_dict() == {1: 2, 2: 1}
    out = aggregate_truth(cells, n_g)
    # ATT(1,1)=2, ATT(1,2)=3, ATT(2,2)=6; simple = (2*2 + 2*3 + 1*6) / 5
    overall = out.loc[out["target"] == "overall", "value"].iloc[0]
    assert abs(overall - 16 / 5) < EXACT
    ev = out[out["target"] == "event"].set_index("event_time")["value"]
    assert abs(ev[0] - (2 * 2 + 6) / 3) < EXACT and abs(ev[1] - 3) < EXACT
    grp = out[out["target"] == "group"].set_index("g")["value"]
    assert abs(grp[1] - 2.5) < EXACT and abs(grp[2] - 6) < EXACT
    cal = out[out["target"] == "calendar"].set_index("t")["value"]
    assert abs(cal[2] - (2 * 3 + 6) / 3) < EXACT


# ---------------------------------------------------------------- patient cohort
@pytest.fixture(scope="module")
def cohort():
    return patient_cohort(random_state=7)


def test_patient_cohort_structure(cohort):
    pts, long = cohort.patients, cohort.panel_data
    assert len(pts) == 20000 and len(long) == 20000 * 24
    assert 0.10 < pts["referred"].mean() < 0.15
    assert long["rel_month"].min() == -12 and long["rel_month"].max() == 11
    assert long.loc[long["referred"] == 0, "cohort"].isna().all()
    ref = long[long["referred"] == 1]
    assert ((ref["month"] - ref["cohort"]).apply(lambda x: x.n) == ref["rel_month"]).all()
    assert set(pts["ethnicity"]) == {"white", "asian", "black", "mixed", "other"}
    pre = long[long["rel_month"] < 0].groupby("patient_id")["gp_consultations"].sum()
    np.testing.assert_array_equal(pre.loc[pts["patient_id"]].to_numpy(), pts["prior_gp"])
    # pseudo index dates follow the referred patients' distribution
    months = pts.groupby("referred")["index_month"].apply(lambda s: s.array.asi8.mean())
    assert abs(months[1] - months[0]) < 1.0


def test_patient_cohort_confounding_and_adjustment(cohort):
    sm = pytest.importorskip("statsmodels.api")
    d = cohort.patients
    truth = cohort.att
    means = d.groupby("referred")[["age", "imd_quintile", "multimorbidity", "prior_gp"]].mean()
    assert (means.loc[1] > means.loc[0]).all()
    y1, y0 = d.loc[d.referred == 1, "outcome_post"], d.loc[d.referred == 0, "outcome_post"]
    naive = y1.mean() - y0.mean()
    se_naive = math.sqrt(y1.var() / len(y1) + y0.var() / len(y0))
    assert abs(naive - truth) > 3 * se_naive
    # regression adjustment for the ATT: covariates interacted with referral, centred at the
    # referred patients' means, so the referral coefficient is the ATT (imputation estimator)
    X = pd.get_dummies(d[["age", "sex", "ethnicity", "imd_quintile", "multimorbidity",
                          "prior_gp"]].astype({"imd_quintile": str}), drop_first=True, dtype=float)
    Xc = X - X[d.referred == 1].mean()
    inter = Xc.mul(d["referred"], axis=0).add_prefix("ref_")
    design = sm.add_constant(pd.concat([d[["referred"]].astype(float), Xc, inter], axis=1))
    fit = sm.OLS(d["outcome_post"], design).fit(cov_type="HC1")
    assert abs(fit.params["referred"] - truth) < MC_SES * fit.bse["referred"]


def test_patient_truth_matches_realised_effect(cohort):
    untreated = patient_cohort(random_state=7, effect=0.0)
    pd.testing.assert_frame_equal(
        cohort.patients.drop(columns="outcome_post"), untreated.patients.drop(columns="outcome_post"))
    ref = cohort.patients["referred"] == 1
    D = (cohort.patients["outcome_post"] - untreated.patients["outcome_post"])[ref]
    truth = cohort.att
    assert truth < 0 and abs(D.mean() - truth) < MC_SES * D.std() / math.sqrt(len(D))
    t = cohort.truth
    monthly = t[(t.outcome == "gp_consultations") & (t.target == "overall")]["value"].iloc[0]
    assert abs(monthly - truth) < EXACT
    ev = t[(t.outcome == "gp_consultations") & (t.target == "event")].set_index("event_time")
    assert (ev.loc[:-1, "value"] == 0).all() and (ev.loc[0:, "value"] < 0).all()


def test_patient_effect_growth():
    sim = patient_cohort(n_patients=2000, n_practices=10, effect=0.0, effect_growth=-0.02,
                         random_state=1)
    ev = sim.truth[sim.truth.target == "event"].set_index("event_time")["value"]
    assert ev[0] == 0 and ev[11] < ev[5] < ev[1] < 0


def test_patient_panels():
    sim = patient_cohort(n_patients=500, n_practices=5, random_state=2)
    assert sim.cross_section_panel().kind == "cross_section"
    assert sim.long_panel().kind == "panel"


# ---------------------------------------------------------------- interrupted series
def test_series_structure_and_truth():
    sim = interrupted_series(n_series=3, n_control=2, stagger=4, shock="2020-04",
                             shock_months=12, slope_change=[0.0, 0.002, -0.001], random_state=1)
    d = sim.data
    assert d["series"].nunique() == 5 and len(d) == 5 * 108
    inter = d.groupby("series")["interruption"].first()
    assert str(inter["treated2"]) == "2019-11" and pd.isna(inter["control1"])
    assert (d.groupby("series")["time"].agg(["min", "max"]).values == [1, 108]).all()
    tr = d[d.treated_series == 1]
    np.testing.assert_array_equal(tr["post"], (tr["month"] >= tr["interruption"]).astype(int))
    t = sim.truth.set_index(["series", "term"])
    assert abs(t.loc[("pooled", "slope_change"), "value"] - 0.001 / 3) < EXACT
    assert abs(t.loc[("treated1", "level_change"), "rate_ratio"] - 0.9) < EXACT
    assert abs(t.loc[("all", "shock_level_change"), "rate_ratio"] - 0.75) < EXACT


def test_series_poisson_glm_recovers_level_change():
    sm = pytest.importorskip("statsmodels.api")
    sim = interrupted_series(start="2000-01", end="2023-12", ar=0.0, random_state=4)
    d = sim.data
    t = d["time"].to_numpy(float)
    t0 = (sim.params.interruptions[0] - sim.params.start).n + 1
    m = d["month"].dt.month.to_numpy()
    X = np.column_stack([np.ones(len(d)), t, d["post"], (t - t0) * d["post"],
                         np.cos(2 * np.pi * m / 12), np.sin(2 * np.pi * m / 12)])
    fit = sm.GLM(d["count"], X, family=sm.families.Poisson(),
                 offset=np.log(d["population"] / 1000)).fit(scale="X2")
    truth = sim.truth.set_index(["series", "term"]).loc[("treated1", "level_change"), "value"]
    assert abs(fit.params.iloc[2] - truth) < MC_SES * fit.bse.iloc[2]
    y = sm.OLS(d["y"], X).fit()
    assert abs(y.params.iloc[2] - truth) < MC_SES * y.bse.iloc[2]


def test_series_ar_noise_is_autocorrelated():
    def lag1(ar: float) -> float:
        d = interrupted_series(ar=ar, noise_sd=0.05, y_sd=0.0, level_change=0.0, seasonality=(),
                               trend=0.0, start="2000-01", random_state=3).data
        y = d["y"].to_numpy() - d["y"].mean()
        return float(np.corrcoef(y[:-1], y[1:])[0, 1])

    assert lag1(0.9) > 0.7 and abs(lag1(0.0)) < 0.15


# ---------------------------------------------------------------- parameters and errors
@pytest.mark.parametrize(("make", "name"), [
    (lambda: pcn_rollout(n_pcns=0), "n_pcns"),
    (lambda: pcn_rollout(effect="big"), "effect"),
    (lambda: pcn_rollout(family="zip"), "family"),
    (lambda: pcn_rollout(never_share=1.5), "never_share"),
    (lambda: pcn_rollout(practices_per_pcn=(5, 2)), "practices_per_pcn"),
    (lambda: pcn_rollout(first_start="2017Q1"), "first_start"),
    (lambda: pcn_rollout(start="2018Q7"), "start"),
    (lambda: pcn_rollout(anticipation=-1), "anticipation"),
    (lambda: pcn_rollout(random_state="x"), "random_state"),
    (lambda: pcn_rollout(n_pcn=10), "n_pcn"),
    (lambda: pcn_rollout(effect_size={"visits": 1.0}), "effect_size"),
    (lambda: pcn_rollout(covid="yes"), "covid"),
    (lambda: pcn_rollout(dispersion=0.0), "dispersion"),
    (lambda: pcn_rollout(n_icbs=80, n_pcns=50), "n_icbs"),
    (lambda: patient_cohort(referral_share=0.0), "referral_share"),
    (lambda: patient_cohort(months_after=0), "months_after"),
    (lambda: patient_cohort(index_start="2022-01", index_end="2021-01"), "index_end"),
    (lambda: interrupted_series(ar=1.0), "ar"),
    (lambda: interrupted_series(interruption="2030-01"), "interruption"),
    (lambda: interrupted_series(n_series=2, level_change=[0.1]), "level_change"),
    (lambda: interrupted_series(n_series=0), "n_series"),
])
def test_bad_arguments_raise_option_error_naming_them(make, name):
    with pytest.raises(OptionError, match=name):
        make()


def test_params_are_frozen_replaceable_and_picklable():
    p = RolloutParams(n_pcns=30, n_icbs=3, effect_size={"wellbeing": 0.5})
    assert p.effect_size["wellbeing"] == 0.5 and p.effect_size["ae_attendances"] == -0.015
    with pytest.raises(AttributeError):
        p.n_pcns = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        p.effect_size["wellbeing"] = 1.0  # type: ignore[index]
    q = p.replace(effect="none")
    assert q.effect == "none" and p.effect == "constant"
    for obj in (p, CohortParams(n_patients=100), SeriesParams(n_series=2)):
        assert pickle.loads(pickle.dumps(obj)) == obj
    a = pcn_rollout(p, random_state=1)
    b = pcn_rollout(random_state=1, n_pcns=30, n_icbs=3, effect_size={"wellbeing": 0.5})
    pd.testing.assert_frame_equal(a.data, b.data)
    assert pcn_rollout(p, random_state=1, effect="none").params.effect == "none"
