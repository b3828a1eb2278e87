"""Rambachan-Roth robust intervals (spimpact.did.honest_bounds) against the
HonestDiD authors' Medicaid example, and their properties.

References (tests/data/honest/, see make_medicaid_reference.py there):
- medicaid_betahat.csv / medicaid_sigma.csv: the README's TWFE event study
  (fixest call reproduced with pyfixest on the ehec data);
- medicaid_readme.csv: the intervals printed in the HonestDiD README (3
  significant digits);
- medicaid_moderndid.csv: moderndid 0.2.0's honest_did on the same inputs.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spimpact.did import HonestBounds, honest_bounds
from spimpact.did.honest import identified_set, rm_constraints, sd_constraints
from spimpact.errors import OptionError

DATA = Path(__file__).parent / "data" / "honest"
B = np.loadtxt(DATA / "medicaid_betahat.csv", delimiter=",")
S = np.loadtxt(DATA / "medicaid_sigma.csv", delimiter=",")
README = pd.read_csv(DATA / "medicaid_readme.csv")
PEER_PATH = DATA / "medicaid_moderndid.csv"

#: The original interval is closed form: agreement to rounding.
ORIGINAL_TOL = 1e-6
#: FLCI: the authors simulate the folded-normal quantile (10^6 draws), which
#: moves their endpoints by up to about 5e-5; the README prints 3 digits.
FLCI_TOL = 1e-4
#: Relative-magnitude sets are inverted on the authors' grid of 1000 points
#: over +/- 20 SE: one grid step, plus half a unit of the printed digit.
GRID_STEP = 40 * np.sqrt(S[5, 5]) / 999
RM_GRID = np.arange(0, 2.01, 0.5)
SD_GRID = np.arange(0, 0.0501, 0.01)


def _half_ulp(x: float) -> float:
    """Half a unit in the last of 3 significant digits (README rounding)."""
    if x == 0:
        return 5e-6
    return 0.5 * 10 ** (np.floor(np.log10(abs(x))) - 2)


@pytest.fixture(scope="module")
def peer() -> pd.DataFrame:
    return pd.read_csv(PEER_PATH)


@pytest.fixture(scope="module")
def rm_first() -> HonestBounds:
    return honest_bounds(B, S, num_pre=5, num_post=2, method="relative_magnitudes", grid=RM_GRID)


@pytest.fixture(scope="module")
def sd_first() -> HonestBounds:
    return honest_bounds(B, S, num_pre=5, num_post=2, method="smoothness", grid=SD_GRID)


def test_original_interval_matches_peer(peer: pd.DataFrame) -> None:
    for name, lv in (("first", None), ("average", "average")):
        hb = honest_bounds(B, S, num_pre=5, num_post=2, method="smoothness", grid=[0.0],
                           l_vec=lv)
        ref = peer[(peer.l_vec == name) & (peer.method == "original")].iloc[0]
        assert hb.original.ci_lower == pytest.approx(ref.lb, abs=ORIGINAL_TOL)
        assert hb.original.ci_upper == pytest.approx(ref.ub, abs=ORIGINAL_TOL)


def test_flci_matches_readme_and_peer(sd_first: HonestBounds, peer: pd.DataFrame) -> None:
    tab = sd_first.estimates
    readme = README[README.method == "FLCI"].reset_index(drop=True)
    np.testing.assert_allclose(tab["M"], readme["M"])
    for col, ref in (("ci_lower", "lb"), ("ci_upper", "ub")):
        tol = FLCI_TOL + np.array([_half_ulp(x) for x in readme[ref]])
        assert (np.abs(tab[col] - readme[ref]) <= tol).all(), (tab[col], readme[ref])
    for name, lv in (("first", None), ("average", "average")):
        hb = sd_first if lv is None else honest_bounds(
            B, S, num_pre=5, num_post=2, method="smoothness", grid=SD_GRID, l_vec=lv)
        ref = peer[(peer.l_vec == name) & (peer.method == "FLCI")]
        np.testing.assert_allclose(hb.estimates["ci_lower"], ref["lb"], atol=FLCI_TOL)
        np.testing.assert_allclose(hb.estimates["ci_upper"], ref["ub"], atol=FLCI_TOL)


def test_relative_magnitudes_match_readme(rm_first: HonestBounds) -> None:
    tab = rm_first.estimates.set_index("M")
    for _, r in README[README.method == "C-LF"].iterrows():
        row = tab.loc[r.M]
        assert abs(row.ci_lower - r.lb) <= GRID_STEP + _half_ulp(r.lb), (r.M, row.ci_lower)
        assert abs(row.ci_upper - r.ub) <= GRID_STEP + _half_ulp(r.ub), (r.M, row.ci_upper)
    # the README's breakdown value: significant up to Mbar = 2 exclusive
    assert rm_first.breakdown == 2.0


@pytest.mark.parametrize("method", ["C-LF", "Conditional"])
def test_relative_magnitudes_match_peer(method: str, peer: pd.DataFrame) -> None:
    for name, lv in (("first", None), ("average", "average")):
        hb = honest_bounds(B, S, num_pre=5, num_post=2, method="relative_magnitudes",
                           grid=RM_GRID, l_vec=lv,
                           inference="C-LF" if method == "C-LF" else "conditional")
        ref = peer[(peer.l_vec == name) & (peer.method == method)]
        step = 40 * np.sqrt(hb.l_vec @ S[5:, 5:] @ hb.l_vec) / 999
        # the conditional test is deterministic, but the peer inverts it on its
        # own grid of points: one grid step. The hybrid's least-favourable
        # critical value is simulated; the peer (like the authors) uses 1000
        # draws, spimpact 20,000. With 1000 draws the endpoints move with the
        # seed: over 20 seeds, the average effect's lower end at Mbar = 0 spans
        # 0.04048 to 0.04119 (two grid steps) and the peer's 0.04124 lies 2.2
        # steps from spimpact's; three steps bound that Monte Carlo spread.
        # (Against the authors' own printed output the test above allows one.)
        steps = 1 if method == "Conditional" else 3
        np.testing.assert_allclose(hb.estimates["ci_lower"], ref["lb"], atol=step * steps * 1.01)
        np.testing.assert_allclose(hb.estimates["ci_upper"], ref["ub"], atol=step * steps * 1.01)


def test_zero_restriction_reproduces_original(rm_first: HonestBounds) -> None:
    """Mbar = 0 identifies theta = l' beta_post: the set is the original interval
    up to the grid; every wider restriction's set contains the original one."""
    o = rm_first.original
    row0 = rm_first.estimates.iloc[0]
    assert abs(row0.ci_lower - o.ci_lower) <= GRID_STEP
    assert abs(row0.ci_upper - o.ci_upper) <= GRID_STEP
    later = rm_first.estimates.iloc[1:]
    assert (later.ci_lower <= o.ci_lower).all() and (later.ci_upper >= o.ci_upper).all()


