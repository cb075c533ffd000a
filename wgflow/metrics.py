r"""Distances between measures (POT underneath), risk gaps and convergence-rate fits.

Every Wasserstein function returns ``W_p`` itself (POT's functions return ``W_p^p`` for the
exact, 1-D and entropic solvers and ``W_p`` for sliced projections; the conversion is done
here). Grid measures enter as weighted cell centres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ot
import scipy.linalg
import scipy.stats
import xarray as xr

from .measures import GridMeasure, ParticleMeasure
from .validation import check_choice, check_positive, check_positive_int, check_real

METHODS = ("auto", "exact", "1d", "sliced", "sinkhorn")


@dataclass(frozen=True)
class Distance:
    """A Wasserstein distance and how it was computed.

    Parameters
    ----------
    value : float
        ``W_p`` itself (never ``W_p^p``).
    method : str
        ``1d``, ``exact``, ``sliced`` or ``sinkhorn``.
    p : float
        The order.
    """

    value: float
    method: str
    p: float

    def __float__(self) -> float:
        return self.value


def _support(measure) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(measure, GridMeasure):
        w = measure.weights
        keep = w > 0
        return measure.points[keep], w[keep] / w.sum()
    if isinstance(measure, ParticleMeasure):
        return measure.positions, measure.weights / measure.weights.sum()
    raise TypeError(f"measure: need a GridMeasure or ParticleMeasure, got {type(measure).__name__}")


def wasserstein(
    mu,
    nu,
    p: float = 2.0,
    method: str = "auto",
    max_exact: int = 4000,
    n_projections: int = 500,
    reg: float | None = None,
    seed: int = 0,
) -> Distance:
    """``W_p(μ, ν)`` between normalized grid or particle measures.

    Parameters
    ----------
    mu, nu : GridMeasure or ParticleMeasure
        Same dimension; both are normalized to probability measures.
    p : float
        Order, ≥ 1.
    method : {"auto", "exact", "1d", "sliced", "sinkhorn"}
        ``auto``: exact quantile formula in 1-D (``ot.wasserstein_1d``), exact network simplex
        (``ot.emd2``) when both supports have at most ``max_exact`` points, sliced otherwise.
    max_exact : int
        Largest support size for the exact network simplex in ``auto`` mode.
    n_projections : int
        Directions of the sliced Wasserstein distance (``ot.sliced_wasserstein_distance``).
    reg : float, optional
        Entropic regularization for ``sinkhorn`` (default 1 % of the mean cost).
    seed : int
        Fixed seed of the sliced projections.

    Returns
    -------
    Distance
        ``value`` (``W_p``), the ``method`` used and ``p``; ``float(d)`` gives the value.
    """
    p = check_real("p", p, low=1.0)  # W∞ refused: no POT solver for it
    check_choice("method", method, METHODS)
    x, a = _support(mu)
    y, b = _support(nu)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"nu: dimension {y.shape[1]} differs from mu's {x.shape[1]}")
    dim = x.shape[1]
    if method == "auto":
        if dim == 1:
            method = "1d"
        elif max(len(x), len(y)) <= check_positive_int("max_exact", max_exact):
            method = "exact"
        else:
            method = "sliced"
    if method == "1d" and dim != 1:
        raise ValueError("method: '1d' needs one-dimensional measures")
    if reg is not None:
        reg = check_positive("reg", reg)
    # W_p(s·μ + c, s·ν + c) = s W_p(μ, ν): work at unit scale, so that costs |x − y|^p neither
    # overflow (coordinates ~1e160) nor underflow
    centre = 0.5 * (x.mean(axis=0) + y.mean(axis=0))
    scale = max(float(np.abs(x - centre).max()), float(np.abs(y - centre).max()))
    if scale == 0.0:  # both are the same Dirac mass
        return Distance(0.0, method, float(p))
    if not np.isfinite(scale):
        raise ValueError("mu, nu: supports too spread to compare (coordinates overflow)")
    x, y = (x - centre) / scale, (y - centre) / scale
    if method == "1d":
        value = ot.wasserstein_1d(x[:, 0], y[:, 0], a, b, p=p) ** (1 / p)
    elif method == "exact":
        cost = ot.dist(x, y, metric="minkowski", p=2) ** p
        value = ot.emd2(a, b, cost, numItermax=10_000_000) ** (1 / p)
    elif method == "sliced":
        value = ot.sliced_wasserstein_distance(
            x,
            y,
            a,
            b,
            n_projections=check_positive_int("n_projections", n_projections),
            p=p,
            seed=seed,
        )
    else:
        cost = ot.dist(x, y, metric="minkowski", p=2) ** p
        eps = 0.01 * float(cost.mean()) if reg is None else reg / scale**p
        if not eps > 0:
            raise ValueError(f"reg: {reg:g} is below the cost scale's precision ({scale:g}^{p:g})")
        # log-domain iterations: exp(−C/ε) underflows to 0 for small ε
        value = ot.sinkhorn2(a, b, cost, eps, method="sinkhorn_log", numItermax=10_000)
        value = float(value) ** (1 / p)
    value = float(value) * scale
    if not np.isfinite(value):
        raise ValueError(f"method: {method!r} gave a non-finite distance ({value})")
    return Distance(float(value), method, float(p))


def gaussian_w2(mean1, cov1, mean2, cov2) -> float:
    """Closed-form ``W2`` between two Gaussians.

    ``W2² = |m1 − m2|² + tr(C1 + C2 − 2 (C1^{½} C2 C1^{½})^{½})``.

    Parameters
    ----------
    mean1 : array_like, shape (D,)
        Mean of the first Gaussian.
    cov1 : array_like, shape (D, D)
        Its covariance (symmetric positive semi-definite).
    mean2 : array_like, shape (D,)
        Mean of the second Gaussian.
    cov2 : array_like, shape (D, D)
        Its covariance.

    Returns
    -------
    float
        ``W2`` (not squared).
    """
    m1, m2 = np.atleast_1d(mean1).astype(float), np.atleast_1d(mean2).astype(float)
    c1, c2 = np.atleast_2d(cov1).astype(float), np.atleast_2d(cov2).astype(float)
    root = scipy.linalg.sqrtm(c1)
    cross = np.real(scipy.linalg.sqrtm(root @ c2 @ root))
    value = float(np.sum((m1 - m2) ** 2) + np.trace(c1 + c2 - 2 * cross))
    return float(np.sqrt(max(value, 0.0)))


def risk_gap(a: xr.Dataset, b: xr.Dataset) -> xr.DataArray:
    """``|R_a(t) − R_b(t)|`` on ``a``'s times (``b`` interpolated linearly in time).

    Parameters
    ----------
    a, b : xarray.Dataset
        Both with a ``risk(time)`` variable; ``b``'s times must cover ``a``'s.

    Returns
    -------
    xarray.DataArray
        The gap on ``a``'s times.
    """
    for name, ds in (("a", a), ("b", b)):
        if "risk" not in ds:
            raise ValueError(f"{name}: needs a 'risk' variable")
    t = a["time"]
    if (
        float(t.min()) < float(b["time"].min()) - 1e-12
        or float(t.max()) > float(b["time"].max()) + 1e-12
    ):
        raise ValueError("b: its times must cover a's times")
    gap = np.abs(a["risk"] - b["risk"].interp(time=t))
    return gap.assign_attrs(units="1", long_name="risk gap |R_a − R_b|")


@dataclass(frozen=True)
class RateFit:
    """Log–log least-squares slope with a confidence interval.

    Parameters
    ----------
    slope : float
        Fitted exponent of ``y ∝ x^slope``.
    low, high : float
        Ends of the confidence interval of the slope.
    intercept : float
        ``log`` of the prefactor.
    confidence : float
        Level of the interval (e.g. 0.95).
    """

    slope: float
    low: float
    high: float
    intercept: float
    confidence: float


def fit_rate(x, y, confidence: float = 0.95) -> RateFit:
    """Fit ``log y = slope · log x + c`` and a confidence interval for the slope (Student t).

    Parameters
    ----------
    x, y : array_like, shape (n,)
        At least three positive points.
    confidence : float
        Level of the interval.

    Returns
    -------
    RateFit
        Slope, interval and intercept.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape or x.size < 3 or np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("x, y: need ≥ 3 matching positive values")
    res = scipy.stats.linregress(np.log(x), np.log(y))
    t = scipy.stats.t.ppf(0.5 + confidence / 2, x.size - 2)
    return RateFit(
        float(res.slope),
        float(res.slope - t * res.stderr),
        float(res.slope + t * res.stderr),
        float(res.intercept),
        confidence,
    )


