"""Gaussian expectations of activations against Monte Carlo (10⁶ samples, 4 standard errors)."""

import numpy as np
import pytest

from wgflow.networks import Activation
from wgflow.problems.gaussian_expectations import (
    activation_expectation,
    arccos_kernel,
    m,
    pair_expectation,
    relu_expectation,
)

RAMP = Activation.piecewise_linear([0.5, 1.5], [-2.5, 7.5])
NONMONOTONE = Activation.piecewise_linear([-1.0, 0.0, 0.5, 1.5], [0.0, 1.0, -0.5, 0.3])
ACTIVATIONS = ["relu", "truncated_relu", "sigmoid", "tanh", RAMP, NONMONOTONE]
IDS = ["relu", "truncated_relu", "sigmoid", "tanh", "ramp", "nonmonotone"]
N = 1_000_000


def within_4_se(samples, value):
    se = samples.std() / np.sqrt(samples.size)
    assert abs(samples.mean() - value) <= 4 * se + 1e-12, (samples.mean(), value, se)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=IDS)
@pytest.mark.parametrize(("mean", "std"), [(0.0, 1.0), (0.7, 0.3), (-1.2, 2.5)])
def test_activation_expectation_matches_monte_carlo(activation, mean, std):
    act = Activation.named(activation)
    g = np.random.default_rng(0).standard_normal(N)
    within_4_se(act(mean + std * g), float(activation_expectation(act, mean, std)))


def test_relu_expectation_limits():
    assert relu_expectation(0.0, 1.0) == pytest.approx(1 / np.sqrt(2 * np.pi))
    np.testing.assert_allclose(relu_expectation([-1.0, 2.0], 0.0), [0.0, 2.0])
    # m(q) = sqrt(q / 2π) for relu
    np.testing.assert_allclose(m("relu", [0.5, 2.0]), np.sqrt(np.array([0.5, 2.0]) / (2 * np.pi)))
    with pytest.raises(ValueError, match="q"):
        m("relu", -1.0)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=IDS)
@pytest.mark.parametrize("rho", [-0.6, 0.3, 0.95, 0.999])
def test_pair_expectation_matches_monte_carlo(activation, rho):
    act = Activation.named(activation)
    q1, q2 = 1.3, 0.6
    cov = rho * np.sqrt(q1 * q2)
    rng = np.random.default_rng(1)
    g1, g2 = rng.standard_normal(N), rng.standard_normal(N)
    u = np.sqrt(q1) * g1
    v = cov / np.sqrt(q1) * g1 + np.sqrt(q2 - cov**2 / q1) * g2
    within_4_se(act(u) * act(v), pair_expectation(act, q1, q2, cov))


def test_arccos_kernel_special_cases():
    # ρ = 1: E relu(u)² = q/2; ρ = 0: (E relu)² = q/(2π)
    assert arccos_kernel(2.0, 2.0, 2.0) == pytest.approx(1.0)
    assert arccos_kernel(2.0, 2.0, 0.0) == pytest.approx(2.0 / (2 * np.pi))
    relu_quadrature = pair_expectation(Activation.piecewise_linear([0, 100], [0, 100]), 2, 2, 1.5)
    assert relu_quadrature == pytest.approx(float(arccos_kernel(2.0, 2.0, 1.5)), rel=1e-10)
    with pytest.raises(ValueError, match="cov"):
        pair_expectation("tanh", 1.0, 1.0, 2.0)


def test_bivariate_upper_probability_matches_scipy_including_zero_thresholds():
    from scipy.stats import multivariate_normal

    from wgflow.problems.gaussian_expectations import bivariate_upper

    for h, k, rho in [
        (0.3, -0.7, 0.4),
        (0.0, 0.9, -0.6),
        (-1.1, 0.0, 0.8),
        (0.0, 0.0, 0.3),
        (2.0, 1.5, -0.95),
    ]:
        ref = multivariate_normal(cov=[[1, rho], [rho, 1]]).cdf([-h, -k])
        assert float(bivariate_upper(h, k, rho)) == pytest.approx(ref, abs=1e-9)


@pytest.mark.parametrize("activation", ["relu", "truncated_relu", "ramp", "nonmonotone"])
def test_closed_form_pair_moments_equal_the_split_quadrature(activation):
    # two independent computations: truncated bivariate-normal moments vs kink-split quadrature
    from wgflow.problems.gaussian_expectations import _pair_moments_flat, pair_moments

    rng = np.random.default_rng(3)
    n = 500
    mu1, mu2 = 0.7 * rng.normal(size=(2, n))
    q1, q2 = rng.uniform(0.001, 4, (2, n))
    rho = rng.uniform(-0.99, 0.99, n)
    mu1[:50] = 0.0
    cov = rho * np.sqrt(q1 * q2)
    act = Activation.named(activation)
    fast = pair_moments(act, mu1, q1, mu2, q2, cov)
    slow = _pair_moments_flat(act, mu1, q1, mu2, q2, cov)
    for key in slow:
        np.testing.assert_allclose(fast[key], slow[key], atol=1e-9, err_msg=key)
