r"""The collective mode of finite-step SGD on anisotropic Gaussians.

Mixed into :class:`~wgflow.problems.anisotropic_gaussians.ReducedAnisotropic`.

Write ``u_j = P w_j``, ``v_j = P⊥ w_j`` for SGD's neurons, ``ū``, ``v̄`` their means over the
network, ``δ_j = v_j − v̄`` (and likewise for ``u``). Every SGD step moves all neurons along the
same input ``x``, so the means collect the common share of every step's squared increment: with
``c = εd``, ``γ = s0/d`` they reach ``‖v̄‖² = O(c)``, independent of ``N`` (a random walk on
``d − s0`` coordinates with a restoring force), and every pre-activation carries the same shift
``ξ = ⟨ū, Px⟩ + ⟨v̄, P⊥x⟩ ~ N(0, S±)`` in class ``±``, ``S± = ‖v̄‖² + (1±Δ)²‖ū‖²``.

The model (``N, d → ∞``, ``εd → c``) keeps the law ``ρ̃`` of each neuron's incoherent part
``(a, b, ‖u_j − ū‖, ‖δ_j‖)`` on the reduced axes and the two scalars ``v2 = ‖v̄‖²``,
``u2 = ‖ū‖²`` (``u2`` alone for isotropic data):

* the risk ``R(ρ̃, v2, u2) = E(y − F(x))²`` where each neuron's variance is ``q̃± + S±`` and each
  pair's covariance gains ``S±`` (Mehler: ``Q = Σ_n c^n/n! m_n m_n′``; the shared part adds the
  separable terms ``S± m1 m1′ + S±²/2 m2 m2′``; mixed terms ``S · O(1/d)`` are dropped);
* ``ρ̃`` moves with ``−∇Ψ`` of that risk at frozen scalars plus the incoherent share of the
  ``εd`` drift (each neuron's squared increment minus the common share);
* ``d v2/dt = −2 v2 ∂R/∂v2 + c(1 − γ) ½Σ± e±² P±²`` and
  ``d u2/dt = −2 u2 ∂R/∂u2 + cγ ½Σ± (1±Δ)² e±² P±²`` (Stein's lemma on ``P⊥x``, ``Px``), with
  ``P± = ∫ a m1(q̃± + S±, b) dρ̃`` the network's mean slope and ``e±² = (y± − M±)² + S± P±²``
  the squared residual in class ``±``.

See ``docs/conventions.rst``, "Finite step size", for the derivation and what is dropped.
"""

from __future__ import annotations

import numpy as np

from wgflow.drift import MeanFieldDrift
from wgflow.energy import Entropy, FreeEnergy, Potential
from wgflow.interactions import SeparableInteraction
from wgflow.validation import check_points, check_positive, check_real, real_array

from .gaussian_expectations import hermite_moment, squared_derivative_expectation

LABELS = (1.0, -1.0)
SIGNS = (1, -1)


