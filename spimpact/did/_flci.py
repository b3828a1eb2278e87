"""Fixed-length confidence intervals under the smoothness restriction
Delta^SD(M) (Rambachan and Roth 2023, Sec. 4.1; Armstrong and Kolesar 2018).

An affine estimator ``v' betahat`` with ``v = (w, l)`` estimates ``theta = l'
tau_post`` with bias ``v' delta``. Under Delta^SD(M) the difference in trends
is ``delta = L (b, s)``: a free linear trend ``b`` plus second differences
``|s_t| <= M`` (``delta_0 = 0`` at the reference period). The bias is bounded
only if ``v`` removes linear trends (``v' L e_1 = 0``); then its worst case is
``M * sum_t |(v' L)_t|`` over the second differences. The FLCI is ``v' betahat
+/- chi``, ``chi = sd(v) * cv_alpha(worst bias / sd(v))``, with ``cv_alpha(b)``
the ``1 - alpha`` quantile of ``|N(b, 1)|``, minimised over ``w``.

The folded-normal quantile is computed exactly (the authors' package
simulates it with 10^6 draws, which moves its intervals by about 1e-4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import EstimationError


def trend_basis(num_pre: int, num_post: int) -> np.ndarray:
    """``L`` with ``delta = L x``, ``x = (slope, s_{-K+1}, ..., s_{P-1})``: the
    differences in trends at periods ``-K..-1, 1..P`` (reference 0 omitted) from
    the slope ``delta_1 - delta_0`` and the second differences."""
    K, P = num_pre, num_post
    n_x = 1 + K + P - 1
    # path over t = -K..P, rows indexed t + K
    path = np.zeros((K + P + 1, n_x))
    zero = K
    path[zero + 1, 0] = 1.0 if P >= 1 else 0.0
    if P == 0:
        raise EstimationError("the smoothness restriction needs at least one post period.")
    sidx = {t: 1 + (t + K - 1) for t in range(-K + 1, P)}  # column of s_t

    def s_col(t: int) -> np.ndarray:
        e = np.zeros(n_x)
        e[sidx[t]] = 1.0
        return e

    for t in range(1, P):  # forward: delta_{t+1} = 2 delta_t - delta_{t-1} + s_t
        path[zero + t + 1] = 2 * path[zero + t] - path[zero + t - 1] + s_col(t)
    for t in range(0, -K, -1):  # backward: delta_{t-1} = 2 delta_t - delta_{t+1} + s_t
        path[zero + t - 1] = 2 * path[zero + t] - path[zero + t + 1] + s_col(t)
    return np.delete(path, zero, axis=0)


def folded_normal_quantile(p: float, b: np.ndarray | float) -> np.ndarray:
    """``p`` quantile of ``|N(b, 1)|`` (vectorised over ``b``): Newton's method on
    ``Phi(c - b) - Phi(-c - b) = p``, which is increasing and concave in ``c >= 0``
    for ``c`` above the root's lower bound used as the start."""
    from scipy import special

    b = np.abs(np.atleast_1d(np.asarray(b, dtype=float)))
    # start at or above the root: both bounds are upper bounds of the quantile
    c = np.maximum(b + special.ndtri(p), special.ndtri((1 + p) / 2)) + 1e-3
    for _ in range(100):
        f = special.ndtr(c - b) - special.ndtr(-c - b) - p
        fp = np.exp(-0.5 * (c - b) ** 2) + np.exp(-0.5 * (c + b) ** 2)
        step = f / (fp / np.sqrt(2 * np.pi))
        c = c - step
        if np.all(np.abs(step) < 1e-14 * np.maximum(1.0, c)):
            break
    return c


@dataclass(frozen=True)
class FLCI:
    """The optimal affine estimator ``v`` (pre then post weights) and the
    half-length of its interval."""

    v: np.ndarray
    half_length: float
    worst_bias: float
    sd: float


