"""Residual autocorrelation tests for a fitted segmented regression."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["autocorrelation_tests", "residual_acf", "diagnostic_lags"]

#: Significance level at which residual autocorrelation triggers a warning.
ALPHA = 0.05


def diagnostic_lags(n: int, period: float | None) -> int:
    """Lags tested: a full seasonal cycle when there is room (12 for monthly
    data), never more than a quarter of the series."""
    target = int(round(period)) if period else 12
    return max(1, min(target, n // 4))


def autocorrelation_tests(
    residuals: np.ndarray,
    X: np.ndarray,
    lags: int,
    groups: np.ndarray | None = None,
) -> pd.DataFrame:
    """Ljung-Box and Breusch-Godfrey tests of no autocorrelation up to ``lags``,
    and the Durbin-Watson statistic, on the residuals of a fit (Pearson
    residuals of a GLM, standardised innovations of an ARMA fit).

    Breusch-Godfrey regresses the residuals on the design and their own
    ``lags`` lags (zero before the start); ``n R^2`` is chi-square with
    ``lags`` df. With several stacked series (``groups``), lags never cross
    from one series to the next and the Ljung-Box statistic sums the
    within-series autocorrelations.

    Returns
    -------
    DataFrame
        ``test, lags, statistic, df, p_value``.

    Examples
    --------
    >>> import numpy as np
    >>> e = np.random.default_rng(0).normal(size=120)
    >>> t = autocorrelation_tests(e, np.ones((120, 1)), 6)
    >>> t["test"].tolist()
    ['ljung_box', 'breusch_godfrey', 'durbin_watson']
    """
    from scipy.special import chdtrc

    e = np.asarray(residuals, dtype=float)
    g = np.zeros(len(e), dtype=np.intp) if groups is None else np.asarray(groups)
    e = e - np.bincount(g, weights=e)[g] / np.bincount(g)[g]
    n = len(e)
    lagged = np.zeros((n, lags))
    rho = np.zeros(lags)
    denom = float(e @ e)
    for k in range(1, lags + 1):  # a dozen lags
        same = np.r_[np.zeros(k, bool), g[k:] == g[:-k]]
        lagged[same, k - 1] = e[np.flatnonzero(same) - k]
        rho[k - 1] = float(e[same] @ lagged[same, k - 1]) / denom
    lb = float(n * (n + 2) * np.sum(rho**2 / (n - np.arange(1, lags + 1))))
    Z = np.column_stack([X, lagged])
    coef, *_ = np.linalg.lstsq(Z, e, rcond=None)
    fitted = Z @ coef
    r2 = 1.0 - float(np.sum((e - fitted) ** 2)) / denom if denom > 0 else 0.0
    bg = n * r2
    same1 = np.r_[False, g[1:] == g[:-1]]
    dw = float(np.sum((e[same1] - e[np.flatnonzero(same1) - 1]) ** 2) / denom)
    return pd.DataFrame(
        {
            "test": ["ljung_box", "breusch_godfrey", "durbin_watson"],
            "lags": [lags, lags, 1],
            "statistic": [lb, bg, dw],
            "df": [float(lags), float(lags), np.nan],
            "p_value": [float(chdtrc(lags, lb)), float(chdtrc(lags, bg)), np.nan],
        }
    )


def residual_acf(
    residuals: np.ndarray, nlags: int, groups: np.ndarray | None = None
) -> pd.DataFrame:
    """Autocorrelation of the residuals by lag with the +/- 1.96/sqrt(n) band.

    Examples
    --------
    >>> import numpy as np
    >>> residual_acf(np.random.default_rng(1).normal(size=50), 3)["lag"].tolist()
    [1, 2, 3]
    """
    e = np.asarray(residuals, dtype=float)
    g = np.zeros(len(e), dtype=np.intp) if groups is None else np.asarray(groups)
    e = e - np.bincount(g, weights=e)[g] / np.bincount(g)[g]
    denom = float(e @ e)
    acf = []
    for k in range(1, nlags + 1):
        same = np.r_[np.zeros(k, bool), g[k:] == g[:-k]]
        idx = np.flatnonzero(same)
        acf.append(float(e[idx] @ e[idx - k]) / denom)
    band = 1.96 / np.sqrt(len(e))
    return pd.DataFrame({"lag": np.arange(1, nlags + 1), "acf": acf, "band": band})
