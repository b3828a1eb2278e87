"""``spimpact run SPEC.toml``: a declarative analysis of a user's own file.

The analysis file (TOML, read with the standard library's :mod:`tomllib`) names
the data and its :class:`~spimpact.Panel` roles, the analyses (estimator,
outcome, settings, aggregations, subgroups) and where the report goes::

    seed = 2024                      # random_state of every estimator that takes one

    [data]
    path = "extract.csv"             # CSV or Parquet, relative to this file
    unit = "pcn"
    time = "quarter"
    cohort = "first_quarter"         # or treatment = "link_worker" (0/1)

    [[analysis]]
    name = "cs"
    estimator = "did.CallawaySantAnna"
    outcome = "wellbeing"
    control_group = "not_yet_treated"
    aggregate = ["event", "group"]

    [report]
    out = "report"
    title = "Link workers and wellbeing"

:func:`run` writes ``OUT/report.html``, one CSV of estimates per analysis and
per aggregation, the figures as PNG, a comparison of the analyses
(CSV, LaTeX, Markdown) and ``OUT/run.json`` (versions, the spec and its hash,
the data's hash, seeds, timings, warnings). Every mistake in the spec raises
:class:`~spimpact.errors.SpecError` naming the field and the fix.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import platform
import re
import time
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import DependencyError, SpecError, SpimpactError

__all__ = ["Spec", "Analysis", "load_spec", "run", "EXAMPLE_SPEC", "FAMILIES"]

#: Estimator families a spec may name, as ``family.Class``.
FAMILIES = ("did", "its", "matching", "bayes")

#: Panel roles ``[data]`` may give (the outcome comes from each analysis).
DATA_ROLES = ("unit", "time", "cohort", "treatment", "never_treated", "covariates", "cluster",
              "weights", "exposure", "levels")

#: Keys of an ``[[analysis]]`` block that are not estimator settings.
ANALYSIS_KEYS = ("name", "estimator", "outcome", "aggregate", "by")

#: Aggregations of group-time results.
AGGREGATIONS = ("simple", "group", "event", "calendar")

#: Optional sub-tables of an analysis (e.g. ``[analysis.sensitivity]``), added by
#: the capabilities that provide them: name -> function(result, options, section,
#: out_dir) that adds to the analysis's report section (a :class:`Section`) and
#: returns the names of the files it wrote in ``out_dir``.
EXTENSIONS: dict[str, Callable[..., list[str]]] = {}


def _sensitivity(result: Any, options: dict[str, Any], section: Any, folder: Path) -> list[str]:
    from .did.sensitivity import run_extension

    return run_extension(result, options, section, folder)


EXTENSIONS["sensitivity"] = _sensitivity  # parallel-trends sensitivity of an event study


def _econ(result: Any, options: dict[str, Any], section: Any, folder: Path) -> list[str]:
    from .econ.cea import run_extension

    return run_extension(result, options, section, folder)


def _equity(result: Any, options: dict[str, Any], section: Any, folder: Path) -> list[str]:
    from .equity.subgroups import run_extension

    return run_extension(result, options, section, folder)


def _check_econ(options: dict[str, Any]) -> None:
    from .econ.cea import check_run_options

    check_run_options(options)


def _check_equity(options: dict[str, Any]) -> None:
    from .equity.subgroups import check_run_options

    check_run_options(options)


EXTENSIONS["econ"] = _econ  # value for money of the overall effect, from its draws
EXTENSIONS["equity"] = _equity  # subgroup effects with multiplicity control (needs by)

#: Checks of an extension's options run when the spec is read, before anything
#: is fitted: name -> function(options) raising OptionError.
EXTENSION_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "econ": _check_econ, "equity": _check_equity}

#: Extensions that need effects by subgroup (the analysis's ``by``).
NEEDS_BY = ("equity",)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

EXAMPLE_SPEC = '''\
# spimpact analysis file: `spimpact run THIS_FILE.toml`
# Every path is relative to this file. Run `spimpact run THIS_FILE.toml --dry-run`
# to check the spec and the data without fitting anything.

seed = 2024                        # random_state of every estimator that takes one

[data]
path = "extract.csv"               # CSV or Parquet (.parquet, .pq)
unit = "pcn"                       # unit identifier
time = "quarter"                   # period: integers, dates or labels such as 2019Q3
cohort = "first_quarter"           # first treated period (empty: never treated)
# treatment = "link_worker"        # ...or a 0/1 indicator instead of cohort
# never_treated = 0                # a cohort code that means never treated (R's did)
# covariates = ["imd_score"]       # columns that travel with the data
# cluster = "icb"                  # clusters for inference (default: the unit)
# weights = "list_size"            # sampling weights
# exposure = "list_size"           # population at risk, for counts
# levels = ["pcn", "icb"]          # nesting, smallest first

[[analysis]]
name = "callaway_santanna"         # names the CSVs and figures: letters, digits, _ and -
estimator = "did.CallawaySantAnna"
outcome = "wellbeing"
control_group = "not_yet_treated"  # any setting of the estimator, as in Python
bootstrap = 999
aggregate = ["event", "group"]     # simple, group, event, calendar
# by = "rural"                     # effects by a unit-level subgroup

[[analysis]]
name = "imputation"
estimator = "did.Imputation"
outcome = "wellbeing"
aggregate = ["event"]

[[analysis]]
name = "twfe"
estimator = "did.TWFE"
outcome = "wellbeing"

[report]
out = "spimpact-report"            # folder for report.html, the CSVs, figures and run.json
title = "Link workers and wellbeing"
'''


# ---------------------------------------------------------------------------- spec
@dataclass(frozen=True)
class Analysis:
    """One ``[[analysis]]`` block: what to fit and what to write."""

    name: str
    estimator: str
    outcome: str
    settings: dict[str, Any]
    aggregate: tuple[str, ...] = ()
    by: str | None = None
    extensions: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Spec:
    """A validated analysis file (its data is read by :func:`run`)."""

    path: Path
    text: str
    data_path: Path
    roles: dict[str, Any]
    analyses: tuple[Analysis, ...]
    out: Path
    title: str
    seed: int | None

    @property
    def sha256(self) -> str:
        """Hash of the spec file's text."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def _expect(value: Any, types: type | tuple[type, ...], where: str, example: str) -> Any:
    allowed = types if isinstance(types, tuple) else (types,)
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        raise SpecError(f"{where} must be {example}; got {value!r}.")
    return value


