"""Conditional and hybrid moment-inequality tests (Andrews, Roth and Pakes 2023)
as used by Rambachan and Roth (2023) for sets of the form
``Delta = {delta : A delta <= d}``.

For a candidate value ``theta`` of ``l' tau_post`` the moments are
``Y(theta) = A betahat - d - a theta`` with variance ``Sigma_Y = A Sigma A'``,
and the nuisance directions ``X`` (the post-period effects orthogonal to
``l``) enter as ``E[Y] - X b <= 0`` for some ``b``. The test statistic is

    eta(theta) = min_{eta, b} eta  s.t.  Y - X b <= eta * sd(Y)
               = max_{gamma in P} gamma' Y,   P = {gamma >= 0, X' gamma = 0, sd' gamma = 1},

and P does not depend on ``theta``. Its vertices are enumerated once (they
are the basic solutions on ``k + 1`` moments, ``k`` the number of nuisance
directions), so the statistic, the optimal vertex and the conditioning
interval ``[v_lo, v_up]`` of ARP's conditional test follow for every grid
value in closed form: with ``gamma*`` optimal, ``c = Sigma_Y gamma* /
gamma*' Sigma_Y gamma*`` and ``s = Y - c eta``, ``gamma*`` stays optimal while
``eta (1 - v'c) >= v's`` for every vertex ``v``. This is the event that the
authors' package evaluates by bisection on a linear program.

Numbers happen here, on arrays; :mod:`spimpact.did.honest` orchestrates.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from math import comb

import numpy as np

from ..errors import OptionError
from ..inference import RandomState, as_generator

#: Vertex enumeration solves one small linear system per set of ``k + 1``
#: moments; beyond this many sets the problem is too large for it.
MAX_VERTEX_SETS = 400_000
#: A dual solution entry above ``-VERTEX_TOL`` counts as non-negative.
VERTEX_TOL = 1e-10
#: Simulations for the least-favourable critical value. The authors use 1000,
#: whose Monte Carlo error at the 1 - alpha/10 quantile moves the Medicaid
#: example's endpoints by up to two grid steps between seeds (20,000: at most
#: one); with the vertices enumerated a draw costs one small product.
LF_SIMS = 20_000


@dataclass(frozen=True)
class MomentProblem:
    """The moments of one polyhedral restriction, ready for testing.

    ``y0 = A betahat - d`` (``m``), ``a`` the direction in which ``theta`` moves
    the moments (``m``), ``X`` the nuisance directions (``m x k``), ``sigma`` the
    moments' variance (``m x m``), ``vertices`` the vertices of the dual set
    (``n_v x m``), ``floor_shift`` the value below which the no-nuisance test
    never rejects (``-gamma'd`` per vertex, as in the authors' package; zero
    with nuisance directions).
    """

    y0: np.ndarray
    a: np.ndarray
    X: np.ndarray
    sigma: np.ndarray
    vertices: np.ndarray
    floor: np.ndarray


def gamma_basis(l_vec: np.ndarray) -> np.ndarray:
    """An invertible matrix whose first row is ``l_vec`` (the other rows are unit
    vectors), so that ``tau = Gamma^{-1} (theta, b)``."""
    p = len(l_vec)
    rows = [np.asarray(l_vec, dtype=float)]
    for j in range(p):
        cand = np.vstack([*rows, np.eye(p)[j]])
        if np.linalg.matrix_rank(cand) == len(cand):
            rows.append(np.eye(p)[j])
        if len(rows) == p:
            break
    return np.vstack(rows)


def dual_vertices(X: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Vertices of ``{gamma >= 0, X' gamma = 0, sd' gamma = 1}`` (rows)."""
    m, k = X.shape
    n_sets = comb(m, k + 1)
    if n_sets > MAX_VERTEX_SETS:
        raise OptionError(
            f"the restriction has {m} moments and {k} nuisance directions "
            f"({n_sets:,} candidate vertices): too many post-periods for the conditional test. "
            f"Use fewer post periods (on a result: honest_bounds(..., window=(-5, 5))).")
    sets = np.array(list(combinations(range(m), k + 1)), dtype=np.intp)
    # (n_sets, k+1, k+1) systems  [X_S' ; sd_S'] gamma_S = e_{k+1}
    W = np.concatenate([X, sd[:, None]], axis=1)  # (m, k+1)
    Ms = np.transpose(W[sets], (0, 2, 1))
    det = np.linalg.det(Ms)
    scale = np.abs(Ms).max(axis=(1, 2)) ** (k + 1)
    ok = np.abs(det) > 1e-10 * np.maximum(scale, 1e-300)
    rhs = np.zeros(k + 1)
    rhs[-1] = 1.0
    g = np.linalg.solve(Ms[ok], np.broadcast_to(rhs, (int(ok.sum()), k + 1))[..., None])[..., 0]
    feas = (g >= -VERTEX_TOL * np.maximum(1.0, np.abs(g).max(axis=1, keepdims=True))).all(axis=1)
    out = np.zeros((int(feas.sum()), m))
    rows = np.repeat(np.arange(len(out)), k + 1)
    out[rows, sets[ok][feas].ravel()] = np.clip(g[feas], 0.0, None).ravel()
    if len(out) > 1:  # the same vertex from different sets (degenerate): keep one
        out = np.unique(np.round(out, 12), axis=0)
    return out


