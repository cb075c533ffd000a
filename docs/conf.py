"""Sphinx configuration: API reference (numpydoc) and the example gallery (sphinx-gallery).

Build with ``pip install -e '.[docs]' && sphinx-build -b html docs docs/_build/html``
(``WGFLOW_QUICK=1`` runs the gallery at reduced size).
"""

import os

os.environ.setdefault("MPLBACKEND", "agg")

project = "wgflow"
author = "wgflow developers"
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
numpydoc_show_class_members = False
# the same checks as tests/test_docstrings.py (functions, classes and their methods)
numpydoc_validation_checks = {
    "GL08", "SS01", "SS02", "SS03", "SS06", "PR01", "PR02", "PR03", "PR04", "PR07", "PR08",
    "RT01", "RT03",
}  # fmt: skip
# attributes and constants carry ``#:`` comments, not numpydoc docstrings
numpydoc_validation_exclude = {r"\.(name|title|streams)$", r"\.[A-Z][A-Z_]+$", r"\.__init__$"}
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
}
exclude_patterns = ["_build"]
html_theme = "alabaster"
suppress_warnings = ["config.cache"]
