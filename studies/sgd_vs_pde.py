r"""How close is SGD on a finite network to the mean-field PDE? (any reduced problem)

Mei–Misiakiewicz–Montanari (COLT 2019) bound, for bounded activations and ``ε ≲ 1/D``,

.. math::
    \sup_{k \le T/ε} |R_N(θ^k) - R(ρ_{kε})| \le K e^{KT}\big(\sqrt{\log N / N}
    + \sqrt{D + \log N}\,\sqrt{ε}\big).

:func:`compare` runs one-pass SGD on the full ``d``-dimensional network from a product radial
start ``ρ̄0 × Unif(spheres)`` and the reduced PDE (finite volumes on ``(r1, r2)``, with the
finite-d Mehler correction of order 2 so that the reference is accurate to ``O(d⁻²)``) from the
same ``ρ̄0``, and records the risk gap and ``W2`` in reduced coordinates over time.
:func:`study` sweeps ``N`` (several seeds), ``ε`` and ``d`` (``ε ∝ 1/d``) on dask and
:func:`fit_slopes` fits the rates with confidence intervals.

Expected from the theory: slope ``−½`` in ``N`` (up to logs), ``≥ ½`` in ``ε`` (here the
leading SGD bias is ``O(εd)``: slope ≈ 1 once it dominates the ``N^{−½}`` floor), flat in ``d``
at ``ε ∝ 1/d``.
"""

from __future__ import annotations

import functools
import time as _time

import numpy as np
import xarray as xr

from wgflow import io
from wgflow.errors import ParameterError, RunStopped
from wgflow.measures import ParticleMeasure
from wgflow.metrics import fit_rate, risk_gap, wasserstein_over_time
from wgflow.networks import neutral_head
from wgflow.problems import (
    AnisotropicGaussians,
    ReducedTeacherStudent,
    TeacherNetwork,
    TeacherStudent,
)
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
    strict_keywords,
)


def uniform_radial(low: float = 0.3, high: float = 0.7, dim: int = 2):
    """Product radial law: ``dim`` independent ``Unif[low, high]`` radii.

    Parameters
    ----------
    low, high : float
        The interval, ``0 ≤ low < high``.
    dim : {1, 2}
        ``r`` (isotropic) or ``(r1, r2)``.

    Returns
    -------
    callable
        A picklable sampler ``(n, rng) ↦ (n, dim)``.
    """
    if not 0 <= low < high:
        raise ValueError(f"low, high: need 0 ≤ low < high, got {low}, {high}")
    if dim not in (1, 2):
        raise ValueError(f"dim: need 1 or 2, got {dim!r}")
    return functools.partial(_uniform_radial, low, high, dim)


def _uniform_radial(low, high, dim, n, rng):
    return rng.uniform(low, high, (n, dim))


