"""Run observers called by :func:`wgflow.driver.run` at every observation time.

Recording trackers (:class:`RecordingTracker`: :class:`MomentTracker`,
:class:`EnergyTermsTracker`, :class:`ConcentrationGuard`) measure the solver's state at every
observation time; their values become variables of the Dataset that ``solver.run`` and
``solver.resume`` return (and of checkpoints, and of the ``dataset`` a stopped run carries).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import time as _time
import warnings

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from . import io, observables
from .docstrings import copy_docstrings
from .errors import (
    ApproximationWarning,
    BlowUpError,
    BoundaryReached,
    ConcentrationDetected,
    TargetReached,
    WallTimeExceeded,
)
from .validation import check_positive, check_real, strict_keywords

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
    side (``action="raise"``) or warns (ApproximationWarning) once per wall (``action="warn"``).

    Parameters
    ----------
    tolerance : float
        Largest allowed fraction of the mass in one outermost layer, in ``(0, 1)``.
    sides : {"both", "upper", "lower"}
        Walls to watch (``"upper"`` for radial grids on ``[0, r_max]``, whose lower edge
        ``r = 0`` is a true boundary of the domain, not a truncation).
    action : {"raise", "warn"}
    """

    @strict_keywords
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
                    warnings.warn(f"t = {t:.6g}: {message}", ApproximationWarning, stacklevel=2)


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
            self.write(solver, state, "complete" if t >= self.t_final else "checkpoint", t)
            self._last = t

    def write(self, solver, state, status: str, observed: float | None = None) -> None:
        """Write the checkpoint now (atomically).

        Parameters
        ----------
        solver : wgflow.solver.Solver
            The solver running.
        state : State
            The state to save.
        status : str
            Stored as the archive's ``status``.
        observed : float, optional
            The last observation time handled (default: the recorder's last time); a
            resume continues after it.
        """
        if observed is None:
            observed = self.recorder.times[-1] if self.recorder.times else None
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
        if observed is not None:  # else a resumed run's previous value stays
            ds.attrs["checkpoint_observed"] = float(observed)
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


# ---- recording trackers: observables stored in the run's Dataset ---------------------------

#: (solver, tracker) pairs of the runs in progress in this thread (see :func:`recording`)
_RECORDING: contextvars.ContextVar[tuple] = contextvars.ContextVar(
    "wgflow_recording_trackers", default=()
)


@contextlib.contextmanager
def recording(solver, trackers):
    """While a run of ``solver`` lasts, its Datasets include the recording trackers' values.

    :meth:`wgflow.solver.Solver.run` and :meth:`~wgflow.solver.Solver.resume` enter it around
    the time loop; :meth:`~wgflow.solver.Solver.to_dataset` (the final Dataset, checkpoints,
    the ``dataset`` of a stopped run) then calls :func:`add_recorded_variables`. A context
    variable, so concurrent runs in other threads do not see each other's trackers.

    Parameters
    ----------
    solver : wgflow.solver.Solver
        The solver running.
    trackers : sequence of Tracker
        The run's trackers (those that are not :class:`RecordingTracker` are ignored here).

    Yields
    ------
    None
        Inside the block the trackers are registered.
    """
    own = tuple((solver, t) for t in trackers if isinstance(t, RecordingTracker))
    token = _RECORDING.set(_RECORDING.get() + own)
    try:
        yield
    finally:
        _RECORDING.reset(token)


def add_recorded_variables(ds: xr.Dataset, solver, times) -> xr.Dataset:
    """Add the values of the recording trackers of ``solver``'s run in progress to ``ds``.

    Parameters
    ----------
    ds : xarray.Dataset
        The solver's variables (:meth:`~wgflow.solver.Solver.build_dataset`).
    solver : wgflow.solver.Solver
        The solver running.
    times : sequence of float
        The recorded observation times (``ds``'s ``time`` coordinate).

    Returns
    -------
    xarray.Dataset
        ``ds`` with one variable per recorded observable (unchanged outside a run).
    """
    for owner, tracker in _RECORDING.get():
        if owner is solver:
            ds = tracker.add_to(ds, times)
    return ds


