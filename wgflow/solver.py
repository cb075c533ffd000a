"""The one base class of every solver: ``run``, ``resume``, provenance and the resume check.

A solver implements only its numerics and its State (see ``docs/architecture.rst``):

- ``parameters()``: every setting that determines the result, JSON-serializable (archived as
  the ``parameters`` attribute; :meth:`Solver.resume` refuses a checkpoint whose settings
  differ);
- ``initial_state(initial) -> State``: validate the initial condition, build the State (which
  holds all per-run data: time, values, weights, random-generator states, …);
- ``advance(state, t_next) -> State``: its own stable steps up to exactly ``t_next``;
- ``time(state)``, ``snapshot(state)``, ``observables(state)``;
- ``build_dataset(recorder, state) -> xarray.Dataset``: the recorded variables (no attributes);
- ``checkpoint_state(state) -> (arrays, meta)`` and ``restore_state(arrays, meta) -> State``.

The time loop, trackers and failure handling live in :mod:`wgflow.driver`.
"""

from __future__ import annotations

import abc
import json
import os
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from . import driver, io
from .docstrings import copy_docstrings
from .errors import WgflowWarning
from .fingerprint import UNCOMPARABLE
from .reprs import ParametersRepr
from .reprs import short as _short
from .trackers import Tracker, add_recorded_variables, recording, with_default_guards
from .validation import strict_keywords

__all__ = ["Solver", "parameter_differences"]


