"""Property-based checks of the finite-volume solver over random admissible inputs."""

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
    assert np.all(np.isfinite(ds["free_energy"]))
