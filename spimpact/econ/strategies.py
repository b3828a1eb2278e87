"""Several strategies at once: the cost-effectiveness frontier, the
probability that each strategy is the best (CEAC and CEAF) and the EVPI of
the choice among them.

With draws of each strategy's cost and effect ``(n_draws, n_strategies)``,
the net benefit of strategy ``j`` in draw ``s`` at willingness to pay ``k`` is
``k e_sj - c_sj``; the best strategy maximises the expected net benefit, the
CEAC of ``j`` is the share of draws in which ``j`` has the largest net
benefit, and the EVPI is ``E_s[max_j NB_sj] - max_j E_s[NB_sj]`` (BCEA's
``compute_CEAC`` / ``multi.ce`` and ``compute_EVI``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import OptionError
from .cea import NICE_THRESHOLDS, _as_grid

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["StrategyComparison", "compare_strategies", "efficiency_frontier"]


def efficiency_frontier(cost: Sequence[float], effect: Sequence[float],
                        names: Sequence[str] | None = None) -> pd.DataFrame:
    """Classify strategies by mean cost and effect and give the ICERs along the
    frontier.

    Strategies are sorted by effect; one is *dominated* when another costs no
    more and gives at least as much effect (one of the two strictly), and
    *extendedly dominated* when it lies above the line joining its
    neighbours on the frontier (a mix of them would do better), so that the
    ICERs along the frontier increase.

    Returns
    -------
    DataFrame
        ``strategy, cost, effect, status`` (``"frontier"``, ``"dominated"``,
        ``"extendedly dominated"``) and, on the frontier, ``incremental_cost``,
        ``incremental_effect`` and ``icer`` against the previous frontier strategy.

    Examples
    --------
    >>> f = efficiency_frontier([0, 100, 300, 250], [0, 1, 2, 0.5], ["A", "B", "C", "D"])
    >>> f.set_index("strategy")["status"].to_dict()
    {'A': 'frontier', 'D': 'dominated', 'B': 'frontier', 'C': 'frontier'}
    >>> f["icer"].tolist()[-1]
    200.0
    """
    c = np.asarray(cost, dtype=float)
    e = np.asarray(effect, dtype=float)
    if c.shape != e.shape or c.ndim != 1 or len(c) < 1:
        raise OptionError("cost and effect must be 1-D of one length (one value per strategy).")
    names = [f"strategy {i + 1}" for i in range(len(c))] if names is None else list(names)
    order = np.lexsort((c, e))  # by effect, then cost
    status = np.array(["frontier"] * len(c), dtype=object)
    # strong dominance: another strategy costs no more and gives no less (one strictly)
    le_c = c[None, :] <= c[:, None]
    ge_e = e[None, :] >= e[:, None]
    strict = (c[None, :] < c[:, None]) | (e[None, :] > e[:, None])
    dom = np.asarray((le_c & ge_e & strict).any(axis=1), dtype=bool)
    status[dom] = "dominated"
    front = [int(i) for i in order if not dom[i]]
    changed = True
    while changed and len(front) > 2:  # extended dominance: loop over strategies, not rows
        changed = False
        icers = np.diff(c[front]) / np.diff(e[front])
        for j in range(1, len(icers)):
            if icers[j] < icers[j - 1]:
                status[front[j]] = "extendedly dominated"
                del front[j]
                changed = True
                break
    out = pd.DataFrame({"strategy": [names[i] for i in order], "cost": c[order],
                        "effect": e[order], "status": status[order]})
    inc_c = np.full(len(c), np.nan)
    inc_e = np.full(len(c), np.nan)
    pos = {s: k for k, s in enumerate(order)}
    for a, b in zip(front[:-1], front[1:], strict=True):
        inc_c[pos[b]], inc_e[pos[b]] = c[b] - c[a], e[b] - e[a]
    out["incremental_cost"], out["incremental_effect"] = inc_c, inc_e
    with np.errstate(divide="ignore", invalid="ignore"):
        out["icer"] = inc_c / inc_e
    return out


class StrategyComparison:
    """Draws of several strategies' costs and effects, compared on a WTP grid.

    Built by :func:`compare_strategies`: :attr:`frontier`, :attr:`ceac`
    (probability each strategy is best), :attr:`ceaf` (the acceptability
    frontier: the strategy with the highest expected net benefit and its
    probability of being best), :attr:`evpi`, :meth:`plot_ceac`.
    """

    def __init__(self, cost: np.ndarray, effect: np.ndarray, names: list[str],
                 wtp: np.ndarray, population: float | None) -> None:
        self._c, self._e, self._names, self._wtp = cost, effect, names, wtp
        self._population = population

    @property
    def names(self) -> list[str]:
        """Strategy names."""
        return list(self._names)

    def net_benefit(self) -> np.ndarray:
        """Net monetary benefit ``(n_draws, n_wtp, n_strategies)``."""
        return self._wtp[None, :, None] * self._e[:, None, :] - self._c[:, None, :]

    @property
    def frontier(self) -> pd.DataFrame:
        """:func:`efficiency_frontier` of the mean costs and effects."""
        return efficiency_frontier(self._c.mean(axis=0), self._e.mean(axis=0), self._names)

    @property
    def expected_net_benefit(self) -> pd.DataFrame:
        """``wtp, strategy, enb``: expected net benefit of each strategy."""
        enb = self.net_benefit().mean(axis=0)
        return self._long(enb, "enb")

    def _long(self, values: np.ndarray, name: str) -> pd.DataFrame:
        k, s = len(self._wtp), len(self._names)
        return pd.DataFrame({"wtp": np.repeat(self._wtp, s),
                             "strategy": np.tile(np.asarray(self._names, dtype=object), k),
                             name: values.reshape(-1)})

    @property
    def ceac(self) -> pd.DataFrame:
        """``wtp, strategy, probability`` that the strategy has the largest net benefit."""
        nb = self.net_benefit()
        best = nb.argmax(axis=2)
        prob = (best[:, :, None] == np.arange(len(self._names))).mean(axis=0)
        return self._long(prob, "probability")

    @property
    def ceaf(self) -> pd.DataFrame:
        """``wtp, strategy, probability``: the optimal strategy (largest expected net
        benefit) at each WTP and its probability of being the best."""
        enb = self.net_benefit().mean(axis=0)
        opt = enb.argmax(axis=1)
        prob = self.ceac["probability"].to_numpy().reshape(len(self._wtp), -1)
        return pd.DataFrame({"wtp": self._wtp,
                             "strategy": np.asarray(self._names, dtype=object)[opt],
                             "probability": prob[np.arange(len(self._wtp)), opt]})

    @property
    def evpi(self) -> pd.DataFrame:
        """``wtp, evpi`` per person (and ``evpi_population`` with a population)."""
        nb = self.net_benefit()
        val = nb.max(axis=2).mean(axis=0) - nb.mean(axis=0).max(axis=1)
        out = pd.DataFrame({"wtp": self._wtp, "evpi": val})
        if self._population is not None:
            out["evpi_population"] = val * self._population
        return out

    def plot_ceac(self, ax: Axes | None = None, *,
                  shade: tuple[float, float] | None = NICE_THRESHOLDS) -> Axes:
        """Each strategy's probability of being the best, NICE range shaded."""
        from ..plotting import get_ax

        ax = get_ax(ax)
        tab = self.ceac
        for i, name in enumerate(self._names):
            sub = tab[tab["strategy"] == name]
            ax.plot(sub["wtp"], sub["probability"], color=f"C{i}", label=str(name))
        if shade is not None:
            ax.axvspan(*shade, color="0.85", zorder=0)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("willingness to pay per unit of effect")
        ax.set_ylabel("probability most cost-effective")
        ax.legend(fontsize=8)
        return ax

    def __repr__(self) -> str:
        return f"<StrategyComparison: {len(self._names)} strategies, {self._c.shape[0]} draws>"


