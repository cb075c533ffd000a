"""
Isotropic Gaussians with a non-monotone activation: the initialization matters
==============================================================================

For isotropic data (``s0 = d``) the reduced PDE is one-dimensional in ``r = ‖w‖``. With a
bounded non-monotone activation the reduced potential has several wells, and where the neurons
end up depends on the initial scale ``κ`` of ``w ~ N(0, κ² I/d)`` (Mei–Montanari–Nguyen,
PNAS 2018, κ ∈ {0.1, 0.4}). wgflow's activation here is a documented stand-in for the
paper's (see ``wgflow.problems.two_layer_nn.nonmonotone``). The start concentrates at
``r = κ``: SGD's neurons and the PDE's histogrammed initial law both represent it.

Set ``WGFLOW_QUICK=1`` for a reduced run (same code path).
"""

import os

import matplotlib.pyplot as plt

from wgflow.plotting import plot_particles_over_density, plot_risk_curves
from wgflow.studies import presets

QUICK = os.environ.get("WGFLOW_QUICK") == "1"

ds = presets.run("mmn-nonmonotone", quick=QUICK)

# %%
# Risk curves and the final law of ``r`` for both initial scales
# --------------------------------------------------------------
fig, axes = plt.subplots(2, ds.sizes["kappa"], figsize=(9, 6.5))
for col, kappa in enumerate(ds["kappa"].values):
    run = ds.sel(kappa=kappa)
    plot_risk_curves(run, ax=axes[0, col])
    axes[0, col].set_title(f"κ = {kappa:g}")
    plot_particles_over_density(run, float(run["time"][-1]), ax=axes[1, col])
fig.tight_layout()
plt.show()
