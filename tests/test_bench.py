"""spimpact.bench: seeds, registries, the run engine, results, power, suites and
the CLI, on tiny rollouts (a few replications each)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from spimpact import DependencyError, EstimationError, OptionError, bench
from spimpact.bench import suites
from spimpact.bench.cli import bench as bench_command
from spimpact.bench.engine import replication_seed
from spimpact.bench.estimators import build_estimator, parse_estimator, resolve_estimators
from spimpact.did import CallawaySantAnna
from spimpact.simulate import patient_cohort, pcn_rollout

TINY = {"n_pcns": 40, "n_icbs": 4}
TIMING = ["seconds"]


class Failing:
    """An estimator that cannot be computed on any panel."""

    def fit(self, panel):
        raise EstimationError("no comparison units (on purpose)")


@pytest.fixture(scope="module")
def small():
    return bench.run("homogeneous", ["callaway_santanna", "twfe"], reps=4, random_state=3,
                     params=TINY, n_jobs=1, progress=False)


# ------------------------------------------------------------------- seeds
def test_seeds_are_reproducible_and_independent_of_order():
    a = replication_seed(bench.root_seed(7), 5, 0).generate_state(4)
    b = replication_seed(bench.root_seed(7), 5, 0).generate_state(4)
    c = replication_seed(bench.root_seed(7), 4, 0).generate_state(4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert bench.root_seed(None).entropy != bench.root_seed(None).entropy
    with pytest.raises(OptionError, match="random_state"):
        bench.root_seed("seven")
    with pytest.raises(OptionError, match="non-negative"):
        bench.root_seed(-1)


def test_same_seed_same_table_other_seed_other_table(small):
    again = bench.run("homogeneous", ["callaway_santanna", "twfe"], reps=4, random_state=3,
                      params=TINY, n_jobs=1, progress=False)
    pd.testing.assert_frame_equal(small.table.drop(columns=TIMING),
                                  again.table.drop(columns=TIMING), check_exact=True)
    other = bench.run("homogeneous", ["callaway_santanna"], reps=4, random_state=4,
                      params=TINY, n_jobs=1, progress=False)
    assert other.table.loc[0, "bias"] != small.table.loc[0, "bias"]


def test_each_replication_is_compared_with_its_own_truth(small):
    """The records' truth is the realised overall ATT of an independent re-simulation
    with that replication's seed."""
    rec = small.records
    sc = bench.get_scenario("homogeneous", **TINY)
    for r in (0, 3):
        sim = pcn_rollout(random_state=np.random.default_rng(
            replication_seed(bench.root_seed(3), r, 0)), **sc.simulator_options())
        expected = float(sim.true_effect("wellbeing", "overall")["value"].iloc[0])
        got = rec.loc[(rec["rep"] == r) & (rec["estimator"] == "twfe"), "truth"].iloc[0]
        assert got == expected


def test_estimator_seed_does_not_depend_on_other_estimators():
    """A bootstrapped estimator gets the same draws whatever else is benchmarked."""
    alone = bench.run("homogeneous", ["callaway_santanna[bootstrap=29]"], reps=2,
                      random_state=8, params=TINY, n_jobs=1, progress=False)
    mixed = bench.run("homogeneous", ["twfe", "callaway_santanna[bootstrap=29]"], reps=2,
                      random_state=8, params=TINY, n_jobs=1, progress=False)
    a = alone.records["std_error"].to_numpy()
    b = mixed.records.query("estimator != 'twfe'")["std_error"].to_numpy()
    np.testing.assert_array_equal(a, b)
    analytic = bench.run("homogeneous", ["callaway_santanna"], reps=2, random_state=8,
                         params=TINY, n_jobs=1, progress=False).records["std_error"].to_numpy()
    assert not np.allclose(a, analytic)  # the bootstrap was used


