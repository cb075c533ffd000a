r"""Compiled ``O(N²)`` kernels of the blob method for nonlinear diffusion, with numpy references.

The deterministic blob method (Carrillo, Craig & Patacchini, *A blob method for diffusion*,
Calc. Var. PDE 58 (2019) 53) replaces the internal energy ``∫ H(ρ)`` with ``H(ρ) = c ρ^m/(m−1)``
(``m > 1``) by the regularized energy

.. math::
    \mathcal H_\delta(\rho) = \int U\big(\varphi_\delta * \rho\big)\, d\rho, \qquad
    U(s) = \frac{H(s)}{s} = \frac{c\, s^{m-1}}{m-1},

which is finite on empirical measures ``ρ_N = Σ_j w_j δ_{x_j}``:

.. math::
    \mathcal H_\delta(\rho_N) = \sum_i w_i\, U(\bar\rho_i), \qquad
    \bar\rho_i = \sum_j w_j\, \varphi_\delta(x_i - x_j)  \quad (j = i \text{ included}).

Its gradient with respect to ``x_i`` divided by ``w_i`` (the Wasserstein gradient at the
particle; ``φ_δ`` is even, so ``∇φ_δ`` is odd and ``∇φ_δ(0) = 0``) is

.. math::
    g_i = \sum_j w_j \big(U'(\bar\rho_i) + U'(\bar\rho_j)\big)\, \nabla\varphi_\delta(x_i - x_j),
    \qquad U'(s) = c\, s^{m-2},

and the particles move with velocity ``−g_i`` (plus the other drift terms). For ``m = 2`` this
is ``2c Σ_j w_j ∇φ_δ(x_i − x_j)``, the gradient of the interaction energy ``c∫ρ φ_δ*ρ``.

Mollifiers ``φ_δ(z) = δ^{−D} φ(z/δ)``, radial, normalized to mass 1 in ``D`` dimensions:

- ``"gaussian"``: ``φ_δ(z) = (2πδ²)^{−D/2} exp(−|z|²/(2δ²))`` (``δ`` is the standard deviation
  per axis), ``∇φ_δ(z) = −φ_δ(z) z/δ²``;
- ``"quartic"``: ``φ_δ(z) = A_D^{−1} δ^{−D} (1 − |z|²/δ²)²₊`` (compact support of radius
  ``δ``, C¹), ``A_1 = 16/15``, ``A_2 = π/3``, ``A_3 = 32π/105``,
  ``∇φ_δ(z) = −4 A_D^{−1} δ^{−D−2} (1 − |z|²/δ²)₊ z``.

Both passes (the blob densities ``ρ̄_i``, then ``g_i``) are loops over rows ``i`` (``prange``
from ``PARALLEL_MIN_ITEMS`` pairs up) that sum ``j`` in index order, so the result does not
depend on the number of threads. :func:`blob_gradient_numpy` and :func:`blob_energy_numpy` are
the dense numpy references (``O(N²)`` memory).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from wgflow.threads import parallel_worthwhile

#: the mollifiers by name, and their integer ids in the compiled kernels
MOLLIFIERS = {"gaussian": 0, "quartic": 1}

_QUARTIC_MASS = {1: 16.0 / 15.0, 2: math.pi / 3.0, 3: 32.0 * math.pi / 105.0}


def mollifier_constants(mollifier: str, width: float, dim: int) -> tuple[int, float, float]:
    """``(kind, 1/δ², normalization)`` of a mollifier of width ``δ`` in ``dim`` dimensions.

    Parameters
    ----------
    mollifier : {"gaussian", "quartic"}
        The blob function.
    width : float
        ``δ > 0``.
    dim : int
        ``D`` (the quartic is normalized in 1-, 2- and 3-D only).

    Returns
    -------
    tuple
        The kernels' ``kind``, ``1/δ²`` and the prefactor ``φ_δ(0)``.
    """
    if mollifier not in MOLLIFIERS:
        raise ValueError(f"mollifier: need one of {sorted(MOLLIFIERS)}, got {mollifier!r}")
    if mollifier == "gaussian":
        norm = (2.0 * math.pi * width * width) ** (-0.5 * dim)
    else:
        if dim not in _QUARTIC_MASS:
            raise ValueError(f"mollifier: 'quartic' is defined in 1-, 2- and 3-D, not {dim}-D")
        norm = 1.0 / (_QUARTIC_MASS[dim] * width**dim)
    return MOLLIFIERS[mollifier], 1.0 / (width * width), norm


@njit(cache=True, inline="always")
def _value_and_slope(kind, r2, inv_d2, norm):
    """``(φ_δ(z), s)`` with ``∇φ_δ(z) = s z``, from ``r² = |z|²``."""
    if kind == 0:
        phi = norm * math.exp(-0.5 * r2 * inv_d2)
        return phi, -phi * inv_d2
    q = 1.0 - r2 * inv_d2
    if q <= 0.0:
        return 0.0, 0.0
    return norm * q * q, -4.0 * norm * q * inv_d2


@njit(cache=True, inline="always")
def _density_row(x, w, kind, inv_d2, norm, i):
    n, d = x.shape
    acc = 0.0
    for j in range(n):
        r2 = 0.0
        for k in range(d):
            z = x[i, k] - x[j, k]
            r2 += z * z
        phi, _ = _value_and_slope(kind, r2, inv_d2, norm)
        acc += w[j] * phi
    return acc


@njit(cache=True, inline="always")
def _gradient_row(x, w, kind, inv_d2, norm, slope_u, out, i):
    n, d = x.shape
    for k in range(d):
        out[i, k] = 0.0
    for j in range(n):
        if j == i:
            continue
        r2 = 0.0
        for k in range(d):
            z = x[i, k] - x[j, k]
            r2 += z * z
        _, s = _value_and_slope(kind, r2, inv_d2, norm)
        c = w[j] * (slope_u[i] + slope_u[j]) * s
        for k in range(d):
            out[i, k] += c * (x[i, k] - x[j, k])


@njit(cache=True, parallel=True)
def blob_densities_parallel(x, w, kind, inv_d2, norm, out):
    """``out[i] = Σ_j w_j φ_δ(x_i − x_j)`` (threads over ``i``)."""
    for i in prange(x.shape[0]):
        out[i] = _density_row(x, w, kind, inv_d2, norm, i)


@njit(cache=True)
def blob_densities_serial(x, w, kind, inv_d2, norm, out):
    """``out[i] = Σ_j w_j φ_δ(x_i − x_j)`` (one thread)."""
    for i in range(x.shape[0]):
        out[i] = _density_row(x, w, kind, inv_d2, norm, i)


@njit(cache=True, parallel=True)
def blob_pair_gradient_parallel(x, w, kind, inv_d2, norm, slope_u, out):
    """``out[i] = Σ_j w_j (u_i + u_j) ∇φ_δ(x_i − x_j)`` with ``u = U′(ρ̄)`` (threads)."""
    for i in prange(x.shape[0]):
        _gradient_row(x, w, kind, inv_d2, norm, slope_u, out, i)


@njit(cache=True)
def blob_pair_gradient_serial(x, w, kind, inv_d2, norm, slope_u, out):
    """``out[i] = Σ_j w_j (u_i + u_j) ∇φ_δ(x_i − x_j)`` with ``u = U′(ρ̄)`` (one thread)."""
    for i in range(x.shape[0]):
        _gradient_row(x, w, kind, inv_d2, norm, slope_u, out, i)


def _u(rho: np.ndarray, m: float, c: float) -> np.ndarray:
    """``U(s) = c s^{m−1}/(m−1)``."""
    return c * np.power(rho, m - 1.0) / (m - 1.0)


def _u_slope(rho: np.ndarray, m: float, c: float) -> np.ndarray:
    """``U′(s) = c s^{m−2}``."""
    return c * (np.ones_like(rho) if m == 2.0 else np.power(rho, m - 2.0))


def blob_densities(x: np.ndarray, w: np.ndarray, mollifier: str, width: float) -> np.ndarray:
    """The blob densities ``ρ̄_i = (φ_δ * ρ_N)(x_i)`` (compiled).

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Positions (float64).
    w : ndarray, shape (N,)
        Weights (mass units).
    mollifier : {"gaussian", "quartic"}
        The blob function.
    width : float
        ``δ`` (length units).

    Returns
    -------
    ndarray, shape (N,)
        ``ρ̄`` (mass per length^D), all > 0.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    w = np.ascontiguousarray(w, dtype=np.float64)
    kind, inv_d2, norm = mollifier_constants(mollifier, width, x.shape[1])
    out = np.empty(x.shape[0])
    n = x.shape[0]
    kernel = blob_densities_parallel if parallel_worthwhile(n * n) else blob_densities_serial
    kernel(x, w, kind, inv_d2, norm, out)
    return out


