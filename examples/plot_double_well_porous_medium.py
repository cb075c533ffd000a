"""
Porous medium in a double well: relaxation to ``(C − V)₊``
==========================================================

``∂tρ = ∇·(ρ∇V) + Δρ²`` with ``V(x) = (x² − 1)²/4`` is the Wasserstein gradient flow of
``∫V dρ + ∫ρ²`` (wgflow's ``PorousMediumEnergy(m=2)``: ``H(ρ) = ρ^m/(m−1)``). The energy is
strictly convex, so its unique minimiser of mass ``M`` is explicit,

.. math::
    \\rho_\\infty = \\tfrac12\\,(C - V)_+ ,

with ``C`` fixed by the mass (:attr:`~wgflow.problems.DoubleWellPorousMedium.chemical_potential`,
found by root finding). A small mass leaves the barrier ``V(0) = 1/4`` empty: the support is
two intervals, one per well (for data symmetric about 0, as here; an asymmetric start could
end with another split of the mass between the wells). A larger mass covers the barrier.

Finite volumes (second order, 200 cells) start from a Gaussian on the barrier's top and
relax to ``ρ∞``; the L1 distance falls to the grid's floor (about 1e-4) and the free energy
to ``E[ρ∞]``.

Set ``WGFLOW_QUICK=1`` for a reduced run (same code path).
"""

import os

import matplotlib.pyplot as plt
import numpy as np

import wgflow as wg
from wgflow.problems import DoubleWellPorousMedium
from wgflow.solvers import FiniteVolume

QUICK = os.environ.get("WGFLOW_QUICK") == "1"

grid = wg.Grid.box([(-2, 2)], 100 if QUICK else 200)
x = grid.coordinates[0]
t_final = 6.0 if QUICK else 12.0

fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
for k, mass in enumerate((0.1, 1.0)):
    prob = DoubleWellPorousMedium(mass=mass)
    ds = FiniteVolume(prob.energy, grid).run(
        prob.initial_density(grid), t_final, t_final / 24, progress=False
    )
    steady = prob.steady_state(grid)
    errors = [grid.integrate(np.abs(rho - steady)) for rho in ds["density"].values]
    pieces = " ∪ ".join(f"[{a:.3f}, {b:.3f}]" for a, b in prob.support())
    print(
        f"M = {mass}: C = {prob.chemical_potential:.5f} (V(0) = {prob.barrier}), support "
        f"{pieces}; L1 error at t = {t_final:g}: {errors[-1]:.1e}; "
        f"E − E[ρ∞] = {float(ds['free_energy'][-1]) - prob.minimum_energy:.1e}"
    )
    ax = axes[k]
    for t, style in ((0.0, ":"), (1.0, "--")):
        ax.plot(x, ds["density"].sel(time=t, method="nearest"), style, color="C0", lw=1,
                label=f"finite volumes, t = {t:g}")  # fmt: skip
    ax.plot(x, ds["density"][-1], color="C0", lw=2, label=f"finite volumes, t = {t_final:g}")
    ax.plot(x, steady, "k--", lw=1, label="(C − V)₊/2")
    scale = 0.5 * steady.max() / prob.barrier  # V drawn to the plot's scale
    ax.plot(x, scale * prob.potential(x[:, None]), color="0.6", lw=1, label=f"{scale:.2g} V")
    ax.set_ylim(0, 1.3 * steady.max())
    ax.set_xlabel("x")
    ax.set_title(f"M = {mass}: C = {prob.chemical_potential:.3f} vs V(0) = {prob.barrier:g}")
    ax.legend(fontsize=7, loc="upper center")
    axes[2].semilogy(ds["time"], errors, "o-", ms=3, label=f"M = {mass}")
axes[2].set_xlabel("t")
axes[2].set_ylabel("L1 distance to ρ∞")
axes[2].legend(fontsize=8)
fig.tight_layout()
plt.show()
