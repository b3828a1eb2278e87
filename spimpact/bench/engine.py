"""Running replications: seeds, the local (joblib) engine and the Dask engine.

Every replication's randomness comes from one :class:`numpy.random.SeedSequence`:
replication ``r`` simulates its data with the child ``(r, 0)`` of the root
sequence and each estimator that takes a ``random_state`` (bootstraps,
samplers) gets the child ``(r, 1, crc32(label))``. Replications are computed in
chunks, in any order, on any number of workers, and the records are sorted by
replication before anything is summarised: the table is the same whatever the
engine, the number of workers or the order of completion (only the timing
column differs), provided each estimator is deterministic given its data and
``random_state`` (every estimator of this package is). BLAS runs single-threaded inside a replication so that
floating-point sums do not depend on the machine's thread count either.
"""

from __future__ import annotations

import copy
import math
import os
import sys
import time
import warnings
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._estimator import Estimator
from ..errors import DependencyError, OptionError
from ._targets import estimate_for, parse_target
from .scenarios import Scenario, get_scenario

__all__ = ["run", "root_seed", "replication_seed", "Job", "execute", "run_chunk", "RECORD_COLUMNS"]

Engine = Literal["local", "dask"]

#: Columns of the per-replication records.
RECORD_COLUMNS = ("job", "rep", "estimator", "target", "truth", "estimate", "std_error",
                  "ci_lower", "ci_upper", "p_value", "confidence", "seconds", "sim_seconds", "error", "warnings")


def root_seed(random_state: Any) -> np.random.SeedSequence:
    """The root :class:`~numpy.random.SeedSequence` of a benchmark.

    An int (or a SeedSequence) gives the same replications every time; a
    Generator draws the root entropy; ``None`` takes fresh entropy (kept on the
    result as ``random_state`` so the run can be repeated).

    Examples
    --------
    >>> root_seed(5).entropy
    5
    """
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if random_state is None:
        return np.random.SeedSequence()
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise OptionError(f"random_state must be a non-negative int, not {random_state!r}.")
        return np.random.SeedSequence(int(random_state))
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(2**63)))
    raise OptionError(f"random_state must be an int, a numpy Generator, a SeedSequence or None, "
                      f"not {type(random_state).__name__}.")


def replication_seed(root: np.random.SeedSequence, *path: int) -> np.random.SeedSequence:
    """The child of ``root`` at ``path`` (e.g. ``(rep, 0)``), independent of spawn order.

    Examples
    --------
    >>> a = replication_seed(np.random.SeedSequence(1), 3, 0).generate_state(1)
    >>> b = replication_seed(np.random.SeedSequence(1), 3, 0).generate_state(1)
    >>> bool((a == b).all())
    True
    """
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, *path))


def _label_key(label: str) -> int:
    return zlib.crc32(label.encode("utf-8"))


@dataclass(frozen=True)
class Job:
    """A scenario, its estimators and targets, and the root seed of its replications."""

    scenario: Scenario
    estimators: tuple[tuple[str, Any], ...]
    targets: tuple[str, ...]
    root: np.random.SeedSequence
    errors: str = "record"


@contextmanager
def _single_thread_blas() -> Iterator[None]:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn installs it
        yield
        return
    with threadpool_limits(limits=1):
        yield


def _fit_one(label: str, est: Any, panel: Any, targets: tuple[str, ...], truth: dict, seed: Any,
             errors: str, data_notes: list[str]) -> list[dict[str, Any]]:
    """Fit one estimator on one replication; one record per target."""
    if hasattr(est, "random_state"):
        rng = np.random.default_rng(seed)
        if isinstance(est, Estimator):  # the package's estimators: a fresh copy of the settings
            from sklearn.base import clone

            est = clone(est).set_params(random_state=rng)
        else:  # any object with fit(panel)
            est = copy.copy(est)
            est.random_state = rng
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = est.fit(panel)
            fit_error = None
        except Exception as exc:  # recorded as a failed replication (errors="record")
            if errors == "raise":
                raise
            result, fit_error = None, f"{type(exc).__name__}: {exc}"
        cache: dict[str, Any] = {}
        for t in targets:  # a handful of targets
            row = {"estimator": label, "target": t, "truth": truth[t], "error": fit_error}
            if result is not None:
                try:
                    e = estimate_for(result, parse_target(t), cache)
                    row.update(estimate=e.estimate, std_error=e.std_error, ci_lower=e.ci_lower,
                               ci_upper=e.ci_upper, p_value=e.p_value, confidence=e.confidence)
                except Exception as exc:  # the result lacks this target
                    if errors == "raise":
                        raise
                    row["error"] = f"{type(exc).__name__}: {exc}"
            if row["error"] is None and not np.isfinite(truth[t]):
                row["error"] = "the simulation has no truth for this target in this replication"
            rows.append(row)
    seconds = time.perf_counter() - t0
    notes = data_notes + list(getattr(result, "warnings", ()) or ())
    notes += [str(w.message) for w in caught]
    joined = " | ".join(dict.fromkeys(notes)) or None
    for r in rows:
        r["seconds"], r["warnings"] = seconds, joined
    return rows


