"""Statistical tests of the vectorized Gaussian generators, 10⁷ draws (10⁸ in the slow run).

``fill_normal_pairs`` (online SGD's generator) and ``normal_pair_fast``.

Each check has a bound that a wrong generator exceeds: moments 1–8 within 5 standard errors,
Kolmogorov–Smirnov p-value, tail counts beyond 4σ and 5σ (Poisson p-values), correlations
between neighbouring counters and between neighbouring keys within 5/√n, and agreement with
the libm Box–Muller (``normal_pair``) to 1e-14.
"""

import numpy as np
import pytest
import scipy.stats
from numba import njit

from wgflow.random import (
    fill_normal_pairs,
    mix64_numpy,
    normal_pair,
    normal_pair_fast,
    normal_pairs_numpy,
)

N_PAIRS = 5_000_000  # 10⁷ normals


@njit(cache=True, error_model="numpy")
def _fast_normals(key, n_pairs, out):
    for i in range(n_pairs):
        a, b = normal_pair_fast(key, np.uint64(i))
        out[2 * i] = a
        out[2 * i + 1] = b


@njit(cache=True)
def _libm_normals(key, n_pairs, out):
    for i in range(n_pairs):
        a, b = normal_pair(key, np.uint64(i))
        out[2 * i] = a
        out[2 * i + 1] = b


def draws(key, n_pairs=N_PAIRS, fast=True):
    out = np.empty(2 * n_pairs)
    (_fast_normals if fast else _libm_normals)(np.uint64(key), n_pairs, out)
    return out


@pytest.fixture(scope="module")
def sample():
    return draws(0x5EED)


def test_agrees_with_libm_box_muller():
    fast, exact = draws(7, 200_000), draws(7, 200_000, fast=False)
    assert np.abs(fast - exact).max() < 1e-14


def test_moments_to_order_eight(sample):
    exact = {1: 0, 2: 1, 3: 0, 4: 3, 5: 0, 6: 15, 7: 0, 8: 105}
    double_factorial = {2 * k: float(np.prod(np.arange(2 * k - 1, 0, -2))) for k in range(1, 9)}
    for k, value in exact.items():
        mean = np.mean(sample**k)
        sd = np.sqrt(double_factorial[2 * k] - value**2)
        assert abs(mean - value) < 5 * sd / np.sqrt(sample.size), (k, mean)


def test_kolmogorov_smirnov(sample):
    assert scipy.stats.kstest(sample, "norm").pvalue > 1e-4


@pytest.mark.parametrize("sigma", [4.0, 5.0])
def test_tail_frequencies(sample, sigma):
    expected = sample.size * 2 * scipy.stats.norm.sf(sigma)
    count = int(np.sum(np.abs(sample) > sigma))
    low = scipy.stats.poisson.cdf(count, expected)
    high = scipy.stats.poisson.sf(count - 1, expected)
    assert min(low, high) > 5e-5, (sigma, count, expected)


def test_neighbouring_counters_and_keys_are_uncorrelated(sample):
    bound = 5 / np.sqrt(sample.size)
    within_pair = np.corrcoef(sample[0::2], sample[1::2])[0, 1]
    next_pair = np.corrcoef(sample[1:-1:2], sample[2::2])[0, 1]
    squares = np.corrcoef(sample[:-1] ** 2, sample[1:] ** 2)[0, 1]  # Box–Muller radii
    other_key = draws(0x5EED + 1)
    across_keys = np.corrcoef(sample, other_key)[0, 1]
    for r in (within_pair, next_pair, squares, across_keys):
        assert abs(r) < bound, (within_pair, next_pair, squares, across_keys)


# ---- fill_normal_pairs: the generator of online SGD (float32 Box–Muller, one word per pair) --
# The battery: bit-identity with the numpy twin, agreement with the float64 Box–Muller of the
# same words, moments 1–8, Kolmogorov–Smirnov, tails beyond 4σ/5σ/6σ, and correlations (within a
# pair, neighbouring pairs, squares of neighbours, neighbouring keys). 10⁷ draws by default;
# the ``slow`` run repeats it on 10⁸ draws (checks streamed in chunks of 10⁷, KS on all of them).


def pairs_draws(key, n_pairs, first=0, stride=1):
    a = np.empty(n_pairs, np.float32)
    b = np.empty(n_pairs, np.float32)
    fill_normal_pairs(np.uint64(key), np.uint64(first), np.uint64(stride), a, b)
    out = np.empty(2 * n_pairs, np.float32)
    out[0::2], out[1::2] = a, b
    return out


