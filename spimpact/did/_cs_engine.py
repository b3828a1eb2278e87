"""Numerical core of Callaway & Sant'Anna: every ATT(g,t) cell and its
influence function, for balanced panels, unbalanced panels and repeated
cross-sections. Pure functions on arrays; the estimator class orchestrates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import EstimationError, OptionError
from ..inference import FactoredInfluence
from ._cells import CellPlan, control_mask
from ._drdid import PSFit, did_panel_many, did_rc

__all__ = [
    "CellData", "CellEstimates", "closed_form_cells", "estimate_cells",
    "estimate_cells_closed_form", "fast_path_applies",
]

#: R's did flags overlap problems when a preliminary propensity score reaches this.
OVERLAP_LIMIT = 0.999


@dataclass(frozen=True)
class CellData:
    """Arrays the cell estimators need.

    ``sample_unit`` maps each row to its sampling unit (the panel unit, or
    the row itself for repeated cross-sections); ``unit_cohort`` is each
    sampling unit's cohort position (``inf`` for never / not in the window).
    """

    y: np.ndarray
    time: np.ndarray
    sample_unit: np.ndarray
    unit_cohort: np.ndarray
    #: each row's cohort (``None`` for balanced panels, estimated per unit)
    row_cohort: np.ndarray | None
    X: np.ndarray
    w: np.ndarray
    n_periods: int
    balanced_panel: bool
    weights_at: str = "pair_start"
    #: all weights are one (no weights column)
    constant_weights: bool = False
    #: rows are sorted by sampling unit, then period (as a Panel keeps them)
    unit_time_order: bool = False
    #: ``X`` has one row per sampling unit (covariates constant within units;
    #: balanced panels only), not one per row
    x_per_unit: bool = False


@dataclass
class CellEstimates:
    """ATT per cell (NaN when not estimable), influence functions ``(n, k)``,
    and the messages of cells that could not be estimated."""

    att: np.ndarray
    psi: np.ndarray | FactoredInfluence
    messages: list[str] = field(default_factory=list)
    #: whether ``estimate_cells``'s ``on_block`` saw every block of ``psi``
    blocks_seen: bool = False


def _wide(data: CellData, values: np.ndarray) -> np.ndarray:
    n_u = int(data.sample_unit.max()) + 1
    if data.balanced_panel and data.unit_time_order and len(values) == n_u * data.n_periods:
        return np.asarray(values).reshape(n_u, data.n_periods)  # a view: no copy
    out = np.full((n_u, data.n_periods), np.nan, order="F")  # columns = periods
    out[data.sample_unit, data.time] = values
    return out


class _RowIndex:
    """Row of each (unit, period) of a balanced panel: ``rows[units, s]``.
    Rows kept in unit-then-period order need no table (row ``u * T + s``)."""

    def __init__(self, data: CellData) -> None:
        n_u = int(data.sample_unit.max()) + 1
        self.T = data.n_periods
        self.table = None
        if not (data.unit_time_order and len(data.y) == n_u * self.T):
            self.table = np.full((n_u, self.T), -1, dtype=np.intp)
            self.table[data.sample_unit, data.time] = np.arange(len(data.y))

    def __getitem__(self, key: tuple) -> np.ndarray:
        units, s = key
        if self.table is not None:
            return self.table[units, s]
        return np.asarray(units, dtype=np.intp) * self.T + s


def _problems(d: np.ndarray, X: np.ndarray, method: str,
              w: np.ndarray | None = None, fits: list | None = None) -> str | None:
    """R-did style checks before a cell is estimated: overlap and rank (of the
    comparison units with positive weight, when weights ``w`` are given).
    The unweighted propensity fit of the overlap check is appended to
    ``fits`` when given (with equal weights it is the estimator's fit)."""
    if X.shape[1] == 1:
        return None
    if method in ("dr", "reg"):
        Xc = X[(d == 0) if w is None else (d == 0) & (w > 0)]
        if Xc.shape[0] < X.shape[1] or np.linalg.matrix_rank(Xc) < X.shape[1]:
            return "covariates are collinear (or too few) among the comparison units"
    if method in ("dr", "ipw"):
        from ._drdid import logit_fit

        try:
            fit = logit_fit(d, X, np.ones(len(d)))
            ps = fit[0]
            if fits is not None:
                fits.append(fit)
        except (np.linalg.LinAlgError, OptionError):
            return "the propensity score model is singular"
        if ps.max() >= OVERLAP_LIMIT:
            return "overlap fails: some propensity scores reach 0.999"
    return None


def _weight_column(data: CellData, g: int, t: int, base: int, anticipation: int) -> int:
    if data.weights_at == "base_period":
        return max(g - 1 - anticipation, 0)
    if data.weights_at == "first_period":
        return 0
    return min(t, base)


def estimate_cells(
    data: CellData, plan: CellPlan, control_group: str, method: str, anticipation: int,
    labels: list[str], *, closed_form: bool = True, on_block: Any = None,
    unit_w: np.ndarray | None = None,
) -> CellEstimates:
    """Estimate every cell of ``plan``; ``labels`` name the cells in messages.

    ``closed_form=False`` forces the cell-by-cell path (used to test the
    closed form against it). ``on_block(idx, cols, block, treated_rows)``,
    when given, is called on each block of the influence functions before it
    is stored (rows ``idx``, columns ``cols``; every other row of those
    columns is zero), e.g. a
    :class:`~spimpact.inference_roles.RowBlockLeverage`; it may adjust the
    block in place. ``CellEstimates.blocks_seen`` says whether it saw every
    column (balanced panels, estimated cell group by cell group).

    On balanced panels the influence functions are factored on the cohorts
    (:class:`_CohortBlocks`): each cohort's units hold values only for the
    cells they are behind. ``unit_w`` (each unit's weight) is then kept as
    the blocks' weight column, so that the influence of estimated cohort
    shares stays factored too. Other panels give a dense ``(n, k)`` matrix."""
    if closed_form and fast_path_applies(data):
        return estimate_cells_closed_form(data, plan, control_group, anticipation, labels)
    n = len(data.unit_cohort)
    k = len(plan)
    att = np.full(k, np.nan)
    msgs: list[tuple[int, str]] = []
    if data.balanced_panel:
        # cells with the same units, covariate rows and weights differ only in the
        # periods they difference: they share their checks, propensity fit and
        # least-squares factorisation and are estimated together (time-invariant
        # covariates: one set per cohort and comparison set)
        Yw, Rw = _wide(data, data.y), _RowIndex(data)
        static = _static_columns(data, Rw)
        coh = np.unique(data.unit_cohort)
        shared: dict[tuple, list[int]] = {}
        for j in range(k):
            g, t, b = int(plan.g[j]), int(plan.t[j]), int(plan.base[j])
            if plan.reference[j]:
                att[j] = 0.0
                continue
            ctrl = control_mask(coh, g, t, b, control_group, anticipation)
            key = (g, coh[ctrl].tobytes(), -1 if static[0] else min(t, b),
                   -1 if static[1] else _weight_column(data, g, t, b, anticipation))
            shared.setdefault(key, []).append(j)
        uc = data.unit_cohort
        store = _CohortBlocks(uc, np.r_[np.unique(uc[np.isfinite(uc)]), np.inf], [
            (np.r_[g, np.frombuffer(ctrl, dtype=coh.dtype)], js)
            for (g, ctrl, *_), js in shared.items()], k, unit_w)
        # the outcomes by period with the units grouped by cohort (one gather): a
        # cell group's units are then a few runs of consecutive rows
        Yc = Yw[store.unit_order]
        for js in shared.values():
            try:
                idx, values = _panel_cells(data, Yc, Rw, plan, js, control_group, method,
                                           anticipation, att, store)
                values *= n / len(idx)
                if on_block is not None:
                    g = int(plan.g[js[0]])
                    on_block(idx, np.asarray(js), values, data.unit_cohort[idx] == g)
                store.put(idx, js, values)
            except (_Skip, EstimationError) as why:
                msgs += [(j, f"ATT for {labels[j]} not estimated: {why}.") for j in js]
        psi: np.ndarray | FactoredInfluence = store.influence()
    else:
        psi = np.zeros((n, k), order="F")  # filled column by column
        for j in range(k):
            g, t, b = int(plan.g[j]), int(plan.t[j]), int(plan.base[j])
            if plan.reference[j]:
                att[j] = 0.0
                continue
            units = (data.unit_cohort == g) | control_mask(
                data.unit_cohort, g, t, b, control_group, anticipation)
            try:
                att[j], psi[:, j] = _rc_cell(data, units, g, t, b, n, method)
            except (_Skip, EstimationError) as why:
                msgs.append((j, f"ATT for {labels[j]} not estimated: {why}."))
    return CellEstimates(att, psi, [m for _, m in sorted(msgs, key=lambda x: x[0])],
                         blocks_seen=data.balanced_panel)


class _Skip(Exception):
    pass


def _static_columns(data: CellData, Rw: _RowIndex) -> tuple[bool, bool]:
    """Whether the covariates, and the weights, are constant within every unit."""
    units = np.arange(len(data.unit_cohort))
    first = Rw[units, 0]
    x_static = data.x_per_unit or all(
        bool(np.all(data.X[Rw[units, s]] == data.X[first])) for s in range(1, data.n_periods))
    w_static = data.constant_weights or all(
        bool(np.all(data.w[Rw[units, s]] == data.w[first])) for s in range(1, data.n_periods))
    return x_static, w_static


class _CohortBlocks:
    """Influence functions of balanced-panel cells stored by cohort.

    Every cell's units are whole cohorts (its own and its comparison
    cohorts), so the influence matrix is zero outside the (cohort, cell)
    pairs where the cohort is behind the cell. Block ``h`` (cohort ``h``,
    never treated or out of the window last, as in the closed form) keeps
    its units' values on those cells only: ``(units of h, cells of h)``
    instead of ``n x k``: a few times smaller with many cohorts and one
    comparison cohort, at most ``n x k`` plus the weight column. ``groups``
    lists each cell group's
    cohorts (values of ``unit_cohort``) and cells; block ``h``'s columns
    are its groups' cells in increasing order, after the weight column
    (each unit's ``unit_w``; zeros when not given, and no ``weight_col``).
    """

    def __init__(self, unit_cohort: np.ndarray, cohorts: np.ndarray,
                 groups: list[tuple[np.ndarray, list[int]]], k: int,
                 unit_w: np.ndarray | None) -> None:
        n_b = len(cohorts)  # sorted, ending with inf (never treated / outside the window)
        block = np.searchsorted(cohorts, unit_cohort)
        key = block.astype(np.int16) if n_b < 2**15 else block
        #: units grouped by cohort, in unit order within each
        self.unit_order = np.argsort(key, kind="stable")
        self.counts = np.bincount(block, minlength=n_b)
        self.bounds = np.r_[0, np.cumsum(self.counts)]
        self.k = k
        cols: list[list[int]] = [[] for _ in range(n_b)]
        largest = 0
        for members, js in groups:
            blocks = np.searchsorted(cohorts, np.unique(members))
            for h in blocks:
                cols[h] += js
            largest = max(largest, int(self.counts[blocks].sum()) * len(js))
        self._buffer = np.empty(largest)
        self.cols = [np.sort(np.asarray(c, dtype=np.intp)) for c in cols]
        self.weighted = unit_w is not None
        self.values = []
        for h in range(n_b):
            v = np.zeros((int(self.counts[h]), 1 + len(cols[h])))
            if unit_w is not None:
                v[:, 0] = np.asarray(unit_w, dtype=float)[
                    self.unit_order[self.bounds[h] : self.bounds[h + 1]]]
            self.values.append(v)
        self.position = np.empty(len(unit_order := self.unit_order), dtype=np.intp)
        self.position[unit_order] = np.arange(len(unit_order))

    def buffer(self, n: int, m: int) -> np.ndarray:
        """A ``(n, m)`` array for one cell group's influence functions before
        they are stored, the same memory for every group (no fresh memory
        per group)."""
        return self._buffer[: n * m].reshape(n, m)

    def put(self, idx: np.ndarray, js: list[int], values: np.ndarray) -> None:
        """Store cells ``js``'s influence ``values`` on units ``idx`` (whole
        cohorts, grouped by cohort in ``unit_order``)."""
        at = self.position[idx]
        lo = 0
        while lo < len(idx):
            h = int(np.searchsorted(self.bounds, at[lo], side="right")) - 1
            m = int(self.counts[h])
            c = 1 + np.searchsorted(self.cols[h], js)
            if len(c) and c[-1] - c[0] == len(c) - 1:  # consecutive columns: a slice
                self.values[h][:, c[0] : c[-1] + 1] = values[lo : lo + m]
            else:
                self.values[h][:, c] = values[lo : lo + m]
            lo += m

    def influence(self) -> FactoredInfluence:
        offsets = np.r_[0, np.cumsum([v.shape[1] for v in self.values])]
        coef = np.zeros((int(offsets[-1]), self.k))
        for h, c in enumerate(self.cols):
            coef[offsets[h] + 1 + np.arange(len(c)), c] = 1.0
        return FactoredInfluence.from_blocks(self.unit_order, self.counts, self.values, coef,
                                             weight_col=0 if self.weighted else None)


def _panel_cells(data, Yc, Rw, plan, js, control_group, method, anticipation, att,
                 store: _CohortBlocks):
    """Cells ``js`` that share their units, covariate rows and weights, at once:
    fills ``att[js]`` and returns the units (grouped by cohort, as in
    ``store``) and their ``(units, len(js))`` influence functions (unscaled;
    in ``store``'s buffer for the doubly robust estimator). ``Yc`` holds the
    units' outcomes by period in ``store.unit_order``."""
    g, t, b = int(plan.g[js[0]]), int(plan.t[js[0]]), int(plan.base[js[0]])
    units = (data.unit_cohort == g) | control_mask(
        data.unit_cohort, g, t, b, control_group, anticipation)
    idx = store.unit_order[units[store.unit_order]]
    d = (data.unit_cohort[idx] == g).astype(float)
    if d.sum() == 0 or (1 - d).sum() == 0:
        raise _Skip("no treated or no comparison units")
    X = data.X[idx] if data.x_per_unit else data.X[Rw[idx, min(t, b)]]
    w = data.w[Rw[idx, _weight_column(data, g, t, b, anticipation)]]
    fits: list = []
    why = _problems(d, X, method, w, fits)
    if why:
        raise _Skip(why)
    ps_fit: PSFit = None
    if fits and (data.constant_weights or bool(np.all(w == w[0]))):
        ps_fit = fits[0]  # equal weights: the overlap check's fit is the estimator's
    elif method in ("dr", "ipw") and X.shape[1] > 1:
        from ._drdid import logit_fit

        ps_fit = logit_fit(d, X, w / w.mean())
    att[js], values = did_panel_many(Yc, d, X, w, method, ps_fit=ps_fit,
                                     D=_change_matrix(Yc.shape[1], plan.t[js], plan.base[js]),
                                     rows=store.position[idx],
                                     out=store.buffer(len(idx), len(js)))
    return idx, values


def _change_matrix(T: int, t: np.ndarray, base: np.ndarray) -> np.ndarray:
    """``(T, len(t))`` matrix of +1 (period ``t_j``) and -1 (period ``base_j``):
    a unit's outcomes by period times it are its changes ``Y_t - Y_base``
    (exact: every other term adds 0)."""
    D = np.zeros((T, len(t)))
    cols = np.arange(len(t))
    D[t, cols] = 1.0
    D[base, cols] -= 1.0
    return D


def _rc_cell(data, units, g, t, b, n, method):
    rows = np.flatnonzero(units[data.sample_unit] & ((data.time == t) | (data.time == b)))
    post = (data.time[rows] == t).astype(float)
    assert data.row_cohort is not None
    d = (data.row_cohort[rows] == g).astype(float)
    for p, name in ((1.0, "evaluated"), (0.0, "base")):
        sel = post == p
        if not (d[sel] == 1).any():
            raise _Skip(f"no treated observations in the {name} period")
        if not (d[sel] == 0).any():
            raise _Skip(f"no comparison observations in the {name} period")
    assert not data.x_per_unit  # unit-level covariates are for balanced panels
    X = data.X[rows]
    why = _problems(d, X, method)
    if why:
        raise _Skip(why)
    fit = did_rc(data.y[rows], post, d, X, data.w[rows], method)
    col = np.bincount(data.sample_unit[rows], weights=fit.psi * (n / len(rows)), minlength=n)
    return fit.att, col


def fast_path_applies(data: CellData) -> bool:
    """The closed-form path: balanced panel, no covariates, weights fixed per unit."""
    if not data.balanced_panel or data.X.shape[1] != 1:
        return False
    if data.constant_weights:
        return True
    w = _wide(data, data.w)
    return bool(np.all(w == w[:, :1]))


def estimate_cells_closed_form(
    data: CellData, plan: CellPlan, control_group: str, anticipation: int, labels: list[str],
) -> CellEstimates:
    """Every cell at once when there are no covariates.

    Without covariates the DR, IPW and outcome-regression estimators coincide:
    ATT(g,t) is the weighted mean change of cohort ``g`` minus that of its
    comparison cohorts, and a unit's influence is
    ``n w_i (dy_i - mean) / W`` (positive for the treated cohort, negative for
    comparisons; ``W`` the total weight of its side). The units are grouped by
    cohort once; cohort sums of the outcome per period give every mean, and
    the influence functions stay factored on the cohort blocks
    (:class:`~spimpact.inference.FactoredInfluence`), never ``n x k``.
    """
    Yw = _wide(data, data.y)
    n, T = Yw.shape
    uc = data.unit_cohort
    groups = np.unique(uc[np.isfinite(uc)]).astype(int)
    G = len(groups)
    gidx = np.full(n, G, dtype=np.int16)  # never treated (in the window) -> G; G <= T
    fin = np.isfinite(uc)
    gidx[fin] = np.searchsorted(groups, uc[fin].astype(int))
    order = np.argsort(gidx, kind="stable")  # 16-bit keys: a linear radix sort
    counts = np.bincount(gidx, minlength=G + 1)
    bounds = np.r_[0, np.cumsum(counts)]
    # basis columns: w_i (Y_it - cohort mean of period t), then w_i
    vals = np.empty((n, T + 1))
    step = 1 << 16  # gathered in slices: no units x periods temporary
    for lo in range(0, n, step):
        vals[lo : lo + step, :T] = Yw[order[lo : lo + step]]
    if data.constant_weights:
        vals[:, T] = 1.0
    else:
        w = np.zeros(n)
        w[data.sample_unit] = data.w
        np.take(w, order, out=vals[:, T])
    S, Wg = np.zeros((G + 1, T)), np.zeros(G + 1)
    for h in range(G + 1):
        block, wb = vals[bounds[h] : bounds[h + 1], :T], vals[bounds[h] : bounds[h + 1], T]
        Wg[h] = wb.sum()
        S[h] = block.sum(axis=0) if data.constant_weights else wb @ block
        if Wg[h] > 0:
            block -= S[h] / Wg[h]
        if not data.constant_weights:
            block *= wb[:, None]
    att, coef, msgs = closed_form_cells(S, Wg, groups, n, plan, control_group, anticipation,
                                        labels)
    psi = FactoredInfluence.from_block_order(order, counts, vals, coef, weight_col=T)
    return CellEstimates(att, psi, msgs)


def closed_form_cells(
    S: np.ndarray, Wg: np.ndarray, groups: np.ndarray, n: int, plan: CellPlan,
    control_group: str, anticipation: int, labels: list[str],
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """ATT(g,t) and influence coefficients without covariates, from cohort sums.

    ``S`` ``(G + 1, T)`` holds each cohort block's weighted outcome sums by
    period and ``Wg`` ``(G + 1,)`` its total weight (block ``G``: never
    treated); ``n`` is the number of units. The coefficients act on the basis
    ``w_i (Y_it - cohort mean of t)`` and ``w_i`` (width ``T + 1``, blocks in
    cohort order) of :func:`estimate_cells_closed_form`. Shared with the fit
    of distributed panels, which computes the same sums partition by partition.
    """
    G = len(groups)
    T = S.shape[1]
    coh = np.r_[groups.astype(float), np.inf]  # cohort position of each block
    k = len(plan)
    att = np.full(k, np.nan)
    width = T + 1
    coef = np.zeros(((G + 1) * width, k))
    msgs: list[str] = []
    mean = np.divide(S, Wg[:, None], out=np.zeros_like(S), where=Wg[:, None] > 0)
    for j in range(k):
        g, t, b = int(plan.g[j]), int(plan.t[j]), int(plan.base[j])
        if plan.reference[j]:
            att[j] = 0.0
            continue
        ctrl = np.flatnonzero(control_mask(coh, g, t, b, control_group, anticipation))
        h = int(np.searchsorted(groups, g))
        W_c = Wg[ctrl].sum()
        if Wg[h] <= 0 or W_c <= 0:
            msgs.append(f"ATT for {labels[j]} not estimated: no treated or no comparison units.")
            continue
        mu_c = (S[ctrl, t] - S[ctrl, b]).sum() / W_c
        att[j] = mean[h, t] - mean[h, b] - mu_c
        # treated side: (n w_i / W_g) (dy_i - cohort mean change), centred already
        coef[h * width + t, j] += n / Wg[h]
        coef[h * width + b, j] -= n / Wg[h]
        # comparison side: -(n w_i / W_C) (dy_i - mu_c), block by block
        rows = ctrl * width
        coef[rows + t, j] -= n / W_c
        coef[rows + b, j] += n / W_c
        coef[rows + T, j] -= n * (mean[ctrl, t] - mean[ctrl, b] - mu_c) / W_c
    return att, coef, msgs
