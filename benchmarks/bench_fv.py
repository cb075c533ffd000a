"""Finite volumes on 2-D Ornstein–Uhlenbeck: wgflow vs py-pde vs a plain numpy scheme.

Default run: tables 1 (without py-pde) and 3, one thread, ~10 s; ``--pypde`` adds py-pde to
table 1 (~2.5 min more, nearly all of it py-pde compiling its stepper for each grid);
``--full`` adds py-pde, table 2 and the older tables below (~8 min):

1. **Equal grid against py-pde's compiled stepper** (64², 128², 256², t = 1): wgflow's
   ``advance`` (its compiled stepping loop, the counterpart of py-pde's stepper) and ``run``
   (the whole call: observables, dataset), with the default integrator (RKL2 super steps where
   the parabolic limit binds, SSPRK(4,2) elsewhere) and with ``integrator="ssp"`` (SSP-RK2 =
   Heun always, the previous scheme; ``--full``); L1 errors against the exact Gaussian;
   right-hand-side evaluations.
2. **512², diffusion dominating** (``--full``): flux evaluations and L1 error of SSP-RK2
   (Heun) vs the default, on the OU above and on OU started at its stationary variance.
3. **Flops per cell** of the fused passes (entropy potential + flux divergence, counted by
   hand from the kernels' source) and their rate against one core's peak.

Problem: ``∂t ρ = ∇·(ρ x) + D Δρ`` on ``[-5, 5]²``, D = 0.5, Gaussian start (mean (1, 0.5),
variance 0.3), to t = 1; L1 error against the exact Gaussian. All methods run in this process:

- ``wgflow``: ``FiniteVolume(order=2)`` (CCH upwind + minmod, default integrator,
  CFL-adaptive step);
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

A second table times one explicit step of FiniteVolume (fused compiled passes, one thread)
against the bandwidth bound of its minimal array traffic: ``passes × (array bytes) /
bandwidth``, the bandwidth measured in the same run as ``np.multiply(a, 1, out=a)`` (one read
and one write) on an array of the grid's size. Passes per step (arrays of the grid's size read
or written): order 2 with entropy 19 (per stage ``ξ``: read ρ, V, write ξ; fluxes: read ρ, ξ,
write rate; then the Runge–Kutta update: 3 and 4), order 1 with entropy 9; without internal
energy 13 and 6 (``ξ = V``); porous medium as entropy plus 2 passes per stage (numpy
``power``, scale) — interactions add their FFT convolution, not counted.

Run: ``python benchmarks/bench_fv.py [--pypde] [--full]`` (``--sizes 64 128`` for a quicker
run).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from roofline import inplace_seconds  # benchmarks/roofline.py (this folder)

import wgflow as wg
from wgflow.problems import OrnsteinUhlenbeck
from wgflow.solvers import FiniteVolume

D, T_FINAL, BOUNDS = 0.5, 1.0, (-5.0, 5.0)
PROBLEM = OrnsteinUhlenbeck(dim=2, diffusion=D, mean0=(1.0, 0.5), var0=0.3)


def best_time(func, repeat, warm_up=True):
    if warm_up:
        func()  # compilation, caches
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


def run_pypde(n, repeat, with_solve=True):
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
    solve_seconds, result = (np.nan, None) if not with_solve else best_time(
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
    err_solve = np.nan if result is None else l1(wg_grid, result.data)
    return solve_seconds, step_seconds, err_solve, l1(wg_grid, field.data)


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


def step_time(solver, rho, repeat=7, inner=20):
    """Best time of one explicit step (seconds)."""
    work = solver._workspace(rho)
    solver._explicit_step(rho, 0.0, np.inf, work)
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(inner):
            solver._explicit_step(rho, 0.0, np.inf, work)
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def step_cases():
    """(label, solver, density, passes) for the per-step table."""
    from wgflow.problems import Aggregation, PorousMedium

    cases = []
    for dim, n in ((1, 4096), (2, 64), (2, 128), (2, 256), (3, 32), (3, 64)):
        prob = OrnsteinUhlenbeck(dim=dim, diffusion=D, mean0=(1.0,) * dim, var0=0.3)
        grid = wg.Grid.box([BOUNDS] * dim, n)
        rho = prob.initial_density(grid)
        for order, passes in ((2, 19), (1, 9)):
            label = f"OU {dim}-D {n}^{dim} order {order}"
            cases.append((label, FiniteVolume(prob.energy, grid, order=order), rho, passes))
    pm = PorousMedium(dim=2, m=2.0)
    grid = wg.Grid.box([(-3, 3)] * 2, 256)
    rho = pm.initial_density(grid)
    cases.append(("porous 2-D 256^2 order 2", FiniteVolume(pm.energy, grid), rho, 23))
    agg = Aggregation(dim=2)
    grid = wg.Grid.box([(-2, 2)] * 2, 128)
    rho = agg.initial_density(grid)
    cases.append(("aggregation 2-D 128^2 (+FFT)", FiniteVolume(agg.energy, grid), rho, 13))
    return cases


def step_table():
    """Per-step time against the bandwidth bound of the minimal passes (one thread)."""
    import numba

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    print("\nOne explicit step, 1 thread, against the bandwidth bound of its minimal passes\n")
    print(f"{'case':<32}{'step [µs]':>11}{'passes':>8}{'GB/s':>8}{'bound [µs]':>12}{'ratio':>8}")
    try:
        for label, solver, rho, passes in step_cases():
            seconds = step_time(solver, np.ascontiguousarray(rho))
            inplace = inplace_seconds(rho.size, inner=50)
            bandwidth = 2 * rho.nbytes / inplace
            bound = passes * rho.nbytes / bandwidth
            print(
                f"{label:<32}{seconds * 1e6:>11.1f}{passes:>8}{bandwidth / 1e9:>8.0f}"
                f"{bound * 1e6:>12.1f}{seconds / bound:>8.2f}"
            )
    finally:
        numba.set_num_threads(threads)


def implicit_table(repeat=7):
    """Semi-implicit step parts: the compiled assembly against the numpy COO assembly (the
    baseline, same run), forming ``I − Δt A``, and the sparse LU solve."""
    from wgflow.problems import Aggregation, PorousMedium

    print("\nSemi-implicit step (ms): assembly of A and of I − Δt A, compiled vs numpy triplets\n")
    print(f"{'case':<28}{'A numpy':>9}{'A':>8}{'ratio':>7}{'I−ΔtA numpy':>13}{'I−ΔtA':>8}"
          f"{'LU+solve':>10}{'step gain':>11}")  # fmt: skip
    cases = []
    for n in (64, 128, 256):
        prob = OrnsteinUhlenbeck(dim=2, diffusion=D, mean0=(1.0, 1.0), var0=0.3)
        grid = wg.Grid.box([BOUNDS] * 2, n)
        cases.append((f"OU 2-D {n}^2", prob.energy, grid, prob.initial_density(grid)))
    pm = PorousMedium(dim=2, m=2.0)
    grid = wg.Grid.box([(-3, 3)] * 2, 128)
    cases.append(("porous 2-D 128^2", pm.energy, grid, pm.initial_density(grid)))
    agg = Aggregation(dim=2, diffusion=0.1)
    grid = wg.Grid.box([(-2, 2)] * 2, 128)
    cases.append(("aggregation+diff 2-D 128^2", agg.energy, grid, agg.initial_density(grid)))
    for label, energy, grid, rho in cases:
        _implicit_row(label, FiniteVolume(energy, grid, scheme="semi-implicit", dt=1e-3), rho,
                      repeat)  # fmt: skip


def _implicit_row(label, fv, rho, repeat):
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    from wgflow.solvers.fv_implicit import operator_numpy

    a = fv.generator(rho)
    ref = operator_numpy(fv, rho)
    ident = sp.identity(fv.grid.size, format="csc")
    matrix = fv._pattern.shifted(a, 1e-3)

    def best(func):
        return best_time(func, repeat)[0]

    t_ref = best(lambda: operator_numpy(fv, rho))
    t_new = best(lambda: fv.generator(rho))
    t_shift_ref = best(lambda: (ident - 1e-3 * ref).tocsc())
    t_shift = best(lambda: fv._pattern.shifted(a, 1e-3))
    t_lu = best(lambda: spla.splu(matrix).solve(rho.ravel()))
    old, new = t_ref + t_shift_ref + t_lu, t_new + t_shift + t_lu
    print(f"{label:<28}{t_ref * 1e3:>9.2f}{t_new * 1e3:>8.2f}{t_ref / t_new:>7.1f}"
          f"{t_shift_ref * 1e3:>13.2f}{t_shift * 1e3:>8.2f}{t_lu * 1e3:>10.2f}"
          f"{old / new:>11.2f}")  # fmt: skip


def implicit_solves():
    """Whole semi-implicit solves to ``t = 1``: BiCGSTAB (default) against SuperLU."""
    print("\nSemi-implicit solves of 2-D OU to t = 1 (default Δt), iterative vs direct\n")
    print(f"{'cells':>7}{'steps':>7}{'direct [s]':>12}{'iterative [s]':>15}{'ratio':>8}"
          f"{'L1 direct':>12}{'L1 iterative':>14}")  # fmt: skip
    for n in (64, 128, 256):
        grid = wg.Grid.box([BOUNDS] * 2, n)
        rho0 = PROBLEM.initial_density(grid)
        out = {}
        for solver in ("direct", "iterative"):
            fv = FiniteVolume(PROBLEM.energy, grid, scheme="semi-implicit", linear_solver=solver)
            seconds, ds = best_time(
                lambda fv=fv, r=rho0: fv.run(r, T_FINAL, save_every=T_FINAL, progress=False), 2
            )
            out[solver] = (seconds, l1(grid, ds["density"][-1].values), int(ds["steps"][-1]))
        (sd, ed, steps), (si, ei, _) = out["direct"], out["iterative"]
        print(f"{n:>6}²{steps:>7}{sd:>12.3f}{si:>15.3f}{sd / si:>8.1f}{ed:>12.3e}{ei:>14.3e}")
    from wgflow.problems import Aggregation

    agg = Aggregation(dim=2, diffusion=0.05)
    print("\n2-D aggregation + diffusion 0.05 to t = 0.5 (the operator changes every step)\n")
    print(f"{'cells':>7}{'steps':>7}{'direct [s]':>12}{'iterative [s]':>15}{'ratio':>8}"
          f"{'max rel. diff':>15}")  # fmt: skip
    for n in (64, 128):
        grid = wg.Grid.box([(-2, 2)] * 2, n)
        rho0 = agg.initial_density(grid)
        out = {}
        for solver in ("direct", "iterative"):
            fv = FiniteVolume(agg.energy, grid, scheme="semi-implicit", linear_solver=solver)
            seconds, ds = best_time(
                lambda fv=fv, r=rho0: fv.run(r, 0.5, save_every=0.5, progress=False), 1
            )
            out[solver] = (seconds, ds["density"][-1].values, int(ds["steps"][-1]))
        (sd, rd, steps), (si, ri, _) = out["direct"], out["iterative"]
        diff = np.abs(rd - ri).max() / rd.max()
        print(f"{n:>6}²{steps:>7}{sd:>12.3f}{si:>15.3f}{sd / si:>8.1f}{diff:>15.1e}")


# ---- default tables: equal grid vs py-pde, super steps at 512², flops per cell ---------------
def run_stepping(n, integrator, repeat):
    """wgflow on 2-D OU n² to t = 1: seconds of ``advance`` (the stepping loop alone) and of
    ``run``, L1 error, right-hand-side evaluations and steps."""
    grid = wg.Grid.box([BOUNDS] * 2, n)
    solver = FiniteVolume(PROBLEM.energy, grid, order=2, integrator=integrator)
    rho0 = PROBLEM.initial_density(grid)
    state = solver.initial_state(rho0)
    advance_s, end = best_time(lambda: solver.advance(state, T_FINAL), repeat)
    evaluations = solver.rate_evaluations // (repeat + 1)  # per solve
    run_s, ds = best_time(
        lambda: solver.run(rho0, T_FINAL, save_every=T_FINAL, progress=False), repeat,
        warm_up=False,
    )
    assert np.array_equal(ds["density"][-1].values, end.rho)
    return advance_s, run_s, l1(grid, end.rho), evaluations, end.steps


def equal_grid_table(sizes, repeat, pypde=True, integrators=("auto",)):
    print("\n2-D OU to t = 1 at equal grid, one thread; ratio = py-pde stepper time / wgflow "
          "time (> 1: wgflow faster)\n")
    print(f"{'cells':>7}{'integrator':>11}{'advance [s]':>13}{'run [s]':>10}{'L1 error':>11}"
          f"{'evals':>7}{'steps':>7}{'py-pde [s]':>12}{'py-pde L1':>11}{'ratio adv.':>12}"
          f"{'ratio run':>11}")  # fmt: skip
    for n in sizes:
        reps = max(repeat, round(repeat * (256 / n) ** 2))  # more repeats where runs are short
        ref_s, ref_err = np.nan, np.nan
        if pypde:
            _, ref_s, _, ref_err = run_pypde(n, reps, with_solve=False)
        for integrator in integrators:
            adv, run, err, evals, steps = run_stepping(n, integrator, reps)
            print(f"{n:>6}²{integrator:>11}{adv:>13.4f}{run:>10.4f}{err:>11.2e}{evals:>7}"
                  f"{steps:>7}{ref_s:>12.4f}{ref_err:>11.2e}{ref_s / adv:>12.2f}"
                  f"{ref_s / run:>11.2f}")  # fmt: skip


#: the 512² cases: the benchmark's OU, and OU started at its stationary variance D (the drift
#: then only moves the mean: speeds ≤ 1.1 against a diffusive D/h = 26)
DIFFUSION_CASES = {
    "OU, var0 = 0.3": PROBLEM,
    "OU, var0 = D": OrnsteinUhlenbeck(dim=2, diffusion=D, mean0=(1.0, 0.5), var0=D),
}


def diffusion_table(n=512):
    """SSP-RK2 against the default (RKL2 super steps) at n², one solve each to t = 1."""
    print(f"\n2-D OU at {n}² to t = 1, diffusion dominating (at 512², Δt_adv/Δt_par from 5.6 "
          "to 44 for var0 = 0.3, 34 to 93 for var0 = D), one thread\n")
    print(f"{'case':<16}{'integrator':>11}{'evals':>8}{'steps':>7}{'time [s]':>10}"
          f"{'L1 error':>11}{'evals ratio':>13}{'time ratio':>12}")  # fmt: skip
    grid = wg.Grid.box([BOUNDS] * 2, n)
    for label, problem in DIFFUSION_CASES.items():
        rho0 = problem.initial_density(grid)
        exact = problem.exact_density(grid, T_FINAL)
        rows = {}
        for integrator in ("ssp", "auto"):
            solver = FiniteVolume(problem.energy, grid, order=2, integrator=integrator)
            start = time.perf_counter()
            end = solver.advance(solver.initial_state(rho0), T_FINAL)
            seconds = time.perf_counter() - start
            err = float(grid.integrate(np.abs(end.rho - exact)))
            rows[integrator] = (solver.rate_evaluations, end.steps, seconds, err)
        base_evals, _, base_s, _ = rows["ssp"]
        for integrator, (evals, steps, seconds, err) in rows.items():
            print(f"{label:<16}{integrator:>11}{evals:>8}{steps:>7}{seconds:>10.2f}{err:>11.3e}"
                  f"{base_evals / evals:>13.2f}{base_s / seconds:>12.2f}")  # fmt: skip


#: floating-point operations per cell, counted from the kernels' source (add, mul, div,
#: min/max, compare-select, abs each count 1; integer bit tricks not counted):
#: entropy potential ``V + β⁻¹ log max(ρ, floor)`` — log_positive 29 (range select 3,
#: (m−1)/(m+1) 3, t² 1, degree-9 Horner in t² 18, e·ln2 + 2tp 4) + 3;
#: per axis per cell: half minmod slope 15, upwind face flux 12 (u = −Δξ/h + b 4, u± 2,
#: ρ ± s 2, two products and their sum 3, |u| 1); the divergence 3 per axis
FLOPS_POTENTIAL = 32
FLOPS_AXIS = 15 + 12 + 3
#: per cell: forward-Euler stage 2 (+2 checks), Heun 4 (+2), RKL2 stage 9 (+2), last
#: SSPRK(4,2) stage 5 (+2)
FLOPS_EULER, FLOPS_HEUN, FLOPS_RKL, FLOPS_SSP_FINAL = 4, 6, 11, 7


def peak_flops():
    """One core's nominal double-precision peak and how it is estimated: Zen 4 (AMD family
    25) runs AVX-512 on two 256-bit FMA pipes, 2 × 4 lanes × 2 flops = 16 flop/cycle; the
    clock is /proc/cpuinfo's 'cpu MHz' (the VM shows no turbo frequency)."""
    mhz = np.nan
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    mhz = float(line.split(":")[1])
                    break
    except OSError:
        pass
    return 16 * mhz * 1e6, f"16 flop/cycle × {mhz:.0f} MHz"


