import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from scipy.stats import ortho_group

from wgflow.networks import Activation, GaussianMixture, NetworkModel
from wgflow.solvers import SGD

from .sgd_reference import reference_sgd, sample_batch

NONMONOTONE = Activation.piecewise_linear([-1.0, 0.0, 0.5, 1.5], [0.0, 1.0, -0.5, 0.3])


def anisotropic(d=7, s0=3, delta=0.5, rotated=False, seed=0):
    scales = np.ones((2, d))
    scales[0, :s0], scales[1, :s0] = 1 + delta, 1 - delta
    rotation = ortho_group.rvs(d, random_state=seed) if rotated else None
    return GaussianMixture([1.0, -1.0], [0.5, 0.5], scales, rotation)


def run_kernel(sgd, theta0, n_steps):
    state = sgd.initial_state(np.asarray(theta0)[None])
    state = sgd.advance(state, n_steps * sgd.step_size)
    assert state.k == n_steps
    return state.theta[0]


CASES = [
    ("w", "relu", 1, False),
    ("aw", "truncated_relu", 1, False),
    ("abw", "sigmoid", 1, True),
    ("abw", "tanh", 3, False),
    ("aw", NONMONOTONE, 2, True),
    ("w", "sigmoid", 4, False),
    ("abw", "relu", 1, False),
]


@pytest.mark.parametrize(("params", "activation", "batch", "rotated"), CASES)
def test_sgd_matches_numpy_reference_step_for_step(params, activation, batch, rotated):
    model = NetworkModel(anisotropic(rotated=rotated), activation, params)
    sgd = SGD(
        model,
        n_neurons=6,
        step_size=0.05,
        seed=3,
        weight_decay=0.1,
        beta=50.0,
        batch_size=batch,
        schedule=lambda t: 1.0 / (1.0 + t),
    )
    theta0 = sgd.initial_weights()[0]
    got = run_kernel(sgd, theta0, 40)
    want = reference_sgd(
        model,
        theta0,
        40,
        0.05,
        0.1,
        50.0,
        batch,
        sgd.streams.data[0],
        sgd.streams.noise[0],
        schedule=lambda t: 1.0 / (1.0 + t),
    )
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert np.abs(got - theta0).max() > 1e-3  # the weights did move


@pytest.mark.parametrize("noise", ["gaussian", "rademacher"])
def test_sgd_noise_streams_match_reference(noise):
    model = NetworkModel(anisotropic(d=70), "relu", "abw")  # P = 72 > 64 exercises two words
    sgd = SGD(model, n_neurons=5, step_size=0.02, seed=1, beta=10.0, noise=noise)
    theta0 = sgd.initial_weights()[0]
    want = reference_sgd(
        model, theta0, 10, 0.02, 0.0, 10.0, 1, *(k[0] for k in sgd.streams), noise=noise
    )
    np.testing.assert_allclose(run_kernel(sgd, theta0, 10), want, rtol=1e-12, atol=1e-12)


def test_sgd_float32_within_1e5_of_float64():
    model = NetworkModel(anisotropic(d=40, s0=10), "tanh", "abw")
    kw = dict(n_neurons=50, step_size=0.01, seed=2, batch_size=2)
    theta0 = SGD(model, **kw).initial_weights()[0]
    f64 = run_kernel(SGD(model, **kw), theta0, 200)
    f32 = run_kernel(SGD(model, dtype="float32", **kw), theta0, 200)
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, f64, rtol=1e-5, atol=1e-5 * np.abs(f64).max())


def test_kernel_data_stream_has_the_mixture_law():
    data = anisotropic(d=6, s0=2, delta=0.5)
    x, y = sample_batch(data, np.uint64(7), 0, 40_000)
    assert abs(y.mean()) < 4 / np.sqrt(40_000)
    for label, factor in ((1.0, 1.5), (-1.0, 0.5)):
        var = x[y == label].var(axis=0)
        np.testing.assert_allclose(var[:2], factor**2, rtol=0.05)
        np.testing.assert_allclose(var[2:], 1.0, rtol=0.05)


def zero_data_model(dim):
    # x = 0 and y = 0: the loss gradient vanishes and weight decay λ = 1 is the drift −∇|θ|²/2
    return NetworkModel(GaussianMixture([0.0], [1.0], np.zeros((1, dim))), "relu", "w")


