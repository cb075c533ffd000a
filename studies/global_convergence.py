r"""The global-convergence theorem of Mei–Montanari–Nguyen as an experiment: ``n = O(d)`` samples.

Theorem (MMN, PNAS 2018, anisotropic Gaussians): with ``s0 = γd``, truncated relu
``σ(t) = clamp(t, 0, 1)``, start ``w_i⁰ ~ ρ̄0 × Unif(S^{d−1})`` with ``R_{d=∞}(ρ̄0) < 1``, for every
``η > 0`` there are ``d0, C0, T`` such that for ``d ≥ d0``, ``N ≥ C0`` and ``ε ≤ 1/(C0 d)``
one-pass SGD reaches ``R_N(θ^k) ≤ inf R + η`` within ``k ≤ T/ε`` steps — ``O(d)`` samples, with
``N`` independent of ``d``.

:func:`infimum_risk` gets ``inf R`` from the long-time limit of the reduced (``d = ∞``) PDE;
:func:`samples_to_reach` runs SGD at ``ε = c/d`` and returns the number of samples (one per
step) until the risk first falls below ``inf R + η``; :func:`global_convergence_study` does it
for a range of ``d`` (dask sweep) and :func:`fit_samples` fits ``log n = slope · log d + c``.
The risk of the finite network is a held-out Monte-Carlo estimate on a fixed test set (the
exact ``R_N`` needs ``N²`` two-dimensional quadratures per snapshot for truncated relu).
"""

from __future__ import annotations

import functools
import logging
import warnings

import numpy as np
import xarray as xr

from wgflow.errors import TargetReached
from wgflow.metrics import fit_rate
from wgflow.problems import AnisotropicGaussians
from wgflow.solvers import SGD
from wgflow.trackers import StopWhenBelow
from wgflow.validation import check_positive, check_real

from .sgd_vs_pde import reduced_grid_pde, uniform_radial

logger = logging.getLogger(__name__)


def _problem(d: int, gamma: float, delta: float):

    gamma = check_real("gamma", gamma, low=0.0, high=1.0, low_open=True, high_open=True)
    s0 = max(1, min(d - 1, int(round(gamma * d))))
    return AnisotropicGaussians(d=d, s0=s0, delta=delta, activation="truncated_relu")


def initial_risk(gamma: float = 0.25, delta: float = 0.5, radial=None) -> float:
    """``R_{d=∞}(ρ̄0)``; warns when it is ≥ 1 (outside the theorem's hypothesis).

    Parameters
    ----------
    gamma : float
        ``s0/d``, in (0, 1).
    delta : float
        ``Δ``.
    radial : callable, optional
        Reduced start ``(n, rng) ↦ (n, 2)`` (default :func:`uniform_radial`).

    Returns
    -------
    float
        The initial risk.
    """
    radial = uniform_radial() if radial is None else radial
    red = _problem(1000, gamma, delta).reduced()
    pts = radial(200_000, np.random.default_rng(0))
    risk = red.particle_risk(pts)
    if risk >= 1:
        warnings.warn(
            f"radial: R_(d=∞)(ρ̄0) = {risk:.4f} ≥ 1, outside the global-convergence theorem's "
            "hypothesis (SGD may stall at the trivial network)",
            stacklevel=2,
        )
    return risk


def infimum_risk(
    gamma: float = 0.25,
    delta: float = 0.5,
    radial=None,
    t_long: float = 50.0,
    cells: int = 96,
    r_max: float = 4.0,
) -> tuple[float, xr.Dataset]:
    """``inf R`` as the long-time limit of the reduced ``d = ∞`` PDE (finite volumes).

    Parameters
    ----------
    gamma : float
        ``s0/d``, in (0, 1).
    delta : float
        ``Δ``.
    radial : callable, optional
        Reduced start ``(n, rng) ↦ (n, 2)`` (default :func:`uniform_radial`).
    t_long : float
        Horizon of the PDE.
    cells : int
        Cells per radial axis.
    r_max : float
        Upper end of the radial axes.

    Returns
    -------
    inf_risk : float
        The smallest risk seen.
    pde : xarray.Dataset
        The PDE run (with ``risk(time)``).
    """
    radial = uniform_radial() if radial is None else radial
    initial_risk(gamma, delta, radial)
    red = _problem(1000, gamma, delta).reduced()
    sample = radial(200_000, np.random.default_rng(1))
    ds = reduced_grid_pde(red, sample, cells, r_max, t_long, t_long / 100)
    return float(ds["risk"].min()), ds


