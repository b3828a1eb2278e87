"""Benchmark targets: which estimate of a result is compared with which truth.

A target is a string:

* ``"overall"``: the result's headline :attr:`~spimpact.Result.overall`
  against the simulation's ``overall`` truth (for staggered designs R's
  ``"simple"`` ATT over all treated cells);
* ``"event:<e>"``: the event-time estimate ``e`` of ``result.aggregate("event")``
  against the ``event`` truth at ``event_time == e``;
* ``"group:<label>"`` / ``"calendar:<label>"``: the cohort (calendar-period)
  estimate of ``result.aggregate("group")`` (``"calendar"``) whose label prints
  as ``<label>`` (e.g. ``group:2019Q3``) against the matching truth row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import OptionError
from ..results import Estimate

__all__ = ["Target", "parse_target", "truth_value", "estimate_for"]

_KINDS = ("overall", "event", "group", "calendar")
#: the column identifying a row of each aggregation, in results and in truth tables
_RESULT_COLUMN = {"event": "event_time", "group": "group", "calendar": "time"}
_TRUTH_COLUMN = {"event": "event_time", "group": "group", "calendar": "time"}


@dataclass(frozen=True)
class Target:
    """A parsed target: the aggregation ``kind`` and the row ``key`` (None for overall)."""

    kind: str
    key: str | None = None

    def __str__(self) -> str:
        return self.kind if self.key is None else f"{self.kind}:{self.key}"


def parse_target(text: str) -> Target:
    """Parse ``"overall"``, ``"event:2"``, ``"group:2019Q3"`` or ``"calendar:2020Q1"``.

    Examples
    --------
    >>> parse_target("event:-1")
    Target(kind='event', key='-1')
    """
    if not isinstance(text, str) or not text.strip():
        raise OptionError(f"a target must be a string such as 'overall' or 'event:2', not {text!r}.")
    kind, _, key = text.strip().partition(":")
    if kind not in _KINDS:
        raise OptionError(
            f"unknown target {text!r}: use 'overall', 'event:<e>' (e.g. 'event:0'), "
            f"'group:<cohort>' or 'calendar:<period>'."
        )
    if kind == "overall":
        if key:
            raise OptionError(f"target 'overall' takes no key, got {text!r}.")
        return Target("overall")
    if not key:
        raise OptionError(f"target {text!r} needs a key, e.g. '{kind}:0'.")
    if kind == "event":
        try:
            key = str(int(key))
        except ValueError as exc:
            raise OptionError(f"event-time target needs an integer, e.g. 'event:2', not {text!r}.") \
                from exc
    return Target(kind, key)


def _label(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return ""
    if isinstance(v, (int, np.integer)) or (isinstance(v, float) and float(v).is_integer()):
        return str(int(v))
    return str(v)


def truth_value(truth: pd.DataFrame, outcome: str, target: Target, truth_target: str) -> float:
    """The true value of ``target`` for ``outcome`` in a simulator's tidy truth table
    (``outcome, target, group, time, event_time, subgroup, value``); NaN if absent.

    ``truth_target`` is the truth table's name for the overall target (``"overall"``
    for every cohort simulator).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"outcome": ["y", "y"], "target": ["overall", "event"],
    ...                   "event_time": [None, 0], "subgroup": [None, None], "value": [1.0, 2.0]})
    >>> truth_value(t, "y", Target("event", "0"), "overall")
    2.0
    """
    rows = truth[truth["outcome"] == outcome]
    if target.kind == "overall":
        sel = rows[rows["target"] == truth_target]
        if "subgroup" in sel.columns:
            sel = sel[sel["subgroup"].isna()]
    else:
        sel = rows[rows["target"] == target.kind]
        col = _TRUTH_COLUMN[target.kind]
        sel = sel[[_label(v) == target.key for v in sel[col]]]  # a few dozen rows
    return float(sel["value"].iloc[0]) if len(sel) == 1 else np.nan


def estimate_for(result: Any, target: Target, cache: dict[str, Any]) -> Estimate:
    """The :class:`~spimpact.Estimate` of ``target`` in a fitted result.

    ``cache`` keeps each aggregation of this result so several targets share it.
    Raises :class:`LookupError` when the result does not report the target.
    """
    if target.kind == "overall":
        if result.overall is None:
            raise LookupError("the result has no overall estimate")
        return result.overall
    if not hasattr(result, "aggregate"):
        raise LookupError(f"{type(result).__name__} has no aggregate(); it cannot report "
                          f"{target}")
    if target.kind not in cache:
        cache[target.kind] = result.aggregate(target.kind)
    agg = cache[target.kind]
    tab = agg.estimates
    col = _RESULT_COLUMN[target.kind]
    if col not in tab.columns:
        raise LookupError(f"aggregate({target.kind!r}) has no {col!r} column")
    hit = np.flatnonzero([_label(v) == target.key for v in tab[col]])
    if len(hit) != 1:
        raise LookupError(f"the result reports no {target}")
    return Estimate.from_row(tab.iloc[int(hit[0])], agg.confidence, label=str(target))
