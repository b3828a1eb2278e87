"""Results of the Bayesian DiD: ATT(g,t) draws and their aggregations.

Aggregations use the frequentist DiD's weights engine
(:func:`spimpact.aggregation.aggregation_weights`): the same weight matrix
``W`` over the same cells, applied here to each posterior draw of ATT(g,t)
instead of to estimates and influence functions. The cohort shares in the
weights are the observed shares of units (fixed, as the estimand is the
effect on this sample's treated units).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from ..aggregation import check_kind, draw_aggregation, row_labels
from ..did.results import AggregateResult
from ..did.sensitivity import EventStudySensitivity
from ..errors import EstimationError, OptionError
from ..results import ESTIMATE_COLUMNS, Estimate
from ._did_design import DiDDesign, cell_level_means, level_cell_shares
from ._model import GroupVars, family_vars, var_name
from ._sampling import DIAGNOSTIC_COLUMNS, summarise_draws
from .results import BayesResult

__all__ = ["MultilevelDiDResult", "PosteriorAggregate", "hyper_table"]


def hyper_table(post: Any, groups: Sequence[GroupVars], family: str, confidence: float,
                unit: str) -> pd.DataFrame:
    """Posterior summaries of the variance parameters (and the family's own)."""
    names, cols = [], []
    for gv in groups:
        if gv.sd is not None:
            names.append(f"sd(Intercept | {gv.name})")
            cols.append(np.asarray(post[gv.sd]))
    names.append(f"sd(Intercept | {unit})")
    cols.append(np.asarray(post[var_name("sd", unit)]))
    for v in post.data_vars:
        if str(v).endswith("__"):
            continue
        if v == "sd_cell" or str(v).startswith("sd_effect_"):
            names.append("sd(effect | cohort-period)" if v == "sd_cell"
                         else f"sd(effect | {str(v)[len('sd_effect_'):]})")
            cols.append(np.asarray(post[v]))
    for label, var in family_vars(family):
        names.append(label)
        cols.append(np.asarray(post[var]))
    return summarise_draws(np.stack(cols, axis=-1), {"term": names}, confidence)


def _estimate(draws: np.ndarray, confidence: float, label: str) -> Estimate:
    row = summarise_draws(draws[..., None], {}, confidence).iloc[0]
    return Estimate.from_row(row, confidence, label)


def _aggregate_draws(
    att: np.ndarray, cells: pd.DataFrame, n_periods: int, kind: str, **limits: Any,
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Posterior draws of an aggregation's rows and overall, and the rows' labels."""
    ok = ~cells["reference"].to_numpy()
    return draw_aggregation(att[..., ok], cells.loc[ok].reset_index(drop=True), kind,
                            n_periods=n_periods, **limits)


class PosteriorAggregate(AggregateResult):
    """An aggregation of posterior ATT(g,t) draws; ``.posterior_draws`` holds its
    draws ``(chain, draw, rows)``, ``.draws(target)`` one row's (or the
    overall's) and ``.overall`` the overall summary."""

    def __init__(self, *, draws: np.ndarray, overall_draws: np.ndarray | None = None,
                 **kwargs: Any) -> None:
        self._draws = draws
        self._overall_draws = overall_draws
        super().__init__(**kwargs)

    def draws(self, target: Any = "overall", *, n_draws: int = 4000,
              random_state: Any = None) -> np.ndarray:
        """Posterior draws (chains stacked) of the overall effect or of one row
        (e.g. an event time); ``n_draws`` and ``random_state`` are not used."""
        if isinstance(target, str) and target == "overall":
            if self._overall_draws is None:
                raise OptionError("this aggregation has no overall draws.")
            return np.asarray(self._overall_draws, dtype=float).reshape(-1)
        i = self._target_row(target)
        return self._draws.reshape(-1, self._draws.shape[-1])[:, i].astype(float)

    @property
    def id_columns(self) -> list[str]:
        skip = (*ESTIMATE_COLUMNS, *DIAGNOSTIC_COLUMNS)
        return [c for c in self._estimates.columns if c not in skip]

    @property
    def posterior_draws(self) -> np.ndarray:
        """Posterior draws of the rows of ``.estimates`` ``(chain, draw, rows)``."""
        return self._draws.copy()


class MultilevelDiDResult(EventStudySensitivity, BayesResult):
    """ATT(g,t) of the Bayesian DiD with their posterior draws.

    ``.estimates``: ``group, time`` and the posterior summary of each ATT(g,t)
    (reference cells, period ``g - 1``, are 0). ``.overall``: the simple
    aggregation. ``.parameters``: the variance parameters. ``.aggregate(kind)``
    and ``.level_effects()`` summarise further.
    """

    def __init__(self, *, att: np.ndarray, design: DiDDesign, periods: pd.Index,
                 delta: np.ndarray | None, hyper: pd.DataFrame, **kwargs: Any) -> None:
        self._att = att
        self._d = design
        self._periods = periods
        self._delta = delta
        self._hyper = hyper
        cells = design.cells
        confidence = kwargs.get("confidence", 0.95)
        index = {"group": [periods[g] for g in cells["g"]],
                 "time": [periods[t] for t in cells["t"]]}
        table = summarise_draws(att, index, confidence)
        try:
            _, simple, _ = _aggregate_draws(att, cells, len(periods), "simple")
            kwargs["overall"] = _estimate(simple, confidence, "overall (simple)")
        except EstimationError:  # no post-treatment cell
            kwargs["overall"] = None
        super().__init__(table, **kwargs)

    @property
    def parameters(self) -> pd.DataFrame:
        """Posterior summaries of the SDs of unit, cell and level effects (and sigma/phi)."""
        return self._hyper.copy()

    @property
    def att_draws(self) -> np.ndarray:
        """Posterior draws of every ATT(g,t) ``(chain, draw, cells)``, rows as ``.estimates``."""
        return self._att.copy()

    def _event_study_result(self) -> PosteriorAggregate:
        """The posterior event study used by ``honest_bounds`` (credible
        intervals from the draws) and ``pretrend_power``."""
        return self.aggregate("event")

    def aggregate(self, kind: str = "event", *, min_event: int | None = None,
                  max_event: int | None = None, balance_event: int | None = None
                  ) -> PosteriorAggregate:
        """Summarise ATT(g,t) by the DiD weights: ``"simple"``, ``"group"``,
        ``"event"`` or ``"calendar"`` (as :meth:`spimpact.did.GroupTimeResult.aggregate`)."""
        kind = check_kind(kind)
        rows, overall, labels = _aggregate_draws(
            self._att, self._d.cells, len(self._periods), kind, min_event=min_event,
            max_event=max_event, balance_event=balance_event)
        table = summarise_draws(rows, row_labels(labels, self._periods), self.confidence)
        if kind == "simple":
            table = table.iloc[:0]
        over = _estimate(overall, self.confidence, f"overall ({kind})")
        return PosteriorAggregate(
            draws=rows, overall_draws=overall, kind=kind,
            **self._replace(estimates=table, overall=over,
                            method=f"{self.method}, {kind} aggregation"),
        )

    def draws(self, target: Any = "overall", *, n_draws: int = 4000,
              random_state: Any = None) -> np.ndarray:
        """Posterior draws (chains stacked) of the overall ATT (``"overall"``, the
        simple aggregation), of an event-time effect (an integer) or of one
        ATT(g,t) (``(group, time)``); ``n_draws`` and ``random_state`` are not used."""
        if isinstance(target, str) and target == "overall":
            return self.aggregate("simple").draws("overall")
        if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
            return self.aggregate("event").draws(int(target))
        i = self._target_row(target)
        return self._att.reshape(-1, self._att.shape[-1])[:, i].astype(float)

    def level_effects(self) -> pd.DataFrame:
        """Effect in each unit of ``effect_level`` (e.g. each PCN), partially pooled.

        A level's effect is the mean over its treated rows of the cohort-period
        effect plus its own deviation, i.e. its ATT over its treated periods
        (same scale as ATT(g,t)). Levels without treated periods are left out.
        """
        if self._delta is None:
            raise OptionError("level effects need MultilevelDiD(effect_level=...), e.g. "
                              "effect_level='pcn'.")
        name, _, labels = cast(tuple, self._d.effect_level)
        A = level_cell_shares(self._d)
        treated = A.sum(axis=1) > 0
        tau = self._att[..., self._d.est_cells]
        # tau already includes each cell's mean level deviation: remove it, add the level's own
        base = tau - self._delta @ cell_level_means(self._d).T
        draws = base @ A.T + self._delta
        table = summarise_draws(draws[..., treated], {name: np.asarray(labels)[treated]},
                                self.confidence)
        return table.drop(columns="p_value")

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """The posterior event study (``.aggregate("event").plot()``)."""
        return self.aggregate("event").plot(ax=ax, **kwargs)
