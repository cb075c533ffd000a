"""Observables: the helpers of ``wgflow.observables`` and the recording trackers.

Every recorded value is checked against an independent numpy computation on the run's own
snapshots (or, for particles, the full state that the snapshots hold when nothing is thinned).
"""

import doctest
import math

import numpy as np
import pytest
import xarray as xr

import wgflow as wg
from wgflow.grid import box_averages
from wgflow.observables import grid_moments, particle_moments, peak_statistics
from wgflow.problems import MorseSwarm, OrnsteinUhlenbeck
from wgflow.solvers import JKO, FiniteVolume, Particles
from wgflow.trackers import (
    ConcentrationGuard,
    EnergyTermsTracker,
    MomentTracker,
    Tracker,
)


def numpy_grid_moments(grid, rho):
    """Midpoint sums written out with the cell centres, no wgflow helper involved."""
    h = np.prod(grid.spacing)
    xs = np.meshgrid(*grid.coordinates, indexing="ij")
    mass = rho.sum() * h
    first = np.array([(x * rho).sum() * h for x in xs])
    axis = np.array([(x * x * rho).sum() * h for x in xs])
    return mass, first / mass, axis


def test_moments_of_measures_match_numpy():
    rng = np.random.default_rng(3)
    x, w = rng.normal(size=(50, 2)), rng.random(50)
    m = wg.moments(wg.ParticleMeasure(x, w))
    assert m["mass"] == pytest.approx(w.sum(), rel=1e-14)
    np.testing.assert_allclose(m["centre_of_mass"], w @ x / w.sum(), rtol=1e-13)
    assert m["second_moment"] == pytest.approx(np.sum(w * np.sum(x * x, 1)), rel=1e-13)
    np.testing.assert_allclose(m["second_moment_axis"], w @ (x * x), rtol=1e-13)
    centred = np.sum(w * np.sum((x - w @ x / w.sum()) ** 2, 1))
    assert m["centred_second_moment"] == pytest.approx(centred, rel=1e-12)
    np.testing.assert_allclose(wg.centre_of_mass(wg.ParticleMeasure(x, w)), w @ x / w.sum())

    grid = wg.Grid.box([(-2, 3), (-1, 1)], (20, 12))
    rho = rng.random(grid.shape)
    m = wg.moments(wg.GridMeasure(grid, rho))
    mass, mean, axis = numpy_grid_moments(grid, rho)
    assert m["mass"] == pytest.approx(mass, rel=1e-13)
    np.testing.assert_allclose(m["centre_of_mass"], mean, rtol=1e-12)
    np.testing.assert_allclose(m["centre_of_mass"], wg.GridMeasure(grid, rho).mean, rtol=1e-12)
    np.testing.assert_allclose(m["second_moment_axis"], axis, rtol=1e-12)
    assert m["second_moment"] == pytest.approx(axis.sum(), rel=1e-12)
    with pytest.raises(ValueError, match="measure"):
        wg.moments(np.ones(3))


