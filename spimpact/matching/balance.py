"""Covariate balance, cobalt-style: the balance table, the love plot and the
propensity-score overlap plot.

Definitions (as R's ``cobalt::bal.tab``):

* **standardised mean difference** ``(mean_treated - mean_control) / sd``,
  where ``sd`` is computed once, in the *unadjusted* sample (with sampling
  weights): the treated group's SD for the ATT, the controls' for the ATC, and
  ``sqrt((sd_t^2 + sd_c^2) / 2)`` for the ATE. A binary variable (any column
  with two distinct values, recoded as an indicator of its larger value) has
  ``sd = sqrt(p (1 - p))``; others the unbiased weighted SD
  ``sqrt(sum w (x - m)^2 / (sum w - sum w^2 / sum w))``. cobalt prints raw
  differences in proportions for binary variables by default
  (``binary = "raw"``); the table here standardises them as cobalt does with
  ``binary = "std"``, and keeps the raw proportions in the mean columns.
  Adjusted and unadjusted SMDs therefore share a denominator and are directly
  comparable.
* **variance ratio** treated / control weighted variances (not defined for
  binary variables: ``NaN``).
* **maximum eCDF difference** ``max_x |F_t(x) - F_c(x)|`` of the weighted
  empirical distribution functions (the Kolmogorov-Smirnov statistic; for a
  binary variable the difference in proportions).

Categorical covariates enter with one indicator per level (every level, as
cobalt shows them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "balance_covariates",
    "balance_table",
    "weighted_mean_var",
    "ecdf_max_diff",
    "love_plot",
    "overlap_plot",
    "SMD_THRESHOLD",
]

#: Integer-valued covariates spanning at most this many values get their eCDFs by counting.
_INTEGER_SPAN = 100_000

#: The conventional threshold of a meaningful imbalance in |SMD| (Austin 2009).
SMD_THRESHOLD = 0.1

_STAT_COLUMNS = {
    "smd": ("smd_before", "smd_after", "standardised mean difference"),
    "var_ratio": ("var_ratio_before", "var_ratio_after", "variance ratio"),
    "ecdf": ("ecdf_max_before", "ecdf_max_after", "maximum eCDF difference"),
}


def balance_covariates(
    frame: pd.DataFrame, columns: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """The covariates to check: numeric (and boolean) columns as they are,
    categorical ones as one 0/1 indicator per level, named ``column[level]``.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"age": [30, 40, 50], "sex": ["f", "m", "f"]})
    >>> balance_covariates(f, ["age", "sex"])[1]
    ['age', 'sex[f]', 'sex[m]']
    """
    mats, names = [], []
    for col in columns:
        s = frame[col]
        if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
            mats.append(s.to_numpy(dtype=float)[:, None])
            names.append(col)
            continue
        codes, levels = pd.factorize(s, sort=True)
        mats.append((codes[:, None] == np.arange(len(levels))[None, :]).astype(float))
        names += [f"{col}[{lvl}]" for lvl in levels]
    if not mats:
        return np.zeros((len(frame), 0)), []
    return np.column_stack(mats), names


def weighted_mean_var(
    X: np.ndarray, w: np.ndarray, binary: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Column means and variances under weights ``w``: ``p (1 - p)`` for binary
    columns, the unbiased weighted variance (cobalt's) for the others.

    Examples
    --------
    >>> import numpy as np
    >>> m, v = weighted_mean_var(np.array([[1.0], [2.0], [3.0]]), np.ones(3), np.array([False]))
    >>> float(m[0]), float(v[0])
    (2.0, 1.0)
    """
    sw = w.sum()
    if sw <= 0:
        k = X.shape[1]
        return np.full(k, np.nan), np.full(k, np.nan)
    mean = w @ X / sw
    ss = w @ (X - mean) ** 2
    denom = sw - (w**2).sum() / sw
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(denom > 0, ss / denom, np.nan)
    return mean, np.where(binary, mean * (1 - mean), var)


