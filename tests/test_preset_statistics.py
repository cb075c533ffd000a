"""What the presets compute: SGD's exact risk with biases, the PDE's Mehler order, the summary.

- ``TwoLayerNN.population_risk`` for relu with a trained bias (closed form through truncated
  bivariate-normal moments) against an independent Monte-Carlo estimate, the arc-cosine
  kernel at ``b = 0`` and the one-dimensional closed form of a single neuron;
- every preset states the Mehler order its reduced dynamics runs at, and the size of the
  order-2 terms that statement quotes (``∝ 1/s0`` on ``r1``, ``∝ 1/(d − s0)`` on ``r2``);
- the command line's summary names the SGD risk's estimator and every reduced statistic.
"""

import json
import re

import numpy as np
import pytest
import xarray as xr
from scipy.special import ndtr

from wgflow.networks import GaussianMixture
from wgflow.problems import AnisotropicGaussians, TwoLayerNN
from wgflow.problems.gaussian_expectations import (
    normal_pdf,
    pair_moments,
    pair_values,
    relu_expectation,
)
from wgflow.studies import presets


def _network(n: int, d: int, rng) -> np.ndarray:
    """``(a, b, w)`` columns: signed output weights, biases of both signs, Gaussian ``w``."""
    a = rng.uniform(0.5, 2.5, n) * rng.choice([-1.0, 1.0], n)
    return np.column_stack([a, rng.uniform(-1.0, 1.0, n), rng.normal(0.0, 0.8, (n, d))])


# ---- SGD's exact risk with biases ------------------------------------------------------------
def test_relu_with_bias_risk_matches_a_two_million_sample_monte_carlo():
    # independent: (y − f(x))² averaged over draws of the data law, f evaluated directly
    prob = AnisotropicGaussians(d=6, s0=2, delta=0.5, activation="relu", trained="abw",
                                rotation=5)  # fmt: skip
    theta = _network(4, 6, np.random.default_rng(11))
    rng = np.random.default_rng(12)
    total, total_sq, count = 0.0, 0.0, 0
    for _ in range(4):
        x, y = prob.data.sample(500_000, rng)
        f = np.maximum(x @ theta[:, 2:].T + theta[:, 1], 0.0) @ theta[:, 0] / len(theta)
        loss = (y - f) ** 2
        total, total_sq, count = total + loss.sum(), total_sq + (loss**2).sum(), count + loss.size
    mean = total / count
    stderr = np.sqrt((total_sq / count - mean**2) / (count - 1))
    exact = prob.population_risk(theta)
    assert abs(exact - mean) < 5 * stderr  # 5 standard errors: false alarm ~6e-7
    no_bias = theta.copy()
    no_bias[:, 1] = 0.0
    # the test discriminates: dropping the biases moves the risk by ≫ 5 standard errors
    assert abs(prob.population_risk(no_bias) - mean) > 20 * stderr


def test_relu_with_bias_at_b_zero_equals_the_arc_cosine_risk():
    rng = np.random.default_rng(2)
    kwargs = {"d": 20, "s0": 5, "delta": 0.5, "activation": "relu"}
    with_bias = AnisotropicGaussians(**kwargs, trained="abw")
    without = AnisotropicGaussians(**kwargs, trained="aw")
    theta = _network(60, 20, rng)
    theta[:, 1] = 0.0
    assert not with_bias.network._closed_form_pairs and without.network._closed_form_pairs
    expected = without.population_risk(np.delete(theta, 1, axis=1))
    assert with_bias.population_risk(theta) == pytest.approx(expected, rel=1e-12, abs=1e-13)


