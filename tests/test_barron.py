"""Barron's theorem with its Fourier constant (wgflow.studies.barron): Δ(f), risk, training."""

import math

import numpy as np
import pytest
from scipy import integrate, special

from wgflow.studies import barron as br


@pytest.mark.parametrize("s", [0.4, 1.0, 2.5])
def test_ridge_fourier_moment_matches_a_quadrature_of_its_transform(s):
    """ĝ(t) = (1/2π)∫ g(z) e^{−itz} dz by an oscillatory quadrature (no closed form used),
    then ∫|t| |ĝ(t)| dt; the inverse transform at z0 checks the 2π convention."""
    g = lambda z: np.exp(-(z**2) / (2 * s**2))  # noqa: E731

    def ghat(t):  # g even: (1/π) ∫_0^∞ g(z) cos(tz) dz
        return integrate.quad(g, 0, np.inf, weight="cos", wvar=t)[0] / np.pi if t > 0 else \
            integrate.quad(g, 0, np.inf)[0] / np.pi  # fmt: skip

    top = 40 / s  # ĝ ∝ e^{−s²t²/2}: below 1e-300 beyond
    moment = 2 * integrate.quad(lambda t: t * abs(ghat(t)), 0, top, limit=200)[0]
    assert moment == pytest.approx(br.fourier_moment("ridge", 7, s), rel=1e-7)
    z0 = 0.3 * s
    back = 2 * integrate.quad(lambda t: ghat(t) * np.cos(t * z0), 0, top, limit=200)[0]
    assert back == pytest.approx(g(z0), rel=1e-7)


@pytest.mark.parametrize("d", [3, 4, 7])
def test_bump_fourier_moment_matches_a_hankel_quadrature(d):
    """F of a radial f by the Hankel transform F(ρ) = (2π)^{−d/2} ρ^{1−d/2} ∫ f(t) J_{d/2−1}(ρt)
    t^{d/2} dt, then |S^{d−1}| ∫ ρ^d |F(ρ)| dρ, against the Gamma-function closed form; the
    mass |S^{d−1}| ∫ ρ^{d−1} F dρ = f(0) = 1 checks the normalization."""
    s = 0.8
    nu = d / 2 - 1

    def big_f(rho):
        val = integrate.quad(lambda t: np.exp(-(t**2) / (2 * s**2)) * special.jv(nu, rho * t)
                             * t ** (d / 2), 0, 12 * s, limit=200)[0]  # fmt: skip
        return (2 * np.pi) ** (-d / 2) * rho ** (1 - d / 2) * val

    area = 2 * np.pi ** (d / 2) / math.gamma(d / 2)
    top = 14 / s
    moment = area * integrate.quad(lambda r: r**d * abs(big_f(r)), 0, top, limit=200)[0]
    mass = area * integrate.quad(lambda r: r ** (d - 1) * big_f(r), 0, top, limit=200)[0]
    assert mass == pytest.approx(1.0, rel=1e-7)
    assert moment == pytest.approx(br.fourier_moment("bump", d, s), rel=1e-7)
    # and Δ = 2 r ∫‖ω‖|F|
    assert br.barron_constant("bump", d, s, 1.5) == pytest.approx(3.0 * moment, rel=1e-7)


def test_input_laws_sphere_and_ball():
    d = 5
    ridge, bump = br.BarronTarget("ridge", d), br.BarronTarget("bump", d, radius=2.0)
    x = ridge.sample(4000, 0)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), np.sqrt(d), rtol=1e-12)
    # uniform in the ball: (‖x‖/r)^d ~ U(0, 1), mean 1/2, SE √(1/12/n)
    u = (np.linalg.norm(bump.sample(40_000, 1), axis=1) / 2.0) ** d
    assert abs(u.mean() - 0.5) < 4 * np.sqrt(1 / 12 / u.size) and u.max() <= 1.0


def test_ridge_variance_on_the_sphere_matches_a_1d_quadrature():
    """Var f of the test set (Monte Carlo) against the exact law of ⟨e_1, x⟩ on the sphere,
    density ∝ (1 − z²/r²)^{(d−3)/2} on [−r, r] (4 standard errors)."""
    d = 6
    tgt = br.BarronTarget("ridge", d)
    r = tgt.radius
    dens = lambda z: (1 - z**2 / r**2) ** ((d - 3) / 2)  # noqa: E731
    norm = integrate.quad(dens, -r, r)[0]
    m1 = integrate.quad(lambda z: dens(z) * np.exp(-(z**2) / 2), -r, r)[0] / norm
    m2 = integrate.quad(lambda z: dens(z) * np.exp(-(z**2)), -r, r)[0] / norm
    y = tgt(tgt.sample(100_000, 3))
    assert abs(y.mean() - m1) < 4 * y.std() / np.sqrt(y.size)
    sq = (y - m1) ** 2
    assert abs(sq.mean() - (m2 - m1**2)) < 4 * sq.std() / np.sqrt(y.size)


