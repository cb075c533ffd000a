"""The Sphinx documentation builds (API reference and the gallery in quick mode)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_sphinx_builds_the_api_reference_and_the_gallery(tmp_path):
    pytest.importorskip("sphinx_gallery")
    pytest.importorskip("numpydoc")
    env = {**os.environ, "MPLBACKEND": "agg", "WGFLOW_QUICK": "1"}
    out = tmp_path / "html"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(ROOT / "docs"),
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "index.html").exists()
    pages = {p.stem for p in (out / "auto_examples").glob("plot_*.html")}
    assert pages == {p.stem for p in (ROOT / "examples").glob("plot_*.py")}
    assert (out / "generated" / "wgflow.problems.TwoLayerNN.html").exists()