@pytest.mark.parametrize("noise", ["gaussian", "rademacher"])
def test_sgd_noise_matches_diffusion_coefficient(noise):
    # stationary variance of θ ← (1 − ε)θ + √(2ε/β) g is 1/(β(1 − ε/2)); β = 4, ε = 0.01
    sgd = SGD(
        zero_data_model(2),
        n_neurons=20_000,
        step_size=0.01,
        seed=5,
        weight_decay=1.0,
        beta=4.0,
        noise=noise,
        record_weights=True,
    )
    ds = sgd.run(t_final=6.0, save_every=3.0, progress=False)
    var = float(ds["positions"].isel(time=-1).var())
    assert var == pytest.approx(0.25 / (1 - 0.005), rel=0.03)


def test_rademacher_noise_gives_the_same_risk_curve_as_gaussian():
    model = NetworkModel(anisotropic(d=20, s0=5), "relu", "w")
    curves = {}
    for noise, beta in (("gaussian", 20.0), ("rademacher", 20.0), ("gaussian", np.inf)):
        sgd = SGD(
            model,
            n_neurons=200,
            step_size=0.02,
            seed=11,
            beta=beta,
            noise=noise,
            replicas=4,
            test_size=4000,
        )
        curves[noise, beta] = sgd.run(None, 4.0, save_every=1.0, progress=False)["risk"].values
    g, r, clean = curves["gaussian", 20.0], curves["rademacher", 20.0], curves["gaussian", np.inf]
    # means over 4 replicas agree within 4 standard errors (+ the held-out set's resolution)
    tolerance = 4 * np.maximum(g.std(axis=1), r.std(axis=1)) / np.sqrt(4) + 2e-3
    assert np.all(np.abs(g.mean(axis=1) - r.mean(axis=1)) < tolerance)
    # and the noise matters: the noiseless curve is far from both
    assert np.abs(clean.mean(axis=1) - g.mean(axis=1))[-1] > 5 * tolerance[-1]


def full_batch_gd(model, theta0, n_steps, eps, x, y):
    theta = theta0.copy()
    off = model.has_a + model.has_b
    for _ in range(n_steps):
        pre = x @ theta[:, off:].T
        residual = y - model.activation(pre).mean(axis=1)
        coeff = residual[:, None] * model.activation.derivative(pre)
        theta[:, off:] += eps * coeff.T @ x / len(y)
    return theta


def test_large_batches_approach_gradient_descent_on_the_population_risk():
    # population risk approximated by 200 000 fixed samples (error ~2e-3 in the gradient)
    model = NetworkModel(anisotropic(d=10, s0=4), "tanh", "w")
    x, y = model.data.sample(200_000, np.random.default_rng(0))
    eps, steps = 0.05, 40
    sgd0 = SGD(model, n_neurons=20, step_size=eps, seed=4)
    theta0 = sgd0.initial_weights()[0]
    gd = full_batch_gd(model, theta0, steps, eps, x, y)
    errors = []
    for batch in (16, 256, 4096):
        sgd = SGD(model, n_neurons=20, step_size=eps, seed=4, batch_size=batch)
        errors.append(np.linalg.norm(run_kernel(sgd, theta0, steps) - gd))
    moved = np.linalg.norm(gd - theta0)
    # the SGD gradient noise is O(B^{-1/2}): 16× larger batches, ~4× smaller deviation
    ratios = np.array(errors[:-1]) / errors[1:]
    assert np.all(ratios > 2.5) and errors[2] < 0.1 * moved, (errors, moved)


def test_same_seed_same_bits_whatever_the_thread_count():
    model = NetworkModel(anisotropic(d=12), "relu", "abw")
    results = []
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        sgd = SGD(
            model,
            n_neurons=30,
            step_size=0.01,
            seed=9,
            beta=30.0,
            replicas=3,
            record_weights=True,
        )
        results.append(sgd.run(None, 1.0, 0.5, progress=False))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    np.testing.assert_array_equal(results[0]["positions"], results[1]["positions"])
    p = results[0]["positions"].isel(time=-1).values
    assert not np.array_equal(p[0], p[1])  # replicas are independent


