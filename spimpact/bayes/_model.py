"""PyMC building blocks shared by the Bayesian models.

Pure graph-building functions: each takes the arrays of a design and the
resolved priors and adds variables to the PyMC model in context. Group
effects are non-centred by default (``b = sd * z``, ``z ~ Normal(0, 1)``;
correlated varying effects ``b = z L'`` with ``L`` the Cholesky factor of
their covariance), which samples well when groups carry little data; a
centred parameterisation is available per grouping factor for groups with
a lot of data each. Every data array is a ``pm.Data`` container so that a
compiled model can be reused on new data of the same shape.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._deps import pymc
from ._design import Design, GroupDesign
from .priors import ResolvedPriors

__all__ = ["GroupVars", "var_name", "sd_scales", "add_group", "add_likelihood", "build_multilevel",
           "OUTCOME_VAR", "standardised_effects"]

#: Name of the observed variable in every model.
OUTCOME_VAR = "outcome"


def var_name(prefix: str, name: str) -> str:
    """A PyMC variable name for a grouping factor (non-word characters become ``_``)."""
    clean = re.sub(r"\W+", "_", name)
    return f"{prefix}_{clean}"


@dataclass(frozen=True)
class GroupVars:
    """Where one grouping factor's effects live in the posterior.

    ``kind``: ``"scalar"`` (one varying effect, ``b = sd * z``), ``"indep"``
    (several uncorrelated, ``b = z * sd``), ``"corr"`` (``b = z @ L.T``), or
    ``"centred"`` (``b`` sampled directly, variable ``z``).
    """

    name: str
    labels: Any
    terms: tuple[str, ...]
    kind: str
    z: str
    sd: str | None
    chol: str | None = None

    def effects(self, posterior: Any) -> np.ndarray:
        """Draws of the group effects ``(chain, draw, n_groups, k)``."""
        z = np.asarray(posterior[self.z])
        if z.ndim == 3:
            z = z[..., None]
        if self.kind == "centred":
            return z
        if self.kind == "corr":
            L = np.asarray(posterior[self.chol])
            return np.einsum("cdgk,cdjk->cdgj", z, L)
        sd = np.asarray(posterior[self.sd])
        if sd.ndim == 2:
            sd = sd[..., None]
        return z * sd[:, :, None, :]


def sd_scales(gd: GroupDesign, group_sd: float) -> np.ndarray:
    """Prior scale of each varying effect's SD: ``group_sd`` for a varying
    intercept (a constant column), ``group_sd / sd(z_j)`` for a varying slope
    on column ``z_j``, so the prior means the same whatever the units of ``z_j``."""
    if gd.Z is None:
        return np.array([group_sd])
    sd = gd.Z.std(axis=0)
    const = sd < 1e-12
    return np.where(const, group_sd, group_sd / np.where(const, 1.0, sd))


def add_group(
    gd: GroupDesign, idx: Any, Z: Any, pr: ResolvedPriors, centred: bool = False,
    prefix: str = "",
) -> tuple[Any, GroupVars]:
    """Add one grouping factor's varying effects; return their contribution to
    the linear predictor (length ``n``) and where they live."""
    pm = pymc()
    name = prefix + gd.name
    G, k = gd.n_groups, gd.k
    scale = sd_scales(gd, pr.group_sd)
    zname, sdname = var_name("z", name), var_name("sd", name)
    if k == 1:
        sd = pm.HalfNormal(sdname, float(scale[0]))
        if centred:
            b = pm.Normal(zname, 0.0, sd, shape=G)
            gv = GroupVars(gd.name, gd.labels, gd.terms, "centred", zname, sdname)
        else:
            b = sd * pm.Normal(zname, 0.0, 1.0, shape=G)
            gv = GroupVars(gd.name, gd.labels, gd.terms, "scalar", zname, sdname)
        return (b[idx] if Z is None else b[idx] * Z[:, 0]), gv
    if gd.correlated:
        cname = var_name("chol", name)
        chol, _, _ = pm.LKJCholeskyCov(cname, n=k, eta=pr.lkj_eta,
                                       sd_dist=pm.HalfNormal.dist(scale, shape=k),
                                       compute_corr=True, store_in_trace=True)
        lname = var_name("L", name)
        pm.Deterministic(lname, chol)
        if centred:
            B = pm.MvNormal(zname, mu=np.zeros(k), chol=chol, shape=(G, k))
            gv = GroupVars(gd.name, gd.labels, gd.terms, "centred", zname, None, lname)
        else:
            B = pm.Normal(zname, 0.0, 1.0, shape=(G, k)) @ chol.T
            gv = GroupVars(gd.name, gd.labels, gd.terms, "corr", zname, None, lname)
    else:
        sd = pm.HalfNormal(sdname, scale, shape=k)
        if centred:
            B = pm.Normal(zname, 0.0, sd, shape=(G, k))
            gv = GroupVars(gd.name, gd.labels, gd.terms, "centred", zname, sdname)
        else:
            B = pm.Normal(zname, 0.0, 1.0, shape=(G, k)) * sd
            gv = GroupVars(gd.name, gd.labels, gd.terms, "indep", zname, sdname)
    return (B[idx] * Z).sum(axis=1), gv


def add_likelihood(family: str, eta: Any, y: Any, pr: ResolvedPriors) -> None:
    """The outcome's distribution given the linear predictor ``eta``."""
    pm = pymc()
    import pytensor.tensor as pt

    if family == "gaussian":
        sigma = pm.Exponential("sigma", 1.0 / pr.sigma)
        pm.Normal(OUTCOME_VAR, eta, sigma, observed=y)
    elif family == "poisson":
        pm.Poisson(OUTCOME_VAR, mu=pt.exp(eta), observed=y)
    elif family == "negbin":
        inv = pm.HalfNormal("inv_sqrt_phi", pr.dispersion)
        phi = pm.Deterministic("phi", 1.0 / inv**2)
        pm.NegativeBinomial(OUTCOME_VAR, mu=pt.exp(eta), alpha=phi, observed=y)
    elif family == "bernoulli":
        pm.Bernoulli(OUTCOME_VAR, logit_p=eta, observed=y)
    else:  # validated before
        raise AssertionError(family)


