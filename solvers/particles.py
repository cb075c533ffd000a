r"""Interacting particles: Euler–Maruyama for the McKean–Vlasov SDE of a free energy."""

from __future__ import annotations

import contextlib
import copy
import re
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import xarray as xr

from wgflow import io
from wgflow.energy import Entropy, FreeEnergy, PorousMediumEnergy
from wgflow.errors import BlowUpError, CompilationNotice, ParameterError
from wgflow.interactions import GeneralInteraction, PairwiseInteraction, SeparableInteraction
from wgflow.measures import ParticleMeasure
from wgflow.random import children, seed_sequence
from wgflow.resources import check_memory
from wgflow.solver import Solver
from wgflow.validation import (
    check_choice,
    check_positive,
    check_real,
    real_array,
    strict_keywords,
)

from .blob_kernels import MOLLIFIERS, blob_densities, blob_energy, blob_gradient
from .particle_kernels import (
    chunked_pair_sum,
    family_energy,
    family_forces,
    pairwise_energy_numpy,
    pairwise_forces_numpy,
    profile_energy,
    profile_forces,
    vector_energy,
    vector_forces,
)


@dataclass
class ParticleState:
    """One run's data: time, positions, weights, noise generators and steps taken.

    Parameters
    ----------
    t : float
        Simulated time of the state.
    positions : ndarray, shape (R, N, D)
        Positions of the ``N`` particles of each of the ``R`` replicas (in the solver's
        ``dtype``, C order).
    weights : ndarray, shape (N,)
        Non-negative particle weights (default ``1/N`` each), shared by the replicas.
    rngs : list of numpy.random.Generator
        Each replica's noise generator (length ``R``), advanced in place by the steps.
    steps : int
        Euler–Maruyama steps taken since ``t = 0``.
    blob_width : float or None
        The blob method's mollifier width ``δ`` (same units as the positions), fixed at the
        start of the run; ``None`` without a porous-medium energy.
    """

    t: float
    positions: np.ndarray
    weights: np.ndarray
    rngs: list[np.random.Generator]
    steps: int = 0
    blob_width: float | None = None


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
    energy's :class:`~wgflow.Entropy` term (no internal energy: noiseless).

    **Nonlinear diffusion: the blob method.** A :class:`~wgflow.PorousMediumEnergy`
    ``H(ρ) = c ρ^m/(m−1)`` (any ``m > 1``) runs noiselessly on the deterministic blob method
    of Carrillo, Craig & Patacchini (Calc. Var. PDE 58 (2019) 53): the internal energy is
    replaced by ``H_δ(ρ) = ∫ U(φ_δ*ρ) dρ``, ``U(s) = H(s)/s = c s^{m−1}/(m−1)``, which on
    ``ρ_N`` is

    .. math::
        H_\delta(\rho_N) = \sum_i w_i\, U(\bar\rho_i), \qquad
        \bar\rho_i = \sum_j w_j\, \varphi_\delta(\theta_i - \theta_j),

    and the particles follow its Wasserstein gradient, ``∇Ψ`` gaining

    .. math::
        g_i = \sum_{j} w_j \big(U'(\bar\rho_i) + U'(\bar\rho_j)\big)\,
        \nabla\varphi_\delta(\theta_i - \theta_j), \qquad U'(s) = c\, s^{m-2}

    (``m = 2``: ``2c Σ_j w_j ∇φ_δ(θ_i − θ_j)``, the interaction energy ``c∫ρ φ_δ*ρ``). The
    particle ODE ``θ̇_i = −∇Ψ_i`` is the gradient flow of the regularized free energy
    ``∫V dρ_N + ½∫∫U dρ_N dρ_N + H_δ(ρ_N)`` for the weighted Euclidean metric, so that energy
    decreases (up to the ``O(Δt)`` of explicit Euler) and is archived as ``free_energy``. Rates
    (``benchmarks/bench_blob.py``, Barenblatt solutions from weighted particles on a grid of
    spacing ``h``): the trajectory error against the exact flow decays like ``h^{1.8}`` in 1-D
    (``δ ≈ h``); ``W2`` to the exact law like ``h`` (the quantization of any ``N``-point
    measure). Cost ``O(N²)`` per step (compiled, two passes) and an explicit, parabolic step
    limit: stable for ``Δt ≤ δ²/(c m max ρ̄^{m−1})`` (:meth:`blob_time_step`; instability
    measured at about 5× that), so a run costs ``O(N^{2 + 2/D})``. ``mollifier`` is
    ``"gaussian"`` (``φ_δ = (2πδ²)^{−D/2} e^{−|z|²/(2δ²)}``) or ``"quartic"``
    (``∝ (1 − |z|²/δ²)²₊``, 1- to 3-D); the default ``δ`` is :func:`default_blob_width`:
    ``δ = L (h_N/L)^{0.99}`` with ``h_N = L N^{−1/D}`` the mean spacing of the initial
    particles and ``L`` the geometric mean of their extents (the paper's ``δ = h^{1−p}``,
    scale-free). Particles should start well spread (e.g. cell centres weighted by the
    cells' masses, as in the paper): an isolated particle farther than a few ``δ`` from the
    rest feels no diffusion.

    Interaction costs: pairwise kernels from the constructors of :class:`PairwiseInteraction`
    (``newtonian``, ``morse``, ``exponential``, ``yukawa``, ``power_law``, ``gaussian``) use a
    compiled ``O(N²)`` kernel (threads from ``PARALLEL_MIN_ITEMS`` pairs up). A user's own
    pairwise kernel — ``PairwiseInteraction(kernel, gradient)`` with numpy functions of
    ``z`` of shape ``(..., D)``, or :meth:`PairwiseInteraction.radial_profile` with scalar
    functions of ``r`` — is compiled with numba when the run starts (checked against numpy on
    a probe) and called inside the same kind of ``O(N²)`` loop; what does not compile runs on a
    chunked numpy sum, with one :class:`~wgflow.errors.CompilationNotice` giving the reason.
    The self term ``j = i`` and coincident pairs are skipped on every path, so kernels singular
    at 0 work; a kernel or gradient of the wrong output shape is refused (``ValueError`` naming
    it). :class:`GeneralInteraction` uses a chunked numpy sum (the slow path),
    :class:`SeparableInteraction` costs ``O(N K)``. If the drift becomes non-finite at finite
    positions, the run stops (:class:`wgflow.BlowUpError`) naming the term, and for a pairwise
    kernel the distance and the pair.

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
    blob_width : float, optional
        ``δ > 0`` of the blob method (length units; porous-medium energies only, else
        refused). Default: :func:`default_blob_width` of the initial positions, archived as
        the attribute ``blob_width``.
    mollifier : {"gaussian", "quartic"}
        The blob function ``φ`` (porous-medium energies).

    Notes
    -----
    ``run(x0, t_final, save_every)`` (see :meth:`wgflow.solver.Solver.run`) takes positions of
    shape ``(N, D)`` (shared by all replicas) or ``(R, N, D)``, or a
    :class:`~wgflow.ParticleMeasure` (its weights are used; default ``1/N``), and returns
    ``positions(time, [replica,] particle, component)``, ``weights(particle)``,
    ``energy(time[, replica])``, ``free_energy`` when noiseless and ``steps(time)``.

    ``energy`` is ``∫V dρ_N + ½∫∫U dρ_N dρ_N`` of the weighted empirical measure (coincident
    pairs skipped), plus ``H_δ(ρ_N)`` for a porous-medium energy. Noiseless, that is the
    (regularized) free energy (also stored as ``free_energy``). With an
    :class:`~wgflow.Entropy` term it is **not**: a point cloud has no density, so the entropy
    ``β⁻¹∫ρ log ρ`` is left out, no ``free_energy`` is stored, and ``energy``'s ``long_name``
    and ``comment`` say so (estimate the entropy from a density estimate of the positions if
    needed).

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
        blob_width: float | None = None,
        mollifier: str = "gaussian",
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
        if internal is not None and not isinstance(internal, Entropy | PorousMediumEnergy):
            raise ValueError(
                "energy: particles need an entropy (linear diffusion), a porous-medium energy "
                f"(blob method) or no internal energy, got {type(internal).__name__}"
            )
        self.beta = internal.beta if isinstance(internal, Entropy) else np.inf
        self.mollifier = check_choice("mollifier", mollifier, tuple(MOLLIFIERS))
        #: ``(m, c)`` of the porous-medium energy run by the blob method, else None
        self.blob = None
        if isinstance(internal, PorousMediumEnergy):
            self.blob = (float(internal.m), float(internal.coefficient))
            if mollifier == "quartic" and energy.dim not in (None, 1, 2, 3):
                raise ValueError(
                    f"mollifier: 'quartic' is defined in 1-, 2- and 3-D, not {energy.dim}-D"
                )
        elif blob_width is not None:
            raise ValueError(
                "blob_width: only a porous-medium energy runs on the blob method (an entropy "
                "uses the stochastic Euler–Maruyama path, no internal energy needs nothing); "
                "leave blob_width=None"
            )
        self.blob_width = None if blob_width is None else check_real(
            "blob_width", blob_width, low=1e-100, high=1e100
        )
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
    def drift(
        self, x: np.ndarray, weights: np.ndarray, blob_width: float | None = None
    ) -> np.ndarray:
        """The drift ``−∇Ψ[ρ_N] + b(·; ρ_N)`` at the particles.

        ``b`` is the energy's non-gradient drift (:mod:`wgflow.drift`), if any; with a
        porous-medium energy ``∇Ψ`` includes the blob term ``g_i`` (see the class docstring).

        Parameters
        ----------
        x : ndarray, shape (N, D)
            Positions (float64).
        weights : ndarray, shape (N,)
            Particle weights.
        blob_width : float, optional
            ``δ`` of the blob term (default: the solver's ``blob_width``, else
            :func:`default_blob_width` of ``x``); ignored without a porous-medium energy.

        Returns
        -------
        ndarray, shape (N, D)
            The drift.
        """
        grad = np.zeros_like(x)
        if self.blob is not None:
            grad += blob_gradient(
                x, weights, *self.blob, self.mollifier, self._width(x, blob_width)
            )
        pot = self.energy.potential_term
        if pot is not None:
            grad += np.asarray(pot.gradient(x), dtype=float).reshape(x.shape)
        for term in self.energy.interactions:
            grad += interaction_gradient(term, x, weights)
        drift = self.energy.drift
        if drift is not None:  # a non-gradient velocity b(x; ρ_N)
            return drift.velocity_at(x, drift.moments_of_particles(x, weights)) - grad
        return -grad

    def particle_energy(
        self, x: np.ndarray, weights: np.ndarray, blob_width: float | None = None
    ) -> float:
        """``∫V dρ_N + ½∫∫U dρ_N dρ_N [+ H_δ(ρ_N)]`` (coincident pairs skipped).

        The entropy is left out; a porous-medium energy enters as its blob regularization
        ``H_δ(ρ_N) = Σ_i w_i U(ρ̄_i)`` (class docstring), so that this is the free energy the
        noiseless particle system dissipates.

        Parameters
        ----------
        x : ndarray, shape (N, D)
            Positions (float64).
        weights : ndarray, shape (N,)
            Particle weights.
        blob_width : float, optional
            ``δ`` (as in :meth:`drift`).

        Returns
        -------
        float
            The energy of the weighted empirical measure.
        """
        total = 0.0
        if self.blob is not None:
            total += blob_energy(x, weights, *self.blob, self.mollifier, self._width(x, blob_width))
        pot = self.energy.potential_term
        if pot is not None and callable(pot.value):
            total += float(weights @ np.asarray(pot.value(x), dtype=float))
        for term in self.energy.interactions:
            total += interaction_energy(term, x, weights)
        return total

    def _width(self, x: np.ndarray, blob_width: float | None) -> float:
        if blob_width is not None:
            return float(blob_width)
        if self.blob_width is not None:
            return self.blob_width
        return default_blob_width(x[None])

    def blob_densities(
        self, x: np.ndarray, weights: np.ndarray, blob_width: float | None = None
    ) -> np.ndarray:
        """The blob densities ``ρ̄_i = (φ_δ * ρ_N)(x_i)`` (the density the blob term sees).

        Parameters
        ----------
        x : ndarray, shape (N, D)
            Positions.
        weights : ndarray, shape (N,)
            Particle weights.
        blob_width : float, optional
            ``δ`` (as in :meth:`drift`).

        Returns
        -------
        ndarray, shape (N,)
            ``ρ̄`` (mass per unit volume).
        """
        x = np.asarray(x, dtype=np.float64)
        return blob_densities(x, weights, self.mollifier, self._width(x, blob_width))

    def blob_time_step(self, x0, safety: float = 1.0) -> float:
        """A stable ``dt`` for the blob term at the positions ``x0``: ``safety · dt_max``.

        ``dt_max = δ² / (c m max_i ρ̄_i^{m−1})``, the explicit-Euler limit of the blob term
        (its linearization is a diffusion with coefficient ``c m ρ^{m−1}`` regularized at
        scale ``δ``, whose largest rate is ``≲ c m ρ^{m−1}/δ²``). Add the limits of ``V`` and
        the interactions yourself; if ``ρ̄`` grows during the run (aggregation), so does
        the rate.

        Parameters
        ----------
        x0 : ndarray, shape (N, D) or (R, N, D), or ParticleMeasure
            Positions (as for ``run``).
        safety : float
            Factor in ``(0, 1]``.

        Returns
        -------
        float
            ``dt`` (time units).
        """
        if self.blob is None:
            raise ValueError("energy: blob_time_step needs a porous-medium energy")
        safety = check_positive("safety", safety)
        positions, weights = self._check_initial(x0)
        width = self.blob_width if self.blob_width is not None else default_blob_width(positions)
        return safety * self._blob_limit(positions, weights, width)

    def _blob_limit(self, positions: np.ndarray, weights: np.ndarray, width: float) -> float:
        """``δ² / (c m max ρ̄^{m−1})`` over the replicas ``positions`` of shape ``(R, N, D)``."""
        m, c = self.blob
        peak = max(
            float(np.max(blob_densities(p.astype(np.float64), weights, self.mollifier, width)))
            for p in positions
        )
        return width**2 / (c * m * peak ** (m - 1.0))

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
        self._prepare(positions.shape[2])
        rngs = [np.random.default_rng(s) for s in children(self.seed_sequence, self.replicas)]
        width = None
        if self.blob is not None:
            width = (
                self.blob_width if self.blob_width is not None else default_blob_width(positions)
            )
            limit = self._blob_limit(positions, weights, width)
            if self.dt > BLOB_UNSTABLE * limit:
                raise ValueError(
                    f"dt: {self.dt:g} is more than {BLOB_UNSTABLE:g}× the blob method's explicit "
                    f"limit δ²/(c m max ρ̄^(m−1)) = {limit:.3g} at the initial positions "
                    f"(δ = {width:.3g}): the run would oscillate at the scale δ; use dt ≤ "
                    f"{limit:.3g} (Particles.blob_time_step)"
                )
        return ParticleState(
            0.0, positions.astype(self.dtype, order="C"), weights, rngs, blob_width=width
        )

    def _prepare(self, dim: int) -> None:
        """Compile (or choose the numpy path for) each pairwise kernel in ``dim`` dimensions."""
        if self.energy.potential_term is not None:
            self.energy.potential_term.check_gradient(dim)
        for term in self.energy.interactions:
            if isinstance(term, PairwiseInteraction):
                pairwise_backend(term, dim)

    def advance(self, state: ParticleState, t_next: float) -> ParticleState:
        x, rngs, n_steps = self._steps(state, t_next, diagnose=False)
        if not np.all(np.isfinite(x)):
            self._steps(state, t_next, diagnose=True)  # replay to name the culprit
            raise BlowUpError(state.t, "non-finite particle positions (reduce dt?)")
        if self.domain is not None:
            outside = np.any((x < self.domain[:, 0]) | (x > self.domain[:, 1]), axis=-1)
            if np.any(outside):
                raise BlowUpError(
                    state.t,
                    f"{int(outside.sum())} particles left the domain between t = "
                    f"{state.t:.6g} and {t_next:.6g}",
                )
        return ParticleState(
            t_next, x, state.weights, rngs, state.steps + n_steps, state.blob_width
        )

    def _steps(self, state: ParticleState, t_next: float, diagnose: bool):
        """The Euler–Maruyama steps from ``state`` to ``t_next``.

        ``diagnose``: check every step and raise :class:`BlowUpError` naming the term whose
        drift is non-finite (the same steps, bit for bit: a replay after a failed advance).
        """
        n_steps = max(1, int(np.ceil((t_next - state.t) / self.dt * (1 - 1e-12))))
        dt = (t_next - state.t) / n_steps
        x = state.positions.copy()
        rngs = copy.deepcopy(state.rngs)  # a failed advance leaves `state` intact
        noise_scale = 0.0 if np.isinf(self.beta) else np.sqrt(2.0 * dt / self.beta)
        for k in range(n_steps):
            for r in range(self.replicas):
                xr_ = x[r].astype(np.float64, copy=False)
                with np.errstate(all="ignore") if diagnose else contextlib.nullcontext():
                    step = dt * self.drift(xr_, state.weights, state.blob_width)
                if diagnose and np.all(np.isfinite(xr_)) and not np.all(np.isfinite(step)):
                    cause = explain_non_finite(self.energy, xr_, state.weights)
                    if self.blob is not None and cause.startswith("the non-gradient"):
                        limit = self._blob_limit(xr_[None], state.weights, state.blob_width)
                        cause = (
                            f"the blob term (δ = {state.blob_width:.6g}): non-finite velocity; "
                            f"reduce dt below {limit:.3g}"
                        )
                    raise BlowUpError(state.t + k * dt, f"{cause} (replica {r})")
                if noise_scale:
                    step += noise_scale * rngs[r].standard_normal(xr_.shape)
                x[r] += step.astype(self.dtype, copy=False)
        return x, rngs, n_steps

    def checkpoint_state(self, state: ParticleState) -> tuple[dict, dict]:
        arrays = {"positions": state.positions, "weights": state.weights}
        rng_states = [g.bit_generator.state for g in state.rngs]
        meta = {"t": state.t, "steps": state.steps, "rng_states": rng_states}
        if state.blob_width is not None:
            meta["blob_width"] = state.blob_width
        return arrays, meta

    def restore_state(self, arrays: dict, meta: dict) -> ParticleState:
        positions = np.array(arrays["positions"], dtype=self.dtype, order="C")
        if positions.shape[0] != self.replicas:
            raise ValueError(
                f"path: checkpoint has {positions.shape[0]} replicas, solver {self.replicas}"
            )
        self._prepare(positions.shape[2])
        rngs = [np.random.default_rng() for _ in range(self.replicas)]
        for rng, saved in zip(rngs, meta["rng_states"], strict=True):
            rng.bit_generator.state = saved
        weights = np.asarray(arrays["weights"], dtype=np.float64)
        width = meta.get("blob_width")
        if self.blob is not None and width is None:
            raise ValueError("path: the checkpoint has no blob width (not a blob-method run)")
        return ParticleState(
            float(meta["t"]),
            positions,
            weights,
            rngs,
            int(meta["steps"]),
            None if width is None else float(width),
        )

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
            [
                self.particle_energy(x[r], state.weights, state.blob_width)
                for r in range(self.replicas)
            ]
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
        attrs = {"units": "1"}
        if self.blob is not None:
            attrs["long_name"] = (
                "regularized free energy ∫V dρ_N + ½∫∫U dρ_N dρ_N + Σ_i w_i U(φ_δ*ρ_N(x_i)) "
                "of the empirical measure (blob method)"
            )
            attrs["comment"] = (
                f"porous-medium energy c ρ^m/(m−1) (m = {self.blob[0]:g}, c = {self.blob[1]:g}) "
                f"regularized by the {self.mollifier} mollifier of width δ = "
                f"{state.blob_width:.6g}: U(s) = c s^(m−1)/(m−1)"
            )
        elif np.isinf(self.beta):
            attrs["long_name"] = "energy ∫V dρ_N + ½∫∫U dρ_N dρ_N of the empirical measure"
        else:
            attrs["long_name"] = (
                "interaction + potential energy ∫V dρ_N + ½∫∫U dρ_N dρ_N (entropy term not "
                "included: particles carry no density)"
            )
            attrs["comment"] = (
                f"the free energy adds β⁻¹∫ρ log ρ (β = {self.beta:g}), which an empirical "
                "measure does not have; estimate it from a density estimate of the positions"
            )
        ds["energy"] = xr.DataArray(energy, dims=("time", "replica"), attrs=attrs)
        if np.isinf(self.beta):
            ds["free_energy"] = ds["energy"].assign_attrs(long_name="free energy of ρ_N")
        ds["steps"] = xr.DataArray(
            np.array([obs["steps"] for obs in recorder.observables]),
            dims="time",
            attrs={"units": "1", "long_name": "time steps taken since t = 0"},
        )
        ds.attrs["n_particles"] = int(state.weights.size)
        if self.blob is not None:
            ds.attrs["blob_width"] = float(state.blob_width)
            ds.attrs["mollifier"] = self.mollifier
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
        } | (
            {"blob_width": self.blob_width, "mollifier": self.mollifier}
            if self.blob is not None
            else {}
        )

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


