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
    exact = wasserstein(a, b, method="exact")
    assert exact.value == pytest.approx(d.value, rel=1e-6)


def test_sliced_is_a_lower_bound_and_sinkhorn_is_close():
    mu, nu = sample([0, 0, 0], np.eye(3), 500, 5), sample([1, 0, 0], 2 * np.eye(3), 500, 6)
    exact = wasserstein(mu, nu).value
    sliced = wasserstein(mu, nu, method="sliced").value
    assert sliced <= exact
    assert wasserstein(mu, nu, method="sliced", seed=3).value == pytest.approx(
        wasserstein(mu, nu, method="sliced", seed=3).value
    )  # fixed seed: reproducible
    # entropic OT_ε (POT, log domain) on 200 points: above W2, within 10 % at this reg
    mu, nu = sample([0, 0, 0], np.eye(3), 200, 5), sample([1, 0, 0], 2 * np.eye(3), 200, 6)
    exact = wasserstein(mu, nu).value
    sinkhorn = wasserstein(mu, nu, method="sinkhorn", reg=0.3).value
    assert exact < sinkhorn < 1.1 * exact


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
    for bad in (0.0, -1.0, np.nan, np.inf, "h"):
        with pytest.raises(ValueError, match="blur"):
            wasserstein(mu, mu, blur=bad)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="max_exact_entries"):
            wasserstein(mu, mu, max_exact_entries=bad)
    with pytest.raises(ValueError, match="n_projections"):
        wasserstein(mu, mu, method="sliced", n_projections=0)
    with pytest.raises(ValueError, match="method"):
        wasserstein(mu, mu, p=1, method="divergence")


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
    assert w2.attrs["max_error"] == 0.0 and "exact" in w2.attrs["quantity"]
    with pytest.raises(ValueError, match="particles"):
        wasserstein_over_time(good.rename(r="x"), density)


# ---- the accurate default: exact where affordable, else the debiased Sinkhorn divergence -------
def gaussian_density(grid, mean, cov):
    d = grid.points() - np.asarray(mean)
    return np.exp(-0.5 * np.einsum("...i,ij,...j->...", d, np.linalg.inv(cov), d))


def grid_pair(name, n):
    """Test pairs on [-1, 1]² (W2 from 0.29 to 0.70, i.e. ≥ 4.6 cells at 32²)."""
    grid = wg.Grid.box([(-1, 1)] * 2, n)
    x = grid.points()
    if name == "skewed gaussians":
        a = gaussian_density(grid, (-0.3, 0.1), [[0.1, 0.03], [0.03, 0.05]])
        b = gaussian_density(grid, (0.2, -0.1), [[0.05, -0.02], [-0.02, 0.12]])
    elif name == "bimodal vs unimodal":
        a = gaussian_density(grid, (-0.4, -0.3), 0.02 * np.eye(2))
        a += gaussian_density(grid, (0.4, 0.35), 0.03 * np.eye(2))
        b = gaussian_density(grid, (0.0, 0.1), [[0.08, 0.02], [0.02, 0.06]])
    elif name == "ring vs blob":
        a = np.exp(-((np.sqrt((x**2).sum(-1)) - 0.5) ** 2) / (2 * 0.05**2))
        b = gaussian_density(grid, (0.1, 0.0), 0.02 * np.eye(2))
    else:  # compact supports with empty tails: a paraboloid cap and a box
        a = np.maximum(0.25 - ((x - (-0.3, 0.0)) ** 2).sum(-1), 0)
        b = ((np.abs(x[..., 0] - 0.35) < 0.3) & (np.abs(x[..., 1] - 0.2) < 0.15)).astype(float)
    return wg.GridMeasure(grid, a), wg.GridMeasure(grid, b)


def assert_within_stated_error(d, exact, rel=0.02):
    assert d.method == "divergence" and exact.method == "exact" and exact.error is None
    assert abs(d.value / exact.value - 1) < rel, (d.value, exact.value)
    # the exact cell-centre value lies in [value, value + error] (the documented interval)
    assert d.value * (1 - 1e-3) <= exact.value <= d.value + d.error, (d, exact.value)


