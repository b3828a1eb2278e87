"""Derived views of a :class:`~spimpact.Panel`: its summary and its aggregation
to a higher nesting level. Kept apart from ``panel.py``, which validates and
encodes; these only read a built panel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._validate import show
from ._warn import warn
from .errors import DataWarning, PanelError

if TYPE_CHECKING:
    from .panel import Panel

__all__ = ["describe_panel", "aggregate_panel", "balanced_panel", "cohort_table"]


def describe_panel(panel: Panel) -> pd.Series:
    """The one-column summary behind :meth:`Panel.describe`."""
    info: dict[str, Any] = {
        "kind": panel.kind,
        "outcome": panel.outcome,
        "rows": panel.n_obs,
        "units": panel.n_units,
        "periods": panel.n_periods,
    }
    if panel.time is not None:
        info["first period"] = panel.periods[0]
        info["last period"] = panel.periods[-1]
    if panel.kind == "panel":
        info["balanced"] = panel.is_balanced
    if panel.has_cohorts:
        c = panel.cohorts
        info["cohorts (treated)"] = int((~c["never_treated"]).sum())
        info["treated units"] = int(c.loc[~c["never_treated"], "n_units"].sum())
        info["never-treated units"] = int(c.loc[c["never_treated"], "n_units"].sum())
    if panel.cluster is not None:
        info["clusters"] = panel.n_clusters
    frame = panel._df
    for lvl in panel.levels:
        info[f"{lvl} (level)"] = int(frame[lvl].nunique())
    info["outcome mean"] = float(np.average(panel.y, weights=panel.w))
    if panel.exposure_values is not None:
        info["exposure total"] = float(panel.exposure_values.sum())
    doses = panel.unit_doses
    if doses is not None and (doses > 0).any():
        info["dose of treated units"] = (f"{doses[doses > 0].min():.4g} to "
                                         f"{doses[doses > 0].max():.4g}")
    if panel.notes:
        info["notes"] = " ".join(panel.notes)
    return pd.Series(info, name="value", dtype=object)


@dataclass(frozen=True)
class AggregationPlan:
    """Which columns :meth:`Panel.aggregate` sums, averages and carries up."""

    to: str
    keys: list[str]
    #: counts (the outcome when there is an exposure), exposure and weights
    sums: list[str]
    #: the outcome otherwise, and numeric covariates: means weighted by the
    #: exposure, else by the weights
    means: list[str]
    #: columns constant within each new unit and period
    consts: list[str]
    cluster: str | None
    upper: list[str]


def aggregation_plan(panel: Any, to: str, dtypes: Any) -> AggregationPlan:
    """The plan for ``panel`` (a Panel or a Dask panel: its roles) aggregated
    to ``to``; ``dtypes`` maps the columns to their dtypes."""
    if to not in panel.levels:
        raise PanelError(
            f"aggregate(to={to!r}): {to!r} is not one of levels={list(panel.levels)}; "
            f"build the Panel with levels=[...] listing it."
        )
    keys = [to] + ([panel.time] if panel.time is not None else [])
    sums = [c for c in (panel.outcome if panel.exposure is not None else None, panel.exposure,
                        panel.weights) if c is not None]
    sums = list(dict.fromkeys(sums))
    means = [] if panel.exposure is not None else [panel.outcome]
    means += [c for c in panel.covariates
              if pd.api.types.is_numeric_dtype(dtypes[c]) and c not in sums]
    levels = list(panel.levels)
    lower = {panel.unit, *levels[: levels.index(to) + 1]}
    cluster = panel.cluster if panel.cluster not in lower else None
    upper = levels[levels.index(to) + 1:]
    consts = [c for c in panel.covariates if c not in means and c not in sums]
    consts += [c for c in (panel.cohort, panel.treatment, panel.dose, cluster, *upper)
               if c is not None]
    return AggregationPlan(to, keys, sums, means, list(dict.fromkeys(consts)), cluster, upper)


def group_table(panel: Panel, plan: AggregationPlan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What aggregation needs of ``panel``'s rows, by new unit and period: an
    additive table (rows ``_n``, the summed columns, each mean's weighted sum
    ``_num_<col>`` and the weights ``_bw``, so that tables of disjoint rows
    add up) and the constant columns (checked constant)."""
    df = panel._df
    exposure = panel.exposure_values
    bw = exposure if exposure is not None else panel.w
    grouped = df.groupby(plan.keys, sort=True, observed=True)
    out = grouped.size().rename("_n").to_frame()
    for col in plan.sums:
        out[col] = grouped[col].sum().astype(float)
    if plan.means:
        num = df.loc[:, plan.means].astype(float).mul(bw, axis=0).assign(_bw=bw).groupby(
            [df[k] for k in plan.keys], sort=True, observed=True).sum()
        for col in plan.means:
            out[f"_num_{col}"] = num[col]
        out["_bw"] = num["_bw"]
    consts = {}
    for col in plan.consts:
        nun = grouped[col].nunique(dropna=False)
        if (nun > 1).any():
            varies_error(nun.index[nun.to_numpy() > 1][0], plan.keys, col, plan.to)
        consts[col] = grouped[col].first()
    return out, pd.DataFrame(consts, index=out.index)


