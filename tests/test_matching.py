"""Propensity-score matching: the pieces against slow, obviously-correct
computations and against statsmodels; bad inputs and warnings.

References:

* the propensity logit: statsmodels' ``Logit`` / binomial ``GLM``;
* nearest-neighbour matching: a brute-force greedy matcher written here on
  the full treated-by-control distance matrix (the algorithm of MatchIt's
  ``nn_matchC``: matches in rounds, focal units in the given order, ties to
  the lower score);
* matching weights: MatchIt's definition (``get_weights_from_mm``);
* the cluster-robust standard error: statsmodels ``WLS`` with
  ``cov_type="cluster"`` (CR1, as R's ``sandwich::vcovCL``);
* the Abadie-Imbens variance: a loop-by-loop implementation of AI (2006)'s
  formula written here;
* balance statistics: cobalt's definitions computed by hand.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from spimpact import EstimationError, OptionError, Panel, PanelError, StatisticalWarning
from spimpact.matching import PropensityScoreMatching
from spimpact.matching._effects import (
    abadie_imbens,
    cluster_robust_difference,
    conditional_variance,
    matched_sets,
    matching_weights,
)
from spimpact.matching.balance import balance_table, ecdf_max_diff
from spimpact.matching.nearest import nearest_neighbours, processing_order, whiten
from spimpact.matching.propensity import fit_propensity

#: Logit coefficients against statsmodels: both solve the same score equations to
#: machine precision; 1e-7 relative leaves room for the two convergence criteria.
COEF_RTOL = 1e-7
#: Standard errors against a second implementation of the same formula.
SE_RTOL = 1e-10


def _data(n: int = 600, seed: int = 0, effect: float = 2.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.uniform(-1, 1, size=n)
    group = rng.choice(["a", "b", "c"], size=n)
    lin = -1.0 + 0.9 * x1 - 0.6 * x2 + np.where(group == "b", 0.5, 0.0)
    d = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
    y = effect * d + x1 + 0.5 * x2 + rng.normal(size=n)
    return pd.DataFrame({"x1": x1, "x2": x2, "group": group, "d": d, "y": y})


def _panel(df: pd.DataFrame, **kw) -> Panel:
    return Panel(df, outcome="y", treatment="d", covariates=["x1", "x2", "group"], **kw)


def _fit(est, panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        return est.fit(panel)


# ------------------------------------------------------------------ propensity
def test_logit_matches_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    df = _data(2000, seed=3)
    X = np.column_stack([np.ones(len(df)), df[["x1", "x2"]].to_numpy(),
                         df["x1"].to_numpy() ** 2])
    d = df["d"].to_numpy(float)
    fit = fit_propensity(X, d)
    ref = sm.Logit(d, X).fit(disp=0, tol=1e-12)
    np.testing.assert_allclose(fit.coef, ref.params, rtol=COEF_RTOL)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(d))
    fitw = fit_propensity(X, d, w=w)
    refw = sm.GLM(d, X, family=sm.families.Binomial(), var_weights=w).fit(tol=1e-13)
    np.testing.assert_allclose(fitw.coef, refw.params, rtol=COEF_RTOL)


def test_perfect_separation_is_an_error():
    x = np.r_[np.linspace(-2, -0.1, 40), np.linspace(0.1, 2, 40)]
    df = pd.DataFrame({"x": x, "d": (x > 0).astype(int), "y": x})
    with pytest.raises(EstimationError, match="perfect separation"):
        PropensityScoreMatching().fit(Panel(df, outcome="y", treatment="d", covariates=["x"]))


def test_quasi_separation_is_a_warning_on_the_result():
    rng = np.random.default_rng(2)
    z = rng.normal(size=200)
    flag = np.r_[np.ones(30), np.zeros(170)]
    d = np.where(flag == 1, 1, (rng.random(200) < 0.3).astype(int))  # flag=1 always treated
    df = pd.DataFrame({"z": z, "flag": flag, "d": d, "y": z + d})
    p = Panel(df, outcome="y", treatment="d", covariates=["z", "flag"])
    with pytest.warns(StatisticalWarning, match="did not converge"):
        res = PropensityScoreMatching(caliper=None).fit(p)
    assert any("numerically 1" in w for w in res.warnings)


def test_collinear_design_is_an_option_error():
    df = _data(300)
    df["x1_copy"] = 2 * df["x1"]
    p = Panel(df, outcome="y", treatment="d", covariates=["x1", "x1_copy"])
    with pytest.raises(OptionError, match="x1_copy"):
        PropensityScoreMatching().fit(p)


# ------------------------------------------------------- nearest neighbours
def _brute_greedy(score, focal, ratio, caliper, order, strata=None, group=None, coords=None):
    """MatchIt's greedy nearest neighbour on the full distance matrix."""
    f_idx, c_idx = np.flatnonzero(focal), np.flatnonzero(~focal)
    strata = np.zeros(len(score), int) if strata is None else strata
    avail = np.ones(len(c_idx), bool)
    out = np.full((len(f_idx), ratio), -1)
    alive = np.ones(len(f_idx), bool)
    for r in range(ratio):
        for t in order:
            if not alive[t]:
                continue
            i = f_idx[t]
            gap = np.abs(score[c_idx] - score[i])
            ok = avail & (strata[c_idx] == strata[i]) & (gap <= caliper)
            if not ok.any():
                alive[t] = False
                continue
            if coords is None:
                # nearest on the score; ties go to the lower score (the left neighbour)
                key = np.where(ok, gap, np.inf)
                best = np.flatnonzero(key == key.min())
                j = best[np.argmin(score[c_idx][best])]
            else:
                dist = np.where(ok, ((coords[c_idx] - coords[i]) ** 2).sum(axis=1), np.inf)
                j = int(np.argmin(dist))
            out[t, r] = c_idx[j]
            if group is None:
                avail[j] = False
            else:
                avail &= group[c_idx] != group[c_idx[j]]
    return out


