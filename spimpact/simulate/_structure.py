"""The England-like structure of a PCN rollout: ICBs, PCNs, practices, areas, start dates.

Everything here is vectorised over PCNs and practices; the only loops are over
the handful of outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import expit
from ._params import OUTCOMES, RolloutParams

__all__ = ["Structure", "RandomEffects", "england_structure", "random_effects"]

#: Median IMD score of a PCN (England's LSOA mean is about 22, skewed right).
_IMD_MEDIAN = 19.0
#: Log-SDs of the IMD score between ICBs, between PCNs of an ICB, between practices of a PCN.
_IMD_LOGSD = (0.35, 0.35, 0.15)


@dataclass(frozen=True)
class Structure:
    """Arrays describing the simulated health system (one entry per PCN or practice).

    Attributes
    ----------
    pcn_icb : (n_pcns,) int
        ICB code of each PCN (sorted, so identifiers nest).
    pcn_need : (n_pcns,) float
        Standardised need index (deprivation, ethnic-minority share, rurality).
    pcn_cohort : (n_pcns,) float
        Start position (period index) of each PCN; ``inf`` if never recruiting.
    practice_pcn : (n_practices,) int
        PCN code of each practice (sorted).
    imd, minority, rural, list0 : (n_practices,)
        Practice IMD score, ethnic-minority share, rurality (0/1), list size at ``start``.
    dep_z : (n_practices,) float
        Standardised IMD score.
    quintile : (n_practices,) int
        Deprivation quintile among practices (5 = most deprived).
    """

    pcn_icb: np.ndarray
    pcn_need: np.ndarray
    pcn_cohort: np.ndarray
    practice_pcn: np.ndarray
    imd: np.ndarray
    minority: np.ndarray
    rural: np.ndarray
    list0: np.ndarray
    dep_z: np.ndarray
    quintile: np.ndarray

    @property
    def n_practices(self) -> int:
        """Number of practices."""
        return len(self.practice_pcn)


def _standardise(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def _assign_icbs(p: RolloutParams, rng: np.random.Generator) -> np.ndarray:
    """Each ICB gets at least one PCN; the rest are spread with Dirichlet shares."""
    share = rng.dirichlet(np.full(p.n_icbs, 4.0))
    extra = rng.choice(p.n_icbs, size=p.n_pcns - p.n_icbs, p=share)
    return np.sort(np.concatenate([np.arange(p.n_icbs), extra]))


def _practices_per_pcn(p: RolloutParams, rng: np.random.Generator) -> np.ndarray:
    lo, hi = p.practices_per_pcn
    if hi == lo:
        return np.full(p.n_pcns, lo)
    return lo + rng.binomial(hi - lo, (p.practices_mean - lo) / (hi - lo), size=p.n_pcns)


def _start_positions(p: RolloutParams, need: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cohort positions: high need => later start and more often never (``inf``)."""
    n = len(need)
    s = p.selection_on_need
    never_score = s * need + rng.logistic(size=n)
    n_never = min(int(round(p.never_share * n)), n - 1)  # at least one PCN recruits
    never = np.zeros(n, dtype=bool)
    if n_never:
        never[np.argsort(never_score, kind="stable")[n - n_never:]] = True
    start_score = s * need + rng.normal(size=n)
    first = (p.first_start - p.start).n
    window = (p.last_start - p.first_start).n + 1
    w = np.exp(-p.rollout_pace * np.arange(window))
    cum = np.cumsum(w) / w.sum()
    rec = np.flatnonzero(~never)
    rank = np.empty(len(rec))
    rank[np.argsort(start_score[rec], kind="stable")] = np.arange(len(rec))
    q = np.minimum(np.searchsorted(cum, (rank + 0.5) / max(len(rec), 1)), window - 1)
    pos = np.full(n, np.inf)
    pos[rec] = first + q
    return pos


