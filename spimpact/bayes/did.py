"""Bayesian staggered difference-in-differences with partially pooled effects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from .._estimator import Estimator, check_confidence
from .._sample import refuse_dose, require_panel
from ..errors import OptionError
from ..inference import RandomState, validate_choice
from ..panel import Panel
from ._design import GroupDesign, check_family
from ._did_centring import auto_centring
from ._did_design import DiDDesign, build_did_design, cell_level_means
from ._model import GroupVars, add_group, add_likelihood, standardised_effects, var_name
from ._sampling import check_sampling_options, diagnose, gate_warnings, sample
from .did_results import MultilevelDiDResult, hyper_table
from .priors import Priors, ResolvedPriors, as_priors, prior_table, resolve

__all__ = ["MultilevelDiD", "build_did_model", "cell_draws", "event_time_scale", "level_cohorts",
           "zero_sum_basis"]

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
    ``tau_{g,t} = mu_{t-g} + sd_cell s_{t-g} z_{g,t}``, the deviations ``z``
    summing to zero at each event time (so ``mu_e`` is the mean of its cells and
    a lone cell equals it) and their spread growing with event time,
    ``s_e = sqrt(1 + e)`` (cohorts drift apart as they age). With
    ``effect_level`` (e.g. ``"pcn"``), each PCN's effect also deviates by
    ``delta_l ~ N(0, sd_effect)`` in its treated periods, pooled across PCNs,
    the deviations summing to zero within each cohort: a cohort's mean effect
    is its cells' alone, with no ridge between the cells and the PCN effects.

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
        Time-varying covariate columns (names, not a formula).
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
    effects_centred : bool, "auto" or sequence of str
        Parameterisation of the pooled cell and level effects: ``"auto"`` (default)
        centres a group where the data are strong (a moment estimate of its
        spread against its members' standard errors gives a reliability above
        one half for level effects, 0.95 for cells,
        :func:`spimpact.bayes._did_centring.auto_centring`), ``True`` /
        ``False`` all / none, or a list naming ``"cell"`` and/or the
        ``effect_level``.
    low_rank : bool
        nutpie adapts a low-rank correction to its diagonal mass matrix (default
        ``True``): when nearly every unit is treated, the late period effects and
        event-time effects rest on few comparison units and move together.

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
        effects_centred: bool | str | Sequence[str] = "auto",
        target_accept: float = 0.8,
        progress: bool = False,
        low_rank: bool = True,
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
        self.low_rank = low_rank

    def _check_effects_centred(self) -> None:
        ec = self.effects_centred
        if isinstance(ec, bool) or ec == "auto":
            return
        allowed = {"cell", *([] if self.effect_level is None else [self.effect_level])}
        if isinstance(ec, str) or not all(isinstance(x, str) and x in allowed for x in ec):
            raise OptionError(f"effects_centred must be True, False, 'auto' or a list of the "
                              f"pooled effects to centre among {sorted(allowed)}, not {ec!r}.")

    def _effects_centring(self, d: DiDDesign) -> tuple[bool, bool]:
        """(cells centred, level effects centred)."""
        ec = self.effects_centred
        if isinstance(ec, bool):
            return ec, ec
        if ec == "auto":
            return auto_centring(d, self.family)
        return "cell" in ec, self.effect_level is not None and self.effect_level in ec

    def _validate(self) -> None:
        check_confidence(self.confidence)
        validate_choice("family", self.family, ("gaussian", "poisson", "negbin"))
        check_sampling_options(self.sampler, self.chains, self.draws, self.tune)
        if not isinstance(self.leads, bool):
            raise OptionError(f"leads must be True or False, not {self.leads!r}.")
        if isinstance(self.centred, str):
            raise OptionError(f"centred must be a list of levels, e.g. centred=[{self.centred!r}].")
        self._check_effects_centred()

    def _check_panel(self, panel: Panel) -> None:
        require_panel(panel, "MultilevelDiD.fit", "outcome=..., unit=..., time=..., cohort=...",
                      error=OptionError)
        if panel.weights is not None:
            raise OptionError(f"the panel has sampling weights ({panel.weights!r}), which "
                              f"MultilevelDiD does not use; build the Panel without weights=.")
        refuse_dose(panel, "MultilevelDiD")
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
                                                   centred, self._effects_centring(d))
        idata, used = sample(model, data, key, sampler=self.sampler, chains=self.chains,
                             draws=self.draws, tune=self.tune, random_state=self.random_state,
                             target_accept=self.target_accept, progress=self.progress,
                             low_rank=self.low_rank)
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
    tau = np.asarray(post["tau_cell"])
    delta = None
    if d.effect_level is not None:
        delta = np.asarray(post[var_name("delta", d.effect_level[0])])
        tau = tau + delta @ cell_level_means(d).T
    att = np.zeros((*tau.shape[:2], len(d.cells)))
    att[..., d.est_cells] = tau
    return att, delta


def event_time_scale(e_values: np.ndarray) -> np.ndarray:
    """Relative SD of the cohort deviations at each event time: ``sqrt(1 + max(e, 0))``.

    Cohorts' effects drift apart as they age (as a random walk would), so the
    spread of cells around the event-time mean grows with event time; placebo
    cells (``e < 0``) share the spread of the first treated period.

    Examples
    --------
    >>> event_time_scale(np.array([-2, 0, 3])).tolist()
    [1.0, 1.0, 2.0]
    """
    return np.sqrt(1.0 + np.maximum(np.asarray(e_values, dtype=float), 0.0))


def level_cohorts(d: DiDDesign) -> np.ndarray:
    """Cohort (index) of each unit of ``effect_level``: the cohort of most of its
    treated rows; -1 for levels without treated rows (their effect is not in the data)."""
    assert d.effect_level is not None
    _, unit_codes, labels = d.effect_level
    on = d.post > 0
    n_coh = int(d.unit_cohort_index.max()) + 1
    counts = np.zeros((len(labels), n_coh))
    np.add.at(counts, (unit_codes[d.unit[on]], d.unit_cohort_index[d.unit[on]]), 1.0)
    return np.where(counts.sum(axis=1) > 0, counts.argmax(axis=1), -1)


def zero_sum_basis(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Deviations that sum to zero within groups, as ``dev = B @ raw`` with
    ``raw ~ Normal(0, sd)``: returns ``(B, column_group)``.

    ``B`` is ``(n, r)``: for each group of ``m > 1`` members, ``m - 1`` orthonormal
    (Helmert) contrasts times ``sqrt(m / (m - 1))``, so that every member's
    deviation has the SD of an uncentred one and the group's deviations sum to
    zero; a group of one gets no column (its deviation is not identified apart
    from its cohort's effects); members of group -1 keep a free column each.
    The model samples only identified directions (``r = n - groups``): a
    projection of ``n`` free effects would leave one direction per group that
    only the prior informs, a funnel when the effects are sampled centred.
    ``column_group`` gives each column's group (-1: a free member).

    Examples
    --------
    >>> B, col = zero_sum_basis(np.array([0, 0, 1, -1]))
    >>> B.round(4).tolist(), col.tolist()
    ([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0], [0.0, 1.0]], [0, -1])
    >>> bool(np.allclose(B[:2].sum(axis=0), 0.0))
    True
    """
    groups = np.asarray(groups)
    n = len(groups)
    cols: list[np.ndarray] = []
    col_group: list[int] = []
    for g in np.unique(groups[groups >= 0]):  # groups (event times, cohorts), not units
        members = np.flatnonzero(groups == g)
        m = len(members)
        if m < 2:
            continue
        j = np.arange(1, m)  # Helmert contrast j: first j members vs member j
        H = np.zeros((m, m - 1))
        H[np.arange(m)[:, None] < j[None, :]] = 1.0
        H[j, j - 1] = -j
        H /= np.sqrt(j * (j + 1.0))
        block = np.zeros((n, m - 1))
        block[members] = H * np.sqrt(m / (m - 1.0))
        cols.append(block)
        col_group += [int(g)] * (m - 1)
    free = np.flatnonzero(groups < 0)
    if len(free):
        block = np.zeros((n, len(free)))
        block[free, np.arange(len(free))] = 1.0
        cols.append(block)
        col_group += [-1] * len(free)
    B = np.concatenate(cols, axis=1) if cols else np.zeros((n, 0))
    return B, np.asarray(col_group, dtype=int)


