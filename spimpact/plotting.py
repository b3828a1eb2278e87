"""Small plotting helpers shared by every result (matplotlib; each takes and
returns an ``Axes``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .panel import Panel

__all__ = ["get_ax", "coef_plot", "event_study_plot", "rollout_heatmap", "figure_to_base64"]

TREATED_COLOUR = "#c0392b"
CONTROL_COLOUR = "#2c7fb8"
NEUTRAL_COLOUR = "#7f7f7f"


def get_ax(ax: Axes | None = None, figsize: tuple[float, float] = (7, 4)) -> Axes:
    """The given Axes, or a new one on a new figure."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def coef_plot(
    table: pd.DataFrame, id_columns: Sequence[str], ax: Axes | None = None, *, title: str = ""
) -> Axes:
    """Horizontal point-and-interval plot, one row per estimate."""
    ax = get_ax(ax, (7, max(2.5, 0.35 * len(table) + 1)))
    labels = (
        table[list(id_columns)].astype(str).agg(", ".join, axis=1)
        if id_columns else pd.Series([str(i) for i in range(len(table))])
    )
    pos = np.arange(len(table))[::-1]
    est = table["estimate"].to_numpy()
    ax.errorbar(est, pos, xerr=[est - table["ci_lower"], table["ci_upper"] - est],
                fmt="o", color="k", ecolor=NEUTRAL_COLOUR, capsize=3)
    ax.axvline(0, color=NEUTRAL_COLOUR, lw=0.8, ls="--")
    ax.set_yticks(pos, labels)
    ax.set_xlabel("estimate")
    if title:
        ax.set_title(title)
    return ax


def event_study_plot(
    table: pd.DataFrame,
    ax: Axes | None = None,
    *,
    x: str = "event_time",
    label: str | None = None,
    uniform: tuple[np.ndarray, np.ndarray] | None = None,
    color: str | None = None,
    offset: float = 0.0,
    reference: float | None = -0.5,
    title: str = "",
) -> Axes:
    """Event-study plot: estimates by event time with pointwise intervals and,
    when given, a simultaneous (uniform) band as a shaded area.

    Parameters
    ----------
    table : DataFrame
        Rows with ``x``, ``estimate``, ``ci_lower``, ``ci_upper``.
    uniform : (lower, upper), optional
        The simultaneous band.
    offset : float
        Horizontal shift, to lay several estimators side by side.
    reference : float, optional
        Where to draw the dashed treatment-start line (``None``: no line).
    """
    ax = get_ax(ax)
    xs = table[x].to_numpy(dtype=float) + offset
    est = table["estimate"].to_numpy()
    pre = table[x].to_numpy(dtype=float) < 0
    colour = color or TREATED_COLOUR
    if uniform is not None:
        ax.fill_between(xs, uniform[0], uniform[1], color=colour, alpha=0.15, lw=0,
                        label=None if label is None else f"{label}: uniform band")
    ax.errorbar(xs, est, yerr=[est - table["ci_lower"], table["ci_upper"] - est], fmt="none",
                ecolor=colour, capsize=2, lw=1)
    ax.plot(xs[pre], est[pre], "o", mfc="white", color=colour)
    ax.plot(xs[~pre], est[~pre], "o", color=colour, label=label)
    ax.axhline(0, color=NEUTRAL_COLOUR, lw=0.8)
    if reference is not None:
        ax.axvline(reference, color=NEUTRAL_COLOUR, lw=0.8, ls="--")
    ax.set_xlabel("periods since treatment start" if x == "event_time" else x)
    ax.set_ylabel("effect")
    if title:
        ax.set_title(title)
    if label is not None:
        ax.legend(frameon=False, fontsize="small")
    return ax


def rollout_heatmap(panel: Panel, ax: Axes | None = None, *, max_units: int = 2000) -> Axes:
    """Units (rows, sorted by cohort) by period (columns): not yet treated,
    treated, never treated, or not observed (blank)."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    ax = get_ax(ax, (8, 5))
    n_u, n_t = panel.n_units, panel.n_periods
    status = np.full((n_u, n_t), np.nan)
    never = ~np.isfinite(panel.cohort_codes)
    code = np.where(never, 2.0, (panel.time_codes >= panel.cohort_codes).astype(float))
    status[panel.unit_codes, panel.time_codes] = code
    order = np.argsort(panel.unit_cohort_codes, kind="stable")
    if n_u > max_units:
        order = order[np.linspace(0, n_u - 1, max_units).astype(int)]
    cmap = ListedColormap([CONTROL_COLOUR, TREATED_COLOUR, "#d9d9d9"])
    ax.imshow(status[order], aspect="auto", interpolation="nearest", cmap=cmap, vmin=0, vmax=2)
    step = max(1, n_t // 12)
    ticks = np.arange(0, n_t, step)
    ax.set_xticks(ticks, [str(panel.periods[i]) for i in ticks], rotation=45, ha="right")
    ax.set_ylabel(f"{panel.unit or 'unit'} (sorted by cohort)")
    ax.set_yticks([])
    ax.legend(
        handles=[Patch(color=CONTROL_COLOUR, label="not yet treated"),
                 Patch(color=TREATED_COLOUR, label="treated"),
                 Patch(color="#d9d9d9", label="never treated")],
        loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize="small",
    )
    ax.set_title("Rollout")
    return ax


def figure_to_base64(fig: Any, dpi: int = 110) -> str:
    """A figure as a base64 PNG string, for self-contained HTML reports."""
    import base64
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")
