"""Pure functions building segmented-regression designs on arrays.

Every function takes per-row numpy arrays (time index ``t``, period positions,
indicators) and returns float columns; none touches a Panel or an estimator.
The estimators assemble these columns into a :class:`Design`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import EstimationError
from ._options import Fourier
from ._timeaxis import Interruption

__all__ = [
    "Design",
    "fourier_terms",
    "segment_terms",
    "extra_terms",
    "series_design",
    "controlled_design",
    "check_rank",
]


@dataclass(frozen=True)
class Design:
    """A model matrix with named columns.

    Attributes
    ----------
    X : ndarray, shape (n, k)
    names : tuple of str, length k
    effects : tuple of int
        Columns of the interruption's effect (zeroed for the counterfactual).
    """

    X: np.ndarray
    names: tuple[str, ...]
    effects: tuple[int, ...]

    def counterfactual(self) -> np.ndarray:
        """``X`` with the effect columns set to zero."""
        X = self.X.copy()
        X[:, list(self.effects)] = 0.0
        return X


def fourier_terms(t: np.ndarray, season: Fourier) -> np.ndarray:
    """``sin(2 pi k t / period), cos(2 pi k t / period)`` for ``k = 1..order``.

    Returns
    -------
    ndarray, shape (n, 2 * order), columns in the order of ``season.names``.

    Examples
    --------
    >>> import numpy as np
    >>> fourier_terms(np.array([0.0, 3.0]), Fourier(12, 1)).round(6).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    k = np.arange(1, season.order + 1)
    angle = 2 * np.pi * np.outer(np.asarray(t, dtype=float), k) / season.period
    out = np.empty((len(t), 2 * season.order))
    out[:, 0::2], out[:, 1::2] = np.sin(angle), np.cos(angle)
    return out


def segment_terms(
    t: np.ndarray, t0: np.ndarray | float, origin: int
) -> tuple[np.ndarray, np.ndarray]:
    """Level- and slope-change regressors of an interruption at time ``t0``.

    ``level = 1[t >= t0]``; ``slope = level * (t - t0 + origin)`` (``origin=1``
    counts the first period after the interruption as 1). ``t0`` may be a
    per-row array with ``inf`` for series never interrupted.

    Examples
    --------
    >>> import numpy as np
    >>> lvl, slp = segment_terms(np.arange(35.0, 39.0), 37.0, origin=1)
    >>> lvl.tolist(), slp.tolist()
    ([0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 2.0])
    """
    t = np.asarray(t, dtype=float)
    t0 = np.broadcast_to(np.asarray(t0, dtype=float), t.shape)
    level = (t >= t0).astype(float)
    with np.errstate(invalid="ignore"):
        slope = np.where(level > 0, t - t0 + origin, 0.0)
    return level, slope


def extra_terms(
    t: np.ndarray,
    pos: np.ndarray,
    t_of_pos: np.ndarray,
    extras: Sequence[Interruption],
    slope_change: bool,
    origin: int,
) -> tuple[list[np.ndarray], list[str]]:
    """Columns of the extra interruptions (e.g. COVID-19): a level change from
    each start (ending after ``end`` for a temporary one) and, for permanent
    ones when ``slope_change``, a slope change."""
    cols, names = [], []
    for e in extras:
        on = (pos >= e.start) & ((pos <= e.end) if e.end is not None else True)
        cols.append(on.astype(float))
        names.append(f"level_change[{e.label}]")
        if slope_change and e.end is None:
            cols.append(np.where(on, t - t_of_pos[e.start] + origin, 0.0))
            names.append(f"slope_change[{e.label}]")
    return cols, names


def shared_terms(
    t: np.ndarray,
    pos: np.ndarray,
    t_of_pos: np.ndarray,
    extras: Sequence[Interruption],
    slope_change: bool,
    origin: int,
    season: Fourier | None,
) -> tuple[list[np.ndarray], list[str]]:
    """The terms every ITS design adds after its own: the extra interruptions
    (:func:`extra_terms`), then the Fourier terms of ``season``."""
    cols, names = extra_terms(t, pos, t_of_pos, extras, slope_change, origin)
    if season is not None:
        cols += list(fourier_terms(t, season).T)
        names += list(season.names)
    return cols, names


def _assemble(
    cols: list[np.ndarray],
    names: list[str],
    covariates: np.ndarray | None,
    covariate_names: Sequence[str],
    effect_names: Sequence[str],
) -> Design:
    if covariates is not None and covariates.shape[1]:
        cols += list(covariates.T)
        names += list(covariate_names)
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise EstimationError(f"design terms {dup} appear twice; rename the covariate(s).")
    X = np.column_stack(cols)
    return Design(X, tuple(names), tuple(names.index(n) for n in effect_names if n in names))


