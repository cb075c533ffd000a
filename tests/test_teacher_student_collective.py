"""Teacher–student finite-step-size models: the one-neuron drift and the collective mode.

Every quantity of :class:`~wgflow.problems.teacher_student.ReducedTeacherStudent`'s
``step_size_drift`` / ``collective_*`` methods is compared with an independent computation:
Monte Carlo over ``(Px, ξ)`` with the neurons' ``E_G`` written out here (relu closed forms,
Gauss–Hermite for tanh), the augmented problem (one more informative axis where every neuron
sits at ``√S``), finite differences and exact identities.
"""

import numpy as np
import pytest
from scipy.special import ndtr

from wgflow.errors import CapabilityMissing
from wgflow.problems import TeacherNetwork, TeacherStudent
from wgflow.solvers import Particles

EPS = 2e-4
MC = 200_000
#: standard errors allowed between a Monte-Carlo estimate and the model (≈ 7e-6 two-sided per
#: comparison; about 60 comparisons in this file)
Z = 4.5


def _teacher(case):
    if case == "relu2":  # zero biases, k = 2: the polar rule
        return TeacherNetwork.spread(2, 4, amplitude=0.5), "relu", "aw", 0.2
    if case == "tanh1":  # smooth σ, k = 1, teacher biases: Gauss–Hermite
        return TeacherNetwork([[1.2], [-0.7]], a=[1.0, 0.5], b=[0.3, -0.2]), "tanh", "abw", 0.3
    if case == "relu1b":  # relu with biases, k = 1: the line split at the kinks
        return TeacherNetwork([[1.0], [-1.5]], a=[1.0, -0.5], b=[0.2, 0.4]), "relu", "abw", 0.1
    if case == "relu2b":  # relu with biases, k = 2: tensor Gauss–Hermite (kinks not resolved)
        w = [[1.0, 0.3], [-0.4, 1.1]]
        return TeacherNetwork(w, a=[1.0, 0.7], b=[0.2, -0.3]), "relu", "abw", 0.1
    raise ValueError(case)


def _setup(case, n=5, seed=3):
    teacher, act, trained, noise = _teacher(case)
    prob = TeacherStudent(d=40, teacher=teacher, activation=act, noise=noise, trained=trained)
    red = prob.reduced()
    rng = np.random.default_rng(seed)
    head = [rng.uniform(0.5, 1.5, n)] + ([rng.uniform(-0.3, 0.3, n)] if trained == "abw" else [])
    u = rng.uniform(-0.6, 0.6, (n, prob.k))
    points = np.column_stack([*head, u, rng.uniform(0.3, 0.7, n)])
    weights = rng.dirichlet(np.ones(n))
    return prob, red, points, weights


def _gauss(act, mean, std):
    """E_G of σ, σ′, σ′², σ″ at mean + std·G, written independently of the module."""
    if act == "relu":
        z = mean / std
        cdf, pdf = ndtr(z), np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
        return mean * cdf + std * pdf, cdf, cdf, pdf / std
    g, wg = np.polynomial.hermite_e.hermegauss(60)
    wg = wg / wg.sum()
    th = np.tanh(mean[..., None] + std[..., None] * g)
    s2 = 1 - th * th
    return th @ wg, s2 @ wg, (s2 * s2) @ wg, (-2 * th * s2) @ wg


class _Sample:
    """Monte Carlo over ``(Px, ξ)``: the network's ``F``, ``P``, ``∂_ξ P`` and each neuron's
    ``E_G`` terms per sample (the model's formulas, built by brute force)."""

    def __init__(self, prob, points, weights, shift, n=MC, seed=11):
        rng = np.random.default_rng(seed)
        k, h = prob.k, len(prob.head)
        x = rng.standard_normal((n, k))
        xi = np.sqrt(shift) * rng.standard_normal(n)
        a = points[:, 0] if h >= 1 else np.ones(len(points))
        b = points[:, 1] if h == 2 else np.zeros(len(points))
        u, r = points[:, h : h + k], points[:, h + k]
        mean = b + x @ u.T + xi[:, None]  # (n, neurons)
        blocks = [
            _gauss(prob.activation.name, mean[i : i + 10_000], r) for i in range(0, n, 10_000)
        ]
        value, slope, square, curv = (np.concatenate(parts) for parts in zip(*blocks, strict=True))
        t = prob.teacher
        pre = x @ t.weights.T + t.b
        act = np.maximum(pre, 0) if prob.activation.name == "relu" else np.tanh(pre)
        self.fstar = act @ t.a / t.width
        self.a, self.r = a, r
        self.f = value @ (weights * a)
        self.p = slope @ (weights * a)
        self.dp = curv @ (weights * a)
        self.e2 = (self.fstar - self.f) ** 2 + prob.noise**2
        self.slope, self.square = slope, square


