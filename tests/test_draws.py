"""``.draws(target)`` on every result family: their mean and spread agree with
the reported estimate and SE.

- Multiplier-bootstrap DiD (Callaway-Sant'Anna, Sun-Abraham, imputation,
  two-stage, ETWFE): the draws are ``estimate + (theta* - theta_hat)``; their
  interquartile range over 1.349 *is* the reported SE (1e-8 relative: the same
  draws), and their mean is the estimate within 4 Monte Carlo SEs.
- Results without stored draws (analytic DiD, matching/weighting, ITS): normal
  draws from the estimate and SE; mean and SD within 4 Monte Carlo SEs.
- Bayesian: the posterior draws, whose mean and SD are the reported posterior
  mean and SD exactly (1e-10) -- the multilevel DiD case is in
  tests/test_bayes_did_its.py; a small multilevel model is here.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from spimpact.errors import OptionError

IQR_NORMAL = 1.3489795003921634  # interquartile range of the standard normal


@pytest.fixture(scope="module")
def panel():
    from spimpact.simulate import pcn_rollout

    return pcn_rollout(n_pcns=80, random_state=1).panel("wellbeing", covariates=())


def _check_boot(draws: np.ndarray, estimate: float, se: float) -> None:
    q75, q25 = np.quantile(draws, [0.75, 0.25])
    assert (q75 - q25) / IQR_NORMAL == pytest.approx(se, rel=1e-8)
    assert abs(draws.mean() - estimate) < 4 * draws.std() / np.sqrt(len(draws))


@pytest.mark.parametrize("name", ["CallawaySantAnna", "SunAbraham", "Imputation", "TwoStage",
                                  "ETWFE"])
def test_bootstrap_did_draws(panel, name: str) -> None:
    import spimpact.did as did

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = getattr(did, name)(bootstrap=499, random_state=3).fit(panel)
    d = res.draws()
    assert d.shape == (499,)
    _check_boot(d, res.overall.estimate, res.overall.std_error)
    ev = res.aggregate("event")
    row = ev.estimates.iloc[-1]
    _check_boot(res.draws(int(row["event_time"])), row["estimate"], row["std_error"])
    assert np.array_equal(ev.draws(int(row["event_time"])), res.draws(int(row["event_time"])))
    cell = res.estimates.dropna().iloc[-1]
    _check_boot(res.draws((cell["group"], cell["time"])), cell["estimate"], cell["std_error"])
    # same multipliers: the overall draw is the simple aggregation of the cell draws
    assert np.array_equal(res.draws(), res.aggregate("simple").draws())


def _check_normal(draws: np.ndarray, estimate: float, se: float) -> None:
    n = len(draws)
    assert abs(draws.mean() - estimate) < 4 * se / np.sqrt(n)
    assert abs(draws.std(ddof=1) - se) < 4 * se / np.sqrt(2 * n)


def test_parametric_draws_without_bootstrap(panel) -> None:
    from spimpact.did import CallawaySantAnna

    res = CallawaySantAnna().fit(panel)
    d = res.draws(n_draws=20_000, random_state=5)
    _check_normal(d, res.overall.estimate, res.overall.std_error)
    assert np.array_equal(d, res.draws(n_draws=20_000, random_state=5))  # reproducible
    with pytest.raises(OptionError, match="names no row"):
        res.aggregate("event").draws(999)


def test_matching_and_its_draws() -> None:
    from spimpact import Panel
    from spimpact.its import SegmentedRegression, example_panel
    from spimpact.matching import InverseProbabilityWeighting

    rng = np.random.default_rng(3)
    x = rng.normal(size=2000)
    t = (rng.random(2000) < 1 / (1 + np.exp(-x))).astype(int)
    df = pd.DataFrame({"x": x, "d": t, "y": 1.5 * t + x + rng.normal(size=2000)})
    res = InverseProbabilityWeighting().fit(Panel(df, outcome="y", treatment="d",
                                                  covariates=["x"]))
    _check_normal(res.draws(n_draws=20_000, random_state=1), res.overall.estimate,
                  res.overall.std_error)
    its = SegmentedRegression("2019-07", family="quasipoisson").fit(example_panel())
    row = its.estimates.set_index("term").loc["level_change"]
    _check_normal(its.draws("level_change", n_draws=20_000, random_state=2), row["estimate"],
                  row["std_error"])


@pytest.mark.bayes
def test_bayes_posterior_draws() -> None:
    pytest.importorskip("pymc")
    import spimpact as sp
    from spimpact.bayes import MultilevelModel

    rng = np.random.default_rng(0)
    county = np.repeat(np.arange(8), 15)
    df = pd.DataFrame({"x": rng.normal(size=120), "county": county})
    df["y"] = 1 + 0.5 * df["x"] + rng.normal(0, 0.5, 8)[county] + rng.normal(size=120)
    panel = sp.Panel(df, outcome="y", covariates=["x"], levels=["county"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = MultilevelModel("y ~ x + (1 | county)", chains=2, draws=200, tune=200,
                              random_state=1).fit(panel)
    row = res.estimates.set_index("term").loc["x"]
    d = res.draws("x")
    assert d.shape == (400,)
    assert d.mean() == pytest.approx(row["estimate"], rel=1e-10)
    assert d.std(ddof=1) == pytest.approx(row["std_error"], rel=1e-10)
    with pytest.raises(OptionError, match="no overall"):
        res.draws()


def test_same_units_and_seed_share_the_bootstrap_multipliers() -> None:
    """Fits of two outcomes on the same units with the same seed give draws from
    one joint bootstrap: for an outcome 2 y + 1 the deviations are exactly twice
    those of y."""
    from spimpact.did import CallawaySantAnna
    from spimpact.simulate import pcn_rollout

    sim = pcn_rollout(n_pcns=60, random_state=2)
    data = sim.data.assign(y2=2 * sim.data["wellbeing"] + 1)
    import spimpact as sp

    def fit(outcome: str):
        panel = sp.Panel(data, outcome=outcome, unit="practice", time="quarter",
                         cohort="cohort", cluster="pcn")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return CallawaySantAnna(bootstrap=99, random_state=4).fit(panel)

    a, b = fit("wellbeing"), fit("y2")
    dev_a = a.draws() - a.overall.estimate
    dev_b = b.draws() - b.overall.estimate
    assert np.allclose(dev_b, 2 * dev_a, rtol=1e-6, atol=1e-9)


def test_subgroup_draws_are_each_subgroups_bootstrap() -> None:
    from spimpact.did import CallawaySantAnna
    from spimpact.simulate import pcn_rollout

    sim = pcn_rollout(n_pcns=120, random_state=1)
    panel = sim.panel("wellbeing", covariates=("deprivation_quintile",))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = CallawaySantAnna(covariates=(), control_group="not_yet_treated", bootstrap=99,
                               random_state=2).fit(panel, by="deprivation_quintile")
    assert np.array_equal(res.draws(5), res.results[5].draws())
    row = res.estimates.set_index("subgroup").loc[5]
    _check_boot(res.draws(5), row["estimate"], row["std_error"])
    with pytest.raises(OptionError, match="name a subgroup"):
        res.draws()
