"""Run the realistic-England suite alone and put its section on the results page.

``make bench`` runs every standard suite (the England one included) and writes
the whole of ``docs/bench_results.md``; the England suite is the longest (500
replications of five runs on 6,500 practices x 24 quarters, about an hour on two
cores), so this script runs it on its own and replaces only its section (between
markers), leaving the rest of the page as it is. The section is the one
``make bench`` writes.

    python benchmarks/england_suite.py [--reps N] [--n-jobs 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "bench_results.md"
OUT = ROOT / "benchmarks" / "results" / "england"
BEGIN, END = "<!-- england suite: begin -->", "<!-- england suite: end -->"


def main(argv: list[str] | None = None) -> int:
    from spimpact.bench._page import results_markdown
    from spimpact.bench.suites import load_suite, run_suite, standard_suites, write_outputs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=None, help="cap on replications")
    ap.add_argument("--n-jobs", type=int, default=None)
    args = ap.parse_args(argv)
    suite = load_suite(standard_suites() / "england.toml")
    t0 = time.perf_counter()
    res = run_suite(suite, reps=args.reps, n_jobs=args.n_jobs)
    print(f"england suite: {res.reps} replications per run in {time.perf_counter() - t0:.0f} s")
    write_outputs([res], OUT)
    text = results_markdown([res])
    body = text[text.index("## "):].rstrip()
    section = f"{BEGIN}\n\n{body}\n\n{END}"
    page = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
    if BEGIN in page and END in page:
        page = page[:page.index(BEGIN)] + section + page[page.index(END) + len(END):]
    else:
        anchor = "<!-- inference coverage: begin"
        at = page.index(anchor) if anchor in page else len(page)
        page = page[:at] + section + "\n\n" + page[at:]
    PAGE.write_text(page, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
