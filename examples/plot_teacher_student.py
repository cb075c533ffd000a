"""
Teacher–student networks: the d-free reduced PDE and approximation theory
==========================================================================

Regression on ``x ~ N(0, I_d)`` with labels from a two-layer relu teacher whose weights span a
``k``-dimensional subspace ``S`` (``wgflow.problems.TeacherStudent``). A student law invariant
under rotations of ``S⊥`` is described, as ``d → ∞``, by the law of
``(a, u = P_S w ∈ R^k, r = ‖P_{S⊥} w‖)``: a ``(k + 2)``-dimensional McKean–Vlasov equation
that does not depend on ``d`` (``prob.reduced()``).

1. The preset ``teacher-relu`` (``k = 2``, teacher ``(|x1| + |x2|)/4``, ``d = 320``,
   ``N = 800``): online SGD against the reduced PDE solved by particles.
2. Part A of the seed talk as an experiment: students of ``N`` neurons trained to convergence
   (full-batch, exact risk) on a wide smooth teacher, in ``d = 20, 80, 320``: the excess risk
   against ``N`` and ``d`` (``wgflow.studies.approximation``).

Set ``WGFLOW_QUICK=1`` for a reduced run (same code path).
"""

import os

import matplotlib.pyplot as plt
import numpy as np

from wgflow.plotting import plot_risk_curves
from wgflow.studies import approximation, presets

QUICK = os.environ.get("WGFLOW_QUICK") == "1"

# %%
# SGD against the reduced PDE
# ---------------------------
ds = presets.run("teacher-relu", quick=QUICK)
print(f"sup_t |R_SGD − R_PDE| = {ds.attrs['sup_risk_gap']:.2e} "
      f"(R from {float(ds['risk_sgd'][0]):.4f} to {float(ds['risk_sgd'][-1]):.4f})")  # fmt: skip
fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.8))
plot_risk_curves(ds, ax=axes[0], logx=False)
for ax, axis in zip(axes[1:], ("a", "r"), strict=True):
    ax.plot(ds["time"], ds[f"mean_{axis}_sgd"], "o", ms=3, label="SGD neurons")
    ax.plot(ds["time"], ds[f"mean_{axis}_pde"], "-", label="reduced PDE")
    ax.set(xlabel="time t = kε", title=f"mean {axis}")
    ax.legend(fontsize="small")
fig.tight_layout()

# %%
# Excess risk at convergence against N and d
# ------------------------------------------
# A smooth target (the teacher's output weights vary smoothly with the angle): the trained
# students' excess risk falls much faster than Barron's ``1/N`` bound, and does not depend on
# ``d`` — every neuron ends in ``S`` (``r → 0``), where the risk is that of a 2-D problem.
sizes = {"n_values": (4, 8, 16), "max_iter": 1000} if QUICK else {}
results = approximation.study(**{**approximation.FULL, "seeds": (0,), **sizes},
                              scheduler="synchronous", progress=False)  # fmt: skip
mean = results["excess_risk"].mean("seed")
fits = approximation.fit(results)
fig, ax = plt.subplots(figsize=(5, 4))
for d in mean["d"].values:
    f = fits["N"][int(d)]
    ax.loglog(mean["N"], mean.sel(d=d), "o-", label=f"d = {int(d)}: slope {f.slope:+.1f}")
n = mean["N"].values.astype(float)
ax.loglog(n, float(mean.isel(N=0).mean()) * n[0] / n, "k--", label="Barron's 1/N")
ax.set(xlabel="neurons N", ylabel="excess risk at convergence")
ax.legend(fontsize="small")
fig.tight_layout()
print("spread over d at each N (max/min):",
      np.round((mean.max("d") / mean.min("d")).values, 2))  # fmt: skip
plt.show()
