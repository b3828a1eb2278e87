"""Speed of optimal and full matching and of entropy balancing.

One run of each whole fit (logit, matching, effect, balance table) on 5,000
treated and 50,000 controls: one covariate shifted by half a standard
deviation between the groups and one noise covariate. The numbers are quoted
in docs/guide/matching.md ("Speed").

Run: ``python benchmarks/bench_matching_optimal.py``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from spimpact import Panel
from spimpact.matching import EntropyBalancing, PropensityScoreMatching

N_TREATED, N_CONTROLS = 5_000, 50_000


def main() -> None:
    rng = np.random.default_rng(0)
    n = N_TREATED + N_CONTROLS
    x = np.r_[rng.normal(0.5, 1, N_TREATED), rng.normal(0, 1, N_CONTROLS)]
    d = np.r_[np.ones(N_TREATED, int), np.zeros(N_CONTROLS, int)]
    df = pd.DataFrame({"x": x, "z": rng.normal(size=n), "d": d,
                       "y": x + d + rng.normal(size=n)})
    panel = Panel(df, outcome="y", treatment="d", covariates=["x", "z"])
    estimators = {
        "nearest 1:1, caliper 0.2": PropensityScoreMatching(),
        "full, caliper 0.2": PropensityScoreMatching(method="full"),
        "full, no caliper": PropensityScoreMatching(method="full", caliper=None),
        "entropy balancing": EntropyBalancing(),
        "optimal 1:1, caliper 0.2": PropensityScoreMatching(method="optimal"),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, est in estimators.items():
            start = time.perf_counter()
            est.fit(panel)
            print(f"{name:28s} {time.perf_counter() - start:6.2f} s", flush=True)


if __name__ == "__main__":
    main()
