"""Simulation benchmarks: bias, RMSE, coverage, size and power of estimators
on simulated data with known truth, locally or on a Dask cluster.

* :func:`run` -- Monte Carlo replications of a scenario for several estimators;
  returns a :class:`BenchResult` whose ``.table`` has one row per estimator and
  target with bias, RMSE, empirical and model SEs, coverage, interval width,
  rejection rate and their Monte Carlo standard errors.
* :func:`power` -- power curves and the minimum detectable effect of a design.
* Registries of scenarios (:func:`list_scenarios`, :func:`register_scenario`)
  and estimators (:func:`list_estimators`, :func:`register_estimator`).
* :mod:`spimpact.bench.suites` -- the declarative standard suites (package
  data in ``spimpact/bench/standard_suites/``) and the documentation's
  results page; ``spimpact bench --suite NAME`` runs one from the shell.

Examples
--------
>>> from spimpact import bench
>>> res = bench.run("homogeneous", "callaway_santanna", reps=3, random_state=0,
...                 params={"n_pcns": 40, "n_icbs": 4}, n_jobs=1)
>>> list(res.table["estimator"])
['callaway_santanna']
"""

from __future__ import annotations

from . import metrics
from .engine import root_seed, run
from .estimators import ESTIMATORS, EstimatorSpec, list_estimators, register_estimator
from .power import PowerResult, power
from .result import BenchResult
from .scenarios import SCENARIOS, Scenario, get_scenario, list_scenarios, register_scenario

__all__ = [
    "run",
    "power",
    "BenchResult",
    "PowerResult",
    "Scenario",
    "SCENARIOS",
    "get_scenario",
    "list_scenarios",
    "register_scenario",
    "ESTIMATORS",
    "EstimatorSpec",
    "list_estimators",
    "register_estimator",
    "root_seed",
    "metrics",
]
