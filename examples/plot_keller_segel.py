"""
Keller–Segel: the virial identity, spreading and blow-up
========================================================

The 2-D parabolic–elliptic Keller–Segel model ``∂tρ = Δρ − χ∇·(ρ∇c)``, ``−Δc = ρ``, is the
Wasserstein gradient flow of the entropy plus the attractive Newtonian kernel
``(χ/2π) log|z|``. Whatever the initial datum, its second moment is linear in time while the
solution is smooth:

.. math::
    \\frac{d}{dt}\\int |x|^2\\rho = 4M - \\frac{\\chi M^2}{2\\pi},

so below the critical mass ``8π/χ`` the density spreads, and above it the second moment
would turn negative: the solution blows up before ``T* ≤ ∫|x − x̄|²ρ₀ / (χM²/(2π) − 4M)``.

Finite volumes and particles follow the identity for ``M = 4π`` (``χ = 1``). For ``M = 10π``
the grid run carries :meth:`KellerSegel.trackers() <wgflow.problems.KellerSegel.trackers>`:
its :class:`~wgflow.trackers.ConcentrationGuard` stops the run with
:class:`~wgflow.ConcentrationDetected` once the collapsing peak is narrower than three cells,
instead of letting the scheme go on with a discrete artefact. The second moment and the peak
are recorded into the run's Dataset by :class:`~wgflow.trackers.MomentTracker` and the guard.

Set ``WGFLOW_QUICK=1`` for a reduced run (same code path).
"""

import os

import matplotlib.pyplot as plt
import numpy as np

import wgflow as wg
from wgflow.plotting import plot_density
from wgflow.problems import KellerSegel
from wgflow.solvers import FiniteVolume, Particles
from wgflow.trackers import MomentTracker

QUICK = os.environ.get("WGFLOW_QUICK") == "1"

# %%
# Subcritical mass: the second moment grows at 4M − χM²/(2π)
# ----------------------------------------------------------
sub = KellerSegel(mass=4 * np.pi, chi=1.0, variance=0.5)
grid = wg.Grid.box([(-7, 7)] * 2, 64 if QUICK else 112)
t_final = 1.0
fv = FiniteVolume(sub.energy, grid).run(
    sub.initial_density(grid),
    t_final,
    0.05,
    trackers=[MomentTracker(), *sub.trackers()],
    progress=False,
)
n, replicas = (300, 2) if QUICK else (1000, 6)
cloud = Particles(sub.energy, dt=0.01, seed=0, replicas=replicas, keep_particles=200).run(
    sub.sample(n, seed=1), t_final, 0.05, trackers=[MomentTracker()], progress=False
)

t = fv["time"].values
m2_particles = cloud["second_moment"].values.reshape(len(t), -1)
fv_slope = np.polyfit(t, fv["second_moment"].values, 1)[0]
particle_slope = np.mean((m2_particles[-1] - m2_particles[0]) / t_final)
print(
    f"virial slope: exact {sub.virial_slope:.4f}, finite volumes {fv_slope:.4f} "
    f"({fv_slope / sub.virial_slope - 1:+.2%}), particles {particle_slope:.4f} "
    f"({particle_slope / sub.virial_slope - 1:+.2%}, N = {n} × {replicas} replicas)"
)

# %%
# Supercritical mass: the guard stops the run at the concentration
# -----------------------------------------------------------------
sup = KellerSegel(mass=10 * np.pi, chi=1.0, variance=0.25)
small = wg.Grid.box([(-3, 3)] * 2, 48 if QUICK else 64)
try:
    blow = FiniteVolume(sup.energy, small).run(
        sup.initial_density(small),
        1.0,
        0.01,
        trackers=[MomentTracker(), *sup.trackers()],
        progress=False,
    )
    stopped_at = None
except wg.ConcentrationDetected as stop:
    print(f"stopped at t = {stop.time:.3g} (T* ≤ {sup.blowup_time_bound():.3g}): {stop.cause}")
    blow, stopped_at = stop.dataset, stop.time

fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
ax = axes[0]
ax.plot(t, sub.second_moment(t, float(fv["second_moment"][0])), "k-", lw=1, label="exact")
ax.plot(t, fv["second_moment"], "o", ms=4, label=f"finite volumes ({grid.shape[0]}²)")
ax.plot(t, m2_particles.mean(axis=1), "s", ms=3, label=f"particles (N = {n} × {replicas})")
ax.set_xlabel("t")
ax.set_ylabel("∫|x|²ρ")
ax.set_title(f"M = 4π (subcritical): slope {sub.virial_slope:.2f}")
ax.legend(fontsize=8)

ax = axes[1]
tb = blow["time"].values
ax.plot(tb, sup.second_moment(tb, float(blow["second_moment"][0])), "k-", lw=1, label="exact")
ax.plot(tb, blow["second_moment"], "o", ms=3, label=f"finite volumes ({small.shape[0]}²)")
ax.axvline(sup.blowup_time_bound(), color="C3", ls="--", lw=1, label="bound on T*")
if stopped_at is not None:
    ax.axvline(stopped_at, color="C2", ls=":", lw=1.5, label="ConcentrationGuard stop")
ax.set_xlabel("t")
ax.set_ylabel("∫|x|²ρ")
ax.set_title("M = 10π (supercritical)")
ax.legend(fontsize=8)

plot_density(blow, float(tb[-1]), ax=axes[2])
axes[2].set_xlim(-1, 1)
axes[2].set_ylim(-1, 1)
axes[2].set_title(f"density at t = {tb[-1]:.2f}: peak {float(blow['peak_density'][-1]):.0f}")
fig.tight_layout()
plt.show()
