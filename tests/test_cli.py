"""The command line: version, the demo report and `describe` on a file."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from click.testing import CliRunner

import spimpact
from spimpact.cli import main


def test_version():
    res = CliRunner().invoke(main, ["--version"])
    assert res.exit_code == 0
    assert spimpact.__version__ in res.output


def test_help_lists_every_command():
    res = CliRunner().invoke(main, ["--help"])
    assert res.exit_code == 0, res.output
    for cmd in ("demo", "bench", "describe", "run"):
        assert cmd in res.output


def test_demo_writes_a_self_contained_report(tmp_path):
    out = tmp_path / "demo"
    res = CliRunner().invoke(main, ["demo", "--quick", "--out", str(out),
                                    "--only", "panel", "--only", "did"])
    assert res.exit_code == 0, res.output
    page = (out / "report.html").read_text()
    assert "The simulated rollout as a Panel" in page
    assert "Staggered difference-in-differences" in page
    # figures are embedded, not linked
    assert len(re.findall(r'src="data:image/png;base64,', page)) >= 3
    assert "Callaway-Sant" in res.output  # the tables are printed too
    # contents with working anchors, provenance, numbers for people
    for sid in re.findall(r'<section id="([^"]+)"', page):
        assert f'href="#{sid}"' in page
    assert 'id="provenance"' in page and "<th>seed</th>" in page
    text = re.sub(r'src="data:[^"]+"', "", page)
    assert "NaN" not in text and "00:00:00" not in text and "e+0" not in text


def _extract(path):
    df = pd.DataFrame({
        "practice": ["A", "A", "B", "B", "C", "C"],
        "quarter": ["2019Q1", "2019Q2"] * 3,
        "start": [0, 0, 2, 2, 0, 0],
        "ae": [10.0, 12.0, 9.0, 9.5, 11.0, 10.5],
    })
    df.to_csv(path, index=False)
    return df


def test_describe_reads_a_file(tmp_path):
    path = tmp_path / "extract.csv"
    _extract(path)
    res = CliRunner().invoke(main, ["describe", str(path), "--outcome", "ae", "--unit",
                                    "practice", "--time", "quarter"])
    assert res.exit_code == 0, res.output
    assert "units" in res.output and "3" in res.output


def test_describe_reports_bad_input_as_a_package_error(tmp_path):
    path = tmp_path / "extract.csv"
    _extract(path)
    res = CliRunner().invoke(main, ["describe", str(path), "--outcome", "visits",
                                    "--unit", "practice", "--time", "quarter"])
    assert res.exit_code == 2
    assert "visits" in res.output  # names the missing column


@pytest.mark.parametrize("module", ["pymc", "dask", "distributed", "arviz"])
def test_import_spimpact_is_light(module):
    import subprocess
    import sys

    code = f"import spimpact, sys; sys.exit(1 if {module!r} in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
