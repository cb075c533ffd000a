"""Every row of README's "Validated input" table, tried."""

import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import wgflow as wg
from tests.sweep_functions import model_run
from wgflow.networks import GaussianMixture, NetworkModel
from wgflow.problems import (
    AnisotropicGaussians,
    DoubleWellPorousMedium,
    KellerSegel,
    MorseSwarm,
    OrnsteinUhlenbeck,
    PorousMedium,
    TeacherNetwork,
    TeacherStudent,
    TwoLayerNN,
)
from wgflow.solvers import JKO, SGD, FiniteVolume, Particles
from wgflow.studies import coupling, global_convergence, presets, sgd_vs_pde
from wgflow.studies.cli import main
from wgflow.sweep import sweep
from wgflow.trackers import BoundaryGuard, ConcentrationGuard

README = Path(__file__).resolve().parents[1] / "README.md"
GRID = wg.Grid.box([(-1, 1)], 8)
OU = OrnsteinUhlenbeck(dim=1)
RHO = OU.initial_density(GRID)
DIRAC0, DIRAC1 = wg.ParticleMeasure([[0.0]]), wg.ParticleMeasure([[1.0]])
TEACHER = TeacherNetwork([[1.0, 0.0], [0.0, 1.0]])
MODEL = NetworkModel(GaussianMixture([1.0, -1.0], [0.5, 0.5], np.ones((2, 3))), "relu", "w")


class Cubic:
    """Convex, but neither an entropy nor a porous medium: particles have no scheme for it."""

    convex = True
    density = derivative = diffusivity = staticmethod(lambda r: r**3)

    def describe(self):
        return {}


class Concave:
    convex = False
    density = derivative = diffusivity = staticmethod(lambda r: -np.sqrt(r))

    def describe(self):
        return {}


def _save_bad_attr(tmp):
    ds = FiniteVolume(OU.energy, GRID).run(RHO, 0.1, progress=False)
    ds.attrs["flag"] = True
    wg.save(ds, tmp / "x.nc")


def _checkpoint_twice(tmp):
    FiniteVolume(OU.energy, GRID).run(RHO, 0.1, checkpoint=tmp / "c.nc")
    FiniteVolume(OU.energy, GRID).run(RHO, 0.1, checkpoint=tmp / "c.nc")


def _sweep_other_names(tmp):
    sweep(model_run, {"a": [1], "seed": [0]}, "synchronous", output=tmp / "s.nc")
    sweep(model_run, {"b": [1], "seed": [0]}, "synchronous", output=tmp / "s.nc")


def _cli_from_other_job(tmp):
    wg.save(xr.Dataset(attrs={"job": "flagship", "job_parameters": "{}"}), tmp / "f.nc")
    main(["run", "ou", "--from", str(tmp / "f.nc")])


def _sweep_reserved_name(tmp):
    sweep(model_run, {"sweep_status": [1], "seed": [0]}, "synchronous", output=tmp / "s.nc")


def _cli_from_broken_parameters(tmp):
    wg.save(xr.Dataset(attrs={"job": "ou", "job_parameters": '{"cells": '}), tmp / "b.nc")
    main(["run", "--from", str(tmp / "b.nc")])


def _cli_from_a_list(tmp):
    wg.save(xr.Dataset(attrs={"job": "ou", "job_parameters": "[1, 2]"}), tmp / "b.nc")
    main(["run", "--from", str(tmp / "b.nc")])


def _cli_from_unknown_setting(tmp):
    wg.save(xr.Dataset(attrs={"job": "ou", "job_parameters": '{"viscosity": 1}'}), tmp / "b.nc")
    main(["run", "--from", str(tmp / "b.nc")])


def _drawable_archive(tmp, name):
    ds = FiniteVolume(OU.energy, GRID).run(RHO, 0.1, progress=False)
    wg.save(ds, tmp / name)
    return tmp / name


def _cli_plot_over_itself(tmp):
    main(["plot", str(_drawable_archive(tmp, "x.png"))])


