"""Propensity-score matching: :class:`PropensityScoreMatching`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._estimator import Estimator
from .._formula import design_matrix
from ..errors import EstimationError, OptionError
from ..inference import RandomState, as_generator, few_clusters_message, validate_choice
from ..panel import Panel
from ..results import Estimate, estimate_table
from ._adjust import other_group_fit, regression_adjusted
from ._ai2016 import estimated_score_adjustment
from ._common import Sample, balance_with_score, imbalance_message, panel_propensity, tie_keys
from ._common import treatment_sample as _treatment_sample
from ._effects import (
    VARIANCE_NEIGHBOURS,
    MatchedSets,
    abadie_imbens,
    cluster_robust_difference,
    conditional_variance,
    matched_sets,
    matching_weights,
    merge_clusters,
    pairs_to_sets,
    subclass_weights,
)
from ._options import MatchEstimand, Method, Order, check_psm_options, columns_option
from .nearest import nearest_neighbours, processing_order, tied_pairs, whiten
from .optimal import full_match, optimal_pairs
from .propensity import PropensityFit, overlap_messages, propensity_design
from .results import MatchingResult

__all__ = ["PropensityScoreMatching"]

_ADDED = ("match_id", "weight", "propensity_score", "treated")

#: With replacement, a warning when the controls' effective number (Kish) falls
#: below this share of the matched focal units: few controls carry the estimate.
REUSE_SHARE = 0.2
#: Decimals the logit of the score is rounded to before matching: units with the
#: same covariates then tie exactly, whatever the floating-point noise of the
#: model fit (which depends on the order of the rows).
SCORE_DECIMALS = 10


def matching_score(linear: np.ndarray) -> np.ndarray:
    """The logit of the propensity score as matched on, rounded to
    :data:`SCORE_DECIMALS` decimals so that ties are exact.

    Examples
    --------
    >>> import numpy as np
    >>> bool(matching_score(np.array([0.1 + 0.2]))[0] == matching_score(np.array([0.3]))[0])
    True
    """
    return np.round(np.asarray(linear, dtype=float), SCORE_DECIMALS)


#: Decimals the propensity score itself is rounded to with ``distance="probability"``.
PROBABILITY_DECIMALS = 14


class PropensityScoreMatching(Estimator):
    """Matching on the propensity score: greedy nearest neighbour (MatchIt's
    ``"nearest"``), optimal pair / ratio matching (``"optimal"``) or optimal
    full matching (``"full"``).

    * ``method="nearest"`` (the default): each focal unit (the treated for the
      ATT, the controls for the ATC) is matched to its ``ratio`` nearest units
      of the other group on the logit of the propensity score, within a
      caliper: greedily in the given ``order``, all focal units getting their
      first match before any gets a second (as MatchIt), or independently with
      replacement. With replacement every control tied at the ``ratio``-th
      distance is kept, sharing the weight (Abadie & Imbens 2006), so the
      result does not depend on which tied control comes first. The search
      runs on the sorted score, never on a treated-by-control distance matrix.
    * ``method="optimal"``: the 1:``ratio`` matching without replacement that
      matches as many focal units as the caliper and exact strata allow with
      the smallest total distance (optmatch's ``pairmatch``), solved as a
      sparse assignment problem.
    * ``method="full"``: optimal full matching (optmatch's ``fullmatch``):
      every treated and control unit with a partner within the caliper is put
      in a matched set of one treated unit and several controls or one control
      and several treated units, minimising the total within-set distance. All
      such units are used, so it targets the ATT, the ATC or the ATE with
      MatchIt's weights.

    Ties in the score (discrete covariates) are never resolved by row
    position: without replacement they are broken by keys derived from each
    unit's data and ``random_state``, so shuffling the rows gives the same
    matched cohort and the same estimate.

    The effect is the weighted difference in outcome means of the matched
    sample (MatchIt's matching weights), with the standard errors the matching
    literature recommends: without replacement and for full matching,
    cluster-robust on matched sets (Abadie & Spiess 2022; the CR1 variance of
    ``lm(y ~ treat, weights)`` with ``vcovCL(cluster = ~subclass)`` in
    MatchIt's guidance); with replacement, Abadie & Imbens (2006), which
    accounts for controls used several times. ``bias_correction=True`` or an
    ``outcome_formula`` adds a regression adjustment (below).

    With replacement on a logit propensity score (the score alone: no
    ``exact``, ``mahalanobis`` or regression adjustment, every focal unit
    matched), the default standard error also accounts for the *estimation*
    of the score: Abadie & Imbens (2016, *Econometrica* 84:781) add to the
    Abadie-Imbens (2006) variance terms from the logit's information matrix,
    the covariances of the covariates with the outcome among units with
    nearby scores and the dependence of the ATT on the score (for the ATT the
    adjustment may raise or lower the variance), the correction Stata's
    ``teffects psmatch`` makes, estimated as it does (its standard errors are
    reproduced to the printed digits). ``score_variance="known"`` gives the
    unadjusted variance, which treats the score as known.

    Parameters
    ----------
    ps_model : "logit" or scikit-learn classifier
        The propensity model: a maximum-likelihood logit, or any classifier
        with ``predict_proba`` (e.g. ``GradientBoostingClassifier()``).
    ps_formula : str, optional
        A formulaic right-hand side (``"age + I(age**2) + C(education) +
        educ:re74"``) on the panel's covariates; default: their main effects.
    caliper : float or None
        Largest allowed distance, in standard deviations of (by default) the logit of the
        propensity score: the pooled SD ``sqrt((s_t^2 + s_c^2) / 2)`` of Austin
        (2011), whose 0.2 is the default (MatchIt's ``std.caliper`` uses the SD
        over all units instead). ``None``: no caliper.
    ratio : int
        Controls per focal unit (1:k matching; not used by full matching).
    replace : bool
        Whether a control may be matched to several focal units (``"nearest"``
        only).
    exact : str or list of str, optional
        Covariates to match on exactly.
    mahalanobis : str or list of str, optional
        Covariates whose Mahalanobis distance (pooled within-group covariance,
        as MatchIt's ``mahvars``) chooses the match among the controls within
        the caliper on the propensity score (``"nearest"`` only).
    estimand : {"ATT", "ATC", "ATE"}
        ``"ATE"`` with ``method="full"`` only.
    order : {"largest", "smallest", "random", "data"}
        Order of the greedy pass (``"nearest"`` without replacement): by
        propensity score (largest first, MatchIt's default for the ATT; MatchIt
        uses "smallest" for the ATC), at random (``random_state``), or as the
        rows of the data (the one setting that depends on row order, by request).
    random_state : int, Generator or None
        Breaks ties in the score and draws ``order="random"`` (as a random
        order of the units' data, so it does not depend on the row order).
        ``None``: ties are broken by the units' data alone (deterministic) and
        ``order="random"`` is drawn afresh.
    confidence : float
    method : {"nearest", "optimal", "full"}
    bias_correction : bool
        Adjust the matched comparison by least-squares outcome models on the
        matching covariates (the propensity model's design), Abadie & Imbens
        (2011): with replacement each matched difference is corrected by
        ``mu_0(x_t) - mu_0(x_j)`` and the variance is Abadie-Imbens' on the
        corrected differences; without replacement and for full matching the
        estimate is the g-computation on the matched sample (the same
        estimator), with the cluster-robust variance on matched sets.
    outcome_formula : str, optional
        A formulaic right-hand side for that outcome model instead of the
        matching covariates (Ho, Imai, King & Stuart 2007's regression on the
        matched sample); implies the adjustment.
    distance : {"logit", "probability"}
        The scale matched on and on which ``caliper`` is measured: the logit
        of the propensity score (the default; Austin 2011), or the score
        itself (MatchIt's default ``distance="glm"`` and Stata's ``teffects
        psmatch``). Nearest neighbours differ between the two scales.
    score_variance : {"estimated", "known"}
        With replacement: ``"estimated"`` (default) adds the Abadie-Imbens
        (2016) terms for the estimation of a logit propensity score where they
        apply (see above; otherwise ``info["standard errors"]`` says why
        not); ``"known"``: Abadie-Imbens (2006), the score treated as known.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from spimpact import Panel
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=600)
    >>> d = (rng.random(600) < 1 / (1 + np.exp(1.5 - x))).astype(int)
    >>> df = pd.DataFrame({"x": x, "d": d, "y": 2 * d + x + rng.normal(size=600)})
    >>> panel = Panel(df, outcome="y", treatment="d", covariates=["x"])
    >>> res = PropensityScoreMatching().fit(panel)
    >>> bool(abs(res.overall.estimate - 2) < 3 * res.overall.std_error)
    True
    >>> full = PropensityScoreMatching(method="full", caliper=None).fit(panel)
    >>> bool(abs(full.overall.estimate - 2) < 3 * full.overall.std_error)
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
        method: Method = "nearest",
        bias_correction: bool = False,
        outcome_formula: str | None = None,
        distance: str = "logit",
        score_variance: str = "estimated",
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
        self.method = method
        self.bias_correction = bias_correction
        self.outcome_formula = outcome_formula
        self.distance = distance
        self.score_variance = score_variance

    def _validate(self) -> None:
        check_psm_options(
            ps_model=self.ps_model, ps_formula=self.ps_formula, caliper=self.caliper,
            ratio=self.ratio, replace=self.replace, exact=self.exact,
            mahalanobis=self.mahalanobis, estimand=self.estimand, order=self.order,
            confidence=self.confidence, method=self.method,
            bias_correction=self.bias_correction, outcome_formula=self.outcome_formula,
        )
        validate_choice("distance", self.distance, ("logit", "probability"))
        validate_choice("score_variance", self.score_variance, ("estimated", "known"))

    def _score(self, ps: PropensityFit) -> np.ndarray:
        """The score matched on (``distance``), rounded so that ties are exact."""
        if self.distance == "probability":
            return np.round(np.asarray(ps.score, dtype=float), PROBABILITY_DECIMALS)
        return matching_score(ps.linear)

    @property
    def _adjusted(self) -> bool:
        return bool(self.bias_correction) or self.outcome_formula is not None

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
            given), fewer matches than ``ratio``, controls reused so heavily
            that few carry the estimate (their effective number is given),
            remaining imbalance, scores numerically 0 or 1 where they matter;
            all kept on ``.warnings``.
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
        if group is not None and self.method == "full":
            raise OptionError(
                "method='full' puts every unit in a matched set, which does not fit controls "
                "offered at several index dates (each may be used once); use "
                "method='optimal' or 'nearest' in match_cohort()."
            )
        ps = panel_propensity(panel, sample, self.ps_model, self.ps_formula)
        if group is not None:
            group = np.asarray(group)[sample.frame.index.to_numpy()]
        # keys from the units' data break ties; without tied scores (and without a
        # random order) nothing depends on them, and hashing every row is skipped
        score = self._score(ps)
        if self.order == "random" or len(np.unique(score)) < len(score):
            key = tie_keys(sample.frame, self.random_state)
        else:
            key = None
        m = self._match(sample, ps, group, key)
        return self._result(panel, sample, ps, m)

    def _match(
        self, sample: Sample, ps: PropensityFit, group: np.ndarray | None,
        key: np.ndarray | None,
    ) -> _Matched:
        focal = sample.d == (1 if self.estimand != "ATC" else 0)
        n_focal, n_pool = int(focal.sum()), int((~focal).sum())
        notes = [*ps.messages, *overlap_messages(ps.score, sample.d, self.estimand)]
        other = "controls" if self.estimand == "ATT" else "treated units"
        if self.method != "full" and not self.replace and self.ratio > n_pool:
            raise EstimationError(
                f"ratio={self.ratio} asks for {self.ratio} {other} per focal unit without "
                f"replacement, but there are only {n_pool}; lower ratio or set replace=True."
            )
        if self.method != "full" and not self.replace and self.ratio * n_focal > n_pool:
            notes.append(
                f"ratio={self.ratio} without replacement needs {self.ratio * n_focal} {other} "
                f"but only {n_pool} exist: {'later' if self.method == 'nearest' else 'some'} "
                f"focal units receive fewer (the weights account for it)."
            )
        score = self._score(ps)
        width = self._caliper_width(score, sample.d == 1)
        strata = self._strata(sample.frame)
        n = len(sample.y)
        if self.method == "full":
            fm = full_match(score, sample.d == 1, caliper=width, strata=strata, tie_key=key)
            if fm.n_sets == 0:
                raise self._nobody(width, strata)
            notes += self._full_notes(fm.subclass, sample.d, width)
            return _Matched(subclass_weights(fm.subclass, sample.d, self.estimand),
                            fm.subclass, None, width, notes, fm.total_distance)
        if self.method == "optimal":
            m = optimal_pairs(score, focal, ratio=self.ratio, caliper=width,
                              strata=strata, tie_key=key, group=group)
        else:
            coords = self._coords(sample.frame, sample.d == 1)
            priority = (sample.frame.index.to_numpy() if self.order == "data"
                        else ps.score)[focal]
            order_key = key
            if self.order == "random" and self.random_state is None:  # a fresh draw
                order_key = tie_keys(sample.frame, np.random.default_rng())
            focal_key = (order_key[focal] if order_key is not None and self.order != "data"
                         else None)
            order = processing_order(priority, self.order, as_generator(self.random_state),
                                     tie_key=focal_key)
            m = nearest_neighbours(score, focal, ratio=self.ratio, caliper=width,
                                   replace=bool(self.replace), order=order, strata=strata,
                                   coords=coords, group=group, tie_key=key)
        if self.replace and self.mahalanobis is None:
            sets = pairs_to_sets(*tied_pairs(score, m, focal, strata))
        else:
            sets = matched_sets(m.controls, m.focal)
        if sets.n_sets == 0:
            raise self._nobody(width, strata)
        notes += self._unmatched_notes(m.n_matches, width)
        total = float(m.distance[np.isfinite(m.distance)].sum())
        set_of = None
        if not self.replace:
            set_of = np.full(n, -1)
            set_of[sets.focal] = sets.set_id
            set_of[sets.control] = sets.set_id
        return _Matched(matching_weights(sets, n), set_of, sets, width, notes, total)

    def _nobody(self, width: float, strata: np.ndarray | None) -> EstimationError:
        who = {"ATT": "treated", "ATC": "control", "ATE": ""}[self.estimand]
        return EstimationError(
            f"no {who} unit found a match "
            f"within the caliper ({self.caliper} SD = {width:.3g} on the {self.distance} "
            f"scale of the propensity score{', within exact strata' if strata is not None else ''}); "
            f"widen the caliper (e.g. caliper=0.2), set caliper=None, or check overlap "
            f"with a larger caliper's plot_overlap()."
        )

    def _caliper_width(self, lin: np.ndarray, treated: np.ndarray) -> float:
        """The caliper on the matching scale: ``caliper`` pooled SDs (Austin 2011)."""
        if self.caliper is None:
            return np.inf
        v = [np.var(lin[g], ddof=1) if g.sum() > 1 else 0.0 for g in (treated, ~treated)]
        return float(self.caliper) * float(np.sqrt((v[0] + v[1]) / 2))

    def _unmatched_notes(self, n_matches: np.ndarray, width: float) -> list[str]:
        notes = []
        who = "treated" if self.estimand == "ATT" else "control"
        none = int((n_matches == 0).sum())
        if none:
            where = (f" within the caliper ({self.caliper} SD = {width:.3g} on the {self.distance} scale)"
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

    def _full_notes(self, subclass: np.ndarray, d: np.ndarray, width: float) -> list[str]:
        out = []
        for name, grp in (("treated", d == 1), ("control", d == 0)):
            none = int((grp & (subclass < 0)).sum())
            if none and (self.estimand == "ATE" or (name == "treated") == (self.estimand == "ATT")):
                out.append(
                    f"{none} of {int(grp.sum())} {name} units have no unit of the other group "
                    f"within the caliper ({self.caliper} SD = {width:.3g} on the {self.distance} scale) "
                    f"and were left out: the estimate is the {self.estimand} among the matched "
                    f"units only. Widen the caliper or check overlap (plot_overlap())."
                )
        return out

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

    def _outcome_design(self, panel: Panel, sample: Sample, ps: PropensityFit) -> np.ndarray:
        """The outcome model's design (with an intercept) for the regression adjustment."""
        if self.outcome_formula is not None:
            X, _ = design_matrix(sample.frame, self.outcome_formula)
            return X
        if ps.is_logit:
            return ps.X
        X, _ = propensity_design(sample.frame, self.ps_formula, panel.covariates,
                                 intercept=True)
        return X

    # --------------------------------------------------------------- effect
    def _effect(
        self, panel: Panel, sample: Sample, ps: PropensityFit, m: _Matched,
        w_final: np.ndarray, notes: list[str],
    ) -> tuple[float, float, int | None, str]:
        n = len(sample.y)
        Xr = self._outcome_design(panel, sample, ps) if self._adjusted else None
        adj = (", regression-adjusted on the matched sample (Abadie & Imbens 2011 bias "
               "correction / g-computation)" if Xr is not None else "")
        if m.set_of is not None:
            cl = m.set_of.copy()
            what = "matched sets"
            if sample.cluster is not None:
                keep = w_final > 0
                cl[keep] = merge_clusters(cl[keep], sample.cluster[keep])
                what = "matched sets merged with the panel's clusters"
            if Xr is None:
                est, se, g = cluster_robust_difference(sample.y, sample.d, w_final, cl)
            else:
                est, se, g = regression_adjusted(sample.y, sample.d, w_final, Xr,
                                                 self.estimand, cl)
            if (msg := few_clusters_message(g)) is not None:
                notes.append(msg)
            return est, se, g, f"cluster-robust (CR1) on {what} (Abadie & Spiess 2022){adj}"
        sets = m.sets
        assert sets is not None
        focal_arm = 1 if self.estimand == "ATT" else 0
        focal = sample.d == focal_arm
        reused = np.flatnonzero(np.bincount(sets.control, minlength=n) > 1)
        sigma2 = np.zeros(n)
        score = self._score(ps)
        sigma2[reused] = conditional_variance(sample.y, score, np.flatnonzero(~focal),
                                              reused, self._strata(sample.frame))
        y = sample.y
        if Xr is not None:
            y = y - other_group_fit(sample.y, sample.d, m.weights, Xr, focal_arm)
        tau, se = abadie_imbens(y, sets, sigma2)
        if sample.cluster is not None:
            notes.append(
                "the Abadie-Imbens variance of matching with replacement treats units as "
                "independent: the panel's cluster column is not used; match without "
                "replacement for cluster-robust standard errors."
            )
        est = tau if self.estimand == "ATT" else -tau
        why_not = self._known_score_reason(ps, Xr, sets.n_sets, int(focal.sum()),
                                           int(min(focal.sum(), (~focal).sum())))
        if why_not is None:
            minus, plus = estimated_score_adjustment(
                sample.y, sample.d, ps.X, ps.score, score, focal_arm, tau,
                ratio=self.ratio)
            se = float(np.sqrt(max(se**2 - minus + plus, 0.0)))
            return est, se, None, ("Abadie-Imbens (2006) for matching with replacement, "
                                   "adjusted for the estimated logit propensity score "
                                   "(Abadie & Imbens 2016)")
        return est, se, None, ("Abadie-Imbens (2006) for matching with replacement, "
                               f"propensity score treated as known ({why_not})" + adj)

    def _known_score_reason(
        self, ps: PropensityFit, Xr: np.ndarray | None, n_matched: int, n_focal: int,
        smaller_group: int,
    ) -> str | None:
        """Why the Abadie-Imbens (2016) adjustment does not apply (``None``: it does)."""
        if self.score_variance == "known":
            return "score_variance='known'"
        if not ps.is_logit:
            return "the score comes from a classifier, not a logit"
        if Xr is not None:
            return "the 2016 adjustment is derived without regression adjustment"
        if columns_option("exact", self.exact) or columns_option("mahalanobis",
                                                                  self.mahalanobis):
            return "matching is not on the score alone (exact= or mahalanobis=)"
        if n_matched < n_focal:
            return "the caliper left focal units unmatched"
        if smaller_group <= VARIANCE_NEIGHBOURS:
            return (f"a group has {smaller_group} unit(s), too few for its conditional "
                    f"means and covariances ({VARIANCE_NEIGHBOURS} other units needed)")
        return None

    def _reuse_notes(self, m: _Matched, d: np.ndarray) -> list[str]:
        """With replacement: warn when few controls carry the matched comparison."""
        if not self.replace or m.sets is None:
            return []
        focal_arm = 1 if self.estimand == "ATT" else 0
        wc = m.weights[(d != focal_arm) & (m.weights > 0)]
        ess = wc.sum() ** 2 / (wc**2).sum()
        n_f = m.sets.n_sets
        if ess >= REUSE_SHARE * n_f:
            return []
        other = "controls" if focal_arm == 1 else "treated units"
        return [
            f"matching with replacement reuses few {other} heavily: {len(wc)} distinct "
            f"{other} serve {n_f} matched sets, with an effective number (Kish) of "
            f"{ess:.1f}; the estimate rests on them and its variance is large. Consider "
            f"replace=False, method='full', a larger ratio, or weighting "
            f"(EntropyBalancing, InverseProbabilityWeighting)."
        ]

    def _result(
        self, panel: Panel, sample: Sample, ps: PropensityFit, m: _Matched,
    ) -> MatchingResult:
        notes = m.notes
        mw = m.weights
        w_final = mw * sample.w
        notes += self._reuse_notes(m, sample.d)
        est, se, n_cl, se_method = self._effect(panel, sample, ps, m, w_final, notes)
        overall = Estimate.from_se(est, se, self.confidence, label=self.estimand)
        table = estimate_table([est], [se], self.confidence, index={"term": [self.estimand]})
        balance = balance_with_score(panel, sample, ps.score, w_final, self.estimand)
        if (msg := imbalance_message(balance, "after matching")) is not None:
            notes.append(msg)
        index = sample.frame.index
        focal_group = sample.d == (1 if self.estimand == "ATT" else 0)
        info = {
            "estimand": self.estimand,
            "method": self.method,
            "propensity model": ps.description,
            "treated": int(sample.d.sum()), "controls": int((1 - sample.d).sum()),
            "matched treated": int(((mw > 0) & (sample.d == 1)).sum()),
            "matched controls": int(((mw > 0) & (sample.d == 0)).sum()),
            "unmatched focal units": (int(((mw == 0)).sum()) if self.estimand == "ATE"
                                      else int((focal_group & (mw == 0)).sum())),
            "distance": self.distance,
            "caliper (logit scale)": float(m.width) if np.isfinite(m.width) else "none",
            "total distance (logit scale)": m.total_distance,
            "standard errors": se_method,
        }
        return MatchingResult(
            table, balance=balance,
            propensity=pd.Series(ps.score, index=index, name="propensity_score"),
            treated=sample.d, weights=pd.Series(w_final, index=index, name="weight"),
            matched=_matched_rows(sample, ps, m),
            matched_panel=_matched_panel(panel, sample, m.set_of, w_final),
            overall=overall, method=self._describe(), confidence=self.confidence,
            n_obs=int((mw > 0).sum()), n_units=int((mw > 0).sum()), n_clusters=n_cl,
            warnings=notes, info=info,
        )

    def _describe(self) -> str:
        cal = f", caliper {self.caliper} SD" if self.caliper is not None else ""
        adj = ", regression-adjusted" if self._adjusted else ""
        if self.method == "full":
            return f"propensity-score full matching (optimal{cal}, {self.estimand}{adj})"
        kind = "optimal" if self.method == "optimal" else "nearest neighbour"
        return (f"propensity-score matching (1:{self.ratio} {kind} "
                f"{'with' if self.replace else 'without'} replacement{cal}, "
                f"{self.estimand}{adj})")


@dataclass(frozen=True)
class _Matched:
    """What a matching method hands to the effect and result code.

    ``weights``: matching weights (0: unmatched); ``set_of``: matched set of
    every unit (-1: none), ``None`` with replacement; ``sets``: the focal /
    control pairs (``None`` for full matching).
    """

    weights: np.ndarray
    set_of: np.ndarray | None
    sets: MatchedSets | None
    width: float
    notes: list[str]
    total_distance: float


def _matched_rows(sample: Sample, ps: PropensityFit, m: _Matched) -> pd.DataFrame:
    """Long form: each matched set's focal unit, then its controls. A control
    reused in several sets appears once per set with its share of its weight.
    Full matching: each set's treated units, then its controls."""
    mw = m.weights
    if m.sets is None:
        assert m.set_of is not None
        rows = np.flatnonzero(m.set_of >= 0)
        rows = rows[np.lexsort((1 - sample.d[rows], m.set_of[rows]))]
        ids, wts = m.set_of[rows], mw[rows] * sample.w[rows]
    else:
        sets = m.sets
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
    panel: Panel, sample: Sample, set_of: np.ndarray | None, w_final: np.ndarray
) -> Panel:
    """One row per matched unit, weighted by its matching weight; without
    replacement (and for full matching) it carries ``match_id`` and clusters on
    it unless the panel already has a cluster column."""
    keep = w_final > 0
    df = sample.frame.loc[keep].copy()
    df["weight"] = w_final[keep]
    cluster = panel.cluster
    if set_of is not None:
        df["match_id"] = set_of[keep]
        cluster = cluster or "match_id"
    return Panel(
        df, outcome=panel.outcome, unit=panel.unit, time=panel.time, cohort=panel.cohort,
        treatment=panel.treatment, never_treated=panel.never_treated,
        covariates=panel.covariates, cluster=cluster, weights="weight",
        exposure=panel.exposure, levels=panel.levels,
    )
