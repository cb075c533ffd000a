import math

import numpy as np
import pytest

import wgflow as wg
from wgflow.problems import Aggregation, OrnsteinUhlenbeck, PorousMedium


def test_ou_exact_moments_solve_their_odes():
    a = np.array([[1.0, 0.3], [0.3, 0.6]])
    prob = OrnsteinUhlenbeck(
        dim=2, diffusion=0.4, mean0=(1, -1), var0=[[0.5, 0.1], [0.1, 0.2]], stiffness=a, kappa=0.7
    )
    t, h = 0.8, 1e-5
    dmean = (prob.mean(t + h) - prob.mean(t - h)) / (2 * h)
    np.testing.assert_allclose(dmean, -a @ prob.mean(t), rtol=1e-8)
    b = a + 0.7 * np.eye(2)
    dcov = (prob.covariance(t + h) - prob.covariance(t - h)) / (2 * h)
    cov = prob.covariance(t)
    np.testing.assert_allclose(dcov, -b @ cov - cov @ b + 2 * 0.4 * np.eye(2), rtol=1e-7)
    np.testing.assert_allclose(prob.covariance(0), prob.cov0)
    # stationary covariance D (A + κ)^{-1}
    np.testing.assert_allclose(prob.covariance(60.0), 0.4 * np.linalg.inv(b), rtol=1e-10)


def test_ou_exact_density_has_the_exact_moments():
    prob = OrnsteinUhlenbeck(dim=2, diffusion=0.5, mean0=(1.0, 0.5), var0=0.3)
    grid = wg.Grid.box([(-5, 5)] * 2, 200)
    mu = wg.GridMeasure(grid, prob.exact_density(grid, 0.7))
    assert mu.mass == pytest.approx(1.0, abs=1e-10)
    np.testing.assert_allclose(mu.mean, prob.mean(0.7), atol=1e-10)
    np.testing.assert_allclose(mu.covariance, prob.covariance(0.7), atol=2 * 0.05**2 / 12)


@pytest.mark.parametrize(
    ("m", "dim", "constant"),
    [(2, 1, 0.360562), (3, 1, 0.183776), (2, 2, 0.199471), (1.5, 2, 0.375751)],
)
def test_barenblatt_constants_and_mass(m, dim, constant):
    prob = PorousMedium(dim=dim, m=m)
    assert prob.C == pytest.approx(constant, abs=2e-6)  # table in REFERENCES.md
    grid = wg.Grid.box([(-3, 3)] * dim, 400 if dim == 1 else 160)
    assert grid.integrate(prob.exact_density(grid, 0.5)) == pytest.approx(1.0, abs=1e-4)


def test_barenblatt_solves_the_porous_medium_equation():
    # ∂t ρ = (ρ^m)'' at an interior point, by finite differences in t and x
    prob = PorousMedium(dim=1, m=2)
    x, t, h, k = 0.3, 1.0, 1e-3, 1e-5
    rho = lambda xx, tt: prob.barenblatt(np.array([[xx]]), tt)[0]  # noqa: E731
    dt = (rho(x, t + k) - rho(x, t - k)) / (2 * k)
    lap = (rho(x + h, t) ** 2 - 2 * rho(x, t) ** 2 + rho(x - h, t) ** 2) / h**2
    assert dt == pytest.approx(lap, rel=1e-5)


@pytest.mark.parametrize("dim", [1, 2])
def test_aggregation_patch_relaxes_to_the_steady_state(dim):
    prob = Aggregation(dim=dim, r0=0.5)
    assert prob.patch_radius(0.0) == pytest.approx(0.5)
    assert prob.patch_radius(40.0) == pytest.approx(1.0, rel=1e-12)
    grid = wg.Grid.box([(-1.5, 1.5)] * dim, 64)
    assert grid.integrate(prob.steady_state(grid)) == pytest.approx(1.0, abs=1e-4)
    assert grid.integrate(prob.exact_density(grid, 0.3)) == pytest.approx(1.0, abs=1e-4)
    peak = 0.5 if dim == 1 else 1 / math.pi
    assert prob.steady_state(grid).max() == pytest.approx(peak)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: OrnsteinUhlenbeck(dim=4), "dim"),
        (lambda: OrnsteinUhlenbeck(diffusion=0), "diffusion"),
        (lambda: OrnsteinUhlenbeck(dim=2, mean0=(1, 2, 3)), "mean0"),
        (lambda: OrnsteinUhlenbeck(var0=-1.0), "var0"),
        (lambda: OrnsteinUhlenbeck(dim=2, stiffness=[[1, 2], [0, 1]]), "stiffness"),
        (lambda: OrnsteinUhlenbeck(kappa=-2.0), "kappa"),
        (lambda: OrnsteinUhlenbeck(beta=2.0), "beta"),
        (lambda: PorousMedium(m=1.0), "m"),
        (lambda: PorousMedium(m=0.5), "m"),
        (lambda: PorousMedium(t0=0), "t0"),
        (lambda: Aggregation(dim=3), "dim"),
        (lambda: Aggregation(diffusion=-1), "diffusion"),
        (lambda: Aggregation(diffusion=0.1).steady_state(wg.Grid.box([(0, 1)], 4)), "diffusion"),
    ],
)
def test_bad_problem_parameters_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()