@strict_keywords
def compare(
    problem="anisotropic",
    d: int | None = None,
    s0: int | None = None,
    delta: float | None = None,
    activation: str | None = None,
    parameters: str | None = None,
    k: int | None = None,
    teacher_width: int | None = None,
    label_noise: float | None = None,
    n_neurons: int = 800,
    step_size: float = 2e-4,
    t_final: float = 2.0,
    save_every: float = 0.25,
    sgd_t_final: float | None = None,
    stationary_rate: float = 1e-4,
    seed: int = 0,
    radial=None,
    initial_scale: float | None = None,
    cells: int = 64,
    r_max: float = 1.5,
    order: int | None = None,
    pde_samples: int = 200_000,
    pde_particles: int = 4000,
    pde_dt: float = 0.01,
    exact_risk: bool | None = None,
    beta: float = np.inf,
    correction: str | None = None,
    progress: bool = False,
) -> xr.Dataset:
    """SGD in dimension ``d`` against the reduced PDE, on the same time axis ``t = kε``.

    Parameters
    ----------
    problem : {"anisotropic", "teacher-student"} or problem object
        ``"anisotropic"``: :class:`~wgflow.problems.AnisotropicGaussians` (Gaussian-mixture
        classification); ``"teacher-student"``: :class:`~wgflow.problems.TeacherStudent`
        (regression on a teacher of ``teacher_width`` unit neurons spread over a ``k``-dimensional
        subspace, :meth:`~wgflow.problems.TeacherNetwork.spread`). Or any object with the same
        protocol (``d``, ``head``, ``activation``, ``parameters``, ``model``, ``reduced``,
        ``population_risk``, ``initial_reduced``, ``describe``); then the problem settings below
        must be left out.
    d : int
        Dimension (default 320).
    s0 : int
        Anisotropic: informative dimension (default ``d // 4``; ``s0 = d`` is the isotropic
        1-D reduction).
    delta : float
        Anisotropic: ``Δ`` (default 0.5).
    activation : str
        The activation's name (default relu).
    parameters : {"w", "aw", "abw"}
        Trained parameters (default ``w``; teacher–student ``aw``).
    k, teacher_width : int
        Teacher–student: the teacher's subspace dimension and width (default 2 and 4).
    label_noise : float
        Teacher–student: label-noise standard deviation (default 0).
    n_neurons : int
        SGD's ``N``.
    step_size : float
        SGD's ``ε`` (one sample per step).
    t_final, save_every : float
        Horizon and snapshot interval (time units: ``t = kε``).
    sgd_t_final : float, optional
        Stop SGD earlier than the PDE (default ``t_final``): for PDEs that converge after
        more SGD steps than one can afford. The comparison variables live on SGD's times; the
        whole PDE run is archived on ``pde_time``.
    stationary_rate : float
        The PDE counts as converged at the first snapshot where its risk falls by less than
        this per unit time (attributes ``pde_stationary_time``, ``pde_stationary_risk``).
    seed : int
        Seed of SGD and of the PDE's initial sample.
    radial : callable, optional
        ``(n, rng) ↦ (n, D̄)`` reduced start ``ρ̄0`` without the head columns (default
        :func:`uniform_radial`; teacher–student :func:`teacher_start`).
    initial_scale : float, optional
        Start from ``w ~ N(0, κ² I/d)``, ``a = 1``, ``b = 0`` instead (the PDE starts from the
        exact reduced law of that Gaussian, :meth:`AnisotropicGaussians.initial_reduced`).
    cells, r_max : int, float
        Finite-volume grid (``cells`` per radial axis on ``[0, r_max]``) when ``D̄ ≤ 2``.
    order : {0, 2, 4}, optional
        Mehler order of the reduced interaction (finite-d correction; default 2 for the
        anisotropic problem, 0 — the only one — for teacher–student).
    pde_samples : int
        Draws of ``ρ̄0`` histogrammed into the PDE's initial density.
    pde_particles : int
        For ``D̄ > 2`` (trained ``a``, ``b``): the reduced PDE is solved by ``Particles`` with
        this many particles.
    pde_dt : float
        Their time step.
    exact_risk : bool, optional
        SGD records the exact ``R_N`` (default: when it is cheap — relu without bias) or a
        held-out Monte-Carlo estimate (20 000 samples).
    beta : float
        Inverse temperature: noisy SGD (``√(2ε/β)`` Gaussian increments) against the reduced
        PDE with entropy and the radial drift of the Laplacian.
    correction : {None, "step-size"}
        ``"step-size"``: also solve the reduced PDE with the finite-step-size drift of
        :meth:`~wgflow.problems.ReducedAnisotropic.step_size_drift` (``c = εd``) and archive it
        next to the plain one (``risk_pde_corrected``, ``risk_gap_corrected``,
        ``w2_corrected``, …; attributes ``sup_risk_gap_corrected``, ``sup_w2_corrected``).
    progress : bool
        Progress bars.

    Returns
    -------
    xarray.Dataset
        ``risk_sgd(time)``, ``risk_pde(time)``, ``risk_gap(time)``, ``w2(time)`` (reduced
        coordinates), ``density(time, <axes>)`` (grid PDE) or ``pde_positions(time, sample,
        component)`` (particle PDE), SGD's reduced coordinates ``particle_r1(time, particle)``…;
        attributes ``sup_risk_gap``, ``sup_w2``, ``wall_time_sgd``, ``wall_time_pde``.
    """

    prob = build_problem(
        problem, d=d, s0=s0, delta=delta, activation=activation, parameters=parameters, k=k,
        teacher_width=teacher_width, label_noise=label_noise,
    )  # fmt: skip
    d, parameters = prob.d, prob.parameters
    if order is None:
        order = 2 if isinstance(prob, AnisotropicGaussians) else 0
    red = prob.reduced(beta=beta, order=order)
    # every setting is checked here, before SGD runs (not after minutes of work)
    check_positive_int("n_neurons", n_neurons)
    check_memory("n_neurons", 24.0 * n_neurons * d, f"SGD's {n_neurons} neurons in d = {d}")
    check_positive("step_size", step_size)
    check_int("seed", seed, 0)
    check_positive_int("pde_samples", pde_samples)
    check_positive_int("pde_particles", pde_particles)
    check_positive("pde_dt", pde_dt)
    if check_int("cells", cells, 1) < MIN_CELLS:
        raise ValueError(f"cells: need an integer ≥ {MIN_CELLS}, got {cells!r}")
    r_max = check_positive("r_max", r_max)
    exact_risk = check_bool("exact_risk", exact_risk, allow_none=True)
    progress = check_bool("progress", progress)
    if radial is not None and not callable(radial):
        raise ParameterError(
            f"radial: need a callable (n, rng) ↦ (n, D̄) sampler or None, got {radial!r}"
        )
    check_positive("t_final", t_final)
    check_positive("save_every", save_every)
    if save_every > t_final:
        raise ValueError(f"save_every: must lie in (0, t_final={t_final}], got {save_every}")
    sgd_t_final = t_final if sgd_t_final is None else check_positive("sgd_t_final", sgd_t_final)
    if sgd_t_final > t_final:
        raise ValueError(f"sgd_t_final: must be ≤ t_final = {t_final}, got {sgd_t_final}")
    check_positive("stationary_rate", stationary_rate)
    check_choice("correction", correction, CORRECTIONS)
    if correction is not None and not hasattr(red, "corrected_energy"):
        raise ValueError(
            f"correction: the step-size correction is derived for AnisotropicGaussians only, "
            f"not for {type(prob).__name__}"
        )
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    h = len(prob.head)
    if initial_scale is not None:
        check_positive("initial_scale", initial_scale)
        sample = prob.initial_reduced(pde_samples, initial_scale, rng)
        model = prob.model(initial_scale=initial_scale, exact_risk=False)
    else:
        radial = default_start(red) if radial is None else radial
        sample = radial(pde_samples, rng)
        sample = np.column_stack([*neutral_head(pde_samples, h), sample])
        model = prob.model(radial=_with_head(radial, h), exact_risk=False)
    radii = sample[:, h:]
    if np.any(np.abs(radii) >= r_max):
        raise ValueError(
            f"r_max: the initial law reaches {np.abs(radii).max():.3g} ≥ r_max = {r_max}"
        )
    if exact_risk is None:
        exact_risk = prob.activation.name == "relu" and parameters != "abw"
    if exact_risk:
        model = _with_exact_risk(model, prob)

    start = _time.perf_counter()
    sgd = SGD(
        model, n_neurons=n_neurons, step_size=step_size, seed=seed, test_size=20_000, beta=beta
    ).run(None, sgd_t_final, min(save_every, sgd_t_final), progress=progress)
    wall_sgd = _time.perf_counter() - start

    def solve(energy):
        if red.dim <= 2:
            return reduced_grid_pde(
                red, sample, cells, r_max, t_final, save_every, progress, energy=energy
            )
        return _particle_pde(
            red, sample[:pde_particles], pde_dt, t_final, save_every, progress, energy=energy
        )

    start = _time.perf_counter()
    corrected = None
    try:
        pde = solve(red.energy)
        if correction == "step-size":
            corrected = solve(red.corrected_energy(step_size))
    except (RunStopped, KeyboardInterrupt) as exc:  # keep the finished SGD run
        exc.dataset = _sgd_kept(sgd, getattr(exc, "dataset", None), red.axes, exc)
        raise
    wall_pde = _time.perf_counter() - start

    risk_pde = pde["risk"].interp(time=sgd["time"])
    gap = risk_gap(sgd, pde)
    stationary = _stationary(pde["risk"], stationary_rate)
    variables = {
        "risk_sgd": sgd["risk"].assign_attrs(long_name="SGD risk R_N(θ^k)", units="1"),
        "risk_pde": risk_pde.assign_attrs(long_name="PDE risk R(ρ̄_t)", units="1"),
        "risk_gap": gap.assign_attrs(long_name="risk gap |R_N − R|", units="1"),
    }
    if "density" in pde:
        variables["w2"] = wasserstein_over_time(sgd, pde)
        variables["density"] = pde["density"].interp(time=sgd["time"])
        if "free_energy" in pde:
            variables["free_energy_pde"] = (
                pde["free_energy"]
                .interp(time=sgd["time"])
                .assign_attrs(units="1", long_name="reduced free energy of the PDE")
            )
    else:
        variables["w2"] = _particle_w2(sgd, pde, red.axes)
        variables["pde_positions"] = pde["positions"].interp(time=sgd["time"])
    if "pde_positions" in variables:  # statistics of the reduced laws (means and spreads)
        variables.update(_statistics(sgd, pde, red.axes))
    if sgd_t_final < t_final:
        variables.update(_whole_pde(pde))
    if "density" in pde:  # mean reduced coordinates of both sides
        variables.update(_grid_means(sgd, pde, red.axes, "pde"))
    if corrected is not None:
        variables.update(_corrected_variables(sgd, corrected, red, sgd_t_final < t_final))
    for axis in red.axes:  # SGD neurons in reduced coordinates (the grid axes keep the name)
        variables[f"particle_{axis}"] = sgd[axis].assign_attrs(
            units="1", long_name=f"SGD neurons: {axis}"
        )
    ds = xr.Dataset(variables)
    for axis in red.axes:
        if axis in pde.coords:
            ds[axis].attrs.update(pde[axis].attrs)
        if f"{axis}_bnds" in pde:
            ds[f"{axis}_bnds"] = pde[f"{axis}_bnds"]
    ds["time"].attrs.update(sgd["time"].attrs)
    params = {
        **problem_settings(prob),
        "activation_params": prob.activation.params.tolist(),
        "n_neurons": n_neurons,
        "step_size": step_size,
        "t_final": t_final,
        "save_every": save_every,
        "sgd_t_final": sgd_t_final,
        "stationary_rate": stationary_rate,
        "seed": seed,
        "initial_scale": initial_scale,
        "radial": repr(radial) if initial_scale is None else None,
        "cells": cells,
        "r_max": r_max,
        "order": order,
        "pde_samples": pde_samples,
        "pde_particles": pde_particles,
        "pde_dt": pde_dt,
        "exact_risk": exact_risk,
        "beta": beta,
        "correction": correction,
    }
    solver = "SGD + " + ("FiniteVolume" if "density" in pde else "Particles")
    ds.attrs.update(
        io.provenance(
            f"SGD vs reduced mean-field PDE ({type(prob).__name__})",
            type(prob).__name__,
            solver,
            params,
        )
    )
    ds.attrs.update(
        sup_risk_gap=float(gap.max()),
        sup_w2=float(ds["w2"].max()),
        wall_time_sgd=wall_sgd,
        wall_time_pde=wall_pde,
        pde_final_risk=float(pde["risk"][-1]),
        pde_stationary="yes" if stationary else "no",
    )
    if stationary:
        ds.attrs.update(pde_stationary_time=stationary[0], pde_stationary_risk=stationary[1])
    if corrected is not None:
        ds.attrs.update(
            sup_risk_gap_corrected=float(ds["risk_gap_corrected"].max()),
            sup_w2_corrected=float(ds["w2_corrected"].max()),
            pde_corrected_final_risk=float(corrected["risk"][-1]),
            correction_c=float(step_size * d),
        )
    return ds


