"""The isotropic Gaussian initial datum of mass ``M`` shared by the classic problems."""

from __future__ import annotations

import math

import numpy as np

from wgflow.grid import Grid
from wgflow.measures import ParticleMeasure
from wgflow.random import seed_sequence
from wgflow.validation import check_positive_int


def check_mean0(mean0, dim: int) -> np.ndarray:
    """The centre ``mean0`` as a finite float array of shape ``(dim,)``.

    Parameters
    ----------
    mean0 : array_like
        The user's centre.
    dim : int
        The dimension.

    Returns
    -------
    ndarray, shape (dim,)
        The centre.

    Raises
    ------
    ValueError
        Naming ``mean0`` when it is not ``dim`` finite real numbers.
    """
    try:
        centre = np.array(mean0, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"mean0: need {dim} real numbers, got {mean0!r}") from exc
    if centre.shape != (dim,) or not np.all(np.isfinite(centre)):
        raise ValueError(f"mean0: need {dim} finite real numbers, got {mean0!r}")
    return centre


class GaussianDatum:
    """Mixin: the initial datum ``M N(mean0, σ² I)`` on points, grids and particles.

    The class using it provides ``dim``, ``mass``, ``mean0`` (shape ``(dim,)``) and
    ``initial_variance`` (``σ²``).
    """

    dim: int
    mass: float
    mean0: np.ndarray

    @property
    def initial_variance(self) -> float:
        """``σ²`` of the initial Gaussian."""
        raise NotImplementedError

    def density(self, points: np.ndarray) -> np.ndarray:
        """The initial density ``M N(mean0, σ² I)`` at ``points``.

        Parameters
        ----------
        points : ndarray, shape (..., dim)
            Where to evaluate.

        Returns
        -------
        ndarray, shape (...)
            The density.
        """
        variance = self.initial_variance
        z = np.asarray(points, dtype=float) - self.mean0
        r2 = np.sum(z * z, axis=-1)
        norm = (2 * math.pi * variance) ** (self.dim / 2)
        return self.mass * np.exp(-r2 / (2 * variance)) / norm

    def initial_density(self, grid: Grid) -> np.ndarray:
        """Cell averages of the Gaussian initial datum, rescaled to mass exactly ``M``.

        The rescaling removes what the box cuts off, so the run's mass is the ``M`` that the
        problem's exact observables use.

        Parameters
        ----------
        grid : Grid
            A grid of dimension ``dim``.

        Returns
        -------
        ndarray, shape grid.shape
            Cell averages.
        """
        self._check_grid(grid)
        rho = grid.cell_average(self.density, order=4)
        inside = grid.integrate(rho)
        if not inside > 1e-12 * self.mass:  # also NaN: nothing of the Gaussian in the box
            raise ValueError(
                f"grid: holds none of the initial mass (the Gaussian datum centred at "
                f"{np.round(self.mean0, 4).tolist()} with variance {self.initial_variance:.3g} "
                "lies outside the box); centre the grid on it"
            )
        return rho * (self.mass / inside)

    def sample(self, n: int, seed=None) -> ParticleMeasure:
        """``n`` i.i.d. particles from the initial Gaussian, each of weight ``M/n``.

        Parameters
        ----------
        n : int
            Number of particles, ≥ 1.
        seed : int or numpy.random.SeedSequence, optional
            Randomness.

        Returns
        -------
        ParticleMeasure
            Positions ``(n, dim)``, weights summing to ``M`` (the interaction strength of
            :class:`~wgflow.solvers.Particles` scales with the weights).
        """
        n = check_positive_int("n", n)
        rng = np.random.default_rng(seed_sequence(seed))
        x = self.mean0 + math.sqrt(self.initial_variance) * rng.standard_normal((n, self.dim))
        return ParticleMeasure(x, np.full(n, self.mass / n))

    def _check_grid(self, grid: Grid) -> None:
        if grid.dim != self.dim:
            raise ValueError(f"grid: need a {self.dim}-D grid, got {grid.dim}-D")
