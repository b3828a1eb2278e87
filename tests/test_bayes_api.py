"""Bayesian family: formula parsing, design validation, priors, imports (no sampling)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import spimpact as sp
from spimpact.bayes import MultilevelDiD, MultilevelITS, MultilevelModel, Priors
from spimpact.bayes._design import build_design
from spimpact.bayes._did_design import build_did_design
from spimpact.bayes._terms import parse_formula
from spimpact.bayes.its import _its_data
from spimpact.bayes.priors import as_priors, resolve
from spimpact.errors import DependencyError, EstimationError, OptionError


@pytest.fixture
def small_panel() -> sp.Panel:
    rng = np.random.default_rng(0)
    n = 60
    df = pd.DataFrame({
        "y": rng.normal(size=n), "x": rng.normal(size=n), "k": rng.poisson(3.0, n),
        "b": rng.integers(0, 2, n), "county": np.repeat(list("abcdef"), 10),
        "pcn": np.repeat(list("pq"), 30), "other": rng.normal(size=n),
    })
    return sp.Panel(df, outcome="y", covariates=["x", "k", "b"], levels=["county", "pcn"])


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_import_spimpact_does_not_import_pymc() -> None:
    assert _run("import sys, spimpact; print('pymc' in sys.modules)") == "False"


def test_import_bayes_is_cheap() -> None:
    code = ("import sys, spimpact.bayes; "
            "print(any(m in sys.modules for m in ('pymc', 'pytensor', 'arviz', 'nutpie')))")
    assert _run(code) == "False"


@pytest.mark.parametrize("formula, fixed, groups", [
    ("y ~ x + (1 | county)", "x", [("1", "county", True)]),
    ("y ~ (1 | pcn/practice)", "1", [("1", "pcn", True), ("1", "pcn:practice", True)]),
    ("y ~ x + (1 + x | pcn)", "x", [("1 + x", "pcn", True)]),
    ("y ~ x + (x || g) - 1", "x - 1", [("x", "g", False)]),
    ("y ~ np.log(x) + (1 | a:b) + z", "np.log(x) + z", [("1", "a:b", True)]),
])
def test_parse_formula(formula: str, fixed: str, groups: list) -> None:
    p = parse_formula(formula)
    assert p.lhs == "y"
    assert p.fixed == fixed
    assert [(g.expr, g.name, g.correlated) for g in p.groups] == groups


@pytest.mark.parametrize("bad", ["y ~ x + (1 | county", "y ~ x + ( | g)", "y ~ (1 | )",
                                 "y ~ x ~ z", ""])
def test_parse_formula_errors(bad: str) -> None:
    with pytest.raises(OptionError):
        parse_formula(bad)


def test_design_arrays(small_panel: sp.Panel) -> None:
    d = build_design(small_panel, parse_formula("y ~ x + (1 + x | county)"), "gaussian")
    assert d.names == ("Intercept", "x")
    assert np.allclose(d.Xc.mean(axis=0), 0.0)
    g = d.groups[0]
    assert g.n_groups == 6 and g.Z.shape == (60, 2) and g.terms == ("Intercept", "x")
    assert g.index.dtype.kind == "i" and g.index.max() == 5  # integer codes, no dense design


def test_nested_groups_are_interactions(small_panel: sp.Panel) -> None:
    d = build_design(small_panel, parse_formula("y ~ 1 + (1 | pcn/county)"), "gaussian")
    assert [g.name for g in d.groups] == ["pcn", "pcn:county"]
    assert d.groups[1].labels[0] == "p:a"


def test_unknown_group_column(small_panel: sp.Panel) -> None:
    with pytest.raises(OptionError, match="'region'.*levels"):
        build_design(small_panel, parse_formula("y ~ x + (1 | region)"), "gaussian")


def test_formula_term_not_a_column(small_panel: sp.Panel) -> None:
    with pytest.raises(OptionError, match="'other'.*not a column.*covariates"):
        build_design(small_panel, parse_formula("y ~ x + other + (1 | county)"), "gaussian")
    with pytest.raises(OptionError, match="'zz'"):
        build_design(small_panel, parse_formula("y ~ x + (1 + zz | county)"), "gaussian")


def test_outcome_mismatch(small_panel: sp.Panel) -> None:
    with pytest.raises(OptionError, match="'k'.*panel's outcome 'y'"):
        build_design(small_panel, parse_formula("k ~ x + (1 | county)"), "gaussian")


def test_count_family_on_non_counts(small_panel: sp.Panel) -> None:
    with pytest.raises(EstimationError, match="poisson.*count.*non-integer or negative"):
        MultilevelModel("y ~ x + (1 | county)", family="poisson").fit(small_panel)
    with pytest.raises(EstimationError, match="bernoulli.*0/1"):
        MultilevelModel("y ~ x + (1 | county)", family="bernoulli").fit(small_panel)


def test_count_family_accepts_counts(small_panel: sp.Panel) -> None:
    p = small_panel.replace(outcome="k", covariates=["x", "b"])
    d = build_design(p, parse_formula("k ~ x + (1 | county)"), "poisson")
    assert d.offset is None and d.y.sum() == p.y.sum()


@pytest.mark.parametrize("kwargs, match", [
    ({"family": "gamma"}, "family"), ({"sampler": "stan"}, "sampler"),
    ({"chains": 0}, "chains"), ({"draws": 1.5}, "draws"), ({"centred": "county"}, "centred"),
    ({"centred": ["region"]}, "centred"), ({"target_accept": 1.2}, "target_accept"),
])
def test_bad_options(small_panel: sp.Panel, kwargs: dict, match: str) -> None:
    with pytest.raises(OptionError, match=match):
        MultilevelModel("y ~ x + (1 | county)", **kwargs).fit(small_panel)


def test_fit_needs_a_panel() -> None:
    with pytest.raises(OptionError, match="Panel"):
        MultilevelModel("y ~ x").fit(pd.DataFrame({"y": [1.0]}))


def test_missing_pymc_is_a_dependency_error(small_panel: sp.Panel, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pymc", None)  # makes `import pymc` fail
    with pytest.raises(DependencyError, match=r"pip install 'spimpact\[bayes\]'"):
        MultilevelModel("y ~ x + (1 | county)").fit(small_panel)
    assert issubclass(DependencyError, ImportError)


def test_priors_validation() -> None:
    assert as_priors({"group_sd": 0.5}).group_sd == 0.5
    with pytest.raises(OptionError, match="unknown prior"):
        as_priors({"slope": 1.0})
    with pytest.raises(OptionError, match="positive"):
        Priors(sigma=-1.0)
    with pytest.raises(OptionError, match=r"\(mean, sd\)"):
        Priors(intercept=1.0)  # type: ignore[arg-type]


def test_default_priors_scale_with_the_data() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(5.0, 2.0, 500)
    X = rng.normal(0.0, 10.0, (500, 1))
    r = resolve(Priors(), y, "gaussian", X=X, names=("x",))
    assert r.intercept[0] == pytest.approx(y.mean())
    assert r.intercept[1] == pytest.approx(2.5 * y.std())
    assert r.coef_sd[0] == pytest.approx(2.5 * y.std() / X.std())
    assert r.group_sd == pytest.approx(y.std())
    counts = rng.poisson(20.0, 500).astype(float)
    rc = resolve(Priors(), counts, "poisson", exposure=np.full(500, 1000.0))
    assert rc.intercept[0] == pytest.approx(np.log(counts.sum() / 500_000.0))
    assert rc.scale == 1.0
    with pytest.raises(OptionError, match="coef_sd names"):
        resolve(Priors(coef_sd={"z": 1.0}), y, "gaussian", X=X, names=("x",))


def test_its_design_is_the_frequentist_one() -> None:
    """MultilevelITS's Fourier columns and trend are MultiSiteITS's: the same
    fourier_terms of the same calendar time index (gaps count), trend measured
    from the first period, time since interruption in the same unit."""
    from spimpact.its import Fourier, fourier_terms, time_index

    times = np.array([1, 2, 3, 5, 6, 7, 8, 10])  # numeric time with gaps
    data = pd.DataFrame({"site": np.repeat(["a", "b"], 8), "t": np.tile(times, 2),
                         "y": np.arange(16.0), "start": np.repeat([5.0, np.nan], 8)})
    panel = sp.Panel(data, outcome="y", unit="site", time="t", cohort="start")
    d = _its_data(panel, "gaussian", Fourier(4, 1))
    t = np.tile(times, 2).astype(float)
    assert d.s_names == ("sin1", "cos1")
    np.testing.assert_allclose(d.S + d.s_mean, fourier_terms(t, Fourier(4, 1)), atol=1e-12)
    np.testing.assert_allclose(d.tc * d.t_sd + d.t_mean, t - time_index(panel.periods)[0])
    assert d.since[:8].tolist() == [0, 0, 0, 0, 1, 2, 3, 5]  # calendar units from 5
    assert _its_data(panel, "gaussian", None).S.shape == (16, 0)


def _did_panel(**kw) -> sp.Panel:
    from spimpact.simulate import pcn_rollout

    sim = pcn_rollout(n_pcns=20, n_icbs=2, covid=False, random_state=5, **kw)
    return sim.panel("wellbeing", covariates=())


def test_did_design_cells_and_rows() -> None:
    panel = _did_panel()
    d = build_did_design(panel, "gaussian", leads=True, unit_levels=(), effect_level="pcn",
                         covariates=None)
    cells = d.cells
    # one reference cell (t = g - 1) per cohort, every other cell of the cohort estimated
    ref = cells[cells["reference"]]
    assert (ref["t"] == ref["g"] - 1).all() and ref["g"].is_unique
    # a row's cell is its own cohort and period
    est = cells.iloc[d.est_cells].reset_index(drop=True)
    on = d.row_cell < len(d.est_cells)
    cohort = np.asarray(panel.cohort_codes)[d.keep]
    assert (est["g"].to_numpy()[d.row_cell[on]] == cohort[on]).all()
    assert (est["t"].to_numpy()[d.row_cell[on]] == d.time[on]).all()
    # never-treated rows and reference-period rows carry no cell
    never = ~np.isfinite(cohort)
    assert (d.row_cell[never] == len(d.est_cells)).all()
    # cohort shares as the frequentist engine expects
    n_g = pd.Series(cohort[np.isfinite(cohort)]).groupby(d.unit[np.isfinite(cohort)]).first()
    share = n_g.value_counts() / d.n_units
    got = cells.drop_duplicates("g").set_index("g")["pg"]
    assert np.allclose(got.sort_index().to_numpy(), share.sort_index().to_numpy())


def test_did_and_its_input_errors() -> None:
    panel = _did_panel()
    with pytest.raises(OptionError, match="effect_level='region'"):
        build_did_design(panel, "gaussian", leads=False, unit_levels=(), effect_level="region",
                         covariates=None)
    with pytest.raises(EstimationError, match="count"):
        MultilevelDiD(family="poisson").fit(panel)
    with pytest.raises(OptionError, match="leads"):
        MultilevelDiD(leads="yes").fit(panel)  # type: ignore[arg-type]
    no_cohort = panel.replace(cohort=None)
    with pytest.raises(EstimationError, match="cohort"):
        MultilevelDiD().fit(no_cohort)
    with pytest.raises(EstimationError, match="interruption"):
        MultilevelITS().fit(no_cohort)
    with pytest.raises(OptionError, match="Fourier"):
        MultilevelITS(seasonality=1).fit(panel)
