r"""One-pass (online) SGD for mean-field two-layer networks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import xarray as xr

from wgflow import io
from wgflow.errors import BlowUpError, ParameterError
from wgflow.fingerprint import fingerprint
from wgflow.networks import NetworkModel, TeacherData
from wgflow.random import children, seed_sequence, stream_keys
from wgflow.resources import check_memory
from wgflow.solver import Solver
from wgflow.validation import (
    check_choice,
    check_positive,
    check_positive_int,
    check_real,
    real_array,
    strict_keywords,
)

from .sgd_kernels import (
    NOISE_GAUSSIAN,
    NOISE_NONE,
    NOISE_RADEMACHER,
    Batch,
    MixtureLaw,
    Network,
    Steps,
    Streams,
    TeacherLaw,
    initialize_batch,
    replica_steps,
    sgd_steps,
)

logger = logging.getLogger(__name__)

_CHUNK = 1 << 16  # steps per kernel call (bounds the schedule array; lets Ctrl-C through)


@dataclass
class SGDState:
    """Global step ``k`` (time ``k ε``), weights ``θ (R, N, P)`` and the pending batch.

    Parameters
    ----------
    k : int
        Steps taken (the time is ``k ε``).
    theta : ndarray, shape (R, N, P)
        Weights of every replica.
    x : ndarray, shape (R, B, d)
        Inputs of the batch the next step uses.
    y : ndarray, shape (R, B)
        Their labels.
    pre : ndarray, shape (R, N, B)
        Pre-activations ``⟨w_i, x⟩ + b_i`` of that batch.
    f : ndarray, shape (R, B)
        Network outputs on that batch.
    """

    k: int
    theta: np.ndarray
    x: np.ndarray
    y: np.ndarray
    pre: np.ndarray
    f: np.ndarray


class SGD(Solver):
    r"""Online SGD on ``f(x; θ) = (1/N) Σ_i σ*(x; θ_i)``, one fresh batch per step.

    One step (time increment ``ε``, so ``t = k ε``; see the conventions page of the docs):

    .. math::
        \theta_i \leftarrow \theta_i + \varepsilon\xi(t)\Big[\frac1B\sum_{b}
        (y_b - f(x_b;\theta))\nabla_\theta\sigma_*(x_b;\theta_i) - \lambda\theta_i\Big]
        + \sqrt{2\varepsilon\xi(t)/\beta}\; g_i .

    As ``N → ∞``, ``ε → 0`` the empirical measure of the ``θ_i`` follows
    ``∂t ρ = ξ ∇·(ρ ∇(Ψ + λ|θ|²/2)) + ξ β⁻¹ Δρ`` with ``V(θ) = −E y σ*(x; θ)``,
    ``U(θ, θ′) = E σ*(x; θ) σ*(x; θ′)``. The kernel is fused: one read and one write of the
    ``N × P`` weights per step, no allocation per step, replicas in parallel (``prange``).

    Parameters
    ----------
    model : NetworkModel
        Architecture and data, or a problem object with a ``model()`` method (called with its
        defaults) or ``model`` attribute.
    n_neurons : int
        ``N ≥ 1``.
    step_size : float
        ``ε > 0``.
    seed : int or SeedSequence, optional
        Fixes the initial weights, the data stream, the noise and the held-out set.
    schedule : callable, optional
        ``ξ(t)`` (vectorized over an array of times; default 1).
    weight_decay : float
        ``λ ≥ 0``.
    beta : float
        Inverse temperature ``β > 0`` (``inf``: noiseless).
    batch_size : int
        ``B ≥ 1`` samples per step.
    dtype : {"float64", "float32"}
    replicas : int
        Independent runs (own initial weights, data and noise) advanced together.
    noise : {"gaussian", "rademacher"}
        Gaussian increments, or ``±1`` increments with the same first two moments
        (weak order 1; cheaper).
    test_size : int
        Size of the held-out Monte-Carlo set when the model has no ``population_risk``.
    record_weights : bool
        Store all weights as ``positions(time, [replica,] particle, component)``.

    Notes
    -----
    ``run(theta0, t_final, save_every, spacing=...)`` (see :meth:`wgflow.solver.Solver.run`)
    takes initial weights of shape ``(N, P)`` or ``(R, N, P)``, or ``None`` for the model's
    seeded initializer; each observation is taken at the last whole step at or before its time
    (so no time passes ``t_final``). It returns
    ``risk(time[, replica])``, ``steps(time)``, the model's reduced coordinates and, with
    ``record_weights``, the weights.

    Examples
    --------
    A relu network of 200 neurons on anisotropic Gaussians in ``d = 40``, ``t = kε ≤ 1``:

    >>> from wgflow.problems import AnisotropicGaussians
    >>> prob = AnisotropicGaussians(d=40, s0=10, delta=0.5, activation="relu")
    >>> sgd = SGD(prob.model(initial_scale=0.8), n_neurons=200, step_size=1e-3, seed=0)
    >>> ds = sgd.run(t_final=1.0, progress=False)
    >>> print(ds.sizes["time"], f"{float(ds.risk[0]):.3f} → {float(ds.risk[-1]):.3f}")
    11 1.032 → 0.975
    """

    name = "SGD"
    title = "online SGD"

    @strict_keywords
    def __init__(
        self,
        model,
        n_neurons: int,
        step_size: float,
        seed: int | np.random.SeedSequence | None = None,
        schedule: Callable | None = None,
        weight_decay: float = 0.0,
        beta: float = np.inf,
        batch_size: int = 1,
        dtype: str = "float64",
        replicas: int = 1,
        noise: str = "gaussian",
        test_size: int = 2000,
        record_weights: bool = False,
    ) -> None:
        if not isinstance(model, NetworkModel) and hasattr(model, "model"):
            model = model.model() if callable(model.model) else model.model  # a problem object
        if not isinstance(model, NetworkModel):
            raise ParameterError(f"model: need a NetworkModel, got {type(model).__name__}")
        self.model = model
        self.n_neurons = check_positive_int("n_neurons", n_neurons)
        self.step_size = check_positive("step_size", step_size)
        if schedule is not None and not callable(schedule):
            raise ParameterError("schedule: need a callable ξ(t) or None")
        self.schedule = schedule
        self.weight_decay = check_real("weight_decay", weight_decay, low=0.0)
        self.beta = check_real("beta", beta, low=0.0, low_open=True, allow_inf=True)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.dtype = np.dtype(check_choice("dtype", str(np.dtype(dtype)), ("float64", "float32")))
        self.replicas = check_positive_int("replicas", replicas)
        per_replica = self.n_neurons * (model.n_params + self.batch_size) * 3 * self.dtype.itemsize
        check_memory(
            "n_neurons" if self.n_neurons >= self.replicas else "replicas",
            per_replica * self.replicas,
            f"{self.replicas} replica(s) of {self.n_neurons} neurons × {model.n_params} weights",
        )
        self.noise = check_choice("noise", noise, ("gaussian", "rademacher"))
        self.test_size = check_positive_int("test_size", test_size)
        self.seed_sequence = seed_sequence(seed)
        streams = children(self.seed_sequence, self.replicas + 1)
        self._init_seeds = streams[:-1]
        keys = np.array([stream_keys(c, 2) for c in streams[:-1]])
        #: counter-based keys per replica: ``streams.data (R,)`` and ``streams.noise (R,)``
        self.streams = Streams(
            data=np.ascontiguousarray(keys[:, 0]), noise=np.ascontiguousarray(keys[:, 1])
        )
        self._test_rng = np.random.default_rng(streams[-1])
        self._law = data_law(model.data, self.dtype)
        self._network = Network(
            activation=model.activation.kind,
            activation_params=model.activation.params.astype(self.dtype),
            has_a=model.has_a,
            has_b=model.has_b,
        )
        self._test_set = None
        if not isinstance(record_weights, bool | np.bool_):
            raise ParameterError(f"record_weights: need True or False, got {record_weights!r}")
        self.record_weights = bool(record_weights)

    # ---- helpers ---------------------------------------------------------------------------
    @property
    def noise_scale(self) -> float:
        """``√(2ε/β)`` (0 when noiseless)."""
        return 0.0 if np.isinf(self.beta) else float(np.sqrt(2.0 * self.step_size / self.beta))

    def _noise_kind(self) -> int:
        if np.isinf(self.beta):
            return NOISE_NONE
        return NOISE_GAUSSIAN if self.noise == "gaussian" else NOISE_RADEMACHER

    def initial_weights(self) -> np.ndarray:
        """Initial weights from the model's initializer (seeded per replica; same every call).

        Returns
        -------
        ndarray, shape (R, N, P)
            The weights.
        """
        thetas = [
            np.asarray(self.model.initial_weights(self.n_neurons, rng), dtype=float)
            for rng in map(np.random.default_rng, self._init_seeds)
        ]
        return np.stack(thetas)

    def risk(self, theta: np.ndarray) -> float:
        """Population risk ``E (y − f(x; θ))²`` (exact, or on the held-out set).

        Parameters
        ----------
        theta : ndarray, shape (N, P)
            Weights of one network.

        Returns
        -------
        float
            The risk.
        """
        return self.risk_and_error(theta)[0]

    def risk_and_error(self, theta: np.ndarray) -> tuple[float, float]:
        """:meth:`risk` and its standard error (0 when exact).

        Parameters
        ----------
        theta : ndarray, shape (N, P)
            Weights of one network.

        Returns
        -------
        risk : float
            The risk.
        stderr : float
            The held-out estimate's standard error ``std(ℓ)/√n`` over its ``n`` losses
            ``ℓ = (y − f(x))²`` (0 for the exact risk). The held-out set is fixed, so the errors
            at different times are strongly correlated: it bounds each value, not differences.
        """
        theta = np.asarray(theta, dtype=np.float64)
        if self.model.population_risk is not None:
            return float(self.model.population_risk(theta)), 0.0
        if self._test_set is None:
            self._test_set = self.model.data.sample(self.test_size, self._test_rng)
        x, y = self._test_set
        losses = (y - self.model.predict(theta, x)) ** 2
        return float(np.mean(losses)), float(np.std(losses, ddof=1) / np.sqrt(losses.size))

    # ---- the solver protocol ---------------------------------------------------------------
    def initial_state(self, theta0) -> SGDState:
        """Validate (or draw) the initial weights and sample the first batch.

        Parameters
        ----------
        theta0 : ndarray, shape (N, P) or (R, N, P), or None
            Initial weights (``None``: :meth:`initial_weights`).

        Returns
        -------
        SGDState
            Step 0, the weights and the first batch.
        """
        theta = self.initial_weights() if theta0 is None else self._check_theta(theta0)
        theta = np.array(theta, dtype=self.dtype, order="C")  # never mutate the caller's array
        r, n, _ = theta.shape
        b, d = self.batch_size, self.model.data.dim
        x = np.empty((r, b, d), self.dtype)
        y = np.empty((r, b), self.dtype)
        pre = np.empty((r, n, b), self.dtype)
        f = np.empty((r, b), self.dtype)
        initialize_batch(
            theta, Batch(x, y, pre, f), 0, self._network, self._law, self.streams.data
        )
        return SGDState(0, theta, x, y, pre, f)

    def time(self, state: SGDState) -> float:
        return state.k * self.step_size

    def _last_step(self, t: float) -> int:
        """The last whole step at or before ``t`` (a relative 1e-9 slack absorbs round-off)."""
        return int(np.floor(t / self.step_size * (1 + 1e-9)))

    def check_times(self, times: np.ndarray) -> np.ndarray:
        """Observation times on whole steps: times sharing a step are observed once.

        Parameters
        ----------
        times : ndarray
            The run's observation times.

        Returns
        -------
        ndarray
            ``times`` without those that fall on the same step as an earlier one.

        Raises
        ------
        ValueError
            Naming ``t_final`` when it is shorter than one step.
        """
        steps = np.array([self._last_step(t) for t in times])
        if steps[-1] < 1:
            raise ValueError(
                f"t_final: {times[-1]:g} is shorter than one step (step_size = {self.step_size:g})"
            )
        if self.schedule is not None:  # refuse a bad ξ(t) before the run, not at its step
            probe = np.unique(np.linspace(0, steps[-1], min(steps[-1], 100_000) + 1).astype(int))
            self._schedule_values(probe * self.step_size)
        keep = np.concatenate([[True], np.diff(steps) > 0])
        if not np.all(keep):
            logger.info(
                "SGD: %d observation times fall on an already observed step (step_size %g); "
                "observed once",
                int((~keep).sum()),
                self.step_size,
            )
        return np.asarray(times)[keep]

    def _schedule_values(self, times: np.ndarray) -> np.ndarray:
        """``ξ(times)``, or a ``ValueError`` naming the first bad time."""
        try:
            xi = np.asarray(self.schedule(times))
        except Exception as exc:  # a user callable: name it, keep the original chained
            raise ValueError(
                f"schedule: ξ(t) raised {type(exc).__name__}: {exc} (t in [{times[0]:.6g}, "
                f"{times[-1]:.6g}])"
            ) from exc
        if xi.shape != times.shape or xi.dtype.kind not in "biuf":
            raise ValueError(
                f"schedule: ξ(t) must return real values of the times' shape {times.shape}, got "
                f"shape {xi.shape}, dtype {xi.dtype}"
            )
        xi = xi.astype(float)
        bad = ~np.isfinite(xi) | (xi < 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"schedule: ξ(t) must return finite non-negative values, got ξ({times[i]:.6g}) "
                f"= {xi[i]!r}"
            )
        return xi

    def step_count(self, state: SGDState, t_final: float) -> float:
        """Steps to ``t_final`` (times replicas).

        Parameters
        ----------
        state : SGDState
            The initial state.
        t_final : float
            The final time.

        Returns
        -------
        float
            ``(t_final / ε − k) · R``.
        """
        return float(self._last_step(t_final) - state.k) * self.replicas

    def advance(self, state: SGDState, t_next: float) -> SGDState:
        # work on copies: an interrupted advance leaves the caller's state consistent
        state = SGDState(
            state.k, *(a.copy() for a in (state.theta, state.x, state.y, state.pre, state.f))
        )
        target = self._last_step(t_next)
        x_next, y_next, pre_next = (np.empty_like(a) for a in (state.x, state.y, state.pre))
        coef = np.array([self.step_size, self.weight_decay, self.noise_scale, 1.0], self.dtype)
        while state.k < target:
            n = min(_CHUNK, target - state.k)
            times = (state.k + np.arange(n)) * self.step_size
            xi = np.ones(n) if self.schedule is None else self._schedule_values(times)
            steps = Steps(state.k, n, coef, xi.astype(self.dtype), self._noise_kind())
            if self.replicas == 1:  # the serial kernel itself: no parallel region to compile
                replica_steps(
                    state.theta[0],
                    Batch(state.x[0], state.y[0], state.pre[0], state.f[0]),
                    Batch(x_next[0], y_next[0], pre_next[0], state.f[0]),
                    steps,
                    self._network,
                    self._law,
                    Streams(self.streams.data[0], self.streams.noise[0]),
                )
            else:
                sgd_steps(
                    state.theta,
                    Batch(state.x, state.y, state.pre, state.f),
                    Batch(x_next, y_next, pre_next, state.f),
                    steps,
                    self._network,
                    self._law,
                    self.streams,
                )
            state.k += n
            if not np.all(np.isfinite(state.f)):
                raise BlowUpError(self.time(state), "network output is not finite (ε too large?)")
        return state

    def checkpoint_state(self, state: SGDState) -> tuple[dict, dict]:
        arrays = {
            "theta": state.theta,
            "x": state.x,
            "y": state.y,
            "pre": state.pre,
            "f": state.f,
            "keys_data": self.streams.data,
            "keys_noise": self.streams.noise,
        }
        return arrays, {"k": state.k}

    def restore_state(self, arrays: dict, meta: dict) -> SGDState:
        if not (
            np.array_equal(arrays["keys_data"], self.streams.data)
            and np.array_equal(arrays["keys_noise"], self.streams.noise)
        ):
            raise ValueError("path: the checkpoint's random streams differ (another seed?)")
        parts = (
            np.array(arrays[n], dtype=self.dtype, order="C")
            for n in ("theta", "x", "y", "pre", "f")
        )
        return SGDState(int(meta["k"]), *parts)

    def snapshot(self, state: SGDState) -> dict:
        snap = {}
        if self.record_weights:
            snap["positions"] = state.theta.copy()
        reduce = self.model.reduced_coordinates
        if reduce is not None:
            coords = [reduce(np.asarray(th, np.float64)) for th in state.theta]
            for name in coords[0]:
                snap[name] = np.stack([c[name] for c in coords])
        collective = self.model.collective_coordinates
        if collective is not None:
            stats = [collective(np.asarray(th, np.float64)) for th in state.theta]
            for name in stats[0]:
                snap[name] = np.array([s[name] for s in stats], dtype=float)
        return snap

    def observables(self, state: SGDState) -> dict:
        pairs = np.array([self.risk_and_error(th) for th in state.theta])
        return {"risk": pairs[:, 0], "risk_stderr": pairs[:, 1], "steps": state.k}

    def problem_name(self) -> str:
        return str(self.model.metadata.get("problem", self.model.name))

    def initial_condition(self) -> str:
        return "seeded model initializer unless theta0 was given (weights at time 0)"

    def build_dataset(self, recorder, state) -> xr.Dataset:
        model = self.model
        coords = {
            "time": xr.DataArray(np.array(recorder.times), dims="time", attrs=io.TIME_ATTRS),
            "replica": xr.DataArray(
                np.arange(self.replicas),
                dims="replica",
                attrs={"long_name": "independent replica"},
            ),
            "particle": xr.DataArray(
                np.arange(self.n_neurons),
                dims="particle",
                attrs={"long_name": "neuron index"},
            ),
        }
        ds = xr.Dataset(coords=coords)
        exact = model.population_risk is not None
        ds["risk"] = xr.DataArray(
            np.stack([obs["risk"] for obs in recorder.observables]),
            dims=("time", "replica"),
            attrs={
                "units": "1",
                "long_name": "population risk E(y - f)^2"
                + ("" if exact else f" (held-out set of {self.test_size})"),
            },
        )
        if not exact and all("risk_stderr" in obs for obs in recorder.observables):
            ds["risk_stderr"] = xr.DataArray(
                np.stack([obs["risk_stderr"] for obs in recorder.observables]),
                dims=("time", "replica"),
                attrs={"units": "1", "long_name": "standard error of the held-out risk"},
            )
        ds["steps"] = xr.DataArray(
            np.array([obs["steps"] for obs in recorder.observables]),
            dims="time",
            attrs={"units": "1", "long_name": "SGD steps (samples / batch size)"},
        )
        names = list(recorder.snapshots[0]) if recorder.snapshots else []
        for name in names:
            values = np.stack([snap[name] for snap in recorder.snapshots])
            if name == "positions":
                ds = ds.assign_coords(
                    component=xr.DataArray(
                        model.components,
                        dims="component",
                        attrs={"long_name": "parameter name"},
                    )
                )
                ds[name] = xr.DataArray(
                    values,
                    dims=("time", "replica", "particle", "component"),
                    attrs={"units": "1", "long_name": "network weights"},
                )
            elif values.ndim == 2:  # a statistic of the whole network
                ds[name] = xr.DataArray(
                    values,
                    dims=("time", "replica"),
                    attrs={"units": "1", "long_name": f"network statistic {name}"},
                )
            else:
                ds[name] = xr.DataArray(
                    values,
                    dims=("time", "replica", "particle"),
                    attrs={"units": "1", "long_name": f"reduced coordinate {name}"},
                )
        if self.replicas == 1:
            ds = ds.isel(replica=0, drop=True)
        ds.attrs["risk_estimator"] = "exact" if exact else "held-out Monte Carlo"
        if not exact:
            ds.attrs["test_size"] = self.test_size
        return ds

    def parameters(self) -> dict:
        return {
            "solver": "SGD",
            "n_neurons": self.n_neurons,
            "step_size": self.step_size,
            "weight_decay": self.weight_decay,
            "beta": None if np.isinf(self.beta) else self.beta,
            "batch_size": self.batch_size,
            "dtype": str(self.dtype),
            "replicas": self.replicas,
            "noise": self.noise,
            "schedule": None if self.schedule is None else _describe_schedule(self.schedule),
            "seed": self.seed_sequence.entropy,
            "test_size": self.test_size,
            "record_weights": self.record_weights,
            "model": self.model.describe(),
        }

    def _check_theta(self, theta0) -> np.ndarray:
        try:
            theta = real_array("theta0", theta0)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"theta0: need a real array ({exc})") from exc
        if theta.ndim == 2:
            theta = np.broadcast_to(theta, (self.replicas, *theta.shape))
        want = (self.replicas, self.n_neurons, self.model.n_params)
        if theta.shape != want:
            raise ValueError(f"theta0: need shape {want[1:]} or {want}, got {theta.shape}")
        if not np.all(np.isfinite(theta)):
            raise ValueError("theta0: contains non-finite weights")
        return theta


def _describe_schedule(schedule) -> dict:
    """Name and code fingerprint of ``ξ(t)`` (two lambdas share a name, not a fingerprint)."""
    return {"name": getattr(schedule, "__name__", "ξ"), "code": fingerprint(schedule)}


def data_law(data, dtype) -> MixtureLaw | TeacherLaw:
    """The compiled kernel's bundle of a data law (numba compiles the sampler for its type).

    Parameters
    ----------
    data : GaussianMixture or TeacherData
        The law of ``(x, y)``.
    dtype : numpy dtype
        The weights' floating type.

    Returns
    -------
    MixtureLaw or TeacherLaw
        :class:`~wgflow.solvers.sgd_kernels.MixtureLaw` (arrays in ``dtype``; no ``(d, d)``
        identity when the data are not rotated) or
        :class:`~wgflow.solvers.sgd_kernels.TeacherLaw` (arrays in float64).
    """
    if isinstance(data, TeacherData):
        return TeacherLaw(
            basis=np.ascontiguousarray(data.basis, float),
            weights=np.ascontiguousarray(data.weights, float),
            a=data.a.astype(float), b=data.b.astype(float), activation=data.activation.kind,
            params=data.activation.params.astype(float), label_noise=float(data.noise),
        )  # fmt: skip
    return MixtureLaw(
        labels=data.labels.astype(dtype), cumprob=np.cumsum(data.probabilities),
        scales=data.scales.astype(dtype),
        rotation=(np.zeros((0, 0)) if data.rotation is None else data.rotation).astype(dtype),
        rotated=data.rotation is not None,
    )  # fmt: skip
