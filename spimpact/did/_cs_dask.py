"""Callaway & Sant'Anna on a :class:`~spimpact.dask_panel.DaskPanel`.

Without covariates every ATT(g,t) is a difference of cohort means of outcome
changes, and a unit's influence on it is linear in ``w_i (Y_it - m_gt)`` and
``w_i`` (``m_gt`` its cohort's mean of period ``t``;
:func:`~spimpact.did._cs_engine.closed_form_cells`). Two passes over the
partitions give everything the in-memory fit computes:

1. cohort-by-period weighted sums and weights (the means, the ATTs and the
   influence coefficients) and the counts behind the notes;
2. around those means, either the sums of each cluster's basis rows per
   cohort (clustered: a cluster's influence is the sum of its units') or each
   cohort's Gram matrix of the basis (units as clusters: the variance is a
   quadratic form in it).

The driver then holds one basis row per cluster and cohort (or, unclustered,
the rows of a square root of each cohort's Gram matrix), scaled so that the
influence-function variance, the cv3/cr2 cluster leverage (a cluster's share
of a role's weight) and the cohort-share terms of aggregations are those of
the units. Counts of units for the support diagnostics and the leverage come
from the first pass.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._sample import early_note, late_note, no_untreated_error, sample_cohorts, small_groups_note
from ..errors import EstimationError, OptionError, PanelError
from ..inference import FactoredInfluence
from ..inference_cluster import few_clusters_note, level_warning, small_sample, support_warnings
from ..inference_roles import cluster_support, leverage_adjusted
from ._cells import plan_cells
from ._cs_engine import closed_form_cells
from .results import GroupTimeResult, InfluenceData, aggregate_cells, assemble_group_time

__all__ = ["fit_dask"]


def _refuse(est: Any, panel: Any) -> None:
    if panel.exposure is not None:
        raise EstimationError(
            f"CallawaySantAnna models the outcome's level and would not use exposure= "
            f"({panel.exposure!r}); aggregate first (panel.aggregate(to=...)) and use "
            f"ETWFE(family='poisson'), or build the panel without exposure=."
        )
    if not panel.has_cohorts:
        raise EstimationError("CallawaySantAnna needs cohorts: build the Dask panel with cohort=.")
    cov = est.covariates
    if cov is not None and (isinstance(cov, str) or len(cov) > 0):
        raise OptionError(
            f"covariates={cov!r} on a Dask panel: its fit is without covariates. Aggregate "
            f"first (panel.aggregate(to=...)) and fit the in-memory panel with covariates."
        )
    if est.bootstrap is not None:
        raise OptionError(
            "bootstrap= on a Dask panel: the multiplier bootstrap draws every unit's "
            "influence function, which stays on the workers; use bootstrap=None (analytic "
            "standard errors with the inference= correction)."
        )
    if est.weights_at == "varying":
        raise OptionError("weights_at='varying' on a Dask panel: weights must be constant "
                          "within units there (the default weights_at='pair_start').")


# ----------------------------------------------------------------- pass 1
def _wide(p: Any, values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=float).reshape(p.n_units, p.n_periods)


def _pass1(part: pd.DataFrame, where: str, roles: dict, anticipation: int) -> dict | None:
    from ..dask_panel import partition_panel

    if len(part) == 0:
        return None
    p = partition_panel(part, where, roles)
    T = p.n_periods
    if len(p._dropped):
        raise PanelError(
            f"in {where}: {len(p._dropped)} rows have a missing "
            f"outcome {p.outcome!r}. Fits of Dask panels need a balanced panel: drop those "
            f"rows and the units left incomplete, or aggregate first."
        )
    if not p.is_balanced:
        count = np.bincount(p.unit_codes, minlength=p.n_units)
        u = p.units[int(np.flatnonzero(count < T)[0])]
        raise PanelError(
            f"in {where}: unit {p.unit}={u!s} is not observed in "
            f"every one of the partition's {T} periods. Fits of Dask panels need a balanced "
            f"panel: keep units observed in every period (or fit in memory)."
        )
    cohort, early, late = sample_cohorts(p.unit_cohort_codes, T, anticipation)
    keep = ~early
    W = _wide(p, p.w)
    if not (W == W[:, :1]).all():
        bad = int(np.flatnonzero(~(W == W[:, :1]).all(axis=1))[0])
        raise PanelError(
            f"in {where}: weights {p.weights!r} change over time "
            f"within unit {p.unit}={p.units[bad]!s}; a Dask panel needs each unit's weight "
            f"constant (fit in memory to choose weights_at=)."
        )
    uw = W[keep, 0]
    pos = cohort[keep]
    block = np.where(np.isfinite(pos), pos, T).astype(np.intp)
    Y = _wide(p, p.y)[keep]
    S = np.stack([np.bincount(block, weights=uw * Y[:, t], minlength=T + 1)
                  for t in range(T)], axis=1)
    late_value = None
    if late.any():
        first = int(np.flatnonzero(late)[0])
        late_value = p._df[p.cohort].iloc[first * T]
    out = {
        "periods": p.periods, "T": T,
        "units": np.bincount(block, minlength=T + 1),
        "nonzero": np.bincount(block[uw != 0], minlength=T + 1),
        "W": np.bincount(block, weights=uw, minlength=T + 1), "S": S,
        "early": int(early.sum()), "late": int(late.sum()), "late_value": late_value,
        "w_min": float(uw.min()) if len(uw) else np.inf,
        "w_max": float(uw.max()) if len(uw) else -np.inf,
        "notes": list(p.notes), "clusters": None,
    }
    if p.cluster is not None:
        labels = p._clusters[np.asarray(p.unit_values(p.cluster_codes))[keep]]
        out["clusters"] = pd.Index(pd.unique(np.asarray(labels)))
        others = [lv for lv in p.levels if lv not in (p.cluster, p.unit)]
        if others:  # each cluster's labels at the other declared levels (level test)
            out["levels"] = p._df[[p.cluster, *others]].drop_duplicates()
    return out


def _merge1(a: dict | None, b: dict | None) -> dict | None:
    if a is None or b is None:
        return a if b is None else b
    if not a["periods"].equals(b["periods"]):
        raise PanelError(
            f"the partitions of the Dask frame do not share their periods ({len(a['periods'])} "
            f"and {len(b['periods'])} periods, e.g. {list(a['periods'][:3])} and "
            f"{list(b['periods'][:3])}): fits of Dask panels need a balanced panel, every unit "
            f"observed in every period."
        )
    out = dict(a)
    for k in ("units", "nonzero", "W", "S", "early", "late"):
        out[k] = a[k] + b[k]
    out["late_value"] = a["late_value"] if a["late_value"] is not None else b["late_value"]
    out["w_min"], out["w_max"] = min(a["w_min"], b["w_min"]), max(a["w_max"], b["w_max"])
    out["notes"] = list(dict.fromkeys([*a["notes"], *b["notes"]]))
    if a["clusters"] is not None:
        out["clusters"] = a["clusters"].append(b["clusters"]).unique()
    if "levels" in a or "levels" in b:
        out["levels"] = pd.concat([x["levels"] for x in (a, b) if "levels" in x]
                                  ).drop_duplicates()
    return out


# ----------------------------------------------------------------- pass 2
def _pass2(part: pd.DataFrame, where: str, roles: dict, anticipation: int, mean: np.ndarray,
           clusters: pd.Index | None) -> dict | None:
    """Around the cohort means ``mean`` ``(T + 1, T)``: per (cluster, cohort
    block) sums of the basis ``[w (Y - m), w]`` and counts of units with
    nonzero weight, or (unclustered) each block's Gram matrix of the basis."""
    from ..dask_panel import partition_panel

    if len(part) == 0:
        return None
    p = partition_panel(part, where, roles)
    T = p.n_periods
    cohort, early, _ = sample_cohorts(p.unit_cohort_codes, T, anticipation)
    keep = ~early
    uw = _wide(p, p.w)[keep, 0]
    pos = cohort[keep]
    block = np.where(np.isfinite(pos), pos, T).astype(np.intp)
    basis = np.empty((len(uw), T + 1))
    basis[:, :T] = _wide(p, p.y)[keep]
    basis[:, :T] -= mean[block]
    basis[:, :T] *= uw[:, None]
    basis[:, T] = uw
    if clusters is None:
        gram = np.zeros((T + 1, T + 1, T + 1))
        for b in np.unique(block):
            v = basis[block == b]
            gram[b] = v.T @ v
        return {"gram": gram}
    cl = clusters.get_indexer(p._clusters[np.asarray(p.unit_values(p.cluster_codes))[keep]])
    key = cl.astype(np.int64) * (T + 1) + block
    keys, inv = np.unique(key, return_inverse=True)
    sums = np.stack([np.bincount(inv, weights=basis[:, c], minlength=len(keys))
                     for c in range(T + 1)]
                    + [np.bincount(inv, weights=(uw != 0).astype(float), minlength=len(keys)),
                       np.bincount(inv, minlength=len(keys)).astype(float)], axis=1)
    return {"keys": keys, "sums": sums}


