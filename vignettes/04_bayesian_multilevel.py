# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # Bayesian multilevel models: radon, the link-worker rollout, and interrupted series
#
# `spimpact.bayes` fits hierarchical models with PyMC and nutpie (the `bayes`
# extra: `pip install 'spimpact[bayes]'`). This vignette
#
# 1. fits the classic Minnesota radon varying-intercept model with an
#    lme4-style formula, checks its convergence and its prior and posterior
#    predictive distributions, and shows partial pooling of county effects;
# 2. estimates the staggered rollout of link workers with a Bayesian DiD whose
#    cohort-by-period effects are partially pooled across cohorts and PCNs, and
#    sets its posterior event study beside Callaway & Sant'Anna's;
# 3. fits a multi-site interrupted time series with site-level level and slope
#    changes partially pooled.
#
# Sizes and draws are kept small so the vignette runs in about a minute.

# %%
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

import spimpact as sp
from spimpact.bayes import MultilevelDiD, MultilevelITS, MultilevelModel
from spimpact.did import CallawaySantAnna
from spimpact.its import Fourier
from spimpact.simulate import interrupted_series, pcn_rollout

warnings.simplefilter("ignore", sp.StatisticalWarning)

# %% [markdown]
# ## 1. Radon: a varying intercept by county
#
# Grouping columns are the panel's `levels`. The formula `y ~ x + (1 | county)`
# gives a fixed floor effect and a county intercept drawn from a normal
# distribution whose SD is estimated.

# %%
try:
    root = Path(__file__).resolve().parents[1]
except NameError:  # in a notebook opened from vignettes/
    root = Path.cwd().parent
radon = pd.read_csv(root / "tests" / "data" / "radon_mn.csv")  # Gelman & Hill's radon survey
panel = sp.Panel(radon, outcome="y", covariates=["x", "u"], levels=["county"])
model = MultilevelModel("y ~ x + (1 | county)", draws=500, tune=500, random_state=1)
fit = model.fit(panel)
fit.estimates

# %% [markdown]
# Posterior means agree with Gelman & Hill's lmer fit (intercept 1.46, floor
# -0.69, county SD 0.33, residual SD 0.76). The convergence gates (R-hat below
# 1.01, bulk and tail ESS of at least 400, no divergences) are checked on every
# parameter; a failure would appear as a warning on the result.

# %%
dict(fit.diagnostics), fit.warnings

# %% [markdown]
# The default priors are weakly informative and scaled to the data; the prior
# predictive check confirms they allow the observed outcome without allowing
# absurd ones.

# %%
fit.priors

# %%
pp = model.prior_predictive(panel, draws=200)
pp.summary

# %% [markdown]
# Partial pooling: a county's effect is pulled towards zero the more, the fewer
# homes it has.

# %%
ge = fit.group_effects("county").set_index("county")
n_homes = radon.groupby("county").size()
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.scatter(n_homes.loc[ge.index], ge["estimate"], s=12)
ax.set_xscale("log")
ax.set_xlabel("homes measured in the county")
ax.set_ylabel("county effect (posterior mean)")
ax.axhline(0, color="grey", lw=0.8)

# %%
fit.plot_ppc(n_draws=50)

# %% [markdown]
# ## 2. The link-worker rollout: a Bayesian staggered DiD
#
# `MultilevelDiD` models the practice-quarter outcome with practice and
# quarter effects and one effect per cohort and quarter, pooled across cohorts
# at the same event time; with `effect_level="pcn"` each PCN's effect may also
# differ, pooled across PCNs. Its aggregations use the same weights as the
# frequentist estimators. By default it assumes no effect before treatment (as
# the imputation estimator does), so its event study starts at event time 0;
# `leads=True` adds the pre-treatment cells.

# %%
sim = pcn_rollout(n_pcns=40, n_icbs=3, covid=False, effect="heterogeneous_dynamic",
                  random_state=2019)
rollout = sim.panel("wellbeing", covariates=())
bayes_did = MultilevelDiD(effect_level="pcn", draws=400, tune=400, random_state=1).fit(rollout)
bayes_did.overall

# %%
cs = CallawaySantAnna(base_period="universal", control_group="not_yet_treated").fit(rollout)
window = {"min_event": -6, "max_event": 10}
ev_bayes = bayes_did.aggregate("event", **window)
ev_cs = cs.aggregate("event", **window)
truth = sim.true_effect("wellbeing", "event").set_index("event_time")["value"].loc[-6:10]
fig, ax = plt.subplots(figsize=(7, 4))
ev_cs.plot(ax=ax, label="Callaway-Sant'Anna", color="C0", offset=-0.12, title="")
ev_bayes.plot(ax=ax, label="Bayesian multilevel DiD", color="C3", offset=0.12,
              title="Event study: posterior and frequentist")
ax.plot(truth.index, truth.to_numpy(), "k--", lw=1, label="truth")
ax.legend(frameon=False, fontsize="small")

# %% [markdown]
# PCN-level effects, shrunk towards the overall effect: PCNs whose own data
# are noisy borrow strength from the others.

# %%
lev = bayes_did.level_effects()
lev.sort_values("estimate").head()

# %% [markdown]
# ## 3. Several sites, one interrupted time series model
#
# Each site's interruption is its cohort; the level and slope changes vary by
# site around pooled means (log rate ratios here, as the outcome is a count
# with the population as exposure).

# %%
series = interrupted_series(n_series=4, n_control=1, stagger=6, noise_sd=0.0,
                            level_change=[-0.15, -0.05, -0.1, -0.12], random_state=3)
its_panel = sp.Panel(series.data, outcome="count", unit="series", time="month",
                     cohort="interruption", exposure="population")
its = MultilevelITS(family="poisson", seasonality=Fourier(12, 1), draws=400, tune=400,
                    random_state=1).fit(its_panel)
its.estimates.head(4)

# %%
its.site_effects()
