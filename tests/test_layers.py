"""The three layers: core ``wgflow/`` ← plugins ``solvers/``, ``problems/`` ← top ``studies/``.

Every module's AST is walked, imports inside functions included; an arrow may only point down.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {  # folder -> package it is installed as
    "wgflow": "wgflow",
    "solvers": "wgflow.solvers",
    "problems": "wgflow.problems",
    "studies": "wgflow.studies",
}
FORBIDDEN = {  # package -> what it may never import
    "wgflow": ("wgflow.solvers", "wgflow.problems", "wgflow.studies"),
    "wgflow.solvers": ("wgflow.problems", "wgflow.studies"),
    "wgflow.problems": ("wgflow.solvers", "wgflow.studies"),
    "wgflow.studies": (),
}


def imported_modules(path: Path, package: str) -> list[tuple[int, str]]:
    """Absolute names of everything a module imports, relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_init = path.name == "__init__.py"
    here = package if is_init else f"{package}.{path.stem}"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = here.split(".")
                base = ".".join(parts[: len(parts) - node.level])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            out.append((node.lineno, module))
            # `from wgflow import solvers` imports the submodule
            out += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return out


def violations() -> list[str]:
    found = []
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, module in imported_modules(path, package):
                for banned in FORBIDDEN[package]:
                    if module == banned or module.startswith(banned + "."):
                        found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return found


def test_no_import_points_up_or_across():
    assert violations() == []


def test_checker_sees_function_level_and_relative_imports(tmp_path):
    code = "def f():\n    from .. import studies\n    import wgflow.problems.porous_medium\n"
    module = tmp_path / "sgd.py"
    module.write_text(code)
    names = [m for _, m in imported_modules(module, "wgflow.solvers")]
    assert "wgflow.studies" in names and "wgflow.problems.porous_medium" in names


@pytest.mark.parametrize("folder", list(PACKAGES))
def test_every_folder_is_mapped_in_pyproject(folder):
    text = (ROOT / "pyproject.toml").read_text()
    assert f'"{PACKAGES[folder]}" = "{folder}"' in text


def test_import_wgflow_is_light_and_solvers_are_one_hop_away():
    code = (
        "import sys, wgflow\n"
        "heavy = [m for m in sys.modules if m.startswith(('wgflow.solvers', 'wgflow.problems',"
        " 'wgflow.studies', 'matplotlib.pyplot'))]\n"
        "assert not heavy, heavy\n"
        "import wgflow.solvers\n"
        "assert wgflow.solvers.FiniteVolume.__module__ == 'wgflow.solvers.finite_volume'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
