"""Sampling and convergence diagnostics.

:func:`sample` runs nutpie's NUTS on a compiled model (compiled models are
cached by structure and reused on new data of the same shape, so repeated
fits pay the compilation once) and falls back to PyMC's NUTS when nutpie is
not installed or ``sampler="pymc"``. :func:`diagnose` computes the
convergence gates (R-hat, bulk and tail ESS, divergences, E-BFMI) and the
warnings that name what to try.
"""

from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import OptionError
from ..inference import RandomState, as_generator
from ._deps import arviz, nutpie_or_none, pymc

__all__ = ["RHAT_MAX", "ESS_MIN", "BFMI_MIN", "SAMPLERS", "sample", "diagnose",
           "gate_warnings", "summarise_draws", "seed_of", "check_sampling_options",
           "DIAGNOSTIC_COLUMNS"]

#: Convergence gates (Vehtari et al. 2021): R-hat below 1.01, bulk and tail
#: effective sample sizes of at least 400, no divergent transitions, and an
#: energy Bayesian fraction of missing information (E-BFMI) of at least 0.3.
RHAT_MAX = 1.01
ESS_MIN = 400
BFMI_MIN = 0.3
SAMPLERS = ("nutpie", "pymc")
#: Columns a Bayesian estimates table adds to the standard ones.
DIAGNOSTIC_COLUMNS = ("rhat", "ess_bulk", "ess_tail")
#: Compiled models kept for reuse (most recently used first out last).
_CACHE_SIZE = 8
#: Data arrays larger than this are compiled in as constants (no reuse).
FREEZE_SIZE = 50_000
_COMPILED: OrderedDict[tuple, Any] = OrderedDict()


