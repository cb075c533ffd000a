"""Shared test configuration (after py-pde: floating-point errors raise, figures are closed)."""

import os

import matplotlib
import numpy as np
import pytest
from hypothesis import settings

matplotlib.use("Agg")

# property tests draw the same examples on every run, so CI never depends on luck;
# WGFLOW_HYPOTHESIS_RANDOM=1 explores new examples (use it when changing code)
settings.register_profile("wgflow", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None, max_examples=100)
settings.load_profile("explore" if os.environ.get("WGFLOW_HYPOTHESIS_RANDOM") else "wgflow")


@pytest.fixture(autouse=True)
def _strict_floating_point():
    old = np.seterr(all="raise", under="ignore")
    yield
    np.seterr(**old)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def l1_error(grid, a, b) -> float:
    """``∫|a − b|`` on ``grid``."""
    return float(grid.integrate(np.abs(np.asarray(a) - np.asarray(b))))


def observed_orders(cells, errors) -> np.ndarray:
    """Orders ``log(e_k/e_{k+1}) / log(n_{k+1}/n_k)`` between successive refinements."""
    cells, errors = np.asarray(cells, float), np.asarray(errors, float)
    return np.log(errors[:-1] / errors[1:]) / np.log(cells[1:] / cells[:-1])
