"""What the verifying client keeps of the transparency log on disk (``<cache dir>/tlog/``):
the newest checkpoint it verified, the full tiles it read, and fork evidence.

- ``checkpoint``: the signed note, exactly as served, replaced atomically (temporary file,
  then ``os.replace``). It is read bounded and never through a symbolic link: the client
  only ever writes a regular file there, so anything else is reported, not followed.
- ``tile/...``: full tiles (C2SP tlog-tiles: a full tile never changes). They only save
  bytes: a tile proves nothing by itself, and a proof that fails with cached tiles is tried
  again with tiles read from the index.
- ``fork-<hash>.txt``: fork evidence, one file per pair of checkpoints.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
from pathlib import Path

from tufpi.client.log_checks import CHECKPOINT_MAX_LENGTH, TILE_MAX_LENGTH
from tufpi.tlog.tiles import Tile

CHECKPOINT_NAME = "checkpoint"


class KeptCheckpointError(Exception):
    """The kept checkpoint's file cannot be read as one (a link, not a file, too large)."""


def read_bounded(path: Path, max_length: int) -> bytes | None:
    """The bytes of the regular file at ``path`` (None: there is none), never following a
    symbolic link and reading at most ``max_length`` bytes.

    Raises:
        KeptCheckpointError: a link, not a regular file, longer than ``max_length``, or
            unreadable.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise KeptCheckpointError(f"{path} is a symbolic link, not a file") from e
        raise KeptCheckpointError(f"{path} cannot be read: {e.strerror or e}") from e
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise KeptCheckpointError(f"{path} is not a regular file")
    with os.fdopen(fd, "rb") as file:
        data = file.read(max_length + 1)
    if len(data) > max_length:
        raise KeptCheckpointError(f"{path} is over {max_length} bytes")
    return data


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` at ``path``: a reader sees the old file or the new one, whole.

    Raises:
        OSError: the directory cannot be made or written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".keep-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def read_kept_checkpoint(log_dir: Path) -> bytes | None:
    """The kept checkpoint's bytes (None: none kept yet).

    Raises:
        KeptCheckpointError: something is there that cannot be a kept checkpoint.
    """
    return read_bounded(log_dir / CHECKPOINT_NAME, CHECKPOINT_MAX_LENGTH)


def keep_checkpoint(log_dir: Path, note: bytes) -> None:
    """Keep ``note`` (already verified) as the newest checkpoint.

    Raises:
        OSError: it cannot be written.
    """
    write_atomic(log_dir / CHECKPOINT_NAME, note)


def _tile_file(log_dir: Path, tile: Tile) -> Path:
    return log_dir / tile.path()


def cached_tile(log_dir: Path, tile: Tile) -> bytes | None:
    """A full tile kept earlier, if one of the right length is there (anything else at its
    name is ignored and read again from the index)."""
    if tile.partial:
        return None
    try:
        data = read_bounded(_tile_file(log_dir, tile), TILE_MAX_LENGTH)
    except KeptCheckpointError:
        return None
    return data if data is not None and len(data) == TILE_MAX_LENGTH else None


def keep_tile(log_dir: Path, tile: Tile, data: bytes) -> None:
    """Keep a full tile read from the index, best-effort (a partial one changes name as
    the log grows: not kept)."""
    if tile.partial or len(data) != TILE_MAX_LENGTH:
        return
    with contextlib.suppress(OSError):
        write_atomic(_tile_file(log_dir, tile), data)


def save_evidence(log_dir: Path, kept: bytes, new: bytes, text: str) -> Path:
    """Save fork evidence (``text``) for the two checkpoints ``kept`` and ``new``: one file
    per pair, written once; its path.

    Raises:
        OSError: it cannot be written.
    """
    pair = hashlib.sha256(hashlib.sha256(kept).digest() + hashlib.sha256(new).digest())
    path = log_dir / f"fork-{pair.hexdigest()[:16]}.txt"
    if not path.exists():
        write_atomic(path, text.encode())
    return path
