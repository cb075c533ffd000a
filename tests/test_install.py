"""A non-editable install stays as pip wrote it: numba caches elsewhere; packaging metadata."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("wgflow", "solvers", "problems", "studies", "pyproject.toml", "README.md", "LICENSE")

RUN_KERNEL = """
import numpy as np, numba
from wgflow.solvers import fv_kernels
rho = np.linspace(1.0, 2.0, 64); rate = np.ones(64); out = np.empty(64)
fv_kernels.euler_stage(rho, rate, 0.5, out)
assert np.allclose(out, rho + 0.5), out[:3]
print(numba.config.CACHE_DIR)
"""


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "PYTHONPATH")}
    env.update(extra)
    return env


def _files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """Build and install wgflow (non-editable, no deps) into a fresh venv; deps come from ours."""
    base = tmp_path_factory.mktemp("install")
    src = base / "src"
    src.mkdir()
    for name in SOURCES:
        item = ROOT / name
        if item.is_dir():
            shutil.copytree(item, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(item, src / name)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )
    # numpy, numba, ... from the test environment, after the venv's own site-packages
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "-q", str(src)],
        capture_output=True, text=True, env=_clean_env(),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    package = site / "wgflow"
    assert package.is_dir(), "pip did not install a wgflow package folder"
    return python, package


def test_kernel_cache_never_goes_into_the_installed_package(installed, tmp_path):
    python, package = installed
    before = _files(package)
    cache_home = tmp_path / "xdg"
    for _ in range(2):  # compile and write the cache, then load it
        proc = subprocess.run(
            [str(python), "-c", RUN_KERNEL], capture_output=True, text=True, cwd=tmp_path,
            env=_clean_env(XDG_CACHE_HOME=str(cache_home)),
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    assert _files(package) == before, "files appeared inside the installed package"
    used = Path(proc.stdout.strip().splitlines()[-1])
    assert used.is_relative_to(cache_home / "wgflow")
    assert "numba-" in used.name and "wgflow-" in used.name
    assert list(used.rglob("*.nbi")), "numba wrote no index into wgflow's cache folder"


def test_wheel_ships_license_and_typing_marker(installed):
    python, package = installed
    assert (package / "py.typed").is_file()
    assert (package / "solvers" / "fv_kernels.py").is_file()
    licenses = list(package.parent.glob("wgflow-*.dist-info/licenses/LICENSE"))
    assert licenses and "MIT License" in licenses[0].read_text()
    metadata = next(package.parent.glob("wgflow-*.dist-info/METADATA")).read_text()
    assert "License-Expression: MIT" in metadata
    assert "Project-URL:" in metadata and "Classifier:" in metadata
    proc = subprocess.run(
        [str(python.parent / "wgflow"), "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and proc.stdout.strip().startswith("wgflow ")


def _cache_dir_in_subprocess(env: dict[str, str], cwd: Path) -> Path:
    code = "import wgflow, numba; print(numba.config.CACHE_DIR)"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return Path(proc.stdout.strip())


def test_user_numba_cache_dir_is_respected(tmp_path):
    mine = tmp_path / "mine"
    assert _cache_dir_in_subprocess(_clean_env(NUMBA_CACHE_DIR=str(mine)), tmp_path) == mine


def test_cache_dir_follows_xdg_and_falls_back_when_unwritable(tmp_path):
    xdg = tmp_path / "xdg"
    got = _cache_dir_in_subprocess(_clean_env(XDG_CACHE_HOME=str(xdg)), tmp_path)
    assert got.parent == xdg / "wgflow" and got.is_dir()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # mkdir under a file fails, even for root
    got = _cache_dir_in_subprocess(_clean_env(XDG_CACHE_HOME=str(blocker)), tmp_path)
    assert not got.is_relative_to(blocker) and got.is_dir()
    assert got.is_relative_to(Path(tempfile.gettempdir()))


def test_numba_imported_first_still_uses_wgflow_cache(tmp_path):
    code = "import numba, wgflow; print(numba.config.CACHE_DIR)"
    env = _clean_env(XDG_CACHE_HOME=str(tmp_path / "xdg"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert Path(proc.stdout.strip()).is_relative_to(tmp_path / "xdg" / "wgflow")


def test_info_prints_cache_path(tmp_path):
    env = _clean_env(NUMBA_CACHE_DIR=str(tmp_path / "c"))
    proc = subprocess.run(
        [sys.executable, "-m", "wgflow.studies.cli", "info"],
        capture_output=True, text=True, env=env,
    )
    assert proc.returncode == 0
    assert f"numba cache  {tmp_path / 'c'}" in proc.stdout
