"""Shared inference: influence functions, cluster-robust variances, the
multiplier bootstrap with simultaneous bands, and the delta method.

Conventions. An estimator of ``k`` parameters stores an influence-function
matrix ``psi`` of shape ``(n, k)``, scaled so that

    theta_hat - theta  ~=  (1 / n) * sum_i psi[i]

with ``n`` the number of independent units. Then ``V = psi.T @ psi / n**2``;
clustered, the rows are first summed within clusters. Every aggregation is a
weight matrix ``W`` of shape ``(m, k)``: estimates ``W @ theta`` and influence
functions ``psi @ W.T`` (plus any term for estimated weights), so one engine
serves every estimator and every kind of aggregation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .errors import OptionError

__all__ = [
    "FactoredInfluence",
    "select_columns",
    "combine_columns",
    "RandomState",
    "as_generator",
    "cluster_sums",
    "influence_vcov",
    "influence_se",
    "multiplier_weights",
    "multiplier_bootstrap",
    "BootstrapSummary",
    "bootstrap_summary",
    "sup_t_critical_value",
    "delta_method",
    "wald_test",
    "few_clusters_message",
    "MIN_CLUSTERS",
]

RandomState = int | np.random.Generator | np.random.SeedSequence | None

#: Below this many clusters, cluster-robust inference is flagged on the result.
MIN_CLUSTERS = 30


def as_generator(random_state: RandomState) -> np.random.Generator:
    """A numpy Generator from an int, a SeedSequence, a Generator or None.

    Examples
    --------
    >>> g = as_generator(1)
    >>> as_generator(g) is g
    True
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, (int, np.integer, np.random.SeedSequence)):
        return np.random.default_rng(random_state)
    raise OptionError(
        f"random_state must be an int, a numpy Generator or None, not {type(random_state).__name__}."
    )


