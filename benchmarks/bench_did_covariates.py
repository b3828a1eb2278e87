"""Speed and memory of Callaway-Sant'Anna with covariates against the Python peers.

Whole-process timings, each tool in its own subprocess on the same parquet
file: doubly robust, never-treated controls, two time-invariant covariates
(one continuous, one binary) in the propensity score and outcome models,
ATT(g,t) plus the event-study aggregation. spimpact runs with its defaults
(``inference="cv3"``), building the Panel from the DataFrame included; the
peers compute analytic standard errors. Every tool's ATT(g,t) are written
out and compared cell by cell (the same estimator: they must agree to 1e-6).

Targets (issue "Scale"):
- 100,000 units x 20 periods: at least 10x faster than the fastest of csdid
  and moderndid, with the same ATT(g,t) to 1e-6;
- from 100,000 to 1,000,000 units the time grows at most 12x;
- 1,000,000 units x 20 periods under 20 s and under 4 GB peak memory.

Run: ``python benchmarks/bench_did_covariates.py [--quick] [--peer-python PATH]
[--numpy-hugepage off]`` (``make bench`` runs it). Results go to
``benchmarks/results/did_covariates.json`` (``did_covariates_nohugepage.json``
with every process, the peers' too, under ``NUMPY_MADVISE_HUGEPAGE=0``).
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
from _harness import available, median_run, run, set_environment  # noqa: E402

REPEATS = 3
T = 20

SPIMPACT = """
import time, sys, resource, json
t0 = time.perf_counter()
import pandas as pd
from spimpact import Panel
from spimpact.did import CallawaySantAnna
df = pd.read_parquet(sys.argv[1])
t1 = time.perf_counter()
p = Panel(df, outcome="y", unit="id", time="period", cohort="G", never_treated=0,
          covariates=["x1", "x2"])
