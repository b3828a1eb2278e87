"""Budget impact over a horizon, by area, with discounting."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import OptionError

__all__ = ["budget_impact", "discount_factors", "NICE_DISCOUNT_RATE"]

#: NICE's reference-case discount rate for costs and health effects (3.5% a year).
NICE_DISCOUNT_RATE = 0.035


def discount_factors(horizon: int, rate: float = NICE_DISCOUNT_RATE) -> np.ndarray:
    """Discount factors ``1 / (1 + rate) ** t`` for years ``t`` from 0 to ``horizon - 1``
    (the first year undiscounted).

    Examples
    --------
    >>> discount_factors(3).round(4).tolist()
    [1.0, 0.9662, 0.9335]
    """
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise OptionError(f"horizon must be a positive number of years, not {horizon!r}.")
    if not (0 <= rate < 1):
        raise OptionError(f"discount rate must be in [0, 1), e.g. 0.035; got {rate!r}.")
    return 1.0 / (1.0 + rate) ** np.arange(horizon)


def budget_impact(
    data: pd.DataFrame,
    *,
    programme_cost: str,
    cost_change: str | None = None,
    by: str | Sequence[str] | None = None,
    horizon: int = 5,
    discount_rate: float = NICE_DISCOUNT_RATE,
    growth: float = 0.0,
) -> pd.DataFrame:
    """Budget impact by area and year, discounted.

    Parameters
    ----------
    data : DataFrame
        One row per area (e.g. PCN) with its annual programme cost and, if
        given, its annual change in NHS service costs (negative: savings).
    programme_cost, cost_change : str
        Columns of ``data``.
    by : str or list of str, optional
        Columns to total by (e.g. ``"icb"``); ``None`` totals everything.
    horizon : int
        Years.
    discount_rate : float
        Annual rate (NICE: 3.5%); year 1 is undiscounted.
    growth : float
        Annual growth of both costs in real terms (e.g. list-size growth).

    Returns
    -------
    DataFrame
        ``by`` columns, ``year`` (1..horizon), ``programme_cost``,
        ``cost_change``, ``net``, ``discount_factor``, ``net_discounted``, and
        ``cumulative_net_discounted``.

    Examples
    --------
    >>> d = pd.DataFrame({"icb": ["A", "A", "B"], "cost": [100.0, 50.0, 80.0],
    ...                   "saving": [-20.0, -10.0, -5.0]})
    >>> t = budget_impact(d, programme_cost="cost", cost_change="saving", by="icb", horizon=2)
    >>> t.loc[t["icb"] == "A", "net"].tolist()
    [120.0, 120.0]
    """
    cols = [programme_cost] + ([cost_change] if cost_change else [])
    keys = [] if by is None else ([by] if isinstance(by, str) else list(by))
    missing = [c for c in (*cols, *keys) if c not in data.columns]
    if missing:
        raise OptionError(f"budget_impact: columns {missing} are not in the data "
                          f"(it has {list(data.columns)[:10]}).")
    vals = data[cols].apply(pd.to_numeric, errors="coerce")
    if vals.isna().any().any():
        bad = vals.columns[vals.isna().any()].tolist()
        raise OptionError(f"budget_impact: columns {bad} have missing or non-numeric values; "
                          f"fill them (e.g. 0 for no cost) first.")
    frame = pd.concat([data[keys].reset_index(drop=True), vals.reset_index(drop=True)], axis=1)
    if not np.isfinite(growth) or growth <= -1:
        raise OptionError(f"growth must be above -1, not {growth!r}.")
    totals = frame.groupby(keys, sort=True)[cols].sum().reset_index() if keys else \
        frame[cols].sum().to_frame().T
    disc = discount_factors(horizon, discount_rate)
    years = np.arange(1, horizon + 1)
    g = (1.0 + growth) ** np.arange(horizon)
    n = len(totals)
    out = totals.loc[np.repeat(np.arange(n), horizon), keys].reset_index(drop=True)
    out["year"] = np.tile(years, n)
    pc = np.repeat(totals[programme_cost].to_numpy(float), horizon) * np.tile(g, n)
    cc = (np.repeat(totals[cost_change].to_numpy(float), horizon) * np.tile(g, n)
          if cost_change else np.zeros_like(pc))
    out["programme_cost"], out["cost_change"] = pc, cc
    out["net"] = pc + cc
    out["discount_factor"] = np.tile(disc, n)
    out["net_discounted"] = out["net"] * out["discount_factor"]
    grp = np.repeat(np.arange(n), horizon)
    out["cumulative_net_discounted"] = out.groupby(grp)["net_discounted"].cumsum().to_numpy()
    return out
