"""Who is behind each estimate, and how much each cluster weighs.

An estimate's influence functions are nonzero on the units behind it: its
cohort's units (the *treated* role) and its comparison units. This module
counts them and their clusters (:func:`cluster_support`, and
:class:`RowBlockLeverage` while an estimator fills its influence functions
a block at a time) and applies the cv3/cr2 leverage corrections, each
cluster's treated and comparison parts divided by ``(1 - h)`` or
``sqrt(1 - h)`` with ``h`` its share of the role's weight
(:func:`leverage_adjusted`, :func:`leverage_factor`), for dense and factored
(:class:`~spimpact.inference.FactoredInfluence`) influence functions alike.
The inference choices that use them, and the warnings built on the counts,
are in :mod:`spimpact.inference_cluster`, which re-exports the public names.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .inference import FactoredInfluence

__all__ = [
    "cluster_support",
    "support_frame",
    "leverage_adjusted",
    "leverage_factor",
    "RowBlockLeverage",
    "H_MAX_GAP",
]


# ------------------------------------------------------------------ support
def _unit_cluster(cluster: np.ndarray | None, n: int) -> tuple[np.ndarray, int]:
    if cluster is None:
        return np.arange(n), n
    cluster = np.asarray(cluster, dtype=np.intp)
    return cluster, int(cluster.max()) + 1 if len(cluster) else 0


def _count_matrix(codes: np.ndarray, n_codes: int, mask: Any, cluster: np.ndarray,
                  n_cl: int) -> np.ndarray:
    """``(n_cl, k)`` numbers of units in each cluster whose row of ``mask``
    (``(n, k)`` boolean) is set."""
    from scipy import sparse

    ind = sparse.csr_matrix((np.ones(len(cluster)), (cluster, np.arange(len(cluster)))),
                            shape=(n_cl, len(cluster)))
    return np.asarray(ind @ np.asarray(mask, dtype=float))


def _nonzero(psi: np.ndarray) -> np.ndarray:
    """Entries of an influence matrix that are nonzero beyond rounding (relative
    to their column's largest value), so that leverage does not depend on the
    scale of the data."""
    scale = np.nanmax(np.abs(psi), axis=0, initial=0.0)
    return np.abs(psi) > 1e-10 * scale[None, :]


#: Columns of a dense influence matrix handled at a time by the role masks: the
#: temporaries stay a few ``n x CHUNK`` arrays whatever the number of cells.
CHUNK = 8

#: Rows of an influence block handled at a time by :class:`RowBlockLeverage`
#: (its blocks are row-major: a chunk of rows is contiguous).
ROW_CHUNK = 1 << 13


def _role_chunks(psi: np.ndarray, unit_group: np.ndarray, cell_group: np.ndarray):
    """Column chunks of a dense influence matrix with each entry's role: yields
    ``(columns, block, treated, comparison)``, the masks of units behind the
    column as its cohort's units and as comparison units."""
    k = psi.shape[1]
    ug = np.asarray(unit_group)[:, None]
    cg = np.asarray(cell_group)
    for c0 in range(0, k, CHUNK):
        cols = slice(c0, min(c0 + CHUNK, k))
        block = psi[:, cols]
        nz = _nonzero(block)
        is_t = nz & (ug == cg[None, cols])
        nz &= ~is_t
        yield cols, block, is_t, nz


def _unit_summary(tot: np.ndarray, name: str) -> dict[str, np.ndarray]:
    """Support counts when every unit is its own cluster (effective = units)."""
    return {f"{name}_units": tot.round().astype(int), f"{name}_clusters": tot.round().astype(int),
            f"{name}_effective": tot.astype(float)}


def cluster_support(
    psi: np.ndarray | FactoredInfluence, cluster: np.ndarray | None, unit_group: np.ndarray,
    cell_group: np.ndarray, *, block_units: np.ndarray | None = None,
) -> pd.DataFrame:
    """Units and clusters behind each column of an influence-function matrix.

    A unit is behind an estimate when its influence on it is nonzero; it is
    *treated* when its cohort (``unit_group``, ``-1``: never treated) is the
    column's cohort (``cell_group``), a *comparison* unit otherwise.

    Parameters
    ----------
    psi : ndarray (n, k) or FactoredInfluence
    cluster : ndarray of int (n,), optional
        Cluster codes (``None``: each unit its own cluster).
    unit_group : ndarray of int (n,)
    cell_group : ndarray of int (k,)
    block_units : ndarray, optional
        For factored influence functions whose rows are sums over units (one
        row per cluster and cohort block, as in fits of distributed panels):
        the units with nonzero weight in each cluster and block,
        ``(n_clusters, n_blocks)``, or ``(n_blocks,)`` when not clustered.

    Returns
    -------
    DataFrame
        One row per column: ``treated_units``, ``treated_clusters``,
        ``treated_effective``, ``comparison_units``, ``comparison_clusters``,
        ``comparison_effective`` (effective: the inverse Herfindahl index of
        the clusters' shares of those units, ``(sum n_c)^2 / sum n_c^2``).

    Examples
    --------
    >>> import numpy as np
    >>> psi = np.array([[1.0], [1.0], [-1.0], [0.0]])
    >>> out = cluster_support(psi, np.array([0, 1, 1, 2]), np.array([0, 0, -1, -1]),
    ...                       np.array([0]))
    >>> out[["treated_clusters", "comparison_units", "comparison_clusters"]].iloc[0].tolist()
    [2, 1, 1]
    """
    n = psi.shape[0]
    k = psi.shape[1]
    cl, n_cl = _unit_cluster(cluster, n)
    unit_group = np.asarray(unit_group)
    cell_group = np.asarray(cell_group)
    if isinstance(psi, FactoredInfluence):
        # nonzero pattern by block: a unit is behind a column when its block's
        # coefficients for that column are not all zero (and its values are not)
        used = _blocks_used(psi)
        block, nonzero_row = _block_rows(psi)
        # cohort of each block (blocks are cohorts: every unit of a block shares it)
        block_group = np.full(psi.n_blocks, -2, dtype=np.intp)
        block_group[block] = unit_group
        treated_mask = used & (block_group[:, None] == cell_group[None, :])
        comp_mask = used & ~treated_mask
        if cluster is None:  # each unit its own cluster: counts per block suffice
            per_block = (np.bincount(block[nonzero_row], minlength=psi.n_blocks).astype(float)
                         if block_units is None else np.asarray(block_units, dtype=float))
            return pd.DataFrame({**_unit_summary(per_block @ treated_mask, "treated"),
                                 **_unit_summary(per_block @ comp_mask, "comparison")})
        if block_units is not None:
            counts = np.asarray(block_units, dtype=float)
        else:
            counts = np.zeros((n_cl, psi.n_blocks))
            np.add.at(counts, (cl[nonzero_row], block[nonzero_row]), 1.0)
        treated = counts @ treated_mask
        comp = counts @ comp_mask
    else:
        rows = 1 if cluster is None else n_cl
        treated, comp = np.zeros((rows, k)), np.zeros((rows, k))
        for cols, _, is_t, is_c in _role_chunks(np.asarray(psi), unit_group, cell_group):
            if cluster is None:  # each unit its own cluster: counts suffice
                treated[0, cols], comp[0, cols] = is_t.sum(axis=0), is_c.sum(axis=0)
            else:
                treated[:, cols] = _count_matrix(cl, n_cl, is_t, cl, n_cl)
                comp[:, cols] = _count_matrix(cl, n_cl, is_c, cl, n_cl)
    return support_frame(treated, comp, clustered=cluster is not None)


def support_frame(treated: np.ndarray, comp: np.ndarray, *, clustered: bool) -> pd.DataFrame:
    """:func:`cluster_support`'s table from the numbers of treated and
    comparison units behind each column, ``(n_clusters, k)`` (or ``(1, k)``
    when every unit is its own cluster)."""
    if not clustered:
        return pd.DataFrame({**_unit_summary(treated[0], "treated"),
                             **_unit_summary(comp[0], "comparison")})

    def summary(c: np.ndarray, name: str) -> dict[str, np.ndarray]:
        tot = c.sum(axis=0)
        sq = (c**2).sum(axis=0)
        eff = np.divide(tot**2, sq, out=np.zeros_like(tot), where=sq > 0)
        return {f"{name}_units": tot.round().astype(int),
                f"{name}_clusters": (c > 0).sum(axis=0),
                f"{name}_effective": eff}

    return pd.DataFrame({**summary(treated, "treated"), **summary(comp, "comparison")})

def leverage_adjusted(
    psi: np.ndarray | FactoredInfluence, cluster: np.ndarray | None, unit_group: np.ndarray,
    unit_w: np.ndarray, cell_group: np.ndarray, kind: str, *, overwrite: bool = False,
    block_units: np.ndarray | None = None,
) -> np.ndarray | FactoredInfluence:
    """Influence functions with each cluster's treated and comparison parts
    divided by ``(1 - h)`` (``kind="cv3"``) or ``sqrt(1 - h)`` (``"cr2"``).

    ``h`` is the cluster's share of the weight (``unit_w``) of the units behind
    the column in the same role: treated (``unit_group`` equal to the column's
    ``cell_group``) or comparison (the other units with nonzero influence). A
    cluster holding all of a role's weight (``h = 1``: leaving it out removes
    the role) is left unadjusted; :func:`support_warnings` flags such cells.
    Returns a dense ``(n, k)`` array (``overwrite=True``: a dense float ``psi``
    itself, adjusted in place), except for factored influence functions
    of units that are their own clusters with equal weights: then every unit of
    a role has leverage ``1 / (units in the role)``, a factor per cohort block
    and column, and the result stays factored (no ``n x k`` matrix).
    ``block_units`` (``(n_blocks,)``) gives those units per block when the
    factored rows are not units but sums of them (fits of distributed panels).

    Examples
    --------
    >>> import numpy as np
    >>> psi = np.array([[1.0], [-1.0], [2.0], [-2.0]])  # two treated, two comparison
    >>> out = leverage_adjusted(psi, np.array([0, 1, 0, 1]), np.array([0, 0, -1, -1]),
    ...                         np.ones(4), np.array([0]), "cv3")
    >>> out.ravel().tolist()  # each cluster holds half of each role: h = 1/2
    [2.0, -2.0, 4.0, -4.0]
    """
    from .inference_cluster import check_inference  # (it imports this module)

    check_inference(kind)
    if isinstance(psi, FactoredInfluence):
        w = np.asarray(unit_w, dtype=float)
        if cluster is None and (len(w) == 0 or np.all(w == w[0])):
            return _leverage_factored(psi, unit_group, cell_group, kind, block_units)
        if cluster is not None:
            return _leverage_factored_clustered(psi, np.asarray(cluster, dtype=np.intp),
                                                unit_group, w, cell_group, kind)
        psi = psi.dense()
    psi = np.asarray(psi, dtype=float)
    n, k = psi.shape
    cl, n_cl = _unit_cluster(cluster, n)
    w = np.asarray(unit_w, dtype=float)
    power = 1.0 if kind == "cv3" else 0.5
    own = overwrite and psi.dtype == float
    out = psi if own else np.empty_like(psi, order="F")
    for cols, block, is_t, is_c in _role_chunks(psi, unit_group, cell_group):
        factor = _role_factor((is_t, is_c), w, None if cluster is None else cl, n_cl, power)
        np.multiply(block, factor, out=out[:, cols])
    return out


#: A cluster holding all of a role's weight (leverage within this of 1) is left
#: unadjusted: leaving it out would remove the role.
H_MAX_GAP = 1e-9


def leverage_factor(h: np.ndarray, power: float) -> np.ndarray:
    """The one rule of the cv3 (``power=1``) and cr2 (``power=0.5``)
    adjustments: ``(1 - h)^-power`` for leverage ``h``, 1 where a cluster
    holds all of a role's weight."""
    h = np.asarray(h, dtype=float)
    return np.where(h < 1 - H_MAX_GAP, (1.0 - np.minimum(h, 1 - H_MAX_GAP)) ** -power, 1.0)


def _role_factor(masks: tuple[np.ndarray, ...], w: np.ndarray, cl: np.ndarray | None,
                 n_cl: int, power: float) -> np.ndarray:
    """Leverage factors ``(1 - h)^-power`` of rows (``w`` their weights, ``cl``
    their cluster codes or ``None`` for units as clusters) in each role mask."""
    factor = np.ones(masks[0].shape)
    for mask in masks:
        wm = w[:, None] * mask
        if cl is None:  # each unit its own cluster: its own weight's share
            tot = wm.sum(axis=0)
            h_unit = np.divide(wm, tot, out=wm, where=tot > 0)
        else:
            by_cl = _count_matrix(cl, n_cl, wm, cl, n_cl)  # weights by cluster
            tot = by_cl.sum(axis=0)
            h_unit = np.divide(by_cl, tot, out=np.zeros_like(by_cl), where=tot > 0)[cl]
        ok = mask & (h_unit < 1 - H_MAX_GAP)
        factor[ok] = leverage_factor(h_unit[ok], power)
    return factor


class RowBlockLeverage:
    """:func:`cluster_support` and :func:`leverage_adjusted` applied while an
    estimator fills its dense influence matrix a block at a time: the rows
    ``idx`` (units) and columns ``cols`` of a block, all other rows of those
    columns zero. The support counts come from the unadjusted block; with
    ``kind`` ``"cv3"`` or ``"cr2"`` the block is then adjusted in place. The
    numbers are those of the two functions on the whole matrix (the roles,
    the nonzero rule and the leverage only involve a column's nonzero rows);
    the matrix is not read again.
    """

    def __init__(self, k: int, cluster: np.ndarray | None, unit_w: np.ndarray,
                 kind: str | None) -> None:
        self.cluster = None if cluster is None else np.asarray(cluster, dtype=np.intp)
        self.n_cl = 1 if cluster is None else int(np.max(cluster)) + 1
        self.w = np.asarray(unit_w, dtype=float)
        self.power = None if kind not in ("cv3", "cr2") else (1.0 if kind == "cv3" else 0.5)
        self.treated = np.zeros((self.n_cl, k))
        self.comp = np.zeros((self.n_cl, k))

    def __call__(self, idx: np.ndarray, cols: np.ndarray, block: np.ndarray,
                 treated_rows: np.ndarray) -> None:
        # rows a chunk at a time (temporaries stay in cache): one pass counts the
        # units (and weights) behind each role, a second scales the entries
        k = block.shape[1]
        scale = np.zeros(k)
        for lo in range(0, len(idx), ROW_CHUNK):
            np.fmax(scale, np.nanmax(np.abs(block[lo : lo + ROW_CHUNK]), axis=0, initial=0.0),
                    out=scale)
        threshold = 1e-10 * scale  # the nonzero rule of _nonzero
        cl = None if self.cluster is None else self.cluster[idx]
        n_cl = self.n_cl
        wi = self.w[idx]
        equal = len(wi) == 0 or bool(np.all(wi == wi[0]))
        weighted = self.power is not None and not (cl is None and equal)
        count = [np.zeros((n_cl, k)), np.zeros((n_cl, k))]  # treated, comparison
        wsum = [np.zeros((n_cl, k)), np.zeros((n_cl, k))] if weighted else None
        for lo, roles in self._roles(block, treated_rows, threshold):
            c = None if cl is None else cl[lo : lo + len(roles[0])]
            for r, mask in enumerate(roles):
                if c is None:
                    count[r][0] += mask.sum(axis=0)
                    if wsum is not None:
                        wsum[r][0] += wi[lo : lo + len(mask)] @ mask
                else:
                    count[r] += _count_matrix(c, n_cl, mask, c, n_cl)
                    if wsum is not None:
                        wsum[r] += _count_matrix(c, n_cl, wi[lo : lo + len(mask), None] * mask,
                                                 c, n_cl)
        self.treated[:, cols], self.comp[:, cols] = count
        if self.power is None:
            return
        if wsum is None:  # units as clusters, equal weights: one leverage per column and role
            share = [np.divide(1.0, n, out=np.zeros_like(n), where=n > 0)[0] for n in count]
        else:  # each cluster's (or unit's) share of the role's weight
            share = [np.divide(s, s.sum(axis=0), out=np.zeros_like(s), where=s.sum(axis=0) > 0)
                     for s in wsum]
        for lo, roles in self._roles(block, treated_rows, threshold):
            rows = slice(lo, lo + len(roles[0]))
            for r, mask in enumerate(roles):
                if wsum is None:
                    h = share[r][None, :]
                elif cl is None:  # a unit's share: its weight over the role's total
                    tot = wsum[r][0]
                    h = np.divide(wi[rows, None], tot, out=np.zeros((len(mask), k)),
                                  where=tot > 0)
                else:
                    h = share[r][cl[rows]]
                f = leverage_factor(h, self.power)
                np.multiply(block[rows], f, out=block[rows], where=mask)

    @staticmethod
    def _roles(block: np.ndarray, treated_rows: np.ndarray, threshold: np.ndarray):
        """Row chunks of ``block`` with the masks of its nonzero entries in the
        treated and the comparison role: yields ``(first row, (treated, comparison))``."""
        for lo in range(0, block.shape[0], ROW_CHUNK):
            nz = np.abs(block[lo : lo + ROW_CHUNK]) > threshold
            t = treated_rows[lo : lo + ROW_CHUNK, None]
            yield lo, (nz & t, nz & ~t)

    def support(self) -> pd.DataFrame:
        return support_frame(self.treated, self.comp, clustered=self.cluster is not None)




def _blocks_used(psi: FactoredInfluence) -> np.ndarray:
    """``(blocks, k)``: whether a block's coefficients for a column are not all zero."""
    k = psi.shape[1]
    used = np.zeros((psi.n_blocks, k), dtype=bool)
    for h in range(psi.n_blocks):
        c = psi.coef[psi.block_slice(h)]
        used[h] = (np.abs(c).max(axis=0) > 0) if c.shape[0] else False
    return used


def _block_rows(psi: FactoredInfluence) -> tuple[np.ndarray, np.ndarray]:
    """Each row's block, and whether its values are not all zero (its weight,
    when the basis has a weight column: a unit's values are its weight times
    its data)."""
    n = psi.shape[0]
    block = np.empty(n, dtype=np.intp)
    nonzero_row = np.zeros(n, dtype=bool)
    for h in range(psi.n_blocks):
        rows, v = psi.block_rows(h), psi.block_values(h)
        block[rows] = h
        nonzero_row[rows] = (v[:, psi.weight_col] != 0 if psi.weight_col is not None
                             else np.abs(v).max(axis=1, initial=0.0) > 0)
    return block, nonzero_row


#: Rows of a factored influence block expanded at a time by the clustered leverage.
FACTORED_ROWS = 1 << 14


def _factored_row_chunks(psi: FactoredInfluence, used: np.ndarray):
    """Chunks of a factored influence matrix's rows within its blocks, on the
    columns ``used[h]`` of block ``h``: yields ``(block, unit positions, those
    columns, dense values (m, len(columns)))``."""
    for h in range(psi.n_blocks):
        cols = np.flatnonzero(used[h])
        coef = psi.coef[psi.block_slice(h)][:, cols]
        pos, vals = psi.block_rows(h), psi.block_values(h)
        if not len(cols):
            continue
        for lo in range(0, len(pos), FACTORED_ROWS):
            yield h, pos[lo : lo + FACTORED_ROWS], cols, vals[lo : lo + FACTORED_ROWS] @ coef


def _leverage_factored_clustered(psi: FactoredInfluence, cl: np.ndarray, unit_group: np.ndarray,
                                 w: np.ndarray, cell_group: np.ndarray,
                                 kind: str) -> np.ndarray:
    """:func:`leverage_adjusted` for factored influence functions with clusters:
    the same dense result, built block by block (a unit's role in a column is
    its cohort block's), with the clusters' shares of each role's weight
    summed over the nonzero entries first. Three passes over row chunks of
    each block, on the columns its coefficients reach (a cohort's own cells
    and those it is a comparison for; the other entries are zero), never more
    than the result and a chunk in memory."""
    n, k = psi.shape
    n_cl = int(cl.max()) + 1 if len(cl) else 0
    power = 1.0 if kind == "cv3" else 0.5
    cell_group = np.asarray(cell_group)
    unit_group = np.asarray(unit_group)
    used = _blocks_used(psi)
    scale = np.zeros(k)
    for _, _, cols, vals in _factored_row_chunks(psi, used):  # the nonzero rule's scale
        scale[cols] = np.maximum(scale[cols], np.nanmax(np.abs(vals), axis=0, initial=0.0))
    threshold = 1e-10 * scale
    # role of each block in each column: treated when the column is its cohort's
    treated = np.zeros((psi.n_blocks, k), dtype=bool)
    for h in range(psi.n_blocks):
        if psi._bounds[h + 1] > psi._bounds[h]:
            treated[h] = cell_group == unit_group[psi._order[psi._bounds[h]]]
    sums_t, sums_c = np.zeros((n_cl, k)), np.zeros((n_cl, k))
    for h, rows, cols, vals in _factored_row_chunks(psi, used):
        wm = (np.abs(vals) > threshold[cols]) * w[rows, None]  # weights of the nonzero entries
        by_cl = _count_matrix(cl[rows], n_cl, wm, cl[rows], n_cl)
        t = treated[h, cols]
        sums_t[:, cols[t]] += by_cl[:, t]
        sums_c[:, cols[~t]] += by_cl[:, ~t]
    factor = []
    for sums in (sums_t, sums_c):
        tot = sums.sum(axis=0)
        h_cl = np.divide(sums, tot, out=np.zeros_like(sums), where=tot > 0)
        factor.append(leverage_factor(h_cl, power))
    out = np.zeros((n, k))
    f_block = None
    for h, rows, cols, vals in _factored_row_chunks(psi, used):
        if f_block is None or f_block[0] != h:
            t = treated[h, cols]
            f_block = (h, np.where(t[None, :], factor[0][:, cols], factor[1][:, cols]))
        f = f_block[1][cl[rows]]
        np.multiply(vals, f, out=vals, where=np.abs(vals) > threshold[cols])  # entries
        out[np.ix_(rows, cols)] = vals  # behind no role stay as they are
    return out


def _leverage_factored(psi: FactoredInfluence, unit_group: np.ndarray, cell_group: np.ndarray,
                       kind: str, block_units: np.ndarray | None = None) -> FactoredInfluence:
    """:func:`leverage_adjusted` for factored influence functions, unclustered,
    equal weights: a factor per (block, column) on the coefficients."""
    k = psi.shape[1]
    used = _blocks_used(psi)
    block, nonzero_row = _block_rows(psi)
    count = (np.bincount(block[nonzero_row], minlength=psi.n_blocks).astype(float)
             if block_units is None else np.asarray(block_units, dtype=float))
    block_group = np.full(psi.n_blocks, -2, dtype=np.intp)
    block_group[block] = np.asarray(unit_group)
    treated = used & (block_group[:, None] == np.asarray(cell_group)[None, :])
    comp = used & ~treated
    power = 1.0 if kind == "cv3" else 0.5
    factor = np.ones((psi.n_blocks, k))
    for mask in (treated, comp):
        units = count @ mask  # (k,) units behind each column in this role
        with np.errstate(divide="ignore"):
            h = np.where(units > 0, 1.0 / units, 0.0)
        f = leverage_factor(h, power)
        factor = np.where(mask, f[None, :], factor)
    coef = psi.coef * np.repeat(factor, np.diff(psi._offsets), axis=0)
    return psi.with_coef(coef)