class FactoredInfluence:
    """Influence functions stored as ``basis @ coef`` with a block basis.

    The rows (units) are grouped into blocks; row ``i`` of the basis holds
    its values in the columns of its own block only, so the basis is block
    diagonal once its rows are grouped. Block ``h`` has its own width
    ``w_h`` (columns ``offsets[h]:offsets[h + 1]`` of the basis). Estimators
    whose influence functions are linear in a few per-unit quantities (DiD
    without covariates: a unit's weighted outcomes by period, block = its
    cohort) store them with one width for every block; estimators whose
    cells each involve a few cohorts (DiD with covariates: a cohort's units
    are behind its own cells and those it is a comparison for) store each
    cohort's dense influence on just those cells, and the coefficients
    place them. ``n x k`` is never formed. ``psi @ M`` is
    ``basis @ (coef @ M)``; ``psi' psi`` is ``coef' (basis' basis) coef``
    with a block-diagonal Gram matrix, computed once and shared by every
    influence matrix on the same basis (:meth:`with_coef`: aggregations,
    column subsets).

    ``weight_col``, when given, is the column (within every block) that
    holds each unit's weight: then the influence of estimated cohort shares
    (blocks are cohorts) is a coefficient matrix on the same basis.

    Examples
    --------
    >>> import numpy as np
    >>> f = FactoredInfluence(np.array([0, 1, 1]), np.ones((3, 1)), 2, np.array([[1.0], [2.0]]))
    >>> f.dense().ravel().tolist(), f.shape
    ([1.0, 2.0, 2.0], (3, 1))
    """

    n_blocks: int
    coef: np.ndarray
    weight_col: int | None
    _order: np.ndarray
    _bounds: np.ndarray
    _offsets: np.ndarray
    _values: list[np.ndarray]
    _grams: list[tuple[Any, np.ndarray]]
    _derived: dict[Any, Any]

    def __init__(self, blocks: np.ndarray, values: np.ndarray, n_blocks: int,
                 coef: np.ndarray, *, weight_col: int | None = None) -> None:
        blocks = np.asarray(blocks, dtype=np.intp)
        # few blocks: a 16-bit key makes numpy's stable sort a linear radix sort
        key = blocks.astype(np.int16) if n_blocks < 2**15 else blocks
        order = np.argsort(key, kind="stable")
        out = self.from_block_order(order, np.bincount(blocks, minlength=n_blocks),
                                    np.asarray(values, dtype=float)[order], coef,
                                    weight_col=weight_col)
        self.__dict__.update(out.__dict__)

    @classmethod
    def from_block_order(
        cls, order: np.ndarray, counts: np.ndarray, sorted_values: np.ndarray,
        coef: np.ndarray, *, weight_col: int | None = None,
    ) -> FactoredInfluence:
        """Build from rows already grouped by block, one width for every block:
        ``sorted_values[j]`` is row ``order[j]`` of the basis and block ``h``
        holds ``counts[h]`` rows."""
        bounds = np.r_[0, np.cumsum(counts)].astype(np.intp)
        vals = [sorted_values[bounds[h] : bounds[h + 1]] for h in range(len(counts))]
        return cls.from_blocks(order, counts, vals, coef, weight_col=weight_col)

    @classmethod
    def from_blocks(
        cls, order: np.ndarray, counts: np.ndarray, values: Sequence[np.ndarray],
        coef: np.ndarray, *, weight_col: int | None = None,
    ) -> FactoredInfluence:
        """Build from each block's values ``(counts[h], w_h)``: the rows
        ``order[sum(counts[:h]):sum(counts[:h + 1])]`` of the influence
        matrix, in that order; ``coef`` has ``sum(w_h)`` rows."""
        out = object.__new__(cls)
        out.n_blocks = len(counts)
        out._order = np.asarray(order, dtype=np.intp)
        out._bounds = np.r_[0, np.cumsum(counts)].astype(np.intp)
        out._values = [np.asarray(v, dtype=float) for v in values]
        out._offsets = np.r_[0, np.cumsum([v.shape[1] for v in out._values])].astype(np.intp)
        out.coef = np.asarray(coef, dtype=float)
        if out.coef.shape[0] != out._offsets[-1]:
            raise ValueError(f"coef has {out.coef.shape[0]} rows; the basis has "
                             f"{out._offsets[-1]} columns")
        out.weight_col = weight_col
        # shared by with_coef copies: Gram matrices per cluster array; cast bases and
        # row positions
        out._grams = []
        out._derived = {}
        return out

    @property
    def basis_width(self) -> int:
        """Columns of the basis (the rows of ``coef``)."""
        return int(self._offsets[-1])

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self._bounds[-1]), self.coef.shape[1])

    def block_slice(self, h: int) -> slice:
        """Block ``h``'s columns of the basis (rows of ``coef``)."""
        return slice(int(self._offsets[h]), int(self._offsets[h + 1]))

    def block_values(self, h: int) -> np.ndarray:
        """Block ``h``'s values ``(rows, w_h)``, its rows in block order."""
        return self._values[h]

    def block_rows(self, h: int) -> np.ndarray:
        """Positions (rows of the influence matrix) of block ``h``'s rows."""
        return self._order[self._bounds[h] : self._bounds[h + 1]]

    def weight_columns(self, blocks: np.ndarray) -> np.ndarray:
        """Basis columns of ``weight_col`` in the given blocks."""
        assert self.weight_col is not None
        return self._offsets[np.asarray(blocks, dtype=np.intp)] + self.weight_col

    def __matmul__(self, other: np.ndarray) -> np.ndarray:
        cm = self.coef @ np.asarray(other, dtype=float)
        out = np.empty((self.shape[0],) + cm.shape[1:])
        for h in range(self.n_blocks):
            if self._bounds[h + 1] > self._bounds[h]:
                out[self.block_rows(h)] = self._values[h] @ cm[self.block_slice(h)]
        return out

    def __add__(self, other: FactoredInfluence) -> FactoredInfluence:
        if not (isinstance(other, FactoredInfluence) and self.shares_basis(other)):
            return NotImplemented
        return self.with_coef(self.coef + other.coef)

    def shares_basis(self, other: FactoredInfluence) -> bool:
        """Whether ``other`` is a combination of the same basis."""
        return self._values is other._values

    def dense(self, cols: np.ndarray | None = None) -> np.ndarray:
        """The ``(n, k)`` matrix (or some of its columns)."""
        return self @ np.eye(self.coef.shape[1])[:, slice(None) if cols is None else cols]

    def with_coef(self, coef: np.ndarray) -> FactoredInfluence:
        """Other combinations ``basis @ coef`` of the same basis (no copy of it)."""
        out = object.__new__(FactoredInfluence)
        out.__dict__.update(self.__dict__)
        out.coef = np.asarray(coef, dtype=float)
        return out

    def with_columns(self, cols: np.ndarray) -> FactoredInfluence:
        """The same basis with a subset of the columns."""
        return self.with_coef(self.coef[:, cols])

    def combine(self, M: np.ndarray) -> FactoredInfluence:
        """``psi @ M`` kept factored."""
        return self.with_coef(self.coef @ np.asarray(M, dtype=float))

    def cluster_basis(self, cluster: np.ndarray) -> np.ndarray:
        """The basis summed within clusters, dense ``(n_clusters, basis_width)``."""
        from scipy import sparse

        n_cl = int(np.max(cluster)) + 1
        cluster = np.asarray(cluster, dtype=np.intp)
        out = np.zeros((n_cl, self.basis_width))
        for h in range(self.n_blocks):
            rows = self.block_rows(h)
            if len(rows):
                ind = sparse.csr_matrix((np.ones(len(rows)), (cluster[rows], np.arange(len(rows)))),
                                        shape=(n_cl, len(rows)))
                out[:, self.block_slice(h)] = ind @ self._values[h]
        return out

    def gram(self, cluster: np.ndarray | None = None) -> np.ndarray:
        """``S' S`` of the (cluster-summed) basis: ``(q, q)``, cached per cluster array."""
        for key, g in self._grams:
            if key is cluster:
                return g
        if cluster is not None:
            S = self.cluster_basis(cluster)
            out = S.T @ S
        else:
            q = self.basis_width
            out = np.zeros((q, q))
            for h in range(self.n_blocks):
                v = self._values[h]
                sl = self.block_slice(h)
                out[sl, sl] = v.T @ v
        self._grams.append((cluster, out))
        return out

    def _values_as(self, dtype: Any) -> list[np.ndarray]:
        if dtype == np.float64:
            return self._values
        if dtype not in self._derived:  # cast once, kept for the next chunks
            self._derived[dtype] = [v.astype(dtype) for v in self._values]
        return self._derived[dtype]

    def accumulate(self, out: np.ndarray, v: np.ndarray, lo: int, hi: int) -> None:
        """``out += v @ basis[rows]`` for the rows ``lo:hi`` in block order
        (multipliers ``v`` of shape ``(b, hi - lo)``; ``out`` is ``(b, q)``)."""
        vals = self._values_as(v.dtype)
        for h in range(int(np.searchsorted(self._bounds, lo, side="right")) - 1, self.n_blocks):
            start = int(self._bounds[h])
            a, b = max(lo, start), min(hi, int(self._bounds[h + 1]))
            if a >= hi:
                break
            if b > a:
                out[:, self.block_slice(h)] += v[:, a - lo : b - lo] @ vals[h][a - start : b - start]

    def accumulate_rows(self, out: np.ndarray, v: np.ndarray, rows: np.ndarray) -> None:
        """``out += v @ basis[rows]`` for rows given by their original positions."""
        if "_position" not in self._derived:
            pos = np.empty(len(self._order), dtype=np.intp)
            pos[self._order] = np.arange(len(self._order))
            self._derived["_position"] = pos
        at = self._derived["_position"][rows]
        block = np.searchsorted(self._bounds, at, side="right") - 1
        vals = self._values_as(v.dtype)
        for h in np.unique(block):
            sel = np.flatnonzero(block == h)
            out[:, self.block_slice(h)] += v[:, sel] @ vals[h][at[sel] - self._bounds[h]]


