"""The documentation's results page (markdown) from the results of the suites."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import OptionError
from .result import CHECK_MCSE, BenchResult

if TYPE_CHECKING:
    from .power import PowerResult
    from .suites import SuitePower, SuiteResult, SuiteRun

__all__ = ["results_markdown"]


def _cell(v: object) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def _md_table(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(_cell(c) for c in cols) + " |",
             "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):  # a few dozen rows
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines)


def _fmt(x: float, digits: int = 3) -> str:
    return "" if not np.isfinite(x) else f"{x:.{digits}g}"


def _verdict(row: pd.Series) -> str:
    if row["reps"] == 0:
        return "n/a"
    bad = [name for name, ok in (("bias", row["bias_ok"]), ("coverage", row["coverage_ok"]))
           if not ok]
    return "✓" if not bad else "✗ " + " & ".join(bad)


def _expected(res: BenchResult, estimator: str) -> str:
    """The scenario's documented expectation for this label, else for its registry name
    (``callaway_santanna[bootstrap=999]`` inherits ``callaway_santanna``'s)."""
    from .estimators import parse_estimator

    sc = res.scenario
    for label in dict.fromkeys([estimator, _base(estimator, parse_estimator)]):
        if label in sc.should_pass:
            return "pass"
        if label in sc.should_fail:
            return "fail"
    return ""


def _base(label: str, parse: Callable[[str], tuple[str, dict]]) -> str:
    try:
        return parse(label)[0]
    except OptionError:  # a free label (an estimator object benchmarked directly)
        return label


def _surprise(verdict: str, expected: str) -> bool:
    """A verdict that contradicts the scenario's documented expectation."""
    return (expected == "pass" and verdict.startswith("✗")) or (expected == "fail"
                                                               and verdict == "✓")


def _run_section(sr: SuiteRun, res: BenchResult) -> list[str]:
    sc = res.scenario
    t = res.checks()
    pair = "{} ({})".format
    shown = pd.DataFrame({
        "estimator": t["estimator"], "target": t["target"], "truth": t["truth"].map(_fmt),
        "bias (MCSE)": [pair(_fmt(b), _fmt(m, 2)) for b, m in
                        zip(t["bias"], t["mcse_bias"], strict=True)],
        "RMSE": t["rmse"].map(_fmt),
        "emp. SE (MCSE)": [pair(_fmt(b), _fmt(m, 2)) for b, m in
                           zip(t["emp_se"], t["mcse_emp_se"], strict=True)],
        "model SE (MCSE)": [pair(_fmt(b), _fmt(m, 2)) for b, m in
                            zip(t["mean_se"], t["mcse_mean_se"], strict=True)],
        "coverage (MCSE)": [pair(_fmt(c), _fmt(m, 2)) for c, m in
                            zip(t["coverage"], t["mcse_coverage"], strict=True)],
        "rejection (MCSE)": [pair(_fmt(c), _fmt(m, 2)) for c, m in
                             zip(t["rejection_rate"], t["mcse_rejection"], strict=True)],
        "reps": t["reps"], "failed": t["n_failed"],
        "s/fit": t["seconds"].map(lambda s: _fmt(s, 2)),
        "verdict": [_verdict(r) for _, r in t.iterrows()],
        "expected": [_expected(res, e) for e in t["estimator"]],
    })
    shown = shown[t["reps"].to_numpy() > 0]
    out = [f"### {sr.name}", "", f"*{sc.summary}.*", "", sc.details, "",
           f"`{sc.simulator}` with " + ", ".join(f"`{k}={v!r}`" for k, v in sc.params.items())
           + f"; outcome `{sc.outcome}`; root seed {res.random_state}.", "", _md_table(shown),
           ""]
    not_reported = t.loc[t["reps"] == 0, ["estimator", "target"]]
    if len(not_reported):
        out += ["Not reported (the result has no such estimate): " + ", ".join(
            f"{e} ({g})" for e, g in zip(not_reported["estimator"], not_reported["target"],
                                         strict=True)) + ".", ""]
    notes = [w for w in res.warnings if "replication(s) failed" in w]
    if notes:
        out += ["Failures:", "", *[f"- {_cell(w)}" for w in notes], ""]
    return out


def _matrix(s: SuiteResult) -> pd.DataFrame:
    """Verdicts of the headline (first) target: one row per run, one column per estimator;
    a dagger marks a verdict that contradicts the documented expectation."""
    rows: dict[str, dict[str, str]] = {}
    for sr, res in s.results:
        t = res.checks()
        t = t[t["target"] == t["target"].iloc[0]]
        cells = {}
        for _, r in t.iterrows():  # a handful of estimators
            v = _verdict(r)
            cells[r["estimator"]] = v + (" †" if _surprise(v, _expected(res, r["estimator"]))
                                         else "")
        rows[sr.name] = cells
    cols = list(dict.fromkeys(e for r in rows.values() for e in r))
    return pd.DataFrame([{"run": k, **{c: v.get(c, "") for c in cols}} for k, v in rows.items()])


def _power_section(sp: SuitePower, pw: PowerResult) -> list[str]:
    t = pw.table
    design = [c for c in sp.design]
    shown = t[design].astype(str) if design else pd.DataFrame(index=t.index)
    shown = shown.assign(effect=t["effect"].map(lambda v: _fmt(v, 4)))
    if sp.rate_ratio:
        shown["rate ratio"] = np.exp(t["effect"].to_numpy(float)).round(4)
    shown["truth"] = t["truth"].map(_fmt)
    shown["power (MCSE)"] = [f"{_fmt(r)} ({_fmt(m, 2)})"
                             for r, m in zip(t["rejection_rate"], t["mcse_rejection"],
                                             strict=True)]
    shown["coverage"] = t["coverage"].map(_fmt)
    shown["reps"] = t["reps"]
    mde = pw.mde
    mde_shown = mde[design].astype(str) if design else pd.DataFrame(index=mde.index)
    mde_shown = mde_shown.assign(MDE=mde["mde"].map(lambda v: _fmt(v, 3)))
    if sp.rate_ratio:
        mde_shown["MDE as % change"] = [_fmt(100 * (np.exp(v) - 1), 3) for v in mde["mde"]]
    mde_shown["MDE on the truth's scale"] = mde["mde_truth"].map(_fmt)
    mde_shown["note"] = mde["note"]
    sc = pw.scenario
    return [f"### Power: {sp.name}", "", f"*{sc.summary}.*", "",
            f"`{sc.simulator}` with " + ", ".join(f"`{k}={v!r}`" for k, v in sc.params.items())
            + f", varying {', '.join(f'`{k}`' for k in design) or 'nothing'}; estimator "
            f"`{sp.estimator}`; {int(t['reps'].max())} replications per point; root seed "
            f"{pw.random_state} (every point uses the same replication seeds).", "",
            f"Rejection rate of \"no effect\" at the 5% level by design and effect size "
            f"(effects on the simulator's scale{': log rate ratios' if sp.rate_ratio else ''}), "
            f"and the minimum detectable effect (MDE) at power {pw.level:g}, interpolated "
            f"between the effects tried. The rejection rate at effect 0 is the size of the "
            f"test: where it exceeds 5%, the power at other effects is inflated too.", "",
            _md_table(shown), "", _md_table(mde_shown), ""]


def _header(results: Sequence[SuiteResult]) -> list[str]:
    from .. import __version__

    reps = ", ".join(f"{s.suite.name} {s.reps}" for s in results)
    return [
        "# Benchmark results", "",
        "```{note}",
        f"Generated by `make bench` (`spimpact bench --suite all`) on "
        f"{_dt.date.today().isoformat()} with spimpact {__version__}, from the standard suites "
        f"in `spimpact/bench/standard_suites/`. Do not edit by hand.",
        "```", "",
        f"**Replications per run:** {reps}. These are modest on purpose (the whole page "
        "regenerates in well under an hour on two cores): with 200 replications the Monte "
        "Carlo SE of a 95% coverage is about 0.015 and a bias is resolved to about 1/14 of "
        "the estimator's SE. Run a suite with more replications (`bench.run(...)`, or raise "
        "`reps` in its file) to resolve smaller departures.", "",
        f"A verdict ✓ means |bias| is within {CHECK_MCSE:g} Monte Carlo SEs of zero and the "
        f"coverage of the 95% intervals is within {CHECK_MCSE:g} Monte Carlo SEs of 95% (that "
        "SE computed at 95%); ✗ names what failed; † marks a verdict that contradicts the "
        "scenario's documented expectation (*expected*). Under `null` the rejection rate is "
        "the size of the test, elsewhere its power. Every estimate is compared with its own "
        "replication's realised truth; `truth` is their mean. The model SE is the root mean "
        "of the estimators' own variances (compare with the empirical SE, the SD of the "
        "estimates). With several dozen verdicts on the page, an occasional ✗ just past "
        "3 Monte Carlo SEs is expected by chance; the slow tests (`pytest -m slow`, "
        "`tests/test_bench_slow.py`) re-check the documented expectations with other seeds.",
        "",
    ]


def _suite_file(s: SuiteResult) -> str:
    """Where the suite was read from: a standard suite by its place in the package."""
    from .suites import standard_suites

    path = s.suite.path
    if path is None:
        return f"{s.suite.name}.toml"
    if str(path) == str(standard_suites() / path.name):
        return f"spimpact/bench/standard_suites/{path.name}"
    return str(path)


def results_markdown(results: Sequence[SuiteResult]) -> str:
    """The results page: per suite, a verdict matrix, every run's table, the power
    analyses and what was skipped."""
    lines = _header(results)
    for s in results:
        lines += [f"## {s.suite.title}", "", s.suite.description, "",
                  f"{s.reps} replications per run (`{_suite_file(s)}`); "
                  f"run *i* (from 0) has root seed {s.suite.random_state} + *i*, so the runs are "
                  f"independent while the estimators of a run share its replications.", ""]
        if s.results:
            lines += ["Verdicts (headline target):", "", _md_table(_matrix(s)), ""]
        for sr, res in s.results:
            lines += _run_section(sr, res)
        for sp, pw in s.powers:
            lines += _power_section(sp, pw)
        if s.skipped:
            lines += ["Skipped (not available in this build):", ""]
            lines += [f"- {run}: `{est}`: {_cell(why)}" for run, est, why in s.skipped]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
