"""Named experiments: the flagship SGD-vs-PDE run, the seed talk's three experiments and a
teacher–student run.

Every preset is a set of keyword arguments of :func:`wgflow.studies.sgd_vs_pde.compare` plus a
``quick`` override (reduced size, same code path) used by the tests and ``WGFLOW_QUICK=1``.

**Step size.** The seed talk (after Mei, Montanari & Nguyen) writes clean SGD as
``θ ← θ + ε (y − f̂) ∇σ*`` with ``ρ̂_{t/ε} → ρ_t`` — wgflow's convention — and captions its
figures in that ``ε``: the presets take the captions' values as ``step_size``. The paper writes
``θ ← θ + 2 s_k (y − ŷ) ∇σ*``; reading a caption's value as ``s_k`` instead gives
``ε = 2 × value``. That alternative is one global switch, ``step_reading="paper"``
(``wgflow run PRESET --set step_reading=paper``), never mixed per preset.

**Reduced dynamics.** Every preset sets and names the Mehler order of its reduced interaction
(``mehler_order``): the anisotropic presets run order 2 — the ``d → ∞`` limit plus the
second-order overlap terms of neurons in ``d`` dimensions, ``∝ 1/s0`` on ``r1`` and
``∝ 1/(d − s0)`` on ``r2`` — and ``teacher-relu`` order 0 (``--set mehler_order=0`` gives the
``d = ∞`` curve).

**Provenance.** ``source`` cites the seed's figures by content; every value that comes neither
from the seed nor from a checked source is listed in ``unconfirmed`` (``wgflow presets`` prints
them): those are wgflow's choices.
"""

from __future__ import annotations

import os

import xarray as xr

from wgflow.validation import check_choice

MMN = "Mei, Montanari & Nguyen, PNAS 115 (2018) E7665, arXiv 1804.06561"
SEED = "the seed talk's"
#: the finite-step-size models every network preset solves beside the plain PDE (seconds)
CORRECTIONS = ("step-size", "collective")
#: settings every preset accepts besides its own
COMMON_SETTINGS = {"step_reading": "seed"}
STEP_READINGS = ("seed", "paper")

#: what Mehler order 2 adds to the reduced anisotropic dynamics (measured at fixed laws)
_MEHLER_TWO = (
    "the reduced interaction keeps the second-order overlap terms (overlap variances "
    "E γ1² = 1/s0 between the neurons' informative directions, E γ2² = 1/(d − s0) between "
    "their uninformative ones), so their share of the risk and of the velocity field scales "
    "as 1/s0 on r1 and 1/(d − s0) on r2 (measured log-slopes −1.000 over s0 = 15 … 120 at "
    "d = 320 and over d = 160 … 640 at s0 = 60): they vanish only when s0 and d − s0 both grow"
)

_MEHLER_ISOTROPIC = (
    "mehler_order = 2, not the d = ∞ limit: the reduced interaction keeps the second-order "
    "overlap term (E γ² = 1/d between the neurons' directions), whose share of the risk and of "
    "the velocity field scales as 1/d"
)

