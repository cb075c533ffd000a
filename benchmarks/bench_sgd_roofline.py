"""Online SGD against the in-place roofline of its weights, and exact-Gaussian noise vs clean.

Each step of the fused kernel reads and writes the ``N × P`` weights once. The roofline of a
step is the time of ``np.multiply(W, 1, out=W)`` on an array of the same size and dtype (one
read, one write), measured in the same run; the fraction is ``roofline time / step time``
(1 = the kernel moves the weights as fast as numpy's in-place multiply). Networks: ``w`` only
(the seed's isotropic experiment: ramp at ``d = 40``) and relu ``w``, one sample per step, one
replica, one thread. The last column times noisy SGD with exact Gaussian increments
(``β = 100``) as a fraction of the clean step.

Run: ``python benchmarks/bench_sgd_roofline.py`` (about a minute).
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
from roofline import inplace_seconds  # benchmarks/roofline.py (this folder)

from wgflow.problems import AnisotropicGaussians
from wgflow.solvers import SGD

CASES = [  # (activation, d, N, dtype)
    ("ramp", 40, 800, "float64"),
    ("relu", 40, 800, "float64"),
    ("relu", 40, 800, "float32"),
    ("relu", 320, 800, "float64"),
    ("relu", 320, 800, "float32"),
    ("relu", 320, 3200, "float64"),
    ("relu", 1280, 800, "float64"),
]


def steps_per_second(sgd: SGD, steps: int, repeat: int = 5) -> float:
    state = sgd.initial_state(None)
    state = sgd.advance(state, 20 * sgd.step_size)  # compile, warm caches
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        state = sgd.advance(state, (state.k + steps) * sgd.step_size)
        best = min(best, time.perf_counter() - start)
    return steps / best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args(argv)
    numba.set_num_threads(1)
    print(f"\n{'case':<30}{'steps/s':>10}{'step [µs]':>11}{'roofline [µs]':>15}"
          f"{'fraction':>10}{'noisy/clean':>13}")  # fmt: skip
    for activation, d, n, dtype in CASES:
        prob = AnisotropicGaussians(d=d, s0=d if activation == "ramp" else d // 4, delta=0.5,
                                    activation=activation)  # fmt: skip
        model = prob.model(initial_scale=1.0, exact_risk=False)
        clean = steps_per_second(SGD(model, n, 1e-4, seed=0, dtype=dtype), args.steps)
        noisy = steps_per_second(
            SGD(model, n, 1e-4, seed=0, dtype=dtype, beta=100.0), max(args.steps // 10, 200)
        )
        roof = inplace_seconds((n, model.n_params), dtype)
        label = f"{activation} d={d} N={n} {dtype}"
        print(f"{label:<30}{clean:>10.0f}{1e6 / clean:>11.2f}{roof * 1e6:>15.2f}"
              f"{roof * clean:>10.2f}{noisy / clean:>13.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
