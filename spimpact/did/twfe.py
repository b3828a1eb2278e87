"""Two-way fixed-effects regressions (static and event study).

The conventional specifications, kept as the benchmark the modern estimators
improve on: with staggered adoption and effects that vary over time or across
cohorts they are weighted averages with possibly negative weights (see
:func:`spimpact.did.bacon_decomposition`).

* static: ``Y_it = a_i + l_t + beta D_it + X_it' g + e_it``;
* event study: ``D_it`` replaced by event-time dummies ``1{t - G_i = e}`` for
  every ``e`` but the reference ``-1``, distant ones optionally binned.

Standard errors are cluster-robust (the panel's cluster, else the unit). The
default ``inference="cv3"`` is the exact cluster jackknife of the regression
(leave each cluster out, refit: ``(G-1)/G sum_g (b_(-g) - b)^2``, computed in
closed form) with t critical values on ``G-1`` degrees of freedom; ``"cr2"``
is Bell & McCaffrey's CR2 (the fixed-effects regression's own cluster
leverage); ``"cluster_t"`` the ``G/(G-1)`` factor with ``t(G-1)`` (Stata's and
fixest's defaults); ``"analytic"`` no factor, normal critical values. See
:mod:`spimpact.did._fe_leverage`.

A panel whose weights are constant within units is fitted by cohort blocks:
every regressor but the covariates is a function of the unit's cohort and the
period. A balanced panel without covariates needs cohort x period sums for
the coefficients and, for the variances, one ``T x T`` eigen-decomposition per
cohort (units as clusters) or one ``k x k`` per cluster of several units
(:func:`spimpact.did._fe_leverage.fe_block_vcov`). Time-varying covariates or
units missing periods add sums of the units' own terms and, with units as
clusters, one ``T x T`` solve (cv3) or eigen-decomposition (cr2) per unit
(:func:`spimpact.did._fe_leverage.fe_block_units`). Both are linear in the
rows. Other panels (weights varying within units, or a period whose dummy the
unit effects absorb) go through linearmodels' ``PanelOLS`` and
:func:`spimpact.did._fe_leverage.fe_leverage_vcov`; the paths give the same
numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._estimator import Estimator, check_confidence
from ..errors import EstimationError, OptionError
from ..inference_cluster import DEFAULT_INFERENCE, SmallSample, check_inference, small_sample
from ..panel import Panel
from ..results import Estimate, Result, estimate_table
from ._fe import FESample, fe_sample
from ._fe_blocks import WidePanel, block_ols, wide_panel
from ._fe_leverage import fe_block_units, fe_block_vcov, fe_leverage_vcov
from .results import AggregateResult

__all__ = ["TWFE", "twfe_fit"]

#: The omitted event time of the event-study specification.
REFERENCE_EVENT = -1


def _collinear(what: str, detail: str) -> EstimationError:
    return EstimationError(
        f"{what}: the regressors are collinear with the unit and period effects "
        f"({detail}). With no never-treated units a fully dynamic TWFE is not identified: "
        f"bin distant event times with window=(lo, hi) or add never-treated units."
    )


def twfe_fit(s: FESample, exog: pd.DataFrame, what: str) -> Any:
    """Fit ``y ~ exog + unit + period effects`` with linearmodels' ``PanelOLS``
    (cluster-robust covariance, no small-sample factors); returns its results."""
    from linearmodels import PanelOLS
    from linearmodels.panel.utility import AbsorbingEffectError

    index = pd.MultiIndex.from_arrays([s.unit, s.time], names=["unit", "period"])
    exog = exog.set_axis(index)
    X = pd.DataFrame(s.X, index=index, columns=s.x_names)
    exog = pd.concat([exog, X], axis=1)
    weights = None if np.all(s.w == s.w[0]) else pd.Series(s.w, index=index)
    clusters = pd.Series(s.row_cluster, index=index, name="cluster")
    try:
        model = PanelOLS(pd.Series(s.y, index=index, name="y"), exog, weights=weights,
                         entity_effects=True, time_effects=True)
        return model.fit(cov_type="clustered", clusters=clusters, debiased=False,
                         auto_df=False, count_effects=False)
    except (AbsorbingEffectError, ValueError) as err:
        if not isinstance(err, AbsorbingEffectError) and "rank" not in str(err):
            raise
        raise _collinear(what, str(err).strip().splitlines()[0]) from err


@dataclass(frozen=True)
class _Blocks:
    """A panel by cohort blocks: the units of a cohort share their regressors
    but the covariates (``cohort[b]`` the cohort position of block ``b``,
    ``inf`` never treated), so a balanced panel without covariates needs cohort
    x period sums (:mod:`spimpact.did._fe_blocks`), and covariates or missing
    periods sums of the units' own terms too (:func:`fe_block_units`)."""

    cohort: np.ndarray
    wp: WidePanel

    @classmethod
    def of(cls, s: FESample) -> _Blocks | None:
        cohort, unit_block = np.unique(s.unit_cohort, return_inverse=True)
        wp = wide_panel(s, unit_block, len(cohort), covariates=True, unbalanced=True)
        return None if wp is None else cls(cohort, wp)

    @property
    def balanced(self) -> bool:
        return self.wp.mask is None

    def grid(self, T: int) -> tuple[np.ndarray, np.ndarray]:
        """Period and cohort of every (block, period): ``(n_blocks, T)`` each."""
        t = np.broadcast_to(np.arange(T), (len(self.cohort), T))
        return t, np.broadcast_to(self.cohort[:, None], t.shape)

    def fit(self, s: FESample, X: np.ndarray, names: list[str], ss: SmallSample,
            what: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Coefficients of the block regressors ``X`` (``(n_blocks, T, p)``) and
        their variance before ``ss.se_factor`` (as :func:`_vcov`); ``None`` when
        an unbalanced panel's regressors are not all identified (the row-level
        fit then drops what the unit effects absorb, or says what is wrong)."""
        nb, T, p = X.shape
        D = np.zeros((nb, T, T - 1))
        D[:, np.arange(1, T), np.arange(T - 1)] = 1.0
        R = np.concatenate([X, D], axis=2)
        all_names = [*names, *(f"period {t}" for t in range(1, T)), *s.x_names]
        cl = None if s.cluster is None else s.cluster[self.wp.order]
        kind = ss.kind if ss.adjusts_leverage else "cluster"
        try:
            if self.wp.X is not None or not self.balanced:  # each unit's own terms
                return fe_block_units(self.wp, R, all_names, what, cl, p, kind)
            E = np.empty((s.n_units, T))
            fit = block_ols(self.wp, np.ones((nb, T), dtype=bool), R, all_names, what, E)
        except EstimationError as err:
            if not self.balanced:
                return None
            raise _collinear(what, str(err).split(": ", 1)[-1]) from err
        return fit.coef[:p], fe_block_vcov(self.wp, R, fit.bread, E, cl, p, kind)


def _event_times(time: np.ndarray, cohort: np.ndarray,
                 window: tuple[int, int] | None) -> np.ndarray:
    """Event time of each row (``NaN`` for units never treated in the window), binned."""
    e = np.where(np.isfinite(cohort), time - cohort, np.nan)
    if window is not None:
        e = np.clip(e, window[0], window[1])
    return e


def _vcov(s: FESample, res: Any, exog: np.ndarray, names: list[str],
          ss: SmallSample) -> np.ndarray:
    """Variance of the ``names`` coefficients before ``ss.se_factor``: the
    leverage-corrected one for cv3/cr2 (own design, same coefficients as
    linearmodels' fit), linearmodels' clustered covariance otherwise."""
    if not ss.adjusts_leverage:
        return res.cov.loc[names, names].to_numpy()
    b, V = fe_leverage_vcov(s.y, exog, s.X, s.w, s.unit, s.time, s.row_cluster, ss.kind)
    if not np.allclose(b, res.params[names].to_numpy(), rtol=1e-6, atol=1e-8):
        raise EstimationError(  # pragma: no cover - the two fits solve one problem
            "TWFE: the leverage-corrected variance's fit disagrees with the regression; "
            "use inference='cluster_t'."
        )
    return V


class TWFE(Estimator):
    """Two-way fixed-effects DiD: static or event study.

    Parameters
    ----------
    event_study : bool
        ``False``: one coefficient on the treatment indicator, returned as a
        :class:`~spimpact.results.Result` with the row ``term="treated"``.
        ``True``: event-time coefficients (reference ``-1`` omitted), returned
        as an :class:`~spimpact.did.AggregateResult` indexed by ``event_time``
        whose ``.overall`` is the mean of the post-treatment coefficients.
    window : (int, int), optional
        Event study only: event times below ``window[0]`` are binned into it,
        those above ``window[1]`` into ``window[1]`` (``window[0] <= -1 <= window[1]``).
    covariates : sequence of str or str
        Time-varying covariates (unit-constant ones are absorbed and left out
        with a note). Default: none.
    confidence : float
    inference : {"cv3", "cr2", "cluster_t", "analytic"}
        ``"cv3"`` (default): the exact leave-one-cluster-out jackknife of the
        regression, ``(G-1)/G sum_g (b_(-g) - b)^2``, with t critical values
        on ``G-1`` degrees of freedom; ``"cr2"``: Bell-McCaffrey's CR2 with
        the regression's cluster leverage, ``t(G-1)``; ``"cluster_t"``: the
        cluster-robust variance times ``G/(G-1)`` with ``t(G-1)`` (CR1, as
        Stata's and fixest's defaults); ``"analytic"``: no small-sample
        factor, normal critical values. A coefficient that only one cluster
        identifies is left unadjusted by cv3/cr2 (leaving that cluster out
        loses it).

    Examples
    --------
    >>> from spimpact.simulate import pcn_rollout
    >>> from spimpact.did import TWFE
    >>> panel = pcn_rollout(n_pcns=60, covid=False, random_state=3).panel("wellbeing")
    >>> TWFE().fit(panel).estimates["term"].tolist()
    ['treated']
    """

    def __init__(
        self,
        event_study: bool = False,
        window: tuple[int, int] | None = None,
        covariates: Sequence[str] | str = (),
        confidence: float = 0.95,
        inference: str = DEFAULT_INFERENCE,
    ) -> None:
        self.event_study = event_study
        self.window = window
        self.covariates = covariates
        self.confidence = confidence
        self.inference = inference

    def _validate(self) -> None:
        check_confidence(self.confidence)
        if not isinstance(self.event_study, (bool, np.bool_)):
            raise OptionError(f"event_study must be True or False, not {self.event_study!r}.")
        check_inference(self.inference)
        w = self.window
        if w is None:
            return
        if not self.event_study:
            raise OptionError("window= bins event times and needs event_study=True.")
        ok = (isinstance(w, (tuple, list)) and len(w) == 2
              and all(isinstance(v, (int, np.integer)) for v in w))
        if not ok or not w[0] <= REFERENCE_EVENT <= w[1]:
            raise OptionError(
                f"window must be a pair of integers (lo, hi) with lo <= -1 <= hi, e.g. (-4, 8); "
                f"got {w!r}."
            )

    def fit(self, panel: Panel, *, by: str | None = None) -> Result:
        """Fit the regression (optionally by a unit-level subgroup, see
        :func:`spimpact.did.by_subgroup`)."""
        if by is not None:
            from .subgroups import by_subgroup

            return by_subgroup(self, panel, by)
        self._validate()
        s = fe_sample(panel, self.covariates, "TWFE", keep_always_treated=not self.event_study,
                      inference=self.inference)
        if not np.isfinite(s.unit_cohort).any():
            raise EstimationError("TWFE: no unit is treated within the panel's periods.")
        notes = list(s.notes)
        ss = small_sample(self.inference, s.n_clusters, s.n_units)
        common = dict(confidence=self.confidence, n_obs=len(s.y), n_units=s.n_units,
                      n_clusters=s.n_clusters, warnings=notes)
        if not self.event_study:
            return self._static(s, common, ss)
        return self._dynamic(s, common, ss)

    def _static(self, s: FESample, common: dict, ss: SmallSample, *,
                factored: bool = True) -> Result:
        blocks = _Blocks.of(s) if factored else None
        fit = None
        if blocks is not None:
            t, c = blocks.grid(s.n_periods)
            d_grid = (t >= c).astype(float)
        # the indicator on the rows (a balanced panel's rows are its grid)
        d = d_grid if blocks is not None and blocks.balanced \
            else (s.time >= s.row_cohort).astype(float)
        if d.min() == d.max():
            raise EstimationError("TWFE: the treatment indicator never varies in the panel.")
        if blocks is not None:
            fit = blocks.fit(s, d_grid[..., None], ["treated"], ss, "TWFE")
        if fit is not None:
            b, V = float(fit[0][0]), fit[1]
        else:
            d = (s.time >= s.row_cohort).astype(float)
            res = twfe_fit(s, pd.DataFrame({"treated": d}), "TWFE")
            b = float(res.params["treated"])
            V = _vcov(s, res, d[:, None], ["treated"], ss)
        se = ss.se_factor * float(np.sqrt(V[0, 0]))
        table = estimate_table([b], [se], self.confidence, df=ss.df, index={"term": ["treated"]})
        overall = Estimate.from_se(b, se, self.confidence, df=ss.df, label="TWFE coefficient")
        return Result(table, overall=overall, method="TWFE (static, unit and period effects)",
                      info={"covariates": ", ".join(s.x_names) or "none",
                            "inference": ss.describe()}, **common)

    def _dynamic(self, s: FESample, common: dict, ss: SmallSample, *,
                 factored: bool = True) -> AggregateResult:
        blocks = _Blocks.of(s) if factored else None
        e = (_event_times(*blocks.grid(s.n_periods), self.window)
             if blocks is not None and blocks.balanced
             else _event_times(s.time, s.row_cohort, self.window))  # the rows' event times
        events = np.unique(e[np.isfinite(e)]).astype(int)
        events = events[events != REFERENCE_EVENT]
        if not (events >= 0).any():
            raise EstimationError("TWFE: no post-treatment event times in the panel.")
        names = [f"e{v}" for v in events]
        fit = None
        if blocks is not None:
            e_grid = _event_times(*blocks.grid(s.n_periods), self.window)
            fit = blocks.fit(s, (e_grid[..., None] == events).astype(float), names, ss,
                             "TWFE event study")
        if fit is not None:
            b, V = fit
        else:
            e = _event_times(s.time, s.row_cohort, self.window)
            exog = (e[:, None] == events).astype(float)
            res = twfe_fit(s, pd.DataFrame(exog, columns=names), "TWFE event study")
            b = res.params[names].to_numpy()
            V = _vcov(s, res, exog, names, ss)
        V = ss.se_factor**2 * V
        table = estimate_table(b, np.sqrt(np.diag(V)), self.confidence, df=ss.df,
                               index={"event_time": events.tolist()})
        post = (events >= 0).astype(float) / (events >= 0).sum()
        overall = Estimate.from_se(float(post @ b), float(np.sqrt(post @ V @ post)),
                                   self.confidence, df=ss.df,
                                   label="mean of post-treatment coefficients")
        binned = "" if self.window is None else f", event times binned to {tuple(self.window)}"
        return AggregateResult(
            table, kind="event", overall=overall,
            method=f"TWFE event study (reference -1{binned})",
            info={"covariates": ", ".join(s.x_names) or "none", "inference": ss.describe()},
            **common,
        )
