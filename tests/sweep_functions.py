"""Picklable functions for the sweep tests (imported by dask worker processes)."""

import numpy as np
import xarray as xr


def model_run(a, seed):
    if a == 3 and seed == 1:
        raise ValueError("bad point a=3, seed=1")
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, 4)
    return xr.Dataset(
        {"risk": ("time", a * np.exp(-t) + 0.01 * rng.random(4)), "final": a * 10.0 + seed},
        coords={"time": t},
    )


def always_fails(a, seed):
    raise RuntimeError("this function must not be called for finished points")
