"""Cost-effectiveness from effect draws or from summary inputs.

Two inputs, one set of outputs. From *draws* (bootstrap or posterior draws of
the incremental cost and effect, paired when they come from one model) every
quantity is its direct Monte Carlo formula, as in R's BCEA: the incremental
net monetary benefit ``INB(k) = k * dE - dC`` per draw, its mean and
equal-tailed interval, the probability that it is positive (the
cost-effectiveness acceptability curve) and the expected value of perfect
information ``E[max(INB, 0)] - max(E[INB], 0)``. From *summary inputs* (a mean
and a 95% interval for each) the incremental cost and effect are taken as
bivariate normal with the given correlation and the same quantities have
closed forms: ``INB ~ N(k m_E - m_C, k^2 s_E^2 + s_C^2 - 2 k rho s_E s_C)``,
the CEAC is ``Phi(mean / sd)`` and the EVPI is the unit normal loss
``sd * (phi(z) - z (1 - Phi(z)))`` at ``z = |mean| / sd``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import OptionError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["CostEffectiveness", "cost_effectiveness", "DEFAULT_WTP", "NICE_THRESHOLDS",
           "normal_loss"]

#: Willingness-to-pay grid used when none is given: 0 to 50,000 in steps of 100
#: (501 values, BCEA's default grid).
DEFAULT_WTP = np.arange(0.0, 50_001.0, 100.0)
#: NICE's cost-effectiveness range, GBP per QALY (NICE health technology
#: evaluations manual, 2022, section 6.3).
NICE_THRESHOLDS = (20_000.0, 30_000.0)


def normal_loss(mean: Any, sd: Any) -> np.ndarray:
    """``E[max(X, 0)] - max(E[X], 0)`` for ``X ~ N(mean, sd^2)``: the EVPI of a
    two-way decision whose incremental net benefit is normal.

    Examples
    --------
    >>> round(float(normal_loss(0.0, 1.0)), 6)  # phi(0) = 0.398942
    0.398942
    """
    from scipy.special import ndtr

    mean, sd = np.broadcast_arrays(np.asarray(mean, dtype=float), np.asarray(sd, dtype=float))
    z = np.divide(np.abs(mean), sd, out=np.full(mean.shape, np.inf), where=sd > 0)
    phi = np.exp(-0.5 * np.minimum(z, 1e3) ** 2) / np.sqrt(2 * np.pi)
    return np.where(sd > 0, sd * (phi - z * ndtr(-z)), 0.0)


def _as_grid(wtp: Any) -> np.ndarray:
    grid = DEFAULT_WTP if wtp is None else np.atleast_1d(np.asarray(wtp, dtype=float))
    if grid.ndim != 1 or not np.isfinite(grid).all() or (grid < 0).any():
        raise OptionError(f"wtp must be non-negative finite numbers (GBP per unit of effect), "
                          f"e.g. wtp=[20000, 30000]; got {wtp!r}.")
    return grid.copy()


def _se_from_ci(ci: Any, name: str, confidence: float) -> tuple[float, float]:
    from scipy.special import ndtri

    try:
        lo, hi = (float(v) for v in ci)
    except (TypeError, ValueError):
        raise OptionError(f"{name} must be a (lower, upper) pair, e.g. {name}=(-0.022, 0.029); "
                          f"got {ci!r}.") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise OptionError(f"{name} must have lower < upper, both finite; got {ci!r}.")
    return (hi - lo) / (2 * float(ndtri(0.5 + confidence / 2))), 0.5 * (lo + hi)


def _draws_of(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim > 1:
        a = a.reshape(-1) if a.size == max(a.shape) else a
    if a.ndim > 1:
        raise OptionError(f"{name} must be a number or a 1-D array of draws; got shape {a.shape}.")
    if not np.isfinite(a).all():
        bad = np.flatnonzero(~np.isfinite(np.atleast_1d(a)))[:5].tolist()
        raise OptionError(f"{name} has non-finite values at positions {bad}; remove or impute "
                          f"them before the economic evaluation.")
    return a


class CostEffectiveness:
    """Incremental cost-effectiveness of an intervention against its comparator.

    Built by :func:`cost_effectiveness`. Tables: :attr:`inmb`, :attr:`ceac`,
    :attr:`evpi`; numbers: :attr:`icer`, :attr:`mean_cost`,
    :attr:`mean_effect`; plots: :meth:`plot_plane`, :meth:`plot_ceac`.
    """

    def __init__(self, *, mode: str, wtp: np.ndarray, confidence: float,
                 cost: np.ndarray | None = None, effect: np.ndarray | None = None,
                 moments: tuple[float, float, float, float, float] | None = None,
                 population: float | None = None, label: str = "") -> None:
        self._mode = mode
        self._wtp = wtp
        self._conf = confidence
        self._cost = cost
        self._effect = effect
        if moments is None:  # draws: their sample moments (for display only)
            assert cost is not None and effect is not None
            sd_c, sd_e = float(cost.std(ddof=1)), float(effect.std(ddof=1))
            rho = float(np.corrcoef(cost, effect)[0, 1]) if sd_c > 0 and sd_e > 0 else 0.0
            moments = (float(cost.mean()), sd_c, float(effect.mean()), sd_e, rho)
        self._moments: tuple[float, float, float, float, float] = moments
        self._population = population
        self._label = label

    # ----------------------------------------------------------------- numbers
    @property
    def mode(self) -> str:
        """``"draws"`` (Monte Carlo formulas) or ``"normal"`` (closed forms)."""
        return self._mode

    @property
    def wtp(self) -> np.ndarray:
        """The willingness-to-pay grid (per unit of effect)."""
        return self._wtp.copy()

    @property
    def mean_cost(self) -> float:
        """Expected incremental cost."""
        return self._moments[0]

    @property
    def mean_effect(self) -> float:
        """Expected incremental effect (e.g. QALYs)."""
        return self._moments[2]

    @property
    def icer(self) -> float:
        """Incremental cost-effectiveness ratio: mean incremental cost over mean
        incremental effect (``nan`` when the mean effect is zero)."""
        e = self.mean_effect
        return self.mean_cost / e if e != 0 else float("nan")

    @property
    def quadrant(self) -> str:
        """Where the mean lies on the cost-effectiveness plane: ``"dominant"``
        (less costly, more effective), ``"dominated"`` (more costly, less
        effective), ``"more costly, more effective"`` or ``"less costly, less
        effective"`` (where the ICER is a saving per unit of effect lost). A
        negative ICER means one of the first two: read it with this label."""
        c, e = self.mean_cost, self.mean_effect
        if c <= 0 and e > 0:
            return "dominant"
        if c >= 0 and e < 0:
            return "dominated"
        return "more costly, more effective" if e > 0 else "less costly, less effective"

    @property
    def samples(self) -> pd.DataFrame | None:
        """The paired draws (``cost``, ``effect``), or ``None`` from summary inputs."""
        if self._cost is None:
            return None
        return pd.DataFrame({"cost": self._cost, "effect": self._effect})

    def _inb_moments(self) -> tuple[np.ndarray, np.ndarray]:
        mc, sc, me, se, rho = self._moments
        k = self._wtp
        var = (k * se) ** 2 + sc**2 - 2 * k * rho * se * sc
        return k * me - mc, np.sqrt(np.maximum(var, 0.0))

    def inb_draws(self) -> np.ndarray:
        """Incremental net monetary benefit per draw and WTP ``(n_draws, n_wtp)``
        (draws mode only)."""
        cost, effect = self._cost, self._effect
        if cost is None or effect is None:
            raise OptionError("inb_draws() needs draws; this evaluation was built from summary "
                              "inputs (see .inmb for the closed form).")
        return effect[:, None] * self._wtp[None, :] - cost[:, None]

    @property
    def inmb(self) -> pd.DataFrame:
        """Incremental net monetary benefit by WTP: ``wtp, estimate, std_error,
        ci_lower, ci_upper`` (equal-tailed draw quantiles, or the normal interval)."""
        from scipy.special import ndtri

        if self._cost is not None:
            inb = self.inb_draws()
            lo, hi = np.quantile(inb, [(1 - self._conf) / 2, (1 + self._conf) / 2], axis=0)
            est, sd = inb.mean(axis=0), inb.std(axis=0, ddof=1)
        else:
            est, sd = self._inb_moments()
            z = float(ndtri(0.5 + self._conf / 2))
            lo, hi = est - z * sd, est + z * sd
        return pd.DataFrame({"wtp": self._wtp, "estimate": est, "std_error": sd,
                             "ci_lower": lo, "ci_upper": hi})

    @property
    def ceac(self) -> pd.DataFrame:
        """Cost-effectiveness acceptability curve: ``wtp, probability`` that the
        intervention's net benefit exceeds the comparator's."""
        from scipy.special import ndtr

        if self._cost is not None:
            prob = (self.inb_draws() > 0).mean(axis=0)
        else:
            m, s = self._inb_moments()
            with np.errstate(divide="ignore", invalid="ignore"):
                prob = np.where(s > 0, ndtr(m / s), (m > 0).astype(float))
        return pd.DataFrame({"wtp": self._wtp, "probability": prob})

    @property
    def evpi(self) -> pd.DataFrame:
        """Expected value of perfect information per person (``evpi``), and for
        the population when one was given (``evpi_population``)."""
        if self._cost is not None:
            inb = self.inb_draws()
            val = np.maximum(inb, 0).mean(axis=0) - np.maximum(inb.mean(axis=0), 0)
        else:
            val = normal_loss(*self._inb_moments())
        out = pd.DataFrame({"wtp": self._wtp, "evpi": val})
        if self._population is not None:
            out["evpi_population"] = val * self._population
        return out

    def at(self, wtp: float) -> dict[str, float]:
        """INMB, probability cost-effective and EVPI at one WTP (added to the grid
        if absent)."""
        other = cost_effectiveness_like(self, [float(wtp)])
        row = {"wtp": float(wtp), "icer": self.icer}
        inmb = other.inmb.iloc[0]
        row.update(inmb=float(inmb["estimate"]), inmb_ci_lower=float(inmb["ci_lower"]),
                   inmb_ci_upper=float(inmb["ci_upper"]),
                   probability=float(other.ceac["probability"].iloc[0]),
                   evpi=float(other.evpi["evpi"].iloc[0]))
        return row

    def summary_table(self, wtp: Sequence[float] = NICE_THRESHOLDS) -> pd.DataFrame:
        """One row per WTP: ICER, INMB and its interval, probability cost-effective, EVPI."""
        return pd.DataFrame([self.at(k) for k in wtp])

    def summary(self) -> str:
        """Plain-text summary at the NICE thresholds."""
        head = (f"CostEffectiveness{' (' + self._label + ')' if self._label else ''}: "
                f"{self._mode} inputs; incremental cost {self.mean_cost:,.6g}, incremental "
                f"effect {self.mean_effect:.4g}, ICER {self.icer:,.6g} ({self.quadrant})")
        return head + "\n" + self.summary_table().to_string(index=False,
                                                            float_format="{:,.6g}".format)

    def __repr__(self) -> str:
        return (f"<CostEffectiveness: {self._mode}, ICER {self.icer:,.6g}, "
                f"{len(self._wtp)} WTP values>")

    # ------------------------------------------------------------------- plots
    def plot_plane(self, ax: Axes | None = None, *, wtp: Sequence[float] = NICE_THRESHOLDS,
                   max_points: int = 2000) -> Axes:
        """The cost-effectiveness plane: the draws (or the mean with its
        intervals), the mean, and lines of slope ``wtp`` through the origin."""
        from ..plotting import NEUTRAL_COLOUR, TREATED_COLOUR, get_ax

        ax = get_ax(ax, (6, 5))
        cost, effect = self._cost, self._effect
        if cost is not None and effect is not None:
            step = max(1, len(cost) // max_points)
            ax.scatter(effect[::step], cost[::step], s=6, alpha=0.3,
                       color=NEUTRAL_COLOUR, label="draws")
        else:
            from scipy.special import ndtri

            z = float(ndtri(0.5 + self._conf / 2))
            mc, sc, me, se, _ = self._moments
            ax.errorbar([me], [mc], xerr=[[z * se]], yerr=[[z * sc]], fmt="none",
                        ecolor=NEUTRAL_COLOUR, capsize=3)
        ax.scatter([self.mean_effect], [self.mean_cost], color=TREATED_COLOUR, zorder=3,
                   label="mean")
        xlim = ax.get_xlim()
        span = max(abs(xlim[0]), abs(xlim[1]), abs(self.mean_effect) * 1.2, 1e-12)
        xs = np.array([-span, span])
        for k, ls in zip(wtp, ("--", ":", "-."), strict=False):
            ax.plot(xs, k * xs, ls=ls, color="k", lw=0.8, label=f"WTP {k:,.0f}")
        ax.axhline(0, color=NEUTRAL_COLOUR, lw=0.6)
        ax.axvline(0, color=NEUTRAL_COLOUR, lw=0.6)
        ax.set_xlim(-span, span)
        ax.set_xlabel("incremental effect")
        ax.set_ylabel("incremental cost")
        ax.set_title("Cost-effectiveness plane")
        ax.legend(fontsize=8)
        return ax

    def plot_ceac(self, ax: Axes | None = None, *, shade: tuple[float, float] | None =
                  NICE_THRESHOLDS) -> Axes:
        """The acceptability curve, with the NICE range (GBP 20,000-30,000) shaded."""
        from ..plotting import TREATED_COLOUR, get_ax

        ax = get_ax(ax)
        c = self.ceac
        ax.plot(c["wtp"], c["probability"], color=TREATED_COLOUR)
        if shade is not None:
            ax.axvspan(*shade, color="0.85", zorder=0, label="NICE range")
            ax.legend(fontsize=8)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("willingness to pay per unit of effect")
        ax.set_ylabel("probability cost-effective")
        ax.set_title("Cost-effectiveness acceptability curve")
        return ax


def cost_effectiveness_like(ce: CostEffectiveness, wtp: Sequence[float]) -> CostEffectiveness:
    """The same evaluation on another WTP grid."""
    return CostEffectiveness(mode=ce._mode, wtp=_as_grid(wtp), confidence=ce._conf,
                             cost=ce._cost, effect=ce._effect, moments=ce._moments,
                             population=ce._population, label=ce._label)


def cost_effectiveness(
    delta_cost: Any,
    delta_effect: Any,
    *,
    effect_ci: tuple[float, float] | None = None,
    cost_ci: tuple[float, float] | None = None,
    correlation: float = 0.0,
    wtp: Any = None,
    population: float | None = None,
    confidence: float = 0.95,
    label: str = "",
) -> CostEffectiveness:
    """Cost-effectiveness of an intervention from draws or from summary inputs.

    Parameters
    ----------
    delta_cost, delta_effect : float, 1-D array or result
        Incremental cost and effect (intervention minus comparator). Arrays
        are draws (bootstrap or posterior, e.g. ``result.draws()``; a fitted
        result stands for its ``.draws()`` of the overall effect); two arrays
        of the same length are paired draw by draw, so their correlation is
        kept. A number is a fixed value, or the mean when its ``*_ci`` is given.
    effect_ci, cost_ci : (lower, upper), optional
        95% (``confidence``) intervals of the means: the quantity is then
        normal with SE ``(upper - lower) / (2 z)`` centred on the given mean.
        Only with numbers, not with draws.
    correlation : float
        Correlation of incremental cost and effect (summary inputs only; draws
        carry their own).
    wtp : float or array, optional
        Willingness to pay per unit of effect; default 0 to 50,000 by 100.
    population : float, optional
        People affected (over the decision's lifetime), for the population EVPI.
    confidence : float
        Level of the INMB intervals and of the given ``*_ci``.
    label : str
        A name shown in the summary.

    Returns
    -------
    CostEffectiveness

    Examples
    --------
    SPRING_NE (Moffatt et al. 2023): incremental cost GBP 1,309 per participant
    and 0.004 QALYs (95% CI -0.022 to 0.029):

    >>> ce = cost_effectiveness(1309.0, 0.004, effect_ci=(-0.022, 0.029))
    >>> round(ce.icer)
    327250
    >>> ce.summary_table()["probability"].round(4).tolist()
    [0.0, 0.0012]
    """
    from ..results import _check_confidence

    confidence = _check_confidence(confidence)
    grid = _as_grid(wtp)
    if population is not None and not (np.isfinite(population) and population > 0):
        raise OptionError(f"population must be a positive number, not {population!r}.")
    if not (-1.0 <= float(correlation) <= 1.0):
        raise OptionError(f"correlation must be in [-1, 1], not {correlation!r}.")
    from .costing import _draws_of_result

    cost = _draws_of(_draws_of_result(delta_cost), "delta_cost")
    effect = _draws_of(_draws_of_result(delta_effect), "delta_effect")
    is_draws = cost.ndim == 1 or effect.ndim == 1
    if is_draws:
        if effect_ci is not None or cost_ci is not None:
            raise OptionError("effect_ci/cost_ci describe summary inputs; with draws the "
                              "uncertainty is in the draws: pass either draws or a mean "
                              "with its interval.")
        if correlation != 0:
            raise OptionError("correlation applies to summary inputs; paired draws carry "
                              "their own correlation.")
        n = max(cost.size, effect.size)
        if cost.ndim == effect.ndim == 1 and cost.size != effect.size:
            raise OptionError(f"delta_cost has {cost.size} draws and delta_effect "
                              f"{effect.size}; paired draws must have the same length.")
        if n < 2:
            raise OptionError("at least 2 draws are needed for a draws-based evaluation.")
        return CostEffectiveness(mode="draws", wtp=grid, confidence=confidence,
                                 cost=np.broadcast_to(cost, (n,)).astype(float),
                                 effect=np.broadcast_to(effect, (n,)).astype(float),
                                 population=population, label=label)
    mc, me, sc, se = float(cost), float(effect), 0.0, 0.0
    if cost_ci is not None:
        sc, _ = _se_from_ci(cost_ci, "cost_ci", confidence)
    if effect_ci is not None:
        se, _ = _se_from_ci(effect_ci, "effect_ci", confidence)
    return CostEffectiveness(mode="normal", wtp=grid, confidence=confidence,
                             moments=(mc, sc, me, se, float(correlation)),
                             population=population, label=label)


#: Options of an ``[analysis.econ]`` table in ``spimpact run`` specs.
RUN_OPTIONS = ("target", "item", "unit_cost", "unit_costs", "scale", "effect", "programme_cost", "wtp",
               "population", "confidence", "n_draws", "random_state")


def _number(options: dict[str, Any], key: str, default: Any = None) -> Any:
    value = options.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise OptionError(f"{key} = {value!r}: give a finite number.")
    return float(value)


def check_run_options(options: dict[str, Any]) -> dict[str, Any]:
    """Check an ``[analysis.econ]`` table before anything is fitted; returns the
    settings :func:`run_evaluation` uses (``unit_cost`` looked up from ``item``)."""
    from ..results import _check_confidence
    from .costing import unit_cost_table

    unknown = sorted(set(options) - set(RUN_OPTIONS))
    if unknown:
        raise OptionError(f"unknown option(s) {unknown} in [analysis.econ]; use "
                          f"{list(RUN_OPTIONS)}.")
    item, unit_cost = options.get("item"), _number(options, "unit_cost")
    if item is not None and unit_cost is not None:
        raise OptionError(f"item = {item!r} and unit_cost = {unit_cost:g}: give one (item looks "
                          f"its cost up in the unit-cost table, unit_cost states it).")
    if item is not None:
        if not isinstance(item, str):
            raise OptionError(f"item = {item!r}: give an item name, e.g. "
                              f"item = \"gp_consultations\".")
        given = options.get("unit_costs")
        if given is not None and not (isinstance(given, dict) and all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in given.values())):
            raise OptionError(f"unit_costs = {given!r}: give a table of numbers, e.g. "
                              f"unit_costs = {{ gp_consultations = 45.0 }}.")
        table = unit_cost_table(given)
        if item not in table.index:
            raise OptionError(f"item = {item!r} has no unit cost; known items: "
                              f"{sorted(table.index)} (or give unit_cost = ... or unit_costs).")
        unit_cost = float(table[item])
    elif "unit_costs" in options:
        raise OptionError("unit_costs is a table for item = ...; name the item.")
    effect = _number(options, "effect")
    if unit_cost is not None and effect is None:
        raise OptionError("the outcome is costed as service use (item/unit_cost), so the "
                          "health effect must be given: effect = 0.004 (e.g. QALYs per "
                          "person).")
    if unit_cost is None and effect is not None:
        raise OptionError("effect is the health gain when the outcome is costed as service "
                          "use; with neither item nor unit_cost the analysis's effect is "
                          "the health effect: drop effect.")
    if unit_cost is None and "programme_cost" not in options:
        raise OptionError("the analysis's effect is the health effect, so its cost must be "
                          "given: programme_cost = 1345 (per unit of effect's scale).")
    n_draws = options.get("n_draws", 4000)
    if isinstance(n_draws, bool) or not isinstance(n_draws, int) or n_draws < 2:
        raise OptionError(f"n_draws = {n_draws!r}: give an integer of at least 2.")
    seed = options.get("random_state", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise OptionError(f"random_state = {seed!r}: give a non-negative integer.")
    wtp = options.get("wtp")
    if wtp is not None:
        values = wtp if isinstance(wtp, list) else [wtp]
        if not values or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                  for v in values):
            raise OptionError(f"wtp = {wtp!r}: give a number or a list of numbers (GBP per "
                              f"unit of effect), e.g. wtp = [20000, 30000].")
        _as_grid(values)
    target = options.get("target", "overall")
    if not isinstance(target, str | int | float) or isinstance(target, bool):
        raise OptionError(f"target = {target!r}: give \"overall\", a subgroup or a row label.")
    return {"item": item, "unit_cost": unit_cost, "effect": effect,
            "scale": _number(options, "scale", 1.0),
            "programme_cost": _number(options, "programme_cost", 0.0),
            "n_draws": n_draws, "random_state": seed, "wtp": wtp, "target": target,
            "population": _number(options, "population"),
            "confidence": _check_confidence(options.get("confidence", 0.95))}


def run_evaluation(result: Any, options: dict[str, Any]) -> tuple[CostEffectiveness, str]:
    """The evaluation an ``[analysis.econ]`` table asks for, and a sentence saying
    what was costed (see :func:`run_extension`)."""
    o = check_run_options(options)
    item, unit_cost, effect, scale = o["item"], o["unit_cost"], o["effect"], o["scale"]
    programme, target = o["programme_cost"], o["target"]
    draws = np.asarray(result.draws(target, n_draws=o["n_draws"],
                                    random_state=o["random_state"]), dtype=float)
    of = "the overall effect" if target == "overall" else f"the effect {target!r}"
    if unit_cost is not None:  # the outcome is service use: its effect is a cost
        cost, eff = programme + draws * unit_cost * scale, effect
        what = (f"incremental cost = programme cost {programme:,.6g} + effect x unit cost "
                f"{unit_cost:,.6g}" + (f" x {scale:g}" if scale != 1 else "")
                + (f" ({item})" if item else "") + f"; incremental effect {effect:g} (given)")
    else:  # the outcome is the health effect
        cost, eff = programme, draws * scale
        what = ("incremental effect = the analysis's effect" + (f" x {scale:g}" if scale != 1
                                                                 else "")
                + f"; incremental cost = programme cost {programme:,.6g}")
    ce = cost_effectiveness(cost, eff, wtp=o["wtp"], population=o["population"],
                            confidence=o["confidence"])
    return ce, what + f"; {draws.size} draws of {of}."


def run_extension(result: Any, options: dict[str, Any], section: Any, folder: Any) -> list[str]:
    """The ``[analysis.econ]`` table of ``spimpact run``: cost-effectiveness of
    the analysis's overall effect from its draws (``result.draws()``; another
    estimate with ``target``, e.g. a subgroup of an analysis with ``by``).

    With ``item`` (a row of :data:`~spimpact.econ.DEFAULT_UNIT_COSTS`, or of
    ``unit_costs`` given as ``{item = cost}``) or ``unit_cost``, the outcome is
    service use: incremental cost = ``programme_cost + draw * unit_cost * scale``
    and the health ``effect`` is given. Without them the outcome is the health
    effect: incremental effect = ``draw * scale`` at cost ``programme_cost``.
    ``wtp`` (a number or list; default 0 to 50,000 by 100), ``population``,
    ``confidence``, and ``n_draws``/``random_state`` for results without stored
    draws. Adds a "value for money" part to the section (ICER, INMB and
    probability cost-effective at the NICE thresholds, the plane and the CEAC)
    and writes ``NAME_econ.csv`` (``wtp``, INMB ``estimate, std_error,
    ci_lower, ci_upper``, ``probability``, ``evpi``)."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    ce, what = run_evaluation(result, options)
    table = ce.inmb.merge(ce.ceac, on="wtp").merge(ce.evpi, on="wtp")
    title = getattr(section, "title", "analysis").split(":")[0].strip() or "analysis"
    name = f"{title}_econ.csv"
    table.to_csv(Path(folder) / name, index=False)
    section.text(f"Value for money: {what} ICER {ce.icer:,.6g} per unit of effect "
                 f"({ce.quadrant}); the whole WTP grid (INMB, probability cost-effective, "
                 f"EVPI) is in {name}.")
    section.table(ce.summary_table(), "Value for money at the NICE thresholds (GBP 20,000 and "
                                      "30,000 per QALY).")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ce.plot_plane(ax=axes[0])
    ce.plot_ceac(ax=axes[1])
    section.figure(fig, "Cost-effectiveness plane and acceptability curve (NICE range shaded).")
    return [name]
