"""Nothing lost at the seams of a run: mid-run failures, resumes and the checks before work.

Each test reproduces a failure found by probing the run surfaces (the driver, the solvers'
resume check, the SGD schedule, user drifts) and fails on the code before its fix.
"""

import numpy as np
import pytest

import wgflow as wg
from wgflow.drift import MeanFieldDrift
from wgflow.fingerprint import fingerprint
from wgflow.networks import GaussianMixture, NetworkModel
from wgflow.problems import OrnsteinUhlenbeck
from wgflow.solvers import SGD, FiniteVolume, Particles
from wgflow.trackers import Tracker

from .test_checkpoint import InterruptAt


def network():
    scales = np.ones((2, 5))
    scales[0, :2], scales[1, :2] = 1.5, 0.5
    return NetworkModel(GaussianMixture([1.0, -1.0], [0.5, 0.5], scales), "relu", "w")


def with_drift(energy, drift):
    return wg.FreeEnergy(
        potential=energy.potential_term, internal=energy.internal, drift=drift, dim=1
    )


def sgd(**kwargs):
    return SGD(network(), n_neurons=10, step_size=0.01, seed=3, **kwargs)


@pytest.mark.parametrize(
    "save_every, spacing", [(0.035, "linear"), (0.0035, "log")], ids=["3.5-steps", "log"]
)
def test_sgd_resume_between_whole_steps_is_bit_for_bit(tmp_path, save_every, spacing):
    """Observation times between whole steps: the resumed run observes each time once."""
    full = sgd().run(None, 1.0, save_every, spacing=spacing, progress=False)
    assert np.all(np.diff(full["time"].values) > 0)
    path = tmp_path / "c.nc"
    with pytest.raises(wg.RunInterrupted):
        sgd().run(
            None, 1.0, save_every, spacing=spacing, progress=False, checkpoint=path,
            trackers=[InterruptAt(0.3)],
        )  # fmt: skip
    resumed = sgd().resume(path, progress=False)
    np.testing.assert_array_equal(resumed["time"].values, full["time"].values)
    np.testing.assert_array_equal(resumed["risk"].values, full["risk"].values)


def _bad_from(t_bad):
    def velocity(x, m):
        return np.full(x.shape, np.nan) if velocity.t >= t_bad else -x

    velocity.t = 0.0
    return velocity


class Clock(Tracker):
    """Tells the drift the time (a drift that fails only after t_bad)."""

    def __init__(self, velocity):
        self.velocity = velocity

    def handle(self, solver, state, t):
        self.velocity.t = t


def test_mid_run_non_finite_drift_stops_with_snapshots_and_checkpoint(tmp_path):
    ou = OrnsteinUhlenbeck(dim=1, diffusion=0.5, mean0=(0.5,), var0=0.3)
    velocity = _bad_from(0.5)
    energy = with_drift(ou.energy, MeanFieldDrift(velocity, name="late-nan"))
    grid = wg.Grid.box([(-4, 4)], 40)
    path = tmp_path / "c.nc"
    with pytest.raises(wg.BlowUpError) as info:
        FiniteVolume(energy, grid).run(
            ou.initial_density(grid), 1.0, 0.1, progress=False, checkpoint=path,
            checkpoint_every=0.5, trackers=[Clock(velocity)],
        )  # fmt: skip
    stop = info.value
    assert "non-finite velocity" in str(stop) and stop.time == pytest.approx(0.5)
    assert stop.dataset["time"].values[-1] == pytest.approx(0.5)
    saved = wg.open(path)  # the last good state reached disk
    assert saved.attrs["checkpoint_time"] == pytest.approx(0.5)
    assert saved.attrs["status"].startswith("stopped")


def test_bad_input_at_t0_stays_a_plain_error():
    """A drift wrong from the start is bad input: a ValueError, not a blow-up."""
    ou = OrnsteinUhlenbeck(dim=1, diffusion=0.5, mean0=(0.5,), var0=0.3)
    energy = with_drift(ou.energy, MeanFieldDrift(lambda x, m: x[..., :0], name="shape"))
    grid = wg.Grid.box([(-4, 4)], 40)
    with pytest.raises(ValueError, match="shape") as info:
        FiniteVolume(energy, grid).run(ou.initial_density(grid), 1.0, progress=False)
    assert not isinstance(info.value, wg.RunStopped)


def test_sgd_schedule_refused_before_the_run_with_the_time():
    def schedule(t):
        return np.where(t < 0.55, 1.0, -1.0)

    with pytest.raises(ValueError, match=r"schedule: .*ξ\(0\.55") as info:
        sgd(schedule=schedule).run(None, 1.0, progress=False)
    assert not isinstance(info.value, wg.RunStopped)


def test_drift_parameters_must_be_json_before_the_run():
    with pytest.raises(ValueError, match="parameters: need JSON"):
        MeanFieldDrift(lambda x, m: -x, parameters={"f": lambda: 0})
    with pytest.raises(TypeError, match="parameters: need a dict"):
        MeanFieldDrift(lambda x, m: -x, parameters=[1, 2])


