"""Fingerprints of user callables, so that a resume can tell a changed function from its name.

An archive describes a callable (a potential ``V``, a kernel ``W``, a drift, an SGD schedule)
by :func:`fingerprint`: a hash of its bytecode, constants, default arguments and the values it
closes over (recursively through nested functions, :func:`functools.partial` and numba
dispatchers). Two lambdas both named ``'<lambda>'`` get different fingerprints when their code
or captured values differ; the same function defined again (another process, another line of
the file) gets the same one. Global variables the function reads are not part of it (their
names are).

A callable whose behaviour cannot be hashed (an object whose state has no stable
representation) gets ``"uncomparable: …"``, which :func:`same_fingerprint` never matches: a
resume refuses it with that reason rather than trusting a name.
"""

from __future__ import annotations

import functools
import hashlib
import types

import numpy as np

__all__ = ["UNCOMPARABLE", "fingerprint", "same_fingerprint"]

#: prefix of the fingerprint of a callable that cannot be compared
UNCOMPARABLE = "uncomparable: "
_DEPTH = 8  # nesting limit (closures of closures …)
_SCALARS = (bool, int, float, complex, str, bytes)


class _Uncomparable(Exception):
    pass


def fingerprint(func) -> str:
    """A stable hash of what ``func`` computes (``"code:<16 hex digits>"``).

    Parameters
    ----------
    func : callable
        A Python function, lambda, ``functools.partial``, numba dispatcher, numpy ufunc,
        builtin, or a callable object.

    Returns
    -------
    str
        ``"code:…"``, or ``"uncomparable: <reason>"`` when its behaviour cannot be hashed.

    Examples
    --------
    >>> fingerprint(lambda t: 1.0) == fingerprint(lambda t: 1.0)
    True
    >>> fingerprint(lambda t: 1.0) == fingerprint(lambda t: 2.0)
    False
    """
    digest = hashlib.sha256()
    try:
        _feed(digest, func, 0, set())
    except _Uncomparable as exc:
        return f"{UNCOMPARABLE}{exc}"
    return "code:" + digest.hexdigest()[:16]


def same_fingerprint(a, b) -> bool:
    """Whether two archived fingerprints denote the same code (never for uncomparable ones).

    Parameters
    ----------
    a, b : str
        Values returned by :func:`fingerprint`.

    Returns
    -------
    bool
        ``a == b`` and neither is uncomparable.
    """
    return a == b and not str(a).startswith(UNCOMPARABLE)


def _feed(digest, obj, depth: int, seen: set) -> None:
    if id(obj) in seen:  # a function reaching itself (recursion, its own closure)
        digest.update(b"<cycle>")
        return
    if depth > _DEPTH:
        raise _Uncomparable(f"{_name(obj)} nests callables more than {_DEPTH} deep")
    if obj is None or obj is Ellipsis or isinstance(obj, _SCALARS):
        digest.update(repr((type(obj).__name__, obj)).encode())
    elif isinstance(obj, np.ndarray | np.generic):
        arr = np.ascontiguousarray(obj)
        digest.update(f"ndarray{arr.dtype.str}{arr.shape}".encode())
        if arr.dtype.hasobject:
            for item in arr.ravel():
                _feed(digest, item, depth + 1, seen)
        else:
            digest.update(arr.tobytes())
    elif isinstance(obj, slice | range):
        digest.update(repr(obj).encode())
    elif isinstance(obj, list | tuple):
        digest.update(f"{type(obj).__name__}{len(obj)}".encode())
        for item in obj:
            _feed(digest, item, depth + 1, seen)
    elif isinstance(obj, frozenset | set):
        parts = sorted(_sub(item, depth + 1, seen) for item in obj)
        digest.update(("set" + "".join(parts)).encode())
    elif isinstance(obj, dict):
        parts = sorted(_sub(k, depth + 1, seen) + _sub(v, depth + 1, seen) for k, v in obj.items())
        digest.update(("dict" + "".join(parts)).encode())
    elif isinstance(obj, types.CodeType):
        _feed_code(digest, obj, depth, seen)
    elif isinstance(obj, functools.partial):
        digest.update(b"partial")
        _feed(digest, obj.func, depth + 1, seen)
        _feed(digest, obj.args, depth + 1, seen)
        _feed(digest, obj.keywords, depth + 1, seen)
    elif isinstance(obj, types.FunctionType):
        _feed_function(digest, obj, depth, seen)
    elif isinstance(obj, types.MethodType):
        digest.update(b"method")
        _feed(digest, obj.__func__, depth + 1, seen)
        _feed(digest, obj.__self__, depth + 1, seen)
    elif hasattr(obj, "py_func") and isinstance(obj.py_func, types.FunctionType):  # numba
        _feed_function(digest, obj.py_func, depth, seen)
    elif isinstance(obj, np.ufunc | types.BuiltinFunctionType | types.ModuleType | type):
        digest.update(f"{getattr(obj, '__module__', '')}.{_name(obj)}".encode())
    elif hasattr(obj, "describe") and callable(obj.describe):  # wgflow objects
        digest.update(type(obj).__qualname__.encode())
        _feed(digest, obj.describe(), depth + 1, seen)
    elif callable(obj) and hasattr(obj, "__dict__"):
        digest.update(f"{type(obj).__module__}.{type(obj).__qualname__}".encode())
        _feed(digest, type(obj).__call__, depth + 1, seen)
        _feed(digest, vars(obj), depth + 1, seen)
    else:
        raise _Uncomparable(
            f"{_name(obj)} (a {type(obj).__name__}) has no stable description; archive its "
            "settings with the run (e.g. a parameters dict) and pass a plain function"
        )


def _sub(obj, depth: int, seen: set) -> str:
    digest = hashlib.sha256()
    _feed(digest, obj, depth, seen)
    return digest.hexdigest()


def _feed_function(digest, func: types.FunctionType, depth: int, seen: set) -> None:
    digest.update(b"function")
    seen = seen | {id(func)}
    _feed_code(digest, func.__code__, depth, seen)
    _feed(digest, func.__defaults__, depth + 1, seen)
    _feed(digest, func.__kwdefaults__, depth + 1, seen)
    cells = func.__closure__ or ()
    for cell in cells:
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell (a name assigned later)
            value = None
        _feed(digest, value, depth + 1, seen)


def _feed_code(digest, code: types.CodeType, depth: int, seen: set) -> None:
    digest.update(code.co_code)
    digest.update(repr((code.co_names, code.co_varnames, code.co_argcount)).encode())
    for const in code.co_consts:
        _feed(digest, const, depth + 1, seen)


def _name(obj) -> str:
    return getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)[:40]
