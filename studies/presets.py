"""Named experiments: the flagship SGD-vs-PDE run and the Mei–Montanari–Nguyen (MMN) seeds.

Every preset is a set of keyword arguments of :func:`wgflow.studies.sgd_vs_pde.compare` plus a
``quick`` override (reduced size, same code path) used by the tests and ``WGFLOW_QUICK=1``.

Time convention: MMN (PNAS 2018, arXiv 1804.06561) step ``θ ← θ + 2 s_k (y − ŷ)∇σ*`` is ours
(docs/conventions.rst) with ``ε = 2 s_k``; presets store ``step_size`` in our convention and the
paper's value as ``mmn_step_size``. Values that could not be confirmed against the paper from
here are listed in ``unconfirmed`` and are wgflow's choices.
"""

from __future__ import annotations

import os

import xarray as xr

from wgflow.validation import check_choice

MMN = "Mei, Montanari & Nguyen, PNAS 115 (2018) E7665, arXiv 1804.06561"

PRESETS: dict[str, dict] = {
    "flagship": {
        "description": "anisotropic Gaussians, relu: online SGD (d=320, N=800) vs reduced PDE",
        "source": f"wgflow default; the setting of {MMN}, Fig. 1",
        "settings": {
            "d": 320,
            "s0": 60,
            "delta": 0.5,
            "activation": "relu",
            "n_neurons": 800,
            "step_size": 2e-4,
            "t_final": 10.0,
            "save_every": 0.5,
            "cells": 64,
            "r_max": 1.5,
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
        "unconfirmed": [],
    },
    "mmn-relu": {
        "description": "MMN anisotropic Gaussians, relu with trained (a, b, w); 4-D reduced PDE",
        "source": f"{MMN}, Fig. 1 (d = 320, s0 = 60, N = 800, s_k = 2e-4)",
        "settings": {
            "d": 320,
            "s0": 60,
            "delta": 0.5,
            "activation": "relu",
            "parameters": "abw",
            "n_neurons": 800,
            "step_size": 4e-4,
            "mmn_step_size": 2e-4,
            "initial_scale": 0.8,
            "t_final": 20.0,
            "save_every": 1.0,
            "r_max": 3.0,
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
        "unconfirmed": ["delta", "initial_scale", "t_final"],
    },
    "mmn-isotropic": {
        "description": "MMN isotropic Gaussians (Δ = 0.8), ramp activation; 1-D reduced PDE",
        "source": f"{MMN}, isotropic example: d = s0 = 40, Δ = 0.8, N = 800, s_k = 1e-6, "
        "ramp (t1, t2, s1, s2) = (0.5, 1.5, −2.5, 7.5), ρ0 = N(0, 0.8² I/d)",
        "settings": {
            "d": 40,
            "s0": 40,
            "delta": 0.8,
            "activation": "ramp",
            "n_neurons": 800,
            "step_size": 2e-6,
            "mmn_step_size": 1e-6,
            "initial_scale": 0.8,
            "t_final": 2.0,
            "save_every": 0.1,
            "cells": 600,
            "r_max": 3.0,
        },
        "quick": {
            "n_neurons": 200,
            "step_size": 2e-4,
            "t_final": 0.4,
            "save_every": 0.2,
            "cells": 200,
            "pde_samples": 20_000,
        },
        "unconfirmed": ["t_final"],
    },
    "mmn-nonmonotone": {
        "description": "MMN isotropic Gaussians, non-monotone activation, κ = 0.1 vs 0.4",
        "source": f"{MMN}, non-monotone activation figure: d = s0 = 320, Δ = 0.5, N = 800, "
        "ρ0 = N(0, κ² I/d), κ ∈ {0.1, 0.4}",
        "settings": {
            "d": 320,
            "s0": 320,
            "delta": 0.5,
            "activation": "nonmonotone",
            "n_neurons": 800,
            "step_size": 2e-6,
            "initial_scale": (0.1, 0.4),
            "t_final": 3.0,
            "save_every": 0.1,
            "cells": 600,
            "r_max": 3.0,
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
        "unconfirmed": ["activation (wgflow's non-monotone stand-in)", "step_size", "t_final"],
    },
}
DEFAULT_PRESET = "flagship"


def describe(name: str) -> str:
    """One line: name, description and source."""
    preset = PRESETS[check_choice("preset", name, tuple(PRESETS))]
    return f"{name}: {preset['description']} [{preset['source']}]"


def settings(name: str, quick: bool | None = None, **overrides) -> dict:
    """The keyword arguments of a preset (``quick`` default: ``WGFLOW_QUICK=1``)."""
    preset = PRESETS[check_choice("preset", name, tuple(PRESETS))]
    if quick is None:
        quick = os.environ.get("WGFLOW_QUICK") == "1"
    out = {**preset["settings"], **(preset["quick"] if quick else {}), **overrides}
    return out


def run(
    name: str = DEFAULT_PRESET, quick: bool | None = None, progress: bool = False, **overrides
) -> xr.Dataset:
    """Run a preset end to end: SGD and the reduced PDE side by side (one Dataset; presets with
    several ``initial_scale`` values get a ``kappa`` dimension)."""
    from .sgd_vs_pde import compare

    kwargs = settings(name, quick, **overrides)
    kwargs.pop("mmn_step_size", None)
    scales = kwargs.get("initial_scale")
    if isinstance(scales, tuple | list):
        parts = [compare(**{**kwargs, "initial_scale": k}, progress=progress) for k in scales]
        ds = xr.concat(parts, dim="kappa", combine_attrs="override")
        ds = ds.assign_coords(
            kappa=("kappa", list(scales), {"units": "1", "long_name": "initial scale κ"})
        )
        ds.attrs["sup_risk_gap"] = float(ds["risk_gap"].max())
        ds.attrs["sup_w2"] = float(ds["w2"].max())
    else:
        ds = compare(**kwargs, progress=progress)
    ds.attrs["preset"] = name
    ds.attrs["preset_source"] = PRESETS[name]["source"]
    return ds
