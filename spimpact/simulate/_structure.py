"""The England-like structure of a PCN rollout: ICBs, PCNs, practices, areas, start dates.

Everything here is vectorised over PCNs and practices; the only loops are over
the handful of outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import expit
from ._params import OUTCOMES, RolloutParams

__all__ = ["Structure", "RandomEffects", "england_structure", "random_effects", "Shocks",
           "shocks", "icb_regions", "REGIONS", "INTENSITY_BANDS"]

#: Median IMD score of a PCN (England's LSOA mean is about 22, skewed right).
_IMD_MEDIAN = 19.0
#: Log-SDs of the IMD score between ICBs, between PCNs of an ICB, between practices of a PCN.
_IMD_LOGSD = (0.35, 0.35, 0.15)

#: The seven NHS England regions: number of ICBs (42 in all), shifts of the log IMD
#: score, of the logits of the ethnic-minority share and of being rural (each times
#: ``regional_need``), and the provision gap (1: fewer link workers, times
#: ``regional_provision``). The North is more deprived, London urban and diverse, the
#: South West rural and least diverse; link workers are fewer in the North West and London.
REGIONS = ("North East and Yorkshire", "North West", "Midlands", "East of England", "London",
           "South East", "South West")
_REGION_ICBS = np.array([4, 3, 11, 6, 5, 6, 7])
_REGION_DEP = np.array([0.25, 0.25, 0.05, -0.15, 0.10, -0.30, -0.20])
_REGION_MINORITY = np.array([-0.3, -0.2, 0.2, -0.2, 1.4, -0.2, -0.9])
_REGION_RURAL = np.array([0.1, -0.2, 0.1, 0.3, -3.0, 0.2, 0.9])
_REGION_GAP = np.array([0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
#: Start-score delay and log-intensity cut of a region with a provision gap.
_GAP_DELAY, _GAP_INTENSITY = 0.75, 0.25
#: Intensity bands: tertiles of the PCNs' long-run intensity (``none``: never recruiting).
INTENSITY_BANDS = ("low", "middle", "high")


@dataclass(frozen=True)
class Structure:
    """Arrays describing the simulated health system (one entry per PCN or practice).

    Attributes
    ----------
    pcn_icb : (n_pcns,) int
        ICB code of each PCN (sorted, so identifiers nest).
    icb_region : (n_icbs,) int
        Region of each ICB (index into :data:`REGIONS`).
    pcn_need : (n_pcns,) float
        Standardised need index (deprivation, ethnic-minority share, urban, deprived urban).
    pcn_cohort : (n_pcns,) float
        Start position (period index) of each PCN; ``inf`` if never recruiting.
    pcn_plateau : (n_pcns,) float
        Long-run intensity of each PCN (link-worker FTE per 10,000 patients).
    pcn_band : (n_pcns,) int
        Intensity band of each PCN (index into :data:`INTENSITY_BANDS`; -1 never recruiting).
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
    icb_region: np.ndarray
    pcn_need: np.ndarray
    pcn_cohort: np.ndarray
    pcn_plateau: np.ndarray
    pcn_band: np.ndarray
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


def icb_regions(n_icbs: int) -> np.ndarray:
    """Region of each ICB: consecutive ICBs in England's proportions (42 ICBs: the real counts).

    Examples
    --------
    >>> np.bincount(icb_regions(42)).tolist()
    [4, 3, 11, 6, 5, 6, 7]
    """
    cum = np.cumsum(_REGION_ICBS) / _REGION_ICBS.sum()
    return np.minimum(np.searchsorted(cum, (np.arange(n_icbs) + 0.5) / n_icbs), len(REGIONS) - 1)


def _practices_per_pcn(p: RolloutParams, rng: np.random.Generator) -> np.ndarray:
    lo, hi = p.practices_per_pcn
    if hi == lo:
        return np.full(p.n_pcns, lo)
    return lo + rng.binomial(hi - lo, (p.practices_mean - lo) / (hi - lo), size=p.n_pcns)


