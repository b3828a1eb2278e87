"""What the matching and weighting estimators share: the checks of the panel,
the propensity model on a panel, and the balance table with its warning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._sample import refuse_dose, refuse_exposure, refuse_general_treatment, require_panel
from ..errors import EstimationError
from ..panel import Panel
from .balance import SMD_THRESHOLD, balance_covariates, balance_table
from .propensity import PropensityFit, fit_propensity, propensity_design

__all__ = ["Sample", "treatment_sample", "panel_propensity", "balance_with_score",
           "imbalance_message", "tie_keys"]

_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing constant: spreads the salted keys


def tie_keys(frame: pd.DataFrame, random_state: Any = None) -> np.ndarray:
    """One key per row that orders units with equal scores, derived from the
    row's values (not its position or index label) salted by ``random_state``.

    Shuffling the rows of the data moves each key with its row, so matching
    that breaks ties by these keys gives the same matched units (and the same
    estimate) whatever the order of the rows; ``random_state`` chooses among
    the tied units at random, reproducibly. ``None`` uses salt 0.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"x": [1.0, 2.0, 1.0]})
    >>> k = tie_keys(f, 3)
    >>> bool(k[0] == k[2]), bool(k[0] == tie_keys(f.iloc[::-1], 3)[2])
    (True, True)
    """
    from ..inference import as_generator

    h = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    salt = (np.uint64(0) if random_state is None
            else np.uint64(as_generator(random_state).integers(0, 2**63)))
    with np.errstate(over="ignore"):
        return (h ^ salt) * _MIX


@dataclass(frozen=True)
class Sample:
    """One row per unit: the data, treatment, outcome and sampling weights."""

    frame: pd.DataFrame
    d: np.ndarray
    y: np.ndarray
    w: np.ndarray
    cluster: np.ndarray | None


def treatment_sample(panel: Panel, who: str) -> Sample:
    """Check that ``panel`` has one row per unit and both treated and control
    units; return its arrays.

    Parameters
    ----------
    panel : Panel
    who : str
        The estimator's name, for messages.
    """
    require_panel(panel, f"{who}.fit()", "outcome=..., treatment=..., covariates=[...]")
    refuse_general_treatment(panel, who)
    if not panel.has_cohorts:
        raise EstimationError(
            f"{who} needs to know who is treated: build the Panel with treatment= (a 0/1 "
            f"column)."
        )
    if panel.n_obs != panel.n_units:
        raise EstimationError(
            f"{who} needs one row per unit (a cross-section, or each unit at its index date), "
            f"but the panel has {panel.n_obs} rows for {panel.n_units} units. For a "
            f"longitudinal patient panel use spimpact.matching.match_cohort(), which matches "
            f"at the index date and returns the matched panel."
        )
    refuse_exposure(panel, who)
    refuse_dose(panel, who)
    d = np.asarray(panel.treated, dtype=float)
    n1 = int(d.sum())
    if n1 == 0 or n1 == len(d):
        group = "treated" if n1 == 0 else "control"
        col = panel.treatment or panel.cohort
        raise EstimationError(
            f"no {group} units: every row of {col!r} is {'0' if n1 == 0 else '1'}, so there is "
            f"nothing to compare. Check the treatment column and any filtering of the data."
        )
    w = np.asarray(panel.w, float)
    for group, arm in (("treated", d == 1), ("control", d == 0)):
        n_pos = int(np.count_nonzero(w[arm] > 0))
        if n_pos < 2:
            weighted = f" with a positive weight ({panel.weights!r})" if panel.weights else ""
            raise EstimationError(
                f"{who}: {n_pos} {group} unit(s){weighted}; an effect and its standard error "
                f"need at least 2 in each group (with 1 the standard error is 0 or undefined). "
                f"Check the treatment column{' and the weights' if panel.weights else ''}."
            )
    return Sample(panel.frame, d, np.asarray(panel.y, dtype=float), w,
                  None if panel.cluster_codes is None else np.asarray(panel.cluster_codes))


def panel_propensity(
    panel: Panel, sample: Sample, ps_model: Any, ps_formula: str | None
) -> PropensityFit:
    """Fit the propensity model on the panel's covariates or ``ps_formula``."""
    X, names = propensity_design(sample.frame, ps_formula, panel.covariates,
                                 intercept=isinstance(ps_model, str))
    return fit_propensity(X, sample.d, ps_model, w=sample.w, names=names)


def balance_with_score(
    panel: Panel, sample: Sample, score: np.ndarray, w_after: np.ndarray, estimand: str
) -> pd.DataFrame:
    """The balance table of the panel's covariates and the propensity score."""
    X, names = balance_covariates(sample.frame, panel.covariates)
    args = (sample.d, sample.w, w_after, estimand)
    return pd.concat([balance_table(np.asarray(score)[:, None], ["propensity_score"], *args),
                      balance_table(X, names, *args)], ignore_index=True)


def imbalance_message(table: pd.DataFrame, what: str = "after adjustment") -> str | None:
    """The warning text when a covariate keeps |SMD| above the threshold."""
    rows = table.loc[table["covariate"] != "propensity_score"]
    bad = rows.loc[rows["smd_after"].abs() > SMD_THRESHOLD]
    if bad.empty:
        return None
    worst = bad.reindex(bad["smd_after"].abs().sort_values(ascending=False).index)
    listed = ", ".join(f"{c} ({v:+.2f})" for c, v in
                       zip(worst["covariate"][:4], worst["smd_after"][:4], strict=False))
    return (
        f"{len(bad)} covariate(s) remain imbalanced {what} (|SMD| > {SMD_THRESHOLD}): "
        f"{listed}{', ...' if len(bad) > 4 else ''}. Refine the propensity model "
        f"(interactions, splines), use exact matching, or adjust for them in the outcome model."
    )