def _cli_plot_to_a_link(tmp):
    archive = _drawable_archive(tmp, "x.nc")
    (tmp / "link.png").symlink_to(archive)
    main(["plot", str(archive), "--figure", str(tmp / "link.png")])


def _cli_sweep_config(tmp, parameters="a = [1]\nseed = [0]"):
    config = tmp / "s.toml"
    config.write_text(
        f'function = "tests.sweep_functions:model_run"\noutput = "{tmp / "s.nc"}"\n'
        f"[parameters]\n{parameters}\n"
    )
    return str(config)


def _cli_binary_config(tmp):
    (tmp / "b.toml").write_bytes(bytes(range(256)))
    main(["sweep", str(tmp / "b.toml")])


def _open_junk(tmp):
    (tmp / "junk.nc").write_text("junk")
    wg.open(tmp / "junk.nc")


CASES = {
    ("Grid.box", "bounds"): [
        lambda t: wg.Grid.box([(1, 0)], 4),
        lambda t: wg.Grid.box([(0, np.inf)], 4),
        lambda t: wg.Grid.box([(-1e308, 1e308)], 4),
        lambda t: wg.Grid.box([(0, 1)] * 4, 4),
    ],
    ("Grid.box", "shape"): [
        lambda t: wg.Grid.box([(0, 1)], 1),
        lambda t: wg.Grid.box([(0, 1)] * 2, (3,)),
        lambda t: wg.Grid.box([(0, 1)], 8.7),
        lambda t: wg.Grid.box([(0, 1)], [8.7]),
        lambda t: wg.Grid.box([(0, 1)], "8"),
    ],
    ("GridMeasure", "density"): [
        lambda t: wg.GridMeasure(GRID, np.ones(7)),
        lambda t: wg.GridMeasure(GRID, RHO * np.nan),
        lambda t: wg.GridMeasure(GRID, -RHO),
        lambda t: wg.GridMeasure(GRID, 0 * RHO),
        lambda t: wg.GridMeasure(GRID, RHO + 0j),
    ],
    ("ParticleMeasure", "positions"): [
        lambda t: wg.ParticleMeasure([[np.nan]]),
        lambda t: wg.ParticleMeasure(np.zeros((0, 2))),
    ],
    ("ParticleMeasure", "weights"): [
        lambda t: wg.ParticleMeasure(np.zeros((2, 1)), [1, -1]),
        lambda t: wg.ParticleMeasure(np.zeros((2, 1)), [1]),
        lambda t: wg.ParticleMeasure(np.zeros((2, 1)), [0, 0]),
    ],
    ("Entropy", "beta"): [
        lambda t: wg.Entropy(0),
        lambda t: wg.Entropy(np.nan),
        lambda t: wg.Entropy(np.inf),
    ],
    ("PorousMediumEnergy", "m"): [
        lambda t: wg.PorousMediumEnergy(1.0),
        lambda t: wg.PorousMediumEnergy(np.inf),
    ],
    ("PairwiseInteraction.gaussian", "width"): [
        lambda t: wg.PairwiseInteraction.gaussian(1.0, 0.0),
        lambda t: wg.PairwiseInteraction.gaussian(1.0, 1e-200),
        lambda t: wg.PairwiseInteraction.gaussian(1.0, 1e200),
    ],
    ("PairwiseInteraction.power_law", "repulsion_exponent"): [
        lambda t: wg.PairwiseInteraction.power_law(2.0, 3.0),
        lambda t: wg.PairwiseInteraction.power_law(2.0, -np.inf),
        lambda t: FiniteVolume(
            wg.FreeEnergy(interaction=wg.PairwiseInteraction.power_law(2.0, -5.0)), GRID
        ),
    ],
    ("PairwiseInteraction.power_law", "attraction"): [
        lambda t: wg.PairwiseInteraction.power_law(2.0, 0.0, attraction=-1.0),
        lambda t: wg.PairwiseInteraction.power_law(2.0, 0.0, attraction=np.inf),
        lambda t: wg.PairwiseInteraction.power_law(2.0, 0.0, attraction=np.nan),
    ],
    ("FiniteVolume", "grid"): [
        lambda t: FiniteVolume(OrnsteinUhlenbeck(dim=3).energy, GRID),
        lambda t: FiniteVolume(OU.energy, wg.Grid.box([(0, 1)] * 2, 4)),
    ],
    ("FreeEnergy", "interaction"): [lambda t: wg.FreeEnergy(interaction="W")],
    ("FreeEnergy", "potential"): [
        lambda t: wg.FreeEnergy(potential=np.array([0.0, np.nan])),
        lambda t: wg.FreeEnergy(potential=lambda x: x[..., 1]).on_grid(GRID),
    ],
    ("PairwiseInteraction.newtonian", "chi"): [
        lambda t: wg.PairwiseInteraction.newtonian(chi=-1.0),
        lambda t: wg.PairwiseInteraction.newtonian(chi=np.nan),
    ],
    ("PairwiseInteraction.newtonian", "dim"): [
        lambda t: wg.PairwiseInteraction.newtonian(dim=4),
        lambda t: FiniteVolume(
            wg.FreeEnergy(interaction=wg.PairwiseInteraction.newtonian(dim=2)), GRID
        ),
    ],
    ("PairwiseInteraction.morse", "attraction_length"): [
        lambda t: wg.PairwiseInteraction.morse(attraction_length=0.0),
    ],
    ("PairwiseInteraction.radial_profile", "profile"): [
        lambda t: wg.PairwiseInteraction.radial_profile(3.0),
    ],
    ("Particles.run", "kernel"): [
        lambda t: Particles(
            wg.FreeEnergy(interaction=wg.PairwiseInteraction(lambda z: z, lambda z: z[..., :1])),
            dt=0.1,
        ).run(np.zeros((4, 2)), 0.1, progress=False),
    ],
    ("KellerSegel", "mass"): [lambda t: KellerSegel(mass=-1.0), lambda t: KellerSegel(mass=np.nan)],
    ("MorseSwarm", "dim"): [lambda t: MorseSwarm(dim=4)],
    ("DoubleWellPorousMedium", "m"): [lambda t: DoubleWellPorousMedium(m=1.0)],
    ("ConcentrationGuard", "min_width"): [lambda t: ConcentrationGuard(min_width=0.0)],
    ("ConcentrationGuard", "action"): [lambda t: ConcentrationGuard(action="stop")],
    ("FreeEnergy", "unknown keyword"): [lambda t: wg.FreeEnergy(potental=lambda x: x)],
    ("FiniteVolume", "order"): [lambda t: FiniteVolume(OU.energy, GRID, order=3)],
    ("FiniteVolume", "integrator"): [
        lambda t: FiniteVolume(OU.energy, GRID, integrator="rk4"),
        lambda t: FiniteVolume(OU.energy, GRID, scheme="semi-implicit", integrator="rkl2"),
    ],
    ("FiniteVolume", "cfl"): [
        lambda t: FiniteVolume(OU.energy, GRID, cfl=0),
        lambda t: FiniteVolume(OU.energy, GRID, cfl=1.5),
    ],
    ("FiniteVolume", "dt"): [
        lambda t: FiniteVolume(OU.energy, GRID, scheme="semi-implicit", dt=0),
        lambda t: FiniteVolume(OU.energy, GRID, dt=0.1),
        lambda t: FiniteVolume(OU.energy, GRID, scheme="semi-implicit", dt=np.inf),
    ],
    ("FiniteVolume", "dt_min"): [
        lambda t: FiniteVolume(OU.energy, GRID, dt_min=0),
        lambda t: FiniteVolume(OU.energy, GRID, dt_min=np.inf),
    ],
    ("FiniteVolume.run", "rho0"): [lambda t: FiniteVolume(OU.energy, GRID).run(-RHO, 1.0)],
    ("FiniteVolume.run", "t_final"): [
        lambda t: FiniteVolume(OU.energy, GRID).run(RHO, 0.0),
        lambda t: FiniteVolume(OU.energy, GRID).run(RHO, np.nan),
    ],
    ("FiniteVolume.run", "save_every"): [
        lambda t: FiniteVolume(OU.energy, GRID).run(RHO, 1.0, -0.1),
        lambda t: FiniteVolume(OU.energy, GRID).run(RHO, 1.0, 2.0),
        lambda t: FiniteVolume(OU.energy, GRID).run(RHO, 1.0, 1e-12),
    ],
    ("Solver.run", "checkpoint"): [
        lambda t: FiniteVolume(OU.energy, GRID).run(RHO, 0.1, checkpoint=t),
        lambda t: FiniteVolume(OU.energy, GRID).run(RHO, 0.1, checkpoint=""),
        lambda t: FiniteVolume(OU.energy, GRID).run(RHO, 0.1, checkpoint=t / "c.txt"),
        lambda t: FiniteVolume(OU.energy, GRID).run(RHO, 0.1, checkpoint=t / "no" / "c.nc"),
        _checkpoint_twice,
        lambda t: FiniteVolume(OU.energy, GRID).run(RHO, 0.1, checkpoint=t / ("é" * 120 + ".nc")),
    ],
    ("Solver.run", "trackers"): [
        lambda t: FiniteVolume(OU.energy, GRID).run(RHO, 0.1, trackers=[1]),
        lambda t: FiniteVolume(OU.energy, GRID).run(RHO, 0.1, trackers=1),
    ],
    ("JKO", "tau"): [
        lambda t: JKO(OU.energy, GRID, tau=0),
        lambda t: JKO(OU.energy, wg.Grid.box([(-5, 5)], 16), tau=0.1),  # 4τ/β = 0.2 < h²
    ],
    ("JKO", "epsilon"): [
        lambda t: JKO(OU.energy, GRID, tau=0.1, epsilon=0),
        lambda t: JKO(OU.energy, GRID, tau=0.1, epsilon=0.5),  # blur 1.25 > 1/β
    ],
    ("JKO", "energy"): [
        lambda t: JKO(wg.FreeEnergy(internal=Concave()), GRID, tau=0.1),
        lambda t: JKO(PorousMedium(dim=1).energy, GRID, tau=0.1),
    ],
    ("JKO", "method"): [
        lambda t: JKO(OU.energy, GRID, tau=0.1, method="exact"),
        lambda t: JKO(
            OrnsteinUhlenbeck(dim=2).energy,
            wg.Grid.box([(0, 1)] * 2, 4),
            tau=0.1,
            method="lagrangian",
        ),
    ],
    ("Particles", "dt"): [lambda t: Particles(OU.energy, dt=0)],
    ("Particles", "replicas"): [lambda t: Particles(OU.energy, dt=0.1, replicas=0)],
    ("Particles", "energy"): [
        lambda t: Particles(wg.FreeEnergy(internal=Cubic()), dt=0.1),
        lambda t: Particles(wg.FreeEnergy(potential=lambda x: x[..., 0]), dt=0.1),
    ],
    ("Particles", "blob_width"): [
        lambda t: Particles(PorousMedium().energy, dt=0.1, blob_width=0),
        lambda t: Particles(OU.energy, dt=0.1, blob_width=0.1),
    ],
    ("Particles", "mollifier"): [
        lambda t: Particles(PorousMedium().energy, dt=0.1, mollifier="box"),
    ],
    ("Particles.run", "x0"): [
        lambda t: Particles(OU.energy, dt=0.1).run([[np.nan]], 1.0),
        lambda t: Particles(OU.energy, dt=0.1).run(np.zeros((0, 1)), 1.0),
        lambda t: Particles(OU.energy, dt=0.1).run(np.zeros((3, 4, 1)), 1.0),
        lambda t: Particles(OU.energy, dt=0.1).run(np.zeros((3, 1)) + 1j, 1.0),
        lambda t: Particles(OU.energy, dt=0.1).run(np.zeros((3, 2)), 1.0),
    ],
    ("Particles.run", "replicas"): [
        lambda t: Particles(OU.energy, dt=0.1, replicas=10**11).run(np.zeros((10, 1)), 1.0)
    ],
    ("Particles", "seed"): [
        lambda t: Particles(OU.energy, dt=0.1, seed=-1),
        lambda t: Particles(OU.energy, dt=0.1, seed=1.5),
        lambda t: Particles(OU.energy, dt=0.1, seed="a"),
    ],
    ("Particles", "keep_particles"): [
        lambda t: Particles(OU.energy, dt=0.1, keep_particles=0),
        lambda t: Particles(OU.energy, dt=0.1, keep_particles=2.5),
    ],
    ("SGD", "n_neurons"): [
        lambda t: SGD(MODEL, 0, 0.1),
        lambda t: SGD(MODEL, 2.5, 0.1),
        lambda t: SGD(MODEL, 10**11, 0.1),
    ],
    ("SGD", "weight_decay"): [
        lambda t: SGD(MODEL, 4, 0.1, weight_decay=-1.0),
        lambda t: SGD(MODEL, 4, 0.1, weight_decay=np.inf),
    ],
    ("SGD", "seed"): [
        lambda t: SGD(MODEL, 4, 0.1, seed=-1),
        lambda t: SGD(MODEL, 4, 0.1, seed="a"),
    ],
    ("SGD", "step_size"): [lambda t: SGD(MODEL, 4, 0)],
    ("SGD", "beta"): [lambda t: SGD(MODEL, 4, 0.1, beta=0)],
    ("SGD", "batch_size"): [lambda t: SGD(MODEL, 4, 0.1, batch_size=0)],
    ("SGD", "noise"): [lambda t: SGD(MODEL, 4, 0.1, noise="uniform")],
    ("SGD.run", "theta0"): [
        lambda t: SGD(MODEL, 4, 0.1).run(np.zeros((4, 2)), 1.0),
        lambda t: SGD(MODEL, 4, 0.1).run(np.full((4, 3), np.nan), 1.0),
        lambda t: SGD(MODEL, 4, 0.1).run(np.zeros((4, 3)) + 1j, 1.0),
    ],
    ("GaussianMixture", "labels"): [
        lambda t: GaussianMixture([np.nan, 1.0], [0.5, 0.5], np.ones((2, 3))),
        lambda t: GaussianMixture([np.inf, 1.0], [0.5, 0.5], np.ones((2, 3))),
        lambda t: GaussianMixture([1j, 1.0], [0.5, 0.5], np.ones((2, 3))),
    ],
    ("GaussianMixture", "rotation"): [
        lambda t: GaussianMixture([1.0], [1.0], np.ones((1, 2)), rotation="x"),
        lambda t: GaussianMixture([1.0], [1.0], np.ones((1, 2)), rotation=np.ones((2, 2))),
    ],
    ("metrics.wasserstein", "p"): [
        lambda t: wg.metrics.wasserstein(DIRAC0, DIRAC1, p=0.5),
        lambda t: wg.metrics.wasserstein(DIRAC0, DIRAC1, p=np.inf),
    ],
    ("sweep", "parameters"): [
        lambda t: sweep(model_run, {}, "synchronous"),
        lambda t: sweep(model_run, {"a": [1, 1], "seed": [0]}, "synchronous"),
        lambda t: sweep(model_run, {"a": [np.nan], "seed": [0]}, "synchronous"),
        lambda t: sweep(model_run, {"a": [1, "x"], "seed": [0]}, "synchronous"),
        lambda t: sweep(model_run, {"a/b": [1], "seed": [0]}, "synchronous", output=t / "s.nc"),
        lambda t: sweep(model_run, {"": [1], "seed": [0]}, "synchronous", output=t / "s.nc"),
        _sweep_reserved_name,
    ],
    ("sweep", "output"): [
        lambda t: sweep(model_run, {"a": [1], "seed": [0]}, "synchronous", output=t),
        lambda t: sweep(model_run, {"a": [1], "seed": [0]}, "synchronous", output=t / "s.txt"),
        _sweep_other_names,
        lambda t: sweep(model_run, {"a": [1]}, "synchronous", output=t / ("a" * 251 + ".nc")),
    ],
    ("sweep", "scheduler"): [
        lambda t: sweep(model_run, {"a": [1], "seed": [0]}, "bogus://nowhere"),
        lambda t: sweep(model_run, {"a": [1], "seed": [0]}, "nowhere"),
        lambda t: sweep(model_run, {"a": [1], "seed": [0]}, "tcp://127.0.0.1:9"),
    ],
    ("NetworkModel", "activation"): [lambda t: NetworkModel(MODEL.data, "swish")],
    ("NetworkModel", "trained"): [lambda t: NetworkModel(MODEL.data, "relu", "ab")],
    ("OrnsteinUhlenbeck", "diffusion"): [lambda t: OrnsteinUhlenbeck(diffusion=0)],
    ("PorousMedium", "m"): [lambda t: PorousMedium(m=1.0)],
    ("wg.save", "path"): [
        lambda t: wg.save(FiniteVolume(OU.energy, GRID).run(RHO, 0.1), t / "no" / "x.nc"),
        lambda t: wg.save(FiniteVolume(OU.energy, GRID).run(RHO, 0.1), t),
        lambda t: wg.save(FiniteVolume(OU.energy, GRID).run(RHO, 0.1), ""),
        lambda t: wg.save(xr.Dataset(), t / ("a" * 240 + ".nc")),
        lambda t: wg.save(xr.Dataset(), t / "a\x00.nc"),
        lambda t: wg.save(xr.Dataset(), t / "a\udcff.nc"),
        lambda t: wg.save(xr.Dataset(), t / "a\\b.nc"),
    ],
    ("wg.save", "ds"): [_save_bad_attr],
    ("wg.open", "path"): [_open_junk, lambda t: wg.open(t)],
    ("wgflow run", "options"): [
        lambda t: main(["run", "nosuchjob"]),
        lambda t: main(["run", "--cells", "x"]),
        lambda t: main(["run", "--output", str(t / "no" / "x.nc")]),
        lambda t: main(["run", "--set", "nosuchkey=1"]),
        lambda t: main(["run", "--set", "n_neurons=1.5"]),
        lambda t: main(["run", "--set", "delta=2.0"]),
        lambda t: main(["run", "--output", str(t)]),
        lambda t: main(["run", "--output", str(t / "a.txt")]),
        lambda t: main(["run", "--figure", str(t / "f.xyz")]),
        lambda t: main(["run", "--output", str(t / "a.nc"), "--figure", str(t / "a.nc")]),
        lambda t: main(["run", "--set", "n_neurons=100000000000"]),
        _cli_from_other_job,
        _cli_from_broken_parameters,
        _cli_from_a_list,
        _cli_from_unknown_setting,
        lambda t: main(["run", ""]),
        lambda t: main(["run", "ou", "--cells", "-5"]),
        lambda t: main(["run", "ou", "--t-final", "inf"]),
        lambda t: main(["run", "ou", "--output", str(t / ("a" * 251 + ".nc"))]),
    ],
    ("wgflow plot", "options"): [
        lambda t: main(["plot", str(t / "none.nc")]),
        _cli_plot_over_itself,
        _cli_plot_to_a_link,
    ],
    ("wgflow sweep", "--scheduler"): [
        lambda t: main(["sweep", _cli_sweep_config(t), "--scheduler", "bogus://nowhere"]),
        lambda t: main(["sweep", _cli_sweep_config(t), "--scheduler", "tcp://127.0.0.1:9"]),
    ],
    ("wgflow sweep", "config"): [
        lambda t: main(["sweep", str(t / "none.toml")]),
        lambda t: main(["sweep", str(t)]),
        _cli_binary_config,
        lambda t: main(["sweep", _cli_sweep_config(t, '"a/b" = [1]'), "--scheduler",
                        "synchronous"]),
    ],
    ("TwoLayerNN", "data"): [lambda t: TwoLayerNN("relu", data=np.ones(3))],
    ("TwoLayerNN", "weight_decay"): [lambda t: TwoLayerNN("relu", MODEL.data, weight_decay=-1.0)],
    ("AnisotropicGaussians", "s0"): [
        lambda t: AnisotropicGaussians(d=5, s0=6, delta=0.5),
        lambda t: AnisotropicGaussians(d=5, s0=0, delta=0.5),
    ],
    ("AnisotropicGaussians", "delta"): [
        lambda t: AnisotropicGaussians(d=5, s0=2, delta=1.0),
        lambda t: AnisotropicGaussians(d=5, s0=2, delta=-0.1),
    ],
    ("AnisotropicGaussians", "activation"): [
        lambda t: AnisotropicGaussians(d=5, s0=2, delta=0.5, activation="gelu")
    ],
    ("AnisotropicGaussians", "trained"): [
        lambda t: AnisotropicGaussians(d=5, s0=2, delta=0.5, trained="bw")
    ],
    ("AnisotropicGaussians.model", "initial_scale"): [
        lambda t: AnisotropicGaussians(d=5, s0=2, delta=0.5).model(initial_scale=0.0)
    ],
    ("ReducedAnisotropic", "mehler_order"): [
        lambda t: AnisotropicGaussians(d=5, s0=2, delta=0.5).reduced(mehler_order=1)
    ],
    ("TeacherNetwork", "weights"): [
        lambda t: TeacherNetwork([[1.0, 0.0], [0.0, 0.0]]),
        lambda t: TeacherNetwork([[np.nan, 1.0]]),
        lambda t: TeacherNetwork(np.zeros((0, 2))),
    ],
    ("TeacherNetwork", "a"): [
        lambda t: TeacherNetwork([[1.0]], a=[0.0]),
        lambda t: TeacherNetwork([[1.0]], a=[1.0, 2.0]),
        lambda t: TeacherNetwork([[1.0]], a=[np.nan]),
    ],
    ("TeacherStudent", "teacher"): [
        lambda t: TeacherStudent(d=1, teacher=TeacherNetwork([[1.0, 0.0]])),
        lambda t: TeacherStudent(d=3, teacher=[[1.0, 0.0]]),
    ],
    ("TeacherStudent", "directions"): [
        lambda t: TeacherStudent(d=3, teacher=TEACHER, directions=[[1, 0, 0], [2, 0, 0]]),
        lambda t: TeacherStudent(d=3, teacher=TEACHER, directions=[[0, 0, 0], [1, 0, 0]]),
        lambda t: TeacherStudent(d=3, teacher=TEACHER, directions=[[1, 0, 0]]),
    ],
    ("TeacherStudent", "noise"): [
        lambda t: TeacherStudent(d=3, teacher=TEACHER, noise=-0.1),
        lambda t: TeacherStudent(d=3, teacher=TEACHER, noise=np.nan),
    ],
    ("ReducedTeacherStudent", "mehler_order"): [
        lambda t: TeacherStudent(d=3, teacher=TEACHER).reduced(mehler_order=2),
    ],
    ("sgd_vs_pde.compare", "problem"): [
        lambda t: sgd_vs_pde.compare(problem="teacher"),
        lambda t: sgd_vs_pde.compare(problem=OU),
    ],
    ("sgd_vs_pde.compare", "k"): [
        lambda t: sgd_vs_pde.compare(problem="anisotropic", k=2),
        lambda t: sgd_vs_pde.compare(problem="anisotropic", teacher_width=2, k=1),
        lambda t: sgd_vs_pde.compare(problem=TeacherStudent(d=3, teacher=TEACHER), k=1),
    ],
    ("sgd_vs_pde.compare", "s0"): [
        lambda t: sgd_vs_pde.compare(problem="teacher-student", s0=2, k=1),
        lambda t: sgd_vs_pde.compare(problem=TeacherStudent(d=3, teacher=TEACHER), s0=2),
    ],
    ("sgd_vs_pde.compare", "correction"): [
        lambda t: sgd_vs_pde.compare(problem="teacher-student", d=8, correction="step-sized"),
        lambda t: sgd_vs_pde.compare(d=8, correction=["collective", "collective"]),
        lambda t: sgd_vs_pde.compare(d=8, correction=3),
    ],
    ("sgd_vs_pde.compare", "r_max"): [
        lambda t: sgd_vs_pde.compare(d=20, n_neurons=5, t_final=0.1, save_every=0.1, r_max=0.5)
    ],
    ("coupling.coupled_dynamics", "save_every"): [
        lambda t: coupling.coupled_dynamics(d=20, n_neurons=5, step_size=3e-3, save_every=0.25)
    ],
    ("sgd_vs_pde.compare", "sgd_t_final"): [
        lambda t: sgd_vs_pde.compare(d=20, n_neurons=5, t_final=0.1, sgd_t_final=0.2),
        lambda t: sgd_vs_pde.compare(d=20, n_neurons=5, t_final=0.1, sgd_t_final=-1.0),
    ],
    ("presets.settings", "step_reading"): [
        lambda t: presets.settings("flagship", step_reading="mmn"),
    ],
    ("BoundaryGuard", "tolerance"): [
        lambda t: BoundaryGuard(tolerance=0.0),
        lambda t: BoundaryGuard(tolerance=1.5),
    ],
    ("global_convergence.initial_risk", "gamma"): [
        lambda t: global_convergence.initial_risk(gamma=0.0),
        lambda t: global_convergence.initial_risk(gamma=1.0),
    ],
    ("global_convergence.global_convergence_study", "eta"): [
        lambda t: global_convergence.global_convergence_study(eta=0.0, progress=False)
    ],
}


