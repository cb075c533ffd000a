"""Matplotlib figures drawn from result Datasets (no plotting happens inside solvers)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from . import schema

#: Okabe–Ito: distinguishable with every common colour-vision deficiency
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
#: perceptually uniform and colour-blind safe; low densities light
DENSITY_CMAP = "cividis"
#: legend labels in mathtext for the variables wgflow archives
MATH_LABELS = {
    schema.RISK_SGD: r"SGD $R_N(\theta^k)$",
    schema.risk_pde(): r"PDE $R(\bar\rho_t)$",
    "risk": r"risk $R$",
    schema.whole_run("risk"): r"PDE $R(\bar\rho_t)$",
    schema.risk_pde("corrected"): r"PDE + $\varepsilon d$ correction (one neuron)",
    schema.risk_pde("collective"): r"PDE + collective mode",
    "free_energy": r"free energy $E[\rho_t]$",
    "l1_error": r"$\|\rho_t - \rho_{\mathrm{ref}}\|_{L^1}$",
    "l1_error_fv": r"finite volumes $\|\rho_t - \rho_{\mathrm{ref}}\|_{L^1}$",
    "mass": r"mass $\int\rho_t$",
}


_SGD_AND_PDE = (schema.RISK_SGD, schema.risk_pde())


def _label(da: xr.DataArray) -> str:
    name = da.attrs.get("long_name", da.name)
    units = da.attrs.get("units")
    return f"{name} [{units}]" if units and units != "1" else str(name)


def _legend_label(da: xr.DataArray) -> str:
    return MATH_LABELS.get(str(da.name), _label(da))


def _styled(func):
    """Draw with wgflow's colour-blind-safe palette and readable defaults."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import matplotlib.pyplot as plt
        from cycler import cycler

        style = {"axes.prop_cycle": cycler(color=PALETTE), "image.cmap": DENSITY_CMAP,
                 "legend.frameon": False, "axes.titlesize": "medium"}  # fmt: skip
        with plt.rc_context(style):
            return func(*args, **kwargs)

    return wrapper


def _title(ds: xr.Dataset) -> str:
    """What the figure shows: the job's or preset's description, else the archive's title."""
    return str(ds.attrs.get("description", ds.attrs.get("title", "")))


def _suptitle(fig, ds: xr.Dataset) -> None:
    """The figure title, wrapped to the figure's width."""
    import textwrap

    width = max(40, int(fig.get_figwidth() * 11))
    fig.suptitle(textwrap.fill(_title(ds), width), fontsize="medium")


def _readable_log_time(ax) -> None:
    import matplotlib.pyplot as plt

    ax.xaxis.set_minor_formatter(plt.NullFormatter())  # minor labels collide ("3×10⁻¹4×10⁻¹")


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
        Time to draw (the nearest stored snapshot is used).
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    exact : ndarray, optional
        Reference density on the same grid (1-D: dashed line; 2-D: contour lines).
    **kwargs
        Passed to ``plot`` (1-D) or ``imshow`` (2-D); ``colorbar=False`` omits the colour bar.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    snap = ds["density"].sel(time=time, method="nearest")
    axes = _grid_axes(ds)
    t = float(snap["time"])
    if len(axes) == 1:
        x = ds[axes[0]]
        ax.plot(x, snap, **{"label": "numerical", **kwargs})
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
        colorbar = kwargs.pop("colorbar", True)
        image = ax.imshow(snap.values.T, origin="lower", extent=extent, aspect="equal", **kwargs)
        if colorbar:
            plt.colorbar(image, ax=ax, label=_label(ds["density"]))
        if exact is not None:
            ax.contour(xa, ya, np.asarray(exact).T, levels=5, colors="w", linewidths=0.7,
                       linestyles="--")  # fmt: skip
        ax.set_xlabel(_label(xa))
        ax.set_ylabel(_label(ya))
    else:
        raise ValueError(f"ds: can draw 1-D or 2-D densities, got axes {axes}")
    ax.set_title(f"t = {t:.3g}")
    return ax


