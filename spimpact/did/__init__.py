"""Staggered difference-in-differences across rollout dates.

Estimators share one protocol: ``Estimator(...).fit(panel)`` returns a result
with ``.estimates``, ``.overall``, ``.aggregate(kind)`` and ``.plot()``.
"""

from __future__ import annotations

from ._aggregate import aggregation_weights, apply_aggregation
from .callaway import CallawaySantAnna
from .results import AggregateResult, GroupTimeResult, PreTest

__all__ = [
    "CallawaySantAnna",
    "GroupTimeResult",
    "AggregateResult",
    "PreTest",
    "aggregation_weights",
    "apply_aggregation",
]
