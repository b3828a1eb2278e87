"""Speed of ChaisemartinDHaultfoeuille against the authors' Python package and moderndid.

Whole-process timings: each tool runs in its own subprocess on the same parquet
file (10 periods; baselines 0 and 1; switches up or down to intensities 0.5-3 at
periods 3-10 or never; effects=3, placebo=2, unclustered analytic standard
errors). Peers: ``py_did_multiplegt_dyn`` (the authors' Python version of
``did_multiplegt_dyn``) and moderndid's ``did_multiplegt``. Reported: wall time
of the estimation inside the process (Panel construction included for
spimpact) and peak resident memory; the first effect and the average total
effect of each are printed (equal to ~1e-12, as in ``tests/test_did_dcdh.py``).

Target: at 100,000 units at least as fast as the peers.

Run: ``python benchmarks/bench_dcdh_speed.py [--quick] [--peer-python PATH]
[--authors-python PATH]``. Results go to ``benchmarks/results/dcdh_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _harness import available, median_run, run  # noqa: E402

T = 10
EFFECTS, PLACEBO = 3, 2

SPIMPACT = f"""
import time, sys, resource, json, warnings
warnings.simplefilter("ignore")
import pandas as pd
from spimpact import Panel
from spimpact.did import ChaisemartinDHaultfoeuille
df = pd.read_parquet(sys.argv[1])
t1 = time.perf_counter()
p = Panel(df, outcome="y", unit="id", time="period", treatment="d", treatment_kind="general")
res = ChaisemartinDHaultfoeuille(effects={EFFECTS}, placebo={PLACEBO}).fit(p)
t2 = time.perf_counter()
print(json.dumps({{"estimate_s": t2 - t1, "effect_1": float(res.estimates["estimate"][0]),
                  "average": res.overall.estimate,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

AUTHORS = f"""
import time, sys, resource, json, warnings
warnings.simplefilter("ignore")
import polars as pl
from did_multiplegt_dyn import DidMultiplegtDyn
df = pl.read_parquet(sys.argv[1])
t1 = time.perf_counter()
m = DidMultiplegtDyn(df=df, outcome="y", group="id", time="period", treatment="d",
                     effects={EFFECTS}, placebo={PLACEBO})
m.fit()
r = m.result["did_multiplegt_dyn"]
t2 = time.perf_counter()
print(json.dumps({{"estimate_s": t2 - t1, "effect_1": float(r["Effects"]["Estimate"].iloc[0]),
                  "average": float(r["ATE"]["Estimate"].iloc[0]),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

MODERNDID = f"""
import time, sys, resource, json, warnings
warnings.simplefilter("ignore")
import polars as pl
import moderndid as md
df = pl.read_parquet(sys.argv[1])
t1 = time.perf_counter()
r = md.did_multiplegt(df, yname="y", idname="id", tname="period", dname="d",
                      effects={EFFECTS}, placebo={PLACEBO})
t2 = time.perf_counter()
print(json.dumps({{"estimate_s": t2 - t1, "effect_1": float(r.effects.estimates[0]),
                  "average": float(r.ate.estimate),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def make_panel(n: int, path: Path, seed: int = 0) -> None:
    """Baselines 0/1, first switch at 3..10 or never, up or down, effect 0.4 per unit."""
    rng = np.random.default_rng(seed)
    base = rng.choice([0.0, 1.0], n, p=[0.7, 0.3])
    start = rng.choice(np.r_[np.arange(3, T + 1), 99], n)
    level = np.where(base > 0, rng.choice([0.0, 2.0, 3.0], n), rng.choice([0.5, 1.0, 2.0], n))
    t = np.tile(np.arange(1, T + 1, dtype=np.int64), n)
    d = np.where(t >= np.repeat(start, T), np.repeat(level, T), np.repeat(base, T))
    y = (np.repeat(rng.normal(size=n), T) + 0.1 * t + 0.4 * (d - np.repeat(base, T))
         + rng.normal(size=n * T))
    pd.DataFrame({"id": np.repeat(np.arange(n, dtype=np.int64), T), "period": t, "d": d,
                  "y": y}).to_parquet(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10x smaller panel")
    ap.add_argument("--peer-python", default=os.environ.get("SPIMPACT_PEER_PYTHON", sys.executable),
                    help="interpreter with moderndid (default: $SPIMPACT_PEER_PYTHON)")
    ap.add_argument("--authors-python", default=None,
                    help="interpreter with py-did-multiplegt-dyn (default: --peer-python)")
    args = ap.parse_args()
    authors_py = args.authors_python or args.peer_python
    n = 100_000 // (10 if args.quick else 1)
    results: dict[str, dict | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "general.parquet"
        make_panel(n, path)
        print(f"{n:,} units x {T} periods")
        results["spimpact"] = median_run(3, sys.executable, SPIMPACT, str(path))
        for name, py, module, script in (("authors", authors_py, "did_multiplegt_dyn", AUTHORS),
                                         ("moderndid", args.peer_python, "moderndid", MODERNDID)):
            if available(py, module):
                results[name] = run(py, script, str(path))
            else:
                print(f"  {module} not installed for {py}: skipped")
    for k, v in results.items():
        if v:
            print(f"{k:10s} estimate {v['estimate_s']:8.3f} s   peak {v['peak_mb']:8.0f} MB   "
                  f"effect_1 {v['effect_1']:.10f}   average {v['average']:.10f}")
    sp = results.get("spimpact")
    for peer in ("authors", "moderndid"):
        if sp and results.get(peer):
            print(f"speed-up vs {peer}: {results[peer]['estimate_s'] / sp['estimate_s']:.1f}x "
                  f"(target >= 1x)")
    out = HERE / "results" / "dcdh_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"n_units": n, "periods": T, "results": results}, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
