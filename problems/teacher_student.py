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

**Finite step size.** SGD's step ``ε`` with ``c⊥ = ε(d − k)`` fixed adds to ``r`` the squared
increments along ``S⊥``: each neuron's own share
(:meth:`ReducedTeacherStudent.step_size_drift`), and a common share that builds the network's
mean uninformative weight ``v̄``, ``S = ‖v̄‖² = O(c⊥)``, a shift ``ξ ~ N(0, S)`` of every
pre-activation (:meth:`ReducedTeacherStudent.collective_energy` and the other ``collective_*``
methods; :meth:`TeacherStudent.collective_coordinates` measures ``S`` on SGD's weights).

References: Mei, Montanari & Nguyen, PNAS 115 (2018) E7665 (arXiv 1804.06561);
Ben Arous, Gheissari & Jagannath, JMLR 22 (2021) (single-index summary statistics);
Barron, IEEE Trans. Inf. Theory 39 (1993) 930 (``R_approx ≤ Δ(f)²/N``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from wgflow.drift import MeanFieldDrift
from wgflow.energy import Entropy, FreeEnergy, Potential
from wgflow.errors import CapabilityMissing, ParameterError
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

from .gaussian_expectations import normal_pdf, pair_moments, piecewise_form
from .two_layer_nn import TwoLayerNN, _relu_pair_moments, mean_weight_statistics

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

    def collective_coordinates(self, theta: np.ndarray) -> dict[str, float]:
        """The network's collective scalars, measured on its weights.

        Parameters
        ----------
        theta : ndarray, shape (N, D)
            Weights (head columns first).

        Returns
        -------
        dict of str -> float
            ``v2 = ‖mean_j P⊥w_j‖²`` and the pair correlation
            ``C = mean_{i≠j}⟨P⊥w_i, P⊥w_j⟩ / mean_i ‖P⊥w_i‖²`` (0 for one neuron or
            ``P⊥w = 0``) of the teacher-orthogonal parts.
        """
        def orthogonal(th):
            w = th[:, len(self.head) :]
            return {"v2": w - (w @ self.basis.T) @ self.basis}

        return mean_weight_statistics(np.atleast_2d(theta), self.dim, orthogonal, "v2")

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
        return self._potential_values(points, 0.0, drift)

    def _potential_values(self, points, shift: float, drift: bool) -> np.ndarray:
        """``V`` with every neuron's variance ``q → q + shift`` (the teacher's pairs unchanged)."""
        a, b, u, r = self.split(points)
        p = self.problem
        mom = p._reduced_teacher_pairs(b, np.sum(u * u, axis=-1) + r**2 + shift, u)
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
        return self._potential_gradient(points, 0.0)

    def _potential_gradient(self, points, shift: float) -> np.ndarray:
        """``∇V`` at the shifted variances (``∂q/∂u = 2u``, ``∂q/∂r = 2r`` are unchanged)."""
        a, b, u, r = self.split(points)
        p = self.problem
        mom = p._reduced_teacher_pairs(b, np.sum(u * u, axis=-1) + r**2 + shift, u)
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
    def _pair(self, points1, points2, shift: float = 0.0) -> tuple:
        """Pair moments at variances ``q + shift`` and covariance ``⟨u, u′⟩ + shift``."""
        a1, b1, u1, r1 = self.split(points1)
        a2, b2, u2, r2 = self.split(points2)
        q1 = np.sum(u1 * u1, axis=-1) + r1**2 + shift
        q2 = np.sum(u2 * u2, axis=-1) + r2**2 + shift
        mom = _pairs(
            self.problem.activation, self._closed, b1, q1, b2, q2,
            np.sum(u1 * u2, axis=-1) + shift,
        )  # fmt: skip
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
        return self._kernel(points1, points2, 0.0)

    def _kernel(self, points1, points2, shift: float) -> np.ndarray:
        a1, a2, _, _, _, mom = self._pair(points1, points2, shift)
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
        return self._kernel_gradient(points1, points2, 0.0)

    def _kernel_gradient(self, points1, points2, shift: float) -> np.ndarray:
        a1, a2, u1, u2, r1, mom = self._pair(points1, points2, shift)
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
        return self._particle_gradient(points, weights, 0.0)

    def _particle_gradient(self, points, weights, shift: float) -> np.ndarray:
        points = np.asarray(points, float)
        a, _, u, r = self.split(points)
        out = np.empty_like(points)
        wa = weights * a
        for start in range(0, points.shape[0], 512):
            rows = slice(start, start + 512)
            _, _, _, _, _, mom = self._pair(points[rows, None, :], points[None, :, :], shift)
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
        return self._particle_kernel(points, 0.0)

    def _particle_kernel(self, points, shift: float) -> np.ndarray:
        points = np.asarray(points, float)
        return self._kernel(points[:, None, :], points[None, :, :], shift)

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

    # ---- finite step size: the one-neuron correction and the collective mode ---------------
    #: nodes per piece / axis of the rules over ``Px`` (``None``: :data:`LINE_NODES`,
    #: :data:`RADIAL_NODES` and :data:`ARC_NODES`, :data:`HERMITE_NODES`); for convergence checks
    quadrature_nodes: int | None = None

    def input_rule(self) -> tuple[np.ndarray, np.ndarray, str]:
        r"""The quadrature rule for ``E_{Px}``, ``Px ~ N(0, I_k)``, used by the drifts.

        The teacher is not smooth where a pre-activation ``⟨c_j, x⟩ + b*_j`` crosses a knot of
        a piecewise-linear ``σ`` (the neurons are smoothed by their own ``rG``, ``r > 0``);
        a rule across such a kink converges only like ``1/n`` (Gauss–Hermite). So:

        - smooth ``σ``: tensor Gauss–Hermite, :data:`HERMITE_NODES` per axis;
        - ``k = 1``: the line split at every kink, Gauss–Legendre on each piece of
          ``[−L, L]`` with the density in the weights (:data:`LINE_NODES` per piece,
          ``L = 9``: the tails hold ``2e-19``);
        - ``k = 2`` with every kink line through 0 (relu, no teacher bias): polar coordinates,
          Gauss–Legendre in ``ρ ∈ [0, L]`` against ``ρ e^{−ρ²/2}`` (:data:`RADIAL_NODES`)
          times Gauss–Legendre on each arc between the kink directions (:data:`ARC_NODES`);
        - otherwise tensor Gauss–Hermite (``1/n`` across the kinks; ``k ≤ 4``).

        Weights below :data:`WEIGHT_FLOOR` are dropped (the rest renormalized to sum 1).

        Returns
        -------
        nodes : ndarray, shape (n, k)
            The points ``x``.
        weights : ndarray, shape (n,)
            Their weights (sum 1).
        kind : str
            ``"hermite"``, ``"split line"`` or ``"polar"``.

        Raises
        ------
        CapabilityMissing
            ``k > 4`` on the tensor rule.
        """
        data, k = self.problem.data, self.problem.k
        form = piecewise_form(data.activation)
        n = self.quadrature_nodes
        if form is not None and k == 1:
            c = data.weights[:, 0]
            kinks = ((form[1][None, :] - data.b[:, None]) / c[:, None]).ravel()
            return (*_line_rule(tuple(np.unique(kinks)), n or LINE_NODES), "split line")
        if form is not None and k == 2 and np.all(form[1][None, :] == data.b[:, None]):
            angles = np.arctan2(data.weights[:, 1], data.weights[:, 0])
            kinks = np.mod(np.concatenate([angles + np.pi / 2, angles - np.pi / 2]), 2 * np.pi)
            rule = _polar_rule(tuple(np.unique(np.round(kinks, 14))), n or RADIAL_NODES,
                               n or ARC_NODES)  # fmt: skip
            return (*rule, "polar")
        if k not in HERMITE_NODES:
            raise CapabilityMissing(
                f"{type(self).__name__}: the finite-step-size drifts integrate over Px ∈ R^k by "
                f"a tensor Gauss–Hermite rule, implemented for k ≤ {max(HERMITE_NODES)}; this "
                f"teacher has k = {k}",
                "step_size_drift",
            )
        return (*_hermite_rule((n or HERMITE_NODES[k],) * k), "hermite")

    def _input_rule(self, shift: float) -> tuple:
        """:meth:`input_rule` times Gauss–Hermite on ``ξ ~ N(0, shift)`` (none at 0).

        Returns the nodes ``x (n, k)``, ``ξ (n,)``, the weights ``(n,)`` and ``f*(x) (n,)``.
        """
        x, weights, _ = self.input_rule()
        if shift > 0:
            g, wg = _hermite_rule((shift_nodes(shift),))
            x = np.repeat(x, len(wg), axis=0)
            xi = np.sqrt(shift) * np.tile(g[:, 0], len(weights))
            weights = np.outer(weights, wg).ravel()
        else:
            xi = np.zeros(len(weights))
        data = self.problem.data
        fstar = data.activation(x @ data.weights.T + data.b) @ data.a / data.a.size
        return x, xi, weights, fstar

    def _rows(self, n_nodes: int) -> int:
        """Points per block so that a block holds about :data:`CHUNK` (point, node, G) values."""
        inner = 1 if piecewise_form(self.problem.activation) is not None else OWN_NODES
        return max(1, CHUNK // (n_nodes * inner))

    def _slices(self, points, x, xi, which) -> dict:
        """``E_G σ^{(·)}(b + ⟨u, x_n⟩ + ξ_n + rG)`` at flat points ``(P, D̄)``: ``(P, n)`` each."""
        _, b, u, r = self.split(points)
        mean = b[:, None] + u @ x.T + xi
        return _neuron_slices(self.problem.activation, mean, r[:, None], which)

    def _node_features(self, points, rule, slope: bool) -> np.ndarray:
        """``a E_G σ`` (then ``a E_G σ′`` if ``slope``) at every node: shape ``(..., n or 2n)``."""
        x, xi, _, _ = rule
        points = np.asarray(points, float)
        flat = points.reshape(-1, self.dim)
        which = ("value", "slope") if slope else ("value",)
        out = np.empty((flat.shape[0], len(which) * len(xi)))
        step = self._rows(len(xi))
        for start in range(0, flat.shape[0], step):
            rows = slice(start, start + step)
            sl = self._slices(flat[rows], x, xi, which)
            a = self.split(flat[rows])[0][:, None]
            out[rows] = np.concatenate([a * sl[name] for name in which], axis=1)
        return out.reshape(*points.shape[:-1], out.shape[1])

    def _radial_velocity(self, points, rate) -> np.ndarray:
        """Velocity ``(d r²/dt)/(2r)`` on the ``r`` axis (0 at ``r = 0``), shape of ``points``."""
        points = np.asarray(points, float)
        r = points[..., -1]
        out = np.zeros_like(points)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[..., -1] = np.where(r > 0, rate / (2 * r), 0.0)
        return out

    def _c_perp(self, step_size: float) -> tuple[float, float]:
        eps = check_positive("step_size", step_size)
        return eps, eps * max(self.problem.d - self.problem.k, 0)

    def step_size_drift(self, step_size: float) -> MeanFieldDrift:
        r"""The one-neuron finite-step-size (``εd``) correction: each neuron's own share.

        One SGD step moves ``w`` by ``ε (y − f) a σ′(⟨w, x⟩ + b) x``; its squared projection on
        the ``d − k`` teacher-orthogonal directions is ``ε² (y − f)² a² σ′² ‖P⊥x‖²`` with
        ``‖P⊥x‖² = d − k ± O(√d)``. Per unit time ``t = kε``, in the limit ``N, d → ∞`` with
        ``c⊥ = ε (d − k)`` fixed, the radius ``r = ‖P⊥w‖`` gains

        .. math::
            \frac{d r^2}{dt} \mathrel{+}= c_\perp\, \mathbb E_{Px}\big[e^2(Px)\, a^2
            D(b + ⟨u, Px⟩, r)\big], \qquad e^2 = (f^*(Px) - F(Px))^2 + τ^2,

        with ``F(Px) = ∫ a E_G σ(b + ⟨u, Px⟩ + r G) dρ̄`` (the network given ``Px``; its own
        ``G = ⟨P⊥w, P⊥x⟩/r`` of each neuron is independent across neurons in the limit) and
        ``D(μ, r) = E_G σ′(μ + rG)²``: the velocity ``b_r = (d r²/dt)/(2r)`` (0 at ``r = 0``).
        ``E_{Px}`` is the rule of :meth:`input_rule` (split at the teacher's kinks where it
        can be: relu without teacher biases for ``k ≤ 2``, any piecewise-linear teacher for
        ``k = 1``; otherwise tensor Gauss–Hermite, whose error across kinks falls like ``1/n``).

        Dropped: the increments of ``a``, ``b``, ``u`` (their squares are ``O(ε)`` per unit
        time), the fluctuations of ``r²`` (``O(ε)`` per unit time), the ``O(1/√d)`` spread of
        ``‖P⊥x‖²/d``, the ``O(1/N)`` fluctuation of ``f`` around ``F`` and the collective
        mode: the common share of every neuron's increment, which builds the network's mean
        ``v̄ = mean_j P⊥w_j`` with ``‖v̄‖² = O(c⊥)`` independent of ``N`` (see
        :meth:`collective_energy`). Online SGD (batch 1; a batch of ``B`` divides ``c⊥`` by
        ``B``).

        Parameters
        ----------
        step_size : float
            SGD's ``ε`` (the correction uses ``c⊥ = ε (d − k)``).

        Returns
        -------
        MeanFieldDrift
            Velocity on ``r``; ``features`` ``a E_G σ(b + ⟨u, x_n⟩ + rG)`` at the ``n`` nodes
            ``x_n`` of the rule (their mean is ``F(x_n)``).

        Raises
        ------
        CapabilityMissing
            ``k > 4`` (too many nodes for a tensor rule).
        """
        eps, c = self._c_perp(step_size)
        rule = self._input_rule(0.0)
        x, xi, weights, fstar = rule
        tau2 = self.problem.noise**2

        def features(points):
            return self._node_features(points, rule, slope=False)

        def velocity(points, moments):
            pts = np.asarray(points, float)
            flat = pts.reshape(-1, self.dim)
            pull = weights * ((fstar - moments) ** 2 + tau2)
            rate = np.empty(flat.shape[0])
            step = self._rows(len(xi))
            for start in range(0, flat.shape[0], step):
                rows = slice(start, start + step)
                a = self.split(flat[rows])[0]
                square = self._slices(flat[rows], x, xi, ("square",))["square"]
                rate[rows] = a**2 * (square @ pull)
            return self._radial_velocity(pts, c * rate.reshape(pts.shape[:-1]))

        return MeanFieldDrift(
            velocity,
            features=features,
            name="finite step size (εd), own share",
            parameters={"kind": "step-size", "epsilon": eps, "c": c, "nodes": len(weights)},
        )

    @property
    def collective_modes(self) -> tuple[str, ...]:
        """The collective scalars: ``("v2",)``, ``v2 = S = ‖mean_j P⊥w_j‖²``."""
        return ("v2",)

    def _shift(self, modes) -> float:
        if not isinstance(modes, dict) or set(modes) != set(self.collective_modes):
            raise ValueError(f"modes: need a dict with keys ('v2',), got {modes!r}")
        s = modes["v2"]
        if isinstance(s, bool) or not np.isfinite(s) or s < 0:
            raise ValueError(f"modes: v2 must be a finite variance ≥ 0, got {s!r}")
        return float(s)

    def collective_energy(self, step_size: float, modes: dict) -> FreeEnergy:
        r"""The energy of the incoherent cloud ``ρ̃`` at a frozen shared variance ``S``.

        Write ``v_j = P⊥w_j``, ``v̄ = mean_j v_j``, ``δ_j = v_j − v̄``, ``S = ‖v̄‖²``; ``ρ̃`` is
        the law of ``(a, b, u, r = ‖δ_j‖)``. Every pre-activation carries the shared shift
        ``ξ = ⟨v̄, P⊥x⟩ ~ N(0, S)``, independent of ``Px`` and of each neuron's own
        ``⟨δ_j, P⊥x⟩`` (``⟨δ_j, v̄⟩`` averages to 0 and is ``O(d^{-1/2})`` per neuron), so the
        risk ``R(ρ̃, S) = E (y − F(Px, ξ))²`` is exactly the plain reduced risk with

        .. math::
            q = |u|^2 + r^2 \to q + S, \qquad ⟨u, u'⟩ \to ⟨u, u'⟩ + S

        (teacher–neuron covariances unchanged: the teacher does not see ``ξ``), i.e. the plain
        problem with one more informative axis on which the teacher has weight 0 and every
        neuron sits at ``√S``. ``ρ̃`` moves with ``−∇Ψ_S`` (``V_S``, ``Ū_S`` the substituted
        ``V``, ``Ū``; gradient at fixed ``S``) plus the incoherent share of the ``εd`` drift
        (:meth:`collective_drift`).

        Parameters
        ----------
        step_size : float
            SGD's ``ε``.
        modes : dict of str -> float
            ``{"v2": S}``, ``S ≥ 0`` (frozen).

        Returns
        -------
        FreeEnergy
            ``V_S``, ``Ū_S``, the entropy and ``S⊥`` Jacobian when ``β < ∞`` (on the
            incoherent ``r``; the noise's share of ``v̄`` is ``O(d/N)`` and dropped), and the
            drift.
        """
        s = self._shift(modes)
        interaction = GeneralInteraction(
            functools.partial(self._kernel, shift=s),
            gradient=functools.partial(self._kernel_gradient, shift=s),
            particle_gradient=functools.partial(self._particle_gradient, shift=s),
            particle_kernel=functools.partial(self._particle_kernel, shift=s),
            name="Ū_S = a a' F(b, |u|²+r²+S, b', |u'|²+r'²+S, ⟨u,u'⟩+S)",
        )
        return FreeEnergy(
            potential=Potential(
                functools.partial(self._potential_values, shift=s, drift=True),
                gradient=functools.partial(self._potential_gradient, shift=s),
                name="V_S",
            ),
            interaction=interaction,
            internal=Entropy(self.beta) if np.isfinite(self.beta) else None,
            metadata={**self.energy.metadata, "correction": "collective", "modes": {"v2": s}},
            drift=self.collective_drift(step_size, modes),
        )

    def collective_drift(self, step_size: float, modes: dict) -> MeanFieldDrift:
        r"""The incoherent share of the finite-step-size drift at a frozen ``S``.

        A step moves ``δ_j`` by ``ε (y − f)(a_j σ′_j − P̂) P⊥x`` (``P̂ = mean_i a_i σ′_i``), so
        per unit time, with ``c⊥ = ε (d − k)``,

        .. math::
            \frac{d r^2}{dt} \mathrel{+}= c_\perp\, \mathbb E_{Px, ξ}\big[e^2\,
            (a^2 D - 2 a\, m_1 P + P^2)\big],

        ``e² = (f*(Px) − F(Px, ξ))² + τ²``, ``D = E_G σ′(b + ⟨u, Px⟩ + ξ + rG)²``,
        ``m1 = E_G σ′(…)``, ``P(Px, ξ) = ∫ a m1 dρ̃`` (the network's mean slope); velocity
        ``(d r²/dt)/(2r)``. ``E_{Px, ξ}``: :meth:`input_rule` times :func:`shift_nodes`
        Gauss–Hermite nodes on ``ξ`` (no ``ξ`` axis at ``S = 0``, where ``P``'s terms stay).
        Dropped as in :meth:`step_size_drift`, and the ``O(1/N)`` difference between ``P̂``
        and ``P``.

        Parameters
        ----------
        step_size : float
            SGD's ``ε``.
        modes : dict of str -> float
            ``{"v2": S}``.

        Returns
        -------
        MeanFieldDrift
            Velocity on ``r``; ``features`` ``a E_G σ`` then ``a E_G σ′`` at the ``n`` nodes
            (``2n`` moments: ``F`` and ``P`` at the nodes).
        """
        s = self._shift(modes)
        eps, c = self._c_perp(step_size)
        rule = self._input_rule(s)
        x, xi, weights, fstar = rule
        tau2 = self.problem.noise**2
        n = len(weights)

        def features(points):
            return self._node_features(points, rule, slope=True)

        def velocity(points, moments):
            pts = np.asarray(points, float)
            flat = pts.reshape(-1, self.dim)
            f, slope = moments[:n], moments[n:]
            pull = weights * ((fstar - f) ** 2 + tau2)
            common = float(pull @ slope**2)
            rate = np.empty(flat.shape[0])
            step = self._rows(n)
            for start in range(0, flat.shape[0], step):
                rows = slice(start, start + step)
                a = self.split(flat[rows])[0]
                sl = self._slices(flat[rows], x, xi, ("slope", "square"))
                rate[rows] = (
                    a**2 * (sl["square"] @ pull) - 2 * a * (sl["slope"] @ (pull * slope)) + common
                )
            return self._radial_velocity(pts, c * rate.reshape(pts.shape[:-1]))

        return MeanFieldDrift(
            velocity,
            features=features,
            name="finite step size (εd), incoherent share",
            parameters={"kind": "collective", "epsilon": eps, "c": c, "v2": s, "nodes": n},
        )

    def collective_risk(self, modes: dict, points: np.ndarray, weights: np.ndarray) -> float:
        r"""``R(ρ̃, S) = E y² + 2∫V_S dρ̃ + ∫∫Ū_S dρ̃dρ̃`` of weighted incoherent points (exact).

        Parameters
        ----------
        modes : dict of str -> float
            ``{"v2": S}``.
        points : ndarray, shape (n, D̄)
            Incoherent reduced points (``r = ‖δ_j‖``).
        weights : ndarray, shape (n,)
            Their masses (summing to 1).

        Returns
        -------
        float
            The risk of the model's network (self-pairs with ``Ū_S``: neurons with the same
            reduced coordinates have independent ``δ`` directions).
        """
        s = self._shift(modes)
        points = check_points("points", points, self.dim)
        weights = self._checked_weights(weights, len(points))
        mean_v = float(weights @ self._potential_values(points, s, drift=False))
        total = 0.0
        for start in range(0, len(points), 512):
            rows = slice(start, start + 512)
            block = self._kernel(points[rows, None], points[None], s)
            total += float(weights[rows] @ block @ weights)
        return float(self.problem.second_moment + 2 * mean_v + total)

    def _checked_weights(self, weights, n: int) -> np.ndarray:
        weights = real_array("weights", weights)
        if weights.shape != (n,) or not np.all(np.isfinite(weights)):
            raise ValueError(f"weights: need {n} finite masses, got shape {weights.shape}")
        return weights

    def collective_source(
        self, step_size: float, modes: dict, points: np.ndarray, weights: np.ndarray
    ) -> dict[str, float]:
        r"""The source of ``S``: the common share of each step's squared increment.

        .. math::
            B = c_\perp\, \mathbb E_{Px, ξ}\big[e^2 P^2\big], \qquad
            \frac{dS}{dt} = -2 S\, \partial_S R + B,

        ``e² = (f*(Px) − F(Px, ξ))² + τ²``, ``P = ∫ a E_G σ′(b + ⟨u, Px⟩ + ξ + rG) dρ̃``,
        ``c⊥ = ε (d − k)``: the network's mean increment ``ε (y − f) P̂ P⊥x`` has squared norm
        ``ε² (y − f)² P̂² (d − k)`` per step, ``P̂ = mean_i a_i σ′_i → P``; the square of its
        expectation (the gradient part, ``O(ε)`` per unit time) and ``O(1/N)`` are dropped.
        Same rule as :meth:`collective_drift`.

        Parameters
        ----------
        step_size : float
            SGD's ``ε``.
        modes : dict of str -> float
            ``{"v2": S}``.
        points : ndarray, shape (n, D̄)
            Incoherent reduced points.
        weights : ndarray, shape (n,)
            Their masses.

        Returns
        -------
        dict of str -> float
            ``{"v2": B}`` (per unit time).
        """
        s = self._shift(modes)
        _, c = self._c_perp(step_size)
        points = check_points("points", points, self.dim)
        weights = self._checked_weights(weights, len(points))
        rule = self._input_rule(s)
        _, _, w, fstar = rule
        moments = weights @ self._node_features(points, rule, slope=True)
        f, slope = moments[: len(w)], moments[len(w) :]
        e2 = (fstar - f) ** 2 + self.problem.noise**2
        return {"v2": float(c * (w @ (e2 * slope**2)))}

    def collective_full(self, modes: dict, points: np.ndarray) -> np.ndarray:
        """Each neuron's full reduced coordinates: ``r → √(r² + S)``, the rest unchanged.

        Parameters
        ----------
        modes : dict of str -> float
            ``{"v2": S}``.
        points : ndarray, shape (..., D̄)
            Incoherent reduced points.

        Returns
        -------
        ndarray, shape (..., D̄)
            ``‖P⊥w_j‖² = ‖δ_j‖² + S`` (the cross term ``2⟨v̄, δ_j⟩`` averages to 0 over the
            network and is ``O(d^{-1/2})`` per neuron).
        """
        s = self._shift(modes)
        out = np.array(points, float, copy=True)
        if out.shape[-1] != self.dim:
            raise ValueError(f"points: need last axis of length {self.dim}, got {out.shape}")
        out[..., -1] = np.sqrt(out[..., -1] ** 2 + s)
        return out

    def collective_correlation(self, modes: dict, points: np.ndarray, weights) -> float:
        """Predicted pair correlation ``C = S / (S + ∫r² dρ̃)``.

        Parameters
        ----------
        modes : dict of str -> float
            ``{"v2": S}``.
        points : ndarray, shape (n, D̄)
            Incoherent reduced points.
        weights : ndarray, shape (n,)
            Their masses.

        Returns
        -------
        float
            ``C = mean_{i≠j}⟨v_i, v_j⟩ / mean_i ‖v_i‖²`` of the model (``N → ∞``).
        """
        s = self._shift(modes)
        points = check_points("points", points, self.dim)
        total = s + float(self._checked_weights(weights, len(points)) @ points[:, -1] ** 2)
        return s / total if total > 0 else 0.0


#: Gauss–Hermite nodes per ``Px`` axis of the tensor rules, by ``k`` (larger ``k``: refused)
HERMITE_NODES = {1: 96, 2: 32, 3: 16, 4: 10}
#: Gauss–Legendre nodes per piece of the line between the teacher's kinks (``k = 1``)
LINE_NODES = 24
#: Gauss–Legendre nodes in the radius of the polar rule (``k = 2``)
RADIAL_NODES = 16
#: Gauss–Legendre nodes per arc between the teacher's kink directions (``k = 2``)
ARC_NODES = 8
#: the rules' range ``|x| ≤ L`` off the Gauss–Hermite ones (``P(|G| > 9) = 2e-19``)
RANGE = 9.0
#: Gauss–Hermite nodes on the shared shift ``ξ ~ N(0, S)`` as ``S → 0`` (:func:`shift_nodes`)
SHIFT_NODES = 4
#: nodes added per unit of ``S``
SHIFT_NODES_PER_VARIANCE = 48
#: the most nodes on ``ξ``
MAX_SHIFT_NODES = 64


def shift_nodes(shift: float) -> int:
    """Gauss–Hermite nodes on ``ξ ~ N(0, S)``: ``min(64, 4 + ⌈48 S⌉)``.

    The integrand is smooth in ``ξ`` (the teacher does not see it; each neuron's own ``rG``
    smooths its kinks) but varies on the scale ``r`` of the neurons, so the nodes grow with
    ``S``. Measured largest relative error of the drift and source against 64 nodes
    (``r ∈ [0.3, 0.7]``, relu and tanh): ``2e-12`` at ``S = 1e-3``, ``2e-7`` at ``0.01``,
    ``4e-6`` at ``0.05``, ``1e-5`` at ``0.1``, ``2e-6`` at ``0.3`` and ``1`` (6 fixed nodes:
    ``2.5e-2`` at ``S = 0.3``).

    Parameters
    ----------
    shift : float
        ``S ≥ 0``.

    Returns
    -------
    int
        The number of nodes.
    """
    return int(min(MAX_SHIFT_NODES, SHIFT_NODES + np.ceil(SHIFT_NODES_PER_VARIANCE * shift)))


#: Gauss–Hermite nodes on a neuron's own ``G`` for smooth activations (piecewise-linear ones
#: are in closed form)
OWN_NODES = 32
#: tensor-rule weights below this are dropped (the rest renormalized)
WEIGHT_FLOOR = 1e-14
#: (point, node, G) values evaluated per block
CHUNK = 1 << 20


@functools.lru_cache(maxsize=32)
def _hermite_rule(counts: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Tensor Gauss–Hermite rule for ``N(0, I)``: nodes ``(n, len(counts))``, weights ``(n,)``."""
    rules = [np.polynomial.hermite_e.hermegauss(int(c)) for c in counts]
    nodes = np.stack(
        [m.ravel() for m in np.meshgrid(*[g for g, _ in rules], indexing="ij")], axis=-1
    )
    weights = np.ones(1)
    for _, w in rules:
        weights = np.multiply.outer(weights, w / w.sum()).ravel()
    return _frozen_rule(nodes, weights)


@functools.lru_cache(maxsize=32)
def _line_rule(kinks: tuple[float, ...], nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """``N(0, 1)`` on ``[−L, L]`` split at ``kinks``: Gauss–Legendre per piece, ``(n, 1)``."""
    edges = np.unique(np.clip([-RANGE, *kinks, RANGE], -RANGE, RANGE))
    g, w = np.polynomial.legendre.leggauss(int(nodes))
    half = np.diff(edges)[:, None] / 2
    x = (edges[:-1, None] + half * (g + 1)).ravel()
    weights = (half * w).ravel() * normal_pdf(x)
    return _frozen_rule(x[:, None], weights)


@functools.lru_cache(maxsize=32)
def _polar_rule(kinks: tuple[float, ...], radial: int, arc: int) -> tuple[np.ndarray, np.ndarray]:
    """``N(0, I_2)`` in polar coordinates, arcs split at the angles ``kinks`` (in [0, 2π))."""
    g, w = np.polynomial.legendre.leggauss(int(radial))
    rho = RANGE * (g + 1) / 2
    w_rho = w * RANGE / 2 * rho * np.exp(-(rho**2) / 2)
    edges = np.array([*kinks, kinks[0] + 2 * np.pi]) if kinks else np.array([0.0, 2 * np.pi])
    g, w = np.polynomial.legendre.leggauss(int(arc))
    half = np.diff(edges)[:, None] / 2
    phi = (edges[:-1, None] + half * (g + 1)).ravel()
    w_phi = (half * w).ravel() / (2 * np.pi)
    x = (rho[:, None, None] * np.stack([np.cos(phi), np.sin(phi)], axis=-1)).reshape(-1, 2)
    return _frozen_rule(x, np.outer(w_rho, w_phi).ravel())


def _frozen_rule(nodes: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop weights below :data:`WEIGHT_FLOOR`, renormalize to 1, make read-only."""
    keep = weights > WEIGHT_FLOOR
    nodes, weights = nodes[keep], weights[keep] / weights[keep].sum()
    nodes.setflags(write=False)
    weights.setflags(write=False)
    return nodes, weights


def _neuron_slices(activation: Activation, mean, std, which) -> dict:
    """``E_G`` of ``σ`` (value), ``σ′`` (slope), ``σ′²`` (square), ``σ″`` (curvature).

    At ``μ + sG``: closed forms for piecewise-linear ``σ`` (``σ″`` the knots' densities, 0 at
    ``s = 0``), :data:`OWN_NODES` Gauss–Hermite nodes on ``G`` otherwise; ``mean`` and ``std``
    broadcast.
    """
    mean, std = np.broadcast_arrays(np.asarray(mean, float), np.asarray(std, float))
    form = piecewise_form(activation)
    out = {}
    if form is None:
        g, wg = np.polynomial.hermite_e.hermegauss(OWN_NODES)
        wg = wg / wg.sum()
        t = mean[..., None] + std[..., None] * g
        if "value" in which:
            out["value"] = activation(t) @ wg
        if "slope" in which or "square" in which:
            d1 = activation.derivative(t)
            out["slope"], out["square"] = d1 @ wg, (d1 * d1) @ wg
        if "curvature" in which:
            out["curvature"] = activation.second_derivative(t) @ wg
        return out
    v0, knots, changes = form
    positive = std > 0
    degenerate = not positive.all()  # some s = 0: σ itself there (σ″ set to 0)
    safe = np.where(positive, std, 1.0) if degenerate else std
    sums: dict = {}

    def add(name, change, term):  # sums[name] += change * term, without extra temporaries
        if name not in sums:
            sums[name] = term if change == 1 else change * term
        else:
            sums[name] += term if change == 1 else change * term

    above = []
    for knot, change in zip(knots, changes, strict=True):
        centred = mean - knot if knot else mean
        z = centred / safe
        cdf = ndtr(z)
        if degenerate:
            cdf = np.where(positive, cdf, centred > 0)
        above.append(cdf)
        if "value" in which or "curvature" in which:
            pdf = np.multiply(z, z, out=z)
            pdf *= -0.5
            np.exp(pdf, out=pdf)
            pdf *= 1 / np.sqrt(2 * np.pi)
            if degenerate:
                pdf = np.where(positive, pdf, 0.0)
        if "value" in which:
            smooth = centred * cdf
            smooth += safe * pdf
            if degenerate:
                smooth = np.where(positive, smooth, np.maximum(centred, 0.0))
            add("value", change, smooth)
        if "slope" in which:
            add("slope", change, cdf.copy() if change == 1 else cdf)
        if "curvature" in which:
            add("curvature", change, pdf / safe)
    if "value" in which and v0:
        sums["value"] += v0
    if "square" in which:
        slopes = np.concatenate([[0.0], np.cumsum(changes)])
        for j, sk in enumerate(slopes):
            if sk == 0:
                continue
            if j == 0:
                prob = 1.0 - above[0]
            elif j == len(knots):
                prob = above[-1].copy()
            else:
                prob = above[j - 1] - above[j]
            add("square", sk * sk, prob)
    return {name: sums.get(name, np.zeros(mean.shape)) for name in which}
