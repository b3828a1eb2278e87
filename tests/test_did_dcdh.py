"""ChaisemartinDHaultfoeuille (DID_l of de Chaisemartin & D'Haultfoeuille 2024)
against the authors' own implementation.

Reference: ``py_did_multiplegt_dyn`` 0.1.9, the Python version of the authors'
``did_multiplegt_dyn`` (Stata) / ``DIDmultiplegtDYN`` (R), run by
``tests/data/did/make_dcdh_reference.py`` with default options (effects,
placebos, ``normalized``, ``cluster``, ``weight`` as listed in
``tests/data/did/dcdh_reference.csv``) on two data sets:

* ``favara_imbs.csv.gz``: Favara & Imbs (2015) banking deregulation, the
  authors' own example (``favara_imbs`` of ``DIDmultiplegtDYN``; this copy from
  moderndid 0.2.0's ``load_favara_imbs()``): 1,048 US counties, 1994-2005,
  interstate-branching index 0-4 that rises and sometimes falls, 200 missing
  outcomes, a few counties not observed every year; clusters ``state_n``.
* ``dcdh_sim.csv``: a simulated panel (``make_dcdh_sim.py``) with switchers up
  and down, treatments that rise then fall back, units that go both above and
  below their baseline, absent rows and missing outcomes, weights ``w`` and
  clusters ``cl``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import spimpact as sp
from spimpact.did import TWFE, CallawaySantAnna, ChaisemartinDHaultfoeuille
from spimpact.errors import EstimationError, OptionError, PanelError

DATA = Path(__file__).parent / "data" / "did"
#: Point estimates: the issue's bar (the implementations agree to ~1e-12).
RTOL_POINT = 1e-6
#: Analytic standard errors and the joint test's p-value (agree to ~1e-12 too).
RTOL_SE = 1e-4

SETS = {
    "favara_imbs": ("favara_imbs.csv.gz", dict(outcome="Dl_vloans_b", unit="county", time="year",
                                               treatment="inter_bra"), "state_n", (5, 3)),
    "dcdh_sim": ("dcdh_sim.csv", dict(outcome="y", unit="g", time="year", treatment="d"),
                 "cl", (4, 2)),
}
REF = pd.read_csv(DATA / "dcdh_reference.csv")


def _panel(name: str, *, cluster: bool = False, weight: bool = False, **extra) -> sp.Panel:
    file, roles, cl, _ = SETS[name]
    df = pd.read_csv(DATA / file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing outcomes are set aside with a note
        return sp.Panel(df, **roles, treatment_kind="general",
                        cluster=cl if cluster else None, weights="w" if weight else None,
                        **extra)


def _fit(name: str, setting: str) -> sp.Result:
    opts = {"cluster": "cluster" in setting, "weight": "weight" in setting}
    effects, placebo = SETS[name][3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ChaisemartinDHaultfoeuille(effects=effects, placebo=placebo,
                                          normalized="normalized" in setting
                                          ).fit(_panel(name, **opts))


CASES = sorted(set(map(tuple, REF[["data", "setting"]].to_numpy())))


@pytest.mark.parametrize("data,setting", CASES, ids=[f"{d}-{s}" for d, s in CASES])
def test_matches_authors_implementation(data: str, setting: str) -> None:
    ref = REF[(REF["data"] == data) & (REF["setting"] == setting)]
    res = _fit(data, setting)
    tab = res.estimates
    rows = ref[ref["target"].isin(["effect", "placebo"])]
    got = tab.set_index(["target", "horizon"]).loc[list(zip(rows["target"], rows["horizon"],
                                                            strict=True))]
    np.testing.assert_allclose(got["estimate"], rows["estimate"], rtol=RTOL_POINT)
    np.testing.assert_allclose(got["std_error"], rows["std_error"], rtol=RTOL_SE)
    assert len(tab) == len(rows)
    sw = res.switchers.set_index(["target", "horizon"]).loc[got.index]
    np.testing.assert_array_equal(sw["n_switchers"], rows["n_switchers"])
    avg = ref[ref["target"] == "average"].iloc[0]
    np.testing.assert_allclose(res.overall.estimate, avg["estimate"], rtol=RTOL_POINT)
    np.testing.assert_allclose(res.overall.std_error, avg["std_error"], rtol=RTOL_SE)
    joint = ref[ref["target"] == "joint_placebo_p"].iloc[0]
    np.testing.assert_allclose(res.placebo_test.p_value, joint["estimate"], rtol=RTOL_SE)
    assert res.placebo_test.df == SETS[data][3][1]


def test_intervals_and_published_printout() -> None:
    # moderndid 0.2.0's printed example (its docs, "DiD with Intertemporal Treatment
    # Effects": effects=5, placebo=3, cluster="state_n") to its 4 printed decimals
    res = _fit("favara_imbs", "cluster")
    tab = res.estimates.set_index(["target", "horizon"])
    printed = {("effect", 1): 0.0435, ("effect", 5): 0.1476, ("placebo", -2): -0.0718}
    for key, value in printed.items():
        assert round(tab.loc[key, "estimate"], 4) == value
    assert round(res.overall.estimate, 4) == 0.0346
    z = 1.959963984540054
    np.testing.assert_allclose(tab["ci_upper"], tab["estimate"] + z * tab["std_error"])


def test_row_order_and_input_unchanged() -> None:
    file, roles, cl, _ = SETS["dcdh_sim"]
    df = pd.read_csv(DATA / file)
    before = df.copy()
    shuffled = df.sample(frac=1.0, random_state=3)
    est = ChaisemartinDHaultfoeuille(effects=3, placebo=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = est.fit(sp.Panel(df, **roles, treatment_kind="general", cluster=cl))
        b = est.fit(sp.Panel(shuffled, **roles, treatment_kind="general", cluster=cl))
    pd.testing.assert_frame_equal(a.estimates, b.estimates, rtol=1e-12)
    assert a.overall.estimate == pytest.approx(b.overall.estimate, rel=1e-12)
    pd.testing.assert_frame_equal(df, before)


def test_sample_rules_are_reported() -> None:
    res = _fit("dcdh_sim", "default")
    text = " ".join(res.warnings)
    assert "both above and below their baseline" in text
    assert "switch date is unknown" in text
    favara = " ".join(_fit("favara_imbs", "default").warnings)
    assert "1 units ('county') are left out: every unit with their baseline" in favara


def test_horizons_without_switchers_are_left_out_with_a_warning() -> None:
    p = _panel("favara_imbs")
    with pytest.warns(sp.StatisticalWarning, match=r"effect horizon\(s\) \[12\]"):
        res = ChaisemartinDHaultfoeuille(effects=12).fit(p)
    assert res.estimates["horizon"].max() == 11


def test_normalized_is_effect_over_treatment_change() -> None:
    raw, norm = _fit("dcdh_sim", "default"), _fit("dcdh_sim", "normalized")
    delta = raw.switchers["delta_d"].to_numpy()
    np.testing.assert_allclose(norm.estimates["estimate"], raw.estimates["estimate"] / delta)
    np.testing.assert_allclose(norm.estimates["std_error"], raw.estimates["std_error"] / delta)
    assert norm.overall.estimate == pytest.approx(raw.overall.estimate)


# ------------------------------------------------------------------- bad input
def _toy(**changes) -> pd.DataFrame:
    df = pd.DataFrame({"u": np.repeat([1, 2, 3, 4], 4), "t": np.tile([1, 2, 3, 4], 4),
                       "d": [0, 0, 1, 2, 0, 0, 0, 0, 0, 2, 2, 1, 0, 0, 0, 0.0],
                       "y": np.arange(16.0), "c": np.repeat([1, 1, 2, 2], 4)})
    for col, (row, value) in changes.items():
        df.loc[row, col] = value
    return df


def test_panel_errors_for_general_treatment() -> None:
    with pytest.raises(PanelError, match=r"treatment column 'd' is missing in 1 rows \(rows 5\)"):
        sp.Panel(_toy(d=(5, np.nan)), outcome="y", unit="u", time="t", treatment="d",
                 treatment_kind="general")
    with warnings.catch_warnings():  # also in a row set aside for its missing outcome
        warnings.simplefilter("ignore")
        with pytest.raises(PanelError, match=r"missing in 1 rows \(rows 7\)"):
            sp.Panel(_toy(d=(7, np.nan), y=(7, np.nan)), outcome="y", unit="u", time="t",
                     treatment="d", treatment_kind="general")
    with pytest.raises(PanelError, match="treatment_kind must be 'absorbing'.*'general'"):
        sp.Panel(_toy(), outcome="y", unit="u", time="t", treatment="d", treatment_kind="dose")
    with pytest.raises(PanelError, match="no treatment= was given"):
        sp.Panel(_toy(), outcome="y", unit="u", time="t", treatment_kind="general")
    with pytest.raises(PanelError, match="needs a panel of units over periods"):
        sp.Panel(_toy(), outcome="y", treatment="d", treatment_kind="general")
    with pytest.raises(PanelError, match="dose='c'.*drop dose="):
        sp.Panel(_toy(), outcome="y", unit="u", time="t", treatment="d",
                 treatment_kind="general", dose="c")
    # the default (0/1 absorbing) errors now name the way out
    with pytest.raises(PanelError, match="must be 0/1.*treatment_kind='general'.*"
                                         "ChaisemartinDHaultfoeuille"):
        sp.Panel(_toy(), outcome="y", unit="u", time="t", treatment="d")


def test_estimator_errors() -> None:
    p = sp.Panel(_toy(), outcome="y", unit="u", time="t", treatment="d", treatment_kind="general")
    with pytest.raises(OptionError, match="placebo=3 exceeds effects=1"):
        ChaisemartinDHaultfoeuille(placebo=3).fit(p)
    with pytest.raises(OptionError, match="effects must be an integer >= 1"):
        ChaisemartinDHaultfoeuille(effects=0).fit(p)
    with pytest.raises(OptionError, match="normalized must be True or False"):
        ChaisemartinDHaultfoeuille(normalized="yes").fit(p)
    with pytest.raises(EstimationError, match="needs a spimpact.Panel"):
        ChaisemartinDHaultfoeuille().fit(_toy())
    absorbing = sp.Panel(_toy(d=(2, 0.0)).assign(d=lambda x: (x["d"] > 0) * 1.0).assign(
        d=lambda x: x.groupby("u")["d"].cummax()), outcome="y", unit="u", time="t",
        treatment="d")
    with pytest.raises(EstimationError, match="treatment_kind='general'"):
        ChaisemartinDHaultfoeuille().fit(absorbing)
    df = _toy().assign(n=100.0, x=1.0)
    exp = sp.Panel(df, outcome="y", unit="u", time="t", treatment="d",
                   treatment_kind="general", exposure="n")
    with pytest.raises(EstimationError, match="exposure='n'"):
        ChaisemartinDHaultfoeuille().fit(exp)
    cov = sp.Panel(df, outcome="y", unit="u", time="t", treatment="d",
                   treatment_kind="general", covariates=["x"])
    with pytest.raises(EstimationError, match="covariates"):
        ChaisemartinDHaultfoeuille().fit(cov)
    flat = sp.Panel(_toy().assign(d=0.0), outcome="y", unit="u", time="t", treatment="d",
                    treatment_kind="general")
    with pytest.raises(EstimationError, match="no unit's treatment \\('d'\\) changes"):
        ChaisemartinDHaultfoeuille().fit(flat)


@pytest.mark.parametrize("est", [CallawaySantAnna(), TWFE()], ids=["CS", "TWFE"])
def test_binary_estimators_refuse_a_general_treatment(est) -> None:
    p = sp.Panel(_toy(), outcome="y", unit="u", time="t", treatment="d", treatment_kind="general")
    with pytest.raises(EstimationError, match="treatment 'd'.*treatment_kind='general'.*"
                                              "ChaisemartinDHaultfoeuille"):
        est.fit(p)


def test_general_panel_views() -> None:
    p = sp.Panel(_toy(y=(6, np.nan)), outcome="y", unit="u", time="t", treatment="d",
                 treatment_kind="general")
    assert not p.has_cohorts and p.treatment_values is not None
    grid = p.treatment_grid()
    assert grid.d[1, 2] == 0.0 and np.isnan(grid.y[1, 2])  # set-aside row keeps its treatment
    q = p.replace(outcome="y")
    assert q.treatment_kind == "general"
    with pytest.raises(PanelError, match="treatment_grid\\(\\) is for panels"):
        sp.Panel(_toy(), outcome="y", unit="u", time="t").treatment_grid()
