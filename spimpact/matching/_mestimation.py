"""M-estimation (stacked estimating equations) for the weighting estimators.

Each estimator is the root of ``sum_i psi_i(theta) = 0`` for a stacked
parameter ``theta``: the logit coefficients of the propensity score, the
outcome-regression coefficients (AIPW), then the potential-outcome means.
With ``J = mean_i d psi_i / d theta'`` the influence function of ``theta`` is
``-J^{-1} psi_i`` (Stefanski & Boos 2002), so the sandwich variance accounts
for every estimated nuisance parameter. All functions are pure and return the
estimating functions ``psi`` (shape ``(n, k)``) and the Jacobian ``J``
(``(k, k)``) at the estimate; :func:`influence` turns them into influence
functions in the convention of :mod:`spimpact.inference`.

Weight functions of the linear predictor ``eta`` (``e = expit(eta)``), by
estimand, with their derivatives ``d omega / d eta``:

=========  =====================  =====================
estimand   treated weight          control weight
=========  =====================  =====================
ATE        ``1/e`` (``-(1-e)/e``)  ``1/(1-e)`` (``e/(1-e)``)
ATT        ``1`` (0)               ``e/(1-e)`` (``e/(1-e)``)
ATC        ``(1-e)/e`` (same, -)   ``1`` (0)
=========  =====================  =====================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Moments",
    "ipw_weights",
    "logit_block",
    "ipw_moments",
    "aipw_ate_moments",
    "aipw_focal_moments",
    "influence",
]


@dataclass(frozen=True)
class Moments:
    """Estimating functions at the estimate and their mean Jacobian.

    Attributes
    ----------
    theta : ndarray, shape (k,)
    psi : ndarray, shape (n, k)
    jac : ndarray, shape (k, k)
        ``mean_i d psi_i / d theta'``.
    mu1, mu0 : int
        Positions of the two potential-outcome means in ``theta``.
    """

    theta: np.ndarray
    psi: np.ndarray
    jac: np.ndarray
    mu1: int
    mu0: int


def ipw_weights(e: np.ndarray, estimand: str) -> tuple[np.ndarray, ...]:
    """``(omega1, domega1, omega0, domega0)``: the weight of a treated and of a
    control unit, and their derivatives with respect to the logit of ``e``.

    Examples
    --------
    >>> import numpy as np
    >>> [float(a[0]) for a in ipw_weights(np.array([0.25]), "ATT")]
    [1.0, 0.0, 0.3333333333333333, 0.3333333333333333]
    """
    with np.errstate(divide="ignore"):
        odds = e / (1 - e)
        inv_odds = (1 - e) / e
    one, zero = np.ones_like(e), np.zeros_like(e)
    if estimand == "ATE":
        return 1 / e, -inv_odds, 1 / (1 - e), odds
    if estimand == "ATT":
        return one, zero, odds, odds
    return inv_odds, -inv_odds, one, zero


def logit_block(X: np.ndarray, d: np.ndarray, e: np.ndarray, s: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Score ``s (d - e) X`` of the logit and its mean Jacobian ``-mean(s e(1-e) X X')``."""
    psi = (s * (d - e))[:, None] * X
    jac = -(X * (s * e * (1 - e))[:, None]).T @ X / len(d)
    return psi, jac


