"""The results protocol every spimpact estimator follows.

An estimator's ``fit(panel)`` returns a :class:`Result` (or a subclass): an
immutable object holding a tidy table of estimates, the headline
:class:`Estimate`, the confidence level, sizes, and the statistical warnings
raised while fitting. New views (aggregations, other scales) are new objects.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._warn import warn
from .errors import OptionError, StatisticalWarning

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Estimate", "Result", "ESTIMATE_COLUMNS", "estimate_table"]

#: The columns every ``.estimates`` table carries, after its identifying columns.
ESTIMATE_COLUMNS = ("estimate", "std_error", "ci_lower", "ci_upper", "p_value")


def _check_confidence(confidence: float) -> float:
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        raise OptionError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence!r}.")
    return float(confidence)


def estimate_table(
    estimate: Any,
    std_error: Any,
    confidence: float = 0.95,
    *,
    df: float | np.ndarray | None = None,
    crit: Any = None,
    index: Mapping[str, Any] | pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Build the tidy estimate columns from point estimates and standard errors.

    Intervals are ``estimate +/- crit * std_error``; ``crit`` defaults to the
    normal (or Student t with ``df``) quantile, and may be a per-row array (a
    simultaneous band). p-values test a zero effect against the same
    reference distribution.

    Examples
    --------
    >>> t = estimate_table([1.0, 0.0], [0.5, 1.0])
    >>> round(float(t["ci_lower"][0]), 4), round(float(t["p_value"][0]), 4)
    (0.02, 0.0455)
    """
    from scipy import special  # lighter than scipy.stats

    confidence = _check_confidence(confidence)
    est = np.asarray(estimate, dtype=float).reshape(-1)
    se = np.asarray(std_error, dtype=float).reshape(-1)
    level = 0.5 + confidence / 2
    if crit is not None:
        q = np.asarray(crit, dtype=float)
    else:
        q = special.ndtri(level) if df is None else special.stdtrit(df, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(est / se)
        tail = special.ndtr(-z) if df is None else special.stdtr(df, -z)
        p = np.where(se > 0, 2 * tail, np.nan)
    out = pd.DataFrame(index, copy=True) if index is not None else pd.DataFrame()
    out = out.reset_index(drop=True)
    out["estimate"], out["std_error"] = est, se
    out["ci_lower"], out["ci_upper"] = est - q * se, est + q * se
    out["p_value"] = p
    return out


@dataclass(frozen=True)
class Estimate:
    """One estimate with its uncertainty.

    Examples
    --------
    >>> e = Estimate.from_se(0.1, 0.05)
    >>> round(e.ci_lower, 3), round(e.ci_upper, 3)
    (0.002, 0.198)
    """

    estimate: float
    std_error: float
    ci_lower: float
    ci_upper: float
    p_value: float
    confidence: float = 0.95
    label: str = ""

    @classmethod
    def from_se(
        cls,
        estimate: float,
        std_error: float,
        confidence: float = 0.95,
        *,
        df: float | None = None,
        label: str = "",
    ) -> Estimate:
        """Normal (or Student t) interval and p-value from an estimate and its SE."""
        row = estimate_table([estimate], [std_error], confidence, df=df).iloc[0]
        return cls.from_row(row, confidence, label)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], confidence: float, label: str = "") -> Estimate:
        """An Estimate from one row of an ``.estimates`` table."""
        return cls(float(row["estimate"]), float(row["std_error"]), float(row["ci_lower"]),
                   float(row["ci_upper"]), float(row["p_value"]), confidence, label)

    def exp(self) -> Estimate:
        """The estimate on the exponentiated scale (e.g. a log rate ratio to a rate
        ratio): point and interval endpoints are exponentiated, the standard error
        follows the delta method, the p-value is unchanged."""
        return Estimate(
            float(np.exp(self.estimate)), float(np.exp(self.estimate) * self.std_error),
            float(np.exp(self.ci_lower)), float(np.exp(self.ci_upper)), self.p_value,
            self.confidence, self.label,
        )

    def to_dict(self) -> dict[str, float]:
        """The fields as a plain dict."""
        return {c: getattr(self, c) for c in (*ESTIMATE_COLUMNS, "confidence")}

    def __str__(self) -> str:
        pct = f"{100 * self.confidence:g}%"
        return (
            f"{self.estimate:.4g} (SE {self.std_error:.3g}; {pct} CI "
            f"{self.ci_lower:.4g} to {self.ci_upper:.4g}; p = {self.p_value:.3g})"
        )


