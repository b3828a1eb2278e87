"""Counts on one series: fixed-b Newey-West (the package's small-sample route)
against a Poisson GLM with an AR(1) working correlation (statsmodels GEE on the
one series, model-based covariance with the Pearson scale), paired on the same
series. The numbers quoted in docs/guide/its.md came from
``python benchmarks/its_counts_gee.py 200``: Newey-West 0.850 (0.025), fixed-b
Newey-West 0.930 (0.018), GEE AR(1) 0.915 (0.020).

Series: interrupted_series(ar=0.5, noise_sd=0.03) counts (108 months, level
change log(0.9) from 2019-07), Fourier(12, 1) seasonality, seeds 50000 + r.
"""

import sys
import warnings

import numpy as np
import statsmodels.api as sm
from threadpoolctl import threadpool_limits

from spimpact import Panel
from spimpact.its import Fourier, SegmentedRegression
from spimpact.simulate import interrupted_series

reps = int(sys.argv[1])
truth = np.log(0.9)
hit = {"nw": [], "nw_fixed_b": [], "gee_ar1": []}
warnings.simplefilter("ignore")
with threadpool_limits(1):
    for r in range(reps):
        d = interrupted_series(ar=0.5, noise_sd=0.03, random_state=50_000 + r).data
        panel = Panel(d, outcome="count", time="month", exposure="population")
        for name, ss in (("nw", False), ("nw_fixed_b", True)):
            res = SegmentedRegression("2019-07", family="quasipoisson",
                                      seasonality=Fourier(12, 1), autocorrelation="newey-west",
                                      small_sample=ss).fit(panel)
            row = res.estimates.set_index("term").loc["level_change"]
            hit[name].append(row.ci_lower <= truth <= row.ci_upper)
        t = np.arange(len(d))
        post = (d["month"] >= d["month"].iloc[54]).to_numpy(float)
        X = np.c_[np.ones(len(d)), t - 54, post, np.sin(2 * np.pi * t / 12),
                  np.cos(2 * np.pi * t / 12)]
        m = sm.GEE(d["count"].to_numpy(), X, groups=np.zeros(len(d)), time=t,
                   family=sm.families.Poisson(),
                   cov_struct=sm.cov_struct.Autoregressive(grid=True),
                   offset=np.log(d["population"].to_numpy()))
        f = m.fit(cov_type="naive", scale="X2")
        lo, hi = f.params[2] - 1.96 * f.bse[2], f.params[2] + 1.96 * f.bse[2]
        hit["gee_ar1"].append(lo <= truth <= hi)
for k, v in hit.items():
    c = np.mean(v)
    print(k, f"{c:.3f} ({np.sqrt(c * (1 - c) / reps):.3f})")
