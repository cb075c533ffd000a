"""Hostile but realistic use: each probe that once lost work or said something wrong.

One table per kind of answer: API calls refused at the door (``API``), command lines refused
with exit 2 and one line (``CLI``), then the fault injections (kill -9 during checkpoint
writes, corrupted bytes, concurrent writers, killed sweep workers) and the behaviours that
must keep everything (times within ``t_final``, merged sweeps, stale locks and temporaries).
"""

import functools
import os
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import wgflow as wg
from tests import sweep_functions
from wgflow.errors import LongRunWarning
from wgflow.networks import GaussianMixture, NetworkModel
from wgflow.outputs import OutputLock, remove_stale_temporaries
from wgflow.problems import OrnsteinUhlenbeck
from wgflow.solvers import JKO, SGD, FiniteVolume, Particles
from wgflow.studies.cli import _non_finite_summary, main
from wgflow.sweep import sweep

GRID = wg.Grid.box([(-4, 4)], 16)
OU = OrnsteinUhlenbeck(dim=1)
RHO = OU.initial_density(GRID)
MIX = GaussianMixture([1.0, -1.0], [0.5, 0.5], np.ones((2, 3)))
MODEL = NetworkModel(MIX, "relu", "w")


def fv():
    return FiniteVolume(OU.energy, GRID)


def _existing_checkpoint(tmp):
    path = tmp / "c.nc"
    fv().run(RHO, 0.1, progress=False, checkpoint=path)
    return fv().run(RHO, 0.1, progress=False, checkpoint=path)  # a fresh run must not replace it


def _locked_checkpoint(tmp):
    path = tmp / "c.nc"
    with OutputLock(path, "checkpoint"):
        # another process holds it: fake its lock file with our parent's PID (alive)
        (tmp / "c.nc.lock").write_text(f'{{"pid": {os.getppid()}, "host": "{os.uname()[1]}"}}')
        OutputLock._held.clear()
        fv().run(RHO, 0.1, progress=False, checkpoint=path)


def _resume_fails_before_first_snapshot(tmp):
    """The failure path of a resumed run that stops at once keeps the checkpoint intact."""
    path = tmp / "c.nc"

    class StopAfter(wg.trackers.Tracker):
        def __init__(self, t):
            self.t = t

        def handle(self, solver, state, t):
            if t >= self.t:
                raise wg.BlowUpError(t, "planted failure")

    with pytest.raises(wg.BlowUpError):
        fv().run(RHO, 1.0, 0.1, progress=False, checkpoint=path, trackers=[StopAfter(0.35)])

    class FailAdvance(FiniteVolume):
        def advance(self, state, t_next):
            raise wg.BlowUpError(state.t, "planted failure in advance")

    with pytest.raises(wg.BlowUpError) as info:
        FailAdvance(OU.energy, GRID).resume(path, progress=False)
    saved = wg.open(path)
    assert info.value.dataset is not None and saved.sizes["time"] == 5  # 0, 0.1, …, 0.4
    assert saved.attrs["status"].startswith("stopped")
    raise ValueError("resumed: checkpoint kept")  # the table expects a ValueError naming it


def _huge_sgd_run(tmp):
    with warnings.catch_warnings():
        warnings.simplefilter("error", LongRunWarning)
        SGD(MODEL, 4, 0.01, seed=0).run(None, 1e12, progress=False)


def _tiny_jko_step(tmp):
    with warnings.catch_warnings():
        warnings.simplefilter("error", LongRunWarning)
        JKO(OU.energy, GRID, tau=1e-300, debias=False, method="lagrangian").run(
            RHO, 1.0, progress=False
        )


