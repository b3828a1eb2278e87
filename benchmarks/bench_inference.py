"""Coverage of the DiD estimators' inference on England-like rollouts with
clustered shocks (``england_dgp.py``, written independently of
``spimpact.simulate``).

For each design, ``reps`` rollouts are simulated and fitted; the overall
(simple) ATT is compared with its truth. One fit per replication gives every
inference choice: :func:`overall_by_inference` redoes only the inference step
of the fit for each ``inference=`` choice (``tests/test_inference_cluster.py``
checks that it equals fitting with that choice). Also recorded: how often each
warning fires (thin comparison group, clustering level).

Monte Carlo SEs: coverage ``sqrt(c (1 - c) / reps)``; bias ``sd / sqrt(reps)``.

Run: ``python benchmarks/bench_inference.py [--reps 300] [--jobs 2] [--only NAME]``
(``make bench`` runs it through ``benchmarks/run_all.py``); writes
``benchmarks/results/inference_coverage.csv`` (one row per design and inference
choice; the replications in ``inference_coverage_raw.csv``), a JSON summary, and
the section "Inference with clustered shocks" of ``docs/bench_results.md``
(between its markers; ``--quick`` runs leave the page alone).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from england_dgp import EnglandDGP, simple_truth, simulate_england  # noqa: E402

OUT = HERE / "results" / "inference_coverage.csv"
PAGE = HERE.parent / "docs" / "bench_results.md"
BEGIN = "<!-- inference coverage: begin (written by benchmarks/bench_inference.py) -->"
END = "<!-- inference coverage: end -->"

#: What each design is, for the results page.
ABOUT = {
    "national_cs_nyt_icb": "42 ICBs, CS (DR, need covariate), not-yet-treated controls, "
                           "clustered on ICB",
    "regional_cs_nyt_icb": "10 ICBs, CS (DR, need covariate), not-yet-treated controls, "
                           "clustered on ICB",
    "national_cs_nyt_pcn": "42 ICBs, as above but clustered on PCN (shocks shared by ICB)",
    "national_cs_nyt_pcn_null": "42 ICBs, no ICB x quarter shocks, clustered on PCN (the "
                                "right level: false alarms of the level check)",
    "national_cs_never_icb": "42 ICBs, CS with never-treated controls (3% of PCNs), "
                             "clustered on ICB",
    "national_cs_nyt_pcn_icbdelay": "42 ICBs, starts strongly delayed by ICB, clustered on "
                                    "PCN (shocks shared by ICB)",
    "national_cs_nyt_icb_icbdelay": "42 ICBs, starts strongly delayed by ICB, clustered on "
                                    "ICB",
    "regional_cs_never_icb": "10 ICBs, CS with never-treated controls (3% of PCNs), "
                             "clustered on ICB (replications without a never-treated PCN "
                             "fail with a clear error and are counted)",
    "regional_imputation_icb": "10 ICBs, no need-dependent trend, imputation (BJS), "
                               "clustered on ICB",
    "regional_sun_abraham_icb": "10 ICBs, no need-dependent trend, Sun-Abraham (last-treated "
                                "controls), clustered on ICB",
    "regional_two_stage_icb": "10 ICBs, no need-dependent trend, two-stage (Gardner), "
                              "clustered on ICB",
}

NATIONAL = EnglandDGP(n_icbs=42, pcns_per_icb=6)
REGIONAL = EnglandDGP(n_icbs=10, pcns_per_icb=20)

#: name -> (DGP, estimator, options, cluster column)
DESIGNS: dict[str, tuple[EnglandDGP, str, dict, str]] = {
    "national_cs_nyt_icb": (NATIONAL, "cs", {"control_group": "not_yet_treated"}, "icb"),
    "regional_cs_nyt_icb": (REGIONAL, "cs", {"control_group": "not_yet_treated"}, "icb"),
    "national_cs_nyt_pcn": (NATIONAL, "cs", {"control_group": "not_yet_treated"}, "pcn"),
    # no ICB x quarter shocks: PCN is the right level (false alarms of the level check)
    "national_cs_nyt_pcn_null": (replace(NATIONAL, icb_shock_sd=0.0), "cs",
                                 {"control_group": "not_yet_treated"}, "pcn"),
    "national_cs_never_icb": (NATIONAL, "cs", {"control_group": "never_treated"}, "icb"),
    # starts strongly delayed by ICB: ICB x quarter shocks no longer cancel between
    # treated and comparison practices of an ICB (power of the level check)
    "national_cs_nyt_pcn_icbdelay": (replace(NATIONAL, icb_delay_sd=4.0), "cs",
                                     {"control_group": "not_yet_treated"}, "pcn"),
    "national_cs_nyt_icb_icbdelay": (replace(NATIONAL, icb_delay_sd=4.0), "cs",
                                     {"control_group": "not_yet_treated"}, "icb"),
    "regional_cs_never_icb": (REGIONAL, "cs", {"control_group": "never_treated"}, "icb"),
    # the fixed-effects estimators need parallel trends without covariates
    "regional_imputation_icb": (replace(REGIONAL, need_trend=0.0), "imputation", {}, "icb"),
    "regional_sun_abraham_icb": (replace(REGIONAL, need_trend=0.0), "sun_abraham",
                                 {"control_group": "last_treated"}, "icb"),
    "regional_two_stage_icb": (replace(REGIONAL, need_trend=0.0), "two_stage", {}, "icb"),
}


def overall_by_inference(res) -> dict:
    """The overall (simple) estimate of a fitted group-time result under every
    ``inference=`` choice, redoing only the fit's inference step."""
    from dataclasses import replace as dc_replace

    from spimpact.inference_cluster import INFERENCE_CHOICES, leverage_adjusted, small_sample

    inf = res._inf
    raw = inf.psi  # the fit used inference="analytic": unadjusted influence functions
    G = res.n_clusters if res.n_clusters is not None else inf.n
    out = {}
    for kind in INFERENCE_CHOICES:
        ss = small_sample(kind, G, inf.n)
        psi = (leverage_adjusted(np.nan_to_num(raw.dense() if hasattr(raw, "dense") else raw),
                                 inf.cluster, inf.unit_group, inf.unit_w,
                                 res._cells["gi"].to_numpy(), kind)
               if ss.adjusts_leverage else raw)
        object.__setattr__(res, "_inf", dc_replace(inf, psi=psi, small_sample=ss))
        out[kind] = res.aggregate("simple").overall
    object.__setattr__(res, "_inf", inf)
    return out


