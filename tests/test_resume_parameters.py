"""``resume`` refuses a checkpoint written with other settings, naming each differing parameter.

For every solver and every kind of parameter (numerical settings, grid, energy or model, seed,
output options), a checkpoint is written by a base solver and resumed by a solver that differs
in that one parameter.
"""

import re

import numpy as np
import pytest

import wgflow as wg
from wgflow.networks import GaussianMixture, NetworkModel
from wgflow.problems import OrnsteinUhlenbeck
from wgflow.solver import parameter_differences
from wgflow.solvers import JKO, SGD, FiniteVolume, Particles

GRID = wg.Grid.box([(-4, 4)], 24)
JKO_GRID = wg.Grid.box([(-4, 4)], 64)  # h² < 4τ/β: the entropic blur can be removed
OU = OrnsteinUhlenbeck(dim=1, diffusion=0.5, mean0=(0.5,), var0=0.3)
OU_OTHER = OrnsteinUhlenbeck(dim=1, diffusion=0.4, mean0=(0.5,), var0=0.3)
MODEL = NetworkModel(GaussianMixture([1.0, -1.0], [0.5, 0.5], [[1.5, 1, 1], [0.5, 1, 1]]), "tanh")
MODEL_OTHER = NetworkModel(
    GaussianMixture([1.0, -1.0], [0.5, 0.5], [[1.4, 1, 1], [0.5, 1, 1]]), "tanh"
)


def schedule(t):
    return 1.0 / (1.0 + t)


def fv(**kw):
    return FiniteVolume(kw.pop("energy", OU.energy), kw.pop("grid", GRID), **kw)


def jko(**kw):
    return JKO(kw.pop("energy", OU.energy), kw.pop("grid", JKO_GRID), **{"tau": 0.05, **kw})


def particles(**kw):
    return Particles(kw.pop("energy", OU.energy), **{"dt": 0.01, "seed": 1, **kw})


def sgd(**kw):
    return SGD(kw.pop("model", MODEL), **{"n_neurons": 6, "step_size": 0.01, "seed": 2, **kw})


SOLVERS = {
    "FiniteVolume": (fv, lambda: OU.initial_density(GRID)),
    "JKO": (jko, lambda: OU.initial_density(JKO_GRID)),
    "Particles": (particles, lambda: np.random.default_rng(0).normal(size=(8, 1))),
    "SGD": (sgd, lambda: None),
}

# (solver, base settings, one parameter changed, the name the error must give)
CHANGES = [
    ("FiniteVolume", {}, {"order": 1}, "order"),
    ("FiniteVolume", {}, {"cfl": 0.5}, "cfl"),
    ("FiniteVolume", {}, {"dt_min": 1e-10}, "dt_min"),
    ("FiniteVolume", {}, {"scheme": "semi-implicit"}, "scheme"),
    ("FiniteVolume", {"scheme": "semi-implicit"}, {"scheme": "semi-implicit", "dt": 0.01}, "dt"),
    ("FiniteVolume", {}, {"grid": wg.Grid.box([(-4, 4)], 24, units="m")}, "grid.units"),
    ("FiniteVolume", {}, {"grid": wg.Grid.box([(-5, 5)], 24)}, "grid"),
    ("FiniteVolume", {}, {"energy": OU_OTHER.energy}, "energy"),
    ("JKO", {}, {"tau": 0.04}, "tau"),
    ("JKO", {}, {"epsilon": 0.05}, "epsilon"),
    ("JKO", {}, {"tolerance": 1e-6}, "tolerance"),
    ("JKO", {}, {"max_iterations": 300}, "max_iterations"),
    ("JKO", {}, {"fixed_point_iterations": 3}, "fixed_point_iterations"),
    ("JKO", {}, {"method": "lagrangian"}, "method"),
    ("JKO", {"epsilon": 0.04}, {"epsilon": 0.04, "debias": False}, "debias"),
    ("JKO", {}, {"energy": OU_OTHER.energy}, "energy"),
    ("Particles", {}, {"dt": 0.02}, "dt"),
    ("Particles", {}, {"seed": 3}, "seed"),
    ("Particles", {}, {"dtype": "float32"}, "dtype"),
    ("Particles", {}, {"domain": [(-50, 50)]}, "domain"),
    ("Particles", {}, {"keep_particles": 4}, "keep_particles"),
    ("Particles", {}, {"energy": OU_OTHER.energy}, "energy"),
    ("SGD", {}, {"n_neurons": 7}, "n_neurons"),
    ("SGD", {}, {"step_size": 0.02}, "step_size"),
    ("SGD", {}, {"seed": 5}, "seed"),
    ("SGD", {}, {"beta": 100.0}, "beta"),
    ("SGD", {}, {"weight_decay": 0.1}, "weight_decay"),
    ("SGD", {}, {"batch_size": 2}, "batch_size"),
    ("SGD", {}, {"schedule": schedule}, "schedule"),
    ("SGD", {}, {"dtype": "float32"}, "dtype"),
    ("SGD", {}, {"noise": "rademacher"}, "noise"),
    ("SGD", {}, {"record_weights": True}, "record_weights"),
    ("SGD", {}, {"model": MODEL_OTHER}, "model"),
]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """One finished checkpoint per (solver, base settings)."""
    out = {}
    for name, base, _, _ in CHANGES:
        key = (name, tuple(sorted(base.items())))
        if key in out:
            continue
        make, initial = SOLVERS[name]
        path = tmp_path_factory.mktemp(name) / "run.nc"
        make(**base).run(initial(), 0.1, 0.05, progress=False, checkpoint=path)
        out[key] = path
    return out


@pytest.mark.parametrize(
    ("name", "base", "change", "parameter"),
    CHANGES,
    ids=[f"{c[0]}-{'-'.join(c[2])}" for c in CHANGES],
)
def test_resume_names_the_differing_parameter(checkpoints, name, base, change, parameter):
    path = checkpoints[(name, tuple(sorted(base.items())))]
    make, _ = SOLVERS[name]
    with pytest.raises(ValueError, match=rf"{re.escape(parameter)}[.:]") as info:
        make(**{**base, **change}).resume(path, progress=False)
    assert name in str(info.value) and "checkpoint" in str(info.value)


@pytest.mark.parametrize("name", list(SOLVERS))
def test_resume_with_identical_settings_is_accepted(checkpoints, name):
    path = checkpoints[(name, ())]
    make, _ = SOLVERS[name]
    ds = make().resume(path, progress=False)
    assert ds.attrs["status"] == "complete" and float(ds["time"][-1]) == pytest.approx(0.1)


def test_parameter_differences_lists_every_nested_difference():
    old = {"tau": 0.1, "grid": {"shape": [24], "units": ["1"]}, "energy": {"internal": None}}
    new = {"tau": 0.2, "grid": {"shape": [24], "units": ["m"]}, "energy": {"internal": {"b": 1}}}
    names = [d[0] for d in parameter_differences(old, new)]
    assert names == ["tau", "grid.units", "energy.internal"]
    assert parameter_differences(old, old) == []
    assert parameter_differences({"x": 1.0}, {"x": 1.0 + 1e-15}) == []
    assert parameter_differences({"x": True}, {"x": 1}) == [("x", True, 1)]


def test_repr_shows_parameters():
    text = repr(jko(epsilon=0.04))
    assert text.startswith("JKO(") and "tau=0.05" in text and "epsilon=0.04" in text
    assert "0x" not in repr(sgd()) and "n_neurons=6" in repr(sgd())
