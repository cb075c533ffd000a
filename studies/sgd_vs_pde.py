r"""How close is SGD on a finite network to the mean-field PDE? (any reduced problem)

Mei–Misiakiewicz–Montanari (COLT 2019) bound, for bounded activations and ``ε ≲ 1/D``,

.. math::
    \sup_{k \le T/ε} |R_N(θ^k) - R(ρ_{kε})| \le K e^{KT}\big(\sqrt{\log N / N}
    + \sqrt{D + \log N}\,\sqrt{ε}\big).

:func:`compare` runs one-pass SGD on the full ``d``-dimensional network from a product radial
start ``ρ̄0 × Unif(spheres)`` and the reduced PDE (finite volumes on ``(r1, r2)``, with the
finite-d Mehler correction of order 2 so that the reference is accurate to ``O(d⁻²)``) from the
same ``ρ̄0``, and records the risk gap and ``W2`` in reduced coordinates over time.
:func:`study` sweeps ``N`` (several seeds), ``ε`` and ``d`` (``ε ∝ 1/d``) on dask and
:func:`fit_slopes` fits the rates with confidence intervals.

Expected from the theory: slope ``−½`` in ``N`` (up to logs), ``≥ ½`` in ``ε`` (here the
leading SGD bias is ``O(εd)``: slope ≈ 1 once it dominates the ``N^{−½}`` floor), flat in ``d``
at ``ε ∝ 1/d``.
"""

from __future__ import annotations

import functools

import xarray as xr

from wgflow.metrics import fit_rate
from wgflow.problem import uniform_start
from wgflow.problems.teacher_student import teacher_start
from wgflow.validation import check_choice

from .comparison import PROBLEMS, build_problem, compare, reduced_grid_pde

#: the reduced start of the anisotropic problem, kept under its former name
uniform_radial = uniform_start
#: the settings ``main`` adds per problem (teacher–student: a 2-D reduced PDE on a grid)
PROBLEM_STUDIES = {
    "anisotropic": {},
    "teacher-student": {
        "problem": "teacher-student", "k": 1, "teacher_width": 2, "trained": "w",
        "cells": 48,
    },
}  # fmt: skip

__all__ = [
    "build_problem",
    "compare",
    "fit_slopes",
    "reduced_grid_pde",
    "study",
    "step_size_of",
    "study_point",
    "teacher_start",
    "uniform_radial",
]


def step_size_of(d: int, eps: float | None = None, eps_d: float | None = None) -> float:
    """``ε`` from exactly one of ``eps`` (``ε`` itself) and ``eps_d`` (``ε·d``).

    Parameters
    ----------
    d : int
        Dimension.
    eps, eps_d : float, optional
        The step size, or its product with ``d``.

    Returns
    -------
    float
        ``ε``.
    """
    if (eps is None) == (eps_d is None):
        raise ValueError(f"eps, eps_d: give exactly one, got eps={eps!r}, eps_d={eps_d!r}")
    return float(eps) if eps is not None else float(eps_d) / d


def study_point(
    N: int, d: int, seed: int, eps: float | None = None, eps_d: float | None = None, **fixed
) -> dict:
    """One sweep point: ``sup_risk_gap`` and ``sup_w2`` of :func:`compare`.

    Parameters
    ----------
    N : int
        Neurons.
    d : int
        Dimension.
    seed : int
        Seed.
    eps, eps_d : float, optional
        Exactly one: the step size ``ε``, or ``ε·d`` (sweeps at fixed ``εd``).
    **fixed
        More :func:`compare` arguments.

    Returns
    -------
    dict
        ``sup_risk_gap``, ``sup_w2``, ``mean_risk_gap`` (time average of the gap) and
        ``final_mean_r2_sgd``, ``final_mean_r2_pde``; for each correction in ``fixed`` the same
        with its suffix (``sup_risk_gap_corrected``, ``final_mean_r2_pde_collective``, …); with
        the collective model also the final ``v2`` and pair correlation measured on SGD and
        predicted (``final_v2_sgd``, ``final_v2_pde_collective``, …).
    """
    from wgflow import schema

    step = step_size_of(int(d), eps, eps_d)
    ds = compare(d=int(d), n_neurons=int(N), step_size=step, seed=int(seed), **fixed)
    out = {}
    for variant in schema.variants_in(ds):
        suffix = schema.PDE_VARIANTS[variant][0]
        out[f"sup_risk_gap{suffix}"] = ds.attrs[f"sup_risk_gap{suffix}"]
        out[f"sup_w2{suffix}"] = ds.attrs[f"sup_w2{suffix}"]
        out[f"mean_risk_gap{suffix}"] = float(ds[schema.risk_gap(variant)].mean())
        r2 = schema.mean("r2", "pde", variant)
        if r2 in ds:
            out[f"final_mean_r2_pde{suffix}"] = float(ds[r2][-1])
    if schema.mean("r2", "sgd") in ds:
        out["final_mean_r2_sgd"] = float(ds[schema.mean("r2", "sgd")][-1])
    for name in schema.COLLECTIVE:
        for source in ("sgd", "pde"):
            key = schema.collective(name, source)
            if key in ds:
                out[f"final_{key}"] = float(ds[key][-1])
    return out


