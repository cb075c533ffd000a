"""Counter-based random numbers for compiled kernels, with bit-identical numpy twins.

The value for ``(key, counter)`` is the SplitMix64 output for the Weyl state
``key + counter · γ`` (Steele, Lea & Flood, OOPSLA 2014), so any entry of any stream is computed
independently of the others: kernels can draw in any order, on any number of threads, and get the
same numbers. Keys come from :class:`numpy.random.SeedSequence`.

- :func:`uniform`: ``(0, 1)`` with 53 random bits.
- :func:`normal_pair`: two independent standard normals (Box–Muller) from pair counter ``c``
  (uniforms ``2c`` and ``2c + 1``).
- :func:`normal_pair_fast`: the same pair with polynomial ``log``, ``sin``, ``cos``
  (:mod:`wgflow.simd`; within 1e-15 of :func:`normal_pair`), which LLVM vectorizes: the
  Gaussian noise of noisy SGD.
- :func:`rademacher`: ``±1`` from bit ``c mod 64`` of word ``c // 64``.
- :func:`fill_normal_pairs`: the generator of online SGD (data and noise). Box–Muller on one
  64-bit word per pair — word ``2c`` of the stream for pair counter ``c`` — split into 40 bits
  for the radius (``u₁ = (k₁ + ½) 2⁻⁴⁰``, so ``|n| ≤ √(82 ln 2) = 7.54``) and 24 bits for the
  angle, evaluated in float32 with polynomial ``log``/``sin``/``cos`` (each normal within
  1e-6 of the float64 Box–Muller of the same word) in a loop that LLVM vectorizes 16 lanes
  wide. The numpy twin :func:`normal_pairs_numpy` repeats the same float32 operations in the
  same order (no fused multiply-add on either side), so the two agree bit for bit.

  Statistical battery (``tests/test_random_normals.py``; 10⁷ draws by default, 10⁸ in the
  ``slow`` run): moments 1–8 within 5 standard errors, Kolmogorov–Smirnov p > 1e-4, counts
  beyond 4σ, 5σ and 6σ against Poisson (two-sided p > 5e-5), correlations between the two
  normals of a pair, neighbouring pairs, the squares of neighbours and neighbouring keys
  within 5/√n, and agreement with the float64 Box–Muller of the same uniforms to 1e-6.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .simd import bits_float, float_bits, log_positive, sincos_turns

GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TWO = np.uint64(2)
_ONE = np.uint64(1)
_SIXTYFOUR = np.uint64(64)
_INV53 = 2.0**-53
_TWO_PI = 2.0 * math.pi


@njit(cache=True, inline="always")
def mix64(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def uniform(key, counter):
    """Uniform on (0, 1) for uint64 ``key`` and ``counter``."""
    z = mix64(key + counter * GAMMA)
    return (float(z >> _S11) + 0.5) * _INV53


@njit(cache=True, inline="always")
def normal_pair(key, pair):
    """Two standard normals from uint64 pair counter ``pair``."""
    u1 = uniform(key, pair * _TWO)
    u2 = uniform(key, pair * _TWO + _ONE)
    radius = math.sqrt(-2.0 * math.log(u1))
    angle = _TWO_PI * u2
    return radius * math.cos(angle), radius * math.sin(angle)


@njit(cache=True, inline="always")
def normal_pair_fast(key, pair):
    """:func:`normal_pair` with vectorizable polynomial ``log``, ``cos``, ``sin``."""
    u1 = uniform(key, pair * _TWO)
    u2 = uniform(key, pair * _TWO + _ONE)
    radius = math.sqrt(-2.0 * log_positive(u1))
    cos, sin = sincos_turns(u2)
    return radius * cos, radius * sin


# ---- the float32 Box–Muller of fill_normal_pairs (constants typed float32 for numba) -------
_F32 = np.float32
_GAMMA2 = np.uint64((2 * 0x9E3779B97F4A7C15) % 2**64)  # pair counter c → word 2c
_S24 = np.uint64(24)
_MASK24 = np.uint64(0xFFFFFF)
_INV40 = 2.0**-40
_HALF32, _ONE32, _TWO32 = _F32(0.5), _F32(1), _F32(2)
_MINUS_TWO32 = _F32(-2)
_SQRT2 = math.sqrt(2.0)
_LN2_32 = _F32(math.log(2.0))
# log m = 2 atanh t, t = (m − 1)/(m + 1), |t| ≤ 0.172: series to t⁹ (truncation < 3e-9)
_LOG32 = tuple(_F32(1.0 / k) for k in (9, 7, 5, 3))
# sin x, cos x on |x| ≤ π/4: Cephes' float32 minimax coefficients (sinf.c, cosf.c)
_SIN32 = tuple(_F32(c) for c in (-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1))
_COS32 = tuple(_F32(c) for c in (2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2))
_OCTANT, _MASK22, _S22 = np.uint64(1 << 21), np.uint64((1 << 22) - 1), np.uint64(22)
_R_SHIFT32 = _F32(2**21 - 0.5)  # x = 2π (r + ½) 2⁻²⁴ with r = (t mod 2²²) − 2²¹
_ANGLE32 = _F32(_TWO_PI * 2.0**-24)


@njit(cache=True, inline="always")
def _log32(u):
    """``log u`` in float32 for a float64 ``u ∈ (0, 1]`` (polynomial; see :data:`_LOG32`).

    ``u = 2^e m``, ``m ∈ [√½, √2)`` from the float64 bits; ``m − 1`` is exact in float64 and
    rounded once to float32, so ``log u`` keeps float32's relative precision also near
    ``u = 1`` (where ``−2 log u`` is the small squared radius).
    """
    bits = float_bits(u)
    e = ((bits >> 52) & 0x7FF) - 1023
    m = bits_float((bits & 0xFFFFFFFFFFFFF) | 0x3FF0000000000000)  # mantissa in [1, 2)
    big = m > _SQRT2
    m1 = _F32(0.5 * m - 1.0 if big else m - 1.0)
    ef = _F32(e + 1) if big else _F32(e)
    t = m1 / (m1 + _TWO32)
    t2 = t * t
    p = _LOG32[0]
    p = p * t2 + _LOG32[1]
    p = p * t2 + _LOG32[2]
    p = p * t2 + _LOG32[3]
    p = p * t2 + _ONE32
    return ef * _LN2_32 + _TWO32 * t * p


@njit(cache=True, inline="always")
def _sincos32(z):
    """``(cos 2πu, sin 2πu)`` in float32 for the 24-bit angle ``u = (z mod 2²⁴ + ½) 2⁻²⁴``.

    Exact integer reduction to a quarter turn ``q`` and ``x = 2π (r + ½) 2⁻²⁴ ∈ [−π/4, π/4)``,
    then Cephes' float32 minimax polynomials for ``sin x``, ``cos x`` and a rotation by ``q``.
    """
    t = ((z & _MASK24) + _OCTANT) & _MASK24
    q = t >> _S22
    x = (_F32(np.int64(t & _MASK22)) - _R_SHIFT32) * _ANGLE32
    x2 = x * x
    s = _SIN32[0]
    s = s * x2 + _SIN32[1]
    s = s * x2 + _SIN32[2]
    s = x + x * x2 * s
    c = _COS32[0]
    c = c * x2 + _COS32[1]
    c = c * x2 + _COS32[2]
    c = _ONE32 - _HALF32 * x2 + x2 * x2 * c
    odd = (q & _ONE) == _ONE
    cos = s if odd else c
    sin = c if odd else s
    cos = -cos if (q == _ONE or q == _TWO) else cos
    sin = -sin if q >= _TWO else sin
    return cos, sin


# fastmath=False explicitly: a callee inherits an unset fastmath from a fastmath caller, and the
# numpy twin agrees bit for bit only without fused or reassociated operations
@njit(cache=True, error_model="numpy", fastmath=False)
def fill_normal_pairs(key, first, stride, out1, out2):
    """Standard normals of pair counters ``first + i · stride`` into ``out1[i]``, ``out2[i]``.

    One SplitMix64 word per pair (word ``2c`` for pair ``c``): its high 40 bits give the radius
    ``√(−2 log u₁)``, its low 24 bits the angle ``2π u₂``; float32 arithmetic, polynomial
    ``log``/``sin``/``cos`` (see the module docstring for the accuracy and the battery).

    Parameters
    ----------
    key, first, stride : uint64
        Stream key, first pair counter, counter step between consecutive entries.
    out1, out2 : ndarray of float32 or float64, shape (n,)
        Receive the cosine and sine normals of each pair.
    """
    for i in range(out1.size):
        z = mix64(key + (first + np.uint64(i) * stride) * _GAMMA2)
        u1 = (float(z >> _S24) + 0.5) * _INV40  # exact in float64
        radius = np.sqrt(_MINUS_TWO32 * _log32(u1))
        cos, sin = _sincos32(z)
        out1[i] = radius * cos
        out2[i] = radius * sin


@njit(cache=True, inline="always")
def rademacher(key, counter):
    """``±1.0`` from bit ``counter % 64`` of word ``counter // 64``."""
    word = mix64(key + (counter // _SIXTYFOUR) * GAMMA)
    return 1.0 if (word >> (counter % _SIXTYFOUR)) & _ONE else -1.0


# ---- numpy twins (vectorized; arrays so that uint64 products wrap silently) ----------------
def mix64_numpy(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output mix (numpy twin of :func:`mix64`).

    Parameters
    ----------
    z : ndarray of uint64
        Weyl states.

    Returns
    -------
    ndarray of uint64
        Mixed words.
    """
    z = np.asarray(z, dtype=np.uint64)
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def uniform_numpy(key, counter) -> np.ndarray:
    """Uniforms in ``(0, 1)`` with 53 random bits (numpy twin of :func:`uniform`).

    Parameters
    ----------
    key : uint64 or ndarray
        Stream key.
    counter : uint64 or ndarray
        Position in the stream.

    Returns
    -------
    ndarray of float64
        The uniform at each counter.
    """
    counter = np.asarray(counter, dtype=np.uint64)
    z = mix64_numpy(np.asarray(key, dtype=np.uint64) + counter * GAMMA)
    return ((z >> _S11).astype(np.float64) + 0.5) * _INV53


def normal_pair_numpy(key, pair) -> tuple[np.ndarray, np.ndarray]:
    """Two independent standard normals per pair counter (numpy twin of :func:`normal_pair`).

    Box–Muller on uniforms ``2 pair`` and ``2 pair + 1``.

    Parameters
    ----------
    key : uint64 or ndarray
        Stream key.
    pair : uint64 or ndarray
        Pair counter (uses uniforms ``2 pair`` and ``2 pair + 1``).

    Returns
    -------
    tuple of ndarray
        The two normals.
    """
    pair = np.asarray(pair, dtype=np.uint64)
    u1 = uniform_numpy(key, pair * _TWO)
    u2 = uniform_numpy(key, pair * _TWO + _ONE)
    radius = np.sqrt(-2.0 * np.log(u1))
    return radius * np.cos(_TWO_PI * u2), radius * np.sin(_TWO_PI * u2)


def normal_pairs_numpy(key, pair) -> tuple[np.ndarray, np.ndarray]:
    """The normals of :func:`fill_normal_pairs` for each pair counter (its numpy twin).

    Parameters
    ----------
    key : uint64 or ndarray
        Stream key.
    pair : uint64 or ndarray
        Pair counters (word ``2 pair`` of the stream).

    Returns
    -------
    tuple of ndarray of float64
        The cosine and sine normals (float32 values), bit-identical to the kernel's.
    """
    pair = np.asarray(pair, dtype=np.uint64)
    z = mix64_numpy(np.asarray(key, dtype=np.uint64) + pair * _GAMMA2)
    u1 = ((z >> _S24).astype(np.float64) + 0.5) * _INV40
    bits = np.atleast_1d(u1).view(np.int64)
    e = ((bits >> 52) & 0x7FF) - 1023
    m = ((bits & 0xFFFFFFFFFFFFF) | 0x3FF0000000000000).view(np.float64)
    big = m > _SQRT2
    m1 = np.where(big, 0.5 * m - 1.0, m - 1.0).astype(_F32)
    ef = np.where(big, e + 1, e).astype(_F32)
    t = m1 / (m1 + _TWO32)
    t2 = t * t
    p = _LOG32[0] * t2 + _LOG32[1]
    p = p * t2 + _LOG32[2]
    p = p * t2 + _LOG32[3]
    p = p * t2 + _ONE32
    radius = np.sqrt(_MINUS_TWO32 * (ef * _LN2_32 + _TWO32 * t * p)).reshape(np.shape(u1))
    t = ((z & _MASK24) + _OCTANT) & _MASK24
    q = t >> _S22
    x = ((t & _MASK22).astype(np.int64).astype(_F32) - _R_SHIFT32) * _ANGLE32
    x2 = x * x
    s = _SIN32[0] * x2 + _SIN32[1]
    s = s * x2 + _SIN32[2]
    s = x + x * x2 * s
    c = _COS32[0] * x2 + _COS32[1]
    c = c * x2 + _COS32[2]
    c = _ONE32 - _HALF32 * x2 + x2 * x2 * c
    odd = (q & _ONE) == _ONE
    cos, sin = np.where(odd, s, c), np.where(odd, c, s)
    cos = np.where((q == _ONE) | (q == _TWO), -cos, cos)
    sin = np.where(q >= _TWO, -sin, sin)
    return (radius * cos).astype(np.float64), (radius * sin).astype(np.float64)


def normals_numpy(key, base_pair, count: int) -> np.ndarray:
    """``count`` normals laid out as the SGD kernels do (numpy).

    Entry ``j`` comes from pair ``base + j // 2`` of :func:`normal_pairs_numpy`: the cosine
    normal at even ``j``, the sine one at odd ``j``.

    Parameters
    ----------
    key : uint64 or ndarray
        Stream key.
    base_pair : uint64 or ndarray
        First pair counter.
    count : int
        Normals wanted.

    Returns
    -------
    ndarray, shape (..., count)
        The normals.
    """
    pairs = np.asarray(base_pair, dtype=np.uint64)[..., None] + np.arange(
        (count + 1) // 2, dtype=np.uint64
    )
    c, s = normal_pairs_numpy(key, pairs)
    out = np.stack([c, s], axis=-1).reshape(*pairs.shape[:-1], -1)
    return out[..., :count]


def rademacher_numpy(key, counter) -> np.ndarray:
    """``±1`` from bit ``counter mod 64`` of word ``counter // 64`` (twin of :func:`rademacher`).

    Parameters
    ----------
    key : uint64 or ndarray
        Stream key.
    counter : uint64 or ndarray
        Position in the stream.

    Returns
    -------
    ndarray of float64
        ``±1`` at each counter.
    """
    counter = np.asarray(counter, dtype=np.uint64)
    word = mix64_numpy(np.asarray(key, dtype=np.uint64) + (counter // _SIXTYFOUR) * GAMMA)
    return np.where((word >> (counter % _SIXTYFOUR)) & _ONE, 1.0, -1.0)


def stream_keys(seed_sequence: np.random.SeedSequence, n: int) -> np.ndarray:
    """``n`` independent uint64 keys from a SeedSequence (one per replica or stream).

    Parameters
    ----------
    seed_sequence : numpy.random.SeedSequence
        The source of entropy.
    n : int
        Keys wanted.

    Returns
    -------
    ndarray of uint64, shape (n,)
        The keys.
    """
    return seed_sequence.generate_state(n, dtype=np.uint64)


def children(seed_sequence: np.random.SeedSequence, n: int) -> list[np.random.SeedSequence]:
    """The first ``n`` children of ``seed_sequence``, the same on every call.

    ``SeedSequence.spawn`` is stateful (a second call gives new children), so a solver that
    spawned per run would not repeat itself; these equal the first ``spawn(n)`` of a fresh
    sequence.

    Parameters
    ----------
    seed_sequence : numpy.random.SeedSequence
        The parent.
    n : int
        Children wanted.

    Returns
    -------
    list of numpy.random.SeedSequence
        Children ``0 … n−1``.
    """
    return [
        np.random.SeedSequence(
            seed_sequence.entropy,
            spawn_key=(*seed_sequence.spawn_key, i),
            pool_size=seed_sequence.pool_size,
        )
        for i in range(n)
    ]


def seed_sequence(seed, name: str = "seed") -> np.random.SeedSequence:
    """A ``SeedSequence`` from a user's seed, or a ``ValueError`` naming the parameter.

    Parameters
    ----------
    seed : None, int ≥ 0, sequence of int ≥ 0, or numpy.random.SeedSequence
        ``None`` draws fresh entropy (recorded in archives, so the run can be repeated).
    name : str
        The parameter named in the error.

    Returns
    -------
    numpy.random.SeedSequence
        The sequence (``seed`` itself when it is one).
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        return np.random.SeedSequence()
    values = [seed] if isinstance(seed, int | np.integer) else seed
    ok = isinstance(values, list | tuple | np.ndarray) and len(values) > 0
    ok = ok and all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 0 for v in values
    )
    if not ok or isinstance(seed, bool):
        raise ValueError(
            f"{name}: need None, an integer ≥ 0, a sequence of them or a SeedSequence, got {seed!r}"
        )
    return np.random.SeedSequence(seed)
