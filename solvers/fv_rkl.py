r"""Runge–Kutta–Legendre super time stepping (RKL2) for the explicit finite-volume scheme.

RKL2 (Meyer, Balsara, Aslam 2014) advances ``dρ/dt = M(ρ)`` by one step ``τ`` with ``s ≥ 2``
evaluations of ``M``, in a three-term recursion built on shifted Legendre polynomials:

.. math::
    Y_0 = ρ^n, \quad Y_1 = Y_0 + \tilde μ_1 τ M(Y_0), \\
    Y_j = μ_j Y_{j-1} + ν_j Y_{j-2} + (1 - μ_j - ν_j) Y_0 + \tilde μ_j τ M(Y_{j-1})
          + \tilde γ_j τ M(Y_0) \quad (2 ≤ j ≤ s), \qquad ρ^{n+1} = Y_s,

with ``w₁ = 4/(s² + s − 2)``, ``b₀ = b₁ = b₂ = 1/3``, ``b_j = (j² + j − 2)/(2j(j + 1))``,
``a_j = 1 − b_j``, ``μ̃₁ = b₁w₁``, ``μ_j = (2j − 1)/j · b_j/b_{j−1}``,
``ν_j = −(j − 1)/j · b_j/b_{j−2}``, ``μ̃_j = μ_j w₁``, ``γ̃_j = −a_{j−1} μ̃_j``.

- **Order**: second order in time for every ``s`` (the stability polynomial matches ``e^z`` to
  ``O(z³)``; ``tests/test_fv_rkl.py`` checks it).
- **Stability**: the stability polynomial stays in ``[−1, 1]`` on ``[−(s² + s − 2)/2, 0]``, so
  the step is stable for ``τ ≤ Δt_FE (s² + s − 2)/4``, ``Δt_FE`` the forward-Euler limit of
  the (real, negative) spectrum: ``s`` stages buy a step ``≈ s²/4`` times the explicit one for
  ``s`` evaluations. Upwind advection adds eigenvalues in a disc of radius ``τ Σ_k a_k/h_k``
  around ``−τ Σ_k a_k/h_k``; for ``s ≥ 3`` the region contains the Minkowski sum of that disc
  (radius ≤ ½, i.e. the CCH advective limit) and the parabolic interval (checked numerically
  on a fine grid of the region in the tests).
- **Mass**: every stage is an affine combination (weights summing to 1) of states and flux
  divergences, so mass is conserved to round-off.
- **Positivity**: the first stage is a forward-Euler step of ``μ̃₁τ ≤ Δt_FE/3`` and keeps
  non-negative densities under the CCH condition; the later weights ``ν_j`` are negative, so no
  step-size condition short of the SSP one guarantees non-negative stages. Positivity is
  enforced *a posteriori*: every stage is checked (:func:`rkl_stage` returns False on a
  negative or non-finite value) and the caller retries with a shorter step.

Also here: the last stage of SSPRK(4,2) (:func:`ssp_final_stage`, the default SSP step of
:class:`~wgflow.solvers.FiniteVolume`) and :func:`explicit_advance`, the solver's whole loop of
explicit steps (RKL2, SSPRK(4,2), Heun or forward Euler) compiled for one thread, the same
arithmetic as the Python loop bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .fv_fused import entropy_potential_serial, flux_divergence_serial
from .fv_kernels import euler_stage_serial, heun_stage_serial

__all__ = [
    "MAX_STAGES",
    "explicit_advance",
    "rkl2_coefficients",
    "rkl2_stages",
    "rkl_stage",
    "rkl_stage_serial",
    "ssp_final_stage",
    "ssp_final_stage_serial",
]

#: the most stages one step takes (a step ``≈ 1,100×`` the explicit one; round-off growth of the
#: recursion stays at the 1e-13 level)
MAX_STAGES = 64


def rkl2_coefficients(s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The RKL2 recursion weights for ``s`` stages.

    Parameters
    ----------
    s : int
        Number of stages, ``2 ≤ s ≤ MAX_STAGES``.

    Returns
    -------
    mu, nu, mu_tilde, gamma_tilde : ndarray, shape (s + 1,)
        ``μ_j, ν_j, μ̃_j, γ̃_j`` at index ``j`` (``μ̃₁`` at index 1; unused entries zero).
    """
    if not isinstance(s, (int, np.integer)) or not 2 <= s <= MAX_STAGES:
        raise ValueError(f"s: need an integer in [2, {MAX_STAGES}], got {s!r}")
    s = int(s)
    w1 = 4.0 / (s * s + s - 2)
    b = np.full(s + 1, 1.0 / 3.0)
    j = np.arange(2, s + 1)
    b[2:] = (j * j + j - 2) / (2.0 * j * (j + 1))
    mu, nu, mu_t, gamma_t = (np.zeros(s + 1) for _ in range(4))
    mu_t[1] = b[1] * w1
    mu[2:] = (2.0 * j - 1.0) / j * b[2:] / b[1:-1]
    nu[2:] = -(j - 1.0) / j * b[2:] / b[:-2]
    mu_t[2:] = mu[2:] * w1
    gamma_t[2:] = -(1.0 - b[1:-1]) * mu_t[2:]
    return mu, nu, mu_t, gamma_t


