"""Result objects of the matching and weighting estimators.

Both follow the :class:`spimpact.results.Result` protocol (a tidy estimates
table, the headline :class:`~spimpact.results.Estimate`, warnings kept on the
result) and add the views of this family: the balance table, the love plot and
the propensity-score overlap plot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..results import Result
from .balance import SMD_THRESHOLD, love_plot, overlap_plot

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..panel import Panel

__all__ = ["AdjustmentResult", "MatchingResult", "WeightingResult"]


class AdjustmentResult(Result):
    """Shared views of a result that adjusts a comparison by propensity scores.

    Subclasses set ``_balance`` (DataFrame), ``_ps`` (Series of scores),
    ``_d`` (0/1 array) and ``_w_after`` (adjustment weights) before calling
    ``Result.__init__``.
    """

    _balance: pd.DataFrame
    _ps: pd.Series
    _d: np.ndarray
    _w_after: np.ndarray
    _after_label = "controls, weighted"

    @property
    def balance(self) -> pd.DataFrame:
        """One row per covariate (each level of a categorical one) and the
        propensity score: means, ``smd_before, smd_after, var_ratio_before,
        var_ratio_after, ecdf_max_before, ecdf_max_after`` (see
        :mod:`spimpact.matching.balance`)."""
        return self._balance.copy()

    @property
    def propensity_score(self) -> pd.Series:
        """The estimated propensity score of every unit (index: the rows of the
        panel's data)."""
        return self._ps.copy()

    def plot_balance(
        self,
        ax: Axes | None = None,
        *,
        stat: str = "smd",
        threshold: float | None = SMD_THRESHOLD,
        absolute: bool = True,
    ) -> Axes:
        """Love plot: each covariate's balance before and after adjustment, with
        the conventional 0.1 threshold on the absolute standardised difference.

        Parameters
        ----------
        ax : Axes, optional
        stat : {"smd", "var_ratio", "ecdf"}
        threshold : float, optional
        absolute : bool
        """
        return love_plot(self._balance, ax, stat=stat, threshold=threshold, absolute=absolute)

    def plot_overlap(self, ax: Axes | None = None, *, bins: int = 40) -> Axes:
        """Propensity-score distributions of treated and control units, before
        and after adjustment (mirrored histograms)."""
        return overlap_plot(self._ps.to_numpy(), self._d, self._w_after, ax, bins=bins,
                            after_label=self._after_label)


class MatchingResult(AdjustmentResult):
    """Result of :class:`~spimpact.matching.PropensityScoreMatching`.

    Attributes
    ----------
    overall : Estimate
        The effect on the outcome for the estimand (among matched units).
    matched : DataFrame
        The matched rows: the panel's columns plus ``match_id``, ``weight``,
        ``propensity_score`` and ``treated``. Without replacement each unit
        appears once and ``weight`` is its matching weight; with replacement a
        control appears once per matched set it belongs to, with its share of
        that set (its rows add up to its matching weight).
    matched_panel : Panel
        The matched cohort, one row per matched unit (weights: the matching
        weights times any sampling weights; clustered on ``match_id`` when
        matching without replacement and no cluster was set), for follow-on
        analysis.
    balance : DataFrame
        The balance table (see :attr:`AdjustmentResult.balance`).
    weights : Series
        Matching weight of every unit (0 when not matched).

    Examples
    --------
    >>> import numpy as np, pandas as pd, warnings
    >>> from spimpact import Panel
    >>> from spimpact.matching import PropensityScoreMatching
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=400)
    >>> d = (rng.random(400) < 1 / (1 + np.exp(1 - x))).astype(int)
    >>> df = pd.DataFrame({"x": x, "d": d, "y": d + x + rng.normal(size=400)})
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     res = PropensityScoreMatching().fit(Panel(df, outcome="y", treatment="d",
    ...                                               covariates=["x"]))
    >>> res.balance["covariate"].tolist()
    ['propensity_score', 'x']
    >>> sorted({"match_id", "weight"} & set(res.matched.columns))
    ['match_id', 'weight']
    """

    _after_label = "controls, matched"

    def __init__(
        self,
        estimates: pd.DataFrame,
        *,
        balance: pd.DataFrame,
        propensity: pd.Series,
        treated: np.ndarray,
        weights: pd.Series,
        matched: pd.DataFrame,
        matched_panel: Panel,
        **kwargs: Any,
    ) -> None:
        self._balance = balance
        self._ps = propensity
        self._d = np.asarray(treated)
        self._weights = weights
        self._w_after = weights.to_numpy()
        self._matched = matched
        self._matched_panel = matched_panel
        super().__init__(estimates, **kwargs)

    @property
    def matched(self) -> pd.DataFrame:
        """The matched rows with ``match_id`` and ``weight`` (a copy)."""
        return self._matched.copy()

    @property
    def matched_panel(self) -> Panel:
        """The matched cohort as a :class:`~spimpact.Panel`."""
        return self._matched_panel

    @property
    def weights(self) -> pd.Series:
        """Matching weight of every unit (0 when unmatched)."""
        return self._weights.copy()


class WeightingResult(AdjustmentResult):
    """Result of :class:`~spimpact.matching.InverseProbabilityWeighting` and
    :class:`~spimpact.matching.AugmentedIPW`.

    Attributes
    ----------
    overall : Estimate
        The effect for the estimand, with a standard error that accounts for
        the estimated propensity score (and outcome models) by M-estimation.
    estimates : DataFrame
        The effect and the two weighted potential-outcome means.
    weights : Series
        The inverse-probability weights (stabilised when asked; 0 for trimmed
        units).
    weight_summary : DataFrame
        Per group: units, sum, min, max and mean of the weights, effective
        sample size and its share of the group.
    influence : ndarray
        Influence function of the effect, one value per unit (for pooling
        with other estimators or a bootstrap).

    Examples
    --------
    >>> import numpy as np, pandas as pd, warnings
    >>> from spimpact import Panel
    >>> from spimpact.matching import InverseProbabilityWeighting
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=500)
    >>> d = (rng.random(500) < 1 / (1 + np.exp(-x))).astype(int)
    >>> df = pd.DataFrame({"x": x, "d": d, "y": d + x + rng.normal(size=500)})
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     res = InverseProbabilityWeighting().fit(Panel(df, outcome="y", treatment="d",
    ...                                                   covariates=["x"]))
    >>> res.weight_summary["group"].tolist(), res.influence.shape
    (['treated', 'control'], (500,))
    """

    def __init__(
        self,
        estimates: pd.DataFrame,
        *,
        balance: pd.DataFrame,
        propensity: pd.Series,
        treated: np.ndarray,
        weights: pd.Series,
        weight_summary: pd.DataFrame,
        influence: np.ndarray,
        **kwargs: Any,
    ) -> None:
        self._balance = balance
        self._ps = propensity
        self._d = np.asarray(treated)
        self._weights = weights
        self._w_after = weights.to_numpy()
        self._weight_summary = weight_summary
        self._influence = np.asarray(influence)
        self._influence.flags.writeable = False
        super().__init__(estimates, **kwargs)

    @property
    def weights(self) -> pd.Series:
        """The weights of every unit."""
        return self._weights.copy()

    @property
    def weight_summary(self) -> pd.DataFrame:
        """Weight diagnostics by group, with effective sample sizes."""
        return self._weight_summary.copy()

    @property
    def influence(self) -> np.ndarray:
        """Influence function of the effect (read-only), scaled as in
        :mod:`spimpact.inference`."""
        return self._influence
