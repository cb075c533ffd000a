"""Output files: checked before any work, claimed by one run at a time, cleaned after crashes.

- :func:`check_output`: a path a run will write is a file name (not a folder, not empty) with a
  known suffix, in an existing folder where a file can actually be created (probed, so
  ``/proc`` or a read-only mount fail *before* the run, not after it).
- :func:`check_distinct`: two outputs of one run are not the same file.
- :class:`OutputLock`: an advisory lock file ``<path>.lock`` holding the owner's PID and host;
  a second run asking for the same path is refused while the owner lives, and a lock left by
  a killed owner (same host, PID gone) is taken over.
- :func:`remove_stale_temporaries`: temporary files ``.<name>.<pid>.*.tmp`` left by writers
  killed mid-write (their PID is gone) are removed before the next write.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "OutputLock",
    "check_distinct",
    "check_output",
    "remove_stale_temporaries",
    "temporary_prefix",
]

#: temporaries without a readable PID are removed once older than this (seconds)
STALE_AGE = 3600.0


def check_output(
    path,
    name: str = "path",
    suffixes: Iterable[str] | None = (".nc",),
    *,
    overwrite: bool = True,
) -> Path:
    """Check a path a run will write, before the run starts.

    Parameters
    ----------
    path : str or path-like
        The file to be written.
    name : str
        The parameter (or option) named in the error message.
    suffixes : iterable of str, optional
        Allowed suffixes (case-insensitive), e.g. ``(".nc",)``; ``None``: any.
    overwrite : bool
        Whether an existing file may be replaced.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        Empty path, a folder, an unknown suffix, a missing or unwritable folder, or an existing
        file with ``overwrite=False``.
    TypeError
        ``path`` is not a string or path-like.
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{name}: need a file path (str or path-like), got {type(path).__name__}")
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text.strip():
        raise ValueError(f"{name}: need a file path, got an empty string")
    p = Path(text)
    if p.is_dir():
        raise ValueError(f"{name}: {text!r} is a folder; need a file path")
    if suffixes is not None:
        allowed = tuple(s.lower() for s in suffixes)
        if p.suffix.lower() not in allowed:
            raise ValueError(f"{name}: need a file ending in {', '.join(allowed)}, got {text!r}")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"{name}: folder {str(folder)!r} does not exist")
    if p.exists() and not overwrite:
        raise ValueError(
            f"{name}: {text!r} exists; pass overwrite=True to replace it (or resume from it)"
        )
    _probe_writable(folder, name)
    return p


def _probe_writable(folder: Path, name: str) -> None:
    """Create and remove a file in ``folder`` (``os.access`` says yes for ``/proc``)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".wgflow-probe.", dir=folder)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ValueError(f"{name}: cannot write to folder {str(folder)!r} ({reason})") from exc
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def check_distinct(**paths) -> None:
    """Refuse two outputs of one run that are the same file.

    Parameters
    ----------
    **paths : path-like or None
        Option name → path (``None`` skipped).

    Raises
    ------
    ValueError
        Naming both options.
    """
    seen: dict[Path, str] = {}
    for option, path in paths.items():
        if path is None:
            continue
        key = Path(path).resolve()
        if key in seen:
            raise ValueError(f"{option}: same file as {seen[key]} ({os.fspath(path)!r})")
        seen[key] = option


def temporary_prefix(path) -> str:
    """Prefix of a writer's temporary files for ``path`` (holds the writer's PID).

    Parameters
    ----------
    path : path-like
        The destination file.

    Returns
    -------
    str
        ``.<name>.<pid>.``
    """
    return f".{Path(path).name}.{os.getpid()}."


def remove_stale_temporaries(path) -> list[Path]:
    """Remove the temporary files of killed writers of ``path``.

    A temporary ``.<name>.<pid>.*.tmp`` is stale when process ``pid`` no longer exists on this
    host; one without a readable PID when older than :data:`STALE_AGE`.

    Parameters
    ----------
    path : path-like
        The destination file whose folder is cleaned.

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    removed = []
    prefix = f".{path.name}."
    try:
        candidates = [c for c in folder.iterdir() if c.name.startswith(prefix)]
    except OSError:
        return removed
    for candidate in candidates:
        if not candidate.name.endswith(".tmp"):
            continue
        pid_text = candidate.name[len(prefix) :].split(".", 1)[0]
        if pid_text.isdigit():
            stale = not _alive(int(pid_text))
        else:
            try:
                stale = time.time() - candidate.stat().st_mtime > STALE_AGE
            except OSError:
                continue
        if stale:
            with contextlib.suppress(OSError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True
    return True


class OutputLock:
    """Advisory lock ``<path>.lock`` so that two runs never write one file at once.

    The lock file holds ``{"pid", "host", "since"}``. Acquiring fails with a ``ValueError``
    naming the owner while it lives; a lock whose owner is gone (same host, no such PID) is
    stale and taken over. Released (the file removed) on exit, however the block ends.
    Re-entrant within one process.

    Parameters
    ----------
    path : path-like
        The output file to claim.
    name : str
        The parameter named in the error message.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with OutputLock(folder / "run.nc", "checkpoint"):
    ...     (folder / "run.nc.lock").exists()
    True
    >>> (folder / "run.nc.lock").exists()
    False
    """

    _held: dict[Path, int] = {}

    def __init__(self, path, name: str = "path") -> None:
        self.path = Path(path)
        self.name = name
        self.lock = self.path.with_name(self.path.name + ".lock")

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock or raise ``ValueError`` naming its living owner."""
        key = self.lock.resolve()
        if key in self._held:
            self._held[key] += 1
            return
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        for _ in range(3):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is not None and self._owner_alive(owner):
                    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(owner["since"]))
                    raise ValueError(
                        f"{self.name}: {str(self.path)!r} is being written by process "
                        f"{owner['pid']} on {owner['host']} (since {when}); choose another "
                        f"path, or remove {str(self.lock)!r} if that process is not a wgflow run"
                    ) from None
                with contextlib.suppress(FileNotFoundError):
                    self.lock.unlink()  # stale: its owner is gone
                continue
            except OSError as exc:
                if exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
                    raise ValueError(
                        f"{self.name}: cannot create the lock file {str(self.lock)!r} "
                        f"({exc.strerror})"
                    ) from exc
                raise
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self._held[key] = 1
            return
        raise ValueError(f"{self.name}: could not claim {str(self.path)!r} (lock contention)")

    def release(self) -> None:
        """Drop the lock (remove the file when the outermost holder leaves)."""
        key = self.lock.resolve()
        count = self._held.get(key, 0)
        if count > 1:
            self._held[key] = count - 1
            return
        self._held.pop(key, None)
        owner = self._owner()
        if owner is not None and owner.get("pid") == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                self.lock.unlink()

    def _owner(self) -> dict | None:
        """The lock file's content; ``None`` when unreadable (a writer killed mid-write)."""
        for _ in range(5):
            try:
                owner = json.loads(self.lock.read_text())
                if isinstance(owner, dict) and isinstance(owner.get("pid"), int):
                    owner.setdefault("host", "?")
                    owner.setdefault("since", 0.0)
                    return owner
            except FileNotFoundError:
                return None
            except (OSError, ValueError):
                pass
            time.sleep(0.01)  # the owner may be writing it right now
        return None

    @staticmethod
    def _owner_alive(owner: dict) -> bool:
        if owner["host"] != socket.gethostname():
            return True  # another machine: cannot tell, assume it runs
        return _alive(int(owner["pid"]))
