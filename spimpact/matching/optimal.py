"""Optimal pair (1:k) matching and optimal full matching on a score: pure functions.

* :func:`optimal_pairs` -- each focal unit receives up to ``ratio`` distinct
  controls, no control is used twice, and among the matchings that match the
  largest possible number of (focal, control) pairs within the caliper and
  exact strata, the one with the smallest total distance is returned. It is a
  rectangular assignment problem (each focal unit's row repeated ``ratio``
  times, plus one "unmatched" column per row priced above any feasible total
  distance), solved by scipy's sparse Jonker-Volgenant solver
  (:func:`scipy.sparse.csgraph.min_weight_full_bipartite_matching`) on the
  pairs inside the caliper.
* :func:`full_match` -- optimal full matching (Rosenbaum 1991; Hansen 2004,
  as R's ``optmatch::fullmatch`` without restrictions on the set sizes): every
  unit with a partner inside the caliper is placed in a matched set of one
  treated unit and one or more controls, or one control and several treated
  units, minimising the total treated-control distance within sets. With
  non-negative distances that is a minimum-weight edge cover of the bipartite
  graph of admissible pairs (a minimum edge cover is a forest of stars, and a
  star is such a set). The cover is found by the classical reduction to a
  matching: with ``mu(v)`` the distance from ``v`` to its nearest partner, the
  optimal cover is a minimum-weight matching ``M`` under the reduced costs
  ``d(t, c) - mu(t) - mu(c)`` (only negative ones), plus, for every unit ``M``
  leaves uncovered, the edge to its nearest partner. On a line only pairs
  whose "empty" intervals ``(s - mu, s + mu)`` overlap have a negative reduced
  cost, and such a pair has no control-then-treated switch between them in
  sorted order, so the candidates of a treated unit are the first run of
  controls on each side of it: the candidate set is linear in the data and
  exact, not a heuristic.

Ties (equal scores) are broken by a key per unit (:func:`spimpact.matching._common.tie_keys`),
never by row position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import EstimationError
from .nearest import Matches, nearest_neighbours

__all__ = ["optimal_pairs", "full_match", "FullMatch", "MAX_OPTIMAL_PAIRS"]

#: Most admissible (focal, control) pairs the optimal solvers accept; beyond it a
#: caliper or exact strata are needed (a dense 5,000 x 50,000 problem has 250 million).
MAX_OPTIMAL_PAIRS = 30_000_000


def _sorted_pool(
    score: np.ndarray, pool: np.ndarray, strata: np.ndarray, key: np.ndarray
) -> np.ndarray:
    """Indices of ``pool`` sorted by (stratum, score, tie key)."""
    return pool[np.lexsort((key[pool], score[pool], strata[pool]))]


def _windows(
    cs: np.ndarray, cst: np.ndarray, s: np.ndarray, st: np.ndarray, caliper: float
) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``[a, b)`` of the sorted pool within the stratum and caliper of each query."""
    lo = np.searchsorted(_pack(cst, cs), _pack(st, np.full(len(s), -np.inf)), side="left")
    hi = np.searchsorted(_pack(cst, cs), _pack(st, np.full(len(s), np.inf)), side="right")
    if not np.isfinite(caliper):
        return lo, hi
    a = np.maximum(lo, np.searchsorted(_pack(cst, cs), _pack(st, s - caliper), side="left"))
    b = np.minimum(hi, np.searchsorted(_pack(cst, cs), _pack(st, s + caliper), side="right"))
    return a, np.maximum(a, b)


def _pack(stratum: np.ndarray, value: np.ndarray) -> np.ndarray:
    """A structured array ordered by (stratum, value), for searchsorted."""
    out = np.empty(len(value), dtype=[("s", np.int64), ("v", np.float64)])
    out["s"] = stratum
    out["v"] = value
    return out


