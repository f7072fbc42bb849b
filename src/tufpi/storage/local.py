"""Storage in a local directory, written with temp file + fsync + ``os.replace``.

Many small files written at once (every bin-n of a back-signing) skip the fsync each and are
made durable together by one ``syncfs`` of the file system: one flush instead of thousands.
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

from tufpi.storage.base import StorageError


def _load_syncfs() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        function: Callable[[int], int] = libc.syncfs
    except (OSError, AttributeError):
        return None
    return function


_syncfs = _load_syncfs()
_serial = itertools.count()


class LocalStorage:
    """Keys are POSIX relative paths below ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        pure = PurePosixPath(key)
        if pure.is_absolute() or ".." in pure.parts or "\x00" in key or not pure.parts:
            raise StorageError(f"refusing storage key {key!r}")
        return self.root.joinpath(*pure.parts)

    def _write(self, key: str, write: Callable[[BinaryIO], object], durable: bool = True) -> None:
        # Plain strings, not pathlib: back-signing writes tens of thousands of files.
        target = str(self._path(key))
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
            if path.is_file() and not path.name.startswith(".tmp-"):
                yield path.relative_to(self.root).as_posix()
