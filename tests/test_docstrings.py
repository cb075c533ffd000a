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
def public_modules() -> list[str]:
    """Every module of the package whose name has no leading underscore (all layers)."""
    import pkgutil

    import wgflow

    names = ["wgflow"]
    for info in pkgutil.walk_packages(wgflow.__path__, "wgflow."):
        parts = info.name.split(".")
        if not any(p.startswith("_") for p in parts):
            names.append(info.name)
    for sub in ("wgflow.solvers", "wgflow.problems", "wgflow.studies"):
        package = importlib.import_module(sub)
        names.append(sub)
        for info in pkgutil.iter_modules(package.__path__, sub + "."):
            if not info.name.rsplit(".", 1)[1].startswith("_"):
                names.append(info.name)
    return sorted(set(names))


MODULES = tuple(public_modules())


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
    assert len(public_objects()) > 400


def test_every_public_module_is_covered():
    """Every ``.py`` file of the four folders not named ``_…`` is a checked module."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    packages = {"wgflow": "wgflow", "solvers": "wgflow.solvers", "problems": "wgflow.problems",
                "studies": "wgflow.studies"}  # fmt: skip
    expected = {
        f"{package}.{path.stem}" if path.stem != "__init__" else package
        for folder, package in packages.items()
        for path in (root / folder).glob("*.py")
        if not path.stem.startswith("_") or path.stem == "__init__"
    }
    assert expected <= set(MODULES), sorted(expected - set(MODULES))


@pytest.mark.parametrize("name", public_objects())
def test_public_docstring_has_numpydoc_sections(name):
    errors = [f"{code}: {message}" for code, message in numpydoc_validate.validate(name)["errors"]
              if code in CHECKS]  # fmt: skip
    assert errors == [], name


def test_no_control_characters_in_sources():
    """A ``\\frac`` or ``\\tfrac`` typed in a non-raw string becomes a form feed or a tab and
    breaks the rendered maths: no source holds such characters."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    bad = {"\f": "form feed (\\f…)", "\b": "backspace (\\b…)", "\a": "bell (\\a…)",
           "\v": "vertical tab (\\v…)", "\t": "tab (\\t…)"}  # fmt: skip
    found = [
        f"{path.relative_to(root)}:{line}: {label}"
        for folder in ("wgflow", "solvers", "problems", "studies")
        for path in sorted((root / folder).rglob("*.py"))
        for line, text in enumerate(path.read_text().split("\n"), 1)
        for char, label in bad.items()
        if char in text
    ]
    assert found == []
