"""Multilevel generalised linear models with lme4-style formulas."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._estimator import Estimator, check_confidence
from .._sample import require_panel
from ..errors import OptionError
from ..inference import RandomState, validate_choice
from ..panel import Panel
from ._design import FAMILIES, Design, build_design
from ._model import OUTCOME_VAR, build_multilevel, family_vars
from ._sampling import (
    check_sampling_options,
    diagnose,
    gate_warnings,
    sample,
    seed_of,
    summarise_draws,
)
from ._terms import parse_formula
from .priors import Priors, ResolvedPriors, as_priors, prior_table, resolve
from .results import BayesResult, PriorPredictive, prior_predictive_summary

__all__ = ["MultilevelModel"]

Family = Literal["gaussian", "poisson", "negbin", "bernoulli"]
Sampler = Literal["nutpie", "pymc"]


class MultilevelModel(Estimator):
    """Bayesian multilevel (hierarchical) GLM with lme4-style group terms.

    ``y ~ x + (1 | county)`` gives a varying intercept by county,
    ``(1 | pcn/practice)`` practices nested in PCNs, ``(1 + x | pcn)``
    correlated varying intercepts and slopes, ``(1 + x || pcn)`` uncorrelated
    ones. Grouping columns must be among the panel's ``levels`` (or its unit
    column). Count families use the panel's ``exposure`` as an offset
    (``log(exposure)``), so coefficients are log rate ratios.

    Group effects are indexed by integer group codes (no dense group design
    matrices) and non-centred by default. The default priors are weakly
    informative and scaled to the data (see :mod:`spimpact.bayes.priors`);
    the priors used are listed by ``result.priors``. Sampling uses nutpie
    (compiled models are cached and reused on new data of the same shape),
    or PyMC's NUTS.

    Parameters
    ----------
    formula : str
        ``"outcome ~ fixed terms + (varying | group)"``; the fixed part is
        formulaic syntax, and the outcome must be the panel's outcome.
    family : {"gaussian", "poisson", "negbin", "bernoulli"}
    priors : Priors or dict, optional
        Overrides of the default priors.
    chains, draws, tune : int
        Chains, posterior draws per chain and tuning steps per chain.
    sampler : {"nutpie", "pymc"}
    random_state : int, Generator or None
        Seeds the sampler.
    confidence : float
        Mass of the equal-tailed credible intervals.
    centred : sequence of str
        Grouping factors to parameterise centred (for groups with a lot of
        data each); the others are non-centred.
    target_accept : float
        NUTS target acceptance rate (raise towards 0.95 after divergences).
    progress : bool
        Show the sampler's progress bar while it compiles and samples
        (``spimpact run`` turns it on in a terminal).

    Examples
    --------
    >>> import pandas as pd
    >>> import spimpact as sp
    >>> from spimpact.bayes import MultilevelModel
    >>> df = pd.read_csv("tests/data/radon_mn.csv")  # doctest: +SKIP
    >>> panel = sp.Panel(df, outcome="y", covariates=["x"], levels=["county"])  # doctest: +SKIP
    >>> res = MultilevelModel("y ~ x + (1 | county)", random_state=1).fit(panel)  # doctest: +SKIP
    >>> res.estimates.loc[res.estimates.term == "x", "estimate"].round(1).item()  # doctest: +SKIP
    -0.7
    """

    def __init__(
        self,
        formula: str,
        family: Family = "gaussian",
        priors: Priors | Mapping[str, Any] | None = None,
        chains: int = 4,
        draws: int = 1000,
        tune: int = 1000,
        sampler: Sampler = "nutpie",
        random_state: RandomState = None,
        confidence: float = 0.95,
        centred: Sequence[str] = (),
        target_accept: float = 0.8,
        progress: bool = False,
    ) -> None:
        self.formula = formula
        self.family = family
        self.priors = priors
        self.chains = chains
        self.draws = draws
        self.tune = tune
        self.sampler = sampler
        self.random_state = random_state
        self.confidence = confidence
        self.centred = centred
        self.target_accept = target_accept
        self.progress = progress

    def _validate(self) -> None:
        check_confidence(self.confidence)
        validate_choice("family", self.family, FAMILIES)
        check_sampling_options(self.sampler, self.chains, self.draws, self.tune)
        if not (isinstance(self.target_accept, float) and 0.5 <= self.target_accept < 1):
            raise OptionError(f"target_accept must be a float in [0.5, 1), not "
                              f"{self.target_accept!r}.")
        if isinstance(self.centred, str):
            raise OptionError(f"centred must be a list of grouping factors, e.g. "
                              f"centred=[{self.centred!r}].")

    def _prepare(self, panel: Panel) -> tuple[Design, ResolvedPriors, tuple]:
        require_panel(panel, "MultilevelModel.fit", error=OptionError)
        self._validate()
        parsed = parse_formula(self.formula)
        design = build_design(panel, parsed, self.family)
        unknown = sorted(set(self.centred) - {g.name for g in design.groups})
        if unknown:
            raise OptionError(f"centred names {unknown}, not grouping factors of the formula "
                              f"({[g.name for g in design.groups]}).")
        pr = resolve(as_priors(self.priors), design.y, self.family, X=design.Xc,
                     names=design.slope_names,
                     exposure=panel.exposure_values if design.offset is not None else None)
        return design, pr, tuple(self.centred)

    def fit(self, panel: Panel) -> BayesResult:
        """Sample the posterior on ``panel`` and summarise it.

        Returns
        -------
        BayesResult
            ``.estimates`` rows: the fixed effects (formulaic names:
            ``Intercept``, ``x``...), then ``sd(term | group)`` and
            ``cor(term1, term2 | group)`` of the varying effects, then
            ``sigma`` (Gaussian) or ``phi`` (negative binomial).
        """
        design, pr, centred = self._prepare(panel)
        model, data, key, groups = build_multilevel(design, self.family, pr, centred)
        idata, used = sample(model, data, key, sampler=self.sampler, chains=self.chains,
                             draws=self.draws, tune=self.tune, random_state=self.random_state,
                             target_accept=self.target_accept, progress=self.progress)
        free = [v.name for v in model.free_RVs]
        diag = diagnose(idata, free)
        table, row_draws = _estimates(idata.posterior, design, groups, self.family,
                                      self.confidence)
        warns = gate_warnings(diag)
        info = {"family": self.family, "sampler": used,
                "draws": f"{self.chains} chains x {self.draws} (tune {self.tune})",
                "max R-hat": diag["max_rhat"], "min bulk ESS": diag["min_ess_bulk"],
                "divergences": diag["divergences"],
                "intervals": f"equal-tailed {100 * self.confidence:g}% credible"}
        n_groups = {g.name: len(g.labels) for g in groups}
        info.update({f"groups ({k})": v for k, v in n_groups.items()})
        return BayesResult(
            table, idata=idata, diagnostics=diag, row_draws=row_draws,
            priors=prior_table(pr, self.family, design.slope_names, bool(design.groups)),
            groups=groups, model=model, method=f"Bayesian multilevel {self.family}: "
            f"{self.formula}", confidence=self.confidence, n_obs=len(design.y),
            n_units=panel.n_units, warnings=warns, info=info,
        )

    def prior_predictive(self, panel: Panel, draws: int = 500) -> PriorPredictive:
        """Simulate outcomes from the priors alone (a prior predictive check).

        Examples
        --------
        >>> import pandas as pd, numpy as np
        >>> import spimpact as sp
        >>> df = pd.DataFrame({"y": np.arange(20.0), "g": list("ab") * 10})
        >>> panel = sp.Panel(df, outcome="y", levels=["g"])
        >>> pp = MultilevelModel("y ~ 1 + (1 | g)", random_state=0).prior_predictive(panel, 200)
        >>> pp.summary["statistic"].tolist()[:2]
        ['mean', 'sd']
        """
        from ._deps import pymc

        design, pr, centred = self._prepare(panel)
        model, _, _, _ = build_multilevel(design, self.family, pr, centred)
        pm = pymc()
        idata = pm.sample_prior_predictive(draws=draws, model=model,
                                           random_seed=seed_of(self.random_state))
        sims = np.asarray(idata.prior_predictive[OUTCOME_VAR]).reshape(-1, len(design.y))
        return PriorPredictive(prior_predictive_summary(sims, design.y), idata, design.y)


def _estimates(posterior: Any, design: Design, groups: Sequence[Any], family: str,
               confidence: float) -> tuple[pd.DataFrame, np.ndarray]:
    """Posterior summaries of the fixed effects, group SDs and correlations, family
    terms, and the draws they summarise ``(chain, draw, rows)``."""
    cols: list[np.ndarray] = []
    names: list[str] = []
    slopes = np.asarray(posterior["beta_std"]) / design.x_sd if design.Xc.shape[1] else None
    for name in design.names:
        if design.has_intercept and name == "Intercept":
            a = np.asarray(posterior["Intercept_c"])
            if slopes is not None:
                a = a - slopes @ design.x_mean  # back to the uncentred predictors
            cols.append(a)
        else:
            assert slopes is not None
            cols.append(slopes[..., design.slope_names.index(name)])
        names.append(name)
    for gv in groups:
        if gv.kind == "corr" or (gv.kind == "centred" and gv.chol is not None):
            L = np.asarray(posterior[gv.chol])
            cov = np.einsum("cdij,cdkj->cdik", L, L)
            sd = np.sqrt(np.einsum("cdii->cdi", cov))
            for j, t in enumerate(gv.terms):
                cols.append(sd[..., j])
                names.append(f"sd({t} | {gv.name})")
            for i in range(len(gv.terms)):
                for j in range(i + 1, len(gv.terms)):
                    cols.append(cov[..., i, j] / (sd[..., i] * sd[..., j]))
                    names.append(f"cor({gv.terms[i]}, {gv.terms[j]} | {gv.name})")
        else:
            sd = np.asarray(posterior[gv.sd])
            sd = sd[..., None] if sd.ndim == 2 else sd
            for j, t in enumerate(gv.terms):
                cols.append(sd[..., j])
                names.append(f"sd({t} | {gv.name})")
    for label, var in family_vars(family):
        cols.append(np.asarray(posterior[var]))
        names.append(label)
    draws = np.stack(cols, axis=-1)
    return summarise_draws(draws, {"term": names}, confidence), draws