class RecordingTracker(Tracker):
    """A tracker whose measurements become variables of the run's Dataset.

    At each observation time :meth:`measure` is called on the solver's state (the whole
    state: every particle and replica, not only the stored snapshot) and the values are kept
    under the state's time; the Dataset gets one variable per name over ``time`` (plus
    ``replica`` for replicated particle runs and ``component`` for vectors), with ``units``
    and ``long_name``. A time without a record (a tracker listed earlier stopped the run
    before this one measured) holds NaN: list recording trackers before stopping ones.

    The values reach the Dataset through :meth:`wgflow.solver.Solver.run` and
    :meth:`~wgflow.solver.Solver.resume` (not through a bare :func:`wgflow.driver.run`);
    they are also kept on the tracker (:attr:`records`). Pass the same trackers to
    ``resume``: the checkpoint holds the values recorded before it.

    Attributes
    ----------
    records : dict of float -> dict
        Observation time → name → value, for the latest run.
    """

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        copy_docstrings(cls, (RecordingTracker,))

    def __init__(self) -> None:
        self.records: dict[float, dict] = {}
        self.components: tuple[str, ...] = ()
        self.length_unit = "1"
        self.replicas = 1

    def start(self, solver, state, t_final):
        self.records = {}
        self.replicas = int(getattr(solver, "replicas", 1))
        if is_grid_solver(solver):
            self.components = tuple(solver.grid.axes)
            unit = set(solver.grid.units)
            self.length_unit = unit.pop() if len(unit) == 1 else "1"
        elif is_particle_state(state):
            d = np.shape(state.positions)[-1]
            names = ["x", "y", "z"][:d] if d <= 3 else [f"theta{k}" for k in range(d)]
            energy = getattr(solver, "energy", None)
            metadata = getattr(energy, "metadata", {}) or {}
            self.components = tuple(metadata.get("components", names))
            self.length_unit = "1"
        self.check(solver, state)

    def check(self, solver, state) -> None:
        """Refuse a solver this tracker cannot measure (called by :meth:`start`).

        Parameters
        ----------
        solver : wgflow.solver.Solver
            The solver about to run.
        state : State
            Its initial state.

        Raises
        ------
        ValueError
            Naming ``trackers`` and the solvers the tracker works with.
        """
        if not (is_grid_solver(solver) or is_particle_state(state)):
            raise ValueError(
                f"trackers: {type(self).__name__} needs a grid solver (FiniteVolume, JKO) or "
                f"Particles, got {type(solver).__name__}"
            )

    def handle(self, solver, state, t):
        self.records[float(solver.time(state))] = self.measure(solver, state)

    def measure(self, solver, state) -> dict:
        """The values at one observation.

        Parameters
        ----------
        solver : wgflow.solver.Solver
            The solver running.
        state : State
            The state observed.

        Returns
        -------
        dict
            Name → value: a scalar, a ``(D,)`` vector for the names of
            ``wgflow.observables.VECTOR_NAMES``, with a leading ``(R,)`` axis for replicated
            particle runs.
        """
        raise NotImplementedError

    def add_to(self, ds: xr.Dataset, times) -> xr.Dataset:
        """``ds`` with the recorded values at ``times`` as variables.

        Parameters
        ----------
        ds : xarray.Dataset
            The run's Dataset (its ``time`` coordinate is ``times``).
        times : sequence of float
            The observation times.

        Returns
        -------
        xarray.Dataset
            With one variable per recorded name; NaN at times without a record.
        """
        if not self.records:
            return ds
        example = next(iter(self.records.values()))
        times = [float(t) for t in times]
        for name, value in example.items():
            shape = np.shape(value)
            rows = [
                np.asarray(self.records[t][name], dtype=float)
                if t in self.records
                else np.full(shape, np.nan)
                for t in times
            ]
            data = np.stack(rows) if rows else np.empty((0, *shape))
            vector = name in observables.VECTOR_NAMES
            dims = ["time"]
            if len(shape) - vector == 1:
                dims.append("replica")
            if vector:
                dims.append("component")
            attrs = observables.variable_attributes(name, self.length_unit)
            ds[name] = xr.DataArray(data, dims=tuple(dims), attrs=attrs)
            if vector and "component" not in ds.coords:
                ds = ds.assign_coords(
                    component=xr.DataArray(
                        list(self.components), dims="component", attrs={"long_name": "coordinate"}
                    )
                )
        return ds

    def _squeeze(self, values: dict) -> dict:
        if self.replicas == 1:
            return {k: np.asarray(v)[0] if np.ndim(v) else v for k, v in values.items()}
        return values


def is_grid_solver(solver) -> bool:
    """Whether ``solver`` holds a density on a grid (FiniteVolume, JKO).

    Parameters
    ----------
    solver : wgflow.solver.Solver
        Any solver.

    Returns
    -------
    bool
        It has a ``grid`` and a ``density(state)`` method.
    """
    return hasattr(solver, "grid") and callable(getattr(solver, "density", None))


