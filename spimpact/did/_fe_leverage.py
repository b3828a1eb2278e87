"""Leverage-corrected cluster-robust variances of a two-way fixed-effects regression.

The unit effects are absorbed by weighted within-unit demeaning and the period
effects enter as explicit dummies, so that for clusters that nest units (every
unit in one cluster, as in a :class:`~spimpact.Panel`) the design ``Z`` carries
everything the hat matrix needs: dropping a cluster drops its units and their
effects, and leaves the other units' demeaned rows unchanged.

With ``A = Z'WZ``, ``A_g`` cluster ``g``'s part of it and ``s_g = Z_g'W_g e_g``
its score, two identities keep the work at ``k x k`` per cluster (``k`` the
columns of ``Z``), never ``n_g x n_g``:

* leave-one-cluster-out: ``b_(-g) - b = -(A - A_g)^{-1} s_g``
  ``= -A^{-1} (I - A_g A^{-1})^{-1} s_g``, so the cluster jackknife (CV3,
  MacKinnon, Nielsen & Webb 2023) is exact;
* Bell-McCaffrey CR2's ``Z_g'W_g^{1/2} (I - H_gg)^{-1/2} W_g^{1/2} e_g``
  ``= (I - A_g A^{-1})^{-1/2} s_g`` (the push-through identity), computed from
  the eigen-decomposition of ``A^{-1/2} A_g A^{-1/2}`` (eigenvalues in
  ``[0, 1]``).

A direction that only one cluster identifies (eigenvalue 1: leaving the
cluster out loses the coefficient) is left unadjusted, as the influence-function
leverage corrections do (:func:`spimpact.inference_roles.leverage_adjusted`).
Both are also right when units are their own clusters (``G = n``).
"""

from __future__ import annotations

import numpy as np

from ..inference_roles import leverage_factor
from ._fe_blocks import WidePanel

__all__ = ["fe_leverage_vcov", "fe_block_vcov", "fe_block_units"]

#: Floats per chunk of padded cluster blocks (about 160 MB).
_CHUNK = 20_000_000


def _demean(values: np.ndarray, unit: np.ndarray, w: np.ndarray, n_units: int) -> np.ndarray:
    """Weighted within-unit demeaning of the columns of ``values`` (n, k)."""
    sw = np.bincount(unit, weights=w, minlength=n_units)
    sw = np.where(sw > 0, sw, 1.0)
    out = np.empty_like(values)
    for j in range(values.shape[1]):  # columns, not rows
        m = np.bincount(unit, weights=w * values[:, j], minlength=n_units) / sw
        out[:, j] = values[:, j] - m[unit]
    return out


