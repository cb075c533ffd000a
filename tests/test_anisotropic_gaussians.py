"""Anisotropic Gaussians: exact finite-N risk, the reduced d → ∞ problem, SGD tracking it."""

import warnings

import numpy as np
import pytest

import wgflow as wg
from wgflow.problems import AnisotropicGaussians
from wgflow.solvers import SGD, FiniteVolume, Particles

DELTA = 0.5
# isotropic relu, d → ∞ (REFERENCES.md): every particle moves with
# dr/dt = Δ/√(2π) − (1 + Δ²) R1/(2π), R1 = ∫ r dρ̄, so R1 relaxes exponentially to R1*
R_STAR = DELTA * np.sqrt(2 * np.pi) / (1 + DELTA**2)
RATE = (1 + DELTA**2) / (2 * np.pi)


def exact_r1(r1_0, t):
    return R_STAR + (r1_0 - R_STAR) * np.exp(-RATE * np.asarray(t))


def exact_risk(r1):
    mp, mm = (1 + DELTA) * r1 / np.sqrt(2 * np.pi), (1 - DELTA) * r1 / np.sqrt(2 * np.pi)
    return 0.5 * ((1 - mp) ** 2 + (1 + mm) ** 2)


def test_exact_finite_network_risk_matches_monte_carlo():
    prob = AnisotropicGaussians(d=12, s0=5, delta=DELTA, rotation=3)
    theta = np.random.default_rng(0).normal(size=(15, 12)) / np.sqrt(12)
    x, y = prob.data.sample(1_000_000, np.random.default_rng(1))
    loss = (y - prob.model().predict(theta, x)) ** 2
    se = loss.std() / np.sqrt(loss.size)
    assert abs(loss.mean() - prob.population_risk(theta)) < 4 * se


def test_reduced_isotropic_relu_pde_follows_the_exact_mean_field_ode():
    red = AnisotropicGaussians(d=40, s0=40, delta=DELTA).reduced()
    grid = red.grid(300, 3.0)
    ds = FiniteVolume(red.energy, grid).run(
        red.initial_density(grid, [0.5], 0.05), 5.0, 1.0, progress=False
    )
    r = grid.coordinates[0]
    r1 = np.array([grid.integrate(r * rho) for rho in ds["density"].values])
    np.testing.assert_allclose(r1, exact_r1(r1[0], ds["time"]), atol=1e-3)
    risks = [red.risk(grid, rho) for rho in ds["density"].values]
    np.testing.assert_allclose(risks, exact_risk(r1), atol=1e-3)
    assert risks[-1] - 1 / (1 + DELTA**2) < 0.01  # approaching min R = 1/(1 + Δ²)


def test_reduced_particles_and_finite_volumes_agree_on_the_2d_risk_curve():
    red = AnisotropicGaussians(d=100, s0=20, delta=DELTA, activation="tanh").reduced()
    grid = red.grid(64, 2.0)
    rho0 = red.initial_density(grid, [0.4, 0.4], 0.08)
    fv = FiniteVolume(red.energy, grid).run(rho0, 2.0, 1.0, progress=False)
    x0 = wg.GridMeasure(grid, rho0).sample(2000, seed=0).positions
    pd = Particles(red.energy, dt=0.01).run(x0, 2.0, 1.0, progress=False)
    for k in range(3):
        pts = pd["positions"].isel(time=k).values
        features = red.features(pts).mean(axis=0)
        risk_particles = 0.5 * ((1 - features[0]) ** 2 + (1 + features[1]) ** 2)
        risk_fv = red.risk(grid, fv["density"].isel(time=k).values)
        assert abs(risk_particles - risk_fv) < 0.01, (k, risk_particles, risk_fv)


