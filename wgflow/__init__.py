"""wgflow: Wasserstein gradient flows on grids, by JKO steps and with interacting particles.

Core objects are importable from here; solvers live in ``wgflow.solvers`` and problem
plugins in ``wgflow.problems``.
"""

from importlib.metadata import PackageNotFoundError, version

from .compilation import configure_numba_cache

configure_numba_cache()  # before any kernel module is imported

from . import driver, errors, io, metrics, observables, plotting, trackers
from .energy import Entropy, FreeEnergy, GridEnergy, PorousMediumEnergy, Potential
from .errors import (
    ApproximationWarning,
    BlowUpError,
    BoundaryReached,
    CapabilityMissing,
    ConcentrationDetected,
    ParameterError,
    RunInterrupted,
    RunStopped,
    TargetReached,
    WallTimeExceeded,
)
from .grid import Grid
from .interactions import GeneralInteraction, PairwiseInteraction, SeparableInteraction
from .io import open, save
from .measures import GridMeasure, ParticleMeasure
from .observables import centre_of_mass, moments
from .problem import NetworkProblem, Problem, ReducedProblem

try:
    __version__ = version("wgflow")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "ApproximationWarning",
    "BlowUpError",
    "BoundaryReached",
    "CapabilityMissing",
    "ConcentrationDetected",
    "Entropy",
    "FreeEnergy",
    "GeneralInteraction",
    "Grid",
    "GridEnergy",
    "GridMeasure",
    "NetworkProblem",
    "PairwiseInteraction",
    "ParameterError",
    "ParticleMeasure",
    "PorousMediumEnergy",
    "Potential",
    "Problem",
    "ReducedProblem",
    "RunInterrupted",
    "RunStopped",
    "SeparableInteraction",
    "TargetReached",
    "WallTimeExceeded",
    "centre_of_mass",
    "driver",
    "errors",
    "io",
    "metrics",
    "moments",
    "observables",
    "open",
    "plotting",
    "save",
    "trackers",
]
