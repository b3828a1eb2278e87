"""The greedy matching pass without replacement, compiled with numba.

Kept in a module of its own: numba caches the compiled kernel on disk keyed
to this file, so edits elsewhere in the package do not force a recompile.

The pool of controls (sorted by stratum, then score) is kept as two union-find
"next available control to the left / right" arrays with path compression, so
each match costs near-constant time and a pass is ``O(n_focal * ratio)``.
Focal units are taken in the given order, all getting their first match before
any gets a second (as MatchIt's ``nn_matchC``); a tie on the score goes to the
control on the left (the lower score).
"""

from __future__ import annotations

import numpy as np

__all__ = ["greedy", "have_numba"]


def _find(parent: np.ndarray, j: int) -> int:  # pragma: no cover - compiled
    root = j
    while parent[root] != root:
        root = parent[root]
    while parent[j] != root:
        nxt = parent[j]
        parent[j] = root
        j = nxt
    return root


def _remove(right: np.ndarray, left: np.ndarray, j: int) -> None:  # pragma: no cover
    right[j] = j + 1
    left[j + 1] = j


def _greedy_kernel(  # pragma: no cover - compiled by numba; tested through the wrapper
    cs, s, pos, lo, hi, a, b, cx, fx, use_coords, order, ratio, caliper, grp_of, grp_ptr,
    grp_rows,
):
    """One greedy pass. Controls are positions ``0..n_c-1`` of the sorted pool.

    ``cs``: sorted control scores; ``s``: focal scores; ``pos``: each focal
    unit's insertion point in ``cs``; ``[lo, hi)``: its stratum's positions;
    ``[a, b)``: its caliper window (Mahalanobis case); ``cx, fx``: whitened
    coordinates of controls and focal units (used when ``use_coords``);
    ``order``: processing order; ``grp_*``: CSR lists of the positions of one
    control unit (all removed once one is used; empty arrays: none).
    Returns the matched positions ``(n_f, ratio)`` (-1: none) and distances.
    """
    n_c = cs.shape[0]
    n_f = s.shape[0]
    right = np.arange(n_c + 1)
    left = np.arange(n_c + 1)
    out = np.full((n_f, ratio), -1, dtype=np.int64)
    dist = np.full((n_f, ratio), np.inf)
    alive = np.ones(n_f, dtype=np.bool_)
    q = cx.shape[1]
    for r in range(ratio):
        for oi in range(order.shape[0]):
            t = order[oi]
            if not alive[t]:
                continue
            j = -1
            dj = np.inf
            if use_coords:
                c = _find(right, a[t])
                while c < b[t]:
                    dd = 0.0
                    for m in range(q):
                        diff = cx[c, m] - fx[t, m]
                        dd += diff * diff
                    if dd < dj:
                        dj = dd
                        j = c
                    c = _find(right, c + 1)
                if j >= 0:
                    dj = np.sqrt(dj)
            else:
                L = _find(left, pos[t]) - 1
                R = _find(right, pos[t])
                dl = s[t] - cs[L] if L >= lo[t] else np.inf
                dr = cs[R] - s[t] if R < hi[t] else np.inf
                if dl <= dr and dl <= caliper and dl < np.inf:
                    j = L
                    dj = dl
                elif dr < dl and dr <= caliper:
                    j = R
                    dj = dr
            if j < 0:
                alive[t] = False
                continue
            out[t, r] = j
            dist[t, r] = dj
            if grp_ptr.shape[0] > 0:
                g = grp_of[j]
                for m in range(grp_ptr[g], grp_ptr[g + 1]):
                    _remove(right, left, grp_rows[m])
            else:
                _remove(right, left, j)
    return out, dist


_KERNEL: dict[str, object] = {}


def greedy(*args: object) -> tuple[np.ndarray, np.ndarray]:
    """Run the greedy pass, compiled with numba on first use when it is installed.

    numba is imported here, not at module import, so ``import spimpact.matching``
    stays light; ``cache=True`` keeps the compiled kernel on disk between runs.
    """
    if "greedy" not in _KERNEL:
        try:
            import numba
        except ImportError:  # pragma: no cover - exercised only without numba
            _KERNEL["greedy"] = _greedy_kernel
        else:
            module = globals()
            module["_find"] = numba.njit(cache=True, nogil=True)(_find)
            module["_remove"] = numba.njit(cache=True, nogil=True)(_remove)
            _KERNEL["greedy"] = numba.njit(cache=True, nogil=True)(_greedy_kernel)
    kernel = _KERNEL["greedy"]
    return kernel(*args)  # type: ignore[operator]


def have_numba() -> bool:
    """Whether numba is installed (the greedy pass is then compiled)."""
    import importlib.util

    return importlib.util.find_spec("numba") is not None
