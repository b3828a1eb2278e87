"""Difference-in-differences with a continuous dose (Callaway, Goodman-Bacon and
Sant'Anna 2024): :class:`ContinuousDiD`.

Each treated cohort ``g`` and period ``t`` forms a 2x2 comparison: the change
in the outcome from the base period (``t - 1`` before the start, ``g - 1``
after it) of the cohort's units against the same change among the comparison
units (never treated, or not yet treated by ``t``). Among the cohort, the
change is regressed on a B-spline of the dose (``degree``, ``num_knots``
interior knots at quantiles of the treated doses, boundary knots at the
cohort's smallest and largest dose):

* ATT(d) of the cell is the fitted change at dose ``d`` minus the comparison
  units' mean change;
* ACRT(d), the average causal response, is the fitted curve's slope at ``d``.

Post-treatment cells are averaged with the weights of the "group" aggregation
of Callaway and Sant'Anna (each cohort's share of the treated units, spread
evenly over its post-treatment periods): the dose-response curves ATT(d) and
ACRT(d) on a grid of doses, and the overall ATT^o (the binary DiD of the
cells, averaged the same way) and ACRT^o (the cells' mean slope over their
treated units). The event-study aggregation averages the cells' binary ATT
and their mean slope by periods since the start.

Standard errors come from per-unit influence functions: the spline fit's
(sandwich) term and the sampling of the dose for the treated units, the
comparison mean's term for the comparison units, and the estimated cohort
shares' term (as in R ``did``'s aggregations); with a panel ``cluster`` they
are summed within clusters. The point estimates equal those of the authors'
R package ``contdid`` as ported by moderndid (``cont_did`` with
``dose_est_method="parametric"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy.interpolate import BSpline

from .._estimator import Estimator
from .._sample import refuse_exposure, require_panel
from ..errors import EstimationError, OptionError
from ..inference_cluster import DEFAULT_INFERENCE, SmallSample, check_inference, small_sample
from ..inference_roles import leverage_adjusted
from ..panel import Panel
from ..results import Estimate, Result, estimate_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ContinuousDiD", "ContinuousDiDResult"]

ControlGroup = Literal["never_treated", "not_yet_treated"]


def _spline(x: np.ndarray, lo: float, hi: float, knots: np.ndarray,
            degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Intercept plus the B-spline basis without its first function (as R's
    ``splines2::bSpline(intercept = FALSE)``) at ``x``, and its derivative;
    polynomial extrapolation beyond the boundary knots."""
    t = np.r_[np.repeat(lo, degree + 1), knots, np.repeat(hi, degree + 1)]
    nb = len(t) - degree - 1
    spl = BSpline(t, np.eye(nb), degree, extrapolate=True)
    basis, deriv = spl(x)[:, 1:], spl.derivative(1)(x)[:, 1:]
    one = np.ones((len(x), 1))
    return np.hstack([one, basis]), np.hstack([0 * one, deriv])


