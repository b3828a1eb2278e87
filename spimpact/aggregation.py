"""The one aggregation engine for group-time effects.

Every summary of ATT(g,t) -- the simple average, by cohort, by event time, by
calendar period, by subgroup -- is a weight matrix ``W`` (rows: summaries,
columns: cells) applied to the stored estimates and influence functions,
never a refit. When a row's weights are cohort shares estimated from the data
(``W[j, k] = p_k / sum_{k' in K_j} p_k'``), the influence function of the
estimated shares is added, as in Callaway & Sant'Anna (2021, Sec. 4):

    psi_j += sum_{k in K_j} (z_k - p_k) (att_k - theta_j) / S_j

where ``z_k = w_i 1{G_i = g_k}`` and ``S_j = sum_{k in K_j} p_k``.
Expanded, the term is ``w_i B[g_i] - c_j`` with ``c_j = sum_k W_jk (att_k -
theta_j) = theta_j (1 - sum_k W_jk)``, which is zero: share rows sum to one (or
are all zero). So only each unit's weighted cohort indicator enters.
The same weights apply to posterior draws of ATT(g,t) (Bayesian DiD).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from .errors import EstimationError, OptionError
from .inference import FactoredInfluence, combine_columns

__all__ = [
    "AggregationKind", "Aggregation", "aggregation_weights", "apply_aggregation", "UnitBasis",
    "FactoredBasis", "DrawBasis", "row_labels", "KINDS", "check_kind", "draw_aggregation",
]

AggregationKind = Literal["simple", "group", "event", "calendar"]
KINDS = ("simple", "group", "event", "calendar")


@dataclass(frozen=True)
class Aggregation:
    """Weights of one aggregation.

    Attributes
    ----------
    weights : ndarray (m, k)
        Row ``j`` combines the cells into summary ``j``.
    shares : ndarray of bool (m,)
        Whether row ``j``'s weights are estimated cohort shares (adds their
        influence function).
    labels : DataFrame (m rows)
        What identifies each summary (``group``, ``event_time`` or ``time``
        positions; ``simple`` has one unlabelled row).
    overall : ndarray (m,)
        Weights that combine the rows into the overall summary (R's
        ``overall.att``).
    overall_shares : bool
        Whether the overall weights are estimated shares of the rows' cohorts.
    """

    kind: str
    weights: np.ndarray
    shares: np.ndarray
    labels: pd.DataFrame
    overall: np.ndarray
    overall_shares: bool


def _share_rows(sets: list[np.ndarray], pg: np.ndarray) -> np.ndarray:
    W = np.zeros((len(sets), len(pg)))
    for j, s in enumerate(sets):
        tot = pg[s].sum()
        W[j, s] = pg[s] / tot if tot > 0 else 0.0
    return W


def check_kind(kind: str) -> str:
    """The aggregation kind, with R's ``"dynamic"`` read as ``"event"``.

    Examples
    --------
    >>> check_kind("dynamic")
    'event'
    """
    kind = "event" if kind == "dynamic" else kind
    if kind not in KINDS:
        raise OptionError(f"kind must be one of {list(KINDS)}, not {kind!r}.")
    return kind


def aggregation_weights(
    cells: pd.DataFrame,
    kind: AggregationKind,
    *,
    min_event: int | None = None,
    max_event: int | None = None,
    balance_event: int | None = None,
    n_periods: int | None = None,
) -> Aggregation:
    """Weights of an aggregation of ATT(g,t) cells.

    Parameters
    ----------
    cells : DataFrame
        One row per estimated cell with integer columns ``g`` (cohort position,
        its first treated period), ``t`` (period position) and float ``pg``
        (the cohort's share of units, weighted). Cells with a missing estimate
        must be removed first.
    kind : {"simple", "group", "event", "calendar"}
    min_event, max_event : int, optional
        Event-time window (``"event"``); ``max_event`` also caps the
        post-periods used by ``"simple"`` and ``"group"``, as in R's ``did``.
    balance_event : int, optional
        Keep only cohorts observed at least this many periods after treatment
        (balanced event study).
    n_periods : int, optional
        Number of periods (needed with ``balance_event``).

    Examples
    --------
    >>> import pandas as pd
    >>> cells = pd.DataFrame({"g": [1, 1, 2], "t": [1, 2, 2], "pg": [0.2, 0.2, 0.6]})
    >>> agg = aggregation_weights(cells, "simple")
    >>> agg.weights.round(2).tolist()
    [[0.2, 0.2, 0.6]]
    """
    if kind not in KINDS:
        raise OptionError(f"aggregation kind must be one of {list(KINDS)}, not {kind!r}.")
    g, t, pg = (cells[c].to_numpy() for c in ("g", "t", "pg"))
    e = t - g
    post = t >= g
    cap = np.ones(len(g), dtype=bool) if max_event is None else e <= max_event
    if kind == "simple":
        keep = np.flatnonzero(post & cap)
        if len(keep) == 0:
            raise EstimationError("no post-treatment cells to aggregate.")
        W = _share_rows([keep], pg)
        return Aggregation(kind, W, np.array([True]), pd.DataFrame(index=[0]), np.ones(1), False)
    if kind == "group":
        groups = np.unique(g[post & cap])
        sets = [np.flatnonzero((g == gg) & post & cap) for gg in groups]
        W = np.zeros((len(sets), len(g)))
        for j, s in enumerate(sets):
            W[j, s] = 1.0 / len(s)
        gp = np.array([pg[g == gg][0] for gg in groups])
        return Aggregation(kind, W, np.zeros(len(sets), dtype=bool),
                           pd.DataFrame({"g": groups}), gp / gp.sum(), True)
    if kind == "event":
        ok = np.ones(len(g), dtype=bool)
        if balance_event is not None:
            if n_periods is None:
                raise OptionError("balance_event needs n_periods.")
            ok = (n_periods - 1 - g) >= balance_event
            ok &= (e <= balance_event)
        if min_event is not None:
            ok &= e >= min_event
        if max_event is not None:
            ok &= e <= max_event
        events = np.unique(e[ok])
        if len(events) == 0:
            raise EstimationError("no cells fall in the requested event-time window.")
        sets = [np.flatnonzero(ok & (e == ev)) for ev in events]
        W = _share_rows(sets, pg)
        overall = (events >= 0).astype(float)
        if overall.sum() == 0:
            raise EstimationError("no post-treatment event times in the requested window.")
        return Aggregation(kind, W, np.ones(len(sets), dtype=bool),
                           pd.DataFrame({"event_time": events}), overall / overall.sum(), False)
    # calendar
    times = np.unique(t[post])
    sets = [np.flatnonzero(post & (t == tt)) for tt in times]
    W = _share_rows(sets, pg)
    return Aggregation(kind, W, np.ones(len(sets), dtype=bool), pd.DataFrame({"t": times}),
                       np.full(len(sets), 1.0 / len(sets)), False)


@dataclass(frozen=True)
class UnitBasis:
    """Expands share-influence coefficients over sampling units.

    ``unit_group`` is each unit's cohort index (-1: none), ``unit_w`` its weight.
    """

    unit_group: np.ndarray
    unit_w: np.ndarray
    n_groups: int

    def expand(self, B: np.ndarray) -> np.ndarray:
        """``z_i' B`` for every unit ``i`` (``z_i`` its weighted cohort indicator)."""
        ug = np.where(self.unit_group >= 0, self.unit_group, self.n_groups)
        out = np.take(B, ug, axis=0)  # one (n, m) allocation, updated in place
        out *= self.unit_w[:, None]
        return out


@dataclass(frozen=True)
class FactoredBasis:
    """The same expansion on a factored influence's own basis, whose blocks
    are the cohorts (never treated last) and whose ``weight_col`` holds each
    unit's weight: ``z_i' B`` is then a coefficient matrix, and aggregations
    stay factored."""

    psi: FactoredInfluence
    n_groups: int

    def expand(self, B: np.ndarray) -> FactoredInfluence:
        f = self.psi
        coef = np.zeros((f.basis_width, B.shape[1]))
        coef[f.weight_columns(np.arange(self.n_groups))] = B[: self.n_groups]
        return f.with_coef(coef)


@dataclass(frozen=True)
class DrawBasis:
    """The same expansion for multiplier-bootstrap draws: ``group_draws`` are
    the draws of the weighted cohort indicators ``(n_boot, n_groups)``. The
    bootstrap is linear, so draws of every aggregation follow from the draws
    of the cells."""

    group_draws: np.ndarray
    n_groups: int

    def expand(self, B: np.ndarray) -> np.ndarray:
        return self.group_draws @ B[: self.n_groups]


def _share_influence(
    att: np.ndarray,
    W: np.ndarray,
    shares: np.ndarray,
    pg: np.ndarray,
    cell_group: np.ndarray,
    basis: UnitBasis | FactoredBasis | DrawBasis,
) -> np.ndarray | FactoredInfluence:
    """Influence of the estimated cohort shares on each row: ``(n, m)``."""
    theta = W @ att
    with np.errstate(divide="ignore", invalid="ignore"):
        A = np.where(W.T > 0, W.T * (att[:, None] - theta[None, :]) / pg[:, None], 0.0)
    A[:, ~shares] = 0.0
    B = np.zeros((basis.n_groups + 1, W.shape[0]))
    np.add.at(B, cell_group, A)
    return basis.expand(B)


def apply_aggregation(
    agg: Aggregation,
    att: np.ndarray,
    psi: np.ndarray | FactoredInfluence,
    pg: np.ndarray,
    cell_group: np.ndarray,
    basis: UnitBasis | FactoredBasis | DrawBasis,
) -> tuple[np.ndarray, Any, float, Any]:
    """Estimates and influence functions of the rows and of the overall summary.

    Parameters
    ----------
    att : ``(k,)`` the cells' estimates.
    psi : ``(n, k)`` their influence functions, dense or factored (or
        ``(n_boot, k)`` bootstrap draws, with a :class:`DrawBasis`).
    pg : ``(k,)`` each cell's cohort share; ``cell_group`` ``(k,)`` its cohort index.
    basis : how the estimated shares' influence expands over the rows of ``psi``
        (:class:`FactoredBasis` keeps a factored ``psi`` factored).

    Returns
    -------
    est (m,), psi_rows (n, m), overall estimate, overall influence function
    (n, 1); the influence functions are factored when ``psi`` is.
    """
    est = agg.weights @ att
    psi_rows = combine_columns(psi, agg.weights.T)
    if agg.shares.any():
        psi_rows = psi_rows + _share_influence(att, agg.weights, agg.shares, pg, cell_group, basis)
    overall = float(agg.overall @ est)
    psi_overall = combine_columns(psi_rows, agg.overall[:, None])
    if agg.overall_shares:
        first = [int(np.flatnonzero(r > 0)[0]) for r in agg.weights]
        psi_overall = psi_overall + _share_influence(
            est, agg.overall[None, :], np.array([True]), pg[first], cell_group[first], basis
        )
    return est, psi_rows, overall, psi_overall


def row_labels(labels: pd.DataFrame, periods: pd.Index) -> dict[str, list]:
    """An aggregation's row identifiers in the panel's own period labels:
    ``group`` or ``time`` (period positions to labels) or ``event_time``."""
    if "g" in labels:
        return {"group": [periods[int(g)] for g in labels["g"]]}
    if "t" in labels:
        return {"time": [periods[int(t)] for t in labels["t"]]}
    if "event_time" in labels:
        return {"event_time": labels["event_time"].astype(int).tolist()}
    return {}


def draw_aggregation(
    draws: np.ndarray, cells: pd.DataFrame, kind: str, *, n_periods: int | None = None,
    min_event: int | None = None, max_event: int | None = None,
    balance_event: int | None = None,
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """An aggregation of draws of the cells (posterior draws, or any draws
    whose last axis is the cells of ``cells``): the draws of its rows, of its
    overall summary, and the rows' labels. Cohort shares are taken as fixed
    (each draw is of the effects, not of the shares).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> cells = pd.DataFrame({"g": [2, 2], "t": [2, 3], "pg": [0.5, 0.5], "gi": [0, 0]})
    >>> rows, overall, labels = draw_aggregation(np.array([[1.0, 3.0]]), cells, "simple")
    >>> overall.tolist()
    [2.0]
    """
    agg = aggregation_weights(cells, cast(AggregationKind, check_kind(kind)),
                              min_event=min_event, max_event=max_event,
                              balance_event=balance_event, n_periods=n_periods)
    rows = draws @ agg.weights.T
    return rows, rows @ agg.overall, agg.labels
