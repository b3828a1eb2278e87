"""Extended two-way fixed effects (Wooldridge 2021, 2023), linear and Poisson.

One regression with a coefficient for every treated cohort x period cell:

* ``family="gaussian"``: ``y_it = a_i + l_t + sum_gt tau_gt D_it^gt (+ x terms)``
  with unit effects absorbed. With not-yet-treated controls (every untreated
  row identifies the unit and period effects) the cells are the post-treatment
  ones and, without covariates, the estimates equal the imputation estimator's
  (Borusyak, Jaravel & Spiess 2024). With never-treated controls every period
  but each cohort's reference ``g - 1`` has a cell (pre-treatment cells test
  parallel trends).
* ``family="poisson"``: ``log E[y_it] = log(exposure_it) + a_g + l_t + sum_gt
  tau_gt D_it^gt (+ x terms)``, a Poisson quasi-likelihood with cohort effects
  (Wooldridge 2023), for counts over a population at risk (the panel's
  ``exposure=``, e.g. a practice's list size). ``exp(tau_gt)`` is the cell's
  rate ratio; ATT(g,t) is reported on the count scale (``scale="response"``:
  the mean over the cell's treated rows of ``mu_it - mu_it exp(-tau_gt)``) or
  on the log scale (``scale="link"``). Without covariates the fit uses the
  cohort x period totals, which are sufficient, and the influence functions
  stay factored on the cohorts (a unit's residuals by period times per-cohort
  coefficients): its cost does not grow with the number of units beyond a
  pass over the rows. A saturated fit (never-treated controls without
  covariates) reproduces the closed-form double difference of log rates.

Covariates enter as in Wooldridge (2021) and R's ``etwfe``: their main
effect, their interactions with cohort and with period, and their
interactions, centred within cohort, with every cell (so ``tau_gt`` is the
cell's effect at its cohort's mean covariates). Terms that the unit effects
absorb (a unit-constant covariate and its cohort interactions) are left out
of the linear model. Influence functions are the per-unit scores through the
inverse Hessian, so every aggregation, clustering and bootstrap goes through
the package's one engine. The linear model without covariates on a balanced
panel is Sun-Abraham's cohort-block cell regression
(:func:`spimpact.did._fe_blocks.cell_regression`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse

from .._estimator import Estimator
from .._formula import column_list, design_matrix
from ..errors import EstimationError, OptionError
from ..inference import FactoredInfluence, RandomState, validate_choice
from ..inference_cluster import DEFAULT_INFERENCE
from ..panel import Panel
from ._fe import (
    FESample,
    InferenceOptions,
    _check_panel,
    dummies,
    fe_sample,
    group_time_result,
    unit_indicator,
    within_ols,
)
from ._fe_blocks import ZERO_COEF, cell_regression
from .imputation import validate_common
from .results import GroupTimeResult

__all__ = ["ETWFE", "ETWFEResult"]


class ETWFE(Estimator):
    """Extended two-way fixed effects DiD (Wooldridge 2021, 2023).

    Parameters
    ----------
    family : {"gaussian", "poisson"}
        Linear regression with unit effects, or Poisson quasi-likelihood with
        cohort effects for counts (with the panel's ``exposure=`` as offset).
    control_group : {"not_yet_treated", "never_treated"}
        Which untreated rows identify the counterfactual: every untreated row
        (post-treatment cells only) or the never-treated units (cells for every
        period but each cohort's reference period ``g - 1``).
    covariates : sequence of str or str
        Covariate columns (time-constant or time-varying). Default: none.
    scale : {"response", "link"}
        Poisson only: ATT(g,t) on the count scale, or the log rate ratio.
    fixed_shares : bool
        ``False`` (default): aggregations include the influence of the
        estimated cohort shares; ``True`` treats them as fixed (as R's
        ``etwfe::emfx``).
    bootstrap : int, optional
        Multiplier-bootstrap draws; ``None``: analytic SEs.
    confidence : float
    random_state : int, Generator or None
    multiplier : {"mammen", "rademacher"}
    inference : {"cv3", "cluster_t", "cr2", "analytic"}
        Small-sample inference, as for :class:`~spimpact.did.CallawaySantAnna`
        (see :mod:`spimpact.inference_cluster`); ``"analytic"``: no small-sample
        factor, normal critical values.

    Examples
    --------
    >>> from spimpact.simulate import pcn_rollout
    >>> from spimpact.did import ETWFE
    >>> sim = pcn_rollout(n_pcns=60, covid=False, random_state=3)
    >>> res = ETWFE(family="poisson").fit(sim.panel("ae_attendances", covariates=()))
    >>> res.estimates.columns[:2].tolist(), res.overall is not None
    (['group', 'time'], True)
    """

    def __init__(
        self,
        family: Literal["gaussian", "poisson"] = "gaussian",
        control_group: Literal["not_yet_treated", "never_treated"] = "not_yet_treated",
        covariates: Sequence[str] | str = (),
        scale: Literal["response", "link"] = "response",
        fixed_shares: bool = False,
        bootstrap: int | None = None,
        confidence: float = 0.95,
        random_state: RandomState = None,
        multiplier: str = "rademacher",
        inference: str = DEFAULT_INFERENCE,
    ) -> None:
        self.family = family
        self.control_group = control_group
        self.covariates = covariates
        self.scale = scale
        self.fixed_shares = fixed_shares
        self.bootstrap = bootstrap
        self.confidence = confidence
        self.random_state = random_state
        self.multiplier = multiplier
        self.inference = inference

    def _validate(self) -> None:
        validate_choice("family", self.family, ("gaussian", "poisson"))
        validate_choice("control_group", self.control_group,
                        ("not_yet_treated", "never_treated"))
        validate_choice("scale", self.scale, ("response", "link"))
        validate_common(self)

    def fit(self, panel: Panel) -> ETWFEResult:
        """Estimate every cell's effect in one regression."""
        self._validate()
        _check_panel(panel, "ETWFE(family='gaussian')" if self.family == "gaussian" else "ETWFE",
                     uses_exposure=self.family == "poisson")
        s = fe_sample(panel, (), "ETWFE", uses_exposure=True, inference=self.inference)
        if len(s.groups) == 0:
            raise EstimationError("ETWFE: no unit is treated within the panel's periods.")
        if self.control_group == "never_treated" and np.isfinite(s.unit_cohort).all():
            raise EstimationError(
                "control_group='never_treated' but every unit is treated within the panel; "
                "use control_group='not_yet_treated'."
            )
        X, x_names = self._covariates(panel)
        design = _Design(s, X, x_names, self.control_group, panel.periods)
        offset = None
        if panel.exposure_values is not None:
            offset = np.log(panel.unit_sample().rows(panel.exposure_values))
        link = None
        if self.family == "gaussian":
            att, psi, notes = _linear(design, s)
        else:
            att, psi, notes, link = _poisson(design, s, offset, self.scale)
        opts = InferenceOptions(self.confidence, self.bootstrap, self.random_state,
                                self.multiplier, share_influence=not self.fixed_shares,
                                inference=self.inference)
        what = ("Poisson ETWFE" + (", count scale" if self.scale == "response" else
                                   ", log rate ratios")) if self.family == "poisson" \
            else "Linear ETWFE"
        method = f"{what} (Wooldridge; {self.control_group.replace('_', ' ')} controls)"
        pre = design.cells["post"].to_numpy() | design.cells["reference"].to_numpy()
        common: dict[str, Any] = dict(
            n_obs=len(s.y), notes=[*s.notes, *notes],
            pretest="cells" if not pre.all() else None,
            pretest_text=None if not pre.all() else (
                "none: with not-yet-treated controls the pre-treatment rows identify the "
                "model (use control_group='never_treated' for pre-treatment cells)"),
            info={"family": self.family, "covariates": ", ".join(x_names) or "none"},
        )
        link_result = None
        if link is not None and self.scale == "response":
            link_result = group_time_result(
                panel, s, design.cells, link[0], link[1],
                opts, result_cls=ETWFEResult,
                method=method.replace("count scale", "log rate ratios"), **common)
        out = group_time_result(panel, s, design.cells, att, psi, opts, method=method,
                                result_cls=ETWFEResult, link=link_result,
                                family=self.family, scale=self.scale, **common)
        assert isinstance(out, ETWFEResult)
        return out

    def _covariates(self, panel: Panel) -> tuple[np.ndarray, list[str]]:
        spec = column_list(self.covariates)
        if spec is None or (not isinstance(spec, str) and len(spec) == 0):
            return np.zeros((0, 0)), []
        us = panel.unit_sample()
        frame = panel.frame if us.all_rows else panel.frame.loc[us.row_keep]
        X, names = design_matrix(frame, spec, intercept=False)
        return X, names


class ETWFEResult(GroupTimeResult):
    """ETWFE's ATT(g,t) (see :class:`~spimpact.did.GroupTimeResult`), with rate
    ratios for the Poisson family."""

    def __init__(self, estimates: pd.DataFrame, *, link: GroupTimeResult | None = None,
                 family: str = "gaussian", scale: str = "response", **kwargs: Any) -> None:
        self._link = link
        self._family = family
        self._scale = scale
        super().__init__(estimates, **kwargs)

    def rate_ratios(self, kind: str | None = None, **options: Any) -> pd.DataFrame:
        """Rate ratios of the Poisson fit: ``exp`` of the log rate ratios with
        their intervals (``exp`` of the log-scale limits).

        ``kind=None``: one row per cohort x period cell (``group``, ``time``);
        ``"simple"``, ``"event"``, ``"group"`` or ``"calendar"``: the aggregation
        of the log rate ratios with the same weights as ``.aggregate(kind)``
        (``options`` as there), exponentiated. Columns ``rate_ratio``,
        ``ci_lower``, ``ci_upper``, ``log_rate_ratio``, ``std_error`` (of the
        log) and ``p_value``.
        """
        if self._family != "poisson":
            raise OptionError("rate_ratios() needs ETWFE(family='poisson'); a linear ETWFE's "
                              "effects are differences in the outcome's level.")
        base = self if self._scale == "link" else self._link
        assert base is not None
        if kind is None:
            tab = base.estimates
        else:
            agg = base.aggregate(kind, **options)
            if kind != "simple":
                tab = agg.estimates
            else:
                o = agg.overall
                assert o is not None
                tab = pd.DataFrame([{"estimate": o.estimate, "std_error": o.std_error,
                                     "ci_lower": o.ci_lower, "ci_upper": o.ci_upper,
                                     "p_value": o.p_value}])
        keys = [c for c in tab.columns if c not in
                ("estimate", "std_error", "ci_lower", "ci_upper", "p_value", "t_stat")]
        out = tab[keys].copy()
        out["rate_ratio"] = np.exp(tab["estimate"].to_numpy())
        out["ci_lower"] = np.exp(tab["ci_lower"].to_numpy())
        out["ci_upper"] = np.exp(tab["ci_upper"].to_numpy())
        out["log_rate_ratio"] = tab["estimate"].to_numpy()
        out["std_error"] = tab["std_error"].to_numpy()
        out["p_value"] = tab["p_value"].to_numpy()
        return out.reset_index(drop=True)


class _Design:
    """Rows, cells and the sparse regressors of an ETWFE regression."""

    def __init__(self, s: FESample, X: np.ndarray, x_names: list[str], control_group: str,
                 labels: pd.Index) -> None:
        T = s.n_periods
        self._s, self._control_group, self.T = s, control_group, T
        if len(s.y) == s.n_units * T:  # balanced: every unit's cohort meets every period
            uc = s.unit_cohort
            g = np.unique(uc[np.isfinite(uc)]).astype(int)
            t = np.arange(T)
            grid = g[:, None] * T + t[None, :]
            ok = t[None, :] >= g[:, None] if control_group == "not_yet_treated" \
                else t[None, :] != g[:, None] - 1
            self.cell_codes = grid[ok]
        else:
            self.cell_codes = np.unique(self.code[self.in_cell])
        g, t = self.cell_codes // T, self.cell_codes % T
        groups = np.unique(g)
        ref_g = groups[groups >= 1] if control_group == "never_treated" else groups[:0]
        cells = pd.DataFrame({
            "g": np.r_[g, ref_g], "t": np.r_[t, ref_g - 1],
            "reference": np.r_[np.zeros(len(g), bool), np.ones(len(ref_g), bool)],
        })
        cells["base"] = cells["g"] - 1
        cells["post"] = cells["t"] >= cells["g"]
        self.order = np.lexsort((cells["t"].to_numpy(), cells["g"].to_numpy()))
        self.cells = cells.iloc[self.order][["g", "t", "base", "post", "reference"]]
        self.cells = self.cells.reset_index(drop=True)
        self.n_ref = len(ref_g)
        self.labels = labels
        self.cohort_codes = np.unique(s.unit_cohort)  # never treated (inf) last
        # covariates centred within cohort (over the cohort's rows), as in etwfe
        self.X, self.x_names = X, x_names
        if X.shape[1]:
            k = len(self.cohort_codes)
            cnt = np.bincount(self.cohort_row, minlength=k)
            means = np.vstack([np.bincount(self.cohort_row, weights=X[:, j], minlength=k)
                               for j in range(X.shape[1])]).T / cnt[:, None]
            self.X_dm = X - means[self.cohort_row]
        else:
            self.X_dm = X

    @cached_property
    def in_cell(self) -> np.ndarray:
        """Rows in a cell."""
        s = self._s
        rc = s.row_cohort
        g_row = np.where(np.isfinite(rc), rc, 0).astype(int)
        if self._control_group == "not_yet_treated":
            return np.isfinite(rc) & (s.time >= g_row)
        return np.isfinite(rc) & (s.time != g_row - 1)

    @cached_property
    def code(self) -> np.ndarray:
        """Each row's cell code ``g * T + t`` (-1 outside the cells)."""
        s = self._s
        g_row = np.where(self.in_cell, s.row_cohort, 0).astype(int)
        return np.where(self.in_cell, g_row * self.T + s.time, -1)

    @cached_property
    def cohort_row(self) -> np.ndarray:
        """Each row's position in ``cohort_codes``."""
        return np.searchsorted(self.cohort_codes, self._s.unit_cohort)[self._s.unit]

    @property
    def n_cells(self) -> int:
        return len(self.cell_codes)

    def cell_names(self) -> list[str]:
        T, lab = self.T, self.labels
        return [f"cohort {lab[c // T]!s} x period {lab[c % T]!s}" for c in self.cell_codes]

    def blocks(self, s: FESample, *, cohort_effects: bool) -> tuple[sparse.csr_matrix,
                                                                     list[str]]:
        """Regressors: [intercept, cohort dummies,] period dummies, cells, then the
        covariate blocks (x, cohort x x, period x x, cell x centred x)."""
        periods = np.arange(1, s.n_periods)
        lab = self.labels
        parts, names = [], []
        if cohort_effects:
            G = len(self.cohort_codes)
            parts += [sparse.csr_matrix(np.ones((len(s.y), 1))),
                      dummies(self.cohort_row, np.arange(G - 1))]
            names += ["(intercept)"] + [f"cohort {self._cohort_label(c)}"
                                        for c in self.cohort_codes[:-1]]
        parts.append(dummies(s.time, periods))
        names += [f"period {lab[p]!s}" for p in periods]
        C = dummies(self.code, self.cell_codes)
        parts.append(C)
        names += self.cell_names()
        for j, xn in enumerate(self.x_names):
            x, xd = self.X[:, j], self.X_dm[:, j]
            G = len(self.cohort_codes)
            xc = dummies(self.cohort_row, np.arange(G - 1)).multiply(x[:, None])
            xt = dummies(s.time, periods).multiply(x[:, None])
            parts += [sparse.csr_matrix(x[:, None]), xc, xt, C.multiply(xd[:, None])]
            names += ([xn] + [f"cohort {self._cohort_label(c)} x {xn}"
                              for c in self.cohort_codes[:-1]]
                      + [f"period {lab[p]!s} x {xn}" for p in periods]
                      + [f"{nm} x {xn} (centred)" for nm in self.cell_names()])
        return sparse.hstack(parts).tocsr(), names

    def _cohort_label(self, c: float) -> str:
        return "never" if not np.isfinite(c) else str(self.labels[int(c)])

    def cell_columns(self, names: list[str]) -> np.ndarray:
        first = names.index(self.cell_names()[0])
        return np.arange(first, first + self.n_cells)

    def finish(self, att: np.ndarray, psi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Append the reference cells (0) and sort the cells by (g, t)."""
        n = psi.shape[0]
        att = np.r_[att, np.zeros(self.n_ref)][self.order]
        psi = np.hstack([psi, np.zeros((n, self.n_ref))])[:, self.order]
        return att, psi


def _absorbed(R: sparse.csr_matrix, unit: np.ndarray, n_units: int) -> np.ndarray:
    """Columns that are constant within every unit (the unit effects absorb them)."""
    U = unit_indicator(unit, n_units)
    cnt = np.asarray(U.sum(axis=1)).ravel()
    mean = (U @ R).toarray() / np.maximum(cnt, 1)[:, None]
    sq = (U @ R.multiply(R)).toarray() / np.maximum(cnt, 1)[:, None]
    scale = np.maximum(np.abs(R).max(axis=0).toarray().ravel(), 1.0)
    return ((sq - mean ** 2).max(axis=0) <= 1e-12 * scale ** 2)


def _linear(d: _Design, s: FESample, *, factored: bool = True
            ) -> tuple[np.ndarray, np.ndarray | FactoredInfluence, list[str]]:
    """Cells (reference cells included with 0) and their influence functions.

    A balanced panel without covariates is fitted by cohort blocks and its
    influence functions stay factored (:mod:`spimpact.did._fe_blocks`;
    ``factored=False`` forces the row-level sparse regression, the reference
    the block formulas are tested against)."""
    notes: list[str] = []
    if factored and not d.x_names:
        T = s.n_periods
        fast = cell_regression(s, s.unit_cohort, d.cell_codes // T, d.cell_codes % T, T,
                               d.labels, "the ETWFE regression", d.order, d.n_ref)
        if fast is not None:
            return fast[0], fast[1], notes
    R, names = d.blocks(s, cohort_effects=False)
    if d.x_names:
        gone = _absorbed(R, s.unit, s.n_units)
        if gone.any():
            R = R[:, np.flatnonzero(~gone)]
            names = [nm for nm, a in zip(names, gone, strict=True) if not a]
    fit = within_ols(s.y, R, s.unit, s.w, s.n_units, names, "the ETWFE regression")
    cols = d.cell_columns(names)
    att, psi = d.finish(fit.coef[cols], fit.influence(cols))
    return att, psi, notes


_POISSON_FAILED = ("ETWFE(family='poisson'): the Poisson fit failed (a cohort x period cell "
                   "with no events, or collinear terms); drop covariates or pool periods.")


def _glm_poisson(y: np.ndarray, X: np.ndarray, *, cells: np.ndarray | None = None,
                 **kw: Any) -> np.ndarray:
    """Poisson (quasi-)likelihood coefficients by statsmodels' Newton iterations.

    ``cells`` given: ``y`` are cohort x period rates from totals and ``cells``
    marks the rows that are treated cells. A saturated model (never-treated
    controls without covariates: every cohort x period has its parameter) then
    fits them exactly, which statsmodels reports as perfect prediction; the
    failures are a cell without events, or any cohort x period without events
    in a saturated model (a parameter of minus infinity), checked here
    instead."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    totals = cells is not None
    if cells is not None:
        zero = y <= 0
        if (zero & cells).any() or (X.shape[0] <= X.shape[1] and zero.any()):
            raise EstimationError(_POISSON_FAILED)
    glm = sm.GLM(y, X, family=sm.families.Poisson(), **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if totals else "error", PerfectSeparationWarning)
        try:
            res = glm.fit(method="newton", tol=1e-12, maxiter=100)
        except (PerfectSeparationWarning, np.linalg.LinAlgError) as exc:
            raise EstimationError(_POISSON_FAILED) from exc
    params = np.asarray(res.params)
    if not np.isfinite(params).all():
        raise EstimationError(_POISSON_FAILED)
    return params


def _poisson_by_cohorts(d: _Design, s: FESample, off: np.ndarray, scale: str
                        ) -> tuple[np.ndarray, FactoredInfluence, list[str],
                                   tuple[np.ndarray, FactoredInfluence]] | None:
    """:func:`_poisson` without covariates from cohort x period sums, the
    influence functions factored on the cohorts; ``None`` when a cohort has no
    cell (then the row-level computation is used).

    Every regressor is a function of the cohort ``c`` and period ``t``, so with
    ``R_ct`` the design row of cell ``(c, t)``: the fit uses the totals of
    ``w y`` and ``w exposure`` (as the row-level path), the Hessian is
    ``sum_ct (sum w mu) R_ct' R_ct``, a cell's effect and gradient need its
    totals of ``w`` and ``w mu``, and unit ``i``'s score is
    ``sum_t r_it R_ct`` (``r = w (y - mu)``, 0 for periods it is not observed):
    a :class:`~spimpact.inference.FactoredInfluence` whose basis is the units'
    residuals by period and whose coefficients are ``n R_c H^-1 grad'``."""
    T, n = s.n_periods, s.n_units
    codes = d.cohort_codes
    nc = len(codes)
    G = int(np.isfinite(codes).sum())
    if G != len(np.unique(d.cell_codes // T)) or (codes[:G] < 0).any():
        return None
    # the design of every (cohort, period): intercept, cohorts but the last, periods, cells
    cg, tg = np.repeat(np.arange(nc), T), np.tile(np.arange(T), nc)
    gint = np.where(np.isfinite(codes[cg]), codes[cg], 0).astype(int)
    treated = np.isfinite(codes[cg])
    in_cell = treated & ((tg >= gint) if d._control_group == "not_yet_treated"
                         else (tg != gint - 1))
    code = np.where(in_cell, gint * T + tg, -1)
    K = d.n_cells
    j = np.minimum(np.searchsorted(d.cell_codes, code), K - 1)
    ok = in_cell & (d.cell_codes[j] == code)
    first_cell = nc + T - 1
    Rg = np.zeros((nc * T, first_cell + K))
    Rg[:, 0] = 1.0
    Rg[np.flatnonzero(cg < nc - 1), 1 + cg[cg < nc - 1]] = 1.0
    Rg[np.flatnonzero(tg >= 1), nc + tg[tg >= 1] - 1] = 1.0
    Rg[np.flatnonzero(ok), first_cell + j[ok]] = 1.0
    unit_c = np.searchsorted(codes, s.unit_cohort)
    key = unit_c[s.unit] * T + s.time
    y, w = s.y, s.w
    size = nc * T
    present = np.bincount(key, minlength=size) > 0
    Y = np.bincount(key, weights=w * y, minlength=size)[present]
    E = np.bincount(key, weights=w * np.exp(off), minlength=size)[present]
    theta = _glm_poisson(Y / E, Rg[present], cells=ok[present], var_weights=E)
    mu = np.exp((Rg @ theta)[key] + off)
    wmu = np.bincount(key, weights=w * mu, minlength=size)
    Hinv = np.linalg.inv(Rg.T @ (wmu[:, None] * Rg))
    resid = np.zeros((n, T + 1))
    resid[s.unit, s.time] = w * (y - mu)
    resid[:, T] = s.unit_w
    cell_key = np.empty(K, dtype=np.intp)
    cell_key[j[ok]] = np.flatnonzero(ok)
    Wc = np.bincount(key, weights=w, minlength=size)[cell_key]
    S1 = wmu[cell_key]
    cols = first_cell + np.arange(K)
    tau = theta[cols]
    unit_vec = np.zeros((K, Rg.shape[1]))
    unit_vec[np.arange(K), cols] = 1.0

    def factored(grad: np.ndarray) -> FactoredInfluence:
        C = np.zeros((G + 1, T + 1, K + d.n_ref))
        B = Hinv @ grad.T  # (p, K)
        for c in range(nc):  # the never-treated cohort, when present, is block G
            C[c if c < G else G, :T, :K] = n * (Rg[c * T:(c + 1) * T] @ B)
        # a cohort's column that is rounding noise (a cell its units do not inform,
        # e.g. another saturated cohort's with never-treated controls) is exactly 0,
        # as the row-level influence functions' support rule reads it
        big = np.abs(C[:, :T, :K]).max(axis=1)
        noise = big <= ZERO_COEF * big.max(axis=0, initial=0.0)
        C[:, :T, :K][np.broadcast_to(noise[:, None, :], (G + 1, T, K))] = 0.0
        coef = C.reshape((G + 1) * (T + 1), K + d.n_ref)[:, d.order]
        return FactoredInfluence(np.where(unit_c < G, unit_c, G), resid, G + 1, coef,
                                 weight_col=T)

    order, zeros = d.order, np.zeros(d.n_ref)
    link = (np.r_[tau, zeros][order], factored(unit_vec))
    if scale == "link":
        return link[0], link[1], [], link
    att = S1 / Wc * (1.0 - np.exp(-tau))
    grad = Rg[cell_key] * att[:, None] + unit_vec * (np.exp(-tau) * S1 / Wc)[:, None]
    return np.r_[att, zeros][order], factored(grad), [], link


def _poisson(d: _Design, s: FESample, offset: np.ndarray | None, scale: str, *,
             factored: bool = True) -> tuple[np.ndarray, np.ndarray | FactoredInfluence,
                                             list[str], tuple[np.ndarray, Any]]:
    """Cells on ``scale`` with their influence functions, the notes, and the cells
    on the link scale (log rate ratios) with theirs. Without covariates the
    influence functions stay factored on the cohorts (:func:`_poisson_by_cohorts`;
    ``factored=False`` forces the row-level computation, its reference)."""
    y, w = s.y, s.w
    if (y < 0).any() or not np.isfinite(y).all():
        raise EstimationError(
            "ETWFE(family='poisson') needs non-negative counts; the outcome has negative or "
            "non-finite values."
        )
    off = np.zeros(len(y)) if offset is None else offset
    if factored and not d.x_names:
        fast = _poisson_by_cohorts(d, s, off, scale)
        if fast is not None:
            return fast
    R, names = d.blocks(s, cohort_effects=True)
    notes: list[str] = []
    if not d.x_names:
        # sufficient statistics: every regressor is constant within a cohort x period
        # (the rate Y/E with weight E has the row-level Poisson score)
        key = d.cohort_row * s.n_periods + s.time
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
        Y = np.bincount(inv, weights=w * y)
        E = np.bincount(inv, weights=w * np.exp(off))
        Rf = R[first].toarray()
        theta = _glm_poisson(Y / E, Rf, cells=(Rf[:, d.cell_columns(names)] != 0).any(axis=1),
                             var_weights=E)
    else:
        theta = _glm_poisson(y, R.toarray(), offset=off, var_weights=w)
    eta = np.asarray(R @ theta).ravel() + off
    mu = np.exp(eta)
    resid = w * (y - mu)
    n = s.n_units
    scores = unit_indicator(s.unit, n, resid) @ R  # (n_units, p) sparse
    H = np.asarray((R.T @ R.multiply((w * mu)[:, None])).todense())
    Hinv = np.linalg.inv(H)
    cols = d.cell_columns(names)
    # each treated row's effect on the link scale and its gradient
    rows = np.flatnonzero(d.in_cell)
    cell_of = np.searchsorted(d.cell_codes, d.code[rows])
    k = d.n_cells
    p = R.shape[1]
    delta = theta[cols][cell_of].copy()
    J = sparse.csr_matrix((np.ones(len(rows)), (np.arange(len(rows)), cols[cell_of])),
                          shape=(len(rows), p))
    if d.x_names:
        first_x = names.index(f"{d.cell_names()[0]} x {d.x_names[0]} (centred)")
        block = len(names) - first_x
        per_x = block // len(d.x_names)
        for j in range(len(d.x_names)):
            c0 = first_x + j * per_x
            xcols = np.arange(c0, c0 + k)
            delta += theta[xcols][cell_of] * d.X_dm[rows, j]
            J = J + sparse.csr_matrix(
                (d.X_dm[rows, j], (np.arange(len(rows)), xcols[cell_of])), shape=(len(rows), p))
    wr = w[rows]
    Wc = np.bincount(cell_of, weights=wr, minlength=k)
    C = sparse.csr_matrix((wr / Wc[cell_of], (cell_of, np.arange(len(rows)))),
                          shape=(k, len(rows)))  # cell means over treated rows
    att_l = C @ delta
    grad_l = (C @ J).toarray()
    link = d.finish(np.asarray(att_l).ravel(), n * np.asarray(scores @ (Hinv @ grad_l.T)))
    if scale == "link":
        return link[0], link[1], notes, link
    mu1 = mu[rows]
    mu0 = mu1 * np.exp(-delta)
    att = C @ (mu1 - mu0)
    Xr = R[rows]
    grad = (C @ (Xr.multiply((mu1 - mu0)[:, None]) + J.multiply(mu0[:, None]))).toarray()
    psi = n * np.asarray(scores @ (Hinv @ grad.T))
    att, psi = d.finish(np.asarray(att).ravel(), psi)
    return att, psi, notes, link