def _merge2(a: dict | None, b: dict | None) -> dict | None:
    if a is None or b is None:
        return a if b is None else b
    if "gram" in a:
        return {"gram": a["gram"] + b["gram"]}
    keys, inv = np.unique(np.r_[a["keys"], b["keys"]], return_inverse=True)
    both = np.r_[a["sums"], b["sums"]]
    sums = np.stack([np.bincount(inv, weights=both[:, c], minlength=len(keys))
                     for c in range(both.shape[1])], axis=1)
    return {"keys": keys, "sums": sums}


# ------------------------------------------------------------------ fit
def fit_dask(est: Any, panel: Any) -> GroupTimeResult:
    """Fit ``est`` (a :class:`CallawaySantAnna`) on a Dask panel."""
    _refuse(est, panel)
    a = int(est.anticipation)
    s1 = panel.map_reduce(_pass1, _merge1, a)
    if s1 is None:
        raise PanelError("the Dask frame has no rows; a Panel needs at least one observation.")
    periods, T = s1["periods"], s1["T"]
    notes = list(s1["notes"])
    n = int(s1["units"].sum())
    if n == 0:
        raise no_untreated_error(periods[0], a)
    if s1["early"]:
        notes.append(early_note(s1["early"], s1["early"] * T, periods[0], a))
    if s1["late"]:
        notes.append(late_note(s1["late"], "units", periods[-1], panel.cohort,
                               s1["late_value"]))
    units = s1["units"]
    groups = np.flatnonzero(units[:T] > 0)
    G = len(groups)
    if est.control_group == "never_treated" and units[T] == 0:
        raise EstimationError(
            "control_group='never_treated' but no unit is untreated throughout the data; "
            "use control_group='not_yet_treated'.")
    blocks = np.r_[groups, T]  # cohort positions of the blocks, never treated last
    S, Wg = s1["S"][blocks], s1["W"][blocks]
    mean_pos = np.divide(s1["S"], s1["W"][:, None], out=np.zeros_like(s1["S"]),
                         where=s1["W"][:, None] > 0)
    small = small_groups_note(["never treated"] + [str(periods[g]) for g in groups],
                              np.r_[units[T], units[groups]])
    if small:
        notes.append(small)
    clustered = panel.cluster is not None
    n_cl = None
    cluster_labels = None
    if clustered:
        cluster_labels = pd.Index(s1["clusters"]).sort_values()
        n_cl = len(cluster_labels)
    equal_w = s1["w_min"] == s1["w_max"]
    ss = small_sample(est.inference, n_cl, n)
    if not clustered and ss.adjusts_leverage and not equal_w:
        raise OptionError(
            f"inference={est.inference!r} on a Dask panel with unequal weights "
            f"({panel.weights!r}) needs cluster=: each unit's leverage would need its own "
            f"influence function. Build the panel with cluster= (e.g. the practice), or use "
            f"inference='cluster_t'.")
    msg = few_clusters_note(est.inference, n_cl, panel.cluster)
    if msg:
        notes.append(msg)
    plan, dropped = plan_cells(groups, T, est.base_period, a)
    if dropped:
        notes.append(f"cohort(s) {[str(periods[g]) for g in dropped]} have no pre-treatment "
                     f"period (given anticipation={a}) and were left out.")
    if len(plan) == 0:
        raise EstimationError(
            "no group-time effect can be estimated: every cohort lacks a pre-treatment "
            "period or a comparison group.")
    labels = [f"group {periods[g]}, time {periods[t]}" for g, t in zip(plan.g, plan.t,
                                                                      strict=True)]
    att, coef, msgs = closed_form_cells(S, Wg, groups, n, plan, est.control_group, a, labels)
    notes += msgs
    s2 = panel.map_reduce(_pass2, _merge2, a, mean_pos, cluster_labels)
    psi, p_cluster, p_group, p_w, block_units = _pseudo_rows(s2, blocks, T, G, coef, n, n_cl)
    if block_units is None:  # unclustered: units with nonzero weight per cohort block
        block_units = s1["nonzero"][blocks].astype(float)
    gi_of = {g: i for i, g in enumerate(groups)}
    cells = pd.DataFrame({"g": plan.g, "t": plan.t, "base": plan.base, "post": plan.post,
                          "reference": plan.reference, "gi": [gi_of[g] for g in plan.g]})
    cells["pg"] = (Wg[:G] / n)[cells["gi"].to_numpy()]
    gi = cells["gi"].to_numpy()
    support = cluster_support(psi, p_cluster, p_group, gi, block_units=block_units)
    if ss.adjusts_leverage:
        psi = leverage_adjusted(psi, p_cluster, p_group, p_w if clustered else np.ones(len(p_w)),
                                gi, ss.kind, block_units=None if clustered else block_units)
    inf = InfluenceData(psi, p_cluster, p_group, p_w, None, small_sample=ss, n_independent=n)
    method = (f"Callaway-Sant'Anna ({est.method}, {est.control_group.replace('_', ' ')} "
              f"controls, {est.base_period} base period"
              + (f", anticipation {a}" if a else "") + "; Dask panel)")
    parts = assemble_group_time(cells, att, inf, periods, confidence=est.confidence, notes=notes,
                                info={"bootstrap": "none (analytic SEs)",
                                      "inference": ss.describe(),
                                      "partitions": panel.n_partitions})
    parts["warnings"] = list(dict.fromkeys([*parts["warnings"], *support_warnings(
        support, cells, lambda g: str(periods[int(g)]), n, n_cl,
        control_group=est.control_group)]))
    others = [lv for lv in panel.levels if lv not in (panel.cluster, panel.unit)]
    if others and clustered:
        msg = _level_test(s1.get("levels"), others, cluster_labels, p_cluster, panel,
                          lambda: aggregate_cells(cells, att, inf, periods, est.confidence,
                                                  "event").psi)
        if msg:
            parts["warnings"].append(msg)
    elif others:  # units as clusters: the test needs each unit's influence function
        parts["warnings"].append(
            f"the test of the clustering level against levels={list(panel.levels)} was not "
            f"run: without cluster= it needs each unit's influence function, which stays on "
            f"the workers of a Dask panel. Build the panel with cluster= (e.g. the practice) "
            f"to run it.")
    return GroupTimeResult(base_method=method, method=method, n_obs=n * T, n_units=n,
                           n_clusters=n_cl, **parts)