def _str_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f'{where} must be a column name or a list of them, e.g. ["a", "b"]; '
                        f"got {value!r}.")
    return value


def load_spec(path: str | Path) -> Spec:
    """Read and check an analysis file (TOML).

    Parameters
    ----------
    path : str or Path
        The spec file. Paths inside it are relative to its folder.

    Returns
    -------
    Spec

    Raises
    ------
    SpecError
        Naming the field, the value and the fix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.toml").write_text(EXAMPLE_SPEC)
    >>> _ = (folder / "extract.csv").write_text("pcn,quarter,first_quarter,wellbeing\\n")
    >>> spec = load_spec(folder / "a.toml")
    >>> [a.estimator for a in spec.analyses]
    ['did.CallawaySantAnna', 'did.Imputation', 'did.TWFE']
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"no analysis file at {str(path)!r}; `spimpact run --example > "
                        f"analysis.toml` writes a commented one to start from.")
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path.name} is not valid TOML: {exc}.") from None
    unknown = sorted(set(raw) - {"seed", "data", "analysis", "report"})
    if unknown:
        raise SpecError(f"unknown top-level field(s) {unknown} in {path.name}; the spec has "
                        f"seed, [data], [[analysis]] and [report].")
    seed = raw.get("seed")
    if seed is not None:
        _expect(seed, int, "seed", "an integer, e.g. seed = 2024")
    roles, data_path = _data_section(raw.get("data"), path.parent)
    analyses = _analyses(raw.get("analysis"))
    report = raw.get("report", {})
    _expect(report, dict, "[report]", 'a table, e.g. [report] out = "report"')
    bad = sorted(set(report) - {"out", "title"})
    if bad:
        raise SpecError(f"unknown field(s) {bad} in [report]; it takes out and title.")
    out = _expect(report.get("out", "spimpact-report"), str, "[report] out",
                  'a folder name, e.g. out = "report"')
    title = _expect(report.get("title", f"spimpact analysis of {data_path.name}"), str,
                    "[report] title", 'text, e.g. title = "Link workers and wellbeing"')
    return Spec(path=path, text=text, data_path=data_path, roles=roles, analyses=analyses,
                out=Path(os.path.normpath(path.parent / out)), title=title, seed=seed)


def _data_section(data: Any, folder: Path) -> tuple[dict[str, Any], Path]:
    if data is None:
        raise SpecError('the spec needs a [data] table with path = "your_file.csv" and the '
                        "column roles (unit, time, cohort or treatment...).")
    _expect(data, dict, "[data]", "a table")
    if "outcome" in data:
        raise SpecError("[data] outcome: the outcome belongs to each [[analysis]] (outcome = "
                        "\"...\"), so analyses of several outcomes share one data file.")
    unknown = sorted(set(data) - {"path", *DATA_ROLES})
    if unknown:
        raise SpecError(f"unknown field(s) {unknown} in [data]; it takes path and the Panel "
                        f"roles {list(DATA_ROLES)}.")
    if "path" not in data:
        raise SpecError('[data] needs path = "your_file.csv" (CSV or Parquet, relative to '
                        "the spec file).")
    data_path = folder / _expect(data["path"], str, "[data] path", 'a file name, e.g. "x.csv"')
    if not data_path.is_file():
        raise SpecError(f"[data] path: no file at {str(data_path)!r} (paths are relative to "
                        f"the spec file's folder).")
    if data_path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise SpecError(f"[data] path: {data_path.name!r} is neither CSV (.csv) nor Parquet "
                        f"(.parquet, .pq).")
    roles: dict[str, Any] = {}
    for key in DATA_ROLES:
        if key not in data:
            continue
        if key in ("covariates", "levels"):
            roles[key] = _str_list(data[key], f"[data] {key}")
        elif key == "never_treated":
            roles[key] = _expect(data[key], (int, float, str), "[data] never_treated",
                                 "a cohort code, e.g. never_treated = 0")
        else:
            roles[key] = _expect(data[key], str, f"[data] {key}",
                                 f'a column name, e.g. {key} = "column"')
    return roles, data_path


def _analyses(blocks: Any) -> tuple[Analysis, ...]:
    if not blocks:
        raise SpecError("the spec has no [[analysis]] block; add one with name, estimator "
                        '(e.g. "did.CallawaySantAnna") and outcome.')
    _expect(blocks, list, "[[analysis]]", "a list of tables (write [[analysis]], two brackets)")
    out: list[Analysis] = []
    for i, block in enumerate(blocks, start=1):
        where = f"[[analysis]] number {i}"
        for key in ("name", "estimator", "outcome"):
            if key not in block:
                raise SpecError(f'{where} needs {key} = "..." (name, estimator and outcome are '
                                f"required).")
        name = _expect(block["name"], str, f"{where} name", 'a name, e.g. name = "cs"')
        if not _NAME.match(name):
            raise SpecError(f"analysis name {name!r}: use letters, digits, _ and - only (it "
                            f"names the CSV and figure files).")
        where = f"analysis {name!r}"
        estimator = _expect(block["estimator"], str, f"{where} estimator",
                            'family.Class, e.g. estimator = "did.CallawaySantAnna"')
        outcome = _expect(block["outcome"], str, f"{where} outcome", "a column name")
        agg = block.get("aggregate", [])
        agg = [agg] if isinstance(agg, str) else agg
        if not isinstance(agg, list) or any(a not in AGGREGATIONS for a in agg):
            raise SpecError(f"{where} aggregate = {block.get('aggregate')!r}: give a list of "
                            f"{list(AGGREGATIONS)}, e.g. aggregate = [\"event\"].")
        by = block.get("by")
        if by is not None:
            _expect(by, str, f"{where} by", 'a unit-level column, e.g. by = "rural"')
        settings = {k: v for k, v in block.items()
                    if k not in ANALYSIS_KEYS and not isinstance(v, dict)}
        ext = {k: v for k, v in block.items() if k not in ANALYSIS_KEYS and isinstance(v, dict)}
        unknown = sorted(set(ext) - set(EXTENSIONS))
        if unknown:
            have = sorted(EXTENSIONS) or "none in this version"
            raise SpecError(f"{where}: unknown section(s) {unknown}; available: {have}.")
        for key, options in ext.items():
            if key in EXTENSION_CHECKS:
                try:
                    EXTENSION_CHECKS[key](dict(options))
                except SpimpactError as exc:
                    raise SpecError(f"{where} [analysis.{key}]: {exc}") from None
        for key in NEEDS_BY:
            if key in ext and by is None:
                raise SpecError(f"{where} [analysis.{key}] compares subgroups, so the analysis "
                                f'needs by = "COLUMN" (a unit-level column, e.g. by = '
                                f'"deprivation_quintile").')
        out.append(Analysis(name, estimator, outcome, settings, tuple(dict.fromkeys(agg)), by,
                            ext))
    names = [a.name for a in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SpecError(f"analysis names must be distinct; {dup} appear more than once.")
    return tuple(out)


# ----------------------------------------------------------------- estimators
def estimator_class(name: str, where: str) -> type:
    """The class a spec's ``estimator = "family.Class"`` names."""
    family, _, cls_name = name.partition(".")
    if family not in FAMILIES or not cls_name:
        raise SpecError(f"{where} estimator = {name!r}: write family.Class with a family in "
                        f"{list(FAMILIES)}, e.g. \"did.CallawaySantAnna\".")
    module = importlib.import_module(f"spimpact.{family}")
    available = sorted(n for n in getattr(module, "__all__", ())
                       if isinstance(getattr(module, n, None), type)
                       and hasattr(getattr(module, n), "fit"))
    cls = getattr(module, cls_name, None)
    if cls_name not in available or cls is None:
        raise SpecError(f"{where} estimator = {name!r}: spimpact.{family} has no estimator "
                        f"{cls_name!r}; choose one of {available}.")
    return cls


