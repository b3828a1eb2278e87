"""Numbers of the DID_l estimator of de Chaisemartin and D'Haultfoeuille (2024).

Pure functions on a dense groups-by-periods grid; :mod:`spimpact.did.dcdh`
orchestrates. Notation of the paper (and of the authors' packages
``did_multiplegt_dyn`` in Stata and R): a group's baseline treatment
``d_sq`` is its treatment in its first period, ``F_g`` the first period its
treatment differs from ``d_sq``, ``T_g`` the last period at which some group
with the same baseline has not switched yet, ``S_g`` the direction of the
switch (+1 up, -1 down).

For horizon ``l``, each switcher ``g`` with ``F_g - 1 + l <= T_g`` compares
its outcome change ``Y[F_g-1+l] - Y[F_g-1]`` with the mean change of the
groups with the same baseline that have not switched by ``F_g - 1 + l``;
``DID_l`` is the signed, weighted mean of these comparisons over the
switchers (switchers up and down are combined, each counted with its sign).
Placebo ``l`` makes the same comparison of ``Y[F_g-1-l] - Y[F_g-1]``, for the
switchers and controls of effect ``l``.

Every estimate is a sum over groups of a per-group contribution, so the
variance is the sum of squared contributions (summed within clusters first).
As in the authors' estimator, the variance contributions demean each outcome
change by the mean of its cohort: controls by baseline and period, switchers
by baseline, switch date and treatment at the switch, falling back to the
union of both when a cohort holds a single group (or cluster), with the
small-sample factor ``sqrt(n / (n - 1))``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["Design", "build_design", "HorizonSums", "horizon_sums", "Totals", "combine",
           "Estimates", "estimate", "cluster_se", "cluster_cov"]


@dataclass(frozen=True)
class Design:
    """Groups on a dense ``(G, T)`` period grid after the authors' sample rules.

    Attributes
    ----------
    y, d, w : ndarray (G, T)
        Outcome (NaN where missing), treatment (NaN where the group has no
        row) and the weight of each observed outcome (0 where it is missing).
    d_sq, level : ndarray (G,)
        Baseline treatment and its integer code.
    F : ndarray (G,) of int
        First period whose treatment differs from the baseline (``T``: never).
    T_g : ndarray (G,) of int
        Last period with a not-yet-switched group of the same baseline.
    S : ndarray (G,) of int
        +1 (switches up), -1 (down), 0 (not a switcher with an estimable effect).
    d_fg : ndarray (G,)
        Treatment at ``F`` (the baseline for groups that never switch).
    cluster : ndarray (G,) of int or None
    kept : ndarray (G_in,) of bool
        Which input groups the design keeps.
    n_bidirectional : int
        Groups whose periods after they have been treated both above and
        below their baseline are set aside (the groups stay before that).
    n_flat_baseline : int
        Groups set aside in a baseline level whose groups all switch at the
        same date (or never).
    n_unknown_date : int
        Switchers not observed in the period before their first observed
        change: kept as controls up to their last period before it.
    """

    y: np.ndarray
    d: np.ndarray
    w: np.ndarray
    d_sq: np.ndarray
    level: np.ndarray
    F: np.ndarray
    T_g: np.ndarray
    S: np.ndarray
    d_fg: np.ndarray
    cluster: np.ndarray | None
    kept: np.ndarray
    n_bidirectional: int = 0
    n_flat_baseline: int = 0
    n_unknown_date: int = 0
    n_levels: int = 0
    cohort: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))

    @property
    def n_groups(self) -> int:
        return self.y.shape[0]

    @property
    def n_periods(self) -> int:
        return self.y.shape[1]


def _last_true(mask: np.ndarray) -> np.ndarray:
    """Column of the last True in each row (-1 when none)."""
    T = mask.shape[1]
    rev = np.argmax(mask[:, ::-1], axis=1)
    return np.where(mask.any(axis=1), T - 1 - rev, -1)


def build_design(y: np.ndarray, d: np.ndarray, w: np.ndarray,
                 cluster: np.ndarray | None = None) -> Design:
    """Apply the authors' sample rules to groups on a period grid.

    Parameters
    ----------
    y, d : ndarray (G, T)
        Outcome and treatment; ``d`` is NaN exactly where a group has no row,
        ``y`` also where the outcome is missing.
    w : ndarray (G, T)
        Weight of each row (ignored where ``y`` is missing).
    cluster : ndarray (G,) of int, optional

    Notes
    -----
    A group's periods from the first at which it has been treated both above
    and below its baseline are set aside, then the baseline levels whose
    groups all have the same first-switch date (none switching counts as a
    date). A switcher not observed in the
    period before its first observed change has an unknown switch date: it is
    kept as a control up to its last observed period before the change, as
    the authors do.
    """
    G, T = y.shape
    t = np.arange(T)
    present = ~np.isnan(d)
    first = np.argmax(present, axis=1)
    d_sq = d[np.arange(G), first]
    dev = d - d_sq[:, None]
    # cells after a group has been both above and below its baseline are set aside
    both = (np.cumsum(dev > 0, axis=1) > 0) & (np.cumsum(dev < 0, axis=1) > 0)
    bidir = both.any(axis=1)
    if bidir.any():
        y, d = np.where(both, np.nan, y), np.where(both, np.nan, d)
        present = ~np.isnan(d)
        dev = d - d_sq[:, None]
    changed = present & (dev != 0)
    F = np.where(changed.any(axis=1), np.argmax(changed, axis=1), T)
    kept = present.any(axis=1)
    # baseline levels need groups with different first-switch dates
    lev_codes, lev = pd.factorize(pd.Series(d_sq[kept]), sort=True)
    pairs = pd.DataFrame({"lev": lev_codes, "F": F[kept]})
    n_dates = pairs.groupby("lev")["F"].nunique().to_numpy()
    flat = n_dates[lev_codes] < 2
    kept_idx = np.flatnonzero(kept)
    n_flat = int(flat.sum())
    kept[kept_idx[flat]] = False
    sel = np.flatnonzero(kept)
    y, d, w, d_sq, F, present = y[sel], d[sel], w[sel], d_sq[sel], F[sel], present[sel]
    G = len(sel)
    y = y.copy()
    # a switch date is known only if the period before it is observed
    last_pre = _last_true(present & (t[None, :] < F[:, None]))
    unknown = (F < T) & (last_pre < F - 1)
    trunc = np.where(unknown, last_pre + 1, _last_true(present) + 1)
    if unknown.any():
        y[unknown[:, None] & (t[None, :] > last_pre[:, None])] = np.nan
        F = np.where(unknown, T, F)
    F_trunc = np.where(F < T, F, np.minimum(F, trunc))
    level, _ = pd.factorize(pd.Series(d_sq), sort=True)
    level = level.astype(np.intp)
    K = int(level.max()) + 1 if G else 0
    T_g = np.full(K, -1)
    np.maximum.at(T_g, level, F_trunc - 1)
    T_g = T_g[level]
    rows = np.arange(G)
    d_fg = np.where(F < T, d[rows, np.minimum(F, T - 1)], d_sq)
    S = np.where((F < T) & (F <= T_g), np.sign(d_fg - d_sq), 0).astype(int)
    w = np.where(np.isnan(y) | ~present, 0.0, w)
    coh, _ = pd.factorize(pd.MultiIndex.from_arrays([level, F, d_fg]))
    cl = None if cluster is None else np.asarray(cluster)[sel]
    return Design(y=y, d=d, w=w, d_sq=d_sq, level=level, F=F, T_g=T_g, S=S, d_fg=d_fg,
                  cluster=cl, kept=kept, n_bidirectional=int(bidir.sum()),
                  n_flat_baseline=n_flat, n_unknown_date=int(unknown.sum()), n_levels=K, cohort=coh.astype(np.intp))


@dataclass(frozen=True)
class HorizonSums:
    """One horizon and switch direction: per-group sums and totals.

    ``raw`` and ``raw_var`` are each group's contribution to the sum of
    signed comparisons (the estimate is their total over ``n_w``) and to the
    variance; ``delta`` the treatment changes at the horizon (for the average
    total effect) and ``delta_cum`` the changes accumulated since the switch
    (for normalised effects), both summed over the switchers.
    """

    raw: np.ndarray
    raw_var: np.ndarray
    n_w: float
    n_units: int
    delta: float
    delta_cum: float


def _cell_counts(cell: np.ndarray, mask: np.ndarray, n_cells: int,
                 cluster_rows: np.ndarray | None, n_cl: int) -> np.ndarray:
    """Rows (or distinct clusters) with ``mask`` in each cell."""
    if cluster_rows is None:
        return np.bincount(cell[mask], minlength=n_cells).astype(float)
    key = np.unique(cell[mask].astype(np.int64) * n_cl + cluster_rows[mask])
    return np.bincount(key // n_cl, minlength=n_cells).astype(float)


def _demeaned(dy: np.ndarray, w: np.ndarray, cell: np.ndarray, n_cells: int,
              ctrl: np.ndarray, sw: np.ndarray, sw_cohort: np.ndarray, n_coh: int,
              cl: np.ndarray | None, n_cl: int) -> tuple[np.ndarray, np.ndarray]:
    """The cohort mean each contributing row's change is demeaned by, and the
    small-sample factor (NaN where the authors' rule gives none).

    ``ctrl`` and ``sw`` are the control and switcher rows (flat indices);
    ``sw_cohort`` the switchers' cohort codes.
    """
    def means(idx: np.ndarray, key: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        cnt = np.bincount(key, w[idx], minlength=n)
        tot = np.bincount(key, dy[idx] * w[idx], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            return tot / cnt, cnt

    def dof(idx: np.ndarray, key: np.ndarray, n: int) -> np.ndarray:
        if cl is None:
            return np.bincount(key, minlength=n).astype(float)
        k = np.unique(key.astype(np.int64) * n_cl + cl[idx])
        return np.bincount(k // n_cl, minlength=n).astype(float)

    mean_ns, _ = means(ctrl, cell[ctrl], n_cells)
    dof_ns = dof(ctrl, cell[ctrl], n_cells)
    mean_s, _ = means(sw, sw_cohort, n_coh)
    dof_s = dof(sw, sw_cohort, n_coh)
    both = np.concatenate([ctrl, sw])
    mean_u, _ = means(both, cell[both], n_cells)
    dof_u = dof(both, cell[both], n_cells)

    def pick(own_mean: np.ndarray, own_dof: np.ndarray, union_cell: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        e = np.full(len(own_dof), np.nan)
        f = np.full(len(own_dof), np.nan)
        big = own_dof >= 2
        e[big], f[big] = own_mean[big], np.sqrt(own_dof[big] / (own_dof[big] - 1))
        nu = dof_u[union_cell]
        alt = ~big & (nu >= 2)
        e[alt], f[alt] = mean_u[union_cell[alt]], np.sqrt(nu[alt] / (nu[alt] - 1))
        return e, f

    e_c, f_c = pick(mean_ns[cell[ctrl]], dof_ns[cell[ctrl]], cell[ctrl])
    e_s, f_s = pick(mean_s[sw_cohort], dof_s[sw_cohort], cell[sw])
    return np.concatenate([e_c, e_s]), np.concatenate([f_c, f_s])


def horizon_sums(des: Design, dy: np.ndarray, nc: np.ndarray, dist: np.ndarray,
                 h: int, direction: int, d_cum: np.ndarray) -> HorizonSums | None:
    """Per-group sums of one horizon and direction (``None`` without switchers).

    Parameters
    ----------
    dy : ndarray (G, T)
        The outcome change compared at each row (NaN where not defined).
    nc : ndarray (G, T) of bool
        Rows that serve as controls (not yet switched, change defined).
    dist : ndarray (G, T) of bool
        Switcher rows of this horizon, any direction.
    h : int
        The horizon (rows before period ``h`` never contribute).
    direction : +1 or -1
    d_cum : ndarray (G,)
        Each group's accumulated treatment change up to the horizon.
    """
    G, T = dy.shape
    K = des.n_levels
    sw_mask = dist & (des.S == direction)[:, None]
    if not sw_mask.any():
        return None
    w = des.w
    t = np.arange(T)
    cell = (t[None, :] * K + des.level[:, None]).ravel()
    n_cells = T * K
    wf, dyf = w.ravel(), dy.ravel()
    ncf = nc.ravel()
    n_ctrl = np.bincount(cell, np.where(ncf, wf, 0.0), minlength=n_cells)
    sw = np.flatnonzero(sw_mask.ravel())
    n_td = np.bincount(cell[sw], wf[sw], minlength=n_cells)
    n_t = np.bincount(sw % T, wf[sw], minlength=T)
    n_w = float(n_t.sum())
    # rows that can carry weight: switchers and controls in cells with switchers
    window = ((t[None, :] >= h) & (t[None, :] <= des.T_g[:, None])
              & (des.T_g >= h)[:, None]).ravel()
    ctrl = np.flatnonzero(ncf & (n_td[cell] > 0) & window)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = n_td[cell[ctrl]] / n_ctrl[cell[ctrl]]
    ratio = np.where(np.isfinite(ratio), ratio, 0.0)
    sw_w = sw[window[sw]]
    idx = np.concatenate([ctrl, sw_w])
    coef = np.concatenate([-ratio, np.ones(len(sw_w))]) * wf[idx]
    groups = idx // T
    raw = np.bincount(groups, np.nan_to_num(coef * dyf[idx]), minlength=G)
    # variance: demean by cohort means over the rows with weight and a defined change
    ctrl_v = np.flatnonzero(ncf & (wf != 0) & (n_t[np.arange(G * T) % T] > 0))
    sw_v = sw[wf[sw] != 0]
    cl_rows = None if des.cluster is None else np.repeat(des.cluster, T)
    n_cl = 0 if des.cluster is None else int(des.cluster.max()) + 1
    e, f = _demeaned(dyf, wf, cell, n_cells, ctrl_v, sw_v, des.cohort[sw_v // T],
                     int(des.cohort.max()) + 1, cl_rows, n_cl)
    dm = np.full(G * T, np.nan)
    fac = np.full(G * T, np.nan)
    both = np.concatenate([ctrl_v, sw_v])
    dm[both], fac[both] = e, f
    term = coef * fac[idx] * (dyf[idx] - dm[idx])
    raw_var = np.bincount(groups, np.nan_to_num(term), minlength=G)
    gi = sw // T
    dev = np.abs(des.d.ravel()[sw] - des.d_sq[gi])
    return HorizonSums(raw=raw, raw_var=raw_var, n_w=n_w, n_units=len(sw),
                       delta=float(np.sum(wf[sw] * dev)),
                       delta_cum=float(np.sum(wf[sw] * d_cum[gi])))


@dataclass(frozen=True)
class Totals:
    """A horizon's estimate and per-group variance contributions."""

    estimate: float
    contrib: np.ndarray
    n_w: float
    n_units: int
    delta_d: float


def combine(parts: list[HorizonSums | None], normalized: bool) -> Totals | None:
    """Switchers up and down together: signed sums over the total weight."""
    signs = [(s, p) for s, p in zip((1, -1), parts, strict=True) if p is not None]
    if not signs:
        return None
    n_w = sum(p.n_w for _, p in signs)
    raw = np.sum([s * p.raw for s, p in signs], axis=0)
    raw_var = np.sum([s * p.raw_var for s, p in signs], axis=0)
    delta_d = sum(p.delta_cum for _, p in signs) / n_w
    scale = n_w * delta_d if normalized else n_w
    return Totals(estimate=float(np.sum(raw)) / scale, contrib=np.asarray(raw_var) / scale,
                  n_w=n_w, n_units=sum(p.n_units for _, p in signs), delta_d=delta_d)


def _lagged(y: np.ndarray, a: int, b: int) -> np.ndarray:
    """``y[t - a] - y[t - b]`` at each period ``t`` (NaN where undefined)."""
    G, T = y.shape
    out = np.full((G, T), np.nan)
    lag = max(a, b)
    if lag < T:
        out[:, lag:] = y[:, lag - a:T - a] - y[:, lag - b:T - b]
    return out


@dataclass(frozen=True)
class Estimates:
    """Effects, placebos (``None`` where not estimable) and the average total effect."""

    effects: list[Totals | None]
    placebos: list[Totals | None]
    average: Totals | None


def estimate(des: Design, effects: int, placebo: int, normalized: bool,
             directions: tuple[int, ...] = (1, -1)) -> Estimates:
    """DID_l for ``h = 1..effects``, placebos ``1..placebo`` and the average
    total effect per unit of treatment (the authors' ``delta``)."""
    G, T = des.y.shape
    t = np.arange(T)
    K = des.n_levels
    cell = t[None, :] * K + des.level[:, None]
    absdev = np.abs(des.d - des.d_sq[:, None])
    eff: list[Totals | None] = []
    pls: list[Totals | None] = []
    tot_raw = {s: np.zeros(G) for s in (1, -1)}
    tot_var = {s: np.zeros(G) for s in (1, -1)}
    tot_delta = {1: 0.0, -1: 0.0}
    for h in range(1, effects + 1):
        dy = _lagged(des.y, 0, h)
        ok = np.isfinite(dy)
        nc = ok & (des.F[:, None] > t[None, :])
        n_ctrl = np.bincount(cell.ravel(), np.where(nc, des.w, 0.0).ravel(),
                             minlength=T * K).reshape(T, K)
        at = (t[None, :] == (des.F - 1 + h)[:, None]) & (des.F - 1 + h <= des.T_g)[:, None]
        dist = at & ok & (n_ctrl.ravel()[cell] > 0) & (des.S != 0)[:, None]
        span = (t[None, :] >= des.F[:, None]) & (t[None, :] <= (des.F - 1 + h)[:, None])
        d_cum = np.nansum(np.where(span, absdev, np.nan), axis=1)
        parts = [horizon_sums(des, dy, nc, dist, h, s, d_cum) if s in directions else None
                 for s in (1, -1)]
        res = combine(parts, normalized)
        eff.append(res)
        for s, p in zip((1, -1), parts, strict=True):
            if p is not None:
                tot_raw[s] += p.raw
                tot_var[s] += p.raw_var
                tot_delta[s] += p.delta
        if h <= placebo:
            dyp = _lagged(des.y, 2 * h, h)
            okp = np.isfinite(dyp)
            ncp = nc & okp
            n_ctrl_p = np.bincount(cell.ravel(), np.where(ncp, des.w, 0.0).ravel(),
                                   minlength=T * K)
            distp = dist & okp & (n_ctrl_p[cell] > 0)
            parts_p = [horizon_sums(des, dyp, ncp, distp, h, s, d_cum) if s in directions
                       else None for s in (1, -1)]
            pls.append(combine(parts_p, normalized))
    den = tot_delta[1] + tot_delta[-1]
    average = None
    if den > 0:
        raw = tot_raw[1] - tot_raw[-1]
        raw_var = tot_var[1] - tot_var[-1]
        average = Totals(estimate=float(np.sum(raw)) / den, contrib=raw_var / den,
                         n_w=sum(e.n_w for e in eff if e is not None),
                         n_units=sum(e.n_units for e in eff if e is not None), delta_d=den)
    return Estimates(effects=eff, placebos=pls, average=average)


def cluster_se(contrib: np.ndarray, cluster: np.ndarray | None) -> float:
    """Standard error from per-group contributions, summed within clusters first."""
    c = contrib if cluster is None else np.bincount(cluster, contrib)
    return float(np.sqrt(np.sum(c ** 2)))


def cluster_cov(contribs: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    """Covariance of several estimates from their per-group contributions ``(G, k)``."""
    c = contribs if cluster is None else np.stack(
        [np.bincount(cluster, contribs[:, j]) for j in range(contribs.shape[1])], axis=1)
    return c.T @ c
