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
  the inner expectation is closed form (piecewise linear) or 1-D Gauss–Hermite (smooth), and the
  outer 1-D integral is split at the kinks of ``σ(√q1 g)`` and done by Gauss–Legendre on each
  piece — accurate near ``|ρ| = 1``, where a plain tensor Gauss–Hermite rule is not.

References: Mei, Montanari & Nguyen, PNAS 115 (2018) E7665 (arXiv 1804.06561), SI.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from wgflow.networks import Activation

_SQRT_2PI = np.sqrt(2.0 * np.pi)
_HERMITE = np.polynomial.hermite_e.hermegauss(80)  # nodes, weights for weight e^{-x²/2}
_LEGENDRE = np.polynomial.legendre.leggauss(20)
_RANGE = 12.0  # |g| beyond 12 has Gaussian mass < 1e-32


def normal_pdf(x):
    return np.exp(-0.5 * np.square(x)) / _SQRT_2PI


def relu_expectation(mean, std):
    """``E relu(mean + std G)`` (broadcasting; ``std ≥ 0``)."""
    mean, std = np.broadcast_arrays(np.asarray(mean, float), np.asarray(std, float))
    safe = np.where(std > 0, std, 1.0)
    z = mean / safe
    value = mean * ndtr(z) + safe * normal_pdf(z)
    return np.where(std > 0, value, np.maximum(mean, 0.0))


def piecewise_form(activation: Activation):
    """``(v0, knots, slope changes, unbounded)`` with ``σ(t) = v0 + Σ Δs_k relu(t − t_k)``.

    ``relu`` and ``truncated_relu`` are written in this form too; ``None`` for smooth activations.
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


def activation_expectation(activation: Activation, mean, std):
    """``E σ(mean + std G)``: closed form for piecewise-linear activations, else Gauss–Hermite."""
    activation = Activation.named(activation)
    form = piecewise_form(activation)
    mean, std = np.broadcast_arrays(np.asarray(mean, float), np.asarray(std, float))
    if form is not None:
        v0, knots, changes = form
        total = np.full(mean.shape, v0)
        for knot, change in zip(knots, changes, strict=True):
            total = total + change * relu_expectation(mean - knot, std)
        return total
    nodes, weights = _HERMITE
    values = activation(mean[..., None] + std[..., None] * nodes)
    return values @ weights / _SQRT_2PI


def m(activation: Activation, q):
    """``m(q) = E σ(√q G)`` for ``q ≥ 0``."""
    q = np.asarray(q, float)
    if np.any(q < 0):
        raise ValueError("q: variances must be non-negative")
    return activation_expectation(activation, 0.0, np.sqrt(q))


def arccos_kernel(q1, q2, cov):
    """``E relu(u) relu(v)``, centred Gaussians with variances ``q1, q2`` and covariance ``cov``."""
    q1, q2, cov = np.broadcast_arrays(*(np.asarray(a, float) for a in (q1, q2, cov)))
    norm = np.sqrt(q1 * q2)
    rho = np.clip(np.where(norm > 0, cov / np.where(norm > 0, norm, 1.0), 0.0), -1.0, 1.0)
    theta = np.arccos(rho)
    return norm / (2 * np.pi) * (np.sin(theta) + (np.pi - theta) * np.cos(theta))


def pair_expectation(activation: Activation, q1: float, q2: float, cov: float) -> float:
    """``E σ(u) σ(v)`` for centred jointly Gaussian ``(u, v)``: variances ``q1, q2``, covariance
    ``cov`` (``cov² ≤ q1 q2``). Exact arc-cosine formula for relu; otherwise the split 1-D
    quadrature of the module docstring (error ~1e-12 for piecewise-linear activations)."""
    activation = Activation.named(activation)
    if cov * cov > q1 * q2 * (1 + 1e-12):
        raise ValueError(f"cov: need cov² ≤ q1 q2, got cov={cov}, q1={q1}, q2={q2}")
    if activation.name == "relu":
        return float(arccos_kernel(q1, q2, cov))
    s1 = np.sqrt(q1)
    if s1 == 0:
        return float(activation(0.0) * activation_expectation(activation, 0.0, np.sqrt(q2)))
    slope = cov / s1  # v = slope g + rest·G′
    rest = np.sqrt(max(q2 - slope * slope, 0.0))
    form = piecewise_form(activation)
    kinks = [] if form is None else [k / s1 for k in form[1] if abs(k / s1) < _RANGE]
    # pieces of width ≤ 1 between kinks: Gauss–Legendre is then accurate to ~1e-12
    edges = np.array(sorted({*np.linspace(-_RANGE, _RANGE, 25), *kinks}))
    nodes, weights = _LEGENDRE
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        g = 0.5 * (hi - lo) * nodes + 0.5 * (hi + lo)
        inner = activation_expectation(activation, slope * g, rest)
        total += (
            0.5 * (hi - lo) * float(np.sum(weights * normal_pdf(g) * activation(s1 * g) * inner))
        )
    return total
