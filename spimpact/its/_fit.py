"""Fitting back-ends: statsmodels GLM / negative binomial / SARIMAX on arrays.

Each function takes the outcome, the design matrix and an optional log
offset, fits with statsmodels, and returns a :class:`FitOutput` holding only
arrays and numbers, so the estimators never touch statsmodels objects.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import EstimationError

__all__ = ["FitOutput", "CovSpec", "fit_glm", "fit_negbin", "fit_arma", "fit_arma_reml"]


@dataclass(frozen=True)
class CovSpec:
    """How to compute the covariance of the coefficients.

    ``kind``: ``"model"`` (model-based, with the family's dispersion), ``"hac"``
    (Newey-West on one series), ``"driscoll-kraay"`` (Newey-West on the scores
    summed over the series of each period, ``time``: robust to autocorrelation
    and to correlation between series in the same period), ``"cluster"`` (by
    ``groups``). ``fixed_b``: the Newey-West intervals use fixed-b critical
    values (see :mod:`spimpact.its._small`).
    """

    kind: str = "model"
    maxlags: int | None = None
    groups: np.ndarray | None = None
    time: np.ndarray | None = None
    fixed_b: bool = False

    def statsmodels(self) -> tuple[str, dict[str, Any]]:
        """The ``cov_type`` and ``cov_kwds`` statsmodels expects."""
        if self.kind == "model":
            return "nonrobust", {}
        if self.kind == "hac":
            return "HAC", {"maxlags": self.maxlags, "use_correction": False}
        if self.kind == "driscoll-kraay":
            return "hac-groupsum", {
                "maxlags": self.maxlags,
                "time": self.time,
                "use_correction": False,
            }
        return "cluster", {"groups": self.groups}

    def describe(self) -> str:
        """A short label for the method string."""
        label = {
            "model": "model-based SEs",
            "hac": f"Newey-West SEs ({self.maxlags} lags)",
            "driscoll-kraay": f"Driscoll-Kraay SEs ({self.maxlags} lags)",
            "cluster": "cluster-robust SEs",
        }[self.kind]
        if self.fixed_b:
            label = label[:-1] + ", fixed-b critical values)"
        return label


@dataclass(frozen=True)
class FitOutput:
    """What an estimator needs from a fit.

    Attributes
    ----------
    params : ndarray, shape (k,)
        Coefficients of the design's columns (link scale).
    vcov : ndarray, shape (k, k)
    df : float or None
        Degrees of freedom of Student-t intervals (None: normal).
    dispersion : float
        The scale used by model-based SEs (1 for Poisson, Pearson chi-square
        over residual df for quasi-Poisson, the residual variance for
        Gaussian, the innovation variance for ARMA errors).
    pearson_dispersion : float
        Pearson chi-square over residual df (any family), a diagnostic.
    linear : ndarray, shape (n,)
        ``X @ params`` (without the offset).
    residuals : ndarray, shape (n,)
        Pearson residuals, or standardised innovations for ARMA errors.
    df_resid : float
    extra : dict
        Family-specific numbers (negative-binomial ``alpha``; ARMA ``ar1``...;
        ``loglik``, ``aic``).
    extra_se : dict
        Standard errors of the ``extra`` parameters that have one.
    notes : tuple of str
        Convergence trouble and the like, for the result's warnings.
    weights : ndarray, shape (n,) or None
        IRLS working weights at the solution (1 for Gaussian, ``mu`` for
        Poisson, ``mu / (1 + alpha mu)`` for NB2): ``sqrt(weights) * X`` is the
        design whose scores the Newey-West estimator weights.
    crit, p_value : ndarray, shape (k,) or None
        Per-coefficient critical values and p-values when they are not those of
        the normal or Student t with ``df`` (fixed-b Newey-West). ``df`` may
        also be per coefficient (Satterthwaite).
    """

    params: np.ndarray
    vcov: np.ndarray
    df: float | np.ndarray | None
    dispersion: float
    pearson_dispersion: float
    linear: np.ndarray
    residuals: np.ndarray
    df_resid: float
    extra: dict[str, float] = field(default_factory=dict)
    extra_se: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    weights: np.ndarray | None = None
    crit: np.ndarray | None = None
    p_value: np.ndarray | None = None


def _caught(w: list[warnings.WarningMessage]) -> tuple[str, ...]:
    out = []
    for m in w:
        name = type(m.message).__name__ if isinstance(m.message, Warning) else "warning"
        if "Convergence" in name or "PerfectSeparation" in name or "HessianInversion" in name:
            out.append(f"statsmodels: {str(m.message).splitlines()[0]}")
    return tuple(dict.fromkeys(out))


def fit_glm(
    y: np.ndarray,
    X: np.ndarray,
    offset: np.ndarray | None,
    family: str,
    cov: CovSpec,
) -> FitOutput:
    """Gaussian, Poisson or quasi-Poisson GLM (statsmodels ``GLM``).

    Quasi-Poisson is the Poisson fit with the Pearson chi-square scale
    (``scale="X2"``), as R's ``quasipoisson``. Robust covariances (Newey-West,
    clustered) do not depend on the scale.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.c_[np.ones(4), np.arange(4.0)]
    >>> out = fit_glm(np.array([1.0, 2.0, 2.0, 4.0]), X, None, "gaussian", CovSpec())
    >>> out.params.round(2).tolist(), out.df
    ([0.9, 0.9], 2.0)
    """
    import statsmodels.api as sm

    fam = sm.families.Gaussian() if family == "gaussian" else sm.families.Poisson()
    model = sm.GLM(y, X, family=fam, offset=offset)
    scale = "X2" if family in ("quasipoisson", "gaussian") else None
    cov_type, cov_kwds = cov.statsmodels()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = model.fit(scale=scale, cov_type=cov_type, cov_kwds=cov_kwds)
        except (np.linalg.LinAlgError, ValueError) as exc:
            raise EstimationError(
                f"the {family} segmented regression failed to fit: {exc}; "
                f"check the outcome and the terms asked for."
            ) from exc
    params = np.asarray(res.params, dtype=float)
    if not np.all(np.isfinite(params)):
        raise EstimationError(
            f"the {family} fit gave non-finite coefficients (e.g. a series of "
            f"zero counts); check the outcome."
        )
    pearson = float(np.sum(res.resid_pearson**2) / res.df_resid) if res.df_resid > 0 else np.nan
    gaussian_model = family == "gaussian" and cov.kind == "model"
    return FitOutput(
        params=params,
        vcov=np.asarray(res.cov_params(), dtype=float),
        df=float(res.df_resid) if gaussian_model else None,
        dispersion=float(res.scale),
        pearson_dispersion=pearson,
        linear=X @ params,
        residuals=np.asarray(res.resid_pearson, dtype=float),
        df_resid=float(res.df_resid),
        extra={"loglik": float(res.llf), "aic": float(res.aic)} if family != "quasipoisson" else {},
        notes=_caught(caught),
        weights=np.ones(len(y)) if family == "gaussian" else np.asarray(res.mu, dtype=float),
    )


def fit_negbin(y: np.ndarray, X: np.ndarray, offset: np.ndarray | None, cov: CovSpec) -> FitOutput:
    """Negative binomial (NB2: variance ``mu + alpha mu^2``) by maximum likelihood
    (statsmodels ``NegativeBinomial``), started from the Poisson fit."""
    import statsmodels.api as sm

    start = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset).fit()
    model = sm.NegativeBinomial(y, X, offset=offset, loglike_method="nb2")
    cov_type, cov_kwds = cov.statsmodels()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.fit(
            start_params=np.r_[start.params, 0.01],
            disp=0,
            maxiter=1000,
            cov_type=cov_type,
            cov_kwds=cov_kwds,
        )
    k = X.shape[1]
    params = np.asarray(res.params, dtype=float)
    notes = list(_caught(caught))
    if not res.mle_retvals.get("converged", True):
        notes.append(
            "the negative binomial likelihood did not converge; check the fit or use "
            "family='quasipoisson'."
        )
    beta, alpha = params[:k], float(params[k])
    mu = np.exp(X @ beta + (0.0 if offset is None else offset))
    pearson_resid = (y - mu) / np.sqrt(mu + alpha * mu**2)
    df_resid = float(len(y) - k - 1)
    cp = np.asarray(res.cov_params(), dtype=float)
    return FitOutput(
        params=beta,
        vcov=cp[:k, :k],
        df=None,
        dispersion=1.0,
        pearson_dispersion=float(np.sum(pearson_resid**2) / df_resid),
        linear=X @ beta,
        residuals=pearson_resid,
        df_resid=df_resid,
        extra={"alpha": alpha, "loglik": float(res.llf), "aic": float(res.aic)},
        extra_se={"alpha": float(np.sqrt(cp[k, k]))},
        notes=tuple(dict.fromkeys(notes)),
        weights=mu / (1.0 + alpha * mu),
    )


def fit_arma(y: np.ndarray, X: np.ndarray, order: tuple[int, int]) -> FitOutput:
    """Linear regression with ARMA(p, q) errors by exact maximum likelihood
    (statsmodels ``SARIMAX``), covariance from the observed information matrix.

    The columns of ``X`` are scaled to unit root-mean-square for the optimiser
    (BFGS, with the innovation variance concentrated out) and the coefficients
    and covariance scaled back: L-BFGS on the raw columns can stop short of the
    maximum when a trend column is much larger than the intercept.
    """
    import statsmodels.api as sm
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    p, q = order
    k = X.shape[1]
    s = np.sqrt(np.mean(X**2, axis=0))
    s[s == 0] = 1.0
    Xs = X / s
    ols = sm.OLS(y, Xs).fit()
    model = SARIMAX(y, exog=Xs, order=(p, 0, q), trend="n", concentrate_scale=True)
    start = np.r_[ols.params, np.zeros(p + q)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.fit(start_params=start, disp=False, cov_type="oim", method="bfgs", maxiter=1000)
    params = np.asarray(res.params, dtype=float)
    cp = np.asarray(res.cov_params(), dtype=float)
    beta = params[:k] / s
    vcov = cp[:k, :k] / np.outer(s, s)
    names = [n.replace("ar.L", "ar").replace("ma.L", "ma") for n in model.param_names[k:]]
    extra = {n: float(v) for n, v in zip(names, params[k:], strict=True)}
    extra_se = {n: float(np.sqrt(max(cp[k + i, k + i], 0.0))) for i, n in enumerate(names)}
    notes = list(_caught(caught))
    if not res.mle_retvals.get("converged", True):
        notes.append(
            "the ARMA likelihood did not converge; try another arma_order or "
            "autocorrelation='newey-west'."
        )
    innov = np.asarray(res.standardized_forecasts_error[0], dtype=float)
    df_resid = float(len(y) - k - p - q)
    resid = y - X @ beta
    extra.update(sigma2=float(res.scale), loglik=float(res.llf), aic=float(res.aic))
    return FitOutput(
        params=beta,
        vcov=vcov,
        df=None,
        dispersion=float(res.scale),
        pearson_dispersion=float(np.sum(resid**2) / df_resid),
        linear=X @ beta,
        residuals=innov,
        df_resid=df_resid,
        extra=extra,
        extra_se=extra_se,
        notes=tuple(dict.fromkeys(notes)),
    )


def fit_arma_reml(y: np.ndarray, X: np.ndarray, order: tuple[int, int]) -> FitOutput:
    """Linear regression with ARMA(p, q) errors by restricted maximum likelihood,
    Student t intervals with Satterthwaite df per coefficient
    (:func:`spimpact.its._small.fit_reml_arma`).

    The columns of ``X`` are scaled to unit root-mean-square for the fit and the
    coefficients and covariance scaled back (the df do not depend on the scale).
    """
    from ._small import fit_reml_arma

    p, q = order
    k = X.shape[1]
    s = np.sqrt(np.mean(X**2, axis=0))
    s[s == 0] = 1.0
    fit = fit_reml_arma(y, X / s, order)
    beta = fit.beta / s
    names = [f"ar{i + 1}" for i in range(p)] + [f"ma{i + 1}" for i in range(q)]
    values = np.r_[fit.ar, fit.ma]
    se = np.sqrt(np.maximum(np.diag(fit.theta_vcov)[1:], 0.0))
    notes = []
    if not fit.converged:
        notes.append(
            "the REML fit of the ARMA errors did not converge; try another arma_order or "
            "autocorrelation='newey-west'."
        )
    if p and np.max(np.abs(fit.ar)) > 0.98:
        notes.append(
            f"the REML AR coefficient is {fit.ar[0]:.3g}, near the unit root: the series may "
            f"not be stationary around its trend; check the trend and the season."
        )
    extra = {n: float(v) for n, v in zip(names, values, strict=True)}
    extra.update(sigma2=fit.sigma2, reml_criterion=fit.criterion)
    resid = y - X @ beta
    df_resid = float(len(y) - k - p - q)
    return FitOutput(
        params=beta,
        vcov=fit.vcov / np.outer(s, s),
        df=fit.df,
        dispersion=fit.sigma2,
        pearson_dispersion=float(np.sum(resid**2) / df_resid),
        linear=X @ beta,
        residuals=fit.innovations,
        df_resid=df_resid,
        extra=extra,
        extra_se={n: float(v) for n, v in zip(names, se, strict=True)},
        notes=tuple(notes),
    )
