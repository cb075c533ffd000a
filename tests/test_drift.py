"""Non-gradient drifts (wgflow.drift.MeanFieldDrift) against exact Gaussian solutions.

2-D OU ``dX = −X dt + b dt + √(2D) dW`` stays Gaussian for the two drifts used here:

- a rotation ``b(x) = Bx`` (``B`` antisymmetric: not a gradient): mean ``e^{(B−I)t} m0``;
- a measure-dependent pull ``b(x; ρ) = −∫x dρ`` (moments from the features ``φ(x) = x``):
  mean ``e^{−2t} m0``.

In both the covariance is that of plain OU from an isotropic start (``B`` commutes with ``I``;
the pull is constant in space), so the exact density is OU's with the mean replaced.
"""

import numpy as np
import pytest
from scipy.linalg import expm

import wgflow as wg
from wgflow.drift import MeanFieldDrift
from wgflow.problems import OrnsteinUhlenbeck
from wgflow.solvers import JKO, FiniteVolume, Particles

D, T = 0.5, 1.0
M0 = np.array([1.5, 0.0])
B = np.array([[0.0, 1.0], [-1.0, 0.0]])
OU = OrnsteinUhlenbeck(dim=2, diffusion=D, mean0=M0, var0=0.3)
ROTATION = MeanFieldDrift(lambda x, m: x @ B.T, name="rotation")
PULL = MeanFieldDrift(lambda x, m: np.broadcast_to(-m, x.shape), features=lambda x: x, name="pull")
MEANS = {"rotation": expm((B - np.eye(2)) * T) @ M0, "pull": np.exp(-2 * T) * M0}


def energy(drift):
    return wg.FreeEnergy(
        potential=OU.energy.potential_term, internal=OU.energy.internal, drift=drift, dim=2
    )


def exact(grid, mean):
    """OU's exact density at T, moved to ``mean``."""
    shifted = OrnsteinUhlenbeck(dim=2, diffusion=D, mean0=np.exp(T) * mean, var0=0.3)
    return shifted.exact_density(grid, T)


@pytest.mark.parametrize("name", ["rotation", "pull"])
def test_finite_volume_with_a_drift_converges_at_second_order(name):
    drift = {"rotation": ROTATION, "pull": PULL}[name]
    errors = []
    for n in (32, 64, 128):
        grid = wg.Grid.box([(-5, 5)] * 2, n)
        ds = FiniteVolume(energy(drift), grid).run(OU.initial_density(grid), T, progress=False)
        rho = ds["density"][-1].values
        assert np.all(rho >= 0) and abs(float(ds["mass"][-1]) - 1) < 1e-12
        errors.append(grid.integrate(np.abs(rho - exact(grid, MEANS[name]))))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert errors[-1] < 2e-3 and np.all(orders > 1.6), (errors, orders)


def test_semi_implicit_scheme_takes_the_drift():
    grid = wg.Grid.box([(-5, 5)] * 2, 64)
    ds = FiniteVolume(energy(ROTATION), grid, scheme="semi-implicit", dt=0.005).run(
        OU.initial_density(grid), T, progress=False
    )
    x, y = grid.mesh()
    rho = ds["density"][-1].values
    mean = np.array([(rho * x).sum(), (rho * y).sum()]) * grid.cell_volume
    assert np.allclose(mean, MEANS["rotation"], atol=1e-2)  # first order in time
    assert abs(float(ds["mass"][-1]) - 1) < 1e-12


@pytest.mark.parametrize("name", ["rotation", "pull"])
def test_particles_follow_the_drift(name):
    drift = {"rotation": ROTATION, "pull": PULL}[name]
    rng = np.random.default_rng(0)
    x0 = M0 + np.sqrt(0.3) * rng.standard_normal((20000, 2))
    ds = Particles(energy(drift), dt=0.005, seed=1).run(x0, T, progress=False)
    mean = ds["positions"][-1].mean("particle").values
    # Monte Carlo: standard error ≈ √(var/N) ≈ 0.005; Euler bias O(dt)
    assert np.allclose(mean, MEANS[name], atol=0.03), mean


def test_drift_changes_the_archived_parameters_and_jko_refuses_it():
    grid = wg.Grid.box([(-5, 5)] * 2, 16)
    params = FiniteVolume(energy(ROTATION), grid).parameters()
    assert params["energy"]["drift"]["name"] == "rotation"
    assert params["energy"]["drift"]["code"].startswith("code:")
    with pytest.raises(ValueError, match="non-gradient drift"):
        JKO(energy(ROTATION), grid, tau=0.1)


def test_bad_drifts_are_refused():
    with pytest.raises(TypeError, match="velocity"):
        MeanFieldDrift(3.0)
    with pytest.raises(wg.ParameterError, match="drift"):
        wg.FreeEnergy(drift=lambda x: x)
    bad = MeanFieldDrift(lambda x, m: x[..., :1])
    grid = wg.Grid.box([(-5, 5)] * 2, 16)
    with pytest.raises(ValueError, match="shape"):
        FiniteVolume(energy(bad), grid).run(OU.initial_density(grid), 0.1, progress=False)


def test_three_dimensional_grid_takes_the_drift_on_every_axis():
    """3-D OU with a rotation in the (y, z) plane: the mean follows e^{(B−I)t} m0."""
    b3 = np.zeros((3, 3))
    b3[1, 2], b3[2, 1] = 1.0, -1.0
    ou = OrnsteinUhlenbeck(dim=3, diffusion=D, mean0=(0.5, 1.0, 0.0), var0=0.3)
    drift = MeanFieldDrift(lambda x, m: x @ b3.T, name="rotation")
    e = wg.FreeEnergy(
        potential=ou.energy.potential_term, internal=ou.energy.internal, drift=drift, dim=3
    )
    grid = wg.Grid.box([(-4, 4)] * 3, 32)
    rho = FiniteVolume(e, grid).run(ou.initial_density(grid), 0.5, progress=False)
    final = rho["density"][-1].values
    points = grid.points()
    mean = np.tensordot(final, points, axes=3) * grid.cell_volume
    exact = expm((b3 - np.eye(3)) * 0.5) @ np.array([0.5, 1.0, 0.0])
    assert np.allclose(mean, exact, atol=5e-3), (mean, exact)