#: (issue item, entry point, parameter named in the error, call, expected exception)
API = [
    ("2", "run", "checkpoint", lambda t: fv().run(RHO, 0.1, checkpoint=t), ValueError),
    ("2", "run", "checkpoint", lambda t: fv().run(RHO, 0.1, checkpoint=""), ValueError),
    ("2", "run", "checkpoint", lambda t: fv().run(RHO, 0.1, checkpoint=t / "c.txt"), ValueError),
    ("2", "run", "checkpoint", _existing_checkpoint, ValueError),
    ("2", "run", "is being written", _locked_checkpoint, ValueError),
    ("2", "wg.save", "path", lambda t: wg.save(xr.Dataset(), t), ValueError),
    ("4", "wasserstein", "p", lambda t: wg.metrics.wasserstein(
        wg.ParticleMeasure([[0.0]]), wg.ParticleMeasure([[0.0]]), p=np.inf), ValueError),
    ("5", "FiniteVolume", "grid", lambda t: FiniteVolume(
        OrnsteinUhlenbeck(dim=3).energy, GRID), ValueError),
    ("5", "FiniteVolume", "grid", lambda t: FiniteVolume(
        OU.energy, wg.Grid.box([(-1, 1)] * 2, 8)), ValueError),
    ("5", "Particles.run", "x0", lambda t: Particles(OU.energy, dt=0.1).run(
        np.zeros((4, 2)), 0.1, progress=False), ValueError),
    ("5", "power_law", "grid", lambda t: FiniteVolume(wg.FreeEnergy(
        interaction=wg.PairwiseInteraction.power_law(2.0, -5.0)), GRID), ValueError),
    ("7", "gaussian", "width", lambda t: wg.PairwiseInteraction.gaussian(1.0, 1e-200),
     ValueError),
    ("7", "SGD", "weight_decay", lambda t: SGD(MODEL, 4, 0.1, weight_decay=np.inf), ValueError),
    ("7", "FiniteVolume", "dt", lambda t: FiniteVolume(
        OU.energy, GRID, scheme="semi-implicit", dt=np.inf), ValueError),
    ("7", "FiniteVolume", "dt_min", lambda t: FiniteVolume(OU.energy, GRID, dt_min=np.inf),
     ValueError),
    ("7", "PorousMediumEnergy", "m", lambda t: wg.PorousMediumEnergy(np.inf), ValueError),
    ("7", "power_law", "attraction", lambda t: wg.PairwiseInteraction.power_law(
        2.0, 0.0, attraction=np.inf), ValueError),
    ("7", "power_law", "repulsion_exponent", lambda t: wg.PairwiseInteraction.power_law(
        2.0, -np.inf), ValueError),
    ("7", "GaussianMixture", "labels", lambda t: GaussianMixture(
        [np.nan, 1.0], [0.5, 0.5], np.ones((2, 3))), ValueError),
    ("7", "GaussianMixture", "labels", lambda t: GaussianMixture(
        [np.inf, 1.0], [0.5, 0.5], np.ones((2, 3))), ValueError),
    ("7", "GaussianMixture", "rotation", lambda t: GaussianMixture(
        [1.0], [1.0], np.ones((1, 2)), rotation="x"), ValueError),
    ("7", "Grid.box", "bounds", lambda t: wg.Grid.box([(-1e308, 1e308)], 8), ValueError),
    ("7", "Grid.box", "shape", lambda t: wg.Grid.box([(0, 1)], 8.7), ValueError),
    ("7", "Grid.box", "shape", lambda t: wg.Grid.box([(0, 1)], [8.7]), ValueError),
    ("7", "Grid.box", "shape", lambda t: wg.Grid.box([(0, 1)], "8"), ValueError),
    ("7", "GridMeasure", "density", lambda t: wg.GridMeasure(GRID, RHO + 1j), ValueError),
    ("7", "Particles.run", "x0", lambda t: Particles(OU.energy, dt=0.1).run(
        np.zeros((4, 1)) + 1j, 0.1, progress=False), ValueError),
    ("7", "SGD.run", "theta0", lambda t: SGD(MODEL, 4, 0.1).run(
        np.zeros((4, 3)) + 1j, 0.1, progress=False), ValueError),
    ("7", "SGD", "seed", lambda t: SGD(MODEL, 4, 0.1, seed=-1), ValueError),
    ("7", "Particles", "seed", lambda t: Particles(OU.energy, dt=0.1, seed="a"), ValueError),
    ("7", "run", "trackers", lambda t: fv().run(RHO, 0.1, trackers=[1]), ValueError),
    ("7", "resume", "resumed", _resume_fails_before_first_snapshot, ValueError),
    ("8", "SGD", "n_neurons", lambda t: SGD(MODEL, 10**11, 0.1), ValueError),
    ("8", "Particles.run", "replicas", lambda t: Particles(
        OU.energy, dt=0.1, replicas=10**11).run(np.zeros((100, 1)), 0.1), ValueError),
    ("8", "run", "save_every", lambda t: fv().run(RHO, 1.0, 1e-12), ValueError),
    ("8", "SGD.run", "steps", _huge_sgd_run, LongRunWarning),
    ("8", "JKO.run", "steps", _tiny_jko_step, LongRunWarning),
]


