"""Regenerate the HonestDiD reference files of tests/test_honest.py.

1. ``medicaid_betahat.csv`` / ``medicaid_sigma.csv``: the event study of the
   HonestDiD README's Medicaid example (Rambachan and Roth; data
   ``ehec_data`` from Mixtape-Sessions/Advanced-DID, shipped with moderndid as
   ``moderndid/core/datasets/ehec_data.pkl.gz``): years before 2016, the 2015
   cohort dropped, ``dins ~ i(year, D, ref=2013) | stfips + year`` clustered by
   state, exactly the README's ``fixest::feols`` call, here run with pyfixest
   (which reproduces fixest's small-sample corrections). Run with the
   project's environment: ``python make_medicaid_reference.py inputs``.
2. ``medicaid_moderndid.csv``: moderndid 0.2.0's ``honest_did`` functions on
   those inputs (a peer validated against the authors' package: its FLCI
   matches the README's printed table). Run in a separate venv with
   ``pip install "moderndid[didhonest]==0.2.0" "polars<2"``:
   ``python make_medicaid_reference.py peer``.

``medicaid_readme.csv`` holds the intervals printed in the HonestDiD README
(github.com/asheshrambachan/HonestDiD, README.md, "Example usage - Medicaid
expansions"), typed from the page.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def inputs(ehec_path: str) -> None:
    import pyfixest as pf

    df = pd.read_pickle(ehec_path)
    d = df[(df.year < 2016) & (df.yexp2.isna() | (df.yexp2 != 2015))].copy()
    d["D"] = (d.yexp2 == 2014).astype(int)
    fit = pf.feols("dins ~ i(year, D, ref=2013) | stfips + year", data=d,
                   vcov={"CRV1": "stfips"})
    np.savetxt(HERE / "medicaid_betahat.csv", fit.coef().to_numpy()[None, :], delimiter=",",
               fmt="%.17g")
    np.savetxt(HERE / "medicaid_sigma.csv", fit._vcov, delimiter=",", fmt="%.17g")


def peer() -> None:
    from moderndid.didhonest.sensitivity import (
        construct_original_cs,
        create_sensitivity_results_rm,
        create_sensitivity_results_sm,
    )

    b = np.loadtxt(HERE / "medicaid_betahat.csv", delimiter=",")
    V = np.loadtxt(HERE / "medicaid_sigma.csv", delimiter=",")
    rows = []
    for name, l_vec in (("first", np.array([1.0, 0.0])), ("average", np.array([0.5, 0.5]))):
        o = construct_original_cs(b, V, 5, 2, l_vec=l_vec)
        rows.append((name, "original", np.nan, o.lb, o.ub))
        sd = create_sensitivity_results_sm(b, V, 5, 2, m_vec=np.arange(0, 0.0501, 0.01),
                                           l_vec=l_vec)
        rows += [(name, "FLCI", m, lb, ub) for lb, ub, m in
                 zip(sd["lb"], sd["ub"], sd["m"], strict=True)]
        for method in ("C-LF", "Conditional"):
            rm = create_sensitivity_results_rm(b, V, 5, 2, method=method,
                                               m_bar_vec=np.arange(0, 2.01, 0.5), l_vec=l_vec)
            rows += [(name, method, m, lb, ub) for lb, ub, m in
                     zip(rm["lb"], rm["ub"], rm["Mbar"], strict=True)]
    pd.DataFrame(rows, columns=["l_vec", "method", "M", "lb", "ub"]).to_csv(
        HERE / "medicaid_moderndid.csv", index=False, float_format="%.10g")


if __name__ == "__main__":
    if sys.argv[1] == "inputs":
        inputs(sys.argv[2])
    else:
        peer()
