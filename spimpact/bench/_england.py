"""Realistic scenarios, registered with the standard ones: England as the programme was.

Built on :func:`~spimpact.simulate.pcn_rollout`'s defaults: near-universal uptake
from 2019Q3 (about 92% of PCNs started by 2021Q2, 3% never), start dates later
where need is higher (deprived urban areas, ethnic diversity), in the North West
and London and in some ICBs, ICB x quarter and PCN x quarter shocks, AR(1)
practice errors and a diluted effect (a 1.5% fall in A&E attendances). The panel
analyses the counts themselves (no exposure role), carries the area covariates
(IMD score, ethnic-minority share, rurality: parallel trends hold given them) and
clusters on ICB, the level at which shocks are shared. 24 quarters, 2018Q1-2023Q4.

These are the conditions under which inference is hard (few never-treated
comparison units, shocks shared across an ICB, few clusters in a regional
study); no verdict is written in advance: the ``england`` suite measures it.
"""

from __future__ import annotations

from .scenarios import Scenario, register_scenario

__all__: list[str] = []

#: England over 24 quarters (2018Q1-2023Q4), the simulator's realistic defaults otherwise.
ENGLAND = {"n_pcns": 1250, "n_icbs": 42, "n_periods": 24, "covid": False,
           "effect": "constant"}
#: The panel of every England scenario: area covariates, clustered on ICB, the counts
#: themselves as outcome (no exposure role: the DiD estimators model the level).
ENGLAND_PANEL = {"covariates": ("imd_score", "ethnic_minority_share", "rural"), "cluster": "icb",
                 "exposure": None}
_COMMON = ("1,250 PCNs (about 6,500 practices) in 42 ICBs, 2018Q1-2023Q4, the simulator's "
           "realistic defaults: first link workers in 2019Q3, about 92% of PCNs started by "
           "2021Q2 and 3% never, later starts where need is higher (deprived urban areas, "
           "ethnic diversity), in the North West and London and in some ICBs; ICB x quarter "
           "and PCN x quarter shocks and AR(1) practice errors; A&E attendances (counts per "
           "practice-quarter) fall by 1.5% from a PCN's start. The panel carries the "
           "area covariates, clusters on ICB and analyses the counts themselves (no "
           "exposure role); the truth is the fall in expected attendances per practice-quarter.")


def _england(name: str, summary: str, details: str, changes: dict,
             panel_args: dict | None = None) -> None:
    register_scenario(Scenario(
        name=name, summary=summary, details=f"{_COMMON} {details}", simulator="pcn_rollout",
        params={**ENGLAND, **changes}, outcome="ae_attendances",
        panel_args={**ENGLAND_PANEL, **(panel_args or {})},
        targets=("overall", "event:0", "event:4"),
    ))


_england(
    "england",
    "England as rolled out: near-universal uptake, shocks shared by ICBs, a diluted effect",
    "Few never-treated PCNs (about 38) and, after 2021, few not-yet-treated ones: the "
    "comparison groups are thin late in the rollout. A constant effect; no COVID-19 shock.",
    {},
)
_england(
    "england_covid",
    "England with the COVID-19 shock of 2020Q2-2021Q1, deeper in deprived areas",
    "As england, plus the COVID-19 shock (A&E attendances fall by about 30%, by half as "
    "much again per SD of deprivation) in the middle of the rollout, when most PCNs start; "
    "deprived areas also start later. Parallel trends hold only given the covariates.",
    {"covid": True},
)
_england(
    "england_intensity",
    "England with effects proportional to link-worker intensity (fte_per_10k)",
    "As england, with intensity_effect=1: the effect grows with a PCN's link-worker "
    "whole-time equivalents per 10,000 patients (from a fifth of its long-run level in the "
    "first quarter) and is smaller where need is higher, where intensity is lower. The "
    "truth is the ATT over the treated practice-quarters at their realised intensity; "
    "binary-treatment estimators target it, with effects that grow over event time.",
    {"intensity_effect": 1.0},
)
_england(
    "england_region",
    "a regional evaluation: 10 ICBs (about 300 PCNs), clustered on ICB",
    "As england on 10 ICBs and 300 PCNs (about 1,550 practices), the size of a "
    "multi-region study: 10 clusters, about 9 never-treated PCNs. Cluster-robust "
    "inference on so few clusters needs small-sample corrections.",
    {"n_pcns": 300, "n_icbs": 10},
)
_england(
    "england_pcn_cluster",
    "England clustered on PCN although the shocks are shared by ICB",
    "As england, with standard errors clustered on PCN (the level at which treatment "
    "starts, a natural but wrong choice here): the ICB x quarter shocks correlate the "
    "PCNs of an ICB, so PCN-clustered intervals are too narrow.",
    {}, panel_args={"cluster": "pcn"},
)