def rkl2_stages(tau: float, dt_explicit: float) -> int:
    """Fewest stages that make a step ``tau`` stable: ``τ ≤ Δt_FE (s² + s − 2)/4``.

    Parameters
    ----------
    tau : float
        The step, > 0.
    dt_explicit : float
        The forward-Euler stability limit ``Δt_FE`` of the operator, > 0.

    Returns
    -------
    int
        ``s ≥ 2``; may exceed :data:`MAX_STAGES` (the caller then shortens ``tau``).
    """
    ratio = 4.0 * tau / dt_explicit
    # s² + s − 2 ≥ ratio  ⇔  s ≥ (−1 + √(9 + 4·ratio))/2
    s = int(np.ceil(0.5 * (-1.0 + np.sqrt(9.0 + 4.0 * ratio)) - 1e-12))
    while s * s + s - 2 < ratio:  # guard the rounding of the square root
        s += 1
    return max(s, 2)


def _rkl_stage(y1, y2, y0, m1, m0, mu, nu, c1, c0, out):
    """``out = μ y1 + ν y2 + (1 − μ − ν) y0 + c1 m1 + c0 m0`` (flat arrays); True if every
    entry is finite and ≥ 0."""
    w0 = 1.0 - mu - nu
    bad = 0
    for i in prange(out.size):
        v = mu * y1[i] + nu * y2[i] + w0 * y0[i] + c1 * m1[i] + c0 * m0[i]
        out[i] = v
        bad += 0 if (v >= 0.0 and v < np.inf) else 1
    return bad == 0


def _ssp_final_stage(y0, y, rate, h, w, out):
    """``out = (1 − w) y0 + w (y + h rate)`` (flat arrays; SSPRK(s,2)'s last stage); True if
    every entry is finite and ≥ 0."""
    w0 = 1.0 - w
    bad = 0
    for i in prange(out.size):
        v = w0 * y0[i] + w * (y[i] + h * rate[i])
        out[i] = v
        bad += 0 if (v >= 0.0 and v < np.inf) else 1
    return bad == 0


#: parallel (large grids) and serial (small grids) compilations of one RKL2 stage and of the
#: last SSPRK(4,2) stage
rkl_stage = njit(cache=True, parallel=True)(_rkl_stage)
rkl_stage_serial = njit(cache=True)(_rkl_stage)
ssp_final_stage = njit(cache=True, parallel=True)(_ssp_final_stage)
ssp_final_stage_serial = njit(cache=True)(_ssp_final_stage)


# ---- the whole explicit loop, compiled (serial; linear or entropic potential) ---------------
#: status codes of :func:`explicit_advance`
ADVANCED, NO_POSITIVE_STEP = 0, 1


@njit(cache=True)
def _rate(rho, V, xi, inv_beta, floor, entropy, inv_h, second_order, rate, speeds, drift):
    """``rate = dρ/dt`` (grid views) with ``ξ = V (+ β⁻¹ log ρ)``; returns ``Σ_k max|u_k|/h_k``."""
    if entropy:
        entropy_potential_serial(rho.reshape(rho.size), V.reshape(V.size), inv_beta, floor,
                                 xi.reshape(xi.size))  # fmt: skip
        potential = xi
    else:
        potential = V
    speeds[:] = 0.0
    flux_divergence_serial(rho, potential, inv_h, second_order, rate, speeds, drift, False)
    return speeds[0] * inv_h[0] + speeds[1] * inv_h[1] + speeds[2] * inv_h[2]


