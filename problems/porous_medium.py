r"""Porous-medium equation ``∂t ρ = Δρ^m`` and its Barenblatt solution.

The equation is the Wasserstein gradient flow of ``E[ρ] = ∫ ρ^m/(m−1)``. Barenblatt profile
(Vázquez, *The Porous Medium Equation*, Oxford 2007, §4.4):

.. math::
    \rho(t, x) = t^{-\alpha}\big(C - k |x|^2 t^{-2\alpha/d}\big)_+^{1/(m-1)}, \quad
    \alpha = \frac{d}{d(m-1)+2}, \quad k = \frac{\alpha(m-1)}{2md},

with ``C`` fixed by the mass: ``M = C^{p+d/2} k^{-d/2} π^{d/2} Γ(p+1)/Γ(p+1+d/2)``,
``p = 1/(m−1)``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.special import gammaln

from wgflow.energy import FreeEnergy, PorousMediumEnergy
from wgflow.grid import Grid
from wgflow.problem import Problem
from wgflow.validation import check_positive, check_real, strict_keywords


class PorousMedium(Problem):
    """``∂t ρ = Δρ^m`` (m > 1) in 1 to 3 dimensions with the Barenblatt solution.

    Parameters
    ----------
    dim : int
        1, 2 or 3.
    m : float
        Exponent, > 1.
    mass : float
        Total mass of the Barenblatt solution (default 1).
    t0 : float
        Time at which the Barenblatt profile is taken as initial data (> 0).
    """

    @strict_keywords
    def __init__(self, dim: int = 1, m: float = 2.0, mass: float = 1.0, t0: float = 0.1) -> None:
        if not isinstance(dim, int) or dim not in (1, 2, 3):
            raise ValueError(f"dim: need 1, 2 or 3, got {dim!r}")
        self.dim = dim
        self.m = check_real("m", m, low=1.0, low_open=True)
        self.mass = check_positive("mass", mass)
        self.t0 = check_positive("t0", t0)
        d = dim
        self.alpha = d / (d * (self.m - 1.0) + 2.0)
        self.k = self.alpha * (self.m - 1.0) / (2.0 * self.m * d)
        p = 1.0 / (self.m - 1.0)
        log_unit_mass = (
            -0.5 * d * math.log(self.k)
            + 0.5 * d * math.log(math.pi)
            + gammaln(p + 1.0)
            - gammaln(p + 1.0 + 0.5 * d)
        )
        self.C = math.exp((math.log(self.mass) - log_unit_mass) / (p + 0.5 * d))

    @functools.cached_property
    def energy(self) -> FreeEnergy:
        """The free energy ``∫ ρ^m/(m−1)`` (no potential, no interaction).
        """
        return FreeEnergy(
            internal=PorousMediumEnergy(self.m),
            metadata={"problem": "PorousMedium", "problem_parameters": self.parameters()},
        )

    def parameters(self) -> dict:
        """The problem's parameters (stored in archives).

        Returns
        -------
        dict
            Everything needed to rebuild it.
        """
        return {"dim": self.dim, "m": self.m, "mass": self.mass, "t0": self.t0}

    def support_radius(self, t: float) -> float:
        """Radius of the support at absolute time ``t`` (Barenblatt time, ``t ≥ t0`` in runs).

        Parameters
        ----------
        t : float
            Absolute (Barenblatt) time, > 0.

        Returns
        -------
        float
            The radius.
        """
        return math.sqrt(self.C / self.k) * t ** (self.alpha / self.dim)

    def barenblatt(self, points: np.ndarray, t: float) -> np.ndarray:
        """Barenblatt density at absolute time ``t > 0``; points of shape ``(..., dim)``.

        Parameters
        ----------
        points : ndarray, shape (..., dim)
            Where to evaluate.
        t : float
            Absolute time, > 0.

        Returns
        -------
        ndarray, shape (...)
            The density.
        """
        t = check_positive("t", t)
        r2 = np.sum(np.asarray(points) ** 2, axis=-1)
        base = np.maximum(self.C - self.k * r2 * t ** (-2 * self.alpha / self.dim), 0.0)
        return t ** (-self.alpha) * base ** (1.0 / (self.m - 1.0))

    def exact_density(self, grid: Grid, t: float) -> np.ndarray:
        """Cell averages (8-point Gauss per axis) of the solution ``t`` after the start.

        Parameters
        ----------
        grid : Grid
            A grid of dimension ``dim``.
        t : float
            Time since the start (absolute time ``t0 + t``).

        Returns
        -------
        ndarray, shape grid.shape
            Cell averages.
        """
        if grid.dim != self.dim:
            raise ValueError(f"grid: need dimension {self.dim}, got {grid.dim}")
        t = check_real("t", t, low=0.0)
        return grid.cell_average(lambda x: self.barenblatt(x, self.t0 + t), order=8)

    def initial_density(self, grid: Grid) -> np.ndarray:
        """Barenblatt profile at ``t0`` (cell averages).

        Parameters
        ----------
        grid : Grid
            A grid of dimension ``dim``.

        Returns
        -------
        ndarray, shape grid.shape
            Cell averages.
        """
        return self.exact_density(grid, 0.0)
