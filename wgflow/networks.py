r"""Two-layer networks ``f(x; θ) = (1/N) Σ_i σ*(x; θ_i)`` and data models: the SGD interface.

Problem plugins (``wgflow.problems``) build a :class:`NetworkModel`; the
:class:`~wgflow.solvers.SGD` solver compiles its activation and data sampler into its kernel.

Parameter sets (columns of the weight array ``θ``, shape ``(N, P)``):

- ``"w"``:   ``σ*(x; θ) = σ(⟨w, x⟩)``,        columns ``w0 … w{d-1}``;
- ``"aw"``:  ``σ*(x; θ) = a σ(⟨w, x⟩)``,      columns ``a, w0 …``;
- ``"abw"``: ``σ*(x; θ) = a σ(⟨w, x⟩ + b)``,  columns ``a, b, w0 …``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .errors import ParameterError
from .validation import check_choice, real_array

ACTIVATION_KINDS = {
    "relu": 0,
    "truncated_relu": 1,
    "sigmoid": 2,
    "tanh": 3,
    "piecewise_linear": 4,
}
# the non-weight columns of each parameter set, in order
PARAMETER_HEADS = {"w": (), "aw": ("a",), "abw": ("a", "b")}
PARAMETER_SETS = tuple(PARAMETER_HEADS)
# named piecewise-linear activations: (knots, values)
NAMED_PIECEWISE = {
    # Mei–Montanari–Nguyen (PNAS 2018) Gaussian experiments: s1 below t1, s2 above t2
    "ramp": ((0.5, 1.5), (-2.5, 7.5)),
    # bounded non-monotone activation whose isotropic (Δ = 0.5) reduced risk has a spurious
    # local minimum at r ≈ 0.18 and its global one at r ≈ 1.97 (barrier r ≈ 0.31): wgflow's
    # stand-in, see problems.two_layer_nn.nonmonotone
    "nonmonotone": ((-0.5, 0.0, 1.0, 1.3), (-1.2, 1.2, -2.6, 2.8)),
}


@dataclass(frozen=True)
class Activation:
    """An activation ``σ`` the SGD kernel can compile.

    Parameters
    ----------
    name : {"relu", "truncated_relu", "sigmoid", "tanh", "piecewise_linear"}
        ``truncated_relu`` is ``clamp(t, 0, 1)``; ``sigmoid`` is ``1/(1 + e^{−2t})``.
    knots, values : tuple of float
        For ``piecewise_linear``: increasing knots ``t_1 < … < t_m`` and values ``σ(t_k)``;
        linear in between, constant outside (bounded; non-monotone when the values are).
    """

    name: str
    knots: tuple[float, ...] = ()
    values: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        check_choice("activation", self.name, tuple(ACTIVATION_KINDS))
        if self.name == "piecewise_linear":
            k = np.asarray(self.knots, float)
            v = np.asarray(self.values, float)
            if k.ndim != 1 or k.size < 2 or k.shape != v.shape:
                raise ValueError("knots: need ≥ 2 knots and as many values")
            if not (np.all(np.isfinite(k)) and np.all(np.isfinite(v)) and np.all(np.diff(k) > 0)):
                raise ValueError("knots: need finite, strictly increasing knots and finite values")

    @classmethod
    def named(cls, activation: str | Activation) -> Activation:
        """Accept an :class:`Activation` or one of the parameter-free names.

        Parameters
        ----------
        activation : str or Activation
            ``relu``, ``truncated_relu``, ``sigmoid``, ``tanh``, ``ramp``, ``nonmonotone``, or
            an activation.

        Returns
        -------
        Activation
            The activation.
        """
        if isinstance(activation, Activation):
            return activation
        if not isinstance(activation, str):
            raise ParameterError(f"activation: need a name or Activation, got {activation!r}")
        if activation in NAMED_PIECEWISE:
            return cls.piecewise_linear(*NAMED_PIECEWISE[activation])
        if activation == "piecewise_linear":
            raise ValueError("activation: piecewise_linear needs knots; use Activation(...)")
        check_choice("activation", activation, (*ACTIVATION_KINDS, *NAMED_PIECEWISE))
        return cls(activation)

    @classmethod
    def piecewise_linear(cls, knots, values) -> Activation:
        """A bounded piecewise-linear activation, constant outside its knots.

        Parameters
        ----------
        knots : sequence of float
            Increasing abscissae (at least two).
        values : sequence of float
            ``σ`` at the knots.

        Returns
        -------
        Activation
            The activation.
        """
        return cls("piecewise_linear", tuple(map(float, knots)), tuple(map(float, values)))

    @property
    def kind(self) -> int:
        """The activation id the compiled kernels use (``ACTIVATION_KINDS``)."""
        return ACTIVATION_KINDS[self.name]

    @property
    def params(self) -> np.ndarray:
        """Knots then values (empty for the named activations)."""
        return np.array([*self.knots, *self.values], dtype=float)

    def __call__(self, t):
        t = np.asarray(t, dtype=float)
        if self.name == "relu":
            return np.maximum(t, 0.0)
        if self.name == "truncated_relu":
            return np.clip(t, 0.0, 1.0)
        if self.name == "sigmoid":
            return 0.5 * (1.0 + np.tanh(t))  # = 1/(1+e^{-2t}), overflow-free
        if self.name == "tanh":
            return np.tanh(t)
        return np.interp(t, self.knots, self.values)

    def derivative(self, t):
        """``σ′(t)`` (right derivative at kinks).

        Parameters
        ----------
        t : array_like
            Pre-activations.

        Returns
        -------
        ndarray
            Same shape as ``t``.
        """
        t = np.asarray(t, dtype=float)
        if self.name == "relu":
            return (t > 0).astype(float)
        if self.name == "truncated_relu":
            return ((t > 0) & (t < 1)).astype(float)
        if self.name == "sigmoid":
            return 0.5 * (1.0 - np.tanh(t) ** 2)
        if self.name == "tanh":
            return 1.0 - np.tanh(t) ** 2
        k, v = np.asarray(self.knots), np.asarray(self.values)
        slopes = np.diff(v) / np.diff(k)
        seg = np.searchsorted(k, t, side="right") - 1
        inside = (seg >= 0) & (seg < k.size - 1)
        return np.where(inside, slopes[np.clip(seg, 0, k.size - 2)], 0.0)

    def second_derivative(self, t):
        """``σ″(t)`` for the smooth activations; zero almost everywhere for piecewise-linear ones.

        ``wgflow.problems.gaussian_expectations`` handles their kinks in closed form.

        Parameters
        ----------
        t : array_like
            Pre-activations.

        Returns
        -------
        ndarray
            Same shape as ``t``.
        """
        t = np.asarray(t, dtype=float)
        if self.name == "sigmoid":
            th = np.tanh(t)
            return -th * (1.0 - th**2)
        if self.name == "tanh":
            th = np.tanh(t)
            return -2.0 * th * (1.0 - th**2)
        return np.zeros_like(t)

    @property
    def smooth(self) -> bool:
        """Whether ``σ`` is smooth (sigmoid, tanh) rather than piecewise linear."""
        return self.name in ("sigmoid", "tanh")


@dataclass(frozen=True, eq=False)
class GaussianMixture:
    """Labelled centred Gaussian mixture: ``y = y_k`` w.p. ``p_k``, ``x | k ~ N(0, Q S_k² Qᵀ)``.

    Parameters
    ----------
    labels : array_like, shape (K,)
        The label ``y`` of each class.
    probabilities : array_like, shape (K,)
        Non-negative, summing to 1.
    scales : array_like, shape (K, d)
        Standard deviations ``S_k`` along the axes of ``Q`` (≥ 0).
    rotation : array_like, shape (d, d), optional
        Orthogonal ``Q`` (default identity; costs O(d²) per sample when given).
    """

    labels: np.ndarray
    probabilities: np.ndarray
    scales: np.ndarray
    rotation: np.ndarray | None = None

    def __post_init__(self) -> None:
        labels = np.atleast_1d(real_array("labels", self.labels))
        probs = np.atleast_1d(real_array("probabilities", self.probabilities))
        scales = np.atleast_2d(real_array("scales", self.scales))
        k = labels.size
        if not np.all(np.isfinite(labels)):
            raise ValueError("labels: need finite values")
        if probs.shape != (k,) or scales.shape[0] != k or scales.ndim != 2:
            raise ValueError("scales: need shape (K, d) and K labels and probabilities")
        if not np.all(np.isfinite(probs)) or np.any(probs < 0) or not np.isclose(probs.sum(), 1.0):
            raise ValueError("probabilities: need non-negative values summing to 1")
        if np.any(scales < 0) or not np.all(np.isfinite(scales)):
            raise ValueError("scales: need finite non-negative values")
        rot = self.rotation
        if rot is not None:
            rot = real_array("rotation", rot)
            d = scales.shape[1]
            orthogonal = rot.shape == (d, d) and np.all(np.isfinite(rot))
            if not orthogonal or not np.allclose(rot @ rot.T, np.eye(d), atol=1e-8):
                raise ValueError(f"rotation: need an orthogonal ({d}, {d}) matrix")
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "probabilities", probs)
        object.__setattr__(self, "scales", scales)
        object.__setattr__(self, "rotation", rot)

    @property
    def dim(self) -> int:
        """The input dimension ``d``."""
        return self.scales.shape[1]

    @property
    def second_moment(self) -> float:
        """``E y²``."""
        return float(self.probabilities @ self.labels**2)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw samples with numpy.

        Parameters
        ----------
        n : int
            Number of samples.
        rng : numpy.random.Generator
            Randomness.

        Returns
        -------
        x : ndarray, shape (n, d)
            Inputs.
        y : ndarray, shape (n,)
            Labels.
        """
        k = rng.choice(self.labels.size, size=n, p=self.probabilities)
        x = rng.standard_normal((n, self.dim)) * self.scales[k]
        if self.rotation is not None:
            x = x @ self.rotation.T
        return x, self.labels[k]

    def describe(self) -> dict:
        """JSON-serializable description stored in archives.

        Returns
        -------
        dict
            Everything needed to rebuild it.
        """
        return {
            "kind": "gaussian_mixture",
            "labels": self.labels.tolist(),
            "probabilities": self.probabilities.tolist(),
            "dim": self.dim,
            "scales": self.scales.tolist(),
            "rotated": self.rotation is not None,
            "rotation_sha256": None
            if self.rotation is None
            else hashlib.sha256(np.ascontiguousarray(self.rotation, float).tobytes()).hexdigest(),
        }


