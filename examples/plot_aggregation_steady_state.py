"""
Aggregation to an explicit steady state
=======================================

With ``W(x) = |x|²/2 − log|x|`` in 2-D, the aggregation equation ``∂t ρ = ∇·(ρ ∇W*ρ)`` drives
any mass-1 density to ``1/π`` on the unit disk. A uniform patch stays uniform, with a density
that follows a logistic law, so the solution is known at every time. The interaction is
evaluated by a zero-padded FFT convolution with the singular kernel averaged over cells;
particles with the same kernel run in a compiled ``O(N²)`` loop.

Set ``WGFLOW_QUICK=1`` for a reduced run (same code path).
"""

import os

import matplotlib.pyplot as plt
import numpy as np

import wgflow as wg
from wgflow.plotting import plot_density
from wgflow.problems import Aggregation
from wgflow.solvers import FiniteVolume, Particles

QUICK = os.environ.get("WGFLOW_QUICK") == "1"

prob = Aggregation(dim=2, r0=0.5)
grid = wg.Grid.box([(-1.5, 1.5)] * 2, 48 if QUICK else 128)
t_final = 2.0 if QUICK else 6.0
ds = FiniteVolume(prob.energy, grid).run(
    prob.initial_density(grid), t_final, t_final / 3, progress=False
)

# %%
# Density snapshots and the particle picture
# ------------------------------------------
n = 500 if QUICK else 3000
x0 = wg.GridMeasure(grid, prob.initial_density(grid)).sample(n, seed=0).positions
cloud = Particles(prob.energy, dt=0.01).run(x0, t_final, t_final, progress=False)

fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
plot_density(ds, 0.0, ax=axes[0])
plot_density(ds, t_final, ax=axes[1])
pts = cloud["positions"].isel(time=-1).values
axes[2].scatter(pts[:, 0], pts[:, 1], s=2)
theta = np.linspace(0, 2 * np.pi, 200)
axes[2].plot(np.cos(theta), np.sin(theta), "k--", lw=1, label="unit circle")
axes[2].set_aspect("equal")
axes[2].set_title(f"{n} particles at t = {t_final:g}")
axes[2].legend(loc="upper right", fontsize=8)
fig.tight_layout()

# %%
# Relaxation
# ----------
errors = [
    grid.integrate(np.abs(ds["density"].sel(time=t).values - prob.steady_state(grid)))
    for t in ds["time"].values
]
print("L1 distance to the steady state:", np.round(errors, 4))
plt.show()
