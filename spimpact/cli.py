"""The ``spimpact`` command line: ``spimpact demo``, ``spimpact bench``, ``spimpact describe``."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any

import click

from . import __version__

__all__ = ["main"]


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=False, highlight=False)


def _rich_table(frame: Any, max_rows: int = 25) -> Any:
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in frame.columns:
        table.add_column(str(col), justify="right")
    for row in frame.head(max_rows).itertuples(index=False):
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    if len(frame) > max_rows:
        table.add_row(*(["..."] * len(frame.columns)))
    return table


def print_section(console: Any, section: Any) -> None:
    """Print a report section to the terminal (figures go to the HTML report)."""
    from rich.rule import Rule

    console.print(Rule(f"[bold]{section.title}"))
    for kind, obj in section.blocks:
        if kind == "text":
            console.print(obj)
        elif kind == "table":
            console.print(_rich_table(obj))
        elif kind == "result":
            console.print(obj)
        elif kind == "figure":
            console.print("[dim](figure in the HTML report)[/dim]")


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
@click.option("--quick", is_flag=True, help="Smaller simulations (a first look in seconds).")
@click.option("--seed", default=2019, show_default=True, type=int, help="Random seed.")
@click.option("--only", multiple=True,
              type=click.Choice(["panel", "did", "matching", "its", "bayes", "econ", "equity"]),
              help="Run only these sections (repeatable).")
def demo(out: str, quick: bool, seed: int, only: tuple[str, ...]) -> None:
    """Simulate the England-like link-worker rollout and evaluate it with every estimator.

    Prints the tables and writes a self-contained HTML report (figures embedded)
    to OUT/report.html.
    """
    os.environ.setdefault("MPLBACKEND", "Agg")
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from .demo import FAMILIES, run_sections
    from .report import render_html

    console = _console()
    total = len(only) if only else 1 + len(FAMILIES)
    sections, skipped = [], []
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("simulating the rollout", total=total)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # red flags are kept on each result
            for run in run_sections(random_state=seed, quick=quick, only=only):
                progress.advance(task)
                progress.update(task, description=f"done: {run.title}")
                if run.section is None:
                    skipped.append(f"{run.title}: skipped ({run.skipped})")
                    continue
                progress.console.print(f"[green]done[/green] {run.title} ({run.seconds:.1f} s)")
                print_section(console, run.section)
                sections.append(run.section)
    for line in skipped:
        console.print(f"[yellow]{line}[/yellow]")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    preamble = (f"spimpact {__version__}: the simulated England-like rollout of social "
                f"prescribing link workers (seed {seed}{', quick sizes' if quick else ''}), "
                "evaluated by every estimator family, each against the simulated truth.")
    if skipped:
        preamble += " " + " ".join(skipped)
    path = folder / "report.html"
    path.write_text(render_html("spimpact demo report", sections, preamble), encoding="utf-8")
    console.print(f"Report written to [bold]{path}[/bold]")


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--outcome", required=True, help="Outcome column.")
@click.option("--unit", default=None, help="Unit column (omit for one series).")
@click.option("--time", "time_", default=None, help="Time column.")
@click.option("--cohort", default=None, help="First-treated period column.")
@click.option("--treatment", default=None, help="0/1 treatment column (instead of --cohort).")
@click.option("--never-treated", default=None, help="Cohort code meaning never treated (e.g. 0).")
@click.option("--exposure", default=None, help="Population-at-risk column.")
@click.option("--level", "levels", multiple=True, help="Nesting column, smallest first "
              "(repeatable).")
def describe(path: str, outcome: str, unit: str | None, time_: str | None, cohort: str | None,
             treatment: str | None, never_treated: str | None, exposure: str | None,
             levels: tuple[str, ...]) -> None:
    """Read a CSV or Parquet file into a Panel and describe it (or say what is wrong)."""
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
        panel = Panel(frame, outcome=outcome, unit=unit, time=time_, cohort=cohort,
                      treatment=treatment, never_treated=nt, exposure=exposure,
                      levels=list(levels))
    except SpimpactError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    console = _console()
    desc = panel.describe()
    console.print(_rich_table(pd.DataFrame({"property": desc.index,
                                            "value": desc.astype(str).to_numpy()}), 50))
    for note in panel.notes:
        console.print(f"[yellow]note:[/yellow] {note}")


if __name__ == "__main__":  # pragma: no cover
    main()