@njit(cache=True)
def explicit_advance(rho, t, t_next, V, inv_beta, floor, entropy, inv_h, dt_par, second_order,
                     ssp_stages, cfl, mode, dt_min, max_rejections, work, drift, speeds,
                     max_steps):
    """Explicit steps from ``(t, rho)`` to ``t_next`` in one compiled loop, the same
    arithmetic as :meth:`FiniteVolume._explicit_step` (bit for bit) without Python between
    the passes: for grids on one thread, no interaction, no drift, ``H`` entropy or none.

    Parameters
    ----------
    rho : ndarray, shape (n0, n1, n2)
        Cell averages at ``t`` (read only).
    t, t_next : float
        Start and end times.
    V : ndarray, shape (n0, n1, n2)
        The potential on the cells.
    inv_beta, floor : float
        Entropy's temperature ``β⁻¹`` and the floor under ``log`` (``entropy`` True).
    entropy : bool
        Whether ``ξ = V + β⁻¹ log ρ`` (else ``ξ = V``).
    inv_h : ndarray, shape (3,)
        Inverse spacings (1 for absent leading axes).
    dt_par : float
        The parabolic limit ``1/(2β⁻¹ Σ h⁻²)`` (``inf`` without diffusion), without ``cfl``.
    second_order : bool
        Minmod reconstruction.
    ssp_stages : int
        SSP-RK stages: 1 forward Euler, 2 Heun, 4 SSPRK(4,2) (steps of 3× the Euler limit).
    cfl : float
        Fraction of the stable steps.
    mode : int
        0 SSP-RK only, 1 auto, 2 RKL2 forced.
    dt_min : float
        Floor of a step.
    max_rejections : int
        Halvings of an SSP-RK step before failure.
    work : ndarray, shape (7, n0, n1, n2)
        Buffers ``k1, k2, xi, stage, a, b, c``.
    drift : tuple of ndarray
        Dummy face drifts (:data:`fv_fused.NO_DRIFT`).
    speeds : ndarray, shape (3,)
        Scratch.
    max_steps : int
        Return after this many steps (the caller loops: Ctrl-C reaches Python between calls).

    Returns
    -------
    index : int
        ``work[index]`` holds the density at the returned time.
    t : float
        Time reached (``t_next``, or earlier after ``max_steps`` steps or a failure).
    steps, evaluations, retries, status : int
        Steps taken, right-hand side evaluations, RKL2 steps retried, status code.
    """
    k1, k2, xi, stage = work[0], work[1], work[2], work[3]
    k1f, k2f, stagef = k1.reshape(k1.size), k2.reshape(k2.size), stage.reshape(stage.size)
    current = rho
    index = -1
    steps = 0
    evaluations = 0
    retries = 0
    coefficients = np.zeros((4, MAX_STAGES + 1))
    cached_stages = -1
    while t < t_next and steps < max_steps:
        remaining = t_next - t
        new_index = 4 if index != 4 else 5
        new = work[new_index]
        newf = new.reshape(new.size)
        cur = current.reshape(current.size)
        speed = _rate(current, V, xi, inv_beta, floor, entropy, inv_h, second_order, k1,
                      speeds, drift)  # fmt: skip
        evaluations += 1
        dt_adv = np.inf if speed == 0 else 1.0 / (2.0 * speed)
        dt = min(cfl * max(ssp_stages - 1, 1) * min(dt_adv, dt_par), remaining)
        if not np.isfinite(dt):
            dt = remaining
        done = False
        if mode != 0 and np.isfinite(dt_par):
            dt_fe = cfl / (1.0 / dt_par + 0.5 / dt_adv)
            tau = min(cfl * dt_adv, remaining,
                      dt_fe * (MAX_STAGES**2 + MAX_STAGES - 2) / 4)  # fmt: skip
            while True:
                stages = min(rkl2_stages_compiled(tau, dt_fe), MAX_STAGES)
                if mode == 1 and stages / tau >= ssp_stages / dt:
                    break
                if stages != cached_stages:
                    _fill_coefficients(stages, coefficients)
                    cached_stages = stages
                ok, used = _rkl_step_compiled(current, tau, stages, coefficients, V, xi,
                                              inv_beta, floor, entropy, inv_h, second_order,
                                              work, new_index, speeds, drift)  # fmt: skip
                evaluations += used
                if ok:
                    dt = tau
                    done = True
                    break
                retries += 1
                tau *= 0.5
                if tau <= dt:
                    break
        if not done:
            target = stagef if ssp_stages == 2 else newf
            for _ in range(max_rejections):
                if dt < min(dt_min, remaining):
                    break
                if ssp_stages == 4:
                    ok, used = _ssp42_step_compiled(current, dt, V, xi, inv_beta, floor, entropy,
                                                    inv_h, second_order, work, new_index,
                                                    speeds, drift)  # fmt: skip
                    evaluations += used
                    if ok:
                        done = True
                        break
                    dt *= 0.5
                    continue
                ok = euler_stage_serial(cur, k1f, dt, target)
                if ok and ssp_stages == 2:
                    _rate(stage, V, xi, inv_beta, floor, entropy, inv_h, second_order, k2,
                          speeds, drift)  # fmt: skip
                    evaluations += 1
                    ok = heun_stage_serial(cur, stagef, k2f, dt, newf)
                if ok:
                    done = True
                    break
                dt *= 0.5
            if not done:
                return index, t, steps, evaluations, retries, NO_POSITIVE_STEP
        t = t_next if t_next - (t + dt) <= 1e-12 * max(abs(t_next), 1.0) else t + dt
        steps += 1
        current = new
        index = new_index
    return index, t, steps, evaluations, retries, ADVANCED


