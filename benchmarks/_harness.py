"""What every speed script in this folder shares: run a tool in a fresh
interpreter (whole-process timing) and check which peers are installed."""

from __future__ import annotations

import json
import subprocess
import time


def run(python: str, code: str, *args: str, timeout: float = 3600) -> dict | None:
    """Run ``code`` in a fresh interpreter; its last output line (JSON) plus the
    whole-process wall time as ``process_s``. ``None`` if it fails or times out."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([python, "-c", code, *args], capture_output=True, text=True,
                              timeout=timeout)
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
