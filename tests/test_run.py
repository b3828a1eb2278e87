"""`spimpact run SPEC.toml` end to end on a panel the package has never seen, the
side-by-side table, and the report checked in a real (headless Chromium) browser.

The panel is Cheng & Hoekstra's castle-doctrine state-year data (50 states,
2000-2010, staggered adoption 2006-2010) from the ``causaldata`` package. The
reference for every number in the run's CSVs, comparison table and run.json is
the Python API fitted on the same data in this test: the CSVs must equal it to
``CSV_TOL`` (the CSV holds full-precision floats, so only the last bit of a
decimal round trip may differ).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tomllib
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import spimpact as sp
from spimpact._format import fmt, fmt_interval
from spimpact.cli import main
from spimpact.did import TWFE, CallawaySantAnna, Imputation

#: CSV round trip of float64 values written with full precision.
CSV_TOL = 1e-10
SEED = 7

SPEC = """\
seed = 7

[data]
path = "castle.csv"
unit = "sid"
time = "year"
treatment = "post"

[[analysis]]
name = "cs"
estimator = "did.CallawaySantAnna"
outcome = "l_homicide"
control_group = "not_yet_treated"
aggregate = ["simple", "event", "group"]

[[analysis]]
name = "imputation"
estimator = "did.Imputation"
outcome = "l_homicide"
aggregate = ["event"]

[[analysis]]
name = "twfe"
estimator = "did.TWFE"
outcome = "l_homicide"