#: default blob width ``δ = BLOB_PREFACTOR · L (h_N/L)^{1 − BLOB_MARGIN}``
BLOB_PREFACTOR = 1.0
BLOB_MARGIN = 0.01
#: ``dt`` above this multiple of :meth:`Particles.blob_time_step` (safety 1) is refused
#: (instability measured at 5–8×)
BLOB_UNSTABLE = 4.0


def default_blob_width(positions: np.ndarray) -> float:
    """The default ``δ`` of the blob method for initial positions of shape ``(R, N, D)``.

    ``h_N = (Π_k ℓ_k / N)^{1/D}`` is the mean particle spacing, with ``ℓ_k`` the extent of
    the initial positions along axis ``k`` (all replicas), ``L = (Π_k ℓ_k)^{1/D}`` the size
    of the cloud, and ``δ = κ L (h_N/L)^{1−p}`` with ``κ = BLOB_PREFACTOR`` and
    ``p = BLOB_MARGIN`` (0.01): Carrillo–Craig–Patacchini's scaling ``δ = h^{1−p}`` (``δ → 0``
    more slowly than the spacing, so that ``h_N/δ → 0``), written scale-free.

    Parameters
    ----------
    positions : ndarray, shape (R, N, D)
        Initial positions (length units).

    Returns
    -------
    float
        ``δ`` (length units).

    Raises
    ------
    ValueError
        ``blob_width``: the positions are flat along an axis (no spacing to scale with).
    """
    n, dim = positions.shape[-2], positions.shape[-1]
    flat = positions.reshape(-1, dim)
    extent = flat.max(axis=0) - flat.min(axis=0)
    if not np.all(extent > 0):
        raise ValueError(
            "blob_width: the default scales with the initial particles' spacing, but they do "
            "not spread along every axis; pass blob_width"
        )
    size = float(np.exp(np.mean(np.log(extent))))
    spacing = size / n ** (1.0 / dim)
    return BLOB_PREFACTOR * size * (spacing / size) ** (1.0 - BLOB_MARGIN)


