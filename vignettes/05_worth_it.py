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
# # Was it worth it, and for whom?
#
# The last two parts of the evaluation question. On the simulated England:
#
# 1. effect draws on service use from the fitted DiD -> the change in NHS
#    costs -> ICER, INMB, CEAC and EVPI -> budget impact by ICB;
# 2. the published SPRING_NE cost-utility result, reproduced from its inputs;
# 3. link-worker provision against need over time, with the concentration
#    and slope indices of inequality;
# 4. effects by deprivation and rurality with multiplicity control.
#
# The simulated effects are the simulator's default scenario, not estimates
# for England, and the unit costs are indicative defaults: the point is the
# path from an estimate to a decision, which is the same with real data.

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import spimpact as sp
from spimpact import econ, equity
from spimpact.did import CallawaySantAnna
from spimpact.simulate import link_worker_provision, pcn_rollout

warnings.simplefilter("ignore", sp.StatisticalWarning)
sim = pcn_rollout(n_pcns=300, n_icbs=12, covid=False, random_state=7)

# %% [markdown]
# ## 1. From effect draws to costs
#
# Fit the same estimator, with the same seed, to each outcome. The panels have
# the same practices and PCN clusters, so the multiplier bootstrap uses the
# same multipliers: draw `s` of every outcome comes from one joint bootstrap
# replicate, and the correlation between outcomes is kept.

# %%
draws = {}
for outcome in ("gp_consultations", "ae_attendances", "emergency_admissions", "wellbeing"):
    res = CallawaySantAnna(control_group="not_yet_treated", covariates=(), bootstrap=299,
                           random_state=1).fit(sim.panel(outcome, exposure=None))
    draws[outcome] = res.draws()          # the overall ATT, per practice-quarter
    print(f"{outcome:22s} {res.overall}")

# %% [markdown]
# Effects on counts are per practice and quarter. Per practice and year, the
# change in NHS costs uses the indicative unit costs (replace them with the
# current PSSRU and National Cost Collection values):

# %%
print(econ.DEFAULT_UNIT_COSTS[["item", "unit_cost", "source"]].to_string(index=False))
service = {k: v for k, v in draws.items() if k != "wellbeing"}
nhs_change = econ.service_cost_change(service, scale=4.0)      # GBP per practice-year
practices_per_pcn = sim.data.groupby("pcn")["practice"].nunique().mean()
programme = float(econ.link_worker_cost(1.0)) / practices_per_pcn  # 1 FTE per PCN
delta_cost = programme + nhs_change
print(f"programme GBP {programme:,.0f}; NHS change GBP {nhs_change.mean():,.0f} "
      f"(95% {np.quantile(nhs_change, 0.025):,.0f} to {np.quantile(nhs_change, 0.975):,.0f})")

# %% [markdown]
# ## 2. Cost-effectiveness
#
# The wellbeing score needs a conversion to QALYs. This is an *assumption*, to
# be replaced by a mapping the evaluation can defend: here a one-point gain in
# the practice's mean wellbeing, sustained for a year, is taken to be worth
# 0.02 QALYs per registered patient.

# %%
QALY_PER_POINT_YEAR = 0.02
list_size = sim.data.groupby("practice")["list_size"].first().mean()
delta_qaly = draws["wellbeing"] * QALY_PER_POINT_YEAR * list_size   # per practice-year
ce = econ.cost_effectiveness(delta_cost, delta_qaly, population=sim.data["practice"].nunique())
print(ce.summary())
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
ce.plot_plane(ax=axes[0])
ce.plot_ceac(ax=axes[1])

# %% [markdown]
# In the simulation the programme saves more than it costs and improves
# wellbeing: it *dominates* usual care, the INMB is positive at any threshold
# and the CEAC is 1. Real evaluations are rarely so clear. SPRING_NE
# (Moffatt et al. 2023), a link-worker programme for people with type 2
# diabetes, reported an incremental cost of GBP 1,309 and 0.004 QALYs (95% CI
# -0.022 to 0.029) per participant:

# %%
spring = econ.cost_effectiveness(1309.0, 0.004, effect_ci=(-0.022, 0.029),
                                 wtp=econ.DEFAULT_WTP, population=1_000)
print(f"ICER GBP {spring.icer:,.0f} per QALY")
print(spring.summary_table().to_string(index=False))
assert round(spring.icer) == 327_250

# %% [markdown]
# ## 3. Budget impact by ICB
#
# Five years, NICE's 3.5% discount rate, using the expected costs per practice.

# %%
practices = sim.data.drop_duplicates("practice")[["practice", "icb"]]
practices = practices.assign(programme=programme, nhs_change=float(nhs_change.mean()))
bi = econ.budget_impact(practices, programme_cost="programme", cost_change="nhs_change",
                        by="icb", horizon=5)
print(bi[bi["year"] == 5][["icb", "cumulative_net_discounted"]].to_string(index=False))

# %% [markdown]
# ## 4. Was the programme where the need was?
#
# Link-worker FTE per 10,000 patients in each quarter, regressed on need
# measured before the rollout, as in Wilding et al. (2024), on an England-sized
# simulation (about 1,250 PCNs): in the simulation, as in England, the slope
# turns negative from mid-2022.

# %%
england = pcn_rollout(covid=False, random_state=7)
prov = link_worker_provision(england, random_state=8)
pvn = equity.provision_vs_need(prov, provision="fte_per_10k", need="need_for_support",
                               time="quarter", weights="list_size", area="pcn")
print(pvn.estimates.tail(4).to_string(index=False))
assert (pvn.estimates["ci_upper"].tail(2) < 0).all()
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
pvn.plot(ax=axes[0])
pvn.plot_gaps(ax=axes[1], by="icb", top=8)
print(pvn.gaps(by="icb").head(3).to_string(index=False))

# %% [markdown]
# How unequal is provision by deprivation in the last quarter? Ranking PCNs
# from the most deprived (minus the IMD score, ascending):

# %%
last = prov[prov["quarter"] == prov["quarter"].max()]
ci = equity.concentration_index(last["fte_per_10k"], -last["imd_score"], last["list_size"])
sii = equity.slope_index(last["fte_per_10k"], -last["imd_score"], last["list_size"])
print(ci)
print(sii)
ci.plot()

# %% [markdown]
# ## 5. For whom did it work?
#
# Effects on wellbeing by deprivation quintile and rurality, with the joint
# test that the subgroup effects are equal, p-values adjusted within each
# characteristic, and the most against the least deprived quintile.

# %%
panel = sim.panel("wellbeing", covariates=("deprivation_quintile", "rural"))
cs = CallawaySantAnna(control_group="not_yet_treated", covariates=())
summary = equity.subgroup_effects(
    {"deprivation": cs.fit(panel, by="deprivation_quintile"), "rural": cs.fit(panel, by="rural")},
    contrasts={"deprivation": (5, 1)})
pd.set_option("display.width", 120)
print(summary.table.round(4).to_string(index=False))
print(summary.heterogeneity.to_string(index=False))
print(summary.contrasts.round(4).to_string(index=False))
summary.plot()
