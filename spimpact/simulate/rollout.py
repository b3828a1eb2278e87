"""England-like staggered rollout of social-prescribing link workers across PCNs.

:func:`pcn_rollout` draws practices nested in PCNs nested in ICBs, a start
quarter per PCN that depends on need (the most deprived areas are served later
and less), and practice-quarter outcomes with a known treatment effect. The
returned :class:`SimulatedRollout` carries the data, the true effects
(ATT(g,t) and every ``did``-style aggregation) and the parameters.

Potential outcomes with common random numbers: randomness is split into
independent streams (structure, random effects, outcome noise, effect coupling,
attrition), so ``pcn_rollout(effect="none", random_state=s)`` returns exactly
the untreated outcomes ``Y(0)`` of ``pcn_rollout(effect=..., random_state=s)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._common import RandomState, labels, periods_from_ordinals, streams
from ._outcomes import Grid, draw_counts, expected_outcomes, make_grid
from ._params import COUNT_OUTCOMES, OUTCOMES, RolloutParams, build_params
from ._structure import (
    INTENSITY_BANDS,
    REGIONS,
    Structure,
    england_structure,
    random_effects,
    shocks,
)
from ._truth import truth_table

if TYPE_CHECKING:
    from ..panel import Panel

__all__ = ["SimulatedRollout", "pcn_rollout"]

#: Random streams; new ones go last, so the earlier streams keep their seeds.
_STREAMS = ("structure", "effects", "noise", "coupling", "attrition", "rollout", "shocks")
_COVARIATES = ("imd_score", "ethnic_minority_share", "rural")


@dataclass(frozen=True)
class SimulatedRollout:
    """A simulated PCN rollout with its true effects.

    Attributes
    ----------
    data : DataFrame
        One row per practice-quarter: ``practice, pcn, icb, region, quarter, cohort,
        treated, fte_per_10k, intensity_band, list_size, imd_score,
        deprivation_quintile, ethnic_minority_share, rural, gp_consultations,
        ae_attendances, emergency_admissions, wellbeing``. ``fte_per_10k`` is the
        PCN's link-worker whole-time equivalents per 10,000 patients in the quarter
        (0 before its start); ``intensity_band`` the tertile of the PCN's long-run
        intensity among recruiting PCNs (``low``, ``middle``, ``high``; ``none``
        for PCNs never recruiting).
    truth : DataFrame
        True effects: ``outcome, target, group, time, event_time, subgroup,
        value, n_units`` (see :mod:`spimpact.simulate._truth`): ``att_gt``,
        ``event``, ``overall``, ``group`` (cohort), ``calendar``, and ``subgroup``
        rows (the overall effect within ``deprivation_quintile=k``,
        ``intensity_band=low|middle|high``, ``region=...`` and ``rural=0|1``).
        Counts: the difference in *expected* counts per practice-quarter;
        wellbeing: points.
    params : RolloutParams
        The parameters used.
    expected : DataFrame
        Aligned with ``data``: ``<outcome>_mu0`` and ``<outcome>_mu1``, the
        expected outcome without and with treatment in each row.

    Examples
    --------
    >>> sim = pcn_rollout(n_pcns=40, n_icbs=4, random_state=1)
    >>> sim.truth.query("target == 'overall'")["outcome"].tolist()
    ['gp_consultations', 'ae_attendances', 'emergency_admissions', 'wellbeing']
    """

    data: pd.DataFrame
    truth: pd.DataFrame
    params: RolloutParams
    expected: pd.DataFrame

    def panel(self, outcome: str = "ae_attendances", **kwargs: Any) -> Panel:
        """A :class:`spimpact.Panel` of one outcome, with the simulation's roles filled in.

        Parameters
        ----------
        outcome : str
            One of ``gp_consultations, ae_attendances, emergency_admissions, wellbeing``.
        **kwargs
            Passed to :class:`~spimpact.Panel`, overriding the defaults
            (``unit="practice", time="quarter", cohort="cohort"``, ``exposure=
            "list_size"`` for counts, the three area covariates, ``cluster="pcn"``,
            ``levels=("practice", "pcn", "icb")``).

        Examples
        --------
        >>> sim = pcn_rollout(n_pcns=40, n_icbs=4, random_state=1)
        >>> sim.panel("wellbeing").exposure is None
        True
        """
        from ..errors import OptionError
        from ..panel import Panel

        if outcome not in OUTCOMES:
            raise OptionError(f"outcome must be one of {list(OUTCOMES)}, not {outcome!r}.")
        roles: dict[str, Any] = {
            "unit": "practice", "time": "quarter", "cohort": "cohort",
            "exposure": "list_size" if outcome in COUNT_OUTCOMES else None,
            "covariates": _COVARIATES, "cluster": "pcn", "levels": ("practice", "pcn", "icb"),
        }
        roles.update(kwargs)
        return Panel(self.data, outcome=outcome, **roles)

    def true_effect(self, outcome: str = "ae_attendances", target: str = "overall") -> pd.DataFrame:
        """The rows of :attr:`truth` for one outcome and target.

        Examples
        --------
        >>> sim = pcn_rollout(n_pcns=40, n_icbs=4, effect="none", random_state=1)
        >>> float(sim.true_effect("wellbeing")["value"].iloc[0])
        0.0
        """
        t = self.truth
        return t[(t["outcome"] == outcome) & (t["target"] == target)].reset_index(drop=True)


def _attrition_mask(p: RolloutParams, n_prac: int, g: Grid, rng: np.random.Generator) -> np.ndarray:
    """Rows kept: practices closing/merging (gone from a quarter on) or opening late."""
    T = p.n_periods
    u = rng.random(n_prac)
    exit_t = rng.integers(max(1, -(-T // 4)), T, size=n_prac)  # in [ceil(T/4), T-1]
    entry_t = rng.integers(1, max(2, T - T // 4), size=n_prac)
    if not p.unbalanced:
        return np.ones(len(g.t), dtype=bool)
    exits = u < p.exit_share
    entries = (u >= p.exit_share) & (u < p.exit_share + p.entry_share)
    gone = exits[g.practice] & (g.t >= exit_t[g.practice])
    late = entries[g.practice] & (g.t < entry_t[g.practice])
    return ~(gone | late)


def _subgroups(s: Structure, practice: np.ndarray) -> dict[str, Any]:
    """Unit-level subgroups of the truth table, per row (categoricals: no factorising)."""
    pcn = s.practice_pcn[practice]
    return {"deprivation_quintile": s.quintile[practice], "intensity_band": _bands(s, pcn),
            "region": _regions(s, pcn), "rural": s.rural[practice]}


def _bands(s: Structure, pcn: np.ndarray) -> pd.Categorical:
    """Intensity band of each row's PCN (``none``: never recruiting)."""
    code = s.pcn_band[pcn]
    return pd.Categorical.from_codes(np.where(code < 0, len(INTENSITY_BANDS), code),
                                     [*INTENSITY_BANDS, "none"])


