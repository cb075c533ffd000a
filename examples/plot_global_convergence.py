"""
Global convergence with O(d) samples
====================================

Mei–Montanari–Nguyen's theorem for anisotropic Gaussians with truncated relu: from
``ρ̄0 × Unif(spheres)`` with ``R_{d=∞}(ρ̄0) < 1``, one-pass SGD with ``ε = c/d`` and a number of
neurons independent of ``d`` reaches ``inf R + η`` after a time ``T`` that does not depend on
``d`` — so after ``T d / c`` samples. ``inf R`` comes from the long-time limit of the reduced
PDE; the log–log slope of samples against ``d`` should be 1.

Set ``WGFLOW_QUICK=1`` for a reduced run (same code path).
"""

import os

import matplotlib.pyplot as plt

from wgflow.studies import global_convergence as gc

QUICK = os.environ.get("WGFLOW_QUICK") == "1"
options = gc.QUICK if QUICK else {"d_values": (40, 80, 160, 320, 640), "seeds": (0, 1)}
ds = gc.global_convergence_study(scheduler="synchronous", progress=False, **options)

# %%
# Samples to reach ``inf R + η`` against the dimension
# ----------------------------------------------------
fig, ax = plt.subplots(figsize=(5, 3.8))
mean = ds["samples"].mean("seed")
ax.loglog(
    ds["d"],
    mean,
    "o-",
    label=f"slope {ds.attrs['slope']:.2f} "
    f"[{ds.attrs['slope_low']:.2f}, {ds.attrs['slope_high']:.2f}]",
)
ax.loglog(ds["d"], mean[0] * ds["d"] / ds["d"][0], "k--", lw=1, label="∝ d")
ax.set_xlabel("dimension d")
ax.set_ylabel(f"samples to R ≤ inf R + {ds.attrs['eta']:g}")
ax.legend()
fig.tight_layout()
plt.show()