def family_vars(family: str) -> tuple[tuple[str, str], ...]:
    """(row label, posterior variable) of the family's own parameters."""
    return {"gaussian": (("sigma", "sigma"),), "negbin": (("phi", "phi"),)}.get(family, ())


def standardised_effects(pm: Any, name: str, Xs: np.ndarray, prior_sd: np.ndarray) -> Any:
    """``Xs @ beta_std`` with ``beta_std ~ Normal(0, prior_sd)`` on standardised
    columns (the variable ``beta_std``; ``beta = beta_std / sd(x)``)."""
    beta = pm.Normal("beta_std", 0.0, prior_sd, shape=Xs.shape[1])
    return pm.Data(name, Xs) @ beta


def build_multilevel(
    design: Design, family: str, pr: ResolvedPriors, centred: Sequence[str] = (),
) -> tuple[Any, dict[str, np.ndarray], tuple, list[GroupVars]]:
    """The PyMC model of a multilevel GLM.

    Returns the model, its data containers (name -> array, for reuse of a
    compiled model), a structural cache key and the group variables.
    """
    pm = pymc()
    data: dict[str, np.ndarray] = {"d_y": design.y}
    if design.offset is not None:
        data["d_off"] = design.offset
    groups: list[GroupVars] = []
    with pm.Model() as model:
        y = pm.Data("d_y", design.y)
        eta: Any = 0.0
        if design.has_intercept:
            eta = pm.Normal("Intercept_c", pr.intercept[0], pr.intercept[1])
        p = design.Xc.shape[1]
        if p:
            eta = eta + standardised_effects(pm, "d_X", design.Xc / design.x_sd,
                                             np.asarray(pr.coef_sd) * design.x_sd)
            data["d_X"] = design.Xc / design.x_sd
        if design.offset is not None:
            eta = eta + pm.Data("d_off", design.offset)
        for i, gd in enumerate(design.groups):
            idx = pm.Data(f"d_idx_{i}", gd.index)
            data[f"d_idx_{i}"] = gd.index
            Z = None
            if gd.Z is not None:
                Z = pm.Data(f"d_Z_{i}", gd.Z)
                data[f"d_Z_{i}"] = gd.Z
            contrib, gv = add_group(gd, idx, Z, pr, centred=gd.name in centred)
            eta = eta + contrib
            groups.append(gv)
        add_likelihood(family, eta, y, pr)
    key = ("multilevel", family, design.has_intercept, p, design.offset is not None,
           tuple((g.n_groups, g.k, g.correlated, g.name in centred,
                  tuple(np.round(sd_scales(g, pr.group_sd), 12))) for g in design.groups),
           pr.key("intercept", "coef_sd", "group_sd", "sigma", "lkj_eta", "dispersion"))
    return model, data, key, groups