# ---------------------------------------------------------------- registries
def test_scenario_registry_and_overrides():
    names = set(bench.list_scenarios()["scenario"])
    assert {"homogeneous", "heterogeneous_dynamic", "selection_on_need", "covid_shock",
            "anticipation", "null", "few_clusters", "unbalanced", "patient_confounding",
            "its_autocorrelated"} <= names
    sc = bench.get_scenario("few_clusters")
    assert (sc.params["n_pcns"], sc.params["n_icbs"]) == (30, 1)
    big = bench.get_scenario("heterogeneous_dynamic", n_pcns=1250, n_icbs=42)
    assert big.params["n_pcns"] == 1250 and bench.SCENARIOS["heterogeneous_dynamic"].params[
        "n_pcns"] == 150
    with pytest.raises(OptionError, match="n_pcn"):
        bench.get_scenario("homogeneous", n_pcn=10)
    with pytest.raises(OptionError, match="unknown scenario 'homogenous'"):
        bench.get_scenario("homogenous")
    with pytest.raises(OptionError, match="already registered"):
        bench.register_scenario(bench.get_scenario("null"))
    for s in bench.SCENARIOS.values():
        assert s.summary and s.details, s.name


def test_series_and_cohort_scenarios_read_their_truth():
    """The interrupted series: one monthly series, interruption as cohort, truth the
    simulated level change; the cohort: the simulator's realised ATT."""
    sc = bench.get_scenario("its_autocorrelated")
    rep = sc.simulate(np.random.SeedSequence(4))
    assert rep.panel.kind == "series" and len(rep.panel.periods) == 108
    assert rep.truth["overall"] == pytest.approx(np.log(0.9), rel=1e-15)
    assert sc.with_effect(np.log(0.8)).simulate(1).truth["overall"] == pytest.approx(
        np.log(0.8), rel=1e-15)
    with pytest.raises(OptionError, match="outcome must be one of"):
        dataclasses.replace(sc, outcome="rate").validate()
    co = bench.get_scenario("patient_confounding", n_patients=400, n_practices=5)
    rep = co.simulate(np.random.SeedSequence(2))
    sim = patient_cohort(random_state=np.random.default_rng(np.random.SeedSequence(2)),
                         n_patients=400, n_practices=5)
    assert rep.truth["overall"] == sim.att and rep.panel.kind == "cross_section"


def test_n_periods_and_effect_overrides():
    sc = bench.get_scenario("null", n_periods=12)
    opts = sc.simulator_options()
    assert opts["end"] == "2020Q4" and opts["last_start"] == "2020Q4"
    eff = bench.get_scenario("ae_attendances").with_effect(np.log(0.95))
    assert eff.params["effect_size"]["ae_attendances"] == pytest.approx(np.log(0.95))
    assert bench.get_scenario("null").with_effect(0.2).params["effect"] == "constant"


def test_estimator_labels():
    assert parse_estimator("callaway_santanna[anticipation=1, method='reg']") == (
        "callaway_santanna", {"anticipation": 1, "method": "reg"})
    est = build_estimator("callaway_santanna[control_group=not_yet_treated]")
    assert est.control_group == "not_yet_treated"
    pairs = resolve_estimators("callaway_santanna[anticipation=1, method=reg], twfe", "staggered")
    assert [lab for lab, _ in pairs] == ["callaway_santanna[anticipation=1, method=reg]", "twfe"]
    with pytest.raises(OptionError, match="unknown estimator 'cs'"):
        resolve_estimators(["cs"], "staggered")
    with pytest.raises(OptionError, match="does not apply"):
        resolve_estimators(["psm"], "staggered")
    with pytest.raises(OptionError, match="bad options"):
        build_estimator("callaway_santanna[colour=1]")
    with pytest.raises(OptionError, match="fit"):
        resolve_estimators({"x": object()}, "staggered")
    listed = bench.list_estimators()
    assert {"callaway_santanna", "sun_abraham", "imputation", "two_stage", "twfe", "psm", "ipw",
            "aipw", "its", "bayes_did"} <= set(listed["estimator"])
    assert listed.set_index("estimator").loc["callaway_santanna", "available"]


