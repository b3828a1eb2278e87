"""The staggered-DiD section of ``spimpact demo``."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from ..report import Section

__all__ = ["demo", "estimators"]

OUTCOME = "wellbeing"


def estimators(random_state: int) -> dict[str, Any]:
    """The DiD estimators shown side by side (those this installation has)."""
    from . import CallawaySantAnna

    out: dict[str, Any] = {
        "Callaway-Sant'Anna": CallawaySantAnna(control_group="not_yet_treated", bootstrap=499,
                                                random_state=random_state),
    }
    from .. import did

    for label, name, kwargs in (
        ("Sun-Abraham", "SunAbraham", {}),
        ("Imputation (BJS)", "Imputation", {}),
        ("Two-stage (Gardner)", "TwoStage", {}),
        ("TWFE event study", "TWFE", {"event_study": True}),
        ("TWFE (static)", "TWFE", {}),
    ):
        cls = getattr(did, name, None)
        if cls is not None:
            out[label] = cls(**kwargs)
    return out


def demo(random_state: int = 2019, quick: bool = False) -> Section:
    """Estimate the rollout's effect on wellbeing with every DiD estimator and
    compare with the simulation's truth; show what TWFE averages."""
    import matplotlib.pyplot as plt

    from ..simulate import pcn_rollout

    sec = Section("Staggered difference-in-differences")
    n_pcns = 100 if quick else 800
    sim = pcn_rollout(n_pcns=n_pcns, effect="heterogeneous_dynamic", covid=False,
                      random_state=random_state)
    panel = sim.panel(OUTCOME, covariates=())
    sec.text(
        f"Simulated rollout: {n_pcns} PCNs, {panel.n_units:,} practices, quarterly "
        f"{panel.periods[0]}-{panel.periods[-1]}. The effect on the wellbeing score differs "
        "by cohort and grows with time since the link-worker service started, the setting in "
        "which two-way fixed effects (TWFE) is biased."
    )
    truth = sim.truth.query(f"outcome == '{OUTCOME}'")
    ev_truth = truth.query("target == 'event'").set_index("event_time")["value"]
    rows, fig, ax = [], *plt.subplots(figsize=(8, 4.5))
    ests = estimators(random_state)
    for i, (label, est) in enumerate(ests.items()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = est.fit(panel)
            ev = res.aggregate("event", min_event=-6, max_event=10) if hasattr(
                res, "aggregate") else res
        tab = ev.estimates
        if "event_time" in tab:
            tab = tab[(tab["event_time"] >= -6) & (tab["event_time"] <= 10)]
            from ..plotting import event_study_plot

            event_study_plot(tab, ax=ax, label=label, color=f"C{i}",
                             offset=0.12 * (i - len(ests) / 2))
        overall = res.overall
        rows.append({"estimator": label, "overall ATT": overall.estimate,
                     "SE": overall.std_error, "95% CI": f"{overall.ci_lower:.3f} to "
                     f"{overall.ci_upper:.3f}"})
    xs = ev_truth.loc[-6:10]
    ax.plot(xs.index, xs.to_numpy(), "k--", lw=1.2, label="truth")
    ax.legend(frameon=False, fontsize="small")
    ax.set_title("Event studies against the true effect")
    sec.figure(fig, "Event-time effects of each estimator; dashed: the simulated truth.")
    table = pd.DataFrame(rows)
    true_overall = float(truth.query("target == 'overall'")["value"].iloc[0])
    table["truth"] = true_overall
    sec.table(table, "Overall ATT (R's simple aggregation for the group-time estimators).")
    _bacon(sec, panel)
    _sensitivity(sec, panel, random_state)
    _subgroups(sec, sim, random_state)
    return sec


def _sensitivity(sec: Section, panel: Any, random_state: int) -> None:
    """How large a violation of parallel trends would overturn the first-quarter
    effect (Rambachan-Roth relative magnitudes), and what the pre-test misses."""
    import matplotlib.pyplot as plt

    from . import CallawaySantAnna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = CallawaySantAnna(base_period="universal", method="reg").fit(panel)
    window = (-6, 4)
    rm = res.honest_bounds("relative_magnitudes", grid=[0, 0.5, 1, 1.5, 2], window=window,
                           random_state=random_state)
    power = res.pretrend_power(0.8, window=window, random_state=random_state)
    b = rm.breakdown
    sec.text(
        "Sensitivity to violations of parallel trends (Rambachan and Roth 2023), for the "
        "first-quarter effect, from a Callaway-Sant'Anna event study against the quarter "
        "before adoption. Mbar bounds each post-adoption change in the violation by Mbar "
        "times the largest pre-adoption change (Mbar = 1: no worse than the worst "
        "pre-period quarter). "
        + (f"Breakdown value: Mbar = {b:g} (the smallest value whose interval includes 0). "
           if np.isfinite(b) else "The effect stays significant for every Mbar up to 2. ")
        + f"A linear pre-trend of {power.slope:.3g} points per quarter would be detected by "
        f"the pre-test only 80% of the time; it would bias the first-quarter estimate by "
        f"{power.bias['bias'].iloc[0]:.3g}."
    )
    sec.table(rm.to_frame(), "Robust 95% intervals for the first-quarter effect by Mbar "
                             "(C-LF hybrid); first row: the original interval.")
    fig, ax = plt.subplots(figsize=(6, 4))
    rm.plot(ax=ax)
    sec.figure(fig, "Robust intervals against Mbar; red: the original interval.")


def _bacon(sec: Section, panel: Any) -> None:
    from .. import did

    decompose = getattr(did, "bacon_decomposition", None)
    if decompose is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bacon = decompose(panel)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    bacon.plot(ax=ax)
    sec.figure(fig, "Goodman-Bacon decomposition: the 2x2 comparisons TWFE averages, by weight. "
                    "'Later vs earlier' comparisons use already-treated units as controls.")
    tab = bacon.estimates
    if "type" in tab and "weight" in tab:
        summary = tab.groupby("type", as_index=False).agg(
            weight=("weight", "sum"),
            estimate=("estimate", lambda s: np.average(s, weights=tab.loc[s.index, "weight"])))
        sec.table(summary, "Weight and average estimate by comparison type.")


def _subgroups(sec: Section, sim: Any, random_state: int) -> None:
    from . import CallawaySantAnna

    panel = sim.panel(OUTCOME, covariates=("deprivation_quintile",))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = CallawaySantAnna(control_group="not_yet_treated", covariates=()).fit(
            panel, by="deprivation_quintile")
    tab = res.estimates
    truth = sim.truth.query(f"outcome == '{OUTCOME}' and target == 'subgroup'")
    if len(truth):
        tv = {s.split("=")[-1]: v for s, v in zip(truth["subgroup"], truth["value"], strict=True)}
        tab["truth"] = [tv.get(str(q), np.nan) for q in tab["subgroup"]]
    sec.table(tab, f"Overall ATT by deprivation quintile (5 = most deprived); test of equal "
                   f"effects: {getattr(res, 'equality_test', None)}.")
