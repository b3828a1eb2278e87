"""Every exported estimator follows the same protocol.

The cases come from the registry (:func:`spimpact._estimator.all_estimators`:
every :class:`~spimpact._estimator.Estimator` exported by ``spimpact.did``,
``.matching``, ``.its`` and ``.bayes``), so a new estimator is checked the
day it is exported; :data:`FIXTURES` says which data (and which settings)
each one is fitted with, and a test fails when an exported estimator has no
entry there.

Checked: settings-only estimators with scikit-learn's ``get_params`` /
``set_params`` (an unknown name raises ``OptionError``; ``sklearn.base.clone``
works), a repr of every non-default setting, one validation hook
(``_validate``) that rejects a bad ``confidence``; ``fit(panel)`` returns an
immutable :class:`spimpact.Result` with the tidy estimate columns, a headline
:class:`spimpact.Estimate`, a summary, an HTML repr and a plot, and leaves
the estimator and the panel's data unchanged. The Bayesian estimators are
fitted with tiny draws (one chain, 30 draws): the protocol, not the
posterior, is under test here (their sampling tests live in
``test_bayes_*``).
"""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.base import clone  # noqa: E402

import spimpact as sp  # noqa: E402
from spimpact._estimator import Estimator, all_estimators  # noqa: E402
from spimpact.bayes._sampling import DIAGNOSTIC_COLUMNS  # noqa: E402
from spimpact.results import ESTIMATE_COLUMNS  # noqa: E402

DATA = Path(__file__).parent / "data"


# ---------------------------------------------------------------- data makers
@functools.cache
def _rollout() -> sp.Panel:
    from spimpact.simulate import pcn_rollout

    return pcn_rollout(n_pcns=60, n_icbs=4, effect="constant", covid=False,
                       random_state=11).panel("wellbeing", covariates=())


@functools.cache
def _cohort() -> sp.Panel:
    from spimpact.simulate import patient_cohort

    return patient_cohort(n_patients=1500, n_practices=10, random_state=12).cross_section_panel()


@functools.cache
def _series() -> sp.Panel:
    from spimpact.its import example_panel

    return example_panel(random_state=13)


@functools.cache
def _comparison_series() -> sp.Panel:
    from spimpact.simulate import interrupted_series

    sim = interrupted_series(n_control=2, random_state=15)
    return sp.Panel(sim.data, outcome="count", unit="series", time="month",
                    exposure="population")


@functools.cache
def _sites() -> sp.Panel:
    from spimpact.its import example_sites

    return example_sites(8, random_state=14)


@functools.cache
def _dose() -> sp.Panel:
    df = pd.read_csv(DATA / "did" / "cont_did_sim.csv")
    return sp.Panel(df, outcome="Y", unit="id", time="time_period", cohort="G",
                    never_treated=0, dose="D")


@functools.cache
def _general() -> sp.Panel:
    df = pd.read_csv(DATA / "did" / "dcdh_sim.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing outcomes are set aside with a note
        return sp.Panel(df, outcome="y", unit="g", time="year", treatment="d",
                        treatment_kind="general", cluster="cl")


@functools.cache
def _radon() -> sp.Panel:
    return sp.Panel(pd.read_csv(DATA / "radon_mn.csv"), outcome="y", covariates=["x"],
                    levels=["county"])


#: Posterior sampling as small as it gets: the protocol is under test, not the posterior.
TINY_DRAWS = {"chains": 1, "draws": 30, "tune": 30, "random_state": 1}


@dataclass(frozen=True)
class Fixture:
    """What an estimator is fitted on in these tests."""

    data: Callable[[], sp.Panel]
    settings: dict[str, Any] = field(default_factory=dict)
    bayes: bool = False
    #: the result has no single headline quantity (``overall`` is None), and why
    no_overall: str = ""


#: One entry per exported estimator (a new estimator adds one line here).
FIXTURES: dict[str, Fixture] = {
    "CallawaySantAnna": Fixture(_rollout),
    "SunAbraham": Fixture(_rollout),
    "Imputation": Fixture(_rollout),
    "TwoStage": Fixture(_rollout),
    "TWFE": Fixture(_rollout),
    "ETWFE": Fixture(_rollout),
    "ContinuousDiD": Fixture(_dose),
    "ChaisemartinDHaultfoeuille": Fixture(_general, {"effects": 3, "placebo": 2}),
    "PropensityScoreMatching": Fixture(_cohort, {"random_state": 1}),
    "InverseProbabilityWeighting": Fixture(_cohort),
    "AugmentedIPW": Fixture(_cohort),
    "EntropyBalancing": Fixture(_cohort),
    "SegmentedRegression": Fixture(_series, {"interruption": "2019-07"}),
    "ControlledITS": Fixture(_comparison_series,
                             {"interruption": "2019-07", "treated": "treated1"}),
    "MultiSiteITS": Fixture(_sites),
    "MultilevelModel": Fixture(_radon, {"formula": "y ~ x + (1 | county)", **TINY_DRAWS},
                               bayes=True,
                               no_overall="a regression model: every term is a row, none is "
                                          "the headline"),
    "MultilevelDiD": Fixture(_rollout, TINY_DRAWS, bayes=True),
    "MultilevelITS": Fixture(_sites, {"family": "poisson", **TINY_DRAWS}, bayes=True,
                             no_overall="MultilevelITSResult sets no headline yet (the level "
                                        "change is its first row)"),
}

#: Further settings an estimator is also fitted with: case id -> (estimator, fixture).
VARIANTS: dict[str, tuple[str, Fixture]] = {
    "PropensityScoreMatching-full": ("PropensityScoreMatching",
                                     Fixture(_cohort, {"method": "full",
                                                       "bias_correction": True})),
}

REGISTRY = dict(all_estimators())


def _params() -> list[Any]:
    out = []
    for name, cls in REGISTRY.items():
        fx = FIXTURES.get(name)
        marks = [pytest.mark.bayes] if fx is not None and fx.bayes else []
        out.append(pytest.param(name, cls, name, id=name, marks=marks))
    for case, (name, fx) in VARIANTS.items():
        marks = [pytest.mark.bayes] if fx.bayes else []
        out.append(pytest.param(name, REGISTRY[name], case, id=case, marks=marks))
    return out


CASES = _params()


def _fixture(name: str, case: str | None = None) -> Fixture:
    if case in VARIANTS:
        return VARIANTS[case][1]
    if name not in FIXTURES:
        pytest.fail(f"{name} is exported but has no entry in FIXTURES of {__file__}; add the "
                    f"data (and settings) it is fitted with.")
    return FIXTURES[name]


def test_registry_lists_every_family() -> None:
    families = {cls.__module__.split(".")[1] for cls in REGISTRY.values()}
    assert families == {"did", "matching", "its", "bayes"}
    # every exported class with a fit method is an Estimator, so the registry finds it
    for family in families:
        module = importlib.import_module(f"spimpact.{family}")
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type) and callable(getattr(obj, "fit", None)):
                assert issubclass(obj, Estimator), f"{family}.{name} does not subclass Estimator"
                assert name in REGISTRY