def series_design(
    t: np.ndarray,
    pos: np.ndarray,
    t_of_pos: np.ndarray,
    t0: float,
    *,
    slope_change: bool,
    origin: int,
    extras: Sequence[Interruption] = (),
    season: Fourier | None = None,
    covariates: np.ndarray | None = None,
    covariate_names: Sequence[str] = (),
) -> Design:
    """Design of one interrupted series: intercept, trend (``t - t0``), level
    change, optional slope change, extra interruptions, Fourier terms and
    covariates.

    Parameters
    ----------
    t : ndarray, shape (n,)
        Time index of each row.
    pos : ndarray of int, shape (n,)
        Period position of each row.
    t_of_pos : ndarray, shape (n_periods,)
        Time index of each period position.
    t0 : float
        Time index of the interruption (its first affected period).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(1.0, 7.0)
    >>> d = series_design(t, np.arange(6), t, 4.0, slope_change=True, origin=0)
    >>> d.names, d.effects
    (('intercept', 'trend', 'level_change', 'slope_change'), (2, 3))
    """
    level, slope = segment_terms(t, t0, origin)
    cols = [np.ones(len(t)), t - t0, level]
    names = ["intercept", "trend", "level_change"]
    if slope_change:
        cols.append(slope)
        names.append("slope_change")
    scols, snames = shared_terms(t, pos, t_of_pos, extras, slope_change, origin, season)
    return _assemble(cols + scols, names + snames, covariates, covariate_names,
                     ("level_change", "slope_change"))


def controlled_design(
    t: np.ndarray,
    pos: np.ndarray,
    t_of_pos: np.ndarray,
    t0: float,
    unit: np.ndarray,
    unit_labels: Sequence[str],
    treated: np.ndarray,
    *,
    slope_change: bool,
    origin: int,
    extras: Sequence[Interruption] = (),
    season: Fourier | None = None,
    covariates: np.ndarray | None = None,
    covariate_names: Sequence[str] = (),
    period_effects: bool = False,
    n_periods: int | None = None,
    period_labels: Sequence[object] | None = None,
) -> Design:
    """Design of a comparative (controlled) ITS.

    Each series has its own intercept; the comparison series share a trend and
    their own level (and slope) change at the interruption, which absorb any
    shock that hits every series; the treated series add a trend difference
    and the effects ``level_change`` and ``slope_change``: the differences
    between the changes in the treated and in the comparison series. With
    ``period_effects`` the common trend, the comparison changes, extra
    interruptions and seasonality are replaced by one effect per period
    (``period[label]`` for every period but the first).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.tile(np.arange(6.0), 2)
    >>> d = controlled_design(t, t.astype(int), np.arange(6.0), 3.0, np.repeat([0, 1], 6),
    ...                       ["a", "b"], np.repeat([1, 0], 6), slope_change=False, origin=0)
    >>> d.names
    ('intercept[a]', 'intercept[b]', 'trend', 'trend_difference', 'control_level_change', \
'level_change')
    """
    z = np.asarray(treated, dtype=float)
    level, slope = segment_terms(t, t0, origin)
    dummies = (np.asarray(unit)[:, None] == np.arange(len(unit_labels))[None, :]).astype(float)
    cols = list(dummies.T)
    names = [f"intercept[{u}]" for u in unit_labels]
    if period_effects:
        n_periods = int(pos.max()) + 1 if n_periods is None else n_periods
        ks = np.arange(1, n_periods)
        cols += list((np.asarray(pos)[:, None] == ks[None, :]).astype(float).T)
        names += [f"period[{k if period_labels is None else period_labels[int(k)]}]" for k in ks]
        cols.append(z * (t - t0))
        names.append("trend_difference")
    else:
        cols += [t - t0, z * (t - t0), level]
        names += ["trend", "trend_difference", "control_level_change"]
        if slope_change:
            cols.append(slope)
            names.append("control_slope_change")
    cols.append(z * level)
    names.append("level_change")
    if slope_change:
        cols.append(z * slope)
        names.append("slope_change")
    if not period_effects:
        scols, snames = shared_terms(t, pos, t_of_pos, extras, slope_change, origin, season)
        cols += scols
        names += snames
    return _assemble(cols, names, covariates, covariate_names, ("level_change", "slope_change"))


def check_rank(X: np.ndarray, names: Sequence[str], what: str = "the segmented regression") -> None:
    """Raise :class:`EstimationError` naming the terms that make ``X`` rank deficient."""
    k = X.shape[1]
    if X.shape[0] < k:
        raise EstimationError(
            f"{what} has {k} terms but only {X.shape[0]} observations; "
            f"drop terms (seasonality, covariates, extra interruptions)."
        )
    scale = np.sqrt((X**2).sum(axis=0))
    scale[scale == 0] = 1.0
    Xs = X / scale
    if np.linalg.matrix_rank(Xs) == k:
        return
    bad = []
    for j in range(k):  # a handful of terms: find those explained by the others
        others = np.delete(Xs, j, axis=1)
        coef, *_ = np.linalg.lstsq(others, Xs[:, j], rcond=None)
        if np.linalg.norm(Xs[:, j] - others @ coef) < 1e-8:
            bad.append(names[j])
    raise EstimationError(
        f"the terms of {what} are collinear ({', '.join(bad) or 'several terms'}): e.g. an "
        f"extra interruption at the same period as the interruption, a covariate that is a "
        f"trend or a step, or an interruption leaving no period in a segment. Remove one."
    )
