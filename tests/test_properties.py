"""Property-based checks of the finite-volume solver over random admissible inputs."""

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import wgflow as wg
from wgflow.solvers import FiniteVolume

densities = arrays(
    np.float64,
    st.sampled_from([(12,), (6, 5)]),
    elements=st.floats(0.0, 10.0, allow_nan=False, allow_infinity=False),
).filter(lambda a: a.sum() > 1e-3)


@settings(max_examples=30, deadline=None)
@given(
    rho=densities,
    slope=st.floats(-3, 3),
    beta=st.floats(0.5, 20),
    order=st.sampled_from([1, 2]),
    internal=st.sampled_from(["entropy", "porous", "none"]),
    kappa=st.floats(-1, 1),
)
def test_fv_step_conserves_mass_and_positivity(rho, slope, beta, order, internal, kappa):
    grid = wg.Grid.box([(-1, 1)] * rho.ndim, rho.shape)
    terms = {
        "entropy": wg.Entropy(beta),
        "porous": wg.PorousMediumEnergy(2.0, coefficient=1 / beta),
        "none": None,
    }
    energy = wg.FreeEnergy(
        potential=lambda x: slope * x[..., 0] + 0.5 * (x**2).sum(-1),
        interaction=wg.PairwiseInteraction(lambda z: 0.5 * kappa * (z**2).sum(-1)),
        internal=terms[internal],
    )
    ds = FiniteVolume(energy, grid, order=order).run(rho, 0.05, 0.05, progress=False)
    mass = ds["mass"].values
    np.testing.assert_allclose(mass[-1], mass[0], rtol=1e-12)
    assert float(ds["density"].min()) >= 0.0
    energy = ds["free_energy"].values
    assert np.all(np.isfinite(energy))
    # the semi-discrete scheme dissipates E (CCH 2015); the step keeps that up to round-off
    assert energy[-1] <= energy[0] + 1e-12 * np.abs(energy).max()


positive_densities = arrays(
    np.float64,
    st.sampled_from([(10,), (5, 4)]),
    elements=st.floats(0.05, 10.0, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=20, deadline=None)
@given(rho=positive_densities, slope=st.floats(-2, 2), beta=st.floats(0.5, 5))
def test_entropic_jko_step_conserves_mass_and_positivity(rho, slope, beta):
    from wgflow.solvers import JKO

    grid = wg.Grid.box([(-1, 1)] * rho.ndim, rho.shape)
    energy = wg.FreeEnergy(
        potential=lambda x: slope * x[..., 0] + 0.5 * (x**2).sum(-1), internal=wg.Entropy(beta)
    )
    with warnings.catch_warnings():  # coarse random grids: the blur is kept on purpose here
        warnings.simplefilter("ignore", wg.ApproximationWarning)
        solver = JKO(energy, grid, tau=0.05, debias=False)
    ds = solver.run(rho, 0.1, 0.05, progress=False)
    np.testing.assert_allclose(ds["mass"], ds["mass"][0], rtol=1e-10)
    assert float(ds["density"].min()) >= 0 and np.all(np.isfinite(ds["density"]))


@settings(max_examples=15, deadline=None)
@given(
    rho=arrays(np.float64, (40,), elements=st.floats(0.05, 5.0)),
    slope=st.floats(-2, 2),
    m=st.sampled_from([None, 1.5, 2.0, 3.0]),
)
def test_exact_jko_step_lowers_the_energy(rho, slope, m):
    # E(ρ_{k+1}) + W2²/(2τ) ≤ E(ρ_k) for the exact (Lagrangian) JKO step
    from wgflow.solvers import JKO

    grid = wg.Grid.box([(-2, 2)], 40)
    internal = wg.Entropy(2.0) if m is None else wg.PorousMediumEnergy(m)
    energy = wg.FreeEnergy(
        potential=wg.Potential(
            lambda x: slope * x[..., 0] + x[..., 0] ** 2, gradient=lambda x: slope + 2 * x
        ),
        internal=internal,
    )
    ds = JKO(energy, grid, tau=0.05, method="lagrangian", n_quantiles=30).run(
        rho, 0.05, 0.05, progress=False
    )
    e0, e1 = ds["free_energy"].values
    w2 = float(ds["step_w2"][-1])
    assert e1 + w2**2 / (2 * 0.05) <= e0 + 1e-9 * max(1.0, abs(e0))


# points on a 1/8 lattice: translations by lattice vectors are exact in floating point
positions = (
    arrays(
        np.int64,
        st.tuples(st.integers(2, 25), st.just(2)),
        elements=st.integers(-24, 24),
        unique=False,
    )
    .filter(lambda a: len({tuple(r) for r in a}) == len(a))
    .map(lambda a: a / 8.0)
)


@settings(max_examples=30, deadline=None)
@given(x=positions, data=st.data())
def test_particle_drift_is_permutation_invariant_and_translation_equivariant(x, data):
    from wgflow.solvers.particles import interaction_gradient

    n = x.shape[0]
    w = np.full(n, 1.0 / n)
    perm = data.draw(st.permutations(range(n)))
    shift = np.array(data.draw(st.tuples(st.integers(-40, 40), st.integers(-40, 40)))) / 8.0
    for term in (wg.PairwiseInteraction.power_law(2.0, 1.0), wg.PairwiseInteraction.gaussian()):
        forces = interaction_gradient(term, x, w)
        np.testing.assert_allclose(
            interaction_gradient(term, x[perm], w), forces[perm], rtol=1e-9, atol=1e-12
        )
        np.testing.assert_allclose(
            interaction_gradient(term, x + shift, w), forces, rtol=1e-6, atol=1e-9
        )


@settings(max_examples=25, deadline=None)
@given(
    shape=st.sampled_from([(4,), (3, 5)]),
    n_time=st.integers(1, 4),
    values=st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False),
    title=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20),
    number=st.integers(-(2**31), 2**31 - 1),
)
def test_save_open_round_trip_for_random_datasets(
    tmp_path_factory, shape, n_time, values, title, number
):
    import xarray as xr

    grid = wg.Grid.box([(0, 1)] * len(shape), shape)
    rng = np.random.default_rng(abs(number))
    data = rng.normal(size=(n_time, *shape)) * values
    ds = xr.Dataset(
        {
            "density": xr.DataArray(
                data, dims=("time", *grid.axes), attrs={"units": "1", "long_name": "field"}
            )
        },
        coords={
            "time": xr.DataArray(np.arange(n_time) * 0.5, dims="time", attrs=wg.io.TIME_ATTRS),
            **wg.io.grid_coords(grid),
        },
        attrs={"title": title, "number": number, "Conventions": "CF-1.10"},
    )
    path = tmp_path_factory.mktemp("rt") / "x.nc"
    xr.testing.assert_identical(wg.open(wg.save(ds, path)), ds)