def test_sgd_in_dimension_d_tracks_the_reduced_dynamics_as_eps_d_shrinks():
    # the per-step sampling noise adds O(ε d) to ‖w‖² per unit time: the gap shrinks with ε d
    d = 100
    prob = AnisotropicGaussians(d=d, s0=d, delta=DELTA)
    gaps = []
    for c in (0.4, 0.1, 0.025):
        ds = SGD(prob.model(initial_scale=0.5), n_neurons=400, step_size=c / d, seed=0).run(
            None, 2.0, 1.0, progress=False
        )
        r1 = ds["r"].mean("particle").values
        gaps.append(float(np.abs(r1 - exact_r1(r1[0], ds["time"])).max()))
    print(f"\nsup_t |mean r_SGD − R1(t)| for ε d = 0.4, 0.1, 0.025: {np.round(gaps, 4)}")
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.01


def test_radial_drift_of_the_laplacian():
    # pure diffusion in R^d seen in r = |w|: E r² grows like 2 d t / β
    d, beta = 6, 4.0
    prob = AnisotropicGaussians(d=d, s0=d, delta=0.3)
    noisy, clean = prob.reduced(beta).energy, prob.reduced().energy
    r = np.linspace(0.2, 2.0, 7)[:, None]
    np.testing.assert_allclose(
        noisy.potential_term.value(r) - clean.potential_term.value(r),
        -(d - 1) / beta * np.log(r[:, 0]),
        rtol=1e-12,
    )
    drift_only = wg.FreeEnergy(
        potential=wg.Potential(
            lambda x: -(d - 1) / beta * np.log(x[..., 0]),
            gradient=lambda x: noisy.potential_term.gradient(x) - clean.potential_term.gradient(x),
        ),
        internal=wg.Entropy(beta),
    )
    x0 = np.full((20_000, 1), 1.0)
    ds = Particles(drift_only, dt=0.002, seed=1).run(x0, 0.5, 0.5, progress=False)
    r2 = float((ds["positions"].isel(time=-1) ** 2).mean())
    assert r2 == pytest.approx(1.0 + 2 * d * 0.5 / beta, rel=0.02)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"d": 10, "s0": 11, "delta": 0.5}, "s0"),
        ({"d": 10, "s0": 0, "delta": 0.5}, "s0"),
        ({"d": 10, "s0": 5, "delta": 1.0}, "delta"),
        ({"d": 10, "s0": 5, "delta": -0.1}, "delta"),
        ({"d": 10, "s0": 5, "delta": 0.5, "activation": "swish"}, "activation"),
    ],
)
def test_bad_problem_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AnisotropicGaussians(**kwargs)


def test_w2_between_sgd_reduced_coordinates_and_the_reduced_pde_is_small():
    from wgflow.metrics import wasserstein_over_time

    d = 100
    prob = AnisotropicGaussians(d=d, s0=d, delta=DELTA)
    sgd = SGD(prob.model(initial_scale=0.5), n_neurons=400, step_size=0.025 / d, seed=0).run(
        None, 2.0, 1.0, progress=False
    )
    red = prob.reduced()
    grid = red.grid(400, 2.0)
    r0 = sgd["r"].isel(time=0).values
    rho0 = wg.ParticleMeasure(r0[:, None]).histogram(grid).density
    pde = FiniteVolume(red.energy, grid).run(rho0, 2.0, 1.0, progress=False)
    w2 = wasserstein_over_time(sgd, pde)
    print(f"\nW2(SGD r, reduced PDE) at t = 0, 1, 2: {np.round(w2.values, 4)}")
    assert w2.attrs["method"] == "1d" and w2.attrs["max_time_mismatch"] < 1e-9
    assert float(w2.max()) < 0.02


# ---- finite d, parameter sets, exact PD ----------------------------------------------------------
@pytest.mark.parametrize("activation", ["relu", "ramp"])
def test_finite_d_kernel_matches_monte_carlo_over_directions(activation):
    d, s0 = 30, 6
    prob = AnisotropicGaussians(d=d, s0=s0, delta=DELTA, activation=activation)
    red = prob.reduced()
    p1, p2 = np.array([0.9, 0.5]), np.array([0.6, 0.8])
    rng = np.random.default_rng(0)
    theta = prob.full_weights(np.repeat([p1, p2], 40_000, axis=0), rng)
    pairs = prob.network.kernel(theta[:40_000], theta[40_000:])
    se = pairs.std() / np.sqrt(pairs.size)
    assert abs(pairs.mean() - float(red.finite_d_kernel(p1, p2))) < 4 * se


