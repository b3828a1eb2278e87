"""Cluster diagnostics of a fitted group-time result (one call from each
estimator): the clusters and comparison units behind the estimates and the
level of clustering (see :mod:`spimpact.inference_cluster`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import EstimationError
from ..inference import FactoredInfluence
from ..inference_cluster import level_warning, support_warnings
from ..inference_roles import cluster_support
from ..panel import Panel

__all__ = ["cluster_notes"]


def _coarser_levels(panel: Panel, unit_codes: np.ndarray, fine_name: str) -> list[tuple[str, Any]]:
    """Per-sample-unit codes of the panel's declared levels other than the fine one."""
    out = []
    for level in panel.levels:
        if level == fine_name or level == panel.unit:
            continue
        codes = pd.factorize(panel._df[level])[0]  # one column, no copy of the frame
        if panel.kind == "panel":
            codes = panel.unit_values(codes)
        out.append((level, np.asarray(codes)[unit_codes]))
    return out


def cluster_notes(
    panel: Panel, psi: np.ndarray | FactoredInfluence, cluster: np.ndarray | None,
    unit_group: np.ndarray, unit_codes: np.ndarray | None, cells: pd.DataFrame,
    level_psi: Any, *, control_group: str | None = None, support: pd.DataFrame | None = None,
) -> list[str]:
    """Warnings on a group-time result: cohorts resting on few clusters, a thin
    comparison group, and a clustering level finer than the shocks' level.

    ``cells`` has ``g`` (cohort position), ``gi`` (cohort index), ``post`` and
    ``reference``; ``level_psi`` (a callable returning ``(n, m)`` influence
    functions, e.g. of the event-study estimates) feeds the clustering-level test.
    ``support``: :func:`cluster_support` of ``psi`` when already computed.
    """
    n = psi.shape[0]
    notes: list[str] = []
    if support is None:
        support = cluster_support(psi, cluster, unit_group, cells["gi"].to_numpy())
    n_cl = None if cluster is None else int(np.max(cluster)) + 1
    notes += support_warnings(support, cells, lambda g: str(panel.periods[int(g)]), n,
                              n_cl, control_group=control_group)
    if level_psi is not None and panel.levels:
        codes = np.arange(n) if unit_codes is None else np.asarray(unit_codes)
        fine_name = panel.cluster if panel.cluster is not None else panel.unit
        coarser = _coarser_levels(panel, codes, fine_name)
        if coarser:
            try:
                psi_level = level_psi()
            except EstimationError:  # no post-treatment event time to test on
                psi_level = None
            msg = None if psi_level is None else level_warning(psi_level, cluster,
                                                                str(fine_name), coarser)
            if msg:
                notes.append(msg)
    return notes