def wasserstein_over_time(
    particles: xr.Dataset, density: xr.Dataset, p: float = 2.0, **options
) -> xr.DataArray:
    """``W_p`` at each time between particle coordinates and a grid density.

    Parameters
    ----------
    particles : xarray.Dataset
        Per-particle coordinates over time, one variable per axis of ``density`` (e.g. SGD's
        ``r1(time, particle)``, ``r2(time, particle)`` reduced coordinates).
    density : xarray.Dataset
        ``density(time, <axes>)`` with the axes as coordinates (a FiniteVolume or JKO result).
    p : float
        Order of the distance, ≥ 1.
    **options
        Passed to :func:`wasserstein` (``method``, ``max_exact``, …).

    Returns
    -------
    xarray.DataArray
        ``w2(time)`` on the particle times, each compared with the density snapshot nearest in
        time (the attribute ``max_time_mismatch`` records the largest time difference).
    """
    from .grid import Grid

    axes = [d for d in density["density"].dims if d != "time"]
    missing = [a for a in axes if a not in particles]
    if missing:
        raise ValueError(f"particles: needs variables {missing} (the density's axes)")
    grid = Grid.from_dataset(density, tuple(axes))
    values, mismatch, methods = [], 0.0, set()
    for t in particles["time"].values:
        snap = density["density"].sel(time=t, method="nearest")
        mismatch = max(mismatch, abs(float(snap["time"]) - float(t)))
        pts = np.stack([particles[a].sel(time=t).values.ravel() for a in axes], axis=-1)
        dist = wasserstein(ParticleMeasure(pts), GridMeasure(grid, snap.values), p=p, **options)
        values.append(dist.value)
        methods.add(dist.method)
    return xr.DataArray(
        np.array(values),
        dims="time",
        coords={"time": particles["time"].values},
        attrs={
            "units": "1",
            "long_name": f"W{p:g} between particles and density",
            "method": ",".join(sorted(methods)),
            "max_time_mismatch": mismatch,
        },
    )
