r"""Parabolic–elliptic Keller–Segel chemotaxis in 2-D and its virial identity.

.. math::
    \partial_t \rho = \Delta\rho - \chi \nabla\cdot(\rho \nabla c), \qquad -\Delta c = \rho
    \quad\text{in } \mathbb{R}^2,

so ``c = −(1/2π) log|·| * ρ`` and the equation is the Wasserstein gradient flow of

.. math::
    E[\rho] = \int \rho\log\rho + \frac12 \iint \frac{\chi}{2\pi}\log|x - y|\,
    \rho(x)\rho(y)\,dx\,dy,

``FreeEnergy(interaction=PairwiseInteraction.newtonian(chi, dim=2), internal=Entropy(1))``.

**Virial identity** (exact for every solution while it is smooth, any initial datum): with
``M = ∫ρ`` and ``m₂(t) = ∫|x|²ρ``,

.. math::
    \frac{d}{dt} m_2 = \int |x|^2 \Delta\rho
      - \frac{\chi}{2\pi}\iint 2x\cdot\frac{x - y}{|x - y|^2}\rho(x)\rho(y)
    = 4M - \frac{\chi M^2}{2\pi}

(symmetrize ``2x → (x − y)`` in the double integral). So ``m₂`` is linear in time; the same
holds about the centre of mass, which does not move. The **critical mass** is
``M_c = 8π/χ``: for ``M < M_c`` the second moment grows and the solution spreads
(self-similar decay, Blanchet–Dolbeault–Perthame 2006); for ``M > M_c`` it decreases at rate
``χM²/(2π) − 4M`` and would become negative, so a solution with finite second moment blows
up (a Dirac mass forms) no later than

.. math::
    T^* \le \frac{\int |x - \bar x|^2 \rho_0}{\chi M^2/(2\pi) - 4M}

(Jäger–Luckhaus 1992, Nagai 1995; Blanchet–Dolbeault–Perthame 2006, Cor. 2.2). At
``M = M_c`` the solution exists for all times and concentrates as ``t → ∞``
(Blanchet–Carrillo–Masmoudi 2008).

On a grid a blow-up does not show as a failure: the mass piles into a few cells and the
scheme finds a discrete steady state. Run grid solvers with :meth:`KellerSegel.trackers`
(a :class:`~wgflow.trackers.ConcentrationGuard` and a :class:`~wgflow.trackers.BoundaryGuard`),
which stop such a run with :class:`~wgflow.ConcentrationDetected`; constructing a
supercritical problem logs a warning saying so.

References
----------
W. Jäger, S. Luckhaus, Trans. Amer. Math. Soc. 329 (1992) 819–824.
A. Blanchet, J. Dolbeault, B. Perthame, Electron. J. Differential Equations 44 (2006) 1–33.
A. Blanchet, J. A. Carrillo, N. Masmoudi, Comm. Pure Appl. Math. 61 (2008) 1449–1481.
B. Perthame, *Transport Equations in Biology*, Birkhäuser 2007, §5.
"""

from __future__ import annotations

import functools
import logging
import math

import numpy as np

from wgflow.energy import Entropy, FreeEnergy
from wgflow.interactions import PairwiseInteraction
from wgflow.problem import Problem
from wgflow.trackers import BoundaryGuard, ConcentrationGuard, Tracker
from wgflow.validation import check_positive, check_real, strict_keywords

from .gaussian_datum import GaussianDatum, check_mean0

logger = logging.getLogger(__name__)


