import numba
import numpy as np
import ot
import pytest

import wgflow as wg
from wgflow.problems import Aggregation, OrnsteinUhlenbeck
from wgflow.solvers import FiniteVolume, Particles
from wgflow.solvers.particle_kernels import (
    pairwise_energy,
    pairwise_forces,
    pairwise_forces_numpy,
)
from wgflow.solvers.particles import interaction_energy, interaction_gradient


@pytest.mark.parametrize(
    "interaction",
    [
        wg.PairwiseInteraction.power_law(2.0, 1.0),
        wg.PairwiseInteraction.power_law(2.0, 0.0),
        wg.PairwiseInteraction.power_law(1.5, -0.5, attraction=2.0, repulsion=0.3),
        wg.PairwiseInteraction.gaussian(0.7, 0.5),
    ],
    ids=["|x|^2/2-|x|", "|x|^2/2-log|x|", "power", "gaussian"],
)
def test_compiled_pairwise_kernel_matches_numpy(interaction):
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(300, 3)), rng.random(300)
    out = np.empty_like(x)
    kind, params = interaction.radial
    pairwise_forces(x, w, kind, params, out)
    np.testing.assert_allclose(out, pairwise_forces_numpy(x, w, interaction.gradient), rtol=1e-10)
    diff = x[:, None] - x[None]
    values = interaction.kernel(np.where(np.eye(300)[..., None] > 0, 1.0, diff))
    np.fill_diagonal(values, 0.0)
    assert pairwise_energy(x, w, kind, params) == pytest.approx(0.5 * w @ values @ w, rel=1e-10)


def test_radial_gradients_match_finite_differences_of_the_kernel():
    for term in (wg.PairwiseInteraction.power_law(2.0, 0.5), wg.PairwiseInteraction.gaussian()):
        z, h = np.array([[0.3, -0.7]]), 1e-6
        fd = [(term.kernel(z + h * e) - term.kernel(z - h * e))[0] / (2 * h) for e in np.eye(2)]
        np.testing.assert_allclose(term.gradient(z)[0], fd, rtol=1e-6)


def test_separable_and_general_paths_agree_with_pairwise():
    # κ|x − y|²/2 written three ways; as a rank-4 separable kernel:
    # −κ x·y + (κ/4)(|x|²+1)(|y|²+1) − (κ/4)(|x|²−1)(|y|²−1)
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(50, 2)), np.full(50, 1 / 50)
    kappa = 0.8
    pairwise = wg.PairwiseInteraction.power_law(2.0, attraction=kappa, repulsion=0.0)
    general = wg.GeneralInteraction(
        lambda a, b: 0.5 * kappa * np.sum((a - b) ** 2, -1), gradient=lambda a, b: kappa * (a - b)
    )

    def features(p):
        sq = np.sum(p**2, -1, keepdims=True)
        return np.concatenate([p, sq + 1, sq - 1], -1)

    def feature_gradients(p):
        eye = np.broadcast_to(np.eye(2), (*p.shape[:-1], 2, 2))
        return np.concatenate([eye, 2 * p[..., None, :], 2 * p[..., None, :]], axis=-2)

    separable = wg.SeparableInteraction(
        features, [-kappa, -kappa, kappa / 4, -kappa / 4], gradient=feature_gradients
    )
    ref = interaction_gradient(pairwise, x, w)
    for term in (general, separable):
        np.testing.assert_allclose(interaction_gradient(term, x, w), ref, rtol=1e-10, atol=1e-12)
        assert interaction_energy(term, x, w) == pytest.approx(
            interaction_energy(pairwise, x, w), rel=1e-10
        )


def ou_particles(n, dt, seed=0, replicas=1, dtype="float64"):
    prob = OrnsteinUhlenbeck(dim=2, diffusion=0.5, mean0=(1.0, 0.5), var0=0.3)
    rng = np.random.default_rng(seed)
    x0 = rng.multivariate_normal(prob.mean0, prob.cov0, size=(replicas, n))
    solver = Particles(prob.energy, dt=dt, seed=seed, replicas=replicas, dtype=dtype)
    return prob, solver, x0


def test_particle_noise_matches_diffusion_coefficient():
    # V = |θ|²/2, β = 4: Euler–Maruyama's stationary variance is 1/(β(1 − dt/2))
    prob = OrnsteinUhlenbeck(dim=2, diffusion=0.25)
    x0 = np.random.default_rng(0).normal(size=(20_000, 2))
    ds = Particles(prob.energy, dt=0.01, seed=2).run(x0, 6.0, 3.0, progress=False)
    var = ds["positions"].isel(time=-1).var("particle").values
    np.testing.assert_allclose(var, 0.25 / (1 - 0.005), rtol=0.03)


def gaussian_w2(mean1, cov1, mean2, cov2):
    from scipy.linalg import sqrtm

    root = sqrtm(cov1)
    cross = np.real(sqrtm(root @ cov2 @ root))
    return float(np.sqrt(np.sum((mean1 - mean2) ** 2) + np.trace(cov1 + cov2 - 2 * cross)))


