"""Speed of propensity-score matching against the Python peers.

Whole-process timings: each tool runs in its own subprocess on the same
parquet file (a logit propensity score on five covariates, 1:1 greedy
nearest-neighbour matching on its logit without replacement, caliper 0.2 SD,
the ATT). Reported: wall time of the work inside the process (Panel, model,
matching, effect, balance table), wall time of the whole process (imports
and data loading included) and its peak resident memory.

Target (the matching issue): 100,000 treated on 1,000,000 controls in under
10 s. The peers are timed at a size where they can run:

- pymatchit-causal (a port of R's MatchIt) computes the full treated-by-control
  distance matrix: 100,000 x 1,000,000 doubles would need 800 GB, so it is run
  on the small data set only;
- psmpy queries a KD-tree for *every* control's distance to each treated unit
  (the same n_treated x n_controls array) and filters it in Python loops: small
  data set only.

Run: ``python benchmarks/bench_matching_speed.py [--quick] [--peer-python PATH]``
with the peers installed in another interpreter (e.g. ``python3 -m venv
/tmp/venv-peers && /tmp/venv-peers/bin/pip install psmpy pymatchit-causal``).
Results go to ``benchmarks/results/matching_speed.json``.
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
from _harness import available, run  # noqa: E402

COVARIATES = [f"x{j}" for j in range(5)]

SPIMPACT = """
import time, sys, resource, json
t0 = time.perf_counter()
import pandas as pd
from spimpact import Panel
from spimpact.matching import PropensityScoreMatching
df = pd.read_parquet(sys.argv[1])
replace = sys.argv[2] == "1"
t1 = time.perf_counter()
p = Panel(df, outcome="y", treatment="d", covariates=[f"x{j}" for j in range(5)])
res = PropensityScoreMatching(caliper=0.2, replace=replace).fit(p)
t2 = time.perf_counter()
print(json.dumps({"estimate_s": t2 - t1, "att": res.overall.estimate,
                  "matched": int(res.info["matched treated"]),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

PYMATCHIT = """
import time, sys, resource, json, warnings, io, contextlib
warnings.simplefilter("ignore")
import pandas as pd
from pymatchit import MatchIt
df = pd.read_csv(sys.argv[1])
t1 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    m = MatchIt(df, method="nearest", distance="glm", link="linear.logit", caliper=0.2,
                replace=False)
    m.fit("d ~ x0 + x1 + x2 + x3 + x4")
md = m.matched_data
att = (md.loc[md.d == 1, "y"].mean()
       - (md.loc[md.d == 0, "y"] * md.loc[md.d == 0, "weights"]).sum()
       / md.loc[md.d == 0, "weights"].sum())
t2 = time.perf_counter()
print(json.dumps({"estimate_s": t2 - t1, "att": float(att),
                  "matched": int((md.d == 1).sum()),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

PSMPY = """
import time, sys, resource, json, warnings
warnings.simplefilter("ignore")
import numpy as np, pandas as pd
from psmpy import PsmPy
df = pd.read_csv(sys.argv[1]).reset_index().rename(columns={"index": "row"})
t1 = time.perf_counter()
psm = PsmPy(df.drop(columns="y"), treatment="d", indx="row", exclude=[])
psm.logistic_ps(balance=False)
sd = psm.predicted_data["propensity_logit"].std()
psm.kdtree_matched(matcher="propensity_logit", replacement=False, caliper=0.2 * sd)
ids = psm.matched_ids.dropna()
y = df.set_index("row")["y"]
att = float(y.loc[ids.iloc[:, 0]].mean() - y.loc[ids.iloc[:, 1]].mean())
t2 = time.perf_counter()
print(json.dumps({"estimate_s": t2 - t1, "att": att, "matched": int(len(ids)),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_data(n_treated: int, n_controls: int, path: Path, seed: int = 0) -> None:
    """Five covariates, treated shifted by 0.3 SD; outcome with a unit effect."""
    rng = np.random.default_rng(seed)
    n = n_treated + n_controls
    X = rng.normal(size=(n, len(COVARIATES)))
    d = np.r_[np.ones(n_treated, np.int8), np.zeros(n_controls, np.int8)]
    X[d == 1] += 0.3
    y = X.sum(axis=1) + d + rng.normal(size=n)
    df = pd.DataFrame(X, columns=COVARIATES).assign(d=d, y=y)
    df = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    df.to_parquet(path)
    if n < 100_000:  # the peers read CSV (no parquet engine needed in their environment)
        df.to_csv(path.with_suffix(".csv"), index=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10x smaller large data set")
    ap.add_argument("--peer-python", default=os.environ.get("SPIMPACT_PEER_PYTHON", sys.executable),
                    help="interpreter with psmpy / pymatchit-causal installed (default: "
                         "$SPIMPACT_PEER_PYTHON)")
    args = ap.parse_args()
    scale = 10 if args.quick else 1
    results: dict[str, dict | None] = {}
    sizes = {"small": (2_000, 20_000), "large": (100_000 // scale, 1_000_000 // scale)}
    with tempfile.TemporaryDirectory() as tmp:
        for label, (n1, n0) in sizes.items():
            path = Path(tmp) / f"{label}.parquet"
            make_data(n1, n0, path)
            print(f"{label}: {n1:,} treated, {n0:,} controls")
            # the first run also compiles the greedy kernel (numba caches it on disk)
            run(sys.executable, SPIMPACT, str(path), "0")
            results[f"spimpact_{label}"] = run(sys.executable, SPIMPACT, str(path), "0")
            results[f"spimpact_{label}_replace"] = run(sys.executable, SPIMPACT, str(path), "1")
            if label != "small":
                continue
            for name, code, mod in (("pymatchit", PYMATCHIT, "pymatchit"),
                                    ("psmpy", PSMPY, "psmpy")):
                if available(args.peer_python, mod):
                    results[f"{name}_{label}"] = run(args.peer_python, code,
                                                     str(path.with_suffix(".csv")), timeout=900)
                else:
                    print(f"  {name} is not installed for {args.peer_python}: skipped")
    report(results, sizes)
    out = HERE / "results" / "matching_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"sizes": sizes, "results": results}, indent=2))
    print(f"written {out}")


def report(r: dict[str, dict | None], sizes: dict[str, tuple[int, int]]) -> None:
    for k, v in r.items():
        if v:
            print(f"{k:28s} work {v['estimate_s']:8.2f} s   process {v['process_s']:8.2f} s   "
                  f"peak {v['peak_mb']:8.0f} MB   ATT {v['att']:.4f}   matched {v['matched']:,}")
        else:
            print(f"{k:28s} did not run")
    big = r.get("spimpact_large")
    n1, n0 = sizes["large"]
    if big:
        print(f"{n1:,} treated on {n0:,} controls: {big['estimate_s']:.2f} s of work, "
              f"{big['process_s']:.2f} s for the whole process (target < 10 s)")
    sp = r.get("spimpact_small")
    for peer in ("pymatchit", "psmpy"):
        v = r.get(f"{peer}_small")
        if sp and v:
            print(f"small data: {v['estimate_s'] / sp['estimate_s']:.0f}x faster than {peer}")
    print("pymatchit-causal and psmpy are not run on the large data: both form a "
          "treated-by-control distance array (100,000 x 1,000,000 doubles = 800 GB).")


if __name__ == "__main__":
    main()
