"""Arrays of a multilevel model: outcome, fixed-effect design, group indices.

Group effects are never expanded into dense group design matrices: each
grouping factor is an integer index per row (and, for varying slopes, the
few columns that vary), so a model with thousands of groups and a million
rows stays a few arrays of length ``n``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._formula import design_matrix
from ..errors import EstimationError, OptionError, PanelError
from ..panel import Panel
from ._terms import GroupTerm, ParsedFormula

__all__ = ["FAMILIES", "GroupDesign", "Design", "build_design", "check_family", "group_index",
           "offset_of"]

FAMILIES = ("gaussian", "poisson", "negbin", "bernoulli")


@dataclass(frozen=True)
class GroupDesign:
    """One grouping factor: the group of each row and what varies by group.

    ``Z`` is ``None`` for a varying intercept only, else ``(n, k)`` with the
    varying columns named ``terms``.
    """

    name: str
    index: np.ndarray
    labels: pd.Index
    Z: np.ndarray | None
    terms: tuple[str, ...]
    correlated: bool

    @property
    def n_groups(self) -> int:
        return len(self.labels)

    @property
    def k(self) -> int:
        return 1 if self.Z is None else self.Z.shape[1]


@dataclass(frozen=True)
class Design:
    """Outcome, fixed effects (non-intercept columns centred), offset and groups.

    ``x_sd`` holds the SD of each non-intercept column: the model samples
    coefficients of the standardised columns ``Xc / x_sd`` (so that start
    values and step sizes are on a common scale) and reports ``beta / x_sd``.
    """

    y: np.ndarray
    Xc: np.ndarray
    x_mean: np.ndarray
    x_sd: np.ndarray
    names: tuple[str, ...]
    has_intercept: bool
    offset: np.ndarray | None
    groups: tuple[GroupDesign, ...]

    @property
    def slope_names(self) -> tuple[str, ...]:
        """Names of the non-intercept fixed effects (the columns of ``Xc``)."""
        return tuple(n for n in self.names if not (self.has_intercept and n == "Intercept"))


def check_family(y: np.ndarray, family: str, outcome: str) -> None:
    """Raise if the outcome cannot come from ``family``."""
    if family not in FAMILIES:
        raise OptionError(f"family must be one of {list(FAMILIES)}, not {family!r}.")
    if family in ("poisson", "negbin"):
        bad = (y < 0) | (y != np.round(y))
        if bad.any():
            raise EstimationError(
                f"family={family!r} needs a count outcome, but {outcome!r} has {int(bad.sum())} "
                f"non-integer or negative values (e.g. {y[bad][:3].tolist()}); use "
                f"family='gaussian' for a continuous outcome, or model the counts themselves "
                f"with the population as the panel's exposure=."
            )
    if family == "bernoulli":
        bad = (y != 0) & (y != 1)
        if bad.any():
            raise EstimationError(
                f"family='bernoulli' needs a 0/1 outcome, but {outcome!r} has {int(bad.sum())} "
                f"other values (e.g. {y[bad][:3].tolist()})."
            )


def offset_of(panel: Panel, family: str) -> np.ndarray | None:
    """``log(exposure)`` for count families with an exposure, else ``None``.

    Every Bayesian design asks for its offset, so the roles these models cannot
    use are refused here, before any sampling: an exposure with a family that
    has no offset, and a dose (a role is never ignored silently).
    """
    if panel.dose is not None:
        raise EstimationError(
            f"the Bayesian models estimate effects of a 0/1 treatment and do not use the "
            f"panel's dose={panel.dose!r}; for effects along the dose use "
            f"spimpact.did.ContinuousDiD, or build the Panel without it "
            f"(panel.replace(dose=None))."
        )
    if panel.exposure_values is None:
        return None
    if family in ("poisson", "negbin"):
        return np.log(np.asarray(panel.exposure_values, dtype=float))
    raise EstimationError(
        f"family={family!r} models the outcome's level and does not use the panel's "
        f"exposure={panel.exposure!r} (the offset of the count families); use "
        f"family='poisson' or 'negbin' for the counts, or build the Panel without it "
        f"(panel.replace(exposure=None))."
    )


def group_index(frame: pd.DataFrame, factors: Sequence[str]) -> tuple[np.ndarray, pd.Index]:
    """Integer group of each row and the group labels (``"a:b"`` for crossed columns)."""
    if len(factors) == 1:
        codes, labels = pd.factorize(frame[factors[0]], sort=True)
        return codes.astype(np.intp), pd.Index(labels, name=factors[0])
    g = frame.groupby(list(factors), sort=True, observed=True)
    codes = g.ngroup().to_numpy().astype(np.intp)
    keys = g.size().index
    labels = pd.Index([":".join(str(v) for v in k) for k in keys], name=":".join(factors))
    return codes, labels


def _check_columns(expr: str, frame: pd.DataFrame, where: str) -> None:
    from formulaic import Formula

    try:
        needed = Formula(expr).required_variables
    except Exception as exc:  # formulaic raises several parser errors
        raise OptionError(f"cannot parse the {where} {expr!r}: {exc}.") from exc
    missing = sorted(v for v in needed if v not in frame.columns)
    if missing:
        raise OptionError(
            f"the {where} {expr!r} uses {missing[0]!r}, which is not a column of the panel "
            f"(it has {sorted(map(str, frame.columns))}); add it to Panel(covariates=...) or "
            f"correct the name."
        )


def _group_design(term: GroupTerm, frame: pd.DataFrame, allowed: Sequence[str]) -> GroupDesign:
    for col in term.factors:
        if col not in allowed:
            raise OptionError(
                f"group column {col!r} in ({term.expr} | {term.name}) is not one of the panel's "
                f"levels {list(allowed)}; build the Panel with levels=[..., {col!r}, ...]."
            )
    index, labels = group_index(frame, term.factors)
    if term.expr.replace(" ", "") in ("1", "1+0", "0+1"):
        return GroupDesign(term.name, index, labels, None, ("Intercept",), term.correlated)
    _check_columns(term.expr, frame, f"group term ({term.expr} | {term.name})")
    Z, terms = design_matrix(frame, term.expr)
    if Z.shape[1] == 0:
        raise OptionError(f"group term ({term.expr} | {term.name}) has no varying effect.")
    return GroupDesign(term.name, index, labels, Z, tuple(terms), term.correlated)


def build_design(panel: Panel, parsed: ParsedFormula, family: str) -> Design:
    """The arrays of ``parsed`` on ``panel`` (validates columns, groups and the outcome)."""
    if parsed.lhs is not None and parsed.lhs != panel.outcome:
        raise OptionError(
            f"the formula's outcome {parsed.lhs!r} is not the panel's outcome {panel.outcome!r}; "
            f"write '{panel.outcome} ~ ...' or build the Panel with outcome={parsed.lhs!r}."
        )
    if panel.weights is not None:
        raise EstimationError(
            f"the panel has sampling weights ({panel.weights!r}), which these Bayesian models "
            f"do not use; build the Panel without weights= (or model the weighting variable)."
        )
    y = np.asarray(panel.y, dtype=float)
    check_family(y, family, panel.outcome)
    frame = panel.frame
    _check_columns(parsed.fixed, frame, "formula")
    X, names = design_matrix(frame, parsed.fixed)
    has_int = "Intercept" in names
    slope_cols = [j for j, n in enumerate(names) if not (has_int and n == "Intercept")]
    Xs = X[:, slope_cols]
    x_mean = Xs.mean(axis=0) if has_int else np.zeros(Xs.shape[1])
    allowed = list(dict.fromkeys([*panel.levels, *([panel.unit] if panel.unit else [])]))
    groups = tuple(_group_design(t, frame, allowed) for t in parsed.groups)
    names_seen = [g.name for g in groups]
    if len(set(names_seen)) != len(names_seen):
        raise OptionError(f"grouping factor(s) appear in more than one group term: {names_seen}; "
                          f"combine them, e.g. (1 + x | g).")
    if not np.isfinite(y).all():
        raise PanelError(f"outcome {panel.outcome!r} has non-finite values.")
    sd = Xs.std(axis=0)
    x_sd = np.where(sd > 0, sd, 1.0)
    return Design(y=y, Xc=np.ascontiguousarray(Xs - x_mean), x_mean=x_mean, x_sd=x_sd,
                  names=tuple(names),
                  has_intercept=has_int, offset=offset_of(panel, family), groups=groups)
