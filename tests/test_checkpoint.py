"""Checkpoint and resume: a run interrupted halfway and resumed equals the run in one go."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import wgflow as wg
from wgflow.networks import GaussianMixture, NetworkModel
from wgflow.problems import Aggregation, OrnsteinUhlenbeck, PorousMedium
from wgflow.solvers import JKO, SGD, FiniteVolume, Particles
from wgflow.trackers import Tracker


class InterruptAt(Tracker):
    """Simulates Ctrl-C once the run reaches time ``t``."""

    def __init__(self, t):
        self.t = t

    def handle(self, solver, state, t):
        if t >= self.t - 1e-12:
            raise KeyboardInterrupt


def ou(dim=1):
    return OrnsteinUhlenbeck(dim=dim, diffusion=0.5, mean0=(1.0, 0.5)[:dim], var0=0.3)


def network():
    scales = np.ones((2, 6))
    scales[0, :2], scales[1, :2] = 1.5, 0.5
    return NetworkModel(GaussianMixture([1.0, -1.0], [0.5, 0.5], scales), "tanh", "abw")


# each case: (make a fresh solver, initial condition, run keyword arguments)
CASES = {
    "fv": lambda: (
        lambda: FiniteVolume(ou(2).energy, wg.Grid.box([(-5, 5)] * 2, 24)),
        ou(2).initial_density(wg.Grid.box([(-5, 5)] * 2, 24)),
        {},
    ),
    "fv-semi-implicit": lambda: (
        lambda: FiniteVolume(
            PorousMedium(dim=1).energy,
            wg.Grid.box([(-2, 2)], 60),
            scheme="semi-implicit",
            dt=0.01,
        ),
        PorousMedium(dim=1).initial_density(wg.Grid.box([(-2, 2)], 60)),
        {},
    ),
    "jko-entropic": lambda: (
        lambda: JKO(ou().energy, wg.Grid.box([(-5, 5)], 64), tau=0.1),
        ou().initial_density(wg.Grid.box([(-5, 5)], 64)),
        {},
    ),
    "jko-lagrangian": lambda: (
        lambda: JKO(ou().energy, wg.Grid.box([(-5, 5)], 64), tau=0.1, method="lagrangian"),
        ou().initial_density(wg.Grid.box([(-5, 5)], 64)),
        {},
    ),
    "particles": lambda: (
        lambda: Particles(
            Aggregation(dim=2, diffusion=0.1).energy, dt=0.01, seed=4, replicas=2,
            keep_particles=20,
        ),
        np.random.default_rng(0).normal(size=(50, 2)),
        {},
    ),
    "particles-blob": lambda: (
        lambda: Particles(
            PorousMedium(dim=2).energy, dt=0.01, seed=5, replicas=2, mollifier="quartic"
        ),
        np.random.default_rng(0).normal(size=(2, 40, 2)),
        {},
    ),
    "sgd": lambda: (
        lambda: SGD(
            network(), n_neurons=20, step_size=0.01, seed=2, beta=50.0, record_weights=True
        ),
        None,
        {},
    ),
}


def run(make, initial, kwargs, **extra):
    solver = make()
    return solver, solver.run(initial, 1.0, 0.1, progress=False, **kwargs, **extra)


@pytest.mark.parametrize("case", sorted(CASES))
def test_interrupted_and_resumed_run_equals_one_go_bit_for_bit(case, tmp_path):
    make, initial, kwargs = CASES[case]()
    _, full = run(make, initial, kwargs)
    path = tmp_path / "run.nc"
    with pytest.raises(wg.RunInterrupted) as info:
        run(
            make,
            initial,
            kwargs,
            checkpoint=path,
            checkpoint_every=0.2,
            trackers=[InterruptAt(0.5)],
        )
    assert info.value.dataset.sizes["time"] == 6  # t = 0 … 0.5 recorded, then Ctrl-C
    saved = wg.open(path)
    assert saved.attrs["status"] == "interrupted"
    assert saved.attrs["checkpoint_time"] == pytest.approx(0.5)
    resumed = make().resume(path, progress=False)
    np.testing.assert_array_equal(resumed["time"], full["time"])
    for name in full.data_vars:
        np.testing.assert_array_equal(resumed[name].values, full[name].values, err_msg=name)
    final = wg.open(path)
    assert final.attrs["status"] == "complete" and final.attrs["checkpoint_time"] == 1.0


def test_resume_refuses_a_mismatched_solver(tmp_path):
    grid = wg.Grid.box([(-5, 5)], 32)
    FiniteVolume(ou().energy, grid).run(
        ou().initial_density(grid), 0.2, 0.1, progress=False, checkpoint=tmp_path / "c.nc"
    )
    other = FiniteVolume(ou().energy, wg.Grid.box([(-5, 5)], 40))
    with pytest.raises(ValueError, match="grid"):
        other.resume(tmp_path / "c.nc", progress=False)
    plain = tmp_path / "plain.nc"
    wg.save(
        FiniteVolume(ou().energy, grid).run(ou().initial_density(grid), 0.1, progress=False), plain
    )
    with pytest.raises(ValueError, match="checkpoint"):
        FiniteVolume(ou().energy, grid).resume(plain, progress=False)


def test_blow_up_saves_the_last_good_state(tmp_path):
    grid = wg.Grid.box([(0, 1)], 32)

    class Explode(Tracker):
        def handle(self, solver, state, t):
            if t >= 0.3 - 1e-12:
                raise wg.BlowUpError(t, "test blow-up")

    FV = FiniteVolume(ou().energy, wg.Grid.box([(-5, 5)], 32))
    with pytest.raises(wg.BlowUpError):
        FV.run(
            ou().initial_density(FV.grid),
            1.0,
            0.1,
            progress=False,
            trackers=[Explode()],
            checkpoint=tmp_path / "c.nc",
        )
    saved = wg.open(tmp_path / "c.nc")
    assert saved.attrs["status"].startswith("stopped")
    assert saved.attrs["checkpoint_time"] == pytest.approx(0.3)
    del grid


LONG_RUN = """
import sys
import numpy as np, wgflow as wg
from wgflow.problems import OrnsteinUhlenbeck
from wgflow.solvers import FiniteVolume
prob = OrnsteinUhlenbeck(dim=2, diffusion=0.5, mean0=(1.0, 0.5), var0=0.3)
grid = wg.Grid.box([(-5, 5)] * 2, 64)
print("started", flush=True)
FiniteVolume(prob.energy, grid).run(prob.initial_density(grid), 10.0, 0.005, progress=False,
                                    checkpoint=sys.argv[1])