@pytest.mark.parametrize("ratio,caliper,order,use_strata", [
    (1, np.inf, "largest", False), (1, 0.15, "largest", False), (2, 0.3, "smallest", False),
    (3, 0.25, "random", True), (1, 0.1, "data", True),
])
def test_greedy_matching_equals_brute_force(ratio, caliper, order, use_strata):
    rng = np.random.default_rng(ratio * 7 + int(use_strata))
    n = 700
    score = rng.normal(size=n)
    focal = rng.random(n) < 0.3
    score[focal] += 0.6
    strata = rng.integers(0, 3, n) if use_strata else None
    prio = score[focal] if order in ("largest", "smallest") else np.arange(focal.sum())
    o = processing_order(prio, order, np.random.default_rng(5))
    m = nearest_neighbours(score, focal, ratio=ratio, caliper=caliper, order=o, strata=strata)
    ref = _brute_greedy(score, focal, ratio, caliper, o, strata)
    np.testing.assert_array_equal(m.controls, ref)


def test_greedy_with_units_used_once_across_rows():
    """``group``: rows of one control unit (several index dates) are used at most once."""
    rng = np.random.default_rng(11)
    n = 500
    score = rng.normal(size=n)
    focal = rng.random(n) < 0.25
    group = np.where(focal, -np.arange(n) - 1, rng.integers(0, 120, n))
    o = processing_order(score[focal], "largest")
    m = nearest_neighbours(score, focal, ratio=2, caliper=0.5, order=o, group=group)
    ref = _brute_greedy(score, focal, 2, 0.5, o, group=group)
    np.testing.assert_array_equal(m.controls, ref)
    used = m.controls[m.controls >= 0]
    assert len(np.unique(group[used])) == len(used)


def test_mahalanobis_within_caliper_equals_brute_force():
    rng = np.random.default_rng(4)
    n = 400
    X = rng.normal(size=(n, 2)) * [1.0, 3.0]
    focal = rng.random(n) < 0.3
    score = X[:, 0] * 0.8 + rng.normal(scale=0.5, size=n)
    Z = whiten(X, focal)
    o = processing_order(score[focal], "largest")
    m = nearest_neighbours(score, focal, caliper=0.4, order=o, coords=Z)
    ref = _brute_greedy(score, focal, 1, 0.4, o, coords=Z)
    np.testing.assert_array_equal(m.controls, ref)