#: the settings ``main`` adds per problem (teacher–student: a 2-D reduced PDE on a grid)
PROBLEM_STUDIES = {
    "anisotropic": {},
    "teacher-student": {
        "problem": "teacher-student", "k": 1, "teacher_width": 2, "parameters": "w",
        "cells": 48,
    },
}  # fmt: skip
#: the coarsest reduced grid :func:`compare` accepts (cells per radial axis)
MIN_CELLS = 4
#: what ``compare(correction=...)`` accepts
CORRECTIONS = (None, "step-size")
#: the problems ``compare(problem=...)`` builds by name
PROBLEMS = ("anisotropic", "teacher-student")
_ANISOTROPIC_ONLY = ("s0", "delta")
_TEACHER_ONLY = ("k", "teacher_width", "label_noise")


def build_problem(problem="anisotropic", **settings):
    """The problem :func:`compare` runs, from its name and settings (or the object itself).

    Parameters
    ----------
    problem : {"anisotropic", "teacher-student"} or problem object
        See :func:`compare`.
    **settings
        ``d``, ``s0``, ``delta``, ``activation``, ``parameters``, ``k``, ``teacher_width``,
        ``label_noise`` (``None``: the default; settings of the other problem must be ``None``).

    Returns
    -------
    AnisotropicGaussians or TeacherStudent or object
        The problem.
    """
    given = {name: value for name, value in settings.items() if value is not None}
    if not isinstance(problem, str):
        if not all(hasattr(problem, a) for a in ("reduced", "model", "population_risk", "d")):
            raise ParameterError(
                f"problem: need one of {PROBLEMS} or a problem object with reduced(), model(), "
                f"population_risk() and d, got {type(problem).__name__}"
            )
        if given:
            raise ValueError(
                f"{', '.join(given)}: set by the problem object; leave them out of compare()"
            )
        return problem
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
            activation=activation, parameters=given.get("parameters", "w"),
        )  # fmt: skip
    teacher = TeacherNetwork.spread(
        check_positive_int("k", given.get("k", 2)),
        check_positive_int("teacher_width", given.get("teacher_width", 4)),
    )
    return TeacherStudent(
        d=d, teacher=teacher, activation=activation, noise=given.get("label_noise", 0.0),
        parameters=given.get("parameters", "aw"),
    )  # fmt: skip


