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


def plot_risk_curves(ds: xr.Dataset, names=("risk_sgd", "risk_pde"), ax=None, logx: bool = True):
    """Risk curves against time (log time axis by default; ``t = 0`` is drawn at the first
    positive time's half)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    t = np.asarray(ds["time"], float)
    if logx and t.size > 1:
        floor = 0.5 * t[t > 0].min() if np.any(t > 0) else 1.0
        t = np.maximum(t, floor)
        ax.set_xscale("log")
    styles = ["o-", "s--", "^:", "v-."]
    for k, name in enumerate(names):
        ax.plot(t, ds[name], styles[k % 4], ms=3, label=_label(ds[name]))
    ax.set_xlabel(_label(ds["time"]))
    ax.set_ylabel("risk")
    ax.legend()
    return ax


def plot_particles_over_density(ds: xr.Dataset, time: float, ax=None, max_points: int = 2000):
    """The PDE density at ``time`` with the particles drawn on top: a histogram (1-D) or a
    scatter (2-D) of the variables ``particle_<axis>`` (or ``<axis>``) over ``(time, particle)``."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    axes = _grid_axes(ds)

    def values(a):
        name = f"particle_{a}" if f"particle_{a}" in ds else a
        return ds[name].sel(time=time, method="nearest").values.ravel()

    if len(axes) == 1:
        plot_density(ds, time, ax=ax, color="k")
        edges = ds.get(f"{axes[0]}_bnds")
        lo, hi = (float(edges.min()), float(edges.max())) if edges is not None else (None, None)
        ax.hist(
            values(axes[0]),
            bins=60,
            range=(lo, hi) if lo is not None else None,
            density=True,
            alpha=0.5,
            color="tab:red",
            label="SGD neurons",
        )
    else:
        plot_density(ds, time, ax=ax, cmap="Greys")
        pts = [values(a)[:max_points] for a in axes]
        ax.scatter(*pts, s=2, c="tab:red", alpha=0.6, label="SGD neurons")
    ax.legend(loc="upper right", fontsize="small")
    return ax