@pytest.mark.parametrize(
    ("item", "entry", "name", "call", "error"),
    API,
    ids=[f"{item}-{entry}-{name}-{k}" for k, (item, entry, name, *_) in enumerate(API)],
)
def test_api_refuses_at_the_door(item, entry, name, call, error, tmp_path):
    start = time.perf_counter()
    with pytest.raises(error, match=name):
        call(tmp_path)
    assert time.perf_counter() - start < 20  # before the work, not after it


def test_short_runs_are_not_blow_ups():
    ds = fv().run(RHO, 1e-300, progress=False)
    assert ds.attrs["status"] == "complete" and float(ds["time"][-1]) == 1e-300


#: (issue item, argv) — each must exit 2 with one line on stderr and write nothing
CLI = [
    ("2", ["run", "ou", "--output", "somedir"]),
    ("2", ["run", "ou", "--output", ""]),
    ("2", ["run", "ou", "--output", "/proc/wg.nc"]),
    ("2", ["run", "ou", "--output", "x.png", "--figure", "x.png"]),
    ("9", ["run", "ou", "--figure", "/proc/f.png"]),
    ("9", ["run", "ou", "--figure", "f.xyz"]),
    ("9", ["run", "ou", "--figure", "somedir"]),
    ("8", ["run", "--set", "n_neurons=100000000000"]),
    ("9", ["sweep", "somedir"]),
    ("9", ["sweep", "binary.toml"]),
    ("9", ["sweep", "to_folder.toml"]),
    ("6", ["plot", "damaged.nc"]),
    ("6", ["run", "--from", "damaged.nc"]),
    ("9", ["run", "ou", "--from", "flagship.nc"]),
    # issue 26: a figure never overwrites its archive; broken --from archives; odd names
    ("26", ["plot", "archive.png"]),
    ("26", ["plot", "run.nc", "--figure", "link.png"]),
    ("26", ["plot", "run.nc", "--figure", "hardlink.png"]),
    ("26", ["plot", "run.nc", "--figure", "run.nc"]),
    ("26", ["plot", "run.gif", "--animation", "run.gif"]),
    ("26", ["plot", "not_wgflow.nc"]),
    ("26", ["plot", "no_snapshot.nc"]),
    ("26", ["plot", "/dev/null"]),
    ("26", ["run", "--from", "bad_json.nc"]),
    ("26", ["run", "--from", "unknown_key.nc"]),
    ("26", ["run", "--from", "a_list.nc"]),
    ("26", ["run", "--from", "unknown_job.nc"]),
    ("26", ["run", ""]),
    ("26", ["run", "mmn-relu", "--cells", "-5"]),
    ("26", ["run", "ou", "--t-final", "nan"]),
    ("26", ["run", "ou", "--output", "a" * 300 + ".nc"]),
    ("26", ["run", "ou", "--output", "a" * 251 + ".nc"]),
    ("26", ["run", "ou", "--output", "a\udcff.nc"]),  # bytes 0xff: not UTF-8, lost at the end
    ("26", ["run", "ou", "--output", "a\ud800.nc"]),
    ("26", ["run", "ou", "--output", "a\\b.nc"]),  # netCDF-C: a Windows separator, at the end
    ("26", ["run", "ou", "--output", "partial_is_a_folder.nc"]),
    ("26", ["run", "ou", "--output", "run.nc", "--figure", "link.png"]),
    ("26", ["sweep", "ok.toml", "--scheduler", "bogus://nowhere"]),
    ("26", ["sweep", "ok.toml", "--scheduler", "tcp://127.0.0.1:9"]),
    ("26", ["sweep", "slash.toml", "--scheduler", "synchronous"]),
    ("26", ["sweep", "reserved.toml", "--scheduler", "synchronous"]),
]