def test_run_records_risk_reduced_coordinates_and_schema():
    def reduced(theta):
        return {
            "r1": np.linalg.norm(theta[:, :3], axis=1),
            "r2": np.linalg.norm(theta[:, 3:], axis=1),
        }

    model = NetworkModel(anisotropic(d=7, s0=3), "relu", "w", reduced_coordinates=reduced)
    ds = SGD(model, n_neurons=40, step_size=0.01, seed=0).run(
        None, 2.0, save_every=0.01, spacing="log", progress=False
    )
    # 51 log-spaced times from ε = 0.01, each at most once per step
    assert 30 < ds.sizes["time"] <= 51 and ds["time"][-1] == pytest.approx(2.0)
    assert np.all(np.diff(ds["time"]) > 0)
    assert ds["r1"].dims == ("time", "particle") and ds.attrs["test_size"] == 2000
    assert ds["risk"][-1] < ds["risk"][0]
    index = {"particle", "replica", "component"}  # labels, not quantities: no units (CF)
    for var in ds.variables:
        assert {"units", "long_name"} <= set(ds[var].attrs) or var in index, var
        assert "long_name" in ds[var].attrs
    for var in index & set(ds.coords):
        assert "units" not in ds[var].attrs, var


def test_exact_population_risk_is_used_when_given():
    model = NetworkModel(
        anisotropic(), "relu", "w", population_risk=lambda th: float(np.sum(th**2))
    )
    sgd = SGD(model, n_neurons=5, step_size=0.01, seed=0, record_weights=True)
    ds = sgd.run(None, 0.1, 0.05, progress=False)
    np.testing.assert_allclose(ds["risk"], (ds["positions"] ** 2).sum(("particle", "component")))
    assert ds.attrs["risk_estimator"] == "exact"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_neurons": 0}, "n_neurons"),
        ({"step_size": 0.0}, "step_size"),
        ({"step_size": -1.0}, "step_size"),
        ({"beta": 0.0}, "beta"),
        ({"beta": -2.0}, "beta"),
        ({"batch_size": 0}, "batch_size"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"dtype": "float16"}, "dtype"),
        ({"noise": "uniform"}, "noise"),
        ({"replicas": 0}, "replicas"),
        ({"stepsize": 0.1}, "stepsize"),
    ],
)
def test_bad_sgd_input_names_the_parameter(kwargs, match):
    base = {"n_neurons": 4, "step_size": 0.1}
    with pytest.raises(ValueError, match=match):
        SGD(NetworkModel(anisotropic(), "relu", "w"), **{**base, **kwargs})


def test_bad_weights_and_activations_are_refused():
    sgd = SGD(NetworkModel(anisotropic(), "relu", "w"), n_neurons=4, step_size=0.1)
    with pytest.raises(ValueError, match="theta0"):
        sgd.run(np.zeros((4, 3)), 1.0, progress=False)
    with pytest.raises(ValueError, match="theta0"):
        sgd.run(np.full((4, 7), np.nan), 1.0, progress=False)
    with pytest.raises(ValueError, match="activation"):
        NetworkModel(anisotropic(), "swish", "w")
    with pytest.raises(ValueError, match="trained"):
        NetworkModel(anisotropic(), "relu", "wb")
    with pytest.raises(ValueError, match="knots"):
        Activation.piecewise_linear([1.0, 0.0], [0.0, 1.0])


CACHE_PROBE = """
import numpy as np
from wgflow.networks import GaussianMixture, NetworkModel
from wgflow.solvers import SGD, sgd_kernels
model = NetworkModel(GaussianMixture([1.0, -1.0], [0.5, 0.5], [[1.5, 1], [0.5, 1]]), "relu", "abw")
SGD(model, n_neurons=3, step_size=0.01, seed=0, beta=50.0).run(None, 0.05, progress=False)
kernels = (sgd_kernels.initialize_batch, sgd_kernels.sgd_steps)
print(sum(k.stats.cache_hits.total() for k in kernels),
      sum(k.stats.cache_misses.total() for k in kernels))
"""


def test_bundled_kernels_load_from_the_cache_in_a_new_process(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    counts = []
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-c", CACHE_PROBE], capture_output=True, text=True, env=env
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        counts.append(tuple(map(int, proc.stdout.split())))
    (hits0, misses0), (hits1, misses1) = counts
    assert misses0 > 0 and hits0 == 0  # the first process compiles and writes the cache
    assert misses1 == 0 and hits1 == misses0  # the second compiles nothing