def one_rep(name: str, seed: int) -> dict:
    from spimpact import Panel
    from spimpact.did import CallawaySantAnna, Imputation, SunAbraham, TwoStage
    from spimpact.inference_cluster import INFERENCE_CHOICES

    dgp, est_name, opts, cluster = DESIGNS[name]
    frame = simulate_england(dgp, seed)
    data = frame.assign(cohort=frame["cohort"].replace(np.inf, np.nan))
    panel = Panel(data, outcome="y", unit="practice", time="quarter", cohort="cohort",
                  covariates=["need"] if est_name == "cs" else [], cluster=cluster,
                  levels=("practice", "pcn", "icb"))
    cls = {"cs": CallawaySantAnna, "imputation": Imputation, "sun_abraham": SunAbraham,
           "two_stage": TwoStage}[est_name]
    from spimpact.errors import EstimationError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = cls(inference="analytic", **opts).fit(panel)
        except EstimationError as err:  # e.g. no never-treated PCN drawn: counted
            return {"design": name, "seed": seed, "failed": str(err)[:80]}
        by = overall_by_inference(res)
    truth = simple_truth(frame, res.estimates, dgp)
    warns = " ".join(res.warnings)
    out = {"design": name, "seed": seed, "failed": "", "estimate": res.overall.estimate,
           "truth": truth, "n_clusters": int(res.n_clusters)}
    for kind in INFERENCE_CHOICES:
        ov = by[kind]
        out[f"se_{kind}"] = ov.std_error
        out[f"cover_{kind}"] = bool(ov.ci_lower <= truth <= ov.ci_upper)
    return {
        **out,
        "warn_thin": "comparison group is thin" in warns,
        "warn_level": "cluster on 'icb'" in warns,
        "warn_few_cohort": "few clusters behind" in warns,
    }


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for name, d in raw.groupby("design", sort=False):
        failed = d["failed"].fillna("").astype(str).str.len() > 0
        d = d[~failed]
        reps = len(d)
        err = d["estimate"] - d["truth"]
        from spimpact.inference_cluster import INFERENCE_CHOICES

        for inf in INFERENCE_CHOICES:
            se = d[f"se_{inf}"]
            cov = d[f"cover_{inf}"].mean()
            rows.append({
                "design": name, "inference": inf, "reps": reps, "failed": int(failed.sum()),
                "clusters": int(d["n_clusters"].iloc[0]),
                "bias": err.mean(), "bias_mcse": err.std(ddof=1) / np.sqrt(reps),
                "empirical_sd": err.std(ddof=1), "mean_se": se.mean(),
                "coverage": cov, "coverage_mcse": np.sqrt(cov * (1 - cov) / reps),
                "warn_thin": d["warn_thin"].mean(), "warn_level": d["warn_level"].mean(),
                "warn_few_cohort": d["warn_few_cohort"].mean(),
            })
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--quick", action="store_true", help="20 replications per design")
    ap.add_argument("--seed", type=int, default=20260)
    args = ap.parse_args(argv)
    from joblib import Parallel, delayed

    reps = 20 if args.quick else args.reps
    names = args.only or list(DESIGNS)
    raw_path = OUT.with_name("inference_coverage_raw.csv")
    old = pd.read_csv(raw_path) if raw_path.exists() else pd.DataFrame()
    for name in names:
        t0 = time.perf_counter()
        out = Parallel(n_jobs=args.jobs)(delayed(one_rep)(name, args.seed + i)
                                         for i in range(reps))
        raw = pd.DataFrame(out)
        if len(old):
            old = old[old["design"] != name]
        old = pd.concat([old, raw], ignore_index=True)
        old.to_csv(raw_path, index=False)
        print(f"{name}: {reps} reps in {time.perf_counter() - t0:.0f} s")
        print(summarise(raw).round(4).to_string(index=False), flush=True)
    table = summarise(old)
    order = {n: i for i, n in enumerate(DESIGNS)}
    table = table.sort_values("design", key=lambda s: s.map(order), kind="stable")
    table.to_csv(OUT, index=False)
    OUT.with_suffix(".json").write_text(table.to_json(orient="records", indent=1),
                                        encoding="utf-8")
    if not args.quick:
        write_page(table, args.seed)
    return 0