[report]
out = "out"
title = "Castle doctrine and homicide"
"""


def _castle() -> pd.DataFrame:
    castle = pytest.importorskip("causaldata.castle")
    return castle.load_pandas().data.loc[:, ["sid", "year", "post", "l_homicide", "popwt"]]


@pytest.fixture(scope="module")
def castle_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("castle")
    _castle().to_csv(folder / "castle.csv", index=False)
    (folder / "spec.toml").write_text(SPEC)
    res = CliRunner().invoke(main, ["run", str(folder / "spec.toml")])
    assert res.exit_code == 0, res.output
    return folder, res.output


@pytest.fixture(scope="module")
def api_results(castle_run):
    # the user's path: the same file, read by pandas (castle's float32 columns
    # become other float64 values once written as text)
    folder, _ = castle_run
    panel = sp.Panel(pd.read_csv(folder / "castle.csv"), outcome="l_homicide", unit="sid",
                     time="year", treatment="post")
    ests = [CallawaySantAnna(control_group="not_yet_treated", random_state=SEED),
            Imputation(random_state=SEED), TWFE()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ests, [e.fit(panel) for e in ests]


def _same(csv: pd.DataFrame, api: pd.DataFrame) -> None:
    assert list(csv.columns) == list(api.columns)
    assert len(csv) == len(api)
    for col in api.columns:
        if pd.api.types.is_float_dtype(api[col]):
            np.testing.assert_allclose(csv[col].to_numpy(), api[col].to_numpy(), rtol=0,
                                       atol=CSV_TOL, err_msg=col)
        else:
            assert csv[col].astype(str).tolist() == api[col].astype(str).tolist(), col


def test_run_writes_what_it_promises(castle_run):
    folder, output = castle_run
    out = folder / "out"
    expected = {"report.html", "run.json", "cs.csv", "cs_simple.csv", "cs_event.csv",
                "cs_group.csv", "imputation.csv", "imputation_event.csv", "twfe.csv",
                "comparison.csv", "comparison.tex", "comparison.md"}
    assert expected <= {p.name for p in out.iterdir()}
    try:
        import docx  # noqa: F401

        assert (out / "comparison.docx").exists()
    except ImportError:
        assert "comparison.docx was not written" in (out / "report.html").read_text()
    assert {p.name for p in (out / "figures").iterdir()} == {
        "cs_event.png", "cs_group.png", "imputation_event.png", "twfe.png"}
    assert "report.html" in output


def test_run_csvs_equal_the_python_api(castle_run, api_results):
    folder, _ = castle_run
    out = folder / "out"
    _, (cs, imp, twfe) = api_results
    _same(pd.read_csv(out / "cs.csv"), cs.estimates)  # ATT(g,t)
    _same(pd.read_csv(out / "imputation.csv"), imp.estimates)
    _same(pd.read_csv(out / "twfe.csv"), twfe.estimates)
    _same(pd.read_csv(out / "cs_event.csv"), cs.aggregate("event").estimates)
    _same(pd.read_csv(out / "cs_group.csv"), cs.aggregate("group").estimates)
    _same(pd.read_csv(out / "imputation_event.csv"), imp.aggregate("event").estimates)
    simple = pd.read_csv(out / "cs_simple.csv").iloc[0]
    assert simple["estimate"] == pytest.approx(cs.overall.estimate, abs=CSV_TOL)
    assert simple["std_error"] == pytest.approx(cs.overall.std_error, abs=CSV_TOL)


def test_report_shows_the_estimators_own_numbers(castle_run, api_results):
    folder, _ = castle_run
    page = (folder / "out" / "report.html").read_text()
    ests, results = api_results
    assert "Contents" in page and 'href="#s2-results-side-by-side"' in page
    table = pd.read_csv(folder / "out" / "comparison.csv", index_col=0)
    for name, res in zip(["cs", "imputation", "twfe"], results, strict=True):
        o = res.overall
        assert table.loc["estimate", name] == fmt(o.estimate)
        assert table.loc["std. error", name] == fmt(o.std_error)
        assert table.loc["95% interval", name] == fmt_interval(o.ci_lower, o.ci_upper)
        assert fmt(o.estimate) in page and fmt_interval(o.ci_lower, o.ci_upper) in page
    # numbers for people: no raw reprs, no timestamps, years without separators
    assert "<spimpact." not in page and "00:00:00" not in page and "2,006" not in page
    tex = (folder / "out" / "comparison.tex").read_text()
    assert "\\begin{tabular}" in tex and "95\\% interval" in tex and "control\\_group" in tex


def test_run_json_records_the_provenance(castle_run, api_results):
    folder, _ = castle_run
    record = json.loads((folder / "out" / "run.json").read_text())
    assert record["spimpact"] == sp.__version__ and "numpy" in record["versions"]
    spec_text = (folder / "spec.toml").read_text()
    assert record["spec"]["sha256"] == hashlib.sha256(spec_text.encode()).hexdigest()
    data = (folder / "castle.csv").read_bytes()
    assert record["data"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert record["seed"] == SEED
    _, results = api_results
    for entry, res in zip(record["analyses"], results, strict=True):
        assert entry["overall"]["estimate"] == pytest.approx(res.overall.estimate, abs=1e-12)
        assert entry["seconds"] >= 0 and isinstance(entry["warnings"], list)
    assert record["analyses"][0]["settings"]["random_state"] == SEED


def _spec(tmp_path, text: str):
    _castle().to_csv(tmp_path / "castle.csv", index=False)
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("change", "named"), [
    (('outcome = "l_homicide"', 'outcome = "l_homicde"', 1), ["l_homicde", "outcome"]),
    (('estimator = "did.TWFE"', 'estimator = "did.TWFEE"', 1), ["TWFEE", "CallawaySantAnna"]),
    (('control_group = "not_yet_treated"', 'control = "not_yet_treated"', 1),
     ["control", "control_group"]),
    (('treatment = "post"', 'treatment = "treated"', 1), ["treated"]),
    (('path = "castle.csv"', 'path = "castles.csv"', 1), ["castles.csv", "[data] path"]),
    (('aggregate = ["event"]', 'aggregate = ["dynamics"]', 1), ["dynamics", "aggregate"]),
    (('control_group = "not_yet_treated"', 'control_group = "not_yet"', 1),
     ["control_group", "not_yet"]),
])
def test_a_bad_spec_exits_naming_the_field_without_a_traceback(tmp_path, change, named):
    old, new, count = change
    path = _spec(tmp_path, SPEC.replace(old, new, count))
    res = CliRunner().invoke(main, ["run", str(path)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and res.exception is None or isinstance(
        res.exception, SystemExit)
    for word in named:
        assert word in res.output, (word, res.output)
    assert not (tmp_path / "out").exists()  # checked before anything is fitted or written


def test_dry_run_checks_without_fitting(tmp_path):
    path = _spec(tmp_path, SPEC)
    res = CliRunner().invoke(main, ["run", str(path), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "check out" in res.output and "50 units" in res.output
    assert not (tmp_path / "out").exists()


def test_example_spec_is_valid_toml_with_the_documented_sections(tmp_path):
    res = CliRunner().invoke(main, ["run", "--example"])
    assert res.exit_code == 0
    spec = tomllib.loads(res.output)
    assert {"seed", "data", "analysis", "report"} <= set(spec)
    assert [a["estimator"] for a in spec["analysis"]] == [
        "did.CallawaySantAnna", "did.Imputation", "did.TWFE"]


def test_run_by_subgroup_matches_the_api(tmp_path):
    # a unit-level subgroup travels with the data but is not a covariate of the fit
    _castle().to_csv(tmp_path / "castle.csv", index=False)
    df = pd.read_csv(tmp_path / "castle.csv")
    df["south"] = (df["sid"] % 2).astype(int)  # a unit-level split for the test
    df.to_csv(tmp_path / "castle.csv", index=False)
    (tmp_path / "spec.toml").write_text(
        'seed = 1\n[data]\npath = "castle.csv"\nunit = "sid"\ntime = "year"\n'
        'treatment = "post"\n[[analysis]]\nname = "cs_by"\nestimator = "did.CallawaySantAnna"\n'
        'outcome = "l_homicide"\nby = "south"\n[report]\nout = "out"\n')
    res = CliRunner().invoke(main, ["run", str(tmp_path / "spec.toml")])
    assert res.exit_code == 0, res.output
    panel = sp.Panel(df, outcome="l_homicide", unit="sid", time="year", treatment="post",
                     covariates=["south"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = CallawaySantAnna(covariates=(), random_state=1).fit(panel, by="south")
    _same(pd.read_csv(tmp_path / "out" / "cs_by.csv"), api.estimates)


def test_compare_side_by_side_renders_to_latex_markdown_html(api_results):
    ests, results = api_results
    table = sp.compare(results, names=["CS", "BJS", "TWFE"])
    assert table.columns.tolist() == ["CS", "BJS", "TWFE"]
    assert table.index[:4].tolist() == ["estimate", "std. error", "95% interval", "p-value"]
    assert table.loc["units"].tolist() == ["50", "50", "50"]
    assert table.loc["estimate", "TWFE"] == fmt(results[2].overall.estimate)
    assert isinstance(table, pd.DataFrame)
    latex = table.to_latex()
    assert "\\begin{tabular}" in latex and "BJS" in latex
    assert "95\\% interval" in latex  # LaTeX's specials escaped
    assert "| CS" in table.to_markdown() and "<table" in table.to_html()
    with_settings = sp.compare(results, names=["CS", "BJS", "TWFE"], estimators=ests)
    assert with_settings.loc["comparison group", "CS"] == "not yet treated"
    assert "control_group = not_yet_treated" in with_settings.loc["settings", "CS"]
    with pytest.raises(sp.OptionError, match="names has 2 entries"):
        sp.compare(results, names=["a", "b"])


def test_compare_writes_a_word_table(api_results, tmp_path):
    docx = pytest.importorskip("docx", reason="the Word table needs python-docx (extra report)")
    _, results = api_results
    table = sp.compare(results, names=["CS", "BJS", "TWFE"])
    path = table.to_docx(tmp_path / "t.docx", "Castle doctrine")
    doc = docx.Document(str(path))
    assert doc.paragraphs[0].text == "Castle doctrine"
    cells = [[c.text for c in row.cells] for row in doc.tables[0].rows]
    assert cells[0] == ["", "CS", "BJS", "TWFE"]
    assert cells[1] == ["estimate", *table.loc["estimate"].tolist()]
    assert len(cells) == len(table) + 1


# ------------------------------------------------------------------ real browser
def _browser():
    from _chromium import find_browser

    path = find_browser()
    if path is None:
        reason = ("chromium is not installed (Debian: apt-get install chromium; `make test` "
                  "installs it when run as root)")
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must run the browser test")
        pytest.skip(reason)
    pytest.importorskip("websockets", reason="the DevTools client needs `websockets`")
    return path


def test_report_in_a_real_browser(castle_run):
    """report.html in headless Chromium: no console errors, no network, every
    table-of-contents link lands on its section, every figure decodes with a
    non-zero size, and a screenshot is not blank."""
    import matplotlib.image as mpimg
    from _chromium import Page

    folder, _ = castle_run
    page = Page(_browser())
    try:
        page.open(folder / "out" / "report.html")
        assert page.console_errors() == []
        assert all(u.startswith(("file:", "data:")) for u in page.requested_urls())
        links = page.evaluate("Array.from(document.querySelectorAll('nav.toc a'))"
                              ".map(a => a.getAttribute('href'))")
        assert len(links) == 5
        for href in links:
            landed = page.evaluate(f"""(() => {{
                const a = document.querySelector('nav.toc a[href="{href}"]');
                a.click();
                const el = document.getElementById('{href[1:]}');
                const top = el.getBoundingClientRect().top;
                const atBottom = window.innerHeight + window.scrollY
                                 >= document.documentElement.scrollHeight - 2;
                return {{hash: location.hash, top: top, atBottom: atBottom,
                         heading: el.querySelector('h2').textContent}};
            }})()""")
            assert landed["hash"] == href
            assert abs(landed["top"]) < 2 or (landed["atBottom"] and landed["top"] >= 0), landed
        images = page.evaluate("""Promise.all(Array.from(document.images).map(
            img => img.decode().then(() => [img.naturalWidth, img.naturalHeight,
                                            img.getBoundingClientRect().width])))""")
        assert len(images) == 4
        assert all(w > 0 and h > 0 and shown > 0 for w, h, shown in images), images
        page.evaluate("window.scrollTo(0, 0)")
        shot = mpimg.imread(io.BytesIO(page.screenshot()), format="png")
        assert shot.shape[0] > 100 and shot.shape[1] > 100
        assert float(shot[..., :3].std()) > 0.05  # text and boxes, not a blank page
        assert len(np.unique(shot[..., :3].reshape(-1, 3), axis=0)) > 20
        assert page.console_errors() == []
    finally:
        page.close()


def test_the_shipped_example_runs(tmp_path):
    """README's third command: `spimpact run vignettes/analysis.toml` on the example
    extract beside the vignettes (written here to a temporary folder)."""
    from pathlib import Path

    spec = Path(__file__).resolve().parents[1] / "vignettes" / "analysis.toml"
    res = CliRunner().invoke(main, ["run", str(spec), "--out", str(tmp_path / "report")])
    assert res.exit_code == 0, res.output
    written = {p.name for p in (tmp_path / "report").iterdir()}
    assert {"report.html", "run.json", "callaway_santanna.csv", "by_rurality.csv",
            "comparison.tex"} <= written
    table = pd.read_csv(tmp_path / "report" / "comparison.csv", index_col=0)
    assert table.columns.tolist() == ["callaway_santanna", "imputation", "twfe"]


def test_analysis_sub_tables_reach_their_registered_extension(tmp_path, monkeypatch):
    import spimpact.run as run_module

    seen = {}

    def extension(result, options, section, folder):
        seen.update(options, overall=result.overall.estimate)
        section.text("extension ran")
        (folder / "ext.csv").write_text("a\n1\n")
        return ["ext.csv"]

    text = SPEC.replace('[[analysis]]\nname = "imputation"',
                        '[analysis.extra]\nlevel = 0.9\n\n[[analysis]]\nname = "imputation"')
    path = _spec(tmp_path, text)
    res = CliRunner().invoke(main, ["run", str(path), "--dry-run"])
    assert res.exit_code == 2 and "unknown section(s) ['extra']" in res.output
    monkeypatch.setitem(run_module.EXTENSIONS, "extra", extension)
    res = CliRunner().invoke(main, ["run", str(path)])
    assert res.exit_code == 0, res.output
    assert seen["level"] == 0.9 and np.isfinite(seen["overall"])
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert "ext.csv" in record["analyses"][0]["files"]
    assert "extension ran" in (tmp_path / "out" / "report.html").read_text()


# ------------------------------------------------- value for money and equity sections
ECON_SPEC = """\
seed = 3