def varies_error(where: Any, keys: list[str], col: str, to: str) -> None:
    """Raise: ``col`` varies within the new unit and period ``where``."""
    where = dict(zip(keys, where if isinstance(where, tuple) else (where,), strict=True))
    raise PanelError(
        f"aggregate(to={to!r}): {col!r} varies within a {to!r} group "
        f"({', '.join(f'{k}={show(v)}' for k, v in where.items())}); only columns "
        f"constant within each {to!r} can be carried up (turn a categorical "
        f"covariate into numeric shares first)."
    )


def finish_aggregation(panel: Any, plan: AggregationPlan, table: pd.DataFrame,
                       consts: pd.DataFrame, units_per_group: pd.Series | None, n_rows: int,
                       notes: list[str]) -> Panel:
    """The new Panel from the (summed) group table: means divided out, the
    constant columns carried up, a note on rows and short group-periods."""
    from .panel import Panel

    out = table.copy()
    for col in plan.means:
        out[col] = out.pop(f"_num_{col}") / out["_bw"]
    out = out.drop(columns=[c for c in ("_bw",) if c in out.columns])
    for col in consts.columns:
        out[col] = consts[col]
    out = out.reset_index()
    to = plan.to
    note = f"aggregated {n_rows} rows to {len(out)} rows of {to!r}"
    if units_per_group is not None and panel.time is not None:
        short = int((out["_n"].to_numpy() < out[to].map(units_per_group).to_numpy()).sum())
        note += (f"; {short} {to!r}-periods miss some of their {panel.unit!r} units"
                 if short else "")
    # a new frame, validated as user data, whose notes start with the old panel's
    return Panel._from_frame(
        out.drop(columns="_n"), quiet=False, internal=False, notes=[*notes, note + "."],
        outcome=panel.outcome, unit=to, time=panel.time, cohort=panel.cohort,
        treatment=panel.treatment, never_treated=panel.never_treated,
        covariates=panel.covariates, cluster=plan.cluster, weights=panel.weights,
        exposure=panel.exposure, levels=[to, *plan.upper], dose=panel.dose,
        treatment_kind="absorbing",
    )


def aggregate_panel(panel: Panel, to: str) -> Panel:
    """The aggregation behind :meth:`Panel.aggregate`."""
    if panel.treatment_kind == "general":
        raise PanelError(
            f"aggregate(to={to!r}) cannot carry the treatment_kind='general' treatment "
            f"{panel.treatment!r} (it varies within units, and how to combine it across "
            f"{panel.unit!r} units is a choice): aggregate the data yourself, e.g. the mean "
            f"treatment per {to!r} and period, and build a new Panel."
        )
    plan = aggregation_plan(panel, to, panel._df.dtypes)
    table, consts = group_table(panel, plan)
    per_group = (panel._df.groupby(to, observed=True)[panel.unit].nunique()
                 if panel.unit else None)
    return finish_aggregation(panel, plan, table, consts, per_group, panel.n_obs,
                              list(panel.notes))


def balanced_panel(panel: Panel) -> Panel:
    """The sub-panel of units observed in every period (see :meth:`Panel.balanced`)."""
    if panel.kind != "panel":
        raise PanelError(f"balanced() needs a panel (unit and time); this is a {panel.kind}.")
    counts = np.bincount(panel.unit_codes, minlength=panel.n_units)
    keep_units = counts == panel.n_periods
    if keep_units.all():
        return panel
    keep = keep_units[panel.unit_codes]
    note = (
        f"balanced(): dropped {int((~keep_units).sum())} of {panel.n_units} units "
        f"({int((~keep).sum())} rows) not observed in all {panel.n_periods} periods."
    )
    if not keep.any():
        raise PanelError(
            f"no unit is observed in all {panel.n_periods} periods, so a balanced sub-panel "
            f"is empty; estimate on the unbalanced panel instead."
        )
    warn(note, DataWarning)
    return panel._derive(panel._df.loc[keep], add_notes=[note])


def cohort_table(panel: Panel) -> pd.DataFrame:
    """Cohorts with their numbers of units and rows (see :attr:`Panel.cohorts`)."""
    if not panel.has_cohorts:
        raise PanelError("this Panel has no cohort= or treatment= column, so no cohorts.")
    upos = panel.unit_cohort_codes
    vals, counts = np.unique(upos, return_counts=True)
    rows = pd.Series(panel.cohort_codes).value_counts()
    return pd.DataFrame(
        {
            "cohort": pd.Series([panel.cohort_label(v) for v in vals], dtype=object),
            "n_units": counts,
            "n_rows": [int(rows.get(v, 0)) for v in vals],
            "never_treated": ~np.isfinite(vals),
        }
    )
