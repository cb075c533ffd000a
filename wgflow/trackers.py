"""Run observers called by :func:`wgflow.driver.run` at every observation time."""

from __future__ import annotations

import logging
import math
import time as _time

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from . import io
from .docstrings import copy_docstrings
from .errors import BlowUpError, BoundaryReached, TargetReached, WallTimeExceeded

logger = logging.getLogger(__name__)


class Tracker:
    """Base observer: ``start`` once, ``handle`` at each observation time, ``finish`` at the end.

    Subclasses' methods without a docstring of their own inherit these.
    """

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        copy_docstrings(cls, (Tracker,))

    def start(self, solver, state, t_final: float) -> None:
        """Called once before the first observation.

        Parameters
        ----------
        solver : wgflow.solver.Solver
            The solver running.
        state : State
            Its initial state.
        t_final : float
            The run's final time.
        """

    def handle(self, solver, state, t: float) -> None:
        """Called at each observation time; may raise a :class:`~wgflow.RunStopped`.

        Parameters
        ----------
        solver : wgflow.solver.Solver
            The solver running.
        state : State
            The state at ``t``.
        t : float
            The observation time.
        """

    def finish(self) -> None:
        """Called once when the run ends, however it ends."""


class SnapshotRecorder(Tracker):
    """Keeps ``(t, solver.snapshot(state), solver.observables(state))`` at each observation.

    Observables are computed once per observation and checked first: a non-finite one stops
    the run (:class:`BlowUpError`) before the bad state is recorded.
    """

    def __init__(self) -> None:
        self.times: list[float] = []
        self.snapshots: list = []
        self.observables: list[dict] = []

    def handle(self, solver, state, t):
        observables = solver.observables(state)
        check_finite(observables, t)
        self.times.append(float(solver.time(state)))
        self.snapshots.append(solver.snapshot(state))
        self.observables.append(observables)


def check_finite(observables: dict, t: float) -> None:
    """Raise :class:`BlowUpError` naming the first non-finite observable.

    Parameters
    ----------
    observables : dict
        Name → value (scalar or array).
    t : float
        Time of the observation (named in the error).
    """
    for name, value in observables.items():
        if not np.all(np.isfinite(value)):
            raise BlowUpError(t, f"observable {name!r} is not finite ({value})")


class BoundaryGuard(Tracker):
    """Watches the mass in the outermost cells of a grid solver (FiniteVolume, JKO).

    A bounded grid has no-flux walls: mass that reaches them piles up instead of moving on, so
    a solution whose outermost cells hold mass is no longer the solution on the whole space.
    At each observation the fraction of the total mass in the first and last cell layer of
    every axis is computed (``wall_mass`` holds the latest, per ``(axis, side)``); above
    ``tolerance`` the guard raises :class:`~wgflow.BoundaryReached` naming the time, axis and
    side (``action="raise"``) or logs a warning once per wall (``action="warn"``).

    Parameters
    ----------
    tolerance : float
        Largest allowed fraction of the mass in one outermost layer, in ``(0, 1)``.
    sides : {"both", "upper", "lower"}
        Walls to watch (``"upper"`` for radial grids on ``[0, r_max]``, whose lower edge
        ``r = 0`` is a true boundary of the domain, not a truncation).
    action : {"raise", "warn"}
    """

    def __init__(self, tolerance: float = 1e-4, sides: str = "both", action: str = "raise"):
        if not (isinstance(tolerance, int | float) and 0 < tolerance < 1):
            raise ValueError(f"tolerance: need a fraction in (0, 1), got {tolerance!r}")
        if sides not in ("both", "upper", "lower"):
            raise ValueError(f"sides: must be 'both', 'upper' or 'lower', got {sides!r}")
        if action not in ("raise", "warn"):
            raise ValueError(f"action: must be 'raise' or 'warn', got {action!r}")
        self.tolerance, self.sides, self.action = float(tolerance), sides, action
        self.wall_mass: dict[tuple[str, str], float] = {}
        self._warned: set[tuple[str, str]] = set()

    def start(self, solver, state, t_final):
        if not hasattr(solver, "grid") or not hasattr(solver, "density"):
            raise ValueError("trackers: BoundaryGuard needs a grid solver (FiniteVolume, JKO)")
        self.handle(solver, state, solver.time(state))

    def handle(self, solver, state, t):
        rho = np.asarray(solver.density(state))
        total = float(rho.sum())
        if not total > 0:
            return
        sides = {"both": ("lower", "upper"), "upper": ("upper",), "lower": ("lower",)}
        for k, axis in enumerate(solver.grid.axes):
            for side in sides[self.sides]:
                layer = np.take(rho, 0 if side == "lower" else -1, axis=k)
                fraction = float(layer.sum()) / total
                self.wall_mass[axis, side] = fraction
                if fraction <= self.tolerance:
                    continue
                message = (
                    f"{fraction:.2e} of the mass is in the {side} outermost cells of axis "
                    f"{axis!r} (tolerance {self.tolerance:.1e}): the grid's wall distorts the "
                    "solution; enlarge the domain"
                )
                if self.action == "raise":
                    raise BoundaryReached(t, message, axis, side)
                if (axis, side) not in self._warned:
                    self._warned.add((axis, side))
                    logger.warning("t = %.6g: %s", t, message)