def check_sampling_options(sampler: str, chains: Any, draws: Any, tune: Any) -> None:
    """Validate the sampler settings shared by every Bayesian estimator."""
    if sampler not in SAMPLERS:
        raise OptionError(f"sampler must be one of {list(SAMPLERS)}, not {sampler!r}.")
    for name, value, low in (("chains", chains, 1), ("draws", draws, 1), ("tune", tune, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise OptionError(f"{name} must be an integer >= {low}, not {value!r}.")


def seed_of(random_state: RandomState) -> int:
    """An integer seed for the sampler from ``random_state``."""
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state) % (2**31 - 1)
    return int(as_generator(random_state).integers(2**31 - 1))


def _compiled(model: Any, data: dict[str, np.ndarray], key: tuple) -> Any:
    nutpie = nutpie_or_none()
    assert nutpie is not None
    full = (key, tuple((k, np.shape(v), np.asarray(v).dtype.kind) for k, v in sorted(data.items())))
    if max((np.size(v) for v in data.values()), default=0) > FREEZE_SIZE:
        # large data: compile the arrays in as constants (constant terms of the
        # likelihood fold away); such models are not kept for reuse
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return nutpie.compile_pymc_model(model, backend="numba", freeze_model=True)
    hit = _COMPILED.get(full)
    if hit is not None:
        _COMPILED.move_to_end(full)
        return hit.with_data(**data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        compiled = nutpie.compile_pymc_model(model, backend="numba")
    _COMPILED[full] = compiled
    while len(_COMPILED) > _CACHE_SIZE:
        _COMPILED.popitem(last=False)
    return compiled


def sample(
    model: Any,
    data: dict[str, np.ndarray],
    key: tuple,
    *,
    sampler: str = "nutpie",
    chains: int = 4,
    draws: int = 1000,
    tune: int = 1000,
    random_state: RandomState = None,
    target_accept: float = 0.8,
    progress: bool = False,
    low_rank: bool = False,
) -> tuple[Any, str]:
    """Sample the posterior of ``model``; returns the InferenceData and the sampler used.

    ``progress`` shows the sampler's own progress bar (nutpie's or PyMC's).
    ``low_rank=True`` has nutpie adapt a diagonal mass matrix plus a low-rank
    correction (its ``low_rank_modified_mass_matrix``), which follows a few strongly
    correlated directions of the posterior; PyMC's NUTS keeps its diagonal one.
    """
    if not isinstance(progress, bool):
        raise OptionError(f"progress must be True or False, not {progress!r}.")
    seed = seed_of(random_state)
    cores = max(1, min(chains, os.cpu_count() or 1))
    nutpie = nutpie_or_none() if sampler == "nutpie" else None
    if nutpie is not None:
        compiled = _compiled(model, data, key)
        idata = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, cores=cores,
                              seed=seed, progress_bar=progress, save_warmup=False,
                              target_accept=target_accept,
                              **({"low_rank_modified_mass_matrix": True} if low_rank else {}))
        return idata, "nutpie"
    pm = pymc()
    with model:
        idata = pm.sample(draws=draws, tune=tune, chains=chains, cores=cores, random_seed=seed,
                          progressbar=progress, compute_convergence_checks=False,
                          target_accept=target_accept)
    used = "pymc" if sampler == "pymc" else "pymc (nutpie is not installed)"
    return idata, used


def diagnose(idata: Any, var_names: Sequence[str]) -> dict[str, Any]:
    """Convergence diagnostics over every element of ``var_names``.

    Returns ``max_rhat``, ``min_ess_bulk``, ``min_ess_tail`` (each with the
    variable where it occurs, ``*_var``), ``divergences``, ``min_bfmi``,
    ``chains`` and ``draws``.
    """
    az = arviz()
    post = idata.posterior[list(var_names)]
    out: dict[str, Any] = {}
    for label, stat, worst in (("max_rhat", lambda p: az.rhat(p), np.nanargmax),
                               ("min_ess_bulk", lambda p: az.ess(p, method="bulk"), np.nanargmin),
                               ("min_ess_tail", lambda p: az.ess(p, method="tail"), np.nanargmin)):
        res = stat(post)
        vals = {v: np.asarray(res[v]).ravel() for v in var_names}
        best = {v: a[worst(a)] for v, a in vals.items() if np.isfinite(a).any()}
        if best:
            order = sorted(best, key=lambda v: float(best[v]))
            pick = order[-1] if label == "max_rhat" else order[0]
            out[label], out[f"{label}_var"] = float(best[pick]), pick
        else:
            out[label], out[f"{label}_var"] = float("nan"), None
    stats = idata.sample_stats
    out["divergences"] = int(np.asarray(stats["diverging"]).sum()) if "diverging" in stats else 0
    try:
        out["min_bfmi"] = float(np.min(az.bfmi(idata)))
    except (KeyError, ValueError, AttributeError):
        out["min_bfmi"] = float("nan")
    out["chains"] = int(post.sizes["chain"])
    out["draws"] = int(post.sizes["draw"])
    return out


def gate_warnings(d: dict[str, Any]) -> list[str]:
    """One warning per failed convergence gate, saying what to try."""
    msgs: list[str] = []
    if d["chains"] < 2:
        msgs.append("R-hat needs at least 2 chains; run chains=4 to check convergence.")
    elif not d["max_rhat"] < RHAT_MAX:
        msgs.append(
            f"R-hat reaches {d['max_rhat']:.3f} (on {d['max_rhat_var']!r}), not below {RHAT_MAX}: "
            f"the chains disagree. Run longer (more tune= and draws=), use stronger priors, or "
            f"change the parameterisation of the groups involved (centred= for groups with "
            f"much data each)."
        )
    for key, what in (("min_ess_bulk", "bulk"), ("min_ess_tail", "tail")):
        if not d[key] >= ESS_MIN:
            msgs.append(
                f"{what} effective sample size is only {d[key]:.0f} (on {d[f'{key}_var']!r}), "
                f"below {ESS_MIN}: estimates and intervals are noisy. Increase draws= (and "
                f"chains=), or reparameterise."
            )
    if d["divergences"] > 0:
        msgs.append(
            f"{d['divergences']} divergent transitions after tuning: the sampler could not "
            f"explore part of the posterior, so it may be biased. Raise target_accept (e.g. "
            f"0.95), switch the parameterisation of small groups (non-centred) or large groups "
            f"(centred=), or use tighter priors on the group SDs."
        )
    if np.isfinite(d["min_bfmi"]) and d["min_bfmi"] < BFMI_MIN:
        msgs.append(
            f"E-BFMI is {d['min_bfmi']:.2f} (below {BFMI_MIN}): the momentum resampling explores "
            f"the energy poorly, typical of funnel-shaped hierarchies; reparameterise the groups "
            f"or run longer tuning."
        )
    return msgs


def summarise_draws(
    draws: np.ndarray, index: dict[str, Any] | pd.DataFrame, confidence: float = 0.95,
) -> pd.DataFrame:
    """Posterior summary of ``k`` quantities from draws ``(chain, draw, k)``.

    Columns: the ``index`` columns, ``estimate`` (posterior mean), ``std_error``
    (posterior SD), ``ci_lower``/``ci_upper`` (equal-tailed credible interval
    at ``confidence``), ``p_value`` (NaN: Bayesian fits report intervals, not
    tests), ``rhat``, ``ess_bulk``, ``ess_tail``.
    """
    az = arviz()
    import xarray as xr

    draws = np.asarray(draws, dtype=float)
    c, d, k = draws.shape
    flat = draws.reshape(c * d, k)
    lo, hi = (1 - confidence) / 2, (1 + confidence) / 2
    out = pd.DataFrame(index, copy=True).reset_index(drop=True)
    out["estimate"] = flat.mean(axis=0)
    out["std_error"] = flat.std(axis=0, ddof=1) if c * d > 1 else np.nan
    q = np.quantile(flat, [lo, hi], axis=0) if k else np.zeros((2, 0))
    out["ci_lower"], out["ci_upper"] = q[0], q[1]
    out["p_value"] = np.nan
    ds = xr.Dataset({"v": (("chain", "draw", "k"), draws)})
    if c >= 2 and d >= 4 and k:
        out["rhat"] = np.asarray(az.rhat(ds)["v"])
    else:
        out["rhat"] = np.nan
    if d >= 4 and k:
        out["ess_bulk"] = np.asarray(az.ess(ds, method="bulk")["v"])
        out["ess_tail"] = np.asarray(az.ess(ds, method="tail")["v"])
    else:
        out["ess_bulk"] = out["ess_tail"] = np.nan
    return out