def test_one_neuron_risk_equals_the_one_dimensional_closed_form():
    # N = 1: only the diagonal pair, E relu(b + sG)² = (b² + s²)Φ(b/s) + b s φ(b/s)
    data = GaussianMixture([1.0, -1.0], [0.3, 0.7], np.array([[1.4, 0.6, 1.0], [0.5, 1.0, 2.0]]))
    prob = TwoLayerNN("relu", data, trained="abw")
    for a, b, w in [(1.3, -0.4, [0.3, -0.8, 0.5]), (-0.7, 0.9, [1.1, 0.2, -0.3])]:
        s = np.sqrt(np.sum((np.array(w) * data.scales) ** 2, axis=1))  # per class
        square = (b * b + s * s) * ndtr(b / s) + b * s * normal_pdf(b / s)
        mean = relu_expectation(b, s)
        p, y = data.probabilities, data.labels
        expected = np.sum(p * (y * y - 2 * a * y * mean + a * a * square))
        got = prob.population_risk(np.array([[a, b, *w]]))
        assert got == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("activation", "trained"),
    [("relu", "abw"), ("truncated_relu", "abw"), ("ramp", "w"), ("tanh", "abw")],
)
def test_value_only_pair_sum_equals_the_full_interaction_matrix(activation, trained):
    # the triangle-plus-diagonal sum against U(θ_i, θ_j) from pair_moments on all N² pairs
    prob = AnisotropicGaussians(d=8, s0=3, delta=0.5, activation=activation, trained=trained)
    n = 4 if activation == "tanh" else 30
    theta = _network(n, 8, np.random.default_rng(4))
    if trained == "w":
        theta = theta[:, 2:]
    net = prob.network
    expected = (net.second_moment + 2 * np.mean(net.potential(theta))
                + np.sum(net.interaction_matrix(theta)) / n**2)  # fmt: skip
    assert prob.population_risk(theta) == pytest.approx(expected, rel=1e-12)


def test_pair_values_equal_pair_moments_and_name_bad_input():
    rng = np.random.default_rng(6)
    mu1, mu2 = rng.normal(0.0, 0.7, (2, 200))
    q1, q2 = rng.uniform(0.01, 3.0, (2, 200))
    cov = rng.uniform(-1.0, 1.0, 200) * np.sqrt(q1 * q2)
    cov[:5] = np.sqrt(q1[:5] * q2[:5])  # |ρ| = 1: the quadrature fallback
    for name in ("relu", "nonmonotone"):
        got = pair_values(name, mu1, q1, mu2, q2, cov)
        want = pair_moments(name, mu1, q1, mu2, q2, cov)["value"]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match="q1, q2"):
        pair_values("relu", 0.0, -1.0, 0.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="cov"):
        pair_values("relu", 0.0, 1.0, 0.0, 1.0, 2.0)


# ---- the presets' Mehler order ---------------------------------------------------------------
def _resolved(name: str):
    from wgflow.studies.comparison import Comparison

    settings = presets.settings(name, quick=False)
    scales = settings.get("initial_scale")
    if isinstance(scales, tuple | list):
        settings["initial_scale"] = scales[0]
    return Comparison(**settings)


@pytest.mark.parametrize("name", list(presets.PRESETS))
def test_every_preset_states_the_mehler_order_it_runs(name):
    cmp = _resolved(name)
    stated = re.findall(r"Mehler order (\d)", presets.PRESETS[name]["description"])
    assert stated == [str(cmp.mehler_order)], presets.PRESETS[name]["description"]
    assert cmp.reduced.mehler_order == cmp.mehler_order
    if cmp.mehler_order:  # not silently the d → ∞ limit
        assert "d = ∞" not in presets.PRESETS[name]["description"]


# reduced laws of mmn-relu: at its start and near t = 20 (README's measured means and spreads)
_START = np.array([[1.0, 0.0, 0.346 + 0.06 * u, 0.72 + 0.03 * v]
                   for u in (-1.0, 0.0, 1.0) for v in (-1.0, 1.0)])  # fmt: skip
_LATE = np.array([[1.72 + 0.06 * u, -0.94 + 0.04 * v, 1.41 + 0.05 * u, 0.155 + 0.009 * v]
                  for u in (-1.0, 0.0, 1.0) for v in (-1.0, 1.0)])  # fmt: skip


def _order_two_excess(d: int, s0: int, points: np.ndarray) -> float:
    prob = AnisotropicGaussians(d=d, s0=s0, delta=0.5, activation="relu", trained="abw")
    two, zero = prob.reduced(mehler_order=2), prob.reduced(mehler_order=0)
    return two.particle_risk(points) - zero.particle_risk(points)


