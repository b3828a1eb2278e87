"""The estimation sample of a staggered design, decided once for every family.

:meth:`spimpact.Panel.unit_sample` returns a :class:`UnitSample`: the units an
estimator keeps, their cohorts, weights and clusters, the rows they own, and a
note for everything set aside. Callaway-Sant'Anna, the fixed-effects DiD
estimators, the multi-site ITS and the Bayesian DiD and ITS all take their
sample from here, so the same panel gives the same kept units and the same
notes in every family.

The rule (as R ``did``'s pre-processing):

* a cohort after the last period counts as not treated inside the window
  (with a note counting its units, so that a typo such as 2070 shows);
* units first treated at or before the first period plus ``anticipation``
  have no untreated (and unanticipated) period and are set aside, unless
  ``drop_always_treated=False`` (a TWFE regression keeps them, coded ``-1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import EstimationError, OptionError

if TYPE_CHECKING:
    from .panel import Panel

__all__ = ["UnitSample", "unit_sample", "small_cohort_note", "refuse_exposure", "refuse_dose",
           "refuse_general_treatment", "require_panel", "sample_cohorts", "early_note",
           "late_note", "no_untreated_error", "small_groups_note"]


@dataclass(frozen=True)
class UnitSample:
    """Units and rows an estimator uses, as integer codes and float arrays.

    Attributes
    ----------
    row_keep : bool mask of the panel's rows kept, or ``None`` when every row is.
    unit : code ``0 .. n_units-1`` of the sampling unit of each kept row (for
        repeated cross-sections each row is its own sampling unit).
    row_cohort, unit_cohort : cohort positions of each kept row and unit
        (``inf``: not treated inside the window; ``-1``: treated before the first
        period, only with ``drop_always_treated=False``).
    unit_w : each sampling unit's weight (its first row's).
    unit_codes : the kept units' positions among ``panel.units`` (rows of the
        panel for repeated cross-sections).
    cluster : each sampling unit's cluster code ``0 .. n_clusters-1``, or ``None``.
    notes : what was set aside, in words.
    """

    row_keep: np.ndarray | None
    unit: np.ndarray
    unit_cohort: np.ndarray
    unit_w: np.ndarray
    unit_codes: np.ndarray
    cluster: np.ndarray | None
    n_clusters: int | None
    anticipation: int = 0
    notes: list[str] = field(default_factory=list)

    @cached_property
    def row_cohort(self) -> np.ndarray:
        """Cohort position of each kept row (gathered on first use: a panel's
        estimators mostly need the units' cohorts only)."""
        return self.unit_cohort[self.unit]

    @property
    def n_units(self) -> int:
        """Number of sampling units kept."""
        return len(self.unit_cohort)

    @property
    def n_rows(self) -> int:
        return len(self.unit)

    @property
    def groups(self) -> np.ndarray:
        """Treated cohorts (period positions) inside the window, sorted."""
        uc = self.unit_cohort
        return np.unique(uc[np.isfinite(uc) & (uc >= 0)]).astype(int)

    @property
    def all_rows(self) -> bool:
        return self.row_keep is None

    def rows(self, values: np.ndarray) -> np.ndarray:
        """The kept rows of a per-row array (no copy when every row is kept)."""
        values = np.asarray(values)
        return values if self.row_keep is None else values[self.row_keep]


def unit_sample(
    panel: Panel, *, anticipation: int = 0, drop_always_treated: bool = True,
) -> UnitSample:
    """The estimation sample of ``panel`` (see :meth:`spimpact.Panel.unit_sample`)."""
    refuse_general_treatment(panel, "this design")
    if not panel.has_cohorts:
        raise EstimationError(
            "this design needs cohorts: build the Panel with cohort= (first treated period) "
            "or treatment= (0/1 indicator)."
        )
    if not isinstance(anticipation, (int, np.integer)) or anticipation < 0:
        raise OptionError(f"anticipation must be a non-negative integer, not {anticipation!r}.")
    T = panel.n_periods
    rcs = panel.kind != "panel"
    # per unit (panels) or per row (repeated cross-sections): no per-row pass
    cohort, early, late = sample_cohorts(
        panel.cohort_codes if rcs else panel.unit_cohort_codes, T, anticipation,
        drop_always_treated)
    notes: list[str] = []
    ucodes = np.asarray(panel.unit_codes)
    if early.all():
        raise no_untreated_error(panel.periods[0], anticipation)
    if not early.any():
        row_keep = None
        unit_codes = np.arange(len(cohort))
        unit = np.arange(len(cohort)) if rcs else ucodes
    else:
        unit_codes = np.flatnonzero(~early)
        row_keep = ~early if rcs else ~early[ucodes]
        n_rows_out = int(np.count_nonzero(~row_keep))
        notes.append(early_note(int(early.sum()), None if rcs else n_rows_out,
                                panel.periods[0], anticipation))
        recode = np.cumsum(~early) - 1  # old unit code -> new
        unit = np.arange(len(unit_codes)) if rcs else recode[ucodes[row_keep]]
    if late.any():
        notes.append(_late_note(panel, late, ucodes, rcs))
    unit_cohort = cohort[unit_codes]
    w = np.asarray(panel.w, dtype=float)
    if panel.weights is None:
        unit_w = np.ones(len(unit_codes))
    elif rcs:
        unit_w = w[unit_codes]
    else:
        unit_w = panel.unit_values(w)[unit_codes]
    cluster, n_cl = None, None
    if panel.cluster_codes is not None:
        cl_unit = (np.asarray(panel.cluster_codes)[unit_codes] if rcs
                   else panel.unit_values(panel.cluster_codes)[unit_codes])
        _, cluster = np.unique(cl_unit, return_inverse=True)
        n_cl = int(cluster.max()) + 1 if len(cluster) else 0
    return UnitSample(
        row_keep=row_keep, unit=unit, unit_cohort=unit_cohort,
        unit_w=unit_w, unit_codes=unit_codes, cluster=cluster, n_clusters=n_cl,
        anticipation=int(anticipation), notes=notes,
    )


def sample_cohorts(cohort_codes: np.ndarray, n_periods: int, anticipation: int,
                   drop_always_treated: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The estimation sample's rule on cohort positions (units, or rows of
    repeated cross-sections): cohorts after the last period count as not
    treated (``inf``; ``late``), and units treated by the first period plus
    ``anticipation`` have no untreated period (``early``: left out, or with
    ``drop_always_treated=False`` kept with cohort ``-1``). Returns
    ``(cohort, early, late)``; shared by :func:`unit_sample` and the fits of
    Dask panels, which apply it partition by partition."""
    cohort = np.array(cohort_codes, dtype=float)
    late = np.isfinite(cohort) & (cohort >= n_periods)
    cohort[late] = np.inf
    early = np.isfinite(cohort) & (cohort <= anticipation)
    if not drop_always_treated:
        cohort[early & (cohort <= 0)] = -1.0
        early &= cohort > 0
    return cohort, early, late


def no_untreated_error(first_period: Any, anticipation: int) -> EstimationError:
    """The error when every unit is treated by the first period."""
    return EstimationError(
        f"no untreated observations: every unit is treated by the first period "
        f"{first_period!s}"
        + (f" (allowing {anticipation} anticipation periods)" if anticipation else "")
        + "; add never-treated units or periods before the rollout."
    )


def early_note(count: int, rows: int | None, first_period: Any, anticipation: int) -> str:
    """The note on units (``rows=None``: rows of repeated cross-sections) left
    out because they are treated by the first period."""
    return (
        f"{count} {'rows' if rows is None else 'units'} treated by the first period "
        f"{first_period!s}"
        + (f" (allowing {anticipation} anticipation periods)" if anticipation else "")
        + (f" ({rows} rows)" if rows is not None else "")
        + " were left out: they have no untreated period."
    )


def late_note(count: int, what: str, last_period: Any, cohort_column: Any, value: Any) -> str:
    """The note on cohorts after the last period: counted, with an example value
    (a typo such as 2070 for 2017 shows here, not as a silent never-treated unit)."""
    return (
        f"{count} {what} have a cohort after the last period "
        f"{last_period!s} (e.g. {cohort_column}={value!s}): they count as not treated "
        f"inside the window. Check the cohort column if that is a typo."
    )


def _late_note(panel: Panel, late: np.ndarray, ucodes: np.ndarray, rcs: bool) -> str:
    row = int(np.flatnonzero(late if rcs else late[ucodes])[0])
    value = panel._df[panel.cohort].iloc[row] if panel.cohort is not None else "?"
    return late_note(int(late.sum()), "rows" if rcs else "units", panel.periods[-1],
                     panel.cohort, value)


def small_cohort_note(us: UnitSample, panel: Panel, n_covariates: int = 0) -> str | None:
    """The note on cohorts (and a never-treated group) with fewer than
    ``5 + n_covariates`` units, R ``did``'s rule for small groups: their
    group-time effects and standard errors rest on very few units.

    For repeated cross-sections a group's size is its rows per period, as in R.
    """
    cohort = us.unit_cohort
    finite = np.isfinite(cohort)
    codes = np.where(finite, cohort, -2.0)  # -2: never treated in the window
    values, counts = np.unique(codes, return_counts=True)
    size = counts / panel.n_periods if panel.kind != "panel" else counts.astype(float)
    labels = ["never treated" if v == -2 else str(panel.cohort_label(v)) for v in values]
    return small_groups_note(labels, size, n_covariates, per_period=panel.kind != "panel")


def small_groups_note(labels: list[str], sizes: np.ndarray, n_covariates: int = 0, *,
                      per_period: bool = False) -> str | None:
    """:func:`small_cohort_note` from the groups' labels (never treated first,
    then cohorts in order) and sizes; shared with the fits of Dask panels,
    which count the units partition by partition."""
    need = 5 + n_covariates
    sizes = np.asarray(sizes, dtype=float)
    small = (sizes < need) & (sizes > 0)
    if not small.any():
        return None
    shown = [f"{lab} ({n:g} {'unit' if n == 1 else 'units'})"
             for lab, n, sm in zip(labels, sizes, small, strict=True) if sm]
    per = " per period" if per_period else ""
    return (
        f"small cohorts: {', '.join(shown)} have fewer than {need} units{per} (5 plus the "
        f"number of covariates, R did's check); their group-time effects and standard "
        f"errors rest on very few units: read them with caution, or merge cohorts."
    )


def refuse_exposure(panel: Panel, who: str) -> None:
    """Refuse a panel with ``exposure=`` in an estimator that models the outcome's
    level: it would not use the exposure, and ignoring a role silently is
    never done."""
    if panel.exposure is not None:
        raise EstimationError(
            f"{who} models the outcome's level and does not use the panel's "
            f"exposure={panel.exposure!r}. To estimate effects on the counts themselves, "
            f"build the Panel without it (panel.replace(exposure=None)); to estimate effects "
            f"on rates, use spimpact.did.ETWFE(family='poisson') (rate ratios and counts) or "
            f"an outcome column of rates (e.g. per 1,000 of the list)."
        )


def refuse_dose(panel: Panel, who: str) -> None:
    """Refuse a panel with ``dose=`` in an estimator of binary-treatment effects:
    it would not use the dose, and ignoring a role silently is never done."""
    if panel.dose is not None:
        raise EstimationError(
            f"{who} estimates effects of a 0/1 treatment and does not use the panel's "
            f"dose={panel.dose!r}. For effects along the dose use "
            f"spimpact.did.ContinuousDiD; for the binary effect build the Panel without it "
            f"(panel.replace(dose=None))."
        )


def refuse_general_treatment(panel: Panel, who: str) -> None:
    """Refuse a ``treatment_kind="general"`` panel in a design of a 0/1 treatment
    that stays on: it has no cohorts, and reading its treatment as one would be
    wrong."""
    if getattr(panel, "treatment_kind", "absorbing") == "general":
        raise EstimationError(
            f"{who} needs a 0/1 treatment that stays on once started (or cohorts), but the "
            f"panel's treatment {panel.treatment!r} was given with treatment_kind='general' "
            f"(any value, possibly switching off). For such a treatment use "
            f"spimpact.did.ChaisemartinDHaultfoeuille; for this design build the Panel with "
            f"a 0/1 absorbing treatment= or with cohort=."
        )


def require_panel(panel: Any, who: str, build: str = "outcome=..., unit=..., time=...",
                  error: type[Exception] = EstimationError) -> None:
    """The one check that an estimator was given a :class:`~spimpact.Panel`:
    ``error`` naming ``who``, what it got and how to build one (``build``: the
    roles to show). A Dask panel gets the ways to an in-memory one."""
    from .panel import Panel

    if isinstance(panel, Panel):
        return
    from .dask_panel import DaskPanel

    if isinstance(panel, DaskPanel):
        raise error(
            f"{who} needs a spimpact.Panel in memory, not a DaskPanel (Panel was given a Dask "
            f"frame): aggregate it (panel.aggregate(to=...) returns an in-memory Panel) or "
            f"collect it (Panel(ddf.compute(), ...)); CallawaySantAnna without covariates fits "
            f"Dask panels directly."
        )
    raise error(f"{who} needs a spimpact.Panel, not {type(panel).__name__}: build one with "
                f"spimpact.Panel(data, {build}).")
