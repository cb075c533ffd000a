r"""The coupled dynamics of the dimension-free proof, run side by side.

Mei–Misiakiewicz–Montanari (COLT 2019, arXiv 1902.06015) bound ``|R(ρ_{kε}) − R_N(θ^k)|`` by
coupling, from the same i.i.d. particles ``θ_i⁰ ~ ρ0``:

- **PDE**: the distributional dynamics ``∂t ρ = ∇·(ρ∇Ψ(·; ρ))``, risk ``R(ρ_t)``;
- **ND** (nonlinear dynamics): ``dθ_i/dt = −∇Ψ(θ_i; ρ_t)`` with ``ρ_t`` the PDE solution —
  independent particles in a prescribed mean field;
- **PD**: the ``N``-particle gradient flow ``dθ_i/dt = −∇Ψ(θ_i; ρ̂_N(t))`` on the population
  risk (``= −(N/2)∇_{θ_i} R_N``);
- **GD**: its Euler discretization with step ``ε``;
- **SGD**: one-pass SGD with step ``ε`` (one fresh sample per step).

Then ``|R(ρ_t) − R_N(θ^{SGD})| ≤ |PDE − ND| + |ND − PD| + |PD − GD| + |GD − SGD|`` (risks), and
the proof bounds the terms by ``N^{−½}``, ``N^{−½}``, ``ε`` and ``√(ε(D + log N))``.

For the anisotropic-Gaussian problem with a start ``ρ̄0 × Unif(spheres)`` the PDE is the reduced
PDE (finite volumes on ``(r1, r2)``, Mehler order 2 so that it is the finite-d PDE to
``O(d⁻²)``), whose moments ``M_k(t) = ∫φ_k dρ̄_t`` define the mean field; in it ``∇Ψ`` depends
on ``θ`` through ``(r1, r2)`` only and points along ``P w`` and ``P⊥ w``, so ND keeps each
neuron's directions and moves its radii: ``dr/dt = −∂_r Ψ̄(r; ρ̄_t)`` (RK4). PD is integrated by
``scipy.integrate.solve_ivp`` (RK45, ``rtol = 1e-8``). All risks are exact finite-N risks
(relu: arc-cosine kernel), except the PDE's ``R(ρ̄_t)``.
"""

from __future__ import annotations

import functools

import numpy as np
import xarray as xr

from wgflow import io
from wgflow.grid import Grid
from wgflow.metrics import fit_rate
from wgflow.problems import AnisotropicGaussians
from wgflow.solvers import SGD
from wgflow.validation import check_positive, check_positive_int, strict_keywords

from .sgd_vs_pde import reduced_grid_pde, step_size_of, uniform_radial

TERMS = ("PDE-ND", "ND-PD", "PD-GD", "GD-SGD")
DYNAMICS = ("PDE", "ND", "PD", "GD", "SGD")


