"""SGD at finite step size against the reduced PDE with and without the ``εd`` correction.

:func:`correction_study` runs :func:`~wgflow.studies.sgd_vs_pde.compare` with
``correction="step-size"`` over the number of neurons ``N`` at fixed ``c = εd`` and over the
step size ``ε`` at fixed ``N``, and fits the log–log slope of the sup risk gap to each PDE
(:func:`wgflow.metrics.fit_rate`, Student-t intervals over the seed-averaged points).

Run: ``python -m wgflow.studies.step_size`` (about 10 minutes on 2 cores; ``--quick`` for a
smaller run).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np
import xarray as xr

from wgflow.metrics import fit_rate

from .sgd_vs_pde import compare

#: the flagship's setting (relu, w only, d = 320, s0 = 60, Δ = 0.5) to t = 10
FLAGSHIP = {"d": 320, "s0": 60, "delta": 0.5, "activation": "relu", "t_final": 10.0,
            "save_every": 0.5, "cells": 64, "r_max": 1.5}  # fmt: skip
QUICK = {**FLAGSHIP, "d": 80, "s0": 15, "t_final": 4.0, "cells": 32, "pde_samples": 20_000}
GAPS = ("sup_risk_gap", "sup_risk_gap_corrected", "sup_w2", "sup_w2_corrected")


def correction_point(n_neurons: int, step_size: float, seed: int, **fixed) -> dict:
    """Sup gaps of one SGD run to the plain and the corrected reduced PDE.

    Parameters
    ----------
    n_neurons : int
        SGD's ``N``.
    step_size : float
        SGD's ``ε``.
    seed : int
        Seed.
    **fixed
        Other arguments of :func:`~wgflow.studies.sgd_vs_pde.compare`.

    Returns
    -------
    dict
        The four sup gaps and the final mean ``r2`` of SGD and of both PDEs.
    """
    ds = compare(
        n_neurons=n_neurons, step_size=step_size, seed=seed, correction="step-size", **fixed
    )
    out = {name: float(ds.attrs[name]) for name in GAPS}
    for source in ("sgd", "pde", "pde_corrected"):
        out[f"final_mean_r2_{source}"] = float(ds[f"mean_r2_{source}"][-1])
    return out


def correction_study(
    n_values: Sequence[int] = (200, 400, 800, 1600, 3200),
    eps_values: Sequence[float] = (1e-4, 2e-4, 4e-4, 8e-4),
    c: float = 0.064,
    n_fixed: int = 3200,
    seeds: Sequence[int] = (0, 1),
    quick: bool = False,
) -> dict[str, xr.Dataset]:
    """The sup gaps over ``N`` at fixed ``c = εd`` and over ``ε`` at fixed ``N``.

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
        Seeds averaged at each point.
    quick : bool
        The reduced setting (``d = 80``, ``t = 4``).

    Returns
    -------
    dict of str -> xarray.Dataset
        ``"N"`` and ``"eps"``: seed-averaged gaps (variables of :func:`correction_point`, mean
        over seeds) on the swept coordinate, with the fitted slopes as attributes
        ``slope_<gap>`` and ``slope_<gap>_interval``.
    """
    fixed = QUICK if quick else FLAGSHIP
    d = fixed["d"]
    out = {}
    for name, coords, make in (
        ("N", list(n_values), lambda v: (int(v), c / d)),
        ("eps", list(eps_values), lambda v: (n_fixed, float(v))),
    ):
        rows = []
        for value in coords:
            n, eps = make(value)
            points = [correction_point(n, eps, s, **fixed) for s in seeds]
            rows.append({k: float(np.mean([p[k] for p in points])) for k in points[0]})
            print(f"{name} = {value:g}: " + ", ".join(f"{k} {v:.4g}" for k, v in rows[-1].items()),
                  file=sys.stderr, flush=True)  # fmt: skip
        ds = xr.Dataset(
            {k: (name, [r[k] for r in rows], {"units": "1"}) for k in rows[0]},
            coords={name: coords},
        )
        for gap in GAPS:
            fit = fit_rate(ds[name].values, ds[gap].values)
            ds.attrs[f"slope_{gap}"] = fit.slope
            ds.attrs[f"slope_{gap}_interval"] = [fit.low, fit.high]
        ds.attrs["c"] = c if name == "N" else float("nan")
        ds.attrs["n_fixed"] = n_fixed if name == "eps" else 0
        ds.attrs["d"] = d
        out[name] = ds
    return out


def main(argv=None) -> int:
    """Run the study and print the tables and fitted slopes.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (``--quick``, ``--output PREFIX``).

    Returns
    -------
    int
        Exit code.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=None, help="write PREFIX-N.nc and PREFIX-eps.nc")
    args = parser.parse_args(argv)
    kwargs = {}
    if args.quick:
        kwargs = {"n_values": (100, 200, 400, 800), "eps_values": (5e-4, 1e-3, 2e-3, 4e-3),
                  "c": 0.04, "n_fixed": 800, "seeds": (0,), "quick": True}  # fmt: skip
    results = correction_study(**kwargs)
    for name, ds in results.items():
        print(f"\nsweep over {name}")
        print(ds.to_dataframe().to_string(float_format=lambda v: f"{v:.4g}"))
        for gap in GAPS:
            low, high = ds.attrs[f"slope_{gap}_interval"]
            print(f"  slope of {gap}: {ds.attrs[f'slope_{gap}']:.3f} [{low:.3f}, {high:.3f}]")
        if args.output:
            from wgflow import io

            io.save(ds, f"{args.output}-{name}.nc")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