def build_estimator(analysis: Analysis, seed: int | None, data_covariates: list[str],
                    progress_bars: bool = False) -> Any:
    """The estimator of one analysis, with its settings (and the run's seed; with
    ``progress_bars``, ``progress=True`` for estimators that show one, e.g. a
    Bayesian sampler's, unless the spec says otherwise)."""
    where = f"analysis {analysis.name!r}"
    cls = estimator_class(analysis.estimator, where)
    params = inspect.signature(cls).parameters
    names = [p for p in params if p != "self"]
    unknown = sorted(set(analysis.settings) - set(names))
    if unknown:
        raise SpecError(f"{where}: {cls.__name__} has no setting(s) {unknown}; its settings "
                        f"are {names}.")
    settings = dict(analysis.settings)
    if seed is not None and "random_state" in names and "random_state" not in settings:
        settings["random_state"] = seed
    if progress_bars and "progress" in names and "progress" not in settings:
        settings["progress"] = True
    if analysis.by is not None and "covariates" in names and "covariates" not in settings:
        # ``by`` travels with the data as a covariate; the estimator keeps the
        # covariates of [data] only
        settings["covariates"] = list(data_covariates)
    missing = [p for p, v in params.items() if p != "self" and v.default is inspect.Parameter.empty
               and v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD) and p not in settings]
    if missing:
        raise SpecError(f"{where}: {cls.__name__} needs {missing} (e.g. {missing[0]} = ...).")
    try:
        return cls(**settings)
    except SpimpactError as exc:
        raise SpecError(f"{where}: {exc}") from None
    except TypeError as exc:
        raise SpecError(f"{where}: the settings do not fit {cls.__name__}: {exc}.") from None


