"""RKL2 super time stepping of the explicit finite-volume scheme (solvers/fv_rkl.py)."""

import logging

import numpy as np
import pytest

import wgflow as wg
from wgflow.problems import OrnsteinUhlenbeck, PorousMedium
from wgflow.solvers import FiniteVolume
from wgflow.solvers import finite_volume as fv_module
from wgflow.solvers.fv_rkl import MAX_STAGES, rkl2_coefficients, rkl2_stages


def stability_polynomial(z, s):
    """``R_s(z)``: the RKL2 recursion applied to ``y′ = z y``, ``y(0) = 1``, ``τ = 1``."""
    mu, nu, mu_t, gamma_t = rkl2_coefficients(s)
    y0 = np.ones_like(z)
    prev2, prev = y0, y0 + mu_t[1] * z
    for j in range(2, s + 1):
        prev2, prev = prev, (
            mu[j] * prev + nu[j] * prev2 + (1 - mu[j] - nu[j]) * y0
            + mu_t[j] * z * prev + gamma_t[j] * z * y0
        )  # fmt: skip
    return prev


@pytest.mark.parametrize("s", [2, 3, 7, 20, MAX_STAGES])
def test_stability_polynomial_is_second_order_accurate(s):
    # local error C z³: halving z divides it by 8 (a first-order method: by 4)
    z = np.array([-0.02, -0.01])
    err = np.abs(stability_polynomial(z, s) - np.exp(z))
    assert 7.5 < err[0] / err[1] < 8.5


@pytest.mark.parametrize("s", [2, 3, 5, 10, 32, MAX_STAGES])
def test_stable_on_the_stated_interval_and_unstable_beyond(s):
    beta = (s * s + s - 2) / 2  # |R| ≤ 1 on [−β, 0] ⇔ τ ≤ Δt_FE (s² + s − 2)/4
    x = np.linspace(-beta, 0.0, 20001)
    assert np.abs(stability_polynomial(x, s)).max() <= 1 + 1e-12
    beyond = np.linspace(-1.2 * beta, -beta, 2001)  # the bound is sharp to 20 %
    assert np.abs(stability_polynomial(beyond, s)).max() > 1.3


@pytest.mark.parametrize("s", [2, 4, 16, MAX_STAGES])
def test_stable_for_upwind_advection_discs_within_the_cch_limit(s):
    # eigenvalues of upwind advection at τ Σ a/h = c ≤ ½ (the CCH limit) fill the disc of
    # radius c around −c; with diffusion they shift along [−(β − 2c), 0] (the step's bound)
    beta = (s * s + s - 2) / 2
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 181))
    for c in (0.05, 0.25, 0.5):
        x = np.linspace(-(beta - 2 * c), 0.0, 600)
        for r in (0.5, 1.0):
            z = x[:, None] + (-c + r * c * circle)[None, :]
            assert np.abs(stability_polynomial(z, s)).max() <= 1 + 1e-12


def test_stage_count_is_the_fewest_that_make_the_step_stable():
    for ratio in (0.3, 1.0, 1.01, 2.5, 2.6, 27.5, 100.0, 1000.0):
        s = rkl2_stages(ratio, 1.0)
        assert s >= 2 and (s * s + s - 2) / 4 >= ratio
        assert s == 2 or ((s - 1) ** 2 + (s - 1) - 2) / 4 < ratio


@pytest.mark.parametrize("s", [1, 0, MAX_STAGES + 1, 2.5])
def test_bad_stage_count_is_rejected(s):
    with pytest.raises(ValueError, match="s: need an integer"):
        rkl2_coefficients(s)


def ou(dim=1, n=200, box=5.0):
    prob = OrnsteinUhlenbeck(dim=dim, diffusion=0.5, mean0=(1.0, 0.5, 0.2)[:dim], var0=0.3)
    grid = wg.Grid.box([(-box, box)] * dim, n)
    return prob, grid


def final(solver, rho0, t):
    ds = solver.run(rho0, t, save_every=t, progress=False)
    return ds["density"][-1].values, ds


