"""Callaway-Sant'Anna on a patient-level parquet panel with Dask, against the
in-memory fit of the same rows.

A parquet directory of ``--units`` patients x 12 months (default 3 million:
36 million rows, sorted by patient, one file per 250,000 patients) in ~6,000
practices and ~1,200 PCNs whose link workers start in different months (10%
never) is written once. Then, each in a fresh interpreter:

- **dask**: a 2-worker ``distributed.LocalCluster`` (one thread each);
  ``Panel(dd.read_parquet(path), ...)`` and ``CallawaySantAnna()`` clustered on
  the practice (cv3, not-yet-treated and never-treated controls) and unclustered.
  Then ``aggregate(to="practice")``. The driver's peak resident memory
  (``ru_maxrss``) is reported: the rows stay on the workers.
- **memory**: ``pd.read_parquet`` and the same fits in one process.

Every ATT(g,t), the overall ATT and their standard errors are compared
(:func:`compare`). Results go to
``benchmarks/results/dask_cs.json``; the table is in ``docs/guide/did.md``.

Run: ``python benchmarks/bench_dask_cs.py [--units 3000000] [--path /tmp/sp_dask_panel]
[--quick]`` (``make bench`` runs it through ``run_all.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _harness import run  # noqa: E402

T = 12
PER_FILE = 250_000

FITS = """
import json, resource, sys, time, warnings
import numpy as np
import spimpact as sp
from spimpact.did import CallawaySantAnna
warnings.simplefilter("ignore")
path, mode = sys.argv[1], sys.argv[2]
roles = dict(outcome="y", unit="pid", time="month", cohort="start", never_treated=0)
t0 = time.perf_counter()
if mode == "dask":
    import dask.dataframe as dd
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None, memory_limit="8GiB")
    client = Client(cluster)
    make = lambda **kw: sp.Panel(dd.read_parquet(path), **roles, **kw)
else:
    import pandas as pd
    frame = pd.read_parquet(path)
    make = lambda **kw: sp.Panel(frame, **roles, **kw)
setup = time.perf_counter() - t0
out = {"mode": mode, "setup_s": setup, "fits": {}}
for name, kw, est in (
    ("practice clusters, not yet treated", {"cluster": "practice"},
     CallawaySantAnna(control_group="not_yet_treated")),
    ("practice clusters, never treated", {"cluster": "practice"}, CallawaySantAnna()),
    ("units, not yet treated", {}, CallawaySantAnna(control_group="not_yet_treated")),
):
    t1 = time.perf_counter()
    res = est.fit(make(**kw))
    took = time.perf_counter() - t1
    e = res.estimates
    out["fits"][name] = {"seconds": took, "att": e["estimate"].tolist(),
                         "se": e["std_error"].tolist(), "overall": res.overall.estimate,
                         "overall_se": res.overall.std_error, "n_units": res.n_units,
                         "n_clusters": res.n_clusters}
