"""Speed of continuous-dose DiD against moderndid's ``cont_did``.

Whole-process timings: each tool runs in its own subprocess on the same
parquet file (4 periods, cohorts 2-4 and never-treated units, a dose uniform
on (0, 1), a quadratic dose response; cubic B-spline without interior knots,
not-yet-treated comparisons, ATT(d) and ACRT(d) on 50 doses with the overall
ATT and ACRT). moderndid 0.2.0 always runs multiplier bootstraps for the
dose curves (``biters`` draws; 1000 here, its default), so its time includes
them; spimpact's analytic standard errors need none. Reported: wall time of
the estimation inside the process (Panel construction included for spimpact)
and peak resident memory; the overall estimates of both are printed (equal to
~1e-12 as in ``tests/test_did_continuous.py``).

Target: at 100,000 units at least as fast as moderndid.

Run: ``python benchmarks/bench_contdid_speed.py [--quick] [--peer-python PATH]``
(``make bench`` runs it). Results go to ``benchmarks/results/contdid_speed.json``.
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

T = 4

SPIMPACT = """
import time, sys, resource, json
import pandas as pd
from spimpact import Panel
from spimpact.did import ContinuousDiD
df = pd.read_parquet(sys.argv[1])
t1 = time.perf_counter()
p = Panel(df, outcome="y", unit="id", time="period", cohort="G", never_treated=0, dose="D")
res = ContinuousDiD(degree=3, num_knots=0, control_group="not_yet_treated").fit(p)
t2 = time.perf_counter()
print(json.dumps({"estimate_s": t2 - t1, "overall_att": res.overall.estimate,
                  "overall_acrt": res.overall_acrt.estimate,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

MODERNDID = """
import time, sys, resource, json, warnings
warnings.simplefilter("ignore")
import pandas as pd
import moderndid as md
df = pd.read_parquet(sys.argv[1])
t1 = time.perf_counter()
res = md.cont_did(data=df, yname="y", tname="period", idname="id", gname="G", dname="D",
                  aggregation="dose", degree=3, num_knots=0, control_group="notyettreated",
                  boot=False, biters=1000, random_state=1)
t2 = time.perf_counter()
print(json.dumps({"estimate_s": t2 - t1, "overall_att": float(res.overall_att),
                  "overall_acrt": float(res.overall_acrt),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_panel(n: int, path: Path, seed: int = 0) -> None:
    """Cohorts 2-4 and never-treated units (0), dose ~ U(0, 1), effect 0.5 d + 0.3 d^2."""
    rng = np.random.default_rng(seed)
    g = rng.choice([0, 2, 3, 4], size=n)
    d = np.where(g > 0, rng.uniform(0, 1, n), 0.0)
    t = np.tile(np.arange(1, T + 1, dtype=np.int64), n)
    G, D = np.repeat(g, T), np.repeat(d, T)
    effect = np.where((G > 0) & (t >= G), 0.5 * D + 0.3 * D**2, 0.0)
    y = np.repeat(rng.normal(size=n), T) + 0.1 * t + effect + rng.normal(size=n * T)
    pd.DataFrame({"id": np.repeat(np.arange(n, dtype=np.int64), T), "period": t, "G": G,
                  "D": D, "y": y}).to_parquet(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10x smaller panel")
    ap.add_argument("--peer-python", default=os.environ.get("SPIMPACT_PEER_PYTHON", sys.executable),
                    help="interpreter with moderndid installed (default: $SPIMPACT_PEER_PYTHON, "
                         "set by `make bench`)")
    args = ap.parse_args()
    n = 100_000 // (10 if args.quick else 1)
    results: dict[str, dict | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dose.parquet"
        make_panel(n, path)
        print(f"{n:,} units x {T} periods")
        results["spimpact"] = median_run(3, sys.executable, SPIMPACT, str(path))
        if available(args.peer_python, "moderndid"):
            results["moderndid"] = run(args.peer_python, MODERNDID, str(path))
        else:
            print(f"  moderndid not installed for {args.peer_python}: skipped")
    for k, v in results.items():
        if v:
            print(f"{k:10s} estimate {v['estimate_s']:8.3f} s   peak {v['peak_mb']:8.0f} MB   "
                  f"ATT^o {v['overall_att']:.10f}   ACRT^o {v['overall_acrt']:.10f}")
    sp, md = results.get("spimpact"), results.get("moderndid")
    if sp and md:
        print(f"speed-up vs moderndid: {md['estimate_s'] / sp['estimate_s']:.1f}x (target >= 1x)")
    out = HERE / "results" / "contdid_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"n_units": n, "periods": T, "results": results}, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
