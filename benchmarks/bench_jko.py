"""Entropic JKO on 2-D Ornstein–Uhlenbeck: separable kernel vs a dense POT kernel, and vs FV.

Problem: ``∂t ρ = ∇·(ρ x) + 0.5 Δρ`` on ``[-5, 5]²`` from a Gaussian (mean (1, 0.5), variance
0.3), to t = 1, at 64² and 128² cells, ``τ = 0.1``, ``ε = 2h²``. Measured in one run:

- ``JKO`` (wgflow): time per JKO step, scaling iterations per step, L1 error at t = 1;
- the same scaling iterations with the **dense** ``n^D × n^D`` Gibbs kernel
  ``exp(−ot.dist(X, X)/ε)`` built with POT (``ot.dist``), applied by matrix–vector products:
  time per iteration, and per step at wgflow's iteration count (the dense run is too slow to
  finish at 128²; its iterations are identical in exact arithmetic);
- ``FiniteVolume(order=2)`` on the same grid: wall time and L1 error.

Run: ``python benchmarks/bench_jko.py`` (about a minute; needs ~5 GB of memory at 128²).
"""

from __future__ import annotations

import time

import numpy as np
import ot

import wgflow as wg
from wgflow.problems import OrnsteinUhlenbeck
from wgflow.solvers import JKO, FiniteVolume

PROBLEM = OrnsteinUhlenbeck(dim=2, diffusion=0.5, mean0=(1.0, 0.5), var0=0.3)
TAU, T_FINAL = 0.1, 1.0


def l1(grid, rho):
    return float(grid.integrate(np.abs(rho - PROBLEM.exact_density(grid, T_FINAL))))


def dense_iteration_time(grid, epsilon, potential, repeat=5):
    """Seconds per scaling iteration with the dense kernel (same updates as wgflow's)."""
    points = grid.points().reshape(-1, grid.dim)
    kernel = np.exp(-ot.dist(points, points) / epsilon)  # n^D × n^D
    p = (PROBLEM.initial_density(grid) * grid.cell_volume).ravel()
    sigma = 2 * TAU / epsilon
    beta = PROBLEM.beta
    log_cell = np.log(grid.cell_volume)
    b = np.ones_like(p)
    v = potential.ravel()

    def iteration(b):
        a = p / (kernel @ b)
        kta = kernel.T @ a
        log_q = (np.log(kta) - sigma * v - sigma / beta * (1 - log_cell)) / (1 + sigma / beta)
        return np.exp(log_q) / kta

    b = iteration(b)
    start = time.perf_counter()
    for _ in range(repeat):
        b = iteration(b)
    return (time.perf_counter() - start) / repeat


def main():
    print(f"\nentropic JKO, 2-D OU, τ = {TAU}, ε = 2h², to t = {T_FINAL}\n")
    header = (
        f"{'cells':>7}{'JKO s/step':>12}{'iter/step':>11}{'s/iter':>10}{'dense s/iter':>14}"
        f"{'dense/JKO':>11}{'dense s/step':>14}{'JKO L1':>10}{'FV s':>8}{'FV L1':>10}"
    )
    print(header)
    for n in (64, 128):
        grid = wg.Grid.box([(-5, 5)] * 2, n)
        solver = JKO(PROBLEM.energy, grid, tau=TAU)
        rho0 = PROBLEM.initial_density(grid)
        solver.run(rho0, TAU, TAU, progress=False)  # warm-up
        start = time.perf_counter()
        ds = solver.run(rho0, T_FINAL, T_FINAL, progress=False)
        seconds = time.perf_counter() - start
        steps = int(ds["steps"][-1])
        iterations = int(ds["iterations"].sum())
        per_step, per_iter = seconds / steps, seconds / iterations
        dense = dense_iteration_time(grid, solver.epsilon, solver.discrete.V)
        fv_start = time.perf_counter()
        fv = FiniteVolume(PROBLEM.energy, grid).run(rho0, T_FINAL, T_FINAL, progress=False)
        fv_seconds = time.perf_counter() - fv_start
        print(
            f"{n:>6}²{per_step:>12.3f}{iterations / steps:>11.0f}{per_iter:>10.2e}"
            f"{dense:>14.2e}{dense / per_iter:>11.0f}{dense * iterations / steps:>14.1f}"
            f"{l1(grid, ds['density'][-1].values):>10.2e}{fv_seconds:>8.2f}"
            f"{l1(grid, fv['density'][-1].values):>10.2e}"
        )
    print("\n'dense/JKO' is the time ratio per scaling iteration (same algorithm, same iterates).")


if __name__ == "__main__":
    main()
