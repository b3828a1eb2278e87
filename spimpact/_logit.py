"""One logistic regression for every propensity score in the package.

Weighted maximum likelihood by Newton-Raphson with step halving, on columns
rescaled to unit root-mean-square, with a collinearity check from the first
information matrix and a stop on quasi-separation. Used by the matching and
weighting estimators and by the doubly robust / IPW cells of the DiD estimators.
"""

from __future__ import annotations

import numpy as np

from .errors import OptionError

__all__ = ["newton_logit", "check_rank", "expit"]

#: Share of a column's variation left after projecting out the earlier columns below
#: which the design counts as collinear (an R-squared above 1 - 1e-10).
_COLLINEAR = 1e-10
#: Rows of the subsample that gives large logits their starting values.
_SUBSAMPLE = 100_000


def check_rank(gram: np.ndarray, names: list[str], *, model: str = "propensity-model",
               fix: str = "the covariates or the ps_formula",
               error: type[Exception] = OptionError) -> None:
    """Raise if a design column is constant or a linear combination of the earlier
    ones: a Cholesky pass over a (weighted) Gram matrix ``X' W X`` of the
    columns, so the check sees every row at the cost of the ``p x p`` matrix
    the logit computes anyway. ``model`` and ``fix`` word the message (which
    model, and where the term comes from); ``error`` is the class raised."""
    G = np.asarray(gram, dtype=float)
    p = G.shape[0]
    L = np.zeros((p, p))
    for j in range(p):  # p is the number of model terms: a short loop
        rest = G[j, j] - L[j, :j] @ L[j, :j]
        if rest <= _COLLINEAR * G[j, j]:
            raise error(
                f"{model} column {names[j]!r} is constant or a linear combination of "
                f"the columns before it (collinear design); drop it from {fix}."
            )
        L[j, j] = np.sqrt(rest)
        L[j + 1:, j] = (G[j + 1:, j] - L[j + 1:, :j] @ L[j, :j]) / L[j, j]


def newton_logit(
    X: np.ndarray, d: np.ndarray, w: np.ndarray, names: list[str], *, max_iter: int = 100,
    tol: float = 1e-6,
) -> tuple[np.ndarray, bool]:
    """Weighted maximum-likelihood logit by Newton-Raphson with step halving.

    Columns are rescaled to unit root-mean-square internally (earnings in
    dollars and their squares differ by nine orders of magnitude), and the
    coefficients are returned on the original scale. Converged when the
    largest Newton step (on the rescaled columns) falls below ``tol`` (the
    step is applied: quadratic convergence leaves an error of order
    ``tol**2``); under
    quasi-separation the deviance stalls while some coefficients drift off,
    and the iteration stops with ``converged=False``. The first information
    matrix doubles as the collinearity check (:func:`check_rank`).
    """
    scale = np.sqrt((X**2).mean(axis=0))
    if (scale == 0).any():
        j = int(np.flatnonzero(scale == 0)[0])
        raise OptionError(f"propensity-model column {names[j]!r} is zero in every row; drop it.")
    Xs = X / scale
    beta = _start(Xs, d, w, names)

    def fitted(eta: np.ndarray) -> tuple[np.ndarray, float]:
        """Probabilities and the deviance (-2 log-likelihood) at ``eta``,
        overflow-free, from one exponential: with ``e = exp(-|eta|)``,
        ``p = 1 / (1 + e)`` or ``e / (1 + e)`` and ``log(1 + exp(eta)) =
        max(eta, 0) + log1p(e)``."""
        e = np.exp(-np.abs(eta))
        p = np.where(eta >= 0, 1.0, e)
        p /= 1.0 + e
        np.log1p(e, out=e)
        e += np.maximum(eta, 0.0)
        e -= d * eta
        return p, float(2 * (w @ e))

    eta = Xs @ beta
    p, dev = fitted(eta)
    converged, stalled = False, 0
    for it in range(max_iter):
        grad = Xs.T @ (w * (d - p))
        root = Xs * np.sqrt(w * p * (1 - p))[:, None]
        info = root.T @ root  # X' W X (a symmetric rank-k update)
        if it == 0:
            check_rank(info, names)
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(info, grad, rcond=None)[0]
        t = 1.0
        while True:
            new_eta = Xs @ (beta + t * step)
            new_p, new_dev = fitted(new_eta)
            if new_dev <= dev + 1e-12 * abs(dev) or t < 1e-4:
                break
            t /= 2
        beta, p = beta + t * step, new_p
        change, size = dev - new_dev, float(np.max(np.abs(t * step)))
        dev = new_dev
        if size < tol:
            # Newton converges quadratically: after a step of this size the
            # coefficients are within about size**2 of the optimum
            converged = True
            break
        # a deviance that no longer moves while the coefficients still do is
        # quasi-separation (some coefficients head off to infinity): stop early
        stalled = stalled + 1 if abs(change) < 1e-12 * (abs(dev) + 0.1) else 0
        if stalled >= 5:
            converged = size < 1e-6
            break
    coef = beta / scale
    return coef, converged and bool(np.isfinite(coef).all())


def _start(Xs: np.ndarray, d: np.ndarray, w: np.ndarray, names: list[str]) -> np.ndarray:
    """Starting values: the marginal log-odds on the intercept; on large data,
    the fit on an evenly spaced subsample of about 100,000 rows, so that the
    full-data Newton iterations (each a pass over every row) start close to the
    optimum and need two or three steps instead of five or six. Only from
    four times that many rows: each subsample step then costs at most a
    quarter of a full one (with fewer rows the subsample's own steps cost
    about what they save)."""
    beta = np.zeros(Xs.shape[1])
    const = np.flatnonzero(np.all(Xs[:1000] == Xs[:1], axis=0))
    const = const[np.all(Xs[:, const] == Xs[:1, const], axis=0)]
    if len(const):
        pbar = float(np.clip(np.sum(w * d) / np.sum(w), 1e-6, 1 - 1e-6))
        beta[const[0]] = np.log(pbar / (1 - pbar)) / Xs[0, const[0]]
    step = len(d) // _SUBSAMPLE
    if step >= 4:
        sub = slice(0, None, step)
        d_sub = d[sub]
        if 0 < d_sub.sum() < len(d_sub):
            try:
                b, ok = newton_logit(Xs[sub], d_sub, w[sub], names)
            except OptionError:  # collinear in the subsample only: start plainly
                return beta
            if ok:
                return b  # Xs has unit-scale columns already, so b is on its scale
    return beta


def expit(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))``, overflow-free (scipy's ufunc)."""
    from scipy.special import expit as _expit

    return np.asarray(_expit(x), dtype=float)
