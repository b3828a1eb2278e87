"""An England-like staggered rollout, written independently of ``spimpact.simulate``,
for checking the coverage of the DiD estimators' inference (``bench_inference.py``
and the slow tests in ``tests/test_inference_cluster_slow.py``).

Structure (all sizes are parameters):

* practices in PCNs of ``practices_per_pcn`` (5), PCNs in ``n_icbs`` ICBs;
* need: an ICB component plus a PCN component plus a practice component
  (regional clustering), standardised;
* adoption: first link workers from 2019Q3 (quarter position ``first_start``);
  each PCN's start is delayed by its need (needier PCNs later) and by an ICB
  delay; ``never_share`` of PCNs (default 3%) never start;
* outcome: practice effect + a need-dependent linear trend + a national quarter
  effect + ICB x quarter shocks + PCN x quarter shocks + AR(1) practice errors
  + a dynamic treatment effect ``tau(e) = effect0 + effect_slope * min(e, 8)``.

The trend that depends on need makes unconditional parallel trends fail while
parallel trends given need hold, so a DiD estimator with the need covariate is
unbiased. Shocks shared by an ICB make ICB the level to cluster on.

The truth of the "simple" aggregation is the cohort-size-weighted mean of
``tau(t - g)`` over the post-treatment cells that are estimated (R ``did``'s
``aggte(type = "simple")`` weights).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["EnglandDGP", "simulate_england", "simple_truth", "tau"]


@dataclass(frozen=True)
class EnglandDGP:
    """Parameters of the England-like rollout (defaults: a regional study)."""

    n_icbs: int = 10
    pcns_per_icb: int = 30
    practices_per_pcn: int = 5
    n_quarters: int = 16          # 2018Q1 .. 2021Q4
    first_start: int = 6          # 2019Q3
    never_share: float = 0.03
    need_delay: float = 1.5       # quarters of delay per SD of need
    icb_delay_sd: float = 1.5     # SD of the ICB's delay (quarters)
    mean_delay: float = 2.0       # mean delay after 2019Q3 (quarters, exponential part)
    need_trend: float = 0.04      # trend per quarter per SD of need
    icb_shock_sd: float = 0.12
    pcn_shock_sd: float = 0.08
    ar_rho: float = 0.5
    ar_sd: float = 0.25
    effect0: float = 0.10
    effect_slope: float = 0.02


def tau(e: np.ndarray, p: EnglandDGP) -> np.ndarray:
    """The effect at event time ``e`` (zero before the start)."""
    e = np.asarray(e, dtype=float)
    return np.where(e >= 0, p.effect0 + p.effect_slope * np.minimum(e, 8), 0.0)


def simulate_england(p: EnglandDGP, random_state: int | np.random.Generator) -> pd.DataFrame:
    """One rollout as a long frame: ``practice, pcn, icb, quarter, y, need, cohort``
    (``cohort``: quarter position of the PCN's start, ``inf`` if never)."""
    rng = np.random.default_rng(random_state)
    n_pcn = p.n_icbs * p.pcns_per_icb
    n_pr = n_pcn * p.practices_per_pcn
    T = p.n_quarters
    pcn_icb = np.repeat(np.arange(p.n_icbs), p.pcns_per_icb)
    pr_pcn = np.repeat(np.arange(n_pcn), p.practices_per_pcn)
    pr_icb = pcn_icb[pr_pcn]
    need_raw = (rng.normal(0, 0.7, p.n_icbs)[pr_icb] + rng.normal(0, 0.5, n_pcn)[pr_pcn]
                + rng.normal(0, 0.5, n_pr))
    need = (need_raw - need_raw.mean()) / need_raw.std()
    pcn_need = np.bincount(pr_pcn, weights=need) / p.practices_per_pcn
    # start: 2019Q3 + delay (need, ICB, an exponential part), in whole quarters
    delay = (p.need_delay * pcn_need + rng.normal(0, p.icb_delay_sd, p.n_icbs)[pcn_icb]
             + rng.exponential(p.mean_delay, n_pcn))
    delay = np.clip(np.round(delay), 0, None)
    start = p.first_start + delay
    never = rng.random(n_pcn) < p.never_share
    start = np.where(never | (start >= T), np.inf, start)
    cohort = start[pr_pcn]
    # outcome pieces, (n_pr, T)
    t = np.arange(T)
    alpha = rng.normal(0, 1.0, n_pr) + 0.5 * need
    trend = p.need_trend * need[:, None] * t[None, :]
    national = 0.05 * t + rng.normal(0, 0.05, T)
    icb_shock = rng.normal(0, p.icb_shock_sd, (p.n_icbs, T))[pr_icb]
    pcn_shock = rng.normal(0, p.pcn_shock_sd, (n_pcn, T))[pr_pcn]
    eps = np.empty((n_pr, T))
    eps[:, 0] = rng.normal(0, p.ar_sd / np.sqrt(1 - p.ar_rho**2), n_pr)
    innov = rng.normal(0, p.ar_sd, (n_pr, T))
    for s in range(1, T):  # AR(1) over quarters (a loop over periods, not units)
        eps[:, s] = p.ar_rho * eps[:, s - 1] + innov[:, s]
    e = t[None, :] - cohort[:, None]
    y = alpha[:, None] + trend + national[None, :] + icb_shock + pcn_shock + eps + tau(e, p)
    return pd.DataFrame({
        "practice": np.repeat(np.arange(n_pr), T),
        "pcn": np.repeat(pr_pcn, T),
        "icb": np.repeat(pr_icb, T),
        "quarter": np.tile(t, n_pr),
        "y": y.ravel(),
        "need": np.repeat(need, T),
        "cohort": np.repeat(cohort, T),
    })


def simple_truth(frame: pd.DataFrame, cells: pd.DataFrame, p: EnglandDGP) -> float:
    """True value of the simple aggregation over the estimated post cells.

    ``cells``: the group-time table of a fit (``group``, ``time``, ``estimate``),
    in quarter positions. Weights: each cohort's number of practices.
    """
    post = cells[(cells["time"] >= cells["group"]) & cells["estimate"].notna()]
    size = frame.drop_duplicates("practice")["cohort"].value_counts()
    w = post["group"].map(size).to_numpy(dtype=float)
    return float(np.sum(w * tau(post["time"] - post["group"], p)) / w.sum())
