r"""Interacting particles: Euler–Maruyama for the McKean–Vlasov SDE of a free energy."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import xarray as xr

from wgflow import io
from wgflow.energy import Entropy, FreeEnergy
from wgflow.errors import BlowUpError, ParameterError
from wgflow.interactions import GeneralInteraction, PairwiseInteraction, SeparableInteraction
from wgflow.measures import ParticleMeasure
from wgflow.random import children, seed_sequence
from wgflow.resources import check_memory
from wgflow.solver import Solver
from wgflow.validation import check_choice, check_positive, real_array, strict_keywords

from .particle_kernels import chunked_pair_sum, pairwise_energy, pairwise_forces


@dataclass
class ParticleState:
    """One run's data: time ``t``, positions ``(R, N, D)``, weights ``(N,)``, steps taken and
    each replica's noise generator (advanced in place)."""

    t: float
    positions: np.ndarray
    weights: np.ndarray
    rngs: list[np.random.Generator]
    steps: int = 0


class Particles(Solver):
    r"""Euler–Maruyama for ``dθ_i = −∇Ψ[ρ_N](θ_i) dt + √(2/β) dB_i``.

    ``ρ_N = Σ_j w_j δ_{θ_j}`` is the weighted empirical measure and
    ``∇Ψ[ρ_N](θ) = ∇V(θ) + Σ_j w_j ∇_θ U(θ, θ_j)``. One step:

    .. math::
        \theta_i \leftarrow \theta_i - \Delta t\, \nabla\Psi[\rho_N](\theta_i)
        + \sqrt{2\Delta t/\beta}\; g_i, \qquad g_i \sim N(0, I_D).

    Strong order ½ and weak order 1 in ``Δt`` for smooth ``V``, ``U``; the empirical measure
    approaches the PDE solution at rate ``N^{-1/2}`` (propagation of chaos). Explicit: stable
    for ``Δt`` below ``2 / L`` with ``L`` the Lipschitz constant of ``∇Ψ``. ``β`` comes from the
    energy's :class:`~wgflow.Entropy` term (no internal energy: noiseless); porous-medium
    energies have no particle form.

    Interaction costs: pairwise kernels from :meth:`PairwiseInteraction.power_law` /
    :meth:`PairwiseInteraction.gaussian` use a compiled ``O(N²)`` ``prange`` kernel; other
    pairwise kernels (with a numpy ``gradient``) and :class:`GeneralInteraction` use a chunked
    ``O(N²)`` numpy sum (the slow path); :class:`SeparableInteraction` costs ``O(N K)``.

    Parameters
    ----------
    energy : FreeEnergy
        Its potential needs a ``gradient``; interactions need gradients or a radial family.
    dt : float
        Time step, > 0.
    seed : int or numpy.random.SeedSequence, optional
        Replica ``r`` draws its noise from ``SeedSequence(seed).spawn(R)[r]``; the same seed
        gives the same result bit for bit, whatever the number of threads.
    dtype : {"float64", "float32"}
        Storage and arithmetic precision of the positions (``∇V`` callables may compute in
        float64; results are cast back).
    replicas : int
        ``R`` independent systems advanced together.
    domain : sequence of (lo, hi), optional
        Box the particles must stay in; leaving it stops the run (:class:`wgflow.BlowUpError`
        naming the time) with the last good state kept.
    keep_particles : int, optional
        Store only the first ``M`` particles' positions (thinning; i.i.d. particles make this
        a random subsample). Energies use all particles.

    Notes
    -----
    ``run(x0, t_final, save_every)`` (see :meth:`wgflow.solver.Solver.run`) takes positions of
    shape ``(N, D)`` (shared by all replicas) or ``(R, N, D)``, or a
    :class:`~wgflow.ParticleMeasure` (its weights are used; default ``1/N``), and returns
    ``positions(time, [replica,] particle, component)``, ``weights(particle)``,
    ``energy(time[, replica])``, ``free_energy`` when noiseless and ``steps(time)``.

    Examples
    --------
    4000 particles of the 1-D Ornstein–Uhlenbeck process: the mean decays like ``e^{−t}``.

    >>> import numpy as np
    >>> from wgflow.problems import OrnsteinUhlenbeck
    >>> prob = OrnsteinUhlenbeck(dim=1, diffusion=0.5, mean0=[1.0], var0=0.3)
    >>> x0 = np.random.default_rng(0).normal(1.0, np.sqrt(0.3), size=(4000, 1))
    >>> ds = Particles(prob.energy, dt=0.01, seed=0).run(x0, 0.5, progress=False)
    >>> print(f"{float(ds['positions'][-1].mean()):.2f} vs exact {np.exp(-0.5):.2f}")
    0.60 vs exact 0.61
    """

    name = "Particles"
    title = "particle simulation"

    @strict_keywords
    def __init__(
        self,
        energy: FreeEnergy,
        dt: float,
        seed: int | np.random.SeedSequence | None = None,
        dtype: str = "float64",
        replicas: int = 1,
        domain=None,
        keep_particles: int | None = None,
    ) -> None:
        if not isinstance(energy, FreeEnergy):
            raise ParameterError(f"energy: need a FreeEnergy, got {type(energy).__name__}")
        self.energy = energy
        self.dt = check_positive("dt", dt)
        self.dtype = np.dtype(check_choice("dtype", str(np.dtype(dtype)), ("float64", "float32")))
        if not isinstance(replicas, int | np.integer) or replicas < 1:
            raise ValueError(f"replicas: need an integer ≥ 1, got {replicas!r}")
        self.replicas = int(replicas)
        internal = energy.internal
        if internal is not None and not isinstance(internal, Entropy):
            raise ValueError(
                "energy: particles need an entropy (linear diffusion) or no internal energy, "
                f"got {type(internal).__name__}"
            )
        self.beta = np.inf if internal is None else internal.beta
        pot = energy.potential_term
        if pot is not None and pot.gradient is None:
            raise ValueError(f"energy: potential {pot.name!r} needs a gradient for particles")
        for term in energy.interactions:
            radial = isinstance(term, PairwiseInteraction) and term.radial is not None
            if not radial and term.gradient is None:
                raise ValueError(
                    f"energy: interaction {term.name!r} needs a gradient for particles"
                )
        self.seed_sequence = seed_sequence(seed)
        self.domain = None
        if domain is not None:
            try:
                box = np.array(domain, dtype=float).reshape(-1, 2)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"domain: need (lo, hi) pairs, got {domain!r}") from exc
            if not np.all(box[:, 1] > box[:, 0]):
                raise ValueError(f"domain: need lo < hi on every axis, got {domain!r}")
            self.domain = box
        if keep_particles is not None and (
            not isinstance(keep_particles, int | np.integer) or keep_particles < 1
        ):
            raise ValueError(f"keep_particles: need a positive integer, got {keep_particles!r}")
        self.keep_particles = None if keep_particles is None else int(keep_particles)

    # ---- physics ---------------------------------------------------------------------------
    def drift(self, x: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The drift ``−∇Ψ[ρ_N] + b(·; ρ_N)`` at the particles.

        ``b`` is the energy's non-gradient drift (:mod:`wgflow.drift`), if any.

        Parameters
        ----------
        x : ndarray, shape (N, D)
            Positions (float64).
        weights : ndarray, shape (N,)
            Particle weights.

        Returns
        -------
        ndarray, shape (N, D)
            The drift.
        """
        grad = np.zeros_like(x)
        pot = self.energy.potential_term
        if pot is not None:
            grad += np.asarray(pot.gradient(x), dtype=float).reshape(x.shape)
        for term in self.energy.interactions:
            grad += interaction_gradient(term, x, weights)
        drift = self.energy.drift
        if drift is not None:  # a non-gradient velocity b(x; ρ_N)
            return drift.velocity_at(x, drift.moments_of_particles(x, weights)) - grad
        return -grad

    def particle_energy(self, x: np.ndarray, weights: np.ndarray) -> float:
        """``∫V dρ_N + ½∫∫U dρ_N dρ_N`` (coincident pairs skipped; no entropy term).

        Parameters
        ----------
        x : ndarray, shape (N, D)
            Positions (float64).
        weights : ndarray, shape (N,)
            Particle weights.

        Returns
        -------
        float
            The energy of the weighted empirical measure.
        """
        total = 0.0
        pot = self.energy.potential_term
        if pot is not None and callable(pot.value):
            total += float(weights @ np.asarray(pot.value(x), dtype=float))
        for term in self.energy.interactions:
            total += interaction_energy(term, x, weights)
        return total

    # ---- the solver protocol ---------------------------------------------------------------
    def initial_state(self, x0) -> ParticleState:
        """Validate the initial positions and seed each replica's noise.

        Parameters
        ----------
        x0 : ndarray, shape (N, D) or (R, N, D), or ParticleMeasure
            Initial positions (a measure also gives the weights).

        Returns
        -------
        ParticleState
            Positions, weights and generators at ``t = 0``.
        """
        positions, weights = self._check_initial(x0)
        rngs = [np.random.default_rng(s) for s in children(self.seed_sequence, self.replicas)]
        return ParticleState(0.0, positions.astype(self.dtype, order="C"), weights, rngs)

    def advance(self, state: ParticleState, t_next: float) -> ParticleState:
        n_steps = max(1, int(np.ceil((t_next - state.t) / self.dt * (1 - 1e-12))))
        dt = (t_next - state.t) / n_steps
        x = state.positions.copy()
        rngs = copy.deepcopy(state.rngs)  # a failed advance leaves `state` intact
        noise_scale = 0.0 if np.isinf(self.beta) else np.sqrt(2.0 * dt / self.beta)
        for _ in range(n_steps):
            for r in range(self.replicas):
                xr_ = x[r].astype(np.float64, copy=False)
                step = dt * self.drift(xr_, state.weights)
                if noise_scale:
                    step += noise_scale * rngs[r].standard_normal(xr_.shape)
                x[r] += step.astype(self.dtype, copy=False)
        if not np.all(np.isfinite(x)):
            raise BlowUpError(state.t, "non-finite particle positions (reduce dt?)")
        if self.domain is not None:
            outside = np.any((x < self.domain[:, 0]) | (x > self.domain[:, 1]), axis=-1)
            if np.any(outside):
                raise BlowUpError(
                    state.t,
                    f"{int(outside.sum())} particles left the domain between t = "
                    f"{state.t:.6g} and {t_next:.6g}",
                )
        return ParticleState(t_next, x, state.weights, rngs, state.steps + n_steps)

    def checkpoint_state(self, state: ParticleState) -> tuple[dict, dict]:
        arrays = {"positions": state.positions, "weights": state.weights}
        rng_states = [g.bit_generator.state for g in state.rngs]
        return arrays, {"t": state.t, "steps": state.steps, "rng_states": rng_states}

    def restore_state(self, arrays: dict, meta: dict) -> ParticleState:
        positions = np.array(arrays["positions"], dtype=self.dtype, order="C")
        if positions.shape[0] != self.replicas:
            raise ValueError(
                f"path: checkpoint has {positions.shape[0]} replicas, solver {self.replicas}"
            )
        rngs = [np.random.default_rng() for _ in range(self.replicas)]
        for rng, saved in zip(rngs, meta["rng_states"], strict=True):
            rng.bit_generator.state = saved
        weights = np.asarray(arrays["weights"], dtype=np.float64)
        return ParticleState(float(meta["t"]), positions, weights, rngs, int(meta["steps"]))

    def step_count(self, state: ParticleState, t_final: float) -> float:
        """Steps to ``t_final`` (times replicas).

        Parameters
        ----------
        state : ParticleState
            The initial state.
        t_final : float
            The final time.

        Returns
        -------
        float
            ``(t_final − t) / dt · R``.
        """
        return max(1.0, (t_final - state.t) / self.dt) * self.replicas

    def snapshot(self, state: ParticleState) -> np.ndarray:
        return state.positions[:, : self.keep_particles].copy()

    def observables(self, state: ParticleState) -> dict:
        x = state.positions.astype(np.float64)
        energy = np.array(
            [self.particle_energy(x[r], state.weights) for r in range(self.replicas)]
        )
        return {"energy": energy, "steps": state.steps}

    def initial_condition(self) -> str:
        kept = "" if self.keep_particles is None else " (stored particles only)"
        return "positions at time 0" + kept

    def build_dataset(self, recorder, state: ParticleState) -> xr.Dataset:
        positions = np.stack(recorder.snapshots)  # (T, R, N, D)
        n, d = positions.shape[2], positions.shape[3]
        names = ["x", "y", "z"][:d] if d <= 3 else [f"theta{k}" for k in range(d)]
        names = list(self.energy.metadata.get("components", names))
        coords = {
            "time": xr.DataArray(np.array(recorder.times), dims="time", attrs=io.TIME_ATTRS),
            "particle": xr.DataArray(
                np.arange(n), dims="particle", attrs={"long_name": "particle index"}
            ),
            "component": xr.DataArray(
                names, dims="component", attrs={"long_name": "coordinate name"}
            ),
            "replica": xr.DataArray(
                np.arange(self.replicas),
                dims="replica",
                attrs={"long_name": "independent replica"},
            ),
        }
        ds = xr.Dataset(coords=coords)
        ds["positions"] = xr.DataArray(
            positions,
            dims=("time", "replica", "particle", "component"),
            attrs={"units": "1", "long_name": "particle positions"},
        )
        ds["weights"] = xr.DataArray(
            state.weights[:n],
            dims="particle",
            attrs={"units": "1", "long_name": "particle weights"},
        )
        energy = np.stack([obs["energy"] for obs in recorder.observables])
        long = "energy ∫V dρ_N + ½∫∫U dρ_N dρ_N of the empirical measure (no entropy term)"
        ds["energy"] = xr.DataArray(
            energy, dims=("time", "replica"), attrs={"units": "1", "long_name": long}
        )
        if np.isinf(self.beta):
            ds["free_energy"] = ds["energy"].assign_attrs(long_name="free energy of ρ_N")
        ds["steps"] = xr.DataArray(
            np.array([obs["steps"] for obs in recorder.observables]),
            dims="time",
            attrs={"units": "1", "long_name": "time steps taken since t = 0"},
        )
        ds.attrs["n_particles"] = int(state.weights.size)
        if self.replicas == 1:
            ds = ds.isel(replica=0, drop=True)
        return ds

    def parameters(self) -> dict:
        return {
            "solver": "Particles",
            "dt": self.dt,
            "beta": None if np.isinf(self.beta) else self.beta,
            "dtype": str(self.dtype),
            "replicas": self.replicas,
            "seed": self.seed_sequence.entropy,
            "domain": None if self.domain is None else self.domain.tolist(),
            "keep_particles": self.keep_particles,
            "energy": self.energy.describe(),
        }

    def _check_initial(self, x0) -> tuple[np.ndarray, np.ndarray]:
        weights = None
        if x0 is None:
            raise ValueError("x0: required (positions of shape (N, D) or (R, N, D))")
        if isinstance(x0, ParticleMeasure):
            weights = x0.weights
            x0 = x0.positions
        try:
            x = real_array("x0", x0)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"x0: need a real array of shape (N, D) or (R, N, D) ({exc})") from exc
        if x.ndim == 2:
            check_memory(
                "replicas",
                8.0 * self.replicas * x.size * 4,
                f"{self.replicas} replicas of {x.shape[0]} particles in {x.shape[1]}-D",
            )
            x = np.broadcast_to(x, (self.replicas, *x.shape))
        if x.ndim != 3 or x.shape[0] != self.replicas or x.shape[1] < 1 or x.shape[2] < 1:
            raise ValueError(
                f"x0: need shape (N, D) or ({self.replicas}, N, D) with N, D ≥ 1, got {x.shape}"
            )
        if not np.all(np.isfinite(x)):
            raise ValueError("x0: contains non-finite positions")
        self.energy.check_dimension(x.shape[2], "x0")
        if self.domain is not None and self.domain.shape[0] != x.shape[2]:
            raise ValueError(
                f"domain: need {x.shape[2]} (lo, hi) pairs for {x.shape[2]}-D particles, "
                f"got {self.domain.shape[0]}"
            )
        n = x.shape[1]
        if weights is None:
            w = np.full(n, 1.0 / n)
        else:
            w = real_array("weights", weights)
            if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
                raise ValueError(f"weights: need {n} finite non-negative values with positive sum")
        return x, w


def interaction_gradient(term, x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``Σ_j w_j ∇_θ U(x_i, x_j)`` for one interaction term; x (N, D) float64."""
    if isinstance(term, PairwiseInteraction):
        if term.radial is not None:
            out = np.empty_like(x)
            kind, params = term.radial
            pairwise_forces(x, weights, kind, params, out)
            return out
        return chunked_pair_sum(x, weights, lambda a, b: term.gradient(a - b), (x.shape[1],))
    if isinstance(term, SeparableInteraction):
        phi = np.asarray(term.features(x), dtype=float)  # (N, K)
        dphi = np.asarray(term.gradient(x), dtype=float)  # (N, K, D)
        moments = weights @ phi  # (K,)
        return np.einsum("k,nkd->nd", term.coefficients * moments, dphi)
    if isinstance(term, GeneralInteraction):
        if term.particle_gradient is not None:
            return np.asarray(term.particle_gradient(x, weights), dtype=float)
        return chunked_pair_sum(x, weights, term.gradient, (x.shape[1],))
    raise TypeError(f"unsupported interaction {type(term).__name__}")


def interaction_energy(term, x: np.ndarray, weights: np.ndarray) -> float:
    """``½ Σ_{i,j} w_i w_j U(x_i, x_j)`` (pairwise: coincident pairs skipped)."""
    if isinstance(term, PairwiseInteraction):
        if term.radial is not None:
            kind, params = term.radial
            return float(pairwise_energy(x, weights, kind, params))

        def masked(a, b):
            z = a - b
            same = np.all(z == 0, axis=-1)
            with np.errstate(divide="ignore", invalid="ignore"):
                values = term.kernel(np.where(same[..., None], 1.0, z))
            return np.where(same, 0.0, values)

        return 0.5 * float(weights @ chunked_pair_sum(x, weights, masked, ()))
    if isinstance(term, SeparableInteraction):
        moments = weights @ np.asarray(term.features(x), dtype=float)
        return 0.5 * float(term.coefficients @ moments**2)
    if term.particle_kernel is not None:
        return 0.5 * float(weights @ term.particle_kernel(x) @ weights)
    return 0.5 * float(weights @ chunked_pair_sum(x, weights, term.kernel, ()))
