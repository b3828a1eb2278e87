"""Monte Carlo of ChaisemartinDHaultfoeuille (DID_l) on the simulated link-worker rollout
(``@pytest.mark.slow``: run by ``make bench``, not by the default suite).

Scenario: :func:`spimpact.simulate.pcn_rollout` with the settings of the standard
benchmark's small rollout (:data:`~spimpact.simulate.CLASSIC_ROLLOUT`: independent
practice errors, no shared shocks, 15% of PCNs never recruiting; 150 PCNs, about 780
practices, 15 ICBs, 2018Q1-2021Q4, starts 2019Q1-2021Q2 unrelated to need, no COVID
shock), the wellbeing outcome and ``intensity_effect=1``: the effect in a
practice-quarter is ``0.3 * fte_per_10k / 0.5`` points, proportional to the PCN's
link-worker intensity, which is 0 before its start and grows after it. The treatment
of the panel is that intensity (``treatment_kind="general"``), clustered on PCN (the
level at which it is assigned) or on practice (the level of the errors, independent
here). A second scenario takes the simulator's realistic defaults (start dates selected
on need, region and ICB; ICB x quarter and PCN x quarter shocks; AR(1) practice errors;
3% of PCNs never recruiting) at the same size and window, clustered on ICB.

Truth (computed here from the simulator's per-row effects ``wellbeing_mu1 -
wellbeing_mu0``, not from the estimator): every PCN has baseline intensity 0 and
parallel trends hold, so ``DID_l`` estimates the mean, over the switchers ``g`` with
a comparison unit at ``F_g - 1 + l`` (a unit with baseline 0 not switched by then), of
the true effect ``delta_{g, F_g - 1 + l}`` (``F_g``: the first quarter of non-zero
intensity); the normalised ``DID_l`` divides its sum by the switchers' accumulated
intensity ``sum_{k=F_g}^{F_g-1+l} D_{g,k}``; the average total effect per unit of
treatment (``.overall``) sums the effects over the switchers and ``l = 1..L`` and
divides by the intensities received, ``sum D_{g, F_g - 1 + l}``, over the same cells
(de Chaisemartin & D'Haultfoeuille 2024, sections 3-4).

Bias within 3 Monte Carlo SEs of 0 and 95% interval coverage within 3 MCSEs
(``sqrt(0.95 * 0.05 / reps)``, 0.011 at 400 replications) of 0.95, for DID_1..DID_3,
their normalised versions and the average total effect (numbers in docs/guide/did.md).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import spimpact as sp
from spimpact.did import ChaisemartinDHaultfoeuille
from spimpact.simulate import CLASSIC_ROLLOUT, pcn_rollout

REPS = 400
SEED = 13_000
EFFECTS = 3
#: The standard benchmark's small rollout, with effects proportional to intensity.
SCENARIO = {
    **CLASSIC_ROLLOUT,
    "n_pcns": 150, "n_icbs": 15, "start": "2018Q1", "end": "2021Q4",
    "first_start": "2019Q1", "last_start": "2021Q2", "selection_on_need": 0.0,
    "covid": False, "effect": "constant", "intensity_effect": 1.0,
}
#: The simulator's realistic defaults at the same size and window: start dates selected on
#: need, region and ICB (3% of PCNs never recruiting), ICB x quarter and PCN x quarter
#: shocks and AR(1) practice errors; clustered on ICB (15 clusters).
REALISTIC = {
    "n_pcns": 150, "n_icbs": 15, "end": "2021Q4", "last_start": "2021Q2", "covid": False,
    "effect": "constant", "intensity_effect": 1.0,
}


def dcdh_truth(data: pd.DataFrame, delta: np.ndarray, effects: int) -> dict[str, float]:
    """True DID_l, normalised DID_l (``l = 1..effects``) and the average total effect.

    ``data`` holds ``practice, quarter, fte_per_10k`` and ``delta`` the true effect of
    each row; a plain pandas computation on the units x quarters grid.
    """
    d = data.assign(delta=np.asarray(delta)).pivot(index="practice", columns="quarter")
    D, tau = d["fte_per_10k"].to_numpy(), d["delta"].to_numpy()
    G, T = D.shape
    assert (D[:, 0] == 0).all()  # one baseline level: every PCN starts without link workers
    changed = D != 0
    F = np.where(changed.any(axis=1), changed.argmax(axis=1), T)  # T: never switches
    cum_d = np.cumsum(D, axis=1)
    out: dict[str, float] = {}
    num_all = den_all = 0.0
    for h in range(1, effects + 1):
        t_h = F - 1 + h
        # a comparison unit at t_h: same baseline (0) and not switched by t_h
        sw = (F < T) & (t_h < T) & (F.max() > t_h)
        rows, t_sw = np.flatnonzero(sw), t_h[sw]
        eff = tau[rows, t_sw]
        cum = cum_d[rows, t_sw] - cum_d[rows, F[sw] - 1]  # intensity from F_g to t_h
        out[f"effect_{h}"] = float(eff.mean())
        out[f"normalized_{h}"] = float(eff.sum() / cum.sum())
        num_all += eff.sum()
        den_all += D[rows, t_sw].sum()
    out["average"] = num_all / den_all
    return out


def one_rep(seed: int, scenario: dict, cluster: str | None) -> pd.DataFrame:
    """Estimates, intervals and truths of one simulated rollout."""
    sim = pcn_rollout(random_state=seed, **scenario)
    data = sim.data[["practice", "pcn", "icb", "quarter", "fte_per_10k", "wellbeing"]]
    delta = (sim.expected["wellbeing_mu1"] - sim.expected["wellbeing_mu0"]).to_numpy()
    truth = dcdh_truth(data, delta, EFFECTS)
    panel = sp.Panel(data, outcome="wellbeing", unit="practice", time="quarter",
                     treatment="fte_per_10k", treatment_kind="general", cluster=cluster)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for normalized in (False, True):
            res = ChaisemartinDHaultfoeuille(effects=EFFECTS, normalized=normalized).fit(panel)
            kind = "normalized" if normalized else "effect"
            for _, r in res.estimates.iterrows():
                rows.append((f"{kind}_{r['horizon']}", r["estimate"], r["ci_lower"],
                             r["ci_upper"]))
            if not normalized:
                o = res.overall
                rows.append(("average", o.estimate, o.ci_lower, o.ci_upper))
    out = pd.DataFrame(rows, columns=["target", "estimate", "ci_lower", "ci_upper"])
    out["truth"] = out["target"].map(truth)
    out["seed"] = seed
    return out


def summarise(reps: pd.DataFrame) -> pd.DataFrame:
    """Per target: mean truth, bias, its MCSE, the estimates' SD and mean SE, coverage
    and the number of replications."""
    z = 1.959963984540054  # the intervals' normal quantile
    r = reps.assign(err=reps["estimate"] - reps["truth"],
                    se=(reps["ci_upper"] - reps["ci_lower"]) / (2 * z),
                    cover=(reps["ci_lower"] <= reps["truth"]) & (reps["truth"] <= reps["ci_upper"]))
    g = r.groupby("target", sort=False)
    return pd.DataFrame({
        "truth": g["truth"].mean(), "bias": g["err"].mean(),
        "mcse": g["err"].std(ddof=1) / np.sqrt(g.size()),
        "sd": g["estimate"].std(ddof=1), "mean_se": g["se"].mean(),
        "coverage": g["cover"].mean(), "reps": g.size(),
    })


@pytest.mark.slow
@pytest.mark.parametrize(("scenario", "cluster"), [
    (SCENARIO, "pcn"),  # the level at which the intensity is assigned
    (SCENARIO, None),  # each practice its own cluster: its errors are independent here
    (REALISTIC, "icb"),  # the level of the shared shocks, 15 clusters
], ids=["classic-pcn", "classic-practice", "realistic-icb"])
def test_dcdh_unbiased_with_nominal_coverage_on_the_rollout(scenario, cluster):
    reps = pd.concat([one_rep(SEED + i, scenario, cluster) for i in range(REPS)],
                     ignore_index=True)
    s = summarise(reps)
    print(s.to_string())
    assert set(s.index) == {*(f"{k}_{h}" for k in ("effect", "normalized")
                              for h in range(1, EFFECTS + 1)), "average"}
    assert (s["reps"] == REPS).all()
    assert (s["bias"].abs() < 3 * s["mcse"]).all(), s
    cov_mcse = np.sqrt(0.95 * 0.05 / REPS)
    assert ((s["coverage"] - 0.95).abs() < 3 * cov_mcse).all(), s
