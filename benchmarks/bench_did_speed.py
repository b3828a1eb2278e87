"""Speed and memory of Callaway-Sant'Anna against the Python peers.

Whole-process timings: each tool runs in its own subprocess on the same
parquet file (DR, never-treated controls, no covariates, analytic SEs,
ATT(g,t) plus the event-study aggregation). Reported: wall time of the
estimation inside the process (Panel construction included for spimpact),
wall time of the whole process (imports and data loading included) and its
peak resident memory. spimpact and the group-by run five times each (fresh
processes; medians reported): first-touch memory costs vary between runs on
the same machine. spimpact also reports ``warm_s``, the median of five
repetitions of the same work in the process, free of one-time costs (lazy
imports, first page faults), shown beside the first-call times.

Targets:
- 100,000 units x 20 periods: at least 10x faster than the fastest of csdid
  and moderndid, timed in the same run;
- 1,000,000 units x 20 periods: within 10x of one pandas group-by-mean pass
  over the same data, under 3 GB peak memory;
- the 999-draw multiplier bootstrap adds less than the point estimation.

Run: ``python benchmarks/bench_did_speed.py [--quick] [--peer-python PATH]``
(``make bench`` runs it). Results go to ``benchmarks/results/did_speed.json``.
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

REPEATS = 5

T = 20

SPIMPACT = """
import time, sys, resource, json
t0 = time.perf_counter()
import pandas as pd
from spimpact import Panel
from spimpact.did import CallawaySantAnna
df = pd.read_parquet(sys.argv[1])
boot = int(sys.argv[2])
def estimate():
    p = Panel(df, outcome="y", unit="id", time="period", cohort="G", never_treated=0)
    res = CallawaySantAnna(bootstrap=boot or None, random_state=1).fit(p)
    return res.aggregate("event")
t1 = time.perf_counter()
ev = estimate()
t2 = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
warm = []
for _ in range(5):
    del ev
    t3 = time.perf_counter()
    ev = estimate()
    warm.append(time.perf_counter() - t3)
print(json.dumps({"estimate_s": t2 - t1, "warm_s": sorted(warm)[2], "overall": ev.overall.estimate,
                  "peak_mb": peak}))
"""

CSDID = """
import time, sys, resource, json
import pandas as pd
from csdid.att_gt import ATTgt
df = pd.read_parquet(sys.argv[1])
t1 = time.perf_counter()
out = ATTgt(yname="y", tname="period", idname="id", gname="G", data=df,
            control_group=["nevertreated"]).fit(est_method="dr", bstrap=False)
