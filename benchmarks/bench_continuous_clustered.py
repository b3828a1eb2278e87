"""Coverage of ContinuousDiD's default (cv3) intervals when clustered with shared shocks.

The numbers quoted in docs/guide/did.md ("With the default inference='cv3'"):
the realistic defaults clustered on 15 ICBs and the small classic rollout
clustered on PCN, with the replications, truths and summaries of
``tests/test_did_continuous_mc.py`` (seeds 31000 + i).

    python benchmarks/bench_continuous_clustered.py [--reps 200] [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main(argv: list[str] | None = None) -> int:
    from test_did_continuous_mc import REALISTIC, SCENARIO, SEED, one_rep
    from test_did_dcdh_mc import summarise

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="5 replications")
    args = ap.parse_args(argv)
    reps = 5 if args.quick else args.reps
    for name, scenario, cluster in (("realistic, clustered on ICB", REALISTIC, "icb"),
                                    ("classic, clustered on PCN", SCENARIO, "pcn")):
        raw = pd.concat([one_rep(SEED + i, scenario, cluster) for i in range(reps)],
                        ignore_index=True)
        print(name)
        print(summarise(raw).to_string(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
