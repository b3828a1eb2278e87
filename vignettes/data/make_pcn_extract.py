"""Write ``pcn_extract.csv``: the example extract that ``vignettes/analysis.toml``
analyses with ``spimpact run``.

A PCN-quarter panel summed up from a simulated England-like practice-quarter
rollout (150 PCNs in 6 ICBs, 2018Q1-2024Q4, seed 2024), laid out as an
analyst's extract would be: one row per PCN and quarter, the quarter the PCN's
link-worker service started (empty: never within the window), the registered
list size, A&E attendances, the mean wellbeing score of its practices and
whether most of its practices are rural. Run from the repository root:
``python vignettes/data/make_pcn_extract.py``.
"""

from __future__ import annotations

from pathlib import Path

from spimpact.simulate import pcn_rollout


def extract(random_state: int = 2024):
    """The PCN-quarter extract as a DataFrame."""
    data = pcn_rollout(n_pcns=150, n_icbs=6, random_state=random_state).data
    out = data.groupby(["pcn", "quarter"], as_index=False, observed=True).agg(
        icb=("icb", "first"),
        first_quarter=("cohort", "first"),
        list_size=("list_size", "sum"),
        ae_attendances=("ae_attendances", "sum"),
        wellbeing=("wellbeing", "mean"),
        rural=("rural", "mean"),
    )
    out["rural"] = (out["rural"] > 0.5).astype(int)
    out["wellbeing"] = out["wellbeing"].round(4)
    return out


if __name__ == "__main__":
    path = Path(__file__).with_name("pcn_extract.csv")
    extract().to_csv(path, index=False)
    print(f"wrote {path}")
