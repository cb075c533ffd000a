"""
Finite step size: the εd correction
====================================

At the flagship's sizes (relu, only ``w`` trained, ``d = 320``, ``s0 = 60``, ``N = 800``,
``ε = 2e-4``) SGD's neurons settle at ``r2 ≈ 0.15`` while the reduced PDE's mass goes to
``r2 = 0``, and SGD's risk plateaus above the PDE's. Each SGD step adds
``ε (y − f) σ′(⟨w, x⟩) x``, whose squared projection on the ``d − s0`` uninformative
directions is ``ε² (y − f)² σ′² (d − s0)``: per unit time ``t = kε`` a push of order
``εd`` on ``r2²`` that the ``ε → 0`` limit drops. Keeping it in the limit
``N, d → ∞``, ``εd → c`` gives the reduced PDE with a non-gradient drift
(``ReducedAnisotropic.step_size_drift``, derived on the conventions page), which
``compare(correction="step-size")`` solves next to the plain PDE.

Set ``WGFLOW_QUICK=1`` for a reduced run (same code path).
"""

import os

import matplotlib.pyplot as plt

from wgflow.plotting import plot_risk_curves
from wgflow.studies import presets

QUICK = os.environ.get("WGFLOW_QUICK") == "1"

# %%
# SGD against both PDEs
# ---------------------
# The flagship run with ``correction="step-size"``: the risk gap to the corrected PDE is a
# fraction of the gap to the plain one, and the corrected PDE's ``r2`` settles where SGD's does.
ds = presets.run("flagship", quick=QUICK, correction="step-size", t_final=10.0)
print(
    f"sup_t |R_SGD − R_PDE|: plain {ds.attrs['sup_risk_gap']:.4f}, "
    f"corrected {ds.attrs['sup_risk_gap_corrected']:.4f} (c = εd = {ds.attrs['correction_c']:g})"
)
for source in ("sgd", "pde", "pde_corrected"):
    print(f"final mean r2 ({source}): {float(ds[f'mean_r2_{source}'][-1]):.4f}")

fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.8))
plot_risk_curves(ds, names=("risk_sgd", "risk_pde", "risk_pde_corrected"), ax=axes[0],
                 logx=False)  # fmt: skip
axes[0].set_title("risk")
t = ds["time"]
for ax, axis in zip(axes[1:], ("r1", "r2"), strict=True):
    ax.plot(t, ds[f"mean_{axis}_sgd"], "o", ms=3, label="SGD neurons")
    ax.plot(t, ds[f"mean_{axis}_pde"], "-", label="PDE (ε → 0)")
    ax.plot(t, ds[f"mean_{axis}_pde_corrected"], "--", label="PDE + εd correction")
    ax.set_xlabel("time t = kε")
    ax.set_title(f"mean {axis}")
    ax.legend(fontsize="small")
fig.suptitle(f"flagship at c = εd = {ds.attrs['correction_c']:g}")
fig.tight_layout()
plt.show()
