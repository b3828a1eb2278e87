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
leverage corrections do (:func:`spimpact.inference_cluster.leverage_adjusted`).
Both are also right when units are their own clusters (``G = n``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["fe_leverage_vcov"]

#: Rows x columns^2 per chunk when summing per-cluster cross-products.
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


def _cluster_crossproducts(Z: np.ndarray, w: np.ndarray, codes: np.ndarray,
                           n_clusters: int) -> np.ndarray:
    """``A_g = sum_{i in g} w_i z_i z_i'`` for every cluster, ``(G, k, k)``, in
    chunks of rows sorted by cluster (memory bounded, cost linear in rows)."""
    k = Z.shape[1]
    order = np.argsort(codes, kind="stable")
    zs, ws, cs = Z[order], w[order], codes[order]
    out = np.zeros((n_clusters, k, k))
    step = max(1, _CHUNK // max(k * k, 1))
    for start in range(0, len(cs), step):  # chunks of rows, each vectorised
        sl = slice(start, start + step)
        z, c = zs[sl], cs[sl]
        first = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        prods = np.einsum("ni,nj->nij", z * ws[sl, None], z)
        out[c[first]] += np.add.reduceat(prods, first, axis=0)
    return out


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
    G = len(codes)
    scores = np.zeros((G, Z.shape[1]))
    for j in range(Z.shape[1]):  # columns
        scores[:, j] = np.bincount(cl, weights=Z[:, j] * w * e, minlength=G)
    Ag = _cluster_crossproducts(Z, w, cl, G)
    lam_a, Q = np.linalg.eigh(A)
    root = (Q * np.sqrt(lam_a)) @ Q.T          # A^{1/2}
    iroot = (Q / np.sqrt(lam_a)) @ Q.T         # A^{-1/2}
    S = iroot @ Ag @ iroot                     # (G, k, k), eigenvalues in [0, 1]
    lam, V = np.linalg.eigh(S)
    power = 1.0 if kind == "cv3" else 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(lam < 1 - 1e-9, np.clip(1 - lam, 1e-300, None) ** -power, 1.0)
    t = np.einsum("gji,gj->gi", V, (iroot @ scores.T).T)      # V' A^{-1/2} s_g
    adj = np.einsum("ij,gjk,gk->gi", root, V, f * t)          # A^{1/2} V f V' A^{-1/2} s_g
    d = np.linalg.solve(A, adj.T).T[:, :p]                    # A^{-1} u_g
    return b[:p], d.T @ d
