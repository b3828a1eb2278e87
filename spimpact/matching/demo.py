"""The matched-cohort section of ``spimpact demo``."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from ..report import Section
from ..results import Estimate

__all__ = ["demo", "patient_panel"]

#: Baseline patient characteristics carried into the monthly panel for matching.
BASELINE = ("age", "sex", "ethnicity", "imd_quintile", "multimorbidity")


def patient_panel(sim: Any) -> Any:
    """The patient-month Panel of a simulated cohort with baseline covariates.

    Examples
    --------
    >>> from spimpact.simulate import patient_cohort
    >>> panel = patient_panel(patient_cohort(n_patients=300, n_practices=5, random_state=0))
    >>> panel.covariates[-1]
    'index_month'
    """
    from ..panel import Panel

    base = sim.patients.loc[:, ["patient_id", "index_month", *BASELINE]]
    data = sim.panel_data.merge(base, on="patient_id", how="left", validate="m:1")
    return Panel(data, outcome="gp_consultations", unit="patient_id", time="month",
                 cohort="cohort", cluster="practice", covariates=[*BASELINE, "index_month"])


def demo(random_state: int = 2019, quick: bool = False) -> Section:
    """Matched cohorts on a simulated patient cohort with confounded referral:
    balance before and after matching, the love plot, and each estimate
    against the simulation's true effect; then the matched DiD event study."""
    from ..simulate import patient_cohort

    sec = Section("Propensity-matched cohorts")
    n = 6000 if quick else 20000
    sim = patient_cohort(n_patients=n, n_practices=20 if quick else 50,
                         random_state=random_state)
    xs = sim.cross_section_panel()
    share = float(sim.patients["referred"].mean())
    sec.text(
        f"Simulated cohort: {n:,} patients, {100 * share:.0f}% referred to a link worker. "
        "Referral is more likely for older, more deprived, multimorbid patients and heavy "
        "prior users of GP services, so referred patients consult more whatever the effect: "
        "the naive comparison is confounded. The true effect of referral is a 10% fall in "
        "monthly GP consultations."
    )
    _cross_section(sec, sim, xs)
    _matched_did(sec, sim, quick)
    return sec


def _cross_section(sec: Section, sim: Any, xs: Any) -> None:
    import matplotlib.pyplot as plt

    from . import AugmentedIPW, InverseProbabilityWeighting, PropensityScoreMatching

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        psm = PropensityScoreMatching(caliper=0.2).fit(xs)
        ipw = InverseProbabilityWeighting(estimand="ATT").fit(xs)
        aipw = AugmentedIPW(estimand="ATT").fit(xs)
    bal = psm.balance.loc[:, ["covariate", "smd_before", "smd_after", "var_ratio_before",
                              "var_ratio_after", "ecdf_max_before", "ecdf_max_after"]]
    sec.table(bal.round(3), "Balance of the referred and matched non-referred patients "
                            "(standardised mean differences use the referred group's SD, "
                            "as cobalt does for the ATT).")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    psm.plot_balance(ax=axes[0])
    psm.plot_overlap(ax=axes[1])
    fig.tight_layout()
    sec.figure(fig, "Love plot (dashed: |SMD| = 0.1) and propensity-score overlap.")
    d = sim.patients["referred"].to_numpy() == 1
    y = sim.patients["outcome_post"].to_numpy()
    # the naive difference's SE: two independent samples, unequal variances (Welch)
    naive = Estimate.from_se(y[d].mean() - y[~d].mean(),
                             float(np.sqrt(y[d].var(ddof=1) / d.sum() + y[~d].var(ddof=1)
                                           / (~d).sum())))
    rows = [{"estimator": "naive difference", "estimate": naive.estimate, "SE": naive.std_error,
             "95% CI": f"{naive.ci_lower:.3f} to {naive.ci_upper:.3f}"}]
    for label, res in (("PS matching 1:1, caliper 0.2 SD", psm), ("IPW (ATT)", ipw),
                       ("AIPW (ATT, doubly robust)", aipw)):
        o = res.overall
        if o is None:  # pragma: no cover - every fit sets it
            continue
        rows.append({"estimator": label, "estimate": o.estimate, "SE": o.std_error,
                     "95% CI": f"{o.ci_lower:.3f} to {o.ci_upper:.3f}"})
    table = pd.DataFrame(rows)
    table["truth"] = sim.att
    sec.table(table, "Effect on mean monthly GP consultations after the index month (ATT).")
    if psm.warnings:
        sec.text("Matching warnings: " + " ".join(psm.warnings))


def _matched_did(sec: Section, sim: Any, quick: bool) -> None:
    import matplotlib.pyplot as plt

    from ..plotting import event_study_plot
    from .did import match_cohort

    panel = patient_panel(sim)
    # match on the whole 12-month look-back that drove referral (a shorter window
    # leaves part of the selection, and its regression to the mean, unmatched);
    # each never-referred patient is a candidate only at their own pseudo-index month
    pre, post = (12, 6) if quick else (12, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mc = match_cohort(panel, pre_periods=pre, post_periods=post, lags=3,
                          control_index="index_month")
        es = mc.event_study()
    truth = sim.truth.query("outcome == 'gp_consultations' and target == 'event'")
    tv = truth.set_index("event_time")["value"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    event_study_plot(es.estimates, ax=ax, label="matched DiD (Callaway-Sant'Anna)")
    ax.plot(tv.loc[-pre:post - 1].index.astype(float), tv.loc[-pre:post - 1].to_numpy(),
            "k--", lw=1.2, label="truth")
    ax.legend(frameon=False, fontsize="small")
    ax.set_title("Matched difference-in-differences around the referral month")
    sec.figure(fig, f"Referred patients matched to never-referred ones with the same "
                    f"(pseudo-)index month on baseline covariates and {pre} months of prior "
                    f"consultations; effects by month since referral (base: month -1); "
                    f"dashed: the truth.")
    overall_truth = float(tv.loc[0:post - 1].mean())
    o = es.overall
    sec.table(pd.DataFrame([{
        "matched sets": int(mc.data["match_id"].nunique()),
        "estimate (months 0 on)": o.estimate, "SE": o.std_error,
        "95% CI": f"{o.ci_lower:.3f} to {o.ci_upper:.3f}", "truth": overall_truth,
    }]), "Average effect over the months from referral on (monthly consultations).")
