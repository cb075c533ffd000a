"""Solvers of Wasserstein gradient flows (``wgflow.solvers``)."""

from .finite_volume import FiniteVolume
from .particles import Particles

__all__ = ["FiniteVolume", "Particles"]