# ----------------------------------------------------------------------- data
def read_data(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file."""
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise SpecError(f"[data] path: {path.name} could not be read: {exc}") from None


def file_sha256(path: Path) -> str:
    """Hash of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_ROLE = re.compile(r"\b(outcome|unit|time|cohort|treatment|never_treated|covariates|cluster|"
                   r"weights|exposure|levels)=(\S*?)(?=[\s,;)]|\.(?:\s|$)|$)")


def spec_syntax(message: str) -> str:
    """A Panel message's Python keywords (``never_treated=0``) in spec terms.

    Examples
    --------
    >>> spec_syntax("to code them as never treated, pass never_treated=0.")
    'to code them as never treated, pass never_treated = 0 in [data].'
    """
    def sub(m: re.Match[str]) -> str:
        role, value = m.group(1), m.group(2)
        where = " in the analysis" if role == "outcome" else " in [data]"
        return f"{role} = {value}{where}" if value else f"{role}{where}"

    return _ROLE.sub(sub, message)


def _panel(frame: pd.DataFrame, roles: dict[str, Any], analysis: Analysis) -> Any:
    from .panel import Panel

    roles = dict(roles)
    if analysis.by is not None:
        known = [*roles.get("covariates", []), *roles.get("levels", [])]
        if analysis.by not in known:
            roles["covariates"] = [*roles.get("covariates", []), analysis.by]
    if analysis.outcome not in frame.columns:
        close = [c for c in frame.columns if c.lower() == analysis.outcome.lower()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SpecError(f"analysis {analysis.name!r} outcome = {analysis.outcome!r}: no such "
                        f"column in the data{hint}; its columns are {list(frame.columns)[:30]}.")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            panel = Panel(frame, outcome=analysis.outcome, **roles)
    except SpimpactError as exc:
        raise SpecError(f"analysis {analysis.name!r}: {spec_syntax(str(exc))}") from None
    return panel, [str(w.message) for w in caught]


def _check_options(est: Any, panel: Any, name: str) -> None:
    """Run the estimator's own option checks (those ``fit`` runs first), so that a
    bad setting stops the run, or a dry run, before anything is fitted."""
    check = getattr(est, "_validate", None)
    if not callable(check):
        return
    n_args = len(inspect.signature(check).parameters)
    try:
        if n_args == 0:
            check()
        elif n_args == 1:
            check(panel)
    except SpimpactError as exc:
        raise SpecError(f"analysis {name!r}: {exc}") from None


# ------------------------------------------------------------------------ run
@dataclass
class AnalysisRun:
    """What one analysis produced."""

    analysis: Analysis
    estimator: Any
    result: Any = None
    aggregates: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    panel: Any = None


@dataclass
class RunOutput:
    """What :func:`run` did: the spec, each analysis and the files written."""

    spec: Spec
    analyses: list[AnalysisRun]
    files: list[str]
    comparison: pd.DataFrame | None
    dry_run: bool


def _versions() -> dict[str, str]:
    from importlib import metadata

    from . import __version__

    out = {"spimpact": __version__, "python": platform.python_version()}
    for dist in ("numpy", "pandas", "scipy", "statsmodels", "linearmodels", "scikit-learn",
                 "formulaic", "matplotlib", "pymc", "arviz", "nutpie"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def run(
    spec: Spec | str | Path,
    *,
    dry_run: bool = False,
    out: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    progress_bars: bool = False,
) -> RunOutput:
    """Run an analysis file: read the data, fit every analysis, write the report.

    Parameters
    ----------
    spec : Spec, str or Path
        The spec, or the path of the TOML file.
    dry_run : bool
        Check the spec, the data and every estimator's settings without fitting
        or writing anything.
    out : str or Path, optional
        Output folder instead of the spec's ``[report] out``.
    progress : callable, optional
        Called with a description before each step (the CLI shows it).
    progress_bars : bool
        Let estimators with long steps show their own progress bars (Bayesian
        sampling), unless the spec sets ``progress``.

    Returns
    -------
    RunOutput

    Raises
    ------
    SpecError
        For a mistake in the spec or a column it names; estimation problems
        are raised as the estimators' own errors, prefixed with the analysis.
    """
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    note = progress or (lambda _msg: None)
    folder = Path(out) if out is not None else spec.out
    note(f"reading {spec.data_path.name}")
    frame = read_data(spec.data_path)
    data_covs = list(spec.roles.get("covariates", []))
    runs: list[AnalysisRun] = []
    panels: dict[tuple[str, str | None], Any] = {}  # one Panel per outcome and subgroup
    for analysis in spec.analyses:  # check every analysis before fitting any
        est = build_estimator(analysis, spec.seed, data_covs, progress_bars)
        key = (analysis.outcome, analysis.by)
        if key not in panels:
            panels[key] = _panel(frame, spec.roles, analysis)
        panel, notes = panels[key][0], list(panels[key][1])
        _check_options(est, panel, analysis.name)
        fit_params = inspect.signature(est.fit).parameters
        if analysis.by is not None and "by" not in fit_params:
            raise SpecError(f"analysis {analysis.name!r} by = {analysis.by!r}: "
                            f"{type(est).__name__} does not estimate by subgroup; drop by.")
        runs.append(AnalysisRun(analysis, est, warnings=notes, panel=panel))
    if dry_run:
        return RunOutput(spec, runs, [], None, True)
    folder.mkdir(parents=True, exist_ok=True)
    from .report import Section

    sections: list[Section] = [_data_section_report(spec, frame, runs)]
    files: list[str] = []
    for ar in runs:
        note(f"fitting {ar.analysis.name} ({type(ar.estimator).__name__})")
        sections.append(_fit_one(ar, folder))
        files += ar.files
    comparison = None
    headline = [r for r in runs if r.result.overall is not None]  # not by-subgroup fits
    if headline:
        comparison = _comparison(headline)
        sec = Section("Results side by side")
        stem = folder / "comparison"
        comparison.to_csv(stem.with_suffix(".csv"))
        stem.with_suffix(".tex").write_text(comparison.to_latex(), encoding="utf-8")
        stem.with_suffix(".md").write_text(comparison.to_markdown() + "\n", encoding="utf-8")
        written = ["comparison.csv", "comparison.tex", "comparison.md"]
        try:
            comparison.to_docx(stem.with_suffix(".docx"), spec.title)
            written.append("comparison.docx")
        except DependencyError as exc:  # said in the report, not skipped silently
            sec.warn(f"comparison.docx was not written: {exc}")
        files += written
        left = [r.analysis.name for r in runs if r.result.overall is None]
        sec.text("The headline estimate of every analysis (for group-time estimators the "
                 "simple aggregation, R did's overall ATT), with its sample and settings. "
                 f"{', '.join(written)} hold this table."
                 + (f" Analyses by subgroup ({', '.join(left)}) have one estimate per "
                    "subgroup, shown in their own sections." if left else ""))
        sec.table(comparison.reset_index(names=""), "The analyses side by side.")
        sections.insert(1, sec)
    note("writing the report")
    files += _write_report(spec, folder, sections, runs, frame, files)
    return RunOutput(spec, runs, files, comparison, False)


def _fit_one(ar: AnalysisRun, folder: Path) -> Any:
    """Fit one analysis, write its CSVs and figures, and return its report section."""
    from .report import Section
    from .tables import estimator_settings

    a, est = ar.analysis, ar.estimator
    name = a.name
    sec = Section(f"{name}: {type(est).__name__} on {a.outcome}")
    settings = estimator_settings(est)
    shown = "; ".join(f"{k} = {v!r}" for k, v in settings.items()) or "the defaults"
    sec.text(f"{a.estimator} with {shown}, outcome {a.outcome}"
             + (f", by subgroup {a.by}" if a.by else "") + ".")
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = est.fit(ar.panel, by=a.by) if a.by is not None else est.fit(ar.panel)
            for kind in a.aggregate:
                if not hasattr(res, "aggregate"):
                    raise SpecError(f"analysis {name!r} aggregate = {list(a.aggregate)}: "
                                    f"{type(res).__name__} has no aggregations; drop "
                                    f"aggregate.")
                ar.aggregates[kind] = res.aggregate(kind)
        except SpecError:
            raise
        except SpimpactError as exc:
            raise type(exc)(f"analysis {name!r}: {exc}") from None
    ar.seconds = time.perf_counter() - start
    ar.result = res
    for msg in [*(str(w.message) for w in caught), *res.warnings]:
        if msg not in ar.warnings:
            ar.warnings.append(msg)
    for msg in ar.warnings:
        sec.warn(msg)
    _write_csv(res.estimates, folder / f"{name}.csv")
    ar.files.append(f"{name}.csv")
    sec.result(res, f"{name} ({type(res).__name__}; all rows in {name}.csv)")
    for kind, agg in ar.aggregates.items():
        table = agg.estimates
        if kind == "simple" or table.empty:
            o = agg.overall
            table = pd.DataFrame([{"aggregation": kind, **o.to_dict()}]) if o else table
        _write_csv(table, folder / f"{name}_{kind}.csv")
        ar.files.append(f"{name}_{kind}.csv")
        sec.table(table, f"{name}: {kind} aggregation ({agg.method}); in {name}_{kind}.csv.")
    _figures(ar, sec, folder)
    for key, options in a.extensions.items():  # e.g. [analysis.sensitivity]
        try:
            ar.files += EXTENSIONS[key](res, dict(options), sec, folder)
        except SpimpactError as exc:
            raise SpecError(f"analysis {name!r} [{key}]: {exc}") from None
    return sec


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    # full precision: the CSV round-trips the result's floats exactly
    frame.to_csv(path, index=False)


def _figures(ar: AnalysisRun, sec: Any, folder: Path) -> None:
    import matplotlib.pyplot as plt

    from .results import Result

    name = ar.analysis.name
    plots: list[tuple[str, Any, str]] = []
    kinds = [k for k in ar.aggregates if k != "simple"]
    if kinds:
        plots += [(f"{name}_{k}", ar.aggregates[k], f"{name}: {k} aggregation") for k in kinds]
    else:
        plots.append((name, ar.result, f"{name}: estimates with their intervals"))
    (folder / "figures").mkdir(exist_ok=True)
    for stem, res, caption in plots:
        height = 4.5
        if type(res).plot is Result.plot:  # the coefficient plot grows with its rows
            height = min(8.0, max(2.0, 1.2 + 0.35 * len(res.estimates)))
        fig, ax = plt.subplots(figsize=(8, height))
        try:
            res.plot(ax=ax)
        except Exception as exc:  # a figure must not cost the analysis; say so
            plt.close(fig)
            msg = f"the figure {stem}.png could not be drawn: {type(exc).__name__}: {exc}"
            ar.warnings.append(msg)
            sec.warn(msg)
            continue
        fig.savefig(folder / "figures" / f"{stem}.png", dpi=110, bbox_inches="tight")
        ar.files.append(f"figures/{stem}.png")
        sec.figure(fig, f"{caption} ({res.confidence:.0%} intervals); figures/{stem}.png.")


def _comparison(runs: list[AnalysisRun]) -> pd.DataFrame:
    from .tables import compare

    return compare([r.result for r in runs], names=[r.analysis.name for r in runs],
                   estimators=[r.estimator for r in runs])


def _data_section_report(spec: Spec, frame: pd.DataFrame, runs: list[AnalysisRun]) -> Any:
    from .report import Section

    sec = Section("Data")
    roles = ", ".join(f"{k} = {v!r}" for k, v in spec.roles.items())
    sec.text(f"{spec.data_path.name}: {len(frame):,} rows and {frame.shape[1]} columns, read "
             f"as a Panel with {roles}.")
    seen: set[str] = set()
    for ar in runs:
        panel = ar.panel
        if panel.outcome in seen:
            continue
        seen.add(panel.outcome)
        desc = panel.describe()
        sec.table(pd.DataFrame({"property": desc.index, "value": desc.to_numpy()}),
                  f"The panel with outcome {panel.outcome} (Panel.describe()).")
        for note in ar.warnings:
            sec.warn(note)
    first = runs[0].panel
    if first.has_cohorts:
        sec.table(first.cohorts, "Cohorts (first treated period) and their sizes.")
    return sec


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _write_report(spec: Spec, folder: Path, sections: list[Any], runs: list[AnalysisRun],
                  frame: pd.DataFrame, files: list[str]) -> list[str]:
    from datetime import UTC, datetime

    from . import __version__
    from .report import render_html

    data_hash = file_sha256(spec.data_path)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    provenance = {
        "spimpact": __version__, "python": platform.python_version(),
        "spec": f"{spec.path.name} (sha256 {spec.sha256[:12]})",
        "data": f"{spec.data_path.name} (sha256 {data_hash[:12]}, {len(frame):,} rows)",
        "seed": spec.seed if spec.seed is not None else "none (estimators' own defaults)",
        "run at": when,
        "fitting time": f"{sum(r.seconds for r in runs):.1f} s",
    }
    page = render_html(spec.title, sections,
                       f"spimpact run {spec.path.name}: {len(runs)} analyses of "
                       f"{spec.data_path.name}. Every number here is also in the CSV files "
                       f"beside this report; run.json records how it was made.",
                       provenance=provenance)
    (folder / "report.html").write_text(page, encoding="utf-8")
    record = {
        "spimpact": __version__,
        "versions": _versions(),
        "run_at": when,
        "spec": {"path": str(spec.path), "sha256": spec.sha256, "text": spec.text},
        "data": {"path": str(spec.data_path), "sha256": data_hash, "rows": len(frame),
                 "columns": list(map(str, frame.columns)), "roles": _json_safe(spec.roles)},
        "seed": spec.seed,
        "seconds": round(sum(r.seconds for r in runs), 3),
        "analyses": [
            {"name": r.analysis.name, "estimator": r.analysis.estimator,
             "outcome": r.analysis.outcome,
             "settings": _json_safe(_settings_of(r.estimator)),
             "aggregate": list(r.analysis.aggregate), "by": r.analysis.by,
             "seconds": round(r.seconds, 3), "warnings": r.warnings, "files": r.files,
             "overall": r.result.overall.to_dict() if r.result.overall is not None else None}
            for r in runs
        ],
        "warnings": list(dict.fromkeys(w for sec in sections for w in sec.warnings)),
        "files": ["report.html", *files, "run.json"],
    }
    (folder / "run.json").write_text(json.dumps(record, indent=2, allow_nan=True) + "\n",
                                     encoding="utf-8")
    return ["report.html", "run.json"]


def _settings_of(estimator: Any) -> dict[str, Any]:
    params = inspect.signature(type(estimator).__init__).parameters
    return {p: getattr(estimator, p) for p in params if p != "self" and hasattr(estimator, p)}
