"""Inverse-probability weighting and its doubly robust augmentation.

:class:`InverseProbabilityWeighting` (normalised, "Hajek", weights) and
:class:`AugmentedIPW` (doubly robust) estimate the ATE, ATT or ATC with
standard errors from stacked estimating equations (M-estimation, see
:mod:`spimpact.matching._mestimation`) that account for the estimated
propensity score and outcome models. Results carry the balance table, weight
diagnostics (effective sample sizes) and warnings on extreme weights.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import pandas as pd

from .._estimator import Estimator
from .._formula import design_matrix
from .._logit import check_rank
from ..errors import EstimationError
from ..inference import few_clusters_message, influence_se
from ..panel import Panel
from ..results import Estimate, estimate_table
from ._common import Sample, balance_with_score, imbalance_message, panel_propensity
from ._common import treatment_sample as _treatment_sample
from ._mestimation import (
    Moments,
    aipw_ate_moments,
    aipw_focal_moments,
    influence,
    ipw_moments,
    ipw_weights,
)
from ._options import Estimand, check_weighting_options
from .propensity import PropensityFit, overlap_messages
from .results import WeightingResult

__all__ = ["InverseProbabilityWeighting", "AugmentedIPW", "weight_summary"]

#: Overlap flag: scores this close to 0 or 1 make inverse weights explode.
EXTREME_PS = 0.01
#: A unit carrying more than this share of its group's total weight is flagged.
MAX_WEIGHT_SHARE = 0.10


def weight_summary(weights: np.ndarray, d: np.ndarray) -> pd.DataFrame:
    """Per group: units, sum, min, max, mean of the (positive) weights, the
    effective sample size ``(sum w)^2 / sum w^2`` and its share of the units.

    Examples
    --------
    >>> import numpy as np
    >>> t = weight_summary(np.array([1.0, 1.0, 2.0, 2.0]), np.array([1, 1, 0, 0]))
    >>> t["ess"].tolist()
    [2.0, 2.0]
    """
    rows = []
    for name, mask in (("treated", d == 1), ("control", d == 0)):
        w = weights[mask & (weights > 0)]
        ess = w.sum() ** 2 / (w**2).sum() if len(w) else 0.0
        rows.append({"group": name, "n": int(mask.sum()), "n_weighted": len(w),
                     "sum": w.sum(), "min": w.min() if len(w) else np.nan,
                     "max": w.max() if len(w) else np.nan,
                     "mean": w.mean() if len(w) else np.nan, "ess": ess,
                     "ess_share": ess / max(int(mask.sum()), 1)})
    return pd.DataFrame(rows)


class _Weighting(Estimator, ABC):
    """Shared settings, validation and result assembly; each estimator defines
    its estimating equations in ``_moments``."""

    _name = "weighting"

    def __init__(
        self,
        ps_model: Any = "logit",
        ps_formula: str | None = None,
        estimand: Estimand = "ATE",
        stabilized: bool = True,
        trim: float | None = None,
        confidence: float = 0.95,
    ) -> None:
        self.ps_model = ps_model
        self.ps_formula = ps_formula
        self.estimand = estimand
        self.stabilized = stabilized
        self.trim = trim
        self.confidence = confidence

    def _validate(self) -> None:
        check_weighting_options(
            ps_model=self.ps_model, ps_formula=self.ps_formula, estimand=self.estimand,
            stabilized=self.stabilized, trim=self.trim, confidence=self.confidence,
            outcome_formula=getattr(self, "outcome_formula", None),
        )

    def fit(self, panel: Panel) -> WeightingResult:
        """Estimate the effect on ``panel`` (one row per unit, ``treatment=`` set).

        Raises
        ------
        EstimationError
            No treated or no control units, perfect separation, a propensity
            score of exactly 0 or 1 that needs inverting (set ``trim``).
        """
        self._validate()
        sample = _treatment_sample(panel, type(self).__name__)
        ps = panel_propensity(panel, sample, self.ps_model, self.ps_formula)
        keep, notes = self._trim(ps.score, sample.d)
        X = ps.X if ps.is_logit else None
        mom = self._moments(panel, sample, ps.score, X, keep)
        return self._result(panel, sample, ps, mom, keep, notes)

    @abstractmethod
    def _moments(self, panel: Panel, sample: Sample, e: np.ndarray, X: np.ndarray | None,
                 keep: np.ndarray) -> Moments:
        """The estimating equations' stacked moments and their derivative."""

    def _trim(self, e: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, list[str]]:
        notes: list[str] = []
        if self.trim is None:
            keep = np.ones(len(e), bool)
        else:
            keep = (e >= self.trim) & (e <= 1 - self.trim)
            n_out = int((~keep).sum())
            if n_out:
                notes.append(
                    f"trim={self.trim}: {n_out} units with a propensity score outside "
                    f"[{self.trim}, {1 - self.trim}] were set aside ({int((~keep & (d == 1)).sum())}"
                    f" treated, {int((~keep & (d == 0)).sum())} controls); the estimand is the "
                    f"{self.estimand} in the remaining population."
                )
            if not (keep & (d == 1)).any() or not (keep & (d == 0)).any():
                raise EstimationError(
                    f"trim={self.trim} sets aside every {'treated' if not (keep & (d == 1)).any() else 'control'} "
                    f"unit; use a smaller trim threshold."
                )
        w1, _, w0, _ = ipw_weights(e, self.estimand)
        raw = np.where(d == 1, w1, w0)
        bad = keep & ~np.isfinite(raw)
        if bad.any():
            raise EstimationError(
                f"{int(bad.sum())} units have a propensity score of exactly "
                f"{'0' if (bad & (d == 1)).any() else '1'}, so their inverse-probability weight "
                f"is infinite for the {self.estimand}; set trim= (e.g. trim=0.01) or revise the "
                f"propensity model."
            )
        return keep, notes

    def _weights(self, e: np.ndarray, d: np.ndarray, s: np.ndarray, keep: np.ndarray
                 ) -> np.ndarray:
        w1, _, w0, _ = ipw_weights(e, self.estimand)
        w = np.where(d == 1, w1, w0)
        if self.stabilized:
            p = np.sum(s * d * keep) / np.sum(s * keep)
            factor = {"ATE": np.where(d == 1, p, 1 - p),
                      "ATT": np.where(d == 1, 1.0, (1 - p) / p),
                      "ATC": np.where(d == 1, p / (1 - p), 1.0)}[self.estimand]
            w = w * factor
        return np.where(keep, w * s, 0.0)

    def _diagnostics(self, e: np.ndarray, d: np.ndarray, w: np.ndarray, keep: np.ndarray
                     ) -> list[str]:
        """Overlap and extreme-weight warnings for this estimand: only units
        whose *inverse* score is taken can receive extreme weights (controls
        with a score near 1 for the ATT, treated near 0 for the ATC, both for
        the ATE)."""
        notes = overlap_messages(e, d, self.estimand)
        hi = keep & (d == 0) & (e > 1 - EXTREME_PS) & (self.estimand in ("ATE", "ATT"))
        lo = keep & (d == 1) & (e < EXTREME_PS) & (self.estimand in ("ATE", "ATC"))
        if hi.any() or lo.any():
            notes.append(
                f"{int(hi.sum())} controls with a propensity score above {1 - EXTREME_PS} and "
                f"{int(lo.sum())} treated units with one below {EXTREME_PS} receive extreme "
                f"inverse-probability weights for the {self.estimand} (near-violation of "
                f"overlap); check plot_overlap() and weight_summary, consider trim= or a "
                f"matched design."
            )
        for name, mask in (("treated", d == 1), ("control", d == 0)):
            wg = w[mask]
            total = wg.sum()
            if mask.sum() > 10 and total > 0 and wg.max() / total > MAX_WEIGHT_SHARE:
                notes.append(
                    f"one {name} unit carries {100 * wg.max() / total:.0f}% of its group's "
                    f"weight (extreme weights; effective sample size "
                    f"{total**2 / (wg**2).sum():.1f} of {int(mask.sum())}); the estimate "
                    f"rests on few units."
                )
        return notes

    def _result(self, panel: Panel, sample: Sample, ps: PropensityFit, mom: Moments,
                keep: np.ndarray, notes: list[str]) -> WeightingResult:
        n = len(sample.y)
        inf = influence(mom)
        psi = np.column_stack([inf[:, mom.mu1] - inf[:, mom.mu0], inf[:, mom.mu1],
                               inf[:, mom.mu0]])
        se = influence_se(psi, sample.cluster, n=n)
        mu1, mu0 = mom.theta[mom.mu1], mom.theta[mom.mu0]
        est = np.array([mu1 - mu0, mu1, mu0])
        table = estimate_table(est, se, self.confidence,
                               index={"term": [self.estimand, "mean Y(1)", "mean Y(0)"]})
        overall = Estimate.from_se(est[0], se[0], self.confidence, label=self.estimand)
        w = self._weights(ps.score, sample.d, sample.w, keep)
        notes = list(ps.messages) + notes + self._diagnostics(ps.score, sample.d, w, keep)
        balance = balance_with_score(panel, sample, ps.score, w, self.estimand)
        msg = imbalance_message(balance, "after weighting")
        if msg:
            notes.append(msg)
        n_cl = panel.n_clusters
        if n_cl is not None and (m := few_clusters_message(n_cl)):
            notes.append(m)
        index = sample.frame.index
        info = {
            "estimand": self.estimand, "propensity model": ps.description,
            "treated": int(sample.d.sum()), "controls": int((1 - sample.d).sum()),
            "trimmed": int((~keep).sum()),
            "standard errors": ("M-estimation sandwich, propensity score estimated"
                                if ps.is_logit else
                                "M-estimation sandwich, propensity score treated as known "
                                "(a classifier has no estimating equations)"),
        }
        return WeightingResult(
            table, balance=balance,
            propensity=pd.Series(ps.score, index=index, name="propensity_score"),
            treated=sample.d, weights=pd.Series(w, index=index, name="weight"),
            weight_summary=weight_summary(w, sample.d), influence=psi[:, 0],
            overall=overall, method=self._method(), confidence=self.confidence,
            n_obs=int(keep.sum()), n_units=int(keep.sum()), n_clusters=n_cl,
            warnings=notes, info=info,
        )

    def _method(self) -> str:
        return self._name


