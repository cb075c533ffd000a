import numpy as np
import pytest
import xarray as xr

import wgflow as wg
from wgflow.metrics import fit_rate, gaussian_w2, risk_gap, wasserstein


def sample(mean, cov, n, seed):
    return wg.ParticleMeasure(np.random.default_rng(seed).multivariate_normal(mean, cov, n))


def test_w2_between_samples_of_one_gaussian_goes_to_zero():
    values = [
        float(wasserstein(sample([0, 0], np.eye(2), n, 1), sample([0, 0], np.eye(2), n, 2)))
        for n in (200, 800, 3200)
    ]
    assert values[0] > values[1] > values[2] and values[2] < 0.15


def test_w2_between_two_gaussians_matches_the_closed_form():
    c1, c2 = np.array([[1.0, 0.3], [0.3, 0.5]]), np.array([[0.4, 0.0], [0.0, 2.0]])
    exact = gaussian_w2([0, 0], c1, [1.5, -0.5], c2)
    d = wasserstein(sample([0, 0], c1, 3000, 3), sample([1.5, -0.5], c2, 3000, 4))
    assert d.method == "exact" and d.value == pytest.approx(exact, rel=0.05)
    # the closed form against itself: translation only
    assert gaussian_w2([0], [[1.0]], [2.0], [[1.0]]) == pytest.approx(2.0)


def test_one_dimensional_and_grid_measures():
    grid = wg.Grid.box([(-15, 15)], 1500)
    x = grid.coordinates[0]
    a = wg.GridMeasure(grid, np.exp(-0.5 * x**2))
    b = wg.GridMeasure(grid, np.exp(-0.5 * (x - 1.0) ** 2 / 4))
    d = wasserstein(a, b)
    assert d.method == "1d" and d.value == pytest.approx(
        gaussian_w2([0], [[1]], [1], [[4]]), rel=1e-3
    )
    exact = wasserstein(a, b, method="exact", max_exact=2000)
    assert exact.value == pytest.approx(d.value, rel=1e-6)


def test_sliced_is_a_lower_bound_and_sinkhorn_is_close():
    mu, nu = sample([0, 0, 0], np.eye(3), 500, 5), sample([1, 0, 0], 2 * np.eye(3), 500, 6)
    exact = wasserstein(mu, nu).value
    sliced = wasserstein(mu, nu, method="sliced").value
    assert sliced <= exact
    assert wasserstein(mu, nu, method="sliced", seed=3).value == pytest.approx(
        wasserstein(mu, nu, method="sliced", seed=3).value
    )  # fixed seed: reproducible
    sinkhorn = wasserstein(mu, nu, method="sinkhorn", reg=0.05).value
    assert abs(sinkhorn - exact) < 0.1 * exact


def test_fit_rate_recovers_a_power_law_with_a_covering_interval():
    n = np.array([100, 200, 400, 800, 1600, 3200])
    noise = np.exp(np.random.default_rng(0).normal(0, 0.05, n.size))
    fit = fit_rate(n, 3 * n**-0.5 * noise)
    assert fit.low < -0.5 < fit.high and abs(fit.slope + 0.5) < 0.1
    with pytest.raises(ValueError, match="x, y"):
        fit_rate([1, 2], [1, 2])


def test_risk_gap_interpolates_in_time():
    a = xr.Dataset({"risk": ("time", [1.0, 0.5, 0.25])}, coords={"time": [0.0, 1.0, 2.0]})
    b = xr.Dataset({"risk": ("time", [1.0, 0.0])}, coords={"time": [0.0, 2.0]})
    np.testing.assert_allclose(risk_gap(a, b), [0.0, 0.0, 0.25])
    with pytest.raises(ValueError, match="cover"):
        risk_gap(b.assign_coords(time=[0.0, 3.0]), a)


def test_bad_metric_input():
    mu = sample([0, 0], np.eye(2), 10, 0)
    with pytest.raises(ValueError, match="p"):
        wasserstein(mu, mu, p=0.5)
    with pytest.raises(ValueError, match="method"):
        wasserstein(mu, mu, method="emd")
    with pytest.raises(ValueError, match="nu"):
        wasserstein(mu, wg.ParticleMeasure(np.zeros((3, 1))))
    with pytest.raises(TypeError, match="measure"):
        wasserstein(mu, np.zeros((3, 2)))


def test_wasserstein_over_time_needs_the_density_axes():
    from wgflow.metrics import wasserstein_over_time

    density = xr.Dataset(
        {"density": (("time", "r"), np.ones((2, 4)))},
        coords={"time": [0.0, 1.0], "r": [0.125, 0.375, 0.625, 0.875]},
    )
    good = xr.Dataset(
        {"r": (("time", "particle"), np.full((2, 3), 0.5))}, coords={"time": [0.0, 1.0]}
    )
    # three particles at 0.5 against four equal cell masses at 0.125 … 0.875:
    # W2² = ¼ Σ (c − 0.5)² = 5/64
    w2 = wasserstein_over_time(good, density)
    np.testing.assert_allclose(w2, np.sqrt(5 / 64), rtol=1e-12)
    with pytest.raises(ValueError, match="particles"):
        wasserstein_over_time(good.rename(r="x"), density)