def study(
    n_values=(100, 200, 400, 800, 1600, 3200),
    eps_values=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2),
    d_values=(40, 80, 160, 320, 640),
    seeds=(0, 1, 2, 3),
    base_n: int = 800,
    base_d: int = 160,
    base_eps_d: float = 0.02,
    n_sweep_eps_d: float = 0.002,
    scheduler: str | None = None,
    output_prefix: str | None = None,
    progress: bool = True,
    **fixed,
) -> dict[str, xr.Dataset]:
    """The three sweeps over ``N``, ``ε`` and ``d``.

    Over ``N`` (at ``d = base_d``, ``ε = n_sweep_eps_d/d``, small enough that SGD's ``O(εd)``
    bias stays below the ``N^{−½}`` fluctuations), over ``ε`` (at ``N = base_n``, ``d = base_d``)
    and over ``d`` (at ``N = base_n``, ``ε = base_eps_d/d``).

    Parameters
    ----------
    n_values, eps_values, d_values : sequence
        The swept values.
    seeds : sequence of int
        Seeds per point.
    base_n, base_d : int
        Fixed ``N`` and ``d``.
    base_eps_d, n_sweep_eps_d : float
        ``ε·d`` of the ``d`` sweep and of the ``N`` sweep.
    scheduler : str, optional
        Dask scheduler address or ``synchronous``.
    output_prefix : str, optional
        Archives ``{output_prefix}-{name}.nc`` (rerunning resumes them).
    progress : bool
        Progress bars.
    **fixed
        More :func:`compare` arguments.

    Returns
    -------
    dict of str -> xarray.Dataset
        ``{"N": ds, "eps": ds, "d": ds}``.
    """
    from wgflow.sweep import sweep

    plans = {
        "N": {"N": list(n_values), "eps_d": [n_sweep_eps_d], "d": [base_d]},
        "eps": {"N": [base_n], "eps": list(eps_values), "d": [base_d]},
        "d": {"N": [base_n], "eps_d": [base_eps_d], "d": list(d_values)},
    }
    out = {}
    for name, grid in plans.items():
        fn = functools.partial(study_point, **fixed)
        path = None if output_prefix is None else f"{output_prefix}-{name}.nc"
        out[name] = sweep(
            fn, {**grid, "seed": list(seeds)}, scheduler=scheduler, output=path, progress=progress
        )
    return out


def fit_slopes(results: dict[str, xr.Dataset], quantity: str = "sup_risk_gap") -> dict:
    """Log–log slopes (95 % intervals) of a seed-averaged result against each swept parameter.

    Parameters
    ----------
    results : dict of str -> xarray.Dataset
        From :func:`study`.
    quantity : str
        The result to fit.

    Returns
    -------
    dict of str -> RateFit
        ``{"N": …, "eps": …, "d": …}``.
    """
    fits = {}
    for name, ds in results.items():
        mean = ds[quantity].mean("seed").squeeze(drop=True)
        fits[name] = fit_rate(mean[name].values, mean.values)
    return fits


def run_study(
    output: str = "sgd-vs-pde",
    scheduler: str | None = None,
    quick: bool = False,
    problem: str = "anisotropic",
) -> int:
    """``wgflow study sgd-vs-pde``: the three sweeps, the fitted slopes and ``PREFIX.png``.

    ``problem="teacher-student"`` runs them on :class:`~wgflow.problems.TeacherStudent` (a
    single-index relu teacher ``(relu(x1) + relu(−x1))/2``, only ``w`` trained: the 2-D
    reduced PDE on ``(u, r)`` by finite volumes).

    Parameters
    ----------
    output : str
        Archive prefix (``PREFIX-N.nc`` …; rerunning resumes).
    scheduler : str, optional
        Dask scheduler address or ``synchronous``.
    quick : bool
        The small version run by tests (:data:`QUICK`).
    problem : {"anisotropic", "teacher-student"}
        The problem.

    Returns
    -------
    int
        The exit code.
    """
    check_choice("problem", problem, PROBLEMS)
    options = {**(QUICK if quick else {}), **PROBLEM_STUDIES[problem]}
    results = study(scheduler=scheduler, output_prefix=output, **options)
    for quantity in ("sup_risk_gap", "sup_w2"):
        for name, fit in fit_slopes(results, quantity).items():
            print(
                f"{quantity:13s} vs {name:3s}: slope {fit.slope:+.2f} "
                f"[{fit.low:+.2f}, {fit.high:+.2f}] (95 %)"
            )
    import matplotlib.pyplot as plt

    from .figures import plot_convergence

    fig = plot_convergence(results)
    fig.savefig(f"{output}.png", dpi=120)
    plt.close(fig)
    print(f"archives {output}-{{N,eps,d}}.nc, figure {output}.png")
    return 0


QUICK = {
    "n_values": (50, 200, 800),
    "eps_values": (1e-3, 3e-3, 1e-2),
    "d_values": (20, 40, 80),
    "seeds": (0, 1, 2),
    "base_n": 400,
    "base_d": 40,
    "base_eps_d": 0.02,
    "n_sweep_eps_d": 0.02,
    "t_final": 1.0,
    "save_every": 0.25,
    "cells": 48,
    "pde_samples": 50_000,
}
