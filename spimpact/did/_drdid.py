"""Two-group, two-period DiD estimators with their influence functions.

Pure functions on arrays. Each returns the ATT and its influence function
``psi`` (one entry per observation of the subsample, scaled so that
``att_hat - att ~= mean(psi)``). Formulas follow Sant'Anna & Zhao (2020),
"Doubly robust difference-in-differences estimators", J. Econometrics 219:
the outcome-regression (``reg``), standardised (Hajek) inverse-probability
weighting (``ipw``) and locally efficient doubly robust (``dr``) estimators,
for panel data (on ``delta_y = y_post - y_pre``) and repeated cross-sections.
Sampling weights are normalised to mean one within the subsample, and the
propensity score is capped at ``1 - 1e-6``, as in the authors' reference
implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import EstimationError

__all__ = ["CellFit", "PSFit", "did_panel", "did_panel_many", "did_rc", "logit_fit", "wls_fit"]

#: A propensity fit: the fitted probabilities and the scaled inverse Hessian
#: (see :func:`logit_fit`), or ``None`` when not fitted yet.
PSFit = tuple[np.ndarray, np.ndarray] | None

PS_CAP = 1 - 1e-6
#: Comparison units with a propensity score at or above this level get no weight
#: (the default ``trim.level`` of R's DRDID, which R's did uses): they have almost
#: no treated counterpart, and their odds weights would dominate the estimate.
PS_TRIM = 0.995


@dataclass(frozen=True)
class CellFit:
    """ATT of one 2x2 comparison and its influence function (shape ``(n_sub,)``)."""

    att: float
    psi: np.ndarray


def wls_fit(y: np.ndarray, X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least-squares coefficients (``w`` may contain zeros); ``y`` may
    have several columns."""
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(X * sw[:, None], y * (sw if y.ndim == 1 else sw[:, None]),
                               rcond=None)
    return coef


