"""Link-worker provision against need in the simulated England.

:func:`link_worker_provision` adds, to a simulated rollout's PCNs, a measure
of need for support taken before the rollout (calibrated to the 2019 GP
Patient Survey item on support from local services: the share of patients
reporting too little, in percentage points, higher where deprivation is
higher) and quarterly link-worker FTE per 10,000 patients from April 2020.
Provision grows over the rollout; it is unrelated to need at first and, from
July 2022, falls with need, reaching ``final_slope`` FTE per 10,000 per point
of need by October 2023 (Wilding et al. 2024, BJGP: 0.035 fewer FTE per
10,000 for a 10-point higher need). Its own random stream leaves the rollout's
data unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import RandomState, streams
from .rollout import SimulatedRollout

__all__ = ["link_worker_provision"]


def link_worker_provision(
    sim: SimulatedRollout,
    *,
    start: str = "2020Q2",
    end: str = "2023Q4",
    final_slope: float = -0.0035,
    turn: str = "2022Q3",
    mean_fte: float = 0.9,
    random_state: RandomState = None,
) -> pd.DataFrame:
    """PCN-quarter link-worker provision and pre-rollout need.

    Parameters
    ----------
    sim : SimulatedRollout
        From :func:`spimpact.simulate.pcn_rollout` (its PCNs, ICBs, list sizes
        and deprivation are used).
    start, end : str
        First and last quarter.
    final_slope : float
        Slope of FTE per 10,000 on need (per point) in the last quarter; the
        slope is zero up to the quarter before ``turn`` and moves linearly to
        ``final_slope`` from ``turn`` on.
    mean_fte : float
        Average FTE per 10,000 patients once the rollout has matured.
    random_state : int, Generator or None

    Returns
    -------
    DataFrame
        ``pcn, icb, quarter, list_size, imd_score, need_for_support,
        fte_per_10k, true_slope``.

    Examples
    --------
    >>> from spimpact.simulate import pcn_rollout
    >>> d = link_worker_provision(pcn_rollout(n_pcns=30, n_icbs=3, random_state=1),
    ...                           random_state=2)
    >>> str(d["quarter"].iloc[0]), str(d["quarter"].iloc[-1])
    ('2020Q2', '2023Q4')
    """
    rng = streams(random_state, ("need", "level", "noise"))
    data = sim.data
    first = data["quarter"] == data["quarter"].min()
    prac = data.loc[first, ["pcn", "icb", "list_size", "imd_score"]]
    w = prac["list_size"].to_numpy(float)
    g = prac.assign(_wi=prac["imd_score"] * w).groupby("pcn", sort=True)
    pcn = g.agg(icb=("icb", "first"), list_size=("list_size", "sum"), _wi=("_wi", "sum"))
    pcn["imd_score"] = pcn.pop("_wi") / pcn["list_size"]
    n = len(pcn)
    need = 40 + 0.45 * (pcn["imd_score"].to_numpy() - 20) + rng["need"].normal(0, 5, n)
    pcn["need_for_support"] = np.clip(need, 5, 95)
    quarters = pd.period_range(start, end, freq="Q")
    T = len(quarters)
    t = np.arange(T)
    level = mean_fte * (1 - np.exp(-(t + 1) / 4.0))
    tpos = int((quarters == pd.Period(turn, freq="Q")).argmax()) if pd.Period(
        turn, freq="Q") in quarters else T
    slope = np.where(t < tpos, 0.0, final_slope * (t - tpos + 1) / max(T - tpos, 1))
    u = rng["level"].normal(0, 0.15, n)
    centred = pcn["need_for_support"].to_numpy() - pcn["need_for_support"].mean()
    fte = (level[None, :] * (1 + u[:, None] / mean_fte) + slope[None, :] * centred[:, None]
           + rng["noise"].normal(0, 0.05, (n, T)))
    out = pd.DataFrame({
        "pcn": np.repeat(pcn.index.to_numpy(), T),
        "icb": np.repeat(pcn["icb"].to_numpy(), T),
        "quarter": np.tile(quarters, n),
        "list_size": np.repeat(pcn["list_size"].to_numpy(), T),
        "imd_score": np.repeat(pcn["imd_score"].to_numpy(), T),
        "need_for_support": np.repeat(pcn["need_for_support"].to_numpy(), T),
        "fte_per_10k": np.maximum(fte, 0.0).reshape(-1),
        "true_slope": np.tile(slope, n),
    })
    return out
