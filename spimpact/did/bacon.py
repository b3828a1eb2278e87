"""Goodman-Bacon (2021) decomposition of the static TWFE coefficient.

On a balanced panel the TWFE coefficient on the treatment indicator is a
weighted average of every 2x2 DiD between timing groups (cohorts, the
never-treated and the always-treated units):

* treated vs never treated,
* earlier vs later treated (the later group, not yet treated, as controls),
* later vs earlier treated (the earlier group, already treated, as controls:
  a "forbidden" comparison that is biased when effects change over time),
* later vs always treated (forbidden likewise).

With ``n_k`` the (weighted) share of units in group ``k`` and ``D_k`` the
share of periods it is treated, the weights are (Goodman-Bacon 2021, eq. 10)

    s_kU  = (n_k + n_U)^2 n_kU (1 - n_kU) D_k (1 - D_k)                / V
    s_kl^k = ((n_k + n_l)(1 - D_l))^2 n_kl (1 - n_kl)
             (D_k - D_l)/(1 - D_l) (1 - D_k)/(1 - D_l)                  / V
    s_kl^l = ((n_k + n_l) D_k)^2 n_kl (1 - n_kl) D_l/D_k (D_k - D_l)/D_k / V

with ``n_ab = n_a / (n_a + n_b)`` and ``V`` the variance of the two-way
demeaned treatment indicator. Weights sum to one and the weighted sum of the
2x2 estimates is the TWFE coefficient.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._sample import refuse_dose, refuse_exposure, refuse_general_treatment
from ..errors import EstimationError, PanelError
from ..panel import Panel
from ..results import Result
from .twfe import TWFE

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["bacon_decomposition", "BaconDecomposition", "BACON_TYPES"]

BACON_TYPES = ("treated vs never", "earlier vs later", "later vs earlier (forbidden)",
               "later vs always treated (forbidden)")
_COLOURS = dict(zip(BACON_TYPES, ("#2c7fb8", "#41ab5d", "#c0392b", "#8e44ad"), strict=True))
NEVER, ALWAYS = "never treated", "always treated"


class BaconDecomposition(Result):
    """The 2x2 comparisons behind a TWFE coefficient.

    ``.estimates``: one row per comparison (``treated``, ``comparison``,
    ``type``, ``weight``, ``estimate``; the 2x2 estimates carry no standard
    errors). ``.overall``: the TWFE coefficient (with its cluster-robust SE),
    which ``(weight * estimate).sum()`` reproduces. ``.by_type``: weights and
    weighted mean estimates by comparison type. ``.plot()``: estimate against
    weight, coloured by type.
    """

    @property
    def by_type(self) -> pd.DataFrame:
        """Total weight and weighted mean 2x2 estimate of each comparison type."""
        t = self._estimates
        g = t.assign(we=t["weight"] * t["estimate"]).groupby("type", sort=False)
        out = pd.DataFrame({"weight": g["weight"].sum(), "estimate": g["we"].sum()})
        out["estimate"] = out["estimate"] / out["weight"]
        return out.reset_index()

    def plot(self, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """2x2 estimates (y) against their weights (x), coloured by type, with
        the TWFE coefficient as a horizontal line."""
        from ..plotting import NEUTRAL_COLOUR, get_ax

        ax = get_ax(ax)
        t = self._estimates
        for typ in BACON_TYPES:
            sub = t[t["type"] == typ]
            if len(sub):
                ax.scatter(sub["weight"], sub["estimate"], s=28, color=_COLOURS[typ],
                           label=typ, alpha=0.85)
        if self._overall is not None:
            ax.axhline(self._overall.estimate, color=NEUTRAL_COLOUR, lw=1, ls="--",
                       label=f"TWFE = {self._overall.estimate:.3g}")
        ax.axhline(0, color=NEUTRAL_COLOUR, lw=0.6)
        ax.set_xlabel("weight")
        ax.set_ylabel("2x2 DiD estimate")
        ax.set_title(kwargs.get("title", "Goodman-Bacon decomposition"))
        ax.legend(frameon=False, fontsize="small")
        return ax


def _groups(panel: Panel) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's timing group (cohort position; ``-1`` always treated, ``T``
    never treated) and its weight (constant within units)."""
    T = panel.n_periods
    uc = np.asarray(panel.unit_cohort_codes, dtype=float)
    group = np.where(~np.isfinite(uc) | (uc >= T), T, np.where(uc <= 0, -1, uc)).astype(int)
    w = np.asarray(panel.w, dtype=float)
    uw = panel.unit_values(w)
    if not np.allclose(w, uw[panel.unit_codes], rtol=0, atol=0):
        raise PanelError(
            f"bacon_decomposition needs weights constant within units; {panel.weights!r} "
            f"varies over time. Use a unit-level weight (e.g. its baseline value)."
        )
    return group, uw


def _two_by_two(ybar: np.ndarray, tr: int, co: int, pre: np.ndarray, post: np.ndarray) -> float:
    return float((ybar[tr, post].mean() - ybar[tr, pre].mean())
                 - (ybar[co, post].mean() - ybar[co, pre].mean()))