class KellerSegel(GaussianDatum, Problem):
    """2-D parabolic–elliptic Keller–Segel with a Gaussian initial datum and the virial law.

    ``∂tρ = Δρ − χ∇·(ρ∇c)``, ``−Δc = ρ`` (see the module docstring): the Wasserstein
    gradient flow of the entropy plus the attractive Newtonian kernel ``(χ/2π) log|z|``.
    The initial density is ``M`` times the Gaussian ``N(mean0, variance · I)``.

    Parameters
    ----------
    mass : float
        Total mass ``M > 0`` (critical mass ``8π/χ``).
    chi : float
        Chemotactic sensitivity ``χ > 0``.
    variance : float
        Variance per axis of the initial Gaussian, > 0.
    mean0 : array_like, shape (2,)
        Centre of the initial Gaussian (its centre of mass, constant in time).

    Notes
    -----
    Oracles: :meth:`second_moment` (``m₂(t) = m₂(0) + (4M − χM²/(2π)) t``, exact while the
    solution is smooth), :attr:`virial_slope`, :meth:`particle_virial_slope` (the same law
    for the interacting-particle system, exact in expectation), :attr:`critical_mass`,
    :attr:`is_supercritical` and :meth:`blowup_time_bound`.

    Recommended workflow on a grid: pass :meth:`trackers` (a ConcentrationGuard and a
    BoundaryGuard) and a :class:`~wgflow.trackers.MomentTracker` to record ``∫|x|²ρ``::

        ds = FiniteVolume(prob.energy, grid).run(
            prob.initial_density(grid), t_final, save_every,
            trackers=[MomentTracker(), *prob.trackers()],
        )

    A supercritical run then stops with :class:`~wgflow.ConcentrationDetected` when its
    peak becomes narrower than three cells (tested: mass ``10π``, 48² cells on
    ``[−3, 3]²``, stop at ``t = 0.22`` before the bound ``T* ≤ 0.5``). Without it the grid
    run reaches any ``t_final`` with 80 % of the mass in four cells and reports nothing, so
    constructing a supercritical problem logs a warning that says so.

    Examples
    --------
    >>> import numpy as np
    >>> prob = KellerSegel(mass=4 * np.pi)
    >>> print(f"{prob.critical_mass:.4f} {prob.virial_slope:.4f} {prob.is_supercritical}")
    25.1327 25.1327 False
    """

    dim = 2

    @strict_keywords
    def __init__(
        self,
        mass: float = 4.0 * math.pi,
        chi: float = 1.0,
        variance: float = 0.5,
        mean0=(0.0, 0.0),
    ) -> None:
        self.mass = check_positive("mass", mass)
        self.chi = check_positive("chi", chi)
        self.variance = check_positive("variance", variance)
        self.mean0 = check_mean0(mean0, 2)
        if self.is_supercritical:
            logger.info(
                "KellerSegel: mass %.6g exceeds the critical mass 8π/χ = %.6g; the solution "
                "blows up by t = %.4g at the latest (grid runs stop there: ConcentrationGuard)",
                self.mass,
                self.critical_mass,
                self.blowup_time_bound(),
            )

    @functools.cached_property
    def energy(self) -> FreeEnergy:
        """``E = ∫ρ log ρ + ½∫∫(χ/2π) log|x − y| dρ dρ`` (the Newtonian kernel, entropy β = 1)."""
        return FreeEnergy(
            interaction=PairwiseInteraction.newtonian(chi=self.chi, dim=2),
            internal=Entropy(beta=1.0),
            metadata={"problem": "KellerSegel", "problem_parameters": self.parameters()},
            dim=2,
        )

    def parameters(self) -> dict:
        """The problem's parameters (stored in archives).

        Returns
        -------
        dict
            Everything needed to rebuild it.
        """
        return {
            "mass": self.mass,
            "chi": self.chi,
            "variance": self.variance,
            "mean0": self.mean0.tolist(),
        }

    @property
    def critical_mass(self) -> float:
        """The critical mass ``8π/χ``: smaller masses spread, larger ones blow up."""
        return 8.0 * math.pi / self.chi

    @property
    def is_supercritical(self) -> bool:
        """``M > 8π/χ``: the solution blows up in finite time."""
        return self.mass > self.critical_mass

    @property
    def virial_slope(self) -> float:
        """``d/dt ∫|x|²ρ = 4M − χM²/(2π)`` (negative when supercritical)."""
        return 4.0 * self.mass - self.chi * self.mass**2 / (2.0 * math.pi)

    @property
    def initial_second_moment(self) -> float:
        """``∫|x|²ρ₀ = M (2σ² + |mean0|²)`` of the Gaussian initial datum."""
        return self.mass * (2.0 * self.variance + float(self.mean0 @ self.mean0))

    def second_moment(self, t, initial: float | None = None):
        """Exact second moment ``∫|x|²ρ(t) = m₂(0) + (4M − χM²/(2π)) t``.

        Exact for any initial datum of mass ``M`` while the solution is smooth (before the
        blow-up time when supercritical; times where it would give ``m₂ ≤ 0`` are refused).

        Parameters
        ----------
        t : float or array_like
            Times, ≥ 0.
        initial : float, optional
            ``m₂(0) = ∫|x|²ρ₀`` of the datum actually used (e.g. the grid's, from
            :func:`wgflow.observables.moments`); default :attr:`initial_second_moment`.

        Returns
        -------
        float or ndarray
            ``m₂(t)``, the shape of ``t``.
        """
        times = np.asarray(t, dtype=float)
        if not np.all(np.isfinite(times)) or np.any(times < 0):
            raise ValueError(f"t: need finite times ≥ 0, got {t!r}")
        m2 = (
            self.initial_second_moment
            if initial is None
            else check_real("initial", initial, low=0.0)
        )
        if self.is_supercritical and np.any(times * -self.virial_slope >= m2):
            raise ValueError(
                f"t: the solution has blown up before t = {m2 / -self.virial_slope:.4g} (where "
                "the identity would give m₂ = 0; see blowup_time_bound()), got "
                f"{float(np.max(times)):.4g}"
            )
        out = m2 + self.virial_slope * times
        return float(out) if out.ndim == 0 else out

    def particle_virial_slope(self, weights) -> float:
        """``d/dt E Σ w_i|X_i|² = 4M − χ(M² − Σ w_i²)/(2π)`` for the particle system.

        The SDE ``dX_i = −Σ_{j≠i} w_j ∇W(X_i − X_j) dt + √2 dB_i`` skips the self term, so
        the pair sum gives ``Σ_{i≠j} w_i w_j = M² − Σ w_i²`` exactly (the symmetrized
        ``(X_i − X_j)·∇W(X_i − X_j) = χ/(2π)`` is constant): the identity holds in
        expectation for any ``N``, the Brownian martingale ``Σ w_i ∫2√2 X_i·dB`` (variance
        ``8 Σ w_i² ∫|X_i|²``) being the only fluctuation. Euler–Maruyama adds ``O(Δt)``.

        Parameters
        ----------
        weights : array_like, shape (N,)
            The particle weights (their sum is the mass ``M`` used, not :attr:`mass`).

        Returns
        -------
        float
            The slope (tends to :attr:`virial_slope` as ``N → ∞`` with ``Σw = M``).
        """
        w = np.asarray(weights, dtype=float).reshape(-1)
        if w.size < 1 or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("weights: need finite non-negative particle weights")
        total = float(w.sum())
        return 4.0 * total - self.chi * (total**2 - float(w @ w)) / (2.0 * math.pi)

    def blowup_time_bound(self, centred_second_moment: float | None = None) -> float:
        """Upper bound ``∫|x − x̄|²ρ₀ / (χM²/(2π) − 4M)`` of the blow-up time.

        Parameters
        ----------
        centred_second_moment : float, optional
            ``∫|x − x̄|²ρ₀`` of the datum used (default: the Gaussian's, ``2σ²M``).

        Returns
        -------
        float
            The bound; ``inf`` when the mass is not supercritical (no blow-up).
        """
        if not self.is_supercritical:
            return math.inf
        m2 = (
            2.0 * self.variance * self.mass
            if centred_second_moment is None
            else check_real("centred_second_moment", centred_second_moment, low=0.0)
        )
        return m2 / (-self.virial_slope)

    @property
    def initial_variance(self) -> float:
        """``σ²`` of the initial Gaussian (``variance``)."""
        return self.variance

    def trackers(self, boundary: bool = True) -> list[Tracker]:
        """The trackers a grid run of this problem should use.

        A :class:`~wgflow.trackers.ConcentrationGuard` (stops a supercritical run when the
        collapsing peak becomes grid-limited, raising :class:`~wgflow.ConcentrationDetected`)
        and, with ``boundary``, a :class:`~wgflow.trackers.BoundaryGuard` (stops a spreading
        subcritical run whose tails reach the box's walls). For FiniteVolume and JKO; particle
        runs need neither.

        Parameters
        ----------
        boundary : bool
            Include the BoundaryGuard.

        Returns
        -------
        list of Tracker
            Fresh trackers: pass them as ``solver.run(..., trackers=problem.trackers())``.

        Notes
        -----
        Grid runs of an attractive Newtonian kernel get a ConcentrationGuard even without this
        (:func:`wgflow.trackers.with_default_guards`); the BoundaryGuard is opt-in.
        """
        out: list[Tracker] = [ConcentrationGuard()]
        if boundary:
            out.append(BoundaryGuard())
        return out
