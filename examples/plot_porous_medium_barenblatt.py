"""
Porous medium equation against the Barenblatt profile
=====================================================

``∂t ρ = Δρ²`` is the Wasserstein gradient flow of ``E[ρ] = ∫ρ²``. Its self-similar
Barenblatt solution has compact support that spreads like ``t^{1/3}`` (1-D). Finite volumes
(second order) and the exact Lagrangian JKO scheme are compared with it.

Set ``WGFLOW_QUICK=1`` for a reduced run (same code path).
"""

import os

import matplotlib.pyplot as plt
import numpy as np

import wgflow as wg
from wgflow.problems import PorousMedium
from wgflow.solvers import JKO, FiniteVolume

QUICK = os.environ.get("WGFLOW_QUICK") == "1"

# %%
# Solve with finite volumes and with Lagrangian JKO steps
# -------------------------------------------------------
prob = PorousMedium(dim=1, m=2.0, t0=0.1)
grid = wg.Grid.box([(-2.5, 2.5)], 100 if QUICK else 400)
rho0 = prob.initial_density(grid)
fv = FiniteVolume(prob.energy, grid).run(rho0, 1.0, 0.5, progress=False)
jko = JKO(prob.energy, grid, tau=0.05, method="lagrangian", n_quantiles=100).run(
    rho0, 1.0, 0.5, progress=False
)

x = grid.coordinates[0]
fig, ax = plt.subplots(figsize=(6, 3.6))
for t, style in ((0.0, ":"), (0.5, "--"), (1.0, "-")):
    ax.plot(x, prob.exact_density(grid, t), "k" + style, lw=1, label=f"Barenblatt t={t}")
    ax.plot(x, fv["density"].sel(time=t).values, style, color="C0")
    ax.plot(x, jko["density"].sel(time=t).values, style, color="C1")
ax.plot([], [], color="C0", label="finite volumes")
ax.plot([], [], color="C1", label="Lagrangian JKO (τ = 0.05)")
ax.set_xlabel("x")
ax.set_ylabel("ρ")
ax.legend(fontsize=8)
fig.tight_layout()

error_fv = grid.integrate(np.abs(fv["density"][-1].values - prob.exact_density(grid, 1.0)))
error_jko = grid.integrate(np.abs(jko["density"][-1].values - prob.exact_density(grid, 1.0)))
print(f"L1 error at t = 1: finite volumes {error_fv:.2e}, Lagrangian JKO {error_jko:.2e}")
plt.show()
