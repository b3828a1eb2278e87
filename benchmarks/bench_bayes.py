"""Speed of the Bayesian family, and a comparison with bambi.

Whole-process timings: each fit runs in its own subprocess (imports, data,
model building, compilation and sampling included), so nothing compiled in
one run is reused by another within this script. Compiled-code caches on disk
(PyTensor's and numba's) are whatever the machine holds; the first run on a
fresh machine is the slowest.

Targets:
- the radon varying-intercept model (``y ~ x + (1 | county)``, 919 homes,
  4 chains x 1,000 draws after 1,000 tuning steps) in under 90 s;
- an England-scale practice panel (about 6,500 practices x 28 quarters,
  Poisson with the list size as exposure, practice effects nested in PCN
  effects, staggered DiD with pooled cohort-by-period effects, 4 chains x
  1,000 draws after 1,000 tuning steps) in under 10 minutes;
- bambi on the radon model, for comparison (bambi expands group terms into
  design matrices and has no staggered-DiD model, so the England-scale DiD is
  not fitted with it). bambi runs from its own environment (``--peer-python``)
  so it never constrains spimpact's PyMC (default: ``$SPIMPACT_PEER_PYTHON``,
  else ``.venv-peers/bin/python``; skipped when neither exists).

Run: ``python benchmarks/bench_bayes.py [--quick] [--peer-python PATH]``
(``--quick``: a fifth of the PCNs and 300 draws). Results go to
``benchmarks/results/bayes_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RADON = HERE.parent / "tests" / "data" / "radon_mn.csv"
TARGET_RADON_S = 90.0
TARGET_ENGLAND_S = 600.0

RADON_SPIMPACT = """
import json, time, warnings
warnings.simplefilter("ignore")
t0 = time.perf_counter()
import pandas as pd, spimpact as sp
from spimpact.bayes import MultilevelModel
df = pd.read_csv({path!r})
panel = sp.Panel(df, outcome="y", covariates=["x"], levels=["county"])
t1 = time.perf_counter()
res = MultilevelModel("y ~ x + (1 | county)", random_state=1).fit(panel)
t2 = time.perf_counter()
est = res.estimates.set_index("term")["estimate"].round(4).to_dict()
print(json.dumps({{"fit_s": t2 - t1, "estimates": est, "max_rhat": res.diagnostics["max_rhat"],
                  "min_ess_bulk": res.diagnostics["min_ess_bulk"],
                  "divergences": res.diagnostics["divergences"]}}))
"""

RADON_BAMBI = """
import json, time, warnings
warnings.simplefilter("ignore")
import pandas as pd, bambi as bmb, arviz as az
df = pd.read_csv({path!r})
df["county"] = df["county"].astype("category")
t1 = time.perf_counter()
model = bmb.Model("y ~ x + (1 | county)", df)
idata = model.fit(draws=1000, tune=1000, chains=4, random_seed=1, inference_method={method!r},
                  progressbar=False)
t2 = time.perf_counter()
post = idata.posterior
est = {{"Intercept": float(post["Intercept"].mean()), "x": float(post["x"].mean()),
        "sd(Intercept | county)": float(post["1|county_sigma"].mean()),
        "sigma": float(post["sigma"].mean())}}
rhat = float(az.rhat(post[["Intercept", "x", "sigma", "1|county_sigma"]]).to_array().max())
import bambi, pymc
print(json.dumps({{"fit_s": t2 - t1, "estimates": est, "max_rhat": rhat,
                  "versions": {{"bambi": bambi.__version__, "pymc": pymc.__version__}}}}))
"""

ENGLAND = """
import json, time, warnings
warnings.simplefilter("ignore")
t0 = time.perf_counter()
from spimpact.bayes import MultilevelDiD
from spimpact.simulate import pcn_rollout
sim = pcn_rollout(n_pcns={n_pcns}, covid=False, random_state=2019)
panel = sim.panel("ae_attendances", covariates=())
t1 = time.perf_counter()
res = MultilevelDiD(family="poisson", leads=False, unit_levels=("pcn",),
                    centred=("practice", "pcn"), draws={draws}, tune={draws},
                    random_state=1).fit(panel)
t2 = time.perf_counter()
d = res.diagnostics
print(json.dumps({{"rows": panel.n_obs, "practices": panel.n_units, "fit_s": t2 - t1,
                  "overall": res.overall.estimate, "overall_sd": res.overall.std_error,
                  "truth": sim.params.effect_size["ae_attendances"],
                  "max_rhat": d["max_rhat"], "max_rhat_var": d["max_rhat_var"],
                  "min_ess_bulk": d["min_ess_bulk"], "min_ess_bulk_var": d["min_ess_bulk_var"],
                  "divergences": d["divergences"]}}))
"""


def run(python: str, code: str, timeout: float) -> dict:
    """Run ``code`` in a fresh process; its last output line is JSON."""
    t0 = time.perf_counter()
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=timeout,
                          check=False, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:], "process_s": wall}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_s"] = wall
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--peer-python", default=os.environ.get(
        "SPIMPACT_PEER_PYTHON", str(HERE.parent / ".venv-peers" / "bin" / "python")))
    ap.add_argument("--out", default=str(HERE / "results" / "bayes_speed.json"))
    args = ap.parse_args()
    results: dict = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    radon = run(sys.executable, RADON_SPIMPACT.format(path=str(RADON)), 900)
    radon["target_s"], radon["ok"] = TARGET_RADON_S, radon.get("process_s", 1e9) < TARGET_RADON_S
    results["radon_spimpact"] = radon
    print("radon, spimpact:", json.dumps(radon), flush=True)
    if Path(args.peer_python).exists():
        for method in ("pymc", "nutpie"):
            out = run(args.peer_python, RADON_BAMBI.format(path=str(RADON), method=method), 900)
            results[f"radon_bambi_{method}"] = out
            print(f"radon, bambi ({method}):", json.dumps(out), flush=True)
    else:
        results["radon_bambi"] = {"skipped": f"no peer python at {args.peer_python}"}
    n_pcns, draws = (250, 300) if args.quick else (1250, 1000)
    eng = run(sys.executable, ENGLAND.format(n_pcns=n_pcns, draws=draws), 3600)
    eng["target_s"] = TARGET_ENGLAND_S
    eng["ok"] = args.quick or eng.get("process_s", 1e9) < TARGET_ENGLAND_S
    results["england_did"] = eng
    print("England-scale DiD:", json.dumps(eng), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    failed = [k for k in ("radon_spimpact", "england_did") if not results[k].get("ok")]
    if failed:
        print(f"targets missed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
