"""
The proof's coupling: PDE, ND, PD, GD and SGD side by side
===========================================================

Mei–Misiakiewicz–Montanari (COLT 2019) bound ``|R(ρ_{kε}) − R_N(θ^k)|`` by running, from the
same initial neurons, the PDE, the nonlinear dynamics ND (independent neurons in the PDE's
mean field), the ``N``-particle gradient flow PD, its Euler discretization GD and SGD. The gap
splits into four terms, bounded by ``N^{−½}``, ``N^{−½}``, ``ε`` and ``√(ε(D + log N))``.
wgflow runs all five (``wgflow.studies.coupling``) and shows each term.

Set ``WGFLOW_QUICK=1`` for a reduced run (same code path).
"""

import os

import matplotlib.pyplot as plt
import numpy as np

from wgflow.studies import coupling

QUICK = os.environ.get("WGFLOW_QUICK") == "1"

ds = coupling.coupled_dynamics(
    d=40,
    n_neurons=100 if QUICK else 400,
    step_size=2e-3,
    t_final=1.0 if QUICK else 4.0,
    save_every=0.25,
)

# %%
# The four terms, stacked, against the total gap
# ----------------------------------------------
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
t = ds["time"].values
axes[0].stackplot(t, ds["gap"].values, labels=list(ds["term"].values), alpha=0.8)
axes[0].plot(t, ds["total"], "k--", label="|R_PDE − R_SGD|")
axes[0].set_xlabel("time t = kε")
axes[0].set_ylabel("risk gap")
axes[0].legend(fontsize="small")
for name in ds["dynamics"].values:
    axes[1].plot(t, ds["risk"].sel(dynamics=name), label=name)
axes[1].set_xlabel("time t = kε")
axes[1].set_ylabel("risk")
axes[1].legend(fontsize="small")
fig.tight_layout()

# %%
# Rates of the terms (small sweeps over N and ε)
# ----------------------------------------------
options = dict(coupling.QUICK)
if QUICK:
    options.update(n_values=(25, 50, 100), eps_values=(8e-3, 4e-3, 2e-3), seeds=(0,), t_final=0.5)
results = coupling.coupling_study(scheduler="synchronous", progress=False, **options)
fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
for term, (param, fit, predicted) in coupling.fit_term_rates(results).items():
    data = results[param]["sup_term"].sel(term=term).mean("seed").squeeze(drop=True)
    x = data[param].values
    axis = ax[0] if param == "N" else ax[1]
    axis.loglog(x, data, "o-", label=f"{term}: {fit.slope:+.2f} (proof {predicted:+.1f})")
for axis, name in zip(ax, ("N", "ε"), strict=True):
    axis.set_xlabel(name)
    axis.set_ylabel("sup_t term")
    axis.legend(fontsize="small")
print({term: round(float(np.max(ds["gap"].sel(term=term))), 6) for term in coupling.TERMS})
fig.tight_layout()
plt.show()
