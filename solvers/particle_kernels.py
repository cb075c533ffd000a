"""Compiled O(N²) pairwise kernels for particle systems, with numpy references.

A radial family is an integer id and a parameter vector (see ``wgflow.interactions``):

- ``RADIAL_POWER_LAW`` ``(a, b, c_a, c_r)``: ``W = c_a r^a/a − c_r r^b/b`` (``b = 0``: log);
- ``RADIAL_GAUSSIAN`` ``(c, s²)``: ``W = c exp(−r²/(2s²))``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from wgflow.interactions import RADIAL_POWER_LAW


@njit(cache=True, inline="always")
def _power(r, e):
    if e == 0.0:
        return 1.0
    if e == 1.0:
        return r
    if e == -1.0:
        return 1.0 / r
    if e == -2.0:
        return 1.0 / (r * r)
    if e == 2.0:
        return r * r
    return r**e


@njit(cache=True)
def radial_force(kind, params, r):
    """``W′(r)/r``, so that ``∇W(z) = W′(|z|)/|z| · z``."""
    if kind == RADIAL_POWER_LAW:
        return params[2] * _power(r, params[0] - 2.0) - params[3] * _power(r, params[1] - 2.0)
    return -(params[0] / params[1]) * math.exp(-0.5 * r * r / params[1])


@njit(cache=True)
def radial_value(kind, params, r):
    """``W(r)``."""
    if kind == RADIAL_POWER_LAW:
        a, b = params[0], params[1]
        repulsion = math.log(r) if b == 0.0 else _power(r, b) / b
        return params[2] * _power(r, a) / a - params[3] * repulsion
    return params[0] * math.exp(-0.5 * r * r / params[1])


@njit(cache=True, inline="always")
def _squared_distance(x, i, j):
    r2 = 0.0
    for k in range(x.shape[1]):
        z = x[i, k] - x[j, k]
        r2 += z * z
    return r2


@njit(cache=True, parallel=True, fastmath={"contract", "reassoc", "nsz"})
def pairwise_forces(x, w, kind, params, out):
    """``out_i = Σ_j w_j ∇W(x_i − x_j)`` (coincident pairs contribute 0); x (N, D), out (N, D)."""
    n, d = x.shape
    for i in prange(n):
        acc = np.zeros(d)
        for j in range(n):
            r2 = _squared_distance(x, i, j)
            if r2 > 0.0:
                c = w[j] * radial_force(kind, params, math.sqrt(r2))
                for k in range(d):
                    acc[k] += c * (x[i, k] - x[j, k])
        for k in range(d):
            out[i, k] = acc[k]


@njit(cache=True, parallel=True)
def pairwise_energy(x, w, kind, params):
    """``½ Σ_{i≠j} w_i w_j W(x_i − x_j)`` (coincident pairs skipped)."""
    n = x.shape[0]
    rows = np.zeros(n)
    for i in prange(n):
        acc = 0.0
        for j in range(n):
            r2 = _squared_distance(x, i, j)
            if r2 > 0.0:
                acc += w[j] * radial_value(kind, params, math.sqrt(r2))
        rows[i] = w[i] * acc
    return 0.5 * rows.sum()


def chunked_pair_sum(x, w, func, out_shape_tail, chunk_bytes=64 << 20):
    """``out_i = Σ_j w_j func(x_i, x_j)`` with numpy, in row blocks of bounded memory.

    The vectorized numpy reference (and the slow path for non-radial or general kernels).
    """
    n, d = x.shape
    width = max(1, int(np.prod(out_shape_tail)))
    block = max(1, int(chunk_bytes // (8 * n * max(d, width))))
    out = np.empty((n, *out_shape_tail))
    for start in range(0, n, block):
        xi = x[start : start + block, None, :]
        values = func(xi, x[None, :, :])  # (b, N, *tail)
        out[start : start + block] = np.einsum("j,bj...->b...", w, values)
    return out


def pairwise_forces_numpy(x, w, gradient):
    """Numpy reference of :func:`pairwise_forces` for a gradient ``∇W(z)`` (vectorized)."""
    return chunked_pair_sum(x, w, lambda a, b: gradient(a - b), (x.shape[1],))
