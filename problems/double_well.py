r"""Porous-medium diffusion in a double-well potential, with its explicit steady state.

.. math::
    \partial_t \rho = \nabla\cdot(\rho\nabla V) + c\,\Delta\rho^m, \qquad
    V(x) = \frac{h}{4}\big(|x|^2 - a^2\big)^2,

the Wasserstein gradient flow of ``E[ρ] = ∫V dρ + ∫c ρ^m/(m−1)`` (wgflow's
``PorousMediumEnergy(m, coefficient=c)``: ``H(ρ) = cρ^m/(m−1)``, ``H′(ρ) = cm/(m−1) ρ^{m−1}``).
In 1-D ``V`` has wells at ``x = ±a`` and a barrier ``V(0) = h a⁴/4``; in 2-D and 3-D it is
the radial "Mexican hat" with its minimum on the sphere ``|x| = a``.

**Steady state.** ``E`` is strictly convex in ``ρ`` (linear plus strictly convex; no
interaction), so among densities of mass ``M`` it has exactly one minimiser: the density
with ``H′(ρ) + V = C`` where ``ρ > 0`` and ``V ≥ C`` where ``ρ = 0``,

.. math::
    \rho_\infty(x) = \Big(\frac{m-1}{c\,m}\,\big(C - V(x)\big)_+\Big)^{1/(m-1)}

(``(C − V)₊/2`` for ``m = 2``, ``c = 1``), with the constant ``C`` (the chemical potential)
fixed by ``∫ρ∞ = M``: the mass is increasing in ``C`` and is found by root finding
(:func:`scipy.optimize.brentq` on a radial quadrature). Its support is
``a² − 2√(C/h) < |x|² < a² + 2√(C/h)``: a ball when ``C ≥ V(0)``, an annulus (2-D, 3-D) or
**two intervals** (1-D) when ``C < V(0)`` (small masses).

With two intervals in 1-D every state with ``H′(ρ) + V`` constant on each interval
separately is also a steady state of the flow (a family parameterized by how the mass is
split between the wells, which no flux can change once the supports are apart); ``ρ∞``,
with the same constant on both, is the one that minimises ``E`` and the limit of data
symmetric under ``x ↦ −x`` (the default initial datum is centred at 0). An asymmetric
datum may end in another member of the family.

References
----------
J. A. Carrillo, A. Jüngel, P. A. Markowich, G. Toscani, A. Unterreiter, Monatsh. Math. 133
(2001) 1–82 (entropy dissipation and steady states of ``∂tρ = ∇·(ρ∇V) + Δρ^m``).
J. A. Carrillo, A. Chertock, Y. Huang, Commun. Comput. Phys. 17 (2015) 233–258 (the
finite-volume scheme; double-well examples).
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
from scipy import integrate, optimize

from wgflow.energy import FreeEnergy, PorousMediumEnergy, Potential
from wgflow.grid import Grid
from wgflow.problem import Problem
from wgflow.validation import check_positive, check_real, strict_keywords

from .gaussian_datum import GaussianDatum, check_mean0

#: ``|S^{D−1}|``: the area of the unit sphere (1-D: the two points ±1)
_SPHERE_AREA = {1: 2.0, 2: 2.0 * math.pi, 3: 4.0 * math.pi}


class DoubleWellPorousMedium(GaussianDatum, Problem):
    """``∂tρ = ∇·(ρ∇V) + cΔρ^m`` in the double well ``V = h(|x|² − a²)²/4``, explicit limit.

    Parameters
    ----------
    dim : int
        1 (two wells at ``±a``), 2 or 3 (a radial well on ``|x| = a``).
    m : float
        Porous-medium exponent, ``m > 1``.
    coefficient : float
        ``c > 0`` in ``H(ρ) = cρ^m/(m−1)``.
    depth : float
        ``h > 0``: the barrier ``V(0) = h a⁴/4``.
    well : float
        ``a > 0``: the wells' position.
    mass : float
        Total mass ``M > 0`` (the default 0.1, 1-D, gives two separate bumps: ``C < V(0)``).
    mean0 : array_like, shape (dim,), optional
        Centre of the Gaussian initial datum (default the origin: a symmetric start).
    var0 : float
        Variance per axis of the Gaussian initial datum, > 0.

    Notes
    -----
    Oracles: :meth:`steady_state` (cell averages of ``ρ∞``), :meth:`steady_density`,
    :attr:`chemical_potential` (``C``), :meth:`support` and :attr:`minimum_energy`
    (``E[ρ∞]``, the limit of the free energy).

    Examples
    --------
    >>> prob = DoubleWellPorousMedium(mass=0.1)
    >>> print(f"C = {prob.chemical_potential:.6f} < V(0) = {prob.barrier:.2f}")
    C = 0.170250 < V(0) = 0.25
    >>> [tuple(round(x, 4) for x in piece) for piece in prob.support()]
    [(-1.351, -0.4181), (0.4181, 1.351)]
    """

    @strict_keywords
    def __init__(
        self,
        dim: int = 1,
        m: float = 2.0,
        coefficient: float = 1.0,
        depth: float = 1.0,
        well: float = 1.0,
        mass: float = 0.1,
        mean0=None,
        var0: float = 0.1,
    ) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim not in (1, 2, 3):
            raise ValueError(f"dim: need 1, 2 or 3, got {dim!r}")
        dim = int(dim)
        self.dim = dim
        self.m = check_real("m", m, low=1.0, low_open=True)
        self.coefficient = check_positive("coefficient", coefficient)
        self.depth = check_positive("depth", depth)
        self.well = check_positive("well", well)
        self.mass = check_positive("mass", mass)
        self.mean0 = check_mean0(np.zeros(dim) if mean0 is None else mean0, dim)
        self.var0 = check_positive("var0", var0)

    # ---- the energy ------------------------------------------------------------------------
    def potential(self, points: np.ndarray) -> np.ndarray:
        """``V(x) = h(|x|² − a²)²/4``.

        Parameters
        ----------
        points : ndarray, shape (..., dim)
            Where to evaluate.

        Returns
        -------
        ndarray, shape (...)
            ``V``.
        """
        r2 = np.sum(np.asarray(points, dtype=float) ** 2, axis=-1)
        return 0.25 * self.depth * (r2 - self.well**2) ** 2

    def potential_gradient(self, points: np.ndarray) -> np.ndarray:
        """``∇V(x) = h(|x|² − a²) x``.

        Parameters
        ----------
        points : ndarray, shape (..., dim)
            Where to evaluate.

        Returns
        -------
        ndarray, shape (..., dim)
            ``∇V``.
        """
        x = np.asarray(points, dtype=float)
        r2 = np.sum(x * x, axis=-1, keepdims=True)
        return self.depth * (r2 - self.well**2) * x

    @property
    def barrier(self) -> float:
        """``V(0) = h a⁴/4``: the support is disconnected (1-D) or an annulus when ``C < V(0)``."""
        return 0.25 * self.depth * self.well**4

    @functools.cached_property
    def energy(self) -> FreeEnergy:
        """``E = ∫V dρ + ∫cρ^m/(m−1)`` (double-well potential, porous-medium internal energy)."""
        potential = Potential(
            self.potential,
            gradient=self.potential_gradient,
            name=f"double_well(h={self.depth:g}, a={self.well:g})",
        )
        return FreeEnergy(
            potential=potential,
            internal=PorousMediumEnergy(self.m, coefficient=self.coefficient),
            metadata={
                "problem": "DoubleWellPorousMedium",
                "problem_parameters": self.parameters(),
            },
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
            "m": self.m,
            "coefficient": self.coefficient,
            "depth": self.depth,
            "well": self.well,
            "mass": self.mass,
            "mean0": self.mean0.tolist(),
            "var0": self.var0,
        }

    # ---- the steady state --------------------------------------------------------------------
    def _profile(self, constant: float, v):
        """``ρ∞`` as a function of ``V`` values, for the constant ``C``."""
        base = np.maximum(constant - np.asarray(v, dtype=float), 0.0)
        scale = (self.m - 1.0) / (self.coefficient * self.m)
        return (scale * base) ** (1.0 / (self.m - 1.0))

    def _radii(self, constant: float) -> tuple[float, float]:
        spread = 2.0 * math.sqrt(constant / self.depth)
        inner = math.sqrt(max(self.well**2 - spread, 0.0))
        return inner, math.sqrt(self.well**2 + spread)

    def _radial_integral(self, constant: float, integrand) -> float:
        """``|S^{D−1}| ∫ r^{D−1} f(r) dr`` over the support of ``ρ∞`` (adaptive quadrature)."""
        inner, outer = self._radii(constant)
        if outer <= inner:
            return 0.0
        d = self.dim

        def f(r):
            return r ** (d - 1) * integrand(r)

        # the well's bottom r = a is where the profile peaks: split there
        points = [p for p in (self.well,) if inner < p < outer]
        value, _ = integrate.quad(f, inner, outer, points=points or None, limit=200)
        return _SPHERE_AREA[d] * value

    def _mass(self, constant: float) -> float:
        def rho(r):
            return self._profile(constant, 0.25 * self.depth * (r * r - self.well**2) ** 2)

        return self._radial_integral(constant, rho)

    @functools.cached_property
    def chemical_potential(self) -> float:
        """The constant ``C`` of ``ρ∞ = ((m−1)/(cm) (C − V)₊)^{1/(m−1)}`` with mass ``M``."""
        with np.errstate(over="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            high = max(self.barrier, 1.0)
            while self._mass(high) < self.mass and high < 1e300:
                high *= 2.0
            constant = optimize.brentq(
                lambda c: self._mass(c) - self.mass, 0.0, high, xtol=1e-14, rtol=1e-13
            )
            mass = self._mass(constant)
        if not abs(mass - self.mass) <= 1e-8 * self.mass:
            raise ValueError(
                f"m: {self.m:.12g} is too close to 1 for the explicit steady state (its exponent "
                f"1/(m−1) = {1 / (self.m - 1):.3g} overflows: mass {mass:.6g} instead of "
                f"{self.mass:.6g}); use m ≥ 1.01 or an entropy (linear diffusion)"
            )
        return constant

    def support(self) -> list[tuple[float, float]]:
        """Where ``ρ∞ > 0``: intervals of ``x`` (1-D) or of ``|x|`` (2-D, 3-D).

        Returns
        -------
        list of tuple of float
            1-D: ``[(−r_out, −r_in), (r_in, r_out)]`` when ``C < V(0)`` (two wells), else
            ``[(−r_out, r_out)]``; 2-D and 3-D: ``[(r_in, r_out)]`` (``r_in = 0``: a ball).
        """
        inner, outer = self._radii(self.chemical_potential)
        if self.dim > 1:
            return [(inner, outer)]
        if inner > 0:
            return [(-outer, -inner), (inner, outer)]
        return [(-outer, outer)]

    def steady_density(self, points: np.ndarray) -> np.ndarray:
        """``ρ∞`` at ``points``.

        Parameters
        ----------
        points : ndarray, shape (..., dim)
            Where to evaluate.

        Returns
        -------
        ndarray, shape (...)
            The steady density.
        """
        return self._profile(self.chemical_potential, self.potential(points))

    def steady_state(self, grid: Grid) -> np.ndarray:
        """Cell averages of ``ρ∞`` (8-point Gauss–Legendre per axis and cell).

        Parameters
        ----------
        grid : Grid
            A grid of dimension ``dim`` (its box should contain the support).

        Returns
        -------
        ndarray, shape grid.shape
            Cell averages.
        """
        self._check_grid(grid)
        outer = max(abs(b) for interval in self.support() for b in interval)
        for axis, (lo, hi) in enumerate(grid.bounds):
            if lo > -outer or hi < outer:
                raise ValueError(
                    f"grid: the steady state's support reaches ±{outer:.4g} along axis {axis}, "
                    f"beyond the grid's [{lo:.4g}, {hi:.4g}]; its cell averages would lose mass"
                )
        return grid.cell_average(self.steady_density, order=8)

    @functools.cached_property
    def minimum_energy(self) -> float:
        """``E[ρ∞] = ∫V ρ∞ + ∫cρ∞^m/(m−1)``: the smallest free energy of mass ``M``."""
        constant = self.chemical_potential

        def energy_density(r):
            v = 0.25 * self.depth * (r * r - self.well**2) ** 2
            rho = self._profile(constant, v)
            return v * rho + self.coefficient * rho**self.m / (self.m - 1.0)

        return self._radial_integral(constant, energy_density)

    # ---- the initial datum -----------------------------------------------------------------
    @property
    def initial_variance(self) -> float:
        """``σ²`` of the initial Gaussian (``var0``)."""
        return self.var0
