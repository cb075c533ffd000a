r"""SGD on a finite network against its reduced mean-field PDE, assembled from small parts.

A :class:`Comparison` holds every setting, checked when it is built (before any work). Its
:meth:`~Comparison.run` goes through the parts below, each usable on its own:

1. :func:`initial_law` — the reduced start ``ρ̄0`` (a sample) and the network model whose
   neurons start from ``ρ̄0`` times the uniform law on the symmetry orbits;
2. :func:`run_sgd` — online SGD on the full network;
3. :func:`solve_reduced` — the reduced PDE from the same ``ρ̄0``: finite volumes on a grid
   when it has at most two coordinates, particles otherwise; once per PDE variant: the plain
   reduced energy and each correction in :data:`CORRECTIONS`;
4. :func:`sgd_variables`, :func:`pde_variables`, :func:`summary` — the archive, with every
   variable and attribute named by :mod:`wgflow.schema`.

A PDE stage that stops (a wall reached, Ctrl-C) keeps SGD's finished run in the exception's
``dataset``.
"""

from __future__ import annotations

import dataclasses
import functools
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from wgflow import io, schema
from wgflow.errors import ParameterError, RunStopped
from wgflow.measures import ParticleMeasure
from wgflow.metrics import risk_gap, wasserstein, wasserstein_over_time
from wgflow.networks import neutral_head
from wgflow.problem import NetworkProblem, ReducedProblem
from wgflow.problems import AnisotropicGaussians, TeacherNetwork, TeacherStudent
from wgflow.problems.teacher_student import MAX_TEACHER_VALUE
from wgflow.resources import check_memory
from wgflow.solvers import SGD, FiniteVolume, Particles
from wgflow.trackers import BoundaryGuard
from wgflow.validation import (
    check_bool,
    check_choice,
    check_int,
    check_positive,
    check_positive_int,
    check_real,
)

from .collective import solve_collective

__all__ = [
    "CORRECTIONS",
    "Comparison",
    "Correction",
    "build_problem",
    "compare",
    "initial_law",
    "pde_variables",
    "reduced_grid_pde",
    "run_sgd",
    "sgd_variables",
    "solve_reduced",
    "summary",
]


@dataclass(frozen=True)
class Correction:
    """A corrected reduced PDE archived next to the plain one.

    Parameters
    ----------
    variant : str
        Its key in :data:`wgflow.schema.PDE_VARIANTS` (the archive's suffix).
    capability : str
        The reduced problem's method it needs (refused up front when missing).
    energy : callable, optional
        ``(reduced, comparison) ↦ FreeEnergy``: the corrected PDE is the plain solver on it.
    solve : callable, optional
        ``(comparison, sample, progress) ↦ xarray.Dataset``: a coupled model with its own
        solver (instead of ``energy``).
    """

    variant: str
    capability: str
    energy: Callable | None = None
    solve: Callable | None = None


def _step_size_energy(red: ReducedProblem, cmp: Comparison):
    return red.corrected_energy(cmp.step_size)


