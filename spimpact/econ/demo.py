"""The "value for money" section of ``spimpact demo``."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..report import Section

__all__ = ["demo"]

COUNTS = ("gp_consultations", "ae_attendances", "emergency_admissions")


def demo(random_state: int = 2019, quick: bool = False) -> Section:
    """Effect draws on service use -> change in NHS costs -> budget impact by ICB;
    and SPRING_NE's published cost-utility inputs -> ICER, CEAC, EVPI."""
    import matplotlib.pyplot as plt

    from ..did import CallawaySantAnna
    from ..simulate import pcn_rollout
    from . import (
        budget_impact,
        cost_effectiveness,
        link_worker_cost,
        service_cost_change,
        unit_cost_table,
    )

    sec = Section("Value for money")
    n_pcns = 250 if quick else 800
    sim = pcn_rollout(n_pcns=n_pcns, covid=False, random_state=random_state)
    draws = {}
    for outcome in COUNTS:  # same units and seed: one joint multiplier bootstrap
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = CallawaySantAnna(control_group="not_yet_treated", covariates=(),
                                   bootstrap=199 if quick else 499,
                                   random_state=random_state).fit(
                sim.panel(outcome, exposure=None))  # effects on the counts themselves
        draws[outcome] = res.draws()
    costs = unit_cost_table()
    per_year = service_cost_change(draws, scale=4.0)  # practice-quarter -> practice-year
    practices_per_pcn = sim.data.groupby("pcn")["practice"].nunique().mean()
    programme = float(link_worker_cost(1.0)) / practices_per_pcn
    rows = [{"item": k, "unit cost (GBP)": costs[k], "effect per practice-quarter":
             float(np.mean(v)), "95% interval": _interval(v)} for k, v in draws.items()]
    sec.table(pd.DataFrame(rows),
              f"Effects on service use per practice-quarter (Callaway-Sant'Anna, "
              f"{len(per_year)} bootstrap draws) in the simulator's default scenario, not "
              "estimates for England, and the indicative unit costs (replace with current "
              "values).")
    net = programme + per_year
    sec.table(pd.DataFrame([
        {"per practice a year": "link-worker cost (1 FTE per PCN)", "GBP": programme,
         "95% interval": ""},
        {"per practice a year": "change in NHS service costs", "GBP": float(per_year.mean()),
         "95% interval": _interval(per_year)},
        {"per practice a year": "net cost to the NHS", "GBP": float(net.mean()),
         "95% interval": _interval(net)},
    ]), "Programme cost against the change in NHS costs it causes.")
    first = sim.data["quarter"] == sim.data["quarter"].min()
    prac = sim.data.loc[first, ["practice", "icb"]].assign(
        programme=programme, nhs_change=float(per_year.mean()))
    bi = budget_impact(prac, programme_cost="programme", cost_change="nhs_change", by="icb",
                       horizon=5)
    last = bi[bi["year"] == 5].sort_values("cumulative_net_discounted", ascending=False)
    sec.table(last[["icb", "cumulative_net_discounted"]].head(10).rename(
        columns={"cumulative_net_discounted": "5-year net cost, discounted 3.5% (GBP)"}),
        "Budget impact by ICB over five years (largest ten; negative: a saving).")
    ce = cost_effectiveness(1309.0, 0.004, effect_ci=(-0.022, 0.029), label="SPRING_NE")
    sec.text("SPRING_NE (Moffatt et al. 2023) from its published inputs: incremental cost "
             "GBP 1,309 per participant, 0.004 QALYs (95% CI -0.022 to 0.029); "
             f"ICER GBP {ce.icer:,.0f} per QALY.")
    sec.table(ce.summary_table(), "At NICE's thresholds: INMB, probability cost-effective, "
                                  "EVPI per person (normal closed forms).")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ce.plot_plane(ax=axes[0])
    ce.plot_ceac(ax=axes[1])
    fig.tight_layout()
    sec.figure(fig, "SPRING_NE: cost-effectiveness plane and acceptability curve (NICE "
                    "range shaded).")
    return sec


def _interval(x: np.ndarray) -> str:
    lo, hi = np.quantile(x, [0.025, 0.975])
    return f"{lo:,.2f} to {hi:,.2f}"
