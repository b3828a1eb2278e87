"""Interrupted time series: segmented regression of one series, controlled
(comparative) ITS against comparison series, and multi-site ITS pooling many
series each interrupted at its own period.

All three take a :class:`~spimpact.Panel` and fit Gaussian, Poisson or
quasi-Poisson (and, for one series, negative binomial) models with the
exposure as offset, Fourier seasonality, extra interruptions (e.g. COVID-19)
and autocorrelation-robust inference (Newey-West / Driscoll-Kraay, ARMA errors,
or cluster-robust by site). Numbers come from statsmodels (GLM, negative
binomial, SARIMAX); multi-site fits absorb the site effects.
"""

from __future__ import annotations

from ._design import fourier_terms
from ._examples import example_panel, example_sites, load_sicily
from ._options import Fourier, newey_west_lags
from ._timeaxis import time_index
from .controlled import ControlledITS
from .multisite import MultiSiteITS
from .multisite_results import MultiSiteResult
from .results import ITSResult
from .segmented import SegmentedRegression

__all__ = [
    "SegmentedRegression",
    "ControlledITS",
    "MultiSiteITS",
    "Fourier",
    "fourier_terms",
    "time_index",
    "ITSResult",
    "MultiSiteResult",
    "newey_west_lags",
    "load_sicily",
    "example_panel",
    "example_sites",
]
