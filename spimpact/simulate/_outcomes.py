"""Expected outcomes with and without treatment, and coupled draws of both.

A practice-quarter grid is described by flat arrays (``practice``, ``t``);
for each outcome the expected untreated value ``mu0`` and treated value ``mu1``
are computed, then ``Y(0)`` is drawn and ``Y(1)`` is derived from the *same*
``Y(0)`` draw by Poisson thinning (effect < 0) or superposition (effect > 0),
which gives exactly the right distribution with common random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._params import COUNT_OUTCOMES, OUTCOMES, RolloutParams
from ._structure import RandomEffects, Shocks, Structure

__all__ = [
    "Grid", "make_grid", "effect_multiplier", "expected_outcomes", "draw_counts", "couple_counts",
]


@dataclass(frozen=True)
class Grid:
    """The full practice x quarter grid as flat arrays (length ``n_practices * T``)."""

    practice: np.ndarray
    t: np.ndarray
    cohort: np.ndarray  # float period position, inf if never
    list_size: np.ndarray
    fte: np.ndarray | None = None  # link-worker FTE per 10,000 patients (0 before the start)

    def subset(self, keep: np.ndarray) -> Grid:
        """The rows ``keep`` (a boolean mask)."""
        return Grid(self.practice[keep], self.t[keep], self.cohort[keep], self.list_size[keep],
                    None if self.fte is None else self.fte[keep])


def make_grid(p: RolloutParams, s: Structure) -> Grid:
    """Every practice in every quarter, with its cohort and list size.

    Examples
    --------
    >>> import numpy as np
    >>> from spimpact.simulate._structure import england_structure
    >>> p = RolloutParams(n_pcns=10, n_icbs=2)
    >>> g = make_grid(p, england_structure(p, np.random.default_rng(0)))
    >>> len(g.t) % p.n_periods
    0
    """
    T = p.n_periods
    practice = np.repeat(np.arange(s.n_practices), T)
    t = np.tile(np.arange(T), s.n_practices)
    cohort = s.pcn_cohort[s.practice_pcn][practice]
    list_size = np.round(s.list0[practice] * np.exp(p.list_growth * t / 4.0)).astype(np.int64)
    with np.errstate(invalid="ignore"):
        e = t - cohort  # -inf for never recruiting
    on = e >= 0
    plateau = s.pcn_plateau[s.practice_pcn][practice]
    if p.intensity_growth > 0:
        grow = 1.0 - np.exp(-(np.where(on, e, 0.0) + 1.0) / p.intensity_growth)
    else:  # the long-run level from the start quarter on
        grow = np.ones(len(t))
    fte = np.round(np.where(on, plateau * grow, 0.0), 4)
    return Grid(practice=practice, t=t, cohort=cohort, list_size=list_size, fte=fte)


def effect_multiplier(p: RolloutParams, s: Structure, g: Grid) -> np.ndarray:
    """Share of the long-run effect in each row (0 before the effect starts).

    ``e = t - (cohort - anticipation)``; the effect is on for ``e >= 0``.
    Dynamic: ``min(e + 1, ramp) / ramp``. Heterogeneous: ``(1 + c (1 - 2 r)) *
    (1 + h (k - 3) / 2)`` with ``r`` the cohort's relative position in the start
    window and ``k`` the practice's deprivation quintile. With ``intensity_effect = a``
    every shape is also multiplied by ``(1 - a) + a * fte / intensity_mean``.

    Examples
    --------
    >>> import numpy as np
    >>> from spimpact.simulate._structure import england_structure
    >>> p = RolloutParams(n_pcns=10, n_icbs=2, effect="dynamic")
    >>> s = england_structure(p, np.random.default_rng(0))
    >>> m = effect_multiplier(p, s, make_grid(p, s))
    >>> float(m.min()), float(m.max())
    (0.0, 1.0)
    """
    if p.effect == "none":
        return np.zeros(len(g.t))
    with np.errstate(invalid="ignore"):
        e = g.t - (g.cohort - p.anticipation)  # -inf for never treated
    on = e >= 0
    m = on.astype(float)
    if p.effect in ("dynamic", "heterogeneous_dynamic"):
        m = np.where(on, np.minimum(np.where(on, e, 0) + 1, p.ramp) / p.ramp, 0.0)
    if p.effect in ("heterogeneous", "heterogeneous_dynamic"):
        first = (p.first_start - p.start).n
        width = max((p.last_start - p.first_start).n, 1)
        r = np.where(np.isfinite(g.cohort), (g.cohort - first) / width, 0.0)
        k = s.quintile[g.practice]
        m = m * (1 + p.cohort_heterogeneity * (1 - 2 * r))
        m = m * (1 + p.deprivation_heterogeneity * (k - 3) / 2)
    if p.intensity_effect and g.fte is not None:
        a = p.intensity_effect
        m = m * ((1.0 - a) + a * g.fte / p.intensity_mean)
    return m


def _linear_predictor(p: RolloutParams, s: Structure, re: RandomEffects, outcome: str,
                      shocks: Shocks | None = None) -> np.ndarray:
    """Everything but the baseline, exposure and effect, on the outcome's model scale.

    Computed on the (practice, quarter) matrix by broadcasting a practice part,
    a quarter part and their deprivation interactions, plus the shocks; returned
    flattened in grid order (practice-major).
    """
    spec = p.outcomes[outcome]
    periods = p.periods
    years = np.arange(len(periods)) / 4.0
    quarter = np.asarray(periods.quarter)
    covid = np.asarray((periods >= p.covid_start) & (periods <= p.covid_end)) & p.covid
    pcn = s.practice_pcn
    d = s.dep_z
    unit_part = (re.practice[outcome] + re.pcn[outcome][pcn] + re.icb[outcome][s.pcn_icb[pcn]]
                 + spec.deprivation * d + spec.minority * s.minority + spec.rural * s.rural)
    time_part = spec.trend * years + spec.season * np.cos(2 * np.pi * (quarter - 1) / 4)
    covid_part = np.maximum(1 + p.covid_deprivation * d, 0.0)[:, None] * (covid * spec.covid)
    eta = (unit_part[:, None] + time_part[None, :] + covid_part
           + p.deprivation_trend * d[:, None] * years[None, :])
    if shocks is not None:
        eta = eta + shocks.total[outcome]
    return eta.ravel()


def expected_outcomes(
    p: RolloutParams, s: Structure, re: RandomEffects, g: Grid, shocks: Shocks | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{outcome: (mu0, mu1)}``: expected untreated and treated outcome per row.

    Counts: ``mu0 = list_size / 1000 * baseline * exp(eta)``, ``mu1 = mu0 *
    exp(tau)``. Wellbeing: ``mu0 = baseline + eta``, ``mu1 = mu0 + tau``; with
    ``tau = effect_size * effect_multiplier``. The shocks (ICB x quarter, PCN x
    quarter, AR(1) practice errors) are part of ``eta``: the expected outcomes are
    conditional on them, as the truth is the effect in this draw.
    """
    mult = effect_multiplier(p, s, g)
    out = {}
    for o in OUTCOMES:  # four outcomes
        eta = _linear_predictor(p, s, re, o, shocks)
        tau = p.effect_size[o] * mult
        base = p.outcomes[o].baseline
        if o in COUNT_OUTCOMES:
            mu0 = g.list_size / 1000.0 * base * np.exp(eta)
            out[o] = (mu0, mu0 * np.exp(tau))
        else:
            mu0 = base + eta
            out[o] = (mu0, mu0 + tau)
    return out


