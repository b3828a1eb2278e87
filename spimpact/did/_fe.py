"""Shared numerics of the fixed-effects DiD estimators (Sun-Abraham,
imputation, two-stage, TWFE event studies).

* :func:`within_ols`: weighted least squares with unit fixed effects absorbed
  (a diagonal block eliminated in closed form) and the remaining regressors
  (period dummies, cohort-period interactions, covariates) in a sparse or dense
  matrix; returns the coefficients, the bread ``M^-1`` and every unit's score,
  so that any coefficient's influence function is ``n * scores @ bread[:, j]``.
* :func:`fe_sample`: the estimation sample of a panel (integer codes, cohorts
  as period positions, per-unit cluster and weight), with notes on what was set
  aside.
* :func:`group_time_result`: a :class:`GroupTimeResult` from ATT(g,t) cells and
  their per-unit influence functions, so every estimator aggregates, plots and
  bootstraps through the one engine.

Everything is vectorised with ``np.bincount`` and sparse indicator matrices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from .._formula import column_list, design_matrix
from .._logit import check_rank
from .._sample import (
    refuse_dose,
    refuse_exposure,
    refuse_general_treatment,
    require_panel,
    small_cohort_note,
)
from ..errors import EstimationError
from ..inference import FactoredInfluence
from ..inference_cluster import DEFAULT_INFERENCE, few_clusters_note, small_sample
from ..inference_roles import leverage_adjusted
from ..panel import Panel
from ._cluster_checks import cluster_notes
from .results import (
    GroupTimeResult,
    InfluenceData,
    aggregate_cells,
    assemble_group_time,
    with_bootstrap,
)

__all__ = [
    "WithinFit", "within_ols", "unit_means", "unit_indicator", "dummies", "FESample",
    "fe_sample", "InferenceOptions", "group_time_result", "COLLINEAR_RCOND",
]

#: A regressor block whose scaled normal matrix has reciprocal condition number
#: below this is treated as collinear (double precision leaves ~1e-16; the
#: margin allows for sums over millions of rows).
COLLINEAR_RCOND = 1e-11


def unit_indicator(
    unit: np.ndarray, n_units: int, values: np.ndarray | None = None,
) -> sparse.csr_matrix:
    """Sparse ``(n_units, m)`` matrix with ``values`` (default 1) at ``(unit[r], r)``."""
    m = len(unit)
    data = np.ones(m) if values is None else np.asarray(values, dtype=float)
    return sparse.csr_matrix((data, (unit, np.arange(m))), shape=(n_units, m))


def dummies(codes: np.ndarray, levels: np.ndarray | int) -> sparse.csr_matrix:
    """Sparse 0/1 columns ``codes == level`` for each of ``levels`` (rows with
    another code are all-zero).

    Examples
    --------
    >>> import numpy as np
    >>> dummies(np.array([0, 2, 1, 2]), np.array([1, 2])).toarray().tolist()
    [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
    """
    levels = np.arange(levels) if isinstance(levels, (int, np.integer)) else np.asarray(levels)
    codes = np.asarray(codes)
    col = np.full(codes.shape, -1, dtype=np.intp)
    if len(levels):
        order = np.argsort(levels)
        pos = np.searchsorted(levels[order], codes)
        pos = np.clip(pos, 0, len(levels) - 1)
        hit = levels[order][pos] == codes
        col[hit] = order[pos[hit]]
    rows = np.flatnonzero(col >= 0)
    return sparse.csr_matrix((np.ones(len(rows)), (rows, col[rows])),
                             shape=(len(codes), len(levels)))


def unit_means(values: Any, unit: np.ndarray, w: np.ndarray, n_units: int) -> np.ndarray:
    """Weighted means of the columns of ``values`` within each unit (0 for units
    without rows): ``(n_units, q)`` dense."""
    U = unit_indicator(unit, n_units, w)
    sw = np.asarray(U.sum(axis=1)).ravel()
    sums = U @ values
    sums = sums.toarray() if sparse.issparse(sums) else np.asarray(sums)
    inv = np.divide(1.0, sw, out=np.zeros_like(sw), where=sw > 0)
    return sums * (inv[:, None] if sums.ndim == 2 else inv)


@dataclass(frozen=True)
class WithinFit:
    """Weighted OLS of ``y`` on unit effects plus regressors ``R`` (q columns).

    Attributes
    ----------
    coef : ``(q,)`` coefficients of ``R``.
    bread : ``(q, q)`` inverse of the unit-demeaned normal matrix ``M``.
    resid : ``(m,)`` residuals of the fitted rows.
    unit_effect : ``(n_units,)`` the unit effects (NaN for units without rows).
    scores : ``(n_units, q)`` ``sum_{r in unit} w_r e_r R_r``; the influence
        function of coefficient ``j`` is ``n_units * scores @ bread[:, j]``.
    """

    coef: np.ndarray
    bread: np.ndarray
    resid: np.ndarray
    unit_effect: np.ndarray
    scores: np.ndarray

    def influence(self, cols: Any = slice(None)) -> np.ndarray:
        """Per-unit influence functions of the coefficients ``cols``: ``(n_units, k)``."""
        return self.scores.shape[0] * (self.scores @ self.bread[:, cols])


def _first_dependent(Ms: np.ndarray, tol: float = 1e-10) -> int | None:
    """The first column of a scaled normal matrix that is (numerically) a linear
    combination of the columns before it, by a sequential Cholesky pass (run
    only to word the error of a singular design)."""
    p = Ms.shape[0]
    L = np.zeros((p, p))
    for j in range(p):  # p regressors: a short loop, on the error path only
        rest = Ms[j, j] - L[j, :j] @ L[j, :j]
        if rest <= tol * max(Ms[j, j], 1e-300):
            return j
        L[j, j] = np.sqrt(rest)
        L[j + 1:, j] = (Ms[j + 1:, j] - L[j + 1:, :j] @ L[j, :j]) / L[j, j]
    return None


def _solve_checked(M: np.ndarray, names: Sequence[str], what: str) -> np.ndarray:
    d = np.sqrt(np.clip(np.diag(M), 0, None))
    ref = np.sqrt(np.abs(np.diag(M)).max()) if M.size else 1.0
    empty = d <= 1e-12 * ref  # relative: rescaling the weights changes nothing
    if empty.any():
        bad = [names[i] for i in np.flatnonzero(empty)[:5]]
        raise EstimationError(
            f"{what}: regressor(s) {bad} have no variation once unit effects are removed "
            f"(absorbed or never observed); drop them or check the panel's coverage."
        )
    from scipy.linalg import lapack

    Ms = M / np.outer(d, d)
    chol, info = lapack.dpotrf(Ms, lower=0)
    rcond = lapack.dpocon(chol, np.abs(Ms).sum(axis=0).max())[0] if info == 0 else 0.0
    if info != 0 or rcond <= COLLINEAR_RCOND:
        j = _first_dependent(Ms)
        term = f" ({names[j]!r} is a combination of the terms before it)" if j is not None else ""
        raise EstimationError(
            f"{what}: the regressors are collinear given the unit and period effects{term} "
            f"(e.g. a period observed only for treated units, or covariates that are "
            f"combinations of one another); drop covariates or narrow the window."
        )
    inv = lapack.dpotri(chol, lower=0)[0]
    inv = np.triu(inv) + np.triu(inv, 1).T
    return inv / np.outer(d, d)


def within_ols(
    y: np.ndarray, R: Any, unit: np.ndarray, w: np.ndarray, n_units: int,
    names: Sequence[str] | None = None, what: str = "regression",
) -> WithinFit:
    """Weighted OLS with unit fixed effects absorbed (Frisch-Waugh-Lovell).

    Parameters
    ----------
    y : ``(m,)`` outcome of the rows to fit.
    R : ``(m, q)`` dense array or scipy sparse matrix of the other regressors
        (period dummies with one omitted, interactions, covariates).
    unit : ``(m,)`` unit codes in ``[0, n_units)``; w : ``(m,)`` row weights.
    names : names of the columns of ``R`` (for messages); what : what is fitted.

    Raises
    ------
    EstimationError
        When a column of ``R`` has no within-unit variation or the columns are collinear.

    Examples
    --------
    >>> import numpy as np
    >>> unit = np.repeat(np.arange(3), 2); x = np.array([0., 1., 0., 2., 1., 1.5])
    >>> y = np.array([1., 2., 3., 5., 0., 0.5])  # unit effect + 1 * x
    >>> fit = within_ols(y, x[:, None], unit, np.ones(6), 3)
    >>> round(float(fit.coef[0]), 6)
    1.0
    """
    m = len(y)
    q = R.shape[1]
    names = list(names) if names is not None else [f"x{j}" for j in range(q)]
    Uw = unit_indicator(unit, n_units, w)
    sw = np.asarray(Uw.sum(axis=1)).ravel()
    inv_sw = np.divide(1.0, sw, out=np.zeros_like(sw), where=sw > 0)
    yd = y - (inv_sw * (Uw @ y))[unit]  # within-unit deviations: no cancellation below
    if sparse.issparse(R):
        R = R.tocsr()
        C = Uw @ R  # weighted unit sums of R
        M = (R.T @ R.multiply(w[:, None]).tocsr() - C.T @ sparse.diags(inv_sw) @ C).toarray()
        rhs = np.asarray(R.T @ (w * yd)).ravel()
    else:
        R = np.asarray(R, dtype=float)
        Rd = R - (inv_sw[:, None] * (Uw @ R))[unit]
        M = Rd.T @ (Rd * w[:, None])
        rhs = Rd.T @ (w * yd)
    bread = _solve_checked(M, names, what) if q else np.zeros((0, 0))
    coef = bread @ rhs if q else np.zeros(0)
    fitted = np.asarray(R @ coef).ravel() if q else np.zeros(m)
    alpha = inv_sw * (Uw @ (y - fitted))
    resid = y - alpha[unit] - fitted
    scores = unit_indicator(unit, n_units, w * resid) @ R
    scores = scores.toarray() if sparse.issparse(scores) else np.asarray(scores)
    return WithinFit(coef, bread, resid, np.where(sw > 0, alpha, np.nan), scores)


# --------------------------------------------------------------------- sample
@dataclass(frozen=True)
class FESample:
    """The rows an estimator uses, as integer codes and float arrays.

    ``row_cohort``/``unit_cohort`` are cohort positions (``inf``: not treated
    within the window; ``-1``: treated before the first period, kept only when
    asked). ``unit_codes`` are the sample units' positions among ``panel.units``.
    """

    y: np.ndarray
    w: np.ndarray
    unit: np.ndarray
    time: np.ndarray
    X: np.ndarray
    x_names: list[str]
    unit_cohort: np.ndarray
    unit_w: np.ndarray
    cluster: np.ndarray | None
    n_clusters: int | None
    unit_codes: np.ndarray
    n_periods: int
    notes: list[str] = field(default_factory=list)

    @cached_property
    def row_cohort(self) -> np.ndarray:
        """Cohort position of each row (gathered on first use: the cohort-block
        fits of balanced panels need the units' cohorts only)."""
        return self.unit_cohort[self.unit]

    @property
    def n_units(self) -> int:
        return len(self.unit_cohort)

    @property
    def groups(self) -> np.ndarray:
        """Treated cohorts (positions) in the window, sorted."""
        uc = self.unit_cohort
        return np.unique(uc[np.isfinite(uc) & (uc >= 0)]).astype(int)

    @property
    def row_cluster(self) -> np.ndarray:
        """Cluster code of every row (the unit when not clustered)."""
        return self.unit if self.cluster is None else self.cluster[self.unit]


def _check_panel(panel: Panel, name: str, *, uses_exposure: bool = False) -> None:
    require_panel(panel, f"{name}.fit", "outcome=..., unit=..., time=..., cohort=...")
    if not uses_exposure:
        refuse_exposure(panel, name)
    refuse_dose(panel, name)
    refuse_general_treatment(panel, name)
    if not panel.has_cohorts:
        raise EstimationError(
            f"{name} needs cohorts: build the Panel with cohort= (first treated period) or "
            f"treatment= (0/1 indicator)."
        )
    if panel.kind != "panel":
        raise EstimationError(
            f"{name} needs a panel with unit= and time= (unit fixed effects), not a "
            f"{panel.kind.replace('_', ' ')}; for repeated cross-sections use CallawaySantAnna."
        )
    if panel.n_periods < 2:
        raise EstimationError(
            f"{name} needs at least two periods; the panel has {panel.n_periods} "
            f"({list(panel.periods)})."
        )


def _covariates(panel: Panel, us: Any, spec: Any, w: np.ndarray,
                notes: list[str]) -> tuple[np.ndarray, list[str]]:
    spec = column_list(spec)
    if spec is None or (not isinstance(spec, str) and len(spec) == 0):
        return np.zeros((len(w), 0)), []  # no copy of the panel's frame
    frame = panel.frame if us.all_rows else panel.frame.loc[us.row_keep]
    unit, n_units = us.unit, us.n_units
    X, names = design_matrix(frame, spec, intercept=True)
    keep = [j for j, nm in enumerate(names) if nm != "Intercept"]
    X, names = X[:, keep], [names[j] for j in keep]
    dev = X - unit_means(X, unit, w, n_units)[unit]
    absorbed = np.abs(dev).max(axis=0) <= 1e-12 * np.maximum(np.abs(X).max(axis=0), 1.0)
    if absorbed.any():
        notes.append(
            f"covariate(s) {[n for n, a in zip(names, absorbed, strict=True) if a]} are constant "
            f"within units, so the unit fixed effects absorb them; they were left out."
        )
    kept = [n for n, a in zip(names, absorbed, strict=True) if not a]
    dev = dev[:, ~absorbed]
    check_rank((dev * w[:, None]).T @ dev, kept, model="covariate (within units)",
               fix="covariates=", error=EstimationError)
    return X[:, ~absorbed], kept


def fe_sample(
    panel: Panel, covariates: Any, name: str, *, anticipation: int = 0,
    keep_always_treated: bool = False, uses_exposure: bool = False,
    inference: str = DEFAULT_INFERENCE,
) -> FESample:
    """The estimation sample of a fixed-effects DiD estimator.

    Units without an untreated period (cohort at or before the first period plus
    ``anticipation``) are set aside with a note unless ``keep_always_treated``;
    cohorts after the last period count as not treated in the window.
    """
    _check_panel(panel, name, uses_exposure=uses_exposure)
    try:
        us = panel.unit_sample(anticipation=anticipation,
                               drop_always_treated=not keep_always_treated)
    except EstimationError as exc:
        raise EstimationError(f"{name}: {exc}") from None
    notes = list(us.notes)
    w = np.asarray(us.rows(panel.w), dtype=float)  # read only: no copy
    X, names = _covariates(panel, us, covariates, w, notes)
    small = small_cohort_note(us, panel, len(names))
    if small:
        notes.append(small)
    msg = few_clusters_note(inference, us.n_clusters, panel.cluster)
    if msg:
        notes.append(msg)
    return FESample(
        y=np.asarray(us.rows(panel.y), dtype=float), w=w, unit=us.unit,
        time=us.rows(panel.time_codes), X=X, x_names=names,
        unit_cohort=us.unit_cohort, unit_w=us.unit_w, cluster=us.cluster,
        n_clusters=us.n_clusters, unit_codes=us.unit_codes, n_periods=panel.n_periods,
        notes=notes,
    )


# --------------------------------------------------------------------- result
@dataclass(frozen=True)
class InferenceOptions:
    """What an estimator passes on to its result's inference."""

    confidence: float
    bootstrap: int | None
    random_state: Any
    multiplier: str
    share_influence: bool
    #: ``inference=`` choice (:mod:`spimpact.inference_cluster`)
    inference: str = DEFAULT_INFERENCE


def group_time_result(
    panel: Panel, s: FESample, cells: pd.DataFrame, att: np.ndarray, psi: np.ndarray | FactoredInfluence,
    opts: InferenceOptions, *, method: str, n_obs: int, notes: list[str],
    pretest: Any = "cells", pretest_text: str | None = None,
    result_cls: type = GroupTimeResult, info: dict | None = None, **extra: Any,
) -> GroupTimeResult:
    """A :class:`GroupTimeResult` (or subclass) from estimated cells, built once.

    ``cells`` has integer columns ``g, t, base`` and boolean ``post, reference``
    (period positions); ``att`` NaN marks cells that could not be estimated.
    Cohort shares ``pg`` are the weighted shares of sample units, as in
    Callaway-Sant'Anna, so aggregations weight cohorts by their size. The
    pre-test is the Wald test of the pre-treatment cells (``pretest="cells"``)
    or the estimator's own (a :class:`PreTest` or ``None``).
    """
    n = s.n_units
    groups = np.unique(cells["g"].to_numpy()).astype(int)
    pg_group = np.array([s.unit_w[s.unit_cohort == g].sum() / n for g in groups])
    gi = np.searchsorted(groups, cells["g"].to_numpy())
    cells = cells.assign(gi=gi, pg=pg_group[gi]).reset_index(drop=True)
    unit_group = np.full(n, -1, dtype=np.intp)
    fin = np.isin(s.unit_cohort, groups)
    unit_group[fin] = np.searchsorted(groups, s.unit_cohort[fin].astype(int))
    # small-sample hook (inference=): leverage-adjusted influence functions for cv3/cr2
    ss = small_sample(opts.inference, s.n_clusters, n)
    raw_psi = psi
    dense = not isinstance(psi, FactoredInfluence)
    psi_inf = (leverage_adjusted(np.nan_to_num(np.asarray(psi)) if dense else psi, s.cluster,
                                 unit_group,
                                 s.unit_w, gi, ss.kind) if ss.adjusts_leverage else psi)
    inf = with_bootstrap(
        InfluenceData(psi_inf, s.cluster, unit_group, s.unit_w, s.unit_codes,
                      share_influence=opts.share_influence, small_sample=ss),
        opts.bootstrap, multiplier=opts.multiplier, random_state=opts.random_state)
    info = dict(info or {})
    info.setdefault("bootstrap", opts.bootstrap or "none (analytic SEs)")
    info["inference"] = inf.small_sample.describe()
    info["cohort shares"] = "fixed" if not opts.share_influence else "estimated"
    parts = assemble_group_time(cells, att, inf, panel.periods, confidence=opts.confidence,
                                notes=notes, pretest=pretest, pretest_text=pretest_text,
                                info=info)
    # cluster diagnostics hook: few clusters per cohort, thin comparisons, level
    parts["warnings"] = list(dict.fromkeys([*parts["warnings"], *cluster_notes(
        panel, raw_psi, s.cluster, unit_group, s.unit_codes, cells,
        lambda: aggregate_cells(cells, att, inf, panel.periods, opts.confidence, "event").psi)]))
    return result_cls(base_method=method, method=method, n_obs=n_obs, n_units=n,
                      n_clusters=s.n_clusters, **parts, **extra)
