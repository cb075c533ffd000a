"""The solver contract: one base class, one ``run`` signature, per-run data in the State."""

import inspect

import numpy as np
import pytest

import wgflow as wg
from wgflow.errors import BlowUpError
from wgflow.problems import AnisotropicGaussians, OrnsteinUhlenbeck
from wgflow.solver import Solver
from wgflow.solvers import JKO, SGD, FiniteVolume, Particles

OU = OrnsteinUhlenbeck(dim=1, diffusion=0.5, mean0=(0.5,), var0=0.3)
SOLVERS = [FiniteVolume, JKO, Particles, SGD]


def test_every_solver_has_the_base_run_and_resume():
    for cls in SOLVERS:
        assert issubclass(cls, Solver)
        assert cls.run is Solver.run and cls.resume is Solver.resume, cls.__name__
    params = list(inspect.signature(Solver.run).parameters)
    assert params == [
        "self", "initial", "t_final", "save_every", "spacing", "progress", "trackers",
        "checkpoint", "checkpoint_every", "overwrite",
    ]


def test_driver_runs_particles_directly_with_weights_from_a_measure():
    x = np.linspace(-1, 1, 5)[:, None]
    cloud = wg.ParticleMeasure(x, weights=[0.4, 0.1, 0.1, 0.1, 0.3])
    ds = wg.driver.run(Particles(OU.energy, dt=0.01), cloud, 0.1, progress=False)
    np.testing.assert_allclose(ds["weights"], [0.4, 0.1, 0.1, 0.1, 0.3])
    assert ds.attrs["solver"] == "Particles" and ds.sizes["time"] == 11


def test_particles_run_twice_is_reproducible_and_independent():
    solver = Particles(OU.energy, dt=0.01, seed=3)
    x0 = np.zeros((4, 1))
    a = solver.run(x0, 0.1, progress=False)
    solver.run(wg.ParticleMeasure(x0, [1, 0, 0, 0]), 0.1, progress=False)  # other weights
    b = solver.run(x0, 0.1, progress=False)
    np.testing.assert_array_equal(a["positions"], b["positions"])
    np.testing.assert_allclose(b["weights"], 0.25)


def test_sgd_run_twice_repeats_itself():
    prob = AnisotropicGaussians(d=8, s0=2, delta=0.5, activation="relu")
    sgd = SGD(prob.model(), n_neurons=5, step_size=0.01, seed=0, record_weights=True)
    a, b = (sgd.run(t_final=0.05, progress=False) for _ in range(2))
    np.testing.assert_array_equal(a["positions"], b["positions"])


def test_sgd_accepts_a_problem_object():
    prob = AnisotropicGaussians(d=8, s0=2, delta=0.5, activation="relu")
    ds = SGD(prob, n_neurons=5, step_size=0.01, seed=0).run(t_final=0.02, progress=False)
    # default save_every t_final/10 is below ε: each step is observed once
    assert ds.sizes["time"] == 3 and np.all(np.isfinite(ds["risk"]))


def test_jko_refuses_a_density_from_another_grid_of_the_same_shape():
    grid, other = wg.Grid.box([(-4, 4)], 32), wg.Grid.box([(-5, 5)], 32)
    rho = wg.GridMeasure(other, OU.initial_density(other))
    with pytest.raises(ValueError, match="rho0: .*different grid"):
        JKO(OU.energy, grid, tau=0.1).run(rho, 0.2)


def test_jko_failure_names_the_time_of_the_step():
    grid = wg.Grid.box([(-4, 4)], 32)
    solver = JKO(OU.energy, grid, tau=0.1)
    p = OU.initial_density(grid) * grid.cell_volume
    with pytest.raises(BlowUpError, match="t = 0.7"):
        solver._scaling(p, None, np.full(grid.shape, np.nan), 0.1, 0.7)


def test_jko_state_holds_the_lagrangian_mass():
    grid = wg.Grid.box([(-4, 4)], 32)
    solver = JKO(OU.energy, grid, tau=0.1, method="lagrangian")
    state = solver.initial_state(2.0 * OU.initial_density(grid))
    assert state.mass == pytest.approx(2.0)
    assert not hasattr(solver, "_mass")


def test_problem_energy_is_built_once():
    assert OU.energy is OU.energy
    red = AnisotropicGaussians(d=8, s0=2, delta=0.5, activation="relu").reduced()
    assert red.energy is red.energy


def test_objects_print_their_parameters():
    assert "0x" not in repr(OU.energy) and '"kind": "entropy"' in repr(OU.energy)
    solver = FiniteVolume(OU.energy, wg.Grid.box([(-4, 4)], 8))
    assert repr(solver).startswith("FiniteVolume(order=2, scheme='explicit', cfl=0.9")
    assert repr(Particles(OU.energy, dt=0.5)).startswith("Particles(dt=0.5")
    assert repr(OU).startswith("OrnsteinUhlenbeck(dim=1, diffusion=0.5")
    prob = AnisotropicGaussians(d=8, s0=2, delta=0.5, activation="relu")
    assert "d=8" in repr(prob) and "s0=2" in repr(prob)
    assert repr(wg.Entropy(2.0)) == "Entropy(beta=2.0)"