@strict_keywords
def coupled_dynamics(
    d: int = 40,
    s0: int | None = None,
    delta: float = 0.5,
    activation: str = "relu",
    n_neurons: int = 200,
    step_size: float = 1e-3,
    t_final: float = 2.0,
    save_every: float = 0.25,
    seed: int = 0,
    radial=None,
    cells: int = 64,
    r_max: float = 1.5,
    nd_dt: float = 0.005,
    pde: xr.Dataset | None = None,
) -> xr.Dataset:
    """Run PDE, ND, PD, GD and SGD from one shared initial sample.

    Parameters
    ----------
    d, s0 : int
        Dimensions of the :class:`~wgflow.problems.AnisotropicGaussians` problem (``s0``
        default ``d // 4``; weights ``w`` only).
    delta : float
        ``Δ``.
    activation : str
        The activation's name.
    n_neurons : int
        ``N``.
    step_size : float
        ``ε`` (GD and SGD).
    t_final, save_every : float
        Horizon and recording interval; ``save_every`` must be a multiple of ``ε``.
    seed : int
        Seed of the shared sample and of SGD's data stream.
    radial : callable, optional
        ``(n, rng) ↦ (n, 2)`` reduced start (default ``r1, r2 ~ Unif[0.3, 0.7]``).
    cells : int
        The PDE's grid is ``cells²`` on ``[0, r_max]²``.
    r_max : float
        Upper end of the radial axes.
    nd_dt : float
        RK4 step of ND (the mean field is interpolated linearly between PDE snapshots saved
        every ``nd_dt``).
    pde : xarray.Dataset, optional
        A reduced-PDE solution to drive ND with (``density(time, r1, r2)`` on ``[0, t_final]``,
        e.g. a ``FiniteVolume`` archive); default: solved here from a 200 000-point sample of
        ``ρ̄0`` (order-2 finite-d energy).

    Returns
    -------
    xarray.Dataset
        ``risk(dynamics, time)`` for PDE, ND, PD, GD, SGD; ``gap(term, time)`` the four
        coupling terms; ``total(time) = |R_PDE − R_SGD|``; ``sup_term(term)``.
    """
    from scipy.integrate import solve_ivp


    s0 = d // 4 if s0 is None else s0
    prob = AnisotropicGaussians(d=d, s0=s0, delta=delta, activation=activation)
    if prob.isotropic:
        raise ValueError("s0: the coupling study needs anisotropic data (s0 < d)")
    n = check_positive_int("n_neurons", n_neurons)
    eps = check_positive("step_size", step_size)
    check_positive("t_final", t_final)
    check_positive("nd_dt", nd_dt)
    ratio = save_every / eps
    if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
        raise ValueError(f"save_every: must be a multiple of step_size={eps}, got {save_every}")
    radial = uniform_radial() if radial is None else radial
    times = np.arange(0.0, t_final + 0.5 * save_every, save_every)

    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    radii0 = radial(n, rng)
    theta0 = prob.full_weights(radii0, rng)
    w = theta0 @ prob.rotation if prob.rotation is not None else theta0
    u1 = w[:, :s0] / np.linalg.norm(w[:, :s0], axis=1, keepdims=True)
    u2 = w[:, s0:] / np.linalg.norm(w[:, s0:], axis=1, keepdims=True)
    risks = {name: np.empty(times.size) for name in DYNAMICS}

    # PDE (reduced, finite-d order 2) from a large sample of the same ρ̄0, saved every nd_dt
    red = prob.reduced(mehler_order=2)
    if pde is None:
        big = radial(200_000, np.random.default_rng(np.random.SeedSequence([seed, 8])))
        pde = reduced_grid_pde(red, big, cells, r_max, t_final, nd_dt)
    else:
        if "density" not in pde or tuple(pde["density"].dims) != ("time", "r1", "r2"):
            raise ValueError("pde: need a Dataset with density(time, r1, r2)")
        if float(pde["time"].max()) < t_final - 1e-12:
            raise ValueError(f"pde: its times end before t_final={t_final}")
    grid = Grid.from_dataset(pde)
    pde_times = pde["time"].values
    moments = red.moment_curve(grid, pde["density"].values)  # (T, K)
    pde_risk = pde["risk"].values if "risk" in pde else red.risk_curve(grid, pde["density"].values)
    risks["PDE"] = np.interp(times, pde_times, pde_risk)

    # ND: radii in the PDE's mean field, directions frozen
    def mean_field_velocity(points, t):
        m = np.array([np.interp(t, pde_times, moments[:, k]) for k in range(moments.shape[1])])
        grad = red.potential_gradient(points)
        grad += np.einsum("k,nkd->nd", red.coefficients * m, red.feature_gradients(points))
        return -grad

    def full(points):
        ws = points[:, :1] * u1, points[:, 1:2] * u2
        out = np.concatenate(ws, axis=1)
        return out @ prob.rotation.T if prob.rotation is not None else out

    r = radii0.copy()
    t = 0.0
    risks["ND"][0] = prob.population_risk(full(r))
    steps_per_save = max(1, int(round(save_every / nd_dt)))
    h = save_every / steps_per_save
    for k in range(1, times.size):
        for _ in range(steps_per_save):
            k1 = mean_field_velocity(r, t)
            k2 = mean_field_velocity(r + 0.5 * h * k1, t + 0.5 * h)
            k3 = mean_field_velocity(r + 0.5 * h * k2, t + 0.5 * h)
            k4 = mean_field_velocity(r + h * k3, t + h)
            r = r + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            t += h
        risks["ND"][k] = prob.population_risk(full(r))

    # PD: accurate ODE integration of the N-particle gradient flow
    def pd_rhs(_t, y):
        return (-0.5 * n * prob.network.risk_gradient(y.reshape(n, d))).ravel()

    sol = solve_ivp(pd_rhs, (0.0, times[-1]), theta0.ravel(), t_eval=times, rtol=1e-8, atol=1e-10)
    if not sol.success:
        raise RuntimeError(f"PD integration failed: {sol.message}")
    risks["PD"] = np.array([prob.population_risk(y.reshape(n, d)) for y in sol.y.T])

    # GD: Euler steps of size ε
    theta = theta0.copy()
    risks["GD"][0] = prob.population_risk(theta)
    per_save = int(round(ratio))
    for k in range(1, times.size):
        for _ in range(per_save):
            theta -= eps * 0.5 * n * prob.network.risk_gradient(theta)
        risks["GD"][k] = prob.population_risk(theta)

    # SGD: same start, one fresh sample per step
    sgd = SGD(prob.model(), n_neurons=n, step_size=eps, seed=seed).run(
        theta0, t_final, save_every, progress=False
    )
    risks["SGD"] = np.interp(times, sgd["time"].values, sgd["risk"].values)

    order = ["PDE", "ND", "PD", "GD", "SGD"]
    terms = np.array(
        [np.abs(risks[a] - risks[b]) for a, b in zip(order[:-1], order[1:], strict=True)]
    )
    ds = xr.Dataset(
        {
            "risk": (
                ("dynamics", "time"),
                np.array([risks[k] for k in DYNAMICS]),
                {"units": "1", "long_name": "population risk"},
            ),
            "gap": (
                ("term", "time"),
                terms,
                {"units": "1", "long_name": "coupling term |R_a − R_b|"},
            ),
            "total": (
                "time",
                np.abs(risks["PDE"] - risks["SGD"]),
                {"units": "1", "long_name": "total gap |R_PDE − R_SGD|"},
            ),
        },
        coords={
            "time": ("time", times, {"units": "1", "long_name": "time t = kε"}),
            "dynamics": ("dynamics", list(DYNAMICS)),
            "term": ("term", list(TERMS)),
        },
    )
    ds["sup_term"] = ds["gap"].max("time").assign_attrs(units="1", long_name="sup_t term")
    params = {
        "d": d,
        "s0": s0,
        "delta": delta,
        "activation": activation,
        "n_neurons": n,
        "step_size": eps,
        "t_final": t_final,
        "save_every": save_every,
        "seed": seed,
        "cells": cells,
        "r_max": r_max,
        "nd_dt": nd_dt,
        "radial": repr(radial),
    }
    ds.attrs.update(
        io.provenance(
            "Coupled dynamics of the dimension-free bound (PDE, ND, PD, GD, SGD)",
            "AnisotropicGaussians",
            "FiniteVolume + RK4 + solve_ivp + Euler + SGD",
            params,
        )
    )
    return ds