t1 = time.perf_counter()
agg = make(levels=["practice"]).aggregate(to="practice")
out["aggregate_s"] = time.perf_counter() - t1
frame = agg.frame
out["aggregate"] = {"rows": len(frame), "y": frame["y"].tolist()}
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def write_panel(path: Path, n_units: int, seed: int = 1) -> None:
    """The parquet panel (one file per 250,000 patients, sorted by patient)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_practice = max(n_units // 500, 2)
    practice_effect = rng.normal(0.0, 1.0, n_practice)
    pcn_start = rng.choice(np.r_[0, np.arange(4, T + 1)], size=n_practice // 5 + 1,
                           p=np.r_[0.1, np.full(T - 3, 0.9 / (T - 3))])
    for f, lo in enumerate(range(0, n_units, PER_FILE)):
        pid = np.arange(lo, min(lo + PER_FILE, n_units))
        practice = (pid * n_practice) // n_units
        start = pcn_start[practice // 5]
        u = np.repeat(pid, T)
        month = np.tile(np.arange(1, T + 1, dtype=np.int64), len(pid))
        st = np.repeat(start, T)
        y = (2.0 + practice_effect[np.repeat(practice, T)] + 0.05 * month
             + 0.3 * ((st > 0) & (month >= st)) + rng.normal(0.0, 1.0, len(u)))
        table = pa.table({"pid": u, "month": month, "start": st, "practice": np.repeat(practice, T),
                          "y": y})
        pq.write_table(table, path / f"part-{f:04d}.parquet", row_group_size=PER_FILE * T)


def compare(a: dict, b: dict) -> dict:
    """Largest differences of the Dask fit ``b`` from the in-memory fit ``a``:
    standard errors and the overall ATT relative to their values; ATT(g,t)
    relative to the largest |ATT(g,t)| (pre-treatment cells are near zero,
    where a difference relative to the value itself says nothing) and in units
    of its standard error."""
    out = {}
    for name in a["fits"]:
        fa, fb = a["fits"][name], b["fits"][name]
        att_a, att_b = np.asarray(fa["att"], float), np.asarray(fb["att"], float)
        se_a, se_b = np.asarray(fa["se"], float), np.asarray(fb["se"], float)
        ok = np.isfinite(att_a) & np.isfinite(se_a) & (se_a > 0)
        d = np.abs(att_b[ok] - att_a[ok])
        out[name] = {
            "att_vs_largest": float(d.max() / np.abs(att_a[ok]).max()),
            "att_in_se": float((d / se_a[ok]).max()),
            "se": float(np.max(np.abs(se_b[ok] / se_a[ok] - 1))),
            "overall": abs(fb["overall"] / fa["overall"] - 1),
            "overall_se": abs(fb["overall_se"] / fa["overall_se"] - 1),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=3_000_000)
    ap.add_argument("--path", default="/tmp/sp_dask_panel")
    ap.add_argument("--quick", action="store_true", help="10x fewer patients")
    args = ap.parse_args()
    if args.quick:
        args.units //= 10
    path = Path(args.path) / f"n{args.units}"
    if not path.exists():
        print(f"writing {args.units} patients x {T} months to {path}")
        write_panel(path, args.units)
    py = sys.executable
    results = {}
    for mode in ("dask", "memory"):
        print(f"{mode} ...", flush=True)
        r = run(py, FITS, str(path), mode, timeout=7200)
        if r is None:
            raise SystemExit(f"the {mode} fit failed")
        results[mode] = r
        times = ", ".join(f"{k}: {v['seconds']:.1f} s" for k, v in r["fits"].items())
        print(f"  setup {r['setup_s']:.1f} s; {times}; process peak {r['peak_mb']:.0f} MB")
    diffs = compare(results["memory"], results["dask"])
    ya = np.asarray(results["memory"]["aggregate"]["y"])
    yb = np.asarray(results["dask"]["aggregate"]["y"])
    diffs["aggregate to practice"] = {"rows": int(len(ya)), "rows_equal": bool(len(ya) == len(yb)),
                                      "y": float(np.max(np.abs(yb / ya - 1)))}
    print(f"  aggregate(to='practice'): {len(ya)} rows; outcome means differ by "
          f"{diffs['aggregate to practice']['y']:.1e} (relative); dask "
          f"{results['dask']['aggregate_s']:.1f} s, memory {results['memory']['aggregate_s']:.1f} s")
    for name, d in diffs.items():
        if name.startswith("aggregate"):
            continue
        print(f"  {name}: ATT(g,t) differ by {d['att_vs_largest']:.1e} of the largest "
              f"({d['att_in_se']:.1e} SEs), SEs by {d['se']:.1e} (relative), overall ATT "
              f"{d['overall']:.1e} and its SE {d['overall_se']:.1e}")
    summary = {
        "units": args.units, "periods": T, "rows": args.units * T,
        "workers": 2, "threads_per_worker": 1,
        "dask": {"setup_s": results["dask"]["setup_s"], "process_s": results["dask"]["process_s"],
                 "driver_peak_mb": results["dask"]["peak_mb"],
                 "fit_s": {k: v["seconds"] for k, v in results["dask"]["fits"].items()},
                 "aggregate_s": results["dask"]["aggregate_s"]},
        "memory": {"setup_s": results["memory"]["setup_s"],
                   "process_s": results["memory"]["process_s"],
                   "peak_mb": results["memory"]["peak_mb"],
                   "fit_s": {k: v["seconds"] for k, v in results["memory"]["fits"].items()},
                   "aggregate_s": results["memory"]["aggregate_s"]},
        "largest_relative_difference": diffs,
        "n_clusters": {k: v["n_clusters"] for k, v in results["dask"]["fits"].items()},
    }
    out = HERE / "results" / "dask_cs.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