def logit_fit(d: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logit (the package's one fit, :func:`spimpact._logit.newton_logit`).

    Returns the fitted probabilities and ``H = n * (X' diag(w p (1-p)) X)^{-1}``,
    the scaled inverse Hessian used in the influence function.
    """
    from .._logit import expit, newton_logit

    n, k = X.shape
    coef, _ = newton_logit(X, d, w, [f"covariate column {j}" for j in range(k)])
    ps = expit(X @ coef)
    info = X.T @ (X * (w * ps * (1 - ps))[:, None])
    return ps, n * np.linalg.inv(info)


def _ols_lin_rep(resid: np.ndarray, X: np.ndarray, wols: np.ndarray) -> np.ndarray:
    """Asymptotic linear representation of a weighted OLS fit: ``(n, k)``."""
    n = len(resid)
    xpx = (X * wols[:, None]).T @ X / n
    return (X * (wols * resid)[:, None]) @ np.linalg.inv(xpx)


def _check_groups(d: np.ndarray, w: np.ndarray, what: str) -> None:
    if not (w * d).sum() > 0:
        raise EstimationError(f"no treated units with positive weight {what}")
    if not (w * (1 - d)).sum() > 0:
        raise EstimationError(f"no comparison units with positive weight {what}")


def did_panel(
    dy: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray, method: str,
    ps_fit: tuple[np.ndarray, np.ndarray] | None = None,
) -> CellFit:
    """ATT and influence function on a two-period panel.

    Parameters
    ----------
    dy : ndarray (n,)
        Outcome change ``y_post - y_pre`` of each unit.
    d : ndarray (n,)
        1 for the treated group, 0 for the comparison group.
    X : ndarray (n, k)
        Covariates including an intercept column.
    w : ndarray (n,)
        Sampling weights.
    method : {"dr", "reg", "ipw"}
    ps_fit : (ps, hess), optional
        The propensity fit of ``logit_fit(d, X, w / mean(w))`` when already
        computed (cells that share units, covariates and weights share it).

    Examples
    --------
    >>> import numpy as np
    >>> dy = np.array([1.0, 2.0, 0.0, 1.0]); d = np.array([1.0, 1.0, 0.0, 0.0])
    >>> fit = did_panel(dy, d, np.ones((4, 1)), np.ones(4), "dr")
    >>> round(fit.att, 6)
    1.0
    """
    _check_groups(d, w, "in this comparison")
    w = w / w.mean()
    w_treat = w * d
    if method in ("dr", "reg"):
        coef = wls_fit(dy, X, w * (1 - d))
        out = X @ coef
        lin_ols = _ols_lin_rep(dy - out, X, w * (1 - d))
    if method in ("dr", "ipw"):
        ps, hess = logit_fit(d, X, w) if ps_fit is None else ps_fit
        ps = np.minimum(ps, PS_CAP)
        lin_ps = (X * (w * (d - ps))[:, None]) @ hess
        w_cont = w * ps * (1 - d) / (1 - ps) * (ps < PS_TRIM)
    if method == "reg":
        eta_t = np.mean(w_treat * dy) / np.mean(w_treat)
        eta_c = np.mean(w_treat * out) / np.mean(w_treat)
        inf_t = (w_treat * dy - w_treat * eta_t) / np.mean(w_treat)
        inf_c = (w_treat * out - w_treat * eta_c + lin_ols @ np.mean(w_treat[:, None] * X, 0))
        inf_c = inf_c / np.mean(w_treat)
        return CellFit(float(eta_t - eta_c), inf_t - inf_c)
    if method == "ipw":
        eta_t = np.mean(w_treat * dy) / np.mean(w_treat)
        eta_c = np.mean(w_cont * dy) / np.mean(w_cont)
        inf_t = (w_treat * dy - w_treat * eta_t) / np.mean(w_treat)
        m2 = np.mean((w_cont * (dy - eta_c))[:, None] * X, 0)
        inf_c = (w_cont * dy - w_cont * eta_c + lin_ps @ m2) / np.mean(w_cont)
        return CellFit(float(eta_t - eta_c), inf_t - inf_c)
    # doubly robust
    r = dy - out
    eta_t = np.mean(w_treat * r) / np.mean(w_treat)
    eta_c = np.mean(w_cont * r) / np.mean(w_cont)
    inf_t = (w_treat * r - w_treat * eta_t - lin_ols @ np.mean(w_treat[:, None] * X, 0))
    inf_t = inf_t / np.mean(w_treat)
    m2 = np.mean((w_cont * (r - eta_c))[:, None] * X, 0)
    m3 = np.mean(w_cont[:, None] * X, 0)
    inf_c = (w_cont * r - w_cont * eta_c + lin_ps @ m2 - lin_ols @ m3) / np.mean(w_cont)
    return CellFit(float(eta_t - eta_c), inf_t - inf_c)


def did_panel_many(
    DY: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray, method: str,
    ps_fit: tuple[np.ndarray, np.ndarray] | None = None, *, D: np.ndarray | None = None,
    rows: np.ndarray | None = None, out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`did_panel` for several outcome changes on the same units at once.

    ``DY`` is ``(n, m)``: column ``j`` is one comparison's ``delta_y`` (the
    cells of Callaway-Sant'Anna that share their units, covariates and weights
    differ only in the periods they difference). The weights, the propensity
    fit, the comparison group's least-squares factorisation and every
    cell-free piece of the influence function are computed once; each
    estimating equation is linear in ``delta_y``, so the cell-specific parts
    are matrix products. Returns ``att`` ``(m,)`` and ``psi`` ``(n, m)``,
    equal column by column to :func:`did_panel` up to rounding.

    With ``D`` (``(T, m)``, entries +1 and -1), ``DY`` is instead the units'
    outcomes in every period ``(n, T)`` and the changes are ``DY @ D``. The
    doubly robust estimator then forms them a chunk of rows at a time, twice
    (once for the sums the estimates need, once for ``psi``), and never holds
    the ``(n, m)`` changes or residuals beside ``psi``. ``rows`` (with
    ``D``) selects the units' rows of ``DY``, gathered a chunk at a time (no
    ``(n, T)`` copy); the doubly robust ``psi`` is written into ``out``
    (``(n, m)``) when given, e.g. a buffer reused across calls.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.c_[np.ones(40), rng.normal(size=40)]; d = (rng.random(40) < 0.5) * 1.0
    >>> DY = rng.normal(size=(40, 2)); w = np.ones(40)
    >>> att, psi = did_panel_many(DY, d, X, w, "dr")
    >>> bool(np.isclose(att[1], did_panel(DY[:, 1], d, X, w, "dr").att))
    True
    """
    DY = np.asarray(DY, dtype=float)
    if rows is not None and D is None:
        raise ValueError("rows= selects rows of the outcomes by period: give D= too")
    if D is not None and method != "dr":
        DY, D = (DY if rows is None else DY[rows]) @ D, None

    def periods(sl: slice) -> np.ndarray:  # the outcomes by period of a chunk of units
        return DY[sl] if rows is None else DY[rows[sl]]

    def changes(sl: slice) -> np.ndarray:
        return DY[sl] if D is None else periods(sl) @ D

    n = len(d)
    m = DY.shape[1] if D is None else D.shape[1]
    _check_groups(d, w, "in this comparison")
    w = w / w.mean()
    w_treat = w * d
    mwt = np.mean(w_treat)
    k = X.shape[1]
    if method in ("dr", "reg"):
        wols = w * (1 - d)
        # one QR factorisation for every column (the cell checks made the design
        # of the comparison units with positive weight full rank)
        sw = np.sqrt(wols)
        q, r_ = np.linalg.qr(X * sw[:, None])
        xpx_inv = np.linalg.inv((X * wols[:, None]).T @ X / n)
        m1 = (w_treat @ X) / n
        # lin_ols @ v == wols * resid * (X @ xpx_inv @ v): cell-free up to resid
        a1 = wols * (X @ (xpx_inv @ m1))
    if method in ("dr", "ipw"):
        ps, hess = logit_fit(d, X, w) if ps_fit is None else ps_fit
        ps = np.minimum(ps, PS_CAP)
        lin_ps = (X * (w * (d - ps))[:, None]) @ hess
        w_cont = w * ps * (1 - d) / (1 - ps) * (ps < PS_TRIM)
        mwc = np.mean(w_cont)
    if method == "reg":
        coef = np.linalg.solve(r_, (q * sw[:, None]).T @ DY)
        R = DY - X @ coef  # residuals on the comparison group's regression
        out = DY - R
        eta_t = w_treat @ DY / n / mwt
        eta_c = w_treat @ out / n / mwt
        psi = (w_treat[:, None] * (R - (eta_t - eta_c)[None, :]) - a1[:, None] * R) / mwt
        return eta_t - eta_c, psi
    if method == "ipw":
        eta_t = w_treat @ DY / n / mwt
        eta_c = w_cont @ DY / n / mwc
        inf_t = w_treat[:, None] * (DY - eta_t[None, :]) / mwt
        cen = w_cont[:, None] * (DY - eta_c[None, :])
        m2 = X.T @ cen / n  # (k, m)
        return eta_t - eta_c, inf_t - (cen + lin_ps @ m2) / mwc
    # doubly robust. Every sum the estimates need is a left product with the
    # changes (the least-squares right-hand side, the two groups' weighted
    # totals, the propensity terms' X' w_c), taken in one pass; the residuals
    # R = changes - X coef enter them linearly
    # (the per-unit columns of each product are formed a chunk of rows at a
    # time in one small reused array: no (n, 2k + 2) temporaries)
    buf = np.empty((min(n, ROWS), 2 * k + 2))

    def left(sl: slice) -> np.ndarray:  # [q sw, w_t, w_c, X w_c] on rows sl
        b = buf[: len(w_treat[sl])]
        np.multiply(q[sl], sw[sl, None], out=b[:, :k])
        b[:, k], b[:, k + 1] = w_treat[sl], w_cont[sl]
        np.multiply(X[sl], w_cont[sl, None], out=b[:, k + 2 :])
        return b

    S = np.zeros((2 * k + 2, m))
    SX = np.zeros((k + 2, k))  # the same left products with X
    for lo in range(0, n, ROWS):
        sl = slice(lo, lo + ROWS)
        b = left(sl)
        S += b.T @ changes(sl)
        SX += b[:, k:].T @ X[sl]
    coef = np.linalg.solve(r_, S[:k])  # (k, m)
    # sums of R: sums of the changes minus those of the fit
    SR = S[k:] - SX @ coef  # rows: w_t' R, w_c' R, Xc' R
    eta_t = SR[0] / n / mwt
    eta_c = SR[1] / n / mwc
    m3 = SX[1] / n  # (w_c' X) / n
    m2 = (SR[2:] - np.outer(SX[1], eta_c)) / n  # X' (w_c (R - eta_c)) / n
    a3 = wols * (X @ (xpx_inv @ m3))
    # psi = [w_t (R - eta_t) - a1 R] / E w_t - [w_c (R - eta_c) + lin_ps m2 - a3 R] / E w_c
    #     = f R + low rhs, with f a per-unit factor and low rhs a low-rank product
    f = (w_treat - a1) / mwt - (w_cont - a3) / mwc

    def low(sl: slice) -> np.ndarray:  # [-X f, w_t / E w_t, w_c / E w_c, lin_ps / E w_c]
        b = buf[: len(f[sl])]
        np.multiply(X[sl], -f[sl, None], out=b[:, :k])
        np.divide(w_treat[sl], mwt, out=b[:, k])
        np.divide(w_cont[sl], mwc, out=b[:, k + 1])
        np.divide(lin_ps[sl], mwc, out=b[:, k + 2 :])
        return b

    rhs = np.vstack([coef, -eta_t[None, :], eta_c[None, :], -m2])
    psi = np.empty((n, m)) if out is None else out
    for lo in range(0, n, ROWS):
        sl = slice(lo, lo + ROWS)
        chunk = psi[sl]
        if D is None:
            chunk[...] = DY[sl]
        else:
            np.matmul(periods(sl), D, out=chunk)
        chunk *= f[sl, None]
        chunk += low(sl) @ rhs
    return eta_t - eta_c, psi


#: Rows of the changes formed at a time (temporaries of a few hundred kB, in cache).
ROWS = 1 << 12


def did_rc(
    y: np.ndarray, post: np.ndarray, d: np.ndarray, X: np.ndarray, w: np.ndarray, method: str
) -> CellFit:
    """ATT and influence function on repeated cross-sections (two periods).

    Each observation appears once, in the pre (``post == 0``) or post period.
    ``method``: ``"reg"`` (outcome regression), ``"ipw"`` (standardised IPW)
    or ``"dr"`` (locally efficient doubly robust).
    """
    for p in (0, 1):
        _check_groups(d[post == p], w[post == p], f"in the {'post' if p else 'base'} period")
    w = w / w.mean()
    if method == "reg":
        return _reg_rc(y, post, d, X, w)
    if method == "ipw":
        return _ipw_rc(y, post, d, X, w)
    return _dr_rc(y, post, d, X, w)


def _ols_pieces(y, X, wsel):
    coef = wls_fit(y, X, wsel)
    fitted = X @ coef
    return fitted, _ols_lin_rep(y - fitted, X, wsel)


def _reg_rc(y, post, d, X, w) -> CellFit:
    out_pre, lin_pre = _ols_pieces(y, X, w * (1 - d) * (1 - post))
    out_post, lin_post = _ols_pieces(y, X, w * (1 - d) * post)
    w_tpre, w_tpost, w_c = w * d * (1 - post), w * d * post, w * d
    e_tpre = np.mean(w_tpre * y) / np.mean(w_tpre)
    e_tpost = np.mean(w_tpost * y) / np.mean(w_tpost)
    e_c = np.mean(w_c * (out_post - out_pre)) / np.mean(w_c)
    inf_t = (w_tpost * y - w_tpost * e_tpost) / np.mean(w_tpost) - (
        w_tpre * y - w_tpre * e_tpre) / np.mean(w_tpre)
    m1 = np.mean(w_c[:, None] * X, 0)
    inf_c = (w_c * (out_post - out_pre) - w_c * e_c + lin_post @ m1 - lin_pre @ m1) / np.mean(w_c)
    return CellFit(float(e_tpost - e_tpre - e_c), inf_t - inf_c)


def _hajek(weight: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Weighted mean and the centred numerator ``weight * (y - mean)``."""
    m = float(np.mean(weight * y) / np.mean(weight))
    return m, weight * (y - m)


def _ipw_rc(y, post, d, X, w) -> CellFit:
    ps, hess = logit_fit(d, X, w)
    ps = np.minimum(ps, PS_CAP)
    lin_ps = (X * (w * (d - ps))[:, None]) @ hess
    w_tpre, w_tpost = w * d * (1 - post), w * d * post
    keep = ps < PS_TRIM  # comparison units past the trimming level get no weight
    w_cpre = w * ps * (1 - d) * (1 - post) / (1 - ps) * keep
    w_cpost = w * ps * (1 - d) * post / (1 - ps) * keep
    parts = [_hajek(wt, y) for wt in (w_tpre, w_tpost, w_cpre, w_cpost)]
    (e_tpre, c_tpre), (e_tpost, c_tpost), (e_cpre, c_cpre), (e_cpost, c_cpost) = parts
    att = (e_tpost - e_tpre) - (e_cpost - e_cpre)
    inf_t = c_tpost / np.mean(w_tpost) - c_tpre / np.mean(w_tpre)
    m_pre = np.mean(c_cpre[:, None] * X, 0) / np.mean(w_cpre)
    m_post = np.mean(c_cpost[:, None] * X, 0) / np.mean(w_cpost)
    inf_c = c_cpost / np.mean(w_cpost) - c_cpre / np.mean(w_cpre) + lin_ps @ (m_post - m_pre)
    return CellFit(float(att), inf_t - inf_c)


def _dr_rc(y, post, d, X, w) -> CellFit:
    ps, hess = logit_fit(d, X, w)
    ps = np.minimum(ps, PS_CAP)
    lin_ps = (X * (w * (d - ps))[:, None]) @ hess
    mu_c0, lin_c0 = _ols_pieces(y, X, w * (1 - d) * (1 - post))
    mu_c1, lin_c1 = _ols_pieces(y, X, w * (1 - d) * post)
    mu_t0, lin_t0 = _ols_pieces(y, X, w * d * (1 - post))
    mu_t1, lin_t1 = _ols_pieces(y, X, w * d * post)
    mu_c = post * mu_c1 + (1 - post) * mu_c0
    r = y - mu_c
    odds = ps / (1 - ps) * (ps < PS_TRIM)  # trimmed comparison units get no weight
    wts = {
        "t0": w * d * (1 - post), "t1": w * d * post,
        "c0": w * odds * (1 - d) * (1 - post), "c1": w * odds * (1 - d) * post,
        "d": w * d, "dt1": w * d * post, "dt0": w * d * (1 - post),
    }
    mean = {k: float(np.mean(v)) for k, v in wts.items()}
    terms = {
        "t0": r, "t1": r, "c0": r, "c1": r,
        "d1": mu_t1 - mu_c1, "dt1": mu_t1 - mu_c1, "d0": mu_t0 - mu_c0, "dt0": mu_t0 - mu_c0,
    }
    wkey = {"d1": "d", "d0": "d"}
    eta = {k: wts[wkey.get(k, k)] * v / mean[wkey.get(k, k)] for k, v in terms.items()}
    att_ = {k: float(np.mean(v)) for k, v in eta.items()}
    att = ((att_["t1"] - att_["t0"]) - (att_["c1"] - att_["c0"])
           + (att_["d1"] - att_["dt1"]) - (att_["d0"] - att_["dt0"]))
    # influence of each Hajek piece: (eta - w * att) / mean(w), plus estimation effects
    def base(k: str) -> np.ndarray:
        wk = wts[wkey.get(k, k)]
        return eta[k] - wk * att_[k] / mean[wkey.get(k, k)]

    def grad_or(k: str, lin_pre: np.ndarray, lin_post: np.ndarray) -> np.ndarray:
        wk = wts[k]
        mp = np.mean((wk * post)[:, None] * X, 0) / mean[k]
        mq = np.mean((wk * (1 - post))[:, None] * X, 0) / mean[k]
        return lin_post @ mp + lin_pre @ mq

    # treated pieces: residual on control OR -> estimation effect of control OLS
    inf_treat = (base("t1") - grad_or("t1", lin_c0, lin_c1)) - (
        base("t0") - grad_or("t0", lin_c0, lin_c1))
    # control pieces: propensity score and control OLS estimation effects
    def cont(k: str) -> np.ndarray:
        wk = wts[k]
        mps = np.mean((wk * (r - att_[k]))[:, None] * X, 0) / mean[k]
        return base(k) + lin_ps @ mps - grad_or(k, lin_c0, lin_c1)

    inf_cont = cont("c1") - cont("c0")
    # adjustment pieces: OLS of treated and control in each period
    def adj(k: str, lin_t: np.ndarray, lin_cc: np.ndarray) -> np.ndarray:
        wk = wts[wkey.get(k, k)]
        m = np.mean(wk[:, None] * X, 0) / mean[wkey.get(k, k)]
        return base(k) + lin_t @ m - lin_cc @ m

    inf_adj = (adj("d1", lin_t1, lin_c1) - adj("dt1", lin_t1, lin_c1)) - (
        adj("d0", lin_t0, lin_c0) - adj("dt0", lin_t0, lin_c0))
    return CellFit(float(att), inf_treat - inf_cont + inf_adj)
