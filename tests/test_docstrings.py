"""numpydoc sections on every public function, class and method (the docs build applies the
same checks): a summary line, every parameter documented with a type and a description, a
Returns section where something is returned."""

import importlib
import inspect

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")

#: the checks enforced (numpydoc codes); See Also, Examples and extended summaries are optional
CHECKS = ("GL08", "SS01", "SS02", "SS03", "SS06", "PR01", "PR02", "PR03", "PR04", "PR07",
          "PR08", "RT01", "RT03")  # fmt: skip
MODULES = (
    "wgflow", "wgflow.solvers", "wgflow.problems", "wgflow.metrics", "wgflow.io",
    "wgflow.sweep", "wgflow.plotting", "wgflow.trackers", "wgflow.networks", "wgflow.errors",
    "wgflow.solver", "wgflow.compilation", "wgflow.random", "wgflow.validation",
    "wgflow.docstrings", "wgflow.problems.gaussian_expectations", "wgflow.studies.cli",
    "wgflow.studies.coupling", "wgflow.studies.global_convergence", "wgflow.studies.jobs",
    "wgflow.studies.presets", "wgflow.studies.sgd_vs_pde",
)  # fmt: skip


def public_objects() -> list[str]:
    names = set()
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        exported = getattr(module, "__all__", [n for n in dir(module) if not n.startswith("_")])
        for name in exported:
            obj = getattr(module, name, None)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__.startswith(
                "wgflow"
            ):
                names.add(f"{obj.__module__}.{obj.__qualname__}")
                if inspect.isclass(obj):
                    names.update(public_methods(obj))
    return sorted(names)


def public_methods(cls: type) -> list[str]:
    """Methods, class/static methods and properties a class defines itself."""
    kinds = (classmethod, staticmethod, property)
    return [
        f"{cls.__module__}.{cls.__qualname__}.{name}"
        for name, member in vars(cls).items()
        if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, kinds))
    ]


def test_there_are_public_objects_to_check():
    assert len(public_objects()) > 250  # 87 functions and classes, 212 methods


@pytest.mark.parametrize("name", public_objects())
def test_public_docstring_has_numpydoc_sections(name):
    errors = [f"{code}: {message}" for code, message in numpydoc_validate.validate(name)["errors"]
              if code in CHECKS]  # fmt: skip
    assert errors == [], name
