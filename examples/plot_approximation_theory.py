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
   coordinates invariant to the symmetries, against ``N``; and the ``N = ∞`` risk of the
   reduced mean-field dynamics (``approximation.mean_field_limit``) run long, against ``t``.
4. **Barron's theorem with its own Fourier constant** ``Δ(f) = 2r∫‖ω‖|F(ω)|dω``
   (``wgflow.studies.barron``): tanh students with biases on a ridge and a radial Gaussian
   target whose ``Δ(f)`` is known in closed form; ``N R_N/Δ(f)²`` must stay below 1.

Set ``WGFLOW_QUICK=1`` for a reduced run (same code path).
"""

import os

# single-threaded BLAS before numpy loads: L-BFGS-B's many small BLAS calls were measured 14×
# slower with threaded BLAS on a loaded 2-core machine
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import matplotlib.pyplot as plt  # noqa: E402

from wgflow.studies import approximation, barron  # noqa: E402

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

# %%
# N = ∞: the reduced mean-field dynamics, run long
# ------------------------------------------------
# The ``d``-free reduction of the ``k = 2`` teacher by particles (each a ring of neurons
# around ``S``), its risk against ``t``, the fit ``R∞ + C t^{−p}`` over the last decade and
# the best finite-``N`` risks of the sweep (``d = 20``) for comparison.
mf = approximation.mean_field_limit(
    **({"particles": 50, "t_final": 50.0, "polish_iter": 100} if QUICK else {})
)
f = mf["fit"]
print(f"N = ∞: R({mf['time'][-1]:g}) = {mf['final_risk']:.2e}, local slope {f['slope']:+.2f}, "
      f"R∞ = {f['r_inf']:.1e} [{f['r_inf_low']:.1e}, {f['r_inf_high']:.1e}], "
      f"L-BFGS from the final state: {mf['polished']:.1e}")  # fmt: skip
fig, ax = plt.subplots(figsize=(5, 4))
ax.loglog(mf["time"][1:], mf["risk"][1:], "k-", label="reduced mean-field dynamics")
if 2 in results["k"].values:
    best = results["best_risk"].sel(k=2).isel(d=0)
    for n, r in zip(best["N"].values, best.values, strict=True):
        ax.axhline(float(r), ls=":", lw=0.8, color="C0")
        ax.text(mf["time"][1], float(r), f"N = {int(n)}", fontsize=7, va="bottom")
ax.set(xlabel="t", ylabel="risk", title="k = 2: N = ∞ against finite N")
ax.legend(fontsize=7)
plt.show()

# %%
# Barron's theorem with its Fourier constant
# ------------------------------------------
# Ridge ``exp(−x_1²/2)`` on the sphere of radius ``√d`` and bump ``exp(−2‖x‖²)`` in the unit
# ball; chains of ``N`` (each ``N`` starts from the split ``N/2`` solution); risks on an
# independent Monte-Carlo test set.
boptions = barron.QUICK if QUICK else barron.FULL
if QUICK:
    boptions = {**boptions, "d_values": (4,), "max_iter": 80}
bres = barron.study(**boptions, scheduler="synchronous", progress=False)
best = barron.summary(bres)
for t in best["target"].values:
    for d in best["d"].values:
        ratio = best["ratio"].sel(target=t, d=d).values
        print(f"{t}, d = {int(d)}: N R_N/Δ² = " + " ".join(f"{v:.1e}" for v in ratio))
fig = barron.plot(bres)
plt.show()