@pytest.mark.parametrize("points", [_START, _LATE])
def test_the_order_two_terms_scale_as_one_over_s0_and_one_over_d_minus_s0(points):
    # R₂ − R₀ = A/s0 + B/(d − s0) at a fixed law: fit A, B on two sizes, predict two others
    sizes = [(320, 60), (320, 120)]
    rows = np.array([[1 / s0, 1 / (d - s0)] for d, s0 in sizes])
    coef = np.linalg.solve(rows, [_order_two_excess(d, s0, points) for d, s0 in sizes])
    for d, s0 in [(640, 15), (160, 60)]:
        predicted = coef @ [1 / s0, 1 / (d - s0)]
        assert _order_two_excess(d, s0, points) == pytest.approx(predicted, rel=1e-9)
    assert np.all(coef > 0)


def test_order_two_is_the_finite_s0_kernel_the_preset_statement_quotes():
    # at the late law the 1/s0 term is 7e-3 (same size as the sup risk gap) and does not
    # vanish as d → ∞ at fixed s0; order 2 matches the exact direction-averaged kernel
    prob = AnisotropicGaussians(d=320, s0=60, delta=0.5, activation="relu", trained="abw")
    red = {k: prob.reduced(mehler_order=k) for k in (0, 2)}
    mean_v = np.mean(red[0].potential_values(_LATE, drift=False))
    kernel = red[0].finite_d_kernel(_LATE[:, None, :], _LATE[None, :, :])
    exact = 1 + 2 * mean_v + kernel.mean()
    assert exact - red[0].particle_risk(_LATE) == pytest.approx(7.2e-3, rel=0.05)
    assert abs(exact - red[2].particle_risk(_LATE)) < 5e-5
    assert _order_two_excess(640, 60, _LATE) == pytest.approx(
        _order_two_excess(320, 60, _LATE), rel=1e-4
    )
    text = " ".join(presets.PRESETS["mmn-relu"]["unconfirmed"])
    assert "1/s0" in text and "1/(d − s0)" in text


# ---- the command line's summary ----------------------------------------------------------------
def _archive(exact_risk: bool, stderr: bool) -> xr.Dataset:
    time = np.array([0.0, 1.0])
    ds = xr.Dataset(coords={"time": time, "particle": np.arange(3)})
    ds["risk_sgd"] = ("time", [1.04, 0.60])
    for suffix, final in (("", 0.61), ("_corrected", 0.605)):
        ds[f"risk_pde{suffix}"] = ("time", [1.05, final])
        ds[f"risk_gap{suffix}"] = ("time", [0.01, abs(final - 0.60)])
        ds[f"w2{suffix}"] = ("time", [0.0, 0.02])
    for k, axis in enumerate(("a", "b", "r1", "r2")):
        ds[f"particle_{axis}"] = (("time", "particle"), np.full((2, 3), float(k)))
        for source in ("sgd", "pde", "pde_corrected"):
            ds[f"mean_{axis}_{source}"] = ("time", [k, k + 0.125])
            ds[f"std_{axis}_{source}"] = ("time", [0.0, 0.0625])
    if stderr:
        ds["risk_sgd_stderr"] = ("time", [0.0045, 0.0031])
        ds.attrs["test_size"] = 20000
    ds.attrs["parameters"] = json.dumps({"exact_risk": exact_risk, "mehler_order": 2})
    return ds


def test_summary_names_the_risk_estimator_the_mehler_order_and_every_statistic(capsys):
    from wgflow.studies.cli import _non_finite_summary, _print_summary

    _print_summary(_archive(exact_risk=False, stderr=True))
    out = capsys.readouterr().out
    assert "held-out Monte-Carlo estimate on 20000 samples, standard error ≤ 0.00450" in out
    assert "reduced dynamics: Mehler order 2" in out
    for axis in ("a", "b", "r1", "r2"):
        line = next(row for row in out.splitlines() if row.startswith(f"final mean ± std {axis}:"))
        for who in ("SGD", "PDE", "PDE corrected"):
            assert f"{who} " in line
        assert line.count("± 0.0625") == 3
    _print_summary(_archive(exact_risk=True, stderr=False))
    out = capsys.readouterr().out
    assert "SGD risk: exact R_N" in out and "held-out" not in out
    _print_summary(_archive(exact_risk=False, stderr=False))
    assert "standard error not archived" in capsys.readouterr().out
    ds = _archive(exact_risk=False, stderr=True)
    ds["std_r2_pde_corrected"][-1] = np.nan
    assert _non_finite_summary(ds) == ["std_r2_pde_corrected"]
