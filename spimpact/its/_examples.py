"""Small example data for docstrings, the user guide and the vignette."""

from __future__ import annotations

from importlib import resources

import pandas as pd

from ..panel import Panel

__all__ = ["load_sicily", "example_panel", "example_sites"]


def load_sicily() -> pd.DataFrame:
    """Monthly acute coronary events in Sicily, 2002-2006 (59 months).

    The worked example of Lopez Bernal, Cummins & Gasparrini (Int J Epidemiol
    2017): ``year, month, aces`` (events), ``time`` (1..59), ``smokban`` (1
    from January 2005, month 37, when smoking was banned in public places),
    ``pop`` and ``stdpop`` (the age-standardised population, the offset).

    Examples
    --------
    >>> load_sicily().shape
    (59, 7)
    """
    with resources.files(__package__).joinpath("data/sicily.csv").open("r") as f:
        return pd.read_csv(f)


def example_panel(random_state: int = 0) -> Panel:
    """One simulated monthly series (2015-2023) of counts with a population,
    interrupted in 2019-07 with a true rate ratio of 0.9.

    Examples
    --------
    >>> example_panel().kind
    'series'
    """
    from ..simulate import interrupted_series

    sim = interrupted_series(random_state=random_state)
    return Panel(sim.data, outcome="count", time="month", exposure="population")


def example_sites(n_sites: int = 20, random_state: int = 0) -> Panel:
    """Simulated monthly series of ``n_sites`` sites interrupted a month apart
    from 2019-01 (true rate ratio 0.9), with the interruption as the cohort.

    Examples
    --------
    >>> example_sites(5).n_units
    5
    """
    from ..simulate import interrupted_series

    sim = interrupted_series(
        n_series=n_sites, interruption="2019-01", stagger=1, random_state=random_state
    )
    return Panel(
        sim.data,
        outcome="count",
        unit="series",
        time="month",
        cohort="interruption",
        exposure="population",
    )