@pytest.mark.parametrize(
    ("name", "n"),
    [
        ("skewed gaussians", 32),
        ("bimodal vs unimodal", 32),
        ("ring vs blob", 32),
        ("bimodal vs unimodal", 48),
        ("compact support", 48),
        ("compact support", 64),
    ],
)
def test_divergence_is_within_2_percent_of_the_exact_w2(name, n):
    mu, nu = grid_pair(name, n)
    exact = wasserstein(mu, nu, method="exact")
    assert exact.method == "exact" and "exact" in exact.quantity
    default = wasserstein(mu, nu)  # grid against grid: the divergence, at any size
    assert default.method == "divergence"
    assert_within_stated_error(default, exact)


def test_divergence_between_grids_of_different_shapes_and_boxes():
    g1 = wg.Grid.box([(-1, 1), (-1, 1)], (48, 40))
    g2 = wg.Grid.box([(-0.8, 1.2), (-1.2, 0.9)], (56, 44))
    mu = wg.GridMeasure(g1, gaussian_density(g1, (0.1, 0), [[0.05, 0.01], [0.01, 0.03]]))
    nu = wg.GridMeasure(g2, gaussian_density(g2, (0.3, -0.2), [[0.03, 0], [0, 0.06]]))
    exact = wasserstein(mu, nu, method="exact")
    assert_within_stated_error(wasserstein(mu, nu, method="divergence"), exact)


@pytest.mark.parametrize("shift", [(0.8, -0.5), (0.05, 0.0), (0.02, 0.02)])
def test_divergence_matches_the_closed_form_for_gaussians_even_below_a_cell(shift):
    grid = wg.Grid.box([(-3, 3)] * 2, 80)  # h = 0.075: the two small shifts are 0.67 h, 0.38 h
    c1, c2 = np.array([[0.25, 0.05], [0.05, 0.2]]), np.array([[0.25, 0.05], [0.05, 0.2]])
    if shift[0] > 0.5:
        c2 = np.array([[0.3, -0.1], [-0.1, 0.4]])
    mu = wg.GridMeasure(grid, gaussian_density(grid, (0, 0), c1))
    nu = wg.GridMeasure(grid, gaussian_density(grid, shift, c2))
    d = wasserstein(mu, nu)  # 6400² entries: above the exact limit
    assert d.method == "divergence" and "Sinkhorn divergence" in d.quantity
    exact = gaussian_w2(mu.mean, mu.covariance, nu.mean, nu.covariance)
    assert d.value == pytest.approx(exact, rel=0.01)
    # the stated error: cell rounding √(value² + Σh²/4) − value (≤ 0.053 here) + 0.5 % + residual
    assert 0 < d.error < 0.02 * d.value + np.sqrt(d.value**2 + 2 * 0.075**2 / 4) - d.value


def test_below_a_cell_the_exact_cell_centre_w2_is_inflated_within_the_stated_error():
    # a shift δ = 0.27 h between cell-centre masses costs ≈ √(δ h), not δ: the divergence
    # gives δ (the W2 between the densities), and its error covers the exact cell-centre value
    grid = wg.Grid.box([(-3, 3)] * 2, 32)
    cov = [[0.25, 0.05], [0.05, 0.2]]
    mu = wg.GridMeasure(grid, gaussian_density(grid, (0, 0), cov))
    nu = wg.GridMeasure(grid, gaussian_density(grid, (0.05, 0), cov))
    d, exact = wasserstein(mu, nu), wasserstein(mu, nu, method="exact")
    assert d.method == "divergence"  # the default between grids
    assert d.value == pytest.approx(0.05, rel=0.01)
    assert exact.value > 1.5 * d.value
    assert d.value <= exact.value <= d.value + d.error


