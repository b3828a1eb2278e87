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
# # How wrong could parallel trends be? Sensitivity of the link-worker evaluation
#
# The link-worker rollout began in July 2019 and COVID-19 arrived within
# months. If the pandemic hit the areas that adopted early differently from
# their comparisons, parallel trends fail exactly when the effects are
# measured. The pre-period cannot rule this out: it is short, and a pre-test
# that "passes" may simply lack power. This vignette asks, on a simulated
# England-like panel with a COVID-19 shock that is harder in deprived areas
# (which adopted later), the question every referee of a DiD now asks: **how
# large a violation of parallel trends would overturn the conclusion?**
#
# 1. an event study with one reference period (the quarter before adoption);
# 2. what the pre-test can and cannot detect (Roth 2022);
# 3. robust intervals under relative-magnitude and smoothness restrictions
#    (Rambachan and Roth 2023) and the **breakdown value**;
# 4. a placebo test in time.

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np

import spimpact as sp
from spimpact.did import CallawaySantAnna, placebo_in_time
from spimpact.simulate import CLASSIC_ROLLOUT, pcn_rollout

warnings.simplefilter("ignore", sp.StatisticalWarning)

# %% [markdown]
# ## The data
#
# 150 PCNs (about 770 practices, to keep this fast), quarterly 2018Q1-2024Q4.
# The true effect on the wellbeing score is a constant 0.08 points from the
# first quarter of the service. The COVID-19 shock (2020Q2-2021Q1) lowers
# wellbeing, twice as much per SD of deprivation (`covid_deprivation=2`), and
# deprived PCNs started later: the shock is a violation of parallel trends.

# %%
sim = pcn_rollout(**{
    **CLASSIC_ROLLOUT,  # the first simulator: 15% of PCNs never treated, independent noise
    "n_pcns": 150, "n_icbs": 10, "covid": True, "covid_deprivation": 2.0,
    "effect_size": {"gp_consultations": -0.04, "ae_attendances": -0.03,
                    "emergency_admissions": -0.02, "wellbeing": 0.08},
}, random_state=2020)
panel = sim.panel("wellbeing")
panel

# %% [markdown]
# ## An event study against one reference period
#
# Sensitivity analysis compares post-period coefficients with pre-period ones,
# so every coefficient must be measured against the same period: the quarter
# before adoption (`base_period="universal"`). (The default "varying" base
# period compares each pre-period quarter with the one before it; asking it
# for bounds raises an error that says so.)

# %%
res = CallawaySantAnna(base_period="universal", method="reg").fit(panel)
event = res.aggregate("event", min_event=-6, max_event=3)
event.estimates.round(3)

# %%
event.plot()
plt.show()

# %% [markdown]
# The pre-period coefficients are small and insignificant: the usual check
# passes. The first-quarter effect is 0.076 (truth 0.08) and significant.

# %% [markdown]
# ## What could the pre-test have missed?
#
# `pretrend_power` finds the linear trend in the difference between adopters
# and comparisons that the pre-test (any pre-period coefficient significant at
# 5%) would detect 80% of the time, and the bias such a trend would put in
# each post-period estimate. `bias_given_pass` is the bias among samples
# whose pre-test passes, the ones a researcher would go on to report.

# %%
power = res.pretrend_power(0.8, window=(-6, 3))
print(f"trend detected with 80% power: {power.slope:.4f} points per quarter")
power.bias.round(4)

# %% [markdown]
# A trend of that size, which the pre-test misses one time in five, would bias
# the first-quarter estimate by a sizeable fraction of the effect (more among
# the samples that pass the pre-test), and the later quarters by more: the
# pre-test alone does not settle the question.

# %% [markdown]
# ## Relative magnitudes: the breakdown value
#
# Under $\Delta^{RM}(\bar M)$ the change in the violation of parallel trends
# between consecutive post-period quarters is at most $\bar M$ times the
# largest such change between consecutive pre-period quarters. $\bar M = 1$:
# the post-period (COVID) quarters are allowed to be as bad as the worst
# pre-period quarter; $\bar M = 2$: twice as bad. The robust interval for the
# first-quarter effect uses the conditional least-favourable hybrid test of
# the authors' package.

# %%
rm = res.honest_bounds("relative_magnitudes", grid=[0, 0.5, 1, 1.5, 2, 2.5, 3],
                       window=(-6, 3))
print(rm.summary())

# %%
rm.plot()
plt.show()

# %% [markdown]
# The **breakdown value** is the smallest $\bar M$ whose interval includes
# zero: the first-quarter effect stays significant as long as the COVID-era
# violation is less than that multiple of the worst pre-period quarter-to-quarter
# change. Report it beside the estimate: "significant unless post-adoption
# violations exceed `rm.breakdown` times the largest pre-adoption one".

# %%
print(f"breakdown Mbar: {rm.breakdown}")

# %% [markdown]
# For the average effect over the first four quarters (`l_vec="average"`),
# which is smaller and noisier, the conclusion is far more fragile:

# %%
rm_avg = res.honest_bounds("relative_magnitudes", grid=[0, 0.25, 0.5, 1],
                           window=(-6, 3), l_vec="average")
rm_avg.estimates.round(4)

# %% [markdown]
# ## Smoothness: how far from a linear trend?
#
# Under $\Delta^{SD}(M)$ the slope of the violation may change by at most
# $M$ points per quarter between consecutive quarters; $M = 0$ allows only an
# exact linear trend, extrapolated from the pre-period. The intervals are
# the optimal fixed-length confidence intervals.

# %%
sd = res.honest_bounds("smoothness", grid=np.linspace(0, 0.02, 5), window=(-6, 3))
print(sd.summary())

# %% [markdown]
# ## A placebo in time
#
# Moving every cohort two quarters earlier, the placebo effects compare
# quarters before the real adoption only; with parallel trends they are zero.

# %%
placebo = placebo_in_time(CallawaySantAnna(base_period="universal", method="reg"), panel,
                          shift=2)
print(placebo.estimate)

# %% [markdown]
# ## Checks against the truth
#
# The simulation knows the true first-quarter effect (0.08): the robust
# intervals at small $\bar M$ cover it, and the breakdown value is above zero,
# so the significant effect is not an artefact of exactly parallel trends.

# %%
assert rm.estimates["ci_lower"].iloc[0] < 0.08 < rm.estimates["ci_upper"].iloc[0]
assert rm.breakdown > 0
assert abs(placebo.estimate.estimate) < 4 * placebo.estimate.std_error
