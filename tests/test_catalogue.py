"""The bad-input and edge-case catalogue of the estimators, built from the registry.

Every case ends in one of two ways, never in a raw numpy / pandas /
statsmodels / scipy exception or a silent NaN or zero standard error:

* a :class:`~spimpact.SpimpactError` whose message names the column or value
  and the fix (``error=`` patterns below), or
* a result whose estimates are finite, with a warning on ``result.warnings``
  naming the problem (``warns=`` patterns), or no warning when the input is
  an edge case the estimator handles (``ok``).

The user's frame is never modified. The per-estimator cases (wrong object to
``fit``, result attributes asked of an estimator, roles an estimator does not
use) run on every estimator of :func:`spimpact._estimator.all_estimators`;
:data:`KINDS` says which data each is fitted with and fails for an exported
estimator without an entry. The Bayesian estimators only meet cases that fail
before sampling, so the catalogue stays fast. ``tests/test_panel_errors.py``
holds the Panel's own catalogue.
"""

from __future__ import annotations

import copy
import functools
import pickle
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

import spimpact as sp
from spimpact._estimator import all_estimators
from spimpact.errors import NotFittedError, SpimpactError

REGISTRY = dict(all_estimators())


# ------------------------------------------------------------------- data
@functools.cache
def _did() -> pd.DataFrame:
    """40 units over 2010-2017: cohorts 2013, 2015, 2016 and never (0), 20 clusters."""
    rng = np.random.default_rng(0)
    n, years = 40, np.arange(2010, 2018)
    u = np.repeat(np.arange(n), len(years))
    t = np.tile(years, n)
    coh_u = np.array([2013, 2015, 0, 2016])[np.arange(n) % 4]
    d = (coh_u[u] > 0) & (t >= coh_u[u])
    x_u = rng.normal(size=n)
    y = 1 + 0.5 * x_u[u] + 0.1 * (t - 2010) + rng.normal(size=n)[u] + d + rng.normal(0, .5, len(u))
    return pd.DataFrame({
        "unit": [f"u{i:02d}" for i in u], "year": t, "cohort": coh_u[u], "d": d.astype(int),
        "y": y, "x": x_u[u], "z": rng.normal(size=len(u)), "pcn": [f"p{i % 20:02d}" for i in u],
        "w": rng.uniform(0.5, 2, n)[u], "pop": rng.uniform(1e3, 5e3, n)[u],
        "count": rng.poisson(20 + 5 * d).astype(float),
        "dose": np.where(coh_u > 0, rng.uniform(1, 3, n), 0.0)[u],
    })


DID = {"outcome": "y", "unit": "unit", "time": "year", "cohort": "cohort", "never_treated": 0,
       "cluster": "pcn"}


@functools.cache
def _xs() -> pd.DataFrame:
    """400 people: age, sex, a logit treatment and a linear outcome."""
    rng = np.random.default_rng(1)
    n = 400
    age, sex = rng.normal(50, 10, n), rng.choice(["f", "m"], n)
    p = 1 / (1 + np.exp(-(-1 + 0.03 * (age - 50) + 0.3 * (sex == "m"))))
    d = (rng.uniform(size=n) < p).astype(int)
    y = 2 + 0.05 * age + 0.5 * (sex == "m") + d + rng.normal(size=n)
    return pd.DataFrame({"y": y, "d": d, "age": age, "sex": sex, "w": rng.uniform(0.5, 2, n),
                         "pop": 1e3, "dose": 1.0})


XS = {"outcome": "y", "treatment": "d", "covariates": ["age", "sex"]}


@functools.cache
def _series(counts: bool = False) -> pd.DataFrame:
    """48 months, interrupted at 2018-01."""
    rng = np.random.default_rng(2)
    n = 48
    post = np.arange(n) >= 24
    y = (rng.poisson(np.exp(3 + 0.005 * np.arange(n) - 0.3 * post)).astype(float) if counts
         else 10 + 0.05 * np.arange(n) + 2 * post + rng.normal(size=n))
    return pd.DataFrame({"month": pd.period_range("2016-01", periods=n, freq="M"), "y": y,
                         "pop": 1e4, "temp": rng.normal(size=n), "w": 1.0})


ITS = {"outcome": "y", "time": "month"}