def test_every_exported_estimator_has_a_fixture() -> None:
    missing = sorted(set(REGISTRY) - set(FIXTURES))
    assert not missing, f"exported estimators without a fixture in FIXTURES: {missing}"
    stale = sorted(set(FIXTURES) - set(REGISTRY))
    assert not stale, f"FIXTURES names estimators that are not exported: {stale}"


# ------------------------------------------------------------- settings only
@pytest.mark.parametrize("name,cls", list(REGISTRY.items()), ids=list(REGISTRY))
def test_settings_protocol(name: str, cls: type[Estimator]) -> None:
    fx = _fixture(name)
    est = cls(**fx.settings)
    names = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    # settings are the __init__ parameters, stored unchanged
    params = est.get_params(deep=False)
    assert list(params) == names
    for key, value in fx.settings.items():
        assert params[key] is value
    # scikit-learn's clone rebuilds it from get_params
    twin = clone(est)
    assert type(twin) is cls and twin is not est
    assert repr(twin.get_params(deep=False)) == repr(params)
    # the repr shows exactly the settings that differ from their defaults
    shown = [f"{k}={fx.settings[k]!r}" for k in names if k in fx.settings]
    assert repr(est) == f"{name}({', '.join(shown)})"
    assert repr(est) == repr(twin)
    # set_params changes a setting in place, returns the estimator, rejects unknown names
    assert est.set_params(confidence=0.9) is est and est.confidence == 0.9
    assert "confidence=0.9" in repr(est)
    with pytest.raises(sp.OptionError, match="not_an_option"):
        est.set_params(not_an_option=1)
    # unknown keyword arguments are rejected, not swallowed
    with pytest.raises(TypeError):
        cls(**fx.settings, not_an_option=1)
    # one validation hook, overridden by the estimator, checking the common settings
    assert cls._validate is not Estimator._validate
    est.set_params(confidence=0.95)._validate()
    with pytest.raises(sp.OptionError, match="confidence"):
        est.set_params(confidence=95)._validate()


# --------------------------------------------------------------------- fitting
@pytest.mark.parametrize("name,cls,case", CASES)
def test_result_protocol(name: str, cls: type[Estimator], case: str) -> None:
    fx = _fixture(name, case)
    panel = fx.data()
    before = panel.frame.copy()
    est = cls(**fx.settings)
    settings = copy.deepcopy(vars(est))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = est.fit(panel)
    # the estimator and the panel are unchanged by fitting
    assert vars(est).keys() == settings.keys()
    for key, value in settings.items():
        assert repr(vars(est)[key]) == repr(value), key
    pd.testing.assert_frame_equal(panel.frame, before)
    # the result protocol
    assert isinstance(res, sp.Result)
    tab = res.estimates
    columns = list(tab.columns)
    if fx.bayes:  # posterior summaries end with their per-row sampling diagnostics
        assert columns[-len(DIAGNOSTIC_COLUMNS):] == list(DIAGNOSTIC_COLUMNS)
        columns = columns[:-len(DIAGNOSTIC_COLUMNS)]
    assert columns[-len(ESTIMATE_COLUMNS):] == list(ESTIMATE_COLUMNS)
    assert len(tab) >= 1 and tab["estimate"].notna().all()
    if fx.no_overall:  # the exemption holds only while it is true
        assert res.overall is None, f"{name} now has a headline: drop its no_overall"
    else:
        assert isinstance(res.overall, sp.Estimate)
        assert res.overall.ci_lower <= res.overall.estimate <= res.overall.ci_upper
    assert 0 < res.confidence < 1
    assert isinstance(res.summary(), str) and res.method in res.summary()
    assert "<table" in res._repr_html_()
    assert isinstance(res.warnings, tuple)
    flat = res.to_frame()
    assert {"method", "confidence"} <= set(flat.columns)
    pd.testing.assert_frame_equal(flat[list(ESTIMATE_COLUMNS)], tab[list(ESTIMATE_COLUMNS)],
                                  check_dtype=False)
    ax = res.plot()
    assert ax is not None
    plt.close("all")
    # immutable: the estimates table handed out is a copy, attributes cannot be set
    tab.loc[:, "estimate"] = 0.0
    assert not (res.estimates["estimate"] == 0.0).all()
    with pytest.raises(AttributeError):
        res.overall = None
