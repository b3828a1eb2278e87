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
from .._logit import expit, newton_logit
from ..errors import EstimationError, OptionError

__all__ = ["PropensityFit", "fit_propensity", "propensity_design", "logit", "expit",
           "overlap_messages"]

#: Scores closer than this to 0 or 1 count as "numerically 0 or 1".
EXTREME_SCORE = 1e-8
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
        coef, converged = newton_logit(X, d, w, names)
        lin = X @ coef
        score = expit(lin)
        fit = PropensityFit(score, lin, X, names, coef, w, "logit")
    else:
        score = _fit_classifier(model, X, d, w)
        lin = logit(np.clip(score, _LOGIT_CLIP, 1 - _LOGIT_CLIP))
        fit = PropensityFit(score, lin, X, names, None, w, type(model).__name__)
        converged = True
    return _check_separation(fit, d, converged)