PRESETS: dict[str, dict] = {
    "flagship": {
        "description": "wgflow's demonstration: relu σ(⟨w,x⟩), online SGD (d=320, N=800) vs "
        "the 2-D reduced PDE on (r1, r2) at Mehler order 2 (d → ∞ limit + overlap terms "
        "∝ 1/s0, 1/(d − s0)) by finite volumes",
        "source": f"wgflow's own demonstration at the sizes of {SEED} relu-statistics figure "
        "(d = 320, s0 = 60, N = 800, ε = 2e-4); only w is trained (the seed trains a, b, w: "
        "preset mmn-relu) so that the reduced PDE is 2-D, solved on a grid with the exact risk",
        "settings": {
            "d": 320,
            "s0": 60,
            "delta": 0.5,
            "activation": "relu",
            "n_neurons": 800,
            "step_size": 2e-4,
            "correction": CORRECTIONS,
            "t_final": 10.0,
            "save_every": 0.5,
            "cells": 64,
            "r_max": 1.5,
            "mehler_order": 2,
        },
        "quick": {
            "d": 80,
            "s0": 15,
            "n_neurons": 200,
            "step_size": 5e-4,
            "t_final": 1.0,
            "save_every": 0.25,
            "cells": 32,
            "pde_samples": 20_000,
        },
        "unconfirmed": [
            "delta = 0.5",
            "trained = w (the seed trains a, b, w)",
            "start: uniform radial law on (r1, r2)",
            "t_final",
            "cells, r_max",
            f"mehler_order = 2, not the d = ∞ limit: {_MEHLER_TWO}; on SGD's neurons (relu, "
            "Δ = 0.5) they add 3.1e-4 to the risk at t = 0 and 1.5e-3 at t = 10, where order 0 "
            "misses the exact finite-d kernel by 1.5e-3 and order 2 by 6e-6",
        ],
    },
    "mmn-relu": {
        "description": "relu σ* = a(⟨x,w⟩ + b)_+ with trained (a, b, w): statistics of the "
        "network over time, SGD vs the 4-D reduced dynamics on (a, b, r1, r2) at Mehler order 2 "
        "(d → ∞ limit + overlap terms ∝ 1/s0, 1/(d − s0)) by particles",
        "source": f"{SEED} figure 'evolution of some statistics' (relu a(⟨x,w⟩+b)_+, "
        f"d = 320, s0 = 60, N = 800, ε = 2e-4), after {MMN}",
        "settings": {
            "d": 320,
            "s0": 60,
            "delta": 0.5,
            "activation": "relu",
            "trained": "abw",
            "n_neurons": 800,
            "step_size": 2e-4,
            "correction": CORRECTIONS,
            "initial_scale": 0.8,
            "t_final": 20.0,
            "save_every": 1.0,
            "r_max": 3.0,
            "mehler_order": 2,
        },
        "quick": {
            "d": 80,
            "s0": 15,
            "n_neurons": 200,
            "t_final": 1.0,
            "save_every": 0.5,
            "pde_particles": 500,
            "pde_samples": 500,
        },
        "unconfirmed": [
            "delta = 0.5",
            "start w ~ N(0, κ² I/d) with κ = 0.8, a = 1, b = 0",
            "t_final",
            "pde_particles, pde_dt",
            f"mehler_order = 2, not the d = ∞ limit: {_MEHLER_TWO}; on this preset's reduced "
            "laws (relu, Δ = 0.5) the order-2 terms add 1.9e-4 to the risk at t = 0 and 7.4e-3 "
            "at t = 20 (the 1/s0 term: r1 ≈ 1.4, r2 ≈ 0.16), the size of the sup risk gap; there "
            "order 0 misses the exact finite-d kernel by 7.3e-3, order 2 by 2e-5",
        ],
    },
    "mmn-isotropic": {
        "description": "isotropic Gaussians (Δ = 0.8), ramp activation: ρ̄(r) over time, SGD vs "
        "the 1-D reduced PDE at Mehler order 2 (d → ∞ limit + overlap term ∝ 1/d), which runs "
        "until its risk is stationary",
        "source": f"{SEED} figure 'evolution of ρ̄(r1)' (d = s0 = 40, N = 800, Δ = 0.8, "
        f"ε = 1e-6, ρ0 = N(0, 0.8² I/d)), after {MMN}",
        "settings": {
            "d": 40,
            "s0": 40,
            "delta": 0.8,
            "activation": "ramp",
            "n_neurons": 800,
            "step_size": 1e-6,
            "correction": CORRECTIONS,
            "initial_scale": 0.8,
            "t_final": 250.0,
            "sgd_t_final": 100.0,
            "save_every": 5.0,
            "cells": 400,
            "r_max": 8.0,
            "mehler_order": 2,
        },
        "quick": {
            "n_neurons": 200,
            "step_size": 2e-4,
            "t_final": 0.4,
            "sgd_t_final": 0.4,
            "save_every": 0.2,
            "cells": 200,
            "pde_samples": 20_000,
        },
        "unconfirmed": [
            "activation: MMN's ramp (t1, t2, s1, s2) = (0.5, 1.5, −2.5, 7.5) (the seed names "
            "none)",
            "t_final = 250 (PDE; its risk is stationary from t ≈ 175) and sgd_t_final = 100 "
            "(10^8 SGD steps, about 50 min on one core)",
            "cells, r_max",
            _MEHLER_ISOTROPIC,
        ],
    },
    "mmn-nonmonotone": {
        "description": "isotropic Gaussians, non-monotone activation: the risk from κ = 0.1 and "
        "κ = 0.4, SGD vs the 1-D reduced PDE at Mehler order 2 (d → ∞ limit + overlap term "
        "∝ 1/d)",
        "source": f"{SEED} figure 'evolution of the risk' with a non-monotone activation "
        f"(d = s0 = 320, Δ = 0.5, N = 800, ρ0 = N(0, κ² I/d), κ ∈ {{0.1, 0.4}}), after {MMN}",
        "settings": {
            "d": 320,
            "s0": 320,
            "delta": 0.5,
            "activation": "nonmonotone",
            "n_neurons": 800,
            "step_size": 2e-6,
            "correction": CORRECTIONS,
            "initial_scale": (0.1, 0.4),
            "t_final": 3.0,
            "save_every": 0.1,
            "cells": 600,
            "r_max": 3.0,
            "mehler_order": 2,
        },
        "quick": {
            "d": 80,
            "s0": 80,
            "n_neurons": 200,
            "step_size": 2e-5,
            "t_final": 0.4,
            "save_every": 0.2,
            "cells": 200,
            "pde_samples": 20_000,
        },
        "unconfirmed": [
            "activation: wgflow's non-monotone stand-in (the seed's is not given)",
            "step_size = 2e-6 (the seed gives none for this figure)",
            "t_final",
            "cells, r_max",
            _MEHLER_ISOTROPIC,
        ],
    },
    "teacher-relu": {
        "description": "teacher–student regression on x ~ N(0, I_d): relu student a σ(⟨w,x⟩) "
        "(d=320, N=800) learning a width-4 teacher on a 2-D subspace, SGD vs the d-free 4-D "
        "reduced dynamics on (a, u ∈ R², r) at Mehler order 0 (the d → ∞ limit in the d − k "
        "directions orthogonal to the teacher; particles)",
        "source": "wgflow's teacher–student demonstration (no figure of the seed): the teacher "
        "(1/4) Σ relu(⟨w*_j, x⟩), w*_j = ±e1, ±e2, i.e. f*(x) = (|x1| + |x2|)/4, at the "
        "seed's SGD sizes (d = 320, N = 800, ε = 2e-4)",
        "settings": {
            "problem": "teacher-student",
            "d": 320,
            "k": 2,
            "teacher_width": 4,
            "label_noise": 0.0,
            "activation": "relu",
            "trained": "aw",
            "n_neurons": 800,
            "step_size": 2e-4,
            "t_final": 10.0,
            "save_every": 0.5,
            "pde_particles": 1000,
            "pde_samples": 1000,
            "pde_dt": 0.02,
            "mehler_order": 0,
            "correction": CORRECTIONS,
        },
        "quick": {
            "d": 80,
            "n_neurons": 200,
            "step_size": 5e-4,
            "t_final": 1.0,
            "save_every": 0.25,
            "pde_particles": 300,
            "pde_samples": 300,
        },
        "unconfirmed": [
            "the whole setting is wgflow's: k = 2, M = 4 teacher ±e1, ±e2, a* = 1, no noise",
            "start a = 1, u ~ Unif[−0.6, 0.6]², r ~ Unif[0.3, 0.7] (w = u + r e, e uniform on "
            "the sphere of S⊥)",
            "t_final, pde_particles, pde_dt",
        ],
    },
}
DEFAULT_PRESET = "flagship"