def moment_problem(
    A: np.ndarray, d: np.ndarray, betahat: np.ndarray, sigma: np.ndarray, num_pre: int,
    l_vec: np.ndarray, rows: np.ndarray | None = None,
) -> MomentProblem:
    """Moments of ``{A delta <= d}`` for tests of ``theta = l' tau_post``."""
    if rows is not None:
        A, d = A[rows], d[rows]
    Gi = np.linalg.inv(gamma_basis(l_vec))
    AG = A[:, num_pre:] @ Gi
    y0 = A @ betahat - d
    Sy = A @ sigma @ A.T
    X = AG[:, 1:]
    sd = np.sqrt(np.clip(np.diag(Sy), 0.0, None))
    if (sd <= 0).any():
        raise OptionError("sigma gives a moment of the restriction zero variance; check that "
                          "sigma is the event-study covariance matrix (positive variances).")
    V = dual_vertices(X, sd)
    floor = -(V @ d) if X.shape[1] == 0 else np.zeros(len(V))
    return MomentProblem(y0, AG[:, 0], X, Sy, V, floor)


def least_favorable_cv(prob: MomentProblem, kappa: float, random_state: RandomState = 0,
                       sims: int | None = None) -> float:
    """``1 - kappa`` quantile of ``max_v v' xi`` with ``xi ~ N(0, Sigma_Y)``: the
    least-favourable critical value of the first-stage test."""
    rng = as_generator(random_state)
    sims = LF_SIMS if sims is None else sims
    m = len(prob.y0)
    L = np.linalg.cholesky(prob.sigma + 1e-14 * np.trace(prob.sigma) / m * np.eye(m))
    xi = rng.standard_normal((sims, m)) @ L.T
    eta = (xi @ prob.vertices.T).max(axis=1)
    return float(np.quantile(eta, 1 - kappa))


def accept_grid(
    prob: MomentProblem, theta: np.ndarray, alpha: float, *, hybrid: str = "LF",
    kappa: float | None = None, lf_cv: float | None = None,
) -> np.ndarray:
    """Whether each ``theta`` is accepted by the conditional (``hybrid="ARP"``)
    or conditional least-favourable hybrid (``hybrid="LF"``) test at level
    ``alpha``."""
    from scipy import stats

    theta = np.asarray(theta, dtype=float)
    V = prob.vertices
    if len(V) == 0:  # the nuisance can always satisfy the moments: nothing is rejected
        return np.ones(len(theta), dtype=bool)
    Y = prob.y0[None, :] - theta[:, None] * prob.a[None, :]  # (G, m)
    vals = Y @ V.T  # (G, n_v)
    best = np.argmax(vals, axis=1)
    eta = vals[np.arange(len(theta)), best]
    g = V[best]  # (G, m)
    Sg = g @ prob.sigma  # (G, m)
    var = np.einsum("gm,gm->g", Sg, g)
    c = Sg / var[:, None]
    s = Y - c * eta[:, None]
    vs = s @ V.T  # (G, n_v)
    denom = 1.0 - c @ V.T
    tol = 1e-10
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = vs / denom
    vlo = np.where(denom > tol, ratio, -np.inf).max(axis=1)
    vup = np.where(denom < -tol, ratio, np.inf).min(axis=1)
    sd_b = np.sqrt(var)
    if hybrid == "LF":
        assert lf_cv is not None and kappa is not None
        size = (alpha - kappa) / (1 - kappa)
        vup = np.minimum(vup, lf_cv)
        first = eta > lf_cv
    elif hybrid == "ARP":
        size = alpha
        first = np.zeros(len(theta), dtype=bool)
    else:
        raise OptionError(f"hybrid must be 'LF' or 'ARP', not {hybrid!r}.")
    zlo, zup, z = vlo / sd_b, vup / sd_b, eta / sd_b
    inside = (zlo <= z) & (z <= zup)
    q = np.full(len(theta), np.inf)
    ok = inside & (zlo < zup)
    if ok.any():
        q[ok] = stats.truncnorm.ppf(1 - size, zlo[ok], zup[ok])
    crit = np.maximum(prob.floor[best], q * sd_b)
    reject = first | (inside & (eta > crit))
    return ~reject