class Solver(ParametersRepr, abc.ABC):
    """Base class of FiniteVolume, JKO, Particles and SGD (one ``run`` signature for all).

    A subclass's protocol methods without a docstring of their own inherit the base's.
    """

    #: name stored in the archives' ``solver`` attribute
    name: ClassVar[str] = "Solver"
    #: what the archive holds, after "<problem>: "
    title: ClassVar[str] = "solution"

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        copy_docstrings(cls, (Solver,))

    # ---- what a solver implements --------------------------------------------------------
    @abc.abstractmethod
    def parameters(self) -> dict:
        """Every setting that determines the result.

        Returns
        -------
        dict
            JSON-serializable; archived as the ``parameters`` attribute and compared by
            :meth:`resume`.
        """

    @abc.abstractmethod
    def initial_state(self, initial) -> Any:
        """Validate ``initial`` and build the solver's State at ``t = 0``.

        Parameters
        ----------
        initial : object
            The initial condition (see the solver's Notes); ``None`` where it has a default.

        Returns
        -------
        State
            All per-run data at ``t = 0``.
        """

    @abc.abstractmethod
    def advance(self, state, t_next: float):
        """Step from ``time(state)`` to exactly ``t_next``.

        Parameters
        ----------
        state : State
            The current state (not modified).
        t_next : float
            The next observation time.

        Returns
        -------
        State
            The state at ``t_next``.
        """

    @abc.abstractmethod
    def snapshot(self, state):
        """What is stored at each observation time.

        Parameters
        ----------
        state : State
            The state observed.

        Returns
        -------
        object
            A copy (arrays or a dict of arrays).
        """

    @abc.abstractmethod
    def observables(self, state) -> dict:
        """Scalars (or per-replica arrays) recorded at each observation time.

        Parameters
        ----------
        state : State
            The state observed.

        Returns
        -------
        dict
            Name → value; a non-finite value stops the run.
        """

    @abc.abstractmethod
    def build_dataset(self, recorder, state) -> xr.Dataset:
        """The recorded snapshots and observables as variables.

        Parameters
        ----------
        recorder : wgflow.trackers.SnapshotRecorder
            Times, snapshots and observables so far.
        state : State
            The last state (per-run data such as particle weights).

        Returns
        -------
        xarray.Dataset
            Variables only: the base adds the global attributes.
        """

    @abc.abstractmethod
    def checkpoint_state(self, state) -> tuple[dict, dict]:
        """What a checkpoint stores of ``state``.

        Parameters
        ----------
        state : State
            The state to save.

        Returns
        -------
        tuple of dict
            ``(arrays, meta)``: named arrays and JSON-serializable scalars.
        """

    @abc.abstractmethod
    def restore_state(self, arrays: dict, meta: dict):
        """The State saved by :meth:`checkpoint_state`.

        Parameters
        ----------
        arrays : dict
            Named arrays read from the checkpoint.
        meta : dict
            Scalars read from the checkpoint.

        Returns
        -------
        State
            The saved state.
        """

    def check_times(self, times: np.ndarray) -> np.ndarray:
        """The observation times this solver can honour (default: all of them).

        A solver on a fixed time lattice (SGD: whole steps) drops or refuses times here,
        before the run starts.

        Parameters
        ----------
        times : ndarray
            The run's observation times, increasing, from 0 to ``t_final``.

        Returns
        -------
        ndarray
            The times to observe.
        """
        return times

    def step_count(self, state, t_final: float) -> float | None:
        """Estimated number of steps from ``state`` to ``t_final`` (``None``: unknown).

        Used before a run to warn about runs of more than
        :data:`~wgflow.resources.LONG_RUN_STEPS` steps.

        Parameters
        ----------
        state : State
            The initial state.
        t_final : float
            The final time.

        Returns
        -------
        float or None
            The estimate.
        """
        return None

    def time(self, state) -> float:
        """Time of a state.

        Parameters
        ----------
        state : State
            Any state of this solver.

        Returns
        -------
        float
            Its simulated time.
        """
        return float(state.t)

    def problem_name(self) -> str:
        """Name of the problem solved.

        Returns
        -------
        str
            From the energy's or model's metadata (``custom`` when none).
        """
        owner = getattr(self, "energy", None) or getattr(self, "model", None)
        metadata = getattr(owner, "metadata", {}) or {}
        return str(metadata.get("problem", getattr(owner, "name", "custom")))

    def initial_condition(self) -> str:
        """How the archive records the initial condition.

        Returns
        -------
        str
            Stored in ``parameters`` as ``initial_condition``.
        """
        return "snapshot at time 0"

    # ---- what the base provides ------------------------------------------------------------
    def to_dataset(self, recorder, run_parameters: dict, state) -> xr.Dataset:
        """The archive: recorded variables plus the schema's global attributes.

        Parameters
        ----------
        recorder : wgflow.trackers.SnapshotRecorder
            Times, snapshots and observables so far.
        run_parameters : dict
            Run settings (``t_final``, ``save_every``, …) archived with the solver's.
        state : State
            The last state.

        Returns
        -------
        xarray.Dataset
            The archive.
        """
        ds = add_recorded_variables(self.build_dataset(recorder, state), self, recorder.times)
        params = {
            **self.parameters(),
            **run_parameters,
            "initial_condition": self.initial_condition(),
        }
        problem = self.problem_name()
        ds.attrs.update(io.provenance(f"{problem}: {self.title}", problem, self.name, params))
        return ds

    @strict_keywords
    def run(
        self,
        initial=None,
        t_final: float | None = None,
        save_every: float | None = None,
        *,
        spacing: str = "linear",
        progress: bool = True,
        trackers: Sequence[Tracker] = (),
        checkpoint: str | os.PathLike | None = None,
        checkpoint_every: float | None = None,
        overwrite: bool = False,
    ) -> xr.Dataset:
        """Advance from ``initial`` to ``t_final``, observing at ``save_every`` intervals.

        Parameters
        ----------
        initial : object
            Initial condition (solver-specific: a density on the grid, particle positions, or
            network weights; ``None`` where the solver has a default).
        t_final : float
            The final time, > 0.
        save_every : float, optional
            Interval between snapshots (``spacing="linear"``, default ``t_final / 10``) or the
            first positive observation time (``spacing="log"``, default ``t_final / 1000``).
        spacing : {"linear", "log"}
            Observation times ``0, s, 2s, …, t_final`` or 0 plus 50 log-spaced times.
        progress : bool
            Show a progress bar (only on a terminal).
        trackers : sequence of Tracker
            Extra observers (see :mod:`wgflow.trackers`); the values of recording trackers
            (:class:`~wgflow.trackers.RecordingTracker`) become variables of the Dataset.
            Grid runs of an attractive Newtonian kernel in 2-D/3-D get a
            :class:`~wgflow.trackers.ConcentrationGuard` unless one is passed.
        checkpoint : path, optional
            A netCDF file rewritten atomically every ``checkpoint_every`` (simulated time;
            default every snapshot), on failure or Ctrl-C (last good state) and at the end;
            :meth:`resume` continues from it. Checked before the run (a writable ``.nc``
            path) and locked while it runs (a second run on the same path is refused).
        checkpoint_every : float, optional
            Simulated time between checkpoint writes.
        overwrite : bool
            Replace an existing ``checkpoint`` (default: refuse; :meth:`resume` continues it).

        Returns
        -------
        xarray.Dataset
            One snapshot per observation time, with the archive schema's attributes.
        """
        if t_final is None:
            hint = (
                "; run(initial, t_final, ...) takes the initial condition first "
                "(None for a solver's default, e.g. SGD's initializer)"
                if isinstance(initial, int | float)
                else ""
            )
            raise ValueError(f"t_final: required (a final time > 0){hint}")
        trackers = with_default_guards(self, driver.check_trackers(trackers))
        if checkpoint is not None:
            _warn_uncomparable(self.parameters())
        with recording(self, trackers):  # recording trackers' values reach the Dataset
            return driver.run(
                self,
                initial,
                t_final,
                save_every,
                progress=progress,
                trackers=trackers,
                spacing=spacing,
                checkpoint=checkpoint,
                checkpoint_every=checkpoint_every,
                overwrite=overwrite,
            )

    @strict_keywords
    def resume(
        self,
        path: str | os.PathLike,
        *,
        progress: bool = True,
        trackers: Sequence[Tracker] = (),
    ) -> xr.Dataset:
        """Continue the run saved in the checkpoint ``path`` to its ``t_final``.

        Parameters
        ----------
        path : str or path-like
            A checkpoint written by ``run(..., checkpoint=path)``.
        progress : bool
            Show a progress bar (only on a terminal).
        trackers : sequence of Tracker
            Extra observers.

        Returns
        -------
        xarray.Dataset
            The whole run: the checkpoint's snapshots, then the new ones.

        Raises
        ------
        ValueError
            The checkpoint was written by a solver with other parameters (each differing
            parameter is named), or ``path`` is not a checkpoint.
        """
        trackers = with_default_guards(self, driver.check_trackers(trackers))
        with recording(self, trackers):
            return driver.resume(self, path, progress=progress, trackers=trackers)

    def check_parameters(self, archived: dict, path: str) -> None:
        """Refuse archived parameters that differ from this solver's (naming each one).

        Parameters
        ----------
        archived : dict
            The checkpoint's ``parameters``.
        path : str
            The checkpoint (named in the error).

        Raises
        ------
        ValueError
            Listing every differing parameter.
        """
        mine = json.loads(io.to_json(self.parameters()))
        if archived.get("solver", mine.get("solver")) != mine.get("solver"):
            raise ValueError(
                f"path: {path!r} was written by {archived.get('solver')}, not {self.name}; "
                "resume it with the solver that wrote it"
            )
        diffs = parameter_differences(archived, mine)
        if diffs:
            listed = "; ".join(
                f"{name}: checkpoint {_short(old)}, this solver {_short(new)}"
                for name, old, new in diffs
            )
            hints = []
            if any(name == "seed" for name, _, _ in diffs):
                hints.append(
                    f"pass seed={archived.get('seed')!r}: a solver built with seed=None draws a "
                    "fresh one"
                )
            if any(str(new).startswith(UNCOMPARABLE) for _, _, new in diffs):
                hints.append("a callable without a stable description cannot be compared")
            hint = "".join(f"; {h}" for h in hints)
            raise ValueError(
                f"path: {path!r} was written by a {self.name} with other parameters ({listed}); "
                f"build the solver with the checkpoint's parameters to resume{hint}"
            )