def england_structure(p: RolloutParams, rng: np.random.Generator) -> Structure:
    """Draw ICBs, PCNs, practices, area characteristics and start quarters.

    Examples
    --------
    >>> import numpy as np
    >>> s = england_structure(RolloutParams(n_pcns=30, n_icbs=3), np.random.default_rng(0))
    >>> int(s.pcn_icb.max()), bool(np.all(np.diff(s.practice_pcn) >= 0))
    (2, True)
    """
    pcn_icb = _assign_icbs(p, rng)
    sizes = _practices_per_pcn(p, rng)
    practice_pcn = np.repeat(np.arange(p.n_pcns), sizes)
    n_prac = len(practice_pcn)
    icb_dep = rng.normal(0.0, _IMD_LOGSD[0], p.n_icbs)
    log_imd_pcn = np.log(_IMD_MEDIAN) + icb_dep[pcn_icb] + rng.normal(0.0, _IMD_LOGSD[1], p.n_pcns)
    z_pcn = _standardise(log_imd_pcn)
    rural_pcn = rng.random(p.n_pcns) < expit(-1.1 - 0.7 * z_pcn)
    icb_min = rng.normal(0.0, 0.6, p.n_icbs)
    logit_min = (-1.9 + 0.6 * z_pcn - 1.2 * rural_pcn + icb_min[pcn_icb]
                 + rng.normal(0.0, 0.5, p.n_pcns))
    need = _standardise(z_pcn + 0.5 * _standardise(logit_min) + 0.5 * _standardise(
        rural_pcn.astype(float)))
    pcn_cohort = _start_positions(p, need, rng)
    imd = np.clip(np.exp(log_imd_pcn[practice_pcn] + rng.normal(0.0, _IMD_LOGSD[2], n_prac)),
                  1.0, 95.0)  # the IMD score of an LSOA ranges from about 0.5 to 93
    minority = expit(logit_min[practice_pcn] + rng.normal(0.0, 0.3, n_prac))
    rural = np.where(rng.random(n_prac) < 0.1, ~rural_pcn[practice_pcn], rural_pcn[practice_pcn])
    lo, hi = p.list_range
    list0 = np.clip(np.exp(rng.normal(np.log(p.list_median), p.list_sigma, n_prac)), lo, hi)
    rank = np.empty(n_prac)
    rank[np.argsort(imd, kind="stable")] = np.arange(n_prac)
    quintile = (1 + np.floor(5 * rank / n_prac)).astype(np.int64)
    return Structure(pcn_icb=pcn_icb, pcn_need=need, pcn_cohort=pcn_cohort,
                     practice_pcn=practice_pcn, imd=np.round(imd, 2),
                     minority=np.round(minority, 4), rural=rural.astype(np.int64),
                     list0=list0, dep_z=_standardise(np.round(imd, 2)), quintile=quintile)


@dataclass(frozen=True)
class RandomEffects:
    """Practice, PCN and ICB random effects of each outcome (dicts of arrays)."""

    practice: dict[str, np.ndarray]
    pcn: dict[str, np.ndarray]
    icb: dict[str, np.ndarray]


def random_effects(p: RolloutParams, s: Structure, rng: np.random.Generator) -> RandomEffects:
    """Independent normal random effects per outcome and level (wellbeing rescaled).

    Examples
    --------
    >>> import numpy as np
    >>> p = RolloutParams(n_pcns=30, n_icbs=3)
    >>> s = england_structure(p, np.random.default_rng(0))
    >>> re = random_effects(p, s, np.random.default_rng(1))
    >>> re.practice["wellbeing"].shape == (s.n_practices,)
    True
    """
    out: dict[str, dict[str, np.ndarray]] = {"practice": {}, "pcn": {}, "icb": {}}
    for o in OUTCOMES:  # a handful of outcomes
        scale = p.wellbeing_re_scale if o == "wellbeing" else 1.0
        out["practice"][o] = rng.normal(0.0, p.sd_practice * scale, s.n_practices)
        out["pcn"][o] = rng.normal(0.0, p.sd_pcn * scale, p.n_pcns)
        out["icb"][o] = rng.normal(0.0, p.sd_icb * scale, p.n_icbs)
    return RandomEffects(**out)
