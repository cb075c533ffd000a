"""Teacher–student regression: exact V, U, risk against Monte Carlo; the compiled label sampler;
the d-free reduction against gradient flow in d dimensions."""

import numpy as np
import pytest

from wgflow.metrics import fit_rate
from wgflow.networks import Activation
from wgflow.problems import TeacherNetwork, TeacherStudent
from wgflow.solvers import SGD, Particles

CASES = [  # (activation, parameters, teacher biases)
    ("relu", "aw", False),  # arc-cosine closed form
    ("relu", "abw", True),  # piecewise-linear closed form with means
    ("tanh", "abw", True),  # quadrature
]


def _problem(activation, parameters, bias, seed=1, d=6):
    rng = np.random.default_rng(seed)
    teacher = TeacherNetwork(
        rng.standard_normal((3, 2)), a=[1.0, -0.5, 2.0], b=[0.3, -0.2, 0.0] if bias else None
    )
    directions = rng.standard_normal((2, d))  # not orthonormal: the problem orthonormalizes
    prob = TeacherStudent(
        d=d, teacher=teacher, activation=activation, noise=0.3, trained=parameters,
        directions=directions,
    )  # fmt: skip
    return prob, rng.standard_normal((5, prob.dim)), rng


@pytest.mark.parametrize(("activation", "parameters", "bias"), CASES)
def test_exact_risk_potential_and_second_moment_match_monte_carlo(activation, parameters, bias):
    prob, theta, rng = _problem(activation, parameters, bias)
    x, y = prob.data.sample(1_000_000, rng)
    f = prob.model().predict(theta, x)
    # 4.5 standard errors: four independent checks per case, false alarm < 1e-4
    loss = (y - f) ** 2
    assert abs(prob.population_risk(theta) - loss.mean()) < 4.5 * loss.std() / 1e3
    assert abs(prob.second_moment - np.mean(y**2)) < 4.5 * np.std(y**2) / 1e3
    act = Activation.named(activation)
    off = prob.has_a + prob.has_b
    sig = act(x @ theta[:, off:].T + (theta[:, 1] if prob.has_b else 0.0))
    sig = sig * (theta[:, 0] if prob.has_a else 1.0)
    mc = -(y[:, None] * sig)
    assert np.all(np.abs(prob.potential(theta) - mc.mean(0)) < 4.5 * mc.std(0) / 1e3)


@pytest.mark.parametrize(("activation", "parameters", "bias"), CASES)
def test_gradients_match_finite_differences(activation, parameters, bias):
    prob, theta, _ = _problem(activation, parameters, bias)
    h = 1e-6
    fd = np.zeros_like(theta)
    for i in range(theta.shape[0]):
        for j in range(theta.shape[1]):
            e = np.zeros_like(theta)
            e[i, j] = h
            fd[i, j] = (prob.population_risk(theta + e) - prob.population_risk(theta - e)) / (2 * h)
    assert np.abs(prob.risk_gradient(theta) - fd).max() < 1e-7


