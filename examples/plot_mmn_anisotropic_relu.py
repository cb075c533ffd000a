"""
Anisotropic Gaussians with relu: online SGD against the reduced mean-field PDE
===============================================================================

Mei–Montanari–Nguyen (PNAS 2018): labels ``y = ±1``, features ``x | y ~ N(0, Σ±)`` with
``Σ± = diag((1±Δ)² I_{s0}, I_{d−s0})``. A network ``f(x) = (1/N) Σ σ(⟨w_i, x⟩)`` trained by
one-pass SGD is, for large ``N`` and small ``ε``, a sample of the solution of the
distributional dynamics; by symmetry that PDE reduces to the law of
``(r1, r2) = (‖P w‖, ‖P⊥ w‖)``. Here SGD runs in ``d = 320`` dimensions (``s0 = 60``, ``N = 800``,
``ε = 2e-4``: the seed's sizes) and the reduced PDE on a 64² grid, from the same product radial
start ``ρ̄0 × Unif(spheres)``, on the same time axis ``t = kε``.

Set ``WGFLOW_QUICK=1`` for a reduced run (same code path).
"""

import os

import matplotlib.pyplot as plt

from wgflow.plotting import plot_risk_curves, sgd_vs_pde_figure
from wgflow.studies import presets

QUICK = os.environ.get("WGFLOW_QUICK") == "1"

# %%
# SGD and the PDE side by side
# ----------------------------
# The risk curves agree to ~1e-2. The neurons' ``r2`` stays above the PDE's: SGD's own sampling
# noise is a diffusion of size ``O(ε)`` in each of the ``d − s0`` uninformative directions,
# which the ``N → ∞, ε → 0`` limit does not have (the gap shrinks in proportion to ``ε d``).
ds = presets.run("flagship", quick=QUICK)
print(
    f"sup_t |R_SGD − R_PDE| = {ds.attrs['sup_risk_gap']:.4f}, sup_t W2 = {ds.attrs['sup_w2']:.4f}"
)
sgd_vs_pde_figure(ds)

# %%
# Trained output weights and biases: a 4-D reduced state
# -------------------------------------------------------
# With ``σ*(x; θ) = a σ(⟨w, x⟩ + b)`` the reduced state is ``(a, b, r1, r2)``; the reduced
# PDE is then solved by particles (MMN's Fig. 1 setting).
ds4 = presets.run("mmn-relu", quick=QUICK)
fig, ax = plt.subplots(figsize=(5, 3.6))
plot_risk_curves(ds4, ax=ax)
ax.set_title("relu with trained (a, b, w)")
fig.tight_layout()
plt.show()