def is_particle_state(state) -> bool:
    """Whether ``state`` holds weighted particles (``positions (R, N, D)`` and ``weights``).

    Parameters
    ----------
    state : State
        Any solver's state.

    Returns
    -------
    bool
        It has ``positions`` and ``weights``.
    """
    return hasattr(state, "positions") and hasattr(state, "weights")


class MomentTracker(RecordingTracker):
    """Records the centre of mass and the second moments at every observation time.

    Variables (see :mod:`wgflow.observables` for the conventions): ``centre_of_mass(time,
    component)``, ``second_moment(time)`` (``∫|x|²ρ``), ``centred_second_moment(time)`` and,
    with ``per_axis``, ``second_moment_axis(time, component)`` (``∫x_k²ρ``); particle runs
    with replicas add a ``replica`` dimension. Grid solvers (FiniteVolume, JKO) measure the
    density, Particles all particles (also those ``keep_particles`` does not store).

    Parameters
    ----------
    per_axis : bool
        Also record the second moment of each coordinate.

    Examples
    --------
    >>> import wgflow as wg
    >>> from wgflow.problems import OrnsteinUhlenbeck
    >>> from wgflow.solvers import FiniteVolume
    >>> prob = OrnsteinUhlenbeck(dim=1, diffusion=0.5, mean0=[1.0], var0=0.3)
    >>> grid = wg.Grid.box([(-5, 5)], 128)
    >>> ds = FiniteVolume(prob.energy, grid).run(
    ...     prob.initial_density(grid), 0.5, trackers=[MomentTracker()], progress=False
    ... )
    >>> print(f"{float(ds['centre_of_mass'][-1, 0]):.4f} vs exact {float(prob.mean(0.5)[0]):.4f}")
    0.6065 vs exact 0.6065
    """

    @strict_keywords
    def __init__(self, per_axis: bool = True) -> None:
        super().__init__()
        if not isinstance(per_axis, bool):
            raise ValueError(f"per_axis: need True or False, got {per_axis!r}")
        self.per_axis = per_axis

    def measure(self, solver, state):
        grid = is_grid_solver(solver)
        if grid:
            values = observables.grid_moments(solver.grid, solver.density(state))
        else:
            values = observables.particle_moments(state.positions, state.weights)
        keep = [n for n in observables.MOMENT_NAMES if n != "mass"]
        if not self.per_axis:
            keep.remove("second_moment_axis")
        out = {name: np.asarray(values[name], dtype=float) for name in keep}
        return out if grid else self._squeeze(out)


class EnergyTermsTracker(RecordingTracker):
    """Records the free energy's parts at every observation time.

    Grid solvers (FiniteVolume, JKO): ``energy_potential(time)`` (``∫V dρ``),
    ``energy_interaction(time)`` (``½∫∫U dρ dρ``) and ``energy_internal(time)`` (``∫H(ρ)``),
    from :meth:`GridEnergy.terms <wgflow.GridEnergy.terms>` on the solver's grid; they add up
    to the run's ``free_energy`` (for ``JKO(method="lagrangian")``, whose ``free_energy`` is
    that of its quantiles, they are the parts of the reconstructed density's energy).

    Particles: ``energy_potential`` (``Σ w_i V(θ_i)``) and ``energy_interaction`` (the rest of
    the solver's ``particle_energy``, coincident pairs skipped), per replica; the empirical
    measure has no internal energy, so ``energy_internal`` is not recorded.

    Examples
    --------
    >>> import wgflow as wg
    >>> from wgflow.problems import OrnsteinUhlenbeck
    >>> from wgflow.solvers import FiniteVolume
    >>> prob = OrnsteinUhlenbeck(dim=1, diffusion=0.5, mean0=[1.0], var0=0.3)
    >>> grid = wg.Grid.box([(-5, 5)], 64)
    >>> ds = FiniteVolume(prob.energy, grid).run(
    ...     prob.initial_density(grid), 0.2, trackers=[EnergyTermsTracker()], progress=False
    ... )
    >>> parts = ds["energy_potential"] + ds["energy_interaction"] + ds["energy_internal"]
    >>> bool(abs(parts - ds["free_energy"]).max() < 1e-12)
    True
    """

    def check(self, solver, state):
        if is_grid_solver(solver):
            return
        if is_particle_state(state) and callable(getattr(solver, "particle_energy", None)):
            return
        raise ValueError(
            "trackers: EnergyTermsTracker needs a grid solver (FiniteVolume, JKO) or Particles, "
            f"got {type(solver).__name__}"
        )

    def measure(self, solver, state):
        if is_grid_solver(solver):
            discrete = getattr(solver, "discrete", None) or solver.energy.on_grid(solver.grid)
            parts = discrete.terms(np.asarray(solver.density(state), dtype=float))
            return {f"energy_{k}": float(v) for k, v in parts.items()}
        x = np.asarray(state.positions, dtype=float)
        w = np.asarray(state.weights, dtype=float)
        pot = solver.energy.potential_term
        potential, interaction = [], []
        for xr_ in x:
            v = 0.0
            if pot is not None and callable(pot.value):
                v = float(w @ np.asarray(pot.value(xr_), dtype=float))
            potential.append(v)
            interaction.append(float(solver.particle_energy(xr_, w)) - v)
        return self._squeeze(
            {"energy_potential": np.array(potential), "energy_interaction": np.array(interaction)}
        )


