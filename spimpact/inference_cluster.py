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
the fix. The counts and the cv3/cr2 leverage corrections live in
:mod:`spimpact.inference_roles` (this module re-exports ``cluster_support``,
``support_frame``, ``leverage_adjusted``, ``leverage_factor``,
``RowBlockLeverage`` and ``H_MAX_GAP``).
:func:`cluster_level_test` compares the variance of an estimate
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
from .inference_roles import (
    H_MAX_GAP,
    RowBlockLeverage,
    _unit_cluster,
    cluster_support,
    leverage_adjusted,
    leverage_factor,
    support_frame,
)

__all__ = [
    "INFERENCE_CHOICES",
    "DEFAULT_INFERENCE",
    "SmallSample",
    "small_sample",
    "check_inference",
    "cluster_support",
    "support_frame",
    "leverage_adjusted",
    "leverage_factor",
    "RowBlockLeverage",
    "H_MAX_GAP",
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