#: the corrections ``Comparison(correction=...)`` accepts, by name
CORRECTIONS: dict[str, Correction] = {
    "step-size": Correction("corrected", "step_size_drift", energy=_step_size_energy),
    "collective": Correction("collective", "collective_energy", solve=solve_collective),
}
#: the problems ``Comparison(problem=...)`` builds by name
PROBLEMS = ("anisotropic", "teacher-student")
#: the coarsest reduced grid accepted (cells per radial axis)
MIN_CELLS = 4
#: the largest mass fraction allowed in the outermost cells of a reduced grid
WALL_TOLERANCE = 1e-4
_ANISOTROPIC_ONLY = ("s0", "delta")
_TEACHER_ONLY = ("k", "teacher_width", "label_noise")
_PROBLEM_SETTINGS = (
    "d", "s0", "delta", "activation", "trained", "k", "teacher_width", "label_noise",
)  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    """Every setting of an SGD-vs-PDE comparison, checked when built.

    Parameters
    ----------
    problem : {"anisotropic", "teacher-student"} or NetworkProblem
        ``"anisotropic"``: :class:`~wgflow.problems.AnisotropicGaussians` (Gaussian-mixture
        classification); ``"teacher-student"``: :class:`~wgflow.problems.TeacherStudent`
        (regression on a teacher of ``teacher_width`` unit neurons spread over a
        ``k``-dimensional subspace). Or any :class:`~wgflow.NetworkProblem`; then the problem
        settings (``d`` … ``label_noise``) must be left out.
    d, s0, delta, activation, trained, k, teacher_width, label_noise : optional
        Problem settings (``None``: the problem's default — ``d = 320``, ``s0 = d // 4``,
        ``Δ = 0.5``, relu, ``trained = "w"`` (teacher–student ``"aw"``), ``k = 2``, 4
        teacher neurons, no label noise).
    n_neurons : int
        SGD's ``N``.
    step_size : float
        SGD's ``ε`` (one sample per step).
    t_final, save_every : float
        Horizon and snapshot interval (time units: ``t = kε``).
    sgd_t_final : float, optional
        Stop SGD earlier than the PDE (default ``t_final``); the whole PDE run is archived on
        ``pde_time``.
    stationary_rate : float
        The PDE counts as converged at the first snapshot where its risk falls by less than
        this per unit time.
    seed : int
        Seed of SGD and of the PDE's initial sample.
    radial : callable, optional
        ``(n, rng) ↦ (n, D̄)`` reduced start ``ρ̄0`` without the head columns (default the
        problem's :meth:`~wgflow.NetworkProblem.default_start`).
    initial_scale : float, optional
        Start from ``w ~ N(0, κ² I/d)``, ``a = 1``, ``b = 0`` instead (the PDE starts from the
        exact reduced law of that Gaussian).
    cells : int, optional
        Finite-volume cells per radial axis (default 64), for reduced problems with ``D̄ ≤ 2``
        coordinates (refused for the others, which are solved by particles).
    r_max : float
        Upper end of the radial axes (the grid's, and a bound on the initial law).
    mehler_order : int, optional
        Mehler order of the reduced interaction (default the problem's
        ``default_mehler_order``).
    pde_samples : int
        Draws of ``ρ̄0`` histogrammed into the PDE's initial density.
    pde_particles, pde_dt : int, float, optional
        For ``D̄ > 2``: particles (default 4000) and time step (default 0.01) of the particle
        PDE (refused for grid problems).
    exact_risk : bool, optional
        SGD records the exact ``R_N`` (default: when it is cheap — relu, with or without bias,
        ≤ 0.6 s per snapshot at ``N = 800``) or a held-out Monte-Carlo estimate (20 000
        samples).
    beta : float
        Inverse temperature: noisy SGD against the reduced PDE with entropy.
    correction : str or sequence of str, optional
        Keys of :data:`CORRECTIONS` (a list, or one string, comma-separated for several): also
        solve each corrected PDE and archive it with its variant's suffix. ``"step-size"``:
        the one-neuron ``εd`` drift; ``"collective"``: the reduced PDE coupled to the
        network's collective scalars (``docs/conventions.rst``, "Finite step size" and "The
        collective mode"; on particles it costs about twice the plain PDE: lower
        ``pde_particles`` or raise ``pde_dt`` for exploratory runs).
    """

    problem: str | NetworkProblem = "anisotropic"
    d: int | None = None
    s0: int | None = None
    delta: float | None = None
    activation: str | None = None
    trained: str | None = None
    k: int | None = None
    teacher_width: int | None = None
    label_noise: float | None = None
    n_neurons: int = 800
    step_size: float = 2e-4
    t_final: float = 2.0
    save_every: float = 0.25
    sgd_t_final: float | None = None
    stationary_rate: float = 1e-4
    seed: int = 0
    radial: Callable | None = None
    initial_scale: float | None = None
    cells: int | None = None
    r_max: float = 1.5
    mehler_order: int | None = None
    pde_samples: int = 200_000
    pde_particles: int | None = None
    pde_dt: float | None = None
    exact_risk: bool | None = None
    beta: float = np.inf
    correction: str | tuple[str, ...] | None = None
    network: NetworkProblem = field(init=False, repr=False)
    reduced: ReducedProblem = field(init=False, repr=False)

    def __post_init__(self) -> None:
        setting = functools.partial(object.__setattr__, self)
        given = {name: getattr(self, name) for name in _PROBLEM_SETTINGS}
        prob = build_problem(self.problem, **given)
        setting("network", prob)
        if self.mehler_order is None:
            setting("mehler_order", prob.default_mehler_order)
        red = prob.reduced(beta=self.beta, mehler_order=self.mehler_order)
        if not isinstance(red, ReducedProblem):
            raise ParameterError(
                f"problem: {type(prob).__name__}.reduced() must return a wgflow.ReducedProblem, "
                f"got {type(red).__name__}"
            )
        setting("reduced", red)
        start = prob.default_start() if self.radial is None else None
        if start is not None and self.initial_scale is None and not callable(start):
            raise ParameterError(
                f"problem: {type(prob).__name__}.default_start() must return a sampler "
                f"(n, rng) ↦ points, got {start!r}"
            )
        self._check_sgd()
        self._check_pde()
        if self.exact_risk is None:
            setting("exact_risk", prob.activation.name == "relu")

    def _check_sgd(self) -> None:
        check_positive_int("n_neurons", self.n_neurons)
        d = self.network.d
        what = f"SGD's {self.n_neurons} neurons in d = {d}"
        check_memory("n_neurons", 24.0 * self.n_neurons * d, what)
        check_positive("step_size", self.step_size)
        check_int("seed", self.seed, 0)
        check_bool("exact_risk", self.exact_risk, allow_none=True)
        if self.radial is not None and not callable(self.radial):
            raise ParameterError(
                f"radial: need a callable (n, rng) ↦ (n, D̄) sampler or None, got {self.radial!r}"
            )
        if self.initial_scale is not None:
            check_positive("initial_scale", self.initial_scale)
        check_positive("t_final", self.t_final)
        if self.sgd_t_final is not None:
            check_positive("sgd_t_final", self.sgd_t_final)
            if self.sgd_t_final > self.t_final:
                raise ValueError(
                    f"sgd_t_final: must be ≤ t_final = {self.t_final}, got {self.sgd_t_final}"
                )
        check_positive("save_every", self.save_every)
        if self.save_every > self.t_final:
            raise ValueError(
                f"save_every: must lie in (0, t_final={self.t_final}], got {self.save_every}"
            )

    @property
    def on_grid(self) -> bool:
        """Whether the reduced PDE is solved on a grid (``D̄ ≤ 2``), else by particles."""
        return self.reduced.dim <= 2

    def _check_pde(self) -> None:
        check_positive_int("pde_samples", self.pde_samples)
        dim = self.reduced.dim
        check_memory("pde_samples", 16.0 * self.pde_samples * dim, f"{self.pde_samples} draws")
        if self.radial is not None and self.initial_scale is not None:
            raise ValueError(
                "radial, initial_scale: give one start, not both (initial_scale starts from "
                "w ~ N(0, κ² I/d) and would ignore radial)"
            )
        kind = "finite volumes" if self.on_grid else "particles"
        inapplicable = ("pde_particles", "pde_dt") if self.on_grid else ("cells",)
        given = [name for name in inapplicable if getattr(self, name) is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)}: not used here: the reduced problem of "
                f"{type(self.network).__name__} has {self.reduced.dim} coordinates "
                f"{self.reduced.axes} and is solved by {kind}"
                + (" (pde_particles, pde_dt)" if not self.on_grid else " (cells, r_max)")
            )
        setting = functools.partial(object.__setattr__, self)
        if self.on_grid:
            setting("cells", 64 if self.cells is None else self.cells)
            check_int("cells", self.cells, MIN_CELLS)
            snapshots = int(self.t_final / self.save_every) + 2
            check_memory("cells", 64.0 * self.cells**dim * snapshots,
                         f"{snapshots} snapshots of {self.cells}^{dim} cells")  # fmt: skip
        else:
            default = min(4000, self.pde_samples)
            setting("pde_particles", default if self.pde_particles is None else self.pde_particles)
            setting("pde_dt", 0.01 if self.pde_dt is None else self.pde_dt)
            check_positive_int("pde_particles", self.pde_particles)
            check_positive("pde_dt", self.pde_dt)
            if self.pde_particles > self.pde_samples:
                raise ValueError(
                    f"pde_particles: at most pde_samples = {self.pde_samples} (the particles "
                    f"are the first draws of ρ̄0), got {self.pde_particles}"
                )
        check_positive("r_max", self.r_max)
        check_positive("stationary_rate", self.stationary_rate)
        setting("correction", _corrections(self.correction))
        for name in self.correction or ():
            needed = CORRECTIONS[name].capability
            if not self.reduced.provides(needed):
                raise ValueError(
                    f"correction: {name!r} is not derived for "
                    f"{type(self.network).__name__} (its reduced problem has no {needed})"
                )

    @property
    def sgd_horizon(self) -> float:
        """Where SGD stops (``sgd_t_final``, default ``t_final``)."""
        return self.t_final if self.sgd_t_final is None else self.sgd_t_final

    def settings(self) -> dict:
        """Every setting, JSON-serializable (archived as the ``parameters`` attribute).

        Returns
        -------
        dict
            The problem's settings and the comparison's own.
        """
        prob = self.network
        return {
            **prob.settings(),
            "activation_params": prob.activation.params.tolist(),
            "n_neurons": self.n_neurons,
            "step_size": self.step_size,
            "t_final": self.t_final,
            "save_every": self.save_every,
            "sgd_t_final": self.sgd_horizon,
            "stationary_rate": self.stationary_rate,
            "seed": self.seed,
            "initial_scale": self.initial_scale,
            "radial": repr(self.radial_law()) if self.initial_scale is None else None,
            "cells": self.cells,
            "r_max": self.r_max,
            "mehler_order": self.mehler_order,
            "pde_samples": self.pde_samples,
            "pde_particles": self.pde_particles,
            "pde_dt": self.pde_dt,
            "exact_risk": self.exact_risk,
            "beta": self.beta,
            "correction": list(self.correction) if self.correction else None,
        }

    def radial_law(self):
        """The reduced start (``radial`` or the problem's default).

        Returns
        -------
        callable
            ``(n, rng) ↦ (n, D̄ − len(head))``.
        """
        return self.network.default_start() if self.radial is None else self.radial

    def pde_solvers(self) -> dict:
        """How each PDE variant is solved: the plain one, then each correction.

        Returns
        -------
        dict of str -> callable
            Variant → ``(sample, progress) ↦ xarray.Dataset``.
        """
        out = {"plain": functools.partial(solve_reduced, self, energy=self.reduced.energy)}
        for name in self.correction or ():
            fix = CORRECTIONS[name]
            if fix.solve is not None:
                out[fix.variant] = functools.partial(fix.solve, self)
            else:
                energy = fix.energy(self.reduced, self)
                out[fix.variant] = functools.partial(solve_reduced, self, energy=energy)
        return out

    def run(self, progress: bool = False) -> xr.Dataset:
        """SGD, then each PDE variant, then the archive.

        Parameters
        ----------
        progress : bool
            Progress bars.

        Returns
        -------
        xarray.Dataset
            Described in :func:`compare`.

        Raises
        ------
        RunStopped, KeyboardInterrupt
            A PDE stage stopped; ``dataset`` holds SGD's whole run and the PDE's snapshots.
        """
        progress = check_bool("progress", progress)
        sample, model = initial_law(self)
        start = _time.perf_counter()
        sgd = run_sgd(self, model, progress)
        wall_sgd = _time.perf_counter() - start
        start = _time.perf_counter()
        pdes = {}
        for variant, solve in self.pde_solvers().items():
            try:
                pdes[variant] = solve(sample, progress=progress)
            except (RunStopped, KeyboardInterrupt) as exc:  # keep what finished
                partial = {**pdes, variant: getattr(exc, "dataset", None)}
                exc.dataset = sgd_kept(sgd, partial, self.reduced.axes, exc)
                raise
        wall = {"wall_time_sgd": wall_sgd, "wall_time_pde": _time.perf_counter() - start}
        return assemble(self, sgd, pdes, wall)


