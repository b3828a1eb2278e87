"""The estimator registry: named, configurable estimators the benchmark can run.

Each entry is a factory (importing its family only when called, so a family
that is missing or not installed does not break the others), the designs it
accepts and a description. A benchmark names estimators by registry name,
optionally with options in brackets: ``"callaway_santanna[anticipation=1]"``
or ``"callaway_santanna[control_group='not_yet_treated', method='reg']"``.
Any object with ``fit(panel)`` returning a result can also be benchmarked
directly (pass ``{"label": estimator}``).
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pandas as pd

from ..errors import DependencyError, OptionError

__all__ = [
    "EstimatorSpec",
    "ESTIMATORS",
    "register_estimator",
    "build_estimator",
    "resolve_estimators",
    "list_estimators",
    "parse_estimator",
]


@dataclass(frozen=True)
class EstimatorSpec:
    """A registered estimator.

    Parameters
    ----------
    name : str
        Registry name (``[a-z0-9_]``).
    factory : callable
        ``factory(**options)`` returns an estimator with ``fit(panel)``.
    designs : tuple of str
        Scenario designs it accepts (``"staggered"``, ``"cohort"``, ``"series"``).
    description : str
    slow : bool
        Minutes per replication (e.g. MCMC): benchmark with few replications.
    defaults : mapping
        Options passed to the factory unless overridden.
    """

    name: str
    factory: Callable[..., Any]
    designs: tuple[str, ...]
    description: str = ""
    slow: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def build(self, **options: Any) -> Any:
        """The estimator with ``defaults`` updated by ``options``."""
        try:
            return self.factory(**{**self.defaults, **options})
        except DependencyError as exc:
            raise DependencyError(f"estimator {self.name!r} is unavailable: {exc}") from exc
        except ImportError as exc:
            raise DependencyError(
                f"estimator {self.name!r} is unavailable: {exc}. Install the package it needs "
                f"or leave it out."
            ) from exc
        except TypeError as exc:
            raise OptionError(f"bad options {options} for estimator {self.name!r}: {exc}") \
                from exc


def _family(module: str, attrs: tuple[str, ...], extra: str | None = None) -> Any:
    """Import an estimator family, with a package error saying what is missing."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        if (getattr(exc, "name", None) or "").startswith(module):
            raise DependencyError(f"{module} is not part of this build of spimpact; leave the "
                                  f"estimator out or upgrade spimpact.") from exc
        how = f"pip install 'spimpact[{extra}]'" if extra else "reinstall spimpact"
        raise DependencyError(f"{module} needs a package that cannot be imported ({exc}); "
                              f"{how}.") from exc
    missing = [a for a in attrs if not hasattr(mod, a)]
    if missing:
        raise DependencyError(
            f"{module} has no {', '.join(missing)} in this version of spimpact (the family is "
            f"not available in this build); leave the estimator out or upgrade spimpact."
        )
    return mod


def _lazy(module: str, attr: str, extra: str | None = None) -> Callable[..., Any]:
    """A factory importing ``module.attr`` when first called."""

    def factory(**options: Any) -> Any:
        return getattr(_family(module, (attr,), extra), attr)(**options)

    factory.__qualname__ = factory.__name__ = f"{module}.{attr}"
    return factory


def _its_factory(**options: Any) -> Any:
    """:class:`spimpact.its.SegmentedRegression`; ``seasonality=(period, order)``
    is read as ``Fourier(period, order)`` so that labels can set it."""
    mod = _family("spimpact.its", ("SegmentedRegression", "Fourier"))
    season = options.pop("seasonality", None)
    if isinstance(season, (tuple, list)):
        season = mod.Fourier(*season)
    return mod.SegmentedRegression(seasonality=season, **options)


_REGISTRY: dict[str, EstimatorSpec] = {}
#: Read-only view of the registered estimators by name.
ESTIMATORS: Mapping[str, EstimatorSpec] = MappingProxyType(_REGISTRY)


