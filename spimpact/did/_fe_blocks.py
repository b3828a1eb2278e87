"""Fixed-effects regressions of balanced panels by cohort blocks (no covariates).

Without covariates every regressor of the Sun-Abraham, imputation, two-stage
and linear ETWFE regressions (period dummies, cohort x period cells, BJS
leads) is a function of the unit's cohort and the period only. On a balanced
panel (every unit observed in every period, weights constant within units)
the units of a cohort then share their design rows, and the weighted OLS with
unit effects absorbed needs only cohort x period sums:

* a block ``b`` of units shares the design rows ``R_b`` (``T x q``) and the
  periods ``P_b`` the regression uses; its unit-demeaned design is
  ``Rd_b = R_b - mean_{t in P_b} R_b[t]`` on ``P_b``;
* ``M = sum_b W_b Rd_b' Rd_b`` and ``rhs = sum_b Rd_b' sum_{i in b} w_i yd_i``
  (``yd`` the outcome minus the unit's mean over ``P_b``), so the
  coefficients cost one pass over the outcomes;
* residuals are ``e_it = yd_it - Rd_b[t] beta``; a unit's score is
  ``w_i e_i' R_b``, so the influence function of coefficient ``j`` is
  ``w_i e_i' (n R_b M^-1)[:, j]``: a
  :class:`~spimpact.inference.FactoredInfluence` on the cohort blocks whose
  basis is the weighted residuals, never an ``n x k`` matrix.

Because ``sum_{t in P_b} e_it = 0`` for every unit, a block's coefficient rows
are defined up to a constant; they are centred over ``P_b``, and a block's
column whose coefficients are rounding noise (a cell its units do not
influence, such as another cohort's Sun-Abraham cell) is set to exactly zero,
as the dense influence functions' support rule
(:func:`spimpact.inference_roles.leverage_adjusted`) reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..inference import FactoredInfluence
from ._fe import FESample, _solve_checked

__all__ = ["WidePanel", "wide_panel", "BlockFit", "block_ols", "block_coef", "finish_values",
           "cell_regression"]

#: A block's influence coefficients for a column below this fraction of the
#: column's largest are rounding noise (structural zeros), set to zero.
ZERO_COEF = 1e-9


@dataclass(frozen=True)
class WidePanel:
    """A panel in wide form with its units grouped by block.

    ``Y[take[j]]`` holds the outcomes by period of sample unit ``order[j]``
    (``Y`` is the rows' outcomes reshaped when they come sorted by unit and
    period, no copy); block ``h`` holds the positions ``bounds[h]:bounds[h + 1]``
    of that order; ``w`` the units' weights in the same order. ``X``
    (``(n, T, q)``, indexed as ``Y``) holds the covariates by period when they
    were asked for. ``mask`` (``(n, T)`` float, indexed as ``Y``) is 1 where a
    unit is observed, when an unbalanced panel was accepted (``Y`` and ``X``
    are 0 elsewhere); ``None`` for a balanced panel.
    """

    Y: np.ndarray
    take: np.ndarray
    w: np.ndarray
    order: np.ndarray
    counts: np.ndarray
    constant_weights: bool
    X: np.ndarray | None = None
    mask: np.ndarray | None = None

    @property
    def bounds(self) -> np.ndarray:
        return np.r_[0, np.cumsum(self.counts)].astype(np.intp)

    @property
    def n_blocks(self) -> int:
        return len(self.counts)

    @property
    def block_weight(self) -> np.ndarray:
        """``(n_blocks,)`` total weight of each block."""
        b = self.bounds
        return np.array([self.w[b[h]:b[h + 1]].sum() for h in range(self.n_blocks)])


def wide_panel(s: FESample, unit_block: np.ndarray, n_blocks: int, *,
               covariates: bool = False, unbalanced: bool = False) -> WidePanel | None:
    """``s`` in wide form by blocks, or ``None`` when the block formulas do not
    apply: covariates (unless ``covariates=True``: then they come by period in
    ``X``), a unit missing a period (unless ``unbalanced=True``: then ``mask``
    marks the observed periods), or weights varying within a unit."""
    n, T = s.n_units, s.n_periods
    if (s.X.shape[1] and not covariates) or n == 0 or (len(s.y) != n * T and not unbalanced):
        return None
    constant = bool(np.all(s.unit_w == s.unit_w[0]))
    if not (np.all(s.w == s.unit_w[0]) if constant else np.array_equal(s.w, s.unit_w[s.unit])):
        return None
    block = np.asarray(unit_block)
    key = block.astype(np.int16) if n_blocks < 2**15 else block
    order = np.argsort(key, kind="stable")  # few blocks: a linear radix sort
    mask = None
    if (len(s.y) == n * T
            and np.array_equal(s.time.reshape(n, T), np.broadcast_to(np.arange(T), (n, T)))
            and np.array_equal(s.unit.reshape(n, T),
                               np.broadcast_to(np.arange(n)[:, None], (n, T)))):
        Y, take = s.y.reshape(n, T), order  # rows sorted by unit, then period (the usual case)
        X = s.X.reshape(n, T, -1) if s.X.shape[1] else None
    else:
        balanced = not (np.bincount(s.unit, minlength=n) != T).any()  # pairs are unique
        if not (balanced or unbalanced):
            return None
        pos = np.empty(n, dtype=np.intp)
        pos[order] = np.arange(n)
        at = pos[s.unit] * T + s.time
        Y = np.empty((n, T)) if balanced else np.zeros((n, T))
        Y.ravel()[at] = s.y
        X = None
        if s.X.shape[1]:
            rows = np.empty((n * T, s.X.shape[1])) if balanced else np.zeros((n * T, s.X.shape[1]))
            rows[at] = s.X
            X = rows.reshape(n, T, -1)
        if not balanced:
            mask = np.zeros((n, T))
            mask.ravel()[at] = 1.0
        take = np.arange(n)
    w = s.unit_w[order]
    return WidePanel(Y, take, w, order, np.bincount(block, minlength=n_blocks), constant, X,
                     mask)


@dataclass(frozen=True)
class BlockFit:
    """Coefficients ``coef`` (q,), ``bread = M^-1`` (q, q), and each block's
    fitted deviations ``dev[b, t] = (R_b[t] - Rbar_b) coef`` (every period, also
    those outside ``P_b``)."""

    coef: np.ndarray
    bread: np.ndarray
    dev: np.ndarray


def block_ols(wp: WidePanel, P: np.ndarray, R: np.ndarray, names: Sequence[str], what: str,
              out: np.ndarray) -> BlockFit:
    """Weighted OLS of the outcome on unit effects and the block design ``R``
    (``(n_blocks, T, q)``) over the periods ``P`` (``(n_blocks, T)`` bool).

    ``out`` (``(n, T)``, block order) receives ``Y_it - ybar_i - dev[b, t]`` for
    every period, ``ybar_i`` the unit's mean over ``P_b``: the residuals on
    ``P_b`` and, elsewhere, the outcome net of the fitted unit and period
    effects (the imputation estimator's effects). Raises as
    :func:`spimpact.did._fe.within_ols` for regressors without variation or
    collinear ones.
    """
    nb, T, q = R.shape
    bounds = wp.bounds
    Pf = P.astype(float)
    n_p = Pf.sum(axis=1)
    Rbar = np.einsum("bt,btq->bq", Pf, R) / np.maximum(n_p, 1)[:, None]
    Rd = (R - Rbar[:, None, :]) * Pf[:, :, None]
    M = np.zeros((q, q))
    rhs = np.zeros(q)
    for h in range(nb):  # blocks: a handful of cohorts
        lo, hi = bounds[h], bounds[h + 1]
        if hi == lo:
            continue
        E = out[lo:hi]
        np.take(wp.Y, wp.take[lo:hi], axis=0, out=E)
        E -= (E @ (Pf[h] / n_p[h]))[:, None]
        wb = wp.w[lo:hi]
        ysum = E.sum(axis=0) * wb[0] if wp.constant_weights else wb @ E
        M += wb.sum() * (Rd[h].T @ Rd[h])
        rhs += Rd[h].T @ ysum
    bread = _solve_checked(M, list(names), what) if q else np.zeros((0, 0))
    coef = bread @ rhs if q else np.zeros(0)
    dev = (R - Rbar[:, None, :]) @ coef
    for h in range(nb):
        out[bounds[h]:bounds[h + 1]] -= dev[h]
    return BlockFit(coef, bread, dev)


def block_coef(R: np.ndarray, P: np.ndarray, B: np.ndarray, n: int) -> np.ndarray:
    """``(n_blocks, T, k)`` influence coefficients ``n R_b[t] B`` on the periods
    ``P_b`` (0 elsewhere), centred over ``P_b`` (the residuals sum to zero there),
    with a block's column set to 0 when it is rounding noise."""
    C = n * (R @ B)
    Pf = P.astype(float)
    n_p = np.maximum(Pf.sum(axis=1), 1)
    C -= (np.einsum("bt,btk->bk", Pf, C) / n_p[:, None])[:, None, :]
    C *= Pf[:, :, None]
    big = np.abs(C).max(axis=1)  # (blocks, k)
    scale = big.max(axis=0, initial=0.0)
    C[np.broadcast_to((big <= ZERO_COEF * scale)[:, None, :], C.shape)] = 0.0
    return C


def finish_values(vals: np.ndarray, wp: WidePanel) -> None:
    """Turn ``vals[:, :T]`` (per-unit residuals by period) into the factored
    basis in place: weighted by the unit's weight, with the weight itself in the
    last column (so cohort-share influences stay on the basis)."""
    T = vals.shape[1] - 1
    if not wp.constant_weights:
        vals[:, :T] *= wp.w[:, None]
    elif wp.w[0] != 1.0:
        vals[:, :T] *= wp.w[0]
    vals[:, T] = wp.w


def cell_regression(
    s: FESample, uc: np.ndarray, cg: np.ndarray, ct: np.ndarray, Tw: int, labels: Sequence,
    what: str, order: np.ndarray, n_ref: int,
) -> tuple[np.ndarray, FactoredInfluence] | None:
    """The regression of the outcome on unit effects, period dummies (periods
    ``1..Tw-1``) and one dummy per cohort x period cell ``(cg[j], ct[j])``, over
    the periods before ``Tw``, by cohort blocks (Sun-Abraham's and the linear
    ETWFE's regression without covariates).

    ``uc`` holds each unit's cohort position (``inf``: a control unit). Returns
    the cell coefficients followed by ``n_ref`` zeros (reference cells), both
    permuted by ``order``, and their influence functions factored on the
    blocks; ``None`` when the block formulas do not apply (see :func:`wide_panel`).
    """
    groups = np.unique(uc[np.isfinite(uc)]).astype(int)
    G, T = len(groups), s.n_periods
    if G == 0 or Tw < 2 or (uc < 0).any():
        return None
    unit_block = np.full(s.n_units, G, dtype=np.intp)
    fin = np.isfinite(uc)
    unit_block[fin] = np.searchsorted(groups, uc[fin].astype(int))
    wp = wide_panel(s, unit_block, G + 1)
    if wp is None:
        return None
    K, n_t = len(cg), Tw - 1
    # design by block: period dummies (periods 1..Tw-1), then one column per cell
    R = np.zeros((G + 1, T, n_t + K))
    R[:, np.arange(1, Tw), np.arange(n_t)] = 1.0
    R[np.searchsorted(groups, cg), ct, n_t + np.arange(K)] = 1.0
    P = np.zeros((G + 1, T), dtype=bool)
    P[:, :Tw] = True
    names = ([f"period {labels[p]!s}" for p in range(1, Tw)]
             + [f"cohort {labels[g]!s} x period {labels[t]!s}"
                for g, t in zip(cg, ct, strict=True)])
    n = s.n_units
    vals = np.empty((n, T + 1))
    fit = block_ols(wp, P, R, names, what, vals[:, :T])
    vals[:, Tw:T] = 0.0
    finish_values(vals, wp)
    C = np.zeros((G + 1, T + 1, K + n_ref))
    C[:, :T, :K] = block_coef(R, P, fit.bread[:, n_t:], n)
    coef = C.reshape((G + 1) * (T + 1), K + n_ref)[:, order]
    att = np.r_[fit.coef[n_t:], np.zeros(n_ref)][order]
    return att, FactoredInfluence.from_block_order(wp.order, wp.counts, vals, coef, weight_col=T)
