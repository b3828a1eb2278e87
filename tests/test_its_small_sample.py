"""``small_sample=True`` of the segmented regressions: REML ARMA errors with
Satterthwaite df, and Newey-West with the LLSW bandwidth and fixed-b critical
values. Each piece of numerics is checked against an independent computation
or a published value; the coverage claims are slow Monte Carlo tests."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.signal import lfilter
from scipy.special import stdtr, stdtrit

import spimpact as sp
from spimpact import Panel
from spimpact.errors import OptionError
from spimpact.its import ControlledITS, Fourier, SegmentedRegression
from spimpact.its._small import (
    bartlett_matrix,
    fit_reml_arma,
    fixed_b,
    imhof_upper,
    kv_bartlett_crit,
    llsw_bandwidth,
)


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def _its_design(n: int = 108) -> np.ndarray:
    t = np.arange(n, dtype=float)
    p0 = n // 2
    return np.c_[
        np.ones(n), t - p0, (t >= p0).astype(float), np.sin(2 * np.pi * t / 12),
        np.cos(2 * np.pi * t / 12),
    ]


def _ar1(n: int, rho: float, rng: np.random.Generator) -> np.ndarray:
    z = rng.normal(size=n)
    z[0] /= math.sqrt(1 - rho**2)
    return lfilter([1.0], [1.0, -rho], z)


# ------------------------------------------------------------------ fixed-b
def test_imhof_reproduces_student_t_tails():
    """``P(Z^2 - c^2/nu chi2_nu > 0) = P(|t_nu| > c)`` exactly; tolerance 1e-7 (the
    quadrature's error, observed below 1e-8)."""
    for nu in (3, 12, 60):
        for c in (1.0, 2.0, 3.5):
            w = np.r_[1.0, -(c * c / nu) * np.ones(nu)]
            assert imhof_upper(w) == pytest.approx(2 * stdtr(nu, -c), abs=1e-7)


@pytest.mark.parametrize("b", [0.1, 0.2, 0.3, 0.5])
def test_fixed_b_matches_kiefer_vogelsang(b):
    """Intercept-only design (the location model of Kiefer & Vogelsang 2005), T = 500:
    the exact critical value against their published response surface for the
    Bartlett kernel, ``1.96 + 2.9694 b + 0.4160 b^2 - 0.5324 b^3`` (a fit to simulated
    quantiles). Tolerance 1.5% (observed 0.2-1.2%: the surface's fit and simulation
    error, and T = 500 against the limit)."""
    T = 500
    out = fixed_b(np.ones((T, 1)), np.array([0.0]), int(round(b * T)), 0.95)
    assert out.crit[0] == pytest.approx(kv_bartlett_crit(b), rel=0.015)


def test_fixed_b_crit_matches_monte_carlo_on_its_design():
    """The design-specific critical value of the level change (108 months, trend,
    level change, season, LLSW bandwidth) against the 97.5% quantile of |t| in
    40,000 simulated series with independent normal errors (Newey-West computed
    directly); tolerance 3 Monte Carlo SEs of the quantile."""
    X = _its_design()
    n, k = X.shape
    S = llsw_bandwidth(n)
    out = fixed_b(X, np.zeros(k), S, 0.95)
    rng = np.random.default_rng(7)
    E = rng.normal(size=(n, 40_000))
    XtX_inv = np.linalg.inv(X.T @ X)
    w = (XtX_inv @ X.T)[2]  # the level change
    resid = E - X @ (XtX_inv @ (X.T @ E))
    u = w[:, None] * resid
    K = bartlett_matrix(n, S)
    var = np.einsum("ir,ij,jr->r", u, K, u)
    t = np.abs(w @ E) / np.sqrt(var)
    q = np.quantile(t, 0.95)
    dens = np.mean(np.abs(t - q) < 0.05) / 0.1 / 2  # density of |t| at q, per side
    mcse = math.sqrt(0.95 * 0.05 / t.size) / (2 * dens)
    assert abs(out.crit[2] - q) < 3 * mcse, (out.crit[2], q, mcse)
    assert out.crit[2] > 2.2  # far above the normal 1.96 at b = 14/108


def test_llsw_bandwidth():
    assert [llsw_bandwidth(n) for n in (24, 48, 108, 400)] == [6, 9, 14, 26]


# --------------------------------------------------------------------- REML
def _direct_reml(y: np.ndarray, X: np.ndarray) -> tuple[float, float]:
    """REML of a regression with AR(1) errors written independently: the Gaussian
    log-likelihood of the error contrasts ``K'y`` (``K`` an orthonormal basis of the
    residual space), maximised over (log s2, atanh phi) by Nelder-Mead."""
    from scipy.linalg import null_space, toeplitz
    from scipy.optimize import minimize
    from scipy.stats import multivariate_normal

    Kb = null_space(X.T)
    z = Kb.T @ y
    n = len(y)

    def nll(par):
        s2, phi = math.exp(par[0]), math.tanh(par[1])
        V = s2 / (1 - phi**2) * toeplitz(phi ** np.arange(n))
        return -multivariate_normal(np.zeros(len(z)), Kb.T @ V @ Kb).logpdf(z)

    res = minimize(nll, [math.log(np.var(y)), 0.3], method="Nelder-Mead",
                   options={"xatol": 1e-9, "fatol": 1e-11, "maxiter": 4000})
    return math.exp(res.x[0]), math.tanh(res.x[1])


def test_reml_matches_direct_error_contrast_likelihood():
    """REML AR(1) estimates against the direct error-contrast likelihood; tolerance
    1e-4 on phi and 1e-4 relative on s2 (both optimisers' convergence)."""
    rng = np.random.default_rng(11)
    X = _its_design(60)
    y = X @ np.r_[1.0, 0.02, -0.5, 0.3, 0.2] + 0.4 * _ar1(60, 0.6, rng)
    fit = fit_reml_arma(y, X, (1, 0))
    s2, phi = _direct_reml(y, X)
    assert fit.ar[0] == pytest.approx(phi, abs=1e-4)
    assert fit.sigma2 == pytest.approx(s2, rel=1e-4)
    # GLS coefficients at the REML phi, computed directly
    from scipy.linalg import toeplitz

    Vinv = np.linalg.inv(toeplitz(phi ** np.arange(60)))
    beta = np.linalg.solve(X.T @ Vinv @ X, X.T @ Vinv @ y)
    np.testing.assert_allclose(fit.beta, beta, atol=1e-5)


def test_satterthwaite_df_agree_with_expected_information():
    """Satterthwaite df from the numerical (observed) REML Hessian against the
    textbook expected-information version (Giesbrecht & Burns 1985): information
    ``I_ab = tr(P V_a P V_b) / 2`` and analytic derivatives of ``(X'V^-1X)^-1``.
    Observed and expected information differ at O(n^-1/2); tolerance 10%."""
    rng = np.random.default_rng(3)
    n = 108
    X = _its_design(n)
    y = X @ np.r_[1.0, 0.01, -0.4, 0.2, 0.1] + 0.3 * _ar1(n, 0.5, rng)
    fit = fit_reml_arma(y, X, (1, 0))
    s2, phi = fit.sigma2, fit.ar[0]
    lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    R = phi**lag / (1 - phi**2)
    V = s2 * R
    dV_s2 = R
    dR = (lag * phi ** np.maximum(lag - 1, 0) * (lag > 0)) / (1 - phi**2) + 2 * phi * R / (
        1 - phi**2
    )
    dV_phi = s2 * dR
    Vi = np.linalg.inv(V)
    C = np.linalg.inv(X.T @ Vi @ X)
    P = Vi - Vi @ X @ C @ X.T @ Vi
    dVs = (dV_s2, dV_phi)
    info = np.array([[0.5 * np.trace(P @ a @ P @ b) for b in dVs] for a in dVs])
    W = np.linalg.inv(info)
    g = np.array([np.diag(C @ X.T @ Vi @ a @ Vi @ X @ C) for a in dVs]).T
    df = 2 * np.diag(C) ** 2 / np.einsum("ia,ab,ib->i", g, W, g)
    np.testing.assert_allclose(fit.df, df, rtol=0.10)


# --------------------------------------------------------------- estimators
def _series(n: int = 108, rho: float = 0.5, seed: int = 0) -> Panel:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 2.0 + 0.01 * t - 0.3 * (t >= n // 2) + 0.2 * np.sin(2 * np.pi * t / 12) + 0.1 * _ar1(
        n, rho, rng)
    months = pd.period_range("2015-01", periods=n, freq="M")
    return Panel(pd.DataFrame({"month": months, "y": y}), outcome="y", time="month")


def test_segmented_reml_table_and_labels():
    panel = _series()
    res = SegmentedRegression("2019-07", seasonality=Fourier(12, 1), autocorrelation="arma",
                              small_sample=True).fit(panel)
    tab = res.estimates.set_index("term")
    assert "ar1" in tab.index and 0.2 < tab.loc["ar1", "estimate"] < 0.8
    assert "REML, Satterthwaite df" in res.method
    assert "Satterthwaite" in res.info["small sample"]
    row = tab.loc["level_change"]
    # interval is estimate +/- t_df * se with the Satterthwaite df in info
    df = float(res.info["small sample"].split("df ")[1].split(" ")[0])
    half = (row.ci_upper - row.ci_lower) / 2 / row.std_error
    assert half > 1.96 and half == pytest.approx(float(stdtrit(df, 0.975)), rel=2e-3)
    ml = SegmentedRegression("2019-07", seasonality=Fourier(12, 1),
                             autocorrelation="arma", small_sample=False).fit(panel)
    # REML removes ML's downward bias of the AR coefficient and the variance
    assert tab.loc["ar1", "estimate"] > ml.estimates.set_index("term").loc["ar1", "estimate"]
    assert tab.loc["level_change", "std_error"] > ml.estimates.set_index("term").loc[
        "level_change", "std_error"]


def test_segmented_fixed_b_uses_llsw_bandwidth():
    panel = _series()
    res = SegmentedRegression("2019-07", seasonality=Fourier(12, 1),
                              autocorrelation="newey-west", small_sample=True).fit(panel)
    assert res.info["newey-west bandwidth"] == llsw_bandwidth(108)
    assert "13 lags" in res.method and "fixed-b" in res.method
    row = res.estimates.set_index("term").loc["level_change"]
    crit = (row.ci_upper - row.estimate) / row.std_error
    assert crit > 2.2
    # the same SEs as statsmodels' HAC with S - 1 lags; only the critical values change
    plain = SegmentedRegression("2019-07", seasonality=Fourier(12, 1),
                                autocorrelation="newey-west", maxlags=13,
                                small_sample=False).fit(panel)
    prow = plain.estimates.set_index("term").loc["level_change"]
    assert row.std_error == pytest.approx(prow.std_error, rel=1e-12)
    assert row.p_value > prow.p_value
    # the cumulative effect uses the same reference distribution as the level change
    cum = res.cumulative_effect()
    assert (cum.ci_upper - cum.estimate) / cum.std_error == pytest.approx(crit, rel=1e-9)
    cum_plain = plain.cumulative_effect()
    assert (cum_plain.ci_upper - cum_plain.estimate) / cum_plain.std_error == pytest.approx(
        1.959964, rel=1e-6)
    assert cum.p_value > cum_plain.p_value


def test_counts_fixed_b():
    sim = sp.simulate.interrupted_series(random_state=2)
    panel = Panel(sim.data, outcome="count", time="month", exposure="population")
    for fam in ("quasipoisson", "negbin"):
        with warnings.catch_warnings():  # NB2 with alpha near 0 converges slowly
            warnings.simplefilter("ignore", sp.StatisticalWarning)
            res = SegmentedRegression("2019-07", family=fam, seasonality=Fourier(12, 1),
                                      autocorrelation="newey-west", small_sample=True).fit(panel)
        row = res.estimates.set_index("term").loc["level_change"]
        assert (row.ci_upper - row.estimate) / row.std_error > 2.1
        assert res.counterfactual()["effect_lower"].notna().all()


def test_controlled_fixed_b_driscoll_kraay():
    sim = sp.simulate.interrupted_series(n_control=2, random_state=3)
    panel = Panel(sim.data, outcome="y", unit="series", time="month")
    kw = dict(treated="treated1", seasonality=Fourier(12, 1), autocorrelation="newey-west")
    res = ControlledITS("2019-07", small_sample=True, **kw).fit(panel)
    plain = ControlledITS("2019-07", maxlags=llsw_bandwidth(108) - 1, **kw).fit(panel)
    row = res.estimates.set_index("term").loc["level_change"]
    prow = plain.estimates.set_index("term").loc["level_change"]
    assert row.std_error == pytest.approx(prow.std_error, rel=1e-12)
    assert row.ci_upper - row.ci_lower > prow.ci_upper - prow.ci_lower
    assert "Driscoll-Kraay" in res.method and "fixed-b" in res.method


def test_small_sample_option_checked():
    with pytest.raises(OptionError, match="small_sample"):
        SegmentedRegression("2019-07", small_sample="yes").fit(_series())
    with pytest.raises(OptionError, match="small_sample"):
        ControlledITS("2019-07", small_sample=1).fit(_series())


# ----------------------------------------------------------- slow coverage
REPS = 500


def _coverage(n: int, rho: float, configs: dict, seed0: int) -> dict[str, float]:
    """Coverage of the level change on series written here (not by the package's
    simulator): 2 + 0.01 t + 0.2 sin + 0.1 cos (12-month season) - 0.3 post + AR(1)
    errors (innovation SD 0.1), interruption at the middle."""
    months = pd.period_range("2015-01", periods=n, freq="M")
    t = np.arange(n)
    base = 2.0 + 0.01 * t + 0.2 * np.sin(2 * np.pi * t / 12) + 0.1 * np.cos(2 * np.pi * t / 12)
    truth = -0.3
    hits = {k: 0 for k in configs}
    for r in range(REPS):  # Monte Carlo replications
        rng = np.random.default_rng(seed0 + r)
        y = base + truth * (t >= n // 2) + 0.1 * _ar1(n, rho, rng)
        panel = Panel(pd.DataFrame({"month": months, "y": y}), outcome="y", time="month")
        for name, kw in configs.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = SegmentedRegression(months[n // 2], seasonality=Fourier(12, 1),
                                          **kw).fit(panel)
            row = res.estimates.set_index("term").loc["level_change"]
            hits[name] += bool(row.ci_lower <= truth <= row.ci_upper)
    return {k: v / REPS for k, v in hits.items()}


@pytest.mark.slow
def test_small_sample_coverage_108_months_rho_05():
    """The target on 108 monthly points, AR(1) rho 0.5, 500 replications
    (Monte Carlo SE of a 95% coverage: 0.0097): REML ARMA with Satterthwaite df
    covers 0.925-0.975 and fixed-b Newey-West at least 0.92."""
    cov = _coverage(108, 0.5, {
        "reml": {"autocorrelation": "arma", "small_sample": True},
        "nw_fixed_b": {"autocorrelation": "newey-west", "small_sample": True},
    }, seed0=70_000)
    print(f"coverage over {REPS} replications (108 months, rho 0.5): {cov}")
    assert 0.925 <= cov["reml"] <= 0.975, cov
    assert cov["nw_fixed_b"] >= 0.92, cov


def test_ar1_whitening_equals_cholesky_of_toeplitz():
    """The O(n) AR(1) transform against the Cholesky factor of the AR(1)
    autocovariance matrix (the path every other ARMA order takes); 1e-10."""
    from scipy.linalg import toeplitz

    from spimpact.its._small import _whiten

    phi, n = 0.7, 30
    V = toeplitz(phi ** np.arange(n)) / (1 - phi**2)
    Z = np.random.default_rng(0).normal(size=(n, 3))
    W, logdet = _whiten(np.r_[phi], np.zeros(0), Z)
    L = np.linalg.cholesky(V)
    np.testing.assert_allclose(W, np.linalg.solve(L, Z), atol=1e-10)
    assert logdet == pytest.approx(np.linalg.slogdet(V)[1], abs=1e-10)


def test_reml_arma11_runs_and_matches_ml_direction():
    """ARMA(1, 1) errors take the general (Cholesky) path: the fit converges and
    the AR coefficient is near the simulated 0.6."""
    rng = np.random.default_rng(5)
    n = 108
    X = _its_design(n)
    z = rng.normal(size=n + 1)
    e = lfilter([1.0, 0.3], [1.0, -0.6], z)[1:]
    fit = fit_reml_arma(X @ np.r_[1.0, 0.01, -0.4, 0.2, 0.1] + 0.2 * e, X, (1, 1))
    assert fit.converged and 0.3 < fit.ar[0] < 0.85 and len(fit.ma) == 1
    assert np.all(np.isfinite(fit.df)) and np.all(fit.df > 5)


def test_short_series_without_correction_warns():
    """Newey-West and ML-ARMA intervals on a 108-month series carry the
    under-coverage warning; small_sample=True and model-based fits do not."""
    panel = _series()
    for ac in ("newey-west", "arma"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plain = SegmentedRegression("2019-07", autocorrelation=ac, small_sample=False).fit(panel)
            small = SegmentedRegression("2019-07", autocorrelation=ac).fit(panel)  # the default
        assert any("under-cover" in w for w in plain.warnings)
        assert not any("under-cover" in w for w in small.warnings)
