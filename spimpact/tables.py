"""Results side by side: :func:`compare`, the table fixest's ``etable`` and
pyfixest's ``etable`` give, for every spimpact result.

One column per result; rows for the headline estimate, its standard error,
interval and p-value, the sample sizes, the comparison group and the
estimator's settings. The cells are text formatted for people (as in
``etable``), so the frame renders as it is to LaTeX (``.to_latex()``),
Markdown (``.to_markdown()``), HTML (``.to_html()``) and Word
(``.to_docx(path)``, with python-docx); the numbers
themselves stay on each result (``.overall``, ``.estimates``).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ._format import MISSING, fmt, fmt_interval, fmt_p
from .errors import DependencyError, OptionError

__all__ = ["compare", "ComparisonTable", "estimator_settings", "comparison_group"]


class ComparisonTable(pd.DataFrame):
    """The frame :func:`compare` returns: a :class:`pandas.DataFrame` whose
    :meth:`to_latex` escapes LaTeX's special characters by default (the cells
    hold ``%``, ``_`` and ``<``, as in ``95% interval`` or ``control_group``).

    Examples
    --------
    >>> t = ComparisonTable({"a_b": ["95% [0.1, 0.2]"]})
    >>> "95\\% [0.1, 0.2]" in t.to_latex() and "a\\_b" in t.to_latex()
    True
    """

    @property
    def _constructor(self) -> type[ComparisonTable]:
        return ComparisonTable

    def to_latex(self, *args: Any, escape: bool = True, **kwargs: Any) -> Any:
        """:meth:`pandas.DataFrame.to_latex`, escaping special characters by default."""
        return super().to_latex(*args, escape=escape, **kwargs)

    def to_docx(self, path: str | Path, title: str = "") -> Path:
        """Write the table to a Word document (python-docx, the ``report`` extra).

        Parameters
        ----------
        path : str or Path
            The ``.docx`` file to write.
        title : str
            A caption above the table.

        Returns
        -------
        Path
        """
        try:
            import docx
        except ImportError:
            raise DependencyError(
                "writing a Word table needs python-docx: pip install 'spimpact[report]' "
                "(or pip install python-docx)."
            ) from None
        document = docx.Document()
        if title:
            document.add_paragraph(title)
        table = document.add_table(rows=len(self) + 1, cols=self.shape[1] + 1)
        table.style = "Table Grid"
        cells = [["", *map(str, self.columns)]]
        cells += [[str(label), *map(str, row)] for label, row in zip(
            self.index, self.itertuples(index=False), strict=True)]
        for r, row in enumerate(cells):
            for c, text in enumerate(row):
                table.cell(r, c).text = text
        path = Path(path)
        document.save(str(path))
        return path

#: The comparison group of estimators that do not state one as a setting.
_IMPLICIT_COMPARISON = {
    "Imputation": "untreated observations (not yet and never treated)",
    "TwoStage": "untreated observations (not yet and never treated)",
    "TWFE": "untreated and earlier-treated observations (implicit)",
}


def estimator_settings(estimator: Any) -> dict[str, Any]:
    """The settings of ``estimator`` that differ from their defaults (display
    switches such as ``progress`` left out).

    Examples
    --------
    >>> from spimpact.did import CallawaySantAnna
    >>> estimator_settings(CallawaySantAnna(control_group="not_yet_treated"))
    {'control_group': 'not_yet_treated'}
    """
    out: dict[str, Any] = {}
    for name, param in inspect.signature(type(estimator).__init__).parameters.items():
        if name in ("self", "progress") or param.kind in (param.VAR_POSITIONAL,
                                                          param.VAR_KEYWORD):
            continue  # progress bars change what is shown, not the estimate
        if not hasattr(estimator, name):
            continue
        value = getattr(estimator, name)
        default = param.default
        try:
            same = default is not inspect.Parameter.empty and bool(value == default)
        except (TypeError, ValueError):  # arrays, frames: shown as set
            same = False
        if not same:
            out[name] = value
    return out


def comparison_group(estimator: Any) -> str:
    """Who an estimator compares the treated with, in words.

    Examples
    --------
    >>> from spimpact.did import CallawaySantAnna, Imputation
    >>> comparison_group(CallawaySantAnna()), comparison_group(Imputation())
    ('never treated', 'untreated observations (not yet and never treated)')
    """
    group = getattr(estimator, "control_group", None)
    if isinstance(group, str):
        return group.replace("_", " ")
    return _IMPLICIT_COMPARISON.get(type(estimator).__name__, MISSING)


def compare(
    results: Sequence[Any],
    names: Sequence[str] | None = None,
    *,
    estimators: Sequence[Any] | None = None,
    digits: int = 4,
) -> pd.DataFrame:
    """Results side by side: one column per result, one row per quantity.

    Parameters
    ----------
    results : sequence of Result
        Fitted results (any family); each shows its ``.overall`` estimate.
    names : sequence of str, optional
        Column names (default: each result's class name, numbered if repeated).
    estimators : sequence, optional
        The estimators that produced ``results``, in the same order: adds their
        comparison group and the settings that differ from the defaults.
    digits : int
        Significant digits of the numbers.

    Returns
    -------
    ComparisonTable
        A :class:`pandas.DataFrame` of text cells, rows ``estimate``, ``std. error``, the interval, ``p-value``,
        ``rows``, ``units``, ``clusters``, ``comparison group``, ``method``
        (and ``settings`` with ``estimators``). Render it with ``.to_latex()``,
        ``.to_markdown()`` or ``.to_html()`` (``to_latex`` escapes ``%``,
        ``_`` and the like).

    Raises
    ------
    OptionError
        When ``names`` or ``estimators`` do not match ``results`` in length, or
        a result has no headline estimate.

    Examples
    --------
    >>> import spimpact as sp
    >>> from spimpact.did import CallawaySantAnna, Imputation
    >>> from spimpact.simulate import pcn_rollout
    >>> panel = pcn_rollout(n_pcns=60, random_state=1).panel("wellbeing", covariates=())
    >>> ests = [CallawaySantAnna(), Imputation()]
    >>> table = sp.compare([e.fit(panel) for e in ests], names=["CS", "BJS"], estimators=ests)
    >>> table.columns.tolist(), table.index[:2].tolist()
    (['CS', 'BJS'], ['estimate', 'std. error'])
    >>> "\\\\begin{tabular}" in table.to_latex()
    True
    """
    results = list(results)
    if not results:
        raise OptionError("compare needs at least one result, e.g. compare([cs, twfe]).")
    if names is None:
        base = [type(r).__name__ for r in results]
        names = [b if base.count(b) == 1 else f"{b} ({i + 1})" for i, b in enumerate(base)]
    names = [str(n) for n in names]
    if len(names) != len(results):
        raise OptionError(f"names has {len(names)} entries for {len(results)} results; give one "
                          f"name per result.")
    if len(set(names)) != len(names):
        raise OptionError(f"names must be distinct; got {names}.")
    if estimators is not None and len(estimators) != len(results):
        raise OptionError(f"estimators has {len(estimators)} entries for {len(results)} "
                          f"results; give the estimator of each result, in order.")
    columns = {}
    for i, (name, res) in enumerate(zip(names, results, strict=True)):
        est = getattr(res, "overall", None)
        if est is None:
            raise OptionError(f"result {name!r} ({type(res).__name__}) has no headline "
                              f"estimate (.overall) to compare; aggregate it first.")
        cells: dict[str, str] = {
            "estimate": fmt(est.estimate, digits),
            "std. error": fmt(est.std_error, digits),
            f"{100 * est.confidence:g}% interval": fmt_interval(est.ci_lower, est.ci_upper,
                                                               digits),
            "p-value": fmt_p(est.p_value),
            "rows": fmt(res.n_obs),
            "units": fmt(res.n_units),
            "clusters": fmt(res.n_clusters),
        }
        if estimators is not None:
            cells["comparison group"] = comparison_group(estimators[i])
        cells["method"] = str(res.method)
        if estimators is not None:
            settings = estimator_settings(estimators[i])
            cells["settings"] = ("; ".join(f"{k} = {fmt(v)}" for k, v in settings.items())
                                 or "defaults")
        columns[name] = cells
    table = ComparisonTable(columns)
    table.index.name = None
    return table.fillna(MISSING)