@pytest.mark.parametrize("which", ["rm", "sd"])
def test_bounds_widen_with_grid(which: str, rm_first: HonestBounds,
                                sd_first: HonestBounds) -> None:
    tab = (rm_first if which == "rm" else sd_first).estimates
    assert (np.diff(tab["ci_lower"]) <= 1e-12).all()
    assert (np.diff(tab["ci_upper"]) >= -1e-12).all()


def test_smoothness_conditional_and_restrictions_nest() -> None:
    """Sign and monotonicity restrictions shrink the smoothness sets; the
    conditional sets contain the identified set shifted by the estimate."""
    grid = [0.0, 0.02]
    plain = honest_bounds(B, S, num_pre=5, num_post=2, method="smoothness", grid=grid,
                          inference="conditional").estimates
    pos = honest_bounds(B, S, num_pre=5, num_post=2, method="smoothness", grid=grid,
                        inference="conditional", bias="positive").estimates
    assert (pos.ci_lower >= plain.ci_lower - 1e-3).all()
    assert (pos.ci_upper <= plain.ci_upper + 1e-9).all()
    # delta_post >= 0 means theta <= l' beta_post: the upper end sits near the estimate's CI
    assert (pos.ci_upper <= B[5] + 2.5 * np.sqrt(S[5, 5])).all()
    inc = honest_bounds(B, S, num_pre=5, num_post=2, method="smoothness", grid=grid,
                        monotone="increasing")
    assert (inc.estimates.method == "C-LF").all()
    assert (inc.estimates.ci_upper - inc.estimates.ci_lower > 0).all()


