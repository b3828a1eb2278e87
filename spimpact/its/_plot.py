"""The interrupted-time-series plot: observed, fitted, counterfactual, interruptions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..plotting import CONTROL_COLOUR, NEUTRAL_COLOUR, TREATED_COLOUR, get_ax

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .results import FitData

__all__ = ["its_plot", "x_values"]


def x_values(times: pd.Series | pd.Index) -> np.ndarray | pd.DatetimeIndex:
    """Plot positions: timestamps for Periods and dates, numbers otherwise."""
    s = pd.Series(times)
    if isinstance(s.dtype, pd.PeriodDtype):
        return pd.DatetimeIndex(s.dt.to_timestamp())
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return pd.DatetimeIndex(s)
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.to_numpy(dtype=float)
    return np.arange(len(s), dtype=float)


def _group(tab: pd.DataFrame, time: str, treated: bool) -> pd.DataFrame:
    """Treated (or comparison) rows summed over series by period."""
    part = tab[tab["treated"] == int(treated)]
    cols = ["observed", "fitted", "counterfactual", "counterfactual_lower", "counterfactual_upper"]
    if part["unit"].nunique() <= 1:
        return part[[time, "post", *cols]]
    return part.groupby(time, sort=True, as_index=False).agg(
        post=("post", "max"), **{c: (c, "mean") for c in cols}
    )


def its_plot(
    tab: pd.DataFrame, data: FitData, *, per: float | None, ax: Axes | None = None, title: str = ""
) -> Axes:
    """Draw the ITS figure from a :meth:`ITSResult.counterfactual` table.

    Treated series: points (observed), solid line (fitted), dashed line and
    band (counterfactual after the interruption). Comparison series, if any,
    are drawn in blue (their mean when there are several). Vertical lines mark
    the interruption (red) and extra interruptions (grey).
    """
    ax = get_ax(ax, (8, 4.5))
    time = data.time_column
    tr = _group(tab, time, True)
    x = x_values(tr[time])
    ax.plot(x, tr["observed"], "o", ms=3.5, color=TREATED_COLOUR, alpha=0.6, label="observed")
    ax.plot(x, tr["fitted"], "-", color=TREATED_COLOUR, lw=1.6, label="fitted")
    post = tr["post"].to_numpy(bool)
    xp = x[post]
    ax.fill_between(
        xp,
        tr["counterfactual_lower"].to_numpy()[post],
        tr["counterfactual_upper"].to_numpy()[post],
        color=NEUTRAL_COLOUR,
        alpha=0.2,
        lw=0,
    )
    ax.plot(
        xp, tr["counterfactual"].to_numpy()[post], "--", color="k", lw=1.3, label="counterfactual"
    )
    co = _group(tab, time, False)
    if len(co):
        xc = x_values(co[time])
        ax.plot(
            xc,
            co["observed"],
            "s",
            ms=3,
            color=CONTROL_COLOUR,
            alpha=0.5,
            label="comparison: observed",
        )
        ax.plot(xc, co["fitted"], "-", color=CONTROL_COLOUR, lw=1.2, label="comparison: fitted")
    _lines(ax, data)
    unit = "count" if per is None else f"rate per {per:,.0f}"
    ax.set_ylabel(unit if data.log_link else "outcome")
    ax.set_xlabel(time)
    if title:
        ax.set_title(title)
    ax.legend(frameon=False, fontsize="small", loc="best")
    return ax


def _lines(ax: Axes, data: FitData) -> None:
    def at(label: Any) -> Any:
        return x_values(pd.Series([label]))[0]

    ax.axvline(at(data.interruption), color=TREATED_COLOUR, ls="--", lw=1)
    for lab in data.extra_labels:
        ax.axvline(at(lab), color=NEUTRAL_COLOUR, ls=":", lw=1.2)


def multisite_plot(
    tab: pd.DataFrame,
    by: str,
    data: Any,
    *,
    per: float | None,
    ax: Axes | None = None,
    title: str = "",
) -> Axes:
    """Draw a :meth:`MultiSiteResult.counterfactual` table: observed (points),
    fitted (line), counterfactual (dashed, with its band) from the interruption
    on, and the interruption (event time 0) or the extra interruptions."""
    ax = get_ax(ax, (8, 4.5))
    x = tab[by].to_numpy(dtype=float) if by == "event_time" else x_values(tab[by])
    ax.plot(x, tab["observed"], "o", ms=3.5, color=TREATED_COLOUR, alpha=0.6, label="observed")
    ax.plot(x, tab["fitted"], "-", color=TREATED_COLOUR, lw=1.6, label="fitted")
    post = (tab[by].to_numpy(dtype=float) >= 0) if by == "event_time" else np.ones(len(tab), bool)
    ax.fill_between(
        np.asarray(x)[post],
        tab["counterfactual_lower"].to_numpy()[post],
        tab["counterfactual_upper"].to_numpy()[post],
        color=NEUTRAL_COLOUR,
        alpha=0.2,
        lw=0,
    )
    ax.plot(
        np.asarray(x)[post],
        tab["counterfactual"].to_numpy()[post],
        "--",
        color="k",
        lw=1.3,
        label="counterfactual",
    )
    if by == "event_time":
        ax.axvline(-0.5, color=TREATED_COLOUR, ls="--", lw=1)
        ax.set_xlabel("periods since the site's interruption")
    else:
        for lab in data.extra_labels:
            ax.axvline(x_values(pd.Series([lab]))[0], color=NEUTRAL_COLOUR, ls=":", lw=1.2)
        ax.set_xlabel(data.time_column)
    if per is not None:
        ylab = f"rate per {per:,.0f}"
    else:
        ylab = "total count" if data.log_link else "mean outcome"
    ax.set_ylabel(ylab + " (interrupted sites)")
    if title:
        ax.set_title(title)
    ax.legend(frameon=False, fontsize="small", loc="best")
    return ax
