"""Which pooled effects of the Bayesian DiD to parameterise centred: where the data are strong.

A partially pooled effect ``b_k ~ N(m, sd)`` measured with standard error ``se_k``
samples best centred (``b_k`` as the parameter) when the data pin each ``b_k``
down better than the pooling does, ``se_k < sd``, and non-centred (``b_k = m + sd
z_k``) otherwise (Papaspiliopoulos, Roberts & Skold 2007, Statistical Science
22:59; Betancourt & Girolami 2015). :func:`auto_centring` estimates both sides
before sampling, by moments on the panel's residuals: ``r = y - unit mean -
period mean`` from the untreated rows (log rates for counts), whose variance
gives ``se_k^2`` (``sigma^2 / n_k`` plus the noise of the units' untreated means
the residuals were taken from); the cells' means around their event-time means
and the levels' means around their cells' give the spreads ``sd^2`` (their
variance less the mean ``se_k^2``). A group of level effects is centred when its
reliability ``sd^2 / (sd^2 + median se_k^2)`` exceeds one half. The cells share
each period with the period effects and the level deviations, which take up much
of their moment spread (on the demo rollout, a moment reliability of 0.8 met a
posterior spread of 0.01 and a centred form that funnelled), so they are centred
only above :data:`CELL_THRESHOLD`.
"""

from __future__ import annotations

import numpy as np

from ._did_design import DiDDesign

__all__ = ["auto_centring", "reliability"]


def reliability(means: np.ndarray, se2: np.ndarray) -> float:
    """``sd^2 / (sd^2 + median(se2))`` with ``sd^2`` the method-of-moments spread of
    ``means`` (group means with sampling variances ``se2``, infinite for empty groups);
    0 if there are fewer than two groups.

    Examples
    --------
    >>> round(reliability(np.array([-1.0, 1.0, -1.0, 1.0]), np.full(4, 0.01)), 4)
    0.9925
    """
    ok = np.isfinite(se2)
    if ok.sum() < 2:
        return 0.0
    m, se2 = means[ok], se2[ok]
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
    u_mean, n_pre = _group_means(d.unit[untreated], y[untreated], d.n_units)
    r0 = y - u_mean[d.unit]
    t_mean, _ = _group_means(d.time[untreated], r0[untreated], d.n_periods)
    r = r0 - t_mean[d.time]
    sigma2 = float(np.var(r[untreated])) if untreated.any() else float(np.var(r))
    n_c = len(d.est_cells)
    on = (d.post > 0) & (d.row_cell < n_c)
    if not on.any():
        return False, False
    # each post row carries its unit's untreated-mean error (variance sigma2 / n_pre)
    inv_pre = np.divide(1.0, n_pre, out=np.full(d.n_units, np.inf), where=n_pre > 0)[d.unit[on]]
    inv_pre = np.where(np.isfinite(inv_pre), inv_pre, 1.0)
    cell_mean, cell_n = _group_means(d.row_cell[on], r[on], n_c)
    cell_pre = np.bincount(d.row_cell[on], weights=inv_pre, minlength=n_c)
    cell_se2 = _se2(sigma2, cell_n, cell_pre)
    e_mean, _ = _group_means(d.e_index, cell_mean * (cell_n > 0), len(d.e_values))
    cell_rel = reliability(cell_mean - e_mean[d.e_index], cell_se2)
    level_rel = 0.0
    if d.effect_level is not None:
        _, unit_codes, labels = d.effect_level
        dev = r[on] - cell_mean[d.row_cell[on]]
        lev = unit_codes[d.unit[on]]
        lev_mean, lev_n = _group_means(lev, dev, len(labels))
        # sum over units of (unit's share of the level's rows)^2 / n_pre: each unit's rows
        # share one untreated-mean error
        u_post = np.bincount(d.unit[on], minlength=d.n_units).astype(float)
        u_lev = unit_codes
        u_inv = np.divide(1.0, n_pre, out=np.ones(d.n_units), where=n_pre > 0)
        lev_pre = np.bincount(u_lev, weights=u_post**2 * u_inv, minlength=len(labels))
        lev_se2 = _se2(sigma2, lev_n, lev_pre)
        level_rel = reliability(lev_mean, lev_se2)
    # the cells share every period with the period effects and the level deviations,
    # which take up much of their moment spread: their posterior spread is small and
    # a centred form funnels (seen on the demo rollout), so only a clearly strong
    # signal centres them
    return cell_rel > CELL_THRESHOLD, level_rel > 0.5


#: Reliability above which the cells are centred (see :func:`auto_centring`).
CELL_THRESHOLD = 0.95


def _se2(sigma2: float, n: np.ndarray, pre: np.ndarray) -> np.ndarray:
    """``sigma2 (n + pre) / n^2``: the variance of a mean of ``n`` rows whose unit-mean
    errors add ``sigma2 * pre / n^2`` (infinite for empty groups)."""
    return np.divide(sigma2 * (n + pre), n**2, out=np.full(len(n), np.inf), where=n > 0)
