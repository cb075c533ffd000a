r"""Gaussian expectations of activations: the building blocks of V, U and the risk.

For ``G ~ N(0, 1)`` and ``φ, Φ`` the standard normal pdf and cdf:

- ``E relu(μ + sG) = μ Φ(μ/s) + s φ(μ/s)`` (and ``relu(μ)`` for ``s = 0``);
- a piecewise-linear activation with constant tails, written
  ``σ(t) = v_0 + Σ_k Δs_k relu(t − t_k)`` (``Δs_k`` the slope change at knot ``t_k``), has
  ``E σ(μ + sG) = v_0 + Σ_k Δs_k E relu(μ − t_k + sG)`` in closed form; ``m(q) = E σ(√q G)``;
- arc-cosine kernel: for centred jointly Gaussian ``(u, v)`` with variances ``q1, q2`` and
  correlation ``ρ = cos θ``, ``E relu(u) relu(v) = √(q1 q2)/(2π) [sin θ + (π − θ) cos θ]``
  (Cho & Saul, NIPS 2009);
- any activation: ``E σ(u) σ(v) = E_g[σ(√q1 g) · E(σ(v) | g)]`` where ``v | g`` is Gaussian, so
  the inner expectation is closed form (piecewise linear) or a graded Gauss–Legendre rule
  (smooth), and the outer 1-D integral is split at the kinks of ``σ(√q1 g)`` (piecewise
  linear) or graded towards both transitions (smooth) and done by Gauss–Legendre on each
  piece — accurate near ``|ρ| = 1``, where a plain tensor Gauss–Hermite rule is not;
- smooth activations (tanh, sigmoid) at any scale: their only complex singularities near the
  real axis are at ``μ + s g = ±iπ/2``, so panels graded geometrically towards ``g = −μ/s``
  (``O(log s)`` of them) keep every Gauss–Legendre panel's error at ~1e-15 for ``s`` from 0
  to 1e3 and beyond; measured ≤ 5e-14 against adaptive QUADPACK quadrature.

References: Mei, Montanari & Nguyen, PNAS 115 (2018) E7665 (arXiv 1804.06561), SI.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, owens_t

from wgflow.networks import Activation

_SQRT_2PI = np.sqrt(2.0 * np.pi)
_LEGENDRE = np.polynomial.legendre.leggauss(20)
_RANGE = 12.0  # |g| beyond 12 has Gaussian mass < 1e-32 (piecewise-linear quadrature)

# Smooth activations (tanh, sigmoid = (1 + tanh)/2): graded composite Gauss–Legendre rule.
_PANEL_NODES = np.polynomial.legendre.leggauss(10)
_SMOOTH_RANGE = 10.0  # Gaussian mass beyond |g| = 10 is 1.5e-23; σ is bounded by 1
_GAUSS_GRID = np.linspace(-_SMOOTH_RANGE, _SMOOTH_RANGE, 21)  # unit panels for φ(g)
_FIRST_OFFSET = 0.5  # innermost graded panel, in units of the activation's scale 1/s
_LAST_OFFSET = 2.0  # grading stops once panels are as wide as the Gaussian's (1) and beyond


def _grading_levels(scales: np.ndarray) -> int:
    """Graded breakpoints per side so that ``0.5·2^j/s`` reaches ``2`` for the largest ``s``."""
    top = float(np.max(scales, initial=0.0))
    if not top > _FIRST_OFFSET / _LAST_OFFSET:
        return 0
    return int(np.ceil(np.log2(_LAST_OFFSET * top / _FIRST_OFFSET))) + 1


def _graded_points(center: np.ndarray, scale: np.ndarray, levels: int) -> np.ndarray:
    """Breakpoints ``center ± 0.5·2^j/scale`` (``j < levels``) and ``center``, shape ``(n, 2L+1)``.

    Points with ``scale = 0`` (no transition) get ``±∞`` offsets, clipped away later.
    """
    if levels == 0:
        return np.zeros((center.size, 0))
    offsets = _FIRST_OFFSET * 2.0 ** np.arange(levels)
    safe = np.where(scale > 0, scale, 1.0)
    d = np.where(scale[:, None] > 0, offsets / safe[:, None], np.inf)
    c = np.where(scale > 0, center, 0.0)[:, None]
    return np.concatenate([c, c - d, c + d], axis=1)


def _smooth_rule(centers, scales) -> tuple[np.ndarray, np.ndarray]:
    """Per-point composite Gauss–Legendre rule for ``E h(G)``, weights times ``φ(g)``.

    ``h(g)`` has complex singularities only near ``g = c ± i(π/2)/s`` for each pair
    ``(c, s)`` of ``centers``/``scales`` (lists of arrays of shape ``(n,)``): ``tanh(μ + s g)``
    has its poles at ``μ + s g = ±iπ/2``. The panels are unit panels on ``|g| ≤ 10`` cut at
    ``c`` and at ``c ± 0.5·2^j/s`` (ratio-2 grading towards the transition, until panels reach
    the Gaussian's unit width), 10 Gauss–Legendre nodes each. Every panel then sees its nearest
    singularity at ≥ 1.5 half-widths in the Bernstein-ellipse sense (``ρ ≥ 5.8``), so the
    error is ``O(ρ^{−20}) ≈ 1e-15`` per panel for any ``s``: the rule has ``O(log s)`` panels
    instead of the ``O(s)`` a uniform rule would need.

    Returns ``(g, w)`` of shape ``(n, K)``.
    """
    n = centers[0].size
    parts = [np.broadcast_to(_GAUSS_GRID, (n, _GAUSS_GRID.size))]
    for c, s in zip(centers, scales, strict=True):
        parts.append(_graded_points(c, s, _grading_levels(s)))
    edges = np.sort(np.clip(np.concatenate(parts, axis=1), -_SMOOTH_RANGE, _SMOOTH_RANGE), axis=1)
    nodes, weights = _PANEL_NODES
    lo, hi = edges[:, :-1], edges[:, 1:]
    half = 0.5 * (hi - lo)
    g = (half[..., None] * nodes + (0.5 * (hi + lo))[..., None]).reshape(n, -1)
    w = (half[..., None] * weights).reshape(n, -1) * normal_pdf(g)
    return g, w


def _smooth_points(mean: np.ndarray, std: np.ndarray):
    """Flattened ``(mean, std)`` and the per-point nodes ``t = μ + s g`` and weights."""
    mu, s = mean.ravel(), std.ravel()
    positive = s > 0
    center = np.where(positive, -mu / np.where(positive, s, 1.0), 0.0)
    g, w = _smooth_rule([center], [s])
    return mu[:, None] + s[:, None] * g, g, w


def normal_pdf(x):
    """Standard normal density ``φ(x)``.

    Parameters
    ----------
    x : array_like
        Points.

    Returns
    -------
    ndarray
        ``φ(x)``.
    """
    return np.exp(-0.5 * np.square(x)) / _SQRT_2PI


def relu_expectation(mean, std):
    """``E relu(mean + std G)`` (broadcasting; ``std ≥ 0``).

    Parameters
    ----------
    mean : array_like
        Mean ``μ``.
    std : array_like
        Standard deviation ``s ≥ 0``.

    Returns
    -------
    ndarray
        ``E relu(μ + sG)``.
    """
    mean, std = np.broadcast_arrays(np.asarray(mean, float), np.asarray(std, float))
    safe = np.where(std > 0, std, 1.0)
    z = mean / safe
    value = mean * ndtr(z) + safe * normal_pdf(z)
    return np.where(std > 0, value, np.maximum(mean, 0.0))


def piecewise_form(activation: Activation):
    """``(v0, knots, slope changes, unbounded)`` with ``σ(t) = v0 + Σ Δs_k relu(t − t_k)``.

    ``relu`` and ``truncated_relu`` are written in this form too; ``None`` for smooth activations.

    Parameters
    ----------
    activation : Activation
        The activation.

    Returns
    -------
    tuple or None
        ``(v0, knots, slope changes, unbounded)``, ``None`` for smooth activations.
    """
    if activation.name == "relu":
        return 0.0, np.array([0.0]), np.array([1.0])
    if activation.name == "truncated_relu":
        return 0.0, np.array([0.0, 1.0]), np.array([1.0, -1.0])
    if activation.name != "piecewise_linear":
        return None
    knots = np.asarray(activation.knots, float)
    values = np.asarray(activation.values, float)
    slopes = np.diff(values) / np.diff(knots)
    changes = np.diff(np.concatenate([[0.0], slopes, [0.0]]))
    return float(values[0]), knots, changes


def piecewise_expectation(form, mean, std):
    """``E σ(mean + std G)`` for ``σ`` given by its :func:`piecewise_form` (closed form).

    Parameters
    ----------
    form : tuple
        From :func:`piecewise_form`.
    mean : array_like
        Mean ``μ``.
    std : array_like
        Standard deviation ``s ≥ 0``.

    Returns
    -------
    ndarray
        ``E σ(μ + sG)``.
    """
    v0, knots, changes = form
    total = np.full(np.broadcast(mean, std).shape, v0)
    for knot, change in zip(knots, changes, strict=True):
        total = total + change * relu_expectation(mean - knot, std)
    return total


def activation_expectation(activation: Activation, mean, std):
    """``E σ(mean + std G)`` for a standard normal ``G``.

    Closed form for piecewise-linear activations, else a composite Gauss–Legendre rule graded
    towards the activation's transition ``μ + sg = 0`` (absolute error ≤ 1e-13 measured for
    ``s`` from 1e-3 to 1e3 and any ``μ``; 20–50 panels of 10 nodes, see ``_smooth_rule``).

    Parameters
    ----------
    activation : Activation or str
        The activation ``σ``.
    mean : array_like
        Mean ``μ``.
    std : array_like
        Standard deviation ``s ≥ 0``.

    Returns
    -------
    ndarray
        ``E σ(μ + sG)``.
    """
    activation = Activation.named(activation)
    form = piecewise_form(activation)
    mean, std = np.broadcast_arrays(np.asarray(mean, float), np.asarray(std, float))
    if form is not None:
        return piecewise_expectation(form, mean, std)
    t, _, w = _smooth_points(mean, std)
    return np.sum(activation(t) * w, axis=1).reshape(mean.shape)


def squared_derivative_expectation(activation: Activation, mean, std):
    """``E σ′(mean + std G)²`` for a standard normal ``G``.

    Closed form for piecewise-linear activations (``σ′`` is the slope ``S_k`` between knots:
    ``Σ_k S_k² [Φ((t_{k+1} − μ)/s) − Φ((t_k − μ)/s)]``; relu: ``Φ(μ/s)``), else composite
    Gauss–Legendre graded towards the transition (as
    :func:`activation_expectation`). It is the size of SGD's squared increments (the step-size
    correction of :meth:`ReducedAnisotropic.step_size_drift`).

    Parameters
    ----------
    activation : Activation or str
        The activation ``σ``.
    mean : array_like
        Mean ``μ``.
    std : array_like
        Standard deviation ``s ≥ 0``.

    Returns
    -------
    ndarray
        ``E σ′(μ + sG)²``.
    """
    activation = Activation.named(activation)
    form = piecewise_form(activation)
    mean, std = np.broadcast_arrays(np.asarray(mean, float), np.asarray(std, float))
    if form is None:
        t, _, w = _smooth_points(mean, std)
        return np.sum(activation.derivative(t) ** 2 * w, axis=1).reshape(mean.shape)
    _, knots, changes = form
    slopes = np.concatenate([[0.0], np.cumsum(changes)])  # σ′ left of, between, right of knots
    safe = np.where(std > 0, std, 1.0)
    # P(μ + sG > t) for each knot (a step function when s = 0)
    above = [np.where(std > 0, ndtr((mean - t) / safe), (mean > t).astype(float)) for t in knots]
    prob = [1.0 - above[0]]
    prob += [above[k] - above[k + 1] for k in range(len(knots) - 1)]
    prob += [above[-1]]
    return sum(s * s * p for s, p in zip(slopes, prob, strict=True))


def m(activation: Activation, q):
    """``m(q) = E σ(√q G)`` for ``q ≥ 0``.

    Parameters
    ----------
    activation : Activation or str
        The activation ``σ``.
    q : array_like
        Variances ``q ≥ 0``.

    Returns
    -------
    ndarray
        ``m(q)``.
    """
    q = np.asarray(q, float)
    if np.any(q < 0):
        raise ValueError("q: variances must be non-negative")
    return activation_expectation(activation, 0.0, np.sqrt(q))


def arccos_kernel(q1, q2, cov):
    """``E relu(u) relu(v)``, centred Gaussians with variances ``q1, q2`` and covariance ``cov``.

    Parameters
    ----------
    q1 : array_like
        Variance of ``u``.
    q2 : array_like
        Variance of ``v``.
    cov : array_like
        Their covariance.

    Returns
    -------
    ndarray
        ``E relu(u) relu(v)``.
    """
    q1, q2, cov = np.broadcast_arrays(*(np.asarray(a, float) for a in (q1, q2, cov)))
    norm = np.sqrt(q1 * q2)
    rho = np.clip(np.where(norm > 0, cov / np.where(norm > 0, norm, 1.0), 0.0), -1.0, 1.0)
    theta = np.arccos(rho)
    return norm / (2 * np.pi) * (np.sin(theta) + (np.pi - theta) * np.cos(theta))


def expectation_derivatives(activation: Activation, mean, std):
    """``(∂_μ, ∂_q)`` of ``E σ(μ + √q G)`` at ``√q = std``: ``E σ′(μ + sG)`` and ``½ E σ″(μ + sG)``.

    Closed form for piecewise-linear activations (``Σ Δs_k Φ((μ − t_k)/s)`` and
    ``½ Σ Δs_k φ((t_k − μ)/s)/s``; the second is set to 0 at ``s = 0``, where it is singular),
    graded composite Gauss–Legendre otherwise (as :func:`activation_expectation`).

    Parameters
    ----------
    activation : Activation or str
        The activation ``σ``.
    mean : array_like
        Mean ``μ``.
    std : array_like
        Standard deviation ``s ≥ 0``.

    Returns
    -------
    d_mean : ndarray
        ``E σ′(μ + sG)``.
    d_q : ndarray
        ``½ E σ″(μ + sG)``.
    """
    activation = Activation.named(activation)
    mean, std = np.broadcast_arrays(np.asarray(mean, float), np.asarray(std, float))
    form = piecewise_form(activation)
    if form is None:
        t, _, w = _smooth_points(mean, std)
        d1 = np.sum(activation.derivative(t) * w, axis=1).reshape(mean.shape)
        d2 = 0.5 * np.sum(activation.second_derivative(t) * w, axis=1).reshape(mean.shape)
        return d1, d2
    _, knots, changes = form
    positive = std > 0
    safe = np.where(positive, std, 1.0)
    d1 = np.zeros(mean.shape)
    d2 = np.zeros(mean.shape)
    for knot, change in zip(knots, changes, strict=True):
        z = (mean - knot) / safe
        d1 = d1 + change * np.where(positive, ndtr(z), (mean > knot).astype(float))
        d2 = d2 + change * np.where(positive, 0.5 * normal_pdf(z) / safe, 0.0)
    return d1, d2


def hermite_moment(activation: Activation, q, order: int, mean=0.0):
    """``E σ^{(k)}(μ + √q G)`` for ``k = order`` (Mehler / Taylor coefficients in the covariance).

    Piecewise linear (``k ≥ 2``): ``Σ_j Δs_j s^{1−k} He_{k−2}(z_j) φ(z_j)``, ``z_j = (t_j − μ)/s``,
    ``s = √q > 0`` (0 at ``s = 0``); smooth σ: ``E σ^{(k)}(μ + sG)`` directly, ``σ^{(k)}`` a
    polynomial in ``tanh``, by the graded rule of :func:`activation_expectation` (exact
    ``σ^{(k)}(μ)`` at ``s = 0``; no ``s^{−k}`` cancellation at small ``s``).

    Parameters
    ----------
    activation : Activation or str
        The activation ``σ``.
    q : array_like
        Variances ``q ≥ 0``.
    order : int
        ``k ≥ 0``.
    mean : array_like
        Mean ``μ``.

    Returns
    -------
    ndarray
        ``E σ^{(k)}(μ + √q G)``.
    """
    activation = Activation.named(activation)
    q, mean = np.broadcast_arrays(np.asarray(q, float), np.asarray(mean, float))
    s = np.sqrt(q)
    if order == 0:
        return activation_expectation(activation, mean, s)
    if order == 1:
        return expectation_derivatives(activation, mean, s)[0]
    safe = np.where(s > 0, s, 1.0)
    form = piecewise_form(activation)
    if form is None:
        t, _, w = _smooth_points(mean, s)
        values = np.sum(_smooth_derivative(activation, t, order) * w, axis=1)
        return values.reshape(s.shape)
    _, knots, changes = form
    total = np.zeros(s.shape)
    for knot, change in zip(knots, changes, strict=True):
        z = (knot - mean) / safe
        he = np.polynomial.hermite_e.hermeval(z, [0] * (order - 2) + [1])
        total = total + change * safe ** (1 - order) * he * normal_pdf(z)
    return np.where(s > 0, total, 0.0)


def _smooth_derivative(activation: Activation, t, order: int):
    """``σ^{(k)}(t)`` for tanh and sigmoid, as a polynomial in ``T = tanh t``.

    ``d/dt P(T) = P′(T)(1 − T²)``, starting from ``P_0 = T`` (tanh) or ``(1 + T)/2`` (sigmoid).
    """
    poly = np.polynomial.Polynomial([0.0, 1.0] if activation.name == "tanh" else [0.5, 0.5])
    for _ in range(order):
        poly = poly.deriv() * np.polynomial.Polynomial([1.0, 0.0, -1.0])
    return poly(np.tanh(t))


def _legendre_pieces(edges: np.ndarray, subdivisions: int):
    """Gauss–Legendre nodes and weights on each ``[edges_k, edges_{k+1}]`` cut in equal parts.

    ``edges`` has shape ``(n, E)`` (sorted); returns ``(n, (E−1)·subdivisions·L)`` arrays.
    """
    nodes, weights = _LEGENDRE
    frac = np.linspace(0.0, 1.0, subdivisions + 1)
    lo, hi = edges[:, :-1], edges[:, 1:]
    cuts = lo[..., None] + (hi - lo)[..., None] * frac  # (n, E-1, S+1)
    a, b = cuts[..., :-1], cuts[..., 1:]
    g = 0.5 * (b - a)[..., None] * nodes + 0.5 * (b + a)[..., None]
    w = 0.5 * (b - a)[..., None] * weights
    n = edges.shape[0]
    return g.reshape(n, -1), w.reshape(n, -1)


def pair_moments(activation: Activation, mean1, q1, mean2, q2, cov) -> dict:
    r"""``F = E σ(μ1 + u) σ(μ2 + v)`` and its derivatives, ``(u, v)`` centred jointly Gaussian.

    Parameters
    ----------
    activation : Activation
        The activation ``σ``.
    mean1, q1, mean2, q2, cov : array_like
        Means, variances and covariance (``cov² ≤ q1 q2``), broadcast together.

    Returns
    -------
    dict
        ``value``, ``d_mean1``, ``d_q1``, ``d_cov``, ``d_mean2`` (arrays of the broadcast shape).

    Notes
    -----
    With ``u = s1 g``, ``v = (cov/s1) g + r G′`` the inner expectation over ``G′`` is
    :func:`activation_expectation` (closed form for piecewise-linear σ) and the outer one is a
    Gauss–Legendre rule on ``|g| ≤ 12`` split at the kinks of both factors, so the integrand is
    smooth on every piece even at ``|ρ| = 1``; for tanh/sigmoid both levels use the graded
    rule of ``_smooth_rule`` (outer: graded towards both factors' transitions).
    Derivatives: ``∂_{μ1} F = E σ′(·)σ(·)``,
    ``∂_c F = E σ′(·)σ′(·)`` (Price's theorem), ``∂_{μ2} F = E σ(·)σ′(·)``,
    ``∂_{q1} F = ½ E σ″(μ1 + u)σ(μ2 + v)``, in closed form at the kinks for piecewise-linear σ.
    Accuracy ~1e-10 for piecewise-linear σ (tested against the arc-cosine kernel); ≤ 5e-14
    absolute for tanh/sigmoid with ``√q`` from 1e-3 to 1e3 and any ``ρ`` (tested against
    adaptive quadrature).
    """
    activation = Activation.named(activation)
    arrays = np.broadcast_arrays(*(np.asarray(a, float) for a in (mean1, q1, mean2, q2, cov)))
    shape = arrays[0].shape
    flat = [a.ravel() for a in arrays]
    if np.any(flat[1] < 0) or np.any(flat[3] < 0):
        raise ValueError("q1, q2: variances must be non-negative")
    if np.any(flat[4] ** 2 > flat[1] * flat[3] * (1 + 1e-9) + 1e-300):
        raise ValueError("cov: need cov² ≤ q1 q2")
    out = {k: np.empty(flat[0].size) for k in ("value", "d_mean1", "d_q1", "d_cov", "d_mean2")}
    form = piecewise_form(activation)
    todo = np.arange(flat[0].size)
    if form is not None:  # closed form where s1, s2 > 0 and |ρ| < 1 − 1e-9
        mu1, q1, mu2, q2, cov = flat
        norm = np.sqrt(q1 * q2)
        rho = np.where(norm > 0, cov / np.where(norm > 0, norm, 1.0), 0.0)
        regular = (norm > 0) & (np.abs(rho) < 1 - 1e-9)
        idx = np.nonzero(regular)[0]
        part = _closed_form_pairs(
            form, mu1[idx], np.sqrt(q1[idx]), mu2[idx], np.sqrt(q2[idx]), rho[idx]
        )
        for key, value in part.items():
            out[key][idx] = value
        todo = np.nonzero(~regular)[0]
    chunk = 2048  # bounds the (pairs × nodes²) work arrays
    if activation.smooth and todo.size:
        top = np.sqrt(max(np.max(flat[1][todo]), np.max(flat[3][todo])))
        levels = _grading_levels(np.array([top]))
        outer = (_GAUSS_GRID.size + 4 * levels + 2) * _PANEL_NODES[0].size
        inner = (_GAUSS_GRID.size + 2 * levels + 1) * _PANEL_NODES[0].size
        chunk = max(1, 2_000_000 // (outer * inner))
    for start in range(0, todo.size, chunk):
        idx = todo[start : start + chunk]
        part = _pair_moments_flat(activation, *(a[idx] for a in flat))
        for key, value in part.items():
            out[key][idx] = value
    return {k: v.reshape(shape) for k, v in out.items()}


def _pair_moments_flat(activation, mu1, q1, mu2, q2, cov) -> dict:
    s1 = np.sqrt(q1)
    positive = s1 > 0
    safe1 = np.where(positive, s1, 1.0)
    slope = np.where(positive, cov / safe1, 0.0)
    rest = np.sqrt(np.maximum(q2 - slope**2, 0.0))
    form = piecewise_form(activation)
    if form is None:
        return _smooth_pair_moments(activation, mu1, s1, mu2, slope, rest)
    knots = form[1]
    safe_slope = np.where(slope != 0, slope, 1.0)
    z1 = np.where(positive[:, None], (knots - mu1[:, None]) / safe1[:, None], _RANGE)
    z2 = np.where(slope[:, None] != 0, (knots - mu2[:, None]) / safe_slope[:, None], _RANGE)
    ends = np.tile([-_RANGE, _RANGE], (mu1.size, 1))
    edges = np.sort(np.clip(np.concatenate([ends, z1, z2], axis=1), -_RANGE, _RANGE), axis=1)
    g, w = _legendre_pieces(edges, 6)
    w = w * normal_pdf(g)
    t1 = mu1[:, None] + s1[:, None] * g
    inner_mean = mu2[:, None] + slope[:, None] * g
    h0 = activation_expectation(activation, inner_mean, rest[:, None])
    h1, _ = expectation_derivatives(activation, inner_mean, rest[:, None])
    sig, dsig = activation(t1), activation.derivative(t1)
    result = {
        "value": np.sum(w * sig * h0, axis=1),
        "d_mean1": np.sum(w * dsig * h0, axis=1),
        "d_cov": np.sum(w * dsig * h1, axis=1),
        "d_mean2": np.sum(w * sig * h1, axis=1),
    }
    # σ″ = Σ Δs_k δ(t − t_k): E δ(μ1 + u − t_k) σ(μ2 + v) = φ(z_k)/s1 · E[σ(μ2 + v) | u]
    _, knots, changes = form
    d_q1 = np.zeros(mu1.size)
    for knot, change in zip(knots, changes, strict=True):
        z = (knot - mu1) / safe1
        cond = activation_expectation(activation, mu2 + slope * z, rest)
        d_q1 = d_q1 + change * normal_pdf(z) / safe1 * cond
    result["d_q1"] = np.where(positive, 0.5 * d_q1, 0.0)
    return result


def _smooth_pair_moments(activation, mu1, s1, mu2, slope, rest) -> dict:
    """:func:`pair_moments` for tanh / sigmoid with ``u = s1 g``, ``v = slope·g + rest·G′``.

    Outer rule in ``g`` graded towards both transitions, ``μ1 + s1 g = 0`` and
    ``μ2 + slope·g = 0`` (the inner expectation ``h(g) = E σ(μ2 + slope·g + rest·G′)`` is
    analytic in ``g`` at least in the strip where ``σ(μ2 + slope·g)`` is); inner expectations
    over ``G′`` by the graded rule of :func:`activation_expectation`, both from one set of
    nodes. Every panel, outer and inner, has ``ρ ≥ 5.8`` (see ``_smooth_rule``).
    """
    positive = s1 > 0
    safe_slope = np.where(slope != 0, slope, 1.0)
    c1 = np.where(positive, -mu1 / np.where(positive, s1, 1.0), 0.0)
    c2 = np.where(slope != 0, -mu2 / safe_slope, 0.0)
    g, w = _smooth_rule([c1, c2], [s1, np.abs(slope)])
    t1 = mu1[:, None] + s1[:, None] * g
    inner_mean = mu2[:, None] + slope[:, None] * g
    t2, _, w2 = _smooth_points(inner_mean, np.broadcast_to(rest[:, None], inner_mean.shape))
    h0 = np.sum(activation(t2) * w2, axis=1).reshape(g.shape)
    h1 = np.sum(activation.derivative(t2) * w2, axis=1).reshape(g.shape)
    sig, dsig = activation(t1), activation.derivative(t1)
    return {
        "value": np.sum(w * sig * h0, axis=1),
        "d_mean1": np.sum(w * dsig * h0, axis=1),
        "d_q1": 0.5 * np.sum(w * activation.second_derivative(t1) * h0, axis=1),
        "d_cov": np.sum(w * dsig * h1, axis=1),
        "d_mean2": np.sum(w * sig * h1, axis=1),
    }


def bivariate_upper(h, k, rho):
    """``P(Z1 > h, Z2 > k)`` for a standard bivariate normal with correlation ``ρ``.

    Owen's T representation of the bivariate cdf (vectorized).

    Parameters
    ----------
    h : array_like
        Threshold of ``Z1``.
    k : array_like
        Threshold of ``Z2``.
    rho : array_like
        Correlation, ``|ρ| < 1``.

    Returns
    -------
    ndarray
        ``P(Z1 > h, Z2 > k)``.
    """
    x, y, rho = np.broadcast_arrays(
        *(-np.asarray(h, float), -np.asarray(k, float), np.asarray(rho, float))
    )
    sig = np.sqrt(1.0 - rho * rho)
    xs, ys = np.where(x != 0, x, 1.0), np.where(y != 0, y, 1.0)
    general = (
        0.5 * ndtr(x)
        + 0.5 * ndtr(y)
        - owens_t(x, (y - rho * x) / (xs * sig))
        - owens_t(y, (x - rho * y) / (ys * sig))
        - np.where(x * y < 0, 0.5, 0.0)
    )
    only_y = 0.5 * ndtr(y) - owens_t(y, -rho / sig)  # x = 0
    only_x = 0.5 * ndtr(x) - owens_t(x, -rho / sig)  # y = 0
    both = 0.25 + np.arcsin(rho) / (2 * np.pi)
    return np.where(x == 0, np.where(y == 0, both, only_y), np.where(y == 0, only_x, general))


def _truncated_moments(h, k, rho):
    """``L = P(A)``, ``E[Z1; A]``, ``E[Z2; A]``, ``E[Z1 Z2; A]`` for ``A = {Z1 > h, Z2 > k}``,
    standard bivariate normal with correlation ``|ρ| < 1`` (Rosenbaum 1961)."""
    sig = np.sqrt(1.0 - rho * rho)
    prob = bivariate_upper(h, k, rho)
    ch, ck = ndtr((rho * h - k) / sig), ndtr((rho * k - h) / sig)
    ph, pk = normal_pdf(h), normal_pdf(k)
    m1 = ph * ch + rho * pk * ck
    m2 = pk * ck + rho * ph * ch
    quad = (h * h - 2 * rho * h * k + k * k) / (sig * sig)
    m12 = rho * (prob + h * ph * ch + k * pk * ck) + sig * normal_pdf(np.sqrt(quad)) / _SQRT_2PI
    return prob, m1, m2, m12


def _closed_form_pairs(form, mu1, s1, mu2, s2, rho) -> dict:
    """:func:`pair_moments` in closed form for ``σ = v0 + Σ_j c_j relu(t − t_j)``,
    ``s1, s2 > 0``, ``|ρ| < 1``: each ``(j, k)`` knot pair contributes truncated bivariate
    normal moments; ``∂_{q1}`` uses the conditional law of ``v`` given ``u`` at the kinks."""
    v0, knots, changes = form
    value = np.zeros_like(mu1)
    d_mean1 = np.zeros_like(mu1)
    d_mean2 = np.zeros_like(mu1)
    d_cov = np.zeros_like(mu1)
    e1, e2 = piecewise_expectation(form, mu1, s1), piecewise_expectation(form, mu2, s2)
    value = value + v0 * (e1 + e2) - v0 * v0
    for tj, cj in zip(knots, changes, strict=True):
        h = (tj - mu1) / s1
        d_mean1 = d_mean1 + cj * v0 * ndtr(-h)
        d_mean2 = d_mean2 + cj * v0 * ndtr(-(tj - mu2) / s2)
        for tk, ck in zip(knots, changes, strict=True):
            k = (tk - mu2) / s2
            prob, m1, m2, m12 = _truncated_moments(h, k, rho)
            w = cj * ck
            value = value + w * s1 * s2 * (m12 - k * m1 - h * m2 + h * k * prob)
            d_mean1 = d_mean1 + w * s2 * (m2 - k * prob)
            d_cov = d_cov + w * prob
            # E σ(μ1 + u) σ′(μ2 + v): the (j, k) term with the roles of u and v exchanged
            hk, kj = (tk - mu1) / s1, (tj - mu2) / s2
            probx, m1x, _, _ = _truncated_moments(hk, kj, rho)
            d_mean2 = d_mean2 + w * s1 * (m1x - hk * probx)
    sig = np.sqrt(1.0 - rho * rho)
    d_q1 = np.zeros_like(mu1)
    for tj, cj in zip(knots, changes, strict=True):
        z = (tj - mu1) / s1
        cond = piecewise_expectation(form, mu2 + s2 * rho * z, s2 * sig)
        d_q1 = d_q1 + cj * normal_pdf(z) / s1 * cond
    return {
        "value": value,
        "d_mean1": d_mean1,
        "d_q1": 0.5 * d_q1,
        "d_cov": d_cov,
        "d_mean2": d_mean2,
    }


def pair_values(activation: Activation, mean1, q1, mean2, q2, cov) -> np.ndarray:
    r"""``E σ(μ1 + u) σ(μ2 + v)`` alone, ``(u, v)`` centred jointly Gaussian (no derivatives).

    The value of :func:`pair_moments` at about half its cost for piecewise-linear σ (relu with
    bias included): where ``√q1, √q2 > 0`` and ``|ρ| < 1 − 1e-9`` each knot pair
    ``(t_j, t_k)`` contributes ``c_j c_k s1 s2 E[(Z1 − h)(Z2 − k); Z1 > h, Z2 > k]``,
    ``h = (t_j − μ1)/s1``, ``k = (t_k − μ2)/s2``, by the truncated bivariate-normal moments
    (Owen's T for the orthant probability; Rosenbaum 1961), exact to rounding. The other pairs
    (``|ρ| = 1``, as on a Gram matrix's diagonal, or a zero variance) and smooth σ use the
    split quadrature of :func:`pair_moments`.

    Parameters
    ----------
    activation : Activation or str
        The activation ``σ``.
    mean1, q1, mean2, q2, cov : array_like
        Means, variances (``≥ 0``) and covariance (``cov² ≤ q1 q2``), broadcast together.

    Returns
    -------
    ndarray
        ``E σ(μ1 + u) σ(μ2 + v)``, of the broadcast shape.
    """
    activation = Activation.named(activation)
    arrays = np.broadcast_arrays(*(np.asarray(a, float) for a in (mean1, q1, mean2, q2, cov)))
    shape = arrays[0].shape
    mu1, q1, mu2, q2, cov = (a.ravel() for a in arrays)
    if np.any(q1 < 0) or np.any(q2 < 0):
        raise ValueError("q1, q2: variances must be non-negative")
    if np.any(cov**2 > q1 * q2 * (1 + 1e-9) + 1e-300):
        raise ValueError("cov: need cov² ≤ q1 q2")
    form = piecewise_form(activation)
    if form is None:
        return pair_moments(activation, mu1, q1, mu2, q2, cov)["value"].reshape(shape)
    out = np.empty(mu1.size)
    norm = np.sqrt(q1 * q2)
    rho = np.where(norm > 0, cov / np.where(norm > 0, norm, 1.0), 0.0)
    regular = (norm > 0) & (np.abs(rho) < 1 - 1e-9)
    idx = np.nonzero(regular)[0]
    out[idx] = _closed_form_values(
        form, mu1[idx], np.sqrt(q1[idx]), mu2[idx], np.sqrt(q2[idx]), rho[idx]
    )
    rest = np.nonzero(~regular)[0]
    if rest.size:
        part = pair_moments(activation, mu1[rest], q1[rest], mu2[rest], q2[rest], cov[rest])
        out[rest] = part["value"]
    return out.reshape(shape)


def _closed_form_values(form, mu1, s1, mu2, s2, rho) -> np.ndarray:
    """The ``value`` of :func:`_closed_form_pairs` alone (one orthant moment per knot pair)."""
    v0, knots, changes = form
    value = np.zeros_like(mu1)
    if v0 != 0:  # σ = v0 + Σ c_j relu(t − t_j): the constant's cross terms
        value = v0 * (piecewise_expectation(form, mu1, s1) + piecewise_expectation(form, mu2, s2))
        value = value - v0 * v0
    for tj, cj in zip(knots, changes, strict=True):
        h = (tj - mu1) / s1
        for tk, ck in zip(knots, changes, strict=True):
            k = (tk - mu2) / s2
            prob, m1, m2, m12 = _truncated_moments(h, k, rho)
            value = value + cj * ck * s1 * s2 * (m12 - k * m1 - h * m2 + h * k * prob)
    return value


def pair_expectation(activation: Activation, q1: float, q2: float, cov: float) -> float:
    """``E σ(u) σ(v)`` for centred jointly Gaussian ``(u, v)``.

    Variances ``q1, q2``; exact arc-cosine formula for relu, else :func:`pair_moments`.

    Parameters
    ----------
    activation : Activation or str
        The activation ``σ``.
    q1 : float
        Variance of ``u``.
    q2 : float
        Variance of ``v``.
    cov : float
        Their covariance (``cov² ≤ q1 q2``).

    Returns
    -------
    float
        ``E σ(u) σ(v)``.
    """
    activation = Activation.named(activation)
    if cov * cov > q1 * q2 * (1 + 1e-12):
        raise ValueError(f"cov: need cov² ≤ q1 q2, got cov={cov}, q1={q1}, q2={q2}")
    if activation.name == "relu":
        return float(arccos_kernel(q1, q2, cov))
    return float(pair_moments(activation, 0.0, q1, 0.0, q2, cov)["value"])
