"""Propensity-matched cohorts and weighting estimators.

* :class:`PropensityScoreMatching` -- matching on the propensity score:
  greedy nearest neighbour (caliper, 1:k, with or without replacement, exact
  and Mahalanobis matching), optimal pair / ratio matching and optimal full
  matching, with regression bias correction and cobalt-style balance
  diagnostics.
* :class:`InverseProbabilityWeighting` and :class:`AugmentedIPW` -- weighting
  and doubly robust estimators of the ATE, ATT or ATC, with M-estimation
  standard errors that account for the estimated propensity score.
* :class:`EntropyBalancing` -- weights that reproduce the target group's
  covariate moments exactly (Hainmueller 2012), with M-estimation standard
  errors.
* :func:`match_cohort` -- matched difference-in-differences: match referred
  patients to never-referred ones at each index month, then estimate an event
  study with :mod:`spimpact.did`.
"""

from __future__ import annotations

from .balance import balance_table, love_plot, overlap_plot
from .did import MatchedCohort, match_cohort
from .entropy import EntropyBalancing, EntropyBalancingResult
from .psm import PropensityScoreMatching
from .results import MatchingResult, WeightingResult
from .weighting import AugmentedIPW, InverseProbabilityWeighting

__all__ = [
    "PropensityScoreMatching",
    "InverseProbabilityWeighting",
    "AugmentedIPW",
    "EntropyBalancing",
    "EntropyBalancingResult",
    "MatchingResult",
    "WeightingResult",
    "match_cohort",
    "MatchedCohort",
    "balance_table",
    "love_plot",
    "overlap_plot",
]
