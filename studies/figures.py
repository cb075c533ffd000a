"""The figures of the experiments: SGD against its reduced PDEs, sweeps, and the figure
``wgflow run`` and ``wgflow plot`` draw for any archive (variable names from
:mod:`wgflow.schema`; the generic density, particle and risk plots are in
:mod:`wgflow.plotting`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from wgflow import schema
from wgflow.plotting import (
    DENSITY_CMAP,
    MATH_LABELS,
    _grid_axes,
    _label,
    _styled,
    _suptitle,
    _title,
    density_overview,
    plot_particles_over_density,
    plot_risk_curves,
)

__all__ = [
    "long_pde_figure",
    "plot_convergence",
    "sgd_vs_pde_figure",
    "statistics_figure",
    "summary_figure",
]


@_styled
def summary_figure(ds: xr.Dataset):
    """The figure ``wgflow run`` and ``wgflow plot`` draw for any archive they know.

    Parameters
    ----------
    ds : xarray.Dataset
        A wgflow archive (from ``run``, ``wgflow run`` or :func:`wgflow.open`).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown; call ``plt.show()`` or ``fig.savefig``).
    """
    import matplotlib.pyplot as plt

    if schema.whole_run("risk") in ds and schema.risk_pde() in ds:
        return long_pde_figure(ds)
    stats = [n for n in ds.data_vars if n.startswith("std_") and n.endswith("_sgd")]
    if stats and schema.risk_pde() in ds:
        return statistics_figure(ds)

    if schema.RISK_SGD in ds and "kappa" in ds.dims:
        fig, axes = plt.subplots(1, ds.sizes["kappa"], figsize=(4.6 * ds.sizes["kappa"], 3.6))
        for ax, k in zip(np.atleast_1d(axes), ds["kappa"].values, strict=True):
            plot_risk_curves(ds.sel(kappa=k), ax=ax)
            ax.set_title(rf"start $N(0, \kappa^2 I/d)$, $\kappa$ = {k:g}")
        _suptitle(fig, ds)
        fig.tight_layout()
        return fig
    if schema.RISK_SGD in ds and schema.risk_pde() in ds and schema.density() in ds:
        return sgd_vs_pde_figure(ds)
    if schema.RISK_SGD in ds or ("risk" in ds and "density" not in ds):
        fig, ax = plt.subplots(figsize=(5, 3.6))
        names = [n for n in (schema.RISK_SGD, schema.risk_pde(), "risk") if n in ds]
        # drop size-1 axes (one replica…) but never time: one snapshot is still a curve
        single = [d for d in ds[names].dims if ds.sizes[d] == 1 and d != "time"]
        plot_risk_curves(ds.squeeze(single, drop=True), names=names, ax=ax)
        ax.set_title(_title(ds))
        fig.tight_layout()
        return fig
    if "density" in ds:
        series = ("l1_error", "l1_error_fv") if "l1_error" in ds else ("free_energy",)
        return density_overview(ds, series=series)
    raise ValueError("ds: no risk curves or density to draw")



@_styled
def sgd_vs_pde_figure(ds: xr.Dataset, times: Sequence[float] | None = None):
    """Risk curves of SGD and the PDE, and density vs particles at three times.

    Parameters
    ----------
    ds : xarray.Dataset
        A wgflow archive (from ``run``, ``wgflow run`` or :func:`wgflow.open`).
    times : sequence of float, optional
        Times of the density panels (default: first, middle, last).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown; call ``plt.show()`` or ``fig.savefig``).
    """
    import matplotlib.pyplot as plt

    if times is None:
        stored = ds["time"].values
        times = [stored[0], stored[len(stored) // 2], stored[-1]]
    two_d = len(_grid_axes(ds)) == 2
    fig, axes = plt.subplots(1, len(times) + 1, figsize=(4.2 * (len(times) + 1), 3.6),
                             layout="constrained")  # fmt: skip
    names = [schema.RISK_SGD, *(schema.risk_pde(v) for v in schema.variants_in(ds))]
    plot_risk_curves(ds, names=names, ax=axes[0])
    options = {}
    if two_d:  # one colour scale for every time
        vmax = max(float(ds["density"].sel(time=t, method="nearest").max()) for t in times)
        options = {"vmin": 0.0, "vmax": vmax, "colorbar": False}
    for ax, t in zip(axes[1:], times, strict=True):
        plot_particles_over_density(ds, t, ax=ax, **options)
    if two_d:
        fig.colorbar(axes[1].images[0], ax=list(axes[1:]), label=_label(ds["density"]),
                     shrink=0.85)  # fmt: skip
    _suptitle(fig, ds)
    return fig



@_styled
def long_pde_figure(ds: xr.Dataset, n_curves: int = 6):
    """SGD vs a PDE that runs longer than SGD (``risk_pde_full``, ``density_pde_full``).

    Both risk curves, then the 1-D reduced density ``ρ̄(r)`` at several times, then SGD's
    histogram of the neurons' ``r`` over the PDE density at SGD's last time.

    Parameters
    ----------
    ds : xarray.Dataset
        A wgflow archive (from ``run``, ``wgflow run`` or :func:`wgflow.open`).
    n_curves : int
        Number of PDE times drawn.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown; call ``plt.show()`` or ``fig.savefig``).
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.8))
    ax = axes[0]
    pde_time = ds[schema.PDE_TIME]
    for variant, style in zip(schema.PDE_VARIANTS, ("-", "--", ":"), strict=False):
        name = schema.whole_run("risk", variant)
        if name in ds:
            label = MATH_LABELS.get(schema.risk_pde(variant), schema.risk_pde(variant))
            ax.plot(pde_time, ds[name], style, label=label)
    ax.plot(ds["time"], ds[schema.RISK_SGD], "o", ms=3, label=MATH_LABELS[schema.RISK_SGD])
    ax.set_yscale("log")
    ax.set_xlabel(_label(ds["time"]))
    ax.set_ylabel("risk")
    ax.legend(fontsize="small")
    if schema.whole_run("density") in ds and len(_grid_axes(ds)) == 1:
        axis = _grid_axes(ds)[0]
        full = ds[schema.whole_run("density")]
        last = full.sizes[schema.PDE_TIME] - 1
        picks = np.unique(np.linspace(0, last, n_curves).round().astype(int))
        colours = plt.get_cmap(DENSITY_CMAP)(np.linspace(0, 0.85, picks.size))
        for colour, k in zip(colours, picks, strict=True):
            t = float(ds["pde_time"][k])
            axes[1].plot(ds[axis], full.isel(pde_time=k), color=colour, label=f"t = {t:g}")
        axes[1].set_xlabel(_label(ds[axis]))
        axes[1].set_ylabel(r"$\bar\rho_t(r)$")
        axes[1].set_title("PDE density over time")
        axes[1].legend(fontsize="small")
        plot_particles_over_density(ds, float(ds["time"][-1]), ax=axes[2])
        axes[2].set_title(f"t = {float(ds['time'][-1]):g}: SGD neurons vs PDE")
    _suptitle(fig, ds)
    fig.tight_layout()
    return fig



