"""Effects by a unit-level subgroup (deprivation quintile, rurality...).

The estimator is fitted within each subgroup (treated and comparison units of
that subgroup), and the subgroups' influence functions are stacked on the full
set of units. Differences between subgroups and the test that all subgroup
effects are equal then use the joint (cluster-robust) variance, which is right
even when clusters span subgroups.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from ..errors import EstimationError, OptionError
from ..inference import influence_vcov, wald_test
from ..panel import Panel
from ..results import Result, estimate_table
from .results import AggregateResult, PreTest

__all__ = ["SubgroupResult", "by_subgroup"]


class SubgroupResult(Result):
    """Effects by subgroup: ``.estimates`` has one row per subgroup (its
    overall effect); ``.results`` the fitted result of each subgroup;
    ``.differences`` each subgroup minus the first; ``.equality_test`` the Wald
    test that all subgroup effects are equal; ``.aggregate(kind)`` stacks every
    subgroup's aggregation with a ``subgroup`` column."""

    def __init__(
        self,
        estimates: pd.DataFrame,
        *,
        results: dict[Any, Any],
        differences: pd.DataFrame,
        equality_test: PreTest | None,
        **kwargs: Any,
    ) -> None:
        self._results = dict(results)
        self._differences = differences
        self._equality = equality_test
        super().__init__(estimates, **kwargs)

    @property
    def results(self) -> dict[Any, Any]:
        """The fitted result of each subgroup."""
        return dict(self._results)

    @property
    def differences(self) -> pd.DataFrame:
        """Each subgroup's effect minus the first subgroup's, with joint SEs."""
        return self._differences.copy()

    @property
    def equality_test(self) -> PreTest | None:
        """Wald test that all subgroup effects are equal."""
        return self._equality

    def draws(self, target: Any = "overall", *, n_draws: int = 4000,
              random_state: Any = None) -> np.ndarray:
        """Draws of one subgroup's overall effect (``target`` = the subgroup):
        its fit's bootstrap draws when bootstrapped, else parametric normal draws."""
        if isinstance(target, str) and target == "overall":
            raise OptionError(f"effects by subgroup have no overall effect; name a subgroup: "
                              f"{self._target_choices()}.")
        i = self._target_row(target)
        level = self._estimates["subgroup"].iloc[i]
        return self._results[level].draws("overall", n_draws=n_draws,
                                          random_state=random_state)

    def aggregate(self, kind: str = "event", **kwargs: Any) -> AggregateResult:
        """Every subgroup's aggregation, stacked with a ``subgroup`` column."""
        parts, warn = [], []
        for level, res in self._results.items():
            if not hasattr(res, "aggregate"):
                raise OptionError(f"{type(res).__name__} results cannot be aggregated.")
            agg = res.aggregate(kind, **kwargs)
            tab = agg.estimates
            tab.insert(0, "subgroup", level)
            parts.append(tab)
            warn += [f"[{level}] {w}" for w in agg.warnings]
        table = pd.concat(parts, ignore_index=True)
        return AggregateResult(
            kind=kind, **self._replace(estimates=table, overall=None, warnings=warn,
                                       method=f"{self.method}, {kind} aggregation"),
        )


def _overall_influence(res: Any) -> np.ndarray | None:
    """Influence function of a result's overall effect, per sampling unit."""
    if hasattr(res, "aggregate"):
        try:
            infl = res.aggregate("simple").influence
        except (EstimationError, OptionError):
            return None
        return None if infl is None else infl[:, 0]
    return None


