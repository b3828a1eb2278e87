"""What every speed script in this folder shares: run a tool in a fresh
interpreter (whole-process timing) and check which peers are installed."""

from __future__ import annotations

import json
import statistics
import subprocess
import time

#: Environment variables every tool's process runs with (``set_environment``).
EXTRA_ENV: dict[str, str] = {}


def set_environment(numpy_hugepage: str) -> dict[str, str]:
    """The environment of every timed process, the same for spimpact and the
    peers. ``numpy_hugepage="off"`` sets ``NUMPY_MADVISE_HUGEPAGE=0``: numpy
    then does not ask the kernel for transparent huge pages, which on virtual
    machines that compact memory on demand makes the first touch of fresh
    memory cost seconds per gigabyte (``docs/guide/did.md``, "Speed")."""
    EXTRA_ENV.clear()
    if numpy_hugepage == "off":
        EXTRA_ENV["NUMPY_MADVISE_HUGEPAGE"] = "0"
    return dict(EXTRA_ENV)


def run(python: str, code: str, *args: str, timeout: float = 3600) -> dict | None:
    """Run ``code`` in a fresh interpreter; its last output line (JSON) plus the
    whole-process wall time as ``process_s``. ``None`` if it fails or times out."""
    import os

    t0 = time.perf_counter()
    try:
        proc = subprocess.run([python, "-c", code, *args], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **EXTRA_ENV})
    except subprocess.TimeoutExpired:
        print(f"  timed out after {timeout:.0f} s")
        return None
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(f"  failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr else '?'}")
        return None
    out: dict = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_s"] = wall
    return out


def available(python: str, module: str) -> bool:
    """Whether ``module`` imports in the interpreter ``python``."""
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0


def median_run(repeats: int, python: str, code: str, *args: str) -> dict | None:
    """:func:`run` ``repeats`` times (fresh processes): the median of each timing
    (keys ending in ``_s``), the largest peak memory and every run's
    ``estimate_s`` (``runs_s``). ``None`` if every run failed."""
    runs = [r for r in (run(python, code, *args) for _ in range(repeats)) if r]
    if not runs:
        return None
    out = dict(runs[0])
    for key in out:
        if key.endswith("_s"):
            out[key] = float(statistics.median(r[key] for r in runs))
    out["peak_mb"] = max(r["peak_mb"] for r in runs)
    out["runs_s"] = [r["estimate_s"] for r in runs]
    return out
