"""Cell-centred Cartesian grids in 1, 2 or 3 dimensions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

DEFAULT_AXES = ("x", "y", "z")


def box_averages(func, centres: np.ndarray, spacing, order: int) -> np.ndarray:
    """Averages of ``func`` over the boxes of size ``spacing`` centred at ``centres``.

    Tensor Gauss–Legendre rule with ``order`` nodes per axis (exact for polynomials of degree
    ``2 order − 1``; an even ``order`` never evaluates the centre itself).

    Parameters
    ----------
    func : callable
        Points ``(..., D)`` → values ``(...)``.
    centres : ndarray, shape (..., D)
        Centres of the boxes (one box per leading index).
    spacing : sequence of float, length D
        Side lengths of each box along the ``D`` axes (the grid's cell widths ``h_k``).
    order : int
        Gauss–Legendre nodes per axis (≥ 1); ``func`` is evaluated ``order**D`` times, each
        time on all boxes at once.

    Returns
    -------
    ndarray, shape ``centres.shape[:-1]``
        The average of ``func`` over each box.
    """
    nodes, weights = np.polynomial.legendre.leggauss(order)
    total = np.zeros(centres.shape[:-1])
    for idx in np.ndindex(*(order,) * len(spacing)):
        offset = np.array([nodes[i] * h / 2 for i, h in zip(idx, spacing, strict=True)])
        w = math.prod(weights[i] / 2 for i in idx)
        total += w * np.asarray(func(centres + offset), dtype=float)
    return total


@dataclass(frozen=True)
class Grid:
    """Uniform cell-centred grid on a box ``[lo_0, hi_0] × … × [lo_{D-1}, hi_{D-1}]``.

    Cell ``i`` along axis ``k`` covers ``[lo_k + i h_k, lo_k + (i+1) h_k]`` with
    ``h_k = (hi_k - lo_k) / n_k``; grid values are cell averages.

    Parameters
    ----------
    bounds : tuple of (float, float), length D
        Lower and upper edge of the box along each axis.
    shape : tuple of int, length D
        Number of cells along each axis (each ≥ 2).
    axes : tuple of str, length D
        Axis names, used as dimension names in Datasets (default ``x, y, z``).
    units : tuple of str, length D
        Units of each axis (CF ``units`` attribute; default ``"1"``, dimensionless).
    """

    bounds: tuple[tuple[float, float], ...]
    shape: tuple[int, ...]
    axes: tuple[str, ...]
    units: tuple[str, ...]

    def __post_init__(self) -> None:
        dim = len(self.bounds)
        if dim not in (1, 2, 3):
            raise ValueError(f"bounds: need 1, 2 or 3 axes, got {dim}")
        if len(self.shape) != dim:
            raise ValueError(f"shape: need {dim} entries to match bounds, got {len(self.shape)}")
        if len(self.axes) != dim or len(set(self.axes)) != dim:
            raise ValueError(f"axes: need {dim} distinct names, got {self.axes!r}")
        if len(self.units) != dim:
            raise ValueError(f"units: need {dim} entries, got {self.units!r}")
        for k, ((lo, hi), n) in enumerate(zip(self.bounds, self.shape, strict=True)):
            if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
                raise ValueError(f"bounds[{k}]: need finite lo < hi, got ({lo}, {hi})")
            if not math.isfinite(hi - lo):
                raise ValueError(f"bounds[{k}]: the length hi − lo overflows, got ({lo}, {hi})")
            if n < 2:
                raise ValueError(f"shape[{k}]: need at least 2 cells, got {n}")

    @classmethod
    def box(
        cls,
        bounds: Sequence[Sequence[float]],
        shape: int | Sequence[int],
        axes: Sequence[str] | None = None,
        units: str | Sequence[str] = "1",
    ) -> Grid:
        """Grid on a box.

        Parameters
        ----------
        bounds : sequence of (lo, hi)
            One finite interval per axis.
        shape : int or sequence of int
            Cells per axis (one int: the same on every axis).
        axes : sequence of str, optional
            Axis names (default ``x``, ``y``, ``z``).
        units : str or sequence of str
            Units of the coordinates (default dimensionless ``"1"``).

        Returns
        -------
        Grid
            The grid.

        Examples
        --------
        >>> Grid.box([(-5, 5), (-5, 5)], shape=128).cell_volume
        0.006103515625
        """
        try:
            bnds = tuple((float(lo), float(hi)) for lo, hi in bounds)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bounds: need a sequence of (lo, hi) pairs, got {bounds!r}") from exc
        dim = len(bnds)
        if isinstance(shape, int | np.integer) and not isinstance(shape, bool):
            shp = (int(shape),) * dim
        elif isinstance(shape, str | bytes) or not isinstance(shape, Sequence | np.ndarray):
            raise ValueError(
                f"shape: need an integer or a sequence of integers, got {type(shape).__name__} "
                f"{shape!r}"
            )
        else:
            if not all(
                isinstance(n, int | np.integer) and not isinstance(n, bool) for n in shape
            ):
                raise ValueError(f"shape: need integers (cells per axis), got {list(shape)!r}")
            shp = tuple(int(n) for n in shape)
        names = tuple(axes) if axes is not None else DEFAULT_AXES[:dim]
        unit_names = (units,) * dim if isinstance(units, str) else tuple(units)
        return cls(bnds, shp, names, unit_names)

    @property
    def dim(self) -> int:
        """Number of axes D."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Total number of cells."""
        return math.prod(self.shape)

    @cached_property
    def spacing(self) -> tuple[float, ...]:
        """Cell widths ``h_k`` along each axis."""
        return tuple((hi - lo) / n for (lo, hi), n in zip(self.bounds, self.shape, strict=True))

    @property
    def cell_volume(self) -> float:
        """Volume ``∏ h_k`` of one cell."""
        return math.prod(self.spacing)

    @cached_property
    def coordinates(self) -> tuple[np.ndarray, ...]:
        """Cell centres along each axis, a tuple of arrays of shape ``(n_k,)``."""
        return tuple(
            lo + h * (np.arange(n) + 0.5)
            for (lo, _), h, n in zip(self.bounds, self.spacing, self.shape, strict=True)
        )

    @cached_property
    def edges(self) -> tuple[np.ndarray, ...]:
        """Cell edges along each axis, arrays of shape ``(n_k + 1,)``."""
        return tuple(
            np.linspace(lo, hi, n + 1) for (lo, hi), n in zip(self.bounds, self.shape, strict=True)
        )

    def mesh(self) -> tuple[np.ndarray, ...]:
        """Coordinate arrays of the cell centres.

        Returns
        -------
        tuple of ndarray, each of shape ``self.shape``
            One per axis (``indexing="ij"``).
        """
        return tuple(np.meshgrid(*self.coordinates, indexing="ij"))

    def points(self) -> np.ndarray:
        """Cell centres.

        Returns
        -------
        ndarray, shape (*self.shape, D)
            The centres.
        """
        return np.stack(self.mesh(), axis=-1)

    def integrate(self, field: np.ndarray) -> float | np.ndarray:
        """Midpoint-rule integral ``Σ field · h^D`` over the trailing grid axes.

        Parameters
        ----------
        field : ndarray, shape (..., *self.shape)
            Cell values (leading axes are kept).

        Returns
        -------
        float or ndarray, shape (...)
            The integral.
        """
        field = np.asarray(field)
        if field.shape[field.ndim - self.dim :] != self.shape:
            raise ValueError(f"field: trailing shape must be {self.shape}, got {field.shape}")
        axes = tuple(range(field.ndim - self.dim, field.ndim))
        return np.sum(field, axis=axes) * self.cell_volume

    def cell_average(self, func, order: int = 3) -> np.ndarray:
        """Cell averages of ``func`` by tensor Gauss–Legendre quadrature.

        Parameters
        ----------
        func : callable
            Maps points of shape ``(..., D)`` to values of shape ``(...)``.
        order : int
            Nodes per axis and cell; exact for polynomials of degree ``2 order - 1``.

        Returns
        -------
        ndarray, shape ``self.shape``
            The cell averages.
        """
        return box_averages(func, self.points(), self.spacing, order)

    def interpolate(self, field: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Multilinear interpolation of cell-centre values at ``points``.

        Parameters
        ----------
        field : ndarray, shape self.shape
            Values at the cell centres.
        points : ndarray, shape (..., D)
            Inside the box; between the outermost cell centres and the box edge the nearest
            centre's value is extended (constant extrapolation).

        Returns
        -------
        ndarray, shape (...)
            The interpolated values.
        """
        from scipy.interpolate import RegularGridInterpolator

        field = np.asarray(field, dtype=float)
        if field.shape != self.shape:
            raise ValueError(f"field: need shape {self.shape}, got {field.shape}")
        points = np.asarray(points, dtype=float)
        if points.shape[-1:] != (self.dim,):
            raise ValueError(
                f"points: need a trailing axis of length {self.dim}, got {points.shape}"
            )
        if not np.all(self.contains(points)):
            raise ValueError(f"points: all must lie inside the grid's box {self.bounds}")
        lo = np.array([c[0] for c in self.coordinates])
        hi = np.array([c[-1] for c in self.coordinates])
        inside = np.clip(points, lo, hi)
        interp = RegularGridInterpolator(self.coordinates, field, method="linear")
        return interp(inside.reshape(-1, self.dim)).reshape(points.shape[:-1])

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Which points lie inside the closed box.

        Parameters
        ----------
        points : ndarray, shape (..., D)
            The points.

        Returns
        -------
        ndarray of bool, shape (...)
            The mask.
        """
        points = np.asarray(points)
        lo = np.array([b[0] for b in self.bounds])
        hi = np.array([b[1] for b in self.bounds])
        return np.all((points >= lo) & (points <= hi), axis=-1)

    def cell_index(self, points: np.ndarray) -> np.ndarray:
        """Integer cell indices of points, clipped to the grid.

        Parameters
        ----------
        points : ndarray, shape (N, D)
            The points.

        Returns
        -------
        ndarray of int, shape (N, D)
            The cell of each point along each axis.
        """
        points = np.asarray(points, dtype=float)
        lo = np.array([b[0] for b in self.bounds])
        idx = np.floor((points - lo) / np.array(self.spacing)).astype(np.int64)
        return np.clip(idx, 0, np.array(self.shape) - 1)

    def to_dict(self) -> dict:
        """JSON-serializable description (inverse of :meth:`from_dict`).

        Returns
        -------
        dict
            ``bounds``, ``shape``, ``axes``, ``units``.
        """
        return {
            "bounds": [list(b) for b in self.bounds],
            "shape": list(self.shape),
            "axes": list(self.axes),
            "units": list(self.units),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Grid:
        """Rebuild a grid from :meth:`to_dict` output.

        Parameters
        ----------
        data : dict
            ``bounds``, ``shape`` and optionally ``axes``, ``units``.

        Returns
        -------
        Grid
            The grid.
        """
        return cls.box(data["bounds"], data["shape"], data.get("axes"), data.get("units", "1"))

    @classmethod
    def from_dataset(cls, ds, axes=None) -> Grid:
        """The grid of a density archive.

        Cell centres come from the axis coordinates and edges from the ``<axis>_bnds`` variables
        (or half a cell beyond the outer centres).

        Parameters
        ----------
        ds : xarray.Dataset
            An archive with ``density(time, <axes>)``.
        axes : sequence of str, optional
            The axis names (default: the density's non-time dimensions).

        Returns
        -------
        Grid
            The grid.
        """
        axes = tuple(d for d in ds["density"].dims if d != "time") if axes is None else axes
        bounds = []
        for a in axes:
            c = np.asarray(ds[a].values, float)
            h = float(c[1] - c[0])
            bnds = ds.get(f"{a}_bnds")
            if bnds is not None:
                bounds.append((float(bnds.min()), float(bnds.max())))
            else:
                bounds.append((c[0] - h / 2, c[-1] + h / 2))
        return cls.box(bounds, [ds.sizes[a] for a in axes], axes=axes)