@dataclass(frozen=True, eq=False)
class TeacherData:
    r"""Teacher–student regression: ``x ~ N(0, I_d)``, ``y = f*(x) + τ G``.

    The teacher is a two-layer network on the ``k``-dimensional subspace ``S`` spanned by the
    orthonormal rows of ``basis``:
    ``f*(x) = (1/M) Σ_j a*_j σ(⟨c_j, B x⟩ + b*_j)`` (``B`` the basis, ``c_j ∈ R^k``).

    Parameters
    ----------
    basis : array_like, shape (k, d)
        Orthonormal rows spanning ``S``.
    weights : array_like, shape (M, k)
        Teacher weights ``c_j`` in the coordinates of ``basis``.
    a, b : array_like, shape (M,)
        Teacher output weights and biases.
    activation : str or Activation
        The teacher's ``σ``.
    noise : float
        Label-noise standard deviation ``τ ≥ 0``.
    """

    basis: np.ndarray
    weights: np.ndarray
    a: np.ndarray
    b: np.ndarray
    activation: str | Activation = "relu"
    noise: float = 0.0

    def __post_init__(self) -> None:
        basis = np.atleast_2d(real_array("basis", self.basis))
        weights = np.atleast_2d(real_array("weights", self.weights))
        k, d = basis.shape
        if basis.ndim != 2 or not np.allclose(basis @ basis.T, np.eye(k), atol=1e-10):
            raise ValueError(f"basis: need orthonormal rows, shape (k, d), got {basis.shape}")
        if weights.ndim != 2 or weights.shape[1] != k:
            raise ValueError(f"weights: need shape (M, k={k}), got {weights.shape}")
        m = weights.shape[0]
        a = np.broadcast_to(real_array("a", self.a), (m,)).astype(float)
        b = np.broadcast_to(real_array("b", self.b), (m,)).astype(float)
        noise = float(self.noise)
        if not (np.isfinite(noise) and noise >= 0):
            raise ValueError(f"noise: need a finite standard deviation ≥ 0, got {self.noise!r}")
        object.__setattr__(self, "basis", basis)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "activation", Activation.named(self.activation))
        object.__setattr__(self, "noise", noise)

    @property
    def dim(self) -> int:
        """The input dimension ``d``."""
        return self.basis.shape[1]

    @property
    def full_weights(self) -> np.ndarray:
        """The teacher's weights in ``R^d``, ``w*_j = Bᵀ c_j``, shape ``(M, d)``."""
        return self.weights @ self.basis

    def target(self, x: np.ndarray) -> np.ndarray:
        """``f*(x)`` (numpy reference).

        Parameters
        ----------
        x : ndarray, shape (n, d)
            Inputs.

        Returns
        -------
        ndarray, shape (n,)
            Teacher outputs.
        """
        pre = (np.asarray(x, float) @ self.basis.T) @ self.weights.T + self.b
        return self.activation(pre) @ self.a / self.a.size

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw samples with numpy.

        Parameters
        ----------
        n : int
            Number of samples.
        rng : numpy.random.Generator
            Randomness.

        Returns
        -------
        x : ndarray, shape (n, d)
            Inputs.
        y : ndarray, shape (n,)
            Noisy teacher outputs.
        """
        x = rng.standard_normal((n, self.dim))
        return x, self.target(x) + self.noise * rng.standard_normal(n)

    def describe(self) -> dict:
        """JSON-serializable description stored in archives.

        Returns
        -------
        dict
            Everything needed to rebuild it.
        """
        return {
            "kind": "teacher",
            "dim": self.dim,
            "k": self.basis.shape[0],
            "width": self.a.size,
            "weights": self.weights.tolist(),
            "a": self.a.tolist(),
            "b": self.b.tolist(),
            "activation": self.activation.name,
            "activation_params": self.activation.params.tolist(),
            "noise": self.noise,
            "basis_sha256": hashlib.sha256(np.ascontiguousarray(self.basis).tobytes()).hexdigest(),
        }


#: the data laws SGD can sample in its kernel
DATA_LAWS = (GaussianMixture, TeacherData)


def component_names(parameters: str, d: int) -> list[str]:
    """Column names of the weight array: the head (``a``, ``b``) then ``w0 … w{d-1}``.

    Parameters
    ----------
    parameters : {"w", "aw", "abw"}
        Which parameters are trained.
    d : int
        Input dimension.

    Returns
    -------
    list of str
        One name per column.
    """
    return [*PARAMETER_HEADS[parameters], *(f"w{j}" for j in range(d))]


def neutral_head(n: int, count: int) -> list[np.ndarray]:
    """The first ``count`` of the head columns ``a = 1``, ``b = 0`` for ``n`` neurons.

    Parameters
    ----------
    n : int
        Number of neurons.
    count : {0, 1, 2}
        Head columns wanted.

    Returns
    -------
    list of ndarray, shape (n,)
        ``[ones]``, ``[ones, zeros]`` or ``[]``.
    """
    return [np.ones(n), np.zeros(n)][:count]


def _default_initial_weights(parameters: str, d: int):
    def initial(n: int, rng: np.random.Generator) -> np.ndarray:
        w = rng.standard_normal((n, d)) / np.sqrt(d)
        return np.column_stack([*neutral_head(n, len(PARAMETER_HEADS[parameters])), w])

    return initial


@dataclass(frozen=True, eq=False)
class NetworkModel:
    """Everything SGD needs: architecture, data, and optional exact risk and reductions.

    Parameters
    ----------
    data : GaussianMixture or TeacherData
        The law of ``(x, y)``.
    activation : str or Activation
        The activation ``σ`` (a name or an :class:`Activation`).
    trained : {"w", "aw", "abw"}
        Which parts of each neuron SGD trains (``w`` always; ``a`` the output weight, ``b``
        the bias; absent ones are ``a = 1``, ``b = 0``).
    population_risk : callable, optional
        ``R_N(θ)`` for weights of shape ``(N, P)``: ``E (y − f(x; θ))²``. Without it SGD
        estimates the risk on a fixed held-out Monte-Carlo set.
    reduced_coordinates : callable, optional
        ``θ (N, P) ↦ {name: array (N,)}`` (e.g. ``r1``, ``r2``), recorded at checkpoints.
    collective_coordinates : callable, optional
        ``θ (N, P) ↦ {name: float}``: statistics of the whole network (e.g. ``v2``, the squared
        norm of its mean uninformative weight), recorded at checkpoints.
    initial_weights : callable, optional
        ``(N, rng) ↦ θ0 (N, P)``; default ``w ~ N(0, I/d)``, ``a = 1``, ``b = 0``.
    name : str
        Short description stored in archives.
    metadata : dict
        JSON-serializable description (problem name and parameters) copied into archives.
    """

    data: GaussianMixture | TeacherData
    activation: str | Activation = "relu"
    trained: str = "w"
    population_risk: Callable[[np.ndarray], float] | None = None
    reduced_coordinates: Callable[[np.ndarray], dict] | None = None
    collective_coordinates: Callable[[np.ndarray], dict] | None = None
    initial_weights: Callable | None = None
    name: str = "two-layer network"
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.data, DATA_LAWS):
            raise ParameterError(
                f"data: need a GaussianMixture or TeacherData, got {type(self.data).__name__}"
            )
        object.__setattr__(self, "activation", Activation.named(self.activation))
        check_choice("trained", self.trained, PARAMETER_SETS)
        if self.initial_weights is None:
            object.__setattr__(
                self, "initial_weights", _default_initial_weights(self.trained, self.data.dim)
            )

    @property
    def has_a(self) -> bool:
        """Whether the output weights ``a`` are trained."""
        return self.trained in ("aw", "abw")

    @property
    def has_b(self) -> bool:
        """Whether the biases ``b`` are trained."""
        return self.trained == "abw"

    @property
    def n_params(self) -> int:
        """``P`` = columns of the weight array."""
        return self.data.dim + self.has_a + self.has_b

    @property
    def components(self) -> list[str]:
        """Column names of the weights: ``a``, ``b`` (when trained), ``w0 … w{d-1}``."""
        return component_names(self.trained, self.data.dim)

    def predict(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        """``f(x; θ) = (1/N) Σ_i σ*(x; θ_i)`` (numpy reference).

        Parameters
        ----------
        theta : ndarray, shape (N, P)
            Weights.
        x : ndarray, shape (n, d)
            Inputs.

        Returns
        -------
        ndarray, shape (n,)
            Network outputs.
        """
        off = self.has_a + self.has_b
        pre = x @ theta[:, off:].T
        if self.has_b:
            pre = pre + theta[:, 1]
        act = self.activation(pre)
        if self.has_a:
            act = act * theta[:, 0]
        return act.mean(axis=1)

    def describe(self) -> dict:
        """JSON-serializable description stored in archives.

        Returns
        -------
        dict
            Everything needed to rebuild it.
        """
        return {
            "name": self.name,
            "activation": self.activation.name,
            "activation_params": self.activation.params.tolist(),
            "trained": self.trained,
            "data": self.data.describe(),
            **self.metadata,
        }