def test_second_order_in_time():
    """Time refinement on 1-D OU (200 cells: the parabolic limit binds): the step is
    ``cfl·Δt_adv`` with the same stage count at every ``cfl``, so halving ``cfl`` halves ``τ``;
    the error is measured against the time-converged solution of the same semi-discrete
    scheme (SSP-RK2 at cfl 0.02, whose own time error is ~1e-9), since against the exact
    Gaussian the spatial error (3.0e-4) hides it. Measured errors 6.2e-6, 1.6e-6, 3.9e-7."""
    prob, grid = ou()
    rho0, t = prob.initial_density(grid), 0.5
    ref, _ = final(FiniteVolume(prob.energy, grid, integrator="ssp", cfl=0.02), rho0, t)
    errors = []
    for cfl in (0.8, 0.4, 0.2):
        solver = FiniteVolume(prob.energy, grid, integrator="rkl2", cfl=cfl)
        rho, ds = final(solver, rho0, t)
        assert solver.rate_evaluations > 3 * int(ds["steps"][-1])  # super-steps were taken
        errors.append(grid.integrate(np.abs(rho - ref)))
    orders = np.log2(np.array(errors[:-1]) / errors[1:])
    assert np.all((orders > 1.8) & (orders < 2.2)), orders
    exact = prob.exact_density(grid, t)
    assert grid.integrate(np.abs(rho - exact)) < 1.02 * grid.integrate(np.abs(ref - exact))


@pytest.fixture(scope="module")
def ou_2d():
    """2-D OU on 128² to t = 1 (parabolic limit 1.4–10× below the advective one): the default
    integrator, SSP-RK2, and the exact Gaussian."""
    prob, grid = ou(dim=2, n=128)
    rho0 = prob.initial_density(grid)
    out = {}
    for integrator in ("auto", "ssp"):
        solver = FiniteVolume(prob.energy, grid, integrator=integrator)
        rho, ds = final(solver, rho0, 1.0)
        out[integrator] = (rho, ds, solver.rate_evaluations)
    return grid, out, prob.exact_density(grid, 1.0)


def test_default_picks_rkl2_when_diffusion_limited_and_matches_ssp(ou_2d):
    grid, out, exact = ou_2d
    (rho_auto, _, n_auto), (rho_ssp, _, n_ssp) = out["auto"], out["ssp"]
    assert n_auto < 0.7 * n_ssp  # measured 432 / 731 = 0.59
    err_ssp = grid.integrate(np.abs(rho_ssp - exact))
    # same solution to well within the discretization error (measured: 0.009 of it)
    assert grid.integrate(np.abs(rho_auto - rho_ssp)) < 0.2 * err_ssp
    assert grid.integrate(np.abs(rho_auto - exact)) < 1.05 * err_ssp


def test_default_takes_a_super_step_exactly_when_it_needs_fewer_evaluations():
    """128² OU. At t = 0, Δt_adv/Δt_par = 1.42: RKL2 would take 3 stages for a step of 1.42
    parabolic limits (2.1 evaluations per limit), SSPRK(4,2) takes 4 for 3 (1.33): an SSPRK(4,2)
    step of 3 cfl Δt_par. At t = 0.6 the ratio is 3.06: 4 stages for 3.06 limits (1.31), a
    super step of ``cfl·Δt_adv``."""
    prob, grid = ou(dim=2, n=128)
    solver = FiniteVolume(prob.energy, grid)
    solver._compiled_loop = False
    state = solver.initial_state(prob.initial_density(grid))
    for t, ratio, integrator, stages in ((0.0, 1.42, "ssp", 3), (0.6, 3.06, "rkl2", 4)):
        state = solver.advance(state, t)
        dt_adv, dt_par = solver._limits(state.rho, solver.rhs(state.rho)[1])
        assert dt_adv / dt_par == pytest.approx(ratio, abs=0.05)
        before = solver.rate_evaluations
        _, dt = solver._explicit_step(state.rho, t, np.inf)
        expected = solver.cfl * (3 * dt_par if integrator == "ssp" else dt_adv)
        assert dt == pytest.approx(expected, rel=1e-12)
        assert solver.rate_evaluations - before == 4
        dt_fe = solver.cfl / (1 / dt_par + 0.5 / dt_adv)
        assert rkl2_stages(solver.cfl * dt_adv, dt_fe) == stages


