"""Problem plugins: free energies with exact or reference solutions (``wgflow.problems``)."""

from .aggregation import Aggregation
from .anisotropic_gaussians import AnisotropicGaussians, ReducedAnisotropic
from .fokker_planck import OrnsteinUhlenbeck
from .porous_medium import PorousMedium
from .teacher_student import ReducedTeacherStudent, TeacherNetwork, TeacherStudent
from .two_layer_nn import TwoLayerNN

__all__ = [
    "Aggregation",
    "AnisotropicGaussians",
    "OrnsteinUhlenbeck",
    "PorousMedium",
    "ReducedAnisotropic",
    "ReducedTeacherStudent",
    "TeacherNetwork",
    "TeacherStudent",
    "TwoLayerNN",
]