def compare_strategies(
    cost: Any, effect: Any, *, names: Sequence[str] | None = None, wtp: Any = None,
    population: float | None = None,
) -> StrategyComparison:
    """Compare several strategies from draws of their costs and effects.

    Parameters
    ----------
    cost, effect : array ``(n_draws, n_strategies)`` or DataFrame
        Draws of each strategy's (absolute or incremental) cost and effect, row
        ``s`` of both from the same draw. A DataFrame's columns name the strategies.
    names : sequence of str, optional
    wtp : float or array, optional
        Willingness-to-pay grid (default 0 to 50,000 by 100).
    population : float, optional
        People affected, for the population EVPI.

    Returns
    -------
    StrategyComparison

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> e = np.column_stack([np.zeros(500), rng.normal(0.01, 0.005, 500)])
    >>> c = np.column_stack([np.zeros(500), rng.normal(100, 20, 500)])
    >>> sc = compare_strategies(c, e, names=["usual care", "link worker"], wtp=[20000])
    >>> sc.ceaf["strategy"].tolist()
    ['link worker']
    """
    if names is None and isinstance(cost, pd.DataFrame):
        names = [str(c) for c in cost.columns]
    c = np.asarray(cost, dtype=float)
    e = np.asarray(effect, dtype=float)
    if c.ndim != 2 or c.shape != e.shape or c.shape[1] < 2:
        raise OptionError(f"cost and effect must both be (n_draws, n_strategies) with at least "
                          f"2 strategies; got {c.shape} and {e.shape}.")
    if not (np.isfinite(c).all() and np.isfinite(e).all()):
        raise OptionError("cost and effect draws must be finite.")
    names = [f"strategy {i + 1}" for i in range(c.shape[1])] if names is None else list(names)
    if len(names) != c.shape[1]:
        raise OptionError(f"{len(names)} names for {c.shape[1]} strategies.")
    return StrategyComparison(c, e, names, _as_grid(wtp), population)
