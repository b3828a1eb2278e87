"""``DaskPanel.aggregate``: patient rows to practice (or PCN) periods on the
workers, the same sums and weighted means as :func:`spimpact._panel_views.aggregate_panel`.

Each partition (whole units, validated by an in-memory Panel) gives, per new
unit and period: its rows, the summed columns, the numerators and
denominators of the weighted means, and the columns that must be constant;
partitions are merged by adding (constants checked to agree) and only the
aggregated table reaches the driver.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._validate import show
from .errors import PanelError

__all__ = ["aggregate_dask"]


def _plan(roles: dict[str, Any], to: str) -> dict[str, Any]:
    levels = list(roles["levels"])
    exposure = roles["exposure"]
    sums = [c for c in (roles["outcome"] if exposure is not None else None, exposure,
                        roles["weights"]) if c is not None]
    sums = list(dict.fromkeys(sums))
    means = [] if exposure is not None else [roles["outcome"]]
    lower = {roles["unit"], *levels[: levels.index(to) + 1]}
    cluster = roles["cluster"] if roles["cluster"] not in lower else None
    upper = levels[levels.index(to) + 1:]
    consts = [c for c in (roles["cohort"], cluster, *upper) if c is not None]
    return {"sums": sums, "means": means, "consts": list(dict.fromkeys(consts)),
            "cluster": cluster, "upper": upper}


def _partition(part: pd.DataFrame, where: str, roles: dict[str, Any], to: str) -> dict | None:
    from .dask_panel import partition_panel

    if len(part) == 0:
        return None
    p = partition_panel(part, where, roles)
    plan = _plan(roles, to)
    df = p._df
    keys = [to, p.time]
    grouped = df.groupby(keys, sort=True, observed=True)
    out = grouped.size().rename("_n").to_frame()
    for col in plan["sums"]:
        out[col] = grouped[col].sum().astype(float)
    if plan["means"]:
        bw = p.exposure_values if p.exposure_values is not None else np.asarray(p.w)
        num = df.loc[:, plan["means"]].astype(float).mul(bw, axis=0).assign(_bw=bw).groupby(
            [df[k] for k in keys], sort=True, observed=True).sum()
        for col in plan["means"]:
            out[f"_num_{col}"] = num[col]
        out["_bw"] = num["_bw"]
    consts = {}
    for col in plan["consts"]:
        nun = grouped[col].nunique(dropna=False)
        if (nun > 1).any():
            _varies(nun.index[nun.to_numpy() > 1][0], keys, col, to)
        consts[col] = grouped[col].first()
    units = df.groupby(to, observed=True)[p.unit].nunique()
    return {"table": out, "consts": pd.DataFrame(consts, index=out.index), "units": units,
            "dropped": len(p._dropped), "rows": len(df),
            # the note on set-aside rows numbers them within the partition: counted instead
            "notes": list(p.notes)[1:] if len(p._dropped) else list(p.notes)}


def _varies(where: Any, keys: list[str], col: str, to: str) -> None:
    where = dict(zip(keys, where if isinstance(where, tuple) else (where,), strict=True))
    raise PanelError(
        f"aggregate(to={to!r}): {col!r} varies within a {to!r} group "
        f"({', '.join(f'{k}={show(v)}' for k, v in where.items())}); only columns "
        f"constant within each {to!r} can be carried up."
    )


def _merge(a: dict | None, b: dict | None) -> dict | None:
    if a is None or b is None:
        return a if b is None else b
    table = pd.concat([a["table"], b["table"]]).groupby(level=[0, 1], sort=True).sum()
    consts = pd.concat([a["consts"], b["consts"]])
    if len(consts.columns):
        g = consts.groupby(level=[0, 1], sort=True)
        for col in consts.columns:
            nun = g[col].nunique(dropna=False)
            if (nun > 1).any():
                names = list(consts.index.names)
                _varies(nun.index[nun.to_numpy() > 1][0], names, col, names[0])
        consts = g.first()
    else:
        consts = pd.DataFrame(index=table.index)
    units = pd.concat([a["units"], b["units"]]).groupby(level=0).sum()
    return {"table": table, "consts": consts, "units": units,
            "dropped": a["dropped"] + b["dropped"], "rows": a["rows"] + b["rows"],
            "notes": list(dict.fromkeys([*a["notes"], *b["notes"]]))}


def aggregate_dask(panel: Any, to: str) -> Any:
    """The aggregation behind :meth:`spimpact.dask_panel.DaskPanel.aggregate`."""
    from .panel import Panel

    if to not in panel.levels:
        raise PanelError(
            f"aggregate(to={to!r}): {to!r} is not one of levels={list(panel.levels)}; "
            f"build the Panel with levels=[...] listing it."
        )
    roles = panel.roles()
    plan = _plan(roles, to)
    res = panel.map_reduce(_partition, _merge, to)
    if res is None:
        raise PanelError("the Dask frame has no rows; a Panel needs at least one observation.")
    out = res["table"]
    for col in plan["means"]:
        out[col] = out.pop(f"_num_{col}") / out["_bw"]
    out = out.drop(columns=[c for c in ("_bw",) if c in out.columns])
    for col in res["consts"].columns:
        out[col] = res["consts"][col]
    out = out.reset_index()
    note = f"aggregated {res['rows']} rows to {len(out)} rows of {to!r}"
    short = int((out["_n"].to_numpy() < out[to].map(res["units"]).to_numpy()).sum())
    note += (f"; {short} {to!r}-periods miss some of their {panel.unit!r} units" if short else "")
    notes = list(res["notes"])
    new = Panel(
        out.drop(columns="_n"), outcome=panel.outcome, unit=to, time=panel.time,
        cohort=panel.cohort, never_treated=panel.never_treated, cluster=plan["cluster"],
        weights=panel.weights, exposure=panel.exposure, levels=[to, *plan["upper"]],
    )
    if res["dropped"]:
        notes.append(f"{res['dropped']} rows with a missing outcome {panel.outcome!r} were set "
                     f"aside (across the Dask frame's partitions).")
    object.__setattr__(new, "_notes", [*notes, note + ".", *new.notes])
    return new