class InverseProbabilityWeighting(_Weighting):
    """Inverse-probability weighting with normalised (Hajek) weights.

    Treated units weigh ``1/e`` (ATE), ``1`` (ATT) or ``(1-e)/e`` (ATC); controls
    ``1/(1-e)``, ``e/(1-e)`` or ``1``. Each group's weighted outcome mean
    estimates a potential-outcome mean in the target population; the effect is
    their difference. Standard errors solve the logit's score equations jointly
    with the weighted means (M-estimation), so they account for the estimated
    propensity score.

    Parameters
    ----------
    ps_model : "logit" or scikit-learn classifier
        With a classifier the standard errors treat the score as known.
    ps_formula : str, optional
        Formulaic right-hand side of the propensity model (default: main
        effects of the panel's covariates).
    estimand : {"ATE", "ATT", "ATC"}
    stabilized : bool
        Report stabilised weights (multiplied by the marginal treatment
        shares; Robins, Hernan & Brumback 2000). With normalised weights the
        estimate is the same either way; the weights and their diagnostics
        are on the stabilised scale.
    trim : float, optional
        Set aside units with a propensity score outside ``[trim, 1 - trim]``
        (Crump et al. 2009); the number set aside is recorded on the result
        (``info["trimmed"]``) and in a warning.
    confidence : float

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from spimpact import Panel
    >>> rng = np.random.default_rng(3)
    >>> x = rng.normal(size=2000)
    >>> d = (rng.random(2000) < 1 / (1 + np.exp(-x))).astype(int)
    >>> df = pd.DataFrame({"x": x, "d": d, "y": 1.5 * d + x + rng.normal(size=2000)})
    >>> res = InverseProbabilityWeighting().fit(Panel(df, outcome="y", treatment="d",
    ...                                               covariates=["x"]))
    >>> bool(abs(res.overall.estimate - 1.5) < 3 * res.overall.std_error)
    True
    """

    _name = "inverse-probability weighting"

    def _moments(self, panel: Panel, sample: Sample, e: np.ndarray, X: np.ndarray | None,
                 keep: np.ndarray) -> Moments:
        return ipw_moments(sample.y, sample.d, e, sample.w, self.estimand, X, keep)

    def _method(self) -> str:
        return (f"inverse-probability weighting ({self.estimand}, normalised"
                f"{', stabilised' if self.stabilized else ''} weights"
                f"{f', trim {self.trim}' if self.trim else ''})")


