"""Blob particles for nonlinear diffusion: W2 to the Barenblatt solution against N and δ.

Runs :class:`wgflow.solvers.Particles` on the porous-medium energy ``ρ^m/(m−1)`` (the blob
method of Carrillo, Craig & Patacchini 2019) from a deterministic, well-spread sample of the
Barenblatt profile at ``t0`` (1-D: the quantiles ``(i − ½)/N``; 2-D: a sunflower spiral with
the radial quantiles; 3-D: radial quantiles on scrambled Fibonacci directions) and measures,
at ``t0 + T``:

- ``W2``: the 2-Wasserstein distance from the particles to the exact Barenblatt law (1-D: the
  quantile formula ``W2² = Σ_i ∫_{(i−1)/N}^{i/N} |x_(i) − Q(s)|² ds`` with 8-point Gauss per
  interval; 2-D/3-D: exact optimal transport to a 4N-point sample of the exact law, which adds
  that sample's own ~h/2 quantization);
- ``traj``: the trajectory error ``(Σ_i w_i |x_i(T) − X_i(T)|²)^{1/2}`` against the exact
  Lagrangian flow of the Barenblatt solution, the radial scaling ``X_i(T) = x_i(0) ((t0 +
  T)/t0)^{α/d}`` — an upper bound for ``W2(ρ_N(T), exact flow of ρ_N(0))`` that is free of
  the ``O(h)`` quantization floor of any ``N``-point measure.

Fitted log–log slopes (``wgflow.metrics.fit_rate``, 95 % intervals) against ``h_N ∝ N^{−1/D}``
and against ``δ`` are printed under the table. Run::

    .venv/bin/python benchmarks/bench_blob.py            # full table (a few minutes)
    .venv/bin/python benchmarks/bench_blob.py --quick    # smaller N (under a minute)
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy.special import betaincinv

import wgflow as wg
from wgflow.metrics import fit_rate, wasserstein
from wgflow.problems import PorousMedium
from wgflow.solvers import Particles


def grid_spacing(prob: PorousMedium, n: int, t: float) -> float:
    """The spacing ``h`` with about ``n`` cells in the Barenblatt support at time ``t``."""
    ball = {1: 2.0, 2: math.pi, 3: 4.0 * math.pi / 3.0}[prob.dim]
    return prob.support_radius(t) * (ball / n) ** (1.0 / prob.dim)


def barenblatt_particles(
    prob: PorousMedium, n: int, t: float, refine: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted particles of the Barenblatt law at absolute time ``t`` on a uniform grid.

    The blob method's initialization (as in Carrillo–Craig–Patacchini): the centres of the
    cells of a uniform grid of spacing ``h`` covering the support, each carrying its cell's
    exact mass (8-point Gauss per axis); cells without mass are dropped. ``h`` is chosen so that
    about ``n`` cells carry mass (``n`` cells across the support in 1-D).

    Parameters
    ----------
    prob : PorousMedium
        The problem (dimension, ``m``, mass).
    n : int
        About how many particles.
    t : float
        Absolute (Barenblatt) time.
    refine : int
        Divide ``h`` by this (a finer reference sample).

    Returns
    -------
    positions : ndarray, shape (N, dim)
    weights : ndarray, shape (N,)
        Summing to the mass.
    """
    d = prob.dim
    radius = prob.support_radius(t)
    h = grid_spacing(prob, n, t) / refine
    cells = int(math.ceil(radius / h))
    grid = wg.Grid.box([(-cells * h, cells * h)] * d, 2 * cells)
    mass = grid.cell_average(lambda x: prob.barenblatt(x, t), order=8) * grid.cell_volume
    keep = mass.ravel() > 0
    points = grid.points().reshape(-1, d)[keep]
    weights = mass.ravel()[keep]
    return points, weights * prob.mass / weights.sum()


def barenblatt_quantile(prob: PorousMedium, s: np.ndarray, t: float) -> np.ndarray:
    """The 1-D Barenblatt quantile function ``Q(s)`` at absolute time ``t`` (mass 1)."""
    p = 1.0 / (prob.m - 1.0)
    u = betaincinv(0.5, p + 1.0, np.abs(2.0 * s - 1.0))
    return np.sign(s - 0.5) * prob.support_radius(t) * np.sqrt(u)


def w2_to_barenblatt(prob: PorousMedium, x: np.ndarray, w: np.ndarray, t: float) -> float:
    """``W2`` from weighted particles to the Barenblatt law at ``t`` (both normalized).

    Parameters
    ----------
    prob : PorousMedium
        The problem.
    x : ndarray, shape (N, D)
        Positions.
    w : ndarray, shape (N,)
        Weights.
    t : float
        Absolute time.

    Returns
    -------
    float
        1-D: exact (quantile formula, 8-point Gauss on each particle's quantile interval);
        2-D/3-D: exact optimal transport to the grid sample with spacing ``h/2``.
    """
    w = w / w.sum()
    if prob.dim == 1:
        order = np.argsort(x[:, 0])
        xs, ws = x[order, 0], w[order]
        left = np.concatenate([[0.0], np.cumsum(ws)[:-1]])
        nodes, gauss_w = np.polynomial.legendre.leggauss(8)
        s = np.clip(left[:, None] + ws[:, None] * (nodes[None, :] + 1.0) / 2.0, 0.0, 1.0)
        q = barenblatt_quantile(prob, s, t)
        return float(np.sqrt(np.sum(ws[:, None] * gauss_w[None, :] / 2.0 * (xs[:, None] - q) ** 2)))
    ref, ref_w = barenblatt_particles(prob, x.shape[0], t, refine=2)
    return float(
        wasserstein(wg.ParticleMeasure(x, w), wg.ParticleMeasure(ref, ref_w), method="exact")
    )


