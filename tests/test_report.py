"""The report renderer, number formatting, warnings attributed to the user's
line, and the command line's wording."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import spimpact as sp
from spimpact._format import fmt, fmt_p, format_frame
from spimpact.cli import cli_syntax, main
from spimpact.report import Section, render_html
from spimpact.results import Result, estimate_table
from spimpact.run import spec_syntax


@pytest.mark.parametrize(("value", "text"), [
    (1720383719.0, "1,720,383,719"), (896.2236585952709, "896.2"), (2006, "2006"),
    (12345, "12,345"), (0.000012345, "1.234e-05"), (-0.0123456, "-0.01235"),
    (float("nan"), "–"), (None, "–"), (np.int64(36512), "36,512"), (np.float32(0.5), "0.5000"),
    (pd.Timestamp("1983-02-01"), "1983-02-01"), (pd.Timestamp("1983-02-01 10:30"),
                                                 "1983-02-01 10:30"),
    (pd.Period("2019Q3", "Q"), "2019Q3"), (np.bool_(False), "no"), ("text", "text"),
])
def test_numbers_dates_and_missing_values_for_people(value, text):
    assert fmt(value) == text


def test_p_values_and_frames():
    assert [fmt_p(p) for p in (0.5, 0.0449, 1e-12, np.nan)] == ["0.500", "0.045", "<0.001", "–"]
    frame = pd.DataFrame({"time": pd.to_datetime(["1983-02-01", "1983-03-01"]),
                          "estimate": [1234567.891, np.nan], "p_value": [0.2, 1e-5]})
    out = format_frame(frame)
    # dates on the first of each month are monthly periods; other dates stay dates
    assert out.to_numpy().tolist() == [["1983-02", "1,234,568", "0.200"],
                                       ["1983-03", "–", "<0.001"]]
    daily = format_frame(frame.assign(time=pd.to_datetime(["1983-02-01", "1983-02-02"])))
    assert daily["time"].tolist() == ["1983-02-01", "1983-02-02"]
    assert frame["estimate"].iloc[0] == 1234567.891  # the input is not modified


def test_report_has_contents_provenance_warnings_and_captions():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = Result(estimate_table([0.5], [0.1], index={"term": ["x"]}), method="demo fit",
                 n_units=15000, warnings=["few clusters"], emit=False)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    one = Section("First part").text("Some <b>text</b>.").table(
        pd.DataFrame({"a": [1234567.0]}), "A table.").figure(fig, "A figure.")
    two = Section("Second part").result(res, "The fit")
    page = render_html("Report", [one, two], "Intro.", provenance={"seed": 11,
                                                                   "data": "x.csv"})
    ids = re.findall(r'<section id="([^"]+)"', page)
    assert ids == ["s1-first-part", "s2-second-part"]
    assert all(f'href="#{i}"' in page for i in ids)
    assert "<th>seed</th><td>11</td>" in page and 'id="provenance"' in page
    assert "few clusters" in page and 'href="#s2-second-part">Second part</a>' in page
    assert "<strong>Table 1.</strong> A table." in page
    assert "<strong>Figure 1.</strong> A figure." in page
    assert "The fit: settings and sizes." in page and "15,000" in page
    assert "1,234,567" in page and "&lt;b&gt;" in page  # formatted, and text escaped
    assert "<Result" not in page and "&lt;Result" not in page  # no raw reprs


def test_warnings_point_at_the_users_line():
    """Warnings raised deep in the package name the line of the caller's code."""
    df = pd.DataFrame({"u": [1, 1, 2, 2], "t": [1, 2, 1, 2], "y": [1.0, np.nan, 2.0, 3.0]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sp.Panel(df, outcome="y", unit="u", time="t")
        line = _line() - 1
        Result(estimate_table([0.5], [0.1]), method="x", warnings=["a red flag"])
        line2 = _line() - 1
    found = {(w.category.__name__, w.filename, w.lineno) for w in caught}
    assert ("DataWarning", __file__, line) in found
    assert ("StatisticalWarning", __file__, line2) in found


def _line() -> int:
    import inspect

    return inspect.currentframe().f_back.f_lineno  # type: ignore[union-attr]


def test_messages_use_the_syntax_of_where_they_are_read():
    msg = "cohort 0 looks like R's code; to treat them as never treated, pass never_treated=0."
    assert cli_syntax(msg).endswith("pass --never-treated 0.")
    assert spec_syntax(msg).endswith("pass never_treated = 0 in [data].")
    assert cli_syntax("give either cohort= ('a') or treatment= ('b')") == (
        "give either --cohort ('a') or --treatment ('b')")


def _extract(path):
    df = pd.DataFrame({"state": np.repeat(["A", "B", "C", "D"], 4),
                       "year": np.tile([2000, 2001, 2002, 2003], 4),
                       "first": np.repeat([2002, 2003, 0, 0], 4),
                       "y": np.arange(16, dtype=float)})
    df.to_csv(path, index=False)


def test_describe_takes_the_panel_roles_and_shows_cohort_sizes(tmp_path):
    path = tmp_path / "x.csv"
    _extract(path)
    args = ["describe", str(path), "--outcome", "y", "--unit", "state", "--time", "year",
            "--cohort", "first"]
    res = CliRunner().invoke(main, [*args, "--never-treated", "0", "--cluster", "state"])
    assert res.exit_code == 0, res.output
    assert "Cohorts and their sizes" in res.output and "2003" in res.output
    assert "never-treated units" in res.output
    res = CliRunner().invoke(main, args)  # 0 taken as a period: the error says the flag
    assert res.exit_code == 2
    assert "--never-treated 0" in res.output and "never_treated=" not in res.output
    assert "Traceback" not in res.output


def test_help_lists_run_and_quick_says_how_long():
    res = CliRunner().invoke(main, ["--help"])
    assert "run" in res.output
    res = CliRunner().invoke(main, ["demo", "--help"])
    assert "about 15 s" in " ".join(res.output.split())


def test_quick_demo_leaves_the_bayesian_section_out_unless_named(monkeypatch):
    import spimpact.demo as demo

    def fake(module):
        return lambda random_state, quick: Section(module)

    monkeypatch.setattr(demo, "_family_demo", fake)
    monkeypatch.setattr(demo, "panel_section", lambda random_state, quick: Section("panel"))
    quick = {r.key: r for r in demo.run_sections(quick=True)}
    assert quick["bayes"].section is None and "--only bayes" in quick["bayes"].skipped
    assert quick["did"].section is not None and quick["panel"].section is not None
    named = {r.key: r for r in demo.run_sections(quick=True, only=("bayes",))}
    assert set(named) == {"bayes"} and named["bayes"].section is not None
    full = {r.key: r for r in demo.run_sections(quick=False)}
    assert full["bayes"].section is not None


def test_bayesian_progress_is_a_setting_that_run_turns_on_in_a_terminal():
    from spimpact.bayes import MultilevelDiD
    from spimpact.bayes._sampling import sample
    from spimpact.run import Analysis, build_estimator

    assert MultilevelDiD().progress is False and MultilevelDiD(progress=True).progress is True
    with pytest.raises(sp.OptionError, match="progress must be True or False"):
        sample(None, {}, (), progress="yes")
    spec = Analysis("b", "bayes.MultilevelDiD", "y", {"draws": 200})
    assert build_estimator(spec, 1, [], progress_bars=True).progress is True
    assert build_estimator(spec, 1, [], progress_bars=False).progress is False
    quiet = Analysis("b", "bayes.MultilevelDiD", "y", {"progress": False})
    assert build_estimator(quiet, 1, [], progress_bars=True).progress is False
    assert build_estimator(spec, 1, []).random_state == 1  # the run's seed
