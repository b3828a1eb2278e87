"""Patients referred (or not) to a social-prescribing link worker, with confounded referral.

:func:`patient_cohort` draws patients in practices with age, sex, ethnicity,
deprivation, multimorbidity and a latent propensity to consult; monthly GP
consultations around an index month (the referral month, or a pseudo index
month drawn from the same distribution for patients never referred); and a
referral that depends on those characteristics and on prior GP use. The naive
referred-versus-not comparison is therefore badly biased, while adjusting for
the recorded covariates removes the bias (referral depends on observables only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from ..errors import OptionError
from ._common import (
    RandomState,
    check_int,
    check_real,
    expit,
    labels,
    periods_from_ordinals,
    streams,
    to_period,
)
from ._outcomes import couple_counts
from ._params import build_params
from ._truth import TRUTH_COLUMNS, truth_table

if TYPE_CHECKING:
    from ..panel import Panel

__all__ = ["CohortParams", "SimulatedCohort", "patient_cohort", "ETHNICITIES"]

#: Ethnic groups, their population shares, and their effects on the consultation rate and referral.
ETHNICITIES = ("white", "asian", "black", "mixed", "other")
_ETH_SHARE = np.array([0.80, 0.09, 0.045, 0.03, 0.035])
_ETH_RATE = np.array([0.0, 0.10, 0.0, 0.05, -0.05])  # additive, relative to baseline
_ETH_REFERRAL = np.array([0.0, -0.3, -0.2, 0.0, -0.1])
#: Minimum look-back (months) for ``prior_gp``, the consultations in the 12 months before index.
_PRIOR_MONTHS = 12
_COVARIATES = ("age", "sex", "ethnicity", "imd_quintile", "multimorbidity", "prior_gp")


@dataclass(frozen=True)
class CohortParams:
    """Parameters of :func:`patient_cohort`.

    Parameters
    ----------
    n_patients, n_practices : int
        Patients and the practices they are registered with.
    referral_share : float
        Expected share of patients referred to a link worker.
    index_start, index_end : str or Period
        Months over which index dates are staggered (uniformly).
    months_before, months_after : int
        Months observed before the index and from the index month on.
    effect : float
        Log rate ratio of GP consultations for referred patients from the index
        month on (default ``log(0.9)``, a 10% fall).
    effect_growth : float
        Added to the log rate ratio per month since the index (0 = constant).
    baseline_rate : float
        Mean monthly GP consultations of a reference patient (aged 50, male,
        white, quintile 3, no long-term condition); other patients' mean rate
        ``lam_x`` is linear in their characteristics (times a practice effect).
    frailty_precision : float
        Precision ``a`` of each patient's personal consultation rate, drawn
        ``Gamma(shape = a * lam_x, rate = a)`` (mean ``lam_x``, variance
        ``lam_x / a``); small values make a few patients heavy users.
    selection : float
        Strength of selection into referral (0 = referral at random).
    seasonality : float
        Amplitude of the annual cycle of consultations (peak in January).
    sd_practice : float
        SD of practice effects on the log rate.

    Examples
    --------
    >>> CohortParams(n_patients=500).months_before
    12
    """

    n_patients: int = 20000
    n_practices: int = 50
    referral_share: float = 0.12
    index_start: Any = "2021-01"
    index_end: Any = "2022-12"
    months_before: int = 12
    months_after: int = 12
    effect: float = math.log(0.9)
    effect_growth: float = 0.0
    baseline_rate: float = 0.4
    frailty_precision: float = 3.0
    selection: float = 1.0
    seasonality: float = 0.08
    sd_practice: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "index_start", to_period("index_start", self.index_start, "M"))
        object.__setattr__(self, "index_end", to_period("index_end", self.index_end, "M"))
        check_int("n_patients", self.n_patients, 20)
        check_int("n_practices", self.n_practices, 1, self.n_patients)
        check_real("referral_share", self.referral_share, 0.0, 1.0, strict=True)
        if self.index_end < self.index_start:
            raise OptionError(f"index_end ({self.index_end}) must not precede index_start "
                              f"({self.index_start}); swap them.")
        check_int("months_before", self.months_before, 1)
        check_int("months_after", self.months_after, 1)
        check_real("effect", self.effect, -5.0, 5.0)
        check_real("effect_growth", self.effect_growth, -0.5, 0.5)
        check_real("baseline_rate", self.baseline_rate, 0.0, strict=True)
        check_real("frailty_precision", self.frailty_precision, 0.0, strict=True)
        check_real("selection", self.selection, -10.0, 10.0)
        check_real("seasonality", self.seasonality, 0.0, 2.0)
        check_real("sd_practice", self.sd_practice, 0.0)

    @property
    def n_months(self) -> int:
        """Months in each patient's window (``months_before + months_after``)."""
        return self.months_before + self.months_after