@functools.cache
def _drawable() -> xr.Dataset:
    return fv().run(RHO, 0.1, progress=False)


def _cli_fixtures(folder: Path) -> None:
    """The files the command lines of :data:`CLI` name."""
    (folder / "somedir").mkdir()
    (folder / "binary.toml").write_bytes(bytes(range(256)))
    (folder / "to_folder.toml").write_text(
        'function = "tests.sweep_functions:model_run"\noutput = "somedir"\n'
        "[parameters]\na = [1]\nseed = [0]\n"
    )
    for name, parameters in (("ok", "a = [1]\nseed = [0]"), ("slash", '"a/b" = [1]\nseed = [0]'),
                             ("reserved", "sweep_status = [1]\nseed = [0]")):  # fmt: skip
        (folder / f"{name}.toml").write_text(
            f'function = "tests.sweep_functions:always_fails"\noutput = "{name}.nc"\n'
            f"[parameters]\n{parameters}\n"
        )
    (folder / "damaged.nc").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(500))
    wg.save(xr.Dataset(attrs={"job": "flagship", "job_parameters": "{}"}), folder / "flagship.nc")
    drawable = _drawable()  # drawn, if the command wrongly went on
    for name in ("run.nc", "archive.png", "run.gif"):  # archive.png: default figure is itself
        wg.save(drawable, folder / name)
    wg.save(xr.Dataset({"x": ("t", [1.0])}), folder / "not_wgflow.nc")
    wg.save(drawable.isel(time=slice(0, 0)), folder / "no_snapshot.nc")
    statistic = {"risk_sgd": ("time", [1.0, 0.5]), "std_r1_sgd": ("time", [1.0, 0.5])}
    wg.save(xr.Dataset(statistic, coords={"time": [0.0, 1.0]}), folder / "one_statistic.nc")
    (folder / "link.png").symlink_to(folder / "run.nc")
    os.link(folder / "run.nc", folder / "hardlink.png")
    for name, job, parameters in (("bad_json", "ou", '{"cells": '),
                                  ("unknown_key", "ou", '{"no_such_setting": 1}'),
                                  ("a_list", "ou", "[1, 2]"), ("unknown_job", "nope", "{}")):
        wg.save(xr.Dataset(attrs={"job": job, "job_parameters": parameters}),
                folder / f"{name}.nc")  # fmt: skip
    (folder / "partial_is_a_folder.partial.nc").mkdir()


@pytest.mark.parametrize(("item", "argv"), CLI, ids=[" ".join(a) for _, a in CLI])
def test_cli_refuses_with_one_line(item, argv, tmp_path, capsys, monkeypatch):
    if "/proc" in " ".join(argv) and not Path("/proc").is_dir():
        pytest.skip("no /proc here")
    if "/dev/null" in argv and not Path("/dev/null").exists():
        pytest.skip("no /dev/null here")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WGFLOW_QUICK", "1")  # a command wrongly accepted ends soon
    _cli_fixtures(tmp_path)
    names = set(os.listdir(tmp_path))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    start = time.perf_counter()
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert time.perf_counter() - start < 15  # refused at once, not after the work
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("wgflow: error:"), err
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before and set(os.listdir(tmp_path)) == names  # nothing (over)written


def test_sgd_times_never_pass_t_final(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WGFLOW_QUICK", "1")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--set", "step_size=0.0007", "--quiet"]) == 0
    ds = wg.open(tmp_path / "wgflow-run.nc")
    assert float(ds["time"][-1]) <= 1.0 and np.all(np.isfinite(ds["risk_pde"]))
    assert not _non_finite_summary(ds)
    ds["risk_pde"][-1] = np.nan
    assert _non_finite_summary(ds) == ["risk_pde"]  # the CLI then exits 1, not 0


