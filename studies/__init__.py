"""The top layer (``wgflow.studies``): everything that assembles the core and the plugins.

Presets, grid jobs and the studies (:mod:`~wgflow.studies.sgd_vs_pde`,
:mod:`~wgflow.studies.coupling`, :mod:`~wgflow.studies.global_convergence`), their figures and
the ``wgflow`` command line (:mod:`~wgflow.studies.cli`). Modules here may import
``wgflow`` (core), ``wgflow.solvers`` and ``wgflow.problems`` (plugins); nothing below imports
this package (``tests/test_layers.py`` checks it). See ``docs/architecture.rst``.
"""
