"""Abadie & Imbens (2016): the variance of matching on an *estimated* propensity score.

Matching with replacement on a logit propensity score ``p(x) = F(x'theta)``
fitted by maximum likelihood changes the large-sample variance of the
matching estimator (Abadie & Imbens 2016, *Econometrica* 84:781-807,
Theorems 1 and 2). For the effect on the treated (ATT)

``V = V_AI - c_t' I^{-1} c_t / N + d_t' I^{-1} d_t / N``

where ``V_AI`` is the Abadie-Imbens (2006) variance that treats the score as
known, ``I = E[f(x'theta)^2 / (F (1 - F)) x x']`` is the information matrix of
the logit (``f = F (1 - F)``), and

* ``d_t = E[x f (mu_1(p) - mu_0(p) - tau_t)] / E[p]``, the derivative of the
  ATT itself with respect to ``theta`` (which units are treated depends on
  the score), with ``mu_w(p) = E[Y(w) | p(x) = p]``;
* ``c_t = d_t + E[(cov(x, mu_1(x) | p) + p / (1 - p) cov(x, mu_0(x) | p)) f]
  / E[p]``, the covariance of the known-score estimator with the logit's
  score, through the covariances of the covariates with the outcome among
  units with the same propensity score.

The conditional means ``mu_w(p)`` and covariances are estimated from the
``L`` units of each group nearest to every unit on the score (the paper's
Section 4 estimates them by matching within groups). Checked by Monte Carlo
in ``tests/test_matching_ai2016.py``: where the outcome depends on
covariates the score does not, the unadjusted standard error overstates the
sampling SD by 30% and the adjusted one is within the Monte Carlo error. The effect on the controls (ATC) is the same computation with
the roles of the groups swapped (``p -> 1 - p``). The first term can only
lower the variance, the second only raise it, so for the ATT the adjusted
standard error may be larger or smaller than the unadjusted one.
"""

from __future__ import annotations

import numpy as np

from .nearest import nearest_neighbours

__all__ = ["COVARIANCE_NEIGHBOURS", "group_neighbours", "local_covariance",
           "estimated_score_adjustment"]

#: Units of each group (``L``) used to estimate ``cov(x, mu_w(x) | p(x))`` at every unit.
COVARIANCE_NEIGHBOURS = 4


def group_neighbours(
    score: np.ndarray, member: np.ndarray, n_neighbours: int,
    tie_key: np.ndarray | None = None,
) -> np.ndarray:
    """The ``n_neighbours`` units of the group ``member`` nearest on ``score``
    to every unit, the unit itself excluded (units with equal scores ordered
    by ``tie_key``): an ``(n, L)`` array of indices (``-1`` where the group
    has too few units).

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([0.0, 1.0, 2.0, 10.0])
    >>> group_neighbours(s, np.array([True, True, True, False]), 2).tolist()
    [[1, 2], [0, 2], [1, 0], [2, 1]]
    """
    score = np.asarray(score, float)
    n = len(score)
    pool = np.flatnonzero(member)
    query = np.arange(n)
    both = np.r_[query, pool]
    focal = np.r_[np.ones(n, bool), np.zeros(len(pool), bool)]
    key = None if tie_key is None else np.asarray(tie_key)[both]
    m = nearest_neighbours(score[both], focal, ratio=n_neighbours + 1, replace=True,
                           tie_key=key)
    nb = np.where(m.controls >= 0, both[np.clip(m.controls, 0, None)], -1)
    keep = (nb != query[:, None]) & (nb >= 0)
    order = np.argsort(~keep, axis=1, kind="stable")  # kept neighbours first, in order
    nb = np.take_along_axis(np.where(keep, nb, -1), order, axis=1)
    return nb[:, :n_neighbours]


def local_covariance(X: np.ndarray, y: np.ndarray, nb: np.ndarray) -> np.ndarray:
    """Sample covariance (divisor ``L - 1``) of each column of ``X`` with ``y``
    among the ``L`` units in each row of ``nb``: shape ``(n, p)``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [2.0]]); y = np.array([0.0, 2.0, 4.0])
    >>> local_covariance(X, y, np.array([[0, 1], [1, 2], [0, 2]])).ravel().tolist()
    [1.0, 1.0, 4.0]
    """
    Xn, yn = X[nb], y[nb]
    L = nb.shape[1]
    dx = Xn - Xn.mean(axis=1, keepdims=True)
    dy = yn - yn.mean(axis=1, keepdims=True)
    return np.einsum("nlp,nl->np", dx, dy) / (L - 1)


def estimated_score_adjustment(
    y: np.ndarray, d: np.ndarray, X: np.ndarray, p: np.ndarray, score: np.ndarray,
    focal_arm: int, tau: float, ratio: int = 1, tie_key: np.ndarray | None = None,
    n_neighbours: int = COVARIANCE_NEIGHBOURS,
) -> tuple[float, float]:
    """The two Abadie-Imbens (2016) terms added to the variance of the matching
    estimate of the effect on group ``focal_arm`` (1: ATT, 0: ATC) when the
    logit propensity score ``p`` (design ``X``) is estimated.

    Parameters
    ----------
    y, d : ndarray, shape (n,)
        Outcome and 0/1 treatment.
    X : ndarray, shape (n, k)
        The logit's design matrix.
    p : ndarray, shape (n,)
        Fitted propensity scores.
    score : ndarray, shape (n,)
        The score matched on (a monotone function of ``p``).
    focal_arm : {0, 1}
    tau : float
        The matching estimate of ``E[Y(focal) - Y(other) | focal group]``
        (the ATT for ``focal_arm=1``; minus the ATC for ``focal_arm=0``).
    ratio : int
        Matches per unit (the ``M`` of the estimator).
    tie_key : ndarray, optional
        Orders units with equal scores (results then do not depend on row order).
    n_neighbours : int
        ``L`` for the conditional covariances.

    Returns
    -------
    (minus, plus) : float
        ``c' I^{-1} c / N`` (subtracted) and ``d' I^{-1} d / N`` (added).
    """
    y, X, p = np.asarray(y, float), np.asarray(X, float), np.asarray(p, float)
    n = len(y)
    own = np.asarray(d) == focal_arm
    p_a = p if focal_arm == 1 else 1.0 - p  # probability of being in the focal group
    f = p * (1.0 - p)  # the logistic density at x'theta
    info = (X * f[:, None]).T @ X / n
    n_focal = own.sum()
    nb_own = group_neighbours(score, own, n_neighbours, tie_key)
    nb_other = group_neighbours(score, ~own, n_neighbours, tie_key)
    cov_own, cov_other = local_covariance(X, y, nb_own), local_covariance(X, y, nb_other)
    # mu_w(p) at every unit: the mean outcome of its L nearest units of group w
    effect = y[nb_own].mean(axis=1) - y[nb_other].mean(axis=1) - tau
    g = (X * (f * effect)[:, None]).sum(axis=0) / n_focal
    c = g + ((cov_own + (p_a / (1.0 - p_a))[:, None] * cov_other)
             * f[:, None]).sum(axis=0) / n_focal
    info_inv = np.linalg.pinv(info)
    return float(c @ info_inv @ c) / n, float(g @ info_inv @ g) / n
