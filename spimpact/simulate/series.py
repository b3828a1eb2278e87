"""Monthly series with a known interruption: the data of interrupted time series designs.

:func:`interrupted_series` draws one or several treated series (each with its
own, possibly staggered, interruption) and optional control series. On the log
scale each series is::

    log rate_t = log(baseline) + trend t + Fourier seasonality + e_t
                 + treated * post_t * (level_change + slope_change (t - t0))
                 + shock_t * shock_level_change

with ``e_t`` an AR(1) process. ``count`` is Poisson around ``population / 1000
* rate_t``; ``y`` is a Gaussian outcome on the same log-rate scale (the latent
log rate plus measurement noise), so both carry the same true effects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from ..errors import OptionError
from ._common import (
    RandomState,
    check_int,
    check_real,
    periods_from_ordinals,
    streams,
    to_period,
)
from ._params import build_params

__all__ = ["SeriesParams", "SimulatedSeries", "interrupted_series"]


def _per_series(name: str, value: Any, n: int) -> tuple[float, ...]:
    """A number for every treated series: a scalar is repeated, a sequence must have length n."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != n:
            raise OptionError(f"{name} has {len(value)} values but n_series={n}; give one value "
                              f"per treated series or a single number.")
        vals = tuple(value)
    else:
        vals = (value,) * n
    for v in vals:
        check_real(name, v, -5.0, 5.0)
    return tuple(float(v) for v in vals)


@dataclass(frozen=True)
class SeriesParams:
    """Parameters of :func:`interrupted_series`.

    Parameters
    ----------
    n_series, n_control : int
        Treated series and untreated comparison series.
    start, end : str or Period
        First and last month.
    interruption : str, Period or sequence
        Month of the interruption (first month with the effect), or one per
        treated series.
    stagger : int
        Months added to the interruption of each further treated series (used
        when ``interruption`` is a single month).
    level_change, slope_change : float or sequence
        Effects on the log rate (per treated series if a sequence): a level
        change from the interruption month and a change in slope per month
        since it (0 in the interruption month).
    shock, shock_level_change, shock_months : str or None, float, int or None
        A common shock (COVID-19-like) hitting every series, treated and
        control: its first month, its effect on the log rate, and its length in
        months (None: permanent).
    population, population_sd, population_growth : float
        Mean population of a series, log-SD between series, growth per year.
    baseline : float
        Rate per 1,000 population per month at ``start``.
    trend : float
        Log-rate trend per month.
    seasonality : (float, ...)
        Fourier amplitudes ``(cos1, sin1, cos2, sin2, ...)`` of the annual cycle.
    ar, noise_sd : float
        AR(1) coefficient and innovation SD of the log-rate noise (``ar=0``:
        white noise; ``noise_sd=0``: pure Poisson).
    y_sd : float
        Measurement SD of the Gaussian outcome ``y``.

    Examples
    --------
    >>> SeriesParams(n_series=2, stagger=6).interruptions
    (Period('2019-07', 'M'), Period('2020-01', 'M'))
    """

    n_series: int = 1
    n_control: int = 0
    start: Any = "2015-01"
    end: Any = "2023-12"
    interruption: Any = "2019-07"
    stagger: int = 0
    level_change: Any = math.log(0.9)
    slope_change: Any = 0.0
    shock: Any = None
    shock_level_change: float = math.log(0.75)
    shock_months: int | None = None
    population: float = 250_000.0
    population_sd: float = 0.3
    population_growth: float = 0.008
    baseline: float = 30.0
    trend: float = 0.001
    seasonality: tuple[float, ...] = (0.08, 0.03)
    ar: float = 0.5
    noise_sd: float = 0.03
    y_sd: float = 0.02

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        check_int("n_series", self.n_series, 1)
        check_int("n_control", self.n_control, 0)
        check_int("stagger", self.stagger, 0)
        set_(self, "start", to_period("start", self.start, "M"))
        set_(self, "end", to_period("end", self.end, "M"))
        if self.end <= self.start:
            raise OptionError(f"end ({self.end}) must come after start ({self.start}).")
        set_(self, "interruption", self._interruptions())
        set_(self, "level_change", _per_series("level_change", self.level_change, self.n_series))
        set_(self, "slope_change", _per_series("slope_change", self.slope_change, self.n_series))
        if self.shock is not None:
            set_(self, "shock", to_period("shock", self.shock, "M"))
        if self.shock_months is not None:
            check_int("shock_months", self.shock_months, 1)
        check_real("shock_level_change", self.shock_level_change, -5.0, 5.0)
        check_real("population", self.population, 0.0, strict=True)
        check_real("baseline", self.baseline, 0.0, strict=True)
        for name in ("population_sd", "noise_sd", "y_sd"):
            check_real(name, getattr(self, name), 0.0)
        for name in ("population_growth", "trend"):
            check_real(name, getattr(self, name), -1.0, 1.0)
        check_real("ar", self.ar, -1.0, 1.0, strict=True)
        try:
            seas = tuple(float(a) for a in self.seasonality)
        except TypeError as exc:
            raise OptionError(f"seasonality must be a sequence of Fourier amplitudes "
                              f"(cos1, sin1, ...), not {self.seasonality!r}.") from exc
        set_(self, "seasonality", seas)

    def _interruptions(self) -> tuple[pd.Period, ...]:
        v = self.interruption
        if isinstance(v, Sequence) and not isinstance(v, str):
            if len(v) != self.n_series:
                raise OptionError(f"interruption lists {len(v)} months but n_series="
                                  f"{self.n_series}; give one per treated series.")
            out = tuple(to_period("interruption", x, "M") for x in v)
        else:
            first = to_period("interruption", v, "M")
            out = tuple(first + k * self.stagger for k in range(self.n_series))
        for p in out:
            if not self.start < p <= self.end:
                raise OptionError(f"interruption {p} must fall after start ({self.start}) and "
                                  f"no later than end ({self.end}).")
        return out

    @property
    def interruptions(self) -> tuple[pd.Period, ...]:
        """The interruption month of each treated series."""
        return tuple(self.interruption)

    @property
    def months(self) -> pd.PeriodIndex:
        """The months of every series."""
        return pd.period_range(self.start, self.end, freq="M")