def draw_counts(
    mu0: np.ndarray,
    mu1: np.ndarray,
    family: str,
    dispersion: float,
    noise: np.random.Generator,
    coupling: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``Y(0)`` and ``Y(1)`` with common random numbers.

    ``Y(0) ~ Poisson(G mu0)`` with ``G ~ Gamma(k, 1/k)`` (negative binomial) or
    ``G = 1`` (Poisson). ``Y(1)`` thins ``Y(0)`` with probability ``mu1/mu0``
    where the effect is negative and adds ``Poisson(G (mu1 - mu0))`` where it is
    positive: ``Y(1) ~ Poisson(G mu1)`` exactly, and ``Y(0)`` does not depend on
    the effect.

    Examples
    --------
    >>> import numpy as np
    >>> y0, y1 = draw_counts(np.full(4, 100.0), np.full(4, 90.0), "poisson", 1.0,
    ...                      np.random.default_rng(0), np.random.default_rng(1))
    >>> bool(np.all(y1 <= y0))
    True
    """
    n = len(mu0)
    gam = noise.gamma(dispersion, 1.0 / dispersion, n) if family == "negbin" else np.ones(n)
    y0 = noise.poisson(gam * mu0)
    return y0, couple_counts(y0, gam * mu0, gam * mu1, coupling)


def couple_counts(
    y0: np.ndarray, lam0: np.ndarray, lam1: np.ndarray, coupling: np.random.Generator
) -> np.ndarray:
    """``Y(1) ~ Poisson(lam1)`` built from ``Y(0) ~ Poisson(lam0)`` with common random numbers.

    Thinning (``Binomial(Y(0), lam1/lam0)``) where ``lam1 < lam0``, superposition
    (``Y(0) + Poisson(lam1 - lam0)``) where ``lam1 > lam0``, ``Y(0)`` elsewhere.
    Works on arrays of any shape.

    Examples
    --------
    >>> import numpy as np
    >>> y0 = np.array([10, 10]); lam = np.array([10.0, 10.0])
    >>> y1 = couple_counts(y0, lam, np.array([5.0, 10.0]), np.random.default_rng(0))
    >>> int(y1[1])
    10
    """
    y1 = np.array(y0, copy=True)
    down = lam1 < lam0
    up = lam1 > lam0
    if down.any():
        y1[down] = coupling.binomial(y0[down], lam1[down] / lam0[down])
    if up.any():
        y1[up] = y0[up] + coupling.poisson(lam1[up] - lam0[up])
    return y1