class ProgressBar(Tracker):
    """A tqdm bar over simulated time (hidden when disabled or when stderr is not a terminal).

    Parameters
    ----------
    enabled : bool
        Show the bar at all.
    description : str
        Its label.
    """

    def __init__(self, enabled: bool = True, description: str = "wgflow") -> None:
        self.enabled = enabled
        self.description = description
        self.bar = None
        self._last = 0.0

    def start(self, solver, state, t_final):
        self.bar = tqdm(
            total=float(t_final),
            disable=None if self.enabled else True,
            desc=self.description,
            unit="t",
            bar_format="{l_bar}{bar}| t={n:.4g}/{total:.4g} [{elapsed}<{remaining}]",
        )

    def handle(self, solver, state, t):
        if self.bar is not None:
            self.bar.update(float(t) - self._last)
            self._last = float(t)

    def finish(self):
        if self.bar is not None:
            self.bar.close()


class WallTimeLimit(Tracker):
    """Stops the run (raises :class:`WallTimeExceeded`) after ``seconds`` of wall time.

    Parameters
    ----------
    seconds : float
        Wall-time budget, > 0.
    """

    def __init__(self, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError(f"seconds: need > 0, got {seconds}")
        self.seconds = seconds
        self._start = math.nan

    def start(self, solver, state, t_final):
        self._start = _time.perf_counter()

    def handle(self, solver, state, t):
        if _time.perf_counter() - self._start > self.seconds:
            raise WallTimeExceeded(t, f"wall-time limit of {self.seconds} s reached")


CHECKPOINT_PREFIX = "checkpoint__"


class CheckpointWriter(Tracker):
    """Rewrites ``path`` atomically with the snapshots so far and the solver state.

    Parameters
    ----------
    path : path
        The checkpoint file.
    every : float or None
        Simulated time between writes (``None``: every observation).
    recorder : SnapshotRecorder
        Source of the snapshots written.
    params : dict
        Run parameters archived with them.
    previous : xarray.Dataset, optional
        Snapshots of the run before a resume, prepended.
    """

    def __init__(self, path, every, recorder, params, previous=None) -> None:
        self.path = path
        self.every = every
        self.recorder = recorder
        self.params = params
        self.previous = previous
        self._last = -np.inf
        self.t_final = np.inf

    def start(self, solver, state, t_final):
        self.t_final = t_final
        self._last = solver.time(state)

    def handle(self, solver, state, t):
        due = self.every is None or t - self._last >= self.every * (1 - 1e-9)
        if due or t >= self.t_final:
            self.write(solver, state, "checkpoint")
            self._last = t

    def write(self, solver, state, status: str) -> None:
        """Write the checkpoint now (atomically).

        Parameters
        ----------
        solver : wgflow.solver.Solver
            The solver running.
        state : State
            The state to save.
        status : str
            Stored as the archive's ``status``.
        """
        if self.recorder.times:
            ds = combine_runs(solver.to_dataset(self.recorder, self.params, state), self.previous)
        elif self.previous is not None:  # a resumed run stopped before its first snapshot
            ds = self.previous.copy()
        else:
            return
        arrays, meta = solver.checkpoint_state(state)
        for name, value in arrays.items():
            value = np.asarray(value)
            dims = tuple(f"{CHECKPOINT_PREFIX}{name}_{k}" for k in range(value.ndim))
            ds[CHECKPOINT_PREFIX + name] = xr.DataArray(
                value, dims=dims, attrs={"units": "1", "long_name": f"solver state: {name}"}
            )
        ds.attrs["checkpoint_time"] = float(solver.time(state))
        ds.attrs["checkpoint_state"] = io.to_json(meta)
        ds.attrs["status"] = status
        io.save(ds, self.path)


def combine_runs(new: xr.Dataset, previous: xr.Dataset | None) -> xr.Dataset:
    """Append the snapshots of ``new`` to those of ``previous`` along ``time``.

    Parameters
    ----------
    new : xarray.Dataset
        Snapshots of the resumed part.
    previous : xarray.Dataset or None
        Snapshots before the resume.

    Returns
    -------
    xarray.Dataset
        One run, with ``new``'s attributes.
    """
    if previous is None:
        return new
    timeless = [name for name in new.data_vars if "time" not in new[name].dims]
    combined = xr.concat(
        [previous, new.drop_vars(timeless)],
        dim="time",
        data_vars="minimal",
        coords="minimal",
        compat="override",
        join="outer",
        combine_attrs="override",
    )
    combined.attrs = dict(new.attrs)
    return combined


class StopWhenBelow(Tracker):
    """Stops the run (raises :class:`TargetReached`) once ``observable ≤ target``.

    For arrays every entry must be below (e.g. all SGD replicas). The stopping snapshot is
    recorded.

    Parameters
    ----------
    observable : str
        Name of one of the solver's observables (e.g. ``risk``).
    target : float
        Finite threshold.
    """

    def __init__(self, observable: str, target: float) -> None:
        if not np.isfinite(target):
            raise ValueError(f"target: need a finite number, got {target}")
        self.observable = observable
        self.target = float(target)

    def handle(self, solver, state, t):
        values = solver.observables(state)
        if self.observable not in values:
            raise ValueError(f"observable: {self.observable!r} is not one of {sorted(values)}")
        if np.all(np.asarray(values[self.observable]) <= self.target):
            raise TargetReached(t, f"{self.observable} ≤ {self.target:.6g}")
