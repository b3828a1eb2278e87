"""Weakly informative default priors of the Bayesian models, and how to override them.

The defaults follow the autoscaling used by rstanarm and brms: they are wide
on the scale of the data, so they rule out absurd values without pulling the
estimates. With ``s`` the outcome's standard deviation for a Gaussian model
and 1 on the log or logit scale of the count and binary families:

============================  ==============================================
parameter                     default prior
============================  ==============================================
intercept (at the mean of     Normal(m, 2.5 s); ``m`` = mean outcome
the predictors)               (Gaussian), log of the overall rate (counts,
                              with the exposure), logit of the mean (binary)
fixed-effect coefficient j    Normal(0, 2.5 s / sd(x_j))
group standard deviation      HalfNormal(s) for a varying intercept,
                              HalfNormal(s / sd(z)) for a slope on z
correlation of varying        LKJ(2) (mildly favours small correlations)
effects
residual SD (Gaussian)        Exponential with mean s
negative-binomial             1 / sqrt(phi) ~ HalfNormal(1)
dispersion phi
treatment effects (DiD, ITS)  Normal(0, s) for pooled means, HalfNormal(s / 2)
                              for their spread between cohorts or sites
period effects (DiD)          Normal(0, 2.5 s)
============================  ==============================================

Any of these can be replaced through :class:`Priors` (or a plain dict with
the same field names); the priors actually used are listed by a fitted
result's ``.priors`` table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import OptionError

__all__ = ["Priors", "ResolvedPriors", "as_priors", "outcome_scale"]


@dataclass(frozen=True)
class Priors:
    """Prior choices; ``None`` means the weakly informative default (see module docs).

    Parameters
    ----------
    intercept : (float, float), optional
        Mean and SD of the Normal prior on the intercept, on the link scale, at
        the mean of the predictors.
    coef_sd : float or mapping of term to float, optional
        SD of the Normal(0, sd) prior on fixed-effect coefficients (one value
        for all, or per formulaic term name).
    group_sd : float, optional
        Scale of the HalfNormal prior on every group-level standard deviation.
    sigma : float, optional
        Mean of the Exponential prior on the residual SD (Gaussian family).
    lkj_eta : float
        Shape of the LKJ prior on correlations of varying effects.
    dispersion : float
        Scale of the HalfNormal prior on ``1 / sqrt(phi)`` (negative binomial).
    effect_sd : float, optional
        SD of the Normal(0, sd) prior on pooled treatment effects (DiD, ITS);
        their spread between cohorts, PCNs or sites gets HalfNormal(effect_sd / 2).
    time_sd : float, optional
        SD of the Normal(0, sd) prior on period effects (DiD).

    Examples
    --------
    >>> Priors(coef_sd=1.0).coef_sd
    1.0
    >>> as_priors({"group_sd": 0.5}).group_sd
    0.5
    """

    intercept: tuple[float, float] | None = None
    coef_sd: float | Mapping[str, float] | None = None
    group_sd: float | None = None
    sigma: float | None = None
    lkj_eta: float = 2.0
    dispersion: float = 1.0
    effect_sd: float | None = None
    time_sd: float | None = None

    def __post_init__(self) -> None:
        if self.intercept is not None:
            try:
                mean, sd = (float(v) for v in self.intercept)
            except (TypeError, ValueError) as exc:
                raise OptionError(f"priors intercept must be (mean, sd), not {self.intercept!r}.") \
                    from exc
            _positive("intercept sd", sd)
            object.__setattr__(self, "intercept", (mean, sd))
        if isinstance(self.coef_sd, Mapping):
            for k, v in self.coef_sd.items():
                _positive(f"coef_sd[{k!r}]", v)
            object.__setattr__(self, "coef_sd", dict(self.coef_sd))
        elif self.coef_sd is not None:
            _positive("coef_sd", self.coef_sd)
        for name in ("group_sd", "sigma", "effect_sd", "time_sd"):
            if getattr(self, name) is not None:
                _positive(name, getattr(self, name))
        _positive("lkj_eta", self.lkj_eta)
        _positive("dispersion", self.dispersion)


def _positive(name: str, value: Any) -> None:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and np.isfinite(value) and value > 0
    if not ok:
        raise OptionError(f"prior {name} must be a positive number, not {value!r}.")


def as_priors(priors: Priors | Mapping[str, Any] | None) -> Priors:
    """A :class:`Priors` from ``None``, a ``Priors`` or a dict of its fields."""
    if priors is None:
        return Priors()
    if isinstance(priors, Priors):
        return priors
    if isinstance(priors, Mapping):
        names = {f.name for f in dataclasses.fields(Priors)}
        unknown = sorted(set(priors) - names)
        if unknown:
            raise OptionError(f"unknown prior(s) {unknown}; the priors that can be set are "
                              f"{sorted(names)}.")
        return Priors(**priors)
    raise OptionError(f"priors must be a spimpact.bayes.Priors or a dict, not {type(priors).__name__}.")


def outcome_scale(y: np.ndarray, family: str) -> float:
    """``s`` of the module docs: the outcome SD (Gaussian) or 1 (link scale)."""
    if family != "gaussian":
        return 1.0
    sd = float(np.std(y))
    return sd if sd > 0 else 1.0


def _intercept_centre(y: np.ndarray, family: str, exposure: np.ndarray | None) -> float:
    if family == "gaussian":
        return float(np.mean(y))
    if family == "bernoulli":
        p = float(np.clip(np.mean(y), 0.01, 0.99))
        return float(np.log(p / (1 - p)))
    total = max(float(np.sum(y)), 0.5)
    base = float(np.sum(exposure)) if exposure is not None else float(len(y))
    return float(np.log(total / base))


@dataclass(frozen=True)
class ResolvedPriors:
    """The numbers of every prior used in one fit (defaults filled in from the data)."""

    scale: float
    intercept: tuple[float, float]
    coef_sd: tuple[float, ...]
    group_sd: float
    sigma: float
    lkj_eta: float
    dispersion: float
    effect_sd: float
    time_sd: float

    def key(self, *fields: str) -> tuple:
        """The numbers of ``fields`` (default: all but ``scale``, which only fills
        defaults): the priors that enter a model, part of its compiled-model key."""
        names = fields or [f.name for f in dataclasses.fields(self) if f.name != "scale"]
        return tuple(getattr(self, n) for n in names)


def resolve(
    priors: Priors,
    y: np.ndarray,
    family: str,
    *,
    X: np.ndarray | None = None,
    names: tuple[str, ...] = (),
    exposure: np.ndarray | None = None,
) -> ResolvedPriors:
    """Fill the defaults of ``priors`` from the data (``X``: the non-intercept columns)."""
    s = outcome_scale(y, family)
    intercept = priors.intercept or (_intercept_centre(y, family, exposure), 2.5 * s)
    coef: list[float] = []
    if X is not None:
        sds = np.std(X, axis=0) if len(X) else np.ones(X.shape[1])
        for j, name in enumerate(names):
            given = priors.coef_sd
            if isinstance(given, Mapping) and name in given:
                coef.append(float(given[name]))
            elif given is not None and not isinstance(given, Mapping):
                coef.append(float(given))
            else:
                coef.append(2.5 * s / (float(sds[j]) if sds[j] > 0 else 1.0))
        if isinstance(priors.coef_sd, Mapping):
            unknown = sorted(set(priors.coef_sd) - set(names))
            if unknown:
                raise OptionError(f"coef_sd names term(s) {unknown} that the model does not have; "
                                  f"its terms are {list(names)}.")
    return ResolvedPriors(
        scale=s, intercept=(float(intercept[0]), float(intercept[1])), coef_sd=tuple(coef),
        group_sd=float(priors.group_sd or s), sigma=float(priors.sigma or s),
        lkj_eta=float(priors.lkj_eta), dispersion=float(priors.dispersion),
        effect_sd=float(priors.effect_sd or s), time_sd=float(priors.time_sd or 2.5 * s),
    )


def prior_table(r: ResolvedPriors, family: str, names: tuple[str, ...], has_groups: bool,
                extra: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The priors of one fit as a table: ``parameter, prior``."""
    rows = [("Intercept (at the predictors' means)",
             f"Normal({r.intercept[0]:.4g}, {r.intercept[1]:.4g})")]
    rows += [(n, f"Normal(0, {sd:.4g})") for n, sd in zip(names, r.coef_sd, strict=True)]
    if has_groups:
        rows.append(("group SDs", f"HalfNormal({r.group_sd:.4g}), divided by sd(z) for a "
                                  f"varying slope on z"))
        rows.append(("correlations of varying effects", f"LKJ({r.lkj_eta:g})"))
    if family == "gaussian":
        rows.append(("sigma (residual SD)", f"Exponential(mean {r.sigma:.4g})"))
    if family == "negbin":
        rows.append(("1 / sqrt(phi)", f"HalfNormal({r.dispersion:g})"))
    rows += list((extra or {}).items())
    return pd.DataFrame(rows, columns=["parameter", "prior"])
