"""The realistic England scenarios and their suite: they generate, and run through the
harness (2 replications, on a reduced England so the test stays quick; the suite runs
them at full size)."""

from __future__ import annotations

import numpy as np
import pytest

from spimpact import bench
from spimpact.bench import suites

ENGLAND = ("england", "england_covid", "england_intensity", "england_region",
           "england_pcn_cluster")
#: A reduced England for the harness test (every ICB keeps a few PCNs).
REDUCED = {"n_pcns": 120, "n_icbs": 8}


def test_england_scenarios_are_registered_at_full_size():
    for name in ENGLAND:
        sc = bench.get_scenario(name)
        assert sc.design == "staggered" and sc.outcome == "ae_attendances"
        opts = sc.simulator_options()
        assert opts["n_icbs"] == (10 if name == "england_region" else 42)
        assert sc.panel_args["cluster"] == ("pcn" if name == "england_pcn_cluster" else "icb")
    assert "england" in set(bench.list_scenarios()["scenario"])


def test_england_generates_a_realistic_replication():
    rep = bench.get_scenario("england").simulate(np.random.SeedSequence(7))
    panel = rep.panel
    assert 5800 < panel.n_units < 7200 and panel.n_periods == 24
    assert panel.cluster == "icb" and panel.frame["icb"].nunique() == 42
    # a diluted effect: about a 1.5% fall in A&E attendances per practice-quarter
    treated = np.asarray(panel.treated).astype(bool)
    mean_count = panel.frame.loc[treated, "ae_attendances"].mean()
    assert -0.025 < rep.truth["overall"] / mean_count < -0.005


@pytest.mark.parametrize("name", ENGLAND)
def test_england_scenarios_run_through_the_harness(name):
    params = {"n_pcns": 60, "n_icbs": 5} if name == "england_region" else REDUCED
    res = bench.run(name, ["callaway_santanna[control_group='not_yet_treated']"], reps=2,
                    random_state=1, params=params, n_jobs=1, progress=False)
    tab = res.table
    assert set(tab["target"]) == {"overall", "event:0", "event:4"}
    overall = tab[tab["target"] == "overall"].iloc[0]
    assert overall["reps"] == 2 and overall["n_failed"] == 0
    assert overall["truth"] < 0 and np.isfinite(overall["mean_estimate"])


def test_england_suite_is_a_standard_suite():
    (suite,) = suites.load_suites(names=["england"])
    assert suite.reps >= 500
    assert {r.scenario for r in suite.runs} == set(ENGLAND)
