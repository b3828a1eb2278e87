"""The Bayesian section of ``spimpact demo``: a posterior event study beside the
frequentist Callaway-Sant'Anna one, and PCN-level effects with shrinkage."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..report import Section

__all__ = ["demo"]

OUTCOME = "wellbeing"


def demo(random_state: int = 2019, quick: bool = False, progress: bool = False) -> Section:
    """Fit the Bayesian multilevel DiD to a simulated rollout and compare it with
    Callaway & Sant'Anna and with the truth; show PCN effects and their shrinkage
    (``progress`` shows the sampler's progress bar)."""
    import matplotlib.pyplot as plt

    from ..did import CallawaySantAnna
    from ..plotting import event_study_plot
    from ..simulate import pcn_rollout
    from .did import MultilevelDiD

    sec = Section("Bayesian multilevel models")
    n_pcns, draws = (60, 400) if quick else (250, 1000)
    sim = pcn_rollout(n_pcns=n_pcns, n_icbs=max(3, n_pcns // 30), covid=False,
                      effect="heterogeneous_dynamic", random_state=random_state)
    panel = sim.panel(OUTCOME, covariates=())
    sec.text(
        f"A Bayesian staggered DiD on a simulated rollout ({n_pcns} PCNs, {panel.n_units:,} "
        f"practices, {panel.n_periods} quarters): practice and quarter effects, one effect per "
        "cohort and quarter partially pooled across cohorts at the same event time (their "
        "spread growing with event time), and PCN deviations of the effect partially pooled "
        "across PCNs and summing to zero within each cohort (PyMC, sampled with nutpie). "
        "Its event study uses the same weights as the frequentist estimators."
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = MultilevelDiD(effect_level="pcn", draws=draws, tune=draws, progress=progress,
                            random_state=random_state).fit(panel)
        cs = CallawaySantAnna(control_group="never_treated", base_period="universal").fit(panel)
    window = {"min_event": -6, "max_event": 10}
    ev_b, ev_f = res.aggregate("event", **window), cs.aggregate("event", **window)
    truth = sim.truth.query(f"outcome == '{OUTCOME}'")
    ev_truth = truth.query("target == 'event'").set_index("event_time")["value"].loc[-6:10]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    event_study_plot(ev_f.estimates, ax=ax, label="Callaway-Sant'Anna (95% CI)", color="C0",
                     offset=-0.12)
    event_study_plot(ev_b.estimates, ax=ax, label="Bayesian multilevel (95% credible)",
                     color="C3", offset=0.12)
    ax.plot(ev_truth.index, ev_truth.to_numpy(), "k--", lw=1.2, label="truth")
    ax.legend(frameon=False, fontsize="small")
    ax.set_title("Posterior and frequentist event studies")
    sec.figure(fig, "Event-time effects; dashed: the simulated truth.")
    rows = [{"estimator": "Bayesian multilevel DiD", **_row(res.overall)},
            {"estimator": "Callaway-Sant'Anna", **_row(cs.aggregate("simple").overall)}]
    table = pd.DataFrame(rows)
    table["truth"] = float(truth.query("target == 'overall'")["value"].iloc[0])
    sec.table(table, "Overall ATT (simple aggregation) with 95% intervals.")
    d = res.diagnostics
    sec.text(f"Convergence: max R-hat {d['max_rhat']:.3f}, min bulk ESS "
             f"{d['min_ess_bulk']:.0f}, {d['divergences']} divergences"
             + ("." if not res.warnings else f"; warnings: {' '.join(res.warnings)}"))
    _pcn_effects(sec, sim, panel, res)
    return sec


def _row(e) -> dict:
    return {"estimate": e.estimate, "SE / posterior SD": e.std_error,
            "interval": f"{e.ci_lower:.3f} to {e.ci_upper:.3f}"}


def _pcn_effects(sec: Section, sim, panel, res) -> None:
    """PCN effects against each PCN's true effect and its own raw estimate."""
    import matplotlib.pyplot as plt

    lev = res.level_effects().set_index("pcn")
    df = panel.frame
    treated = panel.treated.astype(bool)
    exp = sim.expected.loc[df.index]
    delta = (exp[f"{OUTCOME}_mu1"] - exp[f"{OUTCOME}_mu0"]).to_numpy()
    true_pcn = pd.Series(delta[treated]).groupby(df["pcn"].to_numpy()[treated]).mean()
    raw = _raw_pcn_effects(panel)
    common = lev.index.intersection(true_pcn.index).intersection(raw.index)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(true_pcn[common], raw[common], s=14, color="0.6", label="PCN's own DiD")
    ax.scatter(true_pcn[common], lev.loc[common, "estimate"], s=14, color="C3",
               label="partially pooled (posterior mean)")
    lim = [float(true_pcn[common].min()), float(true_pcn[common].max())]
    ax.plot(lim, lim, "k--", lw=1)
    ax.set_xlabel("true PCN effect")
    ax.set_ylabel("estimate")
    ax.legend(frameon=False, fontsize="small")
    ax.set_title("PCN-level effects: shrinkage towards the overall effect")
    sec.figure(fig, "Each PCN's effect over its treated quarters: its own DiD (grey) and the "
                    "partially pooled posterior mean (red); dashed: equality with the truth.")
    err = pd.DataFrame({
        "estimate": ["PCN's own DiD", "partially pooled"],
        "RMSE against the true PCN effect": [
            float(np.sqrt(np.mean((raw[common] - true_pcn[common]) ** 2))),
            float(np.sqrt(np.mean((lev.loc[common, "estimate"] - true_pcn[common]) ** 2)))],
    })
    sec.table(err, "Root mean squared error of the PCN effects against the simulated truth.")


def _raw_pcn_effects(panel) -> pd.Series:
    """A PCN's own DiD: its treated rows' mean change from its pre-period rows,
    minus the same change among never-treated practices (a no-pooling benchmark)."""
    df = panel.frame
    y = panel.y
    t = panel.time_codes
    coh = panel.cohort_codes
    never = ~np.isfinite(coh)
    period_mean = pd.Series(y[never]).groupby(t[never]).mean()
    adj = y - period_mean.reindex(t).to_numpy()
    post = panel.treated.astype(bool)
    pre = np.isfinite(coh) & ~post
    pcn = df["pcn"].to_numpy()
    post_m = pd.Series(adj[post]).groupby(pcn[post]).mean()
    pre_m = pd.Series(adj[pre]).groupby(pcn[pre]).mean()
    return (post_m - pre_m).dropna()