@dataclass(frozen=True)
class PairwiseBackend:
    """How the particle solver evaluates one :class:`PairwiseInteraction` in ``D`` dimensions.

    Parameters
    ----------
    forces : callable
        ``(x (N, D), w (N,)) ↦ Σ_j w_j ∇W(x_i − x_j)``, shape ``(N, D)`` (self term skipped).
    energy : callable
        ``(x, w) ↦ ½ Σ_{i≠j} w_i w_j W(x_i − x_j)``.
    path : str
        ``"family"`` (built-in compiled radial family), ``"profile"`` (compiled user
        ``φ(r)``), ``"compiled"`` (compiled user ``W(z)``/``∇W(z)``), ``"numpy"`` (chunked
        numpy), or two of them ``"forces/energy"`` when only one compiled.
    """

    forces: Callable[[np.ndarray, np.ndarray], np.ndarray]
    energy: Callable[[np.ndarray, np.ndarray], float]
    path: str


_BACKENDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def pairwise_backend(term: PairwiseInteraction, dim: int) -> PairwiseBackend:
    """Set up (once per term and dimension) the particle evaluation of a pairwise kernel.

    Built-in radial families use the cached compiled kernels. A user's kernel is first probed
    with numpy on displacements of shape ``(2, 3, D)`` (a wrong output shape is a
    ``ValueError`` naming ``kernel`` or ``gradient``), then compiled with ``numba.njit``: the
    scalar ``φ``, ``φ′`` of :meth:`PairwiseInteraction.radial_profile`, or the vectorized
    ``W``, ``∇W``. The compiled functions are test-called and compared with numpy (forces on
    a few particles, relative difference ≤ 1e-10); whatever fails to compile or to agree runs
    on the numpy path, with one :class:`~wgflow.errors.CompilationNotice` saying why.

    Parameters
    ----------
    term : PairwiseInteraction
        The interaction.
    dim : int
        The particles' dimension ``D``.

    Returns
    -------
    PairwiseBackend
        The force and energy evaluators and the path taken.

    Raises
    ------
    ValueError
        ``kernel`` or ``gradient`` returns the wrong shape (or fails) on the probe.
    """
    per_dim = _BACKENDS.setdefault(term, {})
    if dim not in per_dim:
        per_dim[dim] = _make_backend(term, dim)
    return per_dim[dim]


