"""Bayesian DiD and multi-site ITS: recovery of simulated truth, and the DiD's
aggregations against the frequentist weights engine and the imputation estimator."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import spimpact as sp
from spimpact.bayes import MultilevelDiD, MultilevelITS
from spimpact.did import Imputation
from spimpact.its import Fourier
from spimpact.simulate import interrupted_series, pcn_rollout

pytestmark = pytest.mark.bayes

#: Share of event times whose 95% credible interval must cover the true effect
#: (nominal 95%; the intervals of neighbouring event times are correlated, so
#: a single simulated panel can fall short of 95% by chance).
MIN_COVERAGE = 0.8
#: Without leads the Bayesian DiD is the imputation estimator's model (unit and
#: period effects from the untreated rows, one effect per treated cell) with
#: the cells partially pooled across cohorts and weakly informative priors, so
#: it estimates the same quantities as Borusyak-Jaravel-Spiess imputation, a
#: little more efficiently: the two agree to within about one (frequentist)
#: standard error, not exactly.
AGREEMENT_IN_SE = 1.0


@pytest.fixture(scope="module")
def wellbeing():
    sim = pcn_rollout(n_pcns=40, n_icbs=3, covid=False, effect="dynamic", random_state=8)
    panel = sim.panel("wellbeing", covariates=())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = MultilevelDiD(effect_level="pcn", draws=500, tune=500, random_state=8).fit(panel)
    return sim, panel, res


def test_did_small_panel(wellbeing) -> None:
    """One small fit (compiled once per process), checked three ways."""
    _check_aggregation(wellbeing)
    _check_recovery(wellbeing)
    _check_result_shape(wellbeing)


def _check_aggregation(wellbeing) -> None:
    """Event-time summaries are cohort-size weighted means of ATT(g,t) draws,
    computed here independently with a group-by."""
    _, panel, res = wellbeing
    ev = res.aggregate("event")
    att = res.att_draws
    cells = res.estimates[["group", "time"]].copy()
    cells["e"] = [panel.periods.get_loc(t) - panel.periods.get_loc(g)
                  for g, t in zip(cells["group"], cells["time"], strict=True)]
    ucoh = pd.Series(panel.unit_cohort_codes).value_counts()
    n_g = np.array([ucoh[panel.periods.get_loc(g)] for g in cells["group"]], dtype=float)
    ref = cells["e"].to_numpy() == -1  # reference cells: never aggregated
    for e, draws in zip(ev.estimates["event_time"], np.moveaxis(ev.posterior_draws, -1, 0),
                        strict=True):
        m = (cells["e"].to_numpy() == e) & ~ref
        expect = (att[..., m] * n_g[m]).sum(axis=-1) / n_g[m].sum()
        assert np.allclose(draws, expect)
        assert np.allclose(ev.draws(int(e)), expect.reshape(-1))  # .draws(target): flattened
    simple = res.aggregate("simple").overall
    post = (cells["e"].to_numpy() >= 0)
    w = n_g[post] / n_g[post].sum()
    assert simple.estimate == pytest.approx(float((att[..., post] @ w).mean()))
    # .draws(): posterior draws whose mean and SD are the reported summary
    overall = res.draws()
    assert overall == pytest.approx((att[..., post] @ w).reshape(-1))
    assert overall.mean() == pytest.approx(res.overall.estimate, rel=1e-10)
    assert overall.std(ddof=1) == pytest.approx(res.overall.std_error, rel=1e-10)
    g, t = res.estimates[["group", "time"]].iloc[-1]
    assert res.draws((g, t)) == pytest.approx(att[..., -1].reshape(-1))


def _check_recovery(wellbeing) -> None:
    sim, panel, res = wellbeing
    truth = sim.true_effect("wellbeing", "event").set_index("event_time")["value"]
    ev = res.aggregate("event", max_event=10).estimates.set_index("event_time")
    cover = (ev["ci_lower"] <= truth.reindex(ev.index)) & (truth.reindex(ev.index)
                                                             <= ev["ci_upper"])
    assert cover.mean() >= MIN_COVERAGE
    overall = float(sim.true_effect("wellbeing", "overall")["value"].iloc[0])
    assert res.overall.ci_lower < overall < res.overall.ci_upper
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cs = Imputation().fit(panel).aggregate("event", min_event=0, max_event=10)
    both = ev.join(cs.estimates.set_index("event_time"), rsuffix="_cs", how="inner")
    assert len(both) == 11
    gap = (both["estimate"] - both["estimate_cs"]).abs() / both["std_error_cs"]
    assert gap.median() < AGREEMENT_IN_SE


def _check_result_shape(wellbeing) -> None:
    _, panel, res = wellbeing
    assert {"group", "time", "rhat", "ess_bulk"} <= set(res.estimates.columns)
    assert res.id_columns == ["group", "time"]
    assert set(res.diagnostics) >= {"max_rhat", "min_ess_bulk", "min_ess_tail", "divergences",
                                    "min_bfmi"}
    lev = res.level_effects()
    assert lev["pcn"].is_unique and len(lev) <= panel.frame["pcn"].nunique()
    for kind in ("group", "calendar"):
        assert len(res.aggregate(kind).estimates) > 0
    with pytest.raises(sp.OptionError, match="kind"):
        res.aggregate("weird")
    assert "sd(effect | cohort-period)" in set(res.parameters["term"])


@pytest.mark.slow
def test_poisson_did_recovers_log_rate_ratio() -> None:
    sim = pcn_rollout(n_pcns=150, n_icbs=6, covid=False, random_state=21)
    panel = sim.panel("ae_attendances", covariates=())
    res = MultilevelDiD(family="poisson", leads=False, unit_levels=("pcn",),
                        centred=("practice", "pcn"), random_state=21).fit(panel)
    truth = sim.params.effect_size["ae_attendances"]  # constant log rate ratio
    assert res.overall.ci_lower < truth < res.overall.ci_upper
    assert abs(res.overall.estimate - truth) < 0.01
    assert res.diagnostics["divergences"] == 0


@pytest.mark.slow
def test_its_recovers_site_level_and_slope_changes() -> None:
    lev = [-0.15, -0.05, -0.10, -0.20, -0.08, -0.12]
    slo = [0.002, -0.004, 0.0, -0.002, 0.001, -0.003]
    sim = interrupted_series(n_series=6, n_control=2, stagger=4, noise_sd=0.0,
                             level_change=lev, slope_change=slo, random_state=4)
    panel = sp.Panel(sim.data, outcome="count", unit="series", time="month",
                     cohort="interruption", exposure="population")
    # site slope changes differ and each long series pins its own down: centre both
    res = MultilevelITS(family="poisson", seasonality=Fourier(12, 1), centred=("level_change", "slope_change"),
                        random_state=4).fit(panel)
    est = res.estimates.set_index("term")
    for term, truth in (("level_change", np.mean(lev)), ("slope_change", np.mean(slo))):
        assert est.loc[term, "ci_lower"] < truth < est.loc[term, "ci_upper"], term
    sites = res.site_effects()
    t = sim.truth[sim.truth["series"] != "pooled"].set_index(["series", "term"])["value"]
    sites["truth"] = [t[(s, k)] for s, k in zip(sites["site"], sites["term"], strict=True)]
    inside = (sites["ci_lower"] < sites["truth"]) & (sites["truth"] < sites["ci_upper"])
    assert inside.mean() >= MIN_COVERAGE
    assert res.diagnostics["max_rhat"] < 1.01


@pytest.mark.slow
def test_did_with_leads_finds_no_pre_trends() -> None:
    """With leads, the pre-treatment event-time effects (true value 0 without
    anticipation) are covered, and the post-treatment ones recover the truth."""
    sim = pcn_rollout(n_pcns=40, n_icbs=3, covid=False, effect="dynamic", random_state=9)
    panel = sim.panel("wellbeing", covariates=())
    res = MultilevelDiD(leads=True, random_state=9).fit(panel)
    ev = res.aggregate("event", min_event=-6, max_event=8).estimates.set_index("event_time")
    truth = sim.true_effect("wellbeing", "event").set_index("event_time")["value"]
    assert (truth.reindex(ev.index).loc[:-2] == 0).all()
    cover = (ev["ci_lower"] <= truth.reindex(ev.index)) & (truth.reindex(ev.index)
                                                             <= ev["ci_upper"])
    assert cover.loc[:-2].mean() >= MIN_COVERAGE
    assert cover.loc[0:].mean() >= MIN_COVERAGE
