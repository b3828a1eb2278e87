"""spimpact.equity against independent computations.

References and tolerances
-------------------------
- Concentration index: O'Donnell et al. (2008), *Analyzing Health Equity
  Using Household Survey Data*, ch. 8, gives three equivalent forms: the
  covariance formula (eq. 8.4), the discrete sum ``2/(n mu) sum h_i R_i - 1``
  and the "convenient regression" of ``2 var(R) h / mu`` on ``R`` whose slope
  is ``C`` (eq. 8.6); and ``C = 1 - 2 * (area under the concentration
  curve)``. Each is computed here independently (1e-10 relative). The
  Erreygers and Wagstaff corrections are checked against their definitions
  for a binary variable.
- Concentration index against a well-known package: the WHO R package
  ``healthequal`` 1.0.1 prints ``rci() = 0.0469506`` for its ``OrderedSample``
  (skilled birth attendance by wealth quintile, population-weighted; data
  and value in ``tests/data/equity/``); agreement to 1e-7 absolute, the
  printed value's last digit (its inputs are printed to 7 significant
  digits).
- Delta-method SE (Kakwani et al. 1997): against the Monte Carlo spread of the
  index over 400 simulated samples, within 12% (the Monte Carlo error of a
  standard deviation from 400 draws is about 3.5%).
- SII / RII: weighted least squares on fractional ranks with the HC1
  sandwich written out by hand (1e-10).
- provision_vs_need: per-period least squares with HC1 SEs by hand (1e-10);
  on the simulated England the slope is negative in the last quarters.
- Subgroups: Holm and Benjamini-Hochberg adjustments written out by hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spimpact.equity import (
    concentration_index,
    fractional_rank,
    provision_vs_need,
    slope_index,
    subgroup_effects,
)
from spimpact.errors import OptionError

EXACT = 1e-10


def _sample(rng: np.random.Generator, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=n)
    return np.exp(0.5 + 0.3 * x + 0.5 * rng.normal(size=n)), x


def test_concentration_index_matches_healthequal_rci() -> None:
    # grouped data: each quintile a "unit" weighted by its population, ranked
    # at the midpoint of its cumulative population share, as healthequal does
    data = pd.read_csv(Path(__file__).parent / "data" / "equity"
                       / "healthequal_ordered_sample.csv")
    ci = concentration_index(data["estimate"], data["subgroup_order"], data["population"])
    assert ci.estimate.estimate == pytest.approx(0.0469506, abs=1e-7)
    # the rows' order does not matter
    rev = data.iloc[::-1]
    assert concentration_index(rev["estimate"], rev["subgroup_order"],
                               rev["population"]).estimate.estimate == pytest.approx(
        ci.estimate.estimate, abs=1e-15)


def test_concentration_index_independent_forms() -> None:
    rng = np.random.default_rng(11)
    h, x = _sample(rng)
    n = len(h)
    ci = concentration_index(h, x)
    order = np.argsort(x)
    R = np.empty(n)
    R[order] = (np.arange(1, n + 1) - 0.5) / n
    mu = h.mean()
    assert ci.estimate.estimate == pytest.approx(2 / (n * mu) * np.sum(h * R) - 1, rel=EXACT)
    # area under the concentration curve (trapezoid): C = 1 - 2 * area
    q = np.r_[0.0, np.cumsum(h[order]) / h.sum()]
    area = np.sum((q[1:] + q[:-1]) / 2) / n
    assert ci.estimate.estimate == pytest.approx(1 - 2 * area, rel=EXACT)
    # weighted: convenient regression slope (weighted least squares)
    w = rng.uniform(0.5, 3, n)
    cw = concentration_index(h, x, w)
    Rw = fractional_rank(x, w)
    mw = np.average(h, weights=w)
    var_r = np.average((Rw - np.average(Rw, weights=w)) ** 2, weights=w)
    X = np.column_stack([np.ones(n), Rw]) * np.sqrt(w)[:, None]
    beta = np.linalg.lstsq(X, 2 * var_r * h / mw * np.sqrt(w), rcond=None)[0]
    assert cw.estimate.estimate == pytest.approx(beta[1], rel=EXACT)


def test_weighted_fractional_rank_and_ties() -> None:
    # weights 1, 3: shares 0.25, 0.75 -> midpoints 0.125, 0.625
    assert fractional_rank([5.0, 7.0], [1.0, 3.0]).tolist() == [0.125, 0.625]
    # a frequency weight equals repeating the row
    h, x, w = np.array([1.0, 4.0, 2.0]), np.array([0.3, 0.1, 0.2]), np.array([2.0, 1.0, 3.0])
    rep = concentration_index(np.repeat(h, w.astype(int)), np.repeat(x, w.astype(int)))
    assert concentration_index(h, x, w).estimate.estimate == pytest.approx(
        rep.estimate.estimate, rel=EXACT)


def test_corrected_indices_for_a_binary_variable() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=400)
    y = (rng.uniform(size=400) < 1 / (1 + np.exp(-x))).astype(float)
    c = concentration_index(y, x).estimate.estimate
    mu = y.mean()
    e = concentration_index(y, x, kind="erreygers", bounds=(0, 1)).estimate.estimate
    wg = concentration_index(y, x, kind="wagstaff", bounds=(0, 1)).estimate.estimate
    assert e == pytest.approx(4 * mu * c, rel=EXACT)
    assert wg == pytest.approx(c / (1 - mu), rel=EXACT)
    with pytest.raises(OptionError, match="bounds"):
        concentration_index(y, x, kind="erreygers")


def test_delta_method_se_matches_monte_carlo_spread() -> None:
    rng = np.random.default_rng(5)
    reps = [concentration_index(*_sample(rng)) for _ in range(400)]
    spread = np.std([r.estimate.estimate for r in reps], ddof=1)
    mean_se = np.mean([r.std_error for r in reps])
    assert mean_se == pytest.approx(spread, rel=0.12)


def test_slope_index_is_wls_with_hc1() -> None:
    rng = np.random.default_rng(8)
    h, x = _sample(rng, 250)
    w = rng.uniform(0.5, 2, 250)
    s = slope_index(h, x, w)
    R = fractional_rank(x, w)
    X = np.column_stack([np.ones_like(R), R])
    sw = np.sqrt(w)
    beta = np.linalg.lstsq(X * sw[:, None], h * sw, rcond=None)[0]
    e = (h - X @ beta) * sw
    Xw = X * sw[:, None]
    bread = np.linalg.inv(Xw.T @ Xw)
    V = bread @ (Xw.T * e**2) @ Xw @ bread * len(h) / (len(h) - 2)
    assert s.estimate.estimate == pytest.approx(beta[1], rel=EXACT)
    assert s.estimate.std_error == pytest.approx(np.sqrt(V[1, 1]), rel=1e-8)
    assert s.relative.estimate == pytest.approx(beta[1] / np.average(h, weights=w), rel=EXACT)


def test_provision_vs_need_equals_per_period_hc1() -> None:
    rng = np.random.default_rng(4)
    n = 120
    d = pd.DataFrame({"t": np.repeat([2, 1, 3], n), "need": np.tile(rng.uniform(20, 60, n), 3),
                      "rural": np.tile(rng.integers(0, 2, n), 3)})
    d["fte"] = 1 - 0.01 * (d["t"] - 1) * d["need"] + rng.normal(0, 0.2, 3 * n)
    before = d.copy()
    res = provision_vs_need(d, provision="fte", need="need", time="t", covariates=["rural"])
    pd.testing.assert_frame_equal(d, before)
    assert res.estimates["t"].tolist() == [1, 2, 3]
    for t, row in zip([1, 2, 3], res.estimates.itertuples(), strict=True):
        sub = d[d["t"] == t]
        X = np.column_stack([np.ones(n), sub["need"], sub["rural"]])
        y = sub["fte"].to_numpy()
        beta = np.linalg.lstsq(X, y, rcond=None)[0]
        e = y - X @ beta
        bread = np.linalg.inv(X.T @ X)
        V = bread @ (X.T * e**2) @ X @ bread * n / (n - 3)
        assert row.estimate == pytest.approx(beta[1], rel=EXACT)
        assert row.std_error == pytest.approx(np.sqrt(V[1, 1]), rel=1e-8)


def test_provision_falls_with_need_on_simulated_england() -> None:
    from spimpact.simulate import link_worker_provision, pcn_rollout

    sim = pcn_rollout(n_pcns=600, n_icbs=20, random_state=3)
    d = link_worker_provision(sim, random_state=4)
    res = provision_vs_need(d, provision="fte_per_10k", need="need_for_support",
                            time="quarter", weights="list_size", area="pcn", cluster="icb")
    est = res.estimates
    assert (est["ci_upper"].tail(3) < 0).all()  # negative in the last quarters
    assert (est["ci_lower"].head(4) < 0).all() and (est["ci_upper"].head(4) > 0).all()
    gaps = res.gaps(by="icb")
    assert gaps["gap"].is_monotonic_increasing and len(gaps) == 20
    # need-proportional shares add up to the total provision
    assert np.sum(gaps["fair_share"] * gaps["weight"]) == pytest.approx(
        np.sum(gaps["provision"] * gaps["weight"]), rel=1e-10)


def test_subgroup_effects_adjustments_and_contrast() -> None:
    tab = pd.DataFrame({"subgroup": [1, 2, 3, 4], "estimate": [0.1, 0.25, 0.02, 0.3],
                        "std_error": [0.05, 0.1, 0.05, 0.1]})
    s = subgroup_effects({"deprivation": tab}, contrasts={"deprivation": (4, 1)})
    p = s.table["p_value"].to_numpy()
    order = np.argsort(p)
    holm = np.minimum(1, np.maximum.accumulate((4 - np.arange(4)) * p[order]))
    bh = np.minimum.accumulate(4 / np.arange(4, 0, -1) * p[order][::-1])[::-1]
    got_h, got_b = s.table["p_holm"].to_numpy()[order], s.table["p_bh"].to_numpy()[order]
    assert got_h == pytest.approx(holm) and got_b == pytest.approx(np.minimum(bh, 1))
    con = s.contrasts.iloc[0]
    assert con["estimate"] == pytest.approx(0.2)
    assert con["std_error"] == pytest.approx(np.hypot(0.1, 0.05))
    q = s.heterogeneity.iloc[0]
    wq = 1 / tab["std_error"] ** 2
    pooled = np.sum(wq * tab["estimate"]) / wq.sum()
    assert q["statistic"] == pytest.approx(np.sum(wq * (tab["estimate"] - pooled) ** 2))


def test_errors() -> None:
    with pytest.raises(OptionError, match="missing"):
        concentration_index([1.0, np.nan, 2.0], [1, 2, 3])
    with pytest.raises(OptionError, match="columns"):
        provision_vs_need(pd.DataFrame({"a": [1]}), provision="p", need="n", time="t")
    with pytest.raises(OptionError, match="no subgroup"):
        subgroup_effects({"x": pd.DataFrame({"subgroup": [1, 2], "estimate": [0.0, 1.0],
                                              "std_error": [1.0, 1.0]})}, contrasts={"x": (5, 1)})


def test_plots_label_the_areas() -> None:
    import matplotlib

    matplotlib.use("Agg")
    rng = np.random.default_rng(1)
    d = pd.DataFrame({"t": 1, "area": [f"A{i}" for i in range(30)],
                      "need": rng.uniform(10, 50, 30), "fte": rng.uniform(0.5, 1.5, 30)})
    res = provision_vs_need(d, provision="fte", need="need", time="t", area="area")
    ax = res.plot_gaps(top=5)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[::-1] == res.gaps()["area"].head(5).tolist()
    res.plot()
    concentration_index(d["fte"], -d["need"]).plot()


def test_provision_vs_need_clustered_se_by_hand() -> None:
    """Cluster-robust (CR1: G/(G-1) * (N-1)/(N-K)) sandwich written out by hand."""
    rng = np.random.default_rng(9)
    n, G = 200, 25
    g = rng.integers(0, G, n)
    d = pd.DataFrame({"t": 1, "icb": g, "need": rng.uniform(20, 60, n) + rng.normal(0, 5, G)[g]})
    d["fte"] = 1 - 0.01 * d["need"] + rng.normal(0, 0.2, G)[g] + rng.normal(0, 0.1, n)
    res = provision_vs_need(d, provision="fte", need="need", time="t", cluster="icb")
    X = np.column_stack([np.ones(n), d["need"]])
    y = d["fte"].to_numpy()
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    e = y - X @ beta
    bread = np.linalg.inv(X.T @ X)
    scores = np.zeros((G, 2))
    np.add.at(scores, g, X * e[:, None])
    V = bread @ scores.T @ scores @ bread * G / (G - 1) * (n - 1) / (n - 2)
    assert res.estimates["std_error"].iloc[0] == pytest.approx(np.sqrt(V[1, 1]), rel=1e-8)
