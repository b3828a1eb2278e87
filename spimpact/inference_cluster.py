"""Inference with few clusters: small-sample corrections, diagnostics of the
clusters behind each estimate, and a test of the clustering level.

Everything here works on influence-function matrices (see
:mod:`spimpact.inference`) and integer cluster codes, so the DiD estimators
share one implementation.

Choices of the estimators' ``inference=`` parameter
-----------------------------------------------------
``"cluster_t"``
    The cluster-robust variance of the influence functions times ``G / (G - 1)``
    and Student-t critical values and p-values on ``G - 1`` degrees of freedom,
    ``G`` the number of clusters (units when not clustered). This is the CR1
    variance with the ``t(G - 1)`` reference distribution that Cameron & Miller
    (2015, J. Human Resources) and MacKinnon, Nielsen & Webb (2023, J.
    Econometrics, "Cluster-robust inference: a guide to empirical practice")
    recommend as the minimum with few clusters; Stata's ``vce(cluster)`` and
    fixest's default small-sample settings use the same ``G/(G-1)`` and
    ``t(G-1)``. With many clusters it equals ``"analytic"`` to ``O(1/G)``.
    Uniform (sup-t) bands keep the bootstrap's joint dependence and put each
    coordinate on the t scale: the band's pointwise level from the normal-scale
    sup-t critical value is converted to a ``t(G - 1)`` critical value.
``"cv3"`` (the default)
    The cluster jackknife (CV3) on the influence function: each cluster's
    treated and comparison parts of the influence function are divided by one
    minus the cluster's leverage (its share of the cohort's, or of the
    comparison group's, weight behind the estimate), the variance carries
    ``(G - 1) / G``, and critical values are t on ``G - 1`` df. For an
    estimate that is a difference of weighted means (Callaway-Sant'Anna without
    covariates) this is exactly the leave-one-cluster-out jackknife variance
    ``(G-1)/G sum_c (theta_(-c) - theta)^2`` (checked against re-estimation in
    the tests); with covariates or regression-based estimators it corrects the
    leading (mean) part of the leverage. It matters when an estimate leans on a
    few clusters (late cells whose not-yet-treated comparisons sit in the
    last-starting areas), where the plain variance is biased down
    (Bell & McCaffrey 2002; MacKinnon, Nielsen & Webb 2023).
``"cr2"``
    The same leverage with the square root (Bell-McCaffrey CR2's
    ``(1 - h)^(-1/2)`` for a mean), no ``G`` factor, t on ``G - 1`` df.
``"analytic"``
    R ``did``'s standard errors: the influence-function variance without
    small-sample factors and normal critical values.

The choice of default was measured on England-like rollouts written for the
purpose (``benchmarks/england_dgp.py``, ``benchmarks/bench_inference.py``;
the results are in ``docs/bench_results.md``): with clustered shocks,
Callaway-Sant'Anna's overall ATT covered 0.94 with 42 ICBs and 0.97 with 10
under ``"cv3"``, against 0.92 and 0.94 under ``"cluster_t"``, 0.93 and 0.96
under ``"cr2"`` and 0.92 and 0.86 with R's analytic SEs (300 replications).

Diagnostics
-----------
:func:`cluster_support` counts the treated and comparison units behind every
estimate and their clusters (with the inverse Herfindahl "effective" number
of clusters), from the nonzero rows of the influence functions;
:func:`support_warnings` turns them into warnings that name the cohorts and
the fix. :func:`cluster_level_test` compares the variance of an estimate
clustered at a finer and at a coarser level (MacKinnon, Nielsen & Webb 2023,
"Testing for the appropriate level of clustering in linear regression
models", J. Econometrics: the score-variance test for one coefficient).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import EstimationError, OptionError
from .inference import FactoredInfluence

__all__ = [
    "INFERENCE_CHOICES",
    "DEFAULT_INFERENCE",
    "SmallSample",
    "small_sample",
    "check_inference",
    "cluster_support",
    "support_warnings",
    "cluster_level_test",
    "level_warning",
    "MIN_EFFECTIVE_CLUSTERS",
    "MIN_COMPARISON_SHARE",
    "LEVEL_VARIANCE_RATIO",
    "LEVEL_TEST_ALPHA",
]

#: The choices of ``inference=`` (the first is the default).
INFERENCE_CHOICES = ("cv3", "cluster_t", "cr2", "analytic")
DEFAULT_INFERENCE = "cv3"

#: Fewer effective clusters than this behind the treated or the comparison units
#: of an estimate is flagged: cluster-robust intervals then under-cover even with
#: t critical values (MacKinnon & Webb 2017, J. Applied Econometrics).
MIN_EFFECTIVE_CLUSTERS = 5.0
#: A typical post-treatment comparison with a smaller share of the sample's units
#: than this is flagged as thin.
MIN_COMPARISON_SHARE = 0.05
#: Never-treated controls that are a smaller share of the sample's units than this
#: are flagged as thin (with 3% of PCNs never treated the default intervals
#: covered 0.92 with 10 ICBs: ``docs/bench_results.md``).
MIN_NEVER_TREATED_SHARE = 0.10
#: The clustering-level check warns when the coarser level's variance is at least
#: this many times the finer level's (standard errors about 5% larger) and the test
#: rejects at :data:`LEVEL_TEST_ALPHA`. Chosen on the England-like rollouts of
#: ``benchmarks/bench_inference.py``: with starts delayed by ICB and PCN clustering,
#: 1.25 let 3 in 10 replications through unwarned (their intervals covered 0.88);
#: 1.1 warned on all of 30 and kept false alarms (no ICB shocks) at the test's level.
LEVEL_VARIANCE_RATIO = 1.1
LEVEL_TEST_ALPHA = 0.05


def check_inference(value: object) -> None:
    """Raise :class:`OptionError` unless ``value`` is one of :data:`INFERENCE_CHOICES`.

    Examples
    --------
    >>> check_inference("analytic")
    """
    if value not in INFERENCE_CHOICES:
        raise OptionError(
            f"inference must be one of {list(INFERENCE_CHOICES)}, not {value!r}: "
            f"'cluster_t' (G/(G-1) cluster-robust variance with t(G-1) critical values), "
            f"'cv3' (cluster jackknife), 'cr2' (Bell-McCaffrey leverage) or 'analytic' "
            f"(R did's standard errors)."
        )


@dataclass(frozen=True)
class SmallSample:
    """The small-sample adjustment of one fit.

    Attributes
    ----------
    kind : str
        One of :data:`INFERENCE_CHOICES`.
    n_clusters : int
        ``G``: clusters, or sampling units when not clustered.

    Examples
    --------
    >>> s = small_sample("cluster_t", 10)
    >>> round(s.se_factor, 4), s.df
    (1.0541, 9)
    >>> small_sample("analytic", 10).df is None
    True
    """

    kind: str
    n_clusters: int

    @property
    def se_factor(self) -> float:
        """Factor on the (leverage-adjusted) influence-function standard errors:
        ``sqrt(G / (G - 1))`` (cluster_t), ``sqrt((G - 1) / G)`` (cv3), 1 otherwise."""
        if self.kind in ("analytic", "cr2") or self.n_clusters < 2:
            return 1.0
        G = self.n_clusters
        return float(np.sqrt(G / (G - 1) if self.kind == "cluster_t" else (G - 1) / G))

    @property
    def adjusts_leverage(self) -> bool:
        """Whether the influence functions are leverage-adjusted first (cv3, cr2)."""
        return self.kind in ("cv3", "cr2")

    @property
    def df(self) -> int | None:
        """Degrees of freedom of the t reference distribution (``None``: normal)."""
        if self.kind == "analytic" or self.n_clusters < 2:
            return None
        return self.n_clusters - 1

    def critical_value(self, confidence: float) -> float:
        """Pointwise critical value (t on ``G - 1`` df, or normal)."""
        from scipy import special

        level = 0.5 + confidence / 2
        return float(special.ndtri(level) if self.df is None else special.stdtrit(self.df, level))

    def uniform_critical_value(self, normal_crit: float) -> float:
        """A sup-t critical value found on the normal scale, put on the t scale.

        The band ``+/- c`` on the normal scale covers each coordinate with
        probability ``1 - a = 2 Phi(c) - 1``; the t-scale band uses the ``t(G-1)``
        quantile of the same pointwise level, so it keeps the bootstrap's joint
        dependence and widens like the pointwise intervals.

        Examples
        --------
        >>> round(small_sample("cluster_t", 10).uniform_critical_value(1.959964), 3)
        2.262
        """
        from scipy import special

        if self.df is None or not np.isfinite(normal_crit):
            return float(normal_crit)
        return float(special.stdtrit(self.df, special.ndtr(normal_crit)))

    def describe(self) -> str:
        if self.df is None:
            return "analytic (influence-function variance, normal critical values; as R did)"
        G = self.n_clusters
        what = {"cluster_t": f"G/(G-1) = {G}/{G - 1} variance factor",
                "cv3": f"cluster jackknife: leverage 1/(1-h), (G-1)/G = {G - 1}/{G}",
                "cr2": "Bell-McCaffrey leverage 1/sqrt(1-h)"}[self.kind]
        return f"{self.kind} ({what}, t({self.df}) critical values)"


def small_sample(kind: str, n_clusters: int | None, n_units: int | None = None) -> SmallSample:
    """The adjustment for ``kind`` with ``n_clusters`` clusters (``None``: the
    ``n_units`` sampling units are the clusters)."""
    check_inference(kind)
    G = n_clusters if n_clusters is not None else n_units
    if G is None:
        raise OptionError("small_sample needs n_clusters or n_units.")
    return SmallSample(kind, int(G))


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


def support_warnings(
    support: pd.DataFrame, cells: pd.DataFrame, labels: Any, n_units: int,
    n_clusters: int | None, *, control_group: str | None = None,
) -> list[str]:
    """Warnings about the clusters and comparison units behind the estimates.

    ``support`` comes from :func:`cluster_support`; ``cells`` has boolean
    ``post`` and ``reference`` and integer ``g`` columns (one row per
    column of the influence functions); ``labels`` maps a cohort position to its
    label. Two kinds:

    * cohorts whose post-treatment cells rest on fewer than
      :data:`MIN_EFFECTIVE_CLUSTERS` effective clusters of treated or of
      comparison units (their cells' intervals are unreliable);
    * a thin comparison group: with ``control_group="never_treated"``, never-treated
      units under :data:`MIN_NEVER_TREATED_SHARE` of the sample; otherwise, in the
      typical (median) post-treatment cell, comparison units under
      :data:`MIN_COMPARISON_SHARE` of the sample.
    """
    clustered = n_clusters is not None
    what = "clusters" if clustered else "units"
    post = cells["post"].to_numpy(bool) & ~cells["reference"].to_numpy(bool)
    if not post.any():
        return []
    sup = support.loc[post].assign(g=cells.loc[post, "g"].to_numpy())
    out: list[str] = []
    if clustered:
        by = sup.groupby("g").agg(t_eff=("treated_effective", "min"),
                                  t_cl=("treated_clusters", "min"),
                                  c_eff=("comparison_effective", "min"),
                                  c_cl=("comparison_clusters", "min"))
        weak = by[(by["t_eff"] < MIN_EFFECTIVE_CLUSTERS) | (by["c_eff"] < MIN_EFFECTIVE_CLUSTERS)]
        if len(weak):
            parts = [f"{labels(g)} (treated units in {int(r.t_cl)} cluster(s), effectively "
                     f"{r.t_eff:.1f}; comparison units effectively in {r.c_eff:.1f})"
                     for g, r in weak.head(6).iterrows()]
            more = f" and {len(weak) - 6} more" if len(weak) > 6 else ""
            out.append(
                f"few clusters behind the group-time effects of cohort(s) {', '.join(parts)}"
                f"{more}: their intervals are unreliable below about "
                f"{MIN_EFFECTIVE_CLUSTERS:.0f} effective clusters; read those cohorts through "
                f"aggregations that pool them with others (aggregate('event') or "
                f"aggregate('simple')), or pool small cohorts."
            )
    med_units = float(np.median(sup["comparison_units"]))
    med_eff = float(np.median(sup["comparison_effective"]))
    limit = MIN_NEVER_TREATED_SHARE if control_group == "never_treated" else MIN_COMPARISON_SHARE
    if med_units < limit * n_units:
        fix = ("use control_group='not_yet_treated' to compare with units that start later"
               if control_group == "never_treated" else
               "widen the comparison group (e.g. more areas or periods before the rollout)")
        out.append(
            f"the comparison group is thin: the typical post-treatment effect compares with "
            f"{med_units:.0f} units ({100 * med_units / max(n_units, 1):.1f}% of {n_units})"
            + (f" in effectively {med_eff:.1f} {what}" if clustered else "")
            + f"; its intervals may under-cover; {fix}."
        )
    return out


# ------------------------------------------------------------ level of clustering
def cluster_level_test(
    psi: np.ndarray, fine: np.ndarray | None, coarse: np.ndarray,
) -> tuple[float, float, float]:
    """Test that clustering at a finer level suffices against a coarser level.

    For one estimate with per-unit influence function ``psi``, let ``s_h`` be
    its sums within fine clusters ``h`` nested in coarse clusters ``g``. The
    coarse variance exceeds the fine one by ``D = sum_g sum_{h != h' in g}
    s_h s_h'``; with independent fine clusters ``D`` has mean zero and
    variance ``2 sum_g sum_{h != h'} s_h^2 s_h'^2``, estimated by plugging in.
    The statistic ``D / sqrt(var)`` is compared with the standard normal,
    one-sided (MacKinnon, Nielsen & Webb 2023, the score-variance test for a
    single coefficient).

    With several estimates (``psi`` of shape ``(n, m)``, e.g. an event study),
    each column is scaled to unit fine-clustered variance and the differences
    are pooled: ``D = sum_k D_k`` with null variance
    ``2 sum_g sum_{h != h'} (s_h . s_h')^2`` (the same plug-in, for the sum),
    which gains power when the estimates carry different shocks.

    Parameters
    ----------
    psi : ndarray (n,) or (n, m)
    fine : ndarray of int (n,), optional
        Fine cluster codes (``None``: units).
    coarse : ndarray of int (n,)
        Coarse cluster codes; every fine cluster must lie in one coarse cluster.

    Returns
    -------
    statistic, one-sided p-value, mean ratio of the coarse to the fine variance

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> coarse = np.repeat(np.arange(40), 25)
    >>> psi = rng.normal(size=1000) + rng.normal(size=40)[coarse]  # shared by coarse cluster
    >>> stat, p, ratio = cluster_level_test(psi, None, coarse)
    >>> p < 0.01, ratio > 5
    (True, True)
    """
    from scipy import special

    psi = np.asarray(psi, dtype=float)
    psi = psi.reshape(len(psi), -1)
    n = len(psi)
    fine_codes, n_f = _unit_cluster(fine, n)
    coarse = np.asarray(coarse, dtype=np.intp)
    from .inference import cluster_sums

    s = cluster_sums(psi, fine_codes)  # (n_f, m)
    fine_coarse = np.full(n_f, -1, dtype=np.intp)
    fine_coarse[fine_codes] = coarse
    if np.any(fine_coarse[fine_codes] != coarse):
        raise OptionError("cluster_level_test: the fine clusters are not nested in the coarse "
                          "ones (a fine cluster spans two coarse clusters).")
    v_fine = (s**2).sum(axis=0)
    ok = v_fine > 0
    if not ok.any():
        return float("nan"), float("nan"), float("nan")
    s = s[:, ok] / np.sqrt(v_fine[ok])
    S = cluster_sums(s, fine_coarse)  # (n_c, m) coarse sums of scaled columns
    ratio = float(np.mean((S**2).sum(axis=0)))  # coarse variance over fine (= 1)
    d = float((S**2).sum() - (s**2).sum())
    # null variance: 2 sum_g [ ||sum_h s_h s_h'||_F^2 - sum_h ||s_h||^4 ]
    n_c = int(fine_coarse.max()) + 1
    order = np.argsort(fine_coarse, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(fine_coarse, minlength=n_c))]
    m = s.shape[1]
    if m == 1:
        s2 = s[:, 0] ** 2
        var = 2.0 * float((np.bincount(fine_coarse, weights=s2, minlength=n_c) ** 2).sum()
                          - (s2**2).sum())
    else:
        var = 0.0
        so = s[order]
        for g in range(n_c):  # one small (m x m) product per coarse cluster
            blk = so[bounds[g]:bounds[g + 1]]
            if len(blk) > 1:
                gram = blk.T @ blk
                var += float((gram**2).sum() - ((blk**2).sum(axis=1) ** 2).sum())
        var *= 2.0
    stat = d / np.sqrt(var) if var > 0 else float("nan")
    p = float(special.ndtr(-stat)) if np.isfinite(stat) else float("nan")
    return float(stat), p, ratio


def level_warning(
    psi: np.ndarray | FactoredInfluence, fine: np.ndarray | None, fine_name: str,
    coarser: list[tuple[str, np.ndarray]],
) -> str | None:
    """The warning when an estimate's variance is materially larger clustered at
    a coarser declared level (``coarser``: ``(name, per-unit codes)`` from the
    lowest to the highest level); names the coarsest such level.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> icb = np.repeat(np.arange(30), 40)
    >>> psi = rng.normal(size=1200) + 2 * rng.normal(size=30)[icb]
    >>> level_warning(psi, None, "practice", [("icb", icb)])[:40]
    "standard errors clustered on 'practice' "
    """
    if isinstance(psi, FactoredInfluence):
        psi = psi.dense()
    col = np.nan_to_num(np.asarray(psi, dtype=float).reshape(len(psi), -1))
    found = None
    for name, codes in coarser:
        _, codes = np.unique(codes, return_inverse=True)
        if len(np.unique(codes)) < 2:
            continue
        try:
            stat, p, ratio = cluster_level_test(col, fine, codes)
        except OptionError:
            continue
        if p < LEVEL_TEST_ALPHA and ratio >= LEVEL_VARIANCE_RATIO:
            found = (name, ratio, p, len(np.unique(codes)))
    if found is None:
        return None
    name, ratio, p, G = found
    return (
        f"standard errors clustered on {fine_name!r} look too small: the estimates' "
        f"variances are on average {ratio:.2f} times larger clustered on {name!r} ({G} clusters; "
        f"MacKinnon-Nielsen-Webb test of the clustering level, p = {p:.2g}); shocks are "
        f"shared at that level: cluster on {name!r} (Panel(..., cluster={name!r}))."
    )


#: With a small-sample correction, fewer clusters than this is still flagged: the
#: corrections' coverage was measured with 10 and 42 clusters
#: (``benchmarks/bench_inference.py``), not below.
MIN_CLUSTERS_T = 10


def few_clusters_note(kind: str, n_clusters: int | None, column: Any = None) -> str | None:
    """The note on a fit with few clusters, for the ``inference=`` choice.

    Fewer than two clusters (``column``: the panel's cluster column) is an
    :class:`~spimpact.errors.EstimationError`: a cluster-robust variance from
    one cluster is zero, not small.

    Examples
    --------
    >>> few_clusters_note("cv3", 10) is None
    True
    >>> few_clusters_note("analytic", 10)[:16]
    'only 10 clusters'
    """
    from .inference import MIN_CLUSTERS, few_clusters_message

    if n_clusters is None:
        return None
    if n_clusters < 2:
        raise EstimationError(
            f"the units used fall in {n_clusters} cluster"
            + (f" of the cluster column {column!r}" if column is not None else "")
            + ": a cluster-robust standard error needs at least 2 clusters (and 10 or more "
            "to be trusted); drop cluster= from the Panel (units become their own clusters) "
            "or cluster on a finer level."
        )
    if kind == "analytic":
        msg = few_clusters_message(n_clusters)
        return None if msg is None else (
            f"only {n_clusters} clusters: analytic cluster-robust standard errors with normal "
            f"critical values under-cover below about {MIN_CLUSTERS}; use "
            f"inference='cv3' (the default: cluster jackknife, t({n_clusters - 1}) critical "
            f"values).")
    if n_clusters < MIN_CLUSTERS_T:
        return (f"only {n_clusters} clusters: the small-sample corrections (t({n_clusters - 1}) "
                f"critical values) were checked to cover with {MIN_CLUSTERS_T} or more "
                f"clusters, not fewer; read intervals with caution, add areas, or use "
                f"randomisation inference.")
    return None


__all__ += ["few_clusters_note", "MIN_CLUSTERS_T"]


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


__all__ += ["RowBlockLeverage", "support_frame"]


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


def _factored_row_chunks(psi: FactoredInfluence, rows: int = 1 << 16):
    """Chunks of a factored influence matrix's rows within its blocks: yields
    ``(block, unit positions, dense values (m, k))``."""
    for h in range(psi.n_blocks):
        coef = psi.coef[psi.block_slice(h)]
        pos, vals = psi.block_rows(h), psi.block_values(h)
        for lo in range(0, len(pos), rows):
            yield h, pos[lo : lo + rows], vals[lo : lo + rows] @ coef


def _leverage_factored_clustered(psi: FactoredInfluence, cl: np.ndarray, unit_group: np.ndarray,
                                 w: np.ndarray, cell_group: np.ndarray,
                                 kind: str) -> np.ndarray:
    """:func:`leverage_adjusted` for factored influence functions with clusters:
    the same dense result, built block by block (a unit's role in a column is
    its cohort block's), with the clusters' shares of each role's weight
    summed over the nonzero entries first. Three passes over row chunks,
    never more than the result and a chunk in memory."""
    n, k = psi.shape
    n_cl = int(cl.max()) + 1 if len(cl) else 0
    power = 1.0 if kind == "cv3" else 0.5
    cell_group = np.asarray(cell_group)
    unit_group = np.asarray(unit_group)
    scale = np.zeros(k)
    for _, _, vals in _factored_row_chunks(psi):  # the nonzero rule's column scale
        np.maximum(scale, np.nanmax(np.abs(vals), axis=0, initial=0.0), out=scale)
    threshold = 1e-10 * scale[None, :]
    # role of each block in each column: treated when the column is its cohort's
    treated = np.zeros((psi.n_blocks, k), dtype=bool)
    for h in range(psi.n_blocks):
        if psi._bounds[h + 1] > psi._bounds[h]:
            treated[h] = cell_group == unit_group[psi._order[psi._bounds[h]]]
    sums_t, sums_c = np.zeros((n_cl, k)), np.zeros((n_cl, k))
    for h, rows, vals in _factored_row_chunks(psi):
        wm = (np.abs(vals) > threshold) * w[rows, None]  # weights of the nonzero entries
        by_cl = _count_matrix(cl[rows], n_cl, wm, cl[rows], n_cl)
        t = treated[h]
        sums_t[:, t] += by_cl[:, t]
        sums_c[:, ~t] += by_cl[:, ~t]
    factor = []
    for sums in (sums_t, sums_c):
        tot = sums.sum(axis=0)
        h_cl = np.divide(sums, tot, out=np.zeros_like(sums), where=tot > 0)
        factor.append(leverage_factor(h_cl, power))
    out = np.empty((n, k))
    for h, rows, vals in _factored_row_chunks(psi):
        f_block = np.where(treated[h][None, :], factor[0], factor[1])  # (n_cl, k)
        f = f_block[cl[rows]]
        f[np.abs(vals) <= threshold] = 1.0  # entries behind no role stay as they are
        vals *= f
        out[rows] = vals
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


__all__ += ["leverage_adjusted"]
