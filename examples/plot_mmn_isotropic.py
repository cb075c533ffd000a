"""
Isotropic Gaussians with the ramp activation: ρ̄(r) until the PDE is stationary
===============================================================================

The seed talk's "evolution of ρ̄(r1)" experiment: ``d = s0 = 40``, ``N = 800``, ``Δ = 0.8``,
``ε = 1e-6``, ``ρ0 = N(0, 0.8² I/d)`` (Mei–Montanari–Nguyen, PNAS 2018; the ramp activation is
MMN's, which the seed does not name). With isotropic data the reduced PDE is one-dimensional in
``r = ‖w‖``; it is solved by finite volumes on ``[0, 8]`` — a
:class:`~wgflow.trackers.BoundaryGuard` stops the run if mass ever reaches ``r = 8`` — until its
risk is stationary (it falls by less than 1e-4 per unit time from ``t ≈ 175`` on, R ≈ 0.023).
One unit of time is ``10⁶`` SGD steps at the seed's ``ε``, so SGD covers only the start here;
the preset (``wgflow run mmn-isotropic``) runs it to ``t = 100`` (``10⁸`` steps, about 50
minutes), where its risk is 0.043 against the PDE's 0.035.

Set ``WGFLOW_QUICK=1`` for a reduced run (same code path).
"""

import os

import matplotlib.pyplot as plt

from wgflow.studies import presets
from wgflow.studies.figures import long_pde_figure

QUICK = os.environ.get("WGFLOW_QUICK") == "1"

# %%
# The PDE to stationarity, SGD on the same time axis
# --------------------------------------------------
if QUICK:
    ds = presets.run("mmn-isotropic", quick=True, t_final=20.0, save_every=0.2, cells=400,
                     r_max=8.0)  # fmt: skip
else:
    ds = presets.run("mmn-isotropic", sgd_t_final=5.0)
if ds.attrs["pde_stationary"] == "yes":
    print(
        f"PDE stationary at t = {ds.attrs['pde_stationary_time']:g}, "
        f"R = {ds.attrs['pde_stationary_risk']:.4f}"
    )
print(f"PDE risk at t = {float(ds['pde_time'][-1]):g}: {ds.attrs['pde_final_risk']:.4f}")
print(f"sup |R_SGD − R_PDE| over SGD's horizon: {ds.attrs['sup_risk_gap']:.4f}")
long_pde_figure(ds)
plt.show()
