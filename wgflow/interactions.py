"""Interaction kinds ``U(θ, θ′)`` and their evaluation on grids.

- :class:`PairwiseInteraction`: ``U(θ, θ′) = W(θ − θ′)``; on grids ``W * ρ`` is a zero-padded FFT
  convolution (linear, no periodic wrap-around), cost ``O(n^D log n)``.
- :class:`SeparableInteraction`: ``U(θ, θ′) = Σ_k c_k φ_k(θ) φ_k(θ′)`` (rank K); cost ``O(n^D K)``.
- :class:`GeneralInteraction`: any symmetric ``U(θ, θ′)``; the slow path (dense sums).

Sign convention (the one used everywhere in wgflow)
---------------------------------------------------
The interaction energy is ``½∫∫W(x − y) ρ(x) ρ(y) dx dy``; the velocity it gives a particle at
``x`` is ``−(∇W * ρ)(x) = −∫∇W(x − y) ρ(y) dy``. So a kernel **increasing** in ``|z|``
(``W′(r) > 0``) pulls particles together: it is **attractive**; a decreasing one is
**repulsive**. Examples: ``|z|²/2`` and ``log|z|`` attract, ``−log|z|`` and
``exp(−|z|²/2)`` repel. Every constructor below says which sign its parameters give:

=========================  ========================================  ===========================
constructor                ``W(z)``, ``r = |z|``                     sign (+: attractive)
=========================  ========================================  ===========================
``newtonian(chi, dim)``    ``−χ Φ_D(r)`` (Keller–Segel)              attractive (``χ > 0``)
``morse(C_a, l_a, …)``     ``−C_a e^{−r/ℓ_a} + C_r e^{−r/ℓ_r}``      ``C_a`` +, ``C_r`` −
``exponential(c, l)``      ``−c e^{−r/ℓ}``                           attractive for ``c > 0``
``yukawa(c, l, dim)``      ``−c G_ℓ(r)`` (screened Newtonian)        attractive for ``c > 0``
``power_law(a, b, …)``     ``c_a r^a/a − c_r r^b/b``                 ``c_a`` +, ``c_r`` −
``gaussian(c, s)``         ``c e^{−r²/(2s²)}``                       **repulsive** for ``c > 0``
=========================  ========================================  ===========================

``Φ_D`` is the fundamental solution of ``−Δ`` (``−Δ Φ_D = δ``): ``−r/2`` (1-D),
``−log(r)/(2π)`` (2-D), ``1/(4πr)`` (3-D). docs/conventions.rst ("Interaction kernels and their
sign") has the full table with singularities and solver support.

Singular kernels (``log r``, ``1/r``) must be locally integrable in the dimension used. On
particles the self term ``j = i`` (and any coincident pair) is skipped on every path; on grids
the kernel is averaged over cells with Gauss–Legendre nodes, which never evaluate ``z = 0``.

Particle solvers need gradients: a kernel from one of the constructors carries a *radial
family* (an integer id and a parameter vector) that the compiled ``O(N²)`` particle kernel
evaluates. A user's own kernel (``PairwiseInteraction(kernel, gradient)`` or
:meth:`PairwiseInteraction.radial_profile`) is compiled with numba by the particle solver when
it can be, and otherwise runs on a chunked numpy path (with a
:class:`~wgflow.errors.CompilationNotice`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import scipy.fft
import scipy.special

from .docstrings import inherit_docstrings
from .errors import ParameterError
from .fingerprint import fingerprint
from .grid import Grid, box_averages
from .reprs import ParametersRepr
from .validation import check_positive, check_real, strict_keywords

#: radial family ids (the compiled particle kernels in ``wgflow.solvers.particle_kernels``
#: switch on them); parameter vectors:
RADIAL_POWER_LAW = 0  #: ``(a, b, c_a, c_r)``: ``W = c_a r^a/a − c_r r^b/b`` (``b = 0``: log)
RADIAL_GAUSSIAN = 1  #: ``(c, s²)``: ``W = c exp(−r²/(2s²))``
RADIAL_NEWTONIAN = 2  #: ``(σχ, D)``: ``W = −σχ Φ_D(r)`` (σ = +1 attractive, −1 repulsive)
RADIAL_MORSE = 3  #: ``(C_a, ℓ_a, C_r, ℓ_r)``: ``W = −C_a e^{−r/ℓ_a} + C_r e^{−r/ℓ_r}``
RADIAL_YUKAWA = 4  #: ``(c, ℓ, D)``: ``W = −c G_ℓ(r)``, ``(−Δ + ℓ⁻²) G_ℓ = δ`` in ``D`` dims

#: largest ``|exponent|`` of :meth:`PairwiseInteraction.power_law`: ``r^a`` stays a normal float
#: (between 1e-256 and 1e256) for every distance ``1e-4 ≤ r ≤ 1e4``, so no sane domain
#: overflows (``r^a/a`` with ``a = 1e308`` overflowed at ``r > 1``)
MAX_EXPONENT = 64.0

#: ``|S^{D−1}|``, the area of the unit sphere in D = 1, 2, 3 dimensions
SPHERE_AREA = {1: 2.0, 2: 2.0 * math.pi, 3: 4.0 * math.pi}


def radial_value(kind: int, params: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``W(r)`` of a radial family, vectorized over ``r`` (numpy reference).

    Parameters
    ----------
    kind : int
        A ``RADIAL_*`` family id.
    params : ndarray
        Its parameter vector (see the ``RADIAL_*`` constants).
    r : ndarray
        Distances ``|z| ≥ 0`` (singular families give ``±inf`` at 0).

    Returns
    -------
    ndarray
        ``W`` at ``r``, same shape.
    """
    r = np.asarray(r, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if kind == RADIAL_POWER_LAW:
            a, b, ca, cr = params
            rep = np.log(r) if b == 0 else r**b / b
            return ca * r**a / a - cr * rep
        if kind == RADIAL_GAUSSIAN:
            c, s2 = params
            return c * np.exp(-r * r / (2 * s2))
        if kind == RADIAL_NEWTONIAN:
            chi, dim = params[0], int(params[1])
            if dim == 1:
                return 0.5 * chi * r
            if dim == 2:
                return chi / (2 * math.pi) * np.log(r)
            return -chi / (4 * math.pi * r)
        if kind == RADIAL_MORSE:
            ca, la, cr, lr = params
            return -ca * np.exp(-r / la) + cr * np.exp(-r / lr)
        if kind == RADIAL_YUKAWA:
            c, ell, dim = params[0], params[1], int(params[2])
            if dim == 1:
                return -0.5 * c * ell * np.exp(-r / ell)
            if dim == 2:
                return -c / (2 * math.pi) * scipy.special.k0(r / ell)
            return -c * np.exp(-r / ell) / (4 * math.pi * r)
    raise ValueError(f"kind: unknown radial family {kind!r}")


def radial_force(kind: int, params: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``W′(r)/r`` of a radial family, so that ``∇W(z) = W′(|z|)/|z| · z`` (numpy reference).

    Parameters
    ----------
    kind : int
        A ``RADIAL_*`` family id.
    params : ndarray
        Its parameter vector.
    r : ndarray
        Distances ``|z| > 0``.

    Returns
    -------
    ndarray
        ``W′(r)/r``, same shape.
    """
    r = np.asarray(r, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if kind == RADIAL_POWER_LAW:
            a, b, ca, cr = params
            return ca * r ** (a - 2) - cr * r ** (b - 2)
        if kind == RADIAL_GAUSSIAN:
            c, s2 = params
            return -(c / s2) * np.exp(-r * r / (2 * s2))
        if kind == RADIAL_NEWTONIAN:
            chi, dim = params[0], int(params[1])
            return chi / (SPHERE_AREA[dim] * r**dim)
        if kind == RADIAL_MORSE:
            ca, la, cr, lr = params
            return (ca / la * np.exp(-r / la) - cr / lr * np.exp(-r / lr)) / r
        if kind == RADIAL_YUKAWA:
            c, ell, dim = params[0], params[1], int(params[2])
            if dim == 1:
                return 0.5 * c * np.exp(-r / ell) / r
            if dim == 2:
                return c * scipy.special.k1(r / ell) / (2 * math.pi * ell * r)
            return c * np.exp(-r / ell) * (1 / ell + 1 / r) / (4 * math.pi * r * r)
    raise ValueError(f"kind: unknown radial family {kind!r}")


def _family_kernel(kind: int, params: np.ndarray):
    """Vectorized ``W(z)`` and ``∇W(z)`` (``0`` at ``z = 0``) of a radial family."""

    def kernel(z):
        return radial_value(kind, params, np.sqrt(np.sum(z * z, axis=-1)))

    def gradient(z):
        r = np.sqrt(np.sum(z * z, axis=-1, keepdims=True))
        safe = np.where(r > 0, r, 1.0)
        return np.where(r > 0, radial_force(kind, params, safe) * z, 0.0)

    return kernel, gradient


def _check_dim(dim) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim not in (1, 2, 3):
        raise ValueError(f"dim: need 1, 2 or 3, got {dim!r}")
    return int(dim)


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

    Sign convention: the energy is ``½∫∫W(x − y) dρ dρ`` and the force on a particle is
    ``−∇W * ρ``, so ``W`` increasing in ``|z|`` is attractive (see the module docstring).

    Parameters
    ----------
    kernel : callable
        ``W(z)`` for displacements ``z`` of shape ``(..., D)``, returning shape ``(...)``
        (vectorized numpy). Integrable singularities at 0 (e.g. ``-log|z|``) are allowed: on
        grids the kernel is averaged over cells with ``quadrature``-point Gauss–Legendre rules,
        whose nodes avoid 0, and particles skip the self term ``j = i``. When a grid or
        particles first meet it, a user's kernel (and gradient) is probed
        (:func:`check_user_kernel`: shape, finite, even, ``∇W`` consistent with ``W``), and on
        grids its cell averages must converge (:func:`check_cell_averages`).
    gradient : callable, optional
        ``∇W(z)``, shape ``(..., D)`` → ``(..., D)``; used by particle solvers, which compile
        it (and ``kernel``) with numba when they can, else run it as numpy.
    quadrature : int
        Gauss–Legendre nodes per axis for the cell-averaged kernel (even, so 0 is no node).
    name : str
        Short description stored in archives.
    radial : tuple (int, ndarray), optional
        ``(family, params)`` of a built-in radial kernel (set by the constructors
        :meth:`newtonian`, :meth:`morse`, …): the particle solver evaluates it in a compiled
        kernel.
    dim : int, optional
        The only dimension the kernel is defined in (e.g. Newtonian kernels); grids and
        particles of another dimension are refused. ``None``: any dimension.
    profile : tuple (callable, callable or None), optional
        ``(φ, φ′)``: scalar functions of ``r`` with ``W(z) = φ(|z|)`` (set by
        :meth:`radial_profile`); the particle solver compiles them into its ``O(N²)`` loop.

    Notes
    -----
    On a grid with cell averages ``ρ_j``, ``(W * ρ)(x_i) = Σ_j W̄_{i-j} ρ_j h^D`` with
    ``W̄_k = |C|⁻¹ ∫_C W(k h + s) ds``: the exact convolution of ``W`` with the piecewise-constant
    density, up to the quadrature error.

    Examples
    --------
    Keller–Segel in 2-D (``∂tρ = Δρ − χ∇·(ρ∇c)``, ``−Δc = ρ``) is the entropy plus the
    attractive Newtonian kernel:

    >>> import wgflow as wg
    >>> ks = wg.FreeEnergy(
    ...     interaction=wg.PairwiseInteraction.newtonian(chi=4.0, dim=2), internal=wg.Entropy(1.0)
    ... )
    """

    @strict_keywords
    def __init__(
        self,
        kernel: Callable[[np.ndarray], np.ndarray],
        gradient: Callable[[np.ndarray], np.ndarray] | None = None,
        quadrature: int = 4,
        name: str = "pairwise",
        radial: tuple[int, np.ndarray] | None = None,
        dim: int | None = None,
        profile: tuple[Callable, Callable | None] | None = None,
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
        self.dim = None if dim is None else _check_dim(dim)
        if profile is not None and (
            len(profile) != 2
            or not callable(profile[0])
            or (profile[1] is not None and not callable(profile[1]))
        ):
            raise ParameterError("profile: need (φ, φ′) with φ callable and φ′ callable or None")
        self.profile = None if profile is None else tuple(profile)

    def check_dimension(self, dim: int, name: str) -> None:
        """Refuse a dimension where the kernel is not defined or not locally integrable.

        A power law's repulsion ``|z|^b / b`` needs ``b > −D`` in ``D`` dimensions; a kernel
        built for one dimension (:meth:`newtonian`, :meth:`yukawa`, or ``dim=``) refuses
        the others. A user's kernel (not a built-in family) is probed once per dimension by
        :func:`check_user_kernel`.

        Parameters
        ----------
        dim : int
            The dimension of the grid or particles.
        name : str
            The parameter named in the error.

        Raises
        ------
        ValueError
            For a kernel of another dimension, or a power law with ``b ≤ −dim`` and a
            non-zero repulsion; for a user's kernel, anything :func:`check_user_kernel`
            refuses (wrong output shape, an exception, ``W`` not finite, not even, or a
            gradient that disagrees with ``W``).
        """
        if self.dim is not None and dim != self.dim:
            raise ValueError(
                f"{name}: the interaction {self.name} is defined in {self.dim} dimension(s), "
                f"got {dim}-D (build it with dim={dim})"
            )
        if self.radial is None:
            # a user's kernel: probe it once per dimension (and per kernel/gradient)
            key = (dim, id(self.kernel), id(self.gradient))
            probed = self.__dict__.setdefault("_probed", set())
            if key not in probed:
                check_user_kernel(self.kernel, self.gradient, dim)
                probed.add(key)
            return
        if self.radial[0] != RADIAL_POWER_LAW:
            return
        _, b, _, repulsion = self.radial[1]
        if repulsion != 0 and b <= -dim:
            raise ValueError(
                f"{name}: the power-law repulsion |z|^b/b with b = {b:g} is not integrable in "
                f"{dim} dimension(s) (need b > −{dim})"
            )

    @classmethod
    def _family(cls, kind: int, params, name: str, dim: int | None = None) -> PairwiseInteraction:
        params = np.asarray(params, dtype=float)
        kernel, gradient = _family_kernel(kind, params)
        return cls(kernel, gradient, name=name, radial=(kind, params), dim=dim)

    @classmethod
    def newtonian(
        cls, chi: float = 1.0, dim: int = 2, repulsive: bool = False
    ) -> PairwiseInteraction:
        """Attractive Newtonian (Keller–Segel) kernel ``W = −χ Φ_D``, ``−Δ Φ_D = δ``.

        ``W(z) = χ|z|/2`` (1-D), ``(χ/2π) log|z|`` (2-D), ``−χ/(4π|z|)`` (3-D); ``∇W(z) =
        χ z / (|S^{D−1}| |z|^D)``. With ``Entropy(beta=1)`` in 2-D this is the Keller–Segel
        model ``∂tρ = Δρ − χ∇·(ρ∇c)``, ``−Δc = ρ``, whose critical mass is ``8π/χ``.
        Singular at 0 in 2-D (log) and 3-D (``1/r``), integrable in its dimension; the
        self term is skipped on particles.

        Parameters
        ----------
        chi : float
            Sensitivity ``χ > 0`` (a repulsive kernel: ``repulsive=True``, never ``χ < 0``).
        dim : int
            The dimension ``D ∈ {1, 2, 3}``; grids and particles of another dimension are
            refused.
        repulsive : bool
            ``True``: the repulsive (Coulomb, electrostatic) kernel ``W = +χ Φ_D``.

        Returns
        -------
        PairwiseInteraction
            With its gradient, the compiled radial family for particles and ``dim`` set.
        """
        chi = check_real("chi", chi)
        if chi <= 0:
            raise ValueError(
                f"chi: must be > 0, got {chi:g}; for a repulsive (Coulomb) kernel pass "
                "repulsive=True with chi > 0"
            )
        chi = check_positive("chi", chi)
        dim = _check_dim(dim)
        if not isinstance(repulsive, bool | np.bool_):
            raise ValueError(f"repulsive: need True or False, got {repulsive!r}")
        sign = -1.0 if repulsive else 1.0
        label = "coulomb" if repulsive else "newtonian"
        return cls._family(
            RADIAL_NEWTONIAN, [sign * chi, dim], f"{label}(chi={chi:g}, dim={dim})", dim=dim
        )

    @classmethod
    def morse(
        cls,
        attraction: float = 1.0,
        attraction_length: float = 1.0,
        repulsion: float = 0.5,
        repulsion_length: float = 0.5,
    ) -> PairwiseInteraction:
        """Morse kernel ``W(z) = −C_a e^{−r/ℓ_a} + C_r e^{−r/ℓ_r}``, ``r = |z|``.

        The ``C_a`` term attracts, the ``C_r`` term repels (short-range repulsion for
        ``ℓ_r < ℓ_a``, ``C_r > C_a``). Bounded, any dimension. ``∇W`` is discontinuous at 0
        (a cone) unless ``C_a/ℓ_a = C_r/ℓ_r``: the self term is 0 by symmetry and skipped.

        Parameters
        ----------
        attraction : float
            ``C_a ≥ 0``.
        attraction_length : float
            ``ℓ_a > 0``.
        repulsion : float
            ``C_r ≥ 0`` (not both strengths 0).
        repulsion_length : float
            ``ℓ_r > 0``.

        Returns
        -------
        PairwiseInteraction
            With its gradient and the compiled radial family for particles.
        """
        ca = check_real("attraction", attraction, low=0.0)
        la = check_positive("attraction_length", attraction_length)
        cr = check_real("repulsion", repulsion, low=0.0)
        lr = check_positive("repulsion_length", repulsion_length)
        if ca == 0 and cr == 0:
            raise ValueError("attraction, repulsion: both are 0 (no interaction); need one > 0")
        name = f"morse(C_a={ca:g}, l_a={la:g}, C_r={cr:g}, l_r={lr:g})"
        return cls._family(RADIAL_MORSE, [ca, la, cr, lr], name)

    @classmethod
    def exponential(cls, strength: float = 1.0, length: float = 1.0) -> PairwiseInteraction:
        """``W(z) = −c e^{−|z|/ℓ}``: attractive for ``c > 0``, repulsive for ``c < 0``.

        Bounded, any dimension; ``∇W`` is a cone at 0 (the self term is 0 and skipped).

        Parameters
        ----------
        strength : float
            ``c ≠ 0``.
        length : float
            ``ℓ > 0``.

        Returns
        -------
        PairwiseInteraction
            With its gradient and the compiled radial family for particles.
        """
        c = check_real("strength", strength)
        ell = check_positive("length", length)
        if c == 0:
            raise ValueError("strength: must be non-zero (c > 0 attracts, c < 0 repels), got 0")
        params = [c, ell, 0.0, 1.0] if c > 0 else [0.0, 1.0, -c, ell]
        return cls._family(RADIAL_MORSE, params, f"exponential(c={c:g}, l={ell:g})")

    @classmethod
    def yukawa(
        cls, strength: float = 1.0, length: float = 1.0, dim: int = 3
    ) -> PairwiseInteraction:
        """Screened Newtonian kernel ``W = −c G_ℓ``, ``(−Δ + ℓ⁻²) G_ℓ = δ`` in ``D`` dims.

        ``W(z) = −(cℓ/2) e^{−r/ℓ}`` (1-D), ``−(c/2π) K₀(r/ℓ)`` (2-D), ``−c e^{−r/ℓ}/(4πr)``
        (3-D), ``r = |z|``; same sign convention as :meth:`newtonian` (attractive for
        ``c > 0``), to which it tends (up to a constant) as ``ℓ → ∞``. Singular at 0 in 2-D
        (log) and 3-D (``1/r``), integrable in its dimension.

        Parameters
        ----------
        strength : float
            ``c ≠ 0``.
        length : float
            Screening length ``ℓ > 0``.
        dim : int
            The dimension ``D ∈ {1, 2, 3}``; grids and particles of another dimension are
            refused.

        Returns
        -------
        PairwiseInteraction
            With its gradient, the compiled radial family for particles and ``dim`` set.
        """
        c = check_real("strength", strength)
        ell = check_positive("length", length)
        if c == 0:
            raise ValueError("strength: must be non-zero (c > 0 attracts, c < 0 repels), got 0")
        dim = _check_dim(dim)
        name = f"yukawa(c={c:g}, l={ell:g}, dim={dim})"
        return cls._family(RADIAL_YUKAWA, [c, ell, dim], name, dim=dim)

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
        ``c_a = κ``: the quadratic kernel ``κ|z|²/2``), ``attraction = 0`` a pure repulsion.
        Needs ``a > 0`` and ``a > b > -D`` (integrable on grids), and ``a ≤ 64`` (see
        :data:`MAX_EXPONENT`). The ``c_a`` term always attracts and the ``c_r`` term always
        repels, so both coefficients are ``≥ 0``: an attractive log or Newtonian kernel is
        :meth:`newtonian`, not a negative ``c_r``.

        Parameters
        ----------
        attraction_exponent : float
            ``0 < a ≤ 64``.
        repulsion_exponent : float
            ``b`` with ``a > b > −D`` (``0``: logarithm).
        attraction : float
            ``c_a ≥ 0``.
        repulsion : float
            ``c_r ≥ 0`` (not both 0).

        Returns
        -------
        PairwiseInteraction
            With its gradient and the compiled radial kernel for particles.
        """
        a = check_real(
            "attraction_exponent",
            attraction_exponent,
            low=0.0,
            high=MAX_EXPONENT,
            low_open=True,
        )
        b = check_real(
            "repulsion_exponent", repulsion_exponent, low=-MAX_EXPONENT, high=a, high_open=True
        )
        ca = check_real("attraction", attraction)
        cr = check_real("repulsion", repulsion)
        if ca < 0:
            raise ValueError(
                f"attraction: must be ≥ 0, got {ca:g} (the c_a|z|^a/a term attracts; a "
                "negative c_a would make it repel: use the repulsion term, i.e. swap the "
                "roles, or PairwiseInteraction.morse / gaussian for other shapes)"
            )
        if cr < 0:
            raise ValueError(
                f"repulsion: must be ≥ 0, got {cr:g} (the −c_r|z|^b/b term repels; for an "
                "attractive log or 1/|z| kernel use PairwiseInteraction.newtonian(chi, dim), "
                "or swap the roles of the two terms, or PairwiseInteraction.morse)"
            )
        if ca == 0 and cr == 0:
            raise ValueError("attraction, repulsion: both are 0 (no interaction); need one > 0")
        name = f"power_law(a={a:g}, b={b:g}, c_a={ca:g}, c_r={cr:g})"
        return cls._family(RADIAL_POWER_LAW, [a, b, ca, cr], name)

    @classmethod
    def gaussian(cls, strength: float = 1.0, width: float = 1.0) -> PairwiseInteraction:
        """``W(z) = c exp(−|z|²/(2 s²))``: **repulsive** for ``c > 0``, attractive for ``c < 0``.

        Bounded and smooth, any dimension.

        Parameters
        ----------
        strength : float
            ``c ≠ 0``.
        width : float
            ``s > 0``.

        Returns
        -------
        PairwiseInteraction
            With its gradient and the compiled radial kernel for particles.
        """
        c = check_real("strength", strength)
        if c == 0:
            raise ValueError("strength: must be non-zero (c > 0 repels, c < 0 attracts), got 0")
        s = check_positive("width", width)
        if not 1e-150 < s < 1e150:  # s² must be a normal positive float
            raise ValueError(f"width: must lie in (1e-150, 1e150) (s² under/overflows), got {s}")
        s2 = s * s
        return cls._family(RADIAL_GAUSSIAN, [c, s2], f"gaussian(c={c:g}, s={s2**0.5:g})")

    @classmethod
    def radial_profile(
        cls,
        profile: Callable[[float], float],
        derivative: Callable[[float], float] | None = None,
        name: str = "radial_profile",
        dim: int | None = None,
        quadrature: int = 4,
    ) -> PairwiseInteraction:
        """A user's radial kernel ``W(z) = φ(|z|)`` from scalar functions of ``r``.

        The particle solver compiles ``φ`` and ``φ′`` with numba and calls them inside its
        ``O(N²)`` loop (as fast as the built-in families); when they do not compile it runs
        the vectorized numpy path and warns :class:`~wgflow.errors.CompilationNotice`. Write
        them with ``math``/``numpy`` functions of one float. Sign: ``φ′ > 0`` attracts.

        Parameters
        ----------
        profile : callable
            ``φ(r)`` for a float ``r > 0`` (it may be singular at 0 if integrable); if it also
            accepts an array of ``r`` it is used vectorized on grids, else through
            ``numpy.vectorize``.
        derivative : callable, optional
            ``φ′(r)``. ``None``: a fourth-order central difference with step ``10⁻³ r``
            (relative error about ``10⁻¹¹`` for smooth ``φ``).
        name : str
            Short description stored in archives.
        dim : int, optional
            The only dimension the kernel is defined in (``None``: any).
        quadrature : int
            Gauss–Legendre nodes per axis for the cell-averaged kernel on grids (even).

        Returns
        -------
        PairwiseInteraction
            With a vectorized kernel and gradient and ``profile = (φ, φ′)``.
        """
        if not callable(profile):
            raise ParameterError(f"profile: need a callable φ(r), got {type(profile).__name__}")
        if derivative is not None and not callable(derivative):
            raise ParameterError("derivative: need a callable φ′(r) or None")
        phi = _vectorized(profile, "profile")
        dphi = _fd_derivative(phi) if derivative is None else _vectorized(derivative, "derivative")

        def kernel(z):
            return phi(np.sqrt(np.sum(z * z, axis=-1)))

        def gradient(z):
            r = np.sqrt(np.sum(z * z, axis=-1, keepdims=True))
            safe = np.where(r > 0, r, 1.0)
            return np.where(r > 0, dphi(safe) / safe * z, 0.0)

        return cls(
            kernel,
            gradient,
            quadrature=quadrature,
            name=name,
            dim=dim,
            profile=(profile, derivative),
        )

    def on_grid(self, grid: Grid) -> GridConvolution:
        return GridConvolution(self, grid)  # FFT of the cell-averaged kernel

    def describe(self) -> dict:
        user = self.profile if self.profile is not None else (self.kernel, self.gradient)
        code = fingerprint(user)
        return {"kind": "pairwise", "name": self.name, "quadrature": self.quadrature, "code": code}


#: relative step of the central difference used when :meth:`PairwiseInteraction.radial_profile`
#: gets no derivative
FD_STEP = 1e-3


def _fd_derivative(phi):
    """Fourth-order central difference ``φ′(r)`` with step ``FD_STEP · r`` (vectorized)."""

    def dphi(r):
        r = np.asarray(r, dtype=float)
        h = FD_STEP * r
        return (phi(r - 2 * h) - 8 * phi(r - h) + 8 * phi(r + h) - phi(r + 2 * h)) / (12 * h)

    return dphi


def _vectorized(func, label: str):
    """``func`` itself when it maps arrays of ``r`` elementwise, else ``numpy.vectorize``."""
    probe = np.array([[0.5, 1.0, 2.0]])
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(func(probe), dtype=float)
        if out.shape == probe.shape:
            return func
    except Exception:  # noqa: BLE001 - a scalar-only function (math.exp, if/else, …)
        pass
    vec = np.vectorize(func, otypes=[float])

    def scalar_wise(r):
        return vec(np.asarray(r, dtype=float))

    scalar_wise.__name__ = getattr(func, "__name__", label)
    return scalar_wise


def evaluate_checked(func, label: str, z: np.ndarray) -> np.ndarray:
    """``func(z)`` as floats; an exception or a wrong shape is a ``ValueError`` naming ``label``.

    Parameters
    ----------
    func : callable
        A user's ``W`` (``label="kernel"``, ``(..., D) → (...)``) or ``∇W``
        (``label="gradient"``, ``(..., D) → (..., D)``).
    label : str
        ``"kernel"`` or ``"gradient"``.
    z : ndarray, shape (..., D)
        Displacements.

    Returns
    -------
    ndarray
        The values, of shape ``z.shape[:-1]`` (kernel) or ``z.shape`` (gradient).
    """
    symbol = "W" if label == "kernel" else "∇W"
    expected = z.shape[:-1] if label == "kernel" else z.shape
    dim = z.shape[-1]
    try:
        out = np.asarray(func(z), dtype=float)
    except Exception as exc:  # noqa: BLE001 - reported with the parameter's name
        raise ValueError(
            f"{label}: evaluating {symbol} on {dim}-D displacements z of shape {z.shape} "
            f"failed with {type(exc).__name__}: {exc} ({symbol} gets z of shape (..., D) with D "
            f"= {dim} here, the dimension of the grid or particles; a kernel written for "
            "another dimension: say so with dim=…)"
        ) from exc
    if out.shape != expected:
        raise ValueError(
            f"{label}: {symbol}(z) must map z of shape (..., D) to shape "
            f"{'(...)' if label == 'kernel' else '(..., D)'}; on z of shape {z.shape} "
            f"expected {expected}, got {out.shape}"
        )
    return out


#: the probe of :func:`check_user_kernel`: lengths ``|z|`` from 0.0137 to 97 (ratio 5.9, none
#: of them a round number, where users put cut-offs and kinks) ...
PROBE_RADII = 10.0 ** (-1.863 + 0.77 * np.arange(6))
#: ... along fixed directions whose components all differ in size (no axis, no diagonal)
PROBE_DIRECTIONS = {
    1: np.array([[1.0], [-1.0], [1.0], [-1.0], [1.0], [-1.0]]),
    2: np.array(
        [[0.8, 0.6], [-0.45, 0.89], [-0.6, -0.8], [0.36, -0.93], [0.95, 0.31], [-0.7, 0.5]]
    ),
    3: np.array(
        [
            [0.62, -0.35, 0.70],
            [-0.48, 0.81, 0.33],
            [0.41, 0.57, -0.71],
            [-0.77, -0.38, 0.51],
            [0.30, -0.66, -0.69],
            [0.52, 0.74, -0.42],
        ]
    ),
}
#: ``W`` must be finite at the probe lengths up to this (farther, a kernel may overflow:
#: ``exp(r²)`` on a small domain)
PROBE_FINITE_UP_TO = 10.0
#: evenness: ``|W(z) − W(−z)| ≤ EVEN_RTOL (|W(z)| + |W(−z)|) + 1e-10 max |W|`` (rounding only)
EVEN_RTOL = 1e-8
#: the two central-difference steps, relative to ``|z|``: where the two differences agree to
#: ``FD_AGREE`` (relative), the difference is trusted; elsewhere (a kink, a noisy or
#: single-precision ``W``, a scale far below ``|z|``) the point is skipped
FD_STEPS = (1e-4, 1e-5)
FD_AGREE = 1e-4
#: a point is trusted only if ``FD_ROUNDING · eps · max|W| / h`` (the rounding of ``W`` seen by
#: the smaller step) is itself below the agreement tolerance
FD_ROUNDING = 16.0
#: ``|∇W − FD| ≤ GRADIENT_RTOL |FD| + 1e-8 max |FD|``: a correct ``∇W`` of a smooth ``W`` in double
#: precision is within about 1e-6 of the trusted difference; a wrong sign (error ``2|FD|``) or a
#: factor off by more than 0.1 % is refused
GRADIENT_RTOL = 1e-3


def gradient_mismatch(claimed, coarse, fine, rounding=0.0, usable=True) -> np.ndarray:
    """Where a claimed gradient disagrees with trusted central differences.

    A point is trusted where everything is finite and the two differences (steps
    :data:`FD_STEPS`) agree to :data:`FD_AGREE` (relative, plus ``rounding``); there the claim
    must match the finer one to :data:`GRADIENT_RTOL` (both up to ``1e-8`` of the largest
    difference).

    Parameters
    ----------
    claimed, coarse, fine : ndarray, shape (..., K)
        The user's gradient (or directional derivative, ``K = 1``) and the two differences.
    rounding : float or ndarray, shape (...)
        The rounding of ``W`` seen by the finer difference.
    usable : bool or ndarray, shape (...)
        Points to consider at all (e.g. where ``W`` is finite).

    Returns
    -------
    ndarray of bool, shape (...)
        The trusted points where the claim is wrong.
    """
    size = np.linalg.norm(fine, axis=-1)
    usable = (
        usable
        & np.all(np.isfinite(claimed), axis=-1)
        & np.all(np.isfinite(coarse), axis=-1)
        & np.all(np.isfinite(fine), axis=-1)
        & np.isfinite(rounding)
    )
    floor = 1e-8 * np.max(np.where(usable, size, 0.0), initial=0.0)
    spread = np.linalg.norm(coarse - fine, axis=-1) + rounding
    trusted = usable & (spread <= FD_AGREE * size + floor)
    return trusted & (np.linalg.norm(claimed - fine, axis=-1) > GRADIENT_RTOL * size + floor)


def probe_displacements(dim: int) -> np.ndarray:
    """The fixed displacements of :func:`check_user_kernel`, shape ``(2, 3, dim)``.

    Parameters
    ----------
    dim : {1, 2, 3}
        The dimension ``D`` of the displacements.

    Returns
    -------
    ndarray, shape (2, 3, dim)
        Six displacements ``z`` with lengths ``PROBE_RADII`` (0.0137 to 97, increasing in C
        order), along the fixed unit directions ``PROBE_DIRECTIONS[dim]``.
    """
    d = PROBE_DIRECTIONS[dim]
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    return (PROBE_RADII[:, None] * d).reshape(2, 3, dim)


def check_user_kernel(kernel, gradient, dim: int) -> None:
    """Probe a user's ``W`` (and ``∇W``) at fixed displacements before a grid or particles use it.

    At 6 displacements ``z`` with ``|z|`` from 0.0137 to 97 (:func:`probe_displacements`,
    shape ``(2, 3, D)``; never 0), in this order:

    1. ``W(z)`` and ``∇W(z)`` must return shapes ``(2, 3)`` and ``(2, 3, D)`` (an exception
       is a ``ValueError`` naming ``kernel`` / ``gradient``, chained to it);
    2. ``W`` must be finite at ``|z| ≤ 10`` (NaN or ``±inf`` there is refused);
    3. ``W`` must be even: ``|W(z) − W(−z)| ≤ 1e-8 (|W(z)| + |W(−z)|) + 1e-10 max|W|``;
    4. ``∇W`` must agree with the central difference of ``W``: steps ``1e-4|z|`` and
       ``1e-5|z|``; a point where the two differences agree to ``1e-4`` (relative, counting
       the rounding ``16 eps max|W| / h`` of the smaller step) is trusted, and there
       ``|∇W − FD| ≤ 1e-3 |FD| + 1e-8 max|FD|`` is required. Points where ``W`` or ``∇W`` is
       not finite, or the differences disagree (a kink, a noisy or single-precision ``W``, a
       large constant in ``W``), are skipped.

    Parameters
    ----------
    kernel : callable
        ``W(z)``.
    gradient : callable or None
        ``∇W(z)`` (``None``: step 4 is skipped).
    dim : int
        The dimension ``D``.

    Raises
    ------
    ValueError
        Naming ``kernel`` (steps 1–3) or ``gradient`` (steps 1, 4).
    """
    z = probe_displacements(dim)
    r = np.sqrt(np.sum(z * z, axis=-1))

    def where(mask):
        i = np.unravel_index(np.argmax(mask), mask.shape)
        return f"|z| = {r[i]:.3g} (z = {np.array2string(z[i], precision=4)})", i

    with np.errstate(all="ignore"):
        w = evaluate_checked(kernel, "kernel", z.copy())
        g = None if gradient is None else evaluate_checked(gradient, "gradient", z.copy())
        bad = ~np.isfinite(w) & (r <= PROBE_FINITE_UP_TO)
        if bad.any():
            text, i = where(bad)
            raise ValueError(
                f"kernel: W returned {w[i]} at {text}; W must be finite away from z = 0 (it "
                "may be singular at 0 only)"
            )
        w_minus = evaluate_checked(kernel, "kernel", -z)
        both = np.isfinite(w) & np.isfinite(w_minus)
        scale = np.max(np.abs(w[both]), initial=0.0)
        odd = both & (
            np.abs(w - w_minus) > EVEN_RTOL * (np.abs(w) + np.abs(w_minus)) + 1e-10 * scale
        )
        if odd.any():
            text, i = where(odd)
            raise ValueError(
                f"kernel: W must be even (W(z) = W(−z), U(θ, θ′) = W(θ − θ′) is symmetric), "
                f"got W(z) = {w[i]:.6g} and W(−z) = {w_minus[i]:.6g} at {text}"
            )
        if g is None:
            return
        fds, rounding = [], np.zeros_like(r)
        for rel in FD_STEPS:
            h = rel * r
            cols, big = [], np.zeros_like(r)
            for k in range(dim):
                step = np.zeros_like(z)
                step[..., k] = h
                plus = evaluate_checked(kernel, "kernel", z + step)
                minus = evaluate_checked(kernel, "kernel", z - step)
                cols.append((plus - minus) / (2 * h))
                big = np.maximum(big, np.maximum(np.abs(plus), np.abs(minus)))
            fds.append(np.stack(cols, axis=-1))
            # what rounding W to a few ulps does to the difference (a large constant in W)
            rounding = FD_ROUNDING * np.finfo(float).eps * big / h * math.sqrt(dim)
        coarse, fine = fds
        wrong = gradient_mismatch(g, coarse, fine, rounding, usable=np.isfinite(w))
    if wrong.any():
        text, i = where(wrong)
        raise ValueError(
            f"gradient: ∇W disagrees with the finite difference of W at {text} (got "
            f"{np.array2string(g[i], precision=6)}, expected "
            f"{np.array2string(fine[i], precision=6)}; tolerance 1e-3 relative): it must be the "
            "gradient of the kernel, with the same sign"
        )


def _cell_average(func, centre: np.ndarray, spacing, order: int) -> float:
    """The ``order^D``-node tensor Gauss–Legendre average of ``func`` over one cell (one call)."""
    nodes, weights = np.polynomial.legendre.leggauss(order)
    axes = [centre[k] + nodes * h / 2 for k, h in enumerate(spacing)]
    points = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    w = math.prod(np.meshgrid(*([weights / 2] * len(spacing)), indexing="ij"))
    return float(np.sum(w * func(points)))


def check_cell_averages(interaction: PairwiseInteraction, grid: Grid, kernel: np.ndarray) -> None:
    """Refuse a user's kernel whose cell averages do not converge with the quadrature order.

    On the cell of displacement 0 and the cell where ``|W̄|`` is largest, ``W`` is averaged
    again with ``2q`` and ``4q`` Gauss–Legendre nodes per axis (``q = quadrature``): changes
    ``d₁ = |W̄_{2q} − W̄_q|``, ``d₂ = |W̄_{4q} − W̄_{2q}|``, relative to ``S``, the largest
    ``|W̄|`` of the cell and its neighbours. An integrable singularity ``|z|^b`` (``b > −D``)
    makes the changes shrink (``d₂/d₁ ≈ 2^{−(b+D)}``: 0.27 for the 3-D Newtonian kernel, 0.54
    for a 1-D log, 0.87 for ``|z|^{-0.75}`` in 1-D), a non-integrable one (``b ≤ −D``, a pole
    at ``|z| > 0``) does not (``d₂/d₁ ≥ 1.02``) or makes the averages jump. Refused: ``max(d₁,
    d₂) > 0.05 S`` and (``d₂ > 0.95 d₁`` or ``max(d₁, d₂) > 0.5 S``). Barely integrable
    singularities (``b`` within about 0.15 of ``−D``, where the ``q``-node average is itself
    20 % off) can be refused too.

    Parameters
    ----------
    interaction : PairwiseInteraction
        The kernel (a built-in family too: integrable by construction, but one much narrower
        than the grid spacing is under-resolved by its cell averages and refused here).
    grid : Grid
        The grid.
    kernel : ndarray
        The ``q``-node cell averages from :func:`_cell_averaged_kernel`.

    Raises
    ------
    ValueError
        Naming ``kernel``.
    """
    q = interaction.quadrature
    magnitude = np.abs(kernel)
    cells = {(0,) * grid.dim, np.unravel_index(np.argmax(magnitude), kernel.shape)}

    def func(z):
        return evaluate_checked(interaction.kernel, "kernel", z)

    for index in sorted(cells):
        centre = np.array(
            [
                (i if i < n else i - 2 * n) * h
                for i, n, h in zip(index, grid.shape, grid.spacing, strict=True)
            ]
        )
        values = [kernel[index]] + [
            _cell_average(func, centre, grid.spacing, m * q) for m in (2, 4)
        ]
        block = magnitude[
            np.ix_(*(np.arange(i - 1, i + 2) % s for i, s in zip(index, kernel.shape, strict=True)))
        ]
        scale = max(np.max(block), *np.abs(values))
        d1, d2 = abs(values[1] - values[0]), abs(values[2] - values[1])
        bad = not np.all(np.isfinite(values)) or (
            max(d1, d2) > 0.05 * scale and (d2 > 0.95 * d1 or max(d1, d2) > 0.5 * scale)
        )
        if bad:
            raise ValueError(
                f"kernel: the cell averages do not converge (a non-integrable singularity near "
                f"|z| = {np.linalg.norm(centre):.3g}?): the average of W over the cell centred "
                f"at z = {np.array2string(centre, precision=4)} is "
                + ", ".join(f"{v:.6g}" for v in values)
                + f" with {q}, {2 * q}, {4 * q} Gauss–Legendre nodes per axis (an integrable "
                "singularity's changes shrink by ≥ 5 % per doubling and stay below half its "
                "size there); a kernel varying much faster than the grid spacing does this too"
            )


class GridConvolution:
    """``ρ ↦ W * ρ`` at cell centres by zero-padded FFT (no wrap-around).

    The kernel is averaged over cells with the interaction's Gauss–Legendre rule and
    transformed once; each call costs two FFTs of the grid padded to ``2 n`` cells per axis.

    Parameters
    ----------
    interaction : PairwiseInteraction
        The translation-invariant kernel ``W(θ − θ′)``; it must be finite on the grid's
        displacements (``ValueError`` otherwise).
    grid : Grid
        The grid whose cell-centre densities are convolved.
    """

    def __init__(self, interaction: PairwiseInteraction, grid: Grid) -> None:
        self.grid = grid
        self.padded = tuple(2 * n for n in grid.shape)
        kernel = _cell_averaged_kernel(interaction, grid)
        if not np.all(np.isfinite(kernel)):
            raise ValueError(
                f"kernel: {interaction.name} is not finite on the grid's displacements "
                "(a non-integrable singularity?)"
            )
        check_cell_averages(interaction, grid, kernel)  # built-ins too: a width ≪ h is refused
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

    def kernel(z):  # a wrong shape or an exception names the parameter
        return evaluate_checked(interaction.kernel, "kernel", z)

    total = box_averages(kernel, centres, grid.spacing, interaction.quadrature)
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
        return {
            "kind": "separable",
            "name": self.name,
            "coefficients": self.coefficients.tolist(),
            "code": fingerprint((self.features, self.gradient)),
        }


class GridSeparable:
    """``ρ ↦ Σ_k c_k φ_k ∫ φ_k ρ`` at cell centres.

    Parameters
    ----------
    interaction : SeparableInteraction
        The finite-rank interaction; its features are evaluated once at the cell centres (a
        wrong output shape is a ``ValueError``).
    grid : Grid
        The grid of the densities.
    """

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
        """The moments ``M_k = ∫ φ_k ρ`` (midpoint rule on the cells).

        Parameters
        ----------
        rho : ndarray
            Cell-centre densities, shape ``grid.shape``.

        Returns
        -------
        ndarray, shape (K,)
            ``M_k`` for each feature ``φ_k``.
        """
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
        code = fingerprint(
            (self.kernel, self.gradient, self.particle_gradient, self.particle_kernel)
        )
        return {"kind": "general", "name": self.name, "code": code}


class GridGeneral:
    """``ρ ↦ Σ_j U(x_i, x_j) ρ_j h^D`` with a dense matrix (point values of ``U``).

    Parameters
    ----------
    interaction : GeneralInteraction
        The interaction; ``U`` is evaluated on all ``grid.size²`` pairs of cell centres (so
        the grid may have at most ``interaction.max_cells`` cells, and ``U`` must be finite
        there: ``ValueError`` otherwise).
    grid : Grid
        The grid of the densities.
    """

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
