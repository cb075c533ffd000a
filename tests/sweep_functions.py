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


def bad_returns(kind):
    """One well-behaved point and one of each return value a sweep must survive."""
    import sys

    if kind == "ok":
        return {"x": 1.0}
    if kind == "bool_attr":
        return xr.Dataset({"x": 1.0}, attrs={"flag": True})
    if kind == "nested":
        return {"x": {"a": 1}}
    if kind == "ragged":
        return {"x": [[1.0], [1.0, 2.0]]}
    if kind == "exit":
        sys.exit(5)
    if kind == "named_like_dim":
        return {"kind": 1.0, "x": 2.0}
    raise ValueError(kind)


def killed_at(a, log):
    """Logs each call; the worker running a == 2 kills itself (SIGKILL).

    Each point works 0.3 s first (a real point takes longer), so the results of the points
    before have reached the client when the worker dies.
    """
    import os
    import signal
    import time

    time.sleep(0.3)

    with open(log, "a") as f:
        f.write(f"{a}\n")
    if a == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return {"x": float(a)}


def sees_earlier_points(order, path):
    """Point ``order`` waits (≤ 20 s) until the archive holds the points before it."""
    import time

    deadline = time.monotonic() + 20.0
    while order > 0 and time.monotonic() < deadline:
        try:
            with xr.open_dataset(path) as ds:
                if int((ds["sweep_status"] == "ok").sum()) >= order:
                    return {"saw": 1.0}
        except (OSError, KeyError, ValueError):
            pass
        time.sleep(0.05)
    return {"saw": 1.0 if order == 0 else 0.0}


def dimension_like_parameter(N):
    """Point ``N == 2`` returns a dimension named like the swept parameter ``N``."""
    if N == 2:
        return xr.Dataset({"x": ("N", [1.0, 2.0])})
    return {"x": float(N)}


def mixed_kinds(k):
    """Point ``k == 1`` returns text where the others return numbers (cannot be combined)."""
    return {"x": "text" if k == 1 else float(k)}
