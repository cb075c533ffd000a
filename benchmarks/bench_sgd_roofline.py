"""Online SGD against the in-place roofline of its weights, and exact-Gaussian noise vs clean.

Each step of the fused kernel reads and writes the ``N × P`` weights once. The roofline of a
step is the time of ``np.multiply(W, 1, out=W)`` on an array of the same size and dtype (one
read, one write), measured in the same run; the fraction is ``roofline time / step time``
(1 = the kernel moves the weights as fast as numpy's in-place multiply). Networks: ``w`` only
(the seed's isotropic experiment: ramp at ``d = 40``) and relu ``w``, one sample per step, one
replica, one thread. The last column times noisy SGD with exact Gaussian increments
(``β = 100``) as a fraction of the clean step. Times are the thread's CPU time
(``time.thread_time``), best of ``--repeat``: on a shared machine wall-clock times include the
waits of a descheduled process; the roofline is timed with the same clock.

Run: ``python benchmarks/bench_sgd_roofline.py`` (about a minute).
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
from roofline import inplace_seconds  # benchmarks/roofline.py (this folder)

from wgflow.networks import Activation
from wgflow.problems import AnisotropicGaussians
from wgflow.solvers import SGD

#: a user piecewise-linear activation with four knots (five linear pieces)
USER_PIECEWISE = Activation.piecewise_linear([-1.0, 0.0, 0.5, 1.5], [0.0, 1.0, -0.5, 0.3])

CASES = [  # (activation, d, N, dtype)
    ("relu", 40, 800, "float64"),
    ("ramp", 40, 800, "float64"),
    ("truncated_relu", 40, 800, "float64"),
    (USER_PIECEWISE, 40, 800, "float64"),
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
        start = time.thread_time()
        state = sgd.advance(state, (state.k + steps) * sgd.step_size)
        best = min(best, time.thread_time() - start)
    return steps / best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5, help="best of this many timings")
    args = parser.parse_args(argv)
    numba.set_num_threads(1)
    print(f"\n{'case':<36}{'steps/s':>10}{'step [µs]':>11}{'roofline [µs]':>15}"
          f"{'fraction':>10}{'noisy/clean':>13}")  # fmt: skip
    for activation, d, n, dtype in CASES:
        prob = AnisotropicGaussians(d=d, s0=d if activation == "ramp" else d // 4, delta=0.5,
                                    activation=activation)  # fmt: skip
        model = prob.model(initial_scale=1.0, exact_risk=False)
        roof = inplace_seconds((n, model.n_params), dtype, timer=time.thread_time)
        clean = steps_per_second(SGD(model, n, 1e-4, seed=0, dtype=dtype), args.steps, args.repeat)
        noisy = steps_per_second(
            SGD(model, n, 1e-4, seed=0, dtype=dtype, beta=100.0),
            max(args.steps // 10, 200),
            args.repeat,
        )
        # the best of the roofline timed before and after the kernel (a busy core slows both)
        roof = min(roof, inplace_seconds((n, model.n_params), dtype, timer=time.thread_time))
        name = activation if isinstance(activation, str) else "user 4-knot"
        label = f"{name} d={d} N={n} {dtype}"
        print(f"{label:<36}{clean:>10.0f}{1e6 / clean:>11.2f}{roof * 1e6:>15.2f}"
              f"{roof * clean:>10.2f}{noisy / clean:>13.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
