"""Particles for nonlinear diffusion: the blob method (Carrillo–Craig–Patacchini 2019).

Accuracy tolerances come from the exact Lagrangian flow of the Barenblatt solution, the
dilation ``X(t) = x(t0) (t/t0)^{α/d}``: transporting the initial particles exactly gives a
measure at ``W2 = (t/t0)^{α/d} W2(t0)`` from the exact law (``W2(t0)`` is the quantization
error of the initial sample), so ``W2(t) ≤ (t/t0)^{α/d} W2(t0) + traj`` with ``traj`` the
particles' RMS distance to their exact trajectories — which is the dynamics error, measured
at ``h^{1.8}`` in 1-D (``benchmarks/bench_blob.py``).
"""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.special import ndtri

import wgflow as wg
from wgflow.problems import DoubleWellPorousMedium, PorousMedium
from wgflow.solvers import FiniteVolume, Particles
from wgflow.solvers.blob_kernels import (
    blob_densities,
    blob_energy,
    blob_energy_numpy,
    blob_gradient,
    blob_gradient_numpy,
)
from wgflow.solvers.particles import default_blob_width

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_blob import barenblatt_particles, w2_to_barenblatt  # noqa: E402


def barenblatt_run(dim, m, n, t_final, **options):
    prob = PorousMedium(dim=dim, m=m)
    x0, w = barenblatt_particles(prob, n, prob.t0)
    start = wg.ParticleMeasure(x0, w)
    dt = Particles(prob.energy, dt=1.0, **options).blob_time_step(start)
    ds = Particles(prob.energy, dt=dt, **options).run(start, t_final, t_final / 4, progress=False)
    x = ds["positions"].values[-1]
    t = prob.t0 + t_final
    scale = (t / prob.t0) ** (prob.alpha / dim)
    traj = math.sqrt(w @ np.sum((x - scale * x0) ** 2, axis=-1))
    return prob, ds, x0, w, traj, scale


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("mollifier", ["gaussian", "quartic"])
@pytest.mark.parametrize("m", [1.5, 2.0, 3.0])
def test_compiled_blob_kernel_matches_numpy(dim, mollifier, m):
    rng = np.random.default_rng(dim)
    for n in (40, 600):  # 600² pairs: the threaded path
        x, w = rng.normal(size=(n, dim)), rng.uniform(0.5, 1.5, n) / n
        got = blob_gradient(x, w, m, 0.7, mollifier, 0.4)
        want = blob_gradient_numpy(x, w, m, 0.7, mollifier, 0.4)
        assert np.max(np.abs(got - want)) <= 1e-12 * np.max(np.abs(want))
        e, e_ref = (
            blob_energy(x, w, m, 0.7, mollifier, 0.4),
            blob_energy_numpy(x, w, m, 0.7, mollifier, 0.4),
        )
        assert abs(e - e_ref) <= 1e-12 * abs(e_ref)


@pytest.mark.parametrize("mollifier", ["gaussian", "quartic"])
@pytest.mark.parametrize("m", [2.0, 3.0])
def test_velocity_is_the_gradient_of_the_regularized_energy(mollifier, m):
    """``w_i g_i = ∂H_δ/∂x_i`` (central differences): a wrong sign or a half-strength
    pressure in the kernel fails here."""
    rng = np.random.default_rng(3)
    x, w = rng.normal(size=(30, 2)), rng.uniform(0.5, 1.5, 30) / 30
    g = blob_gradient(x, w, m, 1.3, mollifier, 0.8)
    step = 1e-6
    for i, k in [(0, 0), (7, 1), (19, 0)]:
        xp, xm = x.copy(), x.copy()
        xp[i, k] += step
        xm[i, k] -= step
        fd = blob_energy(xp, w, m, 1.3, mollifier, 0.8) - blob_energy(xm, w, m, 1.3, mollifier, 0.8)
        assert fd / (2 * step) == pytest.approx(w[i] * g[i, k], rel=1e-6)
    # and the solver's drift is −g (plus nothing else for a pure porous-medium energy)
    solver = Particles(wg.FreeEnergy(internal=wg.PorousMediumEnergy(m, 1.3)), dt=0.1,
                       blob_width=0.8, mollifier=mollifier)  # fmt: skip
    np.testing.assert_allclose(solver.drift(x, w), -g, rtol=1e-14)


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("mollifier", ["gaussian", "quartic"])
def test_mollifiers_have_unit_mass(dim, mollifier):
    """A uniform lattice of density 1 has blob density 1 away from its edges (φ_δ has mass 1:
    a mis-normalized mollifier diffuses at the wrong speed)."""
    h, side = 0.1, {1: 60, 2: 40, 3: 20}[dim]
    axes = [np.arange(side) * h] * dim
    x = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, dim)
    w = np.full(x.shape[0], h**dim)
    centre = np.argmin(np.sum((x - 0.5 * (side - 1) * h) ** 2, axis=-1))
    rho = blob_densities(x, w, mollifier, 0.25 if mollifier == "gaussian" else 0.45)
    assert rho[centre] == pytest.approx(1.0, rel=5e-3)  # δ = 4.5 h: lattice-sum error


