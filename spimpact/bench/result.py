"""The result of a benchmark run: the table, the replications, plots and reports."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .metrics import summarise

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .scenarios import Scenario

__all__ = ["BenchResult", "CHECK_MCSE", "checks"]

#: A measure "holds up" when it is within this many Monte Carlo SEs of its
#: ideal (zero bias; nominal coverage): about a 0.3% false-alarm rate per check.
CHECK_MCSE = 3.0

#: Columns shown by summaries and reports.
SHOWN = ("estimator", "target", "truth", "bias", "mcse_bias", "rmse", "emp_se", "mean_se",
         "coverage", "mcse_coverage", "ci_width", "rejection_rate", "reps", "n_failed", "seconds")


def checks(table: pd.DataFrame, k: float = CHECK_MCSE) -> pd.DataFrame:
    """Flag, per row of a benchmark table, whether the estimator holds up.

    ``bias_ok``: ``|bias| <= k * mcse_bias``. ``coverage_ok``: ``|coverage -
    confidence| <= k * sqrt(confidence (1 - confidence) / reps)`` (the Monte Carlo
    SE under nominal coverage). Under a null scenario coverage of the zero truth is
    one minus the rejection rate, so this is also the check of the test's size.

    Examples
    --------
    >>> t = pd.DataFrame({"bias": [0.01, 0.5], "mcse_bias": [0.01, 0.01],
    ...                   "coverage": [0.95, 0.5], "confidence": [0.95, 0.95], "reps": [200, 200]})
    >>> checks(t)[["bias_ok", "coverage_ok"]].values.tolist()
    [[True, True], [False, False]]
    """
    out = table.copy()
    conf = out["confidence"].to_numpy(float)
    mc = np.sqrt(conf * (1 - conf) / np.maximum(out["reps"].to_numpy(float), 1))
    out["bias_ok"] = (out["bias"].abs() <= k * out["mcse_bias"]).to_numpy()
    out["coverage_ok"] = (np.abs(out["coverage"].to_numpy(float) - conf) <= k * mc)
    return out


class _Frozen:
    """What a benchmark result and a power result share: immutable, holding a
    table, the per-replication records, the scenario and the root seed."""

    _frozen = False
    _table: pd.DataFrame
    _records: pd.DataFrame
    _scenario: Scenario
    _random_state: Any

    def __setattr__(self, name: str, value: Any) -> None:
        if self._frozen:
            raise AttributeError(f"{type(self).__name__} is immutable.")
        super().__setattr__(name, value)

    @property
    def table(self) -> pd.DataFrame:
        """The table of measures (a copy)."""
        return self._table.copy()

    @property
    def records(self) -> pd.DataFrame:
        """Per-replication records (a copy)."""
        return self._records.copy()

    @property
    def scenario(self) -> Scenario:
        """The scenario run (at its base parameters)."""
        return self._scenario

    @property
    def random_state(self) -> Any:
        """Root entropy of the replication seeds."""
        return self._random_state


class BenchResult(_Frozen):
    """Monte Carlo performance of estimators on one scenario.

    Attributes
    ----------
    table : DataFrame
        One row per estimator and target (a copy): ``estimator, target, truth,
        mean_estimate, bias, rmse, emp_se, mean_se, coverage, ci_width,
        rejection_rate, mcse_bias, mcse_coverage, mcse_rmse, mcse_rejection,
        reps, n_failed, seconds, confidence`` (see :mod:`spimpact.bench.metrics`).
    records : DataFrame
        One row per replication, estimator and target (a copy).
    scenario : Scenario
    random_state : int
        Root entropy: ``run(..., random_state=result.random_state)`` repeats the run.

    Examples
    --------
    >>> from spimpact import bench
    >>> res = bench.run("null", ["callaway_santanna"], reps=3, random_state=2,
    ...                 params={"n_pcns": 40, "n_icbs": 4}, n_jobs=1)
    >>> float(res.table.loc[0, "truth"])
    0.0
    """

    def __init__(
        self,
        table: pd.DataFrame,
        records: pd.DataFrame,
        *,
        scenario: Scenario,
        random_state: Any,
        engine: str,
        wall_seconds: float,
    ) -> None:
        self._table = table.reset_index(drop=True).copy()
        self._records = records.reset_index(drop=True).copy()
        self._scenario = scenario
        self._random_state = random_state
        self._engine = engine
        self._wall = float(wall_seconds)
        self._frozen = True

    @classmethod
    def from_records(
        cls, records: pd.DataFrame, *, scenario: Scenario, estimators: list[str],
        targets: list[str], random_state: Any, engine: str, wall_seconds: float,
    ) -> BenchResult:
        """Summarise per-replication records into a result."""
        table = summarise(records, estimators, targets)
        return cls(table, records, scenario=scenario, random_state=random_state, engine=engine,
                   wall_seconds=wall_seconds)

    @property
    def reps(self) -> int:
        """Replications run."""
        return int(self._records["rep"].nunique())

    @property
    def engine(self) -> str:
        """The engine used."""
        return self._engine

    @property
    def wall_seconds(self) -> float:
        """Wall time of the whole run."""
        return self._wall

    def checks(self, k: float = CHECK_MCSE) -> pd.DataFrame:
        """The table with ``bias_ok`` and ``coverage_ok`` flags (see :func:`checks`)."""
        return checks(self._table, k)

    def failures(self) -> pd.DataFrame:
        """Failed fits: ``estimator, target, error, count`` (empty when none failed)."""
        bad = self._records[self._records["error"].notna()]
        if bad.empty:
            return pd.DataFrame(columns=["estimator", "target", "error", "count"])
        return (bad.groupby(["estimator", "target", "error"], sort=False).size()
                .rename("count").reset_index())

    @property
    def warnings(self) -> tuple[str, ...]:
        """Failures and statistical warnings, each with the share of replications."""
        out = [f"{r.estimator} ({r.target}): {r['count']} replication(s) failed: {r.error}"
               for _, r in self.failures().iterrows()]
        rec = self._records.drop_duplicates(["rep", "estimator"])
        n = max(self.reps, 1)
        for est, g in rec.groupby("estimator", sort=False):
            # group messages that differ only in their numbers; count replications, not
            # messages, and show the first message of each group
            seen: dict[str, str] = {}
            count: dict[str, int] = {}
            for w in g["warnings"].dropna():  # one string per replication
                keys: dict[str, str] = {}
                for m in str(w).split(" | "):
                    keys.setdefault(re.sub(r"\d+(?:\.\d+)?", "#", m), m)
                for key, m in keys.items():
                    seen.setdefault(key, m)
                    count[key] = count.get(key, 0) + 1
            top = sorted(count, key=lambda k: -count[k])[:5]
            out += [f"{est}: in {count[k]}/{n} replications, e.g.: {seen[k]}" for k in top]
        return tuple(out)

    # ------------------------------------------------------------------- views
    def _shown(self) -> pd.DataFrame:
        return self._table.loc[:, [c for c in SHOWN if c in self._table.columns]]

    def summary(self) -> str:
        """Plain-text summary: the scenario, the table, failures and warnings."""
        head = [f"Benchmark: {self._scenario.name} ({self.reps} replications, seed "
                f"{self._random_state}, {self._engine} engine, {self._wall:.1f} s)",
                f"  {self._scenario.summary}", ""]
        body = self._shown().to_string(index=False, float_format="{:.4g}".format)
        tail = [f"Warning: {w}" for w in self.warnings]
        return "\n".join(head + [body] + tail)

    def __repr__(self) -> str:
        return (f"<BenchResult: {self._scenario.name}, {len(self._table)} rows, "
                f"{self.reps} replications>")

    def _row_labels(self) -> list[str]:
        t = self._table
        multi = t["target"].nunique() > 1
        return [f"{e} ({g})" if multi else str(e) for e, g in zip(t["estimator"], t["target"],
                                                                     strict=True)]

    def plot(self, ax: Sequence[Axes] | None = None, *, z: float = 1.96) -> np.ndarray:
        """Bias and coverage, one row per estimator (and target), with ``z`` Monte Carlo
        SE error bars: the ideal is zero bias and nominal coverage (dashed lines).

        Parameters
        ----------
        ax : pair of Axes, optional
            Where to draw bias and coverage; new side-by-side axes by default.

        Returns
        -------
        ndarray of two Axes
        """
        from ..plotting import NEUTRAL_COLOUR, TREATED_COLOUR

        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(1, 2, figsize=(10, max(2.5, 0.4 * len(self._table) + 1.2)),
                                 sharey=True)
        axes = np.asarray(ax).ravel()
        t = self._table
        pos = np.arange(len(t))[::-1]
        labels = self._row_labels()
        for a, (col, err, ideal, xlabel) in zip(axes, [
            ("bias", "mcse_bias", 0.0, "bias (estimate - truth)"),
            ("coverage", "mcse_coverage", None, "coverage of the intervals"),
        ], strict=True):
            ok = checks(t)[f"{col}_ok"].to_numpy()
            colours = np.where(ok, "k", TREATED_COLOUR)
            for p, v, e, c in zip(pos, t[col], t[err], colours, strict=True):
                a.errorbar(v, p, xerr=z * e if np.isfinite(e) else None, fmt="o", color=c,
                           ecolor=c, capsize=3)
            for level in ([ideal] if ideal is not None else sorted(set(t["confidence"].dropna()))):
                a.axvline(level, color=NEUTRAL_COLOUR, ls="--", lw=0.8)
            a.set_xlabel(xlabel)
        axes[0].set_yticks(pos, labels)
        axes[0].set_title(f"{self._scenario.name}: bias (±{z:g} MCSE)", fontsize="medium")
        axes[1].set_title(f"coverage (±{z:g} MCSE); red: off by > {CHECK_MCSE:g} MCSE",
                          fontsize="medium")
        return axes

    def to_section(self) -> Any:
        """This result as a :class:`spimpact.report.Section` (for combined reports)."""
        import matplotlib.pyplot as plt

        from ..report import Section

        sec = Section(f"Scenario: {self._scenario.name}")
        sec.text(self._scenario.describe())
        sec.text(f"{self.reps} replications, root seed {self._random_state}, {self._engine} "
                 f"engine, {self._wall:.1f} s wall time.")
        sec.table(self._shown())
        axes = self.plot()
        sec.figure(axes[0].figure)
        plt.close(axes[0].figure)
        for w in self.warnings:
            sec.text(f"Warning: {w}")
        return sec

    def to_html(self) -> str:
        """A self-contained HTML report: scenario, table, bias/coverage plot, warnings."""
        from ..report import render_html

        return render_html(f"spimpact benchmark: {self._scenario.name}", [self.to_section()])

    def _repr_html_(self) -> str:
        tab = self._shown().to_html(index=False, float_format="{:.4g}".format, border=0)
        return (f"<div><strong>BenchResult: {html.escape(self._scenario.name)}</strong> "
                f"({self.reps} replications)<br/>{html.escape(self._scenario.summary)}{tab}</div>")

    def __rich__(self) -> Any:
        from rich.table import Table

        shown = self._shown()
        tab = Table(title=f"{self._scenario.name} ({self.reps} replications)",
                    header_style="bold")
        for c in shown.columns:
            tab.add_column(c, justify="right")
        for _, r in shown.iterrows():
            tab.add_row(*(f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)
                          for v in r))
        return tab

    def save(self, directory: str | Path, *, stem: str = "bench") -> dict[str, Path]:
        """Write ``<stem>_table.csv``, ``<stem>_table.parquet``,
        ``<stem>_records.parquet`` and ``<stem>_report.html`` to ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {k: out / f"{stem}_{k.replace('_', '.', 1)}" for k in
                 ("table_csv", "table_parquet", "records_parquet", "report_html")}
        self._table.to_csv(paths["table_csv"], index=False)
        self._table.to_parquet(paths["table_parquet"], index=False)
        self._records.to_parquet(paths["records_parquet"], index=False)
        paths["report_html"].write_text(self.to_html(), encoding="utf-8")
        return paths
