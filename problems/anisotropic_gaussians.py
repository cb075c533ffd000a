r"""Centered anisotropic Gaussians (Mei–Montanari–Nguyen 2018) and their reduced d → ∞ problem.

Data: ``y = ±1`` w.p. ½, ``x | y ~ N(0, Σ±)``, ``Σ± = Q diag((1±Δ)² I_{s0}, I_{d−s0}) Qᵀ``.
Network ``f(x; θ) = (1/N) Σ σ(⟨w_i, x⟩)`` (parameters ``w``). With ``r1 = ‖P w‖``,
``r2 = ‖P⊥ w‖`` (``P`` the projection on the first ``s0`` axes of ``Q``),
``⟨w, x⟩ | y = ±1 ~ N(0, q±)`` with ``q± = (1±Δ)² r1² + r2²``, so with ``m(q) = E σ(√q G)``:

.. math::
    V(r) = -\tfrac12\,(m(q_+) - m(q_-)), \qquad
    U(r, r') \to \tfrac12\,(m(q_+) m(q_+') + m(q_-) m(q_-')) \quad (d \to \infty),

since the overlaps of independent uniform directions vanish as ``d → ∞``: ``U`` is a rank-two
separable interaction. The risk is ``R = ½[(1 − M+)² + (1 + M−)²]``, ``M± = ∫ m(q±) dρ̄``.

Noise: for a law on ``R^d`` that is rotation invariant in both subspaces, the Laplacian of
``f(r1, r2)`` is ``∂²_{r1} f + (s0−1)/r1 ∂_{r1} f + ∂²_{r2} f + (d−s0−1)/r2 ∂_{r2} f``. Writing
the Fokker–Planck equation ``∂t ρ = ∇·(ρ∇Ψ) + β⁻¹Δρ`` for the law ``ρ̄`` of ``(r1, r2)`` (the
Jacobian ``r1^{s0−1} r2^{d−s0−1}`` moves into the drift) gives
``∂t ρ̄ = ∇·(ρ̄ ∇Ψ) + β⁻¹ Δρ̄ − β⁻¹ ∇·(ρ̄ b)``, ``b = ((s0−1)/r1, (d−s0−1)/r2)``: the gradient flow
of the reduced energy with the extra potential ``−β⁻¹[(s0−1) log r1 + (d−s0−1) log r2]``.
Isotropic data (``s0 = d``) reduce to one coordinate ``r = ‖w‖`` with ``q± = (1±Δ)² r²`` and
the extra potential ``−β⁻¹ (d−1) log r``.
"""

from __future__ import annotations

import numpy as np

from wgflow.energy import Entropy, FreeEnergy, Potential
from wgflow.grid import Grid
from wgflow.interactions import SeparableInteraction
from wgflow.networks import Activation, GaussianMixture, NetworkModel
from wgflow.validation import check_positive, check_real, strict_keywords

from .gaussian_expectations import arccos_kernel, m


