"""Every frequentist estimator family follows the same protocol.

Settings-only estimators that reject unknown options; ``fit(panel)`` returns
an immutable :class:`spimpact.Result` with the tidy estimate columns, a
headline :class:`spimpact.Estimate`, a summary, an HTML repr and a plot, and
leaves the estimator and the panel's data unchanged. (The Bayesian family
follows it too; its sampling tests live in ``test_bayes_*``.)
"""

from __future__ import annotations

import copy
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import spimpact as sp  # noqa: E402
from spimpact.results import ESTIMATE_COLUMNS  # noqa: E402


def _rollout():
    from spimpact.simulate import pcn_rollout

    return pcn_rollout(n_pcns=60, n_icbs=4, effect="constant", covid=False,
                       random_state=11).panel("wellbeing", covariates=())


def _cohort():
    from spimpact.simulate import patient_cohort

    return patient_cohort(n_patients=1500, n_practices=10, random_state=12).cross_section_panel()


def _series():
    from spimpact.its import example_panel

    return example_panel(random_state=13)


def _sites():
    from spimpact.its import example_sites

    return example_sites(8, random_state=14)


def _dose():
    from pathlib import Path

    df = pd.read_csv(Path(__file__).parent / "data" / "did" / "cont_did_sim.csv")
    return sp.Panel(df, outcome="Y", unit="id", time="time_period", cohort="G",
                    never_treated=0, dose="D")


def _cases():
    from spimpact import did, its, matching

    return [
        ("CallawaySantAnna", did.CallawaySantAnna, {}, _rollout),
        ("SunAbraham", did.SunAbraham, {}, _rollout),
        ("Imputation", did.Imputation, {}, _rollout),
        ("TwoStage", did.TwoStage, {}, _rollout),
        ("TWFE", did.TWFE, {}, _rollout),
        ("ContinuousDiD", did.ContinuousDiD, {}, _dose),
        ("PropensityScoreMatching", matching.PropensityScoreMatching, {"random_state": 1},
         _cohort),
        ("InverseProbabilityWeighting", matching.InverseProbabilityWeighting, {}, _cohort),
        ("AugmentedIPW", matching.AugmentedIPW, {}, _cohort),
        ("EntropyBalancing", matching.EntropyBalancing, {}, _cohort),
        ("PropensityScoreMatching-full", matching.PropensityScoreMatching,
         {"method": "full", "bias_correction": True}, _cohort),
        ("SegmentedRegression", its.SegmentedRegression, {"interruption": "2019-07"}, _series),
        ("MultiSiteITS", its.MultiSiteITS, {}, _sites),
    ]


CASES = _cases()


@pytest.mark.parametrize("name,cls,kwargs,make", CASES, ids=[c[0] for c in CASES])
def test_result_protocol(name, cls, kwargs, make):
    panel = make()
    before = panel.frame.copy()
    est = cls(**kwargs)
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
    assert list(tab.columns[-len(ESTIMATE_COLUMNS):]) == list(ESTIMATE_COLUMNS)
    assert len(tab) >= 1 and tab["estimate"].notna().all()
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


@pytest.mark.parametrize("name,cls,kwargs,make", CASES, ids=[c[0] for c in CASES])
def test_unknown_options_are_rejected(name, cls, kwargs, make):
    with pytest.raises(TypeError):
        cls(**kwargs, not_an_option=1)
