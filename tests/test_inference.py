"""Tests of the shared inference machinery (:mod:`spimpact.inference`).

References: statsmodels' OLS sandwich variances (HC0 and cluster-robust
without small-sample correction) for the influence-function variances;
closed forms for the multiplier distributions, the delta method and the
Wald test (scipy's chi-square); Monte Carlo for the bootstrap and the
simultaneous bands, with tolerances stated as multiples of the Monte Carlo
standard error.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from spimpact import OptionError
from spimpact.inference import (
    MIN_CLUSTERS,
    FactoredInfluence,
    as_generator,
    bootstrap_summary,
    cluster_sums,
    delta_method,
    few_clusters_message,
    influence_se,
    influence_vcov,
    linear_combination,
    multiplier_bootstrap,
    multiplier_weights,
    sup_t_critical_value,
    validate_choice,
    wald_test,
)

#: Two computations of the same sandwich formula agree to rounding error.
EXACT = 1e-10
#: Monte Carlo checks pass when within this many Monte Carlo standard errors (seeds are
#: fixed, so the tests are deterministic; 4 SEs would fail by chance 1 time in ~16,000).
MC_SES = 4.0
SQRT5 = np.sqrt(5.0)


def _regression(n: int = 400, n_clusters: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, n_clusters, n)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.binomial(1, 0.4, n)])
    u = rng.normal(size=n_clusters)[cluster] + rng.normal(size=n) * (1 + X[:, 1] ** 2)
    y = X @ np.array([1.0, 0.5, -0.3]) + u
    return X, y, cluster


def _ols_influence(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and their influence functions n (X'X)^-1 x_i e_i."""
    n = len(y)
    beta = np.linalg.solve(X.T @ X, X.T @ y)
    e = y - X @ beta
    psi = n * (X * e[:, None]) @ np.linalg.inv(X.T @ X)
    return beta, psi


# --------------------------------------------------- influence-function variances
def test_influence_vcov_equals_statsmodels_hc0():
    sm = pytest.importorskip("statsmodels.api")
    X, y, _ = _regression()
    beta, psi = _ols_influence(X, y)
    ref = sm.OLS(y, X).fit(cov_type="HC0")
    np.testing.assert_allclose(beta, ref.params, rtol=EXACT)
    np.testing.assert_allclose(influence_vcov(psi), ref.cov_params(), rtol=EXACT)
    np.testing.assert_allclose(influence_se(psi), ref.bse, rtol=EXACT)


def test_clustered_influence_vcov_equals_statsmodels_cluster_robust():
    sm = pytest.importorskip("statsmodels.api")
    X, y, cluster = _regression()
    _, psi = _ols_influence(X, y)
    ref = sm.OLS(y, X).fit(cov_type="cluster",
                           cov_kwds={"groups": cluster, "use_correction": False})
    np.testing.assert_allclose(influence_vcov(psi, cluster), ref.cov_params(), rtol=EXACT)
    np.testing.assert_allclose(influence_se(psi, cluster), ref.bse, rtol=EXACT)
    # statsmodels' default applies G/(G-1) (N-1)/(N-K); the same factor maps one to the other
    corrected = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": cluster})
    G, N, K = 40, len(y), X.shape[1]
    factor = G / (G - 1) * (N - 1) / (N - K)
    np.testing.assert_allclose(factor * influence_vcov(psi, cluster), corrected.cov_params(),
                               rtol=EXACT)


def test_mean_influence_function_gives_the_textbook_variance():
    x = np.random.default_rng(3).normal(2.0, 3.0, 500)
    v = influence_vcov((x - x.mean())[:, None])[0, 0]
    assert v == pytest.approx(np.var(x) / len(x), rel=EXACT)
    # a one-dimensional psi is one parameter
    assert influence_se(x - x.mean())[0] == pytest.approx(np.sqrt(v), rel=EXACT)
    # n= rescales: psi scaled for n units but only some rows stored
    assert influence_vcov((x - x.mean())[:, None], n=1000)[0, 0] == pytest.approx(
        np.sum((x - x.mean()) ** 2) / 1000**2, rel=EXACT)