def blob_gradient(
    x: np.ndarray, w: np.ndarray, m: float, c: float, mollifier: str, width: float
) -> np.ndarray:
    """``g_i = Σ_j w_j (U′(ρ̄_i) + U′(ρ̄_j)) ∇φ_δ(x_i − x_j)``: the particles' velocity is ``−g``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Positions (float64).
    w : ndarray, shape (N,)
        Weights.
    m, c : float
        ``H(ρ) = c ρ^m/(m−1)``, ``m > 1``, ``c > 0``.
    mollifier : {"gaussian", "quartic"}
        The blob function.
    width : float
        ``δ``.

    Returns
    -------
    ndarray, shape (N, D)
        The gradient of the first variation of ``H_δ`` at the particles (length/time units
        once multiplied by the mobility 1).
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    w = np.ascontiguousarray(w, dtype=np.float64)
    kind, inv_d2, norm = mollifier_constants(mollifier, width, x.shape[1])
    n = x.shape[0]
    parallel = parallel_worthwhile(n * n)
    rho = np.empty(n)
    (blob_densities_parallel if parallel else blob_densities_serial)(x, w, kind, inv_d2, norm, rho)
    slope_u = np.ascontiguousarray(_u_slope(rho, m, c))
    out = np.empty_like(x)
    (blob_pair_gradient_parallel if parallel else blob_pair_gradient_serial)(
        x, w, kind, inv_d2, norm, slope_u, out
    )
    return out


def blob_energy(
    x: np.ndarray, w: np.ndarray, m: float, c: float, mollifier: str, width: float
) -> float:
    """``H_δ(ρ_N) = Σ_i w_i U(ρ̄_i)`` (compiled densities).

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Positions.
    w : ndarray, shape (N,)
        Weights.
    m, c : float
        ``H(ρ) = c ρ^m/(m−1)``.
    mollifier : {"gaussian", "quartic"}
        The blob function.
    width : float
        ``δ``.

    Returns
    -------
    float
        The regularized internal energy.
    """
    rho = blob_densities(x, w, mollifier, width)
    return float(np.asarray(w, dtype=np.float64) @ _u(rho, m, c))


def _numpy_pairs(x, mollifier, width):
    x = np.asarray(x, dtype=np.float64)
    _, inv_d2, norm = mollifier_constants(mollifier, width, x.shape[1])
    z = x[:, None, :] - x[None, :, :]
    r2 = np.sum(z * z, axis=-1)
    if mollifier == "gaussian":
        phi = norm * np.exp(-0.5 * r2 * inv_d2)
        slope = -phi * inv_d2
    else:
        q = np.maximum(1.0 - r2 * inv_d2, 0.0)
        phi = norm * q * q
        slope = -4.0 * norm * q * inv_d2
    return z, phi, slope


def blob_gradient_numpy(
    x: np.ndarray, w: np.ndarray, m: float, c: float, mollifier: str, width: float
) -> np.ndarray:
    """Dense numpy reference of :func:`blob_gradient` (``O(N²)`` memory).

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Positions.
    w : ndarray, shape (N,)
        Weights.
    m, c : float
        ``H(ρ) = c ρ^m/(m−1)``.
    mollifier : {"gaussian", "quartic"}
        The blob function.
    width : float
        ``δ``.

    Returns
    -------
    ndarray, shape (N, D)
        ``g``.
    """
    w = np.asarray(w, dtype=np.float64)
    z, phi, slope = _numpy_pairs(x, mollifier, width)
    u = _u_slope(phi @ w, m, c)
    coef = w[None, :] * (u[:, None] + u[None, :]) * slope
    return np.einsum("ij,ijk->ik", coef, z)


def blob_energy_numpy(
    x: np.ndarray, w: np.ndarray, m: float, c: float, mollifier: str, width: float
) -> float:
    """Dense numpy reference of :func:`blob_energy`.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Positions.
    w : ndarray, shape (N,)
        Weights.
    m, c : float
        ``H(ρ) = c ρ^m/(m−1)``.
    mollifier : {"gaussian", "quartic"}
        The blob function.
    width : float
        ``δ``.

    Returns
    -------
    float
        ``Σ_i w_i U(ρ̄_i)``.
    """
    w = np.asarray(w, dtype=np.float64)
    _, phi, _ = _numpy_pairs(x, mollifier, width)
    return float(w @ _u(phi @ w, m, c))