"""


def start_long_run(path):
    proc = subprocess.Popen(
        [sys.executable, "-c", LONG_RUN, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "started"
    deadline = time.time() + 120
    while not path.exists() and time.time() < deadline:  # wait for the first checkpoints
        time.sleep(0.05)
    time.sleep(1.0)
    return proc


def test_sigkill_during_checkpointing_leaves_a_readable_checkpoint(tmp_path):
    path = tmp_path / "run.nc"
    proc = start_long_run(path)
    proc.send_signal(signal.SIGKILL)  # checkpoints are written back to back: likely mid-write
    proc.wait(timeout=30)
    saved = wg.open(path)
    assert saved.attrs["checkpoint_time"] > 0 and saved.sizes["time"] >= 2
    assert np.all(np.isfinite(saved["density"]))
    solver = FiniteVolume(
        OrnsteinUhlenbeck(dim=2, diffusion=0.5, mean0=(1.0, 0.5), var0=0.3).energy,
        wg.Grid.box([(-5, 5)] * 2, 64),
    )
    state = solver.restore_state(
        {"rho": saved["checkpoint__rho"].values}, {"t": saved.attrs["checkpoint_time"], "steps": 0}
    )
    assert state.t == saved.attrs["checkpoint_time"]


def test_sigint_stops_and_saves_a_valid_archive(tmp_path):
    path = tmp_path / "run.nc"
    proc = start_long_run(path)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    saved = wg.open(path)
    assert saved.attrs["status"] == "interrupted"
    assert saved.sizes["time"] >= 2 and np.all(np.isfinite(saved["density"]))


def test_cli_ctrl_c_saves_an_incomplete_archive(tmp_path):
    env = {**os.environ, "MPLBACKEND": "agg"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wgflow.studies.cli",
            "run",
            "ou",
            "--cells",
            "96",
            "--t-final",
            "5000000",  # RKL2 steps fast once near equilibrium: keep it busy
            "--quiet",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(20)  # imports + a cold numba compilation on a loaded CI machine, then stepping
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    saved = wg.open(tmp_path / "wgflow-run.partial.nc")  # beside --output, never over it
    assert saved.attrs["status"] == "incomplete" and saved.sizes["time"] >= 1


def test_cli_ctrl_c_during_the_flagship_keeps_the_sgd_run(tmp_path):
    env = {**os.environ, "MPLBACKEND": "agg"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wgflow.studies.cli", "run", "--set", "t_final=400"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(20)  # imports + numba (cached) + SGD under way
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted; saving what was computed" in err
    saved = wg.open(tmp_path / "wgflow-run.partial.nc")  # beside --output, never over it
    assert saved.attrs["status"] == "incomplete" and saved.sizes["time"] >= 2
    assert np.all(np.isfinite(saved["risk"])) and "r1" in saved
    assert (tmp_path / "wgflow-run.partial.png").exists()
    assert saved.attrs["job"] == "flagship"  # so `wgflow run --from` can rerun it
    assert "t_final" in json.loads(saved.attrs["job_parameters"])
