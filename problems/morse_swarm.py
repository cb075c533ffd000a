r"""A confined Morse swarm: attraction–repulsion, a quadratic trap and noise, in 1 to 3-D.

.. math::
    \partial_t \rho = \nabla\cdot\big(\rho\,\nabla(V + W*\rho)\big) + D\Delta\rho, \qquad
    V(x) = \frac{\kappa}{2}|x|^2, \qquad
    W(z) = -C_a e^{-|z|/\ell_a} + C_r e^{-|z|/\ell_r},

the Wasserstein gradient flow of ``E = ∫V dρ + ½∫∫W dρ dρ + D∫ρ log ρ`` (the Morse
potential of D'Orsogna–Chuang–Bertozzi–Chayes 2006, here in the first-order, overdamped
form of Carrillo–D'Orsogna–Panferov 2009; ``C_a, ℓ_a`` attraction, ``C_r, ℓ_r`` repulsion).

**Centre of mass** (exact): ``∇W`` is odd, so ``∫∫∇W(x − y) ρ(x)ρ(y) = 0``; diffusion moves
no mass on average (``∫x Δρ = 0``), and ``∇V = κx``. Hence

.. math::
    \frac{d}{dt}\int x\,\rho = -\kappa \int x\,\rho, \qquad
    \bar x(t) = \bar x(0)\,e^{-\kappa t},

for every initial datum and every Morse parameter. Mass is conserved and the free energy
decreases (``dE/dt = −∫ρ|∇Ψ|² ≤ 0``); the swarm relaxes to a steady state centred at 0,
whose shape (a blob, or a ring when the repulsion dominates at short range) depends on the
parameters and has no closed form. On particles the interaction forces cancel pairwise to
round-off, so Euler–Maruyama gives ``E x̄_n = (1 − κΔt)^n x̄(0)`` exactly and the noise adds
a Gaussian error of variance ``(2D/N)Σ_k (1 − κΔt)^{2k} Δt`` per axis (equal weights);
on a grid the walls and the upwinding break the antisymmetry at ``O(h²)``.

References
----------
M. R. D'Orsogna, Y. L. Chuang, A. L. Bertozzi, L. S. Chayes, Phys. Rev. Lett. 96 (2006)
104302.
J. A. Carrillo, M. R. D'Orsogna, V. Panferov, Kinet. Relat. Models 2 (2009) 363–378.
"""

from __future__ import annotations

import functools

import numpy as np

from wgflow.energy import Entropy, FreeEnergy, Potential
from wgflow.interactions import PairwiseInteraction
from wgflow.problem import Problem
from wgflow.validation import check_positive, check_real, strict_keywords

from .gaussian_datum import GaussianDatum, check_mean0


