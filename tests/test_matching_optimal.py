"""Optimal and full matching, ties and row order, bias correction, entropy balancing.

References, each with its tolerance:

* optimal pair / ratio matching against independent solvers of the same
  problem: scipy's dense ``linear_sum_assignment`` (no caliper) and the linear
  programme of the bipartite b-matching solved by HiGHS (``linprog``; the
  constraint matrix is totally unimodular, so the LP optimum is the integer
  optimum), maximum cardinality first, then minimum distance: ``OPT_ATOL``;
* full matching against a brute-force search over every edge subset on tiny
  problems and against the edge-cover LP on larger ones: ``OPT_ATOL``;
* NSW treated vs CPS controls (Dehejia-Wahba propensity model) against the
  experimental ATT of $1,794 (LaLonde 1986), within the experiment's own 95%
  interval, and max |SMD| < 0.1;
* entropy balancing weights against ``scipy.optimize.minimize`` (BFGS) on the
  dual; its standard error against a numerically differentiated sandwich of
  independently written estimating equations;
* regression bias correction against its closed form from statsmodels' WLS.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

from spimpact import EstimationError, OptionError, Panel, StatisticalWarning
from spimpact.matching import EntropyBalancing, PropensityScoreMatching
from spimpact.matching.optimal import full_match, optimal_pairs

#: Total distances against another solver: both are exact optima; the slack is
#: floating-point summation of a few hundred distances.
OPT_ATOL = 1e-8
#: Shuffled rows must give the same numbers up to summation order.
ORDER_RTOL = 1e-10
#: Entropy-balancing weights against BFGS on the dual (BFGS stops at gtol 1e-10
#: on a standardised problem: weights agree to about 1e-6 relative).
EB_W_RTOL = 1e-5
#: Sandwich SE against central differences (step 1e-6: error ~1e-8 relative).
NUM_SE_RTOL = 1e-5

EXPERIMENTAL_ATT = 1794.34
LALONDE_TOL = 1.96 * 671.0  # the experiment's own 95% half-width
DW_FORMULA = ("age + I(age**2) + I(age**3) + educ + I(educ**2) + marr + nodegree + black + "
              "hisp + re74 + re75 + u74 + u75 + educ:re74")
LALONDE_COVARIATES = ["age", "educ", "black", "hisp", "marr", "nodegree", "re74", "re75",
                      "u74", "u75"]


def _quiet(est, panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        return est.fit(panel)


# ------------------------------------------------------- independent solvers
def _edges(s, t, cal, st):
    T, C = np.flatnonzero(t), np.flatnonzero(~t)
    return [(i, j, abs(s[i] - s[j])) for i in T for j in C
            if abs(s[i] - s[j]) <= cal and st[i] == st[j]]


def _brute_force_full(s, t, cal, st):
    """Smallest total distance over every set of pairs that covers every unit
    with an admissible partner (each component then being a matched set)."""
    E = _edges(s, t, cal, st)
    verts = {v for e in E for v in e[:2]}
    best = np.inf
    for m in range(len(E) + 1):
        for sub in itertools.combinations(E, m):
            if {v for e in sub for v in e[:2]} == verts:
                best = min(best, sum(e[2] for e in sub))
    return best


def _lp_full(s, t, cal, st):
    from scipy.optimize import linprog

    E = _edges(s, t, cal, st)
    verts = sorted({v for e in E for v in e[:2]})
    vi = {v: k for k, v in enumerate(verts)}
    A = np.zeros((len(verts), len(E)))
    for k, (i, j, _) in enumerate(E):
        A[vi[i], k] = A[vi[j], k] = 1
    r = linprog([e[2] for e in E], A_ub=-A, b_ub=-np.ones(len(verts)), bounds=(0, 1),
                method="highs")
    return r.fun


def _lp_pairs(s, f, k, cal, st):
    """Maximum number of pairs, then the least total distance (two LPs)."""
    from scipy.optimize import linprog

    E = _edges(s, f, cal, st)
    units = list(np.flatnonzero(f)) + list(np.flatnonzero(~f))
    idx = {v: q for q, v in enumerate(units)}
    A = np.zeros((len(units), len(E)))
    for q, (i, j, _) in enumerate(E):
        A[idx[i], q] = A[idx[j], q] = 1
    b = np.r_[np.full(int(f.sum()), k), np.ones(int((~f).sum()))]
    card = -linprog(-np.ones(len(E)), A_ub=A, b_ub=b, bounds=(0, 1), method="highs").fun
    r = linprog([e[2] for e in E], A_ub=A, b_ub=b, A_eq=np.ones((1, len(E))), b_eq=[card],
                bounds=(0, 1), method="highs")
    return card, r.fun


def _problem(rng, n, discrete):
    s = rng.integers(0, 5, n).astype(float) if discrete else rng.normal(size=n)
    t = rng.random(n) < 0.45
    t[0], t[1] = True, False
    return s, t


@pytest.mark.parametrize("seed", range(40))
def test_full_matching_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    s, t = _problem(rng, int(rng.integers(3, 7)), discrete=seed % 3 == 0)
    cal = 1.0 if seed % 2 else np.inf
    st = rng.integers(0, 2, len(s)) if seed % 5 == 0 else np.zeros(len(s), int)
    fm = full_match(s, t, caliper=cal, strata=st)
    assert fm.total_distance == pytest.approx(_brute_force_full(s, t, cal, st), abs=OPT_ATOL)
    for g in range(fm.n_sets):  # every set: one treated or one control, one stratum
        mem = fm.subclass == g
        assert min((mem & t).sum(), (mem & ~t).sum()) == 1
        assert len(set(st[mem])) == 1
    assert set(np.flatnonzero(fm.subclass >= 0)) == {v for e in _edges(s, t, cal, st)
                                                     for v in e[:2]}


@pytest.mark.parametrize("seed", range(12))
def test_full_matching_equals_the_edge_cover_lp(seed):
    rng = np.random.default_rng(100 + seed)
    s, t = _problem(rng, 80, discrete=seed % 2 == 1)
    cal = [np.inf, 0.4][seed % 2]
    st = rng.integers(0, 3, len(s))
    fm = full_match(s, t, caliper=cal, strata=st)
    assert fm.total_distance == pytest.approx(_lp_full(s, t, cal, st), abs=OPT_ATOL)


@pytest.mark.parametrize("seed", range(24))
def test_optimal_pairs_equal_the_lp_optimum(seed):
    rng = np.random.default_rng(200 + seed)
    s, f = _problem(rng, int(rng.integers(10, 60)), discrete=seed % 3 == 0)
    f = rng.random(len(s)) < 0.35
    f[0] = True
    k = [1, 2, 3][seed % 3]
    cal = [np.inf, 0.3][seed % 2]
    st = rng.integers(0, 2, len(s)) if seed % 4 == 0 else np.zeros(len(s), int)
    m = optimal_pairs(s, f, ratio=k, caliper=cal, strata=st)
    used = m.controls[m.controls >= 0]
    assert len(np.unique(used)) == len(used)  # no control twice
    card, total = _lp_pairs(s, f, k, cal, st)
    assert (m.controls >= 0).sum() == card
    assert m.distance[np.isfinite(m.distance)].sum() == pytest.approx(total, abs=OPT_ATOL)


def test_optimal_pairs_equal_dense_assignment():
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(7)
    s = rng.normal(size=400)
    f = rng.random(400) < 0.3
    m = optimal_pairs(s, f)
    D = np.abs(s[f][:, None] - s[~f][None, :])
    r, c = linear_sum_assignment(D)
    assert m.distance.sum() == pytest.approx(D[r, c].sum(), abs=OPT_ATOL)


# ------------------------------------------------------------ row order, ties
def _discrete_panel(n=3000, seed=11, shuffle_seed=None):
    """Two binary covariates and a three-level one: six distinct propensity scores."""
    rng = np.random.default_rng(seed)
    a, b = rng.binomial(1, 0.5, n), rng.integers(0, 3, n)
    d = (rng.random(n) < 1 / (1 + np.exp(1.0 - 1.2 * a - 0.8 * b))).astype(int)
    y = 1 + 0.5 * d + a + 0.7 * b + rng.normal(size=n)
    df = pd.DataFrame({"a": a.astype(float), "b": b.astype(float), "d": d, "y": y})
    if shuffle_seed is not None:
        df = df.sample(frac=1.0, random_state=shuffle_seed).reset_index(drop=True)
    return Panel(df, outcome="y", treatment="d", covariates=["a", "b"])


@pytest.mark.parametrize("kwargs", [
    dict(replace=True, caliper=None),
    dict(replace=True, caliper=None, ratio=3, bias_correction=True),
    dict(replace=False, caliper=0.2),
    dict(replace=False, caliper=None, order="random"),
    dict(method="optimal", caliper=None),
    dict(method="optimal", ratio=2, caliper=0.2),
    dict(method="full", caliper=None),
    dict(method="full", caliper=None, estimand="ATE", bias_correction=True),
], ids=["rep", "rep3_bc", "greedy", "greedy_random", "optimal", "optimal2", "full",
        "full_ate_bc"])
def test_shuffling_rows_leaves_estimates_unchanged(kwargs):
    est = PropensityScoreMatching(random_state=5, **kwargs)
    base = _quiet(est, _discrete_panel()).overall
    for shuffle in (1, 2):
        other = _quiet(est, _discrete_panel(shuffle_seed=shuffle)).overall
        assert other.estimate == pytest.approx(base.estimate, rel=ORDER_RTOL)
        assert other.std_error == pytest.approx(base.std_error, rel=ORDER_RTOL)


def test_ties_with_replacement_keep_every_tied_control():
    panel = _discrete_panel()
    res = _quiet(PropensityScoreMatching(replace=True, caliper=None), panel)
    ps = res.propensity_score.to_numpy()
    d = panel.frame["d"].to_numpy()
    # with six distinct scores, each treated unit's set is every control of its score
    controls_per_score = pd.Series(ps[d == 0]).value_counts()
    m = res.matched
    sizes = m[m["treated"] == 0].groupby("match_id").size()
    score_of_set = m[m["treated"] == 1].set_index("match_id")["propensity_score"]
    expect = controls_per_score.reindex(score_of_set.loc[sizes.index].to_numpy()).to_numpy()
    np.testing.assert_array_equal(sizes.to_numpy(), expect)


def test_heavy_reuse_is_warned_with_the_effective_number():
    rng = np.random.default_rng(3)
    n = 800
    x = np.r_[rng.normal(1.0, 1.0, 700), rng.normal(-1.0, 1.0, 100)]
    d = np.r_[np.ones(700, int), np.zeros(100, int)]
    df = pd.DataFrame({"x": x, "d": d, "y": x + rng.normal(size=n)})
    panel = Panel(df, outcome="y", treatment="d", covariates=["x"])
    with pytest.warns(StatisticalWarning, match="effective number"):
        PropensityScoreMatching(replace=True, caliper=None).fit(panel)


def test_method_options_are_checked():
    panel = _discrete_panel(300)
    for kw, match in [(dict(method="best"), "method"),
                      (dict(method="optimal", replace=True), "replace"),
                      (dict(method="full", ratio=2), "ratio"),
                      (dict(method="optimal", mahalanobis="a"), "mahalanobis"),
                      (dict(method="optimal", order="random"), "order"),
                      (dict(estimand="ATE"), "full"),
                      (dict(bias_correction="yes"), "bias_correction")]:
        with pytest.raises(OptionError, match=match):
            PropensityScoreMatching(**kw).fit(panel)


def test_full_matching_weights_follow_matchit():
    """ATT weights: 1 for treated, n_t/n_c of the set for controls, controls
    rescaled to their number (MatchIt's get_weights_from_subclass + normalisation)."""
    res = _quiet(PropensityScoreMatching(method="full", caliper=None), _discrete_panel(600))
    m = res.matched
    nt = m.groupby("match_id")["treated"].transform("sum")
    nc = m.groupby("match_id")["treated"].transform(lambda s: (s == 0).sum())
    raw = np.where(m["treated"] == 1, 1.0, nt / nc)
    ctrl = m["treated"].to_numpy() == 0
    raw[ctrl] *= ctrl.sum() / raw[ctrl].sum()
    np.testing.assert_allclose(m["weight"].to_numpy(), raw, rtol=1e-12)


# ------------------------------------------------------------------ Lalonde
@pytest.fixture(scope="module")
def lalonde():
    cd = pytest.importorskip("causaldata")
    nsw = cd.nsw_mixtape.load_pandas().data
    cps = cd.cps_mixtape.load_pandas().data
    df = pd.concat([nsw[nsw["treat"] == 1], cps], ignore_index=True).drop(columns="data_id")
    df = df.astype(float)
    df["u74"] = (df["re74"] == 0).astype(float)
    df["u75"] = (df["re75"] == 0).astype(float)
    return Panel(df, outcome="re78", treatment="treat", covariates=LALONDE_COVARIATES)


def test_lalonde_full_matching_balances_and_recovers_the_experiment(lalonde):
    """Full matching on the Dehejia-Wahba score within exact strata of nodegree
    (on the score alone nodegree keeps |SMD| 0.16, docs/guide/matching.md)."""
    res = _quiet(PropensityScoreMatching(ps_formula=DW_FORMULA, method="full", caliper=None,
                                         exact="nodegree"), lalonde)
    bal = res.balance.set_index("covariate").drop("propensity_score")
    assert bal["smd_after"].abs().max() < 0.1
    assert abs(res.overall.estimate - EXPERIMENTAL_ATT) < LALONDE_TOL
    assert res.info["matched treated"] == 185  # full matching keeps every treated unit


def test_lalonde_optimal_matching(lalonde):
    res = _quiet(PropensityScoreMatching(ps_formula=DW_FORMULA, method="optimal"), lalonde)
    greedy = _quiet(PropensityScoreMatching(ps_formula=DW_FORMULA), lalonde)
    assert res.info["matched treated"] == greedy.info["matched treated"]
    # same pairs possible, never a larger total distance than the greedy pass
    assert (res.info["total distance (logit scale)"]
            <= greedy.info["total distance (logit scale)"] + OPT_ATOL)
    assert abs(res.overall.estimate - EXPERIMENTAL_ATT) < LALONDE_TOL


def test_lalonde_entropy_balancing(lalonde):
    from scipy.optimize import minimize

    from spimpact._formula import design_matrix

    res = _quiet(EntropyBalancing(), lalonde)
    assert res.balance["smd_after"].abs().max() < 1e-4
    assert abs(res.overall.estimate - EXPERIMENTAL_ATT) < LALONDE_TOL
    # independent solution of the dual: BFGS on log-sum-exp of standardised moments
    df = lalonde.frame
    X, _ = design_matrix(df, LALONDE_COVARIATES, intercept=False)
    X = (X - X.mean(0)) / X.std(0)
    d = df["treat"].to_numpy() == 1
    Z = X[~d] - X[d].mean(0)

    def f(lam):
        eta = Z @ lam
        top = eta.max()
        e = np.exp(eta - top)
        return top + np.log(e.sum()), (e / e.sum()) @ Z

    sol = minimize(f, np.zeros(X.shape[1]), jac=True, method="BFGS",
                   options={"gtol": 1e-10, "maxiter": 10_000})
    eta = Z @ sol.x
    w_ref = np.exp(eta - eta.max())
    w_ref *= (~d).sum() / w_ref.sum()
    np.testing.assert_allclose(res.weights.to_numpy()[~d], w_ref, rtol=EB_W_RTOL,
                               atol=EB_W_RTOL * w_ref.max())


def _eb_data(n=1500, seed=4):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.binomial(1, 0.4, n).astype(float)
    d = (rng.random(n) < 1 / (1 + np.exp(-(0.6 * x1 - 0.5 * x2)))).astype(int)
    y = 1 + 2 * d + x1 + x1**2 + 0.5 * x2 + rng.normal(size=n)
    return pd.DataFrame({"x1": x1, "x2": x2, "d": d, "y": y})


@pytest.mark.parametrize("estimand", ["ATT", "ATC", "ATE"])
def test_entropy_balancing_se_equals_numerical_sandwich(estimand):
    """Estimating equations written out here (target moments, dual conditions,
    weighted means), differentiated numerically; sandwich -J^{-1} psi."""
    df = _eb_data()
    res = EntropyBalancing(estimand=estimand).fit(
        Panel(df, outcome="y", treatment="d", covariates=["x1", "x2"]))
    X = df[["x1", "x2"]].to_numpy()
    X = (X - X.mean(0)) / X.std(0)
    d, y = df["d"].to_numpy(), df["y"].to_numpy()
    n, k = X.shape
    tgt = {"ATT": d == 1, "ATC": d == 0, "ATE": np.ones(n, bool)}[estimand]
    rw = {"ATT": [0], "ATC": [1], "ATE": [1, 0]}[estimand]  # groups reweighted

    def psi(theta):
        m = theta[:k]
        lam = {g: theta[k + i * k: k + (i + 1) * k] for i, g in enumerate(rw)}
        mu = {1: theta[-2], 0: theta[-1]}
        cols = [tgt[:, None] * (X - m)]
        a = {}
        for g in (1, 0):
            a[g] = (d == g) * (np.exp((X - m) @ lam[g]) if g in lam else 1.0)
        cols += [(a[g][:, None] * (X - m)) for g in rw]
        cols += [(a[1] * (y - mu[1]))[:, None], (a[0] * (y - mu[0]))[:, None]]
        return np.column_stack(cols)

    # the estimate: solve the same equations by root finding from our weights
    from scipy.optimize import root

    w = res.weights.to_numpy()
    m0 = X[tgt].mean(0)
    start = np.r_[m0, np.zeros(k * len(rw)), np.average(y[d == 1], weights=w[d == 1]),
                  np.average(y[d == 0], weights=w[d == 0])]
    sol = root(lambda th: psi(th).mean(0), start, method="hybr", tol=1e-13)
    assert sol.success
    th = sol.x
    assert th[-2] - th[-1] == pytest.approx(res.overall.estimate, rel=1e-8)
    h = 1e-6
    J = np.column_stack([(psi(th + h * e).mean(0) - psi(th - h * e).mean(0)) / (2 * h)
                         for e in np.eye(len(th))])
    IF = -np.linalg.solve(J, psi(th).T).T
    se = np.sqrt(np.sum((IF[:, -2] - IF[:, -1]) ** 2)) / n
    assert res.overall.std_error == pytest.approx(se, rel=NUM_SE_RTOL)


def test_entropy_balancing_second_moments_and_errors():
    df = _eb_data()
    panel = Panel(df, outcome="y", treatment="d", covariates=["x1", "x2"])
    res = EntropyBalancing(moments=2).fit(panel)
    w, d = res.weights.to_numpy(), df["d"].to_numpy()
    x = df["x1"].to_numpy()
    for f in (x, x**2):  # treated moments reproduced by the weighted controls
        assert np.average(f[d == 0], weights=w[d == 0]) == pytest.approx(f[d == 1].mean(),
                                                                         abs=1e-8)
    with pytest.raises(OptionError, match="moments"):
        EntropyBalancing(moments=3).fit(panel)
    bad = df.copy()
    bad.loc[bad["d"] == 1, "x2"] = 1.0  # treated all have x2 = 1, so x2 has no spread
    bad.loc[bad["d"] == 0, "x2"] = 0.0
    with pytest.raises(EstimationError, match="x2"):
        EntropyBalancing().fit(Panel(bad, outcome="y", treatment="d", covariates=["x1", "x2"]))


# ------------------------------------------------------------ bias correction
def test_bias_correction_equals_its_closed_form():
    """ATT after 1:1 matching without replacement, adjusted on x: ybar_t -
    ybar_c - b'(xbar_t - xbar_c), b from WLS on the matched controls."""
    sm = pytest.importorskip("statsmodels.api")
    df = _eb_data(1200, 9)
    panel = Panel(df, outcome="y", treatment="d", covariates=["x1", "x2"])
    res = _quiet(PropensityScoreMatching(bias_correction=True, caliper=None), panel)
    m = res.matched
    t, c = m[m["treated"] == 1], m[m["treated"] == 0]
    fit = sm.WLS(c["y"], sm.add_constant(c[["x1", "x2"]]), weights=c["weight"]).fit()
    b = fit.params[["x1", "x2"]].to_numpy()
    dx = t[["x1", "x2"]].mean().to_numpy() - np.average(c[["x1", "x2"]], axis=0,
                                                         weights=c["weight"])
    expect = t["y"].mean() - np.average(c["y"], weights=c["weight"]) - b @ dx
    assert res.overall.estimate == pytest.approx(expect, rel=1e-10)


@pytest.mark.slow
def test_bias_correction_removes_nonlinear_bias_with_coverage():
    """Monte Carlo (200 replications): outcome quadratic in x, matching with
    replacement on the score; the uncorrected estimator is biased, the
    bias-corrected one on (x, x^2) is unbiased with 95% coverage within 3 MCSE."""
    reps, truth = 200, 2.0
    est = {False: [], True: []}
    cover = []
    for r in range(reps):
        rng = np.random.default_rng(1000 + r)
        n = 1500
        x = rng.normal(size=n)
        d = (rng.random(n) < 1 / (1 + np.exp(0.5 - 1.5 * x))).astype(int)
        y = truth * d + 2 * x + 1.5 * x**2 + rng.normal(size=n)
        df = pd.DataFrame({"x": x, "d": d, "y": y})
        panel = Panel(df, outcome="y", treatment="d", covariates=["x"])
        for bc in (False, True):
            kw = dict(bias_correction=True, outcome_formula="x + I(x**2)") if bc else {}
            res = _quiet(PropensityScoreMatching(replace=True, caliper=None, ratio=1, **kw),
                         panel).overall
            est[bc].append(res.estimate)
            if bc:
                cover.append(res.ci_lower <= truth <= res.ci_upper)
    raw, corr = np.array(est[False]), np.array(est[True])
    mcse_raw = raw.std(ddof=1) / np.sqrt(reps)
    mcse = corr.std(ddof=1) / np.sqrt(reps)
    assert abs(raw.mean() - truth) > 3 * mcse_raw  # uncorrected matching is biased
    assert abs(corr.mean() - truth) < 3 * mcse
    cov = np.mean(cover)
    assert abs(cov - 0.95) < 3 * np.sqrt(0.95 * 0.05 / reps)


@pytest.mark.parametrize("seed", range(8))
def test_optimal_pairs_use_each_control_unit_once(seed):
    """Controls offered in several strata (a patient at several index months)
    are one unit: the optimum equals the LP with one capacity per unit."""
    from scipy.optimize import linprog

    rng = np.random.default_rng(300 + seed)
    n = 40
    s = rng.normal(size=n)
    f = rng.random(n) < 0.3
    f[0] = True
    st = rng.integers(0, 3, n)
    group = np.where(f, np.arange(n), 1000 + rng.integers(0, 12, n))  # ~12 control units
    m = optimal_pairs(s, f, caliper=0.8, strata=st, group=group)
    used = group[m.controls[m.controls >= 0]]
    assert len(np.unique(used)) == len(used)
    E = _edges(s, f, 0.8, st)
    F = list(np.flatnonzero(f))
    G = sorted(set(group[~f]))
    A = np.zeros((len(F) + len(G), len(E)))
    for q, (i, j, _) in enumerate(E):
        A[F.index(i), q] = 1
        A[len(F) + G.index(group[j]), q] = 1
    card = -linprog(-np.ones(len(E)), A_ub=A, b_ub=np.ones(len(A)), bounds=(0, 1),
                    method="highs").fun
    r = linprog([e[2] for e in E], A_ub=A, b_ub=np.ones(len(A)), A_eq=np.ones((1, len(E))),
                b_eq=[card], bounds=(0, 1), method="highs")
    assert (m.controls >= 0).sum() == round(card)
    assert m.distance[np.isfinite(m.distance)].sum() == pytest.approx(r.fun, abs=OPT_ATOL)
