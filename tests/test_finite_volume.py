import numpy as np
import pytest
import xarray as xr

import wgflow as wg
from wgflow.problems import Aggregation, OrnsteinUhlenbeck, PorousMedium
from wgflow.solvers import FiniteVolume


def ou_setup(n=48, dim=2, **kw):
    prob = OrnsteinUhlenbeck(dim=dim, diffusion=0.5, mean0=(1.0, 0.5, 0.0)[:dim], var0=0.3, **kw)
    grid = wg.Grid.box([(-5, 5)] * dim, shape=n)
    return prob, grid


CASES = {
    "ou-explicit-2": lambda: (*ou_setup(), {"order": 2}),
    "ou-explicit-1": lambda: (*ou_setup(), {"order": 1}),
    "ou-kappa": lambda: (*ou_setup(kappa=1.0), {"order": 2}),
    "ou-3d": lambda: (*ou_setup(n=16, dim=3), {"order": 2}),
    "ou-semi-implicit": lambda: (*ou_setup(), {"scheme": "semi-implicit", "dt": 0.05}),
    "porous-2d": lambda: (
        PorousMedium(dim=2, m=2),
        wg.Grid.box([(-2, 2)] * 2, shape=40),
        {"order": 2},
    ),
    "porous-semi-implicit": lambda: (
        PorousMedium(dim=1, m=3),
        wg.Grid.box([(-2, 2)], shape=100),
        {"scheme": "semi-implicit", "dt": 0.02},
    ),
    "aggregation-2d": lambda: (Aggregation(dim=2), wg.Grid.box([(-1.5, 1.5)] * 2, 32), {}),
    "aggregation-diffusion": lambda: (
        Aggregation(dim=1, diffusion=0.1),
        wg.Grid.box([(-3, 3)], 120),
        {"order": 2},
    ),
}


@pytest.fixture(params=sorted(CASES), scope="module")
def solved(request):
    prob, grid, options = CASES[request.param]()
    ds = FiniteVolume(prob.energy, grid, **options).run(
        prob.initial_density(grid), t_final=1.0, save_every=0.05, progress=False
    )
    return request.param, ds


def test_mass_is_conserved_to_round_off(solved):
    _, ds = solved
    np.testing.assert_allclose(ds["mass"], ds["mass"][0], rtol=1e-12)


def test_density_stays_non_negative(solved):
    _, ds = solved
    assert float(ds["density"].min()) >= 0.0


def test_discrete_free_energy_never_increases(solved):
    # the step-to-step decrease is large compared with round-off in E (~1e-15 |E|)
    _, ds = solved
    energy = ds["free_energy"].values
    assert np.all(np.diff(energy) <= 1e-13 * np.abs(energy[:-1]).max())
    assert energy[-1] < energy[0]


def test_result_follows_the_schema(solved):
    name, ds = solved
    assert ds.attrs["Conventions"] == "CF-1.10" and ds.attrs["solver"] == "FiniteVolume"
    for key in ("title", "wgflow_version", "problem", "parameters", "created", "history"):
        assert ds.attrs[key]
    params = wg.io.parameters(ds)
    assert params["t_final"] == 1.0 and params["grid"]["shape"]
    for var in ds.variables:
        if not var.endswith("_bnds"):
            assert {"units", "long_name"} <= set(ds[var].attrs), var
    assert ds["density"].dims[0] == "time" and ds.sizes["time"] == 21


def test_semi_implicit_step_far_beyond_the_explicit_limit_stays_bounded():
    prob, grid = ou_setup(n=96)
    explicit = FiniteVolume(prob.energy, grid)
    rho0 = prob.initial_density(grid)
    _, speed = explicit.rhs(rho0)
    cfl_dt = explicit.stable_dt(rho0, speed) / explicit.cfl
    big = FiniteVolume(prob.energy, grid, scheme="semi-implicit", dt=50 * cfl_dt)
    ds = big.run(rho0, t_final=2.0, save_every=0.25, progress=False)
    assert float(ds["density"].min()) >= 0
    assert np.all(np.diff(ds["free_energy"]) <= 0)
    assert int(ds["steps"][-1]) < 2.0 / (40 * cfl_dt)
    # bounded by the stationary Gaussian's peak 1/(2πD), to within the O(dt) error
    assert float(ds["density"].max()) <= 1.1 * float(ds["density"][0].max())


