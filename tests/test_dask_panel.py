"""Dask panels: the fit of Callaway-Sant'Anna and the aggregation on a
``dask.dataframe.DataFrame`` equal the in-memory ones.

Reference: the in-memory :class:`spimpact.Panel` fit of the same rows (itself
checked against R ``did`` in ``test_did_cs.py``), at 1e-9 relative (the
partitions' sums are added in another order; the observed differences are
about 1e-14).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
dask = pytest.importorskip("dask")

import spimpact as sp  # noqa: E402
from spimpact.did import CallawaySantAnna, SunAbraham  # noqa: E402
from spimpact.errors import EstimationError, OptionError, PanelError  # noqa: E402

RTOL = 1e-9


@pytest.fixture(autouse=True)
def _sync_scheduler():
    with dask.config.set(scheduler="sync"):
        yield


def _frame(n: int = 2400, T: int = 7, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    u = np.repeat(np.arange(n), T)
    t = np.tile(np.arange(2019, 2019 + T), n)
    practice = u // 30
    start = np.array([0, 2021, 2022, 2024, 2030, 2019])[practice % 6]  # 0 never, 2030 late
    coh = start[u]
    y = (rng.normal(size=n * T) + 0.1 * (t - 2019) + ((coh > 0) & (t >= coh)) * 0.7
         + rng.normal(size=practice.max() + 1)[practice])
    return pd.DataFrame({"pid": u, "year": t, "g": coh, "y": y, "practice": practice,
                         "pcn": practice // 4, "w": rng.uniform(0.5, 2.0, size=n)[u]})


def _pair(df: pd.DataFrame, npartitions: int = 5, **roles):
    base = dict(outcome="y", unit="pid", time="year", cohort="g", never_treated=0)
    base.update(roles)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mem = sp.Panel(df, **base)
    dsk = sp.Panel(dd.from_pandas(df, npartitions=npartitions), **base)
    return mem, dsk


def _fit_both(est, mem, dsk):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(mem), est.fit(dsk)


def _same(a, b) -> None:
    ea, eb = a.estimates, b.estimates
    np.testing.assert_allclose(eb["estimate"], ea["estimate"], rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(eb["std_error"], ea["std_error"], rtol=RTOL)
    np.testing.assert_allclose(eb["ci_lower"], ea["ci_lower"], rtol=RTOL, atol=1e-12)
    assert b.overall.estimate == pytest.approx(a.overall.estimate, rel=RTOL)
    assert b.overall.std_error == pytest.approx(a.overall.std_error, rel=RTOL)
    for kind in ("event", "group", "calendar"):
        ta, tb = a.aggregate(kind).estimates, b.aggregate(kind).estimates
        np.testing.assert_allclose(tb["std_error"], ta["std_error"], rtol=RTOL)
    assert b.pretest.statistic == pytest.approx(a.pretest.statistic, rel=1e-7)
    assert b.n_units == a.n_units and b.n_obs == a.n_obs and b.n_clusters == a.n_clusters
    np.testing.assert_allclose(b._cells["pg"], a._cells["pg"], rtol=RTOL)  # cohort shares
    assert b.warnings == a.warnings


@pytest.mark.parametrize("roles", [{}, {"cluster": "practice"}, {"cluster": "pcn", "weights": "w"}])
@pytest.mark.parametrize("inference", ["cv3", "cr2", "cluster_t", "analytic"])
@pytest.mark.parametrize("control_group", ["never_treated", "not_yet_treated"])
def test_cs_equals_in_memory(roles, inference, control_group):
    mem, dsk = _pair(_frame(), **roles)
    est = CallawaySantAnna(control_group=control_group, inference=inference)
    _same(*_fit_both(est, mem, dsk))


@pytest.mark.parametrize("opts", [{"base_period": "universal"}, {"anticipation": 1},
                                  {"method": "ipw", "confidence": 0.9}])
def test_cs_options_equal_in_memory(opts):
    mem, dsk = _pair(_frame(seed=4), cluster="practice")
    _same(*_fit_both(CallawaySantAnna(control_group="not_yet_treated", **opts), mem, dsk))


def test_unweighted_panel_with_weights_column_unclustered_analytic():
    mem, dsk = _pair(_frame(seed=5), weights="w")
    _same(*_fit_both(CallawaySantAnna(inference="cluster_t"), mem, dsk))


def test_partitions_split_units_are_shuffled_and_row_order_does_not_matter():
    df = _frame(seed=6)
    shuffled = df.sample(frac=1.0, random_state=3).reset_index(drop=True)  # units split
    mem, _ = _pair(df, cluster="practice")
    _, dsk = _pair(shuffled, npartitions=6, cluster="practice")
    _same(*_fit_both(CallawaySantAnna(), mem, dsk))


def test_input_frame_not_modified_and_rows_not_collected():
    df = _frame(n=600, seed=7)
    ddf = dd.from_pandas(df, npartitions=3)
    before = ddf.compute()
    panel = sp.Panel(ddf, outcome="y", unit="pid", time="year", cohort="g", never_treated=0)
    assert isinstance(panel, sp.DaskPanel) and panel.data is ddf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = CallawaySantAnna().fit(panel)
    pd.testing.assert_frame_equal(ddf.compute(), before)
    # the driver holds basis rows per cohort block, not one per unit
    assert res._inf.psi.shape[0] < 100 < res.n_units
    with pytest.raises(EstimationError, match="Dask panel"):
        _ = res.influence


def test_distributed_client_gives_the_same_fit():
    distributed = pytest.importorskip("distributed")
    df = _frame(n=900, seed=8)
    mem, dsk = _pair(df, npartitions=4, cluster="practice")
    with distributed.Client(processes=False, n_workers=2, threads_per_worker=1,
                            dashboard_address=None) as client:
        assert client.status == "running"
        with dask.config.set(scheduler=client):
            a, b = _fit_both(CallawaySantAnna(), mem, dsk)
    _same(a, b)


# ------------------------------------------------------------------ refusals
def test_panel_refuses_roles_it_cannot_use():
    ddf = dd.from_pandas(_frame(n=60), npartitions=2)
    base = dict(outcome="y", unit="pid", time="year")
    with pytest.raises(PanelError, match="treatment=.*cohort="):
        sp.Panel(ddf, treatment="g", **base)
    with pytest.raises(PanelError, match="covariates=.*aggregate"):
        sp.Panel(ddf, cohort="g", covariates=["w"], **base)
    with pytest.raises(PanelError, match="'nope' is not in the Dask frame"):
        sp.Panel(ddf, cohort="nope", **base)
    with pytest.raises(PanelError, match="unit= and time="):
        sp.Panel(ddf, outcome="y", time="year")
    with pytest.raises(PanelError, match="pandas or polars DataFrame"):  # a Dask series
        sp.Panel(ddf["y"], outcome="y", unit="pid", time="year")


def test_cs_refuses_what_needs_every_unit():
    _, dsk = _pair(_frame(n=300), cluster="practice")
    with pytest.raises(OptionError, match="bootstrap="):
        CallawaySantAnna(bootstrap=99).fit(dsk)
    with pytest.raises(OptionError, match="covariates="):
        CallawaySantAnna(covariates=["w"]).fit(dsk)
    with pytest.raises(OptionError, match="by="):
        CallawaySantAnna().fit(dsk, by="pcn")
    _, weighted = _pair(_frame(n=300), weights="w")
    with pytest.raises(OptionError, match="needs cluster="):
        CallawaySantAnna().fit(weighted)
    _, exposed = _pair(_frame(n=300).assign(pop=100.0, y=lambda d: d["y"].abs()), exposure="pop")
    with pytest.raises(EstimationError, match="exposure="):
        CallawaySantAnna().fit(exposed)
    with pytest.raises(EstimationError, match="not a DaskPanel.*aggregate"):
        SunAbraham().fit(dsk)


def test_unbalanced_and_missing_outcomes_are_errors_naming_the_partition():
    df = _frame(n=300)
    _, dsk = _pair(df.iloc[1:], npartitions=3)
    with pytest.raises(PanelError, match="partition [0-9] of the Dask frame.*not observed in every"):
        CallawaySantAnna().fit(dsk)
    _, dsk = _pair(df.assign(y=df["y"].where(df.index != 50)), npartitions=3)
    with pytest.raises(PanelError, match="partition [0-9] of the Dask frame.*missing outcome 'y'"):
        CallawaySantAnna().fit(dsk)
    bad = df.copy()
    bad.loc[bad["pid"] == 299, "w"] = np.arange(7.0) + 1
    _, dsk = _pair(bad, npartitions=3, weights="w", cluster="practice")
    with pytest.raises(PanelError, match="weights 'w' change over time"):
        CallawaySantAnna().fit(dsk)


# ------------------------------------------------------------------ aggregate
@pytest.mark.parametrize("roles", [{"exposure": "pop"}, {"weights": "w"},
                                   {"exposure": "pop", "cluster": "pcn"}])
def test_aggregate_equals_in_memory(roles):
    df = _frame(n=1200, seed=9)
    rng = np.random.default_rng(1)
    df["y"] = rng.poisson(3, size=len(df)).astype(float)
    df.loc[rng.random(len(df)) < 0.01, "y"] = np.nan
    df["pop"] = 1.0
    mem, dsk = _pair(df, npartitions=4, levels=["practice", "pcn"], **roles)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = mem.aggregate("practice"), dsk.aggregate("practice")
    assert isinstance(b, sp.Panel) and list(a.frame.columns) == list(b.frame.columns)
    num = a.frame.select_dtypes("number").columns
    np.testing.assert_allclose(b.frame[num].to_numpy(), a.frame[num].to_numpy(), rtol=1e-12)
    assert a.notes[-1] == b.notes[-1]  # rows aggregated and practice-periods short of units
    with pytest.raises(PanelError, match="not one of levels"):
        dsk.aggregate("icb")


def test_clustering_level_test_equals_in_memory():
    """Shocks shared by PCN, clustered on practice: the level warning fires in
    memory and on Dask alike (the test uses sums within practices)."""
    df = _frame(n=2400, seed=11)
    rng = np.random.default_rng(5)
    year_pcn = rng.normal(0, 1.5, size=(df["pcn"].max() + 1, 7))
    df["y"] = df["y"] + year_pcn[df["pcn"], df["year"] - 2019]
    mem, dsk = _pair(df, npartitions=3, cluster="practice", levels=["practice", "pcn"])
    a, b = _fit_both(CallawaySantAnna(control_group="not_yet_treated"), mem, dsk)
    assert any("clustered on 'pcn'" in w for w in a.warnings)
    _same(a, b)


def test_levels_the_dask_fit_cannot_test_are_said_not_tested():
    df = _frame(n=600)
    _, dsk = _pair(df, npartitions=2, levels=["practice", "pcn"])  # units as clusters
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = CallawaySantAnna().fit(dsk)
    assert any("clustering level" in w and "not run" in w for w in res.warnings)


def test_aggregate_refuses_a_cohort_varying_within_the_new_unit():
    df = _frame(n=300)
    df.loc[df["pid"] == 1, "g"] = 2021  # practice 0 starts 2030 otherwise (pid 0-29)
    _, dsk = _pair(df, npartitions=3, levels=["practice"])
    with pytest.raises(PanelError, match="'g' varies within a 'practice' group"):
        dsk.aggregate("practice")


def test_describe_equals_in_memory():
    df = _frame(n=900, seed=10)
    mem, dsk = _pair(df, npartitions=4, cluster="practice", levels=["practice", "pcn"])
    a, b = mem.describe(), dsk.describe()
    for key in ("kind", "rows", "units", "periods", "first period", "last period", "balanced",
                "cohorts (treated)", "treated units", "never-treated units", "clusters",
                "practice (level)", "pcn (level)"):
        assert b[key] == a[key], key
    assert b["outcome mean"] == pytest.approx(a["outcome mean"], rel=1e-12)
    assert b["partitions"] == 4