def test_particles_approach_exact_ou_law_like_inverse_sqrt_n():
    # W2 between the cloud at t = 1 and an independent exact sample of the same size (POT emd),
    # averaged over 4 replicas: E W2 ~ N^{-1/2} (log N)^{1/2} in 2-D (Fournier–Guillin)
    sizes, means = [100, 400, 1600], []
    for n in sizes:
        prob, solver, x0 = ou_particles(n, dt=0.005, seed=n, replicas=4)
        ds = solver.run(x0, 1.0, 1.0, progress=False)
        rng = np.random.default_rng(n + 1)
        w2 = []
        for r in range(4):
            cloud = ds["positions"].isel(time=-1, replica=r).values
            exact = rng.multivariate_normal(prob.mean(1.0), prob.covariance(1.0), size=n)
            w2.append(np.sqrt(ot.emd2([], [], ot.dist(cloud, exact))))
        means.append(np.mean(w2))
    slope = np.polyfit(np.log(sizes), np.log(means), 1)[0]
    print(f"\nW2 vs N {sizes}: {np.round(means, 4)}; slope {slope:.2f}")
    assert -0.65 < slope < -0.3, means


def test_time_step_bias_is_linear_in_dt():
    # moment-matched Gaussian W2 to the exact law; 200 000 particles make sampling error ~0.003
    biases = []
    for dt in (0.2, 0.1, 0.05):
        prob, solver, x0 = ou_particles(50_000, dt=dt, seed=7, replicas=4)
        ds = solver.run(x0, 1.0, 1.0, progress=False)
        pts = ds["positions"].isel(time=-1).values.reshape(-1, 2)
        biases.append(gaussian_w2(pts.mean(0), np.cov(pts.T), prob.mean(1.0), prob.covariance(1.0)))
    ratios = np.array(biases[:-1]) / biases[1:]
    print(f"\nEM bias at t=1 for dt=0.2,0.1,0.05: {np.round(biases, 4)}; ratios {ratios}")
    assert np.all((ratios > 1.6) & (ratios < 2.5)), biases


def w1_to_grid(points, grid, density):
    return ot.wasserstein_1d(points, grid.coordinates[0], None, density * grid.cell_volume, p=1)


def test_particles_agree_with_finite_volumes_on_aggregation_diffusion():
    # smooth positive start: the explicit CCH scheme with entropy takes tiny steps next to
    # exactly empty cells (log of the floor density), see FiniteVolume's docstring
    prob = Aggregation(dim=1, diffusion=0.1)
    grid = wg.Grid.box([(-3, 3)], 600)
    x = grid.coordinates[0]
    rho0 = np.exp(-0.5 * (x / 0.3) ** 2)
    rho0 /= grid.integrate(rho0)
    fv = FiniteVolume(prob.energy, grid).run(rho0, 1.0, 1.0, progress=False)
    rho = fv["density"][-1].values
    distances = []
    for n in (250, 1000, 4000):
        x0 = wg.GridMeasure(grid, rho0).sample(n, seed=n).positions
        ds = Particles(prob.energy, dt=0.01, seed=n).run(x0, 1.0, 1.0, progress=False)
        distances.append(w1_to_grid(ds["positions"].isel(time=-1).values[:, 0], grid, rho))
    print(f"\nW1(particles, FV) at t = 1 for N = 250, 1000, 4000: {np.round(distances, 4)}")
    # tolerance ~ 2 N^{-1/2} (empirical-measure fluctuations dominate the dt bias)
    assert distances[2] < distances[0]
    assert all(d < 2 / np.sqrt(n) for d, n in zip(distances, (250, 1000, 4000), strict=True))


def test_same_seed_same_bits_whatever_the_thread_count():
    results = []
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        prob = Aggregation(dim=2, diffusion=0.05)
        x0 = np.random.default_rng(0).normal(size=(400, 2))
        results.append(
            Particles(prob.energy, dt=0.01, seed=3, replicas=2).run(x0, 0.2, 0.1, progress=False)
        )
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    np.testing.assert_array_equal(results[0]["positions"], results[1]["positions"])
    last = results[0]["positions"].isel(time=-1).values
    assert not np.array_equal(last[0], last[1])


def test_float32_particles_stay_close_to_float64():
    out = {}
    for dtype in ("float64", "float32"):
        _, solver, x0 = ou_particles(1000, dt=0.01, seed=1, dtype=dtype)
        out[dtype] = solver.run(x0, 0.5, 0.5, progress=False)["positions"].isel(time=-1).values
    assert out["float32"].dtype == np.float32
    np.testing.assert_allclose(out["float32"], out["float64"], atol=1e-4)


