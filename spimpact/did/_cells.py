"""Which group-time cells to estimate, against which base period and controls.

Pure functions on cohort positions (integer period codes). A cohort ``g`` is
the position of its first treated period; never-treated units have ``inf``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CellPlan", "plan_cells", "control_mask"]


@dataclass(frozen=True)
class CellPlan:
    """The ATT(g,t) cells: cohort ``g``, period ``t``, base period ``base``
    (all period positions), whether ``t`` is post-treatment, and whether the
    cell is the universal base period itself (its ATT is 0 by construction)."""

    g: np.ndarray
    t: np.ndarray
    base: np.ndarray
    post: np.ndarray
    reference: np.ndarray

    def __len__(self) -> int:
        return len(self.g)


def plan_cells(
    groups: np.ndarray, n_periods: int, base_period: str, anticipation: int
) -> tuple[CellPlan, list[int]]:
    """Cells of every cohort, following Callaway & Sant'Anna (2021).

    With a ``"varying"`` base period, pre-treatment cells compare period ``t``
    with ``t - 1`` (periods 1..T-1); with ``"universal"``, every cell uses the
    cohort's last untreated period ``g - 1 - anticipation`` and that period's
    own cell is reported as 0. Post-treatment cells (``t >= g - anticipation``
    is not used: ``t >= g``) always use ``g - 1 - anticipation``.

    Returns the plan and the cohorts dropped for lack of a pre-treatment period.
    """
    rows: list[tuple[int, int, int, bool, bool]] = []
    dropped: list[int] = []
    first_t = 1 if base_period == "varying" else 0
    for g in groups.astype(int):
        ref = g - 1 - anticipation
        for t in range(first_t, n_periods):
            post = t >= g
            if post and ref < 0:
                dropped.append(int(g))
                break
            if base_period == "universal":
                if ref < 0:
                    dropped.append(int(g))
                    break
                rows.append((g, t, ref, post, t == ref))
            else:
                rows.append((g, t, ref if post else t - 1, post, False))
    if not rows:
        empty = np.array([], dtype=int)
        return CellPlan(empty, empty, empty, empty.astype(bool), empty.astype(bool)), dropped
    a = np.array(rows, dtype=object)
    plan = CellPlan(
        a[:, 0].astype(int), a[:, 1].astype(int), a[:, 2].astype(int),
        a[:, 3].astype(bool), a[:, 4].astype(bool),
    )
    return plan, sorted(set(dropped))


def control_mask(
    unit_cohort: np.ndarray, g: int, t: int, base: int, control_group: str, anticipation: int
) -> np.ndarray:
    """Units that may serve as comparisons for cell (g, t) with base ``base``.

    ``"never_treated"``: units never treated in the window. ``"not_yet_treated"``:
    also units whose cohort starts after both ``t`` and ``base`` (plus the
    anticipation window), other than cohort ``g`` itself.
    """
    never = ~np.isfinite(unit_cohort)
    if control_group == "never_treated":
        return never
    later = unit_cohort > max(t, base) + anticipation
    return never | (later & (unit_cohort != g))
