"""Equity of provision and effects: for whom?

Concentration and slope indices of inequality (:func:`concentration_index`,
:func:`slope_index`), provision against need by period with need-adjusted
gaps by area (:func:`provision_vs_need`), and subgroup effects with
heterogeneity tests and Holm / Benjamini-Hochberg adjustment
(:func:`subgroup_effects`).
"""

from __future__ import annotations

from .indices import (
    ConcentrationIndex,
    SlopeIndex,
    concentration_index,
    fractional_rank,
    slope_index,
)
from .provision import ProvisionNeed, provision_vs_need
from .subgroups import SubgroupSummary, subgroup_effects

__all__ = [
    "concentration_index", "ConcentrationIndex", "slope_index", "SlopeIndex",
    "fractional_rank", "provision_vs_need", "ProvisionNeed", "subgroup_effects",
    "SubgroupSummary",
]
