"""Threads on a shared machine: 1 vs 2 numba threads, alone and next to a busy process.

A 2-D Ornstein–Uhlenbeck FiniteVolume solve (order 2, to t = 0.05) at several grid sizes,
timed with ``numba.set_num_threads(1)`` and ``(2)``, first with the machine idle, then while
this script keeps one core busy with a competing process (``while True: pass``). wgflow runs
a grid on its threads only from ``wgflow.threads.PARALLEL_MIN_ITEMS`` cells on (smaller
passes take less time than a descheduled thread makes the others wait at the join), so small
grids take the serial kernels whatever the thread count.

Ratio = time(2 threads) / time(1 thread): ≤ 1 means the second thread does not hurt.

Run: ``python benchmarks/bench_threads.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numba
import numpy as np

import wgflow as wg
from wgflow.problems import OrnsteinUhlenbeck
from wgflow.solvers import FiniteVolume
from wgflow.threads import PARALLEL_MIN_ITEMS, usable_cpus

PROBLEM = OrnsteinUhlenbeck(dim=2, diffusion=0.5, mean0=(1.0, 0.5), var0=0.3)


def solve_time(n: int, threads: int, t_final: float, repeat: int) -> float:
    numba.set_num_threads(threads)
    grid = wg.Grid.box([(-5, 5)] * 2, n)
    solver = FiniteVolume(PROBLEM.energy, grid)
    rho = PROBLEM.initial_density(grid)
    solver.run(rho, t_final / 10, progress=False)  # warm-up
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        solver.run(rho, t_final, save_every=t_final, progress=False)
        best = min(best, time.perf_counter() - start)
    return best


def table(sizes, t_final, repeat, label):
    print(f"\n{label}")
    print(f"{'cells':>10}{'parallel':>10}{'1 thread [s]':>14}{'2 threads [s]':>15}{'ratio':>8}")
    for n in sizes:
        one = solve_time(n, 1, t_final, repeat)
        two = solve_time(n, 2, t_final, repeat)
        parallel = "yes" if n * n >= PARALLEL_MIN_ITEMS else "no"
        print(f"{n:>9}²{parallel:>10}{one:>14.3f}{two:>15.3f}{two / one:>8.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 512, 1024])
    parser.add_argument("--t-final", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if numba.config.NUMBA_NUM_THREADS < 2:
        sys.exit("needs at least 2 numba threads (NUMBA_NUM_THREADS)")
    print(f"usable CPUs {usable_cpus()}, parallel from {PARALLEL_MIN_ITEMS} cells")
    table(args.sizes, args.t_final, args.repeat, "idle machine")
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        table(args.sizes, args.t_final, args.repeat, "one core busy with a competing process")
    finally:
        busy.kill()
        busy.wait()


if __name__ == "__main__":
    main()
