"""numpy's huge-page advice is off while a Panel is built or an estimator
fits, restored afterwards, and left alone when the environment sets it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spimpact import Panel
from spimpact._estimator import Estimator
from spimpact._memory import _setter, without_hugepage_advice

setter = _setter()
pytestmark = pytest.mark.skipif(setter is None, reason="this numpy has no huge-page switch")


def advice() -> bool:
    """numpy's current setting (read by setting it and putting it back)."""
    assert setter is not None
    now = setter(True)
    setter(now)
    return now


@pytest.fixture(autouse=True)
def advice_on(monkeypatch):
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    assert setter is not None
    before = setter(True)
    yield
    setter(before)


def test_off_inside_restored_after_even_on_error():
    with without_hugepage_advice():
        assert advice() is False
    assert advice() is True
    with pytest.raises(RuntimeError, match="inside"), without_hugepage_advice():
        raise RuntimeError("inside")
    assert advice() is True


def test_an_explicit_environment_setting_is_left_alone(monkeypatch):
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")
    with without_hugepage_advice():
        assert advice() is True


def test_estimator_fits_and_panel_builds_run_without_the_advice(monkeypatch):
    seen = []

    class Probe(Estimator):
        def __init__(self, k: int = 1) -> None:
            self.k = k

        def fit(self, panel):
            seen.append(advice())
            return panel

    Probe().fit(None)
    assert seen == [False] and advice() is True
    import spimpact._validate as validate

    original = validate.numeric_column

    def probe(*args, **kwargs):
        seen.append(advice())
        return original(*args, **kwargs)

    monkeypatch.setattr("spimpact.panel.numeric_column", probe)
    df = pd.DataFrame({"id": np.repeat([1, 2], 2), "t": [1, 2, 1, 2], "y": [1.0, 2, 3, 4]})
    Panel(df, outcome="y", unit="id", time="t")
    assert seen[1:] and not any(seen[1:]) and advice() is True
