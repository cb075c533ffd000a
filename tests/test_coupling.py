"""The proof's coupled dynamics (PDE, ND, PD, GD, SGD) and the global-convergence experiment."""

import numpy as np
import pytest

from wgflow.studies import coupling, global_convergence
from wgflow.studies.sgd_vs_pde import uniform_radial

SMALL = {"d": 40, "t_final": 1.0, "save_every": 0.25}


@pytest.fixture(scope="module")
def run():
    return coupling.coupled_dynamics(n_neurons=100, step_size=2e-3, **SMALL)


def test_terms_are_finite_and_bound_the_total_gap(run):
    gap, total = run["gap"].values, run["total"].values
    assert np.all(np.isfinite(gap)) and np.all(np.isfinite(run["risk"].values))
    assert np.all(total <= gap.sum(axis=0) + 1e-12)  # triangle inequality at every time
    risk = run["risk"].sel(dynamics=["ND", "PD", "GD", "SGD"]).isel(time=0).values
    assert np.ptp(risk) < 1e-12  # one shared initial sample
    assert float(run["risk"].sel(dynamics="PDE").isel(time=-1)) < 0.9  # the flow does descend


def test_pd_gd_term_shrinks_when_eps_halves(run):
    half = coupling.coupled_dynamics(n_neurons=100, step_size=1e-3, **SMALL)
    a = float(run["sup_term"].sel(term="PD-GD"))
    b = float(half["sup_term"].sel(term="PD-GD"))
    print(f"\nsup PD–GD at ε = 2e-3, 1e-3: {a:.2e}, {b:.2e}")
    assert 1.6 < a / b < 2.5  # first order in ε
    # ND and PD do not depend on ε: same numbers
    np.testing.assert_allclose(
        run["risk"].sel(dynamics=["PDE", "ND", "PD"]),
        half["risk"].sel(dynamics=["PDE", "ND", "PD"]),
        rtol=1e-6,
    )


def test_mean_field_terms_shrink_when_n_quadruples():
    sup = {}
    for n in (50, 200):
        runs = [
            coupling.coupled_dynamics(n_neurons=n, step_size=5e-3, seed=s, **SMALL)
            for s in range(3)
        ]
        sup[n] = np.mean([r["sup_term"].values for r in runs], axis=0)
    terms = list(coupling.TERMS)
    print(f"\nsup terms {terms}: N=50 {np.round(sup[50], 5)}, N=200 {np.round(sup[200], 5)}")
    for term in ("PDE-ND", "ND-PD"):
        k = terms.index(term)
        assert sup[200][k] < 0.8 * sup[50][k], term


def test_coupling_input_is_checked():
    with pytest.raises(ValueError, match="save_every"):
        coupling.coupled_dynamics(d=40, n_neurons=10, step_size=3e-3, save_every=0.25)
    with pytest.raises(ValueError, match="s0"):
        coupling.coupled_dynamics(d=40, s0=40, n_neurons=10)


def test_global_convergence_samples_grow_linearly_in_d(tmp_path):
    ds = global_convergence.global_convergence_study(
        scheduler="synchronous",
        output=str(tmp_path / "gc.nc"),
        progress=False,
        **global_convergence.QUICK,
    )
    samples = ds["samples"].mean("seed").values
    print(
        f"\nsamples to reach inf R + η for d = 40, 80, 160: {np.round(samples)}; "
        f"slope {ds.attrs['slope']:.3f} [{ds.attrs['slope_low']:.3f}, {ds.attrs['slope_high']:.3f}]"
    )
    assert np.all(ds["reached"].values == 1.0)
    assert 0.85 < ds.attrs["slope"] < 1.15  # n = O(d): the time t = kε to converge is d-free
    assert 0.8 < ds.attrs["inf_risk"] < 0.9


def test_global_convergence_input_is_checked():
    with pytest.raises(ValueError, match="gamma"):
        global_convergence.initial_risk(gamma=1.0)
    with pytest.raises(ValueError, match="eta"):
        global_convergence.global_convergence_study(eta=-0.1, d_values=(40,), progress=False)
    far = uniform_radial(3.0, 3.5)  # huge neurons: R_(d=∞)(ρ̄0) ≥ 1, allowed with a warning
    with pytest.warns(UserWarning, match="R_\\(d=∞\\)"):
        assert global_convergence.initial_risk(radial=far) >= 1


def test_nd_can_be_driven_by_a_given_pde_dataset(run):
    import wgflow as wg
    from wgflow.problems import AnisotropicGaussians
    from wgflow.solvers import FiniteVolume

    red = AnisotropicGaussians(d=40, s0=10, delta=0.5).reduced(mehler_order=2)
    grid = red.grid(64, 1.5)
    big = uniform_radial()(200_000, np.random.default_rng(np.random.SeedSequence([0, 8])))
    pde = FiniteVolume(red.energy, grid).run(
        wg.ParticleMeasure(big).histogram(grid).density, 1.0, 0.005, progress=False
    )
    given = coupling.coupled_dynamics(n_neurons=100, step_size=2e-3, pde=pde, **SMALL)
    np.testing.assert_allclose(given["risk"], run["risk"], rtol=1e-10)
    with pytest.raises(ValueError, match="pde"):
        coupling.coupled_dynamics(n_neurons=10, step_size=2e-3, pde=pde.isel(time=[0, 1]), **SMALL)
