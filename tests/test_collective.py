"""The collective-mode model of finite-step SGD (anisotropic Gaussians), checked against
independent computations:

1. its risk ``R(ρ̃, v2, u2)`` against the exact finite-network risk of a network built with a
   shared mean weight (d large, so the Mehler terms it keeps are the ones that matter);
2. its restoring rate ``∂R/∂v2`` against Stein's lemma with the plain PDE's own radial drift;
3. its sources against a Monte Carlo of SGD's common squared increment;
4. the coupled scheme: second order in the coupling interval, and the plain PDE when ``ε → 0``;
5. the archive: measured and predicted scalars, and the refusals.
"""

import numpy as np
import pytest

from wgflow.networks import Activation
from wgflow.problems import AnisotropicGaussians
from wgflow.studies import collective
from wgflow.studies.comparison import Comparison, initial_law
from wgflow.studies.sgd_vs_pde import compare


def _network(prob, n, rng, r1, r2, mean_v, mean_u=0.0):
    """``N`` neurons with ``u_j = ū + δu_j``, ``v_j = v̄ + δ_j``: δ's of norms ``r1``, ``r2`` in
    random directions, orthogonal to the shared means (so the model's incoherent radii are
    exact), ``‖v̄‖² = mean_v``, ``‖ū‖² = mean_u``."""
    d, s0 = prob.d, prob.s0

    def cloud(k, radius, shared):
        g = rng.standard_normal((n, k))
        g -= g.mean(axis=0)  # incoherent parts average to zero exactly
        g[:, 0] = 0.0  # and are orthogonal to the shared direction e_0
        g *= (radius / np.linalg.norm(g, axis=1))[:, None]
        g[:, 0] = np.sqrt(shared)
        return g

    return np.concatenate([cloud(s0, r1, mean_u), cloud(d - s0, r2, mean_v)], axis=1)


def test_collective_risk_is_the_risk_of_a_network_with_a_shared_mean():
    # relu: the exact finite-network risk is cheap (arc-cosine kernel) at N = 1500
    prob = AnisotropicGaussians(d=2400, s0=600, delta=0.5)
    red = prob.reduced(mehler_order=2)
    rng = np.random.default_rng(3)
    n = 1500
    r1 = rng.uniform(0.4, 0.9, n)
    r2 = rng.uniform(0.1, 0.4, n)
    modes = {"v2": 0.06, "u2": 0.01}
    theta = _network(prob, n, rng, r1, r2, modes["v2"], modes["u2"])
    exact = prob.population_risk(theta)
    points = np.column_stack([r1, r2])
    weights = np.full(n, 1.0 / n)
    model = red.collective_risk(modes, points, weights)
    plain = red.particle_risk(red.collective_full(modes, points))
    # the collective terms move the risk by ≈ P²(S+ + S−)/2 ≈ 0.02 (relu): the model must be
    # an order of magnitude closer than the plain reduction; what is left is O(1/N) (the
    # self term, ≈ E σ²/N ≈ 3e-4) and O(S/d)
    assert abs(exact - plain) > 5e-3
    assert abs(model - exact) < 1e-3, (model, exact, plain)


def test_collective_risk_without_modes_is_the_plain_risk():
    red = AnisotropicGaussians(d=320, s0=60, delta=0.5).reduced(mehler_order=2)
    points = np.random.default_rng(0).uniform(0.1, 1.0, (200, 2))
    weights = np.full(200, 1 / 200)
    model = red.collective_risk({"v2": 0.0, "u2": 0.0}, points, weights)
    assert model == pytest.approx(red.particle_risk(points), abs=1e-13)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_restoring_rate_is_stein_with_the_plain_radial_drift(activation):
    """``∂R/∂v2`` at ``v2 = 0`` is ``E[P²] − ∫κ dρ̃`` with ``κ = −∂_{r2}Ψ / r2`` the plain PDE's
    radial rate (Stein's lemma on ``P⊥x``): checks signs and factors of the scalar ODE against the
    plain energy's gradient, computed independently."""
    prob = AnisotropicGaussians(d=320, s0=60, delta=0.5, activation=activation)
    red = prob.reduced(mehler_order=0)
    rng = np.random.default_rng(1)
    points = np.column_stack([rng.uniform(0.3, 1.0, 400), rng.uniform(0.1, 0.5, 400)])
    weights = np.full(400, 1 / 400)
    modes = {"v2": 0.0, "u2": 0.0}
    rate = collective.collective_rate(red, modes, "v2", points, weights)
    feats, fgrad = red.features(points), red.feature_gradients(points)
    moments = weights @ feats
    # the plain first variation's gradient: ∇V + Σ_k c_k (∫φ_k dρ̃) ∇φ_k
    grad = red.potential_gradient(points) + np.einsum(
        "k,nkd->nd", red.coefficients * moments, fgrad
    )
    kappa = -grad[:, 1] / points[:, 1]
    act = Activation.named(activation)
    qp, qm = red.variances(points)
    from wgflow.problems.gaussian_expectations import hermite_moment

    slopes = [weights @ hermite_moment(act, q, 1, np.zeros_like(q)) for q in (qp, qm)]
    stein = 0.5 * sum(p**2 for p in slopes) - weights @ kappa
    assert rate == pytest.approx(stein, rel=2e-4, abs=1e-7)