def _comparisons(levels: np.ndarray, share: np.ndarray, ybar: np.ndarray,
                 T: int) -> list[tuple[int, int, str, float, float]]:
    """(treated, comparison, type, unnormalised weight, 2x2 estimate) rows."""
    t = np.arange(T)
    dbar = np.where(levels < 0, 1.0, np.where(levels >= T, 0.0, (T - levels) / T))
    rows = []
    for a in range(len(levels)):
        for b in range(len(levels)):
            if not dbar[a] > dbar[b] or (dbar[a] == 1.0 and dbar[b] == 0.0):
                continue
            na, nb = share[a], share[b]
            nab = na / (na + nb)
            da, db = dbar[a], dbar[b]
            ca, cb = levels[a], levels[b]
            if db == 0.0:  # a (timing) vs never treated
                s = (na + nb) ** 2 * nab * (1 - nab) * da * (1 - da)
                rows.append((a, b, BACON_TYPES[0], s, _two_by_two(ybar, a, b, t < ca, t >= ca)))
                continue
            if da < 1.0:  # earlier a vs later b, before b starts
                s = ((na + nb) * (1 - db)) ** 2 * nab * (1 - nab) * (da - db) / (1 - db) \
                    * (1 - da) / (1 - db)
                win = t < cb
                rows.append((a, b, BACON_TYPES[1], s,
                             _two_by_two(ybar, a, b, win & (t < ca), win & (t >= ca))))
            s = ((na + nb) * da) ** 2 * nab * (1 - nab) * (db / da) * (da - db) / da
            win = t >= ca
            typ = BACON_TYPES[2] if da < 1.0 else BACON_TYPES[3]
            rows.append((b, a, typ, s, _two_by_two(ybar, b, a, win & (t < cb), win & (t >= cb))))
    return rows


def bacon_decomposition(panel: Panel, *, confidence: float = 0.95) -> BaconDecomposition:
    """Decompose the static TWFE coefficient into its 2x2 comparisons
    (Goodman-Bacon 2021).

    Parameters
    ----------
    panel : Panel
        A balanced panel with cohorts; unit weights are allowed (constant within
        units). Covariates are not used: this decomposes the unconditional TWFE.
    confidence : float
        For the TWFE coefficient's interval (``.overall``).

    Raises
    ------
    PanelError
        When the panel is unbalanced (use ``panel.balanced()``) or weights vary
        within units.
    EstimationError
        When the panel has no cohorts or the treatment never varies.

    Examples
    --------
    >>> from spimpact.simulate import pcn_rollout
    >>> from spimpact.did import bacon_decomposition
    >>> panel = pcn_rollout(n_pcns=60, covid=False, random_state=3).panel("wellbeing")
    >>> bd = bacon_decomposition(panel)
    >>> round(float(bd.estimates["weight"].sum()), 10)
    1.0
    """
    if isinstance(panel, Panel):
        refuse_general_treatment(panel, "bacon_decomposition")
    if not isinstance(panel, Panel) or panel.kind != "panel" or not panel.has_cohorts:
        raise EstimationError(
            "bacon_decomposition needs a spimpact.Panel with unit=, time= and cohort= (or "
            "treatment=)."
        )
    refuse_exposure(panel, "bacon_decomposition")
    refuse_dose(panel, "bacon_decomposition")
    if not panel.is_balanced:
        raise PanelError(
            f"bacon_decomposition needs a balanced panel (every unit in every period), but "
            f"{panel.n_units * panel.n_periods - panel.n_obs} unit-periods are missing; use "
            f"panel.balanced() to keep the units observed in every period."
        )
    T = panel.n_periods
    group, uw = _groups(panel)
    levels, g_of_unit = np.unique(group, return_inverse=True)
    share = np.bincount(g_of_unit, weights=uw) / uw.sum()
    row_g = g_of_unit[panel.unit_codes]
    w = np.asarray(panel.w, dtype=float)
    code = row_g * T + panel.time_codes
    ybar = (np.bincount(code, weights=w * panel.y, minlength=len(levels) * T)
            / np.bincount(code, weights=w, minlength=len(levels) * T)).reshape(len(levels), T)
    D = (np.arange(T)[None, :] >= levels[:, None]).astype(float)
    Dt = D - D.mean(axis=1, keepdims=True)
    Dt = Dt - share @ Dt  # two-way demeaned treatment of each group and period
    var_d = float(share @ (Dt**2).mean(axis=1))
    if var_d <= 1e-14:
        raise EstimationError(
            "the treatment indicator has no variation left after unit and period effects "
            "(every cohort is treated in the same periods); there is nothing to decompose."
        )
    rows = _comparisons(levels, share, ybar, T)

    def label(k: int) -> Any:
        lev = levels[k]
        return NEVER if lev >= T else ALWAYS if lev < 0 else panel.periods[lev]

    table = pd.DataFrame({
        "treated": pd.Series([label(r[0]) for r in rows], dtype=object),
        "comparison": pd.Series([label(r[1]) for r in rows], dtype=object),
        "type": [r[2] for r in rows],
        "weight": np.array([r[3] for r in rows]) / var_d,
        "estimate": [r[4] for r in rows],
    })
    for c in ("std_error", "ci_lower", "ci_upper", "p_value"):
        table[c] = np.nan
    twfe = TWFE(confidence=confidence).fit(panel)
    wsum = float((table["weight"] * table["estimate"]).sum())
    forbidden = float(table.loc[table["type"].str.contains("forbidden"), "weight"].sum())
    return BaconDecomposition(
        table, overall=twfe.overall, method="Goodman-Bacon decomposition of TWFE",
        confidence=confidence, n_obs=panel.n_obs, n_units=panel.n_units,
        n_clusters=panel.n_clusters, warnings=twfe.warnings,
        info={"weighted sum of 2x2 estimates": wsum, "sum of weights": float(
            table["weight"].sum()), "weight on forbidden comparisons": forbidden},
    )
