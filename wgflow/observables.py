r"""Observables of grid densities, particle clouds and runs: moments, centre of mass, peaks.

The same numbers are computed by the helpers here (on a :class:`~wgflow.GridMeasure`, a
:class:`~wgflow.ParticleMeasure` or a run's Dataset, after the fact) and by the recording
trackers of :mod:`wgflow.trackers` (:class:`~wgflow.trackers.MomentTracker`,
:class:`~wgflow.trackers.EnergyTermsTracker`, :class:`~wgflow.trackers.ConcentrationGuard`),
which measure the solver's full state at every observation time and store the values as
variables of the returned Dataset.

Conventions (``ρ`` a density of mass ``M = ∫ρ``, not normalized):

- ``centre_of_mass = ∫x ρ / ∫ρ``, shape ``(D,)``;
- ``second_moment = ∫|x|² ρ`` (mass-weighted, about the origin: the quantity of the
  Keller–Segel virial identity); ``second_moment_axis = ∫x_k² ρ`` per axis;
- ``centred_second_moment = ∫|x − x̄|² ρ = second_moment − M|x̄|²``.

On grids the integrals use the cell centres (midpoint rule, as
:attr:`GridMeasure.mean <wgflow.GridMeasure.mean>`): for a density resolved by the cells,
``Σ_i x_{k,i}² ρ_i h^D`` differs from the integral of the piecewise-constant density by
``M h_k²/12`` per axis, a constant that drops out of every time derivative. On particles the
sums are ``Σ_i w_i (·)(θ_i)`` with the particle weights ``w_i`` (which sum to the mass).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import xarray as xr

from .grid import Grid
from .measures import GridMeasure, ParticleMeasure

__all__ = [
    "MOMENT_NAMES",
    "VECTOR_NAMES",
    "centre_of_mass",
    "grid_moments",
    "moments",
    "particle_moments",
    "peak_statistics",
    "variable_attributes",
]

#: the names :func:`moments` returns (and :class:`~wgflow.trackers.MomentTracker` records)
MOMENT_NAMES = (
    "mass",
    "centre_of_mass",
    "second_moment",
    "centred_second_moment",
    "second_moment_axis",
)
#: the names whose values have a trailing ``component`` axis (one entry per coordinate)
VECTOR_NAMES = frozenset({"centre_of_mass", "second_moment_axis", "peak_position"})

_LONG_NAMES = {
    "mass": "total mass ∫ρ",
    "centre_of_mass": "centre of mass ∫xρ / ∫ρ",
    "second_moment": "second moment ∫|x|²ρ (about the origin, mass-weighted)",
    "centred_second_moment": "second moment about the centre of mass ∫|x − x̄|²ρ",
    "second_moment_axis": "second moment per axis ∫x_k²ρ",
    "energy_potential": "potential energy ∫V dρ",
    "energy_interaction": "interaction energy ½∫∫U dρ dρ",
    "energy_internal": "internal energy ∫H(ρ)",
    "peak_density": "largest cell average of the density",
    "peak_position": "cell centre of the density's maximum",
    "peak_width": "full width at half maximum of the peak, in cells (smallest over the axes)",
    "peak_mass_fraction": "fraction of the mass in the heaviest block of 2^D adjacent cells",
}


def variable_attributes(name: str, length_unit: str = "1") -> dict:
    """CF attributes (``units``, ``long_name``) of an observable stored in a Dataset.

    Parameters
    ----------
    name : str
        One of the names of :data:`MOMENT_NAMES`, ``energy_potential``,
        ``energy_interaction``, ``energy_internal``, ``peak_density``, ``peak_position``,
        ``peak_width``, ``peak_mass_fraction``.
    length_unit : str
        Units of the coordinates (``"1"``: dimensionless).

    Returns
    -------
    dict
        ``{"units": ..., "long_name": ...}``.
    """
    if name not in _LONG_NAMES:
        raise ValueError(f"name: unknown observable {name!r}; known: {sorted(_LONG_NAMES)}")
    if name in ("centre_of_mass", "peak_position"):
        units = length_unit
    elif "second_moment" in name:
        units = "1" if length_unit == "1" else f"{length_unit}2"
    else:
        units = "1"
    return {"units": units, "long_name": _LONG_NAMES[name]}


def _length_unit(units) -> str:
    units = tuple(units)
    return units[0] if units and all(u == units[0] for u in units) else "1"


def _finish(mass, first, second_axis) -> dict:
    mass = np.asarray(mass, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = first / mass[..., None]
    second = second_axis.sum(axis=-1)
    return {
        "mass": mass[()] if mass.ndim == 0 else mass,
        "centre_of_mass": mean,
        "second_moment": second[()] if np.ndim(second) == 0 else second,
        "centred_second_moment": second - mass * np.sum(mean * mean, axis=-1),
        "second_moment_axis": second_axis,
    }


def grid_moments(grid: Grid, density: np.ndarray) -> dict:
    """Mass, centre of mass and second moments of cell averages (cell-centre quadrature).

    Parameters
    ----------
    grid : Grid
        The grid.
    density : ndarray, shape (..., *grid.shape)
        Cell averages; leading axes (e.g. time) are kept.

    Returns
    -------
    dict
        ``mass`` (shape ``(...)``), ``centre_of_mass`` (``(..., D)``), ``second_moment``
        (``(...)``), ``centred_second_moment`` (``(...)``), ``second_moment_axis``
        (``(..., D)``); floats when there are no leading axes.
    """
    rho = np.asarray(density, dtype=float)
    mass = grid.integrate(rho)
    first, second = [], []
    for x in grid.mesh():
        first.append(grid.integrate(x * rho))
        second.append(grid.integrate(x * x * rho))
    out = _finish(mass, np.stack(first, axis=-1), np.stack(second, axis=-1))
    return {k: float(v) if np.ndim(v) == 0 else v for k, v in out.items()}


def particle_moments(positions: np.ndarray, weights: np.ndarray) -> dict:
    """Mass, centre of mass and second moments of a weighted point cloud.

    Parameters
    ----------
    positions : ndarray, shape (..., N, D)
        Particle positions; leading axes (time, replica) are kept.
    weights : ndarray, shape (N,)
        Particle weights (their sum is the mass).

    Returns
    -------
    dict
        As :func:`grid_moments`: ``mass``, ``centre_of_mass`` (``(..., D)``),
        ``second_moment``, ``centred_second_moment``, ``second_moment_axis`` (``(..., D)``).
    """
    x = np.asarray(positions, dtype=float)
    w = np.asarray(weights, dtype=float)
    if x.ndim < 2 or x.shape[-2] != w.shape[-1]:
        raise ValueError(
            f"positions: need shape (..., N, D) with N = {w.shape[-1]} (the weights), got {x.shape}"
        )
    mass = np.broadcast_to(w.sum(), x.shape[:-2])
    first = np.einsum("n,...nd->...d", w, x)
    second = np.einsum("n,...nd->...d", w, x * x)
    out = _finish(mass, first, second)
    return {k: float(v) if np.ndim(v) == 0 else v for k, v in out.items()}


def moments(measure) -> dict | xr.Dataset:
    """Mass, centre of mass and second moments of a measure or of every snapshot of a run.

    Parameters
    ----------
    measure : GridMeasure, ParticleMeasure or xarray.Dataset
        A measure, or a run's Dataset: a grid run (``density(time, *axes)``; the grid is read
        from its coordinates) or a particle run (``positions(time, [replica,] particle,
        component)`` and ``weights(particle)``; with ``keep_particles`` these are the moments
        of the stored particles only — record them during the run with
        :class:`~wgflow.trackers.MomentTracker` to use all of them).

    Returns
    -------
    dict or xarray.Dataset
        For a measure: ``mass``, ``second_moment``, ``centred_second_moment`` (floats),
        ``centre_of_mass`` and ``second_moment_axis`` (arrays of shape ``(D,)``). For a
        Dataset: the same names as variables over ``time`` (and ``replica``), the vectors
        along a ``component`` dimension, with ``units`` and ``long_name``.

    Examples
    --------
    >>> import wgflow as wg
    >>> cloud = wg.ParticleMeasure([[1.0, 0.0], [3.0, 0.0]], weights=[0.5, 1.5])
    >>> m = moments(cloud)
    >>> m["mass"], m["second_moment"], m["centre_of_mass"].tolist()
    (2.0, 14.0, [2.5, 0.0])
    """
    if isinstance(measure, GridMeasure):
        return grid_moments(measure.grid, measure.density)
    if isinstance(measure, ParticleMeasure):
        return particle_moments(measure.positions, measure.weights)
    if isinstance(measure, xr.Dataset):
        return _dataset_moments(measure)
    raise ValueError(
        "measure: need a GridMeasure, a ParticleMeasure or a run's xarray.Dataset, got "
        f"{type(measure).__name__}"
    )


def centre_of_mass(measure) -> np.ndarray | xr.DataArray:
    """Centre of mass ``∫xρ / ∫ρ`` of a measure or of every snapshot of a run.

    Parameters
    ----------
    measure : GridMeasure, ParticleMeasure or xarray.Dataset
        As for :func:`moments`.

    Returns
    -------
    ndarray, shape (D,), or xarray.DataArray
        For a Dataset: ``centre_of_mass(time, [replica,] component)``.
    """
    return moments(measure)["centre_of_mass"]


def _dataset_moments(ds: xr.Dataset) -> xr.Dataset:
    if "density" in ds:
        grid = Grid.from_dataset(ds)
        rho = ds["density"].transpose(..., *grid.axes)
        lead = rho.dims[: rho.ndim - grid.dim]
        values = grid_moments(grid, rho.values)
        components = list(grid.axes)
        unit = _length_unit(ds[a].attrs.get("units", "1") for a in grid.axes)
        coords = {d: ds[d] for d in lead if d in ds.coords}
    elif "positions" in ds and "weights" in ds:
        pos = ds["positions"].transpose(..., "particle", "component")
        lead = pos.dims[:-2]
        values = particle_moments(pos.values, ds["weights"].values)
        components = [str(c) for c in ds["component"].values]
        unit = ds["positions"].attrs.get("units", "1")
        coords = {d: ds[d] for d in lead if d in ds.coords}
    else:
        raise ValueError(
            "measure: the Dataset holds neither a grid run (density) nor a particle run "
            "(positions and weights)"
        )
    out = xr.Dataset(coords=coords)
    out = out.assign_coords(
        component=xr.DataArray(components, dims="component", attrs={"long_name": "coordinate"})
    )
    for name in MOMENT_NAMES:
        dims = (*lead, "component") if name in VECTOR_NAMES else lead
        out[name] = xr.DataArray(
            np.asarray(values[name]), dims=dims, attrs=variable_attributes(name, unit)
        )
    return out


def _half_maximum_edge(profile: np.ndarray, centre: int, step: int) -> float:
    """Position (in cells, centre = 0) where ``profile`` falls to half its value at ``centre``."""
    half = 0.5 * profile[centre]
    j = centre
    while 0 <= j + step < profile.size:
        nxt = j + step
        if profile[nxt] < half:
            # linear interpolation between the cell centres j (≥ half) and nxt (< half)
            frac = (profile[j] - half) / (profile[j] - profile[nxt])
            return (j - centre) + step * frac
        j = nxt
    return (j - centre) + 0.5 * step  # still above half at the wall: the cell's outer edge


def peak_statistics(grid: Grid, density: np.ndarray) -> dict:
    """How well the grid resolves the density's highest peak.

    Parameters
    ----------
    grid : Grid
        The grid.
    density : ndarray, shape grid.shape
        Non-negative cell averages with positive mass.

    Returns
    -------
    dict
        ``peak_density`` (the largest cell average), ``peak_position`` (its cell centre,
        shape ``(D,)``), ``peak_width`` (the full width at half maximum through the peak
        along each axis, by linear interpolation between cell centres, in cells; the smallest
        over the axes: a single occupied cell gives 1, a Gaussian of standard deviation ``s``
        cells about ``2.355 s``) and ``peak_mass_fraction`` (the mass of the heaviest block
        of ``2^D`` adjacent cells over the total mass: a peak collapsing onto a cell vertex
        spreads over ``2^D`` cells, a resolved Gaussian of standard deviation ``s`` cells
        gives about ``erf(1/(s√2))^D``).
    """
    rho = np.asarray(density, dtype=float)
    if rho.shape != grid.shape:
        raise ValueError(f"density: need shape {grid.shape}, got {rho.shape}")
    index = np.unravel_index(int(np.argmax(rho)), rho.shape)
    widths = []
    for k in range(grid.dim):
        line = list(index)
        line[k] = slice(None)
        profile = rho[tuple(line)]
        left = _half_maximum_edge(profile, index[k], -1)
        right = _half_maximum_edge(profile, index[k], +1)
        widths.append(right - left)
    total = float(rho.sum())
    block = np.zeros(tuple(max(n - 1, 1) for n in rho.shape))
    for offset in itertools.product((0, 1), repeat=grid.dim):
        block += rho[tuple(slice(o, n - 1 + o) for o, n in zip(offset, rho.shape, strict=True))]
    fraction = float(block.max()) / total if total > 0 else math.nan
    return {
        "peak_density": float(rho[index]),
        "peak_position": np.array([c[i] for c, i in zip(grid.coordinates, index, strict=True)]),
        "peak_width": float(min(widths)),
        "peak_mass_fraction": fraction,
    }