def samples_to_reach(
    d: int,
    target: float,
    gamma: float = 0.25,
    delta: float = 0.5,
    n_neurons: int = 200,
    c: float = 0.05,
    t_max: float = 50.0,
    seed: int = 0,
    radial=None,
    test_size: int = 20_000,
) -> dict:
    """SGD at ``ε = c/d`` until the risk first falls below ``target``.

    ``samples`` is interpolated linearly in log time between log-spaced snapshots, NaN when the
    target is not reached by ``t_max``.

    Parameters
    ----------
    d : int
        Dimension.
    target : float
        Risk to reach.
    gamma : float
        ``s0/d``.
    delta : float
        ``Δ``.
    n_neurons : int
        ``N``.
    c : float
        ``ε·d``.
    t_max : float
        Largest time tried.
    seed : int
        Seed.
    radial : callable, optional
        Reduced start (default :func:`uniform_radial`).
    test_size : int
        Held-out samples of the risk estimate.

    Returns
    -------
    dict
        ``samples``, ``time`` (``kε``), ``reached``, ``final_risk``.
    """

    c = check_positive("c", c)
    prob = _problem(int(d), gamma, delta)
    radial = uniform_radial() if radial is None else radial
    eps = c / d
    solver = SGD(
        prob.model(radial=radial, exact_risk=False),
        n_neurons=n_neurons,
        step_size=eps,
        seed=seed,
        test_size=test_size,
    )
    try:  # 50 log-spaced snapshots over [100ε, t_max]; stop at the first one below target
        sgd = solver.run(
            None,
            t_max,
            100 * eps,
            spacing="log",
            progress=False,
            trackers=[StopWhenBelow("risk", target)],
        )
    except TargetReached as stop:
        sgd = stop.dataset
    t, risk = sgd["time"].values, sgd["risk"].values
    below = np.nonzero(risk <= target)[0]
    if below.size == 0:
        return {"samples": np.nan, "time": np.nan, "reached": False, "final_risk": risk[-1]}
    k = int(below[0])
    if k == 0:
        hit = 0.0
    else:  # linear interpolation of the crossing in log time
        lo, hi = np.log(max(t[k - 1], eps)), np.log(t[k])
        frac = (risk[k - 1] - target) / (risk[k - 1] - risk[k])
        hit = float(np.exp(lo + frac * (hi - lo)))
    return {"samples": hit / eps, "time": hit, "reached": True, "final_risk": float(risk[-1])}


def _point(d: int, seed: int, **fixed) -> dict:
    out = samples_to_reach(int(d), seed=int(seed), **fixed)
    return {k: float(v) for k, v in out.items()}


def global_convergence_study(
    d_values=(40, 80, 160, 320, 640, 1280),
    seeds=(0, 1),
    gamma: float = 0.25,
    delta: float = 0.5,
    eta: float = 0.02,
    n_neurons: int = 200,
    c: float = 0.05,
    t_max: float = 50.0,
    radial=None,
    scheduler: str | None = None,
    output: str | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """Samples to reach ``inf R + η`` against ``d`` (fixed ``N``, ``ε = c/d``).

    Parameters
    ----------
    d_values : sequence of int
        Dimensions.
    seeds : sequence of int
        Seeds per dimension.
    gamma : float
        ``s0/d``.
    delta : float
        ``Δ``.
    eta : float
        Margin above ``inf R``, > 0.
    n_neurons : int
        ``N``.
    c : float
        ``ε·d``.
    t_max : float
        Largest time tried.
    radial : callable, optional
        Reduced start (default :func:`uniform_radial`).
    scheduler : str, optional
        Dask scheduler address or ``synchronous``.
    output : str, optional
        Archive of the sweep (rerunning resumes it).
    progress : bool
        Progress bar.

    Returns
    -------
    xarray.Dataset
        ``samples(d, seed)`` … with attributes ``inf_risk``, ``eta`` and the fitted ``slope``
        with its 95 % interval.
    """
    from wgflow.sweep import sweep

    eta = check_positive("eta", eta)
    radial = uniform_radial() if radial is None else radial
    inf_risk, _ = infimum_risk(gamma, delta, radial)
    fn = functools.partial(
        _point,
        target=inf_risk + eta,
        gamma=gamma,
        delta=delta,
        n_neurons=n_neurons,
        c=c,
        t_max=t_max,
        radial=radial,
    )
    ds = sweep(
        fn,
        {"d": list(d_values), "seed": list(seeds)},
        scheduler=scheduler,
        output=output,
        progress=progress,
    )
    ds.attrs.update(inf_risk=inf_risk, eta=eta, gamma=gamma, delta=delta, c=c, n_neurons=n_neurons)
    fit = fit_samples(ds)
    ds.attrs.update(slope=fit.slope, slope_low=fit.low, slope_high=fit.high)
    return ds


def fit_samples(ds: xr.Dataset):
    """Log–log fit of the seed-averaged samples against ``d`` (95 % interval).

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`global_convergence_study`.

    Returns
    -------
    RateFit
        The slope and its interval.
    """
    mean = ds["samples"].mean("seed")
    ok = np.isfinite(mean.values)
    if ok.sum() < 3:
        raise ValueError("ds: need ≥ 3 dimensions where the target was reached")
    return fit_rate(mean["d"].values[ok], mean.values[ok])


QUICK = {"d_values": (40, 80, 160), "seeds": (0,), "n_neurons": 100, "t_max": 20.0}


def run_study(
    output: str = "global-convergence", scheduler: str | None = None, quick: bool = False
) -> int:
    """``wgflow study global-convergence``: samples to reach ``inf R + η`` against ``d``.

    Parameters
    ----------
    output : str
        Archive path without ``.nc`` (``PREFIX.nc``).
    scheduler : str, optional
        Dask scheduler address or ``synchronous``.
    quick : bool
        ``d ∈ {40, 80, 160}``, one seed (:data:`QUICK`).

    Returns
    -------
    int
        The exit code.
    """
    from wgflow import io

    path = output if output.endswith(".nc") else f"{output}.nc"
    ds = global_convergence_study(scheduler=scheduler, output=None, **(QUICK if quick else {}))
    io.save(ds, path)
    mean = ds["samples"].mean("seed")
    for d, n in zip(mean["d"].values, mean.values, strict=True):
        print(
            f"d = {int(d):5d}: {n:10.0f} samples to reach inf R + η = "
            f"{ds.attrs['inf_risk'] + ds.attrs['eta']:.4f}"
        )
    print(
        f"slope {ds.attrs['slope']:.3f} [{ds.attrs['slope_low']:.3f}, "
        f"{ds.attrs['slope_high']:.3f}] (95 %); archive {path}"
    )
    return 0
