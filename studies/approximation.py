r"""Approximation theory as an experiment: is the trained network's risk free of ``d``?

Barron (1993): a target ``f`` with finite ``Δ(f) = ∫ |ω| |f̂(ω)| dω`` has an ``N``-neuron network
with ``R_approx(f; N) ≤ Δ(f)²/N`` — the number of neurons a given accuracy needs depends on the
regularity of ``f``, not on ``d``. The question of the seed talk: are *trained* networks
"fairly insensitive to ``N`` (as long as ``N`` is large enough) and to ``d``, as in approximation
theory"?

Setting (:class:`~wgflow.problems.TeacherStudent`): ``x ~ N(0, I_d)``, ``y = f*(x)``, a wide
relu teacher on a 2-D subspace, ``f*(x) = (1/M) Σ_j a*_j relu(⟨w*_j, x⟩)`` with ``w*_j`` the
``M`` unit vectors at angles ``2πj/M`` and ``a*_j = 1 + A cos 3φ_j``
(:meth:`~wgflow.problems.TeacherNetwork.spread`) — a smooth function of the angle of the
projection of ``x`` on the subspace. Students ``a σ(⟨w, x⟩)`` of ``N`` neurons start from
``a = 1``, ``w ~ N(0, I/d)`` and are trained to convergence by full-batch gradient descent on the
exact population risk (L-BFGS on ``R_N``, the ``ε → 0``, infinite-data limit of SGD: online SGD
at finite ``ε`` has an ``O(ε)`` floor that hides small excess risks). The ``N = ∞`` value is the
risk of the reduced (``d``-free) PDE, solved by particles, at its final time.

Run: ``python -m wgflow.studies.approximation [--quick] [--seeds 0 1] [--max-iter 5000]
[--output PREFIX] [--scheduler ADDR]``.
"""

from __future__ import annotations

import functools

import numpy as np
import xarray as xr
from scipy.optimize import minimize

from wgflow.metrics import RateFit, fit_rate
from wgflow.problems import TeacherNetwork, TeacherStudent
from wgflow.validation import check_positive_int

#: the full study (12.5 min on 2 cores, reduced PDE included)
FULL = {
    "n_values": (4, 8, 16, 32, 64, 128, 256),
    "d_values": (20, 80, 320),
    "seeds": (0, 1),
    "width": 64,
    "amplitude": 0.5,
    "max_iter": 5000,
}
#: the size the tests and ``--quick`` run
QUICK = {**FULL, "n_values": (4, 8, 16, 32), "d_values": (20, 80, 320), "seeds": (0,),
         "max_iter": 2000}  # fmt: skip


def make_problem(d: int, width: int = 64, amplitude: float = 0.5, k: int = 2) -> TeacherStudent:
    """The study's teacher–student problem (relu, ``aw``, noiseless).

    Parameters
    ----------
    d : int
        Input dimension.
    width : int
        Teacher width ``M``.
    amplitude : float
        ``A`` in ``a*_j = 1 + A cos 3φ_j``.
    k : int
        Teacher subspace dimension.

    Returns
    -------
    TeacherStudent
        The problem.
    """
    teacher = TeacherNetwork.spread(k, width, amplitude=amplitude)
    return TeacherStudent(d=int(d), teacher=teacher, activation="relu", parameters="aw")


def train(
    problem: TeacherStudent, n_neurons: int, seed: int = 0, max_iter: int = 5000
) -> dict:
    """Train ``N`` neurons to convergence on the exact population risk (L-BFGS).

    Parameters
    ----------
    problem : TeacherStudent
        The problem.
    n_neurons : int
        ``N``.
    seed : int
        Seed of the initial weights (``a = 1``, ``w ~ N(0, I/d)``).
    max_iter : int
        Iteration cap (``converged`` says whether it stopped before).

    Returns
    -------
    dict
        ``excess_risk`` (``R_N − τ²``), ``iterations``, ``gradient_norm`` (sup norm at the
        end), ``converged`` (1 or 0), ``max_r`` (largest ``‖P_{S⊥} w‖``) and ``theta``.
    """
    n = check_positive_int("n_neurons", n_neurons)
    max_iter = check_positive_int("max_iter", max_iter)
    rng = np.random.default_rng([int(seed), n, problem.d])
    theta0 = problem.model().initial_weights(n, rng)
    shape = theta0.shape
    res = minimize(
        lambda v: problem.population_risk(v.reshape(shape)),
        theta0.ravel(),
        jac=lambda v: problem.risk_gradient(v.reshape(shape)).ravel(),
        method="L-BFGS-B",
        options={"maxiter": max_iter, "maxfun": 2 * max_iter, "gtol": 1e-12, "ftol": 1e-15},
    )
    theta = res.x.reshape(shape)
    return {
        "excess_risk": float(res.fun - problem.noise**2),
        "iterations": int(res.nit),
        "gradient_norm": float(np.abs(res.jac).max()),
        "converged": int(res.nit < max_iter),
        "max_r": float(problem.reduced_coordinates(theta)["r"].max()),
        "theta": theta,
    }