def _need(p: RolloutParams, z: np.ndarray, logit_min: np.ndarray, rural: np.ndarray
          ) -> np.ndarray:
    """Standardised need: deprivation plus weighted ethnic diversity, urban, deprived urban."""
    urban_z = -_standardise(rural.astype(float))
    need = z + p.need_minority * _standardise(logit_min) + p.need_urban * urban_z
    if p.need_deprived_urban:
        need = need + p.need_deprived_urban * _standardise(np.maximum(z, 0.0) * ~rural)
    return _standardise(need)


def _start_positions(p: RolloutParams, need: np.ndarray, delay: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """Cohort positions: high need (and ``delay``) => later start and more often never (``inf``)."""
    n = len(need)
    s = p.selection_on_need
    never_score = s * need + rng.logistic(size=n) + delay
    n_never = min(int(round(p.never_share * n)), n - 1)  # at least one PCN recruits
    never = np.zeros(n, dtype=bool)
    if n_never:
        never[np.argsort(never_score, kind="stable")[n - n_never:]] = True
    start_score = s * need + rng.normal(size=n) + delay
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


def _plateaus(p: RolloutParams, need: np.ndarray, gap: np.ndarray, pcn_icb: np.ndarray,
              cohort: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Long-run intensity of each PCN (mean ``intensity_mean`` over PCNs) and its band."""
    log_i = (-p.intensity_need * need - _GAP_INTENSITY * gap
             + rng.normal(0.0, p.sd_intensity_icb, p.n_icbs)[pcn_icb]
             + rng.normal(0.0, p.sd_intensity_pcn, p.n_pcns))
    plateau = p.intensity_mean * np.exp(log_i) / np.exp(log_i).mean()
    rec = np.isfinite(cohort)
    band = np.full(p.n_pcns, -1, dtype=np.int64)
    if rec.any():
        rank = np.empty(int(rec.sum()))
        rank[np.argsort(plateau[rec], kind="stable")] = np.arange(rec.sum())
        band[rec] = np.floor(len(INTENSITY_BANDS) * rank / rec.sum()).astype(np.int64)
    return plateau, band


def england_structure(p: RolloutParams, rng: np.random.Generator,
                      rollout: np.random.Generator | None = None) -> Structure:
    """Draw ICBs, PCNs, practices, area characteristics, start quarters and intensities.

    ``rng`` draws the areas and start quarters (the same draws whatever the regional
    and intensity options, so the first version's data are reproducible);
    ``rollout`` draws the ICB timing effects and the intensities.

    Examples
    --------
    >>> import numpy as np
    >>> s = england_structure(RolloutParams(n_pcns=30, n_icbs=3), np.random.default_rng(0))
    >>> int(s.pcn_icb.max()), bool(np.all(np.diff(s.practice_pcn) >= 0))
    (2, True)
    """
    rollout = np.random.default_rng(rng.integers(2**63)) if rollout is None else rollout
    pcn_icb = _assign_icbs(p, rng)
    sizes = _practices_per_pcn(p, rng)
    region = icb_regions(p.n_icbs)[pcn_icb]
    practice_pcn = np.repeat(np.arange(p.n_pcns), sizes)
    n_prac = len(practice_pcn)
    icb_dep = rng.normal(0.0, _IMD_LOGSD[0], p.n_icbs)
    log_imd_pcn = (np.log(_IMD_MEDIAN) + icb_dep[pcn_icb] + rng.normal(0.0, _IMD_LOGSD[1], p.n_pcns)
                   + p.regional_need * _REGION_DEP[region])
    z_pcn = _standardise(log_imd_pcn)
    rural_pcn = rng.random(p.n_pcns) < expit(-1.1 - 0.7 * z_pcn
                                             + p.regional_need * _REGION_RURAL[region])
    icb_min = rng.normal(0.0, 0.6, p.n_icbs)
    logit_min = (-1.9 + 0.6 * z_pcn - 1.2 * rural_pcn + icb_min[pcn_icb]
                 + rng.normal(0.0, 0.5, p.n_pcns) + p.regional_need * _REGION_MINORITY[region])
    need = _need(p, z_pcn, logit_min, rural_pcn)
    gap = _REGION_GAP[region] * p.regional_provision
    delay = _GAP_DELAY * gap
    if p.sd_icb_timing:
        delay = delay + rollout.normal(0.0, p.sd_icb_timing, p.n_icbs)[pcn_icb]
    pcn_cohort = _start_positions(p, need, delay, rng)
    plateau, band = _plateaus(p, need, gap, pcn_icb, pcn_cohort, rollout)
    imd = np.clip(np.exp(log_imd_pcn[practice_pcn] + rng.normal(0.0, _IMD_LOGSD[2], n_prac)),
                  1.0, 95.0)  # the IMD score of an LSOA ranges from about 0.5 to 93
    minority = expit(logit_min[practice_pcn] + rng.normal(0.0, 0.3, n_prac))
    rural = np.where(rng.random(n_prac) < 0.1, ~rural_pcn[practice_pcn], rural_pcn[practice_pcn])
    lo, hi = p.list_range
    list0 = np.clip(np.exp(rng.normal(np.log(p.list_median), p.list_sigma, n_prac)), lo, hi)
    rank = np.empty(n_prac)
    rank[np.argsort(imd, kind="stable")] = np.arange(n_prac)
    quintile = (1 + np.floor(5 * rank / n_prac)).astype(np.int64)
    return Structure(pcn_icb=pcn_icb, icb_region=icb_regions(p.n_icbs), pcn_need=need,
                     pcn_cohort=pcn_cohort, pcn_plateau=plateau, pcn_band=band,
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


@dataclass(frozen=True)
class Shocks:
    """Time-varying errors of each outcome, ``(n_practices, n_periods)`` per outcome (dict).

    The sum of an ICB x quarter shock, a PCN x quarter shock and a practice's AR(1)
    error; zeros when every SD is 0.
    """

    total: dict[str, np.ndarray]


def _ar1(n: int, T: int, sd: float, rho: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` stationary AR(1) series of length ``T`` (SD ``sd``, lag-1 correlation ``rho``)."""
    from scipy.signal import lfilter

    u = rng.normal(0.0, sd, (n, T))
    u[:, 1:] *= np.sqrt(1.0 - rho**2)
    return lfilter([1.0], [1.0, -rho], u, axis=1)


def shocks(p: RolloutParams, s: Structure, rng: np.random.Generator) -> Shocks:
    """Draw ICB x quarter, PCN x quarter and AR(1) practice errors for every outcome.

    Examples
    --------
    >>> import numpy as np
    >>> p = RolloutParams(n_pcns=30, n_icbs=3)
    >>> s = england_structure(p, np.random.default_rng(0))
    >>> sh = shocks(p, s, np.random.default_rng(1))
    >>> sh.total["ae_attendances"].shape == (s.n_practices, p.n_periods)
    True
    """
    T = p.n_periods
    pcn = s.practice_pcn
    out = {}
    for o in OUTCOMES:  # a handful of outcomes
        scale = p.wellbeing_re_scale if o == "wellbeing" else 1.0
        tot = np.zeros((s.n_practices, T))
        if p.sd_icb_quarter:
            tot += rng.normal(0.0, p.sd_icb_quarter * scale, (p.n_icbs, T))[s.pcn_icb[pcn]]
        if p.sd_pcn_quarter:
            tot += rng.normal(0.0, p.sd_pcn_quarter * scale, (p.n_pcns, T))[pcn]
        if p.sd_practice_ar:
            tot += _ar1(s.n_practices, T, p.sd_practice_ar * scale, p.ar_practice, rng)
        out[o] = tot
    return Shocks(out)
