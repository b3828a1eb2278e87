"""Abadie & Imbens (2016): the variance of matching on an *estimated* propensity score.

Matching with replacement on a logit propensity score ``p(x) = F(x'theta)``
fitted by maximum likelihood changes the large-sample variance of the
matching estimator (Abadie & Imbens 2016, *Econometrica* 84:781-807,
Theorems 1 and 2). For the effect on the treated (ATT)

``V = V_AI - c' V_theta c + d' V_theta d``

where ``V_AI`` is the Abadie-Imbens (2006) variance that treats the score as
known, ``V_theta = (sum_i f_i x_i x_i')^-1`` is the variance of the logit's
coefficients (``f = p (1 - p)``, the logistic density at ``x'theta``), and,
with ``N_1`` treated units,

* ``d = sum_i x_i f_i (tau_i - tau) / N_1``, the derivative of the ATT with
  respect to ``theta`` (which units are treated depends on the score), with
  ``tau_i`` the unit's effect imputed by matching it, on its covariates
  ``x_i`` (Euclidean distance), to its ``M`` nearest units of the other group;
* ``c = sum_i x_i f_i (mu_1(i) - mu_0(i) - tau) / N_1 + sum_i f_i (cov_1(i) +
  p_i / (1 - p_i) cov_0(i)) / N_1``, the covariance of the known-score
  estimator with the logit's score: ``mu_w(i)`` and ``cov_w(i)`` (the
  covariances of ``x`` with the outcome) are the mean outcome and the sample
  covariances among the units of group ``w`` nearest to unit ``i`` on the
  score, which estimate ``E[Y(w) | p]`` and ``cov(x, mu_w(x) | p)``.

The neighbourhoods are Stata's ``teffects psmatch, vce(robust, nn(J))`` with
its default ``J = 2``: for a unit of group ``w``, itself and its ``J - 1``
nearest other units of ``w`` (covariances and conditional variances), or its
``J`` nearest other units of ``w`` (``mu_w``); for a unit of the other group,
its ``J`` nearest units of ``w``. Every unit tied at the last distance is
kept, so nothing depends on the order of the rows. With these choices the
standard errors reproduce ``teffects psmatch`` to its printed digits (the
references are quoted in ``tests/test_matching_ai2016.py``). The effect on
the controls (ATC) is the same computation with the roles of the groups
swapped (``p -> 1 - p``). ``c' V c`` can only lower the variance and
``d' V d`` only raise it, so for the ATT the adjusted standard error may be
larger or smaller than the unadjusted one.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ._effects import VARIANCE_NEIGHBOURS, set_moments
from .nearest import score_neighbourhoods

__all__ = ["group_moments", "covariate_match_means", "estimated_score_adjustment"]

#: Relative tolerance under which two covariate distances count as a tie.
_TIE_RTOL = 1e-12


def group_moments(
    y: np.ndarray, X: np.ndarray, score: np.ndarray, member: np.ndarray,
    n_neighbours: int = VARIANCE_NEIGHBOURS,
) -> tuple[np.ndarray, np.ndarray]:
    """For every unit, the mean outcome and the covariances of the columns of
    ``X`` with the outcome among the units of the group ``member`` nearest to
    it on ``score`` (ties kept, ``J = n_neighbours >= 2``):

    * a member: the covariances among itself and its ``J - 1`` nearest other
      members, the mean over its ``J`` nearest other members;
    * a non-member: both over its ``J`` nearest members.

    Returns
    -------
    (mean, cov) : ndarrays of shape (n,) and (n, k)

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([1.0, 3.0, 4.0, 0.0]); X = np.array([[0.0], [1.0], [2.0], [9.0]])
    >>> mean, cov = group_moments(y, X, X[:, 0], np.array([True, True, True, False]))
    >>> mean.tolist(), cov.ravel().tolist()
    ([3.5, 2.5, 2.0, 3.5], [1.0, 1.5, 0.5, 0.5])
    """
    y, X = np.asarray(y, float), np.asarray(X, float)
    member = np.asarray(member, bool)
    n = len(y)
    mean, cov = np.full(n, np.nan), np.zeros((n, X.shape[1]))
    inside, outside = np.flatnonzero(member), np.flatnonzero(~member)
    pos, nb = score_neighbourhoods(score, member, inside, n_neighbours - 1, with_self=True)
    cov[inside] = set_moments(y, X, pos, nb, len(inside))[2]
    pos, nb = score_neighbourhoods(score, member, inside, n_neighbours)
    mean[inside] = set_moments(y, None, pos, nb, len(inside))[0]
    pos, nb = score_neighbourhoods(score, member, outside, n_neighbours)
    m_out, _, c_out = set_moments(y, X, pos, nb, len(outside))
    mean[outside], cov[outside] = m_out, c_out
    return mean, cov


def covariate_match_means(
    y: np.ndarray, Z: np.ndarray, pool: np.ndarray, query: np.ndarray, k: int,
) -> np.ndarray:
    """The mean outcome of the ``k`` units of ``pool`` nearest to each unit of
    ``query`` (indices) in Euclidean distance on the rows of ``Z``, every unit
    tied at the ``k``-th distance kept. Units with equal rows are searched
    once; the k-d tree is queried for more neighbours only where ties reach
    the last one found.

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[0.0], [1.0], [1.0], [3.0], [0.5]])
    >>> y = np.array([0.0, 2.0, 4.0, 6.0, 9.0])
    >>> covariate_match_means(y, Z, np.array([0, 1, 2, 3]), np.array([4]), 1).tolist()
    [2.0]
    """
    Z, y = np.asarray(Z, float), np.asarray(y, float)
    pool, query = np.asarray(pool, np.intp), np.asarray(query, np.intp)
    zp, inv_p = np.unique(Z[pool], axis=0, return_inverse=True)
    inv_p = inv_p.ravel()
    count = np.bincount(inv_p, minlength=len(zp)).astype(float)
    total = np.bincount(inv_p, weights=y[pool], minlength=len(zp))
    zq, inv_q = np.unique(Z[query], axis=0, return_inverse=True)
    tree = cKDTree(zp)
    n_pat = len(zp)
    ysum, ycount = np.zeros(len(zq)), np.zeros(len(zq))
    todo = np.arange(len(zq))
    kk = min(k + 1, n_pat)
    while len(todo):
        dist, ind = tree.query(zq[todo], k=kk)
        dist, ind = dist.reshape(len(todo), kk), ind.reshape(len(todo), kk)
        reach = np.cumsum(count[ind], axis=1) >= k
        kth = np.where(reach.any(axis=1),
                       dist[np.arange(len(todo)), np.argmax(reach, axis=1)], dist[:, -1])
        bound = kth * (1.0 + _TIE_RTOL)
        done = (dist[:, -1] > bound) | (kk == n_pat)
        within = (dist <= bound[:, None]) & done[:, None]
        ysum[todo] += np.where(within, total[ind], 0.0).sum(axis=1)
        ycount[todo] += np.where(within, count[ind], 0.0).sum(axis=1)
        todo = todo[~done]
        kk = min(2 * kk, n_pat)
    return (ysum / ycount)[inv_q.ravel()]


def estimated_score_adjustment(
    y: np.ndarray, d: np.ndarray, X: np.ndarray, p: np.ndarray, score: np.ndarray,
    focal_arm: int, tau: float, ratio: int = 1, n_neighbours: int = VARIANCE_NEIGHBOURS,
) -> tuple[float, float]:
    """The two Abadie-Imbens (2016) terms added to the variance of the matching
    estimate of the effect on group ``focal_arm`` (1: ATT, 0: ATC) when the
    logit propensity score ``p`` (design ``X``) is estimated.

    Parameters
    ----------
    y, d : ndarray, shape (n,)
        Outcome and 0/1 treatment.
    X : ndarray, shape (n, k)
        The logit's design matrix (its columns are also the covariates the
        derivative term matches on; a constant column does not change
        distances).
    p : ndarray, shape (n,)
        Fitted propensity scores.
    score : ndarray, shape (n,)
        The score matched on (a monotone function of ``p``).
    focal_arm : {0, 1}
    tau : float
        The matching estimate of ``E[Y(focal) - Y(other) | focal group]``
        (the ATT for ``focal_arm=1``; minus the ATC for ``focal_arm=0``).
    ratio : int
        Matches per unit (the ``M`` of the estimator), also used for the
        covariate matching of the derivative term.
    n_neighbours : int
        ``J`` of the conditional means and covariances (at least 2).

    Returns
    -------
    (minus, plus) : float
        ``c' V c`` (subtracted) and ``d' V d`` (added).
    """
    y, X, p = np.asarray(y, float), np.asarray(X, float), np.asarray(p, float)
    own = np.asarray(d) == focal_arm
    p_a = p if focal_arm == 1 else 1.0 - p  # probability of being in the focal group
    f = p * (1.0 - p)  # the logistic density at x'theta
    n_focal = own.sum()
    mean_own, cov_own = group_moments(y, X, score, own, n_neighbours)
    mean_other, cov_other = group_moments(y, X, score, ~own, n_neighbours)
    c = (X.T @ (f * (mean_own - mean_other - tau))
         + ((cov_own + (p_a / (1.0 - p_a))[:, None] * cov_other) * f[:, None]).sum(axis=0)
         ) / n_focal
    # each unit's effect imputed by matching on the covariates
    effect = np.empty(len(y))
    i_own, i_other = np.flatnonzero(own), np.flatnonzero(~own)
    effect[i_own] = y[i_own] - covariate_match_means(y, X, i_other, i_own, ratio)
    effect[i_other] = covariate_match_means(y, X, i_own, i_other, ratio) - y[i_other]
    g = X.T @ (f * (effect - tau)) / n_focal
    v_theta = np.linalg.pinv((X * f[:, None]).T @ X)
    return float(c @ v_theta @ c), float(g @ v_theta @ g)
