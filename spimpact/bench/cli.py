"""The ``spimpact bench`` command: the one command-line front end of the benchmarks.

``spimpact bench --suite NAME [--reps N] [--out DIR]`` runs a standard suite
(``--suite all`` every one; ``make bench`` adds ``--docs`` to regenerate the
results page), ``spimpact bench --list`` lists the suites, scenarios and
estimators, and ``spimpact bench --scenario NAME ...`` runs scenarios against
estimators (or draws a power curve) ad hoc.

:data:`bench` is a :class:`click.Command` named ``bench``, added to the
package's command group (``spimpact bench ...``); it also runs alone as
``python -m spimpact.bench.cli``.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import click
import pandas as pd

__all__ = ["bench"]


def _value(text: str) -> Any:
    """A ``--set`` value: a Python/TOML-like literal, else the string itself."""
    low = text.strip()
    if low in ("true", "false"):
        return low == "true"
    try:
        return ast.literal_eval(low)
    except (ValueError, SyntaxError):
        return low


def _params(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in pairs:
        key, sep, val = p.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{p!r}: write KEY=VALUE, e.g. --set n_pcns=1250",
                                     param_hint="--set")
        out[key.strip()] = _value(val)
    return out


def _listing() -> None:
    from rich.console import Console
    from rich.table import Table

    from .estimators import list_estimators
    from .scenarios import list_scenarios

    console = Console()
    for title, frame in (("Standard suites (--suite)", _suite_listing()),
                         ("Scenarios (--scenario)", list_scenarios()),
                         ("Estimators (--estimators)", list_estimators())):
        tab = Table(title=title, header_style="bold", show_lines=False)
        for i, c in enumerate(frame.columns):
            tab.add_column(str(c), overflow="fold", no_wrap=i == 0)
        for _, r in frame.iterrows():
            tab.add_row(*(str(v) for v in r))
        console.print(tab)


def _suite_listing() -> pd.DataFrame:
    from .suites import load_suites

    return pd.DataFrame([{"suite": s.name, "title": s.title, "runs": len(s.runs),
                          "power analyses": len(s.powers), "reps": s.reps}
                         for s in load_suites()])


def _numbers(text: str | None, what: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: write numbers separated by commas, e.g. "
                                 f"1,0.99,0.98", param_hint=what) from exc


def _design(pairs: tuple[str, ...]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for p in pairs:
        key, sep, vals = p.partition("=")
        if not sep or not key.strip() or not vals.strip():
            raise click.BadParameter(f"{p!r}: write KEY=V1,V2,..., e.g. --vary n_pcns=40,80,160",
                                     param_hint="--vary")
        out[key.strip()] = [_value(v) for v in vals.split(",") if v.strip()]
    return out


@click.command("bench")
@click.option("--suite", "suite_names", multiple=True, metavar="NAME",
              help="Run a standard suite (repeatable; 'all' runs every one; a path to a "
                   ".toml file, or to a folder of them such as ./my-suites, runs those); "
                   "see --list.")
@click.option("--docs", default=None, type=click.Path(dir_okay=False),
              help="With --suite: also write the markdown results page here (make bench "
                   "writes docs/bench_results.md).")
@click.option("--scenario", "-s", "scenarios", multiple=True,
              help="Scenario name (repeatable); see --list.")
@click.option("--estimators", "-e", default=None,
              help="Comma-separated estimators, with options in brackets, e.g. "
                   "\"callaway_santanna,callaway_santanna[anticipation=1],twfe\". "
                   "Default: every available estimator for the scenario.")
@click.option("--reps", "-r", default=None, type=click.IntRange(min=2),
              help="Replications per scenario (per design and effect for a power curve; "
                   "default 100). With --suite, a cap on every run's replications "
                   "(default: each suite's own).")
@click.option("--seed", default=None, type=click.IntRange(min=0),
              help="Root seed (the same seed gives the same table on any engine).")
@click.option("--target", "-t", "targets", multiple=True,
              help="Target (repeatable): overall (default), event:<e>, group:<cohort>, "
                   "calendar:<period>.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a scenario parameter (repeatable), e.g. --set n_pcns=1250.")
@click.option("--effects", default=None, metavar="E1,E2,...",
              help="Power curve: effect sizes on the simulator's scale (one scenario, one "
                   "estimator).")
@click.option("--rate-ratios", default=None, metavar="R1,R2,...",
              help="Power curve: effects as rate ratios, e.g. 1,0.99,0.98 (their logs are "
                   "the effects).")
@click.option("--vary", multiple=True, metavar="KEY=V1,V2",
              help="Power curve: a design parameter to vary (repeatable, crossed), e.g. "
                   "--vary n_pcns=40,80,160 --vary n_periods=12,16.")
@click.option("--level", default=0.8, show_default=True, type=click.FloatRange(0, 1,
              min_open=True, max_open=True), help="Power wanted for the minimum detectable "
              "effect.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local",
              show_default=True)
@click.option("--scheduler", default=None,
              help="Dask scheduler address (e.g. tcp://host:8786); without it --engine dask "
                   "starts a local cluster on 127.0.0.1.")
@click.option("--n-jobs", "-j", default=None, type=int,
              help="Worker processes (default: every CPU; 1 = in this process).")
@click.option("--out", "-o", default="spimpact-bench", show_default=True,
              type=click.Path(file_okay=False), help="Output folder.")
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option("--list", "list_", is_flag=True,
              help="List the standard suites, scenarios and estimators, then exit.")
def bench(suite_names: tuple[str, ...], docs: str | None, scenarios: tuple[str, ...],
          estimators: str | None, reps: int | None, seed: int | None,
          targets: tuple[str, ...], sets: tuple[str, ...], effects: str | None,
          rate_ratios: str | None, vary: tuple[str, ...], level: float, engine: str,
          scheduler: str | None, n_jobs: int | None, out: str, progress: bool,
          list_: bool) -> None:
    """Monte Carlo benchmark: bias, RMSE, coverage, size and power of estimators on
    simulated data with a known truth.

    With --suite it runs standard suites (or suite files) and writes, into OUT,
    bench_table.csv and .parquet (every run's table, with suite and run
    columns and the bias/coverage verdicts), bench_records.parquet (every
    replication), bench_power.csv and .parquet (power analyses) and
    bench_report.html; with --docs also the markdown results page.

    With --scenario it writes, per scenario, OUT/<scenario>_table.csv and .parquet (one row per
    estimator and target), OUT/<scenario>_records.parquet (every replication)
    and OUT/<scenario>_report.html (table and bias/coverage plot), plus
    OUT/table.csv and OUT/table.parquet (every scenario, with a scenario
    column) and OUT/report.html with every scenario.

    With --effects or --rate-ratios it draws a power curve instead (one
    scenario, one estimator, optionally over --vary designs) and writes
    OUT/<scenario>_power.csv and .parquet, OUT/<scenario>_mde.csv and
    OUT/<scenario>_power.html.

    Examples: spimpact bench --suite did --reps 50 -o bench-out; spimpact bench -s
    heterogeneous_dynamic -e callaway_santanna,twfe -r 200
    --seed 1 -o bench-out; spimpact bench -s ae_attendances -e callaway_santanna
    --rate-ratios 1,0.995,0.99,0.98 --vary n_pcns=20,40,80 -r 200 --seed 1
    """
    from ..errors import SpimpactError

    if list_:
        _listing()
        return
    if scheduler is not None and engine != "dask":
        raise click.UsageError("--scheduler needs --engine dask.")
    if suite_names:
        given = [flag for flag, value in (
            ("--scenario", scenarios), ("--estimators", estimators), ("--seed", seed),
            ("--target", targets), ("--set", sets), ("--effects", effects),
            ("--rate-ratios", rate_ratios), ("--vary", vary)) if value]
        if given:
            raise click.UsageError(f"--suite runs suites as their files declare them; drop "
                                   f"{', '.join(given)} (options of --scenario runs).")
        try:
            _suites(suite_names, reps, Path(out), docs, engine=engine, client=scheduler,
                    n_jobs=n_jobs, progress=progress)
        except SpimpactError as exc:
            raise click.ClickException(str(exc)) from exc
        return
    if docs is not None:
        raise click.UsageError("--docs writes the results page of a --suite run.")
    if not scenarios:
        raise click.UsageError("name a --suite or at least one --scenario (see spimpact "
                               "bench --list).")
    reps = 100 if reps is None else reps
    eff = _numbers(effects, "--effects")
    rr = _numbers(rate_ratios, "--rate-ratios")
    opts: dict[str, Any] = {"reps": reps, "seed": seed, "params": _params(sets), "engine": engine,
            "client": scheduler, "n_jobs": n_jobs, "progress": progress, "out": Path(out)}
    try:
        if eff is None and rr is None:
            if vary:
                raise click.UsageError("--vary needs --effects or --rate-ratios (a power curve).")
            _benchmarks(scenarios, estimators, targets, **opts)
        else:
            _power(scenarios, estimators, eff, rr, _design(vary), level, targets, **opts)
    except SpimpactError as exc:
        raise click.ClickException(str(exc)) from exc


def _load(names: tuple[str, ...]) -> list[Any]:
    """The suites named: standard ones by name ('all': every one); a value with a path
    separator or ending in .toml is a suite file, or a folder of them."""
    import os

    from ..errors import OptionError
    from .suites import load_suite, load_suites

    out: list[Any] = []
    for n in names:  # a handful of names
        if n.endswith(".toml") or os.sep in n or "/" in n:
            path = Path(n)
            if path.is_dir():
                found = load_suites(path)
                if not found:
                    raise OptionError(f"no *.toml suite in the folder {path}.")
                out += found
            else:
                out.append(load_suite(path))
        else:
            out += load_suites() if n == "all" else load_suites(names=[n])
    seen = [s.name for s in out]
    repeated = sorted({n for n in seen if seen.count(n) > 1})
    if repeated:
        raise OptionError(f"suite(s) {repeated} named more than once; name each once.")
    return out


def _suites(names: tuple[str, ...], reps: int | None, out: Path, docs: str | None,
            **engine: Any) -> None:
    from rich.console import Console

    from ._page import results_markdown
    from .suites import run_suite, write_outputs

    console = Console()
    results = []
    for s in _load(names):  # a handful of suites
        console.print(f"suite {s.name}: {len(s.runs)} runs, {len(s.powers)} power analyses, "
                      f"{s.reps if reps is None else min(reps, s.reps)} replications each")
        results.append(run_suite(s, reps=reps, **engine))
    for path in write_outputs(results, out).values():
        console.print(f"wrote {path}")
    if docs is not None:
        Path(docs).parent.mkdir(parents=True, exist_ok=True)
        Path(docs).write_text(results_markdown(results), encoding="utf-8")
        console.print(f"wrote {docs}")


def _benchmarks(scenarios: tuple[str, ...], estimators: str | None, targets: tuple[str, ...],
                *, reps: int, seed: int | None, params: dict[str, Any], out: Path,
                **engine: Any) -> None:
    from rich.console import Console

    from ..report import render_html
    from .engine import run

    console = Console()
    sections: list[Any] = []
    tables: list[tuple[str, pd.DataFrame]] = []
    for name in scenarios:  # a handful of scenarios
        res = run(name, estimators, reps, seed, targets=targets or None, params=params, **engine)
        paths = res.save(out, stem=name)
        console.print(res)
        for w in res.warnings:
            console.print(f"[yellow]Warning:[/] {w}")
        console.print(f"seed {res.random_state}; wrote " + ", ".join(map(str, paths.values())))
        sections.append(res.to_section())
        tables.append((name, res.table))
    stacked = pd.concat([t.assign(scenario=n) for n, t in tables], ignore_index=True)
    stacked = stacked[["scenario", *[c for c in stacked.columns if c != "scenario"]]]
    stacked.to_csv(out / "table.csv", index=False)
    stacked.to_parquet(out / "table.parquet", index=False)
    report = out / "report.html"
    report.write_text(render_html("spimpact benchmark", sections), encoding="utf-8")
    console.print(f"wrote {out / 'table.csv'}, {out / 'table.parquet'}, {report}")


def _power(scenarios: tuple[str, ...], estimators: str | None, effects: list[float] | None,
           rate_ratios: list[float] | None, design: dict[str, list[Any]], level: float,
           targets: tuple[str, ...], *, reps: int, seed: int | None, params: dict[str, Any],
           out: Path, **engine: Any) -> None:
    import numpy as np
    from rich.console import Console

    from .estimators import _split_top
    from .power import power

    if effects is not None and rate_ratios is not None:
        raise click.UsageError("give --effects or --rate-ratios, not both.")
    if rate_ratios is not None and min(rate_ratios) <= 0:
        raise click.BadParameter("rate ratios must be positive.", param_hint="--rate-ratios")
    ests = _split_top(estimators or "")
    if len(scenarios) != 1 or len(ests) != 1 or len(targets) > 1:
        raise click.UsageError("a power curve takes one --scenario, one estimator in "
                               "--estimators and at most one --target.")
    eff = effects if effects is not None else list(np.log(rate_ratios))  # type: ignore[arg-type]
    pw = power(scenarios[0], ests[0], eff, reps=reps, random_state=seed, level=level,
               target=targets[0] if targets else "overall", design=design or None,
               params=params, **engine)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{scenarios[0]}_"
    pw.table.to_csv(f"{stem}power.csv", index=False)
    pw.table.to_parquet(f"{stem}power.parquet", index=False)
    pw.mde.to_csv(f"{stem}mde.csv", index=False)
    Path(f"{stem}power.html").write_text(pw.to_html(), encoding="utf-8")
    console = Console()
    console.print(pw.summary())
    console.print(f"seed {pw.random_state}; wrote {stem}power.csv, {stem}power.parquet, "
                  f"{stem}mde.csv, {stem}power.html")


if __name__ == "__main__":  # pragma: no cover
    bench()
