"""Which summary of a near-universal rollout covers: the overall ATT or an early event window.

On the simulator's realistic England (``england`` and ``england_region``
scenarios of the benchmark registry: 97% of PCNs start by 2021Q2, 3% never,
24 quarters to 2023Q4, shocks shared by ICBs), Callaway-Sant'Anna with
not-yet-treated controls and the default ``inference="cv3"``, clustered on ICB.
After near-universal uptake the late cells compare with the few never-treated
PCNs only, so the overall ATT (simple aggregation over every post cell) and
long event windows rest on a thin comparison group in few clusters; the mean
of the event-time effects over the first quarters after the start does not.
Writes ``benchmarks/results/england_window.csv`` and the results page's
section between its markers.

    python benchmarks/bench_england_window.py [--reps 500] [--jobs 2] [--quick]
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "bench_results.md"
OUT = ROOT / "benchmarks" / "results" / "england_window.csv"
BEGIN, END = "<!-- england window: begin -->", "<!-- england window: end -->"
SEED = 20261219
WINDOWS = (4, 8)


def one_rep(scenario: str, i: int) -> dict:
    from spimpact.bench.scenarios import get_scenario
    from spimpact.did import CallawaySantAnna

    targets = ("overall",) + tuple(f"event:{e}" for e in range(max(WINDOWS) + 1))
    rep = get_scenario(scenario).replicate(SEED + i, targets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = CallawaySantAnna(control_group="not_yet_treated").fit(rep.panel)
    rows = []
    ov = res.aggregate("simple").overall
    thin = any("comparison group is thin" in w for w in res.warnings)
    rows.append(("overall ATT (simple)", ov, rep.truth["overall"]))
    for k in WINDOWS:
        ev = res.aggregate("event", min_event=-2, max_event=k).overall
        truth = float(np.mean([rep.truth[f"event:{e}"] for e in range(k + 1)]))
        rows.append((f"mean of event times 0-{k}", ev, truth))
    return [{"scenario": scenario, "rep": i, "summary": name, "estimate": e.estimate,
             "std_error": e.std_error, "truth": t, "covers": e.ci_lower <= t <= e.ci_upper,
             "warns_thin": thin} for name, e, t in rows]


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    g = raw.assign(err=raw["estimate"] - raw["truth"]).groupby(["scenario", "summary"],
                                                               sort=False)
    out = g.agg(reps=("rep", "size"), bias=("err", "mean"), emp_se=("err", "std"),
                model_se=("std_error", "mean"), coverage=("covers", "mean"),
                warns_thin=("warns_thin", "mean")).reset_index()
    out["bias_mcse"] = out["emp_se"] / np.sqrt(out["reps"])
    out["coverage_mcse"] = np.sqrt(0.95 * 0.05 / out["reps"])
    return out


def page_section(t: pd.DataFrame) -> str:
    lines = [BEGIN, "", "## Realistic England: which summary covers", "", __doc__.split(
        "\n\n")[1].replace("\n", " "), "",
        f"Replication *i* has seed {SEED} + *i*; Monte Carlo SEs in brackets.", "",
        "| scenario | summary | reps | bias (MCSE) | emp. SE | model SE | coverage (MCSE) | "
        "warns thin comparison |", "|---|---|---|---|---|---|---|---|"]
    for _, r in t.iterrows():
        lines.append(f"| {r['scenario']} | {r['summary']} | {r['reps']} | {r['bias']:.3g} "
                     f"({r['bias_mcse']:.2g}) | {r['emp_se']:.3g} | {r['model_se']:.3g} | "
                     f"{r['coverage']:.3g} ({r['coverage_mcse']:.2g}) | {r['warns_thin']:.2g} |")
    return "\n".join([*lines, "", END])


def main(argv: list[str] | None = None) -> int:
    from joblib import Parallel, delayed

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="20 replications, page unchanged")
    args = ap.parse_args(argv)
    if args.quick:
        args.reps = 20
    out = []
    for scenario in ("england", "england_region"):
        out += Parallel(n_jobs=args.jobs)(delayed(one_rep)(scenario, i)
                                          for i in range(args.reps))
    raw = pd.DataFrame([r for rows in out for r in rows])
    OUT.parent.mkdir(exist_ok=True)
    table = summarise(raw)
    if not args.quick:
        table.to_csv(OUT, index=False)
    print(table.round(4).to_string(index=False))
    if args.quick:
        return 0
    page = PAGE.read_text(encoding="utf-8")
    section = page_section(table)
    if BEGIN in page:
        page = page[:page.index(BEGIN)] + section + page[page.index(END) + len(END):]
    else:
        at = page.index("<!-- inference coverage: begin")
        page = page[:at] + section + "\n\n" + page[at:]
    PAGE.write_text(page, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
