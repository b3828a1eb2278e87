"""What the first touch of fresh memory costs, with and without numpy's advice
to the kernel to back large arrays with transparent huge pages.

Each run is a fresh interpreter that fills a new 0.8 GB float array (100
million zeros set to one) and reports the wall time; ``NUMPY_MADVISE_HUGEPAGE=0``
turns numpy's advice off. On a machine whose kernel compacts memory on demand
to find huge pages (``/sys/kernel/mm/transparent_hugepage/defrag`` set to
``madvise``) the advice makes this first touch much slower, and every large
temporary of a million-unit fit pays it (``docs/guide/did.md``, "A note on
virtual machines"). Results go to ``benchmarks/results/first_touch.json``.

Run: ``python benchmarks/bench_first_touch.py [--repeats 3] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _harness import run, set_environment  # noqa: E402

TOUCH = """
import json, sys, time
import numpy as np
n = int(sys.argv[1])
t0 = time.perf_counter()
x = np.zeros(n)
x[:] = 1.0
print(json.dumps({"touch_s": time.perf_counter() - t0, "gb": n * 8 / 1e9}))
"""


def _setting(name: str) -> str:
    try:
        return Path(f"/sys/kernel/mm/transparent_hugepage/{name}").read_text().strip()
    except OSError:
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="0.08 GB instead of 0.8 GB")
    args = ap.parse_args()
    n = 10_000_000 if args.quick else 100_000_000
    out: dict = {"transparent_hugepage": {k: _setting(k) for k in ("enabled", "defrag")},
                 "gigabytes": n * 8 / 1e9}
    for label in ("default", "off"):
        set_environment(label)
        runs = [r["touch_s"] for r in (run(sys.executable, TOUCH, str(n))
                                       for _ in range(args.repeats)) if r]
        out[label] = {"median_s": statistics.median(runs), "runs_s": runs}
        print(f"numpy huge-page advice {label:7s}: first touch of {n * 8 / 1e9:.1f} GB "
              f"{out[label]['median_s']:.2f} s (runs {', '.join(f'{r:.2f}' for r in runs)})")
    set_environment("default")
    path = HERE / "results" / "first_touch.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"written {path}")


if __name__ == "__main__":
    main()
