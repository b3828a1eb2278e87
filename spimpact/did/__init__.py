"""Staggered difference-in-differences across rollout dates.

Estimators share one protocol: ``Estimator(...).fit(panel)`` returns a result
with ``.estimates``, ``.overall``, ``.aggregate(kind)`` and ``.plot()``.
:class:`CallawaySantAnna`, :class:`SunAbraham`, :class:`Imputation` and
:class:`TwoStage` return ATT(g,t) with per-unit influence functions
(:class:`GroupTimeResult`), aggregated by one weights engine; :class:`TWFE`
gives the conventional regressions and :func:`bacon_decomposition` their
2x2 anatomy. Sensitivity to parallel-trends violations:
:func:`honest_bounds` (Rambachan-Roth), :func:`pretrend_power` (Roth) and the
placebo tests :func:`placebo_in_time` and :func:`placebo_in_space`; event-study
results offer ``.honest_bounds()`` and ``.pretrend_power()`` directly.
:class:`ChaisemartinDHaultfoeuille` estimates event-study effects of a
non-binary, non-absorbing treatment (a Panel with ``treatment_kind="general"``).
"""

from __future__ import annotations

from ..aggregation import aggregation_weights, apply_aggregation
from .bacon import BaconDecomposition, bacon_decomposition
from .callaway import CallawaySantAnna
from .continuous import ContinuousDiD, ContinuousDiDResult
from .dcdh import ChaisemartinDHaultfoeuille, ChaisemartinDHaultfoeuilleResult
from .etwfe import ETWFE, ETWFEResult
from .honest import HonestBounds, honest_bounds
from .imputation import Imputation, ImputationResult
from .placebo import PlaceboTest, placebo_in_space, placebo_in_time
from .pretrends import PretrendPower, pretrend_power
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
    "ETWFEResult",
    "ContinuousDiD",
    "ContinuousDiDResult",
    "ChaisemartinDHaultfoeuille",
    "ChaisemartinDHaultfoeuilleResult",
    "TWFE",
    "bacon_decomposition",
    "BaconDecomposition",
    "GroupTimeResult",
    "ImputationResult",
    "AggregateResult",
    "PreTest",
    "honest_bounds",
    "HonestBounds",
    "pretrend_power",
    "PretrendPower",
    "placebo_in_time",
    "placebo_in_space",
    "PlaceboTest",
    "aggregation_weights",
    "apply_aggregation",
]
