"""Solvers of Wasserstein gradient flows (``wgflow.solvers``)."""

from .finite_volume import FiniteVolume

__all__ = ["FiniteVolume"]