class ContinuousDiDResult(Result):
    """Dose-response curves from :class:`ContinuousDiD`.

    ``.estimates`` has one row per target (``att_d``: ATT(d); ``acrt_d``:
    ACRT(d)) and dose; ``.overall`` is ATT^o and :attr:`overall_acrt` ACRT^o;
    :attr:`event_study` holds the event-study aggregation.
    """

    def __init__(self, estimates: pd.DataFrame, *, overall_acrt: Estimate,
                 event_study: Result, influence: dict[str, np.ndarray],
                 clusters: np.ndarray | None = None, small_sample: SmallSample | None = None,
                 **kwargs: Any) -> None:
        self._clusters = clusters
        self._ss = small_sample
        self._overall_acrt = overall_acrt
        self._event_study = event_study
        self._influence = influence
        super().__init__(estimates, **kwargs)

    @property
    def overall_acrt(self) -> Estimate:
        """ACRT^o: the average causal response over the treated units' doses."""
        return self._overall_acrt

    @property
    def event_study(self) -> Result:
        """ATT (``target="att"``) and ACRT (``"acrt"``) by periods since the
        start (``event_time``); its ``.overall`` is the mean post-start ATT."""
        return self._event_study

    @property
    def influence(self) -> dict[str, np.ndarray]:
        """Per-unit influence functions (``att_d``, ``acrt_d``: units x doses;
        ``overall_att``, ``overall_acrt``: per unit), leverage-adjusted under
        ``inference="cv3"``/``"cr2"``, scaled so that the variance is their
        (cluster-summed) sum of squares over ``n_units**2`` times the fit's
        small-sample factor squared."""
        return {k: v.copy() for k, v in self._influence.items()}

    def uniform_band(self, target: str = "att_d", *, n_boot: int = 999,
                     random_state: int | np.random.Generator | None = None) -> pd.DataFrame:
        """A simultaneous (sup-t) band over the doses for ``target`` (``"att_d"``
        or ``"acrt_d"``), its critical value from a Rademacher multiplier
        bootstrap of the influence functions (drawn per cluster with a panel
        ``cluster``), as R ``did``'s uniform bands.

        Returns
        -------
        pandas.DataFrame
            ``dose, estimate, std_error, ci_lower, ci_upper, crit``.
        """
        from ..inference import sup_t_critical_value

        if target not in ("att_d", "acrt_d"):
            raise OptionError(f"target must be 'att_d' or 'acrt_d'; got {target!r}.")
        if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 100:
            raise OptionError(f"n_boot must be an integer >= 100; got {n_boot!r}.")
        inf = self._influence[target]
        n = inf.shape[0]
        if self._clusters is not None:
            inf = np.asarray(pd.DataFrame(inf).groupby(self._clusters).sum())
        rng = np.random.default_rng(random_state)
        draws = np.empty((n_boot, inf.shape[1]))
        for start in range(0, n_boot, 100):  # blocks of draws keep memory small
            stop = min(start + 100, n_boot)
            v = rng.choice(np.array([-1.0, 1.0]), size=(stop - start, inf.shape[0]))
            draws[start:stop] = v @ inf / n
        tab = self._estimates.loc[self._estimates["target"] == target,
                                  ["dose", "estimate", "std_error"]].reset_index(drop=True)
        ss = self._ss
        if ss is not None:  # the draws on the standard errors' scale, the band on the t scale
            draws *= ss.se_factor
        crit = sup_t_critical_value(draws, tab["std_error"].to_numpy(), self.confidence)
        if ss is not None:
            crit = ss.uniform_critical_value(crit)
        tab["ci_lower"] = tab["estimate"] - crit * tab["std_error"]
        tab["ci_upper"] = tab["estimate"] + crit * tab["std_error"]
        tab["crit"] = crit
        return tab

    def plot(self, ax: Axes | None = None, *, target: str = "att_d",
             **kwargs: Any) -> Axes:
        """The dose-response curve of ``target`` (``"att_d"`` or ``"acrt_d"``)
        with its pointwise confidence band."""
        import matplotlib.pyplot as plt

        if target not in ("att_d", "acrt_d"):
            raise OptionError(f"target must be 'att_d' or 'acrt_d'; got {target!r}.")
        tab = self._estimates.loc[self._estimates["target"] == target]
        if ax is None:
            _, ax = plt.subplots()
        ax.fill_between(tab["dose"], tab["ci_lower"], tab["ci_upper"], alpha=0.25,
                        label=f"{100 * self.confidence:g}% CI")
        ax.plot(tab["dose"], tab["estimate"], label=target.replace("_d", "(d)").upper(),
                **kwargs)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_xlabel("dose")
        ax.set_ylabel("ATT(d)" if target == "att_d" else "ACRT(d)")
        ax.set_title(self.method)
        ax.legend()
        return ax


