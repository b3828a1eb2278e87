"""Parameters of the England-like PCN rollout simulator (:func:`pcn_rollout`).

Frozen dataclasses, validated on construction: a bad value raises
:class:`~spimpact.errors.OptionError` naming the argument, the value and the fix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from ..errors import OptionError
from ._common import FrozenMap, check_choice, check_int, check_mapping, check_real, to_period

__all__ = ["OutcomeSpec", "RolloutParams", "EffectKind", "Family", "OUTCOMES", "COUNT_OUTCOMES",
           "CLASSIC_ROLLOUT", "LARGE_EFFECT"]

EffectKind = Literal["none", "constant", "dynamic", "heterogeneous", "heterogeneous_dynamic"]
Family = Literal["poisson", "negbin"]
EFFECTS = ("none", "constant", "dynamic", "heterogeneous", "heterogeneous_dynamic")

#: The simulated outcomes, counts first.
COUNT_OUTCOMES = ("gp_consultations", "ae_attendances", "emergency_admissions")
OUTCOMES = (*COUNT_OUTCOMES, "wellbeing")


@dataclass(frozen=True)
class OutcomeSpec:
    """How one outcome's mean is built (log-rate scale for counts, points for wellbeing).

    Parameters
    ----------
    baseline : float
        Counts: rate per 1,000 registered patients per quarter. Wellbeing: mean score.
    trend : float
        Secular trend per year.
    season : float
        Seasonal amplitude: ``season * cos(2 pi (q - 1) / 4)`` for quarter ``q``
        of the year (peaks in Q1, the winter quarter).
    deprivation : float
        Effect of one standard deviation of the IMD score.
    minority : float
        Effect of the ethnic-minority share (0 to 1).
    rural : float
        Effect of being rural.
    covid : float
        Shift during the COVID-19 window, scaled by ``1 + covid_deprivation * d``
        (``d``: standardised IMD score, floored at 0), so deprived areas are hit harder.
    sd : float
        Counts: unused. Wellbeing: residual SD of a practice-quarter mean score.

    Examples
    --------
    >>> OutcomeSpec(baseline=95.0, deprivation=0.12).baseline
    95.0
    """

    baseline: float
    trend: float = 0.0
    season: float = 0.0
    deprivation: float = 0.0
    minority: float = 0.0
    rural: float = 0.0
    covid: float = 0.0
    sd: float = 0.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check_real(f"OutcomeSpec.{f.name}", getattr(self, f.name))
        check_real("OutcomeSpec.sd", self.sd, 0.0)


def _default_outcomes() -> Mapping[str, OutcomeSpec]:
    return FrozenMap({
        "gp_consultations": OutcomeSpec(1300.0, trend=0.015, season=0.05, deprivation=0.06,
                                        minority=0.10, rural=-0.05, covid=-0.25),
        "ae_attendances": OutcomeSpec(95.0, trend=0.02, season=0.04, deprivation=0.15,
                                      minority=0.05, rural=-0.15, covid=-0.35),
        "emergency_admissions": OutcomeSpec(25.0, trend=0.01, season=0.08, deprivation=0.18,
                                            minority=-0.05, rural=0.0, covid=-0.15),
        "wellbeing": OutcomeSpec(7.0, trend=0.0, season=0.05, deprivation=-0.25,
                                 minority=-0.1, rural=0.1, covid=-0.4, sd=0.35),
    })


#: Long-run effects at the reference intensity: diluted, as a service reaching about 1.5% of
#: a practice's list a year can only move its counts by a percent or so (log rate ratios).
_DEFAULT_EFFECT = FrozenMap({"gp_consultations": -0.01, "ae_attendances": -0.015,
                             "emergency_admissions": -0.01, "wellbeing": 0.3})
#: The effects of the first version of the simulator (3% to 4% falls in counts): large
#: enough to see in a small panel, for method demonstrations and power studies.
LARGE_EFFECT = FrozenMap({"gp_consultations": -0.04, "ae_attendances": -0.03,
                          "emergency_admissions": -0.02, "wellbeing": 0.3})


@dataclass(frozen=True)
class RolloutParams:
    """Parameters of :func:`~spimpact.simulate.pcn_rollout` (England-like by default).

    The defaults describe the link-worker programme as it was rolled out: near-universal
    uptake within two years of July 2019, fewer link workers (later starts, lower
    intensity) in deprived urban areas, the North West and London, shocks shared by the
    practices of an ICB and of a PCN, serially correlated practice errors, and diluted
    effects on counts (about 1%). :data:`CLASSIC_ROLLOUT` holds the values that give back
    the first version of the simulator (independent errors, 15% never recruiting, larger
    effects).

    Parameters
    ----------
    n_pcns, n_icbs : int
        Number of PCNs (about 1,250 in England) and ICBs (42).
    practices_per_pcn : (int, int)
        Smallest and largest number of practices in a PCN.
    practices_mean : float
        Mean practices per PCN (England: about 5.2).
    start, end : str or Period
        First and last quarter of the panel.
    first_start, last_start : str or Period
        Window of link-worker start quarters (the PCN's cohort; the Network Contract
        DES funded link workers from July 2019, 2019Q3).
    never_share : float
        Share of PCNs that never recruit in the window (cohort NaT); 3% by default.
    rollout_pace : float
        Front-loading of the rollout: the share of recruiting PCNs starting in
        the ``q``-th quarter of the window is proportional to ``exp(-rollout_pace q)``
        (0 = uniform over the window). The default 0.35 starts about 92% of PCNs by
        2021Q2.
    selection_on_need : float
        How strongly the start quarter and never-recruiting depend on need; 0 = timing
        unrelated to need.
    need_minority, need_urban, need_deprived_urban : float
        Weights of the need index on the (standardised) ethnic-minority share, on being
        urban and on deprivation in urban areas (``max(z, 0) * urban``, ``z`` the
        standardised IMD score), beside deprivation (weight 1). Negative ``need_urban``
        makes rural areas the high-need ones (the first version: -0.5, 0).
    regional_need : float
        Scale of the regional clustering of deprivation, ethnic diversity and rurality
        (the seven NHS England regions; London urban and diverse, the North more
        deprived, the South West rural); 0 = none.
    regional_provision : float
        Scale of the regional provision gap: PCNs in the North West and London start
        later (by 0.75 SD of the start score) and have lower intensity (by a quarter on
        the log scale); 0 = none.
    sd_icb_timing : float
        SD of an ICB effect on the start score (selection of start dates on ICB), in
        units of the start score's noise SD.
    intensity_mean : float
        Mean long-run intensity, link-worker whole-time equivalents per 10,000
        registered patients (``fte_per_10k``; about one FTE per 20,000 patients).
    intensity_growth : float
        Quarters for the intensity to grow towards its long-run level:
        ``fte = plateau * (1 - exp(-(e + 1) / intensity_growth))`` in the ``e``-th
        quarter after the start (0 before it and for PCNs never recruiting). 0 = the
        intensity jumps to its long-run level at the start and stays there (a constant
        dose per PCN, as continuous-dose DiD assumes).
    intensity_need : float
        Lower intensity where need is higher: log-plateau change per SD of need.
    sd_intensity_icb, sd_intensity_pcn : float
        SDs of ICB and PCN variation of the log-plateau intensity.
    intensity_effect : float
        How much the effect depends on intensity, in [0, 1]: the effect is multiplied by
        ``(1 - a) + a * fte_per_10k / intensity_mean``. 0 (default) = a binary
        effect, the same at every intensity; 1 = proportional to intensity, so
        ``effect_size`` is the effect at the mean long-run intensity.
    deprivation_trend : float
        Extra trend per year per SD of IMD score (log-rate for counts, points for
        wellbeing): parallel trends then hold only conditional on deprivation.
    effect : {"none", "constant", "dynamic", "heterogeneous", "heterogeneous_dynamic"}
        Shape of the treatment effect.
    effect_size : mapping of outcome to float
        Long-run effect: log rate ratio for counts, points for wellbeing. A
        partial mapping overrides the defaults (-0.01 GP consultations, -0.015 A&E,
        -0.01 admissions: diluted, about a 1% fall; +0.3 wellbeing).
        :data:`LARGE_EFFECT` holds 3-4 times larger count effects, for power studies
        and demonstrations.
    ramp : int
        Dynamic effects grow linearly over ``ramp`` quarters: ``min(e + 1, ramp) / ramp``.
    cohort_heterogeneity, deprivation_heterogeneity : float
        Heterogeneous effects are multiplied by ``1 + c (1 - 2 r)`` (``r`` in
        [0, 1]: the cohort's position in the start window, early cohorts gain
        more) and by ``1 + h (k - 3) / 2`` (``k``: deprivation quintile).
    anticipation : int
        Quarters before the cohort in which the effect already starts.
    covid : bool
        Add the COVID-19 shock (``covid_start`` to ``covid_end``).
    covid_deprivation : float
        How much harder the shock hits deprived areas.
    family : {"poisson", "negbin"}
        Count distribution; ``dispersion`` is the negative-binomial size
        (variance ``mu + mu^2 / dispersion``).
    unbalanced : bool
        Remove rows for practice closures/mergers (``exit_share``) and late
        openings (``entry_share``).
    sd_practice, sd_pcn, sd_icb : float
        Random-effect SDs on the log-rate scale (wellbeing: times ``wellbeing_re_scale`` points).
    sd_icb_quarter, sd_pcn_quarter : float
        SDs of shocks shared by the practices of an ICB (of a PCN) in a quarter,
        independent across quarters (log-rate scale; wellbeing: times
        ``wellbeing_re_scale`` points).
    sd_practice_ar, ar_practice : float
        Stationary SD and lag-1 autocorrelation of each practice's AR(1) error
        (log-rate scale; wellbeing: times ``wellbeing_re_scale`` points).
    list_median, list_sigma, list_range, list_growth : float
        Practice list sizes: lognormal with this median and log-SD, clipped to
        ``list_range``, growing by ``list_growth`` per year.
    outcomes : mapping of outcome to :class:`OutcomeSpec`
        Baselines, trends, seasonality, covariate and COVID effects.

    Examples
    --------
    >>> p = RolloutParams(n_pcns=20, n_icbs=3)
    >>> p.n_periods, p.effect_size["ae_attendances"]
    (28, -0.015)
    >>> RolloutParams(**CLASSIC_ROLLOUT).never_share
    0.15
    """

    n_pcns: int = 1250
    practices_per_pcn: tuple[int, int] = (2, 10)
    practices_mean: float = 5.2
    n_icbs: int = 42
    start: Any = "2018Q1"
    end: Any = "2024Q4"
    first_start: Any = "2019Q3"
    last_start: Any = "2022Q4"
    never_share: float = 0.03
    rollout_pace: float = 0.35
    selection_on_need: float = 1.0
    need_minority: float = 0.5
    need_urban: float = 0.5
    need_deprived_urban: float = 0.5
    regional_need: float = 1.0
    regional_provision: float = 1.0
    sd_icb_timing: float = 0.5
    intensity_mean: float = 0.5
    intensity_growth: float = 4.0
    intensity_need: float = 0.2
    sd_intensity_icb: float = 0.2
    sd_intensity_pcn: float = 0.25
    intensity_effect: float = 0.0
    deprivation_trend: float = 0.0
    effect: EffectKind = "constant"
    effect_size: Mapping[str, float] = field(default_factory=lambda: _DEFAULT_EFFECT)
    ramp: int = 8
    cohort_heterogeneity: float = 0.5
    deprivation_heterogeneity: float = 0.5
    anticipation: int = 0
    covid: bool = True
    covid_start: Any = "2020Q2"
    covid_end: Any = "2021Q1"
    covid_deprivation: float = 0.5
    family: Family = "poisson"
    dispersion: float = 50.0
    unbalanced: bool = False
    exit_share: float = 0.06
    entry_share: float = 0.02
    sd_practice: float = 0.15
    sd_pcn: float = 0.08
    sd_icb: float = 0.06
    sd_icb_quarter: float = 0.02
    sd_pcn_quarter: float = 0.02
    sd_practice_ar: float = 0.05
    ar_practice: float = 0.6
    wellbeing_re_scale: float = 2.0
    list_median: float = 8000.0
    list_sigma: float = 0.5
    list_range: tuple[float, float] = (1500.0, 40000.0)
    list_growth: float = 0.01
    outcomes: Mapping[str, OutcomeSpec] = field(default_factory=_default_outcomes)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("start", "end", "first_start", "last_start", "covid_start", "covid_end"):
            set_(self, name, to_period(name, getattr(self, name), "Q"))
        set_(self, "effect_size", FrozenMap(
            check_mapping("effect_size", self.effect_size, _DEFAULT_EFFECT)))
        set_(self, "outcomes", FrozenMap(
            check_mapping("outcomes", self.outcomes, _default_outcomes())))
        set_(self, "practices_per_pcn", _pair("practices_per_pcn", self.practices_per_pcn, int))
        set_(self, "list_range", _pair("list_range", self.list_range, float))
        self._validate_sizes()
        self._validate_periods()
        self._validate_model()

    def _validate_sizes(self) -> None:
        check_int("n_pcns", self.n_pcns, 1)
        check_int("n_icbs", self.n_icbs, 1, self.n_pcns)
        lo, hi = self.practices_per_pcn
        if lo < 1 or hi < lo:
            raise OptionError(f"practices_per_pcn must be (min, max) with 1 <= min <= max, not "
                              f"{self.practices_per_pcn!r}; e.g. practices_per_pcn=(2, 10).")
        check_real("practices_mean", self.practices_mean, lo, hi)
        check_real("never_share", self.never_share, 0.0, 1.0)
        if self.never_share >= 1.0:
            raise OptionError("never_share must be below 1 (some PCNs must recruit), not "
                              f"{self.never_share!r}.")
        lo_l, hi_l = self.list_range
        if not 0 < lo_l < hi_l:
            raise OptionError(f"list_range must be (min, max) with 0 < min < max, not "
                              f"{self.list_range!r}.")
        check_real("list_median", self.list_median, lo_l, hi_l)
        check_real("list_sigma", self.list_sigma, 0.0)
        check_real("list_growth", self.list_growth, -0.5, 0.5)

    def _validate_periods(self) -> None:
        if self.end <= self.start:
            raise OptionError(f"end ({self.end}) must come after start ({self.start}).")
        if not self.start < self.first_start <= self.last_start <= self.end:
            raise OptionError(
                f"the start window first_start={self.first_start}..last_start={self.last_start} "
                f"must lie within the panel start={self.start}..end={self.end} and leave at "
                f"least one pre-period: start < first_start <= last_start <= end.")
        if self.covid_end < self.covid_start:
            raise OptionError(f"covid_end ({self.covid_end}) must not precede covid_start "
                              f"({self.covid_start}).")
        check_int("anticipation", self.anticipation, 0)
        first_pos = (self.first_start - self.start).n
        if self.anticipation >= first_pos:
            raise OptionError(
                f"anticipation={self.anticipation} leaves no untreated period before the first "
                f"start {self.first_start}; use anticipation < {first_pos} or an earlier start=.")

    def _validate_model(self) -> None:
        check_choice("effect", self.effect, EFFECTS)
        check_choice("family", self.family, ("poisson", "negbin"))
        for name in ("covid", "unbalanced"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise OptionError(f"{name} must be True or False, not {getattr(self, name)!r}.")
        for k, v in self.effect_size.items():
            check_real(f"effect_size[{k!r}]", v, -5.0, 5.0)
        for k, spec in self.outcomes.items():
            if not isinstance(spec, OutcomeSpec):
                raise OptionError(f"outcomes[{k!r}] must be an OutcomeSpec, not {spec!r}.")
            if k != "wellbeing" and spec.baseline <= 0:
                raise OptionError(f"outcomes[{k!r}].baseline must be a positive rate, "
                                  f"not {spec.baseline!r}.")
        check_int("ramp", self.ramp, 1)
        check_real("dispersion", self.dispersion, 0.0, strict=True)
        check_real("rollout_pace", self.rollout_pace, -2.0, 2.0)
        for name in ("selection_on_need", "deprivation_trend", "covid_deprivation"):
            check_real(name, getattr(self, name))
        for name in ("cohort_heterogeneity", "deprivation_heterogeneity"):
            check_real(name, getattr(self, name), 0.0, 1.0)
        for name in ("exit_share", "entry_share"):
            check_real(name, getattr(self, name), 0.0, 0.5)
        for name in ("sd_practice", "sd_pcn", "sd_icb", "wellbeing_re_scale", "sd_icb_quarter",
                     "sd_pcn_quarter", "sd_practice_ar", "sd_icb_timing", "sd_intensity_icb",
                     "sd_intensity_pcn"):
            check_real(name, getattr(self, name), 0.0)
        check_real("ar_practice", self.ar_practice, -1.0, 1.0, strict=True)
        for name in ("need_minority", "need_urban", "need_deprived_urban", "regional_need",
                     "regional_provision", "intensity_need"):
            check_real(name, getattr(self, name))
        check_real("intensity_mean", self.intensity_mean, 0.0, strict=True)
        check_real("intensity_growth", self.intensity_growth, 0.0)
        check_real("intensity_effect", self.intensity_effect, 0.0, 1.0)

    @property
    def periods(self) -> pd.PeriodIndex:
        """The panel's quarters."""
        return pd.period_range(self.start, self.end, freq="Q")

    @property
    def n_periods(self) -> int:
        """Number of quarters in the panel."""
        return len(self.periods)

    def replace(self, **changes: Any) -> RolloutParams:
        """A copy with some parameters changed (validated again).

        Examples
        --------
        >>> RolloutParams(n_pcns=20, n_icbs=3).replace(effect="none").effect
        'none'
        """
        return build_params(RolloutParams, self, changes)


