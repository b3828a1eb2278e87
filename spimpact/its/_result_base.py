"""What every ITS result shares: :class:`ITSResultBase` (family, dispersion,
residual diagnostics, covariance, rate ratios, the default rate scale of plots)
and the helpers the estimators use to lay out their tables (term order,
family labels).

:class:`~spimpact.its.ITSResult` (single and controlled series) and
:class:`~spimpact.its.MultiSiteResult` derive from it; each adds only its
own views (trajectories, site estimates, plots).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..errors import OptionError
from ..results import Estimate, Result

__all__ = ["ITSResultBase", "order_terms", "FAMILY_LABEL"]

#: Display names of the outcome families, for method strings.
FAMILY_LABEL = {
    "gaussian": "Gaussian",
    "poisson": "Poisson",
    "quasipoisson": "quasi-Poisson",
    "negbin": "negative binomial",
}

#: Terms listed first in every ITS table, in this order; the others keep theirs.
LEADING_TERMS = ("level_change", "slope_change", "trend")


def order_terms(tab: pd.DataFrame) -> pd.DataFrame:
    """``tab`` with the level change, slope change and trend first (stable otherwise).

    Examples
    --------
    >>> t = pd.DataFrame({"term": ["intercept", "trend", "level_change"]})
    >>> order_terms(t)["term"].tolist()
    ['level_change', 'trend', 'intercept']
    """
    order = {n: i for i, n in enumerate(LEADING_TERMS)}
    key = tab["term"].map(lambda t: order.get(t, len(LEADING_TERMS))).to_numpy()
    return tab.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)


class _FitData(Protocol):
    """The fields of a result's stored fit that the base reads."""

    rows: pd.DataFrame
    names: tuple[str, ...]
    vcov: np.ndarray
    family: str

    @property
    def log_link(self) -> bool: ...


class ITSResultBase(Result):
    """Fields and views shared by every interrupted-time-series result.

    ``estimates`` holds the terms on the link scale (log rate ratios for the
    count families); :meth:`rate_ratios` exponentiates them.
    """

    def __init__(
        self,
        estimates: pd.DataFrame,
        *,
        data: Any,
        diagnostics: pd.DataFrame,
        dispersion: float,
        **kwargs: Any,
    ) -> None:
        self._data = data
        self._diagnostics = diagnostics
        self._dispersion = float(dispersion)
        super().__init__(estimates, **kwargs)

    @property
    def family(self) -> str:
        """The outcome family."""
        return str(self._data.family)

    @property
    def dispersion(self) -> float:
        """Pearson chi-square over residual df for quasi-Poisson (the residual
        variance for Gaussian, the innovation variance with ARMA errors), 1 for
        Poisson and the negative binomial (whose ``alpha`` is in :attr:`info`).
        Robust (Newey-West, cluster) SEs do not use it."""
        return self._dispersion

    @property
    def diagnostics(self) -> pd.DataFrame:
        """Residual autocorrelation tests (Ljung-Box, Breusch-Godfrey, Durbin-Watson);
        with several series, lags never cross from one series to the next."""
        return self._diagnostics.copy()

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the coefficients (link scale)."""
        names = list(self._data.names)
        return pd.DataFrame(self._data.vcov, index=names, columns=names)

    def rate_ratios(self) -> pd.DataFrame:
        """The estimates exponentiated: rate ratios with their intervals (count families).

        Each row is :meth:`spimpact.results.Estimate.exp` of the estimate: the
        interval endpoints exponentiated, ``std_error`` the delta-method SE of the
        ratio, the p-value unchanged.
        """
        if not self._data.log_link:
            raise OptionError(
                "rate_ratios() needs a count family (log link); this fit is Gaussian. If the "
                "outcome is a log rate, exponentiate .estimates yourself."
            )
        t = self.estimates
        ratios = [Estimate.from_row(row, self.confidence).exp() for _, row in t.iterrows()]
        out = t[self.id_columns].copy()
        out["rate_ratio"] = [e.estimate for e in ratios]
        for col in ("std_error", "ci_lower", "ci_upper", "p_value"):
            out[col] = [getattr(e, col) for e in ratios]
        return out

    def _default_per(self, per: float | None) -> float | None:
        """``per`` if given; for counts with an exposure, the power of ten that puts
        the mean rate between 1 and 1,000 (the plots' default)."""
        d = self._data
        if per is None and d.log_link and not d.rows["exposure"].isna().all():
            rate = d.rows["observed"].sum() / d.rows["exposure"].sum()
            per = 10.0 ** max(0, int(np.ceil(-np.log10(max(rate, 1e-300)))))
        return per