def _fmt(x: float, se: float | None = None, digits: int = 3) -> str:
    out = f"{x:.{digits}g}"
    return out if se is None else f"{out} ({se:.2g})"


def page_section(table: pd.DataFrame, seed: int) -> str:
    """The results page's section: one row per design and inference choice."""
    lines = [
        BEGIN, "", "## Inference with clustered shocks", "",
        "Coverage of the 95% intervals of the overall ATT (simple aggregation) on England-like "
        "rollouts written independently of `spimpact.simulate` (`benchmarks/england_dgp.py`: "
        "PCNs of 5 practices in ICBs, first starts 2019Q3 delayed by need and by ICB, 3% of "
        "PCNs never treated, need-dependent trends, ICB x quarter and PCN x quarter shocks, "
        "AR(1) practice errors, effects growing with time since the start). National designs "
        "keep all 42 ICBs with 6 PCNs each; regional ones have 10 ICBs of 20 PCNs; 16 quarters. "
        "Inference choices (`inference=`): `cluster_t` (`G/(G-1)` variance factor, t(G-1) "
        "critical values), `cv3` (cluster jackknife on the influence function, t(G-1)), "
        "`cr2` (Bell-McCaffrey leverage, t(G-1)) and `analytic` (R did's). The rows of a "
        "design come from the same fits. "
        f"Replication *i* has seed {seed} + *i*. Monte Carlo SEs in brackets; the warning "
        "columns give the share of replications whose result carries that warning.",
        "",
        "| design | inference | clusters | reps (failed) | bias (MCSE) | emp. SE | model SE | "
        "coverage (MCSE) | warns thin comparison | warns cluster level |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in table.iterrows():
        lines.append(
            f"| {r['design']}: {ABOUT.get(r['design'], '')} | {r['inference']} | "
            f"{r['clusters']} | {r['reps']} ({r['failed']}) | "
            f"{_fmt(r['bias'], r['bias_mcse'])} | "
            f"{_fmt(r['empirical_sd'])} | {_fmt(r['mean_se'])} | "
            f"{_fmt(r['coverage'], r['coverage_mcse'])} | {_fmt(r['warn_thin'], digits=2)} | "
            f"{_fmt(r['warn_level'], digits=2)} |")
    lines += ["", END, ""]
    return "\n".join(lines)


def write_page(table: pd.DataFrame, seed: int) -> None:
    """Replace (or append) the section between the markers of the results page."""
    text = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
    section = page_section(table, seed)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    PAGE.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