def test_auto_never_picks_sliced():
    mu, nu = grid_pair("bimodal vs unimodal", 32)
    assert wasserstein(mu, nu).method == "divergence"  # grid against grid, any size
    cloud = mu.sample(300, seed=0)
    assert wasserstein(cloud, mu).method == "exact"  # 300 × 1024 entries
    assert (
        wasserstein(cloud, mu, max_exact_entries=1000).method == "divergence"
    )  # W2(cloud, mu) is sampling noise: binning error > 5 %
    with pytest.warns(wg.errors.ApproximationWarning, match="method='exact'"):
        d = wasserstein(cloud, mu, max_exact_entries=1000)
    assert d.method == "divergence" and d.error > 0.05 * d.value
    assert abs(d.value - wasserstein(cloud, mu).value) <= d.error
    with pytest.warns(wg.errors.ApproximationWarning, match="300 × 1024 cost matrix"):
        assert wasserstein(cloud, mu, p=1, max_exact_entries=1000).method == "quantized"
    high = wg.ParticleMeasure(np.random.default_rng(0).normal(size=(300, 4)))
    with pytest.warns(wg.errors.ApproximationWarning):
        d = wasserstein(high, high, max_exact_entries=2000)
    assert d.method == "quantized" and d.value <= d.error  # exactly 0 within its bound


def test_particles_above_the_old_4000_point_limit_are_exact():
    c1, c2 = np.array([[1.0, 0.3], [0.3, 0.5]]), np.array([[0.4, 0.0], [0.0, 2.0]])
    mu, nu = sample([0, 0], c1, 4500, 3), sample([1.5, -0.5], c2, 2000, 4)
    d = wasserstein(mu, nu)  # the old default computed the sliced distance here: 0.61 of W2
    assert d.method == "exact" and d.error is None
    assert d.value == pytest.approx(gaussian_w2([0, 0], c1, [1.5, -0.5], c2), rel=0.05)


def test_binned_particles_and_quantized_supports_bound_their_error():
    rng = np.random.default_rng(1)
    mu = wg.ParticleMeasure(rng.multivariate_normal((0, 0), [[0.3, 0.1], [0.1, 0.2]], 3000))
    nu = wg.ParticleMeasure(rng.multivariate_normal((0.5, -0.2), [[0.2, 0], [0, 0.4]], 3000))
    exact = wasserstein(mu, nu).value
    binned = wasserstein(mu, nu, max_exact_entries=10**6)
    assert binned.method == "divergence" and "binned" in binned.quantity
    assert abs(binned.value - exact) <= binned.error < 0.05 * exact
    assert binned.value == pytest.approx(exact, rel=0.005)
    quantized = wasserstein(mu, nu, method="quantized", max_exact_entries=250_000)
    assert abs(quantized.value - exact) <= quantized.error  # a rigorous bound


def test_log_domain_separable_kernel_is_exact():
    from scipy.special import logsumexp

    from wgflow.grid_sinkhorn import log_gaussian_apply

    rng = np.random.default_rng(2)
    src = (np.sort(rng.uniform(-1, 1, 7)), np.linspace(-0.5, 0.7, 5))
    dst = (np.linspace(-1.2, 1.0, 6), np.sort(rng.uniform(-1, 1, 4)))
    values = rng.normal(scale=30, size=(7, 5))
    values[2, :] = -np.inf  # an empty row, and empty cells
    values[0, 3] = values[5, 1] = -np.inf
    for eps in (1e-4, 1e-2, 1.0):  # down to ε where e^{-|x-y|²/ε} underflows in float64
        ys = np.stack(np.meshgrid(*src, indexing="ij"), -1).reshape(-1, 2)
        xs = np.stack(np.meshgrid(*dst, indexing="ij"), -1).reshape(-1, 2)
        cost = ((xs[:, None, :] - ys[None, :, :]) ** 2).sum(-1)
        dense = logsumexp(values.ravel()[None, :] - cost / eps, axis=1).reshape(6, 4)
        np.testing.assert_allclose(log_gaussian_apply(values, src, dst, eps), dense, rtol=1e-12)


def test_distance_says_what_it_is():
    mu, nu = sample([0, 0], np.eye(2), 200, 1), sample([1, 0], np.eye(2), 200, 2)
    exact = wasserstein(mu, nu)
    assert exact.quantity.startswith("W2 (exact") and exact.error is None
    assert float(exact) == exact.value and wg.metrics.Distance(1.0, "exact", 2.0).error is None
    sliced = wasserstein(mu, nu, method="sliced")
    assert sliced.quantity.startswith("sliced W2 (500 projections") and 0 < sliced.error < 0.1