def test_sources_are_the_common_squared_increment_of_sgd():
    """``B_v2`` against ``ε E[(y − f)² (mean_j σ′_j)² ‖P⊥x‖²]`` on a finite network."""
    d, s0, delta, eps = 1200, 300, 0.5, 1e-4
    prob = AnisotropicGaussians(d=d, s0=s0, delta=delta)
    red = prob.reduced()
    rng = np.random.default_rng(5)
    n = 400
    r1, r2 = rng.uniform(0.4, 0.9, n), rng.uniform(0.1, 0.4, n)
    theta = _network(prob, n, rng, r1, r2, 0.0)
    samples = 4000
    y = rng.choice([1.0, -1.0], size=samples)
    scale = np.where(y > 0, 1 + delta, 1 - delta)
    x = np.concatenate([scale[:, None] * rng.standard_normal((samples, s0)),
                        rng.standard_normal((samples, d - s0))], axis=1)  # fmt: skip
    pre = x @ theta.T
    f = np.maximum(pre, 0).mean(axis=1)
    slope = (pre > 0).mean(axis=1)
    weights = np.full(n, 1 / n)
    points = np.column_stack([r1, r2])
    for name, part in (("v2", slice(s0, d)), ("u2", slice(0, s0))):
        draws = eps * (y - f) ** 2 * slope**2 * (x[:, part] ** 2).sum(axis=1)
        mc, se = draws.mean(), draws.std() / np.sqrt(samples)
        model = red.collective_source(eps, {"v2": 0.0, "u2": 0.0}, points, weights)[name]
        # Monte Carlo error plus the O(1/N) fluctuation of f around its class mean
        assert abs(model - mc) <= 5 * se + 0.02 * mc, (name, model, mc, se)


def test_collective_coordinates_of_hand_built_weights():
    prob = AnisotropicGaussians(d=6, s0=2, delta=0.5)
    theta = np.array([[1.0, 0.0, 1.0, 2.0, 0.0, 0.0], [0.0, 1.0, 1.0, -2.0, 0.0, 0.0]])
    stats = prob.collective_coordinates(theta)
    assert stats["u2"] == pytest.approx(0.5)  # ‖(½, ½)‖²
    assert stats["v2"] == pytest.approx(1.0)  # ‖(1, 0, 0, 0)‖²
    # ⟨v_1, v_2⟩ = 1 − 4 = −3, ‖v_i‖² = 5
    assert stats["pair_correlation"] == pytest.approx(-3 / 5)


QUICK = {"d": 80, "s0": 15, "n_neurons": 100, "t_final": 1.0, "save_every": 0.5, "cells": 24,
         "pde_samples": 20_000}  # fmt: skip


def _run(monkeypatch, coupling, step_size):
    monkeypatch.setattr(collective, "COUPLING_STEP", coupling)
    cmp = Comparison(step_size=step_size, correction="collective", **QUICK)
    sample, _ = initial_law(cmp)
    return collective.solve_collective(cmp, sample)


def test_coupling_is_second_order(monkeypatch):
    """Strang splitting: halving the coupling interval divides the change by ≈ 4 (measured
    3.96; a scalar step with coefficients frozen at its start, first order, gives 2.5)."""
    runs = [_run(monkeypatch, h, 2e-3) for h in (0.25, 0.125, 0.0625)]
    end = [float(ds["v2"][-1]) for ds in runs]
    ratio = abs(end[0] - end[1]) / abs(end[1] - end[2])
    assert 3.0 < ratio < 5.5, (end, ratio)


