"""Generalised linear models with site-specific terms absorbed (pure functions).

Many series ("sites": practices, PCNs) share some coefficients ``beta`` (the
pooled level and slope change, the trend, seasonality) while each site has a
few of its own (an intercept, optionally a trend, and for site-level
estimates its own level and slope change): ``eta = offset + X beta + B
alpha_site``. With thousands of sites the site columns are never formed:
within each site the weighted projection on the site's basis ``B`` (a few
columns) is removed in closed form (Frisch-Waugh-Lovell), vectorised over
sites, and the Poisson model is fitted by iteratively reweighted least squares
on the projected columns, as fixest does for fixed effects. A Gaussian model is
the one weighted step.

Rows must be sorted by site (as :class:`~spimpact.Panel` stores them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import EstimationError

__all__ = ["Sites", "SiteFit", "fit_sites", "cluster_vcov", "site_vcov"]

#: IRLS stops when the deviance changes by less than this, relative (fixest: 1e-8).
DEVIANCE_TOL = 1e-10
#: At most this many IRLS iterations.
MAX_ITER = 100
#: A site's basis Gram matrix with reciprocal condition number below this is singular.
SITE_RCOND = 1e-10


@dataclass(frozen=True)
class Sites:
    """Rows grouped by site: ``site`` codes (sorted, ``0..n-1``) and block starts."""

    site: np.ndarray
    starts: np.ndarray

    @classmethod
    def from_codes(cls, site: np.ndarray) -> Sites:
        """Blocks of a sorted array of site codes."""
        site = np.asarray(site, dtype=np.intp)
        if len(site) and np.any(np.diff(site) < 0):
            raise ValueError("rows must be sorted by site")
        starts = np.flatnonzero(np.r_[True, site[1:] != site[:-1]])
        return cls(site, starts)

    @property
    def n(self) -> int:
        """Number of sites."""
        return len(self.starts)

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Sums of the rows of ``values`` within each site: ``(n_sites, ...)``."""
        return np.add.reduceat(np.asarray(values, dtype=float), self.starts, axis=0)


def _gram_inverse(B: np.ndarray, w: np.ndarray, sites: Sites) -> np.ndarray:
    """Inverse of every site's weighted Gram matrix ``sum w b b'``: ``(n_sites, d, d)``.

    Columns that are zero throughout a site (a site never interrupted has no
    level-change column) get a unit diagonal, so their coefficient is 0.
    """
    d = B.shape[1]
    G = sites.sums(w[:, None, None] * B[:, :, None] * B[:, None, :])
    idle = np.abs(np.diagonal(G, axis1=1, axis2=2)) <= 1e-300
    G[:, np.arange(d), np.arange(d)] += idle
    scale = np.sqrt(np.diagonal(G, axis1=1, axis2=2))
    Gs = G / (scale[:, :, None] * scale[:, None, :])
    bad = 1.0 / np.linalg.cond(Gs) < SITE_RCOND
    if bad.any():
        raise EstimationError(
            f"{int(bad.sum())} site(s) cannot identify their own terms (e.g. site "
            f"{int(np.flatnonzero(bad)[0])}: too few periods before or after its "
            f"interruption); drop those sites or the site-specific terms."
        )
    return np.linalg.inv(Gs) / (scale[:, :, None] * scale[:, None, :])


def _absorb(
    V: np.ndarray, B: np.ndarray, w: np.ndarray, Ginv: np.ndarray, sites: Sites
) -> tuple[np.ndarray, np.ndarray]:
    """``V`` minus its weighted projection on the site basis, and the projection
    coefficients ``(n_sites, d, m)``."""
    rhs = sites.sums((w[:, None] * B)[:, :, None] * V[:, None, :])
    coef = Ginv @ rhs
    fitted = np.einsum("nd,ndm->nm", B, coef[sites.site])
    return V - fitted, coef


@dataclass(frozen=True)
class SiteFit:
    """A fitted model with absorbed site terms.

    Attributes
    ----------
    beta : ``(k,)`` shared coefficients.
    alpha : ``(n_sites, d)`` site coefficients.
    gamma : ``(n_sites, d, k)`` within-site projection of ``X`` on ``B`` at the
        final weights (for the site coefficients' variance).
    Ginv : ``(n_sites, d, d)`` inverse site Gram matrices at the final weights.
    bread : ``(k, k)`` inverse of the projected ``X' W X``.
    Xt : ``(n, k)`` projected ``X``.
    mu : ``(n,)`` fitted means; w : ``(n,)`` final IRLS weights.
    converged : bool; n_iter : int; deviance : float
    """

    beta: np.ndarray
    alpha: np.ndarray
    gamma: np.ndarray
    Ginv: np.ndarray
    bread: np.ndarray
    Xt: np.ndarray
    mu: np.ndarray
    w: np.ndarray
    converged: bool
    n_iter: int
    deviance: float