def _corrections(value) -> tuple[str, ...] | None:
    """``correction`` as a tuple of known names (``None`` for none)."""
    if value is None:
        return None
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise ParameterError(
            f"correction: need a name, a comma-separated string or a list of names of "
            f"{list(CORRECTIONS)}, got {value!r}"
        )
    names = tuple(n.strip() for n in names if n.strip())
    for name in names:
        check_choice("correction", name, tuple(CORRECTIONS))
    if len(set(names)) < len(names):
        raise ValueError(f"correction: a name is repeated in {value!r}")
    return names or None


def compare(problem="anisotropic", *, progress: bool = False, **settings) -> xr.Dataset:
    """SGD in dimension ``d`` against the reduced PDE, on the same time axis ``t = kε``.

    ``compare(problem, **settings)`` is ``Comparison(problem, **settings).run(progress)``.

    Parameters
    ----------
    problem : {"anisotropic", "teacher-student"} or NetworkProblem
        See :class:`Comparison`.
    progress : bool
        Progress bars.
    **settings
        The fields of :class:`Comparison` (all checked before SGD runs).

    Returns
    -------
    xarray.Dataset
        ``risk_sgd(time)``, ``risk_pde(time)``, ``risk_gap(time)``, ``w2(time)`` (reduced
        coordinates), ``density(time, <axes>)`` (grid PDE) or ``pde_positions(time, sample,
        component)`` (particle PDE), SGD's reduced coordinates ``particle_r1(time,
        particle)``…, each correction's variables with its suffix (names from
        :mod:`wgflow.schema`); attributes ``sup_risk_gap``, ``sup_w2``, ``wall_time_sgd``,
        ``wall_time_pde``.
    """
    unknown = sorted(set(settings) - {f.name for f in dataclasses.fields(Comparison) if f.init})
    if unknown:
        raise ParameterError(
            f"{', '.join(unknown)}: not a setting of compare(); known: "
            f"{', '.join(f.name for f in dataclasses.fields(Comparison) if f.init)}"
        )
    return Comparison(problem, **settings).run(progress)