def test_semi_implicit_is_first_order_in_time():
    prob, grid = ou_setup(n=96)
    exact = prob.exact_density(grid, 1.0)
    errors = []
    for dt in (0.1, 0.05, 0.025):
        solver = FiniteVolume(prob.energy, grid, scheme="semi-implicit", dt=dt)
        ds = solver.run(prob.initial_density(grid), 1.0, progress=False)
        errors.append(grid.integrate(np.abs(ds["density"][-1].values - exact)))
    orders = np.log2(np.array(errors[:-1]) / errors[1:])
    assert np.all(orders > 0.8), orders


def test_snapshot_times_include_t_final():
    prob, grid = ou_setup(n=16)
    ds = FiniteVolume(prob.energy, grid).run(prob.initial_density(grid), 0.25, 0.1, progress=False)
    np.testing.assert_allclose(ds["time"], [0, 0.1, 0.2, 0.25])


def test_accepts_a_grid_measure():
    prob, grid = ou_setup(n=16)
    mu = wg.GridMeasure(grid, prob.initial_density(grid))
    ds = FiniteVolume(prob.energy, grid).run(mu, 0.1, progress=False)
    assert isinstance(ds, xr.Dataset)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda s, g, r: s.run(-r, 1.0), "rho0"),
        (lambda s, g, r: s.run(r * np.nan, 1.0), "rho0"),
        (lambda s, g, r: s.run(r[:-1], 1.0), "rho0"),
        (lambda s, g, r: s.run(0 * r, 1.0), "rho0"),
        (lambda s, g, r: s.run(r, 0.0), "t_final"),
        (lambda s, g, r: s.run(r, -1.0), "t_final"),
        (lambda s, g, r: s.run(r, 1.0, save_every=2.0), "save_every"),
        (lambda s, g, r: s.run(r, 1.0, t_fianl=2.0), "t_fianl"),
        (lambda s, g, r: FiniteVolume(s.energy, g, order=3), "order"),
        (lambda s, g, r: FiniteVolume(s.energy, g, cfl=1.5), "cfl"),
        (lambda s, g, r: FiniteVolume(s.energy, g, scheme="implicit"), "scheme"),
        (lambda s, g, r: FiniteVolume(s.energy, g, dt=0.1), "dt"),
        (lambda s, g, r: FiniteVolume(s.energy, g, scheme="semi-implicit", dt=-1), "dt"),
        (lambda s, g, r: FiniteVolume(s.energy, g, oder=2), "oder"),
        (lambda s, g, r: FiniteVolume("energy", g), "energy"),
    ],
)
def test_bad_input_names_the_parameter(make, match):
    prob, grid = ou_setup(n=8)
    solver = FiniteVolume(prob.energy, grid)
    with pytest.raises(ValueError, match=match):
        make(solver, grid, prob.initial_density(grid))


def test_blow_up_is_reported_with_time_and_partial_result():
    # a potential with a huge gradient forces steps below dt_min
    grid = wg.Grid.box([(0, 1)], shape=32)
    energy = wg.FreeEnergy(potential=lambda x: 1e20 * x[..., 0])
    solver = FiniteVolume(energy, grid, dt_min=1e-6)
    with pytest.raises(wg.BlowUpError, match=r"t = 0") as info:
        solver.run(np.ones(32), t_final=1.0, progress=False)
    assert info.value.time == 0.0 and info.value.dataset is not None
    assert info.value.dataset.sizes["time"] == 1


@pytest.mark.parametrize("case", ["ou-explicit-2", "ou-explicit-1", "porous-2d", "aggregation-2d"])
def test_free_energy_decreases_at_every_single_step(case):
    prob, grid, options = CASES[case]()
    solver = FiniteVolume(prob.energy, grid, **options)
    state = solver.initial_state(prob.initial_density(grid))
    energies = [solver.discrete.energy(state.rho)]
    for _ in range(60):
        rho, dt = solver._explicit_step(state.rho, state.t, np.inf)
        state = type(state)(state.t + dt, rho, state.steps + 1)
        energies.append(solver.discrete.energy(rho))
    steps = np.diff(energies)
    assert np.all(steps <= 1e-13 * np.abs(energies).max()), steps.max()


