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
