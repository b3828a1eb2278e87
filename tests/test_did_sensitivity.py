"""Sensitivity analyses on fitted event studies: honest_bounds and
pretrend_power from each staggered estimator, Roth's pre-test power checked by
simulation, and the placebo tests."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import special

from spimpact.did import (
    ETWFE,
    CallawaySantAnna,
    HonestBounds,
    Imputation,
    SunAbraham,
    TwoStage,
    placebo_in_space,
    placebo_in_time,
    pretrend_power,
)
from spimpact.did.pretrends import pretest_rejection_probability
from spimpact.did.sensitivity import EventStudySensitivity, event_study_of
from spimpact.errors import EstimationError, OptionError
from spimpact.results import Result, estimate_table
from spimpact.simulate import CLASSIC_ROLLOUT, pcn_rollout

WINDOW = (-4, 2)


@pytest.fixture(scope="module")
def panel():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pcn_rollout(**{**CLASSIC_ROLLOUT, "n_pcns": 40, "n_icbs": 4}, random_state=1).panel("wellbeing")


@pytest.fixture(scope="module")
def fits(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "cs_universal": CallawaySantAnna(base_period="universal", method="reg").fit(panel),
            "cs_varying": CallawaySantAnna(method="reg").fit(panel),
            "sun_abraham": SunAbraham().fit(panel),
            "imputation": Imputation().fit(panel),
            "two_stage": TwoStage().fit(panel),
            "etwfe_never": ETWFE(control_group="never_treated").fit(panel),
            "etwfe_not_yet": ETWFE().fit(panel),
        }


@pytest.mark.parametrize("name", ["cs_universal", "sun_abraham", "etwfe_never"])
def test_honest_bounds_from_results(fits, name: str) -> None:
    res = fits[name]
    ev = res.aggregate("event").estimates.set_index("event_time")
    rm = res.honest_bounds("relative_magnitudes", grid=[0, 0.5, 1], window=WINDOW)
    assert isinstance(rm, HonestBounds)
    # the original interval is the event study's own row for event time 0: the
    # covariance from the influence functions gives the reported standard error
    assert rm.original.estimate == pytest.approx(ev.loc[0, "estimate"], rel=1e-12)
    assert rm.original.std_error == pytest.approx(ev.loc[0, "std_error"], rel=1e-10)
    tab = rm.estimates
    assert (np.diff(tab.ci_lower) <= 1e-12).all() and (np.diff(tab.ci_upper) >= -1e-12).all()
    sd = res.honest_bounds("smoothness", grid=[0, 0.05, 0.1], window=WINDOW, l_vec="average")
    assert sd.original.estimate == pytest.approx(ev.loc[[0, 1, 2], "estimate"].mean())
    assert (np.diff(sd.estimates.ci_upper - sd.estimates.ci_lower) > 0).all()


def test_event_study_extraction(fits) -> None:
    es = event_study_of(fits["cs_universal"], WINDOW)
    assert es.reference == -1
    assert es.event_time.tolist() == [-4, -3, -2, 0, 1, 2]
    assert (es.num_pre, es.num_post) == (3, 3)
    np.testing.assert_allclose(es.vcov, es.vcov.T)
    assert np.linalg.eigvalsh(es.vcov).min() > 0


def test_base_period_errors(fits) -> None:
    with pytest.raises(EstimationError, match="base_period='universal'"):
        fits["cs_varying"].honest_bounds(grid=[1.0], window=WINDOW)
    for name in ("imputation", "two_stage", "etwfe_not_yet"):
        with pytest.raises(EstimationError, match="no pre-period coefficients"):
            fits[name].honest_bounds(grid=[1.0])


class _EventStudyResult(EventStudySensitivity, Result):
    """Any estimator's event study with estimates and a covariance (e.g. an
    extended TWFE) gets the analyses by carrying ``vcov``."""

    def __init__(self, table: pd.DataFrame, vcov: np.ndarray, **kw):
        self._vcov = vcov
        super().__init__(table, **kw)

    @property
    def vcov(self) -> np.ndarray:
        return self._vcov


def test_hook_for_any_event_study() -> None:
    e = np.array([-3, -2, 0, 1])
    b = np.array([0.01, -0.02, 0.3, 0.35])
    V = np.diag([0.01, 0.01, 0.012, 0.015]) ** 2 * 100
    res = _EventStudyResult(estimate_table(b, np.sqrt(np.diag(V)), index={"event_time": e}), V,
                            method="event study")
    direct_args = dict(num_pre=2, num_post=2, method="smoothness", grid=[0, 0.1])
    from spimpact.did import honest_bounds

    direct = honest_bounds(b, V, **direct_args)
    via = res.honest_bounds("smoothness", grid=[0, 0.1])
    pd.testing.assert_frame_equal(direct.estimates, via.estimates)
    pp = res.pretrend_power(0.5)
    np.testing.assert_allclose(pp.pre["event_time"], [-2, -1])
    np.testing.assert_allclose(pp.bias["bias"], pp.slope * np.array([1, 2]))


def test_pretrend_power_one_period_closed_form() -> None:
    se = 0.2
    pp = pretrend_power([[se**2]], power=0.8)
    # P(|N(-slope/se, 1)| > z) = 0.8, solved independently
    from scipy.optimize import brentq

    z = special.ndtri(0.975)
    mu = brentq(lambda m: special.ndtr(-z - m) + special.ndtr(-z + m) - 0.8, 0, 10)
    assert pp.slope == pytest.approx(mu * se, rel=1e-6)


@pytest.mark.parametrize("power", [0.5, 0.8])
def test_pretrend_power_by_simulation(power: float) -> None:
    """The pre-test (any pre-period coefficient significant at 5%) rejects a
    trend of the reported slope with the stated power: 40,000 draws, 4 Monte
    Carlo standard errors."""
    K = 4
    sd = np.array([0.03, 0.025, 0.02, 0.015])
    corr = 0.4 + 0.6 * np.eye(K)
    S = corr * np.outer(sd, sd)
    pp = pretrend_power(S, power=power)
    rng = np.random.default_rng(2024)
    t = np.arange(-K, 0)
    draws = pp.slope * t + rng.standard_normal((40_000, K)) @ np.linalg.cholesky(S).T
    rate = (np.abs(draws / sd) > special.ndtri(0.975)).any(axis=1).mean()
    mc_se = np.sqrt(power * (1 - power) / 40_000)
    assert abs(rate - power) < 4 * mc_se
    assert pretest_rejection_probability(pp.slope, S, t) == pytest.approx(power, abs=1e-4)


def test_pretrend_power_on_result(fits) -> None:
    res = fits["sun_abraham"]
    pp = res.pretrend_power(0.8, window=WINDOW)
    assert pp.slope > 0
    np.testing.assert_allclose(pp.bias["event_time"], [1, 2, 3])
    np.testing.assert_allclose(pp.bias["bias"], pp.slope * np.array([1, 2, 3]))
    assert np.isfinite(pp.bias["bias_given_pass"]).all()
    with pytest.raises(OptionError, match="power"):
        pretrend_power(np.eye(2), power=1.5)


def test_placebo_in_time(panel) -> None:
    """The simulated panel has no anticipation: the placebo effects (cohorts
    two periods early) are zero up to noise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pt = placebo_in_time(CallawaySantAnna(method="reg"), panel, shift=2)
    e = pt.estimate
    assert np.isfinite(e.estimate) and e.std_error > 0
    assert abs(e.estimate) < 4 * e.std_error
    assert pt.result.estimates["event_time"].tolist() == [0, 1]
    with pytest.raises(OptionError, match="shift"):
        placebo_in_time(CallawaySantAnna(), panel, shift=0)