@pytest.mark.parametrize("name, scenario, params", [
    ("psm", "patient_confounding", {"n_patients": 1500, "n_practices": 10}),
    ("ipw", "patient_confounding", {"n_patients": 1500, "n_practices": 10}),
    ("aipw", "patient_confounding", {"n_patients": 1500, "n_practices": 10}),
    ("its", "its_autocorrelated", {}),
])
def test_family_adapters_fit_or_raise_a_package_error(name, scenario, params):
    """Each adapter either fits a tiny run with every replication reported, or (its
    family not in this build) raises DependencyError naming it: never a stub result."""
    try:
        build_estimator(name)
    except DependencyError as exc:
        assert name in str(exc) and "spimpact" in str(exc)
        with pytest.raises(DependencyError):
            bench.run(scenario, [name], reps=2, random_state=0, params=params, n_jobs=1)
        pytest.skip(f"family not available: {exc}")
    res = bench.run(scenario, [name], reps=2, random_state=0, params=params, n_jobs=1,
                    progress=False)
    row = res.table.iloc[0]
    assert (row["reps"], row["n_failed"]) == (2, 0), res.failures()
    assert np.isfinite(row["bias"]) and np.isfinite(row["coverage"])


def test_weighting_adapters_target_the_att():
    """The cohort scenario's truth is the ATT, so the weighting adapters default to it."""
    for name in ("ipw", "aipw"):
        assert bench.ESTIMATORS[name].defaults["estimand"] == "ATT"


# ---------------------------------------------------------------------- run
def test_table_columns_and_immutability(small):
    t = small.table
    assert list(t.columns[:13]) == [
        "estimator", "target", "truth", "mean_estimate", "bias", "rmse", "emp_se", "mean_se",
        "coverage", "ci_width", "rejection_rate", "mcse_bias", "mcse_coverage"]
    assert {"mcse_rmse", "mcse_emp_se", "mcse_mean_se", "mcse_rejection"} <= set(t.columns)
    np.testing.assert_allclose(t["mean_estimate"] - t["truth"], t["bias"], rtol=1e-12)
    assert {"reps", "seconds", "n_failed"} <= set(t.columns)
    assert t["estimator"].tolist() == ["callaway_santanna", "twfe"]
    assert (t["reps"] == 4).all() and (t["seconds"] > 0).all()
    t.loc[0, "bias"] = 99.0
    assert small.table.loc[0, "bias"] != 99.0
    with pytest.raises(AttributeError):
        small.reps_ = 3  # type: ignore[attr-defined]


def test_failures_are_counted_not_hidden():
    res = bench.run("homogeneous", {"broken": Failing(), "cs": CallawaySantAnna()}, reps=2,
                    random_state=1, params=TINY, n_jobs=1, progress=False)
    t = res.table.set_index("estimator")
    assert t.loc["broken", "reps"] == 0 and t.loc["broken", "n_failed"] == 2
    assert t.loc["cs", "reps"] == 2
    assert any("no comparison units" in w for w in res.warnings)
    assert res.failures()["count"].tolist() == [2]
    with pytest.raises(EstimationError, match="on purpose"):
        bench.run("homogeneous", {"broken": Failing()}, reps=2, random_state=1, params=TINY,
                  n_jobs=1, progress=False, errors="raise")


def test_targets_and_unreported_targets():
    res = bench.run("heterogeneous_dynamic", ["callaway_santanna", "twfe"], reps=2,
                    random_state=2, params=TINY, targets=["overall", "event:2"], n_jobs=1,
                    progress=False)
    t = res.table.set_index(["estimator", "target"])
    assert t.loc[("callaway_santanna", "event:2"), "reps"] == 2
    assert t.loc[("twfe", "event:2"), "n_failed"] == 2  # static TWFE has no event study
    with pytest.raises(OptionError, match="unknown target"):
        bench.run("null", ["twfe"], reps=2, targets=["dynamic:1"], n_jobs=1)


def test_bad_arguments():
    with pytest.raises(OptionError, match="reps"):
        bench.run("null", ["twfe"], reps=1)
    with pytest.raises(OptionError, match="engine"):
        bench.run("null", ["twfe"], reps=2, params=TINY, engine="spark", n_jobs=1)
    with pytest.raises(OptionError, match="client"):
        bench.run("null", ["twfe"], reps=2, params=TINY, client="tcp://x:1", n_jobs=1)
    with pytest.raises(OptionError, match="n_jobs"):
        bench.run("null", ["twfe"], reps=2, params=TINY, n_jobs=0)


