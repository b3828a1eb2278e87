"""Speed and memory of the regression-based DiD estimators, against pyfixest.

Whole-process timings, as ``bench_did_speed.py``: each run is a fresh
subprocess on the same parquet file (balanced, 20 periods, 7 cohorts plus
never-treated units, no covariates). spimpact's estimators run with their
default options (``inference="cv3"``, clustered on the unit) and the estimate
time includes the Panel construction and the event-study aggregation.
Reported: the estimate time inside the process, the whole process's wall time
(imports and data loading included) and its peak resident memory; spimpact's
runs are repeated (``--repeats``, fresh processes, medians).

pyfixest (where installed for ``--peer-python``) runs the comparable
regressions with its CRV1 clustered errors (no leverage correction):

* ``SunAbraham`` - ``pf.event_study(..., estimator="saturated")`` (the same
  saturated cohort x period regression) and its aggregation;
* ``TwoStage`` - ``pf.did2s`` with event-time dummies in the second stage
  (not run by default, see below);
* ``TWFE`` (event study) - ``feols("y ~ i(rel, ref=-1) | id + period")``.

``ETWFE(family="poisson")`` runs on counts drawn around ``exp(y / 4)``, the
TWFE event study also with a time-varying covariate (standard normal) and on
the panel with 1% of its rows dropped at random (unbalanced); the data are
prepared before the timing starts.

pyfixest has no counterpart of the imputation estimator's BJS variance or of
ETWFE's aggregation here; those rows are spimpact only.

Targets (issue 16): Sun-Abraham and imputation at 1,000,000 units x 20
periods each under 20 s, and 10x the units at most ~12x the time; two-stage,
ETWFE and TWFE at that size too.

At 1,000,000 units each spimpact estimator also runs clustered on
"practices" of 170 consecutive units (``cluster=``, about 5,900 clusters; the
cv3 leverage then differs by cluster and cell).

spimpact runs every estimator at every size (without covariates on a balanced
panel every one of them is fitted by cohort blocks; TWFE's exact cluster jackknife
too). Not every peer does (``PLAN``): pyfixest up to 100,000 units (its
saturated event study peaked at 15 GB there). pyfixest's ``did2s`` with unit
clusters is not run: it builds a dense rows x clusters array (it asked for
186 GiB at 100,000 units and held 15 GB at 10,000 units when stopped); the
script keeps its call for machines where it fits.

Run: ``python benchmarks/bench_fe_speed.py [--quick] [--repeats N]
[--peer-python PATH] [--skip-peers] [--numpy-hugepage off] [--results-name NAME]
[--only NAME ...]``.
Results go to ``benchmarks/results/fe_speed.json`` (``fe_speed_nohugepage.json``
with ``--numpy-hugepage off``, ``NAME.json`` with ``--results-name``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _harness import available, median_run, run, set_environment  # noqa: E402
from bench_did_speed import T, make_panel  # noqa: E402  (the same data generator)

ESTIMATORS = {
    "sun_abraham": "SunAbraham()",
    "imputation": "Imputation()",
    "two_stage": "TwoStage()",
    "etwfe": "ETWFE()",
    "etwfe_poisson": "ETWFE(family='poisson')",
    "twfe": "TWFE(event_study=True)",
    "twfe_covariate": "TWFE(event_study=True, covariates='x')",
    "twfe_unbalanced": "TWFE(event_study=True)",
}
#: the data each estimator runs on besides the panel (see SPIMPACT)
VARIANTS = {"twfe_covariate": ("covariate",), "twfe_unbalanced": ("unbalanced",)}
#: sizes (keys of the sizes dict) each tool runs at: pyfixest grows too large
#: in memory or time beyond those (see the module docstring)
ALL = ("10k", "100k", "1m")
PLAN = {
    ("spimpact", "sun_abraham"): ALL,
    ("spimpact", "imputation"): ALL,
    ("spimpact", "two_stage"): ALL,
    ("spimpact", "etwfe"): ALL,
    ("spimpact", "etwfe_poisson"): ALL,
    ("spimpact", "twfe"): ALL,
    ("spimpact", "twfe_covariate"): ALL,
    ("spimpact", "twfe_unbalanced"): ALL,
    ("pyfixest", "sun_abraham"): ("10k", "100k"),
    ("pyfixest", "two_stage"): (),  # see the module docstring
    ("pyfixest", "twfe"): ("10k", "100k"),
}

SPIMPACT = """
import time, sys, resource, json
t0 = time.perf_counter()
import pandas as pd
from spimpact import Panel
from spimpact.did import SunAbraham, Imputation, TwoStage, ETWFE, TWFE
df = pd.read_parquet(sys.argv[1])
if "poisson" in {est!r}:  # counts (Poisson draws around exp(y / 4)), not timed
    import numpy as np
    df["y"] = np.random.default_rng(0).poisson(np.exp(df["y"].to_numpy() / 4)).astype(float)