def test_bad_teachers_are_refused_naming_the_parameter():
    good = TeacherNetwork([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="weights: teacher neurons \\[1\\] have zero norm"):
        TeacherNetwork([[1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="a: all teacher output weights are zero"):
        TeacherNetwork([[1.0]], a=[0.0])
    with pytest.raises(ValueError, match="k = 2 > d = 1"):
        TeacherStudent(d=1, teacher=good)
    with pytest.raises(ValueError, match="directions: the 2 vectors are not linearly independent"):
        TeacherStudent(d=4, teacher=good, directions=[[1, 2, 0, 0], [2, 4, 0, 0]])
    with pytest.raises(ValueError, match="directions: vectors \\[0\\] are zero"):
        TeacherStudent(d=4, teacher=good, directions=[[0, 0, 0, 0], [1, 0, 0, 0]])
    with pytest.raises(ValueError, match="directions: need 2 finite vectors"):
        TeacherStudent(d=4, teacher=good, directions=[[1, 0, 0, 0]])
    with pytest.raises(ValueError, match="noise"):
        TeacherStudent(d=4, teacher=good, noise=-1.0)
    with pytest.raises(TypeError, match="teacher"):
        TeacherStudent(d=4, teacher=np.eye(2))


def test_sgd_kernel_samples_the_teachers_labels():
    """The compiled sampler's labels are f*(x) of its own inputs (exactly without noise); the
    label noise has the requested standard deviation."""
    teacher = TeacherNetwork.spread(2, 5, amplitude=0.5)
    for noise in (0.0, 0.7):
        prob = TeacherStudent(d=12, teacher=teacher, noise=noise)
        sgd = SGD(prob.model(), n_neurons=4, step_size=1e-3, seed=3, batch_size=4000)
        state = sgd.initial_state(None)
        x, y = state.x[0], state.y[0]
        residual = y - prob.data.target(x)
        if noise == 0:
            assert np.abs(residual).max() < 1e-12
        else:  # 4000 draws: the sample std is within 5 % of τ (≈ 4.5 standard errors)
            assert abs(residual.std() / noise - 1) < 0.05 and abs(residual.mean()) < 0.05
        assert abs(x.std() - 1) < 0.02  # x ~ N(0, I)


def test_reduced_potential_and_kernel_are_the_full_ones():
    """V depends on (a, b, u, r) only: equal at any lift; Ū is U with orthogonal S⊥ parts;
    reduced gradients match finite differences; the particle force sums the pair gradients."""
    prob, _, rng = _problem("relu", "abw", True, d=9)
    red = prob.reduced()
    pts = np.column_stack([rng.normal(1, 0.3, 6), rng.normal(0, 0.5, 6),
                           rng.normal(0, 0.7, (6, 2)), rng.uniform(0.2, 1.0, 6)])  # fmt: skip
    theta = prob.full_weights(pts, rng)
    back = prob.reduced_coordinates(theta)
    assert np.allclose(np.column_stack([back[a] for a in red.axes]), pts, atol=1e-12)
    assert np.allclose(red.potential_values(pts), prob.potential(theta), rtol=1e-12)
    # make the S⊥ directions of neurons 0 and 1 orthogonal: then Ū = U exactly
    e0 = theta[0, 2:] - pts[0, 2:4] @ prob.basis
    e1 = theta[1, 2:] - pts[1, 2:4] @ prob.basis
    e1 -= (e1 @ e0) / (e0 @ e0) * e0
    theta[1, 2:] = pts[1, 2:4] @ prob.basis + pts[1, 4] * e1 / np.linalg.norm(e1)
    assert np.isclose(red.kernel(pts[0], pts[1]), prob.kernel(theta[0], theta[1]), rtol=1e-10)
    h = 1e-6
    for fn, grad in ((red.potential_values, red.potential_gradient),
                     (lambda p: red.kernel(p, pts[3]), lambda p: red.kernel_gradient(p, pts[3]))):
        fd = np.array([(fn(pts + h * e) - fn(pts - h * e)) / (2 * h) for e in np.eye(5)]).T
        assert np.abs(grad(pts) - fd).max() < 1e-7
    w = np.full(6, 1 / 6)
    force = red.particle_gradient(pts, w)
    direct = np.sum(w[None, :, None] * red.kernel_gradient(pts[:, None], pts[None]), axis=1)
    assert np.allclose(force, direct, rtol=1e-12, atol=1e-14)


def _without_self_interaction(energy, kernel, gradient, particle_gradient):
    """The same energy with the ``j = i`` term left out of each particle's interaction force
    (``O(1/N)``, and different in ``R^d`` — full overlap — and in the reduced problem)."""
    from wgflow.energy import FreeEnergy
    from wgflow.interactions import GeneralInteraction

    def force(x, w):
        return particle_gradient(x, w) - w[:, None] * gradient(x, x)

    interaction = GeneralInteraction(kernel, gradient=gradient, particle_gradient=force)
    return FreeEnergy(potential=energy.potential_term, interaction=interaction)


def test_gradient_flow_in_d_dimensions_approaches_the_reduced_flow_like_one_over_d():
    """PD (particles on the exact risk in R^d) and the reduced particles from the same reduced
    points, both without self-interaction: the risk gap at t = 1 falls like 1/d or faster
    (measured 7.9e-5, 3.6e-5, 1.2e-5 at d = 10, 20, 40: slope -1.36; asserted < -0.8); W2
    falls too (measured slope -0.88: between the d^-1/2 of each neuron's O(d^-1/2) overlaps
    and 1/d)."""
    from wgflow.measures import ParticleMeasure
    from wgflow.metrics import wasserstein

    teacher = TeacherNetwork.spread(2, 4)
    n, gaps, w2 = 300, [], []
    dims = (10, 20, 40)
    for d in dims:
        prob = TeacherStudent(d=d, teacher=teacher, trained="aw")
        red = prob.reduced()
        rng = np.random.default_rng(0)
        pts = np.column_stack(
            [np.ones(n), rng.uniform(-0.6, 0.6, (n, 2)), rng.uniform(0.3, 0.7, n)]
        )
        pd_energy = _without_self_interaction(
            prob.energy, prob.kernel, prob.kernel_gradient, prob.interaction_potential_gradient
        )
        red_energy = _without_self_interaction(
            red.energy, red.kernel, red.kernel_gradient, red.particle_gradient
        )
        full = Particles(pd_energy, dt=0.05).run(prob.full_weights(pts, rng), 1.0, 1.0)
        reduced = Particles(red_energy, dt=0.05).run(pts, 1.0, 1.0)
        coords = prob.reduced_coordinates(full["positions"].values[-1])
        lifted = np.column_stack([coords[a] for a in red.axes])
        end = reduced["positions"].values[-1]
        gaps.append(abs(red.particle_risk(lifted) - red.particle_risk(end)))
        w2.append(wasserstein(ParticleMeasure(lifted), ParticleMeasure(end), p=2).value)
    assert fit_rate(dims, gaps).slope < -0.8, gaps
    assert -1.5 < fit_rate(dims, w2).slope < -0.4, w2
    assert gaps[-1] < 3e-5  # the risk is ≈ 0.028 here


def test_compare_runs_on_the_teacher_student_problem():
    """The same comparison machinery: k = 1, w only → 2-D reduced PDE by finite volumes on
    (u, r); the SGD risk follows it (gap < 5 % of the risk)."""
    from wgflow.studies.sgd_vs_pde import compare

    ds = compare(
        problem="teacher-student", d=80, k=1, teacher_width=2, trained="w", n_neurons=200,
        step_size=5e-4, t_final=0.5, save_every=0.25, cells=32, pde_samples=20_000,
    )  # fmt: skip
    assert ds.attrs["problem"] == "TeacherStudent" and ds.attrs["solver"] == "SGD + FiniteVolume"
    assert set(ds["density"].dims) == {"time", "u", "r"}
    assert float(ds["risk_gap"].max()) < 0.05 * float(ds["risk_pde"][0])
    assert np.all(np.diff(ds["risk_pde"].values) < 0)  # a gradient flow: the risk falls


def test_compare_refuses_settings_of_the_other_problem():
    from wgflow.studies.sgd_vs_pde import compare

    with pytest.raises(ValueError, match="s0: not a setting of the teacher-student problem"):
        compare(problem="teacher-student", s0=3)
    with pytest.raises(ValueError, match="k: not a setting of the anisotropic problem"):
        compare(problem="anisotropic", k=2)
    with pytest.raises(ValueError, match="correction"):
        compare(problem="teacher-student", d=8, correction="step-size,bogus")
    prob = TeacherStudent(d=8, teacher=TeacherNetwork.spread(2, 4))
    with pytest.raises(ValueError, match="d: set by the problem object"):
        compare(problem=prob, d=16)
    with pytest.raises(ValueError, match="problem"):
        compare(problem="teacher")


def test_the_dense_reduced_interaction_is_built_once_per_grid():
    """The solver and the risk curve share the grid's dense matrix (O(n²) kernel calls each);
    another grid gets its own."""
    red = TeacherStudent(d=8, teacher=TeacherNetwork.spread(1, 2), trained="w").reduced()
    calls = []
    interaction = red.energy.interactions[0]
    kernel = interaction.kernel
    interaction.kernel = lambda a, b: calls.append(1) or kernel(a, b)
    grid = red.grid(12, 1.5)
    rho = np.ones(grid.shape) / grid.integrate(np.ones(grid.shape))
    first = interaction.on_grid(grid)
    red.risk_curve(grid, [rho])
    assert interaction.on_grid(red.grid(12, 1.5)) is first and len(calls) == 1
    assert interaction.on_grid(red.grid(10, 1.5)) is not first and len(calls) == 2
