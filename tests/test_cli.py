import json
import os
import re
import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from wgflow.studies.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_help_documents_every_subcommand(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "presets", "plot", "sweep", "info"):
        assert re.search(rf"^\s+{command}\s+\S", out, re.M), command


def test_info_prints_versions_and_numba_threads(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "wgflow" in out and "numba" in out and "numba threads (from the" in out
    import numba

    from wgflow.threads import PARALLEL_MIN_ITEMS, usable_cpus

    assert f"{numba.get_num_threads()} numba threads" in out
    assert f"the {usable_cpus()} CPUs" in out and f"≥ {PARALLEL_MIN_ITEMS} cells" in out


def test_presets_lists_every_preset_with_its_source(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert out.count("unconfirmed (wgflow's choices):") == 5
    for name in (
        "flagship",
        "mmn-relu",
        "mmn-isotropic",
        "mmn-nonmonotone",
        "teacher-relu",
        "ou",
        "porous-medium",
        "aggregation",
        "jko-vs-fv",
    ):
        assert re.search(rf"^{name}: ", out, re.M), name
    assert out.count("arXiv 1804.06561") >= 3


def run_console(args: list[str], cwd, **env) -> subprocess.CompletedProcess:
    """``wgflow ARGS`` in a subprocess, as a user runs it (Agg backend)."""
    proc = subprocess.run(
        [sys.executable, "-m", "wgflow.studies.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg", **env},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def test_wgflow_run_without_arguments_runs_the_flagship(tmp_path):
    # the console script, as a new user runs it (reduced size: same code path)
    proc = run_console(["run"], tmp_path, WGFLOW_QUICK="1")
    assert re.search(r"final risk\s+SGD [0-9.]+\s+PDE [0-9.]+", proc.stdout)
    assert "sup_t |R_SGD − R_PDE|" in proc.stdout and "W2" in proc.stdout
    assert "wgflow-run.nc" in proc.stdout and "wgflow-run.png" in proc.stdout
    assert (tmp_path / "wgflow-run.png").stat().st_size > 20_000
    with netCDF4.Dataset(tmp_path / "wgflow-run.nc") as nc:
        assert nc.problem == "AnisotropicGaussians" and nc.job == "flagship"
        sgd, pde = nc["risk_sgd"][:], nc["risk_pde"][:]
        assert np.max(np.abs(sgd - pde)) < 0.02
        assert "particle_r1" in nc.variables and "density" in nc.variables


def test_run_ou_job_writes_archive_figure_and_table(tmp_path):
    proc = run_console(["run", "ou", "--cells", "32"], tmp_path)
    assert re.search(r"time\s+mass\s+free_energy\s+l1_error", proc.stdout)
    assert (tmp_path / "wgflow-run.png").stat().st_size > 10_000
    with netCDF4.Dataset(tmp_path / "wgflow-run.nc") as nc:
        assert nc.problem == "OrnsteinUhlenbeck" and nc["l1_error"][-1] < 0.05
        assert nc.dimensions["time"].size == 11


def test_run_preset_with_settings_and_plot_redraws_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WGFLOW_QUICK", "1")
    out, fig = tmp_path / "iso.nc", tmp_path / "iso.png"
    argv = [
        "run",
        "mmn-isotropic",
        "--set",
        "n_neurons=50",
        "--set",
        "t_final=0.2",
        "--set",
        "save_every=0.1",
        "--set",
        "step_reading=paper",
        "--quiet",
        "--output",
        str(out),
        "--figure",
        str(fig),
    ]
    assert main(argv) == 0
    import wgflow as wg

    ds = wg.open(out)
    assert ds.sizes["particle"] == 50 and float(ds["time"][-1]) == pytest.approx(0.2)
    assert wg.io.parameters(ds)["n_neurons"] == 50
    assert wg.io.parameters(ds)["step_size"] == 4e-4  # the quick caption value 2e-4, read as s_k
    assert ds.attrs["step_reading"] == "paper"
    redrawn = tmp_path / "again.png"
    assert main(["plot", str(out), "--figure", str(redrawn)]) == 0
    assert redrawn.stat().st_size > 10_000
    assert main(["plot", str(out)]) == 0  # default: next to the archive
    assert (tmp_path / "iso.png").exists()
    assert main(["plot", str(out), "--animation", str(tmp_path / "iso.gif")]) == 0
    assert (tmp_path / "iso.gif").stat().st_size > 10_000


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "nope"],
        ["run", "ou", "--cells", "3"],
        ["run", "--output", "/no/such/dir/a.nc"],
        ["run", "ou", "--t-final", "-1"],
        ["run", "--t-final", "-1"],
        ["run", "--cells", "abc"],
        ["run", "--set", "no_such_key=1"],
        ["run", "--set", "n_neurons=many"],
        ["run", "--set", "n_neurons=2.5"],
        ["run", "--set", "activation=softplus"],
        ["run", "--set", "delta=1.5"],
        ["run", "--set", "novalue"],
        ["run", "--set", "step_reading=mmn"],
        ["run", "ou", "--set", "cells=3"],
        ["plot", "/no/such/file.nc"],
        ["frobnicate"],
    ],
)
def test_bad_command_lines_exit_2_with_one_line(argv, capsys, monkeypatch):
    monkeypatch.setenv("WGFLOW_QUICK", "1")
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("wgflow: error:") and "\n" not in err.split("wgflow: error:")[-1]