def test_package_layout_maps_solvers_and_problems_folders():
    from pathlib import Path

    import wgflow.problems
    import wgflow.solvers

    assert Path(wgflow.solvers.__file__).parent.name == "solvers"
    assert Path(wgflow.problems.__file__).parent.name == "problems"


@pytest.mark.parametrize("case", ["ou", "porous"])
def test_semi_implicit_iterative_and_direct_solves_agree(case, monkeypatch):
    """BiCGSTAB (the default) and SuperLU give the same densities to 1e-10, mass to round-off;
    a BiCGSTAB failure falls back to SuperLU."""
    if case == "ou":
        prob = OrnsteinUhlenbeck(dim=2, diffusion=0.5, mean0=(1.0, 0.5), var0=0.3)
        grid = wg.Grid.box([(-5, 5)] * 2, 48)
        rho0 = prob.initial_density(grid)
    else:
        prob = PorousMedium(dim=2, m=2.0)
        grid = wg.Grid.box([(-2, 2)] * 2, 40)
        rho0 = prob.exact_density(grid, 0.05)
    runs = {}
    for solver in ("iterative", "direct"):
        fv = FiniteVolume(prob.energy, grid, scheme="semi-implicit", dt=0.02,
                          linear_solver=solver)  # fmt: skip
        runs[solver] = fv.run(rho0, 0.2, 0.1, progress=False)
    a, b = runs["iterative"]["density"].values, runs["direct"]["density"].values
    assert np.abs(a - b).max() < 1e-10 * b.max()
    assert abs(float(runs["iterative"]["mass"][-1]) - float(runs["iterative"]["mass"][0])) < 1e-13
    monkeypatch.setattr(FiniteVolume, "_iterative_solve", staticmethod(lambda m, b: None))
    fv = FiniteVolume(prob.energy, grid, scheme="semi-implicit", dt=0.02)
    fallback = fv.run(rho0, 0.2, 0.1, progress=False)["density"].values
    assert np.abs(fallback - b).max() < 1e-13 * b.max()


def double_well_porous_steady_state(grid, m, subcells=50):
    """Cell averages of ``ρ∞ = ((m−1)(C − V)₊/m)^{1/(m−1)}`` (``H = ρ^m/(m−1)``, mass 1)."""
    import scipy.optimize

    (lo, hi), n = grid.bounds[0], grid.shape[0]
    fine = lo + (np.arange(n * subcells) + 0.5) * (hi - lo) / (n * subcells)
    v = 0.25 * (fine**2 - 1) ** 2

    def profile(c):
        return ((m - 1) * np.maximum(c - v, 0.0) / m) ** (1 / (m - 1))

    c = scipy.optimize.brentq(lambda c: profile(c).mean() * (hi - lo) - 1, 0.0, 50.0)
    return profile(c).reshape(n, subcells).mean(axis=1)


@pytest.mark.parametrize("m", [2, 3])
def test_semi_implicit_takes_degenerate_diffusion_to_its_steady_state(m):
    """Double well + ``ρ^m/(m−1)``: the tails underflow to 0 (degenerate diffusion). Before the
    upwind limit of the Scharfetter–Gummel flux, subnormal diffusivities made ``z = −uh/d``
    overflow and SciPy raised "Factor is exactly singular". Measured L1 error to the exact
    steady state (t = 20, dt = 0.5): m = 2 1.7e-3 / 6.0e-4 at 100 / 200 cells (order ≈ 1.5,
    the support's edge), m = 3 9.1e-3 / 3.9e-3."""
    energy = wg.FreeEnergy(
        potential=lambda x: 0.25 * ((x**2).sum(-1) - 1) ** 2, internal=wg.PorousMediumEnergy(m)
    )
    errors = []
    for n in (100, 200):
        grid = wg.Grid.box([(-2.5, 2.5)], n)
        x = grid.coordinates[0]
        rho0 = np.exp(-(x**2) / 0.5)
        ds = FiniteVolume(energy, grid, scheme="semi-implicit", dt=0.5).run(
            rho0 / grid.integrate(rho0), 20.0, 20.0, progress=False
        )
        exact = double_well_porous_steady_state(grid, m)
        errors.append(grid.integrate(np.abs(ds["density"][-1].values - exact)))
        assert 0.0 <= float(ds["density"][-1].min()) < 1e-50  # empty tails, non-negative
    print(f"\nsemi-implicit porous m = {m}: L1 errors {errors}")
    assert errors[1] < 0.6 * errors[0] and errors[1] < (1e-3 if m == 2 else 5e-3), errors


