"""Compiled O(N²) pairwise kernels for particle systems, with numpy references.

Three compiled paths, all skipping the self term ``j = i`` and any coincident pair
(``x_i = x_j``), and all summing ``j`` in index order for each ``i`` (so the result does not
depend on the number of threads):

- **built-in radial families** (:func:`pairwise_forces`, :func:`pairwise_energy`): an integer id
  and a parameter vector (see ``wgflow.interactions``), module-level and cached on disk:

  - ``RADIAL_POWER_LAW`` ``(a, b, c_a, c_r)``: ``W = c_a r^a/a − c_r r^b/b`` (``b = 0``: log);
  - ``RADIAL_GAUSSIAN`` ``(c, s²)``: ``W = c exp(−r²/(2s²))``;
  - ``RADIAL_NEWTONIAN`` ``(σχ, D)``: ``W = −σχ Φ_D(r)``;
  - ``RADIAL_MORSE`` ``(C_a, ℓ_a, C_r, ℓ_r)``: ``W = −C_a e^{−r/ℓ_a} + C_r e^{−r/ℓ_r}``;
  - ``RADIAL_YUKAWA`` ``(c, ℓ, D)``: ``W = −c G_ℓ(r)`` (``K₀``/``K₁`` by :func:`bessel_k`);

- **user radial profiles** (:func:`profile_forces`, :func:`profile_energy`): numba-compiled
  scalar functions ``φ(r)``, ``φ′(r)`` passed as dispatchers and called inside the same loop;
- **user vectorized kernels** (:func:`vector_forces`, :func:`vector_energy`): a numba-compiled
  ``∇W(z)`` / ``W(z)`` written for arrays ``z`` of shape ``(m, D)``, called on tiles of
  ``TILE_ROWS × TILE_COLS`` displacements.

The two user paths are compiled once per user function and process (numba cannot cache a
function specialised on another dispatcher). :func:`chunked_pair_sum` is the vectorized numpy
reference and the fallback for kernels numba cannot compile.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from wgflow.interactions import (
    FD_STEP,
    RADIAL_GAUSSIAN,
    RADIAL_MORSE,
    RADIAL_NEWTONIAN,
    RADIAL_POWER_LAW,
    RADIAL_YUKAWA,
)
from wgflow.threads import parallel_worthwhile

_EULER_GAMMA = 0.5772156649015329
_FASTMATH = {"contract", "reassoc", "nsz"}

#: tile of displacements handed to a user's vectorized kernel: rows × columns of the pair matrix
TILE_ROWS = 4
TILE_COLS = 1024


@njit(cache=True)
def bessel_k(nu, x):
    """Modified Bessel function ``K_ν(x)`` for ``ν ∈ {0, 1}``, ``x > 0`` (relative error ~1e-15).

    Power series for ``x ≤ 2``, the trapezoidal rule on ``∫₀^∞ e^{−x cosh t} cosh(νt) dt``
    (spectrally accurate) for ``2 < x < 25``, the asymptotic series for ``x ≥ 25``.
    """
    if x <= 2.0:
        q = 0.25 * x * x
        lg = math.log(0.5 * x)
        if nu == 0:
            term, i_sum, psi = 1.0, 1.0, -_EULER_GAMMA
            s = psi
            for k in range(1, 40):
                term *= q / (k * k)
                psi += 1.0 / k
                i_sum += term
                s += psi * term
                if term < 1e-18:
                    break
            return -lg * i_sum + s
        term, i_sum = 1.0, 1.0  # q^k / (k! (k+1)!)
        psi1, psi2 = -_EULER_GAMMA, 1.0 - _EULER_GAMMA  # ψ(k+1), ψ(k+2)
        s = psi1 + psi2
        for k in range(1, 40):
            term *= q / (k * (k + 1))
            psi1 += 1.0 / k
            psi2 += 1.0 / (k + 1)
            i_sum += term
            s += (psi1 + psi2) * term
            if term < 1e-18:
                break
        return 1.0 / x + lg * 0.5 * x * i_sum - 0.25 * x * s
    if x >= 25.0:
        mu = 4.0 * nu * nu
        a, s = 1.0, 1.0
        for k in range(1, 30):
            a *= (mu - (2 * k - 1) ** 2) / (k * 8.0 * x)
            s += a
            if abs(a) < 1e-17:
                break
        return math.sqrt(math.pi / (2.0 * x)) * math.exp(-x) * s
    h = 0.3 / math.sqrt(x)
    s = 0.5
    k = 1
    while True:
        t = k * h
        e = 2.0 * x * math.sinh(0.5 * t) ** 2  # x (cosh t − 1), without cancellation
        if e > 40.0:
            break
        s += math.exp(-e) * (math.cosh(nu * t) if nu else 1.0)
        k += 1
    return h * s * math.exp(-x)


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


@njit(cache=True, inline="always")
def _sphere_area(dim):
    if dim == 1:
        return 2.0
    if dim == 2:
        return 2.0 * math.pi
    return 4.0 * math.pi


@njit(cache=True)
def radial_force(kind, params, r):
    """``W′(r)/r``, so that ``∇W(z) = W′(|z|)/|z| · z`` (``r > 0``)."""
    if kind == RADIAL_POWER_LAW:
        return params[2] * _power(r, params[0] - 2.0) - params[3] * _power(r, params[1] - 2.0)
    if kind == RADIAL_GAUSSIAN:
        return -(params[0] / params[1]) * math.exp(-0.5 * r * r / params[1])
    if kind == RADIAL_NEWTONIAN:
        dim = int(params[1])
        rd = r if dim == 1 else (r * r if dim == 2 else r * r * r)
        return params[0] / (_sphere_area(dim) * rd)
    if kind == RADIAL_MORSE:
        attract = params[0] / params[1] * math.exp(-r / params[1]) if params[0] != 0.0 else 0.0
        repel = params[2] / params[3] * math.exp(-r / params[3]) if params[2] != 0.0 else 0.0
        return (attract - repel) / r
    if kind != RADIAL_YUKAWA:
        return math.nan
    c, ell, dim = params[0], params[1], int(params[2])
    if dim == 1:
        return 0.5 * c * math.exp(-r / ell) / r
    if dim == 2:
        return c * bessel_k(1, r / ell) / (2.0 * math.pi * ell * r)
    return c * math.exp(-r / ell) * (1.0 / ell + 1.0 / r) / (4.0 * math.pi * r * r)


@njit(cache=True)
def radial_value(kind, params, r):
    """``W(r)`` (``r > 0``)."""
    if kind == RADIAL_POWER_LAW:
        a, b = params[0], params[1]
        repulsion = math.log(r) if b == 0.0 else _power(r, b) / b
        return params[2] * _power(r, a) / a - params[3] * repulsion
    if kind == RADIAL_GAUSSIAN:
        return params[0] * math.exp(-0.5 * r * r / params[1])
    if kind == RADIAL_NEWTONIAN:
        dim = int(params[1])
        if dim == 1:
            return 0.5 * params[0] * r
        if dim == 2:
            return params[0] / (2.0 * math.pi) * math.log(r)
        return -params[0] / (4.0 * math.pi * r)
    if kind == RADIAL_MORSE:
        attract = params[0] * math.exp(-r / params[1]) if params[0] != 0.0 else 0.0
        repel = params[2] * math.exp(-r / params[3]) if params[2] != 0.0 else 0.0
        return repel - attract
    if kind != RADIAL_YUKAWA:
        return math.nan
    c, ell, dim = params[0], params[1], int(params[2])
    if dim == 1:
        return -0.5 * c * ell * math.exp(-r / ell)
    if dim == 2:
        return -c / (2.0 * math.pi) * bessel_k(0, r / ell)
    return -c * math.exp(-r / ell) / (4.0 * math.pi * r)


@njit(cache=True, inline="always")
def _squared_distance(x, i, j):
    r2 = 0.0
    for k in range(x.shape[1]):
        z = x[i, k] - x[j, k]
        r2 += z * z
    return r2


@njit(cache=True, fastmath=_FASTMATH)
def _force_row(x, w, kind, params, out, i):
    n, d = x.shape
    acc = np.zeros(d)
    for j in range(n):
        r2 = _squared_distance(x, i, j)
        if r2 > 0.0:
            c = w[j] * radial_force(kind, params, math.sqrt(r2))
            for k in range(d):
                acc[k] += c * (x[i, k] - x[j, k])
    for k in range(d):
        out[i, k] = acc[k]


@njit(cache=True)
def _energy_row(x, w, kind, params, i):
    acc = 0.0
    for j in range(x.shape[0]):
        r2 = _squared_distance(x, i, j)
        if r2 > 0.0:
            acc += w[j] * radial_value(kind, params, math.sqrt(r2))
    return w[i] * acc


@njit(cache=True, parallel=True)
def pairwise_forces(x, w, kind, params, out):
    """``out_i = Σ_j w_j ∇W(x_i − x_j)`` (coincident pairs contribute 0); x (N, D), out (N, D)."""
    for i in prange(x.shape[0]):
        _force_row(x, w, kind, params, out, i)


@njit(cache=True)
def pairwise_forces_serial(x, w, kind, params, out):
    """:func:`pairwise_forces` on one thread (the same bits: each row is the same code)."""
    for i in range(x.shape[0]):
        _force_row(x, w, kind, params, out, i)


@njit(cache=True, parallel=True)
def pairwise_energy(x, w, kind, params):
    """``½ Σ_{i≠j} w_i w_j W(x_i − x_j)`` (coincident pairs skipped)."""
    n = x.shape[0]
    rows = np.zeros(n)
    for i in prange(n):
        rows[i] = _energy_row(x, w, kind, params, i)
    return 0.5 * rows.sum()


@njit(cache=True)
def pairwise_energy_serial(x, w, kind, params):
    """:func:`pairwise_energy` on one thread."""
    n = x.shape[0]
    rows = np.zeros(n)
    for i in range(n):
        rows[i] = _energy_row(x, w, kind, params, i)
    return 0.5 * rows.sum()


def family_forces(x, w, kind, params):
    """:func:`pairwise_forces`, on one thread below ``PARALLEL_MIN_ITEMS`` pairs.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Positions.
    w : ndarray, shape (N,)
        Weights.
    kind : int
        Radial family id.
    params : ndarray
        Its parameters.

    Returns
    -------
    ndarray, shape (N, D)
        ``Σ_j w_j ∇W(x_i − x_j)``.
    """
    out = np.empty_like(x)
    n = x.shape[0]
    (pairwise_forces if parallel_worthwhile(n * n) else pairwise_forces_serial)(
        x, w, kind, params, out
    )
    return out


def family_energy(x, w, kind, params) -> float:
    """:func:`pairwise_energy`, on one thread below ``PARALLEL_MIN_ITEMS`` pairs.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Positions.
    w : ndarray, shape (N,)
        Weights.
    kind : int
        Radial family id.
    params : ndarray
        Its parameters.

    Returns
    -------
    float
        ``½ Σ_{i≠j} w_i w_j W(x_i − x_j)``.
    """
    n = x.shape[0]
    energy = pairwise_energy if parallel_worthwhile(n * n) else pairwise_energy_serial
    return float(energy(x, w, kind, params))


# ---- user kernels ------------------------------------------------------------------------
# Serial ``nogil`` row kernels, run on row blocks by a thread pool (:func:`split_rows`): numba
# compiles them once per user function (they cannot be cached), and a serial kernel compiles
# in about a third of the time of a ``parallel=True`` one. Each row still sums ``j`` in order.


def split_rows(kernel, n: int, *args) -> None:
    """Call ``kernel(*args, start, stop)`` on row blocks covering ``0 … n``, on threads.

    ``4 ×`` as many blocks as numba's current thread count (``numba.get_num_threads()``),
    handed out to that many worker threads as they become free (the kernels release the GIL),
    so a thread descheduled on a busy machine does not hold up the others; one block, in this
    thread, below :data:`wgflow.threads.PARALLEL_MIN_ITEMS` pairs. Each row is computed by one
    call, so the result does not depend on the split.

    Parameters
    ----------
    kernel : numba dispatcher
        A ``nogil`` row kernel whose last two arguments are ``start``, ``stop``.
    n : int
        Number of rows.
    *args
        Its other arguments.
    """
    import numba

    threads = numba.get_num_threads()
    if threads == 1 or not parallel_worthwhile(n * n):
        kernel(*args, 0, n)
        return
    pieces = 4 * threads
    edges = [n * k // pieces for k in range(pieces + 1)]
    pool = _pool(threads)
    blocks = zip(edges[:-1], edges[1:], strict=True)
    futures = [pool.submit(kernel, *args, a, b) for a, b in blocks if b > a]
    for future in futures:
        future.result()


_POOLS: dict = {}


def _pool(threads: int):
    if threads not in _POOLS:
        from concurrent.futures import ThreadPoolExecutor

        _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="wgflow-pairs")
    return _POOLS[threads]


@njit(nogil=True)
def _profile_slope(phi, dphi, finite_difference, r):
    if finite_difference:  # fourth-order central difference, step FD_STEP · r
        h = FD_STEP * r
        return (phi(r - 2 * h) - 8 * phi(r - h) + 8 * phi(r + h) - phi(r + 2 * h)) / (12 * h)
    return dphi(r)


@njit(nogil=True, fastmath=_FASTMATH)
def profile_force_rows(x, w, phi, dphi, finite_difference, out, start, stop):
    """Rows ``start … stop`` of :func:`pairwise_forces` for ``W(z) = φ(|z|)`` (compiled ``φ``,
    ``φ′``; ``finite_difference``: differentiate ``φ`` numerically, ``dphi`` unused)."""
    n, d = x.shape
    acc = np.zeros(d)
    for i in range(start, stop):
        acc[:] = 0.0
        for j in range(n):
            r2 = _squared_distance(x, i, j)
            if r2 > 0.0:
                r = math.sqrt(r2)
                c = w[j] * _profile_slope(phi, dphi, finite_difference, r) / r
                for k in range(d):
                    acc[k] += c * (x[i, k] - x[j, k])
        for k in range(d):
            out[i, k] = acc[k]


@njit(nogil=True)
def profile_energy_rows(x, w, phi, rows, start, stop):
    """``rows_i = w_i Σ_{j: x_j ≠ x_i} w_j φ(|x_i − x_j|)`` for ``i`` in ``start … stop``."""
    n = x.shape[0]
    for i in range(start, stop):
        acc = 0.0
        for j in range(n):
            r2 = _squared_distance(x, i, j)
            if r2 > 0.0:
                acc += w[j] * phi(math.sqrt(r2))
        rows[i] = w[i] * acc


def profile_forces(x, w, phi, dphi, finite_difference):
    """:func:`pairwise_forces` for ``W(z) = φ(|z|)`` with compiled scalar ``φ``, ``φ′``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Positions.
    w : ndarray, shape (N,)
        Weights.
    phi, dphi : numba dispatcher
        ``φ(r)`` and ``φ′(r)`` (floats).
    finite_difference : bool
        Differentiate ``φ`` by a fourth-order central difference instead of calling ``dphi``.

    Returns
    -------
    ndarray, shape (N, D)
        ``Σ_j w_j ∇W(x_i − x_j)``.
    """
    out = np.empty_like(x)
    split_rows(profile_force_rows, x.shape[0], x, w, phi, dphi, finite_difference, out)
    return out


def profile_energy(x, w, phi):
    """:func:`pairwise_energy` for ``W(z) = φ(|z|)`` with a compiled scalar ``φ``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Positions.
    w : ndarray, shape (N,)
        Weights.
    phi : numba dispatcher
        ``φ(r)``.

    Returns
    -------
    float
        ``½ Σ_{i≠j} w_i w_j φ(|x_i − x_j|)``.
    """
    rows = np.empty(x.shape[0])
    split_rows(profile_energy_rows, x.shape[0], x, w, phi, rows)
    return 0.5 * float(rows.sum())


@njit(nogil=True, inline="always")
def _fill_tile(x, i0, ni, j0, nj, z, skip):
    """Displacements ``x_i − x_j`` of a tile; coincident pairs get ``e₀`` and ``skip``."""
    d = x.shape[1]
    for ii in range(ni):
        for jj in range(nj):
            p = ii * nj + jj
            r2 = 0.0
            for k in range(d):
                v = x[i0 + ii, k] - x[j0 + jj, k]
                z[p, k] = v
                r2 += v * v
            skip[p] = r2 == 0.0
            if skip[p]:  # a harmless stand-in, discarded below
                z[p, 0] = 1.0
                for k in range(1, d):
                    z[p, k] = 0.0


@njit(nogil=True)
def vector_force_rows(x, w, gradient, out, start, stop):
    """Rows ``start … stop`` of :func:`pairwise_forces` for a compiled vectorized ``∇W``
    (``(m, D)`` → ``(m, D)``), called on tiles of ``TILE_ROWS × TILE_COLS`` displacements."""
    n, d = x.shape
    cols = min(n, TILE_COLS)
    z = np.empty((TILE_ROWS * cols, d))
    skip = np.empty(TILE_ROWS * cols, np.bool_)
    acc = np.zeros((TILE_ROWS, d))
    for i0 in range(start, stop, TILE_ROWS):
        ni = min(stop, i0 + TILE_ROWS) - i0
        acc[:] = 0.0
        for j0 in range(0, n, cols):
            nj = min(n, j0 + cols) - j0
            m = ni * nj
            _fill_tile(x, i0, ni, j0, nj, z, skip)
            g = gradient(z[:m])
            for ii in range(ni):
                for jj in range(nj):
                    p = ii * nj + jj
                    if not skip[p]:
                        for k in range(d):
                            acc[ii, k] += w[j0 + jj] * g[p, k]
        for ii in range(ni):
            for k in range(d):
                out[i0 + ii, k] = acc[ii, k]


@njit(nogil=True)
def vector_energy_rows(x, w, kernel, rows, start, stop):
    """``rows_i = w_i Σ_{j: x_j ≠ x_i} w_j W(x_i − x_j)`` for a compiled vectorized ``W``."""
    n, d = x.shape
    cols = min(n, TILE_COLS)
    z = np.empty((TILE_ROWS * cols, d))
    skip = np.empty(TILE_ROWS * cols, np.bool_)
    acc = np.zeros(TILE_ROWS)
    for i0 in range(start, stop, TILE_ROWS):
        ni = min(stop, i0 + TILE_ROWS) - i0
        acc[:] = 0.0
        for j0 in range(0, n, cols):
            nj = min(n, j0 + cols) - j0
            m = ni * nj
            _fill_tile(x, i0, ni, j0, nj, z, skip)
            values = kernel(z[:m])
            for ii in range(ni):
                for jj in range(nj):
                    p = ii * nj + jj
                    if not skip[p]:
                        acc[ii] += w[j0 + jj] * values[p]
        for ii in range(ni):
            rows[i0 + ii] = w[i0 + ii] * acc[ii]


def vector_forces(x, w, gradient):
    """:func:`pairwise_forces` for a compiled vectorized ``∇W(z)``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Positions.
    w : ndarray, shape (N,)
        Weights.
    gradient : numba dispatcher
        ``∇W`` for ``z`` of shape ``(m, D)``, returning ``(m, D)``.

    Returns
    -------
    ndarray, shape (N, D)
        ``Σ_j w_j ∇W(x_i − x_j)`` (coincident pairs skipped; ``gradient`` never sees 0).
    """
    out = np.empty_like(x)
    split_rows(vector_force_rows, x.shape[0], x, w, gradient, out)
    return out


def vector_energy(x, w, kernel):
    """:func:`pairwise_energy` for a compiled vectorized ``W(z)``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Positions.
    w : ndarray, shape (N,)
        Weights.
    kernel : numba dispatcher
        ``W`` for ``z`` of shape ``(m, D)``, returning ``(m,)``.

    Returns
    -------
    float
        ``½ Σ_{i≠j} w_i w_j W(x_i − x_j)``.
    """
    rows = np.empty(x.shape[0])
    split_rows(vector_energy_rows, x.shape[0], x, w, kernel, rows)
    return 0.5 * float(rows.sum())


# ---- numpy references ------------------------------------------------------------------------


def chunked_pair_sum(x, w, func, out_shape_tail, chunk_bytes=64 << 20):
    """``out_i = Σ_j w_j func(x_i, x_j)`` with numpy, in row blocks of bounded memory.

    The vectorized numpy reference (and the slow path for non-radial or general kernels).
    ``func`` sees broadcast arrays of shape ``(b, 1, D)`` and ``(1, N, D)``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Positions.
    w : ndarray, shape (N,)
        Weights.
    func : callable
        ``(x_i (b, 1, D), x_j (1, N, D)) ↦ values (b, N, *out_shape_tail)``; nothing is
        skipped (pass a :func:`masked_pairwise` function to drop coincident pairs).
    out_shape_tail : tuple of int
        Trailing shape of one pair's value: ``()`` for scalars, ``(D,)`` for gradients.
    chunk_bytes : int
        Memory budget of one row block, in bytes: ``b`` rows with
        ``8 b N max(D, prod(out_shape_tail)) ≤ chunk_bytes`` (at least one row).

    Returns
    -------
    ndarray, shape (N, *out_shape_tail)
        The weighted sums ``out_i``.
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