@dataclass(frozen=True)
class ResultInfo:
    """Descriptive fields shared by every result."""

    method: str
    confidence: float = 0.95
    n_obs: int | None = None
    n_units: int | None = None
    n_clusters: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class Result:
    """Base result: a tidy table of estimates plus the headline estimate.

    Parameters
    ----------
    estimates : pandas.DataFrame
        Identifying columns (``group``, ``time``, ``event_time``, ``term``...)
        followed by ``estimate, std_error, ci_lower, ci_upper, p_value``.
    overall : Estimate, optional
        The headline number (e.g. the overall ATT).
    method : str
        Human-readable name of the estimator and its options.
    confidence : float
        Confidence level of the intervals.
    n_obs, n_units, n_clusters : int, optional
        Sizes used in the fit.
    warnings : iterable of str
        Statistical red flags raised while fitting (also emitted as
        :class:`~spimpact.errors.StatisticalWarning` once, at creation).
    info : mapping, optional
        Further estimator-specific facts shown by :meth:`summary`.

    Examples
    --------
    >>> import pandas as pd
    >>> from spimpact.results import Result, estimate_table
    >>> tab = estimate_table([0.5], [0.1], index={"term": ["x"]})
    >>> r = Result(tab, method="demo")
    >>> r.estimates.columns.tolist()
    ['term', 'estimate', 'std_error', 'ci_lower', 'ci_upper', 'p_value']
    """

    _frozen = False

    def __init__(
        self,
        estimates: pd.DataFrame,
        *,
        overall: Estimate | None = None,
        method: str,
        confidence: float = 0.95,
        n_obs: int | None = None,
        n_units: int | None = None,
        n_clusters: int | None = None,
        warnings: Iterable[str] = (),
        info: Mapping[str, Any] | None = None,
        emit: bool = True,
    ) -> None:
        if not isinstance(estimates, pd.DataFrame):
            raise OptionError(
                f"estimates must be a pandas DataFrame (see estimate_table), not "
                f"{type(estimates).__name__}."
            )
        missing = [c for c in ESTIMATE_COLUMNS if c not in estimates.columns]
        if missing:
            raise OptionError(
                f"the estimates table lacks the columns {missing}; build it with "
                f"estimate_table(estimate, std_error, ...)."
            )
        self._estimates = estimates.reset_index(drop=True).copy()
        self._overall = overall
        self._info = ResultInfo(method, _check_confidence(confidence), n_obs, n_units,
                                n_clusters, dict(info or {}))
        self._warnings = tuple(dict.fromkeys(warnings))
        if emit:
            for msg in self._warnings:
                warn(msg, StatisticalWarning)
        self._frozen = True

    def __setattr__(self, name: str, value: Any) -> None:
        if self._frozen:
            raise AttributeError(f"{type(self).__name__} is immutable; views are new objects.")
        super().__setattr__(name, value)

    # ------------------------------------------------------------------ fields
    @property
    def estimates(self) -> pd.DataFrame:
        """The tidy table of estimates (a copy)."""
        return self._estimates.copy()

    @property
    def overall(self) -> Estimate | None:
        """The headline estimate."""
        return self._overall

    @property
    def method(self) -> str:
        """The estimator and its options."""
        return self._info.method

    @property
    def confidence(self) -> float:
        """Confidence level of the intervals."""
        return self._info.confidence

    @property
    def n_obs(self) -> int | None:
        """Rows used."""
        return self._info.n_obs

    @property
    def n_units(self) -> int | None:
        """Units used."""
        return self._info.n_units

    @property
    def n_clusters(self) -> int | None:
        """Clusters used for inference (``None`` when not clustered)."""
        return self._info.n_clusters

    @property
    def warnings(self) -> tuple[str, ...]:
        """Statistical red flags raised while fitting."""
        return self._warnings

    @property
    def info(self) -> dict[str, Any]:
        """Estimator-specific facts (a copy)."""
        return dict(self._info.extra)

    @property
    def id_columns(self) -> list[str]:
        """The columns of :attr:`estimates` that identify a row."""
        return [c for c in self._estimates.columns if c not in ESTIMATE_COLUMNS]

    # ------------------------------------------------------------------- views
    def to_frame(self) -> pd.DataFrame:
        """The estimates with the method and confidence level as columns."""
        out = self.estimates
        out["method"] = self.method
        out["confidence"] = self.confidence
        return out

    def _header(self) -> list[tuple[str, str]]:
        rows = [("method", self.method), ("confidence", f"{100 * self.confidence:g}%")]
        for name in ("n_obs", "n_units", "n_clusters"):
            v = getattr(self, name)
            if v is not None:
                rows.append((name.replace("n_", "") if name != "n_obs" else "rows", f"{v:,}"))
        for k, v in self._info.extra.items():
            if isinstance(v, (str, int, float, np.integer, np.floating)):
                rows.append((k, f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)))
        if self._overall is not None:
            rows.append(("overall", str(self._overall)))
        return rows

    def _display_table(self, max_rows: int = 40) -> pd.DataFrame:
        t = self._estimates
        if len(t) > max_rows:
            t = pd.concat([t.head(max_rows // 2), t.tail(max_rows // 2)])
        return t

    def summary(self, max_rows: int = 40) -> str:
        """A plain-text summary: header, the estimates table, and warnings."""
        width = max(len(k) for k, _ in self._header())
        lines = [f"{type(self).__name__}"]
        lines += [f"  {k:<{width}}  {v}" for k, v in self._header()]
        lines.append("")
        lines.append(self._display_table(max_rows).to_string(index=False, float_format="{:.4g}".format))
        if len(self._estimates) > max_rows:
            lines.append(f"  ... {len(self._estimates)} rows in all (see .estimates)")
        for w in self._warnings:
            lines.append(f"Warning: {w}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        head = f"<{type(self).__name__}: {self.method}, {len(self._estimates)} estimates"
        if self._overall is not None:
            head += f", overall {self._overall.estimate:.4g} (SE {self._overall.std_error:.3g})"
        if self._warnings:
            head += f", {len(self._warnings)} warning(s)"
        return head + ">"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in self._header()
        )
        warn = "".join(f"<p style='color:#a33'>&#9888; {html.escape(w)}</p>" for w in self._warnings)
        table = self._display_table().to_html(index=False, float_format="{:.4g}".format, border=0)
        return (
            f"<div><strong>{html.escape(type(self).__name__)}</strong>"
            f"<table>{rows}</table>{table}{warn}</div>"
        )

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        head = Table.grid(padding=(0, 2))
        for k, v in self._header():
            head.add_row(Text(k, style="bold"), v)
        tab = Table(show_header=True, header_style="bold")
        shown = self._display_table(20)
        for c in shown.columns:
            tab.add_column(str(c), justify="right")
        for _, r in shown.iterrows():
            tab.add_row(*(f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v) for v in r))
        parts: list[Any] = [Text(type(self).__name__, style="bold underline"), head, tab]
        parts += [Text(f"Warning: {w}", style="red") for w in self._warnings]
        return Group(*parts)

    def plot(self, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Point estimates with their intervals, one row per estimate."""
        from .plotting import coef_plot

        return coef_plot(self._estimates, self.id_columns, ax=ax,
                         title=kwargs.pop("title", self.method), **kwargs)

    # ------------------------------------------------------------------- draws
    def draws(self, target: Any = "overall", *, n_draws: int = 4000,
              random_state: Any = None) -> np.ndarray:
        """Draws of one estimate, for economic evaluation and other summaries.

        Results that hold bootstrap or posterior draws (DiD fitted with
        ``bootstrap=``, Bayesian models) return those. Others return
        parametric draws from the estimate's normal sampling distribution,
        ``estimate + std_error * z`` (``n_draws`` of them, seeded by
        ``random_state``).

        Parameters
        ----------
        target : "overall" or a row label
            ``"overall"`` (the headline estimate), or a value of the
            identifying column(s) of :attr:`estimates` (e.g. a ``term``, an
            ``event_time``, or a ``(group, time)`` tuple).
        n_draws : int
            Number of parametric draws (ignored when draws are stored).
        random_state : int, Generator or None
            Seeds the parametric draws.

        Returns
        -------
        ndarray of shape (n_draws,)

        Examples
        --------
        >>> r = Result(estimate_table([0.5], [0.1], index={"term": ["x"]}), method="demo")
        >>> d = r.draws("x", n_draws=20000, random_state=0)
        >>> round(float(d.mean()), 2), round(float(d.std()), 2)
        (0.5, 0.1)
        """
        est, se = self._target_moments(target)
        if not isinstance(n_draws, (int, np.integer)) or n_draws < 2:
            raise OptionError(f"n_draws must be an integer >= 2, not {n_draws!r}.")
        if not (np.isfinite(est) and np.isfinite(se)):
            raise OptionError(f"target {target!r} has no finite estimate and standard error "
                              f"to draw from.")
        rng = np.random.default_rng(random_state)
        return est + se * rng.standard_normal(int(n_draws))

    def _target_moments(self, target: Any) -> tuple[float, float]:
        if isinstance(target, str) and target == "overall" and (
            "overall" not in self._estimates[self.id_columns].astype(str).to_numpy()
        ):
            if self._overall is None:
                raise OptionError(
                    f"{type(self).__name__} has no overall estimate; name a row instead: "
                    f"{self._target_choices()}.")
            return self._overall.estimate, self._overall.std_error
        i = self._target_row(target)
        row = self._estimates.iloc[i]
        return float(row["estimate"]), float(row["std_error"])

    def _target_choices(self, limit: int = 8) -> str:
        ids = self.id_columns
        if not ids:
            return "(no identifying columns)"
        vals = self._estimates[ids].head(limit).itertuples(index=False, name=None)
        shown = [v[0] if len(v) == 1 else v for v in vals]
        more = ", ..." if len(self._estimates) > limit else ""
        return f"{ids} values such as {shown}{more}"

    def _target_row(self, target: Any) -> int:
        """Position in :attr:`estimates` of the row named by ``target``."""
        return target_row(self._estimates, self.id_columns, target, self._target_choices)

    # ---------------------------------------------------------------- helpers
    def _replace(self, **changes: Any) -> dict[str, Any]:
        """Constructor arguments of this result with some changed."""
        args: dict[str, Any] = dict(
            estimates=self._estimates, overall=self._overall, method=self.method,
            confidence=self.confidence, n_obs=self.n_obs, n_units=self.n_units,
            n_clusters=self.n_clusters, warnings=self._warnings, info=self._info.extra,
            emit=False,
        )
        args.update(changes)
        return args


def _matches(column: pd.Series, value: Any) -> np.ndarray:
    """Rows equal to ``value``, or whose label reads as ``value`` (``"2021Q3"``)."""
    try:
        eq = np.asarray(column == value, dtype=bool)
    except (TypeError, ValueError):
        eq = np.zeros(len(column), dtype=bool)
    return eq | (column.astype(str).to_numpy() == str(value))


def target_row(table: pd.DataFrame, id_columns: Sequence[str], target: Any,
               choices: Any = None) -> int:
    """Position of the row of ``table`` named by ``target``: a value of one
    identifying column, or a tuple with one value per identifying column."""
    ids = list(id_columns)
    if isinstance(target, tuple) and len(target) == len(ids) and ids:
        hit = np.ones(len(table), dtype=bool)
        for c, v in zip(ids, target, strict=True):
            hit &= _matches(table[c], v)
        rows = np.flatnonzero(hit)
    else:
        rows = np.array([], dtype=int)
        for c in ids:
            rows = np.flatnonzero(_matches(table[c], target))
            if len(rows):
                break
    if len(rows) != 1:
        what = "no row" if len(rows) == 0 else f"{len(rows)} rows"
        hint = choices() if callable(choices) else f"{ids}"
        raise OptionError(f"target {target!r} names {what} of the estimates; name a row by "
                          f"{hint} (a tuple gives every identifying column), or 'overall'.")
    return int(rows[0])


def select_rows(table: pd.DataFrame, column: str, values: Sequence[Any]) -> pd.DataFrame:
    """Rows of ``table`` whose ``column`` is in ``values``, in table order."""
    return table.loc[table[column].isin(list(values))].reset_index(drop=True)


def warn_once(messages: list[str], message: str) -> None:
    """Append ``message`` to ``messages`` unless it is already there."""
    if message not in messages:
        messages.append(message)


__all__ += ["ResultInfo", "select_rows", "target_row", "warn_once", "StatisticalWarning"]
