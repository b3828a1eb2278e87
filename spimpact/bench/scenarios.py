"""The scenario registry: simulated designs with a known truth.

A :class:`Scenario` is a simulator call (:func:`~spimpact.simulate.pcn_rollout`,
:func:`~spimpact.simulate.patient_cohort` or
:func:`~spimpact.simulate.interrupted_series`) with its parameters, the outcome
analysed, how the :class:`~spimpact.Panel` is built, and the targets compared
with the truth. Each replication is a fresh draw; its truth is read from *that*
draw's ``.truth`` table (e.g. the realised ATT over the treated practices of
that draw), so bias and coverage are measured against the estimand of the
sample at hand.

The standard scenarios are small (one Callaway-Sant'Anna fit well under a
second); every parameter can be overridden, up to England scale
(``get_scenario("heterogeneous_dynamic", n_pcns=1250, n_icbs=42)``).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DependencyError, OptionError
from ._targets import parse_target

__all__ = [
    "Scenario",
    "Replication",
    "SCENARIOS",
    "register_scenario",
    "get_scenario",
    "list_scenarios",
    "DESIGNS",
]

#: Kinds of data a scenario produces (estimators declare which they accept).
DESIGNS = ("staggered", "cohort", "series")


@dataclass(frozen=True)
class _Simulator:
    """How to call one simulator and read its output."""

    function: str  # attribute of spimpact.simulate
    design: str
    params_class: str  # parameters dataclass, for early validation
    panel_method: str | None  # method of the simulation result building the Panel (None: own)
    outcome_arg: bool  # whether that method takes the outcome as first argument
    effect_option: str  # parameter that sets the effect size

    def load(self, attr: str) -> Any:
        mod = importlib.import_module("spimpact.simulate")
        if not hasattr(mod, attr):
            raise DependencyError(
                f"spimpact.simulate has no {attr!r} in this version; the scenarios built on "
                f"{self.function}() are unavailable."
            )
        return getattr(mod, attr)


_SIMULATORS = {
    "pcn_rollout": _Simulator("pcn_rollout", "staggered", "RolloutParams", "panel", True,
                              "effect_size"),
    "patient_cohort": _Simulator("patient_cohort", "cohort", "CohortParams",
                                 "cross_section_panel", False, "effect"),
    "interrupted_series": _Simulator("interrupted_series", "series", "SeriesParams", None,
                                     True, "level_change"),
}

#: Outcomes of :func:`~spimpact.simulate.interrupted_series` whose truth is the
#: log-rate effect: the Gaussian log rate ``y`` and the Poisson ``count``.
SERIES_OUTCOMES = ("y", "count")


def _series_panel(sim: Any, outcome: str, **roles: Any) -> Any:
    """The :class:`~spimpact.Panel` of a simulated interrupted series: one series
    (no unit) or several (``unit="series"``), interruption as the cohort, and the
    population as exposure for counts."""
    from ..panel import Panel

    if outcome not in SERIES_OUTCOMES:
        raise OptionError(f"an interrupted_series scenario analyses 'y' (the log rate with "
                          f"noise) or 'count' (with population as exposure), not {outcome!r}.")
    data = sim.data
    several = data["series"].nunique() > 1
    base: dict[str, Any] = {"time": "month", "cohort": "interruption",
                            "unit": "series" if several else None,
                            "exposure": "population" if outcome == "count" else None}
    base.update(roles)
    return Panel(data, outcome=outcome, **base)


def _series_truth(sim: Any, target: Any) -> float:
    """The pooled level change (log scale) for ``overall``; NaN for other targets."""
    if target.kind != "overall":
        return np.nan
    t = sim.truth
    sel = t[(t["series"] == "pooled") & (t["term"] == "level_change")]
    return float(sel["value"].iloc[0]) if len(sel) == 1 else np.nan


@dataclass(frozen=True)
class Replication:
    """One simulated data set: the panel to fit and the truth of each target."""

    panel: Any
    truth: dict[str, float]
    seconds: float


def _rollout_aliases(params: dict[str, Any]) -> dict[str, Any]:
    """``n_periods=N`` for :func:`pcn_rollout`: the panel ends ``N`` quarters after
    ``start``; the last start quarter is pulled back inside the panel if needed."""
    if "n_periods" not in params:
        return params
    from ..simulate import RolloutParams

    out = dict(params)
    n = out.pop("n_periods")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 3:
        raise OptionError(f"n_periods must be an integer >= 3 (quarters in the panel), not {n!r}.")
    base = RolloutParams(**{k: v for k, v in out.items()
                            if k in {"start", "first_start", "last_start"}})
    end = base.start + int(n) - 1
    out["end"] = str(end)
    if base.last_start > end:
        out["last_start"] = str(end)
    return out


@dataclass(frozen=True)
class Scenario:
    """A simulated design with a known truth.

    Parameters
    ----------
    name : str
        Registry name.
    summary : str
        One line: what the scenario tests.
    simulator : {"pcn_rollout", "patient_cohort", "interrupted_series"}
    params : mapping
        Options of the simulator (any field of its parameters dataclass; for
        ``pcn_rollout`` also ``n_periods``, the number of quarters).
    outcome : str
        The outcome analysed (and whose truth is read).
    panel_args : mapping
        Role overrides for the simulation's panel method (e.g. ``covariates=()``).
    targets : tuple of str
        Default targets (see :mod:`spimpact.bench._targets`).
    should_pass, should_fail : tuple of str
        Registered estimators expected to be unbiased with nominal coverage here,
        and those expected to fail (documentation; the results page shows what
        actually happens).
    details : str
        Longer description: the data-generating process and why estimators
        pass or fail.
    panel_method : str, optional
        Method of the simulation result that builds the panel (default:
        ``panel`` for rollouts, ``cross_section_panel`` for patient cohorts;
        interrupted series are built into a Panel with ``time="month"``,
        ``cohort="interruption"`` and, for ``count``, ``exposure="population"``).
    truth_target : str
        Name of the headline target in the simulator's truth table.

    Examples
    --------
    >>> sc = get_scenario("homogeneous", n_pcns=60, n_icbs=6)
    >>> sc.params["n_pcns"], sc.design
    (60, 'staggered')
    >>> rep = sc.simulate(np.random.SeedSequence(1))
    >>> round(rep.truth["overall"], 3)
    0.3
    """

    name: str
    summary: str
    simulator: str
    params: Mapping[str, Any]
    outcome: str
    panel_args: Mapping[str, Any] = field(default_factory=dict)
    targets: tuple[str, ...] = ("overall",)
    should_pass: tuple[str, ...] = ()
    should_fail: tuple[str, ...] = ()
    details: str = ""
    panel_method: str | None = None
    truth_target: str = "overall"

    def __post_init__(self) -> None:
        if self.simulator not in _SIMULATORS:
            raise OptionError(f"simulator must be one of {list(_SIMULATORS)}, not "
                              f"{self.simulator!r}.")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        object.__setattr__(self, "panel_args", MappingProxyType(dict(self.panel_args)))
        object.__setattr__(self, "targets", tuple(str(parse_target(t)) for t in self.targets))

    def __reduce__(self) -> tuple[Any, ...]:  # mapping proxies do not pickle
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["params"], fields["panel_args"] = dict(self.params), dict(self.panel_args)
        return (_rebuild_scenario, (fields,))

    @property
    def design(self) -> str:
        """``"staggered"``, ``"cohort"`` or ``"series"``."""
        return _SIMULATORS[self.simulator].design

    @property
    def effect_option(self) -> str:
        """The simulator option that sets the effect size (see :meth:`with_effect`)."""
        return _SIMULATORS[self.simulator].effect_option

    def simulator_options(self) -> dict[str, Any]:
        """The simulator's keyword arguments (aliases resolved)."""
        params = dict(self.params)
        return _rollout_aliases(params) if self.simulator == "pcn_rollout" else params

    def validate(self) -> Scenario:
        """Check the parameters against the simulator's parameters class; returns self."""
        sim = _SIMULATORS[self.simulator]
        opts = self.simulator_options()
        cls = sim.load(sim.params_class)
        from ..simulate._params import build_params

        build_params(cls, None, opts)
        if self.simulator == "interrupted_series" and self.outcome not in SERIES_OUTCOMES:
            raise OptionError(f"scenario {self.name!r}: outcome must be one of "
                              f"{list(SERIES_OUTCOMES)} for interrupted_series, not "
                              f"{self.outcome!r}.")
        if self.simulator == "pcn_rollout":
            from ..simulate._params import OUTCOMES

            if self.outcome not in OUTCOMES:
                raise OptionError(f"scenario {self.name!r}: outcome must be one of "
                                  f"{list(OUTCOMES)} for pcn_rollout, not {self.outcome!r}.")
        return self

    def with_params(self, **params: Any) -> Scenario:
        """A copy with some simulator parameters changed (validated).

        Examples
        --------
        >>> get_scenario("null").with_params(n_pcns=80).params["n_pcns"]
        80
        """
        return dataclasses.replace(self, params={**self.params, **params}).validate()

    def with_effect(self, value: float) -> Scenario:
        """A copy with the effect size set to ``value`` (on the simulator's scale:
        points for wellbeing, log rate ratio for counts, e.g. ``log(0.98)`` for a
        2% fall). A ``pcn_rollout`` scenario without effect gets a constant one.

        Examples
        --------
        >>> get_scenario("null").with_effect(0.1).params["effect"]
        'constant'
        """
        value = float(value)
        if self.simulator == "pcn_rollout":
            sizes = dict(self.params.get("effect_size", {}))
            sizes[self.outcome] = value
            change: dict[str, Any] = {"effect_size": sizes}
            if self.params.get("effect", "constant") == "none":
                change["effect"] = "constant"
            return self.with_params(**change)
        return self.with_params(**{self.effect_option: value})

    def simulate(self, seed: np.random.SeedSequence | int) -> Replication:
        """Draw one data set and its truths (one per default target).

        ``seed`` seeds the simulator; the same seed gives the same replication.
        """
        return self.replicate(seed, self.targets)

    def replicate(self, seed: np.random.SeedSequence | int, targets: tuple[str, ...]) -> Replication:
        """Draw one data set and the truth of each of ``targets``."""
        import time

        from ._targets import truth_value

        sim_info = _SIMULATORS[self.simulator]
        t0 = time.perf_counter()
        sim = sim_info.load(sim_info.function)(random_state=np.random.default_rng(seed),
                                               **self.simulator_options())
        method = self.panel_method or sim_info.panel_method
        if method is None:  # interrupted series: the simulation result has no panel method
            panel = _series_panel(sim, self.outcome, **self.panel_args)
            truth = {t: _series_truth(sim, parse_target(t)) for t in targets}
        else:
            build = getattr(sim, method)
            panel = build(self.outcome, **self.panel_args) if sim_info.outcome_arg \
                else build(**self.panel_args)
            truth = {t: truth_value(sim.truth, self.outcome, parse_target(t), self.truth_target)
                     for t in targets}
        return Replication(panel, truth, time.perf_counter() - t0)

    def describe(self) -> str:
        """Summary, details and expected verdicts as plain text."""
        lines = [f"{self.name}: {self.summary}"]
        if self.details:
            lines.append(self.details)
        lines.append(f"Simulator: {self.simulator}({_fmt_params(self.params)}); "
                     f"outcome {self.outcome}.")
        if self.should_pass:
            lines.append("Should pass: " + ", ".join(self.should_pass) + ".")
        if self.should_fail:
            lines.append("Should fail: " + ", ".join(self.should_fail) + ".")
        return "\n".join(lines)