class AugmentedIPW(_Weighting):
    """Augmented inverse-probability weighting: the doubly robust estimator.

    Combines the propensity model with linear outcome models fitted by least
    squares in each group: consistent when either model is correctly
    specified. For the ATE, ``mu_a = mean[m_a(X) + 1{D=a}(Y - m_a(X)) / P(D=a|X)]``
    (Robins, Rotnitzky & Zhao 1994; as statsmodels' ``aipw``); for the ATT
    (ATC), the outcome model of the controls (treated) corrected by the
    odds-weighted mean of its residuals, with normalised weights (Sant'Anna &
    Zhao 2020). Standard errors by M-estimation over the propensity, outcome
    and mean equations.

    Parameters
    ----------
    ps_model, ps_formula, estimand, stabilized, trim, confidence
        As :class:`InverseProbabilityWeighting`.
    outcome_formula : str, optional
        Formulaic right-hand side of the outcome models (default: main
        effects of the panel's covariates).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from spimpact import Panel
    >>> rng = np.random.default_rng(4)
    >>> x = rng.normal(size=2000)
    >>> d = (rng.random(2000) < 1 / (1 + np.exp(-x))).astype(int)
    >>> df = pd.DataFrame({"x": x, "d": d, "y": 1.5 * d + x + rng.normal(size=2000)})
    >>> res = AugmentedIPW(estimand="ATT").fit(Panel(df, outcome="y", treatment="d",
    ...                                              covariates=["x"]))
    >>> bool(abs(res.overall.estimate - 1.5) < 3 * res.overall.std_error)
    True
    """

    _name = "augmented inverse-probability weighting"

    def __init__(
        self,
        ps_model: Any = "logit",
        ps_formula: str | None = None,
        estimand: Estimand = "ATE",
        stabilized: bool = True,
        trim: float | None = None,
        confidence: float = 0.95,
        outcome_formula: str | None = None,
    ) -> None:
        super().__init__(ps_model, ps_formula, estimand, stabilized, trim, confidence)
        self.outcome_formula = outcome_formula

    def _moments(self, panel: Panel, sample: Sample, e: np.ndarray, X: np.ndarray | None,
                 keep: np.ndarray) -> Moments:
        spec = self.outcome_formula if self.outcome_formula is not None else list(
            panel.covariates)
        Xo, names = design_matrix(sample.frame, spec)
        arms = {"ATE": ("treated", "control"), "ATT": ("control",), "ATC": ("treated",)}
        for arm in arms[self.estimand]:  # each arm's weighted least squares is identified
            s = np.where(keep & (sample.d == (arm == "treated")), sample.w, 0.0)
            check_rank((Xo * s[:, None]).T @ Xo, names,
                       model=f"the {arm} units' outcome-model",
                       fix="the covariates or the outcome_formula", error=EstimationError)
        if self.estimand == "ATE":
            return aipw_ate_moments(sample.y, sample.d, e, sample.w, Xo, X, keep)
        return aipw_focal_moments(sample.y, sample.d, e, sample.w, Xo, X, keep, self.estimand)

    def _method(self) -> str:
        return (f"augmented IPW, doubly robust ({self.estimand}"
                f"{f', trim {self.trim}' if self.trim else ''})")