def sgd_vs_pde_figure(ds: xr.Dataset, times: Sequence[float] | None = None):
    """Risk curves of SGD and the PDE, and density vs particles at three times."""
    import matplotlib.pyplot as plt

    if times is None:
        stored = ds["time"].values
        times = [stored[0], stored[len(stored) // 2], stored[-1]]
    fig, axes = plt.subplots(1, len(times) + 1, figsize=(4.2 * (len(times) + 1), 3.6))
    plot_risk_curves(ds, ax=axes[0])
    for ax, t in zip(axes[1:], times, strict=True):
        plot_particles_over_density(ds, t, ax=ax)
    fig.suptitle(ds.attrs.get("title", ""))
    fig.tight_layout()
    return fig


def plot_convergence(results, quantity: str = "sup_risk_gap"):
    """Log–log plots of a seed-averaged sweep result against each swept parameter, with the
    fitted slope and its 95 % interval in the legend.

    Parameters
    ----------
    results : dict of name -> xarray.Dataset
        Sweeps whose dimension ``name`` varies (others of length 1) and with a ``seed`` dim.
    """
    import matplotlib.pyplot as plt

    from .metrics import fit_rate

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.6), squeeze=False)
    for ax, (name, ds) in zip(axes[0], results.items(), strict=True):
        data = ds[quantity].squeeze(drop=True)
        x = data[name].values
        for seed in data["seed"].values if "seed" in data.dims else []:
            ax.plot(x, data.sel(seed=seed), ".", color="0.6")
        mean = data.mean("seed") if "seed" in data.dims else data
        ax.plot(x, mean, "o-", label="mean over seeds")
        if x.size >= 3:
            fit = fit_rate(x, mean.values)
            ax.plot(
                x,
                np.exp(fit.intercept) * x**fit.slope,
                "k--",
                lw=1,
                label=f"slope {fit.slope:+.2f} [{fit.low:+.2f}, {fit.high:+.2f}]",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.set_xlabel(name)
        ax.set_ylabel(quantity)
        ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def long_pde_figure(ds: xr.Dataset, n_curves: int = 6):
    """SGD vs a PDE that runs longer (``risk_pde_full``, ``density_pde_full`` on ``pde_time``):
    both risk curves, then the 1-D reduced density ``ρ̄(r)`` at several times with SGD's
    histogram of the neurons' ``r`` over the PDE density at SGD's last time."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.8))
    ax = axes[0]
    ax.plot(ds["pde_time"], ds["risk_pde_full"], "-", label="PDE R(ρ̄_t)")
    ax.plot(ds["time"], ds["risk_sgd"], "o", ms=3, label="SGD R_N(θ^k)")
    ax.set_yscale("log")
    ax.set_xlabel(_label(ds["time"]))
    ax.set_ylabel("risk")
    ax.legend(fontsize="small")
    if "density_pde_full" in ds and len(_grid_axes(ds)) == 1:
        axis = _grid_axes(ds)[0]
        full = ds["density_pde_full"]
        picks = np.unique(np.linspace(0, full.sizes["pde_time"] - 1, n_curves).round().astype(int))
        colours = plt.cm.viridis(np.linspace(0, 0.9, picks.size))
        for colour, k in zip(colours, picks, strict=True):
            t = float(ds["pde_time"][k])
            axes[1].plot(ds[axis], full.isel(pde_time=k), color=colour, label=f"t = {t:g}")
        axes[1].set_xlabel(_label(ds[axis]))
        axes[1].set_ylabel("ρ̄(r)")
        axes[1].set_title("PDE density over time")
        axes[1].legend(fontsize="small")
        plot_particles_over_density(ds, float(ds["time"][-1]), ax=axes[2])
        axes[2].set_title(f"t = {float(ds['time'][-1]):g}: SGD neurons vs PDE")
    fig.suptitle(ds.attrs.get("title", ""))
    fig.tight_layout()
    return fig


def statistics_figure(ds: xr.Dataset):
    """Risk curves, then mean ± standard deviation over time of each reduced coordinate for
    SGD and the PDE (variables ``mean_<c>_sgd``, ``std_<c>_sgd``, ``mean_<c>_pde``, …)."""
    import matplotlib.pyplot as plt

    coords = [n[len("mean_") : -len("_sgd")] for n in ds.data_vars if n.startswith("mean_")
              and n.endswith("_sgd")]  # fmt: skip
    fig, axes = plt.subplots(1, len(coords) + 1, figsize=(3.6 * (len(coords) + 1), 3.4))
    plot_risk_curves(ds, ax=axes[0], logx=False)
    t = ds["time"]
    for ax, c in zip(axes[1:], coords, strict=True):
        for source, style in (("sgd", "o"), ("pde", "-")):
            mean, std = ds[f"mean_{c}_{source}"], ds[f"std_{c}_{source}"]
            ax.plot(t, mean, style, ms=3, label=source.upper())
            ax.fill_between(t, mean - std, mean + std, alpha=0.2)
        ax.set_title(f"{c}: mean ± std")
        ax.set_xlabel(_label(t))
        ax.legend(fontsize="small")
    fig.suptitle(ds.attrs.get("title", ""))
    fig.tight_layout()
    return fig


def summary_figure(ds: xr.Dataset):
    """The figure ``wgflow run`` and ``wgflow plot`` draw for any archive they know."""
    import matplotlib.pyplot as plt

    if "risk_pde_full" in ds:
        return long_pde_figure(ds)
    if any(name.startswith("mean_") for name in ds.data_vars) and "risk_sgd" in ds:
        return statistics_figure(ds)

    if "risk_sgd" in ds and "kappa" in ds.dims:
        fig, axes = plt.subplots(1, ds.sizes["kappa"], figsize=(4.6 * ds.sizes["kappa"], 3.6))
        for ax, k in zip(np.atleast_1d(axes), ds["kappa"].values, strict=True):
            plot_risk_curves(ds.sel(kappa=k), ax=ax)
            ax.set_title(f"κ = {k:g}")
        fig.tight_layout()
        return fig
    if "risk_sgd" in ds and "risk_pde" in ds and "density" in ds:
        return sgd_vs_pde_figure(ds)
    if "risk_sgd" in ds or ("risk" in ds and "density" not in ds):
        fig, ax = plt.subplots(figsize=(5, 3.6))
        names = [n for n in ("risk_sgd", "risk_pde", "risk") if n in ds]
        plot_risk_curves(ds.squeeze(drop=True), names=names, ax=ax)
        fig.tight_layout()
        return fig
    if "density" in ds:
        series = ("l1_error", "l1_error_fv") if "l1_error" in ds else ("free_energy",)
        return density_overview(ds, series=series)
    raise ValueError("ds: no risk curves or density to draw")


def animate(ds: xr.Dataset, path, fps: int = 8, dpi: int = 90) -> str:
    """Write an animation of ``ds`` over its ``time`` axis: the density (1-D line or 2-D image),
    with the SGD neurons on top when the archive has them.

    Parameters
    ----------
    ds : xarray.Dataset
        Has ``density(time, <axes>)``.
    path : str or Path
        ``.gif`` (Pillow, always available) or ``.mp4`` (needs ``ffmpeg`` on the PATH).
    fps : int
        Frames per second.

    Returns
    -------
    str
        The path written.
    """
    import matplotlib.pyplot as plt
    from matplotlib import animation

    path = str(path)
    if "density" not in ds:
        raise ValueError("ds: needs a 'density(time, ...)' variable to animate")
    if path.endswith(".gif"):
        writer = animation.PillowWriter(fps=fps)
    elif path.endswith(".mp4"):
        if not animation.FFMpegWriter.isAvailable():
            raise ValueError("path: .mp4 needs ffmpeg on the PATH; write a .gif instead")
        writer = animation.FFMpegWriter(fps=fps)
    else:
        raise ValueError(f"path: need a .gif or .mp4 name, got {path!r}")
    has_particles = any(k.startswith("particle_") for k in ds.data_vars)
    fig = plt.figure(figsize=(5, 3.8))
    times = ds["time"].values

    def draw(k):
        fig.clf()  # also drops the previous frame's colorbar
        frame = fig.add_subplot()
        if has_particles:
            plot_particles_over_density(ds, float(times[k]), ax=frame)
        else:
            plot_density(ds, float(times[k]), ax=frame)
        return []

    anim = animation.FuncAnimation(fig, draw, frames=len(times), blit=False)
    anim.save(path, writer=writer, dpi=dpi)
    plt.close(fig)
    return path