def test_placebo_in_time_detects_anticipation() -> None:
    """With units responding two periods before adoption, the placebo effect is
    clearly positive (the simulated effect is a rise in wellbeing)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = pcn_rollout(**{**CLASSIC_ROLLOUT, "n_pcns": 40, "n_icbs": 4}, anticipation=2, random_state=3).panel("wellbeing")
        pt = placebo_in_time(CallawaySantAnna(method="reg"), p, shift=2)
    assert pt.estimate.ci_lower > 0


def test_placebo_in_space(panel) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = CallawaySantAnna(method="reg")
        a = placebo_in_space(est, panel, n_permutations=4, random_state=7)
        b = placebo_in_space(est, panel, n_permutations=4, random_state=7)
    np.testing.assert_array_equal(a.distribution, b.distribution)
    assert a.distribution.shape == (4,)
    # the simulated effect is far outside the permutation distribution
    assert (np.abs(a.distribution) < abs(a.estimate.estimate)).all()
    assert a.p_value == pytest.approx(1 / 5)


def test_demo_sensitivity_section(panel) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from spimpact.did.demo import _sensitivity
    from spimpact.report import Section

    sec = Section("DiD")
    _sensitivity(sec, panel, 1)
    kinds = [k for k, _ in sec.blocks]
    assert kinds.count("table") == 1 and kinds.count("figure") == 1
    text = " ".join(str(o) for k, o in sec.blocks if k == "text")
    assert "Mbar" in text and "pre-test" in text
    table = next(o for k, o in sec.blocks if k == "table")
    assert table["method"].iloc[0] == "original" and len(table) == 6


@pytest.mark.parametrize("method", ["relative_magnitudes", "smoothness"])
def test_posterior_identified_sets_match_linear_programs(method: str) -> None:
    """The closed-form identified sets applied to posterior draws equal the
    linear programs of Rambachan and Roth on the same beta (Mbar or M = 0.7)."""
    from spimpact.did.honest import identified_set, identified_set_draws

    rng = np.random.default_rng(5)
    K, P, M = 3, 3, 0.7
    l_vec = np.array([0.2, 0.5, 0.3])
    betas = rng.normal(0, 0.3, size=(6, K + P))
    if method == "smoothness":  # pre-periods inside Delta^SD(M), so the set is not empty
        betas[:, :K] = np.array([-0.3, -0.2, -0.1]) + rng.uniform(-0.05, 0.05, size=(6, K))
    lo, hi = identified_set_draws(betas, K, l_vec, method, M)
    for i, b in enumerate(betas):
        if method == "smoothness":
            A, d = sd_constraints_for_test(K, P, M)
            ref = identified_set(A, d, b, K, l_vec)
        else:
            from spimpact.did.honest import rm_constraints

            ends = [identified_set(rm_constraints(K, P, M, s, pos),
                                   np.zeros(len(rm_constraints(K, P, M, s, pos))), b, K, l_vec)
                    for s in range(-(K - 1), 1) for pos in (True, False)]
            ends = np.array([e for e in ends if np.isfinite(e[0])])
            ref = (ends[:, 0].min(), ends[:, 1].max())
        assert lo[i] == pytest.approx(ref[0], abs=1e-9)
        assert hi[i] == pytest.approx(ref[1], abs=1e-9)


def sd_constraints_for_test(K: int, P: int, M: float):
    from spimpact.did.honest import sd_constraints

    return sd_constraints(K, P, M)


def test_posterior_bounds_through_results() -> None:
    """A Bayesian event study (posterior draws on the result) gets credible
    intervals from the draws: with a tight posterior they approach the
    identified set around the posterior mean."""
    from spimpact.did.honest import identified_set_draws

    class _Posterior(_EventStudyResult):
        def __init__(self, table, draws):
            self._d = draws
            super().__init__(table, None, method="posterior event study")

        @property
        def vcov(self):
            return None

        @property
        def posterior_draws(self):
            return self._d.copy()

    rng = np.random.default_rng(11)
    e = np.array([-3, -2, 0, 1])
    mean = np.array([0.02, -0.03, 0.3, 0.35])
    draws = mean + 0.001 * rng.standard_normal((2, 2000, 4))
    tab = estimate_table(mean, np.full(4, 0.001), index={"event_time": e})
    res = _Posterior(tab, draws)
    pb = res.honest_bounds("relative_magnitudes", grid=[0, 1, 2])
    lo, hi = identified_set_draws(mean[None, :], 2, np.array([1.0, 0.0]),
                                  "relative_magnitudes", 2.0)
    row = pb.estimates.iloc[-1]
    # posterior SD of each end: about sqrt(1 + 2**2 * 2) * 0.001 = 0.003, so
    # the 2.5% / 97.5% quantiles sit about 0.006 outside the set at the mean
    assert lo[0] - 0.01 < row.ci_lower < lo[0]
    assert hi[0] < row.ci_upper < hi[0] + 0.01
    assert (np.diff(pb.estimates.ci_lower) < 0).all()
    assert pb.original.estimate == pytest.approx(0.3, abs=1e-3)
    with pytest.raises(OptionError, match="posterior"):
        res.honest_bounds("relative_magnitudes", grid=[1], inference="C-LF")  # test inversion


RUN_SPEC = """\
seed = 1