def register_estimator(
    name: str,
    factory: Callable[..., Any],
    designs: Iterable[str] = ("staggered",),
    *,
    description: str = "",
    slow: bool = False,
    defaults: Mapping[str, Any] | None = None,
    replace: bool = False,
) -> EstimatorSpec:
    """Register an estimator under ``name``.

    Examples
    --------
    >>> from spimpact.did import CallawaySantAnna
    >>> spec = register_estimator("cs_not_yet", CallawaySantAnna, replace=True,
    ...                           defaults={"control_group": "not_yet_treated"})
    >>> spec.build().control_group
    'not_yet_treated'
    """
    from .scenarios import DESIGNS

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise OptionError(f"estimator name must be an identifier such as 'my_cs', not {name!r}.")
    if name in _REGISTRY and not replace:
        raise OptionError(f"an estimator named {name!r} is already registered; pass "
                          f"replace=True to overwrite it or choose another name.")
    designs = tuple(designs)
    bad = [d for d in designs if d not in DESIGNS]
    if bad or not designs:
        raise OptionError(f"designs must be a non-empty subset of {list(DESIGNS)}, not "
                          f"{list(designs)}.")
    if not callable(factory):
        raise OptionError(f"factory for {name!r} must be callable, not {factory!r}.")
    spec = EstimatorSpec(name, factory, designs, description, slow,
                         MappingProxyType(dict(defaults or {})))
    _REGISTRY[name] = spec
    return spec


_LABEL = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[(.*)\])?\s*$", re.S)


def parse_estimator(text: str) -> tuple[str, dict[str, Any]]:
    """Split ``"name[key=value, ...]"`` into the name and its options (Python literals;
    a bare word is read as a string).

    Examples
    --------
    >>> parse_estimator("callaway_santanna[anticipation=1, control_group=not_yet_treated]")
    ('callaway_santanna', {'anticipation': 1, 'control_group': 'not_yet_treated'})
    """
    m = _LABEL.match(text) if isinstance(text, str) else None
    if m is None:
        raise OptionError(f"cannot read estimator {text!r}: write a registered name, optionally "
                          f"with options, e.g. 'callaway_santanna[anticipation=1]'.")
    name, body = m.group(1), (m.group(2) or "").strip()
    if not body:
        return name, {}
    try:
        call = ast.parse(f"f({body})", mode="eval").body
        assert isinstance(call, ast.Call) and not call.args
        opts = {kw.arg: _literal(kw.value) for kw in call.keywords}
    except (SyntaxError, AssertionError, ValueError) as exc:
        raise OptionError(f"cannot read the options of {text!r}: write key=value pairs separated "
                          f"by commas, e.g. '{name}[anticipation=1, method=\"reg\"]'.") from exc
    if None in opts:
        raise OptionError(f"options of {text!r} must be key=value pairs.")
    return name, opts  # type: ignore[return-value]


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Name):  # bare word: a string
        return {"True": True, "False": False, "None": None}.get(node.id, node.id)
    return ast.literal_eval(node)


def build_estimator(label: str) -> Any:
    """The estimator named by ``label`` (``"name"`` or ``"name[options]"``).

    Examples
    --------
    >>> build_estimator("callaway_santanna[anticipation=1]").anticipation
    1
    """
    name, opts = parse_estimator(label)
    return _spec(name).build(**opts)


def _spec(name: str) -> EstimatorSpec:
    if name not in _REGISTRY:
        raise OptionError(f"unknown estimator {name!r}; registered: {sorted(_REGISTRY)}. "
                          f"Register your own with spimpact.bench.register_estimator().")
    return _REGISTRY[name]


def resolve_estimators(estimators: Any, design: str) -> list[tuple[str, Any]]:
    """``(label, estimator)`` pairs from names, ``name[options]`` labels, or a mapping
    ``{label: estimator or name}``; ``None`` means every available registered estimator
    for ``design`` (slow ones excluded).

    Raises :class:`OptionError` when a named estimator does not accept the design.
    """
    if estimators is None:
        out = []
        for spec in _REGISTRY.values():
            if design in spec.designs and not spec.slow:
                try:
                    out.append((spec.name, spec.build()))
                except DependencyError:
                    continue  # not available in this installation: listed by list_estimators()
        if not out:
            raise OptionError(f"no registered estimator accepts the {design!r} design.")
        return out
    if isinstance(estimators, str):
        estimators = [e for e in _split_top(estimators)]
    items = estimators.items() if isinstance(estimators, Mapping) else \
        [(e, e) for e in estimators]
    out, seen = [], set()
    for label, est in items:
        if isinstance(est, str):
            name, opts = parse_estimator(est)
            spec = _spec(name)
            if design not in spec.designs:
                raise OptionError(f"estimator {name!r} does not apply to {design!r} scenarios "
                                  f"(it takes {list(spec.designs)}).")
            est = spec.build(**opts)
        elif not hasattr(est, "fit"):
            raise OptionError(f"estimator {label!r} must have a fit(panel) method, not "
                              f"{type(est).__name__}.")
        label = str(label).strip()
        if label in seen:
            raise OptionError(f"estimator label {label!r} is used twice; labels must be unique.")
        seen.add(label)
        out.append((label, est))
    if not out:
        raise OptionError("estimators is empty: name at least one, e.g. ['callaway_santanna'].")
    return out


