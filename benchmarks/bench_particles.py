"""Interacting-particle drift: compiled O(N²) pairwise kernel vs vectorized numpy; O(N K) scaling.

- Pairwise: 2-D aggregation kernel ``W = |x|²/2 − log|x|`` (``PairwiseInteraction.power_law(2,
  0)``), one evaluation of ``Σ_j w_j ∇W(x_i − x_j)`` (the cost of one Euler–Maruyama step) at
  N = 10⁴ and 4·10⁴, against the same sum in vectorized numpy (row blocks of bounded memory,
  ``pairwise_forces_numpy``), measured in the same run; the results are checked to agree.
- Separable: ``K = 8`` features, N = 10³ … 10⁶: time per drift evaluation and the fitted
  exponent of time vs N (1 means linear).

Run: ``python benchmarks/bench_particles.py`` (about a minute; ``--quick`` for smaller N).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import wgflow as wg
from wgflow.solvers.particle_kernels import pairwise_forces, pairwise_forces_numpy
from wgflow.solvers.particles import interaction_gradient


def best(func, repeat=3):
    func()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - start)
    return min(times), out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    term = wg.PairwiseInteraction.power_law(2.0, 0.0)
    kind, params = term.radial
    rng = np.random.default_rng(0)
    print("\npairwise drift, 2-D, |x|²/2 − log|x| (one evaluation = one step)\n")
    print(f"{'N':>8}{'wgflow [s]':>12}{'numpy [s]':>12}{'ratio':>8}{'max rel. diff':>15}")
    for n in (2_000, 10_000) if args.quick else (10_000, 40_000):
        x, w = rng.normal(size=(n, 2)), np.full(n, 1.0 / n)
        out = np.empty_like(x)
        t_fast, _ = best(lambda x=x, w=w, out=out: pairwise_forces(x, w, kind, params, out))
        t_np, ref = best(lambda x=x, w=w: pairwise_forces_numpy(x, w, term.gradient), repeat=1)
        diff = np.abs(out - ref).max() / np.abs(ref).max()
        print(f"{n:>8}{t_fast:>12.4f}{t_np:>12.3f}{t_np / t_fast:>8.1f}{diff:>15.1e}")

    k = 8
    freqs = rng.normal(size=(k, 2))
    sep = wg.SeparableInteraction(
        lambda p: np.cos(p @ freqs.T),
        np.ones(k),
        gradient=lambda p: -np.sin(p @ freqs.T)[..., None] * freqs,
    )
    sizes = [1_000, 10_000, 100_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000]
    times = []
    print(f"\nseparable drift, K = {k}\n\n{'N':>9}{'time [s]':>12}{'ns / (N K)':>12}")
    for n in sizes:
        x, w = rng.normal(size=(n, 2)), np.full(n, 1.0 / n)
        t, _ = best(lambda x=x, w=w: interaction_gradient(sep, x, w))
        times.append(t)
        print(f"{n:>9}{t:>12.5f}{t / (n * k) * 1e9:>12.2f}")
    slope = np.polyfit(np.log(sizes[1:]), np.log(times[1:]), 1)[0]
    print(f"\nfitted exponent of time vs N (N ≥ 10⁴): {slope:.2f}  (O(N K): 1)")


if __name__ == "__main__":
    main()
