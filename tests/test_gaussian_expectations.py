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


# --- smooth activations at every scale, against independent adaptive quadrature --------------
#
# The reference integrates in the pre-activation variable with scipy.integrate.quad (QUADPACK
# QAGS), with breakpoints at the activation's transition (t = 0, ±0.5, ±2, ±8, ±32) and at the
# Gaussian's mean and ±1, 2, 4, 8 standard deviations; tolerances 1e-15 absolute. The pair
# reference conditions on ``v`` (wgflow conditions on ``u``, with a graded tensor rule) and
# integrates over ``v`` adaptively; its inner expectation over ``u | v`` is the single
# expectation checked against QUADPACK first (nested QUADPACK takes minutes per pair at
# |w| ≥ 10). Derivative activations are passed as the inner function for ``∂_c F``.

SCALES = [1e-3, 1e-2, 0.1, 1.0, 3.0, 10.0, 30.0, 100.0, 1e3]
SMOOTH_TOL = 1e-10  # the target; measured ≤ 5e-14 (single) and ≤ 2e-14 (pairs)


def _quad_expectation(f, mu, s):
    """``E f(μ + sG)`` by adaptive quadrature in ``t = μ + sg`` (independent of wgflow)."""
    from scipy.integrate import quad

    if s == 0:
        return float(f(mu))
    lo, hi = mu - 11 * s, mu + 11 * s
    cand = [0.0, mu] + [sg * x for sg in (-1, 1) for x in (0.5, 2.0, 8.0, 32.0)]
    cand += [mu + sg * k * s for sg in (-1, 1) for k in (1, 2, 4, 8)]
    edges = [lo, *sorted({p for p in cand if lo < p < hi}), hi]

    def integrand(t):
        z = (t - mu) / s
        return f(t) * np.exp(-0.5 * z * z) / (s * np.sqrt(2 * np.pi))

    return sum(
        quad(integrand, a, b, epsabs=1e-15, epsrel=1e-13, limit=400)[0]
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    )


def _quad_pair(inner, f2, mu1, q1, mu2, q2, cov):
    """``E f1(μ1 + u) f2(μ2 + v)`` by adaptive quadrature over ``v``.

    ``inner(m, r) = E f1(m + rG)``.
    """
    from scipy.integrate import quad

    s2 = np.sqrt(q2)
    b = cov / s2
    r = np.sqrt(max(q1 - b * b, 0.0))

    def outer(t2):
        g = (t2 - mu2) / s2
        return f2(t2) * inner(mu1 + b * g, r) * np.exp(-0.5 * g * g) / (s2 * np.sqrt(2 * np.pi))

    lo, hi = mu2 - 10 * s2, mu2 + 10 * s2
    cand = [0.0, mu2] + [sg * x for sg in (-1, 1) for x in (0.5, 2.0, 8.0, 32.0)]
    cand += [mu2 + sg * k * s2 for sg in (-1, 1) for k in (1, 2, 4, 8)]
    if b != 0:  # where the conditional mean of u crosses the transition
        c = mu2 - s2 * mu1 / b
        cand += [c + sg * x * s2 / abs(b) for sg in (-1, 0, 1) for x in (0.5, 2.0, 8.0)]
    edges = [lo, *sorted({p for p in cand if lo < p < hi}), hi]
    return sum(
        quad(outer, a, c, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
        for a, c in zip(edges[:-1], edges[1:], strict=True)
    )


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
@pytest.mark.parametrize("s", SCALES)
def test_smooth_single_expectations_match_adaptive_quadrature_at_every_scale(name, s):
    import warnings

    from wgflow.problems.gaussian_expectations import (
        expectation_derivatives,
        hermite_moment,
        squared_derivative_expectation,
    )

    act = Activation.named(name)
    for mu in [0.0, 0.3, -2.0, 0.5 * s, -3.0 * s]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # QUADPACK roundoff notes at the 1e-15 tolerance
            ref = _quad_expectation(act, mu, s)
            ref_d1 = _quad_expectation(act.derivative, mu, s)
            ref_d2 = _quad_expectation(act.second_derivative, mu, s)
            ref_sq = _quad_expectation(lambda t: act.derivative(t) ** 2, mu, s)
        assert abs(float(activation_expectation(act, mu, s)) - ref) < SMOOTH_TOL, (mu, s)
        d1, d2 = expectation_derivatives(act, mu, s)
        assert abs(float(d1) - ref_d1) < SMOOTH_TOL, (mu, s)
        assert abs(float(d2) - 0.5 * ref_d2) < SMOOTH_TOL, (mu, s)
        assert abs(float(squared_derivative_expectation(act, mu, s)) - ref_sq) < SMOOTH_TOL
        assert abs(float(hermite_moment(act, s * s, 2, mu)) - ref_d2) < SMOOTH_TOL, (mu, s)


PAIR_RHOS = [-1.0, -0.9999, -0.5, 0.0, 0.7, 0.9999, 1.0]


def _check_pairs(name, s, rhos):
    import warnings

    from wgflow.problems.gaussian_expectations import expectation_derivatives, pair_moments

    act = Activation.named(name)
    q1, q2 = s * s, (0.7 * s) ** 2
    mu1, mu2 = 0.1, -0.2
    for rho in rhos:
        cov = rho * np.sqrt(q1 * q2)
        got = pair_moments(act, mu1, q1, mu2, q2, cov)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = _quad_pair(
                lambda m, r: float(activation_expectation(act, m, r)), act, mu1, q1, mu2, q2, cov
            )
            ref_cov = _quad_pair(
                lambda m, r: float(expectation_derivatives(act, m, r)[0]),
                act.derivative,
                *(mu1, q1, mu2, q2, cov),
            )
        assert abs(float(got["value"]) - ref) < SMOOTH_TOL, (s, rho, float(got["value"]) - ref)
        assert abs(float(got["d_cov"]) - ref_cov) < SMOOTH_TOL, (s, rho)


@pytest.mark.parametrize("s", [1e-3, 1.0, 17.0])
def test_smooth_pair_moments_match_adaptive_quadrature(s):
    _check_pairs("tanh", s, [-0.9999, 0.0, 1.0])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
@pytest.mark.parametrize("s", [1e-3, 0.1, 1.0, 3.0, 12.0, 100.0, 1e3])
def test_smooth_pair_moments_match_adaptive_quadrature_on_the_full_grid(name, s):
    _check_pairs(name, s, PAIR_RHOS)