def test_with_replacement_takes_the_k_nearest():
    rng = np.random.default_rng(8)
    score = rng.normal(size=300)
    focal = rng.random(300) < 0.3
    m = nearest_neighbours(score, focal, ratio=3, caliper=0.2, replace=True)
    c_idx = np.flatnonzero(~focal)
    for t, i in enumerate(m.focal):
        gap = np.abs(score[c_idx] - score[i])
        want = c_idx[np.argsort(gap, kind="stable")[:3]]
        want = want[np.abs(score[want] - score[i]) <= 0.2]
        got = m.controls[t][m.controls[t] >= 0]
        assert set(got) == set(want)


def test_matching_weights_follow_matchit():
    # set 0: treated 0 with controls 3, 4; set 1: treated 1 with control 4; 2 unmatched
    sets = matched_sets(np.array([[3, 4], [4, -1], [-1, -1]]), np.array([0, 1, 2]))
    w = matching_weights(sets, 6)
    raw = np.array([0, 0, 0, 0.5, 1.5, 0])  # sum over sets of 1 / (controls in the set)
    want = np.r_[1.0, 1.0, 0.0, raw[3:] * 2 / raw.sum()]  # rescaled to 2 distinct controls
    np.testing.assert_allclose(w, want)


# ------------------------------------------------------------ standard errors
def test_cluster_robust_difference_matches_statsmodels_wls():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(5)
    n = 300
    d = (rng.random(n) < 0.4).astype(float)
    y = 1 + 2 * d + rng.normal(size=n)
    w = np.where(rng.random(n) < 0.1, 0.0, rng.uniform(0.3, 2, n))
    cl = rng.integers(0, 60, n)
    est, se, g = cluster_robust_difference(y, d, w, cl)
    keep = w > 0
    ref = sm.WLS(y[keep], sm.add_constant(d[keep]), weights=w[keep]).fit(
        cov_type="cluster", cov_kwds={"groups": cl[keep]})
    assert est == pytest.approx(ref.params[1], rel=1e-12)
    assert se == pytest.approx(ref.bse[1], rel=SE_RTOL)
    assert g == len(np.unique(cl[keep]))


def _ai_loops(y, d, score, M, J=2):
    """Abadie & Imbens (2006), PATT: matching with replacement on ``score``,
    the variance of their Theorem 7; the conditional variance of a reused
    control is the sample variance of its outcome and those of the controls
    within the distance of its (J - 1)-th nearest other control (Stata's
    ``vce(robust, nn(J))``, the unit itself counted)."""
    t_idx, c_idx = np.flatnonzero(d == 1), np.flatnonzero(d == 0)
    K = np.zeros(len(y))
    diffs = []
    for i in t_idx:
        gap = np.abs(score[c_idx] - score[i])
        nb = c_idx[np.argsort(gap, kind="stable")[:M]]
        diffs.append(y[i] - y[nb].mean())
        K[nb] += 1.0 / M
    diffs = np.array(diffs)
    tau = diffs.mean()
    var = np.sum((diffs - tau) ** 2)
    for j in c_idx:
        if K[j] * M <= 1:
            continue
        others = c_idx[c_idx != j]
        gap = np.abs(score[others] - score[j])
        near = others[gap <= np.sort(gap)[J - 2]]
        s2 = np.var(np.r_[y[j], y[near]], ddof=1)
        var += (K[j] ** 2 - K[j] / M) * s2  # K(K-1)/M^2 with K counted in units of 1/M
    return tau, np.sqrt(var) / len(t_idx)


@pytest.mark.parametrize("M", [1, 3])
@pytest.mark.parametrize("J", [2, 3])
def test_abadie_imbens_variance_equals_loop_implementation(M, J):
    rng = np.random.default_rng(M)
    n = 400
    score = rng.normal(size=n)
    d = (rng.random(n) < 1 / (1 + np.exp(-score))).astype(float)
    y = 1 + score + 2 * d + rng.normal(size=n)
    m = nearest_neighbours(score, d == 1, ratio=M, replace=True)
    sets = matched_sets(m.controls, m.focal)
    reused = np.flatnonzero(np.bincount(sets.control, minlength=n) > 1)
    s2 = np.zeros(n)
    s2[reused] = conditional_variance(y, score, np.flatnonzero(d == 0), reused,
                                      n_neighbours=J)
    tau, se = abadie_imbens(y, sets, s2)
    ref_tau, ref_se = _ai_loops(y, d, score, M, J)
    assert tau == pytest.approx(ref_tau, rel=1e-12)
    assert se == pytest.approx(ref_se, rel=SE_RTOL)