def test_cluster_sums():
    psi = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(cluster_sums(psi, np.array([1, 0, 1])), [[3, 4], [6, 8]])
    np.testing.assert_array_equal(cluster_sums(psi[:, 0], np.array([1, 0, 1])), [3, 6])
    assert cluster_sums(psi, None) is not None and cluster_sums(psi, None).shape == (3, 2)


def _factored(seed: int = 1, ragged: bool = False):
    """A factored influence matrix, its dense form built row by row from the
    definition (the slow, obvious reference), and cluster codes. ``ragged``:
    blocks of different widths (built with ``from_blocks``)."""
    rng = np.random.default_rng(seed)
    n, n_blocks, k = 300, 4, 5
    widths = np.array([3, 1, 5, 2]) if ragged else np.full(n_blocks, 3)
    offsets = np.r_[0, np.cumsum(widths)]
    blocks = rng.integers(0, n_blocks, n)
    values = rng.normal(size=(n, widths.max()))
    coef = rng.normal(size=(offsets[-1], k))
    dense = np.zeros((n, k))
    for i in range(n):
        h = blocks[i]
        dense[i] = values[i, : widths[h]] @ coef[offsets[h] : offsets[h + 1]]
    if ragged:
        order = np.argsort(blocks, kind="stable")
        f = FactoredInfluence.from_blocks(
            order, np.bincount(blocks, minlength=n_blocks),
            [values[order[blocks[order] == h], : widths[h]] for h in range(n_blocks)], coef)
    else:
        f = FactoredInfluence(blocks, values, n_blocks, coef)
    return f, dense, rng.integers(0, 25, n)


@pytest.mark.parametrize("ragged", [False, True])
def test_factored_influence_equals_its_dense_form(ragged):
    f, dense, cluster = _factored(ragged=ragged)
    np.testing.assert_allclose(f.dense(), dense, rtol=EXACT, atol=EXACT)
    np.testing.assert_allclose(influence_vcov(f), influence_vcov(dense), rtol=EXACT)
    np.testing.assert_allclose(influence_vcov(f, cluster), influence_vcov(dense, cluster),
                               rtol=EXACT)
    np.testing.assert_allclose(influence_se(f, cluster), influence_se(dense, cluster), rtol=EXACT)
    sub = np.array([0, 3])
    np.testing.assert_allclose(f.with_columns(sub).dense(), dense[:, sub], atol=EXACT)
    M = np.random.default_rng(3).normal(size=(5, 2))
    np.testing.assert_allclose(f @ M, dense @ M, rtol=EXACT, atol=EXACT)
    np.testing.assert_allclose(f.combine(M).dense(), dense @ M, rtol=EXACT, atol=EXACT)
    np.testing.assert_allclose(f.cluster_basis(cluster) @ f.coef, cluster_sums(dense, cluster),
                               rtol=EXACT, atol=EXACT)


def test_factored_influence_refuses_coefficients_of_the_wrong_size():
    f, _, _ = _factored(ragged=True)
    with pytest.raises(ValueError, match="coef has 10 rows; the basis has 11 columns"):
        FactoredInfluence.from_blocks(f._order, np.diff(f._bounds),
                                      [f.block_values(h) for h in range(4)], f.coef[:10])


@pytest.mark.parametrize("ragged", [False, True])
@pytest.mark.parametrize("clustered", [False, True])
def test_factored_bootstrap_equals_dense_bootstrap(clustered, ragged):
    f, dense, cluster = _factored(ragged=ragged)
    cl = cluster if clustered else None
    a = multiplier_bootstrap(f, 50, cluster=cl, random_state=4)
    # unclustered, the multipliers are assigned in the factored item's block
    # order (no gather of b x n draws): the dense twin in that row order is exact
    b = multiplier_bootstrap(dense if clustered else dense[f._order], 50, cluster=cl,
                             random_state=4)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_factored_bootstrap_keeps_items_on_the_same_multipliers():
    """Dense items bootstrapped beside a factored one are permuted alike, so the
    draws of a sum are the sum of the draws."""
    f, dense, _ = _factored()
    extra = np.random.default_rng(9).normal(size=(dense.shape[0], 2))
    a, b = multiplier_bootstrap([f, extra], 40, random_state=5)
    both = multiplier_bootstrap(np.hstack([dense, extra])[f._order], 40, random_state=5)
    np.testing.assert_allclose(np.hstack([a, b]), both, rtol=1e-9, atol=1e-12)


