"""Data-generating processes with known true effects.

* :func:`pcn_rollout` -- an England-like staggered rollout of link workers
  across Primary Care Networks (practice-quarter panel, four outcomes,
  selection on need, COVID-19 shock, true ATT(g,t) and its aggregations).
* :func:`patient_cohort` -- patients referred (or not) to a link worker, with
  confounded referral and monthly GP consultations around an index date.
* :func:`interrupted_series` -- monthly series with a known level and slope
  change at an interruption, optional controls and a common shock.

Each simulator is a frozen parameters dataclass plus a generator function that
returns a frozen result holding the data, the truth and the parameters. Every
generator splits its randomness into independent streams, so re-running with
the same seed and ``effect="none"`` (or ``effect=0``) gives the untreated
potential outcomes of the same units: common random numbers.
"""

from __future__ import annotations

from ._params import OutcomeSpec, RolloutParams
from ._truth import TRUTH_COLUMNS, aggregate_truth, group_time_truth, truth_table
from .patients import CohortParams, SimulatedCohort, patient_cohort
from .rollout import SimulatedRollout, pcn_rollout
from .series import SeriesParams, SimulatedSeries, interrupted_series

__all__ = [
    "RolloutParams",
    "OutcomeSpec",
    "SimulatedRollout",
    "pcn_rollout",
    "CohortParams",
    "SimulatedCohort",
    "patient_cohort",
    "SeriesParams",
    "SimulatedSeries",
    "interrupted_series",
    "TRUTH_COLUMNS",
    "group_time_truth",
    "aggregate_truth",
    "truth_table",
]
