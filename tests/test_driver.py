import numpy as np
import pytest

import wgflow as wg
from wgflow.driver import observation_times
from wgflow.problems import OrnsteinUhlenbeck
from wgflow.solvers import JKO, FiniteVolume
from wgflow.trackers import BoundaryGuard, Tracker, WallTimeLimit


def small_solver():
    prob = OrnsteinUhlenbeck(dim=1, diffusion=0.5, mean0=[1.0], var0=0.3)
    grid = wg.Grid.box([(-5, 5)], 32)
    return FiniteVolume(prob.energy, grid), prob.initial_density(grid)


def test_observation_times():
    np.testing.assert_allclose(observation_times(1.0, 0.25), [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(observation_times(1.0, 0.3), [0, 0.3, 0.6, 0.9, 1.0])
    assert len(observation_times(2.0, None)) == 11
    assert observation_times(1.0, 0.1)[-1] == 1.0


class InterruptAt(Tracker):
    def __init__(self, t):
        self.t = t

    def handle(self, solver, state, t):
        if t >= self.t:
            raise KeyboardInterrupt


def test_ctrl_c_returns_the_snapshots_computed_so_far(tmp_path):
    solver, rho0 = small_solver()
    with pytest.raises(wg.RunInterrupted) as info:
        solver.run(rho0, 1.0, 0.1, progress=False, trackers=[InterruptAt(0.5)])
    assert isinstance(info.value, KeyboardInterrupt)
    ds = info.value.dataset
    np.testing.assert_allclose(ds["time"], np.arange(6) * 0.1)
    assert ds.attrs["status"] == "incomplete"
    wg.save(ds, tmp_path / "partial.nc")
    assert wg.open(tmp_path / "partial.nc").sizes["time"] == 6


def test_wall_time_limit_stops_with_partial_result():
    solver, rho0 = small_solver()
    limit = WallTimeLimit(1e-9)
    with pytest.raises(wg.WallTimeExceeded, match="wall-time") as info:
        solver.run(rho0, 1.0, 0.1, progress=False, trackers=[limit])
    assert info.value.dataset.sizes["time"] >= 1


def test_restarting_from_a_snapshot_continues_the_same_trajectory():
    # advance() is a pure function of the state: two half runs equal one full run
    solver, rho0 = small_solver()
    full = solver.run(rho0, 1.0, 0.5, progress=False)
    half = solver.run(rho0, 0.5, 0.5, progress=False)
    rest = solver.run(half["density"][-1].values, 0.5, 0.5, progress=False)
    np.testing.assert_allclose(rest["density"][-1], full["density"][-1], rtol=1e-10, atol=1e-14)


def _drift_to_the_right(solver="fv"):
    grid = wg.Grid.box([(-1.0, 1.0)], 40)
    energy = wg.FreeEnergy(potential=lambda x: -3.0 * x[..., 0], internal=wg.Entropy(20.0))
    rho0 = np.exp(-((grid.coordinates[0] + 0.5) ** 2) / 0.02)
    make = FiniteVolume(energy, grid) if solver == "fv" else JKO(energy, grid, tau=0.05)
    return make, rho0 / grid.integrate(rho0)


@pytest.mark.parametrize("kind", ["fv", "jko"])
def test_boundary_guard_stops_a_run_that_reaches_the_wall(kind):
    solver, rho0 = _drift_to_the_right(kind)
    with pytest.raises(wg.BoundaryReached, match="axis 'x'") as info:
        solver.run(rho0, 2.0, 0.1, progress=False, trackers=[BoundaryGuard(1e-3)])
    assert info.value.axis == "x" and info.value.side == "upper"
    assert 0.0 < info.value.time < 2.0 and info.value.dataset is not None


def test_boundary_guard_can_warn_instead():
    solver, rho0 = _drift_to_the_right()
    guard = BoundaryGuard(1e-3, action="warn")
    with pytest.warns(wg.ApproximationWarning) as record:
        ds = solver.run(rho0, 2.0, 0.5, progress=False, trackers=[guard])
    assert ds.attrs["status"] == "complete" and guard.wall_mass["x", "upper"] > 0.1
    assert sum("outermost cells of axis 'x'" in str(r.message) for r in record) == 1


def test_boundary_guard_is_quiet_inside_the_domain():
    solver, rho0 = _drift_to_the_right()
    guard = BoundaryGuard(1e-3)
    solver.run(rho0, 0.05, 0.05, progress=False, trackers=[guard])
    assert max(guard.wall_mass.values()) < 1e-3
    with pytest.raises(ValueError, match="tolerance"):
        BoundaryGuard(0.0)
