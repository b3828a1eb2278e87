"""Which pooled effects of the Bayesian DiD to parameterise centred: where the data are strong.

A partially pooled effect ``b_k ~ N(m, sd)`` measured with standard error ``se_k``
samples best centred (``b_k`` as the parameter) when the data pin each ``b_k``
down better than the pooling does, ``se_k < sd``, and non-centred (``b_k = m + sd
z_k``) otherwise (Papaspiliopoulos, Roberts & Skold 2007, Statistical Science
22:59; Betancourt & Girolami 2015). :func:`auto_centring` estimates both sides
before sampling, by moments on the panel's residuals: ``r = y - unit mean -
period mean`` from the untreated rows (log rates for counts), whose variance
gives ``se_k^2 = sigma^2 / n_k``; the cells' means around their event-time means
and the levels' means around their cells' give the spreads ``sd^2`` (their
variance less the mean ``se_k^2``). A group is centred when its reliability
``sd^2 / (sd^2 + median se_k^2)`` exceeds one half.
"""

from __future__ import annotations

import numpy as np

from ._did_design import DiDDesign

__all__ = ["auto_centring", "reliability"]


def reliability(means: np.ndarray, n: np.ndarray, sigma2: float) -> float:
    """``sd^2 / (sd^2 + median(sigma2 / n))`` with ``sd^2`` the method-of-moments spread
    of ``means`` (group means of ``n`` rows each, noise variance ``sigma2``); 0 if
    there are fewer than two groups.

    Examples
    --------
    >>> reliability(np.array([-1.0, 1.0, -1.0, 1.0]), np.array([100, 100, 100, 100]), 1.0)
    0.9924...
    """
    ok = n > 0
    if ok.sum() < 2:
        return 0.0
    m, se2 = means[ok], sigma2 / n[ok]
    spread = max(float(np.var(m, ddof=1) - se2.mean()), 0.0)
    den = spread + float(np.median(se2))
    return spread / den if den > 0 else 0.0


def _group_means(key: np.ndarray, values: np.ndarray, n_groups: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    n = np.bincount(key, minlength=n_groups).astype(float)
    s = np.bincount(key, weights=values, minlength=n_groups)
    return np.divide(s, n, out=np.zeros(n_groups), where=n > 0), n


def auto_centring(d: DiDDesign, family: str) -> tuple[bool, bool]:
    """``(cells centred, level effects centred)`` for the design ``d``.

    Examples
    --------
    >>> from spimpact.simulate import pcn_rollout
    >>> from spimpact.bayes._did_design import build_did_design
    >>> panel = pcn_rollout(n_pcns=30, n_icbs=3, covid=False, random_state=1).panel(
    ...     "wellbeing", covariates=())
    >>> d = build_did_design(panel, "gaussian", leads=False, unit_levels=(),
    ...                      effect_level="pcn", covariates=None)
    >>> [isinstance(c, bool) for c in auto_centring(d, "gaussian")]
    [True, True]
    """
    y = np.asarray(d.y, dtype=float)
    if family != "gaussian":
        y = np.log(y + 0.5) - (0.0 if d.offset is None else d.offset)
    untreated = d.post == 0
    u_mean, _ = _group_means(d.unit[untreated], y[untreated], d.n_units)
    r0 = y - u_mean[d.unit]
    t_mean, _ = _group_means(d.time[untreated], r0[untreated], d.n_periods)
    r = r0 - t_mean[d.time]
    sigma2 = float(np.var(r[untreated])) if untreated.any() else float(np.var(r))
    n_c = len(d.est_cells)
    on = (d.post > 0) & (d.row_cell < n_c)
    if not on.any():
        return False, False
    cell_mean, cell_n = _group_means(d.row_cell[on], r[on], n_c)
    e_of_cell = d.e_index
    e_mean, _ = _group_means(e_of_cell, cell_mean * (cell_n > 0), len(d.e_values))
    cell_rel = reliability(cell_mean - e_mean[e_of_cell], cell_n, sigma2)
    level_rel = 0.0
    if d.effect_level is not None:
        _, unit_codes, labels = d.effect_level
        dev = r[on] - cell_mean[d.row_cell[on]]
        lev_mean, lev_n = _group_means(unit_codes[d.unit[on]], dev, len(labels))
        level_rel = reliability(lev_mean, lev_n, sigma2)
    return cell_rel > 0.5, level_rel > 0.5
