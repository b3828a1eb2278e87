"""One seam for formulas: covariate design matrices built with formulaic.

Column-list settings (``covariates=``, ``exact=``, ...) take column names only
(:func:`column_list`); formulas (``"age + I(age**2) + C(ethnicity)"``) come
only through settings named ``*_formula`` (and the Bayesian ``formula=``).
Both become a float matrix with named columns here, and nowhere else.

Formula strings are evaluated as Python by formulaic (as patsy and R evaluate
theirs): ``I(...)`` and function calls run code. Pass only formulas from
trusted sources, never text taken from untrusted users.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import OptionError, PanelError

__all__ = ["design_matrix", "covariate_formula", "column_list"]

#: Characters of formula syntax: a column-list setting holding one is a formula.
_FORMULA_CHARS = frozenset("~+*:()^|")


def _quote(col: object) -> str:
    col = str(col)
    return col if col.isidentifier() else f"`{col}`"


def column_list(value: Any, role: str = "covariates") -> tuple[Any, ...]:
    """A column-list setting (``covariates=`` and the like) as a tuple of names.

    One name may be given on its own; ``None`` or an empty list means none.
    A formula string is refused: formulas are evaluated as Python, so they go
    only through settings named ``*_formula``.

    Examples
    --------
    >>> column_list("age"), column_list(["age", "sex"]), column_list(None)
    (('age',), ('age', 'sex'), ())
    >>> try:
    ...     column_list("age + I(age**2)")
    ... except OptionError as exc:
    ...     print(str(exc)[:60])
    covariates= takes column names, not a formula ('age + I(age*
    """
    if value is None:
        return ()
    names = (value,) if isinstance(value, (str, int, np.integer)) else tuple(value)
    for name in names:
        if isinstance(name, str) and _FORMULA_CHARS & set(name):
            raise OptionError(
                f"{role}= takes column names, not a formula ({name!r}); add derived columns "
                f"to the data (e.g. df['age_sq'] = df['age'] ** 2) and list them, e.g. "
                f"{role}=['age', 'age_sq']."
            )
        if not isinstance(name, (str, int, np.integer)) or isinstance(name, bool):
            raise OptionError(f"{role}= takes column names, but holds {name!r}.")
    return names


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
        if any(not isinstance(c, str) for c in spec):  # e.g. integer column names
            strings = [str(c) for c in spec]
            if len(set(strings)) < len(strings):
                raise PanelError(
                    f"covariate columns {list(spec)!r} have the same name once written as text; "
                    f"rename the columns to distinct strings."
                )
            frame = frame.loc[:, list(spec)].set_axis(strings, axis=1)
            spec = strings
        fast = _numeric_columns(frame, spec, intercept)
        if fast is not None:
            return fast
        rhs = covariate_formula(frame, spec)
    from formulaic import model_matrix  # imported on first use: it takes a while
    from formulaic.errors import FormulaicError

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


def _numeric_columns(frame: pd.DataFrame, columns: Sequence[str],
                     intercept: bool) -> tuple[np.ndarray, list[str]] | None:
    """The main-effects matrix of numeric columns without a formula (the same
    matrix and names as formulaic's, tested); ``None`` when a column is not a
    plain numeric one (booleans, strings, categoricals, missing values, names
    that are not identifiers), which the formula path handles."""
    for c in columns:
        dtype = frame[c].dtype
        if not (c.isidentifier() and pd.api.types.is_numeric_dtype(dtype)
                and not pd.api.types.is_bool_dtype(dtype)
                and not isinstance(dtype, pd.api.types.CategoricalDtype)
                and not pd.api.types.is_complex_dtype(dtype)):
            return None
    X = np.empty((len(frame), len(columns) + int(intercept)))
    if intercept:
        X[:, 0] = 1.0
    for j, c in enumerate(columns):
        X[:, j + int(intercept)] = frame[c].to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(X).any():
        return None  # the formula path names the missing values
    if not np.isfinite(X).all():
        raise PanelError(f"the design matrix for {' + '.join(columns)!r} has non-finite values; "
                         f"check the terms.")
    return X, (["Intercept"] if intercept else []) + [str(c) for c in columns]
