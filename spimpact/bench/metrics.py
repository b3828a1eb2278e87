"""Performance measures of an estimator over Monte Carlo replications.

Pure functions on arrays, one value per call. Definitions and Monte Carlo
standard errors (MCSE) follow Morris, White & Crowther (2019), "Using
simulation studies to evaluate statistical methods", *Statistics in Medicine*
38: 2074-2102, Table 6. The truth may differ between replications (a
simulation's realised ATT depends on which units were drawn into which
cohort); each replication's estimate is then compared with its own truth.

With ``n`` replications, estimates ``theta_i``, truths ``t_i`` and errors
``e_i = theta_i - t_i``:

========================  ==============================  ====================================
measure                   estimate                        Monte Carlo SE
========================  ==============================  ====================================
bias                      ``mean(e)``                     ``sd(e) / sqrt(n)``
empirical SE              ``sd(theta)``                   ``emp_se / sqrt(2 (n - 1))``
RMSE                      ``sqrt(mean(e^2))``             delta method on the MSE's MCSE
model SE                  ``sqrt(mean(se_i^2))``          ``sd(se^2) / sqrt(4 n mean(se^2))``
coverage                  share of intervals with ``t_i`` ``sqrt(c (1 - c) / n)``
interval width            ``mean(upper - lower)``         ``sd(width) / sqrt(n)``
rejection rate            share of intervals without 0    ``sqrt(r (1 - r) / n)``
========================  ==============================  ====================================

The model SE is Morris et al.'s "average ModSE": the root of the mean model
variance, so that it is comparable with the empirical SE (the root of the
variance of the estimates); the table's ``mean_se`` column holds it.

``sd`` uses ``n - 1`` degrees of freedom. Every function ignores nothing:
callers pass only the replications that produced an estimate (the engine
counts the others as failures).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "bias",
    "rmse",
    "emp_se",
    "mean_se",
    "coverage",
    "ci_width",
    "rejection_rate",
    "mcse_bias",
    "mcse_rmse",
    "mcse_emp_se",
    "mcse_mean_se",
    "mcse_proportion",
    "mcse_mean",
    "summarise",
    "METRIC_COLUMNS",
]

#: Columns of a benchmark table, in order.
METRIC_COLUMNS = (
    "estimator", "target", "truth", "mean_estimate", "bias", "rmse", "emp_se", "mean_se",
    "coverage", "ci_width", "rejection_rate", "mcse_bias", "mcse_coverage", "mcse_rmse",
    "mcse_emp_se", "mcse_mean_se", "mcse_rejection", "reps", "n_failed", "seconds", "confidence",
)


def _arr(x: object) -> np.ndarray:
    return np.asarray(x, dtype=float).reshape(-1)


def _sd(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1)) if len(x) > 1 else np.nan


def bias(estimate: object, truth: object) -> float:
    """Mean error ``mean(estimate - truth)``.

    Examples
    --------
    >>> bias([1.0, 3.0], 1.5)
    0.5
    """
    e = _arr(estimate) - _arr(truth)
    return float(e.mean()) if len(e) else np.nan


def rmse(estimate: object, truth: object) -> float:
    """Root mean squared error ``sqrt(mean((estimate - truth)^2))``.

    Examples
    --------
    >>> rmse([1.0, 3.0], 2.0)
    1.0
    """
    e = _arr(estimate) - _arr(truth)
    return float(np.sqrt(np.mean(e**2))) if len(e) else np.nan


def emp_se(estimate: object) -> float:
    """Empirical standard error: the SD of the estimates over replications.

    Examples
    --------
    >>> round(emp_se([1.0, 2.0, 3.0]), 6)
    1.0
    """
    return _sd(_arr(estimate))


def mean_se(std_error: object) -> float:
    """Model-based SE: the root of the mean model variance, ``sqrt(mean(se^2))``
    (Morris et al.'s average ModSE; compare with :func:`emp_se`).

    Examples
    --------
    >>> round(mean_se([0.5, 1.5]), 6)
    1.118034
    """
    s = _arr(std_error)
    return float(np.sqrt(np.mean(s**2))) if len(s) else np.nan


def coverage(ci_lower: object, ci_upper: object, truth: object) -> float:
    """Share of intervals ``[ci_lower, ci_upper]`` that contain the truth.

    Examples
    --------
    >>> coverage([0.0, 2.0], [1.0, 3.0], 0.5)
    0.5
    """
    lo, hi, t = _arr(ci_lower), _arr(ci_upper), _arr(truth)
    return float(np.mean((lo <= t) & (t <= hi))) if len(lo) else np.nan


def ci_width(ci_lower: object, ci_upper: object) -> float:
    """Mean interval width.

    Examples
    --------
    >>> ci_width([0.0, 1.0], [1.0, 3.0])
    1.5
    """
    w = _arr(ci_upper) - _arr(ci_lower)
    return float(w.mean()) if len(w) else np.nan


def rejection_rate(ci_lower: object, ci_upper: object, null: float = 0.0) -> float:
    """Share of intervals that exclude ``null``: the rejection rate of the test of
    "no effect" at level ``1 - confidence`` (for Wald intervals, ``p < alpha``).
    Under a true null it is the test's size; otherwise its power.

    Examples
    --------
    >>> rejection_rate([0.1, -1.0], [0.5, 1.0])
    0.5
    """
    lo, hi = _arr(ci_lower), _arr(ci_upper)
    return float(np.mean((lo > null) | (hi < null))) if len(lo) else np.nan


def mcse_bias(estimate: object, truth: object) -> float:
    """Monte Carlo SE of :func:`bias`: ``sd(estimate - truth) / sqrt(n)``.

    Examples
    --------
    >>> round(mcse_bias([1.0, 2.0, 3.0, 4.0], 0.0), 4)
    0.6455
    """
    e = _arr(estimate) - _arr(truth)
    return float(_sd(e) / np.sqrt(len(e))) if len(e) > 1 else np.nan


def mcse_rmse(estimate: object, truth: object) -> float:
    """Monte Carlo SE of :func:`rmse` (delta method on the MSE's MCSE,
    ``sqrt(sum((e^2 - MSE)^2) / (n (n - 1)))``).

    Examples
    --------
    >>> round(mcse_rmse([1.0, -1.0, 2.0, -2.0], 0.0), 4)
    0.2739
    """
    e = _arr(estimate) - _arr(truth)
    n = len(e)
    if n < 2:
        return np.nan
    sq = e**2
    mse = sq.mean()
    se_mse = np.sqrt(np.sum((sq - mse) ** 2) / (n * (n - 1)))
    return float(se_mse / (2 * np.sqrt(mse))) if mse > 0 else np.nan


def mcse_emp_se(estimate: object) -> float:
    """Monte Carlo SE of :func:`emp_se`: ``emp_se / sqrt(2 (n - 1))``.

    Examples
    --------
    >>> round(mcse_emp_se([1.0, 2.0, 3.0]), 4)
    0.5
    """
    x = _arr(estimate)
    return float(_sd(x) / np.sqrt(2 * (len(x) - 1))) if len(x) > 1 else np.nan


def mcse_mean_se(std_error: object) -> float:
    """Monte Carlo SE of :func:`mean_se` (delta method on the mean model variance,
    ``sqrt(var(se^2) / (4 n mean(se^2)))``).

    Examples
    --------
    >>> round(mcse_mean_se([1.0, 2.0, 3.0]), 4)
    0.5401
    """
    v = _arr(std_error) ** 2
    n = len(v)
    if n < 2 or not v.mean() > 0:
        return np.nan
    return float(np.sqrt(np.var(v, ddof=1) / (4 * n * v.mean())))


def mcse_proportion(p: float, n: int) -> float:
    """Monte Carlo SE of a proportion (coverage, rejection rate) over ``n`` replications.

    Examples
    --------
    >>> round(mcse_proportion(0.95, 200), 4)
    0.0154
    """
    return float(np.sqrt(p * (1 - p) / n)) if n > 0 and np.isfinite(p) else np.nan


def mcse_mean(x: object) -> float:
    """Monte Carlo SE of a mean over replications: ``sd(x) / sqrt(n)``.

    Examples
    --------
    >>> round(mcse_mean([1.0, 3.0]), 4)
    1.0
    """
    a = _arr(x)
    return float(_sd(a) / np.sqrt(len(a))) if len(a) > 1 else np.nan


def _one(g: pd.DataFrame) -> dict[str, float]:
    """Measures for one estimator and target; ``g`` holds its replications.

    Point measures use the replications with an estimate; interval measures
    (coverage, width, rejection) those whose interval is finite too.
    """
    ok = g["error"].isna().to_numpy() & np.isfinite(g["estimate"].to_numpy(dtype=float))
    d = g.loc[ok]
    est, tru = d["estimate"].to_numpy(float), d["truth"].to_numpy(float)
    lo, hi = d["ci_lower"].to_numpy(float), d["ci_upper"].to_numpy(float)
    fin = np.isfinite(lo) & np.isfinite(hi)
    lo, hi, tru_i = lo[fin], hi[fin], tru[fin]
    se = d["std_error"].to_numpy(float)
    se = se[np.isfinite(se)]
    n, n_i = len(d), int(fin.sum())
    cov = coverage(lo, hi, tru_i) if n_i else np.nan
    rej = rejection_rate(lo, hi) if n_i else np.nan
    truth_all = g["truth"].to_numpy(float)
    return {
        # the mean truth of the replications measured, so that bias = mean_estimate - truth
        "truth": float(tru.mean()) if n else (float(np.mean(truth_all)) if len(g) else np.nan),
        "mean_estimate": float(est.mean()) if n else np.nan,
        "bias": bias(est, tru), "rmse": rmse(est, tru), "emp_se": emp_se(est),
        "mean_se": mean_se(se),
        "coverage": cov, "ci_width": ci_width(lo, hi), "rejection_rate": rej,
        "mcse_bias": mcse_bias(est, tru), "mcse_coverage": mcse_proportion(cov, n_i),
        "mcse_rmse": mcse_rmse(est, tru), "mcse_emp_se": mcse_emp_se(est),
        "mcse_mean_se": mcse_mean_se(se), "mcse_rejection": mcse_proportion(rej, n_i),
        "reps": n, "n_failed": int(len(g) - n),
        "seconds": float(g["seconds"].to_numpy(float).mean()) if len(g) else np.nan,
        "confidence": float(d["confidence"].to_numpy(float).mean()) if n else np.nan,
    }


def summarise(
    records: pd.DataFrame, estimators: list[str] | None = None, targets: list[str] | None = None
) -> pd.DataFrame:
    """The benchmark table from per-replication records.

    Parameters
    ----------
    records : DataFrame
        One row per replication, estimator and target: ``rep, estimator,
        target, truth, estimate, std_error, ci_lower, ci_upper, seconds,
        error`` (``error`` is missing when the fit succeeded).
    estimators, targets : list of str, optional
        Row order; defaults to order of appearance.

    Returns
    -------
    DataFrame
        Columns :data:`METRIC_COLUMNS`, one row per estimator and target.
        ``reps`` counts the replications with an estimate, ``n_failed`` the
        others; ``truth`` is the mean truth of the replications with an
        estimate (so ``bias == mean_estimate - truth``); interval measures
        use the replications whose interval is finite; ``seconds`` is the
        mean wall time of one fit; ``confidence`` the nominal level of the
        intervals.

    Examples
    --------
    >>> import pandas as pd
    >>> rec = pd.DataFrame({"rep": [0, 1], "estimator": "a", "target": "overall",
    ...                     "truth": 1.0, "estimate": [0.9, 1.1], "std_error": 0.1,
    ...                     "ci_lower": [0.7, 0.9], "ci_upper": [1.1, 1.3],
    ...                     "confidence": 0.95, "seconds": 0.01, "error": None})
    >>> summarise(rec)[["bias", "coverage", "reps"]].round(6).values.tolist()
    [[0.0, 1.0, 2.0]]
    """
    records = records.sort_values(["estimator", "target", "rep"], kind="stable")
    est_order = estimators or list(dict.fromkeys(records["estimator"]))
    tgt_order = targets or list(dict.fromkeys(records["target"]))
    rows = []
    for e in est_order:  # a handful of estimators and targets
        for t in tgt_order:
            g = records[(records["estimator"] == e) & (records["target"] == t)]
            if len(g):
                rows.append({"estimator": e, "target": t, **_one(g)})
    out = pd.DataFrame(rows, columns=list(METRIC_COLUMNS))
    out["reps"] = out["reps"].astype("int64")
    out["n_failed"] = out["n_failed"].astype("int64")
    return out