def _group_cdf(x: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values of ``x`` and the (weighted) eCDF at each of them."""
    if w is None:
        xs = np.sort(x)
        cum = np.arange(1, len(xs) + 1, dtype=float)
    else:
        o = np.argsort(x)
        xs, cum = x[o], np.cumsum(w[o])
    last = np.r_[xs[1:] != xs[:-1], True]  # the eCDF at a tie counts the whole tie
    return xs[last], cum[last] / cum[-1]


def _cdf_at(xs: np.ndarray, F: np.ndarray, points: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(xs, points, side="right") - 1
    return np.where(pos >= 0, F[np.clip(pos, 0, None)], 0.0)


def ecdf_max_diff(x: np.ndarray, d: np.ndarray, w: np.ndarray) -> float:
    """``max |F_1 - F_0|`` of the weighted eCDFs of ``x`` in groups ``d == 1``
    and ``d == 0`` (units with zero weight left out).

    The difference of two step functions peaks at a data point, so it is
    evaluated at the distinct values of each group: each group is sorted once
    and the other group's eCDF is found by binary search (no pooled sort).

    Examples
    --------
    >>> import numpy as np
    >>> ecdf_max_diff(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 1, 0, 0]), np.ones(4))
    1.0
    """
    x, d, w = np.asarray(x, float), np.asarray(d), np.asarray(w, float)
    t, c = (d == 1) & (w > 0), (d == 0) & (w > 0)
    if not t.any() or not c.any():
        return float("nan")
    lo, hi = float(x.min()), float(x.max())
    if hi - lo <= _INTEGER_SPAN and np.all(x == np.round(x)):
        # integer values in a modest range (ages, counts, quintiles): the eCDFs
        # are cumulative sums of per-value weights, with no sort at all
        code = (x - lo).astype(np.intp)
        f1 = np.cumsum(np.bincount(code[t], weights=w[t], minlength=int(hi - lo) + 1))
        f0 = np.cumsum(np.bincount(code[c], weights=w[c], minlength=int(hi - lo) + 1))
        return float(np.abs(f1 / f1[-1] - f0 / f0[-1]).max())
    groups = []
    for m in (t, c):
        wg = w[m]
        groups.append(_group_cdf(x[m], None if np.all(wg == wg[0]) else wg))
    (x1, F1), (x0, F0) = groups
    gap1 = np.abs(F1 - _cdf_at(x0, F0, x1))
    gap0 = np.abs(_cdf_at(x1, F1, x0) - F0)
    return float(max(gap1.max(), gap0.max()))


def _binarize(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flag two-valued columns (cobalt's binary variables) and recode each to an
    indicator of its larger value, so its mean is a proportion. Linear in rows:
    no sort or ``unique``."""
    X = np.array(X, dtype=float)
    binary = np.zeros(X.shape[1], dtype=bool)
    for j in range(X.shape[1]):
        col = X[:, j]
        if len(col) == 0:
            continue
        a = col[0]
        k = int(np.argmax(col != a))
        if col[k] == a:  # constant column
            continue
        b = col[k]
        if np.all((col == a) | (col == b)):
            binary[j] = True
            X[:, j] = col == max(a, b)
    return X, binary


def _sd_denominator(v1: np.ndarray, v0: np.ndarray, estimand: str) -> np.ndarray:
    if estimand == "ATT":
        var = v1
    elif estimand == "ATC":
        var = v0
    else:
        var = (v1 + v0) / 2
    return np.sqrt(var)


def balance_table(
    X: np.ndarray,
    names: Sequence[str],
    d: np.ndarray,
    w_before: np.ndarray,
    w_after: np.ndarray,
    estimand: str = "ATT",
) -> pd.DataFrame:
    """Balance of each covariate before and after adjustment.

    Parameters
    ----------
    X : ndarray, shape (n, k)
        Covariates (see :func:`balance_covariates`).
    names : sequence of str
    d : ndarray, shape (n,)
        0/1 treatment.
    w_before : ndarray
        Sampling weights (ones when none).
    w_after : ndarray
        Adjustment weights (matching or inverse-probability weights, times the
        sampling weights); zero for units left out.
    estimand : {"ATT", "ATC", "ATE"}
        Chooses the SD of the standardised differences (see the module notes).

    Returns
    -------
    DataFrame
        One row per covariate: ``covariate, type, mean_treated_before,
        mean_control_before, mean_treated_after, mean_control_after,
        smd_before, smd_after, var_ratio_before, var_ratio_after,
        ecdf_max_before, ecdf_max_after``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0], [2.0], [3.0], [4.0]])
    >>> t = balance_table(X, ["x"], np.array([1, 1, 0, 0]), np.ones(4), np.ones(4))
    >>> round(float(t["smd_before"][0]), 3)
    -2.828
    """
    X, binary = _binarize(X)
    d = np.asarray(d)
    w_before, w_after = np.asarray(w_before, float), np.asarray(w_after, float)
    t, c = d == 1, d == 0
    out = {"covariate": list(names), "type": np.where(binary, "binary", "continuous")}
    m1b, v1b = weighted_mean_var(X[t], w_before[t], binary)
    m0b, v0b = weighted_mean_var(X[c], w_before[c], binary)
    m1a, v1a = weighted_mean_var(X[t], w_after[t], binary)
    m0a, v0a = weighted_mean_var(X[c], w_after[c], binary)
    sd = _sd_denominator(v1b, v0b, estimand)
    with np.errstate(invalid="ignore", divide="ignore"):
        out.update(
            mean_treated_before=m1b, mean_control_before=m0b,
            mean_treated_after=m1a, mean_control_after=m0a,
            smd_before=np.where(sd > 0, (m1b - m0b) / sd, np.nan),
            smd_after=np.where(sd > 0, (m1a - m0a) / sd, np.nan),
            var_ratio_before=np.where(binary, np.nan, v1b / v0b),
            var_ratio_after=np.where(binary, np.nan, v1a / v0a),
        )
    ks_before, ks_after = [], []
    for j in range(X.shape[1]):  # one sort per covariate and sample; binary: |p1 - p0|
        if binary[j]:
            ks_before.append(abs(m1b[j] - m0b[j]))
            ks_after.append(abs(m1a[j] - m0a[j]))
        else:
            ks_before.append(ecdf_max_diff(X[:, j], d, w_before))
            ks_after.append(ecdf_max_diff(X[:, j], d, w_after))
    out["ecdf_max_before"] = np.asarray(ks_before, dtype=float)
    out["ecdf_max_after"] = np.asarray(ks_after, dtype=float)
    return pd.DataFrame(out)