def coupling_point(
    N: int, d: int, seed: int, eps: float | None = None, eps_d: float | None = None, **fixed
) -> xr.Dataset:
    """One sweep point: ``sup_term(term)`` and ``sup_total`` of :func:`coupled_dynamics`.

    Parameters
    ----------
    N : int
        Neurons.
    d : int
        Dimension.
    seed : int
        Seed.
    eps, eps_d : float, optional
        Exactly one: the step size ``ε``, or ``ε·d``.
    **fixed
        More :func:`coupled_dynamics` arguments.

    Returns
    -------
    xarray.Dataset
        ``sup_term(term)`` and ``sup_total``.
    """
    step = step_size_of(int(d), eps, eps_d)
    save = fixed.pop("save_every", 0.25)
    save = round(save / step) * step
    ds = coupled_dynamics(
        d=int(d),
        n_neurons=int(N),
        step_size=float(step),
        seed=int(seed),
        save_every=save,
        **fixed,
    )
    return xr.Dataset({"sup_term": ds["sup_term"], "sup_total": ds["total"].max()})


def coupling_study(
    n_values=(50, 200, 800),
    eps_values=(4e-3, 2e-3, 1e-3),
    seeds=(0, 1, 2),
    base_n: int = 200,
    base_d: int = 40,
    base_eps: float = 1e-3,
    d_values=(20, 40, 80),
    scheduler: str | None = None,
    output_prefix: str | None = None,
    progress: bool = True,
    **fixed,
) -> dict[str, xr.Dataset]:
    """Sweeps over ``N``, ``ε`` and ``d`` of the four coupling terms.

    Over ``N`` (at ``ε = base_eps``) and ``ε`` (at ``N = base_n``), ``d = base_d``, and over ``d``
    at ``ε = base_eps · base_d / d`` (``ε ∝ 1/d``; skipped when ``d_values`` is ``None``).

    Parameters
    ----------
    n_values, eps_values : sequence
        The swept ``N`` and ``ε``.
    seeds : sequence of int
        Seeds per point.
    base_n, base_d : int
        Fixed ``N`` and ``d``.
    base_eps : float
        Fixed ``ε``.
    d_values : sequence of int or None
        The swept ``d``.
    scheduler : str, optional
        Dask scheduler address or ``synchronous``.
    output_prefix : str, optional
        Archives ``{output_prefix}-{name}.nc`` (rerunning resumes them).
    progress : bool
        Progress bars.
    **fixed
        More :func:`coupled_dynamics` arguments.

    Returns
    -------
    dict of str -> xarray.Dataset
        ``{"N": ds, "eps": ds[, "d": ds]}``.
    """
    from wgflow.sweep import sweep

    plans = {
        "N": {"N": list(n_values), "eps": [base_eps], "d": [base_d]},
        "eps": {"N": [base_n], "eps": list(eps_values), "d": [base_d]},
    }
    if d_values is not None:
        plans["d"] = {"N": [base_n], "eps_d": [base_eps * base_d], "d": list(d_values)}
    out = {}
    for name, grid in plans.items():
        fn = functools.partial(coupling_point, **fixed)
        path = None if output_prefix is None else f"{output_prefix}-{name}.nc"
        out[name] = sweep(
            fn, {**grid, "seed": list(seeds)}, scheduler=scheduler, output=path, progress=progress
        )
    return out