def test_default_blob_width_follows_the_documented_formula():
    x = np.random.default_rng(0).uniform([-1.0, 0.0], [3.0, 0.5], size=(400, 2))
    extent = np.ptp(x, axis=0)
    size = math.sqrt(extent[0] * extent[1])
    h = size / math.sqrt(400)
    assert default_blob_width(x[None]) == pytest.approx(size * (h / size) ** 0.99, rel=1e-12)
    prob = PorousMedium(dim=1)
    ds = Particles(prob.energy, dt=1e-4).run(x[:, :1], 1e-4, progress=False)
    assert ds.attrs["blob_width"] == pytest.approx(default_blob_width(x[None, :, :1]))
    assert ds.attrs["mollifier"] == "gaussian"


@pytest.mark.parametrize("m", [2.0, 3.0])
def test_barenblatt_1d(m):
    prob, ds, x0, w, traj, scale = barenblatt_run(1, m, 100, 0.1)
    # measured: traj 3.9e-4 (m = 2), 5.6e-4 (m = 3) with the default δ ≈ h = 0.019·R
    assert traj < 1e-3
    w2 = w2_to_barenblatt(prob, ds["positions"].values[-1], w, prob.t0 + 0.1)
    w2_start = w2_to_barenblatt(prob, x0, w, prob.t0)
    assert w2 <= scale * w2_start + traj
    # the front moved as R(t) ∝ t^{α/d}: the outermost particle (a cell of mass ~1e-4 at the
    # degenerate edge) lags by 1.2 % (m = 2) at N = 100
    outer = ds["positions"].values[-1].max()
    assert outer == pytest.approx(scale * x0.max(), rel=2e-2)
    assert np.all(np.diff(ds["free_energy"].values) < 0)


def test_barenblatt_2d_and_wrong_widths_fail():
    _, _, _, _, traj, _ = barenblatt_run(2, 2.0, 400, 0.05)
    assert traj < 8e-3  # measured 5.5e-3 (h = 0.089, support radius 1.0 at t = 0.15)
    # δ four times too large: the regularization error shows
    _, ds, *_, traj_wide, _ = barenblatt_run(1, 2.0, 100, 0.1, blob_width=0.08)
    assert traj_wide > 2e-3


def test_free_energy_decreases_with_potential_and_interaction_in_3d_with_replicas():
    energy = wg.FreeEnergy(
        potential=wg.Potential(lambda x: 0.5 * (x**2).sum(-1), gradient=lambda x: x),
        interaction=wg.PairwiseInteraction.gaussian(-0.5, 0.7),
        internal=wg.PorousMediumEnergy(2.0, 0.5),
    )
    x0 = np.random.default_rng(1).normal(size=(2, 150, 3))
    solver = Particles(energy, dt=0.02, replicas=2, blob_width=0.5)
    ds = solver.run(x0, 1.0, 0.1, progress=False)
    assert np.all(np.diff(ds["free_energy"].values, axis=0) < 0)
    assert "regularized free energy" in ds["energy"].attrs["long_name"]
    one = Particles(energy, dt=0.02, blob_width=0.5).run(x0[1], 1.0, 0.1, progress=False)
    np.testing.assert_array_equal(one["positions"].values, ds["positions"].values[:, 1])


def test_double_well_steady_state():
    """Equal-mass particles spread over both wells relax to the explicit ``ρ∞``.

    Measured W2 at N = 50/100/200: 0.016/0.0067/0.0035 (≈ N^{-1.1}); the quantization of
    N equal masses on ρ∞'s support alone is ≈ 0.005 at N = 100. (Particles carrying very
    uneven masses resolve the supports' edges poorly: keep the spacing ``w_i/ρ`` ≲ δ.)
    """
    prob = DoubleWellPorousMedium(dim=1, mass=0.1)
    n = 100
    start = wg.ParticleMeasure(np.linspace(-1.6, 1.6, n)[:, None], np.full(n, prob.mass / n))
    ds = Particles(prob.energy, dt=0.018).run(start, 10.0, 5.0, progress=False)
    fine = wg.Grid.box([(-2.0, 2.0)], 4000)
    exact = wg.GridMeasure(fine, prob.steady_state(fine))
    final = wg.ParticleMeasure(ds["positions"].values[-1], ds["weights"].values)
    assert float(wg.metrics.wasserstein(final, exact)) < 0.01
    assert np.all(np.diff(ds["free_energy"].values) < 0)
    # the regularized energy tends to E[ρ∞] (−0.46 % at N = 100, −0.10 % at N = 200)
    assert ds["free_energy"].values[-1] == pytest.approx(prob.minimum_energy, rel=1e-2)


