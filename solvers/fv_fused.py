r"""The explicit finite-volume step as a few fused compiled passes, without numpy temporaries.

One stage of the CCH scheme needs ``ξ = V + H′(ρ)`` and the upwind flux divergence along every
axis. Here each is one pass over the grid:

1. :func:`entropy_potential` (entropy only): ``ξ = V + β⁻¹ log max(ρ, floor)`` with a
   polynomial logarithm that LLVM vectorizes (llvmlite has no SVML: ``np.log`` in a numba loop
   is a scalar libm call, 5× slower than this); relative error ≤ 5e-16.
2. :func:`flux_divergence`: for every line of cells along the contiguous axis, the minmod
   slopes and the upwind fluxes of *all* axes, written once into ``rate``; the contiguous
   axis uses a line buffer; axis 1 is swept row by row inside each plane (the flux through
   the face below a row and the slopes of the row above are carried), so every face flux and
   slope is computed once and every loop runs over contiguous memory and vectorizes; a 3-D
   grid adds one such sweep along axis 0 with whole planes as rows (serial).
3. :func:`euler_stage` / :func:`heun_stage` (in ``fv_kernels``): the Runge–Kutta update with
   the positivity check.

Array traffic per stage (read + written arrays of the grid's size): pass 1 reads ``ρ, V``
and writes ``ξ`` (3), pass 2 reads ``ρ, ξ`` and writes ``rate`` (3), the update reads 2–3
and writes 1. So a second-order step moves 19 arrays with entropy (13 without: ``ξ = V``
needs no pass 1), a first-order step 9 (6). The passes are compute-bound rather than
bandwidth-bound: per cell and evaluation, pass 1 costs 32 floating-point operations (29 of
them the logarithm) and pass 2 30 per axis (minmod slope 15, upwind flux 12, divergence 3),
so 92 in 2-D; a 2-D SSP-RK2 step costs 194 per cell, an RKL2 stage 103.
``benchmarks/bench_fv.py`` compares their rate with the core's peak.

A non-gradient drift (:class:`wgflow.drift.MeanFieldDrift`) enters as face velocities added to
``−Δξ/h`` (``drift = (b0, b1, b2)``, one array per axis with one face fewer along it).

Arrays are 3-D views ``(n0, n1, n2)`` of the C-contiguous grid (leading axes of length 1 for
1-D and 2-D grids). Each kernel exists serial and parallel (``prange`` over lines); the solver
picks the parallel one only for large grids (see :func:`wgflow.threads.parallel_worthwhile`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from wgflow.simd import bits_float, float_bits, log_positive, max_bits


def _entropy_potential(rho, V, inv_beta, floor, xi):
    for i in prange(rho.size):
        xi[i] = V[i] + inv_beta * log_positive(max(rho[i], floor))


@njit(cache=True, inline="always")
def _pos(u):
    return u if u > 0.0 else 0.0


@njit(cache=True, inline="always")
def _neg(u):
    return u if u < 0.0 else 0.0


@njit(cache=True, inline="always")
def _minmod_half(a, c, b):
    """Half the generalized minmod (θ = 2) slope of a cell with left/centre/right values."""
    left = c - a
    right = b - c
    x = 2.0 * left
    y = 0.5 * (left + right)
    z = 2.0 * right
    lo = x if x < y else y
    lo = lo if lo < z else z
    hi = x if x > y else y
    hi = hi if hi > z else z
    pos = lo if lo > 0.0 else 0.0
    neg = hi if hi < 0.0 else 0.0
    return 0.5 * (pos + neg)  # at most one of them is non-zero


_ROWS_PER_TASK = 16  # rows of a plane handled in sequence by one task (carried face fluxes)


@njit(cache=True, fastmath={"nnan", "ninf", "nsz"})  # not inlined: its loop vectorizes alone
def _slopes(lo, mid, hi, active, out):
    """Half minmod slopes of the cells ``mid`` (neighbours ``lo``/``hi``); zeros if inactive."""
    if active:
        for j in range(out.shape[0]):
            out[j] = _minmod_half(lo[j], mid[j], hi[j])
    else:
        out[:] = 0.0


@njit(cache=True, fastmath={"nnan", "ninf", "nsz"})  # not inlined: its loop vectorizes alone
def _face_flux(r_lo, r_hi, s_lo, s_hi, x_lo, x_hi, inv_h, b, out):
    """Upwind fluxes through the faces between lines ``lo`` and ``hi`` (velocity
    ``−Δξ/h + b``); returns the bits of ``max |u|``."""
    top = 0  # bits of max |u| (an integer reduction vectorizes)
    for j in range(out.shape[0]):
        u = -(x_hi[j] - x_lo[j]) * inv_h + b[j]
        out[j] = _pos(u) * (r_lo[j] + s_lo[j]) + _neg(u) * (r_hi[j] - s_hi[j])
        top = max_bits(top, float_bits(abs(u)))
    return top


@njit(cache=True, fastmath={"nnan", "ninf", "nsz"})
def _divergence(line, f_low, f_high, ih2, ih1, out):
    """``out = −(Δ line)/h2 − (f_high − f_low)/h1`` along one row."""
    for j in range(out.shape[0]):
        out[j] = -((line[j + 1] - line[j]) * ih2 + (f_high[j] - f_low[j]) * ih1)


def _flux_divergence(rho, xi, inv_h, second_order, rate, speeds, drift, has_drift):
    n0, n1, n2 = rho.shape
    b0, b1, b2 = drift  # face velocities of a non-gradient drift (dummies without one)
    zeros = np.zeros(n2)
    zeros_line = np.zeros(max(n2 - 1, 0))
    ih0, ih1, ih2 = inv_h[0], inv_h[1], inv_h[2]  # scalars: loops then touch fewer arrays
    chunks = (n1 + _ROWS_PER_TASK - 1) // _ROWS_PER_TASK
    tasks = n0 * chunks
    task_speed = np.zeros((tasks, 3), dtype=np.int64)  # bits of max |u| per axis
    for task in prange(tasks):
        i0 = task // chunks
        first = (task % chunks) * _ROWS_PER_TASK
        last = min(n1, first + _ROWS_PER_TASK)
        r, x, out = rho[i0], xi[i0], rate[i0]
        half = np.zeros(n2)  # contiguous-axis slopes of one row
        line = np.zeros(n2 + 1)  # contiguous-axis face fluxes of one row
        s_cur = np.zeros(n2)  # axis-1 slopes of rows i1 and i1 + 1
        s_next = np.zeros(n2)
        f_low = np.zeros(n2)  # axis-1 fluxes through faces i1 − ½ and i1 + ½
        f_high = np.zeros(n2)
        top1 = 0
        top2 = 0
        if first > 0:  # the face below the chunk, as the task before computes it
            _slopes(r[max(first - 2, 0)], r[first - 1], r[first], second_order and first - 1 > 0,
                    s_next)
            _slopes(r[first - 1], r[first], r[min(first + 1, n1 - 1)],
                    second_order and first < n1 - 1, s_cur)
            b_low = b1[i0, first - 1] if has_drift else zeros
            top1 = _face_flux(r[first - 1], r[first], s_next, s_cur, x[first - 1], x[first],
                              ih1, b_low, f_low)
        else:
            _slopes(r[0], r[0], r[0], False, s_cur)
        for i1 in range(first, last):
            row, xrow, orow = r[i1], x[i1], out[i1]
            # contiguous axis 2 (boundary faces carry no flux)
            if second_order and n2 > 2:
                _slopes(row[:-2], row[1:-1], row[2:], True, half[1:-1])
            b_line = b2[i0, i1] if has_drift else zeros_line
            top2 = max_bits(top2, _face_flux(row[:-1], row[1:], half[:-1], half[1:], xrow[:-1],
                                             xrow[1:], ih2, b_line, line[1:-1]))
            # axis 1: the face above this row
            if i1 + 1 < n1:
                _slopes(row, r[i1 + 1], r[min(i1 + 2, n1 - 1)],
                        second_order and i1 + 1 < n1 - 1, s_next)
                b_high = b1[i0, i1] if has_drift else zeros
                top1 = max_bits(top1, _face_flux(row, r[i1 + 1], s_cur, s_next, xrow, x[i1 + 1],
                                                ih1, b_high, f_high))
            else:
                f_high[:] = 0.0
            _divergence(line, f_low, f_high, ih2, ih1, orow)
            s_cur, s_next = s_next, s_cur
            f_low, f_high = f_high, f_low
        task_speed[task, 1] = top1
        task_speed[task, 2] = top2
    if n0 > 1:  # 3-D: axis 0, one sweep over whole planes (contiguous rows of n1·n2 cells)
        width = n1 * n2
        b_planes = (
            b0.reshape(n0 - 1, width) if has_drift else np.zeros((n0 - 1, width))
        )
        task_speed[0, 0] = _sweep(
            rho.reshape(n0, width), xi.reshape(n0, width), ih0, second_order, b_planes,
            rate.reshape(n0, width),
        )
    for k in range(3):
        top = 0
        for task in range(tasks):
            top = max_bits(top, task_speed[task, k])
        speeds[k] = bits_float(top)


@njit(cache=True, fastmath={"nnan", "ninf", "nsz"})
def _sweep(r, x, inv_h, second_order, b, out):
    """Add the divergence of the fluxes along the first axis of the 2-D slices ``r``, ``x``
    (rows contiguous) to ``out``; returns the bits of ``max |u|``."""
    n, width = r.shape
    s_cur = np.zeros(width)
    s_next = np.zeros(width)
    f_low = np.zeros(width)
    f_high = np.zeros(width)
    top = 0
    for i in range(n):
        if i + 1 < n:
            _slopes(r[i], r[i + 1], r[min(i + 2, n - 1)], second_order and i + 1 < n - 1, s_next)
            top = max_bits(top, _face_flux(r[i], r[i + 1], s_cur, s_next, x[i], x[i + 1],
                                           inv_h, b[i], f_high))
        else:
            f_high[:] = 0.0
        _accumulate(f_low, f_high, inv_h, out[i])
        s_cur, s_next = s_next, s_cur
        f_low, f_high = f_high, f_low
    return top


@njit(cache=True, fastmath={"nnan", "ninf", "nsz"})
def _accumulate(f_low, f_high, inv_h, out):
    """``out −= (f_high − f_low)/h`` along one row."""
    for j in range(out.shape[0]):
        out[j] -= (f_high[j] - f_low[j]) * inv_h


#: serial and parallel compilations of the same loops
entropy_potential_serial = njit(cache=True, error_model="numpy")(_entropy_potential)
entropy_potential_parallel = njit(cache=True, parallel=True, error_model="numpy")(
    _entropy_potential
)
# no NaN/inf/signed-zero semantics (no reassociation): the max-speed reductions vectorize;
# results equal the strict loops' bit for bit on finite data
_FAST = {"nnan", "ninf", "nsz"}
flux_divergence_serial = njit(cache=True, error_model="numpy", fastmath=_FAST)(_flux_divergence)
flux_divergence_parallel = njit(cache=True, parallel=True, error_model="numpy", fastmath=_FAST)(
    _flux_divergence
)


NO_DRIFT = (np.zeros((1, 1, 1)),) * 3


def grid_view(arr: np.ndarray) -> np.ndarray:
    """View a C-contiguous 1-, 2- or 3-D array as ``(n0, n1, n2)``.

    Parameters
    ----------
    arr : ndarray
        C-contiguous, 1 to 3 dimensions.

    Returns
    -------
    ndarray, shape (n0, n1, n2)
        A view (leading axes of length 1 added).
    """
    return arr.reshape((1,) * (3 - arr.ndim) + arr.shape)
