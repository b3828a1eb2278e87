"""Power of the conventional pre-test against linear pre-trends (Roth 2022,
"Pretest with caution").

The usual check of an event study rejects parallel trends when any
pre-period coefficient is individually significant. :func:`pretrend_power`
finds the linear trend (``delta_t = slope * t``, ``t`` the periods from the
reference period, negative before it) that this check detects with a given
probability, and the bias such a trend would put into the post-period
estimates: a trend the pre-test would miss half of the time can still be of
the size of the effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import OptionError

__all__ = ["pretrend_power", "PretrendPower", "pretest_rejection_probability"]


def pretest_rejection_probability(slope: float, sigma_pre: np.ndarray, times: np.ndarray,
                                  alpha: float = 0.05, random_state: Any = 0) -> float:
    """Probability that some pre-period coefficient is significant at ``alpha``
    when ``beta_pre ~ N(slope * times, sigma_pre)`` (a multivariate normal
    rectangle probability, Genz's algorithm)."""
    from scipy import special, stats

    se = np.sqrt(np.diag(sigma_pre))
    c = special.ndtri(1 - alpha / 2)
    corr = sigma_pre / np.outer(se, se)
    mean = slope * times / se
    if len(se) == 1:
        inside = special.ndtr(c - mean[0]) - special.ndtr(-c - mean[0])
        return float(1 - inside)
    inside = stats.multivariate_normal.cdf(
        np.full(len(se), c), mean=mean, cov=corr, allow_singular=True,
        maxpts=20_000 * len(se), abseps=1e-6, releps=1e-6, lower_limit=np.full(len(se), -c),
        rng=np.random.default_rng(random_state))
    return float(1 - inside)


@dataclass(frozen=True)
class PretrendPower:
    """The linear pre-trend detected with the stated power, and what it implies.

    Attributes
    ----------
    slope : float
        Change of the difference in trends per period (positive; the trend of
        the opposite sign is detected with the same power).
    power, alpha : float
        Target power of the pre-test and its per-coefficient level.
    pre : pandas.DataFrame
        ``event_time`` (periods from the reference) and the trend there.
    bias : pandas.DataFrame
        ``event_time`` and the bias ``slope * t`` of each post-period estimate,
        and (when the full covariance is known) ``bias_given_pass``: the mean
        bias among samples that pass the pre-test (Roth's conditional bias),
        by simulation.
    """

    slope: float
    power: float
    alpha: float
    pre: pd.DataFrame
    bias: pd.DataFrame

    def __repr__(self) -> str:
        return (f"<PretrendPower: slope {self.slope:.4g} per period is detected with power "
                f"{self.power:g} (alpha {self.alpha:g})>")


def pretrend_power(
    sigma_pre: Any,
    power: float = 0.8,
    *,
    alpha: float = 0.05,
    pre_times: Any = None,
    post_times: Any = None,
    sigma: Any = None,
    n_sims: int = 100_000,
    random_state: Any = 0,
) -> PretrendPower:
    """The linear pre-trend slope the conventional pre-test detects with
    probability ``power`` (Roth 2022).

    Parameters
    ----------
    sigma_pre : array-like
        Covariance of the ``K`` pre-period event-study coefficients (earliest
        first).
    power : float
        Target rejection probability of the pre-test (e.g. 0.5 or 0.8).
    alpha : float
        Level of each pre-period coefficient's test (the pre-test rejects when
        any one is significant).
    pre_times : array-like, optional
        Periods of the pre-period coefficients counted from the reference
        period (default ``-K, ..., -1``).
    post_times : array-like, optional
        Periods of the post-period coefficients from the reference (default
        ``1, ..., P`` with ``P`` from ``sigma``, or none).
    sigma : array-like, optional
        The full ``(K + P)`` covariance (pre then post): adds the bias given
        that the pre-test passes.
    n_sims : int
        Draws for the conditional bias.
    random_state : int or numpy.random.Generator
        Seeds the rectangle probabilities and the draws.

    Returns
    -------
    PretrendPower

    Examples
    --------
    >>> import numpy as np
    >>> pp = pretrend_power(np.eye(3) * 0.01, power=0.5)
    >>> round(pp.slope, 3)
    0.051
    """
    from scipy import optimize

    S = np.atleast_2d(np.asarray(sigma_pre, dtype=float))
    K = S.shape[0]
    if S.shape != (K, K) or K == 0 or not np.all(np.isfinite(S)) or (np.diag(S) <= 0).any():
        raise OptionError("sigma_pre must be a square covariance matrix of the pre-period "
                          "coefficients with positive variances.")
    if not (isinstance(power, (int, float)) and alpha < power < 1):
        raise OptionError(f"power must be in (alpha, 1), e.g. 0.8; got {power!r}.")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise OptionError(f"alpha must be in (0, 1); got {alpha!r}.")
    t_pre = np.arange(-K, 0, dtype=float) if pre_times is None else np.asarray(
        pre_times, dtype=float).reshape(-1)
    if len(t_pre) != K or (t_pre >= 0).any():
        raise OptionError(f"pre_times must be {K} negative periods from the reference.")
    full = None if sigma is None else np.asarray(sigma, dtype=float)
    P = 0 if full is None else full.shape[0] - K
    t_post = (np.arange(1, P + 1, dtype=float) if post_times is None
              else np.asarray(post_times, dtype=float).reshape(-1))
    if full is not None and (full.shape != (K + P, K + P) or len(t_post) != P):
        raise OptionError("sigma must be the (pre + post) covariance with sigma_pre as its "
                          "top-left block, and post_times one per post period.")
    seed = int(np.random.default_rng(random_state).integers(2**31 - 1)) if not isinstance(
        random_state, (int, np.integer)) else int(random_state)

    def gap(slope: float) -> float:
        return pretest_rejection_probability(slope, S, t_pre, alpha, seed) - power

    hi = 1.0 * float(np.sqrt(np.diag(S)).max())
    while gap(hi) < 0:
        hi *= 2
    slope = float(optimize.brentq(gap, 0.0, hi, xtol=1e-7 * hi, rtol=1e-7))
    pre = pd.DataFrame({"event_time": t_pre, "trend": slope * t_pre})
    bias = pd.DataFrame({"event_time": t_post, "bias": slope * t_post})
    if full is not None and P > 0:
        from scipy import special

        rng = np.random.default_rng(seed)
        mean = slope * np.r_[t_pre, t_post]
        L = np.linalg.cholesky(full + 1e-14 * np.trace(full) / (K + P) * np.eye(K + P))
        draws = mean + rng.standard_normal((int(n_sims), K + P)) @ L.T
        c = special.ndtri(1 - alpha / 2)
        passed = (np.abs(draws[:, :K]) <= c * np.sqrt(np.diag(S))).all(axis=1)
        bias["bias_given_pass"] = (draws[passed, K:].mean(axis=0) if passed.any()
                                   else np.full(P, np.nan))
    return PretrendPower(slope, float(power), float(alpha), pre, bias)