# ---- fault injection ---------------------------------------------------------------------
WRITER = """
import sys
import wgflow as wg
from wgflow.problems import OrnsteinUhlenbeck
from wgflow.solvers import FiniteVolume
prob = OrnsteinUhlenbeck(dim=2, diffusion=0.5, mean0=(1.0, 0.5), var0=0.3)
grid = wg.Grid.box([(-5, 5)] * 2, 48)
solver = FiniteVolume(prob.energy, grid)
print("started", flush=True)
if sys.argv[2] == "resume":
    solver.resume(sys.argv[1], progress=False)
else:
    solver.run(prob.initial_density(grid), 4.0, 0.005, progress=False, checkpoint=sys.argv[1])
print("done", flush=True)
"""


def _writer(path, mode="run"):
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "started", proc.stderr.read()
    return proc


def test_kill_9_at_random_points_of_checkpoint_writes(tmp_path):
    """Five SIGKILLs at random moments (checkpoints are written back to back): every time the
    checkpoint opens, holds finite snapshots, and the next run resumes from it; temporaries
    of the killed writers and their stale locks are gone after the next write."""
    path = tmp_path / "run.nc"
    rng = random.Random(0)
    proc = _writer(path)
    deadline = time.time() + 60
    while not path.exists() and time.time() < deadline:
        time.sleep(0.02)
    times = []
    for _cycle in range(5):
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        saved = wg.open(path)
        assert np.all(np.isfinite(saved["density"])) and saved.sizes["time"] >= 1
        times.append(saved.attrs["checkpoint_time"])
        assert (tmp_path / "run.nc.lock").exists()  # left behind by the killed owner
        proc = _writer(path, "resume")  # takes the stale lock over
        time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert times == sorted(times)  # each resume went on from the last checkpoint
    remove_stale_temporaries(path)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_concurrent_writers_are_refused(tmp_path):
    path = tmp_path / "run.nc"
    first = _writer(path)
    try:
        deadline = time.time() + 60
        while not (tmp_path / "run.nc.lock").exists() and time.time() < deadline:
            time.sleep(0.02)
        second = _writer(path, "resume")
        _, err = second.communicate(timeout=60)
        assert second.returncode != 0 and "is being written by process" in err
        assert str(first.pid) in err
    finally:
        first.kill()
        first.wait(timeout=30)


def test_stale_temporaries_are_removed_on_the_next_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".x.nc.{dead}.abc.tmp"
    stale.write_bytes(b"half a file")
    alive = tmp_path / f".x.nc.{os.getppid()}.abc.tmp"  # a writer still running
    alive.write_bytes(b"in progress")
    wg.save(xr.Dataset({"a": ("t", [1.0])}), tmp_path / "x.nc")
    assert not stale.exists() and alive.exists()


def test_corrupted_bytes_give_value_errors(tmp_path):
    ds = fv().run(RHO, 0.2, progress=False)
    path = tmp_path / "a.nc"
    wg.save(ds, path)
    data = path.read_bytes()
    rng = random.Random(1)
    outcomes = {"read": 0, "refused": 0}
    for k in range(60):
        bad = bytearray(data)
        for _ in range(rng.choice([1, 8, 64])):
            bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
        if k % 6 == 0:
            bad = bad[: rng.randrange(len(bad))]  # truncated
        target = tmp_path / f"bad{k}.nc"
        target.write_bytes(bytes(bad))
        try:
            wg.open(target)
            outcomes["read"] += 1
        except ValueError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0 and sum(outcomes.values()) == 60


# ---- sweeps under faults -----------------------------------------------------------------
def test_bad_return_values_fail_only_their_point(tmp_path):
    kinds = ["ok", "bool_attr", "nested", "ragged", "exit", "named_like_dim"]
    out = tmp_path / "s.nc"
    ds = sweep(sweep_functions.bad_returns, {"kind": kinds}, "synchronous", out, progress=False)
    status = dict(zip(ds["kind"].values, ds["sweep_status"].values, strict=True))
    assert status == {k: "ok" if k == "ok" else "failed" for k in kinds}
    errors = dict(zip(ds["kind"].values, ds["sweep_error"].values, strict=True))
    assert "flag" in errors["bool_attr"] and "SystemExit" in errors["exit"]
    assert "ragged" in errors["ragged"] and "swept" in errors["named_like_dim"]
    assert wg.open(out)["sweep_status"].values.tolist() == ds["sweep_status"].values.tolist()


