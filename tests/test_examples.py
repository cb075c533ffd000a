"""Every gallery script runs alone in quick mode and draws at least one figure."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))
RUNNER = (
    "import runpy, sys, matplotlib.pyplot as plt;"
    "runpy.run_path(sys.argv[1], run_name='__main__');"
    "n = len(plt.get_fignums()); print('figures', n); sys.exit(0 if n else 3)"
)


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_in_quick_mode(script, tmp_path):
    env = {**os.environ, "MPLBACKEND": "agg", "WGFLOW_QUICK": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