def flops_table(repeat=7, inner=20):
    """One right-hand-side evaluation (entropy potential + flux divergence, one thread)."""
    import numba

    peak, how = peak_flops()
    print(f"\nOne evaluation of dρ/dt (fused passes, 1 thread) against the core's peak "
          f"{peak / 1e9:.1f} GFLOP/s ({how})\n")
    print(f"{'case':<18}{'eval [µs]':>11}{'flop/cell':>11}{'ns/cell':>9}{'GFLOP/s':>9}"
          f"{'of peak':>9}{'Heun step':>11}{'SSPRK42':>9}{'RKL stage':>11}")  # fmt: skip
    numba.set_num_threads(1)
    for dim, n in ((1, 4096), (2, 64), (2, 128), (2, 256), (2, 512), (3, 32), (3, 64)):
        prob = OrnsteinUhlenbeck(dim=dim, diffusion=D, mean0=(1.0,) * dim, var0=0.3)
        grid = wg.Grid.box([BOUNDS] * dim, n)
        rho = np.ascontiguousarray(prob.initial_density(grid))
        solver = FiniteVolume(prob.energy, grid, order=2)
        rate, xi = np.empty_like(rho), np.empty_like(rho)
        solver._rate(rho, rate, xi)
        best = np.inf
        for _ in range(repeat):
            start = time.perf_counter()
            for _ in range(inner):
                solver._rate(rho, rate, xi)
            best = min(best, (time.perf_counter() - start) / inner)
        flops = FLOPS_POTENTIAL + dim * FLOPS_AXIS
        rate_flops = flops * rho.size / best
        print(f"{f'OU {dim}-D {n}^{dim}':<18}{best * 1e6:>11.1f}{flops:>11}"
              f"{best / rho.size * 1e9:>9.2f}{rate_flops / 1e9:>9.2f}{rate_flops / peak:>9.3f}"
              f"{2 * flops + FLOPS_EULER + FLOPS_HEUN:>11}"
              f"{4 * flops + 3 * FLOPS_EULER + FLOPS_SSP_FINAL:>9}"
              f"{flops + FLOPS_RKL:>11}")  # fmt: skip


def main(argv=None):
    import numba

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--pypde", action="store_true",
                        help="compare with py-pde's stepper (+~2.5 min: py-pde compiles per grid)")
    parser.add_argument("--no-pypde", action="store_true", help="skip py-pde even with --full")
    parser.add_argument("--full", action="store_true",
                        help="also SSP-RK2 at equal grid, the 512² table (~1.5 min) and the "
                             "bandwidth, semi-implicit and solve() tables (~5 min)")  # fmt: skip
    parser.add_argument("--steps-only", action="store_true", help="only the per-step tables")
    args = parser.parse_args(argv)
    numba.set_num_threads(1)  # every table: one thread
    flops_table()
    if args.steps_only:
        step_table()
        return
    integrators = ("auto", "ssp") if args.full else ("auto",)
    pypde = (args.pypde or args.full) and not args.no_pypde
    equal_grid_table(args.sizes, args.repeat, pypde=pypde, integrators=integrators)
    if args.full:
        diffusion_table()
        step_table()
        implicit_table()
        implicit_solves()
        solve_table(args)


def solve_table(args):
    """Whole solves (``run``) against py-pde's ``solve()``, its stepper and plain numpy, with
    speed at equal accuracy (the table of earlier waves)."""
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
