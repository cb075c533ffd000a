"""Plotting functions draw from Datasets; animations write real files."""

import numpy as np
import pytest
from PIL import Image

import wgflow as wg
from wgflow.plotting import animate
from wgflow.problems import OrnsteinUhlenbeck
from wgflow.solvers import FiniteVolume
from wgflow.studies.figures import plot_convergence, summary_figure


@pytest.fixture(scope="module")
def ou():
    prob = OrnsteinUhlenbeck(dim=2, diffusion=0.5, mean0=(1.0, 0.5), var0=0.3)
    grid = wg.Grid.box([(-5, 5), (-5, 5)], 24)
    return FiniteVolume(prob.energy, grid).run(prob.initial_density(grid), 0.5, 0.1, progress=False)


def test_animation_writes_a_gif_with_one_frame_per_snapshot(ou, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    path = animate(ou, tmp_path / "ou.gif", fps=4)
    with Image.open(path) as gif:
        assert gif.n_frames == ou.sizes["time"]
    with pytest.raises(ValueError, match="path"):
        animate(ou, tmp_path / "ou.avi")


def test_summary_figure_knows_density_archives_and_rejects_others(ou):
    import matplotlib

    matplotlib.use("Agg")
    fig = summary_figure(ou)
    assert len(fig.axes) >= 4  # three densities (+ colorbars) and the free energy
    with pytest.raises(ValueError, match="ds"):
        summary_figure(ou[["mass"]])


def test_convergence_plot_shows_the_fitted_slope():
    import matplotlib
    import xarray as xr

    matplotlib.use("Agg")
    n = np.array([100.0, 400.0, 1600.0])
    data = xr.DataArray(
        [[1 / np.sqrt(v) * (1 + 0.01 * s) for s in range(2)] for v in n],
        dims=("N", "seed"),
        coords={"N": n, "seed": [0, 1]},
    )
    fig = plot_convergence({"N": xr.Dataset({"sup_risk_gap": data})})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("slope -0.50" in label for label in labels)
