"""The standard scenarios, registered when :mod:`spimpact.bench` is imported.

Rollout scenarios share a small design (150 PCNs in 15 ICBs, 2018Q1-2021Q4,
start quarters 2019Q1-2021Q2, random timing, no COVID-19 shock, the first
version of the simulator: :data:`~spimpact.simulate.CLASSIC_ROLLOUT`), the
wellbeing score as outcome (a Gaussian score: its truth is in points) and no
covariates, and change one thing each. The ``england*`` scenarios
(:mod:`spimpact.bench._england`) start from the simulator's realistic defaults. ``patient_confounding`` draws a
confounded patient cohort (for matching and weighting) and
``its_autocorrelated`` one monthly series with AR(1) noise (for interrupted
time series). Override any parameter, e.g.
``get_scenario("heterogeneous_dynamic", n_pcns=1250, n_icbs=42)``.
"""

from __future__ import annotations

import math

from ..simulate import CLASSIC_ROLLOUT
from .scenarios import Scenario, register_scenario

__all__: list[str] = []

#: The small rollout every staggered scenario starts from.
SMALL_ROLLOUT = {
    **CLASSIC_ROLLOUT,
    "n_pcns": 150, "n_icbs": 15, "start": "2018Q1", "end": "2021Q4",
    "first_start": "2019Q1", "last_start": "2021Q2",
    "selection_on_need": 0.0, "covid": False, "effect": "constant",
}
MODERN = ("callaway_santanna", "sun_abraham", "imputation", "two_stage", "etwfe")
ALL_DID = (*MODERN, "twfe")
NO_COVARIATES = {"covariates": ()}
AREA_COVARIATES = {"covariates": ("imd_score", "ethnic_minority_share", "rural")}


def _rollout(name: str, summary: str, details: str, changes: dict, *, outcome: str = "wellbeing",
             panel_args: dict | None = None, should_pass: tuple = ALL_DID,
             should_fail: tuple = ()) -> None:
    register_scenario(Scenario(
        name=name, summary=summary, details=details, simulator="pcn_rollout",
        params={**SMALL_ROLLOUT, **changes}, outcome=outcome,
        panel_args=NO_COVARIATES if panel_args is None else panel_args,
        should_pass=should_pass, should_fail=should_fail,
    ))