def _roots(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``A^{1/2}`` and ``A^{-1/2}`` of a symmetric positive definite ``A``."""
    lam, Q = np.linalg.eigh(A)
    return (Q * np.sqrt(lam)) @ Q.T, (Q / np.sqrt(lam)) @ Q.T


def _column_space_scores(Ag: np.ndarray, s: np.ndarray, root: np.ndarray, iroot: np.ndarray,
                         power: float) -> np.ndarray:
    """``(I - A_g A^{-1})^(-power) s_g`` for a batch of clusters (``Ag``
    ``(c, k, k)``, scores ``s`` ``(c, k)``; ``root``, ``iroot``: ``A^{+-1/2}``)
    from the eigen-decomposition of ``A^{-1/2} A_g A^{-1/2}`` (eigenvalues in
    ``[0, 1]``), with :func:`leverage_factor`'s rule for eigenvalues near 1."""
    lam, V = np.linalg.eigh(iroot @ Ag @ iroot)
    t = np.einsum("cji,cj->ci", V, s @ iroot) * leverage_factor(lam, power)  # V' A^-1/2 s_g
    return (V @ t[..., None])[..., 0] @ root


def _adjusted_scores(Zw: np.ndarray, ew: np.ndarray, cl: np.ndarray, G: int, A: np.ndarray,
                     power: float) -> np.ndarray:
    """``u_g = Zw_g' (I - H_gg)^(-power) ew_g`` for every cluster, ``(G, k)``, with
    ``H_gg = Zw_g A^{-1} Zw_g'`` (``Zw``, ``ew``: rows times the root of their weight).

    Clusters are padded to blocks of their size, in chunks of similar sizes, and the
    matrix function is taken in the smaller of the two spaces: the rows' (``n_g x n_g``,
    e.g. a unit's periods) or the columns' (``k x k``, e.g. an ICB's thousands of rows;
    by the push-through identity ``Zw_g' f(H_gg) = f(A_g A^{-1}) Zw_g'``)."""
    n, k = Zw.shape
    sizes = np.bincount(cl, minlength=G)
    by_size = np.argsort(sizes, kind="stable")           # clusters, smallest first
    rank = np.empty(G, dtype=np.intp)
    rank[by_size] = np.arange(G)
    order = np.lexsort((np.arange(n), rank[cl]))          # rows grouped by cluster
    s_sorted = sizes[by_size]
    first_row = np.r_[0, np.cumsum(s_sorted)[:-1]]
    pos = np.arange(n) - first_row[rank[cl[order]]]       # row's place in its block
    root, iroot = _roots(A)
    Ainv = iroot @ iroot
    u = np.zeros((G, k))
    i = 0
    while i < G:  # chunks of clusters (a handful), each one batched matrix algebra
        m_all = s_sorted[i:]
        cost = np.arange(1, G - i + 1) * m_all * np.maximum(m_all, k)
        j = i + max(1, int(np.searchsorted(cost, _CHUNK, side="right")))
        m = int(s_sorted[j - 1])
        rows = order[first_row[i]:first_row[j - 1] + m]
        blk = rank[cl[rows]] - i
        Zp = np.zeros((j - i, m, k))
        ep = np.zeros((j - i, m))
        Zp[blk, pos[first_row[i]:first_row[j - 1] + m]] = Zw[rows]
        ep[blk, pos[first_row[i]:first_row[j - 1] + m]] = ew[rows]
        Zt = np.swapaxes(Zp, 1, 2)
        if m <= k:
            adj = _hat_adjusted(Zp @ Ainv @ Zt, ep, power)  # (c, m, m) hat blocks
            u[by_size[i:j]] = (Zt @ adj[..., None])[..., 0]
        else:
            u[by_size[i:j]] = _column_space_scores(Zt @ Zp, (Zt @ ep[..., None])[..., 0],
                                                   root, iroot, power)
        i = j
    return u


def fe_leverage_vcov(
    y: np.ndarray, exog: np.ndarray, X: np.ndarray, w: np.ndarray, unit: np.ndarray,
    time: np.ndarray, cluster: np.ndarray, kind: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and leverage-corrected variance of ``exog``'s columns in
    ``y ~ exog + X + unit effects + period effects`` (weights ``w``).

    ``kind="cv3"`` returns ``sum_g d_g d_g'`` with ``d_g = b_(-g) - b`` (the
    caller applies ``(G-1)/G``); ``kind="cr2"`` returns
    ``A^{-1} (sum_g u_g u_g') A^{-1}`` with the CR2-adjusted scores ``u_g``.
    ``cluster`` holds a cluster code per row (units nested in clusters).
    """
    if kind not in ("cv3", "cr2"):
        raise ValueError(f"kind must be 'cv3' or 'cr2', not {kind!r}")
    unit = np.asarray(unit)
    n_units = int(unit.max()) + 1
    periods, t_code = np.unique(time, return_inverse=True)
    dummies = np.zeros((len(y), len(periods) - 1))
    later = t_code > 0
    dummies[np.flatnonzero(later), t_code[later] - 1] = 1.0
    p = exog.shape[1]
    raw = np.column_stack([exog, X, dummies, y])
    dm = _demean(raw, unit, w, n_units)
    Z, yt = dm[:, :-1], dm[:, -1]
    keep = np.r_[np.ones(p, dtype=bool), np.abs(Z[:, p:]).max(axis=0) > 1e-12]
    Z = Z[:, keep]  # period dummies absorbed by the unit effects carry nothing
    A = Z.T @ (w[:, None] * Z)
    b = np.linalg.solve(A, Z.T @ (w * yt))
    e = yt - Z @ b
    codes, cl = np.unique(cluster, return_inverse=True)
    rw = np.sqrt(w)
    u = _adjusted_scores(Z * rw[:, None], e * rw, cl, len(codes), A,
                         1.0 if kind == "cv3" else 0.5)
    d = np.linalg.solve(A, u.T).T[:, :p]                      # A^{-1} u_g
    return b[:p], d.T @ d


#: Units per chunk of a block's residuals, and clusters per chunk of ``k x k``
#: cluster matrices, in the cohort-block variance.
_UNIT_CHUNK = 65_536
_CLUSTER_FLOATS = 8_000_000


def fe_block_vcov(
    wp: WidePanel, R: np.ndarray, bread: np.ndarray, E: np.ndarray,
    cluster: np.ndarray | None, p: int, kind: str,
) -> np.ndarray:
    """:func:`fe_leverage_vcov` (``kind`` ``"cv3"`` or ``"cr2"``) or the plain
    cluster-robust sandwich (``kind="cluster"``: ``A^{-1} sum_g s_g s_g' A^{-1}``)
    of the first ``p`` coefficients of a balanced panel fitted by cohort blocks
    (:func:`spimpact.did._fe_blocks.block_ols` with every period used).

    ``R`` (``(n_blocks, T, q)``) is each block's design, ``bread = A^{-1}``,
    ``E`` (``(n, T)``, block order) the residuals and ``cluster`` a cluster code
    per unit in block order (``None``: units are the clusters). The units of a
    block share their demeaned design ``Z_b = R_b - mean_t R_b``, so:

    * units as clusters: unit ``i``'s hat block is ``w_i K_b`` with
      ``K_b = Z_b A^{-1} Z_b' = V diag(lam) V'`` (one ``T x T`` eigen-decomposition
      per block) and its adjusted score
      ``u_i = w_i Z_b' V (f(w_i lam) * V' e_i)``, ``f = (1 - .)^-power``;
    * clusters of several units: ``A_g = sum_b W_gb Z_b' Z_b`` (``W_gb`` the
      weight of block ``b``'s units in cluster ``g``) and
      ``s_g = sum_b Z_b' sum_{i in g, b} w_i e_i``, then the ``k x k`` formulas
      of :func:`fe_leverage_vcov`, a chunk of clusters at a time.

    Nothing of size rows x columns is formed: the cost is one pass over ``E``.
    """
    if kind not in ("cv3", "cr2", "cluster"):
        raise ValueError(f"kind must be 'cv3', 'cr2' or 'cluster', not {kind!r}")
    power = {"cv3": 1.0, "cr2": 0.5, "cluster": 0.0}[kind]
    nb, T, q = R.shape
    Z = R - R.mean(axis=1, keepdims=True)
    bounds, w = wp.bounds, wp.w
    meat = np.zeros((q, q))
    if cluster is not None:
        codes, cl = np.unique(cluster, return_inverse=True)
        if len(codes) == len(cl):
            cluster = None  # every unit its own cluster
    if cluster is None:
        for h in range(nb):
            if bounds[h + 1] == bounds[h]:
                continue
            lam, V = np.linalg.eigh(Z[h] @ bread @ Z[h].T)
            ZV = Z[h].T @ V
            inner = np.zeros((T, T))
            for lo in range(bounds[h], bounds[h + 1], _UNIT_CHUNK):
                hi = min(lo + _UNIT_CHUNK, bounds[h + 1])
                wc = w[lo:hi, None]
                S = E[lo:hi] @ V
                S *= wc
                if power:
                    S *= leverage_factor(wc * lam, power)
                inner += S.T @ S
            meat += ZV @ inner @ ZV.T
    else:
        from scipy import sparse

        G = len(codes)
        block = np.repeat(np.arange(nb), np.diff(bounds))
        W = np.bincount(cl * nb + block, weights=w, minlength=G * nb).reshape(G, nb)
        s = np.zeros((G, q))
        for h in range(nb):
            lo, hi = bounds[h], bounds[h + 1]
            if hi == lo:
                continue
            sums = sparse.csr_matrix((w[lo:hi], (cl[lo:hi], np.arange(hi - lo))),
                                     shape=(G, hi - lo)) @ E[lo:hi]
            s += sums @ Z[h]
        if not power:
            meat = s.T @ s
        else:
            B = np.einsum("btk,btl->bkl", Z, Z).reshape(nb, q * q)
            root, iroot = _roots(np.linalg.inv(bread))
            step = max(1, _CLUSTER_FLOATS // (q * q))
            for lo in range(0, G, step):
                Ag = (W[lo:lo + step] @ B).reshape(-1, q, q)
                u = _column_space_scores(Ag, s[lo:lo + step], root, iroot, power)
                meat += u.T @ u
    Bp = bread[:, :p]
    return Bp.T @ meat @ Bp


def _hat_adjusted(H: np.ndarray, e: np.ndarray, power: float) -> np.ndarray:
    """``(I - H_c)^-power e_c`` for a batch of hat blocks ``H`` (``(c, m, m)``),
    with :func:`leverage_factor`'s rule for eigenvalues near 1.

    For cv3 (``power=1``), blocks whose trace is below ``1 - 1e-6`` (every
    eigenvalue then is, the usual case with many units) are solved directly,
    which is several times faster than their eigen-decompositions; the others,
    and every block for CR2, go through the eigen-decomposition."""
    out = np.empty_like(e)
    eig = np.ones(len(H), dtype=bool)
    if power == 1.0:
        eig = np.einsum("cii->c", H) >= 1.0 - 1e-6
        easy = np.flatnonzero(~eig)
        if len(easy):
            out[easy] = np.linalg.solve(np.eye(H.shape[1]) - H[easy], e[easy][..., None])[..., 0]
    hard = np.flatnonzero(eig)
    if len(hard):
        lam, V = np.linalg.eigh(H[hard])
        t = np.einsum("cji,cj->ci", V, e[hard]) * leverage_factor(lam, power)
        out[hard] = (V @ t[..., None])[..., 0]
    return out


def fe_block_units(
    wp: WidePanel, R: np.ndarray, names: list[str], what: str, cluster: np.ndarray | None,
    p: int, kind: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients of the first ``p`` columns of ``y ~ R + X + unit effects``,
    ``R`` (``(n_blocks, T, k0)``: the cohort's regressors and period dummies)
    shared by a cohort's units, the time-varying covariates ``X`` (``wp.X``, or
    none) the units' own, on a balanced panel or, with ``wp.mask``, an
    unbalanced one; with their variance as :func:`fe_block_vcov` (``kind``
    ``"cv3"``, ``"cr2"`` or ``"cluster"``).

    With ``m_i`` unit ``i``'s observed periods (``n_i`` of them), its demeaned
    design is ``Z_i = diag(m_i) (R_b - 1 rbar_i')``, ``rbar_i = R_b' m_i / n_i``,
    so ``sum_i w_i Z_i'Z_i = R_b' (diag(sum w m) - sum w m m' / n) R_b`` needs
    per-block ``T x T`` sums; the covariates' terms need per-block sums of
    ``w Xd_i`` and ``sum w Xd_i' Xd_i`` (``Xd_i``, ``yd_i`` demeaned over the
    observed periods). Each unit's hat block
    ``w_i [Z_i Xd_i] A^-1 [Z_i Xd_i]'`` is its own: units as clusters take one
    ``T x T`` solve (cv3) or eigen-decomposition per unit, batched in chunks;
    clusters of several units the ``k x k`` formulas from per-cluster sums.
    Nothing of size rows x columns beyond the covariates is formed."""
    from ._fe import _solve_checked

    nb, T, k0 = R.shape
    X = wp.X if wp.X is not None else np.zeros((len(wp.Y), T, 0))
    q = X.shape[2]
    k = k0 + q
    power = {"cv3": 1.0, "cr2": 0.5, "cluster": 0.0}[kind]
    bounds, w = wp.bounds, wp.w
    n = len(w)
    M = np.ones((n, T)) if wp.mask is None else wp.mask[wp.take]
    n_obs = M.sum(axis=1)
    Yd = wp.Y[wp.take]  # copies; 0 where not observed
    Xd = X[wp.take]
    Yd -= (Yd.sum(axis=1) / n_obs)[:, None]
    Xd -= (Xd.sum(axis=1) / n_obs[:, None])[:, None, :]
    Yd *= M
    Xd *= M[..., None]
    A, rhs = np.zeros((k, k)), np.zeros(k)
    for h in range(nb):
        lo, hi = bounds[h], bounds[h + 1]
        if hi == lo:
            continue
        wb, Xh, Yh, Mh = w[lo:hi], Xd[lo:hi], Yd[lo:hi], M[lo:hi]
        inner = np.diag(wb @ Mh) - (Mh * (wb / n_obs[lo:hi])[:, None]).T @ Mh
        A[:k0, :k0] += R[h].T @ inner @ R[h]
        A[:k0, k0:] += R[h].T @ np.einsum("i,itq->tq", wb, Xh)
        A[k0:, k0:] += np.einsum("i,itq,itr->qr", wb, Xh, Xh)
        rhs[:k0] += R[h].T @ (wb @ Yh)
        rhs[k0:] += np.einsum("i,itq,it->q", wb, Xh, Yh)
    A[k0:, :k0] = A[:k0, k0:].T
    bread = _solve_checked(A, names, what)
    b = bread @ rhs
    E = Yd  # the residuals, in place (0 where not observed)
    for h in range(nb):
        lo, hi = bounds[h], bounds[h + 1]
        v, Mh = R[h] @ b[:k0], M[lo:hi]
        E[lo:hi] -= Mh * (v[None, :] - ((Mh @ v) / n_obs[lo:hi])[:, None])
        E[lo:hi] -= Xd[lo:hi] @ b[k0:]
    meat = np.zeros((k, k))
    cl: np.ndarray | None = None
    if cluster is not None:
        codes, cl = np.unique(cluster, return_inverse=True)
        if len(codes) == n:
            cl = None  # every unit its own cluster
    if cl is None:
        # unit i's hat block w_i [Z_i Xd_i] A^-1 [Z_i Xd_i]' from the block's
        # K = R Bzz R' and Mz = R Bzx, the unit's periods and its covariates
        Bzz, Bzx, Bxx = bread[:k0, :k0], bread[:k0, k0:], bread[k0:, k0:]
        for h in range(nb):
            K, Mz = R[h] @ Bzz @ R[h].T, R[h] @ Bzx
            for lo in range(bounds[h], bounds[h + 1], _UNIT_CHUNK // 8):
                hi = min(lo + _UNIT_CHUNK // 8, bounds[h + 1])
                Xi, Mi, ni, wc = Xd[lo:hi], M[lo:hi], n_obs[lo:hi, None], w[lo:hi, None]
                if power:
                    g = (Mi @ K) / ni                       # K m_i / n_i
                    sg = np.einsum("ct,ct->c", g, Mi)[:, None, None] / ni[:, :, None]
                    H = K - g[:, None, :] - g[:, :, None] + sg
                    ZB = Mz - ((Mi @ Mz) / ni)[:, None, :]  # (R - 1 rbar') Bzx
                    XM = ZB @ np.swapaxes(Xi, 1, 2)
                    H += XM + np.swapaxes(XM, 1, 2) + Xi @ Bxx @ np.swapaxes(Xi, 1, 2)
                    H *= (Mi[:, :, None] * Mi[:, None, :]) * wc[:, :, None]
                    adj = _hat_adjusted(H, E[lo:hi], power)
                else:
                    adj = E[lo:hi].copy()
                adj *= wc
                uz = adj @ R[h] - ((Mi @ R[h]) / ni) * adj.sum(axis=1, keepdims=True)
                u = np.concatenate([uz, np.einsum("ctq,ct->cq", Xi, adj)], axis=1)
                meat += u.T @ u
    else:
        from scipy import sparse

        G = len(codes)
        s_g = np.zeros((G, k))
        AZZ = np.zeros((G, k0, k0)) if power else None  # sum_{i in g} w_i Z_i'Z_i
        ZS = np.zeros((G, k0, q))               # sum_b R_b' sum_{i in g, b} w_i Xd_i
        XX = np.zeros((G, q, q))                # sum_{i in g} w_i Xd_i' Xd_i
        for h in range(nb):
            lo, hi = bounds[h], bounds[h + 1]
            if hi == lo:
                continue
            ind = sparse.csr_matrix((w[lo:hi], (cl[lo:hi], np.arange(hi - lo))),
                                    shape=(G, hi - lo))
            Xh, Eh, Mh = Xd[lo:hi], E[lo:hi], M[lo:hi]
            s_g[:, :k0] += (ind @ Eh) @ R[h]
            s_g[:, k0:] += ind @ np.einsum("itq,it->iq", Xh, Eh)
            if AZZ is not None:
                # R' diag(D_g) R - R' Q_g R, D_g = sum w m, Q_g = sum w m m' / n
                if wp.mask is None:  # every period: Z_b'Z_b times the cluster's weight
                    Zh = R[h] - R[h].mean(axis=0)
                    Wg = np.asarray(ind.sum(axis=1)).ravel()
                    AZZ += Wg[:, None, None] * (Zh.T @ Zh)[None]
                else:
                    D = ind @ Mh                                       # (G, T)
                    Q = (ind @ (np.einsum("it,is->its", Mh, Mh) / n_obs[lo:hi, None, None]
                                ).reshape(hi - lo, T * T)).reshape(G, T, T)
                    RR = (R[h][:, :, None] * R[h][:, None, :]).reshape(T, k0 * k0)
                    AZZ += (D @ RR).reshape(G, k0, k0)
                    AZZ -= np.einsum("tk,gtl->gkl", R[h], Q @ R[h], optimize=True)
                S = (ind @ Xh.reshape(hi - lo, T * q)).reshape(G, T, q)
                ZS += np.einsum("tk,gtq->gkq", R[h], S)
                XX += (ind @ np.einsum("itq,itr->iqr", Xh, Xh).reshape(hi - lo, q * q)
                       ).reshape(G, q, q)
        if AZZ is None:
            meat = s_g.T @ s_g
        else:
            root, iroot = _roots(A)
            step = max(1, _CLUSTER_FLOATS // (k * k))
            for lo in range(0, G, step):
                sl = slice(lo, lo + step)
                Ag = np.empty((len(AZZ[sl]), k, k))
                Ag[:, :k0, :k0] = AZZ[sl]
                Ag[:, :k0, k0:] = ZS[sl]
                Ag[:, k0:, :k0] = np.swapaxes(ZS[sl], 1, 2)
                Ag[:, k0:, k0:] = XX[sl]
                u = _column_space_scores(Ag, s_g[sl], root, iroot, power)
                meat += u.T @ u
    Bp = bread[:, :p]
    return b[:p], Bp.T @ meat @ Bp