def test_factored_bootstrap_with_two_bases_and_small_chunks():
    """Two factored items on different bases (the second visited row by row)
    and chunks that straddle block boundaries: the draws equal those of the
    dense twins on the same multipliers."""
    f, dense, _ = _factored(1)
    g, dense_g, _ = _factored(2, ragged=True)
    a, b = multiplier_bootstrap([f, g], 30, random_state=7, chunk=37)
    both = multiplier_bootstrap(np.hstack([dense, dense_g])[f._order], 30, random_state=7,
                                chunk=37)
    np.testing.assert_allclose(np.hstack([a, b]), both, rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------- multipliers
def test_mammen_multipliers_have_the_right_support_and_moments():
    n = 1_000_000
    v = multiplier_weights((n,), "mammen", np.random.default_rng(0))
    lo, hi = (1 - SQRT5) / 2, (1 + SQRT5) / 2
    assert set(np.unique(v)) == {lo, hi}
    p = (SQRT5 + 1) / (2 * SQRT5)
    share = np.mean(v == lo)
    assert abs(share - p) < MC_SES * np.sqrt(p * (1 - p) / n)
    # E v = 0, E v^2 = 1, E v^3 = 1 (Mammen 1993); MC SE = sd(v^k) / sqrt(n)
    for k, target in ((1, 0.0), (2, 1.0), (3, 1.0)):
        assert abs(np.mean(v**k) - target) < MC_SES * np.std(v**k) / np.sqrt(n), k
    # the population moments are exact for the two-point law
    assert p * lo + (1 - p) * hi == pytest.approx(0.0, abs=1e-15)
    assert p * lo**2 + (1 - p) * hi**2 == pytest.approx(1.0, rel=1e-14)
    assert p * lo**3 + (1 - p) * hi**3 == pytest.approx(1.0, rel=1e-14)


def test_rademacher_multipliers():
    n = 1_000_000
    v = multiplier_weights((n,), "rademacher", np.random.default_rng(1))
    assert set(np.unique(v)) == {-1.0, 1.0}
    assert abs(np.mean(v)) < MC_SES / np.sqrt(n)
    v32 = multiplier_weights((3, 7), "rademacher", np.random.default_rng(1), np.float32)
    assert v32.shape == (3, 7) and v32.dtype == np.float32
    with pytest.raises(OptionError, match="'mammen' or 'rademacher'"):
        multiplier_weights((3,), "normal", np.random.default_rng(1))  # type: ignore[arg-type]
    # signs come 8 to a byte and 64 to a word: neighbours within and across
    # bytes and words must be uncorrelated (MC SE of a correlation: 1/sqrt(n))
    for lag in (1, 7, 8, 63, 64):
        r = np.mean(v[:-lag] * v[lag:])
        assert abs(r) < MC_SES / np.sqrt(n), lag


@pytest.mark.parametrize("kind", ["rademacher", "mammen"])
def test_multipliers_into_a_buffer_equal_fresh_ones(kind):
    fresh = multiplier_weights((5, 13), kind, np.random.default_rng(4), np.float32)
    buffer = np.full(200, np.nan, dtype=np.float32)
    into = multiplier_weights((5, 13), kind, np.random.default_rng(4), np.float32,
                              buffer=buffer)
    np.testing.assert_array_equal(into, fresh)
    assert np.shares_memory(into, buffer)
    with pytest.raises(OptionError, match="buffer must be a 1-D float32 array of at least 128"):
        multiplier_weights((5, 13), kind, np.random.default_rng(4), np.float32,
                           buffer=buffer[:100])


@pytest.mark.parametrize("kind", ["rademacher", "mammen"])
def test_clustered_multipliers_are_constant_within_clusters(kind):
    n, n_boot = 12, 200
    cluster = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 4, 4])
    # psi = identity: draw b of column j is v_{cluster(j)} / n, so the draws show the multipliers
    draws = multiplier_bootstrap(np.eye(n), n_boot, cluster=cluster, kind=kind, random_state=3)
    v = draws * n
    for c in range(5):
        cols = v[:, cluster == c]
        np.testing.assert_array_equal(cols, np.repeat(cols[:, :1], cols.shape[1], axis=1))
    assert not np.array_equal(v[:, 0], v[:, 3])  # different clusters, different draws
    unclustered = multiplier_bootstrap(np.eye(n), n_boot, kind=kind, random_state=3) * n
    assert not np.array_equal(unclustered[:, 0], unclustered[:, 1])


