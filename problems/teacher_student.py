r"""Teacher–student regression on Gaussian inputs and its dimension-free reduced problem.

Data: ``x ~ N(0, I_d)``, ``y = f*(x) + τ G`` with a two-layer teacher
``f*(x) = (1/M) Σ_j a*_j σ(⟨w*_j, x⟩ + b*_j)`` whose weights span a ``k``-dimensional subspace
``S`` (``k = 1``: single index, ``k > 1``: multi-index). The student
``f(x; θ) = (1/N) Σ_i a_i σ(⟨w_i, x⟩ + b_i)`` (parameter sets ``w``, ``aw``, ``abw``) sees, for
each pair of neurons, a centred Gaussian pair ``(⟨w, x⟩, ⟨w′, x⟩)`` with variances ``|w|²``,
``|w′|²`` and covariance ``⟨w, w′⟩``; with ``F(b, q, b′, q′, c) = E σ(b + u) σ(b′ + v)`` (the
Gaussian pair expectation of :func:`~wgflow.problems.gaussian_expectations.pair_moments`):

.. math::
    V(θ) = -\frac{a}{M} \sum_j a^*_j F(b, |w|^2, b^*_j, |w^*_j|^2, ⟨w, w^*_j⟩), \qquad
    U(θ, θ') = a a' F(b, |w|^2, b', |w'|^2, ⟨w, w'⟩),

    E y^2 = τ^2 + \frac1{M^2} \sum_{j,l} a^*_j a^*_l F(b^*_j, |w^*_j|^2, b^*_l, |w^*_l|^2,
    ⟨w^*_j, w^*_l⟩).

**Reduction.** Write ``w = B ᵀu + r e`` with ``u = B w ∈ R^k`` (``B`` an orthonormal basis of
``S``), ``r = ‖P_{S⊥} w‖`` and ``e`` a unit vector of ``S⊥``. ``V`` depends on ``(a, b, u, r)``
only (``|w|² = |u|² + r²``, ``⟨w, w*_j⟩ = ⟨u, c_j⟩``). For a student law invariant under the
rotations of ``S⊥``, the directions ``e, e′`` of independent neurons have overlap
``γ = ⟨e, e′⟩ → 0`` as ``d → ∞`` (``E γ² = 1/(d − k)``), so

.. math::
    U \to \bar U = a a' F(b, |u|^2 + r^2, b', |u'|^2 + r'^2, ⟨u, u'⟩),

and the gradient flow on ``θ`` projects onto the Euclidean gradient flow of
``∫V dρ̄ + ½∫∫Ū dρ̄dρ̄`` on ``(a, b, u, r)`` (the ``e``-component of ``∇_w`` is ``∂_r``): a
``(k + 1)``-dimensional McKean–Vlasov equation (``+1`` per trained head) that does not depend on
``d``. The neglected overlap terms are ``O(1/d)`` in the risk. Noise (``β < ∞``) adds the
Jacobian ``r^{d−k−1}`` of the ``S⊥`` sphere as the potential ``−β⁻¹(d − k − 1) log r`` (as in
:mod:`~wgflow.problems.anisotropic_gaussians`).

References: Mei, Montanari & Nguyen, PNAS 115 (2018) E7665 (arXiv 1804.06561);
Ben Arous, Gheissari & Jagannath, JMLR 22 (2021) (single-index summary statistics);
Barron, IEEE Trans. Inf. Theory 39 (1993) 930 (``R_approx ≤ Δ(f)²/N``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from wgflow.energy import Entropy, FreeEnergy, Potential
from wgflow.errors import ParameterError
from wgflow.grid import Grid
from wgflow.interactions import GeneralInteraction
from wgflow.networks import (
    Activation,
    GaussianMixture,
    TeacherData,
    neutral_head,
)
from wgflow.problem import NetworkProblem, ReducedProblem
from wgflow.validation import (
    check_points,
    check_positive,
    check_positive_int,
    check_real,
    real_array,
    strict_keywords,
)

from .gaussian_expectations import pair_moments
from .two_layer_nn import TwoLayerNN, _relu_pair_moments

__all__ = ["ReducedTeacherStudent", "TeacherNetwork", "TeacherStudent"]


#: largest teacher weight, output weight or bias accepted (their squares must stay finite)
MAX_TEACHER_VALUE = 1e50


@dataclass(frozen=True, eq=False)
class TeacherNetwork:
    """The teacher ``f*(x) = (1/M) Σ_j a*_j σ(⟨w*_j, x⟩ + b*_j)``, weights in ``S``'s coordinates.

    Parameters
    ----------
    weights : array_like, shape (M, k)
        ``w*_j`` in the coordinates of the subspace's directions (nonzero rows).
    a : array_like, shape (M,), optional
        Output weights (default 1).
    b : array_like, shape (M,), optional
        Biases (default 0).
    """

    weights: np.ndarray
    a: np.ndarray | None = None
    b: np.ndarray | None = None

    def __post_init__(self) -> None:
        w = real_array("weights", self.weights)
        if w.ndim == 1:
            w = w[:, None]
        if w.ndim != 2 or w.size == 0:
            raise ValueError(f"weights: need shape (M, k) with M, k ≥ 1, got {w.shape}")
        if not np.all(np.isfinite(w)) or np.abs(w).max() > MAX_TEACHER_VALUE:
            raise ValueError(
                f"weights: need finite teacher weights of magnitude ≤ {MAX_TEACHER_VALUE:.0e} "
                f"(larger ones overflow E y²), got largest |w| = {np.abs(w).max():.3g}"
            )
        norms = np.linalg.norm(w, axis=1)
        if np.any(norms == 0):
            raise ValueError(
                f"weights: teacher neurons {np.nonzero(norms == 0)[0].tolist()} have zero norm "
                "(a constant neuron); give each a nonzero weight"
            )
        m = w.shape[0]
        heads = []
        for name, value, default in (("a", self.a, 1.0), ("b", self.b, 0.0)):
            v = np.full(m, default) if value is None else real_array(name, value)
            if v.ndim == 0:
                v = np.full(m, float(v))
            if v.shape != (m,) or not np.all(np.isfinite(v)):
                raise ValueError(f"{name}: need {m} finite values (one per teacher neuron)")
            if np.abs(v).max() > MAX_TEACHER_VALUE:
                raise ValueError(
                    f"{name}: need magnitudes ≤ {MAX_TEACHER_VALUE:.0e} (larger ones overflow "
                    f"E y²), got {np.abs(v).max():.3g}"
                )
            heads.append(v.astype(float))
        if not np.any(heads[0]):
            raise ValueError("a: all teacher output weights are zero (f* = 0)")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "a", heads[0])
        object.__setattr__(self, "b", heads[1])

    @property
    def width(self) -> int:
        """``M``, the teacher's number of neurons."""
        return self.weights.shape[0]

    @property
    def k(self) -> int:
        """Dimension of the teacher's subspace."""
        return self.weights.shape[1]

    @classmethod
    def spread(cls, k: int, width: int, seed: int = 0, amplitude: float = 0.0) -> TeacherNetwork:
        """Unit teacher weights spread over the sphere of ``R^k``, ``a* = 1 + amplitude·cos 3φ``.

        ``k = 1``: ``±1`` alternately (``relu``: ``f* ∝ |x_1|``); ``k = 2``: the angles
        ``φ_j = 2πj/M``; ``k ≥ 3``: ``M`` seeded uniform directions (``φ`` their angle in the
        first plane).

        Parameters
        ----------
        k : int
            Subspace dimension, ≥ 1.
        width : int
            ``M ≥ 1``.
        seed : int
            Seed of the random directions (``k ≥ 3``).
        amplitude : float
            Modulation of the output weights (0: all ``a* = 1``).

        Returns
        -------
        TeacherNetwork
            The teacher (biases 0).
        """
        k = check_positive_int("k", k)
        m = check_positive_int("width", width)
        amplitude = check_real("amplitude", amplitude)
        if k == 1:
            w = np.where(np.arange(m) % 2 == 0, 1.0, -1.0)[:, None]
            phi = np.where(w[:, 0] > 0, 0.0, np.pi)
        elif k == 2:
            phi = 2 * np.pi * np.arange(m) / m
            w = np.column_stack([np.cos(phi), np.sin(phi)])
        else:
            g = np.random.default_rng(seed).standard_normal((m, k))
            w = g / np.linalg.norm(g, axis=1, keepdims=True)
            phi = np.arctan2(w[:, 1], w[:, 0])
        return cls(w, a=1.0 + amplitude * np.cos(3 * phi))

    def describe(self) -> dict:
        """JSON-serializable description (stored in archives).

        Returns
        -------
        dict
            Weights, output weights and biases.
        """
        return {"weights": self.weights.tolist(), "a": self.a.tolist(), "b": self.b.tolist()}