def parameter_differences(archived: dict, current: dict, prefix: str = "") -> list[tuple]:
    """``(name, archived value, current value)`` for every differing (nested) parameter.

    Only keys of ``current`` are compared (run settings such as ``t_final`` live in the archive
    too). Floats compare to 1e-12 relative.

    Parameters
    ----------
    archived : dict
        Parameters read from a checkpoint.
    current : dict
        The resuming solver's (JSON round-tripped).
    prefix : str
        Dotted path of the nested level (used in recursion).

    Returns
    -------
    list of tuple
        ``(dotted name, archived, current)`` for each difference.
    """
    out = []
    for key, new in current.items():
        name = f"{prefix}{key}"
        old = archived.get(key, "<missing>")
        if isinstance(new, dict) and isinstance(old, dict):
            out += parameter_differences(old, new, name + ".")
            if set(old) - set(new):  # a term the checkpoint had and this solver lacks
                out += [(f"{name}.{k}", old[k], "<missing>") for k in sorted(set(old) - set(new))]
        elif not _same(old, new):
            out.append((name, old, new))
    return out


def _same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        both_nan = isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b)
        return both_nan or bool(np.isclose(a, b, rtol=1e-12, atol=0.0)) or a == b
    if isinstance(a, str) and a.startswith(UNCOMPARABLE):  # a callable with no stable hash
        return False
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return not parameter_differences(a, b) and set(a) == set(b)
    return a == b


def _warn_uncomparable(parameters) -> None:
    """Warn when a checkpointed run holds a callable whose code cannot be fingerprinted."""
    found = []

    def walk(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list | tuple):
            for k, item in enumerate(value):
                walk(item, f"{path}[{k}]")
        elif isinstance(value, str) and value.startswith(UNCOMPARABLE):
            found.append(f"{path} ({value[len(UNCOMPARABLE):]})")

    walk(parameters, "")
    if found:
        warnings.warn(
            "checkpoint: this run cannot be resumed: resume compares every callable, and "
            f"{'; '.join(found)}",
            WgflowWarning,
            stacklevel=3,
        )
