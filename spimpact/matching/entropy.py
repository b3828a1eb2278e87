"""Entropy balancing (Hainmueller 2012): :class:`EntropyBalancing`.

Weights for the reweighted group(s) that are as close as possible (in
Kullback-Leibler divergence) to base weights ``q`` while reproducing the
target group's covariate moments exactly:
``w_j = q_j exp(lambda' c_j) / sum_k q_k exp(lambda' c_k)``, with ``lambda`` the
minimiser of the convex dual ``log sum_j q_j exp(lambda'(c_j - m))`` (``m``:
the target moments), found by Newton's method with a backtracking line
search. The ATT reweights the controls to the treated moments, the ATC the
treated to the controls', and the ATE both groups to the moments of the whole
sample (as WeightIt's ``method = "ebal"``).

Standard errors stack the target moments, the dual's first-order conditions
and the weighted outcome means (M-estimation), so they account for the
estimated weights and for the sampling variability of the target moments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from .._estimator import Estimator
from .._formula import design_matrix
from ..errors import EstimationError, OptionError
from ..inference import few_clusters_message, influence_se, validate_choice
from ..panel import Panel
from ..results import Estimate, estimate_table
from ._common import treatment_sample
from ._mestimation import Moments, influence
from .balance import balance_covariates, balance_table
from .results import AdjustmentResult
from .weighting import weight_summary

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["EntropyBalancing", "EntropyBalancingResult", "ebal_dual"]

#: Largest remaining standardised moment gap accepted as "balanced exactly".
BALANCE_TOL = 1e-8
#: Newton iterations allowed.
MAX_ITER = 200


@dataclass(frozen=True)
class DualSolution:
    """``lam`` (dual coefficients) and ``w`` (normalised weights, summing to 1)."""

    lam: np.ndarray
    w: np.ndarray
    gap: float
    converged: bool


def ebal_dual(C: np.ndarray, q: np.ndarray, target: np.ndarray) -> DualSolution:
    """Solve the entropy-balancing dual by Newton's method.

    Parameters
    ----------
    C : ndarray, shape (n, k)
        Constraint functions of the units to reweight.
    q : ndarray, shape (n,)
        Positive base weights.
    target : ndarray, shape (k,)
        Moments the weighted means must equal.

    Examples
    --------
    >>> import numpy as np
    >>> C = np.array([[0.0], [1.0], [2.0]])
    >>> sol = ebal_dual(C, np.ones(3), np.array([1.5]))
    >>> round(float(sol.w @ C[:, 0]), 10), sol.converged
    (1.5, True)
    """
    Z = C - target
    lam = np.zeros(C.shape[1])
    logq = np.log(q)

    def parts(lam):
        eta = logq + Z @ lam
        top = eta.max()
        e = np.exp(eta - top)
        return top + np.log(e.sum()), e / e.sum()

    f, w = parts(lam)
    for _ in range(MAX_ITER):
        g = w @ Z
        if np.abs(g).max() < BALANCE_TOL:
            return DualSolution(lam, w, float(np.abs(g).max()), True)
        H = (Z * w[:, None]).T @ Z - np.outer(g, g)
        step = np.linalg.lstsq(H, -g, rcond=None)[0]
        t = 1.0
        while t > 1e-12:
            f_new, w_new = parts(lam + t * step)
            if f_new <= f + 1e-4 * t * (g @ step):
                break
            t /= 2
        else:
            break
        lam, f, w = lam + t * step, f_new, w_new
    g = w @ Z
    gap = float(np.abs(g).max())
    return DualSolution(lam, w, gap, gap < BALANCE_TOL)


class EntropyBalancingResult(AdjustmentResult):
    """Result of :class:`EntropyBalancing`: the effect, the balance table (love
    plot with ``plot_balance()``), the weights and their diagnostics.

    Attributes
    ----------
    overall : Estimate
    weights : Series
        The balancing weights (target group: its sampling weights).
    weight_summary : DataFrame
        Per group: units, sum, range, mean of the weights, effective sample size.
    influence : ndarray
        Influence function of the effect, one value per unit.
    """

    _after_label = "controls, weighted"

    def __init__(self, estimates: pd.DataFrame, *, balance: pd.DataFrame, treated: np.ndarray,
                 weights: pd.Series, weight_summary: pd.DataFrame, influence: np.ndarray,
                 **kwargs: Any) -> None:
        self._balance = balance
        self._d = np.asarray(treated)
        self._weights = weights
        self._w_after = weights.to_numpy()
        self._ps = pd.Series(np.nan, index=weights.index, name="propensity_score")
        self._weight_summary = weight_summary
        self._influence = np.asarray(influence)
        self._influence.flags.writeable = False
        super().__init__(estimates, **kwargs)

    @property
    def weights(self) -> pd.Series:
        """The balancing weights of every unit."""
        return self._weights.copy()

    @property
    def weight_summary(self) -> pd.DataFrame:
        """Weight diagnostics by group, with effective sample sizes."""
        return self._weight_summary.copy()

    @property
    def influence(self) -> np.ndarray:
        """Influence function of the effect (read-only)."""
        return self._influence

    def plot_overlap(self, ax: Axes | None = None, *, bins: int = 40) -> Axes:
        """Not available: entropy balancing estimates no propensity score."""
        raise EstimationError(
            "entropy balancing estimates no propensity score, so there is no overlap plot; "
            "use plot_balance(), or InverseProbabilityWeighting(...).fit(panel).plot_overlap()."
        )


class EntropyBalancing(Estimator):
    """Entropy balancing (Hainmueller 2012), WeightIt's ``method = "ebal"``.

    Parameters
    ----------
    moments : {1, 2}
        Balance the means (1), or the means and the variances (2: squares of
        the non-binary columns are added to the constraints).
    estimand : {"ATT", "ATC", "ATE"}
    base_weights : str, optional
        A column of positive base weights that the balancing weights stay as
        close as possible to (default: uniform, times any sampling weights).
    formula : str, optional
        A formulaic right-hand side whose columns are balanced (default: main
        effects of the panel's covariates, categorical columns as dummies).
    confidence : float

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from spimpact import Panel
    >>> rng = np.random.default_rng(3)
    >>> x = rng.normal(size=2000)
    >>> d = (rng.random(2000) < 1 / (1 + np.exp(-x))).astype(int)
    >>> df = pd.DataFrame({"x": x, "d": d, "y": 1.5 * d + x + rng.normal(size=2000)})
    >>> res = EntropyBalancing().fit(Panel(df, outcome="y", treatment="d", covariates=["x"]))
    >>> bool(abs(res.balance.loc[0, "smd_after"]) < 1e-6)
    True
    >>> bool(abs(res.overall.estimate - 1.5) < 3 * res.overall.std_error)
    True
    """

    def __init__(
        self,
        moments: int = 1,
        estimand: Literal["ATT", "ATC", "ATE"] = "ATT",
        base_weights: str | None = None,
        formula: str | None = None,
        confidence: float = 0.95,
    ) -> None:
        self.moments = moments
        self.estimand = estimand
        self.base_weights = base_weights
        self.formula = formula
        self.confidence = confidence

    def _validate(self) -> None:
        if self.moments not in (1, 2) or isinstance(self.moments, bool):
            raise OptionError(f"moments must be 1 (means) or 2 (means and variances), not "
                              f"{self.moments!r}.")
        validate_choice("estimand", self.estimand, ("ATT", "ATC", "ATE"))
        if self.base_weights is not None and not isinstance(self.base_weights, str):
            raise OptionError(f"base_weights must be a column name, not "
                              f"{type(self.base_weights).__name__}.")
        if self.formula is not None and not isinstance(self.formula, str):
            raise OptionError("formula must be a formulaic right-hand side such as "
                              "'age + I(age**2) + C(sex)'.")
        if not (isinstance(self.confidence, (int, float)) and 0 < self.confidence < 1):
            raise OptionError(f"confidence must be in (0, 1), e.g. 0.95; got {self.confidence!r}.")

    def _constraints(self, panel: Panel, frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        if self.formula is None and len(panel.covariates) == 0:
            raise OptionError("entropy balancing has nothing to balance: build the Panel with "
                              "covariates=[...] or pass formula='age + C(sex) + ...'.")
        spec = self.formula if self.formula is not None else list(panel.covariates)
        X, names = design_matrix(frame, spec, intercept=False)
        if self.moments == 2:
            cont = np.array([len(np.unique(X[:, j])) > 2 for j in range(X.shape[1])], bool)
            X = np.c_[X, X[:, cont] ** 2]
            names = names + [f"{nm}^2" for nm, c in zip(names, cont, strict=True) if c]
        sd = X.std(axis=0)
        if np.any(sd == 0):
            raise OptionError(f"the balance column {names[int(np.argmax(sd == 0))]!r} does not "
                              f"vary; remove it from the covariates or formula.")
        Z = (X - X.mean(axis=0)) / sd
        # drop columns implied by the others (e.g. every level of a categorical
        # covariate): balancing the rest balances them, and the dual stays regular
        from scipy.linalg import qr

        _, R, piv = qr(Z, mode="economic", pivoting=True)
        diag = np.abs(np.diag(R))
        rank = int((diag > 1e-9 * diag.max()).sum())
        keep = np.sort(piv[:rank])
        return Z[:, keep], [names[j] for j in keep]

    def fit(self, panel: Panel) -> EntropyBalancingResult:
        """Find the balancing weights and estimate the effect.

        Raises
        ------
        EstimationError
            No treated or no control units, or target moments the reweighted
            group cannot reach (the constraints are infeasible), named.
        """
        self._validate()
        sample = treatment_sample(panel, "EntropyBalancing")
        frame, d, y, s = sample.frame, sample.d, sample.y, sample.w
        q = np.ones(len(y))
        if self.base_weights is not None:
            if self.base_weights not in frame.columns:
                raise OptionError(f"base_weights={self.base_weights!r} is not a column of the "
                                  f"panel; add it to Panel(covariates=[...]).")
            q = frame[self.base_weights].to_numpy(dtype=float)
            if not np.all(np.isfinite(q) & (q > 0)):
                raise OptionError(f"base_weights column {self.base_weights!r} must be positive "
                                  f"and finite in every row.")
        C, names = self._constraints(panel, frame)
        t, c = d == 1, d == 0
        target = {"ATT": t, "ATC": c, "ATE": np.ones(len(d), bool)}[self.estimand]
        m = s[target] @ C[target] / s[target].sum()
        groups = {"ATT": [c], "ATC": [t], "ATE": [t, c]}[self.estimand]
        w = s.astype(float).copy()
        lams = []
        for g in groups:
            sol = ebal_dual(C[g], (s * q)[g], m)
            if not sol.converged:
                gap = np.abs(sol.w @ C[g] - m)
                worst = names[int(np.argmax(gap))]
                who = "controls" if g is c else "treated units"
                raise EstimationError(
                    f"entropy balancing found no weights of the {who} that reproduce the "
                    f"target moments (remaining standardised gap {gap.max():.3g} on {worst!r}): "
                    f"the target lies outside what the {who} can reach, e.g. a value no "
                    f"{who[:-1]} has. {'Use moments=1, ' if self.moments == 2 else ''}"
                    f"Coarsen or drop {worst!r}, choose an estimand whose target the {who} can "
                    f"reach (e.g. ATT), or restrict the sample to common support."
                )
            w[g] = sol.w * g.sum()  # each group's weights add up to its size
            lams.append(sol.lam)
        mom = _moments(C, d, y, s, q, target, groups, lams, m)
        psi_all = influence(mom)
        psi = np.column_stack([psi_all[:, mom.mu1] - psi_all[:, mom.mu0], psi_all[:, mom.mu1],
                               psi_all[:, mom.mu0]])
        n = len(y)
        se = influence_se(psi, sample.cluster, n=n)
        mu1, mu0 = mom.theta[mom.mu1], mom.theta[mom.mu0]
        est = np.array([mu1 - mu0, mu1, mu0])
        table = estimate_table(est, se, self.confidence,
                               index={"term": [self.estimand, "mean Y(1)", "mean Y(0)"]})
        Xb, bnames = balance_covariates(frame, panel.covariates)
        balance = balance_table(Xb, bnames, d, s, w, self.estimand)
        notes: list[str] = []
        for name, grp in (("treated", t), ("control", c)):
            wg = w[grp]
            ess = wg.sum() ** 2 / (wg**2).sum()
            if grp.sum() > 10 and ess < 0.1 * grp.sum():
                notes.append(f"the {name} weights are very uneven: effective sample size "
                             f"{ess:.1f} of {int(grp.sum())}; the estimate rests on few units.")
        n_cl = panel.n_clusters
        if n_cl is not None and (msg := few_clusters_message(n_cl)):
            notes.append(msg)
        info = {"estimand": self.estimand, "moments": self.moments,
                "constraints": names, "treated": int(t.sum()), "controls": int(c.sum()),
                "standard errors": "M-estimation sandwich, balancing weights estimated"}
        return EntropyBalancingResult(
            table, balance=balance, treated=d,
            weights=pd.Series(w, index=frame.index, name="weight"),
            weight_summary=weight_summary(w, d), influence=psi[:, 0],
            overall=Estimate.from_se(est[0], se[0], self.confidence, label=self.estimand),
            method=f"entropy balancing ({self.estimand}, moments={self.moments})",
            confidence=self.confidence, n_obs=n, n_units=n, n_clusters=n_cl,
            warnings=notes, info=info,
        )


def _moments(
    C: np.ndarray, d: np.ndarray, y: np.ndarray, s: np.ndarray, q: np.ndarray,
    target: np.ndarray, groups: list[np.ndarray], lams: list[np.ndarray], m: np.ndarray,
) -> Moments:
    """Stacked estimating equations ``(m, lambda_g..., mu1, mu0)`` at the estimate.

    ``C``: standardised constraints (n, k); ``target``: mask of the target
    group; ``groups``: masks of the reweighted groups with their dual
    coefficients ``lams``; ``m``: the target moments."""
    n, k = C.shape
    Z = C - m
    sT = np.where(target, s, 0.0)
    blocks = [sT[:, None] * Z]
    n_par = k + k * len(groups) + 2
    J = np.zeros((n_par, n_par))
    J[:k, :k] = -sT.sum() * np.eye(k)
    a_of: dict[int, np.ndarray] = {}
    for gi, (g, lam) in enumerate(zip(groups, lams, strict=True)):
        e = np.exp(Z @ lam - (Z[g] @ lam).max())
        a = np.where(g, s * q * e, 0.0)
        a_of[gi] = a
        r = slice(k + gi * k, k + (gi + 1) * k)
        blocks.append(a[:, None] * Z)
        J[r, :k] = -(a.sum() * np.eye(k) + np.outer(a @ Z, lam))
        J[r, r] = (Z * a[:, None]).T @ Z
    arm = {1: d == 1, 0: d == 0}
    mus: dict[int, float] = {}
    cols: dict[int, np.ndarray] = {}
    for pos, a_arm in ((n_par - 2, 1), (n_par - 1, 0)):
        g = arm[a_arm]
        hit = next((i for i, gg in enumerate(groups) if np.array_equal(gg, g)), None)
        a = a_of[hit] if hit is not None else np.where(g, s, 0.0)
        mu = a @ y / a.sum()
        mus[a_arm] = mu
        resid = a * (y - mu)
        cols[pos] = resid
        J[pos, pos] = -a.sum()
        if hit is not None:
            r = slice(k + hit * k, k + (hit + 1) * k)
            J[pos, r] = resid @ Z
            J[pos, :k] = -resid.sum() * lams[hit]
    blocks += [cols[n_par - 2][:, None], cols[n_par - 1][:, None]]
    psi = np.column_stack(blocks)
    theta = np.r_[m, *lams, mus[1], mus[0]]
    return Moments(theta, psi, J / n, n_par - 2, n_par - 1)
