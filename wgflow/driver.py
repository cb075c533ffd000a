"""The one time loop all solvers share.

A solver provides ``initial_state(initial)``, ``advance(state, t_next) -> state`` (its own
stable steps up to the next observation time), ``time(state)``, ``snapshot(state)``,
``observables(state)`` and ``to_dataset(recorder, run_parameters)``; this module does the rest
(observation times, trackers, failure handling).
"""

from __future__ import annotations

import logging

import numpy as np
import xarray as xr

from .trackers import (
    BlowUpGuard,
    ProgressBar,
    RunInterrupted,
    RunStopped,
    SnapshotRecorder,
    Tracker,
)
from .validation import check_positive

logger = logging.getLogger(__name__)


def observation_times(
    t_final: float, save_every: float | None, spacing: str = "linear", count: int = 50
) -> np.ndarray:
    """Observation times from 0 to ``t_final`` (both included).

    ``spacing="linear"``: ``0, s, 2s, …`` with ``s = save_every`` (default ``t_final/10``).
    ``spacing="log"``: 0 and ``count`` log-spaced times from ``save_every`` (default
    ``t_final/1000``) to ``t_final``.
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
    progress: bool = True,
    trackers: tuple[Tracker, ...] | list[Tracker] = (),
    run_parameters: dict | None = None,
    spacing: str = "linear",
) -> xr.Dataset:
    """Advance ``solver`` from ``initial`` to ``t_final``, observing every ``save_every``.

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
    params = {"t_final": float(t_final), "save_every": float(times[1] - times[0])}
    if spacing != "linear":
        params["spacing"] = spacing
    params.update(run_parameters or {})
    recorder = SnapshotRecorder()
    observers = [BlowUpGuard(), recorder, ProgressBar(progress), *trackers]
    state = solver.initial_state(initial)
    for tracker in observers:
        tracker.start(solver, state, float(times[-1]))

    def partial() -> xr.Dataset | None:
        if not recorder.times:
            return None
        ds = solver.to_dataset(recorder, params)
        ds.attrs["status"] = "incomplete"
        return ds

    try:
        for t in times:
            if t > solver.time(state):
                state = solver.advance(state, float(t))
            for tracker in observers:
                tracker.handle(solver, state, float(t))
    except RunStopped as exc:
        exc.dataset = partial()
        logger.error("%s", exc)
        raise
    except KeyboardInterrupt as exc:
        stop = RunInterrupted(solver.time(state))
        stop.dataset = partial()
        raise stop from exc
    finally:
        for tracker in observers:
            tracker.finish()
    ds = solver.to_dataset(recorder, params)
    ds.attrs["status"] = "complete"
    return ds
