"""Costing: service-use effects times unit costs, and the programme's own cost.

The default unit costs are rounded, indicative figures with their source and
price year; they exist so that a first analysis runs. Replace them with the
current editions (pass ``unit_costs=`` a mapping or a table with ``item`` and
``unit_cost`` columns) before reporting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import OptionError

__all__ = ["DEFAULT_UNIT_COSTS", "unit_cost_table", "service_cost_change", "link_worker_cost",
           "DEFAULT_LINK_WORKER_COST"]

#: Indicative unit costs (GBP) by service-use outcome of the simulated panel,
#: with their source and price year. Replace with current values.
DEFAULT_UNIT_COSTS = pd.DataFrame({
    "item": ["gp_consultations", "ae_attendances", "emergency_admissions"],
    "unit_cost": [42.0, 200.0, 2_000.0],
    "unit": ["surgery consultation", "A&E attendance", "non-elective admission (spell)"],
    "source": [
        "PSSRU Unit Costs of Health and Social Care 2022: GP surgery consultation "
        "(rounded, indicative)",
        "NHS England National Cost Collection 2021/22: emergency department "
        "attendance, all types (rounded, indicative)",
        "NHS England National Cost Collection 2021/22: non-elective spell, average "
        "(rounded, indicative)",
    ],
    "price_year": ["2021/22"] * 3,
})

#: Indicative annual cost of one full-time link worker (GBP): salary plus
#: employer on-costs at the Additional Roles Reimbursement Scheme's maximum
#: reimbursable amount for the role (Agenda for Change band 5, 2023/24),
#: rounded. Replace with the current ARRS figure or the local salary.
DEFAULT_LINK_WORKER_COST = 44_000.0


def unit_cost_table(unit_costs: Mapping[str, float] | pd.DataFrame | None = None) -> pd.Series:
    """Unit costs by item as a Series (the defaults when ``None``).

    Examples
    --------
    >>> float(unit_cost_table({"gp_consultations": 50.0})["gp_consultations"])
    50.0
    """
    if unit_costs is None:
        unit_costs = DEFAULT_UNIT_COSTS
    if isinstance(unit_costs, pd.DataFrame):
        missing = {"item", "unit_cost"} - set(unit_costs.columns)
        if missing:
            raise OptionError(f"unit_costs lacks the columns {sorted(missing)}; it needs "
                              f"'item' and 'unit_cost'.")
        s = pd.Series(unit_costs["unit_cost"].to_numpy(dtype=float),
                      index=unit_costs["item"].astype(str))
    else:
        s = pd.Series({str(k): float(v) for k, v in dict(unit_costs).items()}, dtype=float)
    if s.index.duplicated().any():
        raise OptionError(f"unit_costs names {sorted(s.index[s.index.duplicated()])} twice.")
    if not np.isfinite(s.to_numpy()).all():
        raise OptionError("unit_costs must be finite numbers.")
    return s


def service_cost_change(
    effects: Mapping[str, Any],
    unit_costs: Mapping[str, float] | pd.DataFrame | None = None,
    *,
    scale: float = 1.0,
) -> np.ndarray:
    """Change in NHS costs from effects on service use.

    Parameters
    ----------
    effects : mapping of item to float, 1-D array or result
        The effect of the programme on each service-use outcome (events per
        person, per practice, per PCN... as the analysis needs), as a number,
        as draws, or as a fitted result (its ``.draws()`` of the overall effect). Draws of different items are paired by
        position, so draws from one joint model keep their correlation; draws
        from separate fits are independent and should be drawn with their own
        ``random_state``.
    unit_costs : mapping or DataFrame, optional
        Cost of one event of each item (default :data:`DEFAULT_UNIT_COSTS`).
    scale : float
        Multiplies the result (e.g. events per 1,000 patients to per patient: 1/1000).

    Returns
    -------
    ndarray
        ``sum_item effect_item * unit_cost_item * scale`` (one value per draw).

    Examples
    --------
    >>> float(service_cost_change({"gp_consultations": -0.5, "ae_attendances": 0.01}))
    -19.0
    """
    costs = unit_cost_table(unit_costs)
    unknown = [k for k in effects if k not in costs.index]
    if unknown:
        raise OptionError(f"no unit cost for {unknown}; pass unit_costs={{'{unknown[0]}': "
                          f"...}} (known items: {sorted(costs.index)}).")
    arrays = [np.asarray(_draws_of_result(v), dtype=float) * costs[k]
              for k, v in effects.items()]
    lengths = {a.size for a in arrays if a.ndim > 0}
    if len(lengths) > 1:
        raise OptionError(f"effect draws have different lengths {sorted(lengths)}; draw each "
                          f"result the same number of times.")
    total = np.sum(np.broadcast_arrays(*arrays), axis=0) if arrays else np.zeros(())
    return np.asarray(total * scale)


def _draws_of_result(value: Any) -> Any:
    """A fitted result's overall draws; anything else unchanged."""
    from ..results import Result

    return value.draws() if isinstance(value, Result) else value


def link_worker_cost(
    fte: Any,
    *,
    annual_cost: float | None = None,
    salary: float | None = None,
    on_costs: float = 0.0,
    years: float = 1.0,
) -> np.ndarray:
    """Programme cost of link workers: FTE times the annual cost of one FTE.

    Parameters
    ----------
    fte : float or array
        Full-time equivalents (per PCN, ICB or in total).
    annual_cost : float, optional
        Cost of one FTE a year, on-costs included (default
        :data:`DEFAULT_LINK_WORKER_COST`, the ARRS reimbursable amount).
    salary, on_costs : float, optional
        Instead of ``annual_cost``: salary and the on-cost rate (e.g. 0.28 for
        employer's National Insurance and pension), ``salary * (1 + on_costs)``.
    years : float
        Years of employment costed.

    Examples
    --------
    >>> float(link_worker_cost(2.0, salary=30_000, on_costs=0.25))
    75000.0
    """
    if annual_cost is not None and salary is not None:
        raise OptionError("give annual_cost or salary (with on_costs), not both.")
    if salary is not None:
        if salary < 0 or on_costs < 0:
            raise OptionError("salary and on_costs must be non-negative.")
        annual_cost = salary * (1.0 + on_costs)
    if annual_cost is None:
        annual_cost = DEFAULT_LINK_WORKER_COST
    f = np.asarray(fte, dtype=float)
    if (f < 0).any() or not np.isfinite(f).all():
        raise OptionError("fte must be finite and non-negative.")
    return f * annual_cost * years