def _wls(
    z: np.ndarray, X: np.ndarray, B: np.ndarray, w: np.ndarray, sites: Sites
) -> tuple[np.ndarray, ...]:
    Ginv = _gram_inverse(B, w, sites)
    both, coef = _absorb(np.column_stack([z, X]), B, w, Ginv, sites)
    zt, Xt = both[:, 0], both[:, 1:]
    M = Xt.T @ (w[:, None] * Xt)
    if X.shape[1]:
        d = np.sqrt(np.diag(M))
        if np.any(d <= 1e-12 * max(1.0, float(d.max()))):
            raise EstimationError(
                "a shared term has no variation within sites once the site "
                "terms are removed; drop it."
            )
        Ms = M / np.outer(d, d)
        if 1.0 / np.linalg.cond(Ms) < SITE_RCOND:
            raise EstimationError(
                "the shared terms are collinear given the site terms (e.g. "
                "a trend with site-specific trends); drop one."
            )
        bread = np.linalg.inv(Ms) / np.outer(d, d)
    else:
        bread = np.zeros((0, 0))
    beta = bread @ (Xt.T @ (w * zt))
    alpha = coef[:, :, 0] - np.einsum("sdk,k->sd", coef[:, :, 1:], beta)
    return beta, alpha, coef[:, :, 1:], Ginv, bread, Xt


def _deviance(y: np.ndarray, mu: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / mu), 0.0)
    return float(2 * np.sum(term - (y - mu)))


def fit_sites(
    y: np.ndarray,
    X: np.ndarray,
    B: np.ndarray,
    site: np.ndarray,
    offset: np.ndarray | None,
    family: str,
) -> SiteFit:
    """Fit ``g(E y) = offset + X beta + B alpha_site`` (Gaussian identity or Poisson log).

    Parameters
    ----------
    y : ``(n,)`` outcome; X : ``(n, k)`` shared columns; B : ``(n, d)`` site
        basis (its columns take their own coefficient in every site);
    site : ``(n,)`` sorted site codes; offset : ``(n,)`` or None;
    family : ``"gaussian"`` or ``"poisson"`` (quasi-Poisson has the same fit).

    Examples
    --------
    >>> import numpy as np
    >>> site = np.repeat([0, 1], 4); x = np.tile(np.arange(4.0), 2)
    >>> y = np.r_[1.0, 2.0, 3.0, 4.0, 11.0, 12.0, 13.0, 14.0]
    >>> fit = fit_sites(y, x[:, None], np.ones((8, 1)), site, None, "gaussian")
    >>> fit.beta.round(6).tolist(), fit.alpha.ravel().round(6).tolist()
    ([1.0], [1.0, 11.0])
    """
    sites = Sites.from_codes(site)
    off = np.zeros(len(y)) if offset is None else np.asarray(offset, dtype=float)
    X, B = np.asarray(X, dtype=float), np.asarray(B, dtype=float)
    if family == "gaussian":
        w = np.ones(len(y))
        beta, alpha, gamma, Ginv, bread, Xt = _wls(y - off, X, B, w, sites)
        mu = off + X @ beta + np.einsum("nd,nd->n", B, alpha[sites.site])
        return SiteFit(
            beta, alpha, gamma, Ginv, bread, Xt, mu, w, True, 1, float(np.sum((y - mu) ** 2))
        )
    mu = y + 0.1 * np.maximum(sites.sums(y) / np.diff(np.r_[sites.starts, len(y)]), 0.1)[sites.site]
    eta = np.log(mu)
    dev_old, converged, n_iter = np.inf, False, 0
    while n_iter < MAX_ITER:  # IRLS iterations, not a loop over rows or sites
        n_iter += 1
        w = mu
        z = eta - off + (y - mu) / mu
        beta, alpha, gamma, Ginv, bread, Xt = _wls(z, X, B, w, sites)
        eta = off + X @ beta + np.einsum("nd,nd->n", B, alpha[sites.site])
        mu = np.exp(eta)
        dev = _deviance(y, mu)
        if abs(dev - dev_old) <= DEVIANCE_TOL * (abs(dev) + 0.1):
            converged = True
            break
        dev_old = dev
    w = mu
    beta_w = _wls(eta - off + (y - mu) / mu, X, B, w, sites)
    gamma, Ginv, bread, Xt = beta_w[2], beta_w[3], beta_w[4], beta_w[5]
    return SiteFit(beta, alpha, gamma, Ginv, bread, Xt, mu, w, converged, n_iter, dev)


def cluster_vcov(fit: SiteFit, y: np.ndarray, cluster: np.ndarray) -> tuple[np.ndarray, int]:
    """Cluster-robust covariance of ``beta`` (CR1) and the number of clusters.

    The scores are ``Xt_r (y_r - mu_r)``; clusters must nest the sites (as a
    Panel's clusters do), so the absorbed site terms drop out of them. The
    small-sample factor is ``G/(G-1) (N-1)/(N-K)`` with ``K`` the shared terms
    (site terms nested in clusters are not counted, as in fixest and Stata's
    ``xtreg, vce(cluster)``).
    """
    scores = fit.Xt * (y - fit.mu)[:, None]
    codes, inv = np.unique(cluster, return_inverse=True)
    G = len(codes)
    S = np.zeros((G, scores.shape[1]))
    np.add.at(S, inv, scores)
    n, k = scores.shape
    factor = G / (G - 1) * (n - 1) / (n - k) if G > 1 else np.nan
    return factor * fit.bread @ (S.T @ S) @ fit.bread, G


def site_vcov(fit: SiteFit, scale: float) -> np.ndarray:
    """Model-based covariance of each site's coefficients: ``(n_sites, d, d)``.

    ``scale * Ginv_s + gamma_s V_beta gamma_s'`` with ``V_beta = scale * bread``:
    the site block of the inverse information matrix of the full model.
    """
    v_beta = scale * fit.bread
    return scale * fit.Ginv + np.einsum("sdk,kl,sel->sde", fit.gamma, v_beta, fit.gamma)
