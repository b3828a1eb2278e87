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
# # From a PCN data extract to a `Panel`
#
# Every spimpact estimator takes a `Panel`: the data with the role of each
# column declared once (unit, period, outcome, cohort or treatment, exposure,
# clusters, nesting levels), checked once, and turned once into integer codes
# and float arrays. This vignette starts from the kind of extract an analyst
# receives (one row per GP practice and quarter, dates as text-like columns,
# the date each PCN's link-worker service started), and shows
#
# 1. the extract, and the `Panel` built from it (quarters as pandas Periods,
#    the cohort from a start-date column, exposure = list size, levels
#    practice / PCN / ICB);
# 2. the same cohorts from a 0/1 "link worker in post" indicator, and from a
#    polars DataFrame;
# 3. the derived views: `describe()`, the cohorts, event time,
#    `plot_rollout()`;
# 4. aggregation to PCNs, and a balanced sub-panel;
# 5. what the errors look like when the extract has a problem.

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import spimpact as sp
from spimpact.simulate import pcn_rollout

# %% [markdown]
# ## The extract
#
# The data are simulated (an England-like rollout with 300 PCNs, some practices
# opening or closing during the window), then reshaped to look like a typical
# extract: the quarter as the date it starts, and the service start as a day
# within its first quarter (missing for PCNs without a service by 2024Q4).

# %%
sim = pcn_rollout(n_pcns=300, unbalanced=True, random_state=2019)
rng = np.random.default_rng(1)
raw = sim.data
start_day = raw["cohort"].dt.start_time + pd.to_timedelta(
    rng.integers(0, 80, raw["pcn"].nunique())[raw["pcn"].str[3:].astype(int) - 1], unit="D")
extract = pd.DataFrame({
    "practice_code": raw["practice"],
    "pcn_code": raw["pcn"],
    "icb_code": raw["icb"],
    "quarter_start": raw["quarter"].dt.start_time,  # a date, as extracts usually have
    "lw_start_date": start_day,  # NaT: no link-worker service yet
    "lw_in_post": raw["treated"],
    "list_size": raw["list_size"],
    "ae_attendances": raw["ae_attendances"],
    "imd_score": raw["imd_score"],
})
extract.head()

# %% [markdown]
# ## The Panel
#
# Quarters are best given as pandas Periods: a start date anywhere in a
# quarter then belongs to that quarter. (Dates work as time too; a start date
# is then placed at the first period on or after it, with a warning when that
# moves it.) Counts get their population at risk as `exposure`.

# %%
extract["quarter"] = extract["quarter_start"].dt.to_period("Q")
panel = sp.Panel(
    extract,
    outcome="ae_attendances",
    unit="practice_code",
    time="quarter",
    cohort="lw_start_date",
    exposure="list_size",
    covariates=["imd_score"],
    cluster="pcn_code",
    levels=["practice_code", "pcn_code", "icb_code"],
)
panel

# %%
panel.describe()

# %% [markdown]
# The cohorts are shown in the data's own labels (quarters); the never-treated
# practices form the row with no cohort.

# %%
panel.cohorts.head(8)

# %% [markdown]
# ## The same cohorts from a treatment indicator, or from polars
#
# A 0/1 indicator that switches on and stays on gives each practice's cohort as
# its first quarter with a 1. Two things an indicator cannot tell, both about
# practices that did not exist for the whole window:
#
# * a practice that opened after its PCN's service started is already treated
#   when first seen, so its true start is unknown: the `Panel` takes its first
#   observed quarter and says so (a `DataWarning`, kept in `notes`);
# * a practice that closed before its PCN's service started never shows a 1,
#   so it looks never treated.
#
# Every other practice gets the same cohort either way.

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from_indicator = sp.Panel(extract, outcome="ae_attendances", unit="practice_code",
                              time="quarter", treatment="lw_in_post", exposure="list_size")
print(from_indicator.notes[0])
by_practice = extract.groupby("practice_code").agg(
    first_seen=("quarter", "min"), last_seen=("quarter", "max"),
    started=("lw_start_date", "first"))
started = by_practice["started"].dt.to_period("Q")
opened_late = by_practice["first_seen"] > started
closed_early = by_practice["last_seen"] < started
differ = from_indicator.unit_cohort_codes != panel.unit_cohort_codes
print(f"{differ.sum()} practices differ: {opened_late.sum()} opened after their PCN started, "
      f"{closed_early.sum()} closed before")