_rollout(
    "homogeneous",
    "one constant effect for every practice and quarter: every estimator should pass",
    "Wellbeing rises by 0.3 points from a PCN's start quarter on, the same in every cohort "
    "and quarter; start quarters are random. Parallel trends hold and effects are "
    "homogeneous, so static two-way fixed effects is unbiased too. A baseline: an "
    "estimator failing here is broken.",
    {},
)
_rollout(
    "heterogeneous_dynamic",
    "effects differ by cohort and grow with time: TWFE is biased, the modern estimators are not",
    "The effect ramps up over 8 quarters and early cohorts gain more than late ones "
    "(RolloutParams: effect='heterogeneous_dynamic', cohort_heterogeneity=0.5, "
    "deprivation_heterogeneity=0: the effect is the same for every practice of a cohort in a "
    "quarter). "
    "Static TWFE uses already-treated practices as controls and weights cells in ways that "
    "can be negative (Goodman-Bacon 2021; de Chaisemartin & D'Haultfoeuille 2020): it is "
    "biased for the overall ATT. Estimators that only compare with not-yet- or never-treated "
    "units (Callaway-Sant'Anna, Sun-Abraham, imputation, two-stage) are unbiased.",
    {"effect": "heterogeneous_dynamic", "deprivation_heterogeneity": 0.0},
    should_pass=MODERN, should_fail=("twfe",),
)
_rollout(
    "selection_on_need",
    "parallel trends hold only given covariates: covariate-adjusted estimators pass",
    "Deprived, diverse and rural areas start later or never (selection_on_need=1) and "
    "their wellbeing drifts down by 0.1 points a year per SD of the IMD score "
    "(deprivation_trend=-0.1): unconditional parallel trends fail, parallel trends given the "
    "area covariates (IMD score, ethnic-minority share, rurality) hold. The panel carries "
    "those covariates: Callaway-Sant'Anna's doubly robust estimator adjusts for them and "
    "passes; estimators whose covariates are absorbed by unit fixed effects (time-invariant "
    "covariates) do not adjust trends and are biased.",
    {"selection_on_need": 1.0, "deprivation_trend": -0.1},
    panel_args=AREA_COVARIATES,
    should_pass=("callaway_santanna", "callaway_santanna[method='reg']"),
    should_fail=("sun_abraham", "imputation", "two_stage", "twfe"),
)
_rollout(
    "covid_shock",
    "a COVID-19 shock in mid-rollout that hits deprived areas harder, who also start later",
    "Wellbeing falls by 0.4 points in 2020Q2-2021Q1, by half as much again per SD of "
    "deprivation (covid_deprivation=0.5), and deprived areas start later (selection_on_need=1). "
    "Parallel trends fail during the shock unless one adjusts for deprivation; the panel "
    "carries the area covariates. Covariate-adjusted Callaway-Sant'Anna should pass; "
    "the fixed-effects estimators without covariate-specific trends should not.",
    {"covid": True, "covid_deprivation": 0.5, "selection_on_need": 1.0},
    panel_args=AREA_COVARIATES, should_pass=("callaway_santanna",),
    should_fail=("sun_abraham", "imputation", "two_stage", "twfe"),
)
_rollout(
    "anticipation",
    "the effect starts one quarter before the recorded start: estimators must be told",
    "Practices change a quarter before the PCN's recorded start (anticipation=1), so the "
    "usual base period is already treated and every estimator that assumes no anticipation "
    "is biased towards zero. Callaway-Sant'Anna with anticipation=1 (label "
    "'callaway_santanna[anticipation=1]') compares with the quarter before the "
    "anticipation and passes. The truth is the ATT over the recorded treated quarters.",
    {"anticipation": 1},
    should_pass=("callaway_santanna[anticipation=1]",), should_fail=ALL_DID,
)
_rollout(
    "null",
    "no effect anywhere: rejection rates are the tests' size (nominal 5%)",
    "effect='none': every estimator's 95% interval should exclude zero in about 5% of "
    "replications (the rejection_rate column) and cover the zero truth in about 95%.",
    {"effect": "none"},
)
_rollout(
    "few_clusters",
    "one ICB, about 30 PCNs: cluster-robust inference with few clusters",
    "30 PCNs (about 150 practices) in one ICB; treatment varies by PCN and inference clusters "
    "on PCNs, so there are 30 clusters, only a few per cohort. Point estimates stay unbiased. "
    "Cluster-robust standard errors are biased downwards with few clusters, so coverage may "
    "fall below 95%; how far depends on how each estimator's variance leans on the few "
    "clusters of each cohort. No verdict is documented in advance: this scenario measures "
    "the damage.",
    {"n_pcns": 30, "n_icbs": 1},
    should_pass=(), should_fail=(),
)
_rollout(
    "unbalanced",
    "practices close, merge or open during the panel (an unbalanced panel)",
    "About 6% of practices stop reporting part-way (closure or merger) and 2% start late "
    "(unbalanced=True), at random. Estimators must use every observed practice-quarter "
    "without assuming a balanced panel; with a constant effect all of them should pass.",
    {"unbalanced": True},
)
_rollout(
    "ae_attendances",
    "A&E attendance counts per practice-quarter with a 2% fall: the power-analysis design",
    "Counts are Poisson around list size x rate; the effect is a 2% fall in the rate "
    "(effect_size log(0.98)), start quarters random. The truth is the fall in expected "
    "attendances per practice-quarter. Use with spimpact.bench.power() to find how many "
    "PCNs and quarters detect such a fall. The DiD estimators analyse the counts "
    "themselves (the panel has no exposure= role: they model the level).",
    {"effect_size": {"ae_attendances": math.log(0.98)}},
    outcome="ae_attendances", panel_args={**NO_COVARIATES, "exposure": None},
)

_rollout(
    "ae_attendances_rates",
    "A&E attendances over list size: Poisson ETWFE with the list as exposure",
    "As ae_attendances (a 2% fall in the rate, start quarters random), with list size as the "
    "panel's exposure= role. Poisson extended TWFE (etwfe[family='poisson']) models the "
    "counts as list size x rate with unit and quarter effects and cohort x quarter "
    "treatment effects on the log scale; its ATT(g,t) and overall effect are on the counts' "
    "scale (the fall in expected attendances per practice-quarter), the same truth as "
    "ae_attendances. The level estimators refuse an exposure they would not use.",
    {"effect_size": {"ae_attendances": math.log(0.98)}},
    outcome="ae_attendances", panel_args={**NO_COVARIATES, "exposure": "list_size"},
    should_pass=("etwfe[family='poisson']",),
)