def _mean_se(samples):
    samples = np.asarray(samples)
    return samples.mean(axis=0), samples.std(axis=0) / np.sqrt(samples.shape[0])


# ---- the quadrature rules ------------------------------------------------------------------
@pytest.mark.parametrize(("case", "kind", "rtol"), [
    ("relu2", "polar", 1e-7), ("tanh1", "hermite", 1e-8), ("relu1b", "split line", 1e-11),
    ("relu2b", "hermite", 2e-3),
])  # fmt: skip
def test_input_rule_integrates_the_teachers_square_exactly(case, kind, rtol):
    # E f*(Px)² = E y² − τ² by the pair moments: the kink-aware rules converge geometrically
    # (the polar one to ~1e-8 with 16 radial nodes; Gauss–Hermite on tanh, analytic in a strip,
    # like exp(−a√n): 5e-10 at 96 nodes), the tensor rule across kinks only like 1/n
    prob, red, _, _ = _setup(case)
    x, w, got_kind = red.input_rule()
    assert got_kind == kind
    assert abs(w.sum() - 1) < 1e-14
    t = prob.teacher
    pre = x @ t.weights.T + t.b
    f = (np.maximum(pre, 0) if prob.activation.name == "relu" else np.tanh(pre)) @ t.a / t.width
    exact = prob.second_moment - prob.noise**2
    assert abs(w @ f**2 - exact) < rtol * exact
    if kind == "hermite" and case == "relu2b":
        assert abs(w @ f**2 - exact) > 1e-6 * exact  # the tensor rule's error is real


def test_rule_for_large_k_is_refused_with_the_reason():
    teacher = TeacherNetwork(np.eye(5)[:3] + 0.1, b=[0.1, 0.0, 0.0])
    red = TeacherStudent(d=12, teacher=teacher, activation="relu", trained="abw").reduced()
    assert red.provides("step_size_drift") and red.provides("collective_energy")
    with pytest.raises(CapabilityMissing, match="k = 5"):
        red.step_size_drift(EPS)
    with pytest.raises(CapabilityMissing, match="k ≤ 4"):
        red.collective_energy(EPS, {"v2": 0.1})


# ---- the risk ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["relu2", "tanh1", "relu1b", "relu2b"])
def test_collective_risk_at_zero_shift_is_the_plain_risk(case):
    _, red, points, _ = _setup(case)
    uniform = np.full(len(points), 1 / len(points))
    got = red.collective_risk({"v2": 0.0}, points, uniform)
    assert got == pytest.approx(red.particle_risk(points), rel=1e-12)


@pytest.mark.parametrize("case", ["relu2", "tanh1", "relu1b"])
def test_collective_risk_matches_monte_carlo_of_the_shared_shift(case):
    prob, red, points, weights = _setup(case)
    s = 0.4
    mc = _Sample(prob, points, weights, s)
    mean, se = _mean_se(mc.e2)
    got = red.collective_risk({"v2": s}, points, weights)
    assert abs(got - mean) < Z * se
    # the shift matters far beyond the Monte-Carlo error (the check can tell S from 0)
    assert abs(red.collective_risk({"v2": 0.0}, points, weights) - mean) > 10 * Z * se


@pytest.mark.parametrize("case", ["relu2", "tanh1", "relu2b"])
def test_shifted_energy_is_the_augmented_problem(case):
    # one more informative axis where the teacher has weight 0 and every neuron sits at √S
    prob, red, points, weights = _setup(case)
    s = 0.3
    t = prob.teacher
    teacher = TeacherNetwork(np.column_stack([t.weights, np.zeros(t.width)]), a=t.a, b=t.b)
    aug = TeacherStudent(
        d=40, teacher=teacher, activation=prob.activation, noise=prob.noise, trained=prob.trained
    ).reduced()
    h, k = len(prob.head), prob.k
    lifted = np.insert(points, h + k, np.sqrt(s), axis=1)
    keep = [j for j in range(aug.dim) if j != h + k]
    uniform = np.full(len(points), 1 / len(points))
    assert red.collective_risk({"v2": s}, points, uniform) == pytest.approx(
        aug.particle_risk(lifted), rel=1e-12
    )
    energy = red.collective_energy(EPS, {"v2": s})
    pot = energy.potential_term
    np.testing.assert_allclose(pot.value(points), aug.potential_values(lifted), rtol=1e-12)
    np.testing.assert_allclose(
        pot.gradient(points), aug.potential_gradient(lifted)[:, keep], rtol=1e-10, atol=1e-14
    )
    inter = energy.interactions[0]
    np.testing.assert_allclose(
        inter.particle_gradient(points, weights),
        aug.particle_gradient(lifted, weights)[:, keep], rtol=1e-10, atol=1e-14,
    )  # fmt: skip
    np.testing.assert_allclose(
        inter.particle_kernel(points), aug.particle_kernel(lifted), rtol=1e-12
    )


