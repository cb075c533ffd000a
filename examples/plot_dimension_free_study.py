"""
How close is SGD to the PDE? N, ε and the dimension
===================================================

Mei–Misiakiewicz–Montanari (COLT 2019) bound the distance between SGD on ``N`` neurons and the
mean-field PDE by ``√(log N/N) + √(D + log N) √ε``: the number of neurons need not grow with
the dimension, and ``ε ∝ 1/d`` suffices. This script runs the three sweeps of
``wgflow.studies.sgd_vs_pde`` (on dask, serially here) and fits the slopes: negative in ``N``,
increasing in ``ε`` (SGD's ``O(εd)`` bias), flat in ``d`` at fixed ``εd``.

The full study is ``wgflow study sgd-vs-pde`` (README.md lists its slopes).
Set ``WGFLOW_QUICK=1`` for the small version (same code path).
"""

import os

import matplotlib.pyplot as plt

from wgflow.studies import sgd_vs_pde
from wgflow.studies.figures import plot_convergence

QUICK = os.environ.get("WGFLOW_QUICK") == "1"
options = sgd_vs_pde.QUICK if QUICK else {}
results = sgd_vs_pde.study(scheduler="synchronous", progress=False, **options)
for name, fit in sgd_vs_pde.fit_slopes(results).items():
    print(f"sup risk gap vs {name}: slope {fit.slope:+.2f} [{fit.low:+.2f}, {fit.high:+.2f}]")

# %%
# Fitted rates
# ------------
plot_convergence(results)
plot_convergence(results, quantity="sup_w2")
plt.show()
