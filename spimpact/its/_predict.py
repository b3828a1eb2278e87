"""Fitted values, counterfactuals and effects with delta-method intervals (pure
functions on arrays)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Prediction", "predict", "cumulative"]


@dataclass(frozen=True)
class Prediction:
    """Means with and without the interruption's effect, and their difference.

    Every array has shape (n,); ``*_se`` are standard errors on the link scale
    for ``fitted``/``counterfactual`` and on the response scale for ``effect``.
    """

    fitted: np.ndarray
    fitted_lower: np.ndarray
    fitted_upper: np.ndarray
    counterfactual: np.ndarray
    counterfactual_lower: np.ndarray
    counterfactual_upper: np.ndarray
    effect: np.ndarray
    effect_lower: np.ndarray
    effect_upper: np.ndarray


def _rowwise_se(X: np.ndarray, V: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", X, V, X), 0.0))


def predict(
    X: np.ndarray,
    X_cf: np.ndarray,
    params: np.ndarray,
    vcov: np.ndarray,
    offset: np.ndarray | None,
    log_link: bool,
    crit: float,
) -> Prediction:
    """Means of the fitted model (``X``) and of the counterfactual (``X_cf``, the
    effect columns zeroed), on the response scale, with pointwise intervals
    (``crit`` times the SE on the link scale, then transformed) and their
    difference with a delta-method interval.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> p = predict(X, X * [1, 0], np.array([0.0, 0.5]), np.eye(2) * 0.01, None, False, 1.96)
    >>> p.effect.tolist()
    [0.0, 0.5]
    """
    off = 0.0 if offset is None else offset
    eta, eta_cf = X @ params + off, X_cf @ params + off
    se, se_cf = _rowwise_se(X, vcov), _rowwise_se(X_cf, vcov)
    if log_link:
        mu, mu_cf = np.exp(eta), np.exp(eta_cf)
        grad = mu[:, None] * X - mu_cf[:, None] * X_cf
        lo, hi = np.exp(eta - crit * se), np.exp(eta + crit * se)
        lo_cf, hi_cf = np.exp(eta_cf - crit * se_cf), np.exp(eta_cf + crit * se_cf)
    else:
        mu, mu_cf = eta, eta_cf
        grad = X - X_cf
        lo, hi, lo_cf, hi_cf = (
            eta - crit * se,
            eta + crit * se,
            eta_cf - crit * se_cf,
            eta_cf + crit * se_cf,
        )
    eff = mu - mu_cf
    se_eff = _rowwise_se(grad, vcov)
    return Prediction(
        mu, lo, hi, mu_cf, lo_cf, hi_cf, eff, eff - crit * se_eff, eff + crit * se_eff
    )


def cumulative(
    X: np.ndarray,
    X_cf: np.ndarray,
    params: np.ndarray,
    vcov: np.ndarray,
    offset: np.ndarray | None,
    log_link: bool,
    rows: np.ndarray,
) -> tuple[float, float, float]:
    """Sum over ``rows`` of fitted minus counterfactual means: the estimate, its
    delta-method SE, and the counterfactual total."""
    off = 0.0 if offset is None else offset[rows]
    Xr, Xc = X[rows], X_cf[rows]
    if log_link:
        mu, mu_cf = np.exp(Xr @ params + off), np.exp(Xc @ params + off)
        grad = mu @ Xr - mu_cf @ Xc
    else:
        mu, mu_cf = Xr @ params + off, Xc @ params + off
        grad = (Xr - Xc).sum(axis=0)
    return (
        float(np.sum(mu - mu_cf)),
        float(np.sqrt(max(grad @ vcov @ grad, 0.0))),
        float(np.sum(mu_cf)),
    )
