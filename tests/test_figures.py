"""Every figure kind ``wgflow run``/``wgflow plot`` draws, rendered and checked for structure:
titles that say what is shown, one shared colour scale across times, exact solutions overlaid,
maths legends, colour-blind-safe colours and tick labels that do not overlap."""

import itertools

import matplotlib
import numpy as np
import pytest
import xarray as xr

from wgflow.plotting import PALETTE
from wgflow.studies import presets
from wgflow.studies.figures import plot_convergence, summary_figure
from wgflow.studies.jobs import make_job

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def archives():
    out = {job: make_job(job, quick=True).run(progress=False) for job in
           ("ou", "porous-medium", "jko-vs-fv")}  # fmt: skip
    out["flagship"] = presets.run("flagship", quick=True)
    out["mmn-nonmonotone"] = presets.run("mmn-nonmonotone", quick=True)
    out["mmn-relu"] = presets.run("mmn-relu", quick=True)
    out["mmn-isotropic"] = presets.run(
        "mmn-isotropic", quick=True, t_final=4.0, save_every=0.2, r_max=8.0, cells=200
    )
    return out


def overlapping_tick_labels(fig) -> list[str]:
    """Pairs of visible tick labels whose rendered boxes intersect, per axis of every Axes."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    clashes = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            ticks = axis.get_majorticklabels() + axis.get_minorticklabels()
            boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in ticks
                     if t.get_visible() and t.get_text()]  # fmt: skip
            for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
                if box_a.overlaps(box_b) and box_a.width > 0 and box_b.width > 0:
                    clashes.append(f"{a!r} / {b!r}")
    return clashes


def legend_texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().texts]


@pytest.mark.parametrize(
    "name",
    ["ou", "porous-medium", "jko-vs-fv", "flagship", "mmn-nonmonotone", "mmn-relu",
     "mmn-isotropic"],
)  # fmt: skip
def test_every_figure_kind_is_readable(archives, name):
    ds = archives[name]
    fig = summary_figure(ds)
    title = fig._suptitle.get_text() if fig._suptitle else ""
    assert len(title) > 20 and ":" not in title.split()[0][:-1], title  # says what is shown
    assert overlapping_tick_labels(fig) == []
    for ax in fig.axes:  # lines use the colour-blind-safe palette (or greys for time ramps)
        for line in ax.get_lines():
            colour = matplotlib.colors.to_hex(line.get_color())
            ramp = matplotlib.colormaps["cividis"]
            in_ramp = any(
                matplotlib.colors.to_hex(ramp(v)) == colour for v in np.linspace(0, 0.85, 256)
            )
            assert colour in PALETTE or colour == "#000000" or in_ramp, (name, colour)
    images = [im for ax in fig.axes for im in ax.images]
    if images:  # 2-D densities: one colour scale shared by every time, one colour bar
        assert len({im.get_clim() for im in images}) == 1
        colourbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
        assert len(colourbars) == 1
    if name.startswith(("flagship", "mmn")):
        assert any("$R_N(\\theta^k)$" in t for t in legend_texts(fig))


def test_exact_solutions_are_overlaid(archives):
    fig = summary_figure(archives["porous-medium"])  # 1-D: dashed exact curves, one legend entry
    assert "exact" in legend_texts(fig)
    fig = summary_figure(archives["ou"])  # 2-D: dashed contours of the exact Gaussian
    density_axes = [ax for ax in fig.axes if ax.images]
    assert all(ax.collections for ax in density_axes)
    fig = summary_figure(archives["jko-vs-fv"])  # both solvers' errors are drawn
    labels = legend_texts(fig)
    assert any(t.startswith("finite volumes") for t in labels) and len(labels) >= 3


def test_error_panels_skip_the_exact_start_on_a_log_scale(archives):
    ds = archives["ou"]
    assert float(ds["l1_error"][0]) < 1e-9 * float(ds["l1_error"].max())
    fig = summary_figure(ds)
    series = fig.axes[3]
    assert series.get_yscale() == "log"
    (line,) = series.get_lines()
    assert np.all(line.get_ydata() > 1e-9 * float(ds["l1_error"].max()))


def test_tick_label_check_can_fail():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.5, 1.5))
    ax.set_xticks(np.arange(20), [f"label {k}" for k in range(20)])
    assert overlapping_tick_labels(fig)


def test_convergence_figure_is_readable():
    n = np.array([100.0, 400.0, 1600.0, 6400.0])
    data = xr.DataArray(
        [[1 / np.sqrt(v) * (1 + 0.01 * s) for s in range(2)] for v in n],
        dims=("N", "seed"), coords={"N": n, "seed": [0, 1]},
    )  # fmt: skip
    fig = plot_convergence({"N": xr.Dataset({"sup_risk_gap": data})})
    assert overlapping_tick_labels(fig) == []
