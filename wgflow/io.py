"""Result schema (CF-1.10 xarray Datasets), provenance, and atomic netCDF archives."""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

import numpy as np
import xarray as xr

from .compilation import package_version
from .grid import Grid
from .outputs import check_output, remove_stale_temporaries, temporary_prefix
from .threads import PARALLEL_MIN_ITEMS, usable_cpus

# dimensionless time (t = kε for SGD): CF's standard_name "time" would need time units, so the
# coordinate is marked as the T axis instead
TIME_ATTRS = {"units": "1", "long_name": "time", "axis": "T"}
CF_AXES = ("X", "Y", "Z")
_DEPENDENCIES = ("numpy", "scipy", "numba", "xarray", "netCDF4", "pot", "matplotlib", "tqdm")


def versions() -> dict[str, str]:
    """Versions of wgflow and its runtime dependencies.

    Returns
    -------
    dict of str -> str
        Package name → version (``"not installed"`` when absent).
    """
    out = {"wgflow": package_version("wgflow"), "python": _python_version()}
    for name in _DEPENDENCIES:
        out[name] = package_version(name)
    return out


def numba_environment() -> dict:
    """Numba version, threading layer, thread count, CPU and its vector features.

    Like py-pde's ``numba_environment``: what a bug report needs.

    Returns
    -------
    dict
        ``version``, ``threads``, ``layer``, ``cpu``, ``cpu_features``, ``usable_cpus``,
        ``parallel_min_items`` (smallest grid run on the threads).
    """
    import llvmlite.binding as llvm
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet: numba picks at the first one
        wanted = str(numba.config.THREADING_LAYER)
        layer = f"not chosen yet ({wanted}: tbb, omp or workqueue at the first parallel kernel)"
    features = llvm.get_host_cpu_features()
    vector = [f for f in ("sse4.2", "avx", "avx2", "fma", "avx512f", "neon") if features.get(f)]
    return {
        "version": numba.__version__,
        "threads": int(numba.get_num_threads()),
        "layer": layer,
        "cpu": llvm.get_host_cpu_name(),
        "cpu_features": " ".join(vector) or "none detected",
        "usable_cpus": usable_cpus(),
        "parallel_min_items": int(PARALLEL_MIN_ITEMS),
    }


def _python_version() -> str:
    import platform

    return platform.python_version()


class _JSONEncoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, np.integer):
            return int(o)
        if isinstance(o, np.floating):
            return float(o)
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        if isinstance(o, tuple | set):
            return list(o)
        return super().default(o)


def to_json(data) -> str:
    """JSON text for archive attributes (numpy scalars and arrays allowed).

    Parameters
    ----------
    data : object
        Nested dicts, lists, numbers, strings, numpy scalars and arrays.

    Returns
    -------
    str
        Sorted-key JSON.
    """
    return json.dumps(data, cls=_JSONEncoder, sort_keys=True)


def grid_coords(grid: Grid) -> dict[str, xr.DataArray]:
    """Cell-centre coordinates with CF attributes (``axis``, ``bounds``, ``units``).

    Parameters
    ----------
    grid : Grid
        The grid.

    Returns
    -------
    dict of str -> xarray.DataArray
        One coordinate per grid axis.
    """
    coords = {}
    for k, (name, centres, unit) in enumerate(
        zip(grid.axes, grid.coordinates, grid.units, strict=True)
    ):
        attrs = {"units": unit, "long_name": f"{name} (cell centre)", "bounds": f"{name}_bnds"}
        if k < len(CF_AXES):
            attrs["axis"] = CF_AXES[k]
        coords[name] = xr.DataArray(centres, dims=name, attrs=attrs)
    return coords


def grid_bounds(grid: Grid) -> dict[str, xr.DataArray]:
    """``<axis>_bnds`` variables of shape ``(n, 2)`` holding each cell's edges.

    Per CF §7.1 bounds inherit ``units`` from their coordinate (xarray drops it on decode),
    so they carry only ``long_name``.

    Parameters
    ----------
    grid : Grid
        The grid.

    Returns
    -------
    dict of str -> xarray.DataArray
        One bounds variable per grid axis.
    """
    out = {}
    for name, edges in zip(grid.axes, grid.edges, strict=True):
        b = np.stack([edges[:-1], edges[1:]], axis=-1)
        out[f"{name}_bnds"] = xr.DataArray(
            b, dims=(name, "nv"), attrs={"long_name": f"{name} cell edges"}
        )
    return out


