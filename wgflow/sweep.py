"""Parameter sweeps on dask.distributed, combined into one Dataset, resumable from its file."""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from . import io
from .outputs import OutputLock, check_output
from .threads import single_threaded_environment, usable_cpus

logger = logging.getLogger(__name__)

STATUS_OK, STATUS_FAILED, STATUS_PENDING = "ok", "failed", "pending"
#: variables every sweep archive holds: neither a swept parameter nor a point's result
RESERVED = ("sweep_status", "sweep_error")
#: seconds to reach a ``scheduler`` address before the sweep is refused
SCHEDULER_TIMEOUT = 5.0


#: a point whose worker process dies is retried this many times, then marked failed
WORKER_RETRIES = 1


def _call(fn: Callable, point: dict):
    """Run one point; never raises (the error is returned as text)."""
    try:
        result = _as_result(fn(**point), list(point))
        return point, result, None
    except (Exception, SystemExit) as exc:  # recorded per point, the sweep goes on
        kind = type(exc).__name__
        if isinstance(exc, SystemExit):
            return point, None, f"SystemExit: fn called sys.exit({exc.code!r})"
        return point, None, f"{kind}: {exc}"


def _as_result(result, names: list[str]) -> xr.Dataset:
    """A point's return value as a Dataset netCDF can hold, or a clear error."""
    if isinstance(result, Mapping) and not isinstance(result, xr.Dataset):
        variables = {}
        for key, value in result.items():
            if isinstance(value, Mapping):
                raise TypeError(f"fn returned {key!r} as a dict; return numbers or arrays")
            try:
                variables[key] = xr.DataArray(np.asarray(value))
            except ValueError as exc:  # ragged lists
                raise ValueError(f"fn returned {key!r} as a ragged sequence ({exc})") from exc
        result = xr.Dataset(variables)
    if not isinstance(result, xr.Dataset):
        raise TypeError(f"fn must return an xarray.Dataset or a dict, got {type(result).__name__}")
    clash = sorted(set(result.variables) & set(names))
    if clash:
        raise ValueError(
            f"fn returned variable(s) {clash} named like swept parameters; rename them"
        )
    clash = sorted(set(map(str, result.dims)) & set(names))
    if clash:
        raise ValueError(
            f"fn returned dimension(s) {clash} named like swept parameters; rename them"
        )
    reserved = sorted(set(map(str, result.variables)) & set(RESERVED))
    if reserved:
        raise ValueError(f"fn returned variable(s) {reserved}, names the sweep reserves")
    for name, var in result.variables.items():
        if var.dtype.kind not in "biufUS":
            raise TypeError(
                f"fn returned {name!r} of dtype {var.dtype} (nested or mixed values); "
                "return numbers, strings or arrays of them"
            )
    io.check_attributes(result)
    return result


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
        An exception, ``sys.exit`` or a return value netCDF cannot hold (bool attribute,
        nested dict, ragged list, a variable named like a swept parameter) marks that point
        failed with the reason; a worker process that dies is retried once
        (:data:`WORKER_RETRIES`), then its point is marked failed.
    parameters : dict of name -> sequence
        The swept values (distinct, finite; numbers, strings or bools, one kind per name;
        integers within 64 bits); each name becomes a dimension of the result (``N``, ``eps``,
        ``seed``…), so it must be a netCDF name (not empty, no ``/``, no leading or trailing
        blank) and not one of :data:`RESERVED`; checked before the first point. A point whose
        result has a dimension or variable named like a swept parameter, or that cannot be
        archived with the others, is marked failed alone (the other points are kept).
    scheduler : str, optional
        ``None``: a ``LocalCluster`` on this machine (one single-threaded process per core, or
        ``n_workers``); ``"tcp://host:port"``: an existing cluster, asked for its identity
        first (refused within about :data:`SCHEDULER_TIMEOUT` seconds when nothing, or no dask
        scheduler, answers); ``"synchronous"``: no dask, points run one after the other in
        this process (debugging).
    output : path, optional
        A ``.nc`` archive rewritten atomically after each finished point (checked and locked
        before any work); rerunning with the same ``output`` skips the points already
        finished (failed ones are retried) and merges new values with the archived ones (other
        parameter names are refused).
    progress : bool
        Show a progress bar over points (only on a terminal).
    n_workers : int, optional
        Worker processes of the local cluster (default: the usable CPUs), one thread each.

    Returns
    -------
    xarray.Dataset
        The results combined over the swept dimensions (missing values NaN), with
        ``sweep_status(…)`` (``ok``/``failed``/``pending``) and ``sweep_error(…)`` (the message).

    Raises
    ------
    ValueError
        Bad ``parameters``, ``output`` or ``scheduler`` (before the first point).
    OSError
        The archive cannot be rewritten (e.g. ``ENOSPC``, a full disk); the points finished
        before stay in the last archive written.
    """
    if not callable(fn):
        raise TypeError(f"fn: need a callable, got {type(fn).__name__}")
    if not isinstance(parameters, Mapping) or not parameters:
        raise ValueError("parameters: need a non-empty dict of name -> sequence of values")
    names = [_check_name(k) for k in parameters]
    values = {k: _check_values(k, v) for k, v in parameters.items()}
    _check_scheduler(scheduler)
    points = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values.values())]
    lock = None
    if output is not None:
        output = check_output(output, "output", (".nc",))
        lock = OutputLock(output, "output")
        lock.acquire()
    try:
        return _sweep(fn, names, values, points, scheduler, output, progress, n_workers)
    finally:
        if lock is not None:
            lock.release()


def _check_name(name) -> str:
    """A swept parameter's name: text netCDF can hold as a dimension, not a reserved name."""
    if not isinstance(name, str):
        raise ValueError(f"parameters: names must be strings, got {name!r}")
    if name in RESERVED:
        raise ValueError(
            f"parameters: {name!r} is reserved for the sweep's own variables "
            f"({', '.join(RESERVED)}); rename the parameter"
        )
    if "\x00" in name:
        raise ValueError(f"parameters: name {name!r} contains a NUL character")
    import netCDF4

    try:  # netCDF's own rules (no '/', no leading or trailing blank, ≤ 256 bytes, not empty)
        with netCDF4.Dataset("name-probe.nc", "w", diskless=True, persist=False) as nc:
            nc.createDimension(name, 1)
    except (RuntimeError, ValueError, UnicodeError) as exc:
        raise ValueError(
            f"parameters: {name!r} cannot name a netCDF dimension ({exc}); use letters, digits "
            "and '_', no '/' and no leading or trailing blank"
        ) from None
    return name