def run_chunk(job: Job, reps: Sequence[int], job_index: int = 0) -> pd.DataFrame:
    """Run replications ``reps`` of ``job``: the records, one per replication,
    estimator and target (columns :data:`RECORD_COLUMNS`)."""
    rows: list[dict[str, Any]] = []
    with _single_thread_blas():
        for r in reps:  # replications of this chunk
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                rep = job.scenario.replicate(replication_seed(job.root, r, 0), job.targets)
            data_notes = [f"data: {w.message}" for w in caught]
            for label, est in job.estimators:  # a handful of estimators
                seed = replication_seed(job.root, r, 1, _label_key(label))
                for row in _fit_one(label, est, rep.panel, job.targets, rep.truth, seed,
                                    job.errors, data_notes):
                    rows.append({"job": job_index, "rep": r, "sim_seconds": rep.seconds, **row})
    out = pd.DataFrame(rows)
    for c in RECORD_COLUMNS:
        if c not in out.columns:
            out[c] = np.nan
    return out.loc[:, list(RECORD_COLUMNS)]


# ----------------------------------------------------------------------- engines
def _chunks(n_reps: int, size: int) -> list[range]:
    return [range(i, min(i + size, n_reps)) for i in range(0, n_reps, size)]


def _n_workers(n_jobs: int | None) -> int:
    cpus = os.cpu_count() or 1
    if n_jobs is None or n_jobs == -1:
        return cpus
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 \
            or n_jobs < -1:
        raise OptionError(f"n_jobs must be a positive int, -1 or None (all CPUs), not {n_jobs!r}.")
    return int(n_jobs)


def _progress(show: bool | None, total: int, what: str) -> Any:
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    prog = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                    transient=False)
    prog.add_task(what, total=total)
    return prog


def _advance(prog: Any, n: int) -> None:
    if prog is not None:
        prog.advance(prog.task_ids[0], n)


def _local(tasks: list[tuple[int, range]], jobs: list[Job], n_workers: int, prog: Any) -> Iterator:
    if n_workers == 1:
        for j, block in tasks:  # in this process
            yield run_chunk(jobs[j], block, j)
        return
    from joblib import Parallel, delayed

    par = Parallel(n_jobs=n_workers, backend="loky", return_as="generator_unordered")
    yield from par(delayed(run_chunk)(jobs[j], block, j) for j, block in tasks)


@contextmanager
def _dask_client(client: Any, n_workers: int) -> Iterator[Any]:
    try:
        import distributed
    except ImportError as exc:
        raise DependencyError("the Dask engine needs dask.distributed: pip install "
                              "'spimpact[dask]'.") from exc
    if isinstance(client, distributed.Client):
        yield client
        return
    if isinstance(client, str):
        with distributed.Client(client) as c:
            yield c
        return
    if client is not None:
        raise OptionError(f"client must be a dask.distributed Client, a scheduler address such "
                          f"as 'tcp://host:8786', or None; not {type(client).__name__}.")
    with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, host="127.0.0.1",
                                  processes=True, dashboard_address="127.0.0.1:0") as cluster, \
            distributed.Client(cluster) as c:
        yield c


def _dask(tasks: list[tuple[int, range]], jobs: list[Job], client: Any) -> Iterator:
    import distributed

    futures = [client.submit(run_chunk, jobs[j], block, j, pure=False) for j, block in tasks]
    for fut in distributed.as_completed(futures):
        yield fut.result()


def execute(
    jobs: Sequence[Job],
    reps: int,
    *,
    engine: Engine = "local",
    client: Any = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
    chunk_size: int | None = None,
) -> pd.DataFrame:
    """Run ``reps`` replications of every job; the records sorted by job, replication,
    estimator and target (in the jobs' order)."""
    if engine not in ("local", "dask"):
        raise OptionError(f"engine must be 'local' or 'dask', not {engine!r}.")
    if engine == "local" and client is not None:
        raise OptionError("client= is used only with engine='dask'.")
    jobs = list(jobs)
    n_workers = _n_workers(n_jobs)
    size = chunk_size or max(1, min(25, math.ceil(reps * len(jobs) / (4 * n_workers))))
    tasks = [(j, block) for j in range(len(jobs)) for block in _chunks(reps, size)]
    parts: list[pd.DataFrame] = []
    with _progress(progress, reps * len(jobs), "replications") as prog:
        if engine == "local":
            stream = _local(tasks, jobs, n_workers, prog)
            for part in stream:
                parts.append(part)
                _advance(prog, part["rep"].nunique())
        else:
            with _dask_client(client, n_workers) as c:
                for part in _dask(tasks, jobs, c):
                    parts.append(part)
                    _advance(prog, part["rep"].nunique())
    return _sort_records(pd.concat(parts, ignore_index=True), jobs)


