"""The approximation study (the seed's part A): its exact risk, its teacher and its sweep."""

import numpy as np
import pytest
import xarray as xr

from wgflow.studies import approximation as ap


def _student(rng, n, d):
    return np.column_stack([rng.normal(size=n), rng.normal(size=(n, d)) / np.sqrt(d)])


def test_target_risk_equals_the_teacher_student_problem_risk():
    """Two independent codes for the same exact risk: the study's arc-cosine matrices and
    TeacherStudent's Gaussian pair moments (teacher on the first k axes)."""
    from wgflow.problems import TeacherNetwork, TeacherStudent

    rng = np.random.default_rng(0)
    for k, d in [(2, 5), (3, 7)]:
        target = ap.Target(k, 16, 0.5, d)
        teacher = TeacherNetwork(target.u, target.a)
        prob = TeacherStudent(d=d, teacher=teacher, activation="relu", trained="aw",
                              directions=np.eye(d)[:k])  # fmt: skip
        theta = _student(rng, 6, d)
        assert target.risk(theta) == pytest.approx(prob.population_risk(theta), rel=1e-12)
        assert target.second_moment == pytest.approx(prob.second_moment, rel=1e-12)


def test_target_gradient_matches_central_differences():
    target = ap.Target(3, 64, 0.5, 9)
    theta = _student(np.random.default_rng(1), 5, 9)
    _, grad = target.risk_and_gradient(theta)
    num = np.zeros_like(theta)
    h = 1e-6
    for idx in np.ndindex(theta.shape):
        e = np.zeros_like(theta)
        e[idx] = h
        num[idx] = (target.risk(theta + e) - target.risk(theta - e)) / (2 * h)
    # central differences: O(h²) truncation ≈ 1e-12, rounding ≈ 1e-16/h ≈ 1e-10
    np.testing.assert_allclose(grad, num, atol=1e-8)


def test_sphere_risk_equals_the_gaussian_risk_by_homogeneity():
    """Inputs uniform on the sphere of radius √d give the Gaussian risk (Monte Carlo, 4 SE)."""
    rng = np.random.default_rng(2)
    d = 6
    target = ap.Target(2, 32, 0.5, d)
    theta = _student(rng, 4, d)
    g = rng.standard_normal((200_000, d))
    x = np.sqrt(d) * g / np.linalg.norm(g, axis=1, keepdims=True)
    f = (theta[:, 0] * np.maximum(x @ theta[:, 1:].T, 0)).mean(1)
    fstar = (target.a * np.maximum(x[:, :2] @ target.u.T, 0)).mean(1)
    sq = (f - fstar) ** 2
    assert abs(sq.mean() - target.risk(theta)) < 4 * sq.std() / np.sqrt(sq.size)


@pytest.mark.parametrize("k", [2, 3, 4, 6])
def test_the_profile_changes_the_target_unlike_an_antipodally_odd_one(k):
    # the study's even profile moves the target by 1.8 % (k = 6) to 12 % (k = 2) of its norm,
    # an L² distance ≥ 7e-3 whose square is far above the risks the study measures ...
    u, a = ap.teacher(k, 256, 0.5)
    assert ap.profile_distance(k, 256, 0.5) > 0.015 * np.sqrt(
        a @ ap.arccos_kernel_matrix(u, u)[0] @ a / a.size**2
    )
    # ... while an odd one (cos 3φ at k = 2, the old teacher) cancels: relu(z) = (z + |z|)/2
    if k == 2:
        phi = np.arctan2(u[:, 1], u[:, 0])
        c = 0.5 * np.cos(3 * phi) / u.shape[0]
        assert np.sqrt(abs(c @ ap.arccos_kernel_matrix(u, u)[0] @ c)) < 1e-9


def test_study_parameters_are_checked():
    with pytest.raises(ValueError, match="width"):
        ap.study(n_values=(4, 64), width=512, scheduler="synchronous", progress=False)
    with pytest.raises(ValueError, match="k"):
        ap.teacher(1, 16)
    with pytest.raises(ValueError, match="amplitude"):
        ap.teacher(2, 16, amplitude=1.5)
    with pytest.raises(ValueError, match="d"):
        ap.Target(4, 16, 0.5, 3)
    assert ap.theoretical_slope(2) == -4.0 and ap.theoretical_slope(4) == -2.0