def _split_top(text: str) -> list[str]:
    """Split on commas outside brackets: ``"a[x=1, y=2], b"`` -> ``["a[x=1, y=2]", "b"]``."""
    parts, depth, cur = [], 0, ""
    for ch in text:  # a short string
        depth += (ch in "[(") - (ch in "])")
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def list_estimators(check: bool = True) -> pd.DataFrame:
    """One row per registered estimator: name, designs, slow, description and (with
    ``check``) whether it can be built in this installation.

    Examples
    --------
    >>> "twfe" in set(list_estimators(check=False)["estimator"])
    True
    """
    rows = []
    for s in _REGISTRY.values():
        row = {"estimator": s.name, "designs": ", ".join(s.designs), "slow": s.slow,
               "description": s.description}
        if check:
            try:
                s.build()
                row["available"], row["note"] = True, ""
            except Exception as exc:  # report, do not fail: this is a listing
                row["available"], row["note"] = False, str(exc).split("\n")[0]
        rows.append(row)
    return pd.DataFrame(rows)


def _register_standard() -> None:
    did, matching = "spimpact.did", "spimpact.matching"
    att = {"estimand": "ATT"}
    std: list[tuple[str, Callable[..., Any], tuple[str, ...], str, bool, dict[str, Any]]] = [
        ("callaway_santanna", _lazy(did, "CallawaySantAnna"), ("staggered",),
         "Callaway & Sant'Anna (2021) ATT(g,t), doubly robust, never-treated controls; "
         "adjusts for the panel's covariates", False, {}),
        ("sun_abraham", _lazy(did, "SunAbraham"), ("staggered",),
         "Sun & Abraham (2021) interaction-weighted event study", False, {}),
        ("imputation", _lazy(did, "Imputation"), ("staggered",),
         "Borusyak, Jaravel & Spiess (2024) imputation estimator", False, {}),
        ("two_stage", _lazy(did, "TwoStage"), ("staggered",),
         "Gardner (2022) two-stage DiD", False, {}),
        ("etwfe", _lazy(did, "ETWFE"), ("staggered",),
         "Wooldridge (2021, 2023) extended TWFE: cohort x period treated-cell effects, "
         "not-yet-treated controls; etwfe[family='poisson'] for counts with the panel's "
         "exposure as offset", False, {}),
        ("twfe", _lazy(did, "TWFE"), ("staggered",),
         "static two-way fixed effects (unit and period effects, one treatment dummy)", False, {}),
        ("psm", _lazy(matching, "PropensityScoreMatching"), ("cohort",),
         "propensity-score matching, 1:1 nearest neighbour with a 0.2 SD caliper (ATT); "
         "psm[method=full, caliper=None, bias_correction=True] for bias-corrected full "
         "matching", False,
         {}),
        ("ipw", _lazy(matching, "InverseProbabilityWeighting"), ("cohort",),
         "inverse-probability weighting (ATT weights)", False, att),
        ("aipw", _lazy(matching, "AugmentedIPW"), ("cohort",),
         "augmented IPW, doubly robust (ATT)", False, att),
        ("ebal", _lazy(matching, "EntropyBalancing"), ("cohort",),
         "entropy balancing of the covariate means (ATT)", False, att),
        ("its", _its_factory, ("series",),
         "segmented regression with Newey-West (HAC) SEs and annual Fourier seasonality "
         "(monthly data), without the small-sample correction: its[small_sample=True] for "
         "fixed-b Newey-West, its[autocorrelation=None] for OLS SEs, its[autocorrelation=arma] "
         "for ARMA errors", False,
         {"autocorrelation": "newey-west", "seasonality": (12, 1), "small_sample": False}),
        ("bayes_did", _lazy("spimpact.bayes", "MultilevelDiD", "bayes"), ("staggered",),
         "Bayesian multilevel DiD (PyMC); slow: use few replications", True, {}),
    ]
    for name, factory, designs, desc, slow, defaults in std:
        register_estimator(name, factory, designs, description=desc, slow=slow,
                           defaults=defaults)


_register_standard()
