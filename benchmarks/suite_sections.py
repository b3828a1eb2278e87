"""Run some standard suites and replace only their sections of the results page.

``make bench`` runs every standard suite and writes the whole of
``docs/bench_results.md``. After a change that touches one family, or to run
the longest suite (``england``: 500 replications of five runs on 6,500
practices x 24 quarters, about an hour on two cores) on its own, this script
runs the named suites and replaces each one's section (from its ``## title``
heading to the next section) with the section ``make bench`` would write,
leaving the rest of the page as it is; a suite not yet on the page goes before
the inference-coverage section.

    python benchmarks/suite_sections.py england did [--reps N] [--n-jobs 2]
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "bench_results.md"
INFERENCE_MARKER = "<!-- inference coverage: begin"


def replace_section(page: str, title: str, section: str) -> str:
    """``page`` with the section headed ``## {title}`` replaced by ``section``."""
    head = f"## {title}\n"
    if head in page:
        start = page.index(head)
        nxt = re.search(r"^(## |<!-- )", page[start + len(head):], flags=re.M)
        end = start + len(head) + (nxt.start() if nxt else len(page) - start - len(head))
        return page[:start] + section.rstrip() + "\n\n" + page[end:]
    at = page.index(INFERENCE_MARKER) if INFERENCE_MARKER in page else len(page)
    return page[:at] + section.rstrip() + "\n\n" + page[at:]


def main(argv: list[str] | None = None) -> int:
    from spimpact.bench._page import results_markdown
    from spimpact.bench.suites import load_suite, run_suite, standard_suites, write_outputs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suites", nargs="+", help="standard suite names, e.g. england did")
    ap.add_argument("--reps", type=int, default=None, help="cap on replications")
    ap.add_argument("--n-jobs", type=int, default=None)
    args = ap.parse_args(argv)
    for name in args.suites:
        suite = load_suite(standard_suites() / f"{name}.toml")
        t0 = time.perf_counter()
        res = run_suite(suite, reps=args.reps, n_jobs=args.n_jobs)
        print(f"{name}: {res.reps} replications per run in {time.perf_counter() - t0:.0f} s",
              flush=True)
        write_outputs([res], ROOT / "benchmarks" / "results" / name)
        text = results_markdown([res])
        section = text[text.index(f"## {suite.title}\n"):]
        page = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        PAGE.write_text(replace_section(page, suite.title, section), encoding="utf-8")
        print(f"wrote {name}'s section of {PAGE}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