def test_moment_and_energy_trackers_on_finite_volumes_equal_numpy():
    prob = MorseSwarm(dim=2, mean0=(0.6, -0.3), var0=0.3)
    grid = wg.Grid.box([(-3, 3)] * 2, 16)
    ds = FiniteVolume(prob.energy, grid).run(
        prob.initial_density(grid),
        0.3,
        0.1,
        trackers=[MomentTracker(), EnergyTermsTracker()],
        progress=False,
    )
    # the interaction energy, ½ Σ_ij W̄(x_i − x_j) ρ_i ρ_j h⁴, by a direct double sum over cells
    # (W̄: the cell-averaged kernel, the grid discretization's definition)
    pts = grid.points().reshape(-1, 2)
    kernel = prob.energy.interactions[0]
    wbar = box_averages(kernel.kernel, pts[:, None] - pts[None], grid.spacing, 4)
    h2 = grid.cell_volume
    for k, t in enumerate(ds["time"].values):
        rho = ds["density"].values[k]
        mass, mean, axis = numpy_grid_moments(grid, rho)
        np.testing.assert_allclose(ds["centre_of_mass"].values[k], mean, rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(ds["second_moment_axis"].values[k], axis, rtol=1e-11)
        assert ds["second_moment"].values[k] == pytest.approx(axis.sum(), rel=1e-11)
        centred = axis.sum() - mass * mean @ mean
        assert ds["centred_second_moment"].values[k] == pytest.approx(centred, rel=1e-11)
        v = prob.confinement * 0.5 * np.sum(pts**2, 1).reshape(grid.shape)
        assert ds["energy_potential"].values[k] == pytest.approx((v * rho).sum() * h2, rel=1e-11)
        internal = prob.diffusion * np.sum(rho * np.log(rho)) * h2
        assert ds["energy_internal"].values[k] == pytest.approx(internal, rel=1e-10)
        interaction = 0.5 * rho.ravel() @ wbar @ rho.ravel() * h2 * h2
        assert ds["energy_interaction"].values[k] == pytest.approx(interaction, rel=1e-9), t
    parts = ds["energy_potential"] + ds["energy_interaction"] + ds["energy_internal"]
    np.testing.assert_allclose(parts, ds["free_energy"], rtol=1e-12)
    for name in ("second_moment", "centre_of_mass", "energy_interaction"):
        assert {"units", "long_name"} <= set(ds[name].attrs), name
    assert list(ds["component"].values) == ["x", "y"]
    # the helper on the Dataset gives the same numbers after the fact
    after = wg.moments(ds)
    np.testing.assert_allclose(after["second_moment"], ds["second_moment"], rtol=1e-12)
    np.testing.assert_allclose(after["centre_of_mass"], ds["centre_of_mass"], atol=1e-14)
    # the archive keeps them (CF attributes and all)
    assert wg.io.check_attributes(ds) is None


def test_moment_tracker_on_jko_equals_numpy():
    prob = OrnsteinUhlenbeck(dim=1, diffusion=0.5, mean0=[1.0], var0=0.3)
    grid = wg.Grid.box([(-5, 5)], 64)
    ds = JKO(prob.energy, grid, tau=0.1).run(
        prob.initial_density(grid), 0.3, 0.1, trackers=[MomentTracker()], progress=False
    )
    for k in range(ds.sizes["time"]):
        _, mean, axis = numpy_grid_moments(grid, ds["density"].values[k])
        np.testing.assert_allclose(ds["centre_of_mass"].values[k], mean, rtol=1e-11)
        assert ds["second_moment"].values[k] == pytest.approx(axis.sum(), rel=1e-11)
    # the mean follows the exact OU mean to the scheme's accuracy (first order in τ)
    assert ds["centre_of_mass"].values[-1, 0] == pytest.approx(prob.mean(0.3)[0], abs=0.02)


def test_trackers_on_replicated_particles_equal_numpy():
    prob = MorseSwarm(dim=2, mean0=(0.5, 0.2), var0=0.2, mass=2.0)
    cloud = prob.sample(60, seed=1)
    ds = Particles(prob.energy, dt=0.02, seed=3, replicas=2).run(
        cloud, 0.2, 0.1, trackers=[MomentTracker(), EnergyTermsTracker()], progress=False
    )
    assert ds["second_moment"].dims == ("time", "replica")
    assert ds["centre_of_mass"].dims == ("time", "replica", "component")
    assert "energy_internal" not in ds  # an empirical measure has no internal energy
    w = ds["weights"].values
    kernel = prob.energy.interactions[0].kernel
    for k in range(ds.sizes["time"]):
        for r in range(2):
            x = ds["positions"].values[k, r]
            np.testing.assert_allclose(
                ds["centre_of_mass"].values[k, r], w @ x / w.sum(), rtol=1e-12
            )
            m2 = np.sum(w * np.sum(x * x, 1))
            assert ds["second_moment"].values[k, r] == pytest.approx(m2, rel=1e-12)
            pot = np.sum(w * prob.confinement * 0.5 * np.sum(x * x, 1))
            assert ds["energy_potential"].values[k, r] == pytest.approx(pot, rel=1e-12)
            pair = kernel(x[:, None] - x[None])
            np.fill_diagonal(pair, 0.0)  # the self term is skipped
            inter = 0.5 * w @ pair @ w
            assert ds["energy_interaction"].values[k, r] == pytest.approx(inter, rel=1e-9)
    total = ds["energy_potential"] + ds["energy_interaction"]
    np.testing.assert_allclose(total, ds["energy"], rtol=1e-12)
    after = wg.moments(ds)  # no thinning: the Dataset helper sees the same particles
    np.testing.assert_allclose(after["second_moment"], ds["second_moment"], rtol=1e-12)


def test_particle_moments_keep_leading_axes():
    x = np.arange(24.0).reshape(2, 3, 4, 1)  # (time, replica, particle, component)
    out = particle_moments(x, np.full(4, 0.25))
    assert out["second_moment"].shape == (2, 3) and out["centre_of_mass"].shape == (2, 3, 1)
    np.testing.assert_allclose(out["centre_of_mass"][..., 0], x[..., 0].mean(-1))
    with pytest.raises(ValueError, match="positions"):
        particle_moments(x, np.ones(5))
    grid = wg.Grid.box([(0, 1)], 4)
    batch = grid_moments(grid, np.ones((3, 4)))
    assert batch["mass"].shape == (3,)
    np.testing.assert_allclose(batch["centre_of_mass"], 0.5)


class InterruptAt(Tracker):
    def __init__(self, t):
        self.t = t

    def handle(self, solver, state, t):
        if t >= self.t - 1e-12:
            raise KeyboardInterrupt


def test_recorded_variables_survive_checkpoint_and_resume(tmp_path):
    prob = OrnsteinUhlenbeck(dim=2, diffusion=0.5, mean0=(1.0, 0.5), var0=0.3)
    grid = wg.Grid.box([(-5, 5)] * 2, 24)

    def make():
        return FiniteVolume(prob.energy, grid)

    rho0 = prob.initial_density(grid)
    full = make().run(rho0, 1.0, 0.1, trackers=[MomentTracker()], progress=False)
    path = tmp_path / "run.nc"
    with pytest.raises(wg.RunInterrupted) as info:
        make().run(
            rho0,
            1.0,
            0.1,
            trackers=[MomentTracker(), InterruptAt(0.5)],
            checkpoint=path,
            progress=False,
        )
    assert info.value.dataset["second_moment"].sizes["time"] == 6
    assert "second_moment" in wg.open(path)
    resumed = make().resume(path, trackers=[MomentTracker()], progress=False)
    for name in ("second_moment", "centre_of_mass", "second_moment_axis"):
        np.testing.assert_array_equal(resumed[name].values, full[name].values, err_msg=name)


class StopAt(Tracker):
    def __init__(self, t):
        self.t = t

    def handle(self, solver, state, t):
        if t >= self.t - 1e-12:
            raise wg.TargetReached(t, "stop")


def test_a_time_a_tracker_did_not_see_holds_nan():
    # StopAt listed first stops at t = 0.1 before the MomentTracker measures there
    prob = OrnsteinUhlenbeck(dim=1, diffusion=0.5, mean0=[1.0], var0=0.3)
    grid = wg.Grid.box([(-5, 5)], 32)
    solver = FiniteVolume(prob.energy, grid)
    with pytest.raises(wg.TargetReached) as info:
        solver.run(
            prob.initial_density(grid),
            0.2,
            0.1,
            trackers=[StopAt(0.1), MomentTracker()],
            progress=False,
        )
    m2 = info.value.dataset["second_moment"].values
    assert m2.shape == (2,) and np.isfinite(m2[0]) and np.isnan(m2[1])
    # outside a run nothing is added: a later run without the tracker has no such variable
    ds = solver.run(prob.initial_density(grid), 0.2, progress=False)
    assert "second_moment" not in ds


def test_peak_statistics_on_known_profiles():
    grid = wg.Grid.box([(-1, 1)] * 2, 20)
    rho = np.full(grid.shape, 1e-3)
    rho[7, 12] = 5.0
    stats = peak_statistics(grid, rho)
    assert stats["peak_width"] == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(stats["peak_position"], [grid.coordinates[0][7], 0.25])
    block = np.full(grid.shape, 1e-3)
    block[9:11, 9:11] = 5.0  # a collapse onto the cell vertex at the origin
    stats = peak_statistics(grid, block)
    assert stats["peak_width"] == pytest.approx(2.0, abs=1e-3)
    assert stats["peak_mass_fraction"] == pytest.approx(20 / (20 + 396e-3), rel=1e-12)
    # a Gaussian of standard deviation s cells: FWHM 2√(2 ln 2) s, 2x2 fraction erf(1/(s√2))²
    fine = wg.Grid.box([(-1, 1)] * 2, 81)
    s = 4.0 * fine.spacing[0]
    gauss = np.exp(-np.sum(fine.points() ** 2, -1) / (2 * s * s))
    stats = peak_statistics(fine, gauss)
    assert stats["peak_width"] == pytest.approx(2 * math.sqrt(2 * math.log(2)) * 4, rel=0.03)
    # the heaviest 2x2 block of an odd grid's centred peak holds about a quarter of the 3x3 mass
    assert 0.0 < stats["peak_mass_fraction"] < math.erf(1 / (4 * math.sqrt(2))) ** 2 * 1.05


def test_concentration_guard_validation_and_solver_check():
    for kwargs, name in (
        ({"min_width": 0}, "min_width"),
        ({"min_width": -1.0}, "min_width"),
        ({"mass_fraction": 1.5}, "mass_fraction"),
        ({"mass_fraction": 0.0}, "mass_fraction"),
        ({"action": "ignore"}, "action"),
    ):
        with pytest.raises(ValueError, match=name):
            ConcentrationGuard(**kwargs)
    with pytest.raises(ValueError, match="per_axis"):
        MomentTracker(per_axis=1)
    prob = OrnsteinUhlenbeck(dim=1, diffusion=0.5, mean0=[1.0], var0=0.3)
    with pytest.raises(ValueError, match="trackers: ConcentrationGuard needs a grid solver"):
        Particles(prob.energy, dt=0.1).run(
            np.zeros((4, 1)), 0.1, trackers=[ConcentrationGuard()], progress=False
        )


def test_concentration_guard_warn_mode_records_and_goes_on():
    grid = wg.Grid.box([(-1, 1)], 40)
    energy = wg.FreeEnergy(
        potential=wg.Potential(lambda x: 50 * x[..., 0] ** 2, gradient=lambda x: 100 * x)
    )
    rho0 = np.exp(-(grid.points()[..., 0] ** 2) / 0.1)
    guard = ConcentrationGuard(action="warn")
    with pytest.warns(wg.ApproximationWarning, match="concentrated below the grid's resolution"):
        ds = FiniteVolume(energy, grid).run(rho0, 0.2, 0.05, trackers=[guard], progress=False)
    # pure transport to x = 0 collapses onto the two cells around the origin, and goes on
    assert ds["peak_mass_fraction"].values[-1] > 0.5
    assert ds["peak_width"].values[0] > 3 > ds["peak_width"].values[-1]
    assert isinstance(ds["peak_density"], xr.DataArray)


def test_observables_docstring_examples():
    result = doctest.testmod(wg.observables, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, result
