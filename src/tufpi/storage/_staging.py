"""The staging area of a local storage: ``<root>/.staging/``, never served (a dot segment).

Each process that stages writes owns a directory there, ``<owner>/``, and holds an exclusive
``flock`` on ``<owner>.lock`` for as long as it lives: the kernel drops the lock when the
process dies, even by SIGKILL, so a sweep knows (without clocks or pids, across processes
sharing the directory) which owners are gone. Layout::

    .staging/<owner>.lock
    .staging/<owner>/scratch/...          temporary files (an upload's body)
    .staging/<owner>/<id>~<key>           one staged write (its key percent-encoded, "/" too),
                                          published by renaming it to <key>
    .staging/<owner>/<id>~<dir>/<name>    the same for a key too long for one file name
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

STAGING = ".staging"
SCRATCH = "scratch"
_LOCK_SUFFIX = ".lock"


# File names longer than this take the form with a directory (most systems allow 255 bytes).
_MAX_NAME = 250


def entry_name(unique: str, key: str) -> str:
    """The staged file's path below its owner's directory, for ``key``; ``unique`` holds no
    "~"."""
    flat = f"{unique}~{urllib.parse.quote(key, safe='')}"
    if len(flat.encode()) <= _MAX_NAME:
        return flat
    directory, _, name = key.rpartition("/")
    return f"{unique}~{urllib.parse.quote(directory, safe='')}/{name}"


def key_of(name: str, inner: str | None = None) -> str | None:
    """The key staged as ``name`` in an owner's directory (``inner``: the file's name in
    ``name``, for the form with a directory); None if it is no staged entry."""
    _unique, tilde, quoted = name.partition("~")
    if not tilde:
        return None
    encoded = urllib.parse.unquote(quoted)
    if inner is None:
        return encoded
    return f"{encoded}/{inner}" if encoded else inner


class Owner:
    """This process's directory in the staging area, made on first use (again after a fork)."""

    def __init__(self, staging: Path) -> None:
        self.staging = staging
        self._guard = threading.Lock()
        self._pid = -1
        self._name = ""
        self._fd = -1

    def name(self) -> str:
        """The owner directory's name for this process, holding its lock."""
        with self._guard:
            if self._pid != os.getpid():
                self.staging.mkdir(parents=True, exist_ok=True)
                name = f"{os.getpid()}-{os.urandom(6).hex()}"
                lock = self.staging / f"{name}{_LOCK_SUFFIX}"
                fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
                # The lock exists before the directory: a directory without one is dead.
                (self.staging / name).mkdir()
                self._pid, self._name, self._fd = os.getpid(), name, fd
            return self._name

    def directory(self) -> Path:
        return self.staging / self.name()


def owners(staging: Path) -> list[str]:
    """Names of the owner directories present."""
    try:
        return sorted(p.name for p in staging.iterdir() if p.is_dir())
    except FileNotFoundError:
        return []


@contextlib.contextmanager
def dead_owner(staging: Path, name: str) -> Iterator[bool]:
    """Yields whether owner ``name`` is dead, holding its lock while it is (so that two
    sweeps never work on one owner at once)."""
    lock = staging / f"{name}{_LOCK_SUFFIX}"
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        yield True
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def entries(owner_dir: Path) -> Iterator[tuple[str, str, float]]:
    """(path below the owner's directory, key, time staged) of each staged write."""
    try:
        items = sorted(os.scandir(owner_dir), key=lambda e: e.name)
    except FileNotFoundError:
        return
    for item in items:
        if item.name == SCRATCH or item.name.startswith(".tmp-"):
            continue
        try:
            # ctime: staging (a link, a rename) changes it; a file keeps its own mtime.
            staged_at = item.stat(follow_symlinks=False).st_ctime
            inner = os.listdir(item.path) if item.is_dir(follow_symlinks=False) else [None]
        except FileNotFoundError:
            continue
        for name in inner:
            if name is not None and name.startswith(".tmp-"):
                continue
            key = key_of(item.name, name)
            if key is not None:
                yield (item.name if name is None else f"{item.name}/{name}"), key, staged_at


def remove_dead(staging: Path, name: str) -> None:
    """Delete what a dead owner left besides staged writes (scratch and half-written temp
    files), then its directory and lock if nothing else is left."""
    owner_dir = staging / name
    shutil.rmtree(owner_dir / SCRATCH, ignore_errors=True)
    for dirpath, _dirs, files in os.walk(owner_dir):
        for file in files:
            if file.startswith(".tmp-"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(dirpath, file))
    for dirpath, _dirs, _files in sorted(os.walk(owner_dir), key=lambda w: -len(w[0])):
        with contextlib.suppress(OSError):
            os.rmdir(dirpath)
    if not owner_dir.exists():
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staging / f"{name}{_LOCK_SUFFIX}")


def remove_old_scratch(scratch: Path, before: float) -> int:
    """Delete files in ``scratch`` last modified before ``before``; returns how many."""
    removed = 0
    with contextlib.suppress(FileNotFoundError):
        for path in scratch.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if path.lstat().st_mtime < before:
                    path.unlink()
                    removed += 1
    return removed


def prune(directory: Path, stop: Path) -> None:
    """Remove ``directory`` and its parents while they are empty, up to (not including)
    ``stop``."""
    current = directory
    while current != stop and current.is_relative_to(stop):
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent
