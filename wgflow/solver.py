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
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from . import driver, io
from .reprs import ParametersRepr
from .reprs import short as _short
from .trackers import Tracker
from .validation import strict_keywords

__all__ = ["Solver", "parameter_differences"]


class Solver(ParametersRepr, abc.ABC):
    """Base class of FiniteVolume, JKO, Particles and SGD (one ``run`` signature for all)."""

    #: name stored in the archives' ``solver`` attribute
    name: ClassVar[str] = "Solver"
    #: what the archive holds, after "<problem>: "
    title: ClassVar[str] = "solution"

    # ---- what a solver implements --------------------------------------------------------
    @abc.abstractmethod
    def parameters(self) -> dict:
        """Every setting that determines the result (JSON-serializable)."""

    @abc.abstractmethod
    def initial_state(self, initial) -> Any:
        """Validate ``initial`` and build the solver's State at ``t = 0``."""

    @abc.abstractmethod
    def advance(self, state, t_next: float):
        """Step from ``time(state)`` to exactly ``t_next``; returns the new State."""

    @abc.abstractmethod
    def snapshot(self, state):
        """What is stored at each observation time (a copy)."""

    @abc.abstractmethod
    def observables(self, state) -> dict:
        """Scalars (or per-replica arrays) recorded at each observation time."""

    @abc.abstractmethod
    def build_dataset(self, recorder, state) -> xr.Dataset:
        """The recorded snapshots and observables as variables (attributes come from the base)."""

    @abc.abstractmethod
    def checkpoint_state(self, state) -> tuple[dict, dict]:
        """``(arrays, meta)`` that :meth:`restore_state` turns back into ``state``."""

    @abc.abstractmethod
    def restore_state(self, arrays: dict, meta: dict):
        """The State saved by :meth:`checkpoint_state`."""

    def time(self, state) -> float:
        """Time of ``state``."""
        return float(state.t)

    def problem_name(self) -> str:
        """Name of the problem solved (from the energy's or model's metadata)."""
        owner = getattr(self, "energy", None) or getattr(self, "model", None)
        metadata = getattr(owner, "metadata", {}) or {}
        return str(metadata.get("problem", getattr(owner, "name", "custom")))

    def initial_condition(self) -> str:
        """How the archive records the initial condition (stored in ``parameters``)."""
        return "snapshot at time 0"

    # ---- what the base provides ------------------------------------------------------------
    def to_dataset(self, recorder, run_parameters: dict, state) -> xr.Dataset:
        """The archive: recorded variables plus the schema's global attributes."""
        ds = self.build_dataset(recorder, state)
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
    ) -> xr.Dataset:
        """Advance from ``initial`` to ``t_final``, observing at ``save_every`` intervals.

        Parameters
        ----------
        initial
            Initial condition (solver-specific: a density on the grid, particle positions, or
            network weights; ``None`` where the solver has a default).
        t_final : float
            Final time, > 0.
        save_every : float, optional
            ``spacing="linear"``: interval between snapshots (default ``t_final / 10``);
            ``spacing="log"``: the first positive observation time (default ``t_final/1000``).
        spacing : {"linear", "log"}
            Observation times ``0, s, 2s, …, t_final`` or 0 plus 50 log-spaced times.
        progress : bool
            Show a progress bar (only on a terminal).
        trackers : sequence of Tracker
            Extra observers (see :mod:`wgflow.trackers`).
        checkpoint : path, optional
            netCDF file rewritten atomically every ``checkpoint_every`` (simulated time;
            default every snapshot), on failure or Ctrl-C (last good state) and at the end;
            :meth:`resume` continues from it.
        checkpoint_every : float, optional

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

        Raises
        ------
        ValueError
            The checkpoint was written by a solver with other parameters (each differing
            parameter is named), or ``path`` is not a checkpoint.
        """
        return driver.resume(self, path, progress=progress, trackers=trackers)

    def check_parameters(self, archived: dict, path: str) -> None:
        """Refuse archived parameters that differ from this solver's (naming each one)."""
        mine = json.loads(io.to_json(self.parameters()))
        diffs = parameter_differences(archived, mine)
        if diffs:
            listed = "; ".join(
                f"{name}: checkpoint {_short(old)}, this solver {_short(new)}"
                for name, old, new in diffs
            )
            raise ValueError(
                f"path: {path!r} was written by a {self.name} with other parameters ({listed}); "
                "build the solver with the checkpoint's parameters to resume"
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
        return bool(np.isclose(a, b, rtol=1e-12, atol=0.0)) or a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return not parameter_differences(a, b) and set(a) == set(b)
    return a == b
