"""Fused one-pass online-SGD kernels for two-layer networks (numba), and their data samplers.

Layout: inside a kernel call the weights of a replica are held transposed, ``w (P, N)`` — one
row per parameter, the neurons along the row — so every loop runs across neurons and LLVM
vectorizes it whatever ``P``; the caller's ``θ (N, P)`` is transposed in and out once per
call (a call advances up to 2¹⁶ steps). Per step the weights are read and written once: row
``p`` is updated with step ``k``'s gradient and, while in cache, its contribution to the
pre-activations of the batch of step ``k + 1`` is accumulated (``B = 1``: eight rows per pass
over the neurons). Summation order is fixed by the code (not by threads), so a seed gives the
same bits on every run and thread count; random numbers (data and noise) are counter-based
(:mod:`wgflow.random`).

Counter layout (shared with the numpy reference in the tests; "pair ``c``" is the normal pair
of :func:`~wgflow.random.fill_normal_pairs`, word ``2c`` of the stream):

- sample ``s = k B + b`` of step ``k``: normals from pairs ``s (h + 1) + j // 2``
  (``h = ⌈d/2⌉``), class from uniform ``2 (s (h + 1) + h)``, key ``keys.data``; a teacher
  law's label noise from the first normal of pair ``s (h + 1) + h``;
- Gaussian noise of neuron ``i`` at step ``k``: pairs ``(k N + i) ⌈P/2⌉ + p // 2``;
  Rademacher noise: bit counter ``(k N + i) · 64 ⌈P/64⌉ + p``, key ``keys.noise``.

Data laws are two bundle types, :class:`MixtureLaw` and :class:`TeacherLaw`; numba compiles
the sampler for the type it is given (no run-time switch).
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit, prange
from numba.core import types
from numba.extending import overload

from wgflow.networks import ACTIVATION_KINDS
from wgflow.random import fill_normal_pairs, rademacher, uniform

NOISE_NONE, NOISE_GAUSSIAN, NOISE_RADEMACHER = 0, 1, 2
# activation ids: the ones NetworkModel's Activation.kind gives (compile-time constants)
RELU = ACTIVATION_KINDS["relu"]
TRUNCATED_RELU = ACTIVATION_KINDS["truncated_relu"]
SIGMOID = ACTIVATION_KINDS["sigmoid"]
TANH = ACTIVATION_KINDS["tanh"]
_FAST = {"contract", "reassoc", "nsz"}


def _bundle(name: str, summary: str, fields: list[tuple[str, str, str]]) -> type:
    """A namedtuple with a numpydoc docstring (``fields``: name, type, description)."""
    cls = namedtuple(name, [f[0] for f in fields])
    params = "\n".join(f"{n} : {t}\n    {d}" for n, t, d in fields)
    cls.__doc__ = f"{summary}\n\nParameters\n----------\n{params}\n"
    return cls


# Argument bundles (numba namedtuples: named fields, one type each, cached like arrays).
Network = _bundle("Network", "The architecture the kernels compile.", [
    ("activation", "int", "Activation id (``ACTIVATION_KINDS``)."),
    ("activation_params", "ndarray", "Knots then values of a piecewise-linear σ (else empty)."),
    ("has_a", "bool", "Whether the output weights ``a`` are trained."),
    ("has_b", "bool", "Whether the biases ``b`` are trained."),
])  # fmt: skip
MixtureLaw = _bundle("MixtureLaw", "Gaussian-mixture classes ``x = Q (s_c ⊙ g)``, label ``y_c``.", [
    ("labels", "ndarray, shape (K,)", "Class labels."),
    ("cumprob", "ndarray, shape (K,)", "Cumulative class probabilities."),
    ("scales", "ndarray, shape (K, d)", "Per-class standard deviations."),
    ("rotation", "ndarray, shape (d, d) or (0, 0)", "``Q`` (empty when unused)."),
    ("rotated", "bool", "Whether to apply ``Q``."),
])  # fmt: skip
TeacherLaw = _bundle(
    "TeacherLaw",
    "Teacher regression on ``x ~ N(0, I)``: ``y = (1/M) Σ_t a_t σ(⟨W_t, B x⟩ + b_t) + τ G``.",
    [
        ("basis", "ndarray, shape (k, d)", "``B``."),
        ("weights", "ndarray, shape (M, k)", "``W``."),
        ("a", "ndarray, shape (M,)", "Teacher output weights."),
        ("b", "ndarray, shape (M,)", "Teacher biases."),
        ("activation", "int", "The teacher's activation id."),
        ("params", "ndarray", "Its parameters (knots then values)."),
        ("label_noise", "float", "``τ``, the label-noise standard deviation."),
    ],
)
Streams = _bundle("Streams", "Counter-based stream keys, named so they cannot be swapped.", [
    ("data", "uint64 or ndarray, shape (R,)", "Key of the data stream (per replica)."),
    ("noise", "uint64 or ndarray, shape (R,)", "Key of the SGD noise."),
])  # fmt: skip
Batch = _bundle("Batch", "One batch per replica (a leading replica axis in sgd_steps).", [
    ("x", "ndarray, shape (B, d)", "Inputs."),
    ("y", "ndarray, shape (B,)", "Labels."),
    ("pre", "ndarray, shape (N, B)", "Pre-activations of every neuron."),
    ("f", "ndarray, shape (B,)", "Network outputs."),
])  # fmt: skip
Steps = _bundle("Steps", "The step rule of a chunk of steps.", [
    ("k0", "int", "First global step."),
    ("n_steps", "int", "Steps in the chunk."),
    ("coef", "ndarray, shape (4,)", "``[ε, λ, s, 1]`` with ``s = √(2ε/β)``."),
    ("xi", "ndarray, shape (n_steps,)", "The schedule ``ξ`` at each step."),
    ("noise_kind", "int", "``NOISE_NONE``, ``NOISE_GAUSSIAN`` or ``NOISE_RADEMACHER``."),
])  # fmt: skip
Rule = _bundle("Rule", "One step's update ``w ← decay w + rate · gradient + scale · noise``.", [
    ("decay", "float", "``1 − εξλ``."),
    ("per_sample", "float", "``εξ/B``."),
    ("scale", "float", "``s √ξ``, the noise's scale."),
    ("kind", "int", "The noise kind."),
    ("key", "uint64", "The noise stream's key."),
    ("step", "int", "The global step ``k`` (the noise counters)."),
    ("one", "float", "1 in the weights' dtype."),
])  # fmt: skip
Work = _bundle("Work", "A replica's working arrays, neurons last (see the module docstring).", [
    ("w", "ndarray, shape (P, N)", "The weights, transposed."),
    ("pre", "ndarray, shape (B, N)", "Pre-activations (accumulated in place for the next batch)."),
    ("sig", "ndarray, shape (B, N)", "``σ(pre)``."),
    ("der", "ndarray, shape (B, N)", "``σ′(pre)``."),
    ("grad", "ndarray, shape (B, N)", "Weight-row coefficients ``(εξ/B) r_b a_i σ′``."),
    ("residual", "ndarray, shape (B,)", "``y − f``."),
    ("nz", "ndarray, shape (2⌈P/2⌉, N) or (0, N)", "The step's unscaled noise (float32)."),
    ("n1", "ndarray, shape (⌈d/2⌉ + 1,)", "Sampler buffer (cosine normals)."),
    ("n2", "ndarray, shape (⌈d/2⌉ + 1,)", "Sampler buffer (sine normals)."),
    ("buf", "ndarray, shape (d,)", "Sampler buffer (one input)."),
])  # fmt: skip


# ---- activations -------------------------------------------------------------------------
@njit(cache=True, inline="always")
def activation(t, kind, p):
    """``σ(t)`` for activation id ``kind`` with parameters ``p`` (knots then values)."""
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


@njit(cache=True, fastmath=_FAST)
def activate_rows(pre, sig, der, kind, p):
    """``sig = σ(pre)`` and ``der = σ′(pre)`` (right derivative at kinks), all ``(B, N)``.

    Every loop runs across neurons (vectorized). A piecewise-linear ``σ`` with knots
    ``k_0 < … < k_{m−1}`` and values ``v_s`` is evaluated branch-free as
    ``v_0 + Σ_s slope_s (clamp(t, k_s, k_{s+1}) − k_s)`` — equal to the interpolant up to
    rounding — and ``σ′ = Σ_s slope_s [k_s ≤ t < k_{s+1}]``.
    """
    n_batch, n = pre.shape
    for b in range(n_batch):
        if kind == RELU:
            for i in range(n):
                t = pre[b, i]
                sig[b, i] = t if t > 0.0 else 0.0 * t
                der[b, i] = 1.0 if t > 0.0 else 0.0
        elif kind == TRUNCATED_RELU:
            for i in range(n):
                t = pre[b, i]
                sig[b, i] = min(max(t, 0.0 * t), 1.0 + 0.0 * t)
                der[b, i] = 1.0 if (t > 0.0 and t < 1.0) else 0.0
        elif kind == SIGMOID or kind == TANH:
            for i in range(n):
                th = math.tanh(pre[b, i])
                if kind == SIGMOID:
                    sig[b, i] = 0.5 * (1.0 + th)
                    der[b, i] = 0.5 * (1.0 - th * th)
                else:
                    sig[b, i] = th
                    der[b, i] = 1.0 - th * th
        else:
            m = p.size // 2
            for i in range(n):
                sig[b, i] = p[m]
                der[b, i] = 0.0 * p[m]
            for s in range(m - 1):
                lo, hi = p[s], p[s + 1]
                slope = (p[m + s + 1] - p[m + s]) / (hi - lo)
                for i in range(n):
                    t = pre[b, i]
                    c = min(max(t, lo), hi)
                    sig[b, i] += slope * (c - lo)
                    der[b, i] += slope if (t >= lo and t < hi) else 0.0 * slope


# ---- data laws: one sampler per bundle type, chosen at compile time -----------------------
@njit(cache=True)
def _sample_mixture(key, step, x, y, law, work):
    labels, cumprob, scales, rotation = law.labels, law.cumprob, law.scales, law.rotation
    n1, n2, buf = work.n1, work.n2, work.buf
    n_batch, d = x.shape
    h = (d + 1) // 2
    for b in range(n_batch):
        base = (np.uint64(step) * np.uint64(n_batch) + np.uint64(b)) * np.uint64(h + 1)
        u = uniform(key, (base + np.uint64(h)) * np.uint64(2))
        c = 0
        while c < cumprob.size - 1 and u >= cumprob[c]:
            c += 1
        y[b] = labels[c]
        fill_normal_pairs(key, base, np.uint64(1), n1[:h], n2[:h])
        for jj in range(h):
            buf[2 * jj] = n1[jj] * scales[c, 2 * jj]
            if 2 * jj + 1 < d:
                buf[2 * jj + 1] = n2[jj] * scales[c, 2 * jj + 1]
        if law.rotated:
            for j in range(d):
                acc = 0.0
                for m in range(d):
                    acc += rotation[j, m] * buf[m]
                x[b, j] = acc
        else:
            for j in range(d):
                x[b, j] = buf[j]


@njit(cache=True)
def _sample_teacher(key, step, x, y, law, work):
    basis, weights = law.basis, law.weights
    n1, n2, buf = work.n1, work.n2, work.buf
    n_batch, d = x.shape
    h = (d + 1) // 2
    k, m = basis.shape[0], weights.shape[0]
    proj = np.empty(k)
    for b in range(n_batch):
        base = (np.uint64(step) * np.uint64(n_batch) + np.uint64(b)) * np.uint64(h + 1)
        fill_normal_pairs(key, base, np.uint64(1), n1[: h + 1], n2[: h + 1])  # h: label noise
        for jj in range(h):
            buf[2 * jj] = n1[jj]
            if 2 * jj + 1 < d:
                buf[2 * jj + 1] = n2[jj]
        for j in range(d):
            x[b, j] = buf[j]
        for l in range(k):  # noqa: E741
            acc = 0.0
            for j in range(d):
                acc += basis[l, j] * buf[j]
            proj[l] = acc
        total = 0.0
        for t in range(m):
            z = law.b[t]
            for l in range(k):  # noqa: E741
                z += weights[t, l] * proj[l]
            total += law.a[t] * activation(z, law.activation, law.params)
        y[b] = total / m + law.label_noise * n1[h]


def sample_batch(key, step, x, y, law, work) -> None:
    """Fill ``x`` and ``y`` with the samples of global step ``step`` (compiled code only).

    Parameters
    ----------
    key : uint64
        The data stream's key.
    step : int
        Global step (the counters).
    x : ndarray, shape (B, d)
        Receives the inputs.
    y : ndarray, shape (B,)
        Receives the labels.
    law : MixtureLaw or TeacherLaw
        The data law; numba compiles the sampler for its type.
    work : Work
        The sampler's buffers.
    """
    raise NotImplementedError("sample_batch is called from compiled kernels")


@overload(sample_batch, jit_options={"cache": True})
def _sample_batch_for(key, step, x, y, law, work):
    if isinstance(law, types.BaseNamedTuple) and law.instance_class is MixtureLaw:
        return lambda key, step, x, y, law, work: _sample_mixture(key, step, x, y, law, work)
    if isinstance(law, types.BaseNamedTuple) and law.instance_class is TeacherLaw:
        return lambda key, step, x, y, law, work: _sample_teacher(key, step, x, y, law, work)
    raise TypeError(f"law: need a MixtureLaw or TeacherLaw bundle, got {law}")


@njit(cache=True)
def _work(n_p, n, n_batch, d, like, noisy):
    """A replica's :class:`Work` arrays, typed like the array ``like``."""
    dt = like.dtype
    h = (d + 1) // 2
    return Work(
        np.empty((n_p, n), dt), np.empty((n_batch, n), dt), np.empty((n_batch, n), dt),
        np.empty((n_batch, n), dt), np.empty((n_batch, n), dt), np.empty(n_batch, dt),
        np.zeros((2 * ((n_p + 1) // 2) if noisy else 0, n), np.float32), np.empty(h + 1),
        np.empty(h + 1), np.empty(d),
    )  # fmt: skip


@njit(cache=True)  # once per run: serial (a parallel region costs seconds of compilation)
def initialize_batch(theta, batch, step, net, law, keys_data):
    """Sample the batch of ``step`` and compute its pre-activations and outputs (one pass).

    ``theta (R, N, P)``; ``batch`` holds ``(R, …)`` arrays; ``keys_data (R,)``.
    """
    n_rep, n, n_p = theta.shape
    n_batch, d = batch.x.shape[1], batch.x.shape[2]
    off = net.has_a + net.has_b
    x, pre, f = batch.x, batch.pre, batch.f
    work = _work(n_p, 1, 1, d, theta, False)
    for r in range(n_rep):
        sample_batch(keys_data[r], step, x[r], batch.y[r], law, work)
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


# ---- the step kernels --------------------------------------------------------------------
@njit(cache=True, parallel=True)
def sgd_steps(theta, batch, scratch, steps, net, law, keys):
    """Advance every replica ``steps.n_steps`` online-SGD steps from global step ``steps.k0``.

    ``θ_i ← (1 − εξλ) θ_i + (εξ/B) Σ_b (y_b − f(x_b)) ∇_θ σ*(x_b; θ_i) + s √ξ g_i`` with
    ``steps.coef = [ε, λ, s, 1]`` (``s = √(2ε/β)``) and ``steps.xi`` the schedule at steps
    ``k0 …``. ``theta (R, N, P)``; ``batch`` and ``scratch`` are :class:`Batch` bundles of
    ``(R, …)`` arrays (``scratch`` receives the next batch; its ``pre`` and ``f`` are unused);
    ``keys`` a :class:`Streams` of ``(R,)`` keys; ``law`` a :class:`MixtureLaw` or
    :class:`TeacherLaw`. On entry ``batch`` holds the batch of step ``k0`` (from
    :func:`initialize_batch` or the previous call); on exit the batch of step
    ``k0 + n_steps``. Replicas run in parallel; each runs the serial kernel
    :func:`replica_steps`.
    """
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
        )


@njit(cache=True, fastmath=_FAST)
def replica_steps(theta, batch, scratch, steps, net, law, keys):
    """One replica: ``theta (N, P)``, ``batch.x (B, d)``, ``batch.pre (N, B)``; keys are
    scalars; see :func:`sgd_steps`.

    Per step: residuals; :func:`head_pass` (``σ′`` coefficients, heads ``a``, ``b``); the
    next batch is sampled; :func:`weight_pass` updates the rows of ``w`` and accumulates the
    next pre-activations; :func:`activate_rows` and the outputs ``f``. The activation is
    evaluated once per neuron and sample in its own loop, so its id is a run-time value (one
    compiled kernel for all activations; a branch per loop, not per weight).
    """
    x, y, f = batch.x, batch.y, batch.f
    x_next, y_next = scratch.x, scratch.y
    coef, xi = steps.coef, steps.xi
    n, n_p = theta.shape
    n_batch, d = x.shape
    one = coef[3]
    work = _work(n_p, n, n_batch, d, theta, steps.noise_kind != NOISE_NONE)
    w, pre = work.w, work.pre
    for p in range(n_p):  # transpose in: (N, P) → (P, N)
        for i in range(n):
            w[p, i] = theta[i, p]
    for b in range(n_batch):
        for i in range(n):
            pre[b, i] = batch.pre[i, b]
    activate_rows(pre, work.sig, work.der, net.activation, net.activation_params)
    for s in range(steps.n_steps):
        k = steps.k0 + s
        rate = coef[0] * xi[s]
        rule = Rule(
            one - rate * coef[1], rate / n_batch, coef[2] * np.sqrt(xi[s]), steps.noise_kind,
            keys.noise, k, one,
        )  # fmt: skip
        for b in range(n_batch):
            work.residual[b] = y[b] - f[b]
        head_pass(work, rule, net)
        sample_batch(keys.data, k + 1, x_next, y_next, law, work)
        weight_pass(work, x, x_next, rule, net)
        activate_rows(pre, work.sig, work.der, net.activation, net.activation_params)
        for b in range(n_batch):
            f[b] = _output(work, b, net) / n
            y[b] = y_next[b]
            for j in range(d):
                x[b, j] = x_next[b, j]
    for i in range(n):  # transpose out
        for p in range(n_p):
            theta[i, p] = w[p, i]
        for b in range(n_batch):
            batch.pre[i, b] = pre[b, i]


@njit(cache=True, fastmath=_FAST, inline="always")
def _output(work, b, net):
    """``Σ_i a_i σ(pre_{b,i})`` (``a_i = 1`` without an ``a`` head)."""
    w, sig = work.w, work.sig
    n = sig.shape[1]
    total = 0.0 * sig[b, 0]
    if net.has_a:
        for i in range(n):
            total += w[0, i] * sig[b, i]
    else:
        for i in range(n):
            total += sig[b, i]
    return total


@njit(cache=True, fastmath=_FAST, inline="always")
def head_pass(work, rule, net):
    """The coefficients ``grad[b, i] = (ε ξ/B) r_b a_i σ′(pre_{b,i})`` of the weight rows, and
    the heads: ``a ← decay a + (εξ/B) Σ_b r_b σ(pre_b)``, ``b ← decay b + Σ_b grad_b`` (their
    noise is added by :func:`weight_pass`)."""
    w, sig, der, grad, residual = work.w, work.sig, work.der, work.grad, work.residual
    n_batch, n = grad.shape
    for b in range(n_batch):
        rb = rule.per_sample * residual[b]
        if net.has_a:
            for i in range(n):
                grad[b, i] = rb * w[0, i] * der[b, i]
        else:
            for i in range(n):
                grad[b, i] = rb * der[b, i]
    if net.has_a:
        for i in range(n):
            w[0, i] = rule.decay * w[0, i]
        for b in range(n_batch):
            rb = rule.per_sample * residual[b]
            for i in range(n):
                w[0, i] += rb * sig[b, i]
    if net.has_b:
        for i in range(n):
            w[1, i] = rule.decay * w[1, i]
        for b in range(n_batch):
            for i in range(n):
                w[1, i] += grad[b, i]


@njit(cache=True, error_model="numpy")
def fill_noise_rows(rule, n_params, q, nz1, nz2):
    """The noise of parameters ``2q`` and ``2q + 1`` of every neuron at step ``rule.step``
    into ``nz1``, ``nz2 (N,)`` (float32; unscaled)."""
    n = nz1.size
    if rule.kind == NOISE_GAUSSIAN:
        hp = np.uint64((n_params + 1) // 2)
        first = np.uint64(rule.step) * np.uint64(n) * hp + np.uint64(q)
        fill_normal_pairs(rule.key, first, hp, nz1, nz2)
    else:
        words = np.uint64(64 * ((n_params + 63) // 64))
        base = np.uint64(rule.step) * np.uint64(n) * words + np.uint64(2 * q)
        for i in range(n):
            c = base + np.uint64(i) * words
            nz1[i] = rademacher(rule.key, c)
            nz2[i] = rademacher(rule.key, c + np.uint64(1))


@njit(cache=True, fastmath=_FAST)
def weight_pass(work, x, x_next, rule, net):
    """Update the weight rows (gradient, decay, noise; the heads' noise) and accumulate the
    next batch's pre-activations in ``work.pre`` — one read and one write of ``w``."""
    w, pre, grad, nz = work.w, work.pre, work.grad, work.nz
    n_p, n = w.shape
    n_batch, d = x.shape
    off = net.has_a + net.has_b
    decay, scale = rule.decay, rule.scale
    if rule.kind == NOISE_NONE:
        _start_pre(work, net)
        if n_batch == 1:
            _rows_single(w, pre, grad, x, x_next, off, 0, d, decay)
        else:
            for j in range(d):
                _row_batch(w, pre, grad, x, x_next, off + j, j, decay)
        return
    for q in range((n_p + 1) // 2):  # the whole step's noise first (one call per row pair)
        fill_noise_rows(rule, n_p, q, nz[2 * q], nz[2 * q + 1])
    for p in range(off):  # the heads (their gradient step is done): their noise
        for i in range(n):
            w[p, i] += scale * nz[p, i]
    _start_pre(work, net)
    if n_batch == 1:
        _rows_single_noisy(w, pre, grad, x, x_next, nz, off, d, decay, scale)
    else:
        for j in range(d):
            r = off + j
            for i in range(n):
                w[r, i] = decay * w[r, i] + scale * nz[r, i]
            _row_batch(w, pre, grad, x, x_next, r, j, rule.one)


@njit(cache=True, fastmath=_FAST)
def _start_pre(work, net):
    """``pre[b, i] = b_i`` (the updated bias) or 0: the start of the next pre-activations."""
    w, pre = work.w, work.pre
    n_batch, n = pre.shape
    for b in range(n_batch):
        if net.has_b:
            for i in range(n):
                pre[b, i] = w[1, i]
        else:
            for i in range(n):
                pre[b, i] = 0.0 * w[0, i]


@njit(cache=True, fastmath=_FAST, inline="always")
def _rows_single(w, pre, grad, x, x_next, off, j0, j1, decay):
    """``B = 1``: rows ``off + j`` for ``j0 ≤ j < j1``, ``w_j ← decay w_j + grad x_j``,
    ``pre += w_j x'_j``; eight rows per pass over the neurons (the coefficient and accumulator
    rows are loaded once per eight weight rows). Without weight decay (``decay = 1``) the
    multiplication is skipped: the pass is two fused multiply-adds per weight, and at these
    sizes the floating-point throughput, not the cache, bounds it."""
    if decay == 1.0:
        _rows_single_unscaled(w, pre, grad, x, x_next, off, j0, j1)
        return
    n = w.shape[1]
    j = j0
    while j + 8 <= j1:
        r = off + j
        c0, c1, c2, c3 = x[0, j], x[0, j + 1], x[0, j + 2], x[0, j + 3]
        c4, c5, c6, c7 = x[0, j + 4], x[0, j + 5], x[0, j + 6], x[0, j + 7]
        e0, e1, e2, e3 = x_next[0, j], x_next[0, j + 1], x_next[0, j + 2], x_next[0, j + 3]
        e4, e5, e6, e7 = x_next[0, j + 4], x_next[0, j + 5], x_next[0, j + 6], x_next[0, j + 7]
        for i in range(n):
            g = grad[0, i]
            w0 = decay * w[r, i] + g * c0
            w1 = decay * w[r + 1, i] + g * c1
            w2 = decay * w[r + 2, i] + g * c2
            w3 = decay * w[r + 3, i] + g * c3
            w4 = decay * w[r + 4, i] + g * c4
            w5 = decay * w[r + 5, i] + g * c5
            w6 = decay * w[r + 6, i] + g * c6
            w7 = decay * w[r + 7, i] + g * c7
            w[r, i] = w0
            w[r + 1, i] = w1
            w[r + 2, i] = w2
            w[r + 3, i] = w3
            w[r + 4, i] = w4
            w[r + 5, i] = w5
            w[r + 6, i] = w6
            w[r + 7, i] = w7
            pre[0, i] += ((w0 * e0 + w1 * e1) + (w2 * e2 + w3 * e3)) + (
                (w4 * e4 + w5 * e5) + (w6 * e6 + w7 * e7)
            )
        j += 8
    while j < j1:
        r = off + j
        c0, e0 = x[0, j], x_next[0, j]
        for i in range(n):
            w0 = decay * w[r, i] + grad[0, i] * c0
            w[r, i] = w0
            pre[0, i] += w0 * e0
        j += 1


@njit(cache=True, fastmath=_FAST, inline="always")
def _rows_single_unscaled(w, pre, grad, x, x_next, off, j0, j1):
    """:func:`_rows_single` with ``decay = 1``."""
    n = w.shape[1]
    j = j0
    while j + 8 <= j1:
        r = off + j
        c0, c1, c2, c3 = x[0, j], x[0, j + 1], x[0, j + 2], x[0, j + 3]
        c4, c5, c6, c7 = x[0, j + 4], x[0, j + 5], x[0, j + 6], x[0, j + 7]
        e0, e1, e2, e3 = x_next[0, j], x_next[0, j + 1], x_next[0, j + 2], x_next[0, j + 3]
        e4, e5, e6, e7 = x_next[0, j + 4], x_next[0, j + 5], x_next[0, j + 6], x_next[0, j + 7]
        for i in range(n):
            g = grad[0, i]
            w0 = w[r, i] + g * c0
            w1 = w[r + 1, i] + g * c1
            w2 = w[r + 2, i] + g * c2
            w3 = w[r + 3, i] + g * c3
            w4 = w[r + 4, i] + g * c4
            w5 = w[r + 5, i] + g * c5
            w6 = w[r + 6, i] + g * c6
            w7 = w[r + 7, i] + g * c7
            w[r, i] = w0
            w[r + 1, i] = w1
            w[r + 2, i] = w2
            w[r + 3, i] = w3
            w[r + 4, i] = w4
            w[r + 5, i] = w5
            w[r + 6, i] = w6
            w[r + 7, i] = w7
            pre[0, i] += ((w0 * e0 + w1 * e1) + (w2 * e2 + w3 * e3)) + (
                (w4 * e4 + w5 * e5) + (w6 * e6 + w7 * e7)
            )
        j += 8
    while j < j1:
        r = off + j
        c0, e0 = x[0, j], x_next[0, j]
        for i in range(n):
            w0 = w[r, i] + grad[0, i] * c0
            w[r, i] = w0
            pre[0, i] += w0 * e0
        j += 1


@njit(cache=True, fastmath=_FAST, inline="always")
def _rows_single_noisy(w, pre, grad, x, x_next, nz, off, d, decay, scale):
    """``B = 1``, noisy: ``w_j ← decay w_j + grad x_j + scale nz_j``, ``pre += w_j x'_j`` for
    the weight rows ``off + j``, four rows per pass over the neurons."""
    n = w.shape[1]
    j = 0
    while j + 4 <= d:
        r = off + j
        c0, c1, c2, c3 = x[0, j], x[0, j + 1], x[0, j + 2], x[0, j + 3]
        e0, e1, e2, e3 = x_next[0, j], x_next[0, j + 1], x_next[0, j + 2], x_next[0, j + 3]
        for i in range(n):
            g = grad[0, i]
            w0 = decay * w[r, i] + g * c0 + scale * nz[r, i]
            w1 = decay * w[r + 1, i] + g * c1 + scale * nz[r + 1, i]
            w2 = decay * w[r + 2, i] + g * c2 + scale * nz[r + 2, i]
            w3 = decay * w[r + 3, i] + g * c3 + scale * nz[r + 3, i]
            w[r, i] = w0
            w[r + 1, i] = w1
            w[r + 2, i] = w2
            w[r + 3, i] = w3
            pre[0, i] += (w0 * e0 + w1 * e1) + (w2 * e2 + w3 * e3)
        j += 4
    while j < d:
        r = off + j
        c0, e0 = x[0, j], x_next[0, j]
        for i in range(n):
            w0 = decay * w[r, i] + grad[0, i] * c0 + scale * nz[r, i]
            w[r, i] = w0
            pre[0, i] += w0 * e0
        j += 1


@njit(cache=True, fastmath=_FAST, inline="always")
def _row_batch(w, pre, grad, x, x_next, r, j, decay):
    """``B > 1``: row ``r`` (input ``j``): ``w_r ← decay w_r + Σ_b grad_b x_{b,j}``, then
    ``pre_b += w_r x'_{b,j}`` (the row stays in cache across the batch loops)."""
    n_batch, n = grad.shape
    for i in range(n):
        w[r, i] = decay * w[r, i]
    for b in range(n_batch):
        c = x[b, j]
        for i in range(n):
            w[r, i] += grad[b, i] * c
    for b in range(n_batch):
        e = x_next[b, j]
        for i in range(n):
            pre[b, i] += w[r, i] * e
