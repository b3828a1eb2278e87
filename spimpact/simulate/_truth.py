"""True effects of a simulated staggered rollout, aggregated as in R's ``did``.

Pure functions on arrays, shared by every simulator with a cohort structure.
The input is, per observed unit-period row, the unit, its cohort (first treated
period position; ``inf`` or NaN if never treated), the period position and the
true effect ``delta = mu1 - mu0`` (difference of *expected* outcomes). Output
is a tidy table with one row per reported quantity::

    outcome, target, group, time, event_time, subgroup, value, n_units

Definitions (Callaway & Sant'Anna 2021; R ``did::aggte``), with ``n_g`` the
number of units in cohort ``g``:

* ``att_gt``: ATT(g,t) = mean of ``delta`` over cohort-``g`` units observed
  at ``t``, for every period ``t`` (pre-periods are 0 unless there is
  anticipation).
* ``event``: ``theta(e) = sum_g n_g ATT(g, g+e) / sum_g n_g`` over the cohorts
  observed at ``g + e`` (negative ``e`` included).
* ``overall``: R's ``"simple"``: ``sum n_g ATT(g,t) / sum n_g`` over the
  post-treatment cells ``t >= g`` (each cell weighted by its cohort size).
* ``group``: per cohort, the unweighted mean of its post-treatment ATT(g,t).
* ``calendar``: per period ``t``, ``sum n_g ATT(g,t) / sum n_g`` over the
  cohorts already treated (``g <= t``).
* ``subgroup``: ``overall`` computed within each subgroup (cells and cohort
  sizes restricted to the subgroup's units).

This is deliberately an independent, plain implementation (group-bys, not the
estimators' weight-matrix engine) so that tests of the estimators against it
are not circular.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["TRUTH_COLUMNS", "group_time_truth", "aggregate_truth", "truth_table"]

#: Columns of every ``.truth`` table of a cohort simulator.
TRUTH_COLUMNS = ("outcome", "target", "group", "time", "event_time", "subgroup", "value", "n_units")


def _cells(
    unit: np.ndarray, group: np.ndarray, time: np.ndarray, delta: np.ndarray,
    level: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """Cell means by (level, g, t) with one ``bincount``; cohort sizes as a dense (L, G) array.

    Returns ``lev, g, t, value, n_units`` (one entry per non-empty cell) and ``ng``.
    """
    gf = np.asarray(group, dtype=float)
    keep = np.isfinite(gf)
    u = np.asarray(unit)[keep].astype(np.int64)
    g = gf[keep].astype(np.int64)
    t = np.asarray(time)[keep].astype(np.int64)
    d = np.asarray(delta, dtype=float)[keep]
    lev = np.zeros(len(g), np.int64) if level is None else np.asarray(level)[keep].astype(np.int64)
    if len(g) == 0:
        e = np.zeros(0, np.int64)
        return e, e, e, np.zeros(0), e, np.zeros((1, 1), np.int64)
    G, T = int(g.max()) + 1, int(t.max()) + 1
    code = (lev * G + g) * T + t
    count = np.bincount(code)
    total = np.bincount(code, weights=d)
    cell = np.flatnonzero(count)
    unit_key = np.full(int(u.max()) + 1, -1, dtype=np.int64)
    unit_key[u] = lev * G + g
    L = int(lev.max()) + 1
    ng = np.bincount(unit_key[unit_key >= 0], minlength=L * G).reshape(L, G)
    return (cell // (G * T), (cell // T) % G, cell % T, total[cell] / count[cell], count[cell], ng)


def group_time_truth(
    unit: np.ndarray, group: np.ndarray, time: np.ndarray, delta: np.ndarray
) -> tuple[pd.DataFrame, pd.Series]:
    """True ATT(g,t) cells and cohort sizes from per-row effects.

    Parameters
    ----------
    unit : ndarray (n,)
        Non-negative integer unit codes.
    group : ndarray (n,)
        Cohort period positions (float; ``inf``/NaN for never treated).
    time : ndarray (n,)
        Non-negative integer period positions.
    delta : ndarray (n,)
        True effect in each row (``mu1 - mu0``).

    Returns
    -------
    cells : DataFrame
        Columns ``g, t, value, n_units`` (one row per cohort and period).
    sizes : Series
        ``n_g``: number of distinct units in each cohort, indexed by ``g``.

    Examples
    --------
    >>> import numpy as np
    >>> cells, n_g = group_time_truth(np.array([0, 0, 1, 1]), np.array([1.0, 1.0, np.inf, np.inf]),
    ...                               np.array([0, 1, 0, 1]), np.array([0.0, 2.0, 0.0, 0.0]))
    >>> cells["value"].tolist(), n_g.tolist()
    ([0.0, 2.0], [1])
    """
    _, g, t, value, n, ng = _cells(unit, group, time, delta)
    present = np.flatnonzero(ng[0])
    cells = pd.DataFrame({"g": g, "t": t, "value": value, "n_units": n})
    return cells, pd.Series(ng[0, present], index=present)


def _simple(
    lev: np.ndarray, g: np.ndarray, t: np.ndarray, v: np.ndarray, ng: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """R's simple aggregation per level: post cells (t >= g) weighted by cohort size.

    ``ng`` is the dense (L, G) array of cohort sizes. Returns the value and the
    number of units behind it for each level (NaN and 0 without post cells).
    """
    L, G = ng.shape
    post = t >= g
    w = ng[lev[post], g[post]].astype(float)
    sw = np.bincount(lev[post], weights=w, minlength=L)
    swv = np.bincount(lev[post], weights=w * v[post], minlength=L)
    has_post = np.zeros((L, G), dtype=bool)
    has_post[lev[post], g[post]] = True
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sw > 0, swv / sw, np.nan), (ng * has_post).sum(axis=1).astype(float)


def _weighted(key: np.ndarray, w: np.ndarray, value: np.ndarray, n: np.ndarray) -> tuple:
    """Per distinct ``key``: ``sum(w value) / sum(w)`` and ``sum(n)``."""
    keys, inv = np.unique(key, return_inverse=True)
    sw = np.bincount(inv, weights=w)
    return keys, np.bincount(inv, weights=w * value) / sw, np.bincount(inv, weights=n)


def aggregate_truth(cells: pd.DataFrame, sizes: pd.Series) -> pd.DataFrame:
    """Aggregate true ATT(g,t) cells into event, overall, group and calendar truths.

    Parameters
    ----------
    cells : DataFrame
        ``g, t, value, n_units`` as returned by :func:`group_time_truth`.
    sizes : Series
        Cohort sizes ``n_g`` indexed by ``g``.

    Returns
    -------
    DataFrame
        Columns ``target, g, t, event_time, value, n_units`` (positions, NaN
        where a column does not apply), ``att_gt`` rows first.

    Examples
    --------
    >>> import pandas as pd
    >>> cells = pd.DataFrame({"g": [1, 1, 2], "t": [1, 2, 2], "value": [1.0, 2.0, 4.0],
    ...                       "n_units": [1, 1, 3]})
    >>> out = aggregate_truth(cells, pd.Series([1, 3], index=[1, 2]))
    >>> float(out.loc[out.target == "overall", "value"].iloc[0])  # (1 + 2 + 3 * 4) / 5
    3.0
    """
    g, t = cells["g"].to_numpy(np.int64), cells["t"].to_numpy(np.int64)
    v, n = cells["value"].to_numpy(float), cells["n_units"].to_numpy(float)
    e = t - g
    ng = sizes.reindex(g).to_numpy(dtype=float)
    nan = np.nan
    rows = [pd.DataFrame({"target": "att_gt", "g": g, "t": t, "event_time": e, "value": v,
                          "n_units": n})]
    ke, ve, ne = _weighted(e, ng, v, n)
    rows.append(pd.DataFrame({"target": "event", "g": nan, "t": nan, "event_time": ke,
                              "value": ve, "n_units": ne}))
    post = e >= 0
    if post.any():
        gp, tp, vp, np_, ngp = g[post], t[post], v[post], n[post], ng[post]
        dense = np.zeros((1, int(max(g.max(), sizes.index.max())) + 1), dtype=np.int64)
        dense[0, sizes.index.to_numpy(np.int64)] = sizes.to_numpy()
        overall, n_overall = _simple(np.zeros(len(g), np.int64), g, t, v, dense)
        rows.append(pd.DataFrame({"target": "overall", "g": [nan], "t": [nan],
                                  "event_time": [nan], "value": overall,
                                  "n_units": n_overall}))
        kg, vg, _ = _weighted(gp, np.ones(len(gp)), vp, np_)
        rows.append(pd.DataFrame({"target": "group", "g": kg, "t": nan, "event_time": nan,
                                  "value": vg, "n_units": sizes.reindex(kg).to_numpy(float)}))
        kt, vt, nt = _weighted(tp, ngp, vp, np_)
        rows.append(pd.DataFrame({"target": "calendar", "g": nan, "t": kt, "event_time": nan,
                                  "value": vt, "n_units": nt}))
    return pd.concat(rows, ignore_index=True)


def _subgroup_overall(
    unit: np.ndarray, group: np.ndarray, time: np.ndarray, delta: np.ndarray,
    name: str, values: np.ndarray | pd.Categorical,
) -> pd.DataFrame:
    """``overall`` truth within each level of one unit-level subgroup variable
    (a categorical keeps its categories' order and skips the factorisation)."""
    if isinstance(values, pd.Categorical):
        codes, levels = values.codes.astype(np.int64), values.categories
    else:
        codes, levels = pd.factorize(np.asarray(values), sort=True)
    lev, g, t, v, _, ng = _cells(unit, group, time, delta, level=codes)
    value, n_units = _simple(lev, g, t, v, ng)
    ok = n_units > 0
    return pd.DataFrame({"target": "subgroup",
                         "subgroup": [f"{name}={lv}" for lv in np.asarray(levels)[: len(ok)][ok]],
                         "value": value[ok], "n_units": n_units[ok]})


def truth_table(
    outcome: str,
    unit: np.ndarray,
    group: np.ndarray,
    time: np.ndarray,
    delta: np.ndarray,
    periods: pd.PeriodIndex,
    subgroups: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The tidy truth table of one outcome, with periods as the user's labels.

    Parameters
    ----------
    outcome : str
        Outcome name written in the ``outcome`` column.
    unit, group, time, delta : ndarray (n,)
        As in :func:`group_time_truth`.
    periods : PeriodIndex
        Label of each period position.
    subgroups : mapping of str to ndarray or Categorical (n,), optional
        Unit-level subgroup variables; adds ``subgroup`` rows (``overall``
        within each level, labelled ``"name=level"``; levels sorted, or in the
        order of a categorical's categories, and only those with treated units).

    Returns
    -------
    DataFrame
        Columns :data:`TRUTH_COLUMNS`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> per = pd.period_range("2020Q1", periods=2, freq="Q")
    >>> tt = truth_table("y", np.array([0, 0, 1, 1]), np.array([1.0, 1.0, np.inf, np.inf]),
    ...                  np.array([0, 1, 0, 1]), np.array([0.0, 2.0, 0.0, 0.0]), per)
    >>> tt.loc[tt.target == "overall", "value"].tolist()
    [2.0]
    """
    cells, sizes = group_time_truth(unit, group, time, delta)
    parts = [aggregate_truth(cells, sizes).assign(subgroup=None)]
    for name, values in (subgroups or {}).items():
        parts.append(_subgroup_overall(np.asarray(unit), np.asarray(group, dtype=float),
                                       np.asarray(time), np.asarray(delta, dtype=float),
                                       name, values if isinstance(values, pd.Categorical)
                                       else np.asarray(values)))
    parts = [p for p in parts if len(p)]
    out = (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        {c: pd.Series(dtype=float) for c in ("g", "t", "event_time", "value", "n_units")}
        | {"target": pd.Series(dtype=object), "subgroup": pd.Series(dtype=object)}))

    def lab(pos: pd.Series) -> pd.PeriodIndex:
        o = pos.to_numpy(dtype=float)
        ok = np.isfinite(o)
        ords = np.full(len(o), np.iinfo(np.int64).min, dtype=np.int64)
        ords[ok] = periods.asi8[o[ok].astype(np.int64)]
        return pd.PeriodIndex.from_ordinals(ords, freq=periods.freq)

    return pd.DataFrame({
        "outcome": outcome,
        "target": out["target"].to_numpy(dtype=object),
        "group": lab(out["g"]),
        "time": lab(out["t"]),
        "event_time": pd.array(out["event_time"].to_numpy(dtype=float), dtype="Int64"),
        "subgroup": out["subgroup"].to_numpy(dtype=object),
        "value": out["value"].to_numpy(dtype=float),
        "n_units": out["n_units"].to_numpy(dtype=float).astype(np.int64),
    })
