r"""Two-layer networks on Gaussian-mixture data: exact ``V``, ``U``, risk and their gradients.

Network ``f(x; θ) = (1/N) Σ_i σ*(x; θ_i)`` with ``σ*(x; θ) = a σ(⟨w, x⟩ + b)`` (parameter sets
``"w"``, ``"aw"``, ``"abw"``; absent ``a = 1``, ``b = 0``; see :mod:`wgflow.networks`). Data:
``y = y_k`` w.p. ``p_k`` and ``x | k ~ N(0, Σ_k)``, ``Σ_k = Q S_k² Qᵀ``. Given the class,
``(⟨w, x⟩, ⟨w′, x⟩)`` is centred Gaussian with variances ``q_k = |S_k Qᵀ w|²``,
``q_k′`` and covariance ``c_k = ⟨S_k Qᵀ w, S_k Qᵀ w′⟩``, so

.. math::
    V(θ) = -\sum_k p_k y_k\, a\, E σ(b + \sqrt{q_k} G), \qquad
    U(θ, θ') = \sum_k p_k\, a a'\, E σ(b + u) σ(b' + v),

    R_N(θ) = E y^2 + \frac2N \sum_i V(θ_i) + \frac1{N^2}\sum_{i,j} U(θ_i, θ_j).

The one-dimensional expectations are closed form for piecewise-linear σ (relu, truncated relu,
ramps) and Gauss–Hermite for smooth σ; the pair expectation is the arc-cosine kernel for relu
without bias, truncated bivariate-normal moments (Owen's T) for the other piecewise-linear σ
(relu with a bias included) and the split quadrature of
:func:`~wgflow.problems.gaussian_expectations.pair_moments` for smooth σ. The exact risk
``R_N`` sums each pair once (values only,
:func:`~wgflow.problems.gaussian_expectations.pair_values`): about 0.2 s (relu), 0.5 s (relu
with bias), 2 s (ramp, truncated relu) and 5 s (the non-monotone activation) at ``N = 800``,
``d = 320`` on one core; for tanh and sigmoid it is quadrature, ~7 s already at ``N = 50``.
Gradients use ``∂_q E σ(b + √q G) = ½ E σ″``, ``∂_c E σσ′ = E σ′σ′`` (Price's theorem) and the
chain rule ``∂q_k/∂w = 2 Q S_k² Qᵀ w``, ``∂c_k/∂w = Q S_k² Qᵀ w′``.

References: Mei, Montanari & Nguyen, PNAS 115 (2018) E7665 (arXiv 1804.06561);
Mei, Misiakiewicz & Montanari, COLT 2019 (arXiv 1902.06015).
"""

from __future__ import annotations

import numpy as np

from wgflow.energy import Entropy, FreeEnergy, Potential
from wgflow.errors import ParameterError
from wgflow.interactions import GeneralInteraction
from wgflow.networks import (
    NAMED_PIECEWISE,
    Activation,
    GaussianMixture,
    NetworkModel,
    component_names,
)
from wgflow.problem import Problem
from wgflow.validation import check_choice, check_real, real_array, strict_keywords

from .gaussian_expectations import (
    activation_expectation,
    arccos_kernel,
    expectation_derivatives,
    pair_moments,
    pair_values,
)

__all__ = ["TwoLayerNN", "nonmonotone", "ramp"]


def ramp(t1: float = 0.5, t2: float = 1.5, s1: float = -2.5, s2: float = 7.5) -> Activation:
    """Bounded ramp of Mei–Montanari–Nguyen's Gaussian experiments.

    ``σ(t) = s1`` below ``t1``, ``s2`` above ``t2``, linear between (defaults: their
    ``(0.5, 1.5, −2.5, 7.5)``).

    Parameters
    ----------
    t1 : float
        Lower knot (finite, below ``t2``).
    t2 : float
        Upper knot (finite).
    s1 : float
        Value at and below ``t1``.
    s2 : float
        Value at and above ``t2``.

    Returns
    -------
    Activation
        The piecewise-linear activation with knots ``(t1, t2)`` and values ``(s1, s2)``.
    """
    return Activation.piecewise_linear((t1, t2), (s1, s2))


