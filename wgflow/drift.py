r"""Non-gradient drifts: the one extension of the free-energy contract.

A :class:`~wgflow.FreeEnergy` describes ``∂t ρ = ∇·(ρ ∇Ψ[ρ])``. Some dynamics add a velocity
that is not the gradient of any first variation — SGD's finite-step-size correction, a rotation
field, a measure-dependent radial push. With a :class:`MeanFieldDrift` ``b`` the equation
solved is

.. math::
    \partial_t \rho = \nabla\cdot\big(\rho\,(\nabla\Psi[\rho] - b(\cdot\,;\rho))\big),
    \qquad b(\theta; \rho) = v\big(\theta, \textstyle\int \varphi\, d\rho\big),

i.e. particles move with ``−∇Ψ + b``. The measure enters ``b`` through finitely many moments
``∫φ dρ`` (``φ: R^D → R^K``; none when ``features`` is ``None``), computed by the solver from
its own state: cell averages for :class:`~wgflow.solvers.FiniteVolume` (``b`` is then
evaluated at the face centres and added to the upwind velocity, so the scheme stays
conservative and positivity-preserving under the same CFL with ``max |−∇Ψ + b|``), weighted
particles for :class:`~wgflow.solvers.Particles`. The free energy no longer decays in general,
and JKO (a minimizing movement) refuses it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import ParameterError
from .fingerprint import fingerprint
from .grid import Grid
from .io import to_json
from .reprs import ParametersRepr

__all__ = ["MeanFieldDrift"]


class MeanFieldDrift(ParametersRepr):
    """A velocity ``b(θ; ρ) = v(θ, ∫φ dρ)`` added to ``−∇Ψ``.

    Parameters
    ----------
    velocity : callable
        ``v(points, moments)``: points of shape ``(..., D)`` and moments of shape ``(K,)``
        (``(0,)`` without features) → velocities of shape ``(..., D)``.
    features : callable, optional
        ``φ(points)``: shape ``(..., D)`` → ``(..., K)``; ``None`` for a drift that does not
        depend on the measure.
    name : str
        Short description stored in archives.
    parameters : dict, optional
        JSON-serializable values that determine ``v`` and ``φ`` (archived and compared on
        resume).

    Examples
    --------
    A rotation ``b(x) = B x`` (``B`` antisymmetric) added to the 2-D OU process:

    >>> import numpy as np
    >>> B = np.array([[0.0, 1.0], [-1.0, 0.0]])
    >>> rotation = MeanFieldDrift(lambda x, m: x @ B.T, name="rotation")
    >>> rotation.velocity_at(np.array([[1.0, 0.0]]), np.zeros(0))
    array([[ 0., -1.]])
    """

    def __init__(
        self,
        velocity: Callable,
        features: Callable | None = None,
        name: str = "drift",
        parameters: dict | None = None,
    ) -> None:
        if not callable(velocity):
            raise TypeError(f"velocity: need a callable v(points, moments), got {velocity!r}")
        if features is not None and not callable(features):
            raise TypeError(f"features: need a callable φ(points) or None, got {features!r}")
        if parameters is not None and not isinstance(parameters, dict):
            raise ParameterError(
                f"parameters: need a dict or None, got {type(parameters).__name__}"
            )
        self.velocity = velocity
        self.features = features
        self.name = str(name)
        self.extra = dict(parameters or {})
        try:  # archived with every run: refuse now, not after the run
            to_json(self.extra)
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"parameters: need JSON-serializable values (numbers, strings, lists, dicts, "
                f"arrays), got {self.extra!r} ({exc})"
            ) from exc

    def parameters(self) -> dict:
        """What determines the drift (archived).

        Returns
        -------
        dict
            ``name`` and the given ``parameters``.
        """
        code = fingerprint((self.velocity, self.features))
        return {"name": self.name, "code": code, **self.extra}

    describe = parameters

    def moments_on_grid(
        self, grid: Grid, rho: np.ndarray, features: np.ndarray | None
    ) -> np.ndarray:
        """``∫φ dρ`` for cell averages ``rho`` (midpoint rule).

        Parameters
        ----------
        grid : Grid
            The grid.
        rho : ndarray, shape grid.shape
            Cell averages.
        features : ndarray, shape (*grid.shape, K), optional
            ``φ`` at the cell centres (precomputed by the solver).

        Returns
        -------
        ndarray, shape (K,)
            The moments (``(0,)`` without features).
        """
        if features is None:
            return np.zeros(0)
        flat = features.reshape(rho.size, -1)
        return (rho.ravel() @ flat) * grid.cell_volume

    def moments_of_particles(self, x: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """``∫φ dρ_N = Σ w_i φ(x_i)``.

        Parameters
        ----------
        x : ndarray, shape (N, D)
            Positions.
        weights : ndarray, shape (N,)
            Weights.

        Returns
        -------
        ndarray, shape (K,)
            The moments (``(0,)`` without features).
        """
        if self.features is None:
            return np.zeros(0)
        return weights @ np.asarray(self.features(x), dtype=float).reshape(len(x), -1)

    def velocity_at(self, points: np.ndarray, moments: np.ndarray) -> np.ndarray:
        """``v(points, moments)``, checked.

        Parameters
        ----------
        points : ndarray, shape (..., D)
            Where to evaluate.
        moments : ndarray, shape (K,)
            ``∫φ dρ``.

        Returns
        -------
        ndarray, shape (..., D)
            The velocities.

        Raises
        ------
        ValueError
            A result of another shape, or non-finite values.
        """
        v = np.asarray(self.velocity(points, moments))
        if v.dtype.kind not in "biuf":
            raise ValueError(
                f"drift {self.name!r}: velocity must be real numbers, got dtype {v.dtype}"
                + (" (its imaginary part would be lost)" if v.dtype.kind == "c" else "")
            )
        v = v.astype(float)
        if v.shape != points.shape:
            raise ValueError(
                f"drift {self.name!r}: velocity must have the points' shape {points.shape}, "
                f"got {v.shape}"
            )
        if not np.all(np.isfinite(v)):
            raise ValueError(f"drift {self.name!r}: non-finite velocity")
        return v


def face_points(grid: Grid) -> list[np.ndarray]:
    """Centres of the interior faces normal to each axis.

    Parameters
    ----------
    grid : Grid
        The grid.

    Returns
    -------
    list of ndarray
        Axis ``k``: shape ``(*shape with n_k − 1 along k, D)``.
    """
    points = grid.points()
    out = []
    for k in range(grid.dim):
        lo = [slice(None)] * grid.dim
        hi = [slice(None)] * grid.dim
        lo[k] = slice(0, -1)
        hi[k] = slice(1, None)
        out.append(0.5 * (points[tuple(lo)] + points[tuple(hi)]))
    return out
