r"""Barron's theorem with its own Fourier constant, checked on trained sigmoidal networks.

Barron (IEEE Trans. Inf. Theory 39, 1993, Theorem 1): if ``f(x) = ∫ e^{i⟨ω, x⟩} F(ω) dω`` and
``Δ(f) = 2r ∫ ‖ω‖ |F(ω)| dω`` is finite, then for every probability ``μ`` on the ball
``‖x‖ ≤ r`` and every ``N`` there are ``N`` sigmoidal neurons with biases and a constant with

.. math::
    \|f - f_N\|^2_{L^2(\mu)} \le \Delta(f)^2 / N,
    \qquad f_N(x) = c_0 + \frac1N \sum_{i=1}^N a_i\, \sigma(\langle w_i, x\rangle + b_i).

Two targets with ``Δ(f)`` in closed form (:func:`fourier_moment`, checked against quadratures
of their Fourier transforms in ``tests/test_barron.py``):

- ``"ridge"``: ``f(x) = exp(−⟨e_1, x⟩²/(2s²))``, inputs uniform on the **sphere** of radius
  ``r``. ``F`` lives on the line ``ω = t e_1`` with the 1-D transform
  ``ĝ(t) = s e^{−s²t²/2}/√(2π)``, so ``∫‖ω‖|F| = ∫|t| ĝ(t) dt = √(2/π)/s``. Default
  ``r = √d``, ``s = 1``: ``⟨e_1, x⟩`` is close to ``N(0, 1)`` at every ``d``.
- ``"bump"``: ``f(x) = exp(−‖x‖²/(2s²))``, inputs uniform in the **ball** of radius ``r`` (on
  the sphere it would be constant). ``F`` is the ``N(0, I/s²)`` density, so
  ``∫‖ω‖|F| = E‖ω‖ = √2 Γ((d+1)/2)/(s Γ(d/2))``. Default ``r = 1``, ``s = ½``.

Only ``r/s`` matters: ``Δ`` and the risk are invariant under ``x → cx``.

Students ``f_N`` (``σ = tanh`` by default; ``"logistic"`` and ``"relu"`` too) are trained by
L-BFGS on a fixed Monte-Carlo set of ``samples`` inputs and evaluated on an independent set of
the same size (the reported ``risk``, with its standard error). Two kinds of starts per seed:
``"split"``, a *chain* in ``N`` — the smallest ``N`` from random starts, every next ``N`` from
the previous solution with each neuron split in two (``a → a(1 ± η)``, the same function,
plus a small perturbation), so the training risk never increases with ``N``; and
``"fresh"``, a random start at every ``N``. Neither is a global minimizer: the measured
``R_N`` is an upper bound on the best ``N``-neuron error, so ``N R_N/Δ² ≤ 1`` verifies the
bound, and how far below 1 it sits is an upper bound on the finding.

For relu, Barron's constant is not the natural one (Klusowski & Barron bound relu networks by
the second moment ``∫‖ω‖²|F|``); two relu units make a steep ramp, the limit of a step, so
Barron's argument gives ``R_N ≤ 2Δ²/N`` for relu and :func:`point` reports ``N R_N/Δ²``
for every activation (``bound`` says which constant applies).

Run: ``wgflow study barron [--quick] [--output PREFIX] [--scheduler A]`` (:func:`run_study`).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import xarray as xr
from scipy.optimize import minimize

from wgflow.validation import check_choice, check_positive, check_positive_int

#: the full study (≈ 15 CPU-min on a loaded 2-core machine: 6 chains and 6 fresh-start runs)
FULL = {
    "targets": ("ridge", "bump"),
    "n_values": (2, 4, 8, 16, 32),
    "d_values": (4, 16, 64),
    "seeds": (0,),
    "starts": ("split", "fresh"),
    "samples": 100_000,
    "max_iter": 300,
    "activation": "tanh",
}
#: the size ``--quick`` and the gallery's quick mode run
QUICK = {"targets": ("ridge", "bump"), "n_values": (2, 4, 8), "d_values": (4, 16),
         "seeds": (0,), "starts": ("split",), "samples": 20_000, "max_iter": 100,
         "activation": "tanh"}  # fmt: skip
TARGETS = ("ridge", "bump")
STARTS = ("split", "fresh")
ACTIVATIONS = ("tanh", "logistic", "relu")
#: default (radius, width) of each target as functions of ``d``
DEFAULTS = {"ridge": lambda d: (math.sqrt(d), 1.0), "bump": lambda d: (1.0, 0.5)}


def fourier_moment(kind: str, d: int, width: float) -> float:
    """``∫ ‖ω‖ |F(ω)| dω`` of the target, in closed form.

    Parameters
    ----------
    kind : {"ridge", "bump"}
        The target (module docstring).
    d : int
        Input dimension.
    width : float
        ``s`` (same units as ``x``).

    Returns
    -------
    float
        ``√(2/π)/s`` (ridge) or ``√2 Γ((d+1)/2)/(s Γ(d/2))`` (bump); units ``1/x``.
    """
    kind = check_choice("kind", kind, TARGETS)
    d, s = check_positive_int("d", d), check_positive("width", width)
    if kind == "ridge":
        return math.sqrt(2 / math.pi) / s
    return math.sqrt(2) * math.exp(math.lgamma((d + 1) / 2) - math.lgamma(d / 2)) / s


def barron_constant(kind: str, d: int, width: float, radius: float) -> float:
    """``Δ(f) = 2r ∫‖ω‖|F(ω)| dω`` (dimensionless: the target's values are O(1)).

    Parameters
    ----------
    kind : {"ridge", "bump"}
        The target.
    d : int
        Input dimension.
    width : float
        ``s``.
    radius : float
        ``r``: inputs satisfy ``‖x‖ ≤ r``.

    Returns
    -------
    float
        ``Δ(f)``.
    """
    return 2 * check_positive("radius", radius) * fourier_moment(kind, d, width)


class BarronTarget:
    """A target with known ``Δ(f)`` and its input law on the ball of radius ``r``.

    Parameters
    ----------
    kind : {"ridge", "bump"}
        The target (module docstring).
    d : int
        Input dimension.
    radius, width : float, optional
        ``r`` and ``s`` (defaults: :data:`DEFAULTS`).
    """

    def __init__(self, kind: str, d: int, radius: float | None = None,
                 width: float | None = None) -> None:  # fmt: skip
        self.kind = check_choice("kind", kind, TARGETS)
        self.d = check_positive_int("d", d)
        r0, s0 = DEFAULTS[self.kind](self.d)
        self.radius = check_positive("radius", r0 if radius is None else radius)
        self.width = check_positive("width", s0 if width is None else width)
        self.delta = barron_constant(self.kind, self.d, self.width, self.radius)

    def sample(self, n: int, seed) -> np.ndarray:
        """``n`` inputs: uniform on the sphere (ridge) or in the ball (bump) of radius ``r``.

        Parameters
        ----------
        n : int
            Number of inputs.
        seed : int or sequence of int
            Seed of ``numpy.random.default_rng``.

        Returns
        -------
        ndarray, shape (n, d)
            The inputs.
        """
        n = check_positive_int("n", n)
        rng = np.random.default_rng(seed)
        g = rng.standard_normal((n, self.d))
        x = g / np.linalg.norm(g, axis=1, keepdims=True)
        if self.kind == "bump":
            x *= rng.uniform(size=(n, 1)) ** (1 / self.d)
        return self.radius * x

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``f(x)``.

        Parameters
        ----------
        x : ndarray, shape (n, d)
            Inputs.

        Returns
        -------
        ndarray, shape (n,)
            Target values.
        """
        x = np.asarray(x, float)
        z2 = x[:, 0] ** 2 if self.kind == "ridge" else np.sum(x * x, axis=1)
        return np.exp(-z2 / (2 * self.width**2))


def _activation(name: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``σ(z)`` and ``σ′(z)``."""
    if name == "tanh":
        s = np.tanh(z)
        return s, 1.0 - s * s
    if name == "logistic":
        s = 0.5 * (1.0 + np.tanh(0.5 * z))
        return s, s * (1.0 - s)
    return np.maximum(z, 0.0), (z > 0).astype(float)


def student_values(c0: float, theta: np.ndarray, x: np.ndarray, radius: float = 1.0,
                   activation: str = "tanh") -> np.ndarray:  # fmt: skip
    """``f_N(x) = c0 + (1/N) Σ a_i σ(⟨v_i, x/r⟩ + b_i)`` (``w_i = v_i/r``).

    Parameters
    ----------
    c0 : float
        The constant.
    theta : ndarray, shape (N, 2 + d)
        Columns ``a, b, v``.
    x : ndarray, shape (n, d)
        Inputs.
    radius : float
        ``r`` (weights are stored in units of ``1/r``).
    activation : {"tanh", "logistic", "relu"}
        ``σ``.

    Returns
    -------
    ndarray, shape (n,)
        ``f_N(x)``.
    """
    activation = check_choice("activation", activation, ACTIVATIONS)
    z = np.asarray(x, float) @ theta[:, 2:].T / radius + theta[:, 1]
    return c0 + _activation(activation, z)[0] @ theta[:, 0] / theta.shape[0]


def risk_and_gradient(params: np.ndarray, x: np.ndarray, y: np.ndarray, n_neurons: int,
                      activation: str = "tanh") -> tuple[float, np.ndarray]:  # fmt: skip
    """Empirical risk ``mean (f_N − y)²`` and its gradient in ``[c0, θ.ravel()]``.

    Parameters
    ----------
    params : ndarray, shape (1 + N (2 + d),)
        ``c0`` then ``θ`` (columns ``a, b, v``) row by row.
    x : ndarray, shape (n, d)
        Inputs, already divided by ``r``.
    y : ndarray, shape (n,)
        Targets.
    n_neurons : int
        ``N``.
    activation : {"tanh", "logistic", "relu"}
        ``σ``.

    Returns
    -------
    risk : float
        The empirical risk.
    gradient : ndarray, shape (1 + N (2 + d),)
        Its gradient.
    """
    n = n_neurons
    theta = params[1:].reshape(n, -1)
    a, b, v = theta[:, 0], theta[:, 1], theta[:, 2:]
    s, ds = _activation(activation, x @ v.T + b)
    e = params[0] + s @ a / n - y
    m = y.size
    grad = np.empty_like(params)
    grad[0] = 2 * e.mean()
    g = np.empty_like(theta)
    g[:, 0] = 2 * (e @ s) / (m * n)
    eds = e[:, None] * ds
    g[:, 1] = 2 * a * eds.sum(0) / (m * n)
    g[:, 2:] = 2 * a[:, None] * (eds.T @ x) / (m * n)
    grad[1:] = g.ravel()
    return float(e @ e / m), grad


def split_neurons(theta: np.ndarray, eta: float = 0.5, noise: float = 0.0,
                  seed=None) -> np.ndarray:  # fmt: skip
    """Each neuron in two with ``a(1 + η)``, ``a(1 − η)`` (the same function when ``noise = 0``).

    Without noise the split network is a critical point whenever the original one is (the
    copies' gradients are ``(1 ± η)`` times the original's), so :func:`chain` also adds
    ``noise · N(0, 1)`` to every copy's ``b`` and ``v``.

    Parameters
    ----------
    theta : ndarray, shape (N, 2 + d)
        Columns ``a, b, v`` of ``(1/N) Σ a_i σ(…)``.
    eta : float
        The split of ``a``, ``0 < η < 1``.
    noise : float
        Standard deviation of the perturbation of ``b`` and ``v`` (``≥ 0``).
    seed : int or sequence of int, optional
        Seed of the perturbation.

    Returns
    -------
    ndarray, shape (2N, 2 + d)
        The split network (``(1/2N) Σ`` over both copies equals the original at ``noise = 0``).
    """
    if not 0 < eta < 1:
        raise ValueError(f"eta: need 0 < η < 1, got {eta}")
    if not noise >= 0:
        raise ValueError(f"noise: need ≥ 0, got {noise}")
    out = np.repeat(np.asarray(theta, float), 2, axis=0)
    out[0::2, 0] *= 1 + eta
    out[1::2, 0] *= 1 - eta
    if noise > 0:
        out[:, 1:] += noise * np.random.default_rng(seed).standard_normal(out[:, 1:].shape)
    return out


def train(target: BarronTarget, n_neurons: int, x: np.ndarray, y: np.ndarray, seed: int = 0,
          start: tuple[float, np.ndarray] | None = None, max_iter: int = 300,
          activation: str = "tanh") -> dict:  # fmt: skip
    """L-BFGS on the empirical risk of the training set ``(x, y)``.

    Parameters
    ----------
    target : BarronTarget
        Sets ``r`` (``x`` is divided by it).
    n_neurons : int
        ``N``.
    x : ndarray, shape (n, d)
        Training inputs (in ``‖x‖ ≤ r``).
    y : ndarray, shape (n,)
        ``f(x)``.
    seed : int
        Random start ``a, b ~ N(0, 1)``, ``v ~ N(0, 4 I)`` (pre-activations ``N(0, 4)`` on
        the sphere of radius ``r``), ``c0 = mean y``; ignored when ``start`` is given.
    start : (float, ndarray of shape (N, 2 + d)), optional
        Starting ``(c0, θ)``.
    max_iter : int
        L-BFGS iteration cap.
    activation : {"tanh", "logistic", "relu"}
        ``σ``.

    Returns
    -------
    dict
        ``c0``, ``theta`` ``(N, 2 + d)`` (``v`` in units of ``1/r``), ``train_risk``,
        ``iterations``, ``converged`` (1 if stopped before the cap).
    """
    n = check_positive_int("n_neurons", n_neurons)
    activation = check_choice("activation", activation, ACTIVATIONS)
    x = np.asarray(x, float) / target.radius
    if start is None:
        rng = np.random.default_rng([int(seed), n, target.d])
        theta0 = np.column_stack([rng.standard_normal((n, 2)),
                                  2 * rng.standard_normal((n, target.d))])
        c0 = float(np.mean(y))
    else:
        c0, theta0 = float(start[0]), np.asarray(start[1], float)
        if theta0.shape != (n, 2 + target.d):
            raise ValueError(f"start: need θ of shape ({n}, {2 + target.d}), got {theta0.shape}")
    fun = functools.partial(risk_and_gradient, x=x, y=np.asarray(y, float), n_neurons=n,
                            activation=activation)  # fmt: skip
    res = minimize(fun, np.concatenate([[c0], theta0.ravel()]), jac=True, method="L-BFGS-B",
                   options={"maxiter": check_positive_int("max_iter", max_iter),
                            "maxfun": 2 * max_iter, "gtol": 1e-12, "ftol": 1e-15})  # fmt: skip
    return {"c0": float(res.x[0]), "theta": res.x[1:].reshape(n, -1),
            "train_risk": float(res.fun), "iterations": int(res.nit),
            "converged": int(res.nit < max_iter)}  # fmt: skip


def chain(target: BarronTarget, n_values, seed: int = 0, samples: int = 100_000,
          max_iter: int = 300, activation: str = "tanh", first_starts: int = 4,
          noise: float = 1e-3, start: str = "split") -> list[dict]:  # fmt: skip
    """Train the smallest ``N`` from random starts, each next ``N`` from the split solution.

    ``start = "fresh"``: every ``N`` from its own random start(s) instead (no chain).

    Parameters
    ----------
    target : BarronTarget
        The target.
    n_values : sequence of int
        Increasing; each a multiple of 2 of the previous (:func:`split_neurons`).
    seed : int
        Seed of the training set, the test set and the random start.
    samples : int
        Size of the training set and of the independent test set.
    max_iter : int
        L-BFGS iterations per ``N``.
    activation : {"tanh", "logistic", "relu"}
        ``σ``.
    first_starts : int
        Random starts at the smallest ``N`` (the best training risk is kept; seeds
        ``1000 seed + j``): a single start of 2 tanh units was seen stuck at ``f_N = mean f``.
    noise : float
        Perturbation of the split start (:func:`split_neurons`; ``v`` is in units of ``1/r``).
    start : {"split", "fresh"}
        Chain of splits, or a random start at every ``N`` (seeds offset by 500).

    Returns
    -------
    list of dict
        One per ``N``: :func:`train`'s keys plus ``risk`` (test-set mean of ``(f_N − f)²``)
        and ``risk_se`` (its standard error), ``variance`` (test-set ``Var f``).
    """
    n_values = [check_positive_int("n_values", n) for n in n_values]
    if any(m != 2 * n for n, m in zip(n_values[:-1], n_values[1:], strict=True)):
        raise ValueError(f"n_values: need each N twice the previous, got {n_values}")
    samples = check_positive_int("samples", samples)
    x = target.sample(samples, [int(seed), target.d, 1])
    xt = target.sample(samples, [int(seed), target.d, 2])
    y, yt = target(x), target(xt)
    first_starts = check_positive_int("first_starts", first_starts)
    fresh = check_choice("start", start, STARTS) == "fresh"
    base = 1000 * int(seed) + 500 * fresh
    out: list[dict] = []
    for n in n_values:
        if not out or fresh:
            runs = [train(target, n, x, y, base + j, None, max_iter, activation)
                    for j in range(first_starts if not out else 1)]  # fmt: skip
            run = min(runs, key=lambda r: r["train_risk"])
        else:
            # the exact split (the previous function, untrained) or the trained perturbed
            # split, whichever has the lower training risk: R_N never exceeds R_{N/2}
            exact = {**out[-1], "theta": split_neurons(out[-1]["theta"]), "iterations": 0,
                     "converged": 1}  # fmt: skip
            init = (out[-1]["c0"], split_neurons(out[-1]["theta"], noise=noise,
                                                 seed=[int(seed), n]))  # fmt: skip
            run = train(target, n, x, y, seed, init, max_iter, activation)
            if run["train_risk"] > exact["train_risk"]:
                run = exact
        f = student_values(run["c0"], run["theta"], xt, target.radius, activation)
        sq = (f - yt) ** 2
        run.update(risk=float(sq.mean()), risk_se=float(sq.std(ddof=1) / np.sqrt(sq.size)),
                   variance=float(yt.var(ddof=1)))  # fmt: skip
        out.append(run)
    return out


def point(target: str, d: int, seed: int, start: str = "split", n_values=FULL["n_values"],
          samples: int = 100_000, max_iter: int = 300,
          activation: str = "tanh") -> xr.Dataset:  # fmt: skip
    """One sweep point: a :func:`chain` at ``(target, d, seed, start)``, a Dataset over ``N``.

    Parameters
    ----------
    target : {"ridge", "bump"}
        The target (default ``r``, ``s``).
    d : int
        Input dimension.
    seed : int
        Seed of the chain.
    start : {"split", "fresh"}
        See :func:`chain`.
    n_values : sequence of int
        Widths (each twice the previous).
    samples, max_iter : int
        See :func:`chain`.
    activation : {"tanh", "logistic", "relu"}
        ``σ``.

    Returns
    -------
    xarray.Dataset
        Over ``N``: ``risk``, ``risk_se``, ``train_risk``, ``relative_risk`` (``R_N/Var f``),
        ``ratio`` (``N R_N/Δ²``), ``bound`` (the constant ``c`` of ``R_N ≤ cΔ²/N``: 1 for
        sigmoids, 2 for relu), ``iterations``, ``converged``; scalars ``delta``, ``variance``.
    """
    tgt = BarronTarget(target, d)
    runs = chain(tgt, n_values, seed, samples, max_iter, activation, start=start)
    n = np.asarray(n_values)
    col = {key: ("N", np.array([r[key] for r in runs]))
           for key in ("risk", "risk_se", "train_risk", "iterations", "converged")}  # fmt: skip
    col["relative_risk"] = ("N", col["risk"][1] / runs[0]["variance"])
    col["ratio"] = ("N", n * col["risk"][1] / tgt.delta**2)
    return xr.Dataset({**col, "delta": tgt.delta, "variance": runs[0]["variance"],
                       "bound": 2.0 if activation == "relu" else 1.0},
                      coords={"N": n})  # fmt: skip


def study(targets=FULL["targets"], n_values=FULL["n_values"], d_values=FULL["d_values"],
          seeds=FULL["seeds"], starts=FULL["starts"], samples: int = FULL["samples"],
          max_iter: int = FULL["max_iter"],
          activation: str = FULL["activation"], scheduler: str | None = None,
          output: str | None = None, progress: bool = True) -> xr.Dataset:  # fmt: skip
    """The ``target × d × seed`` sweep of :func:`point` (a resumable :func:`wgflow.sweep.sweep`).

    Parameters
    ----------
    targets : sequence of {"ridge", "bump"}
        Targets.
    n_values, d_values, seeds : sequence of int
        Widths (each twice the previous), dimensions, seeds.
    starts : sequence of {"split", "fresh"}
        Kinds of start (:func:`chain`).
    samples, max_iter : int
        See :func:`chain`.
    activation : {"tanh", "logistic", "relu"}
        ``σ``.
    scheduler : str, optional
        Dask scheduler address or ``"synchronous"``.
    output : str, optional
        Archive (rerunning resumes it).
    progress : bool
        Progress bar.

    Returns
    -------
    xarray.Dataset
        :func:`point`'s variables over ``(target, d, seed, start, N)``.
    """
    from wgflow.sweep import sweep

    activation = check_choice("activation", activation, ACTIVATIONS)
    fn = functools.partial(point, n_values=tuple(int(n) for n in n_values), samples=int(samples),
                           max_iter=int(max_iter), activation=activation)  # fmt: skip
    grid = {"target": list(targets), "d": list(d_values), "seed": list(seeds),
            "start": [check_choice("starts", v, STARTS) for v in starts]}
    return sweep(fn, grid, scheduler=scheduler, output=output, progress=progress)


def summary(results: xr.Dataset) -> xr.Dataset:
    """Best over seeds and starts (by test risk) of :func:`study`'s result, with the spread.

    Parameters
    ----------
    results : xarray.Dataset
        From :func:`study`.

    Returns
    -------
    xarray.Dataset
        Over ``(target, d, N)``: ``risk``, ``risk_se``, ``ratio``, ``relative_risk`` of the
        best run, ``best_start`` (its kind of start), ``spread`` (worst/best test risk) and
        ``converged`` (runs that stopped before the cap).
    """
    runs = results.stack(run=["seed", "start"])
    best = runs["risk"].fillna(np.inf).argmin("run")
    out = runs[["risk", "risk_se", "ratio", "relative_risk"]].isel(run=best)
    out["best_start"] = runs["start"].isel(run=best)
    out["spread"] = runs["risk"].max("run") / runs["risk"].min("run")
    out["converged"] = runs["converged"].sum("run")
    return out.drop_vars(["run", "seed", "start"], errors="ignore")


def plot(results: xr.Dataset):
    """``N R_N/Δ²`` against ``N`` per target and ``d`` (the bound is 1), and ``R_N/Var f``.

    Parameters
    ----------
    results : xarray.Dataset
        From :func:`study`.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels.
    """
    import matplotlib.pyplot as plt

    best = summary(results)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    n = best["N"].values
    for t, marker in zip(best["target"].values, "os^v", strict=False):
        for d in best["d"].values:
            p = best.sel(target=t, d=d)
            label = f"{t}, d = {int(d)}"
            axes[0].loglog(n, p["ratio"], marker + "-", ms=4, label=label)
            axes[1].loglog(n, p["relative_risk"], marker + "-", ms=4, label=label)
    axes[0].axhline(1.0, color="k", lw=0.8)
    axes[0].set(xlabel="neurons N", ylabel="N R_N / Δ(f)²", title="Barron's bound: ≤ 1")
    axes[1].set(xlabel="neurons N", ylabel="R_N / Var f", title="best of runs (test set)")
    for ax in axes:
        ax.set_xticks(n, [str(int(v)) for v in n])
        ax.minorticks_off()
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def run_study(output: str = "barron", scheduler: str | None = None,
              quick: bool = False) -> int:  # fmt: skip
    """The sweep, its table on stdout and the figure ``PREFIX.png``.

    Parameters
    ----------
    output : str
        Archive prefix (``PREFIX.nc``, resumable).
    scheduler : str, optional
        Dask scheduler address or ``"synchronous"``.
    quick : bool
        The small version (:data:`QUICK`).

    Returns
    -------
    int
        The exit code.
    """
    prefix = output[:-3] if output.endswith(".nc") else output
    options = dict(QUICK if quick else FULL)
    results = study(**options, scheduler=scheduler, output=f"{prefix}.nc")
    best = summary(results)
    runs = results.sizes["seed"] * results.sizes["start"]
    print(f"N R_N / Δ(f)² (best of {runs} runs; test-set R_N ± SE; '+' = a run hit the "
          f"iteration cap); σ = {options['activation']}")  # fmt: skip
    for t in best["target"].values:
        for d in best["d"].values:
            p = best.sel(target=t, d=d)
            delta = float(results["delta"].sel(target=t, d=d).isel(seed=0, start=0))
            cells = [f"{float(q['ratio']):.1e} ({float(q['risk']):.1e}±{float(q['risk_se']):.0e})"
                     + ("+" if int(q["converged"]) < runs else "")
                     for q in (p.sel(N=n) for n in p["N"].values)]  # fmt: skip
            print(f"{t:5s} d={int(d):3d} Δ={delta:6.2f}: " + "  ".join(cells))
    import matplotlib.pyplot as plt

    fig = plot(results)
    fig.savefig(f"{prefix}.png", dpi=110)
    plt.close(fig)
    print(f"archive {prefix}.nc, figure {prefix}.png")
    return 0

