"""Output files: checked before any work, claimed by one run at a time, cleaned after crashes.

- :func:`check_output`: a path a run will write is a file name (not a folder, not empty) with a
  known suffix, in an existing folder where a file can actually be created (probed, so
  ``/proc`` or a read-only mount fail *before* the run, not after it).
- :func:`check_distinct`: two outputs of one run are not the same file.
- :class:`OutputLock`: an OS advisory lock (``flock``) on ``<path>.lock``, dropped by the
  operating system when its owner ends however it ends; a second run asking for the same
  path is refused while the owner runs (named by the PID it wrote there), and a lock file
  left behind — or garbage in its place — never blocks a run.
- :func:`remove_stale_temporaries`: temporary files ``.<name>.<pid>.*.tmp`` left by writers
  killed mid-write (their PID is gone) are removed before the next write.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import json
import os
import re
import socket
import stat
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: msvcrt.locking instead
    fcntl = None

__all__ = [
    "OutputLock",
    "check_distinct",
    "check_name_length",
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
        Empty path, a folder, an unknown suffix, a missing or unwritable folder, an existing
        file with ``overwrite=False``, a name too long once a run's suffixes are added
        (:func:`check_name_length`), NUL or text that is not UTF-8, a backslash in a netCDF
        path (``suffixes`` ``None`` or holding ``.nc``: netCDF-C reads it as a separator).
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
    if "\x00" in text:
        raise ValueError(f"{name}: a file path cannot contain a NUL character, got {text!r}")
    try:  # netCDF opens files by their UTF-8 name: undecodable bytes would fail at the end
        text.encode("utf-8")
        os.fsencode(text)
    except UnicodeError as exc:
        raise ValueError(
            f"{name}: {text!r} is not a valid UTF-8 file name ({exc.reason}); rename it"
        ) from exc
    p = Path(text)
    check_name_length(p, name)
    netcdf = suffixes is None or ".nc" in {s.lower() for s in suffixes}
    if netcdf and "\\" in text:
        # netCDF-C reads a backslash as a Windows path separator: the write fails at the end
        raise ValueError(f"{name}: netCDF cannot write a file whose path holds '\\': {text!r}")
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


#: bytes a run adds to an output's name: ``.<name>.<pid>.<random>.tmp`` temporaries (1 + 1 +
#: 7-digit PID + 1 + 8 + 4) and the command line's ``<stem>.partial<suffix>`` (8) on top
NAME_ROOM = 30


def check_name_length(path, name: str = "path") -> None:
    """Refuse a file name that would be too long once a run adds its suffixes.

    A run writes ``<name>.lock``, temporaries ``.<name>.<pid>.<random>.tmp`` and (``wgflow
    run``) ``<stem>.partial<suffix>`` beside its output: the name needs :data:`NAME_ROOM`
    bytes to spare under the file system's limit (``NAME_MAX``, usually 255 bytes), and the
    whole path likewise under ``PATH_MAX``.

    Parameters
    ----------
    path : path-like
        The output file.
    name : str
        The parameter named in the error message.

    Raises
    ------
    ValueError
        Stating the name's length in bytes and the longest allowed.
    """
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    name_max, path_max = 255, 4096
    with contextlib.suppress(OSError, ValueError, AttributeError):
        name_max = os.pathconf(folder, "PC_NAME_MAX")
    with contextlib.suppress(OSError, ValueError, AttributeError):
        path_max = os.pathconf(folder, "PC_PATH_MAX")
    length = len(os.fsencode(p.name))
    if length + NAME_ROOM > name_max:
        shown = p.name if len(p.name) <= 40 else f"{p.name[:20]}…{p.name[-12:]}"
        raise ValueError(
            f"{name}: file name {shown!r} is {length} bytes long; at most "
            f"{name_max - NAME_ROOM} allowed (the file system's limit is {name_max}, and a run "
            f"writes '<name>.lock' and temporary files with up to {NAME_ROOM} more bytes)"
        )
    full = len(os.fsencode(os.path.abspath(p)))
    if full + NAME_ROOM > path_max:
        raise ValueError(
            f"{name}: the path is {full} bytes long; at most {path_max - NAME_ROOM} allowed "
            f"(the file system's limit is {path_max}, less {NAME_ROOM} for temporary names)"
        )


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
    seen: dict[Path, tuple[str, Path]] = {}
    for option, path in paths.items():
        if path is None:
            continue
        key = Path(path).resolve()  # follows links: a link to another output is that output
        for other_key, (other, other_path) in seen.items():
            if key == other_key or _same_existing_file(path, other_path):
                raise ValueError(
                    f"{option}: same file as {other} ({os.fspath(path)!r}); writing one would "
                    "destroy the other"
                )
        seen[key] = option, Path(path)


def _same_existing_file(a, b) -> bool:
    """Two existing names of one file (hard links included)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


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
        # ours: ".<name>.<pid>.<random>.tmp"; a longer name sharing the prefix is not
        match = _TEMPORARY.fullmatch(candidate.name[len(prefix) :])
        if match is None:
            continue
        pid_text = match.group(1)
        numeric = pid_text.isascii() and pid_text.isdigit() and len(pid_text) <= 10
        if numeric and 0 < int(pid_text) <= MAX_PID:
            stale = not _alive(int(pid_text))
        else:  # garbage in place of a PID: judged by its age
            try:
                stale = time.time() - candidate.stat().st_mtime > STALE_AGE
            except OSError:
                continue
        if stale and candidate.is_file():
            with contextlib.suppress(OSError):
                candidate.unlink()
                removed.append(candidate)
    return removed