def test_semi_implicit_default_step_runs_through_underflowing_tails():
    """m = 3 with the default step crashed within the first time unit (SciPy's raw error)."""
    grid = wg.Grid.box([(-3, 3)], 100)
    energy = wg.FreeEnergy(
        potential=lambda x: 0.25 * ((x**2).sum(-1) - 1) ** 2, internal=wg.PorousMediumEnergy(3)
    )
    x = grid.coordinates[0]
    rho0 = np.exp(-(x**2) / 0.5)
    ds = FiniteVolume(energy, grid, scheme="semi-implicit").run(
        rho0 / grid.integrate(rho0), 2.0, 1.0, progress=False
    )
    assert np.all(np.isfinite(ds["density"])) and float(ds["density"].min()) >= 0.0
    np.testing.assert_allclose(ds["mass"], 1.0, rtol=1e-12)


def test_a_library_failure_inside_a_step_becomes_blow_up_error(monkeypatch, tmp_path):
    """A raw SciPy error in the linear solve reaches the user as BlowUpError with the time,
    the snapshots so far and a checkpoint of the last good state."""
    import scipy.sparse.linalg as spla

    prob, grid = PorousMedium(dim=1, m=2), wg.Grid.box([(-2, 2)], 16)  # one LU per step
    solver = FiniteVolume(prob.energy, grid, scheme="semi-implicit", dt=0.1,
                          linear_solver="direct")  # fmt: skip
    real_splu, calls = spla.splu, []

    def failing_splu(matrix):
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("Factor is exactly singular")
        return real_splu(matrix)

    monkeypatch.setattr(spla, "splu", failing_splu)
    path = tmp_path / "run.nc"
    with pytest.raises(wg.BlowUpError, match="RuntimeError: Factor is exactly singular") as info:
        solver.run(prob.initial_density(grid), 1.0, 0.1, progress=False, checkpoint=path,
                   checkpoint_every=0.1)  # fmt: skip
    assert info.value.time == pytest.approx(0.3) and isinstance(info.value.__cause__, RuntimeError)
    assert info.value.dataset.sizes["time"] == 4  # t = 0, 0.1, 0.2, 0.3
    assert float(wg.open(path)["time"][-1]) == pytest.approx(0.3)


def test_density_of_mass_other_than_one_is_not_labelled_a_probability_density():
    prob, grid = ou_setup(n=16, dim=1)
    rho = 4 * np.pi * prob.initial_density(grid)
    ds = FiniteVolume(prob.energy, grid).run(rho, 0.1, 0.1, progress=False)
    assert ds["density"].attrs["long_name"] == "density of mass 12.57 (cell average)"
    ds = FiniteVolume(prob.energy, grid).run(rho / (4 * np.pi), 0.1, 0.1, progress=False)
    assert ds["density"].attrs["long_name"] == "probability density (cell average)"


@pytest.mark.parametrize("m", [2, 3])
def test_semi_implicit_default_step_does_not_depend_on_save_every(m):
    """Pure porous medium has no advective speed: the default step was infinite, so each
    observation interval was one backward-Euler step (L1 error 0.465 at save_every = 0.5 against
    0.019 at 0.02). The step now also follows the speed of diffusion ``|∇H′(ρ)|``. Measured:
    m = 2 1.55e-2 / 1.38e-2, m = 3 2.56e-2 / 1.71e-2 (save_every 0.5 / 0.02; first order)."""
    prob, grid = PorousMedium(dim=1, m=m), wg.Grid.box([(-2, 2)], 100)
    errors = []
    for save_every in (0.5, 0.02):
        ds = FiniteVolume(prob.energy, grid, scheme="semi-implicit").run(
            prob.initial_density(grid), 0.5, save_every, progress=False
        )
        errors.append(
            grid.integrate(np.abs(ds["density"][-1].values - prob.exact_density(grid, 0.5)))
        )
    assert errors[0] < 0.03 and errors[0] < 1.6 * errors[1], errors