def test_complex_drift_refused():
    drift = MeanFieldDrift(lambda x, m: 1j * x, name="rot")
    with pytest.raises(ValueError, match="imaginary"):
        drift.velocity_at(np.ones((3, 2)), np.zeros(0))


def test_resume_accepts_its_own_checkpoint_with_nan_parameters(tmp_path):
    ou = OrnsteinUhlenbeck(dim=1, diffusion=0.5, mean0=(0.5,), var0=0.3)
    drift = MeanFieldDrift(lambda x, m: 0 * x, name="zero", parameters={"gain": float("nan")})
    grid = wg.Grid.box([(-4, 4)], 30)
    path = tmp_path / "c.nc"
    with pytest.raises(wg.RunInterrupted):
        FiniteVolume(with_drift(ou.energy, drift), grid).run(
            ou.initial_density(grid), 1.0, 0.1, progress=False, checkpoint=path,
            trackers=[InterruptAt(0.3)],
        )  # fmt: skip
    done = FiniteVolume(with_drift(ou.energy, drift), grid).resume(path, progress=False)
    assert done.attrs["status"] == "complete"


def test_resume_refuses_a_changed_lambda_schedule(tmp_path):
    path = tmp_path / "c.nc"
    with pytest.raises(wg.RunInterrupted):
        sgd(schedule=lambda t: 1.0 + 0 * t).run(
            None, 1.0, 0.1, progress=False, checkpoint=path, trackers=[InterruptAt(0.3)]
        )
    with pytest.raises(ValueError, match="schedule"):
        sgd(schedule=lambda t: 0.5 + 0 * t).resume(path, progress=False)
    sgd(schedule=lambda t: 1.0 + 0 * t).resume(path, progress=False)  # the same code: accepted


def test_resume_refuses_a_changed_custom_potential(tmp_path):
    grid = wg.Grid.box([(-4, 4)], 30)
    rho = np.exp(-grid.points()[..., 0] ** 2)

    def energy(k):
        return wg.FreeEnergy(potential=wg.Potential(lambda x: k * x[..., 0] ** 2 / 2, name="V"),
                             internal=wg.Entropy(1.0))  # fmt: skip

    path = tmp_path / "c.nc"
    with pytest.raises(wg.RunInterrupted):
        FiniteVolume(energy(1.0), grid).run(
            rho, 1.0, 0.1, progress=False, checkpoint=path, trackers=[InterruptAt(0.3)]
        )
    with pytest.raises(ValueError, match="potential.code"):
        FiniteVolume(energy(2.0), grid).resume(path, progress=False)
    FiniteVolume(energy(1.0), grid).resume(path, progress=False)


def test_fingerprint_of_library_kernels_and_partials_is_stable():
    import functools

    for make in (
        lambda: wg.PairwiseInteraction.newtonian(chi=2.0, dim=2),
        lambda: wg.PairwiseInteraction.morse(),
        lambda: wg.PairwiseInteraction.gaussian(1.0),
        lambda: wg.PairwiseInteraction.radial_profile(np.exp, name="e"),
    ):
        a, b = make().describe()["code"], make().describe()["code"]
        assert a == b and a.startswith("code:")
    assert fingerprint(functools.partial(np.add, 1)) == fingerprint(functools.partial(np.add, 1))
    assert fingerprint(functools.partial(np.add, 1)) != fingerprint(functools.partial(np.add, 2))


def test_particles_drift_non_finite_mid_run_is_a_blow_up(tmp_path):
    ou = OrnsteinUhlenbeck(dim=1, diffusion=0.5, mean0=(0.5,), var0=0.3)
    velocity = _bad_from(0.3)
    energy = with_drift(ou.energy, MeanFieldDrift(velocity, name="late-nan"))
    with pytest.raises(wg.BlowUpError) as info:
        Particles(energy, dt=0.01, seed=1).run(
            np.random.default_rng(0).normal(size=(40, 1)), 1.0, 0.1, progress=False,
            trackers=[Clock(velocity)],
        )  # fmt: skip
    assert info.value.dataset is not None and info.value.time == pytest.approx(0.3)


# ---- the SGD-vs-PDE comparison: every setting checked before SGD, SGD kept after -------------
BAD_COMPARE = [
    ({"d": 6.5}, "d: need an integer"),
    ({"d": "6"}, "d: need an integer"),
    ({"s0": 2.5}, "s0: need an integer"),
    ({"exact_risk": "no"}, "exact_risk: need True, False or None"),
    ({"pde_particles": -5, "trained": "abw"}, "pde_particles: need an integer ≥ 1"),
    ({"pde_particles": 0, "trained": "abw"}, "pde_particles: need an integer ≥ 1"),
    ({"pde_dt": 0.0, "trained": "abw"}, "pde_dt"),
    ({"pde_particles": 100}, "pde_particles: not used here"),
    ({"cells": 32, "trained": "abw"}, "cells: not used here"),
    ({"cells": 2}, "cells: need an integer ≥ 4"),
    ({"cells": -5}, "cells: need an integer"),
    ({"r_max": float("nan")}, "r_max"),
    ({"r_max": float("inf")}, "r_max"),
    ({"save_every": 5.0}, "save_every: must lie in"),
    ({"seed": -1}, "seed: need an integer ≥ 0"),
    ({"radial": 3}, "radial: need a callable"),
    ({"progress": "yes"}, "progress: need True or False"),
]


