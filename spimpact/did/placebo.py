"""Placebo tests for staggered DiD estimators.

- **In time** (:func:`placebo_in_time`): every treated cohort is moved
  ``shift`` periods earlier and the estimator is refitted. The placebo
  effects are those at event times ``0 .. shift - 1``, which compare periods
  before the real adoption only (their comparison units are never treated or
  not yet treated, placebo and real); with parallel trends and no
  anticipation they are zero up to noise. Their average is the placebo ATT.
- **In space** (:func:`placebo_in_space`): the units' cohorts (adoption dates,
  including never treated) are permuted across units and the estimator is
  refitted each time; the permutation distribution of the overall ATT is the
  reference for the actual one (randomisation inference of the sharp null of
  no effect for any unit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._sample import refuse_general_treatment
from ..errors import EstimationError, OptionError
from ..inference import as_generator
from ..results import Estimate

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..panel import Panel

__all__ = ["placebo_in_time", "placebo_in_space", "PlaceboTest"]

#: Name of the placebo cohort column added to the panel's rows.
PLACEBO_COLUMN = "placebo_cohort"


@dataclass(frozen=True)
class PlaceboTest:
    """A placebo test's outcome.

    ``kind`` is ``"time"`` or ``"space"``. ``estimate`` is the placebo overall
    ATT (time) or the actual one (space); ``distribution`` the permutation
    ATTs (space); ``p_value`` the placebo estimate's own p-value (time) or the
    two-sided permutation p-value ``(1 + #{|ATT_perm| >= |ATT|}) / (1 + n)``
    (space); ``result`` the placebo event study (time).
    """

    kind: str
    estimate: Estimate
    p_value: float
    distribution: np.ndarray | None = None
    result: Any = None
    notes: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:
        return (f"<PlaceboTest ({self.kind}): ATT {self.estimate.estimate:.4g}, "
                f"p = {self.p_value:.3g}>")

    def plot(self, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Space: histogram of the permutation ATTs with the actual one marked.
        Time: the placebo event study."""
        from ..plotting import get_ax

        if self.distribution is None:
            return self.result.plot(ax=ax, **kwargs)
        ax = get_ax(ax)
        ax.hist(self.distribution, bins=kwargs.get("bins", 30), color="C0", alpha=0.7,
                label="permuted cohorts")
        ax.axvline(self.estimate.estimate, color="C3", label="actual")
        ax.set_xlabel("overall ATT")
        ax.set_ylabel("permutations")
        ax.set_title(kwargs.get("title", f"Placebo in space (p = {self.p_value:.3g})"))
        ax.legend(frameon=False)
        return ax


def _overall(result: Any, aggregate: str) -> Estimate:
    if aggregate == "simple" and result.overall is not None:
        return result.overall
    out = result.aggregate(aggregate).overall
    if out is None:
        raise EstimationError(f"the {aggregate} aggregation has no overall estimate.")
    return out


def _unit_cohort_labels(panel: Panel) -> np.ndarray:
    """The cohort of each unit in the panel's own labels (``NaN`` never treated)."""
    frame = panel.frame
    if panel.cohort is not None:
        return np.asarray(panel.unit_values(frame[panel.cohort].to_numpy()), dtype=object)
    pos = panel.unit_cohort_codes
    labels = np.full(len(pos), np.nan, dtype=object)
    inside = np.isfinite(pos) & (pos >= 0) & (pos < panel.n_periods)
    labels[inside] = np.asarray(panel.periods, dtype=object)[pos[inside].astype(int)]
    return labels


def _with_cohorts(panel: Panel, rows: pd.DataFrame, values: np.ndarray) -> Panel:
    df = rows.copy()
    df[PLACEBO_COLUMN] = values
    never = panel.never_treated if panel.cohort is not None else None
    return panel._derive(df, cohort=PLACEBO_COLUMN, treatment=None, never_treated=never)


def _check_panel(panel: Any, estimator: Any) -> None:
    from ..panel import Panel

    if isinstance(panel, Panel):
        refuse_general_treatment(panel, "placebo tests")
    if not isinstance(panel, Panel) or panel.kind != "panel" or not panel.has_cohorts:
        raise OptionError("placebo tests need a spimpact.Panel of units over periods with a "
                          "cohort or treatment column.")
    if not hasattr(estimator, "fit"):
        raise OptionError(f"estimator must be a spimpact DiD estimator (with .fit), not "
                          f"{type(estimator).__name__}.")


def placebo_in_time(estimator: Any, panel: Panel, shift: int = 1) -> PlaceboTest:
    """Refit with every cohort moved ``shift`` periods earlier; the placebo ATT is
    the average placebo effect at event times 0 to ``shift - 1`` (periods before
    the real adoption).

    Units whose placebo adoption would fall on or before the first period have
    no placebo pre-period and are left out (counted in ``notes``).

    Examples
    --------
    >>> from spimpact.did import CallawaySantAnna, placebo_in_time
    >>> from spimpact.simulate import pcn_rollout
    >>> panel = pcn_rollout(n_pcns=60, never_share=0.15, random_state=1).panel("wellbeing")
    >>> pt = placebo_in_time(CallawaySantAnna(), panel, shift=2)
    >>> pt.kind, abs(pt.estimate.estimate) < 4 * pt.estimate.std_error
    ('time', True)
    """
    _check_panel(panel, estimator)
    if not isinstance(shift, (int, np.integer)) or shift < 1:
        raise OptionError(f"shift must be a positive integer (periods), not {shift!r}.")
    uc = panel.unit_cohort_codes
    inside = np.isfinite(uc) & (uc >= 0) & (uc < panel.n_periods)
    placebo = np.where(inside, uc - shift, np.inf)
    lost = inside & (placebo < 1)
    moved = inside & ~lost
    if not moved.any():
        raise EstimationError(f"no cohort adopts {shift + 1} or more periods after the first "
                              f"period: choose a smaller shift.")
    labels = _unit_cohort_labels(panel)
    labels[moved] = np.asarray(panel.periods, dtype=object)[placebo[moved].astype(int)]
    codes = panel.unit_codes
    keep = ~lost[codes]
    notes = []
    if lost.any():
        notes.append(f"{int(lost.sum())} treated units adopt within {shift} period(s) of the "
                     f"start and have no placebo pre-period; they are left out.")
    new = _with_cohorts(panel, panel.frame.loc[keep], labels[codes][keep])
    res = estimator.fit(new)
    ev = res.aggregate("event", min_event=0, max_event=int(shift) - 1)
    est = ev.overall
    if est is None:
        raise EstimationError("the placebo event study has no overall estimate.")
    return PlaceboTest("time", est, est.p_value, result=ev, notes=tuple(notes))


def placebo_in_space(estimator: Any, panel: Panel, n_permutations: int = 99, *,
                     aggregate: str = "simple", random_state: Any = None) -> PlaceboTest:
    """Permutation distribution of the overall ATT when the units' cohorts are
    randomly reassigned across units.

    The permutations are drawn at once (one row of unit indices each); the
    estimator is refitted for each.

    Examples
    --------
    >>> from spimpact.did import CallawaySantAnna, placebo_in_space
    >>> from spimpact.simulate import pcn_rollout
    >>> panel = pcn_rollout(n_pcns=40, n_icbs=4, never_share=0.15, random_state=1).panel("wellbeing")
    >>> ps = placebo_in_space(CallawaySantAnna(method="reg"), panel, n_permutations=3,
    ...                       random_state=2)
    >>> ps.distribution.shape
    (3,)
    """
    _check_panel(panel, estimator)
    if not isinstance(n_permutations, (int, np.integer)) or n_permutations < 1:
        raise OptionError(f"n_permutations must be a positive integer (e.g. 199), not "
                          f"{n_permutations!r}.")
    rng = as_generator(random_state)
    actual = _overall(estimator.fit(panel), aggregate)
    labels = _unit_cohort_labels(panel)
    perms = np.argsort(rng.random((int(n_permutations), panel.n_units)), axis=1)
    frame, codes = panel.frame, panel.unit_codes
    draws = np.empty(int(n_permutations))
    for i, perm in enumerate(perms):  # one refit per permutation
        new = _with_cohorts(panel, frame, labels[perm][codes])
        draws[i] = _overall(estimator.fit(new), aggregate).estimate
    ok = np.isfinite(draws)
    p = (1 + np.sum(np.abs(draws[ok]) >= abs(actual.estimate))) / (1 + ok.sum())
    notes = () if ok.all() else (f"{int((~ok).sum())} permutations gave no estimate and are "
                                 f"left out of the p-value.",)
    return PlaceboTest("space", actual, float(p), distribution=draws, notes=notes)
