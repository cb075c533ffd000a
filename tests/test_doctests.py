"""The Examples sections of the solvers' docstrings run and print what they say."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["finite_volume", "jko", "particles", "sgd"])
def test_solver_docstring_examples(module):
    mod = importlib.import_module(f"wgflow.solvers.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0 and result.failed == 0, result
