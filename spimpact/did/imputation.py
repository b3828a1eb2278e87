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
from ..inference import (
    FactoredInfluence,
    RandomState,
    influence_se,
    influence_vcov,
    validate_choice,
    wald_test,
)
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
from ._fe_blocks import WidePanel, block_coef, block_ols, finish_values, wide_panel
from .results import GroupTimeResult, PreTest

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Imputation", "ImputationResult", "imputation_cells", "bjs_pretrend_test"]


@dataclass(frozen=True)
class ImputedCells:
    """ATT(g,t) of the imputation estimator.

    ``cells``: ``g, t, base (-1), post, reference`` (period positions);
    ``att`` ``(k,)``; ``psi`` ``(n_units, k)`` (dense, or factored on cohort
    blocks for balanced panels without covariates); ``n_imputed`` the number of
    imputed treated rows.
    """

    cells: pd.DataFrame
    att: np.ndarray
    psi: np.ndarray | FactoredInfluence
    n_imputed: int
    notes: list[str]
    #: the cohort blocks of a balanced panel without covariates (``None``: row level)
    blocks: Any = None


def _treated_rows(s: FESample, anticipation: int) -> np.ndarray:
    return s.time >= s.row_cohort - anticipation


def _period_design(s: FESample, periods: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Dense period dummies (``periods`` minus the first) and covariates (the
    row-level path, for covariates or unbalanced panels)."""
    D = dummies(s.time, periods[1:]).toarray()
    names = [f"period {p}" for p in periods[1:]]
    return np.hstack([D, s.X]), names + list(s.x_names)


_NO_UNTREATED = (
    "no untreated observations: the imputation step fits unit and period effects on "
    "untreated rows; the panel needs periods before each unit's cohort or never-treated units."
)
_NOT_IMPUTABLE = (
    "no treated observation can be imputed: treated rows need untreated rows of the "
    "same unit and untreated rows in the same period."
)


def _no_period_note(n_rows: int, periods: np.ndarray, labels: Any) -> str:
    bad = sorted({str(labels[t]) for t in periods})
    return (f"{n_rows} treated rows in period(s) {bad} were not imputed: no untreated "
            f"observation identifies those periods' effects (every unit is treated by then; "
            f"add never-treated units or stop the window earlier).")


def _imputable(s: FESample, treated: np.ndarray, labels: Any) -> tuple[np.ndarray, list[str]]:
    """Treated rows whose unit and period effects the untreated rows identify."""
    untr = ~treated
    if not untr.any():
        raise EstimationError(_NO_UNTREATED)
    t_has = np.bincount(s.time[untr], minlength=s.n_periods) > 0
    u_has = np.bincount(s.unit[untr], minlength=s.n_units) > 0
    notes = []
    no_t = treated & ~t_has[s.time]
    if no_t.any():
        notes.append(_no_period_note(int(no_t.sum()), np.unique(s.time[no_t]), labels))
    no_u = treated & t_has[s.time] & ~u_has[s.unit]
    if no_u.any():
        notes.append(
            f"{int(no_u.sum())} treated rows of {len(np.unique(s.unit[no_u]))} units observed "
            f"only after treatment started were not imputed (no untreated row for their unit "
            f"effect)."
        )
    ok = treated & t_has[s.time] & u_has[s.unit]
    if not ok.any():
        raise EstimationError(_NOT_IMPUTABLE)
    return ok, notes


@dataclass(frozen=True)
class _Blocks:
    """A balanced panel without covariates by cohort blocks (treated cohorts in
    order, then the never treated): the wide outcomes, each block's untreated
    periods ``P`` and treated ones ``D``."""

    wp: WidePanel
    groups: np.ndarray
    P: np.ndarray
    D: np.ndarray


def _blocks(s: FESample, anticipation: int) -> _Blocks | None:
    uc = s.unit_cohort
    fin = np.isfinite(uc)
    if (uc[fin] < 0).any():
        return None
    groups = np.unique(uc[fin]).astype(int)
    G, T = len(groups), s.n_periods
    unit_block = np.full(s.n_units, G, dtype=np.intp)
    unit_block[fin] = np.searchsorted(groups, uc[fin].astype(int))
    counts = np.bincount(unit_block, minlength=G + 1)
    t = np.arange(T)
    D = np.zeros((G + 1, T), dtype=bool)
    D[:G] = t[None, :] >= (groups - anticipation)[:, None]
    P = ~D
    P[counts == 0] = False
    D[counts == 0] = False
    t_has = np.asarray(P.any(axis=0), dtype=bool)
    # every cohort keeps an imputable cell, every unit an untreated period
    if not (D[:G] & t_has).any(axis=1).all() or (P.sum(axis=1)[counts > 0] == 0).any():
        return None
    wp = wide_panel(s, unit_block, G + 1)
    return None if wp is None else _Blocks(wp, groups, P, D)


def _period_blocks(b: _Blocks, periods: np.ndarray) -> np.ndarray:
    """``(blocks, T, q)`` period dummies (``periods`` minus the first)."""
    R = np.zeros((len(b.P), b.P.shape[1], len(periods) - 1))
    R[:, periods[1:], np.arange(len(periods) - 1)] = 1.0
    return R


def _cells_by_blocks(s: FESample, b: _Blocks, labels: Any) -> ImputedCells:
    """:func:`imputation_cells` from cohort x period sums (see
    :mod:`spimpact.did._fe_blocks`), the influence functions factored on the
    cohort blocks: the basis holds each unit's weighted first-step residuals in
    its untreated periods and ``tau_it - ATT(g,t)`` in its treated ones."""
    wp, P, D, groups = b.wp, b.P, b.D, b.groups
    G, T, n = len(groups), s.n_periods, s.n_units
    t_has = np.asarray(P.any(axis=0), dtype=bool)
    periods = np.flatnonzero(t_has)
    notes = []
    no_t = D & ~t_has[None, :]
    if no_t.any():
        notes.append(_no_period_note(int(no_t.sum(axis=1) @ wp.counts),
                                     np.flatnonzero(no_t.any(axis=0)), labels))
    R = _period_blocks(b, periods)
    names = [f"period {p}" for p in periods[1:]]
    vals = np.empty((n, T + 1))
    fit = block_ols(wp, P, R, names, "the imputation model (fitted on untreated rows)",
                    vals[:, :T])
    ok = D & t_has[None, :]  # imputable treated cells, by block and period
    cg, ct = np.nonzero(ok)  # (block, period), sorted by cohort then period
    K = len(cg)
    bounds, Wb = wp.bounds, wp.block_weight
    if (Wb[:G] <= 0).any():
        raise EstimationError("a cohort-period cell has zero total weight; check the weights.")
    att = np.empty(K)
    for h in range(G):  # the treated cells of each cohort: tau_it - ATT(g,t)
        sel = np.flatnonzero(cg == h)
        V = vals[bounds[h]:bounds[h + 1]]
        tau = V[:, ct[sel]]
        wb = wp.w[bounds[h]:bounds[h + 1]]
        att[sel] = (tau.sum(axis=0) * wb[0] if wp.constant_weights else wb @ tau) / Wb[h]
        V[:, ct[sel]] = tau - att[sel]
        V[:, np.flatnonzero(~(P[h] | ok[h]))] = 0.0
    finish_values(vals, wp)
    # untreated rows: -n R_s M^-1 B, B the cells' mean demeaned design rows
    Pf = P.astype(float)
    Rbar = np.einsum("bt,btq->bq", Pf, R) / np.maximum(Pf.sum(axis=1), 1)[:, None]
    B = (R[cg, ct] - Rbar[cg]).T  # (q, K)
    C = np.zeros((G + 1, T + 1, K))
    C[:, :T] = -block_coef(R, P, fit.bread @ B, n)
    C[cg, ct, np.arange(K)] = n / Wb[cg]  # treated rows: n w_i (tau_it - ATT) / W_g
    psi = FactoredInfluence.from_block_order(wp.order, wp.counts, vals,
                                             C.reshape((G + 1) * (T + 1), K), weight_col=T)
    g = groups[cg]
    cells = pd.DataFrame({"g": g, "t": ct, "base": -1, "post": ct >= g, "reference": False})
    return ImputedCells(cells, att, psi, int(ok.sum(axis=1) @ wp.counts), notes, b)


def imputation_cells(s: FESample, anticipation: int, labels: Any, *,
                     factored: bool = True) -> ImputedCells:
    """ATT(g,t) and per-unit influence functions of the imputation estimator.

    Parameters
    ----------
    s : the estimation sample; anticipation : periods of anticipation (rows
        from ``g - anticipation`` on count as treated); labels : period labels
        (for messages).
    factored : a balanced panel without covariates is fitted from cohort x
        period sums with factored influence functions; ``False`` forces the
        row-level regression (the reference those are tested against).
    """
    b = _blocks(s, anticipation) if factored else None
    if b is not None:
        return _cells_by_blocks(s, b, labels)
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
    return ImputedCells(cells, att, psi, len(rows), notes)


def _pretrend_by_blocks(s: FESample, b: _Blocks, lead_vals: np.ndarray
                       ) -> tuple[np.ndarray, FactoredInfluence]:
    """The BJS pre-trend regression from cohort x period sums: lead coefficients
    and their influence functions, factored on the cohort blocks."""
    wp, P, groups = b.wp, b.P, b.groups
    G, T, n, k = len(groups), s.n_periods, s.n_units, len(lead_vals)
    periods = np.flatnonzero(P.any(axis=0))
    R = np.concatenate([np.zeros((G + 1, T, k)), _period_blocks(b, periods)], axis=2)
    lead = groups[:, None] - np.arange(T)[None, :]  # (G, T)
    for j, v in enumerate(lead_vals):
        R[:G, :, j] = lead == v
    names = [f"lead {-v}" for v in lead_vals] + [f"period {p}" for p in periods[1:]]
    vals = np.empty((n, T))
    fit = block_ols(wp, P, R, names, "the BJS pre-trend regression", vals)
    for h in range(G + 1):
        vals[wp.bounds[h]:wp.bounds[h + 1], ~P[h]] = 0.0
    if not wp.constant_weights:
        vals *= wp.w[:, None]
    elif wp.w[0] != 1.0:
        vals *= wp.w[0]
    C = block_coef(R, P, fit.bread[:, :k], n)
    psi = FactoredInfluence.from_block_order(wp.order, wp.counts, vals,
                                             C.reshape((G + 1) * T, k))
    return fit.coef[:k], psi


def bjs_pretrend_test(
    s: FESample, anticipation: int, n_leads: int | None, confidence: float, *,
    factored: bool = True, blocks: _Blocks | None = None,
) -> tuple[PreTest | None, pd.DataFrame | None, str | None]:
    """BJS (2024, Sec. 4.4) pre-trend test: on untreated rows only, add dummies
    for leads ``-(anticipation+1) ... -(anticipation+K)`` to the unit and period
    effects and test them jointly (cluster-robust Wald).

    ``n_leads=None`` uses every lead but the most distant one (which, with the
    unit effects, would be collinear). Returns the test, the lead coefficients
    (``event_time`` table) and a note when the test cannot be computed.
    """
    b = (blocks if blocks is not None else _blocks(s, anticipation)) if factored else None
    if b is None:
        untr = ~_treated_rows(s, anticipation)
        lead = np.where(np.isfinite(s.row_cohort), s.row_cohort - s.time, 0).astype(int)
        lead = np.where(untr, lead, 0)
        max_lead = int(lead.max()) if lead.size else 0
    else:  # the earliest untreated period of each cohort with units
        G = len(b.groups)
        has = b.P[:G].any(axis=1)
        first = np.argmax(b.P[:G], axis=1)
        max_lead = int(max((b.groups - first)[has].max(initial=0), 0))
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
    psi: Any
    try:
        if b is not None:
            coef, psi = _pretrend_by_blocks(s, b, lead_vals)
        else:
            periods = np.flatnonzero(np.bincount(s.time[untr], minlength=s.n_periods) > 0)
            R, names = _period_design(s, periods)
            R = np.hstack([dummies(lead, lead_vals).toarray(), R])
            names = [f"lead {-v}" for v in lead_vals] + names
            fit = within_ols(s.y[untr], R[untr], s.unit[untr], s.w[untr], s.n_units, names,
                             "the BJS pre-trend regression")
            coef, psi = fit.coef[:k], fit.influence(np.arange(k))
    except EstimationError as err:
        return None, None, f"BJS pre-trend test not computed: {err}"
    V = influence_vcov(psi, s.cluster)
    stat, df, p = wald_test(coef, V)
    table = estimate_table(coef, influence_se(psi, s.cluster), confidence,
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
                                               self.confidence, blocks=cells.blocks)
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
            info={"imputed treated rows": cells.n_imputed}, notes=notes, pretest=pre,
        )
