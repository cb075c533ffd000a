import numpy as np
import pytest

import wgflow as wg


def quadratic_kernel(weights):
    weights = np.asarray(weights, float)
    return wg.PairwiseInteraction(lambda z: np.sum(weights * z * z, axis=-1))


def test_fft_convolution_matches_direct_sum_without_wrap_around():
    # anisotropic grid and kernel catch axis mix-ups; the density sits against one edge,
    # where a periodic (wrapped) convolution would differ by O(1)
    grid = wg.Grid.box([(-1, 3), (0, 1)], shape=(24, 10))
    weights = np.array([1.0, 3.0])
    x = grid.points()
    rho = np.exp(-((x[..., 0] - 2.6) ** 2) / 0.1) * (1 + x[..., 1])
    conv = quadratic_kernel(weights).on_grid(grid)(rho)
    # cell average of sum_k w_k z_k^2 over a cell is sum_k w_k (z_k^2 + h_k^2 / 12)
    shift = np.sum(weights * np.square(grid.spacing)) / 12
    pts = x.reshape(-1, 2)
    diff = pts[:, None, :] - pts[None, :, :]
    kernel = np.sum(weights * diff * diff, axis=-1) + shift
    direct = (kernel @ rho.ravel()) * grid.cell_volume
    np.testing.assert_allclose(conv.ravel(), direct, rtol=1e-11, atol=1e-11)


def test_singular_log_kernel_is_finite_and_symmetric():
    grid = wg.Grid.box([(-1, 1), (-1, 1)], shape=16)
    w = wg.PairwiseInteraction(lambda z: -0.5 * np.log(np.sum(z * z, axis=-1)))
    rho = np.ones(grid.shape)
    out = w.on_grid(grid)(rho)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, out[::-1, :], rtol=1e-12)
    np.testing.assert_allclose(out, out.T, rtol=1e-12)


def test_separable_interaction_matches_direct_formula():
    grid = wg.Grid.box([(-2, 2)], shape=40)
    x = grid.points()[..., 0]
    sep = wg.SeparableInteraction(lambda p: np.stack([p[..., 0], p[..., 0] ** 2], -1), [1.0, -0.5])
    rho = np.exp(-((x - 0.3) ** 2))
    m1, m2 = grid.integrate(x * rho), grid.integrate(x**2 * rho)
    np.testing.assert_allclose(sep.on_grid(grid)(rho), m1 * x - 0.5 * m2 * x**2, rtol=1e-12)


@pytest.mark.parametrize(
    "internal", [wg.Entropy(2.0), wg.PorousMediumEnergy(2.0), wg.PorousMediumEnergy(1.5), None]
)
def test_potential_is_the_first_variation_of_the_energy(internal):
    grid = wg.Grid.box([(-3, 3), (-2, 2)], shape=(20, 16))
    energy = wg.FreeEnergy(
        potential=lambda x: np.cos(x[..., 0]) + x[..., 1] ** 2,
        interaction=[
            quadratic_kernel([0.5, 1.0]),
            wg.SeparableInteraction(lambda p: np.sin(p[..., :1]), [0.7]),
        ],
        internal=internal,
    ).on_grid(grid)
    x = grid.points()
    rho = np.exp(-np.sum(x**2, -1)) + 0.1
    eta = np.cos(x[..., 0] * x[..., 1])
    eps = 1e-6
    derivative = (energy.energy(rho + eps * eta) - energy.energy(rho - eps * eta)) / (2 * eps)
    assert derivative == pytest.approx(grid.integrate(energy.first_variation(rho) * eta), rel=1e-7)


def test_energy_of_a_gaussian_matches_closed_forms():
    # V = |x|²/2 gives (|μ|² + tr Σ)/2; W = κ|z|²/2 gives κ tr Σ/2;
    # entropy gives −(1/β)(1 + log 2πσ²)/2
    from wgflow.problems import OrnsteinUhlenbeck

    prob = OrnsteinUhlenbeck(dim=1, diffusion=0.5, mean0=[0.4], var0=0.2, kappa=0.8)
    grid = wg.Grid.box([(-5, 5)], shape=2000)
    terms = prob.energy.on_grid(grid).terms(prob.initial_density(grid))
    # cell-centre quadrature of cell averages: O(h²) = O(2.5e-5) relative errors
    assert terms["potential"] == pytest.approx(0.5 * (0.16 + 0.2), rel=2e-5)
    assert terms["interaction"] == pytest.approx(0.5 * 0.8 * 0.2, rel=5e-5)
    assert terms["internal"] == pytest.approx(-0.5 * 0.5 * (1 + np.log(2 * np.pi * 0.2)), rel=1e-5)


def test_free_energy_measure_interface():
    grid = wg.Grid.box([(-4, 4)], shape=64)
    energy = wg.FreeEnergy(potential=lambda x: x[..., 0] ** 2, internal=wg.Entropy(1.0))
    rho = wg.GridMeasure(grid, np.exp(-(grid.points()[..., 0] ** 2)))
    assert energy.energy(rho) == energy.on_grid(grid).energy(rho.density)
    assert energy.first_variation(rho).shape == grid.shape
    assert energy.on_grid(grid) is energy.on_grid(grid)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: wg.Entropy(0.0), "beta"),
        (lambda: wg.Entropy(-1.0), "beta"),
        (lambda: wg.Entropy(float("nan")), "beta"),
        (lambda: wg.PorousMediumEnergy(1.0), "m"),
        (lambda: wg.PorousMediumEnergy(0.5), "m"),
        (lambda: wg.Potential(np.array([1.0, np.nan])), "^potential: .* 1 non-finite entry"),
        (lambda: wg.FreeEnergy(potential=np.array([np.inf, np.nan])), "^potential: .* 2 non-"),
        (lambda: wg.FreeEnergy(interaction=3), "interaction"),
        (lambda: wg.FreeEnergy(potentail=lambda x: x), "potentail"),
        (lambda: wg.PairwiseInteraction(lambda z: z, quadrature=3), "quadrature"),
        (lambda: wg.SeparableInteraction(lambda z: z, [np.nan]), "coefficients"),
    ],
)
def test_bad_energy_terms_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_a_potential_written_for_another_dimension_names_itself():
    """A 2-D formula on a 1-D grid raised IndexError from inside the user's lambda."""
    energy = wg.FreeEnergy(potential=lambda x: x[..., 0] ** 2 + x[..., 1] ** 2)
    with pytest.raises(ValueError, match=r"potential V: evaluating it on 1-D points .*IndexError"):
        energy.on_grid(wg.Grid.box([(-1, 1)], 8))
    with pytest.raises(ValueError, match="the energy is defined in 2 dimension"):
        wg.FreeEnergy(potential=energy.potential_term, dim=2).on_grid(wg.Grid.box([(-1, 1)], 8))


def test_potential_array_of_wrong_shape_is_refused():
    grid = wg.Grid.box([(0, 1)], shape=8)
    energy = wg.FreeEnergy(potential=np.zeros(5))
    with pytest.raises(ValueError, match="shape"):
        energy.on_grid(grid)
