"""Gardner's (2022) two-stage difference-in-differences.

Stage 1 fits unit and period effects (and covariate slopes) on the untreated
observations; stage 2 regresses the stage-1 residualised outcome of every
observation on treatment indicators. With one indicator per cohort-period
cell, stage 2 returns the cell means of the residualised outcome of treated
rows, which are exactly the imputation estimates of ATT(g,t)
(:class:`~spimpact.did.Imputation`), and Gardner's GMM variance (Butts &
Gardner's ``did2s``) equals the BJS influence functions of those cells.

Aggregations differ in what Gardner's pooled second stages do: regressing on
event-time (or a single treatment) indicators leaves the spread of the
cohort-period effects around the pooled effect in the residuals. On a
balanced panel that spread is exactly the influence of the estimated cohort
shares, which is why ``fixed_shares=False`` (the default here) reproduces
``did2s``'s standard errors for event-study and static specifications.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._estimator import Estimator
from ..inference import RandomState
from ..inference_cluster import DEFAULT_INFERENCE
from ..panel import Panel
from ._fe import InferenceOptions, group_time_result
from .imputation import fit_imputation, validate_common
from .results import GroupTimeResult

__all__ = ["TwoStage"]


class TwoStage(Estimator):
    """Two-stage DiD (Gardner 2022): ATT(g,t) from a residualised second stage.

    Parameters
    ----------
    anticipation : int
        Periods before the cohort's first treated period already affected
        (left out of stage 1).
    covariates : sequence of str or str
        Time-varying covariates of stage 1 (unit-constant ones are absorbed by
        the unit effects and left out with a note). Default: none.
    fixed_shares : bool
        ``False`` (default) adds the influence of the estimated cohort shares to
        aggregations, reproducing Gardner's GMM variance of pooled (event-time
        or static) second stages on balanced panels; ``True`` treats the cohort
        weights as fixed.
    bootstrap : int, optional
        Multiplier-bootstrap draws; ``None``: analytic SEs.
    confidence : float
    random_state : int, Generator or None
    multiplier : {"mammen", "rademacher"}
    inference : {"cv3", "cluster_t", "cr2", "analytic"}
        Small-sample inference (see :mod:`spimpact.inference_cluster`):
        ``"cv3"`` (default) the cluster jackknife's leverage correction of the
        influence functions with ``(G-1)/G`` and t critical values on ``G-1``
        degrees of freedom; ``"cluster_t"`` the variance times ``G/(G-1)`` with
        t(G-1); ``"cr2"`` Bell-McCaffrey leverage; ``"analytic"`` no
        small-sample factor, normal critical values.

    Examples
    --------
    >>> from spimpact.simulate import pcn_rollout
    >>> from spimpact.did import TwoStage
    >>> panel = pcn_rollout(n_pcns=60, covid=False, random_state=3).panel("wellbeing")
    >>> res = TwoStage().fit(panel)
    >>> res.aggregate("event").overall.estimate > 0
    True
    """

    def __init__(
        self,
        anticipation: int = 0,
        covariates: Sequence[str] | str = (),
        fixed_shares: bool = False,
        bootstrap: int | None = None,
        confidence: float = 0.95,
        random_state: RandomState = None,
        multiplier: str = "rademacher",
        inference: str = DEFAULT_INFERENCE,
    ) -> None:
        self.anticipation = anticipation
        self.covariates = covariates
        self.fixed_shares = fixed_shares
        self.bootstrap = bootstrap
        self.confidence = confidence
        self.random_state = random_state
        self.multiplier = multiplier
        self.inference = inference

    def _validate(self) -> None:
        validate_common(self)

    def fit(self, panel: Panel, *, by: str | None = None) -> GroupTimeResult:
        """Estimate ATT(g,t) in two stages (optionally by a unit-level subgroup,
        see :func:`spimpact.did.by_subgroup`)."""
        if by is not None:
            from .subgroups import by_subgroup

            return by_subgroup(self, panel, by)  # type: ignore[return-value]
        self._validate()
        s, cells, notes = fit_imputation(self, panel, "TwoStage")
        opts = InferenceOptions(self.confidence, self.bootstrap, self.random_state,
                                self.multiplier, share_influence=not self.fixed_shares,
                                inference=self.inference)
        method = ("Two-stage DiD (Gardner"
                  + (f", anticipation {self.anticipation}" if self.anticipation else "") + ")")
        return group_time_result(
            panel, s, cells.cells, cells.att, cells.psi, opts, method=method,
            n_obs=len(s.y), info={"stage-2 treated rows": cells.n_imputed}, notes=notes,
            pretest=None,
            pretest_text="none: stage 1 uses the pre-treatment rows (see Imputation().pretest)",
        )
