"""spimpact.econ against closed forms, slow Monte Carlo loops and published figures.

References
----------
- SPRING_NE (Moffatt et al. 2023, Public Health Research 11(2)): ICER GBP
  327,250 per QALY with incremental QALY 0.004 (95% CI -0.022 to 0.029); the
  incremental cost that gives this ICER is 327,250 * 0.004 = GBP 1,309.
- Draws-based quantities against per-draw Python loops (independent slow
  computations), exact to floating-point rounding (1e-12 relative).
- Closed forms (normal inputs) against scipy.stats integration and a large
  Monte Carlo sample (10^6 draws: tolerance 5 Monte Carlo SEs).
- BCEA's Vaccine example (summary(he) at k = 25,000: EIB 1.2284, CEAC 0.529,
  ICER 20098, EVPI 2.4145) was checked once against these same functions;
  the data are not redistributed here, so the per-draw formulas, which are
  BCEA's, are tested instead.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from spimpact.econ import (
    budget_impact,
    compare_strategies,
    cost_effectiveness,
    discount_factors,
    efficiency_frontier,
    link_worker_cost,
    normal_loss,
    service_cost_change,
)
from spimpact.errors import OptionError

EXACT = 1e-12  # floating-point rounding only


def test_spring_ne_icer_and_closed_forms() -> None:
    ce = cost_effectiveness(1309.0, 0.004, effect_ci=(-0.022, 0.029), wtp=[20_000, 30_000],
                            population=1000)
    assert ce.icer == pytest.approx(327_250, rel=EXACT)
    se = 0.051 / (2 * stats.norm.ppf(0.975))
    for k, row in zip([20_000, 30_000], ce.ceac.itertuples(), strict=True):
        mean = k * 0.004 - 1309
        assert row.probability == pytest.approx(stats.norm.cdf(mean / (k * se)), rel=1e-10)
    # EVPI: E[max(X,0)] - max(E X, 0) by numerical integration
    for k, row in zip([20_000, 30_000], ce.evpi.itertuples(), strict=True):
        m, s = k * 0.004 - 1309, k * se
        e_pos, _ = integrate.quad(lambda x, m=m, s=s: x * stats.norm.pdf(x, m, s), 0, m + 40 * s)
        assert row.evpi == pytest.approx(e_pos - max(m, 0), rel=1e-7, abs=1e-9)
        assert row.evpi_population == pytest.approx(1000 * row.evpi, rel=EXACT)


def test_normal_inputs_match_monte_carlo() -> None:
    rng = np.random.default_rng(1)
    n = 1_000_000
    mc, sc, me, se, rho = 300.0, 80.0, 0.02, 0.012, 0.4
    z = stats.norm.ppf(0.975)
    ce = cost_effectiveness(mc, me, cost_ci=(mc - z * sc, mc + z * sc),
                            effect_ci=(me - z * se, me + z * se), correlation=rho,
                            wtp=[0, 10_000, 20_000, 50_000])
    cov = [[sc**2, rho * sc * se], [rho * sc * se, se**2]]
    c, e = rng.multivariate_normal([mc, me], cov, size=n).T
    mc_ce = cost_effectiveness(c, e, wtp=[0, 10_000, 20_000, 50_000])
    inb = mc_ce.inb_draws()
    tol = 5 * inb.std(axis=0) / math.sqrt(n)
    assert np.all(np.abs(ce.inmb["estimate"] - mc_ce.inmb["estimate"]) < tol)
    assert np.allclose(ce.inmb["std_error"], inb.std(axis=0), rtol=0.005)
    p = mc_ce.ceac["probability"].to_numpy()
    assert np.all(np.abs(ce.ceac["probability"] - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-9)
    loss = np.maximum(inb, 0)
    assert np.all(np.abs(ce.evpi["evpi"] - mc_ce.evpi["evpi"]) < 5 * loss.std(axis=0) /
                  math.sqrt(n))


def test_draws_equal_direct_monte_carlo_loops() -> None:
    rng = np.random.default_rng(7)
    c = rng.gamma(4, 50, 400) - 150
    e = 0.001 * c / 100 + rng.normal(0.01, 0.01, 400)
    wtp = [0, 5_000, 20_000, 30_000]
    ce = cost_effectiveness(c, e, wtp=wtp, population=50)
    for j, k in enumerate(wtp):
        inb = [k * e[s] - c[s] for s in range(len(c))]
        mean = sum(inb) / len(inb)
        assert ce.inmb["estimate"][j] == pytest.approx(mean, rel=EXACT, abs=1e-9)
        assert ce.ceac["probability"][j] == sum(v > 0 for v in inb) / len(inb)
        evpi = sum(max(v, 0.0) for v in inb) / len(inb) - max(mean, 0.0)
        assert ce.evpi["evpi"][j] == pytest.approx(evpi, rel=1e-10, abs=1e-9)
        lo, hi = np.quantile(inb, [0.025, 0.975])
        assert (ce.inmb["ci_lower"][j], ce.inmb["ci_upper"][j]) == pytest.approx((lo, hi))
    assert ce.icer == pytest.approx(c.mean() / e.mean(), rel=EXACT)
    # two strategies: the multi-strategy EVPI and CEAC are the two-way ones
    sc = compare_strategies(np.column_stack([np.zeros_like(c), c]),
                            np.column_stack([np.zeros_like(e), e]), wtp=wtp)
    assert np.allclose(sc.evpi["evpi"], ce.evpi["evpi"], rtol=1e-10, atol=1e-9)
    prob = sc.ceac.query("strategy == 'strategy 2'")["probability"].to_numpy()
    assert np.allclose(prob, ce.ceac["probability"])


def test_constant_cost_with_effect_draws_and_normal_loss() -> None:
    e = np.random.default_rng(0).normal(0.004, 0.013, 5000)
    ce = cost_effectiveness(1309.0, e, wtp=[30_000])
    assert ce.mode == "draws" and ce.samples["cost"].eq(1309.0).all()
    assert float(normal_loss(0.0, 2.0)) == pytest.approx(2 * stats.norm.pdf(0), rel=EXACT)


def test_frontier_and_multi_strategy_evpi_loops() -> None:
    f = efficiency_frontier([0, 100, 180, 250, 400], [0, 1.0, 1.1, 2.0, 2.5])
    status = dict(zip(f["strategy"], f["status"], strict=True))
    # C (180, 1.1): ICER 800 from B, then D only 78 from C: C is extendedly dominated
    assert status["strategy 3"] == "extendedly dominated"
    on = f[f["status"] == "frontier"]
    assert on["icer"].dropna().is_monotonic_increasing
    assert on["icer"].dropna().tolist() == pytest.approx([100.0, 150.0, 300.0])
    rng = np.random.default_rng(3)
    c = rng.normal([0, 100, 250], 30, size=(300, 3))
    e = rng.normal([0, 0.01, 0.015], 0.005, size=(300, 3))
    sc = compare_strategies(c, e, wtp=[10_000, 25_000])
    for j, k in enumerate([10_000, 25_000]):
        nb = [[k * e[s, i] - c[s, i] for i in range(3)] for s in range(300)]
        best_mean = max(sum(r[i] for r in nb) / 300 for i in range(3))
        evpi = sum(max(r) for r in nb) / 300 - best_mean
        assert sc.evpi["evpi"][j] == pytest.approx(evpi, rel=1e-10)
        share = [sum(int(np.argmax(r)) == i for r in nb) / 300 for i in range(3)]
        got = sc.ceac[sc.ceac["wtp"] == k]["probability"].tolist()
        assert got == pytest.approx(share)


def test_costing_and_budget_impact() -> None:
    draws = {"gp_consultations": np.array([-1.0, -2.0]), "emergency_admissions": np.array(
        [0.0, -0.01])}
    out = service_cost_change(draws, {"gp_consultations": 40.0, "emergency_admissions": 2500.0})
    assert out.tolist() == [-40.0, -105.0]
    assert float(link_worker_cost(1.5, annual_cost=40_000, years=2)) == 120_000.0
    d = pd.DataFrame({"icb": ["B", "A", "A"], "cost": [10.0, 20.0, 30.0],
                      "change": [-1.0, -2.0, -3.0]})
    t = budget_impact(d, programme_cost="cost", cost_change="change", by="icb", horizon=3,
                      growth=0.1)
    a = t[t["icb"] == "A"]
    assert a["net"].tolist() == pytest.approx([45.0, 49.5, 54.45])
    disc = [1, 1 / 1.035, 1 / 1.035**2]
    assert a["net_discounted"].tolist() == pytest.approx([45.0 * disc[0], 49.5 * disc[1],
                                                          54.45 * disc[2]])
    assert a["cumulative_net_discounted"].iloc[-1] == pytest.approx(a["net_discounted"].sum())
    assert discount_factors(2, 0.0).tolist() == [1.0, 1.0]


def test_errors_name_the_problem() -> None:
    with pytest.raises(OptionError, match="same length"):
        cost_effectiveness(np.ones(3), np.ones(4))
    with pytest.raises(OptionError, match="summary inputs"):
        cost_effectiveness(np.ones(3), np.ones(3), effect_ci=(0, 1))
    with pytest.raises(OptionError, match="no unit cost for"):
        service_cost_change({"dentist": 1.0})
    with pytest.raises(OptionError, match="columns"):
        budget_impact(pd.DataFrame({"a": [1.0]}), programme_cost="cost")
    with pytest.raises(OptionError, match="wtp"):
        cost_effectiveness(1.0, 1.0, wtp=[-5])


def test_inputs_unchanged_and_plots() -> None:
    import matplotlib

    matplotlib.use("Agg")
    c, e = np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.0, 0.2])
    c0, e0 = c.copy(), e.copy()
    ce = cost_effectiveness(c, e)
    ce.plot_plane()
    ce.plot_ceac()
    cost_effectiveness(1309.0, 0.004, effect_ci=(-0.022, 0.029)).plot_plane()
    assert (c == c0).all() and (e == e0).all()
    assert "ICER" in ce.summary()


def test_value_for_money_and_equity_report_sections() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from spimpact.demo import run_sections

    runs = {r.key: r for r in run_sections(random_state=3, quick=True,
                                           only=("econ", "equity"))}
    assert runs["econ"].section.title == "Value for money"
    assert runs["equity"].section.title == "Equity"
    for r in runs.values():
        kinds = [k for k, _ in r.section.blocks]
        assert "table" in kinds and "figure" in kinds
    econ_text = " ".join(b for k, b in runs["econ"].section.blocks if k == "text")
    assert "327,250" in econ_text


def test_quadrants_label_negative_icers() -> None:
    assert cost_effectiveness(-100.0, 0.1).quadrant == "dominant"
    assert cost_effectiveness(100.0, -0.1).quadrant == "dominated"
    assert cost_effectiveness(100.0, 0.1).quadrant == "more costly, more effective"
    assert cost_effectiveness(-100.0, -0.1).quadrant == "less costly, less effective"
    assert "dominant" in cost_effectiveness(-100.0, 0.1).summary()


def test_results_stand_for_their_draws() -> None:
    from spimpact.results import Result, estimate_table

    res = Result(estimate_table([-2.0], [0.5], index={"term": ["x"]}), method="demo",
                 overall=None)
    with pytest.raises(OptionError, match="no overall"):
        service_cost_change({"gp_consultations": res})
    from spimpact.results import Estimate

    res = Result(estimate_table([-2.0], [0.5], index={"term": ["x"]}), method="demo",
                 overall=Estimate.from_se(-2.0, 0.5))
    out = service_cost_change({"gp_consultations": res}, {"gp_consultations": 10.0})
    assert out.shape == (4000,) and abs(out.mean() + 20.0) < 4 * 5.0 / np.sqrt(4000)
    ce = cost_effectiveness(100.0, res)
    assert ce.mode == "draws"
