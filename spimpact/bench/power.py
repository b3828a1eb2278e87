"""Power curves and minimum detectable effects of a design, by simulation.

:func:`power` simulates a scenario at several effect sizes (and optionally
several designs: numbers of PCNs, quarters...), fits one estimator to each
replication and reports the rejection rate of "no effect" with its Monte
Carlo SE. The minimum detectable effect (MDE) of each design is the effect at
which the power curve crosses the requested power, by linear interpolation
between the two effect sizes that bracket it. Every effect size and design
uses the same replication seeds (common random numbers), so the curves are
smooth in the effect size.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import OptionError
from ._targets import parse_target
from .engine import Engine, Job, _resolve, _validate_reps, execute, root_seed
from .metrics import summarise
from .result import _Frozen
from .scenarios import Scenario, get_scenario

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["power", "PowerResult", "minimum_detectable_effect"]


def minimum_detectable_effect(
    effects: Sequence[float], rejection: Sequence[float], level: float = 0.8
) -> tuple[float, str]:
    """The effect at which power first reaches ``level``, interpolating linearly in
    ``|effect|`` between the two bracketing effect sizes.

    Returns the MDE (signed like the effects; NaN when not bracketed) and a note.

    Examples
    --------
    >>> mde, note = minimum_detectable_effect([0.0, 0.1, 0.2], [0.05, 0.5, 0.9])
    >>> round(mde, 6), note
    (0.175, '')
    >>> minimum_detectable_effect([0.1, 0.2], [0.2, 0.4])[1]
    'power stays below 0.8 up to the largest effect tried (0.2)'
    """
    e = np.asarray(effects, dtype=float)
    r = np.asarray(rejection, dtype=float)
    order = np.argsort(np.abs(e), kind="stable")
    e, r = e[order], r[order]
    hit = np.flatnonzero(r >= level)
    if len(hit) == 0:
        return np.nan, f"power stays below {level:g} up to the largest effect tried ({e[-1]:g})"
    i = int(hit[0])
    if i == 0:
        return np.nan, (f"power is already {r[0]:.2f} >= {level:g} at the smallest effect tried "
                        f"({e[0]:g}); try smaller effects")
    a0, a1 = abs(e[i - 1]), abs(e[i])
    mag = a0 + (level - r[i - 1]) * (a1 - a0) / (r[i] - r[i - 1])
    return float(np.sign(e[i]) * mag), ""


def _grid(design: Mapping[str, Sequence[Any]] | None) -> list[dict[str, Any]]:
    if not design:
        return [{}]
    for k, v in design.items():
        if isinstance(v, (str, bytes)) or not isinstance(v, Sequence) or len(v) == 0:
            raise OptionError(f"design[{k!r}] must be a non-empty list of values, e.g. "
                              f"design={{'n_pcns': [100, 300]}}; got {v!r}.")
    keys = list(design)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*design.values())]


def power(
    scenario: str | Scenario,
    estimator: str = "callaway_santanna",
    effects: Sequence[float] = (0.0, 0.05, 0.1, 0.2),
    *,
    reps: int = 200,
    random_state: Any = None,
    level: float = 0.8,
    target: str = "overall",
    design: Mapping[str, Sequence[Any]] | None = None,
    params: Mapping[str, Any] | None = None,
    engine: Engine = "local",
    client: Any = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
) -> PowerResult:
    """Power curve and minimum detectable effect of a design.

    Parameters
    ----------
    scenario : str or Scenario
        The design to simulate (e.g. ``"ae_attendances"``).
    estimator : str
        A registered estimator, optionally with options (``"callaway_santanna[method='reg']"``).
    effects : sequence of float
        Effect sizes on the simulator's scale (see :meth:`Scenario.with_effect`):
        points for wellbeing, log rate ratios for counts (``numpy.log(0.98)``
        is a 2% fall).
    reps : int
        Replications per effect size and design.
    random_state : int, Generator, SeedSequence or None
    level : float
        The power wanted (default 0.8) for the MDE.
    target : str
        The estimate tested (default ``"overall"``).
    design : mapping of str to list, optional
        Scenario parameters to vary, crossed (e.g. ``{"n_pcns": [100, 300],
        "n_periods": [16, 24]}``).
    params : mapping, optional
        Fixed scenario parameter overrides.
    engine, client, n_jobs, progress
        As in :func:`spimpact.bench.run`.

    Returns
    -------
    PowerResult

    Examples
    --------
    >>> from spimpact import bench
    >>> pw = bench.power("homogeneous", "callaway_santanna", effects=[0.0, 0.3], reps=4,
    ...                  random_state=1, params={"n_pcns": 40, "n_icbs": 4}, n_jobs=1)
    >>> pw.table["effect"].tolist()
    [0.0, 0.3]
    """
    reps = _validate_reps(reps)
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise OptionError(f"level must be a power between 0 and 1 (e.g. 0.8), not {level!r}.")
    effs = [float(e) for e in effects]
    if not effs or len(set(effs)) != len(effs):
        raise OptionError(f"effects must be distinct numbers, e.g. [0, 0.05, 0.1]; got {effects!r}.")
    tgt = str(parse_target(target))
    base = get_scenario(scenario, **dict(params or {}))
    points = _grid(design)
    root = root_seed(random_state)
    ests = tuple(_resolve([estimator], base.design))
    jobs, keys = [], []
    for d in points:
        sc_d = base.with_params(**d) if d else base
        for e in effs:
            jobs.append(Job(sc_d.with_effect(e), ests, (tgt,), root))
            keys.append({**d, "effect": e})
    t0 = time.perf_counter()
    records = execute(jobs, reps, engine=engine, client=client, n_jobs=n_jobs, progress=progress)
    rows = []
    for j, key in enumerate(keys):  # one summary per design and effect
        s = summarise(records[records["job"] == j]).iloc[0]
        rows.append({**key, **s.drop(["estimator", "target"]).to_dict()})
    table = pd.DataFrame(rows)
    return PowerResult(table, records, scenario=base, estimator=ests[0][0], target=tgt,
                       level=float(level), design_columns=list(design or {}),
                       random_state=root.entropy, wall_seconds=time.perf_counter() - t0)


class PowerResult(_Frozen):
    """Rejection rates by effect size (and design), with the minimum detectable effect.

    Attributes
    ----------
    table : DataFrame
        One row per design and effect: the design parameters, ``effect``,
        then the benchmark measures (``truth, rejection_rate, mcse_rejection,
        coverage, bias, ...``).
    mde : DataFrame
        One row per design: ``mde`` (on the effect scale), ``mde_truth`` (the
        same point on the truth's scale, e.g. attendances per practice-quarter),
        ``level`` and a ``note`` when the curve does not cross ``level``.
    """

    def __init__(self, table: pd.DataFrame, records: pd.DataFrame, *, scenario: Scenario,
                 estimator: str, target: str, level: float, design_columns: list[str],
                 random_state: Any, wall_seconds: float) -> None:
        self._table = table.copy()
        self._records = records.copy()
        self._scenario, self._estimator, self._target = scenario, estimator, target
        self._level, self._design = level, list(design_columns)
        self._random_state, self._wall = random_state, wall_seconds
        self._frozen = True

    @property
    def estimator(self) -> str:
        """The estimator's label."""
        return self._estimator

    @property
    def target(self) -> str:
        """The estimate tested."""
        return self._target

    @property
    def level(self) -> float:
        """The power wanted."""
        return self._level

    def _groups(self) -> list[tuple[dict[str, Any], pd.DataFrame]]:
        if not self._design:
            return [({}, self._table)]
        return [(dict(zip(self._design, k if isinstance(k, tuple) else (k,), strict=True)), g)
                for k, g in self._table.groupby(self._design, sort=False)]

    @property
    def mde(self) -> pd.DataFrame:
        """Minimum detectable effect per design (see :func:`minimum_detectable_effect`)."""
        rows = []
        for key, g in self._groups():
            mde, note = minimum_detectable_effect(g["effect"], g["rejection_rate"], self._level)
            mde_truth = np.nan
            if np.isfinite(mde):
                a = np.abs(g["effect"].to_numpy(float))
                o = np.argsort(a, kind="stable")
                mde_truth = float(np.interp(abs(mde), a[o], g["truth"].to_numpy(float)[o]))
            rows.append({**key, "mde": mde, "mde_truth": mde_truth, "level": self._level,
                         "note": note})
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """Plain-text summary: the curve(s) and the MDE."""
        cols = [*self._design, "effect", "truth", "rejection_rate", "mcse_rejection", "coverage",
                "reps", "n_failed"]
        return "\n".join([
            f"Power of {self._estimator} on {self._scenario.name} (target {self._target}, "
            f"{int(self._table['reps'].max())} replications per point)",
            self._table[cols].to_string(index=False, float_format="{:.4g}".format), "",
            f"Minimum detectable effect at power {self._level:g}:",
            self.mde.to_string(index=False, float_format="{:.4g}".format),
        ])

    def __repr__(self) -> str:
        return f"<PowerResult: {self._estimator} on {self._scenario.name}, {len(self._table)} points>"

    def plot(self, ax: Axes | None = None, *, z: float = 1.96) -> Axes:
        """Power curves (rejection rate against effect size, ``z`` MCSE error bars),
        one per design, with the requested power dashed."""
        from ..plotting import NEUTRAL_COLOUR, get_ax

        ax = get_ax(ax)
        for i, (key, g) in enumerate(self._groups()):
            g = g.sort_values("effect")
            label = ", ".join(f"{k}={v}" for k, v in key.items()) or self._estimator
            ax.errorbar(g["effect"], g["rejection_rate"], yerr=z * g["mcse_rejection"].fillna(0),
                        fmt="o-", color=f"C{i}", capsize=3, label=label)
        ax.axhline(self._level, color=NEUTRAL_COLOUR, ls="--", lw=0.8)
        ax.axhline(1 - float(self._table["confidence"].mean()), color=NEUTRAL_COLOUR, ls=":",
                   lw=0.8)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("effect size")
        ax.set_ylabel("power (rejection rate)")
        ax.set_title(f"Power: {self._estimator} on {self._scenario.name}")
        ax.legend(frameon=False, fontsize="small")
        return ax

    def to_section(self) -> Any:
        """This analysis as a :class:`spimpact.report.Section`: curves, table and MDE."""
        import matplotlib.pyplot as plt

        from ..report import Section

        sec = Section(f"Power: {self._estimator} on {self._scenario.name}")
        sec.text(self._scenario.describe())
        fig = self.plot().get_figure()
        sec.figure(fig)
        plt.close(fig)  # type: ignore[arg-type]
        sec.table(self._table, "Rejection rate by design and effect size")
        sec.table(self.mde, f"Minimum detectable effect at power {self._level:g}")
        return sec

    def to_html(self) -> str:
        """A self-contained HTML report: curves, table and MDE."""
        from ..report import render_html

        return render_html(f"spimpact power: {self._scenario.name}", [self.to_section()])