class ConcentrationGuard(RecordingTracker):
    """Stops a grid run whose density concentrates below the grid's resolution.

    A solution that blows up (a supercritical Keller–Segel density collapsing to a Dirac
    mass) or that sharpens into a peak the cells cannot resolve leaves the PDE behind on a
    grid: the mass piles into a few cells and the run goes on, silently, with a discrete
    artefact. At each observation the guard measures the highest peak
    (:func:`wgflow.observables.peak_statistics`) and raises
    :class:`~wgflow.ConcentrationDetected` (a :class:`~wgflow.BlowUpError`; its ``dataset``
    holds the snapshots so far, the stopping one included) naming the time, the criterion,
    the peak's position, width and mass fraction, when

    - the peak's full width at half maximum falls below ``min_width`` cells (a Gaussian of
      standard deviation ``s`` cells has ``2.355 s``: the default 3 fires at ``s ≈ 1.3``,
      when fewer than three cells span the peak's upper half; a peak collapsing onto a cell
      vertex keeps a width of about 2 cells by this measure, so a limit of 2 would miss it),
      or
    - at least ``mass_fraction`` of the total mass sits in one block of ``2^D`` adjacent
      cells (a block, so that a peak collapsing onto a cell vertex counts as one).

    On a supercritical Keller–Segel run (mass ``10π``, ``χ = 1``, variance 0.25, 48² cells on
    ``[−3, 3]²``) the width criterion fires at ``t ≈ 0.22`` (when the grid's second moment
    has left the exact virial line by 4 %), the mass fraction alone at ``t ≈ 0.36``; without a
    guard the run goes on to any ``t_final`` with 80 % of the mass in four cells.

    It records ``peak_density(time)``, ``peak_width(time)`` and ``peak_mass_fraction(time)``
    into the run's Dataset.

    Parameters
    ----------
    min_width : float or None
        Smallest allowed full width at half maximum, in cells, > 0 (``None``: not checked).
    mass_fraction : float or None
        Largest allowed fraction of the mass in a ``2^D`` block of cells, in ``(0, 1]``
        (``None``: not checked).
    action : {"raise", "warn"}
        Stop the run, or warn (ApproximationWarning) once and go on.

    Examples
    --------
    A supercritical Keller–Segel run (mass ``10π > 8π``) stops at its concentration:

    >>> import wgflow as wg
    >>> from wgflow.problems import KellerSegel
    >>> from wgflow.solvers import FiniteVolume
    >>> prob = KellerSegel(mass=10 * np.pi, variance=0.25)
    >>> grid = wg.Grid.box([(-3, 3)] * 2, 48)
    >>> try:
    ...     FiniteVolume(prob.energy, grid).run(
    ...         prob.initial_density(grid), 1.0, 0.02, trackers=[ConcentrationGuard()],
    ...         progress=False,
    ...     )
    ... except wg.ConcentrationDetected as stop:
    ...     print(f"stopped before t = {prob.blowup_time_bound():.2f}: {stop.time < 0.5}")
    stopped before t = 0.50: True
    """

    @strict_keywords
    def __init__(
        self,
        min_width: float | None = 3.0,
        mass_fraction: float | None = 0.5,
        action: str = "raise",
    ) -> None:
        super().__init__()
        if min_width is not None:
            min_width = check_positive("min_width", min_width)
        if mass_fraction is not None:
            mass_fraction = check_real("mass_fraction", mass_fraction, low=0, high=1, low_open=True)
        if action not in ("raise", "warn"):
            raise ValueError(f"action: must be 'raise' or 'warn', got {action!r}")
        if min_width is None and mass_fraction is None:
            raise ValueError(
                "min_width, mass_fraction: both None would guard nothing; to run on past a "
                "concentration pass action='warn'"
            )
        self.min_width = None if min_width is None else float(min_width)
        self.mass_fraction = None if mass_fraction is None else float(mass_fraction)
        self.action = action
        self._warned = False

    def check(self, solver, state):
        if not is_grid_solver(solver):
            raise ValueError(
                "trackers: ConcentrationGuard needs a grid solver (FiniteVolume, JKO), got "
                f"{type(solver).__name__}"
            )
        self._warned = False

    _RECORDED = ("peak_density", "peak_width", "peak_mass_fraction")

    def measure(self, solver, state):
        stats = observables.peak_statistics(solver.grid, solver.density(state))
        return {k: stats[k] for k in self._RECORDED}

    def handle(self, solver, state, t):
        stats = observables.peak_statistics(solver.grid, np.asarray(solver.density(state)))
        self.records[float(solver.time(state))] = {k: stats[k] for k in self._RECORDED}
        reasons = []
        if self.min_width is not None and stats["peak_width"] < self.min_width:
            reasons.append(
                f"the peak's full width at half maximum is {stats['peak_width']:.3g} cells "
                f"(< min_width = {self.min_width:g})"
            )
        if self.mass_fraction is not None and stats["peak_mass_fraction"] >= self.mass_fraction:
            reasons.append(
                f"{stats['peak_mass_fraction']:.3g} of the mass sits in 2^{solver.grid.dim} "
                f"adjacent cells (≥ mass_fraction = {self.mass_fraction:g})"
            )
        if not reasons:
            return
        where = ", ".join(
            f"{a} = {x:.4g}" for a, x in zip(solver.grid.axes, stats["peak_position"], strict=True)
        )
        message = (
            f"density concentrated below the grid's resolution at ({where}), peak density "
            f"{stats['peak_density']:.4g}: {' and '.join(reasons)}; the grid solution no longer "
            "approximates the PDE (blow-up?); refine the grid to follow it further"
        )
        if self.action == "raise":
            raise ConcentrationDetected(
                t,
                message,
                tuple(stats["peak_position"]),
                stats["peak_width"],
                stats["peak_mass_fraction"],
            )
        if not self._warned:
            self._warned = True
            warnings.warn(f"t = {t:.6g}: {message}", ApproximationWarning, stacklevel=2)