def test_plot_html_and_save(small, tmp_path):
    axes = small.plot()
    assert len(axes) == 2 and axes[0].get_xlabel().startswith("bias")
    page = small.to_html()
    assert "callaway_santanna" in page and "data:image/png;base64" in page
    paths = small.save(tmp_path, stem="homog")
    back = pd.read_parquet(paths["table_parquet"])
    pd.testing.assert_frame_equal(back, small.table)
    assert pd.read_csv(paths["table_csv"]).shape == small.table.shape
    assert "homogeneous" in small.summary() and "BenchResult" in repr(small)


# -------------------------------------------------------------------- power
def test_power_curve_and_mde():
    pw = bench.power("homogeneous", "callaway_santanna", effects=[0.0, 0.05, 0.4], reps=6,
                     random_state=4, params=TINY, design={"n_pcns": [30, 40]}, n_jobs=1,
                     progress=False)
    t = pw.table
    assert t[["n_pcns", "effect"]].values.tolist() == [
        [30, 0.0], [30, 0.05], [30, 0.4], [40, 0.0], [40, 0.05], [40, 0.4]]
    assert (t.loc[t["effect"] == 0.4, "rejection_rate"] == 1.0).all()  # 0.4 points: ~15 SEs
    assert (t.loc[t["effect"] == 0.0, "truth"] == 0.0).all()
    mde = pw.mde
    assert mde["n_pcns"].tolist() == [30, 40]
    assert ((mde["mde"] > 0.05) & (mde["mde"] < 0.4)).all() | mde["mde"].isna().all()
    assert pw.plot().get_ylabel().startswith("power")
    assert "Minimum detectable effect" in pw.summary() and "<img" in pw.to_html()
    with pytest.raises(OptionError, match="design"):
        bench.power("homogeneous", effects=[0.1, 0.2], reps=2, design={"n_pcns": 40})


# ------------------------------------------------------------------- suites
def test_standard_suites_parse_and_name_registered_things():
    found = suites.load_suites()
    assert {"did", "matching", "its", "bayes"} <= {s.name for s in found}
    for s in found:
        for r in [*s.runs, *s.powers]:
            assert r.scenario in bench.SCENARIOS, r
            for e in getattr(r, "estimators", None) or [r.estimator]:
                name = parse_estimator(e)[0]
                assert name in bench.ESTIMATORS, e
                assert bench.get_scenario(r.scenario).design in bench.ESTIMATORS[name].designs
    (pw,) = [p for s in found for p in s.powers]
    assert pw.rate_ratio and pw.effects[-1] == pytest.approx(np.log(0.98))


def test_suite_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nreps = 3\nrandom_state = 1\nrunz = []\n')
    with pytest.raises(OptionError, match="runz"):
        suites.load_suite(bad)
    bad.write_text('name = "x"\nreps = 3\nrandom_state = 1\n[[run]]\nscenario = "null"\n')
    with pytest.raises(OptionError, match="estimators"):
        suites.load_suite(bad)
    bad.write_text('name = "x"\nreps = 3\nrandom_state = 1\n')
    with pytest.raises(OptionError, match="at least one"):
        suites.load_suite(bad)
    bad.write_text('name = "x"\nreps = 3\nrandom_state = 1\n[[power]]\nscenario = "null"\n'
                   'estimator = "twfe"\neffects = [0.1]\nrate_ratios = [0.9]\n')
    with pytest.raises(OptionError, match="not both"):
        suites.load_suite(bad)


MINI_SUITE = """name = "mini"
title = "Mini"
reps = 50
random_state = 5

[[run]]
scenario = "homogeneous"
estimators = ["twfe", "not_there"]
params = { n_pcns = 40, n_icbs = 4 }

[[power]]
scenario = "ae_attendances"
estimator = "callaway_santanna"
rate_ratios = [1.0, 0.9]
design = { n_pcns = [30, 40] }
params = { n_icbs = 4 }
reps = 2
"""


