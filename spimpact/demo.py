"""``spimpact demo``: the England-like rollout, described and evaluated by every family.

The demo is a list of report sections: the panel section here, then one
section from each estimator family's ``demo`` module that this installation
can run (a family whose optional dependency is missing is reported as
skipped, with the install hint, never silently left out).
"""

from __future__ import annotations

import importlib
import inspect
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .errors import DependencyError
from .report import Section

__all__ = ["FAMILIES", "SLOW", "SectionRun", "panel_section", "run_sections"]

#: Report sections in order: (key, title, module with a ``demo`` function).
FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("did", "Staggered difference-in-differences", "spimpact.did.demo"),
    ("matching", "Propensity-matched cohort", "spimpact.matching.demo"),
    ("its", "Interrupted time series", "spimpact.its.demo"),
    ("bayes", "Bayesian multilevel models", "spimpact.bayes.demo"),
    ("econ", "Value for money", "spimpact.econ.demo"),
    ("equity", "Equity", "spimpact.equity.demo"),
)

#: Sections ``--quick`` leaves out unless asked for by name (``only``), and why.
SLOW: dict[str, str] = {
    "bayes": "left out by --quick: PyMC compiles and samples for a minute or two; "
             "`spimpact demo --quick --only bayes` runs it",
}


def panel_section(random_state: int = 2019, quick: bool = False) -> Section:
    """Simulate the England-like rollout and describe it as a :class:`~spimpact.Panel`.

    Parameters
    ----------
    random_state : int
        Seed of the simulation.
    quick : bool
        Simulate 250 PCNs instead of the England-sized 1,250.

    Returns
    -------
    Section

    Examples
    --------
    >>> sec = panel_section(random_state=1, quick=True)
    >>> sec.title
    'The simulated rollout as a Panel'
    """
    import matplotlib.pyplot as plt

    from .simulate import pcn_rollout

    sec = Section("The simulated rollout as a Panel")
    options: dict[str, Any] = {"n_pcns": 250, "n_icbs": 10} if quick else {}
    sim = pcn_rollout(random_state=random_state, **options)
    panel = sim.panel("ae_attendances")
    sec.text(
        f"An England-like practice-quarter panel: {panel.n_units:,} practices in "
        f"{sim.data['pcn'].nunique():,} PCNs and {sim.data['icb'].nunique()} ICBs, "
        f"{panel.periods[0]} to {panel.periods[-1]}. PCNs start their link-worker service "
        "between 2019Q3 and 2023Q4 (areas of higher need later, and more often never); "
        "A&E attendances are counts over the practice list size, hit by COVID-19 in "
        "2020Q2-2021Q1."
    )
    desc = panel.describe()
    sec.table(pd.DataFrame({"property": desc.index, "value": desc.to_numpy()}),
              "Panel.describe(): the panel's sizes, cohorts and outcome.")
    sec.table(panel.cohorts.head(24), "Cohorts (first treated quarter) and their sizes.")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    panel.plot_rollout(ax=ax, max_units=800)
    sec.figure(fig, "The rollout: practices by quarter, coloured by link-worker status.")
    pcn = panel.aggregate(to="pcn")
    sec.text(
        f"Panel.aggregate(to='pcn') sums counts and list sizes to {pcn.n_units:,} PCNs "
        f"x {pcn.n_periods} quarters, for analyses at the level where the service started."
    )
    return sec


@dataclass(frozen=True)
class SectionRun:
    """One section of the demo: its key, the section (or None) and what happened."""

    key: str
    title: str
    section: Section | None
    seconds: float
    skipped: str = ""


def _family_demo(module: str) -> Callable[..., Section] | None:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("spimpact"):
            return None  # this family is not part of the installed package
        raise
    return getattr(mod, "demo", None)


def run_sections(
    random_state: int = 2019, quick: bool = False, only: tuple[str, ...] = (),
    progress: bool = False,
) -> Iterator[SectionRun]:
    """Yield the demo's sections one by one (so a caller can show progress).

    Parameters
    ----------
    random_state : int
        Seed shared by every section.
    quick : bool
        Smaller simulations (for tests and a first look); the sections in
        :data:`SLOW` run only when named in ``only``.
    only : tuple of str
        Keys to run (``"panel"``, ``"did"``, ``"matching"``, ``"its"``, ``"bayes"``,
        ``"econ"``, ``"equity"``);
        empty runs them all.
    progress : bool
        Let sections with long steps (Bayesian sampling) show their progress bars.

    Yields
    ------
    SectionRun
    """
    plan: list[tuple[str, str, Callable[..., Section] | None]] = [
        ("panel", "The simulated rollout as a Panel", panel_section)
    ]
    plan += [(key, title, _family_demo(module)) for key, title, module in FAMILIES]
    for key, title, func in plan:
        if only and key not in only:
            continue
        if func is None:
            yield SectionRun(key, title, None, 0.0, "not in this installation")
            continue
        if quick and key in SLOW and key not in only:
            yield SectionRun(key, title, None, 0.0, SLOW[key])
            continue
        start = time.perf_counter()
        try:
            extra = ({"progress": progress}
                     if "progress" in inspect.signature(func).parameters else {})
            section = func(random_state=random_state, quick=quick, **extra)
        except DependencyError as exc:
            yield SectionRun(key, title, None, time.perf_counter() - start, str(exc))
            continue
        yield SectionRun(key, title, section, time.perf_counter() - start)
