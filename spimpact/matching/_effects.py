"""Effect estimates and standard errors on a matched sample (pure functions).

* :func:`matching_weights` -- MatchIt's weights from the matched sets.
* :func:`cluster_robust_difference` -- without replacement: the weighted
  difference in means, i.e. the weighted regression of the outcome on the
  treatment, with a cluster-robust variance on matched sets (Abadie & Spiess
  2022), with the CR1 small-sample factor ``G/(G-1) * (N-1)/(N-2)`` of R's
  ``sandwich::vcovCL`` and Stata, the variance MatchIt's documentation
  recommends.
* :func:`abadie_imbens` -- with replacement: the matching estimator of the
  effect on the focal group with the Abadie & Imbens (2006) variance, which
  accounts for controls used several times. The conditional variance of a
  reused control is the sample variance of its outcome and those of its
  nearest controls on the same score, ties kept, as Stata's ``teffects
  psmatch`` estimates it (:func:`conditional_variance`). The propensity score
  is treated as known; the Abadie & Imbens (2016) terms for an estimated
  logit score are in :mod:`._ai2016`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .nearest import score_neighbourhoods

__all__ = [
    "MatchedSets",
    "matched_sets",
    "pairs_to_sets",
    "matching_weights",
    "subclass_weights",
    "cluster_robust_difference",
    "abadie_imbens",
    "conditional_variance",
    "set_moments",
    "merge_clusters",
    "VARIANCE_NEIGHBOURS",
]

#: Units ``J`` (the unit itself included) whose outcomes give the conditional
#: variance of a unit (Stata's default ``vce(robust, nn(2))``).
VARIANCE_NEIGHBOURS = 2


@dataclass(frozen=True)
class MatchedSets:
    """Matched pairs in long form.

    Attributes
    ----------
    set_id : ndarray of int, shape (n_pairs,)
        Matched set of each pair (0..n_sets-1).
    focal : ndarray of int, shape (n_pairs,)
        The focal unit of the pair (index into the full arrays).
    control : ndarray of int, shape (n_pairs,)
        The matched control (index into the full arrays).
    n_in_set : ndarray of int, shape (n_pairs,)
        Number of controls in the pair's set.
    """

    set_id: np.ndarray
    focal: np.ndarray
    control: np.ndarray
    n_in_set: np.ndarray

    @property
    def n_sets(self) -> int:
        """Number of matched sets (focal units with at least one control)."""
        return int(self.set_id.max()) + 1 if len(self.set_id) else 0


def matched_sets(controls: np.ndarray, focal: np.ndarray) -> MatchedSets:
    """Long form of a ``(n_focal, ratio)`` match array (``-1`` = no match).

    Examples
    --------
    >>> import numpy as np
    >>> m = matched_sets(np.array([[5, 6], [-1, -1], [7, -1]]), np.array([0, 1, 2]))
    >>> m.set_id.tolist(), m.control.tolist(), m.n_in_set.tolist()
    ([0, 0, 1], [5, 6, 7], [2, 2, 1])
    """
    has = controls >= 0
    n_m = has.sum(axis=1)
    set_of = np.cumsum(n_m > 0) - 1
    rows, cols = np.nonzero(has)
    return MatchedSets(set_of[rows], focal[rows], controls[rows, cols], n_m[rows])


def pairs_to_sets(focal: np.ndarray, control: np.ndarray) -> MatchedSets:
    """Long form of (focal, control) pairs listed focal unit by focal unit
    (a focal unit may have any number of controls, as with kept ties).

    Examples
    --------
    >>> import numpy as np
    >>> m = pairs_to_sets(np.array([4, 4, 4, 7]), np.array([1, 2, 3, 1]))
    >>> m.set_id.tolist(), m.n_in_set.tolist()
    ([0, 0, 0, 1], [3, 3, 3, 1])
    """
    focal, control = np.asarray(focal), np.asarray(control)
    new = np.r_[True, focal[1:] != focal[:-1]] if len(focal) else np.zeros(0, bool)
    set_id = np.cumsum(new) - 1
    n_in = np.bincount(set_id, minlength=int(set_id.max()) + 1 if len(set_id) else 0)
    return MatchedSets(set_id, focal, control, n_in[set_id])


def subclass_weights(subclass: np.ndarray, d: np.ndarray, estimand: str) -> np.ndarray:
    """MatchIt's weights for matched sets with several treated and controls
    (full matching): for the ATT, 1 for a treated unit and ``n_t / n_c`` of its
    set for a control; for the ATC, ``n_c / n_t`` and 1; for the ATE,
    ``1 + n_c / n_t`` and ``1 + n_t / n_c``. Each group's weights are then
    rescaled to add up to its number of matched units (MatchIt's
    normalisation; the effect does not change). Units outside every set
    (``subclass == -1``) weigh 0.

    Examples
    --------
    >>> import numpy as np
    >>> sub = np.array([0, 0, 0, 1, 1, -1]); d = np.array([1, 0, 0, 1, 0, 0])
    >>> subclass_weights(sub, d, "ATT").tolist()
    [1.0, 0.75, 0.75, 1.0, 1.5, 0.0]
    """
    sub, d = np.asarray(subclass), np.asarray(d)
    m = sub >= 0
    g = int(sub.max()) + 1 if m.any() else 0
    nt = np.bincount(sub[m], weights=(d[m] == 1).astype(float), minlength=g)
    nc = np.bincount(sub[m], weights=(d[m] == 0).astype(float), minlength=g)
    s = np.clip(sub, 0, None)
    ratio_c = np.where(m, nt[s] / np.maximum(nc[s], 1), 0.0)  # for controls: n_t / n_c
    ratio_t = np.where(m, nc[s] / np.maximum(nt[s], 1), 0.0)
    if estimand == "ATT":
        w = np.where(d == 1, 1.0, ratio_c)
    elif estimand == "ATC":
        w = np.where(d == 1, ratio_t, 1.0)
    else:
        w = np.where(d == 1, 1.0 + ratio_t, 1.0 + ratio_c)
    w = np.where(m, w, 0.0)
    for grp in (d == 1, d == 0):
        sel = grp & m
        if sel.any():
            w[sel] *= sel.sum() / w[sel].sum()
    return w


def matching_weights(sets: MatchedSets, n: int) -> np.ndarray:
    """MatchIt's matching weights: 1 for each matched focal unit; for a control,
    the sum over its sets of ``1 / (controls in the set)``, rescaled so the
    controls' weights add up to the number of distinct matched controls.
    Unmatched units weigh 0.

    Examples
    --------
    >>> import numpy as np
    >>> s = matched_sets(np.array([[2, 3], [3, -1]]), np.array([0, 1]))
    >>> matching_weights(s, 4).tolist()
    [1.0, 1.0, 0.5, 1.5]
    """
    w = np.zeros(n)
    w[sets.focal] = 1.0
    k = np.bincount(sets.control, weights=1.0 / sets.n_in_set, minlength=n)
    used = k > 0
    if used.any():
        k *= used.sum() / k.sum()
    return w + k


def cluster_robust_difference(
    y: np.ndarray, d: np.ndarray, w: np.ndarray, cluster: np.ndarray
) -> tuple[float, float, int]:
    """Weighted difference in means ``treated - control`` with its CR1
    cluster-robust standard error (rows with zero weight are ignored).

    Equal to the coefficient of ``d`` in the weighted regression ``y ~ 1 + d``
    and its ``vcovCL`` standard error.

    Returns
    -------
    (estimate, std_error, n_clusters)

    Examples
    --------
    >>> import numpy as np
    >>> est, se, g = cluster_robust_difference(np.array([3.0, 1.0, 4.0, 1.0]),
    ...     np.array([1, 0, 1, 0]), np.ones(4), np.array([0, 0, 1, 1]))
    >>> est, g
    (2.5, 2)
    """
    keep = w > 0
    y, d, w, cluster = y[keep], d[keep], w[keep], cluster[keep]
    s1, s0 = np.sum(w * d), np.sum(w * (1 - d))
    m1, m0 = np.sum(w * d * y) / s1, np.sum(w * (1 - d) * y) / s0
    resid = y - np.where(d == 1, m1, m0)
    psi = w * resid * np.where(d == 1, 1.0 / s1, -1.0 / s0)
    _, cl = np.unique(cluster, return_inverse=True)
    g = int(cl.max()) + 1
    sums = np.bincount(cl, weights=psi, minlength=g)
    n = len(y)
    factor = g / (g - 1) * (n - 1) / (n - 2) if g > 1 and n > 2 else np.nan
    return float(m1 - m0), float(np.sqrt(factor * np.sum(sums**2))), g


def conditional_variance(
    y: np.ndarray, score: np.ndarray, pool: np.ndarray, query: np.ndarray,
    strata: np.ndarray | None = None, n_neighbours: int = VARIANCE_NEIGHBOURS,
) -> np.ndarray:
    """Conditional outcome variances of the units ``query`` (members of
    ``pool``, indices) as Stata's ``teffects psmatch, vce(robust, nn(J))``
    estimates them: the sample variance (divisor ``m - 1``) of the outcomes of
    the ``m`` units made of the unit itself and its ``J - 1`` nearest other
    units of ``pool`` on ``score``, with every unit tied at that distance kept
    (so ``m >= J``; with ``J = 2`` and no ties this is Abadie & Imbens' (2006)
    ``(y_i - y_j)^2 / 2``). ``0`` where the pool has no other unit.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([1.0, 2.0, 3.0, 10.0]); s = np.array([0.0, 1.0, 2.0, 3.0])
    >>> conditional_variance(y, s, np.arange(4), np.array([0, 1])).tolist()
    [0.5, 1.0]
    """
    query = np.asarray(query, np.intp)
    if len(query) == 0:
        return np.zeros(0)
    member = np.zeros(len(y), bool)
    member[np.asarray(pool, np.intp)] = True
    pos, nb = score_neighbourhoods(score, member, query, n_neighbours - 1, strata,
                                   with_self=True)
    return set_moments(np.asarray(y, float), None, pos, nb, len(query))[1]


def set_moments(
    y: np.ndarray, X: np.ndarray | None, pos: np.ndarray, member: np.ndarray, n_sets: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Within sets given in long form (set ``pos[e]`` holds unit ``member[e]``):
    the mean of ``y``, its sample variance and the sample covariances of the
    columns of ``X`` with ``y`` (divisor ``m - 1``; ``0`` for sets of fewer
    than two units, ``nan`` means for empty sets).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([1.0, 3.0, 5.0]); X = np.array([[0.0], [1.0], [2.0]])
    >>> mean, var, cov = set_moments(y, X, np.array([0, 0, 0, 1]), np.array([0, 1, 2, 2]), 2)
    >>> mean.tolist(), var.tolist(), cov.ravel().tolist()
    ([3.0, 5.0], [4.0, 0.0], [2.0, 0.0])
    """
    m = np.bincount(pos, minlength=n_sets).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(pos, weights=y[member], minlength=n_sets) / m
        dy = y[member] - mean[pos]
        div = np.where(m > 1, m - 1, np.inf)
        var = np.bincount(pos, weights=dy * dy, minlength=n_sets) / div
        cov = None
        if X is not None:
            Xm = np.column_stack([np.bincount(pos, weights=X[member, j], minlength=n_sets)
                                  for j in range(X.shape[1])]) / m[:, None]
            dX = X[member] - Xm[pos]
            cov = np.column_stack([np.bincount(pos, weights=dX[:, j] * dy, minlength=n_sets)
                                   for j in range(X.shape[1])]) / div[:, None]
    return mean, var, cov