def test_identified_set_by_linear_programs() -> None:
    """Known identified sets: Delta^SD(0) with exact beta is a point (linear
    extrapolation); Delta^RM(1) widens by the largest pre-period change."""
    beta = np.array([-0.2, -0.1, 0.5])  # linear pre-trend of slope 0.1, then 0.5
    A, d = sd_constraints(2, 1, 0.0)
    lo, hi = identified_set(A, d, beta, 2, np.array([1.0]))
    assert lo == pytest.approx(0.4) and hi == pytest.approx(0.4)
    lows, highs = [], []
    for s in (-1, 0):
        for pos in (True, False):
            A = rm_constraints(2, 1, 1.0, s, pos)
            lo, hi = identified_set(A, np.zeros(len(A)), beta, 2, np.array([1.0]))
            if np.isfinite(lo):
                lows.append(lo)
                highs.append(hi)
    assert min(lows) == pytest.approx(0.4) and max(highs) == pytest.approx(0.6)


def test_l_vec_options_and_errors() -> None:
    avg = honest_bounds(B, S, num_pre=5, num_post=2, method="smoothness", grid=[0.01],
                        l_vec="average")
    expl = honest_bounds(B, S, num_pre=5, num_post=2, method="smoothness", grid=[0.01],
                         l_vec=[0.5, 0.5])
    pd.testing.assert_frame_equal(avg.estimates, expl.estimates)
    assert avg.original.estimate == pytest.approx(B[5:].mean())
    with pytest.raises(OptionError, match="l_vec"):
        honest_bounds(B, S, num_pre=5, num_post=2, l_vec=[1, 0, 0])
    with pytest.raises(OptionError, match="num_pre"):
        honest_bounds(B, S, num_pre=4, num_post=2)
    with pytest.raises(OptionError, match="method"):
        honest_bounds(B, S, num_pre=5, num_post=2, method="trend")
    with pytest.raises(OptionError, match="FLCI"):
        honest_bounds(B, S, num_pre=5, num_post=2, method="smoothness", inference="FLCI",
                      bias="positive")
    with pytest.raises(OptionError, match="grid"):
        honest_bounds(B, S, num_pre=5, num_post=2, grid=[-1])
    with pytest.raises(OptionError, match="symmetric"):
        honest_bounds(B, S + np.triu(np.ones_like(S)) * 1e-3, num_pre=5, num_post=2)


def test_reproducible_and_inputs_unchanged() -> None:
    b0, s0 = B.copy(), S.copy()
    a = honest_bounds(B, S, num_pre=5, num_post=2, grid=[1.0], random_state=3)
    b = honest_bounds(B, S, num_pre=5, num_post=2, grid=[1.0], random_state=3)
    pd.testing.assert_frame_equal(a.estimates, b.estimates)
    np.testing.assert_array_equal(B, b0)
    np.testing.assert_array_equal(S, s0)


def test_plot_and_summary(rm_first: HonestBounds) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert rm_first.plot(ax=ax) is ax
    plt.close(fig)
    text = rm_first.summary()
    assert "breakdown Mbar: 2" in text
    assert rm_first.to_frame().iloc[0]["method"] == "original"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        repr(rm_first)


@pytest.mark.slow
@pytest.mark.parametrize("restriction", ["relative_magnitudes", "smoothness"])
def test_coverage_at_the_worst_case_violation(restriction: str) -> None:
    """Monte Carlo coverage of theta = tau_1 at a violation on the edge of the
    restriction (Medicaid covariance; 200 draws): at least 95% up to three
    Monte Carlo standard errors."""
    rng = np.random.default_rng(20230901)
    tau = 0.03
    if restriction == "relative_magnitudes":
        M = 1.0
        # largest pre-period step 0.01; the post-period steps reach M times it
        delta = np.array([0.0, 0.0, 0.0, 0.0, -0.01, 0.01, 0.02])
    else:
        M = 0.01
        # linear pre-trend, then the slope bends by M each period after
        delta = np.array([-0.005, -0.004, -0.003, -0.002, -0.001, 0.001 + M, 0.002 + 3 * M])
    beta = delta + np.r_[np.zeros(5), tau, tau]
    L = np.linalg.cholesky(S)
    n, covered = 200, 0
    for _ in range(n):
        b = beta + L @ rng.standard_normal(7)
        hb = honest_bounds(b, S, num_pre=5, num_post=2, method=restriction, grid=[M])
        row = hb.estimates.iloc[0]
        covered += int(row.ci_lower <= tau <= row.ci_upper)
    rate = covered / n
    assert rate >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / n), rate
