"""Staggered difference-in-differences across rollout dates.

Estimators share one protocol: ``Estimator(...).fit(panel)`` returns a result
with ``.estimates``, ``.overall``, ``.aggregate(kind)`` and ``.plot()``.
:class:`CallawaySantAnna`, :class:`SunAbraham`, :class:`Imputation` and
:class:`TwoStage` return ATT(g,t) with per-unit influence functions
(:class:`GroupTimeResult`), aggregated by one weights engine; :class:`TWFE`
gives the conventional regressions and :func:`bacon_decomposition` their
2x2 anatomy.
"""

from __future__ import annotations

from ..aggregation import aggregation_weights, apply_aggregation
from .bacon import BaconDecomposition, bacon_decomposition
from .callaway import CallawaySantAnna
from .etwfe import ETWFE
from .imputation import Imputation, ImputationResult
from .results import AggregateResult, GroupTimeResult, PreTest
from .sun_abraham import SunAbraham
from .twfe import TWFE
from .two_stage import TwoStage

__all__ = [
    "CallawaySantAnna",
    "SunAbraham",
    "Imputation",
    "TwoStage",
    "ETWFE",
    "TWFE",
    "bacon_decomposition",
    "BaconDecomposition",
    "GroupTimeResult",
    "ImputationResult",
    "AggregateResult",
    "PreTest",
    "aggregation_weights",
    "apply_aggregation",
]
