"""Propensity-score matching: :class:`PropensityScoreMatching`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._formula import design_matrix
from ..errors import EstimationError, OptionError
from ..inference import RandomState, as_generator, few_clusters_message
from ..panel import Panel
from ..results import Estimate, estimate_table
from ._common import Sample, balance_with_score, imbalance_message, panel_propensity
from ._common import treatment_sample as _treatment_sample
from ._effects import (
    MatchedSets,
    abadie_imbens,
    cluster_robust_difference,
    conditional_variance,
    matched_sets,
    matching_weights,
    merge_clusters,
)
from ._options import MatchEstimand, Order, check_psm_options, columns_option
from .nearest import nearest_neighbours, processing_order, whiten
from .propensity import PropensityFit, overlap_messages
from .results import MatchingResult

__all__ = ["PropensityScoreMatching"]

_ADDED = ("match_id", "weight", "propensity_score", "treated")


class PropensityScoreMatching:
    """Nearest-neighbour matching on the propensity score (MatchIt's ``"nearest"``).

    Each focal unit (the treated for the ATT, the controls for the ATC) is
    matched to its ``ratio`` nearest units of the other group on the logit of
    the propensity score, within a caliper: greedily in the given ``order``,
    all focal units getting their first match before any gets a second (as
    MatchIt), or independently with replacement. The search runs on the sorted
    score (binary search plus "next free control" pointers), never on a
    treated-by-control distance matrix.

    The effect is the weighted difference in outcome means of the matched
    sample (MatchIt's matching weights), with the standard errors the matching
    literature recommends: without replacement, cluster-robust on matched sets
    (Abadie & Spiess 2022; the CR1 variance of ``lm(y ~ treat, weights)`` with
    ``vcovCL(cluster = ~subclass)`` in MatchIt's guidance); with replacement,
    Abadie & Imbens (2006), which accounts for controls used several times.

    Parameters
    ----------
    ps_model : "logit" or scikit-learn classifier
        The propensity model: a maximum-likelihood logit, or any classifier
        with ``predict_proba`` (e.g. ``GradientBoostingClassifier()``).
    ps_formula : str, optional
        A formulaic right-hand side (``"age + I(age**2) + C(education) +
        educ:re74"``) on the panel's covariates; default: their main effects.
    caliper : float or None
        Largest allowed distance, in standard deviations of the logit of the
        propensity score: the pooled SD ``sqrt((s_t^2 + s_c^2) / 2)`` of Austin
        (2011), whose 0.2 is the default (MatchIt's ``std.caliper`` uses the SD
        over all units instead). ``None``: no caliper.
    ratio : int
        Controls per focal unit (1:k matching).
    replace : bool
        Whether a control may be matched to several focal units.
    exact : str or list of str, optional
        Covariates to match on exactly.
    mahalanobis : str or list of str, optional
        Covariates whose Mahalanobis distance (pooled within-group covariance,
        as MatchIt's ``mahvars``) chooses the match among the controls within
        the caliper on the propensity score.
    estimand : {"ATT", "ATC"}
    order : {"largest", "smallest", "random", "data"}
        Order of the greedy pass: by propensity score (largest first, MatchIt's
        default for the ATT; MatchIt uses "smallest" for the ATC), at random
        (``random_state``), or as the rows of the data. Ignored with replacement.
    random_state : int, Generator or None
        For ``order="random"``.
    confidence : float

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from spimpact import Panel
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=600)
    >>> d = (rng.random(600) < 1 / (1 + np.exp(1.5 - x))).astype(int)
    >>> df = pd.DataFrame({"x": x, "d": d, "y": 2 * d + x + rng.normal(size=600)})
    >>> res = PropensityScoreMatching().fit(Panel(df, outcome="y", treatment="d",
    ...                                           covariates=["x"]))
    >>> bool(abs(res.overall.estimate - 2) < 3 * res.overall.std_error)
    True
    """

    def __init__(
        self,
        ps_model: Any = "logit",
        ps_formula: str | None = None,
        caliper: float | None = 0.2,
        ratio: int = 1,
        replace: bool = False,
        exact: str | Sequence[str] | None = None,
        mahalanobis: str | Sequence[str] | None = None,
        estimand: MatchEstimand = "ATT",
        order: Order = "largest",
        random_state: RandomState = None,
        confidence: float = 0.95,
    ) -> None:
        self.ps_model = ps_model
        self.ps_formula = ps_formula
        self.caliper = caliper
        self.ratio = ratio
        self.replace = replace
        self.exact = exact
        self.mahalanobis = mahalanobis
        self.estimand = estimand
        self.order = order
        self.random_state = random_state
        self.confidence = confidence

    def __repr__(self) -> str:
        return (f"PropensityScoreMatching(caliper={self.caliper!r}, ratio={self.ratio}, "
                f"replace={self.replace}, estimand={self.estimand!r}, order={self.order!r})")

    def _validate(self) -> None:
        check_psm_options(
            ps_model=self.ps_model, ps_formula=self.ps_formula, caliper=self.caliper,
            ratio=self.ratio, replace=self.replace, exact=self.exact,
            mahalanobis=self.mahalanobis, estimand=self.estimand, order=self.order,
            confidence=self.confidence,
        )

    # ------------------------------------------------------------------ fit
    def fit(self, panel: Panel) -> MatchingResult:
        """Estimate the propensity score, match, and estimate the effect.

        Parameters
        ----------
        panel : Panel
            One row per unit (a cross-section, or each unit at its index date)
            with ``treatment=`` marking the treated and the covariates.

        Raises
        ------
        EstimationError
            No treated or no control units, perfect separation, no unit
            matched within the caliper, more controls per unit asked than exist.

        Warns
        -----
        StatisticalWarning
            Focal units left unmatched (the estimand changes; their number is
            given), fewer matches than ``ratio``, remaining imbalance, scores
            numerically 0 or 1 where they matter; all kept on ``.warnings``.
        """
        return self._fit(panel)

    def _fit(self, panel: Panel, group: np.ndarray | None = None) -> MatchingResult:
        """:meth:`fit`, with ``group`` (one code per row of the data as given)
        marking rows that are one control unit, used at most once without
        replacement (a patient offered as a control at several index dates)."""
        self._validate()
        sample = _treatment_sample(panel, "PropensityScoreMatching")
        clash = [c for c in _ADDED if c in sample.frame.columns]
        if clash:
            raise EstimationError(
                f"the panel has a column named {clash[0]!r}, which the matched data adds; "
                f"rename that column in your data."
            )
        if self.replace and not np.all(sample.w == 1):
            raise OptionError(
                "matching with replacement does not support sampling weights (the panel has "
                "weights=); use replace=False, or InverseProbabilityWeighting."
            )
        ps = panel_propensity(panel, sample, self.ps_model, self.ps_formula)
        if group is not None:
            group = np.asarray(group)[sample.frame.index.to_numpy()]
        sets, width, notes = self._match(sample, ps, group)
        return self._result(panel, sample, ps, sets, width, notes)

    def _match(
        self, sample: Sample, ps: PropensityFit, group: np.ndarray | None
    ) -> tuple[MatchedSets, float, list[str]]:
        focal = sample.d == (1 if self.estimand == "ATT" else 0)
        n_focal, n_pool = int(focal.sum()), int((~focal).sum())
        notes = [*ps.messages, *overlap_messages(ps.score, sample.d, self.estimand)]
        other = "controls" if self.estimand == "ATT" else "treated units"
        if not self.replace and self.ratio > n_pool:
            raise EstimationError(
                f"ratio={self.ratio} asks for {self.ratio} {other} per focal unit without "
                f"replacement, but there are only {n_pool}; lower ratio or set replace=True."
            )
        if not self.replace and self.ratio * n_focal > n_pool:
            notes.append(
                f"ratio={self.ratio} without replacement needs {self.ratio * n_focal} {other} "
                f"but only {n_pool} exist: later focal units receive fewer (the weights "
                f"account for it)."
            )
        width = self._caliper_width(ps.linear, focal)
        strata = self._strata(sample.frame)
        coords = self._coords(sample.frame, sample.d == 1)
        priority = (sample.frame.index.to_numpy() if self.order == "data"
                    else ps.score)[focal]
        order = processing_order(priority, self.order, as_generator(self.random_state))
        m = nearest_neighbours(ps.linear, focal, ratio=self.ratio, caliper=width,
                               replace=bool(self.replace), order=order, strata=strata,
                               coords=coords, group=group)
        sets = matched_sets(m.controls, m.focal)
        if sets.n_sets == 0:
            raise EstimationError(
                f"no {'treated' if self.estimand == 'ATT' else 'control'} unit found a match "
                f"within the caliper ({self.caliper} SD = {width:.3g} on the logit of the "
                f"propensity score{', within exact strata' if strata is not None else ''}); "
                f"widen the caliper (e.g. caliper=0.2), set caliper=None, or check overlap "
                f"with a larger caliper's plot_overlap()."
            )
        notes += self._unmatched_notes(m.n_matches, width)
        return sets, width, notes

    def _caliper_width(self, lin: np.ndarray, focal: np.ndarray) -> float:
        """The caliper on the logit scale: ``caliper`` pooled SDs (Austin 2011)."""
        if self.caliper is None:
            return np.inf
        v = [np.var(lin[g], ddof=1) if g.sum() > 1 else 0.0 for g in (focal, ~focal)]
        return float(self.caliper) * float(np.sqrt((v[0] + v[1]) / 2))

    def _unmatched_notes(self, n_matches: np.ndarray, width: float) -> list[str]:
        notes = []
        who = "treated" if self.estimand == "ATT" else "control"
        none = int((n_matches == 0).sum())
        if none:
            where = (f" within the caliper ({self.caliper} SD = {width:.3g} on the logit scale)"
                     if np.isfinite(width) else "")
            notes.append(
                f"{none} of {len(n_matches)} {who} units ({100 * none / len(n_matches):.1f}%) "
                f"found no match{where} and were left out: the estimate is the effect on the "
                f"{len(n_matches) - none} matched {who} units, not the {self.estimand} of all "
                f"{who} units. Widen the caliper or check overlap (plot_overlap())."
            )
        few = int(((n_matches > 0) & (n_matches < self.ratio)).sum())
        if few:
            notes.append(f"{few} {who} units received fewer than ratio={self.ratio} matches.")
        return notes

    def _strata(self, frame: pd.DataFrame) -> np.ndarray | None:
        cols = columns_option("exact", self.exact)
        if not cols:
            return None
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise OptionError(
                f"exact={missing[0]!r} is not a column of the panel; add it to "
                f"Panel(covariates=[...])."
            )
        return frame.groupby(list(cols), sort=True, observed=True).ngroup().to_numpy()

    def _coords(self, frame: pd.DataFrame, treated: np.ndarray) -> np.ndarray | None:
        cols = columns_option("mahalanobis", self.mahalanobis)
        if not cols:
            return None
        X, _ = design_matrix(frame, list(cols), intercept=False)
        return whiten(X, treated)

    # --------------------------------------------------------------- effect
    def _effect(
        self, sample: Sample, ps: PropensityFit, sets: MatchedSets, w_final: np.ndarray,
        notes: list[str],
    ) -> tuple[float, float, int | None, str]:
        n = len(sample.y)
        if not self.replace:
            cl = np.full(n, -1)
            cl[sets.focal] = sets.set_id
            cl[sets.control] = sets.set_id
            what = "matched sets"
            if sample.cluster is not None:
                keep = w_final > 0
                cl[keep] = merge_clusters(cl[keep], sample.cluster[keep])
                what = "matched sets merged with the panel's clusters"
            est, se, g = cluster_robust_difference(sample.y, sample.d, w_final, cl)
            if (msg := few_clusters_message(g)) is not None:
                notes.append(msg)
            return est, se, g, f"cluster-robust (CR1) on {what} (Abadie & Spiess 2022)"
        focal = sample.d == (1 if self.estimand == "ATT" else 0)
        reused = np.flatnonzero(np.bincount(sets.control, minlength=n) > 1)
        sigma2 = np.zeros(n)
        sigma2[reused] = conditional_variance(sample.y, ps.linear, np.flatnonzero(~focal),
                                              reused, self._strata(sample.frame))
        tau, se = abadie_imbens(sample.y, sets, sigma2)
        if sample.cluster is not None:
            notes.append(
                "the Abadie-Imbens variance of matching with replacement treats units as "
                "independent: the panel's cluster column is not used; match without "
                "replacement for cluster-robust standard errors."
            )
        est = tau if self.estimand == "ATT" else -tau
        return est, se, None, ("Abadie-Imbens (2006) for matching with replacement, "
                               "propensity score treated as known")

    def _result(
        self, panel: Panel, sample: Sample, ps: PropensityFit, sets: MatchedSets,
        width: float, notes: list[str],
    ) -> MatchingResult:
        n = len(sample.y)
        mw = matching_weights(sets, n)
        w_final = mw * sample.w
        est, se, n_cl, se_method = self._effect(sample, ps, sets, w_final, notes)
        overall = Estimate.from_se(est, se, self.confidence, label=self.estimand)
        table = estimate_table([est], [se], self.confidence, index={"term": [self.estimand]})
        balance = balance_with_score(panel, sample, ps.score, w_final, self.estimand)
        if (msg := imbalance_message(balance, "after matching")) is not None:
            notes.append(msg)
        index = sample.frame.index
        focal_group = sample.d == (1 if self.estimand == "ATT" else 0)
        info = {
            "estimand": self.estimand,
            "propensity model": ps.description,
            "treated": int(sample.d.sum()), "controls": int((1 - sample.d).sum()),
            "matched treated": int(((mw > 0) & (sample.d == 1)).sum()),
            "matched controls": int(((mw > 0) & (sample.d == 0)).sum()),
            "unmatched focal units": int((focal_group & (mw == 0)).sum()),
            "caliper (logit scale)": float(width) if np.isfinite(width) else "none",
            "standard errors": se_method,
        }
        method = (f"propensity-score matching (1:{self.ratio} nearest neighbour "
                  f"{'with' if self.replace else 'without'} replacement"
                  + (f", caliper {self.caliper} SD" if self.caliper is not None else "")
                  + f", {self.estimand})")
        return MatchingResult(
            table, balance=balance,
            propensity=pd.Series(ps.score, index=index, name="propensity_score"),
            treated=sample.d, weights=pd.Series(w_final, index=index, name="weight"),
            matched=_matched_rows(sample, ps, sets, mw),
            matched_panel=_matched_panel(panel, sample, sets, w_final, self.replace),
            overall=overall, method=method, confidence=self.confidence,
            n_obs=int((mw > 0).sum()), n_units=int((mw > 0).sum()), n_clusters=n_cl,
            warnings=notes, info=info,
        )


def _matched_rows(
    sample: Sample, ps: PropensityFit, sets: MatchedSets, mw: np.ndarray
) -> pd.DataFrame:
    """Long form: each matched set's focal unit, then its controls. A control
    reused in several sets appears once per set with its share of its weight."""
    n_sets = sets.n_sets
    focal_of_set = np.zeros(n_sets, dtype=np.intp)
    focal_of_set[sets.set_id] = sets.focal
    raw = np.bincount(sets.control, weights=1.0 / sets.n_in_set, minlength=len(mw))
    scale = mw[sets.control] / raw[sets.control]  # MatchIt's rescaling of control weights
    rows = np.r_[focal_of_set, sets.control]
    ids = np.r_[np.arange(n_sets), sets.set_id]
    wts = np.r_[np.ones(n_sets), scale / sets.n_in_set] * sample.w[rows]
    order = np.lexsort((np.r_[np.zeros(n_sets), np.ones(len(sets.control))], ids))
    rows, ids, wts = rows[order], ids[order], wts[order]
    out = sample.frame.iloc[rows].copy()
    out["match_id"] = ids
    out["weight"] = wts
    out["propensity_score"] = ps.score[rows]
    out["treated"] = sample.d[rows].astype(int)
    return out


def _matched_panel(
    panel: Panel, sample: Sample, sets: MatchedSets, w_final: np.ndarray, replace: bool
) -> Panel:
    """One row per matched unit, weighted by its matching weight; without
    replacement it carries ``match_id`` and clusters on it unless the panel
    already has a cluster column."""
    keep = w_final > 0
    df = sample.frame.loc[keep].copy()
    df["weight"] = w_final[keep]
    cluster = panel.cluster
    if not replace:
        set_of = np.full(len(w_final), -1)
        set_of[sets.focal] = sets.set_id
        set_of[sets.control] = sets.set_id
        df["match_id"] = set_of[keep]
        cluster = cluster or "match_id"
    return Panel(
        df, outcome=panel.outcome, unit=panel.unit, time=panel.time, cohort=panel.cohort,
        treatment=panel.treatment, never_treated=panel.never_treated,
        covariates=panel.covariates, cluster=cluster, weights="weight",
        exposure=panel.exposure, levels=panel.levels,
    )
