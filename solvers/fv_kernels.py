"""Compiled kernels of the finite-volume solver, each with a plain-numpy reference.

Arrays are viewed as ``(A, n, B)``: the middle axis is the direction being differenced, so
one kernel serves every axis of a 1-, 2- or 3-D grid (``reshape`` of a C-contiguous array).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _minmod3(a, b, c):
    if a > 0.0 and b > 0.0 and c > 0.0:
        return min(a, min(b, c))
    if a < 0.0 and b < 0.0 and c < 0.0:
        return max(a, max(b, c))
    return 0.0


@njit(cache=True, inline="always")
def _half_slope(rho, a, j, b, n):
    """Half the undivided minmod slope (θ = 2) in cell j; zero in boundary cells."""
    if j == 0 or j == n - 1:
        return 0.0
    left = rho[a, j, b] - rho[a, j - 1, b]
    right = rho[a, j + 1, b] - rho[a, j, b]
    return 0.5 * _minmod3(2.0 * left, 0.5 * (left + right), 2.0 * right)


_BLOCK = 64  # columns b handled together: contiguous inner loops when differencing axis 0


def upwind_divergence(rho, xi, h, second_order, out):
    """Add ``-(F_{j+½} - F_{j-½}) / h`` along the middle axis to ``out``; return ``max |u|``.

    ``F_{j+½} = u⁺ ρ^E_j + u⁻ ρ^W_{j+1}``, ``u_{j+½} = -(ξ_{j+1} - ξ_j) / h``, no flux through the
    two boundary faces; ``ρ^{E,W}`` are minmod point values (second order) or cell averages.
    One pass over the data, parallel over rows ``a`` (and blocks of columns ``b`` when
    ``B > 1``, so that inner loops run over contiguous memory).

    Parameters
    ----------
    rho, xi : ndarray, shape (A, n, B)
        Cell averages and the potential ``ξ``.
    h : float
        Spacing along the middle axis.
    second_order : bool
        Minmod reconstruction (else cell averages).
    out : ndarray, shape (A, n, B)
        Accumulates the divergence (added to).

    Returns
    -------
    float
        ``max |u|`` over the faces.
    """
    if rho.shape[2] == 1:
        return _upwind_lines(rho, xi, h, second_order, out)
    return _upwind_blocks(rho, xi, h, second_order, out)


@njit(cache=True, parallel=True)
def _upwind_lines(rho, xi, h, second_order, out):
    n_a, n, _ = rho.shape
    line_max = np.zeros(n_a)
    for a in prange(n_a):
        local_max = 0.0
        flux_left = 0.0
        half_slope = 0.0
        for j in range(n - 1):
            half_next = _half_slope(rho, a, j + 1, 0, n) if second_order else 0.0
            u = -(xi[a, j + 1, 0] - xi[a, j, 0]) / h
            if u > 0.0:
                flux = u * (rho[a, j, 0] + half_slope)
            else:
                flux = u * (rho[a, j + 1, 0] - half_next)
            au = abs(u)
            if au > local_max:
                local_max = au
            out[a, j, 0] -= (flux - flux_left) / h
            flux_left = flux
            half_slope = half_next
        out[a, n - 1, 0] += flux_left / h
        line_max[a] = local_max
    return line_max.max()


@njit(cache=True, parallel=True)
def _upwind_blocks(rho, xi, h, second_order, out):
    n_a, n, n_b = rho.shape
    n_blocks = (n_b + _BLOCK - 1) // _BLOCK
    task_max = np.zeros(n_a * n_blocks)
    for task in prange(n_a * n_blocks):
        a = task // n_blocks
        b0 = (task % n_blocks) * _BLOCK
        width = min(_BLOCK, n_b - b0)
        flux_left = np.zeros(width)
        half_slope = np.zeros(width)  # cell j's half slope; zero in boundary cell 0
        local_max = 0.0
        for j in range(n - 1):
            for k in range(width):
                b = b0 + k
                half_next = _half_slope(rho, a, j + 1, b, n) if second_order else 0.0
                u = -(xi[a, j + 1, b] - xi[a, j, b]) / h
                if u > 0.0:
                    flux = u * (rho[a, j, b] + half_slope[k])
                else:
                    flux = u * (rho[a, j + 1, b] - half_next)
                au = abs(u)
                if au > local_max:
                    local_max = au
                out[a, j, b] -= (flux - flux_left[k]) / h
                flux_left[k] = flux
                half_slope[k] = half_next
        for k in range(width):
            out[a, n - 1, b0 + k] += flux_left[k] / h
        task_max[task] = local_max
    return task_max.max()


def upwind_divergence_numpy(rho, xi, h, second_order):
    """Plain-numpy reference of :func:`upwind_divergence`.

    Parameters
    ----------
    rho, xi : ndarray, shape (A, n, B)
        Cell averages and the potential ``ξ``.
    h : float
        Spacing along the middle axis.
    second_order : bool
        Minmod reconstruction (else cell averages).

    Returns
    -------
    div : ndarray, shape (A, n, B)
        ``-(F_{j+½} - F_{j-½}) / h``.
    speed : float
        ``max |u|`` over the faces.
    """
    n = rho.shape[1]
    half = np.zeros_like(rho)
    if second_order and n > 2:
        left = rho[:, 1:-1] - rho[:, :-2]
        right = rho[:, 2:] - rho[:, 1:-1]
        cands = np.stack([2 * left, 0.5 * (left + right), 2 * right])
        mm = np.where(
            np.all(cands > 0, axis=0),
            cands.min(axis=0),
            np.where(np.all(cands < 0, axis=0), cands.max(axis=0), 0.0),
        )
        half[:, 1:-1] = 0.5 * mm
    east = rho + half
    west = rho - half
    u = -(xi[:, 1:] - xi[:, :-1]) / h
    flux = np.where(u > 0, u * east[:, :-1], u * west[:, 1:])
    zero = np.zeros_like(flux[:, :1])
    flux = np.concatenate([zero, flux, zero], axis=1)
    return -(flux[:, 1:] - flux[:, :-1]) / h, np.abs(u).max(initial=0.0)


def axis_view(arr: np.ndarray, axis: int) -> np.ndarray:
    """View a C-contiguous array as ``(A, n, B)`` with ``n`` the length of ``axis``.

    Parameters
    ----------
    arr : ndarray
        C-contiguous.
    axis : int
        The axis that becomes the middle one.

    Returns
    -------
    ndarray, shape (A, n, B)
        A view of ``arr``.
    """
    shape = arr.shape
    a = int(np.prod(shape[:axis], dtype=np.int64))
    b = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    return arr.reshape(a, shape[axis], b)


def bernoulli(z: np.ndarray) -> np.ndarray:
    """``B(z) = z / (e^z - 1)`` with ``B(0) = 1``, stable for large ``|z|``.

    Parameters
    ----------
    z : array_like
        Arguments.

    Returns
    -------
    ndarray
        ``B(z)``, same shape (``1 − z/2`` for ``|z| < 1e-8``).
    """
    z = np.asarray(z, dtype=float)
    small = np.abs(z) < 1e-8
    zs = np.where(small, 1.0, z)
    with np.errstate(over="ignore"):
        out = zs / np.expm1(zs)
    return np.where(small, 1.0 - 0.5 * z, out)


def _euler_stage(rho, rate, dt, out):
    """``out = rho + dt * rate`` (flat arrays); True if every entry is finite and ≥ 0."""
    bad = 0
    for i in prange(rho.size):
        v = rho[i] + dt * rate[i]
        out[i] = v
        bad += 0 if (v >= 0.0 and v < np.inf) else 1
    return bad == 0


def _heun_stage(rho, stage, rate, dt, out):
    """``out = ½ (rho + stage + dt * rate)`` (SSP-RK2 second stage); True if finite and ≥ 0."""
    bad = 0
    for i in prange(rho.size):
        v = 0.5 * (rho[i] + stage[i] + dt * rate[i])
        out[i] = v
        bad += 0 if (v >= 0.0 and v < np.inf) else 1
    return bad == 0


#: parallel (large grids) and serial (small grids: no thread start-up) compilations
euler_stage = njit(cache=True, parallel=True)(_euler_stage)
heun_stage = njit(cache=True, parallel=True)(_heun_stage)
euler_stage_serial = njit(cache=True)(_euler_stage)
heun_stage_serial = njit(cache=True)(_heun_stage)
