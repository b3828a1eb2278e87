"""Bayesian staggered difference-in-differences with partially pooled effects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from .._estimator import Estimator, check_confidence
from ..errors import OptionError
from ..inference import RandomState, validate_choice
from ..panel import Panel
from ._design import GroupDesign, check_family
from ._did_design import DiDDesign, build_did_design, cell_level_means
from ._model import GroupVars, add_group, add_likelihood, standardised_effects, var_name
from ._sampling import check_sampling_options, diagnose, gate_warnings, sample
from .did_results import MultilevelDiDResult, hyper_table
from .priors import Priors, ResolvedPriors, as_priors, prior_table, resolve

__all__ = ["MultilevelDiD", "build_did_model", "cell_draws"]

DiDFamily = Literal["gaussian", "poisson", "negbin"]


class MultilevelDiD(Estimator):
    """Bayesian staggered DiD: cohort-by-period effects partially pooled.

    The outcome of unit ``i`` in period ``t`` has linear predictor::

        eta_it = a + u_i + gamma_t + X_it b + tau_{g(i), t} + post_it * delta_{l(i)}
                 [+ log exposure_it for counts]

    with unit effects ``u_i ~ N(c_{g(i)}, sd_unit)`` around their cohort's
    mean ``c_g`` (so shrinkage never moves a unit towards other cohorts:
    the correlated random effects of Mundlak), optionally nested in higher
    levels (``unit_levels``), period effects ``gamma_t`` (summing to zero),
    and one effect ``tau_{g,t}`` per
    cohort and period (the cohort's period ``g - 1`` is the reference, effect
    0). Cells are pooled across cohorts at the same event time:
    ``tau_{g,t} = mu_{t-g} + sd_cell z_{g,t}``. With ``effect_level`` (e.g.
    ``"pcn"``), each PCN's effect also deviates by ``delta_l ~ N(0,
    sd_effect)`` in its treated periods, pooled across PCNs.

    ATT(g,t) is the posterior of ``tau_{g,t}`` plus the mean ``delta`` of the
    cohort's units observed at ``t``: the outcome's units for a Gaussian
    model, the log rate ratio for counts. Its aggregations
    (``.aggregate("simple" | "group" | "event" | "calendar")``) use the same
    weights as the frequentist estimators (:mod:`spimpact.did`), applied to
    every posterior draw.

    Parameters
    ----------
    family : {"gaussian", "poisson", "negbin"}
    leads : bool
        Also estimate pre-treatment cells (placebo effects, the event study's
        pre-trends, each cohort against its period ``g - 1`` as Callaway &
        Sant'Anna's universal base). Default ``False``: pre-treatment effects
        are 0 by assumption, so every untreated period informs the unit and
        period effects (the assumption of the imputation estimator), which is
        more efficient and samples much faster; with leads each treated unit's
        level rests on one period and its cells move together.
    unit_levels : sequence of str
        Levels above the unit (e.g. ``("pcn",)``) in which the unit effects
        are nested, ``u_i ~ N(sum of its levels' effects, sd_unit)``. Default
        none: each unit has its own effect, which absorbs every level above it
        (and samples fastest).
    effect_level : str, optional
        A level whose units' treatment effects vary (partially pooled), e.g.
        ``"pcn"``; see :meth:`MultilevelDiDResult.level_effects`.
    covariates : str or sequence of str, optional
        Time-varying covariates (columns or a formulaic right-hand side).
        Time-invariant ones are absorbed by the unit effects.
    priors : Priors or dict, optional
    chains, draws, tune, sampler, random_state, confidence, target_accept, progress
        As in :class:`~spimpact.bayes.MultilevelModel`.
    centred : sequence of str, optional
        Levels (and the unit column) whose effects are parameterised centred;
        the others are non-centred. By default only the unit effects are
        centred (hierarchically, around their levels' effects): each unit has
        a whole series of periods, so its effect is well determined by the
        data, the case where the centred form samples best.

    Examples
    --------
    >>> from spimpact.simulate import pcn_rollout
    >>> from spimpact.bayes import MultilevelDiD
    >>> sim = pcn_rollout(n_pcns=30, n_icbs=3, covid=False, random_state=1)
    >>> panel = sim.panel("wellbeing", covariates=())
    >>> res = MultilevelDiD(draws=300, tune=300, random_state=1).fit(panel)  # doctest: +SKIP
    >>> res.aggregate("event").estimates.columns[0]  # doctest: +SKIP
    'event_time'
    """

    def __init__(
        self,
        family: DiDFamily = "gaussian",
        leads: bool = False,
        unit_levels: Sequence[str] = (),
        effect_level: str | None = None,
        covariates: str | Sequence[str] | None = None,
        priors: Priors | Mapping[str, Any] | None = None,
        chains: int = 4,
        draws: int = 1000,
        tune: int = 1000,
        sampler: Literal["nutpie", "pymc"] = "nutpie",
        random_state: RandomState = None,
        confidence: float = 0.95,
        centred: Sequence[str] | None = None,
        effects_centred: bool = False,
        target_accept: float = 0.8,
        progress: bool = False,
    ) -> None:
        self.family = family
        self.leads = leads
        self.unit_levels = unit_levels
        self.effect_level = effect_level
        self.covariates = covariates
        self.priors = priors
        self.chains = chains
        self.draws = draws
        self.tune = tune
        self.sampler = sampler
        self.random_state = random_state
        self.confidence = confidence
        self.centred = centred
        self.effects_centred = effects_centred
        self.target_accept = target_accept
        self.progress = progress

    def _validate(self) -> None:
        check_confidence(self.confidence)
        validate_choice("family", self.family, ("gaussian", "poisson", "negbin"))
        check_sampling_options(self.sampler, self.chains, self.draws, self.tune)
        if not isinstance(self.leads, bool):
            raise OptionError(f"leads must be True or False, not {self.leads!r}.")
        if isinstance(self.centred, str):
            raise OptionError(f"centred must be a list of levels, e.g. centred=[{self.centred!r}].")
        if not isinstance(self.effects_centred, bool):
            raise OptionError(f"effects_centred must be True or False, not "
                              f"{self.effects_centred!r}.")

    def _check_panel(self, panel: Panel) -> None:
        if not isinstance(panel, Panel):
            raise OptionError(f"fit() needs a spimpact.Panel, not {type(panel).__name__}.")
        if panel.weights is not None:
            raise OptionError(f"the panel has sampling weights ({panel.weights!r}), which "
                              f"MultilevelDiD does not use; build the Panel without weights=.")
        check_family(np.asarray(panel.y), self.family, panel.outcome)

    def fit(self, panel: Panel) -> MultilevelDiDResult:
        """Sample the posterior on ``panel``; returns ATT(g,t) with their draws."""
        self._validate()
        self._check_panel(panel)
        d = build_did_design(panel, self.family, leads=self.leads, unit_levels=self.unit_levels,
                             effect_level=self.effect_level, covariates=self.covariates)
        names = [n for n, _, _ in d.levels] + [str(panel.unit)]
        centred = (str(panel.unit),) if self.centred is None else tuple(self.centred)
        unknown = sorted(set(centred) - set(names))
        if unknown:
            raise OptionError(f"centred names {unknown}; the model's unit levels are {names}.")
        pr = resolve(as_priors(self.priors), d.y, self.family, X=d.X, names=d.x_names,
                     exposure=None if d.offset is None else np.exp(d.offset))
        model, data, key, groups = build_did_model(d, self.family, pr, str(panel.unit),
                                                   centred, self.effects_centred)
        idata, used = sample(model, data, key, sampler=self.sampler, chains=self.chains,
                             draws=self.draws, tune=self.tune, random_state=self.random_state,
                             target_accept=self.target_accept, progress=self.progress)
        diag = diagnose(idata, [v.name for v in model.free_RVs])
        warns = [*d.notes, *gate_warnings(diag)]
        post = idata.posterior
        att, delta = cell_draws(post, d)
        scale = "log rate ratio" if self.family != "gaussian" else "outcome units"
        info = {"family": self.family, "effects on": scale, "sampler": used,
                "draws": f"{self.chains} chains x {self.draws} (tune {self.tune})",
                "max R-hat": diag["max_rhat"], "min bulk ESS": diag["min_ess_bulk"],
                "divergences": diag["divergences"],
                "intervals": f"equal-tailed {100 * self.confidence:g}% credible"}
        extra = {"event-time means mu_e": f"Normal(0, {pr.effect_sd:.4g})",
                 "sd of cells, sd of level effects": f"HalfNormal({pr.effect_sd / 5:.4g})",
                 "period effects gamma_t, cohort means of unit effects":
                     f"ZeroSumNormal({pr.time_sd:.4g})"}
        return MultilevelDiDResult(
            att=att, design=d, periods=panel.periods, delta=delta,
            hyper=hyper_table(post, groups, self.family, self.confidence, str(panel.unit)),
            idata=idata, diagnostics=diag,
            priors=prior_table(pr, self.family, d.x_names, True, extra), groups=groups,
            model=model, method=f"Bayesian multilevel DiD ({self.family})",
            confidence=self.confidence, n_obs=len(d.y), n_units=d.n_units, warnings=warns,
            info=info,
        )


def cell_draws(post: Any, d: DiDDesign) -> tuple[np.ndarray, np.ndarray | None]:
    """ATT draws of every cell ``(chain, draw, n_cells)`` (0 in reference cells) and the
    draws of the level effects ``(chain, draw, n_levels)`` (or ``None``)."""
    mu = np.asarray(post["effect_event"])
    tau = mu[..., d.e_index] + np.asarray(post["sd_cell"])[..., None] * np.asarray(post["z_cell"])
    delta = None
    if d.effect_level is not None:
        name = d.effect_level[0]
        delta = (np.asarray(post[var_name("sd_effect", name)])[..., None]
                 * np.asarray(post[var_name("z_effect", name)]))  # same in both forms
        tau = tau + delta @ cell_level_means(d).T
    att = np.zeros((*tau.shape[:2], len(d.cells)))
    att[..., d.est_cells] = tau
    return att, delta


def _pooled(name: str, mean: Any, sd_scale: float, n: int, centred: bool) -> Any:
    """``n`` effects ``~ Normal(mean, sd)``, ``sd ~ HalfNormal(sd_scale)``; the
    standardised deviations are ``z_<name>`` in either parameterisation."""
    from ._deps import pymc

    pm = pymc()
    sd = pm.HalfNormal(f"sd_{name}", sd_scale)
    if centred:
        eff = pm.Normal(f"eff_{name}", mean, sd, shape=n)
        pm.Deterministic(f"z_{name}", (eff - mean) / sd)
        return eff
    return mean + sd * pm.Normal(f"z_{name}", 0.0, 1.0, shape=n)


def build_did_model(
    d: DiDDesign, family: str, pr: ResolvedPriors, unit_name: str, centred: Sequence[str],
    effects_centred: bool = False,
) -> tuple[Any, dict[str, np.ndarray], tuple, list[Any]]:
    """The PyMC model of the Bayesian DiD (see :class:`MultilevelDiD`).

    The linear predictor is laid out as a ``(units, periods)`` matrix: unit and
    period effects broadcast, cells are gathered from one index matrix, and an
    unbalanced panel's observed cells are picked out at the end.
    """
    from ._deps import pymc

    pm = pymc()
    import pytensor.tensor as pt

    n_c = len(d.est_cells)
    cell_c = level_c = effects_centred
    data: dict[str, np.ndarray] = {"d_y": d.y, "d_cell": d.dense(d.row_cell, n_c)}
    groups: list[GroupVars] = []
    with pm.Model() as model:
        y = pm.Data("d_y", d.y)
        unit_mean = pm.Normal("Intercept_c", pr.intercept[0], pr.intercept[1])
        for i, (name, codes, labels) in enumerate(d.levels):
            data[f"d_lev_{i}"] = codes
            gd = GroupDesign(name, codes, labels, None, ("Intercept",), True)
            contrib, gv = add_group(gd, pm.Data(f"d_lev_{i}", codes), None, pr,
                                    centred=name in centred)
            unit_mean, groups = unit_mean + contrib, [*groups, gv]
        # cohort means of the unit effects (summing to zero): units are shrunk
        # towards their cohort's mean, never across cohorts, so differences in
        # level between cohorts (selection into timing) never leak into effects
        n_coh = int(d.unit_cohort_index.max()) + 1
        if n_coh > 1:
            coh = pm.ZeroSumNormal("cohort", sigma=pr.time_sd, shape=n_coh)
            unit_mean = unit_mean + coh[d.unit_cohort_index]
        alpha = _unit_effects(d, unit_name, unit_mean, pr, unit_name in centred)
        gamma = pm.ZeroSumNormal("period", sigma=pr.time_sd, shape=d.n_periods)
        mu = pm.Normal("effect_event", 0.0, pr.effect_sd, shape=len(d.e_values))
        tau = _pooled("cell", mu[d.e_index], pr.effect_sd / 5, n_c, cell_c)
        cells = pt.concatenate([tau, pt.zeros(1)])[pm.Data("d_cell", data["d_cell"])]
        eta = alpha[:, None] + gamma[None, :] + cells
        if d.effect_level is not None:
            name, codes, labels = d.effect_level
            data["d_eff"], data["d_post"] = codes, d.dense(d.post)
            delta = _pooled(f"effect_{var_name('', name)[1:]}", 0.0, pr.effect_sd / 5,
                            len(labels), level_c)
            eta = eta + delta[pm.Data("d_eff", codes)][:, None] * pm.Data("d_post", data["d_post"])
        if d.X.shape[1]:
            data["d_X"] = np.stack([d.dense(c) for c in d.X.T], axis=-1)
            eta = eta + standardised_effects(pm, "d_X", data["d_X"], np.asarray(pr.coef_sd))
        if d.offset is not None:
            data["d_off"] = d.dense(d.offset)
            eta = eta + pm.Data("d_off", data["d_off"])
        if not d.balanced:
            data["d_flat"] = d.flat
            eta = eta.ravel()[pm.Data("d_flat", d.flat)]
        else:
            eta = eta.ravel()
        add_likelihood(family, eta, y, pr)
    key = ("did", family, tuple(len(lab) for _, _, lab in d.levels), d.n_units, d.n_periods,
           d.X.shape[1], n_c, tuple(d.e_index), cell_c, level_c, d.balanced,
           None if d.effect_level is None else len(d.effect_level[2]), d.offset is not None,
           tuple(centred), pr.key())
    return model, data, key, groups


def _unit_effects(d: DiDDesign, unit_name: str, level_mean: Any, pr: ResolvedPriors,
                  centred: bool) -> Any:
    """Unit effects around their levels' means, per unit: centred, ``alpha_i ~
    N(mean_i, sd)`` (hierarchical centring, best when units carry many
    periods of data), or non-centred, ``alpha_i = mean_i + sd z_i``."""
    from ._deps import pymc

    pm = pymc()
    sd = pm.HalfNormal(var_name("sd", unit_name), pr.group_sd)
    zname = var_name("z", unit_name)
    if centred:
        return pm.Normal(zname, level_mean, sd, shape=d.n_units)
    return level_mean + sd * pm.Normal(zname, 0.0, 1.0, shape=d.n_units)
