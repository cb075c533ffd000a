"""Problem plugins: free energies with exact or reference solutions (``wgflow.problems``)."""

from .aggregation import Aggregation
from .anisotropic_gaussians import AnisotropicGaussians, ReducedAnisotropic
from .double_well import DoubleWellPorousMedium
from .fokker_planck import OrnsteinUhlenbeck
from .keller_segel import KellerSegel
from .morse_swarm import MorseSwarm
from .porous_medium import PorousMedium
from .teacher_student import ReducedTeacherStudent, TeacherNetwork, TeacherStudent
from .two_layer_nn import TwoLayerNN

__all__ = [
    "Aggregation",
    "AnisotropicGaussians",
    "DoubleWellPorousMedium",
    "KellerSegel",
    "MorseSwarm",
    "OrnsteinUhlenbeck",
    "PorousMedium",
    "ReducedAnisotropic",
    "ReducedTeacherStudent",
    "TeacherNetwork",
    "TeacherStudent",
    "TwoLayerNN",
]
