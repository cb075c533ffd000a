"""
Noisy SGD and the free energy
=============================

With Gaussian noise ``√(2ε/β) g`` per step, SGD samples the diffusion
``∂t ρ = ∇·(ρ∇Ψ) + β⁻¹Δρ``, the Wasserstein gradient flow of the free energy
``½(R − E y²) + β⁻¹ ∫ρ log ρ``. In the reduced coordinate ``r = ‖w‖`` (isotropic data) the
Laplacian brings the radial drift ``(d − 1)/(β r)``: entropy pushes neurons outwards and the
risk first falls, then rises to its noisy equilibrium. The reduced PDE (with that drift) and
SGD in ``d = 40`` agree; the reduced free energy decreases monotonically.

Set ``WGFLOW_QUICK=1`` for a reduced run (same code path).
"""

import os

import matplotlib.pyplot as plt

from wgflow.plotting import plot_particles_over_density, plot_risk_curves, plot_series
from wgflow.studies.sgd_vs_pde import compare

QUICK = os.environ.get("WGFLOW_QUICK") == "1"

ds = compare(
    d=40,
    s0=40,
    n_neurons=200 if QUICK else 800,
    step_size=5e-4,
    beta=200.0,
    t_final=2.0 if QUICK else 6.0,
    save_every=0.5,
    cells=300,
    r_max=3.0,
)

# %%
# Risk, free energy and the law of ``r``
# --------------------------------------
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
plot_risk_curves(ds, ax=axes[0], logx=False)
plot_series(ds, ["free_energy_pde"], ax=axes[1])
plot_particles_over_density(ds, float(ds["time"][-1]), ax=axes[2])
fig.tight_layout()
plt.show()
