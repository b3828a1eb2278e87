"""Options of the interrupted-time-series estimators, validated in one place.

:class:`Fourier` describes the seasonal terms; :func:`validate_options` checks
every setting shared by :class:`~spimpact.its.SegmentedRegression`,
:class:`~spimpact.its.ControlledITS` and :class:`~spimpact.its.MultiSiteITS`
and returns them as one frozen :class:`ITSOptions`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import OptionError
from ..inference import validate_choice

__all__ = [
    "Fourier",
    "Family",
    "Autocorrelation",
    "FAMILIES",
    "COUNT_FAMILIES",
    "ITSOptions",
    "validate_options",
    "newey_west_lags",
]

Family = Literal["gaussian", "poisson", "quasipoisson", "negbin"]
Autocorrelation = Literal["newey-west", "arma"]

FAMILIES: tuple[str, ...] = ("gaussian", "poisson", "quasipoisson", "negbin")
COUNT_FAMILIES: tuple[str, ...] = ("poisson", "quasipoisson", "negbin")
AUTOCORRELATION: tuple[Any, ...] = (None, "newey-west", "arma")


@dataclass(frozen=True)
class Fourier:
    """Fourier terms for a seasonal cycle: ``sin(2 pi k t / period)`` and
    ``cos(2 pi k t / period)`` for ``k = 1..order``.

    ``t`` is the series' time index (see :class:`SegmentedRegression`): the time
    values for a numeric time column, the period number for pandas Periods
    (so ``t mod 12`` is the month of the year minus one for monthly data).

    Parameters
    ----------
    period : float
        Length of the cycle in time units (12 for months, 4 for quarters,
        52.18 for weeks).
    order : int
        Number of sine/cosine pairs, below ``period / 2``.

    Examples
    --------
    >>> Fourier(12, 2).names
    ('sin1', 'cos1', 'sin2', 'cos2')
    """

    period: float = 12.0
    order: int = 2

    def __post_init__(self) -> None:
        p = self.period
        if (
            isinstance(p, bool)
            or not isinstance(p, (int, float, np.integer, np.floating))
            or not math.isfinite(p)
            or p <= 1
        ):
            raise OptionError(
                f"Fourier period must be a number above 1 (12 for monthly data), not {p!r}."
            )
        k = self.order
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise OptionError(f"Fourier order must be a positive integer (e.g. 2), not {k!r}.")
        if 2 * k >= p:
            raise OptionError(
                f"Fourier order={k} needs period > {2 * k} (got period={p}): at order "
                f"period/2 the sine term vanishes. Use order <= {max(1, math.ceil(p / 2) - 1)}."
            )
        object.__setattr__(self, "period", float(p))
        object.__setattr__(self, "order", int(k))

    @property
    def names(self) -> tuple[str, ...]:
        """Term names, ``sin1, cos1, sin2, cos2, ...``."""
        return tuple(f"{f}{k}" for k in range(1, self.order + 1) for f in ("sin", "cos"))


@dataclass(frozen=True)
class ITSOptions:
    """Validated settings shared by the ITS estimators."""

    family: str
    seasonality: Fourier | None
    slope_change: bool
    autocorrelation: str | None
    maxlags: int | None
    extra_interruptions: tuple[Any, ...]
    confidence: float
    slope_origin: int
    arma_order: tuple[int, int]
    covariates: Sequence[str] | str | None
    small_sample: bool = False

    @property
    def is_count(self) -> bool:
        """Whether the family models counts (log link, exposure offset)."""
        return self.family in COUNT_FAMILIES


def newey_west_lags(n: int) -> int:
    """Newey & West's (1994) automatic lag: ``floor(4 (n / 100) ** (2 / 9))``.

    Examples
    --------
    >>> newey_west_lags(59), newey_west_lags(120)
    (3, 4)
    """
    return int(math.floor(4 * (n / 100) ** (2 / 9)))


def _check_seasonality(value: Any) -> Fourier | None:
    if value is None or isinstance(value, Fourier):
        return value
    raise OptionError(
        f"seasonality must be None or Fourier(period, order), e.g. "
        f"Fourier(12, 2) for monthly data; got {value!r}."
    )


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise OptionError(f"{name} must be an integer >= {minimum}, not {value!r}.")
    return int(value)


def _check_arma(order: Any) -> tuple[int, int]:
    if not (isinstance(order, (tuple, list)) and len(order) == 2):
        raise OptionError(
            f"arma_order must be a pair (p, q) of AR and MA orders, e.g. (1, 0); got {order!r}."
        )
    p, q = (_check_int("arma_order", v, 0) for v in order)
    if p + q == 0:
        raise OptionError("arma_order=(0, 0) has no ARMA terms; use autocorrelation=None.")
    return p, q


def _check_extra(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise OptionError(
            f"extra_interruptions must be a sequence of periods (or (start, end) pairs for a "
            f"temporary shock), e.g. extra_interruptions=['2020-03']; got {value!r}."
        )
    out = []
    for item in value:
        if isinstance(item, (tuple, list)):
            if len(item) != 2:
                raise OptionError(f"a temporary interruption is a (start, end) pair, not {item!r}.")
            out.append(tuple(item))
        else:
            out.append(item)
    return tuple(out)


def validate_options(
    *,
    family: Any,
    seasonality: Any,
    slope_change: Any,
    autocorrelation: Any,
    maxlags: Any,
    extra_interruptions: Any,
    confidence: Any,
    slope_origin: Any,
    arma_order: Any,
    covariates: Any,
    allowed_autocorrelation: tuple[Any, ...] = AUTOCORRELATION,
    allowed_families: tuple[str, ...] = FAMILIES,
    small_sample: Any = False,
) -> ITSOptions:
    """Check every ITS setting; raise :class:`~spimpact.errors.OptionError` naming the
    argument, its value and the fix.

    Examples
    --------
    >>> o = validate_options(family="quasipoisson", seasonality=Fourier(12, 2),
    ...     slope_change=True, autocorrelation="newey-west", maxlags=None,
    ...     extra_interruptions=["2020-03"], confidence=0.95, slope_origin=0,
    ...     arma_order=(1, 0), covariates=None)
    >>> o.is_count, o.extra_interruptions
    (True, ('2020-03',))
    """
    validate_choice("family", family, allowed_families)
    validate_choice("autocorrelation", autocorrelation, allowed_autocorrelation)
    if not isinstance(slope_change, (bool, np.bool_)):
        raise OptionError(f"slope_change must be True or False, not {slope_change!r}.")
    if not isinstance(small_sample, (bool, np.bool_)):
        raise OptionError(f"small_sample must be True or False, not {small_sample!r}.")
    if not (
        isinstance(confidence, (int, float))
        and not isinstance(confidence, bool)
        and 0 < confidence < 1
    ):
        raise OptionError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence!r}.")
    if slope_origin not in (0, 1) or isinstance(slope_origin, bool):
        raise OptionError(
            f"slope_origin must be 0 (the slope-change term is 0 in the first period after the "
            f"interruption) or 1 (it is 1 there, Lopez Bernal et al.'s (time - 36) * smokban); "
            f"got {slope_origin!r}."
        )
    if maxlags is not None:
        maxlags = _check_int("maxlags", maxlags, 0)
        if autocorrelation != "newey-west":
            raise OptionError(
                f"maxlags={maxlags} applies to autocorrelation='newey-west' only "
                f"(got autocorrelation={autocorrelation!r}); drop it or switch."
            )
    arma = _check_arma(arma_order)
    if autocorrelation == "arma" and family != "gaussian":
        raise OptionError(
            f"autocorrelation='arma' models ARMA errors for a Gaussian outcome, but "
            f"family={family!r}; for counts use autocorrelation='newey-west', or model the log "
            f"rate with family='gaussian'."
        )
    if covariates is not None and not isinstance(covariates, (str, Sequence)):
        raise OptionError(
            f"covariates must be None, a list of columns or a formula, not {covariates!r}."
        )
    return ITSOptions(
        family=family,
        seasonality=_check_seasonality(seasonality),
        slope_change=bool(slope_change),
        autocorrelation=autocorrelation,
        maxlags=maxlags,
        extra_interruptions=_check_extra(extra_interruptions),
        confidence=float(confidence),
        slope_origin=int(slope_origin),
        arma_order=arma,
        covariates=covariates,
        small_sample=bool(small_sample),
    )
