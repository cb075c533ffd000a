"""Scalar helpers that keep numba loops vectorizable (llvmlite has no SVML).

- :func:`float_bits` / :func:`bits_float`: reinterpret a float64 as int64 and back (LLVM
  ``bitcast``). For non-negative floats the integer order is the float order, and integer
  max-reductions vectorize where float ones do not (numba's float ``max`` keeps a scalar
  NaN-aware path): ``top = max_bits(top, float_bits(abs(u)))``.
- :func:`log_positive`: ``log x`` for normal positive ``x`` from its bits with a polynomial,
  relative error ≤ 5e-16, vectorized by LLVM (``np.log`` in a numba loop is a scalar libm call,
  about 5× slower).
- :func:`sincos_turns`: ``(cos 2πu, sin 2πu)`` by octant reduction and Taylor polynomials on
  ``[−π/4, π/4]`` (error ≤ 2e-16), selects instead of branches.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["bits_float", "float_bits", "log_positive", "max_bits", "sincos_turns"]

_LN2 = 0.6931471805599453
_SQRT2 = 1.4142135623730951


@intrinsic
def float_bits(typingctx, x):
    """The IEEE-754 bits of a float64 as an int64 (compiled code only)."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def bits_float(typingctx, x):
    """The float64 whose IEEE-754 bits are the int64 ``x`` (compiled code only)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@njit(cache=True, inline="always")
def max_bits(a, b):
    """The larger of two int64 (bits of non-negative floats)."""
    return a if a > b else b


@njit(cache=True, inline="always")
def log_positive(x):
    """``log x`` for a positive normal float64 (polynomial; vectorizes).

    ``x = 2^e m``, ``m ∈ [√½, √2)``, ``log m = 2 atanh t``, ``t = (m − 1)/(m + 1)``,
    ``|t| ≤ 0.172``: the odd series to ``t^19`` (truncation < 1e-17).
    """
    bits = float_bits(x)
    e = ((bits >> 52) & 0x7FF) - 1023
    m = bits_float((bits & 0xFFFFFFFFFFFFF) | 0x3FF0000000000000)  # mantissa in [1, 2)
    big = m > _SQRT2
    m = 0.5 * m if big else m
    ef = float(e + 1) if big else float(e)
    t = (m - 1.0) / (m + 1.0)
    t2 = t * t
    p = 1.0 / 19.0
    p = p * t2 + 1.0 / 17.0
    p = p * t2 + 1.0 / 15.0
    p = p * t2 + 1.0 / 13.0
    p = p * t2 + 1.0 / 11.0
    p = p * t2 + 1.0 / 9.0
    p = p * t2 + 1.0 / 7.0
    p = p * t2 + 1.0 / 5.0
    p = p * t2 + 1.0 / 3.0
    p = p * t2 + 1.0
    return ef * _LN2 + 2.0 * t * p


_TWO_PI = 6.283185307179586


@njit(cache=True, inline="always")
def sincos_turns(u):
    """``(cos 2πu, sin 2πu)`` for ``|u| ≤ 1`` (polynomial; vectorizes).

    ``u`` is reduced to ``r = u − q/4 − k``, ``|r| ≤ 1/8``, ``x = 2πr ∈ [−π/4, π/4]``; Taylor
    series of ``sin x`` to ``x^17`` and ``cos x`` to ``x^18`` (truncation < 5e-17), then a
    rotation by ``q`` quarter turns.
    """
    v = u - np.floor(u + 0.5)  # [−½, ½)
    q = np.floor(4.0 * v + 0.5)  # quarter turns: −2 … 2
    x = _TWO_PI * (v - 0.25 * q)
    x2 = x * x
    s = 1.0 / 355687428096000.0  # 1/17!
    s = s * x2 - 1.0 / 1307674368000.0
    s = s * x2 + 1.0 / 6227020800.0
    s = s * x2 - 1.0 / 39916800.0
    s = s * x2 + 1.0 / 362880.0
    s = s * x2 - 1.0 / 5040.0
    s = s * x2 + 1.0 / 120.0
    s = s * x2 - 1.0 / 6.0
    s = x + x * x2 * s
    c = -1.0 / 6402373705728000.0  # −1/18!
    c = c * x2 + 1.0 / 20922789888000.0
    c = c * x2 - 1.0 / 87178291200.0
    c = c * x2 + 1.0 / 479001600.0
    c = c * x2 - 1.0 / 3628800.0
    c = c * x2 + 1.0 / 40320.0
    c = c * x2 - 1.0 / 720.0
    c = c * x2 + 1.0 / 24.0
    c = c * x2 - 0.5
    c = 1.0 + x2 * c
    k = q - 4.0 * np.floor(0.25 * q)  # rotate (c, s) by k ∈ {0, 1, 2, 3} quarter turns
    swap = k == 1.0 or k == 3.0
    cos = s if swap else c
    sin = c if swap else s
    cos = -cos if (k == 1.0 or k == 2.0) else cos
    sin = -sin if k >= 2.0 else sin
    return cos, sin
