"""Provision against need: is the programme where the need is?

:func:`provision_vs_need` regresses provision (e.g. link-worker FTE per
10,000 patients) on a pre-rollout measure of need, separately in each
period, as Wilding et al. (2024, BJGP) did for the link-worker rollout: a
negative slope means less provision where need is higher. The need-adjusted
gap of each area is its provision minus the provision it would have if the
total were shared in proportion to need.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import OptionError
from ..results import estimate_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ProvisionNeed", "provision_vs_need"]


class ProvisionNeed:
    """Per-period slopes of provision on need (:attr:`estimates`), need-adjusted
    gaps by area (:meth:`gaps`), and their plots."""

    def __init__(self, estimates: pd.DataFrame, data: pd.DataFrame, cols: dict[str, Any],
                 confidence: float) -> None:
        self._est = estimates
        self._data = data
        self._cols = cols
        self._conf = confidence

    @property
    def estimates(self) -> pd.DataFrame:
        """``time, estimate, std_error, ci_lower, ci_upper, p_value, n``: the slope
        of provision on need in each period."""
        return self._est.copy()

    @property
    def confidence(self) -> float:
        return self._conf

    def gaps(self, time: Any = None, *, by: str | None = None) -> pd.DataFrame:
        """Need-adjusted gap of each area in one period (default: the last).

        The fair share of area ``i`` is ``need_i * sum(provision * w) / sum(need * w)``
        (weights ``w``, e.g. list size; provision as a rate), and the gap is
        ``provision_i - fair_share_i``: negative is a shortfall. With ``by``
        (e.g. ``"icb"``), areas are pooled first (weighted means). Sorted from
        the largest shortfall.
        """
        c = self._cols
        d = self._data
        t = d[c["time"]].iloc[-1] if time is None else time
        if not (d[c["time"]] == t).any():
            raise OptionError(f"no rows with {c['time']} == {t!r}.")
        sub = d[d[c["time"]] == t]
        w = sub["_w"].to_numpy()
        prov, need = sub[c["provision"]].to_numpy(float), sub[c["need"]].to_numpy(float)
        rate = np.sum(prov * w) / np.sum(need * w)
        key = c.get("area") if by is None else by
        if key is None:
            frame = pd.DataFrame({"row": sub.index})
        else:
            if key not in sub.columns:
                raise OptionError(f"column {key!r} is not in the data.")
            frame = pd.DataFrame({key: sub[key].to_numpy()})
        frame["weight"], frame["_pw"], frame["_nw"] = w, prov * w, need * w
        g = frame.groupby(list(frame.columns[:1]), sort=False)[["weight", "_pw", "_nw"]].sum()
        out = pd.DataFrame({"provision": g["_pw"] / g["weight"], "need": g["_nw"] / g["weight"],
                            "weight": g["weight"]})
        out["fair_share"] = rate * out["need"]
        out["gap"] = out["provision"] - out["fair_share"]
        out.insert(0, c["time"], t)
        return out.sort_values("gap", kind="stable").reset_index()

    def plot(self, ax: Axes | None = None) -> Axes:
        """The slope of provision on need over time, with intervals."""
        from ..plotting import NEUTRAL_COLOUR, TREATED_COLOUR, get_ax

        ax = get_ax(ax)
        e = self._est
        x = np.arange(len(e))
        ax.fill_between(x, e["ci_lower"], e["ci_upper"], color=TREATED_COLOUR, alpha=0.2)
        ax.plot(x, e["estimate"], marker="o", color=TREATED_COLOUR)
        ax.axhline(0, color=NEUTRAL_COLOUR, ls="--", lw=0.8)
        step = max(1, -(-len(e) // 6))
        ax.set_xticks(x[::step], [str(v) for v in e[self._cols["time"]].iloc[::step]],
                      rotation=30, ha="right")
        ax.set_ylabel(f"slope on {self._cols['need']}")
        ax.set_title("Provision against need, by period")
        return ax

    def plot_gaps(self, ax: Axes | None = None, *, time: Any = None, by: str | None = None,
                  top: int = 20) -> Axes:
        """The ``top`` largest shortfalls (need-adjusted gaps), ranked."""
        from ..plotting import CONTROL_COLOUR, TREATED_COLOUR, get_ax

        g = self.gaps(time, by=by).head(top).iloc[::-1]
        ax = get_ax(ax, (7, max(3, 0.3 * len(g) + 1)))
        label = g.columns[0]  # the area (or row) identifier
        ax.barh(g[label].astype(str), g["gap"],
                color=np.where(g["gap"] < 0, TREATED_COLOUR, CONTROL_COLOUR))
        ax.set_xlabel("provision minus need-proportional share")
        ax.set_title("Largest shortfalls against need")
        return ax

    def __repr__(self) -> str:
        last = self._est.iloc[-1]
        return (f"<ProvisionNeed: {len(self._est)} periods, last slope {last['estimate']:.4g} "
                f"(SE {last['std_error']:.3g})>")


def provision_vs_need(
    data: pd.DataFrame,
    *,
    provision: str,
    need: str,
    time: str,
    weights: str | None = None,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    area: str | None = None,
    confidence: float = 0.95,
) -> ProvisionNeed:
    """Slope of provision on need in each period (least squares, HC1 or clustered SEs).

    Parameters
    ----------
    data : DataFrame
        One row per area and period (e.g. PCN-quarter).
    provision, need, time : str
        Columns: provision (e.g. FTE per 10,000 patients), need (measured before
        the rollout), period.
    weights : str, optional
        Column of regression weights (e.g. list size); weighted least squares.
    covariates : sequence of str
        Further regressors (e.g. rurality).
    cluster : str, optional
        Cluster-robust SEs by this column (e.g. ``"icb"``); HC1 otherwise.
    area : str, optional
        Column naming the areas (used by :meth:`ProvisionNeed.gaps`).
    confidence : float

    Returns
    -------
    ProvisionNeed

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"t": np.repeat([1, 2], 200), "need": np.tile(rng.uniform(0, 50, 200), 2)})
    >>> d["fte"] = 1 - np.where(d["t"] == 2, 0.01, 0.0) * d["need"] + rng.normal(0, 0.1, 400)
    >>> pvn = provision_vs_need(d, provision="fte", need="need", time="t")
    >>> [round(v, 2) + 0.0 for v in pvn.estimates["estimate"]]
    [0.0, -0.01]
    """
    import statsmodels.api as sm

    cols = [provision, need, time, *covariates] + [c for c in (weights, cluster, area) if c]
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise OptionError(f"provision_vs_need: columns {missing} are not in the data.")
    d = data.copy()  # the user's frame is not modified
    num = [provision, need, *covariates] + ([weights] if weights else [])
    bad = [c for c in num if not np.isfinite(pd.to_numeric(d[c], errors="coerce")).all()]
    if bad:
        raise OptionError(f"provision_vs_need: columns {bad} have missing or non-numeric "
                          f"values; drop or fill those rows first.")
    d["_w"] = d[weights].astype(float) if weights else 1.0
    if (d["_w"] < 0).any():
        raise OptionError(f"weights column {weights!r} has negative values.")
    d = d.sort_values(time, kind="stable").reset_index(drop=True)
    rows = []
    for t, sub in d.groupby(time, sort=True):  # one regression per period
        X = sm.add_constant(sub[[need, *covariates]].to_numpy(float), has_constant="add")
        model = sm.WLS(sub[provision].to_numpy(float), X, weights=sub["_w"].to_numpy())
        if cluster:
            codes = pd.factorize(sub[cluster])[0]
            fit = model.fit(cov_type="cluster", cov_kwds={"groups": codes})
        else:
            fit = model.fit(cov_type="HC1")
        rows.append((t, float(fit.params[1]), float(np.sqrt(fit.cov_params()[1, 1])),
                     len(sub)))
    if not rows:
        raise OptionError("provision_vs_need: the data have no rows.")
    times, est, se, n = zip(*rows, strict=True)
    table = estimate_table(est, se, confidence, index={time: list(times)})
    table["n"] = n
    return ProvisionNeed(table, d, {"provision": provision, "need": need, "time": time,
                                    "area": area}, confidence)