@functools.cache
def _sites() -> pd.DataFrame:
    """Six sites over 36 months; four interrupted at month 18, two never."""
    rng = np.random.default_rng(3)
    m = pd.period_range("2018-01", periods=36, freq="M")
    frames = []
    for s in range(6):
        start = m[18] if s < 4 else None
        y = rng.poisson(np.exp(3 + 0.1 * s + 0.3 * (np.arange(36) >= 18) * (s < 4)))
        frames.append(pd.DataFrame({"site": f"s{s}", "month": m, "y": y.astype(float),
                                    "start": start, "pop": 1e4, "w": 1.0, "temp":
                                    rng.normal(size=36)}))
    return pd.concat(frames, ignore_index=True)


SITES = {"outcome": "y", "unit": "site", "time": "month", "cohort": "start"}


@functools.cache
def _comparison() -> pd.DataFrame:
    """A treated series 'a' and two comparison series, 48 months."""
    rng = np.random.default_rng(4)
    base = _series(True)
    return pd.concat([base.assign(series=s, y=rng.poisson(20 + 5 * (s == "a") * (
        np.arange(48) >= 24)).astype(float)) for s in "abc"], ignore_index=True)


CITS = {"outcome": "y", "unit": "series", "time": "month"}


@functools.cache
def _radon() -> pd.DataFrame:
    from pathlib import Path

    return pd.read_csv(Path(__file__).parent / "data" / "radon_mn.csv")


@dataclass(frozen=True)
class Kind:
    """How an estimator of the registry is fitted here: data, roles, settings."""

    data: Callable[[], pd.DataFrame]
    roles: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)
    bayes: bool = False


#: One entry per exported estimator (a new estimator adds a line).
KINDS: dict[str, Kind] = {
    **{n: Kind(_did, DID) for n in ("CallawaySantAnna", "SunAbraham", "Imputation",
                                    "TwoStage", "TWFE", "ETWFE")},
    "ContinuousDiD": Kind(_did, {**DID, "dose": "dose"}),
    # a general (non-binary, non-absorbing) treatment: d, the 0/1 path, is one
    "ChaisemartinDHaultfoeuille": Kind(_did, {**{k: v for k, v in DID.items() if k not in (
        "cohort", "never_treated")}, "treatment": "d", "treatment_kind": "general"},
        {"effects": 2, "placebo": 1}),
    **{n: Kind(_xs, XS) for n in ("PropensityScoreMatching", "InverseProbabilityWeighting",
                                  "AugmentedIPW", "EntropyBalancing")},
    "SegmentedRegression": Kind(lambda: _series(False), ITS, {"interruption": "2018-01"}),
    "ControlledITS": Kind(_comparison, CITS, {"interruption": "2018-01", "treated": "a"}),
    "MultiSiteITS": Kind(_sites, SITES),
    "MultilevelModel": Kind(_radon, {"outcome": "y", "covariates": ["x"], "levels": ["county"]},
                            {"formula": "y ~ x + (1 | county)"}, bayes=True),
    "MultilevelDiD": Kind(_did, DID, bayes=True),
    "MultilevelITS": Kind(_sites, SITES, bayes=True),
}


def _kind(name: str) -> Kind:
    if name not in KINDS:
        pytest.fail(f"{name} is exported but has no entry in KINDS of {__file__}: add the data, "
                    f"roles and settings it is fitted with.")
    return KINDS[name]


def test_every_exported_estimator_has_a_kind() -> None:
    assert sorted(set(REGISTRY) - set(KINDS)) == []
    assert sorted(set(KINDS) - set(REGISTRY)) == []


# ----------------------------------------------------------------- checking
def _message_has(message: str, patterns: list[str]) -> None:
    for pattern in patterns:
        assert pattern in message, (pattern, message)


def _fit(est: Any, panel: sp.Panel) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(panel)


def _finite(res: Any) -> None:
    """No silent NaN or zero: the estimated rows have finite, positive SEs (reference
    rows, an estimate of exactly 0 by construction without an SE, aside)."""
    tab = res.estimates
    reference = (tab["estimate"] == 0) & tab["std_error"].isna()
    est = tab.loc[tab["estimate"].notna() & ~reference]
    assert len(est) > 0
    if res.overall is not None:
        assert np.isfinite(res.overall.estimate) and res.overall.std_error > 0
    assert np.isfinite(est["estimate"]).all()
    se = est["std_error"].to_numpy(dtype=float)
    assert np.isfinite(se).all() and (se > 0).all(), est


@dataclass(frozen=True)
class Case:
    """One bad input or edge case: the frame, the Panel roles and the estimator."""

    estimator: str
    edit: Callable[[pd.DataFrame], pd.DataFrame] = lambda d: d
    roles: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    #: patterns of the SpimpactError message (the Panel's or the fit's)
    error: list[str] | None = None
    #: patterns of one warning on the result (the estimates then must be finite)
    warns: list[str] | None = None


