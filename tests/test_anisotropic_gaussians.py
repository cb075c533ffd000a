"""Anisotropic Gaussians: exact finite-N risk, the reduced d → ∞ problem, SGD tracking it."""

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
            2.0, 1.0, progress=False
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
        2.0, 1.0, progress=False
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
