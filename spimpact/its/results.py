"""Results of the segmented regressions: :class:`ITSResult`.

One class serves a single series (:class:`~spimpact.its.SegmentedRegression`)
and a treated series with comparisons (:class:`~spimpact.its.ControlledITS`):
the tidy coefficient table on the link scale, rate ratios, the dispersion,
residual autocorrelation tests, fitted and counterfactual trajectories with
intervals, the cumulative effect, and the ITS plot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import OptionError
from ..results import Estimate
from ._diagnostics import residual_acf
from ._predict import cumulative, predict
from ._result_base import ITSResultBase

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ITSResult", "FitData"]


@dataclass(frozen=True)
class FitData:
    """Everything a fitted segmented regression keeps for its views.

    ``rows`` has one row per observation: ``unit, time, observed, exposure,
    treated, post`` (``post``: on or after the interruption). ``X_cf`` is the
    design with the effect columns zeroed.
    """

    rows: pd.DataFrame
    X: np.ndarray
    X_cf: np.ndarray
    names: tuple[str, ...]
    params: np.ndarray
    vcov: np.ndarray
    offset: np.ndarray | None
    family: str
    crit: float
    residuals: np.ndarray
    groups: np.ndarray | None
    interruption: Any
    extra_labels: tuple[Any, ...]
    time_column: str

    @property
    def log_link(self) -> bool:
        return self.family != "gaussian"


class ITSResult(ITSResultBase):
    """A fitted segmented regression (single or controlled interrupted time series).

    ``estimates`` has one row per term (``level_change``, ``slope_change``,
    ``trend``, extra interruptions, seasonal terms, covariates...) on the link
    scale: log rate ratios for the count families. ``overall`` is the level
    change.

    Examples
    --------
    >>> from spimpact.its import SegmentedRegression, example_panel
    >>> res = SegmentedRegression("2019-07", family="quasipoisson").fit(example_panel())
    >>> res.rate_ratios().loc[lambda d: d.term == "level_change", "rate_ratio"].round(2).item()
    0.9
    """

    @property
    def interruption(self) -> Any:
        """The first period of the interruption, in the time column's labels."""
        return self._data.interruption

    @property
    def residuals(self) -> pd.Series:
        """Pearson residuals (standardised innovations with ARMA errors), by row."""
        return pd.Series(self._data.residuals, name="residual")

    # ------------------------------------------------------------------- views
    def _scale(self, per: float | None) -> np.ndarray:
        rows = self._data.rows
        if per is None:
            return np.ones(len(rows))
        if not self._data.log_link:
            raise OptionError("per= gives rates for count families; this fit is Gaussian.")
        if rows["exposure"].isna().all():
            raise OptionError(
                "per= needs the panel's exposure (e.g. population): build the "
                "Panel with exposure=... or leave per=None for counts."
            )
        if not (isinstance(per, (int, float)) and per > 0):
            raise OptionError(f"per must be a positive number (e.g. 1000), not {per!r}.")
        return float(per) / rows["exposure"].to_numpy(dtype=float)

    def counterfactual(self, per: float | None = None) -> pd.DataFrame:
        """Fitted and counterfactual means by period with pointwise intervals.

        The counterfactual is the fitted model with the interruption's level and
        slope change set to zero (extra interruptions, such as COVID-19, stay in).
        ``effect`` is fitted minus counterfactual, with a delta-method interval.

        Parameters
        ----------
        per : float, optional
            Report rates per ``per`` units of exposure (e.g. 1000 for rates per
            1,000 population) instead of counts.

        Returns
        -------
        DataFrame
            ``unit, <time>, post, treated, observed, fitted, fitted_lower,
            fitted_upper, counterfactual, counterfactual_lower,
            counterfactual_upper, effect, effect_lower, effect_upper``.
        """
        d = self._data
        p = predict(d.X, d.X_cf, d.params, d.vcov, d.offset, d.log_link, d.crit)
        s = self._scale(per)
        out = d.rows[["unit", "time", "post", "treated"]].rename(columns={"time": d.time_column})
        out["observed"] = d.rows["observed"].to_numpy() * s
        for name in (
            "fitted",
            "fitted_lower",
            "fitted_upper",
            "counterfactual",
            "counterfactual_lower",
            "counterfactual_upper",
            "effect",
            "effect_lower",
            "effect_upper",
        ):
            out[name] = getattr(p, name) * s
        return out.reset_index(drop=True)

    def cumulative_effect(self, start: Any = None, end: Any = None) -> Estimate:
        """Total of fitted minus counterfactual means over the treated series' periods
        from the interruption (or ``start``) to the end (or ``end``): e.g. the number
        of attendances averted, with a delta-method interval.

        ``info`` of the returned label holds the counterfactual total.
        """
        d = self._data
        rows = d.rows
        sel = rows["post"].to_numpy(bool) & (rows["treated"].to_numpy() == 1)
        times = rows["time"]
        if start is not None:
            sel &= (times >= _coerce(start, times)).to_numpy()
        if end is not None:
            sel &= (times <= _coerce(end, times)).to_numpy()
        if not sel.any():
            raise OptionError(
                f"no treated period on or after the interruption between "
                f"start={start!r} and end={end!r}."
            )
        est, se, total_cf = cumulative(
            d.X, d.X_cf, d.params, d.vcov, d.offset, d.log_link, np.flatnonzero(sel)
        )
        return Estimate.from_se(
            est,
            se,
            self.confidence,
            df=_implied_df(d.crit, self.confidence),
            label=f"cumulative effect over {int(sel.sum())} periods "
            f"(counterfactual total {total_cf:.4g})",
        )

    def residual_acf(self, nlags: int = 12) -> pd.DataFrame:
        """Autocorrelation of the residuals by lag, with the +/- 1.96/sqrt(n) band."""
        if not isinstance(nlags, (int, np.integer)) or nlags < 1:
            raise OptionError(f"nlags must be a positive integer, not {nlags!r}.")
        return residual_acf(self._data.residuals, int(nlags), self._data.groups)

    def plot(self, ax: Axes | None = None, *, per: float | None = None, **kwargs: Any) -> Axes:
        """Observed values, the fitted model, the counterfactual (with its interval)
        and the interruption lines.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        per : float, optional
            For count families with an exposure, plot rates per ``per`` (default:
            a power of ten that puts the mean rate between 1 and 1,000).
        """
        from ._plot import its_plot

        d = self._data
        per = self._default_per(per)
        return its_plot(
            self.counterfactual(per=per), d, per=per, ax=ax, title=kwargs.pop("title", self.method)
        )


def _coerce(value: Any, times: pd.Series) -> Any:
    if isinstance(times.dtype, pd.PeriodDtype):
        return pd.Period(value, freq=times.dtype.freq)
    if pd.api.types.is_datetime64_any_dtype(times.dtype):
        return pd.Timestamp(value)
    return value


def _implied_df(crit: float, confidence: float) -> float | None:
    """Degrees of freedom of the Student t whose two-sided critical value at
    ``confidence`` is ``crit`` (the level change's, from Satterthwaite df or
    fixed-b Newey-West); ``None`` when ``crit`` is the normal one. Derived
    quantities (the cumulative effect) then use the fit's reference distribution
    for intervals and p-values alike."""
    from scipy import optimize, special

    level = 0.5 + confidence / 2
    z = float(special.ndtri(level))
    if not np.isfinite(crit) or crit <= z * (1 + 1e-9):
        return None
    return float(optimize.brentq(lambda df: special.stdtrit(df, level) - crit, 1e-3, 1e9,
                                 xtol=1e-12, rtol=1e-12))