class ContinuousDiD(Estimator):
    """Staggered DiD with a continuous dose: ATT(d), ACRT(d), ATT^o and ACRT^o.

    Parameters
    ----------
    degree : int
        Degree of the B-spline in the dose (3: cubic; with ``num_knots=0`` a
        global polynomial).
    num_knots : int
        Interior knots, at quantiles of the treated units' doses (one per
        post-treatment period, as in ``contdid``).
    control_group : {"not_yet_treated", "never_treated"}
        Comparison units of each cell.
    doses : array-like, optional
        Doses at which ATT(d) and ACRT(d) are reported; default 50 evenly
        spaced from the smallest to the largest treated dose.
    confidence : float
        Level of the pointwise intervals.
    inference : {"cv3", "cr2", "cluster_t", "analytic"}
        Small-sample inference, as for :class:`~spimpact.did.CallawaySantAnna`
        (see :mod:`spimpact.inference_cluster`). ``"cv3"`` (default): each
        cell's treated and comparison influence divided by one minus the
        cluster's share of the role's units, ``(G-1)/G``, t critical values on
        ``G-1`` df; ``"cr2"``: the square root of that leverage; ``"cluster_t"``:
        ``G/(G-1)`` and ``t(G-1)``; ``"analytic"``: the plain influence-function
        variance with normal critical values (as R ``contdid``).

    Notes
    -----
    The panel needs ``dose=`` and a cohort, and must be balanced; units
    treated in the first period have no base period and are left out (recorded
    in the result's ``info``). Covariates, sampling weights, anticipation and
    a universal base period are not supported and are refused.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from spimpact import Panel
    >>> from spimpact.did import ContinuousDiD
    >>> rng = np.random.default_rng(0)
    >>> n = 400
    >>> g = rng.choice([0, 3], n)
    >>> d = np.where(g > 0, rng.uniform(0.1, 1, n), 0.0)
    >>> df = pd.DataFrame({"id": np.repeat(np.arange(n), 4), "t": np.tile(np.arange(1, 5), n),
    ...                    "g": np.repeat(g, 4), "d": np.repeat(d, 4)})
    >>> df["y"] = rng.normal(0, 0.1, len(df)) + 2 * df["d"] * (df["t"] >= df["g"]) * (df["g"] > 0)
    >>> p = Panel(df, outcome="y", unit="id", time="t", cohort="g", never_treated=0, dose="d")
    >>> res = ContinuousDiD(degree=1).fit(p)
    >>> a = res.overall_acrt  # the true slope is 2
    >>> bool(a.ci_lower < 2 < a.ci_upper), round(a.estimate, 1)
    (True, 1.9)
    """

    def __init__(
        self,
        *,
        degree: int = 3,
        num_knots: int = 0,
        control_group: ControlGroup = "not_yet_treated",
        doses: Any = None,
        confidence: float = 0.95,
        inference: str = DEFAULT_INFERENCE,
    ) -> None:
        self.degree = degree
        self.num_knots = num_knots
        self.control_group = control_group
        self.doses = doses
        self.confidence = confidence
        self.inference = inference

    def _validate(self) -> None:
        for name in ("degree", "num_knots"):
            v = getattr(self, name)
            low = 1 if name == "degree" else 0
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise OptionError(f"{name} must be an integer >= {low}; got {v!r}.")
        if self.control_group not in ("never_treated", "not_yet_treated"):
            raise OptionError(
                f"control_group must be 'never_treated' or 'not_yet_treated'; got "
                f"{self.control_group!r}."
            )
        if self.doses is not None:
            d = np.asarray(self.doses, dtype=float).reshape(-1)
            if len(d) == 0 or not np.isfinite(d).all():
                raise OptionError("doses must be a non-empty sequence of finite numbers.")
        if not (isinstance(self.confidence, float) and 0 < self.confidence < 1):
            raise OptionError(f"confidence must be in (0, 1), e.g. 0.95; got "
                              f"{self.confidence!r}.")
        check_inference(self.inference)

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _check_panel(panel: Panel) -> None:
        require_panel(panel, "ContinuousDiD.fit",
                      "outcome=..., unit=..., time=..., cohort=..., dose=...")
        if panel.dose is None:
            raise EstimationError(
                "ContinuousDiD needs the panel's dose= role (each unit's treatment "
                "intensity); build the Panel with dose='column'."
            )
        refuse_exposure(panel, "ContinuousDiD")
        for role, value in (("covariates", panel.covariates), ("weights", panel.weights)):
            if value:
                raise EstimationError(
                    f"ContinuousDiD does not support {role} ({value!r}) yet; build the Panel "
                    f"without them (panel.replace({role}=None))."
                )
        if not panel.is_balanced:
            raise EstimationError(
                "ContinuousDiD needs a balanced panel (every unit in every period); use "
                "panel.balanced() to keep the units observed throughout."
            )

    # --------------------------------------------------------------------- fit
    def fit(self, panel: Panel) -> ContinuousDiDResult:
        """Estimate the dose-response curves on ``panel`` (see the class docs)."""
        self._validate()
        self._check_panel(panel)
        T = panel.n_periods
        ymat, gpos, dose, ccodes, notes = self._sample(panel)
        n = len(gpos)
        ss = small_sample(self.inference, panel.n_clusters, n)
        inside = np.isfinite(gpos) & (gpos < T)
        groups = np.unique(gpos[inside]).astype(int)
        if len(groups) == 0:
            raise EstimationError("no unit starts treatment after the first observed period.")
        post_rows = np.repeat(dose[inside], (T - gpos[inside]).astype(int))
        knots = (np.quantile(post_rows, np.linspace(0, 1, self.num_knots + 2))[1:-1]
                 if self.num_knots else np.array([]))
        grid = (np.linspace(post_rows.min(), post_rows.max(), 50) if self.doses is None
                else np.asarray(self.doses, dtype=float).reshape(-1))
        gidx = np.full(n, -1)
        gidx[inside] = np.searchsorted(groups, gpos[inside].astype(int))
        share = np.bincount(gidx[gidx >= 0], minlength=len(groups)) / n

        cells = [self._cell(g, t, ymat, gpos, dose, grid, knots, n, (ccodes, ss))
                 for g in groups for t in range(1, T)]
        for c in cells:
            c["gi"] = int(np.searchsorted(groups, c["g"]))
        post = [c for c in cells if c["t"] >= c["g"]]
        n_post = np.array([sum(c["g"] == g for c in post) for g in groups])
        w = np.array([share[c["gi"]] / n_post[c["gi"]] for c in post]) / share.sum()

        def shares_if(theta: np.ndarray, sel: np.ndarray) -> np.ndarray:
            """Influence of the estimated cohort shares on sum_g p_g theta_g / sum_g p_g
            over the cohorts ``sel`` (theta: cohorts x outputs)."""
            p, s = share[sel], share[sel].sum()
            total = p @ theta / s
            ind = np.zeros((n, len(sel)))
            hit = np.isin(gidx, sel)
            ind[np.flatnonzero(hit), np.searchsorted(sel, gidx[hit])] = 1.0
            return (ind - p) @ (theta - total) / s

        def by_group(values: list[np.ndarray]) -> np.ndarray:
            out = np.zeros((len(groups), np.asarray(values[0]).size))
            for c, v in zip(post, values, strict=True):
                out[c["gi"]] += np.asarray(v).reshape(-1) / n_post[c["gi"]]
            return out

        all_g = np.arange(len(groups))
        curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        inf_d = {"att_d": np.zeros((n, len(grid))), "acrt_d": np.zeros((n, len(grid)))}
        for wk, c in zip(w, post, strict=True):
            treat, comp, sb, Xg, dXg, if_comp = c["pieces"]
            inf_d["att_d"][treat] += wk * (sb @ Xg.T)
            inf_d["att_d"][comp] += wk * if_comp[:, None]
            inf_d["acrt_d"][treat] += wk * (sb @ dXg.T)
        for key in ("att_d", "acrt_d", "att", "acrt"):
            est = sum(wk * c[key] for wk, c in zip(w, post, strict=True))
            inf = (inf_d[key] if key in inf_d
                   else sum(wk * c[f"if_{key}"] for wk, c in zip(w, post, strict=True)))
            inf = inf.reshape(n, -1) + shares_if(by_group([c[key] for c in post]), all_g)
            curves[key] = (np.asarray(est, dtype=float).reshape(-1), inf)

        def se(inf: np.ndarray) -> np.ndarray:
            inf = inf.reshape(n, -1)
            if ccodes is not None:
                inf = np.asarray(pd.DataFrame(inf).groupby(ccodes).sum())
            return ss.se_factor * np.sqrt((inf ** 2).sum(axis=0)) / n

        conf = self.confidence
        tabs = []
        for key in ("att_d", "acrt_d"):
            est, inf = curves[key]
            tabs.append(estimate_table(est, se(inf), conf, df=ss.df,
                                       index={"target": key, "dose": grid}))
        table = pd.concat(tabs, ignore_index=True)
        overall = Estimate.from_se(float(curves["att"][0][0]), float(se(curves["att"][1])[0]),
                                   conf, df=ss.df, label="ATT^o")
        overall_acrt = Estimate.from_se(float(curves["acrt"][0][0]),
                                        float(se(curves["acrt"][1])[0]), conf, df=ss.df,
                                        label="ACRT^o")
        event = self._event_study(cells, groups, share, shares_if, se, n, panel, ss)

        cg = self.control_group.replace("_", "-")
        method = (f"Continuous-dose DiD (Callaway, Goodman-Bacon & Sant'Anna; B-spline degree "
                  f"{self.degree}, {self.num_knots} interior knots, {cg} comparisons)")
        info = {"cohorts": [panel.cohort_label(g) for g in groups], "post cells": len(post),
                "inference": ss.describe()}
        influence = {"att_d": curves["att_d"][1], "acrt_d": curves["acrt_d"][1],
                     "overall_att": curves["att"][1][:, 0],
                     "overall_acrt": curves["acrt"][1][:, 0]}
        return ContinuousDiDResult(
            table, overall=overall, overall_acrt=overall_acrt, event_study=event,
            influence=influence, clusters=ccodes, small_sample=ss, method=method, confidence=conf, n_obs=n * T,
            n_units=n, n_clusters=panel.n_clusters, info=info, warnings=notes,
        )

    @staticmethod
    def _sample(panel: Panel) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None,
                                       list[str]]:
        """Outcomes (units x periods), cohorts, doses and clusters of the units
        :meth:`spimpact.Panel.unit_sample` keeps (cohorts after the window count
        as untreated; units treated by the first period are set aside, noted)."""
        us = panel.unit_sample()
        ymat = np.empty((us.n_units, panel.n_periods))
        ymat[us.unit, us.rows(panel.time_codes)] = us.rows(panel.y)
        dose = np.asarray(panel.unit_doses, dtype=float)[us.unit_codes]
        dose[~np.isfinite(us.unit_cohort)] = 0.0  # a dose starting after the window: untreated
        return ymat, us.unit_cohort.astype(float), dose, us.cluster, list(us.notes)

    def _cell(self, g: int, t: int, ymat: np.ndarray, gpos: np.ndarray, dose: np.ndarray,
              grid: np.ndarray, knots: np.ndarray, n: int,
              lev: tuple[np.ndarray | None, SmallSample]) -> dict[str, Any]:
        """One (cohort, period) cell: binary ATT, spline curves, mean slope and
        their per-unit influence functions."""
        base = t - 1 if t < g else g - 1
        treat = gpos == g
        comp = ~treat & (np.isinf(gpos) if self.control_group == "never_treated"
                         else gpos > t)
        n1, n0 = int(treat.sum()), int(comp.sum())
        if n0 == 0:
            raise EstimationError(
                f"cohort {g} in period {t} has no {self.control_group.replace('_', '-')} "
                f"comparison units; use control_group='not_yet_treated' or drop the latest "
                f"periods."
            )
        dy = ymat[:, t] - ymat[:, base]
        y1, x1 = dy[treat], dose[treat]
        m0 = dy[comp].mean()
        f_t, f_c = _leverage(treat, comp, *lev)
        if_comp = -(n / n0) * (dy[comp] - m0) * f_c
        out: dict[str, Any] = {"g": g, "t": t, "gi": None, "att": y1.mean() - m0}
        if_att = np.zeros(n)
        if_att[treat] = (n / n1) * (y1 - y1.mean()) * f_t
        if_att[comp] = if_comp
        out["if_att"] = if_att
        lo, hi = float(x1.min()), float(x1.max())
        if hi <= lo:
            raise EstimationError(
                f"cohort {g}: every unit has the same dose ({lo:g}); a dose-response curve "
                f"needs at least two distinct doses per cohort."
            )
        X, dX = _spline(x1, lo, hi, knots, self.degree)
        if n1 <= X.shape[1]:
            raise EstimationError(
                f"cohort {g} has {n1} units, too few for a spline with {X.shape[1]} "
                f"coefficients; lower degree= or num_knots=."
            )
        if np.linalg.matrix_rank(X) < X.shape[1]:
            raise EstimationError(
                f"cohort {g}: its {n1} units have {len(np.unique(x1))} distinct doses, too "
                f"few for a spline with {X.shape[1]} coefficients; lower degree= or "
                f"num_knots=, or leave out cohorts whose units share a dose (e.g. a single "
                f"PCN's practices)."
            )
        beta, *_ = np.linalg.lstsq(X, y1, rcond=None)
        resid = y1 - X @ beta
        bread = np.linalg.inv(X.T @ X / n1)
        sb = (resid[:, None] * X) @ bread * f_t[:, None]  # per-unit effect on beta
        Xg, dXg = _spline(grid, lo, hi, knots, self.degree)
        slope = dX @ beta
        out["att_d"], out["acrt_d"] = Xg @ beta - m0, dXg @ beta
        out["acrt"] = slope.mean()
        if_acrt = np.zeros(n)
        if_acrt[treat] = (n / n1) * ((slope - slope.mean()) * f_t + sb @ dX.mean(axis=0))
        out["if_acrt"] = if_acrt
        # the curves' influence (units x doses) is added into the aggregate by
        # fit, cell by cell, from these pieces: memory stays one units x doses array
        out["pieces"] = (treat, comp, (n / n1) * sb, Xg, dXg, if_comp)
        return out

    def _event_study(self, cells: list[dict[str, Any]], groups: np.ndarray,
                     share: np.ndarray, shares_if: Any, se: Any, n: int,
                     panel: Panel, ss: SmallSample) -> Result:
        """ATT and ACRT by event time, cohorts weighted by their shares (as R
        ``did``'s dynamic aggregation)."""
        e_all = np.array([c["t"] - c["g"] for c in cells])
        rows: list[tuple[str, int, float, float]] = []
        post_if: dict[str, list[np.ndarray]] = {"att": [], "acrt": []}
        post_est: dict[str, list[float]] = {"att": [], "acrt": []}
        for key in ("att", "acrt"):
            for e in np.unique(e_all):
                sel_cells = [c for c, ee in zip(cells, e_all, strict=True) if ee == e]
                gi = np.array([c["gi"] for c in sel_cells])
                p = share[gi] / share[gi].sum()
                est = float(p @ np.array([c[key] for c in sel_cells]))
                inf = sum(pk * c[f"if_{key}"] for pk, c in zip(p, sel_cells, strict=True))
                theta = np.array([[c[key]] for c in sel_cells])
                inf = inf + shares_if(theta, gi)[:, 0]
                rows.append((key, int(e), est, float(se(inf)[0])))
                if e >= 0:
                    post_est[key].append(est)
                    post_if[key].append(inf)
        frame = pd.DataFrame(rows, columns=["target", "event_time", "est", "se"])
        table = estimate_table(frame["est"], frame["se"], self.confidence, df=ss.df,
                               index=frame[["target", "event_time"]])
        att_o = float(np.mean(post_est["att"]))
        att_o_se = float(se(np.mean(post_if["att"], axis=0))[0])
        return Result(table, overall=Estimate.from_se(att_o, att_o_se, self.confidence, df=ss.df,
                                                      label="ATT (mean over event times >= 0)"),
                      method="Continuous-dose DiD, event study", confidence=self.confidence,
                      n_units=n, n_clusters=panel.n_clusters)


def _leverage(treat: np.ndarray, comp: np.ndarray, ccodes: np.ndarray | None,
              ss: SmallSample) -> tuple[np.ndarray, np.ndarray]:
    """Leverage factors of a cell's treated and comparison units for cv3/cr2, from
    :func:`spimpact.inference_roles.leverage_adjusted` (the one used for
    Callaway-Sant'Anna's cells) applied to the cell's indicator; ones for the other
    choices.

    Examples
    --------
    >>> from spimpact.inference_cluster import small_sample
    >>> t = np.array([True, True, False, False]); c = ~t
    >>> [f.tolist() for f in _leverage(t, c, np.array([0, 1, 0, 1]), small_sample("cv3", 2))]
    [[2.0, 2.0], [2.0, 2.0]]
    """
    if not ss.adjusts_leverage:
        return np.ones(int(treat.sum())), np.ones(int(comp.sum()))
    ind = (treat | comp).astype(float)[:, None]
    group = np.where(treat, 0, -1)
    f = np.asarray(leverage_adjusted(ind, ccodes, group, np.ones(len(ind)), np.array([0]),
                                     ss.kind))[:, 0]
    return f[treat], f[comp]
