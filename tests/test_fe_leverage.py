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