def combine_columns(psi: Any, M: np.ndarray) -> Any:
    """``psi @ M`` for a dense or factored influence matrix (same kind back)."""
    if isinstance(psi, FactoredInfluence):
        return psi.combine(M)
    return np.asarray(psi) @ M


def select_columns(psi: Any, cols: np.ndarray) -> Any:
    """Columns of a dense or factored influence matrix (same kind back)."""
    if isinstance(psi, FactoredInfluence):
        return psi.with_columns(cols)
    return np.asarray(psi)[:, cols]


def cluster_sums(psi: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    """Sum the rows of ``psi`` within clusters (integer codes); identity when ``None``.

    Examples
    --------
    >>> import numpy as np
    >>> cluster_sums(np.array([[1.0], [2.0], [4.0]]), np.array([0, 0, 1])).ravel().tolist()
    [3.0, 4.0]
    """
    psi = np.asarray(psi, dtype=float)
    if cluster is None:
        return psi
    cluster = np.asarray(cluster)
    n_cl = int(cluster.max()) + 1
    if psi.ndim == 1:
        return np.bincount(cluster, weights=psi, minlength=n_cl)
    from scipy import sparse

    indicator = sparse.csr_matrix(
        (np.ones(len(cluster)), (cluster, np.arange(len(cluster)))), shape=(n_cl, len(cluster))
    )
    return np.asarray(indicator @ psi)


def influence_vcov(
    psi: np.ndarray | FactoredInfluence, cluster: np.ndarray | None = None, *,
    n: int | None = None, columns: np.ndarray | None = None,
) -> np.ndarray:
    """Variance matrix ``S.T @ S / n**2`` of the estimator from its influence functions.

    Parameters
    ----------
    psi : ndarray, shape (n, k)
        Influence functions, one row per independent unit.
    cluster : ndarray of int, shape (n,), optional
        Cluster code of each row: rows are summed within clusters first.
    n : int, optional
        The scaling count (defaults to ``psi.shape[0]``).
    columns : index array or boolean mask, optional
        Only these columns (a dense matrix is read a block of rows at a time,
        without copying the columns).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 2.0, 3.0, 6.0])
    >>> psi = (x - x.mean())[:, None]  # the mean's influence function
    >>> float(influence_vcov(psi)[0, 0]) == float(np.var(x) / 4)
    True
    """
    if columns is not None and isinstance(psi, FactoredInfluence):
        psi, columns = select_columns(psi, columns), None
    if columns is not None and cluster is not None:  # sum within clusters, then select
        s = cluster_sums(np.asarray(psi), cluster)[:, columns]  # dense here
        n = np.shape(psi)[0] if n is None else n
        return (s.T @ s) / n**2
    if isinstance(psi, FactoredInfluence):
        n = psi.shape[0] if n is None else n
        return psi.coef.T @ psi.gram(cluster) @ psi.coef / n**2
    psi = np.atleast_2d(np.asarray(psi, dtype=float).T).T
    n = psi.shape[0] if n is None else n
    if columns is not None:  # dense, unclustered: a block of rows at a time, no column copy
        cols = np.arange(psi.shape[1])[columns]
        V = np.zeros((len(cols), len(cols)))
        for lo in range(0, psi.shape[0], 1 << 16):
            B = psi[lo : lo + (1 << 16)][:, cols]
            V += B.T @ B
        return V / n**2
    s = cluster_sums(psi, cluster)
    return (s.T @ s) / n**2


def influence_se(
    psi: np.ndarray | FactoredInfluence, cluster: np.ndarray | None = None, *,
    n: int | None = None,
) -> np.ndarray:
    """Standard errors: square roots of the diagonal of :func:`influence_vcov`,
    computed column by column without forming the full matrix.

    Examples
    --------
    >>> import numpy as np
    >>> psi = np.array([[1.0, 2.0], [-1.0, 0.0], [0.0, -2.0]])
    >>> influence_se(psi).round(4).tolist()
    [0.4714, 0.9428]
    >>> influence_se(psi, cluster=np.array([0, 0, 1])).round(4).tolist()
    [0.0, 0.9428]
    """
    if isinstance(psi, FactoredInfluence):
        g = psi.gram(cluster)
        n = psi.shape[0] if n is None else n
        return np.sqrt(np.maximum(np.einsum("ij,ij->j", psi.coef, g @ psi.coef), 0)) / n
    psi = np.atleast_2d(np.asarray(psi, dtype=float).T).T
    n = psi.shape[0] if n is None else n
    s = cluster_sums(psi, cluster)
    return np.sqrt(np.einsum("ij,ij->j", s, s)) / n


MultiplierKind = Literal["mammen", "rademacher"]

#: row ``b``: the eight signs (+1 for a set bit, most significant first) of byte ``b``
_SIGN_TABLE = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1) * 2.0 - 1.0


