"""Golden values for spimpact.did.ChaisemartinDHaultfoeuille.

Run with the authors' Python package (not a spimpact dependency), e.g.

    python -m venv /tmp/venv-dyn
    /tmp/venv-dyn/bin/pip install py-did-multiplegt-dyn==0.1.9 "polars<2"
    /tmp/venv-dyn/bin/python tests/data/did/make_dcdh_reference.py

``py_did_multiplegt_dyn`` 0.1.9 is the Python version of ``did_multiplegt_dyn``
(Stata) / ``DIDmultiplegtDYN`` (R) by de Chaisemartin, D'Haultfoeuille and their
team. Writes ``dcdh_reference.csv``: for each data set and setting, every
effect, placebo and the average total effect (estimate, SE, switchers) and
the joint placebo test's p-value.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import polars as pl
from did_multiplegt_dyn import DidMultiplegtDyn

HERE = Path(__file__).parent
DATA = {
    "favara_imbs": ("favara_imbs.csv.gz", dict(outcome="Dl_vloans_b", group="county",
                                               time="year", treatment="inter_bra"), "state_n"),
    "dcdh_sim": ("dcdh_sim.csv", dict(outcome="y", group="g", time="year", treatment="d"), "cl"),
}
SETTINGS = {
    "default": {},
    "cluster": {"cluster": True},
    "normalized": {"normalized": True},
    "normalized_cluster": {"normalized": True, "cluster": True},
    "weight": {"weight": "w"},
    "weight_cluster_normalized": {"weight": "w", "cluster": True, "normalized": True},
}


def main() -> None:
    rows = []
    for name, (file, cols, cluster) in DATA.items():
        df = pl.from_pandas(pd.read_csv(HERE / file))
        effects, placebo = (5, 3) if name == "favara_imbs" else (4, 2)
        for setting, opts in SETTINGS.items():
            if "weight" in opts and "w" not in df.columns:
                continue
            kw = dict(opts)
            if kw.pop("cluster", False):
                kw["cluster"] = cluster
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = DidMultiplegtDyn(df=df, **cols, effects=effects, placebo=placebo, **kw)
                m.fit()
            r = m.result["did_multiplegt_dyn"]
            tabs = [("effect", r["Effects"], 1), ("placebo", r["Placebos"], -1),
                    ("average", r["ATE"], 0)]
            for target, tab, sign in tabs:
                for i, (_, row) in enumerate(tab.iterrows(), start=1):
                    rows.append(dict(data=name, setting=setting, target=target,
                                     horizon=sign * i, estimate=row["Estimate"],
                                     std_error=row["SE"], n_switchers=row["Switchers"]))
            rows.append(dict(data=name, setting=setting, target="joint_placebo_p",
                             horizon=0, estimate=float(r["p_jointplacebo"]), std_error=None,
                             n_switchers=None))
            print(name, setting, json.dumps(kw))
    out = pd.DataFrame(rows)
    out.to_csv(HERE / "dcdh_reference.csv", index=False, float_format="%.15g")


if __name__ == "__main__":
    main()
