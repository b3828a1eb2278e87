"""The ``spimpact`` command line: ``demo``, ``run``, ``describe`` and ``bench``."""

from __future__ import annotations

import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any, NoReturn

import click

from . import __version__

__all__ = ["main"]


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=False, highlight=False)


def _rich_table(frame: Any, max_rows: int = 25, caption: str = "") -> Any:
    from rich.table import Table

    from ._format import format_frame

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False,
                  caption=caption or None, caption_justify="left")
    for col in frame.columns:
        table.add_column(str(col), justify="right")
    for row in format_frame(frame.head(max_rows)).itertuples(index=False):
        table.add_row(*row)
    if len(frame) > max_rows:
        table.add_row(*(["..."] * len(frame.columns)))
    return table


def print_section(console: Any, section: Any) -> None:
    """Print a report section to the terminal (figures go to the HTML report)."""
    from rich.rule import Rule

    from .report import result_summary

    console.print(Rule(f"[bold]{section.title}"))
    for i, (kind, obj) in enumerate(section.blocks):
        caption = section.captions.get(i, "")
        if kind == "text":
            console.print(obj)
        elif kind == "table":
            console.print(_rich_table(obj, caption=caption))
        elif kind == "result":
            header, table, n = result_summary(obj, max_rows=20)
            console.print(_rich_table(header, 50, caption=caption or type(obj).__name__))
            console.print(_rich_table(table, 20))
            if n > len(table):
                console.print(f"[dim]... {n:,} rows in all[/dim]")
        elif kind == "figure":
            console.print(f"[dim](figure in the HTML report: {caption})[/dim]")
    for message in section.warnings:
        console.print(f"[yellow]warning:[/yellow] {message}")


_ROLE_FLAG = re.compile(r"\b(outcome|unit|time|cohort|treatment|never_treated|covariates|"
                        r"cluster|weights|exposure|levels)=(\S*?)(?=[\s,;)]|\.(?:\s|$)|$)")


def cli_syntax(message: str) -> str:
    """A Panel message's Python keywords (``never_treated=0``) as command-line flags.

    Examples
    --------
    >>> cli_syntax("to code them as never treated, pass never_treated=0.")
    'to code them as never treated, pass --never-treated 0.'
    """
    flags = {"covariates": "covariate", "levels": "level"}

    def sub(m: re.Match[str]) -> str:
        flag = "--" + flags.get(m.group(1), m.group(1)).replace("_", "-")
        return f"{flag} {m.group(2)}" if m.group(2) else flag

    return _ROLE_FLAG.sub(sub, message)


