"""Sizes estimated before allocation: memory refused with the estimate, long runs warned.

A run that cannot fit fails at the door with the numbers (``ValueError`` naming the parameter
to change), instead of a ``MemoryError`` minutes later; a run with more steps than
:data:`LONG_RUN_STEPS` is warned about with its step count.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from .errors import LongRunWarning

__all__ = ["LONG_RUN_STEPS", "available_memory", "check_memory", "check_run_size", "nbytes"]

#: a run with more solver steps than this is warned about (about an hour at 10⁵–10⁶ steps/s)
LONG_RUN_STEPS = 1e9
#: fraction of the available memory a run may plan to use
MEMORY_FRACTION = 0.8


def available_memory() -> int:
    """Memory this process may still allocate, in bytes.

    ``MemAvailable`` from ``/proc/meminfo`` (Linux), else free physical pages; the
    ``WGFLOW_MEMORY_LIMIT`` environment variable (bytes) caps it (for tests and shared nodes).

    Returns
    -------
    int
        Bytes.
    """
    total = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    total = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if total is None:
        try:
            total = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            total = 2**62
    limit = os.environ.get("WGFLOW_MEMORY_LIMIT")
    if limit:
        try:
            total = min(total, int(float(limit)))
        except ValueError:
            pass
    return int(total)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def check_memory(name: str, required: float, what: str) -> None:
    """Refuse an allocation plan larger than the memory available.

    Parameters
    ----------
    name : str
        The parameter to change, named in the error.
    required : float
        Planned bytes.
    what : str
        What they hold (e.g. ``"800 neurons × 40 coordinates × 4 replicas"``).

    Raises
    ------
    ValueError
        With the estimate and what is available.
    """
    available = available_memory()
    if required > MEMORY_FRACTION * available:
        raise ValueError(
            f"{name}: {what} need about {_human(required)}, more than the "
            f"{_human(available)} of memory available; reduce {name}"
        )


def nbytes(value) -> int:
    """Bytes held by an array, a dict/tuple/list of arrays, or a number.

    Parameters
    ----------
    value : object
        A snapshot.

    Returns
    -------
    int
        Total bytes (8 for a scalar).
    """
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, dict):
        return sum(nbytes(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(nbytes(v) for v in value)
    return 8


def check_run_size(solver, state, times: np.ndarray) -> None:
    """Before a run: snapshots must fit in memory; warn when the step count is huge.

    Parameters
    ----------
    solver : wgflow.solver.Solver
        The solver (``snapshot`` sizes one observation; an optional ``step_count(state,
        t_final)`` estimates its steps).
    state : State
        The initial state.
    times : ndarray
        The observation times.

    Raises
    ------
    ValueError
        Naming ``save_every`` when the snapshots would not fit in memory.
    """
    per = nbytes(solver.snapshot(state))
    check_memory(
        "save_every", per * len(times), f"{len(times)} snapshots of {_human(per)} each"
    )
    steps = solver.step_count(state, float(times[-1]))
    if steps is None:
        return
    steps = float(steps)
    if steps > LONG_RUN_STEPS:
        message = (
            f"this run needs about {steps:.3g} steps of {type(solver).__name__} to reach "
            f"t_final = {float(times[-1]):g}; at 10⁶ steps/s that is {steps / 1e6 / 3600:.3g} "
            "hours (reduce t_final or enlarge the step)"
        )
        warnings.warn(message, LongRunWarning, stacklevel=4)
