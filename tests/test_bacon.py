"""Goodman-Bacon decomposition: each 2x2 estimate against a regression on its
own subsample, the weights against the theorem (they sum to one and reproduce
the TWFE coefficient), errors for unbalanced panels."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spimpact import EstimationError, Panel, PanelError
from spimpact.did import BaconDecomposition, bacon_decomposition

DATA = Path(__file__).parent / "data"
ROLES = dict(outcome="lemp", unit="countyreal", time="year", cohort="first.treat",
             never_treated=0)

#: The decomposition is an identity: it must hold to rounding error.
IDENTITY_TOL = 1e-10
#: linearmodels' TWFE (``.overall``) demeans exactly on a balanced panel.
TWFE_TOL = 1e-10


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(DATA / "mpdta_extra.csv")


def dense_twfe(df: pd.DataFrame, y: str = "lemp", w: str | None = None) -> float:
    """TWFE coefficient by explicit dummy-matrix (weighted) least squares."""
    units, years = np.sort(df["countyreal"].unique()), np.sort(df["year"].unique())
    d = ((df["year"] >= df["first.treat"]) & (df["first.treat"] > 0)).to_numpy(float)
    Z = np.column_stack([d, df["countyreal"].to_numpy()[:, None] == units,
                         df["year"].to_numpy()[:, None] == years[1:]]).astype(float)
    wt = df[w].to_numpy() if w else np.ones(len(df))
    return float(np.linalg.solve(Z.T @ (wt[:, None] * Z), Z.T @ (wt * df[y].to_numpy()))[0])


def fit(panel: Panel) -> BaconDecomposition:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bacon_decomposition(panel)


def test_weights_sum_to_one_and_reproduce_twfe(mpdta):
    bd = fit(Panel(mpdta, **ROLES))
    est = bd.estimates
    assert est["weight"].sum() == pytest.approx(1.0, abs=IDENTITY_TOL)
    assert (est["weight"] > 0).all()
    total = float((est["weight"] * est["estimate"]).sum())
    assert total == pytest.approx(dense_twfe(mpdta), abs=IDENTITY_TOL)
    assert total == pytest.approx(bd.overall.estimate, abs=TWFE_TOL)
    assert set(est["type"]) == {"treated vs never", "earlier vs later",
                                "later vs earlier (forbidden)"}
    # 3 cohorts: 3 vs never, 3 pairs x 2 directions
    assert len(est) == 9
    by = bd.by_type.set_index("type")
    assert by["weight"].sum() == pytest.approx(1.0, abs=IDENTITY_TOL)


def _subsample_twfe(df: pd.DataFrame, treated, control, years) -> float:
    """TWFE on two groups over a window (an already-treated control group's
    indicator is constant there, so the unit effects absorb it)."""
    sub = df[df["first.treat"].isin([treated, control]) & df["year"].isin(years)]
    return dense_twfe(sub)


def test_each_two_by_two_is_a_regression_on_its_subsample(mpdta):
    """A 2x2 DiD of group means equals TWFE on the two groups over its window."""
    bd = fit(Panel(mpdta, **ROLES))
    years = np.arange(2003, 2008)
    for _, row in bd.estimates.iterrows():
        tr = int(row["treated"])
        if row["type"] == "treated vs never":
            co, win = 0, years
        elif row["type"] == "earlier vs later":
            co = int(row["comparison"])
            win = years[years < co]
        else:
            co = int(row["comparison"])
            win = years[years >= co]
        assert row["estimate"] == pytest.approx(_subsample_twfe(mpdta, tr, co, win),
                                                abs=IDENTITY_TOL), (tr, co, row["type"])


def test_unit_weights_and_always_treated_units(mpdta):
    df = mpdta.copy()
    always = df["countyreal"].isin(df["countyreal"].unique()[:40])
    df.loc[always, "first.treat"] = 2003
    bd = fit(Panel(df, weights="wt", **ROLES))
    est = bd.estimates
    assert "later vs always treated (forbidden)" in set(est["type"])
    assert est["weight"].sum() == pytest.approx(1.0, abs=IDENTITY_TOL)
    total = float((est["weight"] * est["estimate"]).sum())
    assert total == pytest.approx(dense_twfe(df, w="wt"), abs=IDENTITY_TOL)
    assert total == pytest.approx(bd.overall.estimate, abs=TWFE_TOL)


def test_forbidden_comparisons_carry_weight_under_staggered_rollout():
    """On the England-like rollout the forbidden comparisons carry real weight,
    and the identity still holds on a larger panel."""
    from spimpact.simulate import pcn_rollout

    panel = pcn_rollout(n_pcns=80, effect="heterogeneous_dynamic", covid=False,
                        random_state=4).panel("wellbeing", covariates=())
    bd = fit(panel)
    assert bd.info["weight on forbidden comparisons"] > 0.1
    total = float((bd.estimates["weight"] * bd.estimates["estimate"]).sum())
    assert total == pytest.approx(bd.overall.estimate, abs=TWFE_TOL)
    ax = bd.plot()
    assert ax.get_xlabel() == "weight"
    assert len(ax.collections) == bd.estimates["type"].nunique()


def test_bad_inputs(mpdta):
    rng = np.random.default_rng(0)
    unbalanced = Panel(mpdta.loc[rng.random(len(mpdta)) > 0.05], **ROLES)
    with pytest.raises(PanelError, match=r"balanced\(\)"):
        bacon_decomposition(unbalanced)
    varying = mpdta.assign(wt=mpdta["wt"] * (1 + (mpdta["year"] - 2003) / 10))
    with pytest.raises(PanelError, match="constant within units"):
        bacon_decomposition(Panel(varying, weights="wt", **ROLES))
    with pytest.raises(EstimationError, match="cohort="):
        bacon_decomposition(Panel(mpdta, outcome="lemp", unit="countyreal", time="year"))
    same = mpdta.assign(**{"first.treat": 2005})
    with pytest.raises(EstimationError, match="no variation"):
        bacon_decomposition(Panel(same, **ROLES))