def plot_series(ds: xr.Dataset, names: Sequence[str], ax=None, logy: bool = False):
    """Plot time series variables of ``ds`` (e.g. ``free_energy``, ``l1_error``) against time.

    Parameters
    ----------
    ds : xarray.Dataset
        A wgflow archive (from ``run``, ``wgflow run`` or :func:`wgflow.open`).
    names : sequence of str
        Variables over ``time`` to draw.
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    logy : bool
        Logarithmic values axis (values below 1e-9 of the largest are left out).

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    for name in names:
        t, values = np.asarray(ds["time"], float), np.asarray(ds[name], float)
        if logy:  # an exact start (error ~1e-13 at t = 0) would flatten the whole curve
            keep = values > 1e-9 * np.nanmax(np.abs(values))
            t, values = t[keep], values[keep]
        ax.plot(t, values, marker="o", ms=3, label=_legend_label(ds[name]))
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(_label(ds["time"]))
    ax.legend()
    return ax


@_styled
def density_overview(ds: xr.Dataset, times: Sequence[float] | None = None, series=("free_energy",)):
    """The density over time and the chosen time series.

    1-D: the snapshots overlaid in one panel (coloured by time, the exact solution dashed when
    the archive has ``density_exact``). 2-D: one image per time on one shared colour scale
    (one colour bar), the exact solution as dashed contours. The series panel (log scale for
    errors) follows.

    Parameters
    ----------
    ds : xarray.Dataset
        A wgflow archive (from ``run``, ``wgflow run`` or :func:`wgflow.open`).
    times : sequence of float, optional
        Times to show (default: every stored time in 1-D, up to six; first, middle and last
        in 2-D).
    series : sequence of str
        Time series drawn in the last panel when present.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown; call ``plt.show()`` or ``fig.savefig``).
       """
    import matplotlib.pyplot as plt

    stored = ds["time"].values
    axes_names = _grid_axes(ds)
    exact = ds.get("density_exact")
    present = [s for s in series if s in ds]
    if len(axes_names) == 1:
        fig, axes = plt.subplots(1, 2 if present else 1, figsize=(9.5 if present else 5, 3.6),
                                 squeeze=False)  # fmt: skip
        ax = axes[0, 0]
        picks = stored if times is None else times
        picks = picks[:: max(1, len(picks) // 6)] if times is None else picks
        colours = plt.get_cmap(DENSITY_CMAP)(np.linspace(0.0, 0.85, len(picks)))
        x = ds[axes_names[0]]
        for colour, t in zip(colours, picks, strict=True):
            snap = ds["density"].sel(time=t, method="nearest")
            ax.plot(x, snap, color=colour, label=f"t = {float(snap['time']):.3g}")
            if exact is not None:
                ax.plot(x, exact.sel(time=t, method="nearest"), "--", color="k", lw=0.8)
        if exact is not None:
            ax.plot([], [], "--", color="k", lw=0.8, label="exact")
        ax.set_xlabel(_label(x))
        ax.set_ylabel(_label(ds["density"]))
        ax.set_title("density over time")
        ax.legend(fontsize="small")
        series_ax = axes[0, 1] if present else None
    else:
        if times is None:
            times = [stored[0], stored[len(stored) // 2], stored[-1]]
        fig, axes = plt.subplots(1, len(times) + (1 if present else 0), layout="constrained",
                                 figsize=(4.2 * (len(times) + 1), 3.6), squeeze=False)  # fmt: skip
        shown = [ds["density"].sel(time=t, method="nearest") for t in times]
        vmax = float(max(np.nanmax(s.values) for s in shown))
        for ax, t in zip(axes[0, : len(times)], times, strict=True):
            ref = None if exact is None else exact.sel(time=t, method="nearest").values
            plot_density(ds, t, ax=ax, exact=ref, vmin=0.0, vmax=vmax, colorbar=False)
        image = axes[0, 0].images[0]
        fig.colorbar(image, ax=list(axes[0, : len(times)]), label=_label(ds["density"]),
                     shrink=0.85)  # fmt: skip
        series_ax = axes[0, -1] if present else None
    if series_ax is not None:
        plot_series(ds, present, ax=series_ax, logy=any(s.endswith(("error", "error_fv"))
                                                          for s in present))  # fmt: skip
        series_ax.set_title(ds["l1_error"].attrs.get("long_name", "L1 error") if "l1_error"
                            in present else "time series")  # fmt: skip
    _suptitle(fig, ds)
    if len(axes_names) == 1:
        fig.tight_layout()
    return fig


def plot_risk_curves(ds: xr.Dataset, names=_SGD_AND_PDE, ax=None, logx: bool = True):
    """Risk curves against time.

    Parameters
    ----------
    ds : xarray.Dataset
        A wgflow archive (from ``run``, ``wgflow run`` or :func:`wgflow.open`).
    names : sequence of str
        Risk variables over ``time``.
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    logx : bool
        Logarithmic time axis when the times span more than a decade and a half (``t = 0`` is
        drawn at half the first positive time).

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    t = np.asarray(ds["time"], float)
    positive = t[t > 0]
    # a log time axis only pays when the times span decades (else it shows one tick label)
    logx = logx and positive.size > 1 and positive.max() > 20 * positive.min()
    if logx:
        floor = 0.5 * positive.min()
        t = np.maximum(t, floor)
        ax.set_xscale("log")
    styles = ["o-", "s--", "^:", "v-."]
    for k, name in enumerate(names):
        ax.plot(t, ds[name], styles[k % 4], ms=3, label=_legend_label(ds[name]))
    if logx:
        _readable_log_time(ax)
    ax.set_xlabel(_label(ds["time"]))
    ax.set_ylabel("risk")
    ax.legend()
    return ax


