"""Each compiled kernel against its plain-numpy reference (py-pde's check_rhs_consistency)."""

import numpy as np
import pytest

from wgflow.solvers.fv_kernels import (
    axis_view,
    bernoulli,
    upwind_divergence,
    upwind_divergence_numpy,
)


@pytest.mark.parametrize("second_order", [False, True])
@pytest.mark.parametrize("shape", [(2, 17, 3), (1, 40, 1), (5, 2, 4)])
def test_upwind_divergence_matches_numpy_reference(shape, second_order):
    rng = np.random.default_rng(0)
    rho = rng.random(shape)
    rho[rho < 0.2] = 0.0  # vacuum cells and kinks exercise the limiter
    xi = rng.normal(size=shape)
    out = np.zeros(shape)
    speed = upwind_divergence(rho, xi, 0.1, second_order, out)
    ref, ref_speed = upwind_divergence_numpy(rho, xi, 0.1, second_order)
    np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-13)
    assert speed == pytest.approx(ref_speed)


def test_upwind_divergence_conserves_mass_exactly_per_line():
    rng = np.random.default_rng(1)
    rho, xi = rng.random((3, 50, 2)), rng.normal(size=(3, 50, 2))
    out = np.zeros_like(rho)
    upwind_divergence(rho, xi, 0.05, True, out)
    np.testing.assert_allclose(out.sum(axis=1), 0.0, atol=1e-12)


def test_axis_view_is_a_view_along_each_axis():
    a = np.arange(24.0).reshape(2, 3, 4)
    for axis in range(3):
        v = axis_view(a, axis)
        assert v.shape[1] == a.shape[axis] and np.shares_memory(v, a)
    np.testing.assert_array_equal(axis_view(a, 1)[1, :, 2], a[1, :, 2])


def test_bernoulli_function_limits_and_identity():
    z = np.array([-800.0, -5.0, -1e-10, 0.0, 1e-10, 3.0, 800.0])
    b = bernoulli(z)
    assert np.all(np.isfinite(b)) and np.all(b >= 0)
    np.testing.assert_allclose(b[[1, 5]], z[[1, 5]] / np.expm1(z[[1, 5]]))
    np.testing.assert_allclose(b[2:5], 1.0, atol=1e-9)
    np.testing.assert_allclose(bernoulli(-z) - b, z, rtol=1e-12, atol=1e-12)  # B(−z) = B(z) + z