assert (differ == (opened_late | closed_early).to_numpy()).all()

# %% [markdown]
# A polars DataFrame works the same way. polars has no quarter type, so the
# quarter comes as text (`"2019Q3"`), which the `Panel` reads as pandas
# Periods. (With the quarter's start date as time, a start date inside a
# quarter would go to the next quarter start, with a `DataWarning` saying so.)

# %%
try:
    import polars as pl
except ImportError:  # polars is optional
    pl = None
if pl is not None:
    as_polars = pl.from_pandas(extract.assign(quarter=extract["quarter"].astype(str)))
    from_polars = sp.Panel(as_polars, outcome="ae_attendances", unit="practice_code",
                           time="quarter", cohort="lw_start_date", exposure="list_size")
    assert np.array_equal(from_polars.cohort_codes, panel.cohort_codes)
    print(from_polars.periods[:4])

# %% [markdown]
# ## Event time and the rollout
#
# `event_time` counts the periods since a practice's cohort (NaN for practices
# never treated in the window). `plot_rollout()` shows the staggered adoption:
# one row per practice, sorted by cohort.

# %%
frame = panel.frame.assign(event_time=panel.event_time)
frame.loc[frame["event_time"].between(-2, 2), ["practice_code", "quarter", "event_time"]].head()

# %%
panel.plot_rollout()
plt.show()

# %% [markdown]
# ## Aggregating to PCNs
#
# `aggregate(to="pcn_code")` sums the counts and the list sizes over a PCN's
# practices in each quarter and takes list-size-weighted means of numeric
# covariates. The cohort is carried up because it is the same for every
# practice of a PCN; the PCN, which was the cluster, is now the unit.

# %%
pcns = panel.aggregate(to="pcn_code")
print(pcns)
print(pcns.notes[-1])
pcn_frame = pcns.frame
pcn_frame["per_1000"] = 1000 * pcn_frame["ae_attendances"] / pcn_frame["list_size"]
pcn_frame.head()

# %% [markdown]
# ## A balanced sub-panel
#
# Some practices opened or closed during the window, so the panel is
# unbalanced. Estimators in spimpact use unbalanced panels as they are;
# `balanced()` keeps only the practices seen in every quarter, and says what it
# dropped (in a `DataWarning` and in `notes`).

# %%
print("balanced:", panel.is_balanced)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    complete = panel.balanced()
print(caught[0].message)
print(complete)

# %% [markdown]
# ## Missing outcomes are never dropped silently
#
# Rows whose outcome is missing are set aside with a `DataWarning` that counts
# them; the count stays in `notes` and `describe()`.

# %%
gaps = extract.copy()
gaps.loc[gaps.sample(25, random_state=3).index, "ae_attendances"] = np.nan
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with_gaps = sp.Panel(gaps, outcome="ae_attendances", unit="practice_code", time="quarter",
                         cohort="lw_start_date", exposure="list_size")
print(caught[0].message)
assert with_gaps.n_obs == panel.n_obs - 25

# %% [markdown]
# ## What errors look like
#
# Problems in the data raise a `PanelError` (a `ValueError`) that names the
# column, the offending rows or values, and what to do. The extract itself is
# never modified.

# %%
roles = dict(outcome="ae_attendances", unit="practice_code", time="quarter",
             exposure="list_size")
problems = {
    "a practice-quarter twice": (pd.concat([extract, extract.iloc[[10]]]), {}),
    "a list size of zero": (extract.assign(list_size=extract["list_size"].where(
        extract.index != 5, 0)), {}),
    "the service switched off": (extract.assign(lw_in_post=extract["lw_in_post"].where(
        ~((extract["practice_code"] == extract.loc[extract["lw_in_post"] == 1, "practice_code"]
           .iloc[0]) & (extract["quarter"] == extract["quarter"].max())), 0)),
        {"treatment": "lw_in_post"}),
    "a practice in two PCNs": (extract.assign(pcn_code=extract["pcn_code"].where(
        extract.index != 0, "PCN9999")), {"levels": ["practice_code", "pcn_code"]}),
    "a typo in a column name": (extract, {"covariates": ["imd"]}),
}
before = extract.copy()
for what, (data, extra) in problems.items():
    try:
        sp.Panel(data, **roles, **extra)
    except sp.PanelError as err:
        print(f"{what}:\n  {err}\n")
pd.testing.assert_frame_equal(extract, before)  # the extract is unchanged