def point(N: int, d: int, seed: int, width: int = 64, amplitude: float = 0.5,
          max_iter: int = 5000) -> dict:  # fmt: skip
    """One sweep point: :func:`train` without the weights.

    Parameters
    ----------
    N, d, seed : int
        Neurons, dimension, seed.
    width : int
        Teacher width.
    amplitude : float
        Teacher modulation.
    max_iter : int
        Iteration cap.

    Returns
    -------
    dict
        The scalars of :func:`train`.
    """
    out = train(make_problem(d, width, amplitude), N, seed, max_iter)
    out.pop("theta")
    return out


def mean_field_value(
    width: int = 64, amplitude: float = 0.5, particles: int = 400, t_final: float = 100.0,
    dt: float = 0.05, seed: int = 0,
) -> dict:  # fmt: skip
    """The ``N = ∞`` risk: the reduced PDE (particles on ``(a, u, r)``) at ``t_final``.

    Parameters
    ----------
    width, amplitude : int, float
        The teacher.
    particles : int
        Particles of the reduced PDE.
    t_final, dt : float
        Horizon and time step.
    seed : int
        Seed of the initial law (``a = 1``, ``u ~ Unif[−0.6, 0.6]²``, ``r ~ Unif[0.3, 0.7]``).

    Returns
    -------
    dict
        ``risk`` (at ``t_final``), ``risk_half`` (at ``t_final/2``) and ``t_final``.
    """
    from wgflow.solvers import Particles

    red = make_problem(8, width, amplitude).reduced()
    rng = np.random.default_rng(seed)
    n = check_positive_int("particles", particles)
    pts = np.column_stack([np.ones(n), rng.uniform(-0.6, 0.6, (n, 2)), rng.uniform(0.3, 0.7, n)])
    run = Particles(red.energy, dt=dt).run(pts, t_final, t_final / 2)
    risks = [red.particle_risk(x) for x in run["positions"].values]
    return {"risk": float(risks[-1]), "risk_half": float(risks[1]), "t_final": float(t_final)}


def study(
    n_values=FULL["n_values"], d_values=FULL["d_values"], seeds=FULL["seeds"],
    width: int = FULL["width"], amplitude: float = FULL["amplitude"],
    max_iter: int = FULL["max_iter"], scheduler: str | None = None, output: str | None = None,
    progress: bool = True,
) -> xr.Dataset:  # fmt: skip
    """Excess risk at convergence over ``N × d × seed`` (a resumable :func:`wgflow.sweep.sweep`).

    Parameters
    ----------
    n_values, d_values, seeds : sequence of int
        The swept values.
    width, amplitude : int, float
        The teacher.
    max_iter : int
        Iteration cap of each training.
    scheduler : str, optional
        Dask scheduler address or ``"synchronous"``.
    output : str, optional
        Archive (rerunning resumes it).
    progress : bool
        Progress bar.

    Returns
    -------
    xarray.Dataset
        ``excess_risk(N, d, seed)``, ``iterations``, ``gradient_norm``, ``converged``,
        ``max_r``.
    """
    from wgflow.sweep import sweep

    fn = functools.partial(point, width=width, amplitude=amplitude, max_iter=max_iter)
    grid = {"N": list(n_values), "d": list(d_values), "seed": list(seeds)}
    return sweep(fn, grid, scheduler=scheduler, output=output, progress=progress)


