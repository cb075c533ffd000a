"""Ready-made jobs run by ``wgflow run`` (assembled from problems and solvers, like the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import xarray as xr

from .grid import Grid
from .io import to_json
from .validation import check_positive


@dataclass(frozen=True)
class OUDemo:
    """2-D Ornstein–Uhlenbeck Fokker–Planck equation solved by finite volumes vs its exact law.

    ``∂t ρ = ∇·(ρ x) + D Δρ`` on ``[-5, 5]²`` from a Gaussian (mean ``(1, 0.5)``, variance 0.3);
    the L1 error against the exact Gaussian is stored as ``l1_error(time)``.
    """

    cells: int = 128
    t_final: float = 1.0
    save_every: float = 0.1
    diffusion: float = 0.5
    order: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.cells, int) or not 8 <= self.cells <= 2048:
            raise ValueError(f"cells: need an integer in [8, 2048], got {self.cells!r}")
        check_positive("t_final", self.t_final)
        check_positive("save_every", self.save_every)
        check_positive("diffusion", self.diffusion)
        if self.order not in (1, 2):
            raise ValueError(f"order: must be 1 or 2, got {self.order!r}")

    description = "2-D Ornstein–Uhlenbeck Fokker–Planck, finite volumes vs exact Gaussian"

    def run(self, progress: bool = True) -> xr.Dataset:
        from wgflow.problems import OrnsteinUhlenbeck
        from wgflow.solvers import FiniteVolume

        prob = OrnsteinUhlenbeck(dim=2, diffusion=self.diffusion, mean0=(1.0, 0.5), var0=0.3)
        grid = Grid.box([(-5, 5), (-5, 5)], shape=self.cells)
        solver = FiniteVolume(prob.energy, grid, order=self.order)
        try:
            ds = solver.run(
                prob.initial_density(grid), self.t_final, self.save_every, progress=progress
            )
        except (KeyboardInterrupt, RuntimeError) as exc:
            partial = getattr(exc, "dataset", None)
            if partial is not None:
                exc.dataset = self._add_error(partial, prob, grid)
            raise
        return self._add_error(ds, prob, grid)

    def _add_error(self, ds: xr.Dataset, prob, grid: Grid) -> xr.Dataset:
        errors = [
            float(
                grid.integrate(
                    np.abs(ds["density"].sel(time=t).values - prob.exact_density(grid, t))
                )
            )
            for t in ds["time"].values
        ]
        ds["l1_error"] = xr.DataArray(
            errors, dims="time", attrs={"units": "1", "long_name": "L1 error vs exact solution"}
        )
        ds.attrs["job"] = "ou"
        ds.attrs["job_parameters"] = to_json({f.name: getattr(self, f.name) for f in fields(self)})
        return ds


JOBS = {"ou": OUDemo}
DEFAULT_JOB = "ou"