# ------------------------------------------------------------------- balance
def test_balance_statistics_follow_cobalt_definitions():
    rng = np.random.default_rng(6)
    n = 500
    x = rng.gamma(2.0, size=n)
    b = (rng.random(n) < 0.4).astype(float)
    d = (rng.random(n) < 0.3).astype(int)
    wb = np.ones(n)
    wa = np.where(rng.random(n) < 0.5, rng.uniform(0.2, 3, n), 0.0)
    for estimand in ("ATT", "ATC", "ATE"):
        t = balance_table(np.column_stack([x, b]), ["x", "b"], d, wb, wa, estimand)
        t1, c1 = x[d == 1], x[d == 0]
        s2 = {"ATT": t1.var(ddof=1), "ATC": c1.var(ddof=1),
              "ATE": (t1.var(ddof=1) + c1.var(ddof=1)) / 2}[estimand]
        ma1 = np.average(x[d == 1], weights=wa[d == 1])
        ma0 = np.average(x[d == 0], weights=wa[d == 0])
        assert t.loc[0, "smd_before"] == pytest.approx((t1.mean() - c1.mean()) / np.sqrt(s2))
        assert t.loc[0, "smd_after"] == pytest.approx((ma1 - ma0) / np.sqrt(s2))
        p1, p0 = b[d == 1].mean(), b[d == 0].mean()
        sb = {"ATT": p1 * (1 - p1), "ATC": p0 * (1 - p0),
              "ATE": (p1 * (1 - p1) + p0 * (1 - p0)) / 2}[estimand]
        assert t.loc[1, "smd_before"] == pytest.approx((p1 - p0) / np.sqrt(sb))
        assert t.loc[1, "type"] == "binary" and np.isnan(t.loc[1, "var_ratio_before"])
    # weighted unbiased variance ratio, as cobalt's col_w_vr
    def wvar(v, w):
        m = np.average(v, weights=w)
        return np.sum(w * (v - m) ** 2) / (w.sum() - (w**2).sum() / w.sum())
    pos1, pos0 = (d == 1) & (wa > 0), (d == 0) & (wa > 0)
    assert t.loc[0, "var_ratio_after"] == pytest.approx(
        wvar(x[pos1], wa[pos1]) / wvar(x[pos0], wa[pos0]))


def _ks_slow(x, d, w):
    grid = np.unique(x)
    F = [np.array([w[(d == g) & (x <= v)].sum() / w[d == g].sum() for v in grid]) for g in (1, 0)]
    return np.abs(F[0] - F[1]).max()


@pytest.mark.parametrize("kind", ["continuous", "integer"])
def test_ecdf_max_difference_equals_slow_definition(kind):
    rng = np.random.default_rng(9)
    n = 300
    x = rng.normal(size=n) if kind == "continuous" else rng.integers(18, 90, n).astype(float)
    d = (rng.random(n) < 0.4).astype(int)
    w = np.where(rng.random(n) < 0.3, 0.0, rng.uniform(0.5, 2, n))
    assert ecdf_max_diff(x, d, w) == pytest.approx(_ks_slow(x, d, w), abs=1e-12)
    assert ecdf_max_diff(x, d, np.ones(n)) == pytest.approx(_ks_slow(x, d, np.ones(n)))


# ------------------------------------------------------------------ estimator
def test_fit_result_shape_and_views():
    df = _data()
    res = _fit(PropensityScoreMatching(), _panel(df))
    bal = res.balance
    assert {"smd_before", "smd_after", "var_ratio_before", "var_ratio_after",
            "ecdf_max_before", "ecdf_max_after"} <= set(bal.columns)
    assert {"group[a]", "group[b]", "group[c]"} <= set(bal["covariate"])
    m = res.matched
    assert {"match_id", "weight"} <= set(m.columns)
    assert res.matched_panel.n_units == int((res.weights > 0).sum())
    assert res.overall.estimate == pytest.approx(2.0, abs=4 * res.overall.std_error)
    assert res.n_clusters == res.info["matched treated"]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = res.plot_balance()
    assert any(abs(line.get_xdata()[0] - 0.1) < 1e-12 for line in ax.get_lines())
    res.plot_overlap()
    plt.close("all")
    with pytest.raises(AttributeError):
        res.foo = 1  # results are immutable