def test_point_summarizes_restarts_and_marks_the_floor():
    out = ap.point(k=2, N=4, d=6, seeds=(0, 1), width=64, max_iter=40)
    assert out["worst_risk"] >= out["median_risk"] >= out["best_risk"] > 0
    assert out["barron_ratio"] == pytest.approx(4 * out["best_risk"] / out["delta"] ** 2)
    assert out["delta"] == pytest.approx(np.sqrt(6) * np.mean(ap.teacher(2, 64)[1]))
    assert np.isfinite(out["w2_restarts"]) and 0 <= out["converged"] <= 2
    ds = xr.Dataset({"relative_risk": ("N", [1e-3, 1e-12, 1e-3]),
                     "converged": ("N", [2, 2, 0])})  # fmt: skip
    np.testing.assert_array_equal(ap.floor_mask(ds).values, [False, True, False])


@pytest.mark.slow
def test_quick_study_respects_barron_and_falls_faster_than_barron(tmp_path):
    """Quick sweep: N R_N/Δ² ≤ 1 everywhere (Barron's bound), k = 2 falls faster than 1/N,
    and the archive resumes (a rerun recomputes nothing)."""
    options = {**ap.QUICK, "k_values": (2,), "n_values": (4, 8, 16), "d_values": (20,)}
    out = tmp_path / "apx.nc"
    # a local cluster: its workers run single-threaded BLAS (in-process, the threaded BLAS of
    # L-BFGS-B was measured 14× slower on the loaded 2-core machine)
    ds = ap.study(**options, output=str(out), progress=False)
    assert float(ds["barron_ratio"].max()) < 1.0
    best = ds["best_risk"].sel(k=2, d=20).values
    assert np.all(np.diff(np.log(best)) / np.diff(np.log([4, 8, 16])) < -1.0)
    assert np.all(ds["worst_risk"] >= ds["best_risk"])
    assert np.all(np.isfinite(ds["w2_restarts"]))
    again = ap.study(**options, output=str(out), progress=False)
    np.testing.assert_array_equal(again["best_risk"].values, ds["best_risk"].values)


def test_decay_fit_recovers_a_known_limit_and_rate():
    """R(t) = R∞ + C t^{−p} with 1e-4 relative noise: the fit's intervals contain the truth."""
    t = np.geomspace(200.0, 2000.0, 12)
    rng = np.random.default_rng(3)
    risk = (2e-7 + 3.0 * t**-2.0) * (1 + 1e-4 * rng.standard_normal(t.size))
    fit = ap.decay_fit(t, risk)
    assert fit["r_inf_low"] < 2e-7 < fit["r_inf_high"]
    assert fit["r_inf_high"] - fit["r_inf_low"] < 2e-8
    assert fit["p_low"] < 2.0 < fit["p_high"]
    # the plain log–log slope is shallower than −p: R∞ bends it
    assert fit["slope"] > -2.0
    with pytest.raises(ValueError, match="t, risk"):
        ap.decay_fit(t[:3], risk[:3])


def test_mean_field_limit_decreases_and_polishes():
    """The reduced dynamics lower the risk at every snapshot (a gradient flow; Euler at
    dt = 0.5 is stable here) and L-BFGS from the final state lowers it further."""
    out = ap.mean_field_limit(k=2, width=32, particles=16, t_final=20.0, dt=0.5, polish_iter=60)
    risk = out["risk"]
    assert risk[0] < out["second_moment"] and np.all(np.diff(risk) < 0)
    assert out["final_risk"] == risk[-1] and out["time"][-1] == pytest.approx(20.0)
    assert out["polished"] < 0.5 * out["final_risk"]
    assert out["fit"]["slope"] < 0 and out["fit_late"]["slope"] < 0
    with pytest.raises(ValueError, match="t_final"):
        ap.mean_field_limit(t_final=1.0, dt=0.5)