def _run(case: Case) -> None:
    kind = _kind(case.estimator)
    df = case.edit(kind.data().copy())
    before = df.copy(deep=True)
    roles = {k: v for k, v in {**kind.roles, **case.roles}.items() if v is not None}
    est = REGISTRY[case.estimator](**{**kind.settings, **case.settings})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            panel = sp.Panel(df, **roles)
            res = est.fit(panel)
    except SpimpactError as exc:
        if case.error is None:
            raise
        _message_has(str(exc), case.error)
    else:
        assert case.error is None, f"expected an error naming {case.error}, got a result"
        _finite(res)
        if case.warns is not None:
            assert any(all(p in w for p in case.warns) for w in res.warnings), res.warnings
    pd.testing.assert_frame_equal(df, before)


def _set(col: str, value: Any, where: Callable[[pd.DataFrame], Any] | None = None
         ) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(d: pd.DataFrame) -> pd.DataFrame:
        d = d.copy()
        if where is None:
            d[col] = value(d) if callable(value) else value
        else:
            d.loc[where(d), col] = value
        return d
    return edit


FE_DID = ("SunAbraham", "Imputation", "TwoStage", "TWFE")
LEVEL_DID = ("CallawaySantAnna", *FE_DID, "ETWFE")
MATCHING = ("PropensityScoreMatching", "InverseProbabilityWeighting", "AugmentedIPW",
            "EntropyBalancing")
FREQ_ITS = ("SegmentedRegression", "ControlledITS", "MultiSiteITS")

CASES: dict[str, Case] = {}
for _e in LEVEL_DID:
    CASES |= {
        f"{_e}: collinear covariates": Case(
            _e, _set("z2", lambda d: 2 * d["z"]), {"covariates": ["z", "z2"]},
            {"covariates": ["z", "z2"]}, error=["'z2'", "combination"]),
        f"{_e}: formula in covariates=": Case(
            _e, roles={"covariates": ["z"]}, settings={"covariates": "z + I(z**2)"},
            error=["not a formula", "'z + I(z**2)'", "covariates=['age', 'age_sq']"]),
        f"{_e}: integer column name as covariate": Case(
            _e, lambda d: d.assign(**{"7": d["z"]}).rename(columns={"7": 7}),
            {"covariates": [7]}, {"covariates": [7]}),
        f"{_e}: one cluster": Case(
            _e, _set("pcn", "p00"), error=["1 cluster", "'pcn'", "drop cluster="]),
        f"{_e}: single-unit cohort": Case(
            _e, _set("cohort", 2011, lambda d: d["unit"] == "u00"),
            warns=["small cohorts", "2011 (1 unit)"]),
        f"{_e}: cohort after the window (typo 2070)": Case(
            _e, _set("cohort", 2070, lambda d: d["unit"] == "u00"),
            warns=["1 units have a cohort after the last period 2017", "cohort=2070"]),
        f"{_e}: dose= it cannot use": Case(
            _e, roles={"dose": "dose"}, error=["dose='dose'", "ContinuousDiD"]),
        f"{_e}: exposure= it cannot use": Case(
            _e, roles={"exposure": "pop", "outcome": "count"}, error=["exposure='pop'"]),
    }