def plot_particles_over_density(
    ds: xr.Dataset, time: float, ax=None, max_points: int = 2000, **image_options
):
    """The PDE density at ``time`` with the particles drawn on top.

    A histogram (1-D) or a scatter (2-D) of the variables ``particle_<axis>`` (or ``<axis>``)
    over ``(time, particle)``.

    Parameters
    ----------
    ds : xarray.Dataset
        A wgflow archive (from ``run``, ``wgflow run`` or :func:`wgflow.open`).
    time : float
        Time to draw (nearest snapshot).
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    max_points : int
        At most this many particles are scattered (2-D).
    **image_options
        Passed to :func:`plot_density` (e.g. ``vmin``, ``vmax``, ``colorbar``).

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    axes = _grid_axes(ds)

    def values(a):
        name = f"particle_{a}" if f"particle_{a}" in ds else a
        return ds[name].sel(time=time, method="nearest").values.ravel()

    if len(axes) == 1:
        plot_density(ds, time, ax=ax, color=PALETTE[0], label="PDE")
        edges = ds.get(f"{axes[0]}_bnds")
        lo, hi = (float(edges.min()), float(edges.max())) if edges is not None else (None, None)
        ax.hist(
            values(axes[0]),
            bins=60,
            range=(lo, hi) if lo is not None else None,
            density=True,
            alpha=0.55,
            color=PALETTE[1],
            label="SGD neurons",
        )
    else:
        plot_density(ds, time, ax=ax, cmap="Blues", **image_options)
        pts = [values(a)[:max_points] for a in axes]
        ax.scatter(*pts, s=3, c=PALETTE[1], alpha=0.7, linewidths=0, label="SGD neurons")
    ax.legend(loc="upper right", fontsize="small")
    return ax


def animate(ds: xr.Dataset, path, fps: int = 8, dpi: int = 90) -> str:
    """Write an animation of ``ds`` over its ``time`` axis.

    The density (1-D line or 2-D image), with the SGD neurons on top when the archive has them.

    Parameters
    ----------
    ds : xarray.Dataset
        Has ``density(time, <axes>)``.
    path : str or Path
        ``.gif`` (Pillow, always available) or ``.mp4`` (needs ``ffmpeg`` on the PATH).
    fps : int
        Frames per second.
    dpi : int
        Resolution of the frames.

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