def test_aggregation_diffusion_steady_state_matches_finite_volume():
    energy = wg.FreeEnergy(
        potential=wg.Potential(lambda x: 0.25 * (x**2).sum(-1), gradient=lambda x: 0.5 * x),
        interaction=wg.PairwiseInteraction.gaussian(-1.0, 0.5),
        internal=wg.PorousMediumEnergy(2.0, 0.5),
    )
    grid = wg.Grid.box([(-4.0, 4.0)], 400)
    rho0 = np.exp(-(grid.points()[..., 0] ** 2))
    rho0 /= rho0.sum() * grid.cell_volume
    fv = FiniteVolume(energy, grid, scheme="semi-implicit", dt=0.05)
    fv = fv.run(rho0, 10.0, 5.0, progress=False)  # W2(t = 5, t = 10) = 5e-4: steady
    n = 100  # equal masses at the quantiles of the same Gaussian
    x0 = ndtri((np.arange(n) + 0.5) / n)[:, None] / math.sqrt(2.0)
    dt = Particles(energy, dt=1.0).blob_time_step(x0)
    ds = Particles(energy, dt=dt).run(x0, 10.0, 5.0, progress=False)
    w2 = float(
        wg.metrics.wasserstein(
            wg.ParticleMeasure(ds["positions"].values[-1], ds["weights"].values),
            wg.GridMeasure(grid, fv["density"].values[-1]),
        )
    )
    # measured 0.0100 (N = 100), 0.0072 (N = 200); the grid measure's own quantization (cell
    # centres, h = 0.02) is h/√12 = 0.006
    assert w2 < 0.015


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"blob_width": 0.0}, "blob_width"),
        ({"blob_width": -1.0}, "blob_width"),
        ({"blob_width": float("nan")}, "blob_width"),
        ({"blob_width": float("inf")}, "blob_width"),
        ({"blob_width": "wide"}, "blob_width"),
        ({"mollifier": "box"}, "mollifier"),
    ],
)
def test_bad_blob_parameters_are_refused(options, match):
    with pytest.raises(ValueError, match=match):
        Particles(PorousMedium(dim=1).energy, dt=0.01, **options)


def test_unstable_dt_is_refused_with_the_dt_that_works():
    prob = PorousMedium(dim=1)
    x0 = np.linspace(-0.5, 0.5, 100)[:, None]
    limit = Particles(prob.energy, dt=1.0).blob_time_step(x0)
    with pytest.raises(ValueError, match=r"dt: .*Particles.blob_time_step"):
        Particles(prob.energy, dt=5 * limit).run(x0, 0.1, progress=False)
    Particles(prob.energy, dt=limit).run(x0, 10 * limit, progress=False)


def test_blob_width_refused_for_entropy_and_flat_starts():
    with pytest.raises(ValueError, match="blob_width"):
        Particles(wg.FreeEnergy(internal=wg.Entropy(1.0)), dt=0.01, blob_width=0.1)
    flat = np.zeros((10, 2))
    flat[:, 0] = np.linspace(0, 1, 10)
    with pytest.raises(ValueError, match="blob_width"):
        Particles(PorousMedium(dim=2).energy, dt=0.01).run(flat, 0.1, progress=False)


def test_resume_refuses_other_blob_parameters(tmp_path):
    prob = PorousMedium(dim=1)
    x0 = np.linspace(-0.5, 0.5, 30)[:, None]
    path = tmp_path / "c.nc"
    Particles(prob.energy, dt=1e-3).run(x0, 0.01, 0.005, progress=False, checkpoint=path)
    with pytest.raises(ValueError, match="blob_width"):
        Particles(prob.energy, dt=1e-3, blob_width=0.1).resume(path, progress=False)
    with pytest.raises(ValueError, match="mollifier"):
        Particles(prob.energy, dt=1e-3, mollifier="quartic").resume(path, progress=False)
