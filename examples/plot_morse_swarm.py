"""
A Morse swarm in a harmonic trap
================================

Particles attract at long range and repel at short range through the Morse potential
``W(z) = −C_a e^{−|z|/ℓ_a} + C_r e^{−|z|/ℓ_r}``, are held by the trap ``V = κ|x|²/2`` and
diffuse (``D Δρ``): the Wasserstein gradient flow of ``∫V dρ + ½∫∫W dρ dρ + D∫ρ log ρ``. The
interaction force is odd, so it never moves the centre of mass, which therefore decays
exactly as ``x̄(0) e^{−κt}``, whatever the swarm's shape.

:class:`~wgflow.problems.MorseSwarm`'s defaults (mass 4, ``C_r = 2 > C_a = 1``,
``ℓ_r = 0.5 < ℓ_a = 1``, ``κ = 1``, ``D = 0.05``) relax an off-centre Gaussian into a
flat-topped disk. Finite volumes and particles share the energy;
:class:`~wgflow.trackers.MomentTracker` and :class:`~wgflow.trackers.EnergyTermsTracker`
record the centre of mass and the free energy's three parts into each run's Dataset.

Set ``WGFLOW_QUICK=1`` for a reduced run (same code path).
"""

import os

import matplotlib.pyplot as plt
import numpy as np

import wgflow as wg
from wgflow.plotting import plot_density
from wgflow.problems import MorseSwarm
from wgflow.solvers import FiniteVolume, Particles
from wgflow.trackers import BoundaryGuard, EnergyTermsTracker, MomentTracker

QUICK = os.environ.get("WGFLOW_QUICK") == "1"

prob = MorseSwarm()
grid = wg.Grid.box([(-4, 4)] * 2, 48 if QUICK else 96)
t_final = 4.0
ds = FiniteVolume(prob.energy, grid).run(
    prob.initial_density(grid),
    t_final,
    0.2,
    trackers=[MomentTracker(), EnergyTermsTracker(), BoundaryGuard()],
    progress=False,
)
n = 400 if QUICK else 1500
cloud = Particles(prob.energy, dt=0.01, seed=0).run(
    prob.sample(n, seed=1), t_final, 0.2, trackers=[MomentTracker()], progress=False
)

t = ds["time"].values
exact = prob.centre_of_mass(t)
error_fv = np.abs(ds["centre_of_mass"].values - exact).max()
error_particles = np.abs(cloud["centre_of_mass"].values - exact).max()
print(f"max |x̄ − x̄(0)e^(−κt)|: finite volumes {error_fv:.1e}, {n} particles {error_particles:.1e}")

# %%
# The swarm, its centre of mass and its free energy
# -------------------------------------------------
fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
plot_density(ds, 0.0, ax=axes[0], colorbar=False)
axes[0].set_title("t = 0")
plot_density(ds, t_final, ax=axes[1], colorbar=False)
pts = cloud["positions"].isel(time=-1).values
axes[1].scatter(pts[:, 0], pts[:, 1], s=0.5, c="w", alpha=0.4)
axes[1].set_title(f"t = {t_final:g} (white: {n} particles)")

ax = axes[2]
for k, axis in enumerate("xy"):
    ax.plot(t, exact[:, k], "k-", lw=1, label=r"$\bar x(0)\,e^{-\kappa t}$" if k == 0 else None)
    ax.plot(t, ds["centre_of_mass"].values[:, k], "o", ms=3, color=f"C{k}", label=f"FV {axis}")
    ax.plot(t, cloud["centre_of_mass"].values[:, k], "x", ms=4, color=f"C{k}")
ax.plot([], [], "kx", label="particles")
ax.set_xlabel("t")
ax.set_title("centre of mass")
ax.legend(fontsize=8)

ax = axes[3]
for name in ("energy_potential", "energy_interaction", "energy_internal"):
    ax.plot(t, ds[name], label=name.removeprefix("energy_"))
ax.plot(t, ds["free_energy"], "k", lw=2, label="free energy")
ax.set_xlabel("t")
ax.set_title("free energy and its parts (FV)")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
