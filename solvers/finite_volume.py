r"""Positivity-preserving finite volumes for ``∂t ρ = ∇·(ρ ∇Ψ[ρ])`` on Cartesian grids."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import xarray as xr

from wgflow import io
from wgflow.drift import face_points
from wgflow.energy import Entropy, FreeEnergy, PorousMediumEnergy
from wgflow.errors import BlowUpError, ParameterError
from wgflow.grid import Grid
from wgflow.measures import GridMeasure, validate_density
from wgflow.solver import Solver
from wgflow.threads import parallel_worthwhile
from wgflow.validation import check_choice, check_positive, check_real, strict_keywords

from . import fv_fused
from .fv_implicit import OperatorPattern
from .fv_kernels import (
    euler_stage,
    euler_stage_serial,
    heun_stage,
    heun_stage_serial,
)
from .fv_rkl import (
    ADVANCED,
    MAX_STAGES,
    explicit_advance,
    rkl2_coefficients,
    rkl2_stages,
    rkl_stage,
    rkl_stage_serial,
    ssp_final_stage,
    ssp_final_stage_serial,
)

_MAX_REJECTIONS = 40
#: steps per call of the compiled loop (between calls Ctrl-C reaches Python)
_COMPILED_CHUNK = 4096
logger = logging.getLogger(__name__)


@dataclass
class FVState:
    """Solver state: time ``t``, cell averages ``rho`` and the number of steps taken.

    Parameters
    ----------
    t : float
        Time.
    rho : ndarray, shape grid.shape
        Cell averages at ``t``.
    steps : int
        Steps taken since ``t = 0``.
    """

    t: float
    rho: np.ndarray
    steps: int = 0


class FiniteVolume(Solver):
    r"""Finite-volume solver of Carrillo–Chertock–Huang (2015) for Wasserstein gradient flows.

    Solves ``∂t ρ = ∇·(ρ ∇ξ)``, ``ξ = Ψ[ρ] = V + ∫U ρ + H′(ρ)``, with no-flux boundaries.

    **Explicit scheme** (``scheme="explicit"``), dimension by dimension:

    .. math::
        \frac{d\rho_j}{dt} = -\frac{F_{j+1/2} - F_{j-1/2}}{h}, \quad
        F_{j+1/2} = u^+_{j+1/2}\rho^E_j + u^-_{j+1/2}\rho^W_{j+1}, \quad
        u_{j+1/2} = -\frac{\xi_{j+1} - \xi_j}{h}.

    ``order=1``: ``ρ^{E,W}_j = ρ_j``, forward Euler; first order in space and time.
    ``order=2``: ``ρ^{E,W}_j = ρ_j ± (h/2) s_j`` with the generalized minmod slope
    (θ = 2), which keeps point values non-negative, and the two-stage SSP Runge–Kutta method
    (Heun); second order for smooth solutions.
    Stability and positivity (CCH Thm 3.1): ``Δt ≤ Δt_adv = 1 / (2 Σ_k a_k/h_k)`` with
    ``a_k = max|u|`` along axis k. For diffusion (``H″ > 0``) the step is also held below the
    parabolic limit ``Δt ≤ Δt_par = 1 / (2 max(ρH″) Σ_k h_k^{-2})``. Each step uses ``cfl``
    times the smaller bound and is retried with half the step if a density turns negative.
    The semi-discrete energy decays.

    **Time integrator** (``integrator``). ``"ssp"``: the SSP-RK steps above (forward Euler for
    ``order=1``, Heun for ``order=2``), the scheme before the ones below. ``"auto"`` (default)
    and ``"rkl2"`` use, for ``order=2``, SSPRK(4,2) (Ketcheson 2008) as their SSP step: three
    forward-Euler steps of ``Δt/3`` and ``¼ρ + ¾(Y₃ + (Δt/3) M(Y₃))``, a convex combination of
    Euler steps, so positivity holds for ``Δt ≤ 3·`` the bound above — 4 evaluations for 3
    Euler limits instead of Heun's 2 for 1 — second order in time.
    RKL2 super steps (Meyer–Balsara–Aslam 2014; :mod:`wgflow.solvers.fv_rkl`), **second order
    in time**: ``s`` evaluations of ``dρ/dt`` per step ``τ = cfl·Δt_adv``, ``s`` the fewest
    stages with ``τ ≤ Δt_FE (s² + s − 2)/4``, ``Δt_FE = cfl / (1/Δt_par + 1/(2Δt_adv))`` (the
    parabolic interval plus the upwind disc; ``s ≤ 64``, τ shortened beyond). So diffusion
    costs ``≈ 2√(τ/Δt_par)`` evaluations per step instead of ``2τ/Δt_par``. Mass is conserved
    to round-off (affine stages in flux form). Positivity: the first stage is a forward-Euler
    step of ``Δt_FE/3`` (non-negative by CCH); later stages carry negative weights, so no
    step-size condition short of the SSP one guarantees non-negative stages — every stage is
    checked, a step with a negative one is retried with half ``τ``, and once ``τ`` is down to
    the SSP step it is taken as an SSP step (positive by CCH); retries are logged as a
    warning. ``"auto"``: RKL2 wherever it needs fewer evaluations per unit time than the SSP
    step, i.e. where the parabolic limit binds (``Δt_adv ≳ 2.3 Δt_par`` for ``order=2``,
    ``≳ 3 Δt_par`` for ``order=1``, where the SSP step is forward Euler), the SSP step
    elsewhere — decided step by step; with ``order=1`` the RKL2 steps are second order in
    time. ``"rkl2"``: RKL2 always (falling back as above). On one thread, with no interaction,
    no drift and ``H`` entropy or none, the loop of steps runs compiled
    (:func:`~wgflow.solvers.fv_rkl.explicit_advance`, the same steps bit for bit).
    Measured (2-D OU to t = 1, ``benchmarks/bench_fv.py``; default vs ``"ssp"``): 64² 136
    instead of 199 evaluations, 128² 432 instead of 731, 256² 1,114 instead of 2,915, 512²
    2,976 instead of 11,652, same L1 error to 1 %.

    **Semi-implicit scheme** (``scheme="semi-implicit"``, after Bailo–Carrillo–Hu 2020): one
    backward-Euler step of the linear operator obtained by freezing ``V + ∫Uρ`` and the
    diffusivity ``P′(ρ) = ρH″(ρ)`` at the old time; fluxes are of Scharfetter–Gummel type,
    ``F = (D/h)[B(z) ρ_p − B(−z) ρ_q]``, ``z = (ξ_q − ξ_p)/D``, ``B(z) = z/(e^z − 1)``, which
    reduce to upwind fluxes when ``D = 0`` and keep the discrete Gibbs state
    ``e^{-(V + Uρ)/D}`` exact. Degenerate diffusion (porous medium, ``D = P′(ρ) → 0`` in empty
    tails) uses the upwind limit wherever ``|z| ≥ 64``, where the two agree to ``e^{−64}``
    (double well + ``ρ^m/(m−1)``, L1 error to the exact steady state ``((m−1)(C − V)₊/m)^{1/(m−1)}``
    at 100 / 200 cells: m = 2 1.7e-3 / 6.0e-4, m = 3 9.1e-3 / 3.9e-3; first order at the
    support's edge, second inside). A failure of the linear algebra becomes
    :class:`~wgflow.BlowUpError` with the time and the snapshots so far.
    The matrix is an M-matrix with zero column sums, so each step preserves mass and positivity
    for **any** ``Δt``; for ``V``-only problems with entropy the discrete free energy decays for
    any ``Δt`` (the step is a Markov kernel reversible w.r.t. the discrete Gibbs state). First
    order in time, second order in space. ``dt`` defaults to ``cfl / Σ_k (a_k / h_k)`` with
    ``a_k`` the advective speed, i.e. it is not limited by ``h²``. The linear system is solved
    to a relative residual of 1e-12 (``linear_solver``); negative round-off is clipped and
    the mass restored, so mass and positivity hold to round-off.

    Parameters
    ----------
    energy : FreeEnergy
        The free energy whose Wasserstein gradient flow is solved.
    grid : Grid
        Cartesian grid of 1–3 dimensions; its boundary is a no-flux wall.
    order : {1, 2}
        Spatial order of the explicit scheme.
    scheme : {"explicit", "semi-implicit"}
    cfl : float
        Fraction in (0, 1] of the stable step.
    dt : float, optional
        Fixed step of the semi-implicit scheme (default: the advective CFL step).
    dt_min : float
        Floor under which a step is a failure (:class:`wgflow.BlowUpError`).
    linear_solver : {"iterative", "direct"}
        The semi-implicit step's linear solve: BiCGSTAB (Jacobi-preconditioned, started from
        ``ρ``, relative residual 1e-12; SuperLU when it does not converge in 500 iterations),
        or SuperLU always (its LU is reused while the operator is constant: ``V`` and entropy
        only). ``I − Δt A`` is close to the identity at the usual steps: one iterative solve
        costs 1/20–1/90 of a fresh LU on 64²–256² grids, so operators that change every step
        (interactions, nonlinear diffusion, measure-dependent drifts) solve 5–11× faster;
        against a reused LU (2-D OU) it is 0.6× (64²) to 1.6× (256²) as fast.
    integrator : {"auto", "ssp", "rkl2"}
        Time integrator of the explicit scheme (see above): RKL2 super steps where the
        parabolic limit binds and SSPRK(4,2) elsewhere (``"auto"``), forward Euler / Heun
        always (``"ssp"``, the scheme before), or RKL2 always (``"rkl2"``).
        ``scheme="semi-implicit"`` takes ``"auto"``.

    Attributes
    ----------
    rate_evaluations : int
        Evaluations of ``dρ/dt`` (flux divergences) since construction.

    Notes
    -----
    ``run(rho0, t_final, save_every)`` (see :meth:`wgflow.solver.Solver.run`) takes a
    :class:`~wgflow.GridMeasure` or an array of non-negative cell averages of shape
    ``grid.shape`` and returns ``density(time, *axes)``, ``mass(time)``, ``free_energy(time)``
    and ``steps(time)``.

    References
    ----------
    J. A. Carrillo, A. Chertock, Y. Huang, Commun. Comput. Phys. 17 (2015) 233–258.
    C. D. Meyer, D. S. Balsara, T. D. Aslam, J. Comput. Phys. 257 (2014) 594–626.
    R. Bailo, J. A. Carrillo, J. Hu, Commun. Math. Sci. 18 (2020) 1259–1303.

    Examples
    --------
    1-D Ornstein–Uhlenbeck against its exact Gaussian (second order: L1 error 7e-4 on 128
    cells), mass conserved to round-off:

    >>> import wgflow as wg
    >>> from wgflow.problems import OrnsteinUhlenbeck
    >>> prob = OrnsteinUhlenbeck(dim=1, diffusion=0.5, mean0=[1.0], var0=0.3)
    >>> grid = wg.Grid.box([(-5, 5)], 128)
    >>> ds = FiniteVolume(prob.energy, grid).run(prob.initial_density(grid), 0.5, progress=False)
    >>> exact = prob.exact_density(grid, 0.5)
    >>> print(f"{grid.integrate(abs(ds['density'][-1].values - exact)):.1e}")
    6.8e-04
    >>> round(float(ds["mass"][-1]), 12)
    1.0
    """

    name = "FiniteVolume"
    title = "finite-volume solution"

    @strict_keywords
    def __init__(
        self,
        energy: FreeEnergy,
        grid: Grid,
        order: int = 2,
        scheme: str = "explicit",
        cfl: float = 0.9,
        dt: float | None = None,
        dt_min: float = 1e-14,
        linear_solver: str = "iterative",
        integrator: str = "auto",
    ) -> None:
        if not isinstance(energy, FreeEnergy):
            raise ParameterError(f"energy: need a FreeEnergy, got {type(energy).__name__}")
        if not isinstance(grid, Grid):
            raise ParameterError(f"grid: need a Grid, got {type(grid).__name__}")
        self.energy = energy
        self.grid = grid
        self.order = check_choice("order", order, (1, 2))
        self.scheme = check_choice("scheme", scheme, ("explicit", "semi-implicit"))
        self.cfl = check_real("cfl", cfl, low=0.0, high=1.0, low_open=True)
        if dt is not None:
            if scheme != "semi-implicit":
                raise ValueError("dt: a fixed step is only used by scheme='semi-implicit'")
            dt = check_positive("dt", dt)
        self.dt = dt
        self.dt_min = check_positive("dt_min", dt_min)
        self.linear_solver = check_choice(
            "linear_solver", linear_solver, ("iterative", "direct")
        )
        self.integrator = check_choice("integrator", integrator, ("auto", "ssp", "rkl2"))
        if scheme != "explicit" and integrator != "auto":
            raise ValueError(
                f"integrator: {integrator!r} is an explicit time integrator; "
                "scheme='semi-implicit' takes integrator='auto'"
            )
        #: evaluations of the explicit right-hand side (flux divergences) since construction
        self.rate_evaluations = 0
        self._rkl_retries = 0
        self._rkl_weights: dict[int, tuple] = {}
        # SSP-RK stages: forward Euler (order 1), Heun ("ssp"), SSPRK(4,2) (default, order 2)
        self._ssp_stages = 1 if self.order == 1 else (2 if self.integrator == "ssp" else 4)
        self.discrete = energy.on_grid(grid)
        self._h = np.array(grid.spacing)
        self._inv_h = np.array([1.0] * (3 - grid.dim) + [1.0 / h for h in grid.spacing])
        self._V = np.ascontiguousarray(self.discrete.V, dtype=np.float64)
        self._drift = energy.drift
        if self._drift is not None:
            points = grid.points()
            features = self._drift.features
            self._drift_features = None if features is None else np.asarray(
                features(points), dtype=float
            ).reshape(*grid.shape, -1)
            self._faces = face_points(grid)
        linear = not self.discrete.has_interaction and (
            energy.internal is None or isinstance(energy.internal, Entropy)
        )
        # a measure-dependent drift changes the operator at every step
        drift_constant = energy.drift is None or energy.drift.features is None
        self._constant_operator = linear and drift_constant
        # the whole explicit loop compiled (one thread): no interaction, no drift, H entropy
        # or none
        self._compiled_loop = (
            self.scheme == "explicit"
            and not self.discrete.has_interaction
            and energy.drift is None
            and (energy.internal is None or type(energy.internal) is Entropy)
        )
        self._solve_cache: dict[float, list] = {}  # Δt → [I − Δt A, its LU or None]
        self._operator = None
        self._pattern = None  # the operator's CSC structure, built at the first assembly

    # ---- the solver protocol ---------------------------------------------------------------
    def initial_state(self, rho0) -> FVState:
        """Validate the initial density and build the state at ``t = 0``.

        Parameters
        ----------
        rho0 : GridMeasure or ndarray, shape grid.shape
            Non-negative cell averages with positive mass, on this solver's grid.

        Returns
        -------
        FVState
            Time 0, the density, no steps.
        """
        if rho0 is None:
            raise ValueError("rho0: required (a density on the solver's grid)")
        if isinstance(rho0, GridMeasure):
            if rho0.grid != self.grid:
                raise ValueError("rho0: GridMeasure lives on a different grid than the solver's")
            rho0 = rho0.density
        rho = np.ascontiguousarray(validate_density(self.grid, rho0, "rho0"))
        if (
            self.scheme == "explicit"
            and isinstance(self.energy.internal, Entropy)
            and np.any(rho == 0)
        ):
            logger.warning(
                "rho0 has empty cells: the explicit scheme with entropy takes very small steps "
                "there; consider a positive start or scheme='semi-implicit'"
            )
        return FVState(0.0, rho)

    def advance(self, state: FVState, t_next: float) -> FVState:
        t, rho, steps = state.t, state.rho, state.steps
        if self._compiled_loop and not self._parallel:
            return self._compiled_advance(state, t_next)
        if self.scheme == "explicit":
            # buffers for this advance: no allocation per step; the caller's rho is never
            # written, and the returned density is a buffer no later advance reuses
            work = self._workspace(rho)

            def step(rho, t, remaining):
                return self._explicit_step(rho, t, remaining, work)

        else:
            step = self._implicit_step
        retries = self._rkl_retries
        while t < t_next:
            rho, dt = step(rho, t, t_next - t)
            t = t_next if t_next - (t + dt) <= 1e-12 * max(abs(t_next), 1.0) else t + dt
            steps += 1
        if self._rkl_retries > retries:
            logger.warning(
                "RKL2: %d super-steps up to t = %.6g had a negative stage and were retried "
                "with a shorter step (or as SSP-RK steps); the result is unaffected, but if "
                "this repeats, integrator='ssp' avoids the wasted work",
                self._rkl_retries - retries, t,
            )
        return FVState(t, rho, steps)

    def _compiled_advance(self, state: FVState, t_next: float) -> FVState:
        """:meth:`advance` as one compiled loop (:func:`fv_rkl.explicit_advance`): the same
        steps bit for bit, without the Python between the passes."""
        if state.t >= t_next:
            return state
        internal = self.energy.internal
        entropy = internal is not None
        rho = fv_fused.grid_view(np.ascontiguousarray(state.rho))
        work = np.empty((7, *rho.shape))
        dt_par = self._limits(state.rho, 1.0)[1]
        mode = {"ssp": 0, "auto": 1, "rkl2": 2}[self.integrator]
        t, steps, evaluations, retries, index = float(state.t), 0, 0, 0, -1
        while t < t_next:  # chunks of steps: Ctrl-C reaches Python between them
            index, t, done, evals, fixed, status = explicit_advance(
                rho, t, float(t_next), fv_fused.grid_view(self._V),
                1.0 / internal.beta if entropy else 0.0, internal.floor if entropy else 0.0,
                entropy, self._inv_h, dt_par, self.order == 2, self._ssp_stages, self.cfl, mode,
                self.dt_min, _MAX_REJECTIONS, work, fv_fused.NO_DRIFT, np.zeros(3),
                _COMPILED_CHUNK,
            )  # fmt: skip
            steps, evaluations, retries = steps + done, evaluations + evals, retries + fixed
            if status != ADVANCED or index < 0:
                break
            rho = work[index].copy()  # the next chunk writes into work[4] and work[5]
        self.rate_evaluations += evaluations
        if retries:
            self._rkl_retries += retries
            logger.warning(
                "RKL2: %d super-steps up to t = %.6g had a negative stage and were retried "
                "with a shorter step (or as SSP-RK steps); the result is unaffected, but if "
                "this repeats, integrator='ssp' avoids the wasted work", retries, t,
            )
        if status != ADVANCED:
            raise BlowUpError(
                t, f"no positive step above dt_min={self.dt_min:g} (density or velocity blew up)"
            )
        new = state.rho if steps == 0 else rho.reshape(self.grid.shape).copy()
        return FVState(t, new, state.steps + steps)

    def density(self, state: FVState) -> np.ndarray:
        """Cell averages of ``state`` on the grid.

        Parameters
        ----------
        state : FVState
            A state of this solver.

        Returns
        -------
        ndarray, shape grid.shape
            Cell averages.
        """
        return state.rho

    def step_count(self, state: FVState, t_final: float) -> float:
        """Estimated number of steps to ``t_final`` (from the step allowed at ``state``).

        Parameters
        ----------
        state : FVState
            The initial state.
        t_final : float
            The final time.

        Returns
        -------
        float
            ``t_final / Δt``.
        """
        if self.scheme == "explicit":
            dt = self.stable_dt(state.rho, self.rhs(state.rho)[1])
        else:
            dt = self.dt if self.dt is not None else self._default_implicit_dt(state.rho)
        return 1.0 if not np.isfinite(dt) else max(1.0, (t_final - state.t) / dt)

    def snapshot(self, state: FVState) -> np.ndarray:
        return state.rho.copy()

    def observables(self, state: FVState) -> dict[str, float]:
        return {
            "mass": float(self.grid.integrate(state.rho)),
            "free_energy": self.discrete.energy(state.rho),
            "steps": state.steps,
        }

    def checkpoint_state(self, state: FVState) -> tuple[dict, dict]:
        return {"rho": state.rho}, {"t": state.t, "steps": state.steps}

    def restore_state(self, arrays: dict, meta: dict) -> FVState:
        rho = validate_density(self.grid, arrays["rho"], "checkpoint density")
        return FVState(float(meta["t"]), np.ascontiguousarray(rho), int(meta["steps"]))

    def parameters(self) -> dict:
        return {
            "solver": "FiniteVolume",
            "order": self.order,
            "scheme": self.scheme,
            "cfl": self.cfl,
            "dt": self.dt,
            "dt_min": self.dt_min,
            "linear_solver": self.linear_solver,
            "integrator": self.integrator,
            "grid": self.grid.to_dict(),
            "energy": self.energy.describe(),
        }

    # ---- explicit scheme -------------------------------------------------------------------
    def rhs(self, rho: np.ndarray) -> tuple[np.ndarray, float]:
        """``dρ/dt`` of the semi-discrete explicit scheme.

        Parameters
        ----------
        rho : ndarray, shape grid.shape
            Cell averages.

        Returns
        -------
        rate : ndarray, shape grid.shape
            ``dρ/dt``.
        speed : float
            ``Σ_k max|u_k| / h_k`` (for the CFL limit).
        """
        rho = np.ascontiguousarray(rho, dtype=np.float64)
        rate = np.empty_like(rho)
        speed = self._rate(rho, rate, np.empty_like(rho))
        return rate, speed

    def _potential(self, rho: np.ndarray, xi: np.ndarray) -> np.ndarray:
        """``ξ = Ψ[ρ]`` into ``xi`` (or the frozen potential itself when ``H = 0``)."""
        frozen = self.discrete.frozen_potential(rho) if self.discrete.has_interaction else self._V
        internal = self.energy.internal
        if internal is None:
            return frozen
        if isinstance(internal, Entropy):
            kernel = (
                fv_fused.entropy_potential_parallel
                if self._parallel
                else fv_fused.entropy_potential_serial
            )
            kernel(rho.ravel(), np.ascontiguousarray(frozen).ravel(), 1.0 / internal.beta,
                   internal.floor, xi.ravel())
            return xi
        if isinstance(internal, PorousMediumEnergy):
            np.power(rho, internal.m - 1.0, out=xi)
            xi *= internal.coefficient * internal.m / (internal.m - 1.0)
            xi += frozen
            return xi
        xi[...] = self.discrete.first_variation(rho)  # a user's internal energy: numpy
        return xi

    def face_drift(self, rho: np.ndarray) -> list[np.ndarray]:
        """The non-gradient drift's normal velocity at the interior faces of each axis.

        Parameters
        ----------
        rho : ndarray, shape grid.shape
            Cell averages (the drift's moments are taken from them).

        Returns
        -------
        list of ndarray
            Axis ``k``: shape ``grid.shape`` with ``n_k − 1`` along ``k`` (empty list without a
            drift).
        """
        if self._drift is None:
            return []
        moments = self._drift.moments_on_grid(self.grid, rho, self._drift_features)
        return [
            np.ascontiguousarray(self._drift.velocity_at(points, moments)[..., k])
            for k, points in enumerate(self._faces)
        ]

    def _rate(self, rho: np.ndarray, rate: np.ndarray, xi: np.ndarray) -> float:
        """Fused compiled passes: ``rate = dρ/dt``; returns ``Σ_k max|u_k| / h_k``."""
        self.rate_evaluations += 1
        xi = self._potential(rho, xi)
        drift = fv_fused.NO_DRIFT
        if self._drift is not None:
            faces = [fv_fused.grid_view(b) for b in self.face_drift(rho)]
            drift = tuple([fv_fused.NO_DRIFT[0]] * (3 - self.grid.dim) + faces)
        speeds = np.zeros(3)
        kernel = (
            fv_fused.flux_divergence_parallel
            if self._parallel
            else fv_fused.flux_divergence_serial
        )
        kernel(
            fv_fused.grid_view(rho),
            fv_fused.grid_view(np.ascontiguousarray(xi)),
            self._inv_h,
            self.order == 2,
            fv_fused.grid_view(rate),
            speeds,
            drift,
            self._drift is not None,
        )
        ih = self._inv_h  # summed in this order by the compiled loop too (same bits)
        return float(speeds[0] * ih[0] + speeds[1] * ih[1] + speeds[2] * ih[2])

    @staticmethod
    def _workspace(rho: np.ndarray) -> dict:
        return {k: np.empty_like(rho) for k in ("k1", "k2", "xi", "stage", "a", "b", "c")}

    @property
    def _parallel(self) -> bool:
        return parallel_worthwhile(self.grid.size)

    def stable_dt(self, rho: np.ndarray, speed: float) -> float:
        """Largest step allowed by the advective and parabolic limits (times ``cfl``).

        Parameters
        ----------
        rho : ndarray, shape grid.shape
            Cell averages.
        speed : float
            ``Σ_k max|u_k| / h_k`` from :meth:`rhs`.

        Returns
        -------
        float
            The step.
        """
        return self.cfl * min(self._limits(rho, speed))

    def _limits(self, rho: np.ndarray, speed: float) -> tuple[float, float]:
        """The advective limit ``1/(2 Σ_k a_k/h_k)`` and the parabolic one
        ``1/(2 max(ρH″) Σ_k h_k⁻²)`` (``inf`` where they do not apply), without ``cfl``."""
        dt_adv = np.inf if speed == 0 else 1.0 / (2.0 * speed)
        internal = self.energy.internal
        d_max = 0.0 if internal is None else internal.max_diffusivity(rho)
        dt_par = 1.0 / (2.0 * d_max * np.sum(self._h**-2.0)) if d_max > 0 else np.inf
        return dt_adv, dt_par

    def _explicit_step(self, rho, t, remaining, work=None):
        """One explicit step from ``rho`` into a free buffer of ``work`` (RKL2 super-step or
        SSP-RK step, see the class docstring); returns it and ``Δt``."""
        if work is None:
            work = self._workspace(rho)
        k1 = work["k1"]
        new = work["a"] if work["a"] is not rho else work["b"]
        speed = self._rate(rho, k1, work["xi"])
        dt_adv, dt_par = self._limits(rho, speed)
        ssp_stages = self._ssp_stages
        dt = min(self.cfl * max(ssp_stages - 1, 1) * min(dt_adv, dt_par), remaining)
        if not np.isfinite(dt):
            dt = remaining
        if self.integrator != "ssp" and np.isfinite(dt_par):
            # the forward-Euler limit of advection (disc of eigenvalues) + diffusion (interval)
            dt_fe = self.cfl / (1.0 / dt_par + 0.5 / dt_adv)
            tau = min(self.cfl * dt_adv, remaining, dt_fe * (MAX_STAGES**2 + MAX_STAGES - 2) / 4)
            force = self.integrator == "rkl2"
            while True:
                stages = min(rkl2_stages(tau, dt_fe), MAX_STAGES)  # τ is capped above
                # auto: only where RKL2 needs fewer evaluations per unit time than SSP-RK
                if not force and stages / tau >= ssp_stages / dt:
                    break
                if self._rkl_step(rho, tau, stages, work, new):
                    return new, tau
                self._rkl_retries += 1
                tau *= 0.5
                if tau <= dt:  # no longer a super-step: an SSP-RK step (positivity by CCH)
                    break
        return self._ssp_step(rho, t, remaining, dt, work, new)

    def _ssp42_step(self, rho, dt, work, new) -> bool:
        """SSPRK(4,2) (Ketcheson 2008) into ``new``: three forward-Euler steps of ``dt/3``
        from ``ρ``, then ``¼ρ + ¾(Y₃ + (dt/3) M(Y₃))``; False as soon as a stage is negative."""
        parallel = self._parallel
        euler = euler_stage if parallel else euler_stage_serial
        final = ssp_final_stage if parallel else ssp_final_stage_serial
        k2, xi = work["k2"], work["xi"]
        h = dt / 3.0
        y = work["stage"]
        if not euler(rho.ravel(), work["k1"].ravel(), h, y.ravel()):
            return False
        for other in (work["c"], work["stage"]):
            self._rate(y, k2, xi)
            if not euler(y.ravel(), k2.ravel(), h, other.ravel()):
                return False
            y = other
        self._rate(y, k2, xi)
        return final(rho.ravel(), y.ravel(), k2.ravel(), h, 0.75, new.ravel())

    def _rkl_step(self, rho, tau, stages, work, new) -> bool:
        """One RKL2 step of ``tau`` with ``stages`` stages into ``new``; False (``new``
        garbage) as soon as a stage has a negative or non-finite value."""
        if stages not in self._rkl_weights:
            self._rkl_weights[stages] = tuple(c.tolist() for c in rkl2_coefficients(stages))
        mu, nu, mu_t, gamma_t = self._rkl_weights[stages]
        parallel = self._parallel
        euler = euler_stage if parallel else euler_stage_serial
        combine = rkl_stage if parallel else rkl_stage_serial
        k0, m1, xi = work["k1"].ravel(), work["k2"], work["xi"]
        # stage j writes buffers[(s − j) % 3], so that stage s lands in ``new``
        buffers = (new, work["stage"], work["c"])
        y0 = rho.ravel()
        prev2, prev = rho, buffers[(stages - 1) % 3]
        if not euler(y0, k0, mu_t[1] * tau, prev.ravel()):
            return False
        for j in range(2, stages + 1):
            self._rate(prev, m1, xi)
            out = buffers[(stages - j) % 3]
            if not combine(prev.ravel(), prev2.ravel(), y0, m1.ravel(), k0, mu[j], nu[j],
                           mu_t[j] * tau, gamma_t[j] * tau, out.ravel()):  # fmt: skip
                return False
            prev2, prev = prev, out
        return True

    def _ssp_step(self, rho, t, remaining, dt, work, new):
        """SSP-RK step (forward Euler / Heun / SSPRK(4,2)) of at most ``dt`` into ``new``;
        halves the step while a density turns negative. Returns ``new`` and the step taken."""
        k1, k2, xi, stage = work["k1"], work["k2"], work["xi"], work["stage"]
        parallel = self._parallel
        euler = euler_stage if parallel else euler_stage_serial
        heun = heun_stage if parallel else heun_stage_serial
        flat_rho, flat_k1 = rho.ravel(), k1.ravel()
        target = stage if self.order == 2 else new
        for _ in range(_MAX_REJECTIONS):
            if dt < min(self.dt_min, remaining):  # a last step shorter than dt_min is fine
                break
            if self._ssp_stages == 4:
                if self._ssp42_step(rho, dt, work, new):
                    return new, dt
                dt *= 0.5
                continue
            ok = euler(flat_rho, flat_k1, dt, target.ravel())
            if ok and self.order == 2:
                self._rate(stage, k2, xi)
                ok = heun(flat_rho, stage.ravel(), k2.ravel(), dt, new.ravel())
                if ok:
                    return new, dt
            elif ok:
                return new, dt
            dt *= 0.5
        raise BlowUpError(
            t, f"no positive step above dt_min={self.dt_min:g} (density or velocity blew up)"
        )

    # ---- semi-implicit scheme --------------------------------------------------------------
    def generator(self, rho: np.ndarray) -> sp.csc_matrix:
        """The semi-implicit scheme's operator, frozen at ``rho``.

        Parameters
        ----------
        rho : ndarray, shape grid.shape
            Cell averages at which ``V + U∗ρ`` and the diffusivity are frozen.

        Returns
        -------
        scipy.sparse.csc_matrix, shape (n, n)
            ``A`` with ``dρ/dt = A ρ`` (zero column sums).
        """
        grid = self.grid
        xi = self.discrete.frozen_potential(rho)
        internal = self.energy.internal
        diff = np.zeros(grid.size) if internal is None else internal.diffusivity(rho)
        if self._pattern is None:
            self._pattern = OperatorPattern(grid.shape, self._h)
        drift = self.face_drift(rho)
        faces = np.concatenate([b.ravel() for b in drift]) if drift else None
        return self._pattern.operator(np.ravel(xi), np.ravel(diff), faces)

    def _default_implicit_dt(self, rho) -> float:
        xi = self.discrete.frozen_potential(rho)
        speed = sum(
            np.abs(np.diff(xi, axis=k)).max(initial=0.0) / h**2 for k, h in enumerate(self._h)
        )
        drift = self.face_drift(rho)
        speed += sum(np.abs(b).max(initial=0.0) / h for b, h in zip(drift, self._h, strict=False))
        speed += self._diffusive_speed(rho)
        return np.inf if speed == 0 else self.cfl / speed

    def _diffusive_speed(self, rho) -> float:
        """``Σ_k max|∂_k H′(ρ)| / h_k``: the speed at which diffusion moves mass (fronts of
        porous media, the spreading of a bump). Entropy: faces where both cells hold more than
        1e-6 of the peak (``log ρ`` is unbounded in empty tails)."""
        internal = self.energy.internal
        if internal is None:
            return 0.0
        peak = float(np.max(rho))
        if peak <= 0:
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            pressure = np.asarray(internal.derivative(np.maximum(rho, 1e-300)), float)
        linear = isinstance(internal, Entropy)
        speed = 0.0
        for k, h in enumerate(self._h):
            jump = np.abs(np.diff(pressure, axis=k))
            if linear:
                lo = [slice(None)] * rho.ndim
                hi = [slice(None)] * rho.ndim
                lo[k], hi[k] = slice(0, -1), slice(1, None)
                occupied = np.minimum(rho[tuple(lo)], rho[tuple(hi)]) > 1e-6 * peak
                jump = np.where(occupied, jump, 0.0)
            jump = np.where(np.isfinite(jump), jump, 0.0)
            speed += float(jump.max(initial=0.0)) / h**2
        return speed

    def _implicit_step(self, rho, t, remaining):
        dt = self.dt if self.dt is not None else self._default_implicit_dt(rho)
        dt = min(dt, remaining)
        if self._constant_operator:
            if self._operator is None:
                self._operator = self.generator(rho)
            key = round(dt, 15)
            if key not in self._solve_cache:  # I − Δt A per step size (and its LU once needed)
                if len(self._solve_cache) > 4:
                    self._solve_cache.clear()
                self._solve_cache[key] = [self._pattern.shifted(self._operator, dt), None]
            entry = self._solve_cache[key]
        else:
            operator = self.generator(rho)  # builds the pattern on the first call
            entry = [self._pattern.shifted(operator, dt), None]
        b = rho.ravel()
        new = self._iterative_solve(entry[0], b) if self.linear_solver == "iterative" else None
        if new is None:  # direct, or BiCGSTAB did not converge
            if entry[1] is None:
                entry[1] = spla.splu(entry[0])
            new = entry[1].solve(b)
        if not np.all(np.isfinite(new)):
            raise BlowUpError(t, "non-finite density after a semi-implicit step")
        # an M-matrix solve is non-negative up to round-off (or the iterative tolerance); the
        # column sums of I − Δt A are 1, so the mass is that of ρ: restore it after clipping
        new = np.maximum(new, 0.0)
        total = new.sum()
        if total > 0:
            new *= b.sum() / total
        return new.reshape(self.grid.shape), dt

    @staticmethod
    def _iterative_solve(matrix, b):
        """BiCGSTAB on ``(I − Δt A) x = b``, Jacobi-preconditioned and started from ``b``; None
        when it does not reach a relative residual of 1e-12 in 500 iterations."""
        inv_diag = 1.0 / matrix.diagonal()
        precondition = spla.LinearOperator(matrix.shape, matvec=lambda v: inv_diag * v)
        x, info = spla.bicgstab(matrix, b, x0=b.copy(), rtol=1e-12, atol=0.0, maxiter=500,
                                M=precondition)  # fmt: skip
        return x if info == 0 and np.all(np.isfinite(x)) else None

    # ---- output ----------------------------------------------------------------------------
    def initial_condition(self) -> str:
        return "density at time 0"

    def build_dataset(self, recorder, state) -> xr.Dataset:
        series = {
            name: ([obs[name] for obs in recorder.observables], long_name)
            for name, long_name in (
                ("mass", "total mass"),
                ("free_energy", "discrete free energy"),
                ("steps", "time steps taken since t = 0"),
            )
        }
        return io.density_dataset(self.grid, recorder.times, recorder.snapshots, series)