variants = set(sys.argv[2:])
clustered = "clustered" in variants
if clustered:  # practices of 170 patients
    df["practice"] = df["id"] // 170
if "covariate" in variants:  # a time-varying covariate, not timed
    import numpy as np
    df["x"] = np.random.default_rng(1).normal(size=len(df))
if "unbalanced" in variants:  # 1% of the rows missing at random, not timed
    import numpy as np
    df = df.drop(index=np.random.default_rng(2).choice(len(df), len(df) // 100,
                                                       replace=False))
t1 = time.perf_counter()
p = Panel(df, outcome="y", unit="id", time="period", cohort="G", never_treated=0,
          cluster="practice" if clustered else None,
          covariates=["x"] if "covariate" in variants else ())
res = {est}
out = res if not hasattr(res, "aggregate") else res.aggregate("event")
t2 = time.perf_counter()
print(json.dumps({{"estimate_s": t2 - t1, "overall": float(out.overall.estimate),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

PYFIXEST = {
    "sun_abraham": """
import time, sys, resource, json, warnings
warnings.simplefilter("ignore")
import pandas as pd
import pyfixest as pf
df = pd.read_parquet(sys.argv[1])
t1 = time.perf_counter()
sat = pf.event_study(df, yname="y", idname="id", tname="period", gname="G",
                     estimator="saturated")
agg = sat.aggregate()
t2 = time.perf_counter()
print(json.dumps({"estimate_s": t2 - t1,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""",
    "two_stage": """
import time, sys, resource, json, warnings
warnings.simplefilter("ignore")
import numpy as np
import pandas as pd
import pyfixest as pf
df = pd.read_parquet(sys.argv[1])
t1 = time.perf_counter()
df["D"] = ((df["G"] > 0) & (df["period"] >= df["G"])).astype(int)
df["rel"] = np.where(df["G"] > 0, df["period"] - df["G"], -1000)
fit = pf.did2s(df, yname="y", first_stage="~ 0 | id + period",
               second_stage="~ i(rel, ref=-1000)", treatment="D", cluster="id")
fit.tidy()
t2 = time.perf_counter()
print(json.dumps({"estimate_s": t2 - t1,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""",
    "twfe": """
import time, sys, resource, json, warnings
warnings.simplefilter("ignore")
import numpy as np
import pandas as pd
import pyfixest as pf
df = pd.read_parquet(sys.argv[1])
t1 = time.perf_counter()
df["rel"] = np.where(df["G"] > 0, df["period"] - df["G"], -1)
fit = pf.feols("y ~ i(rel, ref=-1) | id + period", df, vcov={"CRV1": "id"})
fit.tidy()
t2 = time.perf_counter()
print(json.dumps({"estimate_s": t2 - t1,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""",
}


def load() -> str:
    """The machine's load averages (the timings depend on it)."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover - platforms without getloadavg
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10x smaller panels")
    ap.add_argument("--repeats", type=int, default=3,
                    help="fresh spimpact processes per estimator and size (median)")
    ap.add_argument("--peer-python", default=os.environ.get("SPIMPACT_PEER_PYTHON", sys.executable),
                    help="interpreter with pyfixest installed (default: $SPIMPACT_PEER_PYTHON, "
                         "else this one)")
    ap.add_argument("--skip-peers", action="store_true", help="spimpact only")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per peer run")
    ap.add_argument("--numpy-hugepage", choices=("default", "off"), default="default",
                    help="'off': every process runs with NUMPY_MADVISE_HUGEPAGE=0; results go "
                         "to fe_speed_nohugepage.json")
    ap.add_argument("--results-name", default=None,
                    help="file name (without .json) under benchmarks/results/ (default: "
                         "fe_speed, or fe_speed_nohugepage with --numpy-hugepage off)")
    ap.add_argument("--only", nargs="+", choices=list(ESTIMATORS), default=None,
                    help="run these estimators only (write them with --results-name)")
    args = ap.parse_args()
    env = set_environment(args.numpy_hugepage)
    scale = 10 if args.quick else 1
    sizes = {"10k": 10_000 // scale, "100k": 100_000 // scale, "1m": 1_000_000 // scale}
    peers = not args.skip_peers and available(args.peer_python, "pyfixest")
    if not args.skip_peers and not peers:
        print(f"pyfixest not installed for {args.peer_python}: spimpact only")
    results: dict[str, dict | None] = {}
    loads: dict[str, str] = {"start": load()}
    with tempfile.TemporaryDirectory() as tmp:
        for label, n in sizes.items():
            path = Path(tmp) / f"{label}.parquet"
            make_panel(n, path)
            print(f"{n:,} units x {T} periods (load {load()})")
            for name, call in ESTIMATORS.items():
                if args.only and name not in args.only:
                    continue
                if label in PLAN[("spimpact", name)]:
                    key = f"spimpact_{name}_{label}"
                    results[key] = median_run(args.repeats, sys.executable,
                                              SPIMPACT.format(est=f"{call}.fit(p)"), str(path),
                                              *VARIANTS.get(name, ()))
                    show(key, results[key])
                if label == "1m":  # the same units in practices of 170 (cluster=)
                    key = f"spimpact_{name}_{label}_clustered"
                    results[key] = median_run(args.repeats, sys.executable,
                                              SPIMPACT.format(est=f"{call}.fit(p)"), str(path),
                                              "clustered", *VARIANTS.get(name, ()))
                    show(key, results[key])
                if peers and label in PLAN.get(("pyfixest", name), ()):
                    key = f"pyfixest_{name}_{label}"
                    results[key] = run(args.peer_python, PYFIXEST[name], str(path),
                                       timeout=args.timeout)
                    show(key, results[key])
            loads[label] = load()
            path.unlink()
    report(results, sizes)
    name = args.results_name or ("fe_speed" + ("_nohugepage" if env else ""))
    out = HERE / "results" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"sizes": sizes, "periods": T, "load_average": loads,
                               "environment": env, "results": results}, indent=2))
    print(f"written {out}")


def show(key: str, v: dict | None) -> None:
    if v:
        print(f"  {key:34s} estimate {v['estimate_s']:8.2f} s   process "
              f"{v['process_s']:8.2f} s   peak {v['peak_mb']:8.0f} MB", flush=True)
    else:
        print(f"  {key:34s} failed or timed out", flush=True)


def report(r: dict[str, dict | None], sizes: dict[str, int]) -> None:
    ratio = sizes["1m"] / sizes["100k"]
    for name in ESTIMATORS:
        small, big = r.get(f"spimpact_{name}_100k"), r.get(f"spimpact_{name}_1m")
        if small and big:
            print(f"{name:12s} {sizes['1m']:,} units: {big['estimate_s']:.2f} s "
                  f"({big['estimate_s'] / small['estimate_s']:.1f}x the time of "
                  f"{sizes['100k']:,} for {ratio:.0f}x the units), peak "
                  f"{big['peak_mb'] / 1024:.2f} GB")
    for name in ESTIMATORS:
        big = r.get(f"spimpact_{name}_1m")
        if big:
            print(f"target: {name} at {sizes['1m']:,} units under 20 s: "
                  f"{'met' if big['estimate_s'] < 20 else 'NOT met'}")


if __name__ == "__main__":
    main()
