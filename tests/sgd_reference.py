"""Plain numpy online SGD with the kernel's random streams (the reference for test_sgd)."""

import numpy as np

from wgflow.random import normals_numpy, rademacher_numpy, uniform_numpy


def sample_batch(data, key, step, batch):
    d = data.dim
    h = (d + 1) // 2
    s = np.uint64(step) * np.uint64(batch) + np.arange(batch, dtype=np.uint64)
    base = s * np.uint64(h + 1)
    u = uniform_numpy(key, (base + np.uint64(h)) * np.uint64(2))
    cls = np.minimum(
        np.searchsorted(np.cumsum(data.probabilities), u, side="right"), data.labels.size - 1
    )
    x = normals_numpy(key, base, d) * data.scales[cls]
    if data.rotation is not None:
        x = x @ data.rotation.T
    return x, data.labels[cls]


def reference_sgd(
    model,
    theta0,
    n_steps,
    eps,
    lam,
    beta,
    batch,
    key_data,
    key_noise,
    noise="gaussian",
    schedule=None,
):
    theta = np.array(theta0, dtype=np.float64)
    n, p = theta.shape
    has_a, has_b = model.has_a, model.has_b
    off = has_a + has_b
    act = model.activation
    x, y = sample_batch(model.data, key_data, 0, batch)
    for k in range(n_steps):
        xi = 1.0 if schedule is None else float(schedule(np.array([k * eps]))[0])
        a = theta[:, 0] if has_a else np.ones(n)
        pre = x @ theta[:, off:].T + (theta[:, 1] if has_b else 0.0)  # (B, N)
        residual = y - (a * act(pre)).mean(axis=1)  # (B,)
        coeff = residual[:, None] * a * act.derivative(pre)  # (B, N)
        grad = np.zeros_like(theta)
        if has_a:
            grad[:, 0] = (residual[:, None] * act(pre)).mean(axis=0)
        if has_b:
            grad[:, 1] = coeff.mean(axis=0)
        grad[:, off:] = coeff.T @ x / batch
        theta = theta + eps * xi * (grad - lam * theta)
        if np.isfinite(beta):
            scale = np.sqrt(2 * eps * xi / beta)
            ids = np.uint64(k) * np.uint64(n) + np.arange(n, dtype=np.uint64)
            if noise == "gaussian":
                g = normals_numpy(key_noise, ids * np.uint64((p + 1) // 2), p)
            else:
                words = (p + 63) // 64
                counters = ids[:, None] * np.uint64(64 * words) + np.arange(p, dtype=np.uint64)
                g = rademacher_numpy(key_noise, counters)
            theta = theta + scale * g
        x, y = sample_batch(model.data, key_data, k + 1, batch)
    return theta