def masked_pairwise(func, tail_dims: int):
    """``(a, b) ↦ func(a − b)`` with coincident pairs (``a = b``, the self term) set to 0.

    ``func`` is never evaluated at ``z = 0`` (a stand-in ``e₀`` is passed there and its value
    discarded), so kernels singular at 0 work.

    Parameters
    ----------
    func : callable
        ``W`` (``tail_dims = 0``) or ``∇W`` (``tail_dims = 1``) on arrays ``(..., D)``.
    tail_dims : int
        Number of trailing output axes beyond the pair axes.

    Returns
    -------
    callable
        The masked pair function for :func:`chunked_pair_sum`.
    """

    def masked(a, b):
        z = a - b
        same = np.all(z == 0, axis=-1)
        if np.any(same):
            stand_in = np.zeros(z.shape[-1])
            stand_in[0] = 1.0
            z = np.where(same[..., None], stand_in, z)
        values = np.asarray(func(z), dtype=float)
        if np.any(same):
            values = np.where(same.reshape(same.shape + (1,) * tail_dims), 0.0, values)
        return values

    return masked


def pairwise_forces_numpy(x, w, gradient):
    """Numpy reference of :func:`pairwise_forces` for a gradient ``∇W(z)`` (vectorized).

    Coincident pairs (the self term) are skipped: ``gradient`` never sees ``z = 0``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Positions.
    w : ndarray, shape (N,)
        Weights.
    gradient : callable
        ``∇W``: displacements ``(..., D)`` ↦ ``(..., D)``.

    Returns
    -------
    ndarray, shape (N, D)
        ``Σ_j w_j ∇W(x_i − x_j)`` over the pairs with ``x_j ≠ x_i``.
    """
    return chunked_pair_sum(x, w, masked_pairwise(gradient, 1), (x.shape[1],))


def pairwise_energy_numpy(x, w, kernel):
    """Numpy reference of :func:`pairwise_energy` for a kernel ``W(z)`` (vectorized).

    Coincident pairs (the self term) are skipped: ``kernel`` never sees ``z = 0``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Positions.
    w : ndarray, shape (N,)
        Weights.
    kernel : callable
        ``W``: displacements ``(..., D)`` ↦ ``(...)``.

    Returns
    -------
    float
        ``½ Σ_{i,j: x_j ≠ x_i} w_i w_j W(x_i − x_j)``.
    """
    return 0.5 * float(w @ chunked_pair_sum(x, w, masked_pairwise(kernel, 0), ()))