def multiplier_weights(
    size: tuple[int, ...], kind: MultiplierKind, rng: np.random.Generator,
    dtype: type = np.float64, *, buffer: np.ndarray | None = None,
) -> np.ndarray:
    """Mean-zero, unit-variance multipliers: Rademacher (+1/-1 with equal
    probability, as R's ``did``) or Mammen's two-point distribution.

    Rademacher signs are the bits of random 64-bit words, expanded by a table
    look-up (one row of 8 signs per byte); Mammen's probability is applied to
    32-bit integers (exact to 2^-32).

    Mammen's law takes ``(1 - sqrt 5) / 2`` with probability
    ``(sqrt 5 + 1) / (2 sqrt 5)`` and ``(1 + sqrt 5) / 2`` otherwise: mean 0,
    variance 1 and third moment 1.

    ``buffer`` (1-D, of ``dtype``, at least the size rounded up to a multiple
    of 64) receives the multipliers, which are returned as a view of it: a
    caller drawing many chunks reuses one allocation.

    Examples
    --------
    >>> import numpy as np
    >>> v = multiplier_weights((2, 4), "rademacher", np.random.default_rng(0))
    >>> v.shape, sorted(set(v.ravel().tolist())) in ([-1.0, 1.0], [-1.0], [1.0])
    ((2, 4), True)
    """
    count = int(np.prod(size))
    padded = -(-count // 64) * 64
    if buffer is None:
        buffer = np.empty(padded, dtype=dtype)
    elif buffer.dtype != dtype or buffer.ndim != 1 or len(buffer) < padded:
        raise OptionError(f"buffer must be a 1-D {np.dtype(dtype).name} array of at least "
                          f"{padded} values.")
    if kind == "rademacher":
        # one gather turns each random byte into its 8 signs, already in ``dtype``
        signs: np.ndarray = _SIGN_TABLE.astype(dtype, copy=False)
        # whole 64-bit words are the generator's cheapest output: 64 signs each
        words = rng.integers(0, 2**64, size=padded // 64, dtype=np.uint64)
        # (every byte indexes the 256-row table: mode="clip" only skips a buffered check)
        np.take(signs, words.view(np.uint8), axis=0, out=buffer[:padded].reshape(-1, 8),
                mode="clip")
    elif kind == "mammen":
        s5 = np.sqrt(5.0)
        p = (s5 + 1) / (2 * s5)
        lo, hi = (1 - s5) / 2, (1 + s5) / 2
        u = rng.integers(0, 2**32, size=count, dtype=np.uint32)
        buffer[:count] = np.where(u < np.uint32(round(p * 2**32)), dtype(lo), dtype(hi))
    else:
        raise OptionError(f"multiplier kind must be 'mammen' or 'rademacher', not {kind!r}.")
    return buffer[:count].reshape(size)


def multiplier_bootstrap(
    psi: np.ndarray | FactoredInfluence | Sequence[np.ndarray | FactoredInfluence],
    n_boot: int = 999,
    *,
    cluster: np.ndarray | None = None,
    kind: MultiplierKind = "rademacher",
    random_state: RandomState = None,
    n: int | None = None,
    chunk: int | None = None,
    single_precision: bool = False,
) -> np.ndarray | list[np.ndarray]:
    """Draws of ``theta* - theta_hat`` from the multiplier bootstrap.

    Each draw multiplies every unit's (or, clustered, every cluster's summed)
    influence function by an independent multiplier ``v`` and averages:
    ``(1/n) sum_c v_c S_c``. Multipliers are generated for chunks of rows
    to bound memory.
    Given a sequence of matrices (same rows), the same multipliers apply to
    all of them and a list of draw matrices is returned: because the
    bootstrap is linear in ``psi``, draws of any linear combination of the
    columns are the same combination of these draws.
    ``single_precision`` does the products in float32 (rounding ~1e-7,
    far below the Monte Carlo error), twice as fast on large panels.

    Parameters
    ----------
    psi : ndarray of shape (n, k), FactoredInfluence, or a sequence of them
        Influence functions (see the module notes on their scaling).
    n_boot : int
        Number of draws (at least 2).
    cluster : ndarray of int, shape (n,), optional
        Cluster codes ``0..G-1``: one multiplier per cluster, shared by its rows.
    kind : {"rademacher", "mammen"}
    random_state : int, Generator or None
    n : int, optional
        The scaling count (defaults to the number of rows).
    chunk : int, optional
        Rows whose multipliers (for every draw) are generated at once
        (default: about a million multipliers).
    single_precision : bool

    Returns
    -------
    ndarray, shape (n_boot, k), or a list of them

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=400)
    >>> draws = multiplier_bootstrap(x - x.mean(), 2000, random_state=1)
    >>> bool(abs(draws.std() / influence_se(x - x.mean())[0] - 1) < 0.1)
    True
    """
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise OptionError(f"the number of bootstrap draws must be an integer >= 2, not {n_boot!r}.")
    many = isinstance(psi, (list, tuple))
    items: list[Any] = list(psi) if isinstance(psi, (list, tuple)) else [psi]
    dtype = np.float32 if single_precision else np.float64
    n = int(items[0].shape[0]) if n is None else n
    # One product per distinct basis: factored items on the same basis (say an
    # aggregation and its cells) share the draws of the basis.
    sources: list[tuple[Any, FactoredInfluence | None]] = []
    plan: list[tuple[int, np.ndarray | None]] = []  # (source, coefficients) per item
    for m in items:
        if isinstance(m, FactoredInfluence):
            j = next((i for i, (_, f) in enumerate(sources)
                      if f is not None and f.shares_basis(m)), None)
            if j is None:
                src = m if cluster is None else m.cluster_basis(cluster).astype(dtype)
                sources.append((src, m))
                j = len(sources) - 1
            plan.append((j, m.coef))
        else:
            arr = np.atleast_2d(np.asarray(m, dtype=float).T).T
            sources.append((cluster_sums(arr, cluster).astype(dtype, copy=False), None))
            plan.append((len(sources) - 1, None))
    n_rows = n if cluster is None else int(np.max(cluster)) + 1
    # Unclustered with a factored item: the multipliers are i.i.d., so the rows
    # are visited in that item's block order (each block a contiguous slice) and
    # the other items' rows are permuted alike.
    lead = next((src for src, _ in sources if isinstance(src, FactoredInfluence)), None)
    if lead is not None:
        sources = [(src if isinstance(src, FactoredInfluence) else src[lead._order], f)
                   for src, f in sources]
    # Rows in chunks, all draws at once: the multipliers of a chunk (about a
    # million) stay in cache for the products.
    if chunk is None:
        chunk = max(1, 2**20 // n_boot)
    rng = as_generator(random_state)
    raw = [np.zeros((n_boot, src.basis_width if isinstance(src, FactoredInfluence)
                     else src.shape[1])) for src, _ in sources]
    buffer = np.empty(-(-n_boot * min(chunk, n_rows) // 64) * 64, dtype=dtype)  # reused
    for lo in range(0, n_rows, chunk):
        hi = min(n_rows, lo + chunk)
        v = multiplier_weights((n_boot, hi - lo), kind, rng, dtype, buffer=buffer)
        for (src, _), out in zip(sources, raw, strict=True):
            if src is lead:
                src.accumulate(out, v, lo, hi)
            elif isinstance(src, FactoredInfluence):  # another basis: its rows by position
                assert lead is not None
                src.accumulate_rows(out, v, lead._order[lo:hi])
            else:
                out += v @ src[lo:hi]
    outs = [(raw[j] if c is None else raw[j] @ c) / n for j, c in plan]
    return outs if many else outs[0]


@dataclass(frozen=True)
class BootstrapSummary:
    """Standard errors and critical values from bootstrap draws.

    Attributes
    ----------
    std_error : ndarray, shape (k,)
        Robust SEs: the interquartile range of the draws over that of a normal.
    crit_pointwise : float
        Normal critical value for the confidence level.
    crit_uniform : float
        Sup-t critical value for a simultaneous band over the ``k`` parameters.
    draws : ndarray, shape (n_boot, k)
    """

    std_error: np.ndarray
    crit_pointwise: float
    crit_uniform: float
    draws: np.ndarray


def bootstrap_summary(draws: np.ndarray, confidence: float = 0.95) -> BootstrapSummary:
    """Summarise multiplier-bootstrap draws (IQR-based SEs, sup-t critical value).

    Examples
    --------
    >>> import numpy as np
    >>> d = np.random.default_rng(0).normal(size=(20000, 3))
    >>> s = bootstrap_summary(d)
    >>> bool(np.allclose(s.std_error, 1, atol=0.03)), 2.2 < s.crit_uniform < 2.5
    (True, True)
    """
    from scipy.special import ndtri

    draws = np.atleast_2d(np.asarray(draws, dtype=float).T).T
    q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0)
    se = (q75 - q25) / (ndtri(0.75) - ndtri(0.25))
    crit = sup_t_critical_value(draws, se, confidence)
    return BootstrapSummary(se, float(ndtri(0.5 + confidence / 2)), crit, draws)


def sup_t_critical_value(draws: np.ndarray, se: np.ndarray, confidence: float = 0.95) -> float:
    """Quantile of ``max_j |draw_j / se_j|``: the critical value of a sup-t band.

    Parameters with a zero (or undefined) SE are left out of the maximum. The
    band ``estimate +/- crit * se`` then covers all ``k`` parameters at once
    with the given probability (Montiel Olea & Plagborg-Moller 2019; R did's
    uniform bands).

    Examples
    --------
    >>> import numpy as np
    >>> d = np.random.default_rng(0).normal(size=(20000, 1))
    >>> 1.92 < sup_t_critical_value(d, np.ones(1)) < 2.0  # one parameter: the normal 1.96
    True
    """
    ok = np.isfinite(se) & (se > 0)
    if not ok.any():
        return float("nan")
    t = np.abs(draws[:, ok] / se[ok]).max(axis=1)
    return float(np.quantile(t, confidence))


def delta_method(gradient: np.ndarray, vcov: np.ndarray) -> np.ndarray:
    """Variance of ``g(theta)`` by the delta method: ``G V G.T``.

    Parameters
    ----------
    gradient : ndarray, shape (m, k) or (k,)
        Jacobian of ``g`` at the estimate.
    vcov : ndarray, shape (k, k)

    Examples
    --------
    >>> import numpy as np
    >>> float(delta_method(np.array([2.0]), np.array([[0.25]]))[0, 0])
    1.0
    """
    g = np.atleast_2d(np.asarray(gradient, dtype=float))
    return g @ np.asarray(vcov, dtype=float) @ g.T


def wald_test(estimate: np.ndarray, vcov: np.ndarray) -> tuple[float, int, float]:
    """Wald test of ``estimate == 0``: statistic, degrees of freedom, p-value.

    Uses a pseudo-inverse restricted to the parameters with positive variance,
    so degenerate cells do not break the test; ``df`` is the rank of their
    variance matrix.

    Examples
    --------
    >>> import numpy as np
    >>> stat, df, p = wald_test(np.array([0.2, 0.0]), np.diag([0.01, 0.04]))
    >>> round(stat, 6), df, round(p, 4)
    (4.0, 2, 0.1353)
    """
    from scipy.special import chdtrc

    est = np.asarray(estimate, dtype=float).ravel()
    v = np.asarray(vcov, dtype=float)
    ok = np.diag(v) > 0
    est, v = est[ok], v[np.ix_(ok, ok)]
    if len(est) == 0:
        return float("nan"), 0, float("nan")
    stat = float(est @ np.linalg.pinv(v) @ est)
    df = int(np.linalg.matrix_rank(v))
    return stat, df, float(chdtrc(df, stat))


def few_clusters_message(n_clusters: int | None, minimum: int = MIN_CLUSTERS) -> str | None:
    """The warning text when there are too few clusters for cluster-robust inference.

    Examples
    --------
    >>> few_clusters_message(40) is None, few_clusters_message(12)[:16]
    (True, 'only 12 clusters')
    """
    if n_clusters is not None and n_clusters < minimum:
        return (
            f"only {n_clusters} clusters: cluster-robust standard errors are unreliable below "
            f"about {minimum}; read intervals with caution (a wild-cluster bootstrap or "
            f"randomisation inference is safer)."
        )
    return None


def linear_combination(
    estimate: np.ndarray, psi: np.ndarray, weights: np.ndarray, extra_psi: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Apply an ``(m, k)`` weight matrix to estimates and influence functions.

    ``extra_psi`` (shape ``(n, m)``) adds the influence of estimated weights.

    Examples
    --------
    >>> import numpy as np
    >>> est, psi = linear_combination(np.array([1.0, 3.0]), np.eye(2), np.array([[0.5, 0.5]]))
    >>> est.tolist(), psi.ravel().tolist()
    ([2.0], [0.5, 0.5])
    """
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    est = w @ np.asarray(estimate, dtype=float)
    out = np.asarray(psi, dtype=float) @ w.T
    if extra_psi is not None:
        out = out + extra_psi
    return est, out


def validate_choice(name: str, value: object, choices: Sequence[object]) -> None:
    """Raise :class:`OptionError` unless ``value`` is one of ``choices``.

    Examples
    --------
    >>> validate_choice("kind", "mammen", ["mammen", "rademacher"])
    """
    if value not in choices:
        raise OptionError(f"{name} must be one of {list(choices)}, not {value!r}.")


__all__ += ["linear_combination", "validate_choice"]