def _covariates(p: CohortParams, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Practice, age, sex, ethnicity, IMD quintile, multimorbidity and frailty of each patient."""
    n = p.n_patients
    practice = np.sort(rng.integers(0, p.n_practices, n))
    practice_dep = rng.normal(0.0, 1.0, p.n_practices)
    dep = 0.8 * practice_dep[practice] + 0.6 * rng.normal(size=n)
    rank = np.empty(n)
    rank[np.argsort(dep, kind="stable")] = np.arange(n)
    imd = (1 + np.floor(5 * rank / n)).astype(np.int64)
    age = np.round(18 + 77 * rng.beta(1.6, 2.2, n)).astype(np.int64)
    female = (rng.random(n) < 0.52).astype(np.int64)
    eth_logit = np.log(_ETH_SHARE)[None, :] + np.r_[0.0, 0.35, 0.35, 0.2, 0.2][None, :] * (
        imd[:, None] - 3)
    eth = np.argmax(eth_logit + rng.gumbel(size=(n, len(ETHNICITIES))), axis=1)
    mm = rng.poisson(np.exp(-0.9 + 0.045 * (age - 50) + 0.12 * (imd - 3)))
    mm = np.minimum(mm, 12)
    practice_re = np.exp(rng.normal(0.0, p.sd_practice, p.n_practices))[practice]
    lam_x = p.baseline_rate * practice_re * np.maximum(
        1 + 0.012 * (age - 50) + 0.15 * female + _ETH_RATE[eth] + 0.08 * (imd - 3) + 0.25 * mm,
        0.05)
    rate = rng.gamma(p.frailty_precision * lam_x, 1.0 / p.frailty_precision)
    index = rng.integers(p.index_start.ordinal, p.index_end.ordinal + 1, n)
    return {"practice": practice, "imd": imd, "age": age, "female": female, "eth": eth,
            "mm": mm, "rate": rate, "index": index}


def _monthly_means(p: CohortParams, c: dict[str, np.ndarray], rel: np.ndarray) -> np.ndarray:
    """Untreated expected consultations, (n_patients, len(rel)), month ``index + rel``.

    The personal rate times an annual cycle (``exp(seasonality cos)``, peak in
    January), so a 12-month window has the same seasonal total for every index.
    """
    month_of_year = (c["index"][:, None] + rel[None, :]) % 12  # 0 = January
    season = np.exp(p.seasonality * np.cos(2 * np.pi * month_of_year / 12))
    return c["rate"][:, None] * season


def _referral(
    p: CohortParams, c: dict[str, np.ndarray], prior: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Referral (0/1): older, female, deprived, multimorbid, heavy prior users more often."""
    z_prior = (prior - prior.mean()) / max(prior.std(), 1e-12)
    lin = p.selection * (0.02 * (c["age"] - 50) + 0.15 * c["female"] + 0.3 * (c["imd"] - 3)
                         + 0.3 * c["mm"] + 0.5 * z_prior + _ETH_REFERRAL[c["eth"]])
    a = brentq(lambda x: expit(x + lin).mean() - p.referral_share, -40.0, 40.0)
    return (rng.random(len(lin)) < expit(a + lin)).astype(np.int64)


@dataclass(frozen=True)
class SimulatedCohort:
    """A simulated cohort of patients referred or not to a link worker, with the truth.

    Attributes
    ----------
    patients : DataFrame
        One row per patient: ``patient_id, practice, referred, index_month, age,
        sex, ethnicity, imd_quintile, multimorbidity, prior_gp, outcome_post,
        outcome_pre`` (mean monthly GP consultations after / before the index).
    panel_data : DataFrame
        One row per patient-month of the window: ``patient_id, practice, month,
        rel_month, gp_consultations, referred, cohort`` (the index month if
        referred, NaT otherwise).
    truth : DataFrame
        ``outcome, target, group, time, event_time, subgroup, value, n_units``:
        the true ATT on ``outcome_post`` (``target="overall"``), and for
        ``gp_consultations`` the ATT(g,t) by index month, by ``rel_month``
        (``"event"``), by calendar month and by IMD quintile.
    params : CohortParams

    Examples
    --------
    >>> sim = patient_cohort(n_patients=400, n_practices=5, random_state=0)
    >>> sim.patients.shape[0], sim.panel_data.shape[0]
    (400, 9600)
    """

    patients: pd.DataFrame
    panel_data: pd.DataFrame
    truth: pd.DataFrame
    params: CohortParams

    @property
    def att(self) -> float:
        """The true ATT on ``outcome_post`` (mean over referred of ``mu1 - mu0``)."""
        t = self.truth
        return float(t.loc[(t["outcome"] == "outcome_post") & (t["target"] == "overall"),
                           "value"].iloc[0])

    def cross_section_panel(self, **kwargs: Any) -> Panel:
        """A cross-sectional :class:`~spimpact.Panel` of ``outcome_post`` for matching.

        Examples
        --------
        >>> sim = patient_cohort(n_patients=400, n_practices=5, random_state=0)
        >>> sim.cross_section_panel().kind
        'cross_section'
        """
        from ..panel import Panel

        roles: dict[str, Any] = {"outcome": "outcome_post", "treatment": "referred",
                                 "covariates": _COVARIATES}
        roles.update(kwargs)
        return Panel(self.patients, **roles)

    def long_panel(self, **kwargs: Any) -> Panel:
        """The patient-month :class:`~spimpact.Panel` (cohort = index month, cluster = practice).

        Examples
        --------
        >>> sim = patient_cohort(n_patients=400, n_practices=5, random_state=0)
        >>> sim.long_panel().kind
        'panel'
        """
        from ..panel import Panel

        roles: dict[str, Any] = {"outcome": "gp_consultations", "unit": "patient_id",
                                 "time": "month", "cohort": "cohort", "cluster": "practice"}
        roles.update(kwargs)
        return Panel(self.panel_data, **roles)


def patient_cohort(
    params: CohortParams | None = None,
    *,
    random_state: RandomState = None,
    **options: Any,
) -> SimulatedCohort:
    """Simulate patients referred to a link worker, with confounded referral and known effect.

    Parameters
    ----------
    params : CohortParams, optional
        Parameters (defaults: 20,000 patients in 50 practices, ~12% referred,
        index months 2021-01 to 2022-12, 12 months before and after).
    random_state : int, numpy.random.Generator or None
        Seed; the same seed gives identical output.
    **options
        Any :class:`CohortParams` field, overriding ``params``.

    Returns
    -------
    SimulatedCohort

    Notes
    -----
    Monthly consultations are Poisson around a personal rate (gamma-distributed
    around ``lam_x = baseline_rate * practice effect * (1 + linear terms in age,
    sex, ethnicity, IMD quintile and multimorbidity)``) times an annual cycle.
    Gamma-Poisson conjugacy makes the expected post-index count linear in the
    covariates and ``prior_gp``, so a linear regression adjustment is unbiased.
    ``prior_gp`` is the number of consultations in the 12 months before the
    index; referral is logistic in the covariates and ``prior_gp`` only. For
    referred patients the rate is multiplied by ``exp(effect + effect_growth *
    rel_month)`` from the index month on; the treated counts are drawn from the
    untreated ones by thinning (common random numbers), so ``effect=0`` with the
    same seed gives the untreated potential outcomes.

    Examples
    --------
    >>> sim = patient_cohort(n_patients=2000, n_practices=10, random_state=3)
    >>> bool(sim.att < 0)
    True
    """
    p = build_params(CohortParams, params, options)
    rng = streams(random_state, ("covariates", "noise", "referral", "coupling"))
    c = _covariates(p, rng["covariates"])
    look_back = max(p.months_before, _PRIOR_MONTHS)
    rel = np.arange(-look_back, p.months_after)
    mu0 = _monthly_means(p, c, rel)
    y0 = rng["noise"].poisson(mu0)
    prior = y0[:, look_back - _PRIOR_MONTHS:look_back].sum(axis=1)
    referred = _referral(p, c, prior, rng["referral"])
    post = rel >= 0
    log_rr = np.where(post, p.effect + p.effect_growth * np.maximum(rel, 0), 0.0)
    mu1 = mu0 * np.exp(np.where(referred[:, None] == 1, log_rr[None, :], 0.0))
    y = couple_counts(y0, mu0, mu1, rng["coupling"])
    window = slice(look_back - p.months_before, None)
    return _assemble(p, c, referred, prior, rel[window], y[:, window], mu0[:, window],
                     mu1[:, window])


def _assemble(
    p: CohortParams, c: dict[str, np.ndarray], referred: np.ndarray, prior: np.ndarray,
    rel: np.ndarray, y: np.ndarray, mu0: np.ndarray, mu1: np.ndarray,
) -> SimulatedCohort:
    n, w = y.shape
    post = rel >= 0
    ids = labels("PT", n, 6)
    practice_ids = labels("GP", p.n_practices, 3)[c["practice"]]
    index = periods_from_ordinals(c["index"], "M")
    cohort_ord = np.where(referred == 1, c["index"], np.nan)
    patients = pd.DataFrame({
        "patient_id": ids, "practice": practice_ids, "referred": referred, "index_month": index,
        "age": c["age"], "sex": np.where(c["female"] == 1, "female", "male").astype(object),
        "ethnicity": np.asarray(ETHNICITIES, dtype=object)[c["eth"]],
        "imd_quintile": c["imd"], "multimorbidity": c["mm"], "prior_gp": prior,
        "outcome_post": y[:, post].mean(axis=1), "outcome_pre": y[:, ~post].mean(axis=1),
    })
    month_ord = (c["index"][:, None] + rel[None, :]).ravel()
    panel_data = pd.DataFrame({
        "patient_id": np.repeat(ids, w), "practice": np.repeat(practice_ids, w),
        "month": periods_from_ordinals(month_ord, "M"), "rel_month": np.tile(rel, n),
        "gp_consultations": y.ravel(), "referred": np.repeat(referred, w),
        "cohort": periods_from_ordinals(np.repeat(cohort_ord, w), "M"),
    })
    return SimulatedCohort(patients=patients, panel_data=panel_data,
                           truth=_cohort_truth(c, referred, month_ord, mu1 - mu0, post),
                           params=p)


def _cohort_truth(
    c: dict[str, np.ndarray], referred: np.ndarray, month_ord: np.ndarray, delta: np.ndarray,
    post: np.ndarray,
) -> pd.DataFrame:
    """Truth: ATT on ``outcome_post`` plus the cohort truths of monthly consultations."""
    n, w = delta.shape
    first = int(month_ord.min())
    periods = periods_from_ordinals(np.arange(first, int(month_ord.max()) + 1), "M")
    group = np.where(referred == 1, c["index"] - first, np.inf)
    monthly = truth_table("gp_consultations", np.repeat(np.arange(n), w),
                          np.repeat(group, w), month_ord - first, delta.ravel(), periods,
                          {"imd_quintile": np.repeat(c["imd"], w)})
    ref = referred == 1
    att = float(delta[ref][:, post].mean()) if ref.any() else np.nan
    top = pd.DataFrame({"outcome": ["outcome_post"], "target": ["overall"],
                        "group": pd.PeriodIndex([pd.NaT], freq="M"),
                        "time": pd.PeriodIndex([pd.NaT], freq="M"),
                        "event_time": pd.array([pd.NA], dtype="Int64"), "subgroup": [None],
                        "value": [att], "n_units": [int(ref.sum())]})
    return pd.concat([top, monthly], ignore_index=True).loc[:, list(TRUTH_COLUMNS)]