def _make_backend(term: PairwiseInteraction, dim: int) -> PairwiseBackend:
    if term.radial is not None:
        kind, params = term.radial
        return PairwiseBackend(
            lambda x, w: family_forces(x, w, kind, params),
            lambda x, w: family_energy(x, w, kind, params),
            "family",
        )
    if term.gradient is None:
        raise ValueError(f"energy: interaction {term.name!r} needs a gradient for particles")
    z = _probe_displacements(dim)
    ref_w = _probe_call(term.kernel, "kernel", z, z.shape[:-1])
    ref_g = _probe_call(term.gradient, "gradient", z, z.shape)
    x, w = _probe_particles(dim)

    def numpy_forces(x, w):
        return pairwise_forces_numpy(x, w, term.gradient)

    def numpy_energy(x, w):
        return pairwise_energy_numpy(x, w, term.kernel)

    forces, energy, reasons = numpy_forces, numpy_energy, []
    if term.profile is not None:
        phi, dphi = term.profile
        jphi, why = _jit_scalar(phi, "profile φ", term.kernel, z)
        fd = dphi is None
        jdphi, why_d = (jphi, None) if fd else _jit_scalar(dphi, "derivative φ′", None, z)
        if jphi is None or jdphi is None:
            reasons.append(why or why_d)
        else:

            def forces(x, w, jphi=jphi, jdphi=jdphi, fd=fd):
                return profile_forces(x, w, jphi, jdphi, fd)

            def energy(x, w, jphi=jphi):
                return profile_energy(x, w, jphi)

        path = "profile"
    else:
        jg, why_g = _jit_vector(term.gradient, "gradient", z, ref_g)
        jk, why_k = _jit_vector(term.kernel, "kernel", z, ref_w)
        if jg is None:
            reasons.append(why_g)
        else:

            def forces(x, w, jg=jg):
                return vector_forces(x, w, jg)

        if jk is None:
            reasons.append(why_k)
        else:

            def energy(x, w, jk=jk):
                return vector_energy(x, w, jk)

        path = "compiled"
    # the compiled O(N²) loops: compile now and compare with numpy on a few particles
    if forces is not numpy_forces:
        forces, why = _check_compiled("gradient", forces, numpy_forces, x, w)
        reasons += [why] if why else []
    if energy is not numpy_energy:
        energy, why = _check_compiled("kernel", energy, numpy_energy, x, w)
        reasons += [why] if why else []
    slow = [
        label
        for label, f, ref in (("forces", forces, numpy_forces), ("energy", energy, numpy_energy))
        if f is ref
    ]
    if reasons:
        warnings.warn(
            CompilationNotice(
                f"interaction {term.name!r}: {' and '.join(slow)} on the numpy path (same "
                f"result, slower): {'; '.join(reasons)}"
            ),
            stacklevel=_outside_wgflow(),
        )
    if len(slow) == 2:
        path = "numpy"
    elif slow == ["forces"]:
        path = f"numpy/{path}"
    elif slow == ["energy"]:
        path = f"{path}/numpy"
    return PairwiseBackend(forces, energy, path)


