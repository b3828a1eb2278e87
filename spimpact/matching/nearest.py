"""Nearest-neighbour matching on a sorted score: pure functions on arrays.

No treated-by-control distance matrix is ever formed. Controls are sorted by
(exact-matching stratum, score) once; each focal (e.g. treated) unit finds
its insertion point in that order by binary search, so its nearest controls
on the score are its immediate neighbours in the sorted array.

* **With replacement** the matches of different focal units do not interact:
  the ``ratio`` nearest controls are among the ``ratio`` neighbours on each
  side, so matching is one vectorised pass over an ``(n_focal, 2 * ratio)``
  candidate array.
* **Without replacement** (greedy, in a given order) each match removes a
  control from the pool seen by every later focal unit, a sequential
  dependency that no array expression captures. The pass is a compact loop
  compiled with numba when it is installed: the pool is kept as two
  union-find "next available control to the left / right" arrays with path
  compression, so each match costs near-constant time and the whole pass is
  ``O(n_focal * ratio)`` after the sort. Without numba the same loop runs as
  plain Python (correct, but slow on large data).
* **Mahalanobis distance within a caliper**: candidates are the controls whose
  score lies within the caliper (a window of the sorted array); the nearest in
  Mahalanobis distance (Euclidean distance in whitened coordinates) is chosen.
  Cost grows with the number of controls inside the caliper.

Ties are broken by position in the sorted order (the control with the lower
score first; among equal scores, the smaller ``tie_key``, which the estimators
derive from the units' data and ``random_state``, never from row positions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..errors import EstimationError, OptionError
from ._greedy import greedy

__all__ = [
    "Matches",
    "nearest_neighbours",
    "tied_pairs",
    "pairs_within",
    "score_neighbourhoods",
    "processing_order",
    "whiten",
]

#: Candidate pairs formed at once when matching on Mahalanobis distance with replacement.
_PAIR_BUDGET = 4_000_000
#: Most (focal, control) pairs matching with replacement may keep when ties are
#: kept (a tie at the k-th distance keeps every tied control).
MAX_TIED_PAIRS = 50_000_000
#: Most (focal, control) distances Mahalanobis matching may evaluate: beyond this
#: the caliper window is too wide to be the "nearest neighbour within a caliper"
#: search it is meant to be, and the user is asked for a caliper or exact strata.
MAX_MAHALANOBIS_PAIRS = 200_000_000


@dataclass(frozen=True)
class Matches:
    """The result of nearest-neighbour matching.

    Attributes
    ----------
    focal : ndarray of int, shape (n_focal,)
        Indices (into the input arrays) of the focal units, in input order.
    controls : ndarray of int, shape (n_focal, ratio)
        Indices of the matched controls, nearest first; ``-1`` where none.
    distance : ndarray of float, shape (n_focal, ratio)
        Their distances (``inf`` where none).
    """

    focal: np.ndarray
    controls: np.ndarray
    distance: np.ndarray

    @property
    def n_matches(self) -> np.ndarray:
        """Number of controls matched to each focal unit."""
        return (self.controls >= 0).sum(axis=1)

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(set, focal, control)`` for every matched pair: ``set`` numbers the
        focal units that found at least one control (0, 1, ... in input order)."""
        has = self.n_matches > 0
        set_of = np.cumsum(has) - 1
        rows, cols = np.nonzero(self.controls >= 0)
        return set_of[rows], self.focal[rows], self.controls[rows, cols]


def processing_order(
    priority: np.ndarray, order: str, rng: np.random.Generator | None = None,
    tie_key: np.ndarray | None = None,
) -> np.ndarray:
    """The order in which focal units pick their controls (greedy matching).

    Parameters
    ----------
    priority : ndarray, shape (n_focal,)
        The propensity score (for ``"largest"``/``"smallest"``) or the row
        number in the user's data (for ``"data"``).
    order : {"largest", "smallest", "random", "data"}
    rng : Generator, optional
        For ``"random"`` without ``tie_key``.
    tie_key : ndarray, shape (n_focal,), optional
        Breaks ties of ``priority``; with ``"random"``, the order is the order
        of these keys (salted hashes of the units' data give a random order
        that does not depend on the order of the rows).

    Examples
    --------
    >>> import numpy as np
    >>> processing_order(np.array([0.2, 0.9, 0.5]), "largest").tolist()
    [1, 2, 0]
    """
    n = len(priority)
    key = np.arange(n) if tie_key is None else np.asarray(tie_key)
    if order == "largest":
        return np.lexsort((key, -np.asarray(priority)))
    if order == "smallest":
        return np.lexsort((key, np.asarray(priority)))
    if order == "data":
        return np.argsort(np.asarray(priority), kind="stable")
    if order == "random":
        if tie_key is not None:
            return np.argsort(key, kind="stable")
        if rng is None:
            raise OptionError("order='random' needs a random number generator (random_state).")
        return rng.permutation(n)
    raise OptionError(f"order must be 'largest', 'smallest', 'random' or 'data', not {order!r}.")