def test_mass_and_positivity_along_the_rkl2_path(ou_2d):
    grid, out, _ = ou_2d
    ds = out["auto"][1]
    np.testing.assert_allclose(ds["mass"].values, 1.0, rtol=0, atol=1e-13)
    assert float(ds["density"].min()) >= 0.0


def test_default_takes_ssprk42_steps_where_advection_limits_the_step():
    # 2-D OU on 32²: the advective limit is below the parabolic one, so the default takes
    # SSPRK(4,2) steps (4 evaluations for 3 Euler limits; no RKL2 step), which agree with
    # SSP-RK2 (Heun) to well within the discretization error (measured: 0.03 of it)
    prob, grid = ou(dim=2, n=32)
    rho0 = prob.initial_density(grid)
    solver = FiniteVolume(prob.energy, grid)
    solver._compiled_loop = False
    end = solver.advance(solver.initial_state(rho0), 0.2)
    auto = end.rho
    assert not solver._rkl_weights  # no RKL2 step was even tried
    assert solver.rate_evaluations == 4 * end.steps
    ssp, ds_ssp = final(FiniteVolume(prob.energy, grid, integrator="ssp"), rho0, 0.2)
    assert int(ds_ssp["steps"][-1]) > 2.5 * end.steps
    exact = prob.exact_density(grid, 0.2)
    err_ssp = grid.integrate(np.abs(ssp - exact))
    assert grid.integrate(np.abs(auto - ssp)) < 0.1 * err_ssp
    assert grid.integrate(np.abs(auto - exact)) < 1.05 * err_ssp


@pytest.mark.parametrize("integrator", ["auto", "ssp"])
def test_ssp_steps_are_second_order_in_time(integrator):
    """Transport only (``V = x²/2``, no diffusion: only SSP steps), 1-D, 50 cells, to t = 0.5:
    SSPRK(4,2) (default) and Heun (``"ssp"``) against the time-converged solution of the same
    semi-discrete scheme. Measured orders 2.00, 2.01 (SSPRK(4,2), 41/81/161 evaluations) and
    2.00, 2.00 (Heun, 61/121/241)."""
    energy = wg.FreeEnergy(potential=lambda x: 0.5 * x[..., 0] ** 2)
    prob, grid = ou(n=50)
    rho0, t = prob.initial_density(grid), 0.5
    ref, _ = final(FiniteVolume(energy, grid, integrator="ssp", cfl=0.01), rho0, t)
    errors = []
    for cfl in (0.8, 0.4, 0.2):
        rho, _ = final(FiniteVolume(energy, grid, integrator=integrator, cfl=cfl), rho0, t)
        assert rho.min() >= 0.0
        errors.append(grid.integrate(np.abs(rho - ref)))
    orders = np.log2(np.array(errors[:-1]) / errors[1:])
    assert np.all((orders > 1.8) & (orders < 2.2)), orders


def test_energy_decays_along_super_steps():
    prob, grid = ou(dim=1, n=200)
    solver = FiniteVolume(prob.energy, grid, integrator="rkl2")
    state = solver.initial_state(prob.initial_density(grid))
    energies = [solver.discrete.energy(state.rho)]
    for _ in range(30):
        state = solver.advance(state, state.t + 0.01)
        energies.append(solver.discrete.energy(state.rho))
    assert np.all(np.diff(energies) < 0)


def test_porous_medium_barenblatt():
    """Nonlinear (degenerate) diffusion: RKL2 applies (the parabolic limit uses
    ``max ρH″ = m ρ_max^{m−1}``); against the exact Barenblatt profile the error is that of
    SSP-RK2 to 25 % (measured 3.2e-5 vs 2.6e-5: the larger step's time error) at 1/5.8 of the
    flux evaluations; the compact support stays non-negative."""
    pm = PorousMedium(dim=1, m=2.0)
    grid = wg.Grid.box([(-2, 2)], 200)
    rho0, t = pm.initial_density(grid), 0.5
    exact = pm.exact_density(grid, t)
    results = {}
    for integrator in ("auto", "ssp"):
        solver = FiniteVolume(pm.energy, grid, integrator=integrator)
        rho, ds = final(solver, rho0, t)
        results[integrator] = (grid.integrate(np.abs(rho - exact)), solver.rate_evaluations)
        assert rho.min() >= 0.0
        np.testing.assert_allclose(ds["mass"].values, ds["mass"].values[0], rtol=1e-13)
    (err_auto, n_auto), (err_ssp, n_ssp) = results["auto"], results["ssp"]
    assert n_auto < n_ssp / 4
    assert err_auto < 1.3 * err_ssp