# ------------------------------------------------------------ bootstrap vs analytic
#: Draws used for the bootstrap-vs-analytic checks.
N_BOOT = 4000
#: Relative Monte Carlo SE of a standard-deviation estimate from B normal draws,
#: 1/sqrt(2B), and of the IQR-based one (efficiency 0.37 against the SD): 1.16/sqrt(B).
SD_REL_MC = 1 / np.sqrt(2 * N_BOOT)
IQR_REL_MC = 1.16 / np.sqrt(N_BOOT)


@pytest.mark.parametrize("kind", ["rademacher", "mammen"])
@pytest.mark.parametrize("clustered", [False, True])
def test_bootstrap_standard_errors_match_analytic(kind, clustered):
    X, y, cluster = _regression(n=600, n_clusters=60, seed=5)
    _, psi = _ols_influence(X, y)
    cl = cluster if clustered else None
    analytic = influence_se(psi, cl)
    draws = multiplier_bootstrap(psi, N_BOOT, cluster=cl, kind=kind, random_state=11)
    assert draws.shape == (N_BOOT, 3)
    # given the data the draws have mean 0 and variance exactly V: their SD estimates the SE
    np.testing.assert_array_less(np.abs(draws.std(axis=0) / analytic - 1), MC_SES * SD_REL_MC)
    summary = bootstrap_summary(draws)
    np.testing.assert_array_less(np.abs(summary.std_error / analytic - 1), MC_SES * IQR_REL_MC)


def test_bootstrap_of_a_mean_recovers_sigma_over_root_n():
    x = np.random.default_rng(8).exponential(2.0, 2000)
    se = np.std(x) / np.sqrt(len(x))  # the known answer: population SD over root n
    draws = multiplier_bootstrap(x - x.mean(), N_BOOT, random_state=2)
    assert abs(draws.std() / se - 1) < MC_SES * SD_REL_MC