def density_dataset(grid: Grid, times, densities, series: dict) -> xr.Dataset:
    """Result Dataset of a grid solver: ``density(time, *axes)``, time series and cell bounds.

    Parameters
    ----------
    grid : Grid
        The solver's grid (coordinates and bounds).
    times : sequence of float
        Observation times.
    densities : sequence of ndarray, each of shape ``grid.shape``
        Cell averages at those times.
    series : dict of name -> (values, long_name)
        Dimensionless time series stored as ``name(time)``.

    Returns
    -------
    xarray.Dataset
        Without global attributes (the solver base adds the provenance).
    """
    coords = {"time": xr.DataArray(np.array(times), dims="time", attrs=TIME_ATTRS)}
    coords.update(grid_coords(grid))
    ds = xr.Dataset(coords=coords)
    stacked = np.stack(densities)
    mass = float(stacked[0].sum() * grid.cell_volume) if len(stacked) else 1.0
    long_name = (
        "probability density (cell average)"
        if abs(mass - 1.0) <= 1e-8
        else f"density of mass {mass:.4g} (cell average)"
    )
    ds["density"] = xr.DataArray(
        stacked, dims=("time", *grid.axes), attrs={"units": "1", "long_name": long_name}
    )
    for name, (values, long_name) in series.items():
        ds[name] = xr.DataArray(
            np.asarray(values), dims="time", attrs={"units": "1", "long_name": long_name}
        )
    for name, var in grid_bounds(grid).items():
        ds[name] = var
    return ds


def provenance(title: str, problem: str, solver: str, parameters: dict) -> dict:
    """Global attributes required by the archive schema (docs/conventions.rst, "Archives").

    Parameters
    ----------
    title : str
        What the archive holds.
    problem : str
        Problem name.
    solver : str
        Solver (or study) name.
    parameters : dict
        Every input needed to rerun, stored as JSON.

    Returns
    -------
    dict
        ``Conventions``, ``title``, ``wgflow_version``, ``problem``, ``solver``,
        ``parameters``, ``created``, ``history``, ``versions``, ``numba_environment``.
    """
    now = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    vers = versions()
    return {
        "Conventions": "CF-1.10",
        "title": title,
        "wgflow_version": vers["wgflow"],
        "problem": problem,
        "solver": solver,
        "parameters": to_json(parameters),
        "created": now,
        "history": f"{now} created by wgflow {vers['wgflow']} ({solver})",
        "versions": to_json(vers),
        "numba_environment": to_json(numba_environment()),
    }


def parameters(ds: xr.Dataset) -> dict:
    """Decode the ``parameters`` JSON attribute of an archive.

    Parameters
    ----------
    ds : xarray.Dataset
        A wgflow archive.

    Returns
    -------
    dict
        Every input needed to rerun it.
    """
    try:
        return json.loads(ds.attrs["parameters"])
    except KeyError as exc:
        raise ValueError("ds: has no 'parameters' attribute (not a wgflow archive?)") from exc


def check_attributes(ds: xr.Dataset) -> None:
    """Refuse attributes netCDF cannot hold, on the dataset and on each variable.

    Parameters
    ----------
    ds : xarray.Dataset
        The dataset to be archived.

    Raises
    ------
    ValueError
        Naming the attribute and its owner (bool, None, dict, text with NUL, …).
    """
    _check_attrs("the dataset", ds.attrs)
    for name, var in ds.variables.items():
        _check_attrs(f"variable {name!r}", var.attrs)


def _check_attrs(owner: str, attrs: dict) -> None:
    for key, value in attrs.items():
        ok = isinstance(value, str | int | float | np.number) and not isinstance(value, bool)
        if isinstance(value, np.ndarray | list | tuple):
            arr = np.asarray(value)
            ok = arr.ndim == 1 and arr.dtype.kind in "iuf"
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(
                    f"ds: attribute {key!r} of {owner} is not valid UTF-8 text ({exc.reason})"
                ) from exc
        if isinstance(value, str) and "\x00" in value:
            raise ValueError(
                f"ds: attribute {key!r} of {owner} contains a NUL character, which netCDF "
                "strings cannot hold (it would be truncated)"
            )
        if not ok:
            raise ValueError(
                f"ds: attribute {key!r} of {owner} is a {type(value).__name__}; netCDF attributes "
                "hold only strings, numbers and 1-D numeric arrays (put it in 'parameters' JSON)"
            )


