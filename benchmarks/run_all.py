"""Run every speed benchmark in this folder and collect their results.

Each ``benchmarks/bench_*.py`` script runs in its own process (whole-process
timings: nothing is shared between scripts) and writes its own JSON file into
``benchmarks/results/``. This runner then gathers every JSON file a script
wrote or updated, with the script's exit code, wall time and the tail of its
output, into ``benchmarks/results/speed_summary.json``; it exits non-zero if
any script failed.

Run: ``python benchmarks/run_all.py [--quick] [--only did_speed] [--timeout 3600]``
(``make bench`` runs it with no options). ``--quick`` is passed on to every
script (each documents what it makes smaller).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SUMMARY = RESULTS / "speed_summary.json"
#: Lines of each script's output kept in the summary.
TAIL_LINES = 20


def scripts(only: list[str] | None = None) -> list[Path]:
    """The ``bench_*.py`` scripts of this folder, by name (``only``: their names
    without ``bench_`` and ``.py``, e.g. ``did_speed``)."""
    found = sorted(HERE.glob("bench_*.py"))
    if only:
        wanted = {f"bench_{o.removeprefix('bench_').removesuffix('.py')}.py" for o in only}
        missing = sorted(wanted - {p.name for p in found})
        if missing:
            raise SystemExit(f"no such benchmark script(s): {missing}; found "
                             f"{[p.name for p in found]}")
        found = [p for p in found if p.name in wanted]
    return found


def _json_state() -> dict[Path, tuple[float, int]]:
    """Modification time and size of every JSON file in results/."""
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in RESULTS.glob("*.json")}


def _json_written(before: dict[Path, tuple[float, int]]) -> dict[str, object]:
    """JSON files of results/ that are new or changed since ``before``."""
    out: dict[str, object] = {}
    for path, state in sorted(_json_state().items()):
        if path == SUMMARY or before.get(path) == state:
            continue
        try:
            out[path.name] = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            out[path.name] = {"unreadable": str(exc)}
    return out


def run_script(path: Path, extra: list[str], timeout: float) -> dict[str, object]:
    """Run one script in a fresh interpreter; its exit code, wall time, output tail
    and the JSON files it wrote."""
    print(f"== {path.name}", flush=True)
    before = _json_state()
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(path), *extra], cwd=HERE.parent,
                              capture_output=True, text=True, timeout=timeout)
        code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        code = -1
        stdout = exc.stdout if isinstance(exc.stdout, str) else ""
        stderr = f"timed out after {timeout:.0f} s"
    seconds = time.perf_counter() - t0
    sys.stdout.write(stdout)
    if code != 0:
        sys.stdout.write(stderr)
    print(f"-- {path.name}: exit {code} in {seconds:.1f} s", flush=True)
    return {"returncode": code, "seconds": round(seconds, 3),
            "stdout_tail": stdout.splitlines()[-TAIL_LINES:],
            "stderr_tail": stderr.splitlines()[-TAIL_LINES:] if code != 0 else [],
            "results": _json_written(before)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="pass --quick to every script")
    ap.add_argument("--only", action="append", help="run only this script (repeatable), "
                    "e.g. --only did_speed")
    ap.add_argument("--timeout", type=float, default=3600.0,
                    help="seconds allowed per script (default 3600)")
    args = ap.parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    extra = ["--quick"] if args.quick else []
    found = scripts(args.only)
    if not found:
        print("no bench_*.py scripts found")
        return 0
    runs = {p.stem: run_script(p, extra, args.timeout) for p in found}
    summary = {"python": platform.python_version(), "platform": platform.platform(),
               "date": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": args.quick,
               "scripts": runs}
    SUMMARY.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    failed = [name for name, r in runs.items() if r["returncode"] != 0]
    print(f"wrote {SUMMARY}" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
