"""Propensity-score models: a maximum-likelihood logit or any scikit-learn classifier.

:func:`propensity_design` builds the covariate matrix (a formulaic
right-hand side, or main effects of the panel's covariates) and
:func:`fit_propensity` fits the model, returning a frozen
:class:`PropensityFit` with the scores, their logits, and what the weighting
estimators need for M-estimation (the design matrix and the weights).

The logit is fitted here by Newton-Raphson (the binomial GLM's iteratively
reweighted least squares, with step halving), which agrees with statsmodels'
``Logit`` to the last digits (see the tests) and needs nothing heavier than
numpy.

Complete separation (the covariates split treated from controls exactly, so
there is no overlap at all) is an :class:`~spimpact.errors.EstimationError`.
:func:`overlap_messages` turns scores numerically 0 or 1 into the warnings
that matter for an estimand (for the ATT: treated units that no control
resembles).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._formula import design_matrix
from ..errors import EstimationError, OptionError

__all__ = ["PropensityFit", "fit_propensity", "propensity_design", "logit", "expit",
           "overlap_messages"]

#: Scores closer than this to 0 or 1 count as "numerically 0 or 1".
EXTREME_SCORE = 1e-8
#: Share of a column's variation left after projecting out the earlier columns below
#: which the design counts as collinear (an R-squared above 1 - 1e-10).
_COLLINEAR = 1e-10
#: Rows of the subsample that gives large logits their starting values.
_SUBSAMPLE = 100_000
#: Bound used only to turn 0/1 scores of a classifier into finite logits for distances.
_LOGIT_CLIP = 1e-12


def logit(p: np.ndarray) -> np.ndarray:
    """``log(p / (1 - p))`` (scores of exactly 0 or 1 give -inf / inf).

    Examples
    --------
    >>> import numpy as np
    >>> logit(np.array([0.5])).tolist()
    [0.0]
    """
    with np.errstate(divide="ignore"):
        return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class PropensityFit:
    """A fitted propensity-score model.

    Attributes
    ----------
    score : ndarray, shape (n,)
        Estimated ``P(treated | X)``.
    linear : ndarray, shape (n,)
        The logit of the score (the linear predictor of a logit model); for a
        classifier, the logit of the score kept within ``[1e-12, 1 - 1e-12]``
        so that distances stay finite.
    X : ndarray, shape (n, p)
        The design matrix the model was fitted on.
    names : list of str
        Its column names.
    coef : ndarray or None
        Logit coefficients (``None`` for a classifier).
    w : ndarray, shape (n,)
        Weights used in the fit.
    description : str
        The model, for summaries.
    messages : tuple of str
        Statistical red flags (quasi-separation, non-convergence).
    """

    score: np.ndarray
    linear: np.ndarray
    X: np.ndarray
    names: list[str]
    coef: np.ndarray | None
    w: np.ndarray
    description: str
    messages: tuple[str, ...] = ()

    @property
    def is_logit(self) -> bool:
        """Whether the scores come from a logit model (estimating equations known)."""
        return self.coef is not None


def propensity_design(
    frame: pd.DataFrame, ps_formula: str | None, covariates: Sequence[str], *, intercept: bool
) -> tuple[np.ndarray, list[str]]:
    """The propensity-model design matrix: ``ps_formula``, or main effects of
    ``covariates`` (categorical columns as dummies).

    Raises
    ------
    OptionError
        Without a formula and without covariates.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"age": [30.0, 40.0, 50.0], "sex": ["f", "m", "f"]})
    >>> propensity_design(f, "age + I(age**2)", (), intercept=True)[1]
    ['Intercept', 'age', 'I(age ** 2)']
    """
    if ps_formula is None and len(covariates) == 0:
        raise OptionError(
            "the propensity model has no covariates: build the Panel with covariates=[...] "
            "or pass ps_formula='age + C(sex) + ...'."
        )
    if ps_formula is None and all(_plain_numeric(frame[c]) for c in covariates):
        # main effects of numeric columns: the matrix is the columns themselves
        k0 = int(intercept)
        X = np.empty((len(frame), len(covariates) + k0), order="F")  # one copy, by column
        if intercept:
            X[:, 0] = 1.0
        for j, c in enumerate(covariates):
            X[:, j + k0] = frame[c].to_numpy(dtype=float)
        return X, ["Intercept"] * k0 + [str(c) for c in covariates]
    return design_matrix(frame, ps_formula if ps_formula is not None else list(covariates),
                         intercept=intercept)


def _plain_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)


def _check_rank(gram: np.ndarray, names: list[str]) -> None:
    """Raise if a design column is constant or a linear combination of the earlier
    ones: a Cholesky pass over a (weighted) Gram matrix ``X' W X`` of the
    columns, so the check sees every row at the cost of the ``p x p`` matrix
    the logit computes anyway."""
    G = np.asarray(gram, dtype=float)
    p = G.shape[0]
    L = np.zeros((p, p))
    for j in range(p):  # p is the number of model terms: a short loop
        rest = G[j, j] - L[j, :j] @ L[j, :j]
        if rest <= _COLLINEAR * G[j, j]:
            raise OptionError(
                f"propensity-model column {names[j]!r} is constant or a linear combination of "
                f"the columns before it (collinear design); drop it from the covariates or the "
                f"ps_formula."
            )
        L[j, j] = np.sqrt(rest)
        L[j + 1:, j] = (G[j + 1:, j] - L[j + 1:, :j] @ L[j, :j]) / L[j, j]


def _separating_columns(X: np.ndarray, names: list[str], d: np.ndarray) -> list[str]:
    t, c = X[d == 1], X[d == 0]
    out = []
    for j, name in enumerate(names):
        if np.ptp(X[:, j]) == 0:
            continue
        if t[:, j].min() > c[:, j].max() or t[:, j].max() < c[:, j].min():
            out.append(name)
    return out


def _check_separation(fit: PropensityFit, d: np.ndarray, converged: bool) -> PropensityFit:
    lp, messages = fit.linear, list(fit.messages)
    lo, hi = lp[d == 0], lp[d == 1]
    if hi.min() > lo.max() or hi.max() < lo.min():
        cols = _separating_columns(fit.X, fit.names, d)
        which = f" (e.g. {cols[:3]} alone separate them)" if cols else ""
        raise EstimationError(
            f"perfect separation: the propensity model splits treated from control units "
            f"exactly{which}, so the groups do not overlap and no comparison is possible. "
            f"Drop or coarsen the separating covariate(s), restrict the data to the region of "
            f"common support, or use a penalised model (e.g. "
            f"ps_model=LogisticRegression(C=1.0))."
        )
    if not converged:
        messages.append(
            "the propensity logit did not converge (quasi-separation: some covariate pattern "
            "is only ever treated or only ever control); check overlap with plot_overlap() "
            "and consider coarsening covariates or a penalised model."
        )
    return PropensityFit(fit.score, fit.linear, fit.X, fit.names, fit.coef, fit.w,
                         fit.description, tuple(messages))


def overlap_messages(score: np.ndarray, d: np.ndarray, estimand: str) -> list[str]:
    """Warnings about units whose score is numerically 0 or 1 *where it matters*
    for ``estimand``: treated units with a score of 1 have no comparable
    controls (ATT, ATE); controls with a score of 0 have no comparable treated
    units (ATC, ATE). Controls with a score of 0 under the ATT are simply
    irrelevant, and are not flagged.

    Examples
    --------
    >>> import numpy as np
    >>> overlap_messages(np.array([0.5, 1.0, 0.0]), np.array([1, 1, 0]), "ATT")[0][:9]
    '1 treated'
    """
    out = []
    one = (d == 1) & (score > 1 - EXTREME_SCORE)
    zero = (d == 0) & (score < EXTREME_SCORE)
    if estimand in ("ATT", "ATE") and one.any():
        out.append(
            f"{int(one.sum())} treated units have a propensity score numerically 1: no control "
            f"resembles them (a violation of overlap); the {estimand} for them rests on "
            f"extrapolation. Check plot_overlap() and consider restricting the sample."
        )
    if estimand in ("ATC", "ATE") and zero.any():
        out.append(
            f"{int(zero.sum())} control units have a propensity score numerically 0: no treated "
            f"unit resembles them (a violation of overlap); the {estimand} for them rests on "
            f"extrapolation. Check plot_overlap() and consider restricting the sample."
        )
    return out


def _newton_logit(
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
    matrix doubles as the collinearity check (:func:`_check_rank`).
    """
    scale = np.sqrt((X**2).mean(axis=0))
    if (scale == 0).any():
        j = int(np.flatnonzero(scale == 0)[0])
        raise OptionError(f"propensity-model column {names[j]!r} is zero in every row; drop it.")
    Xs = X / scale
    beta = _start(Xs, d, w, names)

    def deviance(eta: np.ndarray) -> float:  # -2 log-likelihood, overflow-free
        return float(2 * np.sum(w * (np.logaddexp(0.0, eta) - d * eta)))

    eta = Xs @ beta
    dev = deviance(eta)
    converged, stalled = False, 0
    for it in range(max_iter):
        p = expit(eta)
        grad = Xs.T @ (w * (d - p))
        root = Xs * np.sqrt(w * p * (1 - p))[:, None]
        info = root.T @ root  # X' W X (a symmetric rank-k update)
        if it == 0:
            _check_rank(info, names)
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(info, grad, rcond=None)[0]
        t = 1.0
        while True:
            new_eta = Xs @ (beta + t * step)
            new_dev = deviance(new_eta)
            if new_dev <= dev + 1e-12 * abs(dev) or t < 1e-4:
                break
            t /= 2
        beta, eta = beta + t * step, new_eta
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
    optimum and need two or three steps instead of five or six."""
    beta = np.zeros(Xs.shape[1])
    const = np.flatnonzero(np.all(Xs[:1000] == Xs[:1], axis=0))
    const = const[np.all(Xs[:, const] == Xs[:1, const], axis=0)]
    if len(const):
        pbar = float(np.clip(np.sum(w * d) / np.sum(w), 1e-6, 1 - 1e-6))
        beta[const[0]] = np.log(pbar / (1 - pbar)) / Xs[0, const[0]]
    step = len(d) // _SUBSAMPLE
    if step >= 2:
        sub = slice(0, None, step)
        d_sub = d[sub]
        if 0 < d_sub.sum() < len(d_sub):
            try:
                b, ok = _newton_logit(Xs[sub], d_sub, w[sub], names)
            except OptionError:  # collinear in the subsample only: start plainly
                return beta
            if ok:
                return b  # Xs has unit-scale columns already, so b is on its scale
    return beta


def expit(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))``, overflow-free (scipy's ufunc)."""
    from scipy.special import expit as _expit

    return np.asarray(_expit(x), dtype=float)


