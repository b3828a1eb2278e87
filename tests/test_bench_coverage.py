"""The key coverage check of the benchmark suite (runs in the default test suite).

On ``heterogeneous_dynamic`` (effects that differ by cohort and grow with
time), 200 replications: Callaway-Sant'Anna's overall ATT must be unbiased
(|bias| under 3 Monte Carlo SEs) with 95% intervals covering the realised
truth in 92%-98% of replications, while static TWFE's bias must exceed 5
Monte Carlo SEs. The truth of each replication is the simulator's realised
overall ATT (R ``did``'s "simple" aggregation of the true ATT(g,t)).
"""

from __future__ import annotations

import numpy as np
import pytest

from spimpact import bench

REPS = 200
SEED = 2024
#: Unbiased: |bias| below 3 MCSE (a false alarm about 0.3% of the time).
BIAS_MCSE_OK = 3.0
#: TWFE's known bias here must stand far out of Monte Carlo noise.
BIAS_MCSE_BAD = 5.0
#: 95% +/- about 2 MCSE of a 95% coverage over 200 replications (0.015 each).
COVERAGE_RANGE = (0.92, 0.98)


@pytest.fixture(scope="module")
def hetero_dynamic():
    return bench.run("heterogeneous_dynamic", ["callaway_santanna", "twfe"], reps=REPS,
                     random_state=SEED, n_jobs=2, progress=False)


def test_callaway_santanna_unbiased_with_nominal_coverage(hetero_dynamic):
    t = hetero_dynamic.table.set_index("estimator")
    cs = t.loc["callaway_santanna"]
    assert cs["reps"] == REPS and cs["n_failed"] == 0
    assert abs(cs["bias"]) < BIAS_MCSE_OK * cs["mcse_bias"], cs
    assert COVERAGE_RANGE[0] <= cs["coverage"] <= COVERAGE_RANGE[1], cs


def test_twfe_is_biased(hetero_dynamic):
    tw = hetero_dynamic.table.set_index("estimator").loc["twfe"]
    assert tw["reps"] == REPS
    assert abs(tw["bias"]) > BIAS_MCSE_BAD * tw["mcse_bias"], tw


def test_table_agrees_with_records(hetero_dynamic):
    """The table's measures recomputed by hand from the per-replication records."""
    rec = hetero_dynamic.records
    cs = rec[rec["estimator"] == "callaway_santanna"]
    err = cs["estimate"] - cs["truth"]
    row = hetero_dynamic.table.set_index("estimator").loc["callaway_santanna"]
    cover = np.mean((cs["ci_lower"] <= cs["truth"]) & (cs["truth"] <= cs["ci_upper"]))
    np.testing.assert_allclose(
        [row["bias"], row["rmse"], row["coverage"], row["mcse_bias"]],
        [err.mean(), np.sqrt((err**2).mean()), cover, err.std(ddof=1) / np.sqrt(REPS)],
        rtol=1e-12,
    )
    assert sorted(cs["rep"]) == list(range(REPS))