def _outside_wgflow() -> int:
    """``stacklevel`` of the first caller outside wgflow (so a warning names the user's line)."""
    import sys
    from pathlib import Path

    import wgflow

    base = Path(__file__).resolve().parents[1]  # the source tree, or site-packages/wgflow
    roots = [str(Path(wgflow.__file__).resolve().parent)]
    roots += [str(base / name) for name in ("solvers", "problems", "studies")]
    frame, level = sys._getframe(1), 1
    while frame is not None:
        filename = str(Path(frame.f_code.co_filename).resolve())
        if not any(filename.startswith(root + "/") for root in roots):
            return level
        frame, level = frame.f_back, level + 1
    return 1


def _probe_displacements(dim: int) -> np.ndarray:
    """Fixed non-zero displacements of shape ``(2, 3, D)`` with distinct lengths."""
    rng = np.random.default_rng(20240613)
    z = rng.uniform(0.3, 1.2, size=(2, 3, dim)) * rng.choice([-1.0, 1.0], size=(2, 3, dim))
    return z


def _probe_particles(dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Seven particles (two coincident) and uneven weights for the compiled-vs-numpy check."""
    rng = np.random.default_rng(7)
    x = rng.uniform(-1.0, 1.0, size=(7, dim))
    x[3] = x[5]
    return x, rng.uniform(0.5, 1.5, size=7)


def _probe_call(func, label: str, z: np.ndarray, shape: tuple) -> np.ndarray:
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(func(z.copy()), dtype=float)
    except Exception as exc:  # noqa: BLE001 - reported with the parameter's name
        raise ValueError(
            f"{label}: calling it on displacements z of shape {z.shape} (..., D) failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if out.shape != shape:
        what = "W(z)" if label == "kernel" else "∇W(z)"
        raise ValueError(
            f"{label}: {what} must map z of shape (..., D) to shape "
            f"{'(...)' if label == 'kernel' else '(..., D)'}; on z of shape {z.shape} "
            f"expected {shape}, got {out.shape}"
        )
    return out


def _numba_reason(exc: Exception) -> str:
    """One line out of a numba error: what failed and where."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(("Failed in", "During:", "- ", "There are"))]
    text = useful[0] if useful else type(exc).__name__
    call = next((ln for ln in lines if ln.startswith(">>>")), None)
    if call:
        text = f"{text} {call[3:].strip()}"
    place = next((m for m in (re.match(r'File "(.+)", line (\d+)', ln) for ln in lines) if m), None)
    if place:
        text += f" ({place.group(1).rsplit('/', 1)[-1]}:{place.group(2)})"
    return text if len(text) <= 300 else text[:299] + "…"


def _jit(func):
    import numba
    from numba.extending import is_jitted

    return func if is_jitted(func) else numba.njit(func)


def _jit_vector(func, label: str, z: np.ndarray, ref: np.ndarray):
    """``numba.njit(func)`` test-called on ``z`` as ``(m, D)``; ``(jitted, None)`` or
    ``(None, reason)``."""
    flat = np.ascontiguousarray(z.reshape(-1, z.shape[-1]))
    try:
        jitted = _jit(func)
        got = np.asarray(jitted(flat.copy()), dtype=float)
    except Exception as exc:  # noqa: BLE001 - any numba failure means: stay with numpy
        return None, f"{label} does not compile with numba: {_numba_reason(exc)}"
    want = ref.reshape(flat.shape[0], *ref.shape[z.ndim - 1 :])
    if got.shape != want.shape or not _close(got, want):
        return None, f"{label}: the numba-compiled function disagrees with numpy on a probe"
    return jitted, None


def _jit_scalar(func, label: str, reference, z: np.ndarray):
    """``numba.njit(func)`` test-called on a few scalar ``r``."""
    r = np.sqrt(np.sum(z * z, axis=-1)).ravel()
    try:
        jitted = _jit(func)
        got = np.array([float(jitted(float(v))) for v in r])
    except Exception as exc:  # noqa: BLE001
        return None, f"{label} does not compile with numba: {_numba_reason(exc)}"
    if reference is not None and not _close(got, np.asarray(reference(z), float).ravel()):
        return None, f"{label}: the numba-compiled function disagrees with numpy on a probe"
    return jitted, None


def _check_compiled(label, compiled, reference, x, w):
    """Run a compiled O(N²) evaluator on a few particles; fall back to ``reference``."""
    try:
        got = compiled(x.copy(), w.copy())
    except Exception as exc:  # noqa: BLE001
        return reference, f"{label}: the compiled pair loop failed: {_numba_reason(exc)}"
    if not _close(np.asarray(got, float), np.asarray(reference(x, w), float)):
        return reference, f"{label}: compiled pair sums disagree with numpy on a probe"
    return compiled, None


def _close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-10) -> bool:
    if a.shape != b.shape:
        return False
    finite = np.isfinite(b)
    if not np.array_equal(finite, np.isfinite(a)):
        return False
    scale = np.max(np.abs(b[finite]), initial=0.0)
    return bool(np.all(np.abs(a[finite] - b[finite]) <= rtol * scale + 1e-300))


