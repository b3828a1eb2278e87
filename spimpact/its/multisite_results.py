"""Result of :class:`~spimpact.its.MultiSiteITS`: the pooled level and slope
change, site-level estimates, and fitted against counterfactual trajectories
aggregated over sites by event time or calendar period."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import OptionError
from ._result_base import ITSResultBase

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["MultiSiteResult", "MultiSiteData", "aggregate_trajectories"]


@dataclass(frozen=True)
class MultiSiteData:
    """What a fitted multi-site model keeps for its views.

    ``rows``: ``unit, time, event_time, exposure, treated, post, observed,
    fitted`` per observation; ``X`` the shared columns and ``Xt`` the same
    with the site terms projected out (the derivative of each row's linear
    predictor with respect to the shared coefficients once the site terms
    are profiled out); ``effects`` the columns of the pooled effects.
    """

    rows: pd.DataFrame
    X: np.ndarray
    Xt: np.ndarray
    effects: tuple[int, ...]
    names: tuple[str, ...]
    beta: np.ndarray
    vcov: np.ndarray
    family: str
    crit: float
    time_column: str
    extra_labels: tuple[Any, ...]

    @property
    def log_link(self) -> bool:
        return self.family != "gaussian"


def aggregate_trajectories(d: MultiSiteData, by: str, per: float | None) -> pd.DataFrame:
    """Observed, fitted and counterfactual totals of the interrupted sites by
    ``by`` (``"event_time"`` or ``"period"``) with delta-method intervals for the
    counterfactual and the effect (fitted minus counterfactual).

    Counts are summed (rates per ``per`` of exposure when given); Gaussian
    outcomes are averaged.
    """
    rows = d.rows
    sel = rows["treated"].to_numpy() == 1
    key = rows["event_time"] if by == "event_time" else rows["time"]
    key = key[sel]
    E = np.zeros(d.X.shape[1])
    E[list(d.effects)] = 1.0
    eff_lin = d.X[sel] @ (E * d.beta)
    fitted = rows["fitted"].to_numpy()[sel]
    # gradients of each row's fitted and counterfactual mean with respect to beta
    if d.log_link:
        cf = fitted * np.exp(-eff_lin)
        g_fit = fitted[:, None] * d.Xt[sel]
        g_cf = cf[:, None] * (d.Xt[sel] - d.X[sel] * E)
    else:
        cf = fitted - eff_lin
        g_fit, g_cf = d.Xt[sel], d.Xt[sel] - d.X[sel] * E
    codes, labels = pd.factorize(key, sort=True)
    n = len(labels)

    def total(v: np.ndarray) -> np.ndarray:
        out = np.zeros((n, v.shape[1]))
        np.add.at(out, codes, v)
        return out

    count = np.bincount(codes, minlength=n).astype(float)
    expo = rows["exposure"].to_numpy(dtype=float)[sel]
    if per is not None:
        scale = per / np.bincount(codes, weights=expo, minlength=n)
    elif not d.log_link:
        scale = 1.0 / count
    else:
        scale = np.ones(n)
    obs = np.bincount(codes, weights=rows["observed"].to_numpy()[sel], minlength=n)
    fit_t = np.bincount(codes, weights=fitted, minlength=n)
    cf_t = np.bincount(codes, weights=cf, minlength=n)
    G_cf, G_eff = total(g_cf), total(g_fit - g_cf)
    se_cf = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", G_cf, d.vcov, G_cf), 0))
    se_eff = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", G_eff, d.vcov, G_eff), 0))
    out = pd.DataFrame({by: labels, "n_sites": count.astype(int)})
    out["observed"], out["fitted"], out["counterfactual"] = obs * scale, fit_t * scale, cf_t * scale
    out["counterfactual_lower"] = (cf_t - d.crit * se_cf) * scale
    out["counterfactual_upper"] = (cf_t + d.crit * se_cf) * scale
    eff = fit_t - cf_t
    out["effect"] = eff * scale
    out["effect_lower"], out["effect_upper"] = (
        (eff - d.crit * se_eff) * scale,
        (eff + d.crit * se_eff) * scale,
    )
    return out


class MultiSiteResult(ITSResultBase):
    """A fitted :class:`~spimpact.its.MultiSiteITS`.

    ``estimates`` holds the pooled terms on the link scale (log rate ratios
    for counts) with cluster-robust intervals; ``overall`` is the pooled level
    change.

    Examples
    --------
    >>> from spimpact.its import MultiSiteITS, example_sites
    >>> res = MultiSiteITS(family="quasipoisson", site_estimates=True).fit(example_sites())
    >>> res.site_estimates.columns.tolist()[:3]
    ['unit', 'interruption', 'term']
    """

    def __init__(
        self,
        estimates: pd.DataFrame,
        *,
        data: MultiSiteData,
        diagnostics: pd.DataFrame,
        dispersion: float,
        site_table: pd.DataFrame | None,
        **kwargs: Any,
    ) -> None:
        self._site_table = site_table
        super().__init__(estimates, data=data, diagnostics=diagnostics, dispersion=dispersion,
                         **kwargs)

    @property
    def site_estimates(self) -> pd.DataFrame:
        """Each interrupted site's own level (and slope) change: ``unit,
        interruption, term, n_pre, n_post, estimate, std_error, ci_lower,
        ci_upper, p_value``.

        From the model in which every interrupted site has its own level and
        slope change while the trend, seasonality and extra interruptions are
        shared. The intervals are model-based (scaled by the Pearson dispersion
        for quasi-Poisson and Gaussian fits), so, unlike the pooled
        estimate's, they assume no autocorrelation within a site.
        """
        if self._site_table is None:
            raise OptionError(
                "site-level estimates were not requested: fit with "
                "MultiSiteITS(..., site_estimates=True)."
            )
        return self._site_table.copy()

    def counterfactual(self, by: str = "event_time", per: float | None = None) -> pd.DataFrame:
        """Observed, fitted and counterfactual trajectories of the interrupted sites.

        Parameters
        ----------
        by : {"event_time", "period"}
            Aggregate by periods since each site's interruption, or by calendar period.
        per : float, optional
            Rates per ``per`` of exposure (count families with an exposure).

        Returns
        -------
        DataFrame
            ``<by>, n_sites, observed, fitted, counterfactual,
            counterfactual_lower, counterfactual_upper, effect, effect_lower,
            effect_upper``: totals (counts), rates (``per``) or means (Gaussian).
            Intervals are delta-method, with the site effects profiled out.
        """
        if by not in ("event_time", "period"):
            raise OptionError(f"by must be 'event_time' or 'period', not {by!r}.")
        if per is not None:
            if not self._data.log_link or self._data.rows["exposure"].isna().all():
                raise OptionError("per= needs a count family and the panel's exposure.")
            if not (isinstance(per, (int, float)) and per > 0):
                raise OptionError(f"per must be a positive number (e.g. 1000), not {per!r}.")
        return aggregate_trajectories(self._data, by, per)

    def plot(
        self,
        ax: Axes | None = None,
        *,
        by: str = "event_time",
        per: float | None = None,
        **kwargs: Any,
    ) -> Axes:
        """Observed, fitted and counterfactual trajectories of the interrupted sites
        (see :meth:`counterfactual`), with the interruption at event time 0."""
        from ._plot import multisite_plot

        d = self._data
        per = self._default_per(per)
        return multisite_plot(
            self.counterfactual(by=by, per=per),
            by,
            d,
            per=per,
            ax=ax,
            title=kwargs.pop("title", self.method),
        )