[data]
path = "sim.csv"
unit = "practice"
time = "quarter"
cohort = "cohort"

[[analysis]]
name = "cs"
estimator = "did.CallawaySantAnna"
outcome = "wellbeing"
base_period = "universal"
method = "reg"

[analysis.sensitivity]
method = "relative_magnitudes"
grid = [0, 1]
window = [-4, 2]

[report]
out = "out"
"""


def test_spimpact_run_sensitivity_table(tmp_path) -> None:
    """`[analysis.sensitivity]` in a run spec adds the robust intervals to the
    report and writes them, equal to the Python API's."""
    from click.testing import CliRunner

    from spimpact import Panel
    from spimpact.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim = pcn_rollout(**{**CLASSIC_ROLLOUT, "n_pcns": 40, "n_icbs": 4}, random_state=1)
    sim.data.to_csv(tmp_path / "sim.csv", index=False)
    (tmp_path / "spec.toml").write_text(RUN_SPEC)
    res = CliRunner().invoke(main, ["run", str(tmp_path / "spec.toml")])
    assert res.exit_code == 0, res.output
    csv = pd.read_csv(tmp_path / "out" / "cs_sensitivity.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = Panel(pd.read_csv(tmp_path / "sim.csv"), outcome="wellbeing", unit="practice",
                      time="quarter", cohort="cohort")
        api = CallawaySantAnna(base_period="universal", method="reg").fit(panel).honest_bounds(
            "relative_magnitudes", [0, 1], window=(-4, 2))
    np.testing.assert_allclose(csv["ci_lower"], api.to_frame()["ci_lower"], atol=1e-10)
    assert "breakdown value" in (tmp_path / "out" / "report.html").read_text()
    bad = RUN_SPEC.replace("window = [-4, 2]", "window = 3")
    (tmp_path / "spec.toml").write_text(bad)
    res = CliRunner().invoke(main, ["run", str(tmp_path / "spec.toml")])
    assert res.exit_code != 0 and "window" in res.output
