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
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .simd import log_positive, sincos_turns

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


def normals_numpy(key, base_pair, count: int) -> np.ndarray:
    """``count`` normals laid out as the kernels do: entry ``j`` from pair ``base + j // 2``.

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
    c, s = normal_pair_numpy(key, pairs)
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
            f"{name}: need None, an integer ≥ 0, a sequence of them or a SeedSequence, "
            f"got {seed!r}"
        )
    return np.random.SeedSequence(seed)
