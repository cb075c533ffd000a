r"""Ornstein–Uhlenbeck Fokker–Planck equation, optionally with a quadratic interaction.

.. math::
    \partial_t \rho = \nabla\cdot(\rho \nabla(V + W*\rho)) + D \Delta\rho, \quad
    V(x) = \tfrac12 x^\top A x, \quad W(z) = \tfrac{\kappa}{2}|z|^2 .

Gaussian data stay Gaussian. With ``∇W*ρ = κ(x − μ)``, the mean follows ``V`` alone and the
covariance feels the interaction:

.. math::
    \mu' = -A\mu, \qquad \Sigma' = -(A+\kappa)\Sigma - \Sigma(A+\kappa) + 2D I .

Both are solved exactly in the eigenbasis of the symmetric matrix ``A``.
"""

from __future__ import annotations

import functools

import numpy as np

from wgflow.energy import Entropy, FreeEnergy, Potential
from wgflow.grid import Grid
from wgflow.interactions import PairwiseInteraction
from wgflow.problem import Problem
from wgflow.validation import check_positive, check_real, strict_keywords


class OrnsteinUhlenbeck(Problem):
    """OU process ``dX = −A X dt + √(2D) dB`` (plus a quadratic interaction) and its exact law.

    Parameters
    ----------
    dim : int
        Dimension, 1 to 3.
    diffusion : float
        ``D = 1/β > 0``.
    mean0 : array_like, shape (dim,)
        Initial mean.
    var0 : float or array_like, shape (dim, dim)
        Initial covariance (a scalar means ``var0 · I``), positive definite.
    stiffness : float or array_like, shape (dim, dim)
        ``A`` in ``V = ½ xᵀ A x``, symmetric positive definite (default 1: ``V = |x|²/2``).
    kappa : float
        Strength of the interaction ``W = κ|z|²/2`` (0: none; needs ``A + κ`` positive definite).
    """

    @strict_keywords
    def __init__(
        self,
        dim: int = 1,
        diffusion: float = 1.0,
        mean0=None,
        var0=1.0,
        stiffness=1.0,
        kappa: float = 0.0,
    ) -> None:
        if not isinstance(dim, int) or dim not in (1, 2, 3):
            raise ValueError(f"dim: need 1, 2 or 3, got {dim!r}")
        self.dim = dim
        self.diffusion = check_positive("diffusion", diffusion)
        self.mean0 = _vector("mean0", np.zeros(dim) if mean0 is None else mean0, dim)
        self.cov0 = _spd("var0", var0, dim)
        self.stiffness = _spd("stiffness", stiffness, dim)
        self.kappa = check_real("kappa", kappa)
        self._a_eig, self._a_vec = np.linalg.eigh(self.stiffness)
        if np.any(self._a_eig + self.kappa <= 0):
            raise ValueError(f"kappa: A + κI must be positive definite, got κ = {self.kappa}")

    @property
    def beta(self) -> float:
        """Inverse temperature ``1/D``."""
        return 1.0 / self.diffusion

    @functools.cached_property
    def energy(self) -> FreeEnergy:
        """``E = ∫½xᵀAx dρ + ½∫∫κ|x−y|²/2 dρdρ + D∫ρ log ρ``."""
        a = self.stiffness
        potential = Potential(
            lambda x: 0.5 * np.einsum("...i,ij,...j->...", x, a, x),
            gradient=lambda x: x @ a,
            name="quadratic",
        )
        interaction = None
        if self.kappa != 0:
            interaction = PairwiseInteraction.power_law(2.0, attraction=self.kappa, repulsion=0.0)
        return FreeEnergy(
            potential=potential,
            interaction=interaction,
            internal=Entropy(self.beta),
            metadata={"problem": "OrnsteinUhlenbeck", "problem_parameters": self.parameters()},
            dim=self.dim,
        )

    def parameters(self) -> dict:
        """The problem's parameters (stored in archives).

        Returns
        -------
        dict
            Everything needed to rebuild it.
        """
        return {
            "dim": self.dim,
            "diffusion": self.diffusion,
            "mean0": self.mean0.tolist(),
            "var0": self.cov0.tolist(),
            "stiffness": self.stiffness.tolist(),
            "kappa": self.kappa,
        }

    def mean(self, t: float) -> np.ndarray:
        """Exact mean ``e^{−At} μ0``, shape ``(dim,)``.

        Parameters
        ----------
        t : float
            Time, ≥ 0.

        Returns
        -------
        ndarray, shape (dim,)
            The mean at ``t``.
        """
        t = check_real("t", t, low=0.0)
        v, lam = self._a_vec, self._a_eig
        return v @ (np.exp(-lam * t) * (v.T @ self.mean0))

    def covariance(self, t: float) -> np.ndarray:
        """Exact covariance, shape ``(dim, dim)``.

        Parameters
        ----------
        t : float
            Time, ≥ 0.

        Returns
        -------
        ndarray, shape (dim, dim)
            The covariance at ``t``.
        """
        t = check_real("t", t, low=0.0)
        v, lam = self._a_vec, self._a_eig + self.kappa
        c0 = v.T @ self.cov0 @ v
        decay = np.exp(-(lam[:, None] + lam[None, :]) * t)
        stationary = np.diag(self.diffusion / lam * (1.0 - np.exp(-2.0 * lam * t)))
        return v @ (decay * c0 + stationary) @ v.T

    def exact_density(self, grid: Grid, t: float) -> np.ndarray:
        """Cell averages (3-point Gauss–Legendre per axis) of the exact Gaussian at time ``t``.

        Parameters
        ----------
        grid : Grid
            A grid of dimension ``dim``.
        t : float
            Time, ≥ 0.

        Returns
        -------
        ndarray, shape grid.shape
            Cell averages.
        """
        _check_grid(grid, self.dim)
        return grid.cell_average(_gaussian(self.mean(t), self.covariance(t)))

    def initial_density(self, grid: Grid) -> np.ndarray:
        """Cell averages of the initial Gaussian, normalized to mass 1 on the grid.

        Parameters
        ----------
        grid : Grid
            A grid of dimension ``dim``.

        Returns
        -------
        ndarray, shape grid.shape
            Cell averages of mass 1.
        """
        rho = self.exact_density(grid, 0.0)
        return rho / grid.integrate(rho)


