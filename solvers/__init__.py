"""Solvers of Wasserstein gradient flows (``wgflow.solvers``)."""

from .finite_volume import FiniteVolume
from .particles import Particles
from .sgd import SGD

__all__ = ["SGD", "FiniteVolume", "Particles"]
