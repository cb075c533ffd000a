"""Fused one-pass online-SGD kernel for two-layer networks (numba), and its data sampler.

Per step and replica the weights ``θ (N, P)`` are read and written once: neuron ``i`` is
updated with step ``k``'s residuals and, while its weights are in cache, its pre-activations
for the batch of step ``k + 1`` are accumulated. Random numbers (data and noise) are
counter-based (:mod:`wgflow.random`), so results do not depend on the thread count.

Counter layout (shared with the numpy reference in the tests):

- sample ``s = k B + b`` of step ``k``: normals from pairs ``s (h + 1) + j // 2``
  (``h = ⌈d/2⌉``), class from uniform ``2 (s (h + 1) + h)``, key ``keys_data[r]``;
- Gaussian noise of neuron ``i`` at step ``k``: pairs ``(k N + i) ⌈P/2⌉ + p // 2``;
  Rademacher noise: bit counter ``(k N + i) · 64 ⌈P/64⌉ + p``, key ``keys_noise[r]``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from wgflow.networks import ACTIVATION_KINDS
from wgflow.random import normal_pair, rademacher, uniform

NOISE_NONE, NOISE_GAUSSIAN, NOISE_RADEMACHER = 0, 1, 2
# activation ids: the ones NetworkModel's Activation.kind gives (compile-time constants)
RELU = ACTIVATION_KINDS["relu"]
TRUNCATED_RELU = ACTIVATION_KINDS["truncated_relu"]
SIGMOID = ACTIVATION_KINDS["sigmoid"]
TANH = ACTIVATION_KINDS["tanh"]
_FAST = {"contract", "reassoc", "nsz"}


@njit(cache=True, inline="always")
def activation(t, kind, p):
    if kind == RELU:
        return t if t > 0.0 else 0.0 * t
    if kind == TRUNCATED_RELU:
        return 0.0 * t if t <= 0.0 else (1.0 + 0.0 * t if t >= 1.0 else t)
    if kind == SIGMOID:
        return 0.5 * (1.0 + math.tanh(t))
    if kind == TANH:
        return math.tanh(t)
    m = p.size // 2
    if t <= p[0]:
        return p[m]
    if t >= p[m - 1]:
        return p[2 * m - 1]
    for s in range(m - 1):
        if t < p[s + 1]:
            return p[m + s] + (p[m + s + 1] - p[m + s]) * (t - p[s]) / (p[s + 1] - p[s])
    return p[2 * m - 1]


@njit(cache=True, inline="always")
def activation_derivative(t, kind, p):
    if kind == RELU:
        return 1.0 if t > 0.0 else 0.0
    if kind == TRUNCATED_RELU:
        return 1.0 if (t > 0.0 and t < 1.0) else 0.0
    if kind == SIGMOID:
        th = math.tanh(t)
        return 0.5 * (1.0 - th * th)
    if kind == TANH:
        th = math.tanh(t)
        return 1.0 - th * th
    m = p.size // 2
    if t < p[0] or t >= p[m - 1]:
        return 0.0
    for s in range(m - 1):
        if t < p[s + 1]:
            return (p[m + s + 1] - p[m + s]) / (p[s + 1] - p[s])
    return 0.0


@njit(cache=True)
def sample_batch(key, step, x, y, labels, cumprob, scales, rotation, rotated, buf):
    """Fill ``x (B, d)`` and ``y (B,)`` with the samples of global step ``step``."""
    n_batch, d = x.shape
    h = (d + 1) // 2
    for b in range(n_batch):
        s = np.uint64(step) * np.uint64(n_batch) + np.uint64(b)
        base = s * np.uint64(h + 1)
        u = uniform(key, (base + np.uint64(h)) * np.uint64(2))
        c = 0
        while c < cumprob.size - 1 and u >= cumprob[c]:
            c += 1
        y[b] = labels[c]
        for jj in range(h):
            n1, n2 = normal_pair(key, base + np.uint64(jj))
            j = 2 * jj
            buf[j] = n1 * scales[c, j]
            if j + 1 < d:
                buf[j + 1] = n2 * scales[c, j + 1]
        if rotated:
            for j in range(d):
                acc = 0.0
                for m in range(d):
                    acc += rotation[j, m] * buf[m]
                x[b, j] = acc
        else:
            for j in range(d):
                x[b, j] = buf[j]


@njit(cache=True)
def fill_noise(kind, key, step, i, n_neurons, scale, out):
    """Noise increments of neuron ``i`` at step ``step`` into ``out (P,)`` (times ``scale``)."""
    n_p = out.size
    if kind == NOISE_GAUSSIAN:
        hp = (n_p + 1) // 2
        base = (np.uint64(step) * np.uint64(n_neurons) + np.uint64(i)) * np.uint64(hp)
        for pp in range(hp):
            n1, n2 = normal_pair(key, base + np.uint64(pp))
            out[2 * pp] = scale * n1
            if 2 * pp + 1 < n_p:
                out[2 * pp + 1] = scale * n2
    else:
        words = (n_p + 63) // 64
        base = (np.uint64(step) * np.uint64(n_neurons) + np.uint64(i)) * np.uint64(64 * words)
        for p in range(n_p):
            out[p] = scale * rademacher(key, base + np.uint64(p))


@njit(cache=True, parallel=True)
def initialize_batch(
    theta,
    x,
    y,
    pre,
    f,
    step,
    act_kind,
    act_p,
    has_a,
    has_b,
    labels,
    cumprob,
    scales,
    rotation,
    rotated,
    keys_data,
):
    """Sample the batch of ``step`` and compute its pre-activations and outputs (one pass)."""
    n_rep, n, _ = theta.shape
    n_batch, d = x.shape[1], x.shape[2]
    off = has_a + has_b
    for r in prange(n_rep):
        buf = np.empty(d)
        sample_batch(
            keys_data[r], step, x[r], y[r], labels, cumprob, scales, rotation, rotated, buf
        )
        for b in range(n_batch):
            f[r, b] = 0.0
        for i in range(n):
            for b in range(n_batch):
                z = theta[r, i, 1] if has_b else 0.0 * theta[r, i, 0]
                for j in range(d):
                    z += theta[r, i, off + j] * x[r, b, j]
                pre[r, i, b] = z
                a = theta[r, i, 0] if has_a else 1.0
                f[r, b] += a * activation(z, act_kind, act_p)
        for b in range(n_batch):
            f[r, b] /= n


@njit(cache=True, parallel=True)
def sgd_steps(
    theta,
    x,
    y,
    pre,
    f,
    x_next,
    y_next,
    pre_next,
    k0,
    n_steps,
    coef,
    xi,
    noise_kind,
    act_kind,
    act_p,
    has_a,
    has_b,
    labels,
    cumprob,
    scales,
    rotation,
    rotated,
    keys_data,
    keys_noise,
):
    """Advance every replica ``n_steps`` online-SGD steps from global step ``k0``.

    ``θ_i ← (1 − εξλ) θ_i + (εξ/B) Σ_b (y_b − f(x_b)) ∇_θ σ*(x_b; θ_i) + s √ξ g_i`` with
    ``coef = [ε, λ, s, 1]`` (``s = √(2ε/β)``), ``xi`` the schedule at steps ``k0 …``. On entry
    ``x, y, pre, f`` hold the batch of step ``k0`` (from :func:`initialize_batch` or the
    previous call); on exit they hold the batch of step ``k0 + n_steps``. Replicas run in
    parallel; each runs the serial kernel :func:`replica_steps` (outlined so that it is
    optimized as plain serial code).
    """
    n_rep = theta.shape[0]
    for r in prange(n_rep):
        replica_steps(
            theta[r],
            x[r],
            y[r],
            pre[r],
            f[r],
            x_next[r],
            y_next[r],
            pre_next[r],
            k0,
            n_steps,
            coef,
            xi,
            noise_kind,
            act_kind,
            act_p,
            has_a,
            has_b,
            labels,
            cumprob,
            scales,
            rotation,
            rotated,
            keys_data[r],
            keys_noise[r],
        )


@njit(cache=True, fastmath=_FAST)
def replica_steps(
    theta,
    x,
    y,
    pre,
    f,
    x_next,
    y_next,
    pre_next,
    k0,
    n_steps,
    coef,
    xi,
    noise_kind,
    act_kind,
    act_p,
    has_a,
    has_b,
    labels,
    cumprob,
    scales,
    rotation,
    rotated,
    key_data,
    key_noise,
):
    """One replica: ``theta (N, P)``, ``x (B, d)``, ``pre (N, B)``; see :func:`sgd_steps`."""
    n, n_p = theta.shape
    n_batch, d = x.shape
    buf = np.empty(d)
    residual = np.empty(n_batch, dtype=theta.dtype)
    grad_w = np.empty(n_batch, dtype=theta.dtype)
    f_next = np.empty(n_batch, dtype=theta.dtype)
    noise = np.zeros(n_p, dtype=theta.dtype)
    zero = coef[3] - coef[3]  # typed like θ (keeps float32 kernels in float32)
    for s in range(n_steps):
        k = k0 + s
        sample_batch(
            key_data, k + 1, x_next, y_next, labels, cumprob, scales, rotation, rotated, buf
        )
        rate = coef[0] * xi[s]
        decay = coef[3] - rate * coef[1]
        per_sample = rate / n_batch
        noise_scale = coef[2] * math.sqrt(xi[s])
        for b in range(n_batch):
            residual[b] = y[b] - f[b]
            f_next[b] = zero
        if n_batch == 1:
            f_next[0] = _single_sample_pass(
                theta,
                pre,
                pre_next,
                x[0],
                x_next[0],
                residual[0],
                decay,
                per_sample,
                zero,
                coef[3],
                noise,
                noise_kind,
                key_noise,
                k,
                noise_scale,
                act_kind,
                act_p,
                has_a,
                has_b,
            )
        else:
            _batch_pass(
                theta,
                pre,
                pre_next,
                x,
                x_next,
                residual,
                grad_w,
                f_next,
                decay,
                per_sample,
                zero,
                coef[3],
                noise,
                noise_kind,
                key_noise,
                k,
                noise_scale,
                act_kind,
                act_p,
                has_a,
                has_b,
            )
        for b in range(n_batch):
            f[b] = f_next[b] / n
            y[b] = y_next[b]
            for j in range(d):
                x[b, j] = x_next[b, j]
            for i in range(n):
                pre[i, b] = pre_next[i, b]


@njit(cache=True, fastmath=_FAST)
def _single_sample_pass(
    theta,
    pre,
    pre_next,
    x0,
    xn,
    residual,
    decay,
    per_sample,
    zero,
    one,
    noise,
    noise_kind,
    key_noise,
    k,
    noise_scale,
    act_kind,
    act_p,
    has_a,
    has_b,
):
    """B = 1: update every neuron and return ``Σ_i a_i σ(pre_next_i)`` (one pass over θ)."""
    n = theta.shape[0]
    d = x0.size
    off = has_a + has_b
    f_next = zero
    typed = np.empty(1, dtype=theta.dtype)  # casts g to θ's dtype: no float64 in float32 loops
    for i in range(n):  # no array views inside this loop: each costs atomic refcounts
        z = pre[i, 0]
        a_old = theta[i, 0] if has_a else one
        typed[0] = per_sample * residual * a_old * activation_derivative(z, act_kind, act_p)
        g = typed[0]
        if noise_kind != NOISE_NONE:
            fill_noise(noise_kind, key_noise, k, i, n, noise_scale, noise)
        if has_a:
            theta[i, 0] = (
                decay * a_old + per_sample * residual * activation(z, act_kind, act_p) + noise[0]
            )
        acc = zero
        if has_b:
            acc = decay * theta[i, 1] + g + noise[1]
            theta[i, 1] = acc
        if noise_kind == NOISE_NONE:
            for j in range(d):
                wj = decay * theta[i, off + j] + g * x0[j]
                theta[i, off + j] = wj
                acc += wj * xn[j]
        else:
            for j in range(d):
                wj = decay * theta[i, off + j] + g * x0[j] + noise[off + j]
                theta[i, off + j] = wj
                acc += wj * xn[j]
        pre_next[i, 0] = acc
        a_new = theta[i, 0] if has_a else one
        f_next += a_new * activation(acc, act_kind, act_p)
    return f_next


@njit(cache=True, fastmath=_FAST)
def _batch_pass(
    theta,
    pre,
    pre_next,
    x,
    x_next,
    residual,
    grad_w,
    f_next,
    decay,
    per_sample,
    zero,
    one,
    noise,
    noise_kind,
    key_noise,
    k,
    noise_scale,
    act_kind,
    act_p,
    has_a,
    has_b,
):
    """B > 1: update every neuron with the batch gradient; accumulate ``f_next (B,)``."""
    n = theta.shape[0]
    n_batch, d = x.shape
    off = has_a + has_b
    for i in range(n):
        a_old = theta[i, 0] if has_a else one
        sum_a = zero
        sum_b = zero
        for b in range(n_batch):
            z = pre[i, b]
            sum_a += residual[b] * activation(z, act_kind, act_p)
            grad_w[b] = per_sample * residual[b] * a_old * activation_derivative(z, act_kind, act_p)
            sum_b += grad_w[b]
        if noise_kind != NOISE_NONE:
            fill_noise(noise_kind, key_noise, k, i, n, noise_scale, noise)
        if has_a:
            theta[i, 0] = decay * a_old + per_sample * sum_a + noise[0]
        bias = zero
        if has_b:
            bias = decay * theta[i, 1] + sum_b + noise[1]
            theta[i, 1] = bias
        for b in range(n_batch):
            pre_next[i, b] = bias
        for j in range(d):
            wj = decay * theta[i, off + j] + noise[off + j]
            for b in range(n_batch):
                wj += grad_w[b] * x[b, j]
            theta[i, off + j] = wj
            for b in range(n_batch):
                pre_next[i, b] += wj * x_next[b, j]
        a_new = theta[i, 0] if has_a else one
        for b in range(n_batch):
            f_next[b] += a_new * activation(pre_next[i, b], act_kind, act_p)
