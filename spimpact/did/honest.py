"""Sensitivity of event-study conclusions to violations of parallel trends
(Rambachan and Roth 2023, "A more credible approach to parallel trends").

An event study estimates ``beta = (beta_pre, beta_post)``; under a violation
``delta`` of parallel trends, ``beta = delta + (0, tau_post)``. Parallel trends
says ``delta = 0``; the pre-period estimates show ``delta_pre`` (up to noise).
:func:`honest_bounds` bounds ``theta = l' tau_post`` when ``delta`` is only
known to lie in a set restricted by how large the pre-period violations are:

- ``"relative_magnitudes"`` (Delta^RM(Mbar)): no post-period change in the
  violation between consecutive periods exceeds ``Mbar`` times the largest such
  change in the pre-period. ``Mbar = 1``: the post-period violations are no
  worse than the worst pre-period one. Intervals: conditional
  least-favourable hybrid (``"C-LF"``, default) or conditional (``"conditional"``)
  tests of Andrews, Roth and Pakes, inverted over a grid of ``theta``.
- ``"smoothness"`` (Delta^SD(M)): the slope of the violation changes by at
  most ``M`` between consecutive periods; ``M = 0`` allows exactly linear
  trends. Intervals: the optimal fixed-length interval (``"FLCI"``, default);
  with a sign (``bias="positive"``/``"negative"``) or monotonicity
  (``monotone="increasing"``/``"decreasing"``) restriction, the conditional or
  hybrid test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..errors import OptionError
from ..results import Estimate
from . import _arp
from ._flci import optimal_flci

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["honest_bounds", "HonestBounds", "identified_set", "posterior_bounds"]

Restriction = Literal["relative_magnitudes", "smoothness"]
METHODS = {"relative_magnitudes": ("C-LF", "conditional"),
           "smoothness": ("FLCI", "C-LF", "conditional")}
#: Points of the ``theta`` grid on which the conditional tests are inverted
#: (the authors' default).
GRID_POINTS = 1000
#: The grid spans the identified set at ``betahat = 0`` widened by this many
#: standard errors of ``l' betahat_post`` on each side (the authors' default).
GRID_HALF_WIDTH_SE = 20.0


# ------------------------------------------------------------------ restrictions
def _diff_matrix(num_pre: int, num_post: int) -> np.ndarray:
    """First differences ``delta_t - delta_{t-1}`` over ``t = -K+1 .. P`` (with
    ``delta_0 = 0``), as rows over the ``K + P`` estimated periods."""
    n = num_pre + num_post
    full = np.zeros((n, n + 1))
    idx = np.arange(n)
    full[idx, idx], full[idx, idx + 1] = -1.0, 1.0
    return full


def _drop_ref(A: np.ndarray, num_pre: int) -> np.ndarray:
    return np.delete(A, num_pre, axis=1)


def rm_constraints(num_pre: int, num_post: int, Mbar: float, s: int,
                   positive: bool) -> np.ndarray:
    """``A`` of Delta^RM(Mbar) when the largest pre-period first difference is the
    one ending at pre-period ``s`` (``s = -K+1..0``) with sign ``positive``:
    every pre-period |difference| is at most it, every post-period one at most
    ``Mbar`` times it (``d = 0``)."""
    D = _diff_matrix(num_pre, num_post)
    v = np.zeros(num_pre + num_post + 1)
    v[num_pre + s - 1], v[num_pre + s] = -1.0, 1.0
    if not positive:
        v = -v
    bound = np.vstack([np.tile(v, (num_pre, 1)), np.tile(Mbar * v, (num_post, 1))])
    A = np.vstack([D - bound, -D - bound])
    A = A[(A**2).sum(axis=1) > 1e-10]
    return _drop_ref(A, num_pre)


def sd_constraints(num_pre: int, num_post: int, M: float, bias: str | None = None,
                   monotone: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(A, d)`` of Delta^SD(M), optionally intersected with a sign restriction on
    the post-period violations or a monotone violation path."""
    n = num_pre + num_post
    S = np.zeros((n - 1, n + 1))
    r = np.arange(n - 1)
    S[r, r], S[r, r + 1], S[r, r + 2] = 1.0, -2.0, 1.0
    S = _drop_ref(S, num_pre)
    A, d = np.vstack([S, -S]), np.full(2 * (n - 1), float(M))
    if bias is not None:
        sign = {"positive": -1.0, "negative": 1.0}[bias]
        B = np.zeros((num_post, n))
        B[np.arange(num_post), num_pre + np.arange(num_post)] = sign
        A, d = np.vstack([A, B]), np.r_[d, np.zeros(num_post)]
    if monotone is not None:
        sign = {"increasing": -1.0, "decreasing": 1.0}[monotone]
        Dm = sign * _drop_ref(_diff_matrix(num_pre, num_post), num_pre)
        A, d = np.vstack([A, Dm]), np.r_[d, np.zeros(n)]
    return A, d


