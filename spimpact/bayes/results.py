"""Results of the Bayesian models.

:class:`BayesResult` is a :class:`spimpact.results.Result` whose estimates are
posterior summaries: ``estimate`` is the posterior mean, ``std_error`` the
posterior SD, ``ci_lower``/``ci_upper`` the equal-tailed credible interval at
``confidence`` (2.5% and 97.5% posterior quantiles by default), ``p_value`` is
NaN (a posterior is summarised by intervals, not tests), and ``rhat``,
``ess_bulk``, ``ess_tail`` are each row's convergence diagnostics. The full
posterior is kept as ArviZ ``InferenceData`` (``.idata``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import OptionError
from ..results import ESTIMATE_COLUMNS, Result
from ._model import OUTCOME_VAR, GroupVars
from ._sampling import DIAGNOSTIC_COLUMNS, summarise_draws

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["BayesResult", "PriorPredictive", "find_group"]


def find_group(groups: Sequence[GroupVars], level: str) -> GroupVars:
    """The grouping factor called ``level`` (or whose last column is ``level``)."""
    for g in groups:
        if g.name == level:
            return g
    tail = [g for g in groups if g.name.split(":")[-1] == level]
    if len(tail) == 1:
        return tail[0]
    raise OptionError(f"no group effects for {level!r}; the model's grouping factors are "
                      f"{[g.name for g in groups]}.")


def group_effect_table(posterior: Any, gv: GroupVars, confidence: float) -> pd.DataFrame:
    """Posterior summaries of one grouping factor's effects, one row per group and term."""
    b = gv.effects(posterior)
    c, d, G, k = b.shape
    index = pd.DataFrame({gv.name: np.repeat(np.asarray(gv.labels, dtype=object), k),
                          "term": np.tile(np.asarray(gv.terms, dtype=object), G)})
    return summarise_draws(b.reshape(c, d, G * k), index, confidence)