def love_plot(
    table: pd.DataFrame,
    ax: Axes | None = None,
    *,
    stat: str = "smd",
    threshold: float | None = SMD_THRESHOLD,
    absolute: bool = True,
    labels: tuple[str, str] = ("before", "after"),
) -> Axes:
    """A love plot: each covariate's balance statistic before and after adjustment.

    Parameters
    ----------
    table : DataFrame
        A :func:`balance_table`.
    stat : {"smd", "var_ratio", "ecdf"}
    threshold : float, optional
        Dashed reference line(s) (0.1 for the absolute SMD; for variance ratios, e.g. 2,
        drawn at ``threshold`` and ``1 / threshold``).
    absolute : bool
        Plot absolute SMDs.

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> X = np.array([[1.0], [2.0], [3.0], [4.0]])
    >>> t = balance_table(X, ["x"], np.array([1, 1, 0, 0]), np.ones(4), np.ones(4))
    >>> love_plot(t).get_xlabel()
    'absolute standardised mean difference'
    """
    from ..errors import OptionError
    from ..plotting import CONTROL_COLOUR, NEUTRAL_COLOUR, TREATED_COLOUR, get_ax

    if stat not in _STAT_COLUMNS:
        raise OptionError(f"stat must be one of {list(_STAT_COLUMNS)}, not {stat!r}.")
    before_col, after_col, title = _STAT_COLUMNS[stat]
    tab = table.loc[table[before_col].notna() | table[after_col].notna()]
    before, after = tab[before_col].to_numpy(float), tab[after_col].to_numpy(float)
    if stat == "smd" and absolute:
        before, after, title = np.abs(before), np.abs(after), f"absolute {title}"
    key = np.nan_to_num(np.abs(before if stat != "var_ratio" else np.log(before)), nan=-1)
    o = np.argsort(key, kind="stable")
    ax = get_ax(ax, (6.5, max(2.5, 0.3 * len(tab) + 1.2)))
    ypos = np.arange(len(tab))
    ax.scatter(before[o], ypos, facecolors="white", edgecolors=TREATED_COLOUR, label=labels[0],
               zorder=3)
    ax.scatter(after[o], ypos, color=CONTROL_COLOUR, label=labels[1], zorder=3)
    ax.set_yticks(ypos, tab["covariate"].to_numpy()[o])
    ref = 1.0 if stat == "var_ratio" else 0.0
    ax.axvline(ref, color=NEUTRAL_COLOUR, lw=0.8)
    if threshold is not None:
        lines = [threshold, 1 / threshold] if stat == "var_ratio" else [threshold]
        if stat == "smd" and not absolute:
            lines.append(-threshold)
        for x in lines:
            ax.axvline(x, color=NEUTRAL_COLOUR, lw=0.8, ls="--")
    ax.set_xlabel(title)
    ax.set_title("Covariate balance")
    ax.legend(frameon=False, fontsize="small", loc="lower right")
    return ax


def overlap_plot(
    score: np.ndarray,
    d: np.ndarray,
    w_after: np.ndarray | None = None,
    ax: Axes | None = None,
    *,
    bins: int = 40,
    after_label: str = "controls, weighted",
) -> Axes:
    """Propensity-score distributions: treated above the axis, controls below
    (all controls outlined, and weighted/matched controls filled when
    ``w_after`` is given).

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = overlap_plot(np.array([0.2, 0.6, 0.3, 0.7]), np.array([0, 1, 0, 1]))
    >>> ax.get_xlabel()
    'propensity score'
    """
    from ..plotting import CONTROL_COLOUR, TREATED_COLOUR, get_ax

    ax = get_ax(ax)
    score, d = np.asarray(score, float), np.asarray(d)
    edges = np.linspace(0.0, 1.0, bins + 1)
    width = np.diff(edges)
    centres = edges[:-1] + width / 2

    def density(mask: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
        h, _ = np.histogram(score[mask], bins=edges, weights=None if w is None else w[mask])
        total = h.sum()
        return h / (total * width) if total > 0 else h.astype(float)

    ax.bar(centres, density(d == 1), width=width, color=TREATED_COLOUR, alpha=0.7,
           label="treated")
    ax.bar(centres, -density(d == 0), width=width, facecolor="none", edgecolor=CONTROL_COLOUR,
           label="controls, all")
    if w_after is not None:
        ax.bar(centres, -density(d == 0, np.asarray(w_after, float)), width=width,
               color=CONTROL_COLOUR, alpha=0.6, label=after_label)
    ax.axhline(0, color="k", lw=0.8)
    ticks = ax.get_yticks()
    ax.set_yticks(ticks, [f"{abs(t):g}" for t in ticks])
    ax.set_xlabel("propensity score")
    ax.set_ylabel("density")
    ax.set_title("Propensity-score overlap")
    ax.legend(frameon=False, fontsize="small")
    return ax