def by_subgroup(estimator: Any, panel: Panel, by: str) -> SubgroupResult:
    """Fit ``estimator`` within each level of the unit-level column ``by``.

    Examples
    --------
    >>> from spimpact.simulate import pcn_rollout
    >>> from spimpact.did import CallawaySantAnna
    >>> panel = pcn_rollout(n_pcns=120, random_state=2).panel("wellbeing", covariates=["rural"])
    >>> res = CallawaySantAnna(covariates=()).fit(panel, by="rural")
    >>> res.estimates["subgroup"].tolist()
    [0, 1]
    """
    frame = panel.frame
    if by not in frame.columns:
        raise OptionError(
            f"by={by!r} is not a column of the panel; add it to Panel(covariates=[...]) or "
            f"levels=[...] so it travels with the data."
        )
    codes = np.asarray(panel.unit_codes)
    levels_of_unit = pd.Series(frame[by].to_numpy()).groupby(codes).nunique()
    if (levels_of_unit > 1).any():
        bad = panel.units[int(levels_of_unit.index[levels_of_unit.to_numpy() > 1][0])]
        raise OptionError(
            f"by={by!r} must be constant within each unit, but unit {bad!r} has several values; "
            f"use a unit-level characteristic (e.g. its value at baseline)."
        )
    levels = sorted(pd.unique(frame[by]), key=lambda v: (str(type(v)), v))
    if len(levels) < 2:
        raise OptionError(f"by={by!r} has a single value ({levels[0]!r}); nothing to compare.")
    results: dict[Any, Any] = {}
    rows: list[Any] = []
    infl: list[np.ndarray] | None = []
    n_full = panel.n_units
    for level in levels:
        sub = panel._derive(frame.loc[frame[by] == level])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = estimator.fit(sub)
        results[level] = res
        if res.overall is None:
            raise EstimationError(f"no overall effect could be estimated in subgroup {by}={level!r}.")
        rows.append(res.overall)
        psi = _overall_influence(res)
        if psi is None:
            infl = None
        elif infl is not None:
            sub_codes = panel.units.get_indexer(sub.units)
            inf = getattr(res, "_inf", None)
            pos = sub_codes if inf is None or inf.unit_codes is None else sub_codes[inf.unit_codes]
            col = np.zeros(n_full)
            # each subgroup's small-sample factor (inference=), as on its own SE
            ss = getattr(inf, "small_sample", None)
            col[pos] = psi * (n_full / len(psi)) * (1.0 if ss is None else ss.se_factor)
            infl.append(col)
    est = np.array([r.estimate for r in rows])
    table = estimate_table(est, [r.std_error for r in rows], estimator.confidence,
                           index={"subgroup": levels})
    # each subgroup's interval and p-value as its own fit reports them (inference= choice)
    table[["ci_lower", "ci_upper", "p_value"]] = [[r.ci_lower, r.ci_upper, r.p_value]
                                                  for r in rows]
    diffs, equality, notes = _compare(est, infl, panel, levels, estimator.confidence,
                                      getattr(estimator, "inference", "analytic"))
    notes += [f"[{lv}] {w}" for lv, r in results.items() for w in r.warnings]
    first = next(iter(results.values()))
    return SubgroupResult(
        table, results=results, differences=diffs, equality_test=equality,
        method=f"{first.method} by {by}", confidence=estimator.confidence,
        n_obs=panel.n_obs, n_units=panel.n_units, n_clusters=panel.n_clusters,
        warnings=notes, info={"equality test": str(equality) if equality else "not available"},
    )


def _compare(
    est: np.ndarray, infl: list[np.ndarray] | None, panel: Panel, levels: list[Any],
    confidence: float, inference: str = "analytic",
) -> tuple[pd.DataFrame, PreTest | None, list[str]]:
    m = len(est)
    C = np.hstack([-np.ones((m - 1, 1)), np.eye(m - 1)])
    notes: list[str] = []
    if infl is None:
        notes.append("subgroup results carry no influence functions: differences assume the "
                     "subgroups are independent (clusters nested within subgroups).")
        return pd.DataFrame(), None, notes
    psi = np.column_stack(infl)
    cl = None
    if panel.cluster_codes is not None:
        cl = panel.unit_values(panel.cluster_codes)
    V = influence_vcov(psi, cl)
    dv = C @ V @ C.T
    # the columns carry each subgroup's small-sample factor; the reference
    # distribution is the estimator's choice (inference=) on the whole panel's clusters
    from ..inference_cluster import small_sample

    ss = small_sample(inference, panel.n_clusters, panel.n_units)
    diffs = estimate_table(C @ est, np.sqrt(np.diag(dv)), confidence, df=ss.df,
                           index={"subgroup": levels[1:], "versus": [levels[0]] * (m - 1)})
    stat, df, p = wald_test(C @ est, dv)
    return diffs, PreTest(stat, df, p, kind="equality"), notes