def problem_settings(problem) -> dict:
    """The scalar settings of a problem that :func:`compare` archives.

    Parameters
    ----------
    problem : AnisotropicGaussians or TeacherStudent or object
        The problem.

    Returns
    -------
    dict
        ``d``, ``activation``, ``parameters`` and the problem's own (``s0``, ``delta`` or
        ``k``, ``teacher_width``, ``label_noise``).
    """
    out = {
        "problem": type(problem).__name__,
        "d": problem.d,
        "activation": problem.activation.name,
        "parameters": problem.parameters,
    }
    if isinstance(problem, AnisotropicGaussians):
        out.update(s0=problem.s0, delta=problem.delta)
    elif isinstance(problem, TeacherStudent):
        out.update(k=problem.k, teacher_width=problem.teacher.width, label_noise=problem.noise)
    return out


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


def default_start(red):
    """The reduced start :func:`compare` uses without ``radial`` or ``initial_scale``.

    Parameters
    ----------
    red : ReducedAnisotropic or ReducedTeacherStudent
        A reduced problem.

    Returns
    -------
    callable
        :func:`teacher_start` or :func:`uniform_radial` on its axes.
    """
    if isinstance(red, ReducedTeacherStudent):
        return teacher_start(red.problem.k)
    return uniform_radial(dim=len(red.radial_axes))


