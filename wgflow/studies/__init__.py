"""Studies assembled from problems and solvers (``wgflow.studies``): like ``cli`` and ``sweep``,
they may import ``wgflow.problems`` and ``wgflow.solvers``; the core never imports them.

- :mod:`wgflow.studies.sgd_vs_pde`: SGD on a finite network vs the reduced mean-field PDE.
"""
