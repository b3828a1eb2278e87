"""Economic evaluation from effect draws: was it worth it?

Costing of service-use effects and of link workers (:mod:`.costing`),
cost-effectiveness from draws or summary inputs (ICER, INMB, CEAC, EVPI;
:func:`cost_effectiveness`), several strategies and their frontier
(:func:`compare_strategies`), and budget impact by area over a discounted
horizon (:func:`budget_impact`). Draws come from any result's ``.draws()``.
"""

from __future__ import annotations

from .budget import NICE_DISCOUNT_RATE, budget_impact, discount_factors
from .cea import DEFAULT_WTP, NICE_THRESHOLDS, CostEffectiveness, cost_effectiveness, normal_loss
from .costing import (
    DEFAULT_LINK_WORKER_COST,
    DEFAULT_UNIT_COSTS,
    link_worker_cost,
    service_cost_change,
    unit_cost_table,
)
from .strategies import StrategyComparison, compare_strategies, efficiency_frontier

__all__ = [
    "cost_effectiveness", "CostEffectiveness", "normal_loss", "DEFAULT_WTP", "NICE_THRESHOLDS",
    "compare_strategies", "StrategyComparison", "efficiency_frontier",
    "service_cost_change", "link_worker_cost", "unit_cost_table", "DEFAULT_UNIT_COSTS",
    "DEFAULT_LINK_WORKER_COST", "budget_impact", "discount_factors", "NICE_DISCOUNT_RATE",
]
