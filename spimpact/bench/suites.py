"""Declarative benchmark suites and the documentation's results page.

A suite is a TOML file (the standard ones ship with the package, in
``spimpact/bench/standard_suites/``, found by :func:`standard_suites`)::

    name = "did"
    title = "Staggered difference-in-differences"
    description = "..."
    reps = 500                 # replications of each run
    random_state = 20240601    # root seed: run i (from 0) uses random_state + i

    [[run]]
    scenario = "heterogeneous_dynamic"
    estimators = ["callaway_santanna", "sun_abraham", "imputation", "two_stage", "twfe"]
    targets = ["overall", "event:0"]    # optional (default: the scenario's)
    label = "heterogeneous_dynamic"     # optional (default: the scenario name)
    params = { n_pcns = 150 }           # optional scenario overrides
    random_state = 7                    # optional: this run's own root seed

    [[power]]                           # optional: power curves and MDEs
    scenario = "ae_attendances"
    estimator = "callaway_santanna"
    rate_ratios = [1.0, 0.99, 0.98, 0.97]   # or effects = [...] on the simulator's scale
    design = { n_pcns = [60, 150, 400] }    # crossed design parameters (optional)
    reps = 100                              # optional: fewer replications than the suite's

``spimpact bench --suite all --out benchmarks/results --docs docs/bench_results.md``
(what ``make bench`` runs; the command is :mod:`spimpact.bench.cli`) runs every
standard suite and writes, into the ``--out`` folder,

* ``bench_table.csv`` and ``bench_table.parquet``: every suite's tables
  stacked (``suite, run`` columns first, then the benchmark measures and the
  ``bias_ok`` / ``coverage_ok`` verdicts);
* ``bench_records.parquet``: every replication of every run;
* ``bench_report.html``: every run's table and bias/coverage plot;

and, with ``--docs``, the documentation's results page. ``--suite NAME`` runs
one suite (repeatable; a path to a ``.toml`` file or a folder of them runs
those); ``--reps N`` caps the replications of every run (suites asking for
fewer, e.g. the Bayesian one, keep theirs); ``--engine dask --scheduler
tcp://host:8786`` sends the runs to a cluster. Estimators whose family is not
available in this build are skipped and listed as such on the page.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import OptionError, SpimpactError
from ._page import results_markdown
from .power import PowerResult
from .result import BenchResult

__all__ = ["Suite", "SuiteRun", "SuitePower", "SuiteResult", "load_suite", "load_suites",
           "standard_suites", "run_suite", "results_markdown", "write_outputs"]
_SUITE_KEYS = {"name", "title", "description", "reps", "random_state", "run", "power"}
_RUN_KEYS = {"scenario", "estimators", "targets", "label", "params", "random_state"}
_POWER_KEYS = {"scenario", "estimator", "effects", "rate_ratios", "design", "params", "reps",
               "level", "target", "label", "random_state"}


@dataclass(frozen=True)
class SuiteRun:
    """One scenario of a suite and the estimators run on it."""

    scenario: str
    estimators: tuple[str, ...]
    targets: tuple[str, ...] | None = None
    label: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    random_state: int | None = None

    @property
    def name(self) -> str:
        """The label, else the scenario name."""
        return self.label or self.scenario


@dataclass(frozen=True)
class SuitePower:
    """A power analysis of a suite: one estimator over effect sizes and designs.

    ``effects`` are on the simulator's scale; with ``rate_ratio`` they were given
    as rate ratios (``rate_ratios = [1.0, 0.98]`` in the file) and are their logs.
    """

    scenario: str
    estimator: str
    effects: tuple[float, ...]
    design: dict[str, list[Any]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    reps: int | None = None
    level: float = 0.8
    target: str = "overall"
    label: str = ""
    rate_ratio: bool = False
    random_state: int | None = None

    @property
    def name(self) -> str:
        """The label, else ``<scenario>: <estimator>``."""
        return self.label or f"{self.scenario}: {self.estimator}"


@dataclass(frozen=True)
class Suite:
    """A named list of runs (and power analyses) with a replication count and a root seed."""

    name: str
    title: str
    description: str
    reps: int
    random_state: int
    runs: tuple[SuiteRun, ...]
    path: Path | Traversable | None = None
    powers: tuple[SuitePower, ...] = ()

    def seed(self, i: int) -> int:
        """Root seed of the ``i``-th analysis (runs first, then power analyses): its own
        ``random_state``, else the suite's plus ``i``, so that runs are independent."""
        items: list[SuiteRun | SuitePower] = [*self.runs, *self.powers]
        own = items[i].random_state
        return own if own is not None else self.random_state + i


