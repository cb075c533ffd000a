"""Threads that share a machine: the CPUs this process may use, and single-threaded workers.

numba sizes its pool from ``os.sched_getaffinity`` (the CPUs this process may run on, which a
batch scheduler or ``taskset`` restricts), not from the machine's core count. Sweep workers are
single-threaded processes (:func:`single_threaded_environment`): one point per core, no
oversubscription when several workers share a node.
"""

from __future__ import annotations

import os

__all__ = [
    "PARALLEL_MIN_ITEMS",
    "THREAD_VARIABLES",
    "parallel_worthwhile",
    "single_threaded_environment",
    "usable_cpus",
]

#: smallest loop (cells, or neurons × weights) worth splitting over threads: below it a
#: pass takes under ~100 µs, less than a thread that is descheduled on a busy machine
#: makes the others wait at the join
PARALLEL_MIN_ITEMS = 2**18

#: environment variables that size the thread pools of numba and the BLAS/OpenMP libraries
THREAD_VARIABLES = (
    "NUMBA_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
)


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask; all cores where there is none).

    Returns
    -------
    int
        At least 1.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def single_threaded_environment() -> dict[str, str]:
    """Environment for worker processes that each run on one core.

    Returns
    -------
    dict of str -> str
        Every variable of :data:`THREAD_VARIABLES` set to ``"1"``.
    """
    return dict.fromkeys(THREAD_VARIABLES, "1")


def parallel_worthwhile(items: int) -> bool:
    """Whether a compiled loop over ``items`` should run on numba's threads.

    Parameters
    ----------
    items : int
        Work items of one pass (grid cells, …).

    Returns
    -------
    bool
        ``True`` when numba has more than one thread and ``items ≥ PARALLEL_MIN_ITEMS``.
    """
    import numba

    return items >= PARALLEL_MIN_ITEMS and numba.get_num_threads() > 1
