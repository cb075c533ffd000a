"""
Same energy, three solvers
==========================

One free energy written by the user — a confining potential, a Morse-type attractive–repulsive
kernel given as a plain Python function of the distance, and linear diffusion,

.. math::
    E[\\rho] = \\int \\tfrac14 |x|^2 \\, d\\rho
    + \\tfrac12 \\iint W(x - y)\\, d\\rho\\, d\\rho + \\beta^{-1} \\int \\rho \\log \\rho,
    \\qquad W(z) = -e^{-|z|} + C_r e^{-|z|/\\ell_r},

— drives finite volumes, entropic JKO steps and interacting particles (the McKean–Vlasov SDE).
The user's kernel is compiled by numba for the particle loop; on grids it is cell-averaged and
applied by FFT. The three answers are compared in W2 (exact optimal transport on the grids'
cells and the particles, :func:`wgflow.metrics.wasserstein`), against a finer finite-volume
reference, with each solver's cost.

Set ``WGFLOW_QUICK=1`` for a reduced run (same code path).
"""

import math
import os
import time

import matplotlib.pyplot as plt
import numpy as np

import wgflow as wg
from wgflow.plotting import plot_density
from wgflow.solvers import JKO, FiniteVolume, Particles

QUICK = os.environ.get("WGFLOW_QUICK") == "1"
REPULSION, REPULSION_LENGTH, BETA = 0.6, 0.5, 10.0


def morse(r):
    """W as a function of the distance: attractive at long range, repulsive at short range."""
    return -math.exp(-r) + REPULSION * math.exp(-r / REPULSION_LENGTH)


def morse_derivative(r):
    return math.exp(-r) - REPULSION / REPULSION_LENGTH * math.exp(-r / REPULSION_LENGTH)


energy = wg.FreeEnergy(
    potential=wg.Potential(lambda x: 0.25 * (x**2).sum(-1), gradient=lambda x: 0.5 * x),
    interaction=wg.PairwiseInteraction.radial_profile(morse, morse_derivative, name="morse"),
    internal=wg.Entropy(beta=BETA),
    dim=2,
)

t_final = 0.5 if QUICK else 2.0
cells = 32 if QUICK else 64
n_particles = 500 if QUICK else 2000
tau = 0.25 if QUICK else 0.1  # the blur ε/(4τ), ε ≥ h², must stay below 1/β to be removed
grid = wg.Grid.box([(-4, 4)] * 2, cells)
fine = wg.Grid.box([(-4, 4)] * 2, 2 * cells)


def two_bumps(grid):
    x, y = np.meshgrid(*grid.coordinates, indexing="ij")
    rho = np.exp(-((x - 1.2) ** 2 + y**2) / 0.3) + 0.6 * np.exp(
        -((x + 1) ** 2 + (y - 1) ** 2) / 0.3
    )
    return rho / grid.integrate(rho)


x0 = wg.GridMeasure(fine, two_bumps(fine)).sample(n_particles, seed=0).positions
runs = {
    "finite volumes": (FiniteVolume(energy, grid), two_bumps(grid)),
    f"entropic JKO (τ = {tau:g})": (JKO(energy, grid, tau=tau), two_bumps(grid)),
    f"{n_particles} particles (dt = 0.01)": (Particles(energy, dt=0.01, seed=0), x0),
}
results, costs = {}, {}
for label, (solver, initial) in runs.items():
    start = time.perf_counter()
    results[label] = solver.run(initial, t_final, t_final / 2, progress=False)
    costs[label] = time.perf_counter() - start
start = time.perf_counter()
reference = FiniteVolume(energy, fine).run(two_bumps(fine), t_final, t_final, progress=False)
reference_cost = time.perf_counter() - start


def final_measure(ds):
    if "density" in ds:
        return wg.GridMeasure(wg.Grid.from_dataset(ds), ds["density"][-1].values)
    return wg.ParticleMeasure(ds["positions"][-1].values)


# %%
# W2 between the three, and the floors they cannot go below
# ---------------------------------------------------------
# A grid measure puts each cell's mass at its centre: two grids of spacing ``h`` and ``h/2``
# differ by about ``h √(D/12)`` in W2 even for the same density (the lattice floor), and
# ``N`` particles sampled *exactly* from a density are already at a W2 distance of the order
# of the sampling floor, measured here with a sample of the reference itself.
labels = list(results)
exact = final_measure(reference)
lattice = grid.spacing[0] * math.sqrt(grid.dim / 12)
sample = wg.ParticleMeasure(exact.sample(n_particles, seed=1).positions)
sampling = wg.metrics.wasserstein(sample, exact).value
print(f"t = {t_final}, W2 to finite volumes on the {2 * cells}² grid ({reference_cost:.2f} s):")
for label in labels:
    distance = wg.metrics.wasserstein(final_measure(results[label]), exact)
    print(
        f"  {label:30s} {distance.value:.4f}   cost {costs[label]:6.2f} s   [{distance.quantity}]"
    )
print(
    f"  lattice floor h√(D/12) = {lattice:.4f}; sampling floor ({n_particles} exact samples) "
    f"= {sampling:.4f}"
)
print("between the solvers:")
for i, a in enumerate(labels):
    for b in labels[i + 1 :]:
        d = wg.metrics.wasserstein(final_measure(results[a]), final_measure(results[b]))
        print(f"  W2({a}, {b}) = {d.value:.4f}")

# %%
# The three answers at the final time
# -----------------------------------
fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
plot_density(results[labels[0]], t_final, ax=axes[0])
axes[0].set_title(f"{labels[0]}, {costs[labels[0]]:.1f} s")
plot_density(results[labels[1]], t_final, ax=axes[1])
axes[1].set_title(f"{labels[1]}, {costs[labels[1]]:.1f} s")
pts = results[labels[2]]["positions"][-1].values
axes[2].scatter(pts[:, 0], pts[:, 1], s=2)
axes[2].set_xlim(-4, 4)
axes[2].set_ylim(-4, 4)
axes[2].set_aspect("equal")
axes[2].set_title(f"{labels[2]}, {costs[labels[2]]:.1f} s")
fig.tight_layout()
plt.show()
