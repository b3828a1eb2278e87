"""The "equity" section of ``spimpact demo``."""

from __future__ import annotations

import warnings

import pandas as pd

from ..report import Section

__all__ = ["demo"]


def demo(random_state: int = 2019, quick: bool = False) -> Section:
    """Provision against need over time, need-adjusted gaps, concentration and
    slope indices, and effects by subgroup with multiplicity control."""
    import matplotlib.pyplot as plt

    from ..did import CallawaySantAnna
    from ..simulate import link_worker_provision, pcn_rollout
    from . import concentration_index, provision_vs_need, slope_index, subgroup_effects

    sec = Section("Equity")
    n_pcns = 250 if quick else 1250
    sim = pcn_rollout(n_pcns=n_pcns, covid=False, random_state=random_state)
    prov = link_worker_provision(sim, random_state=random_state)
    res = provision_vs_need(prov, provision="fte_per_10k", need="need_for_support",
                            time="quarter", weights="list_size", area="pcn")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    res.plot(ax=axes[0])
    res.plot_gaps(ax=axes[1], by="icb", top=10)
    fig.tight_layout()
    sec.figure(fig, "Left: slope of link-worker FTE per 10,000 patients on pre-rollout need, "
                    "by quarter (HC1 95% intervals). Right: ICBs with the largest shortfall "
                    "against a need-proportional share in the last quarter.")
    sec.table(res.estimates.tail(4), "Slope in the last four quarters.")
    last = prov[prov["quarter"] == prov["quarter"].max()]
    ci = concentration_index(last["fte_per_10k"], -last["imd_score"], last["list_size"])
    sii = slope_index(last["fte_per_10k"], -last["imd_score"], last["list_size"])
    sec.table(pd.DataFrame([
        {"index": "concentration index (ranked from most deprived)", **_row(ci.estimate)},
        {"index": "slope index of inequality (FTE per 10,000)", **_row(sii.estimate)},
        {"index": "relative index of inequality", **_row(sii.relative)},
    ]), "Inequality of provision by deprivation in the last quarter: negative values mean "
        "more provision in the most deprived PCNs.")
    panel = sim.panel("wellbeing", covariates=("deprivation_quintile", "rural"))
    cs = CallawaySantAnna(control_group="not_yet_treated", covariates=())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by = {"deprivation quintile": cs.fit(panel, by="deprivation_quintile"),
              "rural": cs.fit(panel, by="rural")}
    summ = subgroup_effects(by, contrasts={"deprivation quintile": (5, 1)})
    sec.table(summ.table, "Effects on wellbeing by subgroup, p-values adjusted within each "
                          "characteristic (Holm; Benjamini-Hochberg).")
    sec.table(summ.heterogeneity, "Are the subgroup effects equal?")
    sec.table(summ.contrasts, "Most (5) minus least (1) deprived quintile.")
    return sec


def _row(e) -> dict[str, float]:
    return {"estimate": e.estimate, "std_error": e.std_error, "ci_lower": e.ci_lower,
            "ci_upper": e.ci_upper}