def optimal_flci(sigma: np.ndarray, num_pre: int, l_vec: np.ndarray, M: float,
                 alpha: float) -> FLCI:
    """The shortest fixed-length confidence interval over Delta^SD(M)."""
    from scipy import optimize

    K, P = num_pre, len(l_vec)
    L = trend_basis(K, P)
    a_pre, a_post = L[:K, 0], L[K:, 0]
    G_pre, G_post = L[:K, 1:].T, L[K:, 1:].T  # bias coefficients on s: G_pre w + G_post l
    g0 = G_post @ l_vec
    S_pp, S_pq, S_qq = sigma[:K, :K], sigma[:K, K:], sigma[K:, K:]

    def var(w: np.ndarray) -> float:
        return float(w @ S_pp @ w + 2 * w @ S_pq @ l_vec + l_vec @ S_qq @ l_vec)

    def bias(w: np.ndarray) -> float:
        return float(np.abs(G_pre @ w + g0).sum())

    # the linear-trend constraint a_pre' w = -a_post' l; its minimum-variance solution
    rhs = -float(a_post @ l_vec)
    if not np.any(a_pre):
        raise EstimationError("the smoothness restriction needs at least one pre period.")
    Sinv_a = np.linalg.solve(S_pp, a_pre)
    Sinv_c = np.linalg.solve(S_pp, S_pq @ l_vec)
    lam = (rhs + a_pre @ Sinv_c) / (a_pre @ Sinv_a)
    w_var = lam * Sinv_a - Sinv_c
    # the minimum-bias solution (linear extrapolation from the last two pre periods)
    w_bias = optimize.linprog(
        np.r_[np.zeros(K), np.ones(len(g0))],
        A_ub=np.block([[G_pre, -np.eye(len(g0))], [-G_pre, -np.eye(len(g0))]]),
        b_ub=np.r_[-g0, g0], A_eq=np.r_[a_pre, np.zeros(len(g0))][None, :], b_eq=[rhs],
        bounds=[(None, None)] * (K + len(g0)), method="highs").x[:K]
    z = 1 - alpha
    if M == 0:
        sd = np.sqrt(var(w_var))
        hl = float(folded_normal_quantile(z, 0.0)[0]) * sd
        return FLCI(np.r_[w_var, l_vec], hl, 0.0, sd)

    def half_length(w: np.ndarray) -> float:
        sd = np.sqrt(var(w))
        return float(folded_normal_quantile(z, M * bias(w) / sd)[0]) * sd

    # minimise over w on the constraint plane: smooth reformulation with t >= |G w + g0|

    def obj(x: np.ndarray) -> float:
        w, t = x[:K], x[K:]
        sd = np.sqrt(var(w))
        return float(folded_normal_quantile(z, M * t.sum() / sd)[0]) * sd

    cons = [
        {"type": "eq", "fun": lambda x: np.array([a_pre @ x[:K] - rhs])},
        {"type": "ineq", "fun": lambda x: x[K:] - (G_pre @ x[:K] + g0)},
        {"type": "ineq", "fun": lambda x: x[K:] + (G_pre @ x[:K] + g0)},
    ]
    best_w, best = None, np.inf
    for frac in (0.0, 0.5, 1.0):
        w0 = frac * w_bias + (1 - frac) * w_var
        x0 = np.r_[w0, np.abs(G_pre @ w0 + g0)]
        res = optimize.minimize(obj, x0, method="SLSQP", constraints=cons,
                                options={"ftol": 1e-15, "maxiter": 500})
        w = res.x[:K]
        w = w + (rhs - a_pre @ w) / (a_pre @ a_pre) * a_pre  # back onto the plane exactly
        h = half_length(w)
        if h < best:
            best_w, best = w, h
    assert best_w is not None
    sd = np.sqrt(var(best_w))
    return FLCI(np.r_[best_w, l_vec], best, M * bias(best_w), sd)