def _pooled(name: str, mean: Any, sd_scale: float, n: int, centred: bool,
            scale: np.ndarray | None = None) -> tuple[Any, Any]:
    """``n`` effects ``~ Normal(mean, sd * scale)``, ``sd ~ HalfNormal(sd_scale)``, centred
    (``eff_<name>`` sampled) or non-centred (``z_<name>`` sampled); returns the effects and
    their standardised deviations."""
    from ._deps import pymc

    pm = pymc()
    sd = pm.HalfNormal(f"sd_{name}", sd_scale)
    s_ = sd if scale is None else sd * scale
    if centred:
        eff = pm.Normal(f"eff_{name}", mean, s_, shape=n)
        return eff, (eff - mean) / s_
    z = pm.Normal(f"z_{name}", 0.0, 1.0, shape=n)
    return mean + s_ * z, z


def build_did_model(
    d: DiDDesign, family: str, pr: ResolvedPriors, unit_name: str, centred: Sequence[str],
    effects_centred: tuple[bool, bool] = (False, False),
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
    cell_c, level_c = effects_centred
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
        # cohorts drift apart with event time: the cells' spread grows with it
        # cells deviate from their event time's mean by deviations that sum to zero
        # at each event time (mu_e is the mean of its cells: no ridge between mu_e and
        # the deviations; a lone cell is mu_e), spread growing with event time
        B_e, col_e = zero_sum_basis(d.e_index)
        data["d_escale"] = event_time_scale(d.e_values)[col_e]
        data["d_ezsum"] = B_e
        raw_c, _ = _pooled("cell", 0.0, pr.effect_sd / 5, B_e.shape[1], cell_c,
                           pm.Data("d_escale", data["d_escale"]))
        tau = pm.Deterministic("tau_cell", mu[d.e_index]
                               + pt.dot(pm.Data("d_ezsum", data["d_ezsum"]), raw_c))
        cells = pt.concatenate([tau, pt.zeros(1)])[pm.Data("d_cell", data["d_cell"])]
        eta = alpha[:, None] + gamma[None, :] + cells
        if d.effect_level is not None:
            name, codes, labels = d.effect_level
            data["d_eff"], data["d_post"] = codes, d.dense(d.post)
            # deviations sum to zero within each cohort: a cohort's mean effect is its
            # cells' alone (no ridge between the cells and the level effects)
            B, _ = zero_sum_basis(level_cohorts(d))
            data["d_zsum"] = B
            raw, _ = _pooled(f"effect_{var_name('', name)[1:]}", 0.0, pr.effect_sd / 5,
                             B.shape[1], level_c)
            delta = pm.Deterministic(var_name("delta", name),
                                     pt.dot(pm.Data("d_zsum", data["d_zsum"]), raw))
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
           None if d.effect_level is None else len(d.effect_level[2]),
           tuple(v.shape[1] for k, v in data.items() if k in ("d_ezsum", "d_zsum")),
           d.offset is not None,
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
