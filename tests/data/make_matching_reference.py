"""Regenerate the matching reference files of tests/test_matching_reference.py.

Runs in a separate environment with the peer package pymatchit-causal (a
Python port of R's MatchIt; greedy matching on a full distance matrix):

    python3 -m venv /tmp/venv-peers
    /tmp/venv-peers/bin/pip install pymatchit-causal==0.6.1
    /tmp/venv-peers/bin/python tests/data/make_matching_reference.py

Writes ``matching_sim.csv`` (a simulated cross-section with continuous
covariates, so no ties in the propensity score) and
``matching_pymatchit.csv`` (the matched pairs of several nearest-neighbour
configurations, one row per pair, and pymatchit's linear-logit distance).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from pymatchit import MatchIt

HERE = Path(__file__).parent
FORMULA = "d ~ x1 + x2 + x3 + x4"
CONFIGS = [  # name, ratio, replace, caliper (pooled SDs of the logit) or None, order, estimand
    ("r1_norep_nocal_largest", 1, False, None, "largest", "ATT"),
    ("r1_norep_cal02_largest", 1, False, 0.2, "largest", "ATT"),
    ("r2_norep_cal02_largest", 2, False, 0.2, "largest", "ATT"),
    ("r1_norep_cal01_smallest", 1, False, 0.1, "smallest", "ATT"),
    ("r1_rep_nocal", 1, True, None, "largest", "ATT"),
    ("r3_rep_cal02", 3, True, 0.2, "largest", "ATT"),
    ("r1_norep_cal02_exact", 1, False, 0.2, "largest", "ATT"),
    ("atc_r1_norep_cal02_smallest", 1, False, 0.2, "smallest", "ATC"),
]


def simulate(n: int = 800, seed: int = 20240601) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    x3 = rng.uniform(0, 2, size=n)
    x4 = (rng.random(n) < 0.4).astype(int)
    lin = -1.3 + 0.8 * x1 - 0.5 * x2 + 0.4 * x3 + 0.6 * x4
    d = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
    y = 1 + 1.5 * d + x1 + 0.5 * x2 + 0.3 * x3 + x4 + rng.normal(size=n)
    stratum = np.where(x4 == 1, "b", "a")
    return pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "x4": x4, "stratum": stratum,
                         "d": d, "y": y})


def main() -> None:
    df = simulate()
    df.to_csv(HERE / "matching_sim.csv", index=False, float_format="%.17g")
    rows = []
    for name, ratio, replace, caliper, order, estimand in CONFIGS:
        kwargs = {"exact": ["stratum"]} if name.endswith("exact") else {}
        probe = MatchIt(df.copy(), method="nearest", distance="glm", link="linear.logit")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probe.fit(FORMULA)
        dist = probe.distance_measure.to_numpy()
        cal = None
        if caliper is not None:  # pooled SD (Austin 2011) converted to pymatchit's full-sample SD
            pooled = np.sqrt((dist[df.d == 1].var(ddof=1) + dist[df.d == 0].var(ddof=1)) / 2)
            cal = caliper * pooled / pd.Series(dist).std()
        m = MatchIt(df.copy(), method="nearest", distance="glm", link="linear.logit",
                    replace=replace, ratio=ratio, caliper=cal, m_order=order,
                    estimand=estimand, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.fit(FORMULA)
        pairs = m.matches(format="long")
        focal_col = "treated_index" if estimand == "ATT" else "control_index"
        other_col = "control_index" if estimand == "ATT" else "treated_index"
        for f, o in zip(pairs[focal_col], pairs[other_col], strict=True):
            rows.append({"config": name, "focal": int(f), "match": int(o)})
    out = pd.DataFrame(rows)
    out.to_csv(HERE / "matching_pymatchit.csv", index=False)
    pd.DataFrame({"distance": dist}).to_csv(HERE / "matching_pymatchit_distance.csv",
                                            index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