def _need(d: dict, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if key not in d:
        raise OptionError(f"{where}: missing required key {key!r}.")
    if not isinstance(d[key], kind):
        raise OptionError(f"{where}: {key!r} must be {getattr(kind, '__name__', kind)}, "
                          f"not {d[key]!r}.")
    return d[key]


def _parse_run(d: dict, where: str) -> SuiteRun:
    unknown = sorted(set(d) - _RUN_KEYS)
    if unknown:
        raise OptionError(f"{where}: unknown key(s) {unknown}; a run takes {sorted(_RUN_KEYS)}.")
    ests = _need(d, "estimators", where, list)
    targets = d.get("targets")
    if targets is not None and not isinstance(targets, list):
        raise OptionError(f"{where}: 'targets' must be a list such as ['overall', 'event:0'].")
    return SuiteRun(_need(d, "scenario", where, str), tuple(map(str, ests)),
                    tuple(targets) if targets else None, str(d.get("label", "")),
                    dict(d.get("params", {})), _seed(d, where))


def _seed(d: dict, where: str) -> int | None:
    seed = d.get("random_state")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise OptionError(f"{where}: random_state must be a non-negative integer, not {seed!r}.")
    return seed


def _parse_power(d: dict, where: str) -> SuitePower:
    unknown = sorted(set(d) - _POWER_KEYS)
    if unknown:
        raise OptionError(f"{where}: unknown key(s) {unknown}; a power analysis takes "
                          f"{sorted(_POWER_KEYS)}.")
    if ("effects" in d) == ("rate_ratios" in d):
        raise OptionError(f"{where}: give either 'effects' (on the simulator's scale) or "
                          f"'rate_ratios' (e.g. [1.0, 0.98] for a 2% fall), not both or neither.")
    key = "effects" if "effects" in d else "rate_ratios"
    values = _need(d, key, where, list)
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                             for v in values):
        raise OptionError(f"{where}: {key!r} must be a non-empty list of numbers, not {values!r}.")
    if key == "rate_ratios" and min(values) <= 0:
        raise OptionError(f"{where}: rate ratios must be positive, not {values!r}.")
    effects = tuple(float(np.log(v)) if key == "rate_ratios" else float(v) for v in values)
    reps = d.get("reps")
    if reps is not None and (not isinstance(reps, int) or reps < 2):
        raise OptionError(f"{where}: reps must be an integer >= 2, not {reps!r}.")
    return SuitePower(
        _need(d, "scenario", where, str), _need(d, "estimator", where, str), effects,
        dict(d.get("design", {})), dict(d.get("params", {})), reps,
        float(d.get("level", 0.8)), str(d.get("target", "overall")), str(d.get("label", "")),
        key == "rate_ratios", _seed(d, where),
    )


def standard_suites() -> Traversable:
    """The folder of the standard suites shipped with the package (package data, found
    by :mod:`importlib.resources` the same way from an installed wheel as from a
    source checkout).

    Examples
    --------
    >>> sorted(p.name for p in standard_suites().iterdir() if p.name.endswith(".toml"))[:4]
    ['bayes.toml', 'did.toml', 'england.toml', 'its.toml']
    """
    return files("spimpact.bench").joinpath("standard_suites")


def load_suite(path: str | Path | Traversable) -> Suite:
    """Read and check one suite file.

    Examples
    --------
    >>> load_suite(standard_suites() / "did.toml").title
    'Staggered difference-in-differences'
    """
    path = Path(path) if isinstance(path, str) else path
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise OptionError(f"cannot read suite {path}: {exc}") from exc
    unknown = sorted(set(raw) - _SUITE_KEYS)
    if unknown:
        raise OptionError(f"{path}: unknown key(s) {unknown}; a suite takes {sorted(_SUITE_KEYS)}.")
    runs = raw.get("run", [])
    powers = raw.get("power", [])
    if not isinstance(runs, list) or not isinstance(powers, list) or not (runs or powers):
        raise OptionError(f"{path}: a suite needs at least one [[run]] (or [[power]]) table.")
    reps = _need(raw, "reps", str(path), int)
    if reps < 2:
        raise OptionError(f"{path}: reps must be at least 2, not {reps}.")
    return Suite(
        name=_need(raw, "name", str(path), str), title=str(raw.get("title", raw["name"])),
        description=str(raw.get("description", "")), reps=reps,
        random_state=_need(raw, "random_state", str(path), int),
        runs=tuple(_parse_run(r, f"{path} run {i + 1}") for i, r in enumerate(runs)), path=path,
        powers=tuple(_parse_power(r, f"{path} power {i + 1}") for i, r in enumerate(powers)),
    )


def load_suites(directory: str | Path | Traversable | None = None,
                names: Sequence[str] | None = None) -> list[Suite]:
    """Every ``*.toml`` suite in ``directory`` (default: :func:`standard_suites`), by
    file name, optionally only those named.

    Examples
    --------
    >>> [s.name for s in load_suites(names=["did", "matching"])]
    ['did', 'matching']
    """
    directory = standard_suites() if directory is None else (
        Path(directory) if isinstance(directory, str) else directory)
    if not directory.is_dir():
        raise OptionError(f"suite directory {directory} does not exist; pass a folder holding "
                          f"*.toml suites.")
    suites = [load_suite(p) for p in _toml_files(directory.iterdir())]
    if names:
        missing = sorted(set(names) - {s.name for s in suites})
        if missing:
            raise OptionError(f"no suite named {missing} in {directory}; available: "
                              f"{[s.name for s in suites]}.")
        suites = [s for s in suites if s.name in names]
    return suites