@pytest.mark.parametrize("case", ["relu2", "tanh1"])
def test_shifted_energy_gradient_is_the_risk_gradient(case):
    # ∂R/∂x_i = 2 w_i (∇V_S(x_i) + Σ_j w_j ∇_1 Ū_S(x_i, x_j)), by central differences of R
    _, red, points, weights = _setup(case)
    modes = {"v2": 0.25}
    energy = red.collective_energy(EPS, modes)
    force = energy.potential_term.gradient(points)
    force = force + energy.interactions[0].particle_gradient(points, weights)
    h = 1e-5
    for i in (0, 3):
        for j in range(red.dim):
            e = np.zeros_like(points)
            e[i, j] = h
            fd = (
                red.collective_risk(modes, points + e, weights)
                - red.collective_risk(modes, points - e, weights)
            ) / (2 * h)
            assert fd == pytest.approx(2 * weights[i] * force[i, j], abs=1e-8)


@pytest.mark.parametrize("case", ["relu2", "tanh1", "relu1b"])
def test_risk_slope_in_the_shift_is_steins(case):
    # ∂R/∂S at S = 0 = E P² − E (y − F) ∂_ξ P (Stein's lemma on ξ), P = ∂_ξ F
    prob, red, points, weights = _setup(case)
    mc = _Sample(prob, points, weights, 0.0)
    terms = mc.p**2 - (mc.fstar - mc.f) * mc.dp
    mean, se = _mean_se(terms)

    def risk(s):
        return red.collective_risk({"v2": s}, points, weights)

    step = 1e-4
    slope = (-3 * risk(0.0) + 4 * risk(step) - risk(2 * step)) / (2 * step)
    assert abs(slope - mean) < Z * se + 1e-6
    assert abs(mean) > 10 * Z * se  # the sign is resolved


# ---- the drifts and the source -------------------------------------------------------------
@pytest.mark.parametrize("case", ["relu2", "tanh1", "relu1b"])
def test_step_size_drift_is_the_own_share(case):
    # d r²/dt = c⊥ E[e² a² D], velocity on r = that / 2r, c⊥ = ε (d − k)
    prob, red, points, weights = _setup(case)
    drift = red.step_size_drift(EPS)
    moments = drift.moments_of_particles(points, weights)
    velocity = drift.velocity_at(points, moments)
    assert np.all(velocity[:, :-1] == 0)
    c = EPS * (prob.d - prob.k)
    mc = _Sample(prob, points, weights, 0.0)
    mean, se = _mean_se(mc.e2[:, None] * mc.a**2 * mc.square)
    scale = c / (2 * mc.r)
    np.testing.assert_array_less(np.abs(velocity[:, -1] - scale * mean), Z * scale * se)
    # its moments are F at the rule's nodes
    x, w, _ = red.input_rule()
    assert moments.shape == (len(w),)
    assert np.all(np.isfinite(moments))


@pytest.mark.parametrize("case", ["relu2", "tanh1", "relu1b"])
def test_collective_drift_and_source_match_monte_carlo(case):
    # d r²/dt = c⊥ E[e² (a² D − 2 a m1 P + P²)] and B = c⊥ E[e² P²] at S > 0
    prob, red, points, weights = _setup(case)
    s = 0.3
    modes = {"v2": s}
    drift = red.collective_energy(EPS, modes).drift
    velocity = drift.velocity_at(points, drift.moments_of_particles(points, weights))
    c = EPS * (prob.d - prob.k)
    mc = _Sample(prob, points, weights, s)
    own = mc.a**2 * mc.square - 2 * mc.a * mc.slope * mc.p[:, None] + mc.p[:, None] ** 2
    mean, se = _mean_se(mc.e2[:, None] * own)
    scale = c / (2 * mc.r)
    np.testing.assert_array_less(np.abs(velocity[:, -1] - scale * mean), Z * scale * se)
    source = red.collective_source(EPS, modes, points, weights)
    mean, se = _mean_se(c * mc.e2 * mc.p**2)
    assert set(source) == {"v2"}
    assert abs(source["v2"] - mean) < Z * se


@pytest.mark.parametrize("case", ["relu2", "tanh1", "relu2b"])
def test_own_share_splits_into_incoherent_share_and_source(case):
    # at S = 0, ∫ E[e² a² D] dρ = ∫ E[e² (a² D − 2 a m1 P + P²)] dρ + E[e² P²]
    # (∫ a m1 dρ = P): exact on the same rule
    _, red, points, weights = _setup(case)
    r = points[:, -1]
    own = red.step_size_drift(EPS)
    v_own = own.velocity_at(points, own.moments_of_particles(points, weights))[:, -1]
    inc = red.collective_drift(EPS, {"v2": 0.0})
    v_inc = inc.velocity_at(points, inc.moments_of_particles(points, weights))[:, -1]
    source = red.collective_source(EPS, {"v2": 0.0}, points, weights)["v2"]
    assert weights @ (2 * r * v_own) == pytest.approx(weights @ (2 * r * v_inc) + source, rel=1e-10)
    assert source > 0 and np.all(v_inc > 0) and np.all(v_inc < v_own)