CASES |= {
    "CallawaySantAnna: constant covariate": Case(
        "CallawaySantAnna", _set("c", 1.0), {"covariates": ["c"]}, {"covariates": ["c"]},
        error=["'c' is constant", "covariates="]),
    "ETWFE: constant covariate": Case(
        "ETWFE", _set("c", 1.0), {"covariates": ["c"]}, {"covariates": ["c"]},
        error=["x c'", "collinear"]),
    **{f"{e}: constant covariate": Case(
        e, _set("c", 1.0), {"covariates": ["c"]}, {"covariates": ["c"]},
        warns=["['c']", "absorb"]) for e in FE_DID},
    "CallawaySantAnna: bool cluster column": Case(
        "CallawaySantAnna", _set("pcn", lambda d: d["x"] > 0)),
    "CallawaySantAnna: categorical unit and cluster": Case(
        "CallawaySantAnna", lambda d: d.assign(unit=d["unit"].astype("category"),
                                               pcn=d["pcn"].astype("category"))),
    "SunAbraham: bool treatment indicator": Case(
        "SunAbraham", _set("d", lambda d: d["d"].astype(bool)),
        {"cohort": None, "never_treated": None, "treatment": "d"}),
    "CallawaySantAnna: no cohorts": Case(
        "CallawaySantAnna", roles={"cohort": None, "never_treated": None},
        error=["cohort="]),
    "TWFE: cluster missing everywhere (zero clusters)": Case(
        "TWFE", _set("pcn", None), error=["cluster column 'pcn' is missing"]),
    "CallawaySantAnna: blank cohort strings": Case(
        "CallawaySantAnna",
        lambda d: d.assign(year=d["year"].astype(str) + "Q1",
                           cohort=np.where(d["cohort"] > 0, d["cohort"].astype(str) + "Q1", "")),
        {"never_treated": None}, error=["holds '' in 80 rows", "never_treated=''"]),
    "CallawaySantAnna: 'NA' cohort strings": Case(
        "CallawaySantAnna",
        lambda d: d.assign(year=d["year"].astype(str) + "Q1",
                           cohort=np.where(d["cohort"] > 0, d["cohort"].astype(str) + "Q1", "NA")),
        {"never_treated": None}, error=["holds 'NA'", "never_treated='NA'"]),
    "CallawaySantAnna: blank cluster strings": Case(
        "CallawaySantAnna", _set("pcn", "", lambda d: d["pcn"] == "p01"),
        error=["cluster column 'pcn' holds a blank string", "16 rows"]),
    "Imputation: weights of 1e300": Case(
        "Imputation", _set("w", 1e300), {"weights": "w"},
        error=["weights column 'w'", "1e+300", "Rescale"]),
    "CallawaySantAnna: weights of 1e-300": Case(
        "CallawaySantAnna", _set("w", 1e-300), {"weights": "w"},
        error=["weights column 'w'", "1e-300", "Divide the weights by their mean"]),
    "ETWFE: outcomes of 1e200": Case(
        "ETWFE", _set("y", lambda d: d["y"] * 1e200),
        error=["outcome column 'y'", "Rescale"]),
    "CallawaySantAnna: infinite covariate": Case(
        "CallawaySantAnna", _set("z", np.inf, lambda d: d.index == 5), {"covariates": ["z"]},
        error=["covariate column 'z' holds infinite values", "rows 5"]),
    "TwoStage: missing covariate": Case(
        "TwoStage", _set("z", np.nan, lambda d: d.index == 9), {"covariates": ["z"]},
        {"covariates": ["z"]}, error=["covariate column 'z' is missing in 1 rows"]),
    "TWFE: every unit treated from the start": Case(
        "TWFE", _set("cohort", 2010), settings={"event_study": True},
        error=["no untreated observations", "2010"]),
    "ContinuousDiD: weights= it cannot use": Case(
        "ContinuousDiD", roles={"weights": "w"}, error=["weights ('w')"]),
    "ContinuousDiD: exposure= it cannot use": Case(
        "ContinuousDiD", roles={"exposure": "pop", "outcome": "count"}, error=["exposure='pop'"]),
    "ContinuousDiD: no dose": Case(
        "ContinuousDiD", roles={"dose": None}, error=["dose="]),
}
for _e in MATCHING:
    CASES |= {
        f"{_e}: zero weight on every treated unit": Case(
            _e, _set("w", 0.0, lambda d: d["d"] == 1), {"weights": "w"},
            error=["0 treated unit(s) with a positive weight ('w')", "at least 2"]),
        f"{_e}: a single treated unit": Case(
            _e, lambda d: pd.concat([d[d["d"] == 0], d[d["d"] == 1].iloc[:1]]),
            error=["1 treated unit(s)", "at least 2 in each group"]),
        f"{_e}: exposure= it cannot use": Case(
            _e, roles={"exposure": "pop"}, error=["exposure='pop'"]),
        f"{_e}: dose= it cannot use": Case(
            _e, roles={"dose": "dose"}, error=["dose='dose'"]),
        f"{_e}: integer column name as covariate": Case(
            _e, lambda d: d.rename(columns={"age": 3}), {"covariates": [3, "sex"]}),
        f"{_e}: bool treatment and categorical covariate": Case(
            _e, lambda d: d.assign(d=d["d"].astype(bool), sex=d["sex"].astype("category"))),
    }
