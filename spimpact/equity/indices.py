"""Concentration and slope indices of inequality.

Both rank people (or areas) by a socioeconomic variable and summarise how a
health variable varies along that ranking. The fractional rank of
observation ``i`` (sorted ascending by ``rank_by``, weights ``w``) is the
share of the weighted population ranked below it plus half its own share;
tied values share the mean of their fractional ranks (O'Donnell, van
Doorslaer, Wagstaff and Lindelow 2008, *Analyzing Health Equity Using
Household Survey Data*, chapters 7-9).

- Concentration index ``C = 2 cov_w(h, R) / mean_w(h)`` (their eq. 8.4),
  with the delta-method standard error of Kakwani, Wagstaff and van
  Doorslaer (1997, eq. 14), which accounts for the estimated ranks (with
  weights, the same linearisation with sampling weights). The
  ``"erreygers"`` correction is ``4 mean / (b - a) * C`` and the
  ``"wagstaff"`` normalisation ``mean (b - a) C / ((b - mean)(mean - a))`` (for a
  binary variable ``C / (1 - mean)``) for a
  variable bounded in ``[a, b]``.
- Slope index of inequality: the weighted least-squares slope of ``h`` on the
  fractional rank (the difference between the top and the bottom of the
  ranking), HC1 standard error; the relative index is the slope over the
  weighted mean, with a delta-method SE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..errors import OptionError
from ..results import Estimate

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["fractional_rank", "concentration_index", "slope_index", "ConcentrationIndex",
           "SlopeIndex"]

Kind = Literal["standard", "erreygers", "wagstaff"]


def _arrays(values: Any, rank_by: Any, weights: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h = np.asarray(values, dtype=float).reshape(-1)
    r = np.asarray(rank_by, dtype=float).reshape(-1)
    w = np.ones_like(h) if weights is None else np.asarray(weights, dtype=float).reshape(-1)
    if not (len(h) == len(r) == len(w)):
        raise OptionError(f"values, rank_by and weights must have one length; got {len(h)}, "
                          f"{len(r)} and {len(w)}.")
    for name, a in (("values", h), ("rank_by", r), ("weights", w)):
        bad = np.flatnonzero(~np.isfinite(a))
        if len(bad):
            raise OptionError(f"{name} has missing or infinite values at positions "
                              f"{bad[:5].tolist()}; drop those rows first (and say so).")
    if (w < 0).any() or w.sum() <= 0:
        raise OptionError("weights must be non-negative with a positive sum.")
    if len(h) < 3:
        raise OptionError("at least 3 observations are needed.")
    return h, r, w


def fractional_rank(rank_by: Any, weights: Any = None) -> np.ndarray:
    """Weighted fractional rank in ``(0, 1)``, ascending, ties sharing their mean rank.

    Examples
    --------
    >>> fractional_rank([3.0, 1.0, 2.0, 2.0]).tolist()
    [0.875, 0.125, 0.5, 0.5]
    """
    r = np.asarray(rank_by, dtype=float).reshape(-1)
    w = np.ones_like(r) if weights is None else np.asarray(weights, dtype=float).reshape(-1)
    order = np.argsort(r, kind="stable")
    cw = np.cumsum(w[order])
    total = cw[-1]
    mid = (cw - 0.5 * w[order]) / total
    _, inv = np.unique(r[order], return_inverse=True)
    tie_w = np.bincount(inv, weights=w[order])
    with np.errstate(invalid="ignore", divide="ignore"):
        tie_mean = np.bincount(inv, weights=w[order] * mid) / tie_w
    # zero-weight ties: plain mean of their midpoints
    plain = np.bincount(inv, weights=mid) / np.bincount(inv)
    tie_mean = np.where(tie_w > 0, tie_mean, plain)
    out = np.empty_like(r)
    out[order] = tie_mean[inv]
    return out


@dataclass(frozen=True)
class ConcentrationIndex:
    """A concentration index with its standard error and concentration curve."""

    estimate: Estimate
    kind: str
    mean: float
    n: int
    #: ``rank`` (cumulative population share) and ``share`` (cumulative share of
    #: the variable), starting at (0, 0)
    curve: pd.DataFrame

    @property
    def std_error(self) -> float:
        return self.estimate.std_error

    def plot(self, ax: Axes | None = None, *, label: str | None = None) -> Axes:
        """The concentration curve against the line of equality."""
        from ..plotting import NEUTRAL_COLOUR, TREATED_COLOUR, get_ax

        ax = get_ax(ax, (5, 5))
        ax.plot([0, 1], [0, 1], color=NEUTRAL_COLOUR, ls="--", lw=0.8, label="equality")
        ax.plot(self.curve["rank"], self.curve["share"], color=TREATED_COLOUR,
                label=label or f"C = {self.estimate.estimate:.3f}")
        ax.set_xlabel("cumulative population share (ranked by rank_by)")
        ax.set_ylabel("cumulative share of the variable")
        ax.set_title("Concentration curve")
        ax.legend(fontsize=8)
        return ax

    def __str__(self) -> str:
        return f"concentration index ({self.kind}): {self.estimate}"


def concentration_index(
    values: Any, rank_by: Any, weights: Any = None, *, kind: Kind = "standard",
    bounds: tuple[float, float] | None = None, confidence: float = 0.95,
) -> ConcentrationIndex:
    """Concentration index of ``values`` by the ranking of ``rank_by``.

    Parameters
    ----------
    values : array
        The health (or provision) variable.
    rank_by : array
        Ranked ascending (pass minus the IMD score to rank from most deprived);
        a negative index means the variable is concentrated at the bottom of
        the ranking.
    weights : array, optional
        Population weights (e.g. list size).
    kind : {"standard", "erreygers", "wagstaff"}
        The corrected indices need ``bounds``.
    bounds : (a, b), optional
        The variable's theoretical range (e.g. (0, 1) for a proportion).
    confidence : float

    Returns
    -------
    ConcentrationIndex

    Examples
    --------
    >>> ci = concentration_index([1, 2, 3, 4], [1, 2, 3, 4])
    >>> round(ci.estimate.estimate, 4)  # 2 cov(h, R) / mean(h)
    0.25
    """
    if kind not in ("standard", "erreygers", "wagstaff"):
        raise OptionError(f"kind must be 'standard', 'erreygers' or 'wagstaff', not {kind!r}.")
    h, r, w = _arrays(values, rank_by, weights)
    R = fractional_rank(r, w)
    W = w.sum()
    mu = float(np.sum(w * h) / W)
    if mu == 0:
        raise OptionError("values have mean zero: the concentration index is undefined.")
    rbar = np.sum(w * R) / W
    C = float(2 * np.sum(w * (h - mu) * (R - rbar)) / W / mu)
    # Kakwani et al. (1997) delta-method variance, with weighted sums
    order = np.argsort(R, kind="stable")
    q = np.cumsum((w * h)[order]) / np.sum(w * h)
    q_prev = np.r_[0.0, q[:-1]]
    a = np.empty_like(h)
    a[order] = (h[order] / mu) * (2 * R[order] - 1 - C) + 2 - q_prev - q
    n = len(h)
    abar = np.sum(w * a) / W  # = 1 + C; linearised with sampling weights
    var = np.sum((w * (a - abar)) ** 2) / W**2
    se = float(np.sqrt(max(var, 0.0)))
    scale = 1.0
    if kind != "standard":
        if bounds is None:
            raise OptionError(f"kind={kind!r} needs bounds=(lower, upper) of the variable, e.g. "
                              f"bounds=(0, 1) for a proportion.")
        lo, hi = (float(b) for b in bounds)
        if not (lo < hi and lo <= h.min() and h.max() <= hi):
            raise OptionError(f"bounds {bounds!r} must contain every value (range "
                              f"{h.min():.4g} to {h.max():.4g}).")
        scale = 4 * mu / (hi - lo) if kind == "erreygers" else \
            mu * (hi - lo) / ((hi - mu) * (mu - lo))
    est = Estimate.from_se(scale * C, abs(scale) * se, confidence,
                           label=f"concentration index ({kind})")
    share = np.r_[0.0, np.cumsum((w * h)[order]) / np.sum(w * h)]
    pop = np.r_[0.0, np.cumsum(w[order]) / W]
    return ConcentrationIndex(est, kind, mu, n, pd.DataFrame({"rank": pop, "share": share}))


@dataclass(frozen=True)
class SlopeIndex:
    """Slope (absolute, ``.estimate``) and relative (``.relative``) indices of inequality."""

    estimate: Estimate
    relative: Estimate
    intercept: float
    mean: float
    n: int

    def __str__(self) -> str:
        return f"SII {self.estimate}; RII {self.relative}"


def slope_index(values: Any, rank_by: Any, weights: Any = None, *,
                confidence: float = 0.95) -> SlopeIndex:
    """Slope index of inequality (SII) and relative index (RII = SII / mean).

    The SII is the weighted least-squares slope of ``values`` on the
    fractional rank of ``rank_by`` (ascending): the modelled difference
    between the top and the bottom of the ranking. Standard errors are HC1;
    the RII's follows by the delta method.

    Examples
    --------
    >>> s = slope_index([1.0, 2.0, 3.0, 4.0, 5.0], [1, 2, 3, 4, 5])
    >>> round(s.estimate.estimate, 6), round(s.relative.estimate, 6)
    (5.0, 1.666667)
    """
    import statsmodels.api as sm

    h, r, w = _arrays(values, rank_by, weights)
    R = fractional_rank(r, w)
    X = np.column_stack([np.ones_like(R), R])
    fit = sm.WLS(h, X, weights=w).fit(cov_type="HC1")
    b = np.asarray(fit.params)
    V = np.asarray(fit.cov_params())
    mu = float(np.sum(w * h) / w.sum())
    rbar = float(np.sum(w * R) / w.sum())
    sii = Estimate.from_se(float(b[1]), float(np.sqrt(V[1, 1])), confidence, label="SII")
    # RII = b1 / (b0 + b1 rbar): the fitted weighted mean equals mu
    denom = b[0] + b[1] * rbar
    grad = np.array([-b[1] / denom**2, (denom - b[1] * rbar) / denom**2])
    rii = Estimate.from_se(float(b[1] / denom), float(np.sqrt(grad @ V @ grad)), confidence,
                           label="RII")
    return SlopeIndex(sii, rii, float(b[0]), mu, len(h))