def _grid_means(sgd: xr.Dataset, pde: xr.Dataset, axes, label: str) -> dict:
    """Means of each reduced coordinate: over SGD's neurons and under the PDE's density."""
    out = {}
    density = pde["density"].interp(time=sgd["time"])
    mass = density.sum([a for a in axes])
    for axis in axes:
        if label == "pde":
            out[f"mean_{axis}_sgd"] = sgd[axis].mean("particle").assign_attrs(
                units="1", long_name=f"mean of {axis} (SGD)"
            )
        mean = (density * density[axis]).sum(list(axes)) / mass
        out[f"mean_{axis}_{label}"] = mean.assign_attrs(
            units="1", long_name=f"mean of {axis} ({label.replace('_', ' ')})"
        )
    return out


def _corrected_variables(sgd: xr.Dataset, pde: xr.Dataset, red, whole: bool) -> dict:
    """The step-size-corrected PDE on SGD's times (and its whole run when longer)."""
    gap = risk_gap(sgd, pde)
    out = {
        "risk_pde_corrected": pde["risk"].interp(time=sgd["time"]).assign_attrs(
            long_name="PDE risk with the step-size correction", units="1"
        ),
        "risk_gap_corrected": gap.assign_attrs(
            long_name="risk gap |R_N − R_corrected|", units="1"
        ),
    }
    if "density" in pde:
        out["w2_corrected"] = wasserstein_over_time(sgd, pde).assign_attrs(
            long_name="W2 between SGD and the corrected PDE (reduced)"
        )
        out["density_corrected"] = pde["density"].interp(time=sgd["time"]).assign_attrs(
            long_name="probability density of the corrected PDE (cell average)"
        )
        out.update(_grid_means(sgd, pde, red.axes, "pde_corrected"))
    else:
        out["w2_corrected"] = _particle_w2(sgd, pde, red.axes).assign_attrs(
            long_name="W2 between SGD and the corrected PDE particles (reduced)"
        )
        stats = _statistics(sgd, pde, red.axes)
        out.update({
            k.replace("_pde", "_pde_corrected"): v for k, v in stats.items() if k.endswith("_pde")
        })
    if whole:
        risk = _whole_pde(pde)["risk_pde_full"]
        out["risk_pde_corrected_full"] = risk.assign_attrs(
            long_name="corrected PDE risk, whole run", units="1"
        )
    return out