def describe(name: str) -> str:
    """Name, description, source and the values that are wgflow's choices.

    Parameters
    ----------
    name : str
        A preset name (``wgflow presets`` lists them).

    Returns
    -------
    str
        One paragraph.
    """
    preset = PRESETS[check_choice("preset", name, tuple(PRESETS))]
    text = f"{name}: {preset['description']} [{preset['source']}]"
    if preset["unconfirmed"]:
        text += "\n    unconfirmed (wgflow's choices): " + "; ".join(preset["unconfirmed"])
    return text


def known_settings(name: str) -> dict:
    """Every setting a preset accepts, with its default (``compare``'s are accepted too).

    Parameters
    ----------
    name : str
        A preset name (``wgflow presets`` lists them).

    Returns
    -------
    dict
        Setting → default.
    """
    preset = PRESETS[check_choice("preset", name, tuple(PRESETS))]
    return {**COMMON_SETTINGS, **preset["settings"]}


def settings(name: str, quick: bool | None = None, **overrides) -> dict:
    """The keyword arguments of :func:`~wgflow.studies.sgd_vs_pde.compare` for a preset.

    ``step_reading="paper"`` doubles the caption's step size (``ε = 2 s_k``).

    Parameters
    ----------
    name : str
        A preset name (``wgflow presets`` lists them).
    quick : bool, optional
        Reduced size (default: ``WGFLOW_QUICK=1``).
    **overrides
        Settings that replace the preset's.

    Returns
    -------
    dict
        The keyword arguments.
    """
    preset = PRESETS[check_choice("preset", name, tuple(PRESETS))]
    if quick is None:
        quick = os.environ.get("WGFLOW_QUICK") == "1"
    out = {**preset["settings"], **(preset["quick"] if quick else {}), **overrides}
    reading = check_choice("step_reading", out.pop("step_reading", "seed"), STEP_READINGS)
    if reading == "paper" and "step_size" not in overrides:
        out["step_size"] = 2 * out["step_size"]
    if "sgd_t_final" in out and "sgd_t_final" not in overrides:  # a shorter horizon given
        out["sgd_t_final"] = min(out["sgd_t_final"], out["t_final"])
    return out


def run(
    name: str = DEFAULT_PRESET, quick: bool | None = None, progress: bool = False, **overrides
) -> xr.Dataset:
    """Run a preset end to end: SGD and the reduced PDE side by side.

    Presets with several ``initial_scale`` values get a ``kappa`` dimension.

    Parameters
    ----------
    name : str
        A preset name (``wgflow presets`` lists them).
    quick : bool, optional
        Reduced size (default: ``WGFLOW_QUICK=1``).
    progress : bool
        Progress bars.
    **overrides
        Settings that replace the preset's.

    Returns
    -------
    xarray.Dataset
        The SGD-vs-PDE archive with the preset's attributes.
    """
    from .experiments import experiment

    preset = experiment(check_choice("preset", name, tuple(PRESETS)))
    return preset.run(preset.resolve(quick, **overrides), progress=progress)
