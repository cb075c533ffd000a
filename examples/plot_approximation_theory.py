"""
Approximation theory as an experiment
=====================================

The seed talk's part A, tested on trained networks (``wgflow.studies.approximation``).
Students ``f = (1/N) Σ a_i relu(⟨w_i, x⟩)`` in ``R^d`` are trained by L-BFGS on the exact
population risk of a wide relu teacher (``M`` neurons, ``M ≥ 16 N``) that lives on a
``k``-dimensional subspace and whose output weights vary with the direction through an even
profile (so relu's antipodal identity cannot cancel it). Inputs: uniform on the sphere of radius
``√d`` — the same risk as ``x ~ N(0, I_d)`` for these positively homogeneous neurons.

1. **Barron's bound** ``R_N ≤ Δ(f)²/N`` with ``Δ(f) = r ∫ |a| ‖w‖ dμ`` (``r = √d``): the
   middle panel shows ``N R_N / Δ(f)²``, which must stay below 1.
2. **The rate is set by k, not d**: best-of-restarts risk against ``N`` for every ``(k, d)``
   (bars: the worse restart; hollow points: the optimizer's floor, never fitted), with the
   slopes against ``−1 − 3/(k − 1)``.
3. **What matters is ρ**: the W2 distance between two restarts' neuron measures in
   coordinates invariant to the symmetries, against ``N``.

Set ``WGFLOW_QUICK=1`` for a reduced run (same code path).
"""

import os

# single-threaded BLAS before numpy loads: L-BFGS-B's many small BLAS calls were measured 14×
# slower with threaded BLAS on a loaded 2-core machine
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import matplotlib.pyplot as plt  # noqa: E402

from wgflow.studies import approximation  # noqa: E402

QUICK = os.environ.get("WGFLOW_QUICK") == "1"

# %%
# The sweep
# ---------
# ``k × N × d`` with two restarts per point, here in this process (``wgflow study
# approximation`` runs it on a local dask cluster and archives it, resumably).
options = approximation.QUICK if QUICK else approximation.FULL
if QUICK:
    options = {**options, "k_values": (2, 4), "n_values": (4, 8, 16), "d_values": (20,),
               "max_iter": 200}  # fmt: skip
results = approximation.study(**options, scheduler="synchronous", progress=False)
fits = approximation.fit(results)
for (k, d), f in fits["N"].items():
    print(f"k = {k}, d = {d:3d}: slope {f.slope:+.2f} [{f.low:+.2f}, {f.high:+.2f}], "
          f"theory {approximation.theoretical_slope(k):+.2f}, Barron −1")  # fmt: skip
print(f"largest N R_N / Δ(f)²: {float(results['barron_ratio'].max()):.2e} (bound: 1)")

# %%
# Rate, Barron ratio and the distance between restarts
# ----------------------------------------------------
fig = approximation.plot(results, fits)
plt.show()
