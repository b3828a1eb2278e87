"""Panels on Dask data frames: the rows stay on the workers.

``spimpact.Panel(ddf, ...)`` with a ``dask.dataframe.DataFrame`` returns a
:class:`DaskPanel`. Patient-level extracts (every registered patient of a
region by month, tens of millions of rows) then never pass through the
driver process: each partition is validated by the in-memory :class:`Panel`
code on its worker, and only cohort-by-period sums, cluster sums and small
Gram matrices come back.

Two things work on a ``DaskPanel``:

- :meth:`DaskPanel.aggregate` sums patient rows to a higher level (practice,
  PCN) per period on the workers and returns an in-memory :class:`Panel`,
  equal to ``Panel(ddf.compute(), ...).aggregate(to)``;
- :class:`spimpact.did.CallawaySantAnna` without covariates fits it directly,
  with the same ATT(g,t), aggregations and standard errors (every
  ``inference=`` choice, clustered or not) as the in-memory fit.

Partitions must hold whole units (every row of a unit in one partition): a
frame read from a parquet file sorted by unit usually does. When the units'
id ranges of the partitions overlap, the frame is shuffled on the unit
column first (a distributed shuffle, on the workers).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._validate import column_names
from .errors import DependencyError, PanelError, SpimpactError

__all__ = ["DaskPanel", "is_dask_frame"]


def is_dask_frame(data: Any) -> bool:
    """Whether ``data`` is a ``dask.dataframe.DataFrame`` (without importing dask)."""
    return (type(data).__module__.split(".")[0] == "dask" and hasattr(data, "npartitions")
            and hasattr(data, "to_delayed") and type(data).__name__ == "DataFrame")


def _dask() -> Any:
    try:
        import dask
    except ImportError as e:  # pragma: no cover - the frame itself needs dask
        raise DependencyError("Dask panels need dask: pip install 'spimpact[dask]'.") from e
    return dask


class DaskPanel:
    """A panel whose rows live in a ``dask.dataframe.DataFrame``.

    Built by :class:`spimpact.Panel` when it is given a Dask frame; the roles
    mean what they mean there. The frame is never modified or collected:
    every operation adds tasks to a new graph, and only sums come back.

    Supported roles: ``outcome``, ``unit``, ``time``, ``cohort`` (with
    ``never_treated``), ``cluster``, ``weights``, ``exposure`` and ``levels``.
    ``treatment=`` (a cohort would need every unit's first treated period
    before the fit: give ``cohort=``), ``covariates=`` and ``dose=`` are
    refused. The rows are checked on the workers, partition by partition,
    when a fit or an aggregation first reads them, by the same code as an
    in-memory :class:`~spimpact.Panel` (errors name the partition).

    Examples
    --------
    >>> import pandas as pd
    >>> import dask.dataframe as dd
    >>> from spimpact import Panel
    >>> df = pd.DataFrame({"pcn": [1, 1, 2, 2], "q": [1, 2, 1, 2], "y": [1.0, 2.0, 1.5, 1.7],
    ...                    "start": [2, 2, 0, 0]})
    >>> p = Panel(dd.from_pandas(df, npartitions=2), outcome="y", unit="pcn", time="q",
    ...           cohort="start", never_treated=0)
    >>> type(p).__name__, p.n_partitions
    ('DaskPanel', 2)
    """

    kind = "panel"

    def __init__(
        self,
        data: Any,
        *,
        outcome: str,
        unit: str | None = None,
        time: str | None = None,
        cohort: str | None = None,
        treatment: str | None = None,
        never_treated: Any = None,
        covariates: Sequence[str] | str | None = (),
        cluster: str | None = None,
        weights: str | None = None,
        exposure: str | None = None,
        levels: Sequence[str] | str | None = (),
        dose: str | None = None,
        treatment_kind: str = "absorbing",
    ) -> None:
        if not is_dask_frame(data):
            raise PanelError(f"DaskPanel needs a dask.dataframe.DataFrame, not "
                             f"{type(data).__name__}; use spimpact.Panel for other data.")
        if unit is None or time is None:
            raise PanelError(
                "a Dask panel needs unit= and time= (one row per unit and period); series, "
                "cross-sections and repeated cross-sections are built in memory: "
                "Panel(ddf.compute(), ...)."
            )
        refused = {"treatment": treatment, "dose": dose}
        for role, value in refused.items():
            if value is not None:
                fix = ("give cohort= (each unit's first treated period, a column of the frame)"
                       if role == "treatment" else "aggregate first, then build an in-memory Panel")
                raise PanelError(
                    f"{role}={value!r} is not supported on a Dask frame: {fix}."
                )
        if treatment_kind != "absorbing":
            raise PanelError(f"treatment_kind={treatment_kind!r} is not supported on a Dask frame.")
        covs = column_names(covariates, "covariates")
        if covs:
            raise PanelError(
                f"covariates={list(covs)!r} are not supported on a Dask frame: fits of Dask "
                f"panels are without covariates. Aggregate to practices or PCNs first "
                f"(panel.aggregate(to=...) carries numeric covariates as means) and fit the "
                f"in-memory panel with covariates."
            )
        self.outcome, self.unit, self.time, self.cohort = outcome, unit, time, cohort
        self.never_treated, self.cluster, self.weights = never_treated, cluster, weights
        self.exposure = exposure
        self.levels = column_names(levels, "levels")
        self.covariates: tuple[str, ...] = ()
        self.treatment, self.dose, self.treatment_kind = None, None, "absorbing"
        roles = [outcome, unit, time, cohort, cluster, weights, exposure, *self.levels]
        names = [c for c in roles if c is not None]
        missing = [c for c in names if c not in data.columns]
        if missing:
            raise PanelError(
                f"column {missing[0]!r} is not in the Dask frame (columns: "
                f"{', '.join(map(str, data.columns))}); check the spelling of the role."
            )
        self._columns = list(dict.fromkeys(names))
        self._ddf = data
        self._aligned: Any = None
        self._shuffled = False

    # ------------------------------------------------------------ accessors
    @property
    def data(self) -> Any:
        """The Dask frame as given (never modified)."""
        return self._ddf

    @property
    def n_partitions(self) -> int:
        return int(self._ddf.npartitions)

    @property
    def has_cohorts(self) -> bool:
        return self.cohort is not None

    def roles(self) -> dict[str, Any]:
        """The roles of the in-memory :class:`~spimpact.Panel` built on each partition."""
        return {"outcome": self.outcome, "unit": self.unit, "time": self.time,
                "cohort": self.cohort, "never_treated": self.never_treated,
                "cluster": self.cluster, "weights": self.weights, "exposure": self.exposure,
                "levels": list(self.levels)}

    def __repr__(self) -> str:
        return (f"DaskPanel(outcome={self.outcome!r}, unit={self.unit!r}, time={self.time!r}, "
                f"cohort={self.cohort!r}, {self.n_partitions} partitions)")

    # -------------------------------------------------------- partitions
    def unit_partitions(self) -> Any:
        """The frame with every unit's rows in one partition: as given when the
        partitions' unit ranges do not overlap, else shuffled on the unit column
        (computed once; the check reads the unit column only)."""
        if self._aligned is None:
            ranges = self._ddf[self.unit].map_partitions(_unit_range, meta=_RANGE_META).compute()
            ranges = ranges[ranges["n"] > 0]
            ok = True
            if len(ranges) > 1:
                try:
                    ranges = ranges.sort_values("lo", kind="stable")
                    ok = bool((ranges["hi"].to_numpy()[:-1] < ranges["lo"].to_numpy()[1:]).all())
                except TypeError:  # ids of mixed types: cannot order, shuffle
                    ok = False
            frame = self._ddf[self._columns]
            self._shuffled = not ok
            self._aligned = frame if ok else frame.shuffle(on=self.unit)
        return self._aligned

    def map_reduce(self, func: Callable[..., Any], merge: Callable[[Any, Any], Any],
                   *args: Any) -> Any:
        """``func(partition, where, roles, *args)`` on every partition (each an
        in-memory pandas frame holding whole units; ``where`` names it in
        messages), results merged pairwise in a tree on the workers; only the
        final merge reaches the driver."""
        dask = _dask()
        parts = self.unit_partitions().to_delayed()
        roles = self.roles()
        after = f" (after shuffling on {self.unit!r})" if self._shuffled else ""
        level = [dask.delayed(func)(p, f"partition {i} of the Dask frame{after}", roles, *args)
                 for i, p in enumerate(parts)]
        while len(level) > 1:
            nxt = [dask.delayed(merge)(level[i], level[i + 1])
                   for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        return dask.compute(level[0])[0]

    # ----------------------------------------------------------- describe
    def describe(self) -> pd.Series:
        """The one-column summary of :meth:`spimpact.Panel.describe`, from one
        pass over the partitions (rows, units, periods, cohorts, clusters,
        levels, the outcome's mean, the exposure's total, notes).

        Examples
        --------
        >>> import pandas as pd
        >>> import dask.dataframe as dd
        >>> from spimpact import Panel
        >>> df = pd.DataFrame({"pcn": [1, 1, 2, 2], "q": [1, 2, 1, 2], "y": [1.0, 2.0, 1.5, 1.7],
        ...                    "start": [2, 2, 0, 0]})
        >>> p = Panel(dd.from_pandas(df, npartitions=2), outcome="y", unit="pcn", time="q",
        ...           cohort="start", never_treated=0)
        >>> p.describe()[["rows", "units", "treated units"]].tolist()
        [4, 2, 1]
        """
        s = self.map_reduce(_describe_partition, _merge_describe)
        if s is None:
            raise PanelError("the Dask frame has no rows.")
        periods = s["periods"]
        info: dict[str, Any] = {"kind": "panel", "outcome": self.outcome, "rows": s["rows"],
                                "units": s["units"], "periods": len(periods),
                                "first period": periods[0], "last period": periods[-1],
                                "balanced": s["rows"] == s["units"] * len(periods)}
        if self.cohort is not None:
            c = s["cohorts"]
            never = c["never_treated"].to_numpy(dtype=bool)
            info["cohorts (treated)"] = int((~never).sum())
            info["treated units"] = int(c.loc[~never, "n_units"].sum())
            info["never-treated units"] = int(c.loc[never, "n_units"].sum())
        if self.cluster is not None:
            info["clusters"] = len(s["labels"][self.cluster])
        for lvl in self.levels:
            info[f"{lvl} (level)"] = len(s["labels"][lvl])
        info["outcome mean"] = s["wy"] / s["w"]
        if self.exposure is not None:
            info["exposure total"] = s["exposure"]
        if s["notes"]:
            info["notes"] = " ".join(s["notes"])
        info["partitions"] = self.n_partitions
        return pd.Series(info, name="value", dtype=object)

    # ---------------------------------------------------------- aggregate
    def aggregate(self, to: str) -> Any:
        """Aggregate the rows to a higher level per period on the workers: an
        in-memory :class:`~spimpact.Panel` equal to the in-memory panel's
        :meth:`~spimpact.Panel.aggregate` (counts and exposure summed, the
        outcome otherwise a weighted mean; cohort, cluster and higher levels
        constant within the new units).
        """
        from ._dask_aggregate import aggregate_dask

        return aggregate_dask(self, to)


_RANGE_META = pd.DataFrame({"n": pd.Series([], dtype="int64"), "lo": pd.Series([], dtype=object),
                            "hi": pd.Series([], dtype=object)})


def _unit_range(s: pd.Series) -> pd.DataFrame:
    if len(s) == 0:
        return pd.DataFrame({"n": [0], "lo": [None], "hi": [None]}).astype({"lo": object,
                                                                          "hi": object})
    return pd.DataFrame({"n": [len(s)], "lo": [s.min()], "hi": [s.max()]}).astype(
        {"lo": object, "hi": object})


def partition_panel(part: pd.DataFrame, where: str, roles: dict[str, Any]) -> Any:
    """The in-memory :class:`~spimpact.Panel` of one partition, its notes kept
    and its errors naming the partition."""
    from .panel import Panel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kept in the panel's notes; reported by the caller
        try:
            return Panel(part, **roles)
        except SpimpactError as e:
            raise type(e)(
                f"in {where} (row numbers count from that partition's first row): {e}"
            ) from None


def _describe_partition(part: pd.DataFrame, where: str, roles: dict[str, Any]) -> dict | None:
    if len(part) == 0:
        return None
    p = partition_panel(part, where, roles)
    cohorts = p.cohorts.copy() if p.has_cohorts else None
    if cohorts is not None:  # never treated: one key whatever the missing value
        cohorts["cohort"] = cohorts["cohort"].astype(object).where(~cohorts["never_treated"],
                                                                   "never")
    cols = [c for c in (roles["cluster"], *roles["levels"]) if c is not None]
    w = np.asarray(p.w, dtype=float)
    return {"rows": p.n_obs, "units": p.n_units, "periods": p.periods,
            "cohorts": cohorts,
            "labels": {c: pd.Index(pd.unique(p._df[c].to_numpy())) for c in cols},
            "wy": float(w @ np.asarray(p.y)), "w": float(w.sum()),
            "exposure": None if p.exposure_values is None else float(p.exposure_values.sum()),
            "notes": list(p.notes)}


def _merge_describe(a: dict | None, b: dict | None) -> dict | None:
    if a is None or b is None:
        return a if b is None else b
    cohorts = None
    if a["cohorts"] is not None:
        both = pd.concat([a["cohorts"], b["cohorts"]])
        cohorts = both.groupby("cohort", sort=False).agg(
            n_units=("n_units", "sum"), n_rows=("n_rows", "sum"),
            never_treated=("never_treated", "first")).reset_index()
    return {"rows": a["rows"] + b["rows"], "units": a["units"] + b["units"],
            "periods": a["periods"].union(b["periods"]), "cohorts": cohorts,
            "labels": {c: a["labels"][c].append(b["labels"][c]).unique() for c in a["labels"]},
            "wy": a["wy"] + b["wy"], "w": a["w"] + b["w"],
            "exposure": None if a["exposure"] is None else a["exposure"] + b["exposure"],
            "notes": list(dict.fromkeys([*a["notes"], *b["notes"]]))}
