"""SGD at finite step size against the plain reduced PDE, the one-neuron ``εd`` correction and
the collective model.

:func:`correction_study` sweeps :func:`~wgflow.studies.sgd_vs_pde.study_point` (that is,
:func:`~wgflow.studies.sgd_vs_pde.compare` with ``correction=("step-size", "collective")``) with
:func:`wgflow.sweep.sweep` over the number of neurons ``N`` at fixed ``c = εd`` and over the
step size ``ε`` at fixed ``N``; :func:`~wgflow.studies.sgd_vs_pde.fit_slopes` gives the
log–log slope of each seed-averaged gap (Student-t intervals).

Run: ``python -m wgflow.studies.step_size`` (about 25 minutes on 2 cores; ``--quick`` for a
smaller run; ``--output PREFIX`` keeps resumable archives).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import xarray as xr

from .sgd_vs_pde import fit_slopes, study_point

#: the flagship's setting (relu, w only, d = 320, s0 = 60, Δ = 0.5) to t = 10
FLAGSHIP = {"d": 320, "s0": 60, "delta": 0.5, "activation": "relu", "t_final": 10.0,
            "save_every": 0.5, "cells": 64, "r_max": 1.5}  # fmt: skip
QUICK = {**FLAGSHIP, "d": 80, "s0": 15, "t_final": 4.0, "cells": 32, "pde_samples": 20_000}
GAPS = (
    "sup_risk_gap", "sup_risk_gap_corrected", "sup_risk_gap_collective",
    "mean_risk_gap", "mean_risk_gap_corrected", "mean_risk_gap_collective",
    "sup_w2", "sup_w2_corrected", "sup_w2_collective",
)  # fmt: skip
#: the corrections every point solves beside the plain PDE
CORRECTIONS = ("step-size", "collective")


def correction_study(
    n_values: Sequence[int] = (200, 400, 800, 1600, 3200),
    eps_values: Sequence[float] = (1e-4, 2e-4, 4e-4, 8e-4),
    c: float = 0.064,
    n_fixed: int = 3200,
    seeds: Sequence[int] = (0, 1),
    quick: bool = False,
    scheduler: str | None = None,
    output_prefix: str | None = None,
    progress: bool = True,
) -> dict[str, xr.Dataset]:
    """The sup gaps to both PDEs over ``N`` at fixed ``c = εd`` and over ``ε`` at fixed ``N``.

    Parameters
    ----------
    n_values : sequence of int
        Neurons of the ``N`` sweep (``ε = c / d``).
    eps_values : sequence of float
        Step sizes of the ``ε`` sweep.
    c : float
        ``εd`` of the ``N`` sweep (the flagship's: ``2e-4 × 320``).
    n_fixed : int
        ``N`` of the ``ε`` sweep.
    seeds : sequence of int
        Seeds of each point.
    quick : bool
        The reduced setting (``d = 80``, ``t = 4``).
    scheduler : str, optional
        Dask scheduler address or ``synchronous`` (default: a local cluster).
    output_prefix : str, optional
        Archives ``{output_prefix}-N.nc`` and ``{output_prefix}-eps.nc`` (rerunning resumes).
    progress : bool
        Progress bars.

    Returns
    -------
    dict of str -> xarray.Dataset
        ``"N"`` and ``"eps"``: the sweep archives (dimensions ``N``, ``eps`` (ε) or ``eps_d``
        (εd), ``d``, ``seed``) of :func:`~wgflow.studies.sgd_vs_pde.study_point`'s variables.
    """
    from wgflow.sweep import sweep

    fixed = dict(QUICK if quick else FLAGSHIP)
    d = fixed.pop("d")
    plans = {
        "N": {"N": list(n_values), "eps_d": [c], "d": [d]},
        "eps": {"N": [n_fixed], "eps": list(eps_values), "d": [d]},
    }
    out = {}
    for name, grid in plans.items():
        fn = functools.partial(study_point, correction=CORRECTIONS, **fixed)
        path = None if output_prefix is None else f"{output_prefix}-{name}.nc"
        out[name] = sweep(
            fn, {**grid, "seed": list(seeds)}, scheduler=scheduler, output=path, progress=progress
        )
    return out


def run_study(output: str | None = None, scheduler: str | None = None, quick: bool = False) -> int:
    """``wgflow study step-size``: the seed-averaged tables and fitted slopes, printed.

    Parameters
    ----------
    output : str, optional
        Archive prefix (resumable).
    scheduler : str, optional
        Dask scheduler address or ``synchronous``.
    quick : bool
        The reduced setting.

    Returns
    -------
    int
        Exit code.
    """
    kwargs = {}
    if quick:
        kwargs = {"n_values": (100, 200, 400, 800), "eps_values": (5e-4, 1e-3, 2e-3, 4e-3),
                  "c": 0.04, "n_fixed": 800, "seeds": (0,), "quick": True}  # fmt: skip
    results = correction_study(scheduler=scheduler, output_prefix=output, **kwargs)
    slopes = {gap: fit_slopes(results, gap) for gap in GAPS}
    for name, ds in results.items():
        table = ds.drop_vars(["sweep_status", "sweep_error"]).mean("seed").squeeze(drop=True)
        print(f"\nsweep over {name} (mean over seeds)")
        print(table.to_dataframe().to_string(float_format=lambda v: f"{v:.4g}"))
        for gap in GAPS:
            fit = slopes[gap][name]
            print(f"  slope of {gap}: {fit.slope:.3f} [{fit.low:.3f}, {fit.high:.3f}]")
    return 0
