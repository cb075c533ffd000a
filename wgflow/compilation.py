"""Where numba keeps its compiled kernels.

wgflow's kernels are ``@njit(cache=True)``. Left alone, numba writes its cache next to the
source files, i.e. into the installed package (``site-packages/wgflow/solvers/__pycache__``):
pip does not know those files, so uninstalling leaves a half package behind that shadows the
next install, and a read-only install cannot cache at all. :func:`configure_numba_cache` runs
when ``wgflow`` is imported, before any kernel module is, and points numba elsewhere:

1. ``NUMBA_CACHE_DIR`` when the user has set it (respected as is);
2. otherwise ``$XDG_CACHE_HOME/wgflow/<versions>`` (``~/.cache/wgflow/<versions>`` when
   ``XDG_CACHE_HOME`` is unset), where ``<versions>`` names wgflow, numba and Python, so an
   upgrade never reads a stale cache;
3. if that folder cannot be created or written, a per-user folder under the system's
   temporary directory.

``wgflow info`` prints the folder in use.
"""

from __future__ import annotations

import functools
import getpass
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path

__all__ = ["configure_numba_cache", "default_cache_dir", "numba_cache_dir", "package_version"]

_ENV = "NUMBA_CACHE_DIR"


@functools.cache
def package_version(name: str) -> str:
    """Installed version of a distribution (read once per process: parsing the metadata costs
    ~2 ms, and every archive records nine of them).

    Parameters
    ----------
    name : str
        Distribution name on PyPI (``numba``, ``wgflow``, …).

    Returns
    -------
    str
        Its version, or ``"not installed"``.
    """
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _versions_tag() -> str:
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    wgflow, numba = package_version("wgflow"), package_version("numba")
    return f"wgflow-{wgflow}-numba-{numba}-{python}".replace(" ", "-")


def default_cache_dir() -> Path:
    """The per-user cache folder wgflow uses when ``NUMBA_CACHE_DIR`` is unset.

    Returns
    -------
    Path
        ``$XDG_CACHE_HOME/wgflow/<versions>`` (``~/.cache`` when ``XDG_CACHE_HOME`` is unset or
        not absolute, as the XDG specification asks).
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "wgflow" / _versions_tag()


def _fallback_cache_dir() -> Path:
    user = getpass.getuser()
    return Path(tempfile.gettempdir()) / f"wgflow-{user}" / _versions_tag()


def _usable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def configure_numba_cache() -> Path:
    """Point numba's on-disk cache away from the installed package.

    Sets ``NUMBA_CACHE_DIR`` in the environment (so subprocesses and dask workers inherit it)
    and, when numba is already imported, ``numba.config.CACHE_DIR``. Kernels decorated after
    this call cache there. A user's own ``NUMBA_CACHE_DIR`` is kept unchanged.

    Returns
    -------
    Path
        The cache folder in use.
    """
    chosen = os.environ.get(_ENV, "")
    if chosen:
        folder = Path(chosen)
    else:
        folder = default_cache_dir()
        if not _usable(folder):
            folder = _fallback_cache_dir()
            _usable(folder)
        os.environ[_ENV] = str(folder)
    numba_module = sys.modules.get("numba")
    if numba_module is not None:  # imported before wgflow: its config was read already
        numba_module.config.CACHE_DIR = str(folder)
    return folder


def numba_cache_dir() -> Path:
    """The folder numba caches wgflow's kernels in (what ``wgflow info`` prints).

    Returns
    -------
    Path
        ``numba.config.CACHE_DIR``.
    """
    import numba

    return Path(numba.config.CACHE_DIR or os.environ.get(_ENV, ""))