def test_ci_runs_both_readme_quickstart_commands_in_order():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quickstart\s+```(?:bash|sh)?\n(.*?)```", readme, re.S)
    assert block, "README has no Quickstart code block"
    commands = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(commands) == 2
    assert "wgflow run" in commands[0] and "pytest" in commands[1]
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip()]
    runs = [line for line in ci if not line.startswith(("#", "set ", "cd ", "export "))]
    assert runs == commands, "`.ci/run` must run the README's two commands, verbatim, in order"


def test_ruff_is_clean():
    ruff = pytest.importorskip("ruff")
    from ruff.__main__ import find_ruff_bin

    del ruff
    proc = subprocess.run([find_ruff_bin(), "check", str(ROOT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_readme_api_example_runs(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["ds"]["risk"].dims == ("time",)
    assert (tmp_path / "ou.nc").exists()


def test_run_from_an_archive_reproduces_its_numbers(tmp_path, capsys):
    first = tmp_path / "first.nc"
    assert (
        main(
            [
                "run",
                "ou",
                "--cells",
                "24",
                "--t-final",
                "0.3",
                "--quiet",
                "--output",
                str(first),
                "--figure",
                str(tmp_path / "a.png"),
            ]
        )
        == 0
    )
    again = tmp_path / "again.nc"
    assert (
        main(
            [
                "run",
                "--from",
                str(first),
                "--quiet",
                "--output",
                str(again),
                "--figure",
                str(tmp_path / "b.png"),
            ]
        )
        == 0
    )
    import wgflow as wg

    a, b = wg.open(first), wg.open(again)
    for name in ("density", "free_energy", "l1_error"):
        np.testing.assert_array_equal(a[name], b[name])
    assert wg.io.parameters(a) == wg.io.parameters(b)
    with pytest.raises(SystemExit) as info:
        main(["run", "--from", str(tmp_path / "missing.nc")])
    assert info.value.code == 2


def test_sweep_command_runs_a_toml_config(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    config = tmp_path / "sweep.toml"
    out = tmp_path / "sweep.nc"
    config.write_text(
        'function = "tests.sweep_functions:model_run"\n'
        f'output = "{out}"\n[parameters]\na = [1, 2]\nseed = [0, 2]\n'
    )
    assert main(["sweep", str(config), "--scheduler", "synchronous", "--quiet"]) == 0
    assert "4 points done, 0 failed" in capsys.readouterr().out
    import wgflow as wg

    assert (wg.open(out)["sweep_status"] == "ok").all()
    for bad in (
        'function = "no.such:thing"\noutput = "x.nc"\n[parameters]\na = [1]\n',
        'output = "x.nc"\n',
        "not toml [",
    ):
        config.write_text(bad)
        with pytest.raises(SystemExit) as info:
            main(["sweep", str(config), "--scheduler", "synchronous"])
        assert info.value.code == 2


def test_run_from_a_flagship_archive_reproduces_its_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("WGFLOW_QUICK", "1")
    first, again = tmp_path / "a.nc", tmp_path / "b.nc"
    common = ["--quiet", "--figure", str(tmp_path / "f.png")]
    assert main(["run", "--set", "n_neurons=40", "--output", str(first), *common]) == 0
    assert main(["run", "--from", str(first), "--output", str(again), *common]) == 0
    import wgflow as wg

    a, b = wg.open(first), wg.open(again)
    assert a.sizes["particle"] == 40
    for name in ("risk_sgd", "risk_pde", "w2", "particle_r1"):
        np.testing.assert_array_equal(a[name], b[name])


@pytest.mark.parametrize(
    ("job", "cells", "bound"),
    [
        ("ou", 32, 0.05),
        ("porous-medium", 100, 0.01),
        ("aggregation", 48, 0.6),
        ("jko-vs-fv", 128, 0.05),
    ],
)
def test_every_grid_job_runs_and_archives_its_error(job, cells, bound, tmp_path, capsys):
    out, fig = tmp_path / f"{job}.nc", tmp_path / f"{job}.png"
    argv = [
        "run",
        job,
        "--cells",
        str(cells),
        "--t-final",
        "0.5",
        "--output",
        str(out),
        "--figure",
        str(fig),
    ]
    assert main(argv) == 0
    assert "l1_error" in capsys.readouterr().out
    import wgflow as wg

    ds = wg.open(out)
    assert ds.attrs["job"] == job and ds.sizes["time"] == 11
    err = ds["l1_error"].values
    assert np.all(np.isfinite(err)) and err[-1] < bound
    assert fig.stat().st_size > 10_000


def test_verbosity_flags_set_the_log_level():
    import logging

    logger = logging.getLogger("wgflow")
    for argv, level in ((["-v"], logging.INFO), (["-vv"], logging.DEBUG), (["-q"], logging.ERROR),
                        ([], logging.WARNING)):  # fmt: skip
        assert main([*argv, "presets"]) == 0
        assert logger.level == level, argv


def test_set_reaches_grid_job_fields_and_quick_mode_shrinks_every_job(tmp_path, monkeypatch):
    monkeypatch.setenv("WGFLOW_QUICK", "1")
    out = tmp_path / "ou.nc"
    argv = ["run", "ou", "--set", "diffusion=0.3", "--set", "order=1", "--quiet",
            "--output", str(out), "--figure", str(tmp_path / "ou.png")]  # fmt: skip
    assert main(argv) == 0
    import wgflow as wg

    ds = wg.open(out)
    params = json.loads(ds.attrs["job_parameters"])
    assert (params["diffusion"], params["order"], params["cells"]) == (0.3, 1, 32)
    assert ds["density"].shape[1:] == (32, 32) and float(ds["time"][-1]) == 0.2
    for job in ("porous-medium", "aggregation", "jko-vs-fv"):
        from wgflow.studies.jobs import make_job

        assert make_job(job).cells == 32 and make_job(job, quick=False).cells > 32
    for bad in (["--set", "diffusion=-1"], ["--set", "viscosity=1"], ["--set", "order=two"]):
        with pytest.raises(SystemExit) as info:
            main(["run", "ou", *bad, "--output", str(out)])
        assert info.value.code == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "ou", "--output", "x.png"],
        ["run", "ou", "--figure", "f.xyz"],
        ["run", "ou", "--output", "same.nc", "--figure", "same.nc"],
        ["run", "ou", "--output", ""],
        ["run", "ou", "--output", "."],
    ],
)
def test_output_paths_are_checked_before_any_work(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and list(tmp_path.iterdir()) == []
    assert capsys.readouterr().err.count("\n") == 1


def test_plot_rejects_an_animation_suffix_before_drawing(tmp_path, monkeypatch):
    monkeypatch.setenv("WGFLOW_QUICK", "1")
    out = tmp_path / "ou.nc"
    assert main(["run", "ou", "--quiet", "--output", str(out), "--figure",
                 str(tmp_path / "first.png")]) == 0  # fmt: skip
    with pytest.raises(SystemExit) as info:
        main(["plot", str(out), "--animation", str(tmp_path / "movie.avi")])
    assert info.value.code == 2 and not (tmp_path / "ou.png").exists()


def test_sweep_imports_from_the_current_folder_and_from_a_file(tmp_path, capsys, monkeypatch):
    code = (
        "import xarray as xr\n\n"
        "def point(a, seed):\n    return xr.Dataset({'value': a * 10.0 + seed})\n"
    )
    (tmp_path / "my_experiment.py").write_text(code)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "other.py").write_text(code)
    monkeypatch.chdir(tmp_path)
    for k, target in enumerate(("my_experiment:point", "sub/other.py:point")):
        config = tmp_path / f"sweep{k}.toml"
        config.write_text(
            f'function = "{target}"\noutput = "out{k}.nc"\n[parameters]\na = [1, 2]\nseed = [0]\n'
        )
        assert main(["sweep", str(config), "--scheduler", "synchronous", "--quiet"]) == 0
        assert "2 points done, 0 failed" in capsys.readouterr().out
    import wgflow as wg

    assert wg.open(tmp_path / "out1.nc")["value"].sel(a=2).item() == 20.0


def test_info_names_threads_cpu_and_cache(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for key in ("threads", "CPUs this process may use", "threading", "cpu", "numba cache"):
        assert key in out


def test_summary_reports_the_pde_run_beyond_sgd(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WGFLOW_QUICK", "1")
    argv = ["run", "mmn-isotropic", "--set", "t_final=8.0", "--set", "sgd_t_final=0.4",
            "--set", "r_max=8.0", "--set", "cells=200", "--output", str(tmp_path / "i.nc"),
            "--figure", str(tmp_path / "i.png")]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "PDE alone to t = 8: risk" in out
    import wgflow as wg

    ds = wg.open(tmp_path / "i.nc")
    assert float(ds["pde_time"][-1]) == 8.0 and float(ds["time"][-1]) == pytest.approx(0.4)


def test_study_command_runs_the_registered_study(monkeypatch, tmp_path):
    """``wgflow study NAME`` calls the study's run_study with the parsed options."""
    from wgflow.studies import sgd_vs_pde, step_size

    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(step_size, "run_study", fake)
    out = str(tmp_path / "ss")
    argv = ["study", "step-size", "--quick", "--output", out, "--scheduler", "synchronous"]
    assert main(argv) == 0
    assert seen == {"output": out, "scheduler": "synchronous", "quick": True}
    monkeypatch.setattr(sgd_vs_pde, "run_study", fake)
    assert main(["study", "sgd-vs-pde", "--problem", "teacher-student"]) == 0
    assert seen["problem"] == "teacher-student" and seen["output"] == "sgd-vs-pde"
    with pytest.raises(SystemExit) as info:
        main(["study", "coupling", "--problem", "anisotropic"])
    assert info.value.code == 2


def test_every_study_module_has_run_study_and_no_argparse_main():
    import importlib

    from wgflow.studies.catalog import STUDIES

    for study in STUDIES.values():
        module = importlib.import_module(f"wgflow.studies.{study.module}")
        assert callable(module.run_study), study.name
        assert not hasattr(module, "main"), f"{study.module} keeps its own argparse main"


def test_ctrl_c_before_the_run_starts_exits_130_in_one_line(monkeypatch, tmp_path, capsys):
    """Ctrl-C during imports or compilation, before any result: no traceback, exit 130."""
    from wgflow.studies import experiments

    def interrupted(name):
        raise KeyboardInterrupt

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(experiments, "experiment", interrupted)
    assert main(["run", "ou", "--quiet"]) == 130
    assert capsys.readouterr().err.strip() == "wgflow: interrupted"
    assert not list(tmp_path.iterdir())  # nothing written