@pytest.fixture(scope="module")
def pairs_sample():
    return pairs_draws(0x5EED, N_PAIRS)


@pytest.mark.parametrize(("first", "stride", "n"), [(0, 1, 1000), (77, 3, 4099), (2**40, 36, 17)])
def test_fill_normal_pairs_is_bit_identical_to_its_numpy_twin(first, stride, n):
    for dtype in (np.float32, np.float64):
        a, b = np.empty(n, dtype), np.empty(n, dtype)
        fill_normal_pairs(np.uint64(99), np.uint64(first), np.uint64(stride), a, b)
        pairs = np.uint64(first) + np.uint64(stride) * np.arange(n, dtype=np.uint64)
        c, s = normal_pairs_numpy(np.uint64(99), pairs)
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, s)


def test_fill_normal_pairs_agrees_with_float64_box_muller():
    # the same 40 + 24 bits through libm in float64: the float32 polynomials are within 1e-6
    pairs = np.arange(200_000, dtype=np.uint64)
    c, s = normal_pairs_numpy(np.uint64(7), pairs)
    z = mix64_numpy(np.uint64(7) + pairs * np.uint64((2 * 0x9E3779B97F4A7C15) % 2**64))
    u1 = ((z >> np.uint64(24)).astype(float) + 0.5) * 2.0**-40
    u2 = ((z & np.uint64(0xFFFFFF)).astype(float) + 0.5) * 2.0**-24
    radius = np.sqrt(-2 * np.log(u1))
    assert np.abs(c - radius * np.cos(2 * np.pi * u2)).max() < 1e-6
    assert np.abs(s - radius * np.sin(2 * np.pi * u2)).max() < 1e-6


def battery(chunks, ks_sample, key_pairs):
    """The statistical checks on a stream given as chunks (float32 arrays of equal size)."""
    exact = {1: 0, 2: 1, 3: 0, 4: 3, 5: 0, 6: 15, 7: 0, 8: 105}
    double_factorial = {2 * k: float(np.prod(np.arange(2 * k - 1, 0, -2))) for k in range(1, 9)}
    sums = dict.fromkeys(exact, 0.0)
    tails = dict.fromkeys((4.0, 5.0, 6.0), 0)
    corr = np.zeros(4)
    total = 0
    for x in chunks:
        x = x.astype(np.float64)
        total += x.size
        power = np.ones_like(x)
        for k in range(1, 9):
            power *= x
            sums[k] += power.sum()
        for sigma in tails:
            tails[sigma] += int(np.sum(np.abs(x) > sigma))
        corr += [
            np.corrcoef(x[0::2], x[1::2])[0, 1],  # within a pair
            np.corrcoef(x[1:-1:2], x[2::2])[0, 1],  # neighbouring pairs
            np.corrcoef(x[:-1] ** 2, x[1:] ** 2)[0, 1],  # squares (Box–Muller radii)
            0.0,
        ]
    n_chunks = len(key_pairs)
    for x, y in key_pairs:  # neighbouring keys, same counters
        corr[3] += np.corrcoef(x, y)[0, 1]
    for k, value in exact.items():
        mean = sums[k] / total
        sd = np.sqrt(double_factorial[2 * k] - value**2)
        assert abs(mean - value) < 5 * sd / np.sqrt(total), (k, mean)
    for sigma, count in tails.items():
        expected = total * 2 * scipy.stats.norm.sf(sigma)
        low = scipy.stats.poisson.cdf(count, expected)
        high = scipy.stats.poisson.sf(count - 1, expected)
        assert min(low, high) > 5e-5, (sigma, count, expected)
    # a chunk's correlation has standard deviation 1/√(chunk size); their mean 1/√total
    bound = 5 / np.sqrt(total)
    assert np.all(np.abs(corr[:3] / n_chunks) < bound), corr / n_chunks
    assert abs(corr[3] / n_chunks) < bound, corr[3] / n_chunks
    assert scipy.stats.kstest(ks_sample, "norm").pvalue > 1e-4


def test_fill_normal_pairs_battery(pairs_sample):
    other = pairs_draws(0x5EED + 1, N_PAIRS)
    battery([pairs_sample], pairs_sample, [(pairs_sample, other)])


@pytest.mark.slow
def test_fill_normal_pairs_battery_on_1e8_draws():
    chunks = [pairs_draws(0xC0FFEE, N_PAIRS, first=c * N_PAIRS) for c in range(10)]
    keys = [(chunks[c], pairs_draws(0xC0FFEE + 1, N_PAIRS, first=c * N_PAIRS)) for c in (0, 9)]
    battery(chunks, np.concatenate(chunks), keys)