def fit(results: xr.Dataset, floor: float = 1e-9) -> dict[str, dict[int, RateFit]]:
    """Log–log slopes of the seed-mean excess risk vs ``N`` (per ``d``) and vs ``d`` (per ``N``).

    Parameters
    ----------
    results : xarray.Dataset
        From :func:`study`.
    floor : float
        Points whose seed-mean excess risk is below this are left out of the ``N`` fits: there
        L-BFGS stops on its own tolerance (relative decrease ~1e-15 of a risk of order
        ``E y²``), not on the approximation error.

    Returns
    -------
    dict
        ``{"N": {d: RateFit}, "d": {N: RateFit}}`` (fits need ≥ 3 points; ``d`` fits use every
        ``d`` at each ``N``).
    """
    mean = results["excess_risk"].mean("seed")
    out: dict[str, dict[int, RateFit]] = {"N": {}, "d": {}}
    for d in mean["d"].values:
        row = mean.sel(d=d)
        keep = row.values > floor
        if keep.sum() >= 3:
            out["N"][int(d)] = fit_rate(row["N"].values[keep], row.values[keep])
    if mean.sizes["d"] >= 3:
        for n in mean["N"].values:
            col = mean.sel(N=n)
            out["d"][int(n)] = fit_rate(col["d"].values, col.values)
    return out


def main(argv=None) -> int:
    """The command line ``python -m wgflow.studies.approximation``.

    Options ``[--quick] [--seeds S …] [--max-iter M] [--output PREFIX] [--scheduler A]``.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments.

    Returns
    -------
    int
        The exit code.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m wgflow.studies.approximation")
    parser.add_argument("--output", default="approximation", help="archive prefix (resumable)")
    parser.add_argument("--scheduler", default=None, help="dask address or 'synchronous'")
    parser.add_argument("--quick", action="store_true", help="the small version run by tests")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds (default 0 1; quick 0)")
    parser.add_argument("--max-iter", type=int, help="L-BFGS iterations per training")
    args = parser.parse_args(argv)
    options = dict(QUICK if args.quick else FULL)
    if args.seeds:
        options["seeds"] = tuple(args.seeds)
    if args.max_iter:
        options["max_iter"] = check_positive_int("max_iter", args.max_iter)
    results = study(**options, scheduler=args.scheduler, output=f"{args.output}.nc")
    mean = results["excess_risk"].mean("seed")
    print("excess risk at convergence (mean over seeds); rows N, columns d")
    print("N     " + "".join(f"d={int(d):<10d}" for d in mean["d"].values))
    for n in mean["N"].values:
        print(f"{int(n):<6d}" + "".join(f"{v:<12.3e}" for v in mean.sel(N=n).values))
    fits = fit(results)
    for d, f in fits["N"].items():
        print(f"vs N at d = {d:4d} (excess > 1e-9): slope {f.slope:+.2f} "
              f"[{f.low:+.2f}, {f.high:+.2f}] (95 %)")  # fmt: skip
    for n, f in fits["d"].items():
        print(f"vs d at N = {n:4d}: slope {f.slope:+.2f} [{f.low:+.2f}, {f.high:+.2f}] (95 %)")
    unconverged = int((results["converged"] == 0).sum())
    print(f"{unconverged} of {results['converged'].size} trainings hit max_iter")
    mf = mean_field_value(options["width"], options["amplitude"],
                          t_final=20.0 if args.quick else 100.0)  # fmt: skip
    print(f"N = ∞ (reduced PDE, 400 particles): R(t={mf['t_final']:g}) = {mf['risk']:.3e} "
          f"(R(t/2) = {mf['risk_half']:.3e})")  # fmt: skip
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    for d in mean["d"].values:
        row = mean.sel(d=d)
        ax.loglog(row["N"], row, "o-", label=f"d = {int(d)}")
    n = mean["N"].values.astype(float)
    ax.loglog(n, float(mean.isel(N=0).mean()) * n[0] / n, "k--", label="Barron 1/N")
    ax.axhline(mf["risk"], color="gray", lw=0.8,
               label=f"N = ∞: reduced PDE at t = {mf['t_final']:g} (still falling)")  # fmt: skip
    ax.set(xlabel="neurons N", ylabel="excess risk at convergence", title="trained students")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(f"{args.output}.png", dpi=120)
    plt.close(fig)
    print(f"archive {args.output}.nc, figure {args.output}.png")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
