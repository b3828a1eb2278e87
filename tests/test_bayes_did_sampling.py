"""The Bayesian multilevel DiD samples cleanly and recovers the simulated truth.

Sampling quality is judged by ArviZ's diagnostics against the usual thresholds
(Vehtari et al. 2021, Bayesian Analysis 16:667): rank-normalised R-hat at most
1.01, bulk effective sample size at least 400, no divergent transition. The
model's constraints (PCN deviations summing to zero within each cohort, cell
deviations summing to zero at each event time) are checked on every draw.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from spimpact.bayes import MultilevelDiD
from spimpact.bayes._did_centring import auto_centring, reliability
from spimpact.bayes._did_design import build_did_design
from spimpact.bayes.did import event_time_scale, level_cohorts, zero_sum_basis
from spimpact.simulate import CLASSIC_ROLLOUT, pcn_rollout

#: Convergence thresholds (Vehtari et al. 2021).
MAX_RHAT = 1.01
MIN_ESS = 400
#: Share of event times 0..10 whose 95% credible interval covers the truth (neighbouring
#: event times are correlated, so one panel can fall a little short of 95%).
MIN_COVERAGE = 0.8


def test_zero_sum_basis_centres_within_groups():
    groups = np.array([0, 1, 0, 2, 1, 0, -1])
    B, col_group = zero_sum_basis(groups)
    # only identified directions: one column fewer than members per group, none for a
    # lone member, one per free member
    assert B.shape == (7, 4) and sorted(col_group.tolist()) == [-1, 0, 0, 1]
    x = np.random.default_rng(0).normal(size=(4000, B.shape[1]))
    dev = x @ B.T
    for g in (0, 1):
        assert np.allclose(dev[:, groups == g].sum(axis=1), 0.0)
    assert np.allclose(dev[:, groups == 2], 0.0)  # a lone member: no deviation
    assert np.allclose(dev[:, -1], x[:, -1])  # outside every group: unchanged
    # the scale restores each deviation's unit variance
    assert np.allclose(dev[:, groups == 0].var(axis=0), 1.0, atol=0.1)
    # exchangeable within a group: correlation -1/(m-1), as centring m free effects gives
    assert np.allclose(np.corrcoef(dev[:, groups == 0].T)[np.triu_indices(3, 1)], -0.5, atol=0.05)
    assert event_time_scale(np.array([-3, 0, 8])).tolist() == [1.0, 1.0, 3.0]


def _design(**sim):
    panel = pcn_rollout(covid=False, **sim).panel("wellbeing", covariates=())
    return build_did_design(panel, "gaussian", leads=False, unit_levels=(), effect_level="pcn",
                            covariates=None)


def test_level_cohorts_and_auto_centring():
    d = _design(n_pcns=40, n_icbs=4, effect="dynamic", random_state=3, **{
        k: v for k, v in CLASSIC_ROLLOUT.items() if k != "effect_size"})
    coh = level_cohorts(d)
    _, unit_codes, _ = d.effect_level
    for lev in range(len(coh)):  # every PCN's practices share its cohort
        units = np.flatnonzero(unit_codes == lev)
        cohorts = set(d.unit_cohort_index[units])
        if coh[lev] >= 0:
            assert cohorts == {coh[lev]}
        else:
            assert cohorts == {int(d.unit_cohort_index.max())}  # never treated
    # no heterogeneity and independent errors: neither the cells nor the PCN
    # deviations are pinned down by the data, so both stay non-centred
    assert auto_centring(d, "gaussian") == (False, False)
    rng = np.random.default_rng(1)
    n = np.full(50, 100)
    assert reliability(rng.normal(0, 0.1, 50), n / n**2) < 0.5  # spread 0 vs se 0.1
    assert reliability(rng.normal(0, 1.0, 50), n / n**2) > 0.9  # spread 1 vs se 0.1


@pytest.mark.bayes
def test_did_samples_cleanly_and_recovers_the_truth():
    sim = pcn_rollout(n_pcns=60, n_icbs=6, covid=False, effect="heterogeneous_dynamic",
                      random_state=2019)
    panel = sim.panel("wellbeing", covariates=())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = MultilevelDiD(effect_level="pcn", draws=1000, tune=1000,
                            random_state=2019).fit(panel)
    diag = res.diagnostics
    assert diag["max_rhat"] <= MAX_RHAT, diag
    assert diag["min_ess_bulk"] >= MIN_ESS, diag
    assert diag["divergences"] == 0, diag
    # the constraints hold in every draw
    post = res.idata.posterior
    delta = np.asarray(post["delta_pcn"])
    d = _design(n_pcns=60, n_icbs=6, effect="heterogeneous_dynamic", random_state=2019)
    coh = level_cohorts(d)
    for g in np.unique(coh[coh >= 0]):
        assert np.allclose(delta[..., coh == g].sum(axis=-1), 0.0, atol=1e-8)
    tau, mu = np.asarray(post["tau_cell"]), np.asarray(post["effect_event"])
    dev = tau - mu[..., d.e_index]
    for e in range(len(d.e_values)):
        assert np.allclose(dev[..., d.e_index == e].sum(axis=-1), 0.0, atol=1e-8)
    # recovery of the simulated truth
    truth = sim.true_effect("wellbeing", "event").set_index("event_time")["value"]
    ev = res.aggregate("event", min_event=0, max_event=10).estimates.set_index("event_time")
    t = truth.reindex(ev.index)
    assert ((ev["ci_lower"] <= t) & (t <= ev["ci_upper"])).mean() >= MIN_COVERAGE
    overall = float(sim.true_effect("wellbeing", "overall")["value"].iloc[0])
    assert res.overall.ci_lower < overall < res.overall.ci_upper
