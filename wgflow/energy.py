r"""Free energies ``E[ρ] = ∫V dρ + ½∫∫U dρ dρ + ∫H(ρ)`` and their first variations.

The Wasserstein gradient flow of ``E`` is ``∂t ρ = ∇·(ρ ∇Ψ[ρ])`` with
``Ψ[ρ] = δE/δρ = V + ∫U(·, θ′) dρ(θ′) + H′(ρ)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
from scipy.special import xlogy

from .docstrings import inherit_docstrings
from .errors import ParameterError
from .fingerprint import fingerprint
from .grid import Grid
from .interactions import GeneralInteraction, PairwiseInteraction, SeparableInteraction
from .measures import GridMeasure
from .reprs import ParametersRepr
from .validation import check_positive, check_real, strict_keywords


def call_user(function: Callable, points: np.ndarray, what: str):
    """Evaluate a user callable on points of shape ``(..., D)``; its failure names ``what``.

    Parameters
    ----------
    function : callable
        The user's function (``V``, ``W``, ``φ``…), vectorized over the leading axes.
    points : ndarray, shape (..., D)
        Where to evaluate it.
    what : str
        The name used in the error (``potential V``, ``kernel W``).

    Returns
    -------
    object
        What ``function`` returned.

    Raises
    ------
    ValueError
        When ``function`` raises: the message names ``what``, the points' dimension and the
        original error (chained), e.g. a 2-D formula evaluated on a 1-D grid.
    """
    try:
        return function(points)
    except Exception as exc:
        dim = points.shape[-1]
        raise ValueError(
            f"{what}: evaluating it on {dim}-D points of shape {points.shape} failed with "
            f"{type(exc).__name__}: {exc}. Is it written for {dim}-D points x[..., 0:{dim}], "
            "vectorized over the leading axes? FreeEnergy(dim=D) states the dimension and "
            "refuses grids and particles of another one"
        ) from exc


class Potential(ParametersRepr):
    """External potential ``V(θ)``.

    Parameters
    ----------
    value : callable or ndarray
        ``V(points)`` for points of shape ``(..., D)`` returning ``(...)``; or an array of
        values at the cell centres of one particular grid.
    gradient : callable, optional
        ``∇V``, shape ``(..., D)`` → ``(..., D)``; used by particle solvers.
    name : str
        Short description stored in archives.
    """

    @strict_keywords
    def __init__(self, value, gradient: Callable | None = None, name: str = "V") -> None:
        if not callable(value):
            arr = np.asarray(value, dtype=float)
            if not np.all(np.isfinite(arr)):
                bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
                raise ValueError(
                    f"potential: the array of V values has {bad} non-finite entr"
                    f"{'y' if bad == 1 else 'ies'} (NaN or inf); V must be finite on every cell"
                )
            value = arr
        if gradient is not None and not callable(gradient):
            raise ParameterError("gradient: need a callable or None")
        self.value = value
        self.gradient = gradient
        self.name = name
        self._gradient_checked: set[int] = set()  # dimensions check_gradient has passed

    def check_gradient(self, dim: int) -> None:
        """Refuse a ``gradient`` that is not the gradient of ``value`` (a sign or factor error).

        Once per dimension, at six fixed points (``|x|`` from 0.014 to 97, as the kernel probe
        of :func:`wgflow.interactions.check_user_kernel`) along one fixed direction ``u`` each:
        where two central differences of ``V`` along ``u`` (steps ``1e-4|x|``, ``1e-5|x|``)
        agree to 1e-4, ``∇V·u`` must match them to 1e-3 (relative); the cost does not grow
        with the dimension. Points where ``V`` or ``∇V`` is not finite or
        raises (a potential defined on part of space only) are skipped, as are array
        potentials and potentials without a gradient.

        Parameters
        ----------
        dim : int
            The dimension of the particles.

        Raises
        ------
        ValueError
            Naming ``gradient``, the point and both values.
        """
        if self.gradient is None or not callable(self.value):
            return
        checked = self._gradient_checked
        if dim in checked:
            return
        from .interactions import FD_STEPS, PROBE_RADII, gradient_mismatch

        rng = np.random.default_rng(dim)  # fixed points and directions, any dimension
        x = rng.standard_normal((PROBE_RADII.size, dim))
        x *= (PROBE_RADII / np.linalg.norm(x, axis=-1))[:, None]
        u = rng.standard_normal((PROBE_RADII.size, dim))
        u /= np.linalg.norm(u, axis=-1, keepdims=True)
        try:
            with np.errstate(all="ignore"):
                g = np.asarray(self.gradient(x.copy()), float)
                slope = np.sum(g * u, axis=-1) if g.shape == x.shape else None
                fds = []
                for rel in FD_STEPS:  # directional differences along u
                    h = (rel * PROBE_RADII)[:, None]
                    plus = np.asarray(self.value(x + h * u), float)
                    minus = np.asarray(self.value(x - h * u), float)
                    fds.append((plus - minus) / (2 * h[:, 0]))
        except Exception:  # V defined on part of space only: nothing to compare here
            checked.add(dim)
            return
        if slope is None or fds[0].shape != slope.shape:
            checked.add(dim)
            return
        coarse, fine = (d[:, None] for d in fds)
        wrong = gradient_mismatch(slope[:, None], coarse, fine)
        if wrong.any():
            i = int(np.argmax(wrong))
            raise ValueError(
                f"gradient: ∇V of potential {self.name} disagrees with the finite difference of "
                f"V at |x| = {PROBE_RADII[i]:.3g} (directional derivative {slope[i]:.6g}, "
                f"expected {fine[i, 0]:.6g}; tolerance 1e-3 relative): particles move by −∇V, "
                "grids by V, so the two would solve different equations"
            )
        checked.add(dim)

    def on_grid(self, grid: Grid) -> np.ndarray:
        """Values of ``V`` averaged over the cells.

        Parameters
        ----------
        grid : Grid
            The grid.

        Returns
        -------
        ndarray, shape grid.shape
            The cell averages (callables: Gauss–Legendre rule per cell).
        """
        if callable(self.value):
            v = np.asarray(call_user(self.value, grid.points(), f"potential {self.name}"), float)
        else:
            v = self.value
        if v.shape != grid.shape:
            raise ValueError(
                f"potential {self.name}: need shape {grid.shape} on the grid, got {v.shape}"
            )
        if not np.all(np.isfinite(v)):
            raise ValueError(f"potential {self.name}: non-finite values on the grid")
        return v

    def describe(self) -> dict:
        """JSON-serializable description stored in archives.

        Returns
        -------
        dict
            Name or kind and parameters; ``code``: :func:`~wgflow.fingerprint.fingerprint` of
            ``V`` and ``∇V`` (so that a resume tells a changed function from its name).
        """
        return {"name": self.name, "code": fingerprint((self.value, self.gradient))}


class InternalEnergy(Protocol):
    """Convex internal energy density ``H(ρ)``.

    A typing protocol, not instantiated itself: :class:`Entropy` and
    :class:`PorousMediumEnergy` implement it, and any object with these methods may serve as
    the internal energy of a :class:`FreeEnergy`.

    Parameters
    ----------
    *args, **kwargs : object
        Unused: instantiating a protocol raises ``TypeError``.
    """

    def density(self, rho: np.ndarray) -> np.ndarray:
        """The energy density ``H(ρ)``.

        Parameters
        ----------
        rho : ndarray
            Non-negative densities.

        Returns
        -------
        ndarray
            ``H(ρ)``, same shape.
        """

    def derivative(self, rho: np.ndarray) -> np.ndarray:
        """``H′(ρ)`` (its part of the first variation ``Ψ``).

        Parameters
        ----------
        rho : ndarray
            Non-negative densities.

        Returns
        -------
        ndarray
            ``H′(ρ)``, same shape.
        """

    def diffusivity(self, rho: np.ndarray) -> np.ndarray:
        """``ρ H″(ρ) = P′(ρ)``: the diffusion coefficient of ``∇·(ρ∇H′(ρ))``.

        Parameters
        ----------
        rho : ndarray
            Non-negative densities.

        Returns
        -------
        ndarray
            ``ρ H″(ρ)``, same shape.
        """

    def max_diffusivity(self, rho: np.ndarray) -> float:
        """``max ρH″(ρ)`` (sets the parabolic step limit).

        Parameters
        ----------
        rho : ndarray
            Non-negative densities.

        Returns
        -------
        float
            The largest diffusivity.
        """

    def describe(self) -> dict:
        """JSON-serializable description stored in archives.

        Returns
        -------
        dict
            Kind and parameters.
        """


@inherit_docstrings(InternalEnergy)
class Entropy(ParametersRepr):
    r"""Boltzmann entropy ``H(ρ) = β⁻¹ ρ log ρ``: linear diffusion ``β⁻¹ Δρ``.

    Parameters
    ----------
    beta : float
        Inverse temperature, ``0 < β < ∞``.
    floor : float
        Densities below ``floor`` are treated as ``floor`` inside ``log`` (``H′`` finite at 0).
    """

    convex = True

    @strict_keywords
    def __init__(self, beta: float, floor: float = 1e-300) -> None:
        self.beta = check_positive("beta", beta)
        self.floor = check_positive("floor", floor)

    @property
    def diffusion(self) -> float:
        """Diffusion coefficient ``1/β``."""
        return 1.0 / self.beta

    def density(self, rho):
        return xlogy(rho, rho) / self.beta

    def derivative(self, rho):
        return (np.log(np.maximum(rho, self.floor)) + 1.0) / self.beta

    def diffusivity(self, rho):
        return np.full_like(np.asarray(rho, dtype=float), 1.0 / self.beta)

    def max_diffusivity(self, rho) -> float:
        return 1.0 / self.beta

    def describe(self) -> dict:
        return {"kind": "entropy", "beta": self.beta}


@inherit_docstrings(InternalEnergy)
class PorousMediumEnergy(ParametersRepr):
    r"""Porous-medium energy ``H(ρ) = c ρ^m/(m−1)``: nonlinear diffusion ``c Δρ^m``.

    Parameters
    ----------
    m : float
        Exponent, ``m > 1``.
    coefficient : float
        ``c > 0``.
    """

    convex = True

    @strict_keywords
    def __init__(self, m: float, coefficient: float = 1.0) -> None:
        self.m = check_real("m", m, low=1.0, low_open=True)
        self.coefficient = check_positive("coefficient", coefficient)

    def density(self, rho):
        return self.coefficient * np.power(rho, self.m) / (self.m - 1.0)

    def derivative(self, rho):
        return self.coefficient * self.m / (self.m - 1.0) * np.power(rho, self.m - 1.0)

    def diffusivity(self, rho):
        return self.coefficient * self.m * np.power(rho, self.m - 1.0)

    def max_diffusivity(self, rho) -> float:
        return self.coefficient * self.m * float(np.max(rho)) ** (self.m - 1.0)

    def describe(self) -> dict:
        return {"kind": "porous_medium", "m": self.m, "coefficient": self.coefficient}


Interaction = PairwiseInteraction | SeparableInteraction | GeneralInteraction


class FreeEnergy:
    """``E[ρ] = ∫V dρ + ½∫∫U dρ dρ + ∫H(ρ)`` assembled from optional terms.

    Parameters
    ----------
    potential : Potential or callable, optional
        External potential ``V``; a callable is wrapped in :class:`Potential`.
    interaction : interaction or sequence of interactions, optional
        :class:`PairwiseInteraction` and/or :class:`SeparableInteraction` terms (summed).
    internal : Entropy or PorousMediumEnergy, optional
        Internal energy ``H``.
    metadata : dict, optional
        JSON-serializable description of the problem (``problem``, ``parameters``), copied into
        the archives of every run.
    drift : wgflow.drift.MeanFieldDrift, optional
        A non-gradient velocity ``b(θ; ρ)`` added to ``−∇Ψ`` (see :mod:`wgflow.drift`): the
        dynamics is then ``∂t ρ = ∇·(ρ(∇Ψ − b))``, no longer a gradient flow of ``E``.
        FiniteVolume and Particles take it; JKO refuses it.
    dim : int, optional
        The dimension ``D`` the terms are defined in; grids and particles of another
        dimension are refused (numpy broadcasting would otherwise evaluate, e.g., a 3-D
        quadratic potential on a 1-D grid without complaint). ``None``: not checked.

    Examples
    --------
    >>> import wgflow as wg
    >>> energy = wg.FreeEnergy(potential=lambda x: 0.5 * (x**2).sum(-1), internal=wg.Entropy(2.0))
    >>> grid = wg.Grid.box([(-4, 4)], 64)
    >>> rho = wg.GridMeasure(grid, np.exp(-grid.points()[..., 0] ** 2))
    >>> round(energy.energy(rho), 6) == round(energy.on_grid(grid).energy(rho.density), 6)
    True
    """

    @strict_keywords
    def __init__(
        self,
        potential: Potential | Callable | np.ndarray | None = None,
        interaction: Interaction | Sequence[Interaction] | None = None,
        internal: InternalEnergy | None = None,
        metadata: dict | None = None,
        drift=None,
        dim: int | None = None,
    ) -> None:
        if potential is not None and not isinstance(potential, Potential):
            potential = Potential(potential)
        if interaction is None:
            interactions: tuple = ()
        elif isinstance(interaction, Interaction):
            interactions = (interaction,)
        elif isinstance(interaction, list | tuple):
            interactions = tuple(interaction)
        else:
            interactions = (interaction,)
        for term in interactions:
            if not isinstance(term, Interaction):
                raise ParameterError(
                    "interaction: need PairwiseInteraction, SeparableInteraction or "
                    "GeneralInteraction terms, "
                    f"got {type(term).__name__}"
                )
        if internal is not None and not all(
            hasattr(internal, a) for a in ("density", "derivative", "diffusivity")
        ):
            raise ParameterError(
                "internal: need an Entropy, PorousMediumEnergy or compatible object"
            )
        self.potential_term = potential
        self.interactions = interactions
        self.internal = internal
        self.metadata = dict(metadata or {})
        from .drift import MeanFieldDrift

        if drift is not None and not isinstance(drift, MeanFieldDrift):
            raise ParameterError(f"drift: need a wgflow.drift.MeanFieldDrift, got {drift!r}")
        self.drift = drift
        if dim is not None and (
            isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1
        ):
            raise ValueError(f"dim: need an integer ≥ 1 or None, got {dim!r}")
        self.dim = None if dim is None else int(dim)
        for term in interactions:
            if self.dim is not None and hasattr(term, "check_dimension"):
                term.check_dimension(self.dim, "interaction")
        self._grid_cache: dict[Grid, GridEnergy] = {}

    def check_dimension(self, dim: int, name: str) -> None:
        """Refuse points of a dimension the energy is not defined in.

        Parameters
        ----------
        dim : int
            The dimension of a grid or of particles.
        name : str
            The parameter named in the error (``grid``, ``x0``).

        Raises
        ------
        ValueError
            ``dim`` differs from the energy's ``dim``, or an interaction is not integrable in
            ``dim`` dimensions (power law with ``b ≤ −D``).
        """
        if self.dim is not None and dim != self.dim:
            raise ValueError(
                f"{name}: the energy is defined in {self.dim} dimension(s), got {dim}-D"
            )
        for term in self.interactions:
            if hasattr(term, "check_dimension"):
                term.check_dimension(dim, name)

    def on_grid(self, grid: Grid) -> GridEnergy:
        """The energy discretized on ``grid`` (cached per grid).

        Parameters
        ----------
        grid : Grid
            The grid.

        Returns
        -------
        GridEnergy
            ``V`` cell averages and interaction operators.
        """
        if grid not in self._grid_cache:
            self.check_dimension(grid.dim, "grid")
            self._grid_cache[grid] = GridEnergy(self, grid)
        return self._grid_cache[grid]

    def energy(self, rho: GridMeasure) -> float:
        """``E[ρ]`` for a grid measure (midpoint rule).

        Parameters
        ----------
        rho : GridMeasure
            A density on some grid.

        Returns
        -------
        float
            The discrete free energy.
        """
        return self.on_grid(rho.grid).energy(rho.density)

    def first_variation(self, rho: GridMeasure) -> np.ndarray:
        """First variation ``Ψ = δE/δρ`` at the cell centres.

        Parameters
        ----------
        rho : GridMeasure
            A density on some grid.

        Returns
        -------
        ndarray, shape grid.shape
            ``Ψ``.
        """
        return self.on_grid(rho.grid).first_variation(rho.density)

    def __repr__(self) -> str:
        from .io import to_json

        text = to_json(self.describe())
        return f"FreeEnergy({text if len(text) <= 200 else text[:199] + '…'})"

    def describe(self) -> dict:
        """JSON-serializable summary of the terms (stored in archives).

        Returns
        -------
        dict
            ``potential``, ``interactions``, ``internal`` and the metadata.
        """
        return {
            "potential": None if self.potential_term is None else self.potential_term.describe(),
            "interactions": [t.describe() for t in self.interactions],
            "internal": None if self.internal is None else self.internal.describe(),
            **({} if self.drift is None else {"drift": self.drift.describe()}),
            **self.metadata,
        }


class GridEnergy:
    """A :class:`FreeEnergy` on one grid: precomputed ``V`` values and interaction operators.

    Parameters
    ----------
    free_energy : FreeEnergy
        The energy to discretize.
    grid : Grid
        Its grid: ``V`` is averaged over the cells, interactions become convolution or
        low-rank operators on cell averages.
    """

    def __init__(self, free_energy: FreeEnergy, grid: Grid) -> None:
        self.grid = grid
        self.internal = free_energy.internal
        p = free_energy.potential_term
        self.V = np.zeros(grid.shape) if p is None else p.on_grid(grid)
        self.operators = [term.on_grid(grid) for term in free_energy.interactions]

    @property
    def has_interaction(self) -> bool:
        """Whether the energy has an interaction term."""
        return bool(self.operators)

    def interaction_potential(self, rho: np.ndarray) -> np.ndarray:
        """``∫U(·, θ′) ρ(θ′) dθ′`` at the cell centres.

        Parameters
        ----------
        rho : ndarray, shape grid.shape
            Cell averages.

        Returns
        -------
        ndarray, shape grid.shape
            The interaction potential.
        """
        out = np.zeros(self.grid.shape)
        for op in self.operators:
            out += op(rho)
        return out

    def frozen_potential(self, rho: np.ndarray) -> np.ndarray:
        """``V + ∫U ρ``: the part of ``Ψ`` that does not depend on ``ρ`` pointwise.

        What the semi-implicit and JKO steps freeze at the previous density.

        Parameters
        ----------
        rho : ndarray, shape grid.shape
            Cell averages.

        Returns
        -------
        ndarray, shape grid.shape
            The frozen potential.
        """
        if not self.operators:
            return self.V
        return self.V + self.interaction_potential(rho)

    def first_variation(self, rho: np.ndarray) -> np.ndarray:
        """``Ψ = δE/δρ = V + ∫U ρ + H′(ρ)`` at the cell centres.

        Parameters
        ----------
        rho : ndarray, shape grid.shape
            Cell averages.

        Returns
        -------
        ndarray, shape grid.shape
            ``Ψ``.
        """
        psi = self.frozen_potential(rho)
        if self.internal is not None:
            psi = psi + self.internal.derivative(rho)
        return psi

    def terms(self, rho: np.ndarray) -> dict[str, float]:
        """Energy split into ``potential``, ``interaction`` and ``internal`` parts.

        Parameters
        ----------
        rho : ndarray, shape grid.shape
            Cell averages.

        Returns
        -------
        dict of str -> float
            The three parts (they add up to :meth:`energy`).
        """
        g = self.grid
        parts = {"potential": float(g.integrate(self.V * rho))}
        parts["interaction"] = (
            0.5 * float(g.integrate(self.interaction_potential(rho) * rho))
            if self.operators
            else 0.0
        )
        parts["internal"] = (
            float(g.integrate(self.internal.density(rho))) if self.internal is not None else 0.0
        )
        return parts

    def energy(self, rho: np.ndarray) -> float:
        """Discrete free energy ``Σ_i [V_i ρ_i + ½ (Wρ)_i ρ_i + H(ρ_i)] h^D``.

        Parameters
        ----------
        rho : ndarray, shape grid.shape
            Cell averages.

        Returns
        -------
        float
            The energy.
        """
        return sum(self.terms(rho).values())