CASES |= {
    "PropensityScoreMatching: collinear covariates": Case(
        "PropensityScoreMatching", _set("age2", lambda d: 2 * d["age"]),
        {"covariates": ["age", "age2"]}, error=["'age2'", "linear combination"]),
    "InverseProbabilityWeighting: constant covariate": Case(
        "InverseProbabilityWeighting", _set("c", 1.0), {"covariates": ["age", "c"]},
        error=["'c' is constant"]),
    "AugmentedIPW: collinear outcome formula age + I(2*age)": Case(
        "AugmentedIPW", settings={"outcome_formula": "age + I(2*age)"},
        error=["outcome-model column 'I(2 * age)'", "outcome_formula"]),
    "AugmentedIPW(ATT): collinear outcome formula": Case(
        "AugmentedIPW", settings={"outcome_formula": "age + I(2*age)", "estimand": "ATT"},
        error=["control units' outcome-model column 'I(2 * age)'"]),
    "PropensityScoreMatching: weights of 1e300": Case(
        "PropensityScoreMatching", _set("w", 1e300), {"weights": "w"}, error=["1e+300"]),
    "AugmentedIPW: outcomes of 1e200": Case(
        "AugmentedIPW", _set("y", lambda d: d["y"] * 1e200), error=["outcome column 'y'"]),
    "EntropyBalancing: missing covariate": Case(
        "EntropyBalancing", _set("age", np.nan, lambda d: d.index == 4),
        error=["covariate column 'age' is missing in 1 rows", "rows 4"]),
}
for _e in FREQ_ITS:
    CASES |= {
        f"{_e}: weights= it cannot use": Case(
            _e, roles={"weights": "w"}, error=["does not use weights", "'w'"]),
        f"{_e}: formula in covariates=": Case(
            _e, roles={"covariates": ["temp"]}, settings={"covariates": "temp + I(temp**2)"},
            error=["not a formula"]),
    }