def collapses(energy) -> bool:
    """Whether ``energy`` holds an attractive Newtonian kernel in 2-D or 3-D.

    Such a flow (Keller–Segel) blows up in finite time above a critical mass, so a grid run
    must not go on silently past the concentration.

    Parameters
    ----------
    energy : wgflow.FreeEnergy or None
        The solver's energy.

    Returns
    -------
    bool
        A ``PairwiseInteraction.newtonian(chi, dim ≥ 2)`` without ``repulsive=True``.
    """
    from .interactions import RADIAL_NEWTONIAN

    for term in getattr(energy, "interactions", ()):
        radial = getattr(term, "radial", None)
        if radial is not None and radial[0] == RADIAL_NEWTONIAN:
            signed_chi, dim = radial[1][0], radial[1][1]
            if signed_chi > 0 and dim >= 2:
                return True
    return False


def with_default_guards(solver, trackers: list) -> list:
    """``trackers`` plus the guards a run needs by default.

    A grid run of an energy that can collapse (:func:`collapses`: attractive Newtonian
    kernel in 2-D/3-D) gets a :class:`ConcentrationGuard` unless one is passed (pass
    ``ConcentrationGuard(action="warn")`` to go on with a warning instead of stopping).

    Parameters
    ----------
    solver : wgflow.solver.Solver
        The solver about to run.
    trackers : list of Tracker
        The user's trackers (checked).

    Returns
    -------
    list of Tracker
        The trackers to run with.
    """
    if (
        is_grid_solver(solver)
        and collapses(getattr(solver, "energy", None))
        and not any(isinstance(t, ConcentrationGuard) for t in trackers)
    ):
        logger.info("an attractive Newtonian kernel: the run stops if its density concentrates")
        return [*trackers, ConcentrationGuard()]
    return list(trackers)
