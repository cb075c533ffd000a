r"""The problem contract: what a problem plugin provides, and what it may refuse.

Three abstract bases, one per kind of problem (``docs/architecture.rst`` shows a new problem
written against each):

- :class:`Problem` — a gradient flow ``∂t ρ = ∇·(ρ∇Ψ[ρ])`` with what is known about it: its
  :attr:`~Problem.energy` and :meth:`~Problem.parameters` (required), an initial density, an
  exact solution and a steady state (optional: the defaults refuse with
  :class:`~wgflow.errors.CapabilityMissing`).
- :class:`NetworkProblem` — a mean-field two-layer network: the finite network that
  :class:`~wgflow.solvers.SGD` trains (:meth:`~NetworkProblem.model`), its exact population
  risk, the map from weights to reduced coordinates and back, and its
  :meth:`~NetworkProblem.reduced` problem.
- :class:`ReducedProblem` — the reduced mean-field PDE of a network problem on a few
  coordinates: energy, grid, risk of a density or of points, and the optional finite-step-size
  correction (refused by default).

:meth:`Problem.provides` (and the same method on the other two) says whether an optional
capability is implemented, without calling it.
"""

from __future__ import annotations

import abc
import functools

import numpy as np

from .docstrings import copy_docstrings
from .energy import FreeEnergy
from .errors import CapabilityMissing
from .grid import Grid
from .networks import PARAMETER_HEADS, NetworkModel, neutral_head
from .reprs import ParametersRepr
from .validation import check_positive

__all__ = ["NetworkProblem", "Problem", "ReducedProblem", "uniform_start"]


class _Capabilities:
    """``provides(name)``: whether a subclass overrides the refusing default ``name``.

    Subclasses inherit the contract's docstrings for the methods they implement without one.
    """

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        copy_docstrings(cls, [c for c in cls.__mro__[1:] if issubclass(c, _Capabilities)])

    #: the optional methods (each refuses with CapabilityMissing unless overridden)
    OPTIONAL: tuple[str, ...] = ()

    def provides(self, capability: str) -> bool:
        """Whether the optional method ``capability`` is implemented.

        Parameters
        ----------
        capability : str
            One of :attr:`OPTIONAL`.

        Returns
        -------
        bool
            ``False`` when calling it would raise :class:`~wgflow.errors.CapabilityMissing`.
        """
        if capability not in self.OPTIONAL:
            raise ValueError(
                f"capability: must be one of {list(self.OPTIONAL)}, got {capability!r}"
            )
        base = next(c for c in type(self).__mro__ if capability in vars(c).get("OPTIONAL", ()))
        return getattr(type(self), capability) is not vars(base)[capability]

    def _missing(self, capability: str, hint: str = "") -> CapabilityMissing:
        return CapabilityMissing(
            f"{type(self).__name__} does not provide {capability}(){hint}", capability
        )


class _Described(_Capabilities, ParametersRepr, abc.ABC):
    """A problem's settings: :meth:`parameters` (and its alias :meth:`describe`)."""

    @abc.abstractmethod
    def parameters(self) -> dict:
        """Every setting of the problem, enough to rebuild it (JSON-serializable; archived).

        Returns
        -------
        dict
            Name → value.
        """

    def describe(self) -> dict:
        """The same as :meth:`parameters` (the name energy terms and models use).

        Returns
        -------
        dict
            Name → value.
        """
        return self.parameters()


class Problem(_Described):
    """A gradient-flow problem: a free energy and what is known about its solution.

    Subclasses implement :attr:`energy` and :meth:`parameters`; they override the optional
    :meth:`initial_density`, :meth:`exact_density` and :meth:`steady_state` where they have
    one.
    """

    OPTIONAL = ("initial_density", "exact_density", "steady_state")

    @property
    @abc.abstractmethod
    def energy(self) -> FreeEnergy:
        """The free energy whose gradient flow the problem is."""

    def initial_density(self, grid: Grid) -> np.ndarray:
        """The problem's initial datum as cell averages on ``grid`` (optional).

        Parameters
        ----------
        grid : Grid
            The grid.

        Returns
        -------
        ndarray, shape grid.shape
            Cell averages.
        """
        raise self._missing("initial_density", "; pass your own initial density to run()")

    def exact_density(self, grid: Grid, t: float) -> np.ndarray:
        """The exact solution at time ``t`` as cell averages on ``grid`` (optional).

        Parameters
        ----------
        grid : Grid
            The grid.
        t : float
            Time.

        Returns
        -------
        ndarray, shape grid.shape
            Cell averages.
        """
        raise self._missing("exact_density", " (no closed-form solution)")

    def steady_state(self, grid: Grid) -> np.ndarray:
        """The steady state as cell averages on ``grid`` (optional).

        Parameters
        ----------
        grid : Grid
            The grid.

        Returns
        -------
        ndarray, shape grid.shape
            Cell averages.
        """
        raise self._missing("steady_state", " (no closed-form steady state)")