#: The parameters that give back the first version of :func:`~spimpact.simulate.pcn_rollout`
#: (its benchmark scenarios are built on them): 15% of PCNs never recruiting, starts
#: spread to 2023Q4, rural areas counted as high need, no regional pattern, no shared
#: shocks and independent practice errors, and 2-4% effects on counts. The same seed
#: gives the same numbers as that version (the ``fte_per_10k``, ``region`` and
#: ``intensity_band`` columns are added). ``pcn_rollout(**CLASSIC_ROLLOUT, n_pcns=150)``.
CLASSIC_ROLLOUT: Mapping[str, Any] = FrozenMap({
    "last_start": "2023Q4", "never_share": 0.15, "rollout_pace": 0.2,
    "need_minority": 0.5, "need_urban": -0.5, "need_deprived_urban": 0.0,
    "regional_need": 0.0, "regional_provision": 0.0, "sd_icb_timing": 0.0,
    "sd_icb_quarter": 0.0, "sd_pcn_quarter": 0.0, "sd_practice_ar": 0.0, "ar_practice": 0.0,
    "intensity_effect": 0.0, "effect_size": LARGE_EFFECT,
})


def _pair(name: str, value: Any, kind: type) -> tuple[Any, Any]:
    try:
        lo, hi = value
        out = (kind(lo), kind(hi))
    except (TypeError, ValueError) as exc:
        raise OptionError(f"{name} must be a pair (min, max), not {value!r}.") from exc
    if kind is int and (out[0] != lo or out[1] != hi):
        raise OptionError(f"{name} must hold integers, not {value!r}.")
    return out


def build_params(cls: type, params: Any, options: Mapping[str, Any]) -> Any:
    """``cls(**options)``, or ``params`` with ``options`` replaced; unknown names raise.

    Examples
    --------
    >>> build_params(RolloutParams, None, {"n_pcns": 30, "n_icbs": 2}).n_pcns
    30
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise OptionError(
            f"unknown option(s) {unknown} for {cls.__name__}; valid options are {sorted(names)}.")
    if params is None:
        return cls(**options)
    if not isinstance(params, cls):
        raise OptionError(f"params must be a {cls.__name__}, not {type(params).__name__}.")
    return dataclasses.replace(cast(Any, params), **options) if options else params
