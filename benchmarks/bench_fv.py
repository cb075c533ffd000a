"""Finite volumes on 2-D Ornstein–Uhlenbeck: wgflow vs py-pde vs a plain numpy scheme.

Problem: ``∂t ρ = ∇·(ρ x) + D Δρ`` on ``[-5, 5]²``, D = 0.5, Gaussian start (mean (1, 0.5),
variance 0.3), to t = 1; L1 error against the exact Gaussian. All methods run in this process:

- ``wgflow``: ``FiniteVolume(order=2)`` (CCH upwind + minmod, SSP-RK2, CFL-adaptive step);
- ``py-pde``: ``PDE("D*laplace(c) + 2*c + x*d_dx(c) + y*d_dy(c)")`` with no-flux (zero
  derivative) boundaries, its adaptive explicit Euler solver, numba backend. Reported twice:
  ``solve()`` as a user calls it (includes py-pde's per-call compilation) and the compiled
  stepper alone (compiled once beforehand);
- ``numpy``: first-order upwind drift + central diffusion, forward Euler at 0.9 × the stability
  limit, plain numpy arrays.

Each timing is the best of ``--repeat`` runs after one warm-up (so numba caches are hot).
Ratios are ``baseline time / wgflow time``: > 1 means wgflow is faster. "Equal accuracy" compares
wgflow at n cells with the baseline on the grid where it reaches at most the same error
(interpolated log-log between measured sizes; '>' marks an extrapolation beyond the largest).

Run: ``python benchmarks/bench_fv.py`` (``--sizes 64 128`` for a quicker run).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import wgflow as wg
from wgflow.problems import OrnsteinUhlenbeck
from wgflow.solvers import FiniteVolume

D, T_FINAL, BOUNDS = 0.5, 1.0, (-5.0, 5.0)
PROBLEM = OrnsteinUhlenbeck(dim=2, diffusion=D, mean0=(1.0, 0.5), var0=0.3)


def best_time(func, repeat):
    func()  # warm-up (compilation, caches)
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - start)
    return best, out


def l1(grid, rho):
    return float(grid.integrate(np.abs(rho - PROBLEM.exact_density(grid, T_FINAL))))


def run_wgflow(n, repeat):
    grid = wg.Grid.box([BOUNDS] * 2, n)
    solver = FiniteVolume(PROBLEM.energy, grid, order=2)
    rho0 = PROBLEM.initial_density(grid)
    seconds, ds = best_time(
        lambda: solver.run(rho0, T_FINAL, save_every=T_FINAL, progress=False), repeat
    )
    return seconds, l1(grid, ds["density"][-1].values)


def run_numpy(n, repeat):
    grid = wg.Grid.box([BOUNDS] * 2, n)
    h = grid.spacing[0]
    x, y = grid.mesh()
    rho0 = PROBLEM.initial_density(grid)
    # face velocities -∇V = -x at x-faces, -y at y-faces
    ux = -(0.5 * (x[1:, :] + x[:-1, :]))
    uy = -(0.5 * (y[:, 1:] + y[:, :-1]))
    speed = max(np.abs(ux).max(), np.abs(uy).max())
    dt_max = 0.9 / (2 * speed / h + 4 * D / h**2)

    def solve():
        rho, t = rho0.copy(), 0.0
        while t < T_FINAL:
            dt = min(dt_max, T_FINAL - t)
            fx = np.where(ux > 0, ux * rho[:-1, :], ux * rho[1:, :]) - D * np.diff(rho, axis=0) / h
            fy = np.where(uy > 0, uy * rho[:, :-1], uy * rho[:, 1:]) - D * np.diff(rho, axis=1) / h
            div = np.zeros_like(rho)
            div[:-1, :] -= fx
            div[1:, :] += fx
            div[:, :-1] -= fy
            div[:, 1:] += fy
            rho = rho + dt / h * div
            t += dt
        return rho

    seconds, rho = best_time(solve, repeat)
    return seconds, l1(grid, rho)


def run_pypde(n, repeat):
    import pde

    warnings.filterwarnings("ignore", category=UserWarning, module="pde")
    grid = pde.CartesianGrid([list(BOUNDS)] * 2, [n, n])
    wg_grid = wg.Grid.box([BOUNDS] * 2, n)
    state = pde.ScalarField(grid, PROBLEM.initial_density(wg_grid))
    eq = pde.PDE(
        {"c": "D*laplace(c) + 2*c + x*d_dx(c) + y*d_dy(c)"},
        bc={"derivative": 0},
        consts={"D": D},
    )
    solve_seconds, result = best_time(
        lambda: eq.solve(
            state, t_range=T_FINAL, dt=1e-4, solver="euler", adaptive=True, tracker=None
        ),
        1,
    )
    solver = pde.EulerSolver(eq, adaptive=True)
    stepper = solver.make_stepper(state.copy(), dt=1e-4)

    def step_only():
        field = state.copy()
        stepper(field, 0.0, T_FINAL)
        return field

    step_seconds, field = best_time(step_only, repeat)
    return solve_seconds, step_seconds, l1(wg_grid, result.data), l1(wg_grid, field.data)


def time_at_error(errors, times, target):
    """Baseline time interpolated (log-log) at error ``target``; flag extrapolation."""
    errors, times = np.asarray(errors), np.asarray(times)
    order = np.argsort(errors)
    le, lt = np.log(errors[order]), np.log(times[order])
    extrapolated = target < errors.min()
    slope = (lt[1] - lt[0]) / (le[1] - le[0]) if len(le) > 1 else 0.0
    if extrapolated:
        return float(np.exp(lt[0] + slope * (np.log(target) - le[0]))), True
    return float(np.exp(np.interp(np.log(target), le, lt))), False


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-pypde", action="store_true", help="skip py-pde")
    args = parser.parse_args(argv)
    rows = {"wgflow": [], "numpy": [], "py-pde solve()": [], "py-pde stepper": []}
    for n in args.sizes:
        rows["wgflow"].append((n, *run_wgflow(n, args.repeat)))
        rows["numpy"].append((n, *run_numpy(n, args.repeat)))
        if not args.no_pypde:
            solve_s, step_s, err_solve, err_step = run_pypde(n, args.repeat)
            rows["py-pde solve()"].append((n, solve_s, err_solve))
            rows["py-pde stepper"].append((n, step_s, err_step))
    print(f"\n2-D OU to t = {T_FINAL}, L1 error vs exact; time ratio = baseline / wgflow\n")
    print(
        f"{'method':<16}{'cells':>7}{'time [s]':>11}{'L1 error':>12}"
        f"{'ratio (=grid)':>15}{'err / wgflow':>14}{'ratio (=acc.)':>15}"
    )
    ours = {n: (s, e) for n, s, e in rows["wgflow"]}
    for method, results in rows.items():
        if not results:
            continue
        errors = [e for _, _, e in results]
        times = [s for _, s, _ in results]
        for n, seconds, err in results:
            s0, e0 = ours[n]
            same_grid = f"{seconds / s0:.2f}"
            at_acc = ""
            if method != "wgflow" and len(results) > 1:
                t_eq, extra = time_at_error(errors, times, e0)
                at_acc = f"{'>' if extra else ''}{t_eq / s0:.3g}"
            print(
                f"{method:<16}{n:>6}²{seconds:>11.3f}{err:>12.2e}{same_grid:>15}"
                f"{err / e0:>14.2f}{at_acc:>15}"
            )


if __name__ == "__main__":
    main()
