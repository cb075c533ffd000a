"""Solvers of Wasserstein gradient flows (``wgflow.solvers``)."""

from .finite_volume import FiniteVolume
from .jko import JKO
from .particles import Particles
from .sgd import SGD

__all__ = ["JKO", "SGD", "FiniteVolume", "Particles"]