def _toml_files(entries: Iterable[Traversable]) -> list[Traversable]:
    return sorted((p for p in entries if p.is_file() and p.name.endswith(".toml")),
                  key=lambda p: p.name)


@dataclass(frozen=True)
class SuiteResult:
    """The results of a suite: one :class:`BenchResult` per run, one
    :class:`PowerResult` per power analysis, and what was skipped."""

    suite: Suite
    reps: int
    results: tuple[tuple[SuiteRun, BenchResult], ...]
    skipped: tuple[tuple[str, str, str], ...]  # (run, estimator, reason)
    powers: tuple[tuple[SuitePower, PowerResult], ...] = ()

    def table(self) -> pd.DataFrame:
        """All runs' tables stacked, with ``suite`` and ``run`` columns first."""
        parts = [r.checks().assign(suite=self.suite.name, run=run.name)
                 for run, r in self.results]
        if not parts:
            return pd.DataFrame()
        out = pd.concat(parts, ignore_index=True)
        return out[["suite", "run", *[c for c in out.columns if c not in ("suite", "run")]]]

    def power_table(self) -> pd.DataFrame:
        """All power analyses stacked, with ``suite``, ``analysis`` and ``estimator`` first."""
        parts = [p.table.assign(suite=self.suite.name, analysis=sp.name, estimator=sp.estimator)
                 for sp, p in self.powers]
        if not parts:
            return pd.DataFrame()
        out = pd.concat(parts, ignore_index=True)
        first = ["suite", "analysis", "estimator"]
        return out[[*first, *[c for c in out.columns if c not in first]]]


def _available(label: str) -> str | None:
    """None when the estimator can be built here, else why not."""
    from .estimators import build_estimator

    try:
        build_estimator(label)
    except SpimpactError as exc:
        return str(exc)
    return None


def run_suite(suite: Suite, *, reps: int | None = None, engine: str = "local", client: Any = None,
              n_jobs: int | None = None, progress: bool | None = None) -> SuiteResult:
    """Run every run and power analysis of ``suite`` (``reps`` caps the replications)."""
    from .engine import run

    n = suite.reps if reps is None else min(int(reps), suite.reps)
    kw: dict[str, Any] = {"engine": engine, "client": client, "n_jobs": n_jobs,
                          "progress": progress}
    done, skipped = [], []
    for i, sr in enumerate(suite.runs):  # a handful of scenarios
        ests = []
        for e in sr.estimators:
            why = _available(e)
            if why is None:
                ests.append(e)
            else:
                skipped.append((sr.name, e, why.split("\n")[0]))
        if not ests:
            continue
        try:
            res = run(sr.scenario, ests, n, suite.seed(i), targets=sr.targets,
                      params=sr.params, **kw)
        except SpimpactError as exc:  # e.g. a scenario whose simulator is not available
            skipped.extend((sr.name, e, str(exc).split("\n")[0]) for e in ests)
            continue
        done.append((sr, res))
    powers = []
    for j, sp in enumerate(suite.powers):  # a few power analyses
        why = _available(sp.estimator)
        if why is not None:
            skipped.append((sp.name, sp.estimator, why.split("\n")[0]))
            continue
        from .power import power

        n_p = min(n, sp.reps or n)
        powers.append((sp, power(sp.scenario, sp.estimator, sp.effects, reps=n_p,
                                 random_state=suite.seed(len(suite.runs) + j),
                                 level=sp.level,
                                 target=sp.target, design=sp.design or None,
                                 params=sp.params, **kw)))
    return SuiteResult(suite, n, tuple(done), tuple(skipped), tuple(powers))


def write_outputs(results: Sequence[SuiteResult], out: str | Path) -> dict[str, Path]:
    """Write the stacked tables (CSV, Parquet), the records, the power tables (when
    there are any) and the HTML report to ``out``; returns the paths written."""
    from ..report import render_html

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"table_csv": out / "bench_table.csv", "table_parquet": out / "bench_table.parquet",
             "records": out / "bench_records.parquet", "report": out / "bench_report.html"}
    table = pd.concat([r.table() for r in results], ignore_index=True)
    table.to_csv(paths["table_csv"], index=False)
    table.to_parquet(paths["table_parquet"], index=False)
    records = [res.records.assign(suite=r.suite.name, run=sr.name)
               for r in results for sr, res in r.results]
    if records:
        pd.concat(records, ignore_index=True).to_parquet(paths["records"], index=False)
    power = [r.power_table() for r in results if r.powers]
    if power:
        paths["power_csv"] = out / "bench_power.csv"
        paths["power_parquet"] = out / "bench_power.parquet"
        stacked = pd.concat(power, ignore_index=True)
        stacked.to_csv(paths["power_csv"], index=False)
        stacked.to_parquet(paths["power_parquet"], index=False)
    sections = [res.to_section() for r in results for _, res in r.results]
    sections += [p.to_section() for r in results for _, p in r.powers]
    paths["report"].write_text(render_html("spimpact benchmark suites", sections),
                               encoding="utf-8")
    return paths
