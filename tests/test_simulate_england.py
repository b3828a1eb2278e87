"""The realistic defaults of :func:`spimpact.simulate.pcn_rollout`, checked on England-sized draws.

What the defaults must reproduce (spimpact issue 19, and the published pattern of
the link-worker programme):

* uptake: ~1,250 PCNs and ~6,500 practices in 42 ICBs, first link workers in
  2019Q3, at least 85% of PCNs started by 2021Q2, at most 5% never (NHS England's
  Network Contract DES funded link workers from July 2019 and uptake was
  near-universal within two years);
* intensity ``fte_per_10k``: 0 before a PCN's start, growing after it, lower where
  need is higher and in the North West and London, varying between ICBs;
* need: deprivation, urban areas and ethnic diversity, clustered by region; fewer
  link workers (later starts) in deprived urban areas, the North West and London;
* shocks: ICB x quarter and PCN x quarter shocks and AR(1) practice errors, so the
  residuals are correlated within ICB-quarters and over time;
* diluted effects on counts (under 2% of the mean), larger ones on request.

Each check compares the default with the value it would have without the feature
(independent errors, timing unrelated to need...), computed here from the data
with plain pandas/numpy, not with the simulator's own code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spimpact.simulate import CLASSIC_ROLLOUT, LARGE_EFFECT, pcn_rollout

COUNTS = ("gp_consultations", "ae_attendances", "emergency_admissions")
#: Without shared shocks the ICB x quarter share of two-way-demeaned residual variance is
#: about (ICBs - 1) / (practices - 1) = 0.006; the defaults must exceed it this many times.
SHARE_FACTOR = 5.0
#: Lag-1 autocorrelation of practice residuals the defaults must reach (issue 19).
MIN_AUTOCORR = 0.2
#: Exact identities hold to rounding error.
EXACT = 1e-10


@pytest.fixture(scope="module")
def england():
    return pcn_rollout(random_state=19)


@pytest.fixture(scope="module")
def null_pair():
    """England without effect or COVID-19 shock: the defaults and independent errors."""
    opts = {"random_state": 5, "effect": "none", "covid": False}
    return (pcn_rollout(**opts),
            pcn_rollout(**opts, sd_icb_quarter=0.0, sd_pcn_quarter=0.0, sd_practice_ar=0.0))


def _pos(s: pd.Series) -> np.ndarray:
    """Quarter ordinals (NaN for NaT)."""
    return np.where(s.isna(), np.nan, s.array.asi8.astype(float))


def _pcns(sim) -> pd.DataFrame:
    d = sim.data
    last = d[d["quarter"] == d["quarter"].max()].groupby("pcn")["fte_per_10k"].mean()
    prac = d.drop_duplicates("practice")
    pcn = prac.groupby("pcn").agg(icb=("icb", "first"), region=("region", "first"),
                                  cohort=("cohort", "first"), imd=("imd_score", "mean"),
                                  rural=("rural", "mean"))
    pcn["start"] = _pos(pcn["cohort"])
    pcn["fte_last"] = last
    return pcn


# ---------------------------------------------------------------- uptake
def test_england_sizes_and_near_universal_uptake(england):
    d, p = england.data, england.params
    assert d["pcn"].nunique() == 1250 and d["icb"].nunique() == 42
    assert abs(d["practice"].nunique() - 6500) <= 650
    pcn = _pcns(england)
    assert str(pcn["cohort"].min()) == "2019Q3"
    assert (pcn["cohort"] <= pd.Period("2021Q2")).mean() >= 0.85
    assert pcn["cohort"].isna().mean() <= 0.05
    assert abs(pcn["cohort"].isna().mean() - p.never_share) < 0.002
    never = pcn_rollout(n_pcns=400, n_icbs=20, never_share=0.05, random_state=1)
    assert abs(_pcns(never)["cohort"].isna().mean() - 0.05) < 0.003


# ---------------------------------------------------------------- intensity
def test_intensity_zero_before_start_and_growing_after(england):
    d = england.data
    assert (d.loc[d["treated"] == 0, "fte_per_10k"] == 0).all()
    assert (d.loc[d["treated"] == 1, "fte_per_10k"] > 0).all()
    d = d[d["treated"] == 1].sort_values(["practice", "quarter"])
    step = d.groupby("practice")["fte_per_10k"].diff().dropna()
    assert (step >= 0).all() and (step > 0).mean() > 0.9
    e = (_pos(d["quarter"]) - _pos(d["cohort"])).astype(int)
    by_e = d.groupby(e)["fte_per_10k"].mean()
    assert by_e[8] > 2.5 * by_e[0]
    # about one whole-time link worker per 20,000 patients in the long run
    assert 0.3 < by_e[12] < 0.7


def test_intensity_lower_where_need_is_higher_and_varies_by_icb(england):
    pcn = _pcns(england).dropna(subset=["start"])
    # deprivation: the most deprived fifth of PCNs has fewer link workers per patient
    q = pd.qcut(pcn["imd"], 5, labels=False)
    by_q = pcn.groupby(q)["fte_last"].mean()
    assert by_q[4] < 0.8 * by_q[0]
    by_region = pcn.groupby("region", observed=True)["fte_last"].mean()
    rest = by_region.drop(["North West", "London"])
    assert by_region[["North West", "London"]].max() < rest.min()
    # ICB variation: the between-ICB variance of log intensity is well above what
    # PCN-level noise alone gives (one-way ANOVA F statistic)
    x = np.log(pcn["fte_last"])
    icb_mean = x.groupby(pcn["icb"]).transform("mean")
    n_icb = pcn["icb"].nunique()
    between = ((icb_mean - x.mean()) ** 2).sum() / (n_icb - 1)
    within = ((x - icb_mean) ** 2).sum() / (len(x) - n_icb)
    assert between / within > 3.0


def test_effects_can_depend_on_intensity():
    sim = pcn_rollout(n_pcns=300, n_icbs=10, intensity_effect=1.0, covid=False, random_state=3)
    d, ex = sim.data, sim.expected
    p = sim.params
    tau = np.log(ex["ae_attendances_mu1"] / ex["ae_attendances_mu0"])
    expect = p.effect_size["ae_attendances"] * d["fte_per_10k"] / p.intensity_mean
    np.testing.assert_allclose(tau, expect, atol=EXACT)
    sub = sim.true_effect("wellbeing", "subgroup").set_index("subgroup")["value"]
    assert (sub["intensity_band=low"] < sub["intensity_band=middle"]
            < sub["intensity_band=high"])
    binary = pcn_rollout(n_pcns=300, n_icbs=10, covid=False, random_state=3)
    sub0 = binary.true_effect("wellbeing", "subgroup").set_index("subgroup")["value"]
    assert abs(sub0["intensity_band=low"] - 0.3) < EXACT


def test_intensity_growth_zero_gives_a_constant_dose_from_the_start():
    """``intensity_growth=0``: each PCN's intensity is its long-run level from its start
    quarter on (a constant dose); the same seed gives the same levels and the same
    untreated outcomes as the default growth, which approaches them."""
    opts = {"n_pcns": 120, "n_icbs": 8, "covid": False, "intensity_effect": 1.0,
            "random_state": 4}
    flat = pcn_rollout(intensity_growth=0.0, **opts)
    grow = pcn_rollout(**opts)
    d, g = flat.data, grow.data
    assert (d.loc[d["treated"] == 0, "fte_per_10k"] == 0).all()
    on = d[d["treated"] == 1]
    assert (on.groupby("practice")["fte_per_10k"].nunique() == 1).all()
    # the growing path's last value approaches the same level from below
    lev = on.groupby("pcn")["fte_per_10k"].first()
    last = g[g["treated"] == 1].groupby("pcn")["fte_per_10k"].last()
    assert ((last <= lev + EXACT) & (last > 0.5 * lev)).all()
    pd.testing.assert_series_equal(flat.expected["wellbeing_mu0"], grow.expected["wellbeing_mu0"])
    tau = flat.expected["wellbeing_mu1"] - flat.expected["wellbeing_mu0"]
    p = flat.params
    np.testing.assert_allclose(tau, p.effect_size["wellbeing"] * d["fte_per_10k"]
                               / p.intensity_mean, atol=EXACT)


# ---------------------------------------------------------------- need and selection
def test_need_follows_the_published_pattern(england):
    pcn = _pcns(england)
    # regional clustering: London diverse and urban, the North more deprived, South West rural
    prac = england.data.drop_duplicates("practice")
    reg = prac.groupby("region", observed=True)[["imd_score", "ethnic_minority_share",
                                                   "rural"]].mean()
    assert reg["ethnic_minority_share"].idxmax() == "London"
    assert reg["rural"].idxmin() == "London"
    assert reg.loc["South West", "rural"] > reg["rural"].drop("South West").mean() + 0.1
    north = reg.loc[["North West", "North East and Yorkshire"], "imd_score"].min()
    assert north > reg.loc[["South East", "South West", "East of England"], "imd_score"].max()
    # fewer link workers (later starts) in deprived urban areas than deprived rural ones,
    # and later in deprived than in affluent areas
    started = pcn.dropna(subset=["start"])
    deprived = started["imd"] > started["imd"].quantile(0.8)
    urban = started["rural"] < 0.5
    assert (started.loc[deprived & urban, "start"].mean()
            > started.loc[deprived & ~urban, "start"].mean() + 0.5)
    affluent = started["imd"] < started["imd"].quantile(0.2)
    assert started.loc[deprived, "start"].mean() > started.loc[affluent, "start"].mean() + 1
    by_region = started.groupby("region", observed=True)["start"].mean()
    assert by_region[["North West", "London"]].min() > by_region.drop(
        ["North West", "London"]).max()
    # timing selected on ICB too: ICB mean start quarters vary beyond PCN-level noise
    icb_mean = started.groupby("icb")["start"].transform("mean")
    n_icb = started["icb"].nunique()
    between = ((icb_mean - started["start"].mean()) ** 2).sum() / (n_icb - 1)
    within = ((started["start"] - icb_mean) ** 2).sum() / (len(started) - n_icb)
    assert between / within > 2.0


def _rural_delay(sim) -> float:
    """Quarters by which rural PCNs start later than urban ones of the same deprivation
    (least squares of the start quarter on log IMD score and rurality)."""
    pcn = _pcns(sim).dropna(subset=["start"])
    X = np.column_stack([np.ones(len(pcn)), np.log(pcn["imd"]), pcn["rural"] > 0.5])
    return float(np.linalg.lstsq(X, pcn["start"].to_numpy(), rcond=None)[0][2])


def test_urban_areas_start_later_and_the_classic_rural_gradient_stays_reachable(england):
    assert _rural_delay(england) < -0.5
    classic = pcn_rollout(**CLASSIC_ROLLOUT, random_state=19)
    assert abs(_pcns(classic)["cohort"].isna().mean() - 0.15) < 0.002
    assert _rural_delay(classic) > 0.5


# ---------------------------------------------------------------- correlated shocks
def _residuals(sim, outcome: str) -> pd.DataFrame:
    """Two-way (practice and quarter) demeaned log rates of a balanced panel, wide."""
    d = sim.data
    r = np.log(d[outcome] / d["list_size"])
    wide = pd.DataFrame({"practice": d["practice"], "quarter": d["quarter"], "r": r}).pivot(
        index="practice", columns="quarter", values="r")
    return wide.sub(wide.mean(axis=1), axis=0).sub(wide.mean(axis=0), axis=1) + wide.values.mean()


def _icb_quarter_share(sim, outcome: str) -> float:
    """Share of residual variance between ICB x quarter cells."""
    res = _residuals(sim, outcome)
    icb = sim.data.drop_duplicates("practice").set_index("practice")["icb"].loc[res.index]
    cell_means = res.groupby(icb.to_numpy()).transform("mean")
    return float((cell_means.to_numpy() ** 2).sum() / (res.to_numpy() ** 2).sum())


def _lag1(sim, outcome: str) -> float:
    res = _residuals(sim, outcome).to_numpy()
    return float(np.corrcoef(res[:, 1:].ravel(), res[:, :-1].ravel())[0, 1])


@pytest.mark.parametrize("outcome", ["gp_consultations", "ae_attendances"])
def test_residuals_share_icb_quarter_shocks(null_pair, outcome):
    default, independent = null_pair
    n_icb, n_prac = 42, default.data["practice"].nunique()
    share0 = _icb_quarter_share(independent, outcome)
    assert share0 < 2 * (n_icb - 1) / (n_prac - 1)  # the independent value
    assert _icb_quarter_share(default, outcome) > SHARE_FACTOR * share0


@pytest.mark.parametrize("outcome", ["gp_consultations", "ae_attendances"])
def test_practice_residuals_are_autocorrelated(null_pair, outcome):
    default, independent = null_pair
    assert _lag1(default, outcome) >= MIN_AUTOCORR
    assert abs(_lag1(independent, outcome)) < 0.1


# ---------------------------------------------------------------- effect sizes
def _relative_overall(sim, outcome: str) -> float:
    """Overall truth over the mean untreated expected count of treated practice-quarters."""
    treated = sim.data["treated"] == 1
    mu0 = sim.expected.loc[treated, f"{outcome}_mu0"].mean()
    return float(sim.true_effect(outcome, "overall")["value"].iloc[0] / mu0)


def test_count_effects_are_diluted_by_default_and_larger_on_request(england):
    for o in COUNTS:
        rel = _relative_overall(england, o)
        assert -0.02 < rel < -0.005, (o, rel)
    big = pcn_rollout(n_pcns=200, n_icbs=10, effect_size=LARGE_EFFECT, random_state=2)
    assert _relative_overall(big, "gp_consultations") < -0.035


def test_truth_has_intensity_band_region_and_rural_subgroups(england):
    sub = england.true_effect("ae_attendances", "subgroup")
    names = set(sub["subgroup"].str.split("=").str[0])
    assert names == {"deprivation_quintile", "intensity_band", "region", "rural"}
    bands = sub[sub["subgroup"].str.startswith("intensity_band=")]
    assert list(bands["subgroup"]) == [f"intensity_band={b}" for b in ("low", "middle", "high")]
    # a band's truth is the cohort-size weighted mean of its post-treatment cells,
    # written here with plain group-bys
    d, ex = england.data, england.expected
    df = pd.DataFrame({"practice": d["practice"], "g": d["cohort"], "t": d["quarter"],
                       "band": d["intensity_band"].astype(str),
                       "delta": ex["ae_attendances_mu1"] - ex["ae_attendances_mu0"]})
    df = df[df["g"].notna() & (df["band"] == "high")]
    n_g = df.groupby("g")["practice"].nunique()
    cells = df[df["t"] >= df["g"]].groupby(["g", "t"])["delta"].mean().reset_index()
    w = cells["g"].map(n_g).to_numpy(float)
    expect = float(np.sum(w * cells["delta"]) / w.sum())
    got = float(bands.loc[bands["subgroup"] == "intensity_band=high", "value"].iloc[0])
    assert abs(got - expect) < 1e-8 * abs(expect)
