"""Leverage-corrected variances of the two-way fixed-effects regression
(:mod:`spimpact.did._fe_leverage`, used by ``TWFE(inference="cv3"|"cr2")``).

References, both independent slow computations written here on a small weighted,
unbalanced panel with a covariate and clusters of five units:

* cv3: the leave-one-cluster-out jackknife by refitting the regression with
  explicit unit and period dummies once per cluster, ``sum_g (b_(-g) - b)^2``;
* cr2: Bell & McCaffrey's CR2 from the dense hat matrix with unit and period
  dummies, ``(I - H_gg)^{-1/2}`` by scipy's matrix square root.
"""

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import sqrtm

from spimpact.did._fe_leverage import fe_leverage_vcov


def _data(seed=1, n_units=40, T=6):
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), T)
    time = np.tile(np.arange(T), n_units)
    cluster = (np.arange(n_units) // 5)[unit]
    cohort = rng.choice([2, 3, 4, 99], n_units)
    d = (time >= cohort[unit]).astype(float)
    x = rng.normal(size=len(unit))
    w = rng.uniform(0.5, 2, n_units)[unit]
    y = rng.normal(size=n_units)[unit] + 0.3 * time + 0.5 * d + 0.2 * x + rng.normal(size=len(unit))
    keep = rng.uniform(size=len(y)) > 0.1  # unbalanced
    return {k: v[keep] for k, v in dict(unit=unit, time=time, cluster=cluster, d=d, x=x,
                                         w=w, y=y).items()}


def _dense_fit(D, idx):
    Z = np.column_stack([D["d"][idx], D["x"][idx], pd.get_dummies(D["unit"][idx]).to_numpy(float),
                         pd.get_dummies(D["time"][idx]).to_numpy(float)[:, 1:]])
    W = D["w"][idx]
    A = Z.T @ (W[:, None] * Z)
    return np.linalg.solve(A, Z.T @ (W * D["y"][idx])), Z, A


def _ours(D, kind):
    return fe_leverage_vcov(D["y"], D["d"][:, None], D["x"][:, None], D["w"], D["unit"],
                            D["time"], D["cluster"], kind)


def test_cv3_is_the_exact_leave_one_cluster_out_jackknife():
    D = _data()
    b, _, _ = _dense_fit(D, np.arange(len(D["y"])))
    diffs = [_dense_fit(D, np.flatnonzero(D["cluster"] != g))[0][0] - b[0]
             for g in np.unique(D["cluster"])]
    ours_b, V = _ours(D, "cv3")
    assert ours_b[0] == pytest.approx(b[0], abs=1e-12)
    assert V[0, 0] == pytest.approx(np.sum(np.square(diffs)), rel=1e-10)


def test_cr2_matches_the_dense_hat_matrix():
    D = _data(seed=2)
    b, Z, A = _dense_fit(D, np.arange(len(D["y"])))
    Ainv = np.linalg.inv(A)
    e = D["y"] - Z @ b
    meat = np.zeros((Z.shape[1],) * 2)
    for g in np.unique(D["cluster"]):
        i = D["cluster"] == g
        rw = np.sqrt(D["w"][i])
        Zw = rw[:, None] * Z[i]
        adj = np.real(np.linalg.inv(sqrtm(np.eye(i.sum()) - Zw @ Ainv @ Zw.T)))
        u = Zw.T @ adj @ (rw * e[i])
        meat += np.outer(u, u)
    _, V = _ours(D, "cr2")
    # sqrtm of the near-singular blocks limits the reference to ~1e-7
    assert V[0, 0] == pytest.approx((Ainv @ meat @ Ainv)[0, 0], rel=1e-6)


def test_a_coefficient_only_one_cluster_identifies_is_left_unadjusted():
    D = _data(seed=3)
    only = D["cluster"] == 0
    z = np.where(only & (D["time"] >= 3), 1.0, 0.0)  # identified by cluster 0 alone
    b, V = fe_leverage_vcov(D["y"], np.column_stack([D["d"], z]), D["x"][:, None], D["w"],
                            D["unit"], D["time"], D["cluster"], "cv3")
    assert np.all(np.isfinite(V)) and V[1, 1] > 0


def test_row_order_does_not_matter():
    D = _data(seed=4)
    perm = np.random.default_rng(0).permutation(len(D["y"]))
    a = _ours(D, "cr2")[1]
    b = _ours({k: v[perm] for k, v in D.items()}, "cr2")[1]
    np.testing.assert_allclose(a, b, rtol=1e-10)


@pytest.mark.parametrize("chunk", [20_000_000, 50])
def test_small_clusters_and_chunks_match_the_refits(monkeypatch, chunk):
    """Units as their own clusters (blocks smaller than the columns: the rows'
    space) next to clusters of 15 units (the columns' space), in one chunk or in
    many: cv3 is still the exact jackknife."""
    import spimpact.did._fe_leverage as fl

    monkeypatch.setattr(fl, "_CHUNK", chunk)
    D = _data(seed=5)
    D["cluster"] = np.where(D["unit"] < 15, 1000, D["unit"])  # one big cluster, 25 singletons
    b, _, _ = _dense_fit(D, np.arange(len(D["y"])))
    diffs = [_dense_fit(D, np.flatnonzero(D["cluster"] != g))[0][0] - b[0]
             for g in np.unique(D["cluster"])]
    _, V = _ours(D, "cv3")
    assert V[0, 0] == pytest.approx(np.sum(np.square(diffs)), rel=1e-9)


# --- the cohort-block variance (balanced panels without covariates) -----------------

def _balanced(seed, n_units=40, T=6, cluster_size=5):
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), T)
    time = np.tile(np.arange(T), n_units)
    cohort = rng.choice([2, 3, 4, 99], n_units)
    d = (time >= cohort[unit]).astype(float)
    w = rng.uniform(0.5, 2, n_units)[unit]
    y = rng.normal(size=n_units)[unit] + 0.3 * time + 0.5 * d + rng.normal(size=len(unit))
    return dict(unit=unit, time=time, cluster=(np.arange(n_units) // cluster_size)[unit],
                d=d, x=np.zeros(0), w=w, y=y, cohort=cohort)


def _dense_fit_nox(D, idx):
    Z = np.column_stack([D["d"][idx], pd.get_dummies(D["unit"][idx]).to_numpy(float),
                         pd.get_dummies(D["time"][idx]).to_numpy(float)[:, 1:]])
    W = D["w"][idx]
    A = Z.T @ (W[:, None] * Z)
    return np.linalg.solve(A, Z.T @ (W * D["y"][idx])), Z, A


def _block_vcov(D, kind, clustered):
    """``fe_block_vcov`` of the static TWFE regression, built as TWFE builds it."""
    from spimpact.did._fe import FESample
    from spimpact.did._fe_blocks import block_ols, wide_panel
    from spimpact.did._fe_leverage import fe_block_vcov

    n, T = len(D["cohort"]), int(D["time"].max()) + 1
    cohort, unit_block = np.unique(D["cohort"], return_inverse=True)
    s = FESample(D["y"], D["w"], D["unit"], D["time"], np.zeros((len(D["y"]), 0)), [],
                 D["cohort"].astype(float), D["w"][::T], None, None, np.arange(n), T)
    wp = wide_panel(s, unit_block, len(cohort))
    assert wp is not None
    nb = len(cohort)
    R = np.zeros((nb, T, T))
    R[:, :, 0] = np.arange(T)[None, :] >= cohort[:, None]
    R[:, np.arange(1, T), np.arange(1, T)] = 1.0
    E = np.empty((n, T))
    fit = block_ols(wp, np.ones((nb, T), bool), R, [f"c{j}" for j in range(T)], "test", E)
    cl = D["cluster"][::T][wp.order] if clustered else None
    return fit.coef[0], fe_block_vcov(wp, R, fit.bread, E, cl, 1, kind)[0, 0]


@pytest.mark.parametrize("clustered", [False, True])
def test_block_cv3_is_the_exact_leave_one_cluster_out_jackknife(monkeypatch, clustered):
    """Units as clusters (the rows' space, chunked) and clusters of five units
    (the columns' space, chunked): the refits' jackknife to 1e-10."""
    import spimpact.did._fe_leverage as fl

    monkeypatch.setattr(fl, "_UNIT_CHUNK", 3)
    monkeypatch.setattr(fl, "_CLUSTER_FLOATS", 50)
    D = _balanced(seed=6)
    groups = D["cluster"] if clustered else D["unit"]
    b, _, _ = _dense_fit_nox(D, np.arange(len(D["y"])))
    diffs = [_dense_fit_nox(D, np.flatnonzero(groups != g))[0][0] - b[0]
             for g in np.unique(groups)]
    ours_b, V = _block_vcov(D, "cv3", clustered)
    assert ours_b == pytest.approx(b[0], abs=1e-12)
    assert V == pytest.approx(np.sum(np.square(diffs)), rel=1e-10)


@pytest.mark.parametrize("clustered", [False, True])
def test_block_cr2_and_sandwich_match_the_dense_hat_matrix(clustered):
    D = _balanced(seed=7)
    groups = D["cluster"] if clustered else D["unit"]
    b, Z, A = _dense_fit_nox(D, np.arange(len(D["y"])))
    Ainv = np.linalg.inv(A)
    e = D["y"] - Z @ b
    meat = np.zeros((Z.shape[1],) * 2)
    plain = np.zeros_like(meat)
    for g in np.unique(groups):
        i = groups == g
        rw = np.sqrt(D["w"][i])
        Zw = rw[:, None] * Z[i]
        # (I - H_gg)^(-1/2) on the directions the other clusters also identify; the
        # unit dummies' directions (eigenvalue 1) are left as they are
        lam, V = np.linalg.eigh(Zw @ Ainv @ Zw.T)
        f = np.where(lam < 1 - 1e-8, 1 / np.sqrt(np.clip(1 - lam, 1e-300, None)), 1.0)
        u = Zw.T @ (V * f) @ V.T @ (rw * e[i])
        meat += np.outer(u, u)
        s = Zw.T @ (rw * e[i])
        plain += np.outer(s, s)
    assert _block_vcov(D, "cr2", clustered)[1] == pytest.approx((Ainv @ meat @ Ainv)[0, 0],
                                                                rel=1e-9)
    assert _block_vcov(D, "cluster", clustered)[1] == pytest.approx(
        (Ainv @ plain @ Ainv)[0, 0], rel=1e-10)


def test_hat_adjusted_solves_easy_blocks_and_keeps_the_rule_for_the_others():
    """cv3's direct solve for blocks with trace below 1 equals the eigen
    formula; a block with an eigenvalue of 1 (a direction only that unit
    identifies) and CR2 go through the eigen-decomposition and its rule."""
    from spimpact.did._fe_leverage import _hat_adjusted
    from spimpact.inference_roles import leverage_factor

    rng = np.random.default_rng(8)
    m = 6
    Q = np.linalg.qr(rng.normal(size=(4, m, m)))[0]
    lam = rng.uniform(0, 0.15, size=(4, m))
    lam[3, 0] = 1.0  # block 3: one direction identified by this unit alone
    H = np.einsum("cij,cj,ckj->cik", Q, lam, Q)
    e = rng.normal(size=(4, m))
    for power in (1.0, 0.5):
        want = np.einsum("cij,cj,ckj,ck->ci", Q, leverage_factor(lam, power), Q, e)
        np.testing.assert_allclose(_hat_adjusted(H, e, power), want, rtol=1e-10, atol=1e-12)