def _expand(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(row, position)`` for every position in ``[a_i, b_i)`` of every row ``i``."""
    cnt = np.maximum(b - a, 0)
    total = int(cnt.sum())
    if total > MAX_OPTIMAL_PAIRS:
        raise EstimationError(
            f"optimal matching would consider {total:,} admissible (treated, control) pairs "
            f"(limit {MAX_OPTIMAL_PAIRS:,}); set a caliper (e.g. caliper=0.2), add exact= "
            f"strata, or use method='nearest'."
        )
    rows = np.repeat(np.arange(len(a)), cnt)
    offs = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return rows, a[rows] + offs


def _assignment(fr: np.ndarray, cols: np.ndarray, cost: np.ndarray, n_f: int, k: int,
                n_cols: int) -> np.ndarray:
    """Columns of each focal unit's ``k`` slots in the minimum-cost assignment that
    first maximises the number of slots given a real column (``-1``: none), then
    minimises the cost. Edges come sorted by focal unit ``fr`` (columns increasing
    within a unit); the sparse matrix is laid out directly in CSR form."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    n_rows = n_f * k
    if n_rows == 0:
        return np.zeros((n_f, k), dtype=np.intp)
    # an unmatched slot costs more than any feasible total: cardinality first
    big = 1.0 + float(cost.sum()) if len(cost) else 1.0
    cnt = np.bincount(fr, minlength=n_f)
    seg_start = np.cumsum(cnt) - cnt
    row_f = np.repeat(np.arange(n_f), k)
    row_len = cnt[row_f] + 1  # the unit's edges, then the slot's own "unmatched" column
    indptr = np.r_[0, np.cumsum(row_len)]
    row_of = np.repeat(np.arange(n_rows), row_len)
    off = np.arange(int(indptr[-1])) - indptr[:-1][row_of]
    dummy = off == row_len[row_of] - 1
    src = np.where(dummy, 0, seg_start[row_f[row_of]] + off)
    cols_x, cost_x = np.r_[cols, 0], np.r_[cost, 0.0]  # never empty
    indices = np.where(dummy, n_cols + row_of, cols_x[src])
    data = np.where(dummy, big, cost_x[src]) + 1.0  # strictly positive weights
    graph = csr_matrix((data, indices, indptr), shape=(n_rows, n_cols + n_rows))
    ri, ci = min_weight_full_bipartite_matching(graph)
    out = np.full(n_rows, -1, dtype=np.intp)
    out[ri] = np.where(ci < n_cols, ci, -1)
    return out.reshape(n_f, k)


def optimal_pairs(
    score: np.ndarray,
    focal: np.ndarray,
    *,
    ratio: int = 1,
    caliper: float = np.inf,
    strata: np.ndarray | None = None,
    tie_key: np.ndarray | None = None,
    group: np.ndarray | None = None,
) -> Matches:
    """Optimal 1:``ratio`` matching without replacement on ``score``.

    Among the matchings that pair as many (focal, control) pairs as possible
    within ``caliper`` and ``strata`` (each focal unit at most ``ratio``
    controls, each control at most once), the one with the least total
    absolute score difference.

    Parameters
    ----------
    score : ndarray, shape (n,)
    focal : ndarray of bool, shape (n,)
    ratio : int
    caliper : float
    strata : ndarray of int, shape (n,), optional
    tie_key : ndarray, shape (n,), optional
        Orders units with equal scores (default: input order).
    group : ndarray of int, shape (n,), optional
        Rows sharing a code are one control unit, used at most once (e.g. a
        patient offered as a control at several index dates).

    Returns
    -------
    Matches
        As :func:`~spimpact.matching.nearest.nearest_neighbours` (controls of
        each focal unit nearest first).

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([0.0, 1.0, 0.9, 2.0])
    >>> m = optimal_pairs(s, np.array([True, True, False, False]))
    >>> m.controls.ravel().tolist(), float(m.distance.sum())
    ([2, 3], 1.9)
    """
    score = np.asarray(score, dtype=float)
    focal = np.asarray(focal, dtype=bool)
    n = len(score)
    strata = np.zeros(n, np.int64) if strata is None else np.asarray(strata, np.int64)
    key = np.arange(n) if tie_key is None else np.asarray(tie_key)
    f_idx = np.flatnonzero(focal)
    f_idx = f_idx[np.lexsort((key[f_idx], score[f_idx], strata[f_idx]))]
    c_sorted = _sorted_pool(score, np.flatnonzero(~focal), strata, key)
    a, b = _windows(score[c_sorted], strata[c_sorted], score[f_idx], strata[f_idx], caliper)
    fr, pos = _expand(a, b)
    cand = c_sorted[pos]
    dist = np.abs(score[cand] - score[f_idx[fr]])
    # columns are control units: rows sharing a group code are one unit, used at
    # most once; a focal unit's edge to a unit is its nearest row of that unit
    # (without groups, a column is a position in the sorted pool, so that ties
    # follow the sort keys, not the input order)
    if group is None:  # edges are unique and already sorted by (focal, position)
        gcol, n_cols = pos, len(c_sorted)
    else:
        _, gcol = np.unique(np.asarray(group)[cand], return_inverse=True)
        n_cols = int(gcol.max()) + 1 if len(gcol) else 0
        o = np.lexsort((dist, gcol, fr))
        fr, gcol, cand, dist = fr[o], gcol[o], cand[o], dist[o]
        first = (np.r_[True, (fr[1:] != fr[:-1]) | (gcol[1:] != gcol[:-1])] if len(fr)
                 else fr > 0)
        fr, gcol, cand, dist = fr[first], gcol[first], cand[first], dist[first]
    k = int(ratio)
    col_of = _assignment(fr, gcol, dist, len(f_idx), k, n_cols)
    # back from (focal, unit) to the control row of that edge
    edge_key = fr.astype(np.int64) * max(n_cols, 1) + gcol
    want = np.arange(len(f_idx))[:, None].astype(np.int64) * max(n_cols, 1) + col_of
    at = np.clip(np.searchsorted(edge_key, want), 0, max(len(edge_key) - 1, 0))
    ctrl = np.where(col_of >= 0, cand[at] if len(cand) else -1, -1)
    d = np.where(ctrl >= 0, np.abs(score[np.clip(ctrl, 0, None)] - score[f_idx][:, None]),
                 np.inf)
    o = np.argsort(d, axis=1, kind="stable")
    ctrl, d = np.take_along_axis(ctrl, o, 1), np.take_along_axis(d, o, 1)
    back = np.argsort(f_idx)  # rows in input order of the focal units
    return Matches(f_idx[back], ctrl[back].astype(np.intp), d[back])


@dataclass(frozen=True)
class FullMatch:
    """The result of :func:`full_match`.

    Attributes
    ----------
    subclass : ndarray of int, shape (n,)
        Matched set of every unit (0..n_sets-1, numbered in score order), or
        ``-1`` for units with no partner within the caliper.
    treated_edge, control_edge : ndarray of int
        The treated-control pairs of the edge cover (each set is a star).
    total_distance : float
        Sum of the distances of those pairs.
    """

    subclass: np.ndarray
    treated_edge: np.ndarray
    control_edge: np.ndarray
    total_distance: float

    @property
    def n_sets(self) -> int:
        """Number of matched sets."""
        return int(self.subclass.max()) + 1 if (self.subclass >= 0).any() else 0


def _nearest_partner(score: np.ndarray, treated: np.ndarray, caliper: float,
                     strata: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's nearest unit of the other group (index, distance; -1/inf: none)."""
    n = len(score)
    part = np.full(n, -1, dtype=np.intp)
    dist = np.full(n, np.inf)
    for grp in (treated, ~treated):
        m = nearest_neighbours(score, grp, ratio=1, caliper=caliper, replace=True,
                               strata=strata, tie_key=key)
        part[m.focal] = m.controls[:, 0]
        dist[m.focal] = m.distance[:, 0]
    return part, dist


def _candidates(score: np.ndarray, treated: np.ndarray, strata: np.ndarray, key: np.ndarray,
                keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (treated, control) with the control in the run of controls just
    before or just after the treated unit's run (sorted by stratum, score, key)."""
    idx = np.flatnonzero(keep)
    idx = idx[np.lexsort((key[idx], score[idx], strata[idx]))]
    t = treated[idx]
    st = strata[idx]
    m = len(idx)
    pos = np.arange(m)
    # run boundaries: a new run starts where the group or the stratum changes
    new = np.r_[True, (t[1:] != t[:-1]) | (st[1:] != st[:-1])]
    run_id = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], m]
    is_ctrl_run = ~t[starts]
    run_st = st[starts]
    n_runs = len(starts)
    tpos = pos[t]
    r = run_id[tpos]
    pieces_t, pieces_c = [], []
    for step in (1, -1):  # runs alternate groups within a stratum: the neighbour runs
        nb = r + step
        ok = (nb >= 0) & (nb < n_runs)
        nbc = np.clip(nb, 0, n_runs - 1)
        ok &= is_ctrl_run[nbc] & (run_st[nbc] == st[tpos])
        sel = np.flatnonzero(ok)
        rows, p = _expand(starts[nbc[sel]], ends[nbc[sel]])
        pieces_t.append(idx[tpos[sel][rows]])
        pieces_c.append(idx[p])
    return np.concatenate(pieces_t), np.concatenate(pieces_c)


def full_match(
    score: np.ndarray,
    treated: np.ndarray,
    *,
    caliper: float = np.inf,
    strata: np.ndarray | None = None,
    tie_key: np.ndarray | None = None,
) -> FullMatch:
    """Optimal full matching on ``score`` (minimum total within-set distance).

    Parameters
    ----------
    score : ndarray, shape (n,)
    treated : ndarray of bool, shape (n,)
    caliper : float
        Largest admissible distance; units with no partner within it are left
        unmatched (``subclass == -1``).
    strata : ndarray of int, shape (n,), optional
        Exact-matching strata.
    tie_key : ndarray, shape (n,), optional
        Orders units with equal scores (default: input order).

    Returns
    -------
    FullMatch

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([0.0, 0.1, 1.0, 0.05, 1.1, 1.2])
    >>> fm = full_match(s, np.array([True, True, True, False, False, False]))
    >>> fm.subclass.tolist(), round(fm.total_distance, 10)
    ([0, 0, 1, 0, 1, 1], 0.4)
    """
    score = np.asarray(score, dtype=float)
    treated = np.asarray(treated, dtype=bool)
    n = len(score)
    strata = np.zeros(n, np.int64) if strata is None else np.asarray(strata, np.int64)
    key = np.arange(n) if tie_key is None else np.asarray(tie_key)
    part, mu = _nearest_partner(score, treated, caliper, strata, key)
    keep = part >= 0
    if not keep.any():
        return FullMatch(np.full(n, -1, dtype=np.intp), np.zeros(0, np.intp),
                         np.zeros(0, np.intp), 0.0)
    ti, ci = _candidates(score, treated, strata, key, keep)
    d = np.abs(score[ti] - score[ci])
    red = d - mu[ti] - mu[ci]
    useful = (red < 0) & (d <= caliper)
    ti, ci, red = ti[useful], ci[useful], red[useful]
    # minimum-weight matching under the (negative) reduced costs
    rows_u, row_of = np.unique(ti, return_inverse=True)
    cols_u, col_of = np.unique(ci, return_inverse=True)
    col = _matching_with_free_rows(row_of, col_of, red, len(rows_u), len(cols_u))
    has = col >= 0
    mt, mc = rows_u[has], cols_u[col[has]]
    covered = np.zeros(n, bool)
    covered[mt] = covered[mc] = True
    lone = np.flatnonzero(keep & ~covered)
    et = np.r_[mt, np.where(treated[lone], lone, part[lone])]
    ec = np.r_[mc, np.where(treated[lone], part[lone], lone)]
    pairs = np.unique(np.c_[et, ec], axis=0)
    et, ec = _stars(pairs[:, 0], pairs[:, 1], n)
    return FullMatch(_components(et, ec, n, score, strata, key), et, ec,
                     float(np.abs(score[et] - score[ec]).sum()))


def _matching_with_free_rows(rows: np.ndarray, cols: np.ndarray, red: np.ndarray, n_rows: int,
                             n_cols: int) -> np.ndarray:
    """Minimum-weight (not necessarily full) matching with negative weights ``red``:
    every row may stay unmatched at cost 0 (its own dummy column)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    if n_rows == 0:
        return np.zeros(0, dtype=np.intp)
    shift = 1.0 - (red.min() if len(red) else 0.0)
    r = np.r_[rows, np.arange(n_rows)]
    c = np.r_[cols, n_cols + np.arange(n_rows)]
    w = np.r_[red, np.zeros(n_rows)] + shift  # the same shift on every row: same optimum
    ri, ci = min_weight_full_bipartite_matching(
        csr_matrix((w, (r, c)), shape=(n_rows, n_cols + n_rows)))
    out = np.full(n_rows, -1, dtype=np.intp)
    out[ri] = np.where(ci < n_cols, ci, -1)
    return out


def _stars(et: np.ndarray, ec: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Drop edges whose two ends are both covered by other edges (possible only
    with zero distances), so that every set is a star."""
    keep = np.ones(len(et), bool)
    while True:
        deg = np.bincount(et[keep], minlength=n) + np.bincount(ec[keep], minlength=n)
        bad = np.flatnonzero(keep & (deg[et] > 1) & (deg[ec] > 1))
        if len(bad) == 0:
            return et[keep], ec[keep]
        keep[bad[0]] = False  # one at a time: degrees change


def _components(et: np.ndarray, ec: np.ndarray, n: int, score: np.ndarray,
                strata: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Matched set of every unit: connected components of the cover's pairs,
    numbered by their first member in (stratum, score, key) order (-1: none)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    sub = np.full(n, -1, dtype=np.intp)
    if len(et) == 0:
        return sub
    g = coo_matrix((np.ones(len(et)), (et, ec)), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    members = np.unique(np.r_[et, ec])
    # number the sets by their first member in (stratum, score, key) order
    first = members[np.lexsort((key[members], score[members], strata[members]))]
    _, first_pos = np.unique(comp[first], return_index=True)
    order = np.argsort(first_pos, kind="stable")
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    labels = np.unique(comp[first])
    sub[members] = rank[np.searchsorted(labels, comp[members])]
    return sub
