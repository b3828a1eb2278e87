"""Options of the matching and weighting estimators, validated in one place.

Every estimator of :mod:`spimpact.matching` stores its settings untouched in
``__init__`` and calls one validator here at the start of ``fit``, so a bad
option fails before any work, with a message naming the argument, the value
and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from ..errors import OptionError
from ..inference import validate_choice

__all__ = [
    "Estimand",
    "MatchEstimand",
    "Order",
    "Method",
    "check_psm_options",
    "check_weighting_options",
    "columns_option",
    "check_ps_model",
]

Estimand = Literal["ATE", "ATT", "ATC"]
MatchEstimand = Literal["ATT", "ATC", "ATE"]
Order = Literal["largest", "smallest", "random", "data"]
Method = Literal["nearest", "optimal", "full"]

ORDERS = ("largest", "smallest", "random", "data")
METHODS = ("nearest", "optimal", "full")
ESTIMANDS = ("ATE", "ATT", "ATC")


def columns_option(name: str, value: Any) -> tuple[str, ...]:
    """``None``, a column name or a sequence of names, as a tuple of names."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        if len(set(value)) != len(value):
            raise OptionError(f"{name}= lists a column twice: {list(value)}.")
        return tuple(value)
    raise OptionError(
        f"{name}= must be a column name or a list of column names, not {value!r}."
    )


def check_ps_model(ps_model: Any) -> None:
    """``"logit"`` or an (unfitted) scikit-learn classifier with ``predict_proba``."""
    if isinstance(ps_model, str):
        if ps_model != "logit":
            raise OptionError(
                f"ps_model must be 'logit' or a scikit-learn classifier (e.g. "
                f"GradientBoostingClassifier()), not {ps_model!r}."
            )
        return
    if not (hasattr(ps_model, "fit") and hasattr(ps_model, "predict_proba")):
        raise OptionError(
            f"ps_model must be 'logit' or a scikit-learn classifier with fit() and "
            f"predict_proba(), not {type(ps_model).__name__}."
        )


def _check_formula(ps_formula: Any) -> None:
    if ps_formula is not None and not isinstance(ps_formula, str):
        raise OptionError(
            f"ps_formula must be a formulaic right-hand side such as "
            f"'age + I(age**2) + C(education)', not {type(ps_formula).__name__}."
        )


def _check_confidence(confidence: Any) -> None:
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        raise OptionError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence!r}.")


def check_psm_options(
    *,
    ps_model: Any,
    ps_formula: Any,
    caliper: Any,
    ratio: Any,
    replace: Any,
    exact: Any,
    mahalanobis: Any,
    estimand: Any,
    order: Any,
    confidence: Any,
    method: Any = "nearest",
    bias_correction: Any = False,
    outcome_formula: Any = None,
) -> None:
    """Validate the options of :class:`~spimpact.matching.PropensityScoreMatching`."""
    check_ps_model(ps_model)
    _check_formula(ps_formula)
    _check_formula(outcome_formula)
    validate_choice("method", method, METHODS)
    if not isinstance(bias_correction, (bool, np.bool_)):
        raise OptionError(f"bias_correction must be True or False, not {bias_correction!r}.")
    if method != "nearest":
        if replace:
            raise OptionError(
                f"method={method!r} matches without replacement; use method='nearest' with "
                f"replace=True for matching with replacement."
            )
        if columns_option("mahalanobis", mahalanobis):
            raise OptionError(
                f"mahalanobis= is available with method='nearest' only (method={method!r} "
                f"matches on the propensity score, within exact= strata)."
            )
        if order != "largest":
            raise OptionError(
                f"order={order!r} sets the order of the greedy pass; method={method!r} is not "
                f"greedy (it optimises the total distance), so leave order at its default."
            )
    if method == "full" and ratio != 1:
        raise OptionError(
            "ratio= does not apply to method='full' (full matching chooses the size of each "
            "matched set); leave ratio=1."
        )
    if caliper is not None and not (
        isinstance(caliper, (int, float, np.integer, np.floating))
        and np.isfinite(caliper) and caliper > 0
    ):
        raise OptionError(
            f"caliper must be a positive number of standard deviations of the logit of the "
            f"propensity score (e.g. 0.2), or None for no caliper; got {caliper!r}."
        )
    if isinstance(ratio, bool) or not isinstance(ratio, (int, np.integer)) or ratio < 1:
        raise OptionError(f"ratio must be a positive integer (controls per treated unit), not {ratio!r}.")
    if not isinstance(replace, (bool, np.bool_)):
        raise OptionError(f"replace must be True or False, not {replace!r}.")
    columns_option("exact", exact)
    columns_option("mahalanobis", mahalanobis)
    if estimand == "ATE" and method != "full":
        raise OptionError(
            f"estimand='ATE' is not available for method={method!r} (each treated unit is "
            f"matched, so it targets the ATT; estimand='ATC' matches each control). For the "
            f"ATE use method='full', InverseProbabilityWeighting(estimand='ATE') or AugmentedIPW."
        )
    validate_choice("estimand", estimand, ("ATT", "ATC", "ATE"))
    validate_choice("order", order, ORDERS)
    _check_confidence(confidence)


def check_weighting_options(
    *,
    ps_model: Any,
    ps_formula: Any,
    estimand: Any,
    stabilized: Any,
    trim: Any,
    confidence: Any,
    outcome_formula: Any = None,
) -> None:
    """Validate the options of the weighting estimators."""
    check_ps_model(ps_model)
    _check_formula(ps_formula)
    _check_formula(outcome_formula)
    validate_choice("estimand", estimand, ESTIMANDS)
    if not isinstance(stabilized, (bool, np.bool_)):
        raise OptionError(f"stabilized must be True or False, not {stabilized!r}.")
    if trim is not None and not (
        isinstance(trim, (int, float, np.floating)) and 0 < trim < 0.5
    ):
        raise OptionError(
            f"trim must be None or a propensity-score threshold in (0, 0.5) (units with a "
            f"score outside [trim, 1 - trim] are set aside, e.g. trim=0.01); got {trim!r}."
        )
    _check_confidence(confidence)
