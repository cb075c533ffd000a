"""Checks at the public boundary: clear errors naming the parameter and the allowed range."""

from __future__ import annotations

import difflib
import functools
import inspect
import math
from numbers import Real

import numpy as np

from .errors import ParameterError


def strict_keywords(func):
    """Turn unknown keyword arguments into a ``ParameterError`` that lists the allowed names.

    Parameters
    ----------
    func : callable
        A function or method with a fixed keyword set.

    Returns
    -------
    callable
        The wrapped function.
    """
    sig = inspect.signature(func)
    allowed = [
        name
        for name, p in sig.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name != "self"
    ]
    accepts_var_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if not accepts_var_kw:
            for name in kwargs:
                if name not in allowed:
                    close = difflib.get_close_matches(name, allowed, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    owner = func.__qualname__.removesuffix(".__init__")
                    raise ParameterError(
                        f"{owner}: unknown parameter {name!r}{hint}; allowed: {', '.join(allowed)}"
                    )
        return func(*args, **kwargs)

    return wrapper


def check_real(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
) -> float:
    """Return ``float(value)`` after checking it is a finite real number in the given range.

    Parameters
    ----------
    name : str
        Parameter name used in the error message.
    value : object
        The value to check (bools refused).
    low, high : float, optional
        Bounds of the allowed range.
    low_open, high_open : bool
        Exclude the bound itself.
    allow_inf : bool
        Accept ``±inf`` when inside the range (e.g. ``beta = inf``: no noise); refused by
        default.

    Returns
    -------
    float
        ``value`` as a float.

    Examples
    --------
    >>> check_real("beta", 2.0, low=0, low_open=True)
    2.0
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ParameterError(f"{name}: need a real number, got {type(value).__name__} {value!r}")
    x = float(value)
    lo_txt = "(" if low_open or low is None else "["  # an infinite end is never included
    hi_txt = ")" if high_open or high is None else "]"
    rng = f"{lo_txt}{'-inf' if low is None else f'{low:g}'}, "
    rng += f"{'inf' if high is None else f'{high:g}'}{hi_txt}"
    if math.isnan(x):
        raise ValueError(f"{name}: must lie in {rng}, got nan")
    bad_low = low is not None and (x < low or (low_open and x == low))
    bad_high = high is not None and (x > high or (high_open and x == high))
    if bad_low or bad_high:
        raise ValueError(f"{name}: must lie in {rng}, got {x}")
    if math.isinf(x) and not allow_inf:
        raise ValueError(f"{name}: must be finite (in {rng}), got {x}")
    return x


def check_positive(name: str, value) -> float:
    """A finite real number > 0.

    Parameters
    ----------
    name : str
        Parameter name used in the error message.
    value : object
        The value to check.

    Returns
    -------
    float
        ``value`` as a float.
    """
    x = check_real(name, value, low=0.0, low_open=True)
    if math.isinf(x):
        raise ValueError(f"{name}: must be finite and > 0, got {x}")
    return x


def check_positive_int(name: str, value) -> int:
    """An integer ≥ 1 (bools refused).

    Parameters
    ----------
    name : str
        Parameter name used in the error message.
    value : object
        The value to check.

    Returns
    -------
    int
        ``value`` as an int.
    """
    return check_int(name, value, 1)


def check_int(name: str, value, low: int = 0) -> int:
    """An integer ≥ ``low`` (bools, floats such as ``6.5`` or ``6.0`` and strings refused).

    Parameters
    ----------
    name : str
        Parameter name used in the error message.
    value : object
        The value to check.
    low : int
        The smallest allowed value.

    Returns
    -------
    int
        ``value`` as an int.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name}: need an integer ≥ {low}, got {value!r}")
    return int(value)


def check_bool(name: str, value, allow_none: bool = False) -> bool | None:
    """``True`` or ``False`` (or ``None`` where allowed); truthy strings such as ``"no"`` refused.

    Parameters
    ----------
    name : str
        Parameter name used in the error message.
    value : object
        The value to check.
    allow_none : bool
        Accept ``None`` (a default chosen later).

    Returns
    -------
    bool or None
        ``value`` as a bool.
    """
    if value is None and allow_none:
        return None
    if not isinstance(value, bool | np.bool_):
        allowed = "True, False or None" if allow_none else "True or False"
        raise ValueError(f"{name}: need {allowed}, got {value!r}")
    return bool(value)


def check_choice(name: str, value, choices) -> object:
    """``value`` must be one of ``choices``.

    Parameters
    ----------
    name : str
        Parameter name used in the error message.
    value : object
        The value to check.
    choices : collection
        The allowed values.

    Returns
    -------
    object
        ``value``.
    """
    if value not in choices:
        raise ValueError(f"{name}: must be one of {list(choices)}, got {value!r}")
    return value


def real_array(name: str, value, dtype=np.float64) -> np.ndarray:
    """``value`` as a new real array; complex, text or object input is refused, not cast.

    Parameters
    ----------
    name : str
        Parameter name used in the error message.
    value : array_like
        Numbers (bools and integers are converted).
    dtype : numpy dtype
        The result's dtype.

    Returns
    -------
    ndarray
        A copy of ``value`` as ``dtype``.

    Examples
    --------
    >>> real_array("x0", [[1, 2]])
    array([[1., 2.]])
    """
    raw = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if np.iscomplexobj(raw):
        raise ValueError(f"{name}: need real numbers, got complex values (pass .real explicitly)")
    if raw.dtype.kind not in "biuf":
        raise ValueError(
            f"{name}: need an array of real numbers, got dtype {raw.dtype} ({type(value).__name__})"
        )
    return np.array(raw, dtype=dtype)


def check_points(name: str, value, dim: int) -> np.ndarray:
    """At least one finite point of ``R^dim``, as a float array of shape ``(n, dim)``.

    Parameters
    ----------
    name : str
        Parameter name used in the error message.
    value : array_like, shape (n, dim)
        The points.
    dim : int
        Their dimension.

    Returns
    -------
    ndarray, shape (n, dim)
        A float copy.
    """
    points = real_array(name, value)
    if points.ndim != 2 or points.shape[1] != dim or points.shape[0] == 0:
        raise ValueError(f"{name}: need shape (n, {dim}) with n ≥ 1, got {points.shape}")
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{name}: need finite coordinates")
    return points
