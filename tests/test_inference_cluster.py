"""Small-cluster inference (``spimpact.inference_cluster``) and its use by the DiD
estimators: the ``inference=`` choices against independent computations
(statsmodels' and pyfixest's cluster-robust variances, a slow pairwise loop for
the clustering-level test), and the warnings on results.

Coverage of the choices is measured in ``benchmarks/bench_inference.py`` and
``tests/test_inference_cluster_slow.py`` (``make bench``), not here.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

from spimpact import Panel
from spimpact.did import TWFE, CallawaySantAnna, Imputation, SunAbraham, TwoStage
from spimpact.errors import OptionError
from spimpact.inference_cluster import (
    cluster_level_test,
    cluster_support,
    few_clusters_note,
    small_sample,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from england_dgp import EnglandDGP, simulate_england  # noqa: E402

#: Agreement required with an independent computation of the same formula
#: (double-precision sums over a few thousand rows).
TOL = 1e-8


def _two_period(seed=0, G=12, per=15):
    rng = np.random.default_rng(seed)
    n = G * per
    cl = np.repeat(np.arange(G), per)
    d = (rng.random(n) < 0.4).astype(int)
    dy = 0.3 * d + rng.normal(size=G)[cl] + rng.normal(size=n)
    y0 = rng.normal(size=n)
    frame = pd.DataFrame({
        "unit": np.repeat(np.arange(n), 2), "t": np.tile([1, 2], n),
        "cl": np.repeat(cl, 2), "y": np.column_stack([y0, y0 + dy]).ravel(),
        "g": np.repeat(np.where(d == 1, 2.0, np.nan), 2),
    })
    return frame, dy, d, cl


def _fit_quiet(est, panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(panel)


def test_cs_two_by_two_matches_statsmodels_cluster_robust_ols():
    """A 2x2 DiD is OLS of the change on the treatment dummy: analytic SEs are
    statsmodels' CR0, cluster_t its CR1 without the (N-1)/(N-K) factor, with
    t(G-1) p-values (statsmodels' df_correction)."""
    import statsmodels.api as sm

    frame, dy, d, cl = _two_period()
    panel = Panel(frame, outcome="y", unit="unit", time="t", cohort="g", cluster="cl")
    X = sm.add_constant(d.astype(float))
    cr0 = sm.OLS(dy, X).fit(cov_type="cluster", cov_kwds={"groups": cl, "use_correction": False})
    cr1 = sm.OLS(dy, X).fit(cov_type="cluster", cov_kwds={"groups": cl, "use_correction": True,
                                                          "df_correction": True}, use_t=True)
    a = _fit_quiet(CallawaySantAnna(method="reg", inference="analytic"), panel).overall
    c = _fit_quiet(CallawaySantAnna(method="reg", inference="cluster_t"), panel).overall
    N, K, G = len(dy), 2, 12
    assert a.estimate == pytest.approx(cr0.params[1], abs=TOL)
    assert a.std_error == pytest.approx(cr0.bse[1], rel=TOL)
    assert c.std_error == pytest.approx(cr1.bse[1] * np.sqrt((N - K) / (N - 1)), rel=TOL)
    t = c.estimate / c.std_error
    assert c.p_value == pytest.approx(2 * special.stdtr(G - 1, -abs(t)), rel=TOL)
    assert cr1.df_resid_inference == G - 1  # statsmodels' reference distribution is t(G-1) too
    half = special.stdtrit(G - 1, 0.975) * c.std_error
    assert (c.ci_lower, c.ci_upper) == pytest.approx((c.estimate - half, c.estimate + half),
                                                     abs=TOL)


def _england_panel(seed=3, cluster="icb", n_icbs=8, pcns_per_icb=6, n_quarters=12, **kw):
    p = EnglandDGP(n_icbs=n_icbs, pcns_per_icb=pcns_per_icb, n_quarters=n_quarters, **kw)
    df = simulate_england(p, seed)
    df = df.assign(cohort=df["cohort"].replace(np.inf, np.nan))
    return Panel(df, outcome="y", unit="practice", time="quarter", cohort="cohort",
                 covariates=["need"], cluster=cluster, levels=("practice", "pcn", "icb"))


def test_cluster_t_scales_every_table_and_puts_the_band_on_the_t_scale():
    panel = _england_panel()
    kw = dict(control_group="not_yet_treated", bootstrap=199, random_state=5)
    a = _fit_quiet(CallawaySantAnna(inference="analytic", **kw), panel)
    c = _fit_quiet(CallawaySantAnna(inference="cluster_t", **kw), panel)
    G = panel.n_clusters
    f = np.sqrt(G / (G - 1))
    np.testing.assert_allclose(c.estimates["estimate"], a.estimates["estimate"])
    np.testing.assert_allclose(c.estimates["std_error"], f * a.estimates["std_error"], rtol=TOL)
    ea, ec = a.aggregate("event"), c.aggregate("event")
    np.testing.assert_allclose(ec.estimates["std_error"], f * ea.estimates["std_error"], rtol=TOL)
    assert ec.crit_uniform == pytest.approx(special.stdtrit(G - 1, special.ndtr(ea.crit_uniform)),
                                            rel=TOL)
    tab = ec.estimates
    q = special.stdtrit(G - 1, 0.975)
    np.testing.assert_allclose(tab["ci_upper"] - tab["estimate"], q * tab["std_error"], rtol=TOL)
    assert c.info["inference"].startswith("cluster_t") and a.info["inference"].startswith("analytic")
    assert c.overall.std_error == pytest.approx(f * a.overall.std_error, rel=TOL)


def test_twfe_cluster_t_matches_pyfixest_crv1():
    """TWFE with inference='cluster_t' is pyfixest's CRV1 with the G/(G-1) factor
    only (ssc(k_adj=False, G_adj=True)) and t(G-1) p-values."""
    pf = pytest.importorskip("pyfixest")
    panel = _england_panel(seed=4)
    res = _fit_quiet(TWFE(inference="cluster_t", covariates=()), panel)
    df = panel.frame.assign(treated=(panel.frame["quarter"] >= panel.frame["cohort"]).astype(float))
    fit = pf.feols("y ~ treated | practice + quarter", data=df, vcov={"CRV1": "icb"},
                   ssc=pf.ssc(k_adj=False, G_adj=True))
    row = res.estimates.iloc[0]
    assert row["estimate"] == pytest.approx(float(fit.coef()["treated"]), rel=1e-9)
    assert row["std_error"] == pytest.approx(float(fit.se()["treated"]), rel=1e-7)
    assert row["p_value"] == pytest.approx(float(fit.pvalue()["treated"]), rel=1e-6)
    a = _fit_quiet(TWFE(inference="analytic", covariates=()), panel).estimates.iloc[0]
    G = panel.n_clusters
    assert row["std_error"] == pytest.approx(a["std_error"] * np.sqrt(G / (G - 1)), rel=TOL)


@pytest.mark.parametrize("cls", [SunAbraham, Imputation, TwoStage])
def test_fixed_effects_estimators_take_the_same_choices(cls):
    panel = _england_panel(seed=6)
    a = _fit_quiet(cls(inference="analytic"), panel)
    c = _fit_quiet(cls(inference="cluster_t"), panel)
    G = panel.n_clusters
    np.testing.assert_allclose(c.estimates["std_error"],
                               np.sqrt(G / (G - 1)) * a.estimates["std_error"], rtol=TOL)
    assert c.overall.std_error == pytest.approx(np.sqrt(G / (G - 1)) * a.overall.std_error,
                                                rel=TOL)
    with pytest.raises(OptionError, match="inference must be one of"):
        cls(inference="wild").fit(panel)


def test_twfe_cv3_is_pyfixests_crv3_and_cr2_sits_between():
    """TWFE's default cv3 is the exact cluster jackknife: pyfixest's CRV3
    (``sum_g (b_(-g) - b)^2``, ssc without G factor) times ``(G-1)/G`` as in
    MacKinnon, Nielsen & Webb (2023); t(G-1) p-values."""
    pf = pytest.importorskip("pyfixest")
    panel = _england_panel(seed=4)
    df = panel.frame.assign(treated=(panel.frame["quarter"] >= panel.frame["cohort"]).astype(float))
    fit = pf.feols("y ~ treated | practice + quarter", data=df, vcov={"CRV3": "icb"},
                   ssc=pf.ssc(k_adj=False, G_adj=False))
    G = panel.n_clusters
    res = _fit_quiet(TWFE(covariates=()), panel)
    assert res.info["inference"].startswith("cv3")
    row = res.estimates.iloc[0]
    assert row["estimate"] == pytest.approx(float(fit.coef()["treated"]), rel=1e-9)
    assert row["std_error"] == pytest.approx(float(fit.se()["treated"]) * np.sqrt((G - 1) / G),
                                             rel=1e-7)
    assert row["p_value"] == pytest.approx(
        2 * special.stdtr(G - 1, -abs(row["estimate"] / row["std_error"])), rel=1e-9)
    cr2 = _fit_quiet(TWFE(inference="cr2", covariates=()), panel).estimates.iloc[0]
    crv1 = _fit_quiet(TWFE(inference="analytic", covariates=()), panel).estimates.iloc[0]
    assert crv1["std_error"] < cr2["std_error"] < float(fit.se()["treated"])


def test_twfe_event_study_cv3_refits_without_each_cluster():
    """Each event-time coefficient's cv3 variance is (G-1)/G times the sum of
    squared changes when a cluster is left out and the event study refitted."""
    panel = _england_panel(seed=5, n_icbs=5)
    est = TWFE(event_study=True, window=(-3, 4), covariates=())
    full = _fit_quiet(est, panel).estimates.set_index("event_time")
    df = panel.frame
    sq = 0.0
    for icb in df["icb"].unique():
        sub = df[df["icb"] != icb]
        p = Panel(sub, outcome="y", unit="practice", time="quarter", cohort="cohort",
                  cluster="icb")
        b = _fit_quiet(TWFE(event_study=True, window=(-3, 4), inference="analytic"), p)
        sq = sq + (b.estimates.set_index("event_time")["estimate"] - full["estimate"]) ** 2
    G = panel.n_clusters
    np.testing.assert_allclose(full["std_error"], np.sqrt((G - 1) / G * sq), rtol=1e-7)


def _slow_level_test(psi, fine, coarse):
    """The score-variance statistic by explicit pairs (no vectorisation)."""
    psi = np.atleast_2d(psi.T).T
    fines = np.unique(fine)
    s = {h: psi[fine == h].sum(axis=0) for h in fines}
    cof = {h: coarse[fine == h][0] for h in fines}
    v = {h: (s[h] ** 2).sum() for h in fines}  # noqa: F841  (per-fine diagnostics)
    vf = sum(s[h] ** 2 for h in fines)
    z = {h: s[h] / np.sqrt(vf) for h in fines}
    d = var = 0.0
    for h in fines:
        for h2 in fines:
            if h != h2 and cof[h] == cof[h2]:
                d += float(z[h] @ z[h2])
                var += 2 * float(z[h] @ z[h2]) ** 2
    return d / np.sqrt(var)


@pytest.mark.parametrize("m", [1, 3])
def test_cluster_level_test_matches_a_pairwise_loop(m):
    rng = np.random.default_rng(m)
    coarse_of_fine = np.repeat(np.arange(7), 4)
    fine = np.repeat(np.arange(28), 5)
    coarse = coarse_of_fine[fine]
    psi = rng.normal(size=(140, m)) + 0.5 * rng.normal(size=(7, m))[coarse]
    stat, p, ratio = cluster_level_test(psi, fine, coarse)
    assert stat == pytest.approx(_slow_level_test(psi, fine, coarse), rel=1e-10)
    assert p == pytest.approx(special.ndtr(-stat), rel=1e-12)
    with pytest.raises(OptionError, match="not nested"):
        cluster_level_test(psi, fine, np.arange(140) % 7)


def test_cluster_support_agrees_for_factored_and_dense_influence():
    panel = _england_panel(seed=8)
    res = _fit_quiet(CallawaySantAnna(covariates=(), control_group="not_yet_treated",
                                      inference="cluster_t"), panel)
    inf = res._inf
    assert not isinstance(inf.psi, np.ndarray)  # no covariates: factored influence functions
    gi = res._cells["gi"].to_numpy()
    a = cluster_support(inf.psi, inf.cluster, inf.unit_group, gi)
    b = cluster_support(res.influence, inf.cluster, inf.unit_group, gi)
    pd.testing.assert_frame_equal(a, b)
    # every cell has treated units in at least one cluster; totals match the cohorts
    sizes = np.bincount(inf.unit_group[inf.unit_group >= 0])
    np.testing.assert_array_equal(a["treated_units"], sizes[gi])


def test_thin_never_treated_comparison_is_flagged_with_the_fix():
    # 16 quarters: nearly every PCN starts within the window; 3% never treated
    panel = _england_panel(seed=2, n_quarters=16)
    res = _fit_quiet(CallawaySantAnna(control_group="never_treated"), panel)
    thin = [w for w in res.warnings if "comparison group is thin" in w]
    assert thin and "control_group='not_yet_treated'" in thin[0]


def test_level_check_names_the_coarser_level_when_shocks_are_shared_there():
    # strong ICB x quarter shocks, starts delayed by ICB and 24 ICBs: the test rejects
    # in each of 10 seeds tried (its size and power in the England-like designs are
    # benchmark rows)
    strong = dict(icb_shock_sd=0.4, pcn_shock_sd=0.0, n_icbs=24, pcns_per_icb=3,
                  icb_delay_sd=4.0)
    res = _fit_quiet(CallawaySantAnna(control_group="not_yet_treated"),
                     _england_panel(seed=2, cluster="pcn", **strong))
    assert any("cluster on 'icb'" in w for w in res.warnings)
    # no levels declared: no check
    p = _england_panel(seed=2, cluster="pcn", **strong)
    bare = p.replace(levels=())
    res = _fit_quiet(CallawaySantAnna(control_group="not_yet_treated"), bare)
    assert not any("cluster on" in w for w in res.warnings)


def test_small_sample_choices_and_notes():
    s = small_sample("cluster_t", None, n_units=50)
    assert s.df == 49 and s.se_factor == pytest.approx(np.sqrt(50 / 49))
    assert small_sample("analytic", 5).se_factor == 1.0
    assert "t(4)" in few_clusters_note("cv3", 5)
    assert few_clusters_note("cluster_t", 12) is None
    assert "inference='cv3'" in few_clusters_note("analytic", 12)
    with pytest.raises(OptionError, match="inference must be one of"):
        small_sample("cr3", 10)
    assert small_sample("cv3", 10).se_factor == pytest.approx(np.sqrt(0.9))
    assert small_sample("cr2", 10).se_factor == 1.0 and small_sample("cr2", 10).df == 9
    with pytest.raises(OptionError, match="inference must be one of"):
        CallawaySantAnna(inference="bootstrap").fit(_england_panel())


def test_cv3_is_the_leave_one_cluster_out_jackknife():
    """Without covariates each ATT(g,t) is a difference of weighted means, so the
    leverage-adjusted influence function gives exactly the cluster jackknife
    (G-1)/G sum_c (theta_(-c) - theta)^2: checked against re-estimation with
    each ICB left out (cells whose cohort survives every leave-out)."""
    panel = _england_panel(seed=5, never_share=0.15)
    f = panel.frame
    for cg in ("never_treated", "not_yet_treated"):
        est = CallawaySantAnna(covariates=(), method="reg", control_group=cg, inference="cv3")
        full = _fit_quiet(est, panel)
        key = full.estimates.set_index(["group", "time"]).index
        reps = []
        for c in sorted(f["icb"].unique()):
            sub = Panel(f[f["icb"] != c], outcome="y", unit="practice", time="quarter",
                        cohort="cohort", cluster="icb")
            r = _fit_quiet(est, sub).estimates.set_index(["group", "time"])["estimate"]
            reps.append(r.reindex(key).to_numpy())
        R, G = np.array(reps), len(reps)
        theta = full.estimates["estimate"].to_numpy()
        se = full.estimates["std_error"].to_numpy()
        ok = ~np.isnan(R).any(axis=0) & np.isfinite(se) & (se > 0)
        assert ok.sum() >= 30
        jack = np.sqrt((G - 1) / G * ((R[:, ok] - theta[ok]) ** 2).sum(axis=0))
        np.testing.assert_allclose(se[ok], jack, rtol=1e-9)
        # and t(G-1) intervals
        q = special.stdtrit(G - 1, 0.975)
        np.testing.assert_allclose(full.estimates["ci_upper"][ok], theta[ok] + q * se[ok],
                                   rtol=1e-12)


def test_cr2_is_bell_mccaffrey_for_the_two_by_two():
    """The 2x2 DiD as OLS of the change on the treatment dummy: CR2 with
    (I - H_gg)^(-1/2) computed by eigen-decomposition of each cluster's block
    of the hat matrix (an independent matrix computation)."""
    frame, dy, d, cl = _two_period(seed=3)
    panel = Panel(frame, outcome="y", unit="unit", time="t", cohort="g", cluster="cl")
    X = np.column_stack([np.ones(len(dy)), d.astype(float)])
    XtX_inv = np.linalg.inv(X.T @ X)
    e = dy - X @ (XtX_inv @ X.T @ dy)
    meat = np.zeros((2, 2))
    for g in np.unique(cl):
        rows = cl == g
        Xg = X[rows]
        vals, vecs = np.linalg.eigh(np.eye(rows.sum()) - Xg @ XtX_inv @ Xg.T)
        root = vecs @ np.diag(np.where(vals > 1e-12, vals, np.inf) ** -0.5) @ vecs.T
        u = Xg.T @ root @ e[rows]
        meat += np.outer(u, u)
    se_cr2 = np.sqrt((XtX_inv @ meat @ XtX_inv)[1, 1])
    res = _fit_quiet(CallawaySantAnna(method="reg", inference="cr2"), panel).overall
    assert res.std_error == pytest.approx(se_cr2, rel=1e-9)


def test_cv3_matches_pyfixest_crv3_for_the_two_by_two():
    pf = pytest.importorskip("pyfixest")
    frame, dy, d, cl = _two_period(seed=4)
    panel = Panel(frame, outcome="y", unit="unit", time="t", cohort="g", cluster="cl")
    fit = pf.feols("dy ~ d", data=pd.DataFrame({"dy": dy, "d": d, "cl": cl}),
                   vcov={"CRV3": "cl"}, ssc=pf.ssc(k_adj=False, G_adj=False))
    res = _fit_quiet(CallawaySantAnna(method="reg", inference="cv3"), panel).overall
    G = len(np.unique(cl))
    # pyfixest's CRV3 is sum_c (b_(-c) - b)^2 without (G-1)/G
    assert res.std_error == pytest.approx(float(fit.se()["d"]) * np.sqrt((G - 1) / G), rel=1e-9)


@pytest.mark.parametrize("cls", [CallawaySantAnna, Imputation])
def test_benchmark_shortcut_equals_fitting_with_each_choice(cls):
    """benchmarks/bench_inference.py redoes only the inference step of one fit
    for every choice; it must equal fitting with that choice."""
    from bench_inference import overall_by_inference

    from spimpact.inference_cluster import INFERENCE_CHOICES

    panel = _england_panel(seed=7)
    by = overall_by_inference(_fit_quiet(cls(inference="analytic"), panel))
    for kind in INFERENCE_CHOICES:
        direct = _fit_quiet(cls(inference=kind), panel).overall
        assert by[kind].std_error == pytest.approx(direct.std_error, rel=1e-10)
        assert by[kind].ci_lower == pytest.approx(direct.ci_lower, rel=1e-10)


def test_leverage_adjustment_stays_factored_for_unclustered_unweighted_panels():
    """Units as clusters with equal weights: the factored shortcut equals the
    dense computation (to rounding) and forms no units x cells matrix."""
    from spimpact.inference import FactoredInfluence
    from spimpact.inference_cluster import leverage_adjusted

    panel = _england_panel(seed=8).replace(cluster=None)
    for cg in ("never_treated", "not_yet_treated"):
        res = _fit_quiet(CallawaySantAnna(covariates=(), control_group=cg,
                                          inference="analytic"), panel)
        inf, gi = res._inf, res._cells["gi"].to_numpy()
        for kind in ("cv3", "cr2"):
            fast = leverage_adjusted(inf.psi, None, inf.unit_group, inf.unit_w, gi, kind)
            slow = leverage_adjusted(inf.psi.dense(), None, inf.unit_group, inf.unit_w, gi,
                                     kind)
            assert isinstance(fast, FactoredInfluence)
            np.testing.assert_allclose(fast.dense(), slow, rtol=0, atol=1e-12 * np.abs(slow).max())


def test_support_without_clusters_equals_one_cluster_per_unit():
    """The unclustered shortcut (counts per cohort block) equals the general
    computation with every unit its own cluster, on factored influence functions."""
    from spimpact import Panel
    from spimpact.did import CallawaySantAnna
    from spimpact.inference_cluster import cluster_support

    rng = np.random.default_rng(4)
    n, T = 300, 6
    g = rng.choice([0, 3, 5], n)
    df = pd.DataFrame({"u": np.repeat(np.arange(n), T), "t": np.tile(np.arange(1, T + 1), n),
                       "g": np.repeat(g, T)})
    df["y"] = rng.normal(size=len(df))
    res = CallawaySantAnna(inference="analytic").fit(
        Panel(df, outcome="y", unit="u", time="t", cohort="g", never_treated=0))
    inf = res._inf
    cells = res._cells["gi"].to_numpy()
    fast = cluster_support(inf.psi, None, inf.unit_group, cells)
    slow = cluster_support(inf.psi, np.arange(n), inf.unit_group, cells)
    pd.testing.assert_frame_equal(fast, slow, check_dtype=False)
    assert (fast["treated_units"] > 0).all()


def _direct_leverage(psi, cluster, unit_group, w, cell_group, kind):
    """The leverage rule written column by column (slow, transparent): each
    cluster's share of the weight of the units behind the column in the same
    role, ``(1 - h)^-1`` (cv3) or ``^-1/2`` (cr2), clusters holding a whole role
    left alone."""
    out = psi.copy()
    power = 1.0 if kind == "cv3" else 0.5
    for j in range(psi.shape[1]):
        col = psi[:, j]
        nz = np.abs(col) > 1e-10 * np.abs(col).max()
        treated = nz & (unit_group == cell_group[j])
        for role in (treated, nz & ~treated):
            tot = w[role].sum()
            for c in np.unique(cluster[role]):
                h = w[role & (cluster == c)].sum() / tot
                if h < 1 - 1e-9:
                    out[role & (cluster == c), j] *= (1 - h) ** -power
    return out


@pytest.mark.parametrize("kind", ["cv3", "cr2"])
def test_dense_leverage_and_support_equal_a_column_by_column_computation(kind):
    """Dense influence matrices are handled a few columns at a time (40 columns
    here: several chunks); the result equals the direct rule to 1e-12, with
    and without clusters, and the support counts equal per-column counts."""
    from spimpact.inference_roles import CHUNK, leverage_adjusted

    rng = np.random.default_rng(12)
    n, k = 600, 40
    assert k > 2 * CHUNK
    unit_group = rng.choice([-1, 0, 1, 2], n)
    cell_group = rng.choice([0, 1, 2], k)
    psi = rng.normal(size=(n, k)) * (rng.random((n, k)) < 0.6)
    w = rng.uniform(0.5, 2.0, n)
    cluster = rng.integers(0, 25, n)
    for cl in (cluster, None):
        got = leverage_adjusted(psi, cl, unit_group, w, cell_group, kind)
        want = _direct_leverage(psi, np.arange(n) if cl is None else cl, unit_group, w,
                                cell_group, kind)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
        sup = cluster_support(psi, cl, unit_group, cell_group)
        nz = psi != 0
        is_t = unit_group[:, None] == cell_group[None, :]
        np.testing.assert_array_equal(sup["treated_units"], (nz & is_t).sum(0))
        np.testing.assert_array_equal(sup["comparison_units"], (nz & ~is_t).sum(0))
        if cl is not None:
            np.testing.assert_array_equal(
                sup["comparison_clusters"],
                [len(np.unique(cl[nz[:, j] & ~is_t[:, j]])) for j in range(k)])
    inplace = psi.copy()
    out = leverage_adjusted(inplace, cluster, unit_group, w, cell_group, kind, overwrite=True)
    assert out is inplace
    np.testing.assert_allclose(out, _direct_leverage(psi, cluster, unit_group, w, cell_group,
                                                     kind), rtol=1e-12, atol=0)


def test_variance_of_some_columns_equals_the_variance_of_the_selected_columns():
    """influence_vcov(psi, columns=...) reads a dense matrix a block of rows at a
    time (70,000 rows: two blocks); it equals the variance of the copied columns
    to 1e-12, unclustered and clustered, dense and factored."""
    from spimpact.inference import FactoredInfluence, influence_vcov

    rng = np.random.default_rng(5)
    psi = np.asfortranarray(rng.normal(size=(70_000, 9)))
    sel = np.array([True, False, True, True, False, False, True, False, True])
    cl = rng.integers(0, 40, len(psi))
    for c in (None, cl):
        np.testing.assert_allclose(influence_vcov(psi, c, columns=sel),
                                   influence_vcov(psi[:, sel], c), rtol=1e-12)
    f = FactoredInfluence(rng.integers(0, 3, 500), rng.normal(size=(500, 2)), 3,
                          rng.normal(size=(6, 5)))
    np.testing.assert_allclose(influence_vcov(f, columns=[0, 3]),
                               influence_vcov(f.dense()[:, [0, 3]]), rtol=1e-12)


@pytest.mark.parametrize("kind", ["cv3", "cr2"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("rows", [1 << 14, 97])
def test_factored_clustered_leverage_equals_the_dense_path(kind, weighted, rows, monkeypatch):
    """Clustered leverage of a factored influence matrix, built block by block
    (in one chunk of rows per block, or in many), equals leverage_adjusted on
    its dense form (the reference: the column-chunk path), with exact zeros,
    zero weights and a cluster holding a whole role."""
    from spimpact import inference_roles
    from spimpact.inference import FactoredInfluence
    from spimpact.inference_cluster import leverage_adjusted

    monkeypatch.setattr(inference_roles, "FACTORED_ROWS", rows)

    rng = np.random.default_rng(7)
    n, G, width, k = 3000, 3, 5, 11
    blocks = rng.integers(0, G + 1, n)
    values = rng.normal(size=(n, width))
    values[rng.random(n) < 0.05] = 0.0  # units with no influence
    coef = rng.normal(size=((G + 1) * width, k))
    coef[(G - 1) * width : G * width, 3] = 0.0  # a block not behind column 3
    psi = FactoredInfluence(blocks, values, G + 1, coef)
    unit_group = np.where(blocks < G, blocks, -1)
    cell_group = rng.integers(0, G, k)
    cl = rng.integers(0, 40, n)
    cl[blocks == 0] = 41  # cohort 0's units all in one cluster: h = 1 for its treated role
    _, cl = np.unique(cl, return_inverse=True)
    w = rng.uniform(0.5, 2.0, n) if weighted else np.ones(n)
    if weighted:
        w[rng.random(n) < 0.03] = 0.0
    got = leverage_adjusted(psi, cl, unit_group, w, cell_group, kind)
    want = leverage_adjusted(psi.dense(), cl, unit_group, w, cell_group, kind)
    assert isinstance(got, np.ndarray) and got.shape == (n, k)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("kind", ["cv3", "cr2"])
@pytest.mark.parametrize("clustered", [False, True])
def test_ragged_factored_support_and_leverage_equal_the_dense_path(kind, clustered):
    """Blocks of different widths (a cohort's units behind its own cells and
    those it is a comparison for, as in DiD with covariates): support counts
    and leverage equal those of the dense form, factored results stay factored
    when units are their own clusters with equal weights."""
    from spimpact.inference import FactoredInfluence
    from spimpact.inference_cluster import cluster_support, leverage_adjusted

    rng = np.random.default_rng(11)
    n, G, k = 2000, 3, 7
    widths = [2, 4, 3, 6]
    offsets = np.r_[0, np.cumsum(widths)]
    blocks = rng.integers(0, G + 1, n)
    order = np.argsort(blocks, kind="stable")
    vals = []
    for h in range(G + 1):
        v = rng.normal(size=(int((blocks == h).sum()), widths[h]))
        v[rng.random(len(v)) < 0.05] = 0.0  # units with no influence
        vals.append(v)
    coef = rng.normal(size=(offsets[-1], k))
    coef[offsets[1] : offsets[2], 2] = 0.0  # block 1 not behind column 2
    psi = FactoredInfluence.from_blocks(order, np.bincount(blocks), vals, coef)
    unit_group = np.where(blocks < G, blocks, -1)
    cell_group = rng.integers(0, G, k)
    cl = rng.integers(0, 30, n) if clustered else None
    w = np.ones(n)
    dense = psi.dense()
    pd.testing.assert_frame_equal(cluster_support(psi, cl, unit_group, cell_group),
                                  cluster_support(dense, cl, unit_group, cell_group))
    got = leverage_adjusted(psi, cl, unit_group, w, cell_group, kind)
    want = leverage_adjusted(dense, cl, unit_group, w, cell_group, kind)
    assert isinstance(got, np.ndarray if clustered else FactoredInfluence)
    np.testing.assert_allclose(got if clustered else got.dense(), want, rtol=1e-13, atol=1e-13)