def test_effect_equals_weighted_difference_of_matched_means():
    df = _data(seed=4)
    res = _fit(PropensityScoreMatching(ratio=2, caliper=0.3), _panel(df))
    w = res.weights.to_numpy()
    y, d = df["y"].to_numpy(), df["d"].to_numpy()
    want = (np.average(y[d == 1], weights=w[d == 1])
            - np.average(y[d == 0], weights=w[d == 0]))
    assert res.overall.estimate == pytest.approx(want, rel=1e-12)
    # the long matched rows carry each control's weight split over its sets
    m = res.matched
    per_unit = m.groupby(level=0)["weight"].sum()
    np.testing.assert_allclose(per_unit.to_numpy(), w[per_unit.index.to_numpy()])


def test_user_frame_is_not_modified():
    df = _data()
    before = df.copy()
    _fit(PropensityScoreMatching(replace=True, exact="group"), _panel(df))
    pd.testing.assert_frame_equal(df, before)


def test_unmatched_treated_warn_with_their_number():
    df = _data(seed=1)
    with pytest.warns(StatisticalWarning, match=r"\d+ of \d+ treated units .* found no match"):
        res = PropensityScoreMatching(caliper=0.01).fit(_panel(df))
    n_un = res.info["unmatched focal units"]
    assert n_un > 0 and any(f"{n_un} of" in w for w in res.warnings)


def test_atc_matches_controls():
    df = _data(seed=2)
    res = _fit(PropensityScoreMatching(estimand="ATC", replace=True, caliper=None), _panel(df))
    assert res.info["matched controls"] == int((df["d"] == 0).sum())
    assert res.overall.estimate == pytest.approx(2.0, abs=4 * res.overall.std_error)


def test_panel_clusters_are_merged_with_matched_sets():
    df = _data(seed=3)
    df["site"] = np.arange(len(df)) % 40
    res = _fit(PropensityScoreMatching(), _panel(df, cluster="site"))
    assert res.n_clusters <= 40
    assert "merged" in res.info["standard errors"]


# ---------------------------------------------------------------- bad inputs
def test_no_treated_or_no_controls():
    df = _data()
    for value in (0, 1):
        bad = df.assign(d=value)
        with pytest.raises(EstimationError, match="no (treated|control) units"):
            PropensityScoreMatching().fit(_panel(bad))


def test_treatment_not_zero_one():
    df = _data().assign(d=lambda f: f["d"] * 2)
    with pytest.raises(PanelError, match="must be 0/1"):
        _panel(df)


def test_caliper_so_tight_nobody_matches():
    df = _data()
    df["x1"] = df["x1"] + np.where(df["d"] == 1, 0.0, 1e-6)  # no exact ties anywhere
    with pytest.raises(EstimationError, match="no treated unit found a match"):
        PropensityScoreMatching(caliper=1e-12).fit(_panel(df))


def test_ratio_beyond_controls_without_replacement():
    df = _data(200)
    n0 = int((df["d"] == 0).sum())
    with pytest.raises(EstimationError, match=f"only {n0}"):
        PropensityScoreMatching(ratio=n0 + 1).fit(_panel(df))
    with pytest.warns(StatisticalWarning, match="later focal units receive fewer"):
        res = PropensityScoreMatching(ratio=5, caliper=None).fit(_panel(df))
    assert any("fewer" in w for w in res.warnings)