class NetworkProblem(_Described):
    """A mean-field two-layer network problem: the finite network SGD trains, and its reduction.

    Subclasses set ``d``, ``activation``, ``trained`` (``"w"``, ``"aw"`` or ``"abw"``) and
    ``data`` and implement :meth:`parameters`, :meth:`population_risk`,
    :meth:`reduced_coordinates`, :meth:`full_weights`, :meth:`initial_reduced`,
    :meth:`reduced` and :meth:`default_start`. :meth:`model` is shared.
    """

    #: Mehler order of :meth:`reduced` when the caller gives none
    default_mehler_order: int = 0
    #: the name :meth:`model` gives the network model
    model_name: str = "network"

    d: int
    trained: str

    @property
    def head(self) -> list[str]:
        """Names of the non-weight parameters: ``[]``, ``["a"]`` or ``["a", "b"]``."""
        return list(PARAMETER_HEADS[self.trained])

    def settings(self) -> dict:
        """The scalar settings an experiment archives.

        ``problem``, ``d``, ``activation``, ``trained`` and the problem's own.

        Returns
        -------
        dict
            Name → number or string.
        """
        return {
            "problem": type(self).__name__,
            "d": self.d,
            "activation": self.activation.name,
            "trained": self.trained,
        }

    @abc.abstractmethod
    def population_risk(self, theta: np.ndarray) -> float:
        """Exact ``R_N(θ) = E (y − f(x; θ))²`` of a finite network.

        Parameters
        ----------
        theta : ndarray, shape (N, D)
            Weights (columns ``a``, ``b`` when trained, then ``w``).

        Returns
        -------
        float
            The risk.
        """

    @abc.abstractmethod
    def reduced_coordinates(self, theta: np.ndarray) -> dict:
        """Reduced coordinates of each neuron.

        Parameters
        ----------
        theta : ndarray, shape (N, D)
            Weights.

        Returns
        -------
        dict of str -> ndarray, shape (N,)
            One array per reduced coordinate.
        """

    @abc.abstractmethod
    def full_weights(self, points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Full weights drawn given reduced points (uniform on the symmetry orbits).

        Parameters
        ----------
        points : ndarray, shape (n, D̄)
            Reduced points.
        rng : numpy.random.Generator
            Randomness.

        Returns
        -------
        ndarray, shape (n, D)
            Full weights.
        """

    @abc.abstractmethod
    def initial_reduced(self, n: int, initial_scale: float, rng: np.random.Generator) -> np.ndarray:
        """Reduced points with the exact law of ``w ~ N(0, κ² I/d)`` (``a = 1``, ``b = 0``).

        Parameters
        ----------
        n : int
            Number of points.
        initial_scale : float
            ``κ > 0``.
        rng : numpy.random.Generator
            Randomness.

        Returns
        -------
        ndarray, shape (n, D̄)
            The points.
        """

    @abc.abstractmethod
    def reduced(self, beta: float = np.inf, mehler_order: int = 0) -> ReducedProblem:
        """The reduced mean-field problem.

        Parameters
        ----------
        beta : float
            Inverse temperature of noisy SGD (``inf``: noiseless).
        mehler_order : int
            Order of the finite-``d`` correction of the interaction (0: ``d → ∞``).

        Returns
        -------
        ReducedProblem
            The reduced free energy and its helpers.
        """

    @abc.abstractmethod
    def default_start(self):
        """The reduced start ``ρ̄0`` used when none is given (without the head columns).

        Returns
        -------
        callable
            A picklable sampler ``(n, rng) ↦ (n, D̄ − len(head))``.
        """

    def model(
        self, initial_scale: float = 1.0, radial=None, exact_risk: bool = True
    ) -> NetworkModel:
        """The network model that :class:`~wgflow.solvers.SGD` trains on this problem.

        Parameters
        ----------
        initial_scale : float
            ``κ``: ``w ~ N(0, κ² I/d)``, ``a = 1``, ``b = 0`` (ignored when ``radial`` is given).
        radial : callable, optional
            ``(n, rng) ↦ reduced points (n, D̄)``: start from ``ρ̄0`` times the uniform law on
            the symmetry orbits (:meth:`full_weights`).
        exact_risk : bool
            Record the exact population risk instead of a held-out Monte-Carlo estimate.

        Returns
        -------
        NetworkModel
            Data, architecture, initializer and reduced coordinates.
        """
        kappa = check_positive("initial_scale", initial_scale)
        return NetworkModel(
            self.data,
            self.activation,
            self.trained,
            population_risk=self.population_risk if exact_risk else None,
            reduced_coordinates=self.reduced_coordinates,
            collective_coordinates=getattr(self, "collective_coordinates", None),
            initial_weights=functools.partial(_initial_weights, self, kappa, radial),
            name=self.model_name,
            metadata={"problem": type(self).__name__, "problem_parameters": self.parameters()},
        )


def _initial_weights(problem: NetworkProblem, kappa: float, radial, n: int, rng) -> np.ndarray:
    if radial is not None:
        return problem.full_weights(radial(n, rng), rng)
    w = kappa * rng.standard_normal((n, problem.d)) / np.sqrt(problem.d)
    return np.column_stack([*neutral_head(n, len(problem.head)), w])


class ReducedProblem(_Capabilities, abc.ABC):
    """The reduced mean-field problem of a :class:`NetworkProblem` on a few coordinates.

    Subclasses set ``problem``, ``beta``, ``mehler_order``, ``radial_axes``, ``axes`` (head
    then radial) and ``dim`` and implement :attr:`energy`, :meth:`grid`, :meth:`risk_curve` and
    :meth:`particle_risk`; a problem with a finite-step-size theory overrides
    :meth:`step_size_drift` (then :meth:`corrected_energy` works); one with a collective-mode
    model overrides :meth:`collective_energy` and provides ``collective_modes``,
    ``collective_risk``, ``collective_source``, ``collective_full`` and
    ``collective_correlation`` (see :mod:`wgflow.studies.collective`).
    """

    OPTIONAL = ("step_size_drift", "collective_energy")

    problem: NetworkProblem
    beta: float
    mehler_order: int
    axes: tuple[str, ...]
    radial_axes: tuple[str, ...]
    dim: int

    @property
    @abc.abstractmethod
    def energy(self) -> FreeEnergy:
        """The reduced free energy."""

    @abc.abstractmethod
    def grid(self, cells, r_max: float) -> Grid:
        """A cell-centred grid over the reduced axes.

        Parameters
        ----------
        cells : int or sequence of int
            Cells per axis.
        r_max : float
            Upper end of the radial axes.

        Returns
        -------
        Grid
            The grid.
        """

    @abc.abstractmethod
    def risk_curve(self, grid: Grid, densities) -> np.ndarray:
        """The mean-field risk ``R(ρ̄)`` of each density on a grid.

        Parameters
        ----------
        grid : Grid
            A grid from :meth:`grid`.
        densities : sequence of ndarray, shape (T, *grid.shape)
            Cell averages.

        Returns
        -------
        ndarray, shape (T,)
            The risk over time.
        """

    @abc.abstractmethod
    def particle_risk(self, points: np.ndarray) -> float:
        """The mean-field risk of the empirical measure of reduced points.

        Parameters
        ----------
        points : ndarray, shape (n, D̄)
            Reduced points.

        Returns
        -------
        float
            The risk.
        """

    def risk(self, grid: Grid, density: np.ndarray) -> float:
        """:meth:`risk_curve` of one density.

        Parameters
        ----------
        grid : Grid
            A grid from :meth:`grid`.
        density : ndarray, shape grid.shape
            Cell averages.

        Returns
        -------
        float
            The risk.
        """
        return float(self.risk_curve(grid, [density])[0])

    def step_size_drift(self, step_size: float):
        """The finite-step-size correction of the reduced dynamics, as a drift (optional).

        Parameters
        ----------
        step_size : float
            SGD's ``ε``.

        Returns
        -------
        MeanFieldDrift
            The drift.
        """
        raise self._missing(
            "step_size_drift",
            f" (the finite-step-size correction is not derived for {type(self.problem).__name__})",
        )

    def collective_energy(self, step_size: float, modes: dict) -> FreeEnergy:
        """The energy of the neurons' incoherent parts at frozen collective scalars (optional).

        Parameters
        ----------
        step_size : float
            SGD's ``ε``.
        modes : dict of str -> float
            The collective scalars (``collective_modes``).

        Returns
        -------
        FreeEnergy
            With the incoherent share of the finite-step-size drift.
        """
        raise self._missing(
            "collective_energy",
            f" (the collective mode is not derived for {type(self.problem).__name__})",
        )

    def corrected_energy(self, step_size: float) -> FreeEnergy:
        """:attr:`energy` with the finite-step-size drift :meth:`step_size_drift`.

        Parameters
        ----------
        step_size : float
            SGD's ``ε``.

        Returns
        -------
        FreeEnergy
            Same terms, plus the drift (no longer a gradient flow).
        """
        drift = self.step_size_drift(step_size)
        e = self.energy
        return FreeEnergy(
            potential=e.potential_term,
            interaction=list(e.interactions),
            internal=e.internal,
            metadata={**e.metadata, "correction": f"step size {step_size:g}"},
            drift=drift,
        )


def uniform_start(low: float = 0.3, high: float = 0.7, dim: int = 2):
    """Product law of ``dim`` independent ``Unif[low, high]`` coordinates.

    Parameters
    ----------
    low, high : float
        The interval, ``0 ≤ low < high``.
    dim : int
        Number of coordinates (≥ 1).

    Returns
    -------
    callable
        A picklable sampler ``(n, rng) ↦ (n, dim)``.
    """
    if not 0 <= low < high:
        raise ValueError(f"low, high: need 0 ≤ low < high, got {low}, {high}")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim: need an integer ≥ 1, got {dim!r}")
    return functools.partial(_uniform, low, high, dim)


def _uniform(low, high, dim, n, rng):
    return rng.uniform(low, high, (n, dim))
