"""Imputation estimator of Borusyak, Jaravel & Spiess (2024).

Unit and period effects (and covariate slopes) are fitted on the untreated
observations only; each treated observation's untreated outcome is imputed
from them, ``tau_it = Y_it - Y_it(0)_hat``, and ATT(g,t) is the (weighted)
mean of ``tau_it`` over cohort ``g`` in period ``t``.

Every ATT(g,t) is linear in the outcomes, ``sum_it v_it Y_it``, with
``v_it = w_it / W_gt`` on the cell's treated rows and the imputation weights
``v_it = -w_it z_it' (Z0' W Z0)^- Z1' w1`` on untreated rows. BJS's
conservative variance (their Theorem 3, with ``tau_tilde`` the average effect
of the cohort-period cell) is ``sum_c (sum_{it in c} v_it e_it)^2`` with
``e_it`` the first-step residuals on untreated rows and ``tau_it -
ATT(g,t)`` on treated rows. The influence function stored per unit is
``psi_i = n sum_t v_it e_it``, so ``influence_se`` reproduces that variance
and every aggregation (a fixed-weight combination of cells) reproduces BJS's
variance for the aggregated estimand. The unit-effect part of ``v`` drops out
of ``psi`` because the first-step residuals sum to zero within each unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse

from .._estimator import Estimator, check_confidence
from ..errors import EstimationError, OptionError
from ..inference import RandomState, influence_se, influence_vcov, validate_choice, wald_test
from ..inference_cluster import DEFAULT_INFERENCE, check_inference
from ..panel import Panel
from ..results import estimate_table
from ._fe import (
    FESample,
    InferenceOptions,
    dummies,
    fe_sample,
    group_time_result,
    unit_means,
    within_ols,
)
from .results import GroupTimeResult, PreTest

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Imputation", "ImputationResult", "imputation_cells", "bjs_pretrend_test"]


@dataclass(frozen=True)
class ImputedCells:
    """ATT(g,t) of the imputation estimator.

    ``cells``: ``g, t, base (-1), post, reference`` (period positions);
    ``att`` ``(k,)``; ``psi`` ``(n_units, k)``; ``tau`` the effect of every
    imputed treated row (``rows``: their positions in the sample).
    """

    cells: pd.DataFrame
    att: np.ndarray
    psi: np.ndarray
    tau: np.ndarray
    rows: np.ndarray
    notes: list[str]


def _treated_rows(s: FESample, anticipation: int) -> np.ndarray:
    return s.time >= s.row_cohort - anticipation


def _period_design(s: FESample, periods: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Dense period dummies (``periods`` minus the first) and covariates."""
    D = dummies(s.time, periods[1:]).toarray()
    names = [f"period {p}" for p in periods[1:]]
    return np.hstack([D, s.X]), names + list(s.x_names)


def _imputable(s: FESample, treated: np.ndarray, labels: Any) -> tuple[np.ndarray, list[str]]:
    """Treated rows whose unit and period effects the untreated rows identify."""
    untr = ~treated
    if not untr.any():
        raise EstimationError(
            "no untreated observations: the imputation step fits unit and period effects on "
            "untreated rows; the panel needs periods before each unit's cohort or "
            "never-treated units."
        )
    t_has = np.bincount(s.time[untr], minlength=s.n_periods) > 0
    u_has = np.bincount(s.unit[untr], minlength=s.n_units) > 0
    notes = []
    no_t = treated & ~t_has[s.time]
    if no_t.any():
        bad = sorted({str(labels[t]) for t in np.unique(s.time[no_t])})
        notes.append(
            f"{int(no_t.sum())} treated rows in period(s) {bad} were not imputed: no untreated "
            f"observation identifies those periods' effects (every unit is treated by then; "
            f"add never-treated units or stop the window earlier)."
        )
    no_u = treated & t_has[s.time] & ~u_has[s.unit]
    if no_u.any():
        notes.append(
            f"{int(no_u.sum())} treated rows of {len(np.unique(s.unit[no_u]))} units observed "
            f"only after treatment started were not imputed (no untreated row for their unit "
            f"effect)."
        )
    ok = treated & t_has[s.time] & u_has[s.unit]
    if not ok.any():
        raise EstimationError(
            "no treated observation can be imputed: treated rows need untreated rows of the "
            "same unit and untreated rows in the same period."
        )
    return ok, notes


