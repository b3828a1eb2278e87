"""spimpact: quasi-experimental impact evaluation on panel data.

Four estimator families on one :class:`Panel` interface (staggered
difference-in-differences, propensity-matched cohorts, interrupted time
series, Bayesian multilevel models), simulation benchmarks of their bias
and coverage, and what follows from the effects: economic evaluation from
any result's draws (``spimpact.econ``) and equity of provision and effects
(``spimpact.equity``). Heavy optional dependencies (PyMC, Dask) load only when used.
"""

from __future__ import annotations

from . import errors, inference, results
from .dask_panel import DaskPanel
from .errors import (
    DataWarning,
    DependencyError,
    EstimationError,
    OptionError,
    PanelError,
    SpimpactError,
    SpimpactWarning,
    StatisticalWarning,
)
from .panel import Panel
from .results import Estimate, Result
from .tables import compare

__version__ = "0.1.0"

__all__ = [
    "Panel",
    "DaskPanel",
    "Estimate",
    "Result",
    "compare",
    "SpimpactError",
    "PanelError",
    "EstimationError",
    "OptionError",
    "DependencyError",
    "SpimpactWarning",
    "StatisticalWarning",
    "DataWarning",
    "errors",
    "inference",
    "results",
    "__version__",
]


def __getattr__(name: str):  # lazy subpackages keep `import spimpact` light
    import importlib

    if name in {"did", "matching", "its", "bayes", "simulate", "bench", "plotting",
                "aggregation", "econ", "equity"}:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'spimpact' has no attribute {name!r}")
