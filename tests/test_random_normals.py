"""Statistical tests of the vectorized Gaussian generator (``normal_pair_fast``), 10⁷ draws.

Each check has a bound that a wrong generator exceeds: moments 1–8 within 5 standard errors,
Kolmogorov–Smirnov p-value, tail counts beyond 4σ and 5σ (Poisson p-values), correlations
between neighbouring counters and between neighbouring keys within 5/√n, and agreement with
the libm Box–Muller (``normal_pair``) to 1e-14.
"""

import numpy as np
import pytest
import scipy.stats
from numba import njit

from wgflow.random import normal_pair, normal_pair_fast

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