res = CallawaySantAnna(method="dr").fit(p)
ev = res.aggregate("event")
t2 = time.perf_counter()
tab = res.estimates
tab[["group", "time", "estimate"]].to_json(sys.argv[2], orient="values", double_precision=15)
print(json.dumps({"estimate_s": t2 - t1, "overall": ev.overall.estimate,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

CSDID = """
import time, sys, resource, json
import pandas as pd
from csdid.att_gt import ATTgt
df = pd.read_parquet(sys.argv[1])
t1 = time.perf_counter()
out = ATTgt(yname="y", tname="period", idname="id", gname="G", data=df,
            control_group=["nevertreated"], xformla="y ~ x1 + x2").fit(est_method="dr",
                                                                      bstrap=False)
out.aggte(typec="dynamic", bstrap=False)
t2 = time.perf_counter()
r = out.results
pd.DataFrame({"g": r["group"], "t": r["year"], "att": r["att"]}).to_json(sys.argv[2],
                                                                         orient="values", double_precision=15)
print(json.dumps({"estimate_s": t2 - t1,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

MODERNDID = """
import time, sys, resource, json
import numpy as np, pandas as pd
import moderndid as md
df = pd.read_parquet(sys.argv[1])
t1 = time.perf_counter()
res = md.att_gt(data=df, yname="y", tname="period", idname="id", gname="G",
                xformla="~ x1 + x2", est_method="dr", control_group="nevertreated",
                boot=False, cband=False)
md.aggte(res, type="dynamic", boot=False, cband=False)
t2 = time.perf_counter()
pd.DataFrame({"g": np.asarray(res.groups), "t": np.asarray(res.times),
              "att": np.asarray(res.att_gt)}).to_json(sys.argv[2], orient="values", double_precision=15)
print(json.dumps({"estimate_s": t2 - t1,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_panel(n: int, path: Path, seed: int = 0) -> None:
    """Staggered panel: 7 cohorts and never-treated units whose membership
    depends on two covariates, covariate-specific trends, dynamic effects."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = (rng.random(n) < 0.4).astype(float)
    cohorts = np.array([0, 6, 8, 10, 12, 14, 16, 18])
    util = (rng.gumbel(size=(n, len(cohorts))) + np.outer(x1, np.linspace(-0.5, 0.5, 8))
            + np.outer(x2, np.linspace(0.3, -0.3, 8)))
    g = cohorts[util.argmax(axis=1)]
    t = np.tile(np.arange(1, T + 1, dtype=np.int32), n)
    G = np.repeat(g.astype(np.int32), T)
    X1, X2 = np.repeat(x1, T), np.repeat(x2, T)
    unit_fe = np.repeat(rng.normal(size=n) + 0.5 * x1, T)
    effect = np.where((G > 0) & (t >= G), 1.0 + 0.1 * (t - G), 0.0)
    y = unit_fe + 0.05 * t + 0.03 * t * X1 - 0.02 * t * X2 + effect + rng.normal(size=n * T)
    pd.DataFrame({"id": np.repeat(np.arange(n, dtype=np.int64), T), "period": t, "G": G,
                  "x1": X1, "x2": X2, "y": y}).to_parquet(path)


def _cells(path: Path) -> pd.Series:
    v = pd.DataFrame(json.loads(path.read_text()), columns=["g", "t", "att"])
    return v.astype(float).set_index(["g", "t"])["att"].dropna()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10x smaller panels")
    ap.add_argument("--peer-python", default=os.environ.get("SPIMPACT_PEER_PYTHON", sys.executable),
                    help="interpreter with csdid / moderndid installed (default: "
                         "$SPIMPACT_PEER_PYTHON, set by `make bench`)")
    ap.add_argument("--numpy-hugepage", choices=("default", "off"), default="default",
                    help="'off': every process (spimpact and the peers) runs with "
                         "NUMPY_MADVISE_HUGEPAGE=0; results go to did_covariates_nohugepage.json")
    args = ap.parse_args()
    env = set_environment(args.numpy_hugepage)
    scale = 10 if args.quick else 1
    results: dict[str, dict | None] = {}
    diffs: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        small, large = tmpd / "small.parquet", tmpd / "large.parquet"
        n_small, n_large = 100_000 // scale, 1_000_000 // scale
        make_panel(n_small, small)
        print(f"{n_small:,} units x {T} periods, 2 covariates")
        results["spimpact_100k"] = median_run(REPEATS, sys.executable, SPIMPACT, str(small),
                                              str(tmpd / "sp.json"))
        for name, code, mod in (("csdid", CSDID, "csdid"), ("moderndid", MODERNDID, "moderndid")):
            if available(args.peer_python, mod):
                out = tmpd / f"{name}.json"
                results[f"{name}_100k"] = run(args.peer_python, code, str(small), str(out))
                if results[f"{name}_100k"] and results["spimpact_100k"]:
                    a, b = _cells(tmpd / "sp.json").align(_cells(out), join="inner")
                    diffs[name] = float(np.max(np.abs(a - b)))
                    diffs[f"{name}_cells"] = len(a)
            else:
                print(f"  {name} not installed for {args.peer_python}: skipped")
        small.unlink()
        make_panel(n_large, large)
        print(f"{n_large:,} units x {T} periods, 2 covariates")
        results["spimpact_1m"] = median_run(REPEATS, sys.executable, SPIMPACT, str(large),
                                            str(tmpd / "sp1m.json"))
    report(results, diffs, n_small, n_large)
    name = "did_covariates" + ("_nohugepage" if args.numpy_hugepage == "off" else "")
    out = HERE / "results" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"n_small": n_small, "n_large": n_large, "periods": T,
                               "environment": env, "results": results,
                               "max_abs_att_difference": diffs}, indent=2))
    print(f"written {out}")


def report(r: dict[str, dict | None], diffs: dict[str, float], n_small: int,
           n_large: int) -> None:
    for k, v in r.items():
        if v:
            print(f"{k:18s} estimate {v['estimate_s']:8.2f} s   process {v['process_s']:8.2f} s"
                  f"   peak {v['peak_mb']:8.0f} MB")
    for name in ("csdid", "moderndid"):
        if name in diffs:
            print(f"ATT(g,t) vs {name}: max abs difference {diffs[name]:.2e} over "
                  f"{diffs[name + '_cells']} cells (target 1e-6)")
    sp, big = r.get("spimpact_100k"), r.get("spimpact_1m")
    peers = [v["estimate_s"] for k, v in r.items() if v and k.split("_")[0] in ("csdid", "moderndid")]
    if sp and peers:
        print(f"speed-up vs fastest peer at {n_small:,} units: {min(peers) / sp['estimate_s']:.1f}x"
              f" (target >= 10x)")
    if sp and big:
        print(f"{n_large // n_small}x the units takes {big['estimate_s'] / sp['estimate_s']:.1f}x "
              f"the time (target <= 12x); {n_large:,} units: {big['estimate_s']:.1f} s (target "
              f"< 20 s), peak {big['peak_mb'] / 1024:.2f} GB (target < 4 GB)")


if __name__ == "__main__":
    main()