def run_case(
    dim: int,
    m: float,
    n: int,
    t_final: float,
    blob_width: float | None = None,
    mollifier: str = "gaussian",
    safety: float = 1.0,
) -> dict:
    """One blob run from the Barenblatt profile at ``t0 = 0.1`` to ``t0 + t_final``.

    Parameters
    ----------
    dim, m : int, float
        Dimension and exponent.
    n : int
        Particles.
    t_final : float
        Run length.
    blob_width : float, optional
        ``δ`` (default: the solver's).
    mollifier : str
        The blob function.
    safety : float
        ``dt = safety · dt_max`` (:meth:`Particles.blob_time_step`).

    Returns
    -------
    dict
        ``n``, ``h`` (mean spacing), ``delta``, ``dt``, ``w2``, ``w2_0`` (at the start),
        ``traj`` and ``seconds``.
    """
    prob = PorousMedium(dim=dim, m=m)
    x0, w = barenblatt_particles(prob, n, prob.t0)
    start_measure = wg.ParticleMeasure(x0, w)
    solver = Particles(prob.energy, dt=1.0, blob_width=blob_width, mollifier=mollifier)
    dt = solver.blob_time_step(start_measure, safety)
    solver = Particles(prob.energy, dt=dt, blob_width=blob_width, mollifier=mollifier)
    start = time.perf_counter()
    ds = solver.run(start_measure, t_final, t_final / 4, progress=False)
    seconds = time.perf_counter() - start
    x = ds["positions"].values[-1]
    t_abs = prob.t0 + t_final
    exact_flow = x0 * (t_abs / prob.t0) ** (prob.alpha / dim)
    return {
        "dim": dim,
        "m": m,
        "n": x0.shape[0],
        "h": grid_spacing(prob, n, prob.t0),
        "delta": float(ds.attrs["blob_width"]),
        "dt": dt,
        "w2": w2_to_barenblatt(prob, x, w, t_abs),
        "w2_0": w2_to_barenblatt(prob, x0, w, prob.t0),
        "traj": float(np.sqrt(w @ np.sum((x - exact_flow) ** 2, axis=-1) / w.sum())),
        "seconds": seconds,
        "energy_decreases": bool(np.all(np.diff(ds["free_energy"].values) <= 1e-14)),
    }


def table(rows: list[dict], title: str) -> None:
    """Print the rows and the fitted rates against ``h`` (N sweeps) or ``δ`` (δ sweeps)."""
    print(f"\n{title}")
    print(
        f"{'D':>2} {'m':>3} {'N':>6} {'h':>9} {'δ':>9} {'dt':>9} {'W2':>10} {'W2(t0)':>10} "
        f"{'traj':>10} {'time s':>7}"
    )
    for r in rows:
        print(
            f"{r['dim']:>2} {r['m']:>3g} {r['n']:>6} {r['h']:>9.3e} {r['delta']:>9.3e} "
            f"{r['dt']:>9.2e} {r['w2']:>10.3e} {r['w2_0']:>10.3e} {r['traj']:>10.3e} "
            f"{r['seconds']:>7.2f}"
        )
    if len(rows) >= 3:
        ns = {r["n"] for r in rows}
        x = [r["h"] if len(ns) > 1 else r["delta"] for r in rows]
        label = "h" if len(ns) > 1 else "δ"
        for key in ("w2", "traj"):
            fit = fit_rate(x, [r[key] for r in rows])
            print(f"   {key} ~ {label}^{fit.slope:.2f}  (95 % CI [{fit.low:.2f}, {fit.high:.2f}])")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller N")
    args = parser.parse_args(argv)
    t_final = 0.1
    sizes_1d = [50, 100, 200] if args.quick else [50, 100, 200, 400]
    sizes_2d = [100, 200, 400] if args.quick else [100, 200, 400, 800, 1600]
    for m in (2.0, 3.0):
        table([run_case(1, m, n, t_final) for n in sizes_1d], f"1-D Barenblatt, m = {m:g}")
    for m in (2.0, 3.0):
        table([run_case(2, m, n, t_final) for n in sizes_2d], f"2-D Barenblatt, m = {m:g}")
    n = 100 if args.quick else 200
    base = run_case(1, 2.0, n, t_final)["delta"]
    deltas = [base * f for f in (1.0, 2.0, 4.0, 8.0)]
    table(
        [run_case(1, 2.0, n, t_final, blob_width=d) for d in deltas],
        f"1-D Barenblatt, m = 2, N = {n}: δ sweep",
    )


if __name__ == "__main__":
    main()