def test_run_suite_and_results_page(tmp_path):
    (tmp_path / "mini.toml").write_text(MINI_SUITE)
    (s,) = suites.load_suites(tmp_path)
    out = suites.run_suite(s, reps=3, n_jobs=1, progress=False)
    assert out.reps == 3 and out.skipped[0][1] == "not_there"
    ((sp, pw),) = out.powers
    # run i has root seed random_state + i (runs, then power analyses): independent runs
    assert out.results[0][1].random_state == 5 and pw.random_state == 6
    assert pw.table["reps"].tolist() == [2] * 4  # the analysis asks for fewer replications
    assert pw.table["effect"].tolist() == pytest.approx([0.0, np.log(0.9)] * 2)
    page = suites.results_markdown([out])
    assert "**Replications per run:** mini 3" in page and "| twfe |" in page
    assert "Skipped" in page and "### Power: ae_attendances: callaway_santanna" in page
    assert set(out.table()["run"]) == {"homogeneous"}
    assert set(out.power_table()["n_pcns"]) == {30, 40}


def test_suites_command_writes_tables_report_and_page(tmp_path):
    (tmp_path / "mini.toml").write_text(MINI_SUITE)
    md, res = tmp_path / "docs" / "bench_results.md", tmp_path / "results"
    runner = CliRunner()
    done = runner.invoke(bench_command, ["--suite", str(tmp_path), "--reps", "2", "--out",
                                         str(res), "--docs", str(md), "-j", "1",
                                         "--no-progress"])
    assert done.exit_code == 0, done.output
    assert md.read_text().startswith("# Benchmark results")
    assert f"({tmp_path / 'mini.toml'})" in md.read_text().replace("`", "")
    for name in ("bench_table.csv", "bench_table.parquet", "bench_records.parquet",
                 "bench_power.csv", "bench_power.parquet", "bench_report.html"):
        assert (res / name).exists(), name
    table = pd.read_parquet(res / "bench_table.parquet")
    assert table[["suite", "run", "estimator"]].values.tolist() == [["mini", "homogeneous",
                                                                     "twfe"]]
    assert {"bias_ok", "coverage_ok"} <= set(table.columns)
    unknown = runner.invoke(bench_command, ["--suite", "nope", "--out", str(res)])
    assert unknown.exit_code != 0 and "no suite named ['nope']" in unknown.output
    mixed = runner.invoke(bench_command, ["--suite", "did", "--seed", "1", "--out", str(res)])
    assert mixed.exit_code != 0 and "--seed" in mixed.output
    twice = runner.invoke(bench_command, ["--suite", "all", "--suite", "did"])
    assert twice.exit_code != 0 and "more than once" in twice.output
    stray = runner.invoke(bench_command, ["-s", "null", "--docs", str(md)])
    assert stray.exit_code != 0 and "--docs" in stray.output


def test_standard_suites_are_package_data(tmp_path, monkeypatch):
    """Found through importlib.resources (as from an installed wheel), listed by --list;
    a bare name is a standard suite even where a folder of that name exists."""
    from spimpact.bench.cli import _load

    monkeypatch.chdir(tmp_path)
    (tmp_path / "did").mkdir()
    assert [s.name for s in _load(("did",))] == ["did"]
    assert {"bayes", "did", "its", "matching"} <= {s.name for s in _load(("all",))}
    folder = suites.standard_suites()
    assert folder.is_dir() and (folder / "did.toml").is_file()
    assert str(folder).endswith(str(Path("spimpact", "bench", "standard_suites")))
    listing = CliRunner().invoke(bench_command, ["--list"])
    assert listing.exit_code == 0
    for name in ("bayes", "did", "its", "matching"):
        assert f"│ {name} " in listing.output


