"""Compiled assembly of the semi-implicit finite-volume operator (Scharfetter–Gummel fluxes).

The sparsity pattern of ``A`` (``dρ/dt = A ρ``: the diagonal and the ``2D`` neighbours of each
cell) never changes, so :class:`OperatorPattern` builds its CSC structure once, with the
position in the data array of every face's four entries. Each step then fills the data in one
compiled pass over the faces (no COO triplets, no sorting, no numpy temporaries) and forms
``I − Δt A`` on the same structure.

Face ``f`` between cells ``p < q`` (neighbours along one axis, spacing ``h``), velocity
``u = −(ξ_q − ξ_p)/h (+ b)`` and diffusivity ``d = ½(D_p + D_q)``: with ``z = −u h / d``,
``α = d B(z)/h²``, ``γ = d B(−z)/h² = d (B(z) + z)/h²`` (``B(z) = z/(eᶻ − 1)``), or the upwind
``α = max(u, 0)/h``, ``γ = max(−u, 0)/h`` where ``|z| ≥ 64`` (``d = 0`` included: degenerate
diffusion, where ``z`` would overflow; the two agree to ``e^{−64}`` there); entries ``A_pp −= α``,
``A_pq += γ``, ``A_qp += α``, ``A_qq −= γ`` (zero column sums: mass is conserved).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from numba import njit

UPWIND_PECLET = 64.0  # |z| above which the Scharfetter–Gummel flux is evaluated as upwind


@njit(cache=True, inline="always")
def _bernoulli(z):
    if abs(z) < 1e-8:
        return 1.0 - 0.5 * z
    return z / math.expm1(z)


@njit(cache=True)
def fill_operator(xi, diff, drift, has_drift, p_idx, q_idx, inv_h, positions, data):
    """Fill the CSC ``data`` of ``A`` (zeroed first) from flat ``ξ``, ``D`` and face drifts.

    ``p_idx``, ``q_idx`` (F,) are the faces' cells, ``inv_h`` (F,) their ``1/h``,
    ``positions`` (4, F) the data positions of ``(p,p), (p,q), (q,p), (q,q)``; ``drift`` (F,)
    the drift's normal velocity (read when ``has_drift``).
    """
    for k in range(data.size):
        data[k] = 0.0
    for f in range(p_idx.size):
        p, q = p_idx[f], q_idx[f]
        ih = inv_h[f]
        u = -(xi[q] - xi[p]) * ih
        if has_drift:
            u += drift[f]
        d = 0.5 * (diff[p] + diff[q])
        if abs(u) < UPWIND_PECLET * d * ih:  # |z| < 64; beyond, SG equals upwind to 1e-26
            z = -u / (d * ih)
            bz = _bernoulli(z)
            alpha = d * ih * bz * ih
            gamma = d * ih * (bz + z) * ih
        else:
            alpha = max(u, 0.0) * ih
            gamma = max(-u, 0.0) * ih
        data[positions[0, f]] -= alpha
        data[positions[1, f]] += gamma
        data[positions[2, f]] += alpha
        data[positions[3, f]] -= gamma


@njit(cache=True)
def shifted_data(data, dt, diagonal, out):
    """``out`` = data of ``I − Δt A`` on the same structure (``diagonal``: diagonal positions)."""
    for k in range(data.size):
        out[k] = -dt * data[k]
    for i in range(diagonal.size):
        out[diagonal[i]] += 1.0


class OperatorPattern:
    """The fixed CSC structure of the semi-implicit operator on a grid.

    Parameters
    ----------
    shape : tuple of int
        Grid shape.
    spacing : sequence of float
        Cell widths per axis.
    """

    def __init__(self, shape: tuple[int, ...], spacing) -> None:
        n = int(np.prod(shape))
        index = np.arange(n).reshape(shape)
        ps, qs, hs = [], [], []
        for axis, h in enumerate(spacing):
            lo = [slice(None)] * len(shape)
            hi = [slice(None)] * len(shape)
            lo[axis], hi[axis] = slice(0, -1), slice(1, None)
            ps.append(index[tuple(lo)].ravel())
            qs.append(index[tuple(hi)].ravel())
            hs.append(np.full(ps[-1].size, 1.0 / h))
        self.p = np.ascontiguousarray(np.concatenate(ps))
        self.q = np.ascontiguousarray(np.concatenate(qs))
        self.inv_h = np.concatenate(hs)
        self.size = n
        cells = np.arange(n)
        rows = np.concatenate([cells, self.p, self.q])
        cols = np.concatenate([cells, self.q, self.p])
        pattern = sp.csc_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))
        pattern.sort_indices()
        self.indptr, self.indices = pattern.indptr.copy(), pattern.indices.copy()
        column = np.repeat(np.arange(n), np.diff(self.indptr))
        keys = column.astype(np.int64) * n + self.indices  # sorted: column-major, rows sorted

        def where(r, c):
            return np.searchsorted(keys, c.astype(np.int64) * n + r)

        self.positions = np.ascontiguousarray(
            np.stack([where(self.p, self.p), where(self.p, self.q), where(self.q, self.p),
                      where(self.q, self.q)])  # fmt: skip
        )
        self.diagonal = where(cells, cells)
        self.nnz = self.indices.size

    def operator(self, xi, diff, drift=None) -> sp.csc_matrix:
        """``A`` for flat ``ξ`` and ``D`` (and face drifts, concatenated over axes).

        Parameters
        ----------
        xi, diff : ndarray, shape (n,)
            Frozen potential and diffusivity per cell.
        drift : ndarray, shape (F,), optional
            The drift's normal velocity at the faces, axis by axis.

        Returns
        -------
        scipy.sparse.csc_matrix, shape (n, n)
            ``A`` (zero column sums).
        """
        data = np.empty(self.nnz)
        has_drift = drift is not None
        face = np.ascontiguousarray(drift, float) if has_drift else np.zeros(1)
        fill_operator(
            np.ascontiguousarray(xi, float), np.ascontiguousarray(diff, float), face,
            has_drift, self.p, self.q, self.inv_h, self.positions, data,
        )  # fmt: skip
        return self.matrix(data)

    def shifted(self, a: sp.csc_matrix, dt: float) -> sp.csc_matrix:
        """``I − Δt A`` on the same structure (``a`` from :meth:`operator`).

        Parameters
        ----------
        a : scipy.sparse.csc_matrix
            The operator.
        dt : float
            The step.

        Returns
        -------
        scipy.sparse.csc_matrix
            ``I − Δt A``.
        """
        out = np.empty(self.nnz)
        shifted_data(a.data, float(dt), self.diagonal, out)
        return self.matrix(out)

    def matrix(self, data: np.ndarray) -> sp.csc_matrix:
        """A CSC matrix with this structure and ``data``.

        Parameters
        ----------
        data : ndarray, shape (nnz,)
            The nonzero values in this structure's CSC order.

        Returns
        -------
        scipy.sparse.csc_matrix, shape (size, size)
            The matrix (indices marked sorted).
        """
        m = sp.csc_matrix((data, self.indices, self.indptr), shape=(self.size, self.size))
        m.has_sorted_indices = True
        return m


def operator_numpy(fv, rho) -> sp.csc_matrix:
    """The semi-implicit operator of ``fv`` at ``rho`` from COO triplets in plain numpy.

    The reference the compiled assembly is tested and benchmarked against (it was the
    assembly before :class:`OperatorPattern`).

    Parameters
    ----------
    fv : FiniteVolume
        A semi-implicit solver.
    rho : ndarray, shape fv.grid.shape
        Cell averages.

    Returns
    -------
    scipy.sparse.csc_matrix, shape (n, n)
        ``A``.
    """
    from .fv_kernels import bernoulli

    grid = fv.grid
    xi = fv.discrete.frozen_potential(rho)
    internal = fv.energy.internal
    diff = np.zeros(grid.shape) if internal is None else internal.diffusivity(rho)
    index = np.arange(grid.size).reshape(grid.shape)
    rows, cols, vals = [], [], []
    drift = fv.face_drift(rho)
    for axis, h in enumerate(fv._h):
        lo = [slice(None)] * grid.dim
        hi = [slice(None)] * grid.dim
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        lo, hi = tuple(lo), tuple(hi)
        p, q = index[lo].ravel(), index[hi].ravel()
        u = (-(xi[hi] - xi[lo]) / h).ravel() + (drift[axis].ravel() if drift else 0.0)
        d = (0.5 * (diff[lo] + diff[hi])).ravel()
        has = np.abs(u) < UPWIND_PECLET * d / h  # degenerate (tiny d) faces: upwind
        z = np.where(has, -u * h / np.where(has, d, 1.0), 0.0)
        bz = bernoulli(z)
        alpha = np.where(has, d / h * bz, np.maximum(u, 0.0)) / h
        gamma = np.where(has, d / h * (bz + z), np.maximum(-u, 0.0)) / h
        rows += [p, p, q, q]
        cols += [p, q, p, q]
        vals += [-alpha, gamma, alpha, -gamma]
    n = grid.size
    return sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
