r"""Centered anisotropic Gaussians (Mei–Montanari–Nguyen 2018) and their reduced problem.

Data: ``y = ±1`` w.p. ½, ``x | y ~ N(0, Σ±)``, ``Σ± = Q diag((1±Δ)² I_{s0}, I_{d−s0}) Qᵀ``.
Network ``f(x; θ) = (1/N) Σ a_i σ(⟨w_i, x⟩ + b_i)`` (parameter sets ``w``, ``aw``, ``abw``).
With ``r1 = ‖P w‖``, ``r2 = ‖P⊥ w‖`` (``P`` the projection on the first ``s0`` axes of ``Q``),
``⟨w, x⟩ | y = ±1 ~ N(0, q±)``, ``q± = (1±Δ)² r1² + r2²``, so with ``m(q, b) = E σ(b + √q G)``:

.. math::
    V = -\tfrac12\, a\,(m(q_+, b) - m(q_-, b)), \qquad
    U \to \tfrac12\, a a' (m(q_+, b) m(q_+', b') + m(q_-, b) m(q_-', b')) \quad (d \to \infty),

since the overlaps of independent uniform directions vanish as ``d → ∞``: ``U`` is a rank-two
separable interaction and the reduced state is ``(r1, r2)`` (``w``), ``(a, r1, r2)`` (``aw``) or
``(a, b, r1, r2)`` (``abw``); isotropic data (``s0 = d``) have a single ``r = ‖w‖``.
``R = 1 + 2∫V dρ̄ + ∫∫U dρ̄dρ̄`` (``= ½[(1 − M+)² + (1 + M−)²]``, ``M± = ∫ a m(q±, b) dρ̄``).

**Finite d.** For ``w = r1 u1 + r2 u2`` with ``u1, u2`` uniform on the unit spheres of the two
subspaces, the overlaps ``γ1 = ⟨u1, u1′⟩``, ``γ2 = ⟨u2, u2′⟩`` of independent neurons have
densities ``∝ (1−γ²)^{(k−3)/2}`` (``k = s0, d − s0``), and the direction-averaged kernel is
``ū = ½ Σ± a a′ E_γ Q(q±, q±′, c±)`` with ``c± = (1±Δ)² r1 r1′ γ1 + r2 r2′ γ2`` and ``Q`` the
Gaussian pair expectation of σ. :meth:`ReducedAnisotropic.finite_d_kernel` integrates it exactly
(Gauss–Jacobi in each overlap). For grid solvers the Taylor (Mehler) series in the covariance,
``Q = Σ_k c^k/k! m_k(q) m_k(q′)`` with ``m_k = E σ^{(k)}``, averaged over the overlaps
(odd moments vanish, ``E γ² = 1/k``, ``E γ⁴ = 3/(k(k+2))``), is a separable expansion whose
``k``-th term is ``O(d^{−k/2})``: ``mehler_order = 2`` adds the ``O(1/d)`` term,
``mehler_order = 4`` the ``O(1/d²)`` one.

**Noise.** For a law on ``R^d`` that is rotation invariant in both subspaces, the Laplacian of
``f(r1, r2)`` is ``∂²_{r1} f + (s0−1)/r1 ∂_{r1} f + ∂²_{r2} f + (d−s0−1)/r2 ∂_{r2} f``. Writing
the Fokker–Planck equation ``∂t ρ = ∇·(ρ∇Ψ) + β⁻¹Δρ`` for the law ``ρ̄`` of ``(r1, r2)`` (the
Jacobian ``r1^{s0−1} r2^{d−s0−1}`` moves into the drift) gives
``∂t ρ̄ = ∇·(ρ̄ ∇Ψ) + β⁻¹ Δρ̄ − β⁻¹ ∇·(ρ̄ b)``, ``b = ((s0−1)/r1, (d−s0−1)/r2)``: the gradient flow
of the reduced energy with the extra potential ``−β⁻¹[(s0−1) log r1 + (d−s0−1) log r2]``
(``−β⁻¹ (d−1) log r`` when isotropic). ``a`` and ``b`` carry no Jacobian.

Reference: Mei, Montanari & Nguyen, PNAS 115 (2018) E7665 (arXiv 1804.06561), §"Centered
anisotropic Gaussians" and its SI.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.special import roots_jacobi

from wgflow.drift import MeanFieldDrift
from wgflow.energy import Entropy, FreeEnergy, Potential
from wgflow.grid import Grid
from wgflow.interactions import SeparableInteraction
from wgflow.networks import (
    Activation,
    GaussianMixture,
    neutral_head,
)
from wgflow.problem import NetworkProblem, ReducedProblem, uniform_start
from wgflow.validation import (
    check_choice,
    check_points,
    check_positive,
    check_real,
    strict_keywords,
)

from .anisotropic_collective import AnisotropicCollective
from .gaussian_expectations import hermite_moment, pair_moments, squared_derivative_expectation
from .two_layer_nn import TwoLayerNN, mean_weight_statistics

MEHLER_ORDERS = (0, 2, 4)


class AnisotropicGaussians(NetworkProblem):
    """The anisotropic Gaussian classification problem.

    Parameters
    ----------
    d : int
        Dimension, ≥ 2.
    s0 : int
        Dimension of the informative subspace, ``1 ≤ s0 ≤ d`` (``s0 = d``: isotropic).
    delta : float
        ``Δ ∈ [0, 1)``.
    activation : str or Activation
        ``relu``, ``truncated_relu``, ``sigmoid``, ``tanh``, ``ramp``, ``nonmonotone`` or any
        :class:`~wgflow.networks.Activation`.
    rotation : int or ndarray, optional
        ``None``: ``Q = I``; an integer seeds a random orthogonal ``Q``; or ``Q`` itself.
    trained : {"w", "aw", "abw"}
        Trained parts of each neuron (absent ``a = 1``, ``b = 0``).
    """

    default_mehler_order = 2
    model_name = "anisotropic Gaussians"

    @strict_keywords
    def __init__(
        self,
        d: int,
        s0: int,
        delta: float,
        activation="relu",
        rotation=None,
        trained: str = "w",
    ) -> None:
        if not isinstance(d, int | np.integer) or d < 2:
            raise ValueError(f"d: need an integer ≥ 2, got {d!r}")
        if not isinstance(s0, int | np.integer) or not 1 <= s0 <= d:
            raise ValueError(f"s0: need an integer in [1, d={d}], got {s0!r}")
        self.d, self.s0 = int(d), int(s0)
        self.delta = check_real("delta", delta, low=0.0, high=1.0, high_open=True)
        self.activation = Activation.named(activation)
        self.trained = check_choice("trained", trained, ("w", "aw", "abw"))
        if rotation is None or isinstance(rotation, np.ndarray):
            self.rotation = rotation
        else:
            from scipy.stats import ortho_group

            self.rotation = ortho_group.rvs(self.d, random_state=int(rotation))
        scales = np.ones((2, self.d))
        scales[0, : self.s0] = 1 + self.delta
        scales[1, : self.s0] = 1 - self.delta
        self.data = GaussianMixture([1.0, -1.0], [0.5, 0.5], scales, self.rotation)
        self.network = TwoLayerNN(self.activation, self.data, self.trained)

    @property
    def isotropic(self) -> bool:
        """Whether ``s0 = d`` (the reduction is 1-D in ``r = ‖w‖``)."""
        return self.s0 == self.d

    def parameters(self) -> dict:  # the contract's docstring
        return {
            "d": self.d,
            "s0": self.s0,
            "delta": self.delta,
            "activation": self.activation.name,
            "activation_params": self.activation.params.tolist(),
            "trained": self.trained,
            "rotated": self.rotation is not None,
        }

    def settings(self) -> dict:  # the contract's docstring
        return {**super().settings(), "s0": self.s0, "delta": self.delta}

    def default_start(self):
        """``Unif[0.3, 0.7]`` on each radial axis (``r``, or ``r1`` and ``r2``).

        Returns
        -------
        callable
            A picklable sampler ``(n, rng) ↦ (n, 1 or 2)``.
        """
        return uniform_start(dim=1 if self.isotropic else 2)

    # ---- the network ------------------------------------------------------------------------
    def _weights_in_basis(self, theta: np.ndarray) -> np.ndarray:
        w = np.asarray(theta, float)[:, len(self.head) :]
        return w @ self.rotation if self.rotation is not None else w

    def reduced_coordinates(self, theta: np.ndarray) -> dict:
        # Reduced coordinates of each neuron.
        theta = np.asarray(theta, float)
        out = {name: theta[:, k] for k, name in enumerate(self.head)}
        w = self._weights_in_basis(theta)
        if self.isotropic:
            out["r"] = np.linalg.norm(w, axis=1)
        else:
            out["r1"] = np.linalg.norm(w[:, : self.s0], axis=1)
            out["r2"] = np.linalg.norm(w[:, self.s0 :], axis=1)
        return out

    def collective_coordinates(self, theta: np.ndarray) -> dict[str, float]:
        """The network's collective scalars, measured on its weights.

        Parameters
        ----------
        theta : ndarray, shape (N, D)
            Weights (head columns first).

        Returns
        -------
        dict of str -> float
            ``u2 = ‖mean_j P w_j‖²``, ``v2 = ‖mean_j P⊥ w_j‖²`` (not for isotropic data) and
            ``pair_correlation`` ``C = mean_{i≠j}⟨v_i, v_j⟩ / mean_i ‖v_i‖²`` of the
            uninformative parts (of ``w`` itself when isotropic).
        """
        def parts(th):
            w = self._weights_in_basis(th)
            return {"u2": w[:, : self.s0]} if self.isotropic else {
                "u2": w[:, : self.s0], "v2": w[:, self.s0 :]}  # fmt: skip

        correlated = "u2" if self.isotropic else "v2"
        return mean_weight_statistics(theta, len(self.head) + self.d, parts, correlated)

    def full_weights(self, points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # Weights drawn from ``ρ̄ × Unif(spheres)`` given reduced points.
        points = np.atleast_2d(np.asarray(points, float))
        n, h = points.shape[0], len(self.head)

        def sphere(k):
            u = rng.standard_normal((n, k))
            return u / np.linalg.norm(u, axis=1, keepdims=True)

        if self.isotropic:
            w = points[:, h, None] * sphere(self.d)
        else:
            w = np.concatenate(
                [
                    points[:, h, None] * sphere(self.s0),
                    points[:, h + 1, None] * sphere(self.d - self.s0),
                ],
                axis=1,
            )
        if self.rotation is not None:
            w = w @ self.rotation.T
        return np.concatenate([points[:, :h], w], axis=1)

    def initial_reduced(self, n: int, initial_scale: float, rng: np.random.Generator) -> np.ndarray:
        # Reduced points with the exact law of ``w ~ N(0, κ² I/d)`` (``a = 1``, ``b = 0``).
        kappa = check_positive("initial_scale", initial_scale)
        head = neutral_head(n, len(self.head))
        radii = [kappa * np.sqrt(rng.chisquare(self.s0, n) / self.d)]
        if not self.isotropic:
            radii.append(kappa * np.sqrt(rng.chisquare(self.d - self.s0, n) / self.d))
        return np.column_stack([*head, *radii])

    def population_risk(self, theta: np.ndarray) -> float:
        # Exact ``R_N(θ) = E (y − f(x; θ))²`` of a finite network (:class:`TwoLayerNN`).
        return self.network.population_risk(theta)

    def reduced(self, beta: float = np.inf, mehler_order: int = 0) -> ReducedAnisotropic:
        """The reduced problem on ``(a, b, r1, r2)`` (present coordinates only).

        Parameters
        ----------
        beta : float
            Inverse temperature of noisy SGD (``inf``: noiseless).
        mehler_order : {0, 2, 4}
            0: ``d → ∞``; 2 and 4 add the finite-``d`` Mehler terms.

        Returns
        -------
        ReducedAnisotropic
            The reduced free energy and its helpers.
        """
        return ReducedAnisotropic(self, beta, mehler_order)


class ReducedAnisotropic(AnisotropicCollective, ReducedProblem):
    """Reduced free energy of :class:`AnisotropicGaussians` on ``(a, b, r1, r2)``.

    Parameters
    ----------
    problem : AnisotropicGaussians
        The full-dimensional problem.
    beta : float
        Inverse temperature of noisy SGD (``inf``: noiseless); adds the entropy and the radial
        drift of the Laplacian.
    mehler_order : {0, 2, 4}
        Order of the finite-``d`` Mehler correction of the interaction.
    """

    def __init__(
        self, problem: AnisotropicGaussians, beta: float = np.inf, mehler_order: int = 0
    ) -> None:
        self.problem = problem
        self.beta = check_real("beta", beta, low=0.0, low_open=True, allow_inf=True)
        self.mehler_order = check_choice("mehler_order", mehler_order, MEHLER_ORDERS)
        self.radial_axes = ("r",) if problem.isotropic else ("r1", "r2")
        self.axes = (*problem.head, *self.radial_axes)
        self.dim = len(self.axes)

    # ---- coordinates -------------------------------------------------------------------------
    def split(self, points: np.ndarray):
        """``(a, b, r1, r2)`` arrays from reduced points.

        Coordinates the problem does not have are ``a = 1``, ``b = 0``, ``r2 = 0``.

        Parameters
        ----------
        points : ndarray, shape (..., D̄)
            Reduced points (columns as :attr:`axes`).

        Returns
        -------
        tuple of ndarray, shape (...)
            ``a``, ``b``, ``r1``, ``r2``.
        """
        points = np.asarray(points, float)
        h = len(self.problem.head)
        a = points[..., 0] if h >= 1 else np.ones(points.shape[:-1])
        b = points[..., 1] if h == 2 else np.zeros(points.shape[:-1])
        r1 = points[..., h]
        r2 = points[..., h + 1] if len(self.radial_axes) == 2 else np.zeros_like(r1)
        return a, b, r1, r2

    def variances(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``q±`` at points of shape ``(..., D̄)``.

        Parameters
        ----------
        points : ndarray, shape (..., D̄)
            Reduced points (columns as :attr:`axes`).

        Returns
        -------
        tuple of ndarray, shape (...)
            ``q+``, ``q−``.
        """
        _, _, r1, r2 = self.split(points)
        delta = self.problem.delta
        return (1 + delta) ** 2 * r1**2 + r2**2, (1 - delta) ** 2 * r1**2 + r2**2

    # ---- separable interaction ---------------------------------------------------------------
    def _overlap_terms(self) -> list[tuple[float, int, int, int]]:
        """Mehler terms ``(coefficient, k, power of r1, power of r2)`` after averaging ``c^k``
        over the overlaps; each side carries ``(1±Δ)^{p1} r1^{p1} r2^{p2}``."""
        s0, rest = self.problem.s0, self.problem.d - self.problem.s0

        def moment2(k):
            return 1.0 / k

        def moment4(k):
            return 3.0 / (k * (k + 2))

        terms = [(1.0, 0, 0, 0)]
        if self.mehler_order >= 2:
            terms.append((moment2(s0) / 2, 2, 2, 0))
            if rest:
                terms.append((moment2(rest) / 2, 2, 0, 2))
        if self.mehler_order >= 4:
            terms.append((moment4(s0) / 24, 4, 4, 0))
            if rest:
                terms.append((6 * moment2(s0) * moment2(rest) / 24, 4, 2, 2))
                terms.append((moment4(rest) / 24, 4, 0, 4))
        return terms

    def features(self, points: np.ndarray) -> np.ndarray:
        """Separable features ``φ_k`` with ``U = Σ_k c_k φ_k φ_k′``.

        The first two are ``a m(q±, b)``.

        Parameters
        ----------
        points : ndarray, shape (..., D̄)
            Reduced points (columns as :attr:`axes`).

        Returns
        -------
        ndarray, shape (..., K)
            ``φ_k`` at the points.
        """
        a, b, r1, r2 = self.split(points)
        qs = self.variances(points)
        act, delta = self.problem.activation, self.problem.delta
        out = []
        for _, k, p1, p2 in self._overlap_terms():
            for sign, q in zip((1, -1), qs, strict=True):
                scale = (1 + sign * delta) ** p1  # c^k = ((1±Δ)² r1 r1′ γ1 + …)^k, split per side
                out.append(a * scale * r1**p1 * r2**p2 * hermite_moment(act, q, k, b))
        return np.stack(out, axis=-1)

    @property
    def coefficients(self) -> np.ndarray:
        """The ``c_k`` of the separable interaction, shape ``(K,)``."""
        return np.repeat([0.5 * c for c, *_ in self._overlap_terms()], 2)

    def feature_gradients(self, points: np.ndarray, h: float = 1e-6) -> np.ndarray:
        """``∇ φ_k``, shape ``(..., K, D̄)`` (central differences, error ~1e-9).

        Parameters
        ----------
        points : ndarray, shape (..., D̄)
            Reduced points (columns as :attr:`axes`).
        h : float
            Central-difference step.

        Returns
        -------
        ndarray, shape (..., K, D̄)
            ``∇φ_k`` (central differences, error ~1e-9).
        """
        return _central_gradient(self.features, points, h)

    def finite_d_kernel(self, points1: np.ndarray, points2: np.ndarray, nodes: int = 24):
        """Exact direction-averaged ``ū(r, r′)`` at finite ``d``.

        Gauss–Jacobi quadrature over the overlaps (``nodes`` per overlap; exact for ``s0 = 1``
        where ``γ1 = ±1``).

        Parameters
        ----------
        points1 : ndarray, shape (..., D̄)
            First points.
        points2 : ndarray, shape (..., D̄)
            Second points (broadcast against the first).
        nodes : int
            Quadrature nodes per overlap.

        Returns
        -------
        ndarray, shape (...)
            ``ū``.
        """
        p = self.problem
        a1, b1, r11, r21 = self.split(points1)
        a2, b2, r12, r22 = self.split(points2)
        g1, w1 = _overlap_rule(p.s0, nodes)
        g2, w2 = (np.zeros(1), np.ones(1)) if p.isotropic else _overlap_rule(p.d - p.s0, nodes)
        q1s, q2s = self.variances(points1), self.variances(points2)
        total = 0.0
        for sign, q1, q2 in zip((1, -1), q1s, q2s, strict=True):
            big = (1 + sign * p.delta) ** 2 * r11 * r12
            small = r21 * r22
            cov = big[..., None, None] * g1[:, None] + small[..., None, None] * g2[None, :]
            mom = pair_moments(
                p.activation,
                b1[..., None, None],
                q1[..., None, None],
                b2[..., None, None],
                q2[..., None, None],
                cov,
            )["value"]
            total = total + 0.5 * np.einsum("...ij,i,j->...", mom, w1, w2)
        return a1 * a2 * total

    # ---- energy --------------------------------------------------------------------------------
    def potential_values(self, points: np.ndarray, drift: bool = True) -> np.ndarray:
        """``V = −½ a (m(q+, b) − m(q−, b))``, plus the radial-drift potential when ``β < ∞``.

        Parameters
        ----------
        points : ndarray, shape (..., D̄)
            Reduced points (columns as :attr:`axes`).
        drift : bool
            Include the radial-drift potential (noisy case).

        Returns
        -------
        ndarray, shape (...)
            ``V``.
        """
        a, b, _, _ = self.split(points)
        qp, qm = self.variances(points)
        act = self.problem.activation
        v = -0.5 * a * (hermite_moment(act, qp, 0, b) - hermite_moment(act, qm, 0, b))
        return v + self.jacobian_potential(points) if drift and np.isfinite(self.beta) else v

    def jacobian_potential(self, points: np.ndarray) -> np.ndarray:
        """``−β⁻¹[(s0−1) log r1 + (d−s0−1) log r2]`` (0 when ``β = ∞``).

        Parameters
        ----------
        points : ndarray, shape (..., D̄)
            Reduced points (columns as :attr:`axes`).

        Returns
        -------
        ndarray, shape (...)
            The radial-drift potential of the noisy case.
        """
        _, _, r1, r2 = self.split(points)
        if not np.isfinite(self.beta):
            return np.zeros_like(r1)
        with np.errstate(divide="ignore"):
            log_jacobian = sum(
                c * np.log(r) for c, r in zip(self.jacobian_powers, (r1, r2), strict=False)
            )
        return -log_jacobian / self.beta

    def jacobian_gradient(self, points: np.ndarray) -> np.ndarray:
        """The exact gradient ``−β⁻¹(k−1)/r`` of :meth:`jacobian_potential`.

        Parameters
        ----------
        points : ndarray, shape (..., D̄)
            Reduced points (columns as :attr:`axes`).

        Returns
        -------
        ndarray, shape (..., D̄)
            Zero on the head axes (and everywhere when ``β = ∞``).
        """
        points = np.asarray(points, float)
        g = np.zeros_like(points)
        if np.isfinite(self.beta):
            start = len(self.problem.head)
            for k, c in enumerate(self.jacobian_powers):
                g[..., start + k] -= c / (self.beta * points[..., start + k])
        return g

    @property
    def jacobian_powers(self) -> list[int]:
        """Exponents of the Jacobian ``r1^{s0−1} r2^{d−s0−1}`` (``r^{d−1}`` when isotropic)."""
        p = self.problem
        return [p.d - 1] if p.isotropic else [p.s0 - 1, p.d - p.s0 - 1]

    def potential_gradient(self, points: np.ndarray, h: float = 1e-6) -> np.ndarray:
        """``∇V`` (central differences) plus the exact radial drift ``−β⁻¹(k−1)/r``.

        Parameters
        ----------
        points : ndarray, shape (..., D̄)
            Reduced points (columns as :attr:`axes`).
        h : float
            Central-difference step.

        Returns
        -------
        ndarray, shape (..., D̄)
            ``∇V`` (central differences) plus the exact radial drift ``−β⁻¹(k−1)/r``.
        """
        points = np.asarray(points, float)
        g = _central_gradient(lambda x: self.potential_values(x, drift=False), points, h)
        return g + self.jacobian_gradient(points)

    @functools.cached_property
    def energy(self) -> FreeEnergy:
        """``E = ∫V dρ̄ + ½∫∫U dρ̄dρ̄ (+ β⁻¹∫ρ̄ log ρ̄)`` with ``U`` separable."""
        interaction = SeparableInteraction(
            self.features,
            self.coefficients,
            gradient=self.feature_gradients,
            name=f"Mehler order {self.mehler_order}: a m(q+) a' m(q+') + ...",
        )
        return FreeEnergy(
            potential=Potential(self.potential_values, gradient=self.potential_gradient, name="V"),
            interaction=interaction,
            internal=Entropy(self.beta) if np.isfinite(self.beta) else None,
            metadata={
                "problem": f"AnisotropicGaussians (reduced, Mehler order {self.mehler_order})",
                "problem_parameters": {
                    **self.problem.describe(),
                    "beta": self.beta,
                    "mehler_order": self.mehler_order,
                },
                "components": list(self.axes),
            },
        )

    # ---- finite step size ------------------------------------------------------------------------
    def step_size_drift(self, step_size: float) -> MeanFieldDrift:
        r"""The finite-step-size (``εd``) correction of the reduced dynamics, as a drift.

        Each SGD step moves ``w`` by ``ε (y − f) a σ′(⟨w,x⟩ + b) x``; its squared projection on
        the ``d − s0`` uninformative directions is ``ε² (y − f)² a² σ′² ‖P⊥x‖²`` with
        ``‖P⊥x‖² ≈ d − s0``, on the informative ones ``‖Px‖² ≈ s0 (1 ± Δ)²``. Per unit time
        ``t = kε``, in the limit ``N, d → ∞``, ``εd → c``, ``s0/d → γ`` (``f(x) → M±`` in class
        ``±``):

        .. math::
            \frac{d r_2^2}{dt} \mathrel{+}= c(1-\gamma)\,\tfrac12\sum_\pm (y_\pm - M_\pm)^2 a^2
            D(q_\pm, b), \qquad
            \frac{d r_1^2}{dt} \mathrel{+}= c\gamma\,\tfrac12\sum_\pm (1\pm\Delta)^2
            (y_\pm - M_\pm)^2 a^2 D(q_\pm, b),

        ``D(q, b) = E σ′(b + √q G)²`` (relu: ``Φ(b/√q)``), i.e. the velocities
        ``b_{r_k} = (d r_k²/dt)/(2 r_k)`` (isotropic data: one ``r`` with ``γ = 1``). ``a`` and
        ``b`` get no correction (their squared increments are ``O(ε)`` per unit time); the
        fluctuations of ``r_k²`` (``O(ε)`` per unit time) and the ``O(1/d)`` spread of
        ``‖P⊥x‖²`` and of ``f(x)`` around ``M±`` are dropped. This is each neuron's own share:
        the collective mode (the network's mean uninformative weight, ``O(εd)`` and independent
        of ``N``, driven by the input all neurons share) is not included, so SGD's ``r2`` stays
        below this model's. See ``docs/conventions.rst``, "Finite step size".

        Parameters
        ----------
        step_size : float
            SGD's ``ε`` (the correction uses ``c = ε d``).

        Returns
        -------
        MeanFieldDrift
            Velocity on the reduced axes; moments ``M± = ∫ a m(q±, b) dρ̄``.
        """
        from wgflow.validation import check_positive as _positive

        eps = _positive("step_size", step_size)
        p = self.problem
        c = eps * p.d
        gamma = 1.0 if p.isotropic else p.s0 / p.d
        labels = (1.0, -1.0)
        start = len(p.head)
        radial = list(range(start, start + len(self.radial_axes)))
        act, delta = p.activation, p.delta

        def features(points):
            return self.features(points)[..., :2]

        def velocity(points, moments):
            a, b, r1, r2 = self.split(points)
            qs = self.variances(points)
            pull = [
                (y - m) ** 2 * a**2 * squared_derivative_expectation(act, b, np.sqrt(q))
                for y, m, q in zip(labels, moments, qs, strict=True)
            ]
            out = np.zeros_like(np.asarray(points, float))
            informative = 0.5 * sum(
                (1 + s * delta) ** 2 * term for s, term in zip((1, -1), pull, strict=True)
            )
            with np.errstate(divide="ignore"):
                out[..., radial[0]] = np.where(r1 > 0, c * gamma * informative / (2 * r1), 0.0)
                if len(radial) == 2:
                    rest = 0.5 * sum(pull)
                    out[..., radial[1]] = np.where(
                        r2 > 0, c * (1 - gamma) * rest / (2 * r2), 0.0
                    )
            return out

        return MeanFieldDrift(
            velocity,
            features=features,
            name="finite step size (εd)",
            parameters={"kind": "step-size", "epsilon": eps, "c": c},
        )

    # ---- grids and risk ------------------------------------------------------------------------
    def grid(self, cells, r_max: float = 3.0, a_range=(-2.0, 4.0), b_range=(-2.0, 2.0)) -> Grid:
        """Cell-centred grid over ``a_range × b_range × [0, r_max]^{1 or 2}`` (present axes).

        Parameters
        ----------
        cells : int or sequence of int
            Cells per axis.
        r_max : float
            Upper end of the radial axes.
        a_range : (float, float)
            Range of ``a`` (when trained).
        b_range : (float, float)
            Range of ``b`` (when trained).

        Returns
        -------
        Grid
            The grid.
        """
        r_max = check_positive("r_max", r_max)
        bounds = [a_range, b_range][: len(self.problem.head)]
        bounds += [(0.0, r_max)] * len(self.radial_axes)
        return Grid.box(bounds, cells, axes=self.axes)

    def initial_density(self, grid: Grid, mean, std: float) -> np.ndarray:
        """Normalized Gaussian bump at ``mean`` (shape ``(D̄,)``) of width ``std``.

        Parameters
        ----------
        grid : Grid
            A grid from :meth:`grid`.
        mean : array_like, shape (D̄,)
            Centre of the bump.
        std : float
            Its width.

        Returns
        -------
        ndarray, shape grid.shape
            Cell averages of mass 1.
        """
        mean = np.atleast_1d(np.asarray(mean, float))
        x = grid.points()
        rho = np.exp(-0.5 * np.sum((x - mean) ** 2, axis=-1) / std**2)
        return rho / grid.integrate(rho)

    def _risk_from_moments(self, mean_v: float, moments: np.ndarray) -> float:
        return float(1.0 + 2.0 * mean_v + self.coefficients @ moments**2)

    def moments(self, grid: Grid, density: np.ndarray) -> np.ndarray:
        """``∫ φ_k dρ̄`` (the first two are ``M± = ∫ a m(q±, b) dρ̄``).

        Parameters
        ----------
        grid : Grid
            A grid from :meth:`grid`.
        density : ndarray, shape grid.shape
            Cell averages.

        Returns
        -------
        ndarray, shape (K,)
            ``∫φ_k dρ̄`` (the first two are ``M± = ∫ a m(q±, b) dρ̄``).
        """
        return self.moment_curve(grid, [density])[0]

    def moment_curve(self, grid: Grid, densities) -> np.ndarray:
        """``∫ φ_k dρ̄`` for each density (the features are evaluated on the grid once).

        Parameters
        ----------
        grid : Grid
            A grid from :meth:`grid`.
        densities : sequence of ndarray, shape (T, *grid.shape)
            Cell averages over time.

        Returns
        -------
        ndarray, shape (T, K)
            The moments over time.
        """
        phi = np.moveaxis(self.features(grid.points()), -1, 0)
        return np.array([grid.integrate(phi * rho) for rho in densities])

    def risk_curve(self, grid: Grid, densities) -> np.ndarray:
        # :meth:`risk` of each density (``V`` and the features are evaluated once).
        v = self.potential_values(grid.points(), drift=False)
        moments = self.moment_curve(grid, densities)
        return np.array(
            [
                self._risk_from_moments(grid.integrate(v * rho), m)
                for rho, m in zip(densities, moments, strict=True)
            ]
        )

    def particle_risk(self, points: np.ndarray) -> float:
        # ``R`` of the empirical measure of reduced points.
        points = check_points("points", points, self.dim)
        mean_v = float(np.mean(self.potential_values(points, drift=False)))
        return self._risk_from_moments(mean_v, self.features(points).mean(axis=0))


def _central_gradient(func, points, h: float) -> np.ndarray:
    """``∇f`` by central differences along each coordinate: ``f`` maps ``(..., D)`` to
    ``(..., *S)``; returns ``(..., *S, D)``."""
    points = np.asarray(points, float)
    out = []
    for k in range(points.shape[-1]):
        e = np.zeros(points.shape[-1])
        e[k] = h
        out.append((func(points + e) - func(points - e)) / (2 * h))
    return np.stack(out, axis=-1)


def _overlap_rule(k: int, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and probability weights for ``γ = ⟨u, u′⟩``, ``u, u′`` uniform on ``S^{k−1}``."""
    if k == 1:
        return np.array([-1.0, 1.0]), np.array([0.5, 0.5])
    x, w = roots_jacobi(nodes, (k - 3) / 2, (k - 3) / 2)
    return x, w / w.sum()