def _post_rows(A: np.ndarray, num_pre: int) -> np.ndarray:
    """Rows of ``A`` that involve a post period (the authors' default moments)."""
    return np.flatnonzero((A[:, num_pre:] != 0).any(axis=1))


def identified_set(A: np.ndarray, d: np.ndarray, beta: np.ndarray, num_pre: int,
                   l_vec: np.ndarray) -> tuple[float, float]:
    """Identified set of ``l' tau_post`` when ``beta`` is known exactly and
    ``delta`` lies in ``{A delta <= d}`` (two linear programs)."""
    from scipy.optimize import linprog

    n = len(beta)
    f = np.r_[np.zeros(num_pre), l_vec]
    A_eq = np.eye(n)[:num_pre]
    out = []
    for sgn in (1.0, -1.0):
        res = linprog(sgn * f, A_ub=A, b_ub=d, A_eq=A_eq, b_eq=beta[:num_pre],
                      bounds=[(None, None)] * n, method="highs")
        if res.status != 0:
            return (np.nan, np.nan)
        out.append(sgn * res.fun)
    lo_delta, hi_delta = out
    est = float(l_vec @ beta[num_pre:])
    return est - hi_delta, est - lo_delta


# ------------------------------------------------------------------- the result
@dataclass(frozen=True)
class HonestBounds:
    """Robust confidence sets for ``theta = l' tau_post`` over a grid of
    restrictions (Rambachan and Roth 2023).

    Attributes
    ----------
    original : Estimate
        ``l' betahat_post`` with its usual interval (exact parallel trends).
    estimates : pandas.DataFrame
        One row per grid value: ``M`` (``Mbar`` for relative magnitudes),
        ``ci_lower``, ``ci_upper``, ``method``, ``restriction``.
    restriction : str
        ``"relative_magnitudes"`` or ``"smoothness"`` (with any sign or
        monotonicity restriction in ``label``).
    l_vec : numpy.ndarray
        Weights on the post-period effects.
    alpha : float
        One minus the confidence level.
    """

    original: Estimate
    estimates: pd.DataFrame
    restriction: str
    l_vec: np.ndarray
    alpha: float
    label: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def breakdown(self) -> float:
        """The smallest grid value at which the robust interval includes zero
        (``nan`` when every interval on the grid excludes zero). Conclusions
        hold for restrictions tighter than this value; a breakdown at the first
        grid value means even the tightest restriction does not exclude zero."""
        tab = self.estimates
        covers = (tab["ci_lower"] <= 0) & (tab["ci_upper"] >= 0)
        return float(tab.loc[covers, "M"].min()) if covers.any() else float("nan")

    @property
    def parameter(self) -> str:
        return "Mbar" if self.restriction == "relative_magnitudes" else "M"

    def to_frame(self) -> pd.DataFrame:
        """The original interval (``M`` missing) followed by the robust ones."""
        o = pd.DataFrame({"M": [np.nan], "ci_lower": [self.original.ci_lower],
                          "ci_upper": [self.original.ci_upper], "method": ["original"],
                          "restriction": ["none"]})
        return pd.concat([o, self.estimates], ignore_index=True)

    def summary(self) -> str:
        """Plain-text table with the breakdown value."""
        lines = [f"HonestBounds: {self.restriction}{self.label} "
                 f"({100 * (1 - self.alpha):g}% robust intervals)",
                 f"  original: {self.original}", ""]
        lines.append(self.estimates.to_string(index=False, float_format="{:.4g}".format))
        b = self.breakdown
        lines.append("")
        lines.append(f"  breakdown {self.parameter}: "
                     + (f"{b:g}" if np.isfinite(b) else "beyond the grid (all exclude 0)"))
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        b = self.breakdown
        return (f"<HonestBounds: {self.restriction}, {len(self.estimates)} values of "
                f"{self.parameter}, breakdown {b:.4g}>")

    def plot(self, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Robust intervals against ``M`` (or ``Mbar``), the original interval at
        the left; a dashed line at zero."""
        from ..plotting import get_ax

        ax = get_ax(ax)
        tab = self.estimates
        grid = tab["M"].to_numpy(dtype=float)
        step = float(np.min(np.diff(np.sort(grid)))) if len(grid) > 1 else 1.0
        x0 = grid.min() - step
        ax.errorbar([x0], [(self.original.ci_lower + self.original.ci_upper) / 2],
                    yerr=[[(self.original.ci_upper - self.original.ci_lower) / 2]],
                    fmt="none", color=kwargs.get("original_color", "C3"), capsize=4,
                    label="original")
        mid = (tab["ci_lower"] + tab["ci_upper"]).to_numpy() / 2
        half = (tab["ci_upper"] - tab["ci_lower"]).to_numpy() / 2
        ax.errorbar(grid, mid, yerr=half, fmt="none", color=kwargs.get("color", "C0"),
                    capsize=4, label=str(tab["method"].iloc[0]) if len(tab) else "robust")
        ax.axhline(0.0, color="grey", lw=0.8, ls="--")
        ax.set_xlabel(r"$\bar{M}$" if self.parameter == "Mbar" else "M")
        ax.set_ylabel("robust confidence interval")
        ax.set_title(kwargs.get("title", f"Sensitivity: {self.restriction.replace('_', ' ')}"))
        ax.legend(loc="best", frameon=False)
        return ax


# --------------------------------------------------------------------- helpers
def resolve_l_vec(l_vec: Any, num_post: int) -> np.ndarray:
    """``None``/``"first"``: the first post period; ``"average"``: the mean of the
    post-period effects; ``"last"``; or explicit weights."""
    if l_vec is None or (isinstance(l_vec, str) and l_vec == "first"):
        return np.eye(num_post)[0]
    if isinstance(l_vec, str):
        if l_vec == "average":
            return np.full(num_post, 1.0 / num_post)
        if l_vec == "last":
            return np.eye(num_post)[-1]
        raise OptionError(f"l_vec must be 'first', 'average', 'last' or {num_post} weights, "
                          f"not {l_vec!r}.")
    arr = np.asarray(l_vec, dtype=float).reshape(-1)
    if len(arr) != num_post or not np.all(np.isfinite(arr)) or not arr.any():
        raise OptionError(f"l_vec must have {num_post} finite weights (one per post period), "
                          f"not all zero; got {l_vec!r}.")
    return arr


def _check_inputs(betahat: Any, sigma: Any, num_pre: int, num_post: int,
                  alpha: float) -> tuple[np.ndarray, np.ndarray]:
    b = np.asarray(betahat, dtype=float).reshape(-1)
    S = np.asarray(sigma, dtype=float)
    for name, v in (("num_pre", num_pre), ("num_post", num_post)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise OptionError(f"{name} must be a positive integer, not {v!r}.")
    n = num_pre + num_post
    if len(b) != n:
        raise OptionError(f"betahat has {len(b)} entries but num_pre + num_post = {n}; pass "
                          f"the event-study coefficients without the reference period.")
    if S.shape != (n, n):
        raise OptionError(f"sigma must be {n} x {n} (the covariance of betahat), not {S.shape}.")
    if not (np.all(np.isfinite(b)) and np.all(np.isfinite(S))):
        raise OptionError("betahat and sigma must be finite (no NaN); drop event times "
                          "without an estimate before calling honest_bounds.")
    if not np.allclose(S, S.T, rtol=1e-8, atol=1e-12 * max(1.0, float(np.abs(S).max()))):
        raise OptionError("sigma must be symmetric (a covariance matrix).")
    if np.linalg.eigvalsh((S + S.T) / 2).min() < -1e-10 * max(1.0, float(np.abs(S).max())):
        raise OptionError("sigma is not positive semi-definite.")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise OptionError(f"alpha must be in (0, 1), e.g. 0.05; got {alpha!r}.")
    return b, (S + S.T) / 2


def _check_grid(grid: Any, name: str) -> np.ndarray:
    g = np.atleast_1d(np.asarray(grid, dtype=float))
    if g.ndim != 1 or len(g) == 0 or not np.all(np.isfinite(g)) or (g < 0).any():
        raise OptionError(f"grid must be non-negative finite values of {name}, e.g. "
                          f"[0, 0.5, 1, 1.5, 2]; got {grid!r}.")
    return g


def original_interval(betahat: np.ndarray, sigma: np.ndarray, num_pre: int,
                      l_vec: np.ndarray, alpha: float) -> Estimate:
    """``l' betahat_post`` with its normal interval (parallel trends exactly)."""
    est = float(l_vec @ betahat[num_pre:])
    se = float(np.sqrt(l_vec @ sigma[num_pre:, num_pre:] @ l_vec))
    return Estimate.from_se(est, se, 1 - alpha, label="original")


def _grid_interval(theta: np.ndarray, accept: np.ndarray) -> tuple[float, float]:
    if not accept.any():
        return (np.nan, np.nan)
    return float(theta[accept].min()), float(theta[accept].max())


def _rm_interval(b: np.ndarray, S: np.ndarray, K: int, P: int, l_vec: np.ndarray, Mbar: float,
                 alpha: float, hybrid: str, theta: np.ndarray, rng: Any) -> tuple[float, float]:
    """Union over the location and sign of the largest pre-period change."""
    kappa = alpha / 10
    accept = np.zeros(len(theta), dtype=bool)
    for s in range(-(K - 1), 1):
        for positive in (True, False):
            A = rm_constraints(K, P, Mbar, s, positive)
            rows = _post_rows(A, K)
            prob = _arp.moment_problem(A, np.zeros(len(A)), b, S, K, l_vec, rows)
            lf = _arp.least_favorable_cv(prob, kappa, rng) if hybrid == "LF" else None
            accept |= _arp.accept_grid(prob, theta, alpha, hybrid=hybrid, kappa=kappa, lf_cv=lf)
    return _grid_interval(theta, accept)


def _sd_conditional(b: np.ndarray, S: np.ndarray, K: int, P: int, l_vec: np.ndarray, M: float,
                    alpha: float, hybrid: str, bias: str | None, monotone: str | None,
                    grid_points: int, rng: Any) -> tuple[float, float]:
    A, d = sd_constraints(K, P, M, bias, monotone)
    lo, hi = identified_set(A, d, np.zeros(K + P), K, l_vec)
    sd_theta = float(np.sqrt(l_vec @ S[K:, K:] @ l_vec))
    theta = np.linspace(lo - GRID_HALF_WIDTH_SE * sd_theta, hi + GRID_HALF_WIDTH_SE * sd_theta,
                        grid_points)
    rows = _post_rows(A, K) if P > 1 else None
    prob = _arp.moment_problem(A, d, b, S, K, l_vec, rows)
    kappa = alpha / 10
    lf = _arp.least_favorable_cv(prob, kappa, rng) if hybrid == "LF" else None
    return _grid_interval(theta, _arp.accept_grid(prob, theta, alpha, hybrid=hybrid,
                                                  kappa=kappa, lf_cv=lf))


# ------------------------------------------------------------------ public API
def honest_bounds(
    betahat: Any,
    sigma: Any,
    *,
    num_pre: int,
    num_post: int,
    method: Restriction = "relative_magnitudes",
    grid: Any = None,
    l_vec: Any = None,
    alpha: float = 0.05,
    inference: str | None = None,
    bias: Literal["positive", "negative"] | None = None,
    monotone: Literal["increasing", "decreasing"] | None = None,
    grid_points: int = GRID_POINTS,
    random_state: Any = 0,
) -> HonestBounds:
    """Robust confidence intervals under bounded violations of parallel trends.

    Parameters
    ----------
    betahat : array-like
        Event-study coefficients: ``num_pre`` pre-period ones (earliest first)
        then ``num_post`` post-period ones, all relative to the omitted
        reference period just before treatment.
    sigma : array-like
        Their covariance matrix.
    num_pre, num_post : int
        Numbers of pre- and post-period coefficients.
    method : {"relative_magnitudes", "smoothness"}
        The restriction on the post-period violations (see the module notes).
    grid : array-like, optional
        Values of ``Mbar`` (relative magnitudes; default ``0, 0.5, ..., 2``) or
        ``M`` (smoothness; default 10 values from 0 to the largest change of
        slope among the pre-period estimates).
    l_vec : {"first", "average", "last"} or array-like, optional
        The target ``theta = l' tau_post``; default the first post period.
    alpha : float
        One minus the confidence level.
    inference : str, optional
        ``"C-LF"`` (default for relative magnitudes and for smoothness with a
        sign or monotonicity restriction), ``"conditional"``, or ``"FLCI"``
        (default for plain smoothness).
    bias, monotone : str, optional
        Smoothness only: the post-period violations are ``"positive"`` or
        ``"negative"``, or the violation path is ``"increasing"`` or
        ``"decreasing"``.
    grid_points : int
        Points of the ``theta`` grid on which the tests are inverted.
    random_state : int or numpy.random.Generator
        Seeds the simulated least-favourable critical value (``"C-LF"``).

    Returns
    -------
    HonestBounds

    Notes
    -----
    Relative-magnitude sets are the union over the period and sign of the
    largest pre-period change, as in the authors' package, with the moments
    that involve post periods. Their endpoints are exact to the ``theta``
    grid's spacing (``(upper - lower) / grid_points`` over a range of 40
    standard errors).

    Examples
    --------
    >>> import numpy as np
    >>> from spimpact.did import honest_bounds
    >>> b = np.array([0.01, -0.01, 0.0, 0.5, 0.6])
    >>> S = np.diag([0.01, 0.01, 0.01, 0.01, 0.01])
    >>> hb = honest_bounds(b, S, num_pre=3, num_post=2, method="smoothness", grid=[0, 0.1])
    >>> hb.estimates["ci_lower"].round(3).tolist()
    [0.298, 0.184]
    >>> round(hb.original.ci_lower, 3)
    0.304
    """
    b, S = _check_inputs(betahat, sigma, num_pre, num_post, alpha)
    if method not in METHODS:
        raise OptionError(f"method must be one of {list(METHODS)}, not {method!r}.")
    K, P = int(num_pre), int(num_post)
    lv = resolve_l_vec(l_vec, P)
    # one seed for every least-favourable critical value (as the authors' package
    # re-seeds each), so the grid's intervals differ by the restriction only
    rng = int(np.random.default_rng(random_state).integers(2**31 - 1)) if not isinstance(
        random_state, (int, np.integer)) else int(random_state)
    if bias is not None and bias not in ("positive", "negative"):
        raise OptionError(f"bias must be 'positive', 'negative' or None, not {bias!r}.")
    if monotone is not None and monotone not in ("increasing", "decreasing"):
        raise OptionError(f"monotone must be 'increasing', 'decreasing' or None, not "
                          f"{monotone!r}.")
    if bias is not None and monotone is not None:
        raise OptionError("choose either a sign (bias=) or a shape (monotone=) restriction, "
                          "not both.")
    if (bias or monotone) and method != "smoothness":
        raise OptionError("bias= and monotone= restrict the smoothness sets; use "
                          "method='smoothness'.")
    restricted = bias is not None or monotone is not None
    if inference is None:
        inference = "C-LF" if (method == "relative_magnitudes" or restricted) else "FLCI"
    if inference not in METHODS[method]:
        raise OptionError(f"inference for {method} must be one of {list(METHODS[method])}, "
                          f"not {inference!r}.")
    if inference == "FLCI" and restricted:
        raise OptionError("the FLCI does not use sign or monotonicity restrictions; use "
                          "inference='C-LF' or 'conditional' with bias= or monotone=.")
    if not isinstance(grid_points, (int, np.integer)) or grid_points < 10:
        raise OptionError(f"grid_points must be an integer >= 10, not {grid_points!r}.")
    notes: list[str] = []
    if method == "relative_magnitudes":
        g = _check_grid(np.arange(0, 2.01, 0.5) if grid is None else grid, "Mbar")
        if K < 1:
            raise OptionError("relative magnitudes need at least one pre period.")
        sd_theta = float(np.sqrt(lv @ S[K:, K:] @ lv))
        theta = np.linspace(-GRID_HALF_WIDTH_SE * sd_theta, GRID_HALF_WIDTH_SE * sd_theta,
                            grid_points)
        hyb = "LF" if inference == "C-LF" else "ARP"
        rows = [(_rm_interval(b, S, K, P, lv, float(m), alpha, hyb, theta, rng)) for m in g]
        ends = np.array(rows)
        edge = (np.isclose(ends, theta[0]) | np.isclose(ends, theta[-1])).any(axis=1)
        if edge.any():
            notes.append(f"the interval reaches the edge of the theta grid (+/- "
                         f"{GRID_HALF_WIDTH_SE:g} SE) at Mbar = {g[edge].tolist()}: it is at "
                         f"least that wide.")
    else:
        if grid is None:
            if K < 2:
                g = np.linspace(0, float(np.sqrt(S[0, 0])), 10)
            else:
                second = np.diff(np.r_[b[:K], 0.0], n=2)
                g = np.linspace(0, float(np.abs(second).max()) if second.size else
                                float(np.sqrt(S[0, 0])), 10)
        else:
            g = _check_grid(grid, "M")
        if inference == "FLCI":
            rows = []
            for m in g:
                f = optimal_flci(S, K, lv, float(m), alpha)
                c = float(f.v @ b)
                rows.append((c - f.half_length, c + f.half_length))
            ends = np.array(rows)
        else:
            hyb = "LF" if inference == "C-LF" else "ARP"
            ends = np.array([_sd_conditional(b, S, K, P, lv, float(m), alpha, hyb, bias,
                                             monotone, grid_points, rng) for m in g])
    label = "" if not restricted else f" ({'bias ' + bias if bias else monotone})"
    tab = pd.DataFrame({"M": g, "ci_lower": ends[:, 0], "ci_upper": ends[:, 1],
                        "method": inference, "restriction": method + label})
    if np.isnan(ends).any():
        notes.append("no value of theta is accepted at some grid values (the restriction "
                     "is rejected by the data): their interval is empty (NaN).")
    return HonestBounds(original_interval(b, S, K, lv, alpha), tab, method, lv, alpha,
                        label, tuple(notes))


# ------------------------------------------------------------- posterior draws
def identified_set_draws(draws: np.ndarray, num_pre: int, l_vec: np.ndarray, method: str,
                         M: float) -> tuple[np.ndarray, np.ndarray]:
    """Identified set of ``l' tau_post`` for each draw of ``beta`` (rows), in
    closed form.

    Relative magnitudes: ``l' beta_post -/+ Mbar * m * sum_j |sum_{t >= j} l_t|``
    with ``m`` the draw's largest pre-period change (``delta_0 = 0``).
    Smoothness: the post-period violation extrapolates the last pre-period
    slope ``-beta_{-1}`` linearly, plus second differences of at most ``M``:
    ``l' beta_post - l' (t * s_0) -/+ M * sum_j |sum_{t > j} (t - j) l_t|``.
    (A draw whose pre-periods violate Delta^SD(M) keeps this extrapolated set.)
    """
    K = num_pre
    P = len(l_vec)
    pre = np.concatenate([draws[:, :K], np.zeros((len(draws), 1))], axis=1)
    est = draws[:, K:] @ l_vec
    t = np.arange(1, P + 1, dtype=float)
    if method == "relative_magnitudes":
        m = np.abs(np.diff(pre, axis=1)).max(axis=1)
        tail = np.abs(np.cumsum(l_vec[::-1])[::-1]).sum()  # sum_j |sum_{t >= j} l_t|
        half = M * m * tail
        return est - half, est + half
    slope0 = -draws[:, K - 1]
    center = est - slope0 * float(t @ l_vec)
    j = np.arange(P)
    weights = np.array([((t[t > jj] - jj) * l_vec[t > jj]).sum() for jj in j])
    half = M * np.abs(weights).sum()
    return center - half, center + half


def posterior_bounds(
    draws: Any,
    *,
    num_pre: int,
    num_post: int,
    method: Restriction = "relative_magnitudes",
    grid: Any = None,
    l_vec: Any = None,
    alpha: float = 0.05,
) -> HonestBounds:
    """Robust credible intervals from posterior draws of the event study.

    For each draw of ``beta`` the identified set of ``theta = l' tau_post``
    under the restriction is computed (closed form, see
    :func:`identified_set_draws`); the interval runs from the ``alpha / 2``
    posterior quantile of the sets' lower ends to the ``1 - alpha / 2``
    quantile of their upper ends. ``.original`` summarises the posterior of
    ``l' beta_post`` (equal-tailed interval; ``std_error`` the posterior SD).

    Parameters
    ----------
    draws : array-like, shape (n_draws, num_pre + num_post)
        Posterior draws of the event-study coefficients (chains stacked).
    num_pre, num_post, method, grid, l_vec, alpha
        As in :func:`honest_bounds`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> d = rng.normal([0.0, 0.0, 0.5], 0.05, size=(4000, 3))
    >>> pb = posterior_bounds(d, num_pre=2, num_post=1, grid=[0, 1])
    >>> bool(pb.estimates["ci_lower"].iloc[1] < pb.estimates["ci_lower"].iloc[0])
    True
    """
    D = np.asarray(draws, dtype=float)
    if D.ndim == 3:
        D = D.reshape(-1, D.shape[-1])
    K, P = int(num_pre), int(num_post)
    if D.ndim != 2 or D.shape[1] != K + P or len(D) < 2 or not np.all(np.isfinite(D)):
        raise OptionError(f"draws must be finite, shape (n_draws, {K + P}); got "
                          f"{np.shape(draws)}.")
    if method not in METHODS:
        raise OptionError(f"method must be one of {list(METHODS)}, not {method!r}.")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise OptionError(f"alpha must be in (0, 1), e.g. 0.05; got {alpha!r}.")
    lv = resolve_l_vec(l_vec, P)
    default = np.arange(0, 2.01, 0.5) if method == "relative_magnitudes" else np.linspace(
        0, float(np.abs(np.diff(np.c_[D[:, :K], np.zeros(len(D))].mean(axis=0), n=2)).max())
        if K >= 2 else float(D[:, 0].std()), 10)
    g = _check_grid(default if grid is None else grid,
                    "Mbar" if method == "relative_magnitudes" else "M")
    rows = []
    for m in g:
        lo, hi = identified_set_draws(D, K, lv, method, float(m))
        rows.append((float(np.quantile(lo, alpha / 2)), float(np.quantile(hi, 1 - alpha / 2))))
    ends = np.array(rows)
    theta = D[:, K:] @ lv
    q = np.quantile(theta, [alpha / 2, 1 - alpha / 2])
    post_p = 2 * min(float((theta <= 0).mean()), float((theta >= 0).mean()))
    original = Estimate(float(theta.mean()), float(theta.std(ddof=1)), float(q[0]),
                        float(q[1]), post_p, 1 - alpha, "posterior")
    tab = pd.DataFrame({"M": g, "ci_lower": ends[:, 0], "ci_upper": ends[:, 1],
                        "method": "posterior", "restriction": method})
    return HonestBounds(original, tab, method, lv, alpha, "",
                        ("credible intervals from the posterior draws' identified sets",))
