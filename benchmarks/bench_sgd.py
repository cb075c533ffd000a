"""Online SGD throughput: wgflow's fused kernel vs numpy and torch loops, measured in one run.

Problem: two-layer ReLU network ``(a, b, w)`` with d = 320, N = 800, one sample per step from
the anisotropic Gaussian mixture (s0 = 60, Δ = 0.5). Baselines (same update, same data law):

- ``numpy outer``: ``W += ε np.outer(g, x)`` (a new N×d temporary per step);
- ``numpy ger``: in-place BLAS rank-1 update (``scipy.linalg.blas.dger/sger``);
- ``torch mv+addr_``: hand-written gradients, ``torch.mv`` and in-place ``addr_``, at 1 and 2
  threads (skipped when torch is missing);
- noisy variants add ``√(2ε/β) g`` with ``g ~ N(0, I)`` per weight each step (numpy's
  generator), against wgflow's counter-based Gaussian and Rademacher increments.

Reported: steps/s, ratios against the numpy outer loop and against torch at the same thread
count, the weight traffic of the fused kernel (read + write of N·P weights per step) next to the
copy bandwidth of an equally sized array measured in the same run, replica scaling on all
cores, and numba's first-call compile time in a fresh process with a cold and a warm cache.

Run: ``python benchmarks/bench_sgd.py`` (about 2 minutes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy.linalg import blas

from wgflow.networks import GaussianMixture, NetworkModel
from wgflow.solvers import SGD

D, N, S0, DELTA, EPS, BETA = 320, 800, 60, 0.5, 1e-3, 100.0


def data() -> GaussianMixture:
    scales = np.ones((2, D))
    scales[0, :S0], scales[1, :S0] = 1 + DELTA, 1 - DELTA
    return GaussianMixture([1.0, -1.0], [0.5, 0.5], scales)


def initial(dtype):
    rng = np.random.default_rng(0)
    return (
        np.ones(N, dtype),
        np.zeros(N, dtype),
        (rng.standard_normal((N, D)) / np.sqrt(D)).astype(dtype),
    )


def samples(steps, dtype, seed=1):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, steps)
    scales = data().scales[labels]
    return (rng.standard_normal((steps, D)) * scales).astype(dtype), np.where(
        labels == 0, 1.0, -1.0
    )


def numpy_loop(steps, dtype, update, noise=False):
    a, b, w = initial(dtype)
    xs, ys = samples(steps, dtype)
    rng = np.random.default_rng(2)
    scale = np.sqrt(2 * EPS / BETA)
    start = time.perf_counter()
    for k in range(steps):
        x = xs[k]
        z = w @ x + b
        s = np.maximum(z, 0)
        r = ys[k] - (a * s).mean()
        g = r * a * (z > 0)
        a += EPS * r * s
        b += EPS * g
        update(w, g, x)
        if noise:
            w += scale * rng.standard_normal((N, D), dtype=dtype)
            a += scale * rng.standard_normal(N, dtype=dtype)
            b += scale * rng.standard_normal(N, dtype=dtype)
    return steps / (time.perf_counter() - start)


def outer_update(w, g, x):
    w += EPS * np.outer(g, x)


def ger_update(w, g, x):
    ger = blas.dger if w.dtype == np.float64 else blas.sger
    ger(EPS, x, g, a=w.T, overwrite_a=1)  # w.T is Fortran-ordered: in place


def torch_loop(steps, dtype, threads):
    import torch

    torch.set_num_threads(threads)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    a, b, w = (torch.from_numpy(v) for v in initial(dtype))
    xs, ys = samples(steps, dtype)
    xs = torch.from_numpy(xs)
    start = time.perf_counter()
    with torch.no_grad():
        for k in range(steps):
            x = xs[k]
            z = torch.mv(w, x).add_(b)
            s = torch.relu(z)
            r = float(ys[k]) - float(torch.dot(a, s)) / N
            g = (z > 0).to(tdtype).mul_(a).mul_(r)
            a.add_(s, alpha=EPS * r)
            b.add_(g, alpha=EPS)
            w.addr_(g, x, alpha=EPS)
    return steps / (time.perf_counter() - start)


def wgflow_rate(steps, dtype, beta=np.inf, noise="gaussian", replicas=1):
    model = NetworkModel(data(), "relu", "abw")
    sgd = SGD(
        model,
        n_neurons=N,
        step_size=EPS,
        seed=0,
        dtype=dtype,
        beta=beta,
        noise=noise,
        replicas=replicas,
    )
    state = sgd.initial_state(sgd.initial_weights())
    state = sgd.advance(state, 10 * EPS)  # compile / warm caches
    start = time.perf_counter()
    sgd.advance(state, (10 + steps) * EPS)
    return replicas * steps / (time.perf_counter() - start)


def copy_bandwidth(nbytes):
    a = np.random.default_rng(0).random(nbytes // 8)
    b = np.empty_like(a)
    reps = max(20, int(4e9 // nbytes))
    start = time.perf_counter()
    for _ in range(reps):
        np.copyto(b, a)
    return 2 * nbytes * reps / (time.perf_counter() - start) / 1e9


COMPILE_SNIPPET = """
import time, numpy as np
t0 = time.perf_counter()
from wgflow.networks import GaussianMixture, NetworkModel
from wgflow.solvers import SGD
t1 = time.perf_counter()
m = NetworkModel(GaussianMixture([1.0, -1.0], [0.5, 0.5], np.ones((2, 8))), "relu", "abw")
s = SGD(m, n_neurons=4, step_size=0.1, seed=0)
st = s.initial_state(s.initial_weights()); s.advance(st, 0.2)
print(f"{time.perf_counter() - t1:.2f}")
"""


def compile_times():
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        out = []
        for _ in range(2):
            proc = subprocess.run(
                [sys.executable, "-c", COMPILE_SNIPPET],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            out.append(float(proc.stdout.strip().splitlines()[-1]))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="steps for fast methods")
    args = parser.parse_args(argv)
    fast, slow, noisy = args.steps, max(args.steps // 10, 200), max(args.steps // 100, 50)
    try:
        import torch  # noqa: F401

        has_torch = True
    except ImportError:
        has_torch = False
    cores = os.cpu_count() or 1
    print(f"\nonline SGD, (a, b, w) ReLU, d = {D}, N = {N}, B = 1; {cores} cores\n")
    print(f"{'method':<34}{'dtype':>8}{'steps/s':>11}{'/ outer':>9}{'/ torch':>9}")
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        outer = numpy_loop(slow, dtype, outer_update)
        rows = [
            ("numpy outer (1 thread)", outer, None),
            ("numpy ger", numpy_loop(slow, dtype, ger_update), None),
        ]
        torch1 = torch2 = None
        if has_torch:
            torch1 = torch_loop(slow, dtype, 1)
            torch2 = torch_loop(slow, dtype, min(2, cores))
            rows += [
                ("torch mv+addr_ (1 thread)", torch1, None),
                (f"torch mv+addr_ ({min(2, cores)} threads)", torch2, None),
            ]
        clean = wgflow_rate(fast, dtype)
        rows.append(("wgflow SGD (1 replica, 1 thread)", clean, torch1))
        for label, rate, ref in rows:
            vs_torch = f"{rate / ref:.2f}" if ref else ""
            print(f"{label:<34}{name:>8}{rate:>11.0f}{rate / outer:>9.2f}{vs_torch:>9}")
        item = np.dtype(dtype).itemsize
        traffic = clean * 2 * N * (D + 2) * item / 1e9
        print(
            f"{'  weight traffic of the fused kernel':<34}{'':>8}{traffic:>10.1f} GB/s "
            f"(copy bandwidth, {N * (D + 2) * item / 1e6:.1f} MB array: "
            f"{copy_bandwidth(N * (D + 2) * item):.1f} GB/s; 256 MB: "
            f"{copy_bandwidth(256 << 20):.1f} GB/s)"
        )
        numpy_noisy = numpy_loop(noisy, dtype, ger_update, noise=True)
        gauss = wgflow_rate(fast // 10, dtype, beta=BETA)
        rade = wgflow_rate(fast // 4, dtype, beta=BETA, noise="rademacher")
        print(f"{'numpy ger + noise':<34}{name:>8}{numpy_noisy:>11.0f}")
        print(
            f"{'wgflow noisy, Gaussian':<34}{name:>8}{gauss:>11.0f}{gauss / numpy_noisy:>9.1f}"
            f"  ×numpy-noisy; {gauss / clean:.0%} of clean"
        )
        print(
            f"{'wgflow noisy, Rademacher':<34}{name:>8}{rade:>11.0f}{rade / numpy_noisy:>9.1f}"
            f"  ×numpy-noisy; {rade / clean:.0%} of clean"
        )
        if cores > 1:
            multi = wgflow_rate(fast, dtype, replicas=cores)
            print(
                f"{f'wgflow {cores} replicas (total)':<34}{name:>8}{multi:>11.0f}"
                f"{'':>9}  {multi / clean:.2f}× one replica"
            )
        print()
    cold, warm = compile_times()
    print(
        f"first-call JIT compile in a fresh process: {cold:.1f} s with a cold cache, "
        f"{warm:.1f} s with the cache warm (cache=True)"
    )


if __name__ == "__main__":
    main()
