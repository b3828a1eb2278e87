"""Effects by subgroup on one page, with multiplicity control.

Takes the DiD ``fit(panel, by=...)`` results (or any table of subgroup
estimates) and adds Holm and Benjamini-Hochberg adjusted p-values, a test of
heterogeneity and the contrast between two chosen subgroups (e.g. the most
against the least deprived quintile).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import OptionError
from ..results import Estimate

__all__ = ["subgroup_effects", "SubgroupSummary"]


class SubgroupSummary:
    """Subgroup effects (:attr:`table`), heterogeneity test (:attr:`heterogeneity`),
    and named contrasts (:attr:`contrasts`)."""

    def __init__(self, table: pd.DataFrame, heterogeneity: pd.DataFrame,
                 contrasts: pd.DataFrame) -> None:
        self._table, self._het, self._con = table, heterogeneity, contrasts

    @property
    def table(self) -> pd.DataFrame:
        """``characteristic, subgroup, estimate, std_error, ci_lower, ci_upper,
        p_value, p_holm, p_bh`` (adjusted within each characteristic)."""
        return self._table.copy()

    @property
    def heterogeneity(self) -> pd.DataFrame:
        """``characteristic, statistic, df, p_value, method``: are all subgroup effects equal?"""
        return self._het.copy()

    @property
    def contrasts(self) -> pd.DataFrame:
        """``characteristic, contrast, estimate, std_error, ci_lower, ci_upper, p_value``."""
        return self._con.copy()

    def plot(self, ax: Any = None) -> Any:
        """Every subgroup's effect with its interval, grouped by characteristic."""
        from ..plotting import coef_plot

        return coef_plot(self._table, ["characteristic", "subgroup"], ax=ax,
                         title="Effects by subgroup")

    def __repr__(self) -> str:
        return f"<SubgroupSummary: {len(self._table)} subgroups, " \
               f"{self._het['characteristic'].nunique()} characteristics>"


def _table_of(obj: Any) -> tuple[pd.DataFrame, Any]:
    if isinstance(obj, pd.DataFrame):
        tab = obj
    elif hasattr(obj, "estimates"):
        tab = obj.estimates
    else:
        raise OptionError(f"subgroup results must be DataFrames or results with .estimates, "
                          f"not {type(obj).__name__}.")
    need = {"subgroup", "estimate", "std_error"}
    if not need <= set(tab.columns):
        raise OptionError(f"a subgroup table needs the columns {sorted(need)}; it has "
                          f"{list(tab.columns)}.")
    return tab, obj


def subgroup_effects(
    results: Mapping[str, Any],
    *,
    contrasts: Mapping[str, tuple[Any, Any]] | None = None,
    confidence: float = 0.95,
) -> SubgroupSummary:
    """Subgroup effects by several characteristics, with Holm and BH adjustment.

    Parameters
    ----------
    results : mapping of characteristic to result or table
        E.g. ``{"deprivation": cs.fit(panel, by="deprivation_quintile"), ...}``:
        DiD subgroup results (:class:`spimpact.did.subgroups.SubgroupResult`)
        or tables with ``subgroup, estimate, std_error``.
    contrasts : mapping of characteristic to (subgroup a, subgroup b), optional
        Differences ``a - b`` to report (e.g. ``{"deprivation": (5, 1)}``). With
        DiD subgroup results the joint influence functions give the SE (right
        when clusters span subgroups); otherwise the subgroups are taken as
        independent.
    confidence : float

    Returns
    -------
    SubgroupSummary
        p-values are adjusted within each characteristic. Heterogeneity: the
        result's joint Wald test of equal effects when it has one, else
        Cochran's Q (independent subgroups).
    """
    from scipy import stats
    from statsmodels.stats.multitest import multipletests

    if not results:
        raise OptionError("results is empty: pass {'characteristic': result, ...}.")
    tables, hets, cons = [], [], []
    for name, obj in results.items():
        tab, res = _table_of(obj)
        tab = tab[["subgroup", "estimate", "std_error"]].reset_index(drop=True)
        est, se = tab["estimate"].to_numpy(float), tab["std_error"].to_numpy(float)
        if not (np.isfinite(est).all() and (se > 0).all()):
            raise OptionError(f"{name!r}: every subgroup needs a finite estimate and a positive "
                              f"standard error.")
        rows = [Estimate.from_se(e, s, confidence).to_dict() for e, s in zip(est, se,
                                                                            strict=True)]
        t = pd.concat([pd.DataFrame({"characteristic": name, "subgroup": tab["subgroup"]}),
                       pd.DataFrame(rows).drop(columns="confidence")], axis=1)
        t["p_holm"] = multipletests(t["p_value"], method="holm")[1]
        t["p_bh"] = multipletests(t["p_value"], method="fdr_bh")[1]
        tables.append(t)
        eq = getattr(res, "equality_test", None)
        if eq is not None:
            hets.append((name, eq.statistic, eq.df, eq.p_value, "joint Wald test"))
        else:
            wq = 1 / se**2
            pooled = np.sum(wq * est) / np.sum(wq)
            q = float(np.sum(wq * (est - pooled) ** 2))
            hets.append((name, q, len(est) - 1, float(stats.chi2.sf(q, len(est) - 1)),
                         "Cochran's Q (independent subgroups)"))
        if contrasts and name in contrasts:
            a, b = contrasts[name]
            labels = tab["subgroup"].tolist()
            for lab in (a, b):
                if lab not in labels:
                    raise OptionError(f"{name!r}: no subgroup {lab!r} (subgroups: {labels}).")
            ia, ib = labels.index(a), labels.index(b)
            diff = est[ia] - est[ib]
            sd = _joint_se(res, ia, ib)
            if sd is None:
                sd = float(np.hypot(se[ia], se[ib]))
            e = Estimate.from_se(diff, sd, confidence)
            cons.append({"characteristic": name, "contrast": f"{a} - {b}",
                         **{k: v for k, v in e.to_dict().items() if k != "confidence"}})
    het = pd.DataFrame(hets, columns=["characteristic", "statistic", "df", "p_value", "method"])
    con = pd.DataFrame(cons, columns=["characteristic", "contrast", "estimate", "std_error",
                                      "ci_lower", "ci_upper", "p_value"])
    return SubgroupSummary(pd.concat(tables, ignore_index=True), het, con)