class AnisotropicGaussians:
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
    rotation : int or ndarray, optional
        ``None``: ``Q = I``; an integer seeds a random orthogonal ``Q``; or ``Q`` itself.
    """

    @strict_keywords
    def __init__(self, d: int, s0: int, delta: float, activation="relu", rotation=None) -> None:
        if not isinstance(d, int | np.integer) or d < 2:
            raise ValueError(f"d: need an integer ≥ 2, got {d!r}")
        if not isinstance(s0, int | np.integer) or not 1 <= s0 <= d:
            raise ValueError(f"s0: need an integer in [1, d={d}], got {s0!r}")
        self.d, self.s0 = int(d), int(s0)
        self.delta = check_real("delta", delta, low=0.0, high=1.0, high_open=True)
        self.activation = Activation.named(activation)
        if rotation is None or isinstance(rotation, np.ndarray):
            self.rotation = rotation
        else:
            from scipy.stats import ortho_group

            self.rotation = ortho_group.rvs(self.d, random_state=int(rotation))
        scales = np.ones((2, self.d))
        scales[0, : self.s0] = 1 + self.delta
        scales[1, : self.s0] = 1 - self.delta
        self.data = GaussianMixture([1.0, -1.0], [0.5, 0.5], scales, self.rotation)

    @property
    def isotropic(self) -> bool:
        return self.s0 == self.d

    def parameters(self) -> dict:
        return {
            "d": self.d,
            "s0": self.s0,
            "delta": self.delta,
            "activation": self.activation.name,
            "activation_params": self.activation.params.tolist(),
            "rotated": self.rotation is not None,
        }

    # ---- the network ------------------------------------------------------------------------
    def reduced_coordinates(self, theta: np.ndarray) -> dict:
        """``r1 = ‖P w‖``, ``r2 = ‖P⊥ w‖`` (``r`` only when isotropic) for weights ``(N, d)``."""
        w = np.asarray(theta, float)
        if self.rotation is not None:
            w = w @ self.rotation
        if self.isotropic:
            return {"r": np.linalg.norm(w, axis=1)}
        return {
            "r1": np.linalg.norm(w[:, : self.s0], axis=1),
            "r2": np.linalg.norm(w[:, self.s0 :], axis=1),
        }

    def population_risk(self, theta: np.ndarray) -> float:
        """Exact ``R_N(θ) = E (y − f(x; θ))²`` of a finite network (relu: arc-cosine kernel)."""
        if self.activation.name != "relu":
            raise ValueError("activation: exact finite-N risk is implemented for relu only")
        w = np.asarray(theta, float)
        if self.rotation is not None:
            w = w @ self.rotation
        n = w.shape[0]
        risk = 1.0
        for sign, label in ((1.0, 1.0), (-1.0, -1.0)):
            scale = np.ones(self.d)
            scale[: self.s0] = 1 + sign * self.delta
            ws = w * scale  # Σ^{1/2} w
            gram = ws @ ws.T
            q = np.diag(gram)
            mean = float(np.mean(m(self.activation, q)))
            second = float(np.sum(arccos_kernel(q[:, None], q[None, :], gram))) / n**2
            risk += 0.5 * (-2 * label * mean + second)
        return risk

    def model(self, initial_scale: float = 1.0) -> NetworkModel:
        """SGD model with ``w ~ N(0, κ² I/d)`` (``κ = initial_scale``), exact risk for relu."""
        kappa = check_positive("initial_scale", initial_scale)

        def initial(n, rng):
            return kappa * rng.standard_normal((n, self.d)) / np.sqrt(self.d)

        return NetworkModel(
            self.data,
            self.activation,
            "w",
            population_risk=self.population_risk if self.activation.name == "relu" else None,
            reduced_coordinates=self.reduced_coordinates,
            initial_weights=initial,
            name="anisotropic Gaussians",
            metadata={"problem": "AnisotropicGaussians", "problem_parameters": self.parameters()},
        )

    def reduced(self, beta: float = np.inf) -> ReducedAnisotropic:
        """The ``d → ∞`` reduced problem on ``(r1, r2)`` (or ``r``), inverse temperature ``β``."""
        return ReducedAnisotropic(self, beta)


class ReducedAnisotropic:
    """Reduced free energy of :class:`AnisotropicGaussians` on ``[0, r_max]^{1 or 2}``."""

    def __init__(self, problem: AnisotropicGaussians, beta: float = np.inf) -> None:
        self.problem = problem
        self.beta = check_real("beta", beta, low=0.0, low_open=True)
        self.dim = 1 if problem.isotropic else 2
        self.axes = ("r",) if self.dim == 1 else ("r1", "r2")

    def variances(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``q±`` at points of shape ``(..., dim)``."""
        delta = self.problem.delta
        r1 = points[..., 0]
        r2 = np.zeros_like(r1) if self.dim == 1 else points[..., 1]
        return (1 + delta) ** 2 * r1**2 + r2**2, (1 - delta) ** 2 * r1**2 + r2**2

    def features(self, points: np.ndarray) -> np.ndarray:
        """``(m(q+), m(q−))``, shape ``(..., 2)``."""
        qp, qm = self.variances(points)
        act = self.problem.activation
        return np.stack([m(act, qp), m(act, qm)], axis=-1)

    def feature_gradients(self, points: np.ndarray, h: float = 1e-6) -> np.ndarray:
        """``∇_r m(q±)``, shape ``(..., 2, dim)`` (central differences in ``r``)."""
        out = []
        for k in range(self.dim):
            e = np.zeros(self.dim)
            e[k] = h
            out.append((self.features(points + e) - self.features(points - e)) / (2 * h))
        return np.stack(out, axis=-1)

    def potential_values(self, points: np.ndarray) -> np.ndarray:
        """``V = −½(m(q+) − m(q−))`` plus the radial-drift term when ``β < ∞``."""
        f = self.features(points)
        v = -0.5 * (f[..., 0] - f[..., 1])
        if np.isfinite(self.beta):
            p = self.problem
            with np.errstate(divide="ignore"):
                if self.dim == 1:
                    v = v - (p.d - 1) / self.beta * np.log(points[..., 0])
                else:
                    v = (
                        v
                        - (
                            (p.s0 - 1) * np.log(points[..., 0])
                            + (p.d - p.s0 - 1) * np.log(points[..., 1])
                        )
                        / self.beta
                    )
        return v

    @property
    def energy(self) -> FreeEnergy:
        """``E = ∫V dρ̄ + ½∫∫U dρ̄dρ̄ (+ β⁻¹∫ρ̄ log ρ̄)`` with ``U`` separable of rank two."""

        def gradient(points):
            grads = self.feature_gradients(points)
            g = -0.5 * (grads[..., 0, :] - grads[..., 1, :])
            if np.isfinite(self.beta):  # radial drift of the Laplacian
                p = self.problem
                counts = [p.d - 1] if self.dim == 1 else [p.s0 - 1, p.d - p.s0 - 1]
                g = g - np.stack([c / points[..., k] for k, c in enumerate(counts)], -1) / self.beta
            return g

        interaction = SeparableInteraction(
            self.features, [0.5, 0.5], gradient=self.feature_gradients, name="m(q+)m(q+') + ..."
        )
        internal = Entropy(self.beta) if np.isfinite(self.beta) else None
        return FreeEnergy(
            potential=Potential(self.potential_values, gradient=gradient, name="V"),
            interaction=interaction,
            internal=internal,
            metadata={
                "problem": "AnisotropicGaussians (reduced, d → ∞)",
                "problem_parameters": {**self.problem.parameters(), "beta": self.beta},
                "components": list(self.axes),
            },
        )

    def grid(self, cells: int, r_max: float = 3.0) -> Grid:
        """Cell-centred grid on ``[0, r_max]^{dim}`` with axes ``r`` or ``r1, r2``."""
        return Grid.box([(0.0, check_positive("r_max", r_max))] * self.dim, cells, axes=self.axes)

    def initial_density(self, grid: Grid, mean, std: float) -> np.ndarray:
        """Normalized Gaussian bump at ``mean`` (shape ``(dim,)``) of width ``std``."""
        mean = np.atleast_1d(np.asarray(mean, float))
        x = grid.points()
        rho = np.exp(-0.5 * np.sum((x - mean) ** 2, axis=-1) / std**2)
        return rho / grid.integrate(rho)

    def moments(self, grid: Grid, density: np.ndarray) -> np.ndarray:
        """``(M+, M−) = ∫ m(q±) dρ̄``."""
        return grid.integrate(np.moveaxis(self.features(grid.points()), -1, 0) * density)

    def risk(self, grid: Grid, density: np.ndarray) -> float:
        """``R(ρ̄) = ½[(1 − M+)² + (1 + M−)²]`` (``d → ∞``)."""
        mp, mm = self.moments(grid, density)
        return float(0.5 * ((1 - mp) ** 2 + (1 + mm) ** 2))
