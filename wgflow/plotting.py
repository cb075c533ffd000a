"""Matplotlib figures drawn from result Datasets (no plotting happens inside solvers)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr


def _label(da: xr.DataArray) -> str:
    name = da.attrs.get("long_name", da.name)
    units = da.attrs.get("units")
    return f"{name} [{units}]" if units and units != "1" else str(name)


def _grid_axes(ds: xr.Dataset) -> tuple[str, ...]:
    return tuple(d for d in ds["density"].dims if d != "time")


def plot_density(ds: xr.Dataset, time: float, ax=None, exact: np.ndarray | None = None, **kwargs):
    """Draw ``density`` at the stored time nearest ``time``: a line (1-D) or an image (2-D).

    Parameters
    ----------
    ds : xarray.Dataset
        Has ``density(time, <axes>)`` and the axis coordinates (with ``<axis>_bnds`` for
        image extents where present).
    time : float
    ax : matplotlib Axes, optional
    exact : ndarray, optional
        Reference density on the same grid (1-D: dashed line; 2-D: contour lines).

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    snap = ds["density"].sel(time=time, method="nearest")
    axes = _grid_axes(ds)
    t = float(snap["time"])
    if len(axes) == 1:
        x = ds[axes[0]]
        ax.plot(x, snap, label="numerical", **kwargs)
        if exact is not None:
            ax.plot(x, exact, "k--", lw=1, label="exact")
            ax.legend()
        ax.set_xlabel(_label(x))
        ax.set_ylabel(_label(ds["density"]))
    elif len(axes) == 2:
        xa, ya = (ds[a] for a in axes)
        extent = []
        for a in axes:
            bnds = ds.get(f"{a}_bnds")
            extent += (
                [float(bnds.min()), float(bnds.max())]
                if bnds is not None
                else [float(ds[a].min()), float(ds[a].max())]
            )
        image = ax.imshow(snap.values.T, origin="lower", extent=extent, aspect="equal", **kwargs)
        plt.colorbar(image, ax=ax, label=_label(ds["density"]))
        if exact is not None:
            ax.contour(xa, ya, np.asarray(exact).T, levels=5, colors="w", linewidths=0.6)
        ax.set_xlabel(_label(xa))
        ax.set_ylabel(_label(ya))
    else:
        raise ValueError(f"ds: can draw 1-D or 2-D densities, got axes {axes}")
    ax.set_title(f"t = {t:.3g}")
    return ax


def plot_series(ds: xr.Dataset, names: Sequence[str], ax=None, logy: bool = False):
    """Plot time series variables of ``ds`` (e.g. ``free_energy``, ``l1_error``) against time."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    for name in names:
        ax.plot(ds["time"], ds[name], marker="o", ms=3, label=_label(ds[name]))
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(_label(ds["time"]))
    ax.legend()
    return ax


def density_overview(ds: xr.Dataset, times: Sequence[float] | None = None, series=("free_energy",)):
    """Figure with the density at three times and the chosen time series beneath.

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    if times is None:
        stored = ds["time"].values
        times = [stored[0], stored[len(stored) // 2], stored[-1]]
    fig, axes = plt.subplots(1, len(times) + 1, figsize=(4.2 * (len(times) + 1), 3.6))
    for ax, t in zip(axes[:-1], times, strict=True):
        plot_density(ds, t, ax=ax)
    present = [s for s in series if s in ds]
    if present:
        plot_series(ds, present, ax=axes[-1], logy=any(s.endswith("error") for s in present))
    fig.suptitle(ds.attrs.get("title", ""))
    fig.tight_layout()
    return fig