def nonmonotone(
    knots=NAMED_PIECEWISE["nonmonotone"][0], values=NAMED_PIECEWISE["nonmonotone"][1]
) -> Activation:
    """Bounded non-monotone piecewise-linear activation.

    Default: knots ``(−0.5, 0, 1, 1.3)``, values ``(−1.2, 1.2, −2.6, 2.8)``, constant outside.
    For isotropic data with ``Δ = 0.5`` the reduced risk of a point mass at ``r = ‖w‖`` then
    has a spurious local minimum (``r ≈ 0.18``, ``R ≈ 2.04``) separated by a barrier at
    ``r ≈ 0.31`` from the global one (``r ≈ 1.97``, ``R ≈ 0.48``): starts with ``κ = 0.1`` and
    ``κ = 0.4`` end in different minima, the phenomenon of Mei–Montanari–Nguyen's κ-figure.
    The exact parameters of their activation could not be retrieved here; this one (found by a
    search over piecewise-linear activations for that property) is wgflow's stand-in.

    Parameters
    ----------
    knots : sequence of float
        Finite, strictly increasing abscissae (at least two).
    values : sequence of float
        ``σ`` at the knots, as many as knots; must be non-monotone (``ValueError``
        otherwise).

    Returns
    -------
    Activation
        The piecewise-linear activation, constant outside the knots.
    """
    act = Activation.piecewise_linear(knots, values)
    if np.all(np.diff(act.values) >= 0) or np.all(np.diff(act.values) <= 0):
        raise ValueError(f"values: need a non-monotone sequence, got {act.values}")
    return act