out.aggte(typec="dynamic", bstrap=False)
t2 = time.perf_counter()
print(json.dumps({"estimate_s": t2 - t1,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

MODERNDID = """
import time, sys, resource, json
import pandas as pd
import moderndid as md
df = pd.read_parquet(sys.argv[1])
t1 = time.perf_counter()
res = md.att_gt(data=df, yname="y", tname="period", idname="id", gname="G",
                est_method="dr", control_group="nevertreated", boot=False, cband=False)
md.aggte(res, type="dynamic", boot=False, cband=False)
t2 = time.perf_counter()
print(json.dumps({"estimate_s": t2 - t1,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

GROUPBY = """
import time, sys, resource, json
import pandas as pd
df = pd.read_parquet(sys.argv[1])
t1 = time.perf_counter()
df.groupby(["id"])["y"].mean()
t2 = time.perf_counter()
print(json.dumps({"estimate_s": t2 - t1,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_panel(n: int, path: Path, seed: int = 0) -> None:
    """Staggered panel: 7 cohorts and never-treated units, dynamic effects."""
    rng = np.random.default_rng(seed)
    g = rng.choice([0, 6, 8, 10, 12, 14, 16, 18], size=n)
    t = np.tile(np.arange(1, T + 1, dtype=np.int32), n)
    G = np.repeat(g.astype(np.int32), T)
    unit_fe = np.repeat(rng.normal(size=n), T)
    effect = np.where((G > 0) & (t >= G), 1.0 + 0.1 * (t - G), 0.0)
    y = unit_fe + 0.05 * t + effect + rng.normal(size=n * T)
    pd.DataFrame({"id": np.repeat(np.arange(n, dtype=np.int64), T), "period": t, "G": G,
                  "y": y}).to_parquet(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10x smaller panels")
    ap.add_argument("--peer-python", default=os.environ.get("SPIMPACT_PEER_PYTHON", sys.executable),
                    help="interpreter with csdid / moderndid installed (default: "
                         "$SPIMPACT_PEER_PYTHON, set by `make bench`)")
    args = ap.parse_args()
    scale = 10 if args.quick else 1
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        small, large = Path(tmp) / "small.parquet", Path(tmp) / "large.parquet"
        n_small, n_large = 100_000 // scale, 1_000_000 // scale
        make_panel(n_small, small)
        print(f"{n_small:,} units x {T} periods")
        results["spimpact_100k"] = median_run(REPEATS, sys.executable, SPIMPACT, str(small), "0")
        results["spimpact_100k_boot999"] = median_run(REPEATS, sys.executable, SPIMPACT, str(small), "999")
        for name, code, mod in (("csdid", CSDID, "csdid"), ("moderndid", MODERNDID, "moderndid")):
            if available(args.peer_python, mod):
                results[f"{name}_100k"] = run(args.peer_python, code, str(small))
            else:
                print(f"  {name} not installed for {args.peer_python}: skipped")
        make_panel(n_large, large)
        print(f"{n_large:,} units x {T} periods")
        results["spimpact_1m"] = median_run(REPEATS, sys.executable, SPIMPACT, str(large), "0")
        results["groupby_1m"] = median_run(REPEATS, sys.executable, GROUPBY, str(large))
    report(results, n_small, n_large)
    out = HERE / "results" / "did_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"n_small": n_small, "n_large": n_large, "periods": T,
                               "results": results}, indent=2))
    print(f"written {out}")


def report(r: dict[str, dict | None], n_small: int, n_large: int) -> None:
    for k, v in r.items():
        if v:
            warm = f"   warm {v['warm_s']:6.3f} s" if "warm_s" in v else ""
            print(f"{k:24s} estimate {v['estimate_s']:8.3f} s{warm}   process "
                  f"{v['process_s']:8.2f} s   peak {v['peak_mb']:8.0f} MB")
    sp = r.get("spimpact_100k")
    peers = [v["estimate_s"] for k, v in r.items() if v and k.split("_")[0] in ("csdid", "moderndid")]
    if sp and peers:
        print(f"speed-up vs fastest peer at {n_small:,} units: {min(peers) / sp['estimate_s']:.1f}x "
              f"(target >= 10x)")
    b = r.get("spimpact_100k_boot999")
    if sp and b:
        print(f"bootstrap adds {b['estimate_s'] - sp['estimate_s']:.3f} s to a "
              f"{sp['estimate_s']:.3f} s point estimation (target: less)")
        print(f"  warm, one-time costs excluded: bootstrap {b['warm_s'] - sp['warm_s']:.3f} s, "
              f"point estimation {sp['warm_s']:.3f} s")
    big, gb = r.get("spimpact_1m"), r.get("groupby_1m")
    if big and sp:
        print(f"{n_large // n_small}x the units takes {big['warm_s'] / sp['warm_s']:.1f}x the "
              f"time (warm; linear scaling: at most {n_large // n_small}x)")
    if big and gb:
        print(f"{n_large:,} units: {big['estimate_s'] / gb['estimate_s']:.1f}x one group-by-mean "
              f"(target <= 10x); peak {big['peak_mb'] / 1024:.2f} GB (target < 3 GB)")


if __name__ == "__main__":
    main()