PREDICTED = {
    "PDE-ND": ("N", -0.5),
    "ND-PD": ("N", -0.5),
    "PD-GD": ("eps", 1.0),
    "GD-SGD": ("eps", 0.5),
}


# slopes in d at ε ∝ 1/d: the N-terms are d-free, PD–GD ~ ε ∝ 1/d, GD–SGD ~ √(εD) flat
PREDICTED_D = {"PDE-ND": 0.0, "ND-PD": 0.0, "PD-GD": -1.0, "GD-SGD": 0.0}


def fit_term_rates(results: dict[str, xr.Dataset]) -> dict:
    """Fitted log–log slope of each seed-averaged ``sup_term`` against its parameter.

    Parameters
    ----------
    results : dict of str -> xarray.Dataset
        From :func:`coupling_study`.

    Returns
    -------
    dict
        ``{term: (parameter, RateFit, predicted slope)}`` with the proof's prediction.
    """
    out = {}
    for term, (param, predicted) in PREDICTED.items():
        data = results[param]["sup_term"].sel(term=term).mean("seed").squeeze(drop=True)
        out[term] = (param, fit_rate(data[param].values, data.values), predicted)
    return out


def fit_dimension_trends(results: dict[str, xr.Dataset]) -> dict:
    """Slope of each seed-averaged term against ``d`` at ``ε ∝ 1/d``.

    Parameters
    ----------
    results : dict of str -> xarray.Dataset
        From :func:`coupling_study` (with its ``d`` sweep).

    Returns
    -------
    dict of str -> RateFit
        One fit per term (the proof's predictions: :data:`PREDICTED_D`).
    """
    data = results["d"]["sup_term"].mean("seed").squeeze(drop=True)
    return {
        str(term): fit_rate(data["d"].values, data.sel(term=term).values)
        for term in data["term"].values
        if np.all(data.sel(term=term).values > 0)
    }


QUICK = {
    "d_values": None,
    "n_values": (50, 200, 800),
    "eps_values": (4e-3, 2e-3, 1e-3),
    "seeds": (0, 1),
    "t_final": 1.0,
}


def run_study(output: str = "coupling", scheduler: str | None = None, quick: bool = False) -> int:
    """``wgflow study coupling``: sweeps over ``N``, ``ε`` (and ``d``) and the fitted rates.

    Each coupling term's rate is printed against the proof's prediction.

    Parameters
    ----------
    output : str
        Archive prefix (``PREFIX-N.nc`` …; rerunning resumes).
    scheduler : str, optional
        Dask scheduler address or ``synchronous``.
    quick : bool
        The reduced setting (:data:`QUICK`).

    Returns
    -------
    int
        The exit code.
    """
    options = dict(QUICK) if quick else {}
    results = coupling_study(scheduler=scheduler, output_prefix=output, **options)
    for term, (param, fit, predicted) in fit_term_rates(results).items():
        print(
            f"{term:7s} vs {param:3s}: slope {fit.slope:+.2f} [{fit.low:+.2f}, {fit.high:+.2f}]"
            f" (proof: {predicted:+.1f})"
        )
    if "d" in results:
        for term, fit in fit_dimension_trends(results).items():
            print(
                f"{term:7s} vs d (ε ∝ 1/d): slope {fit.slope:+.2f} "
                f"[{fit.low:+.2f}, {fit.high:+.2f}] (proof: {PREDICTED_D[term]:+.0f})"
            )
    return 0