def _regions(s: Structure, pcn: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(s.icb_region[s.pcn_icb[pcn]], list(REGIONS))


def _frame(p: RolloutParams, s: Structure, g: Grid, outcomes: dict[str, np.ndarray]) -> pd.DataFrame:
    periods = p.periods
    n_prac = s.n_practices
    prac_id = labels("P", n_prac, 5)
    pcn_id = labels("PCN", p.n_pcns, 4)
    icb_id = labels("ICB", p.n_icbs, 2)
    pcn = s.practice_pcn[g.practice]
    cohort_ord = np.where(np.isfinite(g.cohort), periods.asi8[0] + np.nan_to_num(g.cohort, posinf=0),
                          np.nan)
    quarter = periods_from_ordinals(periods.asi8[g.t], "Q")
    cohort = periods_from_ordinals(cohort_ord, "Q")
    cols: dict[str, Any] = {
        "practice": prac_id[g.practice], "pcn": pcn_id[pcn], "icb": icb_id[s.pcn_icb[pcn]],
        "region": _regions(s, pcn),
        "quarter": quarter, "cohort": cohort,
        "treated": (g.t >= g.cohort).astype(np.int64), "fte_per_10k": g.fte,
        "intensity_band": _bands(s, pcn), "list_size": g.list_size,
        "imd_score": s.imd[g.practice], "deprivation_quintile": s.quintile[g.practice],
        "ethnic_minority_share": s.minority[g.practice], "rural": s.rural[g.practice],
    }
    cols.update(outcomes)
    return pd.DataFrame(cols)


def pcn_rollout(
    params: RolloutParams | None = None,
    *,
    random_state: RandomState = None,
    **options: Any,
) -> SimulatedRollout:
    """Simulate an England-like staggered rollout of link workers across PCNs.

    Parameters
    ----------
    params : RolloutParams, optional
        Parameters; defaults to ``RolloutParams()`` (England-sized: ~1,250 PCNs,
        ~6,500 practices, 42 ICBs, 2018Q1-2024Q4).
    random_state : int, numpy.random.Generator or None
        Seed; the same seed gives identical output.
    **options
        Any :class:`RolloutParams` field, overriding ``params`` (e.g.
        ``n_pcns=200, effect="dynamic", covid=False``).

    Returns
    -------
    SimulatedRollout

    Raises
    ------
    OptionError
        For an unknown option or an invalid value.

    Notes
    -----
    Counts per practice-quarter are Poisson (or negative binomial) with mean
    ``list_size / 1000 * baseline * exp(practice + PCN + ICB effects + trend +
    season + covariate effects + COVID shock + deprivation trend + ICB x quarter
    and PCN x quarter shocks + AR(1) practice error + effect)``; wellbeing is
    Gaussian with the same additive terms in points. The start quarter is shared
    by a PCN's practices and is later, and more often never, for PCNs of higher
    need (deprivation, ethnic diversity, urban and deprived urban areas:
    ``selection_on_need``), in the North West and London
    (``regional_provision``) and in some ICBs (``sd_icb_timing``). The same
    PCNs have fewer link workers per patient (``fte_per_10k``).

    The defaults describe England: 1,250 PCNs (about 6,500 practices) in 42 ICBs,
    2018Q1-2024Q4, first link workers in 2019Q3, about 92% of PCNs started by
    2021Q2 and 3% never, diluted effects on counts (a 1-1.5% fall). Pass
    ``**CLASSIC_ROLLOUT`` for the first version of this simulator (independent
    errors, 15% never recruiting) and ``effect_size=LARGE_EFFECT`` for 2-4%
    effects.

    Examples
    --------
    >>> sim = pcn_rollout(n_pcns=50, n_icbs=5, effect="dynamic", random_state=0)
    >>> sim.data.shape[0] == sim.data["practice"].nunique() * 28
    True
    >>> ev = sim.true_effect("ae_attendances", "event")
    >>> bool(ev.loc[ev.event_time == 4, "value"].iloc[0] < ev.loc[ev.event_time == 0, "value"].iloc[0])
    True
    >>> float(sim.data.loc[sim.data["treated"] == 0, "fte_per_10k"].max())
    0.0
    """
    p = build_params(RolloutParams, params, options)
    rng = streams(random_state, _STREAMS)
    s = england_structure(p, rng["structure"], rng["rollout"])
    re = random_effects(p, s, rng["effects"])
    g = make_grid(p, s)
    keep = _attrition_mask(p, s.n_practices, g, rng["attrition"])
    means = expected_outcomes(p, s, re, g, shocks(p, s, rng["shocks"]))
    observed: dict[str, np.ndarray] = {}
    for o in OUTCOMES:  # four outcomes
        mu0, mu1 = means[o]
        if o in COUNT_OUTCOMES:
            observed[o] = draw_counts(mu0, mu1, p.family, p.dispersion, rng["noise"],
                                      rng["coupling"])[1]
        else:
            observed[o] = mu1 + rng["noise"].normal(0.0, p.outcomes[o].sd, len(mu0))
    data = _frame(p, s, g, observed)
    expected = pd.DataFrame({f"{o}_{k}": means[o][i] for o in OUTCOMES
                             for i, k in enumerate(("mu0", "mu1"))})
    if not keep.all():
        data = data.loc[keep].reset_index(drop=True)
        expected = expected.loc[keep].reset_index(drop=True)
    gk = g.subset(keep)
    sub = _subgroups(s, gk.practice)
    truth = pd.concat([
        truth_table(o, gk.practice, gk.cohort, gk.t, means[o][1][keep] - means[o][0][keep],
                    p.periods, sub)
        for o in OUTCOMES
    ], ignore_index=True)
    return SimulatedRollout(data=data, truth=truth, params=p, expected=expected)