def imputation_cells(s: FESample, anticipation: int, labels: Any) -> ImputedCells:
    """ATT(g,t) and per-unit influence functions of the imputation estimator.

    Parameters
    ----------
    s : the estimation sample; anticipation : periods of anticipation (rows
        from ``g - anticipation`` on count as treated); labels : period labels
        (for messages).
    """
    treated = _treated_rows(s, anticipation)
    ok, notes = _imputable(s, treated, labels)
    untr = ~treated
    periods = np.flatnonzero(np.bincount(s.time[untr], minlength=s.n_periods) > 0)
    R, names = _period_design(s, periods)
    n, T = s.n_units, s.n_periods
    fit = within_ols(s.y[untr], R[untr], s.unit[untr], s.w[untr], n, names,
                     "the imputation model (fitted on untreated rows)")
    rows = np.flatnonzero(ok)
    unit = s.unit[rows]
    tau = s.y[rows] - fit.unit_effect[unit] - R[rows] @ fit.coef
    code = s.row_cohort[rows].astype(int) * T + s.time[rows]
    cell_codes, k_of = np.unique(code, return_inverse=True)
    K = len(cell_codes)
    w = s.w[rows]
    wk = np.bincount(k_of, weights=w, minlength=K)
    if (wk <= 0).any():
        raise EstimationError("a cohort-period cell has zero total weight; check the weights.")
    att = np.bincount(k_of, weights=w * tau, minlength=K) / wk
    v = w / wk[k_of]  # weight of each treated row in its cell's ATT
    psi_treated = sparse.csr_matrix((v * (tau - att[k_of]), (unit, k_of)), shape=(n, K))
    Rbar0 = unit_means(R[untr], s.unit[untr], s.w[untr], n)
    cell_w = sparse.csr_matrix((v, (np.arange(len(rows)), k_of)), shape=(len(rows), K))
    B = np.asarray((cell_w.T @ (R[rows] - Rbar0[unit])).T)  # (q, K) = Z1_tilde' w1 per cell
    psi = n * (psi_treated.toarray() - fit.scores @ (fit.bread @ B))
    g, t = cell_codes // T, cell_codes % T
    cells = pd.DataFrame({"g": g, "t": t, "base": -1, "post": t >= g, "reference": False})
    return ImputedCells(cells, att, psi, tau, rows, notes)


def bjs_pretrend_test(
    s: FESample, anticipation: int, n_leads: int | None, confidence: float,
) -> tuple[PreTest | None, pd.DataFrame | None, str | None]:
    """BJS (2024, Sec. 4.4) pre-trend test: on untreated rows only, add dummies
    for leads ``-(anticipation+1) ... -(anticipation+K)`` to the unit and period
    effects and test them jointly (cluster-robust Wald).

    ``n_leads=None`` uses every lead but the most distant one (which, with the
    unit effects, would be collinear). Returns the test, the lead coefficients
    (``event_time`` table) and a note when the test cannot be computed.
    """
    untr = ~_treated_rows(s, anticipation)
    lead = np.where(np.isfinite(s.row_cohort), s.row_cohort - s.time, 0).astype(int)
    lead = np.where(untr, lead, 0)
    max_lead = int(lead.max()) if lead.size else 0
    available = max_lead - anticipation - 1
    if available <= 0:
        return None, None, ("BJS pre-trend test not computed: fewer than two pre-treatment "
                            "periods per cohort (add earlier periods to test pre-trends).")
    k = available if n_leads is None else min(int(n_leads), available)
    note = None
    if n_leads is not None and n_leads > available:
        note = (f"pretrend_periods={n_leads} but only {available} leads can be tested with "
                f"unit effects; the BJS pre-trend test uses {available}.")
    lead_vals = np.arange(anticipation + 1, anticipation + k + 1)
    periods = np.flatnonzero(np.bincount(s.time[untr], minlength=s.n_periods) > 0)
    R, names = _period_design(s, periods)
    L = dummies(lead, lead_vals).toarray()
    R = np.hstack([L, R])
    names = [f"lead {-v}" for v in lead_vals] + names
    try:
        fit = within_ols(s.y[untr], R[untr], s.unit[untr], s.w[untr], s.n_units, names,
                         "the BJS pre-trend regression")
    except EstimationError as err:
        return None, None, f"BJS pre-trend test not computed: {err}"
    cols = np.arange(k)
    psi = fit.influence(cols)
    V = influence_vcov(psi, s.cluster)
    stat, df, p = wald_test(fit.coef[cols], V)
    table = estimate_table(fit.coef[cols], influence_se(psi, s.cluster), confidence,
                           index={"event_time": (-lead_vals).tolist()})
    table = table.sort_values("event_time").reset_index(drop=True)
    return PreTest(stat, df, p, kind="BJS pre-trend"), table, note