def _joint_se(res: Any, ia: int, ib: int) -> float | None:
    """SE of a difference of two subgroup effects from a DiD subgroup result's
    differences against the first subgroup (``None`` when not available)."""
    diffs = getattr(res, "differences", None)
    if diffs is None or not isinstance(diffs, pd.DataFrame) or "std_error" not in diffs:
        return None
    if ib == 0 and ia >= 1 and len(diffs) >= ia:
        return float(diffs["std_error"].iloc[ia - 1])
    if ia == 0 and ib >= 1 and len(diffs) >= ib:
        return float(diffs["std_error"].iloc[ib - 1])
    return None


#: Options of an ``[analysis.equity]`` table in ``spimpact run`` specs.
RUN_OPTIONS = ("contrast", "confidence")


def check_run_options(options: dict[str, Any]) -> None:
    """Check an ``[analysis.equity]`` table before anything is fitted."""
    from ..results import _check_confidence

    unknown = sorted(set(options) - set(RUN_OPTIONS))
    if unknown:
        raise OptionError(f"unknown option(s) {unknown} in [analysis.equity]; use "
                          f"{list(RUN_OPTIONS)}.")
    contrast = options.get("contrast")
    if contrast is not None and not (isinstance(contrast, list) and len(contrast) == 2):
        raise OptionError(f"contrast = {contrast!r}: give two subgroups [a, b] for the "
                          f"difference a - b, e.g. contrast = [5, 1].")
    _check_confidence(options.get("confidence", 0.95))


def run_summary(result: Any, options: dict[str, Any]) -> tuple[SubgroupSummary, str]:
    """The summary an ``[analysis.equity]`` table asks for, and the characteristic's
    name (see :func:`run_extension`)."""
    check_run_options(options)
    if not hasattr(result, "equality_test") or "subgroup" not in result.estimates.columns:
        raise OptionError("[analysis.equity] needs effects by subgroup: add by = \"COLUMN\" "
                          "(a unit-level column such as deprivation quintile) to the analysis.")
    method = str(getattr(result, "method", ""))
    by = method.rsplit(" by ", 1)[1] if " by " in method else "subgroup"
    contrast = options.get("contrast")
    contrasts = None
    if contrast is not None:
        contrasts = {by: (contrast[0], contrast[1])}
    summary = subgroup_effects({by: result}, contrasts=contrasts,
                               confidence=options.get("confidence", 0.95))
    return summary, by


def run_extension(result: Any, options: dict[str, Any], section: Any, folder: Any) -> list[str]:
    """The ``[analysis.equity]`` table of ``spimpact run`` (the analysis needs
    ``by``): the subgroup effects with Holm and Benjamini-Hochberg adjusted
    p-values, the test of equal effects, and with ``contrast = [a, b]`` the
    difference ``a - b`` (e.g. most minus least deprived), from
    :func:`subgroup_effects`. Adds an "equity" part to the section and writes
    ``NAME_equity.csv`` (the table) and, with a contrast,
    ``NAME_equity_contrast.csv``."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    summary, by = run_summary(result, options)
    title = getattr(section, "title", "analysis").split(":")[0].strip() or "analysis"
    names = [f"{title}_equity.csv"]
    summary.table.to_csv(Path(folder) / names[0], index=False)
    het = summary.heterogeneity.iloc[0]
    section.text(f"Equity: effects by {by}, p-values adjusted for {len(summary.table)} "
                 f"subgroups (Holm; Benjamini-Hochberg); equal effects across subgroups: "
                 f"{het['method']} {het['statistic']:.4g} on {int(het['df'])} df, "
                 f"p = {het['p_value']:.3g}.")
    section.table(summary.table, f"Effects by {by}; in {names[0]}.")
    if not summary.contrasts.empty:
        names.append(f"{title}_equity_contrast.csv")
        summary.contrasts.to_csv(Path(folder) / names[1], index=False)
        section.table(summary.contrasts, f"Difference between subgroups; in {names[1]}.")
    fig, ax = plt.subplots(figsize=(6, 4))
    summary.plot(ax=ax)
    section.figure(fig, f"Effects by {by} with their intervals.")
    return names