@njit(cache=True)
def rkl2_stages_compiled(tau, dt_explicit):
    """:func:`rkl2_stages` in compiled code."""
    ratio = 4.0 * tau / dt_explicit
    s = int(np.ceil(0.5 * (-1.0 + np.sqrt(9.0 + 4.0 * ratio)) - 1e-12))
    while s * s + s - 2 < ratio:
        s += 1
    return max(s, 2)


@njit(cache=True)
def _fill_coefficients(s, out):
    """:func:`rkl2_coefficients` into rows ``μ, ν, μ̃, γ̃`` of ``out`` (compiled code)."""
    w1 = 4.0 / (s * s + s - 2)
    b = np.full(s + 1, 1.0 / 3.0)
    for j in range(2, s + 1):
        b[j] = (j * j + j - 2) / (2.0 * j * (j + 1))
    out[:] = 0.0
    out[2, 1] = b[1] * w1
    for j in range(2, s + 1):
        out[0, j] = (2.0 * j - 1.0) / j * b[j] / b[j - 1]
        out[1, j] = -(j - 1.0) / j * b[j] / b[j - 2]
        out[2, j] = out[0, j] * w1
        out[3, j] = -(1.0 - b[j - 1]) * out[2, j]


@njit(cache=True)
def _rkl_step_compiled(rho, tau, stages, coefficients, V, xi, inv_beta, floor, entropy, inv_h,
                       second_order, work, new_index, speeds, drift):  # fmt: skip
    """One RKL2 step into ``work[new_index]`` (compiled twin of ``FiniteVolume._rkl_step``);
    returns (ok, evaluations)."""
    k0 = work[0].reshape(work[0].size)
    m1 = work[1]
    m1f = m1.reshape(m1.size)
    buffers = (work[new_index], work[3], work[6])
    y0 = rho.reshape(rho.size)
    prev2 = rho
    prev = buffers[(stages - 1) % 3]
    used = 0
    if not euler_stage_serial(y0, k0, coefficients[2, 1] * tau, prev.reshape(prev.size)):
        return False, used
    for j in range(2, stages + 1):
        _rate(prev, V, xi, inv_beta, floor, entropy, inv_h, second_order, m1, speeds, drift)
        used += 1
        out = buffers[(stages - j) % 3]
        if not rkl_stage_serial(prev.reshape(prev.size), prev2.reshape(prev2.size), y0, m1f, k0,
                                coefficients[0, j], coefficients[1, j],
                                coefficients[2, j] * tau, coefficients[3, j] * tau,
                                out.reshape(out.size)):  # fmt: skip
            return False, used
        prev2 = prev
        prev = out
    return True, used


@njit(cache=True)
def _ssp42_step_compiled(rho, dt, V, xi, inv_beta, floor, entropy, inv_h, second_order, work,
                         new_index, speeds, drift):  # fmt: skip
    """SSPRK(4,2) into ``work[new_index]`` (compiled twin of ``FiniteVolume._ssp42_step``);
    returns (ok, evaluations)."""
    k2 = work[1]
    k2f = k2.reshape(k2.size)
    h = dt / 3.0
    y = work[3]
    used = 0
    if not euler_stage_serial(rho.reshape(rho.size), work[0].reshape(work[0].size), h,
                              y.reshape(y.size)):  # fmt: skip
        return False, used
    for other_index in (6, 3):
        other = work[other_index]
        _rate(y, V, xi, inv_beta, floor, entropy, inv_h, second_order, k2, speeds, drift)
        used += 1
        if not euler_stage_serial(y.reshape(y.size), k2f, h, other.reshape(other.size)):
            return False, used
        y = other
    _rate(y, V, xi, inv_beta, floor, entropy, inv_h, second_order, k2, speeds, drift)
    used += 1
    new = work[new_index]
    ok = ssp_final_stage_serial(rho.reshape(rho.size), y.reshape(y.size), k2f, h, 0.75,
                                new.reshape(new.size))  # fmt: skip
    return ok, used
