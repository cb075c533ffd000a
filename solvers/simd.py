"""Scalar helpers that keep numba loops vectorizable (llvmlite has no SVML).

- :func:`float_bits` / :func:`bits_float`: reinterpret a float64 as int64 and back (LLVM
  ``bitcast``). For non-negative floats the integer order is the float order, and integer
  max-reductions vectorize where float ones do not (numba's float ``max`` keeps a scalar
  NaN-aware path): ``top = max_bits(top, float_bits(abs(u)))``.
- :func:`log_positive`: ``log x`` for normal positive ``x`` from its bits with a polynomial,
  relative error ≤ 5e-16, vectorized by LLVM (``np.log`` in a numba loop is a scalar libm call,
  about 5× slower).
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["bits_float", "float_bits", "log_positive", "max_bits"]

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