def _fit_classifier(model: Any, X: np.ndarray, d: np.ndarray, w: np.ndarray) -> np.ndarray:
    from sklearn.base import clone

    est = clone(model)
    kwargs: dict[str, Any] = {}
    if not np.all(w == 1):
        if "sample_weight" not in inspect.signature(est.fit).parameters:
            raise OptionError(
                f"the panel has weights but {type(est).__name__}.fit() takes no sample_weight; "
                f"use ps_model='logit' or a classifier that accepts sample weights."
            )
        kwargs["sample_weight"] = w
    est.fit(X, d.astype(int), **kwargs)
    classes = list(getattr(est, "classes_", [0, 1]))
    return np.asarray(est.predict_proba(X), dtype=float)[:, classes.index(1)]


def fit_propensity(
    X: np.ndarray,
    d: np.ndarray,
    model: Any = "logit",
    *,
    w: np.ndarray | None = None,
    names: list[str] | None = None,
) -> PropensityFit:
    """Fit the propensity-score model ``P(d = 1 | X)``.

    Parameters
    ----------
    X : ndarray, shape (n, p)
        Design matrix (with an intercept column for the logit).
    d : ndarray, shape (n,)
        0/1 treatment indicator.
    model : "logit" or scikit-learn classifier
        A maximum-likelihood logit (weighted when ``w`` is given),
        or any classifier with ``predict_proba`` (cloned, never modified).
    w : ndarray, optional
        Sampling weights.
    names : list of str, optional
        Column names of ``X`` (for messages).

    Raises
    ------
    EstimationError
        On perfect separation.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=500)
    >>> d = (rng.random(500) < 1 / (1 + np.exp(-x))).astype(float)
    >>> fit = fit_propensity(np.column_stack([np.ones(500), x]), d)
    >>> bool(0.7 < fit.coef[1] < 1.3)
    True
    """
    X = np.asarray(X, dtype=float)
    d = np.asarray(d, dtype=float)
    n, p = X.shape
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    names = names or [f"x{j}" for j in range(p)]
    if isinstance(model, str):
        coef, converged = _newton_logit(X, d, w, names)
        lin = X @ coef
        score = expit(lin)
        fit = PropensityFit(score, lin, X, names, coef, w, "logit")
    else:
        score = _fit_classifier(model, X, d, w)
        lin = logit(np.clip(score, _LOGIT_CLIP, 1 - _LOGIT_CLIP))
        fit = PropensityFit(score, lin, X, names, None, w, type(model).__name__)
        converged = True
    return _check_separation(fit, d, converged)