register_scenario(Scenario(
    name="patient_confounding",
    summary="referral depends on age, deprivation, multimorbidity and prior GP use",
    details="Patients referred to a link worker are older, more deprived, more multimorbid and "
            "heavier prior users of GP care (patient_cohort, selection=1; 4,000 patients, about "
            "12% referred); the effect is a 10% fall in monthly GP consultations after "
            "referral. The naive referred-versus-not difference is badly biased (it has the "
            "wrong sign: about +0.3 consultations a month against a true ATT of about -0.08). "
            "Referral is logistic in the recorded covariates (age, sex, ethnicity, IMD "
            "quintile, multimorbidity, prior GP use), so ATT-weighting with a logit propensity "
            "score (ipw) and its doubly robust version (aipw) should pass. Propensity-score "
            "matching is judged against the ATT of all referred patients: with the default "
            "caliper it drops the referred patients without a close match (the heaviest "
            "users, whose absolute effect is largest), so it estimates the effect on the "
            "matched referred patients and is pulled towards zero; without a caliper, 1:1 "
            "matching without replacement runs out of good controls and is biased "
            "(psm[caliper=None] should fail).",
    simulator="patient_cohort",
    params={"n_patients": 4000, "n_practices": 40},
    outcome="outcome_post",
    should_pass=("ipw", "aipw"),
    should_fail=("psm[caliper=None]",),
))

register_scenario(Scenario(
    name="its_autocorrelated",
    summary="one monthly series with strongly autocorrelated noise and a 10% level change",
    details="108 months (2015-01 to 2023-12) of a log rate with a trend, an annual cycle, "
            "AR(1) noise (coefficient 0.7) plus measurement noise, and a level change of "
            "log(0.9) from 2019-07 (interrupted_series; the outcome y is the noisy log rate, so "
            "the truth is the log rate ratio). Point estimates of the level change are unbiased "
            "whatever the error model; the question is inference. Ordinary least-squares SEs "
            "ignore the autocorrelation and are far too small "
            "(its[autocorrelation=None] should fail). Newey-West (HAC) SEs and ARMA errors "
            "repair part of the gap, but with nine years of monthly data both stay below "
            "nominal coverage (the AR coefficient is underestimated in short series; Turner "
            "et al. 2021, BMC Med Res Methodol 21:181); none is expected to pass outright.",
    simulator="interrupted_series",
    params={"ar": 0.7, "noise_sd": 0.03},
    outcome="y",
    should_pass=(),
    should_fail=("its[autocorrelation=None]",),
))

register_scenario(Scenario(
    name="its_ar1",
    summary="one monthly series with AR(1) errors (rho 0.5) and a 10% level change",
    details="108 months (2015-01 to 2023-12) of a log rate with a trend, an annual cycle and "
            "pure AR(1) errors (coefficient 0.5, innovation SD 0.03, no measurement noise), "
            "and a level change of log(0.9) from 2019-07 (interrupted_series with y_sd=0; the "
            "outcome y is the log rate). The runs vary the AR coefficient (0 to 0.7) and the "
            "length (24 to 108 months, centred on the interruption). The question is the "
            "coverage of each autocorrelation correction, with and without small_sample=True "
            "(Newey-West with the Lazarus-Lewis-Stock-Watson bandwidth and fixed-b critical "
            "values; ARMA errors by REML with Satterthwaite df). OLS SEs should fail with "
            "autocorrelated errors; the small-sample routes are expected to cover at 108 "
            "months and rho 0.5 (target: 0.925-0.975).",
    simulator="interrupted_series",
    params={"ar": 0.5, "noise_sd": 0.03, "y_sd": 0.0},
    outcome="y",
    should_pass=("its[autocorrelation='arma', small_sample=True]",),
    should_fail=("its[autocorrelation=None]",),
))

register_scenario(Scenario(
    name="its_ar1_counts",
    summary="monthly counts whose log rate has AR(1) noise, and a 10% level change",
    details="108 months of Poisson counts (population about 250,000, about 30 events per "
            "1,000 a month) whose log rate has a trend, an annual cycle and AR(1) noise "
            "(coefficient 0.5, innovation SD 0.03), with a level change of log(0.9) from "
            "2019-07 (interrupted_series). Quasi-Poisson segmented regression with Newey-West "
            "SEs, with and without small_sample=True (the LLSW bandwidth and fixed-b critical "
            "values on the score design).",
    simulator="interrupted_series",
    params={"ar": 0.5, "noise_sd": 0.03},
    outcome="count",
    should_pass=("its[family='quasipoisson', small_sample=True]",),
))