[data]
path = "extract.csv"
unit = "pcn"
time = "quarter"
cohort = "first_quarter"
never_treated = 0

[[analysis]]
name = "gp"
estimator = "did.CallawaySantAnna"
outcome = "gp_consultations"
bootstrap = 199

[analysis.econ]
item = "gp_consultations"
programme_cost = 30.0
effect = 0.002
wtp = [0, 10000, 20000, 30000]

[[analysis]]
name = "wellbeing"
estimator = "did.CallawaySantAnna"
outcome = "wellbeing"
by = "deprived"

[analysis.econ]
target = 1
programme_cost = 500.0
scale = 0.01
wtp = [20000, 30000]
n_draws = 500
random_state = 11

[analysis.equity]
contrast = [1, 0]

[report]
out = "out"
"""


def _extract() -> pd.DataFrame:
    """A small staggered PCN-by-quarter extract with known effects: link workers
    cut GP consultations by 0.4 per patient-quarter and raise wellbeing by 1
    point, 2 points in the deprived half."""
    rng = np.random.default_rng(2024)
    n, t = 60, 8
    pcn = np.repeat(np.arange(n), t)
    quarter = np.tile(np.arange(1, t + 1), n)
    first = rng.choice([4, 6, 0], size=n)[pcn]  # 0: never treated
    deprived = (np.arange(n) % 2)[pcn]
    on = (first > 0) & (quarter >= first)
    unit_fx = rng.normal(size=n)[pcn]
    return pd.DataFrame({
        "pcn": pcn, "quarter": quarter, "first_quarter": first, "deprived": deprived,
        "gp_consultations": 5 + unit_fx + 0.05 * quarter - 0.4 * on + rng.normal(0, .3, n * t),
        "wellbeing": 50 + unit_fx + (1 + deprived) * on + rng.normal(0, .5, n * t),
    })


@pytest.fixture(scope="module")
def econ_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("econ")
    _extract().to_csv(folder / "extract.csv", index=False)
    (folder / "spec.toml").write_text(ECON_SPEC)
    res = CliRunner().invoke(main, ["run", str(folder / "spec.toml")])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(folder / "extract.csv")
    panel = dict(unit="pcn", time="quarter", cohort="first_quarter", never_treated=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp = CallawaySantAnna(bootstrap=199, random_state=3).fit(
            sp.Panel(df, outcome="gp_consultations", **panel))
        wb = CallawaySantAnna(covariates=(), random_state=3).fit(
            sp.Panel(df, outcome="wellbeing", covariates=["deprived"], **panel), by="deprived")
    return folder, gp, wb


def test_run_value_for_money_equals_the_python_api(econ_run):
    folder, gp, wb = econ_run
    out = folder / "out"
    # service use: cost = programme cost + effect draws x the default GP unit cost
    unit = float(sp.econ.DEFAULT_UNIT_COSTS.set_index("item").loc["gp_consultations",
                                                                   "unit_cost"])
    ce = sp.econ.cost_effectiveness(30.0 + gp.draws() * unit, 0.002,
                                    wtp=[0, 10000, 20000, 30000])
    csv = pd.read_csv(out / "gp_econ.csv")
    _same(csv, ce.inmb.merge(ce.ceac, on="wtp").merge(ce.evpi, on="wtp"))
    assert gp.draws().size == 199  # the bootstrap's own draws, not parametric ones
    # at WTP 0 the INMB is minus the mean incremental cost over the draws: about 0.4
    # fewer consultations at GBP 42 offset GBP 16.8 of the GBP 30 programme cost
    assert csv["estimate"].iloc[0] == pytest.approx(-30.0 - unit * gp.draws().mean(),
                                                    rel=1e-12)
    assert -20 < csv["estimate"].iloc[0] < -5
    # health effect: QALYs = 0.01 x the deprived subgroup's parametric draws (seeded)
    ce2 = sp.econ.cost_effectiveness(
        500.0, wb.draws(1, n_draws=500, random_state=11) * 0.01, wtp=[20000, 30000])
    _same(pd.read_csv(out / "wellbeing_econ.csv"),
          ce2.inmb.merge(ce2.ceac, on="wtp").merge(ce2.evpi, on="wtp"))
    html = (out / "report.html").read_text()
    assert "Value for money" in html and f"{ce.icer:,.6g}" in html
    record = json.loads((out / "run.json").read_text())
    assert "gp_econ.csv" in record["analyses"][0]["files"]


def test_run_equity_section_equals_subgroup_effects(econ_run):
    folder, _, wb = econ_run
    out = folder / "out"
    api = sp.equity.subgroup_effects({"deprived": wb}, contrasts={"deprived": (1, 0)})
    _same(pd.read_csv(out / "wellbeing_equity.csv"), api.table)
    _same(pd.read_csv(out / "wellbeing_equity_contrast.csv"), api.contrasts)
    # the simulated difference in effects, deprived minus not, is 1 point
    assert api.contrasts["ci_lower"].iloc[0] < 1 < api.contrasts["ci_upper"].iloc[0]
    html = (out / "report.html").read_text()
    assert "Equity: effects by deprived" in html and "Holm" in html


@pytest.mark.parametrize(("old", "new", "named", "before_fit"), [
    ('by = "deprived"\n', "", ["[analysis.equity]", "by ="], True),
    ('item = "gp_consultations"', 'item = "gp_visits"', ["gp_visits", "gp_consultations"],
     True),
    ("effect = 0.002\n", "", ["effect ="], True),
    ("programme_cost = 500.0\n", "", ["programme_cost"], True),
    ("n_draws = 500", "draws = 500", ["draws", "n_draws"], True),
    ("wtp = [20000, 30000]", 'wtp = ["twenty thousand"]', ["wtp", "twenty thousand"], True),
    ("contrast = [1, 0]", "contrast = 1", ["contrast", "[a, b]"], True),
    # these need the fitted result: its subgroups
    ("contrast = [1, 0]", "contrast = [1, 7]", ["7", "subgroup"], False),
    ("target = 1\n", "", ["overall", "subgroup"], False),
])
def test_run_econ_and_equity_spec_errors_name_the_fix(tmp_path, old, new, named, before_fit):
    _extract().to_csv(tmp_path / "extract.csv", index=False)
    assert ECON_SPEC.count(old) == 1
    (tmp_path / "spec.toml").write_text(ECON_SPEC.replace(old, new))
    res = CliRunner().invoke(main, ["run", str(tmp_path / "spec.toml")])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    for word in named:
        assert word in res.output, (word, res.output)
    assert ("fitting" not in res.output) is before_fit, res.output