#: the part of a temporary's name after ``.<name>.``: ``<pid>.<random>.tmp``
_TEMPORARY = re.compile(r"([^./]+)\.([A-Za-z0-9_]+)\.tmp")
#: larger "PIDs" are garbage (Linux's pid_max is at most 2**22)
MAX_PID = 2**31 - 1


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, ValueError):  # exists (another user's), or cannot tell
        return True
    return True


class OutputLock:
    """OS advisory lock on ``<path>.lock`` so that two runs never write one file at once.

    The lock is ``fcntl.flock`` (``msvcrt.locking`` on Windows) on the file ``<path>.lock``:
    the operating system drops it when its owner ends, however it ends (``kill -9``
    included), so a lock file left behind never blocks a later run, and its *content* is
    never trusted — the owner writes ``{"pid", "host", "since"}`` there only so that a
    refused run can name it. A second run asking for a held path gets a ``ValueError``
    naming the owner's PID when the file tells it. Released (the file removed) on exit,
    however the block ends. Re-entrant within one process.

    A garbage ``<path>.lock`` (stale, unreadable, binary, a folder, a link) is locked as it
    stands and never written to unless it is a regular file.

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

    #: resolved lock path -> [hold count, file descriptor] (re-entrance within one process)
    _held: dict[Path, list] = {}
    _guard = threading.Lock()

    def __init__(self, path, name: str = "path") -> None:
        self.path = Path(path)
        self.name = name
        self.lock = self.path.with_name(self.path.name + ".lock")
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def _key(self) -> Path:
        return Path(os.path.abspath(self.lock))

    def acquire(self) -> None:
        """Take the lock or raise ``ValueError`` naming its living owner."""
        key = self._key()
        with self._guard:
            if key in self._held:
                self._held[key][0] += 1
                return
            for _ in range(10):
                fd, regular = self._open()
                if not _try_lock(fd):
                    owner = self._owner()
                    os.close(fd)
                    raise ValueError(
                        f"{self.name}: {str(self.path)!r} is being written by {owner}; "
                        "wait for it to end or choose another path"
                    )
                if regular and not _same_file(fd, self.lock):
                    os.close(fd)  # its owner removed the file as we opened it: take the new one
                    continue
                if regular:
                    _write_owner(fd)
                self._fd = fd
                self._held[key] = [1, fd, regular]
                return
        raise ValueError(f"{self.name}: could not claim {str(self.path)!r} (lock contention)")

    def _open(self) -> tuple[int, bool]:
        """A descriptor on the lock file (created when missing) and whether it is writable."""
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(self.lock, flags, 0o644)
        except OSError as exc:
            first = exc
        else:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                return fd, True
            os.close(fd)
            first = None
        try:  # a folder, a link, a file of another user: lock it as it stands, read-only
            fd = os.open(self.lock, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            if not self.lock.is_symlink():
                raise
            self.lock.unlink()  # a dangling link in its place: garbage, replaced by a file
            return self._open()
        except OSError as exc:
            reason = (first or exc).strerror or type(first or exc).__name__
            raise ValueError(
                f"{self.name}: cannot create the lock file {str(self.lock)!r} ({reason})"
            ) from (first or exc)
        return fd, False

    def release(self) -> None:
        """Drop the lock (remove the file when the outermost holder leaves)."""
        key = self._key()
        with self._guard:
            entry = self._held.get(key)
            if entry is not None and entry[0] > 1:
                entry[0] -= 1
                return
            if entry is not None:
                del self._held[key]
                fd, regular = entry[1], entry[2]
            else:  # never acquired, or the registry was cleared
                fd, regular = self._fd, True
            self._fd = None
            if fd is None:
                return
            if regular and _same_file(fd, self.lock):
                with contextlib.suppress(OSError):
                    self.lock.unlink()  # while still locked: nobody can have taken it
            with contextlib.suppress(OSError):
                os.close(fd)  # drops the lock

    def _owner(self) -> str:
        """Who holds the lock, as far as its file tells (never trusted beyond a message)."""
        try:
            with builtins.open(self.lock, "rb") as f:
                owner = json.loads(f.read(4096).decode("utf-8"))
        except (OSError, ValueError):
            return "another process"
        if not isinstance(owner, dict):
            return "another process"
        pid, host, since = owner.get("pid"), owner.get("host"), owner.get("since")
        if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid < 2**32:
            return "another process"
        text = f"process {pid}"
        if isinstance(host, str) and host.isprintable() and len(host) < 256:
            text += f" on {host}"
        if isinstance(since, int | float) and not isinstance(since, bool):
            with contextlib.suppress(OverflowError, ValueError, OSError):
                text += f" (since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))})"
        return text


def _try_lock(fd: int) -> bool:
    """Lock ``fd`` exclusively without waiting; ``False`` when another process holds it."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN, errno.EWOULDBLOCK):
            return False
        warnings.warn(  # e.g. ENOLCK on a network file system without locks
            f"cannot lock {exc.filename or 'the output'} ({exc.strerror}); a second run "
            "writing the same path would not be detected",
            RuntimeWarning,
            stacklevel=3,
        )
    return True


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        mine, now = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino)


def _write_owner(fd: int) -> None:
    """Write ``{"pid", "host", "since"}`` into the lock file (for the refusal message)."""
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(me).encode())