def whiten(X: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """Coordinates in which Euclidean distance is the Mahalanobis distance under
    the pooled within-group covariance matrix (as MatchIt's ``mahvars``).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(1).normal(size=(200, 2)) * [1.0, 10.0]
    >>> Z = whiten(X, np.r_[np.zeros(100), np.ones(100)].astype(bool))
    >>> bool(np.allclose(np.cov(Z.T), np.eye(2), atol=0.05))
    True
    """
    X = np.asarray(X, dtype=float)
    parts = [X[treated], X[~treated]]
    dof = sum(max(len(p) - 1, 0) for p in parts)
    if dof <= 0:
        raise OptionError("Mahalanobis matching needs at least two units in a group.")
    S = sum(np.cov(p.T, ddof=0) * len(p) for p in parts if len(p) > 1) / dof
    S = np.atleast_2d(S)
    vals, vecs = np.linalg.eigh(S)
    keep = vals > 1e-12 * max(vals.max(), 1e-300)
    if not keep.any():
        raise OptionError("the Mahalanobis covariates do not vary within the groups.")
    return (X - X.mean(axis=0)) @ (vecs[:, keep] / np.sqrt(vals[keep]))


# ----------------------------------------------------------------- locating
def _locate(
    cs: np.ndarray, cst: np.ndarray, values: np.ndarray, strata: np.ndarray,
    side: Literal["left", "right"], single: bool,
) -> np.ndarray:
    """Position in the (stratum, score)-sorted controls where each (stratum, value)
    would be inserted (``side`` as in :func:`numpy.searchsorted`)."""
    if single:
        return np.searchsorted(cs, values, side=side)
    n_c = len(cs)
    keys = np.concatenate([cst, strata])
    vals = np.concatenate([cs, values])
    # queries sort before equal controls for side="left", after them for "right"
    ctrl_flag, query_flag = (1, 0) if side == "left" else (0, 1)
    flag = np.concatenate([np.full(n_c, ctrl_flag, np.int8), np.full(len(values), query_flag,
                                                                       np.int8)])
    merged = np.lexsort((flag, vals, keys))
    n_ctrl_before = np.cumsum(merged < n_c)
    out = np.empty(len(values), dtype=np.intp)
    is_query = merged >= n_c
    out[merged[is_query] - n_c] = n_ctrl_before[is_query]
    return out


# ------------------------------------------------------- with replacement
def _knn_on_score(
    cs: np.ndarray, pos: np.ndarray, lo: np.ndarray, hi: np.ndarray, s: np.ndarray, k: int,
    caliper: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest sorted controls of each focal unit (with replacement)."""
    steps = np.r_[-np.arange(1, k + 1), np.arange(k)]
    cand = pos[:, None] + steps[None, :]
    valid = (cand >= lo[:, None]) & (cand < hi[:, None])
    safe = np.clip(cand, 0, max(len(cs) - 1, 0))
    dist = np.where(valid, np.abs(cs[safe] - s[:, None]) if len(cs) else np.inf, np.inf)
    pick = np.argsort(dist, axis=1, kind="stable")[:, :k]
    best = np.take_along_axis(cand, pick, axis=1)
    bd = np.take_along_axis(dist, pick, axis=1)
    ok = np.isfinite(bd) & (bd <= caliper)
    return np.where(ok, best, -1), np.where(ok, bd, np.inf)


def _chunks(counts: np.ndarray, budget: int) -> list[tuple[int, int]]:
    cum = np.cumsum(counts)
    total = int(cum[-1]) if len(cum) else 0
    cuts = np.searchsorted(cum, np.arange(budget, total, budget), side="left") + 1
    edges = np.unique(np.r_[0, cuts, len(counts)])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def _knn_in_windows(
    cx: np.ndarray, fx: np.ndarray, a: np.ndarray, b: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest controls in Euclidean distance among sorted positions
    ``[a_i, b_i)`` of each focal unit, by chunks of candidate pairs."""
    n_f = len(fx)
    best = np.full((n_f, k), -1, dtype=np.intp)
    bd = np.full((n_f, k), np.inf)
    counts = np.maximum(b - a, 0)
    for start, stop in _chunks(counts, _PAIR_BUDGET):
        cnt = counts[start:stop]
        total = int(cnt.sum())
        if total == 0:
            continue
        rep = np.repeat(np.arange(start, stop), cnt)
        offs = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        cpos = a[rep] + offs
        dist = np.sqrt(((cx[cpos] - fx[rep]) ** 2).sum(axis=1))
        srt = np.lexsort((cpos, dist, rep))
        rep_s = rep[srt]
        first = np.searchsorted(rep_s, rep_s, side="left")
        rank = np.arange(total) - first
        keep = rank < k
        best[rep_s[keep], rank[keep]] = cpos[srt][keep]
        bd[rep_s[keep], rank[keep]] = dist[srt][keep]
    return best, bd


def _group_csr(group_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    codes, inv = np.unique(group_sorted, return_inverse=True)
    rows = np.argsort(inv, kind="stable").astype(np.int64)
    ptr = np.r_[0, np.cumsum(np.bincount(inv, minlength=len(codes)))].astype(np.int64)
    return inv.astype(np.int64), ptr, rows


# ----------------------------------------------------------------- driver
def nearest_neighbours(
    score: np.ndarray,
    focal: np.ndarray,
    *,
    ratio: int = 1,
    caliper: float = np.inf,
    replace: bool = False,
    order: np.ndarray | None = None,
    strata: np.ndarray | None = None,
    coords: np.ndarray | None = None,
    group: np.ndarray | None = None,
    tie_key: np.ndarray | None = None,
) -> Matches:
    """Match each focal unit to its nearest non-focal units.

    Parameters
    ----------
    score : ndarray, shape (n,)
        The matching score (e.g. the logit of the propensity score).
    focal : ndarray of bool, shape (n,)
        The units to find matches for (the treated, for the ATT).
    ratio : int
        Controls per focal unit.
    caliper : float
        Largest allowed absolute difference in ``score`` (``inf``: none).
    replace : bool
        Whether a control may be matched to several focal units.
    order : ndarray of int, optional
        Processing order of the focal units (positions ``0..n_focal-1``, see
        :func:`processing_order`); only used without replacement. Default:
        input order.
    strata : ndarray of int, shape (n,), optional
        Exact-matching strata: matches only within the same code.
    coords : ndarray, shape (n, q), optional
        Whitened covariates (:func:`whiten`): choose, within the caliper, the
        control nearest in Euclidean distance on these instead of the score.
    group : ndarray of int, shape (n,), optional
        Without replacement: rows sharing a code are one control unit, so
        using one row removes all of them (e.g. a patient offered as a
        control at several index dates).
    tie_key : ndarray, shape (n,), optional
        Orders controls with equal scores (the one with the smaller key comes
        first and wins a tie); default: input order. Pass
        :func:`~spimpact.matching._common.tie_keys` so that results do not
        depend on the order of the rows.

    Returns
    -------
    Matches

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([0.1, 0.5, 0.0, 0.45, 0.9])
    >>> m = nearest_neighbours(s, np.array([True, True, False, False, False]))
    >>> m.controls.ravel().tolist()
    [2, 3]
    """
    score = np.asarray(score, dtype=float)
    focal = np.asarray(focal, dtype=bool)
    f_idx, c_idx = np.flatnonzero(focal), np.flatnonzero(~focal)
    n_f = len(f_idx)
    strata = np.zeros(len(score), np.intp) if strata is None else np.asarray(strata)
    single = bool(np.all(strata == strata[0])) if len(strata) else True
    key = np.arange(len(score)) if tie_key is None else np.asarray(tie_key)
    c_order = (np.lexsort((key[c_idx], score[c_idx])) if single
               else np.lexsort((key[c_idx], score[c_idx], strata[c_idx])))
    cs, cst = score[c_idx][c_order], strata[c_idx][c_order]
    s, fst = score[f_idx], strata[f_idx]
    lo = np.searchsorted(cst, fst, side="left")
    hi = np.searchsorted(cst, fst, side="right")
    pos = np.clip(_locate(cs, cst, s, fst, "left", single), lo, hi)
    if coords is not None:
        coords = np.asarray(coords, dtype=float)
        cx, fx = coords[c_idx][c_order], coords[f_idx]
        if np.isfinite(caliper):
            a = np.clip(_locate(cs, cst, s - caliper, fst, "left", single), lo, hi)
            b = np.clip(_locate(cs, cst, s + caliper, fst, "right", single), lo, hi)
        else:
            a, b = lo, hi
        n_pairs = int(np.maximum(b - a, 0).sum())
        if n_pairs > MAX_MAHALANOBIS_PAIRS:
            raise EstimationError(
                f"Mahalanobis matching would compare {n_pairs:,} (focal, control) pairs "
                f"inside the caliper (limit {MAX_MAHALANOBIS_PAIRS:,}); set a caliper (e.g. "
                f"caliper=0.2), narrow it, or add exact= strata."
            )
    if replace:
        if coords is None:
            sel, dist = _knn_on_score(cs, pos, lo, hi, s, ratio, caliper)
        else:
            sel, dist = _knn_in_windows(cx, fx, a, b, ratio)
    else:
        order = np.arange(n_f) if order is None else np.asarray(order)
        if group is not None:
            grp_of, grp_ptr, grp_rows = _group_csr(np.asarray(group)[c_idx][c_order])
        else:
            grp_of = np.zeros(0, np.int64)
            grp_ptr = grp_rows = np.zeros(0, np.int64)
        use = coords is not None
        empty = np.zeros((1, 1))
        sel, dist = greedy(
            cs, s, pos.astype(np.int64), lo.astype(np.int64), hi.astype(np.int64),
            (a if use else lo).astype(np.int64), (b if use else hi).astype(np.int64),
            cx if use else empty, fx if use else empty, use, order.astype(np.int64),
            int(ratio), float(caliper), grp_of, grp_ptr, grp_rows,
        )
    controls = np.where(sel >= 0, c_idx[c_order][np.clip(sel, 0, None)] if len(c_idx) else -1, -1)
    return Matches(f_idx, controls.astype(np.intp), np.asarray(dist, dtype=float))


def tied_pairs(
    score: np.ndarray, m: Matches, focal: np.ndarray, strata: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Matching with replacement as Abadie & Imbens (2006) define it: each focal
    unit keeps *every* control at most as far as its ``ratio``-th nearest (all
    controls tied at that distance, not one chosen by position).

    Parameters
    ----------
    score : ndarray, shape (n,)
    m : Matches
        The ``ratio`` nearest controls (with replacement) of the focal units.
    focal : ndarray of bool, shape (n,)
    strata : ndarray of int, shape (n,), optional

    Returns
    -------
    (focal_index, control_index) : ndarrays of int
        One entry per kept pair, focal units in the order of ``m.focal``.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([0.5, 0.4, 0.6, 0.9])
    >>> f = np.array([True, False, False, False])
    >>> m = nearest_neighbours(s, f, replace=True)
    >>> [a.tolist() for a in tied_pairs(s, m, f)]
    [[0, 0], [1, 2]]
    """
    has = m.n_matches > 0
    f = m.focal[has]
    r = np.where(np.isfinite(m.distance[has]), m.distance[has], -np.inf).max(axis=1)
    rows, ctrl = pairs_within(score, np.flatnonzero(~np.asarray(focal, bool)), f, r, strata)
    return f[rows], ctrl


def pairs_within(
    score: np.ndarray, pool: np.ndarray, query: np.ndarray, radius: np.ndarray,
    strata: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Every unit of ``pool`` whose score is within ``radius[q]`` of the score
    of ``query[q]`` (and in its stratum), found by binary search on the
    sorted pool (a query unit that is also in the pool is its own pair).

    Parameters
    ----------
    score : ndarray, shape (n,)
    pool, query : ndarray of int
        Indices into ``score``.
    radius : ndarray, shape (len(query),)
        Largest distance kept for each query unit (``-inf``: none).
    strata : ndarray of int, shape (n,), optional

    Returns
    -------
    (position, member) : ndarrays of int
        One entry per pair: the position of the query unit in ``query``
        (ascending) and the index of the pool unit.

    Raises
    ------
    EstimationError
        More than :data:`MAX_TIED_PAIRS` pairs (a score with few distinct values).

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([0.0, 0.1, 0.2, 0.5])
    >>> [a.tolist() for a in pairs_within(s, np.array([1, 2, 3]), np.array([0]),
    ...                                   np.array([0.2]))]
    [[0, 0], [1, 2]]
    """
    score = np.asarray(score, dtype=float)
    n = len(score)
    strata = np.zeros(n, np.int64) if strata is None else np.asarray(strata, np.int64)
    pool, query = np.asarray(pool, np.intp), np.asarray(query, np.intp)
    r = np.asarray(radius, dtype=float)
    c_sorted = pool[np.lexsort((score[pool], strata[pool]))]
    s = score[query]
    rr = np.where(np.isfinite(r), r, -1.0)
    pad = 1e-9 * np.maximum(1.0, np.abs(s)) + 1e-9 * np.abs(rr)
    cs, cst = score[c_sorted], strata[c_sorted]
    keys = np.concatenate([cst, strata[query], strata[query]])
    vals = np.concatenate([cs, s - rr - pad, s + rr + pad])
    # positions of the window ends among the sorted pool (one merged sort)
    n_c, n_f = len(cs), len(query)
    flag = np.r_[np.ones(n_c, np.int8), np.zeros(n_f, np.int8), np.full(n_f, 2, np.int8)]
    merged = np.lexsort((flag, vals, keys))
    before = np.cumsum(merged < n_c)
    where = np.empty(len(vals), np.intp)
    where[merged] = before - (merged < n_c)
    a, b = where[n_c:n_c + n_f], where[n_c + n_f:]
    cnt = np.where(rr >= 0, np.maximum(b - a, 0), 0)
    total = int(cnt.sum())
    if total > MAX_TIED_PAIRS:
        raise EstimationError(
            f"matching with replacement keeps every unit tied at the matching distance, "
            f"here {total:,} pairs of units (limit {MAX_TIED_PAIRS:,}): the score "
            f"takes few distinct values. Use a richer propensity model (continuous "
            f"covariates, interactions), exact= strata, or replace=False."
        )
    rows = np.repeat(np.arange(n_f), cnt)
    pos = a[rows] + np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    member = c_sorted[pos]
    ok = np.abs(score[member] - s[rows]) <= r[rows]
    return rows[ok], member[ok]


def score_neighbourhoods(
    score: np.ndarray, pool: np.ndarray, query: np.ndarray, k: int,
    strata: np.ndarray | None = None, with_self: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` units of ``pool`` nearest on ``score`` to each query unit, the
    unit itself excluded, with every unit tied at the ``k``-th distance kept
    (so nothing depends on the order of the rows).

    Parameters
    ----------
    score : ndarray, shape (n,)
    pool : ndarray of bool, shape (n,)
        The units neighbours are drawn from.
    query : ndarray of int
        Indices of the units to find neighbours for.
    k : int
        Neighbours per query unit (before ties).
    strata : ndarray of int, shape (n,), optional
        Neighbours only within the same code.
    with_self : bool
        Also return each query unit as its own neighbour (for the query units
        that belong to ``pool``).

    Returns
    -------
    (position, member) : ndarrays of int
        One entry per neighbour: the position of the query unit in ``query``
        (ascending) and the neighbour's index.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([0.0, 1.0, 2.0, 2.0, 10.0])
    >>> pos, nb = score_neighbourhoods(s, np.array([1, 1, 1, 1, 0], bool), np.array([0, 4]), 2)
    >>> pos.tolist(), nb.tolist()
    ([0, 0, 0, 1, 1], [1, 2, 3, 2, 3])
    """
    score = np.asarray(score, dtype=float)
    pool = np.asarray(pool, dtype=bool)
    query = np.asarray(query, np.intp)
    pool_idx = np.flatnonzero(pool)
    n_q = len(query)
    both = np.r_[query, pool_idx]
    focal = np.r_[np.ones(n_q, bool), np.zeros(len(pool_idx), bool)]
    st = None if strata is None else np.asarray(strata)[both]
    # k + 1 nearest, to allow for the unit's own copy in the pool (at distance 0)
    m = nearest_neighbours(score[both], focal, ratio=k + 1, replace=True, strata=st)
    own = pool[query]
    # the k-th distance to another unit (the (k+1)-th when the unit's own copy
    # is in the pool), or the largest there is when the pool is smaller
    first = np.arange(k + 1)[None, :] < (k + own)[:, None]
    radius = np.where(first & np.isfinite(m.distance), m.distance, -np.inf).max(axis=1)
    pos, member = pairs_within(score, pool_idx, query, radius, strata)
    keep = (member != query[pos]) | with_self
    return pos[keep], member[keep]