def interaction_gradient(term, x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``Σ_j w_j ∇_θ U(x_i, x_j)`` for one interaction term; x (N, D) float64.

    Pairwise kernels skip the self term ``j = i`` and coincident pairs on every path.

    Parameters
    ----------
    term : PairwiseInteraction, SeparableInteraction or GeneralInteraction
        The interaction.
    x : ndarray, shape (N, D)
        Positions.
    weights : ndarray, shape (N,)
        Particle weights.

    Returns
    -------
    ndarray, shape (N, D)
        The interaction part of ``∇Ψ`` at the particles.
    """
    if isinstance(term, PairwiseInteraction):
        return pairwise_backend(term, x.shape[1]).forces(x, weights)
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
    """``½ Σ_{i,j} w_i w_j U(x_i, x_j)`` (pairwise: coincident pairs skipped).

    Parameters
    ----------
    term : PairwiseInteraction, SeparableInteraction or GeneralInteraction
        The interaction.
    x : ndarray, shape (N, D)
        Positions.
    weights : ndarray, shape (N,)
        Particle weights.

    Returns
    -------
    float
        The interaction energy of the weighted empirical measure.
    """
    if isinstance(term, PairwiseInteraction):
        return pairwise_backend(term, x.shape[1]).energy(x, weights)
    if isinstance(term, SeparableInteraction):
        moments = weights @ np.asarray(term.features(x), dtype=float)
        return 0.5 * float(term.coefficients @ moments**2)
    if term.particle_kernel is not None:
        return 0.5 * float(weights @ term.particle_kernel(x) @ weights)
    return 0.5 * float(weights @ chunked_pair_sum(x, weights, term.kernel, ()))


def explain_non_finite(energy: FreeEnergy, x: np.ndarray, weights: np.ndarray) -> str:
    """Which term of the drift is non-finite at finite positions, and where.

    Parameters
    ----------
    energy : FreeEnergy
        The particles' energy.
    x : ndarray, shape (N, D)
        Finite positions at which the drift is not finite.
    weights : ndarray, shape (N,)
        Particle weights.

    Returns
    -------
    str
        E.g. ``interaction 'W': its gradient ∇W returned non-finite values at distance
        |z| = 1e-170 (particles 3 and 17)``.
    """
    pot = energy.potential_term
    if pot is not None:
        with np.errstate(all="ignore"):
            g = np.asarray(pot.gradient(x), dtype=float).reshape(x.shape)
        bad = np.flatnonzero(~np.all(np.isfinite(g), axis=-1))
        if bad.size:
            i = int(bad[0])
            return (
                f"potential {pot.name!r}: its gradient ∇V returned non-finite values at "
                f"θ = {np.array2string(x[i], precision=4)} (particle {i})"
            )
    for term in energy.interactions:
        with np.errstate(all="ignore"):
            g = interaction_gradient(term, x, weights)
        bad = np.flatnonzero(~np.all(np.isfinite(g), axis=-1))
        if not bad.size:
            continue
        i = int(bad[0])
        if isinstance(term, PairwiseInteraction):
            z = x[i] - x
            with np.errstate(all="ignore"):
                gi = np.asarray(term.gradient(z), dtype=float).reshape(z.shape)
            r = np.sqrt(np.sum(z * z, axis=-1))
            pairs = np.flatnonzero((r > 0) & ~np.all(np.isfinite(gi), axis=-1))
            if pairs.size:
                j = int(pairs[0])
                return (
                    f"interaction {term.name!r}: its gradient ∇W returned non-finite values at "
                    f"distance |z| = {r[j]:.6g} (particles {i} and {j})"
                )
        return f"interaction {term.name!r}: non-finite force on particle {i}"
    return "the non-gradient drift b(θ; ρ_N) is not finite"