def _rebuild_scenario(fields: dict[str, Any]) -> Scenario:
    return Scenario(**fields)


def _fmt_params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


_REGISTRY: dict[str, Scenario] = {}
#: Read-only view of the registered scenarios by name.
SCENARIOS: Mapping[str, Scenario] = MappingProxyType(_REGISTRY)


def register_scenario(scenario: Scenario, *, replace: bool = False) -> Scenario:
    """Add a scenario to the registry (``replace=True`` to overwrite a name).

    Examples
    --------
    >>> sc = get_scenario("homogeneous")
    >>> _ = register_scenario(dataclasses.replace(sc, name="my_homogeneous"), replace=True)
    >>> "my_homogeneous" in SCENARIOS
    True
    """
    if not isinstance(scenario, Scenario):
        raise OptionError(f"register_scenario needs a Scenario, not {type(scenario).__name__}.")
    if scenario.name in _REGISTRY and not replace:
        raise OptionError(f"a scenario named {scenario.name!r} is already registered; pass "
                          f"replace=True to overwrite it or choose another name.")
    _REGISTRY[scenario.name] = scenario
    return scenario


def get_scenario(scenario: str | Scenario, **params: Any) -> Scenario:
    """A registered scenario (or the one given) with parameters overridden.

    Examples
    --------
    >>> get_scenario("few_clusters").params["n_pcns"]
    30
    """
    if isinstance(scenario, Scenario):
        return scenario.with_params(**params) if params else scenario
    if scenario not in _REGISTRY:
        raise OptionError(f"unknown scenario {scenario!r}; registered: {sorted(_REGISTRY)}. "
                          f"Register your own with spimpact.bench.register_scenario().")
    sc = _REGISTRY[scenario]
    return sc.with_params(**params) if params else sc


def list_scenarios() -> pd.DataFrame:
    """One row per registered scenario: name, design, summary, expected verdicts.

    Examples
    --------
    >>> "heterogeneous_dynamic" in set(list_scenarios()["scenario"])
    True
    """
    return pd.DataFrame([
        {"scenario": s.name, "design": s.design, "summary": s.summary,
         "should_pass": ", ".join(s.should_pass), "should_fail": ", ".join(s.should_fail)}
        for s in _REGISTRY.values()
    ])


from . import _england, _standard  # noqa: E402,F401  (register the standard scenarios)