class ImputationResult(GroupTimeResult):
    """ATT(g,t) of the imputation estimator, with BJS's pre-trend coefficients
    (``.pretrend_estimates``) beside the Wald test (``.pretest``)."""

    def __init__(self, estimates: pd.DataFrame, *, pretrends: pd.DataFrame | None = None,
                 **kwargs: Any) -> None:
        self._pretrends = pretrends
        super().__init__(estimates, **kwargs)

    @property
    def pretrend_estimates(self) -> pd.DataFrame | None:
        """Lead coefficients of the BJS pre-trend regression (``event_time < 0``)."""
        return None if self._pretrends is None else self._pretrends.copy()

    def plot(self, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Event study: the event-time effects (from ``-anticipation`` on), with
        the BJS pre-trend coefficients as the earlier points."""
        from ..plotting import event_study_plot

        ev = self.aggregate("event")
        tab = ev.estimates
        if self._pretrends is not None:
            tab = pd.concat([self._pretrends, tab], ignore_index=True)  # leads < anticipation
        kwargs.setdefault("title", self.method)
        return event_study_plot(tab, ax=ax, **kwargs)


def fit_imputation(est: Any, panel: Panel, name: str) -> tuple[FESample, ImputedCells, list[str]]:
    """Sample and cells shared by :class:`Imputation` and :class:`TwoStage`."""
    s = fe_sample(panel, est.covariates, name, anticipation=est.anticipation,
                  inference=est.inference)
    if not np.isfinite(s.unit_cohort).any():
        raise EstimationError(f"{name}: no unit is treated within the panel's periods.")
    cells = imputation_cells(s, est.anticipation, panel.periods)
    return s, cells, [*s.notes, *cells.notes]


def validate_common(est: Any) -> None:
    """Options shared by the imputation-type estimators."""
    check_confidence(est.confidence)
    validate_choice("multiplier", est.multiplier, ("mammen", "rademacher"))
    check_inference(getattr(est, "inference", DEFAULT_INFERENCE))
    anticipation = getattr(est, "anticipation", 0)  # estimators without the option
    if not isinstance(anticipation, (int, np.integer)) or anticipation < 0:
        raise OptionError(f"anticipation must be a non-negative integer, not {anticipation!r}.")
    if est.bootstrap is not None and (not isinstance(est.bootstrap, (int, np.integer))
                                      or est.bootstrap < 2):
        raise OptionError(f"bootstrap must be None or an integer >= 2 (e.g. 999), not "
                          f"{est.bootstrap!r}.")
    if not isinstance(est.fixed_shares, (bool, np.bool_)):
        raise OptionError(f"fixed_shares must be True or False, not {est.fixed_shares!r}.")


class Imputation(Estimator):
    """Imputation DiD estimator (Borusyak, Jaravel & Spiess 2024).

    Parameters
    ----------
    anticipation : int
        Periods before the cohort's first treated period already affected
        (excluded from the imputation model; their effects are estimated as
        pre-treatment cells).
    covariates : sequence of str or str
        Time-varying covariate columns (names, not a formula) in the
        imputation model; covariates constant within units are absorbed by the
        unit effects and left out with a note. Default: none.
    pretrend_periods : int, optional
        Number of leads in BJS's pre-trend test (default: all but the most distant).
    fixed_shares : bool
        ``True`` (default, BJS's Theorem 3): aggregations treat the cohort
        weights as fixed, the variance is their conservative one with average
        effects by cohort and period. ``False`` adds the influence of the
        estimated cohort shares (equivalently, averages effects over the
        aggregated estimand's cells instead).
    bootstrap : int, optional
        Multiplier-bootstrap draws for SEs and uniform bands; ``None``: analytic.
    confidence : float
    random_state : int, Generator or None
    multiplier : {"mammen", "rademacher"}
    inference : {"cv3", "cluster_t", "cr2", "analytic"}
        Small-sample inference (see :mod:`spimpact.inference_cluster`):
        ``"cv3"`` (default) the cluster jackknife's leverage correction of the
        influence functions with ``(G-1)/G`` and t critical values on ``G-1``
        degrees of freedom; ``"cluster_t"`` the variance times ``G/(G-1)`` with
        t(G-1); ``"cr2"`` Bell-McCaffrey leverage; ``"analytic"`` no
        small-sample factor, normal critical values.

    Examples
    --------
    >>> from spimpact.simulate import pcn_rollout
    >>> from spimpact.did import Imputation
    >>> panel = pcn_rollout(n_pcns=60, covid=False, random_state=3).panel("wellbeing")
    >>> res = Imputation().fit(panel)
    >>> ev = res.aggregate("event")
    >>> int(ev.estimates["event_time"].min()), res.pretest.kind
    (0, 'BJS pre-trend')
    """

    def __init__(
        self,
        anticipation: int = 0,
        covariates: Sequence[str] | str = (),
        pretrend_periods: int | None = None,
        fixed_shares: bool = True,
        bootstrap: int | None = None,
        confidence: float = 0.95,
        random_state: RandomState = None,
        multiplier: str = "rademacher",
        inference: str = DEFAULT_INFERENCE,
    ) -> None:
        self.anticipation = anticipation
        self.covariates = covariates
        self.pretrend_periods = pretrend_periods
        self.fixed_shares = fixed_shares
        self.bootstrap = bootstrap
        self.confidence = confidence
        self.random_state = random_state
        self.multiplier = multiplier
        self.inference = inference

    def _validate(self) -> None:
        validate_common(self)
        k = self.pretrend_periods
        if k is not None and (not isinstance(k, (int, np.integer)) or k < 1):
            raise OptionError(f"pretrend_periods must be None or a positive integer, not {k!r}.")

    def fit(self, panel: Panel, *, by: str | None = None) -> ImputationResult:
        """Estimate ATT(g,t) by imputation (optionally by a unit-level subgroup,
        see :func:`spimpact.did.by_subgroup`)."""
        if by is not None:
            from .subgroups import by_subgroup

            return by_subgroup(self, panel, by)  # type: ignore[return-value]
        self._validate()
        s, cells, notes = fit_imputation(self, panel, "Imputation")
        pre, pre_tab, note = bjs_pretrend_test(s, self.anticipation, self.pretrend_periods,
                                               self.confidence)
        if note:
            notes.append(note)
        opts = InferenceOptions(self.confidence, self.bootstrap, self.random_state,
                                self.multiplier, share_influence=not self.fixed_shares,
                                inference=self.inference)
        method = ("Imputation (Borusyak-Jaravel-Spiess"
                  + (f", anticipation {self.anticipation}" if self.anticipation else "") + ")")
        return group_time_result(  # type: ignore[return-value]
            panel, s, cells.cells, cells.att, cells.psi, opts, method=method,
            n_obs=len(s.y), result_cls=ImputationResult, pretrends=pre_tab,
            info={"imputed treated rows": len(cells.rows)}, notes=notes, pretest=pre,
        )
