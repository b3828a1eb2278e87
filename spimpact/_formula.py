"""One seam for formulas: covariate design matrices built with formulaic.

Estimators accept covariates as a list of columns or as a formulaic
right-hand side (``"age + I(age**2) + C(ethnicity)"``); both become a float
matrix with named columns here, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .errors import OptionError, PanelError

__all__ = ["design_matrix", "covariate_formula"]


def _quote(col: str) -> str:
    return col if col.isidentifier() else f"`{col}`"


def covariate_formula(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """Main-effects right-hand side for ``columns``: numeric columns enter as
    they are, others (strings, categoricals, booleans) as categorical."""
    terms = []
    for c in columns:
        s = frame[c]
        numeric = pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
        terms.append(_quote(c) if numeric else f"C({_quote(c)})")
    return " + ".join(terms) if terms else "1"


def design_matrix(
    frame: pd.DataFrame,
    spec: str | Sequence[str] | None,
    *,
    intercept: bool = True,
) -> tuple[np.ndarray, list[str]]:
    """A float design matrix and its column names.

    Parameters
    ----------
    frame : DataFrame
        The rows to build the matrix for (e.g. ``panel.frame``).
    spec : str, sequence of str or None
        A formulaic right-hand side, or a list of columns (main effects), or
        ``None`` / empty for an intercept only.
    intercept : bool
        Whether to keep the intercept column.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"age": [30.0, 40.0, 50.0], "sex": ["f", "m", "f"]})
    >>> X, names = design_matrix(f, ["age", "sex"])
    >>> names
    ['Intercept', 'age', 'C(sex)[T.m]']
    """
    from formulaic import model_matrix
    from formulaic.errors import FormulaicError

    if spec is None or (not isinstance(spec, str) and len(spec) == 0):
        X = np.ones((len(frame), 1))
        return (X, ["Intercept"]) if intercept else (X[:, :0], [])
    if isinstance(spec, str):
        rhs = spec.split("~", 1)[1] if "~" in spec else spec
    else:
        missing = [c for c in spec if c not in frame.columns]
        if missing:
            raise OptionError(
                f"covariate {missing[0]!r} is not a column of the panel's data; "
                f"add it to Panel(covariates=...) or correct the name."
            )
        rhs = covariate_formula(frame, spec)
    try:
        mm = model_matrix(rhs if intercept else f"{rhs} - 1", frame, na_action="raise")
    except (FormulaicError, NameError, KeyError, SyntaxError, ValueError) as exc:
        raise OptionError(
            f"cannot build the design matrix for {rhs!r}: {exc}. Check that every term names a "
            f"column of the panel (Panel(covariates=...)) and is valid formulaic syntax."
        ) from exc
    X = np.asarray(mm, dtype=float)
    if not np.isfinite(X).all():
        raise PanelError(f"the design matrix for {rhs!r} has non-finite values; check the terms.")
    return X, [str(c) for c in mm.columns]