def test_killed_worker_is_retried_then_failed_without_recomputing(tmp_path):
    log = tmp_path / "calls.txt"
    out = tmp_path / "s.nc"
    params = {"a": list(range(6)), "log": [str(log)]}
    ds = sweep(sweep_functions.killed_at, params, output=out, progress=False, n_workers=2)
    status = ds["sweep_status"].values.ravel().tolist()
    assert status == ["ok", "ok", "failed", "ok", "ok", "ok"]
    assert "worker process died" in str(ds["sweep_error"].values.ravel()[2])
    calls = log.read_text().split()
    assert calls.count("2") == 2  # one retry, then failed
    assert len(calls) == 6 + 1, calls  # nothing else ran twice
    log.unlink()
    sweep(sweep_functions.killed_at, params, output=out, progress=False, n_workers=2)
    assert sorted(set(log.read_text().split())) == ["2"]  # finished points never rerun


def test_rerun_with_other_values_merges(tmp_path):
    out = tmp_path / "s.nc"
    sweep(sweep_functions.model_run, {"a": [1, 2], "seed": [0]}, "synchronous", out,
          progress=False)
    ds = sweep(sweep_functions.model_run, {"a": [4], "seed": [0]}, "synchronous", out,
               progress=False)
    assert ds["a"].values.tolist() == [1, 2, 4]
    assert set(ds["sweep_status"].values.ravel()) == {"ok"}
    with pytest.raises(ValueError, match="sweeps"):
        sweep(sweep_functions.model_run, {"b": [4], "seed": [0]}, "synchronous", out,
              progress=False)


def test_bool_values_rerun_and_nan_values_refused(tmp_path):
    out = tmp_path / "s.nc"
    for _ in range(2):
        ds = sweep(sweep_functions.model_run, {"a": [True, False], "seed": [0]}, "synchronous",
                   out, progress=False)
    assert ds["sweep_status"].values.ravel().tolist() == ["ok", "ok"]
    with pytest.raises(ValueError, match="finite"):
        sweep(sweep_functions.model_run, {"a": [np.nan, 1.0], "seed": [0]}, "synchronous",
              tmp_path / "n.nc", progress=False)
    assert not (tmp_path / "n.nc").exists()


def test_a_blow_up_is_reported_once(caplog):
    """The exception carries the message; the driver does not log it a second time."""

    class Explode(wg.trackers.Tracker):
        def handle(self, solver, state, t):
            if t > 0:
                raise wg.BlowUpError(t, "planted")

    with caplog.at_level("WARNING", logger="wgflow"):
        with pytest.raises(wg.BlowUpError, match="planted"):
            fv().run(RHO, 0.2, progress=False, trackers=[Explode()])
    assert not [r for r in caplog.records if "planted" in r.getMessage()]


# ---- issue 26: locks that die with their process, names with their suffixes, full disks ----
def _garbage_lock(kind: str, lock: Path) -> None:
    host = os.uname()[1]
    if kind == "folder":
        lock.mkdir()
    elif kind == "dangling link":
        lock.symlink_to(lock.parent / "nowhere")
    elif kind == "binary":
        lock.write_bytes(bytes(range(256)))
    else:
        content = {
            "pid 2**40": {"pid": 2**40, "host": host},
            "since yesterday": {"pid": os.getppid(), "host": host, "since": "yesterday"},
            "since 1e300": {"pid": os.getppid(), "host": host, "since": 1e300},
            # a killed run's PID now used by another (living) process
            "recycled pid": {"pid": os.getppid(), "host": host, "since": 0.0},
            "a list": [1, 2],
        }[kind]
        import json

        lock.write_text(json.dumps(content))


GARBAGE_LOCKS = ["folder", "dangling link", "binary", "pid 2**40", "since yesterday",
                 "since 1e300", "recycled pid", "a list"]  # fmt: skip