def _sort_records(records: pd.DataFrame, jobs: list[Job]) -> pd.DataFrame:
    est_pos = {(j, lab): i for j, job in enumerate(jobs) for i, (lab, _) in enumerate(job.estimators)}
    tgt_pos = {(j, t): i for j, job in enumerate(jobs) for i, t in enumerate(job.targets)}
    key_e = [est_pos[(j, e)] for j, e in zip(records["job"], records["estimator"], strict=True)]
    key_t = [tgt_pos[(j, t)] for j, t in zip(records["job"], records["target"], strict=True)]
    order = np.lexsort((key_t, key_e, records["rep"].to_numpy(), records["job"].to_numpy()))
    return records.iloc[order].reset_index(drop=True)


def _validate_reps(reps: Any) -> int:
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 2:
        raise OptionError(f"reps must be an integer >= 2 (e.g. 200), not {reps!r}.")
    return int(reps)


def run(
    scenario: str | Scenario,
    estimators: Any = None,
    reps: int = 100,
    random_state: Any = None,
    *,
    targets: Sequence[str] | None = None,
    params: Mapping[str, Any] | None = None,
    engine: Engine = "local",
    client: Any = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
    errors: Literal["record", "raise"] = "record",
) -> Any:
    """Monte Carlo benchmark of estimators on a simulated scenario with known truth.

    Parameters
    ----------
    scenario : str or Scenario
        A registered scenario name (see :func:`list_scenarios`) or a Scenario.
    estimators : list of str, str, mapping or None
        Registry names, optionally with options (``"callaway_santanna[anticipation=1]"``),
        as a list or a comma-separated string; or ``{label: estimator or name}``.
        ``None``: every available registered estimator for the scenario's design
        (slow ones excluded).
    reps : int
        Replications.
    random_state : int, Generator, SeedSequence or None
        Root seed: the same seed gives the same table on any engine.
    targets : sequence of str, optional
        ``"overall"`` (default: the estimator's headline ``.overall``),
        ``"event:<e>"``, ``"group:<cohort>"``, ``"calendar:<period>"``.
    params : mapping, optional
        Scenario parameter overrides (e.g. ``{"n_pcns": 1250, "n_icbs": 42}``).
    engine : {"local", "dask"}
        ``"local"``: worker processes (joblib/loky) on this machine. ``"dask"``:
        a ``dask.distributed`` cluster.
    client : distributed.Client or str, optional
        The Dask client or scheduler address (``"tcp://host:8786"``); without
        one, a local cluster bound to 127.0.0.1 with ``n_jobs`` workers is
        started and closed.
    n_jobs : int, optional
        Local worker processes (or local-cluster workers); ``None`` or ``-1``:
        every CPU; ``1``: in this process.
    progress : bool, optional
        Progress bar (default: when stderr is a terminal).
    errors : {"record", "raise"}
        A failing fit is counted in ``n_failed`` with its message kept
        (``"record"``) or re-raised (``"raise"``).

    Returns
    -------
    BenchResult

    Examples
    --------
    >>> from spimpact import bench
    >>> res = bench.run("homogeneous", ["callaway_santanna"], reps=4, random_state=1,
    ...                 params={"n_pcns": 40, "n_icbs": 4}, n_jobs=1)
    >>> res.table[["estimator", "target", "reps"]].values.tolist()
    [['callaway_santanna', 'overall', 4]]
    """
    from .result import BenchResult

    if errors not in ("record", "raise"):
        raise OptionError(f"errors must be 'record' or 'raise', not {errors!r}.")
    reps = _validate_reps(reps)
    sc = get_scenario(scenario, **dict(params or {})).validate()
    tg = tuple(str(parse_target(t)) for t in (targets or sc.targets))
    if len(set(tg)) != len(tg):
        raise OptionError(f"targets repeat: {list(tg)}.")
    ests = tuple(_resolve(estimators, sc.design))
    root = root_seed(random_state)
    job = Job(sc, ests, tg, root, errors)
    t0 = time.perf_counter()
    records = execute([job], reps, engine=engine, client=client, n_jobs=n_jobs, progress=progress)
    return BenchResult.from_records(
        records.drop(columns="job"), scenario=sc, estimators=[lab for lab, _ in ests],
        targets=list(tg), random_state=root.entropy, engine=engine,
        wall_seconds=time.perf_counter() - t0,
    )


def _resolve(estimators: Any, design: str) -> list[tuple[str, Any]]:
    from .estimators import resolve_estimators

    return resolve_estimators(estimators, design)