class TwoLayerNN(Problem):
    """A two-layer network problem with exact population quantities.

    Parameters
    ----------
    activation : str or Activation
        ``relu``, ``truncated_relu``, ``sigmoid``, ``tanh``, ``ramp``, ``nonmonotone`` or any
        :class:`~wgflow.networks.Activation`.
    data : GaussianMixture
        The law of ``(x, y)``.
    trained : {"w", "aw", "abw"}
        Which parts of each neuron are trained (absent ``a = 1``, ``b = 0``).
    weight_decay : float
        ``λ ≥ 0``: adds ``λ|θ|²/2`` to ``V`` in :meth:`free_energy` (SGD's ``weight_decay``).
    """

    @strict_keywords
    def __init__(
        self,
        activation: str | Activation = "relu",
        data: GaussianMixture | None = None,
        trained: str = "w",
        weight_decay: float = 0.0,
    ) -> None:
        if not isinstance(data, GaussianMixture):
            raise ParameterError(f"data: need a GaussianMixture, got {type(data).__name__}")
        self.activation = Activation.named(activation)
        self.data = data
        #: the law of the inputs ``x`` (the pair moments of ``U`` depend on it only)
        self.inputs = data
        self.trained = check_choice("trained", trained, ("w", "aw", "abw"))
        self.weight_decay = check_real("weight_decay", weight_decay, low=0.0)
        self.has_a = trained in ("aw", "abw")
        self.has_b = trained == "abw"
        self.d = data.dim
        self.dim = self.d + self.has_a + self.has_b
        # per class: S_k (K, d); the data rotation is applied once to the weights
        self._scales = data.scales
        self._closed_form_pairs = self.activation.name == "relu" and not self.has_b

    # ---- parameters ------------------------------------------------------------------------
    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(a, b, w)`` from ``θ``, with ``w`` expressed in the basis of ``Q``.

        Parameters
        ----------
        theta : ndarray, shape (..., D)
            Neuron parameters (``a``, ``b`` when trained, then ``w``).

        Returns
        -------
        tuple of ndarray
            ``a (...)``, ``b (...)``, ``w (..., d)``.
        """
        theta = np.asarray(theta, float)
        if theta.shape[-1] != self.dim:
            raise ValueError(f"theta: need last axis of length D={self.dim}, got {theta.shape}")
        off = self.has_a + self.has_b
        a = theta[..., 0] if self.has_a else np.ones(theta.shape[:-1])
        b = theta[..., 1] if self.has_b else np.zeros(theta.shape[:-1])
        w = theta[..., off:]
        if self.inputs.rotation is not None:
            w = w @ self.inputs.rotation
        return a, b, w

    def _to_theta_gradient(self, ga, gb, gw) -> np.ndarray:
        if self.inputs.rotation is not None:
            gw = gw @ self.inputs.rotation.T
        head = [ga[..., None]] if self.has_a else []
        if self.has_b:
            head.append(gb[..., None])
        return np.concatenate([*head, gw], axis=-1)

    # ---- V ---------------------------------------------------------------------------------
    def potential(self, theta: np.ndarray) -> np.ndarray:
        """``V(θ) = −E y σ*(x; θ)``.

        Parameters
        ----------
        theta : ndarray, shape (..., D)
            Neuron parameters (``a``, ``b`` when trained, then ``w``).

        Returns
        -------
        ndarray, shape (...)
            ``V``.
        """
        a, b, w = self.split(theta)
        total = np.zeros(a.shape)
        for p, y, s in zip(self.data.probabilities, self.data.labels, self._scales, strict=True):
            std = np.sqrt(np.sum((w * s) ** 2, axis=-1))
            total -= p * y * a * activation_expectation(self.activation, b, std)
        return total

    def potential_gradient(self, theta: np.ndarray) -> np.ndarray:
        """``∇_θ V``.

        Parameters
        ----------
        theta : ndarray, shape (..., D)
            Neuron parameters (``a``, ``b`` when trained, then ``w``).

        Returns
        -------
        ndarray, shape (..., D)
            ``∇V``.
        """
        a, b, w = self.split(theta)
        ga, gb, gw = np.zeros(a.shape), np.zeros(a.shape), np.zeros(w.shape)
        for p, y, s in zip(self.data.probabilities, self.data.labels, self._scales, strict=True):
            std = np.sqrt(np.sum((w * s) ** 2, axis=-1))
            d1, d2 = expectation_derivatives(self.activation, b, std)
            ga -= p * y * activation_expectation(self.activation, b, std)
            gb -= p * y * a * d1
            gw -= (p * y * a * 2 * d2)[..., None] * w * s**2
        return self._to_theta_gradient(ga, gb, gw)

    # ---- U ---------------------------------------------------------------------------------
    def _class_pairs(self, b1, w1, b2, w2, s) -> dict:
        """Pair moments of one class for broadcast ``(…)`` pairs."""
        x1, x2 = w1 * s, w2 * s
        q1, q2 = np.sum(x1 * x1, -1), np.sum(x2 * x2, -1)
        return self._moments(b1, q1, b2, q2, np.sum(x1 * x2, -1))

    def _particle_pairs(self, b, w, s) -> dict:
        """Pair moments of one class for all particle pairs ``(N, N)``, via the Gram matrix."""
        x = w * s
        gram = x @ x.T
        q = np.diag(gram).copy()
        return self._moments(b[:, None], q[:, None], b[None, :], q[None, :], gram)

    def _moments(self, b1, q1, b2, q2, cov) -> dict:
        if self._closed_form_pairs:
            return _relu_pair_moments(q1, q2, cov)
        return pair_moments(self.activation, b1, q1, b2, q2, cov)

    def kernel(self, theta1: np.ndarray, theta2: np.ndarray) -> np.ndarray:
        """``U(θ, θ′) = E σ*(x; θ) σ*(x; θ′)``.

        Parameters
        ----------
        theta1 : ndarray, shape (..., D)
            First neurons.
        theta2 : ndarray, shape (..., D)
            Second neurons (broadcast against the first).

        Returns
        -------
        ndarray, shape (...)
            ``U``.
        """
        a1, b1, w1 = self.split(theta1)
        a2, b2, w2 = self.split(theta2)
        total = 0.0
        for p, s in zip(self.inputs.probabilities, self._scales, strict=True):
            total = total + p * self._class_pairs(b1, w1, b2, w2, s)["value"]
        return a1 * a2 * total

    def kernel_gradient(self, theta1: np.ndarray, theta2: np.ndarray) -> np.ndarray:
        """``∇_θ U(θ, θ′)`` (gradient in the first argument).

        Parameters
        ----------
        theta1 : ndarray, shape (..., D)
            First neurons.
        theta2 : ndarray, shape (..., D)
            Second neurons (broadcast against the first).

        Returns
        -------
        ndarray, shape (..., D)
            ``∇_θ U``.
        """
        a1, b1, w1 = self.split(theta1)
        a2, b2, w2 = self.split(theta2)
        shape = np.broadcast_shapes(a1.shape, a2.shape)
        ga, gb = np.zeros(shape), np.zeros(shape)
        gw = np.zeros((*shape, self.d))
        for p, s in zip(self.inputs.probabilities, self._scales, strict=True):
            mom = self._class_pairs(b1, w1, b2, w2, s)
            ga = ga + p * a2 * mom["value"]
            gb = gb + p * a1 * a2 * mom["d_mean1"]
            aa = (p * a1 * a2)[..., None]
            dq, dc = mom["d_q1"][..., None], mom["d_cov"][..., None]
            gw = gw + aa * (2 * dq * w1 + dc * w2) * s**2
        return self._to_theta_gradient(ga, gb, gw)

    def interaction_potential_gradient(self, theta: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """``Σ_j w_j ∇_θ U(θ_i, θ_j)`` by Gram matrices (no ``(N, N, D)`` arrays).

        Parameters
        ----------
        theta : ndarray, shape (N, D)
            A network's neurons.
        weights : ndarray, shape (N,)
            Particle weights.

        Returns
        -------
        ndarray, shape (N, D)
            The interaction force on each neuron.
        """
        a, b, w = self.split(theta)
        n = a.size
        ga, gb, gw = np.zeros(n), np.zeros(n), np.zeros((n, self.d))
        for p, s in zip(self.inputs.probabilities, self._scales, strict=True):
            mom = self._particle_pairs(b, w, s)
            coupling = p * weights[None, :] * a[None, :]  # (N, N) over j
            ga += np.sum(coupling * mom["value"], axis=1)
            gb += a * np.sum(coupling * mom["d_mean1"], axis=1)
            xs = w * s**2
            gw += a[:, None] * (
                2 * np.sum(coupling * mom["d_q1"], axis=1)[:, None] * xs
                + (coupling * mom["d_cov"]) @ xs
            )
        return self._to_theta_gradient(ga, gb, gw)

    def interaction_matrix(self, theta: np.ndarray) -> np.ndarray:
        """``U(θ_i, θ_j)`` without forming ``(N, N, D)`` arrays.

        Parameters
        ----------
        theta : ndarray, shape (N, D)
            A network's neurons.

        Returns
        -------
        ndarray, shape (N, N)
            ``U(θ_i, θ_j)``.
        """
        a, b, w = self.split(theta)
        total = np.zeros((a.size, a.size))
        for p, s in zip(self.inputs.probabilities, self._scales, strict=True):
            total += p * self._particle_pairs(b, w, s)["value"]
        return a[:, None] * a[None, :] * total

    # ---- risk ------------------------------------------------------------------------------
    @property
    def second_moment(self) -> float:
        """``E y²``."""
        return self.data.second_moment

    def population_risk(self, theta: np.ndarray) -> float:
        """Exact ``R_N(θ) = E (y − f(x; θ))²`` of a finite network (``O(N²)`` pair terms).

        Closed form for piecewise-linear σ, biases included (each pair ``i < j`` once, values
        only); quadrature to ~1e-14 for smooth σ (costly: ``O(N²)`` two-level rules).

        Parameters
        ----------
        theta : ndarray, shape (N, D)
            A network's neurons.

        Returns
        -------
        float
            ``R_N``.
        """
        theta = np.atleast_2d(np.asarray(theta, float))
        n = theta.shape[0]
        return float(
            self.second_moment
            + 2 * np.mean(self.potential(theta))
            + self._interaction_sum(theta) / n**2
        )

    def _interaction_sum(self, theta: np.ndarray) -> float:
        """``Σ_{i,j} U(θ_i, θ_j)`` from the values alone: each pair ``i < j`` once, doubled.

        Relu without bias: the arc-cosine kernel on the whole Gram matrix. Otherwise
        :func:`~wgflow.problems.gaussian_expectations.pair_values` (closed form for
        piecewise-linear σ, biases included) on the upper triangle and the diagonal.
        """
        if self._closed_form_pairs:
            return float(np.sum(self.interaction_matrix(theta)))
        a, b, w = self.split(theta)
        upper_i, upper_j = np.triu_indices(a.size, 1)
        chunk = 1 << 19  # pairs per call: bounds the temporaries (~40 arrays of this length)
        total = 0.0
        for p, s in zip(self.inputs.probabilities, self._scales, strict=True):
            x = w * s
            gram = x @ x.T
            q = np.diag(gram).copy()
            pairs = 0.0
            for start in range(0, upper_i.size, chunk):
                i, j = upper_i[start : start + chunk], upper_j[start : start + chunk]
                values = pair_values(self.activation, b[i], q[i], b[j], q[j], gram[i, j])
                pairs += np.sum(a[i] * a[j] * values)
            diagonal = pair_values(self.activation, b, q, b, q, q)
            total += p * (2 * pairs + np.sum(a * a * diagonal))
        return float(total)

    def risk_gradient(self, theta: np.ndarray) -> np.ndarray:
        """``∇_{θ_i} R_N = (2/N)[∇V(θ_i) + (1/N) Σ_j ∇_θ U(θ_i, θ_j)]``.

        Parameters
        ----------
        theta : ndarray, shape (N, D)
            A network's neurons.

        Returns
        -------
        ndarray, shape (N, D)
            ``∇R_N``.
        """
        theta = np.atleast_2d(np.asarray(theta, float))
        n = theta.shape[0]
        weights = np.full(n, 1.0 / n)
        return (2.0 / n) * (
            self.potential_gradient(theta) + self.interaction_potential_gradient(theta, weights)
        )

    @property
    def energy(self) -> FreeEnergy:
        """:meth:`free_energy` without noise (``β = ∞``): the gradient flow on the risk."""
        return self.free_energy()

    def free_energy(self, beta: float = np.inf) -> FreeEnergy:
        """The free energy ``E = ½(R − E y²) (+ λ∫|θ|²/2 dρ) + β⁻¹∫ρ log ρ``.

        Particle solvers on this energy run the gradient flow on the population risk
        (``dθ_i/dt = −∇V(θ_i) − (1/N) Σ_j ∇U(θ_i, θ_j)``, "PD" of Mei–Misiakiewicz–Montanari).

        Parameters
        ----------
        beta : float
            Inverse temperature (``inf``: no entropy).

        Returns
        -------
        FreeEnergy
            ``V`` and ``U`` with their gradients (``U`` a general interaction).
        """
        beta = check_real("beta", beta, low=0.0, low_open=True, allow_inf=True)
        lam = self.weight_decay

        def value(theta):
            theta = np.asarray(theta, float)
            return self.potential(theta) + 0.5 * lam * np.sum(theta**2, axis=-1)

        def gradient(theta):
            theta = np.asarray(theta, float)
            return self.potential_gradient(theta) + lam * theta

        interaction = GeneralInteraction(
            self.kernel,
            gradient=self.kernel_gradient,
            particle_gradient=self.interaction_potential_gradient,
            particle_kernel=self.interaction_matrix,
            name="U = E σ*σ*",
        )
        return FreeEnergy(
            potential=Potential(value, gradient=gradient, name="V = −E yσ*"),
            interaction=interaction,
            internal=Entropy(beta) if np.isfinite(beta) else None,
            metadata={
                "problem": type(self).__name__,
                "problem_parameters": {**self.parameters(), "beta": beta},
                "components": self.components,
            },
        )

    @property
    def components(self) -> list[str]:
        """Column names of ``θ``: ``a``, ``b`` (when trained), ``w0 … w{d-1}``."""
        return component_names(self.trained, self.d)

    def parameters(self) -> dict:
        """The problem's parameters (stored in archives).

        Returns
        -------
        dict
            Activation, parameters, weight decay and data.
        """
        return {
            "activation": self.activation.name,
            "activation_params": self.activation.params.tolist(),
            "trained": self.trained,
            "weight_decay": self.weight_decay,
            "data": self.data.describe(),
        }

    def model(self, initial_weights=None, **kwargs) -> NetworkModel:
        """The network model :class:`~wgflow.solvers.SGD` trains, with the exact population risk.

        Parameters
        ----------
        initial_weights : callable, optional
            ``(n, rng) ↦ θ (n, D)`` (default: the model's Gaussian initializer).
        **kwargs
            More :class:`~wgflow.networks.NetworkModel` fields (``reduced_coordinates``, …).

        Returns
        -------
        NetworkModel
            The model.
        """
        return NetworkModel(
            self.data,
            self.activation,
            self.trained,
            population_risk=self.population_risk,
            initial_weights=initial_weights,
            metadata={"problem": "TwoLayerNN", "problem_parameters": self.parameters()},
            **kwargs,
        )


def _relu_pair_moments(q1, q2, cov) -> dict:
    """Arc-cosine kernel and its derivatives (centred relu): ``∂_c = (π − θ)/(2π)``,
    ``∂_{q1} = √(q2 − c²/q1)/(4π √q1)``."""
    value = arccos_kernel(q1, q2, cov)
    norm = np.sqrt(q1 * q2)
    rho = np.clip(np.where(norm > 0, cov / np.where(norm > 0, norm, 1.0), 0.0), -1.0, 1.0)
    theta = np.arccos(rho)
    safe1 = np.where(q1 > 0, q1, 1.0)
    rest = np.sqrt(np.maximum(q2 - cov**2 / safe1, 0.0))
    zero = np.zeros(np.shape(value))
    return {
        "value": value,
        "d_mean1": zero,
        "d_mean2": zero,
        "d_cov": (np.pi - theta) / (2 * np.pi),
        "d_q1": np.where(q1 > 0, rest / (4 * np.pi * np.sqrt(safe1)), 0.0),
    }


def mean_weight_statistics(theta, width: int, parts, correlated: str) -> dict[str, float]:
    """``‖mean_j v_j‖²`` of parts ``v_j`` of a network's neurons, and one part's pair correlation.

    Parameters
    ----------
    theta : array_like, shape (N, width)
        The network's weights (head columns first), ``N ≥ 1``, finite.
    width : int
        Columns of ``theta``.
    parts : callable
        ``theta (N, width) ↦ {name: v (N, k)}``: parts of each neuron (e.g. its projections on
        the informative and uninformative subspaces).
    correlated : str
        The part whose pair correlation is returned.

    Returns
    -------
    dict of str -> float
        ``‖mean_j v_j‖²`` under each part's name, and ``pair_correlation``
        ``C = mean_{i≠j}⟨v_i, v_j⟩ / mean_i ‖v_i‖²`` of ``correlated`` (0 for one neuron or
        ``v = 0``).
    """
    theta = real_array("theta", theta)
    if theta.ndim != 2 or theta.shape[0] < 1 or theta.shape[1] != width:
        raise ValueError(
            f"theta: need weights of shape (N ≥ 1, {width}) (head columns then w), got "
            f"{theta.shape}"
        )
    if not np.all(np.isfinite(theta)):
        raise ValueError("theta: non-finite weights")
    vs = parts(theta)
    out = {name: float(np.sum(v.mean(axis=0) ** 2)) for name, v in vs.items()}
    v, n = vs[correlated], theta.shape[0]
    square = float(np.mean(np.sum(v * v, axis=1)))
    pairs = (n * n * out[correlated] - n * square) / (n * (n - 1)) if n > 1 else 0.0
    out["pair_correlation"] = pairs / square if square > 0 else 0.0
    return out