@pytest.mark.parametrize("kwargs,match", [
    (dict(caliper=-1), "caliper"), (dict(ratio=0), "ratio"), (dict(ratio=1.5), "ratio"),
    (dict(estimand="ATE"), "InverseProbabilityWeighting"), (dict(order="best"), "order"),
    (dict(ps_model="probit"), "ps_model"), (dict(replace="yes"), "replace"),
    (dict(exact="nope"), "nope"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(OptionError, match=match):
        PropensityScoreMatching(**kwargs).fit(_panel(_data(200)))


def test_one_row_per_unit_required():
    df = pd.DataFrame({"u": [1, 1, 2, 2], "t": [1, 2, 1, 2], "d": [0, 0, 1, 1],
                       "y": [1.0, 2, 3, 4], "x": [0.1, 0.2, 0.3, 0.5]})
    p = Panel(df, outcome="y", unit="u", time="t", treatment="d", covariates=["x"])
    with pytest.raises(EstimationError, match="match_cohort"):
        PropensityScoreMatching().fit(p)


def test_classifier_propensity_model():
    from sklearn.linear_model import LogisticRegression

    df = _data(seed=6)
    clf = LogisticRegression(C=1e10, tol=1e-12, max_iter=10_000)
    res = _fit(PropensityScoreMatching(ps_model=clf, ps_formula="x1 + x2"), _panel(df))
    ref = _fit(PropensityScoreMatching(ps_formula="x1 + x2"), _panel(df))
    # a (practically) unpenalised sklearn logit reproduces the ML scores to its
    # solver's precision (lbfgs stops on a gradient norm, hence 1e-6)
    np.testing.assert_allclose(res.propensity_score, ref.propensity_score, atol=1e-6)
    assert res.info["propensity model"] == "LogisticRegression"


def test_greedy_python_fallback_equals_compiled():
    """Without numba the same kernel runs as Python: the same matches."""
    from spimpact.matching import _greedy

    rng = np.random.default_rng(12)
    score = rng.normal(size=300)
    focal = rng.random(300) < 0.3
    o = processing_order(score[focal], "largest")
    compiled = nearest_neighbours(score, focal, ratio=2, caliper=0.3, order=o)
    c_idx = np.flatnonzero(~focal)
    srt = np.argsort(score[c_idx], kind="stable")
    cs, s = score[c_idx][srt], score[focal]
    pos = np.searchsorted(cs, s).astype(np.int64)
    lo, hi = np.zeros(len(s), np.int64), np.full(len(s), len(cs), np.int64)
    empty, none = np.zeros((1, 1)), np.zeros(0, np.int64)
    sel, _ = _greedy._greedy_kernel(cs, s, pos, lo, hi, lo, hi, empty, empty, False,
                                    o.astype(np.int64), 2, 0.3, none, none, none)
    got = np.where(sel >= 0, c_idx[srt][np.clip(sel, 0, None)], -1)
    np.testing.assert_array_equal(got, compiled.controls)


@pytest.mark.slow
@pytest.mark.parametrize("kwargs", [dict(), dict(replace=True, ratio=2, caliper=None)],
                         ids=["cr1_without_replacement", "abadie_imbens_with_replacement"])
def test_coverage_of_matching_standard_errors(kwargs):
    """Monte Carlo: 95% intervals cover a constant effect 95% of the time
    (400 replications: the coverage estimate has a standard error of 1.1
    points, so [0.91, 0.99] fails a correct estimator with probability < 0.1%)."""
    hits = []
    for rep in range(400):
        df = _data(800, seed=1000 + rep, effect=1.0)
        o = _fit(PropensityScoreMatching(ps_formula="x1 + x2 + C(group)", **kwargs),
                 _panel(df)).overall
        hits.append(o.ci_lower <= 1.0 <= o.ci_upper)
    assert 0.91 <= np.mean(hits) <= 0.99


def test_constant_sampling_weights_change_nothing():
    df = _data(seed=7).assign(s=2.0)
    plain = _fit(PropensityScoreMatching(ratio=2), _panel(df))
    weighted = _fit(PropensityScoreMatching(ratio=2), _panel(df, weights="s"))
    assert weighted.overall.estimate == pytest.approx(plain.overall.estimate, rel=1e-9)
    assert weighted.overall.std_error == pytest.approx(plain.overall.std_error, rel=1e-9)
    np.testing.assert_allclose(weighted.balance["smd_after"], plain.balance["smd_after"],
                               rtol=1e-9)
    with pytest.raises(OptionError, match="sampling weights"):
        PropensityScoreMatching(replace=True).fit(_panel(df, weights="s"))
