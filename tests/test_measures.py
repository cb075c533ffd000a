import numpy as np
import pytest

import wgflow as wg
from wgflow.problems import OrnsteinUhlenbeck


def gaussian_measure(n=96):
    prob = OrnsteinUhlenbeck(dim=2, mean0=(0.5, -0.3), var0=[[0.4, 0.1], [0.1, 0.3]])
    grid = wg.Grid.box([(-4, 4), (-4, 4)], shape=n)
    return prob, wg.GridMeasure(grid, prob.initial_density(grid))


def test_grid_measure_moments_match_the_gaussian():
    prob, mu = gaussian_measure()
    assert mu.mass == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(mu.mean, prob.mean0, atol=1e-6)
    # cell-centre quadrature overestimates each variance by h²/12 = 5.8e-4
    np.testing.assert_allclose(mu.covariance, prob.cov0, atol=1e-3)


def test_sampling_then_histogramming_recovers_the_density():
    _, mu = gaussian_measure(32)
    cloud = mu.sample(200_000, seed=1)
    assert cloud.n_particles == 200_000 and cloud.mass == pytest.approx(mu.mass)
    # sample moments agree within ~5 standard errors
    np.testing.assert_allclose(cloud.mean, mu.mean, atol=5 * np.sqrt(0.4 / 200_000))
    np.testing.assert_allclose(cloud.covariance, mu.covariance, atol=0.01)
    back = cloud.histogram(mu.grid)
    assert back.mass == pytest.approx(mu.mass, rel=1e-12)
    # L1 distance of a histogram of N samples to the density is O(sqrt(cells / N))
    assert mu.grid.integrate(np.abs(back.density - mu.density)) < 0.05


def test_sampling_is_reproducible():
    _, mu = gaussian_measure(16)
    a = mu.sample(100, seed=np.random.default_rng(3)).positions
    b = mu.sample(100, seed=np.random.default_rng(3)).positions
    np.testing.assert_array_equal(a, b)


def test_particle_measure_weights_and_moments():
    x = np.array([[0.0], [1.0], [3.0]])
    m = wg.ParticleMeasure(x, weights=[0.5, 0.25, 0.25])
    assert m.mass == 1.0 and m.dim == 1
    assert m.mean == pytest.approx([1.0])
    assert m.covariance[0, 0] == pytest.approx(0.5 * 1 + 0.25 * 0 + 0.25 * 4)
    assert wg.ParticleMeasure(x).weights == pytest.approx([1 / 3] * 3)


@pytest.mark.parametrize(
    ("density", "match"),
    [
        (np.full((4, 3), 1.0), "shape"),
        (np.full((4, 4), np.nan), "non-finite"),
        (-np.ones((4, 4)), "non-negative"),
        (np.zeros((4, 4)), "mass"),
    ],
)
def test_bad_densities_are_refused(density, match):
    grid = wg.Grid.box([(0, 1), (0, 1)], shape=4)
    with pytest.raises(ValueError, match=match):
        wg.GridMeasure(grid, density)


def test_bad_particles_are_refused():
    with pytest.raises(ValueError, match="positions"):
        wg.ParticleMeasure(np.array([[np.inf, 0.0]]))
    with pytest.raises(ValueError, match="weights"):
        wg.ParticleMeasure(np.zeros((3, 1)), weights=[1, -1, 1])
    grid = wg.Grid.box([(0, 1)], 4)
    with pytest.raises(ValueError, match="outside"):
        wg.ParticleMeasure(np.array([[2.0]])).histogram(grid)
    with pytest.raises(ValueError, match="n"):
        wg.GridMeasure(grid, np.ones(4)).sample(0)