@pytest.mark.parametrize("kind", GARBAGE_LOCKS)
def test_a_garbage_lock_file_never_blocks_a_run(kind, tmp_path):
    path = tmp_path / "c.nc"
    _garbage_lock(kind, tmp_path / "c.nc.lock")
    ds = fv().run(RHO, 0.1, progress=False, checkpoint=path)
    assert ds.attrs["status"] == "complete" and wg.open(path).sizes["time"] == ds.sizes["time"]
    ds = sweep(sweep_functions.model_run, {"a": [1], "seed": [0]}, "synchronous",
               tmp_path / "s.nc", progress=False)  # fmt: skip
    assert ds["sweep_status"].item() == "ok"


HOLDER = """
import sys, time
from wgflow.outputs import OutputLock
lock = OutputLock(sys.argv[1], "checkpoint")
lock.acquire()
if sys.argv[2] == "garbage":
    open(sys.argv[1] + ".lock", "wb").write(b"\\xff\\xfe not json")
print("held", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("content", ["pid", "garbage"])
def test_a_lock_dies_with_its_process(content, tmp_path):
    """Held: refused (naming the PID when the file tells it). Killed (-9): the next run takes
    it, even when the file it left names a living process."""
    path = tmp_path / "c.nc"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), content],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ValueError, match="is being written by") as info:
            fv().run(RHO, 0.1, progress=False, checkpoint=path)
        owner = str(holder.pid) if content == "pid" else "another process"
        assert owner in str(info.value)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    _garbage_lock("recycled pid", tmp_path / "c.nc.lock")
    assert fv().run(RHO, 0.1, progress=False, checkpoint=path).attrs["status"] == "complete"
    assert not (tmp_path / "c.nc.lock").exists()


def test_stale_temporaries_with_garbage_pids_are_handled(tmp_path):
    """A PID too large for ``os.kill`` (2**40, 5000 digits), and a longer name sharing the
    prefix (``x.nc.5.nc``: not a temporary of ``x.nc``) crash nothing and lose nothing."""
    for pid in (str(2**40), "9" * 5000):
        (tmp_path / f".x.nc.{pid[:200]}.abcdefgh.tmp").write_bytes(b"junk")
    other = tmp_path / ".x.nc.5.nc.1.abcdefgh.tmp"  # a writer of "x.nc.5.nc"
    other.write_bytes(b"in progress")
    wg.save(xr.Dataset({"a": ("t", [1.0])}), tmp_path / "x.nc")
    assert other.exists() and wg.open(tmp_path / "x.nc")["a"].values.tolist() == [1.0]


@pytest.mark.parametrize("name", ["a" * 300 + ".nc", "a" * 251 + ".nc", "é" * 120 + ".nc"])
def test_output_names_are_checked_with_their_suffixes(name, tmp_path):
    """Names that only fail once ``.lock`` or ``.<name>.<pid>.XXXXXXXX.tmp`` is added are
    refused before any work, everywhere, with the limit."""
    path = tmp_path / name
    with pytest.raises(ValueError, match=r"checkpoint: file name .* bytes long; at most \d+"):
        fv().run(RHO, 0.1, progress=False, checkpoint=path)
    with pytest.raises(ValueError, match="path: file name"):
        wg.save(xr.Dataset({"a": ("t", [1.0])}), path)
    with pytest.raises(ValueError, match="output: file name"):
        sweep(sweep_functions.always_fails, {"a": [1], "seed": [0]}, "synchronous", path)
    assert os.listdir(tmp_path) == []


def test_the_longest_allowed_name_works(tmp_path):
    from wgflow.outputs import NAME_ROOM

    path = tmp_path / ("a" * (255 - NAME_ROOM - 3) + ".nc")
    fv().run(RHO, 0.1, progress=False, checkpoint=path)
    assert wg.open(path).attrs["status"] == "complete"


@pytest.mark.parametrize(
    ("error", "free"),
    [(OSError(-101, "NetCDF: HDF error"), 0), (RuntimeError("NetCDF: HDF error"), 100),
     (OSError(28, "No space left on device"), 10**12)],  # fmt: skip
)
def test_a_full_disk_is_named(error, free, tmp_path, monkeypatch):
    """netCDF reports a full disk as "HDF error": the message says what happened, the old
    archive stays as it was and no temporary is left."""
    import shutil

    path = tmp_path / "x.nc"
    wg.save(xr.Dataset({"a": ("t", [1.0])}), path)
    before = path.read_bytes()

    def full(self, target, *args, **kwargs):
        Path(target).write_bytes(b"half")
        raise error

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=free))
    with pytest.raises(OSError, match="no space left on device writing .*x.nc") as info:
        wg.save(xr.Dataset({"a": ("t", np.ones(1000))}), path)
    assert info.value.errno == 28
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["x.nc"]


def test_other_write_failures_are_not_called_a_full_disk(tmp_path, monkeypatch):
    def broken(self, target, *args, **kwargs):
        raise RuntimeError("NetCDF: HDF error")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(RuntimeError, match="HDF error"):  # plenty of room: not ENOSPC
        wg.save(xr.Dataset({"a": ("t", [1.0])}), tmp_path / "x.nc")


# ---- issue 26: the command line never replaces a complete archive with a partial one -------
@pytest.mark.parametrize(("stop", "code"), [(KeyboardInterrupt, 130), (wg.BlowUpError, 1)])
def test_a_stopped_rerun_leaves_the_complete_archive(stop, code, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WGFLOW_QUICK", "1")
    monkeypatch.chdir(tmp_path)
    argv = ["run", "ou", "--quiet", "--output", "o.nc", "--figure", "o.png"]
    assert main(argv) == 0
    archive, figure = (tmp_path / "o.nc").read_bytes(), (tmp_path / "o.png").read_bytes()
    advance = FiniteVolume.advance

    def stopping(self, state, t_next):
        if t_next > 0.1:
            raise stop() if stop is KeyboardInterrupt else stop(state.t, "planted")
        return advance(self, state, t_next)

    monkeypatch.setattr(FiniteVolume, "advance", stopping)
    capsys.readouterr()
    assert main(argv) == code
    err = capsys.readouterr().err
    assert "saved to o.partial.nc" in err and "o.nc was left as it was" in err
    assert (tmp_path / "o.nc").read_bytes() == archive
    assert (tmp_path / "o.png").read_bytes() == figure
    partial = wg.open(tmp_path / "o.partial.nc")
    assert 0 < float(partial["time"][-1]) <= 0.1 and partial.attrs["job"] == "ou"
    assert (tmp_path / "o.partial.png").stat().st_size > 5_000
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp") or p.endswith(".lock")]


def test_plot_draws_an_archive_of_one_snapshot(tmp_path, capsys):
    """``--set beta=1e-300`` stops SGD after its first snapshot: the archive still plots."""
    sgd = SGD(MODEL, 4, 0.01, seed=0).run(None, 0.05, progress=False)
    grid = fv().run(RHO, 0.1, progress=False)
    for name, ds in (("sgd", sgd), ("grid", grid)):
        wg.save(ds.isel(time=[0]), tmp_path / f"{name}.nc")
        assert main(["plot", str(tmp_path / f"{name}.nc")]) == 0
        assert (tmp_path / f"{name}.png").stat().st_size > 5_000


def test_plot_draws_an_archive_with_one_statistic(tmp_path):
    """One ``std_*`` statistic (one axes from plt.subplots) used to crash the statistics
    figure; it now draws, and a comparison with one reduced coordinate draws its panel."""
    from wgflow.studies.figures import statistics_figure

    statistic = {"risk_sgd": ("time", [1.0, 0.5]), "std_r1_sgd": ("time", [1.0, 0.5])}
    wg.save(xr.Dataset(statistic, coords={"time": [0.0, 1.0]}), tmp_path / "one.nc")
    assert main(["plot", str(tmp_path / "one.nc")]) == 0
    both = {"risk_sgd": ("time", [1.0, 0.5]), "risk_pde": ("time", [1.0, 0.6]),
            "mean_r_sgd": ("time", [0.5, 0.6]), "std_r_sgd": ("time", [0.1, 0.1]),
            "mean_r_pde": ("time", [0.5, 0.7]), "std_r_pde": ("time", [0.1, 0.2])}  # fmt: skip
    fig = statistics_figure(xr.Dataset(both, coords={"time": [0.0, 1.0]}))
    assert len(fig.axes) == 2