class MorseSwarm(GaussianDatum, Problem):
    """Morse attraction–repulsion in a quadratic trap with linear diffusion (1-D to 3-D).

    The defaults (2-D, mass 4, short-range repulsion ``C_r = 2 > C_a = 1``,
    ``ℓ_r = 0.5 < ℓ_a = 1``, trap ``κ = 1``, ``D = 0.05``, a Gaussian start off-centre) give
    a swarm that drifts to the origin as ``e^{−t}`` while spreading into a flat-topped disk of
    radius about 1.5 (density ≈ 1.4): a 64² grid on ``[−4, 4]²`` resolves it (see the
    gallery example).

    Parameters
    ----------
    dim : int
        1, 2 or 3.
    attraction : float
        ``C_a ≥ 0``.
    attraction_length : float
        ``ℓ_a > 0``.
    repulsion : float
        ``C_r ≥ 0`` (not both strengths 0).
    repulsion_length : float
        ``ℓ_r > 0``.
    confinement : float
        ``κ > 0`` in ``V = κ|x|²/2``.
    diffusion : float
        ``D > 0`` (entropy ``D ∫ρ log ρ``, i.e. ``β = 1/D``).
    mass : float
        Total mass ``M > 0`` (the interaction's strength relative to the trap scales with it).
    mean0 : array_like, shape (dim,), optional
        Centre of the Gaussian initial datum (default ``(1, 0.5, 0)[:dim]``).
    var0 : float
        Its variance per axis, > 0.

    Notes
    -----
    Oracle: :meth:`centre_of_mass` (``x̄(0) e^{−κt}``, exact).

    Examples
    --------
    >>> prob = MorseSwarm()
    >>> prob.centre_of_mass(1.0).round(4).tolist()
    [0.3679, 0.1839]
    """

    @strict_keywords
    def __init__(
        self,
        dim: int = 2,
        attraction: float = 1.0,
        attraction_length: float = 1.0,
        repulsion: float = 2.0,
        repulsion_length: float = 0.5,
        confinement: float = 1.0,
        diffusion: float = 0.05,
        mass: float = 4.0,
        mean0=None,
        var0: float = 0.25,
    ) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim not in (1, 2, 3):
            raise ValueError(f"dim: need 1, 2 or 3, got {dim!r}")
        dim = int(dim)
        self.dim = dim
        self.attraction = check_real("attraction", attraction, low=0.0)
        self.attraction_length = check_positive("attraction_length", attraction_length)
        self.repulsion = check_real("repulsion", repulsion, low=0.0)
        self.repulsion_length = check_positive("repulsion_length", repulsion_length)
        if self.attraction == 0 and self.repulsion == 0:
            raise ValueError("attraction, repulsion: both are 0 (no interaction); need one > 0")
        self.confinement = check_positive("confinement", confinement)
        self.diffusion = check_positive("diffusion", diffusion)
        self.mass = check_positive("mass", mass)
        default = np.array([1.0, 0.5, 0.0])[:dim]
        self.mean0 = check_mean0(default if mean0 is None else mean0, dim)
        self.var0 = check_positive("var0", var0)

    @functools.cached_property
    def energy(self) -> FreeEnergy:
        """``E = ∫κ|x|²/2 dρ + ½∫∫W dρ dρ + D∫ρ log ρ`` with the Morse kernel ``W``."""
        kappa = self.confinement
        potential = Potential(
            lambda x: 0.5 * kappa * np.sum(np.asarray(x) ** 2, axis=-1),
            gradient=lambda x: kappa * np.asarray(x),
            name=f"quadratic(kappa={kappa:g})",
        )
        interaction = PairwiseInteraction.morse(
            attraction=self.attraction,
            attraction_length=self.attraction_length,
            repulsion=self.repulsion,
            repulsion_length=self.repulsion_length,
        )
        return FreeEnergy(
            potential=potential,
            interaction=interaction,
            internal=Entropy(beta=1.0 / self.diffusion),
            metadata={"problem": "MorseSwarm", "problem_parameters": self.parameters()},
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
            "attraction": self.attraction,
            "attraction_length": self.attraction_length,
            "repulsion": self.repulsion,
            "repulsion_length": self.repulsion_length,
            "confinement": self.confinement,
            "diffusion": self.diffusion,
            "mass": self.mass,
            "mean0": self.mean0.tolist(),
            "var0": self.var0,
        }

    def centre_of_mass(self, t) -> np.ndarray:
        """Exact centre of mass ``x̄(0) e^{−κt}`` (the interaction's forces cancel).

        Parameters
        ----------
        t : float or array_like
            Times, ≥ 0.

        Returns
        -------
        ndarray, shape (dim,) or (*t.shape, dim)
            The centre of mass.
        """
        times = np.asarray(t, dtype=float)
        if not np.all(np.isfinite(times)) or np.any(times < 0):
            raise ValueError(f"t: need finite times ≥ 0, got {t!r}")
        return np.exp(-self.confinement * times)[..., None] * self.mean0

    @property
    def initial_variance(self) -> float:
        """``σ²`` of the initial Gaussian (``var0``)."""
        return self.var0
