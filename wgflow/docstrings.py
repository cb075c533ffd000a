"""Methods that implement a documented protocol share its docstring."""

from __future__ import annotations

__all__ = ["inherit_docstrings"]


def inherit_docstrings(*sources: type):
    """Class decorator: copy each undocumented method's docstring from ``sources``.

    Parameters
    ----------
    *sources : type
        Classes (bases or protocols) whose methods carry the reference docstrings.

    Returns
    -------
    callable
        The decorator; it returns the class itself.
    """

    def decorate(cls: type) -> type:
        copy_docstrings(cls, sources)
        return cls

    return decorate


def copy_docstrings(target: type, sources) -> None:
    """Give undocumented methods and properties the docstring of the first source defining them.

    Parameters
    ----------
    target : type
        The implementing class.
    sources : sequence of type
        Where the reference docstrings live.
    """
    for name, member in vars(target).items():
        if name.startswith("_"):
            continue
        function = member.fget if isinstance(member, property) else member
        if not callable(function) or getattr(function, "__doc__", None):
            continue
        for source in sources:
            doc = getattr(getattr(source, name, None), "__doc__", None)
            if doc:
                function.__doc__ = doc
                break