def abadie_imbens(
    y: np.ndarray, sets: MatchedSets, sigma2: np.ndarray
) -> tuple[float, float]:
    """Matching estimate of the effect on the focal group and its Abadie-Imbens
    (2006) standard error.

    ``tau = mean over matched focal t of (y_t - mean of its controls' y)`` and

    ``V = [sum_t (y_t - yhat_t - tau)^2 + sum_j (K_j^2 - L_j) sigma2_j] / N^2``

    with ``K_j = sum over sets using j of 1/m_t``, ``L_j = sum of 1/m_t^2``
    (``m_t`` controls in set ``t``; with a fixed ``m`` this is AI's
    ``K(K-1)/m^2``) and ``sigma2_j`` the conditional variance of control ``j``.

    Parameters
    ----------
    y : ndarray, shape (n,)
    sets : MatchedSets
    sigma2 : ndarray, shape (n,)
        Conditional variances (used at the controls reused across sets).

    Examples
    --------
    >>> import numpy as np
    >>> s = matched_sets(np.array([[2], [2]]), np.array([0, 1]))
    >>> tau, se = abadie_imbens(np.array([3.0, 5.0, 1.0]), s, np.array([0.0, 0.0, 1.0]))
    >>> tau, round(se, 4)
    (3.0, 1.0)
    """
    n = len(y)
    n_sets = sets.n_sets
    inv_m = 1.0 / sets.n_in_set
    yhat = np.bincount(sets.set_id, weights=y[sets.control] * inv_m, minlength=n_sets)
    focal_of_set = np.zeros(n_sets, dtype=np.intp)
    focal_of_set[sets.set_id] = sets.focal
    diff = y[focal_of_set] - yhat
    tau = float(diff.mean())
    K = np.bincount(sets.control, weights=inv_m, minlength=n)
    L = np.bincount(sets.control, weights=inv_m**2, minlength=n)
    var = (np.sum((diff - tau) ** 2) + np.sum((K**2 - L) * sigma2)) / n_sets**2
    return tau, float(np.sqrt(var))


def merge_clusters(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The finest clustering coarser than both ``a`` and ``b`` (integer codes of
    the rows; ``-1`` in ``a`` = not in any cluster of ``a``): rows are in one
    cluster when a chain of shared ``a`` or ``b`` codes links them (connected
    components of the bipartite graph of the two codes).

    Matched sets whose members sit in different clusters of the data (e.g. a
    referred patient matched to a control from another practice) are merged
    with those clusters, so that the variance allows for correlation within
    both.

    Examples
    --------
    >>> import numpy as np
    >>> merge_clusters(np.array([0, 0, 1, 1, 2]), np.array([5, 6, 6, 7, 8])).tolist()
    [0, 0, 0, 0, 1]
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    a = np.asarray(a)
    _, bc = np.unique(np.asarray(b), return_inverse=True)
    na = int(a.max()) + 1 if (a >= 0).any() else 0
    nb = int(bc.max()) + 1
    rows = np.flatnonzero(a >= 0)
    graph = coo_matrix((np.ones(len(rows)), (a[rows], na + bc[rows])), shape=(na + nb, na + nb))
    _, comp = connected_components(graph, directed=False)
    out = comp[na + bc]
    _, out = np.unique(out, return_inverse=True)
    return out.astype(np.intp)