@pytest.mark.parametrize("kwargs, message", BAD_COMPARE, ids=[str(k) for k, _ in BAD_COMPARE])
def test_compare_refuses_bad_settings_before_sgd_runs(monkeypatch, kwargs, message):
    from wgflow.studies import comparison as sgd_vs_pde

    class NoSGD:
        def __init__(self, *args, **kwargs):
            raise AssertionError("SGD ran before the settings were checked")

    monkeypatch.setattr(sgd_vs_pde, "SGD", NoSGD)
    with pytest.raises(ValueError, match=message):
        sgd_vs_pde.compare(**{"d": 20, "n_neurons": 10, "t_final": 2.0, **kwargs})


def test_compare_keeps_sgd_when_the_pde_stops():
    """The PDE reaches the wall of a too-small r_max after SGD finished: SGD is archived."""
    from wgflow.studies.sgd_vs_pde import compare

    with pytest.raises(wg.BoundaryReached) as info:
        compare(d=40, n_neurons=50, step_size=2e-3, t_final=4.0, save_every=0.5, r_max=0.9,
                cells=16)  # fmt: skip
    ds = info.value.dataset
    assert ds.attrs["status"] == "incomplete" and "PDE stopped" in ds.attrs["stage"]
    assert ds["risk_sgd"].sizes["time"] == 9 and np.all(np.isfinite(ds["risk_sgd"]))
    assert ds["particle_r1"].sizes["particle"] == 50
    assert 1 < ds["risk_pde_full"].sizes["pde_time"] < 9  # the PDE's snapshots before the stop


def test_overwrite_and_checkpoint_every_are_typed(tmp_path):
    ou = OrnsteinUhlenbeck(dim=1, diffusion=0.5, mean0=(0.5,), var0=0.3)
    grid = wg.Grid.box([(-4, 4)], 20)
    path = tmp_path / "c.nc"
    FiniteVolume(ou.energy, grid).run(ou.initial_density(grid), 0.2, progress=False,
                                      checkpoint=path)  # fmt: skip
    before = path.read_bytes()
    with pytest.raises(ValueError, match="overwrite: need True or False"):
        FiniteVolume(ou.energy, grid).run(
            ou.initial_density(grid), 0.2, progress=False, checkpoint=path, overwrite="no"
        )
    assert path.read_bytes() == before  # the existing checkpoint is untouched
    with pytest.raises(ValueError, match="checkpoint_every: needs checkpoint="):
        FiniteVolume(ou.energy, grid).run(
            ou.initial_density(grid), 0.2, progress=False, checkpoint_every=0.1
        )


@pytest.mark.parametrize("field", ["weights", "a", "b"])
def test_teacher_values_that_overflow_are_refused(field):
    from wgflow.problems import TeacherNetwork

    kwargs = {"weights": np.eye(2), "a": np.ones(2), "b": np.zeros(2)}
    kwargs[field] = np.where(np.eye(2)[0] > 0, 1e200, kwargs[field][0])
    if field == "weights":
        kwargs[field] = np.array([[1e200, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=f"{field}: need"):
        TeacherNetwork(**kwargs)


def test_compare_names_label_noise_and_refuses_huge_dimensions():
    from wgflow.studies.sgd_vs_pde import compare

    with pytest.raises(ValueError, match="label_noise: must lie in"):
        compare(problem="teacher-student", label_noise=1e200)
    with pytest.raises(ValueError, match="d: the problem's vectors .* reduce d"):
        compare(d=10**12)


def test_particle_risk_needs_points():
    from wgflow.problems import AnisotropicGaussians

    reduced = AnisotropicGaussians(d=20, s0=5, delta=0.5).reduced()
    with pytest.raises(ValueError, match=r"points: need shape \(n, 2\) with n ≥ 1"):
        reduced.particle_risk(np.zeros((0, 2)))


def test_fingerprint_of_a_closure_that_reaches_itself():
    """A drift whose closure holds itself (it reads its own attributes) is comparable."""

    def make(gain):
        def velocity(x, m):
            return -gain * x * velocity.scale

        velocity.scale = 1.0
        return velocity

    a, b, c = fingerprint(make(1.0)), fingerprint(make(1.0)), fingerprint(make(2.0))
    assert a == b and a != c and a.startswith("code:")