def test_negative_stage_falls_back_to_a_positive_ssp_step_and_warns(monkeypatch, caplog):
    prob, grid = ou(dim=1, n=200)
    rho0 = prob.initial_density(grid)
    reference = FiniteVolume(prob.energy, grid, integrator="ssp")
    reference._ssp_stages = 4  # SSPRK(4,2) steps only: the default's fallback
    reference._compiled_loop = False
    ssp, _ = final(reference, rho0, 0.05)

    def always_negative(*args):
        args[-1][:] = -1.0
        return False

    monkeypatch.setattr(fv_module, "rkl_stage_serial", always_negative)
    monkeypatch.setattr(fv_module, "rkl_stage", always_negative)
    solver = FiniteVolume(prob.energy, grid, integrator="rkl2")
    solver._compiled_loop = False  # the Python loop calls the patched stage
    with caplog.at_level(logging.WARNING, logger="wgflow.solvers.finite_volume"):
        rho, _ = final(solver, rho0, 0.05)
    np.testing.assert_array_equal(rho, ssp)  # every step ended as the SSPRK(4,2) step
    assert solver._rkl_retries > 0
    assert any("negative stage" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "dim, n, integrator, order",
    [(1, 200, "auto", 2), (1, 200, "ssp", 1), (2, 48, "auto", 2), (2, 64, "rkl2", 1),
     (3, 16, "rkl2", 1)],  # fmt: skip
)
def test_compiled_loop_takes_the_python_loops_steps_bit_for_bit(dim, n, integrator, order,
                                                                caplog):  # fmt: skip
    # 3-D 16³, order 1, forced RKL2: 11 super steps have a negative stage (retried): the
    # retries match too
    prob, grid = ou(dim=dim, n=n)
    rho0 = prob.initial_density(grid)
    out = []
    for compiled in (True, False):
        solver = FiniteVolume(prob.energy, grid, integrator=integrator, order=order)
        assert solver._compiled_loop
        solver._compiled_loop = compiled
        with caplog.at_level(logging.WARNING, logger="wgflow.solvers.finite_volume"):
            ds = solver.run(rho0, 0.3, save_every=0.1, progress=False)
        out.append((ds, solver.rate_evaluations, solver._rkl_retries))
    (ds_c, n_c, r_c), (ds_p, n_p, r_p) = out
    np.testing.assert_array_equal(ds_c["density"].values, ds_p["density"].values)
    np.testing.assert_array_equal(ds_c["steps"].values, ds_p["steps"].values)
    assert (n_c, r_c) == (n_p, r_p)
    if dim == 3:
        assert r_c > 0


def test_compiled_loop_is_used_only_where_it_applies():
    from wgflow.problems import Aggregation

    prob, grid = ou(n=20)
    assert FiniteVolume(prob.energy, grid)._compiled_loop
    assert not FiniteVolume(prob.energy, grid, scheme="semi-implicit")._compiled_loop
    assert not FiniteVolume(PorousMedium(dim=1).energy, grid)._compiled_loop
    agg = Aggregation(dim=1, diffusion=0.1)
    assert not FiniteVolume(agg.energy, wg.Grid.box([(-3, 3)], 40))._compiled_loop


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"integrator": "rk4"}, "integrator"),
        ({"integrator": "rkl2", "scheme": "semi-implicit"}, "integrator"),
    ],
)
def test_bad_integrator_names_the_parameter(kwargs, match):
    prob, grid = ou(n=20)
    with pytest.raises(ValueError, match=match):
        FiniteVolume(prob.energy, grid, **kwargs)