def test_bootstrap_is_reproducible_and_linear():
    X, y, cluster = _regression(seed=6)
    _, psi = _ols_influence(X, y)
    a = multiplier_bootstrap(psi, 100, cluster=cluster, random_state=1)
    b = multiplier_bootstrap(psi, 100, cluster=cluster, random_state=np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    # several matrices share the multipliers, so combinations of columns commute
    w = np.array([[1.0, -1.0, 0.5]])
    both = multiplier_bootstrap([psi, psi @ w.T], 100, cluster=cluster, random_state=1)
    np.testing.assert_allclose(both[1], a @ w.T, rtol=1e-10, atol=1e-14)
    single = multiplier_bootstrap(psi, 100, cluster=cluster, random_state=1,
                                  single_precision=True)
    np.testing.assert_allclose(single, a, rtol=1e-4, atol=1e-6)
    assert not np.array_equal(a, multiplier_bootstrap(psi, 100, cluster=cluster, random_state=2))


@pytest.mark.parametrize("bad", [1, 0, 2.5, "999", True])
def test_bootstrap_rejects_bad_draw_counts(bad):
    with pytest.raises(OptionError, match="bootstrap draws"):
        multiplier_bootstrap(np.ones((5, 1)), bad)


# ----------------------------------------------------------------- sup-t bands
def test_bootstrap_summary_formulas():
    draws = np.random.default_rng(0).normal(size=(5000, 4)) * [1.0, 2.0, 0.5, 3.0]
    s = bootstrap_summary(draws, 0.9)
    q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0)
    np.testing.assert_allclose(s.std_error, (q75 - q25) / (stats.norm.ppf(0.75)
                                                           - stats.norm.ppf(0.25)), rtol=EXACT)
    t = np.max(np.abs(draws / s.std_error), axis=1)
    assert s.crit_uniform == pytest.approx(np.quantile(t, 0.9), rel=EXACT)
    assert s.crit_pointwise == pytest.approx(stats.norm.ppf(0.95), rel=EXACT)
    # a zero-SE column is left out of the maximum; all zero gives NaN
    with_zero = np.column_stack([draws, np.zeros(5000)])
    se = np.r_[s.std_error, 0.0]
    assert sup_t_critical_value(with_zero, se, 0.9) == pytest.approx(s.crit_uniform, rel=EXACT)
    assert np.isnan(sup_t_critical_value(np.zeros((10, 2)), np.zeros(2)))


#: Replications of the band-coverage simulation, and the tolerance: 4 binomial MC SEs.
BAND_REPS = 400
BAND_TOL = MC_SES * np.sqrt(0.95 * 0.05 / BAND_REPS)


def test_sup_t_band_has_nominal_simultaneous_coverage():
    """Gaussian data with 8 correlated means: the sup-t band from the multiplier
    bootstrap covers all 8 true means at once in ~95% of samples; pointwise
    95% intervals cover all 8 at once far less often."""
    rng = np.random.default_rng(2024)
    k, n = 8, 300
    A = rng.normal(size=(k, k)) * 0.4 + np.eye(k)
    truth = np.zeros(k)
    band = point = 0
    crits = []
    for r in range(BAND_REPS):
        x = rng.normal(size=(n, k)) @ A.T
        theta = x.mean(axis=0)
        psi = x - theta
        se = influence_se(psi)
        draws = multiplier_bootstrap(psi, 499, random_state=r)
        crit = sup_t_critical_value(draws, se, 0.95)
        crits.append(crit)
        t = np.abs((theta - truth) / se)
        band += bool(np.all(t <= crit))
        point += bool(np.all(t <= stats.norm.ppf(0.975)))
    assert abs(band / BAND_REPS - 0.95) < BAND_TOL, band / BAND_REPS
    assert point / BAND_REPS < 0.95 - BAND_TOL  # pointwise intervals are not a band
    # with 8 parameters the critical value lies between the pointwise 1.96 and Bonferroni
    assert stats.norm.ppf(0.975) < np.median(crits) < stats.norm.ppf(1 - 0.025 / k)


# ---------------------------------------------------------------- delta method
def _g(theta: np.ndarray) -> np.ndarray:
    a, b, c = theta
    return np.array([a / b, np.exp(c) * a])