# ---------------------------------------------------------------------- CLI
def test_cli_writes_tables_and_report(tmp_path):
    out = tmp_path / "o"
    res = CliRunner().invoke(bench_command, [
        "-s", "homogeneous", "-e", "twfe,callaway_santanna[method=reg]", "-r", "2",
        "--seed", "1", "--set", "n_pcns=40", "--set", "n_icbs=4", "-j", "1", "-o", str(out),
        "--no-progress"])
    assert res.exit_code == 0, res.output
    for name in ("homogeneous_table.csv", "homogeneous_table.parquet",
                 "homogeneous_records.parquet", "homogeneous_report.html", "report.html"):
        assert (out / name).exists(), name
    tab = pd.read_csv(out / "homogeneous_table.csv")
    assert tab["estimator"].tolist() == ["twfe", "callaway_santanna[method=reg]"]
    same = bench.run("homogeneous", ["twfe", "callaway_santanna[method=reg]"], reps=2,
                     random_state=1, params=TINY, n_jobs=1, progress=False).table
    np.testing.assert_allclose(tab["bias"], same["bias"], rtol=1e-12)


def test_cli_listing_and_errors():
    runner = CliRunner()
    listing = runner.invoke(bench_command, ["--list"])
    assert listing.exit_code == 0 and "heterogeneous_dynamic" in listing.output
    assert runner.invoke(bench_command, ["-r", "2"]).exit_code != 0
    bad = runner.invoke(bench_command, ["-s", "null", "--set", "n_pcns", "-j", "1"])
    assert bad.exit_code != 0 and "KEY=VALUE" in bad.output
    unknown = runner.invoke(bench_command, ["-s", "nul", "-r", "2", "-j", "1"])
    assert unknown.exit_code != 0 and "unknown scenario" in unknown.output


def test_registered_scenario_is_runnable():
    sc = dataclasses.replace(bench.get_scenario("homogeneous", **TINY), name="tiny_homogeneous")
    bench.register_scenario(sc, replace=True)
    res = bench.run("tiny_homogeneous", ["twfe"], reps=2, random_state=0, n_jobs=1,
                    progress=False)
    assert res.scenario.name == "tiny_homogeneous"


def test_cli_power_curve(tmp_path):
    out = tmp_path / "p"
    args = ["-s", "homogeneous", "-e", "callaway_santanna", "--effects", "0,0.4", "--vary",
            "n_pcns=30,40", "--set", "n_icbs=4", "-r", "2", "--seed", "3", "-j", "1", "-o",
            str(out), "--no-progress"]
    res = CliRunner().invoke(bench_command, args)
    assert res.exit_code == 0, res.output
    tab = pd.read_parquet(out / "homogeneous_power.parquet")
    assert tab[["n_pcns", "effect"]].values.tolist() == [[30, 0.0], [30, 0.4], [40, 0.0],
                                                         [40, 0.4]]
    same = bench.power("homogeneous", "callaway_santanna", [0.0, 0.4], reps=2, random_state=3,
                       design={"n_pcns": [30, 40]}, params={"n_icbs": 4}, n_jobs=1,
                       progress=False).table
    np.testing.assert_allclose(tab["rejection_rate"], same["rejection_rate"], rtol=0)
    assert (out / "homogeneous_mde.csv").exists() and (out / "homogeneous_power.html").exists()
    runner = CliRunner()
    two = runner.invoke(bench_command, [*args[:3], "twfe,callaway_santanna", *args[4:]])
    assert two.exit_code != 0 and "one estimator" in two.output
    no_curve = runner.invoke(bench_command, ["-s", "null", "--vary", "n_pcns=30,40"])
    assert no_curve.exit_code != 0 and "--vary needs" in no_curve.output


def test_warnings_count_replications_not_messages():
    rec = pd.DataFrame({
        "rep": [0, 1], "estimator": "a", "target": "overall", "truth": 0.0,
        "estimate": [0.1, -0.1], "std_error": 0.1, "ci_lower": [-0.1, -0.3],
        "ci_upper": [0.3, 0.1], "p_value": 0.5, "confidence": 0.95, "seconds": 0.1,
        "error": None, "warnings": ["cell 1 dropped | cell 2 dropped | few clusters",
                                    "cell 3 dropped"],
    })
    res = bench.BenchResult.from_records(rec, scenario=bench.get_scenario("null"),
                                         estimators=["a"], targets=["overall"], random_state=0,
                                         engine="local", wall_seconds=1.0)
    assert res.warnings == ("a: in 2/2 replications, e.g.: cell 1 dropped",
                            "a: in 1/2 replications, e.g.: few clusters")
