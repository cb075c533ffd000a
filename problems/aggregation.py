r"""Attractive–repulsive aggregation ``∂t ρ = ∇·(ρ ∇W*ρ) (+ D Δρ)`` with explicit steady states.

- 1-D, ``W(x) = |x|²/2 − |x|``: the steady state of mass 1 is ``½`` on ``[−1, 1]``
  (Fellner & Raoul, Math. Models Methods Appl. Sci. 20 (2010); Carrillo–Chertock–Huang 2015,
  Example 4).
- 2-D, ``W(x) = |x|²/2 − log|x|``: the steady state of mass 1 is ``1/π`` on the unit disk
  (Fetecau, Huang & Kolokolnikov, Nonlinearity 24 (2011) 2681; Carrillo–Chertock–Huang 2015).

Without diffusion, a uniform patch stays uniform: along characteristics
``Dρ/Dt = ρ ΔW*ρ = ρ(a − bρ)`` with ``(a, b) = (1, 2)`` in 1-D (``W″ = 1 − 2δ``) and
``(2, 2π)`` in 2-D (``ΔW = 2 − 2πδ``), so the patch density is a logistic function of time,
``ρ(t) = (a/b) / (1 + (a/(bρ_0) − 1) e^{−at})``, and its radius follows from mass 1. This gives
the exact solution at all times for the default initial data (uniform on the ball of radius
``r0``).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from wgflow.energy import Entropy, FreeEnergy
from wgflow.grid import Grid
from wgflow.interactions import PairwiseInteraction
from wgflow.problem import Problem
from wgflow.validation import check_positive, check_real, strict_keywords


class Aggregation(Problem):
    """Aggregation equation with an explicit steady state (see the module docstring).

    Parameters
    ----------
    dim : int
        1 (``W = |x|²/2 − |x|``) or 2 (``W = |x|²/2 − log|x|``).
    diffusion : float
        Optional linear diffusion ``D ≥ 0`` (then the steady state is no longer explicit).
    r0 : float
        Radius of the uniform initial patch (mass 1), > 0.
    """

    @strict_keywords
    def __init__(self, dim: int = 1, diffusion: float = 0.0, r0: float = 0.5) -> None:
        if not isinstance(dim, int) or dim not in (1, 2):
            raise ValueError(f"dim: need 1 or 2, got {dim!r}")
        self.dim = dim
        self.diffusion = check_real("diffusion", diffusion, low=0.0)
        self.r0 = check_positive("r0", r0)
        self._a, self._b = (1.0, 2.0) if dim == 1 else (2.0, 2.0 * math.pi)

    @functools.cached_property
    def energy(self) -> FreeEnergy:
        """The free energy: the power-law interaction plus the entropy when ``diffusion > 0``.

        The interaction is ``|x|²/2 − |x|`` in 1-D and ``|x|²/2 − log|x|`` in 2-D.
        """
        # |x|²/2 − |x| (1-D) and |x|²/2 − log|x| (2-D)
        w = PairwiseInteraction.power_law(2.0, 1.0 if self.dim == 1 else 0.0)
        internal = Entropy(1.0 / self.diffusion) if self.diffusion > 0 else None
        return FreeEnergy(
            interaction=w,
            internal=internal,
            metadata={"problem": "Aggregation", "problem_parameters": self.parameters()},
            dim=self.dim,
        )

    def parameters(self) -> dict:
        """The problem's parameters (stored in archives).

        Returns
        -------
        dict
            Everything needed to rebuild it.
        """
        return {"dim": self.dim, "diffusion": self.diffusion, "r0": self.r0}

    def _ball_volume(self, r: float) -> float:
        return 2.0 * r if self.dim == 1 else math.pi * r * r

    def patch_density(self, t: float) -> float:
        """Density of the uniform patch at time ``t`` (no diffusion).

        Parameters
        ----------
        t : float
            Time, ≥ 0.

        Returns
        -------
        float
            The density inside the patch.
        """
        t = check_real("t", t, low=0.0)
        rho0 = 1.0 / self._ball_volume(self.r0)
        a, b = self._a, self._b
        return (a / b) / (1.0 + (a / (b * rho0) - 1.0) * math.exp(-a * t))

    def patch_radius(self, t: float) -> float:
        """Radius of the uniform patch at time ``t`` (no diffusion).

        Parameters
        ----------
        t : float
            Time, ≥ 0.

        Returns
        -------
        float
            The radius.
        """
        rho = self.patch_density(t)
        return 1.0 / (2.0 * rho) if self.dim == 1 else 1.0 / math.sqrt(math.pi * rho)

    def _ball(self, grid: Grid, radius: float, height: float) -> np.ndarray:
        """``height`` times the fraction of each cell inside the centred ball of ``radius``.

        Exact in 1-D; in 2-D the covered length along x is exact and integrated over y by
        32-point Gauss–Legendre (the integrand is continuous, so the error is tiny).
        """
        if grid.dim != self.dim:
            raise ValueError(f"grid: need dimension {self.dim}, got {grid.dim}")

        def covered(lo, hi, half_width):
            return np.clip(np.minimum(hi, half_width) - np.maximum(lo, -half_width), 0.0, None)

        x_edges = grid.edges[0]
        if self.dim == 1:
            return height * covered(x_edges[:-1], x_edges[1:], radius) / grid.spacing[0]
        nodes, weights = np.polynomial.legendre.leggauss(32)
        y_edges = grid.edges[1]
        hy = grid.spacing[1]
        frac = np.zeros(grid.shape)
        for node, weight in zip(nodes, weights, strict=True):
            y = 0.5 * (y_edges[:-1] + y_edges[1:]) + 0.5 * hy * node
            half = np.sqrt(np.clip(radius * radius - y * y, 0.0, None))
            frac += 0.5 * weight * covered(x_edges[:-1, None], x_edges[1:, None], half[None, :])
        return height * frac / grid.spacing[0]

    def initial_density(self, grid: Grid) -> np.ndarray:
        """Uniform patch of radius ``r0`` and mass 1 (cell averages).

        Parameters
        ----------
        grid : Grid
            A grid of dimension ``dim``.

        Returns
        -------
        ndarray, shape grid.shape
            Cell averages.
        """
        rho = self._ball(grid, self.r0, 1.0)
        return rho / grid.integrate(rho)

    def exact_density(self, grid: Grid, t: float) -> np.ndarray:
        """Exact patch solution at time ``t`` (cell averages); only without diffusion.

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
        if self.diffusion > 0:
            raise ValueError("diffusion: no explicit solution with diffusion > 0")
        return self._ball(grid, self.patch_radius(t), self.patch_density(t))

    def steady_state(self, grid: Grid) -> np.ndarray:
        """``½`` on ``[−1, 1]`` (1-D) or ``1/π`` on the unit disk (2-D), cell averages.

        Parameters
        ----------
        grid : Grid
            A grid of dimension ``dim``.

        Returns
        -------
        ndarray, shape grid.shape
            Cell averages.
        """
        if self.diffusion > 0:
            raise ValueError("diffusion: no explicit steady state with diffusion > 0")
        return self._ball(grid, 1.0, 1.0 / self._ball_volume(1.0))