@pytest.mark.parametrize("activation", ["tanh", "logistic", "relu"])
def test_risk_gradient_matches_central_differences(activation):
    rng = np.random.default_rng(4)
    n, d = 3, 4
    x = rng.standard_normal((500, d)) / 2
    y = np.sin(x[:, 0])
    params = rng.standard_normal(1 + n * (2 + d))
    _, grad = br.risk_and_gradient(params, x, y, n, activation)
    num = np.zeros_like(params)
    h = 1e-6
    for i in range(params.size):
        e = np.zeros_like(params)
        e[i] = h
        num[i] = (br.risk_and_gradient(params + e, x, y, n, activation)[0]
                  - br.risk_and_gradient(params - e, x, y, n, activation)[0]) / (2 * h)  # fmt: skip
    # smooth σ: O(h²) ≈ 1e-12; relu: no kink within h of a sample (probability ≈ 1e-3)
    np.testing.assert_allclose(grad, num, atol=1e-7)
    risk, _ = br.risk_and_gradient(params, x, y, n, activation)
    f = br.student_values(params[0], params[1:].reshape(n, -1), x, 1.0, activation)
    assert risk == pytest.approx(np.mean((f - y) ** 2), rel=1e-13)


def test_split_neurons_keeps_the_function_and_noise_moves_it():
    rng = np.random.default_rng(5)
    theta = rng.standard_normal((3, 2 + 4))
    x = rng.standard_normal((200, 4))
    f = br.student_values(0.3, theta, x)
    np.testing.assert_allclose(br.student_values(0.3, br.split_neurons(theta), x), f,
                               rtol=0, atol=1e-14)  # fmt: skip
    moved = br.student_values(0.3, br.split_neurons(theta, noise=1e-2, seed=0), x)
    assert 1e-5 < np.abs(moved - f).max() < 1e-1


def test_tiny_chain_respects_the_bound_and_falls_with_n():
    """Each N starts from the split N/2 solution: the training risk never increases with N
    (it would with independent starts of a buggy split), the test risk is far below Var f and
    N R_N/Δ² ≤ 1 (a wrong Δ, e.g. without the factor 2r, would not change this much here)."""
    for kind in ("ridge", "bump"):
        ds = br.point(kind, 4, 0, n_values=(2, 4, 8), samples=4000, max_iter=150)
        train = ds["train_risk"].values
        assert np.all(np.diff(train) <= 0), (kind, train)
        assert float(ds["relative_risk"].sel(N=8)) < 0.2
        assert float(ds["ratio"].max()) < 1.0
        np.testing.assert_allclose(ds["ratio"], ds["N"] * ds["risk"] / float(ds["delta"]) ** 2)
        assert np.all(ds["risk_se"] < ds["risk"])


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="kind"):
        br.BarronTarget("cube", 4)
    with pytest.raises(ValueError, match="d"):
        br.BarronTarget("ridge", 0)
    with pytest.raises(ValueError, match="width"):
        br.fourier_moment("bump", 4, -1.0)
    with pytest.raises(ValueError, match="n_values"):
        br.chain(br.BarronTarget("ridge", 4), (2, 3), samples=10)
    with pytest.raises(ValueError, match="activation"):
        br.student_values(0.0, np.zeros((2, 6)), np.zeros((3, 4)), activation="gelu")
    with pytest.raises(ValueError, match="eta"):
        br.split_neurons(np.zeros((2, 6)), eta=1.0)
    with pytest.raises(ValueError, match="start"):
        tgt = br.BarronTarget("ridge", 4)
        br.train(tgt, 2, np.zeros((5, 4)), np.zeros(5), start=(0.0, np.zeros((3, 6))))


def test_summary_takes_the_best_run_over_seeds_and_starts():
    import xarray as xr

    risk = np.array([[[1e-3, 4e-4], [2e-3, 1e-4]]])  # (d, seed, start) at one N
    dims = ("target", "d", "seed", "start", "N")
    ds = xr.Dataset(
        {"risk": (dims, risk[None, ..., None]), "risk_se": (dims, 0.01 * risk[None, ..., None]),
         "ratio": (dims, 2 * risk[None, ..., None]),
         "relative_risk": (dims, 10 * risk[None, ..., None]),
         "converged": (dims, np.ones((1, 1, 2, 2, 1)))},
        coords={"target": ["ridge"], "d": [4], "seed": [0, 1], "start": ["split", "fresh"],
                "N": [8]},
    )  # fmt: skip
    best = br.summary(ds).sel(target="ridge", d=4, N=8)
    assert float(best["risk"]) == 1e-4 and str(best["best_start"].values) == "fresh"
    assert float(best["ratio"]) == 2e-4 and float(best["spread"]) == pytest.approx(20.0)
    assert int(best["converged"]) == 4


def test_fresh_starts_train_every_width_independently():
    ds = br.point("ridge", 4, 0, start="fresh", n_values=(2, 4), samples=2000, max_iter=40)
    assert np.all(ds["iterations"] > 0) and np.all(ds["relative_risk"] < 1.0)
    with pytest.raises(ValueError, match="start"):
        br.point("ridge", 4, 0, start="warm", n_values=(2,), samples=100, max_iter=5)
