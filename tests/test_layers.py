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


def module_name(path: Path, root: Path = ROOT) -> str:
    """The installed dotted name of a source file (sub-folders included)."""
    folder, *rest = path.relative_to(root).with_suffix("").parts
    parts = [*PACKAGES[folder].split("."), *rest]
    return ".".join(parts)  # a package's __init__ keeps "__init__" as its last part


def _resolve(here: str, level: int, module: str | None) -> str:
    """``from <level dots><module> import …`` seen from module ``here``."""
    parts = here.split(".")
    base = ".".join(parts[: len(parts) - level])  # one level = the module's own package
    return f"{base}.{module}" if module else base


def _dynamic_import(node: ast.Call) -> str | None:
    """The literal target of ``importlib.import_module("…")`` or ``__import__("…")``."""
    func = node.func
    named = (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id in ("import_module", "__import__")
    )
    if not named or not node.args or not isinstance(node.args[0], ast.Constant):
        return None
    target = node.args[0].value
    return target if isinstance(target, str) else None


def imported_modules(path: Path, package: str, here: str | None = None) -> list[tuple[int, str]]:
    """Absolute names of everything a module imports, relative and dynamic imports resolved.

    ``here`` is the module's dotted name (default: ``package.<stem>``, or
    ``package.__init__`` for a package's ``__init__.py``).
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    if here is None:
        here = f"{package}.{path.stem}"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(here, node.level, node.module) if node.level else node.module or ""
            out.append((node.lineno, module))
            # `from wgflow import solvers` imports the submodule
            out += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call):
            target = _dynamic_import(node)
            if target is not None:
                out.append((node.lineno, target))
    return out


def violations(root: Path = ROOT) -> list[str]:
    found = []
    for folder, package in PACKAGES.items():
        for path in sorted((root / folder).rglob("*.py")):
            here = module_name(path, root)
            for line, module in imported_modules(path, package, here):
                for banned in FORBIDDEN[package]:
                    if module == banned or module.startswith(banned + "."):
                        found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return found


def test_no_import_points_up_or_across():
    assert violations() == []


PLANTED = {  # (file, code): each imports upward and must be caught
    "init-relative": ("problems/__init__.py", "from ..studies import presets\n"),
    "sub-folder": ("solvers/kernels/fast.py", "from ...problems import keller_segel\n"),
    "importlib": ("wgflow/lazy.py", "import importlib as il\nil.import_module('wgflow.studies')\n"),
    "__import__": ("wgflow/lazy2.py", "def f():\n    return __import__('wgflow.solvers')\n"),
    "function-level": ("solvers/sgd.py", "def f():\n    from .. import studies\n"),
}


@pytest.mark.parametrize("case", sorted(PLANTED))
def test_checker_catches_a_planted_upward_import(tmp_path, case):
    for folder in PACKAGES:
        (tmp_path / folder).mkdir()
    relative, code = PLANTED[case]
    (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / relative).write_text(code)
    found = violations(tmp_path)
    assert found and all(f.startswith(relative) for f in found), found


def test_relative_imports_of_a_package_init_resolve_to_the_package(tmp_path):
    init = tmp_path / "problems" / "__init__.py"
    init.parent.mkdir()
    init.write_text("from .keller_segel import KellerSegel\n")
    names = [m for _, m in imported_modules(init, "wgflow.problems", module_name(init, tmp_path))]
    assert "wgflow.problems.keller_segel" in names


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
