"""``DaskPanel.aggregate``: patient rows to practice (or PCN) periods on the
workers, by the in-memory aggregation's own pieces
(:mod:`spimpact._panel_views`): each partition (whole units, validated by an
in-memory Panel) gives its additive group table and constant columns, the
partitions' tables are added (constants checked to agree) and the result is
finished into a Panel as in memory; only the aggregated table reaches the
driver.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ._panel_views import aggregation_plan, finish_aggregation, group_table, varies_error
from .errors import PanelError

__all__ = ["aggregate_dask"]


def _partition(part: pd.DataFrame, where: str, roles: dict[str, Any], plan: Any) -> dict | None:
    from .dask_panel import partition_panel

    if len(part) == 0:
        return None
    p = partition_panel(part, where, roles)
    table, consts = group_table(p, plan)
    units = p._df.groupby(plan.to, observed=True)[p.unit].nunique()
    return {"table": table, "consts": consts, "units": units,
            "dropped": len(p._dropped), "rows": p.n_obs,
            # the note on set-aside rows numbers them within the partition: counted instead
            "notes": list(p.notes)[1:] if len(p._dropped) else list(p.notes), "plan": plan}


def _merge(a: dict | None, b: dict | None) -> dict | None:
    if a is None or b is None:
        return a if b is None else b
    plan = a["plan"]
    table = pd.concat([a["table"], b["table"]]).groupby(level=[0, 1], sort=True).sum()
    consts = pd.concat([a["consts"], b["consts"]])
    g = consts.groupby(level=[0, 1], sort=True)
    for col in consts.columns:
        nun = g[col].nunique(dropna=False)
        if (nun > 1).any():
            varies_error(nun.index[nun.to_numpy() > 1][0], plan.keys, col, plan.to)
    consts = g.first() if len(consts.columns) else pd.DataFrame(index=table.index)
    units = pd.concat([a["units"], b["units"]]).groupby(level=0).sum()
    return {"table": table, "consts": consts, "units": units,
            "dropped": a["dropped"] + b["dropped"], "rows": a["rows"] + b["rows"],
            "notes": list(dict.fromkeys([*a["notes"], *b["notes"]])), "plan": plan}


def aggregate_dask(panel: Any, to: str) -> Any:
    """The aggregation behind :meth:`spimpact.dask_panel.DaskPanel.aggregate`."""
    plan = aggregation_plan(panel, to, panel.data.dtypes)
    res = panel.map_reduce(_partition, _merge, plan)
    if res is None:
        raise PanelError("the Dask frame has no rows; a Panel needs at least one observation.")
    notes = list(res["notes"])
    if res["dropped"]:
        notes.append(f"{res['dropped']} rows with a missing outcome {panel.outcome!r} were set "
                     f"aside (across the Dask frame's partitions).")
    return finish_aggregation(panel, plan, res["table"], res["consts"], res["units"],
                              res["rows"], notes)