def _sgd_kept(sgd: xr.Dataset, pde: xr.Dataset | None, axes, exc) -> xr.Dataset:
    """What a comparison keeps when its PDE stage stops: SGD's whole run (the comparison's
    variable names) and the PDE's snapshots before the stop (on ``pde_time``)."""
    variables = {
        "risk_sgd": sgd["risk"].assign_attrs(long_name="SGD risk R_N(θ^k)", units="1")
    }
    for axis in axes:
        if axis in sgd:
            variables[f"particle_{axis}"] = sgd[axis].assign_attrs(
                units="1", long_name=f"SGD neurons: {axis}"
            )
    if pde is not None and "risk" in pde and pde.sizes.get("time", 0) > 1:
        variables.update(_whole_pde(pde))
    ds = xr.Dataset(variables)
    ds["time"].attrs.update(sgd["time"].attrs)
    ds.attrs.update(sgd.attrs)  # SGD's provenance: the comparison's was never built
    stopped = exc.cause if isinstance(exc, RunStopped) else "interrupted (Ctrl-C)"
    ds.attrs["status"] = "incomplete"
    ds.attrs["stage"] = f"SGD complete; reduced PDE stopped: {stopped}"
    return ds


def _stationary(risk: xr.DataArray, rate: float) -> tuple[float, float] | None:
    """First ``(t, R)`` where the risk falls by less than ``rate`` per unit time, if any."""
    t, r = risk["time"].values, risk.values
    drop = -np.diff(r) / np.diff(t)
    hit = np.nonzero(drop < rate)[0]
    return None if hit.size == 0 else (float(t[hit[0] + 1]), float(r[hit[0] + 1]))


def _whole_pde(pde: xr.Dataset) -> dict[str, xr.DataArray]:
    """The PDE's own run on ``pde_time`` (when it runs longer than SGD)."""
    out = {}
    names = {"risk": "PDE risk R(ρ̄_t), whole run", "density": "PDE density, whole run"}
    for name, long_name in names.items():
        if name in pde:
            da = pde[name].rename(time="pde_time").drop_vars("pde_time")
            out[f"{name}_pde_full"] = da.assign_attrs(long_name=long_name)
    pde_time = xr.DataArray(
        pde["time"].values, dims="pde_time", attrs={**pde["time"].attrs, "long_name": "PDE time"}
    )
    return {k: v.assign_coords(pde_time=pde_time) for k, v in out.items()}


def _statistics(sgd: xr.Dataset, pde: xr.Dataset, axes) -> dict[str, xr.DataArray]:
    """Means and standard deviations over neurons (SGD) and samples (PDE) of each reduced
    coordinate, on SGD's times."""
    out = {}
    positions = pde["positions"].interp(time=sgd["time"])
    for k, axis in enumerate(axes):
        for source, values, dim in (
            ("sgd", sgd[axis], "particle"),
            ("pde", positions.isel(component=k, drop=True), "sample"),
        ):
            for stat, reduce in (("mean", values.mean), ("std", values.std)):
                out[f"{stat}_{axis}_{source}"] = reduce(dim).assign_attrs(
                    units="1", long_name=f"{stat} of {axis} ({source.upper()})"
                )
    return out


def _with_head(radial, h: int):
    """A radial sampler extended with ``a = 1`` (and ``b = 0``) columns."""
    return radial if h == 0 else functools.partial(_head_sampler, radial, h)


def _head_sampler(radial, h, n, rng):
    return np.column_stack([*neutral_head(n, h), radial(n, rng)])


def _with_exact_risk(model, prob):
    import dataclasses

    return dataclasses.replace(model, population_risk=prob.population_risk)