def save(ds: xr.Dataset, path: str | os.PathLike, float32: bool = False) -> Path:
    """Write ``ds`` to a compressed netCDF4 file, atomically.

    The file is written to a temporary name in the same folder and renamed over ``path`` only
    when complete, so an interrupted save never leaves a broken archive. ``time`` (if present) is
    the unlimited dimension; variables are zlib-compressed (level 4) and chunked along ``time``.

    Parameters
    ----------
    ds : xarray.Dataset
        The result to archive; its attributes must be netCDF types (see Raises).
    path : str or path-like
        Destination file; written to a temporary file first, then renamed.
    float32 : bool
        Store floating-point data variables with ≥ 2 dimensions as float32 (about half the size,
        relative error ~3e-8); recorded in each variable's ``storage_precision`` attribute.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        ``path`` is a folder, empty, or in a missing or unwritable folder; a name too long once
        the temporary suffix is added; an attribute netCDF cannot hold.
    OSError
        ``errno.ENOSPC`` "no space left on device writing …" when the file system is full
        (netCDF itself says only "HDF error"); ``path`` is left as it was.

    Notes
    -----
    Temporary files of writers killed mid-write (``.<name>.<pid>.*.tmp`` whose process is
    gone) are removed first.
    """
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"ds: need an xarray.Dataset, got {type(ds).__name__}")
    path = check_output(path, "path", suffixes=None)
    folder = path.parent if str(path.parent) else Path(".")
    _check_attrs("the dataset", ds.attrs)
    ds = ds.copy()
    encoding = {}
    # CF §7.1: cell bounds hold no missing values, so they get no _FillValue
    bounds = {v.attrs["bounds"] for v in ds.variables.values() if "bounds" in v.attrs}
    for name, var in ds.variables.items():
        _check_attrs(f"variable {name!r}", var.attrs)
        enc: dict = {}
        if var.dtype.kind in "iuf":
            enc = {"zlib": True, "complevel": 4}
            if "time" in var.dims and var.ndim > 1:
                enc["chunksizes"] = tuple(1 if d == "time" else ds.sizes[d] for d in var.dims)
        if float32 and var.dtype == np.float64 and var.ndim >= 2 and name not in ds.coords:
            enc["dtype"] = "float32"
            ds[name].attrs["storage_precision"] = "float32"
        if var.dtype.kind == "f" and name not in ds.coords and name not in bounds:
            enc["_FillValue"] = np.nan
        elif var.dtype.kind in "f":
            enc["_FillValue"] = None
        encoding[name] = enc
    unlimited = {"time"} if "time" in ds.dims else set()
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=folder)
    os.close(fd)
    with _deferred_sigint():  # Ctrl-C inside HDF5 can leave the library locked
        try:
            ds.to_netcdf(
                tmp, engine="netcdf4", format="NETCDF4", encoding=encoding, unlimited_dims=unlimited
            )
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            full = _disk_full(exc, folder, ds) if isinstance(exc, OSError | RuntimeError) else None
            if full is not None:
                message = f"no space left on device writing {str(path)!r}: {full}"
                raise OSError(errno.ENOSPC, message) from exc
            raise
    return path


def _disk_full(exc: BaseException, folder: Path, ds: xr.Dataset) -> str | None:
    """Why a write failed when the file system is full (netCDF says only "HDF error").

    Returns the explanation, or ``None`` when the failure is not a full disk. A full disk is
    an error whose ``errno`` is ENOSPC/EDQUOT, or a failure with less room left on the folder's
    file system than the dataset's uncompressed size plus 1 MiB (HDF5's metadata).
    """
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    needed = int(ds.nbytes)
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        room = "" if free is None else f"{_size(free)} free, "
        return f"{room}the dataset holds {_size(needed)} uncompressed ({reason})"
    if free is not None and free < needed + 2**20:  # HDF5 needs room for its metadata too
        return f"{_size(free)} free, the dataset holds {_size(needed)} uncompressed ({reason})"
    return None


def _size(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1000
    return f"{n} GB"  # pragma: no cover


@contextlib.contextmanager
def _deferred_sigint():
    """Hold SIGINT until the block ends, then raise KeyboardInterrupt if one arrived."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda *args: received.append(args))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def open(path: str | os.PathLike) -> xr.Dataset:  # noqa: A001 - mirrors xarray.open_dataset
    """Read a wgflow archive fully into memory (the file is closed on return).

    Parameters
    ----------
    path : str or path-like
        A netCDF file written by :func:`save` (or any netCDF file xarray can read).

    Returns
    -------
    xarray.Dataset
        The archive, loaded (no file handle stays open).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a readable netCDF archive, or not a regular file.
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path: need a file path (str or path-like), got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"path: {str(path)!r} is a folder, not a netCDF file")
    if not path.is_file():
        if path.exists():
            raise ValueError(f"path: {str(path)!r} is not a regular file (a device or a pipe?)")
        raise FileNotFoundError(f"path: no such file {str(path)!r}")
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            return ds.load()
    except _READ_ERRORS as exc:  # a damaged file fails inside HDF5 or the decoders
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(
            f"path: {str(path)!r} is not a readable netCDF file (damaged or truncated? {reason})"
        ) from exc


# what netCDF4/HDF5 and xarray's decoders raise on damaged bytes
_READ_ERRORS = (
    OSError,
    RuntimeError,
    ValueError,
    AttributeError,
    KeyError,
    IndexError,
    TypeError,
    UnicodeError,
    OverflowError,
)