def readme_rows():
    text = README.read_text()
    section = text.split("## Validated input", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`") and cells[0] != "entry point":
            rows.append((cells[0].strip("`"), cells[1].strip("`"), cells[3]))
    return rows


def test_every_readme_row_has_cases_and_every_case_a_row():
    assert {(e, p) for e, p, _ in readme_rows()} == set(CASES)


@pytest.mark.parametrize(
    ("entry", "parameter", "error"), readme_rows(), ids=[f"{e}-{p}" for e, p, _ in readme_rows()]
)
def test_readme_row(entry, parameter, error, tmp_path, capsys):
    for case in CASES[(entry, parameter)]:
        if entry.startswith("wgflow "):
            with pytest.raises(SystemExit) as info:
                case(tmp_path)
            assert info.value.code == 2
            assert capsys.readouterr().err.count("\n") == 1
            continue
        expected = {"`ValueError`": ValueError, "`ParameterError`": wg.ParameterError}[error]
        name = {"unknown keyword": "potental", "ds": "flag"}.get(parameter, parameter)
        if (entry, parameter) == ("PairwiseInteraction.power_law", "repulsion_exponent"):
            name = "repulsion_exponent|power-law repulsion"
            with pytest.raises(expected, match=name):
                case(tmp_path)
            continue
        with pytest.raises(expected, match=re.escape(name)):
            case(tmp_path)


def test_range_messages_read_like_intervals():
    from wgflow.validation import check_real

    with pytest.raises(ValueError, match=r"must lie in \(0, inf\), got -1"):
        check_real("beta", -1.0, low=0.0, low_open=True)
    with pytest.raises(ValueError, match=r"must lie in \(0, 1\], got 1.5"):
        check_real("cfl", 1.5, low=0.0, high=1.0, low_open=True)