def reduced_grid_pde(
    red,
    sample,
    cells,
    r_max,
    t_final,
    save_every,
    progress: bool = False,
    wall_tolerance: float = 1e-4,
    energy=None,
) -> xr.Dataset:
    """Finite volumes on a reduced problem from the histogram of reduced points.

    A :class:`~wgflow.trackers.BoundaryGuard` stops the run (:class:`~wgflow.BoundaryReached`)
    when more than ``wall_tolerance`` of the mass reaches the cells at ``r = r_max``.

    Parameters
    ----------
    red : ReducedAnisotropic
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

    try:
        pde = solver.run(rho0, t_final, save_every, progress=progress, trackers=[guard])
    except (RunStopped, KeyboardInterrupt) as exc:  # the snapshots before the stop, with risk
        if getattr(exc, "dataset", None) is not None:
            exc.dataset = with_risk(exc.dataset)
        raise
    pde.attrs["wall_mass"] = max(guard.wall_mass.values())
    return with_risk(pde)


def _particle_pde(red, sample, dt, t_final, save_every, progress, energy=None) -> xr.Dataset:
    energy = red.energy if energy is None else energy

    def with_risk(pde: xr.Dataset) -> xr.Dataset:
        pde["risk"] = xr.DataArray(
            [red.particle_risk(x) for x in pde["positions"].values],
            dims="time",
            attrs={"units": "1", "long_name": "population risk R(ρ̄) (particles)"},
        )
        return pde.rename({"particle": "sample"})

    try:
        pde = Particles(energy, dt=dt).run(sample, t_final, save_every, progress=progress)
    except (RunStopped, KeyboardInterrupt) as exc:
        if getattr(exc, "dataset", None) is not None:
            exc.dataset = with_risk(exc.dataset)
        raise
    return with_risk(pde)


def _particle_w2(sgd: xr.Dataset, pde: xr.Dataset, axes) -> xr.DataArray:
    from wgflow.metrics import wasserstein

    values = []
    for t in sgd["time"].values:
        a = np.stack([sgd[ax].sel(time=t).values.ravel() for ax in axes], axis=-1)
        b = pde["positions"].sel(time=t, method="nearest").values
        values.append(wasserstein(ParticleMeasure(a), ParticleMeasure(b), p=2).value)
    return xr.DataArray(
        values,
        dims="time",
        coords={"time": sgd["time"].values},
        attrs={"units": "1", "long_name": "W2 between SGD and PDE particles (reduced)"},
    )


def study_point(N: int, eps: float, d: int, seed: int, **fixed) -> dict:
    """One sweep point: ``sup_risk_gap`` and ``sup_w2`` of :func:`compare`.

    Parameters
    ----------
    N : int
        Neurons.
    eps : float
        Step size, or ``ε·d`` when ``fixed["eps_times_d"]`` is true.
    d : int
        Dimension.
    seed : int
        Seed.
    **fixed
        More :func:`compare` arguments.

    Returns
    -------
    dict
        ``sup_risk_gap``, ``sup_w2``; with ``correction`` in ``fixed`` also
        ``sup_risk_gap_corrected``, ``sup_w2_corrected`` and the final mean ``r2`` of SGD and
        of both PDEs (``final_mean_r2_sgd``, ``…_pde``, ``…_pde_corrected``).
    """
    scale = fixed.pop("eps_times_d", False)
    step = eps / d if scale else eps
    ds = compare(d=int(d), n_neurons=int(N), step_size=float(step), seed=int(seed), **fixed)
    out = {"sup_risk_gap": ds.attrs["sup_risk_gap"], "sup_w2": ds.attrs["sup_w2"]}
    if fixed.get("correction") is not None:
        out.update(
            sup_risk_gap_corrected=ds.attrs["sup_risk_gap_corrected"],
            sup_w2_corrected=ds.attrs["sup_w2_corrected"],
        )
        for source in ("sgd", "pde", "pde_corrected"):
            out[f"final_mean_r2_{source}"] = float(ds[f"mean_r2_{source}"][-1])
    return out


def study(
    n_values=(100, 200, 400, 800, 1600, 3200),
    eps_values=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2),
    d_values=(40, 80, 160, 320, 640),
    seeds=(0, 1, 2, 3),
    base_n: int = 800,
    base_d: int = 160,
    base_eps_d: float = 0.02,
    n_sweep_eps_d: float = 0.002,
    scheduler: str | None = None,
    output_prefix: str | None = None,
    progress: bool = True,
    **fixed,
) -> dict[str, xr.Dataset]:
    """The three sweeps over ``N``, ``ε`` and ``d``.

    Over ``N`` (at ``d = base_d``, ``ε = n_sweep_eps_d/d``, small enough that SGD's ``O(εd)``
    bias stays below the ``N^{−½}`` fluctuations), over ``ε`` (at ``N = base_n``, ``d = base_d``)
    and over ``d`` (at ``N = base_n``, ``ε = base_eps_d/d``).

    Parameters
    ----------
    n_values, eps_values, d_values : sequence
        The swept values.
    seeds : sequence of int
        Seeds per point.
    base_n, base_d : int
        Fixed ``N`` and ``d``.
    base_eps_d, n_sweep_eps_d : float
        ``ε·d`` of the ``d`` sweep and of the ``N`` sweep.
    scheduler : str, optional
        Dask scheduler address or ``synchronous``.
    output_prefix : str, optional
        Archives ``{output_prefix}-{name}.nc`` (rerunning resumes them).
    progress : bool
        Progress bars.
    **fixed
        More :func:`compare` arguments.

    Returns
    -------
    dict of str -> xarray.Dataset
        ``{"N": ds, "eps": ds, "d": ds}``.
    """
    from wgflow.sweep import sweep

    plans = {
        "N": ({"N": list(n_values), "eps": [n_sweep_eps_d], "d": [base_d]}, True),
        "eps": ({"N": [base_n], "eps": list(eps_values), "d": [base_d]}, False),
        "d": ({"N": [base_n], "eps": [base_eps_d], "d": list(d_values)}, True),
    }
    out = {}
    for name, (grid, scaled) in plans.items():
        fn = functools.partial(study_point, eps_times_d=scaled, **fixed)
        path = None if output_prefix is None else f"{output_prefix}-{name}.nc"
        out[name] = sweep(
            fn, {**grid, "seed": list(seeds)}, scheduler=scheduler, output=path, progress=progress
        )
    return out


def fit_slopes(results: dict[str, xr.Dataset], quantity: str = "sup_risk_gap") -> dict:
    """Log–log slopes (95 % intervals) of a seed-averaged result against each swept parameter.

    Parameters
    ----------
    results : dict of str -> xarray.Dataset
        From :func:`study`.
    quantity : str
        The result to fit.

    Returns
    -------
    dict of str -> RateFit
        ``{"N": …, "eps": …, "d": …}``.
    """
    fits = {}
    for name, ds in results.items():
        mean = ds[quantity].mean("seed").squeeze(drop=True)
        fits[name] = fit_rate(mean[name].values, mean.values)
    return fits


def main(argv=None) -> int:
    """The command line ``python -m wgflow.studies.sgd_vs_pde``.

    Options ``[--quick] [--problem P] [--output PREFIX] [--scheduler ADDR]``. Runs the three
    sweeps, prints the fitted slopes and draws ``PREFIX.png``. ``--problem
    teacher-student`` runs them on :class:`~wgflow.problems.TeacherStudent` (a single-index
    relu teacher ``(relu(x1) + relu(−x1))/2``, only ``w`` trained: the 2-D reduced PDE on
    ``(u, r)`` by finite volumes).

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments.

    Returns
    -------
    int
        The exit code.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m wgflow.studies.sgd_vs_pde")
    parser.add_argument("--output", default="sgd-vs-pde", help="archive prefix (resumable)")
    parser.add_argument("--scheduler", default=None, help="dask address or 'synchronous'")
    parser.add_argument("--quick", action="store_true", help="the small version run by tests")
    parser.add_argument("--problem", default="anisotropic", choices=PROBLEMS)
    args = parser.parse_args(argv)
    options = {**(QUICK if args.quick else {}), **PROBLEM_STUDIES[args.problem]}
    results = study(scheduler=args.scheduler, output_prefix=args.output, **options)
    for quantity in ("sup_risk_gap", "sup_w2"):
        for name, fit in fit_slopes(results, quantity).items():
            print(
                f"{quantity:13s} vs {name:3s}: slope {fit.slope:+.2f} "
                f"[{fit.low:+.2f}, {fit.high:+.2f}] (95 %)"
            )
    import matplotlib.pyplot as plt

    from wgflow.plotting import plot_convergence

    fig = plot_convergence(results)
    fig.savefig(f"{args.output}.png", dpi=120)
    plt.close(fig)
    print(f"archives {args.output}-{{N,eps,d}}.nc, figure {args.output}.png")
    return 0


QUICK = {
    "n_values": (50, 200, 800),
    "eps_values": (1e-3, 3e-3, 1e-2),
    "d_values": (20, 40, 80),
    "seeds": (0, 1, 2),
    "base_n": 400,
    "base_d": 40,
    "base_eps_d": 0.02,
    "n_sweep_eps_d": 0.02,
    "t_final": 1.0,
    "save_every": 0.25,
    "cells": 48,
    "pde_samples": 50_000,
}

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