class BayesResult(Result):
    """A fitted Bayesian model: posterior summaries plus the posterior itself.

    Beyond :class:`~spimpact.results.Result`: ``.idata`` (ArviZ InferenceData),
    ``.diagnostics`` (a read-only mapping: ``max_rhat``, ``min_ess_bulk``,
    ``min_ess_tail``, ``divergences``, ``min_bfmi``, and where the worst values
    occur), ``.priors`` (the priors used), :meth:`group_effects` and
    :meth:`plot_ppc`. A failed convergence gate (R-hat >= 1.01, ESS < 400,
    any divergence, E-BFMI < 0.3) is a warning on ``.warnings``.
    """

    def __init__(
        self,
        estimates: pd.DataFrame,
        *,
        idata: Any,
        diagnostics: Mapping[str, Any],
        priors: pd.DataFrame,
        groups: Sequence[GroupVars] = (),
        model: Any = None,
        row_draws: np.ndarray | None = None,
        **kwargs: Any,
    ) -> None:
        self._row_draws = row_draws
        self._idata = idata
        self._diagnostics = MappingProxyType(dict(diagnostics))
        self._priors = priors.copy()
        self._groups = tuple(groups)
        self._model = model
        super().__init__(estimates, **kwargs)

    @property
    def id_columns(self) -> list[str]:
        """The columns of :attr:`estimates` that identify a row."""
        skip = (*ESTIMATE_COLUMNS, *DIAGNOSTIC_COLUMNS)
        return [c for c in self._estimates.columns if c not in skip]

    def draws(self, target: Any = "overall", *, n_draws: int = 4000,
              random_state: Any = None) -> np.ndarray:
        """Posterior draws (chains stacked) of the overall effect or of one row of
        :attr:`estimates` (e.g. a ``term`` such as ``"level_change"``);
        ``n_draws`` and ``random_state`` are not used: the posterior is returned."""
        if self._row_draws is None:
            return super().draws(target, n_draws=n_draws, random_state=random_state)
        if isinstance(target, str) and target == "overall":
            raise OptionError(f"{type(self).__name__} has no overall estimate; name a row "
                              f"instead: {self._target_choices()}.")
        i = self._target_row(target)
        d = np.asarray(self._row_draws)
        return d.reshape(-1, d.shape[-1])[:, i].astype(float)

    @property
    def idata(self) -> Any:
        """The ArviZ ``InferenceData`` of the fit (posterior, sample stats, observed data)."""
        return self._idata

    @property
    def diagnostics(self) -> Mapping[str, Any]:
        """Convergence diagnostics over every sampled parameter (read-only)."""
        return self._diagnostics

    @property
    def priors(self) -> pd.DataFrame:
        """The priors used, with the defaults filled in from the data."""
        return self._priors.copy()

    @property
    def converged(self) -> bool:
        """Whether every convergence gate passed."""
        from ._sampling import gate_warnings

        return not gate_warnings(dict(self._diagnostics))

    def group_effects(self, level: str) -> pd.DataFrame:
        """Posterior summaries of the varying effects of one grouping factor.

        Each row is one group and term: the group's deviation from the fixed
        effect (as ``ranef()`` in lme4 and brms), shrunk towards zero by the
        partial pooling.

        Parameters
        ----------
        level : str
            A grouping factor of the formula (``"county"``, ``"pcn:practice"``;
            a nested factor may be named by its last column, ``"practice"``).
        """
        gv = find_group(self._groups, level)
        return group_effect_table(self._idata.posterior, gv, self.confidence)

    def plot_ppc(self, ax: Axes | None = None, *, n_draws: int = 100,
                 random_state: Any = None) -> Axes:
        """Posterior predictive check: the observed outcome's distribution
        against outcomes simulated from ``n_draws`` posterior draws."""
        from ..plotting import get_ax
        from ._deps import arviz, pymc
        from ._sampling import seed_of

        if self._model is None:
            raise OptionError("this result keeps no model to simulate from.")
        pm, az = pymc(), arviz()
        post = self._idata.posterior
        chains, per_chain = post.sizes["chain"], post.sizes["draw"]
        total = chains * per_chain
        step = max(1, per_chain // max(1, -(-n_draws // chains)))
        thin = self._idata.sel(draw=slice(None, None, step))
        pp = pm.sample_posterior_predictive(thin, model=self._model, var_names=[OUTCOME_VAR],
                                            random_seed=seed_of(random_state), progressbar=False)
        ax = get_ax(ax)
        az.plot_ppc(pp, ax=ax, var_names=[OUTCOME_VAR], num_pp_samples=min(n_draws, total),
                    observed=True)
        ax.set_title("Posterior predictive check")
        return ax


@dataclass(frozen=True)
class PriorPredictive:
    """A prior predictive check: what the priors imply about the outcome.

    ``summary`` compares statistics of the observed outcome (mean, SD,
    quantiles) with their distribution over datasets simulated from the
    prior: the observed value should fall well inside the prior predictive
    range (column ``percentile`` far from 0 and 100), and the range should
    not be absurdly wide either.
    """

    summary: pd.DataFrame
    idata: Any
    observed: np.ndarray

    def plot(self, ax: Axes | None = None, n_draws: int = 50) -> Axes:
        """Observed outcome's histogram against prior predictive draws."""
        from ..plotting import get_ax

        ax = get_ax(ax)
        sims = np.asarray(self.idata.prior_predictive[OUTCOME_VAR]).reshape(
            -1, len(self.observed))
        lo, hi = np.quantile(sims, [0.01, 0.99])
        lo, hi = min(lo, self.observed.min()), max(hi, self.observed.max())
        bins = np.linspace(lo, hi, 40).tolist()
        for s in sims[:n_draws]:
            ax.hist(s, bins=bins, histtype="step", color="#7f7f7f", alpha=0.2, density=True)
        ax.hist(self.observed, bins=bins, histtype="step", color="k", lw=2, density=True,
                label="observed")
        ax.legend(frameon=False)
        ax.set_title("Prior predictive check")
        return ax


def prior_predictive_summary(sims: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """Observed statistics and their prior predictive distribution (``sims``: ``(S, n)``)."""
    stats: dict[str, Callable[..., Any]] = {
        "mean": np.mean, "sd": np.std,
        "q05": lambda a, axis=None: np.quantile(a, 0.05, axis=axis),
        "q50": lambda a, axis=None: np.quantile(a, 0.5, axis=axis),
        "q95": lambda a, axis=None: np.quantile(a, 0.95, axis=axis),
    }
    rows = []
    for name, f in stats.items():
        obs = float(f(y))
        sim = np.asarray(f(sims, axis=1), dtype=np.float64)
        rows.append({"statistic": name, "observed": obs,
                     "prior_q05": float(np.quantile(sim, 0.05)),
                     "prior_median": float(np.median(sim)),
                     "prior_q95": float(np.quantile(sim, 0.95)),
                     "percentile": float(100 * np.mean(sim < obs))})
    return pd.DataFrame(rows)