def _assemble(blocks: list[np.ndarray], jac_rows: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    return np.column_stack(blocks), np.vstack(jac_rows)


def ipw_moments(
    y: np.ndarray, d: np.ndarray, e: np.ndarray, s: np.ndarray, estimand: str,
    X: np.ndarray | None, keep: np.ndarray,
) -> Moments:
    """Normalised (Hajek) IPW: ``mu_a = sum s 1{D=a} omega_a y / sum s 1{D=a} omega_a``.

    ``X`` is the logit design (``None``: the score is treated as known);
    ``keep`` marks units not trimmed.
    """
    n = len(y)
    w1, dw1, w0, dw0 = ipw_weights(e, estimand)
    a1 = np.where(keep & (d == 1), s * w1, 0.0)
    a0 = np.where(keep & (d == 0), s * w0, 0.0)
    mu1, mu0 = a1 @ y / a1.sum(), a0 @ y / a0.sum()
    r1, r0 = a1 * (y - mu1), a0 * (y - mu0)
    if X is None:
        psi = np.column_stack([r1, r0])
        jac = np.diag([-a1.sum() / n, -a0.sum() / n])
        return Moments(np.array([mu1, mu0]), psi, jac, 0, 1)
    p = X.shape[1]
    psi_b, jac_b = logit_block(X, d, e, s)
    g1 = np.where(keep & (d == 1), s * dw1, 0.0) * (y - mu1)
    g0 = np.where(keep & (d == 0), s * dw0, 0.0) * (y - mu0)
    row1 = np.r_[g1 @ X / n, -a1.sum() / n, 0.0]
    row0 = np.r_[g0 @ X / n, 0.0, -a0.sum() / n]
    jac = np.vstack([np.c_[jac_b, np.zeros((p, 2))], row1, row0])
    psi = np.column_stack([psi_b, r1, r0])
    return Moments(np.r_[np.zeros(p), mu1, mu0], psi, jac, p, p + 1)


def _ols(Xo: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(Xo * sw[:, None], y * sw, rcond=None)
    return coef


def aipw_ate_moments(
    y: np.ndarray, d: np.ndarray, e: np.ndarray, s: np.ndarray, Xo: np.ndarray,
    X: np.ndarray | None, keep: np.ndarray,
) -> Moments:
    """AIPW for the ATE (Robins, Rotnitzky & Zhao 1994; statsmodels' ``aipw``):
    ``mu1 = mean[m1 + D (y - m1) / e]``, ``mu0 = mean[m0 + (1-D)(y - m0)/(1-e)]``
    with arm-wise least-squares outcome models ``m_a = Xo gamma_a``."""
    n, q = Xo.shape
    k = np.where(keep, s, 0.0)
    t, c = (d == 1) & keep, (d == 0) & keep
    g1, g0 = _ols(Xo[t], y[t], s[t]), _ols(Xo[c], y[c], s[c])
    m1, m0 = Xo @ g1, Xo @ g0
    with np.errstate(divide="ignore", invalid="ignore"):
        h1 = np.where(d == 1, 1 / e, 0.0)
        h0 = np.where(d == 0, 1 / (1 - e), 0.0)
    z1, z0 = m1 + h1 * (y - m1), m0 + h0 * (y - m0)
    mu1, mu0 = k @ z1 / k.sum(), k @ z0 / k.sum()
    psi_g1 = (np.where(t, s, 0.0) * (y - m1))[:, None] * Xo
    psi_g0 = (np.where(c, s, 0.0) * (y - m0))[:, None] * Xo
    J_g1 = -(Xo * np.where(t, s, 0.0)[:, None]).T @ Xo / n
    J_g0 = -(Xo * np.where(c, s, 0.0)[:, None]).T @ Xo / n
    psi_mu = np.column_stack([k * (z1 - mu1), k * (z0 - mu0)])
    d1_g = (k * (1 - h1)) @ Xo / n
    d0_g = (k * (1 - h0)) @ Xo / n
    Z = np.zeros
    blocks, rows = [psi_g1, psi_g0, psi_mu], []
    p = 0 if X is None else X.shape[1]
    if X is not None:
        psi_b, J_b = logit_block(X, d, e, s)
        blocks.insert(0, psi_b)
        rows.append(np.c_[J_b, Z((p, 2 * q + 2))])
        with np.errstate(divide="ignore", invalid="ignore"):
            db1 = (k * np.where(d == 1, -(1 - e) / e, 0.0) * (y - m1)) @ X / n
            db0 = (k * np.where(d == 0, e / (1 - e), 0.0) * (y - m0)) @ X / n
    else:
        db1 = db0 = np.zeros(0)
    rows += [
        np.c_[Z((q, p)), J_g1, Z((q, q + 2))],
        np.c_[Z((q, p + q)), J_g0, Z((q, 2))],
        np.r_[db1, d1_g, np.zeros(q), -k.sum() / n, 0.0][None, :],
        np.r_[db0, np.zeros(q), d0_g, 0.0, -k.sum() / n][None, :],
    ]
    psi, jac = _assemble(blocks, rows)
    theta = np.r_[np.zeros(p), g1, g0, mu1, mu0]
    return Moments(theta, psi, jac, p + 2 * q, p + 2 * q + 1)


def aipw_focal_moments(
    y: np.ndarray, d: np.ndarray, e: np.ndarray, s: np.ndarray, Xo: np.ndarray,
    X: np.ndarray | None, keep: np.ndarray, estimand: str,
) -> Moments:
    """Doubly robust effect on the treated (or on the controls) with normalised
    weights (Sant'Anna & Zhao 2020's DR ATT for a cross-section):

    ``mu_focal = focal mean of y``; ``mu_other = focal mean of m + nu`` where
    ``m`` is the least-squares outcome model of the other arm and ``nu`` the
    odds-weighted mean residual of that arm. Consistent if either the
    propensity or the outcome model is right."""
    n, q = Xo.shape
    focal_arm = 1 if estimand == "ATT" else 0
    f = (d == focal_arm) & keep
    o = (d != focal_arm) & keep
    w1, dw1, w0, dw0 = ipw_weights(e, estimand)
    om, dom = (w0, dw0) if estimand == "ATT" else (w1, dw1)
    gam = _ols(Xo[o], y[o], s[o])
    m = Xo @ gam
    so, sf = np.where(o, s, 0.0), np.where(f, s, 0.0)
    a = so * np.where(o, om, 0.0)
    nu = a @ (y - m) / a.sum()
    mu_f = sf @ y / sf.sum()
    mu_o = sf @ (m + nu) / sf.sum()
    psi_g = (so * (y - m))[:, None] * Xo
    psi_nu = a * (y - m - nu)
    psi_f = sf * (y - mu_f)
    psi_o = sf * (m + nu - mu_o)
    Z = np.zeros
    p = 0 if X is None else X.shape[1]
    blocks, rows = [psi_g, psi_nu, psi_f, psi_o], []
    if X is not None:
        psi_b, J_b = logit_block(X, d, e, s)
        blocks.insert(0, psi_b)
        rows.append(np.c_[J_b, Z((p, q + 3))])
        dnu_b = (so * np.where(o, dom, 0.0) * (y - m - nu)) @ X / n
    else:
        dnu_b = np.zeros(0)
    rows += [
        np.c_[Z((q, p)), -(Xo * so[:, None]).T @ Xo / n, Z((q, 3))],
        np.r_[dnu_b, -(a @ Xo) / n, -a.sum() / n, 0.0, 0.0][None, :],
        np.r_[np.zeros(p + q), 0.0, -sf.sum() / n, 0.0][None, :],
        np.r_[np.zeros(p), sf @ Xo / n, sf.sum() / n, 0.0, -sf.sum() / n][None, :],
    ]
    psi, jac = _assemble(blocks, rows)
    theta = np.r_[np.zeros(p), gam, nu, mu_f, mu_o]
    i_f, i_o = p + q + 1, p + q + 2
    mu1_pos, mu0_pos = (i_f, i_o) if estimand == "ATT" else (i_o, i_f)
    return Moments(theta, psi, jac, mu1_pos, mu0_pos)


def influence(m: Moments) -> np.ndarray:
    """Influence functions ``-J^{-1} psi_i`` of every parameter, shape (n, k).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([1.0, 2.0, 6.0])
    >>> mom = Moments(np.array([3.0]), (y - 3.0)[:, None], np.array([[-1.0]]), 0, 0)
    >>> influence(mom).ravel().tolist()
    [-2.0, -1.0, 3.0]
    """
    return -np.linalg.solve(m.jac, m.psi.T).T
