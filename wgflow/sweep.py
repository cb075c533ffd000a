"""Parameter sweeps on dask.distributed, combined into one Dataset, resumable from its file."""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from . import io

logger = logging.getLogger(__name__)

STATUS_OK, STATUS_FAILED, STATUS_PENDING = "ok", "failed", "pending"


def _call(fn: Callable, point: dict):
    """Run one point; never raises (the error is returned as text)."""
    try:
        result = fn(**point)
        if isinstance(result, Mapping) and not isinstance(result, xr.Dataset):
            result = xr.Dataset({k: xr.DataArray(v) for k, v in result.items()})
        if not isinstance(result, xr.Dataset):
            raise TypeError(
                f"fn must return an xarray.Dataset or a dict, got {type(result).__name__}"
            )
        return point, result, None
    except Exception as exc:  # recorded per point, the sweep goes on
        return point, None, f"{type(exc).__name__}: {exc}"


def sweep(
    fn: Callable,
    parameters: Mapping[str, Sequence],
    scheduler: str | None = None,
    output: str | os.PathLike | None = None,
    progress: bool = True,
    n_workers: int | None = None,
) -> xr.Dataset:
    """Evaluate ``fn(**point)`` on the Cartesian product of ``parameters``.

    Parameters
    ----------
    fn : callable
        Picklable; returns an ``xarray.Dataset`` (or a dict of scalars/arrays) for one point.
    parameters : dict of name -> sequence
        The swept values; each name becomes a dimension of the result (``N``, ``eps``, ``seed``…).
    scheduler : str, optional
        ``None``: a ``LocalCluster`` on this machine (one single-threaded process per core, or
        ``n_workers``); ``"tcp://host:port"``: an existing cluster; ``"synchronous"``: no dask,
        points run one after the other in this process (debugging).
    output : path, optional
        A netCDF archive rewritten atomically after each finished point; rerunning with the
        same ``output`` skips the points already finished (failed ones are retried).
    progress : bool
        Show a progress bar over points (only on a terminal).
    n_workers : int, optional
        Worker processes of the local cluster (default: the usable CPUs), one thread each.

    Returns
    -------
    xarray.Dataset
        The results combined over the swept dimensions (missing values NaN), with
        ``sweep_status(…)`` (``ok``/``failed``/``pending``) and ``sweep_error(…)`` (the message).
    """
    if not callable(fn):
        raise TypeError(f"fn: need a callable, got {type(fn).__name__}")
    if not isinstance(parameters, Mapping) or not parameters:
        raise ValueError("parameters: need a non-empty dict of name -> sequence of values")
    names = list(parameters)
    values = {k: list(v) for k, v in parameters.items()}
    for k, v in values.items():
        if not v or len(set(v)) != len(v):
            raise ValueError(f"parameters: {k!r} needs distinct values, got {v!r}")
    points = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values.values())]
    results, errors = _previous_results(output, names)
    todo = [p for p in points if _key(p, names) not in results]
    if output is not None and len(todo) < len(points):
        logger.info(
            "sweep: %d of %d points already done in %s",
            len(points) - len(todo),
            len(points),
            output,
        )

    def record(point, result, error):
        key = _key(point, names)
        if error is None:
            results[key] = result
            errors.pop(key, None)
        else:
            errors[key] = error
            logger.warning("sweep point %s failed: %s", point, error)
        if output is not None:
            io.save(_assemble(results, errors, values, names, fn), output)

    bar = tqdm(total=len(todo), disable=None if progress else True, desc="sweep", unit="point")
    try:
        if scheduler == "synchronous":
            for point in todo:
                record(*_call(fn, point))
                bar.update()
        else:
            _run_distributed(fn, todo, scheduler, n_workers, record, bar)
    finally:
        bar.close()
    return _assemble(results, errors, values, names, fn)


def _run_distributed(fn, todo, scheduler, n_workers, record, bar):
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError("sweep: install the 'distributed' extra (dask[distributed])") from exc
    if scheduler is None:
        workers = n_workers or os.cpu_count() or 1
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    else:
        cluster, client = None, Client(address=scheduler)
    try:
        # pure=False: identical-looking random replicates must not be merged
        futures = [client.submit(_call, fn, point, pure=False) for point in todo]
        for future in as_completed(futures):
            record(*future.result())
            bar.update()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _key(point: dict, names) -> tuple:
    return tuple(_plain(point[n]) for n in names)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _previous_results(output, names) -> tuple[dict, dict]:
    results: dict = {}
    errors: dict = {}
    if output is None or not Path(output).exists():
        return results, errors
    archive = io.open(output)
    if "sweep_status" not in archive:
        raise ValueError(f"output: {str(output)!r} exists and is not a sweep archive")
    status = archive["sweep_status"]
    data = archive.drop_vars(["sweep_status", "sweep_error"])
    for index in np.ndindex(status.shape):
        sel = {dim: status[dim].values[i] for dim, i in zip(status.dims, index, strict=True)}
        if str(status.values[index]) == STATUS_OK:
            point = data.sel({k: [v] for k, v in sel.items()})
            results[tuple(_plain(sel[n]) for n in names)] = point.squeeze(list(sel), drop=True)
    return results, errors


def _assemble(results: dict, errors: dict, values: dict, names: list, fn) -> xr.Dataset:
    pieces = []
    for key, ds in results.items():
        coords = {n: [v] for n, v in zip(names, key, strict=True)}
        pieces.append(ds.expand_dims(coords))
    combined = (
        xr.combine_by_coords(pieces, join="outer", combine_attrs="drop_conflicts")
        if pieces
        else xr.Dataset()
    )
    combined = (
        combined.reindex({n: values[n] for n in names})
        if pieces
        else xr.Dataset(coords={n: values[n] for n in names})
    )
    shape = tuple(len(values[n]) for n in names)
    status = np.full(shape, STATUS_PENDING, dtype=object)
    message = np.full(shape, "", dtype=object)
    for index in np.ndindex(shape):
        key = tuple(_plain(values[n][i]) for n, i in zip(names, index, strict=True))
        if key in results:
            status[index] = STATUS_OK
        elif key in errors:
            status[index], message[index] = STATUS_FAILED, errors[key]
    combined["sweep_status"] = xr.DataArray(
        status.astype(str), dims=names, attrs={"long_name": "status of each sweep point"}
    )
    combined["sweep_error"] = xr.DataArray(
        message.astype(str), dims=names, attrs={"long_name": "error of a failed point"}
    )
    for n in names:
        combined[n].attrs.setdefault("long_name", f"swept parameter {n}")
        combined[n].attrs.setdefault("units", "1")
    target = f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"
    combined.attrs.update(
        io.provenance(
            f"parameter sweep of {target}",
            "sweep",
            "wgflow.sweep",
            {"function": target, "parameters": values},
        )
    )
    combined.attrs["sweep_function"] = target
    combined.attrs["sweep_parameters"] = io.to_json(values)
    return combined