def _level_test(levels: pd.DataFrame | None, others: list[str], cluster_labels: pd.Index,
                p_cluster: np.ndarray, panel: Any, level_psi: Any) -> str | None:
    """The in-memory fit's clustering-level warning (:func:`level_warning`),
    from the rows of clusters: the test uses sums within the fine clusters,
    and each coarser level's code of a cluster (levels that are not constant
    within clusters are skipped, as the in-memory test skips them)."""
    if levels is None:
        return None
    coarser = []
    for lv in others:
        pairs = levels[[panel.cluster, lv]].drop_duplicates()
        if pairs[panel.cluster].duplicated().any():
            continue  # not nested in the clusters: the in-memory test skips it too
        code_of = pd.Series(pd.factorize(pairs[lv])[0], index=pairs[panel.cluster].to_numpy())
        per_cluster = code_of.reindex(cluster_labels).to_numpy()
        coarser.append((lv, per_cluster[p_cluster]))
    if not coarser:
        return None
    try:
        psi_level = level_psi()
    except EstimationError:  # no post-treatment event time to test on
        return None
    return level_warning(psi_level, p_cluster, str(panel.cluster), coarser)


def _pseudo_rows(s2: dict, blocks: np.ndarray, T: int, G: int, coef: np.ndarray, n: int,
                 n_cl: int | None) -> tuple:
    """The factored influence functions on driver-sized rows (see the module
    text), with each row's cluster, cohort index and weight, and the units
    with nonzero weight per (cluster,) block."""
    width = T + 1
    pos_to_block = np.full(T + 1, -1, dtype=np.intp)
    pos_to_block[blocks] = np.arange(G + 1)
    group_of_block = np.r_[np.arange(G), -1]
    if n_cl is None:
        rows, counts = [], np.zeros(G + 1, dtype=np.intp)
        for h, p in enumerate(blocks):
            lam, vec = np.linalg.eigh(s2["gram"][p])
            lam = np.clip(lam, 0.0, None)
            rows.append((vec * np.sqrt(lam)).T)  # rows r with sum r r' = the Gram matrix
            counts[h] = width
        vals = np.concatenate(rows)
        r = len(vals) / n
        vals *= r
        group = np.repeat(group_of_block, width)
        psi = FactoredInfluence.from_block_order(np.arange(len(vals)), counts, vals, coef,
                                                 weight_col=T)
        return psi, None, group, np.ones(len(vals)), None
    keys, sums = s2["keys"], s2["sums"]
    cl, pos = keys // (T + 1), keys % (T + 1)
    block = pos_to_block[pos]
    order = np.lexsort((cl, block))  # blocks in cohort order, clusters within
    cl, block, sums = cl[order], block[order], sums[order]
    vals = np.ascontiguousarray(sums[:, :width])
    r = len(vals) / n
    vals *= r
    counts = np.bincount(block, minlength=G + 1)
    psi = FactoredInfluence.from_block_order(np.arange(len(vals)), counts, vals, coef,
                                             weight_col=T)
    block_units = np.zeros((n_cl, G + 1))
    np.add.at(block_units, (cl, block), sums[:, width])
    return psi, cl, group_of_block[block], vals[:, T].copy(), block_units