def _gaussian(mean: np.ndarray, cov: np.ndarray):
    prec = np.linalg.inv(cov)
    norm = 1.0 / np.sqrt((2 * np.pi) ** mean.size * np.linalg.det(cov))

    def density(x):
        d = x - mean
        return norm * np.exp(-0.5 * np.einsum("...i,ij,...j->...", d, prec, d))

    return density


def _check_grid(grid: Grid, dim: int) -> None:
    if grid.dim != dim:
        raise ValueError(f"grid: need dimension {dim} for this problem, got {grid.dim}")


def _vector(name: str, value, dim: int) -> np.ndarray:
    v = np.atleast_1d(np.asarray(value, dtype=float))
    if v.shape != (dim,) or not np.all(np.isfinite(v)):
        raise ValueError(f"{name}: need {dim} finite numbers, got {value!r}")
    return v


def _spd(name: str, value, dim: int) -> np.ndarray:
    m = np.asarray(value, dtype=float)
    if m.ndim == 0:
        m = float(m) * np.eye(dim)
    if m.shape != (dim, dim) or not np.all(np.isfinite(m)):
        raise ValueError(f"{name}: need a scalar or a finite ({dim}, {dim}) matrix, got {value!r}")
    if not np.allclose(m, m.T):
        raise ValueError(f"{name}: must be symmetric")
    if np.linalg.eigvalsh(m).min() <= 0:
        raise ValueError(f"{name}: must be positive definite (smallest eigenvalue ≤ 0)")
    return m