def test_vanishing_step_size_gives_the_plain_pde(monkeypatch):
    ds = _run(monkeypatch, 0.25, 1e-9)
    assert float(ds["v2"].max()) < 1e-8
    cmp = Comparison(step_size=1e-9, **QUICK)
    from wgflow.studies.comparison import solve_reduced

    sample, _ = initial_law(cmp)
    plain = solve_reduced(cmp, sample, cmp.reduced.energy)
    # same FV scheme, but restarted every coupling interval (its own time steps)
    np.testing.assert_allclose(ds["risk"].values, plain["risk"].values, atol=2e-4)


def test_archive_holds_measured_and_predicted_scalars():
    ds = compare(step_size=2e-3, correction=["step-size", "collective"], **QUICK)
    for name in ("v2_sgd", "v2_pde_collective", "u2_sgd", "pair_correlation_sgd",
                 "pair_correlation_pde_collective", "risk_pde_collective", "w2_collective",
                 "mean_r2_pde_collective", "risk_pde_corrected"):  # fmt: skip
        assert name in ds, name
    assert float(ds["v2_sgd"][0]) < float(ds["v2_sgd"][-1])  # the mean weight builds up
    assert float(ds["v2_pde_collective"][-1]) > 0
    assert "sup_risk_gap_collective" in ds.attrs
    assert ds.attrs["parameters"].count("collective")


@pytest.mark.parametrize(
    ("value", "match"),
    [("bogus", "correction"), (["collective", "collective"], "repeated"), (3, "correction")],
)
def test_bad_corrections_are_refused(value, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Comparison(correction=value, **QUICK)


def test_a_stop_in_the_collective_stage_keeps_every_finished_run(monkeypatch):
    calls = {"n": 0}
    step = collective._GridMarcher.step

    def stopping(self, energy, h):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return step(self, energy, h)

    monkeypatch.setattr(collective, "COUPLING_STEP", 0.25)
    monkeypatch.setattr(collective._GridMarcher, "step", stopping)
    with pytest.raises(KeyboardInterrupt) as info:
        compare(step_size=2e-3, correction=["step-size", "collective"], **QUICK)
    ds = info.value.dataset
    plain = compare(step_size=2e-3, **QUICK)
    # the finished plain and one-neuron runs are kept under their own names …
    np.testing.assert_allclose(ds["risk_pde_full"].values, plain["risk_pde"].values)
    assert ds["risk_pde_corrected_full"].sizes["pde_time"] == plain.sizes["time"]
    # … and the collective one's snapshots before the stop under its own
    kept = ds["risk_pde_collective_full"].dropna("pde_time")  # pde_time is shared (NaN after)
    assert kept.sizes["pde_time"] == 2
    assert "v2_sgd" in ds and "collective mode stopped" in ds.attrs["stage"]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda red, p, w: red.collective_risk({"v2": 0.0, "u2": 0.0}, p, w * np.nan), "weights"),
        (lambda red, p, w: red.collective_risk({"v2": 0.0, "u2": 0.0}, p, w[:-1]), "weights"),
        (lambda red, p, w: red.collective_source(1e-3, {"v2": 0.0, "u2": 0.0}, p, 2 * w),
         "sum to 1"),
        (lambda red, p, w: red.collective_correlation({"v2": 0.0, "u2": 0.0}, -p, w), "radii"),
        (lambda red, p, w: red.collective_full({"v2": "a", "u2": 0.0}, p), "modes: v2"),
        (lambda red, p, w: red.collective_full({"v2": 0.0, "u2": 0.0}, p[:, :1]), "points"),
        (lambda red, p, w: collective.advance_modes(red, 1e-3, {"v2": 0.0, "u2": 0.0}, p, w,
                                                    -0.1), "dt"),
        (lambda red, p, w: collective.collective_rate(red, {"v2": 0.0, "u2": 0.0}, "zz", p, w),
         "name"),
    ],
)
def test_bad_inputs_of_the_collective_methods_are_named(call, match):
    red = AnisotropicGaussians(d=40, s0=10, delta=0.5).reduced()
    points = np.random.default_rng(0).uniform(0.1, 1.0, (20, 2))
    with pytest.raises(ValueError, match=match):
        call(red, points, np.full(20, 1 / 20))


@pytest.mark.parametrize("theta", [np.ones((3, 39)), np.ones((1, 3, 40)), np.full((3, 40), np.nan),
                                   np.ones((0, 40))])  # fmt: skip
def test_collective_coordinates_refuse_bad_weights(theta):
    with pytest.raises(ValueError, match="theta"):
        AnisotropicGaussians(d=40, s0=10, delta=0.5).collective_coordinates(theta)
