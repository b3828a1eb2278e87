"""Bayesian multilevel models (PyMC, ArviZ and nutpie: the ``bayes`` extra).

* :class:`MultilevelModel` -- multilevel GLMs with lme4-style group terms
  (``y ~ x + (1 | county)``, ``(1 | pcn/practice)``, ``(1 + x | pcn)``).
* :class:`MultilevelDiD` -- Bayesian staggered difference-in-differences:
  cohort-by-period effects partially pooled across cohorts (and PCNs),
  aggregated by the same weights as the frequentist estimators.
* :class:`MultilevelITS` -- multi-site interrupted time series with site
  level and slope changes partially pooled.

Importing this module is cheap: PyMC is imported when a model is fitted, and
a missing PyMC raises :class:`~spimpact.errors.DependencyError` with the
install command (``pip install 'spimpact[bayes]'``).
"""

from __future__ import annotations

from .did import MultilevelDiD
from .its import MultilevelITS
from .multilevel import MultilevelModel
from .priors import Priors
from .results import BayesResult, PriorPredictive

__all__ = ["MultilevelModel", "MultilevelDiD", "MultilevelITS", "Priors", "BayesResult",
           "PriorPredictive"]
