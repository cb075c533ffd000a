"""TwoLayerNN: exact V, U, risk and gradients against Monte Carlo and finite differences."""

import numpy as np
import pytest
from scipy.stats import ortho_group

from wgflow.networks import Activation, GaussianMixture
from wgflow.problems import TwoLayerNN
from wgflow.problems.two_layer_nn import nonmonotone, ramp
from wgflow.solvers import Particles

ACTIVATIONS = ["relu", "truncated_relu", "sigmoid", "tanh", "ramp", "nonmonotone"]
D_DATA = 5
SAMPLES = 1_000_000


def mixture(rotated=True):
    scales = np.ones((2, D_DATA))
    scales[0, :2], scales[1, :2] = 1.5, 0.5
    rotation = ortho_group.rvs(D_DATA, random_state=1) if rotated else None
    return GaussianMixture([1.0, -1.0], [0.5, 0.5], scales, rotation)


@pytest.fixture(scope="module")
def samples():
    return mixture().sample(SAMPLES, np.random.default_rng(11))


def within_4_se(values, exact):
    se = values.std() / np.sqrt(values.size)
    assert abs(values.mean() - exact) < 4 * se + 1e-12, (values.mean(), exact, se)


def unit_output(prob, theta, x):
    """``σ*(x; θ)`` of one neuron, numpy reference."""
    off = prob.has_a + prob.has_b
    pre = x @ theta[off:] + (theta[1] if prob.has_b else 0.0)
    return (theta[0] if prob.has_a else 1.0) * prob.activation(pre)


@pytest.mark.parametrize("parameters", ["w", "aw", "abw"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_potential_interaction_and_risk_match_monte_carlo(samples, activation, parameters):
    x, y = samples
    prob = TwoLayerNN(activation, mixture(), parameters)
    theta = 0.7 * np.random.default_rng(3).normal(size=(3, prob.dim))
    s0, s1 = unit_output(prob, theta[0], x), unit_output(prob, theta[1], x)
    within_4_se(-y * s0, float(prob.potential(theta[0])))
    within_4_se(s0 * s1, float(prob.kernel(theta[0], theta[1])))
    within_4_se(s0 * s0, float(prob.kernel(theta[0], theta[0])))  # the diagonal, |ρ| = 1
    loss = (y - prob.model().predict(theta, x)) ** 2
    within_4_se(loss, prob.population_risk(theta))


def finite_difference(f, theta, h=1e-6):
    out = np.zeros(theta.shape)
    for idx in np.ndindex(theta.shape):
        e = np.zeros(theta.shape)
        e[idx] = h
        out[idx] = (f(theta + e) - f(theta - e)) / (2 * h)
    return out


@pytest.mark.parametrize("parameters", ["w", "aw", "abw"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_finite_differences(activation, parameters):
    prob = TwoLayerNN(activation, mixture(), parameters)
    theta = 0.7 * np.random.default_rng(4).normal(size=(3, prob.dim))
    # values are accurate to ~1e-12, so central differences with h = 1e-6 are good to ~1e-6
    tol = 1e-6
    np.testing.assert_allclose(
        prob.potential_gradient(theta[0]),
        finite_difference(prob.potential, theta[0]),
        atol=tol,
    )
    np.testing.assert_allclose(
        prob.kernel_gradient(theta[0], theta[1]),
        finite_difference(lambda t: prob.kernel(t, theta[1]), theta[0]),
        atol=tol,
    )
    np.testing.assert_allclose(
        prob.risk_gradient(theta), finite_difference(prob.population_risk, theta), atol=tol
    )


def test_particles_on_the_exact_energy_are_gradient_descent_on_the_population_risk():
    prob = TwoLayerNN("ramp", mixture(rotated=False), "aw")
    theta0 = 0.5 * np.random.default_rng(5).normal(size=(6, prob.dim))
    dt, steps = 0.01, 20
    ds = Particles(prob.energy, dt=dt).run(theta0, steps * dt, steps * dt, progress=False)
    theta = theta0.copy()
    for _ in range(steps):  # dθ_i/dt = −(N/2) ∇_{θ_i} R_N
        theta -= dt * 0.5 * theta.shape[0] * prob.risk_gradient(theta)
    np.testing.assert_allclose(ds["positions"].isel(time=-1).values, theta, atol=1e-12)
    # the archived energy is ½(R − E y²) (positions agree to 1e-12, so energies to ~1e-11)
    energy = float(ds["energy"].isel(time=-1))
    assert energy == pytest.approx(0.5 * (prob.population_risk(theta) - 1.0), abs=1e-10)


def test_relu_closed_form_equals_the_quadrature():
    prob = TwoLayerNN("relu", mixture(), "aw")
    quad = TwoLayerNN(Activation.piecewise_linear([0, 100], [0, 100]), mixture(), "aw")
    theta = np.random.default_rng(6).normal(size=(4, prob.dim)) / 3
    np.testing.assert_allclose(prob.interaction_matrix(theta), quad.interaction_matrix(theta))
    np.testing.assert_allclose(prob.risk_gradient(theta), quad.risk_gradient(theta), atol=1e-10)


def test_mmn_activations():
    act = ramp()
    assert act(np.array([0.0, 0.5, 1.0, 1.5, 3.0])).tolist() == [-2.5, -2.5, 2.5, 7.5, 7.5]
    assert Activation.named("ramp") == act
    bump = nonmonotone()
    assert np.any(np.diff(bump.values) < 0) and np.any(np.diff(bump.values) > 0)
    with pytest.raises(ValueError, match="non-monotone"):
        nonmonotone([0, 1], [0, 1])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"activation": "softplus"}, "activation"),
        ({"parameters": "wb"}, "parameters"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"data": "gaussian"}, "data"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"activation": "relu", "data": mixture(), "trained": "w", **kwargs}
    with pytest.raises(ValueError, match=match):
        TwoLayerNN(**args)