def test_dataset_schema_weights_and_thinning():
    prob = Aggregation(dim=1)
    x0 = np.linspace(-0.5, 0.5, 200)[:, None]
    ds = Particles(prob.energy, dt=0.01, keep_particles=50).run(x0, 0.5, 0.1, progress=False)
    assert ds["positions"].dims == ("time", "particle", "component")
    assert ds.sizes["particle"] == 50 and ds["weights"].sum() == pytest.approx(0.25)
    assert "free_energy" in ds and np.all(np.diff(ds["free_energy"]) < 0)  # noiseless: E decays
    index = {"particle", "replica", "component"}  # labels, not quantities: no units (CF)
    for var in ds.variables:
        assert {"units", "long_name"} <= set(ds[var].attrs) or var in index, var
        assert "long_name" in ds[var].attrs
    for var in index & set(ds.coords):
        assert "units" not in ds[var].attrs, var


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda e: Particles(e, dt=0.0), "dt"),
        (lambda e: Particles(e, dt=0.1, replicas=0), "replicas"),
        (lambda e: Particles(e, dt=0.1, dtype="int8"), "dtype"),
        (lambda e: Particles(e, dt=0.1).run(np.zeros((0, 2)), 1.0), "x0"),
        (lambda e: Particles(e, dt=0.1).run(np.full((3, 2), np.nan), 1.0), "x0"),
        (
            lambda e: Particles(e, dt=0.1).run(wg.ParticleMeasure(np.zeros((3, 2)), [1, 2]), 1),
            "weights",
        ),
        (lambda e: Particles(e, dt=0.1).run(np.zeros((3, 2)), -1.0), "t_final"),
        (lambda e: Particles(wg.FreeEnergy(internal=OtherInternal()), dt=0.1), "energy"),
        (lambda e: Particles(wg.FreeEnergy(potential=lambda x: x[..., 0]), dt=0.1), "gradient"),
    ],
)
def test_bad_particle_input_names_the_parameter(make, match):
    energy = OrnsteinUhlenbeck(dim=2).energy
    with pytest.raises(ValueError, match=match):
        make(energy)


def test_particles_leaving_the_domain_stop_the_run_with_the_last_good_state(tmp_path):
    energy = wg.FreeEnergy(  # drift 0.9: x = 0.9 t leaves [-1, 1] at t = 1.11
        potential=wg.Potential(
            lambda x: -0.9 * x[..., 0], gradient=lambda x: -0.9 * np.ones_like(x)
        )
    )
    solver = Particles(energy, dt=0.01, domain=[(-1, 1)])
    with pytest.raises(wg.BlowUpError, match="left the domain") as info:
        solver.run(np.zeros((10, 1)), 5.0, 0.25, progress=False, checkpoint=tmp_path / "c.nc")
    assert info.value.time == pytest.approx(1.0)
    saved = wg.open(tmp_path / "c.nc")
    assert saved.attrs["checkpoint_time"] == pytest.approx(1.0)
    assert float(saved["positions"].max()) <= 1.0


def test_pairwise_paths_give_the_same_bits_whatever_the_thread_count():
    # each row sums j in order on every path: serial and threaded runs agree bit for bit
    from wgflow.solvers.particle_kernels import pairwise_forces_serial
    from wgflow.solvers.particles import pairwise_backend

    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(600, 2)), rng.random(600)  # 3.6e5 pairs: threaded
    term = wg.PairwiseInteraction.morse()
    kind, params = term.radial
    threaded, serial = np.empty_like(x), np.empty_like(x)
    pairwise_forces(x, w, kind, params, threaded)
    pairwise_forces_serial(x, w, kind, params, serial)
    np.testing.assert_array_equal(threaded, serial)

    def gradient(z):
        r = np.sqrt(np.sum(z * z, axis=-1))
        return z * (np.exp(-r) / r)[..., None]

    user = wg.PairwiseInteraction(lambda z: -np.exp(-np.sqrt(np.sum(z * z, -1))), gradient)
    backend = pairwise_backend(user, 2)
    assert backend.path == "compiled"
    results = []
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        results.append((backend.forces(x, w), backend.energy(x, w)))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]


class OtherInternal:
    """An internal energy that is neither an entropy nor a porous medium."""

    convex = True

    def density(self, rho):
        return rho**3

    def derivative(self, rho):
        return 3 * rho**2

    def diffusivity(self, rho):
        return 6 * rho**2

    def describe(self):
        return {}


@pytest.mark.parametrize("dim", [1, 3, 50])
def test_a_potential_gradient_that_is_not_the_gradient_of_v_is_refused(dim):
    """A sign error in ∇V made particles fly apart silently while grids used V itself."""
    wrong = wg.FreeEnergy(
        potential=wg.Potential(lambda x: 0.5 * (x**2).sum(-1), gradient=lambda x: -x)
    )
    with pytest.raises(ValueError, match="gradient: ∇V of potential V disagrees"):
        Particles(wrong, dt=0.01).run(np.full((4, dim), 0.1), 0.02, progress=False)
    double = wg.FreeEnergy(
        potential=wg.Potential(lambda x: 0.5 * (x**2).sum(-1), gradient=lambda x: 2 * x)
    )
    with pytest.raises(ValueError, match="gradient"):
        Particles(double, dt=0.01).run(np.full((4, dim), 0.1), 0.02, progress=False)
    right = wg.FreeEnergy(
        potential=wg.Potential(lambda x: 0.5 * (x**2).sum(-1), gradient=lambda x: 1.0 * x)
    )
    Particles(right, dt=0.01).run(np.full((4, dim), 0.1), 0.02, progress=False)
