"""Event-study DiD with a non-binary, non-absorbing treatment:
:class:`ChaisemartinDHaultfoeuille`, the DID_l estimators of de Chaisemartin
and D'Haultfoeuille (2024, "Difference-in-differences estimators of
intertemporal treatment effects", Review of Economics and Statistics).

A unit's *baseline* is its treatment in its first period; it *switches* at
the first period its treatment differs from the baseline, up or down, and
may change again afterwards. ``DID_l`` compares, ``l`` periods after the
switch (``l = 1`` is the period of the switch), the outcome change of the
switchers since the period before their switch with that of the units with
the same baseline that have not switched yet; switchers down count with
their sign reversed, so ``DID_l`` is the average effect of having been
exposed for ``l`` periods to a treatment above (rather than at) the
baseline. Placebo ``l`` makes the same comparison over the ``l`` periods
before the switch. ``normalized=True`` divides each ``DID_l`` by the switchers'
mean accumulated treatment change, giving an effect per unit of treatment
(a weighted average of the effects of the current treatment and its ``l - 1``
lags). The average total effect per unit of treatment (the headline
``.overall``, the paper's ``delta``) sums the effects over horizons and
divides by the treatment changes received.

The numbers are those of the authors' packages (``did_multiplegt_dyn`` in
Stata, ``DIDmultiplegtDYN`` in R, ``py_did_multiplegt_dyn`` in Python) with
their default options: standard errors from per-unit influence functions with
the authors' cohort demeaning, summed within the panel's clusters when it has
a ``cluster=`` (else each unit is its own cluster); the joint placebo test is
a Wald test with their covariance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._estimator import Estimator, check_confidence
from .._sample import refuse_exposure, require_panel
from ..errors import EstimationError, OptionError
from ..inference import few_clusters_message, wald_test
from ..panel import Panel
from ..results import Estimate, Result, estimate_table
from . import _dcdh
from .results import PreTest

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ChaisemartinDHaultfoeuille", "ChaisemartinDHaultfoeuilleResult"]


class ChaisemartinDHaultfoeuilleResult(Result):
    """Effects and placebos by horizon from :class:`ChaisemartinDHaultfoeuille`.

    ``.estimates`` has one row per ``target`` (``"effect"`` at ``horizon``
    1, 2, ...; ``"placebo"`` at ``horizon`` -1, -2, ...); ``.overall`` is the
    average total effect per unit of treatment; :attr:`placebo_test` the joint
    test that all placebos are zero; :attr:`switchers` the switchers behind
    each row; :attr:`vcov` the covariance of all rows.
    """

    def __init__(self, estimates: pd.DataFrame, *, placebo_test: PreTest | None,
                 switchers: pd.DataFrame, vcov: np.ndarray, **kwargs: Any) -> None:
        self._placebo_test = placebo_test
        self._switchers = switchers
        self._vcov = vcov
        super().__init__(estimates, **kwargs)

    @property
    def placebo_test(self) -> PreTest | None:
        """Wald test that every placebo is zero (``None`` without placebos)."""
        return self._placebo_test

    @property
    def switchers(self) -> pd.DataFrame:
        """Per row of :attr:`estimates`: ``n_switchers`` (units), ``weight`` (their
        summed weights) and ``delta_d`` (their mean accumulated treatment change,
        the divisor of normalised effects)."""
        return self._switchers.copy()

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance of the rows of :attr:`estimates` (labelled by target and horizon)."""
        idx = pd.MultiIndex.from_frame(self._estimates[["target", "horizon"]])
        return pd.DataFrame(self._vcov, index=idx, columns=idx)

    def plot(self, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Effects and placebos by horizon with their pointwise intervals."""
        from ..plotting import event_study_plot

        return event_study_plot(self._estimates, ax=ax, x="horizon", reference=0.5,
                                title=kwargs.pop("title", self.method), **kwargs)


class ChaisemartinDHaultfoeuille(Estimator):
    """DID_l event-study estimators for a non-binary, non-absorbing treatment.

    Parameters
    ----------
    effects : int
        Number of effects: horizons ``1..effects`` after each unit's switch.
    placebo : int
        Number of placebos (``<= effects``; each mirrors the effect of the same
        horizon, on the periods before the switch).
    normalized : bool
        Divide each effect (and placebo) by the switchers' mean accumulated
        treatment change: an effect per unit of treatment.
    confidence : float
        Level of the intervals.

    Notes
    -----
    The panel needs ``treatment=`` with ``treatment_kind="general"`` (a 0/1
    treatment works too). Clustering follows the panel's ``cluster=``.
    Sampling ``weights=`` weight each unit-period. As in the authors'
    estimator, periods after a unit has been treated both above and below its
    baseline are set aside, as are units whose baseline level offers no
    comparison (all its units switch at the same date, or none does); a
    switcher not observed in the period before its first observed change
    serves only as a control before it. Each is reported in ``.warnings``.
    Horizons without switchers are left out, with a warning. Covariates,
    exposure and doses are not used and are refused.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from spimpact import Panel
    >>> from spimpact.did import ChaisemartinDHaultfoeuille
    >>> rng = np.random.default_rng(1)
    >>> n, T = 400, 6
    >>> start = rng.choice([3, 4, 5, 99], n)  # 99: never switches
    >>> dose = rng.choice([1.0, 2.0], n)
    >>> df = pd.DataFrame({"u": np.repeat(np.arange(n), T), "t": np.tile(np.arange(T), n)})
    >>> df["d"] = np.where(df["t"] >= np.repeat(start, T), np.repeat(dose, T), 0.0)
    >>> df["y"] = 0.5 * df["d"] + rng.normal(0, 0.1, len(df))  # 0.5 per unit of treatment
    >>> p = Panel(df, outcome="y", unit="u", time="t", treatment="d", treatment_kind="general")
    >>> res = ChaisemartinDHaultfoeuille(effects=2, placebo=1).fit(p)
    >>> res.estimates[["target", "horizon"]].values.tolist()
    [['effect', 1], ['effect', 2], ['placebo', -1]]
    >>> round(res.overall.estimate, 1)
    0.5
    """

    def __init__(self, *, effects: int = 1, placebo: int = 0, normalized: bool = False,
                 confidence: float = 0.95) -> None:
        self.effects = effects
        self.placebo = placebo
        self.normalized = normalized
        self.confidence = confidence

    def _validate(self) -> None:
        check_confidence(self.confidence)
        for name, low in (("effects", 1), ("placebo", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise OptionError(f"{name} must be an integer >= {low}; got {v!r}.")
        if self.placebo > self.effects:
            raise OptionError(
                f"placebo={self.placebo} exceeds effects={self.effects}: each placebo mirrors "
                f"the effect of the same horizon (its switchers and controls), so ask for at "
                f"most {self.effects} placebos, or more effects."
            )
        if not isinstance(self.normalized, (bool, np.bool_)):
            raise OptionError(f"normalized must be True or False; got {self.normalized!r}.")

    @staticmethod
    def _check_panel(panel: Any) -> None:
        require_panel(panel, "ChaisemartinDHaultfoeuille.fit",
                      "outcome=..., unit=..., time=..., treatment=..., treatment_kind='general'")
        if panel.treatment_kind != "general":
            given = (f"cohort={panel.cohort!r}" if panel.cohort is not None else
                     f"treatment={panel.treatment!r}" if panel.treatment is not None else
                     "no treatment")
            raise EstimationError(
                f"ChaisemartinDHaultfoeuille reads each unit's treatment in every period: build "
                f"the Panel with treatment='column' and treatment_kind='general' (the panel has "
                f"{given}); a 0/1 treatment column works too."
            )
        refuse_exposure(panel, "ChaisemartinDHaultfoeuille")
        if panel.covariates:
            raise EstimationError(
                f"ChaisemartinDHaultfoeuille does not adjust for covariates "
                f"({list(panel.covariates)}) yet; build the Panel without them "
                f"(panel.replace(covariates=()))."
            )

    def fit(self, panel: Panel) -> ChaisemartinDHaultfoeuilleResult:
        """Estimate the effects, placebos and average total effect on ``panel``."""
        self._validate()
        self._check_panel(panel)
        grid = panel.treatment_grid()
        des = _dcdh.build_design(grid.y, grid.d, grid.w, grid.cluster)
        notes = _design_notes(des, panel)
        if not (des.S != 0).any():
            raise EstimationError(
                f"no unit's treatment ({panel.treatment!r}) changes while some unit with the "
                f"same baseline treatment has not changed yet, so no effect can be estimated; "
                f"the design needs units that switch at different dates (or never)."
            )
        est = _dcdh.estimate(des, int(self.effects), int(self.placebo), bool(self.normalized))
        table, switchers, contribs = self._rows(est, notes)
        cl = des.cluster
        vcov = _dcdh.cluster_cov(contribs, cl)
        conf = self.confidence
        tab = estimate_table(table["estimate"], np.sqrt(np.diag(vcov)), conf,
                             index=table[["target", "horizon"]])
        overall = None
        if est.average is not None:
            overall = Estimate.from_se(est.average.estimate,
                                       _dcdh.cluster_se(est.average.contrib, cl), conf,
                                       label="average total effect per unit of treatment")
        pl = (tab["target"] == "placebo").to_numpy()
        placebo_test = None
        if pl.any():
            stat, df, p = wald_test(tab.loc[pl, "estimate"].to_numpy(), vcov[np.ix_(pl, pl)])
            placebo_test = PreTest(stat, df, p, kind="placebo")
        n_cl = None if cl is None else int(len(np.unique(cl)))
        few = few_clusters_message(n_cl)
        if few:
            notes.append(few)
        method = ("de Chaisemartin-D'Haultfoeuille DID_l"
                  + (" (normalized)" if self.normalized else ""))
        info = {"switchers": int((des.S != 0).sum()), "periods": des.n_periods}
        return ChaisemartinDHaultfoeuilleResult(
            tab, placebo_test=placebo_test, switchers=switchers, vcov=vcov, overall=overall,
            method=method, confidence=conf, n_obs=int((des.w > 0).sum()),
            n_units=des.n_groups, n_clusters=n_cl, warnings=notes, info=info,
        )

    def _rows(self, est: _dcdh.Estimates, notes: list[str]
              ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
        """The table's rows, the switchers behind them and their contributions."""
        rows, sw, contribs = [], [], []
        missing: dict[str, list[int]] = {"effect": [], "placebo": []}
        for target, sign, results in (("effect", 1, est.effects), ("placebo", -1, est.placebos)):
            for h, r in enumerate(results, start=1):
                if r is None:
                    missing[target].append(h)
                    continue
                rows.append((target, sign * h, r.estimate))
                sw.append((target, sign * h, r.n_units, r.n_w, r.delta_d))
                contribs.append(r.contrib)
        for target, hs in missing.items():
            if hs:
                notes.append(
                    f"{target} horizon(s) {hs} have no switcher with a comparison unit of the "
                    f"same baseline treatment and are left out; ask for fewer "
                    f"{'effects' if target == 'effect' else 'placebos'}."
                )
        if not rows:
            raise EstimationError("no effect can be estimated: no switcher has a comparison "
                                  "unit with the same baseline treatment at any horizon.")
        table = pd.DataFrame(rows, columns=["target", "horizon", "estimate"])
        switchers = pd.DataFrame(sw, columns=["target", "horizon", "n_switchers", "weight",
                                              "delta_d"])
        return table, switchers, np.stack(contribs, axis=1)


def _design_notes(des: _dcdh.Design, panel: Panel) -> list[str]:
    """What the sample rules set aside, in words."""
    notes = []
    unit = panel.unit
    if des.n_bidirectional:
        notes.append(
            f"{des.n_bidirectional} units ({unit!r}) were treated both above and below their "
            f"baseline treatment; their periods from then on are left out (their effects "
            f"mix treatment increases and decreases)."
        )
    if des.n_flat_baseline:
        notes.append(
            f"{des.n_flat_baseline} units ({unit!r}) are left out: every unit with their "
            f"baseline treatment switches at the same date (or never), so they have no "
            f"comparison units."
        )
    if des.n_unknown_date:
        notes.append(
            f"{des.n_unknown_date} switching units ({unit!r}) are not observed in the period "
            f"before their first observed change, so their switch date is unknown; they serve "
            f"only as comparison units until their last period before it."
        )
    return notes