class AnisotropicCollective:
    """Collective-mode methods of the reduced anisotropic problem.

    The interface every reduced problem with a collective model provides: the scalars
    :attr:`collective_modes`, the energy of the incoherent cloud at frozen scalars
    (:meth:`collective_energy`), the risk (:meth:`collective_risk`), the scalars' sources
    (:meth:`collective_source`) and the map back to each neuron's full coordinates
    (:meth:`collective_full`).
    """

    @property
    def collective_modes(self) -> tuple[str, ...]:
        """The collective scalars: ``("v2", "u2")`` (``("u2",)`` for isotropic data)."""
        return ("u2",) if self.problem.isotropic else ("v2", "u2")

    def _shifts(self, modes) -> tuple[float, float]:
        """``S± = v2 + (1±Δ)² u2``: the variance of the shift every neuron shares."""
        modes = self._checked_modes(modes)
        v2, u2 = modes.get("v2", 0.0), modes["u2"]
        return tuple(v2 + (1 + s * self.problem.delta) ** 2 * u2 for s in SIGNS)

    def _checked_modes(self, modes) -> dict:
        if not isinstance(modes, dict) or set(modes) != set(self.collective_modes):
            raise ValueError(
                f"modes: need a dict with keys {self.collective_modes}, got {modes!r}"
            )
        out = {}
        for name, value in modes.items():
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise ValueError(f"modes: {name} must be a real variance ≥ 0, got {value!r}")
            out[name] = check_real(f"modes: {name}", value, low=0.0)
        return out

    def _checked_measure(self, points, weights) -> tuple[np.ndarray, np.ndarray]:
        """Incoherent points ``(n, D̄)`` with radii ≥ 0 and their masses (finite, ≥ 0, sum 1)."""
        points = check_points("points", points, self.dim)
        h = len(self.problem.head)
        if np.any(points[:, h:] < 0):
            raise ValueError(
                f"points: the radii {self.radial_axes} must be ≥ 0, got {points[:, h:].min():.3g}"
            )
        weights = real_array("weights", weights)
        if weights.shape != (len(points),):
            raise ValueError(
                f"weights: need shape ({len(points)},) (one mass per point), got {weights.shape}"
            )
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError("weights: need finite masses ≥ 0")
        if abs(weights.sum() - 1.0) > 1e-9:
            raise ValueError(f"weights: the masses must sum to 1, got {weights.sum():.12g}")
        return points, weights

    def _full_variances(self, points, shifts):
        return tuple(q + s for q, s in zip(self.variances(points), shifts, strict=True))

    # ---- the energy at frozen scalars ----------------------------------------------------------
    def collective_features(self, points: np.ndarray, modes: dict) -> np.ndarray:
        """Separable features of the interaction at frozen scalars, ``U = Σ_k c_k φ_k φ_k′``.

        Parameters
        ----------
        points : ndarray, shape (..., D̄)
            Incoherent reduced points.
        modes : dict of str -> float
            The collective scalars.

        Returns
        -------
        ndarray, shape (..., K)
            The plain Mehler features at the shifted variances, then ``a √S± m1`` and
            ``a S± m2`` (coefficients in :meth:`collective_coefficients`).
        """
        shifts = self._shifts(modes)
        a, b, r1, r2 = self.split(points)
        qs = self._full_variances(points, shifts)
        act, delta = self.problem.activation, self.problem.delta
        out = []
        for _, k, p1, p2 in self._overlap_terms():
            for sign, q in zip(SIGNS, qs, strict=True):
                scale = (1 + sign * delta) ** p1
                out.append(a * scale * r1**p1 * r2**p2 * hermite_moment(act, q, k, b))
        for n in (1, 2):
            for q, s in zip(qs, shifts, strict=True):
                out.append(a * s ** (n / 2) * hermite_moment(act, q, n, b))
        return np.stack(out, axis=-1)

    @property
    def collective_coefficients(self) -> np.ndarray:
        """The ``c_k`` of :meth:`collective_features`, shape ``(K,)``."""
        plain = [0.5 * c for c, *_ in self._overlap_terms()]
        return np.repeat([*plain, 0.5, 0.25], 2)

    def collective_potential(self, points: np.ndarray, modes: dict, drift: bool = True):
        """``V = −½ a (m(q̃+ + S+, b) − m(q̃− + S−, b))`` (plus the noisy radial drift).

        Parameters
        ----------
        points : ndarray, shape (..., D̄)
            Incoherent reduced points.
        modes : dict of str -> float
            The collective scalars.
        drift : bool
            Include the Jacobian potential when ``β < ∞``.

        Returns
        -------
        ndarray, shape (...)
            ``V``.
        """
        a, b, _, _ = self.split(points)
        qp, qm = self._full_variances(points, self._shifts(modes))
        act = self.problem.activation
        v = -0.5 * a * (hermite_moment(act, qp, 0, b) - hermite_moment(act, qm, 0, b))
        return v + self.jacobian_potential(points) if drift and np.isfinite(self.beta) else v

    def collective_energy(self, step_size: float, modes: dict) -> FreeEnergy:
        """The energy of the incoherent cloud ``ρ̃`` at frozen scalars, with its ``εd`` drift.

        Parameters
        ----------
        step_size : float
            SGD's ``ε``.
        modes : dict of str -> float
            The collective scalars (frozen).

        Returns
        -------
        FreeEnergy
            ``V`` and the separable interaction at the shifted variances, the entropy when
            ``β < ∞``, and :meth:`incoherent_drift` as its drift.
        """
        from .anisotropic_gaussians import _central_gradient

        modes = self._checked_modes(modes)

        def potential(x):
            return self.collective_potential(x, modes)

        def features(x):
            return self.collective_features(x, modes)

        interaction = SeparableInteraction(
            features,
            self.collective_coefficients,
            gradient=lambda x: _central_gradient(features, x, 1e-6),
            name=f"collective (Mehler order {self.mehler_order})",
        )
        return FreeEnergy(
            potential=Potential(
                potential,
                gradient=lambda x: _central_gradient(
                    lambda y: self.collective_potential(y, modes, drift=False), x, 1e-6
                ) + self.jacobian_gradient(x),
                name="V (collective)",
            ),
            interaction=interaction,
            internal=Entropy(self.beta) if np.isfinite(self.beta) else None,
            metadata={**self.energy.metadata, "correction": "collective", "modes": modes},
            drift=self.incoherent_drift(step_size, modes),
        )

    def incoherent_drift(self, step_size: float, modes: dict) -> MeanFieldDrift:
        r"""The incoherent share of the finite-step-size drift at frozen scalars.

        A step moves ``δ_j`` by ``ε (y − f)(a_j σ′_j − P) x⊥`` (``P`` the network's mean
        slope), so per unit time

        .. math::
            \frac{d r_2^2}{dt} \mathrel{+}= c(1-\gamma)\,\tfrac12\sum_\pm e_\pm^2
            \big(a^2 D_\pm - 2 a\, m_1(q_\pm, b) P_\pm + P_\pm^2\big)

        (``r1``: ``cγ`` and the weights ``(1±Δ)²``), ``D± = E σ′(b + √q± G)²`` at the full
        variance ``q± = q̃± + S±``. Without the scalars (``S± = 0``, ``P → 0``) this is the
        one-neuron drift of :meth:`step_size_drift`.

        Parameters
        ----------
        step_size : float
            SGD's ``ε``.
        modes : dict of str -> float
            The collective scalars.

        Returns
        -------
        MeanFieldDrift
            Velocity on the radial axes; moments ``M±``, ``P±``.
        """
        eps = check_positive("step_size", step_size)
        p = self.problem
        c = eps * p.d
        gamma = 1.0 if p.isotropic else p.s0 / p.d
        shifts = self._shifts(modes)
        start = len(p.head)
        radial = list(range(start, start + len(self.radial_axes)))
        act, delta = p.activation, p.delta

        def features(points):
            return self._slope_features(points, shifts)

        def velocity(points, moments):
            a, b, r1, r2 = self.split(points)
            qs = self._full_variances(points, shifts)
            means, slopes = moments[:2], moments[2:]
            pull = []
            for y, m, slope, q, s in zip(LABELS, means, slopes, qs, shifts, strict=True):
                e2 = (y - m) ** 2 + s * slope**2
                own = a**2 * squared_derivative_expectation(act, b, np.sqrt(q))
                cross = 2 * a * hermite_moment(act, q, 1, b) * slope
                pull.append(e2 * (own - cross + slope**2))
            out = np.zeros_like(np.asarray(points, float))
            informative = 0.5 * sum(
                (1 + s * delta) ** 2 * term for s, term in zip(SIGNS, pull, strict=True)
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                out[..., radial[0]] = np.where(r1 > 0, c * gamma * informative / (2 * r1), 0.0)
                if len(radial) == 2:
                    rest = 0.5 * sum(pull)
                    out[..., radial[1]] = np.where(r2 > 0, c * (1 - gamma) * rest / (2 * r2), 0)
            return out

        return MeanFieldDrift(
            velocity,
            features=features,
            name="finite step size (εd), incoherent share",
            parameters={"kind": "collective", "epsilon": eps, "c": c, **modes},
        )

    def _slope_features(self, points, shifts) -> np.ndarray:
        """``a m0(q±)``, ``a m1(q±)`` at the full variances: moments ``M±``, ``P±``."""
        a, b, _, _ = self.split(points)
        qs = self._full_variances(points, shifts)
        act = self.problem.activation
        return np.stack(
            [a * hermite_moment(act, q, n, b) for n in (0, 1) for q in qs], axis=-1
        )

    # ---- the scalars ---------------------------------------------------------------------------
    def collective_risk(self, modes: dict, points: np.ndarray, weights: np.ndarray) -> float:
        """``R(ρ̃, scalars)`` of the weighted incoherent points.

        Parameters
        ----------
        modes : dict of str -> float
            The collective scalars.
        points : ndarray, shape (n, D̄)
            Incoherent reduced points.
        weights : ndarray, shape (n,)
            Their masses (summing to 1).

        Returns
        -------
        float
            The population risk of the model's network.
        """
        points, weights = self._checked_measure(points, weights)
        mean_v = float(weights @ self.collective_potential(points, modes, drift=False))
        moments = weights @ self.collective_features(points, modes)
        return float(1.0 + 2.0 * mean_v + self.collective_coefficients @ moments**2)

    def collective_source(
        self, step_size: float, modes: dict, points: np.ndarray, weights: np.ndarray
    ) -> dict[str, float]:
        """The scalars' sources: the common share of each step's squared increment.

        ``v2``: ``c(1−γ) ½Σ± e±² P±²``; ``u2``: ``cγ ½Σ± (1±Δ)² e±² P±²``.

        Parameters
        ----------
        step_size : float
            SGD's ``ε``.
        modes : dict of str -> float
            The collective scalars.
        points : ndarray, shape (n, D̄)
            Incoherent reduced points.
        weights : ndarray, shape (n,)
            Their masses.

        Returns
        -------
        dict of str -> float
            Source of each scalar (per unit time).
        """
        eps = check_positive("step_size", step_size)
        p = self.problem
        c = eps * p.d
        gamma = 1.0 if p.isotropic else p.s0 / p.d
        shifts = self._shifts(modes)
        points, weights = self._checked_measure(points, weights)
        moments = weights @ self._slope_features(points, shifts)
        common = [
            ((y - m) ** 2 + s * slope**2) * slope**2
            for y, m, slope, s in zip(LABELS, moments[:2], moments[2:], shifts, strict=True)
        ]
        out = {"u2": c * gamma * 0.5 * sum(
            (1 + s * p.delta) ** 2 * term for s, term in zip(SIGNS, common, strict=True)
        )}  # fmt: skip
        if not p.isotropic:
            out["v2"] = c * (1 - gamma) * 0.5 * sum(common)
        return {name: float(out[name]) for name in self.collective_modes}

    def collective_full(self, modes: dict, points: np.ndarray) -> np.ndarray:
        """Each neuron's full reduced coordinates: ``r1 → √(r1² + u2)``, ``r2 → √(r2² + v2)``.

        Parameters
        ----------
        modes : dict of str -> float
            The collective scalars.
        points : ndarray, shape (..., D̄)
            Incoherent reduced points.

        Returns
        -------
        ndarray, shape (..., D̄)
            The same points with the shared parts added to the radii (the cross term
            ``2⟨v̄, δ_j⟩`` averages to zero over the network and is left out).
        """
        modes = self._checked_modes(modes)
        out = real_array("points", points)
        if out.ndim < 1 or out.shape[-1] != self.dim or not np.all(np.isfinite(out)):
            raise ValueError(
                f"points: need finite points with last axis {self.dim} ({self.axes}), got shape "
                f"{out.shape}"
            )
        h = len(self.problem.head)
        out[..., h] = np.sqrt(out[..., h] ** 2 + modes["u2"])
        if not self.problem.isotropic:
            out[..., h + 1] = np.sqrt(out[..., h + 1] ** 2 + modes["v2"])
        return out

    def collective_correlation(self, modes: dict, points, weights) -> float:
        """Predicted pair correlation ``C = v2 / (v2 + ∫r2² dρ̃)`` (``u2`` when isotropic).

        Parameters
        ----------
        modes : dict of str -> float
            The collective scalars.
        points : ndarray, shape (n, D̄)
            Incoherent reduced points.
        weights : ndarray, shape (n,)
            Their masses.

        Returns
        -------
        float
            ``C``.
        """
        modes = self._checked_modes(modes)
        points, weights = self._checked_measure(points, weights)
        name = "u2" if self.problem.isotropic else "v2"
        radius = points[:, len(self.problem.head) + (name == "v2")]
        total = modes[name] + float(weights @ radius**2)
        return modes[name] / total if total > 0 else 0.0
