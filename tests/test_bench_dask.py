"""The table does not depend on the engine, the number of workers or the order in
which replications complete: the Dask engine on a two-worker local cluster
reproduces the local engine exactly (every column but the timings)."""

from __future__ import annotations

import pandas as pd
import pytest

from spimpact import bench

distributed = pytest.importorskip("distributed")

REPS = 6
SEED = 99
#: A small rollout so that the check is about reproducibility, not speed.
SMALL = {"n_pcns": 40, "n_icbs": 4}
#: One bootstrapped estimator: its multipliers must follow the replication seeds too.
ESTIMATORS = ["callaway_santanna", "callaway_santanna[bootstrap=49]", "twfe"]
TIMING = ["seconds"]


def _run(**engine):
    return bench.run("heterogeneous_dynamic", ESTIMATORS, reps=REPS, random_state=SEED,
                     params=SMALL, targets=["overall", "event:1"], progress=False, **engine)


@pytest.fixture(scope="module")
def local_serial():
    return _run(n_jobs=1)


def test_local_workers_do_not_change_the_table(local_serial):
    two = _run(n_jobs=2)
    pd.testing.assert_frame_equal(local_serial.table.drop(columns=TIMING),
                                  two.table.drop(columns=TIMING), check_exact=True)


@pytest.fixture(scope="module")
def cluster():
    c = distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                 processes=True, dashboard_address="127.0.0.1:0")
    yield c
    c.close()


def test_dask_two_workers_reproduce_local(local_serial, cluster):
    with distributed.Client(cluster) as client:
        dask = _run(engine="dask", client=client)
    assert dask.engine == "dask"
    pd.testing.assert_frame_equal(local_serial.table.drop(columns=TIMING),
                                  dask.table.drop(columns=TIMING), check_exact=True)
    cols = ["rep", "estimator", "target", "truth", "estimate", "std_error", "ci_lower",
            "ci_upper", "p_value", "error"]
    pd.testing.assert_frame_equal(local_serial.records[cols], dask.records[cols],
                                  check_exact=True)


def test_dask_by_scheduler_address(local_serial, cluster):
    dask = _run(engine="dask", client=cluster.scheduler_address)
    pd.testing.assert_frame_equal(local_serial.table.drop(columns=TIMING),
                                  dask.table.drop(columns=TIMING), check_exact=True)


def test_dask_without_client_starts_a_local_cluster(local_serial, monkeypatch):
    """No client: a local cluster bound to 127.0.0.1 with n_jobs workers, closed after."""
    started = []
    real = distributed.LocalCluster

    def spy(*args, **kwargs):
        started.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(distributed, "LocalCluster", spy)
    dask = _run(engine="dask", n_jobs=2)
    assert started == [{"n_workers": 2, "threads_per_worker": 1, "host": "127.0.0.1",
                        "processes": True, "dashboard_address": "127.0.0.1:0"}]
    pd.testing.assert_frame_equal(local_serial.table.drop(columns=TIMING),
                                  dask.table.drop(columns=TIMING), check_exact=True)