def _numerical_jacobian(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    cols = []
    for j in range(len(x)):
        e = np.zeros(len(x))
        e[j] = h
        cols.append((f(x + e) - f(x - e)) / (2 * h))
    return np.column_stack(cols)


def test_delta_method_with_a_numerical_derivative_matches_the_closed_form():
    theta = np.array([2.0, 4.0, 0.3])
    V = np.array([[0.04, 0.01, 0.0], [0.01, 0.09, 0.005], [0.0, 0.005, 0.01]])
    G = _numerical_jacobian(_g, theta)
    var = delta_method(G, V)
    a, b, c = theta
    # Var(a/b) ~ Va / b^2 + a^2 Vb / b^4 - 2 a Cab / b^3
    ratio = V[0, 0] / b**2 + a**2 * V[1, 1] / b**4 - 2 * a * V[0, 1] / b**3
    assert var[0, 0] == pytest.approx(ratio, rel=1e-8)
    # Var(a e^c) ~ e^{2c} (Va + a^2 Vc + 2 a Cac)
    prod = np.exp(2 * c) * (V[0, 0] + a**2 * V[2, 2] + 2 * a * V[0, 2])
    assert var[1, 1] == pytest.approx(prod, rel=1e-8)
    assert var[0, 1] == pytest.approx(var[1, 0], rel=EXACT)


def test_delta_method_agrees_with_simulation_for_small_variance():
    theta = np.array([2.0, 4.0, 0.3])
    V = np.diag([0.0004, 0.0009, 0.0001])
    draws = np.random.default_rng(0).multivariate_normal(theta, V, size=200_000)
    sim = np.var(draws[:, 0] / draws[:, 1])
    var = delta_method(_numerical_jacobian(_g, theta)[0], V)[0, 0]
    assert var == pytest.approx(sim, rel=0.02)  # MC relative SE ~0.3%; bias O(V) ~0.1%


# ------------------------------------------------------------------- Wald test
def test_wald_test_matches_scipy_chi_square():
    est = np.array([0.3, -0.1, 0.2])
    V = np.array([[0.04, 0.01, 0.0], [0.01, 0.09, 0.02], [0.0, 0.02, 0.05]])
    stat, df, p = wald_test(est, V)
    ref = est @ np.linalg.solve(V, est)
    assert stat == pytest.approx(ref, rel=EXACT) and df == 3
    assert p == pytest.approx(stats.chi2.sf(ref, 3), rel=1e-10)


def test_wald_test_drops_degenerate_parameters():
    est = np.array([0.3, 5.0, -0.1])
    V = np.array([[0.04, 0.0, 0.01], [0.0, 0.0, 0.0], [0.01, 0.0, 0.09]])
    stat, df, p = wald_test(est, V)
    keep = [0, 2]
    ref = est[keep] @ np.linalg.solve(V[np.ix_(keep, keep)], est[keep])
    assert df == 2 and stat == pytest.approx(ref, rel=EXACT)
    assert p == pytest.approx(stats.chi2.sf(ref, 2), rel=1e-10)
    # a rank-deficient block (two copies of one estimate) counts once
    est2, V2 = np.array([0.2, 0.2]), np.full((2, 2), 0.01)
    stat2, df2, _ = wald_test(est2, V2)
    assert df2 == 1 and stat2 == pytest.approx(0.2**2 / 0.01, rel=1e-8)
    assert np.isnan(wald_test(np.array([1.0]), np.zeros((1, 1)))[0])


# -------------------------------------------------------------------- helpers
def test_linear_combination():
    est = np.array([1.0, 2.0, 3.0])
    psi = np.arange(12.0).reshape(4, 3)
    W = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    e, p = linear_combination(est, psi, W)
    np.testing.assert_allclose(e, [1.5, 3.0])
    np.testing.assert_allclose(p, psi @ W.T)
    _, p2 = linear_combination(est, psi, W, extra_psi=np.ones((4, 2)))
    np.testing.assert_allclose(p2, psi @ W.T + 1)


def test_few_clusters_message_and_choices_and_generators():
    assert few_clusters_message(None) is None and few_clusters_message(MIN_CLUSTERS) is None
    msg = few_clusters_message(12)
    assert msg is not None and "only 12 clusters" in msg
    validate_choice("kind", "a", ["a", "b"])
    with pytest.raises(OptionError, match="kind must be one of \\['a', 'b'\\], not 'c'"):
        validate_choice("kind", "c", ["a", "b"])
    g = np.random.default_rng(0)
    assert as_generator(g) is g
    assert as_generator(5).integers(0, 10**9) == np.random.default_rng(5).integers(0, 10**9)
    with pytest.raises(OptionError, match="random_state"):
        as_generator("seed")  # type: ignore[arg-type]