def build_problem(problem="anisotropic", **settings) -> NetworkProblem:
    """The problem a comparison runs, from its name and settings (or the object itself).

    Parameters
    ----------
    problem : {"anisotropic", "teacher-student"} or NetworkProblem
        See :class:`Comparison`.
    **settings
        ``d``, ``s0``, ``delta``, ``activation``, ``trained``, ``k``, ``teacher_width``,
        ``label_noise`` (``None``: the default; settings of the other problem must be ``None``).

    Returns
    -------
    NetworkProblem
        The problem.
    """
    given = {name: value for name, value in settings.items() if value is not None}
    if not isinstance(problem, str):
        if not isinstance(problem, NetworkProblem):
            raise ParameterError(
                f"problem: need one of {PROBLEMS} or a wgflow.NetworkProblem (see "
                f"docs/architecture.rst), got {type(problem).__name__}"
            )
        if given:
            raise ValueError(
                f"{', '.join(given)}: set by the problem object; leave them out of compare()"
            )
        return _checked_contract(problem)
    check_choice("problem", problem, PROBLEMS)
    if "label_noise" in given:  # named as compare() names it (the problem calls it noise)
        check_real("label_noise", given["label_noise"], low=0.0, high=MAX_TEACHER_VALUE)
    foreign = _TEACHER_ONLY if problem == "anisotropic" else _ANISOTROPIC_ONLY
    wrong = [name for name in foreign if name in given]
    if wrong:
        raise ValueError(f"{', '.join(wrong)}: not a setting of the {problem} problem")
    d = check_int("d", given.get("d", 320), 1)
    check_memory("d", 64.0 * d, f"the problem's vectors in d = {d}")
    activation = given.get("activation", "relu")
    if problem == "anisotropic":
        return AnisotropicGaussians(
            d=d, s0=check_int("s0", given.get("s0", d // 4), 1), delta=given.get("delta", 0.5),
            activation=activation, trained=given.get("trained", "w"),
        )  # fmt: skip
    teacher = TeacherNetwork.spread(
        check_positive_int("k", given.get("k", 2)),
        check_positive_int("teacher_width", given.get("teacher_width", 4)),
    )
    return TeacherStudent(
        d=d, teacher=teacher, activation=activation, noise=given.get("label_noise", 0.0),
        trained=given.get("trained", "aw"),
    )  # fmt: skip


def _checked_contract(problem: NetworkProblem) -> NetworkProblem:
    """A user's NetworkProblem has the attributes the comparison uses (named when missing)."""
    from wgflow.networks import DATA_LAWS, Activation

    owner = type(problem).__name__
    wanted = {"d": int, "trained": str, "activation": Activation, "data": DATA_LAWS}
    for name, kind in wanted.items():
        value = getattr(problem, name, None)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ParameterError(
                f"problem: {owner}.{name} must be a {getattr(kind, '__name__', kind)} (the "
                f"NetworkProblem contract, docs/architecture.rst), got {value!r}"
            )
    check_choice(f"problem: {owner}.trained", problem.trained, ("w", "aw", "abw"))
    return problem


# ---- 1. the initial law ---------------------------------------------------------------------
def initial_law(cmp: Comparison):
    """The PDE's initial sample and SGD's model, both from the same ``ρ̄0``.

    Parameters
    ----------
    cmp : Comparison
        The settings.

    Returns
    -------
    sample : ndarray, shape (pde_samples, D̄)
        Reduced points of ``ρ̄0`` (head columns first).
    model : NetworkModel
        The network SGD trains, started from ``ρ̄0``.
    """
    prob = cmp.network
    rng = np.random.default_rng(np.random.SeedSequence([cmp.seed, 1]))
    h = len(prob.head)
    if cmp.initial_scale is not None:
        sample = prob.initial_reduced(cmp.pde_samples, cmp.initial_scale, rng)
        model = prob.model(initial_scale=cmp.initial_scale, exact_risk=False)
    else:
        radial = cmp.radial_law()
        sample = np.column_stack([*neutral_head(cmp.pde_samples, h),
                                  _drawn(radial, cmp, rng)])  # fmt: skip
        model = prob.model(radial=_with_head(radial, h), exact_risk=False)
    _check_start(cmp, sample)
    if cmp.exact_risk:
        model = dataclasses.replace(model, population_risk=prob.population_risk)
    return sample, model


def _drawn(radial, cmp: Comparison, rng) -> np.ndarray:
    """``radial(n, rng)``, checked: shape ``(n, D̄ − len(head))``, finite."""
    name = "radial" if cmp.radial is not None else "default_start"
    want = (cmp.pde_samples, len(cmp.reduced.radial_axes))
    points = np.asarray(radial(cmp.pde_samples, rng))
    if points.ndim == 1 and want[1] == 1:
        points = points[:, None]
    if points.shape != want or points.dtype.kind not in "biuf":
        raise ValueError(
            f"{name}: the sampler must return real points of shape {want} (coordinates "
            f"{cmp.reduced.radial_axes}), got {points.dtype} of shape {points.shape}"
        )
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{name}: the sampler returned non-finite points")
    return points.astype(float)


def _check_start(cmp: Comparison, sample: np.ndarray) -> None:
    """The initial law must lie inside the reduced domain, away from its truncated wall."""
    red, h = cmp.reduced, len(cmp.network.head)
    name = "initial_scale" if cmp.initial_scale is not None else (
        "radial" if cmp.radial is not None else "default_start"
    )
    for k, axis in enumerate(red.radial_axes):
        values = sample[:, h + k]
        if axis.startswith("r") and np.any(values < 0):
            raise ValueError(f"{name}: the radius {axis} must be ≥ 0, got {values.min():.3g}")
    radii = np.abs(sample[:, h:])
    if np.any(radii >= cmp.r_max):
        raise ValueError(
            f"r_max: the initial law reaches {radii.max():.3g} ≥ r_max = {cmp.r_max}"
        )
    if cmp.on_grid:  # mass in the outermost cells stops the run at t = 0: refuse it now
        edge = cmp.r_max * (1 - 1 / cmp.cells)
        share = float(np.mean(np.any(radii >= edge, axis=1)))
        if share > WALL_TOLERANCE:
            raise ValueError(
                f"r_max: {share:.2%} of the initial law lies in the outermost cells "
                f"(r ≥ {edge:.3g}); enlarge r_max (the grid's wall would stop the PDE at t = 0)"
            )


def _with_head(radial, h: int):
    """A radial sampler extended with ``a = 1`` (and ``b = 0``) columns."""
    return radial if h == 0 else functools.partial(_head_sampler, radial, h)


def _head_sampler(radial, h, n, rng):
    return np.column_stack([*neutral_head(n, h), radial(n, rng)])


# ---- 2. SGD ---------------------------------------------------------------------------------
def run_sgd(cmp: Comparison, model, progress: bool = False) -> xr.Dataset:
    """Online SGD on the full network to ``sgd_t_final``.

    Parameters
    ----------
    cmp : Comparison
        The settings.
    model : NetworkModel
        From :func:`initial_law`.
    progress : bool
        Progress bar.

    Returns
    -------
    xarray.Dataset
        SGD's archive (risk and reduced coordinates of every neuron over time).
    """
    horizon = cmp.sgd_horizon
    solver = SGD(
        model, n_neurons=cmp.n_neurons, step_size=cmp.step_size, seed=cmp.seed,
        test_size=20_000, beta=cmp.beta,
    )  # fmt: skip
    return solver.run(None, horizon, min(cmp.save_every, horizon), progress=progress)


# ---- 3. the reduced PDE ---------------------------------------------------------------------
def solve_reduced(cmp: Comparison, sample: np.ndarray, energy, progress: bool = False):
    """The reduced PDE from ``sample``: a grid when ``D̄ ≤ 2``, particles otherwise.

    Parameters
    ----------
    cmp : Comparison
        The settings.
    sample : ndarray, shape (n, D̄)
        Points of ``ρ̄0``.
    energy : FreeEnergy
        A variant's energy on the reduced axes.
    progress : bool
        Progress bar.

    Returns
    -------
    xarray.Dataset
        The PDE's archive with ``risk(time)``.
    """
    red = cmp.reduced
    if cmp.on_grid:
        return reduced_grid_pde(
            red, sample, cmp.cells, cmp.r_max, cmp.t_final, cmp.save_every, progress,
            energy=energy,
        )  # fmt: skip
    particles = sample[: cmp.pde_particles]
    return _particle_pde(red, particles, cmp.pde_dt, cmp, progress, energy)


def reduced_grid_pde(
    red,
    sample,
    cells,
    r_max,
    t_final,
    save_every,
    progress: bool = False,
    wall_tolerance: float = WALL_TOLERANCE,
    energy=None,
) -> xr.Dataset:
    """Finite volumes on a reduced problem from the histogram of reduced points.

    A :class:`~wgflow.trackers.BoundaryGuard` stops the run (:class:`~wgflow.BoundaryReached`)
    when more than ``wall_tolerance`` of the mass sits in the outermost cells of the radial
    axes' upper ends (the truncation of ``[0, ∞)`` at ``r_max``).

    Parameters
    ----------
    red : ReducedProblem
        The reduced problem.
    sample : ndarray, shape (n, D̄)
        Points of the initial law (histogrammed on the grid).
    cells : int
        Cells per radial axis.
    r_max : float
        Upper end of the radial axes.
    t_final, save_every : float
        Horizon and snapshot interval.
    progress : bool
        Progress bar.
    wall_tolerance : float
        Largest mass fraction allowed in the outermost cells.
    energy : FreeEnergy, optional
        Another energy on the reduced axes (default ``red.energy``; e.g.
        ``red.corrected_energy(ε)``).

    Returns
    -------
    xarray.Dataset
        The finite-volume archive with ``risk(time)`` and the ``wall_mass`` attribute.
    """
    grid = red.grid(cells, r_max)
    energy = red.energy if energy is None else energy
    rho0 = ParticleMeasure(sample).histogram(grid).density
    if np.isfinite(red.beta):  # histograms have empty cells: the explicit entropy flux crawls
        solver = FiniteVolume(energy, grid, scheme="semi-implicit", dt=min(save_every, 0.005))
    else:
        solver = FiniteVolume(energy, grid)
    # the upper ends of [0, r_max] are truncations: mass there means r_max is too small
    guard = BoundaryGuard(tolerance=wall_tolerance, sides="upper")

    def with_risk(pde: xr.Dataset) -> xr.Dataset:
        pde["risk"] = xr.DataArray(
            red.risk_curve(grid, pde["density"].values),
            dims="time",
            attrs={"units": "1", "long_name": "population risk R(ρ̄)"},
        )
        return pde

    pde = _keeping_partial(
        lambda: solver.run(rho0, t_final, save_every, progress=progress, trackers=[guard]),
        with_risk,
    )
    pde.attrs["wall_mass"] = max(guard.wall_mass.values())
    return with_risk(pde)


def _particle_pde(red, sample, dt, cmp: Comparison, progress, energy) -> xr.Dataset:
    def with_risk(pde: xr.Dataset) -> xr.Dataset:
        pde["risk"] = xr.DataArray(
            [red.particle_risk(x) for x in pde["positions"].values],
            dims="time",
            attrs={"units": "1", "long_name": "population risk R(ρ̄) (particles)"},
        )
        return pde.rename({"particle": "sample"})

    solver = Particles(energy, dt=dt)
    pde = _keeping_partial(
        lambda: solver.run(sample, cmp.t_final, cmp.save_every, progress=progress), with_risk
    )
    return with_risk(pde)


def _keeping_partial(run, finish):
    """``run()``; a stop's snapshots get ``finish`` applied (their risk) before re-raising."""
    try:
        return run()
    except (RunStopped, KeyboardInterrupt) as exc:
        if getattr(exc, "dataset", None) is not None:
            exc.dataset = finish(exc.dataset)
        raise


# ---- 4. the archive -------------------------------------------------------------------------
def assemble(cmp: Comparison, sgd: xr.Dataset, pdes: dict, wall: dict) -> xr.Dataset:
    """The comparison archive: SGD's variables, each PDE variant's, provenance and summary.

    Parameters
    ----------
    cmp : Comparison
        The settings.
    sgd : xarray.Dataset
        From :func:`run_sgd`.
    pdes : dict of str -> xarray.Dataset
        Variant → :func:`solve_reduced`'s archive (``"plain"`` first).
    wall : dict
        ``wall_time_sgd``, ``wall_time_pde`` in seconds.

    Returns
    -------
    xarray.Dataset
        The archive.
    """
    red, plain = cmp.reduced, pdes["plain"]
    on_grid = "density" in plain
    whole = cmp.sgd_horizon < cmp.t_final
    variables = sgd_variables(sgd, plain, red.axes)
    for variant, pde in pdes.items():
        build = collective_variables if variant == "collective" else pde_variables
        variables.update(build(sgd, pde, red.axes, variant, whole))
    ds = xr.Dataset(variables)
    for axis in red.axes:
        if axis in plain.coords:
            ds[axis].attrs.update(plain[axis].attrs)
        if f"{axis}_bnds" in plain:
            ds[f"{axis}_bnds"] = plain[f"{axis}_bnds"]
    ds["time"].attrs.update(sgd["time"].attrs)
    solver = "SGD + " + ("FiniteVolume" if on_grid else "Particles")
    prob = cmp.network
    title = f"SGD vs reduced mean-field PDE ({type(prob).__name__})"
    ds.attrs.update(io.provenance(title, type(prob).__name__, solver, cmp.settings()))
    ds.attrs.update(summary(cmp, ds, pdes, wall))
    return ds


def sgd_variables(sgd: xr.Dataset, plain: xr.Dataset, axes) -> dict:
    """SGD's risk, its neurons in reduced coordinates and their means (and spreads).

    Parameters
    ----------
    sgd : xarray.Dataset
        SGD's archive.
    plain : xarray.Dataset
        The plain PDE's archive (its kind decides grid means or particle statistics).
    axes : sequence of str
        The reduced coordinates.

    Returns
    -------
    dict of str -> xarray.DataArray
        Named by :mod:`wgflow.schema`.
    """
    out = _sgd_core(sgd, axes)
    for axis in axes:
        values = sgd[axis]
        out[schema.mean(axis, "sgd")] = values.mean("particle").assign_attrs(
            units="1", long_name=f"mean of {axis} (SGD)"
        )
        if "density" not in plain:
            out[schema.std(axis, "sgd")] = values.std("particle").assign_attrs(
                units="1", long_name=f"std of {axis} (SGD)"
            )
    return out


def _sgd_core(sgd: xr.Dataset, axes) -> dict:
    """SGD's risk and its neurons in reduced coordinates (the grid axes keep the name)."""
    out = {schema.RISK_SGD: sgd["risk"].assign_attrs(schema.attributes(schema.RISK_SGD))}
    if "risk_stderr" in sgd:
        name = schema.RISK_SGD_STDERR
        out[name] = sgd["risk_stderr"].assign_attrs(schema.attributes(name))
    for name in schema.COLLECTIVE:
        if name in sgd:
            key = schema.collective(name, "sgd")
            out[key] = sgd[name].assign_attrs(schema.attributes(key))
    for axis in axes:
        if axis in sgd:
            name = schema.particle(axis)
            out[name] = sgd[axis].assign_attrs(schema.attributes(name))
    return out


def pde_variables(sgd: xr.Dataset, pde: xr.Dataset, axes, variant: str, whole: bool) -> dict:
    """One PDE variant on SGD's times: risk, gap, W2, density or positions, means, spreads.

    Parameters
    ----------
    sgd : xarray.Dataset
        SGD's archive.
    pde : xarray.Dataset
        The variant's archive.
    axes : sequence of str
        The reduced coordinates.
    variant : str
        A key of :data:`wgflow.schema.PDE_VARIANTS`.
    whole : bool
        Also archive the PDE's whole run on ``pde_time`` (it runs longer than SGD).

    Returns
    -------
    dict of str -> xarray.DataArray
        Named by :mod:`wgflow.schema`.
    """
    times = sgd["time"]
    out = _risk_variables(sgd, pde, variant)
    if "density" in pde:
        out[schema.w2(variant)] = wasserstein_over_time(sgd, pde)
        density = pde["density"].interp(time=times)
        out[schema.density(variant)] = density
        mass = density.sum(list(axes))
        for axis in axes:
            out[schema.mean(axis, "pde", variant)] = (
                (density * density[axis]).sum(list(axes)) / mass
            ).assign_attrs(units="1", long_name=f"mean of {axis} (PDE, {variant})")
        if variant == "plain" and "free_energy" in pde:
            out[schema.free_energy_pde()] = (
                pde["free_energy"].interp(time=times).assign_attrs(
                    schema.attributes(schema.free_energy_pde())
                )
            )
    else:
        out[schema.w2(variant)] = _particle_w2(sgd, pde["positions"], axes)
        positions = pde["positions"].interp(time=times)
        if variant == "plain":
            out["pde_positions"] = positions
        for k, axis in enumerate(axes):
            values = positions.isel(component=k, drop=True)
            out[schema.mean(axis, "pde", variant)] = values.mean("sample").assign_attrs(
                units="1", long_name=f"mean of {axis} (PDE, {variant})"
            )
            out[schema.std(axis, "pde", variant)] = values.std("sample").assign_attrs(
                units="1", long_name=f"std of {axis} (PDE, {variant})"
            )
    return _finished(out, pde, variant, whole)


def collective_variables(
    sgd: xr.Dataset, pde: xr.Dataset, axes, variant: str = "collective", whole: bool = False
) -> dict:
    """The collective model on SGD's times: risk, gap, W2, means, scalars, pair correlation.

    The model's state is the law of the neurons' incoherent parts; W2 and the means are taken
    in each neuron's full coordinates (``collective_full``), as SGD records them.

    Parameters
    ----------
    sgd : xarray.Dataset
        SGD's archive.
    pde : xarray.Dataset
        :func:`~wgflow.studies.collective.solve_collective`'s archive.
    axes : sequence of str
        The reduced coordinates.
    variant : str
        ``"collective"``.
    whole : bool
        Also archive the model's risk over its whole run on ``pde_time``.

    Returns
    -------
    dict of str -> xarray.DataArray
        Named by :mod:`wgflow.schema`.
    """
    times = sgd["time"]
    out = _risk_variables(sgd, pde, variant)
    full = pde["full_positions"] if "full_positions" in pde else pde["full_points"]
    out[schema.w2(variant)] = _particle_w2(sgd, full, axes, pde.get("full_weights"))
    if "density" in pde:
        out[schema.density(variant)] = pde["density"].interp(time=times)
    for axis in axes:
        out[schema.mean(axis, "pde", variant)] = pde[f"full_mean_{axis}"].interp(
            time=times
        ).assign_attrs(units="1", long_name=f"mean of {axis} (PDE, {variant})")
    for name in schema.COLLECTIVE:
        if name in pde:
            key = schema.collective(name, "pde")
            out[key] = pde[name].interp(time=times).assign_attrs(schema.attributes(key))
    return _finished(out, pde, variant, whole)


def _risk_variables(sgd: xr.Dataset, pde: xr.Dataset, variant: str) -> dict:
    """A PDE variant's risk on SGD's times and its gap to SGD's."""
    return {
        schema.risk_pde(variant): pde["risk"].interp(time=sgd["time"]),
        schema.risk_gap(variant): risk_gap(sgd, pde),
    }


def _finished(out: dict, pde: xr.Dataset, variant: str, whole: bool) -> dict:
    """A variant's variables with its whole run (``whole``) and the schema's attributes."""
    if whole:
        out.update(_whole_run(pde, variant))
    names = (schema.risk_pde(variant), schema.risk_gap(variant), schema.w2(variant),
             schema.density(variant))  # fmt: skip
    for name in names:
        if name in out:
            out[name] = out[name].assign_attrs(schema.attributes(name))
    return out


def _whole_run(pde: xr.Dataset, variant: str) -> dict[str, xr.DataArray]:
    """The PDE's own run on ``pde_time`` (risk; the plain variant's density too)."""
    quantities = ("risk", "density") if variant == "plain" else ("risk",)
    pde_time = xr.DataArray(
        pde["time"].values,
        dims=schema.PDE_TIME,
        attrs={**pde["time"].attrs, "long_name": "PDE time"},
    )
    out = {}
    for quantity in quantities:
        if quantity in pde:
            name = schema.whole_run(quantity, variant)
            da = pde[quantity].rename(time=schema.PDE_TIME).drop_vars(schema.PDE_TIME)
            out[name] = da.assign_attrs(schema.attributes(name)).assign_coords(
                {schema.PDE_TIME: pde_time}
            )
    return out


def _particle_w2(sgd: xr.Dataset, positions: xr.DataArray, axes, weights=None) -> xr.DataArray:
    """Exact W2 between SGD's neurons and (weighted) PDE points at each of SGD's times."""
    values = []
    for t in sgd["time"].values:
        a = np.column_stack([sgd[axis].sel(time=t).values for axis in axes])
        b, w = positions.sel(time=t, method="nearest").values, None
        if weights is not None:  # grid points: drop the empty cells
            w = weights.sel(time=t, method="nearest").values
            keep = w > 0
            b, w = b[keep], w[keep] / w[keep].sum()
        values.append(wasserstein(ParticleMeasure(a), ParticleMeasure(b, w), p=2).value)
    return xr.DataArray(values, dims="time", coords={"time": sgd["time"].values})


def summary(cmp: Comparison, ds: xr.Dataset, pdes: dict, wall: dict) -> dict:
    """The archive's summary attributes: suprema of the gaps, final risks, convergence.

    Parameters
    ----------
    cmp : Comparison
        The settings.
    ds : xarray.Dataset
        The assembled variables.
    pdes : dict of str -> xarray.Dataset
        Variant → PDE archive.
    wall : dict
        Wall times (seconds).

    Returns
    -------
    dict
        ``sup_risk_gap``, ``sup_w2``, ``pde_final_risk``, ``pde_stationary`` (and its time and
        risk), the wall times, and per correction ``sup_risk_gap_<suffix>``, ….
    """
    plain = pdes["plain"]
    out = {
        schema.sup(schema.risk_gap()): float(ds[schema.risk_gap()].max()),
        schema.sup(schema.w2()): float(ds[schema.w2()].max()),
        **wall,
        "pde_final_risk": float(plain["risk"][-1]),
    }
    stationary = _stationary(plain["risk"], cmp.stationary_rate)
    out["pde_stationary"] = "yes" if stationary else "no"
    if stationary:
        out.update(pde_stationary_time=stationary[0], pde_stationary_risk=stationary[1])
    for variant, pde in pdes.items():
        if variant == "plain":
            continue
        out[schema.sup(schema.risk_gap(variant))] = float(ds[schema.risk_gap(variant)].max())
        out[schema.sup(schema.w2(variant))] = float(ds[schema.w2(variant)].max())
        out[f"pde_{variant}_final_risk"] = float(pde["risk"][-1])
    if cmp.correction:
        out["correction_c"] = float(cmp.step_size * cmp.network.d)
    return out


def _stationary(risk: xr.DataArray, rate: float) -> tuple[float, float] | None:
    """First ``(t, R)`` where the risk falls by less than ``rate`` per unit time, if any."""
    t, r = risk["time"].values, risk.values
    drop = -np.diff(r) / np.diff(t)
    hit = np.nonzero(drop < rate)[0]
    return None if hit.size == 0 else (float(t[hit[0] + 1]), float(r[hit[0] + 1]))


def sgd_kept(sgd: xr.Dataset, pdes: dict, axes, exc) -> xr.Dataset:
    """What a comparison keeps when a PDE stage stops: SGD's whole run (the comparison's
    variable names), each finished PDE variant's run and the stopped one's snapshots before
    the stop (each on ``pde_time`` with its variant's suffix).

    Parameters
    ----------
    sgd : xarray.Dataset
        SGD's archive.
    pdes : dict of str -> xarray.Dataset or None
        Variant → its run, in solving order; the last one is the stopped variant's snapshots
        (``None`` when it stopped before its first).
    axes : sequence of str
        The reduced coordinates.
    exc : BaseException
        The stop.

    Returns
    -------
    xarray.Dataset
        ``status = "incomplete"``; ``stage`` says what finished and what stopped.
    """
    variables = _sgd_core(sgd, axes)
    for variant, pde in pdes.items():
        if pde is not None and "risk" in pde and pde.sizes.get("time", 0) > 1:
            variables.update(_whole_run(pde, variant))
    ds = xr.Dataset(variables)
    ds["time"].attrs.update(sgd["time"].attrs)
    ds.attrs.update(sgd.attrs)  # SGD's provenance: the comparison's was never built
    stopped = exc.cause if isinstance(exc, RunStopped) else "interrupted (Ctrl-C)"
    *finished, last = list(pdes) or ["plain"]
    labels = [schema.PDE_VARIANTS[v][1] for v in finished]
    ds.attrs["status"] = "incomplete"
    ds.attrs["stage"] = (
        "SGD complete; " + "".join(f"{label} complete; " for label in labels)
        + f"{schema.PDE_VARIANTS[last][1]} stopped: {stopped}"
    )
    return ds