CASES |= {
    "SegmentedRegression: Poisson, every count 0 after the interruption": Case(
        "SegmentedRegression",
        lambda d: d.assign(y=_series(True)["y"].where(d.index < 24, 0.0)),
        settings={"family": "poisson"},
        warns=["every count of the treated series from the interruption on is 0",
               "separation"]),
    "SegmentedRegression: Poisson, every count 0": Case(
        "SegmentedRegression", _set("y", 0.0), settings={"family": "poisson"},
        error=["outcome 'y' is zero in every row"]),
    "ControlledITS: Poisson, treated counts 0 after the interruption": Case(
        "ControlledITS", _set("y", 0.0, lambda d: (d["series"] == "a") & (d.index % 48 >= 24)),
        settings={"family": "poisson"}, warns=["every count of the treated series", "is 0"]),
    "SegmentedRegression: constant covariate": Case(
        "SegmentedRegression", _set("k", 1.0), {"covariates": ["k"]},
        error=["collinear", "k"]),
    "SegmentedRegression: collinear covariates": Case(
        "SegmentedRegression", _set("k", lambda d: 2 * d["temp"]), {"covariates": ["temp", "k"]},
        error=["collinear (temp, k)"]),
    "SegmentedRegression: integer column name as covariate": Case(
        "SegmentedRegression", lambda d: d.rename(columns={"temp": 3}), {"covariates": [3]}),
    "SegmentedRegression: interruption after the series": Case(
        "SegmentedRegression", settings={"interruption": "2030-01"},
        error=["'2030-01' falls after the last period", "give an interruption between"]),
    "SegmentedRegression: exposure with the gaussian family": Case(
        "SegmentedRegression", roles={"exposure": "pop"},
        warns=["exposure 'pop' is not used by family='gaussian'"]),
    "ControlledITS: treated series not in the data": Case(
        "ControlledITS", settings={"treated": "zz"}, error=["treated='zz'", "'series'"]),
    "MultiSiteITS: cohort after the window (typo 2070)": Case(
        "MultiSiteITS", _set("start", pd.Period("2070-01", "M"), lambda d: d["site"] == "s0"),
        warns=["1 units have a cohort after the last period", "2070-01"]),
    "MultiSiteITS: dose= it cannot use": Case(
        "MultiSiteITS", _set("dose", lambda d: d["start"].notna().astype(float)),
        {"dose": "dose"}, error=["dose='dose'", "ContinuousDiD"]),
    # Bayesian: refused before any sampling
    "MultilevelDiD: exposure with the gaussian family": Case(
        "MultilevelDiD", roles={"exposure": "pop", "outcome": "count"},
        error=["exposure='pop'", "family='poisson'"]),
    "MultilevelDiD: dose= it cannot use": Case(
        "MultilevelDiD", roles={"dose": "dose"}, error=["dose='dose'"]),
    "MultilevelDiD: weights= it cannot use": Case(
        "MultilevelDiD", roles={"weights": "w"}, error=["sampling weights ('w')"]),
    "MultilevelDiD: formula in covariates=": Case(
        "MultilevelDiD", roles={"covariates": ["z"]}, settings={"covariates": "z + I(z**2)"},
        error=["not a formula"]),
    "MultilevelITS: exposure with the gaussian family": Case(
        "MultilevelITS", roles={"exposure": "pop"}, error=["exposure='pop'"]),
    "MultilevelITS: weights= it cannot use": Case(
        "MultilevelITS", roles={"weights": "w"}, error=["sampling weights ('w')"]),
    "MultilevelModel: formula term not a column": Case(
        "MultilevelModel", settings={"formula": "y ~ x + zz + (1 | county)"},
        error=["'zz'", "not a column"]),
    "MultilevelModel: grouping column not a level": Case(
        "MultilevelModel", settings={"formula": "y ~ x + (1 | region)"}, error=["region"]),
    "MultilevelModel: weights= it cannot use": Case(
        "MultilevelModel", _set("w", 1.0), {"weights": "w"}, error=["sampling weights ('w')"]),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_case(case: Case) -> None:
    _run(case)


# ------------------------------------------------- every estimator (registry)
@pytest.mark.parametrize("name", list(REGISTRY), ids=list(REGISTRY))
@pytest.mark.parametrize("wrong", [None, "frame", "path", 3], ids=["None", "frame", "path", "int"])
def test_fit_refuses_what_is_not_a_panel(name: str, wrong: Any) -> None:
    kind = _kind(name)
    obj = {"frame": kind.data(), "path": "data.csv"}.get(wrong, wrong)
    est = REGISTRY[name](**kind.settings)
    with pytest.raises(SpimpactError, match="Panel"):
        est.fit(obj)


@pytest.mark.parametrize("name", list(REGISTRY), ids=list(REGISTRY))
def test_result_attributes_of_an_estimator_raise_not_fitted(name: str) -> None:
    est = REGISTRY[name](**_kind(name).settings)
    for attr in ("summary", "estimates", "overall", "warnings", "coef_"):
        with pytest.raises(NotFittedError, match=f"fit\\(panel\\).*res.{attr}"):
            getattr(est, attr)
    assert not hasattr(est, "estimates")  # NotFittedError is an AttributeError
    with pytest.raises(AttributeError, match="no attribute 'not_a_thing'"):
        est.not_a_thing  # noqa: B018


@pytest.mark.parametrize("name", list(REGISTRY), ids=list(REGISTRY))
def test_bad_confidence_is_refused_before_any_work(name: str) -> None:
    kind = _kind(name)
    est = REGISTRY[name](**{**kind.settings, "confidence": 1.5})
    roles = {k: v for k, v in kind.roles.items() if v is not None}
    with pytest.raises(SpimpactError, match="confidence"):
        _fit(est, sp.Panel(kind.data(), **roles))


def test_catalogue_is_large() -> None:
    per_estimator = 4 + 1 + 1  # wrong objects, result attributes, confidence
    assert len(CASES) + per_estimator * len(REGISTRY) >= 60
    assert len(CASES) >= 60


# --------------------------------------------------------------- safety
def test_panel_refuses_urls() -> None:
    for url in ("http://example.com/data.csv", "https://example.com/x.parquet",
                "s3://bucket/x.csv"):
        with pytest.raises(sp.PanelError, match="download the file first"):
            sp.Panel(url, outcome="y")


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_panel_arrays_stay_read_only_after_copying(how: str) -> None:
    p = sp.Panel(_did(), **DID, weights="w")
    q = pickle.loads(pickle.dumps(p)) if how == "pickle" else copy.deepcopy(p)
    for name in ("y", "w", "unit_codes", "time_codes", "cluster_codes", "cohort_codes"):
        arr = getattr(q, name)
        with pytest.raises(ValueError, match="read-only"):
            arr[:1] = 0
    np.testing.assert_array_equal(q.y, p.y)
    with pytest.raises(AttributeError, match="immutable"):
        q.outcome = "x"
    est = sp.did.CallawaySantAnna()
    assert _fit(est, q).overall.estimate == _fit(est, p).overall.estimate


def test_formula_strings_are_documented_as_code() -> None:
    from pathlib import Path

    guide = (Path(__file__).parents[1] / "docs" / "guide" / "matching.md").read_text()
    assert "Formula strings are code" in guide and "as Python" in guide