@_styled
def statistics_figure(ds: xr.Dataset):
    """Risk curves, then mean ± standard deviation of each reduced coordinate over time.

    SGD against the PDE, from the variables ``mean_<c>_sgd``, ``std_<c>_sgd``,
    ``mean_<c>_pde``, ``std_<c>_pde``.

    Parameters
    ----------
    ds : xarray.Dataset
        A wgflow archive (from ``run``, ``wgflow run`` or :func:`wgflow.open`).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown; call ``plt.show()`` or ``fig.savefig``).
    """
    import matplotlib.pyplot as plt

    coords = [n[len("mean_") : -len("_sgd")] for n in ds.data_vars if n.startswith("mean_")
              and n.endswith("_sgd")]  # fmt: skip
    fig, axes = plt.subplots(1, len(coords) + 1, figsize=(3.6 * (len(coords) + 1), 3.4),
                             squeeze=False)  # fmt: skip
    axes = axes[0]
    names = [schema.RISK_SGD, *(schema.risk_pde(v) for v in schema.variants_in(ds))]
    plot_risk_curves(ds, names=names, ax=axes[0], logx=False)
    t = ds["time"]
    sources = [("SGD", "sgd", "plain", "o")] + [
        (f"PDE ({v})" if v != "plain" else "PDE", "pde", v, style)
        for v, style in zip(schema.variants_in(ds), ("-", "--", ":"), strict=False)
    ]
    for ax, c in zip(axes[1:], coords, strict=True):
        for label, source, variant, style in sources:
            mean_name = schema.mean(c, source, variant)
            std_name = schema.std(c, source, variant)
            if mean_name not in ds:
                continue
            mean = ds[mean_name]
            ax.plot(t, mean, style, ms=3, label=label)
            if std_name in ds:
                std = ds[std_name]
                ax.fill_between(t, mean - std, mean + std, alpha=0.2)
        ax.set_title(f"{c}: mean ± standard deviation")
        ax.set_xlabel(_label(t))
        ax.legend(fontsize="small")
    _suptitle(fig, ds)
    fig.tight_layout()
    return fig



@_styled
def plot_convergence(results, quantity: str = "sup_risk_gap"):
    """Log–log plots of a seed-averaged sweep result against each swept parameter.

    The fitted slope and its 95 % interval are in the legend.

    Parameters
    ----------
    results : dict of name -> xarray.Dataset
        Sweeps whose dimension ``name`` varies (others of length 1) and with a ``seed`` dim.
    quantity : str
        The swept result to draw.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown; call ``plt.show()`` or ``fig.savefig``).
    """
    import matplotlib.pyplot as plt

    from wgflow.metrics import fit_rate

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


