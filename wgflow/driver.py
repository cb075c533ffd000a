"""The one time loop all solvers share.

A solver (a :class:`wgflow.solver.Solver`) provides ``initial_state(initial)``,
``advance(state, t_next) -> state`` (its own stable steps up to the next observation time),
``time(state)``, ``snapshot(state)``, ``observables(state)``,
``to_dataset(recorder, run_parameters, state)``, ``check_parameters(archived, path)`` and, for
checkpoints, ``checkpoint_state(state) -> (arrays, meta)`` and ``restore_state(arrays, meta)``;
this module does the rest (observation times, trackers, failure handling).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os

import numpy as np
import xarray as xr

from . import io
from .errors import BlowUpError, ParameterError, RunInterrupted, RunStopped
from .outputs import OutputLock, check_output
from .resources import check_run_size
from .trackers import CHECKPOINT_PREFIX as _PREFIX
from .trackers import (
    CheckpointWriter,
    ProgressBar,
    SnapshotRecorder,
    Tracker,
    combine_runs,
)
from .validation import check_bool, check_positive

logger = logging.getLogger(__name__)

#: most observation times one run may ask for (each holds a snapshot)
MAX_OBSERVATIONS = 10**7


def observation_times(
    t_final: float, save_every: float | None, spacing: str = "linear", count: int = 50
) -> np.ndarray:
    """Observation times from 0 to ``t_final`` (both included).

    ``spacing="linear"``: ``0, s, 2s, …`` with ``s = save_every`` (default ``t_final/10``).
    ``spacing="log"``: 0 and ``count`` log-spaced times from ``save_every`` (default
    ``t_final/1000``) to ``t_final``.

    Parameters
    ----------
    t_final : float
        Last observation time (simulated time units), > 0.
    save_every : float or None
        ``spacing="linear"``: the interval between observations, in ``(0, t_final]`` (default
        ``t_final/10``); at most ``MAX_OBSERVATIONS`` intervals. ``spacing="log"``: the first
        nonzero time, in ``(0, t_final]`` (default ``t_final/1000``).
    spacing : {"linear", "log"}
        Evenly spaced times, or log-spaced ones.
    count : int
        ``spacing="log"`` only: how many log-spaced times follow 0 (a positive integer).

    Returns
    -------
    ndarray
        Shape ``(n_obs,)``: increasing times starting at 0.0 and ending exactly at ``t_final``
        (a last, shorter interval is appended when ``save_every`` does not divide ``t_final``).
    """
    t_final = check_positive("t_final", t_final)
    if spacing == "log":
        first = t_final / 1000 if save_every is None else check_positive("save_every", save_every)
        if first > t_final:
            raise ValueError(f"save_every: must lie in (0, t_final={t_final}], got {first}")
        if not isinstance(count, int) or count < 1:
            raise ValueError(f"count: need a positive integer, got {count!r}")
        return np.concatenate([[0.0], np.geomspace(first, t_final, count)])
    if spacing != "linear":
        raise ValueError(f"spacing: must be 'linear' or 'log', got {spacing!r}")
    if save_every is None:
        save_every = t_final / 10
    save_every = check_positive("save_every", save_every)
    if save_every > t_final:
        raise ValueError(f"save_every: must lie in (0, t_final={t_final}], got {save_every}")
    if t_final / save_every > MAX_OBSERVATIONS:
        raise ValueError(
            f"save_every: t_final / save_every = {t_final / save_every:.3g} observations, more "
            f"than {MAX_OBSERVATIONS:.0e}; enlarge save_every"
        )
    n = int(np.floor(t_final / save_every * (1 + 1e-12)))
    times = save_every * np.arange(n + 1)
    if t_final - times[-1] > 1e-12 * t_final:
        times = np.append(times, t_final)
    times[-1] = t_final
    return times


def run(
    solver,
    initial,
    t_final: float,
    save_every: float | None = None,
    *,
    progress: bool = True,
    trackers: tuple[Tracker, ...] | list[Tracker] = (),
    run_parameters: dict | None = None,
    spacing: str = "linear",
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float | None = None,
    overwrite: bool = False,
) -> xr.Dataset:
    """Advance ``solver`` from ``initial`` to ``t_final``, observing every ``save_every``.

    Parameters
    ----------
    solver : wgflow.solver.Solver
        The solver that integrates the flow (finite volumes, JKO, particles, SGD…).
    initial : object
        The initial condition, in the form ``solver.initial_state`` accepts (a density on the
        solver's grid, particle positions, network weights…).
    t_final : float
        Final simulated time, > 0.
    save_every : float or None
        Interval between observations (default ``t_final/10``); with ``spacing="log"``, the
        first nonzero observation time (default ``t_final/1000``). See
        :func:`observation_times`.
    progress : bool
        Show a tqdm progress bar over simulated time (only when stderr is a terminal).
    trackers : sequence of Tracker
        Extra observers called at every observation time (they may stop the run).
    run_parameters : dict or None
        Extra entries added to the run parameters stored with the dataset (after
        ``t_final``, ``save_every``…, which they may override).
    spacing : {"linear", "log"}
        Evenly spaced or log-spaced observation times.
    checkpoint : path, optional
        A netCDF file rewritten atomically with the snapshots so far and the solver's full state
        (random-generator state included) every ``checkpoint_every`` of simulated time (default:
        every observation), when the run stops early (blow-up, Ctrl-C: the last good state) and
        at the end. :func:`resume` continues from it. Checked before the run starts (a writable
        ``.nc`` file path), and claimed by an advisory lock (``<checkpoint>.lock``) for the
        run's duration: a second run on the same path is refused.
    checkpoint_every : float or None
        Simulated time between checkpoint writes, > 0 (default: every observation); needs
        ``checkpoint``.
    overwrite : bool
        Replace an existing ``checkpoint`` file (default: refuse, so that a fresh run never
        destroys a run's saved state; :func:`resume` continues it instead).

    Returns
    -------
    xarray.Dataset
        Built by ``solver.to_dataset``: one snapshot per observation time.

    Raises
    ------
    RunStopped
        A tracker or the solver stopped the run (blow-up, wall-time limit); its ``dataset``
        attribute holds the snapshots recorded before.
    RunInterrupted
        On Ctrl-C; its ``dataset`` attribute holds the snapshots recorded before.
    """
    times = observation_times(t_final, save_every, spacing)
    trackers = check_trackers(trackers)
    overwrite = check_bool("overwrite", overwrite)
    if checkpoint is None and checkpoint_every is not None:
        raise ValueError(
            "checkpoint_every: needs checkpoint= (the file to write); without it nothing is saved"
        )
    if checkpoint is not None:
        checkpoint = check_output(checkpoint, "checkpoint", (".nc",), overwrite=overwrite)
    params = {"t_final": float(t_final), "save_every": float(times[1] - times[0])}
    if spacing != "linear":
        params["spacing"] = spacing
    if checkpoint is not None:
        params["checkpoint_every"] = (
            None
            if checkpoint_every is None
            else check_positive("checkpoint_every", checkpoint_every)
        )
    params.update(run_parameters or {})
    times = solver.check_times(times)  # e.g. SGD: times on whole steps
    state = solver.initial_state(initial)
    check_run_size(solver, state, times)
    with _claimed(checkpoint):
        return _loop(solver, state, times, params, progress, trackers, checkpoint)


def _claimed(path):
    return contextlib.nullcontext() if path is None else OutputLock(path, "checkpoint")


def resume(solver, path, *, progress: bool = True, trackers=()) -> xr.Dataset:
    """Continue a run from its checkpoint file to the ``t_final`` it was started with.

    ``solver`` must be built with the same arguments as the original one (same energy or model,
    grid, step sizes, seed): ``solver.check_parameters`` refuses any difference. The checkpoint
    file keeps being updated.

    Parameters
    ----------
    solver : wgflow.solver.Solver
        A solver built like the one that wrote the checkpoint.
    path : path
        The ``.nc`` checkpoint file written by :func:`run` (``checkpoint=``); locked for the
        duration of the run.
    progress : bool
        Show a tqdm progress bar over simulated time (only when stderr is a terminal).
    trackers : sequence of Tracker
        Extra observers called at every remaining observation time.

    Returns
    -------
    xarray.Dataset
        The whole run: the checkpoint's snapshots followed by the new ones (the checkpoint's
        own dataset when it was already complete).

    Raises
    ------
    ValueError
        ``path`` is not a wgflow checkpoint.
    """
    trackers = check_trackers(trackers)
    with OutputLock(path, "path"):
        return _resume(solver, path, progress, trackers)


def check_trackers(trackers) -> list:
    """``trackers`` as a list of :class:`~wgflow.trackers.Tracker`, or a ``ParameterError``.

    Parameters
    ----------
    trackers : sequence of Tracker
        Extra observers of a run.

    Returns
    -------
    list of Tracker
        The same trackers.
    """
    if isinstance(trackers, Tracker):
        trackers = [trackers]
    if isinstance(trackers, str | bytes) or not hasattr(trackers, "__iter__"):
        raise ParameterError(f"trackers: need a sequence of Tracker, got {trackers!r}")
    out = list(trackers)
    for k, tracker in enumerate(out):
        if not isinstance(tracker, Tracker):
            raise ParameterError(
                f"trackers[{k}]: need a wgflow.trackers.Tracker, got {type(tracker).__name__} "
                f"{tracker!r}"
            )
    return out


def _resume(solver, path, progress, trackers) -> xr.Dataset:
    archive = io.open(path)
    if "checkpoint_time" not in archive.attrs:
        raise ValueError(f"path: {str(path)!r} is not a wgflow checkpoint (no checkpoint_time)")
    params = io.parameters(archive)
    arrays = {
        name[len(_PREFIX) :]: archive[name].values
        for name in archive.data_vars
        if name.startswith(_PREFIX)
    }
    meta = json.loads(archive.attrs["checkpoint_state"])
    solver.check_parameters(params, str(path))
    state = solver.restore_state(arrays, meta)
    times = observation_times(
        params["t_final"], params["save_every"], params.get("spacing", "linear")
    )
    times = solver.check_times(times)
    previous = archive.drop_vars([n for n in archive.variables if n.startswith(_PREFIX)])
    previous = previous.drop_dims([d for d in previous.dims if d.startswith(_PREFIX)])
    # the last observation time recorded (SGD observes a time between whole steps at the step
    # before it, so the solver's own time may lie just below it)
    now = float(archive.attrs.get("checkpoint_observed", solver.time(state)))
    slack = 1e-12 * max(1.0, abs(now))
    remaining = times[times > now + slack]
    previous = previous.sel(time=previous["time"] <= now + slack)
    if remaining.size == 0:
        previous.attrs["status"] = "complete"
        return previous
    new = _loop(solver, state, remaining, params, progress, trackers, path, previous)
    return new


def _loop(solver, state, times, params, progress, trackers, checkpoint, previous=None):
    recorder = SnapshotRecorder()
    # the recorder also stops on non-finite observables, before recording them
    observers = [recorder, ProgressBar(progress), *trackers]
    writer = None
    if checkpoint is not None:
        writer = CheckpointWriter(
            checkpoint, params.get("checkpoint_every"), recorder, params, previous
        )
        observers.append(writer)
    for tracker in observers:
        tracker.start(solver, state, float(times[-1]))
    last_good, last_observed = state, None

    def partial() -> xr.Dataset | None:
        if not recorder.times and previous is None:
            return None
        ds = (
            combine_runs(solver.to_dataset(recorder, params, last_good), previous)
            if recorder.times
            else previous
        )
        ds.attrs["status"] = "incomplete"
        return ds

    def save_last_good(status: str) -> None:
        if writer is not None and (recorder.times or previous is not None):
            try:
                writer.write(solver, last_good, status, last_observed)
            except Exception:  # never hide the original failure
                logger.exception("could not write the checkpoint %s", writer.path)

    try:
        for t in times:
            if t > solver.time(state):
                state = solver.advance(state, float(t))
            recorder.handle(solver, state, float(t))
            last_good, last_observed = state, float(t)
            for tracker in observers[1:]:
                tracker.handle(solver, state, float(t))
    except RunStopped as exc:
        exc.dataset = partial()
        save_last_good("stopped: " + exc.cause)
        logger.info("%s", exc)  # the caller reports it: the exception carries the message
        raise
    except KeyboardInterrupt as exc:
        stop = RunInterrupted(solver.time(last_good))
        stop.dataset = partial()
        save_last_good("interrupted")
        raise stop from exc
    except Exception as exc:
        numerical = isinstance(exc, ArithmeticError | RuntimeError | np.linalg.LinAlgError)
        if not (numerical or recorder.times or previous is not None):
            raise  # bad input found at t = 0: nothing computed, nothing to keep
        # a step failed mid-run (a singular factorization, an overflow, a user callable that
        # returned NaN at some time): wgflow's error with the time, the snapshots so far and
        # a checkpoint of the last good state; the original chained
        t_good = solver.time(last_good)
        stop = BlowUpError(
            t_good, f"the step after t = {t_good:.6g} failed: {type(exc).__name__}: {exc}"
        )
        stop.dataset = partial()
        save_last_good("stopped: " + stop.cause)
        raise stop from exc
    finally:
        for tracker in observers:
            tracker.finish()
    ds = combine_runs(solver.to_dataset(recorder, params, state), previous)
    ds.attrs["status"] = "complete"
    return ds
