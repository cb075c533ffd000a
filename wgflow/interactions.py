"""Interaction kinds ``U(θ, θ′)`` and their evaluation on grids.

- :class:`PairwiseInteraction`: ``U(θ, θ′) = W(θ − θ′)``; on grids ``W * ρ`` is a zero-padded FFT
  convolution (linear, no periodic wrap-around), cost ``O(n^D log n)``.
- :class:`SeparableInteraction`: ``U(θ, θ′) = Σ_k c_k φ_k(θ) φ_k(θ′)`` (rank K); cost ``O(n^D K)``.
- :class:`GeneralInteraction`: any symmetric ``U(θ, θ′)``; the slow path (dense sums).

Particle solvers need gradients: a pairwise kernel built by :meth:`PairwiseInteraction.power_law`
or :meth:`PairwiseInteraction.gaussian` carries a *radial family* (an integer id and a
parameter vector) that the compiled ``O(N²)`` particle kernel evaluates; any other pairwise
kernel with a numpy ``gradient`` runs on a chunked numpy path.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.fft

from .docstrings import inherit_docstrings
from .errors import ParameterError
from .grid import Grid, box_averages
from .reprs import ParametersRepr
from .validation import strict_keywords


class InteractionTerm:
    """What every interaction provides (reference docstrings for the three kinds)."""

    def on_grid(self, grid: Grid):
        """The operator ``ρ ↦ ∫U(·, θ′) ρ(θ′) dθ′`` on cell averages of ``grid``.

        Parameters
        ----------
        grid : Grid
            The grid.

        Returns
        -------
        callable
            Maps cell averages (shape ``grid.shape``) to the interaction potential at the
            cell centres.
        """
        raise NotImplementedError

    def describe(self) -> dict:
        """JSON-serializable description stored in archives.

        Returns
        -------
        dict
            Kind, name and parameters.
        """
        raise NotImplementedError


@inherit_docstrings(InteractionTerm)
class PairwiseInteraction(ParametersRepr):
    """Translation-invariant interaction ``U(θ, θ′) = W(θ − θ′)`` with ``W`` even.

    Parameters
    ----------
    kernel : callable
        ``W(z)`` for displacements ``z`` of shape ``(..., D)``, returning shape ``(...)``.
        Integrable singularities at 0 (e.g. ``-log|z|``) are allowed: on grids the kernel is
        averaged over cells with ``quadrature``-point Gauss–Legendre rules, whose nodes avoid 0.
    gradient : callable, optional
        ``∇W(z)``, shape ``(..., D)`` → ``(..., D)``; used by particle solvers.
    quadrature : int
        Gauss–Legendre nodes per axis for the cell-averaged kernel (even, so 0 is no node).
    name : str
        Short description stored in archives.
    radial : tuple (int, ndarray), optional
        ``(family, params)`` of a built-in radial kernel (set by :meth:`power_law` and
        :meth:`gaussian`): the particle solver evaluates it in a compiled kernel.

    Notes
    -----
    On a grid with cell averages ``ρ_j``, ``(W * ρ)(x_i) = Σ_j W̄_{i-j} ρ_j h^D`` with
    ``W̄_k = |C|⁻¹ ∫_C W(k h + s) ds``: the exact convolution of ``W`` with the piecewise-constant
    density, up to the quadrature error.
    """

    @strict_keywords
    def __init__(
        self,
        kernel: Callable[[np.ndarray], np.ndarray],
        gradient: Callable[[np.ndarray], np.ndarray] | None = None,
        quadrature: int = 4,
        name: str = "pairwise",
        radial: tuple[int, np.ndarray] | None = None,
    ) -> None:
        if not callable(kernel):
            raise ParameterError(f"kernel: need a callable W(z), got {type(kernel).__name__}")
        if gradient is not None and not callable(gradient):
            raise ParameterError("gradient: need a callable or None")
        if not isinstance(quadrature, int) or quadrature < 2 or quadrature % 2:
            raise ValueError(f"quadrature: need an even integer ≥ 2, got {quadrature!r}")
        self.kernel = kernel
        self.gradient = gradient
        self.quadrature = quadrature
        self.name = name
        self.radial = None if radial is None else (int(radial[0]), np.asarray(radial[1], float))

    def check_dimension(self, dim: int, name: str) -> None:
        """Refuse a dimension where the kernel is not locally integrable.

        A power law's repulsion ``|z|^b / b`` needs ``b > −D`` in ``D`` dimensions.

        Parameters
        ----------
        dim : int
            The dimension of the grid or particles.
        name : str
            The parameter named in the error.

        Raises
        ------
        ValueError
            For a power law with ``b ≤ −dim`` and a non-zero repulsion.
        """
        if self.radial is None or self.radial[0] != RADIAL_POWER_LAW:
            return
        _, b, _, repulsion = self.radial[1]
        if repulsion != 0 and b <= -dim:
            raise ValueError(
                f"{name}: the power-law repulsion |z|^b/b with b = {b:g} is not integrable in "
                f"{dim} dimension(s) (need b > −{dim})"
            )

    @classmethod
    def power_law(
        cls,
        attraction_exponent: float = 2.0,
        repulsion_exponent: float = 1.0,
        attraction: float = 1.0,
        repulsion: float = 1.0,
    ) -> PairwiseInteraction:
        """Attractive–repulsive power law ``W(z) = c_a |z|^a / a − c_r |z|^b / b``.

        ``b = 0`` means ``−c_r log|z|``; ``repulsion = 0`` gives a pure attraction (``a = 2``,
        ``c_a = κ``: the quadratic kernel ``κ|z|²/2``). Needs ``a > 0`` and ``a > b > -D``
        (integrable on grids).

        Parameters
        ----------
        attraction_exponent : float
            ``a > 0``.
        repulsion_exponent : float
            ``b`` with ``a > b > −D`` (``0``: logarithm).
        attraction : float
            ``c_a ≥ 0``.
        repulsion : float
            ``c_r ≥ 0``.

        Returns
        -------
        PairwiseInteraction
            With its gradient and the compiled radial kernel for particles.
        """
        from .validation import check_real

        a = check_real("attraction_exponent", attraction_exponent, low=0.0, low_open=True)
        b = check_real("repulsion_exponent", repulsion_exponent, high=a, high_open=True)
        ca = check_real("attraction", attraction)
        cr = check_real("repulsion", repulsion)

        def kernel(z):
            r = np.sqrt(np.sum(z * z, axis=-1))
            with np.errstate(divide="ignore"):
                rep = np.log(r) if b == 0 else r**b / b
            return ca * r**a / a - cr * rep

        def gradient(z):
            r = np.sqrt(np.sum(z * z, axis=-1, keepdims=True))
            safe = np.where(r > 0, r, 1.0)
            return np.where(r > 0, (ca * safe ** (a - 2) - cr * safe ** (b - 2)) * z, 0.0)

        name = f"power_law(a={a:g}, b={b:g}, c_a={ca:g}, c_r={cr:g})"
        return cls(kernel, gradient, name=name, radial=(RADIAL_POWER_LAW, [a, b, ca, cr]))

    @classmethod
    def gaussian(cls, strength: float = 1.0, width: float = 1.0) -> PairwiseInteraction:
        """``W(z) = c exp(−|z|²/(2 s²))`` (repulsive for ``c > 0``).

        Parameters
        ----------
        strength : float
            ``c``.
        width : float
            ``s > 0``.

        Returns
        -------
        PairwiseInteraction
            With its gradient and the compiled radial kernel for particles.
        """
        from .validation import check_positive, check_real

        c = check_real("strength", strength)
        s = check_positive("width", width)
        if not 1e-150 < s < 1e150:  # s² must be a normal positive float
            raise ValueError(f"width: must lie in (1e-150, 1e150) (s² under/overflows), got {s}")
        s2 = s * s

        def kernel(z):
            return c * np.exp(-np.sum(z * z, axis=-1) / (2 * s2))

        def gradient(z):
            return -(c / s2) * np.exp(-np.sum(z * z, axis=-1, keepdims=True) / (2 * s2)) * z

        return cls(
            kernel,
            gradient,
            name=f"gaussian(c={c:g}, s={s2**0.5:g})",
            radial=(RADIAL_GAUSSIAN, [c, s2]),
        )

    def on_grid(self, grid: Grid) -> GridConvolution:
        return GridConvolution(self, grid)  # FFT of the cell-averaged kernel

    def describe(self) -> dict:
        return {"kind": "pairwise", "name": self.name, "quadrature": self.quadrature}


RADIAL_POWER_LAW = 0
RADIAL_GAUSSIAN = 1


class GridConvolution:
    """``ρ ↦ W * ρ`` at cell centres by zero-padded FFT (no wrap-around)."""

    def __init__(self, interaction: PairwiseInteraction, grid: Grid) -> None:
        self.grid = grid
        self.padded = tuple(2 * n for n in grid.shape)
        kernel = _cell_averaged_kernel(interaction, grid)
        if not np.all(np.isfinite(kernel)):
            raise ValueError(
                f"kernel: {interaction.name} is not finite on the grid's displacements "
                "(a non-integrable singularity?)"
            )
        self._kernel_hat = scipy.fft.rfftn(kernel, s=self.padded)

    def __call__(self, rho: np.ndarray) -> np.ndarray:
        """``(W * ρ)`` at the cell centres; ``rho`` of shape ``grid.shape``."""
        rho_hat = scipy.fft.rfftn(rho, s=self.padded)
        full = scipy.fft.irfftn(rho_hat * self._kernel_hat, s=self.padded)
        return full[tuple(slice(0, n) for n in self.grid.shape)] * self.grid.cell_volume


def _cell_averaged_kernel(interaction: PairwiseInteraction, grid: Grid) -> np.ndarray:
    """Kernel ``W̄_k`` on displacements in circular (FFT) order, shape ``2 n`` per axis."""
    offsets = []
    for n, h in zip(grid.shape, grid.spacing, strict=True):
        k = np.arange(2 * n)
        k = np.where(k < n, k, k - 2 * n).astype(float)  # 0..n-1, -n..-1
        offsets.append(k * h)
    centres = np.stack(np.meshgrid(*offsets, indexing="ij"), axis=-1)
    total = box_averages(interaction.kernel, centres, grid.spacing, interaction.quadrature)
    # the displacement ±n h never occurs between cells of the grid
    for axis, n in enumerate(grid.shape):
        index = [slice(None)] * grid.dim
        index[axis] = n
        total[tuple(index)] = 0.0
    return total


@inherit_docstrings(InteractionTerm)
class SeparableInteraction(ParametersRepr):
    """Finite-rank interaction ``U(θ, θ′) = Σ_{k<K} c_k φ_k(θ) φ_k(θ′)``.

    Parameters
    ----------
    features : callable
        ``φ(θ)`` for points of shape ``(..., D)``, returning shape ``(..., K)``.
    coefficients : array_like, shape (K,)
        Real weights ``c_k``.
    gradient : callable, optional
        ``∇φ(θ)``, shape ``(..., D)`` → ``(..., K, D)``; used by particle solvers (cost O(N K)).
    name : str
        Short description stored in archives.
    """

    @strict_keywords
    def __init__(
        self,
        features: Callable[[np.ndarray], np.ndarray],
        coefficients,
        gradient: Callable[[np.ndarray], np.ndarray] | None = None,
        name: str = "separable",
    ) -> None:
        if not callable(features):
            raise ParameterError(f"features: need a callable φ(θ), got {type(features).__name__}")
        if gradient is not None and not callable(gradient):
            raise ParameterError("gradient: need a callable ∇φ or None")
        self.gradient = gradient
        c = np.atleast_1d(np.asarray(coefficients, dtype=float))
        if c.ndim != 1 or not np.all(np.isfinite(c)):
            raise ValueError(f"coefficients: need a finite 1-D array, got {coefficients!r}")
        self.features = features
        self.coefficients = c
        self.name = name

    @property
    def rank(self) -> int:
        """The number of terms ``K``."""
        return self.coefficients.size

    def on_grid(self, grid: Grid) -> GridSeparable:
        return GridSeparable(self, grid)

    def describe(self) -> dict:
        return {"kind": "separable", "name": self.name, "coefficients": self.coefficients.tolist()}


class GridSeparable:
    """``ρ ↦ Σ_k c_k φ_k ∫ φ_k ρ`` at cell centres."""

    def __init__(self, interaction: SeparableInteraction, grid: Grid) -> None:
        phi = np.asarray(interaction.features(grid.points()), dtype=float)
        if phi.shape != (*grid.shape, interaction.rank):
            raise ValueError(
                f"features: need output shape {(*grid.shape, interaction.rank)} on this grid, "
                f"got {phi.shape}"
            )
        self.grid = grid
        self.phi = np.moveaxis(phi, -1, 0).copy()  # (K, *shape)
        self.coefficients = interaction.coefficients

    def moments(self, rho: np.ndarray) -> np.ndarray:
        """``M_k = ∫ φ_k ρ``, shape ``(K,)``."""
        return self.grid.integrate(self.phi * rho)

    def __call__(self, rho: np.ndarray) -> np.ndarray:
        weights = self.coefficients * self.moments(rho)
        return np.tensordot(weights, self.phi, axes=1)


@inherit_docstrings(InteractionTerm)
class GeneralInteraction(ParametersRepr):
    """Any symmetric interaction ``U(θ, θ′)`` — the slow path.

    On grids the potential is a dense sum over all cell pairs (``O(n^{2D})`` work and memory,
    so at most ``max_cells`` cells); on particles a chunked ``O(N²)`` numpy sum.

    Parameters
    ----------
    kernel : callable
        ``U(θ, θ′)`` for broadcastable arrays of shape ``(..., D)``, returning ``(...)``.
    gradient : callable, optional
        ``∇_θ U(θ, θ′)``, same inputs, returning ``(..., D)``; needed by particle solvers.
    max_cells : int
        Largest grid accepted by :meth:`on_grid`.
    particle_gradient : callable, optional
        Fast path for particle solvers: ``(θ (N, D), weights (N,)) ↦ Σ_j w_j ∇_θ U(θ_i, θ_j)``.
    particle_kernel : callable, optional
        Fast path: ``θ (N, D) ↦ U(θ_i, θ_j)`` of shape ``(N, N)``.
    name : str
        Short description stored in archives.
    """

    @strict_keywords
    def __init__(
        self,
        kernel,
        gradient=None,
        max_cells: int = 4096,
        particle_gradient=None,
        particle_kernel=None,
        name: str = "general",
    ):
        if not callable(kernel):
            raise ParameterError(f"kernel: need a callable U(θ, θ′), got {type(kernel).__name__}")
        for label, f in (
            ("gradient", gradient),
            ("particle_gradient", particle_gradient),
            ("particle_kernel", particle_kernel),
        ):
            if f is not None and not callable(f):
                raise ParameterError(f"{label}: need a callable or None")
        self.kernel = kernel
        self.gradient = gradient
        self.particle_gradient = particle_gradient
        self.particle_kernel = particle_kernel
        self.max_cells = int(max_cells)
        self.name = name
        self._on_grid: tuple[Grid, GridGeneral] | None = None

    def on_grid(self, grid: Grid) -> GridGeneral:
        # the dense matrix costs O(n²) kernel calls (seconds at 64²) and depends only on the
        # grid: a solver and a risk evaluation on the same grid share it
        if self._on_grid is None or self._on_grid[0] != grid:
            self._on_grid = (grid, GridGeneral(self, grid))
        return self._on_grid[1]

    def describe(self) -> dict:
        return {"kind": "general", "name": self.name}


class GridGeneral:
    """``ρ ↦ Σ_j U(x_i, x_j) ρ_j h^D`` with a dense matrix (point values of ``U``)."""

    def __init__(self, interaction: GeneralInteraction, grid: Grid) -> None:
        if grid.size > interaction.max_cells:
            raise ValueError(
                f"grid: {grid.size} cells exceed max_cells={interaction.max_cells} of the general "
                "(dense) interaction; use a pairwise or separable interaction"
            )
        pts = grid.points().reshape(-1, grid.dim)
        self.matrix = np.asarray(interaction.kernel(pts[:, None, :], pts[None, :, :]), float)
        if not np.all(np.isfinite(self.matrix)):
            raise ValueError(f"kernel: {interaction.name} is not finite between grid cells")
        self.grid = grid

    def __call__(self, rho: np.ndarray) -> np.ndarray:
        out = self.matrix @ rho.ravel() * self.grid.cell_volume
        return out.reshape(self.grid.shape)