def _check_scheduler(scheduler) -> None:
    """Refuse a scheduler that is neither ``None``, ``"synchronous"`` nor a reachable address.

    An address is asked for its identity first (within about :data:`SCHEDULER_TIMEOUT`
    seconds), so a wrong one — unknown scheme, no server, a server that is not a dask
    scheduler — is refused in seconds, before any point, with one message.
    """
    if scheduler is None or scheduler == "synchronous":
        return
    if not isinstance(scheduler, str):
        raise TypeError(
            f"scheduler: need None, 'synchronous' or an address string, got "
            f"{type(scheduler).__name__}"
        )
    usage = "need None (a local cluster), 'synchronous' or an address like 'tcp://host:8786'"
    scheme, sep, location = scheduler.strip().partition("://")
    if not sep:
        scheme, location = "tcp", scheduler.strip()
    known = ("tcp", "tls", "ws", "wss", "ucx")
    if scheme not in known:
        raise ValueError(
            f"scheduler: unknown address scheme {scheme!r} in {scheduler!r} (known: "
            f"{', '.join(known)}); {usage}"
        )
    host, _, port = location.rpartition(":")
    host = host.strip("[]")
    if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise ValueError(f"scheduler: no host:port in {scheduler!r}; {usage}")
    if scheme in ("tcp", "tls", "ws", "wss"):  # a refused connection or unknown host: at once
        try:
            socket.create_connection((host, int(port)), timeout=SCHEDULER_TIMEOUT).close()
        except (ConnectionRefusedError, socket.gaierror, UnicodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise ValueError(
                f"scheduler: cannot reach {scheduler!r} ({reason}); start a dask scheduler "
                "there, or leave it out for a local cluster"
            ) from None
        except OSError:  # a timeout, no route: the identity probe below says it in full
            pass
    reply = _ask_identity(scheduler, SCHEDULER_TIMEOUT)
    if isinstance(reply, BaseException):
        reason = str(reply).splitlines()[0] if str(reply) else type(reply).__name__
        raise ValueError(
            f"scheduler: no dask scheduler answers at {scheduler!r} ({type(reply).__name__}: "
            f"{reason}); start one there, or leave it out for a local cluster"
        )
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        kind = reply.get("type") if isinstance(reply, dict) else type(reply).__name__
        raise ValueError(f"scheduler: {scheduler!r} is not a dask scheduler (it is a {kind})")


def _ask_identity(address: str, timeout: float):
    """The ``identity`` reply of a dask server at ``address``, or the exception raised.

    Asked in a thread of its own (with its own event loop, so that a caller inside a running
    loop — a notebook — works too), within ``timeout`` seconds.
    """
    import asyncio

    try:
        from distributed.comm import connect
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        return ImportError(f"install the 'distributed' extra (dask[distributed]): {exc}")

    async def ask():
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    answer: list = []

    def run() -> None:
        try:
            answer.append(asyncio.run(asyncio.wait_for(ask(), 2 * timeout)))
        except BaseException as exc:  # anything a wrong address makes the comm layer raise
            answer.append(exc)

    thread = threading.Thread(target=run, name="sweep-scheduler-probe", daemon=True)
    thread.start()
    thread.join(3 * timeout)
    return answer[0] if answer else TimeoutError(f"no answer within {3 * timeout:g} s")


def _check_values(name, values) -> list:
    """Swept values: a non-empty sequence of distinct numbers, strings or bools, no NaN."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise ValueError(f"parameters: {name!r} needs a list of values, got {values!r}")
    out = [_plain(v) for v in values]
    if not out:
        raise ValueError(f"parameters: {name!r} needs at least one value")
    for v in out:
        if not isinstance(v, int | float | str | bool):
            raise ValueError(
                f"parameters: {name!r} values must be numbers, strings or bools, got {v!r}"
            )
        if isinstance(v, float) and not np.isfinite(v):
            raise ValueError(f"parameters: {name!r} values must be finite, got {v!r}")
        if isinstance(v, int) and not isinstance(v, bool) and not -(2**63) <= v < 2**63:
            raise ValueError(
                f"parameters: {name!r} value {v} does not fit a 64-bit integer (netCDF cannot "
                "hold it); pass it as a float or a string"
            )
        if isinstance(v, str) and "\x00" in v:
            raise ValueError(f"parameters: {name!r} value {v!r} contains a NUL character")
    if len({(type(v) is bool, v) for v in out}) != len(out):
        raise ValueError(f"parameters: {name!r} needs distinct values, got {out!r}")
    kinds = {"bool" if isinstance(v, bool) else "str" if isinstance(v, str) else "num" for v in out}
    if len(kinds) > 1:
        raise ValueError(f"parameters: {name!r} mixes {sorted(kinds)} values; use one kind")
    return out


def _sweep(fn, names, values, points, scheduler, output, progress, n_workers) -> xr.Dataset:
    results, errors, archived = _previous_results(output, names)
    values = _merge_values(values, archived, output)
    todo = [p for p in points if _key(p, names) not in results]
    if output is not None and len(todo) < len(points):
        logger.info(
            "sweep: %d of %d points already done in %s",
            len(points) - len(todo),
            len(points),
            output,
        )

    guard = threading.Lock()  # results/errors are read by the background saver
    archived_keys: set = set(results)  # points known to go into the archive together

    def save() -> None:
        """Rewrite the archive; a point whose result cannot join the others is failed."""
        with guard:
            snapshot = dict(results), dict(errors)
        try:
            io.save(_assemble(*snapshot, values, names, fn), output)
        except (ValueError, TypeError) as exc:  # a new point's result cannot be archived
            _fail_unarchivable(snapshot[0], exc)
            with guard:
                snapshot = dict(results), dict(errors)
            io.save(_assemble(*snapshot, values, names, fn), output)
        archived_keys.update(snapshot[0])

    def _fail_unarchivable(snapshot: dict, exc: Exception) -> None:
        """Fail the points not yet archived whose result breaks the archive: each is tried
        alone with the archived ones; when none breaks the combination, the write itself
        failed and every new point is failed with its message."""
        base = {k: snapshot[k] for k in archived_keys if k in snapshot}
        new = [k for k in snapshot if k not in archived_keys]
        broken = {}
        for key in new:
            try:
                _assemble({**base, key: snapshot[key]}, {}, values, names, fn)
            except (ValueError, TypeError) as trial:
                broken[key] = trial
        if not broken:
            broken = dict.fromkeys(new, exc)
        for key, reason in broken.items():
            message = f"{type(reason).__name__}: result cannot be archived ({reason})"
            with guard:
                results.pop(key, None)
                errors[key] = message
            point = dict(zip(names, key, strict=True))
            logger.warning("sweep point %s failed: %s", point, message)

    def record(point, result, error, saver=None):
        key = _key(point, names)
        with guard:
            if error is None:
                results[key] = result
                errors.pop(key, None)
            else:
                errors[key] = error
        if error is not None:
            logger.warning("sweep point %s failed: %s", point, error)
        if output is None:
            return
        if saver is not None:
            saver.request()
            return
        save()

    bar = tqdm(total=len(todo), disable=None if progress else True, desc="sweep", unit="point")
    try:
        if scheduler == "synchronous":
            for point in todo:
                record(*_call(fn, point))
                bar.update()
        else:
            saver = _BackgroundSaver(save if output is not None else None)
            try:
                _run_distributed(
                    fn, todo, scheduler, n_workers, lambda *a: record(*a, saver=saver), bar
                )
            finally:
                saver.close()
    finally:
        bar.close()
    return _assemble(results, errors, values, names, fn)


class _BackgroundSaver:
    """Rewrites the archive off the result loop, so each finished point is released at once
    (a dask worker that dies later then holds no finished result to recompute)."""

    def __init__(self, save) -> None:
        self._save = save
        self._wanted = threading.Event()
        self._closing = False
        self._thread = None
        if save is not None:
            self._thread = threading.Thread(target=self._loop, name="sweep-saver", daemon=True)
            self._thread.start()

    def request(self) -> None:
        self._wanted.set()

    def _loop(self) -> None:
        while not self._closing:
            self._wanted.wait()
            self._wanted.clear()
            if self._closing:
                return
            try:
                self._save()
            except Exception:  # the final save in close() raises it
                logger.exception("sweep: could not rewrite the archive")

    def close(self) -> None:
        if self._thread is None:
            return
        self._closing = True
        self._wanted.set()
        self._thread.join()
        self._save()  # the final state, in this thread: errors reach the caller


def _run_distributed(fn, todo, scheduler, n_workers, record, bar):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError("sweep: install the 'distributed' extra (dask[distributed])") from exc
    import dask

    # a task whose worker dies is retried WORKER_RETRIES times, then fails with KilledWorker
    # worker-saturation 1: a worker holds only the point it runs, so a worker that dies takes
    # no queued point down with it
    settings = {
        "distributed.scheduler.allowed-failures": WORKER_RETRIES,
        "distributed.scheduler.worker-saturation": 1.0,
    }
    with dask.config.set(settings):
        if scheduler is None:
            workers = n_workers or usable_cpus()
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                env=single_threaded_environment(),
            )
            client = Client(cluster, set_as_default=False)
        else:
            try:
                client = Client(
                    address=scheduler, set_as_default=False, timeout=f"{2 * SCHEDULER_TIMEOUT}s"
                )
            except Exception as exc:  # it answered the probe, then failed: refuse in one line
                raise ValueError(
                    f"scheduler: no dask scheduler answered at {scheduler!r} "
                    f"({type(exc).__name__}: {exc})"
                ) from None
            cluster = None
        try:
            # the client is passed explicitly, never made current: Client.as_current() sets
            # dask's global scheduler config, and the saver thread's netCDF writes (xarray asks
            # dask for its scheduler) then fail with "no Client active"
            _collect(client, fn, todo, record, bar)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def _collect(client, fn, todo, record, bar) -> None:
    """Submit every point; record each as it ends (a dead worker's point as failed)."""
    from dask.distributed import as_completed

    # pure=False: identical-looking random replicates must not be merged
    futures = {client.submit(_call, fn, point, pure=False): point for point in todo}
    # each result is gathered as soon as its point ends and released at once, so a worker
    # that dies later holds no finished result to recompute
    with client.as_current():  # as_completed finds its client here; nothing is saved yet
        finished = as_completed(futures)
    for future in finished:
        point = futures.pop(future)
        failed = future.status == "error"
        outcome = future.exception() if failed else future.result()
        future.release()
        if failed:  # the worker died (KilledWorker) or was lost
            kind = type(outcome).__name__
            message = f"{kind}: worker process died running this point"
            record(point, None, f"{message} ({WORKER_RETRIES + 1} attempts)")
        else:
            record(*outcome)
        bar.update()


def _key(point: dict, names) -> tuple:
    return tuple(_plain(point[n]) for n in names)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _previous_results(output, names) -> tuple[dict, dict, dict]:
    results: dict = {}
    errors: dict = {}
    if output is None or not Path(output).exists():
        return results, errors, {}
    try:
        archive = io.open(output)
    except ValueError as exc:
        raise ValueError(
            f"output: {str(output)!r} exists but cannot be read as a sweep archive ({exc}); "
            "move it away or choose another output"
        ) from exc
    if "sweep_status" not in archive:
        raise ValueError(f"output: {str(output)!r} exists and is not a sweep archive")
    status = archive["sweep_status"]
    if set(status.dims) != set(names):
        raise ValueError(
            f"output: {str(output)!r} sweeps {sorted(status.dims)}, this sweep {sorted(names)}; "
            "use another output (a sweep archive holds one set of parameters)"
        )
    archived = {dim: [_plain(v) for v in archive[dim].values] for dim in names}
    data = archive.drop_vars(["sweep_status", "sweep_error"])
    for index in np.ndindex(status.shape):
        sel = {dim: status[dim].values[i] for dim, i in zip(status.dims, index, strict=True)}
        if str(status.values[index]) == STATUS_OK:
            # by position: ``sel`` would read [True] on a bool axis as a mask
            where = dict(zip(status.dims, index, strict=True))
            point = data.isel(where, drop=True)
            results[tuple(_plain(sel[n]) for n in names)] = point
    return results, errors, archived


def _merge_values(values: dict, archived: dict, output) -> dict:
    """This sweep's values plus those only the archive holds (never dropped)."""
    merged = {}
    for name, new in values.items():
        old = archived.get(name, [])
        extra = [v for v in old if v not in new]
        if old and {type(v) is str for v in old} != {type(v) is str for v in new}:
            raise ValueError(
                f"parameters: {name!r} values {new!r} are not of the kind archived in "
                f"{str(output)!r} ({old!r})"
            )
        if extra:
            logger.info("sweep: %s keeps archived values %s", name, extra)
        merged[name] = old + [v for v in new if v not in old] if old else new
    return merged


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
