"""W2 between grid measures: the accurate default against the exact network simplex and sliced.

Pairs on ``[-1, 1]²`` (Morse swarm: ``[-4, 4]²``) discretized at ``n²`` cells, ``n`` = 32, 48,
64 (table 1) and 128, 256 (table 2):

- skewed Gaussians, bimodal vs unimodal, compact supports with empty tails (a paraboloid cap
  and a box), a thin ring vs a blob: ``W2`` from 0.29 to 0.70 (≥ 4.6 cells at 32²);
- two Gaussians shifted by 0.02 (0.01 of the box, below one cell at every n here);
- the Morse swarm (:class:`~wgflow.problems.MorseSwarm` defaults) by finite volumes at t = 1 and
  t = 1.2 (a realistic small distance, about half a cell at 64²).

Table 1, per pair and n: the exact ``W2`` between the cell-centre masses (``method="exact"``,
``ot.emd2``) and its time; the debiased Sinkhorn divergence (``method="divergence"``: what
``auto`` uses beyond ``n·m = 2.5e7``, i.e. above 70² against 70²) with its relative error to
the exact value, whether the exact value lies in the stated interval ``[value, value + error]``,
and the time ratio; the sliced distance (500 projections) and its relative error; and, for the
Gaussian pairs, the closed form ``gaussian_w2`` of the grid measures' means and covariances
(``W2`` between the densities). Table 2: the default (``auto``) and sliced at 128², 256².

Run: ``python benchmarks/bench_metrics.py`` (about three minutes on two cores, 0.5 GB).
"""

from __future__ import annotations

import time

import numpy as np

import wgflow as wg
from wgflow.metrics import gaussian_w2, wasserstein
from wgflow.problems import MorseSwarm
from wgflow.solvers import FiniteVolume

GAUSSIAN_PAIRS = ("skewed gaussians", "small shift 0.01")


def gaussian(grid, mean, cov):
    d = grid.points() - np.asarray(mean)
    return np.exp(-0.5 * np.einsum("...i,ij,...j->...", d, np.linalg.inv(cov), d))


def morse_pair(n):
    prob = MorseSwarm()
    grid = wg.Grid.box([(-4, 4)] * 2, n)
    ds = FiniteVolume(prob.energy, grid).run(prob.initial_density(grid), 1.2, 0.2, progress=False)
    snap = ds["density"]
    return (
        wg.GridMeasure(grid, snap.sel(time=1.0, method="nearest").values),
        wg.GridMeasure(grid, snap.sel(time=1.2, method="nearest").values),
    )


def pair(name, n):
    if name == "morse swarm t=1 vs 1.2":
        return morse_pair(n)
    grid = wg.Grid.box([(-1, 1)] * 2, n)
    x = grid.points()
    if name == "skewed gaussians":
        a = gaussian(grid, (-0.3, 0.1), [[0.1, 0.03], [0.03, 0.05]])
        b = gaussian(grid, (0.2, -0.1), [[0.05, -0.02], [-0.02, 0.12]])
    elif name == "bimodal vs unimodal":
        a = gaussian(grid, (-0.4, -0.3), 0.02 * np.eye(2)) + gaussian(
            grid, (0.4, 0.35), 0.03 * np.eye(2)
        )
        b = gaussian(grid, (0.0, 0.1), [[0.08, 0.02], [0.02, 0.06]])
    elif name == "compact support":
        a = np.maximum(0.25 - ((x - (-0.3, 0.0)) ** 2).sum(-1), 0)
        b = ((np.abs(x[..., 0] - 0.35) < 0.3) & (np.abs(x[..., 1] - 0.2) < 0.15)).astype(float)
    elif name == "ring vs blob":
        a = np.exp(-((np.sqrt((x**2).sum(-1)) - 0.5) ** 2) / (2 * 0.05**2))
        b = gaussian(grid, (0.1, 0.0), 0.02 * np.eye(2))
    else:  # small shift: 0.01 of the box
        a = gaussian(grid, (0.0, 0.0), [[0.1, 0.02], [0.02, 0.06]])
        b = gaussian(grid, (0.02, 0.0), [[0.1, 0.02], [0.02, 0.06]])
    return wg.GridMeasure(grid, a), wg.GridMeasure(grid, b)


PAIRS = (
    "skewed gaussians",
    "bimodal vs unimodal",
    "compact support",
    "ring vs blob",
    "small shift 0.01",
    "morse swarm t=1 vs 1.2",
)


def timed(func, *args, **kwargs):
    start = time.perf_counter()
    out = func(*args, **kwargs)
    return out, time.perf_counter() - start


def closed_form(name, mu, nu):
    if name not in GAUSSIAN_PAIRS:
        return float("nan")
    return gaussian_w2(mu.mean, mu.covariance, nu.mean, nu.covariance)


def main():
    wasserstein(*pair("skewed gaussians", 32), method="divergence")  # compile the kernels
    print("\nTable 1: W2 between n² grid measures; divergence and sliced against exact\n")
    print(
        f"{'pair':24s}{'n':>5}{'exact':>9}{'s':>7}{'diverg.':>9}{'rel err':>9}{'in bnd':>7}"
        f"{'err/val':>8}{'s':>6}{'speedup':>8}{'sliced':>9}{'rel err':>9}{'closed':>9}"
    )
    for name in PAIRS:
        for n in (32, 48, 64):
            mu, nu = pair(name, n)
            exact, t_exact = timed(wasserstein, mu, nu, method="exact")
            div, t_div = timed(wasserstein, mu, nu, method="divergence")
            sliced = wasserstein(mu, nu, method="sliced")
            inside = div.value * (1 - 1e-3) <= exact.value <= div.value + div.error
            print(
                f"{name:24s}{n:>4}²{exact.value:>9.4f}{t_exact:>7.2f}{div.value:>9.4f}"
                f"{div.value / exact.value - 1:>+9.2%}{'yes' if inside else 'NO':>7}"
                f"{div.error / div.value:>8.1%}{t_div:>6.2f}{t_exact / t_div:>8.1f}"
                f"{sliced.value:>9.4f}{sliced.value / exact.value - 1:>+9.1%}"
                f"{closed_form(name, mu, nu):>9.4f}"
            )
    print("\nTable 2: the default (auto) and sliced at 128², 256² (exact: 2.7e8, 4.3e9 entries)\n")
    print(
        f"{'pair':24s}{'n':>5}{'auto':>9}{'method':>12}{'err/val':>8}{'s':>7}{'sliced':>9}"
        f"{'sliced/auto':>12}{'s':>6}{'closed':>9}"
    )
    for name in PAIRS:
        for n in (128, 256):
            mu, nu = pair(name, n)
            d, t_d = timed(wasserstein, mu, nu)
            sliced, t_s = timed(wasserstein, mu, nu, method="sliced")
            share = "—" if d.error is None else f"{d.error / d.value:.1%}"
            print(
                f"{name:24s}{n:>4}²{d.value:>9.4f}{d.method:>12}{share:>8}"
                f"{t_d:>7.2f}{sliced.value:>9.4f}{sliced.value / d.value:>12.2f}{t_s:>6.2f}"
                f"{closed_form(name, mu, nu):>9.4f}"
            )
    print(
        "\n'rel err': against the exact W2 between the cell-centre masses; 'in bnd': the exact"
        " value lies in [value, value + error] (error: Distance.error); 'closed': gaussian_w2"
        " of the grid measures' moments (the W2 between the Gaussian densities)."
    )


if __name__ == "__main__":
    main()
