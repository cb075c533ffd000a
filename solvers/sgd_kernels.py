"""Fused one-pass online-SGD kernel for two-layer networks (numba), and its data sampler.

Per step and replica the weights ``θ (N, P)`` are read and written once: neuron ``i`` is
updated with step ``k``'s residuals and, while its weights are in cache, its pre-activations
for the batch of step ``k + 1`` are accumulated. Random numbers (data and noise) are
counter-based (:mod:`wgflow.random`), so results do not depend on the thread count.

Counter layout (shared with the numpy reference in the tests):

- sample ``s = k B + b`` of step ``k``: normals from pairs ``s (h + 1) + j // 2``
  (``h = ⌈d/2⌉``), class from uniform ``2 (s (h + 1) + h)``, key ``keys_data[r]``; a
  teacher law's label noise from the first normal of pair ``s (h + 1) + h``;
- Gaussian noise of neuron ``i`` at step ``k``: pairs ``(k N + i) ⌈P/2⌉ + p // 2``;
  Rademacher noise: bit counter ``(k N + i) · 64 ⌈P/64⌉ + p``, key ``keys_noise[r]``.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import literally, njit, prange

from wgflow.networks import ACTIVATION_KINDS
from wgflow.random import normal_pair, normal_pair_fast, rademacher, uniform

NOISE_NONE, NOISE_GAUSSIAN, NOISE_RADEMACHER = 0, 1, 2
# activation ids: the ones NetworkModel's Activation.kind gives (compile-time constants)
RELU = ACTIVATION_KINDS["relu"]
TRUNCATED_RELU = ACTIVATION_KINDS["truncated_relu"]
SIGMOID = ACTIVATION_KINDS["sigmoid"]
TANH = ACTIVATION_KINDS["tanh"]
_FAST = {"contract", "reassoc", "nsz"}

# Argument bundles (numba namedtuples: named fields, one type each, cached like arrays).
#: the architecture: activation id and parameters (knots then values), which heads are trained
Network = namedtuple("Network", ["activation", "activation_params", "has_a", "has_b"])
#: the data law: a Gaussian mixture — labels (K,), cumulative probabilities (K,), per-class
#: scales (K, d), rotation (d, d; (0, 0) when unused) and whether to apply it — or, when
#: ``regression``, a teacher on ``x ~ N(0, I)``: basis (k, d), weights (M, k), heads ``a*``,
#: ``b*`` (M,), its activation id and parameters, and the label-noise standard deviation
DataLaw = namedtuple(
    "DataLaw",
    [
        "labels", "cumprob", "scales", "rotation", "rotated", "regression", "teacher_basis",
        "teacher_weights", "teacher_a", "teacher_b", "teacher_activation", "teacher_params",
        "label_noise",
    ],
)  # fmt: skip
#: counter-based stream keys: ``data`` draws samples, ``noise`` the SGD noise (uint64 each, or
#: (R,) arrays with one key per replica) — named, so the two can never be swapped silently
Streams = namedtuple("Streams", ["data", "noise"])
#: one batch per replica: ``x (B, d)``, ``y (B,)``, pre-activations ``pre (N, B)``, outputs
#: ``f (B,)`` (a leading replica axis in :func:`sgd_steps`)
Batch = namedtuple("Batch", ["x", "y", "pre", "f"])
#: the step rule of a chunk: first global step ``k0``, ``n_steps``, ``coef = [ε, λ, s, 1]``
#: (``s = √(2ε/β)``), the schedule ``xi (n_steps,)`` and the noise kind
Steps = namedtuple("Steps", ["k0", "n_steps", "coef", "xi", "noise_kind"])
#: the noise of one step: kind, key, global step, neuron count, scale ``s √ξ`` and a table
#: ``(N, 2⌈P/2⌉)`` of the step's Gaussian increments drawn in one pass (``(0, 0)``: unused)
NoiseDraw = namedtuple("NoiseDraw", ["kind", "key", "step", "n_neurons", "scale", "table"])
#: widest neuron (``P`` weights) whose Gaussian noise is drawn for the whole step in one loop:
#: short per-neuron loops do not fill the vector lanes
TABLE_MAX_PARAMS = 64


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
def sample_batch(key, step, x, y, law, buf):
    """Fill ``x (B, d)`` and ``y (B,)`` with the samples of global step ``step`` from ``law``."""
    labels, cumprob, scales, rotation = law.labels, law.cumprob, law.scales, law.rotation
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
        if law.rotated:
            for j in range(d):
                acc = 0.0
                for m in range(d):
                    acc += rotation[j, m] * buf[m]
                x[b, j] = acc
        else:
            for j in range(d):
                x[b, j] = buf[j]
        if law.regression:
            y[b] = _teacher_label(law, key, base + np.uint64(h), buf)


@njit(cache=True)
def _teacher_label(law, key, pair, x):
    """``f*(x) + τ G`` for one input ``x (d,)``; ``G`` from normal pair ``pair`` (the class
    uniform's counter, unused by a regression law)."""
    basis, weights = law.teacher_basis, law.teacher_weights
    k, d = basis.shape
    m = weights.shape[0]
    proj = np.empty(k)
    for l in range(k):  # noqa: E741
        acc = 0.0
        for j in range(d):
            acc += basis[l, j] * x[j]
        proj[l] = acc
    total = 0.0
    for t in range(m):
        z = law.teacher_b[t]
        for l in range(k):  # noqa: E741
            z += weights[t, l] * proj[l]
        total += law.teacher_a[t] * activation(z, law.teacher_activation, law.teacher_params)
    g, _ = normal_pair(key, pair)
    return total / m + law.label_noise * g


@njit(cache=True, error_model="numpy")
def fill_noise(draw, i, out):
    """Noise increments of neuron ``i`` at step ``draw.step`` into ``out (P,)`` (times
    ``draw.scale``).

    Gaussian increments come from :func:`~wgflow.random.normal_pair_fast` (polynomial
    ``log``/``sin``/``cos``): the loop over full pairs vectorizes, the odd last entry follows.
    """
    kind, key, step, n_neurons, scale, table = draw
    n_p = out.size
    if kind == NOISE_GAUSSIAN and table.shape[0] > 0:  # drawn by fill_noise_table
        for p in range(n_p):
            out[p] = table[i, p]
        return
    if kind == NOISE_GAUSSIAN:
        hp = (n_p + 1) // 2
        base = (np.uint64(step) * np.uint64(n_neurons) + np.uint64(i)) * np.uint64(hp)
        full = n_p // 2
        for pp in range(full):
            n1, n2 = normal_pair_fast(key, base + np.uint64(pp))
            out[2 * pp] = scale * n1
            out[2 * pp + 1] = scale * n2
        if full < hp:
            n1, _ = normal_pair_fast(key, base + np.uint64(full))
            out[n_p - 1] = scale * n1
    else:
        words = (n_p + 63) // 64
        base = (np.uint64(step) * np.uint64(n_neurons) + np.uint64(i)) * np.uint64(64 * words)
        for p in range(n_p):
            out[p] = scale * rademacher(key, base + np.uint64(p))


@njit(cache=True, error_model="numpy")
def fill_noise_table(draw):
    """All neurons' Gaussian increments of step ``draw.step`` into ``draw.table`` (one loop).

    Neuron ``i``'s pairs ``(k N + i) ⌈P/2⌉ + p`` are consecutive over ``i``: the same numbers
    as :func:`fill_noise` draws neuron by neuron.
    """
    table = draw.table
    n, width = table.shape
    hp = width // 2
    base = np.uint64(draw.step) * np.uint64(n) * np.uint64(hp)
    flat = table.reshape(n * width)
    scale = draw.scale
    for t in range(n * hp):
        n1, n2 = normal_pair_fast(draw.key, base + np.uint64(t))
        flat[2 * t] = scale * n1
        flat[2 * t + 1] = scale * n2


@njit(cache=True)  # once per run: serial (a parallel region costs seconds of compilation)
def initialize_batch(theta, batch, step, net, law, keys_data):
    """Sample the batch of ``step`` and compute its pre-activations and outputs (one pass).

    ``theta (R, N, P)``; ``batch`` holds ``(R, …)`` arrays; ``keys_data (R,)``.
    """
    n_rep, n, _ = theta.shape
    n_batch, d = batch.x.shape[1], batch.x.shape[2]
    off = net.has_a + net.has_b
    x, pre, f = batch.x, batch.pre, batch.f
    for r in range(n_rep):
        buf = np.empty(d)
        sample_batch(keys_data[r], step, x[r], batch.y[r], law, buf)
        for b in range(n_batch):
            f[r, b] = 0.0
        for i in range(n):
            for b in range(n_batch):
                z = theta[r, i, 1] if net.has_b else 0.0 * theta[r, i, 0]
                for j in range(d):
                    z += theta[r, i, off + j] * x[r, b, j]
                pre[r, i, b] = z
                a = theta[r, i, 0] if net.has_a else 1.0
                f[r, b] += a * activation(z, net.activation, net.activation_params)
        for b in range(n_batch):
            f[r, b] /= n


@njit(cache=True, parallel=True)
def sgd_steps(theta, batch, scratch, steps, net, law, keys, act_kind):
    """Advance every replica ``steps.n_steps`` online-SGD steps from global step ``steps.k0``.

    ``θ_i ← (1 − εξλ) θ_i + (εξ/B) Σ_b (y_b − f(x_b)) ∇_θ σ*(x_b; θ_i) + s √ξ g_i`` with
    ``steps.coef = [ε, λ, s, 1]`` (``s = √(2ε/β)``) and ``steps.xi`` the schedule at steps
    ``k0 …``. ``theta (R, N, P)``; ``batch`` and ``scratch`` are :class:`Batch` bundles of
    ``(R, …)`` arrays (``scratch`` receives the next batch; its ``f`` is unused); ``keys`` a
    :class:`Streams` of ``(R,)`` keys. On entry ``batch`` holds the batch of step ``k0`` (from
    :func:`initialize_batch` or the previous call); on exit the batch of step ``k0 + n_steps``.
    Replicas run in parallel; each runs the serial kernel :func:`replica_steps` (outlined so that
    it is optimized as plain serial code). ``act_kind`` is ``net.activation`` passed again:
    each kernel is compiled for its value (a compile-time constant, so the activation's
    branches fold away; a run-time id costs about 3× at d = 40), and only for the activations
    a process uses.
    """
    literally(act_kind)
    n_rep = theta.shape[0]
    for r in prange(n_rep):
        replica_steps(
            theta[r],
            Batch(batch.x[r], batch.y[r], batch.pre[r], batch.f[r]),
            Batch(scratch.x[r], scratch.y[r], scratch.pre[r], scratch.f[r]),
            steps,
            net,
            law,
            Streams(keys.data[r], keys.noise[r]),
            act_kind,
        )


@njit(cache=True, fastmath=_FAST)
def replica_steps(theta, batch, scratch, steps, net, law, keys, act_kind):
    """One replica: ``theta (N, P)``, ``batch.x (B, d)``, ``batch.pre (N, B)``; keys are
    scalars; ``act_kind`` a literal ``net.activation``; see :func:`sgd_steps`."""
    literally(act_kind)
    x, y, pre, f = batch
    x_next, y_next, pre_next = scratch.x, scratch.y, scratch.pre
    coef, xi = steps.coef, steps.xi
    n, n_p = theta.shape
    n_batch, d = x.shape
    buf = np.empty(d)
    residual = np.empty(n_batch, dtype=theta.dtype)
    grad_w = np.empty(n_batch, dtype=theta.dtype)
    f_next = np.empty(n_batch, dtype=theta.dtype)
    noise = np.zeros(n_p, dtype=theta.dtype)
    tabled = steps.noise_kind == NOISE_GAUSSIAN and n_p <= TABLE_MAX_PARAMS
    table = np.zeros((n if tabled else 0, 2 * ((n_p + 1) // 2) if tabled else 0), dtype=theta.dtype)
    zero = coef[3] - coef[3]  # typed like θ (keeps float32 kernels in float32)
    for s in range(steps.n_steps):
        k = steps.k0 + s
        sample_batch(keys.data, k + 1, x_next, y_next, law, buf)
        rate = coef[0] * xi[s]
        decay = coef[3] - rate * coef[1]
        per_sample = rate / n_batch
        draw = NoiseDraw(
            steps.noise_kind, keys.noise, k, n, coef[2] * math.sqrt(xi[s]), table
        )
        if tabled:
            fill_noise_table(draw)
        for b in range(n_batch):
            residual[b] = y[b] - f[b]
            f_next[b] = zero
        if n_batch == 1:
            f_next[0] = _single_sample_pass(
                theta, pre, pre_next, x[0], x_next[0], residual[0], decay, per_sample, zero,
                coef[3], noise, draw, net, act_kind,
            )  # fmt: skip
        else:
            _batch_pass(
                theta, pre, pre_next, x, x_next, residual, grad_w, f_next, decay, per_sample,
                zero, coef[3], noise, draw, net, act_kind,
            )  # fmt: skip
        for b in range(n_batch):
            f[b] = f_next[b] / n
            y[b] = y_next[b]
            for j in range(d):
                x[b, j] = x_next[b, j]
            for i in range(n):
                pre[i, b] = pre_next[i, b]


@njit(cache=True, fastmath=_FAST)
def _single_sample_pass(
    theta, pre, pre_next, x0, xn, residual, decay, per_sample, zero, one, noise, draw, net,
    act_kind,
):  # fmt: skip
    """B = 1: update every neuron and return ``Σ_i a_i σ(pre_next_i)`` (one pass over θ)."""
    n = theta.shape[0]
    d = x0.size
    has_a, has_b = net.has_a, net.has_b
    act_p = net.activation_params
    off = has_a + has_b
    f_next = zero
    typed = np.empty(1, dtype=theta.dtype)  # casts g to θ's dtype: no float64 in float32 loops
    for i in range(n):  # no array views inside this loop: each costs atomic refcounts
        z = pre[i, 0]
        a_old = theta[i, 0] if has_a else one
        typed[0] = per_sample * residual * a_old * activation_derivative(z, act_kind, act_p)
        g = typed[0]
        if draw.kind != NOISE_NONE:
            fill_noise(draw, i, noise)
        if has_a:
            theta[i, 0] = (
                decay * a_old + per_sample * residual * activation(z, act_kind, act_p) + noise[0]
            )
        acc = zero
        if has_b:
            acc = decay * theta[i, 1] + g + noise[1]
            theta[i, 1] = acc
        if draw.kind == NOISE_NONE:
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
    theta, pre, pre_next, x, x_next, residual, grad_w, f_next, decay, per_sample, zero, one,
    noise, draw, net, act_kind,
):  # fmt: skip
    """B > 1: update every neuron with the batch gradient; accumulate ``f_next (B,)``."""
    n = theta.shape[0]
    n_batch, d = x.shape
    has_a, has_b = net.has_a, net.has_b
    act_p = net.activation_params
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
        if draw.kind != NOISE_NONE:
            fill_noise(draw, i, noise)
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