def _pairs(activation: Activation, closed: bool, b1, q1, b2, q2, cov) -> dict:
    """``F`` and its derivatives (``value``, ``d_mean1``, ``d_q1``, ``d_cov``), broadcast."""
    if closed:
        return _relu_pair_moments(*np.broadcast_arrays(q1, q2, cov))
    return pair_moments(activation, b1, q1, b2, q2, cov)


class TeacherStudent(TwoLayerNN, NetworkProblem):
    """Teacher–student regression on ``x ~ N(0, I_d)`` with exact ``V``, ``U`` and risk.

    Parameters
    ----------
    d : int
        Input dimension, ``≥ k``.
    teacher : TeacherNetwork
        The teacher (weights in the coordinates of ``directions``).
    activation : str or Activation
        ``σ`` of teacher and student (``relu``, ``tanh``, any
        :class:`~wgflow.networks.Activation`).
    noise : float
        Label-noise standard deviation ``τ ≥ 0`` (the Bayes risk is ``τ²``).
    trained : {"w", "aw", "abw"}
        Trained parts of each student neuron.
    directions : array_like, shape (k, d), optional
        Linearly independent vectors spanning ``S`` (default the first ``k`` axes); teacher
        neuron ``j`` is ``w*_j = Σ_l weights[j, l] directions[l]``.
    weight_decay : float
        ``λ ≥ 0`` (see :class:`~wgflow.problems.TwoLayerNN`).

    Notes
    -----
    ``V``, ``U``, their gradients (Price's theorem) and the finite-``N`` population risk
    ``R_N = E y² + (2/N) Σ V(θ_i) + (1/N²) Σ U(θ_i, θ_j)`` are exact: arc-cosine kernel for
    relu without biases, closed forms for piecewise-linear σ, quadrature for smooth σ.
    """

    @strict_keywords
    def __init__(
        self,
        d: int,
        teacher: TeacherNetwork,
        activation: str | Activation = "relu",
        noise: float = 0.0,
        trained: str = "aw",
        directions=None,
        weight_decay: float = 0.0,
    ) -> None:
        if not isinstance(d, int | np.integer) or isinstance(d, bool) or d < 1:
            raise ValueError(f"d: need an integer ≥ 1, got {d!r}")
        if not isinstance(teacher, TeacherNetwork):
            raise ParameterError(f"teacher: need a TeacherNetwork, got {type(teacher).__name__}")
        d, k = int(d), teacher.k
        if k > d:
            raise ValueError(f"teacher: its subspace has k = {k} > d = {d} dimensions")
        noise = check_real("noise", noise, low=0.0, high=MAX_TEACHER_VALUE)
        inputs = GaussianMixture([0.0], [1.0], np.ones((1, d)))
        super().__init__(activation, inputs, trained, weight_decay)
        basis, coords = _orthonormal(directions, teacher.weights, k, d)
        self.teacher = teacher
        self.noise = noise
        self.k = k
        self.data = TeacherData(basis, coords, teacher.a, teacher.b, self.activation, noise)
        self._closed_teacher = self._closed_form_pairs and not np.any(teacher.b)

    model_name = "teacher–student"
    #: the model SGD trains is the network problem's (not TwoLayerNN's mixture model)
    model = NetworkProblem.model

    # ---- geometry ------------------------------------------------------------------------------
    @property
    def basis(self) -> np.ndarray:
        """Orthonormal basis of ``S``, shape ``(k, d)``."""
        return self.data.basis

    def _teacher_pairs(self, b, w) -> dict:
        """Pair moments ``(…, M)`` of student ``(b (…), w (…, d))`` with every teacher neuron."""
        u = w @ self.basis.T
        q = np.sum(w * w, axis=-1)
        return self._reduced_teacher_pairs(b, q, u)

    def _reduced_teacher_pairs(self, b, q, u) -> dict:
        c = self.data.weights
        return _pairs(
            self.activation, self._closed_teacher, b[..., None], q[..., None],
            self.data.b, np.sum(c * c, axis=1), u @ c.T,
        )  # fmt: skip

    # ---- V -------------------------------------------------------------------------------------
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
        mom = self._teacher_pairs(b, w)
        return -a * (mom["value"] @ self.data.a) / self.teacher.width

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
        mom = self._teacher_pairs(b, w)
        ta = self.data.a / self.teacher.width
        ga = -(mom["value"] @ ta)
        gb = -a * (mom["d_mean1"] @ ta)
        gw = -a[..., None] * (
            2 * (mom["d_q1"] @ ta)[..., None] * w + (mom["d_cov"] * ta) @ self.data.full_weights
        )
        return self._to_theta_gradient(ga, gb, gw)

    @functools.cached_property
    def second_moment(self) -> float:
        """``E y² = τ² + E f*(x)²`` (exact)."""
        c, tb = self.data.weights, self.data.b
        q = np.sum(c * c, axis=1)
        closed = self.activation.name == "relu" and not np.any(tb)  # teacher pairs: no student b
        mom = _pairs(self.activation, closed, tb[:, None], q[:, None], tb, q, c @ c.T)
        ta = self.data.a / self.teacher.width
        return float(self.noise**2 + ta @ mom["value"] @ ta)

    # ---- reduced coordinates ------------------------------------------------------------------
    def reduced_coordinates(self, theta: np.ndarray) -> dict:
        # ``a``, ``b`` (when trained), ``u = B w`` (``u`` or ``u0 …``) and ``r = ‖P_{S⊥} w‖``.
        theta = np.asarray(theta, float)
        out = {name: theta[:, j] for j, name in enumerate(self.head)}
        w = theta[:, len(self.head) :]
        u = w @ self.basis.T
        for j, name in enumerate(_u_axes(self.k)):
            out[name] = u[:, j]
        out["r"] = np.sqrt(np.maximum(np.sum(w * w, axis=1) - np.sum(u * u, axis=1), 0.0))
        return out

    def full_weights(self, points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # Weights ``w = Bᵀu + r e`` with ``e`` uniform on the unit sphere of ``S⊥``.
        points = np.atleast_2d(np.asarray(points, float))
        h, k = len(self.head), self.k
        if points.shape[1] != h + k + 1:
            raise ValueError(f"points: need {h + k + 1} reduced columns, got {points.shape}")
        n = points.shape[0]
        u, r = points[:, h : h + k], points[:, h + k]
        if self.d == k and np.any(r != 0):
            raise ValueError("points: r must be 0 when the teacher's subspace is all of R^d")
        e = rng.standard_normal((n, self.d))
        e -= (e @ self.basis.T) @ self.basis
        norm = np.linalg.norm(e, axis=1, keepdims=True)
        e = np.divide(e, norm, out=np.zeros_like(e), where=norm > 0)
        w = u @ self.basis + r[:, None] * e
        return np.concatenate([points[:, :h], w], axis=1)

    def initial_reduced(self, n: int, initial_scale: float, rng: np.random.Generator) -> np.ndarray:
        # Reduced points with the exact law of ``w ~ N(0, κ² I/d)`` (``a = 1``, ``b = 0``).
        kappa = check_positive("initial_scale", initial_scale)
        u = kappa * rng.standard_normal((n, self.k)) / np.sqrt(self.d)
        r = kappa * np.sqrt(rng.chisquare(self.d - self.k, n) / self.d) if self.d > self.k else 0
        return np.column_stack([*neutral_head(n, len(self.head)), u, np.broadcast_to(r, (n,))])

    def parameters(self) -> dict:  # the contract's docstring
        return {
            "d": self.d,
            "k": self.k,
            "teacher_width": self.teacher.width,
            "activation": self.activation.name,
            "activation_params": self.activation.params.tolist(),
            "trained": self.trained,
            "noise": self.noise,
            "weight_decay": self.weight_decay,
            "teacher": self.teacher.describe(),
            "data": self.data.describe(),
        }

    def settings(self) -> dict:  # the contract's docstring
        return {
            **NetworkProblem.settings(self),
            "k": self.k,
            "teacher_width": self.teacher.width,
            "label_noise": self.noise,
        }

    def default_start(self):
        """``u ~ Unif[−0.6, 0.6]^k``, ``r ~ Unif[0.3, 0.7]`` (:func:`teacher_start`).

        Returns
        -------
        callable
            A picklable sampler ``(n, rng) ↦ (n, k + 1)``.
        """
        return teacher_start(self.k)

    def reduced(self, beta: float = np.inf, mehler_order: int = 0) -> ReducedTeacherStudent:
        """The ``d``-free reduced problem on ``(a, b, u, r)`` (present coordinates only).

        Parameters
        ----------
        beta : float
            Inverse temperature of noisy SGD (``inf``: noiseless).
        mehler_order : {0}
            Only the ``d → ∞`` limit is implemented.

        Returns
        -------
        ReducedTeacherStudent
            The reduced free energy and its helpers.
        """
        return ReducedTeacherStudent(self, beta, mehler_order)


def teacher_start(k: int, u_range: float = 0.6, low: float = 0.3, high: float = 0.7):
    """Teacher–student start: ``u ~ Unif[−u_range, u_range]^k``, ``r ~ Unif[low, high]``.

    Parameters
    ----------
    k : int
        The teacher's subspace dimension.
    u_range : float
        Half-width of each ``u`` coordinate.
    low, high : float
        Range of ``r``, ``0 ≤ low < high``.

    Returns
    -------
    callable
        A picklable sampler ``(n, rng) ↦ (n, k + 1)``.
    """
    if not 0 <= low < high:
        raise ValueError(f"low, high: need 0 ≤ low < high, got {low}, {high}")
    return functools.partial(
        _teacher_start, check_positive_int("k", k), check_positive("u_range", u_range), low, high
    )


def _teacher_start(k, u_range, low, high, n, rng):
    return np.column_stack([rng.uniform(-u_range, u_range, (n, k)), rng.uniform(low, high, n)])


def _u_axes(k: int) -> tuple[str, ...]:
    return ("u",) if k == 1 else tuple(f"u{j}" for j in range(k))


def _orthonormal(directions, weights: np.ndarray, k: int, d: int):
    """Orthonormal basis ``(k, d)`` of ``span(directions)`` and the teacher's weights in it."""
    if directions is None:
        return np.eye(d)[:k], weights
    v = np.atleast_2d(real_array("directions", directions))
    if v.shape != (k, d) or not np.all(np.isfinite(v)):
        raise ValueError(f"directions: need {k} finite vectors of R^{d}, shape ({k}, {d})")
    norms = np.linalg.norm(v, axis=1)
    if np.any(norms == 0):
        raise ValueError(f"directions: vectors {np.nonzero(norms == 0)[0].tolist()} are zero")
    sv = np.linalg.svd(v / norms[:, None], compute_uv=False)
    if sv[-1] < 1e-8:
        raise ValueError(
            f"directions: the {k} vectors are not linearly independent (smallest singular value "
            f"{sv[-1]:.2e} of the normalized vectors)"
        )
    q, _ = np.linalg.qr(v.T)
    basis = q.T  # (k, d), rows span the same subspace
    full = weights @ v
    return basis, full @ basis.T


class ReducedTeacherStudent(ReducedProblem):
    """Reduced free energy of :class:`TeacherStudent` on ``(a, b, u ∈ R^k, r ≥ 0)``.

    Parameters
    ----------
    problem : TeacherStudent
        The full-dimensional problem.
    beta : float
        Inverse temperature (``inf``: noiseless); adds the entropy and the ``S⊥`` Jacobian.
    mehler_order : {0}
        Only the ``d → ∞`` interaction is implemented.

    Notes
    -----
    ``Ū`` depends on ``⟨u, u′⟩`` and both norms: it is not separable, so grid solvers use the dense
    :class:`~wgflow.interactions.GeneralInteraction` (≤ 4096 cells: ``k = 1`` and ``w`` on a
    64 × 64 grid of ``(u, r)``); particles work for any ``k``.
    """

    def __init__(
        self, problem: TeacherStudent, beta: float = np.inf, mehler_order: int = 0
    ) -> None:
        if mehler_order != 0:
            raise ValueError(
                f"mehler_order: only order 0 (d → ∞) is implemented here, got {mehler_order!r}"
            )
        self.problem = problem
        self.beta = check_real("beta", beta, low=0.0, low_open=True, allow_inf=True)
        self.mehler_order = 0
        self.u_axes = _u_axes(problem.k)
        self.radial_axes = (*self.u_axes, "r")
        self.axes = (*problem.head, *self.radial_axes)
        self.dim = len(self.axes)
        self._closed = problem._closed_form_pairs

    def split(self, points: np.ndarray):
        """``(a, b, u, r)`` from reduced points (absent ``a = 1``, ``b = 0``).

        Parameters
        ----------
        points : ndarray, shape (..., D̄)
            Reduced points (columns as :attr:`axes`).

        Returns
        -------
        tuple of ndarray
            ``a (...)``, ``b (...)``, ``u (..., k)``, ``r (...)``.
        """
        points = np.asarray(points, float)
        if points.shape[-1] != self.dim:
            raise ValueError(f"points: need last axis of length {self.dim}, got {points.shape}")
        h, k = len(self.problem.head), self.problem.k
        a = points[..., 0] if h >= 1 else np.ones(points.shape[:-1])
        b = points[..., 1] if h == 2 else np.zeros(points.shape[:-1])
        return a, b, points[..., h : h + k], points[..., h + k]

    def _gradient(self, ga, gb, gu, gr) -> np.ndarray:
        h = len(self.problem.head)
        head = [ga[..., None], gb[..., None]][:h]
        return np.concatenate([*head, gu, gr[..., None]], axis=-1)

    # ---- V ---------------------------------------------------------------------------------
    def potential_values(self, points: np.ndarray, drift: bool = True) -> np.ndarray:
        """``V(a, b, u, r)`` (plus ``−β⁻¹(d − k − 1) log r`` when ``β < ∞`` and ``drift``).

        Parameters
        ----------
        points : ndarray, shape (..., D̄)
            Reduced points.
        drift : bool
            Include the Jacobian potential (noisy case).

        Returns
        -------
        ndarray, shape (...)
            ``V``.
        """
        a, b, u, r = self.split(points)
        p = self.problem
        mom = p._reduced_teacher_pairs(b, np.sum(u * u, axis=-1) + r**2, u)
        v = -a * (mom["value"] @ p.data.a) / p.teacher.width
        if drift and np.isfinite(self.beta):
            with np.errstate(divide="ignore"):
                v = v - self.jacobian_power * np.log(r) / self.beta
        return v

    @property
    def jacobian_power(self) -> int:
        """``d − k − 1``: the exponent of ``r`` in the volume of ``S⊥`` spheres."""
        return max(self.problem.d - self.problem.k - 1, 0)

    def potential_gradient(self, points: np.ndarray) -> np.ndarray:
        """``∇V`` (exact), plus ``−β⁻¹(d − k − 1)/r`` on ``r`` when ``β < ∞``.

        Parameters
        ----------
        points : ndarray, shape (..., D̄)
            Reduced points.

        Returns
        -------
        ndarray, shape (..., D̄)
            ``∇V``.
        """
        a, b, u, r = self.split(points)
        p = self.problem
        mom = p._reduced_teacher_pairs(b, np.sum(u * u, axis=-1) + r**2, u)
        ta = p.data.a / p.teacher.width
        dq = mom["d_q1"] @ ta
        ga = -(mom["value"] @ ta)
        gb = -a * (mom["d_mean1"] @ ta)
        gu = -a[..., None] * (2 * dq[..., None] * u + (mom["d_cov"] * ta) @ p.data.weights)
        gr = -a * 2 * dq * r
        if np.isfinite(self.beta):
            with np.errstate(divide="ignore"):
                gr = gr - self.jacobian_power / (self.beta * r)
        return self._gradient(ga, gb, gu, gr)

    # ---- Ū ---------------------------------------------------------------------------------
    def _pair(self, points1, points2) -> tuple:
        a1, b1, u1, r1 = self.split(points1)
        a2, b2, u2, r2 = self.split(points2)
        q1 = np.sum(u1 * u1, axis=-1) + r1**2
        q2 = np.sum(u2 * u2, axis=-1) + r2**2
        mom = _pairs(
            self.problem.activation, self._closed, b1, q1, b2, q2, np.sum(u1 * u2, axis=-1)
        )
        return a1, a2, u1, u2, r1, mom

    def kernel(self, points1: np.ndarray, points2: np.ndarray) -> np.ndarray:
        """``Ū = a a′ F(b, |u|² + r², b′, |u′|² + r′², ⟨u, u′⟩)``.

        Parameters
        ----------
        points1, points2 : ndarray, shape (..., D̄)
            Reduced points (broadcast).

        Returns
        -------
        ndarray, shape (...)
            ``Ū``.
        """
        a1, a2, _, _, _, mom = self._pair(points1, points2)
        return a1 * a2 * mom["value"]

    def kernel_gradient(self, points1: np.ndarray, points2: np.ndarray) -> np.ndarray:
        """``∇Ū`` in the first argument.

        Parameters
        ----------
        points1, points2 : ndarray, shape (..., D̄)
            Reduced points (broadcast).

        Returns
        -------
        ndarray, shape (..., D̄)
            ``∇_1 Ū``.
        """
        a1, a2, u1, u2, r1, mom = self._pair(points1, points2)
        aa = a1 * a2
        ga = a2 * mom["value"]
        gb = aa * mom["d_mean1"]
        gu = aa[..., None] * (2 * mom["d_q1"][..., None] * u1 + mom["d_cov"][..., None] * u2)
        gr = aa * 2 * mom["d_q1"] * r1
        shape = np.broadcast_shapes(ga.shape, gu.shape[:-1])
        return self._gradient(
            np.broadcast_to(ga, shape), np.broadcast_to(gb, shape),
            np.broadcast_to(gu, (*shape, gu.shape[-1])), np.broadcast_to(gr, shape),
        )  # fmt: skip

    def particle_gradient(self, points: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """``Σ_j w_j ∇_1 Ū(x_i, x_j)`` in row blocks (no ``(N, N, D̄)`` arrays).

        Parameters
        ----------
        points : ndarray, shape (N, D̄)
            Reduced points.
        weights : ndarray, shape (N,)
            Their weights.

        Returns
        -------
        ndarray, shape (N, D̄)
            The interaction force.
        """
        points = np.asarray(points, float)
        a, _, u, r = self.split(points)
        out = np.empty_like(points)
        wa = weights * a
        for start in range(0, points.shape[0], 512):
            rows = slice(start, start + 512)
            _, _, _, _, _, mom = self._pair(points[rows, None, :], points[None, :, :])
            ar = a[rows]
            dq = mom["d_q1"] @ wa
            out[rows] = self._gradient(
                mom["value"] @ wa, ar * (mom["d_mean1"] @ wa),
                ar[:, None] * (2 * dq[:, None] * u[rows] + (mom["d_cov"] * wa) @ u),
                ar * 2 * dq * r[rows],
            )  # fmt: skip
        return out

    def particle_kernel(self, points: np.ndarray) -> np.ndarray:
        """``Ū(x_i, x_j)``, shape ``(N, N)``.

        Parameters
        ----------
        points : ndarray, shape (N, D̄)
            Reduced points.

        Returns
        -------
        ndarray, shape (N, N)
            The kernel matrix.
        """
        points = np.asarray(points, float)
        return self.kernel(points[:, None, :], points[None, :, :])

    @functools.cached_property
    def energy(self) -> FreeEnergy:
        """``E = ∫V dρ̄ + ½∫∫Ū dρ̄dρ̄ (+ β⁻¹∫ρ̄ log ρ̄)``."""
        interaction = GeneralInteraction(
            self.kernel,
            gradient=self.kernel_gradient,
            particle_gradient=self.particle_gradient,
            particle_kernel=self.particle_kernel,
            name="Ū = a a' F(b, |u|²+r², b', |u'|²+r'², ⟨u,u'⟩)",
        )
        return FreeEnergy(
            potential=Potential(self.potential_values, gradient=self.potential_gradient, name="V"),
            interaction=interaction,
            internal=Entropy(self.beta) if np.isfinite(self.beta) else None,
            metadata={
                "problem": "TeacherStudent (reduced, d → ∞)",
                "problem_parameters": {**self.problem.describe(), "beta": self.beta},
                "components": list(self.axes),
            },
        )

    # ---- grids and risk --------------------------------------------------------------------
    def grid(
        self, cells, r_max: float = 1.5, u_max: float | None = None, a_range=(-2.0, 4.0),
        b_range=(-2.0, 2.0),
    ) -> Grid:  # fmt: skip
        """Cell-centred grid over the present axes: ``u ∈ [−u_max, u_max]^k``, ``r ∈ [0, r_max]``.

        Parameters
        ----------
        cells : int or sequence of int
            Cells per axis.
        r_max : float
            Upper end of ``r``.
        u_max : float, optional
            Half-width of each ``u`` axis (default ``r_max``).
        a_range, b_range : (float, float)
            Ranges of ``a`` and ``b`` (when trained).

        Returns
        -------
        Grid
            The grid.
        """
        r_max = check_positive("r_max", r_max)
        u_max = r_max if u_max is None else check_positive("u_max", u_max)
        bounds = [a_range, b_range][: len(self.problem.head)]
        bounds += [(-u_max, u_max)] * self.problem.k + [(0.0, r_max)]
        return Grid.box(bounds, cells, axes=self.axes)

    def risk_curve(self, grid: Grid, densities) -> np.ndarray:
        # ``R(ρ̄) = E y² + 2∫V dρ̄ + ∫∫Ū dρ̄dρ̄`` of each density on a grid.
        v = self.potential_values(grid.points(), drift=False)
        interaction = self.energy.interactions[0].on_grid(grid)
        return np.array([
            self.problem.second_moment + 2 * grid.integrate(v * rho)
            + grid.integrate(interaction(rho) * rho)
            for rho in densities
        ])  # fmt: skip

    def particle_risk(self, points: np.ndarray) -> float:
        # ``R`` of the empirical law of reduced points (self-pairs with ``Ū``).
        points = check_points("points", points, self.dim)
        mean_v = float(np.mean(self.potential_values(points, drift=False)))
        total = 0.0
        for start in range(0, points.shape[0], 512):
            total += float(np.sum(self.kernel(points[start : start + 512, None], points[None])))
        return self.problem.second_moment + 2 * mean_v + total / points.shape[0] ** 2