@dataclass(frozen=True)
class SimulatedSeries:
    """Simulated interrupted time series with the true effects.

    Attributes
    ----------
    data : DataFrame
        Long: ``series, month, time (1..T), count, rate (per 1,000), y,
        population, treated_series, post, interruption`` (NaT for controls;
        ``post`` counts from the series' own interruption, for controls from the
        earliest one).
    truth : DataFrame
        ``series, term, interruption, value, rate_ratio``: ``level_change`` and
        ``slope_change`` (log scale; rate ratio ``exp(value)``) per treated
        series and ``"pooled"`` (their mean), and ``shock_level_change`` if a
        shock was simulated (``series="all"``).
    params : SeriesParams

    Examples
    --------
    >>> sim = interrupted_series(random_state=0)
    >>> sim.truth.loc[0, "term"], round(float(sim.truth.loc[0, "rate_ratio"]), 6)
    ('level_change', 0.9)
    """

    data: pd.DataFrame
    truth: pd.DataFrame
    params: SeriesParams


def _latent_log_rate(p: SeriesParams, rng: np.random.Generator) -> np.ndarray:
    """Log rate per 1,000 without effects: (n_series_total, T)."""
    n = p.n_series + p.n_control
    months = p.months
    t = np.arange(len(months))
    moy = np.asarray(months.month) - 1
    season = np.zeros(len(t))
    for k in range(len(p.seasonality) // 2 + len(p.seasonality) % 2):  # a few harmonics
        a = p.seasonality[2 * k]
        b = p.seasonality[2 * k + 1] if 2 * k + 1 < len(p.seasonality) else 0.0
        season += a * np.cos(2 * np.pi * (k + 1) * moy / 12) + b * np.sin(
            2 * np.pi * (k + 1) * moy / 12)
    level = rng.normal(0.0, 0.1, n)
    eps = rng.normal(0.0, p.noise_sd, (n, len(t)))
    eps[:, 0] /= math.sqrt(1 - p.ar**2)  # stationary start
    noise = lfilter([1.0], [1.0, -p.ar], eps, axis=1)
    return math.log(p.baseline) + level[:, None] + p.trend * t[None, :] + season[None, :] + noise


def interrupted_series(
    params: SeriesParams | None = None,
    *,
    random_state: RandomState = None,
    **options: Any,
) -> SimulatedSeries:
    """Simulate monthly series with a known level and slope change at an interruption.

    Parameters
    ----------
    params : SeriesParams, optional
        Parameters (default: one treated series, 2015-01 to 2023-12,
        interruption 2019-07, level change ``log(0.9)``, AR(1) noise 0.5).
    random_state : int, numpy.random.Generator or None
        Seed; the same seed gives identical output.
    **options
        Any :class:`SeriesParams` field, overriding ``params``.

    Returns
    -------
    SimulatedSeries

    Examples
    --------
    >>> sim = interrupted_series(n_series=2, n_control=1, stagger=3, random_state=1)
    >>> [str(p) for p in sim.data.drop_duplicates("series")["interruption"]]
    ['2019-07', '2019-10', 'NaT']
    """
    p = build_params(SeriesParams, params, options)
    rng = streams(random_state, ("latent", "population", "counts", "y"))
    months = p.months
    T, n_tr = len(months), p.n_series
    n = n_tr + p.n_control
    t = np.arange(T)
    log_rate = _latent_log_rate(p, rng["latent"])
    first = months.asi8[0]
    t0 = np.r_[[q.ordinal - first for q in p.interruptions],  # one per treated series
               np.full(p.n_control, min(q.ordinal for q in p.interruptions) - first)]
    treated = np.r_[np.ones(n_tr, bool), np.zeros(p.n_control, bool)]
    post = t[None, :] >= t0[:, None]
    level = np.r_[p.level_change, np.zeros(p.n_control)]
    slope = np.r_[p.slope_change, np.zeros(p.n_control)]
    effect = treated[:, None] * post * (level[:, None] + slope[:, None] * (t[None, :] - t0[:, None]))
    shock = np.zeros(T)
    if p.shock is not None:
        s0 = p.shock.ordinal - first
        end = T if p.shock_months is None else s0 + p.shock_months
        shock[max(s0, 0):max(min(end, T), 0)] = p.shock_level_change
    log_rate = log_rate + effect + shock[None, :]
    pop = np.round(p.population * np.exp(rng["population"].normal(0.0, p.population_sd, n))[:, None]
                   * np.exp(p.population_growth * t[None, :] / 12)).astype(np.int64)
    count = rng["counts"].poisson(pop / 1000.0 * np.exp(log_rate))
    y = log_rate + rng["y"].normal(0.0, p.y_sd, log_rate.shape)
    return SimulatedSeries(data=_series_frame(p, t0, treated, post, count, pop, y),
                           truth=_series_truth(p), params=p)


def _series_frame(
    p: SeriesParams, t0: np.ndarray, treated: np.ndarray, post: np.ndarray, count: np.ndarray,
    pop: np.ndarray, y: np.ndarray,
) -> pd.DataFrame:
    months = p.months
    n, T = count.shape
    names = np.r_[[f"treated{k + 1}" for k in range(p.n_series)],
                  [f"control{k + 1}" for k in range(p.n_control)]].astype(object)
    inter = np.where(treated, months.asi8[0] + t0, np.nan)
    return pd.DataFrame({
        "series": np.repeat(names, T),
        "month": periods_from_ordinals(np.tile(months.asi8, n), "M"),
        "time": np.tile(np.arange(1, T + 1), n),
        "count": count.ravel(),
        "rate": (1000.0 * count / pop).ravel(),
        "y": y.ravel(),
        "population": pop.ravel(),
        "treated_series": np.repeat(treated.astype(np.int64), T),
        "post": post.ravel().astype(np.int64),
        "interruption": periods_from_ordinals(np.repeat(inter, T), "M"),
    })


def _series_truth(p: SeriesParams) -> pd.DataFrame:
    names = [f"treated{k + 1}" for k in range(p.n_series)]
    inter = list(p.interruptions)
    rows = pd.DataFrame({
        "series": [*names, *names, "pooled", "pooled"],
        "term": ["level_change"] * p.n_series + ["slope_change"] * p.n_series
        + ["level_change", "slope_change"],
        "interruption": pd.PeriodIndex([*inter, *inter, pd.NaT, pd.NaT], freq="M"),
        "value": [*p.level_change, *p.slope_change, float(np.mean(p.level_change)),
                  float(np.mean(p.slope_change))],
    })
    if p.shock is not None:
        rows = pd.concat([rows, pd.DataFrame({
            "series": ["all"], "term": ["shock_level_change"],
            "interruption": pd.PeriodIndex([p.shock], freq="M"),
            "value": [p.shock_level_change]})], ignore_index=True)
    return rows.assign(rate_ratio=np.exp(rows["value"].to_numpy()))

