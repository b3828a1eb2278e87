"""Data-generating processes with known true effects.

* :func:`pcn_rollout` -- an England-like staggered rollout of link workers
  across Primary Care Networks (practice-quarter panel, four outcomes,
  near-universal uptake selected on need, region and ICB, link-worker intensity,
  shocks shared by ICBs and PCNs, serially correlated practice errors, COVID-19
  shock, true ATT(g,t) and its aggregations by cohort, event time, intensity band
  and subgroup); ``CLASSIC_ROLLOUT`` gives back its first version.
* :func:`patient_cohort` -- patients referred (or not) to a link worker, with
  confounded referral and monthly GP consultations around an index date.
* :func:`interrupted_series` -- monthly series with a known level and slope
  change at an interruption, optional controls and a common shock.
* :func:`link_worker_provision` -- PCN-quarter link-worker FTE per 10,000
  patients and a pre-rollout need-for-support measure, provision falling with
  need from July 2022 (for :func:`spimpact.equity.provision_vs_need`).

Each simulator is a frozen parameters dataclass plus a generator function that
returns a frozen result holding the data, the truth and the parameters. Every
generator splits its randomness into independent streams, so re-running with
the same seed and ``effect="none"`` (or ``effect=0``) gives the untreated
potential outcomes of the same units: common random numbers.
"""

from __future__ import annotations

from ._params import CLASSIC_ROLLOUT, LARGE_EFFECT, OutcomeSpec, RolloutParams
from ._truth import TRUTH_COLUMNS, aggregate_truth, group_time_truth, truth_table
from .patients import CohortParams, SimulatedCohort, patient_cohort
from .provision import link_worker_provision
from .rollout import SimulatedRollout, pcn_rollout
from .series import SeriesParams, SimulatedSeries, interrupted_series

__all__ = [
    "RolloutParams",
    "CLASSIC_ROLLOUT",
    "LARGE_EFFECT",
    "OutcomeSpec",
    "SimulatedRollout",
    "pcn_rollout",
    "CohortParams",
    "SimulatedCohort",
    "patient_cohort",
    "SeriesParams",
    "SimulatedSeries",
    "interrupted_series",
    "link_worker_provision",
    "TRUTH_COLUMNS",
    "group_time_truth",
    "aggregate_truth",
    "truth_table",
]
