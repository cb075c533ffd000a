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


# ---- the fused explicit step (solvers/fv_fused.py) -------------------------------------------
from wgflow.simd import log_positive  # noqa: E402
from wgflow.solvers import fv_fused  # noqa: E402


def _reference_rate(rho, xi, spacing, second_order):
    """Sum over axes of the plain-numpy upwind divergence, and Σ max|u_k|/h_k."""
    rate = np.zeros_like(rho)
    speed = 0.0
    for axis, h in enumerate(spacing):
        view = axis_view(rho, axis), axis_view(np.ascontiguousarray(xi), axis)
        div, top = upwind_divergence_numpy(*view, h, second_order)
        rate += div.reshape(rho.shape)
        speed += top / h
    return rate, speed


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("second_order", [False, True])
@pytest.mark.parametrize("shape", [(3,), (50,), (2, 7), (17, 33), (5, 6, 7), (12, 3, 9)])
def test_fused_rate_matches_the_numpy_scheme(shape, second_order, parallel):
    rng = np.random.default_rng(sum(shape))
    rho = rng.random(shape) + 0.05 * (rng.random(shape) > 0.7)  # some steep, some flat cells
    V = rng.standard_normal(shape)
    spacing = [0.1 * (k + 1) for k in range(len(shape))]
    inv_h = np.array([1.0] * (3 - len(shape)) + [1 / h for h in spacing])
    xi = np.empty_like(rho)
    potential = (
        fv_fused.entropy_potential_parallel if parallel else fv_fused.entropy_potential_serial
    )
    potential(rho.ravel(), V.ravel(), 0.7, 1e-300, xi.ravel())
    np.testing.assert_allclose(xi, V + 0.7 * np.log(rho), rtol=1e-14, atol=1e-14)
    rate = np.full_like(rho, np.nan)
    speeds = np.zeros(3)
    kernel = fv_fused.flux_divergence_parallel if parallel else fv_fused.flux_divergence_serial
    kernel(fv_fused.grid_view(rho), fv_fused.grid_view(xi), inv_h, second_order,
           fv_fused.grid_view(rate), speeds, fv_fused.NO_DRIFT, False)
    ref, ref_speed = _reference_rate(rho, xi, spacing, second_order)
    np.testing.assert_allclose(rate, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    assert float(speeds @ inv_h) == pytest.approx(ref_speed, rel=1e-14)
    cell = np.prod(spacing)
    assert abs(rate.sum() * cell) < 1e-12 * np.abs(rate).sum() * cell  # no-flux walls


def test_polynomial_log_is_accurate_to_a_few_ulp():
    from numba import njit

    @njit
    def logs(x, out):
        for i in range(x.size):
            out[i] = log_positive(x[i])

    rng = np.random.default_rng(0)
    x = (0.5 + rng.random(200_000)) * 10.0 ** rng.uniform(-307, 307, 200_000)  # normal floats
    x[:6] = [1.0, 2.0, 0.5, np.sqrt(2.0), np.nextafter(np.sqrt(2.0), 2), 2.2250738585072014e-308]
    out = np.empty_like(x)
    logs(x, out)
    exact = np.log(x)
    err = np.abs(out - exact) / np.maximum(np.abs(exact), 1.0)
    assert err.max() < 5e-16
    assert out[0] == 0.0


@pytest.mark.parametrize("case", ["ou-1d", "ou-2d", "ou-3d", "porous-2d", "drift-2d"])
def test_compiled_semi_implicit_assembly_matches_numpy_triplets(case):
    """Same operator (and I − Δt A) as the COO assembly, on 1-, 2-, 3-D grids, with a
    degenerate diffusivity (porous medium: upwind faces) and with a non-gradient drift."""
    import wgflow as wg
    from wgflow.drift import MeanFieldDrift
    from wgflow.problems import OrnsteinUhlenbeck, PorousMedium
    from wgflow.solvers import FiniteVolume

    if case == "porous-2d":
        prob = PorousMedium(dim=2, m=2.0)
        grid = wg.Grid.box([(-2, 2)] * 2, 24)
        energy = prob.energy
        rho = prob.exact_density(grid, 0.05)
    else:
        dim = int(case[-2])
        prob = OrnsteinUhlenbeck(dim=dim)
        grid = wg.Grid.box([(-4, 4.5)] * dim, {1: 50, 2: 20, 3: 9}[dim])
        energy = prob.energy
        if case == "drift-2d":
            rotation = MeanFieldDrift(lambda x, m: x @ np.array([[0.0, 1.0], [-1.0, 0.0]]).T)
            energy = wg.FreeEnergy(
                potential=energy.potential_term, internal=energy.internal, drift=rotation, dim=2
            )
        rho = prob.initial_density(grid)
    fv = FiniteVolume(energy, grid, scheme="semi-implicit", dt=0.01)
    from wgflow.solvers.fv_implicit import operator_numpy

    a, ref = fv.generator(rho), operator_numpy(fv, rho)
    scale = abs(ref).max()
    assert abs(a - ref).max() < 1e-13 * scale
    assert np.allclose(np.asarray(a.sum(axis=0)).ravel(), 0.0, atol=1e-12 * scale)
    shifted = fv._pattern.shifted(a, 0.01)
    import scipy.sparse as sp

    assert abs(shifted - (sp.identity(grid.size) - 0.01 * ref)).max() < 1e-13 * (1 + scale)
