"""The finite-step-size (εd) correction of the reduced PDE, checked at three levels:

1. ``E σ′(μ + sG)²`` (its closed forms and quadrature) against Monte Carlo;
2. the drift's velocity against a direct Monte Carlo of SGD's squared increment
   ``ε (y − M±)² σ′(z)² ‖P⊥x‖² / (2 r2)`` in ``d = 2000`` dimensions;
3. the flagship at quick size: SGD is closer to the corrected PDE than to the plain one.
"""

import numpy as np
import pytest

from wgflow.networks import Activation
from wgflow.problems import AnisotropicGaussians
from wgflow.problems.gaussian_expectations import squared_derivative_expectation
from wgflow.studies.sgd_vs_pde import compare


@pytest.mark.parametrize("name", ["relu", "truncated_relu", "tanh", "sigmoid", "nonmonotone"])
def test_squared_derivative_expectation_matches_monte_carlo(name):
    act = Activation.named(name)
    g = np.random.default_rng(0).standard_normal(400_000)
    for mean, std in ((0.0, 1.0), (0.3, 0.5), (-0.2, 2.0), (0.5, 0.0)):
        samples = act.derivative(mean + std * g) ** 2
        mc, se = samples.mean(), samples.std() / np.sqrt(g.size)
        assert abs(float(squared_derivative_expectation(act, mean, std)) - mc) <= 5 * se + 1e-12


def assert_push_matches_monte_carlo(velocity, activation, d, s0, delta, eps, a, b, r1, r2,
                                    moments, seed):  # fmt: skip
    """``velocity (r1, r2)`` against ``ε E[(y − M±)² a² σ′(z)² ‖P x‖²] / (2 r)`` sampled in
    ``d`` dimensions (``w = r1 e_1 + r2 e_{s0+1}``, ``f`` replaced by its class mean)."""
    rng = np.random.default_rng(seed)
    n = 20_000
    y = rng.choice([1.0, -1.0], size=n)
    scale = np.where(y > 0, 1 + delta, 1 - delta)
    x_inf = scale[:, None] * rng.standard_normal((n, s0))  # informative coordinates
    x_rest = rng.standard_normal((n, d - s0))
    z = b + r1 * x_inf[:, 0] + r2 * x_rest[:, 0]
    f = np.where(y > 0, moments[0], moments[1])
    weight = (y - f) ** 2 * a**2 * Activation.named(activation).derivative(z) ** 2
    terms = [(weight * (x_inf**2).sum(1), r1), (weight * (x_rest**2).sum(1), r2)]
    for k, (samples, r) in enumerate(terms):
        mc = eps * samples.mean() / (2 * r)
        se = eps * samples.std() / np.sqrt(n) / (2 * r)
        # Monte Carlo error plus the O(1/d) terms the d = ∞ formula drops
        assert abs(velocity[k] - mc) <= 5 * se + 0.01 * abs(mc), (k, velocity[k], mc, se)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_drift_velocity_is_the_mean_squared_sgd_increment(activation):
    d, s0, delta, eps = 2000, 400, 0.5, 1e-4
    prob = AnisotropicGaussians(d=d, s0=s0, delta=delta, activation=activation)
    drift = prob.reduced().step_size_drift(eps)
    r1, r2 = 0.7, 0.4
    moments = np.array([0.3, 0.2])  # M+, M−: the network's class means
    velocity = drift.velocity_at(np.array([[r1, r2]]), moments)[0]
    assert_push_matches_monte_carlo(velocity, activation, d, s0, delta, eps, 1.0, 0.0, r1, r2,
                                    moments, seed=1)  # fmt: skip


def test_flagship_quick_is_closer_to_the_corrected_pde():
    ds = compare(d=80, s0=15, n_neurons=200, step_size=5e-4, t_final=4.0, save_every=0.25,
                 cells=32, pde_samples=20_000, correction="step-size")  # fmt: skip
    assert ds.attrs["sup_risk_gap_corrected"] < 0.5 * ds.attrs["sup_risk_gap"]
    assert ds.attrs["sup_w2_corrected"] < 0.5 * ds.attrs["sup_w2"]
    r2_sgd = float(ds["mean_r2_sgd"][-1])
    off_corrected = abs(float(ds["mean_r2_pde_corrected"][-1]) - r2_sgd)
    off_plain = abs(float(ds["mean_r2_pde"][-1]) - r2_sgd)
    assert off_corrected < 0.2 * r2_sgd and off_corrected < 0.5 * off_plain
    assert ds.attrs["correction_c"] == pytest.approx(0.04)


def test_drift_with_trained_a_and_b_matches_monte_carlo():
    """(a, b, w): the push scales with a² and σ′ is evaluated at b + z; a and b get none."""
    d, s0, delta, eps = 2000, 400, 0.5, 1e-4
    prob = AnisotropicGaussians(d=d, s0=s0, delta=delta, activation="relu", trained="abw")
    drift = prob.reduced(beta=50.0).step_size_drift(eps)  # noisy: the same drift is added
    a, b, r1, r2 = 1.5, 0.2, 0.7, 0.4
    moments = np.array([0.3, 0.2])
    velocity = drift.velocity_at(np.array([[a, b, r1, r2]]), moments)[0]
    assert velocity[0] == 0.0 and velocity[1] == 0.0
    assert_push_matches_monte_carlo(velocity[2:], "relu", d, s0, delta, eps, a, b, r1, r2,
                                    moments, seed=2)  # fmt: skip
