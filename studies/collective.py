r"""The reduced PDE coupled to the collective scalars of finite-step SGD.

This is ``compare(..., correction="collective")``.

State: the law ``ρ̃`` of the neurons' incoherent parts (a density on the reduced grid, or
particles) and a few scalars ``S_m`` (e.g. ``v2 = ‖v̄‖²``, the squared norm of the network's mean
uninformative weight). They evolve by

.. math::
    \partial_t \tilde\rho = \nabla\cdot\big(\tilde\rho\,(\nabla\Psi_S[\tilde\rho] - b_S)\big),
    \qquad \frac{dS_m}{dt} = -2 S_m\, \partial_{S_m} R(\tilde\rho, S) + B_m(\tilde\rho, S),

with ``Ψ_S``, ``b_S`` the reduced problem's :meth:`collective_energy` at frozen scalars, ``R``
its :meth:`collective_risk` and ``B`` its :meth:`collective_source` (the scalars start at 0: the
network starts from a law symmetric under the rotations of each subspace).

**Scheme.** Strang splitting with coupling interval ``h`` (at most :data:`COUPLING_STEP`, a
divisor of ``save_every``): half a step of the scalars, a full step of ``ρ̃`` at frozen scalars by
the plain solver (:class:`~wgflow.solvers.FiniteVolume` or
:class:`~wgflow.solvers.Particles`, each with its own stability control), half a step of the
scalars (consecutive half steps between snapshots merged). Each scalar step is the
exponential integrator of the linear ODE with ``∂R/∂S`` and ``B`` frozen at the midpoint of a
predictor step (second order); ``∂R/∂S`` is a central difference (one-sided at ``S < η``).
The splitting error is ``O(h²)`` per unit time (tested).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from wgflow.errors import BoundaryReached, RunStopped
from wgflow.measures import ParticleMeasure
from wgflow.solvers import FiniteVolume, Particles
from wgflow.validation import check_real

#: the largest coupling interval between the density and the scalars (time units): the
#: splitting error at the flagship is 2e-5 of ‖v̄‖² at h = 0.25 (second order, tested)
COUPLING_STEP = 0.25
#: relative step of the finite difference ``∂R/∂S``
DIFFERENCE_STEP = 1e-3


def collective_rate(red, modes: dict, name: str, points, weights) -> float:
    """``∂R/∂S_name`` by a central difference (one-sided near ``S = 0``).

    Parameters
    ----------
    red : ReducedProblem
        With :meth:`collective_risk`.
    modes : dict of str -> float
        The scalars.
    name : str
        Which scalar.
    points : ndarray, shape (n, D̄)
        Incoherent reduced points.
    weights : ndarray, shape (n,)
        Their masses.

    Returns
    -------
    float
        The derivative (per unit of ``S``).
    """
    if name not in modes:
        raise ValueError(f"name: must be one of the modes {list(modes)}, got {name!r}")
    value = check_real(f"modes: {name}", modes[name], low=0.0)
    step = DIFFERENCE_STEP * max(value, 1e-2)

    def risk(s):
        return red.collective_risk({**modes, name: s}, points, weights)

    if value >= step:
        return (risk(value + step) - risk(value - step)) / (2 * step)
    return (-3 * risk(value) + 4 * risk(value + step) - risk(value + 2 * step)) / (2 * step)


def advance_modes(red, step_size: float, modes: dict, points, weights, dt: float) -> dict:
    """The scalars after ``dt`` at frozen ``ρ̃`` (second order in ``dt``).

    Each scalar solves ``dS/dt = −A S + B`` exactly with ``A = 2 ∂R/∂S`` and ``B`` frozen; the
    coefficients are taken at the midpoint of a first such step (they depend weakly on ``S``).

    Parameters
    ----------
    red : ReducedProblem
        With :meth:`collective_risk` and :meth:`collective_source`.
    step_size : float
        SGD's ``ε``.
    modes : dict of str -> float
        The scalars at the start.
    points : ndarray, shape (n, D̄)
        Incoherent reduced points.
    weights : ndarray, shape (n,)
        Their masses.
    dt : float
        Time step.

    Returns
    -------
    dict of str -> float
        The scalars at ``t + dt`` (never negative).
    """
    dt = check_real("dt", dt, low=0.0)
    guess = _exponential_step(red, step_size, modes, modes, points, weights, dt)
    middle = {name: 0.5 * (modes[name] + guess[name]) for name in modes}
    return _exponential_step(red, step_size, modes, middle, points, weights, dt)


def _exponential_step(red, step_size, modes, frozen, points, weights, dt) -> dict:
    """``S e^{−A dt} + B (1 − e^{−A dt})/A`` with ``A``, ``B`` evaluated at ``frozen``."""
    sources = red.collective_source(step_size, frozen, points, weights)
    out = {}
    for name, value in modes.items():
        rate = 2.0 * collective_rate(red, frozen, name, points, weights)
        growth = -math.expm1(-rate * dt) / rate if rate != 0 else dt
        out[name] = max(value * math.exp(-rate * dt) + sources[name] * growth, 0.0)
    return out


def solve_collective(cmp, sample: np.ndarray, progress: bool = False) -> xr.Dataset:
    """The collective model from ``sample`` to ``cmp.t_final``.

    Parameters
    ----------
    cmp : Comparison
        The settings (reduced problem, ``step_size``, grid or particle sizes, horizon).
    sample : ndarray, shape (n, D̄)
        Points of ``ρ̄0`` (the incoherent law at ``t = 0``: the scalars start at 0).
    progress : bool
        Progress bar.

    Returns
    -------
    xarray.Dataset
        ``density(time, <axes>)`` of ``ρ̃`` (grid) or ``positions(time, particle, component)``
        (particles); ``risk(time)``; each scalar ``<name>(time)``; ``pair_correlation(time)``;
        ``full_mean_<axis>(time)`` and, for particles, ``full_positions`` (each neuron's full
        coordinates, :meth:`collective_full`).

    Raises
    ------
    BoundaryReached
        A grid run whose mass reaches the outermost cells (``r_max`` too small).
    """
    from tqdm.auto import tqdm

    from wgflow.driver import observation_times

    red = cmp.reduced
    times = observation_times(cmp.t_final, cmp.save_every)  # the plain PDE's snapshot times
    gaps = np.diff(times)
    counts = [max(1, math.ceil(gap / COUPLING_STEP - 1e-9)) for gap in gaps]
    marcher = _GridMarcher(cmp, sample) if cmp.on_grid else _ParticleMarcher(cmp, sample)
    modes = {name: 0.0 for name in red.collective_modes}
    records = [marcher.record(modes)]
    bar = tqdm(total=sum(counts), disable=not progress, desc="collective PDE")
    try:
        for end, gap, intervals in zip(times[1:], gaps, counts, strict=True):
            h = gap / intervals
            # Strang steps; inside a snapshot interval the two half steps of the scalars
            # between two density steps (same ρ̃) merge into one
            modes = advance_modes(red, cmp.step_size, modes, *marcher.measure(), h / 2)
            for k in range(intervals):
                marcher.step(red.collective_energy(cmp.step_size, modes), h)
                dt = h / 2 if k == intervals - 1 else h
                modes = advance_modes(red, cmp.step_size, modes, *marcher.measure(), dt)
                bar.update()
            marcher.t = float(end)  # the snapshot's exact time (no sum of steps)
            records.append(marcher.record(modes))
    except (RunStopped, KeyboardInterrupt) as exc:
        if len(records) > 1:
            exc.dataset = marcher.dataset(records)
        raise
    finally:
        bar.close()
    return marcher.dataset(records)


class _Marcher:
    """Shared bookkeeping of the grid and particle marchers."""

    def __init__(self, cmp) -> None:
        self.cmp, self.red, self.t = cmp, cmp.reduced, 0.0

    def record(self, modes: dict) -> dict:
        points, weights = self.measure()
        full = self.red.collective_full(modes, points)
        return {
            "time": self.t,
            "state": self.snapshot(),
            "modes": dict(modes),
            "risk": self.red.collective_risk(modes, points, weights),
            "pair_correlation": self.red.collective_correlation(modes, points, weights),
            "full_mean": weights @ full,
            "full": full,
        }

    def common(self, records: list) -> dict:
        times = np.array([r["time"] for r in records])
        out = {
            "risk": ("time", [r["risk"] for r in records],
                     {"units": "1", "long_name": "population risk R(ρ̃, S) (collective model)"}),
            "pair_correlation": ("time", [r["pair_correlation"] for r in records],
                                 {"units": "1", "long_name": "pair correlation C (model)"}),
        }  # fmt: skip
        for name in self.red.collective_modes:
            label = f"collective scalar {name} (model)"
            out[name] = ("time", [r["modes"][name] for r in records],
                         {"units": "1", "long_name": label})  # fmt: skip
        for k, axis in enumerate(self.red.axes):
            out[f"full_mean_{axis}"] = ("time", [r["full_mean"][k] for r in records],
                                        {"units": "1", "long_name": f"mean of {axis}"})  # fmt: skip
        return {"time": times, "variables": out}


class _GridMarcher(_Marcher):
    def __init__(self, cmp, sample) -> None:
        super().__init__(cmp)
        self.grid = self.red.grid(cmp.cells, cmp.r_max)
        self.rho = ParticleMeasure(sample).histogram(self.grid).density
        self.points = self.grid.points().reshape(-1, self.red.dim)
        self.edge = cmp.r_max * (1 - 1 / cmp.cells)

    def measure(self):
        mass = self.rho.ravel() * self.grid.cell_volume
        return self.points, mass / mass.sum()

    def snapshot(self):
        return self.rho.copy()

    def step(self, energy, h: float) -> None:
        from .comparison import WALL_TOLERANCE

        if np.isfinite(self.red.beta):
            solver = FiniteVolume(energy, self.grid, scheme="semi-implicit",
                                  dt=min(h, 0.005))  # fmt: skip
        else:
            solver = FiniteVolume(energy, self.grid)
        state = solver.advance(solver.initial_state(self.rho), h)
        self.rho, self.t = np.asarray(state.rho), self.t + h
        points, weights = self.measure()
        radial = np.abs(points[:, len(self.cmp.network.head):])
        for k, axis in enumerate(self.red.radial_axes):
            wall = float(weights[radial[:, k] >= self.edge].sum())
            if wall > WALL_TOLERANCE:
                raise BoundaryReached(
                    self.t, f"{wall:.2%} of the collective model's mass reached the outermost "
                    f"cells ({axis} ≥ {self.edge:.3g}); enlarge r_max", axis, "upper",
                )  # fmt: skip

    def dataset(self, records: list) -> xr.Dataset:
        common = self.common(records)
        coords = {"time": common["time"]}
        for k, axis in enumerate(self.red.axes):
            coords[axis] = self.grid.coordinates[k]
        ds = xr.Dataset(coords=coords)
        ds["density"] = (("time", *self.red.axes), np.stack([r["state"] for r in records]))
        for name, (dims, values, attrs) in common["variables"].items():
            ds[name] = xr.DataArray(np.asarray(values), dims=dims, attrs=attrs)
        ds["full_weights"] = (("time", "cell"),
                              np.stack([r["state"].ravel() for r in records])
                              * self.grid.cell_volume)  # fmt: skip
        ds["full_points"] = (("time", "cell", "component"), np.stack([r["full"] for r in records]))
        return ds


class _ParticleMarcher(_Marcher):
    def __init__(self, cmp, sample) -> None:
        super().__init__(cmp)
        self.x = np.asarray(sample[: cmp.pde_particles], float)
        self.weights = np.full(len(self.x), 1.0 / len(self.x))
        self.state = None

    def measure(self):
        return self.x, self.weights

    def snapshot(self):
        return self.x.copy()

    def step(self, energy, h: float) -> None:
        solver = Particles(energy, dt=min(self.cmp.pde_dt, h))
        state = solver.initial_state(self.x) if self.state is None else self.state
        state = solver.advance(state, state.t + h)
        self.state, self.t = state, self.t + h
        self.x = np.asarray(state.positions[0], float)

    def dataset(self, records: list) -> xr.Dataset:
        common = self.common(records)
        ds = xr.Dataset(coords={"time": common["time"], "component": list(self.red.axes)})
        ds["positions"] = (("time", "particle", "component"),
                           np.stack([r["state"] for r in records]))  # fmt: skip
        ds["full_positions"] = (("time", "particle", "component"),
                                np.stack([r["full"] for r in records]))  # fmt: skip
        for name, (dims, values, attrs) in common["variables"].items():
            ds[name] = xr.DataArray(np.asarray(values), dims=dims, attrs=attrs)
        return ds
