"""Synthetic non-binary, non-absorbing panel for the DID_l tests: ``dcdh_sim.csv``.

240 groups over 9 years with baselines 0-3; treatments that rise, fall, rise
then partly fall back, rise twice, or go both above and below the baseline;
about 4% of rows absent and 4% of outcomes missing; a cluster ``cl`` and a
weight ``w``.
"""
from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(20240611)
G, T = 240, 9
rows = []
for g in range(G):
    base = rng.choice([0, 1, 2, 3], p=[0.45, 0.3, 0.2, 0.05])
    kind = rng.choice(["never", "up", "down", "updown", "bidir", "multi"], p=[0.3, 0.25, 0.2, 0.1, 0.05, 0.1])
    F = rng.integers(2, T + 1)  # first switch period (1-based)
    d = np.full(T, float(base))
    if kind == "up":
        d[F - 1:] = base + rng.choice([1, 2, 0.5])
    elif kind == "down" and base > 0:
        d[F - 1:] = base - rng.choice([1, 0.5])
    elif kind == "updown":
        d[F - 1:] = base + 2
        d[min(F + 1, T):] = base + 1
    elif kind == "bidir" and base > 0:
        d[F - 1:] = base + 1
        d[min(F + 1, T):] = base - 1
    elif kind == "multi":
        d[F - 1:] = base + 1
        d[min(F + 2, T):] = base + 3
    cl = g % 37
    w = rng.uniform(0.5, 2.0)
    alpha = rng.normal()
    for t in range(1, T + 1):
        y = alpha + 0.3 * t + 0.8 * (d[t - 1] - base) + 0.2 * (t >= F) * (d[t - 1] != base) + rng.normal(0, 1)
        rows.append((g, 2000 + t, y, d[t - 1], cl, w, kind))
df = pd.DataFrame(rows, columns=["g", "year", "y", "d", "cl", "w", "kind"])
# unbalanced: drop some rows; missing outcomes in others
drop = rng.random(len(df)) < 0.04
df = df.loc[~drop].reset_index(drop=True)
miss = rng.random(len(df)) < 0.04
df.loc[miss, "y"] = np.nan
df.to_csv(Path(__file__).with_name("dcdh_sim.csv"), index=False, float_format="%.10g")
# print(df.shape, df["d"].value_counts().to_dict())
