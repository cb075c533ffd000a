import numpy as np
import pytest

import wgflow as wg


def test_box_geometry_and_named_axes():
    grid = wg.Grid.box([(-5, 5), (0, 2)], shape=(10, 4))
    assert grid.dim == 2 and grid.shape == (10, 4) and grid.axes == ("x", "y")
    assert grid.spacing == pytest.approx((1.0, 0.5))
    assert grid.cell_volume == pytest.approx(0.5)
    np.testing.assert_allclose(grid.coordinates[0], np.arange(-4.5, 5, 1.0))
    np.testing.assert_allclose(grid.edges[1], [0, 0.5, 1, 1.5, 2])
    assert grid.points().shape == (10, 4, 2)
    custom = wg.Grid.box([(0, 1)], 8, axes=["r"], units="m")
    assert custom.axes == ("r",) and custom.units == ("m",)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_integrate_and_cell_average_are_exact_for_polynomials(dim):
    grid = wg.Grid.box([(-1, 2)] * dim, shape=6)

    # Gauss–Legendre with 3 nodes integrates degree-5 polynomials exactly
    def f(x):
        return 1 + np.sum(x**5 - 2 * x**2, axis=-1)

    avg = grid.cell_average(f, order=3)
    one_d = (2**6 - 1) / 6 - 2 * (2**3 + 1) / 3  # ∫_{-1}^{2} x^5 - 2x^2 dx
    exact = 3**dim + dim * one_d * 3 ** (dim - 1)
    assert grid.integrate(avg) == pytest.approx(exact, rel=1e-12)


def test_cell_index_and_contains():
    grid = wg.Grid.box([(0, 1), (0, 2)], shape=(4, 4))
    pts = np.array([[0.1, 0.1], [0.99, 1.99], [1.0, 2.0]])
    np.testing.assert_array_equal(grid.cell_index(pts), [[0, 0], [3, 3], [3, 3]])
    assert grid.contains(np.array([[0.5, 2.5]])).tolist() == [False]


def test_round_trip_through_dict():
    grid = wg.Grid.box([(-1, 1), (0, 3)], shape=(5, 7), axes=("r1", "r2"))
    assert wg.Grid.from_dict(grid.to_dict()) == grid


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bounds": [(1, 0)], "shape": 4}, "bounds"),
        ({"bounds": [(0, np.inf)], "shape": 4}, "bounds"),
        ({"bounds": [(0, 1)] * 4, "shape": 4}, "bounds"),
        ({"bounds": [(0, 1)], "shape": 1}, "shape"),
        ({"bounds": [(0, 1), (0, 1)], "shape": (3,)}, "shape"),
        ({"bounds": [(0, 1), (0, 1)], "shape": 3, "axes": ("x", "x")}, "axes"),
    ],
)
def test_bad_grids_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        wg.Grid.box(**kwargs)


def test_interpolate_is_exact_for_linear_fields():
    grid = wg.Grid.box([(0, 2), (-1, 1)], shape=(8, 5))
    x, y = grid.mesh()
    field = 3 * x - 2 * y + 1
    pts = np.array([[0.3, 0.2], [1.7, -0.5], [1.0, 0.0]])
    np.testing.assert_allclose(grid.interpolate(field, pts), 3 * pts[:, 0] - 2 * pts[:, 1] + 1)
    with pytest.raises(ValueError, match="points"):
        grid.interpolate(field, np.array([[3.0, 0.0]]))
