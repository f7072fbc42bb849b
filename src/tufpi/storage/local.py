"""Storage in a local directory, written with temp file + fsync + ``os.replace``.

Many small files written at once (every bin-n of a back-signing) skip the fsync each and are
made durable together by one ``syncfs`` of the file system: one flush instead of thousands.
Staged writes live under ``<root>/.staging/`` (see ``tufpi.storage._staging``), on the same
file system, so that publishing one is a rename: atomic, and needing no new space.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import itertools
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from tufpi.storage import _staging
from tufpi.storage.base import FULL_ERRNOS, Staged, StagedEntry, StorageError, StorageFull


def _load_syncfs() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        function: Callable[[int], int] = libc.syncfs
    except (OSError, AttributeError):
        return None
    return function


_syncfs = _load_syncfs()
_serial = itertools.count()
# Renames a publication tries while concurrent discards remove the target's directories.
_PUBLISH_ATTEMPTS = 10


def _storage_error(error: OSError, what: str) -> StorageError:
    if error.errno in FULL_ERRNOS:
        return StorageFull(f"No space left on the storage device ({what}).")
    return StorageError(f"Storage failed ({what}): {error.strerror or error}")


def _replace_making_parents(source: str, target: Path) -> None:
    """``os.replace(source, target)``, making ``target``'s directories again if they are gone.

    Another process may remove them between two attempts: one discarding its own staged
    copy of the same key (the twin of an upload, found already stored) prunes them while
    they are empty, which they are until this rename lands. A discard prunes once, and a
    twin has a handful of keys (file, alias, .metadata): attempts enough outlast them.
    """
    for attempt in range(_PUBLISH_ATTEMPTS):
        try:
            os.replace(source, target)
            return
        except FileNotFoundError:
            if attempt == _PUBLISH_ATTEMPTS - 1:
                raise
        with contextlib.suppress(FileNotFoundError):  # a parent pruned under mkdir: again
            target.parent.mkdir(parents=True, exist_ok=True)


class LocalStorage:
    """Keys are POSIX relative paths below ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._staging = self.root / _staging.STAGING
        self._owner = _staging.Owner(self._staging)

    def _path(self, key: str) -> Path:
        pure = PurePosixPath(key)
        if pure.is_absolute() or ".." in pure.parts or "\x00" in key or not pure.parts:
            raise StorageError(f"refusing storage key {key!r}")
        return self.root.joinpath(*pure.parts)

    def _write(self, key: str, write: Callable[[BinaryIO], object], durable: bool = True) -> None:
        # Plain strings, not pathlib: back-signing writes tens of thousands of files.
        try:
            self._write_to(str(self._path(key)), write, durable)
        except OSError as e:
            if e.errno in FULL_ERRNOS:
                raise _storage_error(e, f"writing {key}") from e
            raise

    @staticmethod
    def _write_to(target: str, write: Callable[[BinaryIO], object], durable: bool = True) -> None:
        parent = os.path.dirname(target)
        # A name no other writer (thread or process) uses: pid, a counter, random bits.
        tmp = f"{parent}/.tmp-{os.getpid()}-{next(_serial)}-{os.urandom(4).hex()}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        try:
            fd = os.open(tmp, flags, 0o644)
        except FileNotFoundError:
            os.makedirs(parent, exist_ok=True)
            fd = os.open(tmp, flags, 0o644)
        try:
            os.fchmod(fd, 0o644)  # whatever the umask: the files are served to everyone
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                if durable:
                    os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def put_file(self, key: str, source: BinaryIO) -> None:
        self._write(key, lambda out: shutil.copyfileobj(source, out, 1024 * 1024))

    def put_bytes(self, key: str, data: bytes, *, durable: bool = True) -> None:
        self._write(key, lambda out: out.write(data), durable)

    def sync(self) -> None:
        """Flush the whole file system holding the storage (Linux ``syncfs``; else ``sync``):
        file contents and directory entries alike."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root, os.O_RDONLY)
        try:
            if _syncfs is None or _syncfs(fd) != 0:
                os.sync()
        finally:
            os.close(fd)

    def link(self, source: str, alias: str) -> None:
        src, dst = self._path(source), self._path(alias)
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".tmp-link-{uuid.uuid4().hex}")
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self, prefix: str = "") -> Iterator[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.exists():
            return
        for path in sorted(base.rglob("*")):
            relative = path.relative_to(self.root)
            # Never a hidden name: the staging area, or a half-written ".tmp-*" file.
            if path.is_file() and not any(p.startswith(".") for p in relative.parts):
                yield relative.as_posix()

    # -- staged writes ----------------------------------------------------------------------

    def scratch_dir(self) -> Path:
        scratch = self._owner.directory() / _staging.SCRATCH
        scratch.mkdir(exist_ok=True)
        return scratch

    def _staged_path(self, staged: Staged) -> str:
        # The handle is the staged file's path below the staging area (see _staging).
        return f"{self._staging}/{staged.handle}"

    def _new_entry(self, key: str) -> Staged:
        """A new staging name for ``key`` (a valid key) in this process's directory."""
        unique = f"e{next(_serial)}-{os.urandom(4).hex()}"
        return Staged(key, f"{self._owner.name()}/{_staging.entry_name(unique, key)}")

    def _entry_parent(self, path: str) -> None:
        """Make the directory of a long key's entry (a flat entry needs none)."""
        parent = os.path.dirname(path)
        if parent != str(self._owner.directory()):
            os.mkdir(parent)

    def stage(self, key: str, content: bytes | Path) -> Staged:
        target = self._path(key)
        staged = self._new_entry(key)
        path = self._staged_path(staged)
        try:
            self._entry_parent(path)
            # Made now, so that publishing (after the commit) is a rename needing no space.
            if not target.parent.is_dir():
                target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                self._stage_file(content, path)
            else:
                self._write_to(path, lambda out: out.write(content))
        except OSError as e:
            self.discard(staged)
            raise _storage_error(e, f"staging {key}") from e
        return staged

    def _stage_file(self, source: Path, path: str) -> None:
        """A hard link when ``source`` is on this file system (no copy), else a copy."""
        try:
            os.link(source, path)
        except OSError as e:
            if e.errno in FULL_ERRNOS:
                raise
            with source.open("rb") as content:
                self._write_to(path, lambda out: shutil.copyfileobj(content, out, 1 << 20))
            return
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fchmod(fd, 0o644)  # served to everyone, whatever the temp file's mode was
            os.fsync(fd)
        finally:
            os.close(fd)

    def publish(self, staged: Staged) -> None:
        source, target = self._staged_path(staged), self._path(staged.key)
        if not os.path.lexists(source):
            return
        try:
            _replace_making_parents(source, target)
        except OSError as e:
            raise _storage_error(e, f"publishing {staged.key}") from e
        self._prune_entry(staged, source)

    def discard(self, staged: Staged) -> None:
        source = self._staged_path(staged)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(source)
        self._prune_entry(staged, source)
        # The directory made for publishing, if nothing else uses it.
        target = self._path(staged.key)
        top = self.root / target.relative_to(self.root).parts[0]
        _staging.prune(target.parent, top)

    def _prune_entry(self, staged: Staged, source: str) -> None:
        owner = self._staging / PurePosixPath(staged.handle).parts[0]
        _staging.prune(Path(source).parent, owner)

    def unpublish(self, key: str) -> Staged | None:
        target = self._path(key)
        if not os.path.lexists(target):
            return None
        staged = self._new_entry(key)
        path = self._staged_path(staged)
        try:
            self._entry_parent(path)
            os.replace(target, path)
        except FileNotFoundError:
            self._prune_entry(staged, path)
            return None
        except OSError as e:
            self._prune_entry(staged, path)
            raise _storage_error(e, f"unpublishing {key}") from e
        return staged

    def staged_entries(self, now: float) -> Iterator[StagedEntry]:
        for name in _staging.owners(self._staging):
            with _staging.dead_owner(self._staging, name) as dead:
                for entry, key, mtime in _staging.entries(self._staging / name):
                    staged = Staged(key, f"{name}/{entry}")
                    yield StagedEntry(staged, writer_alive=not dead, age=max(0.0, now - mtime))
                if dead:
                    _staging.remove_dead(self._staging, name)

    def clear_scratch(self, now: float, max_age: float) -> int:
        removed = 0
        for name in _staging.owners(self._staging):
            scratch = self._staging / name / _staging.SCRATCH
            with _staging.dead_owner(self._staging, name) as dead:
                before = float("inf") if dead else now - max_age
                removed += _staging.remove_old_scratch(scratch, before)
        return removed