def test_drift_features_work_on_grids_and_at_zero_radius():
    _, red, points, weights = _setup("relu2")
    drift = red.collective_drift(EPS, {"v2": 0.1})
    grid_points = np.broadcast_to(points[:, None, :], (5, 3, red.dim)).copy()
    grid_points[:, 0, -1] = 0.0
    features = drift.features(grid_points)
    assert features.shape[:2] == (5, 3)
    moments = drift.moments_of_particles(points, weights)
    v = drift.velocity_at(grid_points, moments)
    assert v.shape == grid_points.shape
    assert np.all(v[:, 0, -1] == 0) and np.all(v[:, 1:, -1] > 0)
    np.testing.assert_allclose(features[:, 1], drift.features(points), rtol=1e-13)


def test_collective_energy_runs_in_the_particle_solver():
    _, red, points, weights = _setup("relu2")
    solver = Particles(red.collective_energy(EPS, {"v2": 0.05}), dt=0.01)
    state = solver.advance(solver.initial_state(points), 0.03)
    x = np.asarray(state.positions[0])
    assert x.shape == points.shape and np.all(np.isfinite(x))
    assert np.all(x[:, -1] != points[:, -1])


# ---- scalars and full coordinates ----------------------------------------------------------
def test_modes_are_checked():
    _, red, points, weights = _setup("relu2")
    assert red.collective_modes == ("v2",)
    for bad in ({}, {"v2": -0.1}, {"v2": np.nan}, {"v2": 0.1, "u2": 0.0}, [0.1]):
        with pytest.raises(ValueError, match="modes"):
            red.collective_risk(bad, points, weights)
    with pytest.raises(ValueError, match="step_size"):
        red.collective_source(0.0, {"v2": 0.1}, points, weights)
    with pytest.raises(ValueError, match="weights"):
        red.collective_risk({"v2": 0.1}, points, weights[:3])


def test_collective_full_and_correlation():
    _, red, points, weights = _setup("relu2")
    full = red.collective_full({"v2": 0.3}, points)
    np.testing.assert_array_equal(full[:, :-1], points[:, :-1])
    np.testing.assert_allclose(full[:, -1], np.sqrt(points[:, -1] ** 2 + 0.3), rtol=1e-15)
    c = red.collective_correlation({"v2": 0.3}, points, weights)
    assert c == pytest.approx(0.3 / (0.3 + weights @ points[:, -1] ** 2), rel=1e-15)
    assert red.collective_correlation({"v2": 0.0}, points, weights) == 0.0


def test_collective_coordinates_on_hand_built_weights():
    teacher = TeacherNetwork([[1.0]])
    prob = TeacherStudent(d=4, teacher=teacher, activation="relu", trained="aw")
    theta = np.array([
        [0.5, 1.0, 2.0, 0.0, 0.0],
        [1.0, -1.0, 0.0, 2.0, 0.0],
        [2.0, 0.5, 2.0, 2.0, 0.0],
    ])  # fmt: skip
    # P⊥w = (2,0,0), (0,2,0), (2,2,0): mean (4/3, 4/3, 0), v2 = 32/9; mean ‖v‖² = 16/3;
    # ordered pairs i ≠ j: ⟨v1,v2⟩ = 0, ⟨v1,v3⟩ = ⟨v2,v3⟩ = 4 → 8/3, C = 1/2
    out = prob.collective_coordinates(theta)
    assert set(out) == {"v2", "pair_correlation"}
    assert out["v2"] == pytest.approx(32 / 9, rel=1e-14)
    assert out["pair_correlation"] == pytest.approx(0.5, rel=1e-14)
    # the same network in rotated coordinates (teacher direction rotated along)
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((4, 4)))
    rotated = TeacherStudent(
        d=4, teacher=teacher, activation="relu", trained="aw", directions=q[:, :1].T
    )  # fmt: skip
    theta_rot = np.column_stack([theta[:, :1], theta[:, 1:] @ q.T])
    out_rot = rotated.collective_coordinates(theta_rot)
    assert out_rot["v2"] == pytest.approx(32 / 9, rel=1e-12)
    assert out_rot["pair_correlation"] == pytest.approx(0.5, rel=1e-12)
    single = prob.collective_coordinates(theta[:1])
    assert single == {"v2": pytest.approx(4.0), "pair_correlation": 0.0}
    with pytest.raises(ValueError, match="theta"):
        prob.collective_coordinates(theta[:, 1:])