class _Group(click.Group):
    """A group whose heavier subcommands (``bench``) import only when invoked."""

    lazy = {"bench": ("spimpact.bench.cli", "bench")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            import importlib

            module, attr = self.lazy[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="spimpact")
def main() -> None:
    """spimpact: quasi-experimental impact evaluation on panel data."""


@main.command()
@click.option("--out", "out", default="spimpact-demo", show_default=True,
              type=click.Path(file_okay=False), help="Folder for report.html.")
@click.option("--quick", is_flag=True,
              help="Smaller simulations and no Bayesian section (about 15 s of computing on two "
                   "cores; add --only bayes for it).")
@click.option("--seed", default=2019, show_default=True, type=int, help="Random seed.")
@click.option("--only", multiple=True,
              type=click.Choice(["panel", "did", "matching", "its", "bayes", "econ", "equity"]),
              help="Run only these sections (repeatable).")
def demo(out: str, quick: bool, seed: int, only: tuple[str, ...]) -> None:
    """Simulate the England-like link-worker rollout and evaluate it with every estimator.

    Prints the tables and writes a self-contained HTML report (figures embedded)
    to OUT/report.html. The full demo takes several minutes (the Bayesian
    section samples with PyMC); --quick gives a first look.
    """
    import platform
    import time
    from datetime import UTC, datetime

    os.environ.setdefault("MPLBACKEND", "Agg")
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from .demo import FAMILIES, run_sections
    from .errors import SpimpactWarning
    from .report import render_html

    console = _console()
    total = len(only) if only else 1 + len(FAMILIES)
    sections, skipped = [], []
    start = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("simulating the rollout", total=total)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # recorded for the report's warnings box
            seen = 0
            for run in run_sections(random_state=seed, quick=quick, only=only,
                                    progress=console.is_terminal):
                progress.advance(task)
                progress.update(task, description=f"done: {run.title}")
                raised, seen = caught[seen:], len(caught)
                if run.section is None:
                    skipped.append(f"{run.title}: {run.skipped}.")
                    continue
                for w in raised:
                    if issubclass(w.category, SpimpactWarning):
                        run.section.warn(str(w.message))
                progress.console.print(f"[green]done[/green] {run.title} ({run.seconds:.1f} s)")
                print_section(console, run.section)
                sections.append(run.section)
    for line in skipped:
        console.print(f"[yellow]{line}[/yellow]")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    preamble = ("The simulated England-like rollout of social prescribing link workers, "
                "evaluated by every estimator family, each against the simulated truth.")
    if skipped:
        preamble += " Not in this report: " + " ".join(skipped)
    provenance = {
        "spimpact": __version__, "python": platform.python_version(), "seed": seed,
        "sizes": "quick (smaller simulations)" if quick else "full",
        "run at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "time": f"{time.perf_counter() - start:.0f} s",
    }
    path = folder / "report.html"
    path.write_text(render_html("spimpact demo report", sections, preamble,
                                provenance=provenance), encoding="utf-8")
    console.print(f"Report written to [bold]{path}[/bold] "
                  f"({time.perf_counter() - start:.0f} s)")


def _fail(message: str) -> NoReturn:
    """Print an error without a traceback and exit with status 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--outcome", required=True, help="Outcome column.")
@click.option("--unit", default=None, help="Unit column (omit for one series).")
@click.option("--time", "time_", default=None, help="Time column.")
@click.option("--cohort", default=None, help="First-treated period column.")
@click.option("--treatment", default=None, help="0/1 treatment column (instead of --cohort).")
@click.option("--never-treated", default=None, help="Cohort code meaning never treated (e.g. 0).")
@click.option("--covariate", "covariates", multiple=True, help="Covariate column (repeatable).")
@click.option("--cluster", default=None, help="Cluster column for inference.")
@click.option("--weights", default=None, help="Sampling-weight column.")
@click.option("--exposure", default=None, help="Population-at-risk column.")
@click.option("--level", "levels", multiple=True, help="Nesting column, smallest first "
              "(repeatable).")
def describe(path: str, outcome: str, unit: str | None, time_: str | None, cohort: str | None,
             treatment: str | None, never_treated: str | None, covariates: tuple[str, ...],
             cluster: str | None, weights: str | None, exposure: str | None,
             levels: tuple[str, ...]) -> None:
    """Read a CSV or Parquet file into a Panel and describe it (or say what is wrong).

    The flags are the Panel roles of `spimpact run`'s [data] table.
    """
    import pandas as pd

    from .errors import SpimpactError
    from .panel import Panel

    frame = pd.read_parquet(path) if path.endswith((".parquet", ".pq")) else pd.read_csv(path)
    nt: Any = never_treated
    if nt is not None:
        try:
            nt = float(nt) if "." in nt else int(nt)
        except ValueError:
            pass
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            panel = Panel(frame, outcome=outcome, unit=unit, time=time_, cohort=cohort,
                          treatment=treatment, never_treated=nt, covariates=list(covariates),
                          cluster=cluster, weights=weights, exposure=exposure,
                          levels=list(levels))
    except SpimpactError as exc:
        _fail(cli_syntax(str(exc)))
    console = _console()
    desc = panel.describe().drop("notes", errors="ignore")
    console.print(_rich_table(pd.DataFrame({"property": desc.index, "value": desc.to_numpy()}),
                              50))
    if panel.has_cohorts:
        console.print(_rich_table(panel.cohorts, 50, caption="Cohorts and their sizes."))
    notes = list(dict.fromkeys([*panel.notes, *(str(w.message) for w in caught)]))
    for note in notes:
        console.print(f"[yellow]note:[/yellow] {cli_syntax(note)}")


@main.command(name="run")
@click.argument("spec", required=False, type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the spec and the data without fitting.")
@click.option("--out", default=None, type=click.Path(file_okay=False),
              help="Output folder (default: the spec's [report] out).")
@click.option("--example", is_flag=True, help="Print a commented example spec and exit.")
def run_command(spec: str | None, dry_run: bool, out: str | None, example: bool) -> None:
    """Run the analyses of a TOML analysis file on your own data.

    Writes OUT/report.html, a CSV of estimates per analysis and aggregation,
    figures (PNG), comparison.csv/.tex/.md and run.json (versions, the spec and
    data hashes, seeds, timings, warnings). `spimpact run --example` prints a
    commented spec to start from.
    """
    from .run import EXAMPLE_SPEC

    if example:
        click.echo(EXAMPLE_SPEC, nl=False)
        return
    if spec is None:
        _fail("give the analysis file, e.g. `spimpact run analysis.toml`; "
              "`spimpact run --example > analysis.toml` writes one to start from.")
    os.environ.setdefault("MPLBACKEND", "Agg")
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from .errors import SpimpactError
    from .run import load_spec, run

    console = _console()
    try:
        parsed = load_spec(spec)
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("reading the spec", total=None)

            def step(message: str) -> None:
                progress.update(task, description=message)
                progress.console.print(f"[dim]{message}[/dim]")

            output = run(parsed, dry_run=dry_run, out=out, progress=step,
                         progress_bars=console.is_terminal)
    except SpimpactError as exc:
        _fail(str(exc))
    if output.dry_run:
        console.print(f"[green]ok[/green] {parsed.path.name}: the data and "
                      f"{len(output.analyses)} analyses check out (nothing fitted).")
        for ar in output.analyses:
            console.print(f"  {ar.analysis.name}: {type(ar.estimator).__name__} on "
                          f"{ar.analysis.outcome} ({ar.panel.n_units:,} units, "
                          f"{ar.panel.n_periods} periods)")
        return
    if output.comparison is not None:
        console.print(_rich_table(output.comparison.reset_index(names=""), 30,
                                  caption="The analyses side by side."))
    for ar in output.analyses:
        for message in ar.warnings:
            console.print(f"[yellow]warning[/yellow] ({ar.analysis.name}): {message}")
    folder = Path(out) if out is not None else parsed.out
    console.print(f"Wrote [bold]{folder / 'report.html'}[/bold] and {len(output.files) - 1} "
                  f"more files (CSVs, figures, run.json) in {folder}.")


if __name__ == "__main__":  # pragma: no cover
    main()