@pytest.mark.parametrize("activation", ["relu", "ramp"])
def test_mehler_expansion_error_falls_with_order_and_dimension(activation):
    errors = {}
    for d in (40, 160):
        prob = AnisotropicGaussians(d=d, s0=d // 5, delta=DELTA, activation=activation)
        pts = prob.initial_reduced(6, 1.0, np.random.default_rng(1))
        pts *= np.linspace(0.6, 1.4, 6)[:, None]
        exact = prob.reduced().finite_d_kernel(pts[:, None], pts[None, :])
        off = ~np.eye(6, dtype=bool)
        for order in (0, 2, 4):
            red = prob.reduced(mehler_order=order)
            f = red.features(pts)
            errors[d, order] = np.abs((f * red.coefficients) @ f.T - exact)[off].max()
    print(
        f"\n{activation} Mehler truncation error (d, order): "
        + ", ".join(f"{k}: {v:.1e}" for k, v in errors.items())
    )
    for d in (40, 160):
        assert errors[d, 0] > 10 * errors[d, 2] > 10 * errors[d, 4]
    for order, rate in ((0, 1.0), (2, 2.0)):  # the first omitted term is O(d^{-(order/2 + 1)})
        slope = np.log(errors[160, order] / errors[40, order]) / np.log(4)
        assert slope < -0.8 * rate, (order, slope)


def test_reduced_risk_approaches_the_finite_d_network_risk_as_d_grows():
    gaps, gaps2 = [], []
    for d in (40, 160, 640):
        prob = AnisotropicGaussians(d=d, s0=d // 4, delta=DELTA)
        rng = np.random.default_rng(d)
        n = 5 * d
        pts = np.column_stack([rng.uniform(0.4, 0.8, n), rng.uniform(0.3, 0.6, n)])
        exact = prob.population_risk(prob.full_weights(pts, rng))  # R_N of ρ̄ × Unif(spheres)
        gaps.append(abs(exact - prob.reduced().particle_risk(pts)))
        gaps2.append(abs(exact - prob.reduced(mehler_order=2).particle_risk(pts)))
    print(
        f"\n|R_N − R_reduced| for d = 40, 160, 640 (N = 5d): order 0 {np.round(gaps, 5)}, "
        f"order 2 {np.round(gaps2, 5)}"
    )
    assert gaps[0] > 3 * gaps[1] > 9 * gaps[2]  # O(1/d) finite-d + O(1/N) self-interaction
    assert all(g2 < g for g, g2 in zip(gaps, gaps2, strict=True))


def test_initial_reduced_law_is_the_law_of_gaussian_weights():
    prob = AnisotropicGaussians(d=50, s0=10, delta=DELTA)
    kappa = 0.4
    pts = prob.initial_reduced(20_000, kappa, np.random.default_rng(2))
    w = kappa * np.random.default_rng(3).standard_normal((20_000, 50)) / np.sqrt(50)
    red = prob.reduced_coordinates(w)
    for k, name in enumerate(("r1", "r2")):
        from scipy.stats import ks_2samp

        assert ks_2samp(pts[:, k], red[name]).pvalue > 1e-3


def test_exact_gradient_flow_and_reduced_finite_volumes_agree_on_the_risk_curve():
    d = 100
    prob = AnisotropicGaussians(d=d, s0=d, delta=DELTA)
    rng = np.random.default_rng(0)
    pts = rng.uniform(0.2, 0.6, (400, 1))
    pd = Particles(prob.network.energy, dt=0.05).run(
        prob.full_weights(pts, rng), 4.0, 1.0, progress=False
    )
    risk_pd = [prob.population_risk(x) for x in pd["positions"].values]
    red = prob.reduced()
    grid = red.grid(300, 2.0)
    fv = FiniteVolume(red.energy, grid).run(
        wg.ParticleMeasure(pts).histogram(grid).density, 4.0, 1.0, progress=False
    )
    risk_fv = [red.risk(grid, rho) for rho in fv["density"].values]
    print(f"\nPD (d = {d}, N = 400) {np.round(risk_pd, 4)}\nFV reduced     {np.round(risk_fv, 4)}")
    # O(1/d) finite-d + O(1/N) + FV O(h²) errors: 2e-3 observed
    np.testing.assert_allclose(risk_pd, risk_fv, atol=3e-3)
    assert risk_fv[-1] < risk_fv[0] - 0.05


def test_three_dimensional_reduced_state_with_trained_output_weights():
    # (a, r1, r2): reduced particles against the exact N-particle gradient flow in d = 200
    d = 200
    prob = AnisotropicGaussians(d=d, s0=40, delta=DELTA, trained="aw")
    red = prob.reduced()
    assert red.axes == ("a", "r1", "r2")
    rng = np.random.default_rng(4)
    pts = np.column_stack([rng.uniform(0.5, 1.5, 300), rng.uniform(0.2, 0.6, (300, 2))])
    full = Particles(prob.network.energy, dt=0.05).run(
        prob.full_weights(pts, rng), 3.0, 1.0, progress=False
    )
    reduced = Particles(red.energy, dt=0.05).run(pts, 3.0, 1.0, progress=False)
    for k in range(4):
        risk_full = prob.population_risk(full["positions"].isel(time=k).values)
        risk_red = red.particle_risk(reduced["positions"].isel(time=k).values)
        assert abs(risk_full - risk_red) < 0.01, (k, risk_full, risk_red)
    grid = red.grid((12, 16, 16), r_max=1.5, a_range=(0.0, 3.0))
    fv = FiniteVolume(red.energy, grid).run(
        wg.ParticleMeasure(pts).histogram(grid).density, 1.0, 1.0, progress=False
    )
    risk_fv = red.risk(grid, fv["density"].isel(time=-1).values)
    risk_particles = red.particle_risk(reduced["positions"].sel(time=1.0).values)
    assert abs(risk_fv - risk_particles) < 0.02


def test_nonmonotone_activation_outcome_depends_on_the_initial_scale():
    # wgflow's non-monotone stand-in: spurious minimum at r ≈ 0.18 (R ≈ 2.04), barrier at
    # r ≈ 0.31, global minimum at r ≈ 1.97 (R ≈ 0.48); κ = 0.1 starts below the barrier
    prob = AnisotropicGaussians(d=320, s0=320, delta=DELTA, activation="nonmonotone")
    red = prob.reduced()
    final = {}
    for kappa in (0.1, 0.4):
        x0 = prob.initial_reduced(2000, kappa, np.random.default_rng(0))
        ds = Particles(red.energy, dt=0.005).run(x0, 3.0, 3.0, progress=False)
        final[kappa] = red.particle_risk(ds["positions"].isel(time=-1).values)
    print(f"\nfinal reduced risk for κ = 0.1, 0.4: {final}")
    assert final[0.1] > 0.9 and final[0.4] < 0.6


@pytest.mark.parametrize("beta", [np.inf, 50.0])
def test_entropic_jko_solves_the_reduced_problem_unchanged(beta):
    from wgflow.solvers import JKO

    red = AnisotropicGaussians(d=40, s0=40, delta=DELTA).reduced(beta=beta)
    grid = red.grid(200, 3.0)
    rho0 = red.initial_density(grid, [0.5], 0.08)
    options = {} if np.isinf(beta) else {"scheme": "semi-implicit", "dt": 0.002}
    fv = FiniteVolume(red.energy, grid, **options).run(rho0, 2.0, 0.5, progress=False)
    # β = ∞: no entropy absorbs the blur ε/(4τ) = 0.0125; kept on purpose (debias=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wg.ApproximationWarning)
        solver = JKO(red.energy, grid, tau=0.01, epsilon=5e-4, debias=bool(np.isfinite(beta)))
    jko = solver.run(rho0, 2.0, 0.5, progress=False)
    risk_fv = [red.risk(grid, rho) for rho in fv["density"].values]
    risk_jko = [red.risk(grid, rho) for rho in jko["density"].values]
    # JKO's O(τ) error at τ = 0.01 (β = 50: the risk falls, then rises as entropy spreads r)
    np.testing.assert_allclose(risk_jko, risk_fv, atol=1e-3)
