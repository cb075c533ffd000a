"""
Teacher–student networks: the d-free reduced PDE
==================================================

Regression on ``x ~ N(0, I_d)`` with labels from a two-layer relu teacher whose weights span a
``k``-dimensional subspace ``S`` (``wgflow.problems.TeacherStudent``). A student law invariant
under rotations of ``S⊥`` is described, as ``d → ∞``, by the law of
``(a, u = P_S w ∈ R^k, r = ‖P_{S⊥} w‖)``: a ``(k + 2)``-dimensional McKean–Vlasov equation
that does not depend on ``d`` (``prob.reduced()``).

The preset ``teacher-relu`` (``k = 2``, teacher ``(|x1| + |x2|)/4``, ``d = 320``,
``N = 800``): online SGD against the reduced PDE solved by particles. (Approximation theory on
the same kind of teacher: the gallery example "Approximation theory as an experiment".)

Set ``WGFLOW_QUICK=1`` for a reduced run (same code path).
"""

import os

import matplotlib.pyplot as plt

from wgflow.plotting import plot_risk_curves
from wgflow.studies import presets

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

plt.show()
