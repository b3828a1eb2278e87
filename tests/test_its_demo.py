"""The ITS demo section and vignette 03 run, and their estimates meet the truth."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

VIGNETTE = Path(__file__).parents[1] / "vignettes" / "03_interrupted_time_series.py"
#: The vignette must finish well inside the ~60 s budget of the test suite.
VIGNETTE_TIMEOUT = 120


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small dense problems: one BLAS thread is many times faster on a shared machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def test_demo_quick_section():
    import matplotlib

    matplotlib.use("Agg")
    from spimpact.its.demo import demo
    from spimpact.report import Section, render_html

    sec = demo(random_state=2019, quick=True)
    assert isinstance(sec, Section) and sec.title == "Interrupted time series"
    kinds = [k for k, _ in sec.blocks]
    assert kinds.count("figure") >= 2 and "result" in kinds
    table = next(o for k, o in sec.blocks if k == "table").set_index("model")
    # the designs that model the deprivation-dependent COVID-19 shift cover the truth
    for model in ("controlled: COVID-19 shift by deprivation",
                  "multi-site: COVID-19 shift by deprivation"):
        row = table.loc[model]
        assert row["ci_lower"] <= row["true rate ratio"] <= row["ci_upper"], model
    assert "<h2>Interrupted time series</h2>" in render_html("demo", [sec])


def test_vignette_runs(tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, str(VIGNETTE)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=VIGNETTE_TIMEOUT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "quasi-Poisson dispersion 3.559" in out.stdout
