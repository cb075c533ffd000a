"""The in-place roofline shared by the benchmarks: one read and one write of an array."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def inplace_seconds(
    shape, dtype="float64", repeat: int = 7, inner: int = 200, timer: Callable = time.perf_counter
) -> float:
    """Best time of ``np.multiply(a, 1, out=a)`` on an array of ``shape`` and ``dtype``.

    Parameters
    ----------
    shape : int or tuple of int
        The array's shape (the data a kernel moves).
    dtype : str
        Its dtype.
    repeat, inner : int
        Best of ``repeat`` timings of ``inner`` back-to-back calls.
    timer : callable
        The clock (``time.thread_time``: CPU time of this thread, which a busy machine's other
        processes do not inflate).

    Returns
    -------
    float
        Seconds per call (one read and one write of the array).
    """
    a = np.random.default_rng(0).random(shape).astype(dtype)
    one = np.array(1, dtype)
    np.multiply(a, one, out=a)
    best = np.inf
    for _ in range(repeat):
        start = timer()
        for _ in range(inner):
            np.multiply(a, one, out=a)
        best = min(best, (timer() - start) / inner)
    return best
