"""Callaway-Sant'Anna against R's ``did`` (the authors' reference implementation).

Golden values: ``../shared/reference/did/`` (see its README for the exact R
settings of every scenario). All use analytic standard errors.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spimpact import Panel
from spimpact.did import CallawaySantAnna

SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference" / "did"
# the same files, copied into the repository so the suite runs on a bare clone
REF = SHARED if SHARED.exists() else Path(__file__).resolve().parent / "data" / "did"
pytestmark = pytest.mark.skipif(not REF.exists(), reason="R reference data not present")

#: Point estimates: the required agreement with R; in practice it is ~1e-10.
ATT_TOL = 1e-6
#: Standard errors, relative.
SE_RTOL = 1e-4

MPDTA = dict(outcome="lemp", unit="countyreal", time="year", cohort="first.treat",
             never_treated=0)
SIM = dict(outcome="Y", unit="id", time="period", cohort="G", never_treated=0)


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / name)


def _fit(est: CallawaySantAnna, panel: Panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(panel)


def assert_matches(result, ref: pd.DataFrame) -> None:
    """Same cells, ATT to ATT_TOL, SE to SE_RTOL (NaN where R has NA)."""
    est = result.estimates
    assert len(est) == len(ref), "different number of ATT(g,t) cells than R"
    m = est.merge(ref, left_on=["group", "time"], right_on=["group", "t"], validate="1:1")
    assert len(m) == len(ref)
    np.testing.assert_allclose(m["estimate"], m["att"], rtol=0, atol=ATT_TOL)
    has_se = m["se"].notna()
    np.testing.assert_allclose(m.loc[has_se, "std_error"], m.loc[has_se, "se"], rtol=SE_RTOL)
    assert m.loc[~has_se, "std_error"].isna().all()


MAIN = {
    "mpdta_nev_dr": (dict(), ()),
    "mpdta_nyt_dr": (dict(control_group="not_yet_treated"), ()),
    "mpdta_nev_reg_cov": (dict(method="reg"), ["lpop"]),
    "mpdta_nev_ipw": (dict(method="ipw"), ()),
}


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return _read("mpdta.csv")


@pytest.fixture(scope="module")
def main_results(mpdta):
    out = {}
    for scen, (kw, cov) in MAIN.items():
        panel = Panel(mpdta, covariates=["lpop"], **MPDTA)
        out[scen] = _fit(CallawaySantAnna(inference="analytic", covariates=cov, **kw), panel)
    sim = Panel(_read("sim_data.csv"), covariates=["X"], **SIM)
    out["sim_nev_dr"] = _fit(CallawaySantAnna(inference="analytic"), sim)
    return out


@pytest.mark.parametrize("scenario", [*MAIN, "sim_nev_dr"])
def test_att_gt_matches_r(main_results, scenario):
    ref = _read("r_att_gt.csv")
    assert_matches(main_results[scenario], ref[ref["scenario"] == scenario])


@pytest.mark.parametrize("scenario", [*MAIN, "sim_nev_dr"])
@pytest.mark.parametrize("r_type", ["simple", "group", "dynamic", "calendar"])
def test_aggregations_match_r(main_results, scenario, r_type):
    ref = _read("r_aggte.csv")
    ref = ref[(ref["scenario"] == scenario) & (ref["type"] == r_type)]
    kind = "event" if r_type == "dynamic" else r_type
    agg = main_results[scenario].aggregate(kind)
    assert agg.overall.estimate == pytest.approx(ref["overall_att"].iloc[0], abs=ATT_TOL)
    assert agg.overall.std_error == pytest.approx(ref["overall_se"].iloc[0], rel=SE_RTOL)
    if r_type == "simple":
        return
    col = {"group": "group", "dynamic": "event_time", "calendar": "time"}[r_type]
    m = agg.estimates.merge(ref, left_on=col, right_on="egt", validate="1:1")
    assert len(m) == len(ref) == len(agg.estimates)
    np.testing.assert_allclose(m["estimate"], m["att_egt"], atol=ATT_TOL, rtol=0)
    np.testing.assert_allclose(m["std_error"], m["se_egt"], rtol=SE_RTOL)


@pytest.mark.parametrize("scenario", [*MAIN, "sim_nev_dr"])
def test_pretest_matches_r(main_results, scenario):
    ref = _read("r_pretest.csv").set_index("scenario").loc[scenario]
    pre = main_results[scenario].pretest
    assert pre.statistic == pytest.approx(ref["W"], rel=1e-6)
    # R rounds the p-value to 5 decimals
    assert pre.p_value == pytest.approx(ref["Wpval"], abs=1e-5)


@pytest.fixture(scope="module")
def extra() -> pd.DataFrame:
    return _read("mpdta_extra.csv")


OPTIONS = {
    "universal": (dict(base_period="universal"), {}),
    "anticipation1": (dict(anticipation=1), {}),
    "weighted": (dict(), dict(weights="wt")),
    "clustered": (dict(), dict(cluster="clust")),
}


@pytest.mark.parametrize("scenario", list(OPTIONS))
def test_options_match_r(extra, scenario):
    kw, roles = OPTIONS[scenario]
    panel = Panel(extra, **MPDTA, **roles)
    ref = _read("r_att_gt_options.csv")
    assert_matches(_fit(CallawaySantAnna(inference="analytic", method="reg", **kw), panel),
                   ref[ref["scenario"] == scenario])


def test_repeated_cross_sections_match_r(extra):
    roles = {k: v for k, v in MPDTA.items() if k != "unit"}
    panel = Panel(extra, **roles)
    assert panel.kind == "repeated_cross_section"
    ref = _read("r_att_gt_options.csv")
    assert_matches(_fit(CallawaySantAnna(inference="analytic", method="reg"), panel),
                   ref[ref["scenario"] == "rc"])


@pytest.mark.parametrize("r_name,weights_at", [("none", "pair_start"),
                                                ("base_period", "base_period"),
                                                ("first_period", "first_period"),
                                                ("varying", "varying")])
def test_time_varying_weights_match_r(r_name, weights_at):
    panel = Panel(_read("mpdta_time_varying_weights.csv"), weights="wt", **MPDTA)
    ref = _read("r_att_gt_fix_weights.csv")
    assert_matches(_fit(CallawaySantAnna(inference="analytic", method="reg",
                                         weights_at=weights_at), panel),
                   ref[ref["fix_weights"] == r_name])


def _sim_cases():
    ref = pd.read_csv(REF / "sim" / "r_att_gt_sim.csv") if REF.exists() else pd.DataFrame(
        columns=["dataset", "control", "est"])
    return sorted(set(map(tuple, ref[["dataset", "control", "est"]].to_numpy().tolist())))


@pytest.mark.parametrize("dataset,control,method", _sim_cases())
def test_simulated_panels_match_r(dataset, control, method):
    ref = pd.read_csv(REF / "sim" / "r_att_gt_sim.csv")
    ref = ref[(ref["dataset"] == dataset) & (ref["control"] == control) & (ref["est"] == method)]
    panel = Panel(pd.read_csv(REF / "sim" / f"{dataset}.csv"), covariates=["X"], **SIM)
    cg = "never_treated" if control == "nevertreated" else "not_yet_treated"
    assert_matches(_fit(CallawaySantAnna(inference="analytic", control_group=cg, method=method),
                        panel), ref)


def test_categorical_covariate_matches_r():
    panel = Panel(pd.read_csv(REF / "sim" / "factor_cov.csv"), covariates=["cat"], **SIM)
    ref = pd.read_csv(REF / "sim" / "r_att_gt_factor.csv")
    assert_matches(_fit(CallawaySantAnna(inference="analytic", method="reg"), panel), ref)
