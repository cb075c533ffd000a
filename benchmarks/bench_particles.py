"""Interacting-particle drift: compiled O(N²) pairwise kernel vs vectorized numpy; O(N K) scaling.

- Pairwise: 2-D aggregation kernel ``W = |x|²/2 − log|x|`` (``PairwiseInteraction.power_law(2,
  0)``), one evaluation of ``Σ_j w_j ∇W(x_i − x_j)`` (the cost of one Euler–Maruyama step) at
  N = 10⁴ and 4·10⁴, against the same sum in vectorized numpy (row blocks of bounded memory,
  ``pairwise_forces_numpy``), measured in the same run; the results are checked to agree.
- Separable: ``K = 8`` features, N = 10³ … 10⁶: time per drift evaluation and the fitted
  exponent of time vs N (1 means linear).
- Custom kernels (``--custom``): one noiseless ``Particles`` step at N = 2,000 in 2-D, ms/step,
  for the same kernel written four ways — the built-in family, a user's
  ``PairwiseInteraction.radial_profile`` (scalar φ, φ′ compiled by numba), a user's vectorized
  ``PairwiseInteraction(kernel, gradient)`` compiled by numba, and the same user functions on
  the numpy fallback (written with ``keepdims=True``, which numba does not compile) — for the
  aggregation kernel ``|x|²/2 − log|x|`` and a Morse kernel. Rounds are interleaved (best of
  ``--repeat``) so a busy machine slows all variants alike; ratios are to the built-in in the
  same run.

Run: ``python benchmarks/bench_particles.py`` (about a minute; ``--quick`` for smaller N;
``--custom`` for the custom-kernel table alone).
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numba
import numpy as np

import wgflow as wg
from wgflow.solvers import Particles
from wgflow.solvers.particle_kernels import pairwise_forces, pairwise_forces_numpy
from wgflow.solvers.particles import interaction_gradient, pairwise_backend


def best(func, repeat=3):
    func()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - start)
    return min(times), out


def _aggregation_variants():
    def grad(z):  # ∇(|z|²/2 − log|z|), numba-compilable
        r2 = np.sum(z * z, axis=-1)
        return z - z / r2[..., None]

    def kernel(z):
        r2 = np.sum(z * z, axis=-1)
        return 0.5 * r2 - 0.5 * np.log(r2)

    def grad_keepdims(z):  # the same, in a style numba does not compile
        return z - z / np.sum(z * z, axis=-1, keepdims=True)

    return {
        "built-in": wg.PairwiseInteraction.power_law(2.0, 0.0),
        "user radial_profile": wg.PairwiseInteraction.radial_profile(
            lambda r: 0.5 * r * r - math.log(r), lambda r: r - 1.0 / r
        ),
        "user vectorized": wg.PairwiseInteraction(kernel, grad),
        "user numpy (fallback)": wg.PairwiseInteraction(kernel, grad_keepdims),
    }


def _morse_variants():
    ca, la, cr, lr = 1.0, 1.0, 0.5, 0.5

    def grad(z):
        r = np.sqrt(np.sum(z * z, axis=-1))
        slope = ca / la * np.exp(-r / la) - cr / lr * np.exp(-r / lr)
        return z * (slope / r)[..., None]

    def kernel(z):
        r = np.sqrt(np.sum(z * z, axis=-1))
        return -ca * np.exp(-r / la) + cr * np.exp(-r / lr)

    def grad_keepdims(z):
        r = np.sqrt(np.sum(z * z, axis=-1, keepdims=True))
        return z * (ca / la * np.exp(-r / la) - cr / lr * np.exp(-r / lr)) / r

    return {
        "built-in": wg.PairwiseInteraction.morse(ca, la, cr, lr),
        "user radial_profile": wg.PairwiseInteraction.radial_profile(
            lambda r: -ca * math.exp(-r / la) + cr * math.exp(-r / lr),
            lambda r: ca / la * math.exp(-r / la) - cr / lr * math.exp(-r / lr),
        ),
        "user vectorized": wg.PairwiseInteraction(kernel, grad),
        "user numpy (fallback)": wg.PairwiseInteraction(kernel, grad_keepdims),
    }


def custom_kernels(n=2_000, repeat=5):
    """ms per noiseless Particles step at N = n, 2-D: built-in vs user-compiled vs numpy."""
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(n, 2))
    print(
        f"\ncustom pairwise kernels: one Particles step, N = {n:,}, 2-D, "
        f"{numba.get_num_threads()} thread(s), best of {repeat} interleaved rounds\n"
    )
    print(
        f"{'kernel':<12}{'variant':<24}{'path':>16}{'ms/step':>10}{'× built-in':>12}{'max rel':>10}"
    )
    for label, variants in (("aggregation", _aggregation_variants()), ("morse", _morse_variants())):
        steps, paths, forces = {}, {}, {}
        for name, term in variants.items():
            solver = Particles(wg.FreeEnergy(interaction=term), dt=1e-3)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the fallback's CompilationNotice
                state = solver.initial_state(x0)  # compiles the user functions
            paths[name] = pairwise_backend(term, 2).path
            forces[name] = interaction_gradient(term, x0, state.weights)
            solver.advance(state, solver.dt)  # warm
            steps[name] = (solver, state)
        best = dict.fromkeys(variants, np.inf)
        for _ in range(repeat):
            for name, (solver, state) in steps.items():
                start = time.perf_counter()
                solver.advance(state, solver.dt)
                best[name] = min(best[name], time.perf_counter() - start)
        ref = forces["built-in"]
        for name in variants:
            diff = np.abs(forces[name] - ref).max() / np.abs(ref).max()
            ratio = best[name] / best["built-in"]
            print(
                f"{label:<12}{name:<24}{paths[name]:>16}{best[name] * 1e3:>10.1f}"
                f"{ratio:>12.2f}{diff:>10.0e}"
            )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--custom", action="store_true", help="only the custom-kernel table")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    custom_kernels(repeat=args.repeat)
    if args.custom:
        return
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
