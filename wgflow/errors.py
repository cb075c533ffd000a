"""Every exception wgflow raises on purpose, in one place.

- :class:`ParameterError`: an unknown or badly typed parameter (both a ``ValueError`` and a
  ``TypeError``); out-of-range values raise plain ``ValueError`` naming the parameter.
- :class:`CapabilityMissing` (a ``ValueError``): a problem asked for what it does not provide
  (see :mod:`wgflow.problem`).
- :class:`RunStopped` and its kinds: a run that ended before ``t_final`` —
  :class:`BlowUpError` (non-finite or negative state, a step below its floor; its kinds
  :class:`BoundaryReached`: mass at the wall of a bounded grid, and
  :class:`ConcentrationDetected`: a peak narrower than the grid can resolve),
  :class:`WallTimeExceeded`, :class:`TargetReached` (a tracker's target, not a failure).
- :class:`RunInterrupted`: Ctrl-C during a run (a ``KeyboardInterrupt``).
- Warnings, all subclasses of :class:`WgflowWarning`: :class:`LongRunWarning`,
  :class:`ApproximationWarning` (an approximation chosen on the user's behalf, with the fix),
  :class:`CompilationNotice` (a user callable that runs uncompiled).

Each run exception carries ``dataset``: the snapshots computed before it (or ``None``).
"""

from __future__ import annotations

__all__ = [
    "BlowUpError",
    "CapabilityMissing",
    "BoundaryReached",
    "ConcentrationDetected",
    "ParameterError",
    "RunInterrupted",
    "RunStopped",
    "TargetReached",
    "WallTimeExceeded",
]


class ParameterError(ValueError, TypeError):
    """Unknown or badly typed parameter.

    Subclasses both ``ValueError`` and ``TypeError`` so callers may catch either.
    """


class CapabilityMissing(ValueError):
    """A problem was asked for something it does not provide.

    For example an exact solution, or a finite-step-size correction; the message names the
    problem and the capability.

    Parameters
    ----------
    message : str
        What is missing and, where there is one, what to do instead.
    capability : str
        The method's name (e.g. ``"exact_density"``).
    """

    def __init__(self, message: str, capability: str) -> None:
        super().__init__(message)
        self.capability = capability


class RunStopped(Exception):
    """A run ended before ``t_final``; ``dataset`` holds what was computed (or ``None``).

    Parameters
    ----------
    t : float
        Simulated time at which the run stopped.
    cause : str
        What stopped it (kept as ``cause``; the message is ``run stopped at t = …: cause``).
    """

    def __init__(self, t: float, cause: str) -> None:
        super().__init__(f"run stopped at t = {t:.6g}: {cause}")
        self.time = t
        self.cause = cause
        self.dataset = None


class TargetReached(RunStopped):
    """A :class:`StopWhenBelow` tracker saw its observable reach the target (not a failure).

    Parameters
    ----------
    t : float
        Simulated time at which the run stopped.
    cause : str
        What stopped it (kept as ``cause``; the message is ``run stopped at t = …: cause``).
    """


class BlowUpError(RunStopped, RuntimeError):
    """Non-finite or negative state, or a time step driven below its floor.

    Parameters
    ----------
    t : float
        Simulated time at which the run stopped.
    cause : str
        What stopped it (kept as ``cause``; the message is ``run stopped at t = …: cause``).
    """


class BoundaryReached(BlowUpError):
    """Mass reached the outermost cells of a bounded grid (where the no-flux wall distorts it).

    Parameters
    ----------
    t : float
        Simulated time of the observation that saw it.
    cause : str
        The message: the fraction of mass in the outermost layer and the tolerance.
    axis : str
        Name of the grid axis.
    side : {"lower", "upper"}
        Which end of that axis.
    """

    def __init__(self, t: float, cause: str, axis: str, side: str) -> None:
        super().__init__(t, cause)
        self.axis = axis
        self.side = side


class ConcentrationDetected(BlowUpError):
    """The density concentrated below the grid's resolution (a grid-limited peak).

    Raised by :class:`wgflow.trackers.ConcentrationGuard`, e.g. when a supercritical
    Keller–Segel solution blows up: past this point the grid solution is a discrete artefact
    (mass piled into a few cells), no longer an approximation of the PDE.

    Parameters
    ----------
    t : float
        Simulated time of the observation that saw it.
    cause : str
        The message: which criterion fired, the measured value and the threshold.
    peak : tuple of float
        Cell centre of the density's maximum, one coordinate per axis.
    width : float
        Full width at half maximum of the peak, in cells (the smallest over the axes).
    mass_fraction : float
        Fraction of the total mass in the heaviest block of ``2^D`` adjacent cells.
    """

    def __init__(
        self, t: float, cause: str, peak: tuple, width: float, mass_fraction: float
    ) -> None:
        super().__init__(t, cause)
        self.peak = tuple(float(x) for x in peak)
        self.width = float(width)
        self.mass_fraction = float(mass_fraction)


class WallTimeExceeded(RunStopped):
    """The wall-time limit was reached.

    Parameters
    ----------
    t : float
        Simulated time at which the run stopped.
    cause : str
        What stopped it (kept as ``cause``; the message is ``run stopped at t = …: cause``).
    """


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; ``dataset`` holds the snapshots taken before the interrupt.

    Parameters
    ----------
    t : float
        Simulated time of the last good state.
    """

    def __init__(self, t: float) -> None:
        super().__init__(f"run interrupted at t = {t:.6g}")
        self.time = t
        self.dataset = None


class WgflowWarning(UserWarning):
    """Base class of wgflow's own warnings (filter them all with this category)."""


class LongRunWarning(WgflowWarning):
    """A run whose estimated step count exceeds :data:`wgflow.resources.LONG_RUN_STEPS`."""


class ApproximationWarning(WgflowWarning):
    """A solver or metric substituted an approximation whose error it cannot bound.

    The message names the quantity, the approximation and the setting that avoids it.
    """


class CompilationNotice(WgflowWarning):
    """A user callable could not be compiled with numba and runs as plain Python/numpy.

    The result is the same; only the speed differs. The message says why compilation failed.
    """
